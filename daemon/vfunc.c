/*
 * Virtual function lifetime: slot allocation, handles, release (rules 8
 * and 9), the binding of a lazy vfunc's vectors to slots, revocation, the
 * vector operations' lock and done (one call of vector.c each, its
 * actions carried out under the lock; the operations themselves are in
 * cmd-vector.c), and the orphan state between a session's end and its
 * tenant's resume (msiv-protocol(7), MSI-X SEMANTICS). It records a
 * vfunc's own row in the store; a vector's state and the write-behind
 * queue are vfunc-store.c's, restore is vfunc-restore.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "deliver.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "vfunc.h"

#define VFUNC_HASH 1024u

struct vfunc_list vfuncs = TAILQ_HEAD_INITIALIZER(vfuncs);
static struct vfunc *vfunc_hash[VFUNC_HASH];
static uint32_t vfunc_n, vfunc_nvec;
struct vfunc_list vfunc_behind = TAILQ_HEAD_INITIALIZER(vfunc_behind);

static struct vfunc **
vfunc_bucket(uint64_t id)
{
	return &vfunc_hash[(id ^ (id >> 32)) % VFUNC_HASH];
}

struct vfunc *
vfunc_find(uint64_t id)
{
	struct vfunc *vf;

	for (vf = *vfunc_bucket(id); vf != NULL; vf = vf->hnext)
		if (vf->id == id)
			return vf;
	return NULL;
}

static int
vfunc_new_id(uint64_t *id)
{
	do {
		if (getrandom(id, sizeof(*id), 0) != sizeof(*id))
			return -errno;
		/* Handles are stored as SQLite's signed 64-bit integers
		 * and shown as hex: any nonzero value will do. */
	} while (*id == 0 || vfunc_find(*id) != NULL);
	return 0;
}

/* Put a slot back in the unowned state: disabled, so interrupts drop.
 * The signals its trigger holds unread are the old owner's. */
static void
vfunc_reset_slot(struct slot *s, enum vector_policy policy)
{
	int old;

	deliver_lock(s);
	vector_init(&s->vec, policy);
	deliver_reset(s);
	old = slot_target_take(s);
	s->direct = false;
	/* The device stops signalling the target; the vector is reset (no
	 * target, disabled): nothing to carry out. */
	(void)slot_route(s, 0);
	pthread_mutex_unlock(&s->lock);
	slot_target_close(old);
}

static void
vfunc_reset_slots(struct vfunc *vf)
{
	for (uint32_t i = 0; i < vf->nvec; i++)
		vfunc_reset_slot(vfunc_slot(vf, i), vf->policy);
}

/* A lazy vfunc's own memory (none once it is gone). */
static void
vfunc_free_lazy(struct vfunc *vf)
{
	if (vf->park != NULL)
		for (uint32_t i = 0; i < vf->nvec; i++)
			pthread_mutex_destroy(&vf->park[i].lock);
	free(vf->park);
	free(vf->map);
	free(vf->nospace);
	vf->park = NULL;
	vf->map = NULL;
	vf->nospace = NULL;
}

static void
vfunc_free(struct vfunc *vf)
{
	vfunc_free_lazy(vf);
	free(vf->dirty);
	free(vf);
}

/* A lazy vfunc's own memory: every vector unbound, parked in the reset
 * state. A parked slot has no trigger and no index; no loop watches it. */
static int
vfunc_create_lazy(struct vfunc *vf, struct device *dev)
{
	vf->map = calloc(vf->nvec, sizeof(*vf->map));
	vf->park = calloc(vf->nvec, sizeof(*vf->park));
	vf->nospace = calloc(vf->nvec, sizeof(*vf->nospace));
	if (vf->map == NULL || vf->park == NULL || vf->nospace == NULL) {
		free(vf->park);
		vf->park = NULL;
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < vf->nvec; i++) {
		struct slot *p = &vf->park[i];

		vf->map[i] = MSIV_SLOT_NONE;
		pthread_mutex_init(&p->lock, NULL);
		vector_init(&p->vec, vf->policy);
		p->target = -1;
		p->trigger = -1;
		p->routed = -1;
		p->index = MSIV_SLOT_NONE;
		p->dev = dev;
		p->owned = true;
	}
	return 0;
}

/* Memory only: a vfunc on slots [first, first + nvec) of dev, all reset,
 * or lazy (no slot yet); or, with dev NULL, one that is gone (restored
 * from the store). */
int
vfunc_create(struct device *dev, uint64_t id, uint32_t first, uint32_t nvec,
    enum vector_policy policy, bool lazy, const char *tenant,
    struct vfunc **out)
{
	struct vfunc *vf;
	int r;

	vf = calloc(1, sizeof(*vf));
	if (vf == NULL)
		return -ENOMEM;
	vf->dirty = calloc((nvec + 63) / 64, sizeof(uint64_t));
	if (vf->dirty == NULL) {
		free(vf);
		return -ENOMEM;
	}
	vf->id = id;
	vf->dev = dev;
	vf->first = lazy ? MSIV_SLOT_NONE : first;
	vf->nvec = nvec;
	vf->policy = policy;
	vf->lazy = lazy;
	memcpy(vf->tenant, tenant, sizeof(vf->tenant));
	if (dev != NULL && lazy) {
		memcpy(vf->device, dev->name, sizeof(vf->device));
		if ((r = vfunc_create_lazy(vf, dev)) < 0) {
			vfunc_free(vf);
			return r;
		}
		dev->lazy_nvec += nvec; /* restored ones too, even past
					   device_lazy_max() */
		vfunc_nvec += nvec;
	} else if (dev != NULL) {
		memcpy(vf->device, dev->name, sizeof(vf->device));
		/* Rule 9: the host side is armed while every vector is
		 * still masked and the function disabled, before anything
		 * can be deliverable. */
		if ((r = device_slots_make(dev, first, nvec)) < 0 ||
		    (r = dev->ops->arm(dev, first, nvec)) < 0) {
			free(vf->dirty);
			free(vf);
			return r;
		}
		vf->bound = nvec;
		for (uint32_t i = 0; i < nvec; i++)
			device_slot_held(dev, first + i)->owned = true;
		dev->used += nvec;
		vfunc_reset_slots(vf);
		vfunc_nvec += nvec;
	}
	vf->hnext = *vfunc_bucket(vf->id);
	*vfunc_bucket(vf->id) = vf;
	TAILQ_INSERT_TAIL(&vfuncs, vf, entry);
	vfunc_n++;
	*out = vf;
	return 0;
}

static void
vfunc_row(const struct vfunc *vf, struct store_vfunc *row)
{
	memset(row, 0, sizeof(*row));
	row->id = vf->id;
	memcpy(row->tenant, vf->tenant, sizeof(row->tenant));
	memcpy(row->device, vf->device, sizeof(row->device));
	row->first = vf->first;
	row->nvec = vf->nvec;
	row->lazy = vf->lazy;
	row->policy = (uint32_t)vf->policy;
	row->enabled = vf->enabled;
	row->fmasked = vf->fmasked;
	row->revoked = vf->gone;
}

int
vfunc_open(struct session *sess, const char *tenant, struct device *dev,
    uint32_t nvec, enum vector_policy policy, bool lazy, struct vfunc **out)
{
	struct store_vfunc row;
	uint64_t id;
	uint32_t first = MSIV_SLOT_NONE;
	int r;

	if (!lazy && (r = device_find_free(dev, nvec, &first)) < 0)
		return r;
	if (lazy && nvec > device_lazy_max(dev) - dev->lazy_nvec)
		return -ENOSPC;
	if ((r = vfunc_new_id(&id)) < 0)
		return r;
	r = vfunc_create(dev, id, first, nvec, policy, lazy, tenant, out);
	if (r < 0)
		return r;
	(*out)->session = sess;
	vfunc_row(*out, &row);
	if ((r = store_vfunc_put(&row)) < 0) {
		vfunc_close(*out, false);
		return r;
	}
	return 0;
}

void
vfunc_unqueue(struct vfunc *vf)
{
	if (vf->dirty_queued) {
		TAILQ_REMOVE(&vfunc_behind, vf, dentry);
		vf->dirty_queued = false;
	}
}

/* Free every vector and give the slots back to the device (rule 8:
 * nothing is delivered once this returns). */
static void
vfunc_release_slots(struct vfunc *vf)
{
	if (vf->dev == NULL)
		return;
	vfunc_reset_slots(vf);
	if (vf->lazy) {
		for (uint32_t i = 0; i < vf->nvec; i++)
			vfunc_unbind(vf, i);
		vf->dev->lazy_nvec -= vf->nvec;
		vfunc_free_lazy(vf); /* gone or closed: no vector left */
	} else {
		vf->dev->ops->disarm(vf->dev, vf->first, vf->nvec);
		for (uint32_t i = 0; i < vf->nvec; i++)
			vfunc_slot(vf, i)->owned = false;
		vf->dev->used -= vf->nvec;
		vf->bound = 0;
	}
	vf->dev = NULL;
	vfunc_nvec -= vf->nvec;
	vfunc_unqueue(vf);
}

int
vfunc_bind(struct vfunc *vf, uint32_t vector, uint32_t want)
{
	struct device *dev = vf->dev;
	struct slot *p = &vf->park[vector], *s;
	uint32_t idx = want;
	int r;

	if (vfunc_bound(vf, vector))
		return 0;
	if (want == MSIV_SLOT_NONE) {
		if ((r = device_find_free(dev, 1, &idx)) < 0)
			return r;
	} else if (want >= dev->nslots ||
	    ((s = device_slot(dev, want)) != NULL && s->owned))
		return -EEXIST;
	if ((s = device_slot_make(dev, idx)) == NULL)
		return -ENOMEM;
	/* Rule 9: armed while the vector has no target. */
	if ((r = dev->ops->arm(dev, idx, 1)) < 0)
		return r;
	s->owned = true;
	dev->used++;
	vf->bound++;
	/* The same path as a reserved vfunc's slots at open: a new owner
	 * under the slot's lock, what the trigger holds unread left to
	 * the old one. The delivery thread sees the unowned, disabled
	 * slot before and the vector's whole state after. */
	deliver_lock(s);
	s->vec = p->vec;
	deliver_reset(s);
	s->target = -1;
	s->direct = false;
	(void)slot_route(s, 0);
	pthread_mutex_unlock(&s->lock);
	vf->map[vector] = idx;
	return 0;
}

void
vfunc_unbind(struct vfunc *vf, uint32_t vector)
{
	struct slot *s, *p;
	uint32_t idx;

	if (!vf->lazy || (idx = vf->map[vector]) == MSIV_SLOT_NONE)
		return;
	s = device_slot_held(vf->dev, idx);
	p = &vf->park[vector];
	/* The vector's state (freed: no target) goes back to its parked
	 * slot; the slot, reset and disabled, drops what comes on it. */
	deliver_lock(s);
	p->vec = s->vec;
	pthread_mutex_unlock(&s->lock);
	vfunc_reset_slot(s, vf->dev->policy);
	vf->map[vector] = MSIV_SLOT_NONE;
	vf->dev->ops->disarm(vf->dev, idx, 1);
	s->owned = false;
	vf->dev->used--;
	vf->bound--;
}

void
vfunc_nospace(struct vfunc *vf, uint32_t vector, int r)
{
	struct slot *p = vfunc_vec_lock(vf, vector);
	uint32_t n;

	(void)vector_nospace(&p->vec);
	(void)vfunc_vec_done(vf, vector, 0, NULL);
	if (vf->nospace[vector] < UINT32_MAX)
		vf->nospace[vector]++;
	n = vf->nospace[vector];
	/* The first time, then at powers of two: a guest that retries
	 * cannot flood the log. */
	if ((n & (n - 1)) == 0)
		log_warnx("vfunc %016llx of tenant %s: vector %u has no slot on "
		    "%s (%s, %u time(s)): undeliverable, its pending bit set",
		    (unsigned long long)vf->id, vf->tenant, vector, vf->device,
		    r == -EDQUOT ? "the tenant's quota is used up" :
		    "the device has none free", n);
}

void
vfunc_close(struct vfunc *vf, bool forget)
{
	struct vfunc **pp;

	vfunc_release_slots(vf);
	vfunc_unqueue(vf); /* a gone one may be queued (its revocation) */
	for (pp = vfunc_bucket(vf->id); *pp != vf; pp = &(*pp)->hnext)
		;
	*pp = vf->hnext;
	TAILQ_REMOVE(&vfuncs, vf, entry);
	vfunc_n--;
	if (forget)
		(void)store_vfunc_del(vf->id); /* failure: resync restores it */
	vfunc_free(vf);
}

bool
vfunc_revoke(struct vfunc *vf, uint32_t reason)
{
	int r;

	if (vf->gone != 0)
		return false;
	log_info("vfunc %016llx of tenant %s on %s: %s", (unsigned long long)
	    vf->id, vf->tenant, vf->device, reason == MSIV_GONE_DEVICE ?
	    "revoked, the device went away" : "revoked by an admin");
	vfunc_release_slots(vf);
	vf->gone = reason;
	vf->enabled = false;
	vf->fmasked = false;
	if ((r = store_vfunc_revoke(vf->id, reason)) < 0) {
		errno = -r;
		log_warn("vfunc %016llx: cannot record the revocation",
		    (unsigned long long)vf->id);
	}
	return true;
}

bool
vfunc_device_busy(const struct device *dev)
{
	const struct vfunc *vf;

	TAILQ_FOREACH(vf, &vfuncs, entry)
		if (vf->dev == dev)
			return true;
	return false;
}

int
vfunc_gone_errno(const struct vfunc *vf)
{
	return vf->gone == MSIV_GONE_DEVICE ? -ENODEV : -EKEYREVOKED;
}

uint32_t
vfunc_count(void)
{
	return vfunc_n;
}

uint32_t
vfunc_vector_count(void)
{
	return vfunc_nvec;
}

struct slot *
vfunc_vec_lock(struct vfunc *vf, uint32_t vector)
{
	struct slot *s = vfunc_slot(vf, vector);

	deliver_lock(s);
	return s;
}

unsigned int
vfunc_vec_done(struct vfunc *vf, uint32_t vector, unsigned int act,
    struct vfunc_msg *msg)
{
	struct slot *s = vfunc_slot(vf, vector);

	if (msg != NULL) {
		msg->addr = s->vec.eff_addr;
		msg->data = s->vec.eff_data;
	}

	/* "Has a target" is the vector's VECTOR_F_TARGET; the fd is its
	 * resource, attached and detached with it. */
	if ((s->target >= 0) != ((s->vec.flags & VECTOR_F_TARGET) != 0))
		fatalx("vfunc %016llx vector %u: target fd %d, vector %s a "
		    "target", (unsigned long long)vf->id, vector, s->target,
		    (s->vec.flags & VECTOR_F_TARGET) ? "has" : "has no");
	/* Direct mode: routed before the acknowledgement, and before any
	 * delivery, which then covers what the move may have lost. */
	act = slot_route(s, act);
	deliver_actions(s, act);
	pthread_mutex_unlock(&s->lock);
	return act;
}

void
vfunc_vec_info(struct vfunc *vf, uint32_t vector, struct msiv_vec_info *info)
{
	struct slot *s = vfunc_vec_lock(vf, vector);
	const struct vector *v = &s->vec;

	deliver_settle(s);
	memset(info, 0, sizeof(*info));
	info->prog_addr = v->prog_addr;
	info->eff_addr = v->eff_addr;
	info->prog_data = v->prog_data;
	info->eff_data = v->eff_data;
	info->state = ((v->flags & VECTOR_F_MASKED) ? MSIV_VEC_MASKED : 0) |
	    ((v->flags & VECTOR_F_PENDING) ? MSIV_VEC_PENDING : 0) |
	    ((v->flags & VECTOR_F_TARGET) ? MSIV_VEC_TARGET : 0) |
	    ((v->flags & VECTOR_F_FMASKED) ? MSIV_VEC_FMASKED : 0) |
	    ((v->flags & VECTOR_F_ENABLED) ? MSIV_VEC_ENABLED : 0) |
	    ((v->flags & VECTOR_F_AWAIT) ? MSIV_VEC_ORPHANED : 0) |
	    (s->direct ? MSIV_VEC_DIRECT : 0) |
	    (s->routed >= 0 ? MSIV_VEC_ROUTED : 0);
	info->slot = s->index;
	info->fired = v->fired;
	info->delivered = v->delivered;
	info->coalesced = v->coalesced;
	info->dropped = v->dropped;
	(void)vfunc_vec_done(vf, vector, 0, NULL);
}
/* --- orphans ------------------------------------------------------------ */

void
vfunc_orphan(struct vfunc *vf, uint64_t now_ms)
{
	vf->session = NULL;
	vf->orphaned_ms = now_ms;
}

uint32_t
vfunc_reap(uint64_t now_ms, uint64_t grace_ms)
{
	struct vfunc *vf, *next;
	uint32_t n = 0;

	for (vf = TAILQ_FIRST(&vfuncs); vf != NULL; vf = next) {
		next = TAILQ_NEXT(vf, entry);
		if (vf->session != NULL || now_ms - vf->orphaned_ms < grace_ms)
			continue;
		log_info("vfunc %016llx of tenant %s released: no session for "
		    "%llu s (orphan_grace)", (unsigned long long)vf->id,
		    vf->tenant, (unsigned long long)(grace_ms / 1000));
		vfunc_close(vf, true);
		n++;
	}
	return n;
}

bool
vfunc_tenant_busy(const char *tenant)
{
	struct vfunc *vf;

	TAILQ_FOREACH(vf, &vfuncs, entry)
		if (strncmp(vf->tenant, tenant, MSIV_NAME_MAX) == 0)
			return true;
	return false;
}
