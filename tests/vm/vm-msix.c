/*
 * vm-msix: inside the test guest, msivd owns QEMU's ivshmem-doorbell
 * device (8 MSI-X vectors) through the vfio backend; this client checks
 * rules 1-8 and 10 in relay and in direct mode, with interrupts raised by
 * two sources:
 *  - the device, from inside the guest: a doorbell write to its own peer
 *    id raises one of its own vectors;
 *  - a peer on the host (tests/vm/ivshmem-host.c, peer 0 of the ivshmem
 *    server QEMU is connected to): the guest leaves a request in the
 *    shared memory mailbox and rings peer 0; the host writes the guest
 *    device's eventfd of that vector, outside anything msivd can see.
 * It also grows the device's enabled vector range (a second vfunc on
 * higher slots) while the first vfunc's vectors are in use: on a
 * fixed-size (NORESIZE) device msivd re-enables MSI-X and marks the
 * vectors in use pending, so an interrupt in the gap is never lost; on a
 * dynamic one nothing happens to them.
 * msivd holds the VFIO device, so the BARs are reached through sysfs.
 *
 * Last, the swap window (swap_windows) in both modes, ROUNDS times each.
 *
 * usage: vm-msix SOCKET BDF [ROUNDS]   Prints PROBE OK/FAIL lines, PROBE
 * DONE. ROUNDS: swap windows per mode, 2000 by default.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <msiv/msiv.h>

#define GUEST_IVSHMEM
#include "guest.h"

#define NV 4

static struct msiv_conn *c;
static char what[256];
static struct msiv_event_info last_ev;
static int nev;

struct vf {
	uint64_t h;
	unsigned int nv;
	int efd[NV];
	uint32_t slot[NV];
	uint64_t fired[NV];
};

/* Raise an interrupt on vector i and wait until msivd has seen it (the
 * vector is not deliverable, or in relay mode). Counted from the fired
 * counter before the raise: it also holds the interrupts msivd assumed
 * for direct-mode moves (msiv-protocol(7), COUNTERS). */
static int
raise_seen(struct vf *v, unsigned int i, enum source src)
{
	struct msiv_vector_info in;

	if (msiv_vector_query(c, v->h, i, &in) < 0)
		return 0;
	v->fired[i] = in.fired + 1;
	if (!ring(src, v->slot[i]))
		return 0;
	for (int t = 0; t < 1000; t++) {
		if (msiv_vector_query(c, v->h, i, &in) == 0 &&
		    in.fired >= v->fired[i])
			return 1;
		usleep(10000);
	}
	return 0;
}

/* Raise on a deliverable vector; returns what reached fd. */
static uint64_t
raise_to(struct vf *v, unsigned int i, enum source src, int fd, int direct)
{
	if (direct) {
		if (!ring(src, v->slot[i]))
			return 0;
	} else if (!raise_seen(v, i, src))
		return 0;
	return wait_efd(fd, 10000);
}

static int
only(struct vf *v, unsigned int i)
{
	for (unsigned int j = 0; j < NV; j++)
		if (j != i && wait_efd(v->efd[j], 0) != 0)
			return 0;
	return 1;
}

static void
on_event(struct msiv_conn *conn, const struct msiv_event_info *ev, void *arg)
{
	(void)conn;
	(void)arg;
	last_ev = *ev;
	nev++;
}

/* Wait for the next event of this connection. */
static int
wait_event(int ms)
{
	struct pollfd p = { .fd = msiv_fd(c), .events = POLLIN };
	int before = nev;

	while (nev == before && (msiv_events_pending(c) > 0 ||
	    poll(&p, 1, ms) == 1))
		if (msiv_dispatch(c) < 0)
			break;
	return nev > before;
}

static int
open_vf(struct vf *v, unsigned int flags, unsigned int nv)
{
	struct msiv_vector_info in;

	memset(v, 0, sizeof(*v));
	v->nv = nv;
	if (msiv_vfunc_open(c, "ivshmem", nv, MSIV_POLICY_DEFAULT, &v->h) < 0)
		return 0;
	for (unsigned int i = 0; i < nv; i++) {
		v->efd[i] = eventfd(0, EFD_CLOEXEC);
		if (msiv_vector_setup(c, v->h, i, 0xfee00000u, 0x40 + i,
		    v->efd[i], MSIV_SETUP_UNMASKED | flags) < 0 ||
		    msiv_vector_query(c, v->h, i, &in) < 0)
			return 0;
		v->slot[i] = in.slot;
	}
	if (msiv_vfunc_enable(c, v->h, 1) < 0)
		return 0;
	/* Direct mode: enabling moved each trigger to its target, and a
	 * move is at-least-once: one interrupt each, written before the
	 * acknowledgement. */
	for (unsigned int i = 0; i < nv; i++)
		(void)wait_efd(v->efd[i], 0);
	return 1;
}

/* Take what the targets hold now: in direct mode the interrupts msivd
 * wrote for a trigger move, before it acknowledged the move. */
static void
drain(struct vf *v)
{
	for (unsigned int i = 0; i < v->nv; i++)
		(void)wait_efd(v->efd[i], 0);
}

static void
close_vf(struct vf *v)
{
	(void)msiv_vfunc_close(c, v->h);
	for (unsigned int i = 0; i < v->nv; i++)
		close(v->efd[i]);
}

#define WHAT(...) (snprintf(what, sizeof(what), __VA_ARGS__), what)

/* From /proc/interrupts: the interrupts IRQ irq took on CPU cpu, and
 * whether its line names name. -1: no such IRQ. */
static long long
irq_count(unsigned int irq, int cpu, const char *name, int *named)
{
	char line[1024];
	long long v = -1;
	FILE *f = fopen("/proc/interrupts", "re");

	*named = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *end;

		if (strtoul(p, &end, 10) != irq || *end != ':' || end == p)
			continue;
		p = end + 1;
		for (int i = 0; i <= cpu; i++) {
			v = strtoll(p, &end, 10);
			p = end;
		}
		*named = strstr(line, name) != NULL;
		break;
	}
	if (f != NULL)
		fclose(f);
	return v;
}

/* Host-side retarget: the host IRQ of vector 0 moves to the last CPU. */
static void
affinity(struct vf *v, const char *bdf, int direct)
{
	uint64_t cpus[MSIV_CPUS_WORDS] = { 0 }, eff[MSIV_CPUS_WORDS];
	int cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1, named, ok;
	unsigned int irq;
	char name[64];
	long long before, after;

	cpus[0] = 1ull << cpu;
	snprintf(name, sizeof(name), "vfio-msix[%u](%s)", v->slot[0], bdf);
	irq = 0;
	ok = msiv_vector_affinity(c, v->h, 0, cpus, &irq, eff) == 0 &&
	    eff[0] == cpus[0] && irq_count(irq, cpu, name, &named) >= 0 &&
	    named;
	check(ok, WHAT("host IRQ affinity: vector 0 is IRQ %u, %s, now on "
	    "CPU %d", irq, name, cpu));
	before = irq_count(irq, cpu, name, &named);
	after = raise_to(v, 0, DEVICE, v->efd[0], direct) == 1 ?
	    irq_count(irq, cpu, name, &named) : -1;
	check(after > before, WHAT("the device's interrupt arrives on CPU %d "
	    "(%lld -> %lld) and is delivered", cpu, before, after));
	check(msiv_vector_affinity(c, v->h, 0, NULL, NULL, NULL) == 0 &&
	    msiv_slot_affinity(c, "ivshmem", 7, NULL, &irq, NULL) == -ENXIO &&
	    msiv_slot_affinity(c, "ivshmem", v->slot[0], NULL, &irq, eff) ==
	    0 && eff[0] == cpus[0],
	    "host IRQ affinity: read back by slot; a slot not in use has no "
	    "IRQ (ENXIO)");
	cpus[0] = 0;
	cpus[MSIV_CPUS_WORDS - 1] = 1ull << 63;  /* CPU 255: offline */
	check(msiv_vector_affinity(c, v->h, 0, cpus, &irq, eff) == -EINVAL,
	    "host IRQ affinity: an offline CPU is refused (EINVAL)");
}

/*
 * One pass over the rules. nb: the size of the second vfunc, opened on
 * the slots above the first one's while those are in use; it grows the
 * device's enabled range from 4 (relay pass) or 4 + 2 (direct pass).
 */
static void
pass(const char *mode, unsigned int flags, int fixed, unsigned int nb,
    const char *bdf)
{
	int direct = (flags & MSIV_SETUP_DIRECT) != 0, e, ok1, ok2;
	struct msiv_vector_info in;
	struct vf a, b;
	uint64_t fired0 = 0;

	if (!check(open_vf(&a, flags, NV), WHAT("%s: open a vfunc of %d "
	    "vectors, set them up, enable", mode, NV)))
		return;
	/* Direct: what msivd counted so far on vector 0 (the interrupts it
	 * assumed for the moves, msiv-protocol(7) COUNTERS); the device's
	 * own interrupts below add nothing. */
	if (direct && msiv_vector_query(c, a.h, 0, &in) == 0)
		fired0 = in.fired;
	ok1 = ok2 = 1;
	for (unsigned int i = 0; i < NV; i++) {
		ok1 &= raise_to(&a, i, DEVICE, a.efd[i], direct) == 1 &&
		    only(&a, i);
		ok2 &= raise_to(&a, i, HOST, a.efd[i], direct) == 1 &&
		    only(&a, i);
	}
	check(ok1, WHAT("%s: rule 1: a device interrupt on each vector "
	    "reaches that vector's target only", mode));
	check(ok2, WHAT("%s: rule 1: so does one raised by the host-side peer",
	    mode));
	if (direct)
		check(msiv_vector_query(c, a.h, 0, &in) == 0 && in.routed &&
		    in.fired == fired0, WHAT("%s: the device signals the "
		    "targets itself, msivd off the path (its count did not "
		    "move)", mode));
	else
		affinity(&a, bdf, direct);

	/* Rules 4, 3, 2 on vector 0 with the host as the source. */
	check(msiv_vector_mask(c, a.h, 0) == 0 && raise_seen(&a, 0, HOST) &&
	    wait_efd(a.efd[0], 100) == 0 &&
	    msiv_vector_query(c, a.h, 0, &in) == 0 && in.pending,
	    WHAT("%s: rule 4: masked, nothing delivered, pending set", mode));
	check(raise_seen(&a, 0, HOST) && raise_seen(&a, 0, DEVICE) &&
	    raise_seen(&a, 0, HOST) && msiv_vector_query(c, a.h, 0, &in) == 0
	    && in.pending && in.coalesced >= 3,
	    WHAT("%s: rule 3: more interrupts while masked coalesce into the "
	    "one pending bit", mode));
	check(msiv_vector_unmask(c, a.h, 0) == 0 &&
	    wait_efd(a.efd[0], 10000) == 1 && wait_efd(a.efd[0], 100) == 0 &&
	    msiv_vector_query(c, a.h, 0, &in) == 0 && !in.pending,
	    WHAT("%s: rule 2: unmask replays it exactly once", mode));

	/* Rule 7 on vector 1, raised by the device. */
	check(msiv_vfunc_mask(c, a.h, 1) == 0 && raise_seen(&a, 1, DEVICE) &&
	    wait_efd(a.efd[1], 100) == 0 &&
	    msiv_vector_query(c, a.h, 1, &in) == 0 && in.pending &&
	    in.fmasked && !in.masked && msiv_vfunc_mask(c, a.h, 0) == 0 &&
	    wait_efd(a.efd[1], 10000) == 1 && wait_efd(a.efd[1], 100) == 0,
	    WHAT("%s: rule 7: function mask holds it without touching the "
	    "vector's mask; unmasking replays it once", mode));
	drain(&a); /* direct: the function unmask's one for each vector */

	/* Rules 5 and 10 on vector 2: a message written while masked is
	 * latched on unmask and announced once. */
	msiv_set_event_cb(c, on_event, NULL);
	nev = 0;
	check(msiv_vector_mask(c, a.h, 2) == 0 &&
	    msiv_table_write(c, a.h, 2 * 16 + 8, 4, 0x77) == 0 &&
	    msiv_vector_unmask(c, a.h, 2) == 0 &&
	    wait_efd(a.efd[2], 0) == (uint64_t)direct && wait_event(10000) &&
	    last_ev.type == MSIV_EV_MSG_CHANGED && last_ev.vector == 2 &&
	    last_ev.data == 0x77 && msiv_vector_query(c, a.h, 2, &in) == 0 &&
	    in.eff_data == 0x77 && raise_to(&a, 2, HOST, a.efd[2], direct) == 1,
	    WHAT("%s: rules 5, 10: a new message takes effect on unmask, is "
	    "announced, and the vector still delivers", mode));
	check(!wait_event(100), WHAT("%s: rule 10: announced once", mode));

	/* Rule 6 on vector 3, raised by the host. */
	e = eventfd(0, EFD_CLOEXEC);
	check(msiv_vector_retarget(c, a.h, 3, MSIV_RETARGET_TARGET, 0, 0, e) ==
	    0 && wait_efd(e, 0) == (uint64_t)direct &&
	    raise_to(&a, 3, HOST, e, direct) == 1 &&
	    wait_efd(a.efd[3], 100) == 0,
	    WHAT("%s: rule 6: after retarget only the new target gets it",
	    mode));
	close(a.efd[3]);
	a.efd[3] = e;

	/* Grow the device's enabled range with vector 1 masked and the
	 * others deliverable. */
	check(msiv_vector_mask(c, a.h, 1) == 0 && open_vf(&b, flags, nb),
	    WHAT("%s: a second vfunc on the next %u slots", mode, nb));
	/* Direct: the mask moved vector 1's trigger, so it is pending
	 * whatever the growing does. */
	ok1 = msiv_vector_query(c, a.h, 1, &in) == 0 &&
	    in.pending == (fixed || direct);
	for (unsigned int i = 0; i < NV; i++)
		if (i != 1)
			ok1 &= wait_efd(a.efd[i], fixed ? 10000 : 100) ==
			    (fixed != 0);
	check(ok1, WHAT("%s: %s", mode, fixed ? "fixed-size MSI-X grown by "
	    "re-enabling it: each vector in use gets its pending bit or one "
	    "interrupt (one to spare, none lost)" : "dynamic MSI-X grown in "
	    "place: the vectors in use are untouched"));
	if (!direct) {
		uint64_t eff[MSIV_CPUS_WORDS];
		int cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;

		check(msiv_vector_affinity(c, a.h, 0, NULL, NULL, eff) == 0 &&
		    eff[0] == 1ull << cpu, WHAT("%s: vector 0's host IRQ "
		    "keeps its affinity (CPU %d) after growing", mode, cpu));
	}
	ok1 = 1;
	for (unsigned int i = 0; i < nb; i++)
		ok1 &= raise_to(&b, i, i % 2 ? HOST : DEVICE, b.efd[i],
		    direct) == 1;
	check(ok1 && raise_to(&a, 2, HOST, a.efd[2], direct) == 1 &&
	    msiv_vector_unmask(c, a.h, 1) == 0 &&
	    wait_efd(a.efd[1], fixed || direct ? 10000 : 100) ==
	    (fixed || direct),
	    WHAT("%s: after growing, old and new vectors deliver", mode));
	close_vf(&b);

	/* Rule 8 on vector 0 with an interrupt pending: free clears it,
	 * and later interrupts reach no one. */
	check(msiv_vector_mask(c, a.h, 0) == 0 && raise_seen(&a, 0, HOST) &&
	    msiv_vector_free(c, a.h, 0) == 0 &&
	    msiv_vector_query(c, a.h, 0, &in) == 0 && !in.pending &&
	    !in.target && raise_seen(&a, 0, HOST) &&
	    raise_seen(&a, 0, DEVICE) && wait_efd(a.efd[0], 100) == 0,
	    WHAT("%s: rule 8: free clears the pending bit; after it nothing "
	    "is delivered", mode));
	check(msiv_vfunc_close(c, a.h) == 0, WHAT("%s: close the vfunc", mode));
	for (unsigned int i = 0; i < NV; i++)
		close(a.efd[i]);
	msiv_set_event_cb(c, NULL, NULL);
}

/* From /proc/interrupts: the interrupts IRQ irq took on all CPUs, -1 if
 * it has no line now. */
static long long
irq_total(unsigned int irq)
{
	char line[1024];
	long long sum = -1;
	FILE *f = fopen("/proc/interrupts", "re");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *end;
		long long x;

		if (strtoul(p, &end, 10) != irq || *end != ':' || end == p)
			continue;
		p = end + 1;
		sum = 0;
		while ((x = strtoll(p, &end, 10)), end != p) {
			sum += x;
			p = end;
		}
		break;
	}
	if (f != NULL)
		fclose(f);
	return sum;
}

/* Wait up to ms for either eventfd; what both held. */
static uint64_t
wait_either(int a, int b, int ms)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN },
	    { .fd = b, .events = POLLIN } };

	if (poll(p, 2, ms) <= 0)
		return 0;
	return wait_efd(a, 0) + wait_efd(b, 0);
}

/*
 * The swap window, in rounds: ring the vector once from the device, at
 * once MASK it (even rounds) or RETARGET it to its other eventfd (odd
 * rounds), then UNMASK; each round's interrupt must reach a target. In
 * direct mode both operations move the device's trigger, which the
 * kernel does by free_irq() and request_irq(): an MSI that comes in
 * between is gone (the kernel's count of the vector's IRQ does not move),
 * and msivd assumes one was lost at every move, so the round gets its
 * interrupt or one in its place (at-least-once). In relay mode nothing
 * moves and every round gets exactly one.
 */
static void
swap_windows(const char *mode, unsigned int flags, unsigned int rounds)
{
	unsigned int lost = 0, extra = 0, dropped = 0, done, irq = 0;
	uint64_t eff[MSIV_CPUS_WORDS];
	struct msiv_vector_info in;
	struct timespec t0, t1;
	long long k0, k1;
	struct vf v;
	int e[2], cur = 0;

	if (!check(open_vf(&v, flags, 1), WHAT("%s: swap windows: a vfunc "
	    "of one vector", mode)))
		return;
	e[0] = v.efd[0];
	e[1] = eventfd(0, EFD_CLOEXEC);
	if (msiv_vector_affinity(c, v.h, 0, NULL, &irq, eff) < 0)
		irq = 0;
	k0 = irq_total(irq);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (done = 0; done < rounds; done++) {
		uint64_t got;
		int r;

		if (!ring(DEVICE, v.slot[0]))
			break;
		if (done % 2 == 0)
			r = msiv_vector_mask(c, v.h, 0);
		else {
			r = msiv_vector_retarget(c, v.h, 0,
			    MSIV_RETARGET_TARGET, 0, 0, e[!cur]);
			cur = !cur;
		}
		if (r < 0 || msiv_vector_unmask(c, v.h, 0) < 0)
			break;
		/* Generous: a lost round costs this long, the others
		 * return as their interrupt comes. */
		got = wait_either(e[0], e[1], 5000);
		if (got != 0)
			extra += (unsigned int)(got - 1);
		else if (++lost <= 10) {
			k1 = irq_total(irq);
			printf("PROBE INFO %s: swap round %u (%s): nothing "
			    "delivered; the vector's IRQ took %lld MSIs of "
			    "%u so far\n", mode, done, done % 2 ? "RETARGET" :
			    "MASK", k1 - k0, done + 1);
		}
		/* Settle before the next round, so nothing of this one is
		 * taken for the next one's: wait until the vector's IRQ has
		 * taken the round's MSI (up to a second: the kernel may
		 * have dropped it), then until msivd has handled every
		 * signal of its trigger (a query syncs the delivery loop);
		 * what arrives meanwhile is extra. */
		for (int t = 0; (k1 = irq_total(irq)) >= 0 &&
		    k1 < k0 + (long long)(done + 1 - dropped); t++) {
			if (t == 200) {
				dropped++;
				break;
			}
			extra += (unsigned int)wait_either(e[0], e[1], 5);
		}
		(void)msiv_vector_query(c, v.h, 0, &in);
		extra += (unsigned int)wait_either(e[0], e[1], 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	k1 = irq_total(irq);
	check(done == rounds && lost == 0 && k0 >= 0, WHAT("%s: swap windows: "
	    "ring, MASK or RETARGET at once, UNMASK: %u of %u rounds got "
	    "their interrupt, %u lost (the kernel dropped %lld MSIs; %u "
	    "interrupts beyond one a round; %.1f s)", mode, done - lost,
	    rounds, lost, (long long)done - (k1 - k0), extra,
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9));
	(void)msiv_vfunc_close(c, v.h);
	close(e[0]);
	close(e[1]);
}

int
main(int argc, char **argv)
{
	struct msiv_device_info dev[4];
	unsigned int swaps = 2000;
	int n, fixed = -1;

	if (argc != 3 && argc != 4)
		return 2;
	if (argc == 4)
		swaps = (unsigned int)strtoul(argv[3], NULL, 10);
	if (!check(ivshmem_map(argv[2]),
	    "map the ivshmem registers and shared memory"))
		goto done;
	if (!check(msiv_connect(argv[1], "vm", &c) == 0, "connect to msivd"))
		goto done;
	n = msiv_list_devices(c, dev, 4, sizeof(*dev));
	for (int i = 0; i < n; i++)
		if (strcmp(dev[i].name, "ivshmem") == 0 &&
		    strcmp(dev[i].backend, "vfio") == 0 && dev[i].slots == 8 &&
		    (dev[i].flags & MSIV_DEVICE_MSIX))
			fixed = (dev[i].flags & MSIV_DEVICE_FIXED) != 0;
	if (!check(fixed >= 0, "msivd has the ivshmem device: vfio, 8 MSI-X "
	    "vectors"))
		goto done;
	printf("PROBE INFO MSI-X %s, peer id %u\n", fixed ? "fixed-size "
	    "(NORESIZE)" : "dynamic", self);
	pass("relay", 0, fixed, 2, argv[2]);
	pass("direct", MSIV_SETUP_DIRECT, fixed, 4, argv[2]);
	swap_windows("relay", 0, swaps);
	swap_windows("direct", MSIV_SETUP_DIRECT, swaps);
	check(__atomic_load_n(&mb->rung, __ATOMIC_RELAXED) > 0,
	    WHAT("the host-side peer raised %u interrupts", mb->rung));
done:
	printf("PROBE DONE %d\n", failures);
	fflush(stdout);
	return failures != 0;
}
