/*
 * Unit test of the virtual MSI-X vector state machine (daemon/vector.c)
 * against msiv-protocol(7) rules 1-8, 10: every delivery condition, every way
 * to become deliverable, coalescing, masking, the three message-update
 * policies with every order of 32-bit writes (no torn effective message),
 * retarget, function mask, free, restore and resync of the persisted
 * state, lazy counting — and a randomized differential test
 * against a reference model written here from the rules, not from
 * vector.c.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <msiv/protocol.h>

#include "tap.h"
#include "vector.h"

#define DELIVER VECTOR_ACT_DELIVER
#define CHANGED VECTOR_ACT_MSG_CHANGED

static const enum vector_policy policies[] = {
	VECTOR_POLICY_LATCH, VECTOR_POLICY_STRICT, VECTOR_POLICY_LIVE,
};

static const char *
pname(enum vector_policy p)
{
	return p == VECTOR_POLICY_LATCH ? "latch" :
	    p == VECTOR_POLICY_STRICT ? "strict" : "live";
}

/* A vector that is enabled, unmasked, with a target and a message. */
static void
ready(struct vector *v, enum vector_policy p)
{
	vector_init(v, p);
	(void)vector_set_enabled(v, true);
	(void)vector_setup(v, 0xfee00000u, 0x41, true);
}

static bool
pending(const struct vector *v)
{
	return (v->flags & VECTOR_F_PENDING) != 0;
}

/* The counter identity of msiv-protocol(7) (COUNTERS). */
static bool
identity(const struct vector *v)
{
	return v->fired == v->delivered + v->coalesced + v->dropped +
	    (pending(v) ? 1u : 0u);
}

/*
 * The counter identity after a mixed sequence: single interrupts and
 * bursts read at once, masked and unmasked, function masked and
 * disabled, retargeted, freed with a pending bit (dropped), assumed
 * interrupts (rerouted, nospace).
 */
static void
test_identity(void)
{
	struct vector v;
	int bad = 0;

	vector_init(&v, VECTOR_POLICY_LATCH);
	bad += !identity(&v);
	(void)vector_set_enabled(&v, true);
	(void)vector_setup(&v, 0xfee00000u, 1, true);
	(void)vector_fire(&v, 1);
	(void)vector_fire(&v, 5);
	ok(v.fired == 6 && v.delivered == 2 && v.coalesced == 4 &&
	    identity(&v), "identity: fire 1, fire 5 read at once, unmasked: "
	    "fired 6 = delivered 2 + coalesced 4");
	(void)vector_mask(&v);
	(void)vector_fire(&v, 3);
	bad += !identity(&v);
	(void)vector_fire(&v, 1);
	bad += !identity(&v);
	(void)vector_unmask(&v);
	bad += !identity(&v);
	(void)vector_set_fmask(&v, true);
	(void)vector_fire(&v, 2);
	(void)vector_retarget(&v, true, true, 0xfee01000u, 2);
	bad += !identity(&v);
	(void)vector_set_fmask(&v, false);
	bad += !identity(&v);
	(void)vector_set_enabled(&v, false);
	(void)vector_fire(&v, 7);
	bad += !identity(&v);
	(void)vector_set_enabled(&v, true);
	(void)vector_mask(&v);
	(void)vector_fire(&v, 2);
	(void)vector_free(&v);
	ok(!pending(&v) && v.dropped == 8 && identity(&v), "identity: FREE "
	    "of a pending vector drops the interrupt its bit stood for");
	(void)vector_setup(&v, 0xfee00000u, 1, false);
	(void)vector_rerouted(&v, vector_mask(&v));
	bad += !identity(&v);
	(void)vector_rerouted(&v, vector_unmask(&v));
	bad += !identity(&v);
	(void)vector_free(&v);
	(void)vector_nospace(&v);
	(void)vector_nospace(&v);
	bad += !identity(&v);
	(void)vector_setup(&v, 0xfee00000u, 1, true);
	bad += !identity(&v);
	(void)vector_assume_pending(&v);
	ok(bad == 0 && identity(&v), "identity: holds after every step of "
	    "a mixed sequence (fired %llu, delivered %llu, coalesced %llu, "
	    "dropped %llu)", (unsigned long long)v.fired,
	    (unsigned long long)v.delivered, (unsigned long long)v.coalesced,
	    (unsigned long long)v.dropped);
}

/* --- rule 1: the delivery condition, all 16 combinations ------------------ */

static void
test_rule1(void)
{
	for (unsigned int c = 0; c < 16; c++) {
		bool en = c & 1, fm = c & 2, m = c & 4, tg = c & 8;
		bool want = en && !fm && !m && tg;
		struct vector v;
		unsigned int act;

		vector_init(&v, VECTOR_POLICY_LATCH);
		if (tg)
			(void)vector_setup(&v, 0xfee00000u, 1, !m);
		else if (!m)
			(void)vector_unmask(&v);
		(void)vector_set_enabled(&v, en);
		(void)vector_set_fmask(&v, fm);
		act = vector_fire(&v, 3);
		ok(((act & DELIVER) != 0) == want && pending(&v) ==
		    (en && !want) && v.fired == 3 &&
		    v.delivered == (want ? 1u : 0u) &&
		    v.coalesced == (en ? 2u : 0u) &&
		    v.dropped == (en ? 0u : 3u) && identity(&v),
		    "rule 1: enabled=%d fmask=%d mask=%d target=%d -> %s", en,
		    fm, m, tg, want ? "delivered" : en ? "pending" : "dropped");
	}
}

/* --- rule 2: replay on each way of becoming deliverable -------------------- */

enum way { W_UNMASK, W_FUNMASK, W_TARGET, W_ENABLE, W_SETUP, W_RETARGET,
    W_CTRL32, W_CTRL64, W__COUNT };
static const char *const way_names[] = {
	"vector unmask", "function unmask", "target attached", "enable",
	"setup unmasked", "retarget", "32-bit ctrl write", "64-bit ctrl write",
};

/* Put v in a non-deliverable state that `w` will end, with or without a
 * pending interrupt. */
static void
blocked(struct vector *v, enum way w, bool with_pending)
{
	vector_init(v, VECTOR_POLICY_LATCH);
	(void)vector_set_enabled(v, true);
	switch (w) {
	case W_UNMASK:
	case W_CTRL32:
	case W_CTRL64:
		(void)vector_setup(v, 0xfee00000u, 1, false);
		break;
	case W_FUNMASK:
		(void)vector_setup(v, 0xfee00000u, 1, true);
		(void)vector_set_fmask(v, true);
		break;
	case W_TARGET:
	case W_SETUP:
		(void)vector_unmask(v); /* unmasked, no target */
		if (w == W_SETUP)
			(void)vector_mask(v);
		break;
	case W_ENABLE:
		(void)vector_setup(v, 0xfee00000u, 1, true);
		(void)vector_set_fmask(v, true);
		break;
	case W_RETARGET:
		(void)vector_unmask(v);
		break;
	case W__COUNT:
		break;
	}
	if (with_pending)
		(void)vector_fire(v, 1);
	if (w == W_ENABLE) { /* pending set while enabled, then disabled */
		(void)vector_set_enabled(v, false);
		(void)vector_set_fmask(v, false);
	}
}

static unsigned int
become(struct vector *v, enum way w)
{
	switch (w) {
	case W_UNMASK:
		return vector_unmask(v);
	case W_FUNMASK:
		return vector_set_fmask(v, false);
	case W_TARGET:
		return vector_set_target(v, true);
	case W_ENABLE:
		return vector_set_enabled(v, true);
	case W_SETUP:
		return (unsigned int)vector_setup(v, 0xfee00000u, 1, true);
	case W_RETARGET:
		return vector_retarget(v, true, false, 0, 0);
	case W_CTRL32:
		return (unsigned int)vector_table_write(v, MSIV_MSIX_CTRL, 4, 0);
	case W_CTRL64:
		return (unsigned int)vector_table_write(v, MSIV_MSIX_DATA, 8, 1);
	case W__COUNT:
		break;
	}
	return 0;
}

static void
test_rule2(void)
{
	for (int w = 0; w < W__COUNT; w++) {
		struct vector v;
		unsigned int act;

		blocked(&v, (enum way)w, true);
		ok(pending(&v) && !vector_deliverable(&v),
		    "rule 2 (%s): set-up: blocked with the pending bit set",
		    way_names[w]);
		act = become(&v, (enum way)w);
		ok((act & DELIVER) && !pending(&v) && vector_deliverable(&v),
		    "rule 2 (%s): exactly one replay, pending bit clear",
		    way_names[w]);
		ok((vector_mask(&v) & DELIVER) == 0 &&
		    (vector_unmask(&v) & DELIVER) == 0,
		    "rule 2 (%s): no second replay", way_names[w]);
		blocked(&v, (enum way)w, false);
		ok((become(&v, (enum way)w) & DELIVER) == 0,
		    "rule 2 (%s): nothing replayed without a pending bit",
		    way_names[w]);
	}
}

/* --- rule 3: coalescing ------------------------------------------------------ */

static void
test_rule3(void)
{
	struct vector v;
	unsigned int act = 0;

	ready(&v, VECTOR_POLICY_LATCH);
	(void)vector_mask(&v);
	for (int i = 0; i < 1000; i++)
		act |= vector_fire(&v, (uint64_t)i % 3 + 1);
	ok(!(act & DELIVER) && pending(&v), "rule 3: 1000 interrupts while "
	    "masked: nothing delivered, one pending bit");
	/* All but the one the pending bit stands for. */
	is_int(v.coalesced, 1998, "rule 3: raw counts kept (coalesced)");
	is_int(v.fired, 1999, "rule 3: raw counts kept (fired)");
	ok(vector_unmask(&v) & DELIVER, "rule 3: one delivery on unmask");
	is_int(v.delivered, 1, "rule 3: exactly one");
	ok(!(vector_unmask(&v) & DELIVER), "rule 3: unmask again: none");
}

/* --- rule 4: mask ---------------------------------------------------------- */

static void
test_rule4(void)
{
	struct vector v;

	ready(&v, VECTOR_POLICY_LATCH);
	ok(vector_fire(&v, 1) & DELIVER, "rule 4: unmasked delivers");
	(void)vector_mask(&v);
	ok(!(vector_fire(&v, 1) & DELIVER), "rule 4: masked delivers nothing");
	ok(!(vector_fire(&v, 5) & DELIVER), "rule 4: ...however many");
	ok(vector_unmask(&v) & DELIVER, "rule 4: nothing lost across "
	    "mask/unmask");
	ok(vector_fire(&v, 1) & DELIVER, "rule 4: delivers again");
	(void)vector_mask(&v);
	ok(!(vector_mask(&v) & DELIVER), "rule 4: mask twice: nothing");
}

/* --- rule 5: message updates, torn writes --------------------------------- */

struct msg {
	uint64_t addr;
	uint32_t data;
};

static bool
eff_is(const struct vector *v, struct msg m)
{
	return v->eff_addr == m.addr && v->eff_data == m.data;
}

static int
write_dword(struct vector *v, int which, struct msg m)
{
	switch (which) {
	case 0:
		return vector_table_write(v, MSIV_MSIX_ADDR_LO, 4,
		    (uint32_t)m.addr);
	case 1:
		return vector_table_write(v, MSIV_MSIX_ADDR_HI, 4, m.addr >> 32);
	default:
		return vector_table_write(v, MSIV_MSIX_DATA, 4, m.data);
	}
}

static void
test_rule5_torn(void)
{
	static const int perms[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 },
		{ 2, 0, 1 }, { 2, 1, 0 },
	};
	const struct msg old = { 0x00000001fee00000ull, 0x41 };
	const struct msg new = { 0x00000002fee0f000ull, 0x99 };

	for (size_t p = 0; p < 3; p++) {
		for (int k = 0; k < 6; k++) {
			for (int masked = 0; masked < 2; masked++) {
				struct vector v;
				bool whole = true, refused = false;
				unsigned int acts = 0;

				ready(&v, policies[p]);
				(void)vector_retarget(&v, false, true, old.addr,
				    old.data);
				if (masked)
					(void)vector_mask(&v);
				for (int i = 0; i < 3; i++) {
					int r = write_dword(&v, perms[k][i], new);

					if (r < 0)
						refused = true;
					else
						acts |= (unsigned int)r;
					if (!eff_is(&v, old) && !eff_is(&v, new))
						whole = false;
				}
				ok(whole, "rule 5 (%s, %s, order %d%d%d): the "
				    "effective message is never torn",
				    pname(policies[p]),
				    masked ? "masked" : "unmasked",
				    perms[k][0], perms[k][1], perms[k][2]);
				if (masked || policies[p] == VECTOR_POLICY_LATCH) {
					if (!masked) /* an unmask edge */
						(void)vector_mask(&v);
					ok(!refused && eff_is(&v, old) &&
					    !(acts & CHANGED) &&
					    (vector_unmask(&v) & CHANGED) &&
					    eff_is(&v, new), "rule 5 (%s, %s, "
					    "order %d%d%d): latched at unmask",
					    pname(policies[p]), masked ?
					    "masked" : "unmasked", perms[k][0],
					    perms[k][1], perms[k][2]);
				} else if (policies[p] == VECTOR_POLICY_STRICT) {
					ok(refused && eff_is(&v, old) &&
					    vector_table_read(&v, 0, 8) ==
					    old.addr, "rule 5 (strict, order "
					    "%d%d%d): refused, nothing changed",
					    perms[k][0], perms[k][1],
					    perms[k][2]);
				} else {
					ok(eff_is(&v, new) && (acts & CHANGED),
					    "rule 5 (live, order %d%d%d): takes "
					    "effect once the whole message is "
					    "written", perms[k][0], perms[k][1],
					    perms[k][2]);
				}
			}
		}
	}
}

static void
test_rule5_misc(void)
{
	struct vector v;
	int r;

	/* Strict: the error is -EBUSY, for 64-bit writes too. */
	ready(&v, VECTOR_POLICY_STRICT);
	r = vector_table_write(&v, MSIV_MSIX_ADDR_LO, 4, 0x1000);
	is_int(r, -EBUSY, "rule 5 strict: 32-bit write while unmasked: EBUSY");
	r = vector_table_write(&v, MSIV_MSIX_ADDR_LO, 8, 0x1000);
	is_int(r, -EBUSY, "rule 5 strict: 64-bit write while unmasked: EBUSY");
	(void)vector_mask(&v);
	r = vector_table_write(&v, MSIV_MSIX_ADDR_LO, 8, 0x1000);
	ok(r == 0 && vector_table_read(&v, 0, 8) == 0x1000,
	    "rule 5 strict: masked writes are accepted");
	ok((vector_unmask(&v) & CHANGED) && v.eff_addr == 0x1000,
	    "rule 5 strict: and latched at unmask");

	/* Latch: reads return what was written, effective stays. */
	ready(&v, VECTOR_POLICY_LATCH);
	(void)vector_table_write(&v, MSIV_MSIX_ADDR_LO, 8, 0x123456789aull);
	ok(vector_table_read(&v, MSIV_MSIX_ADDR_LO, 8) == 0x123456789aull &&
	    vector_table_read(&v, MSIV_MSIX_ADDR_LO, 4) == 0x3456789a &&
	    vector_table_read(&v, MSIV_MSIX_ADDR_HI, 4) == 0x12 &&
	    v.eff_addr == 0xfee00000u, "rule 5 latch: reads return the "
	    "written address, the effective one stays");
	(void)vector_table_write(&v, MSIV_MSIX_DATA, 4, 0x77);
	ok(vector_table_read(&v, MSIV_MSIX_DATA, 4) == 0x77 &&
	    v.eff_data == 0x41, "rule 5 latch: data likewise");
	ok(!(vector_fire(&v, 1) & CHANGED) && v.eff_data == 0x41,
	    "rule 5 latch: an interrupt does not latch");
	(void)vector_set_fmask(&v, true);
	ok((vector_set_fmask(&v, false) & CHANGED) &&
	    v.eff_addr == 0x123456789aull && v.eff_data == 0x77,
	    "rule 5 latch: function unmask latches the entry (it was masked)");

	/* Live: the ctrl dword ends an update of part of the message. */
	ready(&v, VECTOR_POLICY_LIVE);
	(void)vector_table_write(&v, MSIV_MSIX_DATA, 4, 0x55);
	ok(v.eff_data == 0x41, "rule 5 live: a data-only write waits "
	    "(an address write may follow)");
	r = vector_table_write(&v, MSIV_MSIX_CTRL, 4, 0);
	ok((r & CHANGED) && v.eff_data == 0x55 && v.eff_addr == 0xfee00000u,
	    "rule 5 live: the ctrl write commits it");
	r = vector_table_write(&v, MSIV_MSIX_DATA, 8, 0x66);
	ok((r & CHANGED) && v.eff_data == 0x66,
	    "rule 5 live: a 64-bit data+ctrl write commits at once");

	/* Reads of the control dword: only the mask bit. */
	ready(&v, VECTOR_POLICY_LATCH);
	ok(vector_table_read(&v, MSIV_MSIX_CTRL, 4) == 0,
	    "ctrl read: unmasked reads 0");
	(void)vector_table_write(&v, MSIV_MSIX_CTRL, 4, 0xfffffffe);
	ok(vector_table_read(&v, MSIV_MSIX_CTRL, 4) == 0 && !vector_masked(&v),
	    "ctrl write: reserved bits ignored, mask bit clear");
	(void)vector_table_write(&v, MSIV_MSIX_CTRL, 4, 1);
	ok(vector_table_read(&v, MSIV_MSIX_CTRL, 4) == 1 &&
	    vector_table_read(&v, MSIV_MSIX_DATA, 8) == (1ull << 32 | 0x41),
	    "ctrl write: mask bit set; 64-bit read of data+ctrl");
}

/* --- rule 6: retarget ----------------------------------------------------- */

static void
test_rule6(void)
{
	struct vector v;
	unsigned int act;

	ready(&v, VECTOR_POLICY_STRICT);
	act = vector_retarget(&v, true, true, 0x2000, 7);
	ok(!vector_masked(&v) && v.eff_addr == 0x2000 && v.eff_data == 7 &&
	    (act & CHANGED) && !(act & DELIVER), "rule 6: unmasked vector: "
	    "new message effective at once, mask restored (strict too)");
	act = vector_retarget(&v, false, true, 0x2000, 7);
	ok(!(act & CHANGED), "rule 6: the same message: no event");
	(void)vector_mask(&v);
	(void)vector_fire(&v, 1);
	(void)vector_unmask(&v); /* replayed: pending clear */
	(void)vector_set_fmask(&v, true);
	(void)vector_fire(&v, 2);
	(void)vector_set_fmask(&v, false); /* replayed */
	(void)vector_mask(&v);
	(void)vector_fire(&v, 1);
	act = vector_retarget(&v, true, false, 0, 0);
	ok(vector_masked(&v) && pending(&v) && !(act & DELIVER),
	    "rule 6: masked vector stays masked, pending kept");
	(void)vector_unmask(&v);
	(void)vector_fire(&v, 1);
	ok(!pending(&v), "rule 6: set-up for replay");
	(void)vector_set_target(&v, false);
	(void)vector_fire(&v, 1);
	act = vector_retarget(&v, true, false, 0, 0);
	ok((act & DELIVER) && !pending(&v), "rule 6: pending interrupt "
	    "delivered once to the new target");
}

/* --- rule 7: function mask ----------------------------------------------- */

static void
test_rule7(void)
{
	struct vector a, b;

	ready(&a, VECTOR_POLICY_LATCH);
	ready(&b, VECTOR_POLICY_LATCH);
	(void)vector_mask(&b);
	(void)vector_set_fmask(&a, true);
	(void)vector_set_fmask(&b, true);
	ok(vector_table_read(&a, MSIV_MSIX_CTRL, 4) == 0 &&
	    vector_table_read(&b, MSIV_MSIX_CTRL, 4) == 1,
	    "rule 7: the function mask leaves the vectors' own mask bits");
	ok(!(vector_fire(&a, 1) & DELIVER) && !(vector_fire(&b, 1) & DELIVER),
	    "rule 7: masks every vector");
	ok((vector_set_fmask(&a, false) & DELIVER) &&
	    !(vector_set_fmask(&b, false) & DELIVER),
	    "rule 7: unmasking replays only individually unmasked vectors");
	ok(!pending(&a) && pending(&b), "rule 7: the masked vector keeps "
	    "its pending bit");
}

/* --- rule 8: free ---------------------------------------------------------- */

static void
test_rule8(void)
{
	struct vector v;
	unsigned int act;

	ready(&v, VECTOR_POLICY_LATCH);
	(void)vector_set_fmask(&v, true);
	(void)vector_fire(&v, 4);
	act = vector_free(&v);
	ok(!pending(&v) && vector_masked(&v) &&
	    !(v.flags & VECTOR_F_TARGET) && v.prog_addr == 0 &&
	    v.eff_addr == 0 && v.eff_data == 0, "rule 8: free clears "
	    "pending, masks, detaches, zeroes the message");
	ok(act & CHANGED, "rule 8 / rule 10: the effective message change "
	    "is announced");
	ok((v.flags & VECTOR_F_ENABLED) && (v.flags & VECTOR_F_FMASKED),
	    "rule 8: function-level bits kept");
	is_int(v.fired, 4, "rule 8: counters kept");
	(void)vector_set_fmask(&v, false);
	ok(!(vector_fire(&v, 1) & DELIVER) && !(vector_unmask(&v) & DELIVER),
	    "rule 8: nothing delivered after free");
	ok(!(vector_free(&v) & CHANGED), "rule 8: free again: no event");
	ok(vector_setup(&v, 1, 2, false) >= 0, "free vector can be set up");
	is_int(vector_setup(&v, 3, 4, false), -EBUSY,
	    "setup on a vector with a target: EBUSY");
	ok(v.eff_addr == 1 && v.eff_data == 2, "...and changes nothing");
}

/* --- randomized differential test against a reference model --------------- */

/*
 * The reference model, written from msiv-protocol(7) alone: an entry has a
 * programmed and an effective message; "masked" is mask bit or function
 * mask or disabled; the effective message changes only at an unmask edge
 * (latch), on setup/retarget, and under live once all three message
 * dwords were rewritten or the ctrl dword is written.
 */
struct model {
	bool en, fm, m, tg, pend;
	uint64_t pa, ea;
	uint32_t pd, ed;
	unsigned int written;
	enum vector_policy pol;
};

static bool
m_masked(const struct model *s)
{
	return s->m || s->fm || !s->en;
}

static unsigned int
m_edge(struct model *s, bool was)
{
	unsigned int act = 0;

	if (was && !m_masked(s)) {
		s->written = 0;
		if (s->ea != s->pa || s->ed != s->pd)
			act |= CHANGED;
		s->ea = s->pa;
		s->ed = s->pd;
	}
	if (!m_masked(s) && s->tg && s->pend) {
		s->pend = false;
		act |= DELIVER;
	}
	return act;
}

static unsigned int
m_op(struct model *s, unsigned int op, uint64_t a, uint32_t d, int *err)
{
	bool was = m_masked(s);
	unsigned int act = 0;

	*err = 0;
	switch (op) {
	case 0: /* fire */
		if (!s->en)
			return 0;
		if (!m_masked(s) && s->tg)
			return DELIVER;
		s->pend = true;
		return 0;
	case 1:
		s->m = true;
		break;
	case 2:
		s->m = false;
		break;
	case 3:
		s->fm = true;
		break;
	case 4:
		s->fm = false;
		break;
	case 5:
		s->en = true;
		break;
	case 6:
		s->en = false;
		break;
	case 7: /* retarget: new target + message */
	case 8: /* retarget: message only */
		if (s->ea != a || s->ed != d)
			act |= CHANGED;
		s->pa = s->ea = a;
		s->pd = s->ed = d;
		s->written = 0;
		if (op == 7)
			s->tg = true;
		return act | m_edge(s, false);
	case 9: /* free */
		act = (s->ea != 0 || s->ed != 0) ? CHANGED : 0;
		s->m = true;
		s->tg = s->pend = false;
		s->pa = s->ea = 0;
		s->pd = s->ed = 0;
		s->written = 0;
		return act;
	case 10: /* setup, unmasked when d is odd */
		if (s->tg) {
			*err = -EBUSY;
			return 0;
		}
		if (s->ea != a || s->ed != d)
			act |= CHANGED;
		s->pa = s->ea = a;
		s->pd = s->ed = d;
		s->written = 0;
		s->m = true;
		s->tg = true;
		was = true;
		s->m = !(d & 1);
		return act | m_edge(s, was);
	default: { /* 11..13: 32-bit write of addr lo / addr hi / data */
		unsigned int which = op - 11;

		if (!m_masked(s) && s->pol == VECTOR_POLICY_STRICT) {
			*err = -EBUSY;
			return 0;
		}
		if (which == 0)
			s->pa = (s->pa & ~0xffffffffull) | (uint32_t)a;
		else if (which == 1)
			s->pa = (s->pa & 0xffffffffull) | (a << 32);
		else
			s->pd = d;
		s->written |= 1u << which;
		if (!m_masked(s) && s->pol == VECTOR_POLICY_LIVE &&
		    s->written == 7) {
			s->written = 0;
			if (s->ea != s->pa || s->ed != s->pd)
				act |= CHANGED;
			s->ea = s->pa;
			s->ed = s->pd;
		}
		return act;
	}
	}
	return m_edge(s, was);
}

static uint64_t rng = 88172645463325252ull;

static uint64_t
xorshift(void)
{
	return tap_rand(&rng);
}

static unsigned int
v_op(struct vector *v, unsigned int op, uint64_t a, uint32_t d, int *err)
{
	int r;

	*err = 0;
	switch (op) {
	case 0:
		return vector_fire(v, 1);
	case 1:
		return vector_mask(v);
	case 2:
		return vector_unmask(v);
	case 3:
		return vector_set_fmask(v, true);
	case 4:
		return vector_set_fmask(v, false);
	case 5:
		return vector_set_enabled(v, true);
	case 6:
		return vector_set_enabled(v, false);
	case 7:
		return vector_retarget(v, true, true, a, d);
	case 8:
		return vector_retarget(v, false, true, a, d);
	case 9:
		return vector_free(v);
	case 10:
		r = vector_setup(v, a, d, d & 1);
		break;
	case 11:
		r = vector_table_write(v, MSIV_MSIX_ADDR_LO, 4, (uint32_t)a);
		break;
	case 12:
		r = vector_table_write(v, MSIV_MSIX_ADDR_HI, 4, (uint32_t)a);
		break;
	default:
		r = vector_table_write(v, MSIV_MSIX_DATA, 4, d);
		break;
	}
	if (r < 0) {
		*err = r;
		return 0;
	}
	return (unsigned int)r;
}

/* --- direct mode: a moved trigger may have lost an interrupt ------------- */

/*
 * vector_rerouted() after the operations that move a direct vector's
 * trigger (rules 4 and 6, at-least-once): masked, the pending bit stands
 * for a lost interrupt and the next unmask delivers it; deliverable, one
 * delivery, or none more if the operation's own delivery comes after the
 * move; freed or disabled, nothing.
 */
static void
test_rerouted(void)
{
	struct vector v;
	unsigned int act;

	ready(&v, VECTOR_POLICY_LATCH);
	act = vector_mask(&v);
	act = vector_rerouted(&v, act);
	ok(act == 0 && pending(&v) && v.delivered == 0 && v.fired == 1 &&
	    identity(&v), "rerouted: MASK of a direct vector: nothing to the "
	    "target, the pending bit set (an assumed interrupt, fired)");
	act = vector_rerouted(&v, vector_unmask(&v));
	ok(act == DELIVER && !pending(&v) && v.delivered == 1,
	    "rerouted: UNMASK replays it; the replay, written after the "
	    "move, is the only delivery");
	act = vector_rerouted(&v, vector_retarget(&v, true, false, 0, 0));
	ok(act == DELIVER && !pending(&v) && v.delivered == 2,
	    "rerouted: RETARGET of a deliverable vector: one delivery to the "
	    "new target");
	(void)vector_mask(&v);
	(void)vector_fire(&v, 4);
	act = vector_rerouted(&v, vector_unmask(&v));
	ok(act == DELIVER && !pending(&v) && v.delivered == 3 &&
	    v.coalesced == 3 && identity(&v), "rerouted: pending and lost "
	    "coalesce into one delivery (rule 3)");
	act = vector_rerouted(&v, vector_set_fmask(&v, true));
	ok(act == 0 && pending(&v), "rerouted: function mask: pending set");
	act = vector_rerouted(&v, vector_set_fmask(&v, false));
	ok(act == DELIVER && !pending(&v), "rerouted: function unmask: one "
	    "delivery");
	act = vector_rerouted(&v, vector_set_enabled(&v, false));
	ok(act == 0 && !pending(&v) && v.dropped == 0,
	    "rerouted: function disabled: nothing assumed (rule 1 drops)");
	act = vector_rerouted(&v, vector_set_enabled(&v, true));
	ok(act == DELIVER && v.delivered == 5, "rerouted: enabled again: "
	    "one delivery");
	act = vector_rerouted(&v, vector_free(&v));
	ok(!(act & DELIVER) && !pending(&v) && v.delivered == 5,
	    "rerouted: FREE: no target, pending stays clear (rule 8)");
	(void)vector_set_target(&v, true);
	act = vector_rerouted(&v, CHANGED);
	ok(act == CHANGED && pending(&v), "rerouted: other actions are "
	    "kept; masked with a target: pending set");
}

/*
 * vector_nospace(): a SETUP that found no slot (slots on first use). The
 * vector stays undeliverable with its pending bit latched, enabled or
 * not; the setup that later finds a slot replays exactly one interrupt
 * (rule 2); a FREE before it clears the bit (rule 8).
 */
static void
test_nospace(void)
{
	struct vector v;
	unsigned int act;
	int r;

	vector_init(&v, VECTOR_POLICY_LATCH);
	r = vector_nospace(&v);
	ok(r == 0 && pending(&v) && !vector_deliverable(&v) &&
	    !(v.flags & VECTOR_F_TARGET) && v.eff_addr == 0,
	    "nospace: function disabled: pending latched, no target, "
	    "message unchanged");
	r = vector_nospace(&v);
	ok(r == 0 && pending(&v), "nospace twice: still one pending bit");
	act = vector_set_enabled(&v, true);
	act |= vector_unmask(&v);
	ok(act == 0 && pending(&v), "nospace: enabled and unmasked without "
	    "a target: nothing delivered, pending kept");
	(void)vector_mask(&v);
	r = vector_setup(&v, 0xfee00000u, 0x41, true);
	ok(r >= 0 && ((unsigned int)r & DELIVER) && !pending(&v) &&
	    v.delivered == 1, "nospace, then a setup that finds a slot: "
	    "exactly one interrupt replayed (rule 2)");
	r = vector_nospace(&v);
	ok(r == -EBUSY && !pending(&v), "nospace on a vector with a target: "
	    "EBUSY, state unchanged");
	(void)vector_free(&v);
	(void)vector_nospace(&v);
	(void)vector_free(&v);
	r = vector_setup(&v, 0xfee00000u, 0x42, true);
	ok(r >= 0 && !((unsigned int)r & DELIVER) && !pending(&v) &&
	    v.delivered == 1, "nospace, free, setup: the free cleared the "
	    "latched bit (rule 8), nothing replayed");
}

static void
test_differential(enum vector_policy pol)
{
	struct vector v;
	struct model s = { .m = true, .pol = pol };
	long diverged = -1;
	char why[160] = "";

	vector_init(&v, pol);
	for (long i = 0; i < 200000 && diverged < 0; i++) {
		unsigned int op = (unsigned int)(xorshift() % 14);
		/* Few distinct values, so "unchanged" cases happen. */
		uint64_t a = xorshift() % 3 * 0x100000001ull;
		uint32_t d = (uint32_t)(xorshift() % 4);
		int e1, e2;
		unsigned int a1 = v_op(&v, op, a, d, &e1);
		unsigned int a2 = m_op(&s, op, a, d, &e2);
		uint32_t ctrl = (uint32_t)vector_table_read(&v, MSIV_MSIX_CTRL, 4);

		if (a1 != a2 || e1 != e2)
			snprintf(why, sizeof(why), "op %u: actions %u/%u, "
			    "errors %d/%d", op, a1, a2, e1, e2);
		else if (v.eff_addr != s.ea || v.eff_data != s.ed ||
		    v.prog_addr != s.pa || v.prog_data != s.pd)
			snprintf(why, sizeof(why), "op %u: message differs",
			    op);
		else if (pending(&v) != s.pend || ctrl != (s.m ? 1u : 0u) ||
		    vector_masked(&v) != m_masked(&s) ||
		    !!(v.flags & VECTOR_F_TARGET) != s.tg)
			snprintf(why, sizeof(why), "op %u: flags differ", op);
		else if (!identity(&v))
			snprintf(why, sizeof(why), "op %u: counter identity "
			    "broken", op);
		if (why[0] != '\0')
			diverged = i;
	}
	if (!ok(diverged < 0, "200000 random operations (%s policy) agree "
	    "with the reference model, the counter identity holding",
	    pname(pol)))
		tap_diag("first divergence at step %ld: %s", diverged, why);
}

/* --- lazy counting (the io_uring loop) ------------------------------------ */

/*
 * The io_uring loop delivers a wakeup before it reads the trigger: the
 * interrupt is delivered at once and counted in fired later, once, and
 * the signals the kernel folded into the wakeup later still.
 */
static void
test_unread(void)
{
	struct vector v;
	unsigned int act;

	ready(&v, VECTOR_POLICY_LATCH);
	act = vector_fire_unread(&v);
	ok(act == DELIVER && v.delivered == 1 && v.fired == 0,
	    "unread: delivered at once, not counted in fired yet");
	act = vector_fire_unread(&v);
	vector_count_unread(&v, 2);
	ok(act == DELIVER && v.delivered == 2 && v.fired == 2 &&
	    identity(&v), "unread: two wakeups counted later: fired 2 = "
	    "delivered 2, the identity holds");
	vector_fold(&v, 3);
	ok(v.fired == 5 && v.coalesced == 3 && identity(&v),
	    "fold: 3 signals folded into those wakeups: fired and "
	    "coalesced, the identity holds");
	(void)vector_mask(&v);
	act = vector_fire_unread(&v);
	vector_count_unread(&v, 1);
	ok(act == 0 && pending(&v) && identity(&v), "unread while masked: "
	    "the pending bit (rule 3), the identity holds");
	act = vector_fire(&v, 0);
	ok(act == 0 && v.fired == 6 && pending(&v) && identity(&v),
	    "fire 0: no interrupt, nothing changes");
}

/* --- restore and resync (a restart, a failed commit) ---------------------- */

static const struct vector_saved saved = {
	.prog_addr = 0xfee02000u, .prog_data = 0x52,
	.eff_addr = 0xfee01000u, .eff_data = 0x51,
	.written = VECTOR_W_DATA, .masked = false, .setup = true,
};

/*
 * Restore: the stored messages and mask bit, the vfunc's function bits,
 * no target; a set-up vector awaits its target with its pending bit set
 * (msiv-protocol(7), MSI-X SEMANTICS, across a restart), and the target
 * that attaches replays exactly one interrupt (rule 2).
 */
static void
test_restore(void)
{
	struct vector_saved sv = saved;
	struct vector v;
	unsigned int act;

	vector_init(&v, VECTOR_POLICY_LIVE);
	act = vector_restore(&v, &sv, true, false);
	ok(act == CHANGED && v.prog_addr == 0xfee02000u && v.prog_data ==
	    0x52 && v.eff_addr == 0xfee01000u && v.eff_data == 0x51 &&
	    v.written == VECTOR_W_DATA && v.policy == VECTOR_POLICY_LIVE,
	    "restore: the stored programmed and effective messages, not "
	    "latched on the way; MSG_CHANGED from the reset message");
	ok(v.flags == (VECTOR_F_ENABLED | VECTOR_F_PENDING | VECTOR_F_AWAIT) &&
	    !vector_deliverable(&v), "restore: set up, unmasked, enabled: "
	    "pending, no target, awaiting one");
	ok(v.fired == 1 && v.delivered == 0 && identity(&v),
	    "restore: the assumed interrupt counted in fired (identity)");
	act = vector_set_target(&v, true);
	ok(act == DELIVER && !pending(&v) && v.delivered == 1 &&
	    identity(&v), "restore: the target attaches: one replay");
	act = vector_restore(&v, &sv, true, false);
	ok(act == 0 && !(v.flags & VECTOR_F_TARGET) && pending(&v) &&
	    v.fired == 1 && v.delivered == 0, "restore again: same message, "
	    "no MSG_CHANGED; the target gone, the counters start again");
	sv.masked = true;
	sv.setup = false;
	act = vector_restore(&v, &sv, false, true);
	ok(act == 0 && v.flags == (VECTOR_F_MASKED | VECTOR_F_FMASKED) &&
	    v.fired == 0 && identity(&v), "restore: never set up, masked, "
	    "function masked and disabled: not pending");
	sv.eff_addr = 0;
	sv.eff_data = 0;
	act = vector_restore(&v, &sv, false, true);
	ok(act == CHANGED && v.eff_addr == 0, "restore: an effective message "
	    "that moves is announced (rule 10)");
	sv.written = 0xff;
	(void)vector_restore(&v, &sv, false, false);
	ok(v.written == VECTOR_W_ALL, "restore: written bits beyond the "
	    "message dwords are ignored");
}

/*
 * "Has a target" lives in the vector: VECTOR_F_TARGET, or VECTOR_F_AWAIT
 * for a set-up vector restored without one; either is "set up", what the
 * store keeps. A target attached by any operation ends the wait; FREE
 * ends it too (rule 8).
 */
static void
test_await(void)
{
	struct vector_saved sv = saved;
	struct vector v;
	int r;

	vector_init(&v, VECTOR_POLICY_LATCH);
	ok(!vector_is_set_up(&v), "await: a reset vector is not set up");
	(void)vector_restore(&v, &sv, true, false);
	ok((v.flags & VECTOR_F_AWAIT) && !(v.flags & VECTOR_F_TARGET) &&
	    vector_is_set_up(&v), "await: restored set up, it awaits its "
	    "target, and is set up");
	(void)vector_nospace(&v);
	ok((v.flags & VECTOR_F_AWAIT) && pending(&v), "await: no slot for "
	    "it: still awaited, pending");
	(void)vector_set_target(&v, true);
	ok(!(v.flags & VECTOR_F_AWAIT) && vector_is_set_up(&v),
	    "await: the target attached (rule 2 replay path) ends it");
	(void)vector_restore(&v, &sv, true, false);
	(void)vector_retarget(&v, true, false, 0, 0);
	ok(!(v.flags & VECTOR_F_AWAIT) && (v.flags & VECTOR_F_TARGET),
	    "await: a retarget with a new target ends it");
	(void)vector_restore(&v, &sv, true, false);
	r = vector_setup(&v, 0xfee00000u, 0x41, false);
	ok(r >= 0 && !(v.flags & VECTOR_F_AWAIT) &&
	    (v.flags & VECTOR_F_TARGET), "await: a setup ends it");
	(void)vector_restore(&v, &sv, true, false);
	(void)vector_retarget(&v, false, true, 0xfee05000u, 0x55);
	ok((v.flags & VECTOR_F_AWAIT) && !(v.flags & VECTOR_F_TARGET),
	    "await: a retarget of the message only keeps it");
	(void)vector_free(&v);
	ok(!(v.flags & VECTOR_F_AWAIT) && !vector_is_set_up(&v),
	    "await: FREE ends it (rule 8): not set up");
	sv.setup = false;
	(void)vector_restore(&v, &sv, true, false);
	ok(!vector_is_set_up(&v), "await: restored not set up: no wait");
}

/*
 * Resync: a vector keeps its target and takes the stored message, mask
 * and function bits back. The effective message put back is announced
 * (rule 10); a vector deliverable again with its pending bit replays it
 * (rule 2); the counters and pending bit are kept.
 */
static void
test_resync(void)
{
	struct vector_saved sv = saved;
	struct vector v;
	unsigned int act;

	ready(&v, VECTOR_POLICY_LATCH);
	(void)vector_retarget(&v, false, true, 0xfee03000u, 0x53);
	act = vector_resync(&v, &sv, true, false);
	ok(act == CHANGED && v.eff_addr == 0xfee01000u && v.eff_data == 0x51 &&
	    v.prog_addr == 0xfee02000u && (v.flags & VECTOR_F_TARGET) &&
	    vector_deliverable(&v), "resync: the stored message back, "
	    "announced (rule 10), the target kept");
	act = vector_resync(&v, &sv, true, false);
	ok(act == 0, "resync to the same state: no actions");
	(void)vector_mask(&v);
	(void)vector_fire(&v, 2);
	act = vector_resync(&v, &sv, true, false);
	ok(act == DELIVER && !pending(&v) && v.fired == 2 &&
	    v.delivered == 1 && identity(&v), "resync: unmasked again with "
	    "its pending bit: exactly one replay (rule 2), counters kept");
	sv.masked = true;
	(void)vector_fire(&v, 1);
	act = vector_resync(&v, &sv, true, true);
	ok(act == 0 && (v.flags & VECTOR_F_MASKED) &&
	    (v.flags & VECTOR_F_FMASKED) && !pending(&v) && identity(&v),
	    "resync: masked and function masked as stored, nothing "
	    "delivered");
	(void)vector_fire(&v, 1);
	act = vector_resync(&v, &sv, false, false);
	ok(act == 0 && pending(&v) && !(v.flags & VECTOR_F_ENABLED) &&
	    identity(&v), "resync: disabled, the pending bit kept");
}


int
main(void)
{
	test_rule1();
	test_rule2();
	test_rule3();
	test_rule4();
	test_rule5_torn();
	test_rule5_misc();
	test_rule6();
	test_rule7();
	test_rule8();
	test_rerouted();
	test_nospace();
	test_identity();
	test_unread();
	test_restore();
	test_await();
	test_resync();
	for (size_t p = 0; p < 3; p++)
		test_differential(policies[p]);
	return tap_done();
}
