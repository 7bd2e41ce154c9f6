/*
 * The SQLite store (see store.h): schema and migrations, start-up load,
 * writes into the turn's group transaction, and the commit event.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <msiv/protocol.h>

#include "log.h"
#include "store.h"
#include "token.h"

/* SQLite's page cache, KiB (a string: it goes into a PRAGMA). */
#define STORE_CACHE_KIB "256"

/*
 * Migrations: migrations[v] takes a database at user_version v to v + 1.
 * Only ever append; a released entry is never edited.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema. */
	"CREATE TABLE tenant ("
	"  name TEXT PRIMARY KEY,"
	"  token BLOB NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE vfunc ("
	"  id INTEGER PRIMARY KEY,"           /* the 64-bit handle */
	"  tenant TEXT NOT NULL,"
	"  device TEXT NOT NULL,"
	"  first_slot INTEGER NOT NULL,"
	"  nvec INTEGER NOT NULL,"
	"  policy INTEGER NOT NULL,"
	"  enabled INTEGER NOT NULL,"
	"  fmasked INTEGER NOT NULL);"
	"CREATE INDEX vfunc_device ON vfunc(device, first_slot);"
	"CREATE TABLE vector ("
	"  vfunc INTEGER NOT NULL REFERENCES vfunc(id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  prog_addr INTEGER NOT NULL,"
	"  prog_data INTEGER NOT NULL,"
	"  eff_addr INTEGER NOT NULL,"
	"  eff_data INTEGER NOT NULL,"
	"  flags INTEGER NOT NULL,"
	"  written INTEGER NOT NULL,"
	"  mode INTEGER NOT NULL,"
	"  PRIMARY KEY (vfunc, idx)) WITHOUT ROWID;",
	/* 1 -> 2: devices attached at run time (msivctl attach). */
	"CREATE TABLE device ("
	"  name TEXT PRIMARY KEY,"
	"  backend TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  slots INTEGER NOT NULL,"
	"  policy INTEGER NOT NULL,"
	"  flags INTEGER NOT NULL);",
	/* 2 -> 3: vfuncs taken away (device removed, revoked by an admin)
	 * stay, with no vectors, until their tenant closes them. */
	"ALTER TABLE vfunc ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;",
	/* 3 -> 4: a tenant's token is kept only as a seal (token.h), made
	 * by the SQL function msiv_token_seal() (store_seal_fn). A token
	 * of the wrong length could never be presented: its tenant goes,
	 * as if unknown. */
	"CREATE TABLE tenant_sealed ("
	"  name TEXT PRIMARY KEY,"
	"  seal BLOB NOT NULL,"
	"  created INTEGER NOT NULL);"
	"INSERT INTO tenant_sealed(name, seal, created) "
	"  SELECT name, msiv_token_seal(token), created FROM tenant "
	"  WHERE length(token) = 16;"
	"DROP TABLE tenant;"
	"ALTER TABLE tenant_sealed RENAME TO tenant;",
	/* 4 -> 5: no change of schema. store_scrub() runs first and clears
	 * the old tokens from the files; only then is the version set, so
	 * a scrub that did not finish is done again at the next start. */
	"",
	/* 5 -> 6: a tenant is bound to the uid that created it (issue 15:
	 * no squatting on another uid's name). NULL: created before this,
	 * bound by its next HELLO. */
	"ALTER TABLE tenant ADD COLUMN owner INTEGER;",
	/* 6 -> 7: lazy vfuncs bind a slot per vector when it is set up
	 * (MSIV_OPEN_LAZY); the vector row names its slot, so a restart
	 * binds the same one. NULL: reserved vfuncs (first_slot + idx) and
	 * vectors not bound. */
	"ALTER TABLE vfunc ADD COLUMN lazy INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vector ADD COLUMN slot INTEGER;",
};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) ==
    STORE_SCHEMA_VERSION, "one migration per schema version");

enum store_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_TENANT_GET,
	ST_TENANT_PUT,
	ST_VFUNC_PUT,
	ST_VFUNC_SET,
	ST_VFUNC_DEL,
	ST_VFUNC_REVOKE,
	ST_VECTORS_DEL,
	ST_VFUNC_GET,
	ST_VECTOR_PUT,
	ST_VECTOR_DEL,
	ST_VECTORS_OF,
	ST_DEVICE_PUT,
	ST_DEVICE_DEL,
	ST_TENANT_OWNER_GET,
	ST_TENANT_OWNER_SET,
	ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_TENANT_GET] = "SELECT seal FROM tenant WHERE name = ?1",
	[ST_TENANT_PUT] = "INSERT INTO tenant(name, seal, created) "
	    "VALUES (?1, ?2, strftime('%s','now')) "
	    "ON CONFLICT(name) DO UPDATE SET seal = excluded.seal",
	[ST_VFUNC_PUT] = "INSERT OR REPLACE INTO vfunc(id, tenant, device, "
	    "first_slot, nvec, policy, enabled, fmasked, revoked, lazy) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)",
	[ST_VFUNC_SET] = "UPDATE vfunc SET enabled = ?2, fmasked = ?3 "
	    "WHERE id = ?1",
	[ST_VFUNC_DEL] = "DELETE FROM vfunc WHERE id = ?1",
	[ST_VFUNC_REVOKE] = "UPDATE vfunc SET revoked = ?2, enabled = 0, "
	    "fmasked = 0 WHERE id = ?1",
	[ST_VECTORS_DEL] = "DELETE FROM vector WHERE vfunc = ?1",
	[ST_VFUNC_GET] = "SELECT id, tenant, device, first_slot, nvec, policy, "
	    "enabled, fmasked, revoked, lazy FROM vfunc WHERE id = ?1",
	[ST_VECTOR_PUT] = "INSERT OR REPLACE INTO vector(vfunc, idx, "
	    "prog_addr, prog_data, eff_addr, eff_data, flags, written, mode, "
	    "slot) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_VECTOR_DEL] = "DELETE FROM vector WHERE vfunc = ?1 AND idx = ?2",
	[ST_VECTORS_OF] = "SELECT idx, prog_addr, prog_data, eff_addr, "
	    "eff_data, flags, written, mode, slot FROM vector WHERE vfunc = ?1 "
	    "ORDER BY idx",
	[ST_DEVICE_PUT] = "INSERT OR REPLACE INTO device(name, backend, "
	    "address, slots, policy, flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_DEVICE_DEL] = "DELETE FROM device WHERE name = ?1",
	[ST_TENANT_OWNER_GET] = "SELECT owner FROM tenant WHERE name = ?1",
	[ST_TENANT_OWNER_SET] = "UPDATE tenant SET owner = ?2 WHERE name = ?1",
};

static sqlite3 *db;
static sqlite3_stmt *stmts[ST__COUNT];
static struct event *commit_ev;
static int in_txn;
static int txn_failed; /* a write of this turn failed: roll it all back */
static uint64_t n_commits, n_writes;
/* METRICS: failed commits, commit latency (store_metrics). */
static uint64_t n_commit_fail, commit_us_sum;
static uint64_t commit_hist[MSIV_METRICS_BUCKETS];
static const uint64_t commit_bounds[MSIV_METRICS_BUCKETS] =
    MSIV_METRICS_BOUNDS_US;
static store_commit_fn *commit_cb;
static void *commit_arg;

/*
 * A failed write or commit reaches the client as -EIO ("the change could
 * not be recorded"), whatever the cause: -ENOSPC would read as "no free
 * slots on the device". The log says what SQLite said.
 */
static int
store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	default:
		return -EIO;
	}
}

static enum store_error
store_classify(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return STORE_ERR_FULL;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
		return STORE_ERR_READONLY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return STORE_ERR_CORRUPT;
	default:
		return STORE_ERR_OTHER;
	}
}

static int
store_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void
store_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	int status;

	(void)fd;
	(void)what;
	(void)arg;
	status = store_flush();
	if (commit_cb != NULL)
		commit_cb(status, commit_arg);
}

static uint64_t
store_now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A commit done: count it, and its latency in the first bucket whose
 * bound it does not exceed (none: slower than the last). */
static void
store_commit_took(uint64_t us)
{
	n_commits++;
	commit_us_sum += us;
	for (size_t i = 0; i < MSIV_METRICS_BUCKETS; i++)
		if (us <= commit_bounds[i]) {
			commit_hist[i]++;
			break;
		}
}

void
store_metrics(struct msiv_metrics_rep *m)
{
	m->commits = n_commits;
	m->commit_fail = n_commit_fail;
	m->commit_us_sum = commit_us_sum;
	memcpy(m->commit_hist, commit_hist, sizeof(m->commit_hist));
}

int
store_flush(void)
{
	uint64_t t0;
	int rc;

	if (!in_txn)
		return 0;
	in_txn = 0;
	if (txn_failed) {
		/* Part of a request's change is no use: the whole turn goes,
		 * and is recovered like a failed commit. */
		rc = txn_failed;
		txn_failed = 0;
		n_commit_fail++;
		(void)store_step_done(stmts[ST_ROLLBACK]);
		log_warnx("store: a write failed; the turn's changes are "
		    "rolled back");
		return store_errno(rc);
	}
	t0 = store_now_us();
	rc = store_step_done(stmts[ST_COMMIT]);
	if (rc == SQLITE_OK) {
		store_commit_took(store_now_us() - t0);
		return 0;
	}
	n_commit_fail++;
	log_warnx("store: commit failed: %s", sqlite3_errmsg(db));
	if (sqlite3_get_autocommit(db) == 0)
		(void)store_step_done(stmts[ST_ROLLBACK]);
	return store_errno(rc);
}

/* Every write starts the turn's transaction if none is open. */
static int
store_begin(void)
{
	int rc;

	if (in_txn)
		return 0;
	rc = store_step_done(stmts[ST_BEGIN]);
	if (rc != SQLITE_OK) {
		log_warnx("store: begin: %s", sqlite3_errmsg(db));
		return store_errno(rc);
	}
	in_txn = 1;
	event_active(commit_ev, EV_TIMEOUT, 0);
	return 0;
}

int
store_in_txn(void)
{
	return in_txn;
}

void
store_set_commit_cb(store_commit_fn *fn, void *arg)
{
	commit_cb = fn;
	commit_arg = arg;
}

uint64_t
store_commits(void)
{
	return n_commits;
}

uint64_t
store_writes(void)
{
	return n_writes;
}

static int
store_exec(const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
	}
	return rc;
}

static int
store_user_version(int *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * msiv_token_seal(token): the seal of a token (token.h), for migration
 * 3 -> 4; NULL for a value that is not a token.
 */
static void
store_seal_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	uint8_t seal[TOKEN_SEAL_LEN];
	const void *token;

	(void)argc;
	token = sqlite3_value_blob(argv[0]);
	if (token == NULL || sqlite3_value_bytes(argv[0]) != MSIV_TOKEN_LEN) {
		sqlite3_result_null(cx);
		return;
	}
	if (token_seal(token, seal) < 0) {
		sqlite3_result_error(cx, "no random bytes to seal a token", -1);
		return;
	}
	sqlite3_result_blob(cx, seal, sizeof(seal), SQLITE_TRANSIENT);
}

/*
 * Migration 4 -> 5: the raw tokens must be gone from the files, not only
 * from the table. secure_delete (on for the whole run: store_open)
 * zeroed what the migration deleted; VACUUM rewrites the database with its
 * live rows only, so the free pages and unused page space where a store
 * written without secure_delete may still hold old tokens (one replaced
 * when its tenant was taken over) go too; the checkpoint then moves the
 * result from the WAL into the database and truncates the WAL, which held
 * the old pages.
 */
static enum store_error
store_scrub(const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char msg[256];
	int rc, busy = -1;

	if ((rc = store_exec("VACUUM", msg, sizeof(msg))) != SQLITE_OK) {
		snprintf(err, errlen, "%s: clearing the old tokens: %s", path,
		    msg);
		return store_classify(rc);
	}
	rc = sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st,
	    NULL);
	if (rc == SQLITE_OK) {
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			busy = sqlite3_column_int(st, 0);
			rc = SQLITE_OK;
		}
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK || busy != 0) {
		snprintf(err, errlen, "%s: clearing the old tokens from the "
		    "WAL: %s", path, rc != SQLITE_OK ? sqlite3_errstr(rc) :
		    "another process has the database open; stop it");
		return rc != SQLITE_OK ? store_classify(rc) : STORE_ERR_OTHER;
	}
	log_info("store: %s rewritten and its WAL emptied: no raw resume "
	    "token is left in them", path);
	return STORE_OK;
}

/* Bring the schema up to date, each step in its own transaction. */
static enum store_error
store_migrate(const char *path, char *err, size_t errlen)
{
	char msg[256];
	int v = 0, rc;

	if ((rc = store_user_version(&v)) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errstr(rc));
		return store_classify(rc);
	}
	if (v > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: written by a newer msivd (schema %d, "
		    "this msivd knows up to %d); refusing to touch it: run the "
		    "newer msivd, or move the file away to start afresh", path,
		    v, STORE_SCHEMA_VERSION);
		return STORE_ERR_NEWER;
	}
	rc = sqlite3_create_function(db, "msiv_token_seal", 1, SQLITE_UTF8 |
	    SQLITE_DIRECTONLY, NULL, store_seal_fn, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return store_classify(rc);
	}
	for (; v < STORE_SCHEMA_VERSION; v++) {
		enum store_error e;
		char sql[64];

		if (v == 4 && (e = store_scrub(path, err, errlen)) != STORE_OK)
			return e;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if ((rc = store_exec("BEGIN IMMEDIATE", msg, sizeof(msg))) ||
		    (rc = store_exec(migrations[v], msg, sizeof(msg))) ||
		    (rc = store_exec(sql, msg, sizeof(msg))) ||
		    (rc = store_exec("COMMIT", msg, sizeof(msg)))) {
			(void)store_exec("ROLLBACK", sql, sizeof(sql));
			snprintf(err, errlen, "%s: migrating the schema to "
			    "version %d: %s", path, v + 1, msg);
			return store_classify(rc);
		}
		log_info("store: schema migrated to version %d", v + 1);
	}
	return STORE_OK;
}

/*
 * The database, its WAL and its shared-memory file are msivd's alone:
 * main() sets umask 0077 before any is made, and SQLite gives the WAL
 * and shared-memory files the database's mode. Those made by an msivd
 * started by hand under umask 022 before that are 0644: their group and
 * other bits go here, before SQLite opens them.
 */
static enum store_error
store_private(int dfd, const char *dir, const char *name, char *err,
    size_t errlen)
{
	struct stat sb;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return STORE_OK; /* none yet; anything else SQLite reports */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (sb.st_mode & 077) != 0) {
		if (fchmod(fd, sb.st_mode & 0700) < 0) {
			snprintf(err, errlen, "%s/%s is mode %04o and cannot be "
			    "made private: %s; chmod 0600 it", dir, name,
			    (unsigned)(sb.st_mode & 07777), strerror(errno));
			close(fd);
			return STORE_ERR_READONLY;
		}
		log_warnx("store: %s/%s was mode %04o; now %04o", dir, name,
		    (unsigned)(sb.st_mode & 07777),
		    (unsigned)(sb.st_mode & 0700));
	}
	close(fd);
	return STORE_OK;
}

static enum store_error
store_check(const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
	const char *res;

	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s: the file is not a usable msivd "
		    "database; move it away to start afresh", path,
		    sqlite3_errmsg(db));
		return store_classify(rc) == STORE_ERR_OTHER ?
		    STORE_ERR_CORRUPT : store_classify(rc);
	}
	rc = sqlite3_step(st);
	res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (res == NULL || strcmp(res, "ok") != 0) {
		snprintf(err, errlen, "%s: integrity check failed (%s); move "
		    "the file away to start afresh", path,
		    res ? res : sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return STORE_ERR_CORRUPT;
	}
	sqlite3_finalize(st);
	return STORE_OK;
}

static bool store_trusted;

void
store_trust(void)
{
	store_trusted = true;
}

enum store_error
store_open(const char *dir, struct event_base *base, char *err,
    size_t errlen)
{
	char path[4096 + 16];
	struct stat sb;
	enum store_error e;
	int rc;

	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "state directory %s %s; create it (e.g. "
		    "mkdir -m 0700 %s) or point --state-dir elsewhere", dir,
		    errno == ENOENT ? "does not exist" : "is not a directory",
		    dir);
		return STORE_ERR_MISSING;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(err, errlen, "state directory %s is not writable: %s",
		    dir, strerror(errno));
		return STORE_ERR_READONLY;
	}
	{
		static const char *const files[] = {
			"msivd.db", "msivd.db-wal", "msivd.db-shm",
		};
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0) {
			snprintf(err, errlen, "state directory %s: %s", dir,
			    strerror(errno));
			return STORE_ERR_READONLY;
		}
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			if ((e = store_private(dfd, dir, files[i], err,
			    errlen)) != STORE_OK)
				break;
		close(dfd);
		if (e != STORE_OK)
			return e;
	}
	snprintf(path, sizeof(path), "%s/msivd.db", dir);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) :
		    sqlite3_errstr(rc));
		e = store_classify(rc);
		goto fail;
	}
	sqlite3_extended_result_codes(db, 1);
	/* A handover's store was in use by the old msivd up to now: its
	 * check would only lengthen the time no trigger is read. */
	if (!store_trusted && (e = store_check(path, err, errlen)) != STORE_OK)
		goto fail;
	{
		char msg[256];

		/* WAL: readers never block, commits append; FULL: each
		 * commit is fsynced before the reply it guards;
		 * secure_delete: what is deleted is overwritten with zeros,
		 * so no deleted row stays in the file (the old tokens of
		 * migration 3 -> 4, a seal replaced by a takeover);
		 * cache_size: SQLite's own page cache, 2 MiB by default,
		 * filled as the rows of every vector are written or
		 * restored (about 35 bytes a vector: doc/performance.md,
		 * memory), is held to STORE_CACHE_KIB; a page it does not
		 * hold is a read from the kernel's page cache, and the
		 * interior pages of the tables, the ones every statement
		 * walks, stay in it. */
		if ((rc = store_exec("PRAGMA journal_mode = WAL", msg,
		    sizeof(msg))) || (rc = store_exec("PRAGMA synchronous = "
		    "FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = "
		    "ON; PRAGMA cache_size = -" STORE_CACHE_KIB, msg,
		    sizeof(msg)))) {
			snprintf(err, errlen, "%s: %s", path, msg);
			e = store_classify(rc);
			goto fail;
		}
	}
	if ((e = store_migrate(path, err, errlen)) != STORE_OK)
		goto fail;
	for (int i = 0; i < ST__COUNT; i++) {
		rc = sqlite3_prepare_v3(db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &stmts[i], NULL);
		if (rc != SQLITE_OK)
			fatalx("store: statement %d: %s", i, sqlite3_errmsg(db));
	}
	/*
	 * The commit runs at the end of the turn whose first write made it
	 * active. It has the priority of every socket and timer event (the
	 * default), and libevent runs all the active events of a priority,
	 * those made active meanwhile included, before it polls again: so
	 * nothing a client does can put the commit off past the turn, and
	 * a reply held for it waits for at most one read of each other
	 * session (SESSION_READ_BURST requests, session-read.c). libevent queues
	 * it behind the sessions the turn's poll found readable, so every
	 * request read in the turn joins it. At a lower priority it ran
	 * only once no socket was ready: one session with requests always
	 * in flight starved it, and every reply held for it (issue 15;
	 * doc/store.md).
	 */
	commit_ev = event_new(base, -1, 0, store_commit_cb, NULL);
	if (commit_ev == NULL)
		fatalx("store: cannot create the commit event");
	/* Probe that the database can really be written (read-only file,
	 * full disk), so that start-up says so rather than the first
	 * client. */
	{
		char msg[256];

		rc = store_exec("BEGIN IMMEDIATE; "
		    "CREATE TABLE IF NOT EXISTS probe(x); DROP TABLE probe; "
		    "COMMIT", msg, sizeof(msg));
		if (rc != SQLITE_OK) {
			(void)store_exec("ROLLBACK", msg, sizeof(msg));
			snprintf(err, errlen, "%s: cannot write: %s", path,
			    sqlite3_errstr(rc));
			e = store_classify(rc);
			goto fail;
		}
	}
	log_info("store: %s (schema %d)", path, STORE_SCHEMA_VERSION);
	return STORE_OK;
fail:
	store_close();
	return e == STORE_OK ? STORE_ERR_OTHER : e;
}

void
store_close(void)
{
	if (in_txn)
		(void)store_flush();
	for (int i = 0; i < ST__COUNT; i++) {
		if (stmts[i] != NULL)
			sqlite3_finalize(stmts[i]);
		stmts[i] = NULL;
	}
	if (commit_ev != NULL)
		event_free(commit_ev);
	commit_ev = NULL;
	if (db != NULL)
		sqlite3_close(db);
	db = NULL;
}

static void
store_row_vector(sqlite3_stmt *st, struct store_vector *v)
{
	v->idx = (uint32_t)sqlite3_column_int64(st, 0);
	v->prog_addr = (uint64_t)sqlite3_column_int64(st, 1);
	v->prog_data = (uint32_t)sqlite3_column_int64(st, 2);
	v->eff_addr = (uint64_t)sqlite3_column_int64(st, 3);
	v->eff_data = (uint32_t)sqlite3_column_int64(st, 4);
	v->flags = (uint32_t)sqlite3_column_int64(st, 5);
	v->written = (uint32_t)sqlite3_column_int64(st, 6);
	v->mode = (uint32_t)sqlite3_column_int64(st, 7);
	v->slot = sqlite3_column_type(st, 8) == SQLITE_NULL ? MSIV_SLOT_NONE :
	    (uint32_t)sqlite3_column_int64(st, 8);
}

/* A text column into a fixed field ("" for NULL). */
static void
store_col_text(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(out, len, "%s", t != NULL ? (const char *)t : "");
}

static void
store_row_vfunc(sqlite3_stmt *st, struct store_vfunc *vf)
{
	memset(vf, 0, sizeof(*vf));
	vf->id = (uint64_t)sqlite3_column_int64(st, 0);
	store_col_text(st, 1, vf->tenant, sizeof(vf->tenant));
	store_col_text(st, 2, vf->device, sizeof(vf->device));
	vf->first = (uint32_t)sqlite3_column_int64(st, 3);
	vf->nvec = (uint32_t)sqlite3_column_int64(st, 4);
	vf->policy = (uint32_t)sqlite3_column_int64(st, 5);
	vf->enabled = (uint32_t)sqlite3_column_int64(st, 6);
	vf->fmasked = (uint32_t)sqlite3_column_int64(st, 7);
	vf->revoked = (uint32_t)sqlite3_column_int64(st, 8);
	vf->lazy = (uint32_t)sqlite3_column_int64(st, 9);
}

int
store_load(store_vfunc_fn *fn, void *arg)
{
	sqlite3_stmt *vfs, *vecs;
	struct store_vector *buf;
	int rc;

	buf = calloc(MSIV_VECTORS_MAX, sizeof(*buf));
	if (buf == NULL)
		return -ENOMEM;
	/* One pass over each table, both in vfunc order. */
	rc = sqlite3_prepare_v2(db, "SELECT id, tenant, device, first_slot, "
	    "nvec, policy, enabled, fmasked, revoked, lazy FROM vfunc "
	    "ORDER BY id", -1, &vfs, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "SELECT idx, prog_addr, prog_data, "
		    "eff_addr, eff_data, flags, written, mode, slot, vfunc FROM "
		    "vector ORDER BY vfunc, idx", -1, &vecs, NULL);
	if (rc != SQLITE_OK) {
		free(buf);
		log_warnx("store: load: %s", sqlite3_errmsg(db));
		return store_errno(rc);
	}
	rc = sqlite3_step(vecs);
	while (sqlite3_step(vfs) == SQLITE_ROW) {
		struct store_vfunc vf;
		size_t n = 0;

		store_row_vfunc(vfs, &vf);
		/* Both queries run in SQLite's order of the id, a signed
		 * 64-bit integer: compare the same way. Vector rows that
		 * sort before this vfunc have none (foreign keys forbid
		 * it); skip them. */
		while (rc == SQLITE_ROW &&
		    sqlite3_column_int64(vecs, 9) < (sqlite3_int64)vf.id)
			rc = sqlite3_step(vecs);
		while (rc == SQLITE_ROW &&
		    sqlite3_column_int64(vecs, 9) == (sqlite3_int64)vf.id) {
			if (n < MSIV_VECTORS_MAX)
				store_row_vector(vecs, &buf[n++]);
			rc = sqlite3_step(vecs);
		}
		fn(&vf, buf, n, arg);
	}
	sqlite3_finalize(vfs);
	sqlite3_finalize(vecs);
	free(buf);
	return 0;
}

int
store_tenant_check(const char *name, const uint8_t token[MSIV_TOKEN_LEN])
{
	sqlite3_stmt *st = stmts[ST_TENANT_GET];
	int rc, r = -ENOENT;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *seal = sqlite3_column_blob(st, 0);

		r = token_check(token, seal, (size_t)sqlite3_column_bytes(st,
		    0)) ? 1 : 0;
	} else if (rc != SQLITE_DONE)
		r = store_errno(rc);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

/* Run a bound write statement inside the turn's transaction. */
static int
store_write(sqlite3_stmt *st)
{
	int rc = store_step_done(st);

	n_writes++;
	if (rc != SQLITE_OK) {
		log_warnx("store: %s", sqlite3_errmsg(db));
		if (txn_failed == 0)
			txn_failed = rc;
		return store_errno(rc);
	}
	return 0;
}

#define STORE_BEGIN_OR_RETURN() do {					\
	int r_ = store_begin();						\
	if (r_ < 0)							\
		return r_;						\
} while (0)

int
store_tenant_put(const char *name, const uint8_t token[MSIV_TOKEN_LEN])
{
	sqlite3_stmt *st = stmts[ST_TENANT_PUT];
	uint8_t seal[TOKEN_SEAL_LEN];
	int r;

	if ((r = token_seal(token, seal)) < 0)
		return r;
	STORE_BEGIN_OR_RETURN();
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, seal, sizeof(seal), SQLITE_TRANSIENT);
	return store_write(st);
}

int
store_tenant_owner(const char *name, int64_t *owner)
{
	sqlite3_stmt *st = stmts[ST_TENANT_OWNER_GET];
	int rc, r = -ENOENT;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*owner = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 :
		    sqlite3_column_int64(st, 0);
		r = 0;
	} else if (rc != SQLITE_DONE)
		r = store_errno(rc);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

int
store_tenant_owner_put(const char *name, uint32_t uid)
{
	sqlite3_stmt *st = stmts[ST_TENANT_OWNER_SET];

	STORE_BEGIN_OR_RETURN();
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uid);
	return store_write(st);
}

int
store_vfunc_put(const struct store_vfunc *vf)
{
	sqlite3_stmt *st = stmts[ST_VFUNC_PUT];

	STORE_BEGIN_OR_RETURN();
	sqlite3_bind_int64(st, 1, (sqlite3_int64)vf->id);
	sqlite3_bind_text(st, 2, vf->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, vf->device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, vf->first);
	sqlite3_bind_int64(st, 5, vf->nvec);
	sqlite3_bind_int64(st, 6, vf->policy);
	sqlite3_bind_int64(st, 7, vf->enabled);
	sqlite3_bind_int64(st, 8, vf->fmasked);
	sqlite3_bind_int64(st, 9, vf->lazy);
	return store_write(st);
}

int
store_vfunc_set(uint64_t id, uint32_t enabled, uint32_t fmasked)
{
	sqlite3_stmt *st = stmts[ST_VFUNC_SET];

	STORE_BEGIN_OR_RETURN();
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 2, enabled);
	sqlite3_bind_int64(st, 3, fmasked);
	return store_write(st);
}

int
store_vfunc_del(uint64_t id)
{
	sqlite3_stmt *st = stmts[ST_VFUNC_DEL];

	STORE_BEGIN_OR_RETURN();
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return store_write(st);
}

int
store_vfunc_revoke(uint64_t id, uint32_t reason)
{
	sqlite3_stmt *st = stmts[ST_VFUNC_REVOKE];
	int r;

	STORE_BEGIN_OR_RETURN();
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 2, reason);
	if ((r = store_write(st)) < 0)
		return r;
	st = stmts[ST_VECTORS_DEL];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return store_write(st);
}

int
store_device_put(const struct conf_device *d)
{
	sqlite3_stmt *st = stmts[ST_DEVICE_PUT];

	STORE_BEGIN_OR_RETURN();
	sqlite3_bind_text(st, 1, d->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, d->backend, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, d->address, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, d->slots);
	sqlite3_bind_int64(st, 5, d->policy);
	sqlite3_bind_int64(st, 6, d->flags);
	return store_write(st);
}

int
store_device_del(const char *name)
{
	sqlite3_stmt *st = stmts[ST_DEVICE_DEL];
	int r;

	STORE_BEGIN_OR_RETURN();
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	r = store_write(st);
	return r < 0 ? r : sqlite3_changes(db) > 0;
}

int
store_load_devices(store_device_fn *fn, void *arg)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT name, backend, address, slots, "
	    "policy, flags FROM device ORDER BY name", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		log_warnx("store: load devices: %s", sqlite3_errmsg(db));
		return store_errno(rc);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct conf_device d;

		memset(&d, 0, sizeof(d));
		store_col_text(st, 0, d.name, sizeof(d.name));
		store_col_text(st, 1, d.backend, sizeof(d.backend));
		store_col_text(st, 2, d.address, sizeof(d.address));
		d.slots = (uint32_t)sqlite3_column_int64(st, 3);
		d.policy = (enum vector_policy)sqlite3_column_int64(st, 4);
		d.flags = (uint32_t)sqlite3_column_int64(st, 5);
		fn(&d, arg);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_errno(rc);
}

int
store_vector_put(uint64_t vfunc, const struct store_vector *v)
{
	sqlite3_stmt *st = stmts[ST_VECTOR_PUT];

	STORE_BEGIN_OR_RETURN();
	sqlite3_bind_int64(st, 1, (sqlite3_int64)vfunc);
	sqlite3_bind_int64(st, 2, v->idx);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)v->prog_addr);
	sqlite3_bind_int64(st, 4, v->prog_data);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)v->eff_addr);
	sqlite3_bind_int64(st, 6, v->eff_data);
	sqlite3_bind_int64(st, 7, v->flags);
	sqlite3_bind_int64(st, 8, v->written);
	sqlite3_bind_int64(st, 9, v->mode);
	if (v->slot != MSIV_SLOT_NONE)
		sqlite3_bind_int64(st, 10, v->slot);
	else
		sqlite3_bind_null(st, 10);
	return store_write(st);
}

int
store_vector_del(uint64_t vfunc, uint32_t idx)
{
	sqlite3_stmt *st = stmts[ST_VECTOR_DEL];

	STORE_BEGIN_OR_RETURN();
	sqlite3_bind_int64(st, 1, (sqlite3_int64)vfunc);
	sqlite3_bind_int64(st, 2, idx);
	return store_write(st);
}

int
store_vfunc_get(uint64_t id, struct store_vfunc *vf, struct store_vector *vecs,
    size_t maxvecs, size_t *nvecs)
{
	sqlite3_stmt *st = stmts[ST_VFUNC_GET];
	int rc, found;

	*nvecs = 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	rc = sqlite3_step(st);
	found = rc == SQLITE_ROW;
	if (found)
		store_row_vfunc(st, vf);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (!found)
		return rc == SQLITE_DONE ? 0 : store_errno(rc);
	st = stmts[ST_VECTORS_OF];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *nvecs < maxvecs)
		store_row_vector(st, &vecs[(*nvecs)++]);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return 1;
}
