/*
 * Handover soak (issue 19): N handovers (SIGUSR2; msivd(8), RESTART AND
 * UPGRADE) of the real msivd while a steady stream of interrupts runs,
 * on whichever delivery loop it runs (tests/test-handover-soak.epoll
 * runs it on the epoll loop).
 *
 * Three tenants, one connection each, held from the first msivd to the
 * last; each has a vfunc of five vectors on sim0, set up with target
 * eventfds, each vector in one role:
 *  0 streamed, never masked;
 *  1 streamed, masked and unmasked in turn (every third cycle), so that
 *    pending bits set while the stream runs cross handovers;
 *  2 quiet and unmasked: fired once at set-up, then not until the end;
 *  3 quiet and masked: fired once at set-up (delivered), then masked,
 *    and not fired until the end: no pending bit may appear;
 *  4 held pending: masked, fired once, and kept masked until the end:
 *    its pending bit must cross every handover, and be replayed once.
 * A separate process writes the streamed vectors' triggers round robin
 * (the sim slots' trigger fds: the very eventfds every msivd of the run
 * reads, handed from one to the next) and counts its writes; at least
 * STREAM_MIN of them on each between two handovers. msivd writes mask
 * state behind (its default), so each cut-over's flush has some to do.
 *
 * Checked after every cycle: the old msivd exited 0 and a new pid serves;
 * every connection still works (no ENOTCONN, no reconnection: the same
 * msiv_conn throughout) and SESSION_LIST holds the same session ids;
 * the quiet masked and held vectors have exactly the pending bit and the
 * fired count they had (an interrupt assumed at restart shows as a
 * pending bit and one more fired); nothing was delivered to a masked
 * vector or to a quiet one (rule 4; no spurious interrupt).
 * Checked at the end, the stream stopped, counting rather than timing:
 * per vector, msivd's fired equals the writes of the test (exactly on
 * the epoll loop and on every quiet vector; the io_uring loop delivers
 * at least once, msiv-protocol(7) COUNTERS, and may count a few more on
 * a streamed vector: at most one per unmask and handover), the counter
 * identity of msiv-protocol(7) (COUNTERS) holds with nothing dropped,
 * the pending bit is what the masking says it must be (set iff an
 * interrupt came after the vector's last mask), the target counts read
 * equal msivd's delivered exactly and are at most the writes; once
 * everything is unmasked, each pending bit is replayed once and nothing
 * is pending (nothing lost); one more interrupt on every vector is
 * delivered once (every trigger armed in the last msivd); the log has
 * one "took over" per cycle.
 *
 * MSIV_HANDOVER_CYCLES sets the number of cycles (default 20; make
 * check-soak runs 1000).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define NT          3    /* tenants, one connection each */
#define NV          5    /* vectors per tenant's vfunc */
#define NS          (NT * 2) /* streamed vectors: roles 0 and 1 */
#define PAUSE_NS    100000L  /* between two rounds of the stream */
#define STREAM_MIN  20   /* writes per streamed vector between handovers */
#define DIAG_MAX    10   /* failures told in detail */
#define CYCLES_MAX  100000

enum role {
	ROLE_STREAM = 0,
	ROLE_TOGGLE = 1,
	ROLE_QUIET = 2,
	ROLE_QUIET_MASKED = 3,
	ROLE_HELD = 4,
};

static const char conf[] =
    "[msivd]\n"
    "log_level = info\n"
    "orphan_grace = 0\n"
    "[device sim0]\n"
    "backend = sim\n"
    "slots = 64\n"
    "policy = latch\n";

struct tvec {
	int efd;             /* its target */
	int trig;            /* its slot's trigger */
	uint64_t fires;      /* interrupts the test raised */
	uint64_t reads;      /* target counts the test read */
	int masked;
	uint64_t mask_fired; /* fired and pending just after its last mask */
	int mask_pending;
	uint64_t deliverable; /* times it became deliverable in the stream */
};

struct tenant {
	struct msiv_conn *c;
	uint64_t vf;
	uint64_t sid;
	struct tvec v[NV];
};

/* Shared with the stream process: its writes per streamed vector. */
struct stream {
	atomic_int stop;
	atomic_uint_fast64_t writes[NS];
};

static struct h_daemon d;
static struct msiv_conn *admin;
static uint64_t admin_sid;
static struct tenant tn[NT];
static struct stream *st;
static pid_t streamer = -1;
static int bad_session, bad_masked, bad_quiet, bad_conn;
static int exact;            /* the epoll loop: fired = signals raised */
static int handovers;        /* done so far */

static struct msiv_vector_info
query(int t, unsigned int v)
{
	struct msiv_vector_info in;
	int r;

	memset(&in, 0, sizeof(in));
	if ((r = msiv_vector_query(tn[t].c, tn[t].vf, v, &in)) < 0) {
		tap_diag("tenant %d vector %u: query: %s", t, v,
		    msiv_strerror(r));
		bad_conn++;
	}
	return in;
}

/* Raise count interrupts on a vector from this process (set-up and the
 * end; the stream process raises the others). */
static void
fire(int t, unsigned int v, uint64_t count)
{
	if (write(tn[t].v[v].trig, &count, sizeof(count)) != sizeof(count))
		tap_bail("cannot write a trigger");
	tn[t].v[v].fires += count;
	if (h_wait_fired(tn[t].c, tn[t].vf, v, tn[t].v[v].fires) < 0)
		tap_bail("msivd did not count the interrupts");
}

/* Read what a target holds; count it. */
static uint64_t
drain(int t, unsigned int v)
{
	uint64_t n = h_efd_take(tn[t].v[v].efd);

	tn[t].v[v].reads += n;
	return n;
}

/*
 * How many more interrupts than the test raised msivd may count on a
 * vector. None on the epoll loop, which reads every wakeup. The io_uring
 * loop delivers at least once (msiv-protocol(7), COUNTERS): a read that
 * makes a vector deliverable again (the first wakeup after an unmask) may
 * leave a completion of a signal it took, which delivers once more
 * (doc/delivery.md, verify mode); and a signal raised at the very moment
 * a new msivd's loop arms the trigger's poll may post two completions
 * (the new loop verifies the first two wakeups of a handed-over slot,
 * which catches most: tests/test-handover-soak reports how many were
 * left). So: at most one per unmask and per handover on a streamed
 * vector, none on a quiet one.
 */
static uint64_t
max_extra(const struct tvec *tv, unsigned int v)
{
	if (exact || v >= ROLE_QUIET)
		return 0;
	return tv->deliverable + (uint64_t)handovers;
}

static int
identity(const struct msiv_vector_info *in)
{
	return in->fired == in->delivered + in->coalesced + in->dropped +
	    (in->pending ? 1u : 0u);
}

static void
mask(int t, unsigned int v)
{
	struct msiv_vector_info in;
	int r;

	if ((r = msiv_vector_mask(tn[t].c, tn[t].vf, v)) < 0) {
		tap_diag("tenant %d vector %u: mask: %s", t, v,
		    msiv_strerror(r));
		bad_conn++;
		return;
	}
	/* Rule 4: what was delivered is in the target by the reply. */
	(void)drain(t, v);
	in = query(t, v);
	tn[t].v[v].masked = 1;
	tn[t].v[v].mask_fired = in.fired;
	tn[t].v[v].mask_pending = in.pending;
}

static void
unmask(int t, unsigned int v)
{
	int r;

	if ((r = msiv_vector_unmask(tn[t].c, tn[t].vf, v)) < 0) {
		tap_diag("tenant %d vector %u: unmask: %s", t, v,
		    msiv_strerror(r));
		bad_conn++;
	}
	tn[t].v[v].masked = 0;
	tn[t].v[v].deliverable++;
}

/* The stream process: round robin over the streamed triggers, one write
 * each, until told to stop. */
static void __attribute__((noreturn))
stream_main(const int *trig)
{
	const struct timespec pause = { 0, PAUSE_NS };
	const uint64_t one = 1;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(2);
	while (!atomic_load(&st->stop)) {
		for (int i = 0; i < NS; i++) {
			if (write(trig[i], &one, sizeof(one)) != sizeof(one))
				_exit(3);
			atomic_fetch_add(&st->writes[i], 1);
		}
		(void)nanosleep(&pause, NULL);
	}
	_exit(0);
}

static void
stream_start(void)
{
	int trig[NS];

	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		tap_bail("mmap");
	memset(st, 0, sizeof(*st));
	for (int t = 0; t < NT; t++) {
		trig[t * 2] = tn[t].v[ROLE_STREAM].trig;
		trig[t * 2 + 1] = tn[t].v[ROLE_TOGGLE].trig;
	}
	fflush(stdout);
	if ((streamer = fork()) < 0)
		tap_bail("fork");
	if (streamer == 0)
		stream_main(trig);
}

/* Wait until every streamed vector has had at least n more writes than
 * at the last call: interrupts flow between any two handovers. */
static void
stream_progress(uint64_t n)
{
	static uint64_t last[NS];
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;

	for (int i = 0; i < NS; i++) {
		uint64_t w;

		while ((w = atomic_load(&st->writes[i])) < last[i] + n) {
			if (h_now_ms() > deadline)
				tap_bail("the stream does not flow");
			usleep(200); /* polling a count, with a deadline */
		}
		last[i] = w;
	}
}

/* Stop the stream; its writes are added to the vectors' fires. */
static int
stream_stop(void)
{
	int status;

	atomic_store(&st->stop, 1);
	if (waitpid(streamer, &status, 0) != streamer)
		return -1;
	streamer = -1;
	for (int t = 0; t < NT; t++) {
		tn[t].v[ROLE_STREAM].fires += atomic_load(&st->writes[t * 2]);
		tn[t].v[ROLE_TOGGLE].fires +=
		    atomic_load(&st->writes[t * 2 + 1]);
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * A handover's old spawner (spawn.c) dies with the old msivd and, like
 * the new msivd, becomes ours (the harness is a subreaper): reap it, and
 * only what is neither the daemon nor the stream.
 */
static void
reap_spawners(void)
{
	for (;;) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid == 0 || si.si_pid == d.pid ||
		    si.si_pid == streamer)
			return;
		(void)waitpid(si.si_pid, NULL, 0);
	}
}

/* Our sessions are all in SESSION_LIST, each once. */
static int
sessions_same(void)
{
	struct msiv_session_info s[64];
	int n = msiv_list_sessions(admin, s, 64, sizeof(s[0]));
	int seen[NT + 1] = { 0 };

	if (n < 0 || n > 64)
		return 0;
	for (int i = 0; i < n; i++) {
		seen[NT] += s[i].session == admin_sid;
		for (int t = 0; t < NT; t++)
			seen[t] += s[i].session == tn[t].sid;
	}
	for (int t = 0; t <= NT; t++)
		if (seen[t] != 1)
			return 0;
	return 1;
}

/* After a cycle: what must not have changed. */
static void
check_cycle(int cycle)
{
	for (int t = 0; t < NT; t++) {
		for (unsigned int v = 0; v < NV; v++) {
			struct tvec *tv = &tn[t].v[v];
			uint64_t n = drain(t, v);

			if (tv->masked && n != 0 && bad_masked++ < DIAG_MAX)
				tap_diag("cycle %d: tenant %d vector %u: %llu "
				    "delivered while masked", cycle, t, v,
				    (unsigned long long)n);
			if (v == ROLE_QUIET && n != 0 &&
			    bad_quiet++ < DIAG_MAX)
				tap_diag("cycle %d: tenant %d vector %u "
				    "(quiet): %llu delivered", cycle, t, v,
				    (unsigned long long)n);
		}
		for (unsigned int v = ROLE_QUIET; v < NV; v++) {
			struct msiv_vector_info in = query(t, v);
			int pending = v == ROLE_HELD;

			if (in.fired == tn[t].v[v].fires &&
			    in.pending == pending && identity(&in))
				continue;
			if (bad_quiet++ < DIAG_MAX)
				tap_diag("cycle %d: tenant %d vector %u: fired "
				    "%llu (raised %llu), pending %d (want %d), "
				    "delivered %llu, coalesced %llu", cycle, t,
				    v, (unsigned long long)in.fired,
				    (unsigned long long)tn[t].v[v].fires,
				    in.pending, pending,
				    (unsigned long long)in.delivered,
				    (unsigned long long)in.coalesced);
		}
		if (msiv_session_id(tn[t].c) != tn[t].sid)
			bad_session++;
	}
	if (!sessions_same() && bad_session++ < DIAG_MAX)
		tap_diag("cycle %d: SESSION_LIST does not hold the same "
		    "sessions", cycle);
}

/* A bail-out leaves nothing running: the stream, msivd. */
static void
cleanup(void)
{
	if (streamer > 0) {
		kill(streamer, SIGKILL);
		(void)waitpid(streamer, NULL, 0);
		streamer = -1;
	}
	if (d.pid > 0)
		(void)h_stop(&d);
}

/* What msivd said (its last lines), after a failure. */
static void
show_log(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "tail -n 150 %s | sed 's/^/# msivd: /'",
	    d.log);
	fflush(stdout);
	if (system(cmd) != 0)
		tap_diag("(no daemon log)");
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The daemon's own blackout figures ("no trigger read for N us"), in
 * the order of the log; how many there were. */
static int
logged_blackouts(uint64_t *us, int max)
{
	char line[1024];
	FILE *f = fopen(d.log, "re");
	int n = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "no trigger read for ");
		unsigned long long v;

		if (strstr(line, "restart: took over") == NULL || p == NULL)
			continue;
		if (n < max && sscanf(p, "no trigger read for %llu us",
		    &v) == 1)
			us[n] = v;
		n++;
	}
	if (f != NULL)
		fclose(f);
	return n;
}

int
main(void)
{
	const char *e = getenv("MSIV_HANDOVER_CYCLES");
	int cycles = e != NULL ? atoi(e) : 20;
	uint64_t *wall, *blackout, sum_fires = 0, sum_reads = 0, sum_coal = 0;
	uint64_t sum_extra = 0, sum_extra_stream = 0;
	int bad_end = 0, bad_lost = 0, bad_identity = 0, nlogged, failed = 0;
	uint64_t t0;

	if (cycles < 0 || cycles > CYCLES_MAX)
		tap_bail("MSIV_HANDOVER_CYCLES: 0 to 100000");
	wall = calloc((size_t)cycles + 1, sizeof(*wall));
	blackout = calloc((size_t)cycles + 1, sizeof(*blackout));
	if (wall == NULL || blackout == NULL)
		tap_bail("calloc");
	if (h_start(&d, conf) < 0)
		tap_bail("msivd did not start");
	if (atexit(cleanup) != 0)
		tap_bail("atexit");
	admin = h_connect(&d, NULL);
	exact = strcmp(d.loop, "epoll") == 0;
	admin_sid = msiv_session_id(admin);

	/* Set-up: every vector delivered once, then masked as its role
	 * says; the held ones with a pending interrupt. */
	for (int t = 0; t < NT; t++) {
		char name[32];

		snprintf(name, sizeof(name), "soak-%d", t);
		tn[t].c = h_connect(&d, name);
		tn[t].sid = msiv_session_id(tn[t].c);
		if (msiv_vfunc_open(tn[t].c, "sim0", NV, MSIV_POLICY_DEFAULT,
		    &tn[t].vf) < 0)
			tap_bail("open");
		for (unsigned int v = 0; v < NV; v++) {
			struct tvec *tv = &tn[t].v[v];

			tv->efd = h_eventfd();
			if (msiv_vector_setup(tn[t].c, tn[t].vf, v, 0xfee00000u,
			    0x40 + v, tv->efd, MSIV_SETUP_UNMASKED) < 0 ||
			    msiv_sim_triggers(admin, "sim0", query(t, v).slot,
			    1, &tv->trig) < 0)
				tap_bail("setup");
		}
		if (msiv_vfunc_enable(tn[t].c, tn[t].vf, 1) < 0)
			tap_bail("enable");
		for (unsigned int v = 0; v < NV; v++) {
			fire(t, v, 1);
			tn[t].v[v].reads += h_efd_wait(tn[t].v[v].efd,
			    H_TIMEOUT_MS);
		}
		mask(t, ROLE_QUIET_MASKED);
		mask(t, ROLE_HELD);
		fire(t, ROLE_HELD, 1);
	}
	ok(bad_conn == 0 && sessions_same(), "set up: %d tenants of %d "
	    "vectors, each delivered once", NT, NV);
	stream_start();
	stream_progress(STREAM_MIN);

	for (int c = 0; c < cycles && !failed; c++) {
		pid_t old = d.pid;

		for (int t = 0; t < NT; t++) {
			if ((c + t) % 3 != 0)
				continue;
			if (tn[t].v[ROLE_TOGGLE].masked) {
				/* Nothing while masked, then unmask. */
				if (drain(t, ROLE_TOGGLE) != 0)
					bad_masked++;
				unmask(t, ROLE_TOGGLE);
			} else
				mask(t, ROLE_TOGGLE);
		}
		check_cycle(c);
		stream_progress(STREAM_MIN);
		t0 = now_us();
		if (h_handover(&d) < 0) {
			tap_diag("cycle %d: the handover failed (old msivd "
			    "pid %d)", c, (int)old);
			failed = 1;
			break;
		}
		wall[c] = now_us() - t0;
		handovers++;
		reap_spawners();
		if (d.pid == old) {
			tap_diag("cycle %d: the same pid serves", c);
			failed = 1;
		}
		check_cycle(c);
		if (bad_conn != 0)
			failed = 1;
	}
	ok(!failed, "%d handovers: every old msivd exited 0, every new pid "
	    "differs, and serves", cycles);
	ok(bad_conn == 0, "no connection lost: the same %d connections "
	    "answered throughout", NT + 1);
	ok(bad_session == 0, "SESSION_LIST held the same session ids after "
	    "every handover");
	ok(bad_masked == 0, "nothing delivered to a masked vector");
	ok(bad_quiet == 0, "quiet vectors: no interrupt assumed, the held "
	    "pending bits kept, after every handover");
	if (stream_stop() < 0)
		tap_bail("the stream process failed");

	/* The end: everything raised is counted; then the pending bits. */
	for (int t = 0; t < NT; t++) {
		for (unsigned int v = 0; v < NV; v++) {
			struct tvec *tv = &tn[t].v[v];
			struct msiv_vector_info in;
			uint64_t extra;
			int pending;

			if (h_wait_fired(tn[t].c, tn[t].vf, v, tv->fires) < 0)
				tap_diag("tenant %d vector %u: msivd did not "
				    "count %llu interrupts", t, v,
				    (unsigned long long)tv->fires);
			(void)drain(t, v);
			in = query(t, v);
			/* Set iff an interrupt was fired after the mask. */
			pending = tv->masked && (tv->mask_pending ||
			    in.fired > tv->mask_fired);
			extra = in.fired - tv->fires;
			if (in.fired > tv->fires)
				sum_extra += extra;
			if (in.fired > tv->fires && v == ROLE_STREAM)
				sum_extra_stream += extra;
			if (in.fired < tv->fires || (exact && extra != 0) ||
			    extra > max_extra(tv, v) || in.pending != pending ||
			    in.dropped != 0 || !identity(&in)) {
				bad_end++;
				tap_diag("tenant %d vector %u: fired %llu "
				    "(raised %llu), delivered %llu, coalesced "
				    "%llu, dropped %llu, pending %d (want %d)",
				    t, v, (unsigned long long)in.fired,
				    (unsigned long long)tv->fires,
				    (unsigned long long)in.delivered,
				    (unsigned long long)in.coalesced,
				    (unsigned long long)in.dropped, in.pending,
				    pending);
			}
			if (tv->masked)
				unmask(t, v);
			if (pending)
				tv->reads += h_efd_wait(tv->efd, H_TIMEOUT_MS);
		}
	}
	ok(bad_end == 0, "the stream stopped: fired = the interrupts raised "
	    "(%s), the identity holds, nothing dropped, pending where an "
	    "interrupt came after the mask", exact ? "exactly" : "io_uring: "
	    "plus at most one at-least-once delivery per unmask and handover "
	    "of a streamed vector, none on a quiet one");
	/* Every target write is read: count them in, up to delivered. */
	for (int t = 0; t < NT; t++) {
		for (unsigned int v = 0; v < NV; v++) {
			struct tvec *tv = &tn[t].v[v];
			struct msiv_vector_info in = query(t, v);
			int64_t deadline = h_now_ms() + H_TIMEOUT_MS;

			while (tv->reads < in.delivered &&
			    h_now_ms() < deadline)
				tv->reads += h_efd_wait(tv->efd, H_TIMEOUT_MS);
			tv->reads += h_efd_take(tv->efd);
			if (in.pending || in.fired != in.delivered +
			    in.coalesced || tv->reads == 0) {
				bad_lost++;
				tap_diag("tenant %d vector %u unmasked: pending "
				    "%d, fired %llu, delivered %llu, coalesced "
				    "%llu, read %llu", t, v, in.pending,
				    (unsigned long long)in.fired,
				    (unsigned long long)in.delivered,
				    (unsigned long long)in.coalesced,
				    (unsigned long long)tv->reads);
			}
			if (tv->reads != in.delivered ||
			    tv->reads > tv->fires) {
				bad_identity++;
				tap_diag("tenant %d vector %u: read %llu from "
				    "the target, msivd delivered %llu, raised "
				    "%llu", t, v,
				    (unsigned long long)tv->reads,
				    (unsigned long long)in.delivered,
				    (unsigned long long)tv->fires);
			}
			sum_fires += tv->fires;
			sum_reads += tv->reads;
			sum_coal += in.coalesced;
		}
	}
	ok(bad_lost == 0, "unmasked: every pending bit replayed, nothing "
	    "pending, nothing lost");
	ok(bad_identity == 0, "the targets read = msivd's delivered, at most "
	    "the interrupts raised (no spurious interrupt)");
	/* One more on each: every trigger is armed in the last msivd. */
	bad_lost = 0;
	for (int t = 0; t < NT; t++)
		for (unsigned int v = 0; v < NV; v++) {
			uint64_t one = 1;

			if (write(tn[t].v[v].trig, &one, sizeof(one)) !=
			    sizeof(one))
				tap_bail("cannot write a trigger");
			tn[t].v[v].fires++;
			if (h_efd_wait(tn[t].v[v].efd, H_TIMEOUT_MS) != 1)
				bad_lost++;
		}
	ok(bad_lost == 0, "one more interrupt on every vector: delivered "
	    "once");
	nlogged = logged_blackouts(blackout, cycles);
	is_int(nlogged, handovers, "the log has one \"took over\" per "
	    "handover");

	if (nlogged > handovers)
		nlogged = handovers;
	qsort(wall, (size_t)handovers, sizeof(*wall), cmp_u64);
	qsort(blackout, (size_t)nlogged, sizeof(*blackout), cmp_u64);
	tap_diag("cycles %d, fires %llu, deliveries %llu, coalesced %llu",
	    cycles, (unsigned long long)sum_fires,
	    (unsigned long long)sum_reads, (unsigned long long)sum_coal);
	if (!exact)
		tap_diag("io_uring loop: %llu delivery(ies) of a wakeup that "
		    "stood for no signal of its own (at-least-once), %llu of "
		    "them on the %d streamed vectors never masked (the "
		    "new msivds armed their triggers %d times)",
		    (unsigned long long)sum_extra,
		    (unsigned long long)sum_extra_stream, NT, handovers * NT);
	if (handovers > 0)
		tap_diag("handover wall time (SIGUSR2 to the new msivd "
		    "serving): p50 %llu us, max %llu us",
		    (unsigned long long)wall[handovers / 2],
		    (unsigned long long)wall[handovers - 1]);
	if (nlogged > 0)
		tap_diag("msivd's blackout (no trigger read): p50 %llu us, "
		    "max %llu us", (unsigned long long)blackout[nlogged / 2],
		    (unsigned long long)blackout[nlogged - 1]);

	for (int t = 0; t < NT; t++) {
		msiv_close(tn[t].c);
		for (unsigned int v = 0; v < NV; v++) {
			close(tn[t].v[v].efd);
			close(tn[t].v[v].trig);
		}
	}
	msiv_close(admin);
	if (tap_failed != 0)
		show_log();
	is_int(h_stop(&d), 0, "the last msivd exits cleanly");
	free(wall);
	free(blackout);
	return tap_done();
}
