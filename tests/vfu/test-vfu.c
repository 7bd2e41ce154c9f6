/*
 * test-vfu: msiv-vfu ($MSIV_VFU) against the real msivd, driven by a
 * vfio-user client written here: what QEMU sends (check-vfu.sh runs QEMU
 * itself), what QEMU never sends (SET_IRQS MASK/UNMASK, DATA_BOOL, a
 * detach with an interrupt in between, PBA reads), and malformed traffic:
 * every bad message gets an error reply or a closed connection, its fds
 * are closed, and msiv-vfu keeps serving. Then its lifetimes: the socket's
 * mode, a stale socket, a second server refused, msivd killed and
 * restarted under it (resumed with its token), the VMM going away, a
 * revoked vfunc.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"
#include "../tap.h"
#include "../../vfu/vfu-proto.h"

#define NVEC 8

static struct h_daemon d;
static struct msiv_conn *admin;
static char vsock[160], vlog[160];
static pid_t vpid = -1;
static uint16_t next_id;

static const char conf[] =
    "[msivd]\n"
    "orphan_grace = 3600\n"
    "[device sim0]\n"
    "backend = sim\n"
    "slots = 64\n";

static int
serving_lines(void)
{
	FILE *f = fopen(vlog, "re");
	char line[256];
	int n = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, "msiv-vfu: serving ") != NULL;
	if (f != NULL)
		fclose(f);
	return n;
}

/* Start msiv-vfu with extra arguments (NULL-terminated); wait for its
 * socket. Returns its pid, or -1 if it exited (status in *st). */
static pid_t
vfu_start(const char *extra, int *st)
{
	const char *bin = getenv("MSIV_VFU");
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
	struct stat sb;
	pid_t p;

	int before = serving_lines();

	if (bin == NULL)
		tap_bail("MSIV_VFU is not set (run through make check)");
	p = fork();
	if (p < 0)
		tap_bail("fork");
	if (p == 0) {
		int fd = open(vlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0644);

		/* It goes when the test does, however the test ends. */
		if (fd < 0 || dup2(fd, 2) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
			_exit(127);
		execl(bin, "msiv-vfu", "--listen", vsock, "--device", "sim0",
		    "--vectors", "8", "--tenant", "vfu1", "--socket", d.sock,
		    "--debug", extra, (char *)NULL);
		_exit(127);
	}
	while (h_now_ms() < deadline) {
		if (waitpid(p, st, WNOHANG) == p)
			return -1;
		/* It says so once it listens and msivd answered. */
		if (stat(vsock, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
		    serving_lines() > before)
			return p;
		usleep(2000);
	}
	tap_bail("msiv-vfu did not start");
}

static int
vfu_stop(pid_t p, int sig)
{
	int st;

	kill(p, sig);
	if (waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int
count_fds(pid_t p)
{
	char path[64];
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)p);
	dir = opendir(path);
	if (dir == NULL)
		return -1;
	while (readdir(dir) != NULL)
		n++;
	closedir(dir);
	return n;
}

static int
vconnect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 20 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(vsock) >= sizeof(sa.sun_path))
		tap_bail("socket path too long");
	memcpy(sa.sun_path, vsock, strlen(vsock));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send raw bytes with fds. */
static int
send_raw(int fd, const void *buf, size_t len, const int *fds, unsigned int n)
{
	union {
		char b[CMSG_SPACE(32 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n > 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int
recv_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = recv(fd, (char *)buf + got, len - got, 0);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/*
 * One request: cmd with payload, fds. Returns the reply's errno (0 for
 * success), or -1 if the connection closed. The reply's payload goes to
 * rep (up to rmax bytes), its length to *rlen.
 */
static int
vreq_flags(int fd, uint16_t cmd, uint32_t flags, const void *payload,
    size_t plen, const int *fds, unsigned int nfds, void *rep, size_t rmax,
    size_t *rlen)
{
	uint8_t buf[8192];
	struct vfu_hdr h = {
		.id = next_id++, .cmd = cmd,
		.size = (uint32_t)(sizeof(h) + plen), .flags = flags,
	};
	struct vfu_hdr rh;
	size_t n;

	memcpy(buf, &h, sizeof(h));
	if (plen > 0)
		memcpy(buf + sizeof(h), payload, plen);
	if (send_raw(fd, buf, sizeof(h) + plen, fds, nfds) < 0)
		return -1;
	if (flags & VFU_F_NO_REPLY)
		return 0;
	if (recv_all(fd, &rh, sizeof(rh)) < 0 || rh.id != h.id ||
	    rh.cmd != cmd || (rh.flags & VFU_TYPE_MASK) != VFU_TYPE_REPLY ||
	    rh.size < sizeof(rh) || rh.size - sizeof(rh) > sizeof(buf))
		return -1;
	n = rh.size - sizeof(rh);
	if (recv_all(fd, buf, n) < 0)
		return -1;
	if (rep != NULL)
		memcpy(rep, buf, n < rmax ? n : rmax);
	if (rlen != NULL)
		*rlen = n;
	return (rh.flags & VFU_F_ERROR) ? (int)rh.error : 0;
}

static int
vreq(int fd, uint16_t cmd, const void *payload, size_t plen, const int *fds,
    unsigned int nfds, void *rep, size_t rmax, size_t *rlen)
{
	return vreq_flags(fd, cmd, 0, payload, plen, fds, nfds, rep, rmax,
	    rlen);
}

static int
set_irqs(int fd, uint32_t flags, uint32_t start, uint32_t count,
    const int *fds, unsigned int nfds)
{
	struct vfu_irq_set s = {
		.argsz = sizeof(s), .flags = flags, .index = VFU_IRQ_MSIX,
		.start = start, .count = count,
	};

	return vreq(fd, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), fds, nfds,
	    NULL, 0, NULL);
}

static int
set_irqs_bool(int fd, uint32_t action, uint32_t start, uint32_t count,
    const uint8_t *b)
{
	uint8_t buf[sizeof(struct vfu_irq_set) + NVEC];
	struct vfu_irq_set s = {
		.argsz = (uint32_t)(sizeof(s) + count),
		.flags = action | VFU_IRQ_SET_DATA_BOOL,
		.index = VFU_IRQ_MSIX, .start = start, .count = count,
	};

	memcpy(buf, &s, sizeof(s));
	memcpy(buf + sizeof(s), b, count);
	return vreq(fd, VFU_CMD_DEVICE_SET_IRQS, buf, sizeof(s) + count, NULL,
	    0, NULL, 0, NULL);
}

/* Read n bytes of a region; returns the reply's errno. */
static int
region_read(int fd, uint32_t region, uint64_t off, uint32_t n, void *out)
{
	struct vfu_region_rw rw = { .offset = off, .region = region,
	    .count = n };
	uint8_t rep[sizeof(rw) + 256];
	size_t len = 0;
	int r = vreq(fd, VFU_CMD_REGION_READ, &rw, sizeof(rw), NULL, 0, rep,
	    sizeof(rep), &len);

	if (r == 0 && (len != sizeof(rw) + n || n > 256))
		return -1;
	if (r == 0)
		memcpy(out, rep + sizeof(rw), n);
	return r;
}

static int
region_write(int fd, uint32_t region, uint64_t off, uint32_t n,
    const void *data)
{
	uint8_t buf[sizeof(struct vfu_region_rw) + 64];
	struct vfu_region_rw rw = { .offset = off, .region = region,
	    .count = n };

	memcpy(buf, &rw, sizeof(rw));
	memcpy(buf + sizeof(rw), data, n);
	return vreq(fd, VFU_CMD_REGION_WRITE, buf, sizeof(rw) + n, NULL, 0,
	    NULL, 0, NULL);
}

/* VERSION as QEMU sends it. Returns vreq's result. */
static int
version(int fd, void *rep, size_t rmax, size_t *rlen)
{
	static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":16,"
	    "\"max_data_xfer_size\":1048576}}";
	uint8_t buf[sizeof(struct vfu_version) + sizeof(caps)];
	struct vfu_version v = { 0, 0 };

	memcpy(buf, &v, sizeof(v));
	memcpy(buf + sizeof(v), caps, sizeof(caps));
	return vreq(fd, VFU_CMD_VERSION, buf, sizeof(buf), NULL, 0, rep, rmax,
	    rlen);
}

/* What QEMU does first. Returns 1 if every step was answered as QEMU
 * needs. */
static int
handshake(int fd, uint32_t *pba_off)
{
	uint8_t rep[512];
	struct vfu_device_info di = { .argsz = sizeof(di) };
	struct vfu_region_info ri = { .argsz = sizeof(ri), .index = 7 };
	size_t len = 0;
	uint32_t tbl = 1;

	if (version(fd, rep, sizeof(rep) - 1, &len) != 0 || len < 6 ||
	    rep[len - 1] != '\0' ||
	    strstr((char *)rep + 4, "\"max_msg_fds\":16") == NULL ||
	    strstr((char *)rep + 4, "migration") != NULL)
		return 0;
	if (vreq(fd, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, &di,
	    sizeof(di), &len) != 0 || len != sizeof(di) ||
	    di.num_regions != 9 || di.num_irqs != 5 ||
	    di.flags != (VFU_DEVICE_FLAGS_PCI | VFU_DEVICE_FLAGS_RESET))
		return 0;
	if (vreq(fd, VFU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL, 0,
	    &ri, sizeof(ri), &len) != 0 || ri.size != 256)
		return 0;
	return region_read(fd, 7, 0x44, 4, &tbl) == 0 && tbl == 0 &&
	    region_read(fd, 7, 0x48, 4, pba_off) == 0;
}

static uint64_t vf;

/* The vfunc msiv-vfu opened for this connection. */
static int
find_vfunc(void)
{
	struct msiv_vfunc_info rec[8];
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;

	while (h_now_ms() < deadline) {
		int n = msiv_list_vfuncs(admin, rec, 8, sizeof(*rec));

		for (int i = 0; i < n && i < 8; i++)
			if (strcmp(rec[i].tenant, "vfu1") == 0 &&
			    rec[i].session != 0) {
				vf = rec[i].vfunc;
				return 1;
			}
		usleep(2000);
	}
	return 0;
}

/* Vector i of the vfunc, as an admin sees another tenant's vectors. */
static int
vinfo(unsigned int i, struct msiv_vector_state *out)
{
	struct msiv_vector_state rec[NVEC];
	int n = msiv_list_vectors(admin, vf, rec, NVEC, sizeof(*rec));

	if (n < 0)
		return n;
	if (i >= (unsigned int)n || i >= NVEC)
		return -ENOENT;
	*out = rec[i];
	return 0;
}

/* Fire the slot bound to vector i once; wait until msivd has seen it. */
static int
fire(unsigned int i)
{
	struct msiv_vector_state in, now;
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
	int r = vinfo(i, &in);

	if (r == 0 && in.slot == MSIV_SLOT_NONE)
		r = -ENOSPC;  /* no slot bound to it */
	if (r == 0)
		r = msiv_sim_fire(admin, "sim0", in.slot, 1);
	while (r == 0 && (r = vinfo(i, &now)) == 0 && now.fired <= in.fired) {
		if (h_now_ms() > deadline) {
			r = -ETIMEDOUT;
			break;
		}
		usleep(1000);
	}
	if (r < 0)
		tap_diag("fire vector %u: %s", i, msiv_strerror(r));
	return r == 0;
}

static uint64_t
pba(int fd, uint32_t pba_off)
{
	uint64_t v = ~0ull;

	if (region_read(fd, VFU_REGION_BAR0, pba_off, 8, &v) != 0)
		return ~0ull;
	return v;
}

static void
test_protocol(void)
{
	int fd = vconnect(), efd[NVEC], e2, r;
	uint32_t pba_off = 0;
	struct msiv_vector_state in;
	uint8_t b[NVEC] = { 0 };

	for (int i = 0; i < NVEC; i++)
		efd[i] = h_eventfd();
	r = fd >= 0 && handshake(fd, &pba_off);
	tap_ok(r && pba_off == 4096, "VERSION (no migration capability), "
	    "DEVICE_GET_INFO, config space: the MSI-X table at BAR0+0, the "
	    "PBA at BAR0+0x%x", pba_off);
	tap_ok(find_vfunc() && vinfo(0, &in) == 0 &&
	    in.slot == MSIV_SLOT_NONE, "the VMM's connection opened a vfunc "
	    "of tenant vfu1, with slots on first use: vector 0 has none yet");

	/* As QEMU: enable with no fd, then one eventfd per vector. */
	r = set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_EVENTFD,
	    0, 1, NULL, 0);
	for (unsigned int i = 0; i < 4 && r == 0; i++)
		r = set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER |
		    VFU_IRQ_SET_DATA_EVENTFD, i, 1, &efd[i], 1);
	tap_ok(r == 0, "SET_IRQS: MSI-X enabled with fd -1, then an eventfd "
	    "for each of vectors 0-3");
	r = 1;
	for (unsigned int i = 0; i < NVEC; i++)
		r &= vinfo(i, &in) == 0 && (in.slot != MSIV_SLOT_NONE) == (i < 4);
	tap_ok(r, "each of vectors 0-3 got a slot at its setup; vectors 4-%d "
	    "have none", NVEC - 1);
	r = 1;
	for (unsigned int i = 0; i < 4; i++)
		r &= fire(i) && h_efd_wait(efd[i], H_TIMEOUT_MS) == 1;
	for (unsigned int i = 0; i < 4; i++)
		r &= h_efd_take(efd[i]) == 0;
	tap_ok(r, "a fire on each vector's slot reaches that vector's eventfd "
	    "once");

	/* ACTION_MASK / UNMASK (QEMU never sends them): rules 4, 3, 2. */
	r = set_irqs(fd, VFU_IRQ_SET_ACTION_MASK | VFU_IRQ_SET_DATA_NONE, 1, 1,
	    NULL, 0);
	tap_ok(r == 0 && fire(1) && fire(1) && h_efd_take(efd[1]) == 0 &&
	    pba(fd, pba_off) == 0x2,
	    "MASK vector 1: two fires deliver nothing; the PBA read through "
	    "BAR0 shows its pending bit (0x%llx)",
	    (unsigned long long)pba(fd, pba_off));
	r = set_irqs(fd, VFU_IRQ_SET_ACTION_UNMASK | VFU_IRQ_SET_DATA_NONE, 1,
	    1, NULL, 0);
	tap_ok(r == 0 && h_efd_wait(efd[1], H_TIMEOUT_MS) == 1 &&
	    pba(fd, pba_off) == 0 && h_efd_take(efd[1]) == 0,
	    "UNMASK replays it exactly once and the PBA clears");
	b[2] = 1;
	r = set_irqs_bool(fd, VFU_IRQ_SET_ACTION_MASK, 0, 4, b);
	tap_ok(r == 0 && fire(2) && fire(0) &&
	    h_efd_wait(efd[0], H_TIMEOUT_MS) == 1 && h_efd_take(efd[2]) == 0 &&
	    pba(fd, pba_off) == 0x4 &&
	    set_irqs_bool(fd, VFU_IRQ_SET_ACTION_UNMASK, 0, 4, b) == 0 &&
	    h_efd_wait(efd[2], H_TIMEOUT_MS) == 1,
	    "MASK with DATA_BOOL masks only the vectors whose byte is set; "
	    "UNMASK likewise");

	/* A new eventfd for a set-up vector: rule 6. */
	e2 = h_eventfd();
	r = set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_EVENTFD,
	    0, 1, &e2, 1);
	tap_ok(r == 0 && fire(0) && h_efd_wait(e2, H_TIMEOUT_MS) == 1 &&
	    h_efd_take(efd[0]) == 0,
	    "a new eventfd for vector 0 retargets it: only the new one gets "
	    "the next fire");

	/* Detach with fd -1: the interrupt is held, replayed on re-attach. */
	r = set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_EVENTFD,
	    3, 1, NULL, 0);
	tap_ok(r == 0 && fire(3) && h_efd_take(efd[3]) == 0 &&
	    pba(fd, pba_off) == 0x8 &&
	    set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_EVENTFD,
	    3, 1, &efd[3], 1) == 0 && h_efd_wait(efd[3], H_TIMEOUT_MS) == 1,
	    "fd -1 detaches vector 3: a fire meanwhile is pending, and "
	    "delivered once when an eventfd comes back");
	r = set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_NONE, 3,
	    1, NULL, 0);
	tap_ok(r == 0 && fire(3) && h_efd_take(efd[3]) == 0 &&
	    pba(fd, pba_off) == 0x8, "DATA_NONE with a count detaches too");

	/* MSI-X disable: the vfunc is reset, every vector freed. */
	r = set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_NONE, 0,
	    0, NULL, 0);
	tap_ok(r == 0 && vinfo(0, &in) == 0 &&
	    !(in.state & (MSIV_VEC_TARGET | MSIV_VEC_ENABLED)) &&
	    in.slot == MSIV_SLOT_NONE && pba(fd, pba_off) == 0,
	    "DATA_NONE count 0 (MSI-X disable) frees every vector on the "
	    "vfunc, gives its slot back, and clears the PBA");
	r = set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_EVENTFD,
	    0, 2, efd, 2);
	tap_ok(r == 0 && fire(1) && h_efd_wait(efd[1], H_TIMEOUT_MS) == 1 &&
	    vreq(fd, VFU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, NULL)
	    == 0 && vinfo(1, &in) == 0 && !(in.state & MSIV_VEC_TARGET),
	    "enabled again with two eventfds in one SET_IRQS; DEVICE_RESET "
	    "frees them");
	close(e2);
	for (int i = 0; i < NVEC; i++)
		close(efd[i]);
	close(fd);
}

/* A message with a header of our own making; returns the reply's errno
 * or -1 if the connection closed. */
static int
raw_req(int fd, const void *msg, size_t len, const int *fds, unsigned int n)
{
	struct vfu_hdr rh;
	uint8_t buf[8192];

	if (send_raw(fd, msg, len, fds, n) < 0 ||
	    recv_all(fd, &rh, sizeof(rh)) < 0 || rh.size < sizeof(rh) ||
	    rh.size - sizeof(rh) > sizeof(buf) ||
	    recv_all(fd, buf, rh.size - sizeof(rh)) < 0)
		return -1;
	return (rh.flags & VFU_F_ERROR) ? (int)rh.error : 0;
}

/* Is the connection closed by the other side (EOF within the time-out)? */
static int
closed(int fd)
{
	char c;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, H_TIMEOUT_MS) == 1 && recv(fd, &c, 1, 0) <= 0;
}

static void
test_malformed(void)
{
	int fd = vconnect(), fds0, fds1, e[20], r;
	uint32_t pba_off;
	uint16_t mctl = 0;
	unsigned int nv;
	struct vfu_region_rw rw;
	struct vfu_irq_set s;
	struct vfu_region_info ri = { .argsz = sizeof(ri), .index = 9 };
	struct vfu_device_info di = { .argsz = sizeof(di) };
	struct vfu_dma_map dm = { .argsz = sizeof(dm), .size = 4096 };
	struct {
		struct vfu_hdr h;
		uint8_t body[32];
	} m;
	uint8_t big[64];

	for (int i = 0; i < 20; i++)
		e[i] = h_eventfd();
	tap_ok(fd >= 0 && handshake(fd, &pba_off), "a second VMM connection "
	    "after the first went away is served");
	fds0 = count_fds(vpid);

	memset(&m, 0, sizeof(m));
	m.h = (struct vfu_hdr){ .id = 1, .cmd = 99, .size = sizeof(m.h) };
	tap_ok(raw_req(fd, &m, sizeof(m.h), NULL, 0) == ENOSYS,
	    "an unknown command: ENOSYS");
	tap_ok(vreq(fd, VFU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL,
	    0, NULL, 0, NULL) == EINVAL, "region index 9: EINVAL");
	tap_ok(vreq(fd, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di) - 4, NULL, 0,
	    NULL, 0, NULL) == EINVAL, "a payload shorter than the command's: "
	    "EINVAL");
	rw = (struct vfu_region_rw){ .offset = 252, .region = 7, .count = 8 };
	tap_ok(vreq(fd, VFU_CMD_REGION_READ, &rw, sizeof(rw), NULL, 0, NULL, 0,
	    NULL) == EINVAL, "a config read past the end: EINVAL");
	rw = (struct vfu_region_rw){ .offset = UINT64_MAX - 1, .region = 0,
	    .count = 4 };
	tap_ok(vreq(fd, VFU_CMD_REGION_READ, &rw, sizeof(rw), NULL, 0, NULL, 0,
	    NULL) == EINVAL, "a BAR0 offset that overflows: EINVAL");
	rw = (struct vfu_region_rw){ .offset = 0, .region = 1, .count = 4 };
	tap_ok(vreq(fd, VFU_CMD_REGION_READ, &rw, sizeof(rw), NULL, 0, NULL, 0,
	    NULL) == EINVAL, "a read of an empty region (BAR1): EINVAL");
	rw = (struct vfu_region_rw){ .offset = 0, .region = 7, .count = 8 };
	memcpy(big, &rw, sizeof(rw));
	tap_ok(vreq(fd, VFU_CMD_REGION_WRITE, big, sizeof(rw) + 4, NULL, 0,
	    NULL, 0, NULL) == EINVAL, "a write whose data is shorter than its "
	    "count: EINVAL");
	/* The function's vector count from its MSI-X Table Size (NVEC
	 * here; another under test-vfu --against). */
	nv = region_read(fd, 7, 0x42, 2, &mctl) == 0 ? (mctl & 0x7ffu) + 1 :
	    NVEC;
	tap_ok(set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER |
	    VFU_IRQ_SET_DATA_EVENTFD, nv - 1, 2, e, 2) == EINVAL,
	    "SET_IRQS past the last vector (%u): EINVAL, its fds closed",
	    nv - 1);
	tap_ok(set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER |
	    VFU_IRQ_SET_DATA_EVENTFD, 0, 3, e, 2) == EINVAL,
	    "SET_IRQS with fewer fds than vectors: EINVAL");
	tap_ok(set_irqs(fd, VFU_IRQ_SET_ACTION_MASK | VFU_IRQ_SET_DATA_EVENTFD,
	    0, 1, e, 1) == EINVAL, "MASK with an eventfd: EINVAL");
	tap_ok(set_irqs(fd, VFU_IRQ_SET_ACTION_MASK |
	    VFU_IRQ_SET_ACTION_UNMASK | VFU_IRQ_SET_DATA_NONE, 0, 1, NULL, 0) ==
	    EINVAL, "two actions at once: EINVAL");
	s = (struct vfu_irq_set){ .argsz = sizeof(s), .flags =
	    VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_EVENTFD,
	    .index = VFU_IRQ_MSI, .count = 1 };
	tap_ok(vreq(fd, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), e, 1, NULL, 0,
	    NULL) == EINVAL, "SET_IRQS on MSI, which the function lacks: "
	    "EINVAL");
	s = (struct vfu_irq_set){ .argsz = sizeof(s), .flags =
	    VFU_IRQ_SET_ACTION_MASK | VFU_IRQ_SET_DATA_BOOL,
	    .index = VFU_IRQ_MSIX, .count = 4 };
	memset(big, 1, sizeof(big));
	memcpy(big, &s, sizeof(s));
	tap_ok(vreq(fd, VFU_CMD_DEVICE_SET_IRQS, big, sizeof(s) + 2, NULL, 0,
	    NULL, 0, NULL) == EINVAL, "DATA_BOOL with fewer bytes than "
	    "vectors: EINVAL");
	tap_ok(vreq(fd, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di), e, 3, NULL,
	    0, NULL) == EINVAL, "fds on a command that takes none: EINVAL");
	tap_ok(vreq(fd, VFU_CMD_DMA_MAP, &dm, sizeof(dm), e, 1, NULL, 0, NULL)
	    == 0, "DMA_MAP with an fd: accepted");
	m.h = (struct vfu_hdr){ .id = 2, .cmd = VFU_CMD_DEVICE_RESET,
	    .size = sizeof(m.h), .flags = VFU_F_ERROR };
	tap_ok(raw_req(fd, &m, sizeof(m.h), NULL, 0) == EINVAL,
	    "a request with the error flag: EINVAL");
	m.h = (struct vfu_hdr){ .id = 3, .cmd = VFU_CMD_VERSION,
	    .size = sizeof(m.h) + 8 };
	memcpy(m.body, "\0\0\0\0{\"a\"", 8);
	tap_ok(raw_req(fd, &m, sizeof(m.h) + 8, NULL, 0) == EINVAL,
	    "VERSION whose capabilities are not a terminated JSON object: "
	    "EINVAL");
	fds1 = count_fds(vpid);
	tap_ok(fds0 > 0 && fds1 == fds0, "msiv-vfu closed every fd those "
	    "messages carried (%d fds before, %d after)", fds0, fds1);
	/* Posted write: no reply, then a read sees it. */
	r = vreq_flags(fd, VFU_CMD_REGION_WRITE, VFU_F_NO_REPLY,
	    (uint8_t[]){ 0x3c, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0,
	    0x5a }, 17, NULL, 0, NULL, 0, NULL);
	big[0] = 0;
	tap_ok(r == 0 && region_read(fd, 7, 0x3c, 1, big) == 0 &&
	    big[0] == 0x5a, "a posted config write (NO_REPLY) gets no reply "
	    "and takes effect");
	big[0] = 0xff;
	tap_ok(region_write(fd, 7, 0, 1, big) == 0 &&
	    region_read(fd, 7, 0, 2, big) == 0 && big[0] == 0x34 &&
	    big[1] == 0x12, "the vendor ID is read-only");

	/* Messages that end the connection; msiv-vfu serves the next. */
	m.h = (struct vfu_hdr){ .id = 4, .cmd = VFU_CMD_DEVICE_RESET,
	    .size = 8 };
	tap_ok(send_raw(fd, &m, sizeof(m.h), NULL, 0) == 0 && closed(fd),
	    "a header whose size is below 16: connection closed");
	close(fd);
	fd = vconnect();
	m.h = (struct vfu_hdr){ .id = 5, .cmd = VFU_CMD_DEVICE_RESET,
	    .size = 1u << 20 };
	tap_ok(fd >= 0 && handshake(fd, &pba_off) &&
	    send_raw(fd, &m, sizeof(m.h), NULL, 0) == 0 && closed(fd),
	    "a 1 MiB message: connection closed");
	close(fd);
	fd = vconnect();
	memset(&m, 0, sizeof(m));
	m.h = (struct vfu_hdr){ .id = 6, .cmd = VFU_CMD_DEVICE_RESET,
	    .size = sizeof(m.h) };
	tap_ok(fd >= 0 && handshake(fd, &pba_off) &&
	    send_raw(fd, &m, sizeof(m.h), e, 20) == 0 && closed(fd),
	    "20 fds on one message (more than max_msg_fds): connection "
	    "closed");
	close(fd);
	fd = vconnect();
	m.h.flags = VFU_TYPE_REPLY;
	tap_ok(fd >= 0 && handshake(fd, &pba_off) &&
	    send_raw(fd, &m, sizeof(m.h), NULL, 0) == 0 && closed(fd),
	    "a reply where a request belongs: connection closed");
	close(fd);
	fd = vconnect();
	tap_ok(fd >= 0 && handshake(fd, &pba_off) &&
	    (d.pid == 0 || h_alive(&d)) && kill(vpid, 0) == 0,
	    "after all that, msiv-vfu still serves");
	close(fd);
	for (int i = 0; i < 20; i++)
		close(e[i]);
}

/* Lines of msiv-vfu's log that contain what. */
static int
log_lines(const char *what)
{
	FILE *f = fopen(vlog, "re");
	char line[256];
	int n = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, what) != NULL;
	if (f != NULL)
		fclose(f);
	return n;
}

/* Wait until msiv-vfu's log has more than n lines with what. */
static int
wait_log(const char *what, int n)
{
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;

	while (h_now_ms() < deadline) {
		if (log_lines(what) > n)
			return 1;
		usleep(2000);
	}
	return 0;
}

/* The tenant's one vfunc: its handle and flags. */
static uint64_t
tenant_vfunc(uint32_t *flags)
{
	struct msiv_vfunc_info rec[8];
	int n = msiv_list_vfuncs(admin, rec, 8, sizeof(*rec));

	for (int i = 0; i < n && i < 8; i++)
		if (strcmp(rec[i].tenant, "vfu1") == 0) {
			*flags = rec[i].flags;
			return rec[i].vfunc;
		}
	return 0;
}

static int
vfuncs_of_tenant(void)
{
	struct msiv_vfunc_info rec[8];
	int n = msiv_list_vfuncs(admin, rec, 8, sizeof(*rec)), k = 0;

	for (int i = 0; i < n && i < 8; i++)
		k += strcmp(rec[i].tenant, "vfu1") == 0;
	return k;
}

/* Wait until the tenant holds k vfuncs. */
static int
wait_vfuncs(int k)
{
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;

	while (h_now_ms() < deadline) {
		if (vfuncs_of_tenant() == k)
			return 1;
		usleep(2000);
	}
	return 0;
}

/*
 * --orphan: the VMM going away leaves the vfunc reset and kept for the
 * next VMM; msiv-vfu exiting leaves it to msivd's orphan_grace (an hour
 * here), and the next msiv-vfu of the tenant takes it over.
 */
static void
test_orphan(void)
{
	struct msiv_vector_state in;
	int fd, efd = h_eventfd(), st = 0, k;
	uint32_t pba_off, flags = 0;
	uint64_t kept;

	if (vpid > 0 && vfu_stop(vpid, SIGTERM) == 0)
		vpid = vfu_start("--orphan", &st);
	tap_ok(vpid > 0 && wait_vfuncs(0), "msiv-vfu --orphan serves; the "
	    "tenant holds no vfunc yet");
	fd = vconnect();
	tap_ok(fd >= 0 && handshake(fd, &pba_off) && find_vfunc() &&
	    set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_EVENTFD,
	    0, 1, &efd, 1) == 0 && vinfo(0, &in) == 0 &&
	    in.slot != MSIV_SLOT_NONE, "a VMM sets vector 0 up");
	kept = vf;
	k = log_lines("the VMM went away");
	close(fd);
	tap_ok(wait_log("the VMM went away", k) && vfuncs_of_tenant() == 1 &&
	    tenant_vfunc(&flags) == kept && vinfo(0, &in) == 0 &&
	    !(in.state & MSIV_VEC_TARGET) && in.slot == MSIV_SLOT_NONE,
	    "the VMM went away: the vfunc is kept, reset (vector 0 freed, its "
	    "slot given back)");
	fd = vconnect();
	tap_ok(fd >= 0 && handshake(fd, &pba_off) && vfuncs_of_tenant() == 1 &&
	    tenant_vfunc(&flags) == kept, "the next VMM gets the same vfunc");
	if (fd >= 0)
		close(fd);
	tap_ok(vfu_stop(vpid, SIGTERM) == 0 && tenant_vfunc(&flags) == kept &&
	    (flags & MSIV_VFUNC_ORPHANED), "msiv-vfu exits 0 and leaves the "
	    "vfunc to msivd's orphan_grace (orphaned, not closed)");
	vpid = vfu_start("--orphan", &st);
	fd = vpid > 0 ? vconnect() : -1;
	tap_ok(fd >= 0 && handshake(fd, &pba_off) && vfuncs_of_tenant() == 1 &&
	    tenant_vfunc(&flags) == kept && !(flags & MSIV_VFUNC_ORPHANED) &&
	    set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_EVENTFD,
	    0, 1, &efd, 1) == 0 && fire(0) &&
	    h_efd_wait(efd, H_TIMEOUT_MS) == 1,
	    "the next msiv-vfu --orphan takes it over with the token file and "
	    "serves it to a VMM: vector 0 delivers");
	if (fd >= 0)
		close(fd);
	close(efd);
}

/*
 * The VMM side of test_destination: this program again, as
 * "test-vfu --destination SOCKET -incoming defer", the command line of a
 * QEMU that is a migration destination. Exit 0 if its VERSION got
 * EOPNOTSUPP, and so did the next one.
 */
static int
as_destination(void)
{
	uint8_t rep[512];
	int fd = vconnect(), r;

	if (fd < 0)
		return 2;
	r = version(fd, rep, sizeof(rep), NULL) == EOPNOTSUPP &&
	    version(fd, rep, sizeof(rep), NULL) == EOPNOTSUPP;
	close(fd);
	return r ? 0 : 1;
}

/*
 * A migration destination (a VMM started with -incoming) is refused
 * before a vfunc is opened for it; the next ordinary VMM is served.
 */
static void
test_destination(void)
{
	const char *what = "is a migration destination (started with "
	    "-incoming): refused";
	int before = log_lines(what), st = 0, fd;
	uint32_t pba_off;
	pid_t p = fork();

	if (p < 0)
		tap_bail("fork");
	if (p == 0) {
		execl("/proc/self/exe", "test-vfu", "--destination", vsock,
		    "-incoming", "defer", (char *)NULL);
		_exit(127);
	}
	if (waitpid(p, &st, 0) != p)
		tap_bail("waitpid");
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && wait_log(what, before) &&
	    vfuncs_of_tenant() == 0, "a VMM started with -incoming (a "
	    "migration destination): VERSION refused with EOPNOTSUPP, "
	    "every time; no vfunc opened, the refusal logged "
	    "(exit %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	fd = vconnect();
	tap_ok(fd >= 0 && handshake(fd, &pba_off) && find_vfunc(),
	    "the next VMM, not a destination, is served");
	if (fd >= 0)
		close(fd);
	tap_ok(wait_vfuncs(0), "and its vfunc is closed when it goes");
}

static void
test_lifetimes(void)
{
	struct stat sb;
	int fd, efd = h_eventfd(), st = 0;
	uint32_t pba_off;
	pid_t p2;

	tap_ok(stat(vsock, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "the socket's mode is 0600");
	p2 = vfu_start(NULL, &st);
	tap_ok(p2 < 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
	    stat(vsock, &sb) == 0, "a second msiv-vfu on a live socket exits 1 "
	    "and leaves it alone");

	/* msivd killed and restarted under a connected VMM. */
	fd = vconnect();
	tap_ok(fd >= 0 && handshake(fd, &pba_off) && find_vfunc() &&
	    set_irqs(fd, VFU_IRQ_SET_ACTION_TRIGGER | VFU_IRQ_SET_DATA_EVENTFD,
	    0, 1, &efd, 1) == 0, "a VMM with vector 0 set up");
	msiv_close(admin);
	tap_ok(h_kill9(&d) == 0 && h_spawn(&d) == 0 &&
	    (admin = h_connect(&d, NULL)) != NULL,
	    "msivd killed (SIGKILL) and started again");
	/* msiv-vfu resumes with its token: the same vfunc, its session
	 * back, the eventfd attached again. */
	{
		int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
		struct msiv_vector_state in = { 0 };

		while (h_now_ms() < deadline && !(vinfo(0, &in) == 0 &&
		    (in.state & (MSIV_VEC_TARGET | MSIV_VEC_ORPHANED)) ==
		    MSIV_VEC_TARGET))
			usleep(5000);
		tap_diag("after the restart vector 0: state 0x%x fired %llu "
		    "delivered %llu", in.state, (unsigned long long)in.fired,
		    (unsigned long long)in.delivered);
		tap_ok((in.state & (MSIV_VEC_TARGET | MSIV_VEC_ORPHANED)) ==
		    MSIV_VEC_TARGET && fire(0) &&
		    h_efd_wait(efd, H_TIMEOUT_MS) >= 1,
		    "msiv-vfu resumed with its token: vector 0 delivers to "
		    "the VMM's eventfd again");
	}
	tap_ok(set_irqs(fd, VFU_IRQ_SET_ACTION_MASK | VFU_IRQ_SET_DATA_NONE, 0,
	    1, NULL, 0) == 0 && set_irqs(fd, VFU_IRQ_SET_ACTION_UNMASK |
	    VFU_IRQ_SET_DATA_NONE, 0, 1, NULL, 0) == 0,
	    "the VMM's connection is the same one, still served");

	/* The VMM goes away: the vfunc is closed. */
	close(fd);
	tap_ok(wait_vfuncs(0), "the VMM went away: msiv-vfu closed its vfunc");

	/* A revoked vfunc ends the VMM's connection; msiv-vfu exits 3. */
	fd = vconnect();
	{
		unsigned int n = 0;

		tap_ok(fd >= 0 && handshake(fd, &pba_off) && find_vfunc() &&
		    msiv_revoke(admin, NULL, vf, &n) == 0 && n == 1 &&
		    closed(fd) && waitpid(vpid, &st, 0) == vpid &&
		    WIFEXITED(st) && WEXITSTATUS(st) == 3,
		    "a revoked vfunc: the VMM's connection closed, msiv-vfu "
		    "exits 3");
	}
	close(fd);
	tap_ok(stat(vsock, &sb) < 0, "it removed its socket");

	/* A stale socket file (msiv-vfu killed) is replaced. */
	vpid = vfu_start(NULL, &st);
	if (vpid > 0)
		kill(vpid, SIGKILL), waitpid(vpid, &st, 0);
	tap_ok(stat(vsock, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
	    (vpid = vfu_start(NULL, &st)) > 0 && (fd = vconnect()) >= 0 &&
	    handshake(fd, &pba_off), "after SIGKILL its socket file is left; "
	    "the next msiv-vfu replaces it and serves");
	if (fd >= 0)
		close(fd);
	close(efd);

	/* --reserve: every vector's slot is bound when the VMM connects. */
	if (vpid > 0 && vfu_stop(vpid, SIGTERM) == 0)
		vpid = vfu_start("--reserve", &st);
	fd = vpid > 0 ? vconnect() : -1;
	{
		struct msiv_vector_state in = { .slot = MSIV_SLOT_NONE };

		tap_ok(fd >= 0 && handshake(fd, &pba_off) && find_vfunc() &&
		    vinfo(NVEC - 1, &in) == 0 && in.slot != MSIV_SLOT_NONE,
		    "--reserve: a slot for every vector as soon as the VMM "
		    "connects (vector %d has one)", NVEC - 1);
	}
	if (fd >= 0)
		close(fd);
	test_orphan();
}

/* The token file is libmsiv's (msiv_token_save): mode 0600; one that
 * others may read is refused, and msiv-vfu exits 1 saying why. */
static void
test_token_file(void)
{
	char tok[200];
	struct stat sb;
	int st = 0, k;
	pid_t p;

	snprintf(tok, sizeof(tok), "%s.token", vsock);
	tap_ok(stat(tok, &sb) == 0 && (sb.st_mode & 07777) == 0600,
	    "the token file beside the socket is mode 0600");
	if (vpid > 0 && vfu_stop(vpid, SIGTERM) == 0)
		vpid = -1;
	k = log_lines("others may read it");
	p = chmod(tok, 0644) == 0 ? vfu_start(NULL, &st) : 0;
	tap_ok(p < 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
	    log_lines("others may read it") > k, "a token file others may "
	    "read: msiv-vfu exits 1 and says so");
	if (p > 0)
		(void)vfu_stop(p, SIGTERM);
	vpid = chmod(tok, 0600) == 0 ? vfu_start(NULL, &st) : -1;
	tap_ok(vpid > 0, "mode 0600 again: it serves, resuming the tenant");
}

/*
 * test-vfu --against SOCKET PID: only the malformed traffic, against an
 * msiv-vfu already serving SOCKET (process PID), such as the one check-vfu
 * runs under QEMU once QEMU has gone (scenario 8).
 */
int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--against") == 0) {
		if (strlen(argv[2]) >= sizeof(vsock))
			tap_bail("socket path too long");
		strcpy(vsock, argv[2]);
		vpid = (pid_t)atoi(argv[3]);
		if (vpid <= 0 || kill(vpid, 0) < 0)
			tap_bail("no msiv-vfu at that pid");
		test_malformed();
		return tap_done();
	}
	if (argc == 5 && strcmp(argv[1], "--destination") == 0 &&
	    strlen(argv[2]) < sizeof(vsock)) {
		strcpy(vsock, argv[2]);
		return as_destination();
	}
	if (argc != 1)
		tap_bail("usage: test-vfu [--against SOCKET PID]");
	if (h_start(&d, conf) < 0)
		tap_bail("msivd did not start");
	snprintf(vsock, sizeof(vsock), "%s/vfu.sock", d.dir);
	snprintf(vlog, sizeof(vlog), "%s/msiv-vfu.log", d.dir);
	admin = h_connect(&d, NULL);
	if (admin == NULL)
		tap_bail("no admin connection");
	vpid = vfu_start(NULL, NULL);
	test_protocol();
	test_malformed();
	test_destination();
	test_lifetimes();
	test_token_file();
	if (vpid > 0)
		tap_ok(vfu_stop(vpid, SIGTERM) == 0, "msiv-vfu exits 0 on "
		    "SIGTERM");
	msiv_close(admin);
	if (tap_failed) {
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "sed 's/^/# /' %s | tail -60; "
		    "sed 's/^/# msivd: /' %s | tail -20", vlog, d.log);
		fflush(stdout);
		if (system(cmd) != 0)
			tap_diag("cannot show msiv-vfu's log");
	}
	h_stop(&d);
	return tap_done();
}
