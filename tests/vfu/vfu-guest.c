/*
 * vfu-guest: inside the check-vfu guest, drives the msiv-vfu function
 * (QEMU's vfio-user-pci) through the guest kernel's own vfio-pci, behind
 * the emulated intel-iommu: VFIO_DEVICE_SET_IRQS enables its MSI-X
 * vectors one at a time, so the guest kernel's PCI/MSI code programs and
 * unmasks QEMU's emulated table, and QEMU sends msiv-vfu a SET_IRQS with
 * an eventfd for each vector. The host fires the vector's slot on msivd
 * (msivctl fire) when the guest asks on the console ("MSIV-VFU FIRE
 * VECTOR COUNT"), and the guest counts what arrives on each vector's
 * eventfd.
 *
 * Scenario 1 of check-vfu: every vector delivers, each to itself only.
 * A fixed-size (NORESIZE: Linux 6.1) vfio-pci grows MSI-X by disabling
 * and re-enabling it, a dynamic one (6.12) adds vectors in place.
 *
 * Then scenario 4 (a reboot, once), 2 (a late first unmask under a stream
 * of fires, 6.12), 3 (IRQ affinity changes under a stream), 5 (msivd's
 * kill -9), and a vector detached and attached again (each below).
 *
 * Scenario 7 (vfu-guest BDF NVEC nospace): the function's vfunc is on a
 * device with fewer slots than NVEC. The guest enables all NVEC vectors
 * at once; the setups the device has no slot for are refused (ENOSPC),
 * and the vectors that got one deliver as before.
 *
 * usage: vfu-guest BDF NVEC [nospace]   Prints PROBE OK/FAIL/INFO lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../vm/guest.h"

#define NVEC_MAX 64

static int dev, container;
static int efd[NVEC_MAX];
static int chan = -1;  /* the second function's vector 0 (open_chan) */
static uint64_t got[NVEC_MAX], restart[NVEC_MAX];
static unsigned int nvec;
static char what[200];

#define WHAT(...) (snprintf(what, sizeof(what), __VA_ARGS__), what)

static int
group_of(const char *bdf)
{
	char link[PATH_MAX], path[PATH_MAX], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
	    bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -1;
	link[n] = '\0';
	p = strrchr(link, '/');
	return p ? atoi(p + 1) : -1;
}

/* VFIO_DEVICE_SET_IRQS on MSI-X: eventfds efd[start..start+count), or
 * with count 0 MSI-X disabled. */
static int
set_irqs(unsigned int start, unsigned int count)
{
	char buf[sizeof(struct vfio_irq_set) + NVEC_MAX * sizeof(int)];
	struct vfio_irq_set *s = (struct vfio_irq_set *)buf;

	s->argsz = (uint32_t)(sizeof(*s) + count * sizeof(int));
	s->flags = VFIO_IRQ_SET_ACTION_TRIGGER | (count != 0 ?
	    VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	s->index = VFIO_PCI_MSIX_IRQ_INDEX;
	s->start = start;
	s->count = count;
	memcpy(s->data, efd + start, count * sizeof(int));
	return ioctl(dev, VFIO_DEVICE_SET_IRQS, s);
}

/*
 * The second function (BDF given as vfu-guest's third argument) as a
 * channel from the host while this one has MSI-X disabled: its vector 0,
 * enabled through the same container. Returns its eventfd, or -1.
 */
static int
open_chan(const char *bdf)
{
	char buf[sizeof(struct vfio_irq_set) + sizeof(int)], path[64];
	struct vfio_irq_set *s = (struct vfio_irq_set *)buf;
	struct vfio_region_info cfg = { .argsz = sizeof(cfg),
	    .index = VFIO_PCI_CONFIG_REGION_INDEX };
	uint16_t cmd;
	int group, d, e;

	snprintf(path, sizeof(path), "/dev/vfio/%d", group_of(bdf));
	group = open(path, O_RDWR | O_CLOEXEC);
	if (group < 0 || ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
		return -1;
	d = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d < 0 || e < 0 ||
	    ioctl(d, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0 ||
	    pread(d, &cmd, 2, (off_t)cfg.offset + PCI_COMMAND) != 2)
		return -1;
	cmd |= PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY;
	s->argsz = sizeof(buf);
	s->flags = VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_DATA_EVENTFD;
	s->index = VFIO_PCI_MSIX_IRQ_INDEX;
	s->start = 0;
	s->count = 1;
	memcpy(s->data, &e, sizeof(int));
	if (pwrite(d, &cmd, 2, (off_t)cfg.offset + PCI_COMMAND) != 2 ||
	    ioctl(d, VFIO_DEVICE_SET_IRQS, s) < 0)
		return -1;
	return e;
}

/* Ask the host to fire vector i's slot once and wait for it (ping-pong:
 * one fire, one interrupt, nothing to coalesce). Returns what arrived on
 * vector i; *others gets what arrived on the other vectors enabled so
 * far (upto). */
static uint64_t
fire(unsigned int i, unsigned int upto, uint64_t *others)
{
	uint64_t v = 0, w;

	printf("MSIV-VFU FIRE %u 1\n", i);
	fflush(stdout);
	/* The host polls the console: a generous time for TCG. */
	for (int t = 0; t < 60 && v == 0; t++)
		v = wait_efd(efd[i], 1000);
	*others = 0;
	for (unsigned int j = 0; j < upto; j++)
		if (j != i) {
			w = wait_efd(efd[j], 0);
			got[j] += w;
			*others += w;
		}
	got[i] += v;
	return v;
}

/*
 * Scenario 7: every vector enabled in one VFIO_DEVICE_SET_IRQS. The host
 * answers "MSIV-VFU FIRE I 1 7" with a fire on vector I's slot, or, if
 * vector I has none, on vector 0's (bound first): so each vector either
 * delivers to itself or is known to have no slot, and nothing is timed.
 */
static void
nospace(void)
{
	unsigned int bound = 0, refused = 0, wrong = 0;
	uint64_t v, z;

	if (!check(set_irqs(0, nvec) == 0, WHAT("scenario 7: all %u vectors "
	    "enabled in one VFIO_DEVICE_SET_IRQS (the guest's vfio-pci sees no "
	    "error)", nvec)))
		return;
	for (unsigned int i = 0; i < nvec; i++) {
		v = z = 0;
		printf("MSIV-VFU FIRE %u 1 7\n", i);
		fflush(stdout);
		for (int t = 0; t < 60 && v == 0 && z == 0; t++) {
			v = wait_efd(efd[i], 1000);
			if (i != 0 && v == 0)
				z = wait_efd(efd[0], 0);
		}
		for (unsigned int j = 0; j < nvec; j++)
			if (j != i && j != 0)
				wrong += wait_efd(efd[j], 0) != 0;
		if (v == 1 && z == 0)
			bound++;
		else if (v == 0 && z == 1)
			refused++;
		else
			wrong++;
	}
	/* The host keeps msivctl's view of the vfunc, then fires vector 0:
	 * MSI-X stays enabled until it has. */
	printf("MSIV-VFU SNAPSHOT 7\n");
	fflush(stdout);
	v = 0;
	for (int t = 0; t < 60 && v == 0; t++)
		v = wait_efd(efd[0], 1000);
	check(v == 1, "scenario 7: the host took msivctl's view of the vfunc");
	printf("PROBE INFO scenario 7: %u vectors have a slot and deliver, "
	    "%u have none\n", bound, refused);
	check(bound > 0 && refused > 0 && bound + refused == nvec &&
	    wrong == 0, WHAT("scenario 7: the %u vectors with a slot each "
	    "deliver a fire to themselves only; the %u the device had no slot "
	    "for get nothing, and no interrupt goes astray (%u)", bound,
	    refused, wrong));
}

/*
 * Scenario 2 (dynamic MSI-X only): a late first unmask under load, run
 * after scenarios 1 and 4, while every count is exact.
 * Vectors 0-3 enabled, the host streams fires at them ("MSIV-VFU STREAM
 * START"), the guest enables vector 9 meanwhile, and each of 0-3 must
 * still take interrupts after that. "MSIV-VFU STREAM STOP": the host
 * stops the stream and answers with a fire on vector 9. Then a final fire
 * on each of 0-3 and 9, and "MSIV-VFU COUNTERS 0 1 2 3 9 ..." gives the
 * host the guest's counts to hold against msivd's (check-vfu.sh); it
 * answers with a fire on vector 9 once it has msivd's.
 */
static const unsigned int s2vec[] = { 0, 1, 2, 3, 9 };
#define S2N 5

/* Take what has arrived on the scenario 2 vectors into c; wait up to ms
 * on vector s2vec[k] first. */
static void
s2take(uint64_t *c, unsigned int k, int ms)
{
	for (unsigned int j = 0; j < S2N; j++)
		c[j] += wait_efd(efd[s2vec[j]], j == k ? ms : 0);
}

/* Until every one of vectors 0-3 has had more than at[j] (1 minute). */
static int
s2more(uint64_t *c, const uint64_t *at)
{
	for (int t = 0; t < 600; t++) {
		unsigned int k = 0;

		while (k < 4 && c[k] > at[k])
			k++;
		if (k == 4)
			return 1;
		s2take(c, k, 100);
	}
	return 0;
}

static void
late_unmask(void)
{
	uint64_t c[S2N] = { 0 }, at[S2N] = { 0 }, v, stale = 0;
	int ok;

	/* With MSI-X disabled nothing more can arrive on the eventfds: what
	 * they hold now arrived earlier and was not counted (none is
	 * expected: every fire so far was waited for). */
	ok = set_irqs(0, 0) == 0;
	for (unsigned int i = 0; i < nvec; i++)
		stale += wait_efd(efd[i], 0);
	printf("PROBE INFO scenario 2: %llu interrupt(s) arrived after they "
	    "were counted for\n", (unsigned long long)stale);
	ok = ok && set_irqs(0, 4) == 0;
	if (!check(ok, "scenario 2: MSI-X enabled again with vectors 0-3"))
		return;
	printf("MSIV-VFU STREAM START\n");
	fflush(stdout);
	ok = s2more(c, at);
	memcpy(at, c, sizeof(at));
	ok = check(ok && set_irqs(9, 1) == 0 && s2more(c, at),
	    WHAT("scenario 2: vector 9 enabled while vectors 0-3 take a "
	    "stream of fires (%llu %llu %llu %llu so far); each of them takes "
	    "more after it", (unsigned long long)at[0],
	    (unsigned long long)at[1], (unsigned long long)at[2],
	    (unsigned long long)at[3]));
	printf("MSIV-VFU STREAM STOP\n");
	fflush(stdout);
	for (int t = 0; t < 600 && c[4] == 0; t++)
		s2take(c, 4, 100);
	ok = check(ok && c[4] == 1, "scenario 2: the stream stopped; vector "
	    "9 delivers the host's answer") && ok;
	/* The final fire on every vector: it arrives (a late interrupt of
	 * the stream may arrive with it on 0-3; none can on 9). */
	for (unsigned int k = 0; k < S2N && ok; k++) {
		memcpy(at, c, sizeof(at));
		printf("MSIV-VFU FIRE %u 1\n", s2vec[k]);
		fflush(stdout);
		for (int t = 0; t < 600 && c[k] == at[k]; t++)
			s2take(c, k, 100);
		ok = c[k] > at[k];
	}
	check(ok && c[4] == 2, "scenario 2: afterwards a final fire on each "
	    "of vectors 0-3 and 9 arrives");
	printf("MSIV-VFU COUNTERS");
	for (unsigned int k = 0; k < S2N; k++)
		printf(" %llu", (unsigned long long)c[k]);
	printf("\n");
	fflush(stdout);
	v = 0;
	for (int t = 0; t < 60 && v == 0; t++)
		v = wait_efd(efd[9], 1000);
	check(v == 1, "scenario 2: the host took msivd's counters");
}

/* The guest IRQ of vfio-pci's MSI-X vector i ("vfio-msix[i](BDF)" in
 * /proc/interrupts), with its count on each of the first two CPUs. */
static int
irq_of(const char *bdf, unsigned int i, uint64_t cpu[2])
{
	char line[512], name[64];
	FILE *f = fopen("/proc/interrupts", "re");
	int irq = -1;

	snprintf(name, sizeof(name), "vfio-msix[%u](%s)", i, bdf);
	while (f != NULL && irq < 0 && fgets(line, sizeof(line), f) != NULL) {
		unsigned long long c0, c1;
		int n;

		if (strstr(line, name) != NULL &&
		    sscanf(line, " %d: %llu %llu", &n, &c0, &c1) == 3) {
			irq = n;
			cpu[0] = c0;
			cpu[1] = c1;
		}
	}
	if (f != NULL)
		fclose(f);
	return irq;
}

static int
set_affinity(int irq, unsigned int mask)
{
	char path[64];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity", irq);
	f = fopen(path, "we");
	if (f == NULL)
		return 0;
	ok = fprintf(f, "%x\n", mask) > 0;
	return fclose(f) == 0 && ok;
}

/*
 * Scenario 3: the guest moves the IRQs of vectors 0-3 between its two
 * vCPUs (/proc/irq/N/smp_affinity) while the host streams fires at them
 * ("MSIV-VFU STREAM START 3"). After each round of moves every one of
 * them must take more interrupts; afterwards a final fire on each
 * arrives, and each vector's interrupts were taken on both vCPUs.
 */
#define S3ROUNDS 8

static void
affinity(const char *bdf)
{
	uint64_t c[S2N] = { 0 }, at[S2N], cpu[4][2];
	int irq[4], ok = 1, moved = 1;

	for (unsigned int k = 0; k < 4; k++) {
		irq[k] = irq_of(bdf, k, cpu[k]);
		ok &= irq[k] > 0;
	}
	if (!check(ok, WHAT("scenario 3: the guest IRQs of vectors 0-3 are "
	    "%d %d %d %d", irq[0], irq[1], irq[2], irq[3])))
		return;
	printf("MSIV-VFU STREAM START 3\n");
	fflush(stdout);
	memset(at, 0, sizeof(at));
	ok = s2more(c, at);
	for (unsigned int r = 0; r < S3ROUNDS && ok; r++) {
		memcpy(at, c, sizeof(at));
		for (unsigned int k = 0; k < 4; k++)
			moved &= set_affinity(irq[k], 1u << ((r + k) % 2));
		ok = s2more(c, at);
	}
	check(ok && moved, WHAT("scenario 3: %u rounds of affinity changes "
	    "of vectors 0-3 between vCPUs 0 and 1 under a stream of fires: "
	    "after each, every one of them takes more (%llu %llu %llu %llu)",
	    S3ROUNDS, (unsigned long long)c[0], (unsigned long long)c[1],
	    (unsigned long long)c[2], (unsigned long long)c[3]));
	printf("MSIV-VFU STREAM STOP 3\n");
	fflush(stdout);
	for (int t = 0; t < 600 && c[4] == 0; t++)
		s2take(c, 4, 100);
	for (unsigned int k = 0; k < 4 && ok; k++) {
		memcpy(at, c, sizeof(at));
		printf("MSIV-VFU FIRE %u 1\n", k);
		fflush(stdout);
		for (int t = 0; t < 600 && c[k] == at[k]; t++)
			s2take(c, k, 100);
		ok = c[k] > at[k];
	}
	check(ok && c[4] == 1, "scenario 3: the stream stopped; a final fire "
	    "on each of vectors 0-3 arrives: no vector went dead");
	ok = 1;
	printf("PROBE INFO scenario 3: interrupts on vCPU 0/1:");
	for (unsigned int k = 0; k < 4; k++) {
		uint64_t now[2] = { 0, 0 };

		(void)irq_of(bdf, k, now);
		printf(" %llu/%llu", (unsigned long long)(now[0] - cpu[k][0]),
		    (unsigned long long)(now[1] - cpu[k][1]));
		ok &= now[0] > cpu[k][0] && now[1] > cpu[k][1];
	}
	printf("\n");
	check(ok, "scenario 3: each of vectors 0-3 was taken on both vCPUs");
}

int
main(int argc, char **argv)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg),
	    .index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_irq_info msix = { .argsz = sizeof(msix),
	    .index = VFIO_PCI_MSIX_IRQ_INDEX };
	char path[64];
	int group, g, noresize, ok, gap = 0;
	uint16_t cmd;
	uint64_t v, others;

	if (argc != 3 && argc != 4)
		return 2;
	nvec = (unsigned int)atoi(argv[2]);
	if (nvec == 0 || nvec > NVEC_MAX)
		return 2;
	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	g = group_of(argv[1]);
	snprintf(path, sizeof(path), "/dev/vfio/%d", g);
	group = open(path, O_RDWR | O_CLOEXEC);
	if (!check(container >= 0 && group >= 0 &&
	    ioctl(group, VFIO_GROUP_GET_STATUS, &gs) == 0 &&
	    (gs.flags & VFIO_GROUP_FLAGS_VIABLE) &&
	    ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) == 0 &&
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0,
	    WHAT("the vfio-user-pci function is in IOMMU group %d behind the "
	    "emulated intel-iommu, and VFIO type1v2 takes it", g)))
		goto done;
	dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[1]);
	if (!check(dev >= 0 &&
	    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg) == 0 &&
	    pread(dev, &cmd, 2, (off_t)cfg.offset + PCI_COMMAND) == 2,
	    "the guest's vfio-pci opens the device and reads its config space"))
		goto done;
	/* Bus Master Enable: without it QEMU drops the function's MSIs. */
	cmd |= PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY;
	ok = pwrite(dev, &cmd, 2, (off_t)cfg.offset + PCI_COMMAND) == 2 &&
	    ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &msix) == 0 &&
	    msix.count == nvec;
	if (!check(ok, WHAT("Bus Master Enable; the guest's vfio-pci "
	    "reports %u MSI-X vectors", msix.count)))
		goto done;
	noresize = (msix.flags & VFIO_IRQ_INFO_NORESIZE) != 0;
	printf("PROBE INFO guest MSI-X: %s\n", noresize ? "fixed-size "
	    "(NORESIZE): grown by disabling and re-enabling it" :
	    "dynamic: vectors added in place");
	for (unsigned int i = 0; i < nvec; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (argc == 4 && strcmp(argv[3], "nospace") == 0) {
		nospace();
		goto disable;
	}
	/* A fixed-size vfio-pci: the host fires into each disable/re-enable
	 * gap, and answers on the second function once it has. */
	if (argc == 4 && noresize) {
		chan = open_chan(argv[3]);
		if (!check(chan >= 0, "the second function's vector 0 is the "
		    "host's channel while MSI-X is disabled here"))
			goto done;
	}

	/* Scenario 1: enable the vectors one at a time; each delivers, to
	 * itself only, as soon as it is enabled. */
	ok = 1;
	for (unsigned int i = 0; i < nvec && ok; i++) {
		if (noresize && i > 0) {
			ok = set_irqs(0, 0) == 0;
			if (ok && chan >= 0) {
				/* Rule 1: fired while disabled, dropped. */
				printf("MSIV-VFU GAP-FIRE %u\n", i - 1);
				fflush(stdout);
				v = 0;
				for (int t = 0; t < 60 && v == 0; t++)
					v = wait_efd(chan, 1000);
				gap += v == 1;
			}
			ok = ok && set_irqs(0, i + 1) == 0;
		} else
			ok = set_irqs(i, 1) == 0;
		if (!check(ok, WHAT("VFIO_DEVICE_SET_IRQS enables vector %u%s",
		    i, noresize && i > 0 ? " (MSI-X disabled and re-enabled "
		    "with one more)" : "")))
			break;
		v = fire(i, i + 1, &others);
		ok = check(v == 1 && others == 0, WHAT("vector %u: a fire on "
		    "its slot arrives on it (%llu) and on no other vector (%llu)",
		    i, (unsigned long long)v, (unsigned long long)others));
	}
	if (ok) {
		/* Every vector twice more, all of them enabled. */
		ok = 1;
		for (unsigned int r = 0; r < 2; r++)
			for (unsigned int i = 0; i < nvec; i++) {
				v = fire(i, nvec, &others);
				ok &= v == 1 && others == 0;
			}
		check(ok, WHAT("scenario 1: all %u vectors enabled, every one "
		    "delivers into the guest, to itself only", nvec));
		if (chan >= 0)
			check(gap == (int)nvec - 1, WHAT("scenario 1: the host "
			    "fired into %d of %u disable/re-enable gaps (rule 1: "
			    "dropped), and none of those arrived", gap,
			    nvec - 1));
		/* Scenario 4: a guest reboot, once. The host answers
		 * "REBOOT?" with a fire on vector 1 the first time (reboot:
		 * exit 42, and the run script reboots the guest with MSI-X
		 * still enabled) and on vector 0 afterwards (carry on).
		 * Asked right after scenario 1, while every count is exact. */
		if (failures == 0) {
			printf("MSIV-VFU REBOOT?\n");
			fflush(stdout);
			for (int t = 0; t < 60; t++) {
				if (wait_efd(efd[1], 0) != 0) {
					printf("PROBE INFO rebooting with MSI-X "
					    "enabled\n");
					fflush(stdout);
					return 42;
				}
				if (wait_efd(efd[0], 1000) != 0)
					break;
			}
		}
		/* Scenario 2, while every count is exact (before msivd's
		 * restart), then every vector enabled again. */
		if (!noresize && nvec > 9) {
			late_unmask();
			check(set_irqs(0, 0) == 0 && set_irqs(0, nvec) == 0,
			    WHAT("all %u vectors enabled again", nvec));
		}
		affinity(argv[1]);
		/* Scenario 5: msivd killed (-9) and started again between
		 * two bursts. msiv-vfu resumes with its token; each vector
		 * delivers again, with at most one interrupt more than was
		 * fired (a restart sets the pending bit of every vector set
		 * up, replayed once). Counted as they arrive: a late extra
		 * can only make a count lower, never higher. */
		printf("MSIV-VFU RESTART-MSIVD\n");
		ok = 1;
		for (unsigned int i = 0; i < nvec; i++) {
			uint64_t before = got[i];

			v = fire(i, nvec, &others);
			ok &= v >= 1 && got[i] - before <= 2;
			restart[i] = got[i] - before;
		}
		check(ok, WHAT("scenario 5: after msivd's kill -9 and restart "
		    "every vector delivers again, each at most one interrupt "
		    "more than fired"));
		printf("PROBE INFO after the restart, interrupts per vector "
		    "for one fire each:");
		for (unsigned int i = 0; i < nvec; i++)
			printf(" %llu", (unsigned long long)restart[i]);
		printf("\n");
		/* The guest detaches vector 9 (fd -1: its vfio-pci frees the
		 * IRQ, and the kernel masks the vector in QEMU's table), the
		 * host fires it, then vector 0 (the host's relay takes the
		 * requests in order, so vector 0's arrival says vector 9's
		 * slot was fired), and the guest attaches a new eventfd
		 * (the kernel unmasks it). Whether QEMU saw the fire before
		 * or after the unmask, it must arrive exactly once. */
		if (nvec > 9) {
			int old = efd[9];

			efd[9] = -1;
			ok = set_irqs(9, 1) == 0;
			efd[9] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			printf("MSIV-VFU FIRE 9 1\n");
			v = ok ? fire(0, 0, &others) : 0;
			ok = ok && v == 1 && set_irqs(9, 1) == 0;
			v = 0;
			for (int t = 0; t < 60 && ok && v == 0; t++)
				v = wait_efd(efd[9], 1000);
			check(ok && v == 1 && wait_efd(old, 0) == 0,
			    WHAT("vector 9 detached in the guest (fd -1), fired, "
			    "attached again: the interrupt arrives once, on the "
			    "new eventfd (%llu)", (unsigned long long)v));
			close(old);
			got[9] += v;
		}
		printf("PROBE INFO interrupts per vector:");
		for (unsigned int i = 0; i < nvec; i++)
			printf(" %llu", (unsigned long long)got[i]);
		printf("\n");
	}
disable:
	check(set_irqs(0, 0) == 0, "MSI-X disabled through VFIO");
done:
	printf("PROBE DONE %d\n", failures);
	fflush(stdout);
	return failures != 0;
}
