/*
 * msiv-vfu: a vfio-user server that gives an unmodified VMM (QEMU's
 * vfio-user-pci) a PCI function whose MSI-X vectors are the vectors of a
 * vfunc on msivd. It runs as the VMM's user, an ordinary tenant of msivd
 * (msiv-vfu(1)).
 *
 *   msiv-vfu --listen PATH --device NAME [--vectors N] [--tenant NAME]
 *            [--socket MSIVD_SOCKET] [--token-file FILE]
 *            [--vendor-id HEX] [--device-id HEX] [--reserve] [--orphan]
 *            [--once] [--debug]
 *
 * The vfunc binds a slot to a vector when QEMU first sets it up (the
 * guest's first unmask) and gives it back when the vector is freed
 * (VFUNC_OPEN with MSIV_OPEN_LAZY); --reserve reserves all of them when
 * the VMM connects. A setup the device has no slot left for is refused
 * with ENOSPC: QEMU logs the error and the vector stays unbacked, its
 * interrupts latched pending on msivd (msiv-vfu(1)).
 *
 * One VMM at a time, and never a migration destination (a QEMU started
 * with -incoming): the vector state cannot follow a VM to another host.
 * The vfunc is opened when the VMM connects and closed
 * when it goes away; msiv-vfu then waits for the next one (--once: exits).
 * --orphan keeps it instead: reset (its vectors freed) for the next VMM,
 * and, when msiv-vfu exits, left to msivd's orphan_grace for the next
 * msiv-vfu of the tenant, which takes it over with the token file.
 * When msivd restarts, msiv-vfu reconnects with its tenant's resume token
 * (kept in a 0600 file) and libmsiv attaches the eventfds again; the VMM
 * notices nothing. A vfunc taken away (revoked, device removed) ends the
 * VMM's connection and msiv-vfu exits with status 3.
 *
 * The wire format is vfu-proto.h, decoded by vfu-msg.c; the function is
 * vfu-dev.c. This file is the sockets, the options and the libmsiv backend.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <msiv/msiv.h>

#include "vfu-dev.h"
#include "vfu-msg.h"

/* Exit statuses (msiv-vfu(1)) */
#define EXIT_USAGE   2
#define EXIT_GONE    3  /* the vfunc was taken away */

/* The message of the vectors set up on the vfunc: QEMU never passes the
 * guest's MSI address/data on, so msivd gets a nominal one (only its
 * MSG_CHANGED events would show it, and nothing here asks for them). */
#define VFU_NOMINAL_ADDR 0xfee00000u

/* Default PCI IDs: in the 0x1234 vendor range QEMU's own test devices
 * use, matched by no Linux driver; class ff (unassigned). */
#define VFU_DEFAULT_VENDOR 0x1234u
#define VFU_DEFAULT_DEVICE 0x4d56u

struct vfu {
	const char *listen_path, *device, *tenant, *msivd, *token_file;
	unsigned int nvec;
	uint16_t vendor, devid;
	int once, debug, reserve, orphan;
	struct msiv_conn *conn;
	uint64_t vfunc;      /* 0: none open */
	int gone;            /* the vfunc was taken away */
	int resumed;         /* msivd restarted: state to give it again */
	int lfd, cfd;        /* listening socket, the VMM's connection */
	pid_t refused;       /* cfd is a migration destination, refused */
	struct vfu_dev dev;
};

static volatile sig_atomic_t vfu_quit;

static void
vfu_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("msiv-vfu: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* --- the vfunc, through libmsiv (vfu_backend) -----------------------------*/

static int
be_enable(void *arg, int on)
{
	struct vfu *v = arg;

	return msiv_vfunc_enable(v->conn, v->vfunc, on);
}

static int
be_reset(void *arg)
{
	struct vfu *v = arg;

	return msiv_vfunc_reset(v->conn, v->vfunc);
}

static int
be_attach(void *arg, unsigned int vector, int fd, int first)
{
	struct vfu *v = arg;
	int r;

	if (first) {
		r = msiv_vector_setup(v->conn, v->vfunc, vector,
		    VFU_NOMINAL_ADDR, vector, fd, 0);
		if (r == -ENOSPC || r == -EDQUOT)
			vfu_log("vector %u: %s; refused, the vector stays "
			    "without a slot (msivctl vfuncs: NO SLOT)", vector,
			    r == -ENOSPC ? "the device has no slot left" :
			    "the tenant's quota of slots is used up");
		return r;
	}
	return msiv_vector_retarget(v->conn, v->vfunc, vector,
	    MSIV_RETARGET_TARGET, 0, 0, fd);
}

static int
be_mask(void *arg, unsigned int vector, int masked)
{
	struct vfu *v = arg;

	if (masked)
		return msiv_vector_mask(v->conn, v->vfunc, vector);
	return msiv_vector_unmask(v->conn, v->vfunc, vector);
}

static int
be_pba(void *arg, unsigned int q, uint64_t *bits)
{
	struct vfu *v = arg;

	return msiv_table_read(v->conn, v->vfunc, MSIV_PBA_OFFSET + 8u * q, 8,
	    bits);
}

static const struct vfu_backend vfu_msiv_backend = {
	.enable = be_enable,
	.reset = be_reset,
	.attach = be_attach,
	.mask = be_mask,
	.pba = be_pba,
};

static int
vfu_vfunc_open(struct vfu *v)
{
	struct msiv_vector_info in;
	int r;

	/* A guest's table may declare many vectors and use a few: by
	 * default a vector gets its slot when QEMU first sets it up. */
	r = msiv_vfunc_open_flags(v->conn, v->device, v->nvec,
	    MSIV_POLICY_DEFAULT, v->reserve ? 0 : MSIV_OPEN_LAZY, &v->vfunc);
	if (r < 0) {
		vfu_log("cannot open a vfunc of %u vectors on %s: %s", v->nvec,
		    v->device, msiv_strerror(r));
		v->vfunc = 0;
		return r;
	}
	vfu_dev_clear(&v->dev);
	if (!v->reserve)
		vfu_log("vfunc 0x%016llx: %u vectors on %s, a slot bound to each "
		    "on its first setup (msivctl vfuncs lists them)",
		    (unsigned long long)v->vfunc, v->nvec, v->device);
	else if (msiv_vector_query(v->conn, v->vfunc, 0, &in) == 0)
		vfu_log("vfunc 0x%016llx: %u vectors on %s, vector n on slot %u+n",
		    (unsigned long long)v->vfunc, v->nvec, v->device, in.slot);
	return 0;
}

static void
vfu_vfunc_close(struct vfu *v)
{
	int r;

	if (v->vfunc == 0)
		return;
	r = msiv_vfunc_close(v->conn, v->vfunc);
	if (r < 0 && r != -EKEYREVOKED)
		vfu_log("closing vfunc 0x%016llx: %s", (unsigned long long)v->vfunc,
		    msiv_strerror(r));
	v->vfunc = 0;
}

static void
vfu_on_event(struct msiv_conn *conn, const struct msiv_event_info *ev,
    void *arg)
{
	struct vfu *v = arg;

	(void)conn;
	switch (ev->type) {
	case MSIV_EV_VFUNC_GONE:
		if (ev->vfunc != v->vfunc)
			break;
		vfu_log("vfunc 0x%016llx was taken away (%s)",
		    (unsigned long long)ev->vfunc,
		    ev->reason == MSIV_GONE_REVOKED ? "revoked" :
		    ev->reason == MSIV_GONE_DEVICE ? "device removed" :
		    "closed by msivd");
		v->gone = 1;
		break;
	case MSIV_EV_RESUMED:
		vfu_log("msivd restarted: resumed, %u eventfds attached again",
		    ev->count);
		v->resumed = 1;
		break;
	case MSIV_EV_MSG_CHANGED:
	case MSIV_EV__COUNT:
		break;
	}
}

/* --- the tenant's resume token ---------------------------------------------*/

static int
vfu_connect(struct vfu *v)
{
	uint8_t tok[MSIV_TOKEN_LEN];
	struct msiv_vfunc_info rec[64];
	int have, r, n;

	/* libmsiv's token file: written 0600 and renamed into place; one
	 * that others may read is refused (the token may have leaked). */
	r = msiv_token_load(v->token_file, tok);
	if (r < 0 && r != -ENOENT) {
		vfu_log("%s: %s", v->token_file, r == -EBADMSG ?
		    "not a token file" : r == -EPERM ? "not the caller's, or "
		    "others may read it: make a new tenant" : strerror(-r));
		return -EINVAL;
	}
	have = r == 0;
	r = msiv_connect_token(v->msivd, v->tenant, have ? tok : NULL, &v->conn);
	if (r < 0) {
		vfu_log("cannot connect to msivd%s%s: %s", v->msivd ? " at " : "",
		    v->msivd ? v->msivd : "", msiv_strerror(r));
		if (r == -EACCES)
			vfu_log("(the tenant holds vfuncs: give the token file "
			    "of its msiv-vfu, or use another --tenant)");
		return r;
	}
	msiv_token(v->conn, tok);
	r = msiv_token_save(v->token_file, tok);
	if (r < 0) {
		vfu_log("%s: %s", v->token_file, strerror(-r));
		return r;
	}
	/* Vfuncs taken over from an earlier msiv-vfu of this tenant (now
	 * this session's): their VMM went with it. With --orphan, one of
	 * this device and size is kept for the next VMM (reset); the others
	 * are closed. */
	n = msiv_resumed(v->conn) > 0 ?
	    msiv_list_vfuncs(v->conn, rec, 64, sizeof(rec[0])) : 0;
	for (int i = 0; i < n && i < 64; i++) {
		if (rec[i].session != msiv_session_id(v->conn))
			continue;
		if (v->orphan && v->vfunc == 0 && rec[i].nvec == v->nvec &&
		    strcmp(rec[i].device, v->device) == 0 &&
		    (rec[i].flags & MSIV_VFUNC_GONE) == 0 &&
		    msiv_vfunc_reset(v->conn, rec[i].vfunc) == 0) {
			v->vfunc = rec[i].vfunc;
			vfu_log("taking over vfunc 0x%016llx left by an earlier "
			    "msiv-vfu", (unsigned long long)v->vfunc);
			continue;
		}
		vfu_log("closing vfunc 0x%016llx left by an earlier msiv-vfu",
		    (unsigned long long)rec[i].vfunc);
		(void)msiv_vfunc_close(v->conn, rec[i].vfunc);
	}
	msiv_set_event_cb(v->conn, vfu_on_event, v);
	/* A call that finds msivd gone waits this long for it to return. */
	msiv_set_auto_reconnect(v->conn, 60000);
	return 0;
}

/* msivd's socket said something: events, or msivd went away. */
static int
vfu_msivd_input(struct vfu *v)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int r = msiv_dispatch(v->conn);

	if (r != -ENOTCONN)
		return 0;
	vfu_log("lost msivd; reconnecting with the tenant's token");
	for (int i = 0; i < 600 && !vfu_quit; i++) {
		r = msiv_reconnect(v->conn);
		if (r == 0) {
			(void)msiv_dispatch(v->conn);
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	vfu_log("msivd did not come back: %s", msiv_strerror(r));
	return r;
}

/* --- the vfio-user socket --------------------------------------------------*/

static int
vfu_listen(struct vfu *v)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, r;

	if (strlen(v->listen_path) >= sizeof(sa.sun_path)) {
		vfu_log("%s: path too long", v->listen_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, v->listen_path);
	/* A socket file left by an msiv-vfu that died is replaced; one
	 * that a live server answers on, or a file that is no socket, is
	 * not. */
	if (lstat(v->listen_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			vfu_log("%s exists and is not a socket", v->listen_path);
			return -EEXIST;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (r == 0) {
			vfu_log("%s: another server is listening there",
			    v->listen_path);
			return -EADDRINUSE;
		}
		vfu_log("replacing the stale socket %s", v->listen_path);
		if (unlink(v->listen_path) < 0 && errno != ENOENT)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177);  /* mode 0600 from the start */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(v->listen_path, 0600) < 0 || listen(fd, 4) < 0) {
		r = -errno;
		vfu_log("%s: %s", v->listen_path, strerror(-r));
		close(fd);
		return r;
	}
	v->lfd = fd;
	return 0;
}

/*
 * Read n bytes into buf, collecting any fds that come with them (up to
 * VFU_FDS_MAX in all). Returns 1, 0 at end of file before the first byte,
 * or a negative errno (more fds, truncated control data, time-out).
 */
static int
vfu_recv(int fd, uint8_t *buf, size_t n, int *fds, unsigned int *nfds)
{
	union {
		char b[CMSG_SPACE(VFU_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} cm;
	size_t got = 0;

	while (got < n) {
		struct iovec iov = { .iov_base = buf + got, .iov_len = n - got };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cm.b, .msg_controllen = sizeof(cm.b),
		};
		struct cmsghdr *c;
		int bad = 0;
		ssize_t r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			size_t k;

			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS) {
				bad = 1;
				continue;
			}
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int f;

				memcpy(&f, CMSG_DATA(c) + i * sizeof(int),
				    sizeof(int));
				if (*nfds < VFU_FDS_MAX)
					fds[(*nfds)++] = f;
				else {
					close(f);
					bad = 1;
				}
			}
		}
		if (bad || (mh.msg_flags & MSG_CTRUNC))
			return -EMSGSIZE;
		if (r == 0)
			return got == 0 ? 0 : -ECONNRESET;
		got += (size_t)r;
	}
	return 1;
}

static int
vfu_send(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * One message from the VMM: read, decode, carry out, reply. Returns 0 to
 * go on, or < 0 to close the connection (it ended, or cannot be trusted).
 */
static int
vfu_serve_one(struct vfu *v)
{
	static uint8_t in[VFU_MSG_MAX], out[sizeof(struct vfu_hdr) + VFU_MSG_MAX];
	int fds[VFU_FDS_MAX];
	unsigned int nfds = 0;
	struct vfu_req req;
	struct vfu_hdr h, *rh = (struct vfu_hdr *)out;
	char desc[160];
	long n;
	int r;

	r = vfu_recv(v->cfd, in, sizeof(h), fds, &nfds);
	if (r == 1) {
		memcpy(&h, in, sizeof(h));
		if (h.size < sizeof(h) || h.size > VFU_MSG_MAX)
			r = -EMSGSIZE;
		else if (h.size > sizeof(h))
			r = vfu_recv(v->cfd, in + sizeof(h), h.size - sizeof(h),
			    fds, &nfds);
	}
	if (r <= 0) {
		if (r < 0)
			vfu_log("the VMM's connection: %s; closing it",
			    r == -EMSGSIZE ? "a message too large or with "
			    "too many fds" : strerror(-r));
		for (unsigned int i = 0; i < nfds; i++)
			close(fds[i]);
		return -1;
	}
	r = vfu_decode(in, h.size, nfds, &req);
	if (r == VFU_DECODE_DROP) {
		vfu_log("a malformed message header; closing the connection");
		n = -EPROTO;
	} else if (r < 0)
		n = r;
	else if (v->refused != 0)
		n = -EOPNOTSUPP;
	else if (v->vfunc == 0 || v->gone)
		n = -ENODEV;
	else
		n = vfu_dev_handle(&v->dev, &req, fds, out + sizeof(*rh),
		    sizeof(out) - sizeof(*rh));
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
	if (v->debug && r != VFU_DECODE_DROP) {
		vfu_describe(&req, desc, sizeof(desc));
		vfu_log("<- %s: %s", desc, n < 0 ? strerror((int)-n) : "ok");
	} else if (n < 0 && r != VFU_DECODE_DROP)
		vfu_log("%s refused: %s", vfu_cmd_name(req.hdr.cmd),
		    strerror((int)-n));
	if (r == VFU_DECODE_DROP)
		return -1;
	if (req.hdr.flags & VFU_F_NO_REPLY)
		return 0;
	memset(rh, 0, sizeof(*rh));
	rh->id = req.hdr.id;
	rh->cmd = req.hdr.cmd;
	rh->flags = VFU_TYPE_REPLY;
	if (n < 0) {
		rh->flags |= VFU_F_ERROR;
		rh->error = (uint32_t)-n;
		n = 0;
	}
	rh->size = (uint32_t)(sizeof(*rh) + (size_t)n);
	r = vfu_send(v->cfd, out, rh->size);
	if (r < 0) {
		vfu_log("replying to the VMM: %s; closing the connection",
		    strerror(-r));
		return -1;
	}
	return 0;
}

/*
 * Whether the VMM on fd is a migration destination: a QEMU started with
 * -incoming (QMP's migrate-incoming, as libvirt uses it, needs
 * "-incoming defer" as well). msiv-vfu has no vector state to receive, so
 * it refuses one (msiv-vfu(1), MIGRATION). Returns the VMM's pid if it
 * is one, 0 if it is not or cannot be told (its pid not visible here, or
 * its command line not readable): then it is served, and the log says so.
 */
static pid_t
vfu_peer_incoming(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char path[64], *arg = NULL;
	size_t cap = 0;
	pid_t found = 0;
	FILE *f;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    cred.pid <= 0) {
		vfu_log("the VMM's pid is not visible here: whether it is a "
		    "migration destination is not checked");
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)cred.pid);
	f = fopen(path, "re");
	if (f == NULL) {
		vfu_log("%s: %s: whether the VMM is a migration destination "
		    "is not checked", path, strerror(errno));
		return 0;
	}
	/* One argument at a time; the kernel bounds each one
	 * (MAX_ARG_STRLEN). */
	while (found == 0 && getdelim(&arg, &cap, '\0', f) > 0) {
		if (strcmp(arg, "-incoming") == 0 ||
		    strcmp(arg, "--incoming") == 0)
			found = cred.pid;
	}
	free(arg);
	fclose(f);
	return found;
}

static void
vfu_accept(struct vfu *v)
{
	struct timeval tv = { .tv_sec = 10 };
	int fd = accept4(v->lfd, NULL, NULL, SOCK_CLOEXEC);
	pid_t dest;

	if (fd < 0)
		return;
	dest = vfu_peer_incoming(fd);
	if (v->cfd >= 0) {
		if (dest != 0)
			vfu_log("a second VMM, pid %d, a migration destination "
			    "(started with -incoming), connected; refused",
			    (int)dest);
		else
			vfu_log("a second VMM connected; refused (one at a time)");
		close(fd);
		return;
	}
	if (dest != 0) {
		/* Its VERSION, and anything after, gets EOPNOTSUPP, so QEMU
		 * fails to start and the migration with it; no vfunc is
		 * opened. The connection stays until QEMU closes it, so that
		 * its one error is the refusal (not a reply cut short). */
		vfu_log("the VMM, pid %d, is a migration destination (started "
		    "with -incoming): refused; this function's vector state "
		    "cannot migrate (msiv-vfu(1), MIGRATION)", (int)dest);
		v->refused = dest;
		v->cfd = fd;
		return;
	}
	/* A VMM that stops halfway through a message loses its connection
	 * rather than stalling msiv-vfu for good. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    (v->vfunc == 0 && vfu_vfunc_open(v) < 0)) {
		close(fd);
		return;
	}
	vfu_dev_clear(&v->dev);
	vfu_log("a VMM connected");
	v->cfd = fd;
}

static void
vfu_disconnect(struct vfu *v)
{
	int r;

	close(v->cfd);
	v->cfd = -1;
	if (v->refused != 0) {
		v->refused = 0;
		return;
	}
	if (!v->orphan || v->gone) {
		vfu_vfunc_close(v);
		vfu_log("the VMM went away; its vfunc is closed");
		return;
	}
	/* --orphan: kept for the next VMM, as after a function reset. */
	r = msiv_vfunc_reset(v->conn, v->vfunc);
	if (r < 0) {
		vfu_log("resetting vfunc 0x%016llx: %s", (unsigned long long)v->vfunc,
		    msiv_strerror(r));
		vfu_vfunc_close(v);
		return;
	}
	vfu_log("the VMM went away; its vfunc 0x%016llx is reset and kept for the "
	    "next one", (unsigned long long)v->vfunc);
}

static void
vfu_on_signal(int sig)
{
	(void)sig;
	vfu_quit = 1;
}

static int
vfu_serve(struct vfu *v)
{
	struct sigaction sa = { .sa_handler = vfu_on_signal };
	sigset_t block, none;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&none);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	vfu_log("serving %s: %u MSI-X vectors of device %s, PCI %04x:%04x",
	    v->listen_path, v->nvec, v->device, v->vendor, v->devid);
	while (!vfu_quit) {
		struct pollfd p[3] = {
			{ .fd = v->lfd, .events = POLLIN },
			{ .fd = msiv_fd(v->conn), .events = POLLIN },
			{ .fd = v->cfd, .events = POLLIN },
		};
		int r;

		if (msiv_events_pending(v->conn) > 0)
			(void)msiv_dispatch(v->conn);
		if (v->gone) {
			if (v->cfd >= 0)
				vfu_disconnect(v);
			return EXIT_GONE;
		}
		if (v->resumed) {
			v->resumed = 0;
			r = v->vfunc != 0 ? vfu_dev_resync(&v->dev) : 0;
			if (r < 0)
				vfu_log("after msivd restarted: the vectors' "
				    "state: %s", msiv_strerror(r));
		}
		r = ppoll(p, 3, NULL, &none);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			vfu_log("poll: %s", strerror(errno));
			return 1;
		}
		if (p[1].revents != 0 && vfu_msivd_input(v) < 0)
			return 1;
		if (p[2].revents != 0 && vfu_serve_one(v) < 0) {
			int served = v->refused == 0;

			vfu_disconnect(v);
			if (v->once && served)
				return 0;
		}
		if (p[0].revents & POLLIN)
			vfu_accept(v);
	}
	return 0;
}

static int
parse_id(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno != 0 || end == s || *end != '\0' || v > 0xffff)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: msiv-vfu --listen PATH --device NAME [--vectors N] "
	    "[--tenant NAME]\n"
	    "                [--socket MSIVD_SOCKET] [--token-file FILE] "
	    "[--vendor-id HEX]\n"
	    "                [--device-id HEX] [--reserve] [--orphan] "
	    "[--once] [--debug]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "device", required_argument, NULL, 'd' },
		{ "vectors", required_argument, NULL, 'n' },
		{ "tenant", required_argument, NULL, 't' },
		{ "socket", required_argument, NULL, 's' },
		{ "token-file", required_argument, NULL, 'k' },
		{ "vendor-id", required_argument, NULL, 'V' },
		{ "device-id", required_argument, NULL, 'D' },
		{ "reserve", no_argument, NULL, 'r' },
		{ "orphan", no_argument, NULL, 'o' },
		{ "once", no_argument, NULL, '1' },
		{ "debug", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct vfu v = {
		.nvec = 16, .vendor = VFU_DEFAULT_VENDOR,
		.devid = VFU_DEFAULT_DEVICE, .lfd = -1, .cfd = -1,
	};
	static char tokpath[PATH_MAX];
	unsigned long n;
	char *end;
	int c, st;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': v.listen_path = optarg; break;
		case 'd': v.device = optarg; break;
		case 't': v.tenant = optarg; break;
		case 's': v.msivd = optarg; break;
		case 'k': v.token_file = optarg; break;
		case 'r': v.reserve = 1; break;
		case 'o': v.orphan = 1; break;
		case '1': v.once = 1; break;
		case 'g': v.debug = 1; break;
		case 'n':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    n == 0 || n > MSIV_VECTORS_MAX) {
				vfu_log("--vectors: 1 to %u", MSIV_VECTORS_MAX);
				return EXIT_USAGE;
			}
			v.nvec = (unsigned int)n;
			break;
		case 'V':
		case 'D':
			if (parse_id(optarg, c == 'V' ? &v.vendor : &v.devid) < 0) {
				vfu_log("--%s: a hexadecimal 16-bit ID",
				    c == 'V' ? "vendor-id" : "device-id");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || v.listen_path == NULL || v.device == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (v.token_file == NULL) {
		if (snprintf(tokpath, sizeof(tokpath), "%s.token",
		    v.listen_path) >= (int)sizeof(tokpath)) {
			vfu_log("--listen: path too long");
			return EXIT_USAGE;
		}
		v.token_file = tokpath;
	}
	if (vfu_dev_init(&v.dev, v.nvec, v.vendor, v.devid, &vfu_msiv_backend,
	    &v) < 0) {
		vfu_log("out of memory");
		return 1;
	}
	/* The socket first: a second msiv-vfu on a live socket leaves before
	 * it touches msivd. */
	if (vfu_listen(&v) < 0 || vfu_connect(&v) < 0) {
		if (v.lfd >= 0) {
			close(v.lfd);
			(void)unlink(v.listen_path);
		}
		if (v.conn != NULL)
			msiv_close(v.conn);
		vfu_dev_free(&v.dev);
		return 1;
	}
	st = vfu_serve(&v);
	if (v.cfd >= 0)
		vfu_disconnect(&v);
	/* --orphan: the vfunc stays with msivd for orphan_grace once this
	 * session ends. */
	if (v.orphan && v.vfunc != 0 && !v.gone)
		vfu_log("leaving vfunc 0x%016llx to msivd's orphan_grace",
		    (unsigned long long)v.vfunc);
	else
		vfu_vfunc_close(&v);
	close(v.lfd);
	(void)unlink(v.listen_path);
	msiv_close(v.conn);
	vfu_dev_free(&v.dev);
	vfu_log("exiting");
	return st;
}
