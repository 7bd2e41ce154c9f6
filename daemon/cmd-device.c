/*
 * Device commands: attach and detach at run time (admin), and the CPU
 * affinity of a slot's host IRQ.
 *
 * A device attached at run time is written to the store and attached
 * again at start-up, like a [device] section of msivd.conf; vfuncs kept
 * in the store for a device of that name are restored when it attaches.
 * Detach refuses while any vfunc (orphaned ones too) holds slots on the
 * device, unless forced: then those vfuncs are revoked first. REVOKE
 * takes vfuncs away from a tenant; TENANT_RELEASE releases at once the
 * tenant's vfuncs no session holds, rather than at the end of
 * orphan_grace, which frees their slots and the tenant's name.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "deliver.h"
#include "device.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "store.h"
#include "vfunc.h"

static int
cmd_text(const char *field, size_t len)
{
	return memchr(field, '\0', len) != NULL ? 0 : -EINVAL;
}

int
device_attach(struct conf_device *cd, unsigned int flags, const char *by,
    char *why, size_t whylen)
{
	struct device *dev;
	char err[256];
	uint32_t restored = 0;
	int r;

	if (why == NULL) {
		why = err;
		whylen = sizeof(err);
	}
	if (conf_device_check(cd, err, sizeof(err)) < 0) {
		log_warnx("attach %s (%s): %s", cd->name, by, err);
		if (why != err)
			snprintf(why, whylen, "%s", err);
		return -EINVAL;
	}
	if (device_find(cd->name) != NULL) {
		snprintf(why, whylen, "a device of that name is attached "
		    "already");
		log_warnx("attach %s (%s): %s", cd->name, by, why);
		return -EEXIST;
	}
	if (device_count() >= CONF_DEVICES_MAX) {
		snprintf(why, whylen, "already %u devices", CONF_DEVICES_MAX);
		log_warnx("attach %s (%s): %s", cd->name, by, why);
		return -ENOSPC;
	}
	if ((r = device_create(cd, &dev)) < 0)
		return r; /* device_create logged why */
	if ((flags & DEVICE_ATTACH_KEEP) && (r = store_device_put(cd)) < 0) {
		device_destroy(dev);
		return r;
	}
	if (flags & DEVICE_ATTACH_RESTORE)
		restored = vfunc_restore_device(cd->name);
	log_info("device %s attached by %s (%s%s%s), %u slots; %u stored "
	    "vfunc(s) restored", cd->name, by, cd->backend,
	    cd->address[0] ? " " : "", cd->address, dev->nslots, restored);
	return 0;
}

int
cmd_device_attach(struct cmd_ctx *ctx)
{
	const struct msiv_attach_req *rq = ctx->req;
	struct conf_device cd;
	char by[48], why[MSIV_REASON_MAX] = "";
	int r;

	if (msiv_name_check(rq->name) < 0)
		return cmd_refuse_debug(ctx, -EINVAL, "the device name is not "
		    "1 to %u printable characters", MSIV_NAME_MAX - 1);
	if (cmd_text(rq->backend, sizeof(rq->backend)) < 0 ||
	    cmd_text(rq->address, sizeof(rq->address)) < 0)
		return cmd_refuse_debug(ctx, -EINVAL, "backend or address not "
		    "NUL terminated");
	if (rq->policy > MSIV_POLICY_LIVE || rq->reserved != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "unknown policy %u, or "
		    "reserved field set", rq->policy);
	memset(&cd, 0, sizeof(cd));
	memcpy(cd.name, rq->name, sizeof(cd.name));
	memcpy(cd.backend, rq->backend, sizeof(cd.backend));
	memcpy(cd.address, rq->address, sizeof(cd.address));
	cd.slots = rq->slots;
	cd.flags = rq->flags;
	cd.policy = rq->policy == MSIV_POLICY_DEFAULT ? VECTOR_POLICY_LATCH :
	    (enum vector_policy)rq->policy;
	snprintf(by, sizeof(by), "session %llu",
	    (unsigned long long)ctx->s->id);
	r = device_attach(&cd, DEVICE_ATTACH_KEEP | DEVICE_ATTACH_RESTORE, by,
	    why, sizeof(why));
	if (r < 0 && why[0] != '\0') /* logged in the same words */
		return cmd_reason(ctx, r, "%s", why);
	return r;
}

int
cmd_device_detach(struct cmd_ctx *ctx)
{
	const struct msiv_detach_req *rq = ctx->req;
	struct device *dev;
	int r;

	if (msiv_name_check(rq->name) < 0 ||
	    (rq->flags & ~MSIV_DETACH_FORCE) != 0 || rq->reserved != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "bad device name, or "
		    "unknown flags 0x%x", rq->flags);
	if ((dev = device_find(rq->name)) == NULL) {
		/* A device attached at run time that could not be opened at
		 * the last start: detach forgets it. */
		if ((r = store_device_del(rq->name)) <= 0)
			return r < 0 ? r : cmd_refuse(ctx, -ENODEV, "no device "
			    "%s", rq->name);
		log_info("device %s (not attached) forgotten by session %llu",
		    rq->name, (unsigned long long)ctx->s->id);
		return 0;
	}
	/* A lazy vfunc uses the device even while it holds no slot. */
	if (vfunc_device_busy(dev) && !(rq->flags & MSIV_DETACH_FORCE)) {
		return cmd_refuse(ctx, -EBUSY, "vfuncs still use the device "
		    "(%u slots of %s in use); a forced detach revokes them",
		    dev->used, dev->name);
	}
	if ((r = store_device_del(dev->name)) < 0)
		return r;
	log_info("device %s detached by session %llu%s", dev->name,
	    (unsigned long long)ctx->s->id, dev->used > 0 ?
	    " (forced: its vfuncs are revoked)" : "");
	(void)session_revoke_device(dev, MSIV_GONE_DEVICE);
	device_destroy(dev);
	return 0;
}

int
cmd_revoke(struct cmd_ctx *ctx)
{
	const struct msiv_revoke_req *rq = ctx->req;
	struct msiv_revoke_rep *rp = (struct msiv_revoke_rep *)ctx->rep;
	struct vfunc *vf;

	if (rq->flags != 0 || rq->reserved != 0 ||
	    cmd_text(rq->tenant, sizeof(rq->tenant)) < 0 ||
	    (rq->vfunc != 0) == (rq->tenant[0] != '\0') ||
	    (rq->tenant[0] != '\0' && msiv_name_check(rq->tenant) < 0))
		return cmd_refuse_debug(ctx, -EINVAL, "name a vfunc or a "
		    "tenant, not both; no flags");
	if (rq->vfunc != 0) {
		if ((vf = vfunc_find(rq->vfunc)) == NULL)
			return cmd_refuse(ctx, -ENOENT, "no vfunc %016llx",
			    (unsigned long long)rq->vfunc);
		if (vf->gone == 0) {
			session_revoke(vf, MSIV_GONE_REVOKED);
			rp->count = 1;
		}
	} else {
		/* A tenant that holds nothing is no tenant msivd knows. */
		if (!vfunc_tenant_busy(rq->tenant))
			return cmd_refuse(ctx, -ENOENT, "tenant %s holds no "
			    "vfunc", rq->tenant);
		TAILQ_FOREACH(vf, &vfuncs, entry)
			if (vf->gone == 0 && strncmp(vf->tenant, rq->tenant,
			    MSIV_NAME_MAX) == 0) {
				session_revoke(vf, MSIV_GONE_REVOKED);
				rp->count++;
			}
	}
	log_info("session %llu (uid %u) revoked %u vfunc(s)",
	    (unsigned long long)ctx->s->id, (unsigned)ctx->s->uid, rp->count);
	return 0;
}

/*
 * Release at once the tenant's vfuncs that no session holds (orphaned,
 * revoked or not), as the end of orphan_grace would (vfunc_reap): a
 * tenant whose VMM is gone for good need not hold its slots, or its name
 * (a tenant that holds no vfunc is taken over by the next HELLO, token or
 * not: cmd-vfunc.c), for the grace period. Nothing is released while a
 * session of the tenant holds vfuncs: they are in use, and REVOKE is
 * the command that takes those away.
 */
int
cmd_tenant_release(struct cmd_ctx *ctx)
{
	const struct msiv_tenant_release_req *rq = ctx->req;
	struct msiv_tenant_release_rep *rp =
	    (struct msiv_tenant_release_rep *)ctx->rep;
	struct vfunc *vf, *next;
	uint32_t held = 0;

	if (rq->flags != 0 || rq->reserved != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "flags or reserved "
		    "field set");
	if (rq->tenant[0] == '\0' || msiv_name_check(rq->tenant) < 0)
		return cmd_refuse_debug(ctx, -EINVAL, "the tenant name is not "
		    "1 to %u printable characters", MSIV_NAME_MAX - 1);
	if (!vfunc_tenant_busy(rq->tenant))
		return cmd_refuse(ctx, -ENOENT, "tenant %s holds no vfunc",
		    rq->tenant);
	TAILQ_FOREACH(vf, &vfuncs, entry)
		if (vf->session != NULL && strncmp(vf->tenant, rq->tenant,
		    MSIV_NAME_MAX) == 0)
			held++;
	if (held > 0)
		return cmd_refuse(ctx, -EBUSY, "tenant %s: a session holds %u "
		    "of its vfuncs (revoke them, or end the session, first)",
		    rq->tenant, held);
	for (vf = TAILQ_FIRST(&vfuncs); vf != NULL; vf = next) {
		next = TAILQ_NEXT(vf, entry);
		if (strncmp(vf->tenant, rq->tenant, MSIV_NAME_MAX) != 0)
			continue;
		log_info("vfunc %016llx of tenant %s released by session %llu "
		    "(%s)", (unsigned long long)vf->id, vf->tenant,
		    (unsigned long long)ctx->s->id, vf->gone != 0 ? "revoked" :
		    "orphaned");
		vfunc_close(vf, true);
		rp->count++;
	}
	log_info("session %llu (uid %u) released tenant %s: %u vfunc(s)",
	    (unsigned long long)ctx->s->id, (unsigned)ctx->s->uid, rq->tenant,
	    rp->count);
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
			return cmd_refuse_debug(ctx, -EINVAL, "a vfunc's "
			    "vector or a device's slot, not both");
		if ((r = cmd_vec_lookup(ctx, rq->vfunc, rq->vector, &vf)) < 0)
			return r;
		if (!vfunc_bound(vf, rq->vector)) /* lazy: no slot yet */
			return cmd_refuse_debug(ctx, -ENXIO, "vector %u has no "
			    "slot (slots on first use: not set up)",
			    rq->vector);
		dev = vf->dev;
		slot = vfunc_slot(vf, rq->vector)->index;
	} else {
		if (!(ctx->s->rights & MSIV_RIGHT_ADMIN))
			return cmd_refuse(ctx, -EPERM, "a device's slot by "
			    "number is for admins; name a vfunc's vector");
		if (rq->vector != 0 || msiv_name_check(rq->device) < 0)
			return cmd_refuse_debug(ctx, -EINVAL, "bad device "
			    "name, or a vector without a vfunc");
		if ((dev = device_find(rq->device)) == NULL)
			return cmd_refuse(ctx, -ENODEV, "no device %s",
			    rq->device);
		if (rq->slot >= dev->nslots)
			return cmd_refuse_debug(ctx, -EINVAL, "slot %u: device "
			    "%s has %u slots", rq->slot, dev->name,
			    dev->nslots);
		slot = rq->slot;
	}
	if (dev->ops->irq_affinity == NULL)
		return cmd_refuse_debug(ctx, -EOPNOTSUPP, "device %s has no "
		    "host IRQs (%s backend)", dev->name, dev->ops->name);
	r = dev->ops->irq_affinity(dev, slot, set ? rq->cpus : NULL, rp);
	if (r == 0 && set)
		log_info("session %llu: %s slot %u: host IRQ %u affinity set",
		    (unsigned long long)ctx->s->id, dev->name, slot, rp->irq);
	return r;
}
