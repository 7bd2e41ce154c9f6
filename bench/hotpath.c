/*
 * The hotpath section of msiv-bench (msivd(8) DELIVERY LOOPS): the relay and
 * direct delivery paths of the real msivd on the sim device, each beside a
 * reference implementation measured the same way in the same run, plus the
 * control plane and the memory a vector costs. Every party is a separate
 * process (fork) talking over real eventfds and sockets; the bench process
 * itself is the measuring side ("A") of every round trip.
 *
 * What is measured, and how, is described figure by figure in
 * doc/performance.md; the comments below say why it is done that way.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "bench.h"
#include "fdpass.h"
#include "proto.h"

#define LAT_WARMUP    2000   /* round trips before the measured ones */
#define LAT_N         20000  /* measured round trips per path */
#define LAT_BLOCKS    20     /* interleaved blocks of LAT_N / LAT_BLOCKS */
#define FWD_WARMUP_MS 300    /* load before the window opens */
#define FWD_WINDOW_MS 1500   /* the measured window */
#define FWD_QUIET_MS  2000   /* longest wait for the relay to go idle */
#define FWD_CLIENTS   8      /* the many-clients case */
#define FWD_BATCH     256    /* epoll events per wait (msivd's too) */
#define FWD_OFFER     1.5    /* offered / forwarded, for a capacity */
#ifdef HAVE_LIBURING
#define FWD_EXACT     1      /* the clients leave the targets unread */
#else
#define FWD_EXACT     0      /* the clients read them */
#endif
#define DIRECT_N      2000   /* SIM_FIREs per direct-mode run */
#define FWD_ROUNDS    3      /* msivd and the io_uring relay in turn */
#define CTL_WARMUP    1000
#define CTL_N         20000
#define PIPE_DEPTH    64     /* requests in flight on the pipelined socket */
#define PIPE_MS       1000
#define CTL_BLOCKS    20     /* interleaved blocks of CTL_N / CTL_BLOCKS */
#define PIPE_BLOCKS   4      /* interleaved blocks of PIPE_MS / PIPE_BLOCKS */
#define BPV_VECTORS   65536
#define BPV_CLIENTS   8
#define BPV_TIMEOUT_MS (9 * BENCH_TIMEOUT_MS) /* 64k durable set-ups */
#define RELAY_TIDS_MAX 16

/*
 * The configuration of every msivd of this section: [msivd] with extra,
 * then a sim device of slots. Latency, forwarding and control share one
 * msivd: a device large enough for every vfunc of the forwarding runs, the
 * default write-behind of mask state, info logging (nothing per
 * operation). MSIV_BENCH_DELIVERY, when set, becomes the delivery key
 * (the loop msivd uses: auto, io_uring or epoll; see msivd.conf(5)), so
 * that loops can be compared run by run.
 */
static void
hotpath_conf_dev(char *buf, size_t cap, const char *extra,
    const char *devextra, unsigned int slots)
{
	const char *loop = getenv("MSIV_BENCH_DELIVERY");
	char dl[64] = "";

	if (loop != NULL && *loop != '\0') {
		if (strspn(loop, "abcdefghijklmnopqrstuvwxyz_") != strlen(loop) ||
		    strlen(loop) > 16)
			bench_die("MSIV_BENCH_DELIVERY: not a loop name");
		snprintf(dl, sizeof(dl), "delivery = %s\n", loop);
	}
	if ((size_t)snprintf(buf, cap, "[msivd]\norphan_grace = 0\n%s%s"
	    "[device sim0]\nbackend = sim\nslots = %u\n%s", dl, extra, slots,
	    devextra) >= cap)
		bench_die("configuration too long");
}

static void
hotpath_conf(char *buf, size_t cap, const char *extra, unsigned int slots)
{
	hotpath_conf_dev(buf, cap, extra, "", slots);
}

/* Counters shared with the producer and reference relay processes. */
struct hotpath_shm {
	_Atomic uint64_t writes;   /* trigger writes by the producer */
	_Atomic uint64_t relayed;  /* wakeups forwarded by the reference relay */
	_Atomic int stop;          /* the producer is to stop */
	_Atomic uint64_t pace;     /* the producer's writes per second; 0: as
	                            * many as it can */
	_Atomic uint64_t echo_read[4];   /* per latency path: B's reads */
	_Atomic uint64_t lat_relayed[4]; /* per latency path: R's relays */
};

static struct hotpath_shm *shm;
/* The minimal io_uring relay's features on this kernel (uring-relay.c). */
static struct bench_uring_relay uring;

/* A blocking (or non-blocking) close-on-exec eventfd. */
static int
hotpath_efd(int nonblock)
{
	int fd = eventfd(0, EFD_CLOEXEC | (nonblock ? EFD_NONBLOCK : 0));

	if (fd < 0)
		bench_die("eventfd: %s", strerror(errno));
	return fd;
}

static int
hotpath_write1(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

static void
hotpath_status(struct msiv_conn *c, struct msiv_status_info *st)
{
	int r = msiv_get_status(c, st, sizeof(*st));

	if (r < 0)
		fail("status", r);
}

/* --- latency -------------------------------------------------------------*/

/*
 * The echo ("B"): wait for in (poll with a deadline, then read: the
 * targets msivd holds are non-blocking, so B waits the same way on every
 * path), count what it read (the target's own counter: what the consumer
 * saw), write out.
 */
static void __attribute__((noreturn))
hotpath_echo_main(int in, int out, _Atomic uint64_t *cnt)
{
	for (;;) {
		uint64_t v = h_efd_wait(in, BENCH_TIMEOUT_MS);

		if (v == 0)
			_exit(1);
		atomic_fetch_add_explicit(cnt, v, memory_order_relaxed);
		if (hotpath_write1(out) < 0)
			_exit(1);
	}
}

/* The minimal blocking relay ("R"): a blocking read of the trigger, a
 * write of the target; nothing else (and a count, for the cross-check). */
static void __attribute__((noreturn))
hotpath_relay_main(int in, int out, _Atomic uint64_t *cnt)
{
	uint64_t v;

	for (;;) {
		if (read(in, &v, sizeof(v)) != sizeof(v))
			_exit(1);
		atomic_fetch_add_explicit(cnt, v, memory_order_relaxed);
		if (hotpath_write1(out) < 0)
			_exit(1);
	}
}

/* The latency paths, measured in interleaved blocks. */
enum { LP_RAW, LP_BLOCKING, LP_URING, LP_MSIVD, LP_N };

struct hotpath_lpath {
	const char *name;
	int on;             /* measured in this run */
	int out, in;        /* A writes out, waits for in (Y) */
	uint64_t trips;     /* round trips made (warm-up included) */
	uint64_t answers;   /* what A read from Y */
	uint64_t rtt[LAT_N];
	double blk50[LAT_BLOCKS], blk99[LAT_BLOCKS];
	int nparty;         /* B, and the relay's process or thread */
	pid_t ppid[2], ptid[2];
	int together;       /* blocks after which all ran on A's CPU */
	bool blk_tog[LAT_BLOCKS]; /* and which blocks those were */
};

static pid_t hotpath_find_delivery_thread(pid_t pid);

/* The CPU a thread last ran on (/proc/PID/task/TID/stat, field 39);
 * -1 if unknown. */
static int
hotpath_last_cpu(pid_t pid, pid_t tid)
{
	char path[64], line[1024], *p;
	int cpu = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
	    (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL) {
		/* Field 3 (state) follows the ')'; 39 is 36 fields on. */
		for (int i = 0; i < 36 && p != NULL; i++)
			p = strchr(p + 1, ' ');
		if (p == NULL || sscanf(p, " %*s %d", &cpu) != 1)
			cpu = -1;
	}
	fclose(f);
	return cpu;
}

/* Did every party of path p last run on the CPU this process is on? */
static int
hotpath_together(const struct hotpath_lpath *p)
{
	int me = sched_getcpu();

	for (int i = 0; i < p->nparty; i++)
		if (hotpath_last_cpu(p->ppid[i], p->ptid[i]) != me)
			return 0;
	return me >= 0;
}

static struct hotpath_lpath lpaths[LP_N];

/* A party of path p besides A: a process (tid = pid) or a thread. */
static void
hotpath_party(struct hotpath_lpath *p, pid_t pid, pid_t tid)
{
	if (tid <= 0)
		bench_die("%s: no thread to watch", p->name);
	p->ppid[p->nparty] = pid;
	p->ptid[p->nparty] = tid;
	p->nparty++;
}

/* n round trips on path p from this process (write out, wait for in);
 * stored from rtt[at] unless at is negative (warm-up). */
static void
hotpath_pingpong(struct hotpath_lpath *p, int n, int at)
{
	for (int i = 0; i < n; i++) {
		uint64_t t0 = bench_now_ns(), v;

		if (hotpath_write1(p->out) < 0)
			bench_die("%s: write: %s", p->name, strerror(errno));
		if ((v = h_efd_wait(p->in, BENCH_TIMEOUT_MS)) == 0)
			bench_die("%s: no answer within %d ms", p->name,
			    BENCH_TIMEOUT_MS);
		if (at >= 0)
			p->rtt[at + i] = bench_now_ns() - t0;
		p->trips++;
		p->answers += v;
	}
}

static int
hotpath_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of n values; sorts v. */
static double
hotpath_quantile(double *v, int n, double q)
{
	int k = (int)(q * n + 0.999999);

	qsort(v, (size_t)n, sizeof(v[0]), hotpath_cmp_double);
	return v[k < 1 ? 0 : k > n ? n - 1 : k - 1];
}

/*
 * Per block, a / b of the block's p50 (p99 with tail): their median as
 * the figure name, p10 and p90 as name_p10, name_p90. A goal, if given
 * (> 0), is printed beside it at the end of the run (bench_goals).
 */
static double
hotpath_block_ratio(const char *name, int a, int b, int tail, double goal)
{
	double r[LAT_BLOCKS], med;
	char n10[80], n90[80];

	for (int k = 0; k < LAT_BLOCKS; k++)
		r[k] = tail ? lpaths[a].blk99[k] / lpaths[b].blk99[k] :
		    lpaths[a].blk50[k] / lpaths[b].blk50[k];
	med = hotpath_quantile(r, LAT_BLOCKS, 0.5);
	if (goal > 0)
		bench_goal(name, med, "ratio", goal, 0);
	else
		figure(name, med, "ratio");
	snprintf(n10, sizeof(n10), "%s_p10", name);
	snprintf(n90, sizeof(n90), "%s_p90", name);
	figure(n10, hotpath_quantile(r, LAT_BLOCKS, 0.1), "ratio");
	figure(n90, hotpath_quantile(r, LAT_BLOCKS, 0.9), "ratio");
	return med;
}

/* The p50 ratio of paths a and b over the blocks after which every party
 * of both had last run on A's CPU (placed alike), with their count. */
static void
hotpath_matched_ratio(const char *name, int a, int b)
{
	double r[LAT_BLOCKS];
	char nn[80];
	int n = 0;

	for (int k = 0; k < LAT_BLOCKS; k++)
		if (lpaths[a].blk_tog[k] && lpaths[b].blk_tog[k])
			r[n++] = lpaths[a].blk50[k] / lpaths[b].blk50[k];
	snprintf(nn, sizeof(nn), "%s_blocks", name);
	figure(nn, n, "blocks");
	if (n == 0) {
		printf("%s n/a (no block placed both paths alike)\n", name);
		fflush(stdout);
		return;
	}
	figure(name, hotpath_quantile(r, n, 0.5), "ratio");
}

/* Open a 1-vector vfunc, set vector 0 up with target and flags, enable
 * it; returns the slot behind it. */
static uint32_t
hotpath_one_vector(struct msiv_conn *c, int target, unsigned int flags,
    uint64_t *vf, struct msiv_vector_info *in)
{
	int r;

	if ((r = msiv_vfunc_open(c, "sim0", 1, MSIV_POLICY_DEFAULT, vf)) < 0 ||
	    (r = msiv_vector_setup(c, *vf, 0, 0xfee00000u, 0x41, target,
	    flags)) < 0 || (r = msiv_vfunc_enable(c, *vf, 1)) < 0 ||
	    (r = msiv_vector_query(c, *vf, 0, in)) < 0)
		fail("latency: set up a vector", r);
	return in->slot;
}

static void
hotpath_vquery(struct msiv_conn *c, uint64_t vf, unsigned int v,
    struct msiv_vector_info *in)
{
	int r = msiv_vector_query(c, vf, v, in);

	if (r < 0)
		fail("vector query", r);
}

/*
 * Round trips A -> ... -> B (echo) -> A on every path, in LAT_BLOCKS
 * blocks of LAT_N / LAT_BLOCKS: block 1 of each path, then block 2 of
 * each, the first path of a block turning round, so that every path sees
 * the same machine (a loaded one changes from second to second); ratios
 * are taken per block. Every party stays up throughout, idle in its wait
 * while the others are measured.
 */
static void
hotpath_latency(struct h_daemon *d, struct msiv_conn *c,
    const struct bench_uring_relay *ur)
{
	static const char *names[LP_N] = { "raw hop", "blocking relay",
	    "io_uring relay", "msivd relay" };
	struct msiv_vector_info in0, in1;
	struct msiv_status_info s0, s1;
	struct bench_lat l;
	pid_t kids[2 * LP_N];
	int fds[4 * LP_N], nkids = 0, nfds = 0, t, u, r;
	const int per = LAT_N / LAT_BLOCKS;
	uint64_t vf;
	uint32_t slot;
	pid_t tid;
	char what[64];

	for (int p = 0; p < LP_N; p++) {
		lpaths[p].name = names[p];
		lpaths[p].on = p != LP_URING || ur->ok;
		lpaths[p].trips = lpaths[p].answers = 0;
		lpaths[p].nparty = lpaths[p].together = 0;
		atomic_store(&shm->echo_read[p], 0);
		atomic_store(&shm->lat_relayed[p], 0);
		if (!lpaths[p].on)
			continue;
		/* B echoes U on Y; A writes out (T, or U for the raw hop). */
		u = hotpath_efd(p != LP_BLOCKING);
		lpaths[p].in = fds[nfds++] = hotpath_efd(0);
		fds[nfds++] = u;
		if ((kids[nkids++] = bench_fork()) == 0)
			hotpath_echo_main(u, lpaths[p].in,
			    &shm->echo_read[p]);
		hotpath_party(&lpaths[p], kids[nkids - 1], kids[nkids - 1]);
		switch (p) {
		case LP_RAW:
			lpaths[p].out = u;
			break;
		case LP_BLOCKING:
			t = fds[nfds++] = hotpath_efd(0);
			if ((kids[nkids++] = bench_fork()) == 0)
				hotpath_relay_main(t, u,
				    &shm->lat_relayed[p]);
			hotpath_party(&lpaths[p], kids[nkids - 1],
			    kids[nkids - 1]);
			lpaths[p].out = t;
			break;
		case LP_URING:
			t = fds[nfds++] = hotpath_efd(1);
			if ((kids[nkids++] = bench_fork()) == 0)
				bench_uring_relay_main(ur, &t, &u, 1,
				    &shm->lat_relayed[p]);
			hotpath_party(&lpaths[p], kids[nkids - 1],
			    kids[nkids - 1]);
			lpaths[p].out = t;
			break;
		case LP_MSIVD:
			slot = hotpath_one_vector(c, u, MSIV_SETUP_UNMASKED,
			    &vf, &in0);
			if ((r = msiv_sim_triggers(c, "sim0", slot, 1,
			    &t)) < 0)
				fail("relay: SIM_TRIGGERS", r);
			fds[nfds++] = t;
			/* No msivd-deliver (older builds): its main thread. */
			tid = hotpath_find_delivery_thread(d->pid);
			hotpath_party(&lpaths[p], d->pid, tid ? tid : d->pid);
			lpaths[p].out = t;
			break;
		}
	}
	hotpath_status(c, &s0);
	hotpath_vquery(c, vf, 0, &in0);
	for (int p = 0; p < LP_N; p++)
		if (lpaths[p].on)
			hotpath_pingpong(&lpaths[p], LAT_WARMUP, -1);
	for (int k = 0; k < LAT_BLOCKS; k++)
		for (int j = 0; j < LP_N; j++) {
			struct hotpath_lpath *p = &lpaths[(k + j) % LP_N];
			uint64_t tmp[LAT_N / LAT_BLOCKS];

			if (!p->on)
				continue;
			hotpath_pingpong(p, per, k * per);
			memcpy(tmp, p->rtt + k * per, sizeof(tmp));
			l = bench_lat(tmp, (size_t)per);
			p->blk50[k] = l.p50;
			p->blk99[k] = l.p99;
			p->blk_tog[k] = hotpath_together(p);
			p->together += p->blk_tog[k];
		}
	hotpath_status(c, &s1);
	hotpath_vquery(c, vf, 0, &in1);

	/* Every signal went where it should, as its consumer counted it. */
	for (int p = 0; p < LP_N; p++) {
		if (!lpaths[p].on)
			continue;
		snprintf(what, sizeof(what), "%s: A's writes = B's reads",
		    lpaths[p].name);
		bench_check(what, atomic_load(&shm->echo_read[p]),
		    lpaths[p].trips);
		snprintf(what, sizeof(what), "%s: B's answers",
		    lpaths[p].name);
		bench_check(what, lpaths[p].answers, lpaths[p].trips);
		if (p == LP_BLOCKING || p == LP_URING) {
			snprintf(what, sizeof(what), "%s: relayed",
			    lpaths[p].name);
			bench_check(what, atomic_load(&shm->lat_relayed[p]),
			    lpaths[p].trips);
		}
	}
	bench_check("msivd relay: vector fired", in1.fired - in0.fired,
	    lpaths[LP_MSIVD].trips);
	bench_check("vector delivered", in1.delivered - in0.delivered,
	    lpaths[LP_MSIVD].trips);
	bench_check("msivd delivered (STATUS)", s1.delivered - s0.delivered,
	    lpaths[LP_MSIVD].trips);
	bench_check("msivd interrupts (STATUS)",
	    s1.interrupts - s0.interrupts, lpaths[LP_MSIVD].trips);
	bench_checked("latency");

	for (int i = 0; i < nkids; i++)
		bench_kill(kids[i]);
	if ((r = msiv_vfunc_close(c, vf)) < 0)
		fail("relay: close", r);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);

	bench_note("latency: %d round trips per path (after %d warm-up), in "
	    "%d interleaved blocks; ratios per block: median, p10, p90",
	    LAT_N, LAT_WARMUP, LAT_BLOCKS);
	bench_note("io_uring relay: %s", ur->features);
	bench_note("latency placement: after %d, %d, %d, %d of %d blocks "
	    "every party of the path had last run on A's CPU (raw hop, "
	    "blocking relay, io_uring relay, msivd relay); a wakeup across "
	    "CPUs costs more than one within a CPU, so paths placed "
	    "differently are not compared like with like", lpaths[LP_RAW].together,
	    lpaths[LP_BLOCKING].together, lpaths[LP_URING].together,
	    lpaths[LP_MSIVD].together, LAT_BLOCKS);
	for (int p = 0; p < LP_N; p++) {
		static const char *fig[LP_N] = { "raw_hop", "minimal_relay",
		    "uring_relay", "relay" };
		char name[64];

		if (!lpaths[p].on)
			continue;
		l = bench_lat(lpaths[p].rtt, LAT_N);
		snprintf(name, sizeof(name), "%s_p50", fig[p]);
		figure(name, l.p50, "ns");
		snprintf(name, sizeof(name), "%s_p99", fig[p]);
		figure(name, l.p99, "ns");
	}
	if (!ur->ok) {
		printf("relay_p50_vs_uring_relay n/a (%s)\n", ur->features);
		fflush(stdout);
	} else {
		(void)hotpath_block_ratio("relay_p50_vs_uring_relay", LP_MSIVD,
		    LP_URING, 0, 1.02);
		hotpath_matched_ratio("relay_p50_vs_uring_relay_matched",
		    LP_MSIVD, LP_URING);
		(void)hotpath_block_ratio("relay_p99_vs_uring_relay", LP_MSIVD,
		    LP_URING, 1, 0);
		(void)hotpath_block_ratio("uring_relay_p50_vs_minimal",
		    LP_URING, LP_BLOCKING, 0, 0);
	}
	(void)hotpath_block_ratio("relay_p50_vs_minimal", LP_MSIVD,
	    LP_BLOCKING, 0, 0);
	(void)hotpath_block_ratio("minimal_relay_p50_vs_raw_hop", LP_BLOCKING,
	    LP_RAW, 0, 0);
}

/* --- forwarding throughput -----------------------------------------------*/

/* A level-triggered epoll set over fds[0..n), each tagged with its index
 * (a child process: exits on failure). */
static int
hotpath_epoll_set(const int *fds, unsigned int n)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		_exit(1);
	for (unsigned int i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) < 0)
			_exit(1);
	}
	return ep;
}

/* The next ready events of ep; exits if none come within the deadline. */
static int
hotpath_epoll_wait(int ep, struct epoll_event *ev)
{
	for (;;) {
		int k = epoll_wait(ep, ev, FWD_BATCH, BENCH_TIMEOUT_MS);

		if (k > 0)
			return k;
		if (k < 0 && errno == EINTR)
			continue;
		_exit(1);
	}
}

#ifdef HAVE_LIBURING
/*
 * The producer: writes the triggers round robin as fast as it can, in
 * batches of FWD_BATCH writes per io_uring_enter(), so that one process
 * offers more wakeups than a relay can forward (a write(2) per signal
 * does not: it costs as much as the relay's work per wakeup).
 */
static void __attribute__((noreturn))
hotpath_producer_main(const int *trig, unsigned int n)
{
	static const uint64_t one = 1;
	struct io_uring r;
	struct timespec next;
	uint64_t w = 0, pace = atomic_load(&shm->pace);
	unsigned int i = 0;

	if (io_uring_queue_init(FWD_BATCH, &r, 0) < 0 ||
	    clock_gettime(CLOCK_MONOTONIC, &next) < 0)
		_exit(1);
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned int k;

		for (k = 0; k < FWD_BATCH; k++) {
			struct io_uring_sqe *sqe = bench_uring_sqe(&r);

			io_uring_prep_write(sqe, trig[i], &one, sizeof(one), 0);
			sqe->rw_flags = RWF_NOWAIT;
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			i = i + 1 == n ? 0 : i + 1;
		}
		if (io_uring_submit(&r) < 0)
			_exit(1);
		w += k;
		while (io_uring_peek_cqe(&r, &cqe) == 0) {
			w--; /* only failures post a completion */
			io_uring_cqe_seen(&r, cqe);
		}
		atomic_store_explicit(&shm->writes, w, memory_order_relaxed);
		if (atomic_load(&shm->stop))
			_exit(0);
		if (pace != 0) {
			/* A batch every FWD_BATCH / pace seconds, on absolute
			 * deadlines (a late one does not shift the rest). */
			next.tv_nsec += (long)(FWD_BATCH * 1000000000ull / pace);
			while (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
			    &next, NULL) == EINTR)
				;
		}
	}
}

/*
 * A client: waits for its targets with a multishot poll each, as a VMM on
 * io_uring would (a KVM irqfd consumes its signals in the kernel). It does
 * not read them: every signal posts a completion anyway, so the client
 * costs the shared CPUs little and the relay's capacity is what shows.
 */
static void __attribute__((noreturn))
hotpath_drainer_main(const int *fds, unsigned int n)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE,
	    .cq_entries = 8 * FWD_BATCH + 2 * n };
	struct __kernel_timespec ts = { .tv_sec = BENCH_TIMEOUT_MS / 1000 };
	struct io_uring r;

	if (io_uring_queue_init_params(FWD_BATCH, &r, &p) < 0)
		_exit(1);
	for (unsigned int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = bench_uring_sqe(&r);

		io_uring_prep_poll_multishot(sqe, fds[i], POLLIN);
		io_uring_sqe_set_data64(sqe, i);
	}
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		if (io_uring_submit_and_wait_timeout(&r, &cqe, 1, &ts,
		    NULL) < 0)
			_exit(1);
		io_uring_for_each_cqe(&r, head, cqe) {
			seen++;
			if (cqe->flags & IORING_CQE_F_MORE)
				continue;
			/* The poll ended (completion queue full): again. */
			struct io_uring_sqe *sqe = bench_uring_sqe(&r);

			io_uring_prep_poll_multishot(sqe,
			    fds[cqe->user_data], POLLIN);
			io_uring_sqe_set_data64(sqe, cqe->user_data);
		}
		io_uring_cq_advance(&r, seen);
	}
}
#else
/* The producer: writes the triggers round robin as fast as it can (this
 * build has no liburing: a write(2) each). */
static void __attribute__((noreturn))
hotpath_producer_main(const int *trig, unsigned int n)
{
	uint64_t w = 0, it = 0;

	for (unsigned int i = 0;; i = i + 1 == n ? 0 : i + 1) {
		if (hotpath_write1(trig[i]) == 0)
			w++;
		else if (errno != EAGAIN)
			_exit(1);
		if ((++it & 255) == 0) {
			atomic_store_explicit(&shm->writes, w,
			    memory_order_relaxed);
			if (atomic_load(&shm->stop))
				_exit(0);
		}
	}
}

/* A client: drains its targets with level-triggered epoll and read. */
static void __attribute__((noreturn))
hotpath_drainer_main(const int *fds, unsigned int n)
{
	struct epoll_event ev[FWD_BATCH];
	int ep = hotpath_epoll_set(fds, n);

	for (;;) {
		int k = hotpath_epoll_wait(ep, ev);
		uint64_t v;

		for (int j = 0; j < k; j++)
			(void)!read(fds[ev[j].data.u32], &v, sizeof(v));
	}
}
#endif

/*
 * The reference relay: what msivd's epoll loop does, minus the vector
 * state machine and its lock: level-triggered epoll over the triggers,
 * a read per ready trigger, a write of its target.
 */
static void __attribute__((noreturn))
hotpath_ref_relay_main(const int *trig, const int *tgt, unsigned int n)
{
	struct epoll_event ev[FWD_BATCH];
	int ep = hotpath_epoll_set(trig, n);
	uint64_t relayed = 0;

	for (;;) {
		int k = hotpath_epoll_wait(ep, ev);
		uint64_t v;

		for (int j = 0; j < k; j++) {
			unsigned int i = ev[j].data.u32;

			if (read(trig[i], &v, sizeof(v)) == sizeof(v) &&
			    hotpath_write1(tgt[i]) == 0)
				relayed++;
		}
		atomic_store_explicit(&shm->relayed, relayed,
		    memory_order_relaxed);
	}
}

/* Whose forwarding is measured: msivd (its delivered counter, the CPU of
 * its delivery thread) or the reference relay (shm, its process CPU). */
struct hotpath_relay {
	pid_t pid;
	struct msiv_conn *c;  /* msivd; NULL: a reference relay */
	int thread;           /* msivd: the delivery thread was found */
	uint64_t vf;          /* msivd: the vfunc forwarded for */
	int uring;            /* the io_uring reference (it never reads
	                       * the triggers) */
	uint64_t *per_target; /* when set: each target's count is added */
};

/* One CPU sample: per thread, so that threads that come and go (io_uring
 * workers) are counted from when they were first seen. */
struct hotpath_cpu {
	int n;
	pid_t tid[RELAY_TIDS_MAX];
	uint64_t ns[RELAY_TIDS_MAX];
	uint64_t sleeps[RELAY_TIDS_MAX];  /* voluntary context switches */
	uint64_t preempt[RELAY_TIDS_MAX]; /* involuntary ones */
};

/* A thread's context switches so far (/proc/PID/task/TID/status):
 * voluntary (it waited: for a relay, a sleep in its wait for wakeups) and
 * involuntary (it was preempted); 0 if it is gone. */
static void
hotpath_ctxt(pid_t pid, pid_t tid, uint64_t *vol, uint64_t *invol)
{
	char path[64], line[128];
	unsigned long long v;
	FILE *f;

	*vol = *invol = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid,
	    (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1)
			*vol = v;
		else if (sscanf(line, "nonvoluntary_ctxt_switches: %llu",
		    &v) == 1)
			*invol = v;
	}
	fclose(f);
}

/* The name (comm) of a thread; "" if it is gone. */
static void
hotpath_comm(pid_t pid, pid_t tid, char *comm, size_t cap)
{
	char path[64];
	FILE *f;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid,
	    (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return;
	if (fgets(comm, (int)cap, f) == NULL)
		comm[0] = '\0';
	fclose(f);
}

/* Is this thread of msivd part of the relay? Its delivery thread, named
 * msivd-deliver, and io_uring's kernel workers (iou-wrk-*, iou-sqp-*),
 * which do the work of a ring the delivery thread submits. */
static int
hotpath_relay_thread(pid_t pid, pid_t tid)
{
	char comm[32];

	hotpath_comm(pid, tid, comm, sizeof(comm));
	return strncmp(comm, "msivd-deliver", 13) == 0 ||
	    strncmp(comm, "iou-", 4) == 0;
}

static void
hotpath_cpu_sample(const struct hotpath_relay *r, struct hotpath_cpu *s)
{
	char path[64];
	struct dirent *e;
	DIR *dir;

	s->n = 0;
	if (r->c == NULL || !r->thread) { /* the whole process */
		s->tid[0] = 0;
		s->ns[0] = bench_cpu_ns(r->pid, 0);
		s->n = 1;
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/task", (int)r->pid);
	if ((dir = opendir(path)) == NULL)
		bench_die("%s: %s", path, strerror(errno));
	while ((e = readdir(dir)) != NULL && s->n < RELAY_TIDS_MAX) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid <= 0 || !hotpath_relay_thread(r->pid, tid))
			continue;
		s->tid[s->n] = tid;
		s->ns[s->n] = bench_cpu_ns(r->pid, s->tid[s->n]);
		hotpath_ctxt(r->pid, tid, &s->sleeps[s->n], &s->preempt[s->n]);
		s->n++;
	}
	closedir(dir);
}

static uint64_t
hotpath_cpu_delta(const struct hotpath_cpu *a, const struct hotpath_cpu *b)
{
	uint64_t d = 0;

	for (int i = 0; i < b->n; i++) {
		uint64_t before = 0;

		for (int j = 0; j < a->n; j++)
			if (a->tid[j] == b->tid[i])
				before = a->ns[j];
		if (b->ns[i] > before)
			d += b->ns[i] - before;
	}
	return d;
}

static uint64_t
hotpath_forwarded(const struct hotpath_relay *r)
{
	struct msiv_status_info st;

	if (r->c == NULL)
		return atomic_load_explicit(&shm->relayed,
		    memory_order_relaxed);
	hotpath_status(r->c, &st);
	return st.delivered;
}

struct hotpath_fwd {
	double per_s;        /* wakeups forwarded per second */
	double cpu_per;      /* relay CPU ns per forwarded wakeup */
	double writes_per_s; /* trigger writes offered by the producer */
	struct hotpath_cpu cpu0, cpu1; /* the relay's threads, the window's
	                      * ends */
	uint64_t forwarded;  /* in the window */
	int capacity;        /* offered >= FWD_OFFER times what was
	                      * forwarded: the relay, not the producer, set
	                      * the rate */
};

/* The sum of the fired counters of the vfunc's first n vectors (a query
 * settles them: msiv-protocol(7) COUNTERS). */
static uint64_t
hotpath_fired_sum(const struct hotpath_relay *r, unsigned int n)
{
	struct msiv_vector_info in;
	uint64_t sum = 0;

	for (unsigned int i = 0; i < n; i++) {
		hotpath_vquery(r->c, r->vf, i, &in);
		sum += in.fired;
	}
	return sum;
}

/*
 * One forwarding run: nclients drainers share the n targets, one
 * producer writes the n triggers; after FWD_WARMUP_MS the forwarded
 * count and the relay's CPU are sampled at both ends of FWD_WINDOW_MS.
 * Then the producer stops, the relay is let finish, and every count is
 * held against the counters of the eventfds themselves: the targets'
 * (what a consumer would read) against what the relay says it forwarded,
 * the producer's writes against msivd's fired counters (or, for the
 * io_uring reference, which never reads them, the triggers' own).
 */
static struct hotpath_fwd
hotpath_forward(const struct hotpath_relay *r, const int *trig,
    const int *tgt, unsigned int n, int nclients)
{
	struct hotpath_cpu cpu0, cpu1;
	struct hotpath_fwd res;
	pid_t drain[FWD_CLIENTS], prod;
	uint64_t c0, c1, w0, w1, cstart, cnow, last = ~0ull, tsum = 0;
	uint64_t fired0 = 0, fired1 = 0, writes;
	double t0, t1;
	int st;

	cstart = hotpath_forwarded(r);
	if (r->c != NULL)
		fired0 = hotpath_fired_sum(r, n);
	for (int k = 0; k < nclients; k++) {
		unsigned int lo = n * (unsigned int)k / (unsigned int)nclients;
		unsigned int hi = n * (unsigned int)(k + 1) /
		    (unsigned int)nclients;

		if ((drain[k] = bench_fork()) == 0)
			hotpath_drainer_main(tgt + lo, hi - lo);
	}
	atomic_store(&shm->writes, 0);
	atomic_store(&shm->stop, 0);
	if ((prod = bench_fork()) == 0)
		hotpath_producer_main(trig, n);
	bench_sleep_ms(FWD_WARMUP_MS);
	c0 = hotpath_forwarded(r);
	hotpath_cpu_sample(r, &cpu0);
	w0 = atomic_load(&shm->writes);
	t0 = now_s();
	bench_sleep_ms(FWD_WINDOW_MS);
	c1 = hotpath_forwarded(r);
	hotpath_cpu_sample(r, &cpu1);
	w1 = atomic_load(&shm->writes);
	t1 = now_s();
	if (bench_exited(prod, &st))
		bench_die("forwarding: the producer failed");
	for (int k = 0; k < nclients; k++)
		if (bench_exited(drain[k], &st))
			bench_die("forwarding: a client failed");
	atomic_store(&shm->stop, 1);
	if (bench_wait(prod, BENCH_TIMEOUT_MS) < 0)
		bench_die("forwarding: the producer did not stop");
	writes = atomic_load(&shm->writes);
	/* Let the relay finish: until what it says it forwarded is what the
	 * targets hold, and stays so. */
	for (int64_t end = h_now_ms() + BENCH_TIMEOUT_MS;;) {
		for (unsigned int i = 0; i < n; i++) {
			uint64_t t = h_efd_take(tgt[i]);

			tsum += t;
			if (r->per_target != NULL)
				r->per_target[i] += t;
		}
		cnow = hotpath_forwarded(r);
		if ((cnow == last && (!FWD_EXACT || cnow - cstart == tsum)) ||
		    h_now_ms() >= end)
			break;
		last = cnow;
		bench_sleep_ms(20);
	}
	for (int k = 0; k < nclients; k++)
		bench_kill(drain[k]);
	if (c1 <= c0)
		bench_die("forwarding: nothing was forwarded in %.1f s",
		    t1 - t0);
#if FWD_EXACT
	bench_check(r->c != NULL ? "msivd delivered = targets' counters" :
	    "relayed = targets' counters", cnow - cstart, tsum);
#endif
	if (r->c != NULL) {
		fired1 = hotpath_fired_sum(r, n);
		bench_check("producer's writes = vectors' fired", fired1 -
		    fired0, writes);
	} else if (r->uring) {
		uint64_t tw = 0;

		for (unsigned int i = 0; i < n; i++)
			tw += h_efd_take(trig[i]);
		bench_check("producer's writes = triggers' counters", tw,
		    writes);
	}
	res.per_s = (double)(c1 - c0) / (t1 - t0);
	res.cpu_per = (double)hotpath_cpu_delta(&cpu0, &cpu1) /
	    (double)(c1 - c0);
	res.writes_per_s = (double)(w1 - w0) / (t1 - t0);
	res.cpu0 = cpu0;
	res.cpu1 = cpu1;
	res.forwarded = c1 - c0;
	res.capacity = res.writes_per_s >= FWD_OFFER * res.per_s;
	return res;
}

/* Say what a forwarding run saw; a run whose producer did not offer
 * FWD_OFFER times what was forwarded measured the producer as much as
 * the relay: its rate is a throughput, not a capacity. */
static void
hotpath_fwd_note(const char *who, unsigned int n, int nc,
    const struct hotpath_fwd *f)
{
	bench_note("%s, %u vector%s, %d client%s: %.3g wakeups/s, producer "
	    "%.3g writes/s (%.2fx), relay CPU %.0f ns per wakeup; %s", who, n,
	    n > 1 ? "s" : "", nc, nc > 1 ? "s" : "", f->per_s,
	    f->writes_per_s, f->writes_per_s / f->per_s, f->cpu_per,
	    f->capacity ? "capacity" : "PRODUCER-BOUND: offered under 1.5x "
	    "what was forwarded, a throughput, not a capacity");
	{
		char group[96];

		snprintf(group, sizeof(group), "forwarding, %s, %u vector%s, "
		    "%d client%s", who, n, n > 1 ? "s" : "", nc,
		    nc > 1 ? "s" : "");
		bench_checked(group);
	}
}

/* A reference relay (the io_uring one with uring, else the epoll one)
 * on n eventfd pairs of its own, under the same load as msivd. */
static struct hotpath_fwd
hotpath_ref_run(int with_uring, unsigned int n)
{
	static int trig[2048], tgt[2048];
	struct hotpath_relay rel = { .uring = with_uring };
	struct hotpath_fwd f;

	for (unsigned int i = 0; i < n; i++) {
		trig[i] = hotpath_efd(1);
		tgt[i] = hotpath_efd(1);
	}
	atomic_store(&shm->relayed, 0);
	if ((rel.pid = bench_fork()) == 0) {
		if (with_uring)
			bench_uring_relay_main(&uring, trig, tgt, n,
			    &shm->relayed);
		hotpath_ref_relay_main(trig, tgt, n);
	}
	f = hotpath_forward(&rel, trig, tgt, n, 1);
	bench_kill(rel.pid);
	for (unsigned int i = 0; i < n; i++) {
		close(trig[i]);
		close(tgt[i]);
	}
	return f;
}

/* msivd's delivery thread (msivd-deliver): its tid, 0 if it has none. */
static pid_t
hotpath_find_delivery_thread(pid_t pid)
{
	char path[64];
	struct dirent *e;
	pid_t found = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		bench_die("%s: %s", path, strerror(errno));
	while (!found && (e = readdir(dir)) != NULL) {
		pid_t tid = (pid_t)atoi(e->d_name);
		char comm[32];

		if (tid <= 0)
			continue;
		hotpath_comm(pid, tid, comm, sizeof(comm));
		if (strncmp(comm, "msivd-deliver", 13) == 0)
			found = tid;
	}
	closedir(dir);
	return found;
}

/*
 * A vfunc of n vectors on c's sim0, set up to forward: each vector
 * unmasked with a target of its own (tgt[i]), the function enabled, its
 * slots' triggers in trig[i] (dups from SIM_TRIGGERS). Returns the vfunc;
 * *slot0 (if not NULL): the device slot of its vector 0 (its slots are
 * contiguous).
 */
static uint64_t
hotpath_fwd_open(struct msiv_conn *c, unsigned int n, int *trig, int *tgt,
    uint32_t *slot0)
{
	struct msiv_vector_info in, last;
	uint64_t vf;
	int r;

	if ((r = msiv_vfunc_open(c, "sim0", n, MSIV_POLICY_DEFAULT, &vf)) < 0)
		fail("forwarding: open", r);
	for (unsigned int i = 0; i < n; i++) {
		tgt[i] = hotpath_efd(1);
		if ((r = msiv_vector_setup(c, vf, i, 0xfee00000u,
		    0x40 + (i & 0xff), tgt[i], MSIV_SETUP_UNMASKED)) < 0)
			fail("forwarding: set up", r);
	}
	if ((r = msiv_vfunc_enable(c, vf, 1)) < 0 ||
	    (r = msiv_vector_query(c, vf, 0, &in)) < 0 ||
	    (r = msiv_vector_query(c, vf, n - 1, &last)) < 0)
		fail("forwarding: enable", r);
	if (last.slot != in.slot + n - 1)
		bench_die("forwarding: the slots are not contiguous");
	for (unsigned int i = 0; i < n; i += MSIV_FDS_MAX) {
		unsigned int k = n - i < MSIV_FDS_MAX ? n - i : MSIV_FDS_MAX;

		if ((r = msiv_sim_triggers(c, "sim0", in.slot + i, k,
		    trig + i)) < 0)
			fail("forwarding: SIM_TRIGGERS", r);
	}
	if (slot0 != NULL)
		*slot0 = in.slot;
	return vf;
}

static void
hotpath_fwd_close(struct msiv_conn *c, uint64_t vf, unsigned int n,
    const int *trig, const int *tgt)
{
	int r;

	for (unsigned int i = 0; i < n; i++)
		close(trig[i]);
	if ((r = msiv_vfunc_close(c, vf)) < 0)
		fail("forwarding: close", r);
	for (unsigned int i = 0; i < n; i++)
		close(tgt[i]);
}

static void
hotpath_forwarding(struct h_daemon *d, struct msiv_conn *c)
{
	static const unsigned int sizes[] = { 1, 64, 1024, 2048 };
	static int trig[2048], tgt[2048];
	struct hotpath_relay rel = { .pid = d->pid, .c = c };
	struct hotpath_fwd f, m[FWD_ROUNDS], u[FWD_ROUNDS];
	struct msiv_status_info st;
	double v[FWD_ROUNDS];
	char name[64];

	hotpath_status(c, &st);
	rel.thread = hotpath_find_delivery_thread(d->pid) != 0;
	bench_note("msivd delivery loop: %s; relay CPU: %s", st.loop,
	    rel.thread ? "threads msivd-deliverK and any io_uring workers" :
	    "whole msivd process (no thread named msivd-deliverK)");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		unsigned int n = sizes[s];
		uint64_t vf = hotpath_fwd_open(c, n, trig, tgt, NULL);

		rel.vf = vf;
		for (int nc = 1; nc <= FWD_CLIENTS; nc += FWD_CLIENTS - 1) {
			int rounds = n == 1024 && nc == 1 && uring.ok ?
			    FWD_ROUNDS : 1;

			if (nc > (int)n)
				continue;
			/* At 1024 vectors, 1 client: msivd and the io_uring
			 * reference in turn, FWD_ROUNDS times. */
			for (int k = 0; k < rounds; k++) {
				m[k] = hotpath_forward(&rel, trig, tgt, n, nc);
				hotpath_fwd_note("msivd", n, nc, &m[k]);
				if (rounds > 1) {
					u[k] = hotpath_ref_run(1, n);
					hotpath_fwd_note("io_uring relay", n,
					    nc, &u[k]);
				}
			}
			f = m[0];
			if (rounds > 1) {
				for (int k = 0; k < rounds; k++)
					v[k] = m[k].per_s;
				f.per_s = hotpath_quantile(v, rounds, 0.5);
			}
			snprintf(name, sizeof(name), "forward_wakeups_per_s_%u%s",
			    n, nc > 1 ? "_8clients" : "");
			figure(name, f.per_s, "wakeups/s");
			if (rounds == 1)
				continue;
			for (int k = 0; k < rounds; k++)
				v[k] = m[k].cpu_per;
			figure("relay_cpu_ns_per_wakeup_1024",
			    hotpath_quantile(v, rounds, 0.5), "ns");
			for (int k = 0; k < rounds; k++)
				v[k] = u[k].per_s;
			figure("uring_relay_wakeups_per_s_1024",
			    hotpath_quantile(v, rounds, 0.5), "wakeups/s");
			for (int k = 0; k < rounds; k++)
				v[k] = u[k].cpu_per;
			figure("uring_relay_cpu_ns_per_wakeup_1024",
			    hotpath_quantile(v, rounds, 0.5), "ns");
			for (int k = 0; k < rounds; k++)
				v[k] = m[k].cpu_per / u[k].cpu_per;
			bench_goal("relay_cpu_vs_uring_relay",
			    hotpath_quantile(v, rounds, 0.5), "ratio", 1.05,
			    0);
			figure("relay_cpu_vs_uring_relay_min", v[0], "ratio");
			figure("relay_cpu_vs_uring_relay_max", v[rounds - 1],
			    "ratio");
			bench_note("relay CPU per wakeup, 1024 vectors: msivd's "
			    "delivery thread over the io_uring relay's thread, "
			    "per round, %d rounds in turn: median, min, max",
			    rounds);
		}
		hotpath_fwd_close(c, vf, n, trig, tgt);
	}
	if (!uring.ok) {
		printf("relay_cpu_vs_uring_relay n/a (%s)\n", uring.features);
		fflush(stdout);
	}

	/* The epoll reference relay, on 1024 eventfd pairs of its own. */
	f = hotpath_ref_run(0, 1024);
	hotpath_fwd_note("epoll relay", 1024, 1, &f);
	figure("ref_epoll_relay_wakeups_per_s_1024", f.per_s, "wakeups/s");
	figure("ref_epoll_relay_cpu_ns_per_wakeup_1024", f.cpu_per, "ns");
}

/* --- shards --------------------------------------------------------------*/

#define SHARD_N       1024   /* vectors, spread over the shards */
#define SHARDS_MAX    2
#define SHARD_PACE    1000000 /* writes/s: what 1 shard, 2 shards and the
                                 producer carry on 2 CPUs with room */

/* The shard a thread of msivd delivers for: K of its name msivd-deliverK,
 * -1 if it is no shard's thread. */
static int
hotpath_shard_of(pid_t pid, pid_t tid)
{
	char comm[32];
	char *end;
	long k;

	hotpath_comm(pid, tid, comm, sizeof(comm));
	if (strncmp(comm, "msivd-deliver", 13) != 0)
		return -1;
	k = strtol(comm + 13, &end, 10);
	if (end == comm + 13 || (*end != '\0' && *end != '\n') || k < 0 ||
	    k >= SHARDS_MAX)
		return -1;
	return (int)k;
}

/* The shards' threads of an msivd: how many of 0..SHARDS_MAX-1 it has. */
static int
hotpath_shard_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int seen[SHARDS_MAX] = { 0 }, n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		bench_die("%s: %s", path, strerror(errno));
	while ((e = readdir(dir)) != NULL) {
		pid_t tid = (pid_t)atoi(e->d_name);
		int k;

		if (tid > 0 && (k = hotpath_shard_of(pid, tid)) >= 0 &&
		    !seen[k]) {
			seen[k] = 1;
			n++;
		}
	}
	closedir(dir);
	return n;
}

/* One msivd of the comparison: its shard count, its vfunc. */
struct hotpath_sharded {
	struct h_daemon d;
	struct msiv_conn *c;
	struct hotpath_relay rel;
	int shards;
	uint32_t slot0;
	int trig[SHARD_N], tgt[SHARD_N];
	uint64_t per_target[SHARD_N];
};

static void
hotpath_sharded_start(struct hotpath_sharded *m, int shards)
{
	char conf[256], extra[64];

	snprintf(extra, sizeof(extra), "delivery_shards = %d\n", shards);
	hotpath_conf_dev(conf, sizeof(conf), extra, "shard = spread\n",
	    SHARD_N);
	start(&m->d, conf);
	m->c = h_connect(&m->d, "shards");
	m->shards = hotpath_shard_count(m->d.pid);
	memset(&m->rel, 0, sizeof(m->rel));
	m->rel.pid = m->d.pid;
	m->rel.c = m->c;
	m->rel.thread = 1;
	m->rel.per_target = m->per_target;
	m->rel.vf = hotpath_fwd_open(m->c, SHARD_N, m->trig, m->tgt,
	    &m->slot0);
}

static void
hotpath_sharded_stop(struct hotpath_sharded *m)
{
	hotpath_fwd_close(m->c, m->rel.vf, SHARD_N, m->trig, m->tgt);
	msiv_close(m->c);
	stop(&m->d, 0);
}

/* The relay threads' sleeps (voluntary context switches: waits for
 * wakeups) and preemptions in a run's window. */
static void
hotpath_switches(const struct hotpath_fwd *f, uint64_t *sleeps,
    uint64_t *preempt)
{
	*sleeps = *preempt = 0;
	for (int i = 0; i < f->cpu1.n; i++)
		for (int j = 0; j < f->cpu0.n; j++)
			if (f->cpu0.tid[j] == f->cpu1.tid[i]) {
				*sleeps += f->cpu1.sleeps[i] - f->cpu0.sleeps[j];
				*preempt += f->cpu1.preempt[i] -
				    f->cpu0.preempt[j];
			}
}

/* msivd's own figures of its two shards (SHARD_LIST). */
static void
hotpath_shard_list(const struct hotpath_sharded *m,
    struct msiv_shard_info *out)
{
	int r = msiv_list_shards(m->c, out, SHARDS_MAX, sizeof(*out));

	if (r < 0)
		fail("shards: SHARD_LIST", r);
	if (r != SHARDS_MAX)
		bench_die("shards: msivd lists %d shards, expected %d", r,
		    SHARDS_MAX);
	for (int k = 0; k < SHARDS_MAX; k++)
		if (out[k].shard != (uint32_t)k)
			bench_die("shards: record %d is shard %u", k,
			    out[k].shard);
}

/* What each shard says it delivered in a run (from s0 to s1) against its
 * targets' own counters (slot i on shard i mod 2). */
static void
hotpath_shard_check(const struct hotpath_sharded *m,
    const struct msiv_shard_info *s0, const struct msiv_shard_info *s1)
{
	uint64_t w[SHARDS_MAX] = { 0 };

	if (!FWD_EXACT)
		return; /* the clients read the targets: no count to hold */
	for (unsigned int i = 0; i < SHARD_N; i++)
		w[(m->slot0 + i) % SHARDS_MAX] += m->per_target[i];
	bench_check("shard 0 delivered (SHARD_LIST) = its targets' counters",
	    s1[0].delivered - s0[0].delivered, w[0]);
	bench_check("shard 1 delivered (SHARD_LIST) = its targets' counters",
	    s1[1].delivered - s0[1].delivered, w[1]);
}

/*
 * One round's per-shard figures of a two-shard msivd: each shard's share
 * of the wakeups (its targets' own counters: slot i is on shard i mod 2,
 * "shard = spread") and of the delivery threads' CPU in the window.
 */
static void
hotpath_shard_shares(const struct hotpath_sharded *m,
    const struct hotpath_fwd *f, int round, const char *sfx)
{
	uint64_t w[SHARDS_MAX] = { 0 }, ns[SHARDS_MAX] = { 0 }, wall = 0;
	uint64_t nsall = 0;

	/* The clients read no target (FWD_EXACT): their counters hold every
	 * write of the run. */
	for (unsigned int i = 0; i < SHARD_N && FWD_EXACT; i++) {
		w[(m->slot0 + i) % SHARDS_MAX] += m->per_target[i];
		wall += m->per_target[i];
	}
	if (!FWD_EXACT)
		wall = 1; /* no per-shard wakeups in this build: shown as 0 */
	for (int i = 0; i < f->cpu1.n; i++) {
		int k = hotpath_shard_of(m->d.pid, f->cpu1.tid[i]);
		uint64_t before = 0;

		for (int j = 0; j < f->cpu0.n; j++)
			if (f->cpu0.tid[j] == f->cpu1.tid[i])
				before = f->cpu0.ns[j];
		if (k >= 0 && f->cpu1.ns[i] > before) {
			ns[k] += f->cpu1.ns[i] - before;
			nsall += f->cpu1.ns[i] - before;
		}
	}
	if (wall == 0 || nsall == 0)
		bench_die("shards: nothing forwarded, or no shard CPU seen");
	bench_note("shards, round %d, 2 shards: shard 0: %.1f%% of %llu "
	    "wakeups, %.1f%% of %.1f ms delivery CPU; shard 1: %.1f%%, %.1f%%",
	    round + 1, 100.0 * (double)w[0] / (double)wall,
	    (unsigned long long)wall, 100.0 * (double)ns[0] / (double)nsall,
	    (double)nsall / 1e6, 100.0 * (double)w[1] / (double)wall,
	    100.0 * (double)ns[1] / (double)nsall);
	for (int k = 0; k < SHARDS_MAX; k++) {
		char name[64];

		snprintf(name, sizeof(name), "shard%d_wakeup_share%s", k, sfx);
		figure(name, (double)w[k] / (double)wall, "ratio");
		snprintf(name, sizeof(name), "shard%d_cpu_share%s", k, sfx);
		figure(name, (double)ns[k] / (double)nsall, "ratio");
	}
}

/*
 * FWD_ROUNDS rounds of the two msivds in turn, the producer offering pace
 * writes per second (0: all it can); the figures' names end in _unpaced
 * for pace 0.
 */
static void
hotpath_shard_rounds(struct hotpath_sharded *one, struct hotpath_sharded *two,
    uint64_t pace)
{
	struct hotpath_fwd a, b;
	double v[FWD_ROUNDS], cpu1[FWD_ROUNDS], cpu2[FWD_ROUNDS];
	const char *sfx = pace ? "" : "_unpaced";
	char name[64], how[64];

	if (pace)
		snprintf(how, sizeof(how), "producer paced at %.3g writes/s",
		    (double)pace);
	else
		snprintf(how, sizeof(how), "producer unpaced");
	atomic_store(&shm->pace, pace);
	for (int k = 0; k < FWD_ROUNDS; k++) {
		struct msiv_shard_info s0[SHARDS_MAX], s1[SHARDS_MAX];
		uint64_t sa, pa, sb, pb;

		a = hotpath_forward(&one->rel, one->trig, one->tgt, SHARD_N, 1);
		hotpath_fwd_note("msivd, 1 shard", SHARD_N, 1, &a);
		memset(two->per_target, 0, sizeof(two->per_target));
		hotpath_shard_list(two, s0);
		b = hotpath_forward(&two->rel, two->trig, two->tgt, SHARD_N, 1);
		hotpath_shard_list(two, s1);
		hotpath_shard_check(two, s0, s1);
		hotpath_fwd_note("msivd, 2 shards", SHARD_N, 1, &b);
		hotpath_shard_shares(two, &b, k, sfx);
		cpu1[k] = a.cpu_per;
		cpu2[k] = b.cpu_per;
		v[k] = a.cpu_per / b.cpu_per;
		hotpath_switches(&a, &sa, &pa);
		hotpath_switches(&b, &sb, &pb);
		bench_note("shards, %s, round %d: wakeups per sleep of a "
		    "delivery thread (its waits for wakeups): 1 shard %.1f, 2 "
		    "shards %.1f; preemptions per 1000 wakeups: %.2f and %.2f",
		    how, k + 1, (double)a.forwarded / (double)(sa ? sa : 1),
		    (double)b.forwarded / (double)(sb ? sb : 1),
		    1000.0 * (double)pa / (double)a.forwarded,
		    1000.0 * (double)pb / (double)b.forwarded);
	}
	atomic_store(&shm->pace, 0);
	snprintf(name, sizeof(name), "shard1_cpu_ns_per_wakeup_1024%s", sfx);
	figure(name, hotpath_quantile(cpu1, FWD_ROUNDS, 0.5), "ns");
	snprintf(name, sizeof(name), "shard2_cpu_ns_per_wakeup_1024%s", sfx);
	figure(name, hotpath_quantile(cpu2, FWD_ROUNDS, 0.5), "ns");
	if (pace)
		bench_goal("shard_efficiency_2", hotpath_quantile(v, FWD_ROUNDS,
		    0.5), "ratio", 0.9, 1);
	else
		figure("shard_efficiency_2_unpaced", hotpath_quantile(v,
		    FWD_ROUNDS, 0.5), "ratio");
	bench_note("shard_efficiency_2%s: CPU per wakeup with 1 shard over "
	    "with 2, %s, %d rounds in turn, median", sfx, how, FWD_ROUNDS);
}

/*
 * shard_efficiency_2: msivd's delivery CPU per wakeup with one shard over
 * that with two (1: a second shard costs nothing per wakeup; under 1:
 * each wakeup costs more, e.g. smaller batches, or the shards contending).
 * Two msivds, one with delivery_shards = 1 and one with 2, each with
 * SHARD_N vectors spread slot by slot over its shards; one producer and
 * one client, as in the forwarding runs; the two in turn, FWD_ROUNDS
 * times; the ratio per round, summarised as the median. The CPU is every
 * msivd-deliverK thread's (and io_uring workers'), so two shards that
 * both work are both counted.
 */
static void
hotpath_shards(void)
{
	static struct hotpath_sharded one, two;

	hotpath_sharded_start(&one, 1);
	hotpath_sharded_start(&two, 2);
	if (one.shards != 1 || two.shards != 2) {
		printf("shard_efficiency_2 n/a (msivd ran %d and %d delivery "
		    "threads for delivery_shards = 1 and 2: %s)\n", one.shards,
		    two.shards, two.shards == 0 ? "no thread named "
		    "msivd-deliverK (an older msivd, or the epoll loop)" :
		    "not sharded");
		fflush(stdout);
		hotpath_sharded_stop(&one);
		hotpath_sharded_stop(&two);
		return;
	}
	hotpath_shard_rounds(&one, &two, SHARD_PACE);
	hotpath_shard_rounds(&one, &two, 0);
	hotpath_sharded_stop(&one);
	hotpath_sharded_stop(&two);
}

/* --- direct mode ---------------------------------------------------------*/

/*
 * What a direct-mode vector costs msivd's delivery thread. In direct mode
 * msivd routes the slot to the target (slot->routed) and steps off the
 * path: the device signals the target itself (msiv-protocol(7) DIRECT).
 * The sim device does so when it is fired (SIM_FIRE, daemon/sim.c
 * sim_fire), which is a request on msivd's control socket: its latency
 * is a control round trip, not a device's, so none is reported. What is
 * reported is the delivery thread's CPU per interrupt, DIRECT_N
 * interrupts fired one at a time (each waited for at the target) on a
 * direct vector and then on a relay vector, with the counts checked: the
 * target got every one, the vector counted every one as fired, and the
 * delivery loop saw none of the direct ones (msivd's interrupt counter,
 * which counts the loop's trigger wakeups).
 */
static double
hotpath_direct_one(struct msiv_conn *c, const struct hotpath_relay *rel,
    int direct)
{
	struct msiv_vector_info in0, in1;
	struct msiv_status_info s0, s1;
	struct hotpath_cpu cpu0, cpu1;
	uint64_t vf, got = 0;
	uint32_t slot;
	int u = hotpath_efd(1), r;
	const char *mode = direct ? "direct" : "relay";
	char what[80];

	slot = hotpath_one_vector(c, u, MSIV_SETUP_UNMASKED |
	    (direct ? MSIV_SETUP_DIRECT : 0), &vf, &in0);
	if (direct && (!in0.direct || !in0.routed))
		bench_die("direct: the vector is not routed to its target");
	/* Routing a direct vector to its target (the enable) gives the
	 * target one signal before the acknowledgement (msiv-protocol(7),
	 * DIRECT: each move is at-least-once); relay mode adds none. */
	snprintf(what, sizeof(what), "%s: signals of the set-up", mode);
	bench_check(what, h_efd_take(u), direct ? 1 : 0);
	hotpath_status(c, &s0);
	hotpath_cpu_sample(rel, &cpu0);
	for (int i = 0; i < DIRECT_N; i++) {
		uint64_t v;

		if ((r = msiv_sim_fire(c, "sim0", slot, 1)) < 0)
			fail("direct: SIM_FIRE", r);
		if ((v = h_efd_wait(u, BENCH_TIMEOUT_MS)) == 0)
			bench_die("%s: SIM_FIRE did not reach the target",
			    mode);
		got += v;
	}
	hotpath_cpu_sample(rel, &cpu1);
	hotpath_status(c, &s1);
	hotpath_vquery(c, vf, 0, &in1);
	snprintf(what, sizeof(what), "%s: SIM_FIREs = target's reads", mode);
	bench_check(what, got, DIRECT_N);
	snprintf(what, sizeof(what), "%s: vector fired", mode);
	bench_check(what, in1.fired - in0.fired, DIRECT_N);
	snprintf(what, sizeof(what), "%s: delivery loop wakeups (msivd "
	    "interrupts)", mode);
	bench_check(what, s1.interrupts - s0.interrupts, direct ? 0 :
	    DIRECT_N);
	if ((r = msiv_vfunc_close(c, vf)) < 0)
		fail("direct: close", r);
	close(u);
	return (double)hotpath_cpu_delta(&cpu0, &cpu1) / DIRECT_N;
}

static void
hotpath_direct(struct h_daemon *d, struct msiv_conn *c)
{
	struct hotpath_relay rel = { .pid = d->pid, .c = c };
	double dir, rly;

	rel.thread = hotpath_find_delivery_thread(d->pid) != 0;
	if (!rel.thread) {
		bench_note("direct: no thread named msivd-deliver: the "
		    "delivery thread's CPU cannot be told apart");
		return;
	}
	dir = hotpath_direct_one(c, &rel, 1);
	rly = hotpath_direct_one(c, &rel, 0);
	bench_checked("direct mode");
	figure("direct_deliver_cpu_ns_per_interrupt", dir, "ns");
	figure("relay_simfire_deliver_cpu_ns_per_interrupt", rly, "ns");
	bench_note("direct mode: %d interrupts fired with SIM_FIRE, one at a "
	    "time, on a direct vector and on a relay vector: msivd's delivery "
	    "thread spent %.0f ns and %.0f ns per interrupt; no direct "
	    "latency is reported (the sim device fires through msivd's "
	    "control socket)", DIRECT_N, dir, rly);
}

/* --- control plane -------------------------------------------------------*/

/* The reply to seq (events are skipped): its status; the payload, in
 * host order, into rep. */
static int
hotpath_raw_recv(int fd, unsigned int op, uint32_t seq, void *rep)
{
	struct msiv_hdr h;
	int st = bench_raw_recv(fd, &h, rep);

	if (h.seq != seq || h.opcode != op)
		bench_die("raw: reply %u to %u, expected %u", (unsigned)h.seq,
		    (unsigned)h.opcode, (unsigned)seq);
	return st;
}

/* The reference server: echo a header-only reply to every packet. */
static void __attribute__((noreturn))
hotpath_seqpacket_main(int s)
{
	unsigned char pkt[MSIV_MSG_MAX];
	size_t replen = sizeof(struct msiv_hdr) +
	    msiv_proto_op(MSIV_OP_VEC_MASK)->rep_len;
	int rfds[MSIV_FDS_MAX];
	size_t nr;

	for (;;) {
		ssize_t n = fdpass_recv(s, pkt, sizeof(pkt), rfds, &nr, 0);
		struct msiv_hdr h;

		if (n <= 0 || msiv_hdr_decode(pkt, (size_t)n, &h) < 0)
			_exit(n == 0 ? 0 : 1);
		h.flags = MSIV_F_REPLY;
		h.len = (uint32_t)(replen - sizeof(h));
		msiv_hdr_encode(&h, pkt);
		memset(pkt + sizeof(h), 0, h.len);
		if (fdpass_send(s, pkt, replen, NULL, 0, 0) < 0)
			_exit(1);
	}
}

/*
 * The echo server of the pipelined reference: what msivd does with a
 * pipelined session at its cheapest, so that the ratio is not won by a
 * slow reference: up to PIPE_ECHO_BATCH packets a recvmmsg (msivd reads
 * 16 a recvmmsg), and their header-only replies in one sendmmsg (msivd
 * sends one sendmsg a reply).
 */
#define PIPE_ECHO_BATCH 16
static void __attribute__((noreturn))
hotpath_seqpacket_batch_main(int s)
{
	static unsigned char in[PIPE_ECHO_BATCH][MSIV_MSG_MAX];
	static unsigned char out[PIPE_ECHO_BATCH][sizeof(struct msiv_hdr) + 64];
	struct iovec iv[PIPE_ECHO_BATCH], ov[PIPE_ECHO_BATCH];
	struct mmsghdr im[PIPE_ECHO_BATCH], om[PIPE_ECHO_BATCH];
	size_t replen = sizeof(struct msiv_hdr) +
	    msiv_proto_op(MSIV_OP_VEC_MASK)->rep_len;

	if (replen > sizeof(out[0]))
		_exit(1);
	for (;;) {
		int n;

		memset(im, 0, sizeof(im));
		for (int i = 0; i < PIPE_ECHO_BATCH; i++) {
			iv[i].iov_base = in[i];
			iv[i].iov_len = sizeof(in[i]);
			im[i].msg_hdr.msg_iov = &iv[i];
			im[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(s, im, PIPE_ECHO_BATCH, MSG_WAITFORONE |
		    MSG_CMSG_CLOEXEC, NULL);
		if (n <= 0)
			_exit(n == 0 ? 0 : 1);
		memset(om, 0, sizeof(om));
		for (int i = 0; i < n; i++) {
			struct msiv_hdr h;

			if (im[i].msg_len == 0)
				_exit(0);
			if (msiv_hdr_decode(in[i], im[i].msg_len, &h) < 0)
				_exit(1);
			h.flags = MSIV_F_REPLY;
			h.len = (uint32_t)(replen - sizeof(h));
			msiv_hdr_encode(&h, out[i]);
			memset(out[i] + sizeof(h), 0, h.len);
			ov[i].iov_base = out[i];
			ov[i].iov_len = replen;
			om[i].msg_hdr.msg_iov = &ov[i];
			om[i].msg_hdr.msg_iovlen = 1;
		}
		for (int done = 0; done < n;) {
			int k = sendmmsg(s, om + done, (unsigned int)(n - done),
			    0);

			if (k <= 0)
				_exit(1);
			done += k;
		}
	}
}

/* n round trips of a MASK-sized request over a raw SOCK_SEQPACKET pair
 * to the echo server, sent and received as libmsiv does (sendmsg, poll,
 * recvmsg); total ns. */
static uint64_t
hotpath_seqpacket_rtt(int fd, int n, uint32_t *seq)
{
	struct msiv_vec_req rq = { .vfunc = 1, .vector = 0 };
	unsigned char pkt[MSIV_MSG_MAX], in[MSIV_MSG_MAX];
	int rfds[MSIV_FDS_MAX];
	uint64_t t0 = bench_now_ns();
	size_t len, nr;

	for (int i = 0; i < n; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		len = bench_raw_encode(pkt, MSIV_OP_VEC_MASK, (*seq)++, &rq);
		if (fdpass_send(fd, pkt, len, NULL, 0, 0) < 0 ||
		    poll(&p, 1, BENCH_TIMEOUT_MS) != 1 ||
		    fdpass_recv(fd, in, sizeof(in), rfds, &nr,
		    MSG_DONTWAIT) <= 0)
			bench_die("seqpacket echo: no reply");
	}
	return bench_now_ns() - t0;
}

/* n MASK/UNMASK calls alternating on one vector through libmsiv; total
 * ns. */
static uint64_t
hotpath_mask_rtt(struct msiv_conn *c, uint64_t vf, int n)
{
	uint64_t t0 = bench_now_ns();

	for (int i = 0; i < n; i++) {
		int r = i % 2 ? msiv_vector_mask(c, vf, 0) :
		    msiv_vector_unmask(c, vf, 0);

		if (r < 0)
			fail("mask", r);
	}
	return bench_now_ns() - t0;
}

/*
 * Pipelined: PIPE_DEPTH MASK/UNMASK requests back to back on fd, then
 * their PIPE_DEPTH replies (each checked for its seq and op), over and
 * over for ms (one round if ms is 0). Adds the operations to *ops, the
 * replies to *replies; returns the seconds. The same for msivd's raw
 * connection and for the echo server, which answers with the request's
 * seq and op.
 */
static double
hotpath_pipe_run(int fd, uint64_t vfunc, uint32_t *seq, int ms,
    uint64_t *ops, uint64_t *replies)
{
	struct msiv_vec_req vq = { .vfunc = vfunc, .vector = 0 };
	double t0 = now_s(), t;
	int r;

	do {
		uint32_t first = *seq;

		for (int i = 0; i < PIPE_DEPTH; i++, (*seq)++)
			bench_raw_send(fd, *seq % 2 ? MSIV_OP_VEC_UNMASK :
			    MSIV_OP_VEC_MASK, *seq, &vq, NULL, 0);
		for (uint32_t s = first; s != *seq; s++, (*replies)++)
			if ((r = hotpath_raw_recv(fd, s % 2 ?
			    MSIV_OP_VEC_UNMASK : MSIV_OP_VEC_MASK, s,
			    NULL)) < 0)
				fail("pipelined: mask", r);
		*ops += PIPE_DEPTH;
	} while ((t = now_s() - t0) < ms / 1e3);
	return t;
}

/*
 * libmsiv has no pipelined or batched call (every call waits for its
 * reply), so this speaks the protocol on a raw connection: HELLO, open,
 * set up; the pipelined requests then go through hotpath_pipe_run(). Root
 * is an admin, so max_rate does not apply. Returns the connection; the
 * vfunc in *vfunc, the target in *efd.
 */
static int
hotpath_pipe_connect(struct h_daemon *d, uint64_t *vfunc, int *efd,
    uint32_t *seq)
{
	struct msiv_hello_req hq = { .version_min = MSIV_PROTO_VERSION,
	    .version_max = MSIV_PROTO_VERSION, .tenant = "pipelined" };
	struct msiv_vfunc_open_req oq = { .device = "sim0", .nvec = 1 };
	struct msiv_vfunc_open_rep orp;
	struct msiv_vec_setup_req sq = { .addr = 0xfee00000u, .data = 0x42 };
	int fd = h_raw_connect(d), r;

	*efd = hotpath_efd(1);
	if (fd < 0)
		bench_die("raw connect: %s", strerror(errno));
	bench_raw_send(fd, MSIV_OP_HELLO, *seq, &hq, NULL, 0);
	if ((r = hotpath_raw_recv(fd, MSIV_OP_HELLO, (*seq)++, NULL)) < 0)
		fail("pipelined: HELLO", r);
	bench_raw_send(fd, MSIV_OP_VFUNC_OPEN, *seq, &oq, NULL, 0);
	if ((r = hotpath_raw_recv(fd, MSIV_OP_VFUNC_OPEN, (*seq)++,
	    &orp)) < 0)
		fail("pipelined: open", r);
	sq.vfunc = *vfunc = orp.vfunc;
	bench_raw_send(fd, MSIV_OP_VEC_SETUP, *seq, &sq, efd, 1);
	if ((r = hotpath_raw_recv(fd, MSIV_OP_VEC_SETUP, (*seq)++, NULL)) < 0)
		fail("pipelined: set up", r);
	return fd;
}

/* A SOCK_SEQPACKET pair to an echo server process (batching or not):
 * this end; the server's pid in *srv. */
static int
hotpath_echo_server(int batch, pid_t *srv)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		bench_die("socketpair: %s", strerror(errno));
	if ((*srv = bench_fork()) == 0) {
		close(sv[0]);
		if (batch)
			hotpath_seqpacket_batch_main(sv[1]);
		hotpath_seqpacket_main(sv[1]);
	}
	close(sv[1]);
	return sv[0];
}

/* The median, and the p10 and p90 as name_p10, name_p90 (or the min and
 * max as _min, _max with minmax), of n per-block ratios; sorts v. */
static void
hotpath_ratios(const char *name, double *v, int n, double goal,
    int at_least, int minmax)
{
	char lo[80], hi[80];
	double med = hotpath_quantile(v, n, 0.5);

	if (goal < 0)
		figure(name, med, "ratio"); /* no goal of its own */
	else
		bench_goal(name, med, "ratio", goal, at_least);
	snprintf(lo, sizeof(lo), "%s_%s", name, minmax ? "min" : "p10");
	snprintf(hi, sizeof(hi), "%s_%s", name, minmax ? "max" : "p90");
	figure(lo, minmax ? v[0] : hotpath_quantile(v, n, 0.1), "ratio");
	figure(hi, minmax ? v[n - 1] : hotpath_quantile(v, n, 0.9), "ratio");
}

/* Every thread of process pid on CPU cpu; with cpu -1, back on the CPUs
 * of all. */
static void
hotpath_pin(pid_t pid, int cpu, const cpu_set_t *all)
{
	char path[64];
	struct dirent *e;
	cpu_set_t one;
	DIR *dir;

	CPU_ZERO(&one);
	if (cpu >= 0)
		CPU_SET(cpu, &one);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		bench_die("%s: %s", path, strerror(errno));
	while ((e = readdir(dir)) != NULL) {
		pid_t tid = (pid_t)atoi(e->d_name);

		/* A thread that has just gone is no matter. */
		if (tid > 0 && sched_setaffinity(tid, sizeof(cpu_set_t),
		    cpu >= 0 ? &one : all) < 0 && errno != ESRCH)
			bench_die("sched_setaffinity %d: %s", (int)tid,
			    strerror(errno));
	}
	closedir(dir);
}

/* Block k of the MASK and the SEQPACKET round trips, the first of the
 * two turning round from block to block: their total ns in *m and *s. */
static void
hotpath_mask_block(struct msiv_conn *c, uint64_t vf, int sfd, uint32_t *sseq,
    int k, uint64_t *m, uint64_t *s)
{
	const int per = CTL_N / CTL_BLOCKS;

	if (k % 2) {
		*s = hotpath_seqpacket_rtt(sfd, per, sseq);
		*m = hotpath_mask_rtt(c, vf, per);
	} else {
		*m = hotpath_mask_rtt(c, vf, per);
		*s = hotpath_seqpacket_rtt(sfd, per, sseq);
	}
}

/*
 * MASK round trips against SEQPACKET echo round trips, and pipelined
 * MASK/UNMASK against a pipelined echo of the same depth: each pair in
 * interleaved blocks (CTL_BLOCKS and PIPE_BLOCKS), ratios per block, as
 * for the latency paths. The MASK blocks run twice: with every party on
 * one CPU and as scheduled (hotpath_pin).
 */
static void
hotpath_control(struct h_daemon *d, struct msiv_conn *c)
{
	struct msiv_vector_info in;
	double rm[CTL_BLOCKS], rq[CTL_BLOCKS], rp[PIPE_BLOCKS], tm = 0, ts = 0;
	uint64_t vf, pvf, mask_ns = 0, sp_ns = 0, ops[2] = { 0, 0 };
	uint64_t pmask_ns = 0, psp_ns = 0;
	cpu_set_t all;
	uint64_t rep[2] = { 0, 0 }, wops[2] = { 0, 0 }, wrep[2] = { 0, 0 };
	uint32_t sseq = 1, pseq[2] = { 1, 1 };
	const int per = CTL_N / CTL_BLOCKS;
	int efd = hotpath_efd(1), pefd, sfd, bfd, pfd, r, mtog = 0, stog = 0;
	pid_t ssrv, bsrv;

	(void)hotpath_one_vector(c, efd, 0, &vf, &in);
	sfd = hotpath_echo_server(0, &ssrv);
	(void)hotpath_mask_rtt(c, vf, CTL_WARMUP);
	(void)hotpath_seqpacket_rtt(sfd, CTL_WARMUP, &sseq);
	if (sched_getaffinity(0, sizeof(all), &all) < 0)
		bench_die("sched_getaffinity: %s", strerror(errno));
	/* Each block twice: every party on one CPU (the named ratio), and
	 * where the scheduler puts them (_sched, with the placement). */
	for (int k = 0; k < CTL_BLOCKS; k++) {
		uint64_t m, s;
		int cpu = sched_getcpu();

		hotpath_pin(getpid(), cpu, &all);
		hotpath_pin(d->pid, cpu, &all);
		hotpath_pin(ssrv, cpu, &all);
		hotpath_mask_block(c, vf, sfd, &sseq, k, &m, &s);
		pmask_ns += m;
		psp_ns += s;
		rq[k] = (double)m / (double)s;
		hotpath_pin(ssrv, -1, &all);
		hotpath_pin(d->pid, -1, &all);
		hotpath_pin(getpid(), -1, &all);
		hotpath_mask_block(c, vf, sfd, &sseq, k, &m, &s);
		mask_ns += m;
		sp_ns += s;
		rm[k] = (double)m / (double)s;
		mtog += hotpath_last_cpu(d->pid, d->pid) == sched_getcpu();
		stog += hotpath_last_cpu(ssrv, ssrv) == sched_getcpu();
	}
	close(sfd);
	if (bench_wait(ssrv, BENCH_TIMEOUT_MS) < 0)
		bench_die("seqpacket echo: the server failed");
	if (msiv_events_pending(c) > 0)
		(void)msiv_dispatch(c);
	if ((r = msiv_vfunc_close(c, vf)) < 0)
		fail("mask: close", r);
	close(efd);

	pfd = hotpath_pipe_connect(d, &pvf, &pefd, &pseq[0]);
	bfd = hotpath_echo_server(1, &bsrv);
	(void)hotpath_pipe_run(pfd, pvf, &pseq[0], 0, &wops[0], &wrep[0]);
	(void)hotpath_pipe_run(bfd, 1, &pseq[1], 0, &wops[1], &wrep[1]);
	for (int k = 0; k < PIPE_BLOCKS; k++) {
		uint64_t o0 = ops[0], o1 = ops[1];
		double t0, t1;

		if (k % 2) {
			t1 = hotpath_pipe_run(bfd, 1, &pseq[1], PIPE_MS /
			    PIPE_BLOCKS, &ops[1], &rep[1]);
			t0 = hotpath_pipe_run(pfd, pvf, &pseq[0], PIPE_MS /
			    PIPE_BLOCKS, &ops[0], &rep[0]);
		} else {
			t0 = hotpath_pipe_run(pfd, pvf, &pseq[0], PIPE_MS /
			    PIPE_BLOCKS, &ops[0], &rep[0]);
			t1 = hotpath_pipe_run(bfd, 1, &pseq[1], PIPE_MS /
			    PIPE_BLOCKS, &ops[1], &rep[1]);
		}
		tm += t0;
		ts += t1;
		rp[k] = ((double)(ops[0] - o0) / t0) /
		    ((double)(ops[1] - o1) / t1);
	}
	/* hotpath_raw_recv() checked each reply's seq and op too. */
	bench_check("msivd pipelined: replies = requests", rep[0] + wrep[0],
	    ops[0] + wops[0]);
	bench_check("seqpacket echo pipelined: replies = requests",
	    rep[1] + wrep[1], ops[1] + wops[1]);
	bench_checked("control plane");
	close(pfd);
	close(pefd);
	close(bfd);
	if (bench_wait(bsrv, BENCH_TIMEOUT_MS) < 0)
		bench_die("seqpacket echo: the batching server failed");

	figure("mask_rtt_ns", (double)pmask_ns / (CTL_BLOCKS * per), "ns");
	figure("seqpacket_rtt_ns", (double)psp_ns / (CTL_BLOCKS * per), "ns");
	hotpath_ratios("mask_rtt_vs_seqpacket", rq, CTL_BLOCKS, 1.5, 0, 0);
	figure("mask_rtt_sched_ns", (double)mask_ns / (CTL_BLOCKS * per),
	    "ns");
	figure("seqpacket_rtt_sched_ns", (double)sp_ns / (CTL_BLOCKS * per),
	    "ns");
	hotpath_ratios("mask_rtt_vs_seqpacket_sched", rm, CTL_BLOCKS, -1, 0,
	    0);
	figure("control_pipelined_ops_per_s", (double)ops[0] / tm, "ops/s");
	figure("seqpacket_pipelined_ops_per_s", (double)ops[1] / ts, "ops/s");
	hotpath_ratios("pipelined_vs_seqpacket_echo", rp, PIPE_BLOCKS, 0.7, 1,
	    1);
	bench_note("control plane: MASK and SEQPACKET round trips in %d "
	    "interleaved blocks of %d, each block once with the bench, every "
	    "thread of msivd and the echo server on the bench's CPU "
	    "(mask_rtt_*, mask_rtt_vs_seqpacket) and once where the "
	    "scheduler puts them (*_sched) (ratio per block: median, p10, "
	    "p90); "
	    "pipelined msivd and echo in %d interleaved blocks of %d ms "
	    "(median, min, max)", CTL_BLOCKS, per, PIPE_BLOCKS,
	    PIPE_MS / PIPE_BLOCKS);
	bench_note("control placement, as scheduled: msivd's main (control) thread had last "
	    "run on A's CPU after %d of %d blocks, the SEQPACKET echo server "
	    "after %d", mtog, CTL_BLOCKS, stog);
}

/* --- memory --------------------------------------------------------------*/

/*
 * A tenant process of the 64k run: vfuncs of 2048 vectors, each vector
 * set up (masked) with the one target eventfd this process shares among
 * them; msivd holds a duplicate per vector all the same. Reports how many
 * it set up, then holds its session until told to go.
 */
static void __attribute__((noreturn))
hotpath_bpv_main(struct h_daemon *d, int k, unsigned int n, int ready,
    int go)
{
	struct pollfd p = { .fd = go, .events = POLLIN };
	struct msiv_conn *c;
	char name[32];
	uint32_t done = 0;
	int efd = hotpath_efd(1), r = 0;

	snprintf(name, sizeof(name), "bpv-%d", k);
	c = h_connect(d, name);
	while (r == 0 && done < n) {
		uint64_t vf;
		unsigned int nv = n - done < MSIV_VECTORS_MAX ? n - done :
		    MSIV_VECTORS_MAX;

		r = msiv_vfunc_open(c, "sim0", nv, MSIV_POLICY_DEFAULT, &vf);
		for (unsigned int i = 0; r == 0 && i < nv; i++)
			if ((r = msiv_vector_setup(c, vf, i, 0xfee00000u,
			    i & 0xff, efd, 0)) == 0)
				done++;
	}
	if (r < 0)
		fprintf(stderr, "msiv-bench: tenant %s stopped at %u vectors: "
		    "%s\n", name, (unsigned)done, msiv_strerror(r));
	if (write(ready, &done, sizeof(done)) != sizeof(done))
		_exit(1);
	(void)poll(&p, 1, BPV_TIMEOUT_MS);
	_exit(0);
}

/*
 * How many vectors the 64k run can have: msivd holds a duplicate of every
 * attached target (SCM_RIGHTS gives it a new fd per SETUP; it keeps one per
 * vector even where the tenants share one eventfd), so the count is capped
 * by msivd's open file limit. msivd raises its soft limit to the hard one
 * it inherits from this process (daemon/main.c, raise_fd_limit), and could
 * raise the hard one only with CAP_SYS_RESOURCE, which this process would
 * have used already (bench_raise_fd_limit). BPV_FD_SPARE leaves room for
 * msivd's own fds (store, sockets, sessions).
 */
#define BPV_FD_SPARE 512
static unsigned int
hotpath_bpv_count(void)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		bench_die("getrlimit: %s", strerror(errno));
	n = rl.rlim_max > BPV_FD_SPARE ? rl.rlim_max - BPV_FD_SPARE : 0;
	if (n >= BPV_VECTORS)
		return BPV_VECTORS;
	bench_note("msivd may hold %llu open files (hard RLIMIT_NOFILE; more "
	    "needs CAP_SYS_RESOURCE) and keeps an fd per vector's target: "
	    "the 64k run has %llu vectors on as many slots",
	    (unsigned long long)rl.rlim_max,
	    (unsigned long long)(n - n % BPV_CLIENTS));
	return (unsigned int)(n - n % BPV_CLIENTS);
}

/* VmRSS of an msivd with a sim device of slots and nothing set up, after
 * one STATUS call (the control path has run once); *anon: its RssAnon. */
static uint64_t
hotpath_rss_idle(unsigned int slots, uint64_t *anon)
{
	char conf[256];
	struct msiv_status_info st;
	struct h_daemon d;
	struct msiv_conn *c;
	uint64_t kib;

	hotpath_conf(conf, sizeof(conf), "", slots);
	start(&d, conf);
	c = h_connect(&d, "bpv");
	hotpath_status(c, &st);
	msiv_close(c);
	kib = bench_rss_kib(d.pid);
	*anon = bench_status_kib(d.pid, "RssAnon");
	stop(&d, 0);
	return kib;
}

void
bench_memory(void)
{
	char conf[256];
	struct msiv_status_info st;
	struct h_daemon d;
	struct msiv_conn *c;
	pid_t kids[BPV_CLIENTS];
	uint64_t base, big, idle, vectors = 0, base_anon, big_anon, idle_anon;
	unsigned int count = hotpath_bpv_count();
	int ready[2], go[2];
	int64_t deadline;

	if (count == 0)
		bench_die("memory: no fds to spare for targets");
	base = hotpath_rss_idle(64, &base_anon);
	/* Configured slots no vfunc has used: what a large device costs
	 * before any tenant comes. */
	idle = hotpath_rss_idle(BPV_VECTORS, &idle_anon);

	/* A device of exactly count slots: each vector pays for its slot. */
	hotpath_conf(conf, sizeof(conf), "", count);
	start(&d, conf);
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		bench_die("pipe: %s", strerror(errno));
	for (int k = 0; k < BPV_CLIENTS; k++)
		if ((kids[k] = bench_fork()) == 0)
			hotpath_bpv_main(&d, k, count / BPV_CLIENTS,
			    ready[1], go[0]);
	close(ready[1]);
	deadline = h_now_ms() + BPV_TIMEOUT_MS;
	for (int k = 0; k < BPV_CLIENTS; k++) {
		struct pollfd p = { .fd = ready[0], .events = POLLIN };
		int64_t left = deadline - h_now_ms();
		uint32_t done;

		if (left <= 0 || poll(&p, 1, (int)left) != 1 ||
		    read(ready[0], &done, sizeof(done)) != sizeof(done))
			bench_die("memory: the tenants did not set up their "
			    "vectors in time");
		vectors += done;
	}
	c = h_connect(&d, "bpv");
	hotpath_status(c, &st);
	msiv_close(c);
	big = bench_rss_kib(d.pid);
	big_anon = bench_status_kib(d.pid, "RssAnon");
	bench_check("msivd's vectors (STATUS) = set up by the "
	    "tenants", st.vectors, vectors);
	bench_checked("memory");
	for (int k = 0; k < BPV_CLIENTS; k++)
		bench_kill(kids[k]);
	close(ready[0]);
	close(go[0]);
	close(go[1]);
	stop(&d, 1);
	if (vectors == 0)
		bench_die("memory: no vector could be set up");
	figure("rss_base_kib", (double)base, "KiB");
	figure("rss_64k_kib", (double)big, "KiB");
	figure("bytes_per_vector_count", (double)vectors, "vectors");
	bench_goal("bytes_per_vector", (double)(big - base) * 1024.0 /
	    (double)vectors, "bytes", 128, 0);
	bench_note("bytes_per_vector: (VmRSS of msivd with %llu vectors set up "
	    "with targets, on a sim device of as many slots, the most msivd's "
	    "open file limit allows) - (VmRSS of msivd with a 64-slot sim "
	    "device and nothing set up), / %llu; user space only (slots, "
	    "vfuncs, sessions, SQLite's cache, malloc's overhead); kernel "
	    "memory (each target's eventfd and file, the delivery loop's poll "
	    "entries) is not counted", (unsigned long long)vectors,
	    (unsigned long long)vectors);
	/* VmRSS counts the shared libraries' pages as far as they were
	 * touched, which varies by 100 KiB or more from run to run: the
	 * anonymous memory alone (heap, mappings, stacks) is steadier. */
	figure("bytes_per_vector_anon", (double)(big_anon > base_anon ?
	    big_anon - base_anon : 0) * 1024.0 / (double)vectors, "bytes");
	figure("rss_idle_64k_slots_kib", (double)idle, "KiB");
	figure("bytes_per_unused_slot", (double)(idle > base ? idle - base :
	    0) * 1024.0 / (BPV_VECTORS - 64), "bytes");
	figure("bytes_per_unused_slot_anon", (double)(idle_anon > base_anon ?
	    idle_anon - base_anon : 0) * 1024.0 / (BPV_VECTORS - 64), "bytes");
	bench_note("bytes_per_unused_slot: (VmRSS of msivd with a %u-slot sim "
	    "device and nothing set up) - (the same with 64 slots), / %u; "
	    "the _anon figures: the same from RssAnon (no shared library "
	    "pages)", BPV_VECTORS, BPV_VECTORS - 64);
}

void
bench_hotpath(void)
{
	char conf[256];
	struct h_daemon d;
	struct msiv_conn *c;

	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		bench_die("mmap: %s", strerror(errno));
	hotpath_conf(conf, sizeof(conf), "max_vfuncs = 1000\n", 4096);
	start(&d, conf);
	c = h_connect(&d, "hotpath");
	if (!msiv_is_admin(c))
		bench_die("the hotpath section needs an admin session (root) "
		    "for SIM_TRIGGERS");
	(void)bench_uring_relay_probe(&uring);
	hotpath_latency(&d, c, &uring);
	hotpath_forwarding(&d, c);
	hotpath_direct(&d, c);
	hotpath_control(&d, c);
	msiv_close(c);
	stop(&d, 0);
	hotpath_shards();
	bench_memory();
	munmap(shm, sizeof(*shm));
}
