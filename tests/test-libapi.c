/*
 * libmsiv's API as a VMM developer meets it (libmsiv(3)), with the real
 * msivd:
 *  - the listings of MSIV_0.3 fill the library's own structs, NUL
 *    terminated, and follow the size rule: a size below the MSIV_0.3 size
 *    is EINVAL, a larger struct (one of a later header) gets zeros beyond
 *    what this library knows, and a listing's records are size apart;
 *  - msiv_restart() (MSIV_0.4) follows the same size rule, its minimum
 *    the struct's size in MSIV_0.4;
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

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
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
	ok(dlvsym(RTLD_DEFAULT, "msiv_list_devices", "MSIV_0.1") == NULL,
	    "msiv_list_devices is not in MSIV_0.1");
	ok(dlvsym(RTLD_DEFAULT, "msiv_restart", "MSIV_0.3") == NULL,
	    "msiv_restart is not in MSIV_0.3");
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
	h_stop(&d);
	return tap_done();
}
