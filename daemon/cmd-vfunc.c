/*
 * Session and virtual-function commands: HELLO, VFUNC_OPEN, VFUNC_CLOSE,
 * VFUNC_ENABLE (rules 1 and 2), VFUNC_FMASK (rule 7), VFUNC_RESET (rule 8).
 * Function-level bits are applied to every vector of the vfunc under each
 * vector's lock, so the acknowledgement covers all of them (rule 4).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "store.h"
#include "token.h"

/*
 * The tenant's token: a tenant the store does not know is created with a
 * new token; a known one must present its token, unless it holds no vfunc
 * (then it is taken over with a new token). With the right token the
 * session resumes the tenant's orphaned vfuncs. The store keeps only a
 * seal of each token (token.h): the reply gives back the token the
 * client presented.
 */
static int
cmd_hello_tenant(struct cmd_ctx *ctx, const uint8_t *given, uint8_t *token,
    uint32_t *resumed)
{
	static const uint8_t none[MSIV_TOKEN_LEN];
	struct session *s = ctx->s;
	int r = store_tenant_check(s->tenant, given);

	*resumed = 0;
	if (r == 1) {
		memcpy(token, given, MSIV_TOKEN_LEN);
		*resumed = session_adopt(s);
		if (*resumed > 0)
			log_info("session %llu: tenant %s resumed %u vfunc(s)",
			    (unsigned long long)s->id, s->tenant, *resumed);
		return 0;
	}
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0 && vfunc_tenant_busy(s->tenant)) {
		log_warnx("session %llu (pid %d, uid %u): tenant %s refused: "
		    "it holds vfuncs and the session %s", (unsigned long long)s->id,
		    (int)s->pid, (unsigned)s->uid, s->tenant,
		    memcmp(given, none, MSIV_TOKEN_LEN) == 0 ? "gave no token" :
		    "gave a wrong token");
		return cmd_reason(ctx, -EACCES, "tenant %s refused: it holds "
		    "vfuncs and the session %s", s->tenant,
		    memcmp(given, none, MSIV_TOKEN_LEN) == 0 ? "gave no token" :
		    "gave a wrong token");
	}
	if ((r = token_new(token)) < 0)
		return r;
	return store_tenant_put(s->tenant, token);
}

/*
 * The tenant a session acts as, and its policy. With [tenant] sections,
 * a peer that is not an admin may act only as a tenant that admits it
 * (no name: the first of them); an admin may act as any, and a
 * configured one brings its policy. Without any, every peer may act as
 * a tenant under the [msivd] defaults (no name: uid-UID), as long as the
 * name is its own (cmd_hello_owner).
 */
static int
cmd_hello_policy(struct cmd_ctx *ctx, const char *name)
{
	const struct conf *c = server_conf();
	struct session *s = ctx->s;
	uint32_t i;

	for (i = 0; i < c->ntenants; i++)
		if (name[0] == '\0' ? (s->tenants_ok >> i) & 1 :
		    strncmp(c->tenants[i].name, name, MSIV_NAME_MAX) == 0)
			break;
	s->policy = i < c->ntenants ? &c->tenants[i] : NULL;
	if (c->ntenants > 0 && !(s->rights & MSIV_RIGHT_ADMIN) &&
	    !(s->policy != NULL && ((s->tenants_ok >> i) & 1))) {
		log_warnx("session %llu (pid %d, uid %u): tenant %.*s refused: "
		    "its [tenant] section does not admit uid %u", (unsigned long
		    long)s->id, (int)s->pid, (unsigned)s->uid, MSIV_NAME_MAX,
		    name, (unsigned)s->uid);
		s->policy = NULL;
		return cmd_reason(ctx, -EACCES, "tenant %.*s refused: its "
		    "[tenant] section does not admit uid %u", MSIV_NAME_MAX,
		    name, (unsigned)s->uid);
	}
	if (s->policy != NULL)
		memcpy(s->tenant, s->policy->name, sizeof(s->tenant));
	else if (name[0] != '\0')
		memcpy(s->tenant, name, sizeof(s->tenant));
	else
		snprintf(s->tenant, sizeof(s->tenant), "uid-%u",
		    (unsigned)s->uid);
	return 0;
}

/*
 * Is name a derived one, "uid-" and digits (what a HELLO without a name
 * gets)? Then *uid is the uid it is derived from (above any uid if the
 * digits are too many).
 */
static bool
cmd_derived_uid(const char *name, uint64_t *uid)
{
	size_t len = strnlen(name, MSIV_NAME_MAX);
	uint64_t v = 0;

	if (len <= 4 || strncmp(name, "uid-", 4) != 0)
		return false;
	for (size_t i = 4; i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		if (v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*uid = v;
	return true;
}

/*
 * Who owns the tenant name (issue 15: no squatting). A name a [tenant]
 * section configures is the section's to give (cmd_hello_policy), and
 * admins may act as any tenant. Otherwise a derived name, uid-N, belongs
 * to uid N alone, and any other name to the uid that created the tenant:
 * the store keeps that binding (a tenant stored before it is bound by
 * its next successful HELLO: one refused for a wrong token binds
 * nothing). Returns 0 (*bind: bind the tenant to the session's uid once
 * the HELLO succeeds) or -errno.
 */
static int
cmd_hello_owner(struct cmd_ctx *ctx, bool *bind)
{
	struct session *s = ctx->s;
	int64_t owner = -1;
	uint64_t uid;
	int r = store_tenant_owner(s->tenant, &owner);

	if (r < 0 && r != -ENOENT)
		return r;
	*bind = r == -ENOENT || owner < 0;
	if ((s->rights & MSIV_RIGHT_ADMIN) || s->policy != NULL)
		return 0;
	if (cmd_derived_uid(s->tenant, &uid)) {
		if (uid == s->uid)
			return 0;
		log_warnx("session %llu (pid %d, uid %u): tenant %.*s refused: "
		    "the name is derived from another uid", (unsigned long
		    long)s->id, (int)s->pid, (unsigned)s->uid, MSIV_NAME_MAX,
		    s->tenant);
		return cmd_reason(ctx, -EACCES, "tenant %.*s refused: the name "
		    "is derived from another uid", MSIV_NAME_MAX, s->tenant);
	}
	if (*bind || owner == (int64_t)s->uid)
		return 0;
	log_warnx("session %llu (pid %d, uid %u): tenant %.*s refused: it "
	    "belongs to uid %lld, which created it", (unsigned long long)s->id,
	    (int)s->pid, (unsigned)s->uid, MSIV_NAME_MAX, s->tenant,
	    (long long)owner);
	/* The log names the uid; the reply does not (it is another's). */
	return cmd_reason(ctx, -EACCES, "tenant %.*s refused: it belongs to "
	    "the uid that created it", MSIV_NAME_MAX, s->tenant);
}

/*
 * May the session's tenant open nvec more vectors on dev? Its devices and
 * its quota per device count every vfunc of the tenant there (orphaned
 * ones too; revoked ones hold no slots and do not count), and the slots
 * each holds: a lazy vfunc's bound ones (it opens with nvec 0 here; its
 * setups are checked in cmd-vector.c).
 */
static int
cmd_quota(struct cmd_ctx *ctx, const struct device *dev, uint32_t nvec)
{
	struct session *s = ctx->s;
	const struct conf *c = server_conf();
	const struct conf_tenant *t = s->policy;
	uint32_t max_vf = t != NULL ? t->max_vfuncs : c->max_vfuncs;
	uint32_t max_vec = t != NULL ? t->max_vectors : c->max_vectors;
	uint64_t nvf = 0, nv = 0;
	struct vfunc *vf;

	if (s->retired) {
		/* Kept until closed, nothing new (reload.c). */
		log_warnx("session %llu (pid %d, uid %u): tenant %s is no "
		    "longer configured for it; it opens no new vfunc",
		    (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid,
		    s->tenant);
		return -EACCES;
	}
	if (t != NULL && !conf_tenant_device(t, dev->name)) {
		log_warnx("session %llu (pid %d, uid %u): tenant %s may not use "
		    "device %s", (unsigned long long)s->id, (int)s->pid,
		    (unsigned)s->uid, s->tenant, dev->name);
		return cmd_reason(ctx, -EACCES, "tenant %s may not use device "
		    "%s", s->tenant, dev->name);
	}
	TAILQ_FOREACH(vf, &vfuncs, entry) {
		if (vf->dev == dev && strncmp(vf->tenant, s->tenant,
		    MSIV_NAME_MAX) == 0) {
			nvf++;
			nv += vf->bound;
		}
	}
	if (nvf + 1 > max_vf || nv + nvec > max_vec) {
		log_warnx("session %llu (pid %d, uid %u): tenant %s over its "
		    "quota on %s: %llu of %u vfuncs, %llu + %u of %u vectors",
		    (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid,
		    s->tenant, dev->name, (unsigned long long)nvf, max_vf,
		    (unsigned long long)nv, nvec, max_vec);
		return cmd_reason(ctx, -EDQUOT, "tenant %s over its quota on "
		    "%s: %llu of %u vfuncs, %llu + %u of %u vectors",
		    s->tenant, dev->name, (unsigned long long)nvf, max_vf,
		    (unsigned long long)nv, nvec, max_vec);
	}
	return 0;
}

int
cmd_hello(struct cmd_ctx *ctx)
{
	const struct msiv_hello_req *rq = ctx->req;
	struct msiv_hello_rep *rp = (struct msiv_hello_rep *)ctx->rep;
	struct session *s = ctx->s;
	bool bind;
	int r;

	if (s->hello)
		return cmd_refuse_debug(ctx, -EALREADY, "the session said "
		    "HELLO already");
	if (rq->reserved != 0 || rq->version_min > rq->version_max)
		return cmd_refuse_debug(ctx, -EINVAL, "reserved field set, or "
		    "version_min above version_max");
	if (rq->version_min > MSIV_PROTO_VERSION || rq->version_max < 1)
		return cmd_refuse(ctx, -EPROTONOSUPPORT, "versions %u to %u "
		    "asked for: msivd speaks 1 to %u", rq->version_min,
		    rq->version_max, MSIV_PROTO_VERSION);
	if (rq->tenant[0] != '\0' && msiv_name_check(rq->tenant) < 0)
		return cmd_refuse_debug(ctx, -EINVAL, "the tenant name is not "
		    "1 to %u printable characters", MSIV_NAME_MAX - 1);
	if ((r = cmd_hello_policy(ctx, rq->tenant)) < 0)
		return r;
	if ((r = cmd_hello_owner(ctx, &bind)) < 0 ||
	    (r = cmd_hello_tenant(ctx, rq->token, rp->token,
	    &rp->resumed)) < 0 ||
	    (bind && (r = store_tenant_owner_put(s->tenant,
	    (uint32_t)s->uid)) < 0)) {
		memset(s->tenant, 0, sizeof(s->tenant));
		s->policy = NULL;
		return r;
	}
	s->hello = 1;
	rp->version = MSIV_PROTO_VERSION;
	rp->features = MSIV_FEAT_NONE;
	rp->rights = s->rights;
	rp->session = s->id;
	memcpy(rp->tenant, s->tenant, sizeof(rp->tenant));
	/* Debug, as the close: a monitor polling msivctl every few seconds
	 * must not fill the log at info (msivd(8), LOGGING). */
	log_debug("session %llu: pid %d uid %u tenant %s%s",
	    (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid,
	    s->tenant, s->rights & MSIV_RIGHT_ADMIN ? " (admin)" : "");
	return 0;
}

int
cmd_vfunc_open(struct cmd_ctx *ctx)
{
	const struct msiv_vfunc_open_req *rq = ctx->req;
	struct msiv_vfunc_open_rep *rp = (struct msiv_vfunc_open_rep *)ctx->rep;
	struct session *s = ctx->s;
	enum vector_policy policy;
	struct device *dev;
	struct vfunc *vf;
	bool lazy;
	int r;

	if (msiv_name_check(rq->device) < 0)
		return cmd_refuse_debug(ctx, -EINVAL, "the device name is not "
		    "1 to %u printable characters", MSIV_NAME_MAX - 1);
	if ((dev = device_find(rq->device)) == NULL)
		return cmd_refuse(ctx, -ENODEV, "no device %s", rq->device);
	if (rq->nvec == 0 || rq->nvec > MSIV_VECTORS_MAX)
		return cmd_refuse_debug(ctx, -EINVAL, "%u vectors: a vfunc has "
		    "1 to %u", rq->nvec, MSIV_VECTORS_MAX);
	if ((rq->policy & ~(MSIV_OPEN_POLICY | MSIV_OPEN_ALL)) != 0)
		return cmd_refuse_debug(ctx, -EINVAL, "unknown open flags "
		    "0x%x", rq->policy & ~(MSIV_OPEN_POLICY | MSIV_OPEN_ALL));
	lazy = (rq->policy & MSIV_OPEN_LAZY) != 0;
	switch (rq->policy & MSIV_OPEN_POLICY) {
	case MSIV_POLICY_DEFAULT:
		policy = dev->policy;
		break;
	case MSIV_POLICY_LATCH:
	case MSIV_POLICY_STRICT:
	case MSIV_POLICY_LIVE:
		policy = (enum vector_policy)(rq->policy & MSIV_OPEN_POLICY);
		break;
	default:
		return cmd_refuse_debug(ctx, -EINVAL, "unknown policy %u",
		    rq->policy & MSIV_OPEN_POLICY);
	}
	if (s->nvfuncs >= server_conf()->max_vfuncs_per_session)
		return cmd_refuse(ctx, -EDQUOT, "the session holds %u vfuncs "
		    "(max_vfuncs_per_session)", s->nvfuncs);
	if ((r = cmd_quota(ctx, dev, lazy ? 0 : rq->nvec)) < 0)
		return r;
	if ((r = vfunc_open(s, s->tenant, dev, rq->nvec, policy, lazy,
	    &vf)) < 0) {
		if (r == -ENOSPC)
			return cmd_refuse(ctx, r, "device %s has no run of %u "
			    "free slots (%u of %u in use)", dev->name,
			    rq->nvec, dev->used, dev->nslots);
		return r;
	}
	session_take_vfunc(s, vf);
	ctx->touched = vf->id;
	rp->vfunc = vf->id;
	rp->first_slot = vf->first;
	rp->policy = (uint32_t)policy;
	if (lazy)
		log_info("session %llu: vfunc %016llx: %u vectors on %s, slots "
		    "on first use, %s policy", (unsigned long long)s->id,
		    (unsigned long long)vf->id, vf->nvec, dev->name,
		    conf_policy_name(policy));
	else
		log_info("session %llu: vfunc %016llx: %u vectors on %s slots "
		    "%u-%u, %s policy", (unsigned long long)s->id,
		    (unsigned long long)vf->id, vf->nvec, dev->name, vf->first,
		    vf->first + vf->nvec - 1, conf_policy_name(policy));
	return 0;
}

/* The vfunc a VFUNC_* request names, with its value checked: 0 or 1 for
 * ENABLE and FMASK, 0 (unused) for CLOSE and RESET. gone_ok: one taken
 * away is fine too (CLOSE). */
static int
cmd_vfunc_req(struct cmd_ctx *ctx, uint32_t maxvalue, bool gone_ok,
    struct vfunc **vf)
{
	const struct msiv_vfunc_req *rq = ctx->req;
	int r;

	if (rq->reserved != 0 || rq->value > maxvalue)
		return cmd_refuse_debug(ctx, -EINVAL, "value %u (at most %u), "
		    "or reserved field set", rq->value, maxvalue);
	if (gone_ok && (r = session_vfunc(ctx->s, rq->vfunc, vf)) != -ENOENT)
		return 0; /* the session's, taken away or not: *vf is set */
	return cmd_vfunc_lookup(ctx, rq->vfunc, vf);
}

int
cmd_vfunc_close(struct cmd_ctx *ctx)
{
	struct vfunc *vf = NULL;
	int r;

	/* A vfunc taken away is closed like any other. */
	if ((r = cmd_vfunc_req(ctx, 0, true, &vf)) < 0)
		return r;
	log_info("session %llu: vfunc %016llx closed",
	    (unsigned long long)ctx->s->id, (unsigned long long)vf->id);
	ctx->touched = vf->id;
	session_drop_vfunc(vf);
	vfunc_close(vf, true);
	return 0;
}

/* Set a function-level bit (MSI-X Enable or Function Mask) on every vector,
 * each under its own lock; the reply goes out once all are done. */
static int
cmd_vfunc_bit(struct cmd_ctx *ctx, bool *bit,
    unsigned int (*op)(struct vector *, bool), struct vfunc *vf)
{
	const struct msiv_vfunc_req *rq = ctx->req;

	*bit = rq->value != 0;
	for (uint32_t i = 0; i < vf->nvec; i++) {
		struct slot *sl = vfunc_vec_lock(vf, i);

		cmd_vec_done(vf, i, op(&sl->vec, *bit));
	}
	return vfunc_persist_bits(vf, false);
}

int
cmd_vfunc_enable(struct cmd_ctx *ctx)
{
	struct vfunc *vf;
	int r;

	if ((r = cmd_vfunc_req(ctx, 1, false, &vf)) < 0)
		return r;
	return cmd_vfunc_bit(ctx, &vf->enabled, vector_set_enabled, vf);
}

int
cmd_vfunc_fmask(struct cmd_ctx *ctx)
{
	struct vfunc *vf;
	int r;

	if ((r = cmd_vfunc_req(ctx, 1, false, &vf)) < 0)
		return r;
	return cmd_vfunc_bit(ctx, &vf->fmasked, vector_set_fmask, vf);
}

int
cmd_vfunc_reset(struct cmd_ctx *ctx)
{
	struct vfunc *vf;
	int r;

	if ((r = cmd_vfunc_req(ctx, 0, false, &vf)) < 0)
		return r;
	vf->enabled = false;
	vf->fmasked = false;
	for (uint32_t i = 0; i < vf->nvec; i++) {
		struct slot *sl = vfunc_vec_lock(vf, i);
		unsigned int act;
		int old;

		/* Rule 8: pending state goes; nothing is delivered after
		 * the acknowledgement (the function is disabled). */
		act = vector_free(&sl->vec);
		act |= vector_set_fmask(&sl->vec, false);
		act |= vector_set_enabled(&sl->vec, false);
		old = slot_target_take(sl);
		sl->direct = false;
		cmd_vec_done(vf, i, act);
		slot_target_close(old);
		vfunc_unbind(vf, i); /* lazy: the slot goes back */
		if ((r = vfunc_persist(vf, i, true)) < 0)
			return r;
	}
	ctx->touched = vf->id;
	return vfunc_persist_bits(vf, true);
}
