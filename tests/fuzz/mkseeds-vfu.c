/*
 * mkseeds-vfu DIR: write the seed corpus of the msiv-vfu fuzz target
 * (fuzz-vfu.c, whose header describes the framing) into DIR: a QEMU
 * session as QEMU 11.1.3 sends it (doc/vfio-user.md), the MSI-X life
 * cycle with what QEMU never sends, PBA reads on a 2048-vector function,
 * and malformed messages. make vfu-fuzz-seeds writes tests/fuzz/vfu-corpus.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "../../vfu/vfu-proto.h"

static uint8_t buf[65536];
static size_t len;
static uint16_t id;

/* One record: the message cmd with payload p[0..n) and nfds fds. */
static void
rec(unsigned int nfds, uint16_t cmd, const void *p, size_t n)
{
	struct vfu_hdr h = { .id = id++, .cmd = cmd,
	    .size = (uint32_t)(sizeof(h) + n) };
	size_t total = sizeof(h) + n;

	buf[len++] = (uint8_t)nfds;
	buf[len++] = (uint8_t)total;
	buf[len++] = (uint8_t)(total >> 8);
	memcpy(buf + len, &h, sizeof(h));
	if (n > 0)
		memcpy(buf + len + sizeof(h), p, n);
	len += total;
}

/* A record whose bytes are given as they are (a bad header). */
static void
raw(unsigned int nfds, const void *p, size_t n)
{
	buf[len++] = (uint8_t)nfds;
	buf[len++] = (uint8_t)n;
	buf[len++] = (uint8_t)(n >> 8);
	memcpy(buf + len, p, n);
	len += n;
}

static void
irqs(unsigned int nfds, uint32_t flags, uint32_t index, uint32_t start,
    uint32_t count)
{
	struct vfu_irq_set s = { .argsz = sizeof(s), .flags = flags,
	    .index = index, .start = start, .count = count };

	rec(nfds, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s));
}

static void
rd(uint32_t region, uint64_t off, uint32_t n)
{
	struct vfu_region_rw rw = { .offset = off, .region = region,
	    .count = n };

	rec(0, VFU_CMD_REGION_READ, &rw, sizeof(rw));
}

static void
wr(uint32_t region, uint64_t off, uint32_t n, uint32_t v)
{
	uint8_t b[sizeof(struct vfu_region_rw) + 4];
	struct vfu_region_rw rw = { .offset = off, .region = region,
	    .count = n };

	memcpy(b, &rw, sizeof(rw));
	memcpy(b + sizeof(rw), &v, 4);
	rec(0, VFU_CMD_REGION_WRITE, b, sizeof(rw) + n);
}

static void
hello(void)
{
	static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":16,"
	    "\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"
	    "\"max_dma_maps\":65535,\"migration\":{\"pgsize\":4096},"
	    "\"write_multiple\":true}}";
	uint8_t b[4 + sizeof(caps)] = { 0 };

	memcpy(b + 4, caps, sizeof(caps));
	rec(0, VFU_CMD_VERSION, b, sizeof(b));
}

static int
emit(const char *dir, const char *name, uint8_t nvec_pick)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wbe");
	if (f == NULL || fwrite(&nvec_pick, 1, 1, f) != 1 ||
	    fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	printf("%s\n", path);
	len = 0;
	id = 0;
	return 0;
}

int
main(int argc, char **argv)
{
	const uint32_t T = VFU_IRQ_SET_ACTION_TRIGGER,
	    E = VFU_IRQ_SET_DATA_EVENTFD, N = VFU_IRQ_SET_DATA_NONE;
	struct vfu_device_info di = { .argsz = sizeof(di) };
	struct vfu_region_info ri = { .argsz = sizeof(ri) };
	struct vfu_irq_info ii = { .argsz = sizeof(ii) };
	struct vfu_dma_map dm = { .argsz = sizeof(dm), .iova = 0xc0000,
	    .size = 0x1ff40000 };
	struct vfu_dma_unmap du = { .argsz = sizeof(du), .iova = 0xc0000,
	    .size = 0x1ff40000 };
	struct vfu_hdr h;
	int st = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds-vfu DIR\n");
		return 2;
	}

	/* QEMU's start-up, as observed (16 vectors). */
	hello();
	rec(0, VFU_CMD_DMA_MAP, &dm, sizeof(dm));
	rec(0, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di));
	for (uint32_t i = 0; i < 7; i++) {
		ri.index = i == 6 ? 7 : i;
		rec(0, VFU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri));
	}
	ii.index = 3;
	rec(0, VFU_CMD_DEVICE_GET_IRQ_INFO, &ii, sizeof(ii));
	ii.index = 2;
	rec(0, VFU_CMD_DEVICE_GET_IRQ_INFO, &ii, sizeof(ii));
	rd(7, 0, 256);
	wr(7, 0x30, 4, 0xfffff800);
	irqs(1, T | E, VFU_IRQ_ERR, 0, 1);
	rec(0, VFU_CMD_DEVICE_RESET, NULL, 0);
	wr(7, 0x10, 4, 0xffffffff);
	rd(7, 0x10, 4);
	wr(7, 0x10, 4, 0xfe000000);
	wr(7, 0x04, 2, 0x0006);
	rec(1, VFU_CMD_DMA_MAP, &dm, sizeof(dm));
	rec(0, VFU_CMD_DMA_UNMAP, &du, sizeof(du));
	st |= emit(argv[1], "qemu-boot", 1);

	/* The MSI-X life cycle: QEMU's enable, unmasks, a 6.1 guest's
	 * regrowth, then what QEMU never sends (16 vectors). */
	hello();
	wr(7, 0x42, 2, 0xc00f);
	irqs(0, T | E, VFU_IRQ_MSIX, 0, 1);
	wr(7, 0x42, 2, 0x800f);
	for (uint32_t i = 0; i < 4; i++)
		irqs(1, T | E, VFU_IRQ_MSIX, i, 1);
	irqs(0, T | N, VFU_IRQ_MSIX, 0, 0);
	irqs(4, T | E, VFU_IRQ_MSIX, 0, 4);
	irqs(1, T | E, VFU_IRQ_MSIX, 0, 1);       /* retarget */
	irqs(0, T | E, VFU_IRQ_MSIX, 3, 1);       /* detach, fd -1 */
	irqs(0, T | N, VFU_IRQ_MSIX, 2, 1);       /* detach, DATA_NONE */
	irqs(0, VFU_IRQ_SET_ACTION_MASK | N, VFU_IRQ_MSIX, 0, 16);
	irqs(0, VFU_IRQ_SET_ACTION_UNMASK | N, VFU_IRQ_MSIX, 1, 1);
	{
		uint8_t b[sizeof(struct vfu_irq_set) + 4];
		struct vfu_irq_set s = { .argsz = sizeof(b),
		    .flags = VFU_IRQ_SET_ACTION_MASK | VFU_IRQ_SET_DATA_BOOL,
		    .index = VFU_IRQ_MSIX, .start = 0, .count = 4 };

		memcpy(b, &s, sizeof(s));
		memcpy(b + sizeof(s), "\1\0\1\0", 4);
		rec(0, VFU_CMD_DEVICE_SET_IRQS, b, sizeof(b));
	}
	irqs(1, T | E, VFU_IRQ_MSIX, 3, 1);       /* re-attach */
	rd(0, 0x1000, 8);
	rd(0, 0x1000, 4);
	rd(0, 0x0, 16);
	wr(0, 0x1000, 4, 0xffffffff);
	irqs(0, T | N, VFU_IRQ_MSIX, 0, 0);
	irqs(0, T | N, VFU_IRQ_INTX, 0, 0);
	rec(0, VFU_CMD_DEVICE_RESET, NULL, 0);
	st |= emit(argv[1], "msix-lifecycle", 1);

	/* 2048 vectors: PBA reads over several qwords, the last vector. */
	hello();
	irqs(16, T | E, VFU_IRQ_MSIX, 2032, 16);
	rd(0, 0x8000, 256);
	rd(0, 0x80fc, 4);
	rd(0, 0x8000 + 248, 8);
	irqs(0, VFU_IRQ_SET_ACTION_MASK | N, VFU_IRQ_MSIX, 0, 2048);
	st |= emit(argv[1], "pba-2048", 4);

	/* Malformed: each gets an error reply, the last closes. */
	hello();
	rec(0, 99, NULL, 0);
	ri.index = 9;
	rec(0, VFU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri));
	rec(0, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di) - 4);
	rd(7, 252, 8);
	rd(0, UINT64_MAX - 1, 4);
	rd(1, 0, 4);
	{
		/* data shorter than its count */
		uint8_t b[sizeof(struct vfu_region_rw) + 4] = { 0 };
		struct vfu_region_rw rw = { .region = 7, .count = 8 };

		memcpy(b, &rw, sizeof(rw));
		rec(0, VFU_CMD_REGION_WRITE, b, sizeof(b));
	}
	irqs(2, T | E, VFU_IRQ_MSIX, 15, 2);
	irqs(2, T | E, VFU_IRQ_MSIX, 0, 3);
	irqs(1, VFU_IRQ_SET_ACTION_MASK | E, VFU_IRQ_MSIX, 0, 1);
	irqs(0, VFU_IRQ_SET_ACTION_MASK | VFU_IRQ_SET_ACTION_UNMASK | N,
	    VFU_IRQ_MSIX, 0, 1);
	irqs(0, T | N, VFU_IRQ_MSIX, 0xffffffff, 2);
	rec(3, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di));
	rec(0, VFU_CMD_VERSION, "\0\0\0\0{\"a\"", 8);
	h = (struct vfu_hdr){ .cmd = VFU_CMD_DEVICE_RESET, .size = 8 };
	raw(0, &h, sizeof(h));
	st |= emit(argv[1], "malformed", 1);
	return st;
}
