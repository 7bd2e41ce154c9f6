/*
 * Integration test: one tenant cannot starve the others (issue 15). The
 * real msivd; a non-admin session keeps FLOOD_DEPTH requests in flight
 * (MASK, QUERY, UNMASK, QUERY, ...: the mask state is written behind, so
 * none of them waits for a commit), while another tenant, also not an
 * admin, says HELLO, opens a vfunc and closes it, ROUNDS times. Each of
 * those replies waits for the store's group commit (it changed durable
 * state). The test counts the flooder's replies that arrive between
 * sending such a request and receiving its reply, and checks the count
 * against a bound (FLOOD_BOUND, below) whatever the machine's speed:
 * nothing is timed.
 *
 * Both sessions are driven from this one process with poll, so the
 * flooder has exactly FLOOD_DEPTH requests in flight whenever the other
 * tenant's request is sent. The sessions are non-admin because they
 * connect with another effective uid (SO_PEERCRED records it at
 * connect); needs root to switch, skipped otherwise.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdpass.h"
#include "harness.h"
#include "proto.h"
#include "tap.h"

#define UID_FLOOD 4301u
#define UID_OTHER 4302u

#define FLOOD_DEPTH 64 /* the flooder's requests in flight */
#define READ_BURST  FDPASS_BATCH_MAX /* = SESSION_READ_BURST, daemon/session-read.c */
#define ROUNDS      30 /* HELLO, VFUNC_OPEN, VFUNC_CLOSE each */

/*
 * The bound, in flooder replies. msivd reads the flooder, READ_BURST
 * requests at most each time, between the other tenant's send and its
 * reply at most:
 *  - once in the loop turn under way when the request arrives (that
 *    turn's poll came before it, so it cannot read the other session);
 *  - once in the next turn, which reads the other session (libevent
 *    activates each readable session once per turn), before or after
 *    it; the commit runs at the end of that turn and the held reply goes
 *    out;
 *  - HELLO, the first request of a new connection: once more, as the
 *    turn that accepts the connection cannot read it yet.
 * The flooder replies counted answer those requests or requests already
 * in flight when the other tenant's was sent (at most FLOOD_DEPTH), plus
 * at most one reply taken after the other tenant's went out but before
 * it was seen (its session is looked at before each flooder reply).
 *
 * Before issue 15 the commit ran at a lower priority than the sessions,
 * so it waited until the flooder happened to be unreadable when the loop
 * polled: thousands to tens of thousands of replies on the project's
 * 2-core machine.
 */
#define FLOOD_BOUND(reads) ((reads) * READ_BURST + FLOOD_DEPTH + 1)

static struct h_daemon d;

static const char conf[] =
    "[msivd]\n"
    "socket_mode = 0666\n"
    "orphan_grace = 0\n"
    "[device sim0]\nbackend = sim\nslots = 256\n";

struct flood {
	int fd;
	uint64_t vf;
	uint32_t seq;      /* the next request's */
	uint32_t inflight;
	uint64_t replies;
	uint64_t failed;   /* replies with an error status */
};

/* A raw connection made with another effective uid and gid: not an
 * admin (the daemon runs as root, and there is no admin_group). */
static int
connect_as(uid_t uid)
{
	int fd;

	if (setegid((gid_t)uid) < 0 || seteuid(uid) < 0)
		tap_bail("seteuid");
	fd = h_raw_connect(&d);
	if (seteuid(0) < 0 || setegid(0) < 0)
		tap_bail("seteuid back to root");
	if (fd < 0)
		tap_bail("connect");
	return fd;
}

static void
send_req(int fd, unsigned int op, uint32_t seq, const void *req,
    const int *fds, size_t nfds)
{
	const struct msiv_opinfo *oi = msiv_proto_op(op);
	unsigned char pkt[MSIV_MSG_MAX];
	struct msiv_hdr h = {
		.magic = MSIV_PROTO_MAGIC, .version = MSIV_PROTO_VERSION,
		.opcode = (uint16_t)op, .seq = seq, .len = oi->req_len,
	};

	msiv_hdr_encode(&h, pkt);
	memcpy(pkt + sizeof(h), req, oi->req_len);
	msiv_swap(oi->req_layout, pkt + sizeof(h), oi->req_len);
	if (fdpass_send(fd, pkt, sizeof(h) + oi->req_len, fds, nfds, 0) < 0)
		tap_bail("send");
}

/* One reply (events are skipped) without waiting: 1 and its header (and
 * payload, host order, into rep if it fits), or 0 if none is there. */
static int
recv_reply(int fd, struct msiv_hdr *h, void *rep, size_t cap)
{
	unsigned char pkt[MSIV_MSG_MAX];
	int fds[MSIV_FDS_MAX];
	size_t nfds;

	for (;;) {
		ssize_t n = fdpass_recv(fd, pkt, sizeof(pkt), fds, &nfds,
		    MSG_DONTWAIT);

		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			tap_bail("the daemon closed a connection");
		fdpass_close(fds, nfds);
		if (msiv_hdr_decode(pkt, (size_t)n, h) < 0)
			tap_bail("a malformed reply");
		if (h->flags & MSIV_F_EVENT)
			continue;
		if (rep != NULL && h->status == 0 && h->len <= cap) {
			const struct msiv_opinfo *oi = msiv_proto_op(h->opcode);

			memcpy(rep, pkt + sizeof(*h), h->len);
			if (oi != NULL && h->len == oi->rep_len)
				msiv_swap(oi->rep_layout, rep, h->len);
		}
		return 1;
	}
}

/* Wait for the reply to seq on fd (nothing else is in flight there). */
static int
call(int fd, unsigned int op, uint32_t seq, const void *req, const int *fds,
    size_t nfds, void *rep, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct msiv_hdr h;

	send_req(fd, op, seq, req, fds, nfds);
	for (;;) {
		if (poll(&p, 1, H_TIMEOUT_MS) != 1)
			tap_bail("no reply");
		if (recv_reply(fd, &h, rep, cap) == 0)
			continue;
		if (h.seq != seq)
			tap_bail("a reply out of order");
		return h.status;
	}
}

static void
flood_send(struct flood *f)
{
	static const unsigned int mix[4] = {
		MSIV_OP_VEC_MASK, MSIV_OP_VEC_QUERY, MSIV_OP_VEC_UNMASK,
		MSIV_OP_VEC_QUERY,
	};
	struct msiv_vec_req vq = { .vfunc = f->vf, .vector = 0 };

	while (f->inflight < FLOOD_DEPTH) {
		send_req(f->fd, mix[f->seq % 4], f->seq, &vq, NULL, 0);
		f->seq++;
		f->inflight++;
	}
}

/* Take one reply if there is one, and send a request in its place. */
static int
flood_one(struct flood *f)
{
	struct msiv_hdr h;

	if (recv_reply(f->fd, &h, NULL, 0) == 0)
		return 0;
	if (f->inflight == 0)
		tap_bail("a flooder reply to nothing");
	f->inflight--;
	f->replies++;
	f->failed += h.status != 0;
	flood_send(f);
	return 1;
}

static void
flood_start(struct flood *f)
{
	struct msiv_hello_req hq = { .version_min = MSIV_PROTO_VERSION,
	    .version_max = MSIV_PROTO_VERSION, .tenant = "flood" };
	struct msiv_hello_rep hr;
	struct msiv_vfunc_open_req oq = { .device = "sim0", .nvec = 1 };
	struct msiv_vfunc_open_rep orp;
	struct msiv_vec_setup_req sq = { .addr = 0xfee00000u, .data = 0x42 };
	int efd = h_eventfd();

	memset(f, 0, sizeof(*f));
	f->fd = connect_as(UID_FLOOD);
	f->seq = 1;
	memset(&hr, 0, sizeof(hr));
	ok(call(f->fd, MSIV_OP_HELLO, f->seq++, &hq, NULL, 0, &hr,
	    sizeof(hr)) == 0 && !(hr.rights & MSIV_RIGHT_ADMIN),
	    "the flooder is a tenant session, not an admin");
	if (call(f->fd, MSIV_OP_VFUNC_OPEN, f->seq++, &oq, NULL, 0, &orp,
	    sizeof(orp)) != 0)
		tap_bail("flooder: open");
	f->vf = sq.vfunc = orp.vfunc;
	if (call(f->fd, MSIV_OP_VEC_SETUP, f->seq++, &sq, &efd, 1, NULL, 0) != 0)
		tap_bail("flooder: set up");
	close(efd);
	flood_send(f);
}

/*
 * The other tenant's request, while the flood goes on: its status, and
 * in *passed how many flooder replies arrived before its reply.
 */
static int
other_call(struct flood *f, int fd, unsigned int op, uint32_t seq,
    const void *req, void *rep, size_t cap, uint64_t *passed)
{
	uint64_t before;
	struct msiv_hdr h;

	while (flood_one(f))
		continue;
	before = f->replies;
	send_req(fd, op, seq, req, NULL, 0);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = f->fd, .events = POLLIN },
			{ .fd = fd, .events = POLLIN },
		};

		/* The other session first, before each flooder reply. */
		if (recv_reply(fd, &h, rep, cap) == 1) {
			if (h.seq != seq)
				tap_bail("a reply out of order");
			*passed = f->replies - before;
			return h.status;
		}
		if (flood_one(f))
			continue;
		if (poll(p, 2, H_TIMEOUT_MS) < 1)
			tap_bail("neither session got a reply");
	}
}

static void
test_flood(void)
{
	static const char *const what[3] = { "HELLO", "VFUNC_OPEN",
	    "VFUNC_CLOSE" };
	static const int bound[3] = { FLOOD_BOUND(3), FLOOD_BOUND(2),
	    FLOOD_BOUND(2) };
	uint64_t worst[3] = { 0 }, total = 0, start;
	struct flood f;
	int bad = 0;

	flood_start(&f);
	/* The flood is under way before the first measured request. */
	while (f.replies < 4 * FLOOD_DEPTH) {
		struct pollfd p = { .fd = f.fd, .events = POLLIN };

		if (poll(&p, 1, H_TIMEOUT_MS) != 1)
			tap_bail("the flooder got no reply");
		while (flood_one(&f))
			continue;
	}
	start = f.replies;
	for (int i = 0; i < ROUNDS; i++) {
		struct msiv_hello_req hq = {
			.version_min = MSIV_PROTO_VERSION,
			.version_max = MSIV_PROTO_VERSION,
		};
		struct msiv_vfunc_open_req oq = { .device = "sim0", .nvec = 1 };
		struct msiv_vfunc_open_rep orp;
		struct msiv_vfunc_req cq = { 0 };
		int fd = connect_as(UID_OTHER);
		uint64_t n[3];

		snprintf(hq.tenant, sizeof(hq.tenant), "other-%d", i);
		bad += other_call(&f, fd, MSIV_OP_HELLO, 1, &hq, NULL, 0,
		    &n[0]) != 0;
		bad += other_call(&f, fd, MSIV_OP_VFUNC_OPEN, 2, &oq, &orp,
		    sizeof(orp), &n[1]) != 0;
		cq.vfunc = orp.vfunc;
		bad += other_call(&f, fd, MSIV_OP_VFUNC_CLOSE, 3, &cq, NULL, 0,
		    &n[2]) != 0;
		close(fd);
		for (int k = 0; k < 3; k++) {
			total += n[k];
			if (n[k] > worst[k])
				worst[k] = n[k];
		}
	}
	is_int(bad, 0, "the other tenant's %d requests succeed", 3 * ROUNDS);
	is_int(f.failed, 0, "the flooder's requests succeed");
	tap_diag("flooder replies during the rounds: %llu; between a request "
	    "of the other tenant and its reply: %llu on average",
	    (unsigned long long)(f.replies - start),
	    (unsigned long long)(total / (3 * ROUNDS)));
	for (int k = 0; k < 3; k++)
		ok(worst[k] <= (uint64_t)bound[k], "the other tenant's %s "
		    "reply comes before the flooder has %d more replies "
		    "(worst: %llu)", what[k], bound[k],
		    (unsigned long long)worst[k]);
	/* Let the flood end: every request in flight is answered. */
	while (f.inflight > 0) {
		struct pollfd p = { .fd = f.fd, .events = POLLIN };
		struct msiv_hdr h;

		if (poll(&p, 1, H_TIMEOUT_MS) != 1)
			tap_bail("the flooder's last replies did not come");
		while (f.inflight > 0 && recv_reply(f.fd, &h, NULL, 0) == 1)
			f.inflight--;
	}
	close(f.fd);
}

int
main(void)
{
	if (geteuid() != 0)
		tap_skip_all("connecting as another user needs root");
	if (h_start(&d, conf) < 0)
		tap_bail("msivd did not start");
	/* The sessions connect as other users: let them reach the socket. */
	if (chmod(d.dir, 0755) < 0)
		tap_bail("chmod");
	test_flood();
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
