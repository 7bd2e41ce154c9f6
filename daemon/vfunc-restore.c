/*
 * Restore from the store (doc/store.md): the vfuncs it holds, rebuilt at
 * start-up or when their device attaches, orphaned (vector_restore: a
 * set-up vector awaits its target with its pending bit set; msiv-protocol(7),
 * MSI-X SEMANTICS, across a restart); and, after a failed commit, each
 * vfunc the turn touched made to match the store again (vector_resync,
 * whose MSG_CHANGED events the caller sends: rule 10; msivd(8), DURABLE
 * STATE).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "deliver.h"
#include "fdstore.h"
#include "hostate.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "vfunc.h"

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
		const struct slot *s = device_slot(dev, row->first + i);

		if (s != NULL && s->owned) {
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
		old = slot_target_take(s);
		if (v != NULL)
			act = vfunc_restore_vector(vf, s, v);
		else {
			act = vector_free(&s->vec);
			act |= vector_set_enabled(&s->vec, vf->enabled);
			act |= vector_set_fmask(&s->vec, vf->fmasked);
		}
		if (vfunc_vec_done(vf, i, act, &msg) & VECTOR_ACT_MSG_CHANGED)
			vfunc_changed_add(ch, i, &msg);
		slot_target_close(old);
		if (vf->lazy && !setup)
			vfunc_unbind(vf, i);
	}
	log_warnx("vfunc %016llx: restored to its last committed state",
	    (unsigned long long)id);
	free(vecs);
	return VFUNC_RESYNC_KEPT;
}

/* --- handover (handover.c) ------------------------------------------------ */

static void
vfunc_ho_put_vector(struct ho_buf *b, const struct vector *v)
{
	ho_put_u64(b, v->prog_addr);
	ho_put_u64(b, v->eff_addr);
	ho_put_u32(b, v->prog_data);
	ho_put_u32(b, v->eff_data);
	ho_put_u32(b, v->flags);
	ho_put_u32(b, v->policy);
	ho_put_u32(b, v->written);
	ho_put_u64(b, v->fired);
	ho_put_u64(b, v->delivered);
	ho_put_u64(b, v->coalesced);
	ho_put_u64(b, v->dropped);
}

static void
vfunc_ho_get_vector(struct ho_rd *r, struct vector *v)
{
	memset(v, 0, sizeof(*v));
	v->prog_addr = ho_get_u64(r);
	v->eff_addr = ho_get_u64(r);
	v->prog_data = ho_get_u32(r);
	v->eff_data = ho_get_u32(r);
	v->flags = (uint8_t)ho_get_u32(r);
	v->policy = (uint8_t)ho_get_u32(r);
	v->written = (uint8_t)ho_get_u32(r);
	v->fired = ho_get_u64(r);
	v->delivered = ho_get_u64(r);
	v->coalesced = ho_get_u64(r);
	v->dropped = ho_get_u64(r);
}

/* The slot a vector is on, or MSIV_SLOT_NONE (lazy, unbound). */
static uint32_t
vfunc_ho_slot(const struct vfunc *vf, uint32_t i)
{
	return vf->lazy ? vf->map[i] : vf->first + i;
}

void
vfunc_handover_save(struct vfunc *vf, struct ho_buf *b)
{
	uint32_t nvec = vf->gone != 0 || vf->dev == NULL ? 0 : vf->nvec;

	ho_put_u64(b, vf->id);
	ho_put_u64(b, vf->session != NULL ? vf->session->id : 0);
	ho_put_u64(b, vf->orphaned_ms);
	ho_put_u32(b, vf->gone);
	ho_put_u32(b, nvec);
	for (uint32_t i = 0; i < nvec; i++) {
		struct slot *s = vfunc_vec_lock(vf, i);
		uint32_t slot = vfunc_ho_slot(vf, i);
		/* Only a slot's trigger holds signals (a parked vector has
		 * none); taking them into account counts the loop's unread
		 * wakeups in the vector, so it comes first. */
		uint64_t skip = slot != MSIV_SLOT_NONE ?
		    deliver_handover_skip(s) : 0;

		ho_put_u32(b, slot);
		vfunc_ho_put_vector(b, &s->vec);
		ho_put_fd(b, s->target);
		ho_put_u32(b, s->direct);
		ho_put_u32(b, s->routed >= 0);
		ho_put_u64(b, skip);
		pthread_mutex_unlock(&s->lock);
	}
}

/*
 * The vfunc was restored from the store (vfunc_restore: orphaned, each
 * set-up vector awaiting its target with its pending bit assumed); put
 * back what it really was: each vector as it stood, its target, its
 * routing. The slots must be those the store gave (they are: the old
 * msivd committed everything before it handed over).
 */
int
vfunc_handover_adopt(struct ho_rd *r)
{
	uint64_t id = ho_get_u64(r), sid = ho_get_u64(r);
	uint64_t orphaned_ms = ho_get_u64(r);
	uint32_t gone = ho_get_u32(r), nvec = ho_get_u32(r);
	struct vfunc *vf;

	if (r->err != 0)
		return ho_fail("the state is cut short (a vfunc)");
	vf = vfunc_find(id);
	if (vf == NULL)
		return ho_fail("vfunc %016llx is not in the store",
		    (unsigned long long)id);
	if (nvec != 0 && (vf->gone != 0 || vf->dev == NULL ||
	    nvec != vf->nvec))
		return ho_fail("vfunc %016llx: %u vectors handed over, the "
		    "store has %u", (unsigned long long)id, nvec, vf->nvec);
	for (uint32_t i = 0; i < nvec; i++) {
		uint32_t slot = ho_get_u32(r);
		struct vector v;
		int fd, direct, routed;
		uint64_t skip;
		struct slot *s;

		vfunc_ho_get_vector(r, &v);
		fd = ho_get_fd(r);
		direct = ho_get_u32(r) != 0;
		routed = ho_get_u32(r) != 0;
		skip = ho_get_u64(r);
		if (r->err != 0 || slot != vfunc_ho_slot(vf, i) ||
		    ((v.flags & VECTOR_F_TARGET) != 0) != (fd >= 0) ||
		    (routed && (fd < 0 || !direct))) {
			if (fd >= 0)
				close(fd);
			return ho_fail("vfunc %016llx vector %u: its state does "
			    "not hold (slot %u, the store's %u)",
			    (unsigned long long)id, i, slot,
			    vfunc_ho_slot(vf, i));
		}
		s = vfunc_vec_lock(vf, i);
		s->vec = v;
		slot_target_close(s->target);
		s->target = fd;
		s->direct = direct && vf->dev->ops->route != NULL;
		s->routed = routed ? fd : -1;
		if (slot != MSIV_SLOT_NONE)
			deliver_adopt(s, skip);
		slot_fdstore_target(s);
		pthread_mutex_unlock(&s->lock);
	}
	vf->gone = gone != 0 ? gone : vf->gone;
	vf->ho_session = sid;
	vf->orphaned_ms = sid == 0 ? orphaned_ms : 0;
	return 0;
}

/* --- systemd's fd store (fdstore.c) ---------------------------------------- */

/*
 * After a crash under systemd: a set-up vector whose target was kept in
 * the fd store gets it back at once (its pending bit, assumed as after
 * any restart, is delivered to it), so interrupts reach the guest before
 * its VMM has even reconnected. Returns how many.
 */
uint32_t
vfunc_fdstore_recover(void)
{
	struct vfunc *vf;
	uint32_t n = 0;

	TAILQ_FOREACH(vf, &vfuncs, entry) {
		if (vf->gone != 0 || vf->dev == NULL)
			continue;
		for (uint32_t i = 0; i < vf->nvec; i++) {
			char name[MSIV_NAME_MAX + 32];
			struct slot *s;
			unsigned int act;
			int fd;

			if (!vfunc_bound(vf, i))
				continue;
			s = vfunc_slot(vf, i);
			snprintf(name, sizeof(name), "tgt.%s.%u", vf->dev->name,
			    s->index);
			if (fdstore_take(name, &fd, 1) != 1)
				continue;
			s = vfunc_vec_lock(vf, i);
			if (!(s->vec.flags & VECTOR_F_AWAIT) || s->target >= 0) {
				pthread_mutex_unlock(&s->lock);
				close(fd);
				continue;
			}
			s->target = fd;
			act = vector_set_target(&s->vec, true);
			vfunc_vec_done(vf, i, act, NULL);
			n++;
		}
	}
	return n;
}
