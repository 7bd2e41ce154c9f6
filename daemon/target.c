/*
 * Target writes that never wait (see target.h): one io_uring per writing
 * thread, a RWF_NOWAIT write and its completion per signal.
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

static const uint64_t one = 1;

#ifdef HAVE_LIBURING

static _Thread_local struct io_uring tw_ring;
static _Thread_local bool tw_ok;

/* One RWF_NOWAIT write of 1 to fd on the ring. Returns its result, or
 * -EINPROGRESS if it did not complete inside the submit (then waits for
 * it: the probe said it does not happen). */
static int
tw_write(int fd, bool *inline_done)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&tw_ring);
	struct io_uring_cqe *cqe;
	int r;

	if (sqe == NULL)
		return -EBUSY; /* one at a time: cannot happen */
	io_uring_prep_write(sqe, fd, &one, sizeof(one), 0);
	sqe->rw_flags = RWF_NOWAIT;
	while ((r = io_uring_submit(&tw_ring)) == -EINTR)
		;
	if (r != 1)
		return r < 0 ? r : -EIO;
	*inline_done = io_uring_peek_cqe(&tw_ring, &cqe) == 0;
	if (!*inline_done && (r = io_uring_wait_cqe(&tw_ring, &cqe)) < 0)
		return r;
	r = cqe->res;
	io_uring_cqe_seen(&tw_ring, cqe);
	return r;
}

/* Each case completes inside the submit, with the result it must have. */
static bool
tw_probe(const char **why)
{
	static const struct {
		int flags;
		bool full;
	} cases[] = {
		{ EFD_NONBLOCK, false }, { EFD_NONBLOCK, true },
		{ 0, false }, { 0, true },
	};
	uint64_t full = 0xfffffffffffffffeull, v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = eventfd(0, EFD_CLOEXEC | cases[i].flags), r;
		bool done = false, good;

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
		r = tw_write(fd, &done);
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
target_writer_init(const char **why)
{
	int r;

	if (tw_ok)
		return true;
	if ((r = io_uring_queue_init(2, &tw_ring, 0)) < 0) {
		*why = r == -ENOSYS ? "no io_uring in this kernel" :
		    r == -EPERM ? "io_uring not permitted" :
		    "io_uring_setup failed";
		return false;
	}
	if (!tw_probe(why)) {
		io_uring_queue_exit(&tw_ring);
		return false;
	}
	tw_ok = true;
	return true;
}

void
target_writer_fini(void)
{
	if (tw_ok)
		io_uring_queue_exit(&tw_ring);
	tw_ok = false;
}

int
target_write(int fd)
{
	bool done;

	if (fd < 0)
		return 0;
	if (tw_ok)
		return tw_write(fd, &done) == sizeof(one);
	return write(fd, &one, sizeof(one)) == sizeof(one);
}

#else /* !HAVE_LIBURING */

bool
target_writer_init(const char **why)
{
	*why = "msivd was built without liburing";
	return false;
}

void
target_writer_fini(void)
{
}

int
target_write(int fd)
{
	return fd >= 0 && write(fd, &one, sizeof(one)) == sizeof(one);
}

#endif /* HAVE_LIBURING */
