/*
 * Sessions: the connected clients, the vfuncs each holds, and what is
 * sent to them (session.c). Read by session-read.c, answered by
 * dispatch.c, created at accept by server.c.
 */
#ifndef MSIVD_SESSION_H
#define MSIVD_SESSION_H

#include <event2/util.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <msiv/protocol.h>

#include "conf.h"
#include "vfunc.h"

struct event_base;
struct outmsg;

struct session {
	TAILQ_ENTRY(session) entry;
	uint64_t id;
	int fd;
	struct event *rev;
	struct event *wev;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	uint32_t rights;          /* MSIV_RIGHT_* */
	int denied;               /* no [tenant] admits the peer: every
				     request gets EACCES, then the session
				     ends */
	uint64_t tenants_ok;      /* conf.tenants[i] the peer may act as */
	gid_t *groups;            /* its supplementary groups at connect */
	size_t ngroups;
	int retired;              /* since a reload, no [tenant] admits it
				     as its tenant: it keeps its vfuncs
				     until closed, opens no new one */
	const struct conf_tenant *policy; /* the tenant's, once HELLO is
				     done; NULL: the [msivd] defaults */
	uint64_t rate_credit;     /* request credit, 1/1000 request units */
	uint64_t rate_ms;         /* when it was last topped up */
	int rate_warned;
	struct event *pause_ev;   /* reads resume when credit is back */
	int hello;                /* HELLO done */
	int dead;                 /* to be freed once out of the dispatcher */
	int release_later;        /* ended under a handler: its vfuncs are
				     released once the callback is done */
	uint32_t nheld;           /* packets held for the turn's commit */
	char tenant[MSIV_NAME_MAX];
	struct vfunc_list vfuncs; /* through vfunc.sentry */
	uint32_t nvfuncs;
	TAILQ_HEAD(, outmsg) outq;
	uint32_t outq_len;
};
TAILQ_HEAD(session_list, session);
extern struct session_list sessions;

/* What the sessions need of the configuration, handed down once. */
void session_init(struct event_base *base, const struct conf *conf);
/* Put a new session on the list. */
void session_insert(struct session *s);
uint32_t session_count(void);
/*
 * End a session (why: for the log, NULL when the peer closed it). Its
 * vfuncs are released or orphaned (kept at shutdown); its memory goes
 * once the current callback is done. session_kill is session_end outside
 * a shutdown.
 */
void session_end(struct session *s, const char *why, int shutdown);
void session_kill(struct session *s, const char *why);
/* Send what is queued, as far as the socket takes it. Returns 0 or
 * -errno. */
int session_flush(struct session *s);
void session_write_cb(evutil_socket_t fd, short what, void *arg);
/*
 * Send one packet; fds[] pass to the session (closed once sent). durable:
 * a reply to a change in the turn's transaction, held until the commit;
 * vfunc is what it changed.
 */
void session_out(struct session *s, const struct msiv_hdr *h,
    const void *payload, int *fds, size_t nfds, int durable, uint64_t vfunc);
/* The turn's transaction is committed (status 0) or failed (-errno):
 * release what was held, in order (store_set_commit_cb). */
void session_commit_cb(int status, void *arg);

void session_tenant(const struct session *s, char out[MSIV_NAME_MAX]);
/* Asynchronous events to a session (dropped if the session is gone). */
void session_event_msg(struct session *s, uint64_t vfunc, uint32_t vector,
    uint64_t addr, uint32_t data);
void session_event_gone(struct session *s, uint64_t vfunc, uint32_t reason);

/* A vfunc the session may act on: its own. Another session's handle gets
 * the same -ENOENT as a handle that does not exist; one of its own that
 * was taken away gets vfunc_gone_errno() (and *out is set). */
int session_vfunc(struct session *s, uint64_t id, struct vfunc **out);
/* Take a vfunc off its session's list (before it is closed). */
void session_drop_vfunc(struct vfunc *vf);
/* Put a vfunc on session s's list: s owns it from now on. */
void session_take_vfunc(struct session *s, struct vfunc *vf);
/* The tenant's orphaned vfuncs go to session s; returns how many. Those
 * taken away meanwhile are announced to s (VFUNC_GONE). */
uint32_t session_adopt(struct session *s);
/* Take a vfunc away (vfunc_revoke) and tell its owner session, if any
 * (VFUNC_GONE); session_revoke_device does it to every vfunc on dev and
 * returns how many. */
void session_revoke(struct vfunc *vf, uint32_t reason);
uint32_t session_revoke_device(struct device *dev, uint32_t reason);

/* Handover (handover.c): the session's queued packets. */
struct ho_buf;
struct ho_rd;
void session_outq_save(const struct session *s, struct ho_buf *b);
int session_outq_adopt(struct session *s, struct ho_rd *r);

#endif /* MSIVD_SESSION_H */
