/*
 * The epoll delivery loop, the fallback where io_uring is not available
 * (msivd(8) DELIVERY LOOPS): a level-triggered epoll watch on every
 * trigger; each wakeup reads the trigger, which re-arms it, and writes the
 * target at once, under the slot's lock. One thread, shard 0: it is for
 * kernels without io_uring, not for the hosts whose interrupt rate needs
 * more than one core (doc/delivery.md, Shards). The shared part and the
 * choice of loop are in deliver.c; doc/delivery.md has the design.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "target.h"

#define EPOLL_BATCH 256

static int ep_fd = -1;
static int ep_kickfd = -1;

static void ep_kick(unsigned int k);

static void
ep_one(struct slot *s)
{
	uint64_t count;
	uint64_t dropped;
	unsigned int act;
	bool written;

	/* The trigger was stored before the slot was watched (release in
	 * deliver_add's caller, acquire here). Reading it re-arms the
	 * level-triggered watch. */
	if (read(atomic_load_explicit(&s->trigger, memory_order_acquire),
	    &count, sizeof(count)) != sizeof(count))
		return; /* EAGAIN: another wakeup already took it */
	pthread_mutex_lock(&s->lock);
	if (s->dl.skip != 0) {
		/* Signals a handed-over slot's old loop accounted for
		 * (deliver_adopt: an msivd 0.1.0 io_uring loop's). */
		uint64_t skip = count < s->dl.skip ? count : s->dl.skip;

		s->dl.skip -= skip;
		count -= skip;
	}
	dropped = s->vec.dropped;
	act = vector_fire(&s->vec, count);
	/* As deliver_actions(), counted as the loop's. */
	written = (act & VECTOR_ACT_DELIVER) && target_write(s->target);
	dropped = s->vec.dropped - dropped;
	pthread_mutex_unlock(&s->lock);
	deliver_stat(0, 1, written ? 1 : 0, dropped);
}

static void *
ep_main(void *arg)
{
	struct epoll_event ev[EPOLL_BATCH];

	(void)arg;
	target_writer_loop_thread();
	for (;;) {
		/* The syncs asked for before the wait: their deletions are
		 * done, so the batch holds none of their slots. */
		uint64_t asked = deliver_sync_asked();
		int n = epoll_wait(ep_fd, ev, EPOLL_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("delivery loop: epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			uint64_t c;

			if (ev[i].data.ptr != NULL) {
				ep_one(ev[i].data.ptr);
				continue;
			}
			/* A kick: stop, park, or a sync. */
			(void)!read(ep_kickfd, &c, sizeof(c));
			if (atomic_load(&deliver_stopping))
				return NULL;
			if (atomic_load(&deliver_parking))
				deliver_park_here(); /* no write in flight */
			if (deliver_sync_asked() != asked)
				ep_kick(0); /* a later sync: after this batch */
		}
		/* Every wakeup raised before those syncs was gathered by
		 * this wait or an earlier one, and is handled now. */
		deliver_sync_done(0, asked);
	}
}

static void
ep_kick(unsigned int k)
{
	uint64_t one = 1;

	(void)k; /* one shard */
	if (write(ep_kickfd, &one, sizeof(one)) != sizeof(one))
		fatal("delivery loop: cannot signal the loop");
}

static int
ep_init(unsigned int *n, const char **why)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	*n = 1;
	ep_fd = epoll_create1(EPOLL_CLOEXEC);
	ep_kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ep_fd < 0 || ep_kickfd < 0 ||
	    epoll_ctl(ep_fd, EPOLL_CTL_ADD, ep_kickfd, &ev) < 0) {
		*why = strerror(errno);
		return -errno;
	}
	return 0;
}

static void
ep_fini(void)
{
	if (ep_kickfd >= 0)
		close(ep_kickfd);
	if (ep_fd >= 0)
		close(ep_fd);
	ep_kickfd = ep_fd = -1;
}

static int
ep_add(struct slot *s, unsigned int k)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

	(void)k; /* one shard */
	if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, atomic_load(&s->trigger),
	    &ev) < 0)
		return -errno;
	if (atomic_exchange(&s->dl.shard, 1) == 0)
		deliver_slots(0, 1);
	return 0;
}

static void
ep_del(struct slot *s)
{
	int fd = atomic_load(&s->trigger);

	if (fd >= 0)
		(void)epoll_ctl(ep_fd, EPOLL_CTL_DEL, fd, NULL);
	if (atomic_exchange(&s->dl.shard, 0) != 0)
		deliver_slots(0, -1);
}

const struct deliver_loop deliver_epoll = {
	.name = "epoll",
	.init = ep_init,
	.main = ep_main,
	.kick = ep_kick,
	.sync = ep_kick,
	.idle_sync = NULL,
	.fini = ep_fini,
	.add = ep_add,
	.del = ep_del,
	.settle = NULL,
	.reset = NULL,
	.handover = NULL, /* every wakeup reads: only dl.skip is left */
};
