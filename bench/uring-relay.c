/*
 * The minimal io_uring relay: the reference msivd's io_uring delivery
 * loop (daemon/deliver-uring.c) is held against. One thread relays
 * trigger eventfds to target eventfds with every kernel feature that loop
 * uses, so that no ratio against it can be won by handicapping the
 * reference:
 *  - a multishot poll on every trigger, never read (each signal of an
 *    eventfd posts a completion);
 *  - the target writes of a batch queued as RWF_NOWAIT writes that post
 *    nothing on success (IOSQE_CQE_SKIP_SUCCESS), issued together by the
 *    io_uring_enter() that then waits for the next completions;
 *  - a single-issuer ring with deferred task work where the kernel has
 *    them (completions are produced in the relay's own enter, batched);
 *  - triggers and targets as registered files where the kernel allows
 *    (msivd's loop: its targets; a trigger's file is taken once, when its
 *    poll is armed).
 * What it leaves out is everything msivd adds: the slot's lock, the
 * vector state machine, counters, the control thread's requests.
 *
 * bench_uring_relay_probe() (in the bench process) finds what the kernel
 * gives and says so; bench_uring_relay_main() (in a child process) runs
 * the relay with exactly those features.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "bench.h"

#define URR_SQ 1024u   /* submission entries (msivd's UR_SQ) */
#define URR_CQ 32768u  /* completion entries (msivd's UR_CQ) */

#ifdef HAVE_LIBURING
/* A submission entry, submitting what is queued to make room (the
 * relay's, and the hotpath section's io_uring producer). */
struct io_uring_sqe *
bench_uring_sqe(struct io_uring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(r);

	if (sqe == NULL) {
		if (io_uring_submit(r) < 0 ||
		    (sqe = io_uring_get_sqe(r)) == NULL)
			_exit(1);
	}
	return sqe;
}

static int
urr_init(struct io_uring *r, unsigned int flags)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags | IORING_SETUP_CQSIZE;
	p.cq_entries = URR_CQ;
	return io_uring_queue_init_params(URR_SQ, r, &p);
}

int
bench_uring_relay_probe(struct bench_uring_relay *u)
{
	static const unsigned int tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		0,
	};
	struct io_uring r;
	int fds[2], e = -ENOSYS;

	memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
		if ((e = urr_init(&r, tries[i])) == 0) {
			u->flags = tries[i];
			break;
		}
	if (e < 0) {
		snprintf(u->features, sizeof(u->features), "no io_uring "
		    "relay: io_uring_setup: %s", strerror(-e));
		return e;
	}
	fds[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fds[0] >= 0 && fds[1] >= 0 &&
	    io_uring_register_files(&r, fds, 2) == 0)
		u->fixed = 1;
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	io_uring_queue_exit(&r);
	u->ok = 1;
	snprintf(u->features, sizeof(u->features), "multishot poll, "
	    "batched RWF_NOWAIT writes with IOSQE_CQE_SKIP_SUCCESS, %s, %s",
	    u->flags ? "SINGLE_ISSUER+DEFER_TASKRUN" :
	    "no SINGLE_ISSUER/DEFER_TASKRUN (kernel refused)",
	    u->fixed ? "registered files" : "no registered files (kernel "
	    "refused)");
	return 0;
}

void
bench_uring_relay_main(const struct bench_uring_relay *u, const int *trig,
    const int *tgt, unsigned int n, _Atomic uint64_t *relayed)
{
	struct io_uring r;
	uint64_t done = 0;
	int *files = NULL;
	static const uint64_t one = 1;

	if (urr_init(&r, u->flags) < 0)
		_exit(1);
	if (u->fixed) {
		/* Triggers at [0, n), targets at [n, 2n). */
		if ((files = calloc(2 * (size_t)n, sizeof(*files))) == NULL)
			_exit(1);
		memcpy(files, trig, n * sizeof(*files));
		memcpy(files + n, tgt, n * sizeof(*files));
		if (io_uring_register_files(&r, files, 2 * n) < 0)
			_exit(1);
	}
	for (unsigned int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = bench_uring_sqe(&r);

		io_uring_prep_poll_multishot(sqe, u->fixed ? (int)i : trig[i],
		    POLLIN);
		if (u->fixed)
			sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, i);
	}
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;
		int e = io_uring_submit_and_wait(&r, 1);

		if (e < 0 && e != -EINTR && e != -EAGAIN && e != -EBUSY)
			_exit(1);
		io_uring_for_each_cqe(&r, head, cqe) {
			uint64_t ud = cqe->user_data;
			struct io_uring_sqe *sqe;

			seen++;
			if (ud >= n) { /* a failed write: not relayed */
				done--;
				continue;
			}
			if (cqe->res < 0)
				_exit(1);
			sqe = bench_uring_sqe(&r);
			io_uring_prep_write(sqe, u->fixed ? (int)(n + ud) :
			    tgt[ud], &one, sizeof(one), 0);
			sqe->rw_flags = RWF_NOWAIT;
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS |
			    (u->fixed ? IOSQE_FIXED_FILE : 0);
			io_uring_sqe_set_data64(sqe, n + ud);
			done++;
			if (!(cqe->flags & IORING_CQE_F_MORE)) {
				/* The poll ended (completion queue full). */
				sqe = bench_uring_sqe(&r);
				io_uring_prep_poll_multishot(sqe, u->fixed ?
				    (int)ud : trig[ud], POLLIN);
				if (u->fixed)
					sqe->flags |= IOSQE_FIXED_FILE;
				io_uring_sqe_set_data64(sqe, ud);
			}
		}
		io_uring_cq_advance(&r, seen);
		/* Written before the writes are issued (the next enter):
		 * the bench reads it only once the relay is quiet. */
		atomic_store_explicit(relayed, done, memory_order_relaxed);
	}
}
#else
int
bench_uring_relay_probe(struct bench_uring_relay *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->features, sizeof(u->features), "no io_uring relay: "
	    "msiv-bench was built without liburing");
	return -ENOSYS;
}

void
bench_uring_relay_main(const struct bench_uring_relay *u, const int *trig,
    const int *tgt, unsigned int n, _Atomic uint64_t *relayed)
{
	(void)u;
	(void)trig;
	(void)tgt;
	(void)n;
	(void)relayed;
	_exit(1);
}
#endif
