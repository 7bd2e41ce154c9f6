/*
 * What the sections of msiv-bench share (common.c): the output format,
 * bailing out, and a registry of the daemons and child processes a run
 * starts, so that every exit path kills them (no process outlives the
 * bench, none is left to hang).
 */
#ifndef MSIV_BENCH_H
#define MSIV_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* The longest any wait of the bench may last before it gives up. */
#define BENCH_TIMEOUT_MS H_TIMEOUT_MS

/* Once, first: kill what the bench started on any exit (atexit, signals),
 * and raise the open file limit as far as the kernel allows. */
void bench_init(void);

/* Monotonic clock: seconds, nanoseconds. */
double now_s(void);
uint64_t bench_now_ns(void);
/* Sleep ms milliseconds (poll with no fds). */
void bench_sleep_ms(int ms);

/* One figure: "name value unit" on stdout. */
void figure(const char *name, double value, const char *unit);
/* A comment line ("# ...") on stdout: context for the figures, never a
 * figure itself. */
void bench_note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Print "msiv-bench: what: status" and exit(1). */
void fail(const char *what, int r) __attribute__((noreturn));
/* Print "msiv-bench: ..." and exit(1). */
void bench_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Start msivd with conf (bails out if it does not answer); the daemon is
 * killed if the bench exits before stop(). */
void start(struct h_daemon *d, const char *conf);
/* SIGTERM and remove its directory; SIGKILL with kill9 (no orderly
 * release of thousands of vectors). */
void stop(struct h_daemon *d, int kill9);

/*
 * fork() a child that the bench kills on exit, and that dies with the
 * bench (PR_SET_PDEATHSIG). In the child it returns 0; the child ends
 * with _exit(), never exit().
 */
pid_t bench_fork(void);
/* Has the child exited already? Then its status is in *st. */
int bench_exited(pid_t pid, int *st);
/* Wait up to ms for the child to exit by itself; 0 if it exited 0. */
int bench_wait(pid_t pid, int ms);
/* SIGKILL and reap a child. */
void bench_kill(pid_t pid);

/* CPU time (ns) a process or one of its threads has run. */
uint64_t bench_cpu_ns(pid_t pid, pid_t tid);
/* A KiB line of /proc/PID/status (key: "VmRSS", "RssAnon", ...);
 * bench_rss_kib: VmRSS. */
uint64_t bench_status_kib(pid_t pid, const char *key);
uint64_t bench_rss_kib(pid_t pid);

/* The sections. */
/* The median, 99th percentile (nearest rank) and maximum of n samples,
 * in the samples' unit; sorts v. */
struct bench_lat {
	double p50, p99, max;
};
struct bench_lat bench_lat(uint64_t *v, size_t n);

/* msivd's protocol by hand (raw.c). encode: a request packet of op with
 * its payload (host order) into pkt; its length. send: the same, sent
 * with fds (dies on failure). recv: the next reply, events skipped (dies
 * after BENCH_TIMEOUT_MS): its header into *h, its payload (host order)
 * into rep if the reply succeeded and rep is not NULL; its status. */
struct msiv_hdr;
size_t bench_raw_encode(unsigned char *pkt, unsigned int op, uint32_t seq,
    const void *req);
void bench_raw_send(int fd, unsigned int op, uint32_t seq, const void *req,
    const int *fds, size_t nfds);
int bench_raw_recv(int fd, struct msiv_hdr *h, void *rep);

void bench_hotpath(void);
void bench_memory(void); /* hotpath.c: also run by bench_hotpath() */
void bench_fair(void);
void bench_restart(void);
/* Start-up with 64k vectors against SQLite's read of them (startup.c). */
void bench_startup(void);

/* The minimal io_uring relay (uring-relay.c): the reference of msivd's
 * io_uring loop. probe: which features the kernel gives (features says,
 * for a "#" line); 0, or a negative errno if there is no io_uring. main
 * (a child process): relay trig[i] to tgt[i], counting the target writes
 * done in *relayed; never returns. */
struct bench_uring_relay {
	int ok;
	unsigned int flags;   /* io_uring setup flags in use */
	int fixed;            /* registered files */
	char features[256];
};
int bench_uring_relay_probe(struct bench_uring_relay *u);
#ifdef HAVE_LIBURING
struct io_uring;
struct io_uring_sqe *bench_uring_sqe(struct io_uring *r);
#endif
void bench_uring_relay_main(const struct bench_uring_relay *u,
    const int *trig, const int *tgt, unsigned int n,
    _Atomic uint64_t *relayed) __attribute__((noreturn));

/*
 * Named ratios and cross-checks (summary.c). bench_goal: print the ratio
 * as a figure under its fixed name and remember it beside its goal
 * (value <= goal, or >= with at_least); bench_goals() prints every one
 * with "met" or "not met" on "#" lines, judging nothing else.
 * bench_check: got must equal want, else the run fails loudly;
 * bench_checked: print "# counts cross-checked: group: ..." with what
 * matched since the last one.
 */
void bench_goal(const char *name, double value, const char *unit,
    double goal, int at_least);
void bench_goals(void);
void bench_check(const char *what, uint64_t got, uint64_t want);
void bench_checked(const char *group);

#endif /* MSIV_BENCH_H */
