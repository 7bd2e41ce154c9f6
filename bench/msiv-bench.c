/*
 * msiv-bench: measured figures of the real msivd (not a test: it prints,
 * it does not judge). One line per figure: "name value unit".
 *
 * Store section (durable state):
 *  - durable vfunc opens per second, 1 client and 32 concurrent client
 *    processes (each open is committed before it is acknowledged; the
 *    32 share commits);
 *  - MASK/UNMASK round trips with the mask state written through (each
 *    reply waits for its commit) and written behind (write_behind_ms);
 *  - start-up with 64k vectors in the store: from exec to the socket
 *    answering, and msivd's own figure for loading and rebuilding them.
 *
 * usage: msiv-bench [SECTION...]   (sections: store; default all)
 * MSIVD names the daemon binary (make bench sets it).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
figure(const char *name, double value, const char *unit)
{
	printf("%s %.6g %s\n", name, value, unit);
	fflush(stdout);
}

static void
fail(const char *what, int r)
{
	fprintf(stderr, "msiv-bench: %s: %s\n", what, msiv_strerror(r));
	exit(1);
}

static void
start(struct h_daemon *d, const char *conf)
{
	if (h_start(d, conf) < 0) {
		fprintf(stderr, "msiv-bench: msivd did not start (see %s)\n",
		    d->log);
		exit(1);
	}
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
	    "max_vfuncs_per_session = 1000\n"
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
		pids[i] = fork();
		if (pids[i] == 0) {
			char name[32];

			snprintf(name, sizeof(name), "client-%d", i);
			(void)opens(&d, name, per);
			_exit(0);
		}
	}
	for (int i = 0; i < nc; i++) {
		int st;

		waitpid(pids[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "msiv-bench: a client failed\n");
			exit(1);
		}
	}
	t = now_s() - t0;
	figure("store_durable_opens_per_s_32clients", nc * per / t, "opens/s");
	h_stop(&d);
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
	int efd;
	double t0, t;

	snprintf(conf, sizeof(conf), "[msivd]\norphan_grace = 0\n"
	    "write_behind_ms = %d\n[device sim0]\nbackend = sim\nslots = 64\n",
	    behind_ms);
	start(&d, conf);
	c = h_connect(&d, "mask");
	efd = h_eventfd();
	if (msiv_vfunc_open(c, "sim0", 1, MSIV_POLICY_DEFAULT, &vf) < 0 ||
	    msiv_vector_setup(c, vf, 0, 0xfee00000u, 1, efd, 0) < 0)
		exit(1);
	t0 = now_s();
	for (int i = 0; i < n; i++)
		if ((i % 2 ? msiv_vector_unmask(c, vf, 0) :
		    msiv_vector_mask(c, vf, 0)) < 0)
			exit(1);
	t = now_s() - t0;
	snprintf(name, sizeof(name), "store_mask_rtt_%s",
	    behind_ms ? "write_behind" : "write_through");
	figure(name, t / n * 1e6, "us");
	msiv_close(c);
	close(efd);
	h_stop(&d);
}

/*
 * Put 64k set-up vectors in the store: 32 tenants each open a vfunc of
 * 2048 vectors and set them all up, 4 at a time. Every attached target is
 * an fd in msivd, more than a process may hold here, so msivd is killed
 * after each round of 8192; the store keeps the vectors (set up, waiting
 * for their targets), which is all the start-up figure needs.
 */
static void
populate_64k(struct h_daemon *d)
{
	for (int round = 0; round < 8; round++) {
		pid_t pids[4];

		for (int i = 0; i < 4; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				char name[32];
				struct msiv_conn *c;
				uint64_t vf;
				int efd = h_eventfd(), r;

				snprintf(name, sizeof(name), "vm-%d",
				    round * 4 + i);
				c = h_connect(d, name);
				r = msiv_vfunc_open(c, "sim0", 2048,
				    MSIV_POLICY_DEFAULT, &vf);
				for (unsigned int k = 0; r == 0 && k < 2048; k++)
					r = msiv_vector_setup(c, vf, k,
					    0xfee00000u + (k << 12), k, efd,
					    k % 2);
				if (r < 0)
					fail("populate", r);
				_exit(0);
			}
		}
		for (int i = 0; i < 4; i++) {
			int st;

			waitpid(pids[i], &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				exit(1);
		}
		if (h_kill9(d) < 0 || h_spawn(d) < 0) {
			fprintf(stderr, "msiv-bench: restart failed\n");
			exit(1);
		}
	}
}

static void
bench_startup(void)
{
	static const char conf[] = "[msivd]\norphan_grace = 3600\n"
	    "[device sim0]\nbackend = sim\nslots = 65536\n";
	struct h_daemon d;
	double t0, best = 1e9;
	char cmd[300];
	FILE *p;
	unsigned int ms = 0, best_ms = ~0u;

	start(&d, conf);
	t0 = now_s();
	populate_64k(&d);
	figure("store_populate_64k_setups_per_s", 65536 / (now_s() - t0),
	    "setups/s");
	for (int run = 0; run < 5; run++) {
		if (h_kill9(&d) < 0)
			exit(1);
		t0 = now_s();
		if (h_spawn(&d) < 0) {
			fprintf(stderr, "msiv-bench: restart failed (see %s)\n",
			    d.log);
			exit(1);
		}
		if (now_s() - t0 < best)
			best = now_s() - t0;
		snprintf(cmd, sizeof(cmd), "sed -n 's/.*vectors restored in "
		    "\\([0-9]*\\) ms.*/\\1/p' %s | tail -1", d.log);
		p = popen(cmd, "r");
		if (p != NULL && fscanf(p, "%u", &ms) == 1 && ms < best_ms)
			best_ms = ms;
		if (p != NULL)
			pclose(p);
	}
	figure("store_startup_64k_vectors_total", best * 1e3, "ms");
	figure("store_startup_64k_vectors_load", best_ms, "ms");
	h_stop(&d);
}

int
main(int argc, char **argv)
{
	int all = argc < 2;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++)
		all |= strcmp(argv[i], "store") == 0;
	if (!all) {
		fprintf(stderr, "usage: msiv-bench [store]\n");
		return 2;
	}
	bench_opens();
	bench_mask(0);
	bench_mask(100);
	bench_startup();
	return 0;
}
