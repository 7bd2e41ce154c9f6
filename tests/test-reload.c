/*
 * Integration test: reloading the configuration and strict parsing
 * (issue 17; msivd(8) RELOAD, msivd.conf(5)). The real msivd, reloaded by
 * SIGHUP, by an admin's RELOAD (libmsiv) and by msivctl reload; tenants
 * are workers running as other users that keep their sessions open across
 * the reloads and do what the test asks through a pipe. Also SIGINT.
 * (msivd --check-config and the parser's errors: test-conf.sh.) Needs
 * root to switch users; skipped otherwise.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define UID_A 4001u /* tenant vm-a */
#define UID_B 4002u /* tenant vm-b, once a reload adds it */
#define VF_MAX 8

static struct h_daemon d;

/* The [msivd] settings and devices every configuration below has. */
#define RL_MSIVD   "[msivd]\nsocket_mode = 0666\norphan_grace = 0\n"
#define RL_DEVICES "[device sim0]\nbackend = sim\nslots = 64\n" \
    "[device sim1]\nbackend = sim\nslots = 64\n"

/* The first configuration: vm-a may have one vfunc, on sim0 only. */
static const char conf1[] =
    "# msivd.conf for test-reload\n"
    RL_MSIVD
    "\n"
    RL_DEVICES
    "\n"
    "[tenant vm-a]\nuids = 4001\ndevices = sim0\nmax_vfuncs = 1\n";

/* Then: vm-a may have two per device, on both; vm-b exists; an
 * admin_group by name (looked up under msivd's system call filter); an
 * [auto] rule. */
static const char conf2[] =
    "# msivd.conf for test-reload\n"
    RL_MSIVD
    "admin_group = root\n"
    "\n"
    RL_DEVICES
    "\n"
    "[tenant vm-a]\nuids = 4001\ndevices = sim0 sim1\nmax_vfuncs = 2\n"
    "\n"
    "[tenant vm-b]\nuids = 4002\n"
    "\n"
    "[auto edu]\nmatch = 1234:11e8\n";

/* Then: vm-a back to one vfunc on sim0 only; vm-b gone. */
static const char conf3[] =
    RL_MSIVD
    "\n"
    RL_DEVICES
    "\n"
    "[tenant vm-a]\nuids = 4001\ndevices = sim0\nmax_vfuncs = 1\n";

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		tap_bail("cannot write the configuration");
}

/* --- a tenant that keeps its session ---------------------------------------*/

struct worker {
	pid_t pid;
	int req, rep;
};

struct wreq {
	char op;       /* c: connect as arg; o: open on device arg; q: query
			  vfunc n; x: close vfunc n; e: exit */
	int n;
	char arg[32];
};

static void
worker_loop(int req, int rep)
{
	struct msiv_conn *c = NULL;
	uint64_t vf[VF_MAX] = { 0 };
	int nvf = 0;
	struct wreq w;

	while (read(req, &w, sizeof(w)) == sizeof(w)) {
		struct msiv_vector_info info;
		long r = -EINVAL;

		switch (w.op) {
		case 'c':
			r = msiv_connect(d.sock, w.arg, &c);
			break;
		case 'o':
			if (c == NULL || nvf == VF_MAX)
				break;
			r = msiv_vfunc_open(c, w.arg, 1, MSIV_POLICY_DEFAULT,
			    &vf[nvf]);
			if (r == 0)
				r = nvf++;
			break;
		case 'q':
			if (c != NULL && w.n >= 0 && w.n < nvf)
				r = msiv_vector_query(c, vf[w.n], 0, &info);
			break;
		case 'x':
			if (c != NULL && w.n >= 0 && w.n < nvf)
				r = msiv_vfunc_close(c, vf[w.n]);
			break;
		case 'e':
			_exit(0);
		}
		if (write(rep, &r, sizeof(r)) != sizeof(r))
			_exit(98);
	}
	_exit(0);
}

static void
worker_start(struct worker *w, uid_t uid)
{
	int rq[2], rp[2];

	if (pipe2(rq, O_CLOEXEC) < 0 || pipe2(rp, O_CLOEXEC) < 0 ||
	    (w->pid = fork()) < 0)
		tap_bail("fork");
	if (w->pid == 0) {
		close(rq[1]);
		close(rp[0]);
		if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(99);
		worker_loop(rq[0], rp[1]);
	}
	close(rq[0]);
	close(rp[1]);
	w->req = rq[1];
	w->rep = rp[0];
}

static long
wdo(struct worker *w, char op, int n, const char *arg)
{
	struct wreq q = { .op = op, .n = n };
	long r;

	snprintf(q.arg, sizeof(q.arg), "%s", arg != NULL ? arg : "");
	if (write(w->req, &q, sizeof(q)) != sizeof(q) ||
	    read(w->rep, &r, sizeof(r)) != sizeof(r))
		return -9999;
	return r;
}

static void
worker_stop(struct worker *w)
{
	struct wreq q = { .op = 'e' };

	if (write(w->req, &q, sizeof(q)) != sizeof(q))
		tap_diag("worker gone already");
	close(w->req);
	close(w->rep);
	waitpid(w->pid, NULL, 0);
}

/* A session of uid's that connects, says HELLO as tenant, and ends. */
static long
hello_status(uid_t uid, const char *tenant)
{
	struct worker w;
	long r;

	worker_start(&w, uid);
	r = wdo(&w, 'c', 0, tenant);
	worker_stop(&w);
	return r;
}

/* --- helpers ---------------------------------------------------------------*/

static int
log_has(const char *what)
{
	return h_logged(&d, what);
}

/* Run a command, its stdout and stderr into out; its exit status. */
static int
run(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
run(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	FILE *p;
	size_t n;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (p == NULL)
		tap_bail("popen");
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
admin_reload(char *msg, size_t msglen)
{
	struct msiv_conn *c;
	int r;

	if (msiv_connect(d.sock, NULL, &c) < 0)
		tap_bail("admin connect");
	r = msiv_reload(c, msg, msglen);
	msiv_close(c);
	return r;
}

/* --- the tests -------------------------------------------------------------*/

static struct worker wa, wb;

static void
test_sighup(void)
{
	char want[256];

	worker_start(&wa, UID_A);
	is_int(wdo(&wa, 'c', 0, "vm-a"), 0, "uid %u acts as vm-a", UID_A);
	is_int(wdo(&wa, 'o', 0, "sim0"), 0, "vm-a opens a vfunc on sim0");
	is_int(wdo(&wa, 'o', 0, "sim0"), -EDQUOT, "...not a second one "
	    "(max_vfuncs = 1)");
	is_int(wdo(&wa, 'o', 0, "sim1"), -EACCES, "...nor one on sim1");
	is_int(hello_status(UID_B, "vm-b"), -EACCES, "uid %u: no tenant "
	    "admits it", UID_B);

	write_file(d.conf, conf2);
	if (kill(d.pid, SIGHUP) < 0)
		tap_bail("kill");
	snprintf(want, sizeof(want), "reloaded %s (SIGHUP)", d.conf);
	ok(log_has(want), "SIGHUP: the log says \"%s\"", want);
	ok(h_alive(&d), "msivd runs on (under its system call filter: the "
	    "file read and admin_group looked up)");
	is_int(wdo(&wa, 'q', 0, NULL), 0, "vm-a's session and vfunc live "
	    "on across the reload");
	{
		struct msiv_conn *c;
		struct msiv_hotplug_info hp = { 0 };

		if (msiv_connect(d.sock, NULL, &c) < 0)
			tap_bail("admin connect");
		is_int(msiv_get_hotplug(c, &hp, sizeof(hp)), 0, "HOTPLUG_STATUS");
		is_int(hp.rules, 1, "...counts the new [auto] rule");
		msiv_close(c);
		ok(log_has("hotplug: scanning /sys/bus/pci/drivers/vfio-pci "
		    "([auto] rules reloaded)"), "...and sysfs is scanned again "
		    "for devices it names");
	}
	is_int(wdo(&wa, 'o', 0, "sim0"), 1, "the raised quota applies: a "
	    "second vfunc on sim0");
	is_int(wdo(&wa, 'o', 0, "sim1"), 2, "...and sim1 is allowed now");
	is_int(wdo(&wa, 'o', 0, "sim0"), -EDQUOT, "...up to the new quota");
	worker_start(&wb, UID_B);
	is_int(wdo(&wb, 'c', 0, "vm-b"), 0, "the new tenant vm-b admits uid "
	    "%u", UID_B);
	is_int(wdo(&wb, 'o', 0, "sim0"), 0, "vm-b opens a vfunc");
}

static void
test_refused(void)
{
	char msg[MSIV_TEXT_MAX], out[2048], want[512];

	/* A syntax error on the last line. */
	{
		char bad[sizeof(conf2) + 64];
		int line = 1;

		for (const char *p = conf2; *p != '\0'; p++)
			line += *p == '\n';
		snprintf(bad, sizeof(bad), "%sthis is not ini\n", conf2);
		write_file(d.conf, bad);
		is_int(admin_reload(msg, sizeof(msg)), -EINVAL, "RELOAD of a "
		    "file with a syntax error: EINVAL");
		snprintf(want, sizeof(want), "%s:%d: syntax error", d.conf,
		    line);
		ok(strstr(msg, want) != NULL, "...its text names file:line "
		    "(\"%s\")", msg);
		snprintf(want, sizeof(want), "reload refused (RELOAD from "
		    "session");
		ok(log_has(want), "...and the log says reload refused");
		snprintf(want, sizeof(want), "%s:%d: syntax error", d.conf,
		    line);
		ok(log_has(want), "...with file:line");

		is_int(run(out, sizeof(out), "%s -s %s reload 2>&1",
		    getenv("MSIVCTL"), d.sock), 1, "msivctl reload: exit 1");
		ok(strstr(out, want) != NULL && strstr(out, "refused") != NULL,
		    "...and it prints the reason with file:line: %s", out);
	}

	/* A duplicate key, by SIGHUP: it would raise vm-a's quota. */
	{
		char dup[sizeof(conf2) + 64];
		const char *at = strstr(conf2, "max_vfuncs = 2\n");
		int line = 1;

		for (const char *p = conf2; p < at; p++)
			line += *p == '\n';
		snprintf(dup, sizeof(dup), "%.*smax_vfuncs = 2\nmax_vfuncs = "
		    "3\n%s", (int)(at - conf2), conf2, at + 15);
		write_file(d.conf, dup);
		if (kill(d.pid, SIGHUP) < 0)
			tap_bail("kill");
		snprintf(want, sizeof(want), "%s:%d: duplicate key max_vfuncs "
		    "in [tenant vm-a] (first at line %d)", d.conf, line + 1,
		    line);
		ok(log_has(want), "SIGHUP with a duplicate key: refused, "
		    "logged with file:line (\"%s\")", want);
		is_int(wdo(&wa, 'o', 0, "sim0"), -EDQUOT, "...the running "
		    "configuration stays (vm-a's quota is still 2)");
	}

	/* A duplicate section. */
	{
		char dup[sizeof(conf2) + 64];

		snprintf(dup, sizeof(dup), "%s[msivd]\nmax_rate = 10\n", conf2);
		write_file(d.conf, dup);
		is_int(admin_reload(msg, sizeof(msg)), -EINVAL, "a duplicate "
		    "[msivd]: EINVAL");
		ok(strstr(msg, "duplicate section [msivd] (first at line 2)") !=
		    NULL, "...named with its line: %s", msg);
	}

	/* Settings that take a restart. */
	{
		char rs[sizeof(conf2) + 128];
		const char *m = strstr(conf2, "0666");

		/* socket_mode 0666 -> 0660, and a device more. */
		snprintf(rs, sizeof(rs), "%.*s0660%s[device sim2]\n"
		    "backend = sim\nslots = 8\n", (int)(m - conf2), conf2, m + 4);
		write_file(d.conf, rs);
		is_int(admin_reload(msg, sizeof(msg)), -EBUSY, "RELOAD "
		    "changing socket_mode and adding a device: EBUSY");
		ok(strstr(msg, "socket_mode, [device sim2] cannot change "
		    "without a restart; restart msivd") != NULL,
		    "...they are named: %s", msg);
		ok(log_has("socket_mode, [device sim2] cannot change without a "
		    "restart"), "...in the log too");
		is_int(run(out, sizeof(out), "%s -s %s reload 2>&1",
		    getenv("MSIVCTL"), d.sock), 1, "msivctl reload: exit 1");
		ok(strstr(out, "[device sim2] cannot change") != NULL,
		    "...with the reason: %s", out);
	}
	is_int(wdo(&wb, 'q', 0, NULL), 0, "sessions are served through all "
	    "of it");

	write_file(d.conf, conf2);
	is_int(run(out, sizeof(out), "%s -s %s reload 2>&1", getenv("MSIVCTL"),
	    d.sock), 0, "msivctl reload of a good file: exit 0");
	snprintf(want, sizeof(want), "reloaded %s", d.conf);
	ok(strstr(out, want) != NULL, "...and it says so: %s", out);
}

/* Kept until closed: what the new policy no longer admits stays with
 * its session; nothing new is opened under the new policy. */
static void
test_kept_until_closed(void)
{
	char msg[MSIV_TEXT_MAX];

	write_file(d.conf, conf3);
	is_int(admin_reload(msg, sizeof(msg)), 0, "RELOAD lowering vm-a's "
	    "quota, taking sim1 from it, removing vm-b: %s", msg);
	is_int(wdo(&wa, 'q', 0, NULL) | wdo(&wa, 'q', 1, NULL), 0, "vm-a keeps "
	    "both vfuncs on sim0, over its new quota");
	is_int(wdo(&wa, 'q', 2, NULL), 0, "...and the one on sim1");
	is_int(wdo(&wa, 'o', 0, "sim0"), -EDQUOT, "...but opens no more on "
	    "sim0");
	is_int(wdo(&wa, 'o', 0, "sim1"), -EACCES, "...nor on sim1");
	is_int(wdo(&wb, 'q', 0, NULL), 0, "vm-b's session keeps its vfunc");
	ok(log_has("no [tenant] admits it as vm-b since the reload; it keeps "
	    "its 1 vfunc(s)"), "...which is logged");
	is_int(wdo(&wb, 'o', 0, "sim0"), -EACCES, "...but opens no new one");
	is_int(hello_status(UID_B, "vm-b"), -EACCES, "a new session of uid "
	    "%u is refused", UID_B);
	is_int(wdo(&wa, 'x', 1, NULL), 0, "vm-a closes one of its two on sim0");
	is_int(wdo(&wa, 'o', 0, "sim0"), -EDQUOT, "...still at its quota of 1");
	is_int(wdo(&wa, 'x', 0, NULL), 0, "vm-a closes the other");
	is_int(wdo(&wa, 'o', 0, "sim0"), 3, "...and may open one again");
	worker_stop(&wb);
	worker_stop(&wa);
}

/* SIGINT stops msivd in order, as SIGTERM does (h_stop). */
static void
test_sigint(void)
{
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
	int st = -1;

	if (kill(d.pid, SIGINT) < 0)
		tap_bail("kill");
	while (h_now_ms() < deadline) {
		pid_t r = waitpid(d.pid, &st, WNOHANG);

		if (r == d.pid)
			break;
		st = -1;
		usleep(5000); /* polling a condition, with a deadline */
	}
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGINT: msivd "
	    "exits 0");
	ok(log_has("signal 2: shutting down") && log_has("stopped"),
	    "...after shutting down in order");
	d.pid = -1;
	{
		char out[256];

		if (run(out, sizeof(out), "rm -rf %s", d.dir) != 0)
			tap_diag("cannot remove %s", d.dir);
	}
}

int
main(void)
{
	if (geteuid() != 0)
		tap_skip_all("switching users needs root");
	if (h_start(&d, conf1) < 0)
		tap_bail("msivd did not start");
	/* The clients run as other users: let them reach the socket. */
	if (chmod(d.dir, 0755) < 0)
		tap_bail("chmod");
	test_sighup();
	test_refused();
	test_kept_until_closed();
	test_sigint();
	return tap_done();
}
