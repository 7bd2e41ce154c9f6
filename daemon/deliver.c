/*
 * The delivery loop, relay mode (design.md section 3): trigger eventfd ->
 * this thread -> target eventfd.
 *
 * Synchronisation protocol between this thread and the control thread
 * ---------------------------------------------------------------------
 * The state of a virtual vector (struct vector: mask bits, pending bit,
 * message, counters) and its target fd live in the slot that backs it,
 * under the slot's mutex (struct slot.lock). Nothing else is shared.
 *
 *  - Delivery: on a trigger wakeup this thread reads (and so resets) the
 *    trigger's counter, takes the slot lock, runs vector_fire(), and if it
 *    says DELIVER writes the target *while still holding the lock*.
 *  - Control: every change to a vector (mask, unmask, retarget, free,
 *    table write, enable, function mask) happens under the same lock, and
 *    any replay it causes is written under it too (deliver_actions). The
 *    client is acknowledged only after the lock is released.
 *
 * Consequences:
 *  - Rule 4 (synchronous mask): a delivery either completed its write
 *    before MASK took the lock, and so before the acknowledgement, or it
 *    takes the lock after MASK and finds the vector masked: it sets the
 *    pending bit instead. Nothing reaches the target after the ack.
 *  - Rule 6 (atomic retarget): the target fd is swapped under the lock,
 *    so each interrupt goes to exactly one of old and new target; the old
 *    fd is closed only after the lock is released. An interrupt whose
 *    counter was read before RETARGET took the lock is judged by the state
 *    after it: it goes to the new target (or pending). None is lost.
 *  - An interrupt read while its vector changes owner is judged by the
 *    new owner's state; a freed or unowned slot is disabled, so it drops.
 *
 * The lock is per slot and held for a few hundred instructions plus one
 * non-blocking eventfd write (targets are set O_NONBLOCK when attached, so
 * a client cannot stall the loop with a saturated eventfd). The control
 * thread touches a slot's lock only when a client operates on that very
 * vector, so the hot path is not contended by control-plane work, and the
 * loop never allocates, logs or touches SQLite.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"

#define DELIVER_BATCH 256

static int deliver_ep = -1;
static int deliver_stopfd = -1;
static int deliver_syncfd = -1;
static pthread_t deliver_thread;
static int deliver_running;

/* deliver_sync(): the control thread signals deliver_syncfd and sleeps
 * until the loop has seen it (sync_seen moves). The wakeup that carries
 * it was gathered after the caller's deliver_del()s, and the batch before
 * it is over, so the loop holds no pointer to an unwatched slot. No cost
 * on the hot path. */
static uint64_t sync_seen;  /* sync_lock */
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cond = PTHREAD_COND_INITIALIZER;

static _Atomic uint64_t stat_interrupts;
static _Atomic uint64_t stat_delivered;
static _Atomic uint64_t stat_dropped;

const char *
deliver_loop_name(void)
{
	return "epoll";
}

static void
deliver_write(int fd)
{
	uint64_t one = 1;

	/* EAGAIN: the target's counter is saturated, so its reader has a
	 * wakeup waiting already; nothing is lost by not adding to it. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) == sizeof(one))
		atomic_fetch_add_explicit(&stat_delivered, 1,
		    memory_order_relaxed);
}

void
deliver_actions(struct slot *s, unsigned int act)
{
	if (act & VECTOR_ACT_DELIVER)
		deliver_write(s->target);
}

static void
deliver_one(struct slot *s)
{
	uint64_t count;
	uint64_t dropped;
	unsigned int act;

	/* The trigger was stored before the slot was watched (release in
	 * deliver_add's caller, acquire here). */
	if (read(atomic_load_explicit(&s->trigger, memory_order_acquire),
	    &count, sizeof(count)) != sizeof(count))
		return; /* EAGAIN: another wakeup already took it */
	atomic_fetch_add_explicit(&stat_interrupts, 1, memory_order_relaxed);
	pthread_mutex_lock(&s->lock);
	dropped = s->vec.dropped;
	act = vector_fire(&s->vec, count);
	deliver_actions(s, act);
	dropped = s->vec.dropped - dropped;
	pthread_mutex_unlock(&s->lock);
	if (dropped != 0)
		atomic_fetch_add_explicit(&stat_dropped, dropped,
		    memory_order_relaxed);
}

static void *
deliver_main(void *arg)
{
	struct epoll_event ev[DELIVER_BATCH];

	(void)arg;
	for (;;) {
		int n = epoll_wait(deliver_ep, ev, DELIVER_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("delivery loop: epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			uint64_t c;

			if (ev[i].data.ptr == NULL)
				return NULL; /* deliver_stop */
			if (ev[i].data.ptr == &deliver_syncfd) {
				(void)!read(deliver_syncfd, &c, sizeof(c));
				pthread_mutex_lock(&sync_lock);
				sync_seen++;
				pthread_cond_broadcast(&sync_cond);
				pthread_mutex_unlock(&sync_lock);
				continue;
			}
			deliver_one(ev[i].data.ptr);
		}
	}
}

void
deliver_sync(void)
{
	uint64_t one = 1, start;

	if (!deliver_running)
		return;
	pthread_mutex_lock(&sync_lock);
	start = sync_seen;
	if (write(deliver_syncfd, &one, sizeof(one)) != sizeof(one))
		fatal("delivery loop: cannot signal sync");
	while (sync_seen == start)
		pthread_cond_wait(&sync_cond, &sync_lock);
	pthread_mutex_unlock(&sync_lock);
}

int
deliver_init(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	deliver_ep = epoll_create1(EPOLL_CLOEXEC);
	if (deliver_ep < 0)
		return -errno;
	deliver_stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (deliver_stopfd < 0)
		return -errno;
	if (epoll_ctl(deliver_ep, EPOLL_CTL_ADD, deliver_stopfd, &ev) < 0)
		return -errno;
	deliver_syncfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ev.data.ptr = &deliver_syncfd;
	if (deliver_syncfd < 0 ||
	    epoll_ctl(deliver_ep, EPOLL_CTL_ADD, deliver_syncfd, &ev) < 0)
		return -errno;
	return 0;
}

int
deliver_start(void)
{
	int r = pthread_create(&deliver_thread, NULL, deliver_main, NULL);

	if (r != 0)
		return -r;
	deliver_running = 1;
	return 0;
}

void
deliver_stop(void)
{
	uint64_t one = 1;

	if (deliver_running) {
		if (write(deliver_stopfd, &one, sizeof(one)) != sizeof(one))
			fatal("delivery loop: cannot signal stop");
		pthread_join(deliver_thread, NULL);
		deliver_running = 0;
	}
	if (deliver_stopfd >= 0)
		close(deliver_stopfd);
	if (deliver_syncfd >= 0)
		close(deliver_syncfd);
	if (deliver_ep >= 0)
		close(deliver_ep);
	deliver_stopfd = deliver_syncfd = deliver_ep = -1;
}

int
deliver_add(struct slot *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

	if (epoll_ctl(deliver_ep, EPOLL_CTL_ADD, atomic_load(&s->trigger),
	    &ev) < 0)
		return -errno;
	return 0;
}

void
deliver_del(struct slot *s)
{
	int fd = atomic_load(&s->trigger);

	if (fd >= 0)
		(void)epoll_ctl(deliver_ep, EPOLL_CTL_DEL, fd, NULL);
}

void
deliver_get_stats(struct deliver_stats *st)
{
	st->interrupts = atomic_load_explicit(&stat_interrupts,
	    memory_order_relaxed);
	st->delivered = atomic_load_explicit(&stat_delivered,
	    memory_order_relaxed);
	st->dropped = atomic_load_explicit(&stat_dropped, memory_order_relaxed);
}
