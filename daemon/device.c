/*
 * Device registry: creation from the configuration, the backend seam, and
 * slot allocation. Backends implement struct backend_ops (sim.c today).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "deliver.h"
#include "device.h"
#include "log.h"

struct device_list devices = TAILQ_HEAD_INITIALIZER(devices);
static struct event_base *device_evbase;
static int device_lost_efd = -1;

static const struct backend_ops *const backends[] = {
	&sim_backend_ops,
	&vfio_backend_ops,
};

static const struct backend_ops *
device_backend(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

int
device_init(struct event_base *base)
{
	device_evbase = base;
	if (device_lost_efd < 0 &&
	    (device_lost_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return -errno;
	return 0;
}

struct event_base *
device_base(void)
{
	return device_evbase;
}

int
device_create(const struct conf_device *cd, struct device **out)
{
	struct device *dev;
	int r;

	if (device_find(cd->name) != NULL) {
		log_warnx("device %s: defined twice", cd->name);
		return -EEXIST;
	}
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return -ENOMEM;
	memcpy(dev->name, cd->name, sizeof(dev->name));
	dev->conf = *cd;
	dev->ops = device_backend(cd->backend);
	if (dev->ops == NULL) {
		log_warnx("device %s: unknown backend %s", cd->name, cd->backend);
		free(dev);
		return -EINVAL;
	}
	dev->policy = cd->policy;
	dev->nslots = cd->slots;
	dev->slots = calloc(dev->nslots, sizeof(*dev->slots));
	if (dev->slots == NULL) {
		free(dev);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = &dev->slots[i];

		pthread_mutex_init(&s->lock, NULL);
		/* A slot no vfunc owns is disabled: its interrupts drop. */
		vector_init(&s->vec, dev->policy);
		s->target = -1;
		s->trigger = -1;
		s->routed = -1;
		s->index = i;
		s->dev = dev;
	}
	r = dev->ops->open(dev, cd);
	if (r < 0) {
		errno = -r;
		log_warn("device %s: cannot open %s backend", cd->name,
		    cd->backend);
		goto fail;
	}
	TAILQ_INSERT_TAIL(&devices, dev, entry);
	log_info("device %s: %s backend, %u slots, %s policy", dev->name,
	    dev->ops->name, dev->nslots, conf_policy_name(dev->policy));
	if (out != NULL)
		*out = dev;
	return 0;
fail:
	/* The backend unwatched what it watched: wait until the delivery
	 * loop holds no pointer to the slots. */
	deliver_sync();
	for (uint32_t i = 0; i < dev->nslots; i++)
		pthread_mutex_destroy(&dev->slots[i].lock);
	free(dev->slots);
	free(dev);
	return r;
}

void
device_destroy(struct device *dev)
{
	TAILQ_REMOVE(&devices, dev, entry);
	for (uint32_t i = 0; i < dev->nslots; i++)
		deliver_del(&dev->slots[i]);
	deliver_sync(); /* the loop holds no pointer to these slots now */
	dev->ops->close(dev);
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = &dev->slots[i];

		if (s->target >= 0)
			close(s->target);
		pthread_mutex_destroy(&s->lock);
	}
	free(dev->slots);
	free(dev);
}

void
device_lost(struct device *dev, const char *why)
{
	uint64_t one = 1;

	if (dev->lost != NULL)
		return; /* told twice (request IRQ, uevent): once will do */
	log_warnx("device %s (%s): %s; releasing it", dev->name,
	    dev->conf.address[0] ? dev->conf.address : dev->ops->name, why);
	dev->lost = why;
	/* Cannot fail short of a counter at its maximum, which it is not:
	 * device_lost_clear() reads it back to 0 before every release. */
	if (write(device_lost_efd, &one, sizeof(one)) != sizeof(one))
		log_warn("device %s: cannot signal its loss", dev->name);
}

int
device_lost_fd(void)
{
	return device_lost_efd;
}

void
device_lost_clear(void)
{
	uint64_t n;

	(void)!read(device_lost_efd, &n, sizeof(n));
}

struct device *
device_next_lost(void)
{
	struct device *dev;

	TAILQ_FOREACH(dev, &devices, entry)
		if (dev->lost != NULL)
			return dev;
	return NULL;
}

void
device_destroy_all(void)
{
	struct device *dev;

	while ((dev = TAILQ_FIRST(&devices)) != NULL)
		device_destroy(dev);
}

struct device *
device_find(const char *name)
{
	struct device *dev;

	TAILQ_FOREACH(dev, &devices, entry)
		if (strcmp(dev->name, name) == 0)
			return dev;
	return NULL;
}

uint32_t
device_count(void)
{
	struct device *dev;
	uint32_t n = 0;

	TAILQ_FOREACH(dev, &devices, entry)
		n++;
	return n;
}

int
device_find_free(struct device *dev, uint32_t n, uint32_t *first)
{
	uint32_t run = 0;

	if (n == 0 || n > dev->nslots - dev->used)
		return -ENOSPC;
	for (uint32_t i = 0; i < dev->nslots; i++) {
		run = dev->slots[i].vfunc == NULL ? run + 1 : 0;
		if (run == n) {
			*first = i + 1 - n;
			return 0;
		}
	}
	return -ENOSPC; /* enough free slots, but fragmented */
}

unsigned int
slot_route(struct slot *s, unsigned int act)
{
	int want = -1;

	if (s->dev->ops->route == NULL)
		return act;
	if (s->direct && s->target >= 0 && vector_deliverable(&s->vec))
		want = s->target;
	if (want == s->routed)
		return act;
	if (s->dev->ops->route(s->dev, s->index, want) < 0) {
		/* The device cannot signal there: stay (or fall back to
		 * being) relayed through the daemon. */
		log_warn("device %s slot %u: cannot route its interrupts",
		    s->dev->name, s->index);
		if (want >= 0 && s->dev->ops->route(s->dev, s->index, -1) == 0)
			s->routed = -1;
	} else
		s->routed = want;
	/* The trigger moved (or a failed move left it anywhere): an
	 * interrupt raised meanwhile may be gone. At-least-once. */
	return vector_rerouted(&s->vec, act);
}

int
slot_target_take(struct slot *s)
{
	int fd = s->target;

	s->target = -1;
	return fd;
}

void
slot_target_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
