/*
 * The fair section of msiv-bench (issue 15): what one flooding tenant
 * costs the others. A tenant makes durable open/close pairs of 1-vector
 * vfuncs, each pair timed from the open's send to the close's
 * acknowledgement (two commits): FAIR_PAIRS on an idle msivd and
 * FAIR_PAIRS while another tenant's session keeps FLOOD_DEPTH requests
 * in flight. Both are non-admin sessions, so max_rate (default
 * 200000/s) applies to them as it would to VMMs; the flooder stays under
 * it. The p50, p99 and max of the flooded pairs are printed beside the
 * idle ones, with their ratios; the goal is a flooded p99 of at most
 * FAIR_GOAL times the idle p99.
 *
 * The two kinds of pairs are measured in alternate blocks of
 * FAIR_BLOCK, the flooder stopped (SIGSTOP) for the idle ones, so that
 * both see the same machine: the store's fsyncs share the disk with
 * whatever else runs, and a p99 taken a minute apart would compare two
 * loads of the machine rather than msivd with and without the flood.
 *
 * Needs root: the sessions connect with other uids (msivd runs as root,
 * so root's sessions would be an admin's).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "fdpass.h"
#include "proto.h"

#define FAIR_PAIRS   1000  /* of each kind */
#define FAIR_BLOCK   100   /* pairs of one kind in a row */
#define FAIR_WARMUP  50
#define FLOOD_DEPTH  64    /* the flooder's requests in flight */
#define FLOOD_START  (4 * FLOOD_DEPTH) /* replies before a flooded block */
#define FAIR_GOAL    10.0  /* flooded p99 / idle p99, at most */
#define UID_FLOOD    4301u
#define UID_TENANT   4302u

/* The flooder's reply count, shared with the bench process. */
static _Atomic uint64_t *flood_replies;

/* The next reply (events are skipped): its status and seq; the payload,
 * host order, into rep if it is the op's reply. */
static int
fair_recv(int fd, uint32_t *seq, void *rep)
{
	struct msiv_hdr h;
	int st = bench_raw_recv(fd, &h, rep);

	*seq = h.seq;
	return st;
}

static void
fair_call(int fd, unsigned int op, uint32_t seq, const void *req,
    const int *fds, size_t nfds, void *rep)
{
	uint32_t got;
	int r;

	bench_raw_send(fd, op, seq, req, fds, nfds);
	if ((r = fair_recv(fd, &got, rep)) < 0)
		fail(msiv_proto_opname(op), r);
	if (got != seq)
		bench_die("flooder: reply %u to %u", (unsigned)got,
		    (unsigned)seq);
}

/*
 * The flooder, a process of its own as another user: HELLO, open a
 * 1-vector vfunc, set the vector up, then MASK, QUERY, UNMASK, QUERY, ...
 * with FLOOD_DEPTH requests always in flight (a new one for each reply),
 * until it is killed. The mask state is written behind (the default), so
 * none of its replies waits for a commit: it is not slowed by the store.
 */
static void __attribute__((noreturn))
fair_flooder(struct h_daemon *d)
{
	static const unsigned int mix[4] = {
		MSIV_OP_VEC_MASK, MSIV_OP_VEC_QUERY, MSIV_OP_VEC_UNMASK,
		MSIV_OP_VEC_QUERY,
	};
	struct msiv_hello_req hq = { .version_min = MSIV_PROTO_VERSION,
	    .version_max = MSIV_PROTO_VERSION, .tenant = "flood" };
	struct msiv_vfunc_open_req oq = { .device = "sim0", .nvec = 1 };
	struct msiv_vfunc_open_rep orp;
	struct msiv_vec_setup_req sq = { .addr = 0xfee00000u, .data = 0x42 };
	struct msiv_vec_req vq = { .vector = 0 };
	uint32_t seq = 1, got;
	int fd, efd = h_eventfd(), r;

	if (setgroups(0, NULL) < 0 || setresgid(UID_FLOOD, UID_FLOOD,
	    UID_FLOOD) < 0 || setresuid(UID_FLOOD, UID_FLOOD, UID_FLOOD) < 0)
		bench_die("flooder: cannot become uid %u", UID_FLOOD);
	if ((fd = h_raw_connect(d)) < 0)
		bench_die("flooder: connect: %s", strerror(errno));
	fair_call(fd, MSIV_OP_HELLO, seq++, &hq, NULL, 0, NULL);
	fair_call(fd, MSIV_OP_VFUNC_OPEN, seq++, &oq, NULL, 0, &orp);
	sq.vfunc = vq.vfunc = orp.vfunc;
	fair_call(fd, MSIV_OP_VEC_SETUP, seq++, &sq, &efd, 1, NULL);
	for (int i = 0; i < FLOOD_DEPTH; i++, seq++)
		bench_raw_send(fd, mix[seq % 4], seq, &vq, NULL, 0);
	for (;; seq++) {
		if ((r = fair_recv(fd, &got, NULL)) < 0)
			fail("flooder", r);
		atomic_fetch_add(flood_replies, 1);
		bench_raw_send(fd, mix[seq % 4], seq, &vq, NULL, 0);
	}
}

/* Connect to msivd as another user: SO_PEERCRED records the effective
 * uid at connect, and the session keeps it. */
static struct msiv_conn *
fair_connect_as(struct h_daemon *d, uid_t uid, const char *tenant)
{
	struct msiv_conn *c;
	int r;

	if (setegid((gid_t)uid) < 0 || seteuid(uid) < 0)
		bench_die("cannot become uid %u: %s", (unsigned)uid,
		    strerror(errno));
	r = msiv_connect(d->sock, tenant, &c);
	/* Root again before any exit: the bench kills root's processes. */
	if (seteuid(0) < 0 || setegid(0) < 0)
		bench_die("cannot become root again: %s", strerror(errno));
	if (r < 0)
		fail("fair: connect", r);
	msiv_set_timeout(c, BENCH_TIMEOUT_MS);
	return c;
}

/* n timed open/close pairs into ns[]. */
static void
fair_pairs(struct msiv_conn *c, uint64_t *ns, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t t0 = bench_now_ns(), vf;
		int r;

		if ((r = msiv_vfunc_open(c, "sim0", 1, MSIV_POLICY_DEFAULT,
		    &vf)) < 0 || (r = msiv_vfunc_close(c, vf)) < 0)
			fail("fair: open/close", r);
		ns[i] = bench_now_ns() - t0;
	}
}

/* In microseconds. */
static struct bench_lat
fair_stats(uint64_t *ns, int n)
{
	struct bench_lat l = bench_lat(ns, (size_t)n);

	l.p50 /= 1e3;
	l.p99 /= 1e3;
	l.max /= 1e3;
	return l;
}

/* Wait until the flooder has had n more replies than it had at *from. */
static void
fair_flood_wait(pid_t pid, uint64_t from, uint64_t n)
{
	int64_t deadline = h_now_ms() + BENCH_TIMEOUT_MS;

	while (atomic_load(flood_replies) - from < n) {
		int st;

		if (bench_exited(pid, &st))
			bench_die("the flooder failed");
		if (h_now_ms() > deadline)
			bench_die("the flooder makes no progress");
		bench_sleep_ms(1);
	}
}

/*
 * Stop the flooder and let msivd answer what it has in flight: at most
 * FLOOD_DEPTH requests, SESSION_READ_BURST (FDPASS_BATCH_MAX) a turn,
 * and every round trip of the tenant's takes at least one turn.
 */
static void
fair_flood_stop(pid_t pid, struct msiv_conn *c)
{
	struct msiv_status_info st;
	int ws, r;

	if (kill(pid, SIGSTOP) < 0 || waitpid(pid, &ws, WUNTRACED) != pid ||
	    !WIFSTOPPED(ws))
		bench_die("cannot stop the flooder");
	for (int i = 0; i < FLOOD_DEPTH / FDPASS_BATCH_MAX + 1; i++)
		if ((r = msiv_get_status(c, &st, sizeof(st))) < 0)
			fail("fair: status", r);
}

void
bench_fair(void)
{
	static const char conf[] = "[msivd]\nsocket_mode = 0666\n"
	    "orphan_grace = 0\n[device sim0]\nbackend = sim\nslots = 64\n";
	static uint64_t idle_ns[FAIR_PAIRS], flood_ns[FAIR_PAIRS];
	struct bench_lat idle, flood;
	struct h_daemon d;
	struct msiv_conn *c;
	uint64_t warm[FAIR_WARMUP], flood_n = 0;
	double flood_s = 0, rate;
	pid_t pid;
	int met;

	if (geteuid() != 0) {
		bench_note("fair: skipped: the sessions connect as other "
		    "users, which needs root");
		return;
	}
	flood_replies = mmap(NULL, sizeof(*flood_replies), PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (flood_replies == MAP_FAILED)
		bench_die("mmap: %s", strerror(errno));
	start(&d, conf);
	if (chmod(d.dir, 0755) < 0)
		bench_die("chmod %s: %s", d.dir, strerror(errno));
	c = fair_connect_as(&d, UID_TENANT, "tenant");
	pid = bench_fork();
	if (pid == 0)
		fair_flooder(&d);
	fair_flood_wait(pid, 0, FLOOD_START);
	fair_flood_stop(pid, c);
	fair_pairs(c, warm, FAIR_WARMUP);
	for (int b = 0; b < FAIR_PAIRS / FAIR_BLOCK; b++) {
		uint64_t n0;
		double t0;

		fair_pairs(c, idle_ns + b * FAIR_BLOCK, FAIR_BLOCK);
		if (kill(pid, SIGCONT) < 0)
			bench_die("cannot resume the flooder");
		fair_flood_wait(pid, atomic_load(flood_replies), FLOOD_START);
		n0 = atomic_load(flood_replies);
		t0 = now_s();
		fair_pairs(c, flood_ns + b * FAIR_BLOCK, FAIR_BLOCK);
		flood_n += atomic_load(flood_replies) - n0;
		flood_s += now_s() - t0;
		fair_flood_stop(pid, c);
	}
	rate = (double)flood_n / flood_s;
	bench_kill(pid);
	msiv_close(c);
	stop(&d, 0);
	munmap(flood_replies, sizeof(*flood_replies));
	idle = fair_stats(idle_ns, FAIR_PAIRS);
	flood = fair_stats(flood_ns, FAIR_PAIRS);

	figure("fair_idle_pair_p50", idle.p50, "us");
	figure("fair_idle_pair_p99", idle.p99, "us");
	figure("fair_idle_pair_max", idle.max, "us");
	figure("fair_flood_pair_p50", flood.p50, "us");
	figure("fair_flood_pair_p99", flood.p99, "us");
	figure("fair_flood_pair_max", flood.max, "us");
	figure("fair_flood_p50_vs_idle", flood.p50 / idle.p50, "ratio");
	figure("fair_flood_p99_vs_idle", flood.p99 / idle.p99, "ratio");
	figure("fair_flood_max_vs_idle", flood.max / idle.max, "ratio");
	figure("fair_flood_requests_per_s", rate, "requests/s");
	bench_note("fair: %d open/close pairs    idle       flooded    ratio",
	    FAIR_PAIRS);
	bench_note("fair:   p50               %8.0f us %8.0f us %6.2f",
	    idle.p50, flood.p50, flood.p50 / idle.p50);
	bench_note("fair:   p99               %8.0f us %8.0f us %6.2f",
	    idle.p99, flood.p99, flood.p99 / idle.p99);
	bench_note("fair:   max               %8.0f us %8.0f us %6.2f",
	    idle.max, flood.max, flood.max / idle.max);
	met = flood.p99 <= FAIR_GOAL * idle.p99;
	bench_note("fair: flood: 1 non-admin session, %d requests in flight "
	    "(MASK, QUERY, UNMASK, QUERY), %.0f requests/s", FLOOD_DEPTH,
	    rate);
	bench_note("fair: goal: flooded p99 <= %.0fx idle p99: %s (%.2fx)",
	    FAIR_GOAL, met ? "met" : "NOT met", flood.p99 / idle.p99);
}
