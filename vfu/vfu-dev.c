/*
 * The function msiv-vfu presents (vfu-dev.h), and how the vfio-user
 * requests QEMU sends map onto the vfunc (msiv-vfu(1), doc/vfio-user.md):
 *  - SET_IRQS on the MSI-X index, TRIGGER with eventfds: an eventfd sets
 *    its vector up, or moves the vector to it atomically (rule 6); fd -1
 *    ("enabled, nothing attached") or DATA_NONE with a count detaches it:
 *    the vector is masked on the vfunc, so an interrupt meanwhile sets its
 *    pending bit (rule 4) and is replayed once when an eventfd comes back
 *    (rule 2), as the kernel's vfio-pci holds it. The first eventfd
 *    enables MSI-X on the vfunc; DATA_NONE with count 0 disables it,
 *    freeing every vector (rules 1, 8). MASK/UNMASK mask and unmask.
 *    NORESIZE is not reported: QEMU sets vectors up one at a time and one
 *    more never disturbs the others.
 *  - The MSI-X table is QEMU's own emulation: it sends nothing for a
 *    table write and never passes the guest's messages on. PBA reads come
 *    here and are answered from the vfunc's pending bits.
 *  - DEVICE_RESET resets the vfunc (rule 8) and the config space.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msiv/protocol.h>

#include "vfu-dev.h"

#define PCI_COMMAND          0x04
#define PCI_STATUS           0x06
#define PCI_STATUS_CAP_LIST  0x10
#define PCI_CLASS_PROG       0x09
#define PCI_HEADER_TYPE      0x0e
#define PCI_BAR0             0x10
#define PCI_SUBSYS_VENDOR    0x2c
#define PCI_SUBSYS_ID        0x2e
#define PCI_CAP_PTR          0x34
#define PCI_INTERRUPT_LINE   0x3c
#define PCI_CAP_ID_MSIX      0x11

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t
roundup_pow2(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

int
vfu_dev_init(struct vfu_dev *d, unsigned int nvec, uint16_t vendor,
    uint16_t device, const struct vfu_backend *be, void *arg)
{
	uint8_t *c = d->cfg, *w = d->wmask;
	uint32_t table = 16u * nvec, pba = (nvec + 63u) / 64u * 8u;

	memset(d, 0, sizeof(*d));
	if (nvec == 0 || nvec > MSIV_VECTORS_MAX)
		return -EINVAL;
	d->vec = calloc(nvec, 1);
	if (d->vec == NULL)
		return -ENOMEM;
	d->be = be;
	d->arg = arg;
	d->nvec = nvec;
	/* The table and the PBA on pages of their own, as the PCI spec
	 * advises, in a BAR of a power-of-two size. */
	d->pba_off = (table + 4095u) & ~4095u;
	d->bar_size = roundup_pow2(d->pba_off + ((pba + 4095u) & ~4095u));

	put16(c, vendor);
	put16(c + 2, device);
	put16(c + PCI_STATUS, PCI_STATUS_CAP_LIST);
	/* Class ff (unassigned): no class driver claims it either. */
	c[PCI_CLASS_PROG + 2] = 0xff;
	c[PCI_HEADER_TYPE] = 0;
	put16(c + PCI_SUBSYS_VENDOR, vendor);
	put16(c + PCI_SUBSYS_ID, device);
	c[PCI_CAP_PTR] = VFU_MSIX_CAP;
	/* Memory Space, Bus Master, INTx Disable */
	w[PCI_COMMAND] = 0x06;
	w[PCI_COMMAND + 1] = 0x04;
	/* BAR0: 32-bit memory, not prefetchable; the size bits read 0 */
	put32(w + PCI_BAR0, ~(d->bar_size - 1));
	w[PCI_INTERRUPT_LINE] = 0xff;
	c[VFU_MSIX_CAP] = PCI_CAP_ID_MSIX;
	c[VFU_MSIX_CAP + 1] = 0;
	put16(c + VFU_MSIX_CAP + 2, (uint16_t)(nvec - 1));
	/* MSI-X Enable and Function Mask: kept as written; QEMU emulates
	 * them, and MSI-X is enabled on the vfunc through SET_IRQS, as the
	 * kernel's vfio-pci virtualizes the bits. */
	w[VFU_MSIX_CAP + 3] = 0xc0;
	put32(c + VFU_MSIX_CAP + 4, 0);         /* table: BAR0 + 0 */
	put32(c + VFU_MSIX_CAP + 8, d->pba_off); /* PBA: BAR0 + pba_off */
	memcpy(d->cfg_reset, c, sizeof(d->cfg_reset));
	return 0;
}

void
vfu_dev_free(struct vfu_dev *d)
{
	free(d->vec);
	d->vec = NULL;
}

void
vfu_dev_clear(struct vfu_dev *d)
{
	memcpy(d->cfg, d->cfg_reset, sizeof(d->cfg));
	memset(d->vec, 0, d->nvec);
	d->enabled = 0;
}

static long
vfu_dev_version(uint8_t *out, size_t outmax)
{
	/* No "migration": there is no device state to send. QEMU 11.1
	 * does not block the VM's migration for it all the same, so
	 * msiv-vfu.c refuses the destination (msiv-vfu(1), MIGRATION).
	 * No "write_multiple": one region write per message. */
	static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":16,"
	    "\"max_data_xfer_size\":4096,\"pgsizes\":4096,"
	    "\"max_dma_maps\":65535}}";
	struct vfu_version v = { .major = VFU_MAJOR, .minor = VFU_MINOR };

	if (outmax < sizeof(v) + sizeof(caps))
		return -ENOBUFS;
	memcpy(out, &v, sizeof(v));
	memcpy(out + sizeof(v), caps, sizeof(caps));
	return (long)(sizeof(v) + sizeof(caps));
}

static long
vfu_dev_region_info(const struct vfu_dev *d, uint32_t index, uint8_t *out)
{
	struct vfu_region_info ri = {
		.argsz = sizeof(ri), .index = index,
	};

	if (index == VFU_REGION_BAR0)
		ri.size = d->bar_size;
	else if (index == VFU_REGION_CONFIG)
		ri.size = VFU_CFG_SIZE;
	if (ri.size != 0)
		ri.flags = VFU_REGION_FLAG_READ | VFU_REGION_FLAG_WRITE;
	memcpy(out, &ri, sizeof(ri));
	return sizeof(ri);
}

static long
vfu_dev_irq_info(const struct vfu_dev *d, uint32_t index, uint8_t *out)
{
	struct vfu_irq_info ii = { .argsz = sizeof(ii), .index = index };

	if (index == VFU_IRQ_MSIX) {
		ii.count = d->nvec;
		ii.flags = VFU_IRQ_INFO_EVENTFD | VFU_IRQ_INFO_MASKABLE;
	} else if (index == VFU_IRQ_ERR) {
		/* An error eventfd is accepted and never signalled: without
		 * one QEMU warns that it cannot enable error recovery. */
		ii.count = 1;
		ii.flags = VFU_IRQ_INFO_EVENTFD;
	}
	memcpy(out, &ii, sizeof(ii));
	return sizeof(ii);
}

/* Give the vfunc the mask state the vector should have. */
static int
vfu_dev_sync_mask(struct vfu_dev *d, unsigned int i)
{
	if ((d->vec[i] & VFU_VEC_SETUP) == 0)
		return 0;
	return d->be->mask(d->arg, i, (d->vec[i] &
	    (VFU_VEC_DETACHED | VFU_VEC_MASKED)) != 0);
}

int
vfu_dev_resync(struct vfu_dev *d)
{
	int r = 0;

	if (d->enabled)
		r = d->be->enable(d->arg, 1);
	for (unsigned int i = 0; i < d->nvec && r == 0; i++)
		r = vfu_dev_sync_mask(d, i);
	return r;
}

static int
vfu_dev_reset(struct vfu_dev *d)
{
	int r = d->be->reset(d->arg);

	memset(d->vec, 0, d->nvec);
	d->enabled = 0;
	return r;
}

static int
vfu_dev_trigger(struct vfu_dev *d, const struct vfu_irq_set *s,
    const int *fds, unsigned int nfds)
{
	int r;

	if (s->flags & VFU_IRQ_SET_DATA_BOOL)
		return -EINVAL;
	if (s->count == 0) {
		/* DATA_NONE, count 0: MSI-X disable */
		if ((s->flags & VFU_IRQ_SET_DATA_NONE) == 0)
			return -EINVAL;
		return vfu_dev_reset(d);
	}
	if ((s->flags & VFU_IRQ_SET_DATA_EVENTFD) && !d->enabled) {
		r = d->be->enable(d->arg, 1);
		if (r < 0)
			return r;
		d->enabled = 1;
	}
	for (unsigned int k = 0; k < s->count; k++) {
		unsigned int i = s->start + k;
		int fd = nfds != 0 ? fds[k] : -1;

		if (fd >= 0) {
			r = d->be->attach(d->arg, i, fd,
			    (d->vec[i] & VFU_VEC_SETUP) == 0);
			if (r < 0)
				return r;
			d->vec[i] = (uint8_t)((d->vec[i] | VFU_VEC_SETUP) &
			    ~VFU_VEC_DETACHED);
		} else if (d->vec[i] & VFU_VEC_SETUP)
			d->vec[i] |= VFU_VEC_DETACHED;
		r = vfu_dev_sync_mask(d, i);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
vfu_dev_set_irqs(struct vfu_dev *d, const struct vfu_req *req,
    const int *fds)
{
	const struct vfu_irq_set *s = &req->u.irqs.set;
	int masked, r;

	if (s->index != VFU_IRQ_MSIX) {
		/* Nothing to disable on an index without interrupts; the
		 * error eventfd is let go at once (the function has no
		 * errors to report). */
		if ((s->flags & VFU_IRQ_SET_ACTION_TRIGGER) &&
		    (((s->flags & VFU_IRQ_SET_DATA_NONE) && s->count == 0) ||
		    (s->index == VFU_IRQ_ERR &&
		    (s->flags & VFU_IRQ_SET_DATA_BOOL) == 0 &&
		    (uint64_t)s->start + s->count <= 1)))
			return 0;
		return -EINVAL;
	}
	if ((uint64_t)s->start + s->count > d->nvec)
		return -EINVAL;
	if (s->flags & VFU_IRQ_SET_ACTION_TRIGGER)
		return vfu_dev_trigger(d, s, fds, req->nfds);
	masked = (s->flags & VFU_IRQ_SET_ACTION_MASK) != 0;
	for (unsigned int k = 0; k < s->count; k++) {
		unsigned int i = s->start + k;

		if (req->u.irqs.bools != NULL && req->u.irqs.bools[k] == 0)
			continue;
		if (masked)
			d->vec[i] |= VFU_VEC_MASKED;
		else
			d->vec[i] &= (uint8_t)~VFU_VEC_MASKED;
		r = vfu_dev_sync_mask(d, i);
		if (r < 0)
			return r;
	}
	return 0;
}

static void
vfu_dev_cfg_write(struct vfu_dev *d, uint32_t off, const uint8_t *p,
    uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		uint8_t m = d->wmask[off + k];

		d->cfg[off + k] = (uint8_t)((d->cfg[off + k] & ~m) | (p[k] & m));
	}
}

/* BAR0 reads: the PBA from the vfunc, everything else zero. */
static int
vfu_dev_bar_read(struct vfu_dev *d, uint64_t off, uint32_t n, uint8_t *out)
{
	uint64_t pba_end = d->pba_off + (d->nvec + 63u) / 64u * 8u;

	memset(out, 0, n);
	for (uint64_t q = 0; q * 8 < pba_end - d->pba_off; q++) {
		uint64_t lo = d->pba_off + q * 8, bits;
		int r;

		if (lo + 8 <= off || lo >= off + n)
			continue;
		r = d->be->pba(d->arg, (unsigned int)q, &bits);
		if (r < 0)
			return r;
		for (unsigned int b = 0; b < 8; b++)
			if (lo + b >= off && lo + b < off + n)
				out[lo + b - off] = (uint8_t)(bits >> (8 * b));
	}
	return 0;
}

static long
vfu_dev_region_rw(struct vfu_dev *d, const struct vfu_req *req, uint8_t *out)
{
	const struct vfu_region_rw *rw = &req->u.rw.rw;
	int wr = req->hdr.cmd == VFU_CMD_REGION_WRITE, r;
	uint64_t size = rw->region == VFU_REGION_BAR0 ? d->bar_size :
	    rw->region == VFU_REGION_CONFIG ? VFU_CFG_SIZE : 0;

	if (rw->offset >= size || rw->count > size - rw->offset)
		return -EINVAL;
	memcpy(out, rw, sizeof(*rw));
	if (wr) {
		/* The table is QEMU's and the PBA is read-only: BAR0
		 * writes change nothing. */
		if (rw->region == VFU_REGION_CONFIG)
			vfu_dev_cfg_write(d, (uint32_t)rw->offset,
			    req->u.rw.data, rw->count);
		return sizeof(*rw);
	}
	if (rw->region == VFU_REGION_CONFIG)
		memcpy(out + sizeof(*rw), d->cfg + rw->offset, rw->count);
	else {
		r = vfu_dev_bar_read(d, rw->offset, rw->count,
		    out + sizeof(*rw));
		if (r < 0)
			return r;
	}
	return (long)(sizeof(*rw) + rw->count);
}

long
vfu_dev_handle(struct vfu_dev *d, const struct vfu_req *req, const int *fds,
    uint8_t *out, size_t outmax)
{
	struct vfu_device_info di;
	int r;

	if (outmax < VFU_MSG_MAX)
		return -ENOBUFS;
	switch ((enum vfu_cmd)req->hdr.cmd) {
	case VFU_CMD_VERSION:
		if (req->u.version.major != VFU_MAJOR)
			return -ENOTSUP;
		return vfu_dev_version(out, outmax);
	case VFU_CMD_DMA_MAP:
	case VFU_CMD_DMA_UNMAP:
		/* The function does no DMA: accepted, and any fd closed. */
		return 0;
	case VFU_CMD_DEVICE_GET_INFO:
		di = (struct vfu_device_info){
			.argsz = sizeof(di),
			.flags = VFU_DEVICE_FLAGS_PCI | VFU_DEVICE_FLAGS_RESET,
			.num_regions = VFU_REGION__COUNT,
			.num_irqs = VFU_IRQ__COUNT,
		};
		memcpy(out, &di, sizeof(di));
		return sizeof(di);
	case VFU_CMD_DEVICE_GET_REGION_INFO:
		return vfu_dev_region_info(d, req->u.region_info.index, out);
	case VFU_CMD_DEVICE_GET_IRQ_INFO:
		return vfu_dev_irq_info(d, req->u.irq_info.index, out);
	case VFU_CMD_DEVICE_SET_IRQS:
		r = vfu_dev_set_irqs(d, req, fds);
		return r < 0 ? r : 0;
	case VFU_CMD_REGION_READ:
	case VFU_CMD_REGION_WRITE:
		return vfu_dev_region_rw(d, req, out);
	case VFU_CMD_DEVICE_RESET:
		r = vfu_dev_reset(d);
		memcpy(d->cfg, d->cfg_reset, sizeof(d->cfg));
		return r < 0 ? r : 0;
	case VFU_CMD_DEVICE_GET_REGION_IO_FDS:
	case VFU_CMD_DMA_READ:
	case VFU_CMD_DMA_WRITE:
	case VFU_CMD__COUNT:
		break;
	}
	return -ENOSYS;  /* vfu_decode() let through a command it refuses */
}
