/*
 * msivd logging: to stderr in the foreground, to syslog otherwise. When
 * stderr is systemd's journal (JOURNAL_STREAM names it), each line starts
 * with its syslog priority as sd-daemon(3) describes ("<3>" error, "<4>"
 * warning, "<6>" info, "<7>" debug), so that journalctl -p filters by
 * it; journald adds the time and the name itself. A message of several
 * lines is logged as that many lines, each with its priority.
 * log_warn, log_err and fatal append strerror(errno); the *x forms do
 * not. log_err is for what stops msivd from starting (main() returns its
 * exit status after it); fatal is for our own bugs and impossible states,
 * never for client input.
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
const char *log_level_name(enum log_level level);
/* The threshold: set by the control thread (LOG_LEVEL), read by any. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Does stderr go to the journal (the priority prefixes are on)? */
int log_to_journal(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* At a level chosen at run time, without errno. */
void log_at(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif /* MSIVD_LOG_H */
