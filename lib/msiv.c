/*
 * libmsiv: the client side of the msiv protocol (see msiv.h and
 * libmsiv(3)). Every call is one request and its reply; events that arrive
 * meanwhile are queued (bounded) for msiv_dispatch().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The library defines the deprecated calls: no warning about them. */
#define MSIV_NO_DEPRECATION_WARNINGS
#include <msiv/msiv.h>

#include "fdpass.h"
#include "proto.h"

#define MSIV_API __attribute__((visibility("default")))

/* Events beyond this many undispatched ones are dropped, oldest kept: a
 * client that never dispatches must not grow without bound. */
#define MSIV_EVQ_MAX 1024u

/* A target the library passed to the daemon, kept to re-attach it. */
struct msiv_target {
	uint64_t vfunc;
	uint32_t vector;
	int fd;
};

struct msiv_conn {
	int sock;
	uint32_t seq;
	unsigned int timeout_ms;
	unsigned int reconnect_ms;
	int reconnecting;
	uint64_t session;
	uint32_t rights;
	uint32_t resumed;
	char path[108];
	char tenant[MSIV_NAME_MAX];
	uint8_t token[MSIV_TOKEN_LEN];
	struct msiv_target *targets;
	size_t ntargets, targets_cap;
	msiv_event_cb *cb;
	void *cb_arg;
	struct msiv_event_info *evq;
	size_t evq_head, evq_len;
	int dead;
	char reason[MSIV_REASON_MAX]; /* of the last request refused */
};

/* The reason of the last msiv_connect*() that failed in this thread. */
static __thread char msiv_connect_reason[MSIV_REASON_MAX];

/*
 * Keep the reason an error reply carries (struct msiv_error_rep): only a
 * payload of exactly that size counts, and it is cut at its first NUL
 * with anything unprintable replaced, so a caller may print it as it is.
 */
static void
msiv_keep_reason(struct msiv_conn *c, const struct msiv_hdr *h,
    const unsigned char *payload)
{
	size_t i;

	if (h->len != sizeof(struct msiv_error_rep))
		return;
	for (i = 0; i < sizeof(c->reason) - 1 && payload[i] != '\0'; i++)
		c->reason[i] = payload[i] >= 0x20 && payload[i] < 0x7f ?
		    (char)payload[i] : '?';
	c->reason[i] = '\0';
}

MSIV_API const char *
msiv_strerror(int status)
{
	switch (status) {
	case 0:
		return "success";
	case -ENOTCONN:
		return "connection to the daemon lost";
	case -ENOENT:
		return "no such object";
	case -ECONNREFUSED:
		return "daemon not running";
	case -EACCES:
	case -EPERM:
		return "permission denied";
	case -ENODEV:
		return "no such device";
	case -EKEYREVOKED:
		return "revoked by an administrator";
	case -ENOSPC:
		return "no free slots on the device";
	case -EDQUOT:
		return "quota exceeded";
	case -EBUSY:
		return "busy (mask the vector first)";
	case -EINVAL:
		return "invalid argument";
	case -EBADF:
		return "bad file descriptor";
	case -EPROTO:
		return "protocol error";
	case -EPROTONOSUPPORT:
		return "protocol version not supported";
	case -ETIMEDOUT:
		return "timed out waiting for the daemon";
	case -EOPNOTSUPP:
		return "operation not supported by the device";
	case -ENOSYS:
		return "operation not supported by the daemon";
	case -ENAMETOOLONG:
		return "name too long";
	case -ENOMEM:
		return "out of memory";
	case -EIO:
		return "the daemon could not record the change (its disk is "
		    "full or failing)";
	case -EALREADY:
		return "already done";
	case -ECONNRESET:
		return "connection lost during the call; it may have happened";
	default:
		return status < 0 ? strerror(-status) : "unknown status";
	}
}

static int64_t
msiv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
msiv_queue_event(struct msiv_conn *c, const struct msiv_hdr *h,
    const unsigned char *payload)
{
	struct msiv_event_info *e;
	const char *layout = msiv_proto_event_layout(h->opcode);

	if (layout == NULL || h->len != msiv_proto_event_len(h->opcode) ||
	    c->evq_len == MSIV_EVQ_MAX)
		return; /* unknown events are for newer clients */
	e = &c->evq[(c->evq_head + c->evq_len++) % MSIV_EVQ_MAX];
	memset(e, 0, sizeof(*e));
	e->type = (enum msiv_event)h->opcode;
	if (h->opcode == MSIV_EV_MSG_CHANGED) {
		struct msiv_ev_msg m;

		memcpy(&m, payload, sizeof(m));
		msiv_swap(layout, &m, sizeof(m));
		e->vfunc = m.vfunc;
		e->vector = m.vector;
		e->addr = m.addr;
		e->data = m.data;
	} else {
		struct msiv_ev_gone g;

		memcpy(&g, payload, sizeof(g));
		msiv_swap(layout, &g, sizeof(g));
		e->vfunc = g.vfunc;
		e->reason = g.reason;
	}
}

/*
 * Read one packet. Events are queued and reported as 0; a reply is copied
 * to *h / rep (up to repcap bytes) with its fds. Returns 1 for a reply,
 * 0 for an event or nothing (non-blocking), -errno on failure.
 */
static int
msiv_read_one(struct msiv_conn *c, struct msiv_hdr *h, void *rep,
    size_t repcap, int *fds, size_t *nfds, int flags)
{
	unsigned char pkt[MSIV_MSG_MAX];
	int rfds[MSIV_FDS_MAX];
	size_t n_rfds;
	ssize_t n;
	int r;

	n = fdpass_recv(c->sock, pkt, sizeof(pkt), rfds, &n_rfds, flags);
	if (n == -EAGAIN)
		return 0;
	if (n == 0 || n == -ECONNRESET || n == -EPIPE) {
		c->dead = 1;
		return -ENOTCONN;
	}
	if (n < 0)
		return (int)n;
	r = msiv_hdr_decode(pkt, (size_t)n, h);
	if (r < 0) {
		fdpass_close(rfds, n_rfds);
		return -EPROTO;
	}
	if (h->flags & MSIV_F_EVENT) {
		fdpass_close(rfds, n_rfds); /* events carry no fds */
		msiv_queue_event(c, h, pkt + sizeof(*h));
		return 0;
	}
	if (!(h->flags & MSIV_F_REPLY) || h->len > repcap ||
	    (fds == NULL && n_rfds > 0)) {
		fdpass_close(rfds, n_rfds);
		return -EPROTO;
	}
	memcpy(rep, pkt + sizeof(*h), h->len);
	if (fds != NULL) {
		memcpy(fds, rfds, n_rfds * sizeof(int));
		*nfds = n_rfds;
	}
	return 1;
}

/*
 * One request/reply exchange. req is in host order and converted with the
 * op's layout; the reply payload (exactly replen bytes, or a page when
 * paged) is converted back. Returns the reply's status (0 or -errno),
 * or a transport error.
 */
static int
msiv_call_fds(struct msiv_conn *c, unsigned int op, const void *req,
    const int *sfds, size_t nsfds, void *rep, size_t repcap, size_t *replen,
    int *rfds, size_t *nrfds)
{
	const struct msiv_opinfo *oi = msiv_proto_op(op);
	unsigned char pkt[MSIV_MSG_MAX];
	struct msiv_hdr h = {
		.magic = MSIV_PROTO_MAGIC, .version = MSIV_PROTO_VERSION,
		.opcode = (uint16_t)op, .len = oi->req_len,
	};
	unsigned int wait_ms;
	int64_t deadline;
	int r;

	c->reason[0] = '\0';
	if (c->dead)
		return -ENOTCONN;
	h.seq = ++c->seq;
	msiv_hdr_encode(&h, pkt);
	if (oi->req_len > 0)
		memcpy(pkt + sizeof(h), req, oi->req_len);
	msiv_swap(oi->req_layout, pkt + sizeof(h), oi->req_len);
	r = fdpass_send(c->sock, pkt, sizeof(h) + oi->req_len, sfds, nsfds, 0);
	if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN) {
		c->dead = 1;
		return -ENOTCONN;
	}
	if (r < 0)
		return r;

	wait_ms = c->timeout_ms;
	/* A RESTART's reply comes once a new msivd has started and taken
	 * everything over (msiv.h). */
	if (op == MSIV_OP_RESTART && wait_ms != 0 &&
	    wait_ms < MSIV_RESTART_WAIT_MS)
		wait_ms = MSIV_RESTART_WAIT_MS;
	deadline = wait_ms ? msiv_now_ms() + wait_ms : 0;
	for (;;) {
		struct msiv_hdr rh;
		size_t nf = 0;
		struct pollfd pfd = { .fd = c->sock, .events = POLLIN };
		int wait = -1;

		if (deadline) {
			int64_t left = deadline - msiv_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			wait = (int)left;
		}
		r = poll(&pfd, 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue; /* the deadline check above ends it */
		r = msiv_read_one(c, &rh, rep, repcap, rfds, &nf, MSG_DONTWAIT);
		if (r <= 0) {
			if (r < 0)
				return r;
			continue;
		}
		if (rh.seq != h.seq || rh.opcode != op || rh.status > 0 ||
		    rh.status != 0) {
			if (rfds != NULL)
				fdpass_close(rfds, nf);
			if (rh.seq != h.seq || rh.opcode != op || rh.status > 0)
				return -EPROTO;
			msiv_keep_reason(c, &rh, rep);
			return rh.status;
		}
		if (oi->paged) {
			struct msiv_page pg;

			if (rh.len < sizeof(pg))
				return -EPROTO;
			msiv_swap_page(oi->rep_layout, rep, rh.len);
			memcpy(&pg, rep, sizeof(pg));
			if (rh.len != sizeof(pg) + (size_t)pg.count * oi->rep_len)
				return -EPROTO;
		} else if (rh.len != oi->rep_len) {
			if (rfds != NULL)
				fdpass_close(rfds, nf);
			return -EPROTO;
		} else {
			msiv_swap(oi->rep_layout, rep, rh.len);
		}
		if (replen != NULL)
			*replen = rh.len;
		if (nrfds != NULL)
			*nrfds = nf;
		return 0;
	}
}

static int msiv_auto_reconnect(struct msiv_conn *c);

static int
msiv_call(struct msiv_conn *c, unsigned int op, const void *req, int fd,
    void *rep)
{
	const struct msiv_opinfo *oi = msiv_proto_op(op);
	unsigned char buf[MSIV_MSG_MAX];
	int r;

	r = msiv_call_fds(c, op, req, &fd, fd >= 0 ? 1 : 0, buf, sizeof(buf),
	    NULL, NULL, NULL);
	if (r == -ENOTCONN && op != MSIV_OP_HELLO &&
	    msiv_auto_reconnect(c) == 0) {
		/* It may have been opened; msivd may have restarted. */
		if (op == MSIV_OP_VFUNC_OPEN || op == MSIV_OP_RESTART)
			return -ECONNRESET;
		r = msiv_call_fds(c, op, req, &fd, fd >= 0 ? 1 : 0, buf,
		    sizeof(buf), NULL, NULL, NULL);
	}
	if (r == 0 && rep != NULL)
		memcpy(rep, buf, oi->rep_len);
	return r;
}

/* Open the socket and say HELLO with the connection's tenant and token. */
static int
msiv_open(struct msiv_conn *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct msiv_hello_req hq = {
		.version_min = 1, .version_max = MSIV_PROTO_VERSION,
	};
	struct msiv_hello_rep hr;
	int r;

	memcpy(sa.sun_path, c->path, strlen(c->path));
	memcpy(hq.tenant, c->tenant, sizeof(hq.tenant));
	memcpy(hq.token, c->token, sizeof(hq.token));
	if (c->sock >= 0)
		close(c->sock);
	c->dead = 0;
	c->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->sock < 0)
		return -errno;
	if (connect(c->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(c->sock);
		c->sock = -1;
		c->dead = 1;
		return r;
	}
	r = msiv_call(c, MSIV_OP_HELLO, &hq, -1, &hr);
	if (r < 0)
		return r;
	if (msiv_name_check(hr.tenant) < 0 || hr.version == 0 ||
	    hr.version > MSIV_PROTO_VERSION)
		return -EPROTO;
	c->session = hr.session;
	c->rights = hr.rights;
	c->resumed = hr.resumed;
	memcpy(c->tenant, hr.tenant, sizeof(c->tenant));
	memcpy(c->token, hr.token, sizeof(c->token));
	return 0;
}

MSIV_API int
msiv_connect_token(const char *path, const char *tenant,
    const uint8_t token[MSIV_TOKEN_LEN], struct msiv_conn **out)
{
	struct msiv_conn *c;
	char name[MSIV_NAME_MAX];
	int r;

	*out = NULL;
	if (path == NULL)
		path = getenv("MSIV_SOCKET");
	if (path == NULL || *path == '\0')
		path = MSIV_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(c->path))
		return -ENAMETOOLONG;
	memset(name, 0, sizeof(name));
	if (tenant != NULL && (r = msiv_name_put(name, tenant)) < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->evq = calloc(MSIV_EVQ_MAX, sizeof(*c->evq));
	if (c->evq == NULL) {
		free(c);
		return -ENOMEM;
	}
	c->sock = -1;
	c->timeout_ms = 10000;
	memcpy(c->path, path, strlen(path) + 1);
	memcpy(c->tenant, name, sizeof(c->tenant));
	if (token != NULL)
		memcpy(c->token, token, sizeof(c->token));
	msiv_connect_reason[0] = '\0';
	if ((r = msiv_open(c)) < 0) {
		memcpy(msiv_connect_reason, c->reason, sizeof(c->reason));
		msiv_close(c);
		return r;
	}
	*out = c;
	return 0;
}

MSIV_API const char *
msiv_last_reason(const struct msiv_conn *c)
{
	return c != NULL ? c->reason : msiv_connect_reason;
}

MSIV_API int
msiv_connect(const char *path, const char *tenant, struct msiv_conn **out)
{
	return msiv_connect_token(path, tenant, NULL, out);
}

MSIV_API void
msiv_token(const struct msiv_conn *c, uint8_t token[MSIV_TOKEN_LEN])
{
	memcpy(token, c->token, MSIV_TOKEN_LEN);
}

MSIV_API unsigned int
msiv_resumed(const struct msiv_conn *c)
{
	return c->resumed;
}

MSIV_API void
msiv_set_auto_reconnect(struct msiv_conn *c, unsigned int ms)
{
	c->reconnect_ms = ms;
}

/* --- targets kept for re-attachment ---------------------------------------*/

static struct msiv_target *
msiv_target_find(struct msiv_conn *c, uint64_t vfunc, uint32_t vector)
{
	for (size_t i = 0; i < c->ntargets; i++)
		if (c->targets[i].vfunc == vfunc &&
		    c->targets[i].vector == vector)
			return &c->targets[i];
	return NULL;
}

static void
msiv_target_drop(struct msiv_conn *c, uint64_t vfunc, uint32_t vector,
    int all)
{
	for (size_t i = 0; i < c->ntargets;) {
		struct msiv_target *t = &c->targets[i];

		if (t->vfunc == vfunc && (all || t->vector == vector)) {
			close(t->fd);
			*t = c->targets[--c->ntargets];
		} else
			i++;
	}
}

/* Keep a duplicate of fd as the vector's target (best effort: without
 * memory or fds the target is simply not re-attached later). */
static void
msiv_target_keep(struct msiv_conn *c, uint64_t vfunc, uint32_t vector, int fd)
{
	struct msiv_target *t = msiv_target_find(c, vfunc, vector);
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (dup < 0)
		return;
	if (t != NULL) {
		close(t->fd);
		t->fd = dup;
		return;
	}
	if (c->ntargets == c->targets_cap) {
		size_t cap = c->targets_cap ? c->targets_cap * 2 : 16;
		struct msiv_target *n = realloc(c->targets, cap * sizeof(*n));

		if (n == NULL) {
			close(dup);
			return;
		}
		c->targets = n;
		c->targets_cap = cap;
	}
	c->targets[c->ntargets++] = (struct msiv_target){ vfunc, vector, dup };
}

static void
msiv_queue_local(struct msiv_conn *c, enum msiv_event type, uint64_t vfunc,
    uint32_t reason, uint32_t count)
{
	struct msiv_event_info *e;

	if (c->evq_len == MSIV_EVQ_MAX)
		return;
	e = &c->evq[(c->evq_head + c->evq_len++) % MSIV_EVQ_MAX];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->vfunc = vfunc;
	e->reason = reason;
	e->count = count;
}

MSIV_API int
msiv_reconnect(struct msiv_conn *c)
{
	uint32_t n = 0;
	int r;

	c->reconnecting = 1;
	r = msiv_open(c);
	for (size_t i = 0; r == 0 && i < c->ntargets;) {
		struct msiv_target *t = &c->targets[i];
		struct msiv_vec_retarget_req rq = {
			.vfunc = t->vfunc, .vector = t->vector,
			.flags = MSIV_RETARGET_TARGET,
		};
		int rr = msiv_call(c, MSIV_OP_VEC_RETARGET, &rq, t->fd, NULL);

		if (rr == -ENOENT) {
			uint64_t gone = t->vfunc;

			msiv_target_drop(c, gone, 0, 1);
			msiv_queue_local(c, MSIV_EV_VFUNC_GONE, gone,
			    MSIV_GONE_CLOSED, 0);
			i = 0; /* the array changed */
			continue;
		}
		if (rr == -ENODEV || rr == -EKEYREVOKED) {
			/* Taken away while we were gone: the daemon has
			 * queued its VFUNC_GONE (with the reason) already. */
			msiv_target_drop(c, t->vfunc, 0, 1);
			i = 0;
			continue;
		}
		if (rr == -ENOTCONN || rr == -ETIMEDOUT)
			r = rr;
		else if (rr == 0)
			n++;
		i++;
	}
	c->reconnecting = 0;
	if (r == 0)
		msiv_queue_local(c, MSIV_EV_RESUMED, 0, 0, n);
	return r;
}

/* A call found the connection lost: reconnect if asked to. */
static int
msiv_auto_reconnect(struct msiv_conn *c)
{
	int64_t deadline;

	if (c->reconnect_ms == 0 || c->reconnecting)
		return -ENOTCONN;
	deadline = msiv_now_ms() + c->reconnect_ms;
	for (;;) {
		int r = msiv_reconnect(c);

		if (r == 0)
			return 0;
		if (r == -EACCES || r == -EPROTONOSUPPORT ||
		    msiv_now_ms() >= deadline)
			return -ENOTCONN;
		poll(NULL, 0, 50); /* the daemon is restarting */
	}
}

MSIV_API void
msiv_close(struct msiv_conn *c)
{
	if (c == NULL)
		return;
	if (c->sock >= 0)
		close(c->sock);
	for (size_t i = 0; i < c->ntargets; i++)
		close(c->targets[i].fd);
	free(c->targets);
	free(c->evq);
	free(c);
}

MSIV_API void
msiv_set_timeout(struct msiv_conn *c, unsigned int ms)
{
	c->timeout_ms = ms;
}

MSIV_API uint64_t
msiv_session_id(const struct msiv_conn *c)
{
	return c->session;
}

MSIV_API int
msiv_is_admin(const struct msiv_conn *c)
{
	return (c->rights & MSIV_RIGHT_ADMIN) != 0;
}

MSIV_API const char *
msiv_tenant(const struct msiv_conn *c)
{
	return c->tenant;
}

MSIV_API void
msiv_set_event_cb(struct msiv_conn *c, msiv_event_cb *cb, void *arg)
{
	c->cb = cb;
	c->cb_arg = arg;
}

MSIV_API int
msiv_fd(const struct msiv_conn *c)
{
	return c->sock;
}

MSIV_API size_t
msiv_events_pending(const struct msiv_conn *c)
{
	return c->evq_len;
}

MSIV_API int
msiv_dispatch(struct msiv_conn *c)
{
	int n = 0;

	for (;;) {
		struct msiv_hdr h;
		unsigned char junk[MSIV_MSG_MAX];
		int r;

		while (c->evq_len > 0) {
			struct msiv_event_info e = c->evq[c->evq_head];

			c->evq_head = (c->evq_head + 1) % MSIV_EVQ_MAX;
			c->evq_len--;
			if (e.type == MSIV_EV_VFUNC_GONE)
				msiv_target_drop(c, e.vfunc, 0, 1);
			if (c->cb != NULL)
				c->cb(c, &e, c->cb_arg);
			n++;
		}
		if (c->dead) {
			if (msiv_auto_reconnect(c) == 0)
				continue; /* hand out RESUMED */
			return n > 0 ? n : -ENOTCONN;
		}
		r = msiv_read_one(c, &h, junk, sizeof(junk), NULL, NULL,
		    MSG_DONTWAIT);
		if (r == -ENOTCONN)
			continue; /* reconnect above, if asked to */
		if (r < 0)
			return n > 0 ? n : r;
		if (r == 1)
			return -EPROTO; /* a reply nobody asked for */
		if (c->evq_len == 0)
			return n;
	}
}

MSIV_API int
msiv_vfunc_open(struct msiv_conn *c, const char *device, unsigned int nvec,
    enum msiv_policy policy, uint64_t *vfunc)
{
	return msiv_vfunc_open_flags(c, device, nvec, policy, 0, vfunc);
}

MSIV_API int
msiv_vfunc_open_flags(struct msiv_conn *c, const char *device,
    unsigned int nvec, enum msiv_policy policy, unsigned int flags,
    uint64_t *vfunc)
{
	struct msiv_vfunc_open_req rq = { .nvec = nvec };
	struct msiv_vfunc_open_rep rp;
	int r;

	/* The policy and the flags share the wire field. */
	if (((unsigned int)policy & ~MSIV_OPEN_POLICY) != 0 ||
	    (flags & ~MSIV_OPEN_ALL) != 0)
		return -EINVAL;
	rq.policy = (uint32_t)policy | flags;

	if ((r = msiv_name_put(rq.device, device)) < 0)
		return r == -ENAMETOOLONG ? -ENODEV : r;
	r = msiv_call(c, MSIV_OP_VFUNC_OPEN, &rq, -1, &rp);
	if (r == 0)
		*vfunc = rp.vfunc;
	return r;
}

static int
msiv_vfunc_op(struct msiv_conn *c, unsigned int op, uint64_t vfunc,
    uint32_t value)
{
	struct msiv_vfunc_req rq = { .vfunc = vfunc, .value = value };

	return msiv_call(c, op, &rq, -1, NULL);
}

MSIV_API int
msiv_vfunc_close(struct msiv_conn *c, uint64_t vfunc)
{
	int r = msiv_vfunc_op(c, MSIV_OP_VFUNC_CLOSE, vfunc, 0);

	if (r == 0 || r == -ENOENT)
		msiv_target_drop(c, vfunc, 0, 1);
	return r;
}

MSIV_API int
msiv_vfunc_enable(struct msiv_conn *c, uint64_t vfunc, int enable)
{
	return msiv_vfunc_op(c, MSIV_OP_VFUNC_ENABLE, vfunc, enable != 0);
}

MSIV_API int
msiv_vfunc_mask(struct msiv_conn *c, uint64_t vfunc, int mask)
{
	return msiv_vfunc_op(c, MSIV_OP_VFUNC_FMASK, vfunc, mask != 0);
}

MSIV_API int
msiv_vfunc_reset(struct msiv_conn *c, uint64_t vfunc)
{
	int r = msiv_vfunc_op(c, MSIV_OP_VFUNC_RESET, vfunc, 0);

	if (r == 0)
		msiv_target_drop(c, vfunc, 0, 1);
	return r;
}

MSIV_API int
msiv_vector_setup(struct msiv_conn *c, uint64_t vfunc, unsigned int vector,
    uint64_t addr, uint32_t data, int target, unsigned int flags)
{
	struct msiv_vec_setup_req rq = {
		.vfunc = vfunc, .vector = vector, .flags = flags,
		.addr = addr, .data = data,
	};

	int r;

	if (target < 0)
		return -EBADF;
	r = msiv_call(c, MSIV_OP_VEC_SETUP, &rq, target, NULL);
	if (r == 0)
		msiv_target_keep(c, vfunc, vector, target);
	return r;
}

static int
msiv_vec_op(struct msiv_conn *c, unsigned int op, uint64_t vfunc,
    unsigned int vector, void *rep)
{
	struct msiv_vec_req rq = { .vfunc = vfunc, .vector = vector };

	return msiv_call(c, op, &rq, -1, rep);
}

MSIV_API int
msiv_vector_mask(struct msiv_conn *c, uint64_t vfunc, unsigned int vector)
{
	return msiv_vec_op(c, MSIV_OP_VEC_MASK, vfunc, vector, NULL);
}

MSIV_API int
msiv_vector_unmask(struct msiv_conn *c, uint64_t vfunc, unsigned int vector)
{
	return msiv_vec_op(c, MSIV_OP_VEC_UNMASK, vfunc, vector, NULL);
}

MSIV_API int
msiv_vector_free(struct msiv_conn *c, uint64_t vfunc, unsigned int vector)
{
	int r = msiv_vec_op(c, MSIV_OP_VEC_FREE, vfunc, vector, NULL);

	if (r == 0)
		msiv_target_drop(c, vfunc, vector, 0);
	return r;
}

MSIV_API int
msiv_vector_retarget(struct msiv_conn *c, uint64_t vfunc, unsigned int vector,
    unsigned int flags, uint64_t addr, uint32_t data, int target)
{
	struct msiv_vec_retarget_req rq = {
		.vfunc = vfunc, .vector = vector, .flags = flags,
		.addr = addr, .data = data,
	};

	int r;

	if ((flags & MSIV_RETARGET_TARGET) && target < 0)
		return -EBADF;
	r = msiv_call(c, MSIV_OP_VEC_RETARGET, &rq,
	    (flags & MSIV_RETARGET_TARGET) ? target : -1, NULL);
	if (r == 0 && (flags & MSIV_RETARGET_TARGET))
		msiv_target_keep(c, vfunc, vector, target);
	return r;
}

static void
msiv_info_from_wire(struct msiv_vector_info *info,
    const struct msiv_vec_info *w)
{
	memset(info, 0, sizeof(*info));
	info->prog_addr = w->prog_addr;
	info->eff_addr = w->eff_addr;
	info->prog_data = w->prog_data;
	info->eff_data = w->eff_data;
	info->masked = (w->state & MSIV_VEC_MASKED) != 0;
	info->pending = (w->state & MSIV_VEC_PENDING) != 0;
	info->target = (w->state & MSIV_VEC_TARGET) != 0;
	info->fmasked = (w->state & MSIV_VEC_FMASKED) != 0;
	info->enabled = (w->state & MSIV_VEC_ENABLED) != 0;
	info->orphaned = (w->state & MSIV_VEC_ORPHANED) != 0;
	info->direct = (w->state & MSIV_VEC_DIRECT) != 0;
	info->routed = (w->state & MSIV_VEC_ROUTED) != 0;
	info->slot = w->slot;
	info->fired = w->fired;
	info->delivered = w->delivered;
	info->coalesced = w->coalesced;
	info->dropped = w->dropped;
}

MSIV_API int
msiv_vector_query(struct msiv_conn *c, uint64_t vfunc, unsigned int vector,
    struct msiv_vector_info *info)
{
	struct msiv_vec_info w;
	int r = msiv_vec_op(c, MSIV_OP_VEC_QUERY, vfunc, vector, &w);

	if (r == 0)
		msiv_info_from_wire(info, &w);
	return r;
}

MSIV_API int
msiv_table_write(struct msiv_conn *c, uint64_t vfunc, uint32_t offset,
    unsigned int size, uint64_t value)
{
	struct msiv_table_req rq = {
		.vfunc = vfunc, .offset = offset, .size = size, .value = value,
	};

	return msiv_call(c, MSIV_OP_TABLE_WRITE, &rq, -1, NULL);
}

MSIV_API int
msiv_table_read(struct msiv_conn *c, uint64_t vfunc, uint32_t offset,
    unsigned int size, uint64_t *value)
{
	struct msiv_table_req rq = {
		.vfunc = vfunc, .offset = offset, .size = size,
	};
	struct msiv_table_rep rp;
	int r = msiv_call(c, MSIV_OP_TABLE_READ, &rq, -1, &rp);

	if (r == 0)
		*value = rp.value;
	return r;
}

MSIV_API int
msiv_status(struct msiv_conn *c, struct msiv_status_rep *st)
{
	int r = msiv_call(c, MSIV_OP_STATUS, NULL, -1, st);

	if (r == 0) { /* strings from the daemon: make sure they end */
		st->loop[MSIV_NAME_MAX - 1] = '\0';
		st->version_str[MSIV_NAME_MAX - 1] = '\0';
	}
	return r;
}

/*
 * The info structs of MSIV_0.3 and later (msiv.h): a caller's struct is
 * size bytes, at least the size the struct had in MSIV_0.3 (min); it gets
 * the fields that fit and zeros beyond those this library knows.
 */
static int
msiv_info_size(size_t size, size_t min)
{
	return size < min || size > (size_t)1 << 20 ? -EINVAL : 0;
}

static void
msiv_info_put(void *dst, size_t size, const void *src, size_t known)
{
	memcpy(dst, src, size < known ? size : known);
	if (size > known)
		memset((unsigned char *)dst + known, 0, size - known);
}

/* A NUL-padded name from the wire into a NUL-terminated one. */
static void
msiv_name_get(char dst[MSIV_NAME_MAX + 1], const char src[MSIV_NAME_MAX])
{
	memcpy(dst, src, MSIV_NAME_MAX);
	dst[MSIV_NAME_MAX] = '\0';
}

/* Puts wire record src (of the listing's size) as record i of out. */
typedef void msiv_list_put(void *out, size_t i, size_t size, const void *src);

/* Walk a paged listing of records of recsz bytes, handing up to max to
 * put. */
static int
msiv_list(struct msiv_conn *c, unsigned int op, uint64_t vfunc, void *out,
    size_t max, size_t size, size_t recsz, msiv_list_put *put)
{
	struct msiv_list_req rq = { .vfunc = vfunc };
	unsigned char buf[MSIV_MSG_MAX];
	size_t total = 0, len;
	int r, pages = 0;

	do {
		struct msiv_page pg;

		r = msiv_call_fds(c, op, &rq, NULL, 0, buf, sizeof(buf), &len,
		    NULL, NULL);
		if (r < 0)
			return r;
		memcpy(&pg, buf, sizeof(pg));
		for (uint32_t i = 0; i < pg.count; i++, total++)
			if (total < max)
				put(out, total, size,
				    buf + sizeof(pg) + i * recsz);
		/* A cursor must move forward, or a broken daemon loops us. */
		if (pg.next != 0 && pg.next <= rq.cursor)
			return -EPROTO;
		rq.cursor = pg.next;
		if (total > INT32_MAX || ++pages > 1 << 20)
			return -EPROTO;
	} while (rq.cursor != 0);
	return (int)total;
}

/* --- MSIV_0.1 listings, on the wire's records ---------------------------- */

static void
msiv_put_raw(void *out, size_t i, size_t size, const void *src)
{
	memcpy((unsigned char *)out + i * size, src, size);
}

MSIV_API int
msiv_device_list(struct msiv_conn *c, struct msiv_device_rec *out, size_t max)
{
	int n = msiv_list(c, MSIV_OP_DEVICE_LIST, 0, out, max, sizeof(*out),
	    sizeof(*out), msiv_put_raw);

	for (int i = 0; i < n && (size_t)i < max; i++) {
		out[i].name[MSIV_NAME_MAX - 1] = '\0';
		out[i].backend[MSIV_NAME_MAX - 1] = '\0';
	}
	return n;
}

MSIV_API int
msiv_vfunc_list(struct msiv_conn *c, struct msiv_vfunc_rec *out, size_t max)
{
	int n = msiv_list(c, MSIV_OP_VFUNC_LIST, 0, out, max, sizeof(*out),
	    sizeof(*out), msiv_put_raw);

	for (int i = 0; i < n && (size_t)i < max; i++) {
		out[i].device[MSIV_NAME_MAX - 1] = '\0';
		out[i].tenant[MSIV_NAME_MAX - 1] = '\0';
	}
	return n;
}

MSIV_API int
msiv_vector_list(struct msiv_conn *c, uint64_t vfunc, struct msiv_vec_rec *out,
    size_t max)
{
	return msiv_list(c, MSIV_OP_VEC_LIST, vfunc, out, max, sizeof(*out),
	    sizeof(*out), msiv_put_raw);
}

MSIV_API int
msiv_session_list(struct msiv_conn *c, struct msiv_session_rec *out,
    size_t max)
{
	int n = msiv_list(c, MSIV_OP_SESSION_LIST, 0, out, max, sizeof(*out),
	    sizeof(*out), msiv_put_raw);

	for (int i = 0; i < n && (size_t)i < max; i++)
		out[i].tenant[MSIV_NAME_MAX - 1] = '\0';
	return n;
}

MSIV_API int
msiv_hotplug_status(struct msiv_conn *c, struct msiv_hotplug_rep *st)
{
	return msiv_call(c, MSIV_OP_HOTPLUG_STATUS, NULL, -1, st);
}

/* --- MSIV_0.3: the library's own structs --------------------------------- */

/* Sizes of the structs in the symbol version that brought them (MSIV_0.3
 * unless named), the least a caller may pass. Fields appended later are
 * not counted here. */
#define MSIV_STATUS_INFO_V3  sizeof(struct msiv_status_info)
#define MSIV_HOTPLUG_INFO_V3 sizeof(struct msiv_hotplug_info)
#define MSIV_DEVICE_INFO_V3  sizeof(struct msiv_device_info)
#define MSIV_VFUNC_INFO_V3   sizeof(struct msiv_vfunc_info)
#define MSIV_VECTOR_STATE_V3 sizeof(struct msiv_vector_state)
#define MSIV_SESSION_INFO_V3 sizeof(struct msiv_session_info)
#define MSIV_RESTART_INFO_V4 sizeof(struct msiv_restart_info)
#define MSIV_SHARD_INFO_V5   sizeof(struct msiv_shard_info)

MSIV_API int
msiv_get_status(struct msiv_conn *c, struct msiv_status_info *st, size_t size)
{
	struct msiv_status_rep rp;
	struct msiv_status_info in;
	int r;

	if ((r = msiv_info_size(size, MSIV_STATUS_INFO_V3)) < 0 ||
	    (r = msiv_call(c, MSIV_OP_STATUS, NULL, -1, &rp)) < 0)
		return r;
	memset(&in, 0, sizeof(in));
	in.version = rp.version;
	in.pid = rp.pid;
	in.uptime_ms = rp.uptime_ms;
	in.devices = rp.devices;
	in.sessions = rp.sessions;
	in.vfuncs = rp.vfuncs;
	in.vectors = rp.vectors;
	in.interrupts = rp.interrupts;
	in.delivered = rp.delivered;
	in.dropped = rp.dropped;
	msiv_name_get(in.loop, rp.loop);
	msiv_name_get(in.version_str, rp.version_str);
	msiv_info_put(st, size, &in, sizeof(in));
	return 0;
}

MSIV_API int
msiv_get_hotplug(struct msiv_conn *c, struct msiv_hotplug_info *st,
    size_t size)
{
	struct msiv_hotplug_rep rp;
	struct msiv_hotplug_info in;
	int r;

	if ((r = msiv_info_size(size, MSIV_HOTPLUG_INFO_V3)) < 0 ||
	    (r = msiv_call(c, MSIV_OP_HOTPLUG_STATUS, NULL, -1, &rp)) < 0)
		return r;
	memset(&in, 0, sizeof(in));
	in.flags = rp.flags;
	in.rules = rp.rules;
	in.uevents = rp.uevents;
	in.foreign = rp.foreign;
	in.rescans = rp.rescans;
	in.attached = rp.attached;
	in.removed = rp.removed;
	msiv_info_put(st, size, &in, sizeof(in));
	return 0;
}

static void
msiv_put_device(void *out, size_t i, size_t size, const void *src)
{
	struct msiv_device_rec rec;
	struct msiv_device_info in;

	memcpy(&rec, src, sizeof(rec));
	memset(&in, 0, sizeof(in));
	msiv_name_get(in.name, rec.name);
	msiv_name_get(in.backend, rec.backend);
	in.slots = rec.slots;
	in.slots_used = rec.slots_used;
	in.policy = rec.policy;
	in.flags = rec.flags;
	msiv_info_put((unsigned char *)out + i * size, size, &in, sizeof(in));
}

MSIV_API int
msiv_list_devices(struct msiv_conn *c, struct msiv_device_info *out,
    size_t max, size_t size)
{
	int r = msiv_info_size(size, MSIV_DEVICE_INFO_V3);

	return r < 0 ? r : msiv_list(c, MSIV_OP_DEVICE_LIST, 0, out, max, size,
	    sizeof(struct msiv_device_rec), msiv_put_device);
}

static void
msiv_put_vfunc(void *out, size_t i, size_t size, const void *src)
{
	struct msiv_vfunc_rec rec;
	struct msiv_vfunc_info in;

	memcpy(&rec, src, sizeof(rec));
	memset(&in, 0, sizeof(in));
	in.vfunc = rec.vfunc;
	in.session = rec.session;
	msiv_name_get(in.device, rec.device);
	msiv_name_get(in.tenant, rec.tenant);
	in.nvec = rec.nvec;
	in.first_slot = rec.first_slot;
	in.policy = rec.policy;
	in.flags = rec.flags;
	in.grace_ms = rec.grace_ms;
	in.gone = rec.gone;
	msiv_info_put((unsigned char *)out + i * size, size, &in, sizeof(in));
}

MSIV_API int
msiv_list_vfuncs(struct msiv_conn *c, struct msiv_vfunc_info *out, size_t max,
    size_t size)
{
	int r = msiv_info_size(size, MSIV_VFUNC_INFO_V3);

	return r < 0 ? r : msiv_list(c, MSIV_OP_VFUNC_LIST, 0, out, max, size,
	    sizeof(struct msiv_vfunc_rec), msiv_put_vfunc);
}

static void
msiv_put_vector(void *out, size_t i, size_t size, const void *src)
{
	struct msiv_vec_rec rec;
	struct msiv_vector_state in;

	memcpy(&rec, src, sizeof(rec));
	memset(&in, 0, sizeof(in));
	in.vector = rec.vector;
	in.state = rec.info.state;
	in.prog_addr = rec.info.prog_addr;
	in.eff_addr = rec.info.eff_addr;
	in.prog_data = rec.info.prog_data;
	in.eff_data = rec.info.eff_data;
	in.slot = rec.info.slot;
	in.nospace = rec.nospace;
	in.fired = rec.info.fired;
	in.delivered = rec.info.delivered;
	in.coalesced = rec.info.coalesced;
	in.dropped = rec.info.dropped;
	msiv_info_put((unsigned char *)out + i * size, size, &in, sizeof(in));
}

MSIV_API int
msiv_list_vectors(struct msiv_conn *c, uint64_t vfunc,
    struct msiv_vector_state *out, size_t max, size_t size)
{
	int r = msiv_info_size(size, MSIV_VECTOR_STATE_V3);

	return r < 0 ? r : msiv_list(c, MSIV_OP_VEC_LIST, vfunc, out, max,
	    size, sizeof(struct msiv_vec_rec), msiv_put_vector);
}

static void
msiv_put_session(void *out, size_t i, size_t size, const void *src)
{
	struct msiv_session_rec rec;
	struct msiv_session_info in;

	memcpy(&rec, src, sizeof(rec));
	memset(&in, 0, sizeof(in));
	in.session = rec.session;
	in.pid = rec.pid;
	in.uid = rec.uid;
	in.gid = rec.gid;
	in.rights = rec.rights;
	in.vfuncs = rec.vfuncs;
	msiv_name_get(in.tenant, rec.tenant);
	msiv_info_put((unsigned char *)out + i * size, size, &in, sizeof(in));
}

static void
msiv_put_shard(void *out, size_t i, size_t size, const void *src)
{
	struct msiv_shard_rec rec;
	struct msiv_shard_info in;

	memcpy(&rec, src, sizeof(rec));
	memset(&in, 0, sizeof(in));
	in.shard = rec.shard;
	in.slots = rec.slots;
	in.interrupts = rec.interrupts;
	in.delivered = rec.delivered;
	in.dropped = rec.dropped;
	in.cpu_ns = rec.cpu_ns;
	msiv_info_put((unsigned char *)out + i * size, size, &in, sizeof(in));
}

MSIV_API int
msiv_list_shards(struct msiv_conn *c, struct msiv_shard_info *out, size_t max,
    size_t size)
{
	int r = msiv_info_size(size, MSIV_SHARD_INFO_V5);

	return r < 0 ? r : msiv_list(c, MSIV_OP_SHARD_LIST, 0, out, max, size,
	    sizeof(struct msiv_shard_rec), msiv_put_shard);
}

MSIV_API int
msiv_list_sessions(struct msiv_conn *c, struct msiv_session_info *out,
    size_t max, size_t size)
{
	int r = msiv_info_size(size, MSIV_SESSION_INFO_V3);

	return r < 0 ? r : msiv_list(c, MSIV_OP_SESSION_LIST, 0, out, max,
	    size, sizeof(struct msiv_session_rec), msiv_put_session);
}

static int
msiv_sim_req(struct msiv_sim_req *rq, const char *device, unsigned int slot,
    unsigned int count)
{
	memset(rq, 0, sizeof(*rq));
	rq->slot = slot;
	rq->count = count;
	return msiv_name_put(rq->device, device) < 0 ? -ENODEV : 0;
}

MSIV_API int
msiv_sim_fire(struct msiv_conn *c, const char *device, unsigned int slot,
    unsigned int count)
{
	struct msiv_sim_req rq;
	int r = msiv_sim_req(&rq, device, slot, count);

	return r < 0 ? r : msiv_call(c, MSIV_OP_SIM_FIRE, &rq, -1, NULL);
}

MSIV_API int
msiv_sim_triggers(struct msiv_conn *c, const char *device, unsigned int slot,
    unsigned int count, int *fds)
{
	struct msiv_sim_req rq;
	unsigned char buf[MSIV_MSG_MAX];
	int rfds[MSIV_FDS_MAX];
	size_t nf = 0;
	int r;

	if (count == 0 || count > MSIV_FDS_MAX)
		return -EINVAL;
	if ((r = msiv_sim_req(&rq, device, slot, count)) < 0)
		return r;
	r = msiv_call_fds(c, MSIV_OP_SIM_TRIGGERS, &rq, NULL, 0, buf,
	    sizeof(buf), NULL, rfds, &nf);
	if (r < 0)
		return r;
	if (nf != count) {
		fdpass_close(rfds, nf);
		return -EPROTO;
	}
	memcpy(fds, rfds, count * sizeof(int));
	return 0;
}

MSIV_API int
msiv_device_attach(struct msiv_conn *c, const char *name, const char *backend,
    const char *address, unsigned int slots, enum msiv_policy policy,
    unsigned int flags)
{
	struct msiv_attach_req rq;

	memset(&rq, 0, sizeof(rq));
	if (name == NULL || backend == NULL ||
	    msiv_name_put(rq.name, name) < 0 ||
	    msiv_name_put(rq.backend, backend) < 0 ||
	    (address != NULL && msiv_name_put(rq.address, address) < 0))
		return -EINVAL;
	rq.slots = slots;
	rq.policy = (uint32_t)policy;
	rq.flags = flags;
	return msiv_call(c, MSIV_OP_DEVICE_ATTACH, &rq, -1, NULL);
}

MSIV_API int
msiv_device_detach(struct msiv_conn *c, const char *name, unsigned int flags)
{
	struct msiv_detach_req rq;

	memset(&rq, 0, sizeof(rq));
	if (name == NULL || msiv_name_put(rq.name, name) < 0)
		return -EINVAL;
	rq.flags = flags;
	return msiv_call(c, MSIV_OP_DEVICE_DETACH, &rq, -1, NULL);
}

MSIV_API int
msiv_revoke(struct msiv_conn *c, const char *tenant, uint64_t vfunc,
    unsigned int *count)
{
	struct msiv_revoke_req rq;
	struct msiv_revoke_rep rp;
	int r;

	memset(&rq, 0, sizeof(rq));
	if ((tenant != NULL) == (vfunc != 0) ||
	    (tenant != NULL && msiv_name_put(rq.tenant, tenant) < 0))
		return -EINVAL;
	rq.vfunc = vfunc;
	if ((r = msiv_call(c, MSIV_OP_REVOKE, &rq, -1, &rp)) < 0)
		return r;
	if (count != NULL)
		*count = rp.count;
	return 0;
}

MSIV_API int
msiv_tenant_release(struct msiv_conn *c, const char *tenant,
    unsigned int *count)
{
	struct msiv_tenant_release_req rq;
	struct msiv_tenant_release_rep rp;
	int r;

	memset(&rq, 0, sizeof(rq));
	if (tenant == NULL || *tenant == '\0' ||
	    msiv_name_put(rq.tenant, tenant) < 0)
		return -EINVAL;
	if ((r = msiv_call(c, MSIV_OP_TENANT_RELEASE, &rq, -1, &rp)) < 0)
		return r;
	if (count != NULL)
		*count = rp.count;
	return 0;
}

MSIV_API int
msiv_metrics(struct msiv_conn *c, struct msiv_metrics_info *m, size_t size)
{
	struct msiv_metrics_rep rp;
	struct msiv_metrics_info in;
	int r;

	if ((r = msiv_info_size(size, sizeof(struct msiv_metrics_info))) < 0 ||
	    (r = msiv_call(c, MSIV_OP_METRICS, NULL, -1, &rp)) < 0)
		return r;
	memset(&in, 0, sizeof(in));
	in.commits = rp.commits;
	in.commit_failures = rp.commit_fail;
	in.commit_us_sum = rp.commit_us_sum;
	memcpy(in.commit_hist, rp.commit_hist, sizeof(in.commit_hist));
	msiv_info_put(m, size, &in, sizeof(in));
	return 0;
}

static int
msiv_affinity_call(struct msiv_conn *c, struct msiv_affinity_req *rq,
    const uint64_t *cpus, unsigned int *irq, uint64_t *effective)
{
	struct msiv_affinity_rep rp;
	int r;

	if (cpus != NULL)
		memcpy(rq->cpus, cpus, sizeof(rq->cpus));
	if ((r = msiv_call(c, MSIV_OP_IRQ_AFFINITY, rq, -1, &rp)) < 0)
		return r;
	if (irq != NULL)
		*irq = rp.irq;
	if (effective != NULL)
		memcpy(effective, rp.cpus, sizeof(rp.cpus));
	return 0;
}

MSIV_API int
msiv_vector_affinity(struct msiv_conn *c, uint64_t vfunc, unsigned int vector,
    const uint64_t *cpus, unsigned int *irq, uint64_t *effective)
{
	struct msiv_affinity_req rq;

	memset(&rq, 0, sizeof(rq));
	if (vfunc == 0)
		return -ENOENT;
	rq.vfunc = vfunc;
	rq.vector = vector;
	return msiv_affinity_call(c, &rq, cpus, irq, effective);
}

MSIV_API int
msiv_slot_affinity(struct msiv_conn *c, const char *device, unsigned int slot,
    const uint64_t *cpus, unsigned int *irq, uint64_t *effective)
{
	struct msiv_affinity_req rq;

	memset(&rq, 0, sizeof(rq));
	if (device == NULL || msiv_name_put(rq.device, device) < 0)
		return -ENODEV;
	rq.slot = slot;
	return msiv_affinity_call(c, &rq, cpus, irq, effective);
}

MSIV_API int
msiv_shutdown(struct msiv_conn *c)
{
	return msiv_call(c, MSIV_OP_SHUTDOWN, NULL, -1, NULL);
}

MSIV_API int
msiv_log_level(struct msiv_conn *c, unsigned int level)
{
	struct msiv_log_level_req rq = { .level = level };
	struct msiv_log_level_rep rp;
	int r;

	if ((r = msiv_call(c, MSIV_OP_LOG_LEVEL, &rq, -1, &rp)) < 0)
		return r;
	/* An int can hold it: the daemon sends one of four levels. */
	return rp.previous <= MSIV_LOG_DEBUG ? (int)rp.previous : -EPROTO;
}

MSIV_API int
msiv_reload(struct msiv_conn *c, char *msg, size_t msglen)
{
	struct msiv_reload_rep rp;
	const char *text;
	size_t len;
	int r;

	memset(&rp, 0, sizeof(rp));
	r = msiv_call(c, MSIV_OP_RELOAD, NULL, -1, &rp);
	if (msg == NULL || msglen == 0)
		return r;
	/* Its account, or why it was refused (the reason of the error
	 * reply). */
	text = r == 0 ? rp.message : msiv_last_reason(c);
	len = strnlen(text, r == 0 ? sizeof(rp.message) - 1 : MSIV_REASON_MAX);
	if (len >= msglen)
		len = msglen - 1;
	memcpy(msg, text, len);
	msg[len] = '\0';
	return r;
}

/* MSIV_0.4 */

MSIV_API int
msiv_restart(struct msiv_conn *c, struct msiv_restart_info *info,
    size_t size)
{
	struct msiv_restart_rep rp;
	struct msiv_restart_info in;
	int r;

	/* The reply comes from the new msivd (msiv_call_fds waits for it
	 * long enough); a refusal's reason is kept as any other. */
	if ((r = msiv_info_size(size, MSIV_RESTART_INFO_V4)) < 0 ||
	    (r = msiv_call(c, MSIV_OP_RESTART, NULL, -1, &rp)) < 0)
		return r;
	memset(&in, 0, sizeof(in));
	in.pid = rp.pid;
	in.blackout_us = rp.blackout_us;
	in.sessions = rp.sessions;
	in.vfuncs = rp.vfuncs;
	in.fds = rp.fds;
	in.format = rp.format;
	msiv_name_get(in.version, rp.version_str);
	msiv_name_get(in.old_version, rp.old_version);
	msiv_info_put(info, size, &in, sizeof(in));
	return 0;
}
