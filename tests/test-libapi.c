/*
 * libmsiv's API as a VMM developer meets it (libmsiv(3)), with the real
 * msivd:
 *  - the listings of MSIV_0.3 fill the library's own structs, NUL
 *    terminated, and follow the size rule: a size below the MSIV_0.3 size
 *    is EINVAL, a larger struct (one of a later header) gets zeros beyond
 *    what this library knows, and a listing's records are size apart;
 *  - msiv_restart() (MSIV_0.4) follows the same size rule, its minimum
 *    the struct's size in MSIV_0.4; against a stand-in answering RESTART
 *    as a new msivd would (msivd's side is msivd's tests'): the reply is
 *    awaited past a connection timeout that ends an ordinary call (the
 *    new msivd has to start), its strings come out NUL terminated, a
 *    refusal leaves info alone and gives its reason, a RESTART whose
 *    connection is lost is not repeated by auto-reconnect
 *    (-ECONNRESET), and msivctl restart prints the reply, as JSON too,
 *    the refusal and an msivd that predates RESTART as msivctl(8) says;
 *  - msiv_list_shards() (MSIV_0.5): a record per delivery loop, as many
 *    as STATUS's loop runs, numbered from 0, their wakeups at most the
 *    total, with the size rule (its minimum the struct's in MSIV_0.5);
 *  - the MSIV_0.1 calls that took the wire's structs still resolve at
 *    their symbol version (dlvsym) and answer as the new calls do: a
 *    program linked against an older libmsiv keeps working; each call
 *    is at the version that brought it, and not at an earlier one;
 *  - msiv_token_save()/msiv_token_load(): the file is mode 0600, replaced
 *    atomically with no temporary left, read back; a missing file is
 *    ENOENT, a bad one EBADMSG, one others may read EPERM, and a directory
 *    where someone else could swap the file is refused with EPERM; msiv-vfu's
 *    token files (the same format) load.
 */
#include "config.h"

#define DELIVER_TEST_SHARDS 64 /* msivd's most */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "proto.h"
#include "tap.h"

static const char conf[] =
    "[msivd]\n"
    "orphan_grace = 3600\n"
    "[device sim0]\n"
    "backend = sim\n"
    "slots = 64\n"
    "[device a-sim-device-with-a-31-char-nam]\n"
    "backend = sim\n"
    "slots = 8\n";

/* A struct of a later header: this one's fields and more. */
struct later_status {
	struct msiv_status_info now;
	unsigned char more[24];
};

static int
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void
test_new_calls(struct msiv_conn *adm, uint64_t vf)
{
	struct msiv_status_info st;
	struct later_status later;
	struct msiv_hotplug_info hp;
	struct msiv_device_info dev[4];
	struct msiv_vfunc_info vfi[4];
	struct msiv_vector_state vs[4];
	struct msiv_session_info ss[8];
	unsigned char wide[3][sizeof(struct msiv_device_info) + 16];
	int n;

	memset(&st, 0, sizeof(st));
	n = msiv_get_status(adm, &st, sizeof(st));
	ok(n == 0 && st.pid > 0 &&
	    st.devices == 2 && st.vfuncs == 1 && st.vectors == 4 &&
	    strlen(st.loop) > 0 && strlen(st.version_str) > 0,
	    "msiv_get_status: pid %u, %u devices, %u vfunc of %u vectors, "
	    "loop %s", st.pid, st.devices, st.vfuncs, st.vectors, st.loop);
	is_int(msiv_get_status(adm, &st, sizeof(st) - 1), -EINVAL,
	    "a size below MSIV_0.3's: EINVAL");
	{
		struct msiv_restart_info ri;

		/* Refused before anything is sent: msivd does not restart. */
		is_int(msiv_restart(adm, &ri, sizeof(ri) - 1), -EINVAL,
		    "msiv_restart: a size below MSIV_0.4's: EINVAL");
		is_int(msiv_restart(adm, &ri, ((size_t)1 << 20) + 1), -EINVAL,
		    "... a size above 1 MiB: EINVAL");
	}
	memset(&later, 0xa5, sizeof(later));
	ok(msiv_get_status(adm, &later.now, sizeof(later)) == 0 &&
	    later.now.pid == st.pid && all_zero(later.more,
	    sizeof(later.more)), "a later header's larger struct: its "
	    "fields filled, the ones this library does not know zeroed");
	ok(msiv_get_hotplug(adm, &hp, sizeof(hp)) == 0 &&
	    (hp.flags & ~MSIV_HOTPLUG_LISTENING) == 0,
	    "msiv_get_hotplug answers");

	n = msiv_list_devices(adm, dev, 4, sizeof(dev[0]));
	ok(n == 2 && strcmp(dev[0].name, "sim0") == 0 &&
	    strcmp(dev[0].backend, "sim") == 0 && dev[0].slots == 64 &&
	    dev[0].slots_used == 4 && dev[0].flags & MSIV_DEVICE_MSIX,
	    "msiv_list_devices: sim0, 64 slots, 4 used");
	ok(n == 2 && strcmp(dev[1].name, "a-sim-device-with-a-31-char-nam")
	    == 0, "a name of the longest, %u bytes, comes out whole",
	    MSIV_NAME_MAX - 1);
	is_int(msiv_list_devices(adm, NULL, 0, sizeof(dev[0])), 2,
	    "max 0, out NULL: the count");
	is_int(msiv_list_devices(adm, dev, 4, sizeof(dev[0]) - 4), -EINVAL,
	    "a record size below MSIV_0.3's: EINVAL");
	memset(wide, 0xa5, sizeof(wide));
	n = msiv_list_devices(adm, (struct msiv_device_info *)(void *)wide[0],
	    3, sizeof(wide[0]));
	ok(n == 2 && strcmp((const char *)wide[1], dev[1].name) == 0 &&
	    all_zero(wide[0] + sizeof(dev[0]), 16) &&
	    all_zero(wide[1] + sizeof(dev[0]), 16) && wide[2][0] == 0xa5,
	    "records of a later header's size: size apart, their tails "
	    "zeroed, nothing written past the count");

	n = msiv_list_vfuncs(adm, vfi, 4, sizeof(vfi[0]));
	ok(n == 1 && vfi[0].vfunc == vf && vfi[0].nvec == 4 &&
	    strcmp(vfi[0].device, "sim0") == 0 &&
	    strcmp(vfi[0].tenant, "vm1") == 0 && vfi[0].first_slot == 0,
	    "msiv_list_vfuncs: the vfunc, its device and tenant");
	n = msiv_list_vectors(adm, vf, vs, 4, sizeof(vs[0]));
	ok(n == 4 && vs[1].vector == 1 && vs[1].slot == 1 &&
	    vs[1].eff_addr == 0xfee00000u && vs[1].eff_data == 0x41 &&
	    (vs[1].state & (MSIV_VEC_TARGET | MSIV_VEC_MASKED)) ==
	    MSIV_VEC_TARGET && (vs[0].state & MSIV_VEC_TARGET) == 0,
	    "msiv_list_vectors: vector 1 set up and unmasked, 0 not");
	n = msiv_list_sessions(adm, ss, 8, sizeof(ss[0]));
	ok(n == 2 && ((strcmp(ss[0].tenant, "vm1") == 0) ^
	    (strcmp(ss[1].tenant, "vm1") == 0)) &&
	    (ss[0].pid == (uint32_t)getpid()),
	    "msiv_list_sessions: both sessions, this process's");
	{
		struct msiv_shard_info sh[DELIVER_TEST_SHARDS];
		uint64_t sum = 0;
		int good;

		n = msiv_list_shards(adm, sh, DELIVER_TEST_SHARDS,
		    sizeof(sh[0]));
		good = n >= 1 && n <= DELIVER_TEST_SHARDS &&
		    msiv_get_status(adm, &st, sizeof(st)) == 0 &&
		    (strcmp(st.loop, "io_uring") == 0 || n == 1);
		for (int i = 0; good && i < n; i++) {
			good = sh[i].shard == (uint32_t)i;
			sum += sh[i].interrupts;
		}
		ok(good && sum <= st.interrupts, "msiv_list_shards: %d "
		    "record(s) of the %s loop, numbered, their wakeups within "
		    "the total", n, st.loop);
		is_int(msiv_list_shards(adm, sh, 1, sizeof(sh[0]) - 1),
		    -EINVAL, "msiv_list_shards: a size below MSIV_0.5's: "
		    "EINVAL");
	}
}

typedef int status_v1(struct msiv_conn *, struct msiv_status_rep *);
typedef int device_list_v1(struct msiv_conn *, struct msiv_device_rec *,
    size_t);
typedef int vfunc_list_v1(struct msiv_conn *, struct msiv_vfunc_rec *,
    size_t);
typedef int vector_list_v1(struct msiv_conn *, uint64_t,
    struct msiv_vec_rec *, size_t);
typedef int session_list_v1(struct msiv_conn *, struct msiv_session_rec *,
    size_t);
typedef int hotplug_v1(struct msiv_conn *, struct msiv_hotplug_rep *);

static void *
sym(const char *name, const char *version)
{
	void *p = dlvsym(RTLD_DEFAULT, name, version);

	ok(p != NULL, "%s@%s resolves", name, version);
	return p;
}

static void
test_old_symbols(struct msiv_conn *adm, uint64_t vf)
{
	status_v1 *status = (status_v1 *)sym("msiv_status", "MSIV_0.1");
	device_list_v1 *devs =
	    (device_list_v1 *)sym("msiv_device_list", "MSIV_0.1");
	vfunc_list_v1 *vfs = (vfunc_list_v1 *)sym("msiv_vfunc_list",
	    "MSIV_0.1");
	vector_list_v1 *vecs = (vector_list_v1 *)sym("msiv_vector_list",
	    "MSIV_0.1");
	session_list_v1 *sess =
	    (session_list_v1 *)sym("msiv_session_list", "MSIV_0.1");
	hotplug_v1 *hot = (hotplug_v1 *)sym("msiv_hotplug_status",
	    "MSIV_0.1");
	struct msiv_status_rep st;
	struct msiv_status_info si;
	struct msiv_device_rec dr[4];
	struct msiv_vfunc_rec fr[4];
	struct msiv_vec_rec vr[4];
	struct msiv_session_rec sr[4];
	struct msiv_hotplug_rep hr;
	struct msiv_hotplug_info hi;

	(void)sym("msiv_vfunc_open_flags", "MSIV_0.2");
	(void)sym("msiv_list_devices", "MSIV_0.3");
	(void)sym("msiv_token_save", "MSIV_0.3");
	(void)sym("msiv_restart", "MSIV_0.4");
	(void)sym("msiv_list_shards", "MSIV_0.5");
	ok(dlvsym(RTLD_DEFAULT, "msiv_list_devices", "MSIV_0.1") == NULL,
	    "msiv_list_devices is not in MSIV_0.1");
	ok(dlvsym(RTLD_DEFAULT, "msiv_restart", "MSIV_0.3") == NULL,
	    "msiv_restart is not in MSIV_0.3");
	ok(dlvsym(RTLD_DEFAULT, "msiv_list_shards", "MSIV_0.4") == NULL,
	    "msiv_list_shards is not in MSIV_0.4");
	if (status == NULL || devs == NULL || vfs == NULL || vecs == NULL ||
	    sess == NULL || hot == NULL)
		tap_bail("MSIV_0.1 symbols missing");
	ok(status(adm, &st) == 0 &&
	    msiv_get_status(adm, &si, sizeof(si)) == 0 && st.pid == si.pid &&
	    st.version == si.version && st.devices == si.devices &&
	    strcmp(st.loop, si.loop) == 0 &&
	    strcmp(st.version_str, si.version_str) == 0,
	    "msiv_status@MSIV_0.1 fills the wire's struct as before");
	ok(devs(adm, dr, 4) == 2 && strcmp(dr[0].name, "sim0") == 0 &&
	    dr[0].slots == 64 && dr[0].slots_used == 4 &&
	    strcmp(dr[1].name, "a-sim-device-with-a-31-char-nam") == 0,
	    "msiv_device_list@MSIV_0.1 as before");
	ok(vfs(adm, fr, 4) == 1 && fr[0].vfunc == vf && fr[0].nvec == 4 &&
	    strcmp(fr[0].tenant, "vm1") == 0,
	    "msiv_vfunc_list@MSIV_0.1 as before");
	ok(vecs(adm, vf, vr, 4) == 4 && vr[1].vector == 1 &&
	    vr[1].info.eff_data == 0x41 && vr[1].info.slot == 1 &&
	    (vr[1].info.state & MSIV_VEC_TARGET) != 0,
	    "msiv_vector_list@MSIV_0.1 as before");
	ok(sess(adm, sr, 4) == 2, "msiv_session_list@MSIV_0.1 as before");
	ok(hot(adm, &hr) == 0 && msiv_get_hotplug(adm, &hi, sizeof(hi)) == 0 &&
	    hr.flags == hi.flags && hr.rules == hi.rules,
	    "msiv_hotplug_status@MSIV_0.1 as before");
}

static int
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);
	int r;

	if (fd < 0)
		return -1;
	r = write(fd, text, len) == (ssize_t)len ? 0 : -1;
	if (fchmod(fd, mode) < 0)
		r = -1;
	close(fd);
	return r;
}

static void
test_token_files(void)
{
	uint8_t tok[MSIV_TOKEN_LEN], got[MSIV_TOKEN_LEN];
	char dir[] = "/tmp/msiv-tokfile-XXXXXX", path[160], sub[64];
	char text[64];
	struct stat st;
	FILE *f;
	int r;

	if (mkdtemp(dir) == NULL)
		tap_bail("mkdtemp");
	for (unsigned int i = 0; i < MSIV_TOKEN_LEN; i++)
		tok[i] = (uint8_t)(0xf0 + i);
	snprintf(path, sizeof(path), "%s/vm.token", dir);
	is_int(msiv_token_load(path, got), -ENOENT, "no token file: ENOENT");
	is_int(msiv_token_save(path, tok), 0, "msiv_token_save");
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600 &&
	    st.st_size == 33, "the file is mode 0600 and 33 bytes");
	f = fopen(path, "re");
	ok(f != NULL && fgets(text, sizeof(text), f) != NULL &&
	    strcmp(text, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\n") == 0,
	    "32 hex digits and a newline, msiv-vfu's format");
	if (f != NULL)
		fclose(f);
	memset(got, 0, sizeof(got));
	ok(msiv_token_load(path, got) == 0 &&
	    memcmp(got, tok, sizeof(tok)) == 0, "msiv_token_load reads it back");
	tok[0] = 0x01;
	ok(msiv_token_save(path, tok) == 0 && msiv_token_load(path, got) == 0 &&
	    got[0] == 0x01, "a second save replaces the token");
	{
		char cmd[200];

		/* Nothing but the token file in the directory. */
		snprintf(cmd, sizeof(cmd), "test \"$(ls -A %s)\" = vm.token",
		    dir);
		ok(system(cmd) == 0, "no temporary file is left beside it");
	}

	/* An old msiv-vfu's file, and one written by hand without the
	 * newline, in upper case. */
	ok(write_file(path, "000102030405060708090a0b0c0d0e0f\n", 0600) == 0 &&
	    msiv_token_load(path, got) == 0 && got[15] == 0x0f,
	    "a token file msiv-vfu wrote loads");
	ok(write_file(path, "000102030405060708090A0B0C0D0E0F", 0600) == 0 &&
	    msiv_token_load(path, got) == 0 && got[10] == 0x0a,
	    "upper case, no newline: loads");
	memcpy(tok, got, sizeof(tok));
	write_file(path, "000102030405060708090a0b0c0d0e", 0600);
	r = msiv_token_load(path, got);
	is_int(r, -EBADMSG, "a short file: EBADMSG");
	write_file(path, "000102030405060708090a0b0c0d0e0f\nx", 0600);
	is_int(msiv_token_load(path, got), -EBADMSG, "a long file: EBADMSG");
	write_file(path, "000102030405060708090a0b0c0d0e0g\n", 0600);
	is_int(msiv_token_load(path, got), -EBADMSG, "not hex: EBADMSG");
	ok(memcmp(got, tok, sizeof(tok)) == 0,
	    "a failed load leaves the caller's token alone");
	write_file(path, "000102030405060708090a0b0c0d0e0f\n", 0644);
	is_int(msiv_token_load(path, got), -EPERM,
	    "a file others may read: EPERM");
	is_int(msiv_token_load(dir, got), -EPERM, "a directory: EPERM");

	/* Directories someone else could swap the file in. */
	snprintf(sub, sizeof(sub), "%s/shared", dir);
	snprintf(path, sizeof(path), "%s/vm.token", sub);
	ok(mkdir(sub, 0700) == 0 && chmod(sub, 0770) == 0,
	    "a group-writable directory");
	is_int(msiv_token_save(path, tok), -EPERM,
	    "...a token is not saved in it: EPERM");
	ok(stat(path, &st) < 0 && errno == ENOENT, "...and nothing is there");
	ok(chmod(sub, 01777) == 0 && msiv_token_save(path, tok) == 0,
	    "a sticky world-writable directory (as /tmp): saved");
	snprintf(path, sizeof(path), "%s/none/vm.token", dir);
	is_int(msiv_token_save(path, tok), -ENOENT, "no such directory: ENOENT");
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			tap_diag("cannot remove %s", dir);
	}
}

/* --- RESTART against a stand-in ------------------------------------------ */

/*
 * It answers HELLO at once (an admin session), RESTART as the new msivd
 * would (the reply, or status with reason, or by hanging up), and any
 * other request with ENOSYS; every answer but HELLO's late_ms late. It
 * serves connections one after the other until stand_stop().
 */
struct stand {
	int lfd, stop[2];
	int late_ms;
	int status;            /* RESTART's: 0 or -errno */
	const char *reason;    /* of a refusal; NULL: none (len 0) */
	int hang_up;           /* RESTART: close the connection instead */
	int restarts;          /* RESTARTs seen, read after stand_stop() */
	char path[108];
	pthread_t t;
};

#define STAND_LATE_MS 500 /* ten times the timeout the client is given */
#define STAND_VERSION "0.2.0-a-release-name-32-chars-xx" /* no NUL */

static int
stand_reply(int fd, struct msiv_hdr *h, int status, const void *rep,
    size_t len)
{
	unsigned char pkt[MSIV_MSG_MAX];

	h->flags = MSIV_F_REPLY;
	h->status = status;
	h->len = (uint32_t)len;
	msiv_hdr_encode(h, pkt);
	if (len > 0)
		memcpy(pkt + sizeof(*h), rep, len);
	return send(fd, pkt, sizeof(*h) + len, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static void
stand_serve(struct stand *st, int fd)
{
	unsigned char pkt[MSIV_MSG_MAX];
	ssize_t n;

	while ((n = recv(fd, pkt, sizeof(pkt), 0)) > 0) {
		struct msiv_hdr h;
		struct msiv_hello_rep hr = {
			.version = 1, .rights = MSIV_RIGHT_ADMIN,
		};
		struct msiv_restart_rep rp = {
			.pid = 4242, .blackout_us = 850, .sessions = 3,
			.vfuncs = 2, .fds = 17, .format = 1,
		};
		struct msiv_error_rep er;
		int r;

		if (msiv_hdr_decode(pkt, (size_t)n, &h) < 0)
			return;
		if (h.opcode == MSIV_OP_HELLO) {
			memcpy(hr.tenant, "admin", 6);
			r = stand_reply(fd, &h, 0, &hr, sizeof(hr));
		} else if (h.opcode == MSIV_OP_RESTART) {
			st->restarts++;
			if (st->hang_up)
				return;
			poll(NULL, 0, st->late_ms);
			if (st->status == 0) {
				memcpy(rp.version_str, STAND_VERSION,
				    MSIV_NAME_MAX);
				memcpy(rp.old_version, "0.1.0", 6);
				msiv_swap(msiv_proto_op(MSIV_OP_RESTART)->
				    rep_layout, &rp, sizeof(rp));
				r = stand_reply(fd, &h, 0, &rp, sizeof(rp));
			} else {
				memset(&er, 0, sizeof(er));
				if (st->reason != NULL)
					snprintf(er.reason, sizeof(er.reason),
					    "%s", st->reason);
				r = stand_reply(fd, &h, st->status, &er,
				    st->reason != NULL ? sizeof(er) : 0);
			}
		} else {
			poll(NULL, 0, st->late_ms);
			r = stand_reply(fd, &h, -ENOSYS, NULL, 0);
		}
		if (r < 0)
			return;
	}
}

static void *
stand_run(void *arg)
{
	struct stand *st = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = st->lfd, .events = POLLIN },
			{ .fd = st->stop[0], .events = POLLIN },
		};
		int fd;

		/* A client that never comes must not hang the test. */
		if (poll(p, 2, H_TIMEOUT_MS) <= 0 || p[1].revents != 0 ||
		    (fd = accept4(st->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			return NULL;
		stand_serve(st, fd);
		close(fd);
	}
}

static void
stand_start(struct stand *st, const char *dir, int late_ms, int status,
    const char *reason, int hang_up)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(st, 0, sizeof(*st));
	st->late_ms = late_ms;
	st->status = status;
	st->reason = reason;
	st->hang_up = hang_up;
	snprintf(st->path, sizeof(st->path), "%s/stand.sock", dir);
	memcpy(sa.sun_path, st->path, strlen(st->path) + 1);
	unlink(st->path);
	st->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (st->lfd < 0 || bind(st->lfd, (struct sockaddr *)&sa,
	    sizeof(sa)) < 0 || listen(st->lfd, 4) < 0 ||
	    pipe2(st->stop, O_CLOEXEC) < 0 ||
	    pthread_create(&st->t, NULL, stand_run, st) != 0)
		tap_bail("stand-in daemon");
}

/* Once the clients have closed their connections. */
static void
stand_stop(struct stand *st)
{
	if (write(st->stop[1], "", 1) != 1)
		tap_bail("stand-in stop");
	pthread_join(st->t, NULL);
	close(st->stop[0]);
	close(st->stop[1]);
	close(st->lfd);
	unlink(st->path);
}

/* msivctl --socket SOCK ARGS: its standard output and error, one after
 * the other, in out; its exit status returned (-1: it did not exit). */
static int
ctl_run(const char *sock, const char *args, char *out, size_t len)
{
	char cmd[512];
	size_t n;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "\"%s\" --socket \"%s\" %s 2>&1",
	    getenv("MSIVCTL"), sock, args);
	if ((p = popen(cmd, "r")) == NULL)
		tap_bail("popen msivctl");
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_restart_stand_in(const char *dir)
{
	struct {
		struct msiv_restart_info now;
		unsigned char more[16];
	} later;
	struct msiv_restart_info ri, before;
	struct msiv_status_info si;
	struct msiv_conn *c;
	struct stand st;
	char out[4096];
	int rc;

	/* The timeout that ends an ordinary call does not end RESTART's
	 * wait: the stand-in answers both ten times later than it. */
	stand_start(&st, dir, STAND_LATE_MS, 0, NULL, 0);
	if (msiv_connect(st.path, NULL, &c) < 0)
		tap_bail("connect to the stand-in");
	msiv_set_timeout(c, STAND_LATE_MS / 10);
	is_int(msiv_get_status(c, &si, sizeof(si)), -ETIMEDOUT,
	    "a %d ms timeout: a STATUS answered %d ms late times out",
	    STAND_LATE_MS / 10, STAND_LATE_MS);
	msiv_close(c); /* its late reply would be taken for the next's */
	if (msiv_connect(st.path, NULL, &c) < 0)
		tap_bail("connect to the stand-in");
	msiv_set_timeout(c, STAND_LATE_MS / 10);
	memset(&ri, 0x5a, sizeof(ri));
	is_int(msiv_restart(c, &ri, sizeof(ri)), 0,
	    "... a RESTART answered as late is awaited (msivd restarting)");
	ok(ri.pid == 4242 && ri.blackout_us == 850 && ri.sessions == 3 &&
	    ri.vfuncs == 2 && ri.fds == 17 && ri.format == 1 &&
	    strcmp(ri.old_version, "0.1.0") == 0, "... its figures in info");
	ok(strlen(ri.version) == MSIV_NAME_MAX &&
	    strncmp(ri.version, STAND_VERSION, MSIV_NAME_MAX) == 0,
	    "... a version of %u bytes, the wire's all, comes out whole and "
	    "NUL terminated", MSIV_NAME_MAX);
	memset(&later, 0xa5, sizeof(later));
	ok(msiv_restart(c, &later.now, sizeof(later)) == 0 &&
	    later.now.pid == 4242 && all_zero(later.more,
	    sizeof(later.more)), "... a later header's larger struct: its "
	    "tail zeroed");
	msiv_close(c);
	stand_stop(&st);

	/* A refusal: its reason; info untouched. */
	stand_start(&st, dir, 0, -EBUSY, "handover: a restart is under way",
	    0);
	if (msiv_connect(st.path, NULL, &c) < 0)
		tap_bail("connect to the stand-in");
	memset(&ri, 0x5a, sizeof(ri));
	memcpy(&before, &ri, sizeof(ri));
	is_int(msiv_restart(c, &ri, sizeof(ri)), -EBUSY,
	    "a refused RESTART: the errno as sent");
	ok(strcmp(msiv_last_reason(c), "handover: a restart is under way")
	    == 0 && memcmp(&ri, &before, sizeof(ri)) == 0,
	    "... its reason, and info left alone");
	msiv_close(c);
	rc = ctl_run(st.path, "restart", out, sizeof(out));
	ok(rc == 1 && strcmp(out, "msivctl: restart refused: busy: "
	    "handover: a restart is under way\n") == 0,
	    "msivctl restart refused: exit 1, with the reason");
	if (rc != 1)
		tap_diag("exit %d: %s", rc, out);
	stand_stop(&st);

	/* The connection lost during RESTART: msivd may have restarted, so
	 * an automatic reconnect does not send it again. */
	stand_start(&st, dir, 0, 0, NULL, 1);
	if (msiv_connect(st.path, NULL, &c) < 0)
		tap_bail("connect to the stand-in");
	msiv_set_auto_reconnect(c, H_TIMEOUT_MS);
	is_int(msiv_restart(c, &ri, sizeof(ri)), -ECONNRESET,
	    "RESTART's connection lost, auto-reconnect on: ECONNRESET");
	msiv_close(c);
	stand_stop(&st);
	is_int(st.restarts, 1, "... after reconnecting, RESTART was not sent "
	    "again");

	/* msivctl restart: the new msivd's account, as text and as JSON. */
	stand_start(&st, dir, 0, 0, NULL, 0);
	rc = ctl_run(st.path, "restart", out, sizeof(out));
	ok(rc == 0 && strcmp(out, "msivd restarted: pid 4242, version "
	    STAND_VERSION " (from 0.1.0), 3 sessions, 2 vfuncs, 17 fds "
	    "handed over; no interrupt read for 850 us\n") == 0,
	    "msivctl restart: exit 0, what the new msivd took over");
	if (rc != 0)
		tap_diag("exit %d: %s", rc, out);
	rc = ctl_run(st.path, "--json restart", out, sizeof(out));
	ok(rc == 0 && strstr(out, "\"pid\": 4242,") != NULL &&
	    strstr(out, "\"version\": \"" STAND_VERSION "\",") != NULL &&
	    strstr(out, "\"old_version\": \"0.1.0\",") != NULL &&
	    strstr(out, "\"sessions\": 3,") != NULL &&
	    strstr(out, "\"vfuncs\": 2,") != NULL &&
	    strstr(out, "\"fds\": 17,") != NULL &&
	    strstr(out, "\"blackout_us\": 850,") != NULL &&
	    strstr(out, "\"format\": 1\n") != NULL,
	    "msivctl --json restart: pid, version, old_version, sessions, "
	    "vfuncs, fds, blackout_us, format");
	stand_stop(&st);

	/* An msivd that predates RESTART: its dispatcher's ENOSYS. */
	stand_start(&st, dir, 0, -ENOSYS, "opcode 32 is not one msivd knows",
	    0);
	rc = ctl_run(st.path, "restart", out, sizeof(out));
	ok(rc == 1 && strcmp(out, "msivctl: restart: msivd is older than "
	    "this msivctl: it has no restart: opcode 32 is not one msivd "
	    "knows\n") == 0, "msivctl restart, an older msivd: exit 1, "
	    "saying so");
	if (rc != 1)
		tap_diag("exit %d: %s", rc, out);
	stand_stop(&st);
}

int
main(void)
{
	struct h_daemon d;
	struct msiv_conn *adm, *vm;
	uint64_t vf;
	int efd;

	test_token_files();

	h_start(&d, conf);
	adm = h_connect(&d, NULL);
	vm = h_connect(&d, "vm1");
	efd = h_eventfd();
	if (msiv_vfunc_open(vm, "sim0", 4, MSIV_POLICY_DEFAULT, &vf) < 0 ||
	    msiv_vector_setup(vm, vf, 1, 0xfee00000u, 0x41, efd,
	    MSIV_SETUP_UNMASKED) < 0)
		tap_bail("vfunc setup");
	test_new_calls(adm, vf);
	test_old_symbols(adm, vf);
	msiv_close(vm);
	msiv_close(adm);
	test_restart_stand_in(d.dir);
	h_stop(&d);
	return tap_done();
}
