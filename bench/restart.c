/*
 * The restart section of msiv-bench (issue 19): how long a handover
 * (msivd(8), RESTART AND UPGRADE) leaves interrupts unforwarded, seen
 * from the client side, beside msivd's own figure.
 *
 * A producer process writes the triggers of RS_VECTORS sim slots round
 * robin, one every RS_PERIOD_NS; a consumer process waits on their
 * targets (epoll) and timestamps every target it reads. The bench asks
 * for RS_HANDOVERS handovers (SIGUSR2), each once RS_FLOW more
 * deliveries have come since the last (count, not time), and notes when
 * it sent the signal and when the new msivd answered. A handover's
 * blackout is the longest gap between two consecutive deliveries that
 * overlaps that span: the old msivd parks its loop after the new one
 * says hello, and the new one arms the triggers before it serves, so the
 * gap lies inside it; the interrupts raised meanwhile wait in the
 * triggers' counters and arrive with the first delivery after it.
 * msivd's own figure is the one the new msivd logs ("no trigger read for
 * N us"): from the old one's quiescing until the new one has started its
 * delivery thread (not until that thread has armed and read: a lower
 * bound). For scale, the same measure over the stretch before each
 * handover, as long as it and with none running: the gaps the stream
 * has anyway on this machine (the producer's period, scheduling).
 *
 * Needs root: SIM_TRIGGERS needs an admin session.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define RS_HANDOVERS  100        /* p99: the second longest */
#define RS_VECTORS    4
#define RS_PERIOD_NS  20000       /* the producer: a write every 20 us */
#define RS_FLOW       500         /* deliveries before each handover */
#define RS_STAMPS     (1u << 22)  /* deliveries the consumer can note */

/* Shared with the producer and the consumer. */
struct rs_shm {
	_Atomic uint64_t writes;   /* trigger writes */
	_Atomic uint64_t nstamps;  /* deliveries noted in stamp[] */
	_Atomic int stop;          /* the producer stops */
	uint64_t stamp[RS_STAMPS]; /* CLOCK_MONOTONIC ns of each target read */
};

static struct rs_shm *rs;

/* The producer: a write every RS_PERIOD_NS (absolute deadlines, the
 * timer slack at its least), round robin; no catching up after a delay
 * (a burst would hide nothing, and add nothing). */
static void __attribute__((noreturn))
restart_producer_main(const int *trig, unsigned int n)
{
	struct timespec next;
	uint64_t one = 1, i = 0;

	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load(&rs->stop)) {
		struct timespec now;

		if (write(trig[i++ % n], &one, sizeof(one)) != sizeof(one))
			_exit(3);
		atomic_fetch_add(&rs->writes, 1);
		next.tv_nsec += RS_PERIOD_NS;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec &&
		    now.tv_nsec > next.tv_nsec))
			next = now;
		else
			(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
			    &next, NULL);
	}
	_exit(0);
}

/* The consumer: every target read, timestamped, until stopfd. */
static void __attribute__((noreturn))
restart_consumer_main(const int *tgt, unsigned int n, int stopfd)
{
	struct epoll_event ev[RS_VECTORS + 1];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		_exit(2);
	for (unsigned int i = 0; i <= n; i++) {
		struct epoll_event e = { .events = EPOLLIN };

		e.data.u32 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, i < n ? tgt[i] : stopfd,
		    &e) < 0)
			_exit(2);
	}
	for (;;) {
		int k = epoll_wait(ep, ev, RS_VECTORS + 1, -1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			_exit(2);
		for (int i = 0; i < k; i++) {
			uint64_t v, at;

			if (ev[i].data.u32 == n)
				_exit(0);
			if (read(tgt[ev[i].data.u32], &v, sizeof(v)) !=
			    sizeof(v))
				continue;
			at = bench_now_ns();
			{
				uint64_t m = atomic_load(&rs->nstamps);

				if (m < RS_STAMPS) {
					rs->stamp[m] = at;
					atomic_store(&rs->nstamps, m + 1);
				}
			}
		}
	}
}

/* Wait until the consumer has noted n deliveries. */
static void
restart_flow(uint64_t n)
{
	int64_t deadline = h_now_ms() + BENCH_TIMEOUT_MS;

	while (atomic_load(&rs->nstamps) < n) {
		if (atomic_load(&rs->nstamps) >= RS_STAMPS)
			bench_die("restart: more deliveries than %u noted",
			    RS_STAMPS);
		if (h_now_ms() > deadline)
			bench_die("restart: interrupts are not forwarded "
			    "(%llu of %llu deliveries)", (unsigned long long)
			    atomic_load(&rs->nstamps), (unsigned long long)n);
		bench_sleep_ms(1);
	}
}

/*
 * A handover's old spawner dies with the old msivd and is ours then (the
 * harness makes the bench a subreaper): reap it, and nothing else.
 */
static void
restart_reap(pid_t keep1, pid_t keep2, pid_t keep3)
{
	for (;;) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid == 0 || si.si_pid == keep1 ||
		    si.si_pid == keep2 || si.si_pid == keep3)
			return;
		(void)waitpid(si.si_pid, NULL, 0);
	}
}

/* The longest gap between consecutive deliveries s[k], s[k + 1] (ns)
 * that overlaps [from, to]; inside: that lies inside it. */
static uint64_t
restart_gap(const uint64_t *s, uint64_t n, uint64_t from, uint64_t to,
    int inside)
{
	uint64_t lo = 0, hi = n, gap = 0;

	while (lo < hi) { /* the first delivery after from */
		uint64_t mid = lo + (hi - lo) / 2;

		if (s[mid] <= from)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && !inside)
		lo--;
	for (uint64_t k = lo; k + 1 < n && s[k] <= to; k++)
		if (s[k + 1] - s[k] > gap && (!inside || s[k + 1] <= to))
			gap = s[k + 1] - s[k];
	return gap;
}

/* msivd's own figures, from its log: how many. */
static size_t
restart_logged(const struct h_daemon *d, uint64_t *us, size_t max)
{
	char line[1024];
	FILE *f = fopen(d->log, "re");
	size_t n = 0;

	if (f == NULL)
		bench_die("%s: %s", d->log, strerror(errno));
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "no trigger read for ");
		unsigned long long v;

		if (strstr(line, "restart: took over") != NULL && p != NULL &&
		    sscanf(p, "no trigger read for %llu us", &v) == 1)
			us[n++] = v;
	}
	fclose(f);
	return n;
}

void
bench_restart(void)
{
	const char *loop = getenv("MSIV_BENCH_DELIVERY");
	char conf[256], dl[64] = "";
	struct h_daemon d;
	struct msiv_conn *c;
	struct msiv_vector_info in;
	int tgt[RS_VECTORS], trig[RS_VECTORS], stopfd, r;
	uint64_t gap[RS_HANDOVERS], wall[RS_HANDOVERS], own[RS_HANDOVERS];
	uint64_t base[RS_HANDOVERS];
	uint64_t sig[RS_HANDOVERS], done[RS_HANDOVERS], vf, n, w0, t0;
	struct bench_lat l;
	size_t nown;
	pid_t prod, cons;

	if (loop != NULL && *loop != '\0') {
		if (strspn(loop, "abcdefghijklmnopqrstuvwxyz_") != strlen(loop) ||
		    strlen(loop) > 16)
			bench_die("MSIV_BENCH_DELIVERY: not a loop name");
		snprintf(dl, sizeof(dl), "delivery = %s\n", loop);
	}
	snprintf(conf, sizeof(conf), "[msivd]\norphan_grace = 0\n%s"
	    "[device sim0]\nbackend = sim\nslots = 64\n", dl);
	rs = mmap(NULL, sizeof(*rs), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rs == MAP_FAILED)
		bench_die("mmap: %s", strerror(errno));
	start(&d, conf);
	c = h_connect(&d, "restart");
	if (!msiv_is_admin(c))
		bench_die("the restart section needs an admin session (root) "
		    "for SIM_TRIGGERS");
	if ((r = msiv_vfunc_open(c, "sim0", RS_VECTORS, MSIV_POLICY_DEFAULT,
	    &vf)) < 0)
		fail("restart: open", r);
	for (unsigned int i = 0; i < RS_VECTORS; i++) {
		tgt[i] = h_eventfd();
		if ((r = msiv_vector_setup(c, vf, i, 0xfee00000u, 0x40 + i,
		    tgt[i], MSIV_SETUP_UNMASKED)) < 0 ||
		    (r = msiv_vector_query(c, vf, i, &in)) < 0 ||
		    (r = msiv_sim_triggers(c, "sim0", in.slot, 1, &trig[i])) < 0)
			fail("restart: set up", r);
	}
	if ((r = msiv_vfunc_enable(c, vf, 1)) < 0)
		fail("restart: enable", r);
	if ((stopfd = eventfd(0, EFD_CLOEXEC)) < 0)
		bench_die("eventfd: %s", strerror(errno));
	if ((cons = bench_fork()) == 0)
		restart_consumer_main(tgt, RS_VECTORS, stopfd);
	if ((prod = bench_fork()) == 0)
		restart_producer_main(trig, RS_VECTORS);

	restart_flow(RS_FLOW);
	t0 = bench_now_ns();
	w0 = atomic_load(&rs->writes);
	for (int i = 0; i < RS_HANDOVERS; i++) {
		restart_flow(atomic_load(&rs->nstamps) + RS_FLOW);
		sig[i] = bench_now_ns();
		if (h_handover(&d) < 0)
			bench_die("restart: handover %d failed (see %s)", i,
			    d.log);
		done[i] = bench_now_ns();
		wall[i] = (done[i] - sig[i]) / 1000;
		restart_reap(d.pid, prod, cons);
	}
	restart_flow(atomic_load(&rs->nstamps) + RS_FLOW);
	bench_note("restart: producer %.3g writes/s over %d handovers, "
	    "msivd delivery loop %s", (double)(atomic_load(&rs->writes) - w0) /
	    ((double)(bench_now_ns() - t0) / 1e9), RS_HANDOVERS, d.loop);
	atomic_store(&rs->stop, 1);
	if (bench_wait(prod, BENCH_TIMEOUT_MS) < 0)
		bench_die("restart: the producer failed");
	if (write(stopfd, &(uint64_t){ 1 }, sizeof(uint64_t)) !=
	    sizeof(uint64_t) || bench_wait(cons, BENCH_TIMEOUT_MS) < 0)
		bench_die("restart: the consumer failed");

	n = atomic_load(&rs->nstamps);
	for (int i = 0; i < RS_HANDOVERS; i++) {
		/* The stretch before it, as long, with no handover. */
		uint64_t from = sig[i] - (done[i] - sig[i]);

		if (from < (i > 0 ? done[i - 1] : t0))
			from = i > 0 ? done[i - 1] : t0;
		gap[i] = restart_gap(rs->stamp, n, sig[i], done[i], 0) / 1000;
		base[i] = restart_gap(rs->stamp, n, from, sig[i], 1) / 1000;
	}
	l = bench_lat(gap, RS_HANDOVERS);
	figure("restart_blackout_p50_us", l.p50, "us");
	figure("restart_blackout_p99_us", l.p99, "us");
	figure("restart_blackout_max_us", l.max, "us");
	nown = restart_logged(&d, own, RS_HANDOVERS);
	if (nown != RS_HANDOVERS)
		bench_die("restart: %zu \"took over\" lines in %s, not %d", nown,
		    d.log, RS_HANDOVERS);
	l = bench_lat(own, nown);
	figure("restart_blackout_msivd_p50_us", l.p50, "us");
	figure("restart_blackout_msivd_p99_us", l.p99, "us");
	figure("restart_blackout_msivd_max_us", l.max, "us");
	l = bench_lat(wall, RS_HANDOVERS);
	figure("restart_handover_p50_us", l.p50, "us");
	figure("restart_handover_max_us", l.max, "us");
	l = bench_lat(base, RS_HANDOVERS);
	figure("restart_stream_gap_p50_us", l.p50, "us");
	figure("restart_stream_gap_max_us", l.max, "us");

	msiv_close(c);
	for (unsigned int i = 0; i < RS_VECTORS; i++) {
		close(tgt[i]);
		close(trig[i]);
	}
	close(stopfd);
	stop(&d, 0);
	munmap(rs, sizeof(*rs));
}
