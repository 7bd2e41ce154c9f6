/*
 * Fuzz target: msivd's message decoder and command dispatch, in process.
 * With --enable-fuzzing (clang) it is a libFuzzer binary; without it,
 * fuzz-main.c runs it over the seed corpus in make check.
 *
 * Input framing (fuzz.h, doc/fuzzing.md), repeated until the input ends:
 *
 *	len:u16 (little-endian)  flags:u8  body[len & 0x7fff]
 *
 * one record per packet. Bit 15 of len sends it on the input's second
 * session, B (a tenant), instead of A (an admin). flags & 0x07 picks the
 * fds sent with it (none, an eventfd, two, a pipe end, /dev/null, an
 * eventfd and a pipe end, 8 or 9 eventfds); 0x08 HDR: the body is
 * opcode:u8 + payload and the harness writes a valid header; 0x10 EXACT:
 * the payload is cut or zero-padded to the opcode's request length; 0x20
 * HANDLE: the payload's first 8 bytes become a vfunc handle opened earlier
 * in the input; 0x40 BATCH: the next record goes in the same turn of the
 * daemon's loop; 0x80 NOREAD: the client stops reading replies.
 *
 * Set-up, once (LLVMFuzzerInitialize): the daemon's pieces in the order
 * main() starts them (daemon/main.c), with these differences:
 *  - the embedded device set (sim0, 2048 slots), and one [tenant]
 *    section, "tenant1": sim0 only, 8 vfuncs, 512 vectors;
 *  - the store in a private directory, $TMPDIR/msiv-fuzz-XXXXXX, or under
 *    /dev/shm without TMPDIR (tmpfs: a commit's fsync costs nothing);
 *    removed at exit;
 *  - orphan_grace 0, so a session that ends releases its vfuncs at once
 *    and no vfunc outlives its input;
 *  - write_behind_ms of an hour, so the write-behind timer never fires by
 *    itself: the harness flushes the write-behind queue once the daemon is
 *    idle after each record, as if the timer had fired between two
 *    messages. Both paths run, always at the same point of an input;
 *  - max_queued 64, and a small send buffer on the daemon's end of each
 *    session, so a client that stops reading (NOREAD) reaches EAGAIN, the
 *    write event and the cap within a few dozen packets;
 *  - log level "error" (MSIV_FUZZ_LOG=debug shows the daemon's log when
 *    a reproducer is examined; MSIV_FUZZ_TRACE=1 shows every packet);
 *  - no listener, no uevent listener, no privilege drop: the sessions are
 *    socketpairs served through server_adopt() like accepted connections.
 *    Their peer is this process, the daemon's own uid, so server_adopt()
 *    makes both admins; B is then given what session_new() gives a peer
 *    of another uid that tenant1 admits (no rights, tenants_ok bit 0).
 *  - The delivery thread runs, so SIM_FIRE and the trigger fds reach
 *    vector_fire(), pending bits and their replays. Once the daemon is
 *    idle after a record, deliver_sync() waits until the thread has dealt
 *    with every interrupt raised before it: delivery, too, happens at the
 *    same point of every run of an input.
 *
 * SHUTDOWN only makes event_base_loop() return (event_base_loopexit);
 * the next call clears that, so it ends nothing here.
 *
 * Beyond the sanitizers, the harness checks, and aborts (libFuzzer keeps
 * the input) when
 *  - a packet the daemon sends is malformed: its header does not decode,
 *    its status is not 0 or a negative errno, or its length or fd count is
 *    not what the codec table (lib/proto.c) says;
 *  - B sees what is not its own (msiv-protocol(7): another tenant's vfunc
 *    is as absent as one that never existed): a request of B that names
 *    A's vfunc succeeds, or fails with what tells that it exists
 *    (EKEYREVOKED, ENODEV); its VFUNC_LIST or SESSION_LIST shows another
 *    session's; its DEVICE_LIST a device its tenant may not use;
 *  - the daemon does not go idle within FUZZ_ROUNDS_MAX turns;
 *  - a vfunc or a slot is still in use once the sessions are gone;
 *  - an fd stays open: the process must hold as many as when the input
 *    started.
 *
 * Between inputs the harness puts the daemon back as it was: devices
 * attached by an input are detached (and forgotten by the store), and a
 * device whose trigger fds were created (sim creates them on first use)
 * or that an input detached is created afresh. Only the store's tenants
 * (one row per tenant name seen) carry over.
 */
#include "config.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd.h"
#include "conf.h"
#include "deliver.h"
#include "device.h"
#include "fdpass.h"
#include "fuzz.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "store.h"
#include "vfunc.h"

#define FUZZ_ROUNDS_MAX 10000  /* loop turns before "does not settle" */
#define FUZZ_HANDLES_MAX 16
#define FUZZ_FOREIGN_MAX 64    /* B's requests naming A's vfuncs, in flight */
#define FUZZ_MAX_QUEUED 64
#define FUZZ_SNDBUF 8192       /* the kernel doubles it: 16 KiB, a few
				  dozen small replies */
#define FUZZ_TENANT_UID 65534  /* who B stands for (tenant1's uids) */

enum fuzz_who {
	FUZZ_A = 0,            /* admin */
	FUZZ_B = 1,            /* tenant1 */
};

struct fuzz_client {
	enum fuzz_who who;
	int open;              /* adopted (B: at its first record) */
	int fd;                /* our end; -1 once closed */
	int dfd;               /* the daemon's end: the session's fd */
	uint64_t id;           /* the session's id */
	int noread;            /* NOREAD: replies are left unread */
};

struct fuzz_input {
	struct fuzz_client c[2];
	uint32_t nhandles;
	uint64_t handles[FUZZ_HANDLES_MAX];
	enum fuzz_who owner[FUZZ_HANDLES_MAX];
	uint32_t nforeign;     /* seqs of B's requests naming A's vfuncs */
	uint32_t foreign[FUZZ_FOREIGN_MAX];
};

static struct event_base *fuzz_base;
static struct conf fuzz_conf;
static char fuzz_dir[PATH_MAX - 32];
/* fds open when the input starts. Counted again for every input, as
 * libFuzzer opens some of its own between inputs (the pipes to
 * llvm-symbolizer once it prints a NEW_FUNC line). */
static int fuzz_nfds;
static int fuzz_trace; /* MSIV_FUZZ_TRACE: packets to stderr */

__attribute__((format(printf, 1, 2), noreturn)) static void
fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz-dispatch: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* How many fds the process holds; with show, what they are (stderr). */
static int
fuzz_count_fds(int show)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], link[256];
	ssize_t len;
	int n = 0;

	if (d == NULL)
		fuzz_fail("/proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		if (!show)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		link[len < 0 ? 0 : len] = '\0';
		fprintf(stderr, "fuzz: fd %s: %s\n", e->d_name, link);
	}
	closedir(d);
	return n;
}

/* --- set-up and tear-down -------------------------------------------------*/

static void
fuzz_teardown(void)
{
	static const char *const files[] = {
		"msivd.db", "msivd.db-wal", "msivd.db-shm",
	};
	char path[PATH_MAX];

	/* main()'s stage 6. */
	server_shutdown();
	store_close();
	deliver_stop();
	device_destroy_all();
	event_base_free(fuzz_base);
	fuzz_base = NULL;
	libevent_global_shutdown();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fuzz_dir, files[i]);
		(void)unlink(path);
	}
	(void)rmdir(fuzz_dir);
}

/* The embedded default (stage 1), with the changes said at the top. */
static void
fuzz_configure(enum log_level level)
{
	struct conf_tenant *t = &fuzz_conf.tenants[0];

	conf_defaults(&fuzz_conf);
	conf_embedded_devices(&fuzz_conf);
	fuzz_conf.log_level = level;
	fuzz_conf.orphan_grace = 0;
	fuzz_conf.write_behind_ms = 3600 * 1000;
	fuzz_conf.max_queued = FUZZ_MAX_QUEUED;
	snprintf(fuzz_conf.state_dir, sizeof(fuzz_conf.state_dir), "%s",
	    fuzz_dir);
	fuzz_conf.ntenants = 1;
	snprintf(t->name, sizeof(t->name), "tenant1");
	t->nuids = 1;
	t->uids[0] = FUZZ_TENANT_UID;
	t->ndevices = 1;
	snprintf(t->devices[0], sizeof(t->devices[0]), "sim0");
	t->max_vfuncs = 8;
	t->max_vectors = 512;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *level_name = getenv("MSIV_FUZZ_LOG");
	const char *tmp = getenv("TMPDIR");
	enum log_level level = LOG_LEVEL_ERROR;
	char err[1024];
	enum store_error e;
	int r;

	(void)argc;
	(void)argv;
	if (fuzz_base != NULL)
		return 0;
	if (level_name != NULL && log_level_parse(level_name, &level) < 0)
		fuzz_fail("MSIV_FUZZ_LOG: error, warning, info or debug");
	fuzz_trace = getenv("MSIV_FUZZ_TRACE") != NULL;
	if (tmp == NULL || *tmp == '\0')
		tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" :
		    "/tmp";
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/msiv-fuzz-XXXXXX", tmp);
	if (mkdtemp(fuzz_dir) == NULL)
		fuzz_fail("mkdtemp %s: %s", fuzz_dir, strerror(errno));

	/* Stage 1. */
	fuzz_configure(level);
	log_init(1, level);
	signal(SIGPIPE, SIG_IGN);

	/* Stage 2, without the listener and the uevent listener. The store
	 * is new, so there are no stored devices or vfuncs to load. */
	if (evthread_use_pthreads() < 0)
		fuzz_fail("libevent: no pthreads support");
	fuzz_base = event_base_new();
	if (fuzz_base == NULL || event_base_priority_init(fuzz_base, 3) < 0)
		fuzz_fail("libevent: cannot create the event base");
	if ((r = deliver_init("auto", 1)) < 0)
		fuzz_fail("delivery loop: %s", strerror(-r));
	if (server_init(fuzz_base, &fuzz_conf, cmd_table) < 0)
		fuzz_fail("server_init failed");
	for (uint32_t i = 0; i < fuzz_conf.ndevices; i++)
		if (device_create(&fuzz_conf.devices[i], NULL) < 0)
			fuzz_fail("device %s: cannot create it",
			    fuzz_conf.devices[i].name);
	e = store_open(fuzz_conf.state_dir, fuzz_base, err, sizeof(err));
	if (e != STORE_OK)
		fuzz_fail("%s", err);

	/* Stage 5. */
	if ((r = deliver_start()) < 0)
		fuzz_fail("cannot start the delivery thread: %s", strerror(-r));
	if (atexit(fuzz_teardown) != 0)
		fuzz_fail("atexit");
	return 0;
}

/* --- the sessions ---------------------------------------------------------*/

/* The session, while the daemon has it (until session_end). */
static struct session *
fuzz_session(const struct fuzz_client *c)
{
	struct session *s;

	if (!c->open)
		return NULL;
	TAILQ_FOREACH(s, &sessions, entry)
		if (s->fd == c->dfd)
			return s;
	return NULL;
}

static void
fuzz_connect(struct fuzz_client *c)
{
	struct session *s;
	int sv[2], sz = FUZZ_SNDBUF;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0, sv) < 0)
		fuzz_fail("socketpair: %s", strerror(errno));
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) < 0)
		fuzz_fail("SO_SNDBUF: %s", strerror(errno));
	c->fd = sv[1];
	c->dfd = sv[0];
	c->open = 1;
	server_adopt(sv[0]);
	if ((s = fuzz_session(c)) == NULL)
		fuzz_fail("server_adopt did not take the session");
	c->id = s->id;
	if (c->who == FUZZ_B) {
		/* What session_new() sets for a peer of another uid that
		 * tenant1 admits. */
		s->rights = 0;
		s->tenants_ok = 1;
		s->denied = 0;
	}
}

/* --- what the daemon sends ------------------------------------------------*/

/* Does the request of B with this seq name one of A's vfuncs? */
static int
fuzz_foreign(struct fuzz_input *in, uint32_t seq)
{
	for (uint32_t i = 0; i < in->nforeign; i++)
		if (in->foreign[i] == seq) {
			in->foreign[i] = in->foreign[--in->nforeign];
			return 1;
		}
	return 0;
}

/* B's listings show only what is its own. */
static void
fuzz_check_listing(const struct fuzz_client *c, const struct msiv_hdr *h,
    const unsigned char *p, uint32_t count)
{
	const struct session *s = fuzz_session(c);

	for (uint32_t i = 0; i < count && s != NULL; i++) {
		const unsigned char *r = p + sizeof(struct msiv_page) +
		    (size_t)i * msiv_proto_op(h->opcode)->rep_len;
		struct msiv_vfunc_rec vr;
		struct msiv_session_rec sr;
		struct msiv_device_rec dr;

		switch (h->opcode) {
		case MSIV_OP_VFUNC_LIST:
			/* Its own, or its tenant's orphans. */
			memcpy(&vr, r, sizeof(vr));
			if (le64toh(vr.session) != c->id && (vr.session != 0 ||
			    strncmp(vr.tenant, s->tenant, MSIV_NAME_MAX) != 0))
				fuzz_fail("VFUNC_LIST of session %llu (tenant "
				    "%.32s) shows vfunc %016llx of session "
				    "%llu (tenant %.32s)",
				    (unsigned long long)c->id,
				    s->tenant, (unsigned long long)
				    le64toh(vr.vfunc), (unsigned long long)
				    le64toh(vr.session), vr.tenant);
			break;
		case MSIV_OP_SESSION_LIST:
			memcpy(&sr, r, sizeof(sr));
			if (le64toh(sr.session) != c->id)
				fuzz_fail("SESSION_LIST of session %llu shows "
				    "session %llu", (unsigned long long)c->id,
				    (unsigned long long)le64toh(sr.session));
			break;
		case MSIV_OP_DEVICE_LIST:
			memcpy(&dr, r, sizeof(dr));
			dr.name[MSIV_NAME_MAX - 1] = '\0';
			if (s->policy != NULL &&
			    !conf_tenant_device(s->policy, dr.name))
				fuzz_fail("DEVICE_LIST of tenant %.32s shows "
				    "%s", s->tenant, dr.name);
			break;
		default:
			return;
		}
	}
}

/* An error reply's reason: printable text, NUL terminated and padded.
 * B naming A's vfunc is told what a made-up handle gets ("no vfunc
 * HANDLE", " in this session" where the lookup is the session's), nothing
 * of A. */
static void
fuzz_check_reason(const struct msiv_hdr *h, const unsigned char *p,
    int foreign)
{
	size_t n = strnlen((const char *)p, sizeof(struct msiv_error_rep));

	if (n == 0 || n == sizeof(struct msiv_error_rep))
		fuzz_fail("%s reply: a reason empty or not NUL terminated",
		    msiv_proto_opname(h->opcode));
	for (size_t i = 0; i < sizeof(struct msiv_error_rep); i++)
		if (i < n ? p[i] < 0x20 || p[i] > 0x7e : p[i] != 0)
			fuzz_fail("%s reply: reason byte %zu is 0x%02x",
			    msiv_proto_opname(h->opcode), i, p[i]);
	if (foreign && h->status == -ENOENT &&
	    (n < 25 || strncmp((const char *)p, "no vfunc ", 9) != 0 ||
	    strspn((const char *)p + 9, "0123456789abcdef") != 16 ||
	    (n != 25 && strcmp((const char *)p + 25, " in this session") !=
	    0)))
		fuzz_fail("%s reply to B on A's vfunc: \"%s\"",
		    msiv_proto_opname(h->opcode), p);
}

/* Every packet from the daemon is well formed (msiv-protocol(7)); B sees
 * nothing of A. */
static void
fuzz_check_packet(struct fuzz_input *in, struct fuzz_client *c,
    const unsigned char *pkt, size_t n, size_t nfds)
{
	const struct msiv_opinfo *oi;
	struct msiv_hdr h;
	uint32_t count = 0;
	uint64_t id;
	int foreign;

	if (msiv_hdr_decode(pkt, n, &h) != 0)
		fuzz_fail("the daemon sent a malformed header (%zu bytes)", n);
	if (fuzz_trace)
		fprintf(stderr, "fuzz: %c< %s %s seq %u status %d (%s), %u "
		    "bytes, %zu fds\n", "AB"[c->who], h.flags == MSIV_F_EVENT ?
		    "event" : "reply", h.flags == MSIV_F_EVENT ? (h.opcode ==
		    MSIV_EV_MSG_CHANGED ? "MSG_CHANGED" : "VFUNC_GONE") :
		    msiv_proto_opname(h.opcode), h.seq, h.status, h.status < 0 ?
		    strerror(-h.status) : "ok", h.len, nfds);
	if (h.flags == MSIV_F_EVENT) {
		if (h.seq != 0 || h.status != 0 || nfds != 0 ||
		    msiv_proto_event_len(h.opcode) == 0 ||
		    h.len != msiv_proto_event_len(h.opcode))
			fuzz_fail("event %u: seq %u, status %d, %u bytes, %zu "
			    "fds", h.opcode, h.seq, h.status, h.len, nfds);
		return;
	}
	if (h.flags != MSIV_F_REPLY)
		fuzz_fail("a packet with flags 0x%x", h.flags);
	if (h.status > 0)
		fuzz_fail("%s reply: status %d is neither 0 nor -errno",
		    msiv_proto_opname(h.opcode), h.status);
	foreign = c->who == FUZZ_B && fuzz_foreign(in, h.seq);
	if (foreign && (h.status == 0 || h.status == -EKEYREVOKED ||
	    h.status == -ENODEV))
		fuzz_fail("%s of session B on a vfunc of session A: status %d, "
		    "not as if it did not exist", msiv_proto_opname(h.opcode),
		    h.status);
	oi = msiv_proto_op(h.opcode);
	if (h.status < 0) {
		if ((h.len != 0 && h.len != sizeof(struct msiv_error_rep)) ||
		    nfds != 0)
			fuzz_fail("%s reply: status %d with %u bytes, %zu fds",
			    msiv_proto_opname(h.opcode), h.status, h.len, nfds);
		if (h.len != 0)
			fuzz_check_reason(&h, pkt + sizeof(h), foreign);
		return;
	}
	if ((oi = msiv_proto_op(h.opcode)) == NULL)
		fuzz_fail("success reply to opcode %u, which does not exist",
		    h.opcode);
	if (nfds > oi->rep_fds)
		fuzz_fail("%s reply: %zu fds", oi->name, nfds);
	if (oi->paged) {
		if (h.len < sizeof(struct msiv_page))
			fuzz_fail("%s reply: %u bytes, no page", oi->name,
			    h.len);
		memcpy(&count, pkt + sizeof(h), sizeof(count));
		count = le32toh(count);
		if (h.len != sizeof(struct msiv_page) +
		    (uint64_t)count * oi->rep_len)
			fuzz_fail("%s reply: %u bytes for %u records", oi->name,
			    h.len, count);
		if (c->who == FUZZ_B)
			fuzz_check_listing(c, &h, pkt + sizeof(h), count);
	} else if (h.len != oi->rep_len)
		fuzz_fail("%s reply: %u bytes, not %u", oi->name, h.len,
		    oi->rep_len);
	if (h.opcode == MSIV_OP_VFUNC_OPEN &&
	    in->nhandles < FUZZ_HANDLES_MAX) {
		memcpy(&id, pkt + sizeof(h), sizeof(id));
		in->owner[in->nhandles] = c->who;
		in->handles[in->nhandles++] = le64toh(id);
	}
}

/* Read and check what the daemon sent; close the fds that came with it. */
static void
fuzz_drain(struct fuzz_input *in, struct fuzz_client *c)
{
	unsigned char buf[MSIV_MSG_MAX];
	int fds[MSIV_FDS_MAX];
	size_t nfds;
	ssize_t n;

	while (c->fd >= 0) {
		n = fdpass_recv(c->fd, buf, sizeof(buf), fds, &nfds,
		    MSG_DONTWAIT);
		if (n == -EMSGSIZE || n == -EBADMSG)
			fuzz_fail("the daemon sent a packet over %u bytes or "
			    "with over %u fds", MSIV_MSG_MAX, MSIV_FDS_MAX);
		if (n <= 0)
			return; /* EAGAIN; or the session ended */
		fuzz_check_packet(in, c, buf, (size_t)n, nfds);
		fdpass_close(fds, nfds);
	}
}

/* --- running the daemon ---------------------------------------------------*/

/* Has the daemon work left with this session? */
static int
fuzz_busy(const struct fuzz_client *c)
{
	struct session *s = fuzz_session(c);
	int unread = 0;

	if (s == NULL)
		return 0;
	if (c->fd < 0)
		return 1; /* it has not seen the end yet */
	/* Packets it has not read (for AF_UNIX, SIOCOUTQ counts what the
	 * peer has not consumed); replies it holds until we read. */
	if (ioctl(c->fd, SIOCOUTQ, &unread) < 0)
		fuzz_fail("SIOCOUTQ: %s", strerror(errno));
	return unread > 0 || (!c->noread && s->outq_len > 0);
}

static int
fuzz_busy_all(const struct fuzz_input *in)
{
	/* Callbacks due (the once-events that free a session and stop the
	 * loop among them), or the turn's transaction not committed. */
	return event_base_get_num_events(fuzz_base,
	    EVENT_BASE_COUNT_ACTIVE) > 0 || store_in_txn() ||
	    fuzz_busy(&in->c[FUZZ_A]) || fuzz_busy(&in->c[FUZZ_B]);
}

/*
 * Run the daemon until it is idle: every packet sent is handled, its
 * transaction committed, the replies read (unless NOREAD), the interrupts
 * raised delivered, and the write-behind queue written.
 */
static void
fuzz_settle(struct fuzz_input *in)
{
	for (int round = 0;; round++) {
		if (round == FUZZ_ROUNDS_MAX)
			fuzz_fail("the daemon is still busy after %d turns of "
			    "its loop", round);
		(void)event_base_loop(fuzz_base, EVLOOP_NONBLOCK);
		for (int i = 0; i < 2; i++)
			if (!in->c[i].noread)
				fuzz_drain(in, &in->c[i]);
		if (fuzz_busy_all(in))
			continue;
		deliver_sync();
		vfunc_flush_behind(); /* what the timer would do */
		if (!fuzz_busy_all(in))
			return;
	}
}

/* --- what the client sends ------------------------------------------------*/

static int
fuzz_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	if (fd < 0)
		fuzz_fail("eventfd: %s", strerror(errno));
	return fd;
}

/* One end of a new pipe (0: read, 1: write); the other is closed. */
static int
fuzz_pipe_end(int end)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		fuzz_fail("pipe: %s", strerror(errno));
	close(p[!end]);
	return p[end];
}

static size_t
fuzz_make_fds(enum fuzz_fds sel, int *fds)
{
	size_t n = 0;

	switch (sel) {
	case FUZZ_FDS_NONE:
		break;
	case FUZZ_FDS_EVENTFD:
		fds[n++] = fuzz_eventfd();
		break;
	case FUZZ_FDS_EVENTFD2:
		fds[n++] = fuzz_eventfd();
		fds[n++] = fuzz_eventfd();
		break;
	case FUZZ_FDS_PIPE:
		fds[n++] = fuzz_pipe_end(0);
		break;
	case FUZZ_FDS_FILE:
		if ((fds[n++] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
			fuzz_fail("/dev/null: %s", strerror(errno));
		break;
	case FUZZ_FDS_EVENTFD_PIPE:
		fds[n++] = fuzz_eventfd();
		fds[n++] = fuzz_pipe_end(1);
		break;
	case FUZZ_FDS_MAXFDS:
	case FUZZ_FDS_TOOMANY:
		while (n < (sel == FUZZ_FDS_MAXFDS ? MSIV_FDS_MAX :
		    FUZZ_FDS_MOST))
			fds[n++] = fuzz_eventfd();
		break;
	}
	return n;
}

/*
 * sendmsg() itself rather than fdpass_send(): a packet here may carry more
 * fds than the protocol allows (FUZZ_FDS_TOOMANY), which fdpass refuses
 * to send. Returns 0 or -errno.
 */
static int
fuzz_sendmsg(int sock, const unsigned char *pkt, size_t len, const int *fds,
    size_t nfds)
{
	union {
		char buf[CMSG_SPACE(FUZZ_FDS_MOST * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = {
		.iov_base = (void *)(uintptr_t)pkt, .iov_len = len,
	};
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		if ((cmsg = CMSG_FIRSTHDR(&msg)) == NULL)
			return -EINVAL;
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
	}
	if (sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

/* Send a packet with its fds (closed here once sent). Returns 0, or
 * -errno when the packet cannot go (the session has ended). */
static int
fuzz_send(struct fuzz_input *in, struct fuzz_client *c,
    const unsigned char *pkt, size_t len, enum fuzz_fds sel)
{
	int fds[FUZZ_FDS_MOST];
	size_t nfds;
	int r;

	nfds = fuzz_make_fds(sel, fds);
	r = fuzz_sendmsg(c->fd, pkt, len, fds, nfds);
	if (r == -EAGAIN) {
		/* BATCH records filled the socket: let the daemon read. */
		fuzz_settle(in);
		r = fuzz_sendmsg(c->fd, pkt, len, fds, nfds);
	}
	if (fuzz_trace) {
		struct msiv_hdr h;
		int d = msiv_hdr_decode(pkt, len, &h);

		fprintf(stderr, "fuzz: %c> %s seq %u, %zu bytes, %zu fds%s\n",
		    "AB"[c->who], d == -EPROTO ? "(not msiv)" :
		    msiv_proto_opname(h.opcode), d == -EPROTO ? 0 : h.seq, len,
		    nfds, r < 0 ? ": not sent" : "");
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	return r;
}

/*
 * DEVICE_ATTACH of a vfio device opens the PCI device if it is bound to
 * vfio-pci on this host: a real device, perhaps some VM's. Such a request
 * gets an empty backend (the daemon refuses it: EINVAL). Requests for
 * devices that are not bound go through and fail as on any host without
 * them.
 */
static void
fuzz_no_real_device(unsigned char *pkt, size_t len)
{
	struct msiv_attach_req rq;
	char address[sizeof(rq.address) + 1];
	uint16_t op;

	if (len != sizeof(struct msiv_hdr) + sizeof(rq))
		return;
	memcpy(&op, pkt + offsetof(struct msiv_hdr, opcode), sizeof(op));
	if (le16toh(op) != MSIV_OP_DEVICE_ATTACH)
		return;
	memcpy(&rq, pkt + sizeof(struct msiv_hdr), sizeof(rq));
	if (strncmp(rq.backend, "vfio", sizeof(rq.backend)) != 0)
		return;
	memcpy(address, rq.address, sizeof(rq.address));
	address[sizeof(rq.address)] = '\0';
	if (vfio_pci_bound(address))
		memset(pkt + sizeof(struct msiv_hdr) +
		    offsetof(struct msiv_attach_req, backend), 0,
		    sizeof(rq.backend));
}

/* Requests whose first field is the handle of a vfunc of the session. */
static int
fuzz_names_vfunc(unsigned int op)
{
	switch (op) {
	case MSIV_OP_VFUNC_CLOSE:
	case MSIV_OP_VFUNC_ENABLE:
	case MSIV_OP_VFUNC_FMASK:
	case MSIV_OP_VFUNC_RESET:
	case MSIV_OP_VEC_SETUP:
	case MSIV_OP_VEC_MASK:
	case MSIV_OP_VEC_UNMASK:
	case MSIV_OP_VEC_RETARGET:
	case MSIV_OP_VEC_FREE:
	case MSIV_OP_VEC_QUERY:
	case MSIV_OP_TABLE_WRITE:
	case MSIV_OP_TABLE_READ:
	case MSIV_OP_VEC_LIST:
	case MSIV_OP_IRQ_AFFINITY:
		return 1;
	default:
		return 0;
	}
}

/* Make record seq's packet for session c from its flags and body;
 * returns its length. */
static size_t
fuzz_packet(struct fuzz_input *in, const struct fuzz_client *c,
    unsigned int flags, const uint8_t *body, size_t blen, uint32_t seq,
    unsigned char *pkt)
{
	const size_t hlen = sizeof(struct msiv_hdr);
	size_t len;

	if (flags & FUZZ_F_HDR) {
		struct msiv_hdr h = {
			.magic = MSIV_PROTO_MAGIC,
			.version = MSIV_PROTO_VERSION,
			.opcode = blen > 0 ? body[0] : 0,
			.seq = seq,
		};
		const struct msiv_opinfo *oi = msiv_proto_op(h.opcode);
		size_t plen = blen > 0 ? blen - 1 : 0, copy;

		if (plen > FUZZ_PKT_MAX - hlen)
			plen = FUZZ_PKT_MAX - hlen;
		copy = plen;
		if ((flags & FUZZ_F_EXACT) && oi != NULL) {
			plen = oi->req_len;
			copy = copy < plen ? copy : plen;
		}
		if (copy > 0)
			memcpy(pkt + hlen, body + 1, copy);
		memset(pkt + hlen + copy, 0, plen - copy);
		h.len = (uint32_t)plen;
		msiv_hdr_encode(&h, pkt);
		len = hlen + plen;
	} else {
		len = blen < FUZZ_PKT_MAX ? blen : FUZZ_PKT_MAX;
		if (len > 0)
			memcpy(pkt, body, len);
	}
	/* The payload starts after the header either way. */
	if ((flags & FUZZ_F_HANDLE) && in->nhandles > 0 &&
	    len >= hlen + sizeof(uint64_t)) {
		uint32_t k = pkt[hlen] % in->nhandles;
		uint64_t id = htole64(in->handles[k]);
		unsigned int op = pkt[4] | (unsigned int)pkt[5] << 8;

		memcpy(pkt + hlen, &id, sizeof(id));
		/* B names A's vfunc. The header is ours, so is its seq: the
		 * reply is checked. */
		if (c->who == FUZZ_B && in->owner[k] != FUZZ_B &&
		    (flags & FUZZ_F_HDR) && fuzz_names_vfunc(op) &&
		    in->nforeign < FUZZ_FOREIGN_MAX)
			in->foreign[in->nforeign++] = seq;
	}
	fuzz_no_real_device(pkt, len);
	return len;
}

/* --- one input -------------------------------------------------------------*/

static int
fuzz_configured(const struct device *dev)
{
	for (uint32_t i = 0; i < fuzz_conf.ndevices; i++)
		if (strcmp(fuzz_conf.devices[i].name, dev->name) == 0)
			return 1;
	return 0;
}

/* Did the input create trigger fds on the device (sim: on first use)? */
static int
fuzz_triggers(const struct device *dev)
{
	for (uint32_t i = 0; i < dev->nslots; i++) {
		const struct slot *s = device_slot(dev, i);

		if (s != NULL && s->trigger >= 0)
			return 1;
	}
	return 0;
}

/* The sessions are gone: check that they left nothing, and put the
 * devices back as configured. */
static void
fuzz_reset(struct fuzz_input *in)
{
	struct device *dev, *next;
	int n;

	/* A vfunc put back after a failed commit may be orphaned; grace is
	 * 0, so the reaper (every second) would release it. */
	(void)vfunc_reap(server_now_ms(), 0);
	if (vfunc_count() != 0)
		fuzz_fail("%u vfunc(s) outlive their session (orphan_grace 0)",
		    vfunc_count());
	for (dev = TAILQ_FIRST(&devices); dev != NULL; dev = next) {
		next = TAILQ_NEXT(dev, entry);
		if (dev->used != 0)
			fuzz_fail("device %s: %u slots in use and no vfunc",
			    dev->name, dev->used);
		if (fuzz_configured(dev) && !fuzz_triggers(dev))
			continue;
		if (!fuzz_configured(dev))
			(void)store_device_del(dev->name);
		device_destroy(dev);
	}
	for (uint32_t i = 0; i < fuzz_conf.ndevices; i++)
		if (device_find(fuzz_conf.devices[i].name) == NULL &&
		    device_create(&fuzz_conf.devices[i], NULL) < 0)
			fuzz_fail("device %s: cannot create it again",
			    fuzz_conf.devices[i].name);
	fuzz_settle(in); /* commit the store_device_del()s */
	if ((n = fuzz_count_fds(0)) != fuzz_nfds && fuzz_count_fds(1) > 0)
		fuzz_fail("%d fds open after the input, %d before it", n,
		    fuzz_nfds);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char pkt[FUZZ_PKT_MAX];
	static struct fuzz_input in;
	uint32_t seq = 0;

	if (fuzz_base == NULL)
		(void)LLVMFuzzerInitialize(NULL, NULL);
	fuzz_nfds = fuzz_count_fds(0);
	memset(&in, 0, sizeof(in));
	in.c[FUZZ_A].who = FUZZ_A;
	in.c[FUZZ_B].who = FUZZ_B;
	in.c[FUZZ_A].fd = in.c[FUZZ_B].fd = -1;
	fuzz_connect(&in.c[FUZZ_A]);
	while (size >= FUZZ_REC_HDR) {
		unsigned int rlen = data[0] | (unsigned int)data[1] << 8;
		unsigned int flags = data[2];
		struct fuzz_client *c = &in.c[rlen & FUZZ_LEN_B ? FUZZ_B :
		    FUZZ_A];
		size_t blen = rlen & FUZZ_LEN_MASK, len;

		data += FUZZ_REC_HDR;
		size -= FUZZ_REC_HDR;
		if (blen > size)
			blen = size;
		if (!c->open)
			fuzz_connect(c);
		len = fuzz_packet(&in, c, flags, data, blen, ++seq, pkt);
		data += blen;
		size -= blen;
		/* A session the daemon ended takes no more; the other may. */
		if (c->fd < 0 || fuzz_send(&in, c, pkt, len,
		    (enum fuzz_fds)(flags & FUZZ_FDS_MASK)) < 0)
			continue;
		c->noread = (flags & FUZZ_F_NOREAD) != 0;
		if (!(flags & FUZZ_F_BATCH))
			fuzz_settle(&in);
	}
	fuzz_settle(&in);
	for (int i = 0; i < 2; i++)
		if (in.c[i].fd >= 0) {
			close(in.c[i].fd);
			in.c[i].fd = -1;
		}
	fuzz_settle(&in); /* the sessions see the end and are freed */
	fuzz_reset(&in);
	return 0;
}
