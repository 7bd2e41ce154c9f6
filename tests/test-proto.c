/*
 * Unit test of the protocol codec (lib/proto.c) and fd passing
 * (lib/fdpass.c): the op table against the wire structs, header round
 * trip and byte order, every malformed header and request rejected with
 * its errno, payload byte swapping, names, and SCM_RIGHTS over a real
 * SOCK_SEQPACKET socketpair (close-on-exec, truncation, no fd leaks).
 */
#include "config.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"
#include "proto.h"
#include "tap.h"

struct want {
	unsigned int op;
	size_t req, rep;
	int fds;
	int paged;
};

/* Written from protocol.h, independently of the table in proto.c. */
static const struct want wants[] = {
	{ MSIV_OP_HELLO, sizeof(struct msiv_hello_req),
	    sizeof(struct msiv_hello_rep), 0, 0 },
	{ MSIV_OP_STATUS, 0, sizeof(struct msiv_status_rep), 0, 0 },
	{ MSIV_OP_DEVICE_LIST, sizeof(struct msiv_list_req),
	    sizeof(struct msiv_device_rec), 0, 1 },
	{ MSIV_OP_VFUNC_OPEN, sizeof(struct msiv_vfunc_open_req),
	    sizeof(struct msiv_vfunc_open_rep), 0, 0 },
	{ MSIV_OP_VFUNC_CLOSE, sizeof(struct msiv_vfunc_req), 0, 0, 0 },
	{ MSIV_OP_VFUNC_ENABLE, sizeof(struct msiv_vfunc_req), 0, 0, 0 },
	{ MSIV_OP_VFUNC_FMASK, sizeof(struct msiv_vfunc_req), 0, 0, 0 },
	{ MSIV_OP_VFUNC_RESET, sizeof(struct msiv_vfunc_req), 0, 0, 0 },
	{ MSIV_OP_VEC_SETUP, sizeof(struct msiv_vec_setup_req), 0, 1, 0 },
	{ MSIV_OP_VEC_MASK, sizeof(struct msiv_vec_req), 0, 0, 0 },
	{ MSIV_OP_VEC_UNMASK, sizeof(struct msiv_vec_req), 0, 0, 0 },
	{ MSIV_OP_VEC_RETARGET, sizeof(struct msiv_vec_retarget_req), 0, -1,
	    0 },
	{ MSIV_OP_VEC_FREE, sizeof(struct msiv_vec_req), 0, 0, 0 },
	{ MSIV_OP_VEC_QUERY, sizeof(struct msiv_vec_req),
	    sizeof(struct msiv_vec_info), 0, 0 },
	{ MSIV_OP_TABLE_WRITE, sizeof(struct msiv_table_req), 0, 0, 0 },
	{ MSIV_OP_TABLE_READ, sizeof(struct msiv_table_req),
	    sizeof(struct msiv_table_rep), 0, 0 },
	{ MSIV_OP_VFUNC_LIST, sizeof(struct msiv_list_req),
	    sizeof(struct msiv_vfunc_rec), 0, 1 },
	{ MSIV_OP_VEC_LIST, sizeof(struct msiv_list_req),
	    sizeof(struct msiv_vec_rec), 0, 1 },
	{ MSIV_OP_SESSION_LIST, sizeof(struct msiv_list_req),
	    sizeof(struct msiv_session_rec), 0, 1 },
	{ MSIV_OP_SIM_TRIGGERS, sizeof(struct msiv_sim_req), 0, 0, 0 },
	{ MSIV_OP_SIM_FIRE, sizeof(struct msiv_sim_req), 0, 0, 0 },
	{ MSIV_OP_SHUTDOWN, 0, 0, 0, 0 },
	{ MSIV_OP_DEVICE_ATTACH, sizeof(struct msiv_attach_req), 0, 0, 0 },
	{ MSIV_OP_DEVICE_DETACH, sizeof(struct msiv_detach_req), 0, 0, 0 },
	{ MSIV_OP_IRQ_AFFINITY, sizeof(struct msiv_affinity_req),
	    sizeof(struct msiv_affinity_rep), 0, 0 },
	{ MSIV_OP_REVOKE, sizeof(struct msiv_revoke_req),
	    sizeof(struct msiv_revoke_rep), 0, 0 },
	{ MSIV_OP_HOTPLUG_STATUS, 0, sizeof(struct msiv_hotplug_rep), 0, 0 },
	{ MSIV_OP_RELOAD, 0, sizeof(struct msiv_reload_rep), 0, 0 },
	{ MSIV_OP_LOG_LEVEL, sizeof(struct msiv_log_level_req),
	    sizeof(struct msiv_log_level_rep), 0, 0 },
	{ MSIV_OP_TENANT_RELEASE, sizeof(struct msiv_tenant_release_req),
	    sizeof(struct msiv_tenant_release_rep), 0, 0 },
	{ MSIV_OP_METRICS, 0, sizeof(struct msiv_metrics_rep), 0, 0 },
	{ MSIV_OP_RESTART, 0, sizeof(struct msiv_restart_rep), 0, 0 },
	{ MSIV_OP_SHARD_LIST, sizeof(struct msiv_list_req),
	    sizeof(struct msiv_shard_rec), 0, 1 },
};

static void
test_table(void)
{
	ok(msiv_proto_op(0) == NULL && msiv_proto_op(MSIV_OP__COUNT) == NULL &&
	    msiv_proto_op(0xffff) == NULL, "opcodes 0, COUNT, 0xffff unknown");
	/* Every opcode has a codec entry and is listed above. */
	for (unsigned int op = 1; op < MSIV_OP__COUNT; op++) {
		size_t i = 0;

		while (i < sizeof(wants) / sizeof(wants[0]) &&
		    wants[i].op != op)
			i++;
		ok(msiv_proto_op(op) != NULL &&
		    i < sizeof(wants) / sizeof(wants[0]), "opcode %u (%s) has "
		    "a codec entry and is listed in the test", op,
		    msiv_proto_opname(op));
	}
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		const struct want *w = &wants[i];
		const struct msiv_opinfo *oi = msiv_proto_op(w->op);

		if (!ok(oi != NULL, "op %u has an entry", w->op))
			continue;
		ok(oi->req_len == w->req &&
		    msiv_layout_size(oi->req_layout) == w->req,
		    "%s: request length and layout = %zu", oi->name, w->req);
		ok(oi->rep_len == w->rep &&
		    msiv_layout_size(oi->rep_layout) == w->rep &&
		    oi->paged == w->paged, "%s: reply %s and layout = %zu",
		    oi->name, w->paged ? "record" : "length", w->rep);
		if (w->paged)
			ok(sizeof(struct msiv_hdr) + sizeof(struct msiv_page) +
			    oi->rep_len <= MSIV_MSG_MAX, "%s: a record fits a "
			    "packet", oi->name);
	}
	ok(msiv_proto_event_len(MSIV_EV_MSG_CHANGED) ==
	    sizeof(struct msiv_ev_msg) &&
	    msiv_layout_size(msiv_proto_event_layout(MSIV_EV_MSG_CHANGED)) ==
	    sizeof(struct msiv_ev_msg), "MSG_CHANGED event length and layout");
	ok(msiv_proto_event_len(MSIV_EV_VFUNC_GONE) ==
	    sizeof(struct msiv_ev_gone) &&
	    msiv_layout_size(msiv_proto_event_layout(MSIV_EV_VFUNC_GONE)) ==
	    sizeof(struct msiv_ev_gone), "VFUNC_GONE event length and layout");
	ok(msiv_proto_event_len(0) == 0 && msiv_proto_event_layout(99) == NULL,
	    "unknown events have no layout");
}

static struct msiv_hdr
hdr(unsigned int op, uint32_t len)
{
	struct msiv_hdr h = {
		.magic = MSIV_PROTO_MAGIC, .version = MSIV_PROTO_VERSION,
		.opcode = (uint16_t)op, .seq = 7, .len = len,
	};

	return h;
}

/* Encode h and decode a packet of n bytes from it. */
static int
decode_as(struct msiv_hdr h, size_t n)
{
	unsigned char pkt[64] = { 0 };
	struct msiv_hdr out;

	msiv_hdr_encode(&h, pkt);
	return msiv_hdr_decode(pkt, n, &out);
}

static void
test_header(void)
{
	unsigned char pkt[64];
	struct msiv_hdr h = hdr(MSIV_OP_VEC_MASK, 16), out;

	h.status = -EBUSY;
	h.flags = MSIV_F_REPLY;
	h.seq = 0x01020304;
	msiv_hdr_encode(&h, pkt);
	ok(pkt[0] == 0x4d && pkt[1] == 0x56, "magic is little-endian \"MV\"");
	ok(pkt[8] == 0x04 && pkt[11] == 0x01, "seq is little-endian");
	ok(pkt[16] == (unsigned char)-EBUSY && pkt[19] == 0xff,
	    "a negative status is little-endian two's complement");
	ok(msiv_hdr_decode(pkt, sizeof(h) + 16, &out) == 0 &&
	    memcmp(&out, &h, sizeof(h)) == 0, "header round trip");

	is_int(msiv_hdr_decode(pkt, sizeof(h) - 1, &out), -EPROTO,
	    "shorter than a header: EPROTO");
	h = hdr(1, 0);
	h.magic = 0x1234;
	is_int(decode_as(h, sizeof(h)), -EPROTO, "bad magic: EPROTO");
	h = hdr(1, 0);
	h.reserved = 1;
	is_int(decode_as(h, sizeof(h)), -EPROTO, "reserved set: EPROTO");
	h = hdr(1, 0);
	h.flags = 0x8;
	is_int(decode_as(h, sizeof(h)), -EPROTO, "unknown flag: EPROTO");
	h.flags = MSIV_F_REPLY | MSIV_F_EVENT;
	is_int(decode_as(h, sizeof(h)), -EPROTO, "REPLY and EVENT: EPROTO");
	h = hdr(1, 4);
	is_int(decode_as(h, sizeof(h) + 3), -EPROTO, "len > packet: EPROTO");
	is_int(decode_as(h, sizeof(h) + 5), -EPROTO, "len < packet: EPROTO");
	is_int(decode_as(h, sizeof(h) + 4), 0, "len = packet: accepted");
	h = hdr(1, 0);
	h.version = 0;
	is_int(decode_as(h, sizeof(h)), -EPROTONOSUPPORT, "version 0");
	h.version = MSIV_PROTO_VERSION + 1;
	is_int(decode_as(h, sizeof(h)), -EPROTONOSUPPORT, "a newer version");
}

static void
test_check_req(void)
{
	unsigned char payload[MSIV_MSG_MAX] = { 0 };
	struct msiv_hdr h;

	h = hdr(0, 0);
	is_int(msiv_proto_check_req(&h, payload, 0), -ENOSYS, "opcode 0");
	h = hdr(MSIV_OP__COUNT, 0);
	is_int(msiv_proto_check_req(&h, payload, 0), -ENOSYS, "opcode COUNT");
	h = hdr(0xffff, 0);
	is_int(msiv_proto_check_req(&h, payload, 0), -ENOSYS, "opcode 0xffff");
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		const struct want *w = &wants[i];
		const char *nm = msiv_proto_opname(w->op);
		size_t fds = w->fds < 0 ? 0 : (size_t)w->fds;
		int bad = 0;

		h = hdr(w->op, (uint32_t)w->req);
		ok(msiv_proto_check_req(&h, payload, fds) == 0,
		    "%s: well formed request accepted", nm);
		h.len = (uint32_t)w->req + 1;
		bad += msiv_proto_check_req(&h, payload, fds) != -EMSGSIZE;
		if (w->req > 0) {
			h.len = (uint32_t)w->req - 1;
			bad += msiv_proto_check_req(&h, payload, fds) !=
			    -EMSGSIZE;
			h.len = 0;
			bad += msiv_proto_check_req(&h, payload, fds) !=
			    -EMSGSIZE;
		}
		ok(!bad, "%s: every other length: EMSGSIZE", nm);
		h = hdr(w->op, (uint32_t)w->req);
		ok(msiv_proto_check_req(&h, payload, fds + 1) == -EBADMSG,
		    "%s: an extra fd: EBADMSG", nm);
		if (fds > 0)
			ok(msiv_proto_check_req(&h, payload, 0) == -EBADMSG,
			    "%s: a missing fd: EBADMSG", nm);
		h.flags = MSIV_F_REPLY;
		bad = msiv_proto_check_req(&h, payload, fds) != -EPROTO;
		h.flags = 0;
		h.status = -1;
		bad += msiv_proto_check_req(&h, payload, fds) != -EPROTO;
		ok(!bad, "%s: flags or status in a request: EPROTO", nm);
	}
	{
		struct msiv_vec_retarget_req rq = {
			.flags = MSIV_RETARGET_TARGET,
		};

		h = hdr(MSIV_OP_VEC_RETARGET, sizeof(rq));
		ok(msiv_proto_check_req(&h, &rq, 1) == 0 &&
		    msiv_proto_check_req(&h, &rq, 0) == -EBADMSG,
		    "RETARGET with TARGET wants one fd");
		rq.flags = MSIV_RETARGET_MSG;
		ok(msiv_proto_check_req(&h, &rq, 0) == 0 &&
		    msiv_proto_check_req(&h, &rq, 1) == -EBADMSG,
		    "RETARGET without TARGET wants none");
	}
}

static void
test_swap(void)
{
	struct msiv_vec_info vi;
	struct msiv_status_rep st, st2;
	unsigned char page[sizeof(struct msiv_page) +
	    2 * sizeof(struct msiv_device_rec)];
	struct msiv_page pg = { .count = 0x01020304, .next = 0x0a0b0c0d };
	struct msiv_device_rec dr;
	const char *l = msiv_proto_op(MSIV_OP_VEC_QUERY)->rep_layout;

	memset(&vi, 0, sizeof(vi));
	vi.prog_addr = 0x0102030405060708ull;
	vi.prog_data = 0x11223344;
	vi.fired = 0xa1a2a3a4a5a6a7a8ull;
	msiv_bswap_records(l, &vi, sizeof(vi));
	ok(vi.prog_addr == 0x0807060504030201ull && vi.prog_data == 0x44332211 &&
	    vi.fired == 0xa8a7a6a5a4a3a2a1ull && vi.eff_addr == 0,
	    "byte swap reverses each 64- and 32-bit field in place");
	msiv_bswap_records(l, &vi, sizeof(vi));
	ok(vi.prog_addr == 0x0102030405060708ull && vi.prog_data == 0x11223344,
	    "byte swap twice is the identity");

	memset(&st, 0, sizeof(st));
	st.pid = 0x01020304;
	st.uptime_ms = 0x1122334455667788ull;
	memcpy(st.loop, "epoll", 6);
	memcpy(st.version_str, "0.1.0", 6);
	st2 = st;
	msiv_bswap_records(msiv_proto_op(MSIV_OP_STATUS)->rep_layout, &st2,
	    sizeof(st2));
	ok(st2.pid == 0x04030201 && st2.uptime_ms == 0x8877665544332211ull,
	    "status: integers swapped");
	ok(memcmp(st2.loop, "epoll", 6) == 0 &&
	    memcmp(st2.version_str, "0.1.0", 6) == 0,
	    "status: names untouched");
#if __BYTE_ORDER == __LITTLE_ENDIAN
	st2 = st;
	msiv_swap(msiv_proto_op(MSIV_OP_STATUS)->rep_layout, &st2,
	    sizeof(st2));
	ok(memcmp(&st2, &st, sizeof(st)) == 0,
	    "msiv_swap is the identity on this little-endian host");
#endif

	memset(&dr, 0, sizeof(dr));
	dr.slots = 0x00000800;
	memcpy(dr.name, "sim0", 5);
	memcpy(page, &pg, sizeof(pg));
	memcpy(page + sizeof(pg), &dr, sizeof(dr));
	memcpy(page + sizeof(pg) + sizeof(dr), &dr, sizeof(dr));
#if __BYTE_ORDER == __LITTLE_ENDIAN
	msiv_swap_page(msiv_proto_op(MSIV_OP_DEVICE_LIST)->rep_layout, page,
	    sizeof(page));
	ok(memcmp(page, &pg, sizeof(pg)) == 0,
	    "msiv_swap_page leaves a page as is on this host");
#endif
	msiv_bswap_records("ww", page, sizeof(pg));
	msiv_bswap_records(msiv_proto_op(MSIV_OP_DEVICE_LIST)->rep_layout,
	    page + sizeof(pg), 2 * sizeof(dr));
	memcpy(&pg, page, sizeof(pg));
	memcpy(&dr, page + sizeof(pg) + sizeof(dr), sizeof(dr));
	ok(pg.count == 0x04030201 && pg.next == 0x0d0c0b0a &&
	    dr.slots == 0x00080000 && strcmp(dr.name, "sim0") == 0,
	    "page header and the second record swapped, names untouched");
}

static void
test_names(void)
{
	char f[MSIV_NAME_MAX];
	char longname[MSIV_NAME_MAX + 1];

	ok(msiv_name_put(f, "sim0") == 0 && strcmp(f, "sim0") == 0 &&
	    f[MSIV_NAME_MAX - 1] == 0 && f[5] == 0, "name put: NUL padded");
	ok(msiv_name_check(f) == 0, "a printable name passes");
	memset(longname, 'a', MSIV_NAME_MAX);
	longname[MSIV_NAME_MAX] = '\0';
	is_int(msiv_name_put(f, longname), -ENAMETOOLONG,
	    "a %u-char name does not fit", MSIV_NAME_MAX);
	longname[MSIV_NAME_MAX - 1] = '\0';
	ok(msiv_name_put(f, longname) == 0 && msiv_name_check(f) == 0,
	    "a %u-char name fits", MSIV_NAME_MAX - 1);
	memset(f, 'a', sizeof(f));
	is_int(msiv_name_check(f), -EINVAL, "no NUL: EINVAL");
	(void)msiv_name_put(f, "a b");
	is_int(msiv_name_check(f), -EINVAL, "a space: EINVAL");
	(void)msiv_name_put(f, "a\tb");
	is_int(msiv_name_check(f), -EINVAL, "a control char: EINVAL");
	(void)msiv_name_put(f, "a\x7f");
	is_int(msiv_name_check(f), -EINVAL, "DEL: EINVAL");
	(void)msiv_name_put(f, "caf\xc3\xa9");
	is_int(msiv_name_check(f), -EINVAL, "bytes >= 0x80: EINVAL");
	(void)msiv_name_put(f, "ok");
	f[10] = 'x';
	is_int(msiv_name_check(f), -EINVAL, "garbage after the NUL: EINVAL");
	memset(f, 0, sizeof(f));
	ok(msiv_name_check(f) == 0, "the empty name is well formed");
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static void
test_fdpass(void)
{
	int sv[2], fds[MSIV_FDS_MAX], got[MSIV_FDS_MAX], base;
	unsigned char buf[64], big[256];
	size_t n;
	ssize_t r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		tap_bail("socketpair");
	for (int i = 0; i < (int)MSIV_FDS_MAX; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	base = count_fds();

	ok(fdpass_send(sv[0], "hello", 5, NULL, 0, 0) == 0, "send, no fds");
	r = fdpass_recv(sv[1], buf, sizeof(buf), got, &n, 0);
	ok(r == 5 && n == 0 && memcmp(buf, "hello", 5) == 0, "receive it");

	for (size_t k = 1; k <= MSIV_FDS_MAX; k += MSIV_FDS_MAX - 1) {
		int cloexec = 1, distinct = 1;

		ok(fdpass_send(sv[0], "x", 1, fds, k, 0) == 0, "send %zu fds",
		    k);
		r = fdpass_recv(sv[1], buf, sizeof(buf), got, &n, 0);
		ok(r == 1 && n == k, "receive %zu fds", k);
		for (size_t i = 0; i < n; i++) {
			cloexec &= (fcntl(got[i], F_GETFD) & FD_CLOEXEC) != 0;
			distinct &= got[i] != fds[i];
		}
		ok(cloexec && distinct, "%zu received fds are new and "
		    "close-on-exec", k);
		fdpass_close(got, n);
	}
	is_int(count_fds(), base, "no fd leaked");
	is_int(fdpass_send(sv[0], "x", 1, fds, MSIV_FDS_MAX + 1, 0), -EINVAL,
	    "more than MSIV_FDS_MAX fds: refused to send");

	memset(big, 'b', sizeof(big));
	ok(fdpass_send(sv[0], big, sizeof(big), fds, 2, 0) == 0,
	    "send a packet larger than the receiver's buffer, with 2 fds");
	r = fdpass_recv(sv[1], buf, sizeof(buf), got, &n, 0);
	ok(r == -EMSGSIZE && n == 0, "truncated packet: EMSGSIZE");
	is_int(count_fds(), base, "...and its fds were closed");

	{
		int many[MSIV_FDS_MAX + 2];
		char cm[CMSG_SPACE(sizeof(many))];
		struct iovec iov = { .iov_base = buf, .iov_len = 1 };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cm, .msg_controllen = sizeof(cm),
		};
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

		for (size_t i = 0; i < MSIV_FDS_MAX + 2; i++)
			many[i] = fds[i % MSIV_FDS_MAX];
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(many));
		memcpy(CMSG_DATA(c), many, sizeof(many));
		ok(sendmsg(sv[0], &msg, 0) == 1, "raw send of %u fds",
		    MSIV_FDS_MAX + 2);
		r = fdpass_recv(sv[1], buf, sizeof(buf), got, &n, 0);
		ok(r == -EBADMSG && n == 0, "too many fds: EBADMSG");
		is_int(count_fds(), base, "...and none leaked");
	}
	close(sv[0]);
	r = fdpass_recv(sv[1], buf, sizeof(buf), got, &n, 0);
	ok(r == 0, "orderly close of the peer reads 0");
	close(sv[1]);
	fdpass_close(fds, MSIV_FDS_MAX);
}

/* The lowest free fd number: with RLIMIT_NOFILE there, no fd can be
 * made. */
static int
lowest_free_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		tap_bail("F_DUPFD");
	close(fd);
	return fd;
}

/*
 * Out of fds (issue 15): the kernel cannot install a received fd and
 * truncates the control message (MSG_CTRUNC), as it does for a sender's
 * surplus of fds. fdpass tells the two apart: ours is -EMFILE, and
 * fdpass_recvv keeps the packet so the daemon can answer it; the
 * sender's stays -EBADMSG (test_fdpass).
 */
static void
test_fdpass_emfile(void)
{
	int sv[2], fds[2], got[MSIV_FDS_MAX], base;
	struct rlimit low, old;
	unsigned char buf[64], bufs[2][64];
	struct fdpass_rmsg m[2];
	size_t n;
	ssize_t r;
	int k;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(fds, O_CLOEXEC) < 0 || getrlimit(RLIMIT_NOFILE, &old) < 0)
		tap_bail("set-up");
	base = count_fds();
	low = old;
	low.rlim_cur = (rlim_t)lowest_free_fd();

	ok(fdpass_send(sv[0], "abc", 3, fds, 2, 0) == 0, "send 2 fds");
	if (setrlimit(RLIMIT_NOFILE, &low) < 0)
		tap_bail("setrlimit");
	r = fdpass_recv(sv[1], buf, sizeof(buf), got, &n, 0);
	if (setrlimit(RLIMIT_NOFILE, &old) < 0)
		tap_bail("setrlimit");
	ok(r == -EMFILE && n == 0, "out of fds: fdpass_recv says EMFILE "
	    "(%zd)", r);
	is_int(count_fds(), base, "...and holds none of them");

	/* Room for one of the two: the one received is closed. */
	ok(fdpass_send(sv[0], "abc", 3, fds, 2, 0) == 0 &&
	    fdpass_send(sv[0], "defg", 4, NULL, 0, 0) == 0, "send 2 fds, "
	    "then a packet without any");
	low.rlim_cur++;
	for (k = 0; k < 2; k++) {
		m[k].buf = bufs[k];
		m[k].cap = sizeof(bufs[k]);
	}
	if (setrlimit(RLIMIT_NOFILE, &low) < 0)
		tap_bail("setrlimit");
	k = fdpass_recvv(sv[1], m, 2, 0);
	if (setrlimit(RLIMIT_NOFILE, &old) < 0)
		tap_bail("setrlimit");
	ok(k == 2 && m[0].len == 3 && m[0].fderr == -EMFILE &&
	    m[0].nfds == 0 && memcmp(bufs[0], "abc", 3) == 0, "fdpass_recvv: "
	    "the packet whole, fderr EMFILE, no fds");
	ok(k == 2 && m[1].len == 4 && m[1].fderr == 0, "...the next packet "
	    "is not affected");
	is_int(count_fds(), base, "...and the fd that did arrive was closed");

	ok(fdpass_send(sv[0], "abc", 3, fds, 2, 0) == 0, "with fds back, "
	    "send 2 fds");
	r = fdpass_recv(sv[1], buf, sizeof(buf), got, &n, 0);
	ok(r == 3 && n == 2, "...both arrive");
	fdpass_close(got, n);
	close(sv[0]);
	close(sv[1]);
	close(fds[0]);
	close(fds[1]);
}

/* A device's shard setting, as msivd.conf(5) and msivctl attach take it. */
static void
test_shard_parse(void)
{
	static const char *const bad[] = {
		"", "64", "-1", "+1", " 1", "1x", "Auto", "99999999999",
	};
	uint32_t f = 1;

	ok(msiv_shard_parse("auto", &f) == 0 && f == 0, "shard auto: 0");
	ok(msiv_shard_parse("spread", &f) == 0 &&
	    f == MSIV_ATTACH_SHARD(MSIV_ATTACH_SHARD_SPREAD), "shard spread");
	ok(msiv_shard_parse("0", &f) == 0 &&
	    f == MSIV_ATTACH_SHARD(MSIV_ATTACH_SHARD_FIXED), "shard 0");
	ok(msiv_shard_parse("63", &f) == 0 &&
	    f == MSIV_ATTACH_SHARD(MSIV_ATTACH_SHARD_FIXED + 63), "shard 63");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(msiv_shard_parse(bad[i], &f), -EINVAL, "shard \"%s\": "
		    "EINVAL", bad[i]);
}

int
main(void)
{
	test_table();
	test_header();
	test_check_req();
	test_swap();
	test_names();
	test_shard_parse();
	test_fdpass();
	test_fdpass_emfile();
	return tap_done();
}
