/*
 * Listings and administration: STATUS, DEVICE_LIST, VFUNC_LIST, VEC_LIST,
 * SESSION_LIST, SHARD_LIST (paged), and the admin-only SIM_TRIGGERS, SIM_FIRE,
 * SHUTDOWN, RELOAD (reload.c does the work) and LOG_LEVEL. A session
 * without admin rights sees only its own vfuncs and session; another
 * tenant's vfunc is as absent as one that never existed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "deliver.h"
#include "log.h"
#include "proto.h"
#include "handover.h"
#include "reload.h"
#include "server.h"
#include "store.h"

int
cmd_status(struct cmd_ctx *ctx)
{
	struct msiv_status_rep *rp = (struct msiv_status_rep *)ctx->rep;
	struct deliver_stats st;

	deliver_get_stats(&st);
	rp->version = MSIV_PROTO_VERSION;
	rp->pid = (uint32_t)getpid();
	rp->uptime_ms = server_uptime_ms();
	rp->devices = device_count();
	rp->sessions = session_count();
	rp->vfuncs = vfunc_count();
	rp->vectors = vfunc_vector_count();
	rp->interrupts = st.interrupts;
	rp->delivered = st.delivered;
	rp->dropped = st.dropped;
	(void)msiv_name_put(rp->loop, deliver_loop_name());
	(void)msiv_name_put(rp->version_str, PACKAGE_VERSION);
	return 0;
}

/* msivctl metrics: the store's commit figures (store.c keeps them). */
int
cmd_metrics(struct cmd_ctx *ctx)
{
	store_metrics((struct msiv_metrics_rep *)ctx->rep);
	return 0;
}

/*
 * Paged listings: the cursor is the index of the first record wanted.
 * page_add() returns a record slot while the page has room, NULL once it
 * is full (then the page says where to continue).
 */
struct page {
	struct cmd_ctx *ctx;
	size_t recsz;
	uint32_t cursor;
	uint32_t index;   /* of the next record offered */
	uint32_t count;
	int full;
};

static void
page_init(struct page *p, struct cmd_ctx *ctx, size_t recsz)
{
	const struct msiv_list_req *rq = ctx->req;

	memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	p->recsz = recsz;
	p->cursor = rq->cursor;
}

static void *
page_add(struct page *p)
{
	unsigned char *rec;

	if (p->full)
		return NULL;
	if (p->index++ < p->cursor)
		return NULL;
	if (sizeof(struct msiv_page) + (p->count + 1) * p->recsz > CMD_REP_MAX) {
		p->full = 1;
		return NULL;
	}
	rec = p->ctx->rep + sizeof(struct msiv_page) + p->count++ * p->recsz;
	memset(rec, 0, p->recsz);
	return rec;
}

static int
page_done(struct page *p)
{
	struct msiv_page pg = {
		.count = p->count,
		.next = p->full ? p->cursor + p->count : 0,
	};

	memcpy(p->ctx->rep, &pg, sizeof(pg));
	p->ctx->replen = (uint32_t)(sizeof(pg) + p->count * p->recsz);
	return 0;
}

static int
page_check(struct cmd_ctx *ctx, int want_vfunc)
{
	const struct msiv_list_req *rq = ctx->req;

	if (rq->reserved != 0 || (!want_vfunc && rq->vfunc != 0))
		return cmd_refuse_debug(ctx, -EINVAL, "reserved field set, or "
		    "a vfunc where none is asked for");
	return 0;
}

int
cmd_device_list(struct cmd_ctx *ctx)
{
	struct device *dev;
	struct page p;
	int r;

	if ((r = page_check(ctx, 0)) < 0)
		return r;
	page_init(&p, ctx, sizeof(struct msiv_device_rec));
	TAILQ_FOREACH(dev, &devices, entry) {
		struct msiv_device_rec *rec;

		/* A tenant sees the devices it may use. */
		if (ctx->s->policy != NULL && !(ctx->s->rights &
		    MSIV_RIGHT_ADMIN) && !conf_tenant_device(ctx->s->policy,
		    dev->name))
			continue;
		if ((rec = page_add(&p)) == NULL)
			continue;
		memcpy(rec->name, dev->name, sizeof(rec->name));
		(void)msiv_name_put(rec->backend, dev->ops->name);
		rec->slots = dev->nslots;
		rec->slots_used = dev->used;
		rec->policy = (uint32_t)dev->policy;
		rec->flags = dev->flags;
	}
	return page_done(&p);
}

/* Admins see every vfunc; a tenant sees its own, orphaned ones too. */
static int
cmd_visible(const struct session *s, const struct vfunc *vf)
{
	return (s->rights & MSIV_RIGHT_ADMIN) || vf->session == s ||
	    (vf->session == NULL &&
	    strncmp(vf->tenant, s->tenant, MSIV_NAME_MAX) == 0);
}

int
cmd_vfunc_list(struct cmd_ctx *ctx)
{
	struct vfunc *vf;
	struct page p;
	uint64_t now = server_now_ms();
	int r;

	if ((r = page_check(ctx, 0)) < 0)
		return r;
	page_init(&p, ctx, sizeof(struct msiv_vfunc_rec));
	TAILQ_FOREACH(vf, &vfuncs, entry) {
		struct msiv_vfunc_rec *rec;

		if (!cmd_visible(ctx->s, vf) || (rec = page_add(&p)) == NULL)
			continue;
		rec->vfunc = vf->id;
		rec->session = vf->session != NULL ? vf->session->id : 0;
		memcpy(rec->device, vf->device, sizeof(rec->device));
		memcpy(rec->tenant, vf->tenant, sizeof(rec->tenant));
		rec->nvec = vf->nvec;
		rec->first_slot = vf->first;
		rec->policy = (uint32_t)vf->policy;
		rec->flags = (vf->enabled ? MSIV_VFUNC_ENABLED : 0) |
		    (vf->fmasked ? MSIV_VFUNC_FMASKED : 0) |
		    (vf->session == NULL ? MSIV_VFUNC_ORPHANED : 0) |
		    (vf->gone != 0 ? MSIV_VFUNC_GONE : 0) |
		    (vf->lazy ? MSIV_VFUNC_LAZY : 0);
		rec->gone = vf->gone;
		if (vf->session == NULL) {
			uint64_t grace = (uint64_t)server_conf()->orphan_grace *
			    1000, gone = now - vf->orphaned_ms;

			rec->grace_ms = gone < grace ?
			    (uint32_t)(grace - gone) : 0;
		}
	}
	return page_done(&p);
}

int
cmd_vec_list(struct cmd_ctx *ctx)
{
	const struct msiv_list_req *rq = ctx->req;
	struct vfunc *vf = vfunc_find(rq->vfunc);
	struct page p;
	int r;

	if ((r = page_check(ctx, 1)) < 0)
		return r;
	if (vf == NULL || !cmd_visible(ctx->s, vf))
		return cmd_refuse_debug(ctx, -ENOENT, "no vfunc %016llx",
		    (unsigned long long)rq->vfunc);
	if (vf->gone != 0)
		return cmd_refuse_debug(ctx, vfunc_gone_errno(vf), "vfunc "
		    "%016llx was taken away: it has no vectors",
		    (unsigned long long)rq->vfunc);
	page_init(&p, ctx, sizeof(struct msiv_vec_rec));
	deliver_sync(); /* counters include what was raised before */
	for (uint32_t i = 0; i < vf->nvec; i++) {
		struct msiv_vec_rec *rec = page_add(&p);

		if (rec == NULL)
			continue;
		rec->vector = i;
		rec->nospace = vf->lazy ? vf->nospace[i] : 0;
		vfunc_vec_info(vf, i, &rec->info);
	}
	return page_done(&p);
}

int
cmd_session_list(struct cmd_ctx *ctx)
{
	struct session *s;
	struct page p;
	int r;

	if ((r = page_check(ctx, 0)) < 0)
		return r;
	page_init(&p, ctx, sizeof(struct msiv_session_rec));
	TAILQ_FOREACH(s, &sessions, entry) {
		struct msiv_session_rec *rec;

		if ((!(ctx->s->rights & MSIV_RIGHT_ADMIN) && s != ctx->s) ||
		    (rec = page_add(&p)) == NULL)
			continue;
		rec->session = s->id;
		rec->pid = (uint32_t)s->pid;
		rec->uid = s->uid;
		rec->gid = s->gid;
		rec->rights = s->rights;
		rec->vfuncs = s->nvfuncs;
		memcpy(rec->tenant, s->tenant, sizeof(rec->tenant));
	}
	return page_done(&p);
}

/* The delivery shards' figures: nothing of any tenant's, so anyone's. */
int
cmd_shard_list(struct cmd_ctx *ctx)
{
	struct page p;
	int r;

	if ((r = page_check(ctx, 0)) < 0)
		return r;
	page_init(&p, ctx, sizeof(struct msiv_shard_rec));
	for (unsigned int k = 0; k < deliver_shard_count(); k++) {
		struct msiv_shard_rec *rec;
		struct deliver_shard_stats st;

		if ((rec = page_add(&p)) == NULL)
			continue;
		deliver_get_shard_stats(k, &st);
		rec->interrupts = st.interrupts;
		rec->delivered = st.delivered;
		rec->dropped = st.dropped;
		rec->cpu_ns = st.cpu_ns;
		rec->shard = k;
		rec->slots = st.slots;
	}
	return page_done(&p);
}

/* The sim device and slot range a SIM_* request names. */
static int
cmd_sim_lookup(struct cmd_ctx *ctx, uint32_t maxcount, struct device **out)
{
	const struct msiv_sim_req *rq = ctx->req;
	struct device *dev;

	if (msiv_name_check(rq->device) < 0)
		return cmd_refuse_debug(ctx, -EINVAL, "the device name is not "
		    "1 to %u printable characters", MSIV_NAME_MAX - 1);
	if ((dev = device_find(rq->device)) == NULL)
		return cmd_refuse(ctx, -ENODEV, "no device %s", rq->device);
	if (rq->slot >= dev->nslots)
		return cmd_refuse_debug(ctx, -EINVAL, "slot %u: device %s has "
		    "%u slots", rq->slot, dev->name, dev->nslots);
	if (rq->count == 0 || rq->count > maxcount)
		return cmd_refuse_debug(ctx, -EINVAL, "count %u: 1 to %u",
		    rq->count, maxcount);
	*out = dev;
	return 0;
}

int
cmd_sim_triggers(struct cmd_ctx *ctx)
{
	const struct msiv_sim_req *rq = ctx->req;
	struct device *dev;
	int r;

	if ((r = cmd_sim_lookup(ctx, MSIV_FDS_MAX, &dev)) < 0)
		return r;
	if (rq->count > dev->nslots - rq->slot)
		return cmd_refuse_debug(ctx, -EINVAL, "slots %u to %u: device "
		    "%s has %u", rq->slot, rq->slot + rq->count - 1, dev->name,
		    dev->nslots);
	if (dev->ops->trigger_dup == NULL)
		return cmd_refuse_debug(ctx, -EOPNOTSUPP, "device %s is not a "
		    "sim device", dev->name);
	for (uint32_t i = 0; i < rq->count; i++) {
		int fd = dev->ops->trigger_dup(dev, rq->slot + i);

		if (fd < 0)
			return fd; /* the server closes those already taken */
		ctx->repfds[ctx->nrepfds++] = fd;
	}
	return 0;
}

int
cmd_sim_fire(struct cmd_ctx *ctx)
{
	const struct msiv_sim_req *rq = ctx->req;
	struct device *dev;
	int r;

	if ((r = cmd_sim_lookup(ctx, UINT32_MAX, &dev)) < 0)
		return r;
	if (dev->ops->fire == NULL)
		return cmd_refuse_debug(ctx, -EOPNOTSUPP, "device %s is not a "
		    "sim device", dev->name);
	return dev->ops->fire(dev, rq->slot, rq->count);
}

/*
 * LOG_LEVEL: the log level at run time (msivd(8), LOGGING); not kept
 * across a restart. The change is logged at info, or at warning when the
 * new level hides info at that level, so that it shows whichever way it
 * goes.
 */
int
cmd_log_level(struct cmd_ctx *ctx)
{
	const struct msiv_log_level_req *rq = ctx->req;
	struct msiv_log_level_rep *rp = (struct msiv_log_level_rep *)ctx->rep;
	enum log_level was = log_get_level(), now;

	if (rq->reserved != 0)
		return -EINVAL;
	switch (rq->level) {
	case MSIV_LOG_QUERY:
		now = was;
		break;
	case MSIV_LOG_ERROR:
		now = LOG_LEVEL_ERROR;
		break;
	case MSIV_LOG_WARNING:
		now = LOG_LEVEL_WARN;
		break;
	case MSIV_LOG_INFO:
		now = LOG_LEVEL_INFO;
		break;
	case MSIV_LOG_DEBUG:
		now = LOG_LEVEL_DEBUG;
		break;
	default:
		return -EINVAL;
	}
	rp->previous = (uint32_t)was;
	rp->level = (uint32_t)now;
	if (rq->level == MSIV_LOG_QUERY)
		return 0;
	log_set_level(now);
	log_at(now < LOG_LEVEL_INFO ? now : LOG_LEVEL_INFO, "log level set to "
	    "%s (was %s) by session %llu (pid %d, uid %u)", log_level_name(now),
	    log_level_name(was), (unsigned long long)ctx->s->id,
	    (int)ctx->s->pid, (unsigned)ctx->s->uid);
	return 0;
}

int
cmd_shutdown(struct cmd_ctx *ctx)
{
	log_info("shutdown requested by session %llu (pid %d, uid %u)",
	    (unsigned long long)ctx->s->id, (int)ctx->s->pid,
	    (unsigned)ctx->s->uid);
	server_request_stop();
	return 0;
}

int
cmd_reload(struct cmd_ctx *ctx)
{
	struct msiv_reload_rep *rp = (struct msiv_reload_rep *)ctx->rep;
	char by[96];

	snprintf(by, sizeof(by), "RELOAD from session %llu, pid %d, uid %u",
	    (unsigned long long)ctx->s->id, (int)ctx->s->pid,
	    (unsigned)ctx->s->uid);
	int r = reload_run(by, rp->message, sizeof(rp->message));

	/* Logged by reload_run in the same words; the client gets them as
	 * the refusal's reason. */
	return r < 0 ? cmd_reason(ctx, r, "%s", rp->message) : r;
}

/* RESTART: hand everything to a new msivd (handover.c); its reply comes
 * later, from the new process or, refused, from this one. */
int
cmd_restart(struct cmd_ctx *ctx)
{
	char why[MSIV_REASON_MAX];
	int r = handover_start(ctx->s, ctx->hdr, why, sizeof(why));

	if (r < 0)
		return cmd_refuse(ctx, r, "%s", why);
	return CMD_DEFER;
}
