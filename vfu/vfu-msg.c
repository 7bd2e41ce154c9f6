/*
 * Decoding and validating vfio-user requests (vfu-msg.h). The checks run
 * in a fixed order: header, then the command's payload size, then its fd
 * count, then its fields. A VMM is not trusted: a message that fails any
 * check gets an error reply (or, if its header lies, the connection is
 * closed), and nothing past this point sees it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "vfu-msg.h"

static const char *const vfu_cmd_names[VFU_CMD__COUNT] = {
	[VFU_CMD_VERSION] = "VERSION",
	[VFU_CMD_DMA_MAP] = "DMA_MAP",
	[VFU_CMD_DMA_UNMAP] = "DMA_UNMAP",
	[VFU_CMD_DEVICE_GET_INFO] = "DEVICE_GET_INFO",
	[VFU_CMD_DEVICE_GET_REGION_INFO] = "DEVICE_GET_REGION_INFO",
	[VFU_CMD_DEVICE_GET_REGION_IO_FDS] = "DEVICE_GET_REGION_IO_FDS",
	[VFU_CMD_DEVICE_GET_IRQ_INFO] = "DEVICE_GET_IRQ_INFO",
	[VFU_CMD_DEVICE_SET_IRQS] = "DEVICE_SET_IRQS",
	[VFU_CMD_REGION_READ] = "REGION_READ",
	[VFU_CMD_REGION_WRITE] = "REGION_WRITE",
	[VFU_CMD_DMA_READ] = "DMA_READ",
	[VFU_CMD_DMA_WRITE] = "DMA_WRITE",
	[VFU_CMD_DEVICE_RESET] = "DEVICE_RESET",
};

const char *
vfu_cmd_name(unsigned int cmd)
{
	if (cmd < VFU_CMD__COUNT && vfu_cmd_names[cmd] != NULL)
		return vfu_cmd_names[cmd];
	return "?";
}

/* The capabilities must be one JSON object, NUL-terminated, with nothing
 * after it; its members are the client's limits, none of which binds a
 * server that sends no fds and does no DMA. */
static int
vfu_check_caps(const char *s, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;
	int ok;

	if (len == 0 || s[len - 1] != '\0' || strlen(s) != len - 1)
		return -EINVAL;
	tok = json_tokener_new();
	if (tok == NULL)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, s, (int)len);
	ok = o != NULL && json_object_is_type(o, json_type_object) &&
	    json_tokener_get_error(tok) == json_tokener_success;
	json_object_put(o);
	json_tokener_free(tok);
	return ok ? 0 : -EINVAL;
}

/* Exactly one bit of the data field and one of the action field. */
static int
vfu_check_irq_flags(uint32_t f)
{
	uint32_t data = f & VFU_IRQ_SET_DATA_MASK;
	uint32_t act = f & VFU_IRQ_SET_ACTION_MASK_ALL;

	if ((f & ~(VFU_IRQ_SET_DATA_MASK | VFU_IRQ_SET_ACTION_MASK_ALL)) != 0 ||
	    data == 0 || (data & (data - 1)) != 0 || act == 0 ||
	    (act & (act - 1)) != 0)
		return -EINVAL;
	/* An eventfd to mask or unmask by is INTx's resampling: not here. */
	if (data == VFU_IRQ_SET_DATA_EVENTFD &&
	    act != VFU_IRQ_SET_ACTION_TRIGGER)
		return -EINVAL;
	return 0;
}

int
vfu_decode(const uint8_t *buf, size_t len, unsigned int nfds,
    struct vfu_req *req)
{
	const uint8_t *p = buf + sizeof(struct vfu_hdr);
	size_t plen;
	uint32_t want_fds = 0, max_fds = 0;
	int r;

	memset(req, 0, sizeof(*req));
	if (len < sizeof(struct vfu_hdr))
		return VFU_DECODE_DROP;
	memcpy(&req->hdr, buf, sizeof(req->hdr));
	req->nfds = nfds;
	if (req->hdr.size != len || len > VFU_MSG_MAX ||
	    (req->hdr.flags & VFU_TYPE_MASK) != VFU_TYPE_REQUEST)
		return VFU_DECODE_DROP;
	if ((req->hdr.flags & ~(uint32_t)VFU_F_NO_REPLY) != 0 ||
	    req->hdr.error != 0)
		return -EINVAL;
	plen = len - sizeof(struct vfu_hdr);

	/* The payload size of each command, then its fds. */
	switch (req->hdr.cmd) {
	case VFU_CMD_VERSION:
		if (plen < sizeof(req->u.version) + 1)
			return -EINVAL;
		memcpy(&req->u.version, p, sizeof(req->u.version));
		r = vfu_check_caps((const char *)p + sizeof(req->u.version),
		    plen - sizeof(req->u.version));
		if (r < 0)
			return r;
		break;
	case VFU_CMD_DMA_MAP:
		if (plen != sizeof(req->u.dma_map))
			return -EINVAL;
		memcpy(&req->u.dma_map, p, plen);
		if (req->u.dma_map.argsz < sizeof(req->u.dma_map))
			return -EINVAL;
		max_fds = 1;  /* the guest memory's fd, if it is shared */
		break;
	case VFU_CMD_DMA_UNMAP:
		if (plen != sizeof(req->u.dma_unmap))
			return -EINVAL;
		memcpy(&req->u.dma_unmap, p, plen);
		if (req->u.dma_unmap.argsz < sizeof(req->u.dma_unmap))
			return -EINVAL;
		/* bit 0 asks for a dirty bitmap (migration): none here */
		if ((req->u.dma_unmap.flags & ~0x2u) != 0)
			return -ENOTSUP;
		break;
	case VFU_CMD_DEVICE_GET_INFO:
		if (plen != sizeof(req->u.info))
			return -EINVAL;
		memcpy(&req->u.info, p, plen);
		if (req->u.info.argsz < sizeof(req->u.info))
			return -EINVAL;
		break;
	case VFU_CMD_DEVICE_GET_REGION_INFO:
		if (plen != sizeof(req->u.region_info))
			return -EINVAL;
		memcpy(&req->u.region_info, p, plen);
		if (req->u.region_info.argsz < sizeof(req->u.region_info) ||
		    req->u.region_info.index >= VFU_REGION__COUNT)
			return -EINVAL;
		break;
	case VFU_CMD_DEVICE_GET_IRQ_INFO:
		if (plen != sizeof(req->u.irq_info))
			return -EINVAL;
		memcpy(&req->u.irq_info, p, plen);
		if (req->u.irq_info.argsz < sizeof(req->u.irq_info) ||
		    req->u.irq_info.index >= VFU_IRQ__COUNT)
			return -EINVAL;
		break;
	case VFU_CMD_DEVICE_SET_IRQS: {
		struct vfu_irq_set *s = &req->u.irqs.set;
		size_t extra;

		if (plen < sizeof(*s))
			return -EINVAL;
		memcpy(s, p, sizeof(*s));
		r = vfu_check_irq_flags(s->flags);
		if (r < 0)
			return r;
		if (s->argsz < sizeof(*s) || s->index >= VFU_IRQ__COUNT ||
		    (uint64_t)s->start + s->count > UINT32_MAX)
			return -EINVAL;
		extra = (s->flags & VFU_IRQ_SET_DATA_BOOL) ? s->count : 0;
		if (plen != sizeof(*s) + extra)
			return -EINVAL;
		req->u.irqs.bools = extra != 0 ? p + sizeof(*s) : NULL;
		if (s->flags & VFU_IRQ_SET_DATA_EVENTFD) {
			/* Either one fd for each vector in the range, or
			 * none at all: every one of them is fd -1. */
			if (s->count > VFU_FDS_MAX ||
			    (nfds != 0 && nfds != s->count))
				return -EINVAL;
			want_fds = max_fds = nfds;
		}
		break;
	}
	case VFU_CMD_REGION_READ:
	case VFU_CMD_REGION_WRITE: {
		struct vfu_region_rw *rw = &req->u.rw.rw;
		size_t extra;

		if (plen < sizeof(*rw))
			return -EINVAL;
		memcpy(rw, p, sizeof(*rw));
		if (rw->count == 0 || rw->count > VFU_XFER_MAX ||
		    rw->region >= VFU_REGION__COUNT ||
		    rw->offset > UINT64_MAX - rw->count)
			return -EINVAL;
		extra = req->hdr.cmd == VFU_CMD_REGION_WRITE ? rw->count : 0;
		if (plen != sizeof(*rw) + extra)
			return -EINVAL;
		req->u.rw.data = extra != 0 ? p + sizeof(*rw) : NULL;
		break;
	}
	case VFU_CMD_DEVICE_RESET:
		if (plen != 0)
			return -EINVAL;
		break;
	case VFU_CMD_DEVICE_GET_REGION_IO_FDS:
	case VFU_CMD_DMA_READ:
	case VFU_CMD_DMA_WRITE:
		/* No ioeventfds; DMA_READ/WRITE go from server to client. */
		return -ENOTSUP;
	default:
		return -ENOSYS;
	}
	if (nfds < want_fds || nfds > max_fds)
		return -EINVAL;
	return 0;
}

void
vfu_describe(const struct vfu_req *r, char *out, size_t outlen)
{
	const struct vfu_irq_set *s = &r->u.irqs.set;
	const char *data, *act;
	int n;

	n = snprintf(out, outlen, "#%u %s", r->hdr.id, vfu_cmd_name(r->hdr.cmd));
	if (n < 0 || (size_t)n >= outlen)
		return;
	out += n;
	outlen -= (size_t)n;
	switch (r->hdr.cmd) {
	case VFU_CMD_VERSION:
		snprintf(out, outlen, " %u.%u", r->u.version.major,
		    r->u.version.minor);
		break;
	case VFU_CMD_DMA_MAP:
		snprintf(out, outlen, " iova 0x%llx size 0x%llx fds %u",
		    (unsigned long long)r->u.dma_map.iova,
		    (unsigned long long)r->u.dma_map.size, r->nfds);
		break;
	case VFU_CMD_DMA_UNMAP:
		snprintf(out, outlen, " iova 0x%llx size 0x%llx",
		    (unsigned long long)r->u.dma_unmap.iova,
		    (unsigned long long)r->u.dma_unmap.size);
		break;
	case VFU_CMD_DEVICE_GET_REGION_INFO:
		snprintf(out, outlen, " index %u", r->u.region_info.index);
		break;
	case VFU_CMD_DEVICE_GET_IRQ_INFO:
		snprintf(out, outlen, " index %u", r->u.irq_info.index);
		break;
	case VFU_CMD_DEVICE_SET_IRQS:
		data = (s->flags & VFU_IRQ_SET_DATA_NONE) ? "DATA_NONE" :
		    (s->flags & VFU_IRQ_SET_DATA_BOOL) ? "DATA_BOOL" :
		    "DATA_EVENTFD";
		act = (s->flags & VFU_IRQ_SET_ACTION_MASK) ? "MASK" :
		    (s->flags & VFU_IRQ_SET_ACTION_UNMASK) ? "UNMASK" :
		    "TRIGGER";
		snprintf(out, outlen, " index %u %s|%s start %u count %u fds %u",
		    s->index, act, data, s->start, s->count, r->nfds);
		break;
	case VFU_CMD_REGION_READ:
	case VFU_CMD_REGION_WRITE:
		/* data is NULL when the message was refused */
		if (r->u.rw.data != NULL && r->u.rw.rw.count <= 8) {
			uint64_t v = 0;

			memcpy(&v, r->u.rw.data, r->u.rw.rw.count);
			snprintf(out, outlen, " region %u offset 0x%llx count %u "
			    "value 0x%llx%s", r->u.rw.rw.region,
			    (unsigned long long)r->u.rw.rw.offset,
			    r->u.rw.rw.count, (unsigned long long)v,
			    (r->hdr.flags & VFU_F_NO_REPLY) ? " posted" : "");
		} else
			snprintf(out, outlen, " region %u offset 0x%llx count %u",
			    r->u.rw.rw.region,
			    (unsigned long long)r->u.rw.rw.offset,
			    r->u.rw.rw.count);
		break;
	default:
		break;
	}
}
