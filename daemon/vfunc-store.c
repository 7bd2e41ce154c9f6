/*
 * Recording vfuncs' state in the store (store.c, doc/store.md): a vector's
 * row (the reset state is the absence of one), the function-level bits,
 * and the write-behind queue: a change that need not be durable before
 * its reply (mask state) is queued and written within write_behind_ms in
 * a turn's transaction, and after a failed commit every vfunc is queued
 * again (msivd(8), DURABLE STATE; msivd.conf(5)). vfunc.c records a
 * vfunc's own row at open, close and revocation; vfunc-restore.c reads
 * the store back.
 */
#include "config.h"

#include <event2/event.h>

#include "conf.h"
#include "deliver.h"
#include "log.h"
#include "store.h"
#include "vfunc.h"

static struct event *vfunc_behind_ev;
static struct event_base *vfunc_base;
static const struct conf *vfunc_conf;

void
vfunc_init(struct event_base *base, const struct conf *conf)
{
	vfunc_base = base;
	vfunc_conf = conf;
}

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
