/*
 * Handover (issue 19; msivd(8), RESTART AND UPGRADE): the real msivd
 * hands everything to a newly executed msivd, and a client notices
 * nothing.
 *
 *  - Exact state: a masked vector's pending bit and every counter cross
 *    the handover as they were; a set-up vector that had no interrupt
 *    gets none (a plain restart assumes one pending: test-restart); an
 *    interrupt delivered before is not delivered again.
 *  - The same connection, session and trigger fds serve on: the client
 *    unmasks, retargets, and a firer fires the triggers it took before.
 *  - Two handovers in a row (the new msivd's own spawner).
 *  - The binary executed is the path msivd was started from, not
 *    /proc/self/exe: replaced by a wrapper, the wrapper runs.
 *  - Failures leave the old msivd serving: the binary gone (exec fails,
 *    before the old one quiesces), a state directory the new msivd
 *    refuses (after the old one has parked its loop and sent the state:
 *    it resumes), a state whose format is newer than the new msivd's
 *    (this test plays an old msivd on the handover socket).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handover.h"
#include "harness.h"
#include "tap.h"

#define NV 4

static struct h_daemon d;
static char bin[300];        /* the msivd this test runs: a copy */

static const char conf_fmt[] =
    "[msivd]\n"
    "log_level = debug\n"
    "orphan_grace = 3600\n"
    "%s"
    "[device sim0]\n"
    "backend = sim\n"
    "slots = 64\n"
    "policy = latch\n";

static void
write_conf(const char *extra)
{
	FILE *f = fopen(d.conf, "w");

	if (f == NULL || fprintf(f, conf_fmt, extra) < 0 || fclose(f) != 0)
		tap_bail("cannot write the configuration");
}

static int
copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	return close(out) == 0 && n == 0 ? 0 : -1;
}

static struct msiv_vector_info
query(struct msiv_conn *c, uint64_t vf, unsigned int k)
{
	struct msiv_vector_info in;

	if (msiv_vector_query(c, vf, k, &in) < 0)
		memset(&in, 0xff, sizeof(in));
	return in;
}

static int
identity(const struct msiv_vector_info *in)
{
	return in->fired == in->delivered + in->coalesced + in->dropped +
	    (in->pending ? 1u : 0u);
}

/* The msivd serving the socket, or -1. */
static pid_t
serving_pid(void)
{
	struct msiv_status_info st;
	struct msiv_conn *c;
	pid_t pid = -1;

	if (msiv_connect(d.sock, NULL, &c) < 0)
		return -1;
	if (msiv_get_status(c, &st, sizeof(st)) == 0)
		pid = (pid_t)st.pid;
	msiv_close(c);
	return pid;
}

/* A SIGUSR2 that must fail: the log says why (want), and the same msivd
 * serves on. */
static void
refused(const char *what, const char *want)
{
	pid_t before = d.pid;

	is_int(kill(d.pid, SIGUSR2), 0, "%s: SIGUSR2 sent", what);
	ok(h_logged(&d, want), "%s: logged \"%s\"", what, want);
	ok(h_logged(&d, "serves on"), "%s: the old msivd says it serves on",
	    what);
	is_int(serving_pid(), before, "%s: the same msivd (pid %d) serves",
	    what, (int)before);
}

/* Play an old msivd on the handover socket: offer the new msivd a state
 * of format fmt; returns its answer (HO_REFUSE...) and its reason. */
static int
offer_format(uint32_t fmt, char *reason, size_t len, int *status)
{
	struct ho_hdr h;
	int sv[2], st = -1;
	pid_t pid;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char env[16];
		int fd = dup(sv[1]);
		int log = open(d.log, O_WRONLY | O_APPEND | O_CLOEXEC);
		const char *argv[] = { "msivd", "--foreground", "--config",
		    d.conf, "--state-dir", d.dir, "--socket", d.sock, "--user",
		    "root", NULL };

		if (fd < 0 || log < 0 || dup2(log, 2) < 0)
			_exit(127);
		snprintf(env, sizeof(env), "%d", fd);
		setenv("MSIVD_HANDOVER", env, 1);
		execv(bin, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(sv[1]);
	{
		struct timeval tv = { H_TIMEOUT_MS / 1000, 0 };

		(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv));
	}
	n = recv(sv[0], &h, sizeof(h), 0);
	if (n != (ssize_t)sizeof(h) || h.magic != HO_MAGIC ||
	    h.msg != HO_HELLO) {
		close(sv[0]);
		waitpid(pid, &st, 0);
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.magic = HO_MAGIC;
	h.msg = HO_STATE;
	h.format = fmt;
	h.len = 64;
	snprintf(h.version, sizeof(h.version), "99.0-test");
	if (send(sv[0], &h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h)) {
		close(sv[0]);
		waitpid(pid, &st, 0);
		return -1;
	}
	n = recv(sv[0], &h, sizeof(h), 0);
	close(sv[0]);
	waitpid(pid, &st, 0);
	*status = st;
	if (n != (ssize_t)sizeof(h))
		return -1;
	snprintf(reason, len, "%s", h.reason);
	return (int)h.msg;
}

int
main(void)
{
	struct msiv_conn *c, *admin;
	struct msiv_session_info ses[8];
	struct msiv_vector_info in;
	struct h_firer f;
	uint64_t vf, sid;
	uint32_t slot0;
	int t[NV], t0b, n, st;
	pid_t old, gen1;
	char reason[MSIV_REASON_MAX], path[400];
	const char *msivd = getenv("MSIVD");

	if (msivd == NULL)
		tap_bail("MSIVD is not set (run through make check)");
	h_prepare(&d, NULL);
	/* Run a copy, which this test may replace and remove. */
	snprintf(bin, sizeof(bin), "%s/msivd", d.dir);
	if (copy_file(msivd, bin, 0755) < 0)
		tap_bail("cannot copy msivd");
	setenv("MSIVD", bin, 1);
	write_conf("");
	if (h_spawn(&d) < 0)
		tap_bail("msivd did not start");

	/* A tenant's vfunc: vectors 0 and 2 unmasked, 1 and 3 masked. */
	c = h_connect(&d, "vm-a");
	admin = h_connect(&d, NULL);
	if (c == NULL || admin == NULL)
		tap_bail("cannot connect");
	if (msiv_vfunc_open(c, "sim0", NV, MSIV_POLICY_DEFAULT, &vf) < 0 ||
	    msiv_vfunc_enable(c, vf, 1) < 0)
		tap_bail("cannot open the vfunc");
	for (unsigned int k = 0; k < NV; k++) {
		t[k] = h_eventfd();
		if (msiv_vector_setup(c, vf, k, 0xfee00000u, 0x40 + k, t[k],
		    k % 2 == 0 ? MSIV_SETUP_UNMASKED : 0) < 0)
			tap_bail("cannot set up a vector");
	}
	slot0 = query(c, vf, 0).slot;
	if (h_firer_start(&f, admin, "sim0", slot0, NV) < 0)
		tap_bail("cannot start the firer");
	n = msiv_list_sessions(admin, ses, 8, sizeof(ses[0]));
	sid = 0;
	for (int i = 0; i < n; i++)
		if (strcmp(ses[i].tenant, "vm-a") == 0)
			sid = ses[i].session;

	/* Before: v0 fired and delivered, v1 fired while masked (pending),
	 * v2 fired and its target left unread. */
	is_int(h_fire(&f, 0, 1), 0, "fire vector 0");
	is_int((int)h_efd_wait(t[0], H_TIMEOUT_MS), 1, "vector 0 delivered");
	is_int(h_fire(&f, 1, 1), 0, "fire masked vector 1");
	is_int(h_wait_fired(c, vf, 1, 1), 0, "vector 1 fired");
	ok(query(c, vf, 1).pending, "vector 1 pending");
	is_int(h_fire(&f, 2, 3), 0, "fire vector 2 three times at once");
	is_int(h_wait_fired(c, vf, 2, 3), 0, "vector 2 fired 3");

	/* The handover. */
	old = d.pid;
	is_int(h_handover(&d), 0, "SIGUSR2: a new msivd serves, the old one "
	    "exited 0");
	ok(d.pid != old, "the new msivd has its own pid (%d, was %d)",
	    (int)d.pid, (int)old);
	ok(h_logged(&d, "restart: took over from msivd"), "the new one logs "
	    "the take-over");
	gen1 = d.pid;

	/* Exact state, on the same connection. */
	in = query(c, vf, 0);
	ok(!in.pending && in.fired == 1 && in.delivered == 1,
	    "vector 0: fired 1, delivered 1, not pending (fired %llu, "
	    "delivered %llu)", (unsigned long long)in.fired,
	    (unsigned long long)in.delivered);
	is_int((int)h_efd_take(t[0]), 0, "vector 0: not delivered again");
	in = query(c, vf, 1);
	ok(in.pending && in.masked && in.fired == 1 && in.delivered == 0,
	    "vector 1: still masked and pending, fired 1, delivered 0");
	in = query(c, vf, 3);
	ok(!in.pending && in.fired == 0 && in.target && !in.orphaned,
	    "vector 3 (set up, never fired): no pending bit assumed, its "
	    "target attached");
	in = query(c, vf, 2);
	ok(in.fired == 3 && in.delivered + in.coalesced == 3 && !in.pending,
	    "vector 2: fired 3 = delivered %llu + coalesced %llu",
	    (unsigned long long)in.delivered, (unsigned long long)in.coalesced);
	for (unsigned int k = 0; k < NV; k++) {
		in = query(c, vf, k);
		ok(identity(&in), "vector %u: the counter identity holds", k);
	}
	n = msiv_list_sessions(admin, ses, 8, sizeof(ses[0]));
	st = 0;
	for (int i = 0; i < n; i++)
		st |= strcmp(ses[i].tenant, "vm-a") == 0 && ses[i].session ==
		    sid && ses[i].vfuncs == 1;
	ok(st, "the tenant's session %llu holds its vfunc in the new msivd",
	    (unsigned long long)sid);

	/* Serving on: unmask replays the pending bit once; the firer's
	 * triggers (the very eventfds) still fire; a retarget passes a new
	 * fd on the handed-over connection. */
	is_int(msiv_vector_unmask(c, vf, 1), 0, "unmask vector 1");
	is_int((int)h_efd_wait(t[1], H_TIMEOUT_MS), 1, "vector 1's pending "
	    "interrupt delivered, once");
	is_int(h_fire(&f, 0, 1), 0, "fire vector 0 through the old trigger");
	is_int((int)h_efd_wait(t[0], H_TIMEOUT_MS), 1, "vector 0 delivered by "
	    "the new msivd");
	t0b = h_eventfd();
	is_int(msiv_vector_retarget(c, vf, 0, MSIV_RETARGET_TARGET, 0, 0, t0b),
	    0, "retarget vector 0 on the same connection");
	is_int(h_fire(&f, 0, 1), 0, "fire vector 0 again");
	is_int((int)h_efd_wait(t0b, H_TIMEOUT_MS), 1, "delivered to the new "
	    "target");
	is_int((int)h_efd_take(t[0]), 0, "not to the old one");

	/* A second handover, from the new msivd's own spawner, asked by
	 * RESTART: the new msivd answers on the asking connection. */
	{
		struct msiv_restart_info ri;

		memset(&ri, 0, sizeof(ri));
		is_int(msiv_restart(admin, &ri, sizeof(ri)), 0, "RESTART: a "
		    "second handover, answered");
		is_int(h_handover_wait(&d), 0, "the old msivd exited 0");
		ok(d.pid != gen1 && ri.pid == (uint32_t)d.pid, "the reply "
		    "names the new msivd (pid %u)", ri.pid);
		ok(ri.sessions == 2 && ri.vfuncs == 1 && ri.fds > NV &&
		    ri.format == HANDOVER_FORMAT, "it took over %u sessions (2), 1 "
		    "vfunc, %u fds, format %u", ri.sessions, ri.fds, ri.format);
		ok(ri.blackout_us > 0 && strcmp(ri.version, PACKAGE_VERSION) ==
		    0 && strcmp(ri.old_version, PACKAGE_VERSION) == 0,
		    "no trigger read for %u us; versions %s from %s",
		    ri.blackout_us, ri.version, ri.old_version);
	}
	is_int(h_fire(&f, 0, 1), 0, "fire vector 0");
	is_int((int)h_efd_wait(t0b, H_TIMEOUT_MS), 1, "delivered after the "
	    "second handover");
	is_int((int)h_efd_take(t[0]), 0, "the target it was moved from before "
	    "the handover is never written after it (rule 6)");
	in = query(c, vf, 1);
	ok(!in.pending && in.fired == 1 && in.delivered == 1 && identity(&in),
	    "vector 1: fired 1, delivered 1");

	/* Failures: the old msivd serves on. */
	snprintf(path, sizeof(path), "%s/msivd.away", d.dir);
	if (rename(bin, path) < 0)
		tap_bail("rename");
	refused("no binary", "exited before taking over");
	if (rename(path, bin) < 0)
		tap_bail("rename");
	/* Refused once the state is received (the old one parked): the
	 * state directory has become unsafe. */
	if (chmod(d.dir, 0777) < 0)
		tap_bail("chmod");
	refused("unsafe state directory", "the new msivd cannot start (exit "
	    "status 4)");
	{
		struct msiv_restart_info ri;
		int r = msiv_restart(admin, &ri, sizeof(ri));

		ok(r < 0 && strstr(msiv_last_reason(admin), "cannot start (exit "
		    "status 4)") != NULL, "RESTART refused with the reason: %s",
		    msiv_last_reason(admin));
		is_int(serving_pid(), d.pid, "the same msivd serves");
	}
	if (chmod(d.dir, 0700) < 0)
		tap_bail("chmod");
	is_int(h_fire(&f, 0, 1), 0, "fire vector 0");
	is_int((int)h_efd_wait(t0b, H_TIMEOUT_MS), 1, "still delivered by the "
	    "msivd that served on");
	(void)h_efd_take(t[2]);
	is_int(msiv_vector_mask(c, vf, 2), 0, "the connection serves on");

	/* A state newer than this msivd reads. */
	reason[0] = '\0';
	st = 0;
	n = offer_format(HANDOVER_FORMAT + 1, reason, sizeof(reason), &st);
	is_int(n, HO_REFUSE, "a state of format %u is refused",
	    HANDOVER_FORMAT + 1);
	ok(strstr(reason, "format") != NULL && strstr(reason, "99.0-test") !=
	    NULL, "with the reason: %s", reason);
	ok(WIFEXITED(st) && WEXITSTATUS(st) != 0, "and the new msivd exits "
	    "(status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	is_int(serving_pid(), d.pid, "the serving msivd is untouched");

	/* And a handover still works after all that. */
	is_int(h_handover(&d), 0, "a handover after the failures");
	is_int(h_fire(&f, 2, 1), 0, "fire masked vector 2");
	is_int(h_wait_fired(c, vf, 2, 4), 0, "seen");
	ok(query(c, vf, 2).pending, "pending");
	is_int((int)h_efd_take(t[2]), 0, "nothing reached the target of the "
	    "vector masked before the handover (rule 4)");

	/* The binary at the path, not the running inode: a wrapper put in
	 * its place (as an upgrade renames a new file there) runs. */
	snprintf(path, sizeof(path), "%s/msivd.real", d.dir);
	{
		char wrapper[1200], marker[400], tmp[400];
		FILE *w;

		snprintf(marker, sizeof(marker), "%s/wrapper-ran", d.dir);
		snprintf(tmp, sizeof(tmp), "%s/msivd.new", d.dir);
		snprintf(wrapper, sizeof(wrapper), "#!/bin/sh\n: > %s\n"
		    "exec %s \"$@\"\n", marker, path);
		if (copy_file(bin, path, 0755) < 0 ||
		    (w = fopen(tmp, "w")) == NULL || fputs(wrapper, w) < 0 ||
		    fclose(w) != 0 || chmod(tmp, 0755) < 0 ||
		    rename(tmp, bin) < 0)
			tap_bail("cannot put the wrapper in place");
		is_int(h_handover(&d), 0, "handover with msivd's path replaced");
		ok(access(marker, F_OK) == 0, "the file now at msivd's path was "
		    "executed (not /proc/self/exe)");
		/* (msivd.real is the serving msivd's path from now on.) */
	}

	h_firer_stop(&f);
	msiv_close(c);
	msiv_close(admin);
	is_int(h_stop(&d), 0, "msivd stops cleanly");
	return tap_done();
}
