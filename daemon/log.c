/*
 * msivd logging (see log.h). Never called per interrupt: the delivery loop
 * does not log (msivd(8) DELIVERY LOOPS).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_foreground = 1;
static int log_journal;
/* Changed at run time by the control thread (LOG_LEVEL) while the
 * delivery thread may log its last words (fatal): atomic. */
static _Atomic int log_threshold = LOG_LEVEL_INFO;

static const char *const log_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/*
 * Is stderr the journal? systemd sets JOURNAL_STREAM to the device and
 * inode numbers ("%lu:%lu") of the stream it connects stderr to; an fd
 * passed on to a process that redirected its stderr elsewhere no longer
 * matches them (sd_journal_stream_fd(3), systemd.exec(5)).
 */
static int
log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat sb;
	int end = 0;

	if (e == NULL || sscanf(e, "%ju:%ju%n", &dev, &ino, &end) != 2 ||
	    e[end] != '\0' || fstat(STDERR_FILENO, &sb) < 0)
		return 0;
	return (uintmax_t)sb.st_dev == dev && (uintmax_t)sb.st_ino == ino;
}

void
log_init(int foreground, enum log_level level)
{
	log_foreground = foreground;
	log_journal = foreground && log_stderr_is_journal();
	atomic_store_explicit(&log_threshold, (int)level,
	    memory_order_relaxed);
	if (!foreground)
		openlog("msivd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_threshold, (int)level,
	    memory_order_relaxed);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_threshold,
	    memory_order_relaxed);
}

int
log_to_journal(void)
{
	return log_journal;
}

const char *
log_level_name(enum log_level level)
{
	return log_names[level];
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warn") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

static void
log_vemit(enum log_level level, const char *errstr, const char *fmt,
    va_list ap)
{
	static const int prio[] = {
		[LOG_LEVEL_ERROR] = LOG_ERR,
		[LOG_LEVEL_WARN] = LOG_WARNING,
		[LOG_LEVEL_INFO] = LOG_INFO,
		[LOG_LEVEL_DEBUG] = LOG_DEBUG,
	};
	char msg[1024], *line, *next;
	struct timespec ts;
	struct tm tm;
	char when[32];

	if ((int)level > atomic_load_explicit(&log_threshold,
	    memory_order_relaxed))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One record per line, each with its priority (and the error
	 * string after the last): a line of its own is never read as
	 * another priority's, nor a continuation taken for a message. */
	for (line = msg; line != NULL; line = next) {
		const char *tail = "", *es = "";

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else if (errstr != NULL) {
			tail = ": ";
			es = errstr;
		}
		if (log_journal)
			fprintf(stderr, "<%d>%s%s%s\n", prio[level], line, tail,
			    es);
		else if (log_foreground)
			fprintf(stderr, "%s.%03ldZ msivd %s: %s%s%s\n", when,
			    ts.tv_nsec / 1000000, log_names[level], line, tail,
			    es);
		else
			syslog(prio[level], "%s%s%s", line, tail, es);
	}
	if (log_foreground)
		fflush(stderr);
}

#define LOG_BODY(level, with_errno) do {				\
	int saved = errno;						\
	va_list ap;							\
	va_start(ap, fmt);						\
	log_vemit(level, with_errno ? strerror(saved) : NULL, fmt, ap);	\
	va_end(ap);							\
	errno = saved;							\
} while (0)

void
log_err(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 1);
}

void
log_errx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
}

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

void
log_at(enum log_level level, const char *fmt, ...)
{
	LOG_BODY(level, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
	exit(1);
}
