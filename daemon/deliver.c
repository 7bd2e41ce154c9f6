/*
 * The delivery loop, relay mode (msivd(8) DELIVERY LOOPS): trigger eventfd ->
 * a delivery thread -> target eventfd. This file holds what both loops
 * share and chooses one; deliver-uring.c (io_uring, preferred) and
 * deliver-epoll.c (the fallback) do the waiting. The io_uring loop runs as
 * shards, a thread each; this file starts them, syncs and parks them all,
 * and keeps their figures. doc/delivery.md has the design: the protocol
 * between a delivery thread and the control thread (the slot lock, writes
 * in flight, what rules 4, 6 and 7 get from it), who reads a trigger's
 * counter, and when, and the shards.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver.h"
#include "log.h"
#include "target.h"

/* What deliver.c keeps of each shard; the loop keeps its own (the
 * io_uring loop: struct ur_shard in deliver-uring.c). Line-aligned: each
 * shard's thread writes its counters on every batch, and they are not to
 * share a cache line with the next shard's. */
struct dl_shard {
	_Alignas(64) pthread_t thread;
	int running;
	_Atomic uint64_t interrupts;
	_Atomic int64_t delivered;
	_Atomic uint64_t dropped;
	_Atomic int32_t slots;
	uint64_t sync_done;  /* sync_lock */
};

static const struct deliver_loop *loop;
static struct dl_shard *shards;
static unsigned int nshards;
static unsigned int nrunning;
_Atomic int deliver_stopping;
_Atomic int deliver_parking;
static unsigned int parked; /* park_lock: shards parked */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;

/* The CPUs msivd was allowed at start: shard k goes with the k-th. */
static cpu_set_t dl_cpus;
static unsigned int dl_ncpus;

/* deliver_sync(): the control thread asks for sync number n and sleeps
 * until every shard has declared every sync up to n done. */
static _Atomic uint64_t sync_asked;
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cond = PTHREAD_COND_INITIALIZER;

/* deliver_lock() waiting for a slot's write in flight (io_uring). */
static pthread_mutex_t wr_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wr_cond = PTHREAD_COND_INITIALIZER;
static _Atomic unsigned int wr_waiters;

/* Not any shard's: the control thread's replays, and what an earlier
 * msivd handed over. */
static _Atomic uint64_t base_interrupts;
static _Atomic int64_t base_delivered;
static _Atomic uint64_t base_dropped;

const char *
deliver_loop_name(void)
{
	return loop != NULL ? loop->name : "none";
}

unsigned int
deliver_shard_count(void)
{
	return nshards;
}

int
deliver_shard_of_cpu(unsigned int cpu)
{
	unsigned int rank = 0;

	if (dl_ncpus == 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &dl_cpus))
		return -1;
	for (unsigned int i = 0; i < cpu; i++)
		rank += CPU_ISSET(i, &dl_cpus) ? 1 : 0;
	return (int)(rank % nshards);
}

static void
stat_add(_Atomic uint64_t *i, _Atomic int64_t *d, _Atomic uint64_t *dr,
    uint64_t interrupts, int64_t delivered, uint64_t dropped)
{
	if (interrupts != 0)
		atomic_fetch_add_explicit(i, interrupts, memory_order_relaxed);
	if (delivered != 0)
		atomic_fetch_add_explicit(d, delivered, memory_order_relaxed);
	if (dropped != 0)
		atomic_fetch_add_explicit(dr, dropped, memory_order_relaxed);
}

/* A counter only one thread writes: no locked read-modify-write (the
 * hot path's), readers see its old or its new value. */
#define STAT_BUMP(c, n) atomic_store_explicit((c), \
	atomic_load_explicit((c), memory_order_relaxed) + (n), \
	memory_order_relaxed)

void
deliver_stat(unsigned int k, uint64_t interrupts, int64_t delivered,
    uint64_t dropped)
{
	struct dl_shard *sh = &shards[k];

	/* Shard k's counters: its delivery thread is their one writer. */
	if (interrupts != 0)
		STAT_BUMP(&sh->interrupts, interrupts);
	if (delivered != 0)
		STAT_BUMP(&sh->delivered, delivered);
	if (dropped != 0)
		STAT_BUMP(&sh->dropped, dropped);
}

void
deliver_stat_carry(uint64_t interrupts, uint64_t delivered, uint64_t dropped)
{
	stat_add(&base_interrupts, &base_delivered, &base_dropped, interrupts,
	    (int64_t)delivered, dropped);
}

void
deliver_slots(unsigned int k, int n)
{
	atomic_fetch_add_explicit(&shards[k].slots, n, memory_order_relaxed);
}

static void
deliver_write(int fd)
{
	/* Not written: the target's counter is saturated, so its reader has
	 * a wakeup waiting already; nothing is lost by not adding to it (or
	 * its client made it blocking: target.h). The control thread's (a
	 * replay): no shard's. */
	if (target_write(fd))
		deliver_stat_carry(0, 1, 0);
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
	unsigned int on;

	pthread_mutex_lock(&s->lock);
	if (atomic_load(&s->dl.inflight)) {
		/* The loop clears dl.inflight, then looks at wr_waiters; we
		 * count ourselves in, then look at dl.inflight (both seq_cst):
		 * one of us sees the other. */
		pthread_mutex_lock(&wr_lock);
		atomic_fetch_add(&wr_waiters, 1);
		/* The loop issues its writes in the enter that then waits:
		 * wake the slot's shard, so it clears the marks
		 * (ur_writes_done); counted in first, so that a loop that
		 * read this kick with an earlier one does not wait
		 * (deliver_writes_awaited). A slot with a write in flight is
		 * on a shard (it stays there while it is watched). */
		on = atomic_load(&s->dl.shard);
		if (on != 0) /* let go of meanwhile: its mark is clear */
			loop->kick(on - 1u);
		while (atomic_load(&s->dl.inflight))
			pthread_cond_wait(&wr_cond, &wr_lock);
		atomic_fetch_sub(&wr_waiters, 1);
		pthread_mutex_unlock(&wr_lock);
	}
	/* Rule 6: the operation may change s->target, so the io_uring
	 * loop's registered file for the slot counts as stale from now on:
	 * its next write makes the entry hold the target of then. Here,
	 * not at each place that changes the target, so that none can be
	 * missed (doc/delivery.md, "Registered files"). */
	s->dl.fcur = 0;
}

bool
deliver_writes_awaited(void)
{
	return atomic_load(&wr_waiters) != 0;
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
deliver_target_dropped(struct slot *s)
{
	if (loop != NULL && loop->dropped != NULL)
		loop->dropped(s);
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
deliver_sync_done(unsigned int k, uint64_t seq)
{
	pthread_mutex_lock(&sync_lock);
	if (seq > shards[k].sync_done) {
		shards[k].sync_done = seq;
		pthread_cond_broadcast(&sync_cond);
	}
	pthread_mutex_unlock(&sync_lock);
}

/* With sync_lock held: has every shard done sync seq? */
static bool
deliver_synced(uint64_t seq)
{
	for (unsigned int k = 0; k < nshards; k++)
		if (shards[k].sync_done < seq)
			return false;
	return true;
}

void
deliver_sync(void)
{
	static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
	uint64_t seq;

	if (nrunning == 0) {
		/* No loop thread: nothing was gathered; the loop forgets
		 * what it has not picked up yet (deliver_del before start). */
		if (loop != NULL && loop->idle_sync != NULL)
			loop->idle_sync();
		return;
	}
	/* One sync in flight at a time: the io_uring loop relies on it.
	 * Every shard is asked at once, and each does it on its own: the
	 * sync is done once the slowest has. */
	pthread_mutex_lock(&one_at_a_time);
	seq = atomic_fetch_add(&sync_asked, 1) + 1;
	for (unsigned int k = 0; k < nshards; k++)
		loop->sync(k);
	pthread_mutex_lock(&sync_lock);
	while (!deliver_synced(seq))
		pthread_cond_wait(&sync_cond, &sync_lock);
	pthread_mutex_unlock(&sync_lock);
	pthread_mutex_unlock(&one_at_a_time);
}

/* How many shards "auto" means: the CPUs msivd may run on. */
static unsigned int
deliver_auto_shards(void)
{
	unsigned int n = dl_ncpus;

	if (n == 0)
		n = 1;
	return n > DELIVER_SHARDS_MAX ? DELIVER_SHARDS_MAX : n;
}

static int
deliver_alloc(unsigned int n)
{
	/* n is at most DELIVER_SHARDS_MAX; the size a multiple of 64. */
	shards = aligned_alloc(_Alignof(struct dl_shard), n * sizeof(*shards));
	if (shards == NULL)
		return -ENOMEM;
	memset(shards, 0, n * sizeof(*shards));
	nshards = n;
	return 0;
}

int
deliver_init(const char *want, unsigned int nwant)
{
	const char *why = NULL;
	unsigned int n;
	int r;

	if (want == NULL)
		want = "auto";
	CPU_ZERO(&dl_cpus);
	if (sched_getaffinity(0, sizeof(dl_cpus), &dl_cpus) == 0)
		dl_ncpus = (unsigned int)CPU_COUNT(&dl_cpus);
	else
		log_warn("delivery: cannot read msivd's CPU affinity");
	if (nwant == 0)
		nwant = deliver_auto_shards();
	/* Target writes outside the io_uring loop: the control thread's
	 * (replays) and the epoll loop's. */
	if (!target_writers_init(&why))
		log_warnx("target writes: %s: a client that clears O_NONBLOCK "
		    "on its target can stall msivd", why);
	why = NULL;
	if (strcmp(want, "epoll") != 0) {
		loop = &deliver_uring;
		n = nwant;
		if ((r = loop->init(&n, &why)) == 0 &&
		    (r = deliver_alloc(n)) == 0)
			return 0;
		if (why == NULL)
			why = strerror(-r);
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
	n = nwant;
	if ((r = loop->init(&n, &why)) < 0 || (r = deliver_alloc(n)) < 0) {
		log_errx("delivery loop: epoll: %s", why != NULL ? why :
		    strerror(-r));
		loop->fini();
		loop = NULL;
		return r;
	}
	if (nwant > 1)
		log_info("delivery loop: epoll runs one thread (delivery_shards, "
		    "here %u, is for io_uring: epoll is the fallback for kernels "
		    "without it)", nwant);
	return r;
}

int
deliver_start(void)
{
	for (unsigned int k = 0; k < nshards; k++) {
		char name[32]; /* "msivd-deliver63": 15, the most a
				  thread's name has */
		int r = pthread_create(&shards[k].thread, NULL, loop->main,
		    (void *)(uintptr_t)k);

		if (r != 0)
			return -r; /* deliver_stop() joins those started */
		shards[k].running = 1;
		nrunning++;
		(void)snprintf(name, sizeof(name), "msivd-deliver%u", k);
		(void)pthread_setname_np(shards[k].thread, name);
	}
	if (nshards > 1)
		log_info("delivery loop: %s, %u shards", loop->name, nshards);
	else
		log_info("delivery loop: %s", loop->name);
	return 0;
}

void
deliver_stop(void)
{
	if (loop == NULL)
		return;
	if (nrunning != 0) {
		atomic_store(&deliver_stopping, 1);
		for (unsigned int k = 0; k < nshards; k++) {
			if (!shards[k].running)
				continue;
			loop->kick(k);
			pthread_join(shards[k].thread, NULL);
			shards[k].running = 0;
		}
		nrunning = 0;
	}
	loop->fini();
	target_writers_fini();
	/* shards stays: devices are unwatched after this (their figures
	 * go nowhere), and it is reachable till the process exits. */
}

int
deliver_add(struct slot *s, unsigned int k)
{
	/* A slot on a shard still (unwatched, not let go of yet) stays
	 * there: the loop decides that under its queue lock. */
	return loop->add(s, k % nshards);
}

void
deliver_del(struct slot *s)
{
	loop->del(s);
}

void
deliver_get_stats(struct deliver_stats *st)
{
	int64_t d = atomic_load_explicit(&base_delivered, memory_order_relaxed);

	st->interrupts = atomic_load_explicit(&base_interrupts,
	    memory_order_relaxed);
	st->dropped = atomic_load_explicit(&base_dropped,
	    memory_order_relaxed);
	for (unsigned int k = 0; k < nshards; k++) {
		struct dl_shard *sh = &shards[k];

		st->interrupts += atomic_load_explicit(&sh->interrupts,
		    memory_order_relaxed);
		d += atomic_load_explicit(&sh->delivered,
		    memory_order_relaxed);
		st->dropped += atomic_load_explicit(&sh->dropped,
		    memory_order_relaxed);
	}
	st->delivered = d > 0 ? (uint64_t)d : 0;
}

void
deliver_get_shard_stats(unsigned int k, struct deliver_shard_stats *st)
{
	struct dl_shard *sh = &shards[k];
	int64_t d = atomic_load_explicit(&sh->delivered, memory_order_relaxed);
	int32_t n = atomic_load_explicit(&sh->slots, memory_order_relaxed);
	clockid_t cid;
	struct timespec ts;

	memset(st, 0, sizeof(*st));
	st->interrupts = atomic_load_explicit(&sh->interrupts,
	    memory_order_relaxed);
	st->delivered = d > 0 ? (uint64_t)d : 0;
	st->dropped = atomic_load_explicit(&sh->dropped, memory_order_relaxed);
	st->slots = n > 0 ? (uint32_t)n : 0;
	/* Control thread: the shard's thread runs until deliver_stop(),
	 * which the control thread calls. */
	if (sh->running && pthread_getcpuclockid(sh->thread, &cid) == 0 &&
	    clock_gettime(cid, &ts) == 0)
		st->cpu_ns = (uint64_t)ts.tv_sec * 1000000000u +
		    (uint64_t)ts.tv_nsec;
}

/* --- handover --------------------------------------------------------- */

void
deliver_park_here(void)
{
	pthread_mutex_lock(&park_lock);
	parked++;
	pthread_cond_broadcast(&park_cond);
	while (atomic_load(&deliver_parking) && !atomic_load(&deliver_stopping))
		pthread_cond_wait(&park_cond, &park_lock);
	parked--;
	pthread_cond_broadcast(&park_cond);
	pthread_mutex_unlock(&park_lock);
}

void
deliver_park(void)
{
	if (nrunning == 0)
		return;
	atomic_store(&deliver_parking, 1);
	for (unsigned int k = 0; k < nshards; k++)
		loop->kick(k);
	/* Every shard: a slot's last read (deliver_handover_skip) needs its
	 * own shard parked, and the state written is every shard's. */
	pthread_mutex_lock(&park_lock);
	while (parked < nrunning)
		pthread_cond_wait(&park_cond, &park_lock);
	pthread_mutex_unlock(&park_lock);
}

void
deliver_unpark(void)
{
	pthread_mutex_lock(&park_lock);
	atomic_store(&deliver_parking, 0);
	pthread_cond_broadcast(&park_cond);
	while (parked != 0)
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
