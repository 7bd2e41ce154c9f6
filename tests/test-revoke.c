/*
 * Integration test of revocation with the real msivd on the sim device:
 * an admin revokes a tenant (all its vfuncs) or one vfunc, and detaches a
 * device in use with --force. The sessions get VFUNC_GONE with the
 * reason; later calls fail with the documented errno (EKEYREVOKED,
 * ENODEV); nothing more is delivered to the revoked targets while another
 * tenant keeps receiving; the listings show revoked vfuncs until their
 * tenant closes them, across a kill -9 and restart too; and bad requests are refused
 * without touching anyone.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define EV_MAX 16

struct evlog {
	struct msiv_event_info ev[EV_MAX];
	int n;
	int resumed;      /* RESUMED events */
	uint32_t count;   /* targets the last one re-attached */
};

static void
on_event(struct msiv_conn *c, const struct msiv_event_info *ev, void *arg)
{
	struct evlog *l = arg;

	(void)c;
	if (ev->type == MSIV_EV_RESUMED) {
		l->resumed++;
		l->count = ev->count;
	}
	if (ev->type == MSIV_EV_VFUNC_GONE && l->n < EV_MAX)
		l->ev[l->n++] = *ev; /* MSG_CHANGED events are not counted */
}

/* Wait (deadline H_TIMEOUT_MS) until the log holds want VFUNC_GONE
 * events. */
static int
wait_events(struct msiv_conn *c, struct evlog *l, int want)
{
	for (int waited = 0; l->n < want && waited < H_TIMEOUT_MS;
	    waited += 50) {
		struct pollfd p = { .fd = msiv_fd(c), .events = POLLIN };

		if (msiv_events_pending(c) == 0)
			(void)poll(&p, 1, 50);
		(void)msiv_dispatch(c);
	}
	return l->n;
}

static int
has_gone(const struct evlog *l, uint64_t vf, uint32_t reason)
{
	for (int i = 0; i < l->n; i++)
		if (l->ev[i].type == MSIV_EV_VFUNC_GONE &&
		    l->ev[i].vfunc == vf && l->ev[i].reason == reason)
			return 1;
	return 0;
}

/* The vfunc's listing record (admin view); 0 if listed. */
static int
find_rec(struct msiv_conn *admin, uint64_t vf, struct msiv_vfunc_info *out)
{
	static struct msiv_vfunc_info recs[64];
	int n = msiv_list_vfuncs(admin, recs, 64, sizeof(*recs));

	for (int i = 0; i < n; i++)
		if (recs[i].vfunc == vf) {
			*out = recs[i];
			return 0;
		}
	return -ENOENT;
}

static uint32_t
slots_used(struct msiv_conn *admin, const char *name)
{
	struct msiv_device_info d[8];
	int n = msiv_list_devices(admin, d, 8, sizeof(*d));

	for (int i = 0; i < n; i++)
		if (strcmp(d[i].name, name) == 0)
			return d[i].slots_used;
	return UINT32_MAX;
}

/* Open a vfunc of n vectors, enabled, vector 0 unmasked with target t;
 * *first (may be NULL) gets vector 0's slot. */
static uint64_t
open_live(struct msiv_conn *c, const char *dev, unsigned int n, int t,
    uint32_t *first)
{
	struct msiv_vector_info info;
	uint64_t vf = 0;

	if (msiv_vfunc_open(c, dev, n, MSIV_POLICY_DEFAULT, &vf) < 0 ||
	    msiv_vector_setup(c, vf, 0, 0xfee00000, 0x40, t, 0) < 0 ||
	    msiv_vector_unmask(c, vf, 0) < 0 ||
	    msiv_vfunc_enable(c, vf, 1) < 0 ||
	    msiv_vector_query(c, vf, 0, &info) < 0)
		return 0;
	if (first != NULL)
		*first = info.slot;
	return vf;
}

/* Vfuncs outlive their sessions (orphan_grace), so what the store holds
 * for them is seen after the restart. */
static const char conf[] =
    "[msivd]\n"
    "log_level = debug\n"
    "orphan_grace = 600\n"
    "[device sim0]\n"
    "backend = sim\n"
    "slots = 2048\n";

int
main(void)
{
	struct h_daemon d;
	struct h_firer f;
	struct msiv_conn *admin, *a, *b;
	struct evlog la = { .n = 0 }, lb = { .n = 0 };
	struct msiv_vfunc_info rec;
	struct msiv_vector_info info;
	uint32_t a1_first = 0, a2_first = 0, b1_first = 0, used;
	uint64_t a1, a2, b1, b2;
	unsigned int count = 99;
	int ta1 = h_eventfd(), ta2 = h_eventfd(), tb1 = h_eventfd(),
	    tb2 = h_eventfd();

	h_start(&d, conf);
	admin = h_connect(&d, "ops");
	a = h_connect(&d, "vm-a");
	b = h_connect(&d, "vm-b");
	msiv_set_event_cb(a, on_event, &la);
	msiv_set_event_cb(b, on_event, &lb);
	a1 = open_live(a, "sim0", 4, ta1, &a1_first);
	a2 = open_live(a, "sim0", 2, ta2, &a2_first);
	b1 = open_live(b, "sim0", 2, tb1, &b1_first);
	ok(a1 != 0 && a2 != 0 && b1 != 0, "two tenants, three live vfuncs");
	used = slots_used(admin, "sim0");
	ok(h_firer_start(&f, admin, "sim0", 0, 16) == 0, "firer on sim0");
	ok(h_fire(&f, a1_first, 1) == 0 && h_efd_wait(ta1, H_TIMEOUT_MS) == 1,
	    "before: vm-a's vector delivers");

	/* --- revoke a tenant --------------------------------------------- */
	ok(msiv_revoke(admin, "vm-a", 0, &count) == 0 && count == 2,
	    "revoke vm-a: both its vfuncs");
	ok(wait_events(a, &la, 2) == 2 && has_gone(&la, a1, MSIV_GONE_REVOKED) &&
	    has_gone(&la, a2, MSIV_GONE_REVOKED),
	    "vm-a's session gets VFUNC_GONE, reason REVOKED, for each");
	is_int(msiv_vector_mask(a, a1, 0), -EKEYREVOKED,
	    "a later call on it fails: EKEYREVOKED");
	is_int(msiv_vector_query(a, a2, 0, &info), -EKEYREVOKED,
	    "a query too");
	is_int(msiv_vfunc_enable(a, a1, 0), -EKEYREVOKED,
	    "a function-level call too");
	ok(slots_used(admin, "sim0") == used - 6,
	    "its slots are back on the device at once");
	ok(h_fire(&f, a1_first, 3) == 0 && h_fire(&f, b1_first, 1) == 0 &&
	    h_efd_wait(tb1, H_TIMEOUT_MS) == 1,
	    "vm-b's vector still delivers");
	is_int((int)h_efd_take(ta1), 0,
	    "nothing reaches vm-a's revoked target (fired before vm-b's)");
	ok(find_rec(admin, a1, &rec) == 0 && (rec.flags & MSIV_VFUNC_GONE) &&
	    rec.gone == MSIV_GONE_REVOKED && strcmp(rec.tenant, "vm-a") == 0,
	    "the listing shows it revoked, with its tenant");
	(void)msiv_dispatch(b);
	ok(lb.n == 0, "vm-b got no VFUNC_GONE event");

	/* --- revoke one vfunc by handle ------------------------------------ */
	b2 = open_live(b, "sim0", 1, tb2, NULL);
	ok(b2 != 0 && msiv_revoke(admin, NULL, b2, &count) == 0 && count == 1,
	    "revoke one vfunc of vm-b by its handle");
	ok(wait_events(b, &lb, 1) == 1 && has_gone(&lb, b2, MSIV_GONE_REVOKED),
	    "vm-b gets the event for that one");
	ok(msiv_vector_unmask(b, b1, 0) == 0, "its other vfunc is untouched");
	ok(msiv_revoke(admin, NULL, b2, &count) == 0 && count == 0,
	    "revoking it again: nothing more to revoke");
	is_int(msiv_revoke(admin, NULL, 0x1234567812345678ull, &count),
	    -ENOENT, "an unknown handle: ENOENT");
	is_int(msiv_revoke(admin, "nobody", 0, &count), -ENOENT,
	    "a tenant that holds nothing: ENOENT");
	is_int(msiv_revoke(admin, "vm-b", b1, &count), -EINVAL,
	    "tenant and handle together: EINVAL");

	/* --- revoked while no session had it ------------------------------- */
	{
		struct evlog ld = { .n = 0 };
		struct msiv_conn *dc = h_connect(&d, "vm-d");
		int td = h_eventfd();
		uint64_t vd = open_live(dc, "sim0", 1, td, NULL);

		msiv_set_event_cb(dc, on_event, &ld);
		/* The connection drops (a VMM restarting, a network of
		 * proxies...): the vfunc waits, orphaned, for its tenant. */
		ok(vd != 0 && shutdown(msiv_fd(dc), SHUT_RDWR) == 0,
		    "vm-d's connection drops, its vfunc orphaned");
		for (int i = 0; i < 400; i++) {
			if (find_rec(admin, vd, &rec) == 0 &&
			    (rec.flags & MSIV_VFUNC_ORPHANED))
				break;
			usleep(50000); /* polling a condition, with a deadline */
		}
		ok(msiv_revoke(admin, "vm-d", 0, &count) == 0 && count == 1,
		    "revoke vm-d while no session holds its vfunc");
		is_int(msiv_reconnect(dc), 0, "libmsiv reconnects as vm-d with "
		    "its token");
		ok(wait_events(dc, &ld, 1) == 1 &&
		    has_gone(&ld, vd, MSIV_GONE_REVOKED),
		    "it is told at resume: VFUNC_GONE, reason REVOKED, once");
		ok(ld.resumed == 1 && ld.count == 0,
		    "RESUMED: no target re-attached to the revoked vfunc");
		is_int(msiv_vector_mask(dc, vd, 0), -EKEYREVOKED,
		    "its calls on it fail: EKEYREVOKED");
		ok(msiv_vfunc_close(dc, vd) == 0, "it closes it");
		msiv_close(dc);
		close(td);
	}

	/* --- close, restart ------------------------------------------------- */
	ok(msiv_vfunc_close(a, a2) == 0 && find_rec(admin, a2, &rec) == -ENOENT,
	    "the tenant closes a revoked vfunc: it is gone from the listing");
	h_firer_stop(&f);
	msiv_close(a);
	msiv_close(b);
	msiv_close(admin);
	/* kill -9: what was acknowledged must be on disk already. */
	ok(h_kill9(&d) == 0 && h_spawn(&d) == 0, "kill -9 and restart msivd");
	admin = h_connect(&d, "ops");
	ok(find_rec(admin, a1, &rec) == 0 && (rec.flags & MSIV_VFUNC_GONE) &&
	    rec.gone == MSIV_GONE_REVOKED && rec.nvec == 4,
	    "after the restart the revoked vfunc is still listed, revoked");
	ok(find_rec(admin, a2, &rec) == -ENOENT,
	    "the closed one stays closed");
	ok(find_rec(admin, b1, &rec) == 0 && !(rec.flags & MSIV_VFUNC_GONE),
	    "vm-b's live vfunc came back live");
	ok(slots_used(admin, "sim0") == 2, "only vm-b's 2 slots are in use");

	/* --- detach --force ------------------------------------------------- */
	b = h_connect(&d, "vm-c");
	msiv_set_event_cb(b, on_event, &lb);
	lb.n = 0;
	ok(msiv_device_attach(admin, "simx", "sim", NULL, 4,
	    MSIV_POLICY_DEFAULT, 0) == 0, "attach simx");
	b2 = open_live(b, "simx", 2, tb2, NULL);
	ok(b2 != 0, "vm-c opens a vfunc on simx");
	is_int(msiv_device_detach(admin, "simx", 0), -EBUSY,
	    "detach without --force: EBUSY");
	ok(msiv_vector_mask(b, b2, 0) == 0, "and the vfunc is untouched");
	is_int(msiv_device_detach(admin, "simx", 0x80), -EINVAL,
	    "unknown detach flags: EINVAL");
	is_int(msiv_device_detach(admin, "simx", MSIV_DETACH_FORCE), 0,
	    "detach --force");
	ok(wait_events(b, &lb, 1) == 1 && has_gone(&lb, b2, MSIV_GONE_DEVICE),
	    "vm-c gets VFUNC_GONE, reason DEVICE");
	is_int(msiv_vector_unmask(b, b2, 0), -ENODEV,
	    "a later call on it fails: ENODEV");
	ok(slots_used(admin, "simx") == UINT32_MAX, "simx is gone");
	ok(find_rec(admin, b2, &rec) == 0 && rec.gone == MSIV_GONE_DEVICE &&
	    strcmp(rec.device, "simx") == 0,
	    "the listing shows it revoked (device removed), on simx");
	ok(msiv_vfunc_close(b, b2) == 0, "vm-c closes it");
	msiv_close(b);
	msiv_close(admin);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	close(ta1);
	close(ta2);
	close(tb1);
	close(tb2);
	return tap_done();
}
