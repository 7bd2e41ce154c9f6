/*
 * Virtual MSI-X functions: a guest-visible table of nvec vectors backed by
 * nvec contiguous slots of one device, owned by one session. Handles are
 * random 64-bit values, so a handle cannot be guessed from another.
 *
 * A lazy vfunc (MSIV_OPEN_LAZY, slots on first use) reserves no slot: a
 * vector is bound to a free slot of the device when it is set up and gives
 * it back when it is freed. While unbound, a vector's state lives in a
 * parked slot of the vfunc's own (park[]), which no delivery loop watches;
 * the operations of cmd-vector.c reach either through vfunc_slot(). Only
 * the control thread binds and unbinds, each under the slot's lock, so
 * the delivery thread sees a slot either unowned (disabled: interrupts
 * drop) or with the vector's whole state.
 *
 * vfunc.c: allocation, handles, binding, release, the vector operations'
 * lock and done, orphans. vfunc-store.c: recording in the store, the
 * write-behind queue. vfunc-restore.c: restore at start-up, when a device
 * attaches and after a failed commit. The last two call vfunc.c, never
 * the reverse, nor each other.
 */
#ifndef MSIVD_VFUNC_H
#define MSIVD_VFUNC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <msiv/protocol.h>

#include "device.h"

struct conf;
struct event_base;
struct session;

struct vfunc {
	uint64_t id;
	struct device *dev;          /* NULL once gone */
	uint32_t gone;               /* 0, or MSIV_GONE_REVOKED or
					MSIV_GONE_DEVICE: taken away, its
					slots released; only VFUNC_CLOSE and
					the lists still accept it */
	char device[MSIV_NAME_MAX];  /* the device's name, kept when gone */
	struct session *session;     /* owner; NULL while orphaned */
	uint64_t orphaned_ms;        /* when it lost its session (monotonic) */
	uint32_t first;              /* first slot; MSIV_SLOT_NONE if lazy */
	uint32_t nvec;
	bool lazy;                   /* slots on first use */
	uint32_t *map;               /* lazy: vector -> slot, MSIV_SLOT_NONE
					while unbound */
	struct slot *park;           /* lazy: the state of unbound vectors */
	uint32_t *nospace;           /* lazy: setups per vector that found no
					slot (ENOSPC, EDQUOT) */
	uint32_t bound;              /* slots held: nvec, or bound (lazy) */
	enum vector_policy policy;
	bool enabled;                /* MSI-X Enable */
	bool fmasked;                /* Function Mask */
	char tenant[MSIV_NAME_MAX];
	bool dirty_queued;           /* on the write-behind queue */
	uint64_t *dirty;             /* vectors to write behind, a bit each */
	uint64_t ho_session;         /* handover: the session it belonged
					to, until that session is adopted */
	struct vfunc *hnext;         /* handle hash chain */
	TAILQ_ENTRY(vfunc) entry;    /* all vfuncs, in creation order */
	TAILQ_ENTRY(vfunc) sentry;   /* the owner session's */
	TAILQ_ENTRY(vfunc) dentry;   /* the write-behind queue */
};

TAILQ_HEAD(vfunc_list, vfunc);
extern struct vfunc_list vfuncs;

/* --- vfunc.c ---------------------------------------------------------- */

/* Allocate nvec slots of dev (-ENOSPC), arm them with the backend (host
 * side first, rule 9), put every vector in the reset state, and record it
 * in the store (in the turn's transaction). The vfunc belongs to tenant
 * and session s (which the caller's lists take it into). */
int vfunc_open(struct session *s, const char *tenant, struct device *dev,
    uint32_t nvec, enum vector_policy policy, bool lazy, struct vfunc **out);

/*
 * Lazy vfuncs. vfunc_bind: give the vector a free slot of the device (a
 * bound vector keeps its own), armed with the backend (rule 9) while the
 * vector has no target, its state moved there under the slot's lock;
 * what the slot's trigger holds unread is an earlier owner's
 * (deliver_reset), so nothing of it reaches the vector (rule 6 across a
 * rebind). -ENOSPC when the device has none. vfunc_unbind: a freed
 * vector's state goes back to its parked slot, and its slot, reset
 * (interrupts on it drop), back to the device. vfunc_nospace: a setup
 * found no slot (r: -ENOSPC or -EDQUOT): latch the pending bit
 * (vector_nospace), count it and log it (not every time: a guest may
 * retry). Control thread.
 */
int vfunc_bind(struct vfunc *vf, uint32_t vector, uint32_t slot);
void vfunc_unbind(struct vfunc *vf, uint32_t vector);
void vfunc_nospace(struct vfunc *vf, uint32_t vector, int r);
static inline bool
vfunc_bound(const struct vfunc *vf, uint32_t vector)
{
	return !vf->lazy || vf->map[vector] != MSIV_SLOT_NONE;
}
/* Free every vector (rule 8), disarm and release the slots, and delete it
 * from the store (unless !forget: shutdown keeps it there). Nothing is
 * delivered once this returns. */
void vfunc_close(struct vfunc *vf, bool forget);

/*
 * Take a vfunc away (reason MSIV_GONE_REVOKED or MSIV_GONE_DEVICE): its
 * vectors are freed and its slots released at once (nothing is delivered
 * once this returns) and the store marks it revoked. The handle stays,
 * answering vfunc_gone_errno(), until the tenant closes it. Returns true
 * if it was taken away now (false: it was gone already): the caller tells
 * the owner session, if any (VFUNC_GONE).
 */
bool vfunc_revoke(struct vfunc *vf, uint32_t reason);
/* Does a vfunc use dev (a lazy one may hold no slot of it)? */
bool vfunc_device_busy(const struct device *dev);
/* What calls on a gone vfunc fail with: -ENODEV (its device went away)
 * or -EKEYREVOKED (revoked by an admin). */
int vfunc_gone_errno(const struct vfunc *vf);

/* --- vfunc-store.c ---------------------------------------------------- */

/* Hand down, once, what the write-behind queue needs: the event base of
 * its timer and the configuration (write_behind_ms), which outlives the
 * daemon's run (a reload changes it in place). */
void vfunc_init(struct event_base *base, const struct conf *conf);

/* Record a vector's state in the store: now (durable: the reply waits for
 * the commit), or behind, within write_behind_ms (conf). */
int vfunc_persist(struct vfunc *vf, uint32_t vector, bool durable);
/* The same for the function-level bits. */
int vfunc_persist_bits(struct vfunc *vf, bool durable);
/* Write every queued write-behind change into the turn's transaction. */
void vfunc_flush_behind(void);
/* After a rollback: queue every vfunc to be written behind again (memory
 * holds what was acknowledged). */
void vfunc_requeue_all(void);

/* --- vfunc-restore.c -------------------------------------------------- */

/* Rebuild a vfunc from the store at start-up, orphaned: set-up vectors
 * wait for their targets to be re-attached, with their pending bit set.
 * Returns 0 or -errno (logged). */
struct store_vfunc;
struct store_vector;
int vfunc_restore(const struct store_vfunc *row,
    const struct store_vector *vecs, size_t nvecs);
/* Handover (handover.c): each vector's exact state, target and routing,
 * written by the old msivd (its loop parked) and put back by the new one
 * on the vfunc the store restored (0, or -errno with the reason given to
 * ho_fail()). */
struct ho_buf;
struct ho_rd;
void vfunc_handover_save(struct vfunc *vf, struct ho_buf *b);
int vfunc_handover_adopt(struct ho_rd *r);
/* After a crash under systemd: targets kept in the fd store, back on
 * their set-up vectors (fdstore.c). Returns how many. */
uint32_t vfunc_fdstore_recover(void);
/* Restore the stored vfuncs of a device that has just attached (run
 * time); returns how many. */
uint32_t vfunc_restore_device(const char *device);
/* After a failed commit: make the vfunc's memory match the store again.
 * Returns what the caller must do: nothing more (KEPT), close the vfunc,
 * which the store does not hold (CLOSE: its open failed), or give the
 * vfunc that came back (BACK: its close failed), orphaned, to the session
 * that asked. */
enum vfunc_resync {
	VFUNC_RESYNC_KEPT,
	VFUNC_RESYNC_CLOSE,
	VFUNC_RESYNC_BACK,
};
struct vfunc_msg {
	uint64_t addr;
	uint32_t data;
};
/* The effective messages a resync put back (rule 10, MSG_CHANGED): the
 * caller announces each to the vfunc's session, then frees vec. */
struct vfunc_changed {
	uint32_t n;
	struct vfunc_changed_vec {
		uint32_t vector;
		struct vfunc_msg msg;
	} *vec;
};
enum vfunc_resync vfunc_resync(uint64_t id, struct vfunc_changed *ch);

/* --- vfunc.c, continued ------------------------------------------------ */

/* The session ended: its vfuncs wait for the tenant to resume. */
void vfunc_orphan(struct vfunc *vf, uint64_t now_ms);
/* Release vfuncs orphaned for longer than grace_ms; returns how many. */
uint32_t vfunc_reap(uint64_t now_ms, uint64_t grace_ms);
/* Does the tenant hold any vfunc (live or orphaned)? */
bool vfunc_tenant_busy(const char *tenant);
struct vfunc *vfunc_find(uint64_t id);
uint32_t vfunc_count(void);
uint32_t vfunc_vector_count(void);

static inline struct slot *
vfunc_slot(const struct vfunc *vf, uint32_t vector)
{
	if (vf->lazy)
		return vf->map[vector] != MSIV_SLOT_NONE ?
		    device_slot_held(vf->dev, vf->map[vector]) :
		    &vf->park[vector];
	return device_slot_held(vf->dev, vf->first + vector);
}

/*
 * Every vector operation is: vfunc_vec_lock(), one vector_* call,
 * vfunc_vec_done() with its actions. done carries out a DELIVER under the
 * lock (doc/delivery.md), releases it, and returns the actions carried out;
 * msg (NULL: not wanted) gets the effective message the operation
 * left. The caller announces a MSG_CHANGED to the owner (rule 10:
 * cmd_vec_done).
 */
struct slot *vfunc_vec_lock(struct vfunc *vf, uint32_t vector);
unsigned int vfunc_vec_done(struct vfunc *vf, uint32_t vector,
    unsigned int act, struct vfunc_msg *msg);
/* A vector's state for VEC_QUERY and VEC_LIST. */
void vfunc_vec_info(struct vfunc *vf, uint32_t vector,
    struct msiv_vec_info *info);

/* --- between vfunc.c, vfunc-store.c and vfunc-restore.c only ----------- */

/* The store's vector flags: the mask bit, and "set up" (a target is
 * attached or awaits re-attachment). */
#define VFUNC_ROW_MASKED 0x1u
#define VFUNC_ROW_SETUP  0x2u

/* Memory only: a vfunc on slots [first, first + nvec) of dev, all reset,
 * or lazy (no slot yet); or, with dev NULL, one that is gone (restored
 * from the store). (vfunc.c) */
int vfunc_create(struct device *dev, uint64_t id, uint32_t first,
    uint32_t nvec, enum vector_policy policy, bool lazy, const char *tenant,
    struct vfunc **out);
/* The write-behind queue (vfunc-store.c fills and writes it), and taking
 * a vfunc off it (at release). (vfunc.c) */
extern struct vfunc_list vfunc_behind;
void vfunc_unqueue(struct vfunc *vf);
#endif /* MSIVD_VFUNC_H */
