/*
 * The vfio-user wire format as msiv-vfu serves it: QEMU's
 * docs/interop/vfio-user.rst, version 0.0, over a SOCK_STREAM Unix
 * socket. Every message is a 16-byte header and a payload, little endian
 * (msiv runs on x86-64 only, like the vfio backend), with any file
 * descriptors attached to it as SCM_RIGHTS. The payload structs follow
 * the kernel's VFIO ioctl structs they are named after.
 */
#ifndef MSIV_VFU_PROTO_H
#define MSIV_VFU_PROTO_H

#include <stdint.h>

#define VFU_MAJOR 0
#define VFU_MINOR 0

enum vfu_cmd {
	VFU_CMD_VERSION = 1,
	VFU_CMD_DMA_MAP = 2,
	VFU_CMD_DMA_UNMAP = 3,
	VFU_CMD_DEVICE_GET_INFO = 4,
	VFU_CMD_DEVICE_GET_REGION_INFO = 5,
	VFU_CMD_DEVICE_GET_REGION_IO_FDS = 6,
	VFU_CMD_DEVICE_GET_IRQ_INFO = 7,
	VFU_CMD_DEVICE_SET_IRQS = 8,
	VFU_CMD_REGION_READ = 9,
	VFU_CMD_REGION_WRITE = 10,
	VFU_CMD_DMA_READ = 11,
	VFU_CMD_DMA_WRITE = 12,
	VFU_CMD_DEVICE_RESET = 13,
	VFU_CMD__COUNT
};

/* Header flags: the low four bits are the type. */
#define VFU_TYPE_MASK    0xfu
#define VFU_TYPE_REQUEST 0x0u
#define VFU_TYPE_REPLY   0x1u
#define VFU_F_NO_REPLY   0x10u
#define VFU_F_ERROR      0x20u

struct vfu_hdr {
	uint16_t id;
	uint16_t cmd;
	uint32_t size;   /* the whole message, header included */
	uint32_t flags;
	uint32_t error;  /* replies with VFU_F_ERROR: a positive errno */
};
_Static_assert(sizeof(struct vfu_hdr) == 16, "vfu_hdr");

struct vfu_version {
	uint16_t major;
	uint16_t minor;
	/* then a NUL-terminated JSON object */
};
_Static_assert(sizeof(struct vfu_version) == 4, "vfu_version");

struct vfu_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t offset;
	uint64_t iova;
	uint64_t size;
};
_Static_assert(sizeof(struct vfu_dma_map) == 32, "vfu_dma_map");

struct vfu_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t iova;
	uint64_t size;
	/* then a bitmap when flags ask for one: msiv-vfu refuses those */
};
_Static_assert(sizeof(struct vfu_dma_unmap) == 24, "vfu_dma_unmap");

/* struct vfio_device_info */
struct vfu_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};
_Static_assert(sizeof(struct vfu_device_info) == 16, "vfu_device_info");
#define VFU_DEVICE_FLAGS_RESET 0x1u
#define VFU_DEVICE_FLAGS_PCI   0x2u

/* struct vfio_region_info */
struct vfu_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
};
_Static_assert(sizeof(struct vfu_region_info) == 32, "vfu_region_info");
#define VFU_REGION_FLAG_READ  0x1u
#define VFU_REGION_FLAG_WRITE 0x2u

/* VFIO's PCI region and IRQ indices */
enum vfu_region {
	VFU_REGION_BAR0 = 0,
	VFU_REGION_ROM = 6,
	VFU_REGION_CONFIG = 7,
	VFU_REGION_VGA = 8,
	VFU_REGION__COUNT = 9
};
enum vfu_irq {
	VFU_IRQ_INTX = 0,
	VFU_IRQ_MSI = 1,
	VFU_IRQ_MSIX = 2,
	VFU_IRQ_ERR = 3,
	VFU_IRQ_REQ = 4,
	VFU_IRQ__COUNT = 5
};

/* struct vfio_irq_info */
struct vfu_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
};
_Static_assert(sizeof(struct vfu_irq_info) == 16, "vfu_irq_info");
#define VFU_IRQ_INFO_EVENTFD  0x1u
#define VFU_IRQ_INFO_MASKABLE 0x2u
#define VFU_IRQ_INFO_AUTOMASKED 0x4u
#define VFU_IRQ_INFO_NORESIZE 0x8u

/* struct vfio_irq_set, without its data: eventfds come as SCM_RIGHTS */
struct vfu_irq_set {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t start;
	uint32_t count;
};
_Static_assert(sizeof(struct vfu_irq_set) == 20, "vfu_irq_set");
#define VFU_IRQ_SET_DATA_NONE      0x1u
#define VFU_IRQ_SET_DATA_BOOL      0x2u
#define VFU_IRQ_SET_DATA_EVENTFD   0x4u
#define VFU_IRQ_SET_DATA_MASK      0x7u
#define VFU_IRQ_SET_ACTION_MASK    0x8u
#define VFU_IRQ_SET_ACTION_UNMASK  0x10u
#define VFU_IRQ_SET_ACTION_TRIGGER 0x20u
#define VFU_IRQ_SET_ACTION_MASK_ALL 0x38u

/* REGION_READ / REGION_WRITE */
struct vfu_region_rw {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	/* then count bytes: a write's data, a read reply's data */
};
_Static_assert(sizeof(struct vfu_region_rw) == 16, "vfu_region_rw");

/* The most fds one message may carry (advertised as max_msg_fds), and the
 * largest region access (max_data_xfer_size); a larger message closes the
 * connection. */
#define VFU_FDS_MAX      16u
#define VFU_XFER_MAX     4096u
#define VFU_MSG_MAX      (sizeof(struct vfu_hdr) + 512u + VFU_XFER_MAX)

#endif /* MSIV_VFU_PROTO_H */
