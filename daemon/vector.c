/*
 * The virtual MSI-X vector state machine (msiv-protocol(7) rules 1-8, 10).
 *
 * Pure logic: no I/O, no allocation, no locking. Callers serialise
 * operations on one vector and carry out the returned actions; see
 * vector.h for the terms and doc/delivery.md for the locking protocol.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <msiv/protocol.h>

#include "vector.h"

void
vector_init(struct vector *v, enum vector_policy policy)
{
	memset(v, 0, sizeof(*v));
	v->policy = (uint8_t)policy;
	v->flags = VECTOR_F_MASKED; /* MSI-X reset: every entry masked */
}

bool
vector_masked(const struct vector *v)
{
	return (v->flags & (VECTOR_F_MASKED | VECTOR_F_FMASKED)) != 0 ||
	    (v->flags & VECTOR_F_ENABLED) == 0;
}

bool
vector_deliverable(const struct vector *v)
{
	return !vector_masked(v) && (v->flags & VECTOR_F_TARGET) != 0;
}

bool
vector_is_set_up(const struct vector *v)
{
	return (v->flags & (VECTOR_F_TARGET | VECTOR_F_AWAIT)) != 0;
}

/* A target attached is no longer awaited. */
static void
vector_attached(struct vector *v)
{
	if (v->flags & VECTOR_F_TARGET)
		v->flags &= (uint8_t)~VECTOR_F_AWAIT;
}

/* Make the programmed message effective; announce it if it changed. */
static unsigned int
vector_commit(struct vector *v)
{
	v->written = 0;
	if (v->eff_addr == v->prog_addr && v->eff_data == v->prog_data)
		return 0;
	v->eff_addr = v->prog_addr;
	v->eff_data = v->prog_data;
	return VECTOR_ACT_MSG_CHANGED;
}

/* Rule 2: a vector that is deliverable with its pending bit set gets
 * exactly one delivery and the bit clears. */
static unsigned int
vector_replay(struct vector *v)
{
	if (!vector_deliverable(v) || (v->flags & VECTOR_F_PENDING) == 0)
		return 0;
	/* The interrupt the pending bit stood for is delivered now. */
	v->flags &= (uint8_t)~VECTOR_F_PENDING;
	v->delivered++;
	return VECTOR_ACT_DELIVER;
}

/*
 * Apply a change of flags. Going from masked to unmasked latches the
 * programmed message (the MSI-X caching model, rule 5) before any replay,
 * so a replayed interrupt is routed by the message the guest wrote.
 */
static unsigned int
vector_set_flags(struct vector *v, uint8_t set, uint8_t clear)
{
	bool was_masked = vector_masked(v);
	unsigned int act = 0;

	v->flags = (uint8_t)((v->flags | set) & ~clear);
	vector_attached(v);
	if (was_masked && !vector_masked(v))
		act |= vector_commit(v);
	return act | vector_replay(v);
}

/* n >= 1 interrupts, counted in fired by the caller. */
static unsigned int
vector_fire_n(struct vector *v, uint64_t n)
{
	/* The counter identity (vector.h): each of the n interrupts is
	 * delivered, coalesced into another one, dropped, or the one the
	 * pending bit stands for. */
	if ((v->flags & VECTOR_F_ENABLED) == 0) {
		v->dropped += n; /* rule 1: disabled function */
		return 0;
	}
	if (vector_deliverable(v)) {
		/* One target write; several interrupts read from the
		 * trigger at once ride on it. */
		v->delivered++;
		v->coalesced += n - 1;
		return VECTOR_ACT_DELIVER;
	}
	/* Rule 3: one pending bit, however many. */
	if (v->flags & VECTOR_F_PENDING)
		v->coalesced += n;
	else {
		v->coalesced += n - 1;
		v->flags |= VECTOR_F_PENDING;
	}
	return 0;
}

unsigned int
vector_fire(struct vector *v, uint64_t count)
{
	if (count == 0)
		return 0;
	v->fired += count;
	return vector_fire_n(v, count);
}

unsigned int
vector_fire_unread(struct vector *v)
{
	return vector_fire_n(v, 1); /* fired: vector_count_unread() */
}

void
vector_count_unread(struct vector *v, uint64_t n)
{
	v->fired += n;
}

void
vector_fold(struct vector *v, uint64_t n)
{
	/* Each rode on an interrupt already handled (the counter
	 * identity). */
	v->fired += n;
	v->coalesced += n;
}

void
vector_unfold(struct vector *v, uint64_t n)
{
	/* A settle's provisional count, taken back to be decided again
	 * (deliver-uring.c, at a handover): never more than was folded. */
	v->fired -= n;
	v->coalesced -= n;
}

unsigned int
vector_mask(struct vector *v)
{
	return vector_set_flags(v, VECTOR_F_MASKED, 0);
}

unsigned int
vector_unmask(struct vector *v)
{
	return vector_set_flags(v, 0, VECTOR_F_MASKED);
}

unsigned int
vector_set_fmask(struct vector *v, bool masked)
{
	if (masked)
		return vector_set_flags(v, VECTOR_F_FMASKED, 0);
	return vector_set_flags(v, 0, VECTOR_F_FMASKED);
}

unsigned int
vector_set_enabled(struct vector *v, bool enabled)
{
	if (enabled)
		return vector_set_flags(v, VECTOR_F_ENABLED, 0);
	return vector_set_flags(v, 0, VECTOR_F_ENABLED);
}

unsigned int
vector_set_target(struct vector *v, bool attached)
{
	if (attached)
		return vector_set_flags(v, VECTOR_F_TARGET, 0);
	return vector_set_flags(v, 0, VECTOR_F_TARGET);
}

int
vector_setup(struct vector *v, uint64_t addr, uint32_t data, bool unmask)
{
	unsigned int act;

	if (v->flags & VECTOR_F_TARGET)
		return -EBUSY;
	/* Mask first so the whole message lands while the entry is masked
	 * and the unmask below latches it in one step. */
	act = vector_set_flags(v, VECTOR_F_MASKED, 0);
	v->prog_addr = addr;
	v->prog_data = data;
	act |= vector_commit(v);
	act |= vector_set_flags(v, VECTOR_F_TARGET,
	    unmask ? VECTOR_F_MASKED : 0);
	return (int)act;
}

unsigned int
vector_retarget(struct vector *v, bool new_target, bool msg, uint64_t addr,
    uint32_t data)
{
	uint8_t restore = v->flags & VECTOR_F_MASKED;
	unsigned int act;

	/* Rule 6: mask -> update -> restore mask with pending replay. The
	 * caller holds the vector for the whole call, so no interrupt is
	 * seen between the steps; an interrupt before it went to the old
	 * target, one after it goes to the new one. */
	act = vector_set_flags(v, VECTOR_F_MASKED, 0);
	if (msg) {
		v->prog_addr = addr;
		v->prog_data = data;
		act |= vector_commit(v);
	}
	if (new_target) {
		v->flags |= VECTOR_F_TARGET;
		vector_attached(v);
	}
	if (!restore)
		act |= vector_set_flags(v, 0, VECTOR_F_MASKED);
	else
		act |= vector_replay(v);
	return act;
}

unsigned int
vector_assume_pending(struct vector *v)
{
	if ((v->flags & VECTOR_F_ENABLED) == 0)
		return 0;
	if ((v->flags & VECTOR_F_PENDING) == 0) {
		v->fired++; /* assumed: counted like one that was seen */
		v->flags |= VECTOR_F_PENDING;
	}
	return vector_replay(v);
}

int
vector_nospace(struct vector *v)
{
	if (v->flags & VECTOR_F_TARGET)
		return -EBUSY;
	/* No slot, so no target: it cannot be deliverable, and the pending
	 * bit stays until the setup that finds a slot replays it (rule 2)
	 * or a free clears it (rule 8). Latched whatever the enable bit
	 * says: it stands for interrupts the guest expects and that had no
	 * slot to arrive on, not for ones that came while disabled. An
	 * assumed interrupt, counted in fired (the counter identity). */
	if ((v->flags & VECTOR_F_PENDING) == 0) {
		v->fired++;
		v->flags |= VECTOR_F_PENDING;
	}
	return 0;
}

unsigned int
vector_rerouted(struct vector *v, unsigned int act)
{
	if ((v->flags & VECTOR_F_TARGET) == 0 || (act & VECTOR_ACT_DELIVER))
		return act;
	return act | vector_assume_pending(v);
}

/* The function-level bits as the vfunc has them. */
static uint8_t
vector_fn_flags(bool enabled, bool fmasked)
{
	return (uint8_t)((enabled ? VECTOR_F_ENABLED : 0) |
	    (fmasked ? VECTOR_F_FMASKED : 0));
}

/* Take the persisted messages; MSG_CHANGED if the effective one moved. */
static unsigned int
vector_load_msg(struct vector *v, const struct vector_saved *sv)
{
	bool same = v->eff_addr == sv->eff_addr && v->eff_data == sv->eff_data;

	v->prog_addr = sv->prog_addr;
	v->prog_data = sv->prog_data;
	v->eff_addr = sv->eff_addr;
	v->eff_data = sv->eff_data;
	v->written = (uint8_t)(sv->written & VECTOR_W_ALL);
	return same ? 0 : VECTOR_ACT_MSG_CHANGED;
}

unsigned int
vector_restore(struct vector *v, const struct vector_saved *sv, bool enabled,
    bool fmasked)
{
	unsigned int act;

	/* The state is taken as stored, not replayed through the rules:
	 * the effective message is the one the guest's device had, not
	 * one latched by an unmask on the way. */
	v->fired = v->delivered = v->coalesced = v->dropped = 0;
	act = vector_load_msg(v, sv);
	v->flags = (uint8_t)((sv->masked ? VECTOR_F_MASKED : 0) |
	    vector_fn_flags(enabled, fmasked));
	/* Across a restart (msiv-protocol(7), MSI-X SEMANTICS) a set-up
	 * vector waits for its target with its pending bit set: whether an
	 * interrupt was pending is unknown, and a spurious MSI-X interrupt
	 * is harmless to a driver, a lost one is not. An assumed
	 * interrupt, counted in fired (the counter identity). */
	if (sv->setup) {
		v->flags |= VECTOR_F_AWAIT | VECTOR_F_PENDING;
		v->fired = 1;
	}
	return act;
}

unsigned int
vector_resync(struct vector *v, const struct vector_saved *sv, bool enabled,
    bool fmasked)
{
	unsigned int act = vector_load_msg(v, sv);

	v->flags = (uint8_t)((v->flags & (VECTOR_F_TARGET | VECTOR_F_PENDING)) |
	    (sv->masked ? VECTOR_F_MASKED : 0) |
	    vector_fn_flags(enabled, fmasked));
	/* Deliverable again with an interrupt owed: rule 2. */
	return act | vector_replay(v);
}

unsigned int
vector_free(struct vector *v)
{
	uint8_t keep = v->flags & (VECTOR_F_FMASKED | VECTOR_F_ENABLED);

	/* Rule 8: the pending bit goes with the vector, and the interrupt
	 * it stood for is dropped (the counter identity). */
	if (v->flags & VECTOR_F_PENDING)
		v->dropped++;
	v->flags = (uint8_t)(keep | VECTOR_F_MASKED);
	v->prog_addr = 0;
	v->prog_data = 0;
	return vector_commit(v);
}

/* Store one dword of the message; policy decides what becomes effective. */
static int
vector_write_msg(struct vector *v, unsigned int off, uint32_t val)
{
	bool masked = vector_masked(v);

	if (!masked && v->policy == VECTOR_POLICY_STRICT)
		return -EBUSY; /* rule 5, strict: mask first */
	switch (off) {
	case MSIV_MSIX_ADDR_LO:
		v->prog_addr = (v->prog_addr & ~(uint64_t)0xffffffffu) | val;
		v->written |= VECTOR_W_ADDR_LO;
		break;
	case MSIV_MSIX_ADDR_HI:
		v->prog_addr = (v->prog_addr & 0xffffffffu) |
		    (uint64_t)val << 32;
		v->written |= VECTOR_W_ADDR_HI;
		break;
	default: /* MSIV_MSIX_DATA */
		v->prog_data = val;
		v->written |= VECTOR_W_DATA;
		break;
	}
	/*
	 * Masked, or latch policy: the effective message waits for the next
	 * unmask. Live policy: it takes effect once the whole message has
	 * been rewritten (address low, high and data, in any order), or at
	 * the write of the vector control dword that ends an entry update;
	 * committing each dword on its own would expose a torn message.
	 */
	if (!masked && v->policy == VECTOR_POLICY_LIVE &&
	    v->written == VECTOR_W_ALL)
		return (int)vector_commit(v);
	return 0;
}

static int
vector_write_ctrl(struct vector *v, uint32_t val)
{
	unsigned int act = 0;

	if (!vector_masked(v) && v->policy == VECTOR_POLICY_LIVE &&
	    v->written != 0)
		act = vector_commit(v);
	/* Only the mask bit is defined; the rest is reserved (6.8.2.9). */
	if (val & MSIV_MSIX_CTRL_MASKBIT)
		act |= vector_mask(v);
	else
		act |= vector_unmask(v);
	return (int)act;
}

int
vector_table_write(struct vector *v, unsigned int off, unsigned int size,
    uint64_t value)
{
	int r1, r2;

	if (size == 4) {
		if (off == MSIV_MSIX_CTRL)
			return vector_write_ctrl(v, (uint32_t)value);
		return vector_write_msg(v, off, (uint32_t)value);
	}
	/* 8-byte access: the address qword, or data + vector control. */
	if (off == MSIV_MSIX_ADDR_LO) {
		if (!vector_masked(v) && v->policy == VECTOR_POLICY_STRICT)
			return -EBUSY;
		r1 = vector_write_msg(v, MSIV_MSIX_ADDR_LO, (uint32_t)value);
		r2 = vector_write_msg(v, MSIV_MSIX_ADDR_HI,
		    (uint32_t)(value >> 32));
		return r1 | r2;
	}
	r1 = vector_write_msg(v, MSIV_MSIX_DATA, (uint32_t)value);
	if (r1 < 0)
		return r1;
	r2 = vector_write_ctrl(v, (uint32_t)(value >> 32));
	return r1 | r2;
}

uint64_t
vector_table_read(const struct vector *v, unsigned int off, unsigned int size)
{
	uint32_t ctrl = (v->flags & VECTOR_F_MASKED) ? MSIV_MSIX_CTRL_MASKBIT : 0;

	if (size == 8) {
		if (off == MSIV_MSIX_ADDR_LO)
			return v->prog_addr;
		return (uint64_t)ctrl << 32 | v->prog_data;
	}
	switch (off) {
	case MSIV_MSIX_ADDR_LO:
		return (uint32_t)v->prog_addr;
	case MSIV_MSIX_ADDR_HI:
		return (uint32_t)(v->prog_addr >> 32);
	case MSIV_MSIX_DATA:
		return v->prog_data;
	default:
		return ctrl;
	}
}
