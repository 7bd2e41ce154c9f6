/*
 * Handover: msivd hands everything it holds to a newly executed msivd
 * (msivd(8), RESTART AND UPGRADE), asked by an admin's RESTART (msivctl
 * restart) or by SIGUSR2. Nothing is closed on the way: not a device (a
 * VFIO device closed by its last user is reset, and its MSI-X disabled),
 * not a trigger or a target, not a client's connection.
 *
 * One owner at every instant. The cut-over is this sequence:
 *
 *  0. The old msivd has the spawner (spawn.c) execute the new binary,
 *     and serves on while it starts. The new one opens its store and
 *     says hello (the newest state format it reads).
 *  1. The old one quiesces, in one callback of its event loop, so no
 *     request is read from here on: the turn's changes are committed and
 *     their replies queued and sent, and its delivery loop parks
 *     (deliver_park): the writes it had decided are done. As each vector
 *     is written into the state, the io_uring loop's trigger is read one
 *     last time (deliver_handover_skip), its interrupts decided under the
 *     slot's lock; from here no trigger is read.
 *  2. It hands over: the state (below), then the fds, over the handover
 *     socket. The new msivd adopts the devices, restores the vfuncs from
 *     the store and puts back their exact state, takes the sessions and
 *     the listening socket, and says ready; the old one tells the service
 *     manager the new MAINPID, says go, and exits without closing
 *     anything (_exit: no teardown).
 *  3. The new msivd arms every trigger (deliver_start). An interrupt
 *     raised since step 1 waits in its trigger's counter, which only the
 *     new loop reads.
 *
 * A refusal or a failure before go (the new binary does not know the
 * state's format, cannot start, times out, exits) leaves the old msivd
 * serving: it unparks its loop and answers the RESTART with the reason.
 * Nothing of the old one's was changed. The new one exits without
 * closing what it was handed (its copies only).
 *
 * Rules 4 and 6 (msiv-protocol(7)) across the cut-over: a MASK or a
 * RETARGET is a request, and requests are read by one process at a time,
 * each before the other starts or after it stops; the one the old msivd
 * answered had its effect, under the slot lock, before the loop parked
 * (so nothing was delivered to a masked vector or an old target after
 * its acknowledgement); the new msivd decides every interrupt it reads
 * by the state it was handed, which holds every acknowledged change.
 *
 * Exact pending: the vectors are handed over as they are (pending bit,
 * counters, message, mask) rather than assumed pending as after a plain
 * restart. The io_uring loop delivers without reading (doc/delivery.md),
 * so its triggers hold signals it has delivered: its last read takes
 * them, and so the new loop finds in each trigger only interrupts raised
 * since, and starts on the hot path: nothing is delivered twice. (What
 * a trigger holds that the old loop accounted for but did not read, an
 * epoll loop's skip, is handed over as signals the new loop skips.)
 *
 * The state (format HANDOVER_FORMAT, native byte order: the same
 * machine) is: header; server (listening socket, counters); devices
 * (each backend's own state and every slot's trigger); vfuncs (each
 * vector's state, target and routing); sessions (identity, rights,
 * queued replies); end. Fds travel after it in batches of at most
 * HO_FDS_BATCH (SCM_RIGHTS, as systemd's fd store takes them).
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "deliver.h"
#include "device.h"
#include "dispatch.h"
#include "fdpass.h"
#include "handover.h"
#include "hostate.h"
#include "log.h"
#include "proto.h"
#include "sdnotify.h"
#include "server.h"
#include "session.h"
#include "spawn.h"
#include "store.h"
#include "vfunc.h"

#define HO_END         0x444e4548U /* "HEND" */
#define HO_FDS_BATCH   253u        /* SCM_MAX_FD */
#define HO_CHUNK       (64u * 1024u)

#define HO_HELLO_MS    30000       /* the new msivd starts */
#define HO_READY_MS    120000      /* it restores what it was handed */
#define HO_IO_MS       10000       /* one packet */

/* --- the handover socket ------------------------------------------------ */

static void
ho_timeouts(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Send a header, then len bytes of data after it in the same packet. */
static int
ho_send(int fd, const struct ho_hdr *h, const void *data, size_t len,
    const int *fds, size_t nfds)
{
	struct iovec iov[2] = {
		{ (void *)(uintptr_t)h, sizeof(*h) },
		{ (void *)(uintptr_t)data, len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n = fdpass_sendmsg(fd, &mh, fds, nfds, 0);

	if (n == (ssize_t)(sizeof(*h) + len))
		return 0;
	return n == -EAGAIN ? -ETIMEDOUT : n < 0 ? (int)n : -EIO;
}

static int
ho_send_msg(int fd, enum ho_msg msg, const char *reason)
{
	struct ho_hdr h = { .magic = HO_MAGIC, .msg = msg,
	    .format = HANDOVER_FORMAT };

	snprintf(h.version, sizeof(h.version), "%s", PACKAGE_VERSION);
	if (reason != NULL)
		snprintf(h.reason, sizeof(h.reason), "%s", reason);
	return ho_send(fd, &h, NULL, 0, NULL, 0);
}

/* Receive a header and up to cap bytes after it, and its fds (up to
 * HO_FDS_BATCH, close-on-exec). Returns the data length, or -errno
 * (-EPIPE: closed; -ETIMEDOUT). */
static ssize_t
ho_recv(int fd, struct ho_hdr *h, void *data, size_t cap, int *fds,
    size_t *nfds)
{
	union {
		char buf[CMSG_SPACE(HO_FDS_BATCH * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov[2] = { { h, sizeof(*h) }, { data, cap } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = cap ? 2 : 1,
	    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (n == 0)
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (fds == NULL || *nfds + k > HO_FDS_BATCH) {
			int tmp[HO_FDS_BATCH];

			memcpy(tmp, CMSG_DATA(c), k * sizeof(int));
			fdpass_close(tmp, k);
			continue;
		}
		memcpy(fds + *nfds, CMSG_DATA(c), k * sizeof(int));
		*nfds += k;
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n < sizeof(*h) || h->magic != HO_MAGIC) {
		if (fds != NULL)
			fdpass_close(fds, *nfds);
		*nfds = 0;
		return -EBADMSG;
	}
	h->version[sizeof(h->version) - 1] = '\0';
	h->reason[sizeof(h->reason) - 1] = '\0';
	return n - (ssize_t)sizeof(*h);
}

/* --- the old msivd ------------------------------------------------------ */

static struct {
	int active;
	int fd;                /* our end of the handover socket */
	pid_t pid;             /* the new msivd */
	struct event *ev;      /* its hello */
	uint64_t session;      /* who asked (0: SIGUSR2) */
	struct msiv_hdr rq;
} ho_old = { .fd = -1 };

/* The RESTART's answer from this process: a refusal, with its reason. */
static void
ho_old_refused(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ho_old_refused(int status, const char *fmt, ...)
{
	char why[MSIV_REASON_MAX];
	struct session *s;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warnx("restart: %s; this msivd (pid %d) serves on", why,
	    (int)getpid());
	TAILQ_FOREACH(s, &sessions, entry)
		if (s->id == ho_old.session && !s->dead)
			dispatch_reply_later(s, &ho_old.rq, status, NULL, 0, why);
	if (ho_old.ev != NULL)
		event_free(ho_old.ev);
	if (ho_old.fd >= 0)
		close(ho_old.fd);
	ho_old.ev = NULL;
	ho_old.fd = -1;
	ho_old.active = 0;
}

/* What the devices, vfuncs and sessions are, into b (the loop parked). */
static void
ho_write_state(struct ho_buf *b, uint64_t t0_us)
{
	struct device *dev;
	struct vfunc *vf;
	struct session *s;
	struct deliver_stats st;

	ho_put_u32(b, HO_MAGIC);
	ho_put_u32(b, HANDOVER_FORMAT);
	ho_put_u64(b, t0_us);
	ho_put_u64(b, ho_old.session);
	ho_put(b, &ho_old.rq, sizeof(ho_old.rq));
	server_handover_save(b);
	deliver_get_stats(&st);
	ho_put_u64(b, st.interrupts);
	ho_put_u64(b, st.delivered);
	ho_put_u64(b, st.dropped);

	ho_put_u32(b, device_count());
	TAILQ_FOREACH(dev, &devices, entry)
		device_handover_save(dev, b);
	ho_put_u32(b, vfunc_count());
	TAILQ_FOREACH(vf, &vfuncs, entry)
		vfunc_handover_save(vf, b);
	/* An ended session is off the list already (session_end). */
	ho_put_u32(b, session_count());
	TAILQ_FOREACH(s, &sessions, entry)
		server_session_save(s, b);
	ho_put_u32(b, HO_END);
}

/* Send the state and its fds; 0 or -errno. */
static int
ho_send_state(int fd, const struct ho_buf *b)
{
	struct ho_hdr h = { .magic = HO_MAGIC, .msg = HO_STATE,
	    .format = HANDOVER_FORMAT, .nfds = b->nfds, .len = b->len };
	int r;

	snprintf(h.version, sizeof(h.version), "%s", PACKAGE_VERSION);
	if ((r = ho_send(fd, &h, NULL, 0, NULL, 0)) < 0)
		return r;
	for (size_t off = 0; off < b->len; off += HO_CHUNK) {
		size_t n = b->len - off < HO_CHUNK ? b->len - off : HO_CHUNK;

		h.msg = HO_DATA;
		h.len = n;
		h.nfds = 0;
		if ((r = ho_send(fd, &h, b->p + off, n, NULL, 0)) < 0)
			return r;
	}
	for (uint32_t off = 0; off < b->nfds; off += HO_FDS_BATCH) {
		uint32_t n = b->nfds - off < HO_FDS_BATCH ? b->nfds - off :
		    HO_FDS_BATCH;

		h.msg = HO_FDS;
		h.len = 0;
		h.nfds = n;
		if ((r = ho_send(fd, &h, NULL, 0, b->fds + off, n)) < 0)
			return r;
	}
	return 0;
}

/*
 * Steps 1 and 2, in this one callback: quiesce, hand over, and either
 * exit (go) or resume serving (refused, failed).
 */
static void
ho_old_cut_over(void)
{
	struct ho_buf b = { 0 };
	struct ho_hdr h;
	uint64_t t0 = clock_now_us();
	size_t nfds;
	ssize_t n;
	char note[64];
	int r;

	/* 1. Quiesce: the turn's changes committed, their replies sent;
	 * then the loop parks. */
	vfunc_flush_behind();
	session_commit_cb(store_flush(), NULL);
	server_handover_flush();
	deliver_park();
	/* 2. Hand over. */
	ho_write_state(&b, t0);
	if (b.err != 0) {
		deliver_unpark();
		free(b.p);
		free(b.fds);
		ho_old_refused(-ENOMEM, "cannot write the state: %s",
		    strerror(-b.err));
		return;
	}
	ho_timeouts(ho_old.fd, HO_IO_MS);
	r = ho_send_state(ho_old.fd, &b);
	free(b.p);
	free(b.fds);
	if (r < 0) {
		deliver_unpark();
		ho_old_refused(-ECANCELED, "cannot send the state to the new msivd "
		    "(pid %d): %s", (int)ho_old.pid, strerror(-r));
		return;
	}
	ho_timeouts(ho_old.fd, HO_READY_MS);
	n = ho_recv(ho_old.fd, &h, NULL, 0, NULL, &nfds);
	if (n < 0 || h.msg != HO_READY) {
		deliver_unpark();
		(void)ho_send_msg(ho_old.fd, HO_ABORT, NULL);
		if (n >= 0 && h.msg == HO_REFUSE)
			ho_old_refused(-ECANCELED, "msivd %s (pid %d) refused: %s",
			    h.version, (int)ho_old.pid, h.reason);
		else
			ho_old_refused(-ECANCELED, "the new "
			    "msivd (pid %d) did not take over: %s",
			    (int)ho_old.pid, n == -EPIPE ? "it exited (its "
			    "log says why)" : n < 0 ? strerror((int)-n) :
			    "unexpected message");
		return;
	}
	/* 3 is the new msivd's. We are gone from here: the service
	 * manager's main process is the new one. */
	snprintf(note, sizeof(note), "MAINPID=%d", (int)ho_old.pid);
	sdn_notify(note);
	if ((r = ho_send_msg(ho_old.fd, HO_GO, NULL)) < 0)
		log_warnx("restart: cannot say go (%s): the new msivd takes "
		    "over once it sees this one gone", strerror(-r));
	log_info("restart: handed over to msivd %s (pid %d) in %llu us; "
	    "exiting", h.version, (int)ho_old.pid,
	    (unsigned long long)(clock_now_us() - t0));
	_exit(0);
}

static void
ho_old_hello(evutil_socket_t fd, short what, void *arg)
{
	struct ho_hdr h;
	size_t nfds;
	ssize_t n;

	(void)arg;
	if (what & EV_TIMEOUT) {
		ho_old_refused(-ECANCELED, "the new msivd (pid %d) did not "
		    "start within %d s", (int)ho_old.pid, HO_HELLO_MS / 1000);
		return;
	}
	n = ho_recv(fd, &h, NULL, 0, NULL, &nfds);
	if (n == -ETIMEDOUT)
		return; /* spurious wakeup */
	if (n < 0 || h.msg != HO_HELLO) {
		ho_old_refused(-ECANCELED, "the new msivd "
		    "(pid %d, %s) exited before taking over: its log says why",
		    (int)ho_old.pid, spawn_exe());
		return;
	}
	if (h.format < HANDOVER_FORMAT) {
		(void)ho_send_msg(fd, HO_ABORT, NULL);
		ho_old_refused(-EPROTONOSUPPORT, "msivd %s (%s) reads handover "
		    "state up to format %u; this one's is %u (msivd %s)",
		    h.version, spawn_exe(), h.format, HANDOVER_FORMAT,
		    PACKAGE_VERSION);
		return;
	}
	event_free(ho_old.ev);
	ho_old.ev = NULL;
	ho_old_cut_over();
}

int
handover_start(struct session *s, const struct msiv_hdr *rq, char *why,
    size_t len)
{
	struct timeval tv = { HO_HELLO_MS / 1000, 0 };
	int r;

	if (ho_old.active) {
		snprintf(why, len, "a restart is in progress already (new msivd "
		    "pid %d)", (int)ho_old.pid);
		return -EBUSY;
	}
	if ((r = spawn_new(&ho_old.fd, &ho_old.pid)) < 0) {
		snprintf(why, len, "cannot start %s: %s", spawn_exe(),
		    r == -ENOTCONN ? "no spawner (msivd(8), RESTART AND "
		    "UPGRADE)" : strerror(-r));
		return r;
	}
	ho_old.ev = event_new(server_base(), ho_old.fd, EV_READ | EV_PERSIST,
	    ho_old_hello, NULL);
	if (ho_old.ev == NULL || event_add(ho_old.ev, &tv) < 0) {
		if (ho_old.ev != NULL)
			event_free(ho_old.ev);
		ho_old.ev = NULL;
		close(ho_old.fd);
		ho_old.fd = -1;
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	ho_old.active = 1;
	ho_old.session = s != NULL ? s->id : 0;
	if (rq != NULL)
		ho_old.rq = *rq;
	if (s != NULL)
		log_info("restart asked by session %llu (pid %d, uid %u): "
		    "starting %s (pid %d)", (unsigned long long)s->id,
		    (int)s->pid, (unsigned)s->uid, spawn_exe(),
		    (int)ho_old.pid);
	else
		log_info("restart (SIGUSR2): starting %s (pid %d)", spawn_exe(),
		    (int)ho_old.pid);
	return 0;
}

/* --- the new msivd ------------------------------------------------------ */

static struct {
	int fd;
	struct ho_rd rd;
	uint8_t *state;
	uint64_t t0_us;
	uint64_t asker;
	struct msiv_hdr rq;
	char old_version[MSIV_NAME_MAX];
	uint32_t format, nsessions, nvfuncs, nfds;
} ho_new = { .fd = -1 };

int
handover_fd(void)
{
	const char *e = getenv(SPAWN_ENV);
	char *end;
	long fd;

	if (e == NULL)
		return -1;
	fd = strtol(e, &end, 10);
	unsetenv(SPAWN_ENV);
	if (*e == '\0' || *end != '\0' || fd < 3 || fd > 65535) {
		log_warnx("%s=%s is not an fd: a plain start", SPAWN_ENV, e);
		return -1;
	}
	return (int)fd;
}

/* Refuse: tell the old msivd (which serves on) and the log. */
static int
ho_new_refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
ho_new_refuse(const char *fmt, ...)
{
	char why[MSIV_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_errx("handover refused: %s; msivd %s serves on", why,
	    ho_new.old_version);
	if (ho_new.fd >= 0)
		(void)ho_send_msg(ho_new.fd, HO_REFUSE, why);
	return -1;
}

void
handover_refuse(int fd, const char *why)
{
	ho_new.fd = fd;
	(void)ho_new_refuse("%s", why);
	close(fd);
	ho_new.fd = -1;
}

/* Receive the state and every fd; 0 or -errno. */
static int
ho_new_recv_state(int fd)
{
	struct ho_hdr h;
	size_t nfds, got = 0;
	ssize_t n;
	uint64_t len;
	uint32_t want;

	ho_timeouts(fd, HO_READY_MS);
	if ((n = ho_recv(fd, &h, NULL, 0, NULL, &nfds)) < 0)
		return (int)n;
	snprintf(ho_new.old_version, sizeof(ho_new.old_version), "%s",
	    h.version);
	if (h.msg == HO_ABORT)
		return -ECANCELED;
	if (h.msg != HO_STATE)
		return -EPROTO;
	ho_new.format = h.format;
	if (h.format > HANDOVER_FORMAT || h.format == 0)
		return -EPROTONOSUPPORT;
	if (h.len > HOSTATE_MAX || h.nfds > (1u << 24))
		return -EFBIG;
	len = h.len;
	want = h.nfds;
	ho_timeouts(fd, HO_IO_MS);
	if ((ho_new.state = malloc(len + 1)) == NULL ||
	    (ho_new.rd.fds = malloc(((size_t)want + 1) * sizeof(int))) ==
	    NULL)
		return -ENOMEM;
	while (got < len) {
		n = ho_recv(fd, &h, ho_new.state + got, len - got, NULL,
		    &nfds);
		if (n < 0)
			return (int)n;
		if (h.msg != HO_DATA || (uint64_t)n != h.len)
			return -EPROTO;
		got += (size_t)n;
	}
	while (ho_new.rd.nfds < want) {
		int fds[HO_FDS_BATCH];

		n = ho_recv(fd, &h, NULL, 0, fds, &nfds);
		if (n < 0)
			return (int)n;
		if (h.msg != HO_FDS || nfds != h.nfds ||
		    ho_new.rd.nfds + nfds > want) {
			fdpass_close(fds, nfds);
			return -EPROTO;
		}
		memcpy(ho_new.rd.fds + ho_new.rd.nfds, fds, nfds * sizeof(int));
		ho_new.rd.nfds += (uint32_t)nfds;
	}
	ho_new.rd.p = ho_new.state;
	ho_new.rd.len = len;
	ho_new.nfds = want;
	return 0;
}

int
handover_receive(int fd, const struct conf *conf)
{
	struct ho_rd *r = &ho_new.rd;
	struct ho_hdr h = { .magic = HO_MAGIC, .msg = HO_HELLO,
	    .format = HANDOVER_FORMAT };
	uint64_t interrupts, delivered, dropped;
	uint32_t n;
	int e;

	ho_new.fd = fd;
	snprintf(ho_new.old_version, sizeof(ho_new.old_version), "%s", "?");
	snprintf(h.version, sizeof(h.version), "%s", PACKAGE_VERSION);
	ho_timeouts(fd, HO_IO_MS);
	if ((e = ho_send(fd, &h, NULL, 0, NULL, 0)) < 0) {
		log_errx("handover: cannot say hello: %s", strerror(-e));
		return -1;
	}
	if ((e = ho_new_recv_state(fd)) < 0) {
		if (e == -ECANCELED) {
			log_errx("handover: the old msivd %s called it off",
			    ho_new.old_version);
			return -1;
		}
		if (e == -EPROTONOSUPPORT)
			return ho_new_refuse("msivd %s reads handover state up "
			    "to format %u; msivd %s's is format %u (newer): "
			    "stop it and start this one instead",
			    PACKAGE_VERSION, HANDOVER_FORMAT,
			    ho_new.old_version, ho_new.format);
		return ho_new_refuse("cannot receive the state: %s",
		    strerror(-e));
	}
	if (ho_get_u32(r) != HO_MAGIC || ho_get_u32(r) != ho_new.format)
		return ho_new_refuse("the state's header is not msivd's");
	ho_new.t0_us = ho_get_u64(r);
	ho_new.asker = ho_get_u64(r);
	ho_get(r, &ho_new.rq, sizeof(ho_new.rq));
	if ((e = server_handover_adopt(r, conf)) < 0)
		return ho_new_refuse("%s", ho_reason());
	interrupts = ho_get_u64(r);
	delivered = ho_get_u64(r);
	dropped = ho_get_u64(r);
	deliver_stat_carry(interrupts, delivered, dropped);
	n = ho_get_u32(r);
	for (uint32_t i = 0; i < n && r->err == 0; i++)
		if ((e = device_handover_adopt(r)) < 0)
			return ho_new_refuse("%s", ho_reason());
	if (r->err != 0)
		return ho_new_refuse("the state is cut short (devices)");
	return 0;
}

int
handover_finish(void)
{
	struct ho_rd *r = &ho_new.rd;
	struct ho_hdr h;
	size_t nfds;
	ssize_t n;
	uint32_t nv, ns;
	int e;

	nv = ho_get_u32(r);
	for (uint32_t i = 0; i < nv && r->err == 0; i++)
		if ((e = vfunc_handover_adopt(r)) < 0)
			return ho_new_refuse("%s", ho_reason());
	ns = ho_get_u32(r);
	for (uint32_t i = 0; i < ns && r->err == 0; i++)
		if ((e = server_session_adopt(r)) < 0)
			return ho_new_refuse("%s", ho_reason());
	if (r->err != 0 || ho_get_u32(r) != HO_END || r->off != r->len)
		return ho_new_refuse("the state is cut short or has bytes "
		    "after its end");
	for (uint32_t i = 0; i < r->nfds; i++)
		if (r->fds[i] >= 0)
			return ho_new_refuse("fd %u of the state is not used",
			    i);
	/* The sessions' rights and tenants, as this configuration says. */
	server_reconfigured();
	ho_new.nvfuncs = nv;
	ho_new.nsessions = ns;
	if ((e = ho_send_msg(ho_new.fd, HO_READY, NULL)) < 0) {
		log_errx("handover: cannot say ready: %s", strerror(-e));
		return -1;
	}
	/* No time limit: the old msivd either says go (and exits), calls it
	 * off (it waited for ready too long), or is gone (EOF). Giving up
	 * here while it says go would leave no msivd at all. */
	ho_timeouts(ho_new.fd, 0);
	n = ho_recv(ho_new.fd, &h, NULL, 0, NULL, &nfds);
	if (n >= 0 && h.msg == HO_ABORT) {
		log_errx("handover: the old msivd called it off");
		return -1;
	}
	/* Go; or the old one is gone without a word (it exits right after
	 * its go, and a dead one holds nothing): either way ours now. */
	if (n < 0 && n != -EPIPE && n != -ECONNRESET) {
		log_errx("handover: no go from the old msivd: %s",
		    strerror((int)-n));
		return -1;
	}
	close(ho_new.fd);
	ho_new.fd = -1;
	free(ho_new.state);
	free(r->fds);
	ho_new.state = NULL;
	r->fds = NULL;
	return 0;
}

void
handover_done(void)
{
	struct msiv_restart_rep rp;
	struct session *s;
	uint64_t now = clock_now_us();

	memset(&rp, 0, sizeof(rp));
	rp.pid = (uint32_t)getpid();
	rp.blackout_us = now - ho_new.t0_us > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)(now - ho_new.t0_us);
	rp.sessions = ho_new.nsessions;
	rp.vfuncs = ho_new.nvfuncs;
	rp.fds = ho_new.nfds;
	rp.format = ho_new.format;
	snprintf(rp.version_str, sizeof(rp.version_str), "%s",
	    PACKAGE_VERSION);
	memcpy(rp.old_version, ho_new.old_version, sizeof(rp.old_version));
	log_info("restart: took over from msivd %s: %u session(s), %u "
	    "vfunc(s), %u fds; no trigger read for %u us", rp.old_version,
	    rp.sessions, rp.vfuncs, rp.fds, rp.blackout_us);
	if (ho_new.asker == 0)
		return;
	TAILQ_FOREACH(s, &sessions, entry)
		if (s->id == ho_new.asker && !s->dead)
			dispatch_reply_later(s, &ho_new.rq, 0, &rp, sizeof(rp),
			    NULL);
}
