/*
 * Virtual function lifetime: slot allocation, handles, release (rules 8
 * and 9), persistence in the store, restore at start-up, and the orphan
 * state between a session's end and its tenant's resume. The vector
 * operations themselves are in cmd-vector.c.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "deliver.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "vfunc.h"

#define VFUNC_HASH 1024u

/* The store's vector flags: the mask bit, and "set up" (a target is
 * attached or awaits re-attachment). */
#define VFUNC_ROW_MASKED 0x1u
#define VFUNC_ROW_SETUP  0x2u

struct vfunc_list vfuncs = TAILQ_HEAD_INITIALIZER(vfuncs);
static struct vfunc *vfunc_hash[VFUNC_HASH];
static uint32_t vfunc_n, vfunc_nvec;
static TAILQ_HEAD(, vfunc) vfunc_behind = TAILQ_HEAD_INITIALIZER(vfunc_behind);
static struct event *vfunc_behind_ev;
static struct event_base *vfunc_base;
static const struct conf *vfunc_conf;

void
vfunc_init(struct event_base *base, const struct conf *conf)
{
	vfunc_base = base;
	vfunc_conf = conf;
}

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
	old = s->target;
	s->target = -1;
	s->direct = false;
	/* The device stops signalling the target; the vector is reset (no
	 * target, disabled): nothing to carry out. */
	(void)slot_route(s, 0);
	pthread_mutex_unlock(&s->lock);
	if (old >= 0)
		close(old);
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
		p->vfunc = vf;
	}
	return 0;
}

/* Memory only: a vfunc on slots [first, first + nvec) of dev, all reset,
 * or lazy (no slot yet); or, with dev NULL, one that is gone (restored
 * from the store). */
static int
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
		if ((r = dev->ops->arm(dev, first, nvec)) < 0) {
			free(vf->dirty);
			free(vf);
			return r;
		}
		vf->bound = nvec;
		for (uint32_t i = 0; i < nvec; i++)
			dev->slots[first + i].vfunc = vf;
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

static void
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
			vfunc_slot(vf, i)->vfunc = NULL;
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
	} else if (want >= dev->nslots || dev->slots[want].vfunc != NULL)
		return -EEXIST;
	/* Rule 9: armed while the vector has no target. */
	if ((r = dev->ops->arm(dev, idx, 1)) < 0)
		return r;
	s = &dev->slots[idx];
	s->vfunc = vf;
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
	s = &vf->dev->slots[idx];
	p = &vf->park[vector];
	/* The vector's state (freed: no target) goes back to its parked
	 * slot; the slot, reset and disabled, drops what comes on it. */
	deliver_lock(s);
	p->vec = s->vec;
	pthread_mutex_unlock(&s->lock);
	vfunc_reset_slot(s, vf->dev->policy);
	vf->map[vector] = MSIV_SLOT_NONE;
	vf->dev->ops->disarm(vf->dev, idx, 1);
	s->vfunc = NULL;
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

/* --- persistence -------------------------------------------------------- */

static int
vfunc_write_vector(struct vfunc *vf, uint32_t vector)
{
	struct slot *s = vfunc_slot(vf, vector);
	struct store_vector row = { .idx = vector };
	bool setup;

	deliver_lock(s);
	row.prog_addr = s->vec.prog_addr;
	row.prog_data = s->vec.prog_data;
	row.eff_addr = s->vec.eff_addr;
	row.eff_data = s->vec.eff_data;
	row.written = s->vec.written;
	row.mode = s->direct ? 1 : 0;
	row.slot = vf->lazy ? vf->map[vector] : MSIV_SLOT_NONE;
	row.flags = (s->vec.flags & VECTOR_F_MASKED) ? VFUNC_ROW_MASKED : 0;
	setup = vector_is_set_up(&s->vec);
	pthread_mutex_unlock(&s->lock);
	if (setup)
		row.flags |= VFUNC_ROW_SETUP;
	vf->dirty[vector / 64] &= ~((uint64_t)1 << (vector % 64));
	/* The reset state is the absence of a row. */
	if (row.flags == VFUNC_ROW_MASKED && row.prog_addr == 0 &&
	    row.prog_data == 0 && row.eff_addr == 0 && row.eff_data == 0 &&
	    row.written == 0 && row.mode == 0)
		return store_vector_del(vf->id, vector);
	return store_vector_put(vf->id, &row);
}

static void
vfunc_behind_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	vfunc_flush_behind();
}

static void
vfunc_queue(struct vfunc *vf)
{
	const struct conf *c = vfunc_conf;

	if (!vf->dirty_queued) {
		TAILQ_INSERT_TAIL(&vfunc_behind, vf, dentry);
		vf->dirty_queued = true;
	}
	if (vfunc_behind_ev == NULL) {
		vfunc_behind_ev = evtimer_new(vfunc_base, vfunc_behind_cb,
		    NULL);
		if (vfunc_behind_ev == NULL)
			fatalx("cannot create the write-behind timer");
	}
	if (!evtimer_pending(vfunc_behind_ev, NULL)) {
		struct timeval tv = {
			.tv_sec = c->write_behind_ms / 1000,
			.tv_usec = (c->write_behind_ms % 1000) * 1000,
		};

		evtimer_add(vfunc_behind_ev, &tv);
	}
}

int
vfunc_persist(struct vfunc *vf, uint32_t vector, bool durable)
{
	if (durable || vfunc_conf->write_behind_ms == 0)
		return vfunc_write_vector(vf, vector);
	vf->dirty[vector / 64] |= (uint64_t)1 << (vector % 64);
	vfunc_queue(vf);
	return 0;
}

int
vfunc_persist_bits(struct vfunc *vf, bool durable)
{
	if (durable || vfunc_conf->write_behind_ms == 0)
		return store_vfunc_set(vf->id, vf->enabled, vf->fmasked);
	vfunc_queue(vf); /* the row is written with the dirty vectors */
	return 0;
}

void
vfunc_flush_behind(void)
{
	struct vfunc *vf;

	while ((vf = TAILQ_FIRST(&vfunc_behind)) != NULL) {
		vfunc_unqueue(vf);
		if (vf->gone != 0) {
			/* Its revocation was rolled back with a failed turn:
			 * it cannot be undone, so it is written again. */
			(void)store_vfunc_revoke(vf->id, vf->gone);
			continue;
		}
		(void)store_vfunc_set(vf->id, vf->enabled, vf->fmasked);
		for (uint32_t w = 0; w < (vf->nvec + 63) / 64; w++)
			while (vf->dirty[w] != 0) {
				uint32_t b = (uint32_t)__builtin_ctzll(vf->dirty[w]);

				(void)vfunc_write_vector(vf, w * 64 + b);
			}
	}
	if (vfunc_behind_ev != NULL)
		evtimer_del(vfunc_behind_ev);
}

void
vfunc_requeue_all(void)
{
	struct vfunc *vf;

	TAILQ_FOREACH(vf, &vfuncs, entry) {
		if (vf->gone != 0) {
			vfunc_queue(vf); /* the revocation, again */
			continue;
		}
		for (uint32_t i = 0; i < vf->nvec; i++)
			vf->dirty[i / 64] |= (uint64_t)1 << (i % 64);
		vfunc_queue(vf);
	}
}

/* A vector's persisted state, as vector.c takes it. */
static void
vfunc_saved(const struct store_vector *row, struct vector_saved *sv)
{
	memset(sv, 0, sizeof(*sv));
	sv->prog_addr = row->prog_addr;
	sv->prog_data = row->prog_data;
	sv->eff_addr = row->eff_addr;
	sv->eff_data = row->eff_data;
	sv->written = (uint8_t)(row->written & VECTOR_W_ALL);
	sv->masked = (row->flags & VFUNC_ROW_MASKED) != 0;
	sv->setup = (row->flags & VFUNC_ROW_SETUP) != 0;
}

/* With the slot locked, its target gone: load vector state from its row
 * (vector_restore: a set-up vector awaits its target with its pending bit
 * set). Returns the actions. */
static unsigned int
vfunc_restore_vector(struct vfunc *vf, struct slot *s,
    const struct store_vector *row)
{
	struct vector_saved sv;
	unsigned int act;

	vfunc_saved(row, &sv);
	act = vector_restore(&s->vec, &sv, vf->enabled, vf->fmasked);
	deliver_reset(s);
	s->direct = row->mode == 1 && vf->dev->ops->route != NULL;
	return act;
}

static void
vfunc_load_vector(struct vfunc *vf, const struct store_vector *row)
{
	struct slot *s = vfunc_vec_lock(vf, row->idx);

	/* At start-up, or a vfunc that comes back: no session to tell. */
	vfunc_vec_done(vf, row->idx, vfunc_restore_vector(vf, s, row), NULL);
}

/* The vfunc's enable and function-mask bits, to each of its vectors. */
static void
vfunc_load_bits(struct vfunc *vf)
{
	for (uint32_t i = 0; i < vf->nvec; i++) {
		struct slot *s = vfunc_vec_lock(vf, i);
		unsigned int act;

		act = vector_set_enabled(&s->vec, vf->enabled);
		act |= vector_set_fmask(&s->vec, vf->fmasked);
		vfunc_vec_done(vf, i, act, NULL);
	}
}

/*
 * A lazy vfunc: each set-up vector is bound again to the slot it had, so
 * msivctl fire and the host IRQ stay where they were. Should that slot be
 * taken (a store edited by hand) another free one is used, and with none
 * left the vector stays unbound, its pending bit latched, as at an
 * ENOSPC setup.
 */
static int
vfunc_restore_lazy(struct device *dev, const struct store_vfunc *row,
    const struct store_vector *vecs, size_t nvecs)
{
	struct vfunc *vf;
	int r;

	if (row->nvec == 0 || row->nvec > MSIV_VECTORS_MAX ||
	    row->policy < VECTOR_POLICY_LATCH ||
	    row->policy > VECTOR_POLICY_LIVE) {
		log_warnx("store: vfunc %016llx: %u vectors, policy %u: not "
		    "restored", (unsigned long long)row->id, row->nvec,
		    row->policy);
		return -ERANGE;
	}
	r = vfunc_create(dev, row->id, MSIV_SLOT_NONE, row->nvec,
	    (enum vector_policy)row->policy, true, row->tenant, &vf);
	if (r < 0)
		return r;
	vf->enabled = row->enabled != 0;
	vf->fmasked = row->fmasked != 0;
	vfunc_load_bits(vf);
	for (size_t i = 0; i < nvecs; i++) {
		const struct store_vector *v = &vecs[i];

		if (v->idx >= vf->nvec)
			continue;
		if (v->flags & VFUNC_ROW_SETUP) {
			r = vfunc_bind(vf, v->idx, v->slot);
			if (r < 0 && v->slot != MSIV_SLOT_NONE) {
				log_warnx("store: vfunc %016llx vector %u: slot "
				    "%u of %s is not free; another is used",
				    (unsigned long long)row->id, v->idx,
				    v->slot, dev->name);
				r = vfunc_bind(vf, v->idx, MSIV_SLOT_NONE);
			}
			if (r < 0)
				vfunc_nospace(vf, v->idx, r);
		}
		vfunc_load_vector(vf, v);
	}
	vf->orphaned_ms = clock_now_ms();
	return 0;
}

int
vfunc_restore(const struct store_vfunc *row, const struct store_vector *vecs,
    size_t nvecs)
{
	struct device *dev = device_find(row->device);
	struct vfunc *vf;
	int r;

	if (vfunc_find(row->id) != NULL)
		return -EEXIST; /* already here (gone, or restored before) */
	if (row->revoked != 0 && row->nvec <= MSIV_VECTORS_MAX) {
		/* Taken away before the restart: it waits, with no slots,
		 * for its tenant to close it. */
		if ((r = vfunc_create(NULL, row->id, row->first, row->nvec,
		    VECTOR_POLICY_LATCH, row->lazy != 0, row->tenant, &vf)) < 0)
			return r;
		memcpy(vf->device, row->device, sizeof(vf->device));
		vf->gone = row->revoked == MSIV_GONE_DEVICE ?
		    MSIV_GONE_DEVICE : MSIV_GONE_REVOKED;
		vf->orphaned_ms = clock_now_ms();
		return 0;
	}
	if (dev == NULL) {
		log_warnx("store: vfunc %016llx of tenant %s: device %s is not "
		    "configured; kept in the store, not restored",
		    (unsigned long long)row->id, row->tenant, row->device);
		return -ENODEV;
	}
	if (row->lazy != 0)
		return vfunc_restore_lazy(dev, row, vecs, nvecs);
	if (row->nvec == 0 || row->nvec > MSIV_VECTORS_MAX ||
	    row->first > dev->nslots || row->nvec > dev->nslots - row->first ||
	    row->policy < VECTOR_POLICY_LATCH ||
	    row->policy > VECTOR_POLICY_LIVE) {
		log_warnx("store: vfunc %016llx: slots %u+%u do not fit device "
		    "%s (%u slots); not restored", (unsigned long long)row->id,
		    row->first, row->nvec, dev->name, dev->nslots);
		return -ERANGE;
	}
	for (uint32_t i = 0; i < row->nvec; i++) {
		if (dev->slots[row->first + i].vfunc != NULL) {
			log_warnx("store: vfunc %016llx: slot %u of %s is taken "
			    "twice; not restored", (unsigned long long)row->id,
			    row->first + i, dev->name);
			return -EEXIST;
		}
	}
	r = vfunc_create(dev, row->id, row->first, row->nvec,
	    (enum vector_policy)row->policy, false, row->tenant, &vf);
	if (r < 0)
		return r;
	vf->enabled = row->enabled != 0;
	vf->fmasked = row->fmasked != 0;
	vfunc_load_bits(vf);
	for (size_t i = 0; i < nvecs; i++)
		if (vecs[i].idx < vf->nvec)
			vfunc_load_vector(vf, &vecs[i]);
	vf->orphaned_ms = clock_now_ms();
	return 0;
}

struct vfunc_restore_arg {
	const char *device;
	uint32_t count;
};

static void
vfunc_restore_one(const struct store_vfunc *row,
    const struct store_vector *vecs, size_t n, void *arg)
{
	struct vfunc_restore_arg *a = arg;

	if (strcmp(row->device, a->device) == 0 &&
	    vfunc_restore(row, vecs, n) == 0)
		a->count++;
}

uint32_t
vfunc_restore_device(const char *device)
{
	struct vfunc_restore_arg a = { .device = device };

	if (store_load(vfunc_restore_one, &a) < 0)
		log_warnx("device %s: cannot read its vfuncs from the store",
		    device);
	return a.count;
}

/* A resync's MSG_CHANGED, for the caller to announce. */
static void
vfunc_changed_add(struct vfunc_changed *ch, uint32_t vector,
    const struct vfunc_msg *msg)
{
	ch->vec[ch->n].vector = vector;
	ch->vec[ch->n].msg = *msg;
	ch->n++;
}

enum vfunc_resync
vfunc_resync(uint64_t id, struct vfunc_changed *ch)
{
	struct store_vector *vecs;
	struct store_vfunc row;
	struct vfunc *vf = vfunc_find(id);
	size_t n = 0;
	int r;

	/* Taken away: memory is right whatever the store says (its slots
	 * are gone); vfunc_requeue_all() writes the revocation again. */
	if (vf != NULL && vf->gone != 0)
		return VFUNC_RESYNC_KEPT;
	vecs = calloc(MSIV_VECTORS_MAX, sizeof(*vecs));
	if (vecs == NULL)
		fatalx("out of memory restoring vfunc %016llx",
		    (unsigned long long)id);
	r = store_vfunc_get(id, &row, vecs, MSIV_VECTORS_MAX, &n);
	if (r <= 0) {
		/* Not in the store (its open was not committed): the
		 * caller closes it. */
		free(vecs);
		return vf != NULL ? VFUNC_RESYNC_CLOSE : VFUNC_RESYNC_KEPT;
	}
	if (vf == NULL) {
		/* Its close was not committed: it comes back (its targets
		 * are gone), orphaned. */
		r = vfunc_restore(&row, vecs, n);
		free(vecs);
		return r == 0 ? VFUNC_RESYNC_BACK : VFUNC_RESYNC_KEPT;
	}
	vf->enabled = row.enabled != 0;
	vf->fmasked = row.fmasked != 0;
	ch->vec = calloc(vf->nvec, sizeof(*ch->vec));
	if (ch->vec == NULL)
		fatalx("out of memory restoring vfunc %016llx",
		    (unsigned long long)id);
	for (uint32_t i = 0; i < vf->nvec; i++) {
		const struct store_vector *v = NULL;
		struct vfunc_msg msg;
		struct vector_saved sv;
		struct slot *s;
		unsigned int act;
		bool setup;
		int old;

		for (size_t k = 0; k < n; k++)
			if (vecs[k].idx == i)
				v = &vecs[k];
		/* Lazy: a vector set up in the store gets a slot again (the
		 * one it names if it is free), as at start-up; one that is
		 * not gives its slot back below, once freed. */
		setup = v != NULL && (v->flags & VFUNC_ROW_SETUP);
		if (vf->lazy && setup && !vfunc_bound(vf, i) &&
		    (r = vfunc_bind(vf, i, v->slot)) < 0 &&
		    (r = vfunc_bind(vf, i, MSIV_SLOT_NONE)) < 0)
			vfunc_nospace(vf, i, r);
		/* Every change goes through vector.c, and the caller carries
		 * out its actions: a replay, and the MSG_CHANGED event of an
		 * effective message put back (rule 10). */
		s = vfunc_vec_lock(vf, i);
		if (setup && (s->vec.flags & VECTOR_F_TARGET)) {
			/* Keep the target; take the stored message and
			 * mask. */
			vfunc_saved(v, &sv);
			act = vector_resync(&s->vec, &sv, vf->enabled,
			    vf->fmasked);
			if (vfunc_vec_done(vf, i, act, &msg) &
			    VECTOR_ACT_MSG_CHANGED)
				vfunc_changed_add(ch, i, &msg);
			continue;
		}
		/* A target the store does not know of goes; a vector set up
		 * in the store but without target awaits one, as after a
		 * restart. */
		old = s->target;
		s->target = -1;
		if (v != NULL)
			act = vfunc_restore_vector(vf, s, v);
		else {
			act = vector_free(&s->vec);
			act |= vector_set_enabled(&s->vec, vf->enabled);
			act |= vector_set_fmask(&s->vec, vf->fmasked);
		}
		if (vfunc_vec_done(vf, i, act, &msg) & VECTOR_ACT_MSG_CHANGED)
			vfunc_changed_add(ch, i, &msg);
		if (old >= 0)
			close(old);
		if (vf->lazy && !setup)
			vfunc_unbind(vf, i);
	}
	log_warnx("vfunc %016llx: restored to its last committed state",
	    (unsigned long long)id);
	free(vecs);
	return VFUNC_RESYNC_KEPT;
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
