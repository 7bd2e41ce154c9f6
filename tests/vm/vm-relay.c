/*
 * vm-relay: inside the test guest, msivd owns QEMU's edu device through
 * the vfio backend; this client checks rules 1, 2, 4, 6 and 8 in relay
 * mode and in direct mode (VFIO signals the client's eventfd itself while
 * the vector is deliverable) with interrupts raised by the device itself.
 * msivd holds the VFIO device, so the test rings edu's doorbell (BAR0
 * 0x60) through the BAR's sysfs resource file.
 *
 * usage: vm-relay SOCKET BDF [noir]   Prints PROBE OK/FAIL lines, PROBE DONE.
 * With noir: the checks for a guest without interrupt remapping.
 * (The device is the one msivd names "edu".)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <msiv/msiv.h>

#include "guest.h"

static volatile uint32_t *bar;
static struct msiv_conn *c;
static uint64_t vf;
static uint64_t fired;

static void
ring(void)
{
	bar[0x60 / 4] = 1;
}

static void
ack_irq(void)
{
	bar[0x64 / 4] = 1; /* so the device can raise again */
}

/* Ring the device and wait until msivd has seen the interrupt (relay
 * mode, or a direct vector routed back to the daemon). Counted from the
 * fired counter before the ring: it also holds the interrupts msivd
 * assumed for direct-mode moves (msiv-protocol(7), COUNTERS). */
static int
raise_irq(void)
{
	struct msiv_vector_info in;

	if (msiv_vector_query(c, vf, 0, &in) < 0)
		return 0;
	fired = in.fired + 1;
	ring();
	for (int i = 0; i < 1000; i++) {
		if (msiv_vector_query(c, vf, 0, &in) == 0 && in.fired >= fired) {
			ack_irq();
			return 1;
		}
		usleep(10000);
	}
	return 0;
}

/* Ring a deliverable vector and wait for it on fd. */
static uint64_t
raise_to(int fd)
{
	uint64_t v;

	ring();
	v = wait_efd(fd, 10000);
	ack_irq();
	return v;
}

static void
pass(const char *mode, unsigned int flags)
{
	struct msiv_vector_info in;
	char what[128];
	int e1 = eventfd(0, EFD_CLOEXEC), e2 = eventfd(0, EFD_CLOEXEC);

	fired = 0;
#define WHAT(s) (snprintf(what, sizeof(what), "%s: %s", mode, s), what)
	if (!check(msiv_vfunc_open(c, "edu", 1, MSIV_POLICY_DEFAULT, &vf) == 0 &&
	    msiv_vector_setup(c, vf, 0, 0xfee00000u, 0x31, e1,
	    MSIV_SETUP_UNMASKED | flags) == 0 && msiv_vfunc_enable(c, vf, 1) ==
	    0, WHAT("open a vfunc, set up its vector, enable")))
		return;
	if (flags & MSIV_SETUP_DIRECT) {
		/* Enabling moved the device's signal to the target, and a
		 * move is at-least-once: one interrupt, before the reply,
		 * which msivd counts as an assumed one (msiv-protocol(7),
		 * COUNTERS); the device's own interrupt it does not see. */
		check(wait_efd(e1, 0) == 1 && raise_to(e1) == 1 &&
		    msiv_vector_query(c, vf, 0, &in) == 0 && in.routed &&
		    in.fired == 1 && in.delivered == 1, WHAT("rule 1: the "
		    "device signals the target itself, msivd off the path"));
	} else {
		uint64_t cpus[MSIV_CPUS_WORDS] = { 1ull <<
		    (sysconf(_SC_NPROCESSORS_ONLN) - 1) }, eff[MSIV_CPUS_WORDS];

		check(raise_irq() && wait_efd(e1, 10000) == 1,
		    WHAT("rule 1: a device interrupt is delivered"));
		/* Remapped interrupts: the latched message is a handle an
		 * affinity change leaves alone, so msivd allows it. */
		check(msiv_vector_affinity(c, vf, 0, cpus, NULL, eff) == 0 &&
		    eff[0] == cpus[0] && raise_irq() &&
		    wait_efd(e1, 10000) == 1, WHAT("msi_latch with interrupt "
		    "remapping: the host IRQ moves, the device still delivers"));
	}
	check(msiv_vector_mask(c, vf, 0) == 0 && raise_irq() &&
	    wait_efd(e1, 200) == 0 && msiv_vector_query(c, vf, 0, &in) == 0 &&
	    in.pending && !in.routed,
	    WHAT("rule 4: masked, nothing delivered, pending set"));
	check(msiv_vector_unmask(c, vf, 0) == 0 && wait_efd(e1, 10000) == 1 &&
	    wait_efd(e1, 200) == 0,
	    WHAT("rule 2: unmask replays it exactly once"));
	if (flags & MSIV_SETUP_DIRECT)
		check(msiv_vector_retarget(c, vf, 0, MSIV_RETARGET_TARGET, 0, 0,
		    e2) == 0 && wait_efd(e2, 0) == 1 && raise_to(e2) == 1 &&
		    wait_efd(e1, 200) == 0, WHAT("rule 6: after retarget only "
		    "the new target gets it (and one for the move)"));
	else
		check(msiv_vector_retarget(c, vf, 0, MSIV_RETARGET_TARGET, 0, 0,
		    e2) == 0 && raise_irq() && wait_efd(e2, 10000) == 1 &&
		    wait_efd(e1, 200) == 0,
		    WHAT("rule 6: after retarget only the new target gets it"));
	check(msiv_vector_free(c, vf, 0) == 0 && raise_irq() &&
	    wait_efd(e2, 200) == 0 && wait_efd(e1, 0) == 0,
	    WHAT("rule 8: after free nothing is delivered"));
	check(msiv_vfunc_close(c, vf) == 0, WHAT("close the vfunc"));
#undef WHAT
	close(e1);
	close(e2);
}

/* Without interrupt remapping the device's MSI message changes with the
 * host IRQ's affinity: msivd refuses that for an msi_latch device, and
 * delivery carries on. */
static void
noir(void)
{
	uint64_t cpus[MSIV_CPUS_WORDS] = { 1 }, eff[MSIV_CPUS_WORDS];
	unsigned int irq = 0;
	int e1 = eventfd(0, EFD_CLOEXEC);

	fired = 0;
	check(msiv_vfunc_open(c, "edu", 1, MSIV_POLICY_DEFAULT, &vf) == 0 &&
	    msiv_vector_setup(c, vf, 0, 0xfee00000u, 0x31, e1,
	    MSIV_SETUP_UNMASKED) == 0 && msiv_vfunc_enable(c, vf, 1) == 0 &&
	    raise_irq() && wait_efd(e1, 10000) == 1,
	    "no remapping: a device interrupt is delivered");
	check(msiv_vector_affinity(c, vf, 0, cpus, &irq, eff) == -EOPNOTSUPP,
	    "no remapping: an msi_latch device refuses an affinity change "
	    "(EOPNOTSUPP)");
	check(msiv_vector_affinity(c, vf, 0, NULL, &irq, eff) == 0 && irq > 0 &&
	    raise_irq() && wait_efd(e1, 10000) == 1,
	    "no remapping: its affinity can be read, and it still delivers");
	check(msiv_vfunc_close(c, vf) == 0, "no remapping: close the vfunc");
	close(e1);
}

int
main(int argc, char **argv)
{
	struct msiv_device_info dev[4];
	char path[128];
	int fd, n, found = 0;

	if (argc != 3 && (argc != 4 || strcmp(argv[3], "noir") != 0))
		return 2;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0",
	    argv[2]);
	fd = open(path, O_RDWR | O_SYNC);
	bar = fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0) : MAP_FAILED;
	if (!check(bar != MAP_FAILED, "map the edu BAR"))
		goto done;
	if (!check(msiv_connect(argv[1], "vm", &c) == 0, "connect to msivd"))
		goto done;
	n = msiv_list_devices(c, dev, 4, sizeof(*dev));
	for (int i = 0; i < n; i++)
		found |= strcmp(dev[i].name, "edu") == 0 &&
		    strcmp(dev[i].backend, "vfio") == 0 && dev[i].slots == 1 &&
		    dev[i].flags == (MSIV_DEVICE_MSI | MSIV_DEVICE_FIXED |
		    MSIV_DEVICE_DIRECT | MSIV_DEVICE_MSI_LATCH);
	check(found, "msivd has the edu device: vfio, one MSI vector, "
	    "latched at enable (msi_latch): enabled at attach");
	if (argc == 4)
		noir();
	else {
		pass("relay", 0);
		pass("direct", MSIV_SETUP_DIRECT);
	}
done:
	printf("PROBE DONE %d\n", failures);
	fflush(stdout);
	return failures != 0;
}
