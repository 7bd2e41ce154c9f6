/*
 * The store: msivd's durable state in SQLite (WAL, synchronous=FULL).
 *
 * It holds tenants and the seals of their resume tokens (token.h), vfuncs (device, slots,
 * policy, enable and function-mask bits) and vectors (programmed and
 * effective message, mask and delivery mode): enough to rebuild every
 * state the daemon acknowledged. Only the control thread uses it; the
 * delivery loop never does.
 *
 * Writes go into one transaction per turn of the control thread's event
 * loop ("group commit"): the first write of a turn begins it, and an
 * event of the same priority as the sessions' commits it at the end of
 * that turn, once every request read in it has been handled. Replies to
 * requests that changed durable state are held until that commit
 * (session.c), so a change is on disk before it is acknowledged and
 * concurrent clients share one fsync.
 */
#ifndef MSIVD_STORE_H
#define MSIVD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#include <msiv/protocol.h>

#define STORE_SCHEMA_VERSION 7

struct event_base;

/* Why the store could not be opened: main() maps these to exit statuses. */
enum store_error {
	STORE_OK = 0,
	STORE_ERR_MISSING,    /* the state directory does not exist */
	STORE_ERR_READONLY,   /* it, or the database, cannot be written */
	STORE_ERR_FULL,       /* no space left */
	STORE_ERR_CORRUPT,    /* not a database, or integrity check failed */
	STORE_ERR_NEWER,      /* written by a newer msivd */
	STORE_ERR_OTHER,
};

struct store_vfunc {
	uint64_t id;
	char tenant[MSIV_NAME_MAX];
	char device[MSIV_NAME_MAX];
	uint32_t first;
	uint32_t nvec;
	uint32_t policy;
	uint32_t enabled;
	uint32_t fmasked;
	uint32_t revoked; /* 0, or MSIV_GONE_*: taken away, no vectors */
	uint32_t lazy;    /* slots on first use (MSIV_OPEN_LAZY) */
};

struct store_vector {
	uint32_t idx;
	uint64_t prog_addr;
	uint64_t eff_addr;
	uint32_t prog_data;
	uint32_t eff_data;
	uint32_t flags;   /* VECTOR_F_MASKED and VECTOR_F_TARGET ("set up") */
	uint32_t written;
	uint32_t mode;    /* delivery mode: 0 relay */
	uint32_t slot;    /* lazy vfunc: the slot bound, or MSIV_SLOT_NONE */
};

/* Open (creating if needed) DIR/msivd.db, run migrations and an integrity
 * check. On failure err says what is wrong and what to do. */
enum store_error store_open(const char *dir, struct event_base *base,
    char *err, size_t errlen);
void store_close(void);
/* The next store_open() is a handover's (handover.c): the old msivd used
 * the database until it handed over, so its integrity check is skipped. */
void store_trust(void);

/* Start-up: call fn for every vfunc with its vectors (only those not in
 * the reset state are stored). */
typedef void store_vfunc_fn(const struct store_vfunc *vf,
    const struct store_vector *vecs, size_t nvecs, void *arg);
int store_load(store_vfunc_fn *fn, void *arg);

/* Devices attached at run time (the configured ones are not stored). */
typedef void store_device_fn(const struct conf_device *d, void *arg);
int store_load_devices(store_device_fn *fn, void *arg);
int store_device_put(const struct conf_device *d);
/* Returns 1 if the device was stored, 0 if not, or -errno. */
int store_device_del(const char *name);

/*
 * Tenants and their resume tokens, of which the store keeps only a seal.
 * check: 1 if token is the tenant's, 0 if not, -ENOENT (no such tenant)
 * or -errno. put: 0 or -errno.
 */
int store_tenant_check(const char *name, const uint8_t token[MSIV_TOKEN_LEN]);
int store_tenant_put(const char *name, const uint8_t token[MSIV_TOKEN_LEN]);
/* The uid a tenant is bound to (*owner -1: not bound yet). Returns 0,
 * -ENOENT or -errno. owner_put binds a stored tenant, in the current
 * group transaction. */
int store_tenant_owner(const char *name, int64_t *owner);
int store_tenant_owner_put(const char *name, uint32_t uid);

/* Writes, inside the current group transaction. 0 or -errno. */
int store_vfunc_put(const struct store_vfunc *vf);
int store_vfunc_set(uint64_t id, uint32_t enabled, uint32_t fmasked);
int store_vfunc_del(uint64_t id);
/* Mark a vfunc revoked (reason MSIV_GONE_*) and drop its vectors. */
int store_vfunc_revoke(uint64_t id, uint32_t reason);
int store_vector_put(uint64_t vfunc, const struct store_vector *v);
int store_vector_del(uint64_t vfunc, uint32_t idx);
/* Read back one vfunc as committed (for recovery after a failed commit).
 * Returns 1 if found, 0 if not, -errno. vecs has room for nvec. */
int store_vfunc_get(uint64_t id, struct store_vfunc *vf,
    struct store_vector *vecs, size_t maxvecs, size_t *nvecs);

/* Is a group transaction open (some write happened this turn)? */
int store_in_txn(void);
/*
 * Called once a turn's transaction has been committed (status 0) or has
 * failed and been rolled back (status -errno). Set by server.c.
 */
typedef void store_commit_fn(int status, void *arg);
void store_set_commit_cb(store_commit_fn *fn, void *arg);
/* Commit now (shutdown; tests). */
int store_flush(void);

/* Figures for msivctl status and the benchmark; store_writes counts
 * every write (dispatch.c compares it around a handler). */
uint64_t store_commits(void);
/* The commit figures of METRICS (msiv-protocol(7)). */
struct msiv_metrics_rep;
void store_metrics(struct msiv_metrics_rep *m);
uint64_t store_writes(void);

#endif /* MSIVD_STORE_H */
