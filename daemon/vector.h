/*
 * The virtual MSI-X vector state machine: pure logic, no I/O, no locking.
 *
 * One struct vector is one entry of a virtual MSI-X table plus its pending
 * bit and counters. Every operation returns a set of actions (VECTOR_ACT_*)
 * that the caller carries out: write the target once, announce the new
 * effective message. The caller serialises operations on a vector (see the
 * locking protocol in doc/delivery.md).
 *
 * Terms, following PCI Local Bus 3.0 section 6.8.2 and msiv-protocol(7):
 *  - "masked" (the entry is masked) = its own mask bit, or the function mask,
 *    or the function not enabled. MSI-X says an entry is masked if its mask
 *    bit or the function mask is set; a disabled function sends nothing, so
 *    it counts too.
 *  - "deliverable" = not masked and a target attached.
 *  - programmed message: what was last written (table reads return it);
 *    effective message: what the device would send. The effective message
 *    changes only when the entry goes from masked to unmasked (it latches
 *    the programmed one), on SETUP and RETARGET (whole messages), and under
 *    the live policy at a commit point (vector_table_write). So it is never
 *    torn by a sequence of 32-bit writes (rule 5).
 */
#ifndef MSIV_VECTOR_H
#define MSIV_VECTOR_H

#include <stdbool.h>
#include <stdint.h>

enum vector_policy {
	VECTOR_POLICY_LATCH = 1,  /* same numbers as enum msiv_policy */
	VECTOR_POLICY_STRICT = 2,
	VECTOR_POLICY_LIVE = 3,
};

/* Flags of struct vector. */
#define VECTOR_F_MASKED   0x01u /* the entry's own mask bit */
#define VECTOR_F_FMASKED  0x02u /* copy of the function mask bit */
#define VECTOR_F_ENABLED  0x04u /* copy of the function enable bit */
#define VECTOR_F_TARGET   0x08u /* a target is attached */
#define VECTOR_F_PENDING  0x10u /* the PBA bit */
#define VECTOR_F_AWAIT    0x20u /* set up before a restart or a failed
				   commit, its target not attached again
				   yet (vector_restore); never with
				   VECTOR_F_TARGET */

/* Live policy: which message dwords were written since the last commit. */
#define VECTOR_W_ADDR_LO 0x1u
#define VECTOR_W_ADDR_HI 0x2u
#define VECTOR_W_DATA    0x4u
#define VECTOR_W_ALL     0x7u

/* Actions for the caller. */
#define VECTOR_ACT_DELIVER     0x1u /* write the target once */
#define VECTOR_ACT_MSG_CHANGED 0x2u /* announce the effective message */

struct vector {
	uint64_t prog_addr;
	uint64_t eff_addr;
	uint32_t prog_data;
	uint32_t eff_data;
	uint8_t flags;    /* VECTOR_F_* */
	uint8_t policy;   /* enum vector_policy */
	uint8_t written;  /* VECTOR_W_*, live policy only */
	uint8_t pad[5];
	/*
	 * Counters, kept by every operation below so that at any time
	 *
	 *   fired = delivered + coalesced + dropped + (pending ? 1 : 0)
	 *
	 * (msiv-protocol(7), COUNTERS): each interrupt fired is delivered
	 * (it has a target write of its own), coalesced (it rode on another
	 * interrupt's write or pending bit: several read from the trigger at
	 * once, or several while masked), dropped (function disabled, or
	 * its pending bit cleared by FREE), or it is the one the pending bit
	 * stands for.
	 */
	uint64_t fired;     /* interrupts: seen on the trigger, or assumed
			       (vector_assume_pending, vector_nospace) */
	uint64_t delivered; /* target writes */
	uint64_t coalesced; /* interrupts folded into another one */
	uint64_t dropped;   /* function disabled; pending bit freed */
};

/* Reset state: masked, no target, message 0, not pending. */
void vector_init(struct vector *v, enum vector_policy policy);

bool vector_masked(const struct vector *v);
bool vector_deliverable(const struct vector *v);
/* Set up: a target attached, or one awaited (VECTOR_F_AWAIT). What the
 * store keeps of a vector's target, the one place "has a target" is
 * derived for it. */
bool vector_is_set_up(const struct vector *v);

/* count interrupts (>= 1; 0 is no interrupt and changes nothing) arrived
 * on the vector's slot, read from its trigger at once. Rules 1 and 3:
 * deliver if deliverable; else drop them if the function is disabled,
 * else set the pending bit. Counted in fired. */
unsigned int vector_fire(struct vector *v, uint64_t count);

/*
 * The io_uring loop delivers a wakeup without reading the trigger, so it
 * learns how many interrupts a wakeup stood for only later (see
 * deliver-uring.c). vector_fire_unread: one interrupt, as vector_fire(v, 1),
 * but not counted in fired yet; vector_count_unread then counts n such
 * interrupts in fired, once. Between the two the counter identity is
 * short of them, so a query settles first. vector_fold: n more interrupts
 * the trigger folded into wakeups already handled, counted in fired and
 * coalesced (they rode on another interrupt's write or pending bit).
 */
unsigned int vector_fire_unread(struct vector *v);
void vector_count_unread(struct vector *v, uint64_t n);
void vector_fold(struct vector *v, uint64_t n);
/* Take back n signals vector_fold() counted, so they can be fired again
 * as the interrupts they are (deliver-uring.c: a handover's last read). */
void vector_unfold(struct vector *v, uint64_t n);

/* Rule 4 and 2. */
unsigned int vector_mask(struct vector *v);
unsigned int vector_unmask(struct vector *v);
/* Rule 7 (function mask) and rule 1/2 (enable): the function-level bits,
 * applied to each vector of the vfunc. */
unsigned int vector_set_fmask(struct vector *v, bool masked);
unsigned int vector_set_enabled(struct vector *v, bool enabled);

/* SETUP: the vector must have no target (returns -EBUSY otherwise, state
 * unchanged). The message becomes programmed and effective, the target
 * attached, the mask bit set unless unmask. Returns actions >= 0. */
int vector_setup(struct vector *v, uint64_t addr, uint32_t data, bool unmask);

/* RETARGET (rule 6): mask -> update -> restore mask, replaying a pending
 * interrupt. new_target: a new target is attached (the caller swaps the fd
 * under the same serialisation); msg: the new message is given. Returns
 * actions. */
unsigned int vector_retarget(struct vector *v, bool new_target, bool msg,
    uint64_t addr, uint32_t data);

/* Attach (true) or detach (false) a target without other changes; attaching
 * may replay a pending interrupt (rule 2). */
unsigned int vector_set_target(struct vector *v, bool attached);

/* The host side may have lost an interrupt (its trigger was re-assigned):
 * assume one happened. With the function enabled the pending bit is set
 * and replayed at once if the vector is deliverable (rule 2); unless the
 * bit was set already, the assumed interrupt is counted in fired. */
unsigned int vector_assume_pending(struct vector *v);

/* SETUP of a vector that has no slot (a vfunc with slots on first use,
 * and the device has none left): the setup fails and the vector keeps
 * its state, no target, with its pending bit latched, so the PBA shows
 * the guest that the vector is owed an interrupt and the setup that later
 * succeeds replays one (rule 2). -EBUSY, state unchanged, if the vector
 * has a target (SETUP would refuse it too); 0 otherwise (no actions). */
int vector_nospace(struct vector *v);

/* Direct mode: the host side has just moved the vector's trigger to or
 * from its target (VFIO frees the old host IRQ before it requests the new
 * one, and an MSI that arrives in between is gone). act: the actions of
 * the operation that moved it, not carried out yet. Delivery stays
 * at-least-once: an interrupt is assumed to have come during the move
 * (vector_assume_pending), so a masked vector gets its pending bit and a
 * deliverable one a delivery, unless act holds one already (written after
 * the move, it stands for the lost interrupt too), the vector has no
 * target (it was freed: rule 8 clears its pending state) or the function
 * is disabled (rule 1 would drop it). Returns act with what it adds. */
unsigned int vector_rerouted(struct vector *v, unsigned int act);

/*
 * A vector's persisted state (the store's row of it; msivd(8), FILES):
 * the messages, the mask bit, and whether it was set up (it had a
 * target, or awaited one).
 */
struct vector_saved {
	uint64_t prog_addr;
	uint64_t eff_addr;
	uint32_t prog_data;
	uint32_t eff_data;
	uint8_t written;  /* VECTOR_W_* */
	bool masked;
	bool setup;
};

/*
 * Restore a vector from its persisted state, its target gone (a restart,
 * or a failed commit that the store does not know the target of): the
 * counters start again, the function-level bits are the vfunc's. A vector
 * that was set up waits for its target (VECTOR_F_AWAIT) with its pending
 * bit set (msiv-protocol(7), MSI-X SEMANTICS, across a restart): whether
 * an interrupt was pending when the daemon stopped is unknown, and a
 * spurious MSI-X interrupt is harmless to a driver, a lost one is not.
 * Returns MSG_CHANGED if the effective message differs from the one the
 * vector had; never DELIVER (no target).
 */
unsigned int vector_restore(struct vector *v, const struct vector_saved *sv,
    bool enabled, bool fmasked);

/*
 * Bring a vector that keeps its target back to its persisted state and
 * the vfunc's function-level bits (a failed commit; the pending bit and
 * the counters are the daemon's own, kept). Returns MSG_CHANGED if the
 * effective message changed (rule 10), DELIVER if the vector is now
 * deliverable with its pending bit set (rule 2).
 */
unsigned int vector_resync(struct vector *v, const struct vector_saved *sv,
    bool enabled, bool fmasked);

/* FREE (rule 8): back to the reset state (the function-level bits and the
 * counters are kept; a pending interrupt counts as dropped). Returns MSG_CHANGED if the effective message was not
 * already zero. */
unsigned int vector_free(struct vector *v);

/* Raw table access to this vector's 16-byte entry: off is the byte offset
 * within the entry (0, 4, 8, 12; or 0, 8 with size 8). Writes return
 * -EBUSY (strict policy, message written while unmasked) or actions. */
int vector_table_write(struct vector *v, unsigned int off, unsigned int size,
    uint64_t value);
uint64_t vector_table_read(const struct vector *v, unsigned int off,
    unsigned int size);

#endif /* MSIV_VECTOR_H */
