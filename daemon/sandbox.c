/*
 * The system call filter (msivd(8), SANDBOX). Started by hand, msivd has
 * no filter from a service manager (the unit's SystemCallFilter=), so it
 * puts itself under one, as chrony's -F does: an allow-list, libseccomp,
 * installed once msivd serves (main.c stage 5: privileges dropped, the
 * store open, the delivery thread started, signal handlers set) and kept
 * until it exits. Filters are inherited by every thread (TSYNC) and
 * survive execve(), which is not on the list: msivd never executes
 * anything, itself included (a hand-over to a freshly executed msivd
 * would start the new image under this filter, which it cannot lift:
 * its whole start-up would have to fit in the list).
 *
 * The list is what the run-time paths need and no more:
 *  - requests: the sockets (accept4, recvmsg, recvmmsg, sendmsg), fd
 *    passing, eventfds, getrandom for tokens and vfunc ids;
 *  - the store: SQLite's file I/O, POSIX locks and the WAL's shared
 *    memory (mmap of the -shm file), fsync;
 *  - libevent (epoll, its eventfd notifier) and its signal handling;
 *  - hotplug: the libnl uevent socket (opened before the filter), the
 *    sysfs scan (getdents64, readlink), and what attach does;
 *  - DEVICE_ATTACH, hotplug attach and detach on the vfio backend:
 *    open() of /dev/vfio/vfio and /dev/vfio/N, with CAP_DAC_OVERRIDE
 *    raised and lowered around it (capget, capset), the VFIO ioctls (by
 *    request number, below), pread/pwrite of the config region, and
 *    /proc/irq/N/smp_affinity (IRQ_AFFINITY); the device's regions are
 *    never mapped;
 *  - the delivery loops: epoll or io_uring_enter; io_uring_register for
 *    IORING_REGISTER_ENABLE_RINGS only (the delivery thread enables its
 *    ring as it starts, which may come after the filter); io_uring_setup
 *    is refused, so no ring can be made after start-up, and what each
 *    ring may do is restricted on the ring itself (uring.h), as
 *    seccomp never sees the operations a ring carries out;
 *  - sd_notify (a datagram to NOTIFY_SOCKET), logging, the shutdown
 *    (thread join, closing everything).
 * Arguments are checked where that is cheap and means something: socket()
 * only for AF_UNIX, ioctl() only for the listed requests, mmap() and
 * mprotect() never executable (msivd loads no code once it serves),
 * tgkill() only to itself.
 *
 * A system call outside the list traps (SIGSYS): the handler writes its
 * number to the log (stderr in the foreground, a syslog socket of its
 * own otherwise: syslog() is not async-signal-safe) and the process dies
 * of the SIGSYS, with a core where they are enabled. Not EPERM: a call
 * refused in the middle of a path (a device half attached) would be a
 * failure nobody expects there, and an intruder could keep probing; a
 * death is loud, and the service manager restarts msivd from its store.
 * With SECCOMP_FILTER_FLAG_LOG the kernel records it too (audit, type
 * SECCOMP, or dmesg).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

int
sandbox_default(void)
{
#ifdef MSIV_SANITIZED
	return 0;
#else
	return 1;
#endif
}

const char *
sandbox_default_off_reason(void)
{
#ifdef MSIV_SANITIZED
	return "a sanitizer build: LeakSanitizer stops the process with "
	    "ptrace at exit, and the sanitizers' run-times make system calls "
	    "of their own";
#else
	return NULL;
#endif
}

/* Allowed with any arguments. */
static const int sandbox_calls[] = {
	/* memory (mmap, mprotect: below) */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	/* files: the store, sysfs, /proc/irq, /dev/vfio */
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(close), SCMP_SYS(read),
	SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
	SCMP_SYS(pwrite64), SCMP_SYS(lseek), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(statx),
	SCMP_SYS(fcntl), SCMP_SYS(ftruncate), SCMP_SYS(fallocate),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(access), SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
	SCMP_SYS(getdents64), SCMP_SYS(fchown), SCMP_SYS(fchmod), SCMP_SYS(dup),
	SCMP_SYS(dup3),
	/* sockets, fd passing (socket(): below) */
	SCMP_SYS(accept4), SCMP_SYS(recvmsg), SCMP_SYS(recvmmsg),
	SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(sendmmsg),
	SCMP_SYS(sendto), SCMP_SYS(connect), SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(shutdown),
	/* events: libevent, the delivery loops, triggers and targets */
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2), SCMP_SYS(poll),
	SCMP_SYS(ppoll), SCMP_SYS(eventfd2), SCMP_SYS(pipe2),
	SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime), SCMP_SYS(io_uring_enter),
	/* a device attached at run time keeps its state in systemd's fd
	 * store, a memfd (fdstore.c) */
	SCMP_SYS(memfd_create),
	/* time, identity, randomness */
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(getpid),
	SCMP_SYS(gettid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
	SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getrandom),
	SCMP_SYS(uname), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
	/* CAP_DAC_OVERRIDE raised around priv_open() */
	SCMP_SYS(capget), SCMP_SYS(capset),
	/* signals */
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
	SCMP_SYS(restart_syscall),
	/* threads: the delivery thread's start in glibc (rseq,
	 * set_robust_list: it may run after the filter is in), locks, the
	 * join at shutdown, exit */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/*
 * ioctl() requests: exactly the VFIO ones vfio.c makes (attach, arm,
 * detach; a new one there must be added here, or the guests of make
 * check-vm die of SIGSYS), and what libc and libevent may ask of any fd
 * (FIONREAD, FIONBIO; TCGETS: isatty).
 */
static const unsigned long sandbox_ioctls[] = {
	VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU,
	VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER,
	VFIO_GROUP_GET_DEVICE_FD, VFIO_DEVICE_GET_INFO,
	VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_GET_IRQ_INFO,
	VFIO_DEVICE_SET_IRQS,
	FIONREAD, FIONBIO, TCGETS,
};

/* Where the SIGSYS handler writes: stderr, or a syslog socket. */
static int sandbox_to_stderr;
/* What starts the line on stderr: the journal's error priority when
 * stderr is the journal (log.h), else the foreground log's level. */
static const char *sandbox_tag = "msivd error: ";
static int sandbox_logfd = -1;

/* Decimal, for the handler (no stdio there). */
static size_t
sandbox_utoa(char *buf, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && n < sizeof(tmp));
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static size_t
sandbox_cat(char *buf, size_t at, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (n > len - at)
		n = len - at;
	memcpy(buf + at, s, n);
	return at + n;
}

/*
 * Async-signal-safe: write(), send(), sigaction(), raise(). SIGSYS is
 * blocked while the handler runs, so the raise() takes effect as it
 * returns, with the default action: the process dies (and dumps core).
 */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *uc)
{
	static const char pre[] = "seccomp: system call ";
	static const char post[] = " is not in msivd's allow-list; exiting "
	    "(msivd(8), SANDBOX)";
	struct sigaction dfl;
	char msg[256], num[24];
	size_t n = 0, body, room = sizeof(msg) - 1; /* and a newline */
	int saved = errno;

	(void)uc;
	/* RFC 3164 header for the syslog socket: <LOG_DAEMON | LOG_ERR>,
	 * the level of msivd's other fatal errors. */
	n = sandbox_cat(msg, n, room, "<27>msivd[");
	num[sandbox_utoa(num, (unsigned long)getpid())] = '\0';
	n = sandbox_cat(msg, n, room, num);
	n = sandbox_cat(msg, n, room, "]: ");
	body = n;
	n = sandbox_cat(msg, n, room, pre);
	num[sandbox_utoa(num, (unsigned long)(unsigned int)si->si_syscall)] =
	    '\0';
	n = sandbox_cat(msg, n, room, num);
	n = sandbox_cat(msg, n, room, post);
	if (sandbox_to_stderr) {
		msg[n] = '\n';
		(void)!write(STDERR_FILENO, sandbox_tag, strlen(sandbox_tag));
		(void)!write(STDERR_FILENO, msg + body, n + 1 - body);
	}
	if (sandbox_logfd >= 0)
		(void)!send(sandbox_logfd, msg, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	(void)sigaction(sig, &dfl, NULL);
	(void)raise(sig);
	errno = saved;
}

/* The handler's own syslog socket: syslog() takes a lock. */
static void
sandbox_open_syslog(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	memcpy(sa.sun_path, "/dev/log", sizeof("/dev/log"));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return;
	}
	sandbox_logfd = fd;
}

/* libseccomp's rule calls return -errno; -EDOM: no such call on this
 * architecture (open(), for one, is not on aarch64). */
static int
sandbox_rule(scmp_filter_ctx ctx, int nr, unsigned int n,
    const struct scmp_arg_cmp *cmp)
{
	int r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp);

	return r == -EDOM ? 0 : r;
}

static int
sandbox_build(scmp_filter_ctx ctx)
{
	const struct scmp_arg_cmp noexec =
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	const struct scmp_arg_cmp unix_only = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
	const struct scmp_arg_cmp self =
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
	int r;

	for (size_t i = 0; i < sizeof(sandbox_calls) /
	    sizeof(sandbox_calls[0]); i++)
		if ((r = sandbox_rule(ctx, sandbox_calls[i], 0, NULL)) < 0)
			return r;
	for (size_t i = 0; i < sizeof(sandbox_ioctls) /
	    sizeof(sandbox_ioctls[0]); i++) {
		/* The kernel takes the request as an unsigned int. */
		const struct scmp_arg_cmp req = SCMP_A1(SCMP_CMP_MASKED_EQ,
		    0xffffffffu, sandbox_ioctls[i] & 0xffffffffu);

		if ((r = sandbox_rule(ctx, SCMP_SYS(ioctl), 1, &req)) < 0)
			return r;
	}
	if ((r = sandbox_rule(ctx, SCMP_SYS(mmap), 1, &noexec)) < 0 ||
	    (r = sandbox_rule(ctx, SCMP_SYS(mprotect), 1, &noexec)) < 0 ||
	    (r = sandbox_rule(ctx, SCMP_SYS(socket), 1, &unix_only)) < 0 ||
	    (r = sandbox_rule(ctx, SCMP_SYS(tgkill), 1, &self)) < 0)
		return r;
#ifdef HAVE_LIBURING
	{
		const struct scmp_arg_cmp enable = SCMP_A1(SCMP_CMP_EQ,
		    IORING_REGISTER_ENABLE_RINGS);

		if ((r = sandbox_rule(ctx, SCMP_SYS(io_uring_register), 1,
		    &enable)) < 0)
			return r;
	}
#endif
	return 0;
}

int
sandbox_enter(int to_stderr)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int r;

	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL) {
		log_errx("seccomp: cannot make a filter");
		return -ENOMEM;
	}
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1)) < 0 ||
	    (r = sandbox_build(ctx)) < 0) {
		errno = -r;
		log_err("seccomp: cannot make the filter");
		goto out;
	}
	sandbox_to_stderr = to_stderr;
	if (log_to_journal())
		sandbox_tag = "<3>";
	if (!to_stderr)
		sandbox_open_syslog();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		r = -errno;
		log_err("seccomp: SIGSYS handler");
		goto out;
	}
	if ((r = seccomp_load(ctx)) < 0) {
		errno = -r;
		log_err("seccomp: cannot load the filter");
		goto out;
	}
	log_info("seccomp: system call filter on (msivd(8), SANDBOX)");
out:
	seccomp_release(ctx);
	return r < 0 ? r : 0;
}
