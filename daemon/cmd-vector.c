/*
 * Vector commands, typed and raw (msiv-protocol(7)): VEC_SETUP,
 * VEC_MASK / VEC_UNMASK (rules 2 and 4), VEC_RETARGET (rule 6), VEC_FREE
 * (rule 8), VEC_QUERY, and TABLE_WRITE / TABLE_READ, which emulate the
 * MSI-X table and PBA at their byte offsets (rule 5). Both paths drive the
 * same state machine (vector.c) under the slot lock (doc/delivery.md).
 *
 * On a lazy vfunc (MSIV_OPEN_LAZY) a setup binds the vector to a free slot
 * first and a free gives the slot back; a setup that finds none fails
 * with ENOSPC (EDQUOT: the tenant's quota of bound slots) and leaves the
 * vector undeliverable with its pending bit latched (vfunc_nospace).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "deliver.h"
#include "server.h"

/* The vfunc and vector a VEC_* request names. */
int
cmd_vec_lookup(struct cmd_ctx *ctx, uint64_t id, uint32_t vector,
    struct vfunc **vf)
{
	int r = cmd_vfunc_lookup(ctx, id, vf);

	if (r < 0)
		return r;
	if (vector >= (*vf)->nvec)
		return cmd_refuse_debug(ctx, -EINVAL, "vector %u: vfunc "
		    "%016llx has %u vectors", vector, (unsigned long long)id,
		    (*vf)->nvec);
	return 0;
}

void
cmd_vec_done(struct vfunc *vf, uint32_t vector, unsigned int act)
{
	struct vfunc_msg msg;

	act = vfunc_vec_done(vf, vector, act, &msg);
	if ((act & VECTOR_ACT_MSG_CHANGED) && vf->session != NULL)
		session_event_msg(vf->session, vf->id, vector, msg.addr,
		    msg.data);
}

/*
 * The tenant's bound slots on the vfunc's device, against its quota of
 * vectors there (cmd_quota() in cmd-vfunc.c counts the same way).
 */
static int
cmd_vec_quota(struct cmd_ctx *ctx, const struct vfunc *vf)
{
	const struct conf_tenant *t = ctx->s->policy;
	uint32_t max_vec = t != NULL ? t->max_vectors :
	    server_conf()->max_vectors;
	const struct vfunc *o;
	uint64_t nv = 0;

	TAILQ_FOREACH(o, &vfuncs, entry)
		if (o->dev == vf->dev &&
		    strncmp(o->tenant, vf->tenant, MSIV_NAME_MAX) == 0)
			nv += o->bound;
	return nv + 1 > max_vec ? -EDQUOT : 0;
}

/*
 * A vector about to get a target: on a lazy vfunc, bind it to a slot if
 * it has none. Returns 1 if it was bound here, 0 if it had one already,
 * or -errno; -ENOSPC and -EDQUOT leave its pending bit latched.
 */
static int
cmd_vec_bind(struct cmd_ctx *ctx, struct vfunc *vf, uint32_t vector)
{
	int r;

	if (vfunc_bound(vf, vector))
		return 0;
	if ((r = cmd_vec_quota(ctx, vf)) == 0 &&
	    (r = vfunc_bind(vf, vector, MSIV_SLOT_NONE)) == 0)
		return 1;
	if (r == -ENOSPC || r == -EDQUOT) {
		/* Logged there, not every time (a guest may retry), in
		 * these words. */
		vfunc_nospace(vf, vector, r);
		return cmd_reason(ctx, r, "vector %u has no slot on %s (%s): "
		    "undeliverable, its pending bit set", vector, vf->device,
		    r == -EDQUOT ? "the tenant's quota is used up" :
		    "the device has none free");
	}
	return r;
}

/*
 * A target kept for a vector: moved to a number at or above
 * CMD_TARGET_FD_FLOOR where it can be. libevent keeps an array indexed by
 * fd number (8 bytes an entry, up to the highest fd it watches, rounded
 * up to a power of two); targets received at the lowest free numbers
 * would push the sessions accepted after them up, and that array with
 * them: 256 KiB for a session accepted after 20000 targets, about 13
 * bytes a vector (doc/performance.md, memory). Above the floor the
 * targets leave the low numbers to the sockets libevent watches. Where
 * the open file limit is below the floor (EINVAL) or nothing is free
 * above it, the fd stays where it is. The control thread, once per SETUP
 * or RETARGET with a target.
 */
#define CMD_TARGET_FD_FLOOR 1024
static int
cmd_target_high(int fd)
{
	int hfd;

	if (fd >= CMD_TARGET_FD_FLOOR ||
	    (hfd = fcntl(fd, F_DUPFD_CLOEXEC, CMD_TARGET_FD_FLOOR)) < 0)
		return fd;
	close(fd);
	return hfd;
}

/*
 * Take the request's fd as a target. It must be an eventfd (a pipe or a
 * file is refused: the daemon writes 8-byte counters to it). It is made
 * non-blocking so that a client cannot stall the delivery loop (or a
 * replay on the control thread) with a saturated counter: the write fails
 * with EAGAIN instead. The flag is on the file description the client
 * shares, so its own descriptor changes too (msiv-protocol(7) and
 * libmsiv(3) say so), and the client can clear it again: the writes do
 * not rely on it where there is io_uring (target.h); it is what is left
 * where there is none. Returns the fd (now owned by the caller) or -errno.
 */
static int
cmd_take_target(struct cmd_ctx *ctx)
{
	char path[32], link[64];
	int fd = ctx->fds[0], fl;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return cmd_refuse_debug(ctx, -EBADF, "the target fd cannot be "
		    "looked at");
	link[n] = '\0';
	if (strcmp(link, "anon_inode:[eventfd]") != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "the target is not an "
		    "eventfd");
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	ctx->fds[0] = -1;
	return cmd_target_high(fd);
}

int
cmd_vec_setup(struct cmd_ctx *ctx)
{
	const struct msiv_vec_setup_req *rq = ctx->req;
	struct vfunc *vf;
	struct slot *s;
	int r, fd, bound;

	if ((r = cmd_vec_lookup(ctx, rq->vfunc, rq->vector, &vf)) < 0)
		return r;
	if ((rq->flags & ~MSIV_SETUP_ALL) != 0 || rq->reserved != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "unknown setup flags "
		    "0x%x, or reserved field set", rq->flags & ~MSIV_SETUP_ALL);
	if ((rq->flags & MSIV_SETUP_DIRECT) && vf->dev->ops->route == NULL)
		return cmd_refuse_debug(ctx, -EOPNOTSUPP, "device %s has no "
		    "direct delivery (%s backend)", vf->device,
		    vf->dev->ops->name);
	if ((fd = cmd_take_target(ctx)) < 0)
		return fd;
	if ((bound = cmd_vec_bind(ctx, vf, rq->vector)) < 0) {
		close(fd);
		return bound;
	}
	s = vfunc_vec_lock(vf, rq->vector);
	r = vector_setup(&s->vec, rq->addr, rq->data,
	    (rq->flags & MSIV_SETUP_UNMASKED) != 0);
	if (r >= 0) {
		s->target = fd; /* before a replay goes out */
		s->direct = (rq->flags & MSIV_SETUP_DIRECT) != 0;
		slot_fdstore_target(s);
	}
	cmd_vec_done(vf, rq->vector, r >= 0 ? (unsigned int)r : 0);
	if (r < 0) {
		close(fd);
		if (bound)
			vfunc_unbind(vf, rq->vector);
		if (r == -EBUSY)
			return cmd_refuse_debug(ctx, r, "vector %u is set up "
			    "already: free it, or retarget it", rq->vector);
		return r;
	}
	ctx->touched = vf->id;
	return vfunc_persist(vf, rq->vector, true);
}

static int
cmd_vec_simple(struct cmd_ctx *ctx, unsigned int (*op)(struct vector *))
{
	const struct msiv_vec_req *rq = ctx->req;
	struct vfunc *vf;
	struct slot *s;
	int r;

	if ((r = cmd_vec_lookup(ctx, rq->vfunc, rq->vector, &vf)) < 0)
		return r;
	if (rq->reserved != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "reserved field set");
	s = vfunc_vec_lock(vf, rq->vector);
	cmd_vec_done(vf, rq->vector, op(&s->vec));
	/* Mask state may be written behind (write_behind_ms). */
	return vfunc_persist(vf, rq->vector, false);
}

int
cmd_vec_mask(struct cmd_ctx *ctx)
{
	return cmd_vec_simple(ctx, vector_mask);
}

int
cmd_vec_unmask(struct cmd_ctx *ctx)
{
	return cmd_vec_simple(ctx, vector_unmask);
}

int
cmd_vec_free(struct cmd_ctx *ctx)
{
	const struct msiv_vec_req *rq = ctx->req;
	struct vfunc *vf;
	struct slot *s;
	int r, old;

	if ((r = cmd_vec_lookup(ctx, rq->vfunc, rq->vector, &vf)) < 0)
		return r;
	if (rq->reserved != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "reserved field set");
	s = vfunc_vec_lock(vf, rq->vector);
	old = slot_target_take(s);
	s->direct = false;
	cmd_vec_done(vf, rq->vector, vector_free(&s->vec));
	slot_target_close(old);
	vfunc_unbind(vf, rq->vector); /* lazy: the slot goes back */
	ctx->touched = vf->id;
	return vfunc_persist(vf, rq->vector, true);
}

int
cmd_vec_retarget(struct cmd_ctx *ctx)
{
	const struct msiv_vec_retarget_req *rq = ctx->req;
	bool new_target = (rq->flags & MSIV_RETARGET_TARGET) != 0;
	struct vfunc *vf;
	struct slot *s;
	unsigned int act;
	int r, fd = -1, old = -1;

	if ((r = cmd_vec_lookup(ctx, rq->vfunc, rq->vector, &vf)) < 0)
		return r;
	if (rq->flags == 0 || (rq->flags & ~MSIV_RETARGET_ALL) != 0 ||
	    rq->reserved != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "retarget flags 0x%x: "
		    "a new target, a new message or both", rq->flags);
	if (new_target && (fd = cmd_take_target(ctx)) < 0)
		return fd;
	/* A lazy vector gets its slot with its first target. */
	if (new_target && (r = cmd_vec_bind(ctx, vf, rq->vector)) < 0) {
		close(fd);
		return r;
	}
	/* Rule 6: the whole mask -> update -> restore runs under the lock,
	 * with the fd swapped inside it; the old target is closed after. */
	s = vfunc_vec_lock(vf, rq->vector);
	act = vector_retarget(&s->vec, new_target,
	    (rq->flags & MSIV_RETARGET_MSG) != 0, rq->addr, rq->data);
	if (new_target)
		old = slot_target_set(s, fd);
	cmd_vec_done(vf, rq->vector, act);
	if (old >= 0)
		close(old);
	ctx->touched = vf->id;
	return vfunc_persist(vf, rq->vector, true);
}

int
cmd_vec_query(struct cmd_ctx *ctx)
{
	const struct msiv_vec_req *rq = ctx->req;
	struct msiv_vec_info *info = (struct msiv_vec_info *)ctx->rep;
	struct vfunc *vf;
	int r;

	if ((r = cmd_vec_lookup(ctx, rq->vfunc, rq->vector, &vf)) < 0)
		return r;
	if (rq->reserved != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "reserved field set");
	deliver_sync(); /* counters include what was raised before */
	vfunc_vec_info(vf, rq->vector, info);
	return 0;
}

/*
 * Decode a table/PBA access: size 4 or 8, naturally aligned, inside the
 * vfunc's table (16 bytes per vector) or PBA (one bit per vector, in
 * qwords). Returns 1 for the table, 0 for the PBA, or -EINVAL.
 */
static int
cmd_table_where(const struct vfunc *vf, uint32_t off, uint32_t size)
{
	uint32_t pba_len = (vf->nvec + 63) / 64 * 8;

	if ((size != 4 && size != 8) || off % size != 0)
		return -EINVAL;
	if (off < MSIV_PBA_OFFSET)
		return off + size <= vf->nvec * MSIV_MSIX_ENTRY_SIZE ? 1 :
		    -EINVAL;
	return off - MSIV_PBA_OFFSET + size <= pba_len ? 0 : -EINVAL;
}

static int
cmd_table_lookup(struct cmd_ctx *ctx, struct vfunc **vf)
{
	const struct msiv_table_req *rq = ctx->req;
	int r = cmd_vfunc_lookup(ctx, rq->vfunc, vf);

	if (r < 0)
		return r;
	if ((r = cmd_table_where(*vf, rq->offset, rq->size)) < 0)
		return cmd_refuse_debug(ctx, r, "offset 0x%x size %u: not a "
		    "naturally aligned 4 or 8 bytes of the table or PBA of %u "
		    "vectors", rq->offset, rq->size, (*vf)->nvec);
	return r;
}

int
cmd_table_write(struct cmd_ctx *ctx)
{
	const struct msiv_table_req *rq = ctx->req;
	uint32_t vector = rq->offset / MSIV_MSIX_ENTRY_SIZE;
	struct vfunc *vf;
	struct slot *s;
	int r;

	if ((r = cmd_table_lookup(ctx, &vf)) < 0)
		return r;
	if (r == 0)
		return 0; /* the PBA is read only: writes are ignored */
	if (rq->size == 4 && (rq->value >> 32) != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "a 4-byte write of a "
		    "value above 32 bits");
	s = vfunc_vec_lock(vf, vector);
	r = vector_table_write(&s->vec, rq->offset % MSIV_MSIX_ENTRY_SIZE,
	    rq->size, rq->value);
	cmd_vec_done(vf, vector, r > 0 ? (unsigned int)r : 0);
	if (r == -EBUSY)
		return cmd_refuse_debug(ctx, r, "vector %u is unmasked and the "
		    "vfunc's policy is strict: mask it first", vector);
	if (r < 0)
		return r;
	return vfunc_persist(vf, vector, false);
}

int
cmd_table_read(struct cmd_ctx *ctx)
{
	const struct msiv_table_req *rq = ctx->req;
	struct msiv_table_rep *rp = (struct msiv_table_rep *)ctx->rep;
	struct vfunc *vf;
	struct slot *s;
	int r;

	if ((r = cmd_table_lookup(ctx, &vf)) < 0)
		return r;
	if (rq->value != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "a read with a value");
	if (r == 1) {
		uint32_t vector = rq->offset / MSIV_MSIX_ENTRY_SIZE;

		s = vfunc_vec_lock(vf, vector);
		rp->value = vector_table_read(&s->vec,
		    rq->offset % MSIV_MSIX_ENTRY_SIZE, rq->size);
		cmd_vec_done(vf, vector, 0);
		return 0;
	}
	/* PBA: bit i of the array is vector i's pending bit. */
	rp->value = 0;
	for (uint32_t bit = 0; bit < rq->size * 8; bit++) {
		uint32_t vector = (rq->offset - MSIV_PBA_OFFSET) * 8 + bit;

		if (vector >= vf->nvec)
			break;
		s = vfunc_vec_lock(vf, vector);
		if (s->vec.flags & VECTOR_F_PENDING)
			rp->value |= (uint64_t)1 << bit;
		cmd_vec_done(vf, vector, 0);
	}
	return 0;
}
