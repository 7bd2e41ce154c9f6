/*
 * The io_uring delivery loop, the preferred one: a multishot poll on every
 * trigger, so the hot path reads none; the target writes of a batch issued
 * in one io_uring_enter(); the triggers' counters read lazily, in verify
 * mode after a read, and settled for queries from /proc/self/fdinfo; the
 * targets written through registered files. It runs as shards: each a
 * thread with its own ring, registered file table, request queue and
 * write batch (struct ur_shard), watching its own slots (slot.dl.shard).
 * doc/delivery.md, "The io_uring loop", "Registered files" and "Shards",
 * explains each and why rules 3 and 6 stay exact; deliver.c has what both
 * loops share, deliver-epoll.c the fallback.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "uring.h"

#ifdef HAVE_LIBURING
#include <liburing.h>

#define UR_SQ     1024u   /* submission entries: writes of one batch */
#define UR_CQ     32768u  /* completion entries: wakeups of one batch */
#define UR_BATCH  256u    /* completions copied out at a time */
/* Registered file table entries, at most, of all shards' tables together
 * (ur_files_size). */
#define UR_FILES_MAX 32768u

/* user_data of what is not a slot's poll (slots are never at these). */
#define UD_KICK   1u
#define UD_SYNC   2u
#define UD_WRITE  3u      /* a target write that failed (EAGAIN: full) */
#define UD_REMOVE 4u      /* a poll removal (its result is of no use) */
#define UD_FILES  5u      /* a registered file update that failed */

/* One shard: a ring and what goes with it. Set up before the threads
 * start, torn down after they end. Cache-line aligned: a shard's thread
 * writes its tail while the next one reads its ring's head. */
#define UR_LINE 64u
struct ur_shard {
	_Alignas(UR_LINE) unsigned int id;
	struct io_uring ring;
	int ring_ok;
	unsigned int ring_flags;
	int kickfd, syncfd;

	pthread_mutex_t q_lock;
	struct slot *q_head;    /* q_lock: slots whose dl.want changed */

	/* The shard's thread only. */
	struct slot *wbatch[UR_SQ]; /* slots with a write queued */
	unsigned int nw;
	unsigned int removing;  /* polls asked to go, not ended yet */
	uint64_t sync_seen;     /* the last sync whose signal was seen */
	uint64_t sync_acked;
	uint64_t rearms;
	int64_t queued;         /* writes queued since the last count */

	/* Registered files (below): the shard's thread only, but files_n,
	 * set before it starts. */
	uint32_t files_n;       /* entries; 0: plain fds */
	uint32_t *files_free;   /* indices let go (a stack) */
	uint32_t files_nfree;
	uint32_t files_next;    /* the indices never used start here */
	/* What the queued updates read, when they are issued: at most UR_SQ
	 * are queued, so the last UR_SQ stay intact until then. */
	int files_fds[UR_SQ];
	uint32_t files_nfds;
	bool files_broken;      /* an update failed: plain fds */
	uint64_t files_failed;
};

static struct ur_shard *urs;
static unsigned int ur_n;
static _Atomic int ur_started; /* the loops run (requests are kicked) */

static const uint64_t one = 1;

/* One signal of an eventfd that never waits (EAGAIN when it is full) and
 * posts a completion only if it fails. fd: a registered file's index if
 * fixed. */
static void
prep_signal(struct io_uring_sqe *sqe, int fd, bool fixed, uint64_t ud)
{
	io_uring_prep_write(sqe, fd, &one, sizeof(one), 0);
	sqe->rw_flags = RWF_NOWAIT;
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ud);
}

/* The writes queued so far are done (they complete inside the enter that
 * issued them): let deliver_lock() waiters go. They were counted as
 * delivered when queued (ur_batch): the enter that issues them then
 * waits, and STATUS is not to lag behind the targets meanwhile. */
static void
ur_writes_done(struct ur_shard *u)
{
	if (u->nw == 0)
		return;
	for (unsigned int i = 0; i < u->nw; i++)
		atomic_store(&u->wbatch[i]->dl.inflight, 0);
	u->nw = 0;
	deliver_writes_done();
}

/*
 * Issue all that is queued, without waiting. A submission may take fewer
 * than were queued and still succeed: it stops after an entry the kernel
 * refuses as it takes it (its failure is that entry's completion), or
 * when it has no memory for more requests. What it left is submitted
 * again until nothing is left, so that no write is still queued once
 * ur_writes_done() says it is done (rule 6: deliver_lock() relies on
 * it), on every kernel (IORING_SETUP_SUBMIT_ALL would do it for the
 * first case only, and from Linux 5.18). The kernel takes at least one
 * entry of a non-empty queue, or fails.
 */
static void
ur_flush(struct ur_shard *u)
{
	int r;

	for (;;) {
		r = io_uring_submit(&u->ring);
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN || r == -EBUSY) {
			/* Completions the kernel holds back: make room
			 * (our completion queue is consumed already). */
			(void)io_uring_get_events(&u->ring);
			continue;
		}
		if (r < 0) {
			errno = -r;
			fatal("delivery loop: io_uring_submit");
		}
		if (io_uring_sq_ready(&u->ring) == 0)
			break;
	}
	ur_writes_done(u);
}

static struct io_uring_sqe *
ur_sqe(struct ur_shard *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (sqe == NULL) {
		ur_flush(u);
		sqe = io_uring_get_sqe(&u->ring);
		if (sqe == NULL)
			fatalx("delivery loop: no submission entry");
	}
	return sqe;
}

/* --- registered files: the targets' fixed file tables -----------------
 *
 * A slot its shard writes gets an entry of the shard's sparse table,
 * registered on the shard's ring before it is enabled, so that its writes
 * skip the fd lookup and the reference counting (fget, fput) a plain fd
 * costs each. Entries change inside the ring alone
 * (IORING_OP_FILES_UPDATE, queued just before the write that needs it:
 * the SQEs of a submission are issued in order, each inline, which
 * probe_files() checks), so no io_uring_register() is left once the ring
 * runs. Rule 6: an entry is stale after any control operation on its slot
 * (dl.fcur, cleared by deliver_lock()), so the next write makes it hold
 * the target of then. A file the table holds is let go when its target is
 * dropped (dl.fdrop, a request to the slot's shard) and when the shard
 * lets go of the slot (its poll ended unwatched): a target the client
 * closed lives on in msivd only until the loop has handled that. An entry
 * is its shard's: a slot the loop has let go of has none, so the shard it
 * goes on next starts afresh. doc/delivery.md, "Registered files".
 */

/* Queue the update of u's entry i to hold fd's file (-1: none). */
static void
ur_files_set(struct ur_shard *u, uint32_t i, int fd)
{
	struct io_uring_sqe *sqe = ur_sqe(u); /* may issue the queue first */
	int *fdp = &u->files_fds[u->files_nfds++ % UR_SQ];

	*fdp = fd;
	io_uring_prep_files_update(sqe, fdp, 1, (int)i);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, UD_FILES);
}

/* With s->lock held, a write to s->target decided: the entry of u's
 * table that holds its file once the updates queued so far are issued,
 * or -1 (no table, or it is full: the plain fd). */
static int
ur_files_get(struct ur_shard *u, struct slot *s)
{
	uint32_t i;

	if (u->files_n == 0 || u->files_broken)
		return -1;
	if (s->dl.fidx == 0) {
		if (u->files_nfree > 0)
			i = u->files_free[--u->files_nfree];
		else if (u->files_next < u->files_n)
			i = u->files_next++;
		else
			return -1;
		s->dl.fidx = i + 1;
		s->dl.fheld = 0;
	}
	i = s->dl.fidx - 1;
	if (!s->dl.fcur || !s->dl.fheld) {
		ur_files_set(u, i, s->target);
		s->dl.fcur = s->dl.fheld = 1;
	}
	return (int)i;
}

/* Let go of the file s's entry holds, if any; the entry stays s's. */
static void
ur_files_drop(struct ur_shard *u, struct slot *s)
{
	if (s->dl.fheld) {
		ur_files_set(u, s->dl.fidx - 1, -1);
		s->dl.fheld = 0;
	}
}

/* u lets go of s (ur_let_go): its entry goes too. Only slots whose poll
 * the loop armed have one, so this runs on the shard's thread alone. */
static void
ur_files_put(struct ur_shard *u, struct slot *s)
{
	if (s->dl.fidx == 0)
		return;
	ur_files_drop(u, s);
	u->files_free[u->files_nfree++] = s->dl.fidx - 1;
	s->dl.fidx = 0;
}

/* --- the loop --------------------------------------------------------- */

static void
ur_arm_fd(struct ur_shard *u, int fd, uint64_t ud)
{
	struct io_uring_sqe *sqe = ur_sqe(u);

	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, ud);
}

/* The completion queue's tail: where the next completion will be. */
static uint32_t
ur_cq_tail(struct ur_shard *u)
{
	return io_uring_smp_load_acquire(u->ring.cq.ktail);
}

/* The shard a slot is on (it is on one: watched, or not let go of). */
static struct ur_shard *
ur_shard_of(struct slot *s)
{
	return &urs[atomic_load_explicit(&s->dl.shard,
	    memory_order_relaxed) - 1u];
}

static void
ur_arm(struct ur_shard *u, struct slot *s)
{
	ur_arm_fd(u, atomic_load_explicit(&s->trigger, memory_order_acquire),
	    (uint64_t)(uintptr_t)s);
	s->dl.armed = 1;
	/* The first report may be of signals the slot had before. */
	s->dl.verify = 1;
	s->dl.vpos = ur_cq_tail(u);
}

/* With u->q_lock held: the loop has let go of a slot nobody wants; it
 * may go on another shard when it is watched again. */
static void
ur_let_go(struct ur_shard *u, struct slot *s)
{
	if (!s->dl.want && !s->dl.queued && !s->dl.armed && !s->dl.gone) {
		/* A write of its last wakeup may be in flight still: issued
		 * now, so deliver_lock() never finds the mark of a slot on
		 * no shard (it wakes the slot's shard to clear it). */
		if (atomic_load(&s->dl.inflight))
			ur_flush(u);
		/* The entry's update to none, queued, is issued before any
		 * later one of the same entry (another slot's, the index
		 * reused): in order, and the memory it reads is u's. */
		ur_files_put(u, s);
		s->dl.fdrop = 0;
		atomic_store(&s->dl.shard, 0);
		deliver_slots(u->id, -1);
	}
}

/* Bring a slot's poll in line with what was asked (dl.want), with
 * u->q_lock held. */
static void
ur_reconcile(struct ur_shard *u, struct slot *s, bool want)
{
	if (s->dl.gone)
		return; /* the end of its old poll decides */
	if (want && !s->dl.armed)
		ur_arm(u, s);
	else if (!want && !s->dl.armed)
		ur_let_go(u, s); /* unwatched before it was armed */
	else if (!want && s->dl.armed) {
		struct io_uring_sqe *sqe = ur_sqe(u);

		/* An async cancel, not POLL_REMOVE: that one gives up with
		 * EALREADY while the poll's task work is pending (under a
		 * flood), leaving the poll live. */
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)s, 0);
		io_uring_sqe_set_data64(sqe, UD_REMOVE);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		s->dl.gone = 1;
		u->removing++;
	}
}

static void
ur_requests(struct ur_shard *u)
{
	struct slot *s, *next;

	pthread_mutex_lock(&u->q_lock);
	s = u->q_head;
	u->q_head = NULL;
	for (; s != NULL; s = next) {
		next = s->dl.next;
		s->dl.next = NULL;
		s->dl.queued = 0;
		if (s->dl.fdrop) {
			s->dl.fdrop = 0;
			ur_files_drop(u, s);
		}
		ur_reconcile(u, s, s->dl.want);
	}
	pthread_mutex_unlock(&u->q_lock);
}

/* The trigger's counter, read (and so reset) now; 0 if it was. */
static uint64_t
ur_take(struct slot *s)
{
	uint64_t c;

	if (read(atomic_load_explicit(&s->trigger, memory_order_relaxed), &c,
	    sizeof(c)) != sizeof(c))
		return 0;
	return c;
}

/*
 * With s->lock held: read the trigger of a wakeup at completion queue
 * position pos (verify mode, or the vector undeliverable), counting the
 * signals in fired. Returns the interrupts it stands for, 0 if none;
 * *count: what vector_fire() is to add to fired for them (the counter
 * identity, msiv-protocol(7) COUNTERS: a settle may have counted some).
 */
static uint64_t
ur_read(struct ur_shard *u, struct slot *s, uint32_t pos, uint64_t *count)
{
	uint64_t c = ur_take(s), hot = s->dl.hot, folded = s->dl.folded;
	uint64_t skip, n;
	bool verifying = s->dl.verify;

	/* Each delivered wakeup was one interrupt, delivered. */
	vector_count_unread(&s->vec, hot - s->dl.hotc);
	s->dl.hot = s->dl.hotc = 0;
	s->dl.folded = 0;
	if (verifying && (int32_t)(pos - s->dl.vpos) >= 0)
		s->dl.verify = 0; /* the last that may stand for nothing */
	if (s->dl.arming) {
		/* A handed-over slot's first read: a signal raised while its
		 * poll was armed may have a second completion coming, which
		 * must read too. */
		s->dl.arming = 0;
		s->dl.verify = 1;
		s->dl.vpos = ur_cq_tail(u);
	}
	if (c == 0)
		return 0; /* a read took its signals, and decided on them */
	/* An earlier owner's signals (ur_reset) are not this vector's: not
	 * fired, not interrupts. */
	skip = c < s->dl.skip ? c : s->dl.skip;
	s->dl.skip -= skip;
	if ((c -= skip) == 0)
		return 0;
	/* Beyond the delivered wakeups, each signal is an interrupt. */
	n = c > hot ? c - hot : verifying ? 0 : 1;
	/* Those a settle counted (fired and coalesced) already are not
	 * counted again; an interrupt made of them alone is assumed. */
	*count = n > folded ? n - folded : 1;
	if (n != 0 && !vector_deliverable(&s->vec)) {
		/* Signals taken into the pending bit (or dropped): a
		 * completion still on its way for them must not deliver. */
		s->dl.verify = 1;
		s->dl.vpos = ur_cq_tail(u);
	}
	return n;
}

/* A wakeup of s's trigger, its completion at position pos. Returns 1 if
 * it stood for an interrupt; adds what it dropped to *dropped. */
static int
ur_fire(struct ur_shard *u, struct slot *s, uint32_t pos, uint64_t *dropped)
{
	uint64_t n = 0, count = 0, d;
	unsigned int act;

	if (pthread_mutex_trylock(&s->lock) != 0) {
		/* A control thread has it, maybe waiting for this very
		 * slot's write: issue the batch before blocking. */
		ur_flush(u);
		pthread_mutex_lock(&s->lock);
	}
	if (s->dl.verify || !vector_deliverable(&s->vec)) {
		if ((n = ur_read(u, s, pos, &count)) == 0) {
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
	} else
		s->dl.hot++; /* the hot path: no read, counted later */
	d = s->vec.dropped;
	act = n != 0 ? vector_fire(&s->vec, count) :
	    vector_fire_unread(&s->vec);
	if ((act & VECTOR_ACT_DELIVER) && s->target >= 0) {
		/* The entry's update, if it needs one, goes first. */
		int fi = ur_files_get(u, s);

		prep_signal(ur_sqe(u), fi >= 0 ? fi : s->target, fi >= 0,
		    UD_WRITE);
		/* Relaxed: deliver_lock() reads it under the slot lock,
		 * which orders it; the clearing is what needs seq_cst. */
		atomic_store_explicit(&s->dl.inflight, 1,
		    memory_order_relaxed);
		u->wbatch[u->nw++] = s;
		u->queued++;
	}
	*dropped += s->vec.dropped - d;
	pthread_mutex_unlock(&s->lock);
	return 1;
}

/* A poll of a slot ended (removed, or the completion queue overflowed). */
static void
ur_ended(struct ur_shard *u, struct slot *s)
{
	pthread_mutex_lock(&u->q_lock);
	s->dl.armed = 0;
	if (s->dl.gone) {
		s->dl.gone = 0;
		u->removing--;
	} else
		u->rearms++;
	if (s->dl.want)
		ur_arm(u, s);
	else
		ur_let_go(u, s);
	pthread_mutex_unlock(&u->q_lock);
}

/* Returns 1 to stop, 2 to park (deliver_park). */
static int
ur_batch(struct ur_shard *u, struct io_uring_cqe *const *cqes, unsigned int n)
{
	struct { uint64_t ud; int32_t res; uint32_t flags; } c[UR_BATCH];
	uint64_t wakeups = 0, dropped = 0, v;
	uint32_t head = *u->ring.cq.khead; /* the position of cqes[0] */
	int64_t failed = 0;
	int stop = 0;

	/* Copy out and give the entries back first: anything below may
	 * issue the writes queued so far. */
	for (unsigned int i = 0; i < n; i++) {
		c[i].ud = cqes[i]->user_data;
		c[i].res = cqes[i]->res;
		c[i].flags = cqes[i]->flags;
	}
	io_uring_cq_advance(&u->ring, n);
	for (unsigned int i = 0; i < n; i++) {
		bool more = (c[i].flags & IORING_CQE_F_MORE) != 0;

		switch (c[i].ud) {
		case UD_WRITE:
			failed++;
			continue;
		case UD_REMOVE:
			continue;
		case UD_FILES:
			/* The entry may be empty (its write fails, as it
			 * does with EAGAIN) or hold any file: plain fds
			 * from now on, the entries let go as usual. */
			u->files_broken = true;
			u->files_failed++;
			continue;
		case UD_KICK:
			(void)!read(u->kickfd, &v, sizeof(v));
			if (atomic_load(&deliver_stopping))
				stop = 1;
			else if (atomic_load(&deliver_parking))
				stop = 2;
			ur_requests(u);
			if (!more)
				ur_arm_fd(u, u->kickfd, UD_KICK);
			continue;
		case UD_SYNC:
			(void)!read(u->syncfd, &v, sizeof(v));
			u->sync_seen = deliver_sync_asked();
			if (!more)
				ur_arm_fd(u, u->syncfd, UD_SYNC);
			continue;
		default:
			break;
		}
		if (c[i].res > 0)
			wakeups += (uint64_t)ur_fire(u,
			    (struct slot *)(uintptr_t)c[i].ud, head + i,
			    &dropped);
		if (!more)
			ur_ended(u, (struct slot *)(uintptr_t)c[i].ud);
	}
	/* A write that fails posts a completion (UD_WRITE), counted off. */
	deliver_stat(u->id, wakeups, u->queued - failed, dropped);
	u->queued = 0;
	return stop;
}

static void *
ur_main(void *arg)
{
	struct ur_shard *u = &urs[(uintptr_t)arg];
	struct io_uring_cqe *cqes[UR_BATCH];
	int park = 0;

	atomic_store(&ur_started, 1);
	/* Enabled by this thread, its only submitter (SINGLE_ISSUER). */
	if ((u->ring_flags & IORING_SETUP_R_DISABLED) &&
	    uring_enable(u->ring.ring_fd) < 0)
		fatal("delivery loop: cannot enable the ring");
	ur_arm_fd(u, u->kickfd, UD_KICK);
	ur_arm_fd(u, u->syncfd, UD_SYNC);
	ur_requests(u);
	for (;;) {
		unsigned int n;
		int r;

		/* Issue the writes queued and wait for the next completions,
		 * in one enter: a busy vector's wakeup costs one. The writes
		 * are done once it has issued them; a control thread waiting
		 * for one in deliver_lock() kicks the loop out of the wait,
		 * and the marks are cleared below. Unless its kick was read
		 * already, with an earlier one (the kick eventfd's counter is
		 * read whole, so no completion comes for it): it counted
		 * itself in before it kicked, so the count is seen here, and
		 * the writes are issued without waiting. */
		if (u->nw != 0 && deliver_writes_awaited())
			r = io_uring_submit_and_get_events(&u->ring);
		else
			r = io_uring_submit_and_wait(&u->ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY &&
		    r != -ETIME) {
			errno = -r;
			fatal("delivery loop: io_uring_enter");
		}
		if (io_uring_sq_ready(&u->ring) != 0)
			ur_flush(u); /* the enter failed before issuing them */
		else
			ur_writes_done(u);
		while ((n = io_uring_peek_batch_cqe(&u->ring, cqes,
		    UR_BATCH)) > 0) {
			int stop = ur_batch(u, cqes, n);

			if (stop == 1) {
				ur_flush(u); /* what it decided goes */
				return NULL;
			}
			park |= stop == 2;
		}
		if (park) {
			/* Handover: the writes decided so far are done before
			 * the loop parks; the completions that come meanwhile
			 * wait in the queue (handled if the handover fails). */
			ur_flush(u);
			deliver_park_here();
			park = 0;
		}
		if (u->sync_seen > u->sync_acked && u->removing == 0) {
			ur_flush(u); /* nothing may be left in flight */
			u->sync_acked = u->sync_seen;
			deliver_sync_done(u->id, u->sync_acked);
		}
	}
}

static void
ur_signal(int fd)
{
	if (write(fd, &one, sizeof(one)) != sizeof(one))
		fatal("delivery loop: cannot signal the loop");
}

static void
ur_kick(unsigned int k)
{
	ur_signal(urs[k].kickfd);
}

static void
ur_sync(unsigned int k)
{
	ur_signal(urs[k].syncfd);
}

/* deliver_sync() before the loops run: forget the slots unwatched
 * meanwhile (they were never armed), as their memory goes. */
static void
ur_idle_sync(void)
{
	for (unsigned int k = 0; k < ur_n; k++) {
		struct ur_shard *u = &urs[k];
		struct slot **pp;

		pthread_mutex_lock(&u->q_lock);
		for (pp = &u->q_head; *pp != NULL;) {
			struct slot *s = *pp;

			if (!s->dl.want) {
				*pp = s->dl.next;
				s->dl.next = NULL;
				s->dl.queued = 0;
				ur_let_go(u, s);
			} else
				pp = &s->dl.next;
		}
		pthread_mutex_unlock(&u->q_lock);
	}
}

/* With u->q_lock held: put s on u's request queue (once), let go of the
 * lock and wake the loop (before it runs, it takes the queue when it
 * starts). */
static void
ur_push_unlock(struct ur_shard *u, struct slot *s)
{
	if (!s->dl.queued) {
		s->dl.queued = 1;
		s->dl.next = u->q_head;
		u->q_head = s;
	}
	pthread_mutex_unlock(&u->q_lock);
	if (atomic_load(&ur_started))
		ur_signal(u->kickfd);
}

/*
 * Ask shard k (want) or the slot's shard (!want) to watch or let go of
 * it. A slot on no shard goes on k; one still on a shard (unwatched, and
 * its poll not ended yet) stays there, so that one ring alone ever polls
 * its trigger. The shard is read again under its queue lock: the loop
 * lets go of a slot (dl.shard 0) under it.
 */
static void
ur_queue(struct slot *s, bool want, unsigned int k)
{
	struct ur_shard *u;
	unsigned int on;

	for (;;) {
		on = atomic_load(&s->dl.shard);
		if (on == 0) {
			if (!want)
				return; /* never watched, or let go of */
			on = k + 1;
		}
		u = &urs[on - 1];
		pthread_mutex_lock(&u->q_lock);
		if (atomic_load(&s->dl.shard) == 0 && want) {
			atomic_store(&s->dl.shard, (uint8_t)on);
			deliver_slots(u->id, 1);
			break;
		}
		if (atomic_load(&s->dl.shard) == on)
			break;
		pthread_mutex_unlock(&u->q_lock); /* let go of meanwhile */
	}
	if (!want && !s->dl.want && !s->dl.queued) {
		/* Never armed, or its poll is going already. */
		pthread_mutex_unlock(&u->q_lock);
		return;
	}
	s->dl.want = want;
	ur_push_unlock(u, s);
}

/*
 * deliver_target_dropped(), s->lock held: the slot's shard lets go of the
 * old file its entry may hold, at its next request round. A slot on no
 * shard has no entry; one let go of meanwhile (checked under the queue
 * lock, under which the loop lets go) neither.
 */
static void
ur_dropped(struct slot *s)
{
	unsigned int on = atomic_load(&s->dl.shard);
	struct ur_shard *u;

	if (on == 0 || urs[on - 1].files_n == 0)
		return;
	u = &urs[on - 1];
	pthread_mutex_lock(&u->q_lock);
	if (atomic_load(&s->dl.shard) != on) {
		pthread_mutex_unlock(&u->q_lock);
		return;
	}
	s->dl.fdrop = 1;
	ur_push_unlock(u, s);
}

static int
ur_add(struct slot *s, unsigned int k)
{
	ur_queue(s, true, k);
	return 0;
}

static void
ur_del(struct slot *s)
{
	ur_queue(s, false, 0);
}

/* The count of s's trigger, peeked at without consuming it (0 if it
 * cannot be read: it is for statistics). */
static uint64_t
ur_peek(struct slot *s)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/self/fdinfo/%d",
	    atomic_load_explicit(&s->trigger, memory_order_relaxed));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strstr(buf, "eventfd-count:")) == NULL)
		return 0;
	return strtoull(p + strlen("eventfd-count:"), NULL, 16);
}

/*
 * Bring the counters up to date with what the trigger holds unread (with
 * s->lock held, after deliver_sync()): the delivered wakeups are counted
 * in fired, and the signals beyond them, which the kernel folded into
 * those wakeups, in fired and coalesced, so the counter identity holds
 * at every query. Never consumes the signals: the loop's next read counts
 * only what this did not (dl.hotc, dl.folded). A signal raised while the
 * query runs, its wakeup not handled yet, counts as folded here and as
 * delivered once handled: the identity still holds.
 */
static void
ur_settle(struct slot *s)
{
	uint64_t c, seen;

	if (s->dl.hot == 0)
		return; /* the loop has read all there was */
	vector_count_unread(&s->vec, s->dl.hot - s->dl.hotc);
	s->dl.hotc = s->dl.hot;
	c = ur_peek(s);
	c = c > s->dl.skip ? c - s->dl.skip : 0;
	seen = (uint64_t)s->dl.hot + s->dl.folded;
	if (c > seen) {
		vector_fold(&s->vec, c - seen);
		s->dl.folded += c - seen;
	}
}

/*
 * Handover, the loop parked (with s->lock held): its last read of the
 * trigger, so that what it holds is decided here and the new msivd's loop
 * starts on the hot path (no verify mode, and so no delivery made twice:
 * see "Reading a trigger" in doc/delivery.md). The delivered wakeups are
 * counted; the signals beyond them, which a settle may have folded
 * provisionally, are fired now: delivered (once) or taken into the
 * pending bit. The completions this ring still holds for them are never
 * handled if the handover goes through; if it fails, the slot verifies
 * as after any read. Returns the signals the new loop must skip: none.
 */
static uint64_t
ur_handover(struct slot *s)
{
	uint64_t c = ur_take(s), hot = s->dl.hot, skip, n;
	unsigned int act = 0;

	vector_count_unread(&s->vec, hot - s->dl.hotc);
	skip = c < s->dl.skip ? c : s->dl.skip;
	c -= skip;
	n = c > hot ? c - hot : 0;
	if (n != 0) {
		vector_unfold(&s->vec, s->dl.folded < n ? s->dl.folded : n);
		act = vector_fire(&s->vec, n);
	}
	s->dl.hot = s->dl.hotc = 0;
	s->dl.folded = 0;
	s->dl.skip = 0;
	s->dl.verify = 1;
	if (atomic_load(&s->dl.shard) != 0)
		s->dl.vpos = ur_cq_tail(ur_shard_of(s));
	if ((act & VECTOR_ACT_DELIVER) && s->target >= 0)
		deliver_actions(s, act);
	return 0;
}

/* A new owner: what the trigger holds unread is the old owner's, its
 * delivered wakeups included (they are not the new owner's hot ones). */
static void
ur_reset(struct slot *s)
{
	if (s->dl.hot != 0 || s->dl.skip != 0)
		s->dl.skip = ur_peek(s);
	s->dl.hot = s->dl.hotc = 0;
	s->dl.folded = 0;
}

/* --- start-up: does this kernel give what the loop relies on? -------- */

static int
probe_wait(struct io_uring *r, struct io_uring_cqe **cqe)
{
	struct __kernel_timespec ts = { .tv_sec = 2 };

	return io_uring_wait_cqe_timeout(r, cqe, &ts);
}

/*
 * On a throw-away ring: a multishot poll reports two signals of an
 * eventfd whose counter is never read; a RWF_NOWAIT write to an eventfd
 * is done when io_uring_submit() returns (no completion with
 * IOSQE_CQE_SKIP_SUCCESS); a write to a saturated eventfd fails with
 * EAGAIN instead of waiting.
 */
static int
probe(const char **why)
{
	struct io_uring r;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	uint64_t v = 0xfffffffffffffffeull;
	int a = -1, b = -1, e, ret = -ENOTSUP;

	if ((e = io_uring_queue_init(8, &r, 0)) < 0) {
		*why = e == -ENOSYS ? "no io_uring in this kernel" :
		    e == -EPERM ? "io_uring not permitted (sysctl "
		    "kernel.io_uring_disabled or a seccomp filter)" :
		    "io_uring_setup failed";
		return e;
	}
	if (!(r.features & IORING_FEAT_NODROP)) {
		*why = "the kernel may drop completions (no FEAT_NODROP)";
		goto out;
	}
	a = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a < 0 || b < 0) {
		*why = "eventfd failed";
		ret = -errno;
		goto out;
	}
	*why = "multishot poll does not report every eventfd signal";
	if ((sqe = io_uring_get_sqe(&r)) == NULL)
		goto out;
	io_uring_prep_poll_multishot(sqe, a, POLLIN);
	io_uring_sqe_set_data64(sqe, 1);
	if (io_uring_submit(&r) != 1)
		goto out;
	for (int i = 0; i < 2; i++) {
		if (write(a, &one, sizeof(one)) != sizeof(one) ||
		    probe_wait(&r, &cqe) < 0 || cqe->user_data != 1 ||
		    cqe->res <= 0 || !(cqe->flags & IORING_CQE_F_MORE))
			goto out;
		io_uring_cqe_seen(&r, cqe);
	}
	*why = "an eventfd write with RWF_NOWAIT is not done inline";
	if ((sqe = io_uring_get_sqe(&r)) == NULL)
		goto out;
	prep_signal(sqe, b, false, 2);
	if (io_uring_submit(&r) != 1 || read(b, &v, sizeof(v)) != sizeof(v) ||
	    v != 1 || io_uring_peek_cqe(&r, &cqe) == 0)
		goto out;
	*why = "a write to a full eventfd waits instead of failing";
	v = 0xfffffffffffffffeull;
	if (write(b, &v, sizeof(v)) != sizeof(v))
		goto out;
	if ((sqe = io_uring_get_sqe(&r)) == NULL)
		goto out;
	prep_signal(sqe, b, false, 3);
	if (io_uring_submit(&r) != 1 || probe_wait(&r, &cqe) < 0 ||
	    cqe->user_data != 3 || cqe->res != -EAGAIN)
		goto out;
	*why = NULL;
	ret = 0;
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	io_uring_queue_exit(&r);
	return ret;
}

/* Queue an update of registered file 0 to fds[0] (probe_files), and if
 * ud_write, a write to it. false: no room. */
static bool
probe_set(struct io_uring *r, int *fds, uint64_t ud, uint64_t ud_write)
{
	struct io_uring_sqe *sqe;

	if (fds != NULL) {
		if ((sqe = io_uring_get_sqe(r)) == NULL)
			return false;
		io_uring_prep_files_update(sqe, fds, 1, 0);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		io_uring_sqe_set_data64(sqe, ud);
	}
	if (ud_write != 0) {
		if ((sqe = io_uring_get_sqe(r)) == NULL)
			return false;
		prep_signal(sqe, 0, true, ud_write);
	}
	return true;
}

/*
 * On a throw-away ring set up as a shard's (flags): a sparse table of one
 * entry registers; in one submission, updates of the entry to eventfd a,
 * to b and to none, each followed by a write to the entry, are issued in
 * order, each done when io_uring_submit() returns: a and b signalled once
 * each, the last write failed (EBADF), nothing else written. Rule 6
 * relies on that order, and the releases on the update to none. Then a
 * write to the entry after its client made the eventfd blocking, and
 * saturated it, fails with EAGAIN, writing nothing once the counter is
 * read: a registered file's nowait state, taken when it was registered,
 * does not make it wait. NULL if all holds, else why not.
 */
static const char *
probe_files(unsigned int flags)
{
	struct io_uring r;
	struct io_uring_cqe *cqe;
	uint64_t v = 0, w = 0, full = 0xfffffffffffffffeull;
	int fds[3] = { -1, -1, -1 }, fl;
	const char *why;

	if (io_uring_queue_init(8, &r, flags) < 0)
		return "cannot set up a ring to probe";
	why = "no sparse registered file table (Linux 5.19)";
	if (io_uring_register_files_sparse(&r, 1) < 0)
		goto out;
	why = "eventfd failed";
	fds[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fds[0] < 0 || fds[1] < 0)
		goto out;
	why = "updates and writes of a registered file are not issued in "
	    "order, inline";
	for (uint64_t i = 0; i < 3; i++)
		if (!probe_set(&r, &fds[i], 10 + i, 20 + i))
			goto out;
	if (io_uring_submit(&r) != 6 ||
	    read(fds[0], &v, sizeof(v)) != sizeof(v) || v != 1 ||
	    read(fds[1], &w, sizeof(w)) != sizeof(w) || w != 1 ||
	    probe_wait(&r, &cqe) < 0 || cqe->user_data != 22 ||
	    cqe->res != -EBADF)
		goto out;
	io_uring_cqe_seen(&r, cqe);
	if (io_uring_peek_cqe(&r, &cqe) == 0)
		goto out;
	why = "a registered eventfd made blocking and full waits";
	if (!probe_set(&r, &fds[0], 13, 0) || io_uring_submit(&r) != 1 ||
	    (fl = fcntl(fds[0], F_GETFL)) < 0 ||
	    fcntl(fds[0], F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    write(fds[0], &full, sizeof(full)) != sizeof(full) ||
	    !probe_set(&r, NULL, 0, 23) || io_uring_submit(&r) != 1)
		goto out;
	/* Read, so that a write left waiting goes: it must have failed
	 * (its completion may come later: DEFER_TASKRUN), not written. */
	if (fcntl(fds[0], F_SETFL, fl) < 0 ||
	    read(fds[0], &v, sizeof(v)) != sizeof(v) || v != full ||
	    probe_wait(&r, &cqe) < 0 || cqe->user_data != 23 ||
	    cqe->res != -EAGAIN || read(fds[0], &v, sizeof(v)) >= 0)
		goto out;
	why = NULL;
out:
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	io_uring_queue_exit(&r);
	return why;
}

/*
 * The entries of each of nshards tables: the soft open file limit (each
 * slot written holds a trigger and a target, so fewer targets than that
 * can be open at once), at most UR_FILES_MAX, shared out evenly. A table
 * costs the kernel memory for every entry from the start (8 to 16 bytes
 * each, by kernel version), so the shards together cost no more than one
 * unsharded table would; a shard whose share is in use writes its further
 * targets through plain fds.
 */
static uint32_t
ur_files_size(unsigned int nshards)
{
	struct rlimit rl;
	uint32_t n = UR_FILES_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
		n = (uint32_t)rl.rlim_cur;
	return (n + nshards - 1) / nshards;
}

/* What probe_files() said for rings of probe_flags (ur_files_init). */
static bool files_probed;
static unsigned int files_probe_flags;
static const char *files_why;

/*
 * Shard u's registered file table of n entries, on its ring (disabled
 * still, so that registering is allowed); where the kernel lacks what the
 * loop relies on, plain fds, said in one line. Never fails.
 */
static void
ur_files_init(struct ur_shard *u, uint32_t n)
{
	unsigned int flags = u->ring_flags & (IORING_SETUP_SINGLE_ISSUER |
	    IORING_SETUP_DEFER_TASKRUN);
	int r;

	/* One probe for all shards, unless their rings differ. */
	if (!files_probed || files_probe_flags != flags) {
		files_probed = true;
		files_probe_flags = flags;
		if ((files_why = probe_files(flags)) != NULL)
			log_info("delivery loop: target writes through plain "
			    "fds: %s", files_why);
	}
	if (files_why != NULL || n == 0)
		return;
	if ((u->files_free = calloc(n, sizeof(*u->files_free))) == NULL) {
		log_info("delivery loop: shard %u: target writes through "
		    "plain fds: no memory for the registered file table",
		    u->id);
		return;
	}
	if ((r = io_uring_register_files_sparse(&u->ring, n)) < 0) {
		log_info("delivery loop: shard %u: target writes through "
		    "plain fds: cannot register a file table of %u entries: "
		    "%s", u->id, n, strerror(-r));
		free(u->files_free);
		u->files_free = NULL;
		return;
	}
	u->files_n = n;
}

/* After the shard's thread has ended: its table went with its ring. */
static void
ur_files_fini(struct ur_shard *u)
{
	if (u->files_failed != 0)
		log_warnx("delivery loop: shard %u: %llu registered file "
		    "update(s) failed; target writes went through plain fds "
		    "since", u->id, (unsigned long long)u->files_failed);
	free(u->files_free);
	u->files_free = NULL;
	u->files_n = u->files_nfree = u->files_next = u->files_nfds = 0;
	u->files_broken = false;
	u->files_failed = 0;
}

/*
 * What the ring may carry (uring.h): the operations the loop uses
 * (multishot poll, the eventfd write, the poll's cancellation; with
 * registered files, their update) and the SQE flags it sets. Returns 0
 * or -errno.
 */
int
deliver_uring_restrict(struct io_uring *r, bool files)
{
	static const uint8_t ops[] = {
		IORING_OP_POLL_ADD, IORING_OP_WRITE, IORING_OP_ASYNC_CANCEL,
		IORING_OP_FILES_UPDATE,
	};
	size_t n = sizeof(ops) / sizeof(ops[0]);

	return uring_restrict(r->ring_fd, ops, files ? n : n - 1,
	    IOSQE_CQE_SKIP_SUCCESS | (files ? IOSQE_FIXED_FILE : 0));
}

/* Set up shard u's ring, its registered file table of files entries,
 * and its eventfds. */
static int
ur_shard_init(struct ur_shard *u, uint32_t files, const char **why)
{
	struct io_uring_params p;
	static const unsigned int tries[] = {
		/* Completions run only when the loop asks for them (so
		 * they come in batches), by the loop's thread alone. */
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		    IORING_SETUP_R_DISABLED,
		/* Disabled until restricted (deliver_uring_restrict()). */
		IORING_SETUP_R_DISABLED,
	};
	int r = -EINVAL;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = UR_CQ;
		if ((r = io_uring_queue_init_params(UR_SQ, &u->ring, &p)) ==
		    0) {
			u->ring_flags = p.flags;
			break;
		}
	}
	if (r < 0) {
		*why = "cannot set up the ring";
		return r;
	}
	u->ring_ok = 1;
	ur_files_init(u, files);
	if ((r = deliver_uring_restrict(&u->ring, u->files_n != 0)) < 0) {
		*why = "cannot restrict the ring's operations";
		return r; /* deliver_init() calls ur_fini() */
	}
	u->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	u->syncfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->kickfd < 0 || u->syncfd < 0) {
		*why = "eventfd failed";
		return -errno; /* deliver_init() calls ur_fini() */
	}
	return 0;
}

static int
ur_init(unsigned int *n, const char **why)
{
	uint32_t files;
	int r;

	if ((r = probe(why)) < 0)
		return r;
	files = ur_files_size(*n);
	files_probed = false;
	/* Bounded: *n is at most DELIVER_SHARDS_MAX (deliver.c). Never
	 * freed: a request after ur_fini() (device_destroy_all) finds the
	 * queues, as it found the one queue before shards. */
	if ((urs = aligned_alloc(UR_LINE, *n * sizeof(*urs))) == NULL) {
		*why = "no memory for the shards";
		return -ENOMEM;
	}
	memset(urs, 0, *n * sizeof(*urs));
	for (unsigned int k = 0; k < *n; k++) {
		urs[k].id = k;
		urs[k].kickfd = urs[k].syncfd = -1;
		pthread_mutex_init(&urs[k].q_lock, NULL);
	}
	ur_n = *n;
	for (unsigned int k = 0; k < *n; k++) {
		if ((r = ur_shard_init(&urs[k], files, why)) == 0)
			continue;
		if (k == 0)
			return r; /* deliver_init() calls ur_fini() */
		/* Rings cost locked memory: with fewer than asked for, the
		 * loop runs on those it has rather than not at all. */
		log_warnx("delivery loop: io_uring shard %u: %s (%s); running "
		    "%u shard(s) of the %u asked for", k, *why, strerror(-r),
		    k, *n);
		ur_n = k;
		for (unsigned int j = k; j < *n; j++) {
			if (urs[j].ring_ok)
				io_uring_queue_exit(&urs[j].ring);
			ur_files_fini(&urs[j]);
			if (urs[j].kickfd >= 0)
				close(urs[j].kickfd);
			if (urs[j].syncfd >= 0)
				close(urs[j].syncfd);
			urs[j].ring_ok = 0;
			urs[j].kickfd = urs[j].syncfd = -1;
		}
		*n = k;
		*why = NULL;
		break;
	}
	return 0;
}

static void
ur_fini(void)
{
	uint64_t rearms = 0;

	atomic_store(&ur_started, 0); /* requests are no longer kicked */
	for (unsigned int k = 0; k < ur_n; k++) {
		struct ur_shard *u = &urs[k];

		rearms += u->rearms;
		if (u->ring_ok)
			io_uring_queue_exit(&u->ring); /* the table goes too */
		u->ring_ok = 0;
		ur_files_fini(u);
		if (u->kickfd >= 0)
			close(u->kickfd);
		if (u->syncfd >= 0)
			close(u->syncfd);
		u->kickfd = u->syncfd = -1;
	}
	if (rearms != 0)
		log_info("delivery loop: %llu poll(s) re-armed after the "
		    "completion queue overflowed", (unsigned long long)rearms);
}

const struct deliver_loop deliver_uring = {
	.name = "io_uring",
	.init = ur_init,
	.main = ur_main,
	.kick = ur_kick,
	.sync = ur_sync,
	.idle_sync = ur_idle_sync,
	.fini = ur_fini,
	.add = ur_add,
	.del = ur_del,
	.settle = ur_settle,
	.handover = ur_handover,
	.reset = ur_reset,
	.dropped = ur_dropped,
};

#else /* !HAVE_LIBURING */

static int
ur_init(unsigned int *n, const char **why)
{
	(void)n;
	*why = "msivd was built without liburing";
	return -ENOTSUP;
}

const struct deliver_loop deliver_uring = {
	.name = "io_uring",
	.init = ur_init,
};

#endif
