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
 * has a small ring of its own for them, set up and probed at start-up;
 * where there is no io_uring the write is a plain write() and the flag is
 * all there is (logged at start-up).
 */
#ifndef MSIVD_TARGET_H
#define MSIVD_TARGET_H

#include <stdbool.h>

/* Set up the writers, one for the control thread and one for the epoll
 * loop's thread (start-up, stage 2: before privileges are dropped, as
 * kernel.io_uring_disabled = 1 allows io_uring to root only). false: no
 * io_uring (or it does not complete such writes at once), target_write
 * uses write(); why says why not. */
bool target_writers_init(const char **why);
/* Release them (once no thread writes targets any more). */
void target_writers_fini(void);
/* The calling thread is the epoll loop's: it uses the second writer. */
void target_writer_loop_thread(void);
/* Signal fd once (a write of 1). Returns 1 if it was written, 0 if not
 * (a saturated counter, or a target the client made blocking: the reader
 * has a wakeup waiting, or made sure it gets none). Called by the control
 * thread and the epoll loop's thread only. */
int target_write(int fd);

#endif /* MSIVD_TARGET_H */
