/*
 * vfio-probe: runs inside the QEMU test guest (tests/vm/) and checks the
 * guest's VFIO stack the way msivd's vfio backend will use it: the
 * container and group of a device bound to vfio-pci, the device fd, Bus
 * Master Enable through the config region, the IRQ info of the MSI and
 * MSI-X indexes, and one interrupt raised by QEMU's edu device (MSI,
 * BAR0 offset 0x60) arriving on an eventfd set with VFIO_DEVICE_SET_IRQS.
 *
 * usage: vfio-probe BDF     (e.g. 0000:00:03.0)
 * Prints "PROBE OK <what>" / "PROBE FAIL <what>: <why>" lines and
 * "PROBE DONE <failures>" last; the host reads them from the serial log.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int failures;

static int
check(int cond, const char *what, const char *why)
{
	if (cond)
		printf("PROBE OK %s\n", what);
	else {
		printf("PROBE FAIL %s: %s (%s)\n", what, why, strerror(errno));
		failures++;
	}
	fflush(stdout);
	return cond;
}

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

int
main(int argc, char **argv)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg),
	    .index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_region_info bar0 = { .argsz = sizeof(bar0),
	    .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_irq_info msi = { .argsz = sizeof(msi),
	    .index = VFIO_PCI_MSI_IRQ_INDEX };
	struct vfio_irq_info msix = { .argsz = sizeof(msix),
	    .index = VFIO_PCI_MSIX_IRQ_INDEX };
	char path[64], irqbuf[sizeof(struct vfio_irq_set) + sizeof(int)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)irqbuf;
	int container, group, dev, efd, g;
	uint16_t cmd;
	uint32_t raise = 1;
	struct pollfd pfd;
	uint64_t v;

	if (argc != 2) {
		fprintf(stderr, "usage: vfio-probe BDF\n");
		return 2;
	}
	g = group_of(argv[1]);
	if (!check(g >= 0, "iommu group", "no iommu_group link"))
		goto done;
	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (!check(container >= 0 && ioctl(container, VFIO_GET_API_VERSION) ==
	    VFIO_API_VERSION && ioctl(container, VFIO_CHECK_EXTENSION,
	    VFIO_TYPE1v2_IOMMU) == 1, "container, type1v2", "open/ioctl"))
		goto done;
	snprintf(path, sizeof(path), "/dev/vfio/%d", g);
	group = open(path, O_RDWR | O_CLOEXEC);
	if (!check(group >= 0 && ioctl(group, VFIO_GROUP_GET_STATUS, &gs) == 0
	    && (gs.flags & VFIO_GROUP_FLAGS_VIABLE), "group viable",
	    "open/status"))
		goto done;
	if (!check(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) == 0 &&
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0,
	    "set container and iommu", "ioctl"))
		goto done;
	dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[1]);
	if (!check(dev >= 0, "device fd", "GET_DEVICE_FD"))
		goto done;
	/* vfio-pci leaves Bus Master Enable clear: without it every MSI is
	 * dropped. */
	if (!check(ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg) == 0 &&
	    pread(dev, &cmd, 2, (off_t)cfg.offset + PCI_COMMAND) == 2,
	    "read PCI_COMMAND", "config region"))
		goto done;
	cmd |= PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY;
	check(pwrite(dev, &cmd, 2, (off_t)cfg.offset + PCI_COMMAND) == 2,
	    "set bus master enable", "pwrite");
	if (ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &msi) == 0)
		printf("PROBE INFO msi count %u flags 0x%x\n", msi.count,
		    msi.flags);
	if (ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &msix) == 0)
		printf("PROBE INFO msix count %u flags 0x%x noresize %d\n",
		    msix.count, msix.flags,
		    (msix.flags & VFIO_IRQ_INFO_NORESIZE) != 0);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	set->argsz = sizeof(irqbuf);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_MSI_IRQ_INDEX;
	set->start = 0;
	set->count = 1;
	memcpy(set->data, &efd, sizeof(efd));
	if (!check(msi.count >= 1 && ioctl(dev, VFIO_DEVICE_SET_IRQS, set) == 0,
	    "MSI trigger set", "SET_IRQS"))
		goto done;
	/* edu: writing BAR0 0x60 raises its interrupt (MSI when enabled). */
	if (!check(ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar0) == 0 &&
	    pwrite(dev, &raise, 4, (off_t)bar0.offset + 0x60) == 4,
	    "raise the edu interrupt", "BAR0 write"))
		goto done;
	pfd.fd = efd;
	pfd.events = POLLIN;
	check(poll(&pfd, 1, 10000) == 1 && read(efd, &v, 8) == 8 && v >= 1,
	    "MSI delivered to the eventfd", "no interrupt within 10 s");
	/* Ack, so the device can raise again. */
	(void)pwrite(dev, &raise, 4, (off_t)bar0.offset + 0x64);
done:
	printf("PROBE DONE %d\n", failures);
	fflush(stdout);
	return failures != 0;
}
