/*
 * Device registry: creation from the configuration, the backend seam, and
 * slot allocation. Backends implement struct backend_ops (sim.c today).
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "deliver.h"
#include "device.h"
#include "handover.h"
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

/* Create a device: opened (r NULL), or adopted from a handover's state. */
static int
device_make(const struct conf_device *cd, struct ho_rd *r, struct device **out)
{
	struct device *dev;
	int e;

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
	if (r != NULL)
		e = dev->ops->adopt != NULL ? dev->ops->adopt(dev, cd, r) :
		    ho_fail("device %s: the %s backend cannot be adopted",
		    cd->name, cd->backend);
	else if ((e = dev->ops->open(dev, cd)) < 0) {
		errno = -e;
		log_warn("device %s: cannot open %s backend", cd->name,
		    cd->backend);
	}
	if (e < 0)
		goto fail;
	TAILQ_INSERT_TAIL(&devices, dev, entry);
	log_info("device %s: %s backend, %u slots, %s policy", dev->name,
	    dev->ops->name, dev->nslots, conf_policy_name(dev->policy));
	if (out != NULL)
		*out = dev;
	return 0;
fail:
	r = NULL;
	/* The backend unwatched what it watched: wait until the delivery
	 * loop holds no pointer to the slots. */
	deliver_sync();
	for (uint32_t i = 0; i < dev->nslots; i++)
		pthread_mutex_destroy(&dev->slots[i].lock);
	free(dev->slots);
	free(dev);
	return e;
}

int
device_create(const struct conf_device *cd, struct device **out)
{
	return device_make(cd, NULL, out);
}

/* --- handover (handover.c) ------------------------------------------------ */

void
device_handover_save(struct device *dev, struct ho_buf *b)
{
	uint32_t n = 0;

	ho_put(b, &dev->conf, sizeof(dev->conf));
	ho_put_u32(b, dev->nslots);
	ho_put_u32(b, dev->lost != NULL);
	if (dev->ops->save != NULL)
		dev->ops->save(dev, b);
	for (uint32_t i = 0; i < dev->nslots; i++)
		n += atomic_load(&dev->slots[i].trigger) >= 0;
	ho_put_u32(b, n);
	for (uint32_t i = 0; i < dev->nslots; i++) {
		int fd = atomic_load(&dev->slots[i].trigger);

		if (fd < 0)
			continue;
		ho_put_u32(b, i);
		ho_put_fd(b, fd);
	}
}

int
device_handover_adopt(struct ho_rd *r)
{
	struct conf_device cd;
	struct device *dev;
	uint32_t nslots, lost, n;
	int e;

	ho_get(r, &cd, sizeof(cd));
	nslots = ho_get_u32(r);
	lost = ho_get_u32(r);
	if (r->err != 0)
		return ho_fail("the state is cut short (a device)");
	cd.name[sizeof(cd.name) - 1] = '\0';
	cd.backend[sizeof(cd.backend) - 1] = '\0';
	cd.address[sizeof(cd.address) - 1] = '\0';
	if (device_find(cd.name) != NULL)
		return ho_fail("device %s is in the state twice", cd.name);
	if (device_backend(cd.backend) == NULL)
		return ho_fail("device %s: backend %s is not this msivd's",
		    cd.name, cd.backend);
	if ((e = device_make(&cd, r, &dev)) < 0)
		return e == -EINVAL ? e : ho_fail("device %s: %s", cd.name,
		    strerror(-e));
	if (dev->nslots != nslots)
		return ho_fail("device %s: %u slots handed over, %u adopted",
		    cd.name, nslots, dev->nslots);
	n = ho_get_u32(r);
	for (uint32_t i = 0; i < n && r->err == 0; i++) {
		uint32_t slot = ho_get_u32(r);
		int fd = ho_get_fd(r);
		struct slot *s;

		if (r->err != 0 || slot >= dev->nslots || fd < 0) {
			if (fd >= 0)
				close(fd);
			return ho_fail("device %s: a trigger of slot %u", cd.name,
			    slot);
		}
		s = &dev->slots[slot];
		if (atomic_load(&s->trigger) >= 0) {
			close(fd);
			return ho_fail("device %s: slot %u has two triggers",
			    cd.name, slot);
		}
		atomic_store_explicit(&s->trigger, fd, memory_order_release);
		if ((e = deliver_add(s)) < 0)
			return ho_fail("device %s: cannot watch slot %u: %s",
			    cd.name, slot, strerror(-e));
	}
	if (r->err != 0)
		return ho_fail("the state is cut short (device %s)", cd.name);
	log_info("device %s: adopted from the old msivd (%u triggers)%s",
	    cd.name, n, lost ? "; it was going away" : "");
	if (lost)
		device_lost(dev, "it was going away before the restart");
	return 0;
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
