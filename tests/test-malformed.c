/*
 * Integration test: malformed and hostile messages against the real msivd
 * over raw SOCK_SEQPACKET connections. Each case gets its error reply
 * (matching the request's sequence number) or a closed connection when the
 * peer does not speak the protocol at all; after every group a bystander
 * session that owns a vfunc must still get its interrupts, the daemon must
 * be alive, and no fd may stay behind in the daemon.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdpass.h"
#include "harness.h"
#include "proto.h"
#include "tap.h"

#define CLOSED 1000 /* rq() result: the daemon closed the connection */
#define NOREPLY 1001

static struct h_daemon d;
static struct msiv_conn *by;  /* the bystander */
static uint64_t by_vf;
static int by_efd;

static int
raw_connect(void)
{
	int fd = h_raw_connect(&d);

	if (fd < 0)
		tap_bail("raw connect");
	return fd;
}

/* Send a packet: a header for op with len and fields, then len payload
 * bytes (zero unless given). Wait for a reply: its status, CLOSED, or
 * NOREPLY. */
static int
rq_full(int fd, struct msiv_hdr h, const void *payload, size_t plen,
    const int *fds, size_t nfds)
{
	unsigned char pkt[2 * MSIV_MSG_MAX] = { 0 }, in[MSIV_MSG_MAX];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct msiv_hdr rh;
	int rfds[MSIV_FDS_MAX];
	size_t nr;
	ssize_t n;

	msiv_hdr_encode(&h, pkt);
	if (payload != NULL)
		memcpy(pkt + sizeof(h), payload, plen);
	if (fdpass_send(fd, pkt, sizeof(h) + plen, fds, nfds, 0) < 0)
		return CLOSED;
	if (poll(&p, 1, H_TIMEOUT_MS) != 1)
		return NOREPLY;
	n = fdpass_recv(fd, in, sizeof(in), rfds, &nr, 0);
	if (n <= 0)
		return CLOSED;
	fdpass_close(rfds, nr);
	if (msiv_hdr_decode(in, (size_t)n, &rh) < 0 || rh.seq != h.seq ||
	    !(rh.flags & MSIV_F_REPLY))
		return NOREPLY;
	return rh.status;
}

static struct msiv_hdr
hdr(unsigned int op, uint32_t len, uint32_t seq)
{
	struct msiv_hdr h = {
		.magic = MSIV_PROTO_MAGIC, .version = MSIV_PROTO_VERSION,
		.opcode = (uint16_t)op, .seq = seq, .len = len,
	};

	return h;
}

static int
rq(int fd, unsigned int op, const void *payload, size_t plen, const int *fds,
    size_t nfds)
{
	static uint32_t seq = 100;

	return rq_full(fd, hdr(op, (uint32_t)plen, ++seq), payload, plen, fds,
	    nfds);
}

static int
hello(int fd)
{
	struct msiv_hello_req hq = { .version_min = 1, .version_max = 1 };

	return rq(fd, MSIV_OP_HELLO, &hq, sizeof(hq), NULL, 0);
}

static int
daemon_fds(void)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d.pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(dir)) != NULL)
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* The daemon's fd count settles once it has closed a dead session. */
static int
daemon_fds_settle(int want)
{
	int n = daemon_fds();

	for (int i = 0; i < 2000 && n != want; i++) {
		usleep(1000);
		n = daemon_fds();
	}
	return n;
}

static void
bystander_ok(const char *after)
{
	struct msiv_status_info st;

	ok(h_alive(&d) && msiv_sim_fire(by, "sim0", 0, 1) == 0 &&
	    h_efd_wait(by_efd, H_TIMEOUT_MS) == 1 &&
	    msiv_get_status(by, &st, sizeof(st)) == 0,
	    "after %s: the daemon and the bystander carry on", after);
}

static void
test_hello(void)
{
	struct msiv_hello_req hq = { .version_min = 2, .version_max = 9 };
	int fd = raw_connect();

	is_int(rq(fd, MSIV_OP_STATUS, NULL, 0, NULL, 0), -EPROTO,
	    "a request before HELLO: EPROTO");
	is_int(rq(fd, MSIV_OP_HELLO, &hq, sizeof(hq), NULL, 0),
	    -EPROTONOSUPPORT, "HELLO without version 1: EPROTONOSUPPORT");
	hq.version_min = 1;
	hq.version_max = 1;
	memcpy(hq.tenant, "bad name", 9);
	is_int(rq(fd, MSIV_OP_HELLO, &hq, sizeof(hq), NULL, 0), -EINVAL,
	    "HELLO with a space in the tenant: EINVAL");
	memset(hq.tenant, 'x', sizeof(hq.tenant));
	is_int(rq(fd, MSIV_OP_HELLO, &hq, sizeof(hq), NULL, 0), -EINVAL,
	    "HELLO with an unterminated tenant: EINVAL");
	memset(hq.tenant, 0, sizeof(hq.tenant));
	hq.reserved = 1;
	is_int(rq(fd, MSIV_OP_HELLO, &hq, sizeof(hq), NULL, 0), -EINVAL,
	    "HELLO with reserved set: EINVAL");
	is_int(hello(fd), 0, "a good HELLO");
	is_int(hello(fd), -EALREADY, "HELLO twice: EALREADY");
	close(fd);
}

/* A header that is not msiv: the connection is closed. */
static void
test_bad_headers(void)
{
	static const struct {
		const char *what;
		int field;
	} cases[] = {
		{ "bad magic", 0 }, { "reserved set", 1 },
		{ "unknown flag", 2 }, { "REPLY flag in a request", 3 },
		{ "EVENT flag in a request", 4 },
		{ "len larger than the packet", 5 },
		{ "len smaller than the packet", 6 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = raw_connect();
		struct msiv_hdr h = hdr(MSIV_OP_STATUS, 0, 1);
		unsigned char pad[8] = { 0 };
		size_t plen = 0;
		int r;

		(void)hello(fd);
		switch (cases[i].field) {
		case 0: h.magic = 0x4141; break;
		case 1: h.reserved = 7; break;
		case 2: h.flags = 0x100; break;
		case 3: h.flags = MSIV_F_REPLY; break;
		case 4: h.flags = MSIV_F_EVENT; break;
		case 5: h.len = 8; plen = 4; break;
		case 6: h.len = 0; plen = 8; break;
		}
		r = rq_full(fd, h, pad, plen, NULL, 0);
		/* A REPLY/EVENT flag decodes as a header; the checker then
		 * refuses the request. */
		if (cases[i].field == 3 || cases[i].field == 4)
			is_int(r, -EPROTO, "%s: EPROTO", cases[i].what);
		else
			is_int(r, CLOSED, "%s: connection closed",
			    cases[i].what);
		close(fd);
	}
	{
		int fd = raw_connect();
		unsigned char shortpkt[10] = { 0x4d, 0x56 };
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char b;

		ok(send(fd, shortpkt, sizeof(shortpkt), 0) == 10 &&
		    poll(&p, 1, H_TIMEOUT_MS) == 1 && recv(fd, &b, 1, 0) == 0,
		    "a packet shorter than a header: connection closed");
		close(fd);
	}
	{
		int fd = raw_connect();
		struct msiv_hdr h = hdr(MSIV_OP_STATUS, 0, 1);

		h.version = 0;
		is_int(rq_full(fd, h, NULL, 0, NULL, 0), -EPROTONOSUPPORT,
		    "version 0: EPROTONOSUPPORT");
		h.version = MSIV_PROTO_VERSION + 1;
		is_int(rq_full(fd, h, NULL, 0, NULL, 0), -EPROTONOSUPPORT,
		    "a newer version: EPROTONOSUPPORT");
		is_int(hello(fd), 0, "...and the session can still say HELLO");
		close(fd);
	}
	{
		int fd = raw_connect();
		static unsigned char big[MSIV_MSG_MAX + 64];
		struct msiv_hdr h = hdr(MSIV_OP_STATUS, MSIV_MSG_MAX + 40, 1);

		(void)hello(fd);
		msiv_hdr_encode(&h, big);
		is_int(rq_full(fd, h, big + sizeof(h), MSIV_MSG_MAX + 40, NULL, 0),
		    CLOSED, "a packet over MSIV_MSG_MAX: connection closed");
		close(fd);
	}
	bystander_ok("bad headers");
}

static void
test_lengths(void)
{
	unsigned char zero[MSIV_MSG_MAX] = { 0 };
	int fd = raw_connect();

	(void)hello(fd);
	is_int(rq(fd, 0, NULL, 0, NULL, 0), -ENOSYS, "opcode 0: ENOSYS");
	is_int(rq(fd, MSIV_OP__COUNT, NULL, 0, NULL, 0), -ENOSYS,
	    "opcode COUNT: ENOSYS");
	is_int(rq(fd, 0xffff, NULL, 0, NULL, 0), -ENOSYS, "opcode 0xffff: "
	    "ENOSYS");
	for (unsigned int op = 1; op < MSIV_OP__COUNT; op++) {
		const struct msiv_opinfo *oi = msiv_proto_op(op);
		int bad = 0;

		if (!ok(oi != NULL, "opcode %u has a codec entry", op))
			continue;
		bad += rq(fd, op, zero, oi->req_len + 1, NULL, 0) != -EMSGSIZE;
		if (oi->req_len > 0) {
			bad += rq(fd, op, zero, oi->req_len - 1, NULL, 0) !=
			    -EMSGSIZE;
			bad += rq(fd, op, zero, 0, NULL, 0) != -EMSGSIZE;
		}
		ok(!bad, "%s: short, long and empty payloads: EMSGSIZE",
		    oi->name);
	}
	{
		struct msiv_hdr h = hdr(MSIV_OP_STATUS, 0, 5);

		h.status = -1;
		is_int(rq_full(fd, h, NULL, 0, NULL, 0), -EPROTO,
		    "a status in a request: EPROTO");
	}
	close(fd);
	bystander_ok("bad lengths");
}

/* LOG_LEVEL takes one of four levels or the query, nothing else; the
 * daemon's level is left as it was. */
static void
test_log_level(void)
{
	static const uint32_t bad[] = { 4, 5, 0x7fffffffu, 0xfffffffeu };
	struct msiv_log_level_req lr = { .level = MSIV_LOG_DEBUG,
	    .reserved = 1 };
	int fd = raw_connect();

	(void)hello(fd);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(msiv_log_level(by, bad[i]), -EINVAL,
		    "LOG_LEVEL %#x: EINVAL", bad[i]);
	is_int(rq(fd, MSIV_OP_LOG_LEVEL, &lr, sizeof(lr), NULL, 0), -EINVAL,
	    "LOG_LEVEL with reserved set: EINVAL");
	is_int(msiv_log_level(by, MSIV_LOG_QUERY), (int)MSIV_LOG_DEBUG,
	    "the level is still the configured one (debug)");
	close(fd);
	bystander_ok("bad log levels");
}

static void
test_fds(void)
{
	struct msiv_vec_setup_req su = { .vfunc = by_vf, .vector = 1 };
	struct msiv_vec_retarget_req rt = { .vfunc = by_vf, .vector = 1 };
	struct msiv_vec_req vr = { .vfunc = by_vf, .vector = 1 };
	int fd = raw_connect(), base, p[2], e = h_eventfd(), many[MSIV_FDS_MAX];
	struct msiv_conn *own = h_connect(&d, "fdtest");
	uint64_t vf;

	(void)hello(fd);
	if (pipe2(p, O_CLOEXEC) < 0)
		tap_bail("pipe");
	base = daemon_fds();
	ok(base > 0, "the daemon has %d fds", base);
	is_int(rq(fd, MSIV_OP_VEC_SETUP, &su, sizeof(su), NULL, 0), -EBADMSG,
	    "SETUP without an fd: EBADMSG");
	is_int(rq(fd, MSIV_OP_VEC_MASK, &vr, sizeof(vr), &e, 1), -EBADMSG,
	    "MASK with an fd: EBADMSG");
	rt.flags = MSIV_RETARGET_TARGET;
	is_int(rq(fd, MSIV_OP_VEC_RETARGET, &rt, sizeof(rt), NULL, 0),
	    -EBADMSG, "RETARGET with TARGET and no fd: EBADMSG");
	rt.flags = MSIV_RETARGET_MSG;
	is_int(rq(fd, MSIV_OP_VEC_RETARGET, &rt, sizeof(rt), &e, 1), -EBADMSG,
	    "RETARGET without TARGET but with an fd: EBADMSG");
	is_int(daemon_fds(), base, "none of those fds stayed in the daemon");

	/* Targets of the wrong kind, on a vfunc of this connection's own. */
	ok(msiv_vfunc_open(own, "sim0", 2, 0, &vf) == 0, "open a vfunc");
	base = daemon_fds();
	is_int(msiv_vector_setup(own, vf, 0, 1, 1, p[1], 0), -EINVAL,
	    "a pipe as target: EINVAL");
	is_int(daemon_fds(), base, "...and the pipe was not kept");
	ok(msiv_vector_setup(own, vf, 0, 1, 1, e, 0) == 0 &&
	    daemon_fds() == base + 1, "an eventfd target is kept (one fd)");
	ok(msiv_vector_free(own, vf, 0) == 0 && daemon_fds() == base,
	    "FREE closes it");
	ok(msiv_vfunc_close(own, vf) == 0, "close the vfunc");

	for (size_t i = 0; i < MSIV_FDS_MAX; i++)
		many[i] = e;
	base = daemon_fds();
	{
		int big[MSIV_FDS_MAX + 1];
		char cm[CMSG_SPACE(sizeof(big))];
		unsigned char pkt[sizeof(struct msiv_hdr) + sizeof(vr)];
		struct msiv_hdr h = hdr(MSIV_OP_VEC_MASK, sizeof(vr), 9);
		struct iovec iov = { .iov_base = pkt, .iov_len = sizeof(pkt) };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cm, .msg_controllen = sizeof(cm),
		};
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		char b;

		for (size_t i = 0; i <= MSIV_FDS_MAX; i++)
			big[i] = e;
		msiv_hdr_encode(&h, pkt);
		memcpy(pkt + sizeof(h), &vr, sizeof(vr));
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(big));
		memcpy(CMSG_DATA(c), big, sizeof(big));
		ok(sendmsg(fd, &msg, 0) == (ssize_t)sizeof(pkt) &&
		    poll(&pf, 1, H_TIMEOUT_MS) == 1 && recv(fd, &b, 1, 0) == 0,
		    "%u fds in one packet: connection closed", MSIV_FDS_MAX + 1);
	}
	is_int(daemon_fds_settle(base - 1), base - 1, "the daemon kept none "
	    "of them (and closed the connection)");
	close(fd);
	fd = raw_connect();
	(void)hello(fd);
	is_int(rq(fd, MSIV_OP_VEC_MASK, &vr, sizeof(vr), many, MSIV_FDS_MAX),
	    -EBADMSG, "%u unexpected fds: EBADMSG", MSIV_FDS_MAX);
	is_int(daemon_fds(), base, "...all closed by the daemon");
	close(fd);
	/* An empty packet with fds: the session ends (SEQPACKET cannot
	 * tell it from the end) and the fds are not kept. Found by the
	 * fuzzer (tests/fuzz/corpus/zero-length-fds). base counted the
	 * connection just closed. */
	base = daemon_fds_settle(base - 1);
	for (int k = 0; k < 10; k++) {
		char cm[CMSG_SPACE(sizeof(many))];
		struct iovec iov = { .iov_base = cm, .iov_len = 0 };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cm, .msg_controllen = sizeof(cm),
		};
		struct cmsghdr *c;
		struct pollfd pf;
		char b;

		fd = raw_connect();
		if ((c = CMSG_FIRSTHDR(&msg)) == NULL)
			tap_bail("CMSG_FIRSTHDR");
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(many));
		memcpy(CMSG_DATA(c), many, sizeof(many));
		pf.fd = fd;
		pf.events = POLLIN;
		if (sendmsg(fd, &msg, 0) != 0 || poll(&pf, 1, H_TIMEOUT_MS) != 1 ||
		    recv(fd, &b, 1, 0) != 0)
			tap_diag("empty packet %d: not closed as expected", k);
		close(fd);
	}
	is_int(daemon_fds_settle(base), base, "10 empty packets with %u fds "
	    "each: none of the fds stayed in the daemon", MSIV_FDS_MAX);
	close(p[0]);
	close(p[1]);
	close(e);
	msiv_close(own);
	bystander_ok("fd abuse");
}

static void
test_handles(void)
{
	int fd = raw_connect();
	struct msiv_vec_req vr = { .vfunc = by_vf, .vector = 0 };
	struct msiv_vfunc_req fr = { .vfunc = by_vf, .value = 1 };
	struct msiv_table_req tr = { .vfunc = by_vf, .size = 4 };
	struct msiv_list_req lr = { .vfunc = by_vf };
	struct msiv_vfunc_open_req orq = { .nvec = 1 };
	uint64_t mine;
	struct msiv_vfunc_open_rep orp;
	unsigned char pkt[MSIV_MSG_MAX];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct msiv_hdr h;
	size_t nr;
	int rf[MSIV_FDS_MAX];

	{
		/* A non-admin view is what matters; this raw session runs
		 * as the daemon's uid and so is an admin, which does not
		 * give it other sessions' vfuncs for operations. */
		struct msiv_hello_req hq = {
			.version_min = 1, .version_max = 1, .tenant = "intruder",
		};

		is_int(rq(fd, MSIV_OP_HELLO, &hq, sizeof(hq), NULL, 0), 0,
		    "HELLO as tenant intruder");
	}
	is_int(rq(fd, MSIV_OP_VEC_MASK, &vr, sizeof(vr), NULL, 0), -ENOENT,
	    "the bystander's handle: VEC_MASK gets ENOENT");
	is_int(rq(fd, MSIV_OP_VEC_QUERY, &vr, sizeof(vr), NULL, 0), -ENOENT,
	    "the bystander's handle: VEC_QUERY gets ENOENT");
	is_int(rq(fd, MSIV_OP_VEC_FREE, &vr, sizeof(vr), NULL, 0), -ENOENT,
	    "the bystander's handle: VEC_FREE gets ENOENT");
	is_int(rq(fd, MSIV_OP_VFUNC_FMASK, &fr, sizeof(fr), NULL, 0), -ENOENT,
	    "the bystander's handle: VFUNC_FMASK gets ENOENT");
	is_int(rq(fd, MSIV_OP_VFUNC_CLOSE, &fr, sizeof(fr), NULL, 0), -EINVAL,
	    "VFUNC_CLOSE with a value set: EINVAL before the lookup");
	fr.value = 0;
	is_int(rq(fd, MSIV_OP_VFUNC_CLOSE, &fr, sizeof(fr), NULL, 0), -ENOENT,
	    "the bystander's handle: VFUNC_CLOSE gets ENOENT");
	is_int(rq(fd, MSIV_OP_TABLE_WRITE, &tr, sizeof(tr), NULL, 0), -ENOENT,
	    "the bystander's handle: TABLE_WRITE gets ENOENT");
	lr.vfunc = 0x5555;
	is_int(rq(fd, MSIV_OP_VEC_LIST, &lr, sizeof(lr), NULL, 0), -ENOENT,
	    "a made-up handle: VEC_LIST gets ENOENT");

	/* Bad fields on a vfunc of its own. */
	memcpy(orq.device, "sim0", 5);
	h = hdr(MSIV_OP_VFUNC_OPEN, sizeof(orq), 77);
	msiv_hdr_encode(&h, pkt);
	memcpy(pkt + sizeof(h), &orq, sizeof(orq));
	if (fdpass_send(fd, pkt, sizeof(h) + sizeof(orq), NULL, 0, 0) < 0 ||
	    poll(&p, 1, H_TIMEOUT_MS) != 1 ||
	    fdpass_recv(fd, pkt, sizeof(pkt), rf, &nr, 0) !=
	    (ssize_t)(sizeof(h) + sizeof(orp)))
		tap_bail("VFUNC_OPEN");
	memcpy(&orp, pkt + sizeof(h), sizeof(orp));
	mine = orp.vfunc;
	vr.vfunc = mine;
	vr.vector = 1;
	is_int(rq(fd, MSIV_OP_VEC_MASK, &vr, sizeof(vr), NULL, 0), -EINVAL,
	    "vector out of range: EINVAL");
	vr.vector = 0;
	vr.reserved = 1;
	is_int(rq(fd, MSIV_OP_VEC_MASK, &vr, sizeof(vr), NULL, 0), -EINVAL,
	    "reserved field set: EINVAL");
	fr.vfunc = mine;
	fr.value = 2;
	is_int(rq(fd, MSIV_OP_VFUNC_ENABLE, &fr, sizeof(fr), NULL, 0), -EINVAL,
	    "VFUNC_ENABLE value 2: EINVAL");
	tr.vfunc = mine;
	tr.offset = 3;
	is_int(rq(fd, MSIV_OP_TABLE_READ, &tr, sizeof(tr), NULL, 0), -EINVAL,
	    "TABLE_READ unaligned: EINVAL");
	tr.offset = 0;
	tr.size = 16;
	is_int(rq(fd, MSIV_OP_TABLE_READ, &tr, sizeof(tr), NULL, 0), -EINVAL,
	    "TABLE_READ of 16 bytes: EINVAL");
	memset(orq.device, 'z', sizeof(orq.device));
	is_int(rq(fd, MSIV_OP_VFUNC_OPEN, &orq, sizeof(orq), NULL, 0), -EINVAL,
	    "VFUNC_OPEN with an unterminated device name: EINVAL");
	memset(orq.device, 0, sizeof(orq.device));
	memcpy(orq.device, "nosuch", 7);
	is_int(rq(fd, MSIV_OP_VFUNC_OPEN, &orq, sizeof(orq), NULL, 0), -ENODEV,
	    "VFUNC_OPEN of an unknown device: ENODEV");
	close(fd);
	bystander_ok("foreign handles and bad fields");
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	return tap_rand(&rng);
}

static void
test_random(int base)
{
	unsigned char pkt[MSIV_MSG_MAX];
	int fd = raw_connect(), closed = 0, replies = 0;

	for (int i = 0; i < 100000; i++) {
		size_t len = rnd() % 200;
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (rnd() % 8 == 0)
			len = rnd() % MSIV_MSG_MAX;
		for (size_t k = 0; k < len; k++)
			pkt[k] = (unsigned char)rnd();
		if (len >= sizeof(struct msiv_hdr) && rnd() % 2) {
			unsigned int op = (unsigned)(rnd() %
			    (MSIV_OP__COUNT + 2));
			struct msiv_hdr h;

			/* This session is an admin's: a well-formed SHUTDOWN
			 * or RESTART (a new msivd takes over: test-handover)
			 * would end the test, not find a bug (whether one
			 * comes up depends on the number of opcodes). */
			if (op == MSIV_OP_SHUTDOWN || op == MSIV_OP_RESTART)
				op = 0;
			h = hdr(op, (uint32_t)(len - sizeof(struct msiv_hdr)),
			    (uint32_t)i);
			msiv_hdr_encode(&h, pkt);
		}
		if (send(fd, pkt, len, MSG_NOSIGNAL) < 0 ||
		    poll(&p, 1, H_TIMEOUT_MS) != 1 ||
		    recv(fd, pkt, sizeof(pkt), 0) <= 0) {
			/* Every packet gets a reply or a close: reconnect. */
			close(fd);
			fd = raw_connect();
			closed++;
			if (rnd() % 2)
				(void)hello(fd);
		} else
			replies++;
	}
	close(fd);
	ok(closed + replies == 100000, "100000 random packets: each answered "
	    "(%d) or its connection closed (%d)", replies, closed);
	bystander_ok("100000 random packets");
	is_int(daemon_fds_settle(base), base, "the daemon holds no fd more "
	    "than before");
}

/* The lowest fd number free in the daemon: a new fd there would be its
 * next. */
static int
daemon_lowest_free(void)
{
	char path[64];
	struct dirent *e;
	unsigned char used[4096] = { 0 };
	DIR *dir;
	int low = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d.pid);
	if ((dir = opendir(path)) == NULL)
		tap_bail("/proc/PID/fd");
	while ((e = readdir(dir)) != NULL) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd >= 0 && fd < (int)sizeof(used))
			used[fd] = 1;
	}
	closedir(dir);
	while (low < (int)sizeof(used) && used[low])
		low++;
	return low;
}

/* msivd out of fds (issue 15): a request carrying an fd gets EMFILE and
 * its session lives on. The kernel cannot install the fd and truncates
 * the control message; that is told apart from a client that sends more
 * fds than a request carries (test_fds: the session ends). */
static void
test_out_of_fds(void)
{
	struct msiv_conn *own = h_connect(&d, "emfile");
	struct msiv_status_info st;
	struct rlimit low, old;
	struct msiv_vector_info in;
	int e = h_eventfd(), base, r;
	uint64_t vf;

	if (msiv_vfunc_open(own, "sim0", 2, 0, &vf) < 0)
		tap_bail("open a vfunc");
	base = daemon_fds();
	if (prlimit(d.pid, RLIMIT_NOFILE, NULL, &old) < 0)
		tap_bail("prlimit");
	/* No fd number below the limit is free: the daemon is out of fds
	 * (it opens none while idle). */
	low.rlim_cur = (rlim_t)daemon_lowest_free();
	low.rlim_max = old.rlim_max;
	if (prlimit(d.pid, RLIMIT_NOFILE, &low, NULL) < 0)
		tap_bail("prlimit");
	r = msiv_vector_setup(own, vf, 0, 0xfee00000u, 1, e,
	    MSIV_SETUP_UNMASKED);
	is_int(r, -EMFILE, "out of fds: SETUP with a target gets EMFILE");
	ok(h_logged(&d, "refused (EMFILE): msivd is out of fds"), "...logged");
	ok(msiv_get_status(own, &st, sizeof(st)) == 0,
	    "...and the same session carries on");
	r = msiv_vector_setup(own, vf, 1, 0xfee00000u, 1, e,
	    MSIV_SETUP_UNMASKED);
	is_int(r, -EMFILE, "...a second one: EMFILE again");
	is_int(daemon_fds(), base, "the daemon took none of the fds");
	ok(msiv_vector_query(own, vf, 0, &in) == 0 && !in.target,
	    "the vector was left alone (no target)");
	if (prlimit(d.pid, RLIMIT_NOFILE, &old, NULL) < 0)
		tap_bail("prlimit");
	ok(msiv_vector_setup(own, vf, 0, 0xfee00000u, 1, e,
	    MSIV_SETUP_UNMASKED) == 0 && msiv_vfunc_enable(own, vf, 1) == 0,
	    "fds back: the same session sets the vector up");
	ok(msiv_sim_fire(own, "sim0", in.slot, 1) == 0 &&
	    h_efd_wait(e, H_TIMEOUT_MS) == 1, "...and its interrupt is "
	    "delivered");
	ok(msiv_vfunc_close(own, vf) == 0, "close the vfunc");
	msiv_close(own);
	close(e);
	bystander_ok("msivd ran out of fds");
}

/* A client that sends and never reads: the daemon drops it once its
 * queued replies pass the cap, and serves the others meanwhile. */
static void
test_no_reader(void)
{
	int fd = raw_connect(), sent = 0, dropped = 0;
	unsigned char pkt[sizeof(struct msiv_hdr)];
	struct msiv_hdr h = hdr(MSIV_OP_STATUS, 0, 1);

	(void)hello(fd);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	msiv_hdr_encode(&h, pkt);
	for (int i = 0; i < 50000 && !dropped; i++) {
		ssize_t n = send(fd, pkt, sizeof(pkt), MSG_NOSIGNAL);

		if (n == sizeof(pkt)) {
			sent++;
			continue;
		}
		if (errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			/* The daemon is behind or has stopped reading us:
			 * see whether it dropped us. */
			if (poll(&p, 1, 200) == 1 &&
			    (p.revents & (POLLHUP | POLLERR)))
				dropped = 1;
			continue;
		}
		dropped = 1;
	}
	ok(dropped, "a client that never reads is disconnected (after %d "
	    "requests)", sent);
	close(fd);
	bystander_ok("a client that never reads");
}

int
main(void)
{
	int base;

	if (h_start(&d, NULL) < 0)
		tap_bail("msivd did not start");
	by = h_connect(&d, "bystander");
	by_efd = h_eventfd();
	if (msiv_vfunc_open(by, "sim0", 1, 0, &by_vf) < 0 ||
	    msiv_vector_setup(by, by_vf, 0, 0xfee00000u, 1, by_efd,
	    MSIV_SETUP_UNMASKED) < 0 || msiv_vfunc_enable(by, by_vf, 1) < 0)
		tap_bail("bystander set-up");
	bystander_ok("set-up");
	base = daemon_fds();

	test_hello();
	test_bad_headers();
	test_lengths();
	test_log_level();
	test_fds();
	test_out_of_fds();
	/* The slot it fired has its trigger eventfd now. */
	base = daemon_fds();
	test_handles();
	test_random(base);
	test_no_reader();

	msiv_close(by);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
