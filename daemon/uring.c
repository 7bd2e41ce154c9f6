/*
 * io_uring restrictions (see uring.h). liburing 2.3 declares
 * io_uring_register_restrictions() but lacks it, hence the system calls.
 */
#include "config.h"

#ifdef HAVE_LIBURING
#include <errno.h>
#include <liburing.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uring.h"

int
uring_restrict(int ring_fd, const uint8_t *ops, size_t n, uint8_t sqe_flags)
{
	struct io_uring_restriction res[URING_MAX_OPS + 1] = { 0 };

	if (n > URING_MAX_OPS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n].sqe_flags = sqe_flags;
	if (syscall(__NR_io_uring_register, ring_fd,
	    IORING_REGISTER_RESTRICTIONS, res, (unsigned int)n + 1) < 0)
		return -errno;
	return 0;
}

int
uring_enable(int ring_fd)
{
	if (syscall(__NR_io_uring_register, ring_fd,
	    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}
#endif /* HAVE_LIBURING */
