/*
 * The delivery loop, relay mode (msivd(8) DELIVERY LOOPS): trigger eventfd ->
 * the delivery thread -> target eventfd. This file holds what both loops
 * share and chooses one; deliver-uring.c (io_uring, preferred) and
 * deliver-epoll.c (the fallback) do the waiting. doc/delivery.md has the
 * design: the protocol between the delivery thread and the control thread
 * (the slot lock, writes in flight, what rules 4 and 6 get from it), and
 * who reads a trigger's counter, and when.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "deliver.h"
#include "log.h"
#include "target.h"

static const struct deliver_loop *loop;
static pthread_t deliver_thread;
static int deliver_running;
_Atomic int deliver_stopping;
_Atomic int deliver_parking;
static int parked;          /* park_lock */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;

/* deliver_sync(): the control thread asks for sync number n and sleeps
 * until the loop has declared every sync up to n done. */
static _Atomic uint64_t sync_asked;
static uint64_t sync_done;  /* sync_lock */
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cond = PTHREAD_COND_INITIALIZER;

/* deliver_lock() waiting for a slot's write in flight (io_uring). */
static pthread_mutex_t wr_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wr_cond = PTHREAD_COND_INITIALIZER;
static _Atomic unsigned int wr_waiters;

static _Atomic uint64_t stat_interrupts;
static _Atomic int64_t stat_delivered;
static _Atomic uint64_t stat_dropped;

const char *
deliver_loop_name(void)
{
	return loop != NULL ? loop->name : "none";
}

void
deliver_stat(uint64_t interrupts, int64_t delivered, uint64_t dropped)
{
	if (interrupts != 0)
		atomic_fetch_add_explicit(&stat_interrupts, interrupts,
		    memory_order_relaxed);
	if (delivered != 0)
		atomic_fetch_add_explicit(&stat_delivered, delivered,
		    memory_order_relaxed);
	if (dropped != 0)
		atomic_fetch_add_explicit(&stat_dropped, dropped,
		    memory_order_relaxed);
}

static void
deliver_write(int fd)
{
	/* Not written: the target's counter is saturated, so its reader has
	 * a wakeup waiting already; nothing is lost by not adding to it (or
	 * its client made it blocking: target.h). */
	if (target_write(fd))
		deliver_stat(0, 1, 0);
}

void
deliver_actions(struct slot *s, unsigned int act)
{
	if (act & VECTOR_ACT_DELIVER)
		deliver_write(s->target);
}

void
deliver_lock(struct slot *s)
{
	pthread_mutex_lock(&s->lock);
	if (atomic_load(&s->dl.inflight)) {
		/* The loop clears dl.inflight, then looks at wr_waiters; we
		 * count ourselves in, then look at dl.inflight (both seq_cst):
		 * one of us sees the other. */
		pthread_mutex_lock(&wr_lock);
		atomic_fetch_add(&wr_waiters, 1);
		/* The loop issues its writes in the enter that then waits:
		 * wake it, so it clears the marks (ur_writes_done). */
		loop->kick();
		while (atomic_load(&s->dl.inflight))
			pthread_cond_wait(&wr_cond, &wr_lock);
		atomic_fetch_sub(&wr_waiters, 1);
		pthread_mutex_unlock(&wr_lock);
	}
}

void
deliver_writes_done(void)
{
	if (atomic_load(&wr_waiters) != 0) {
		pthread_mutex_lock(&wr_lock);
		pthread_cond_broadcast(&wr_cond);
		pthread_mutex_unlock(&wr_lock);
	}
}

void
deliver_reset(struct slot *s)
{
	if (loop != NULL && loop->reset != NULL)
		loop->reset(s);
}

void
deliver_settle(struct slot *s)
{
	if (loop != NULL && loop->settle != NULL)
		loop->settle(s);
}

uint64_t
deliver_sync_asked(void)
{
	return atomic_load(&sync_asked);
}

void
deliver_sync_done(uint64_t seq)
{
	pthread_mutex_lock(&sync_lock);
	if (seq > sync_done) {
		sync_done = seq;
		pthread_cond_broadcast(&sync_cond);
	}
	pthread_mutex_unlock(&sync_lock);
}

void
deliver_sync(void)
{
	static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
	uint64_t seq;

	if (!deliver_running) {
		/* No loop thread: nothing was gathered; the loop forgets
		 * what it has not picked up yet (deliver_del before start). */
		if (loop != NULL && loop->idle_sync != NULL)
			loop->idle_sync();
		return;
	}
	/* One sync in flight at a time: the io_uring loop relies on it. */
	pthread_mutex_lock(&one_at_a_time);
	seq = atomic_fetch_add(&sync_asked, 1) + 1;
	loop->sync();
	pthread_mutex_lock(&sync_lock);
	while (sync_done < seq)
		pthread_cond_wait(&sync_cond, &sync_lock);
	pthread_mutex_unlock(&sync_lock);
	pthread_mutex_unlock(&one_at_a_time);
}

int
deliver_init(const char *want)
{
	const char *why = NULL;
	int r;

	if (want == NULL)
		want = "auto";
	/* Target writes outside the io_uring loop: the control thread's
	 * (replays) and the epoll loop's. */
	if (!target_writers_init(&why))
		log_warnx("target writes: %s: a client that clears O_NONBLOCK "
		    "on its target can stall msivd", why);
	why = NULL;
	if (strcmp(want, "epoll") != 0) {
		loop = &deliver_uring;
		if ((r = loop->init(&why)) == 0)
			return 0;
		if (loop->fini != NULL)
			loop->fini(); /* what init set up before it failed */
		loop = NULL;
		if (strcmp(want, "io_uring") == 0) {
			log_errx("delivery loop: io_uring asked for but "
			    "unavailable: %s", why);
			return -ENOTSUP;
		}
		log_info("delivery loop: io_uring unavailable (%s); using "
		    "epoll", why);
	}
	loop = &deliver_epoll;
	if ((r = loop->init(&why)) < 0) {
		log_errx("delivery loop: epoll: %s", why);
		loop->fini();
		loop = NULL;
	}
	return r;
}

int
deliver_start(void)
{
	int r = pthread_create(&deliver_thread, NULL, loop->main, NULL);

	if (r != 0)
		return -r;
	(void)pthread_setname_np(deliver_thread, "msivd-deliver");
	deliver_running = 1;
	log_info("delivery loop: %s", loop->name);
	return 0;
}

void
deliver_stop(void)
{
	if (loop == NULL)
		return;
	if (deliver_running) {
		atomic_store(&deliver_stopping, 1);
		loop->kick();
		pthread_join(deliver_thread, NULL);
		deliver_running = 0;
	}
	loop->fini();
	target_writers_fini();
}

int
deliver_add(struct slot *s)
{
	return loop->add(s);
}

void
deliver_del(struct slot *s)
{
	loop->del(s);
}

void
deliver_get_stats(struct deliver_stats *st)
{
	int64_t d = atomic_load_explicit(&stat_delivered, memory_order_relaxed);

	st->interrupts = atomic_load_explicit(&stat_interrupts,
	    memory_order_relaxed);
	st->delivered = d > 0 ? (uint64_t)d : 0;
	st->dropped = atomic_load_explicit(&stat_dropped, memory_order_relaxed);
}

/* --- handover --------------------------------------------------------- */

void
deliver_park_here(void)
{
	pthread_mutex_lock(&park_lock);
	parked = 1;
	pthread_cond_broadcast(&park_cond);
	while (atomic_load(&deliver_parking) && !atomic_load(&deliver_stopping))
		pthread_cond_wait(&park_cond, &park_lock);
	parked = 0;
	pthread_cond_broadcast(&park_cond);
	pthread_mutex_unlock(&park_lock);
}

void
deliver_park(void)
{
	if (!deliver_running)
		return;
	atomic_store(&deliver_parking, 1);
	loop->kick();
	pthread_mutex_lock(&park_lock);
	while (!parked)
		pthread_cond_wait(&park_cond, &park_lock);
	pthread_mutex_unlock(&park_lock);
}

void
deliver_unpark(void)
{
	pthread_mutex_lock(&park_lock);
	atomic_store(&deliver_parking, 0);
	pthread_cond_broadcast(&park_cond);
	while (parked)
		pthread_cond_wait(&park_cond, &park_lock);
	pthread_mutex_unlock(&park_lock);
}

uint64_t
deliver_handover_skip(struct slot *s)
{
	if (loop != NULL && loop->handover != NULL)
		return loop->handover(s);
	return s->dl.skip;
}

void
deliver_adopt(struct slot *s, uint64_t skip)
{
	s->dl.skip = skip;
	s->dl.hot = s->dl.hotc = 0;
	s->dl.folded = 0;
	/* Its first wakeups read the counter (the epoll loop reads every
	 * time): the signals to skip, if any, are taken off, and a signal
	 * raised while the new loop arms the poll, which may post two
	 * completions, is delivered once (deliver-uring.c, ur_read). */
	s->dl.verify = 1;
	s->dl.arming = 1;
	s->dl.vpos = 0;
}
