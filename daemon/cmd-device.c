/*
 * Device commands: attach and detach at run time (admin), and the CPU
 * affinity of a slot's host IRQ.
 *
 * A device attached at run time is written to the store and attached
 * again at start-up, like a [device] section of msivd.conf; vfuncs kept
 * in the store for a device of that name are restored when it attaches.
 * Detach refuses while any vfunc (orphaned ones too) holds slots on the
 * device.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "deliver.h"
#include "device.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "store.h"
#include "vfunc.h"

struct restore_arg {
	const char *device;
	uint32_t count;
};

static void
cmd_restore_one(const struct store_vfunc *row, const struct store_vector *vecs,
    size_t n, void *arg)
{
	struct restore_arg *a = arg;

	if (strcmp(row->device, a->device) == 0 &&
	    vfunc_restore(row, vecs, n) == 0)
		a->count++;
}

/* Restore the stored vfuncs of a device that has just attached. */
static uint32_t
cmd_device_restore(const char *name)
{
	struct restore_arg a = { .device = name };

	if (store_load(cmd_restore_one, &a) < 0)
		log_warnx("device %s: cannot read its vfuncs from the store",
		    name);
	return a.count;
}

static int
cmd_text(const char *field, size_t len)
{
	return memchr(field, '\0', len) != NULL ? 0 : -EINVAL;
}

int
cmd_device_attach(struct cmd_ctx *ctx)
{
	const struct msiv_attach_req *rq = ctx->req;
	struct conf_device cd;
	struct device *dev;
	char err[256];
	uint32_t restored;
	int r;

	if (msiv_name_check(rq->name) < 0 ||
	    cmd_text(rq->backend, sizeof(rq->backend)) < 0 ||
	    cmd_text(rq->address, sizeof(rq->address)) < 0 ||
	    rq->policy > MSIV_POLICY_LIVE || rq->reserved != 0)
		return -EINVAL;
	memset(&cd, 0, sizeof(cd));
	memcpy(cd.name, rq->name, sizeof(cd.name));
	memcpy(cd.backend, rq->backend, sizeof(cd.backend));
	memcpy(cd.address, rq->address, sizeof(cd.address));
	cd.slots = rq->slots;
	cd.flags = rq->flags;
	cd.policy = rq->policy == MSIV_POLICY_DEFAULT ? VECTOR_POLICY_LATCH :
	    (enum vector_policy)rq->policy;
	if (conf_device_check(&cd, err, sizeof(err)) < 0) {
		log_warnx("session %llu: attach %s: %s",
		    (unsigned long long)ctx->s->id, cd.name, err);
		return -EINVAL;
	}
	if (device_find(cd.name) != NULL)
		return -EEXIST;
	if (device_count() >= CONF_DEVICES_MAX)
		return -ENOSPC;
	if ((r = device_create(&cd, &dev)) < 0)
		return r; /* device_create logged why */
	if ((r = store_device_put(&cd)) < 0) {
		device_destroy(dev);
		return r;
	}
	restored = cmd_device_restore(cd.name);
	log_info("device %s attached by session %llu (%s%s%s), %u slots; "
	    "%u stored vfunc(s) restored", cd.name,
	    (unsigned long long)ctx->s->id, cd.backend,
	    cd.address[0] ? " " : "", cd.address, dev->nslots, restored);
	return 0;
}

int
cmd_device_detach(struct cmd_ctx *ctx)
{
	const struct msiv_detach_req *rq = ctx->req;
	struct device *dev;
	int r;

	if (msiv_name_check(rq->name) < 0 || rq->flags != 0 ||
	    rq->reserved != 0)
		return -EINVAL;
	if ((dev = device_find(rq->name)) == NULL) {
		/* A device attached at run time that could not be opened at
		 * the last start: detach forgets it. */
		if ((r = store_device_del(rq->name)) <= 0)
			return r < 0 ? r : -ENODEV;
		log_info("device %s (not attached) forgotten by session %llu",
		    rq->name, (unsigned long long)ctx->s->id);
		return 0;
	}
	if (dev->used > 0) {
		log_warnx("session %llu: detach %s refused: %u slots in use",
		    (unsigned long long)ctx->s->id, dev->name, dev->used);
		return -EBUSY;
	}
	if ((r = store_device_del(dev->name)) < 0)
		return r;
	log_info("device %s detached by session %llu", dev->name,
	    (unsigned long long)ctx->s->id);
	device_destroy(dev);
	return 0;
}

int
cmd_irq_affinity(struct cmd_ctx *ctx)
{
	const struct msiv_affinity_req *rq = ctx->req;
	struct msiv_affinity_rep *rp = (struct msiv_affinity_rep *)ctx->rep;
	struct device *dev;
	uint32_t slot;
	int set = 0, r;

	for (unsigned int i = 0; i < MSIV_CPUS_WORDS; i++)
		set |= rq->cpus[i] != 0;
	if (rq->vfunc != 0) {
		struct vfunc *vf;

		if (rq->slot != 0 || rq->device[0] != '\0')
			return -EINVAL;
		if ((r = cmd_vec_lookup(ctx, rq->vfunc, rq->vector, &vf)) < 0)
			return r;
		dev = vf->dev;
		slot = vf->first + rq->vector;
	} else {
		if (!(ctx->s->rights & MSIV_RIGHT_ADMIN))
			return -EPERM;
		if (rq->vector != 0 || msiv_name_check(rq->device) < 0)
			return -EINVAL;
		if ((dev = device_find(rq->device)) == NULL)
			return -ENODEV;
		if (rq->slot >= dev->nslots)
			return -EINVAL;
		slot = rq->slot;
	}
	if (dev->ops->irq_affinity == NULL)
		return -EOPNOTSUPP;
	r = dev->ops->irq_affinity(dev, slot, set ? rq->cpus : NULL, rp);
	if (r == 0 && set)
		log_info("session %llu: %s slot %u: host IRQ %u affinity set",
		    (unsigned long long)ctx->s->id, dev->name, slot, rp->irq);
	return r;
}
