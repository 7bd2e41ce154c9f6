/*
 * The spawner: a small process forked at start-up, before the system
 * call filter and before any other thread, whose one job is to execute a
 * new msivd for a handover (handover.c; msivd(8), RESTART AND UPGRADE).
 *
 * Why a process of its own: the filter msivd serves under allows no
 * fork and no exec, and a filter is inherited by whatever a filtered
 * process executes, stacking one more filter on each generation. The
 * spawner was forked before the filter, so the msivd it executes starts
 * with none (it installs its own). What it does inherit:
 *
 *  - the user msivd dropped to and no_new_privs (harmless: msivd needs no
 *    set-user-ID program);
 *  - CAP_DAC_OVERRIDE, which an exec would drop from a non-root process
 *    unless it is in the ambient set: the spawner (and only it) raises it
 *    there, so that the new msivd can still open a VFIO group for a later
 *    DEVICE_ATTACH (priv.c: priv_adopt());
 *  - the installed binary's path, read at start-up (not /proc/self/exe,
 *    which names the old inode once an upgrade has replaced the file), so
 *    an upgrade executes the new binary; and msivd's own command line.
 *
 * The spawner holds no fd but its socket to msivd and stdio. It dies with
 * msivd (PR_SET_PDEATHSIG); the msivd it started then belongs to init (or
 * to the service manager, told MAINPID=).
 *
 * Its protocol, one SOCK_SEQPACKET exchange per handover: msivd sends an
 * empty request; the spawner makes a socket pair, forks, and the child
 * executes msivd with MSIVD_HANDOVER=FD (its end of the pair) in the
 * environment; the spawner answers with the child's pid (or -errno) and
 * msivd's end of the pair.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "log.h"
#include "spawn.h"

static int sp_fd = -1;
static pid_t sp_pid = -1;
static char sp_exe[PATH_MAX];

/* The spawner's end of its socket, once it has moved it here. */
#define SPAWN_FD 3

struct spawn_rep {
	int32_t pid;   /* the new msivd, or -errno */
	int32_t err;
};

/* The ambient set keeps CAP_DAC_OVERRIDE across the exec (see above). */
static void
spawn_ambient(void)
{
	cap_t c = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;
	const cap_value_t keep[] = { CAP_DAC_OVERRIDE };

	if (c == NULL)
		return;
	if (geteuid() != 0 && cap_get_flag(c, CAP_DAC_OVERRIDE, CAP_PERMITTED,
	    &v) == 0 && v == CAP_SET &&
	    cap_set_flag(c, CAP_INHERITABLE, 1, keep, CAP_SET) == 0 &&
	    cap_set_proc(c) == 0)
		(void)cap_set_ambient(CAP_DAC_OVERRIDE, CAP_SET);
	cap_free(c);
}

/* In the child of the spawner: become the new msivd. */
static void __attribute__((noreturn))
spawn_exec(int ho, char **argv)
{
	char env[32];
	int fd;
	sigset_t none;

	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	/* Its end of the pair, kept across the exec; everything else the
	 * spawner had is close-on-exec. */
	if ((fd = dup(ho)) < 0)
		_exit(127);
	snprintf(env, sizeof(env), "%d", fd);
	if (setenv(SPAWN_ENV, env, 1) < 0)
		_exit(127);
	execv(sp_exe, argv);
	_exit(127);
}

static void __attribute__((noreturn))
spawn_main(pid_t parent, char **argv)
{
	for (;;) {
		struct spawn_rep rep = { 0, 0 };
		char req[8];
		int ho[2], fds[MSIV_FDS_MAX], n;
		size_t nfds = 0;
		pid_t pid;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			; /* a new msivd that failed early */
		n = (int)fdpass_recv(SPAWN_FD, req, sizeof(req), fds, &nfds, 0);
		if (n <= 0 || getppid() != parent)
			_exit(0); /* msivd is gone: so is the spawner */
		fdpass_close(fds, nfds);
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    ho) < 0) {
			rep.pid = -errno;
			(void)fdpass_send(SPAWN_FD, &rep, sizeof(rep), NULL, 0, 0);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			close(ho[0]);
			close(SPAWN_FD);
			spawn_exec(ho[1], argv);
		}
		close(ho[1]);
		rep.pid = pid < 0 ? -errno : pid;
		fds[0] = ho[0];
		(void)fdpass_send(SPAWN_FD, &rep, sizeof(rep), fds,
		    pid < 0 ? 0 : 1, 0);
		close(ho[0]);
	}
}

int
spawn_init(char **argv)
{
	ssize_t n = readlink("/proc/self/exe", sp_exe, sizeof(sp_exe) - 1);
	pid_t parent = getpid();
	int sv[2];
	char ready;
	ssize_t got;

	if (n <= 0 || (size_t)n >= sizeof(sp_exe) - 1)
		return -ENAMETOOLONG;
	sp_exe[n] = '\0';
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	sp_pid = fork();
	if (sp_pid < 0) {
		int r = -errno;

		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (sp_pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0L, 0L, 0L);
		if (getppid() != parent)
			_exit(0);
		signal(SIGHUP, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGUSR2, SIG_DFL);
		if (dup2(sv[1], SPAWN_FD) < 0)
			_exit(1);
		/* Nothing of msivd's but its socket and stdio. */
		if (close_range(SPAWN_FD + 1, ~0U, 0) < 0)
			_exit(1); /* msivd then runs without a spawner */
		/* Say so: until now this process held msivd's listening
		 * socket too (see below). */
		if (send(SPAWN_FD, "r", 1, MSG_NOSIGNAL) != 1)
			_exit(0);
		(void)prctl(PR_SET_NAME, "msivd-spawner", 0L, 0L, 0L);
		spawn_ambient();
		spawn_main(parent, argv);
	}
	close(sv[1]);
	/*
	 * Wait until the spawner has closed what it inherited. Until then it
	 * holds a copy of the listening socket (it is forked after it, as
	 * it must be after the privileges are dropped): an msivd killed in
	 * that window, on a busy machine where the child had not run yet,
	 * left a socket that still answered connect(), and the msivd
	 * started next took it for a running one and refused to start.
	 */
	while ((got = recv(sv[0], &ready, 1, 0)) < 0 && errno == EINTR)
		;
	if (got != 1) {
		int r = -ECHILD;

		close(sv[0]);
		(void)waitpid(sp_pid, NULL, 0);
		sp_pid = -1;
		return r;
	}
	sp_fd = sv[0];
	return 0;
}

const char *
spawn_exe(void)
{
	return sp_exe;
}

int
spawn_new(int *ho, pid_t *pid)
{
	struct spawn_rep rep;
	int fds[MSIV_FDS_MAX];
	size_t nfds = 0;
	int n;

	if (sp_fd < 0)
		return -ENOTCONN;
	if (fdpass_send(sp_fd, "x", 1, NULL, 0, 0) < 0)
		return -EPIPE;
	n = (int)fdpass_recv(sp_fd, &rep, sizeof(rep), fds, &nfds, 0);
	if (n != (int)sizeof(rep)) {
		fdpass_close(fds, nfds);
		return n < 0 ? n : -EPIPE;
	}
	if (rep.pid < 0 || nfds != 1) {
		fdpass_close(fds, nfds);
		return rep.pid < 0 ? rep.pid : -EPROTO;
	}
	*ho = fds[0];
	*pid = rep.pid;
	return 0;
}
