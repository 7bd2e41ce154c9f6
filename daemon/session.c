/*
 * Sessions (msiv-protocol(7), msivd(8)): the list of connected clients,
 * the vfuncs each holds, what is sent to them (replies and asynchronous
 * events, queued with a cap: a client that never reads is disconnected,
 * others are not affected), the packets held until the turn's commit, and
 * a session's end. Who may connect is peer.c's and server.c's; what a
 * session sends is read in session-read.c and answered by dispatch.c.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fdpass.h"
#include "hostate.h"
#include "log.h"
#include "proto.h"
#include "session.h"
#include "store.h"

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

static struct event_base *ses_base;
static const struct conf *ses_conf;
static uint32_t ses_n;

void
session_init(struct event_base *base, const struct conf *conf)
{
	ses_base = base;
	ses_conf = conf;
}

void
session_insert(struct session *s)
{
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	ses_n++;
}

void
session_kill(struct session *s, const char *why)
{
	session_end(s, why, 0);
}

/*
 * The session ends because what it is sent cannot be queued: in the middle
 * of a handler, which may still be using one of its vfuncs (a RESET whose
 * MSG_CHANGED overflows the queue; found by the fuzz target). Its vfuncs
 * are released once the callback is done (session_free_cb), not under the
 * handler.
 */
static void
session_fail(struct session *s, const char *why)
{
	s->release_later = 1;
	session_end(s, why, 0);
}

uint32_t
session_count(void)
{
	return ses_n;
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
session_resync(uint64_t id, struct session *owner)
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

/* --- output ----------------------------------------------------------------*/

int
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

	if (s->outq_len >= ses_conf->max_queued) {
		fdpass_close(m->fds, m->nfds);
		free(m);
		session_fail(s, "too many unread replies and events");
		return;
	}
	TAILQ_INSERT_TAIL(&s->outq, m, entry);
	s->outq_len++;
	if (s->outq_len == 1 && (r = session_flush(s)) < 0) {
		errno = -r;
		log_warn("session %llu: send", (unsigned long long)s->id);
		session_fail(s, "send failed");
	}
}

/*
 * Send one packet; fds[] pass to the session (closed once sent). durable:
 * a reply to a change in the turn's transaction, held until the commit;
 * vfunc is what it changed.
 */
void
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
		session_fail(s, "out of memory");
		return;
	}
	if (!durable && s->nheld == 0) {
		session_queue(s, m);
		return;
	}
	if (s->nheld >= ses_conf->max_queued || (hd = calloc(1, sizeof(*hd))) ==
	    NULL) {
		fdpass_close(m->fds, m->nfds);
		free(m);
		session_fail(s, "too many held replies");
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
void
session_commit_cb(int status, void *arg)
{
	struct held *hd;

	(void)arg;
	if (status < 0) {
		TAILQ_FOREACH(hd, &held_list, entry)
			if (hd->durable && hd->vfunc != 0)
				session_resync(hd->vfunc, hd->s);
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

void
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

/* --- sessions ----------------------------------------------------------------*/

/* An ended session's vfuncs: released (orphan_grace 0) or orphaned. */
static void
session_release_vfuncs(struct session *s, int shutdown)
{
	struct vfunc *vf;

	while ((vf = TAILQ_FIRST(&s->vfuncs)) != NULL) {
		session_drop_vfunc(vf);
		if (!shutdown && ses_conf->orphan_grace == 0)
			vfunc_close(vf, true);
		else
			vfunc_orphan(vf, clock_now_ms());
	}
}

static void
session_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct outmsg *m;

	(void)fd;
	(void)what;
	session_release_vfuncs(s, 0); /* session_fail()'s, if any */
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
 * returns; after session_fail(), once the callback is done); at shutdown
 * they stay in the store for the next start. The memory goes once the
 * current callback is done.
 */
void
session_end(struct session *s, const char *why, int shutdown)
{
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
	if (!s->release_later)
		session_release_vfuncs(s, shutdown);
	TAILQ_FOREACH(hd, &held_list, entry)
		if (hd->s == s)
			hd->s = NULL;
	s->nheld = 0;
	TAILQ_REMOVE(&sessions, s, entry);
	ses_n--;
	if (event_base_once(ses_base, -1, EV_TIMEOUT, session_free_cb, s,
	    NULL) < 0)
		fatalx("cannot schedule session release");
}


/* --- handover (handover.c) ------------------------------------------------ */

/* What is queued for the session (its socket was full), in order. */
void
session_outq_save(const struct session *s, struct ho_buf *b)
{
	const struct outmsg *m;

	ho_put_u32(b, s->outq_len);
	TAILQ_FOREACH(m, &s->outq, entry) {
		ho_put_u32(b, (uint32_t)m->len);
		ho_put(b, m->buf, m->len);
		ho_put_u32(b, (uint32_t)m->nfds);
		for (size_t i = 0; i < m->nfds; i++)
			ho_put_fd(b, m->fds[i]);
	}
}

int
session_outq_adopt(struct session *s, struct ho_rd *r)
{
	uint32_t n = ho_get_u32(r);

	if (n > ses_conf->max_queued + 1)
		return ho_fail("session %llu: %u queued packets",
		    (unsigned long long)s->id, n);
	for (uint32_t i = 0; i < n && r->err == 0; i++) {
		uint32_t len = ho_get_u32(r), nfds;
		struct outmsg *m;

		if (len < sizeof(struct msiv_hdr) || len > MSIV_MSG_MAX)
			return ho_fail("session %llu: a queued packet of %u "
			    "bytes", (unsigned long long)s->id, len);
		if ((m = calloc(1, sizeof(*m) + len)) == NULL)
			return -ENOMEM;
		m->len = len;
		ho_get(r, m->buf, len);
		nfds = ho_get_u32(r);
		if (nfds > MSIV_FDS_MAX) {
			free(m);
			return ho_fail("session %llu: a queued packet with %u "
			    "fds", (unsigned long long)s->id, nfds);
		}
		for (uint32_t k = 0; k < nfds; k++)
			m->fds[m->nfds++] = ho_get_fd(r);
		TAILQ_INSERT_TAIL(&s->outq, m, entry);
		s->outq_len++;
	}
	if (s->outq_len > 0)
		event_add(s->wev, NULL);
	return r->err != 0 ? ho_fail("the state is cut short (session "
	    "%llu)", (unsigned long long)s->id) : 0;
}
