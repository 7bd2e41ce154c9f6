/*
 * Integration test: a client that saturates its own target's counter
 * cannot stall delivery for anyone else (issue 15; msiv-protocol(7)).
 * msivd sets O_NONBLOCK on every target it is given, so a write to a
 * saturated eventfd fails with EAGAIN instead of waiting, on both
 * delivery loops (tests/test-saturate.epoll runs this on epoll); and its
 * writes never wait even when the client clears the flag again
 * (daemon/target.h), as test_blocking_again checks.
 *
 * A hostile tenant hands over a blocking eventfd and drives its counter to
 * the limit (0xfffffffffffffffe); interrupts are raised on its vector and,
 * in turn, on a victim tenant's. The victim gets every one of its own, one
 * at a time; the hostile vector's interrupts are decided as deliveries
 * (its reader already has a wakeup waiting), neither pending nor dropped,
 * and are not counted as delivered by the daemon.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define ROUNDS 200
#define FULL 0xfffffffffffffffeull /* the largest an eventfd counter holds */

static struct h_daemon d;

struct tenant {
	struct msiv_conn *c;
	uint64_t vf;
	uint32_t slot;
	int efd;
	struct h_firer f;
};

static void
tenant_open(struct tenant *t, struct msiv_conn *adm, const char *name,
    int efd)
{
	struct msiv_vector_info in;

	t->c = h_connect(&d, name);
	t->efd = efd;
	if (msiv_vfunc_open(t->c, "sim0", 1, MSIV_POLICY_DEFAULT, &t->vf) < 0 ||
	    msiv_vfunc_enable(t->c, t->vf, 1) < 0 ||
	    msiv_vector_setup(t->c, t->vf, 0, 0xfee00000u, 0x41u, efd,
	    MSIV_SETUP_UNMASKED) < 0 ||
	    msiv_vector_query(t->c, t->vf, 0, &in) < 0)
		tap_bail("cannot set up a tenant's vector");
	t->slot = in.slot;
	if (h_firer_start(&t->f, adm, "sim0", t->slot, 1) < 0)
		tap_bail("cannot start a firer");
}

static uint64_t
daemon_delivered(struct msiv_conn *adm)
{
	struct msiv_status_info st;

	if (msiv_get_status(adm, &st, sizeof(st)) < 0)
		tap_bail("STATUS");
	return st.delivered;
}

/* Read the counter if it has anything (the target may be blocking now):
 * what it held, or 0. */
static uint64_t
drain(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, 0) == 1 && read(fd, &v, sizeof(v)) != sizeof(v))
		v = 0;
	return v;
}

/*
 * The flag is on a file description the client shares, so it can clear
 * it again. Then no write may wait either: not the delivery loop's, not
 * a replay the control thread writes under the slot lock (UNMASK with
 * the pending bit set). The target just gets nothing while it is
 * blocking (target.h).
 */
static void
test_blocking_again(struct msiv_conn *adm, struct tenant *bad,
    struct tenant *good, uint64_t bad_fired)
{
	struct msiv_status_info st;
	struct msiv_vector_info in;
	uint64_t full = FULL, v;
	int fl = fcntl(bad->efd, F_GETFL), got = 0, r;

	ok(fl >= 0 && fcntl(bad->efd, F_SETFL, fl & ~O_NONBLOCK) == 0 &&
	    write(bad->efd, &full, sizeof(full)) == sizeof(full), "the hostile "
	    "client clears O_NONBLOCK again and saturates its target");
	for (int i = 0; i < ROUNDS / 4; i++) {
		if (h_fire(&bad->f, 0, 1) < 0 || h_fire(&good->f, 0, 1) < 0)
			tap_bail("fire");
		bad_fired++;
		if ((v = h_efd_wait(good->efd, H_TIMEOUT_MS)) != 1) {
			tap_diag("round %d: the victim got %llu", i,
			    (unsigned long long)v);
			(void)drain(bad->efd); /* let a stalled loop go */
			break;
		}
		got++;
	}
	ok(got == ROUNDS / 4, "...the victim still receives each interrupt "
	    "(%d of %d)", got, ROUNDS / 4);

	ok(msiv_vector_mask(bad->c, bad->vf, 0) == 0 &&
	    h_fire(&bad->f, 0, 1) == 0 &&
	    h_wait_fired(bad->c, bad->vf, 0, ++bad_fired) == 0 &&
	    msiv_vector_query(bad->c, bad->vf, 0, &in) == 0 && in.pending,
	    "an interrupt on the masked hostile vector is pending");
	r = msiv_vector_unmask(bad->c, bad->vf, 0);
	is_int(r, 0, "UNMASK replays it to the blocking, saturated target "
	    "and is acknowledged");
	if (r != 0)
		(void)drain(bad->efd); /* let a stalled control thread go */
	ok(msiv_get_status(adm, &st, sizeof(st)) == 0, "...and msivd serves "
	    "the other sessions");
	is_int((int)(drain(bad->efd) == FULL), 1, "the blocking target got "
	    "nothing: it holds what the client wrote");
	ok(fcntl(bad->efd, F_SETFL, fl) == 0 && h_fire(&bad->f, 0, 1) == 0 &&
	    h_efd_wait(bad->efd, H_TIMEOUT_MS) == 1, "with O_NONBLOCK set "
	    "again, the hostile vector is delivered to");
}

int
main(void)
{
	struct tenant bad, good;
	struct msiv_conn *adm;
	struct msiv_vector_info in;
	uint64_t full = FULL, v, base;
	int fl, got = 0, efd;
	int64_t worst = 0;

	if (h_start(&d, NULL) < 0)
		tap_bail("msivd did not start");
	tap_diag("delivery loop: %s", d.loop);
	adm = h_connect(&d, "admin");

	/* The hostile tenant's target: a blocking eventfd, as a VMM's
	 * irqfd usually is. */
	if ((efd = eventfd(0, EFD_CLOEXEC)) < 0)
		tap_bail("eventfd");
	tenant_open(&bad, adm, "hostile", efd);
	fl = fcntl(bad.efd, F_GETFL);
	ok(fl >= 0 && (fl & O_NONBLOCK), "VEC_SETUP made the client's "
	    "eventfd non-blocking (its file description is shared)");
	ok(write(bad.efd, &full, sizeof(full)) == sizeof(full),
	    "the hostile client saturates its target's counter");
	tenant_open(&good, adm, "victim", h_eventfd());
	base = daemon_delivered(adm);

	for (int i = 0; i < ROUNDS; i++) {
		int64_t t0;

		if (h_fire(&bad.f, 0, 1) < 0 || h_fire(&good.f, 0, 1) < 0)
			tap_bail("fire");
		t0 = h_now_ms();
		if ((v = h_efd_wait(good.efd, H_TIMEOUT_MS)) != 1) {
			tap_diag("round %d: the victim got %llu", i,
			    (unsigned long long)v);
			break;
		}
		if (h_now_ms() - t0 > worst)
			worst = h_now_ms() - t0;
		/* The hostile interrupt is handled before the next one is
		 * raised, so each is a wakeup of its own (the epoll loop
		 * folds the signals one read takes into one). */
		if (h_wait_fired(bad.c, bad.vf, 0, (uint64_t)i + 1) < 0) {
			tap_diag("round %d: the hostile interrupt was not "
			    "handled", i);
			break;
		}
		got++;
	}
	ok(got == ROUNDS, "the victim received %d of %d interrupts, one "
	    "per round, next to a saturated target (slowest %lld ms)", got,
	    ROUNDS, (long long)worst);
	if (got != ROUNDS) {
		/* A stalled loop waits on the saturated counter: let it go,
		 * and stop the daemon. */
		(void)h_efd_take(bad.efd);
		(void)h_kill9(&d);
		tap_bail("delivery stalled behind a saturated target");
	}

	ok(h_wait_fired(bad.c, bad.vf, 0, ROUNDS) == 0, "the daemon handled "
	    "all %d of the hostile vector's interrupts", ROUNDS);
	if (msiv_vector_query(bad.c, bad.vf, 0, &in) < 0)
		tap_bail("VEC_QUERY");
	ok(!in.pending && in.fired == ROUNDS && in.delivered == ROUNDS &&
	    in.dropped == 0 && in.coalesced == 0, "...each decided as a "
	    "delivery: not pending, not dropped, not coalesced (fired %llu, "
	    "delivered %llu)",
	    (unsigned long long)in.fired, (unsigned long long)in.delivered);
	{
		uint64_t n = 0;

		for (int i = 0; i < H_TIMEOUT_MS / 10; i++) {
			if ((n = daemon_delivered(adm) - base) == ROUNDS)
				break;
			usleep(10000); /* polling a counter, with a deadline */
		}
		is_int((int)n, ROUNDS, "STATUS counts only the victim's "
		    "writes as delivered (the saturated target's failed)");
	}
	v = 0;
	ok(read(bad.efd, &v, sizeof(v)) == sizeof(v) && v == FULL,
	    "the saturated counter holds what the client wrote, no more");
	if (h_fire(&bad.f, 0, 1) < 0)
		tap_bail("fire");
	is_int((int)h_efd_wait(bad.efd, H_TIMEOUT_MS), 1, "once its reader "
	    "drained it, the hostile vector is delivered to again");
	if (h_fire(&good.f, 0, 1) < 0)
		tap_bail("fire");
	is_int((int)h_efd_wait(good.efd, H_TIMEOUT_MS), 1, "...and so is the "
	    "victim");

	test_blocking_again(adm, &bad, &good, ROUNDS + 1);

	h_firer_stop(&bad.f);
	h_firer_stop(&good.f);
	msiv_close(bad.c);
	msiv_close(good.c);
	msiv_close(adm);
	close(bad.efd);
	close(good.efd);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
