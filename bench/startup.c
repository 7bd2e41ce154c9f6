/*
 * Start-up with 64k vectors in the store (the store section of
 * msiv-bench): the median of STARTUP_RUNS restarts, each checked to have
 * restored every vector, against the time SQLite itself takes to read the
 * same rows in the same run. msivd is killed (SIGKILL) and started again
 * on the same state directory; between the kill and the start the bench
 * opens the database read-only and steps through the rows msivd restores,
 * with the two queries of store_load() (daemon/store.c), reading every
 * column. Both are timed with the page cache as the previous start left
 * it, and after the WAL index is recovered (an untimed open first). Also the memory of the 64k restored vectors, which have no targets
 * (their tenants have not come back).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>

#include "bench.h"

#define STARTUP_VECTORS 65536
#define STARTUP_RUNS    7

/*
 * Put 64k set-up vectors in the store: 32 tenants each open a vfunc of
 * 2048 vectors and set them all up, 4 at a time. Every attached target is
 * an fd in msivd, more than a process may hold here, so msivd is killed
 * after each round of 8192; the store keeps the vectors (set up, waiting
 * for their targets), which is all the start-up figure needs.
 */
static void
startup_populate(struct h_daemon *d)
{
	for (int round = 0; round < 8; round++) {
		pid_t pids[4];

		for (int i = 0; i < 4; i++) {
			pids[i] = bench_fork();
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
		for (int i = 0; i < 4; i++)
			if (bench_wait(pids[i], 6 * BENCH_TIMEOUT_MS) < 0)
				bench_die("a populating client failed");
		if (h_kill9(d) < 0 || h_spawn(d) < 0)
			bench_die("restart failed (see %s)", d->log);
	}
}

/* msivd's own account of its last start: the vectors it restored and how
 * long that took (main.c: "store: N vfunc(s), M vectors restored in T
 * ms"). 0 if the log has no such line. */
static int
startup_logged(const struct h_daemon *d, unsigned int *vectors,
    unsigned int *ms)
{
	char line[512];
	int found = 0;
	FILE *f = fopen(d->log, "re");

	if (f == NULL)
		bench_die("%s: %s", d->log, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "store: ");
		unsigned int vf, v, t;

		if (p != NULL && sscanf(p, "store: %u vfunc(s), %u vectors "
		    "restored in %u ms", &vf, &v, &t) == 3) {
			*vectors = v;
			*ms = t;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* SQLite alone: open read-only, the two queries of store_load(), every
 * column of every row read, close. Returns the seconds; the vector rows
 * in *rows. */
static double
startup_sqlite_read(const char *path, uint64_t *rows)
{
	static const char *q[2] = {
		"SELECT id, tenant, device, first_slot, nvec, policy, enabled, "
		"fmasked, revoked, lazy FROM vfunc ORDER BY id",
		"SELECT idx, prog_addr, prog_data, eff_addr, eff_data, flags, "
		"written, mode, slot, vfunc FROM vector ORDER BY vfunc, idx",
	};
	sqlite3 *db;
	uint64_t sum = 0;
	double t0 = now_s();
	int rc;

	*rows = 0;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK)
		bench_die("sqlite: %s: %s", path, sqlite3_errstr(rc));
	for (int k = 0; k < 2; k++) {
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(db, q[k], -1, &st, NULL) != SQLITE_OK)
			bench_die("sqlite: %s", sqlite3_errmsg(db));
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			for (int i = 0; i < sqlite3_column_count(st); i++)
				sum += sqlite3_column_type(st, i) ==
				    SQLITE_TEXT ? (uint64_t)sqlite3_column_bytes(
				    st, i) : (uint64_t)sqlite3_column_int64(st,
				    i);
			if (k == 1)
				(*rows)++;
		}
		if (rc != SQLITE_DONE)
			bench_die("sqlite: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	if (sum == 0) /* keeps the column reads */
		bench_die("sqlite: nothing read");
	return now_s() - t0;
}

static int
startup_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
startup_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), startup_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* VmRSS of an msivd with a 64-slot sim device and nothing set up, after
 * one STATUS call (as in the hotpath section's memory figures). */
static uint64_t
startup_rss_base(void)
{
	static const char conf[] = "[msivd]\norphan_grace = 0\n"
	    "[device sim0]\nbackend = sim\nslots = 64\n";
	struct msiv_status_info st;
	struct h_daemon d;
	struct msiv_conn *c;
	uint64_t kib;
	int r;

	start(&d, conf);
	c = h_connect(&d, "rss");
	if ((r = msiv_get_status(c, &st, sizeof(st))) < 0)
		fail("status", r);
	msiv_close(c);
	kib = bench_rss_kib(d.pid);
	stop(&d, 0);
	return kib;
}

void
bench_startup(void)
{
	static const char conf[] = "[msivd]\norphan_grace = 3600\n"
	    "[device sim0]\nbackend = sim\nslots = 65536\n";
	struct msiv_status_info st;
	struct h_daemon d;
	struct msiv_conn *c;
	double total[STARTUP_RUNS], load[STARTUP_RUNS], sq[STARTUP_RUNS], t0;
	double mt, ms, mq;
	uint64_t rows, base, rss, allrows = 0, restored = 0;
	char db[160];
	int r;

	base = startup_rss_base();
	start(&d, conf);
	t0 = now_s();
	startup_populate(&d);
	figure("store_populate_64k_setups_per_s", STARTUP_VECTORS /
	    (now_s() - t0), "setups/s");
	snprintf(db, sizeof(db), "%s/msivd.db", d.state[0] ? d.state :
	    d.dir);
	for (int run = 0; run < STARTUP_RUNS; run++) {
		unsigned int vectors = 0, lms = 0;

		if (h_kill9(&d) < 0)
			bench_die("msivd was not running (see %s)", d.log);
		/* The first open after the kill recovers the WAL index;
		 * msivd would find it done, so the timed read must too. */
		(void)startup_sqlite_read(db, &rows);
		sq[run] = startup_sqlite_read(db, &rows);
		if (rows != STARTUP_VECTORS)
			bench_check("sqlite: vector rows", rows,
			    STARTUP_VECTORS);
		allrows += rows;
		t0 = now_s();
		if (h_spawn(&d) < 0)
			bench_die("restart failed (see %s)", d.log);
		total[run] = now_s() - t0;
		if (!startup_logged(&d, &vectors, &lms))
			bench_die("start-up: msivd did not log its restore "
			    "(see %s)", d.log);
		if (vectors != STARTUP_VECTORS)
			bench_check("msivd: vectors restored (log)", vectors,
			    STARTUP_VECTORS);
		restored += vectors;
		load[run] = lms / 1e3;
	}
	c = h_connect(&d, "startup");
	if ((r = msiv_get_status(c, &st, sizeof(st))) < 0)
		fail("status", r);
	msiv_close(c);
	rss = bench_rss_kib(d.pid);
	bench_check("sqlite: vector rows read, all runs", allrows,
	    (uint64_t)STARTUP_RUNS * STARTUP_VECTORS);
	bench_check("msivd: vectors restored (its log), all runs", restored,
	    (uint64_t)STARTUP_RUNS * STARTUP_VECTORS);
	bench_check("msivd: vectors after the last (STATUS)", st.vectors,
	    STARTUP_VECTORS);
	bench_checked("start-up");
	stop(&d, 0);

	mt = startup_median(total, STARTUP_RUNS);
	ms = startup_median(load, STARTUP_RUNS);
	mq = startup_median(sq, STARTUP_RUNS);
	figure("store_startup_64k_vectors_total", mt * 1e3, "ms");
	figure("store_startup_64k_vectors_load", ms * 1e3, "ms");
	figure("sqlite_read_64k_vectors", mq * 1e3, "ms");
	bench_note("start-up: median of %d restarts (SIGKILL, then exec to "
	    "the socket answering) with %d vectors restored, each checked; "
	    "total from %.1f to %.1f ms; SQLite's read of the same rows "
	    "between them, from %.1f to %.1f ms", STARTUP_RUNS,
	    STARTUP_VECTORS, total[0] * 1e3, total[STARTUP_RUNS - 1] * 1e3,
	    sq[0] * 1e3, sq[STARTUP_RUNS - 1] * 1e3);
	bench_goal("startup_vs_sqlite_read", mt / mq, "ratio", 3, 0);
	figure("rss_64k_restored_kib", (double)rss, "KiB");
	figure("bytes_per_vector_restored", (double)(rss > base ? rss - base :
	    0) * 1024.0 / STARTUP_VECTORS, "bytes");
	bench_note("64k vectors restored without targets (no tenant came "
	    "back): VmRSS %llu KiB over %llu KiB of an msivd with nothing set "
	    "up; user-space memory only, kernel memory is not counted",
	    (unsigned long long)rss, (unsigned long long)base);
}
