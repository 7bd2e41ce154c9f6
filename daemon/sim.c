/*
 * The sim backend: a software interrupt message store of N slots, each a
 * trigger eventfd. Firing a slot is a write to its trigger, by
 * SIM_FIRE (msivctl fire), or by any process holding a trigger handed out
 * with SIM_TRIGGERS (tests, benchmarks). Slots are always armed: the host
 * side exists from open (rule 9 holds trivially).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "device.h"

static void
sim_close(struct device *dev)
{
	for (uint32_t i = 0; i < dev->nslots; i++) {
		if (dev->slots[i].trigger >= 0)
			close(dev->slots[i].trigger);
		dev->slots[i].trigger = -1;
	}
}

static int
sim_open(struct device *dev, const struct conf_device *cd)
{
	(void)cd;
	for (uint32_t i = 0; i < dev->nslots; i++) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (fd < 0) {
			int r = -errno;

			sim_close(dev);
			return r;
		}
		dev->slots[i].trigger = fd;
	}
	return 0;
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

static int
sim_fire(struct device *dev, uint32_t slot, uint32_t count)
{
	uint64_t v = count;

	if (write(dev->slots[slot].trigger, &v, sizeof(v)) != sizeof(v))
		return -errno;
	return 0;
}

static int
sim_trigger_dup(struct device *dev, uint32_t slot)
{
	int fd = fcntl(dev->slots[slot].trigger, F_DUPFD_CLOEXEC, 3);

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
};
