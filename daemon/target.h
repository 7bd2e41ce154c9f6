/*
 * Writing one signal to a vector's target eventfd without ever waiting,
 * whatever the flags of the target's file description (issue 15;
 * msiv-protocol(7), "Targets").
 *
 * msivd sets O_NONBLOCK on every target it takes, but the client shares
 * that file description and can clear the flag again; a write() to a
 * blocking eventfd whose counter the client saturated then waits for the
 * client to read it, with the slot lock held: the epoll loop stops for
 * every tenant, or the control thread does (a replay). Linux has no
 * per-call non-blocking write() for an eventfd (pwritev2 RWF_NOWAIT:
 * EOPNOTSUPP) and no way to reopen one (ENXIO), but an io_uring write with
 * RWF_NOWAIT completes at once with EAGAIN. So each thread that writes
 * targets outside the io_uring loop (the control thread; the epoll loop)
 * has a small ring of its own for them, probed at start-up; where there
 * is no io_uring the write is a plain write() and the flag is all there
 * is (logged at start-up).
 */
#ifndef MSIVD_TARGET_H
#define MSIVD_TARGET_H

#include <stdbool.h>

/* Set up the calling thread's writer; false: no io_uring (or it does not
 * complete such writes at once), target_write uses write(). why says why
 * not. Called by each thread before it writes a target. */
bool target_writer_init(const char **why);
/* Release the calling thread's writer. */
void target_writer_fini(void);
/* Signal fd once (a write of 1). Returns 1 if it was written, 0 if not
 * (a saturated counter, or a target the client made blocking: the reader
 * has a wakeup waiting, or made sure it gets none). */
int target_write(int fd);

#endif /* MSIVD_TARGET_H */
