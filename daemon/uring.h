/*
 * What an io_uring of msivd's may carry. A seccomp filter (sandbox.c)
 * sees the io_uring_enter() that submits an operation, never the
 * operation, so each ring is restricted to the operations and SQE flags
 * its user needs, before it is enabled: restrictions are registered on a
 * ring created disabled (IORING_SETUP_R_DISABLED) and hold from
 * IORING_REGISTER_ENABLE_RINGS on; no io_uring_register() operation is
 * left after that.
 */
#ifndef MSIVD_URING_H
#define MSIVD_URING_H

#include <stddef.h>
#include <stdint.h>

/* Restrict the disabled ring ring_fd to the SQE opcodes ops[0..n) (at
 * most URING_MAX_OPS) and the SQE flags sqe_flags. Returns 0 or -errno. */
#define URING_MAX_OPS 8
int uring_restrict(int ring_fd, const uint8_t *ops, size_t n,
    uint8_t sqe_flags);
/* Enable the restricted ring ring_fd. Returns 0 or -errno. */
int uring_enable(int ring_fd);

#endif /* MSIVD_URING_H */
