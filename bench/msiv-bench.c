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
 *    relay_p50_vs_minimal (ratios); relay_p50_vs_uring_relay_matched
 *    over the blocks that placed both paths alike (and how many).
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
 *  - mask_rtt_ns: MASK and UNMASK alternating on one vector, mean, with
 *    the bench, msivd's threads and the echo server on one CPU;
 *  - seqpacket_rtt_ns: reference: a MASK-sized request to an echo server
 *    process over a SOCK_SEQPACKET pair; mask_rtt_vs_seqpacket (ratio);
 *    the same as scheduled, in the same blocks: mask_rtt_sched_ns,
 *    seqpacket_rtt_sched_ns, mask_rtt_vs_seqpacket_sched;
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

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
	bench_init();
	for (size_t k = 0; k < BENCH_NSECTIONS; k++)
		if ((argc < 2 && bench_sections[k].all) || want[k])
			bench_sections[k].run();
	bench_goals();
	return 0;
}
