/*
 * Faults of the state directory and database (issue: durable state):
 * at start-up a missing, read-only or full state directory, a corrupt
 * database and one from a newer msivd each give their own exit status and
 * a message saying which; at run time a commit that fails on a full file
 * system fails its request with an errno, and memory and disk stay
 * consistent (what msivd lists is what it finds in its store after a
 * restart).
 *
 * msivd runs through the harness (tests/harness.c), on a state directory
 * of each case's. The read-only and full cases use a bind mount and a
 * small tmpfs in a private mount namespace of the test's, which needs
 * root; without it they are skipped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define EXIT_STATE 4
#define EXIT_READONLY 7
#define EXIT_FULL 8
#define EXIT_CORRUPT 9
#define EXIT_NEWER 10

static struct h_daemon d;   /* its directory holds every case's */
static int ns_ok;           /* a private mount namespace, for the mounts */

/* The last MSG_CHANGED event a session received, and how many. */
static struct msiv_event_info last_msg;
static int nmsg;

static void
on_event(struct msiv_conn *c, const struct msiv_event_info *ev, void *arg)
{
	(void)c;
	(void)arg;
	if (ev->type == MSIV_EV_MSG_CHANGED) {
		last_msg = *ev;
		nmsg++;
	}
}

enum ns { NS_NONE, NS_READONLY, NS_TMPFS_FULL, NS_TMPFS };

/*
 * Mount what ns asks on dir, in the test's own private mount namespace
 * (main), which the daemons it starts share: a read-only bind of dir, or
 * a 256k tmpfs, filled up for NS_TMPFS_FULL. Returns 0, or -1 without a
 * private namespace (no root).
 */
static int
mount_ns(const char *dir, enum ns ns)
{
	if (ns == NS_NONE)
		return 0;
	if (!ns_ok)
		return -1;
	if (ns == NS_READONLY &&
	    (mount(dir, dir, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY,
	    NULL) < 0))
		tap_bail("read-only bind mount");
	if ((ns == NS_TMPFS || ns == NS_TMPFS_FULL) &&
	    mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700") < 0)
		tap_bail("tmpfs mount");
	if (ns == NS_TMPFS_FULL) {
		char path[200], buf[4096] = { 0 };
		int fd;

		snprintf(path, sizeof(path), "%s/filler", dir);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		while (fd >= 0 && write(fd, buf, sizeof(buf)) > 0)
			;
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

/* Run msivd on state directory dir, its log going to NAME.log. */
static int
spawn(const char *dir, const char *name)
{
	snprintf(d.state, sizeof(d.state), "%s", dir);
	snprintf(d.log, sizeof(d.log), "%s/%s.log", d.dir, name);
	return h_spawn(&d);
}

/* Does the log have this line now? For what must not be there
 * (h_logged waits for what must). */
static int
log_has(const char *what)
{
	char line[1024];
	FILE *f = fopen(d.log, "re");
	int found = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		found |= strstr(line, what) != NULL;
	if (f != NULL)
		fclose(f);
	return found;
}

/* A connection to the running daemon, or NULL. */
static struct msiv_conn *
conn(void)
{
	struct msiv_conn *c;

	if (msiv_connect(d.sock, "filler-test", &c) == 0 ||
	    msiv_connect(d.sock, NULL, &c) == 0)
		return c;
	return NULL;
}

static void
start_fails(const char *name, const char *dir, enum ns ns, int want,
    const char *msg)
{
	int st;

	if (mount_ns(dir, ns) < 0) {
		ok(1, "# SKIP %s: no private mount namespace here", name);
		ok(1, "# SKIP %s", name);
		return;
	}
	st = spawn(dir, name) == 0 ? h_wait(&d) : h_exit_status(&d);
	is_int(st, want, "%s: msivd exits with status %d", name, want);
	if (!ok(h_logged(&d, msg), "%s: the message says \"%s\"", name, msg))
		tap_diag("see %s", d.log);
	if (ns != NS_NONE)
		(void)umount2(dir, MNT_DETACH);
}

static int
sql(const char *dbpath, const char *stmt)
{
	sqlite3 *db;
	int rc;

	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, stmt, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The first column of the first row of a query, or -1. */
static long long
sql_int(const char *dbpath, const char *query)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	long long v = -1;

	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

/*
 * A device attached at run time that has gone by the next start: msivd
 * starts without it, says so, and detach forgets it.
 */
static void
test_stored_device_gone(void)
{
	char dir[128], db[160];
	struct msiv_conn *c;
	struct msiv_device_info dev[4];

	snprintf(dir, sizeof(dir), "%s/gone", d.dir);
	snprintf(db, sizeof(db), "%s/msivd.db", dir);
	mkdir(dir, 0750);
	c = spawn(dir, "gone-1") == 0 ? conn() : NULL;
	ok(c != NULL && msiv_device_attach(c, "simz", "sim", NULL, 4,
	    MSIV_POLICY_DEFAULT, 0) == 0 && msiv_shutdown(c) == 0,
	    "gone: attach a device at run time, stop");
	if (c != NULL)
		msiv_close(c);
	is_int(h_wait(&d), 0, "gone: msivd stopped");
	/* The device is not there any more (a vfio device unplugged). */
	ok(sql(db, "UPDATE device SET backend = 'vfio', address = "
	    "'0000:7f:1f.7' WHERE name = 'simz'") == 0,
	    "gone: the stored device now names a PCI device that is absent");
	c = spawn(dir, "gone-2") == 0 ? conn() : NULL;
	ok(c != NULL && msiv_list_devices(c, dev, 4, sizeof(*dev)) == 1 &&
	    strcmp(dev[0].name, "sim0") == 0,
	    "gone: msivd starts with the configured devices only");
	ok(h_logged(&d, "simz (attached at run time) cannot be opened now"),
	    "gone: and says so");
	ok(c != NULL && msiv_device_detach(c, "simz", 0) == 0 &&
	    msiv_device_detach(c, "simz", 0) == -ENODEV,
	    "gone: detach forgets it; a second detach: ENODEV");
	if (c != NULL) {
		(void)msiv_shutdown(c);
		msiv_close(c);
	}
	is_int(h_wait(&d), 0, "gone: msivd stopped");
	c = spawn(dir, "gone-3") == 0 ? conn() : NULL;
	ok(c != NULL && !log_has("simz"), "gone: the next start does "
	    "not look for it");
	if (c != NULL) {
		(void)msiv_shutdown(c);
		msiv_close(c);
	}
	is_int(h_wait(&d), 0, "gone: msivd stopped");
}

/* A commit that fails at run time on a full file system. */
static void
test_runtime_full(void)
{
	char dir[128], filler[200];
	struct msiv_vfunc_info recs[64];
	struct msiv_conn *c;
	uint64_t ids[64], id, keep = 0, rv = 0, lz = 0;
	struct msiv_vector_info lz_in;
	uint32_t lz_slot;
	int lz_efd;
	int nok = 0, nfail = 0, r = 0, fd = -1, n, same = 1;
	char q[128], dbpath[200] = "";

	snprintf(dir, sizeof(dir), "%s/rt", d.dir);
	mkdir(dir, 0750);
	/* A 256k tmpfs, which msivd runs on twice: the second run starts
	 * when the first is killed, on the same file system. */
	if (mount_ns(dir, NS_TMPFS) < 0) {
		ok(1, "# SKIP run-time full disk: no private mount namespace");
		return;
	}
	/* No namespace is a skip; msivd that does not serve on the tmpfs is
	 * a failure. */
	if ((c = spawn(dir, "rt") == 0 ? conn() : NULL) == NULL) {
		ok(0, "run-time full disk: msivd serves on a private tmpfs");
		tap_diag("see %s", d.log);
		if (h_alive(&d))
			(void)h_kill9(&d);
		(void)umount2(dir, MNT_DETACH);
		return;
	}
	msiv_set_event_cb(c, on_event, NULL);
	r = msiv_vfunc_open(c, "sim0", 1, MSIV_POLICY_DEFAULT, &keep);
	ok(r == 0 && msiv_vector_setup(c, keep, 0, 0xfee01000u, 0x51,
	    h_eventfd(), MSIV_SETUP_UNMASKED) == 0, "open a vfunc before the "
	    "disk fills, its vector set up");
	if (r == 0)
		ids[nok++] = keep;
	lz_efd = h_eventfd();
	r = msiv_vfunc_open_flags(c, "sim0", 2, MSIV_POLICY_DEFAULT,
	    MSIV_OPEN_LAZY, &lz);
	if (r == 0)
		ids[nok++] = lz;
	ok(r == 0 && msiv_vector_setup(c, lz, 0, 0xfee00000u, 1, lz_efd, 0) ==
	    0 && msiv_vector_query(c, lz, 0, &lz_in) == 0 &&
	    lz_in.slot != MSIV_SLOT_NONE, "and a lazy one, vector 0 set up");
	lz_slot = lz_in.slot;
	/* The daemon's tmpfs, in the mount namespace it shares with the
	 * test. */
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ok(fd >= 0, "fill the daemon's file system");
	{
		char buf[4096] = { 0 };

		while (fd >= 0 && write(fd, buf, sizeof(buf)) > 0)
			;
	}
	for (int i = 0; i < 60 && nfail == 0; i++) {
		r = msiv_vfunc_open(c, "sim0", 1, MSIV_POLICY_DEFAULT, &id);
		if (r == 0)
			ids[nok++] = id;
		else
			nfail++;
	}
	ok(nfail > 0 && r == -EIO, "an open fails once the disk is full, "
	    "with EIO (%s) after %d opens", msiv_strerror(r), nok);
	/* Slots on first use: a setup that binds a slot fails to commit;
	 * the slot goes back, the vector untouched keeps its own. */
	is_int(msiv_vector_setup(c, lz, 1, 0xfee00000u, 2, lz_efd, 0), -EIO,
	    "lazy: a setup fails on the full disk with EIO");
	ok(msiv_vector_query(c, lz, 1, &lz_in) == 0 &&
	    lz_in.slot == MSIV_SLOT_NONE && !lz_in.target, "lazy: ...and the "
	    "vector has no slot, no target");
	ok(msiv_vector_query(c, lz, 0, &lz_in) == 0 &&
	    lz_in.slot == lz_slot && lz_in.target && !lz_in.orphaned,
	    "lazy: the other vector keeps its slot and its target");
	is_int(msiv_vector_free(c, lz, 0), -EIO, "lazy: a free fails on the "
	    "full disk with EIO");
	ok(msiv_vector_query(c, lz, 0, &lz_in) == 0 &&
	    lz_in.slot == lz_slot && lz_in.orphaned, "lazy: ...and the "
	    "vector is bound again to its slot, awaiting its target");
	{
		struct msiv_vector_info in;

		/* The new message was announced when it took effect; the
		 * failed commit puts the stored one back, and announces
		 * that too (rule 10), so a VMM's route follows it. */
		(void)msiv_dispatch(c); /* the events before it */
		nmsg = 0;
		is_int(msiv_vector_retarget(c, keep, 0, MSIV_RETARGET_MSG,
		    0xfee02000u, 0x52, -1), -EIO, "a retarget fails on the "
		    "full disk with EIO");
		ok(msiv_vector_query(c, keep, 0, &in) == 0 &&
		    in.eff_addr == 0xfee01000u && in.eff_data == 0x51 &&
		    in.target, "...and the vector has its stored message "
		    "back, its target kept");
		(void)msiv_dispatch(c);
		ok(nmsg == 2 && last_msg.vfunc == keep &&
		    last_msg.vector == 0 && last_msg.addr == 0xfee01000u &&
		    last_msg.data == 0x51,
		    "...announced: MSG_CHANGED with the new message, then with "
		    "the stored one (%d event(s), the last %llx/%x)", nmsg,
		    (unsigned long long)last_msg.addr, last_msg.data);
	}
	n = msiv_list_vfuncs(c, recs, 64, sizeof(*recs));
	is_int(n, nok, "memory holds exactly the acknowledged vfuncs");
	{
		struct msiv_vector_info in;

		r = msiv_vfunc_close(c, keep);
		is_int(r, -EIO, "a close fails on the full disk with EIO");
		ok(msiv_vector_query(c, keep, 0, &in) == 0, "...and the vfunc "
		    "is still there, still the session's");
		/* A revocation cannot be undone: refused by the disk, it
		 * stays in memory and is written once there is room. */
		rv = keep;
		r = msiv_revoke(c, NULL, rv, NULL);
		is_int(r, -EIO, "a revoke on the full disk is answered EIO");
		is_int(msiv_vector_query(c, rv, 0, &in), -EKEYREVOKED,
		    "...but the vfunc is revoked all the same");
	}
	if (fd >= 0) {
		close(fd);
		unlink(filler);
	}
	snprintf(dbpath, sizeof(dbpath), "%s/msivd.db", dir);
	snprintf(q, sizeof(q), "SELECT revoked FROM vfunc WHERE id = %lld",
	    (long long)rv);
	for (int i = 0; i < H_TIMEOUT_MS / 10 &&
	    sql_int(dbpath, q) != MSIV_GONE_REVOKED; i++)
		usleep(10000); /* polling the store, with a deadline */
	is_int((int)sql_int(dbpath, q), MSIV_GONE_REVOKED,
	    "with space again, the revocation reaches the store");
	r = msiv_vfunc_open(c, "sim0", 1, MSIV_POLICY_DEFAULT, &id);
	ok(r == 0, "with space again, an open succeeds");
	if (r == 0)
		ids[nok++] = id;
	/* Kill it and start it again on the same tmpfs. */
	(void)h_kill9(&d);
	msiv_close(c);
	c = spawn(dir, "rt") == 0 ? conn() : NULL;
	ok(c != NULL, "msivd restarts on the same file system");
	n = c != NULL ? msiv_list_vfuncs(c, recs, 64, sizeof(*recs)) : -1;
	for (int i = 0; i < n && i < nok; i++) {
		int found = 0;

		for (int k = 0; k < nok; k++)
			found |= recs[i].vfunc == ids[k];
		same &= found;
	}
	ok(n == nok && same, "the store holds exactly the acknowledged "
	    "vfuncs (%d of %d)", n, nok);
	msiv_close(c);
	if (h_alive(&d)) {
		kill(d.pid, SIGTERM);
		(void)h_wait(&d);
	}
	close(lz_efd);
	(void)umount2(dir, MNT_DETACH);
}

int
main(void)
{
	char dir[128], db[160];
	FILE *f;

	h_prepare(&d, "[msivd]\norphan_grace = 600\n"
	    "[device sim0]\nbackend = sim\nslots = 64\n");
	/* The read-only and full cases mount on their state directories:
	 * in a mount namespace of the test's own, which the daemons it
	 * starts share, and which goes away with it. */
	ns_ok = geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;

	snprintf(dir, sizeof(dir), "%s/missing", d.dir);
	start_fails("missing", dir, NS_NONE, EXIT_STATE, "does not exist");

	snprintf(dir, sizeof(dir), "%s/corrupt", d.dir);
	mkdir(dir, 0750);
	snprintf(db, sizeof(db), "%s/msivd.db", dir);
	f = fopen(db, "w");
	for (int i = 0; f != NULL && i < 2000; i++)
		fputs("this is not a database ", f);
	if (f == NULL || fclose(f) != 0)
		tap_bail("corrupt file");
	start_fails("corrupt", dir, NS_NONE, EXIT_CORRUPT, "move it away");

	snprintf(dir, sizeof(dir), "%s/newer", d.dir);
	mkdir(dir, 0750);
	snprintf(db, sizeof(db), "%s/msivd.db", dir);
	if (sql(db, "PRAGMA user_version = 99") < 0)
		tap_bail("newer database");
	start_fails("newer", dir, NS_NONE, EXIT_NEWER, "newer msivd");

	snprintf(dir, sizeof(dir), "%s/readonly", d.dir);
	mkdir(dir, 0750);
	if (geteuid() != 0) {
		chmod(dir, 0550);
		start_fails("read-only", dir, NS_NONE, EXIT_READONLY,
		    "not writable");
	} else
		start_fails("read-only", dir, NS_READONLY, EXIT_READONLY,
		    "not writable");

	snprintf(dir, sizeof(dir), "%s/full", d.dir);
	mkdir(dir, 0750);
	if (geteuid() == 0)
		start_fails("full", dir, NS_TMPFS_FULL, EXIT_FULL, "full");
	else {
		ok(1, "# SKIP full: needs root for a private tmpfs");
		ok(1, "# SKIP full");
	}

	if (geteuid() == 0)
		test_runtime_full();
	else
		ok(1, "# SKIP run-time full disk: needs root");
	test_stored_device_gone();

	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", d.dir,
		    d.dir);
		if (system(cmd) != 0)
			tap_diag("cannot remove %s", d.dir);
	}
	return tap_done();
}
