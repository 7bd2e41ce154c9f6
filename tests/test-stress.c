/*
 * Stress test of the delivery path against concurrent control operations
 * (msiv-protocol(7) rules 4 and 6, and the synchronisation protocol of
 * doc/delivery.md), on the real msivd.
 *
 * A separate process fires one vector as fast as it can while this process
 * performs 10,000 MASK / UNMASK / RETARGET operations on it, and checks:
 *  - after MASK is acknowledged, the target receives nothing until UNMASK;
 *  - after RETARGET is acknowledged, the old target receives nothing, ever;
 *  - at quiescence every delivery is accounted for: the sum of what all
 *    targets received equals the daemon's delivered counter, every raised
 *    interrupt was seen, and the last fire before quiescence is delivered.
 *
 * Then slots on first use (MSIV_OPEN_LAZY): two vectors of a lazy vfunc
 * take turns on a device of one slot, flooded all along: each round one
 * is freed, the other's setup, refused with ENOSPC while the slot was
 * taken, now binds it. After a FREE is acknowledged its target receives
 * nothing, ever (rule 8; nothing of the slot follows its old owner, rule
 * 6 across a rebind), and every delivery counted reached its vector's
 * target.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define DETACH_ROUNDS 20
#define CHURN   1000
#define OPS     10000
#define NTARGET 4

struct stress {
	struct msiv_conn *c;
	uint64_t vf;
	int fd[NTARGET];
	int cur;                 /* index of the current target */
	uint64_t received;       /* everything read from every target */
	uint64_t late_mask;      /* deliveries while acknowledged masked */
	uint64_t late_retarget;  /* deliveries to a retired target */
	int bad_reply;
};

/* Read what arrived on every retired target: any of it came after its
 * retarget was acknowledged. */
static void
check_retired(struct stress *st)
{
	for (int i = 0; i < NTARGET; i++) {
		uint64_t v;

		if (i == st->cur)
			continue;
		v = h_efd_take(st->fd[i]);
		st->late_retarget += v;
		st->received += v;
	}
}

static void
op_mask_cycle(struct stress *st)
{
	struct msiv_vector_info in;

	if (msiv_vector_mask(st->c, st->vf, 0) < 0)
		st->bad_reply++;
	/* Deliveries before the acknowledgement are allowed. */
	st->received += h_efd_take(st->fd[st->cur]);
	/* Give the flood time to hit the masked vector: a round trip. */
	if (msiv_vector_query(st->c, st->vf, 0, &in) < 0)
		st->bad_reply++;
	{
		uint64_t v = h_efd_take(st->fd[st->cur]);

		st->late_mask += v;
		st->received += v;
	}
	if (msiv_vector_unmask(st->c, st->vf, 0) < 0)
		st->bad_reply++;
}

static void
op_retarget(struct stress *st, int with_msg, uint32_t n)
{
	int next = (st->cur + 1) % NTARGET;
	int old = st->cur;
	unsigned int flags = MSIV_RETARGET_TARGET |
	    (with_msg ? MSIV_RETARGET_MSG : 0);

	/* The next target was retired earlier: nothing may have come. */
	check_retired(st);
	if (msiv_vector_retarget(st->c, st->vf, 0, flags,
	    0xfee00000u + (n & 0xff) * 0x1000u, n, st->fd[next]) < 0)
		st->bad_reply++;
	st->cur = next;
	/* What reached the old target before the acknowledgement counts. */
	st->received += h_efd_take(st->fd[old]);
}

/*
 * Lazy churn (see the top). Vector a holds the one slot of device simy at
 * the start of each round; b's target has been retired since b's free.
 */
static void
test_churn(struct msiv_conn *c)
{
	struct msiv_vector_info in[2];
	struct h_firer f;
	uint64_t vf, received = 0, late = 0, writes;
	int fd[2] = { h_eventfd(), h_eventfd() }, bad = 0, refused = 0;

	if (msiv_device_attach(c, "simy", "sim", NULL, 1, MSIV_POLICY_DEFAULT,
	    0) != 0 || msiv_vfunc_open_flags(c, "simy", 2, MSIV_POLICY_DEFAULT,
	    MSIV_OPEN_LAZY, &vf) != 0 || msiv_vfunc_enable(c, vf, 1) != 0 ||
	    msiv_vector_setup(c, vf, 0, 0xfee00000u, 0, fd[0],
	    MSIV_SETUP_UNMASKED) != 0 || h_firer_start(&f, c, "simy", 0, 1) != 0)
		tap_bail("churn: cannot set up");
	ok(h_firer_flood(&f, 0) == 0, "churn: the firer floods the one slot "
	    "of a device two lazy vectors share");
	for (int r = 0; r < CHURN; r++) {
		int a = r % 2, b = 1 - a;

		late += h_efd_take(fd[b]);
		refused += msiv_vector_setup(c, vf, (unsigned)b, 0xfee00000u,
		    (uint32_t)b, fd[b], MSIV_SETUP_UNMASKED) == -ENOSPC;
		bad += msiv_vector_free(c, vf, (unsigned)a) != 0;
		received += h_efd_take(fd[a]);
		bad += msiv_vector_setup(c, vf, (unsigned)b, 0xfee00000u,
		    (uint32_t)b, fd[b], MSIV_SETUP_UNMASKED) != 0;
	}
	writes = h_firer_stop(&f);
	late += h_efd_take(fd[CHURN % 2 == 0 ? 1 : 0]);
	ok(bad == 0 && refused == CHURN, "churn: %d rounds of free and setup "
	    "while %llu interrupts were raised; every setup on the taken slot "
	    "got ENOSPC", CHURN, (unsigned long long)writes);
	is_int(late, 0, "churn: nothing reached a vector's target after its "
	    "free was acknowledged");
	/* Quiescence: the holder's deliveries are all in its target once a
	 * query (deliver_sync) has returned. */
	ok(msiv_vector_query(c, vf, 0, &in[0]) == 0 &&
	    msiv_vector_query(c, vf, 1, &in[1]) == 0, "churn: query both");
	received += h_efd_take(fd[0]) + h_efd_take(fd[1]);
	is_int(received, in[0].delivered + in[1].delivered, "churn: every "
	    "delivery counted reached its vector's target (%llu)",
	    (unsigned long long)received);
	ok(in[0].fired + in[1].fired <= writes && received > CHURN,
	    "churn: the vectors saw %llu of %llu interrupts (the others came "
	    "while the slot had no owner, or were an earlier owner's)",
	    (unsigned long long)(in[0].fired + in[1].fired),
	    (unsigned long long)writes);
	ok(msiv_vfunc_close(c, vf) == 0 &&
	    msiv_device_detach(c, "simy", 0) == 0, "churn: close, detach");
	close(fd[0]);
	close(fd[1]);
}

static void
drain_events(struct stress *st)
{
	if (msiv_events_pending(st->c) > 0 && msiv_dispatch(st->c) < 0)
		st->bad_reply++;
}

int
main(void)
{
	struct h_daemon d;
	struct h_firer f;
	struct stress st = { .cur = 0 };
	struct msiv_vector_info in;
	uint64_t writes, last;
	int r;

	if (h_start(&d, NULL) < 0)
		tap_bail("msivd did not start");
	st.c = h_connect(&d, "stress");
	for (int i = 0; i < NTARGET; i++)
		st.fd[i] = h_eventfd();

	ok(msiv_vfunc_open(st.c, "sim0", 1, MSIV_POLICY_DEFAULT, &st.vf) == 0,
	    "open a vfunc of one vector");
	ok(msiv_vector_setup(st.c, st.vf, 0, 0xfee00000u, 0x30, st.fd[0],
	    MSIV_SETUP_UNMASKED) == 0, "set up vector 0, unmasked");
	ok(msiv_vfunc_enable(st.c, st.vf, 1) == 0, "enable the function");
	r = msiv_vector_query(st.c, st.vf, 0, &in);
	ok(r == 0, "query the vector's slot");
	r = h_firer_start(&f, st.c, "sim0", in.slot, 1);
	ok(r == 0, "start the firing process");
	if (r < 0)
		tap_bail("no firer");
	ok(h_firer_flood(&f, 0) == 0, "the firer floods the vector");

	for (uint32_t n = 0; n < OPS; n++) {
		switch (n % 4) {
		case 0:
		case 2:
			op_mask_cycle(&st);
			break;
		case 1:
			op_retarget(&st, 0, n);
			break;
		case 3:
			op_retarget(&st, 1, n);
			break;
		}
		drain_events(&st);
		if (n % 64 == 0)
			check_retired(&st);
	}
	writes = h_firer_stop(&f);
	ok(writes > 0, "the firer raised %llu interrupts during %d operations",
	    (unsigned long long)writes, OPS);
	ok(st.bad_reply == 0, "every operation was acknowledged (%d failed)",
	    st.bad_reply);
	is_int(st.late_mask, 0, "nothing reached a target while its vector "
	    "was acknowledged masked");

	/* Quiescence: the last fire before it is always delivered. */
	ok(h_wait_fired(st.c, st.vf, 0, writes) == 0,
	    "the daemon saw every interrupt raised");
	{
		struct h_firer f2;
		int fresh = 0;

		r = h_firer_start(&f2, st.c, "sim0", in.slot, 1);
		ok(r == 0 && h_fire(&f2, 0, 1) == 0, "one last fire");
		last = h_efd_wait(st.fd[st.cur], H_TIMEOUT_MS);
		st.received += last;
		ok(last >= 1, "the last fire before quiescence was delivered "
		    "to the current target");
		fresh = h_wait_fired(st.c, st.vf, 0, writes + 1) == 0;
		ok(fresh, "the daemon counted it");
		h_firer_stop(&f2);
	}
	check_retired(&st);
	is_int(st.late_retarget, 0, "no retired target received anything "
	    "after its retarget was acknowledged");
	st.received += h_efd_take(st.fd[st.cur]);
	ok(msiv_vector_query(st.c, st.vf, 0, &in) == 0, "final query");
	/* The epoll loop reads every signal: fired is exact. The io_uring
	 * loop may deliver a wakeup that stood for no signal of its own
	 * (at-least-once, deliver-uring.c): fired counts it as an assumed
	 * interrupt, so the counter identity holds. */
	{
		const char *dl = getenv("MSIV_TEST_DELIVERY");

		if (dl != NULL && strcmp(dl, "epoll") == 0)
			is_int(in.fired, writes + 1, "fired counter = "
			    "interrupts raised");
		else
			ok(in.fired >= writes + 1, "fired counter >= "
			    "interrupts raised (%llu assumed)",
			    (unsigned long long)(in.fired - writes - 1));
	}
	ok(in.fired == in.delivered + in.coalesced + in.dropped +
	    (in.pending ? 1u : 0u), "the counter identity holds after the "
	    "flood (fired %llu, delivered %llu, coalesced %llu, dropped %llu)",
	    (unsigned long long)in.fired, (unsigned long long)in.delivered,
	    (unsigned long long)in.coalesced, (unsigned long long)in.dropped);
	is_int(st.received, in.delivered, "every delivery counted by the "
	    "daemon reached exactly one target (%llu)",
	    (unsigned long long)in.delivered);
	ok(in.delivered > 0 && in.delivered <= in.fired,
	    "deliveries (%llu) never exceed interrupts (%llu)",
	    (unsigned long long)in.delivered, (unsigned long long)in.fired);
	ok(!in.pending && !in.masked, "quiescent vector: unmasked, nothing "
	    "pending");
	tap_diag("%llu interrupts raised, %llu delivered, %llu coalesced",
	    (unsigned long long)in.fired, (unsigned long long)in.delivered,
	    (unsigned long long)in.coalesced);

	test_churn(st.c);

	/* Detach while the device's interrupts keep coming: the delivery
	 * loop must be done with the slots before they are freed. */
	{
		int bad = 0;

		for (int i = 0; i < DETACH_ROUNDS && !bad; i++) {
			uint64_t h;
			int efd = h_eventfd();

			bad = msiv_device_attach(st.c, "simx", "sim", NULL, 4,
			    MSIV_POLICY_DEFAULT, 0) != 0 ||
			    msiv_vfunc_open(st.c, "simx", 1,
			    MSIV_POLICY_DEFAULT, &h) != 0 ||
			    msiv_vector_setup(st.c, h, 0, 0xfee00000u, 1, efd,
			    MSIV_SETUP_UNMASKED) != 0 ||
			    msiv_vfunc_enable(st.c, h, 1) != 0 ||
			    h_firer_start(&f, st.c, "simx", 0, 1) != 0;
			if (bad) {
				close(efd);
				break;
			}
			bad = h_firer_flood(&f, 0) != 0 ||
			    h_efd_wait(efd, H_TIMEOUT_MS) == 0 ||
			    msiv_vfunc_close(st.c, h) != 0 ||
			    msiv_device_detach(st.c, "simx", 0) != 0;
			h_firer_stop(&f);
			close(efd);
		}
		ok(!bad, "%d times: attach a device, flood one of its vectors, "
		    "close the vfunc and detach the device while it floods",
		    DETACH_ROUNDS);
		ok(msiv_vector_query(st.c, st.vf, 0, &in) == 0 && h_alive(&d),
		    "msivd carries on");
	}

	msiv_close(st.c);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
