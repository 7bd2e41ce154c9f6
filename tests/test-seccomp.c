/*
 * The io_uring ring restriction (daemon/deliver-uring.c), the very
 * function msivd's delivery loop calls: the operations and SQE flags the
 * loop does not use, and every io_uring_register() operation, are refused
 * by the ring once it is enabled, whatever the process that holds it does.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "deliver.h"
#include "tap.h"

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

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

	if ((e = io_uring_queue_init_params(8, &r, &p)) < 0) {
		tap_diag("no io_uring here (%s): the ring checks are skipped",
		    strerror(-e));
		for (int i = 0; i < 5; i++)
			tap_ok(1, "# SKIP io_uring unavailable");
		return;
	}
	if ((fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		tap_bail("eventfd");
	tap_ok(deliver_uring_restrict(&r) == 0,
	    "the ring is restricted while disabled");
	if (syscall(SYS_io_uring_register, r.ring_fd,
	    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		tap_bail("cannot enable the ring");

	sqe = io_uring_get_sqe(&r);
	io_uring_prep_write(sqe, fd, &one, sizeof(one), 0);
	res = ring_one(&r, sqe, 1);
	tap_ok(res == sizeof(one) && read(fd, &v, sizeof(v)) == sizeof(v) &&
	    v == 1, "the loop's eventfd write is carried out (%d)", res);

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
#ifdef HAVE_LIBURING
	ring_checks();
#else
	tap_skip_all("built without liburing: no ring to restrict");
#endif
	return tap_done();
}
