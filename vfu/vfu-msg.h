/*
 * The vfio-user message decoder and validator: a pure function over one
 * message's bytes and the number of fds that came with it, so that the
 * fuzz target drives exactly what msiv-vfu runs. Everything the device
 * model (vfu-dev.c) may rely on is checked here: the header, each
 * command's exact payload size, its fd count, and every field that does
 * not depend on the device (indices, flag combinations, overflow). Region
 * bounds depend on the device and are checked there.
 */
#ifndef MSIV_VFU_MSG_H
#define MSIV_VFU_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "vfu-proto.h"

/* vfu_decode()'s verdict on a message the stream can no longer be
 * trusted after (its header lies): close the connection. */
#define VFU_DECODE_DROP 1

struct vfu_req {
	struct vfu_hdr hdr;
	unsigned int nfds;
	union {
		struct vfu_version version;  /* capabilities: a JSON object */
		struct vfu_dma_map dma_map;
		struct vfu_dma_unmap dma_unmap;
		struct vfu_device_info info;
		struct vfu_region_info region_info;
		struct vfu_irq_info irq_info;
		struct {
			struct vfu_irq_set set;
			const uint8_t *bools; /* DATA_BOOL: count bytes */
		} irqs;
		struct {
			struct vfu_region_rw rw;
			const uint8_t *data;  /* REGION_WRITE: count bytes */
		} rw;
	} u;
};

/*
 * Decode and validate the message buf[0..len) that arrived with nfds
 * file descriptors. Returns 0 (req filled in; pointers in it point into
 * buf), a negative errno to reply with (req->hdr is valid), or
 * VFU_DECODE_DROP. Never reads outside buf.
 */
int vfu_decode(const uint8_t *buf, size_t len, unsigned int nfds,
    struct vfu_req *req);

/* The command's name, for the debug log ("?" if unknown). */
const char *vfu_cmd_name(unsigned int cmd);

/* One line describing a decoded request, for the debug log. */
void vfu_describe(const struct vfu_req *req, char *out, size_t outlen);

#endif /* MSIV_VFU_MSG_H */
