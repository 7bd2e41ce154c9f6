/*
 * Direct delivery mode on the sim device (msiv-protocol(7), DIRECT), rules 1-8
 * through libmsiv against the real msivd. Interrupts are raised by a
 * separate process with SIM_FIRE, which signals whatever the slot is
 * routed to, as a device does. While a direct vector is deliverable the
 * target is signalled with the daemon off the path: its delivery loop
 * sees no wakeup (the sim device, msivd's own, still counts the interrupt
 * in the vector's counters). Masked, disabled, function-masked or
 * without a target, the slot is routed back to the daemon before the
 * operation returns, and interrupts become pending there.
 * Every move of the device's signal is at-least-once (msiv-protocol(7),
 * DIRECT): an interrupt raised during a move may be lost (VFIO frees the
 * host IRQ before it requests the new one), so msivd assumes one was: a
 * move back to the daemon leaves the pending bit set, a move to a target
 * delivers one there, unless the operation delivers one anyway (a
 * replay). The sim device loses nothing, so what arrives here beyond the
 * raised interrupts is exactly what the rule adds.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

static struct h_daemon d;
static struct msiv_conn *c;
static uint64_t vf;
static uint32_t slot0;
static int req[2], ack[2];

/* The firing process: "fire vector v" requests, one SIM_FIRE each. */
static void
firer(void)
{
	struct msiv_conn *admin;
	uint32_t v;

	close(req[1]);
	close(ack[0]);
	admin = h_connect(&d, NULL);
	while (read(req[0], &v, sizeof(v)) == sizeof(v)) {
		int r = msiv_sim_fire(admin, "sim0", slot0 + v, 1);

		if (write(ack[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
	}
	_exit(0);
}

static int
fire(uint32_t v)
{
	int r = -1;

	if (write(req[1], &v, sizeof(v)) != sizeof(v) ||
	    read(ack[0], &r, sizeof(r)) != sizeof(r))
		return -1;
	return r;
}

static struct msiv_vector_info
query(unsigned int v)
{
	struct msiv_vector_info in;

	memset(&in, 0, sizeof(in));
	(void)msiv_vector_query(c, vf, v, &in);
	return in;
}

/* Fire a vector that should reach the daemon (not routed) and wait until
 * the daemon has counted it. */
static int
fire_daemon(uint32_t v)
{
	uint64_t want = query(v).fired + 1;

	if (fire(v) != 0)
		return -1;
	return h_wait_fired(c, vf, v, want);
}

/* The counter identity (msiv-protocol(7), COUNTERS). */
static bool
identity(const struct msiv_vector_info *in)
{
	return in->fired == in->delivered + in->coalesced + in->dropped +
	    (in->pending ? 1u : 0u);
}

int
main(void)
{
	int efd[4], t2, bad;
	struct msiv_vector_info in, in2;
	struct msiv_status_info st0, st1;
	pid_t pid;

	if (h_start(&d, NULL) < 0)
		tap_bail("msivd did not start");
	c = h_connect(&d, "direct");
	for (int i = 0; i < 4; i++)
		efd[i] = h_eventfd();
	t2 = h_eventfd();
	if (msiv_vfunc_open(c, "sim0", 4, MSIV_POLICY_DEFAULT, &vf) < 0)
		tap_bail("open");
	slot0 = query(0).slot;
	if (pipe2(req, O_CLOEXEC) < 0 || pipe2(ack, O_CLOEXEC) < 0)
		tap_bail("pipe");
	if ((pid = fork()) == 0)
		firer();
	close(req[0]);
	close(ack[1]);

	for (int i = 0; i < 4; i++)
		ok(msiv_vector_setup(c, vf, (unsigned)i, 0xfee00000u, 0x60u +
		    (unsigned)i, efd[i], MSIV_SETUP_UNMASKED |
		    MSIV_SETUP_DIRECT) == 0, "set up vector %d, direct", i);
	in = query(0);
	ok(in.direct && !in.routed, "direct, but not routed while the "
	    "function is disabled");
	ok(fire_daemon(0) == 0 && h_efd_take(efd[0]) == 0 &&
	    query(0).dropped == 1, "rule 1: disabled: the daemon sees it and "
	    "drops it");
	ok(msiv_vfunc_enable(c, vf, 1) == 0 && query(0).routed,
	    "enable: the slot is routed to the target");
	ok(h_efd_take(efd[0]) == 1 && h_efd_take(efd[1]) == 1 &&
	    h_efd_take(efd[2]) == 1 && h_efd_take(efd[3]) == 1,
	    "at-least-once: enabling moved each slot to its target, and each "
	    "target got one interrupt for the move, before the reply");
	in = query(0);
	ok(msiv_get_status(c, &st0, sizeof(st0)) == 0 && fire(0) == 0 &&
	    h_efd_wait(efd[0], H_TIMEOUT_MS) == 1 &&
	    msiv_get_status(c, &st1, sizeof(st1)) == 0 && st1.interrupts == st0.interrupts,
	    "rule 1: delivered straight to the target, the delivery loop off "
	    "the path (its wakeups did not move)");
	in2 = query(0);
	ok(in2.fired == in.fired + 1 && in2.delivered == in.delivered + 1 &&
	    identity(&in2), "the sim device counts the direct interrupt: "
	    "fired and delivered up by one, the counter identity holds");

	/* Rule 4 and 2: mask routes back to the daemon before it returns. */
	ok(msiv_vector_mask(c, vf, 1) == 0 && !query(1).routed,
	    "rule 4: mask routes the slot back to the daemon");
	ok(h_efd_take(efd[1]) == 0 && query(1).pending, "at-least-once: "
	    "the move leaves the pending bit set, nothing to the target");
	ok(fire_daemon(1) == 0 && fire_daemon(1) == 0 &&
	    h_efd_take(efd[1]) == 0 && query(1).pending,
	    "rule 4/3: masked: nothing delivered, one pending bit");
	ok(msiv_vector_unmask(c, vf, 1) == 0 &&
	    h_efd_wait(efd[1], H_TIMEOUT_MS) == 1 && query(1).routed &&
	    !query(1).pending, "rule 2: unmask replays once and routes the "
	    "target again");
	ok(fire(1) == 0 && h_efd_wait(efd[1], H_TIMEOUT_MS) == 1,
	    "unmasked again: direct delivery resumes");
	ok(msiv_vector_mask(c, vf, 0) == 0 && msiv_vector_unmask(c, vf, 0) ==
	    0 && h_efd_take(efd[0]) == 1 && query(0).routed &&
	    !query(0).pending, "at-least-once: MASK and UNMASK with no "
	    "interrupt: one to spare, exactly one");

	/* Rule 7: function mask. */
	ok(msiv_vector_mask(c, vf, 3) == 0 && msiv_vfunc_mask(c, vf, 1) == 0 &&
	    !query(2).routed, "rule 7: the function mask routes every vector "
	    "back");
	ok(fire_daemon(2) == 0 && fire_daemon(3) == 0 &&
	    h_efd_take(efd[2]) == 0 && h_efd_take(efd[3]) == 0,
	    "rule 7: nothing delivered while the function is masked");
	ok(msiv_vfunc_mask(c, vf, 0) == 0 &&
	    h_efd_wait(efd[2], H_TIMEOUT_MS) == 1 && h_efd_take(efd[3]) == 0 &&
	    query(3).pending, "rule 7: function unmask replays the unmasked "
	    "vector, once; the masked one keeps its bit");
	ok(h_efd_take(efd[0]) == 1 && h_efd_take(efd[1]) == 1,
	    "at-least-once: the other unmasked vectors get one each for the "
	    "moves");

	/* Rule 6: retarget moves the routing inside the operation. */
	ok(msiv_vector_retarget(c, vf, 2, MSIV_RETARGET_TARGET, 0, 0, t2) == 0 &&
	    query(2).routed, "rule 6: retarget, still routed");
	ok(h_efd_take(t2) == 1 && h_efd_take(efd[2]) == 0, "at-least-once: "
	    "the move to the new target gives it one, the old one nothing");
	ok(fire(2) == 0 && h_efd_wait(t2, H_TIMEOUT_MS) == 1 &&
	    h_efd_take(efd[2]) == 0, "rule 6: the new target gets it, the "
	    "old one nothing");

	/* Rule 8: free and reset route back and clear. */
	ok(msiv_vector_free(c, vf, 0) == 0 && !query(0).routed &&
	    !query(0).direct && !query(0).pending, "rule 8: free routes back, "
	    "ends direct mode, and assumes nothing for the move");
	ok(fire_daemon(0) == 0 && h_efd_take(efd[0]) == 0,
	    "rule 8: nothing delivered after free");
	ok(msiv_vfunc_reset(c, vf) == 0 && !query(1).routed &&
	    !query(1).pending, "rule 8: reset routes back, clears pending");
	ok(fire_daemon(1) == 0 && h_efd_take(efd[1]) == 0,
	    "rule 8: nothing delivered after reset");

	ok(msiv_vector_setup(c, vf, 0, 0xfee0c000u, 0x99, efd[0],
	    MSIV_SETUP_DIRECT) == 0 && query(0).direct && !query(0).routed,
	    "set up again, masked: direct but not routed");
	bad = 0;
	for (unsigned int i = 0; i < 4; i++) {
		in = query(i);
		if (!identity(&in)) {
			tap_diag("vector %u: fired %llu, delivered %llu, "
			    "coalesced %llu, dropped %llu, pending %d", i,
			    (unsigned long long)in.fired,
			    (unsigned long long)in.delivered,
			    (unsigned long long)in.coalesced,
			    (unsigned long long)in.dropped, in.pending);
			bad++;
		}
	}
	ok(bad == 0, "the counter identity holds on every vector after "
	    "direct delivery, moves, masks, retarget, free and reset");
	close(req[1]);
	waitpid(pid, NULL, 0);
	msiv_close(c);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
