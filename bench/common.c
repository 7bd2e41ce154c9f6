/*
 * What every section of msiv-bench uses: clocks, figures and notes, the
 * processes and daemons it starts (killed on any exit: bench_cleanup),
 * CPU time and memory of a process read from /proc. msiv-bench.c has the
 * sections' table and main; each section is a file of its own.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_CHILDREN_MAX 64
#define BENCH_DAEMONS_MAX 4

/* Everything the bench started, killed by bench_cleanup(). */
static pid_t bench_main_pid;
static volatile pid_t bench_children[BENCH_CHILDREN_MAX];
static struct h_daemon *volatile bench_daemons[BENCH_DAEMONS_MAX];

double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
bench_sleep_ms(int ms)
{
	int64_t end = h_now_ms() + ms;

	for (int64_t left = ms; left > 0; left = end - h_now_ms())
		(void)poll(NULL, 0, (int)left);
}

void
figure(const char *name, double value, const char *unit)
{
	printf("%s %.6g %s\n", name, value, unit);
	fflush(stdout);
}

static int
bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct bench_lat
bench_lat(uint64_t *v, size_t n)
{
	struct bench_lat l;

	qsort(v, n, sizeof(v[0]), bench_cmp_u64);
	l.p50 = (double)v[n / 2];
	l.p99 = (double)v[(n * 99 + 99) / 100 - 1];
	l.max = (double)v[n - 1];
	return l;
}

void
bench_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

void
fail(const char *what, int r)
{
	fprintf(stderr, "msiv-bench: %s: %s\n", what, msiv_strerror(r));
	exit(1);
}

void
bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("msiv-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Kill what is left; async-signal-safe apart from the reaping, which
 * only the atexit path does. */
static void
bench_kill_all(int reap)
{
	for (int i = 0; i < BENCH_CHILDREN_MAX; i++) {
		pid_t p = bench_children[i];

		if (p > 0) {
			kill(p, SIGKILL);
			if (reap)
				(void)waitpid(p, NULL, 0);
			bench_children[i] = 0;
		}
	}
	for (int i = 0; i < BENCH_DAEMONS_MAX; i++) {
		struct h_daemon *d = bench_daemons[i];

		if (d != NULL && d->pid > 0) {
			kill(d->pid, SIGKILL);
			if (reap) {
				(void)waitpid(d->pid, NULL, 0);
				fprintf(stderr, "msiv-bench: msivd killed; its "
				    "log is %s\n", d->log);
			}
			d->pid = -1;
		}
	}
}

static void
bench_cleanup(void)
{
	if (getpid() == bench_main_pid)
		bench_kill_all(1);
}

/* SIGINT, SIGTERM, SIGHUP: kill what runs, say what is left, leave. Only
 * async-signal-safe calls (kill, write, _exit). */
static void
bench_signal(int sig)
{
	static const char msg[] = "msiv-bench: interrupted; msivd's state "
	    "directory is left in /tmp/msiv-test-*\n";

	(void)sig;
	bench_kill_all(0);
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

pid_t
bench_fork(void)
{
	pid_t pid;
	int i;

	for (i = 0; i < BENCH_CHILDREN_MAX && bench_children[i] != 0; i++)
		continue;
	if (i == BENCH_CHILDREN_MAX)
		bench_die("too many child processes");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* Die with the bench; it may have died before this. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
		    getppid() != bench_main_pid)
			_exit(1);
		return 0;
	}
	bench_children[i] = pid;
	return pid;
}

static void
bench_forget(pid_t pid)
{
	for (int i = 0; i < BENCH_CHILDREN_MAX; i++)
		if (bench_children[i] == pid)
			bench_children[i] = 0;
}

int
bench_exited(pid_t pid, int *st)
{
	if (waitpid(pid, st, WNOHANG) != pid)
		return 0;
	bench_forget(pid);
	return 1;
}

int
bench_wait(pid_t pid, int ms)
{
	int64_t deadline = h_now_ms() + ms;
	int st;

	for (;;) {
		if (bench_exited(pid, &st))
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
		if (h_now_ms() >= deadline)
			break;
		bench_sleep_ms(2);
	}
	bench_kill(pid);
	return -1;
}

void
bench_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	bench_forget(pid);
}

/*
 * CPU time from /proc/<pid>/task/<tid>/schedstat (its first field is the
 * nanoseconds on a CPU); tid 0 sums every thread of the process. Where
 * schedstat is missing, utime + stime of the stat file, in clock ticks.
 */
static uint64_t
bench_task_cpu_ns(pid_t pid, pid_t tid)
{
	char path[64];
	unsigned long long ns, ut, st;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid,
	    (int)tid);
	if ((f = fopen(path, "re")) != NULL) {
		ok = fscanf(f, "%llu", &ns) == 1;
		fclose(f);
		if (ok)
			return ns;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
	    (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	{	/* comm may hold spaces: fields start after the last ')' */
		char line[1024], *p;

		ok = fgets(line, sizeof(line), f) != NULL &&
		    (p = strrchr(line, ')')) != NULL &&
		    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
		    "%*u %llu %llu", &ut, &st) == 2;
	}
	fclose(f);
	if (!ok)
		return 0;
	return (ut + st) * 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
}

uint64_t
bench_cpu_ns(pid_t pid, pid_t tid)
{
	char path[64];
	struct dirent *e;
	uint64_t sum = 0;
	DIR *dir;

	if (tid > 0)
		return bench_task_cpu_ns(pid, tid);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		bench_die("%s: %s", path, strerror(errno));
	while ((e = readdir(dir)) != NULL)
		if (atoi(e->d_name) > 0)
			sum += bench_task_cpu_ns(pid, (pid_t)atoi(e->d_name));
	closedir(dir);
	return sum;
}

uint64_t
bench_status_kib(pid_t pid, const char *key)
{
	char path[64], line[128];
	unsigned long long kib = 0;
	size_t len = strlen(key);
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		bench_die("%s: %s", path, strerror(errno));
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strncmp(line, key, len) == 0 && line[len] == ':' &&
		    sscanf(line + len + 1, "%llu kB", &kib) == 1;
	fclose(f);
	if (!found)
		bench_die("%s: no %s", path, key);
	return kib;
}

uint64_t
bench_rss_kib(pid_t pid)
{
	return bench_status_kib(pid, "VmRSS");
}

void
start(struct h_daemon *d, const char *conf)
{
	int i;

	for (i = 0; i < BENCH_DAEMONS_MAX && bench_daemons[i] != NULL &&
	    bench_daemons[i] != d; i++)
		continue;
	if (i == BENCH_DAEMONS_MAX)
		bench_die("too many daemons");
	bench_daemons[i] = d;
	if (h_start(d, conf) < 0)
		bench_die("msivd did not start (see %s)", d->log);
}

void
stop(struct h_daemon *d, int kill9)
{
	if (kill9) {
		char cmd[200];

		if (h_kill9(d) < 0)
			bench_die("msivd was not running (see %s)", d->log);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "msiv-bench: cannot remove %s\n",
			    d->dir);
	} else
		(void)h_stop(d);
	for (int i = 0; i < BENCH_DAEMONS_MAX; i++)
		if (bench_daemons[i] == d)
			bench_daemons[i] = NULL;
}

/*
 * Targets and triggers are fds, tens of thousands of them in the hotpath
 * section (and duplicated by libmsiv): raise the open file limit as far
 * as the kernel allows (root may raise the hard limit to fs.nr_open).
 */
static void
bench_raise_fd_limit(void)
{
	struct rlimit rl;
	unsigned long long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f != NULL) {
		if (fscanf(f, "%llu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		bench_die("getrlimit: %s", strerror(errno));
	if (nr_open > 0 && rl.rlim_max < nr_open) {
		struct rlimit want = { nr_open, nr_open };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		bench_die("setrlimit: %s", strerror(errno));
}

void
bench_init(void)
{
	bench_main_pid = getpid();
	if (atexit(bench_cleanup) != 0)
		bench_die("atexit");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, bench_signal);
	signal(SIGTERM, bench_signal);
	signal(SIGHUP, bench_signal);
	bench_raise_fd_limit();
}
