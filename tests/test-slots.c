/*
 * Unit test of a device's slot chunks (daemon/device.c, device.h): a chunk
 * of DEVICE_CHUNK slots is made when one of its slots is first needed (a
 * vfunc opened on it, a lazy vector bound to it, a sim slot fired), and
 * only then; it stays when the vfuncs holding its slots close, so a slot's
 * pointer is the same for the device's life (the delivery loop holds it);
 * the device's destruction frees them. A vector on a chunk's slot
 * delivers through the real epoll loop, and keeps delivering after other
 * chunks are made. No daemon, no store: the layers below the commands.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <msiv/protocol.h>

#include "deliver.h"
#include "device.h"
#include "log.h"
#include "tap.h"
#include "vfunc.h"

#define NSLOTS 1000u /* 16 chunks, the last one partly past the end */

/* Chunks made: a bit each (NSLOTS / DEVICE_CHUNK <= 64). */
static uint64_t
chunks_made(const struct device *dev)
{
	uint64_t m = 0;

	for (uint32_t k = 0; k < dev->nchunks; k++)
		if (dev->chunks[k] != NULL)
			m |= 1ull << k;
	return m;
}

/* Wait up to 5 s for the target to be written; what it held (0: none). */
static uint64_t
target_wait(int efd)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, 5000) != 1 || read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* Vector 0 of vf: enabled, unmasked, with target efd (the vector
 * operations' own sequence, without the commands and the store). */
static void
vector_ready(struct vfunc *vf, int efd)
{
	struct slot *s = vfunc_vec_lock(vf, 0);
	unsigned int act;

	act = vector_set_enabled(&s->vec, true);
	act |= (unsigned int)vector_setup(&s->vec, 0xfee00000u, 0x41, true);
	s->target = fcntl(efd, F_DUPFD_CLOEXEC, 0); /* the vector's own, as a
							 SETUP's would be */
	deliver_actions(s, act);
	pthread_mutex_unlock(&s->lock);
}

int
main(void)
{
	struct conf_device cd;
	struct device *dev;
	struct vfunc *vf, *lz, *again;
	struct slot *p5, *p99, *p700, *q;
	char tenant[MSIV_NAME_MAX] = "t"; /* vfunc_create copies it whole */
	uint32_t first = MSIV_SLOT_NONE;
	int efd, r;

	log_init(1, LOG_LEVEL_WARN);
	if ((r = deliver_init("epoll", 1)) < 0 || (r = deliver_start()) < 0) {
		tap_diag("delivery loop: %s", strerror(-r));
		return 99;
	}
	memset(&cd, 0, sizeof(cd));
	strcpy(cd.name, "sim0");
	strcpy(cd.backend, "sim");
	cd.slots = NSLOTS;
	cd.policy = VECTOR_POLICY_LATCH;
	if ((r = device_create(&cd, &dev)) < 0) {
		tap_diag("device_create: %s", strerror(-r));
		return 99;
	}
	tap_ok(dev->nchunks == (NSLOTS + DEVICE_CHUNK - 1) / DEVICE_CHUNK &&
	    chunks_made(dev) == 0 && device_slot(dev, 0) == NULL &&
	    device_slot(dev, NSLOTS - 1) == NULL,
	    "a %u-slot device: %u chunks, none made", NSLOTS, dev->nchunks);

	/* A vfunc of 100 vectors: slots 0-99, chunks 0 and 1. */
	r = device_find_free(dev, 100, &first);
	tap_ok(r == 0 && first == 0, "100 free slots at 0 (none made yet)");
	r = vfunc_create(dev, 1, first, 100, VECTOR_POLICY_LATCH, false, tenant,
	    &vf);
	tap_ok(r == 0 && chunks_made(dev) == 0x3,
	    "a vfunc on slots 0-99 makes chunks 0 and 1 only (made 0x%llx)",
	    (unsigned long long)chunks_made(dev));
	p5 = device_slot(dev, 5);
	p99 = device_slot(dev, 99);
	q = device_slot(dev, 100);
	tap_ok(p5 != NULL && p5->owned && p5->index == 5 && p5->dev == dev &&
	    p5->target == -1 && p5->routed == -1 &&
	    atomic_load(&p5->trigger) == -1 && p5 == vfunc_slot(vf, 5) &&
	    q != NULL && !q->owned && q->index == 100,
	    "its slots: owned, numbered, no target, no trigger; the rest of "
	    "chunk 1 free");

	/* Delivery through a chunk's slot (the loop watches its pointer). */
	if ((efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		tap_diag("eventfd: %s", strerror(errno));
		return 99;
	}
	vector_ready(vf, efd);
	r = dev->ops->fire(dev, 0, 1);
	tap_ok(r == 0 && target_wait(efd) == 1,
	    "slot 0 fired: delivered to vector 0's target");

	/* A lazy vector bound to slot 700: chunk 10, nothing else. */
	r = vfunc_create(dev, 2, MSIV_SLOT_NONE, 10, VECTOR_POLICY_LATCH, true,
	    tenant, &lz);
	tap_ok(r == 0 && chunks_made(dev) == 0x3,
	    "a lazy vfunc makes no chunk before a vector is bound");
	r = vfunc_bind(lz, 3, 700);
	p700 = device_slot(dev, 700);
	tap_ok(r == 0 && chunks_made(dev) == (0x3 | 1ull << 10) &&
	    p700 != NULL && p700->owned && vfunc_slot(lz, 3) == p700,
	    "binding a lazy vector to slot 700 makes chunk 10");

	/* SIM_FIRE on a slot nobody holds: its chunk and trigger are made,
	 * the interrupt dropped (the slot is disabled). */
	r = dev->ops->fire(dev, 900, 1);
	q = device_slot(dev, 900);
	tap_ok(r == 0 && q != NULL && atomic_load(&q->trigger) >= 0 &&
	    !q->owned &&
	    chunks_made(dev) == (0x3 | 1ull << 10 | 1ull << 14),
	    "firing unowned slot 900 makes chunk 14 and its trigger");
	r = dev->ops->fire(dev, 0, 2);
	tap_ok(r == 0 && target_wait(efd) >= 1,
	    "slot 0 still delivers after other chunks were made");

	/* Close: the slots go back, the chunks and their pointers stay. */
	vfunc_close(vf, false);
	vfunc_unbind(lz, 3);
	tap_ok(chunks_made(dev) == (0x3 | 1ull << 10 | 1ull << 14) &&
	    device_slot(dev, 5) == p5 && !p5->owned && p5->target == -1 &&
	    device_slot(dev, 700) == p700 && !p700->owned &&
	    atomic_load(&device_slot(dev, 0)->trigger) >= 0,
	    "closed and unbound: free again, chunks kept, pointers and "
	    "triggers unchanged");
	r = device_find_free(dev, 100, &first);
	tap_ok(r == 0 && first == 0, "slots 0-99 are free again");
	r = vfunc_create(dev, 3, first, 100, VECTOR_POLICY_LATCH, false, tenant,
	    &again);
	tap_ok(r == 0 && vfunc_slot(again, 5) == p5 &&
	    vfunc_slot(again, 99) == p99 && p5->owned &&
	    chunks_made(dev) == (0x3 | 1ull << 10 | 1ull << 14),
	    "a new vfunc on them gets the same slots, no new chunk");

	/* A vfunc past every made chunk; the last chunk holds slots past
	 * nslots, which nothing may take. */
	r = device_find_free(dev, 40, &first);
	tap_ok(r == 0 && first == 100, "40 more free slots at 100");
	r = device_find_free(dev, NSLOTS, &first);
	tap_ok(r == -ENOSPC, "no more than the free slots: ENOSPC");
	vfunc_close(again, false);
	vfunc_close(lz, false);

	/* The device goes with its chunks (ASan and valgrind see a leak or
	 * a use after free here). */
	device_destroy(dev);
	tap_ok(device_find("sim0") == NULL, "device destroyed with 4 chunks");
	deliver_stop();
	close(efd);
	return tap_done();
}
