/*
 * msiv-bench: measured figures of the real msivd (not a test: it prints,
 * it does not judge). One line per figure: "name value unit"; lines that
 * start with "#" say what a run saw (the delivery loop in use, where the
 * relay's CPU time was read, a limit that shrank a measurement). Every
 * figure is measured in the run; the reference implementations run beside
 * msivd in the same run, as separate processes. doc/performance.md says
 * how each is measured.
 *
 * hotpath section (hotpath.c; needs root, an admin session, for the sim
 * trigger fds). Latency, median and 99th percentile of 20000 round trips
 * A -> ... -> B (echo) -> A over eventfds, each party a process, the paths
 * measured in 20 interleaved blocks (block 1 of each, block 2 of each...)
 * and their ratios taken per block (median, _p10, _p90):
 *  - raw_hop_p50/_p99 (ns): A writes X, B reads X and writes Y, A reads Y;
 *  - minimal_relay_p50/_p99 (ns): a blocking relay process between A
 *    and B (blocking read of T, write of U);
 *  - uring_relay_p50/_p99 (ns): the minimal io_uring relay (uring-relay.c:
 *    every kernel feature msivd's io_uring loop uses; a "#" line says
 *    which this kernel gave);
 *  - relay_p50/_p99 (ns): msivd in that place: A writes the sim slot's
 *    trigger, msivd relays to the vector's target U, B echoes;
 *    relay_p50_vs_uring_relay, relay_p99_vs_uring_relay,
 *    relay_p50_vs_minimal (ratios).
 * Forwarding: one producer process writes N triggers round robin as fast
 * as it can, client processes wait on the targets; wakeups forwarded per
 * second over 1.5 s, from msivd's delivered counter, every count checked
 * afterwards against the eventfds' own counters:
 *  - forward_wakeups_per_s_1, _64, _1024, _2048 (1 client),
 *    forward_wakeups_per_s_64_8clients, _1024_8clients, _2048_8clients;
 *  - relay_cpu_ns_per_wakeup_1024: CPU of msivd's delivery thread
 *    (msivd-deliver, plus io_uring workers; the whole process if there is
 *    no such thread) per forwarded wakeup, 1024 vectors, 1 client;
 *    uring_relay_wakeups_per_s_1024, uring_relay_cpu_ns_per_wakeup_1024:
 *    the io_uring relay under the same load, in turn with msivd;
 *    relay_cpu_vs_uring_relay (ratio);
 *  - ref_epoll_relay_wakeups_per_s_1024, ref_epoll_relay_cpu_ns_per_
 *    wakeup_1024: a reference level-triggered epoll relay process under
 *    the same load;
 *  - shard_efficiency_2: msivd's delivery CPU per wakeup with
 *    delivery_shards = 1 over that with 2 (1024 vectors spread slot by
 *    slot, "shard = spread"; two msivds in turn, 3 rounds, median), with
 *    shard1_cpu_ns_per_wakeup_1024, shard2_cpu_ns_per_wakeup_1024, and per
 *    round shard0/1_wakeup_share (the targets' own counters) and
 *    shard0/1_cpu_share (the threads msivd-deliver0 and 1), so that both
 *    shards are seen forwarding; n/a where msivd runs no shards.
 * Direct mode: direct_deliver_cpu_ns_per_interrupt, relay_simfire_deliver_
 * cpu_ns_per_interrupt: msivd's delivery-thread CPU per SIM_FIRE on a
 * direct and on a relay vector (no direct latency: the sim device fires
 * through msivd's control socket).
 * Control plane (msivd with the default write-behind of mask state):
 *  - mask_rtt_ns: MASK and UNMASK alternating on one vector, mean;
 *  - seqpacket_rtt_ns: reference: a MASK-sized request to an echo server
 *    process over a SOCK_SEQPACKET pair; mask_rtt_vs_seqpacket (ratio);
 *  - control_pipelined_ops_per_s: 64 MASK/UNMASK requests in flight on a
 *    raw connection (libmsiv calls wait for each reply);
 *    seqpacket_pipelined_ops_per_s: the same to the echo server;
 *    pipelined_vs_seqpacket_echo (ratio).
 * Memory (also alone: "msiv-bench memory"):
 *  - rss_base_kib: msivd with a 64-slot sim device, nothing set up;
 *  - rss_64k_kib: msivd with 65536 vectors set up with targets on a device
 *    of as many slots, or as many as msivd's open file limit allows (it
 *    holds an fd per target; about 20000 where the hard limit is 20000):
 *    bytes_per_vector_count says how many;
 *  - bytes_per_vector: (rss_64k_kib - rss_base_kib) / that count: the
 *    VmRSS a set-up vector with a target costs, user space only (slots,
 *    vfuncs, sessions, SQLite's cache, malloc's overhead); kernel memory
 *    (each target's eventfd and file, the delivery loop's poll entries) is
 *    not counted;
 *  - bytes_per_vector_anon: the same from RssAnon instead of VmRSS (the
 *    shared libraries' pages, which VmRSS counts as far as they were
 *    touched, make it vary by 100 KiB or so from run to run);
 *  - rss_idle_64k_slots_kib, bytes_per_unused_slot: msivd with a
 *    65536-slot sim device and nothing set up; (that - rss_base_kib) /
 *    65472: what a configured slot costs before a vfunc uses it;
 *    bytes_per_unused_slot_anon: the same from RssAnon.
 *
 * store section (durable state):
 *  - store_durable_opens_per_s_1client, _32clients: durable vfunc opens
 *    per second, 1 client and 32 concurrent client processes (each open
 *    is committed before it is acknowledged; the 32 share commits);
 *  - store_mask_rtt_write_through, store_mask_rtt_write_behind (us):
 *    MASK/UNMASK round trips with the mask state written through (each
 *    reply waits for its commit) and written behind (write_behind_ms);
 *  - store_populate_64k_setups_per_s; store_startup_64k_vectors_total and
 *    _load (ms): start-up with 64k vectors in the store, from exec to the
 *    socket answering, and msivd's own figure for loading and rebuilding,
 *    medians of 7 restarts (startup.c); sqlite_read_64k_vectors (ms):
 *    SQLite reading the same rows; startup_vs_sqlite_read (ratio);
 *    rss_64k_restored_kib, bytes_per_vector_restored: the 64k restored
 *    vectors, without targets.
 *
 * fair section (fair.c; needs root, to connect as other users): one
 * tenant flooding, another opening and closing vfuncs (issue 15):
 *  - fair_idle_pair_p50, _p99, _max (us): 1000 durable open/close pairs
 *    of a non-admin tenant, each from the open's send to the close's
 *    reply, on an idle msivd;
 *  - fair_flood_pair_p50, _p99, _max (us): 1000 more while another
 *    non-admin session keeps 64 requests in flight (MASK, QUERY, UNMASK,
 *    QUERY, ...), in blocks of 100 alternating with the idle ones;
 *    fair_flood_p50_vs_idle, _p99_vs_idle, _max_vs_idle (ratios);
 *    fair_flood_requests_per_s: the flooder's rate meanwhile. A "#" line
 *    says whether the goal (flooded p99 at most 10 times the idle p99)
 *    was met.
 *
 * restart section (restart.c; needs root, for the sim trigger fds): 100
 * handovers (SIGUSR2; msivd(8), RESTART AND UPGRADE) while a producer
 * writes 4 vectors' triggers round robin, one every 20 us, and a consumer
 * timestamps every target it reads (issue 19):
 *  - restart_blackout_p50_us, _p99_us, _max_us: the client's blackout,
 *    the longest gap between two deliveries across each handover;
 *  - restart_blackout_msivd_p50_us, _p99_us, _max_us: msivd's own figure
 *    (its log: "no trigger read for N us"), from the old one's quiescing
 *    to the new one's arming;
 *  - restart_handover_p50_us, _max_us: from the signal to the new msivd
 *    answering on the socket;
 *  - restart_stream_gap_p50_us, _max_us: for scale, the longest gap
 *    between deliveries in the stretch before each handover, as long as
 *    it, with none running.
 *
 * usage: msiv-bench [hotpath] [store] [fair] [restart] [memory]
 * (default: every section but memory, which hotpath runs)
 * MSIVD names the daemon binary (make bench sets it). MSIV_BENCH_DELIVERY
 * (auto, io_uring, epoll), when set, is the delivery loop the hotpath and
 * restart sections ask msivd for (msivd.conf "delivery"). Every wait has a
 * deadline; on any exit the daemons and processes it started are killed.
 * The named ratios are printed again at the end with their goals
 * (summary.c); a count that does not match its cross-check fails the run.
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

/* n opens of 1-vector vfuncs from one connection; returns the seconds. */
static double
opens(struct h_daemon *d, const char *tenant, int n)
{
	struct msiv_conn *c = h_connect(d, tenant);
	uint64_t *ids = calloc((size_t)n, sizeof(*ids));
	double t0, t;

	if (ids == NULL)
		exit(1);
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		int r = msiv_vfunc_open(c, "sim0", 1, MSIV_POLICY_DEFAULT,
		    &ids[i]);

		if (r < 0)
			fail("open", r);
	}
	t = now_s() - t0;
	for (int i = 0; i < n; i++)
		(void)msiv_vfunc_close(c, ids[i]);
	msiv_close(c);
	free(ids);
	return t;
}

static void
bench_opens(void)
{
	static const char conf[] = "[msivd]\norphan_grace = 0\n"
	    "max_vfuncs_per_session = 1000\nmax_vfuncs = 1000\n"
	    "[device sim0]\nbackend = sim\nslots = 4096\n";
	struct h_daemon d;
	const int n1 = 400, nc = 32, per = 50;
	double t0, t;
	pid_t pids[32];

	start(&d, conf);
	(void)opens(&d, "warmup", 20);
	t = opens(&d, "one", n1);
	figure("store_durable_opens_per_s_1client", n1 / t, "opens/s");
	t0 = now_s();
	for (int i = 0; i < nc; i++) {
		pids[i] = bench_fork();
		if (pids[i] == 0) {
			char name[32];

			snprintf(name, sizeof(name), "client-%d", i);
			(void)opens(&d, name, per);
			_exit(0);
		}
	}
	for (int i = 0; i < nc; i++)
		if (bench_wait(pids[i], BENCH_TIMEOUT_MS) < 0)
			bench_die("an opening client failed");
	t = now_s() - t0;
	figure("store_durable_opens_per_s_32clients", nc * per / t, "opens/s");
	stop(&d, 0);
}

/* Mask/unmask round trips with the mask state written through or behind. */
static void
bench_mask(int behind_ms)
{
	char conf[200], name[64];
	struct h_daemon d;
	struct msiv_conn *c;
	uint64_t vf;
	const int n = 2000;
	int efd, r;
	double t0, t;

	snprintf(conf, sizeof(conf), "[msivd]\norphan_grace = 0\n"
	    "write_behind_ms = %d\n[device sim0]\nbackend = sim\nslots = 64\n",
	    behind_ms);
	start(&d, conf);
	c = h_connect(&d, "mask");
	efd = h_eventfd();
	if ((r = msiv_vfunc_open(c, "sim0", 1, MSIV_POLICY_DEFAULT, &vf)) < 0 ||
	    (r = msiv_vector_setup(c, vf, 0, 0xfee00000u, 1, efd, 0)) < 0)
		fail("mask: set up", r);
	t0 = now_s();
	for (int i = 0; i < n; i++)
		if ((r = i % 2 ? msiv_vector_unmask(c, vf, 0) :
		    msiv_vector_mask(c, vf, 0)) < 0)
			fail("mask", r);
	t = now_s() - t0;
	snprintf(name, sizeof(name), "store_mask_rtt_%s",
	    behind_ms ? "write_behind" : "write_through");
	figure(name, t / n * 1e6, "us");
	msiv_close(c);
	close(efd);
	stop(&d, 0);
}

static void
bench_store(void)
{
	bench_opens();
	bench_mask(0);
	bench_mask(100);
	bench_startup();
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

static const struct {
	const char *name;
	void (*run)(void);
	int all;	/* run when no section is named */
} bench_sections[] = {
	{ "hotpath", bench_hotpath, 1 },
	{ "store", bench_store, 1 },
	{ "fair", bench_fair, 1 },
	{ "restart", bench_restart, 1 },
	/* The hotpath section's memory figures alone (it runs them too). */
	{ "memory", bench_memory, 0 },
};
#define BENCH_NSECTIONS (sizeof(bench_sections) / sizeof(bench_sections[0]))

int
main(int argc, char **argv)
{
	int want[BENCH_NSECTIONS] = { 0 };

	for (int i = 1; i < argc; i++) {
		size_t k;

		for (k = 0; k < BENCH_NSECTIONS; k++)
			if (strcmp(argv[i], bench_sections[k].name) == 0)
				break;
		if (k == BENCH_NSECTIONS) {
			fprintf(stderr, "usage: msiv-bench [hotpath] [store] "
			    "[fair] [restart] [memory]\n");
			return 2;
		}
		want[k] = 1;
	}
	bench_main_pid = getpid();
	if (atexit(bench_cleanup) != 0)
		bench_die("atexit");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, bench_signal);
	signal(SIGTERM, bench_signal);
	signal(SIGHUP, bench_signal);
	bench_raise_fd_limit();
	for (size_t k = 0; k < BENCH_NSECTIONS; k++)
		if ((argc < 2 && bench_sections[k].all) || want[k])
			bench_sections[k].run();
	bench_goals();
	return 0;
}
