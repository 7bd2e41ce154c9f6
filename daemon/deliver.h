/*
 * The delivery loop (relay mode): dedicated threads that wait on the
 * slots' triggers and write the vectors' targets. Two implementations, one
 * chosen at start-up (deliver.c): io_uring (deliver-uring.c: multishot
 * polls, batched target writes), run as one or more shards (a thread and a
 * ring each, each watching its own slots), and epoll (deliver-epoll.c, the
 * fallback, one thread). doc/delivery.md has the synchronisation protocol
 * with the control thread, and the shards.
 */
#ifndef MSIVD_DELIVER_H
#define MSIVD_DELIVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vector.h"

struct device;

/* The most delivery shards ([msivd] delivery_shards). */
#define DELIVER_SHARDS_MAX 64u

/*
 * The delivery loops' state of a slot (struct slot.dl). Only inflight,
 * shard and fcur are shared (deliver_lock); the rest is the io_uring
 * loop's (deliver-uring.c); the epoll loop keeps none. 56 bytes: the
 * registered file's fields (fcur, fheld, fidx, fdrop) fill what were
 * holes; the only padding left is 5 bytes after fdrop.
 */
struct deliver_slot {
	_Atomic uint8_t inflight; /* a target write is queued, not done */
	uint8_t armed, gone;      /* delivery thread: poll live, going */
	uint8_t verify;           /* delivery thread: read on wakeups */
	uint8_t arming;           /* delivery thread: handed over, its poll
				     not yet armed by this process (verify
				     the wakeup after the first read too) */
	_Atomic uint8_t shard;    /* the shard watching it, plus one; 0:
				     none. Chosen by deliver_add, fixed
				     until the loop has let go of it */
	uint8_t fcur;             /* lock: the fixed entry holds target's
				     file (cleared by deliver_lock) */
	uint8_t fheld;            /* delivery thread: the entry holds a
				     file (target's or an older one) */
	uint32_t vpos;            /* delivery thread: queue position */
	uint32_t hot;             /* lock: wakeups delivered unread */
	uint32_t hotc;            /* lock: of those, counted in fired
				     (deliver_settle) */
	uint32_t fidx;            /* delivery thread: its shard's fixed
				     file table index + 1; 0: none */
	uint64_t folded;          /* lock: unread signals beyond them,
				     counted in fired and coalesced */
	uint64_t skip;            /* lock: unread signals of an earlier
				     owner of the slot */
	uint8_t want, queued;     /* request queue lock */
	uint8_t fdrop;            /* request queue lock: the target was
				     dropped, its fixed entry is to go */
	struct slot *next;        /* request queue lock */
};

/*
 * A slot of a device's message store: the unit the delivery loops and the
 * control thread share under its lock (doc/delivery.md, the slot lock).
 * Devices (device.h) own chunks of them; the delivery path needs nothing
 * else of the device layer.
 *
 * Every set-up vector costs one (doc/performance.md, memory): 192 bytes
 * (three cache lines; a chunk of them is line-aligned, device.c), the
 * fields ordered so that the only padding is the end of the flags, before
 * dl.
 */
struct slot {
	pthread_mutex_t lock;
	struct vector vec;      /* lock */
	int target;             /* lock: the target eventfd, >= 0 exactly
				   when vec has VECTOR_F_TARGET; or -1 */
	_Atomic int trigger;    /* set once (by the backend, before the slot
				   is watched), then fixed; -1: none yet */
	uint32_t index;         /* slot number on the device */
	int routed;             /* control thread only, under lock: -1 when
				   the device signals the daemon's trigger,
				   else the target fd it signals (direct) */
	struct device *dev;
	bool owned;             /* control thread only: a vfunc holds it
				   (its vfunc_slot() is this one) */
	bool direct;            /* control thread only: direct delivery */
	struct deliver_slot dl;  /* the delivery loops' (above) */
};

struct deliver_stats {
	uint64_t interrupts; /* trigger wakeups */
	uint64_t delivered;  /* target writes, replays included */
	uint64_t dropped;    /* function disabled or slot not allocated */
};

/* One shard's figures since this msivd started (not carried over a
 * handover); cpu_ns: its thread's CPU time, 0 before it runs. */
struct deliver_shard_stats {
	uint64_t interrupts;
	uint64_t delivered;  /* by the loop (replays are the control
				thread's: not in any shard's) */
	uint64_t dropped;
	uint64_t cpu_ns;
	uint32_t slots;      /* slots it watches */
};

/* Choose and set up the loop: want is "auto" (io_uring where the kernel
 * offers what it needs, else epoll), "io_uring" or "epoll"; shards: how
 * many io_uring loops (0: one per CPU msivd may run on, at most
 * DELIVER_SHARDS_MAX; the epoll loop is one). Returns 0 or -errno; with
 * "io_uring" asked for and unavailable, -ENOTSUP (the reason is
 * logged). */
int deliver_init(const char *want, unsigned int shards);
int deliver_start(void);
void deliver_stop(void);
const char *deliver_loop_name(void);
unsigned int deliver_shard_count(void);
/* The shard associated with a CPU: shard k with the k-th CPU (mod the
 * count) of the set msivd was allowed at start; -1 for a CPU outside it. */
int deliver_shard_of_cpu(unsigned int cpu);

/* Watch / stop watching a slot's trigger. Any thread; the slot must stay
 * allocated until deliver_sync() has returned. Unwatching a slot that is
 * not watched does nothing. deliver_add puts the slot on shard k (the
 * device layer's choice: device.h, slot_shard()), where it stays until
 * the loop has let go of it: one unwatched and watched again before is
 * watched by the same. */
int deliver_add(struct slot *s, unsigned int k);
void deliver_del(struct slot *s);
/* Control thread, holding no slot lock: wait until every shard's loop
 * has handled every wakeup raised before the call and holds no pointer to
 * a slot unwatched before it. Device detach; VECTOR_QUERY (so its
 * counters include every interrupt raised before it was asked). */
void deliver_sync(void);

/*
 * Control thread: take a slot's lock for a vector operation. Besides the
 * mutex, it waits for a target write the loop has decided on but not yet
 * issued (io_uring batches them), so the operation starts with nothing in
 * flight. Release with pthread_mutex_unlock(&s->lock).
 */
void deliver_lock(struct slot *s);
/* With s->lock held, after deliver_sync(): bring the vector's counters up
 * to date with the signals the loop has not read (the io_uring loop reads
 * triggers lazily; nothing to do for epoll, which reads every wakeup), so
 * the counter identity of msiv-protocol(7) holds. Never consumes them. */
void deliver_settle(struct slot *s);
/* With s->lock held, after vector_init() for a new owner: the signals the
 * trigger holds unread are the old owner's. */
void deliver_reset(struct slot *s);
/* With s->lock held (deliver_lock): s->target no longer holds the fd it
 * held (retarget, free, a new owner). The io_uring loop lets go of the
 * old file, which its shard's registered file table may still hold, soon
 * after (doc/delivery.md, "Registered files"): a target the client closes
 * is not kept alive by msivd. */
void deliver_target_dropped(struct slot *s);

/*
 * Carry out a vector operation's actions. Call with s->lock held, right
 * after the vector_* call that returned act: a DELIVER action writes the
 * target before the lock is released.
 */
void deliver_actions(struct slot *s, unsigned int act);

/* The totals: every shard's, with what an earlier msivd handed over. */
void deliver_get_stats(struct deliver_stats *st);
/* Shard k's (k < deliver_shard_count()). */
void deliver_get_shard_stats(unsigned int k, struct deliver_shard_stats *st);
/* Handover: the totals of the msivd that handed over, added to ours. */
void deliver_stat_carry(uint64_t interrupts, uint64_t delivered,
    uint64_t dropped);

/*
 * Handover (handover.c). deliver_park(): every shard's loop finishes the
 * writes it has decided on and waits, reading no trigger, until
 * deliver_unpark() (the handover failed) or the process exits; it returns
 * once all are parked. Control thread.
 */
void deliver_park(void);
void deliver_unpark(void);
/* With s->lock held, the loop parked: bring the counters up to date (the
 * io_uring loop reads the trigger one last time, deciding what it holds)
 * and return how many signals the trigger still holds that are accounted
 * for already: the new loop skips them (0 after io_uring's last read). */
uint64_t deliver_handover_skip(struct slot *s);
/* With s->lock held, before the loop starts: the handed-over slot's
 * trigger holds skip accounted signals (0 from this msivd's io_uring loop,
 * which reads last; msivd 0.1.0's hands some over, state format 1); its
 * first wakeups read. */
void deliver_adopt(struct slot *s, uint64_t skip);

/* The io_uring loop's restriction of what its ring may carry (only the
 * operations and SQE flags it uses; files: the registered file updates
 * and fixed file writes too), on a ring created disabled; for msivd's
 * own rings and their test. Built with liburing only. */
struct io_uring;
int deliver_uring_restrict(struct io_uring *r, bool files);

/* --- between deliver.c and the loops ------------------------------------ */

struct deliver_loop {
	const char *name;
	/* Set up n shards (1 if it is not sharded: *n says how many);
	 * -errno (and *why) when this loop cannot run here. */
	int (*init)(unsigned int *n, const char **why);
	void *(*main)(void *arg); /* arg: the shard's number */
	void (*kick)(unsigned int k); /* wake shard k: stop, park, requests */
	void (*sync)(unsigned int k); /* wake shard k: deliver_sync() */
	void (*idle_sync)(void); /* deliver_sync() before the loops run */
	void (*fini)(void);
	int (*add)(struct slot *s, unsigned int k); /* on shard k, unless it
						      is on one already */
	void (*del)(struct slot *s);
	void (*settle)(struct slot *s);
	void (*reset)(struct slot *s);
	uint64_t (*handover)(struct slot *s); /* deliver_handover_skip() */
	void (*dropped)(struct slot *s); /* deliver_target_dropped() */
};

extern const struct deliver_loop deliver_epoll; /* deliver-epoll.c */
extern const struct deliver_loop deliver_uring; /* deliver-uring.c */

/* Shared by the loops (deliver.c). */
extern _Atomic int deliver_stopping;
extern _Atomic int deliver_parking;
/* A shard's loop, asked to park, with no write in flight: wait here. */
void deliver_park_here(void);
uint64_t deliver_sync_asked(void);      /* the last sync asked for */
/* Shard k has done the syncs up to seq. */
void deliver_sync_done(unsigned int k, uint64_t seq);
void deliver_stat(unsigned int k, uint64_t interrupts, int64_t delivered,
    uint64_t dropped);
void deliver_slots(unsigned int k, int n); /* shard k watches n more */
void deliver_writes_done(void); /* wake control threads in deliver_lock */
bool deliver_writes_awaited(void); /* a control thread waits in it */

#endif /* MSIVD_DELIVER_H */
