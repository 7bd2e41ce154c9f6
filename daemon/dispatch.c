/*
 * The checker and the dispatcher (msiv-protocol(7), msivd(8)). Every
 * request passes one checker (dispatch_request) in a fixed order before
 * any handler runs: header (magic, version, length) -> HELLO first ->
 * opcode, exact payload length and fd count (the wire table, lib/proto.c)
 * -> permission (the dispatch table the commands layer hands down,
 * cmd.c). A peer that does not speak the protocol at all is dropped; a
 * bad request gets an error reply, with the reason of the refusal, and
 * the session lives on.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "dispatch.h"
#include "fdpass.h"
#include "log.h"
#include "proto.h"
#include "store.h"

static const struct cmd_entry *dp_table;

int
dispatch_init(const struct cmd_entry *table)
{
	dp_table = table;
	/* Every opcode has its wire table entry and its dispatch table
	 * entry, with a handler and who may call it (our bug if not). */
	for (unsigned int op = 1; op < MSIV_OP__COUNT; op++)
		if (msiv_proto_op(op) == NULL || table[op].fn == NULL ||
		    table[op].perm == 0)
			fatalx("opcode %u has no wire or dispatch table entry",
			    op);
	return 0;
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
dispatch_reply(struct session *s, const struct msiv_hdr *rq, int status,
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

/*
 * The reply to a request a handler deferred (CMD_DEFER): RESTART's, sent
 * by the new msivd or, refused, by the old one. Not held for a commit.
 */
void
dispatch_reply_later(struct session *s, const struct msiv_hdr *rq,
    int status, const void *rep, uint32_t len, const char *reason)
{
	struct cmd_ctx ctx;
	union {
		unsigned char b[MSIV_MSG_MAX];
		uint64_t align;
	} buf;

	memset(&ctx, 0, sizeof(ctx));
	memset(buf.b, 0, sizeof(buf.b));
	if (len > CMD_REP_MAX)
		len = CMD_REP_MAX;
	if (rep != NULL)
		memcpy(buf.b, rep, len);
	ctx.s = s;
	ctx.hdr = rq;
	ctx.rep = buf.b;
	ctx.replen = len;
	dispatch_reply(s, rq, status, &ctx, 0, reason);
}

/* --- the checker -----------------------------------------------------------*/

/*
 * A request whose fds the kernel could not give us (msivd is out of fds:
 * fdpass.c tells it from a sender's truncated control message) is
 * answered with fderr (-EMFILE) and the session lives on: the fault is
 * ours, not the client's. Logged at most once a second.
 */
static void
dispatch_fds_lost(struct session *s, const struct msiv_hdr *h)
{
	static uint64_t last_ms;
	uint64_t now = clock_now_ms();

	if (last_ms == 0 || now - last_ms >= 1000) {
		last_ms = now;
		log_warnx("session %llu: %s refused (EMFILE): msivd is out of "
		    "fds, the request's fds could not be received",
		    (unsigned long long)s->id, msiv_proto_opname(h->opcode));
	}
}

/* Why msiv_proto_check_req() refused a request (r), for the reply. */
static void
dispatch_check_reason(const struct msiv_hdr *h, size_t nfds, int r, char *why,
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

void
dispatch_request(struct session *s, unsigned char *pkt, size_t n, int *fds,
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
		dispatch_reply(s, &h, -EACCES, NULL, 0, why);
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
		dispatch_fds_lost(s, &h);
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
		dispatch_check_reason(&h, nfds, r, why, sizeof(why));
		log_debug("session %llu: %s refused: %s: %s",
		    (unsigned long long)s->id, msiv_proto_opname(h.opcode),
		    strerror(-r), why);
		r_status = r;
		goto refuse;
	}
	if (dp_table[h.opcode].perm == CMD_PERM_ADMIN &&
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
	r = dp_table[h.opcode].fn(&ctx);
	/* Fds the handler did not take are closed before the reply, so a
	 * client that has its reply knows the daemon holds none of them. */
	fdpass_close(fds, nfds);
	if (r == CMD_DEFER)
		return; /* answered later: dispatch_reply_later() */
	/* A change written to the store is acknowledged once it is
	 * committed (and only if it is). */
	dispatch_reply(s, &h, r, &ctx, store_writes() != writes &&
	    store_in_txn(), ctx.reason);
	return;
refuse:
	fdpass_close(fds, nfds);
	dispatch_reply(s, &h, r_status, NULL, 0, why);
	return;
out:
	fdpass_close(fds, nfds);
}

