/*
 * Target writes that never wait (see target.h): one io_uring per writing
 * thread (two: the control thread, the epoll loop's), a RWF_NOWAIT write
 * and its completion per signal.
 *
 * Why it never waits: an eventfd has no write_iter, and io_uring runs a
 * RWF_NOWAIT write of such a file inline, failing it with EAGAIN unless
 * the file is O_NONBLOCK (and an O_NONBLOCK eventfd fails a write to a
 * saturated counter with EAGAIN itself); a RWF_NOWAIT request is never
 * handed to an io-wq worker to wait. The start-up probe checks all four
 * cases (blocking or not, saturated or not) on a throw-away eventfd: each
 * must complete inside io_uring_submit(). A client that clears O_NONBLOCK
 * on its target thus only stops its own deliveries.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "target.h"
#include "uring.h"

static const uint64_t one = 1;
#ifdef HAVE_LIBURING
static const uint8_t write_op = IORING_OP_WRITE;
#endif

#ifdef HAVE_LIBURING

struct tw {
	struct io_uring ring;
	bool ok;
};

/* [0] the control thread's, [1] the epoll loop thread's. Set up before
 * the loop thread starts, released after it has ended. */
static struct tw tw_all[2];
static _Thread_local struct tw *tw_self = &tw_all[0];

/* One RWF_NOWAIT write of 1 to fd. Returns its result; *inline_done:
 * it completed inside the submit (if not, it is waited for: the probe
 * said that does not happen). */
static int
tw_write(struct tw *w, int fd, bool *inline_done)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	struct io_uring_cqe *cqe;
	int r;

	*inline_done = false;
	if (sqe == NULL)
		return -EBUSY; /* one at a time: cannot happen */
	io_uring_prep_write(sqe, fd, &one, sizeof(one), 0);
	sqe->rw_flags = RWF_NOWAIT;
	while ((r = io_uring_submit(&w->ring)) == -EINTR)
		;
	if (r != 1)
		return r < 0 ? r : -EIO;
	*inline_done = io_uring_peek_cqe(&w->ring, &cqe) == 0;
	if (!*inline_done && (r = io_uring_wait_cqe(&w->ring, &cqe)) < 0)
		return r;
	r = cqe->res;
	io_uring_cqe_seen(&w->ring, cqe);
	return r;
}

/* Each case completes inside the submit, with the result it must have. */
static bool
tw_probe(struct tw *w, const char **why)
{
	static const struct {
		int flags;
		bool full;
	} cases[] = {
		{ EFD_NONBLOCK, false }, { EFD_NONBLOCK, true },
		{ 0, false }, { 0, true },
	};
	uint64_t full = 0xfffffffffffffffeull, v;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	struct io_uring_cqe *cqe;
	int nop = 0;

	/* The restriction holds: anything but a write is refused. */
	if (sqe != NULL) {
		io_uring_prep_nop(sqe);
		if (io_uring_submit(&w->ring) == 1 &&
		    io_uring_wait_cqe(&w->ring, &cqe) == 0) {
			nop = cqe->res;
			io_uring_cqe_seen(&w->ring, cqe);
		}
	}
	if (nop != -EACCES) {
		*why = "a ring restricted to writes accepts other operations";
		return false;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = eventfd(0, EFD_CLOEXEC | cases[i].flags), r;
		bool done, good;

		if (fd < 0) {
			*why = "eventfd failed";
			return false;
		}
		if (cases[i].full &&
		    write(fd, &full, sizeof(full)) != sizeof(full)) {
			close(fd);
			*why = "eventfd write failed";
			return false;
		}
		r = tw_write(w, fd, &done);
		if (cases[i].full)
			good = r == -EAGAIN;
		else if (cases[i].flags != 0)
			good = r == sizeof(one) && read(fd, &v, sizeof(v)) ==
			    sizeof(v) && v == 1;
		else
			good = r == sizeof(one) || r == -EAGAIN;
		close(fd);
		if (!done || !good) {
			*why = !done ? "a RWF_NOWAIT eventfd write is not done "
			    "inline" : "a RWF_NOWAIT eventfd write does not "
			    "fail with EAGAIN where it would wait";
			return false;
		}
	}
	return true;
}

bool
target_writers_init(const char **why)
{
	for (size_t i = 0; i < 2; i++) {
		struct tw *w = &tw_all[i];
		int r;

		if ((r = io_uring_queue_init(2, &w->ring,
		    IORING_SETUP_R_DISABLED)) < 0) {
			*why = r == -ENOSYS ? "no io_uring in this kernel" :
			    r == -EPERM ? "io_uring not permitted (sysctl "
			    "kernel.io_uring_disabled or a seccomp filter)" :
			    "io_uring_setup failed";
			target_writers_fini();
			return false;
		}
		w->ok = true;
		/* A ring that can write and do nothing else (uring.h). */
		if (uring_restrict(w->ring.ring_fd, &write_op, 1, 0) < 0 ||
		    uring_enable(w->ring.ring_fd) < 0) {
			*why = "cannot restrict a ring to writes";
			target_writers_fini();
			return false;
		}
		if (!tw_probe(w, why)) {
			target_writers_fini();
			return false;
		}
	}
	return true;
}

void
target_writers_fini(void)
{
	for (size_t i = 0; i < 2; i++) {
		if (tw_all[i].ok)
			io_uring_queue_exit(&tw_all[i].ring);
		tw_all[i].ok = false;
	}
}

void
target_writer_loop_thread(void)
{
	tw_self = &tw_all[1];
}

int
target_write(int fd)
{
	bool done;

	if (fd < 0)
		return 0;
	if (tw_self->ok)
		return tw_write(tw_self, fd, &done) == sizeof(one);
	return write(fd, &one, sizeof(one)) == sizeof(one);
}

#else /* !HAVE_LIBURING */

bool
target_writers_init(const char **why)
{
	*why = "msivd was built without liburing";
	return false;
}

void
target_writers_fini(void)
{
}

void
target_writer_loop_thread(void)
{
}

int
target_write(int fd)
{
	return fd >= 0 && write(fd, &one, sizeof(one)) == sizeof(one);
}

#endif /* HAVE_LIBURING */
