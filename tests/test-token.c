/*
 * Integration test: resume tokens cannot be read from the state directory
 * (issue 15, part 4). The real msivd, started under umask 022 as an msivd
 * started by hand would be:
 *
 *  - a fresh store: tokens handed out by msivd appear nowhere under the
 *    state directory (database, WAL, shared memory, log), raw or in hex,
 *    and the store's files are 0600;
 *  - a store of schema 3, written the old way (raw tokens, one replaced
 *    in place, some only in the WAL, files 0644): once msivd has migrated
 *    it, its tenants resume with their tokens, a replaced token does not,
 *    no file holds any of them and the files are 0600;
 *  - another tenant: with the state directory as tmpfiles.d used to make
 *    it (0750, the clients' group), a client of another uid in that group
 *    reads everything it can there and tries all of it as the first
 *    tenant's token: refused, and it cannot close the vfunc either; again
 *    with every file made readable (a leaked backup): still refused;
 *  - the state directory's mode and owner at start-up: writable by the
 *    group or others, or someone else's: refused (exit 4); enterable by
 *    the group: a warning.
 *
 * The parts that switch users need root and are skipped without it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define UID_B      4502u /* the other tenant's client */
#define GID_CLIENT 4500u /* the clients' group (msiv under tmpfiles.d) */
#define UID_OTHER  4509u /* owns a state directory that is not msivd's */
#define EXIT_STATE 4

static const char conf_text[] =
    "[msivd]\n"
    "log_level = debug\n"
    "socket_mode = 0666\n"
    "orphan_grace = 600\n"
    "[device sim0]\nbackend = sim\nslots = 64\npolicy = latch\n";

typedef uint8_t token_t[MSIV_TOKEN_LEN];

/* --- the state directory ------------------------------------------------------*/

/* A daemon on a fresh directory, not started yet. */
static void
prepare(struct h_daemon *d)
{
	FILE *f;

	memset(d, 0, sizeof(*d));
	snprintf(d->user, sizeof(d->user), "root");
	snprintf(d->dir, sizeof(d->dir), "/tmp/msiv-token-XXXXXX");
	if (mkdtemp(d->dir) == NULL)
		tap_bail("mkdtemp");
	snprintf(d->sock, sizeof(d->sock), "%s/msivd.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/msivd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/msivd.log", d->dir);
	if ((f = fopen(d->conf, "we")) == NULL || fputs(conf_text, f) < 0 ||
	    fclose(f) != 0)
		tap_bail("cannot write the test configuration");
}

static void
cleanup(const struct h_daemon *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	if (system(cmd) != 0)
		tap_diag("cannot remove %s", d->dir);
}

/* SIGTERM msivd and wait; its exit status (-1: killed or hung). Unlike
 * h_stop(), the directory stays, to be looked at. */
static int
stop_keep(struct h_daemon *d)
{
	int st;

	kill(d->pid, SIGTERM);
	for (int i = 0; i < H_TIMEOUT_MS / 10; i++) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = -1;
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		usleep(10000); /* polling a child, with a deadline */
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &st, 0);
	d->pid = -1;
	return -1;
}

/* The whole of a file (at most 64 MiB, more than any store here). */
static uint8_t *
slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	struct stat sb;
	size_t got = 0;

	*len = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_size < (64 << 20) &&
	    (buf = malloc((size_t)sb.st_size + 1)) != NULL) {
		ssize_t n;

		while (got < (size_t)sb.st_size && (n = read(fd, buf + got,
		    (size_t)sb.st_size - got)) > 0)
			got += (size_t)n;
		*len = got;
	}
	close(fd);
	return buf;
}

static void
hex(const uint8_t *t, char *out, int upper)
{
	for (int i = 0; i < MSIV_TOKEN_LEN; i++)
		sprintf(out + 2 * i, upper ? "%02X" : "%02x", t[i]);
}

/*
 * Every file under dir (recursively) searched for every token, raw and
 * in lower- and upper-case hex. Returns the number of hits; the first is
 * described in where.
 */
static int
scan(const char *dir, const token_t *tok, int ntok, char *where, size_t wlen)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	int hits = 0;

	if (dp == NULL)
		tap_bail("opendir");
	while ((e = readdir(dp)) != NULL) {
		char path[512];
		struct stat sb;
		uint8_t *buf;
		size_t len;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			hits += scan(path, tok, ntok, hits ? NULL : where, wlen);
			continue;
		}
		if (!S_ISREG(sb.st_mode) || (buf = slurp(path, &len)) == NULL)
			continue;
		for (int i = 0; i < ntok; i++) {
			char lo[2 * MSIV_TOKEN_LEN + 1], up[sizeof(lo)];
			const char *how = NULL;

			hex(tok[i], lo, 0);
			hex(tok[i], up, 1);
			if (memmem(buf, len, tok[i], MSIV_TOKEN_LEN) != NULL)
				how = "raw";
			else if (memmem(buf, len, lo, 2 * MSIV_TOKEN_LEN) != NULL ||
			    memmem(buf, len, up, 2 * MSIV_TOKEN_LEN) != NULL)
				how = "in hex";
			if (how != NULL && hits++ == 0 && where != NULL)
				snprintf(where, wlen, "token %d %s in %s", i, how,
				    path);
		}
		free(buf);
	}
	closedir(dp);
	return hits;
}

/* The permission bits of dir/name, or -1. */
static int
mode_of(const char *dir, const char *name)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &sb) < 0 ? -1 : (int)(sb.st_mode & 07777);
}

/* msivd.db, -wal and -shm: each there and private to its owner. */
static int
store_private(const char *dir, char *why, size_t wlen)
{
	static const char *const f[] = {
		"msivd.db", "msivd.db-wal", "msivd.db-shm",
	};

	for (size_t i = 0; i < 3; i++) {
		int m = mode_of(dir, f[i]);

		if (m < 0 || (m & 077) != 0) {
			snprintf(why, wlen, "%s is %04o", f[i], m);
			return 0;
		}
	}
	snprintf(why, wlen, "all 0600");
	return 1;
}

static int
logged(const struct h_daemon *d, const char *what)
{
	size_t len;
	uint8_t *buf = slurp(d->log, &len);
	int found;

	if (buf == NULL)
		return 0;
	buf[len] = '\0';
	found = strstr((char *)buf, what) != NULL;
	free(buf);
	return found;
}

/* --- a fresh store --------------------------------------------------------------*/

#define NFRESH 6

static void
test_fresh(void)
{
	struct h_daemon d;
	token_t tok[NFRESH];
	char where[600] = "", why[64];
	int resumed = 0;

	prepare(&d);
	if (h_spawn(&d) < 0)
		tap_bail("msivd did not start");
	for (int i = 0; i < NFRESH; i++) {
		struct msiv_conn *c;
		char name[16];
		uint64_t vf;

		snprintf(name, sizeof(name), "fresh-%d", i);
		if (msiv_connect(d.sock, name, &c) < 0 ||
		    msiv_vfunc_open(c, "sim0", 2, 0, &vf) < 0)
			tap_bail("fresh: open a vfunc");
		msiv_token(c, tok[i]);
		msiv_close(c);
	}
	/* Each tenant's vfunc is orphaned now; its token takes it back. */
	for (int i = 0; i < NFRESH; i++) {
		struct msiv_conn *c;
		char name[16];

		snprintf(name, sizeof(name), "fresh-%d", i);
		if (msiv_connect_token(d.sock, name, tok[i], &c) == 0) {
			resumed += msiv_resumed(c) == 1;
			msiv_close(c);
		}
	}
	is_int(resumed, NFRESH, "fresh store: %d tenants resume with their "
	    "tokens", NFRESH);
	ok(store_private(d.dir, why, sizeof(why)), "fresh store: msivd under "
	    "umask 022 makes its database, WAL and shm private (%s)", why);
	if (!is_int(scan(d.dir, tok, NFRESH, where, sizeof(where)), 0,
	    "fresh store: no token, raw or in hex, in any file under the "
	    "state directory while msivd runs"))
		tap_diag("%s", where);
	is_int(stop_keep(&d), 0, "fresh store: msivd stops");
	if (!is_int(scan(d.dir, tok, NFRESH, where, sizeof(where)), 0,
	    "fresh store: ...nor after it stopped"))
		tap_diag("%s", where);
	cleanup(&d);
}

/* --- migrating a store of schema 3 ---------------------------------------------*/

/* Schema 3 as msivd made it, with raw tokens. */
static const char schema3[] =
    "CREATE TABLE tenant (name TEXT PRIMARY KEY, token BLOB NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE vfunc (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL,"
    "  device TEXT NOT NULL, first_slot INTEGER NOT NULL,"
    "  nvec INTEGER NOT NULL, policy INTEGER NOT NULL,"
    "  enabled INTEGER NOT NULL, fmasked INTEGER NOT NULL);"
    "CREATE INDEX vfunc_device ON vfunc(device, first_slot);"
    "CREATE TABLE vector (vfunc INTEGER NOT NULL REFERENCES vfunc(id) "
    "  ON DELETE CASCADE, idx INTEGER NOT NULL, prog_addr INTEGER NOT NULL,"
    "  prog_data INTEGER NOT NULL, eff_addr INTEGER NOT NULL,"
    "  eff_data INTEGER NOT NULL, flags INTEGER NOT NULL,"
    "  written INTEGER NOT NULL, mode INTEGER NOT NULL,"
    "  PRIMARY KEY (vfunc, idx)) WITHOUT ROWID;"
    "CREATE TABLE device (name TEXT PRIMARY KEY, backend TEXT NOT NULL,"
    "  address TEXT NOT NULL, slots INTEGER NOT NULL,"
    "  policy INTEGER NOT NULL, flags INTEGER NOT NULL);"
    "ALTER TABLE vfunc ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;"
    "INSERT INTO vfunc VALUES (4096, 'old-a', 'sim0', 0, 4, 1, 0, 0, 0);"
    "INSERT INTO vfunc VALUES (8192, 'old-b', 'sim0', 4, 2, 1, 0, 0, 0);"
    "PRAGMA user_version = 3;";

static void
sql_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		tap_diag("%s: %s", sql, msg ? msg : "?");
		tap_bail("building the schema 3 store");
	}
}

static void
put_token(sqlite3 *db, const char *sql, const char *name, const uint8_t *t)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		tap_bail("prepare");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, t, MSIV_TOKEN_LEN, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		tap_bail("insert a token");
	sqlite3_finalize(st);
}

static void
random_token(uint8_t *t)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, t, MSIV_TOKEN_LEN) != MSIV_TOKEN_LEN)
		tap_bail("/dev/urandom");
	close(fd);
}

#define NGONE 200 /* tenants deleted before: their pages are free */
#define NTOK (3 + NGONE)

/*
 * The store an msivd of schema 3 left: the pages of NGONE tenants deleted
 * (on the free list, their tokens still in them), old-b's first token in
 * the database file, replaced in place (the old bytes stay in the page's
 * free space), then old-b's new token and old-a's only in the WAL, which
 * is left behind as by a crash.
 */
static void
make_store3(const char *dir, token_t tok[NTOK])
{
	char path[256];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/msivd.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		tap_bail("sqlite3_open");
	sql_ok(db, "PRAGMA journal_mode = WAL; PRAGMA secure_delete = OFF;");
	sql_ok(db, schema3);
	for (int i = 3; i < NTOK; i++) {
		char name[400];

		/* Long names: their rows fill many pages. */
		snprintf(name, sizeof(name), "gone-%03d-%0380d", i, 0);
		put_token(db, "INSERT INTO tenant VALUES (?1, ?2, 1)", name,
		    tok[i]);
	}
	sql_ok(db, "DELETE FROM tenant WHERE name LIKE 'gone-%'");
	put_token(db, "INSERT INTO tenant VALUES (?1, ?2, 1)", "old-b", tok[2]);
	sql_ok(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	put_token(db, "UPDATE tenant SET token = ?2 WHERE name = ?1", "old-b",
	    tok[1]);
	put_token(db, "INSERT INTO tenant VALUES (?1, ?2, 1)", "old-a", tok[0]);
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) !=
	    SQLITE_OK)
		tap_bail("SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE");
	sqlite3_close(db);
}

static int
user_version(const char *dir)
{
	char path[256];
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	snprintf(path, sizeof(path), "%s/msivd.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static void
test_migrate(void)
{
	struct h_daemon d;
	/* old-a's, old-b's, old-b's replaced one, deleted tenants' */
	token_t tok[NTOK];
	char where[600] = "", why[64];
	struct msiv_conn *c;
	int r;

	prepare(&d);
	for (int i = 0; i < NTOK; i++)
		random_token(tok[i]);
	make_store3(d.dir, tok);
	/* The scan can see them: the check below means something. */
	r = 0;
	for (int i = 0; i < 3; i++)
		r += scan(d.dir, &tok[i], 1, where, sizeof(where)) > 0;
	is_int(r, 3, "schema 3 store: the three tokens are in its files "
	    "before msivd runs");
	r = 0;
	for (int i = 3; i < NTOK; i++)
		r += scan(d.dir, &tok[i], 1, where, sizeof(where)) > 0;
	ok(r > NGONE / 2, "...and %d of %d deleted tenants' tokens, in free "
	    "pages", r, NGONE);
	ok(mode_of(d.dir, "msivd.db") == 0644 &&
	    mode_of(d.dir, "msivd.db-wal") == 0644,
	    "...which are 0644, as msivd used to leave them under umask 022");
	if (h_spawn(&d) < 0)
		tap_bail("msivd did not start on the schema 3 store");
	ok(logged(&d, "schema migrated to version 7"), "msivd migrates it to "
	    "schema 7");
	r = msiv_connect_token(d.sock, "old-a", tok[0], &c);
	ok(r == 0 && msiv_resumed(c) == 1, "old-a resumes its vfunc with its "
	    "token (%d)", r);
	if (r == 0)
		msiv_close(c);
	r = msiv_connect_token(d.sock, "old-b", tok[2], &c);
	is_int(r, -EACCES, "old-b's replaced token: EACCES");
	if (r == 0)
		msiv_close(c);
	r = msiv_connect_token(d.sock, "old-b", tok[1], &c);
	ok(r == 0 && msiv_resumed(c) == 1, "old-b resumes with its current "
	    "token");
	if (r == 0)
		msiv_close(c);
	if (!is_int(scan(d.dir, tok, NTOK, where, sizeof(where)), 0, "migrated: "
	    "no token, raw or in hex, in any file under the state directory "
	    "(database, WAL, free pages, shm, log)"))
		tap_diag("%s", where);
	ok(store_private(d.dir, why, sizeof(why)), "migrated: the database, "
	    "WAL and shm are private now (%s)", why);
	ok(logged(&d, "msivd.db was mode 0644; now 0600"), "...and msivd said "
	    "it changed the database's mode");
	is_int(stop_keep(&d), 0, "migrated: msivd stops");
	if (!is_int(scan(d.dir, tok, NTOK, where, sizeof(where)), 0,
	    "migrated: ...nor after it stopped"))
		tap_diag("%s", where);
	is_int(user_version(d.dir), 7, "the store is at schema 7");
	if (h_spawn(&d) < 0)
		tap_bail("msivd did not start again");
	r = msiv_connect_token(d.sock, "old-a", tok[0], &c);
	ok(r == 0, "after another restart old-a's token still works");
	if (r == 0)
		msiv_close(c);
	is_int(h_stop(&d), 0, "msivd stops");
	cleanup(&d);
}

/* --- another tenant --------------------------------------------------------------*/

#define CAND_MAX 4096

struct loot {
	int files;      /* files it could read under the state directory */
	int dbs;        /* of which SQLite opened */
	int ncand;
	token_t cand[CAND_MAX];
};

static void
loot_add(struct loot *l, const uint8_t *t)
{
	for (int i = 0; i < l->ncand; i++)
		if (memcmp(l->cand[i], t, MSIV_TOKEN_LEN) == 0)
			return;
	if (l->ncand < CAND_MAX)
		memcpy(l->cand[l->ncand++], t, MSIV_TOKEN_LEN);
}

/* Every 16-byte window of b, and every run of 32 hex digits in it. */
static void
loot_bytes(struct loot *l, const uint8_t *b, size_t n, int windows)
{
	for (size_t i = 0; windows && i + MSIV_TOKEN_LEN <= n; i++)
		loot_add(l, b + i);
	for (size_t i = 0; i + 2 * MSIV_TOKEN_LEN <= n; i++) {
		uint8_t t[MSIV_TOKEN_LEN];
		size_t k;
		unsigned int v;

		for (k = 0; k < 2 * MSIV_TOKEN_LEN && strchr("0123456789abcdef"
		    "ABCDEF", b[i + k]) != NULL && b[i + k] != '\0'; k++)
			;
		if (k < 2 * MSIV_TOKEN_LEN)
			continue;
		for (k = 0; k < MSIV_TOKEN_LEN; k++) {
			char two[3] = { (char)b[i + 2 * k],
			    (char)b[i + 2 * k + 1], 0 };

			sscanf(two, "%2x", &v);
			t[k] = (uint8_t)v;
		}
		loot_add(l, t);
	}
}

/* Every value of every table of a copied database. */
static void
loot_db(struct loot *l, const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *tabs, *rows;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema "
	    "WHERE type = 'table'", -1, &tabs, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return;
	}
	l->dbs++;
	while (sqlite3_step(tabs) == SQLITE_ROW) {
		char q[256];

		snprintf(q, sizeof(q), "SELECT * FROM \"%s\"",
		    (const char *)sqlite3_column_text(tabs, 0));
		if (sqlite3_prepare_v2(db, q, -1, &rows, NULL) != SQLITE_OK)
			continue;
		while (sqlite3_step(rows) == SQLITE_ROW)
			for (int i = 0; i < sqlite3_column_count(rows); i++) {
				const void *b = sqlite3_column_blob(rows, i);
				size_t n = (size_t)sqlite3_column_bytes(rows, i);

				if (b != NULL && n <= 4096)
					loot_bytes(l, b, n, 1);
			}
		sqlite3_finalize(rows);
	}
	sqlite3_finalize(tabs);
	sqlite3_close(db);
}

/*
 * As the other client: copy what it can read under the state directory
 * into a directory of its own (SQLite needs the WAL beside the database),
 * then collect candidates: every 16-byte window of every value in any
 * table of any database, and every run of 32 hex digits in any file.
 */
static void
loot(struct loot *l, const char *dir)
{
	char mine[] = "/tmp/msiv-loot-XXXXXX";
	DIR *dp;
	struct dirent *e;

	memset(l, 0, sizeof(*l));
	if (mkdtemp(mine) == NULL || (dp = opendir(dir)) == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		char from[512], to[512];
		uint8_t *buf;
		size_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/%s", dir, e->d_name);
		if ((buf = slurp(from, &n)) == NULL)
			continue;
		l->files++;
		loot_bytes(l, buf, n, 0);
		snprintf(to, sizeof(to), "%s/%s", mine, e->d_name);
		fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, buf, n) != (ssize_t)n)
			tap_diag("cannot copy %s", from);
		if (fd >= 0)
			close(fd);
		free(buf);
	}
	closedir(dp);
	{
		char db[512], cmd[600];

		snprintf(db, sizeof(db), "%s/msivd.db", mine);
		if (access(db, F_OK) == 0)
			loot_db(l, db);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", mine);
		if (system(cmd) != 0)
			tap_diag("cannot remove %s", mine);
	}
}

struct attack {
	int files, dbs, ncand;
	int accepted;   /* HELLOs as the victim that succeeded */
	int refused;    /* ...refused with EACCES */
	int other;      /* ...anything else */
	int closed;     /* the victim's vfunc closed */
	int own_close;  /* VFUNC_CLOSE of it from a session of its own */
};

static struct loot the_loot;

static void
attack(const struct h_daemon *d, uint64_t victim_vf, struct attack *a)
{
	static const uint8_t none[MSIV_TOKEN_LEN];
	struct msiv_conn *c;

	memset(a, 0, sizeof(*a));
	loot(&the_loot, d->dir);
	loot_add(&the_loot, none);
	a->files = the_loot.files;
	a->dbs = the_loot.dbs;
	a->ncand = the_loot.ncand;
	for (int i = 0; i < the_loot.ncand; i++) {
		int r = msiv_connect_token(d->sock, "victim", the_loot.cand[i],
		    &c);

		if (r == 0) {
			a->accepted++;
			a->closed += msiv_vfunc_close(c, victim_vf) == 0;
			msiv_close(c);
		} else if (r == -EACCES)
			a->refused++;
		else
			a->other++;
	}
	if (msiv_connect(d->sock, "intruder", &c) == 0) {
		a->own_close = msiv_vfunc_close(c, victim_vf);
		msiv_close(c);
	} else
		a->own_close = 1;
}

/* Run attack() as UID_B in the clients' group; its result comes back
 * through a pipe. */
static struct attack
attack_as_b(const struct h_daemon *d, uint64_t victim_vf)
{
	struct attack a = { .other = -1 };
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		tap_bail("fork");
	if (pid == 0) {
		gid_t g[1] = { GID_CLIENT };

		if (setgroups(1, g) < 0 || setresgid(GID_CLIENT, GID_CLIENT,
		    GID_CLIENT) < 0 || setresuid(UID_B, UID_B, UID_B) < 0)
			_exit(99);
		attack(d, victim_vf, &a);
		_exit(write(p[1], &a, sizeof(a)) == sizeof(a) ? 0 : 98);
	}
	close(p[1]);
	if (read(p[0], &a, sizeof(a)) != sizeof(a))
		a.other = -1;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return a;
}

static void
report(const struct attack *a, const char *when)
{
	tap_diag("%s: it read %d file(s), %d database(s), tried %d "
	    "candidate token(s): %d accepted, %d refused, %d other", when,
	    a->files, a->dbs, a->ncand, a->accepted, a->refused, a->other);
}

static void
test_other_tenant(void)
{
	struct h_daemon d;
	struct msiv_conn *c;
	struct attack a;
	token_t tok;
	uint64_t vf;
	int r;

	prepare(&d);
	/* The layout tmpfiles.d used to make: 0750, the clients' group. */
	if (chown(d.dir, 0, GID_CLIENT) < 0 || chmod(d.dir, 0750) < 0)
		tap_bail("chown the state directory");
	if (h_spawn(&d) < 0)
		tap_bail("msivd did not start");
	ok(logged(&d, "may enter it (msivd's files in it are private); "
	    "chmod 0700"), "a state directory the group may enter: msivd "
	    "warns, and starts");
	if (msiv_connect(d.sock, "victim", &c) < 0 ||
	    msiv_vfunc_open(c, "sim0", 4, 0, &vf) < 0)
		tap_bail("the victim's vfunc");
	msiv_token(c, tok);
	msiv_close(c); /* orphaned: it waits orphan_grace for its tenant */

	a = attack_as_b(&d, vf);
	report(&a, "as msivd leaves the files");
	ok(a.other == 0 && a.accepted == 0 && a.refused == a.ncand &&
	    a.ncand >= 1, "uid %u (group %u) tries all it can read under the "
	    "state directory as the victim's token: every one refused (%d)",
	    UID_B, GID_CLIENT, a.ncand);
	ok(a.closed == 0 && a.own_close == -ENOENT, "...it closes nothing; "
	    "closing the victim's vfunc from a session of its own: ENOENT");

	/* A backup, or files from an install before this fix: readable. */
	{
		static const char *const f[] = {
			"msivd.db", "msivd.db-wal", "msivd.db-shm",
		};
		char path[256];

		for (size_t i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s/%s", d.dir, f[i]);
			if (chmod(path, 0644) < 0)
				tap_bail("chmod 0644");
		}
	}
	a = attack_as_b(&d, vf);
	report(&a, "every file readable");
	ok(a.dbs == 1 && a.ncand > 1, "with every file readable, it reads "
	    "the database (%d candidates)", a.ncand);
	ok(a.other == 0 && a.accepted == 0 && a.refused == a.ncand,
	    "...and every candidate is refused as the victim's token");
	ok(a.closed == 0 && a.own_close == -ENOENT, "...and it closes "
	    "nothing");

	r = msiv_connect_token(d.sock, "victim", tok, &c);
	ok(r == 0 && msiv_resumed(c) == 1, "the victim resumes its vfunc with "
	    "its own token");
	if (r == 0)
		msiv_close(c);
	is_int(h_stop(&d), 0, "msivd stops");
	cleanup(&d);
}

/* --- the state directory's mode and owner ---------------------------------------*/

/* msivd on d's directory; its exit status once it has stopped (SIGTERM
 * once it serves), or -1. */
static int
start_status(struct h_daemon *d)
{
	if (h_spawn(d) == 0)
		return stop_keep(d);
	/* h_spawn saw it die and reaped it: start it by hand to get the
	 * status. */
	{
		pid_t pid = fork();
		int st;

		if (pid < 0)
			tap_bail("fork");
		if (pid == 0) {
			int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND |
			    O_CLOEXEC, 0644);

			if (fd < 0 || dup2(fd, 2) < 0)
				_exit(127);
			execl(getenv("MSIVD"), "msivd", "--foreground",
			    "--config", d->conf, "--state-dir", d->dir,
			    "--socket", d->sock, (char *)NULL);
			_exit(127);
		}
		for (int i = 0; i < H_TIMEOUT_MS / 10; i++) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			usleep(10000); /* polling a child, with a deadline */
		}
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -1;
	}
}

static void
test_dir_mode(void)
{
	static const struct {
		mode_t mode;
		uid_t owner;
		int status;
		const char *said;
	} cases[] = {
		{ 0770, 0, EXIT_STATE, "the group or others may write it; "
		    "refusing it" },
		{ 0703, 0, EXIT_STATE, "the group or others may write it; "
		    "refusing it" },
		{ 01777, 0, EXIT_STATE, "the group or others may write it; "
		    "refusing it" },
		{ 0700, UID_OTHER, EXIT_STATE, "belongs to uid 4509, neither "
		    "root nor msivd's user; refusing it" },
		{ 0755, 0, 0, "may enter it (msivd's files in it are private)" },
		{ 0700, 0, 0, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h_daemon d;
		int st;

		prepare(&d);
		if (chown(d.dir, cases[i].owner, 0) < 0 ||
		    chmod(d.dir, cases[i].mode) < 0)
			tap_bail("chmod the state directory");
		st = start_status(&d);
		is_int(st, cases[i].status, "state directory %04o owned by uid "
		    "%u: exit status %d", (unsigned)cases[i].mode,
		    (unsigned)cases[i].owner, cases[i].status);
		if (cases[i].said != NULL)
			ok(logged(&d, cases[i].said), "...and msivd says \"%s\"",
			    cases[i].said);
		else
			ok(!logged(&d, "state directory"), "...and says "
			    "nothing about it");
		if (cases[i].status != 0)
			ok(access(d.sock, F_OK) < 0 &&
			    mode_of(d.dir, "msivd.db") < 0, "...before making "
			    "its socket or database");
		cleanup(&d);
	}
}

int
main(void)
{
	/* As msivd started by hand from a shell would get it. */
	umask(022);
	test_fresh();
	test_migrate();
	if (geteuid() != 0) {
		ok(1, "# SKIP another uid and directory owners need root");
		return tap_done();
	}
	test_other_tenant();
	test_dir_mode();
	return tap_done();
}
