/*
 * Integration test: who may do what (issue 6). The real msivd with
 * [tenant] sections; clients run as other users (the test forks, and the
 * children drop to uids and gids no one on the machine uses) and report
 * what the daemon answered through a pipe, so every check is made here.
 * Needs root to switch users; skipped otherwise.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "proto.h"
#include "tap.h"

#define UID_A    4001u /* tenant vm-a by uid */
#define UID_B    4002u /* tenant vm-b by primary group */
#define UID_C    4003u /* tenant vm-b by a supplementary group */
#define UID_NONE 4009u /* no tenant admits it */
#define GID_B    4100u
#define GID_NONE 4200u

static struct h_daemon d;

static const char conf[] =
    "[msivd]\n"
    "socket_mode = 0666\n"
    "orphan_grace = 0\n"
    "max_sessions_per_uid = 3\n"
    "max_queued = 64\n"
    "max_rate = 2000\n"
    "\n"
    "[device sim0]\nbackend = sim\nslots = 256\n"
    "[device sim1]\nbackend = sim\nslots = 64\n"
    "\n"
    "[tenant vm-a]\nuids = 4001\ndevices = sim0\nmax_vfuncs = 2\n"
    "max_vectors = 8\n"
    "\n"
    "[tenant vm-b]\ngids = 4100\n";

/* --- running as someone else ------------------------------------------------*/

#define R_MAX 32

struct res {
	int n;
	long v[R_MAX];
};

typedef void as_fn(struct res *r, const void *arg);

/* Run fn in a child as uid/gid (and one supplementary group, if not 0);
 * what it put in r comes back. */
static struct res
as_user(uid_t uid, gid_t gid, gid_t extra, as_fn *fn, const void *arg)
{
	struct res r = { 0 };
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		tap_bail("fork");
	if (pid == 0) {
		gid_t g[1] = { extra };

		if (setgroups(extra != 0 ? 1 : 0, g) < 0 ||
		    setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(99);
		fn(&r, arg);
		_exit(write(p[1], &r, sizeof(r)) == sizeof(r) ? 0 : 98);
	}
	close(p[1]);
	if (read(p[0], &r, sizeof(r)) != sizeof(r))
		r.n = -1;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return r;
}

static void
put(struct res *r, long v)
{
	if (r->n < R_MAX)
		r->v[r->n++] = v;
}

/* --- who may act as which tenant --------------------------------------------*/

static void
hello_as(struct res *r, const void *arg)
{
	struct msiv_conn *c;
	int e = msiv_connect(d.sock, arg, &c);

	put(r, e);
	if (e == 0) {
		put(r, strcmp(msiv_tenant(c), "vm-a") == 0 ? 'a' :
		    strcmp(msiv_tenant(c), "vm-b") == 0 ? 'b' : '?');
		put(r, msiv_is_admin(c));
		msiv_close(c);
	}
}

/* The reason a refused HELLO got: is it the expected one? */
static void
hello_why(struct res *r, const void *arg)
{
	struct msiv_conn *c;
	int e = msiv_connect(d.sock, arg, &c);

	put(r, e);
	if (e == 0) {
		msiv_close(c);
		return;
	}
	put(r, strcmp(msiv_last_reason(NULL), getuid() == UID_NONE ?
	    "no [tenant] section admits uid 4009 (gid 4200)" :
	    "tenant vm-b refused: its [tenant] section does not admit uid "
	    "4001") == 0);
}

static void
test_admission(void)
{
	struct res r;

	r = as_user(UID_A, UID_A, 0, hello_as, "vm-a");
	ok(r.n == 3 && r.v[0] == 0 && r.v[1] == 'a' && r.v[2] == 0,
	    "uid %u acts as vm-a (its uids), not an admin", UID_A);
	r = as_user(UID_A, UID_A, 0, hello_as, "");
	ok(r.n == 3 && r.v[0] == 0 && r.v[1] == 'a',
	    "uid %u without a name is vm-a", UID_A);
	r = as_user(UID_A, UID_A, 0, hello_as, "vm-b");
	ok(r.n == 1 && r.v[0] == -EACCES, "uid %u as vm-b: EACCES", UID_A);
	r = as_user(UID_A, UID_A, 0, hello_why, "vm-b");
	ok(r.n == 2 && r.v[1], "...told why: \"tenant vm-b refused: its "
	    "[tenant] section does not admit uid 4001\"");
	ok(h_logged(&d, "tenant vm-b refused: its [tenant] section does not "
	    "admit uid 4001"), "...and it is logged");
	r = as_user(UID_B, GID_B, 0, hello_as, "vm-b");
	ok(r.n == 3 && r.v[0] == 0 && r.v[1] == 'b',
	    "uid %u with primary group %u acts as vm-b", UID_B, GID_B);
	r = as_user(UID_C, UID_C, GID_B, hello_as, "vm-b");
	ok(r.n == 3 && r.v[0] == 0 && r.v[1] == 'b',
	    "uid %u with supplementary group %u acts as vm-b", UID_C, GID_B);
	r = as_user(UID_C, UID_C, GID_B, hello_as, "made-up");
	ok(r.n == 1 && r.v[0] == -EACCES,
	    "a tenant no section names: EACCES for a non-admin");
	r = as_user(UID_NONE, GID_NONE, 0, hello_as, "vm-a");
	ok(r.n == 1 && r.v[0] == -EACCES,
	    "uid %u, which no tenant admits: EACCES", UID_NONE);
	ok(h_logged(&d, "uid 4009 gid 4200 refused: no [tenant] admits it"),
	    "...logged at accept with its uid and gid");
	r = as_user(UID_NONE, GID_NONE, 0, hello_why, "vm-a");
	ok(r.n == 2 && r.v[0] == -EACCES && r.v[1], "...and told \"no [tenant] "
	    "section admits uid 4009 (gid 4200)\"");
}

/* msivctl as a user no tenant admits. */
static void
ctl_as(struct res *r, const void *arg)
{
	const char *ctl = getenv("MSIVCTL");
	int p[2], st;
	char out[512] = "";
	ssize_t n;
	pid_t pid;

	(void)arg;
	if (ctl == NULL || pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		put(r, -1);
		return;
	}
	if (pid == 0) {
		dup2(p[1], 2);
		dup2(p[1], 1);
		execl(ctl, "msivctl", "--socket", d.sock, "status",
		    (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	waitpid(pid, &st, 0);
	put(r, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	put(r, n > 0 && strstr(out, "permission denied") != NULL);
}

static void
test_msivctl_denied(void)
{
	struct res r = as_user(UID_NONE, GID_NONE, 0, ctl_as, NULL);

	ok(r.n == 2 && r.v[0] == 4 && r.v[1] == 1, "msivctl status as uid %u: "
	    "\"permission denied\", exit 4", UID_NONE);
}

/* --- devices, quotas, admin operations, handles ----------------------------*/

static void
tenant_a(struct res *r, const void *arg)
{
	struct msiv_device_info devs[8];
	struct msiv_conn *c;
	uint64_t v1 = 0, v2 = 0, v3 = 0;
	uint32_t n;
	static const char quota[] = "tenant vm-a over its quota on sim0: 2 "
	    "of 2 vfuncs";
	const uint64_t *theirs = arg;
	char want[64];
	int why[4];

	if (msiv_connect(d.sock, "vm-a", &c) < 0) {
		put(r, -1000);
		return;
	}
	put(r, msiv_list_devices(c, devs, 8, sizeof(*devs)));      /* 0 */
	put(r, strcmp(devs[0].name, "sim0") == 0);                 /* 1 */
	put(r, msiv_vfunc_open(c, "sim1", 1, 0, &v1));             /* 2 */
	why[0] = strcmp(msiv_last_reason(c), "tenant vm-a may not use device "
	    "sim1") == 0;
	put(r, msiv_vfunc_open(c, "sim0", 4, 0, &v1));             /* 3 */
	put(r, msiv_vfunc_open(c, "sim0", 4, 0, &v2));             /* 4 */
	put(r, msiv_vfunc_open(c, "sim0", 1, 0, &v3));             /* 5 */
	why[1] = strncmp(msiv_last_reason(c), quota, sizeof(quota) - 1) == 0;
	put(r, msiv_vfunc_close(c, v2));                           /* 6 */
	put(r, msiv_vfunc_open(c, "sim0", 5, 0, &v3));             /* 7 */
	put(r, msiv_vfunc_open(c, "sim0", 4, 0, &v3));             /* 8 */
	put(r, msiv_sim_fire(c, "sim0", 0, 1));                    /* 9 */
	put(r, msiv_revoke(c, "vm-b", 0, &n));                     /* 10 */
	put(r, msiv_shutdown(c));                                  /* 11 */
	why[2] = strcmp(msiv_last_reason(c), "SHUTDOWN denied: not an admin") ==
	    0;
	put(r, msiv_device_detach(c, "sim1", 0));                  /* 12 */
	/* Another tenant's handle, and a made-up one. */
	put(r, msiv_vfunc_enable(c, *theirs, 1));                  /* 13 */
	snprintf(want, sizeof(want), "no vfunc %016llx in this session",
	    (unsigned long long)*theirs);
	why[3] = strcmp(msiv_last_reason(c), want) == 0;
	put(r, msiv_vfunc_enable(c, *theirs ^ 0x5a5a5a5a5a5aull, 1)); /* 14 */
	put(r, msiv_vfunc_close(c, *theirs));                      /* 15 */
	{
		struct msiv_vfunc_info recs[16];
		int k = msiv_list_vfuncs(c, recs, 16, sizeof(*recs));
		int foreign = 0;

		for (int i = 0; i < k; i++)
			foreign |= recs[i].vfunc == *theirs;
		put(r, k);                                         /* 16 */
		put(r, foreign);                                   /* 17 */
	}
	put(r, msiv_log_level(c, MSIV_LOG_DEBUG));                 /* 18 */
	for (int i = 0; i < 4; i++)
		put(r, why[i]);                                    /* 19-22 */
	msiv_close(c);
}

static void
test_tenant_rules(void)
{
	struct msiv_conn *b;
	uint64_t bvf;
	struct res r;

	/* vm-b's vfunc, held by a session of vm-b for the duration. */
	{
		struct msiv_conn *adm = h_connect(&d, "admin");

		msiv_close(adm);
	}
	if (msiv_connect(d.sock, "vm-b", &b) < 0 ||
	    msiv_vfunc_open(b, "sim1", 2, 0, &bvf) < 0)
		tap_bail("vm-b set-up (as an admin acting as vm-b)");
	r = as_user(UID_A, UID_A, 0, tenant_a, &bvf);
	if (r.n != 23)
		tap_bail("the vm-a client did not report");
	is_int((int)r.v[0], 1, "vm-a lists one device (devices = sim0)");
	ok(r.v[1], "...sim0");
	is_int((int)r.v[2], -EACCES, "vm-a opening on sim1: EACCES");
	ok(r.v[3] == 0 && r.v[4] == 0, "vm-a opens 2 vfuncs of 4 vectors "
	    "(max_vfuncs 2, max_vectors 8)");
	is_int((int)r.v[5], -EDQUOT, "a third vfunc: EDQUOT");
	is_int((int)r.v[6], 0, "close one");
	is_int((int)r.v[7], -EDQUOT, "5 vectors more (4 + 5 > 8): EDQUOT");
	is_int((int)r.v[8], 0, "4 vectors more: granted");
	ok(h_logged(&d, "tenant vm-a over its quota on sim0"), "the refusal is "
	    "logged");
	is_int((int)r.v[9], -EPERM, "vm-a: SIM_FIRE is for admins (EPERM)");
	is_int((int)r.v[10], -EPERM, "vm-a: REVOKE: EPERM");
	is_int((int)r.v[11], -EPERM, "vm-a: SHUTDOWN: EPERM");
	is_int((int)r.v[12], -EPERM, "vm-a: DEVICE_DETACH: EPERM");
	is_int((int)r.v[18], -EPERM, "vm-a: LOG_LEVEL: EPERM");
	ok(h_logged(&d, "SHUTDOWN denied: not an admin"), "denied admin "
	    "operations are logged");
	ok(r.v[19] && r.v[20] && r.v[21] && r.v[22], "vm-a is told why, in the "
	    "log's words: the device it may not use, its quota, not an admin, "
	    "and for vm-b's handle what a made-up one gets");
	ok(r.v[13] == -ENOENT && r.v[14] == -ENOENT && r.v[15] == -ENOENT,
	    "vm-b's handle gets ENOENT from vm-a, like a made-up one");
	ok(r.v[16] == 2 && r.v[17] == 0, "vm-a's listing has its own 2 "
	    "vfuncs and none of vm-b's");
	ok(msiv_vfunc_enable(b, bvf, 1) == 0, "vm-b's vfunc is untouched");
	msiv_vfunc_close(b, bvf);
	msiv_close(b);
}

/* --- caps: sessions per uid, queued replies, request rate -------------------*/

static void
sessions_cap(struct res *r, const void *arg)
{
	struct msiv_conn *c[4] = { 0 };

	(void)arg;
	for (int i = 0; i < 4; i++)
		put(r, msiv_connect(d.sock, "vm-a", &c[i]));
	for (int i = 0; i < 4; i++)
		if (c[i] != NULL)
			msiv_close(c[i]);
}

static int
raw_send(int fd, uint16_t op, uint32_t seq, const void *p, uint32_t len)
{
	unsigned char pkt[MSIV_MSG_MAX];
	struct msiv_hdr h = {
		.magic = MSIV_PROTO_MAGIC, .version = MSIV_PROTO_VERSION,
		.opcode = op, .seq = seq, .len = len,
	};

	msiv_hdr_encode(&h, pkt);
	if (len > 0) /* p may be NULL: memcpy(NULL, 0) is undefined */
		memcpy(pkt + sizeof(h), p, len);
	return send(fd, pkt, sizeof(h) + len, MSG_NOSIGNAL) ==
	    (ssize_t)(sizeof(h) + len) ? 0 : -1;
}

/* The reply's sequence number, or -1 (closed, timed out). */
static long
raw_reply(int fd)
{
	unsigned char pkt[MSIV_MSG_MAX];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct msiv_hdr h;
	ssize_t n;

	if (poll(&p, 1, H_TIMEOUT_MS) != 1 ||
	    (n = recv(fd, pkt, sizeof(pkt), 0)) <= 0 ||
	    msiv_hdr_decode(pkt, (size_t)n, &h) < 0)
		return -1;
	return h.status == 0 ? (long)h.seq : -1;
}

static int
raw_hello(int fd, const char *tenant)
{
	struct msiv_hello_req hq = { .version_min = 1, .version_max = 1 };

	snprintf(hq.tenant, sizeof(hq.tenant), "%s", tenant);
	return raw_send(fd, MSIV_OP_HELLO, 1, &hq, sizeof(hq)) == 0 &&
	    raw_reply(fd) == 1 ? 0 : -1;
}

/* 6000 STATUS requests in windows of 50, against max_rate 2000/s (one
 * second of credit to start with): every reply arrives, in order, and it
 * takes at least the 2 s the rate allows. A lower bound on time only. */
static void
rate_flood(struct res *r, const void *arg)
{
	int fd = h_raw_connect(&d), inorder = 1;
	int64_t t0;
	uint32_t seq = 10;

	(void)arg;
	if (fd < 0 || raw_hello(fd, "vm-b") < 0) {
		put(r, -1);
		return;
	}
	t0 = h_now_ms();
	for (int w = 0; w < 120; w++) {
		for (int i = 0; i < 50; i++)
			if (raw_send(fd, MSIV_OP_STATUS, seq + (uint32_t)i,
			    NULL, 0) < 0)
				inorder = 0;
		for (int i = 0; i < 50; i++)
			if (raw_reply(fd) != (long)(seq + (uint32_t)i))
				inorder = 0;
		seq += 50;
	}
	put(r, inorder);
	put(r, (long)(h_now_ms() - t0));
	close(fd);
}

/* A vm-b client that sends and never reads: dropped past max_queued. */
static void
no_reader(struct res *r, const void *arg)
{
	int fd = h_raw_connect(&d), dropped = 0;

	(void)arg;
	if (fd < 0 || raw_hello(fd, "vm-b") < 0) {
		put(r, -1);
		return;
	}
	for (uint32_t i = 0; i < 1000 && !dropped; i++) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (poll(&p, 1, H_TIMEOUT_MS) != 1 ||
		    (p.revents & (POLLHUP | POLLERR)) ||
		    raw_send(fd, MSIV_OP_STATUS, 100 + i, NULL, 0) < 0)
			dropped = 1;
	}
	put(r, dropped);
	close(fd);
}

static void
test_caps(void)
{
	struct msiv_conn *adm;
	struct msiv_status_info st;
	struct res r;

	r = as_user(UID_A, UID_A, 0, sessions_cap, NULL);
	ok(r.n == 4 && r.v[0] == 0 && r.v[1] == 0 && r.v[2] == 0 &&
	    r.v[3] < 0, "uid %u: 3 sessions (max_sessions_per_uid), the 4th "
	    "refused (%ld)", UID_A, r.n == 4 ? r.v[3] : 0);
	ok(h_logged(&d, "uid 4001 refused: it has 3 sessions"),
	    "...and logged");
	r = as_user(UID_B, GID_B, 0, hello_as, "vm-b");
	ok(r.n == 3 && r.v[0] == 0, "another uid still gets in");

	r = as_user(UID_B, GID_B, 0, rate_flood, NULL);
	ok(r.n == 2 && r.v[0] == 1, "6000 requests over max_rate: every "
	    "reply, in order");
	ok(r.n == 2 && r.v[1] >= 1500, "...in %ld ms: held to the rate "
	    "(at least 2 s at 2000/s after a second's credit)",
	    r.n == 2 ? r.v[1] : 0);
	ok(h_logged(&d, "over max_rate (2000 requests/s)"),
	    "...and logged once");

	r = as_user(UID_B, GID_B, 0, no_reader, NULL);
	ok(r.n == 1 && r.v[0] == 1, "a client that never reads is dropped "
	    "(max_queued 64)");
	ok(h_logged(&d, "dropped: too many unread replies and events"),
	    "...and logged");
	adm = h_connect(&d, "admin");
	ok(msiv_get_status(adm, &st, sizeof(st)) == 0,
	    "other sessions carry on");
	msiv_close(adm);
}

/* --- out of fds: the listener pauses ------------------------------------------*/

static uint64_t
daemon_cpu_ticks(void)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, stt = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)d.pid);
	if ((f = fopen(path, "re")) == NULL || fgets(buf, sizeof(buf), f) ==
	    NULL)
		tap_bail("/proc/PID/stat");
	fclose(f);
	/* After the command name's ')': fields 3.. ; utime is 14, stime 15. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %llu %llu", &ut, &stt) != 2)
		tap_bail("parse /proc/PID/stat");
	return ut + stt;
}

static void
test_out_of_fds(void)
{
	struct rlimit low, old;
	int fds[40], nfds = 0;
	uint64_t t0, used;
	long hz = sysconf(_SC_CLK_TCK);
	struct msiv_conn *adm;
	struct msiv_status_info st;
	int open_now = 0;
	char path[64];
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d.pid);
	if ((dir = opendir(path)) == NULL)
		tap_bail("/proc/PID/fd");
	while (readdir(dir) != NULL)
		open_now++;
	closedir(dir);
	if (prlimit(d.pid, RLIMIT_NOFILE, NULL, &old) < 0)
		tap_bail("prlimit");
	low.rlim_cur = (rlim_t)open_now + 8;
	low.rlim_max = old.rlim_max;
	if (prlimit(d.pid, RLIMIT_NOFILE, &low, NULL) < 0)
		tap_bail("prlimit");
	/* As root (an admin: no per-uid cap), more connections than fds. */
	for (int i = 0; i < 40; i++)
		if ((fds[nfds] = h_raw_connect(&d)) >= 0)
			nfds++;
	ok(h_logged(&d, "accept: pausing the listener for 1 s"), "out of fds, "
	    "msivd pauses its listener (%d connections made)", nfds);
	t0 = daemon_cpu_ticks();
	/* A window to observe: a listener spinning on EMFILE would burn
	 * the whole of it. */
	usleep(2000000);
	used = daemon_cpu_ticks() - t0;
	ok(used * 1000 / (uint64_t)hz < 500, "...and does not spin: %llu ms "
	    "of CPU in a 2 s window", (unsigned long long)(used * 1000 /
	    (uint64_t)hz));
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (prlimit(d.pid, RLIMIT_NOFILE, &old, NULL) < 0)
		tap_bail("prlimit");
	adm = h_connect(&d, "admin");
	ok(msiv_get_status(adm, &st, sizeof(st)) == 0, "with fds back, new "
	    "connections are served");
	msiv_close(adm);
}

/* --- tenant names belong to a uid (issue 15) -----------------------------*/

/* The default policy: no [tenant] section. */
static const char conf_open[] =
    "[msivd]\n"
    "socket_mode = 0666\n"
    "orphan_grace = 0\n"
    "\n"
    "[device sim0]\nbackend = sim\nslots = 64\n";

/* HELLO as tenant arg: the status, then whether the session is that
 * tenant (uid-UID for an empty name). */
static void
hello_is(struct res *r, const void *arg)
{
	const char *name = arg;
	char want[MSIV_NAME_MAX];
	struct msiv_conn *c;
	int e = msiv_connect(d.sock, name, &c);

	put(r, e);
	if (e == 0) {
		if (name[0] == '\0')
			snprintf(want, sizeof(want), "uid-%u",
			    (unsigned)getuid());
		else
			snprintf(want, sizeof(want), "%s", name);
		put(r, strcmp(msiv_tenant(c), want) == 0);
		msiv_close(c);
	}
}

static int
hello_status(uid_t uid, const char *name)
{
	struct res r = as_user(uid, uid, 0, hello_is, name);

	if (r.n < 1)
		return -10000;
	if (r.v[0] == 0 && (r.n != 2 || r.v[1] != 1))
		return -10001; /* admitted as another tenant */
	return (int)r.v[0];
}

/* Run SQL on the (stopped) daemon's store; the first column of the
 * first row, 0 if none, or -1. */
static long long
store_sql(const char *stmt)
{
	char path[160];
	sqlite3_stmt *st;
	sqlite3 *db;
	long long v = -1;
	const char *tail = stmt;

	snprintf(path, sizeof(path), "%s/msivd.db", d.dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	while (tail != NULL && *tail != '\0') {
		if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK)
			break;
		if (st == NULL)
			break;
		v = 0;
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static void
conf_rewrite(const char *text)
{
	FILE *f = fopen(d.conf, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		tap_bail("rewrite the configuration");
}

static void
test_squatting(void)
{
	struct msiv_conn *adm;
	char conf2[512];

	if (h_start(&d, conf_open) < 0)
		tap_bail("msivd (no [tenant]) did not start");
	if (chmod(d.dir, 0755) < 0)
		tap_bail("chmod");

	/* Derived names. */
	is_int(hello_status(UID_A, "uid-4002"), -EACCES, "default policy: "
	    "uid %u as uid-4002 (uid %u's derived name): EACCES", UID_A,
	    UID_B);
	ok(h_logged(&d, "uid 4001): tenant uid-4002 refused: the name is "
	    "derived from another uid"), "...and it is logged");
	is_int(hello_status(UID_B, "uid-4002"), 0, "uid %u as uid-4002 "
	    "afterwards: admitted", UID_B);
	is_int(hello_status(UID_B, ""), 0, "uid %u without a name: uid-4002",
	    UID_B);
	is_int(hello_status(UID_A, "uid-04002"), -EACCES, "uid-04002 is "
	    "uid %u's too: EACCES for uid %u", UID_B, UID_A);
	is_int(hello_status(UID_A, "uid-99999999999999999999"), -EACCES,
	    "a derived name beyond any uid: EACCES for a non-admin");
	is_int(hello_status(UID_A, "uid-4001"), 0, "uid %u as uid-4001 (its "
	    "own, given explicitly): admitted", UID_A);
	is_int(hello_status(UID_A, "uid-x"), 0, "uid-x is not a derived name: "
	    "an explicit one, created by uid %u", UID_A);

	/* Explicit names: bound to the uid that created the tenant. */
	is_int(hello_status(UID_A, "vm-x"), 0, "uid %u creates tenant vm-x",
	    UID_A);
	is_int(hello_status(UID_B, "vm-x"), -EACCES, "uid %u as vm-x: EACCES",
	    UID_B);
	ok(h_logged(&d, "uid 4002): tenant vm-x refused: it belongs to uid "
	    "4001"), "...logged with its owner");
	is_int(hello_status(UID_A, "vm-x"), 0, "uid %u as vm-x again: "
	    "admitted", UID_A);
	if (msiv_connect(d.sock, "vm-x", &adm) < 0)
		ok(0, "an admin may act as vm-x");
	else {
		ok(strcmp(msiv_tenant(adm), "vm-x") == 0, "an admin may act "
		    "as vm-x");
		msiv_close(adm);
	}
	if (msiv_connect(d.sock, "uid-4002", &adm) < 0)
		ok(0, "...and as uid-4002");
	else {
		ok(1, "...and as uid-4002");
		msiv_close(adm);
	}
	is_int(hello_status(UID_B, "uid-4002"), 0, "uid-4002 used by an "
	    "admin is still uid %u's", UID_B);
	is_int(hello_status(UID_B, "made-by-b"), 0, "uid %u creates "
	    "made-by-b", UID_B);

	/* The binding is in the store: it was committed before the HELLO
	 * was answered, so it survives even SIGKILL. */
	is_int(h_kill9(&d), 0, "kill msivd (SIGKILL)");
	if (h_spawn(&d) < 0)
		tap_bail("msivd did not restart");
	is_int(hello_status(UID_B, "vm-x"), -EACCES, "after a restart: uid "
	    "%u as vm-x still EACCES", UID_B);
	is_int(hello_status(UID_A, "vm-x"), 0, "...uid %u as vm-x admitted",
	    UID_A);
	is_int(hello_status(UID_A, "made-by-b"), -EACCES, "...uid %u as "
	    "made-by-b: EACCES", UID_A);

	/* A tenant stored by an msivd before schema 6 has no owner: the
	 * migration leaves it unbound, and its next HELLO binds it. */
	is_int(h_kill9(&d), 0, "kill msivd");
	is_int((int)store_sql("ALTER TABLE tenant DROP COLUMN owner; "
	    "ALTER TABLE vfunc DROP COLUMN lazy; "
	    "ALTER TABLE vector DROP COLUMN slot; "
	    "PRAGMA user_version = 5; PRAGMA user_version"), 5, "the store "
	    "made schema 5 again (no tenant.owner, nor the columns after it)");
	if (h_spawn(&d) < 0)
		tap_bail("msivd did not start on a schema 5 store");
	is_int(hello_status(UID_B, "vm-x"), 0, "after the migration: uid %u "
	    "as vm-x (unbound) is admitted", UID_B);
	is_int(hello_status(UID_A, "vm-x"), -EACCES, "...and binds it: uid %u "
	    "gets EACCES now", UID_A);
	is_int(h_kill9(&d), 0, "kill msivd");
	ok(store_sql("PRAGMA user_version") == 7 && store_sql("SELECT owner "
	    "FROM tenant WHERE name = 'vm-x'") == UID_B, "the store is at "
	    "schema 7 with vm-x bound to uid %u", UID_B);
	if (h_spawn(&d) < 0)
		tap_bail("msivd did not restart");

	/* Policy says otherwise: a [tenant] section admits whom it lists. */
	snprintf(conf2, sizeof(conf2), "%s\n[tenant vm-x]\nuids = %u %u\n",
	    conf_open, UID_A, UID_B);
	conf_rewrite(conf2);
	is_int(h_kill9(&d), 0, "kill msivd");
	if (h_spawn(&d) < 0)
		tap_bail("msivd did not restart with [tenant vm-x]");
	is_int(hello_status(UID_B, "vm-x"), 0, "[tenant vm-x] lists uids %u "
	    "and %u: uid %u is admitted", UID_A, UID_B, UID_B);
	is_int(hello_status(UID_A, "vm-x"), 0, "...and so is uid %u", UID_A);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
}

int
main(void)
{
	if (geteuid() != 0)
		tap_skip_all("switching users needs root");
	if (h_start(&d, conf) < 0)
		tap_bail("msivd did not start");
	/* The clients run as other users: let them reach the socket. */
	if (chmod(d.dir, 0755) < 0)
		tap_bail("chmod");
	test_admission();
	test_msivctl_denied();
	test_tenant_rules();
	test_caps();
	test_out_of_fds();
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	test_squatting();
	return tap_done();
}
