/*
 * The checker and the dispatcher (dispatch.c): what a command handler
 * sees (struct cmd_ctx), how it refuses, and the dispatch table's shape.
 * The table itself is the commands layer's (cmd.c), handed down once.
 */
#ifndef MSIVD_DISPATCH_H
#define MSIVD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include <msiv/protocol.h>

#include "session.h"

/* What a command handler sees. The request payload is in host order. The
 * handler may take fds (set the entry to -1); the rest are closed after
 * it. It fills rep (at most MSIV_MSG_MAX - header bytes): replen is preset
 * to the op's reply length and must be set by paged handlers; fds to send
 * go into repfds (ownership passes to the server). */
struct cmd_ctx {
	struct session *s;
	const struct msiv_hdr *hdr;
	const void *req;
	int *fds;
	size_t nfds;
	unsigned char *rep;
	uint32_t replen;
	int repfds[MSIV_FDS_MAX];
	size_t nrepfds;
	uint64_t touched;         /* the vfunc a durable change was made to */
	char reason[MSIV_REASON_MAX]; /* why it was refused: sent with the
				     error reply (cmd_refuse) */
};

#define CMD_REP_MAX (MSIV_MSG_MAX - sizeof(struct msiv_hdr))

/* A handler returns 0 (the reply is ctx->rep), -errno, or CMD_DEFER: no
 * reply now; dispatch_reply_later() sends it. */
typedef int cmd_handler(struct cmd_ctx *ctx);
#define CMD_DEFER 1

/* Who may call an opcode. 0 is no value: an entry that does not say is
 * an empty one, and msivd does not start (dispatch_init). */
enum cmd_perm {
	CMD_PERM_ANY = 1,
	CMD_PERM_ADMIN = 2,
};

/* An opcode's entry in the dispatch table. */
struct cmd_entry {
	enum cmd_perm perm;
	cmd_handler *fn;
};


/*
 * Refuse a request with status (a negative errno) and say why: the reason
 * is logged, naming the session, and the same words go back to the client
 * in the error reply (struct msiv_error_rep; msiv-protocol(7), ERRORS).
 * cmd_refuse logs a warning (a refusal an administrator may act on: rights,
 * quotas, slots, devices); cmd_refuse_debug logs at debug level (a
 * malformed field: a client's bug, not worth a line per request). A
 * reason names only what the request named and what belongs to the
 * session's own tenant, never another client's data. Returns status.
 */
int cmd_refuse(struct cmd_ctx *ctx, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cmd_refuse_debug(struct cmd_ctx *ctx, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Only the reason, for a refusal already logged in the same words (with
 * details, such as another uid, that the client may not see). */
int cmd_reason(struct cmd_ctx *ctx, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* session_vfunc() for a request, with the reason of a refusal (a handle
 * of another session gets the same words as one that does not exist). */
int cmd_vfunc_lookup(struct cmd_ctx *ctx, uint64_t id, struct vfunc **out);

/* The dispatch table, one entry per opcode (indexed by it). Checked
 * whole: msivd does not start if an opcode has no wire table entry, or
 * an empty dispatch table entry. */
int dispatch_init(const struct cmd_entry *table);
void dispatch_reply_later(struct session *s, const struct msiv_hdr *rq,
    int status, const void *rep, uint32_t len, const char *reason);
/* Check one request of session s and run its handler; answer it (the
 * reply may be held for the turn's commit), or end the session if it
 * does not speak the protocol. fds are the request's (closed unless the
 * handler takes them); fderr < 0: its fds could not be received. */
void dispatch_request(struct session *s, unsigned char *pkt, size_t n,
    int *fds, size_t nfds, int fderr);

#endif /* MSIVD_DISPATCH_H */
