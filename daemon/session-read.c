/*
 * Reading a session's requests (msiv-protocol(7), msivd(8)): a burst per
 * turn of the event loop, each request dispatched, and so answered,
 * before the next. Non-admin sessions are held to max_rate requests per
 * second (over it, the daemon stops reading the session until its credit
 * is back: the client slows down, nothing is lost).
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <sys/socket.h>

#include "clock.h"
#include "dispatch.h"
#include "fdpass.h"
#include "log.h"
#include "session-read.h"

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

static const struct conf *rd_conf;

void
session_read_init(const struct conf *conf)
{
	rd_conf = conf;
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
	uint64_t now, rate = rd_conf->max_rate;
	struct timeval tv = { 0, 10000 };

	if (rate == 0 || (s->rights & MSIV_RIGHT_ADMIN))
		return 1;
	now = clock_now_ms();
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
		    rd_conf->max_rate);
	}
	event_del(s->rev);
	evtimer_add(s->pause_ev, &tv);
	return 0;
}

void
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
	if (rd_conf->max_rate != 0 && !(s->rights & MSIV_RIGHT_ADMIN))
		s->rate_credit -= 1000;
	dispatch_request(s, m->buf, (size_t)m->len, m->fds, m->nfds,
	    m->fderr);
	return 0;
}

/*
 * Read up to SESSION_READ_BURST requests, FDPASS_BATCH_MAX per recvmmsg
 * (pipelined requests cost one system call per batch, not one each), as
 * far as the session's rate credit goes. Each is dispatched, and so
 * answered, before the next.
 */
void
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
		if (rd_conf->max_rate != 0 &&
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

