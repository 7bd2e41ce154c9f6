/*
 * The control thread's socket server: the listener, sessions, the dispatch
 * table and its one checker, replies and asynchronous events.
 */
#ifndef MSIVD_SERVER_H
#define MSIVD_SERVER_H

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
	uint32_t nheld;           /* packets held for the turn's commit */
	char tenant[MSIV_NAME_MAX];
	struct vfunc_list vfuncs; /* through vfunc.sentry */
	uint32_t nvfuncs;
	TAILQ_HEAD(, outmsg) outq;
	uint32_t outq_len;
};
TAILQ_HEAD(session_list, session);
extern struct session_list sessions;

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

typedef int cmd_handler(struct cmd_ctx *ctx);

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

/* cmd-vfunc.c */
cmd_handler cmd_hello, cmd_vfunc_open, cmd_vfunc_close, cmd_vfunc_enable,
    cmd_vfunc_fmask, cmd_vfunc_reset;
/* cmd-vector.c. cmd_vec_lookup: the session's vfunc id and a vector of
 * it (-ENOENT, -EINVAL). cmd_vec_done: vfunc_vec_done(), then a new
 * effective message is announced to the owner (rule 10) once the lock is
 * released. */
int cmd_vec_lookup(struct cmd_ctx *ctx, uint64_t id, uint32_t vector,
    struct vfunc **vf);
void cmd_vec_done(struct vfunc *vf, uint32_t vector, unsigned int act);
cmd_handler cmd_vec_setup, cmd_vec_mask, cmd_vec_unmask, cmd_vec_retarget,
    cmd_vec_free, cmd_vec_query, cmd_table_write, cmd_table_read;
/* cmd-device.c */
cmd_handler cmd_revoke;
/*
 * Attach a device at run time (DEVICE_ATTACH, or hotplug): check its
 * definition, open it, keep it in the store (DEVICE_ATTACH_KEEP: attached
 * again at start-up) and restore the vfuncs stored for a device of that
 * name (DEVICE_ATTACH_RESTORE). by says who asked, for the log. Returns 0
 * or -errno: -EINVAL (bad definition), -EEXIST (name taken), -ENOSPC (too
 * many devices), or device_create's (logged). why (NULL: not wanted)
 * gets the reason for the first three, as logged.
 */
#define DEVICE_ATTACH_KEEP    0x1u
#define DEVICE_ATTACH_RESTORE 0x2u
int device_attach(struct conf_device *cd, unsigned int flags, const char *by,
    char *why, size_t whylen);
/* hotplug.c */
cmd_handler cmd_hotplug_status;
cmd_handler cmd_metrics;
/* cmd-admin.c */
cmd_handler cmd_status, cmd_device_list, cmd_vfunc_list, cmd_vec_list,
    cmd_session_list, cmd_sim_triggers, cmd_sim_fire, cmd_shutdown,
    cmd_log_level,
    cmd_reload;
/* cmd-device.c */
cmd_handler cmd_device_attach, cmd_device_detach, cmd_irq_affinity,
    cmd_tenant_release;

int server_init(struct event_base *base, const struct conf *conf);
/* The configuration server_init was given has changed (a reload): admit
 * every session again under it. */
void server_reconfigured(void);
/* Listen on the socket passed by the service manager (activated >= 0), or
 * on the configured socket path (stale sockets are replaced, a live one is
 * an error). */
int server_listen(int activated);
/* Serve a connected socket (non-blocking, close-on-exec) as a new session,
 * authorised from its peer credentials like an accepted one. */
void server_adopt(int fd);
void server_shutdown(void);
/* Ask the main loop to stop after the current callback (SHUTDOWN). */
void server_request_stop(void);
const struct conf *server_conf(void);
struct event_base *server_base(void);
uint64_t server_uptime_ms(void);
/* Monotonic milliseconds (clock_now_ms). */
uint64_t server_now_ms(void);
uint32_t session_count(void);

void session_tenant(const struct session *s, char out[MSIV_NAME_MAX]);
/* Asynchronous events to a session (dropped if the session is gone). */
void session_event_msg(struct session *s, uint64_t vfunc, uint32_t vector,
    uint64_t addr, uint32_t data);
void session_event_gone(struct session *s, uint64_t vfunc, uint32_t reason);

/* A vfunc the session may act on: its own. Another session's handle gets
 * the same -ENOENT as a handle that does not exist; one of its own that
 * was taken away gets vfunc_gone_errno() (and *out is set). */
int session_vfunc(struct session *s, uint64_t id, struct vfunc **out);
/* session_vfunc() for a request, with the reason of a refusal (a handle
 * of another session gets the same words as one that does not exist). */
int cmd_vfunc_lookup(struct cmd_ctx *ctx, uint64_t id, struct vfunc **out);
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

#endif /* MSIVD_SERVER_H */
