/*
 * msivd's system call filter (daemon/sandbox.c; msivd(8), SANDBOX), the
 * very function msivd calls, installed in a child of this program: what
 * msivd does at run time is allowed, and each kind of call it never makes
 * kills the process with SIGSYS after the line msivd(8) documents, in any
 * thread. Then the io_uring ring restriction (daemon/deliver-uring.c):
 * the operations the delivery loop does not use are refused by the ring,
 * which seccomp cannot see into. tests/test-seccomp.sh checks the running
 * daemon.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "sandbox.h"
#include "tap.h"

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

/* What one child did: its wait status and what it wrote to stderr. */
struct outcome {
	int status;
	char err[1024];
};

/*
 * Run fn in a child under the filter (entered from the child, as msivd
 * does, logging to stderr), with its stderr into a pipe. Every wait is
 * bounded: a child that hangs is killed after 20 s.
 */
static void
run_after(void (*before)(void), void (*fn)(void), struct outcome *o)
{
	int p[2];
	size_t n = 0;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	if (pipe2(p, O_CLOEXEC) < 0)
		tap_bail("pipe2");
	fflush(stdout);
	if ((pid = fork()) < 0)
		tap_bail("fork");
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		alarm(20);
		if (before != NULL)
			before();
		if (sandbox_enter(1) < 0)
			_exit(99);
		fn();
		_exit(0);
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], o->err + n, sizeof(o->err) - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == sizeof(o->err) - 1)
			break;
	}
	close(p[0]);
	if (waitpid(pid, &o->status, 0) < 0)
		tap_bail("waitpid");
}

static void
run(void (*fn)(void), struct outcome *o)
{
	run_after(NULL, fn, o);
}

static int
killed_by_sigsys(const struct outcome *o)
{
	return WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGSYS;
}

/* The documented line, with the call's number. */
static int
logged(const struct outcome *o, long nr)
{
	char want[128];

	snprintf(want, sizeof(want), "seccomp: system call %ld is not in "
	    "msivd's allow-list; exiting", nr);
	return strstr(o->err, want) != NULL;
}

static void
describe(const char *what, const struct outcome *o)
{
	if (WIFSIGNALED(o->status))
		tap_diag("%s: killed by signal %d; stderr: %s", what,
		    WTERMSIG(o->status), o->err);
	else
		tap_diag("%s: exit %d; stderr: %s", what,
		    WEXITSTATUS(o->status), o->err);
}

/* --- what msivd does at run time: allowed ------------------------------ */

static void
allowed(void)
{
	uint64_t v = 1;
	int fd, s, n = 0;
	void *m;

	if ((fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    write(fd, &v, sizeof(v)) != sizeof(v) ||
	    read(fd, &v, sizeof(v)) != sizeof(v))
		_exit(10);
	/* sd_notify's socket. */
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		_exit(11);
	close(s);
	/* A listed ioctl on the wrong kind of fd fails, it is not fatal. */
	if (ioctl(fd, FIONREAD, &n) == 0 && n != 0)
		_exit(12);
	if ((m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED ||
	    mprotect(m, 4096, PROT_READ) < 0 || munmap(m, 4096) < 0)
		_exit(13);
	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		_exit(14);
	close(fd);
}

/* Before the filter: stderr is the journal (JOURNAL_STREAM names it), as
 * under systemd; msivd's log then starts each line with its priority. */
static void
journal_stderr(void)
{
	struct stat sb;
	char v[64];

	if (fstat(STDERR_FILENO, &sb) < 0)
		_exit(98);
	snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)sb.st_dev,
	    (uintmax_t)sb.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	log_init(1, LOG_LEVEL_INFO);
}

/* --- what msivd never does once it serves: each kills ------------------ */

static void
do_execve(void)
{
	static char name[] = "true";
	char *const argv[] = { name, NULL };

	execve("/bin/true", argv, NULL);
}

static void
do_fork(void)
{
	(void)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

static void
do_inet(void)
{
	(void)socket(AF_INET, SOCK_STREAM, 0);
}

static void
do_ioctl(void)
{
	(void)ioctl(STDIN_FILENO, FIOCLEX);
}

static void
do_exec_map(void)
{
	(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void
do_uring_setup(void)
{
	char params[120] = { 0 }; /* struct io_uring_params */

	(void)syscall(SYS_io_uring_setup, 8, params);
}

static void
do_uring_register(void)
{
	(void)syscall(SYS_io_uring_register, 1000,
	    0 /* REGISTER_BUFFERS */, NULL, 0);
}

static void
do_uring_enable(void)
{
	/* The delivery thread enables its ring once it runs (maybe after
	 * the filter): allowed, and on an fd that is not open it is EBADF
	 * (not -1: that is a "blind" registration on recent kernels). */
	if (syscall(SYS_io_uring_register, 1000, 12 /* ENABLE_RINGS */,
	    NULL, 0) == 0 || errno != EBADF)
		_exit(20);
}

static void
do_kill_other(void)
{
	(void)syscall(SYS_tgkill, 1, 1, 0); /* init; signal 0: a probe */
}

/* A thread started before the filter, as msivd's delivery thread is;
 * it makes its call once the filter is in. */
static int gate[2], hold[2];

static void *
thread_main(void *arg)
{
	char b;

	(void)arg;
	if (read(gate[0], &b, 1) == 1)
		do_execve();
	return NULL;
}

static void
start_thread(void)
{
	pthread_t t;

	if (pipe2(gate, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0 ||
	    pthread_create(&t, NULL, thread_main, NULL) != 0)
		_exit(98);
}

/* The main thread lets it go and waits (read: allowed) to be killed. */
static void
release_thread(void)
{
	char b;

	(void)!write(gate[1], "x", 1);
	(void)!read(hold[0], &b, 1);
	_exit(97);
}

static const struct {
	const char *what;
	void (*fn)(void);
	long nr;
} forbidden[] = {
	{ "execve", do_execve, SYS_execve },
	{ "fork (clone)", do_fork, SYS_clone },
	{ "socket(AF_INET)", do_inet, SYS_socket },
	{ "ioctl(FIOCLEX), not a listed request", do_ioctl, SYS_ioctl },
	{ "mmap(PROT_EXEC)", do_exec_map, SYS_mmap },
	{ "io_uring_setup: no new ring", do_uring_setup, SYS_io_uring_setup },
	{ "io_uring_register other than ENABLE_RINGS", do_uring_register,
	    SYS_io_uring_register },
	{ "tgkill of another process", do_kill_other, SYS_tgkill },
};

/* --- the ring ------------------------------------------------------------ */

#ifdef HAVE_LIBURING
/* Submit one SQE, wait for its completion (2 s at most), return its res. */
static int
ring_one(struct io_uring *r, struct io_uring_sqe *sqe, uint64_t ud)
{
	struct __kernel_timespec ts = { .tv_sec = 2 };
	struct io_uring_cqe *cqe;
	int res;

	io_uring_sqe_set_data64(sqe, ud);
	if (io_uring_submit(r) != 1)
		return -9999;
	if (io_uring_wait_cqe_timeout(r, &cqe, &ts) < 0)
		return -9998;
	res = cqe->user_data == ud ? cqe->res : -9997;
	io_uring_cqe_seen(r, cqe);
	return res;
}

static void
ring_checks(void)
{
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	struct io_uring r;
	struct io_uring_sqe *sqe;
	uint64_t one = 1, v = 0;
	int e, fd, res;
	bool files;

	if ((e = io_uring_queue_init_params(8, &r, &p)) < 0) {
		tap_diag("no io_uring here (%s): the ring checks are skipped",
		    strerror(-e));
		for (int i = 0; i < 7; i++)
			tap_ok(1, "# SKIP io_uring unavailable");
		return;
	}
	if ((fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		tap_bail("eventfd");
	/* The loop's registered file table, registered while disabled. */
	files = io_uring_register_files_sparse(&r, 1) == 0;
	tap_ok(deliver_uring_restrict(&r, true) == 0,
	    "the ring is restricted while disabled");
	if (syscall(SYS_io_uring_register, r.ring_fd,
	    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		tap_bail("cannot enable the ring");

	sqe = io_uring_get_sqe(&r);
	io_uring_prep_write(sqe, fd, &one, sizeof(one), 0);
	res = ring_one(&r, sqe, 1);
	tap_ok(res == sizeof(one) && read(fd, &v, sizeof(v)) == sizeof(v) &&
	    v == 1, "the loop's eventfd write is carried out (%d)", res);

	if (files) {
		sqe = io_uring_get_sqe(&r);
		io_uring_prep_files_update(sqe, &fd, 1, 0);
		res = ring_one(&r, sqe, 4);
		sqe = io_uring_get_sqe(&r);
		io_uring_prep_write(sqe, 0, &one, sizeof(one), 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		res = res == 1 ? ring_one(&r, sqe, 5) : res;
		tap_ok(res == sizeof(one) && read(fd, &v, sizeof(v)) ==
		    sizeof(v) && v == 1, "the loop's registered file update "
		    "and its write through it are carried out (%d)", res);
		res = io_uring_register_files_update(&r, 0, &fd, 1);
		tap_ok(res == -EACCES, "the registered files cannot be "
		    "changed by io_uring_register() (%d)", res);
	} else {
		tap_diag("no sparse registered file table here");
		for (int i = 0; i < 2; i++)
			tap_ok(1, "# SKIP no registered files");
	}

	sqe = io_uring_get_sqe(&r);
	io_uring_prep_nop(sqe);
	res = ring_one(&r, sqe, 2);
	tap_ok(res == -EACCES, "an operation the loop does not use is "
	    "refused: EACCES (%d)", res);

	sqe = io_uring_get_sqe(&r);
	io_uring_prep_write(sqe, fd, &one, sizeof(one), 0);
	sqe->flags |= IOSQE_ASYNC;
	res = ring_one(&r, sqe, 3);
	tap_ok(res == -EACCES, "an SQE flag the loop does not set is "
	    "refused: EACCES (%d)", res);

	res = (int)syscall(SYS_io_uring_register, r.ring_fd,
	    IORING_REGISTER_PROBE, NULL, 0);
	tap_ok(res < 0 && errno == EACCES, "no io_uring_register() operation "
	    "is left once the ring is enabled");
	close(fd);
	io_uring_queue_exit(&r);
}
#endif

int
main(void)
{
	struct outcome o;

	run(allowed, &o);
	if (!tap_ok(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0,
	    "what msivd does at run time passes the filter"))
		describe("allowed", &o);
	run(do_uring_enable, &o);
	if (!tap_ok(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0,
	    "io_uring_register(ENABLE_RINGS) passes (the delivery thread "
	    "enables its ring)"))
		describe("enable", &o);

	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		run(forbidden[i].fn, &o);
		if (!tap_ok(killed_by_sigsys(&o) && logged(&o, forbidden[i].nr),
		    "%s: SIGSYS, logging system call %ld", forbidden[i].what,
		    forbidden[i].nr))
			describe(forbidden[i].what, &o);
	}

	run_after(journal_stderr, do_execve, &o);
	if (!tap_ok(killed_by_sigsys(&o) && strstr(o.err, "\n<3>seccomp: "
	    "system call ") != NULL && logged(&o, SYS_execve),
	    "stderr is the journal: the line has the error priority <3>"))
		describe("journal", &o);

	run_after(start_thread, release_thread, &o);
	if (!tap_ok(killed_by_sigsys(&o) && logged(&o, SYS_execve),
	    "a thread started before the filter is under it too: its execve "
	    "kills the process"))
		describe("thread", &o);

#ifdef HAVE_LIBURING
	ring_checks();
#else
	tap_diag("built without liburing: no ring to restrict");
#endif
	return tap_done();
}
