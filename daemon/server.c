/*
 * The control thread's socket server (msiv-protocol(7), msivd(8)).
 *
 * One SOCK_SEQPACKET listener; one session per connection with its peer
 * credentials (SO_PEERCRED) recorded at accept. Every request passes one
 * checker (server_dispatch) in a fixed order before any handler runs:
 * header (magic, version, length) -> HELLO first -> opcode, exact payload
 * length and fd count (the wire table, lib/proto.c) -> permission (the
 * dispatch table below). A peer that does not speak the protocol at all is
 * dropped; a bad request gets an error reply and the session lives on.
 * Replies and events that cannot be sent at once are queued, with a cap
 * (max_queued): a client that never reads is disconnected, others are not
 * affected.
 *
 * Authorisation happens at accept, from the peer's credentials: admins
 * (root, msivd's own uid, admin_group) may do everything and act as any
 * tenant. With [tenant] sections configured, other peers may act only as
 * a tenant whose uids or gids admit them; a peer no tenant admits gets
 * EACCES for its first request, is logged, and is disconnected. A tenant
 * name no [tenant] section configures belongs to one uid (HELLO, in
 * cmd-vfunc.c): uid-N to uid N, any other to the uid that created it.
 * Non-admin peers are held to max_sessions_per_uid and to max_rate
 * requests per second per session (over it, the daemon stops reading the
 * session until its credit is back: the client slows down, nothing is
 * lost).
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fdpass.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "store.h"

/*
 * Requests read from one session per turn of the event loop: one
 * recvmmsg batch. Each readable session is read once per turn, so this
 * is what one session may take before every other is served, and what a
 * reply held for the turn's commit may wait for, per session (store.c).
 * At 64 a session with 64 requests in flight made other tenants' durable
 * replies wait about 1 ms per turn on a 2-core machine; at 16 a system
 * call per turn is spread over 16 requests and the wait is a quarter
 * (doc/performance.md, "Fairness").
 */
#define SESSION_READ_BURST FDPASS_BATCH_MAX
#define SESSION_GROUPS_MAX 256   /* supplementary groups checked at accept */

/* Who may call an opcode. 0 is no value: an entry that does not say is
 * an empty one, and msivd does not start (server_init). */
enum cmd_perm {
	CMD_PERM_ANY = 1,
	CMD_PERM_ADMIN = 2,
};

struct cmd_entry {
	enum cmd_perm perm;
	cmd_handler *fn;
};

/*
 * The dispatch table: who may call each opcode, and its handler. What an
 * opcode carries on the wire (payload lengths, fds, layouts) is the wire
 * table shared with libmsiv (lib/proto.c), which server_dispatch checks
 * first. Sized by its entries: an opcode appended to enum msiv_op without
 * its entry here does not build, and msivd does not start if one between
 * is left out or says no permission (server_init).
 */
static const struct cmd_entry cmd_table[] = {
	[MSIV_OP_HELLO] = { .perm = CMD_PERM_ANY, .fn = cmd_hello },
	[MSIV_OP_STATUS] = { .perm = CMD_PERM_ANY, .fn = cmd_status },
	[MSIV_OP_DEVICE_LIST] = { .perm = CMD_PERM_ANY, .fn = cmd_device_list },
	[MSIV_OP_VFUNC_OPEN] = { .perm = CMD_PERM_ANY, .fn = cmd_vfunc_open },
	[MSIV_OP_VFUNC_CLOSE] = { .perm = CMD_PERM_ANY, .fn = cmd_vfunc_close },
	[MSIV_OP_VFUNC_ENABLE] = { .perm = CMD_PERM_ANY,
	    .fn = cmd_vfunc_enable },
	[MSIV_OP_VFUNC_FMASK] = { .perm = CMD_PERM_ANY, .fn = cmd_vfunc_fmask },
	[MSIV_OP_VFUNC_RESET] = { .perm = CMD_PERM_ANY, .fn = cmd_vfunc_reset },
	[MSIV_OP_VEC_SETUP] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_setup },
	[MSIV_OP_VEC_MASK] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_mask },
	[MSIV_OP_VEC_UNMASK] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_unmask },
	[MSIV_OP_VEC_RETARGET] = { .perm = CMD_PERM_ANY,
	    .fn = cmd_vec_retarget },
	[MSIV_OP_VEC_FREE] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_free },
	[MSIV_OP_VEC_QUERY] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_query },
	[MSIV_OP_TABLE_WRITE] = { .perm = CMD_PERM_ANY, .fn = cmd_table_write },
	[MSIV_OP_TABLE_READ] = { .perm = CMD_PERM_ANY, .fn = cmd_table_read },
	[MSIV_OP_VFUNC_LIST] = { .perm = CMD_PERM_ANY, .fn = cmd_vfunc_list },
	[MSIV_OP_VEC_LIST] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_list },
	[MSIV_OP_SESSION_LIST] = { .perm = CMD_PERM_ANY,
	    .fn = cmd_session_list },
	[MSIV_OP_SIM_TRIGGERS] = { .perm = CMD_PERM_ADMIN,
	    .fn = cmd_sim_triggers },
	[MSIV_OP_SIM_FIRE] = { .perm = CMD_PERM_ADMIN, .fn = cmd_sim_fire },
	[MSIV_OP_SHUTDOWN] = { .perm = CMD_PERM_ADMIN, .fn = cmd_shutdown },
	[MSIV_OP_DEVICE_ATTACH] = { .perm = CMD_PERM_ADMIN,
	    .fn = cmd_device_attach },
	[MSIV_OP_DEVICE_DETACH] = { .perm = CMD_PERM_ADMIN,
	    .fn = cmd_device_detach },
	[MSIV_OP_IRQ_AFFINITY] = { .perm = CMD_PERM_ANY,
	    .fn = cmd_irq_affinity },
	[MSIV_OP_REVOKE] = { .perm = CMD_PERM_ADMIN, .fn = cmd_revoke },
	[MSIV_OP_HOTPLUG_STATUS] = { .perm = CMD_PERM_ANY,
	    .fn = cmd_hotplug_status },
	[MSIV_OP_RELOAD] = { .perm = CMD_PERM_ADMIN, .fn = cmd_reload },
	[MSIV_OP_LOG_LEVEL] = { .perm = CMD_PERM_ADMIN, .fn = cmd_log_level },
	[MSIV_OP_TENANT_RELEASE] = { .perm = CMD_PERM_ADMIN,
	    .fn = cmd_tenant_release },
	[MSIV_OP_METRICS] = { .perm = CMD_PERM_ADMIN, .fn = cmd_metrics },
};
_Static_assert(sizeof(cmd_table) / sizeof(cmd_table[0]) == MSIV_OP__COUNT,
    "one dispatch table entry per opcode");

struct outmsg {
	TAILQ_ENTRY(outmsg) entry;
	size_t len;
	size_t nfds;
	int fds[MSIV_FDS_MAX];
	unsigned char buf[];
};

/*
 * Packets held until the turn's commit: replies to requests that changed
 * durable state, and anything sent to the same session after one (so a
 * session's packets stay in order). On a failed commit the durable
 * replies carry the error instead, and the vfuncs they touched are set
 * back to their committed state.
 */
struct held {
	TAILQ_ENTRY(held) entry;
	struct session *s;     /* NULL once the session is gone */
	struct outmsg *m;
	int durable;
	uint64_t vfunc;
};
static TAILQ_HEAD(, held) held_list = TAILQ_HEAD_INITIALIZER(held_list);

struct session_list sessions = TAILQ_HEAD_INITIALIZER(sessions);

static struct event_base *srv_base;
static const struct conf *srv_conf;
static int srv_listen_fd = -1;
static struct event *srv_listen_ev;
static struct event *srv_pause_ev;
static struct event *srv_reap_ev;
static uint64_t srv_next_session = 1;
static uint32_t srv_nsessions;
static struct timespec srv_start;

static void session_end(struct session *s, const char *why, int shutdown);

static void
session_kill(struct session *s, const char *why)
{
	session_end(s, why, 0);
}

const struct conf *
server_conf(void)
{
	return srv_conf;
}

struct event_base *
server_base(void)
{
	return srv_base;
}

uint64_t
server_now_ms(void)
{
	return clock_now_ms();
}

uint64_t
server_uptime_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - srv_start.tv_sec) * 1000 +
	    (uint64_t)((now.tv_nsec - srv_start.tv_nsec) / 1000000);
}

uint32_t
session_count(void)
{
	return srv_nsessions;
}

void
session_tenant(const struct session *s, char out[MSIV_NAME_MAX])
{
	memcpy(out, s->tenant, MSIV_NAME_MAX);
}

void
session_drop_vfunc(struct vfunc *vf)
{
	if (vf->session != NULL) {
		TAILQ_REMOVE(&vf->session->vfuncs, vf, sentry);
		vf->session->nvfuncs--;
		vf->session = NULL;
	}
}

void
session_take_vfunc(struct session *s, struct vfunc *vf)
{
	vf->session = s;
	vf->orphaned_ms = 0;
	TAILQ_INSERT_TAIL(&s->vfuncs, vf, sentry);
	s->nvfuncs++;
}

uint32_t
session_adopt(struct session *s)
{
	struct vfunc *vf;
	uint32_t n = 0;

	TAILQ_FOREACH(vf, &vfuncs, entry) {
		if (vf->session != NULL ||
		    strncmp(vf->tenant, s->tenant, MSIV_NAME_MAX) != 0)
			continue;
		session_take_vfunc(s, vf);
		n++;
		/* Taken away while no session had it: the tenant learns it
		 * now. */
		if (vf->gone != 0)
			session_event_gone(s, vf->id, vf->gone);
	}
	return n;
}

void
session_revoke(struct vfunc *vf, uint32_t reason)
{
	if (vfunc_revoke(vf, reason) && vf->session != NULL)
		session_event_gone(vf->session, vf->id, reason);
}

uint32_t
session_revoke_device(struct device *dev, uint32_t reason)
{
	struct vfunc *vf;
	uint32_t n = 0;

	TAILQ_FOREACH(vf, &vfuncs, entry)
		if (vf->dev == dev) {
			session_revoke(vf, reason);
			n++;
		}
	return n;
}

/* After a failed commit: the vfunc's memory matches the store again, and
 * the sessions' lists match the vfuncs. One that comes back goes to owner,
 * the session that asked, if it is still there. */
static void
server_resync(uint64_t id, struct session *owner)
{
	struct vfunc_changed ch = { 0 };
	struct vfunc *vf;

	switch (vfunc_resync(id, &ch)) {
	case VFUNC_RESYNC_KEPT:
		/* Rule 10: the effective messages put back are announced. */
		vf = vfunc_find(id);
		for (uint32_t i = 0; i < ch.n; i++)
			if (vf != NULL && vf->session != NULL)
				session_event_msg(vf->session, id,
				    ch.vec[i].vector, ch.vec[i].msg.addr,
				    ch.vec[i].msg.data);
		break;
	case VFUNC_RESYNC_CLOSE:
		vf = vfunc_find(id);
		session_drop_vfunc(vf);
		vfunc_close(vf, false);
		break;
	case VFUNC_RESYNC_BACK:
		if (owner != NULL && (vf = vfunc_find(id)) != NULL)
			session_take_vfunc(owner, vf);
		break;
	}
	free(ch.vec);
}

int
session_vfunc(struct session *s, uint64_t id, struct vfunc **out)
{
	struct vfunc *vf = vfunc_find(id);

	if (vf == NULL || vf->session != s)
		return -ENOENT;
	*out = vf;
	return vf->gone != 0 ? vfunc_gone_errno(vf) : 0;
}

int
cmd_vfunc_lookup(struct cmd_ctx *ctx, uint64_t id, struct vfunc **out)
{
	int r = session_vfunc(ctx->s, id, out);

	switch (r) {
	case 0:
		return 0;
	case -ENOENT:
		return cmd_refuse_debug(ctx, r, "no vfunc %016llx in this "
		    "session", (unsigned long long)id);
	case -EKEYREVOKED:
		return cmd_refuse_debug(ctx, r, "vfunc %016llx was revoked by "
		    "an admin: close it", (unsigned long long)id);
	default:
		return cmd_refuse_debug(ctx, r, "vfunc %016llx: its device %s "
		    "went away: close it", (unsigned long long)id,
		    (*out)->device);
	}
}

/* --- output ----------------------------------------------------------------*/

static int
session_flush(struct session *s)
{
	struct outmsg *m;

	while ((m = TAILQ_FIRST(&s->outq)) != NULL) {
		int r = fdpass_send(s->fd, m->buf, m->len, m->fds, m->nfds,
		    MSG_DONTWAIT);

		if (r == -EAGAIN) {
			event_add(s->wev, NULL);
			return 0;
		}
		if (r < 0)
			return r;
		TAILQ_REMOVE(&s->outq, m, entry);
		s->outq_len--;
		fdpass_close(m->fds, m->nfds);
		free(m);
	}
	return 0;
}

static struct outmsg *
outmsg_new(const struct msiv_hdr *h, const void *payload, int *fds,
    size_t nfds)
{
	struct outmsg *m = malloc(sizeof(*m) + sizeof(*h) + h->len);

	if (m == NULL)
		return NULL;
	m->len = sizeof(*h) + h->len;
	msiv_hdr_encode(h, m->buf);
	if (h->len > 0)
		memcpy(m->buf + sizeof(*h), payload, h->len);
	m->nfds = nfds;
	if (nfds > 0)
		memcpy(m->fds, fds, nfds * sizeof(int));
	return m;
}

static void
session_queue(struct session *s, struct outmsg *m)
{
	int r;

	if (s->outq_len >= srv_conf->max_queued) {
		fdpass_close(m->fds, m->nfds);
		free(m);
		session_kill(s, "too many unread replies and events");
		return;
	}
	TAILQ_INSERT_TAIL(&s->outq, m, entry);
	s->outq_len++;
	if (s->outq_len == 1 && (r = session_flush(s)) < 0) {
		errno = -r;
		log_warn("session %llu: send", (unsigned long long)s->id);
		session_kill(s, "send failed");
	}
}

/*
 * Send one packet; fds[] pass to the session (closed once sent). durable:
 * a reply to a change in the turn's transaction, held until the commit;
 * vfunc is what it changed.
 */
static void
session_out(struct session *s, const struct msiv_hdr *h, const void *payload,
    int *fds, size_t nfds, int durable, uint64_t vfunc)
{
	struct outmsg *m;
	struct held *hd;

	if (s->dead) {
		fdpass_close(fds, nfds);
		return;
	}
	m = outmsg_new(h, payload, fds, nfds);
	if (m == NULL) {
		fdpass_close(fds, nfds);
		session_kill(s, "out of memory");
		return;
	}
	if (!durable && s->nheld == 0) {
		session_queue(s, m);
		return;
	}
	if (s->nheld >= srv_conf->max_queued || (hd = calloc(1, sizeof(*hd))) ==
	    NULL) {
		fdpass_close(m->fds, m->nfds);
		free(m);
		session_kill(s, "too many held replies");
		return;
	}
	hd->s = s;
	hd->m = m;
	hd->durable = durable;
	hd->vfunc = vfunc;
	TAILQ_INSERT_TAIL(&held_list, hd, entry);
	s->nheld++;
}

static void
session_send(struct session *s, const struct msiv_hdr *h, const void *payload,
    int *fds, size_t nfds)
{
	session_out(s, h, payload, fds, nfds, 0, 0);
}

/*
 * The turn's transaction is committed (status 0) or failed (-errno):
 * release what was held, in order.
 */
static void
server_commit_cb(int status, void *arg)
{
	struct held *hd;

	(void)arg;
	if (status < 0) {
		TAILQ_FOREACH(hd, &held_list, entry)
			if (hd->durable && hd->vfunc != 0)
				server_resync(hd->vfunc, hd->s);
		/* Write-behind changes rolled back with the turn are written
		 * again from memory, which now matches the store. */
		vfunc_requeue_all();
	}
	while ((hd = TAILQ_FIRST(&held_list)) != NULL) {
		TAILQ_REMOVE(&held_list, hd, entry);
		if (hd->s != NULL) {
			hd->s->nheld--;
			if (status < 0 && hd->durable) {
				struct msiv_hdr h;

				/* The change is not on disk: it failed. */
				(void)msiv_hdr_decode(hd->m->buf, hd->m->len,
				    &h);
				h.status = status;
				h.len = 0;
				msiv_hdr_encode(&h, hd->m->buf);
				hd->m->len = sizeof(h);
				fdpass_close(hd->m->fds, hd->m->nfds);
				hd->m->nfds = 0;
			}
			session_queue(hd->s, hd->m);
		} else {
			fdpass_close(hd->m->fds, hd->m->nfds);
			free(hd->m);
		}
		free(hd);
	}
}

static void
session_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int r;

	(void)fd;
	(void)what;
	if ((r = session_flush(s)) < 0) {
		errno = -r;
		log_warn("session %llu: send", (unsigned long long)s->id);
		session_kill(s, "send failed");
	}
}

static void
session_event(struct session *s, enum msiv_event ev, void *payload,
    uint32_t len)
{
	struct msiv_hdr h = {
		.magic = MSIV_PROTO_MAGIC, .version = MSIV_PROTO_VERSION,
		.opcode = (uint16_t)ev, .flags = MSIV_F_EVENT, .len = len,
	};

	msiv_swap(msiv_proto_event_layout(ev), payload, len);
	session_send(s, &h, payload, NULL, 0);
}

void
session_event_msg(struct session *s, uint64_t vfunc, uint32_t vector,
    uint64_t addr, uint32_t data)
{
	struct msiv_ev_msg m = {
		.vfunc = vfunc, .vector = vector, .data = data, .addr = addr,
	};

	session_event(s, MSIV_EV_MSG_CHANGED, &m, sizeof(m));
}

void
session_event_gone(struct session *s, uint64_t vfunc, uint32_t reason)
{
	struct msiv_ev_gone g = { .vfunc = vfunc, .reason = reason };

	session_event(s, MSIV_EV_VFUNC_GONE, &g, sizeof(g));
}

/* --- refusals --------------------------------------------------------------*/

static void
cmd_vreason(struct cmd_ctx *ctx, const char *fmt, va_list ap)
{
	memset(ctx->reason, 0, sizeof(ctx->reason));
	(void)vsnprintf(ctx->reason, sizeof(ctx->reason), fmt, ap);
	/* A request's own bytes (an address) may be anything: the reason
	 * is printable text, for the log and the client's terminal. */
	for (char *p = ctx->reason; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
}

static void
cmd_log_refusal(const struct cmd_ctx *ctx, int status, int debug)
{
	const struct session *s = ctx->s;

	if (debug)
		log_debug("session %llu (pid %d, uid %u): %s refused (%s): %s",
		    (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid,
		    msiv_proto_opname(ctx->hdr->opcode), strerror(-status),
		    ctx->reason);
	else
		log_warnx("session %llu (pid %d, uid %u): %s refused (%s): %s",
		    (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid,
		    msiv_proto_opname(ctx->hdr->opcode), strerror(-status),
		    ctx->reason);
}

int
cmd_refuse(struct cmd_ctx *ctx, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vreason(ctx, fmt, ap);
	va_end(ap);
	cmd_log_refusal(ctx, status, 0);
	return status;
}

int
cmd_refuse_debug(struct cmd_ctx *ctx, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vreason(ctx, fmt, ap);
	va_end(ap);
	cmd_log_refusal(ctx, status, 1);
	return status;
}

int
cmd_reason(struct cmd_ctx *ctx, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vreason(ctx, fmt, ap);
	va_end(ap);
	return status;
}

/*
 * Answer a request. A refusal carries its reason (struct msiv_error_rep)
 * when there is one: reason[0] != 0.
 */
static void
session_reply(struct session *s, const struct msiv_hdr *rq, int status,
    struct cmd_ctx *ctx, int durable, const char *reason)
{
	const struct msiv_opinfo *oi = msiv_proto_op(rq->opcode);
	struct msiv_error_rep er;
	struct msiv_hdr h = {
		.magic = MSIV_PROTO_MAGIC, .version = MSIV_PROTO_VERSION,
		.opcode = rq->opcode, .flags = MSIV_F_REPLY, .seq = rq->seq,
		.status = status,
	};

	if (ctx != NULL && status == 0) {
		h.len = ctx->replen;
		if (oi->paged)
			msiv_swap_page(oi->rep_layout, ctx->rep, h.len);
		else
			msiv_swap(oi->rep_layout, ctx->rep, h.len);
		session_out(s, &h, ctx->rep, ctx->repfds, ctx->nrepfds,
		    durable, ctx->touched);
		return;
	}
	if (ctx != NULL)
		fdpass_close(ctx->repfds, ctx->nrepfds);
	if (status < 0 && reason != NULL && reason[0] != '\0') {
		/* NUL padded, and NUL terminated whatever the caller wrote. */
		memset(&er, 0, sizeof(er));
		memcpy(er.reason, reason, strnlen(reason, sizeof(er.reason) -
		    1));
		h.len = sizeof(er);
		session_out(s, &h, &er, NULL, 0, durable,
		    ctx != NULL ? ctx->touched : 0);
		return;
	}
	session_out(s, &h, NULL, NULL, 0, durable,
	    ctx != NULL ? ctx->touched : 0);
}

/* --- input -----------------------------------------------------------------*/

/*
 * A request whose fds the kernel could not give us (msivd is out of fds:
 * fdpass.c tells it from a sender's truncated control message) is
 * answered with fderr (-EMFILE) and the session lives on: the fault is
 * ours, not the client's. Logged at most once a second.
 */
static void
server_fds_lost(struct session *s, const struct msiv_hdr *h)
{
	static uint64_t last_ms;
	uint64_t now = server_now_ms();

	if (last_ms == 0 || now - last_ms >= 1000) {
		last_ms = now;
		log_warnx("session %llu: %s refused (EMFILE): msivd is out of "
		    "fds, the request's fds could not be received",
		    (unsigned long long)s->id, msiv_proto_opname(h->opcode));
	}
}

/* Why msiv_proto_check_req() refused a request (r), for the reply. */
static void
server_check_reason(const struct msiv_hdr *h, size_t nfds, int r, char *why,
    size_t len)
{
	const struct msiv_opinfo *oi = msiv_proto_op(h->opcode);

	switch (r) {
	case -ENOSYS:
		snprintf(why, len, "opcode %u is not one msivd knows",
		    (unsigned)h->opcode);
		break;
	case -EMSGSIZE:
		snprintf(why, len, "%s payload of %u bytes: it takes %u",
		    oi->name, h->len, oi->req_len);
		break;
	case -EBADMSG:
		/* Only VEC_RETARGET's fd count depends on a flag. */
		snprintf(why, len, "%s with %zu fds: it takes %s", oi->name,
		    nfds, oi->req_fds_flag != 0 ? "1 with a new target, "
		    "else 0" : oi->req_fds == 1 ? "1" : "none");
		break;
	default:
		snprintf(why, len, "flags or status set in a request");
		break;
	}
}

static void
server_dispatch(struct session *s, unsigned char *pkt, size_t n, int *fds,
    size_t nfds, int fderr)
{
	union {
		unsigned char b[MSIV_MSG_MAX];
		uint64_t align;
	} req, rep;
	struct cmd_ctx ctx;
	const struct msiv_opinfo *oi;
	struct msiv_hdr h;
	char why[MSIV_REASON_MAX] = "";
	uint64_t writes;
	int r, r_status;

	r = msiv_hdr_decode(pkt, n, &h);
	if (r == -EPROTO) {
		/* Not msiv at all (or a length that lies): there is no
		 * request to answer. */
		session_kill(s, "malformed message header");
		goto out;
	}
	if (s->denied) {
		/* Answered (so the client can say "permission denied"), then
		 * dropped: it was logged at accept. */
		fdpass_close(fds, nfds);
		snprintf(why, sizeof(why), "no [tenant] section admits uid %u "
		    "(gid %u)", (unsigned)s->uid, (unsigned)s->gid);
		session_reply(s, &h, -EACCES, NULL, 0, why);
		session_kill(s, "not admitted by any [tenant]");
		return;
	}
	if (r < 0) {
		/* Unsupported version: the sender's version is in the
		 * header, ours in the reply's. */
		snprintf(why, sizeof(why), "protocol version %u is not "
		    "supported (msivd speaks 1 to %u)", (unsigned)h.version,
		    MSIV_PROTO_VERSION);
		r_status = r;
		goto refuse;
	}
	if (fderr < 0) {
		server_fds_lost(s, &h);
		snprintf(why, sizeof(why), "msivd is out of fds, the "
		    "request's fds could not be received");
		r_status = fderr;
		goto refuse;
	}
	if (!s->hello && h.opcode != MSIV_OP_HELLO) {
		snprintf(why, sizeof(why), "the first request of a session "
		    "must be HELLO");
		r_status = -EPROTO;
		goto refuse;
	}
	if ((r = msiv_proto_check_req(&h, pkt + sizeof(h), nfds)) < 0) {
		server_check_reason(&h, nfds, r, why, sizeof(why));
		log_debug("session %llu: %s refused: %s: %s",
		    (unsigned long long)s->id, msiv_proto_opname(h.opcode),
		    strerror(-r), why);
		r_status = r;
		goto refuse;
	}
	if (cmd_table[h.opcode].perm == CMD_PERM_ADMIN &&
	    !(s->rights & MSIV_RIGHT_ADMIN)) {
		log_warnx("session %llu (uid %u, pid %d): %s denied: not an "
		    "admin", (unsigned long long)s->id, (unsigned)s->uid,
		    (int)s->pid, msiv_proto_opname(h.opcode));
		snprintf(why, sizeof(why), "%s denied: not an admin",
		    msiv_proto_opname(h.opcode));
		r_status = -EPERM;
		goto refuse;
	}
	oi = msiv_proto_op(h.opcode);
	memcpy(req.b, pkt + sizeof(h), h.len);
	msiv_swap(oi->req_layout, req.b, h.len);
	memset(&ctx, 0, sizeof(ctx));
	memset(rep.b, 0, sizeof(rep.b));
	ctx.s = s;
	ctx.hdr = &h;
	ctx.req = req.b;
	ctx.fds = fds;
	ctx.nfds = nfds;
	ctx.rep = rep.b;
	ctx.replen = oi->paged ? 0 : oi->rep_len;
	writes = store_writes();
	r = cmd_table[h.opcode].fn(&ctx);
	/* Fds the handler did not take are closed before the reply, so a
	 * client that has its reply knows the daemon holds none of them. */
	fdpass_close(fds, nfds);
	/* A change written to the store is acknowledged once it is
	 * committed (and only if it is). */
	session_reply(s, &h, r, &ctx, store_writes() != writes &&
	    store_in_txn(), ctx.reason);
	return;
refuse:
	fdpass_close(fds, nfds);
	session_reply(s, &h, r_status, NULL, 0, why);
	return;
out:
	fdpass_close(fds, nfds);
}

/*
 * max_rate: a request costs one credit; credit comes back at max_rate per
 * second, up to one second's worth. Without credit the session is not
 * read until there is some again (10 ms on), so a flooding client is
 * slowed by its own socket filling up; nothing it sent is dropped.
 */
static int
session_rate_ok(struct session *s)
{
	uint64_t now, rate = srv_conf->max_rate;
	struct timeval tv = { 0, 10000 };

	if (rate == 0 || (s->rights & MSIV_RIGHT_ADMIN))
		return 1;
	now = server_now_ms();
	s->rate_credit += (now - s->rate_ms) * rate;
	if (s->rate_credit > rate * 1000)
		s->rate_credit = rate * 1000;
	s->rate_ms = now;
	if (s->rate_credit >= 1000)
		return 1; /* charged when a request is read */
	if (!s->rate_warned) {
		s->rate_warned = 1;
		log_warnx("session %llu (pid %d, uid %u): over max_rate (%u "
		    "requests/s): reading it more slowly",
		    (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid,
		    srv_conf->max_rate);
	}
	event_del(s->rev);
	evtimer_add(s->pause_ev, &tv);
	return 0;
}

static void
session_unpause_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (!s->dead)
		event_add(s->rev, NULL);
}

/* One received packet: dispatch it, or end the session. Returns 0 to go
 * on reading. */
static int
session_packet(struct session *s, struct fdpass_rmsg *m)
{
	if (m->len == 0) {
		/* The end, or an empty packet (SEQPACKET cannot tell them
		 * apart): either way the session ends, and fds sent with an
		 * empty packet are not kept. */
		fdpass_close(m->fds, m->nfds);
		session_kill(s, NULL);
		return -1;
	}
	if (m->len == -EMSGSIZE || m->len == -EBADMSG) {
		/* Larger than any request, or fds we cannot take: the header
		 * cannot be trusted to answer it. */
		session_kill(s, m->len == -EMSGSIZE ? "oversized message" :
		    "bad control message (more fds than a request carries, "
		    "or not SCM_RIGHTS)");
		return -1;
	}
	if (srv_conf->max_rate != 0 && !(s->rights & MSIV_RIGHT_ADMIN))
		s->rate_credit -= 1000;
	server_dispatch(s, m->buf, (size_t)m->len, m->fds, m->nfds,
	    m->fderr);
	return 0;
}

/*
 * Read up to SESSION_READ_BURST requests, FDPASS_BATCH_MAX per recvmmsg
 * (pipelined requests cost one system call per batch, not one each), as
 * far as the session's rate credit goes. Each is dispatched, and so
 * answered, before the next.
 */
static void
session_read_cb(evutil_socket_t fd, short what, void *arg)
{
	static unsigned char pkt[FDPASS_BATCH_MAX][MSIV_MSG_MAX];
	struct session *s = arg;
	struct fdpass_rmsg m[FDPASS_BATCH_MAX];

	(void)what;
	for (int i = 0; i < SESSION_READ_BURST && !s->dead &&
	    session_rate_ok(s);) {
		size_t want = SESSION_READ_BURST - (size_t)i;
		int got, k;

		if (want > FDPASS_BATCH_MAX)
			want = FDPASS_BATCH_MAX;
		if (srv_conf->max_rate != 0 &&
		    !(s->rights & MSIV_RIGHT_ADMIN) &&
		    want > s->rate_credit / 1000)
			want = s->rate_credit / 1000; /* >= 1: rate_ok */
		for (size_t j = 0; j < want; j++) {
			m[j].buf = pkt[j];
			m[j].cap = sizeof(pkt[j]);
		}
		got = fdpass_recvv(fd, m, want, MSG_DONTWAIT);
		if (got == -EAGAIN)
			return;
		if (got < 0) {
			errno = -got;
			log_warn("session %llu: receive",
			    (unsigned long long)s->id);
			session_kill(s, "receive failed");
			return;
		}
		for (k = 0; k < got && !s->dead; k++)
			if (session_packet(s, &m[k]) < 0) {
				k++;
				break;
			}
		/* Packets after the session ended: their fds are not kept. */
		for (; k < got; k++)
			fdpass_close(m[k].fds, m[k].nfds);
		if ((size_t)got < want)
			return; /* the socket is empty */
		i += got;
	}
}

/* --- sessions ----------------------------------------------------------------*/

static void
session_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct outmsg *m;

	(void)fd;
	(void)what;
	while ((m = TAILQ_FIRST(&s->outq)) != NULL) {
		TAILQ_REMOVE(&s->outq, m, entry);
		fdpass_close(m->fds, m->nfds);
		free(m);
	}
	event_free(s->rev);
	event_free(s->wev);
	event_free(s->pause_ev);
	close(s->fd);
	free(s->groups);
	free(s);
}

/*
 * End a session. Its vfuncs stay with their tenant, orphaned, for
 * orphan_grace seconds (0: released at once, nothing delivered after this
 * returns); at shutdown they stay in the store for the next start. The
 * memory goes once the current callback is done.
 */
static void
session_end(struct session *s, const char *why, int shutdown)
{
	struct vfunc *vf;
	struct held *hd;

	if (s->dead)
		return;
	s->dead = 1;
	event_del(s->rev);
	event_del(s->wev);
	event_del(s->pause_ev);
	if (why != NULL)
		log_warnx("session %llu (pid %d, uid %u, tenant %s) dropped: %s",
		    (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid,
		    s->tenant, why);
	else /* debug, as the open (cmd_hello) */
		log_debug("session %llu (pid %d, tenant %s) closed",
		    (unsigned long long)s->id, (int)s->pid, s->tenant);
	while ((vf = TAILQ_FIRST(&s->vfuncs)) != NULL) {
		session_drop_vfunc(vf);
		if (!shutdown && srv_conf->orphan_grace == 0)
			vfunc_close(vf, true);
		else
			vfunc_orphan(vf, server_now_ms());
	}
	TAILQ_FOREACH(hd, &held_list, entry)
		if (hd->s == s)
			hd->s = NULL;
	s->nheld = 0;
	TAILQ_REMOVE(&sessions, s, entry);
	srv_nsessions--;
	if (event_base_once(srv_base, -1, EV_TIMEOUT, session_free_cb, s,
	    NULL) < 0)
		fatalx("cannot schedule session release");
}

/* The peer's credentials, as the kernel recorded them at connect. */
struct peer {
	struct ucred cr;
	size_t ngroups;
	gid_t groups[SESSION_GROUPS_MAX];
};

static int
peer_in_group(gid_t primary, const gid_t *groups, size_t ngroups, gid_t gid)
{
	if (primary == gid)
		return 1;
	for (size_t i = 0; i < ngroups; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

static int
peer_is_admin(const struct peer *p)
{
	if (p->cr.uid == 0 || p->cr.uid == geteuid())
		return 1;
	return srv_conf->admin_group[0] != '\0' && peer_in_group(p->cr.gid,
	    p->groups, p->ngroups, srv_conf->admin_gid);
}

/* The [tenant] sections that admit a peer, a bit each. */
static uint64_t
peer_tenants(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups)
{
	uint64_t ok = 0;

	for (uint32_t i = 0; i < srv_conf->ntenants; i++) {
		const struct conf_tenant *t = &srv_conf->tenants[i];
		int in = 0;

		for (uint32_t k = 0; k < t->nuids && !in; k++)
			in = t->uids[k] == uid;
		for (uint32_t k = 0; k < t->ngids && !in; k++)
			in = peer_in_group(gid, groups, ngroups, t->gids[k]);
		if (in)
			ok |= UINT64_C(1) << i;
	}
	return ok;
}

static int
peer_get(int fd, struct peer *p)
{
	socklen_t len = sizeof(p->cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &p->cr, &len) < 0)
		return -1;
	len = sizeof(p->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) < 0) {
		/* More groups than we look at (ERANGE), or no
		 * SO_PEERGROUPS: only the primary group counts. */
		log_debug("accept: SO_PEERGROUPS: %s", strerror(errno));
		len = 0;
	}
	p->ngroups = len / sizeof(gid_t);
	return 0;
}

static uint32_t
sessions_of_uid(uid_t uid)
{
	struct session *s;
	uint32_t n = 0;

	TAILQ_FOREACH(s, &sessions, entry)
		n += s->uid == uid;
	return n;
}

static void
session_new(int fd)
{
	struct peer p;
	struct session *s;
	int admin;

	if (peer_get(fd, &p) < 0) {
		log_warn("accept: SO_PEERCRED");
		close(fd);
		return;
	}
	if (srv_nsessions >= srv_conf->max_sessions) {
		log_warnx("connection from pid %d uid %u refused: %u sessions "
		    "(max_sessions)", (int)p.cr.pid, (unsigned)p.cr.uid,
		    srv_nsessions);
		close(fd);
		return;
	}
	admin = peer_is_admin(&p);
	if (!admin && sessions_of_uid(p.cr.uid) >=
	    srv_conf->max_sessions_per_uid) {
		log_warnx("connection from pid %d uid %u refused: it has %u "
		    "sessions (max_sessions_per_uid)", (int)p.cr.pid,
		    (unsigned)p.cr.uid, srv_conf->max_sessions_per_uid);
		close(fd);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		log_warn("accept");
		close(fd);
		return;
	}
	s->fd = fd;
	s->id = srv_next_session++;
	s->pid = p.cr.pid;
	s->uid = p.cr.uid;
	s->gid = p.cr.gid;
	s->rights = admin ? MSIV_RIGHT_ADMIN : 0;
	/* Its groups, for a reload to decide its admission again. */
	if (p.ngroups > 0 && (s->groups = calloc(p.ngroups,
	    sizeof(gid_t))) == NULL) {
		log_warn("accept");
		free(s);
		close(fd);
		return;
	}
	if (p.ngroups > 0)
		memcpy(s->groups, p.groups, p.ngroups * sizeof(gid_t));
	s->ngroups = p.ngroups;
	s->tenants_ok = admin ? 0 : peer_tenants(s->uid, s->gid, s->groups,
	    s->ngroups);
	s->denied = !admin && srv_conf->ntenants > 0 && s->tenants_ok == 0;
	s->rate_credit = (uint64_t)srv_conf->max_rate * 1000;
	s->rate_ms = server_now_ms();
	TAILQ_INIT(&s->vfuncs);
	TAILQ_INIT(&s->outq);
	s->rev = event_new(srv_base, fd, EV_READ | EV_PERSIST,
	    session_read_cb, s);
	s->wev = event_new(srv_base, fd, EV_WRITE, session_write_cb, s);
	s->pause_ev = evtimer_new(srv_base, session_unpause_cb, s);
	if (s->rev == NULL || s->wev == NULL || s->pause_ev == NULL ||
	    event_add(s->rev, NULL) < 0) {
		log_warnx("session: cannot create events");
		if (s->rev != NULL)
			event_free(s->rev);
		if (s->wev != NULL)
			event_free(s->wev);
		if (s->pause_ev != NULL)
			event_free(s->pause_ev);
		free(s->groups);
		free(s);
		close(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	srv_nsessions++;
	if (s->denied)
		log_warnx("session %llu: connection from pid %d uid %u gid %u "
		    "refused: no [tenant] admits it", (unsigned long long)s->id,
		    (int)p.cr.pid, (unsigned)p.cr.uid, (unsigned)p.cr.gid);
	else
		log_debug("session %llu: pid %d uid %u gid %u%s",
		    (unsigned long long)s->id, (int)p.cr.pid,
		    (unsigned)p.cr.uid, (unsigned)p.cr.gid,
		    admin ? " admin" : "");
}

void
server_adopt(int fd)
{
	session_new(fd);
}

static void
server_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_add(srv_listen_ev, NULL);
}

static void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	(void)arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			session_new(fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Out of fds: stop accepting for a while rather than
			 * spin on a listener that stays readable. */
			struct timeval tv = { 1, 0 };

			log_warn("accept: pausing the listener for 1 s");
			event_del(srv_listen_ev);
			evtimer_add(srv_pause_ev, &tv);
		} else if (errno != EAGAIN)
			log_warn("accept");
		return;
	}
}

static void
server_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	(void)vfunc_reap(server_now_ms(), (uint64_t)srv_conf->orphan_grace *
	    1000);
}

int
server_init(struct event_base *base, const struct conf *conf)
{
	static const struct timeval second = { 1, 0 };

	srv_base = base;
	srv_conf = conf;
	vfunc_init(base, conf); /* what write-behind needs, handed down */
	clock_gettime(CLOCK_MONOTONIC, &srv_start);
	store_set_commit_cb(server_commit_cb, NULL);
	srv_reap_ev = event_new(base, -1, EV_PERSIST, server_reap_cb, NULL);
	if (srv_reap_ev == NULL || event_add(srv_reap_ev, &second) < 0)
		fatalx("cannot create the orphan reaper");
	/* Every opcode has its wire table entry and its dispatch table
	 * entry, with a handler and who may call it (our bug if not). */
	for (unsigned int op = 1; op < MSIV_OP__COUNT; op++)
		if (msiv_proto_op(op) == NULL || cmd_table[op].fn == NULL ||
		    cmd_table[op].perm == 0)
			fatalx("opcode %u has no wire or dispatch table entry",
			    op);
	return 0;
}

/*
 * The running configuration has just changed under the sessions
 * (reload.c). Each is admitted again from the credentials it connected
 * with: one that has not said HELLO yet as at accept; one acting as a
 * tenant takes its tenant's new section (its quotas, its devices), or,
 * if no section admits it as that tenant any more, is retired: it keeps
 * the vfuncs it holds until it closes them, and opens no new one
 * (cmd_quota). Admin rights are the connection's, decided at accept.
 */
void
server_reconfigured(void)
{
	struct session *s;

	TAILQ_FOREACH(s, &sessions, entry) {
		int admin = (s->rights & MSIV_RIGHT_ADMIN) != 0;
		uint32_t i;

		if (s->dead)
			continue;
		s->tenants_ok = admin ? 0 : peer_tenants(s->uid, s->gid,
		    s->groups, s->ngroups);
		if (!s->hello) {
			s->denied = !admin && srv_conf->ntenants > 0 &&
			    s->tenants_ok == 0;
			continue;
		}
		for (i = 0; i < srv_conf->ntenants; i++)
			if (strncmp(srv_conf->tenants[i].name, s->tenant,
			    MSIV_NAME_MAX) == 0)
				break;
		s->policy = i < srv_conf->ntenants ? &srv_conf->tenants[i] :
		    NULL;
		if (admin || srv_conf->ntenants == 0 ||
		    (s->policy != NULL && ((s->tenants_ok >> i) & 1))) {
			s->retired = 0;
			continue;
		}
		s->policy = NULL;
		if (!s->retired)
			log_info("session %llu (pid %d, uid %u): no [tenant] "
			    "admits it as %s since the reload; it keeps its %u "
			    "vfunc(s) until it closes them, and opens no more",
			    (unsigned long long)s->id, (int)s->pid,
			    (unsigned)s->uid, s->tenant, s->nvfuncs);
		s->retired = 1;
	}
}

static int srv_activated;

static int
server_listen_on(int fd)
{
	srv_listen_fd = fd;
	srv_listen_ev = event_new(srv_base, fd, EV_READ | EV_PERSIST,
	    server_accept_cb, NULL);
	srv_pause_ev = evtimer_new(srv_base, server_resume_cb, NULL);
	if (srv_listen_ev == NULL || srv_pause_ev == NULL ||
	    event_add(srv_listen_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

int
server_listen(int activated)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = srv_conf->socket;
	int fd, r;

	if (activated >= 0) {
		/* The service manager owns the socket file (msivd.socket):
		 * its path, mode and group, and it outlives msivd. */
		srv_activated = 1;
		log_info("listening on the socket passed by the service "
		    "manager (fd %d)", activated);
		return server_listen_on(activated);
	}
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A socket file left by a daemon that died is replaced; one that
	 * answers belongs to a running daemon. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		log_errx("%s: another msivd is already listening there", path);
		return -EADDRINUSE;
	}
	if (errno == ECONNREFUSED)
		unlink(path);
	close(fd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, srv_conf->socket_mode) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		log_err("%s", path);
		close(fd);
		return r;
	}
	if ((r = server_listen_on(fd)) < 0)
		return r;
	log_info("listening on %s", path);
	return 0;
}

void
server_request_stop(void)
{
	event_base_loopexit(srv_base, NULL);
}

void
server_shutdown(void)
{
	struct session *s;

	if (srv_listen_ev != NULL)
		event_free(srv_listen_ev);
	if (srv_pause_ev != NULL)
		event_free(srv_pause_ev);
	if (srv_listen_fd >= 0) {
		close(srv_listen_fd);
		if (!srv_activated)
			unlink(srv_conf->socket);
	}
	srv_listen_ev = srv_pause_ev = NULL;
	srv_listen_fd = -1;
	/* Everything written goes to disk, held replies with it; best
	 * effort: what is queued (the SHUTDOWN reply) goes out now. */
	vfunc_flush_behind();
	server_commit_cb(store_flush(), NULL);
	while ((s = TAILQ_FIRST(&sessions)) != NULL) {
		(void)session_flush(s);
		session_end(s, NULL, 1);
	}
	if (srv_reap_ev != NULL)
		event_free(srv_reap_ev);
	srv_reap_ev = NULL;
	/* Run the deferred releases scheduled by session_kill. */
	event_base_loop(srv_base, EVLOOP_NONBLOCK);
}
