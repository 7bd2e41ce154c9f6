/*
 * msivd logging: to stderr in the foreground, to syslog otherwise.
 * log_warn and fatal append strerror(errno); the *x forms do not. fatal is
 * for our own bugs and impossible states, never for client input.
 */
#ifndef MSIVD_LOG_H
#define MSIVD_LOG_H

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

void log_init(int foreground, enum log_level level);
int log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif /* MSIVD_LOG_H */
