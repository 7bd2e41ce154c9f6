/*
 * Unit test of the store (daemon/store.c) on a temporary state directory,
 * without a daemon: what is written and committed is what a reopened
 * store reads back (vfuncs, vectors, devices, tenants), removals and
 * revocations included; a database of an older schema is migrated with
 * its rows (and its plain tokens sealed and scrubbed from the files); a
 * missing directory, a corrupt file and one of a newer schema are
 * refused with their own error, and the refused file is left as it was
 * (msivd(8), DURABLE STATE and EXIT STATUS; doc/store.md).
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msiv/protocol.h>

#include "log.h"
#include "store.h"
#include "tap.h"

#define NVEC_MAX 8

static struct event_base *base;
static char root[64];

/* A fresh state directory under root. */
static void
mkstate(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "%s/%s", root, name);
	if (mkdir(dir, 0700) < 0)
		tap_bail("mkdir");
}

static int
open_store(const char *dir)
{
	char err[1024];
	enum store_error e = store_open(dir, base, err, sizeof(err));

	if (e != STORE_OK)
		tap_diag("store_open %s: %s", dir, err);
	return e == STORE_OK ? 0 : -1;
}

/* The first column of the first row of a query on DIR/msivd.db, or -1. */
static long long
sql_int(const char *dir, const char *query)
{
	char path[160];
	sqlite3_stmt *st;
	sqlite3 *db;
	long long v = -1;

	snprintf(path, sizeof(path), "%s/msivd.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	if (sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static int
sql_exec(const char *dir, const char *stmt)
{
	char path[160];
	sqlite3 *db;
	int rc;

	snprintf(path, sizeof(path), "%s/msivd.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	rc = sqlite3_exec(db, stmt, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* A whole file, or NULL (*len 0) if it cannot be read. */
static unsigned char *
slurp(const char *path, size_t *len)
{
	unsigned char *buf = NULL;
	struct stat sb;
	FILE *f = fopen(path, "re");

	*len = 0;
	if (f != NULL && fstat(fileno(f), &sb) == 0 &&
	    (buf = malloc((size_t)sb.st_size + 1)) != NULL)
		*len = fread(buf, 1, (size_t)sb.st_size, f);
	if (f != NULL)
		fclose(f);
	return buf;
}

/* Does the file at path hold these bytes anywhere? */
static int
file_has(const char *path, const void *what, size_t n)
{
	size_t len;
	unsigned char *buf = slurp(path, &len);
	int found = buf != NULL && memmem(buf, len, what, n) != NULL;

	free(buf);
	return found;
}

/* --- what store_load gives back ----------------------------------------- */

struct loaded {
	size_t n;
	struct store_vfunc vf[4];
	size_t nvecs[4];
	struct store_vector vecs[4][NVEC_MAX];
	size_t ndev;
	struct conf_device dev[4];
};

static void
load_one(const struct store_vfunc *vf, const struct store_vector *vecs,
    size_t n, void *arg)
{
	struct loaded *l = arg;

	if (l->n >= 4 || n > NVEC_MAX)
		return;
	l->vf[l->n] = *vf;
	l->nvecs[l->n] = n;
	memcpy(l->vecs[l->n], vecs, n * sizeof(*vecs));
	l->n++;
}

static void
load_dev(const struct conf_device *d, void *arg)
{
	struct loaded *l = arg;

	if (l->ndev < 4)
		l->dev[l->ndev++] = *d;
}

static const struct store_vfunc *
find_vf(const struct loaded *l, uint64_t id, size_t *at)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->vf[i].id == id) {
			*at = i;
			return &l->vf[i];
		}
	return NULL;
}

static int
same_vfunc(const struct store_vfunc *a, const struct store_vfunc *b)
{
	return a->id == b->id && strcmp(a->tenant, b->tenant) == 0 &&
	    strcmp(a->device, b->device) == 0 && a->first == b->first &&
	    a->nvec == b->nvec && a->policy == b->policy &&
	    a->enabled == b->enabled && a->fmasked == b->fmasked &&
	    a->revoked == b->revoked && a->lazy == b->lazy;
}

static int
same_vector(const struct store_vector *a, const struct store_vector *b)
{
	return a->idx == b->idx && a->prog_addr == b->prog_addr &&
	    a->prog_data == b->prog_data && a->eff_addr == b->eff_addr &&
	    a->eff_data == b->eff_data && a->flags == b->flags &&
	    a->written == b->written && a->mode == b->mode &&
	    a->slot == b->slot;
}

/* Are want[0..n) the vectors of vecs[0..got), in any order? */
static int
same_vectors(const struct store_vector *want, size_t n,
    const struct store_vector *vecs, size_t got)
{
	if (n != got)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int found = 0;

		for (size_t k = 0; k < got; k++)
			found |= same_vector(&want[i], &vecs[k]);
		if (!found)
			return 0;
	}
	return 1;
}

/* --- a fresh store: write, commit, reopen, read back --------------------- */

/* The handle is above INT64_MAX: SQLite keeps it as a negative integer. */
static const struct store_vfunc vf_res = {
	.id = 0x8000000000000001ull, .tenant = "tenant-a", .device = "sim0",
	.first = 4, .nvec = 3, .policy = 2, .enabled = 1, .fmasked = 0,
};
static const struct store_vfunc vf_lazy = {
	.id = 42, .tenant = "tenant-b", .device = "sim-live",
	.first = MSIV_SLOT_NONE, .nvec = 1000, .policy = 3, .lazy = 1,
};
/* Every field at an edge: 64-bit addresses with the top bit set, data of
 * all ones, effective and programmed messages apart. */
static const struct store_vector vec_res[] = {
	{ .idx = 0, .prog_addr = 0xfee00000u, .prog_data = 0x4021,
	  .eff_addr = 0xfee00000u, .eff_data = 0x4021, .flags = 3,
	  .written = 7, .mode = 1, .slot = MSIV_SLOT_NONE },
	{ .idx = 2, .prog_addr = 0xfffffffffffffff0ull,
	  .prog_data = 0xffffffffu, .eff_addr = 0x8000000000000000ull,
	  .eff_data = 1, .flags = 2, .written = 0xffffffffu, .mode = 0,
	  .slot = MSIV_SLOT_NONE },
};
static const struct store_vector vec_lazy[] = {
	{ .idx = 999, .prog_addr = 0xfee01000u, .prog_data = 0x30,
	  .eff_addr = 0xfee01000u, .eff_data = 0x30, .flags = 2,
	  .written = 1, .slot = 17 },
};
static const struct conf_device dev_z = {
	.name = "simz", .backend = "vfio", .address = "0000:00:03.0",
	.slots = 8, .policy = 1, .flags = 1,
};

static void
test_roundtrip(void)
{
	static const uint8_t tok[MSIV_TOKEN_LEN] = {
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	};
	static const uint8_t other[MSIV_TOKEN_LEN] = { 1 };
	struct store_vector vecs[NVEC_MAX], want[2];
	struct store_vfunc got;
	struct loaded l = { 0 };
	const struct store_vfunc *p;
	char dir[128];
	int64_t owner = 0;
	size_t n = 0, at = 0;
	int w = 0;

	mkstate(dir, sizeof(dir), "fresh");
	if (!ok(open_store(dir) == 0, "fresh: a new store opens"))
		return;
	is_int(sql_int(dir, "PRAGMA user_version"), STORE_SCHEMA_VERSION,
	    "fresh: at the current schema (%d)", STORE_SCHEMA_VERSION);
	w |= store_vfunc_put(&vf_res);
	w |= store_vfunc_put(&vf_lazy);
	for (size_t i = 0; i < 2; i++)
		w |= store_vector_put(vf_res.id, &vec_res[i]);
	w |= store_vector_put(vf_lazy.id, &vec_lazy[0]);
	w |= store_vfunc_set(vf_res.id, 0, 1);
	w |= store_device_put(&dev_z);
	w |= store_tenant_put("tenant-a", tok);
	w |= store_tenant_owner_put("tenant-a", 1234);
	is_int(w, 0, "fresh: every write is taken");
	ok(store_in_txn(), "fresh: the writes are in the turn's transaction");
	is_int(sql_int(dir, "SELECT count(*) FROM vfunc"), 0,
	    "fresh: nothing is on disk before the commit");
	is_int(store_flush(), 0, "fresh: the commit succeeds");
	ok(!store_in_txn(), "fresh: and ends the transaction");
	is_int(sql_int(dir, "SELECT count(*) FROM vfunc"), 2,
	    "fresh: both vfuncs are on disk after it");

	is_int(store_vfunc_get(vf_res.id, &got, vecs, NVEC_MAX, &n), 1,
	    "get: the reserved vfunc is found");
	{
		struct store_vfunc w1 = vf_res;

		w1.enabled = 0;
		w1.fmasked = 1;
		ok(same_vfunc(&got, &w1), "get: its row as written, with the "
		    "bits store_vfunc_set changed");
	}
	ok(same_vectors(vec_res, 2, vecs, n), "get: its two vectors, every "
	    "field as written");

	store_close();
	if (!ok(open_store(dir) == 0, "reopen: the store opens again"))
		return;
	is_int(store_load(load_one, &l), 0, "reopen: store_load reads it");
	is_int((long long)l.n, 2, "reopen: two vfuncs");
	p = find_vf(&l, vf_res.id, &at);
	ok(p != NULL && p->enabled == 0 && p->fmasked == 1 &&
	    p->first == 4 && p->nvec == 3 && p->policy == 2 && p->lazy == 0 &&
	    p->revoked == 0 && strcmp(p->tenant, "tenant-a") == 0 &&
	    strcmp(p->device, "sim0") == 0,
	    "reopen: the reserved vfunc, its handle above INT64_MAX intact");
	ok(p != NULL && same_vectors(vec_res, 2, l.vecs[at], l.nvecs[at]),
	    "reopen: its vectors");
	p = find_vf(&l, vf_lazy.id, &at);
	ok(p != NULL && same_vfunc(p, &vf_lazy), "reopen: the lazy vfunc");
	ok(p != NULL && same_vectors(vec_lazy, 1, l.vecs[at], l.nvecs[at]),
	    "reopen: its vector, with the slot it was bound to");
	is_int(store_load_devices(load_dev, &l), 0,
	    "reopen: store_load_devices reads them");
	ok(l.ndev == 1 && strcmp(l.dev[0].name, "simz") == 0 &&
	    strcmp(l.dev[0].backend, "vfio") == 0 &&
	    strcmp(l.dev[0].address, "0000:00:03.0") == 0 &&
	    l.dev[0].slots == 8 && l.dev[0].policy == 1 && l.dev[0].flags == 1,
	    "reopen: the device attached at run time");
	is_int(store_tenant_check("tenant-a", tok), 1,
	    "reopen: the tenant's token is its own");
	is_int(store_tenant_check("tenant-a", other), 0,
	    "reopen: another token is not");
	is_int(store_tenant_check("nobody", tok), -ENOENT,
	    "reopen: an unknown tenant: ENOENT");
	ok(store_tenant_owner("tenant-a", &owner) == 0 && owner == 1234,
	    "reopen: the tenant is bound to its uid");
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/msivd.db", dir);
		ok(!file_has(path, tok, sizeof(tok)), "reopen: the token "
		    "itself is not in the database, only its seal");
	}

	/* Removals and a revocation, committed, then read back. */
	w = store_vector_del(vf_res.id, 2);
	w |= store_vfunc_revoke(vf_lazy.id, MSIV_GONE_DEVICE);
	is_int(w, 0, "remove: a vector deleted, a vfunc revoked");
	is_int(store_device_del("simz"), 1, "remove: the device was stored");
	is_int(store_device_del("simz"), 0, "remove: a second time it was not");
	is_int(store_flush(), 0, "remove: committed");
	store_close();
	if (!ok(open_store(dir) == 0, "remove: the store opens again"))
		return;
	memset(&l, 0, sizeof(l));
	(void)store_load(load_one, &l);
	(void)store_load_devices(load_dev, &l);
	p = find_vf(&l, vf_res.id, &at);
	want[0] = vec_res[0];
	ok(p != NULL && same_vectors(want, 1, l.vecs[at], l.nvecs[at]),
	    "remove: the vfunc keeps the vector not deleted");
	p = find_vf(&l, vf_lazy.id, &at);
	ok(p != NULL && p->revoked == MSIV_GONE_DEVICE && l.nvecs[at] == 0,
	    "remove: the revoked vfunc stays, marked, with no vectors");
	is_int((long long)l.ndev, 0, "remove: the device is gone");
	is_int(store_vfunc_del(vf_res.id), 0, "remove: a vfunc deleted");
	is_int(store_flush(), 0, "remove: committed");
	is_int(store_vfunc_get(vf_res.id, &got, vecs, NVEC_MAX, &n), 0,
	    "remove: it is not found any more");
	is_int(sql_int(dir, "SELECT count(*) FROM vector"), 0,
	    "remove: and its vectors went with it");
	store_close();
}

/* --- a store of an older schema ----------------------------------------- */

/*
 * A database as msivd of schema 2 wrote it: the tables of the first two
 * migrations (store.c's migrations[0] and [1], never edited once
 * released), with a tenant whose token is kept in the clear.
 */
static const char schema2[] =
	"CREATE TABLE tenant ("
	"  name TEXT PRIMARY KEY,"
	"  token BLOB NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE vfunc ("
	"  id INTEGER PRIMARY KEY,"
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
	"  PRIMARY KEY (vfunc, idx)) WITHOUT ROWID;"
	"CREATE TABLE device ("
	"  name TEXT PRIMARY KEY,"
	"  backend TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  slots INTEGER NOT NULL,"
	"  policy INTEGER NOT NULL,"
	"  flags INTEGER NOT NULL);"
	"INSERT INTO tenant VALUES ('old', "
	"  x'a1a2a3a4a5a6a7a8a9aaabacadaeafb0', 1);"
	"INSERT INTO vfunc VALUES (77, 'old', 'sim0', 8, 2, 1, 1, 0);"
	"INSERT INTO vector VALUES (77, 1, 4276092928, 33, 4276092928, 33, 2,"
	"  3, 0);"
	"INSERT INTO device VALUES ('simy', 'sim', '', 16, 1, 0);"
	"PRAGMA user_version = 2;";

static void
test_migration(void)
{
	static const uint8_t tok[MSIV_TOKEN_LEN] = {
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0,
	};
	const struct store_vector want = {
		.idx = 1, .prog_addr = 0xfee00000u, .prog_data = 33,
		.eff_addr = 0xfee00000u, .eff_data = 33, .flags = 2,
		.written = 3, .mode = 0, .slot = MSIV_SLOT_NONE,
	};
	struct loaded l = { 0 };
	const struct store_vfunc *p;
	char dir[128], path[160];
	int64_t owner = 0;
	size_t at = 0;

	mkstate(dir, sizeof(dir), "schema2");
	if (sql_exec(dir, schema2) < 0)
		tap_bail("cannot write the schema 2 database");
	snprintf(path, sizeof(path), "%s/msivd.db", dir);
	ok(file_has(path, tok, sizeof(tok)), "migrate: (the old database "
	    "holds the token in the clear)");
	if (!ok(open_store(dir) == 0, "migrate: a schema 2 store opens"))
		return;
	is_int(sql_int(dir, "PRAGMA user_version"), STORE_SCHEMA_VERSION,
	    "migrate: it is at the current schema now");
	(void)store_load(load_one, &l);
	p = find_vf(&l, 77, &at);
	ok(p != NULL && strcmp(p->tenant, "old") == 0 && p->first == 8 &&
	    p->nvec == 2 && p->policy == 1 && p->enabled == 1 &&
	    p->fmasked == 0 && p->revoked == 0 && p->lazy == 0,
	    "migrate: the vfunc is kept, not revoked, not lazy");
	ok(p != NULL && same_vectors(&want, 1, l.vecs[at], l.nvecs[at]),
	    "migrate: its vector is kept, bound to no slot of its own");
	(void)store_load_devices(load_dev, &l);
	ok(l.ndev == 1 && strcmp(l.dev[0].name, "simy") == 0 &&
	    l.dev[0].slots == 16, "migrate: the device is kept");
	is_int(store_tenant_check("old", tok), 1,
	    "migrate: the tenant's token still resumes it");
	ok(store_tenant_owner("old", &owner) == 0 && owner == -1,
	    "migrate: the tenant is bound to no uid yet");
	store_close();
	ok(!file_has(path, tok, sizeof(tok)), "migrate: the token in the "
	    "clear is gone from the database file");
	snprintf(path, sizeof(path), "%s/msivd.db-wal", dir);
	ok(!file_has(path, tok, sizeof(tok)), "migrate: and from its WAL");
}

/* --- refused stores ------------------------------------------------------ */

static void
refused(const char *name, const char *dir, enum store_error want,
    const char *msg)
{
	char err[1024] = "";
	enum store_error e = store_open(dir, base, err, sizeof(err));

	is_int(e, want, "%s: refused with error %d", name, want);
	if (!ok(strstr(err, msg) != NULL, "%s: the error says \"%s\"", name,
	    msg))
		tap_diag("it says: %s", err);
	if (e == STORE_OK)
		store_close();
}

static void
test_refused(void)
{
	unsigned char *before, *after;
	size_t nb, na;
	char dir[128], path[160];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/missing", root);
	refused("missing", dir, STORE_ERR_MISSING, "does not exist");

	mkstate(dir, sizeof(dir), "corrupt");
	snprintf(path, sizeof(path), "%s/msivd.db", dir);
	f = fopen(path, "we");
	for (int i = 0; f != NULL && i < 2000; i++)
		fputs("this is not a database ", f);
	if (f == NULL || fclose(f) != 0)
		tap_bail("corrupt file");
	before = slurp(path, &nb);
	refused("corrupt", dir, STORE_ERR_CORRUPT, "move it away");
	after = slurp(path, &na);
	ok(before != NULL && after != NULL && nb == na &&
	    memcmp(before, after, nb) == 0, "corrupt: the file is untouched");
	free(before);
	free(after);

	mkstate(dir, sizeof(dir), "newer");
	if (sql_exec(dir, "CREATE TABLE future(x); INSERT INTO future "
	    "VALUES (1); PRAGMA user_version = 99;") < 0)
		tap_bail("newer database");
	refused("newer", dir, STORE_ERR_NEWER, "newer msivd");
	is_int(sql_int(dir, "PRAGMA user_version"), 99,
	    "newer: its schema version is untouched");
	is_int(sql_int(dir, "SELECT x FROM future"), 1,
	    "newer: and so are its rows");
	is_int(sql_int(dir, "SELECT count(*) FROM sqlite_master WHERE "
	    "name = 'vfunc'"), 0, "newer: no table of ours was added");
}

int
main(void)
{
	char cmd[128];

	umask(077); /* as msivd(8) sets it: the store's files are its alone */
	log_init(1, LOG_LEVEL_WARN);
	snprintf(root, sizeof(root), "/tmp/msiv-store-XXXXXX");
	if (mkdtemp(root) == NULL)
		tap_bail("mkdtemp");
	if ((base = event_base_new()) == NULL)
		tap_bail("event_base_new");
	test_roundtrip();
	test_migration();
	test_refused();
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		tap_diag("cannot remove %s", root);
	return tap_done();
}
