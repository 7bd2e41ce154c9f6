/*
 * The counter identity of msiv-protocol(7) (COUNTERS) on the real msivd,
 * relay mode, on whichever delivery loop it runs (tests/test-counters.epoll
 * runs it on the epoll loop):
 *
 *   fired = delivered + coalesced + dropped + (pending ? 1 : 0)
 *
 * after every step of a mixed sequence: single interrupts and bursts
 * (one trigger write of N: several interrupts read at once), masked and
 * unmasked, function-masked, retargeted, disabled, freed while pending.
 * Interrupts are raised by a separate process through the slots' trigger
 * fds, as a device does; each check waits until the daemon has counted
 * what was raised.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

static struct h_daemon d;
static struct msiv_conn *c;
static struct h_firer f;
static uint64_t vf;
static uint64_t raised[2]; /* what the firer raised on each vector */
static int bad;

static struct msiv_vector_info
query(unsigned int v)
{
	struct msiv_vector_info in;

	memset(&in, 0, sizeof(in));
	if (msiv_vector_query(c, vf, v, &in) < 0)
		tap_bail("query");
	return in;
}

/* Raise count interrupts on vector v in one write and wait until the
 * daemon has counted them. */
static void
fire(unsigned int v, uint32_t count)
{
	if (h_fire(&f, v, count) < 0)
		tap_bail("fire");
	raised[v] += count;
	if (h_wait_fired(c, vf, v, raised[v]) < 0)
		tap_bail("the daemon did not count the interrupts");
}

static bool
identity(const struct msiv_vector_info *in)
{
	return in->fired == in->delivered + in->coalesced + in->dropped +
	    (in->pending ? 1u : 0u);
}

/* The identity on both vectors, after a step; a failure names it. */
static void
step(const char *what)
{
	for (unsigned int v = 0; v < 2; v++) {
		struct msiv_vector_info in = query(v);

		if (identity(&in) && in.fired == raised[v])
			continue;
		tap_diag("after %s, vector %u: fired %llu (raised %llu), "
		    "delivered %llu, coalesced %llu, dropped %llu, pending %d",
		    what, v, (unsigned long long)in.fired,
		    (unsigned long long)raised[v],
		    (unsigned long long)in.delivered,
		    (unsigned long long)in.coalesced,
		    (unsigned long long)in.dropped, in.pending);
		bad++;
	}
}

int
main(void)
{
	struct msiv_conn *admin;
	struct msiv_vector_info in;
	int efd[2], t2;

	if (h_start(&d, NULL) < 0)
		tap_bail("msivd did not start");
	c = h_connect(&d, "counters");
	admin = h_connect(&d, NULL);
	efd[0] = h_eventfd();
	efd[1] = h_eventfd();
	t2 = h_eventfd();
	if (msiv_vfunc_open(c, "sim0", 2, MSIV_POLICY_DEFAULT, &vf) < 0)
		tap_bail("open");
	if (h_firer_start(&f, admin, "sim0", query(0).slot, 2) < 0)
		tap_bail("firer");
	for (unsigned int v = 0; v < 2; v++)
		if (msiv_vector_setup(c, vf, v, 0xfee00000u, 0x40 + v, efd[v],
		    MSIV_SETUP_UNMASKED) < 0)
			tap_bail("setup");
	if (msiv_vfunc_enable(c, vf, 1) < 0)
		tap_bail("enable");

	/* STATUS's delivered counts a delivery as soon as its target has it,
	 * with nothing else asked of the daemon meanwhile (no query, which
	 * syncs with the delivery loop): the io_uring loop issues a write in
	 * the enter that then waits for the next wakeup. */
	{
		struct msiv_status_info st0, st1;

		if (msiv_get_status(admin, &st0, sizeof(st0)) < 0 ||
		    h_fire(&f, 1, 1) < 0)
			tap_bail("status");
		raised[1]++;
		is_int(h_efd_wait(efd[1], H_TIMEOUT_MS), 1, "a delivery");
		if (msiv_get_status(admin, &st1, sizeof(st1)) < 0)
			tap_bail("status");
		ok(st1.delivered == st0.delivered + 1, "STATUS counts the "
		    "delivery once its target has it (delivered %llu, was "
		    "%llu)", (unsigned long long)st1.delivered,
		    (unsigned long long)st0.delivered);
		if (h_wait_fired(c, vf, 1, raised[1]) < 0)
			tap_bail("the daemon did not count the interrupt");
	}

	/* The case of the issue: `msivctl fire sim0 0`, then
	 * `msivctl fire sim0 0 5`, unmasked with a target. */
	fire(0, 1);
	is_int(h_efd_wait(efd[0], H_TIMEOUT_MS), 1, "one interrupt, one "
	    "delivery");
	fire(0, 5);
	is_int(h_efd_wait(efd[0], H_TIMEOUT_MS), 1, "5 interrupts in one "
	    "write: one delivery");
	in = query(0);
	ok(in.fired == 6 && in.delivered == 2 && in.coalesced == 4 &&
	    in.dropped == 0 && !in.pending, "fired 6 = delivered 2 + "
	    "coalesced 4 (got fired %llu, delivered %llu, coalesced %llu)",
	    (unsigned long long)in.fired, (unsigned long long)in.delivered,
	    (unsigned long long)in.coalesced);

	/* Bursts and singles, delivered. */
	for (uint32_t n = 1; n <= 8; n++) {
		fire(n % 2, n);
		(void)h_efd_wait(efd[n % 2], H_TIMEOUT_MS);
	}
	step("bursts, unmasked");
	/* Masked: one pending bit. */
	if (msiv_vector_mask(c, vf, 0) < 0)
		tap_bail("mask");
	fire(0, 3);
	fire(0, 1);
	fire(0, 7);
	in = query(0);
	ok(in.pending && h_efd_take(efd[0]) == 0 && identity(&in),
	    "masked: pending, nothing delivered, the identity holds");
	step("masked");
	if (msiv_vector_unmask(c, vf, 0) < 0)
		tap_bail("unmask");
	is_int(h_efd_wait(efd[0], H_TIMEOUT_MS), 1, "unmask: one replay");
	step("unmask");
	/* Function mask, retarget while masked, function unmask. */
	if (msiv_vfunc_mask(c, vf, 1) < 0)
		tap_bail("fmask");
	fire(0, 2);
	fire(1, 1);
	step("function masked");
	if (msiv_vector_retarget(c, vf, 0, MSIV_RETARGET_TARGET, 0, 0,
	    t2) < 0)
		tap_bail("retarget");
	step("retarget");
	if (msiv_vfunc_mask(c, vf, 0) < 0)
		tap_bail("funmask");
	ok(h_efd_wait(t2, H_TIMEOUT_MS) == 1 &&
	    h_efd_wait(efd[1], H_TIMEOUT_MS) == 1 && h_efd_take(efd[0]) == 0,
	    "function unmask: one replay each, vector 0 to its new target");
	step("function unmask");
	/* Disabled: dropped. */
	if (msiv_vfunc_enable(c, vf, 0) < 0)
		tap_bail("disable");
	fire(0, 4);
	fire(1, 1);
	in = query(0);
	ok(in.dropped >= 4 && identity(&in), "disabled: dropped, the "
	    "identity holds");
	step("disabled");
	if (msiv_vfunc_enable(c, vf, 1) < 0)
		tap_bail("enable");
	/* Freed while pending: the pending interrupt is dropped. */
	if (msiv_vector_mask(c, vf, 1) < 0)
		tap_bail("mask");
	fire(1, 2);
	in = query(1);
	ok(in.pending, "vector 1 masked: pending");
	if (msiv_vector_free(c, vf, 1) < 0)
		tap_bail("free");
	in = query(1);
	ok(!in.pending && identity(&in), "free: the pending interrupt "
	    "counts as dropped, the identity holds (dropped %llu)",
	    (unsigned long long)in.dropped);
	fire(1, 3);
	step("freed");
	ok(bad == 0, "the identity held, and fired equalled the interrupts "
	    "raised, after every step");

	(void)h_firer_stop(&f);
	msiv_close(c);
	msiv_close(admin);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
