/*
 * The vfio backend: a PCI device bound to vfio-pci, opened through the
 * container/group API, whose MSI-X (or MSI) vectors are the device's
 * slots. Each slot's trigger is an eventfd of the daemon, assigned to the
 * vector with VFIO_DEVICE_SET_IRQS when the slot is armed (rule 9: before
 * any vector on it can be deliverable); the delivery loop relays it.
 *
 * Facts this follows (doc: shared vfio-vm-notes, measured on 6.1/6.12):
 *  - vfio-pci leaves Bus Master Enable clear; without it every MSI is
 *    dropped, so open() sets it through the config region;
 *  - VFIO_IRQ_SET_ACTION_MASK/UNMASK answer ENOTTY for MSI and MSI-X:
 *    masking stays in the daemon (vector.c);
 *  - with VFIO_IRQ_INFO_NORESIZE the enabled range cannot grow in place:
 *    arming a vector beyond it re-enables the index with a larger count.
 *    Vectors already in use keep their triggers; an interrupt in the gap
 *    may be lost, so they are marked pending (a spurious interrupt is
 *    harmless, a lost one is not). Without the flag (dynamic MSI-X)
 *    vectors are armed one range at a time. The path follows the flag,
 *    never the kernel version. MSI is always handled as NORESIZE.
 *  - moving a vector's trigger (direct mode, vfio_route) may lose an
 *    interrupt raised during the move: slot_route() marks the vector
 *    pending or delivers one, as for the NORESIZE gap;
 *  - before vfio-pci lets a device go (removal, unbind) it signals the
 *    request IRQ and waits for the user to close the device; msivd
 *    listens on it and gives the device back at once: device_lost()
 *    marks it, and hotplug.c releases it.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "deliver.h"
#include "device.h"
#include "hostate.h"
#include "log.h"
#include "priv.h"

struct vfio_dev {
	int container;
	int group;
	int fd;
	int reqfd;          /* the request IRQ's eventfd, or -1 */
	struct event *reqev;
	uint32_t index;     /* VFIO_PCI_MSIX_IRQ_INDEX or _MSI_ */
	uint32_t count;     /* vectors of that index */
	int noresize;
	int latch;          /* MSI message latched at enable (msi_latch) */
	uint32_t enabled;   /* NORESIZE: vectors enabled, 0 .. enabled-1 */
	uint8_t *armed;     /* per slot */
	int32_t *hostirq;   /* per slot: host IRQ + 1 (0: none), read from
			       /proc/interrupts in one pass (vfio_irq_cpu) */
	int hostirq_ok;     /* hostirq holds for the armed slots of now */
	uint64_t (*affinity)[MSIV_CPUS_WORDS]; /* per slot, asked for; 0: none */
	char address[32];
};

static int
vfio_group_of(const char *bdf)
{
	char path[PATH_MAX], link[PATH_MAX], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
	    bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	p = strrchr(link, '/');
	return p != NULL ? atoi(p + 1) : -ENOENT;
}

int
vfio_pci_bound(const char *bdf)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = '\0';
	return strstr(link, "/vfio-pci") != NULL;
}

/* Assign triggers (fd -1: none) to vectors [start, start + count). */
static int
vfio_set_triggers(struct device *dev, uint32_t start, uint32_t count,
    int assign)
{
	struct vfio_dev *v = dev->priv;
	size_t sz = sizeof(struct vfio_irq_set) + count * sizeof(int);
	struct vfio_irq_set *set = calloc(1, sz);
	int r = 0;

	if (set == NULL)
		return -ENOMEM;
	set->argsz = (uint32_t)sz;
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = v->index;
	set->start = start;
	set->count = count;
	for (uint32_t i = 0; i < count; i++) {
		struct slot *s = device_slot(dev, start + i);
		int fd = -1;

		/* Every slot's chunk is made at open (vfio_open), or by
		 * the handover's triggers: s is never NULL. */
		if (s != NULL && assign && (v->armed[start + i] || v->latch))
			fd = s->routed >= 0 ? s->routed :
			    atomic_load(&s->trigger);

		memcpy(set->data + i * sizeof(int), &fd, sizeof(int));
	}
	if (ioctl(v->fd, VFIO_DEVICE_SET_IRQS, set) < 0)
		r = -errno;
	free(set);
	return r;
}

static void
vfio_disable(struct vfio_dev *v)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set), .index = v->index, .count = 0,
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
	};

	(void)ioctl(v->fd, VFIO_DEVICE_SET_IRQS, &set);
	v->enabled = 0;
}

static void
vfio_close(struct device *dev)
{
	struct vfio_dev *v = dev->priv;

	if (v == NULL)
		return;
	if (v->reqev != NULL)
		event_free(v->reqev);
	if (v->fd >= 0 && v->reqfd >= 0) {
		struct vfio_irq_set set = {
			.argsz = sizeof(set), .index = VFIO_PCI_REQ_IRQ_INDEX,
			.flags = VFIO_IRQ_SET_DATA_NONE |
			    VFIO_IRQ_SET_ACTION_TRIGGER,
		};

		(void)ioctl(v->fd, VFIO_DEVICE_SET_IRQS, &set);
	}
	if (v->reqfd >= 0)
		close(v->reqfd);
	if (v->fd >= 0)
		vfio_disable(v);
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = device_slot(dev, i);
		int fd = s != NULL ? atomic_load(&s->trigger) : -1;

		if (fd >= 0) {
			deliver_del(s);
			close(fd);
			atomic_store(&s->trigger, -1);
		}
	}
	if (v->fd >= 0)
		close(v->fd);
	if (v->group >= 0)
		close(v->group);
	if (v->container >= 0)
		close(v->container);
	free(v->armed);
	free(v->affinity);
	free(v->hostirq);
	free(v);
	dev->priv = NULL;
}

/* Open container, group and device; set Bus Master Enable. */
static int
vfio_open_device(struct vfio_dev *v, const char *bdf)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info cfg = {
		.argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	char path[64];
	uint16_t cmd;
	int g = vfio_group_of(bdf);

	if (g < 0) {
		log_warnx("vfio %s: no such PCI device or no IOMMU group (is "
		    "the IOMMU enabled: intel_iommu=on / amd_iommu=on?)", bdf);
		return -ENODEV;
	}
	if (!vfio_pci_bound(bdf)) {
		log_warnx("vfio %s: not bound to vfio-pci; bind it: echo "
		    "vfio-pci > /sys/bus/pci/devices/%s/driver_override; echo "
		    "%s > /sys/bus/pci/drivers_probe", bdf, bdf, bdf);
		return -ENODEV;
	}
	v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (v->container < 0 ||
	    ioctl(v->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		log_warn("vfio %s: /dev/vfio/vfio (load vfio_iommu_type1)", bdf);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", g);
	v->group = priv_open(path, O_RDWR);
	if (v->group < 0) {
		log_warn("vfio %s: %s", bdf, path);
		return -errno;
	}
	if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &gs) < 0 ||
	    !(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		log_warnx("vfio %s: IOMMU group %d is not viable: bind every "
		    "device of /sys/kernel/iommu_groups/%d/devices to vfio-pci "
		    "(or leave it unbound)", bdf, g, g);
		return -EBUSY;
	}
	if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container) < 0 ||
	    ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		log_warn("vfio %s: cannot set the container", bdf);
		return -errno;
	}
	v->fd = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (v->fd < 0) {
		log_warn("vfio %s: cannot get the device", bdf);
		return -errno;
	}
	/* vfio-pci leaves Bus Master Enable clear; MSIs need it. */
	if (ioctl(v->fd, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0 ||
	    pread(v->fd, &cmd, 2, (off_t)cfg.offset + PCI_COMMAND) != 2) {
		log_warn("vfio %s: config space", bdf);
		return -EIO;
	}
	cmd |= PCI_COMMAND_MASTER;
	if (pwrite(v->fd, &cmd, 2, (off_t)cfg.offset + PCI_COMMAND) != 2) {
		log_warn("vfio %s: cannot set Bus Master Enable", bdf);
		return -EIO;
	}
	return 0;
}

/* Read the IRQ info of every index the device has (INTx, MSI, MSI-X, and
 * the error and request indexes where it has them) and log it. */
static int
vfio_irq_infos(struct vfio_dev *v, struct vfio_irq_info *msi,
    struct vfio_irq_info *msix, struct vfio_irq_info *req)
{
	static const char *const names[] = { "INTx", "MSI", "MSI-X", "error",
	    "request" };
	struct vfio_device_info di = { .argsz = sizeof(di) };

	if (ioctl(v->fd, VFIO_DEVICE_GET_INFO, &di) < 0) {
		log_warn("vfio %s: device info", v->address);
		return -errno;
	}
	if (!(di.flags & VFIO_DEVICE_FLAGS_PCI)) {
		log_warnx("vfio %s: not a PCI device", v->address);
		return -ENODEV;
	}
	for (uint32_t i = 0; i < di.num_irqs; i++) {
		struct vfio_irq_info in = { .argsz = sizeof(in), .index = i };

		if (ioctl(v->fd, VFIO_DEVICE_GET_IRQ_INFO, &in) < 0)
			continue;
		if (i == VFIO_PCI_MSI_IRQ_INDEX)
			*msi = in;
		else if (i == VFIO_PCI_MSIX_IRQ_INDEX)
			*msix = in;
		else if (i == VFIO_PCI_REQ_IRQ_INDEX)
			*req = in;
		log_debug("vfio %s: IRQ index %u (%s): %u, flags 0x%x",
		    v->address, i, i < sizeof(names) / sizeof(names[0]) ?
		    names[i] : "?", in.count, in.flags);
	}
	return 0;
}

static void
vfio_request_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device *dev = arg;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	device_lost(dev, "the kernel asks for it back (being removed or "
	    "unbound)");
}

/* Listen for vfio-pci's request to give the device back. */
static int
vfio_request_arm(struct device *dev, const struct vfio_irq_info *req)
{
	struct vfio_dev *v = dev->priv;
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} s = { .set = {
		.argsz = sizeof(s), .index = VFIO_PCI_REQ_IRQ_INDEX, .count = 1,
		.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
	} };

	if (req->count < 1 || !(req->flags & VFIO_IRQ_INFO_EVENTFD)) {
		log_warnx("vfio %s: no request IRQ: a removal waits until the "
		    "device is detached", v->address);
		return 0;
	}
	if ((v->reqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return -errno;
	s.fd = v->reqfd;
	if (ioctl(v->fd, VFIO_DEVICE_SET_IRQS, &s) < 0) {
		int r = -errno;

		log_warn("vfio %s: request IRQ", v->address);
		return r;
	}
	v->reqev = event_new(device_base(), v->reqfd, EV_READ | EV_PERSIST,
	    vfio_request_cb, dev);
	if (v->reqev == NULL || event_add(v->reqev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static int
vfio_open(struct device *dev, const struct conf_device *cd)
{
	struct vfio_irq_info msix = { .count = 0 }, msi = { .count = 0 },
	    req = { .count = 0 };
	struct vfio_dev *v = calloc(1, sizeof(*v));
	int r;

	if (v == NULL)
		return -ENOMEM;
	v->container = v->group = v->fd = v->reqfd = -1;
	snprintf(v->address, sizeof(v->address), "%s", cd->address);
	dev->priv = v;
	if ((r = vfio_open_device(v, cd->address)) < 0 ||
	    (r = vfio_irq_infos(v, &msi, &msix, &req)) < 0 ||
	    (r = vfio_request_arm(dev, &req)) < 0)
		goto fail;
	if (msix.count > 0 && (msix.flags & VFIO_IRQ_INFO_EVENTFD)) {
		v->index = VFIO_PCI_MSIX_IRQ_INDEX;
		v->count = msix.count;
		v->noresize = (msix.flags & VFIO_IRQ_INFO_NORESIZE) != 0;
	} else if (msi.count > 0 && (msi.flags & VFIO_IRQ_INFO_EVENTFD)) {
		v->index = VFIO_PCI_MSI_IRQ_INDEX;
		v->count = msi.count;
		v->noresize = 1;
	} else {
		log_warnx("vfio %s: the device has no MSI-X or MSI vectors",
		    cd->address);
		r = -ENODEV;
		goto fail;
	}
	dev->flags = MSIV_DEVICE_DIRECT | (v->noresize ? MSIV_DEVICE_FIXED : 0) |
	    (v->index == VFIO_PCI_MSIX_IRQ_INDEX ? MSIV_DEVICE_MSIX :
	    MSIV_DEVICE_MSI);
	if (v->count < dev->nslots)
		dev->nslots = v->count; /* the message store is this big */
	v->armed = calloc(dev->nslots, 1);
	v->affinity = calloc(dev->nslots, sizeof(*v->affinity));
	v->hostirq = calloc(dev->nslots, sizeof(*v->hostirq));
	if (v->armed == NULL || v->affinity == NULL || v->hostirq == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	/* Every slot gets its trigger now: all the chunks are made. */
	for (uint32_t i = 0; i < dev->nslots; i++) {
		struct slot *s = device_slot_make(dev, i);
		int fd;

		if (s == NULL) {
			r = -ENOMEM;
			goto fail;
		}
		if ((fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
			r = -errno;
			goto fail;
		}
		atomic_store_explicit(&s->trigger, fd, memory_order_release);
		if ((r = deliver_add(s, slot_shard(s))) < 0)
			goto fail;
	}
	log_info("vfio %s: %s, %u vectors%s", cd->address,
	    v->index == VFIO_PCI_MSIX_IRQ_INDEX ? "MSI-X" : "MSI", v->count,
	    v->noresize ? ", fixed-size (NORESIZE)" : ", dynamic");
	if ((cd->flags & MSIV_ATTACH_MSI_LATCH) &&
	    v->index != VFIO_PCI_MSI_IRQ_INDEX)
		log_warnx("vfio %s: msi_latch ignored: the device uses MSI-X, "
		    "whose entries are written while masked", cd->address);
	else if (cd->flags & MSIV_ATTACH_MSI_LATCH) {
		/* Enable every vector now, all triggers in place: the kernel
		 * writes each message before it sets MSI Enable, and the
		 * range never has to be re-enabled while vectors are in
		 * use. */
		v->latch = 1;
		if ((r = vfio_set_triggers(dev, 0, dev->nslots, 1)) < 0) {
			log_warnx("vfio %s: cannot enable MSI: %s",
			    cd->address, strerror(-r));
			goto fail;
		}
		v->enabled = dev->nslots;
		dev->flags |= MSIV_DEVICE_MSI_LATCH;
		log_info("vfio %s: latches its MSI message at enable: %u "
		    "vectors enabled, messages in place", cd->address,
		    dev->nslots);
	}
	return 0;
fail:
	vfio_close(dev);
	return r;
}

/* --- handover (handover.c) ------------------------------------------------ */

static void
vfio_save(struct device *dev, struct ho_buf *b)
{
	struct vfio_dev *v = dev->priv;

	ho_put_fd(b, v->container);
	ho_put_fd(b, v->group);
	ho_put_fd(b, v->fd);
	ho_put_fd(b, v->reqfd);
	ho_put_u32(b, v->index);
	ho_put_u32(b, v->count);
	ho_put_u32(b, (uint32_t)v->noresize);
	ho_put_u32(b, (uint32_t)v->latch);
	ho_put_u32(b, v->enabled);
	ho_put_u32(b, dev->flags);
	ho_put_u32(b, dev->nslots);
	ho_put(b, v->armed, dev->nslots);
	ho_put(b, v->affinity, dev->nslots * sizeof(*v->affinity));
}

/*
 * Take the open device over as it is: its container, group and device fds,
 * its request IRQ's eventfd, and what it knows of the enabled range and of
 * the armed vectors. Nothing is written to the device: MSI-X stays
 * enabled, each vector keeps its trigger (vfio_arm of an armed range is
 * a no-op), Bus Master Enable stays set.
 */
static int
vfio_adopt(struct device *dev, const struct conf_device *cd, struct ho_rd *r)
{
	struct vfio_dev *v = calloc(1, sizeof(*v));
	uint32_t nslots;

	if (v == NULL)
		return -ENOMEM;
	dev->priv = v;
	snprintf(v->address, sizeof(v->address), "%s", cd->address);
	v->container = ho_get_fd(r);
	v->group = ho_get_fd(r);
	v->fd = ho_get_fd(r);
	v->reqfd = ho_get_fd(r);
	v->index = ho_get_u32(r);
	v->count = ho_get_u32(r);
	v->noresize = (int)ho_get_u32(r);
	v->latch = (int)ho_get_u32(r);
	v->enabled = ho_get_u32(r);
	dev->flags = ho_get_u32(r);
	nslots = ho_get_u32(r);
	/* As vfio_open() cut it to the vectors the device has. */
	if (r->err != 0 || v->fd < 0 || nslots == 0 || nslots > dev->nslots ||
	    v->count < nslots || v->enabled > nslots)
		return ho_fail("vfio %s: the device's state does not hold",
		    cd->address);
	dev->nslots = nslots;
	v->armed = calloc(dev->nslots, 1);
	v->affinity = calloc(dev->nslots, sizeof(*v->affinity));
	v->hostirq = calloc(dev->nslots, sizeof(*v->hostirq));
	if (v->armed == NULL || v->affinity == NULL || v->hostirq == NULL)
		return -ENOMEM;
	ho_get(r, v->armed, dev->nslots);
	ho_get(r, v->affinity, dev->nslots * sizeof(*v->affinity));
	if (r->err != 0)
		return ho_fail("vfio %s: the state is cut short", cd->address);
	if (v->reqfd >= 0) {
		v->reqev = event_new(device_base(), v->reqfd,
		    EV_READ | EV_PERSIST, vfio_request_cb, dev);
		if (v->reqev == NULL || event_add(v->reqev, NULL) < 0)
			return -ENOMEM;
	}
	log_info("vfio %s: adopted: %s, %u vectors, %u enabled", cd->address,
	    v->index == VFIO_PCI_MSIX_IRQ_INDEX ? "MSI-X" : "MSI", v->count,
	    v->enabled);
	return 0;
}

/*
 * Host IRQ affinity. vfio-pci names the IRQ it requests for a vector
 * "vfio-msix[N](BDF)" ("vfio-msi[N](BDF)" for MSI) in /proc/interrupts;
 * its affinity is /proc/irq/IRQ/smp_affinity (32-bit hex words, the most
 * significant first, comma separated), and the kernel reports what it
 * chose in effective_affinity where it has one.
 */
static int
vfio_host_irq(struct device *dev, uint32_t slot, int *remapped)
{
	struct vfio_dev *v = dev->priv;
	char want[96], *line = NULL;
	size_t cap = 0, wl;
	ssize_t n;
	int irq = -ENOENT;
	FILE *f;

	wl = (size_t)snprintf(want, sizeof(want), " vfio-msi%s[%u](%s)",
	    v->index == VFIO_PCI_MSIX_IRQ_INDEX ? "x" : "", slot, v->address);
	if ((f = fopen("/proc/interrupts", "re")) == NULL)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
			line[--n] = '\0';
		if ((size_t)n > wl && strcmp(line + n - wl, want) == 0) {
			char *end;
			long x = strtol(line, &end, 10);

			if (*end == ':' && x >= 0 && x <= INT_MAX)
				irq = (int)x;
			/* The chip: IR-PCI-MSI* when interrupts are remapped
			 * (the device's message is then a handle that an
			 * affinity change leaves alone). */
			if (remapped != NULL)
				*remapped = strstr(line, " IR-") != NULL;
			break;
		}
	}
	free(line);
	fclose(f);
	return irq;
}

static int
vfio_mask_parse(const char *s, uint64_t cpus[MSIV_CPUS_WORDS])
{
	uint32_t words[2 * MSIV_CPUS_WORDS + 1];
	unsigned int n = 0;

	memset(cpus, 0, MSIV_CPUS_WORDS * sizeof(uint64_t));
	for (;;) {
		char *end;
		unsigned long w = strtoul(s, &end, 16);

		if (end == s || n == sizeof(words) / sizeof(words[0]))
			return -EINVAL;
		words[n++] = (uint32_t)w;
		if (*end != ',')
			break;
		s = end + 1;
	}
	/* words[n - 1] holds CPUs 0-31. */
	for (unsigned int i = 0; i < n && i < 2 * MSIV_CPUS_WORDS; i++)
		cpus[i / 2] |= (uint64_t)words[n - 1 - i] << (32 * (i % 2));
	return 0;
}

static int
vfio_irq_file(int irq, const char *name, char *buf, size_t len, int wr)
{
	char path[64];
	ssize_t n;
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/irq/%d/%s", irq, name);
	fd = wr ? priv_open(path, O_WRONLY) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* proc files: no pread/pwrite */
	n = wr ? write(fd, buf, strlen(buf)) : read(fd, buf, len - 1);
	if (n < 0)
		r = -errno;
	else if (!wr)
		buf[n] = '\0';
	close(fd);
	return r;
}

static int
vfio_irq_set_affinity(int irq, const uint64_t cpus[MSIV_CPUS_WORDS])
{
	char buf[9 * 2 * MSIV_CPUS_WORDS + 1];
	size_t off = 0;
	int top = 2 * MSIV_CPUS_WORDS - 1;

	while (top > 0 && (uint32_t)(cpus[top / 2] >> (32 * (top % 2))) == 0)
		top--;
	for (int i = top; i >= 0; i--)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    i == top ? "%x" : ",%08x",
		    (uint32_t)(cpus[i / 2] >> (32 * (i % 2))));
	return vfio_irq_file(irq, "smp_affinity", buf, sizeof(buf), 1);
}

static int
vfio_irq_affinity(struct device *dev, uint32_t slot, const uint64_t *cpus,
    struct msiv_affinity_rep *rep)
{
	struct vfio_dev *v = dev->priv;
	char buf[512];
	int irq, r, remapped = 0;

	if (!v->armed[slot])
		return -ENXIO; /* no vfunc has the slot: no host IRQ */
	if ((irq = vfio_host_irq(dev, slot, &remapped)) < 0) {
		log_warnx("vfio %s: no host IRQ found for vector %u in "
		    "/proc/interrupts", v->address, slot);
		return -ENXIO;
	}
	if (cpus != NULL && v->latch && !remapped) {
		log_warnx("vfio %s: vector %u: the device latches its MSI "
		    "message at enable and interrupts are not remapped: a new "
		    "affinity would change the message behind its back; not "
		    "set", v->address, slot);
		return -EOPNOTSUPP;
	}
	if (cpus != NULL) {
		if ((r = vfio_irq_set_affinity(irq, cpus)) < 0) {
			log_warnx("vfio %s: vector %u: IRQ %d: cannot set its "
			    "affinity: %s", v->address, slot, irq,
			    strerror(-r));
			/* EOVERFLOW: CPUs beyond what the kernel can have. */
			return r == -EOVERFLOW ? -EINVAL : r;
		}
		memcpy(v->affinity[slot], cpus, sizeof(v->affinity[slot]));
	}
	rep->irq = (uint32_t)irq;
	if (vfio_irq_file(irq, "effective_affinity", buf, sizeof(buf), 0) < 0 &&
	    (r = vfio_irq_file(irq, "smp_affinity", buf, sizeof(buf), 0)) < 0)
		return r;
	return vfio_mask_parse(buf, rep->cpus);
}

/* Every slot's host IRQ, in one pass of /proc/interrupts (vfio_host_irq
 * reads it whole for one slot): the lines that end in this device's
 * " vfio-msix[N](BDF)". */
static void
vfio_host_irq_scan(struct device *dev)
{
	struct vfio_dev *v = dev->priv;
	char tail[48], *line = NULL;
	const char *name = v->index == VFIO_PCI_MSIX_IRQ_INDEX ?
	    " vfio-msix[" : " vfio-msi[";
	size_t cap = 0, tl;
	ssize_t n;
	FILE *f;

	memset(v->hostirq, 0, dev->nslots * sizeof(*v->hostirq));
	v->hostirq_ok = 1;
	tl = (size_t)snprintf(tail, sizeof(tail), "](%s)", v->address);
	if ((f = fopen("/proc/interrupts", "re")) == NULL)
		return;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *p, *end;
		unsigned long slot;
		long irq;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
			line[--n] = '\0';
		if ((size_t)n <= tl || strcmp(line + n - tl, tail) != 0 ||
		    (p = strstr(line, name)) == NULL)
			continue;
		slot = strtoul(p + strlen(name), &end, 10);
		irq = strtol(line, &p, 10);
		if (end == line + n - tl && *p == ':' && irq >= 0 &&
		    irq < INT32_MAX && slot < dev->nslots)
			v->hostirq[slot] = (int32_t)irq + 1;
	}
	free(line);
	fclose(f);
}

/* The CPUs the slot's host IRQ is affine to; -1 (not armed, not found):
 * for the delivery shard of the slot (slot_shard), so quiet, and one
 * /proc/interrupts pass for all the slots watched at once (a handover
 * adopts every armed slot). */
static int
vfio_irq_cpus(struct device *dev, uint32_t slot,
    uint64_t cpus[MSIV_CPUS_WORDS])
{
	struct vfio_dev *v = dev->priv;
	char buf[512];
	int irq;

	if (!v->armed[slot])
		return -1;
	if (!v->hostirq_ok)
		vfio_host_irq_scan(dev);
	if ((irq = v->hostirq[slot] - 1) < 0)
		return -1;
	if ((vfio_irq_file(irq, "effective_affinity", buf, sizeof(buf), 0) < 0 &&
	    vfio_irq_file(irq, "smp_affinity", buf, sizeof(buf), 0) < 0) ||
	    vfio_mask_parse(buf, cpus) < 0)
		return -1;
	return 0;
}

/* Re-enabling a fixed-size range gives its vectors new IRQs: give them the
 * affinity asked for. */
static void
vfio_affinity_reapply(struct device *dev, uint32_t first, uint32_t n)
{
	struct vfio_dev *v = dev->priv;

	for (uint32_t i = first; i < first + n; i++) {
		int irq, set = 0;

		for (unsigned int w = 0; w < MSIV_CPUS_WORDS; w++)
			set |= v->affinity[i][w] != 0;
		if (!set || !v->armed[i])
			continue;
		if ((irq = vfio_host_irq(dev, i, NULL)) < 0 ||
		    vfio_irq_set_affinity(irq, v->affinity[i]) < 0)
			log_warnx("vfio %s: vector %u: cannot restore its host "
			    "IRQ affinity", v->address, i);
	}
}

static int
vfio_arm(struct device *dev, uint32_t first, uint32_t n)
{
	struct vfio_dev *v = dev->priv;
	uint32_t end = first + n, was = v->enabled;
	int r;

	uint32_t armed = 0;

	/* Armed already: an adopted device's vfuncs, restored after a
	 * handover. Their vectors keep their triggers untouched. */
	for (uint32_t i = first; i < end; i++)
		armed += v->armed[i];
	if (armed == n && (!v->noresize || end <= v->enabled))
		return 0;
	v->hostirq_ok = 0; /* new host IRQs */
	for (uint32_t i = first; i < end; i++)
		v->armed[i] = 1;
	/* (Slots being armed have no affinity yet: disarm forgot it.) */
	if (!v->noresize || end <= v->enabled) {
		r = vfio_set_triggers(dev, first, n, 1);
		device_fdstore_sync(dev);
		return r;
	}
	/* Grow the enabled range: disable, enable with the larger count,
	 * all armed triggers in place. */
	vfio_disable(v);
	r = vfio_set_triggers(dev, 0, end, 1);
	if (r < 0) {
		for (uint32_t i = first; i < end; i++)
			v->armed[i] = 0;
		if (was > 0 && vfio_set_triggers(dev, 0, was, 1) == 0)
			v->enabled = was;
		return r;
	}
	v->enabled = end;
	device_fdstore_sync(dev);
	vfio_affinity_reapply(dev, 0, end); /* the IRQs are new */
	/* Vectors in use before may have lost an interrupt in the gap. */
	for (uint32_t i = 0; i < was; i++) {
		struct slot *s = device_slot(dev, i);

		if (s == NULL || !v->armed[i] || !s->owned)
			continue;
		deliver_lock(s);
		deliver_actions(s, vector_assume_pending(&s->vec));
		pthread_mutex_unlock(&s->lock);
	}
	return 0;
}

static void
vfio_disarm(struct device *dev, uint32_t first, uint32_t n)
{
	struct vfio_dev *v = dev->priv;

	v->hostirq_ok = 0;
	for (uint32_t i = first; i < first + n; i++) {
		v->armed[i] = 0;
		memset(v->affinity[i], 0, sizeof(v->affinity[i]));
	}
	/* Fixed-size ranges keep the vector enabled (its trigger stays;
	 * an unowned slot drops interrupts); dynamic ones let it go. */
	if (!v->noresize)
		(void)vfio_set_triggers(dev, first, n, 0);
	device_fdstore_sync(dev);
}

/*
 * Direct mode: the vector signals fd (-1: the daemon's trigger). SET_IRQS
 * releases the old eventfd before it returns, but it swaps the trigger by
 * free_irq() and request_irq() of the host IRQ, and an MSI that arrives in
 * between is gone: the device does not hold an interrupt it has sent, and
 * the kernel logs "No irq handler for vector" (tests/vm's swap windows
 * lost 2 to 4 in 2000 on 6.1 and on 6.12 before slot_route() assumed one
 * was lost after every move: at-least-once).
 */
static int
vfio_route(struct device *dev, uint32_t slot, int fd)
{
	struct vfio_dev *v = dev->priv;
	char buf[sizeof(struct vfio_irq_set) + sizeof(int)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;

	if (!v->armed[slot])
		return -EINVAL;
	if (fd < 0) {
		const struct slot *s = device_slot(dev, slot);

		if (s == NULL)
			return -EINVAL;
		fd = atomic_load(&s->trigger);
	}
	set->argsz = sizeof(buf);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = v->index;
	set->start = slot;
	set->count = 1;
	memcpy(set->data, &fd, sizeof(fd));
	return ioctl(v->fd, VFIO_DEVICE_SET_IRQS, set) < 0 ? -errno : 0;
}

const struct backend_ops vfio_backend_ops = {
	.name = "vfio",
	.open = vfio_open,
	.close = vfio_close,
	.arm = vfio_arm,
	.disarm = vfio_disarm,
	.fire = NULL,
	.trigger_dup = NULL,
	.route = vfio_route,
	.irq_affinity = vfio_irq_affinity,
	.irq_cpus = vfio_irq_cpus,
	.save = vfio_save,
	.adopt = vfio_adopt,
};
