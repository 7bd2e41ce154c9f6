/*
 * Device registry: creation from the configuration, the backend seam, and
 * slot allocation. Backends implement struct backend_ops (sim.c today).
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver.h"
#include "device.h"
#include "fdstore.h"
#include "hostate.h"
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

static int device_fdstore_adopt(struct device *dev,
    const struct conf_device *cd);
static void device_fdstore_drop(const struct conf_device *cd);

/* Devices made so far: shards taken in turn (slot_shard). */
static uint32_t device_turns;

unsigned int
slot_shard(const struct slot *s)
{
	struct device *dev = s->dev;
	uint32_t sh = (dev->conf.flags & MSIV_ATTACH_SHARD_MASK) >>
	    MSIV_ATTACH_SHARD_SHIFT;
	unsigned int n = deliver_shard_count();
	uint64_t cpus[MSIV_CPUS_WORDS];

	if (n <= 1)
		return 0;
	if (sh == MSIV_ATTACH_SHARD_SPREAD)
		return s->index % n;
	if (sh >= MSIV_ATTACH_SHARD_FIXED)
		return (sh - MSIV_ATTACH_SHARD_FIXED) % n;
	/* auto: where the host IRQ is handled, so the wakeup stays on its
	 * CPU's shard; a slot with no IRQ yet (vfio: before its vfunc
	 * arms it) goes by device. */
	if (dev->ops->irq_cpus != NULL &&
	    dev->ops->irq_cpus(dev, s->index, cpus) == 0)
		for (unsigned int c = 0; c < 64 * MSIV_CPUS_WORDS; c++) {
			int k;

			if (!(cpus[c / 64] & (1ull << (c % 64))))
				continue;
			if ((k = deliver_shard_of_cpu(c)) >= 0)
				return (unsigned int)k;
		}
	return dev->turn % n;
}

struct slot *
device_slot_make(struct device *dev, uint32_t i)
{
	struct slot *c;
	uint32_t k = i / DEVICE_CHUNK;

	if (dev->chunks[k] != NULL)
		return &dev->chunks[k][i % DEVICE_CHUNK];
	/* Line-aligned: a slot (a multiple of 64 bytes) spans no more
	 * cache lines than it must, for the delivery loop's sake. */
	if ((c = aligned_alloc(64, DEVICE_CHUNK * sizeof(*c))) == NULL)
		return NULL;
	memset(c, 0, DEVICE_CHUNK * sizeof(*c));
	for (uint32_t j = 0; j < DEVICE_CHUNK; j++) {
		struct slot *s = &c[j];

		pthread_mutex_init(&s->lock, NULL);
		/* A slot no vfunc owns is disabled: its interrupts drop. */
		vector_init(&s->vec, dev->policy);
		s->target = -1;
		s->trigger = -1;
		s->routed = -1;
		s->index = k * DEVICE_CHUNK + j;
		s->dev = dev;
	}
	/* Published to the control thread only: the delivery loops reach
	 * a slot through the pointer deliver_add() gave them. */
	dev->chunks[k] = c;
	return &c[i % DEVICE_CHUNK];
}

int
device_slots_make(struct device *dev, uint32_t first, uint32_t n)
{
	for (uint32_t i = first; i < first + n; i++) {
		if (device_slot_make(dev, i) == NULL)
			return -ENOMEM;
		i |= DEVICE_CHUNK - 1; /* the rest of its chunk is made */
	}
	return 0;
}

/* Once nothing watches them (deliver_sync() since): the chunks. */
static void
device_free_slots(struct device *dev)
{
	for (uint32_t k = 0; k < dev->nchunks; k++) {
		if (dev->chunks[k] == NULL)
			continue;
		for (uint32_t j = 0; j < DEVICE_CHUNK; j++)
			pthread_mutex_destroy(&dev->chunks[k][j].lock);
		free(dev->chunks[k]);
	}
	free(dev->chunks);
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
	dev->turn = device_turns++;
	dev->nchunks = (dev->nslots + DEVICE_CHUNK - 1) / DEVICE_CHUNK;
	dev->chunks = calloc(dev->nchunks, sizeof(*dev->chunks));
	if (dev->chunks == NULL) {
		free(dev);
		return -ENOMEM;
	}
	dev->state_fd = -1;
	if (r != NULL)
		e = dev->ops->adopt != NULL ? dev->ops->adopt(dev, cd, r) :
		    ho_fail("device %s: the %s backend cannot be adopted",
		    cd->name, cd->backend);
	else if ((e = device_fdstore_adopt(dev, cd)) == 0)
		; /* taken back from systemd's fd store after a crash */
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
	device_fdstore_put(dev);
	if (out != NULL)
		*out = dev;
	return 0;
fail:
	r = NULL;
	/* The backend unwatched what it watched: wait until the delivery
	 * loop holds no pointer to the slots. */
	deliver_sync();
	device_free_slots(dev);
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
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = device_slot(dev, i);

		n += s != NULL && atomic_load(&s->trigger) >= 0;
	}
	ho_put_u32(b, n);
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = device_slot(dev, i);
		int fd = s != NULL ? atomic_load(&s->trigger) : -1;

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
		if ((s = device_slot_make(dev, slot)) == NULL) {
			close(fd);
			return ho_fail("device %s: no memory for slot %u",
			    cd.name, slot);
		}
		if (atomic_load(&s->trigger) >= 0) {
			close(fd);
			return ho_fail("device %s: slot %u has two triggers",
			    cd.name, slot);
		}
		atomic_store_explicit(&s->trigger, fd, memory_order_release);
		if ((e = deliver_add(s, slot_shard(s))) < 0)
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

/* --- systemd's fd store (fdstore.c) -------------------------------------- */

/* A slot of the device's own (not a lazy vfunc's parked vector, which
 * has no index). */
static bool
slot_on_device(const struct slot *s)
{
	return s->dev != NULL && s->index < s->dev->nslots &&
	    device_slot(s->dev, s->index) == s;
}

void
slot_fdstore_target(struct slot *s)
{
	char name[MSIV_NAME_MAX + 32];

	if (!fdstore_on() || !slot_on_device(s))
		return;
	snprintf(name, sizeof(name), "tgt.%s.%u", s->dev->name, s->index);
	fdstore_remove(name);
	if (s->target >= 0)
		fdstore_put(name, &s->target, 1);
}

void
slot_fdstore_trigger(struct slot *s)
{
	char name[MSIV_NAME_MAX + 32];
	int fd = atomic_load(&s->trigger);

	if (!fdstore_on() || !slot_on_device(s) || fd < 0)
		return;
	snprintf(name, sizeof(name), "trig.%s.%u", s->dev->name, s->index);
	fdstore_put(name, &fd, 1);
}

/* The backend's own state (ops->save), its fds by index. */
void
device_fdstore_sync(struct device *dev)
{
	struct ho_buf b = { 0 };
	char name[MSIV_NAME_MAX + 16];

	if (!fdstore_on() || dev->ops->save == NULL)
		return;
	dev->ops->save(dev, &b);
	if (b.err == 0 && dev->state_fd < 0) {
		if ((dev->state_fd = memfd_create("msivd-device-state",
		    MFD_CLOEXEC)) < 0)
			b.err = -errno;
		else {
			snprintf(name, sizeof(name), "dev.%s.state", dev->name);
			fdstore_put(name, &dev->state_fd, 1);
		}
	}
	if (b.err == 0 && (ftruncate(dev->state_fd, 0) < 0 ||
	    pwrite(dev->state_fd, b.p, b.len, 0) != (ssize_t)b.len))
		b.err = -errno;
	if (b.err != 0) {
		errno = -b.err;
		log_warn("device %s: fd store: cannot keep its state; a crash "
		    "resets it", dev->name);
	}
	free(b.p);
	free(b.fds);
}

/*
 * Each fd goes in a notification of its own, under its own name (see
 * fdstore.c). 2048 slots' triggers take as many small datagrams, at
 * start-up only.
 */
void
device_fdstore_put(struct device *dev)
{
	struct ho_buf b = { 0 };
	char name[MSIV_NAME_MAX + 32];

	if (!fdstore_on())
		return;
	if (dev->ops->save != NULL) {
		dev->ops->save(dev, &b);
		for (uint32_t i = 0; b.err == 0 && i < b.nfds; i++) {
			snprintf(name, sizeof(name), "dev.%s.fd%u", dev->name,
			    i);
			fdstore_put(name, &b.fds[i], 1);
		}
		free(b.p);
		free(b.fds);
		device_fdstore_sync(dev);
	}
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = device_slot(dev, i);

		if (s != NULL)
			slot_fdstore_trigger(s);
	}
}

struct fdstore_trig {
	struct device *dev;
	size_t len;
	int err;
};

static void
device_fdstore_any(const char *name, int *fd, void *arg)
{
	(void)name;
	(void)fd;
	*(int *)arg = 1;
}

/* trig.NAME.SLOT: a slot's trigger. */
static void
device_fdstore_trigger(const char *name, int *fd, void *arg)
{
	struct fdstore_trig *t = arg;
	unsigned int slot;
	struct slot *s;
	char end;

	if (sscanf(name + t->len, "%u%c", &slot, &end) != 1 ||
	    slot >= t->dev->nslots) {
		t->err = -EINVAL;
		return;
	}
	if ((s = device_slot_make(t->dev, slot)) == NULL) {
		t->err = -ENOMEM;
		return;
	}
	if (atomic_load(&s->trigger) >= 0) {
		t->err = -EINVAL;
		return;
	}
	atomic_store_explicit(&s->trigger, *fd, memory_order_release);
	*fd = -1; /* ours now */
	if (deliver_add(s, slot_shard(s)) < 0)
		t->err = -ENOMEM;
}

/*
 * After a crash under systemd: take the device back from the fd store
 * (its backend's fds and state, its triggers) instead of opening it.
 * 0, or -ENOENT: nothing kept (open it); another -errno: what was kept
 * does not hold, and it is opened afresh.
 */
static int
device_fdstore_adopt(struct device *dev, const struct conf_device *cd)
{
	char name[MSIV_NAME_MAX + 32];
	struct fdstore_trig t = { dev, 0, 0 };
	struct ho_rd rd = { 0 };
	int sfd, fds[8], e = 0;
	uint8_t *blob = NULL;
	struct stat sb;

	snprintf(name, sizeof(name), "trig.%s.", cd->name);
	t.len = strlen(name);
	if (dev->ops->save != NULL) {
		snprintf(name, sizeof(name), "dev.%s.state", cd->name);
		if (fdstore_take(name, &sfd, 1) != 1)
			return -ENOENT;
		for (rd.nfds = 0; rd.nfds < 8; rd.nfds++) {
			snprintf(name, sizeof(name), "dev.%s.fd%u", cd->name,
			    rd.nfds);
			if (fdstore_take(name, &fds[rd.nfds], 1) != 1)
				break;
		}
		rd.fds = fds;
		if (fstat(sfd, &sb) < 0 || sb.st_size <= 0 ||
		    sb.st_size > (1 << 24) ||
		    (blob = malloc((size_t)sb.st_size)) == NULL ||
		    pread(sfd, blob, (size_t)sb.st_size, 0) != sb.st_size)
			e = -EINVAL;
		rd.p = blob;
		rd.len = e == 0 ? (size_t)sb.st_size : 0;
		if (e == 0)
			e = dev->ops->adopt(dev, cd, &rd);
		free(blob);
		dev->state_fd = sfd;
		for (uint32_t i = 0; i < rd.nfds; i++)
			if (fds[i] >= 0) {
				close(fds[i]);
				e = e == 0 ? -EINVAL : e;
			}
		if (e < 0) {
			log_warnx("device %s: what the fd store kept of it does "
			    "not hold; opening it afresh (it is reset)",
			    cd->name);
			close(sfd);
			dev->state_fd = -1;
			dev->ops->close(dev);
			device_fdstore_drop(cd);
			return e;
		}
	} else {
		/* A backend with nothing but triggers (sim), made on first
		 * use: those kept are taken back, the others made anew. */
		int any = 0;

		fdstore_each(name, device_fdstore_any, &any);
		if (!any)
			return -ENOENT;
		if ((e = dev->ops->open(dev, cd)) < 0)
			return e;
	}
	snprintf(name, sizeof(name), "trig.%s.", cd->name);
	fdstore_each(name, device_fdstore_trigger, &t);
	for (uint32_t i = 0; i < dev->nslots && dev->ops->save != NULL; i++) {
		struct slot *s = device_slot(dev, i);

		if (s == NULL || atomic_load(&s->trigger) < 0)
			t.err = -EINVAL;
	}
	if (t.err < 0 && dev->ops->save != NULL) {
		log_warnx("device %s: the triggers kept in the fd store do not "
		    "hold; opening it afresh (it is reset)", cd->name);
		dev->ops->close(dev);
		close(dev->state_fd);
		dev->state_fd = -1;
		device_fdstore_drop(cd);
		return t.err;
	}
	log_info("device %s: taken back from the fd store after a crash (not "
	    "reset)", cd->name);
	return 0;
}

/* What the store keeps of a device that could not be taken back: let go,
 * so that it can be opened (a VFIO group opens once). systemd closes its
 * copies in its own time: should the open still find the group busy,
 * msivd exits and its next start (Restart=) finds nothing kept. */
static void
device_fdstore_drop(const struct conf_device *cd)
{
	char name[MSIV_NAME_MAX + 32];

	snprintf(name, sizeof(name), "dev.%s.state", cd->name);
	fdstore_remove(name);
	for (uint32_t i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "dev.%s.fd%u", cd->name, i);
		fdstore_remove(name);
	}
	for (uint32_t i = 0; i < cd->slots; i++) {
		snprintf(name, sizeof(name), "trig.%s.%u", cd->name, i);
		fdstore_remove(name);
	}
}

void
device_fdstore_forget(struct device *dev)
{
	char name[MSIV_NAME_MAX + 32];

	if (dev->state_fd >= 0)
		close(dev->state_fd);
	dev->state_fd = -1;
	if (!fdstore_on())
		return;
	snprintf(name, sizeof(name), "dev.%s.state", dev->name);
	fdstore_remove(name);
	for (uint32_t i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "dev.%s.fd%u", dev->name, i);
		fdstore_remove(name);
	}
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = device_slot(dev, i);

		if (s == NULL || atomic_load(&s->trigger) < 0)
			continue;
		snprintf(name, sizeof(name), "trig.%s.%u", dev->name, i);
		fdstore_remove(name);
	}
}

void
device_destroy(struct device *dev)
{
	TAILQ_REMOVE(&devices, dev, entry);
	device_fdstore_forget(dev);
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = device_slot(dev, i);

		if (s != NULL)
			deliver_del(s);
	}
	deliver_sync(); /* the loop holds no pointer to these slots now */
	dev->ops->close(dev);
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = device_slot(dev, i);

		if (s != NULL && s->target >= 0)
			close(s->target);
	}
	device_free_slots(dev);
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
		const struct slot *s = device_slot(dev, i);

		run = s == NULL || !s->owned ? run + 1 : 0;
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
slot_target_set(struct slot *s, int fd)
{
	int old = s->target;

	s->target = fd;
	if (old != fd)
		slot_fdstore_target(s);
	if (old >= 0)
		deliver_target_dropped(s);
	return old;
}

int
slot_target_take(struct slot *s)
{
	return slot_target_set(s, -1);
}

void
slot_target_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
