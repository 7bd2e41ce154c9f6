/*
 * Devices and their slots. A device owns a message store of nslots slots
 * (one host vector each); its backend (sim.c or vfio.c) sits behind struct
 * backend_ops. Each slot (struct slot, deliver.h: the delivery path's unit)
 * carries the state of the virtual vector it backs: the struct vector and
 * the target fd, guarded by the slot's lock (doc/delivery.md).
 *
 * The slots come in chunks of DEVICE_CHUNK, a chunk allocated when one of
 * its slots is first needed (a vfunc takes it, or the backend makes its
 * trigger: sim on first use, vfio all at open), so that a large message
 * store nobody uses costs a pointer per chunk, not a struct slot per slot.
 * A chunk stays until the device is destroyed, even once no vfunc holds
 * any of its slots: its slots' triggers stay made and watched (a trigger
 * is set once per slot, the backends' and the handover's contract), the
 * delivery loops hold pointers to them, and a slot given back is taken
 * again soon (the same device, the same tenants). So a slot pointer is
 * stable for the device's life; reach slots through device_slot().
 */
#ifndef MSIVD_DEVICE_H
#define MSIVD_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <msiv/protocol.h>

#include "conf.h"
#include "deliver.h"
#include "vector.h"

struct device;
struct event_base;
struct ho_buf;
struct ho_rd;
struct vfunc;

struct backend_ops {
	const char *name;
	/* Open the device. A backend sets a slot's trigger and watches it
	 * (deliver_add) when it opens it, at once or on first use. */
	int (*open)(struct device *dev, const struct conf_device *cd);
	void (*close)(struct device *dev);
	/* Host side first (rule 9): make slots [first, first + n) raise
	 * their triggers, before any vector of them can be deliverable. */
	int (*arm)(struct device *dev, uint32_t first, uint32_t n);
	void (*disarm)(struct device *dev, uint32_t first, uint32_t n);
	/* Optional (NULL: -EOPNOTSUPP): raise count interrupts on a slot;
	 * hand out a duplicate of a slot's trigger fd. */
	int (*fire)(struct device *dev, uint32_t slot, uint32_t count);
	int (*trigger_dup)(struct device *dev, uint32_t slot);
	/* Optional (NULL: no direct mode): make the device signal fd for
	 * this slot (-1: the daemon's trigger); once it returns nothing is
	 * signalled to the fd routed before. An interrupt raised while it
	 * runs may be lost (VFIO: the old host IRQ is freed before the new
	 * one is requested); slot_route() makes up for it. Called with the
	 * slot's lock held. */
	int (*route)(struct device *dev, uint32_t slot, int fd);
	/* Optional (NULL: -EOPNOTSUPP): the host IRQ behind a slot, its
	 * CPU affinity set to cpus first unless NULL; fills rep (irq and
	 * the affinity in effect). */
	int (*irq_affinity)(struct device *dev, uint32_t slot,
	    const uint64_t *cpus, struct msiv_affinity_rep *rep);
	/* Optional (NULL: none known): the CPUs the slot's host IRQ is
	 * affine to (0), or -1; cheap when asked for many slots in a row,
	 * and quiet (slot_shard). */
	int (*irq_cpus)(struct device *dev, uint32_t slot,
	    uint64_t cpus[MSIV_CPUS_WORDS]);
	/* Optional (NULL: the backend holds nothing but its slots'
	 * triggers): handover (handover.c). save writes what the backend
	 * holds open and knows; adopt takes it instead of open, touching the
	 * device as little as it can (no reset, no VFIO_DEVICE_SET_IRQS).
	 * The slots' triggers are device.c's to hand over. */
	void (*save)(struct device *dev, struct ho_buf *b);
	int (*adopt)(struct device *dev, const struct conf_device *cd,
	    struct ho_rd *r);
};

/*
 * Direct delivery (msiv-protocol(7), DIRECT): with the slot's lock held after a
 * vector operation, route the device's signal to the target while the
 * vector is direct and deliverable, and to the daemon's trigger otherwise
 * (where interrupts become pending). Routing back happens before the lock
 * is released, so before the operation is acknowledged (rules 4, 6, 8).
 * act: the operation's actions, not carried out yet; returns them with
 * what a move of the trigger adds (vector_rerouted: an interrupt it may
 * have lost becomes the pending bit or one delivery). Carry them out
 * after this call, so a delivery follows the move.
 */
unsigned int slot_route(struct slot *s, unsigned int act);
/*
 * The delivery shard to watch a slot (deliver_add's k), by its device's
 * shard setting (msivd.conf(5)): auto (the shard of the CPU its host IRQ
 * is affine to, where the backend knows it; else the device's, devices
 * taking the shards in turn as they are made), spread (slot i on shard
 * i) or a number, each modulo the shard count.
 */
unsigned int slot_shard(const struct slot *s);
/*
 * Detach a slot's target, with its lock held, in the operation that takes
 * VECTOR_F_TARGET from its vector (free, reset, resync). Returns the fd
 * (-1: none) for slot_target_close() once the lock is released: no close()
 * runs under the lock the delivery thread takes, and by then slot_route()
 * has moved the device's signal off the fd (direct mode).
 */
int slot_target_take(struct slot *s);
/* The same for a new target fd (RETARGET, a handover's restore): s's
 * target becomes fd, and the old one is returned, let go of by the
 * delivery loop's registered file table and the fd store alike. */
int slot_target_set(struct slot *s, int fd);
/*
 * systemd's fd store (fdstore.c): keep what a crash must not close. A
 * device's fds, state and triggers when it is created
 * (device_fdstore_put), its state again when the backend's changes
 * (device_fdstore_sync: vfio's armed vectors), a trigger made on first
 * use, a slot's target whenever it changes (under the slot's lock). All
 * do nothing without a service manager.
 */
void device_fdstore_put(struct device *dev);
/* Handover (handover.c): a device's part of the state, written by the old
 * msivd and adopted by the new one (0, or -errno with the reason given to
 * ho_fail()). */
void device_handover_save(struct device *dev, struct ho_buf *b);
int device_handover_adopt(struct ho_rd *r);
void device_fdstore_sync(struct device *dev);
void device_fdstore_forget(struct device *dev);
void slot_fdstore_trigger(struct slot *s);
void slot_fdstore_target(struct slot *s);
/* Close a target that slot_target_take() returned (-1: nothing). */
void slot_target_close(int fd);

/* Slots per chunk: 64 struct slots, about 12 KiB, one malloc. */
#define DEVICE_CHUNK 64u

struct device {
	TAILQ_ENTRY(device) entry;
	char name[MSIV_NAME_MAX];
	const struct backend_ops *ops;
	void *priv;
	uint32_t nslots;
	uint32_t used;
	uint32_t lazy_nvec;         /* vectors of the lazy vfuncs on it */
	enum vector_policy policy;  /* default for new vfuncs */
	uint32_t flags;             /* MSIV_DEVICE_*, set by the backend */
	struct conf_device conf;    /* its definition (address, for hotplug) */
	const char *lost;           /* why it went away (device_lost), or
				       NULL */
	struct slot **chunks;       /* nchunks; NULL: none of its slots
				       needed yet (device_slot_make) */
	uint32_t nchunks;           /* for the slots configured: a backend
				       may lower nslots at open, never
				       raise it */
	int state_fd;               /* the fd store's copy of what the
				       backend knows (a memfd), or -1 */
	uint32_t turn;              /* made the turn-th: its shard in auto */
};

TAILQ_HEAD(device_list, device);
extern struct device_list devices;

extern const struct backend_ops sim_backend_ops;
extern const struct backend_ops vfio_backend_ops;
/* Is the PCI device at bdf bound to vfio-pci (vfio.c)? */
int vfio_pci_bound(const char *bdf);

/* Hand down, once, the event base the backends watch their fds on
 * (device_base: vfio's request IRQ), and make the lost devices' notifier
 * (device_lost_fd). Returns 0 or -errno. */
int device_init(struct event_base *base);
struct event_base *device_base(void);
/* Create a device from its configuration. Returns 0 or -errno (the
 * message is logged). */
int device_create(const struct conf_device *cd, struct device **out);
void device_destroy(struct device *dev);
/*
 * The device went away under the daemon (a backend hears it, as vfio's
 * request IRQ, or hotplug.c a uevent): log why (a static string), mark it
 * and make device_lost_fd readable. The device stays until the layer that
 * owns its vfuncs releases it (hotplug.c: they are revoked with
 * MSIV_GONE_DEVICE, then it is destroyed); device_next_lost returns the
 * devices marked, one at a time (NULL: none), and device_lost_clear
 * empties the notifier before they are taken.
 */
void device_lost(struct device *dev, const char *why);
int device_lost_fd(void);
void device_lost_clear(void);
struct device *device_next_lost(void);
void device_destroy_all(void);
struct device *device_find(const char *name);
uint32_t device_count(void);

/*
 * A lazy vfunc (slots on first use) costs memory for every vector it
 * declares, bound or not, and a tenant may declare far more vectors than
 * the device has slots: those of all lazy vfuncs on a device are capped at
 * DEVICE_LAZY_FACTOR times its slots, and never below MSIV_VECTORS_MAX
 * (one full MSI-X table always fits).
 */
#define DEVICE_LAZY_FACTOR 8u
static inline uint32_t
device_lazy_max(const struct device *dev)
{
	uint64_t m = (uint64_t)dev->nslots * DEVICE_LAZY_FACTOR;

	return m < MSIV_VECTORS_MAX ? MSIV_VECTORS_MAX :
	    m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
}

/* Slot i (< nslots) of a device, or NULL while its chunk has not been
 * needed: the slot is unowned, with no trigger (a free slot). */
static inline struct slot *
device_slot(const struct device *dev, uint32_t i)
{
	struct slot *c = dev->chunks[i / DEVICE_CHUNK];

	return c != NULL ? &c[i % DEVICE_CHUNK] : NULL;
}
/* Slot i of a device, known to be made: a vfunc holds it (vfunc_create,
 * vfunc_bind make it first). */
__attribute__((returns_nonnull)) static inline struct slot *
device_slot_held(const struct device *dev, uint32_t i)
{
	return &dev->chunks[i / DEVICE_CHUNK][i % DEVICE_CHUNK];
}
/* Slot i, its chunk allocated (its slots unowned, disabled, no trigger)
 * if it was not: NULL if out of memory. device_slots_make: slots [first,
 * first + n), 0 or -ENOMEM (the chunks made stay). Control thread. */
struct slot *device_slot_make(struct device *dev, uint32_t i);
int device_slots_make(struct device *dev, uint32_t first, uint32_t n);

/* Find n contiguous free slots (first fit). Returns 0 and *first, or
 * -ENOSPC. The caller marks them (slot->owned). */
int device_find_free(struct device *dev, uint32_t n, uint32_t *first);

#endif /* MSIVD_DEVICE_H */
