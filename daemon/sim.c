/*
 * The sim backend: a software interrupt message store of N slots, each
 * with a trigger eventfd. Firing a slot is a write to its trigger, by
 * SIM_FIRE (msivctl fire), or by any process holding a trigger handed out
 * with SIM_TRIGGERS (tests, benchmarks). A slot's eventfd is created the
 * first time it is needed, so a large device costs no fds until its slots
 * are used. Slots are always armed: nothing can fire a slot before its
 * trigger exists (rule 9 holds trivially).
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "deliver.h"
#include "device.h"

static void
sim_close(struct device *dev)
{
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = device_slot(dev, i);
		int fd = s != NULL ? atomic_load(&s->trigger) : -1;

		if (fd >= 0) {
			close(fd);
			atomic_store(&s->trigger, -1);
		}
	}
}

static int
sim_open(struct device *dev, const struct conf_device *cd)
{
	(void)cd;
	dev->flags = MSIV_DEVICE_MSIX | MSIV_DEVICE_DIRECT;
	return 0;
}

/* Handover: the triggers come from device.c; nothing else is open. */
static int
sim_adopt(struct device *dev, const struct conf_device *cd, struct ho_rd *r)
{
	(void)r;
	return sim_open(dev, cd);
}

/* The slot's trigger, created and watched on first use (its chunk too). */
static int
sim_trigger(struct device *dev, uint32_t slot)
{
	struct slot *s = device_slot_make(dev, slot);
	int fd, r;

	if (s == NULL)
		return -ENOMEM;
	fd = atomic_load_explicit(&s->trigger, memory_order_acquire);
	if (fd >= 0)
		return fd;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	atomic_store_explicit(&s->trigger, fd, memory_order_release);
	if ((r = deliver_add(s, slot_shard(s))) < 0) {
		atomic_store(&s->trigger, -1);
		close(fd);
		return r;
	}
	slot_fdstore_trigger(s);
	return fd;
}

static int
sim_arm(struct device *dev, uint32_t first, uint32_t n)
{
	(void)dev;
	(void)first;
	(void)n;
	return 0;
}

static void
sim_disarm(struct device *dev, uint32_t first, uint32_t n)
{
	(void)dev;
	(void)first;
	(void)n;
}

/* Direct mode: the routing entry is slot->routed (-1: the trigger). */
static int
sim_route(struct device *dev, uint32_t slot, int fd)
{
	(void)dev;
	(void)slot;
	(void)fd;
	return 0; /* sim_fire reads slot->routed */
}

/*
 * Raise an interrupt the way a device does: signal what the slot is
 * routed to (direct mode: the target itself, the daemon off the path),
 * else its trigger. Control thread; the routing is read under the lock.
 */
static int
sim_fire(struct device *dev, uint32_t slot, uint32_t count)
{
	struct slot *s = device_slot_make(dev, slot);
	uint64_t v = count;
	int fd, r = 0;

	if (s == NULL)
		return -ENOMEM;
	deliver_lock(s);
	if (s->routed >= 0) {
		if (write(s->routed, &v, sizeof(v)) != sizeof(v) &&
		    errno != EAGAIN)
			r = -errno;
		/* Off the daemon's path, yet seen: counted as the relay
		 * counts one read of the trigger (routed, the vector is
		 * deliverable: one write carries them all). */
		else if (count != 0)
			(void)vector_fire(&s->vec, count);
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	pthread_mutex_unlock(&s->lock);
	fd = sim_trigger(dev, slot);

	if (fd < 0)
		return fd;
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	return 0;
}

static int
sim_trigger_dup(struct device *dev, uint32_t slot)
{
	int fd = sim_trigger(dev, slot);

	if (fd < 0)
		return fd;
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return fd < 0 ? -errno : fd;
}

const struct backend_ops sim_backend_ops = {
	.name = "sim",
	.open = sim_open,
	.close = sim_close,
	.arm = sim_arm,
	.disarm = sim_disarm,
	.fire = sim_fire,
	.trigger_dup = sim_trigger_dup,
	.route = sim_route,
	.save = NULL,  /* only triggers, which device.c hands over */
	.adopt = sim_adopt,
};
