/*
 * The fuzz target of msiv-vfu's vfio-user decoder and function model
 * (vfu/vfu-msg.c, vfu/vfu-dev.c): every input is a VMM's session, run
 * through exactly what msiv-vfu runs between reading a message and
 * writing its reply. The vfunc behind the function is a checking backend
 * that keeps its own picture of what was set up and aborts on any call
 * the function model should never make (a vector out of range, a setup
 * of a vector already set up, a retarget of one that is not, an fd that
 * did not come with the message, a PBA qword past the end).
 *
 * Input framing (doc/vfio-user.md): the first byte picks the function's
 * vector count, then records follow:
 *
 *	nfds:u8  len:u16 (little-endian)  body[len]
 *
 * body is the whole message, header included, arriving with nfds % 17
 * file descriptors. The last record may be short.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msiv/protocol.h>

#include "fuzz.h"
#include "../../vfu/vfu-dev.h"
#include "../../vfu/vfu-msg.h"

#define FAKE_FD0 1000  /* the fds a message "carries" */

static const unsigned int fuzz_nvecs[] = { 1, 16, 64, 65, MSIV_VECTORS_MAX };

struct shadow {
	unsigned int nvec, nfds;
	int enabled;
	uint8_t setup[MSIV_VECTORS_MAX];
};

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "fuzz-vfu: check failed: %s (%s:%d)\n",	\
		    #c, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

static int
sh_enable(void *arg, int on)
{
	struct shadow *s = arg;

	FUZZ_CHECK(on == 1 && !s->enabled);
	s->enabled = 1;
	return 0;
}

static int
sh_reset(void *arg)
{
	struct shadow *s = arg;

	s->enabled = 0;
	memset(s->setup, 0, sizeof(s->setup));
	return 0;
}

static int
sh_attach(void *arg, unsigned int vector, int fd, int first)
{
	struct shadow *s = arg;

	FUZZ_CHECK(vector < s->nvec);
	FUZZ_CHECK(fd >= FAKE_FD0 && fd < FAKE_FD0 + (int)s->nfds);
	FUZZ_CHECK(first == !s->setup[vector]);
	s->setup[vector] = 1;
	return 0;
}

static int
sh_mask(void *arg, unsigned int vector, int masked)
{
	struct shadow *s = arg;

	FUZZ_CHECK(vector < s->nvec && s->setup[vector]);
	FUZZ_CHECK(masked == 0 || masked == 1);
	return 0;
}

static int
sh_pba(void *arg, unsigned int q, uint64_t *bits)
{
	struct shadow *s = arg;

	FUZZ_CHECK(q < (s->nvec + 63) / 64);
	*bits = 0x5555555555555555ull;
	return 0;
}

static const struct vfu_backend fuzz_backend = {
	.enable = sh_enable,
	.reset = sh_reset,
	.attach = sh_attach,
	.mask = sh_mask,
	.pba = sh_pba,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[VFU_MSG_MAX];
	static struct shadow sh;
	int fds[VFU_FDS_MAX];
	struct vfu_dev dev;
	size_t at = 1;
	/* MSIV_FUZZ_TRACE=1: every message and its outcome on stderr. */
	int trace = getenv("MSIV_FUZZ_TRACE") != NULL;

	if (size < 1)
		return 0;
	memset(&sh, 0, sizeof(sh));
	sh.nvec = fuzz_nvecs[data[0] % (sizeof(fuzz_nvecs) /
	    sizeof(fuzz_nvecs[0]))];
	FUZZ_CHECK(vfu_dev_init(&dev, sh.nvec, 0x1234, 0x4d56, &fuzz_backend,
	    &sh) == 0);
	for (unsigned int i = 0; i < VFU_FDS_MAX; i++)
		fds[i] = FAKE_FD0 + (int)i;
	while (size - at >= 3) {
		unsigned int nfds = data[at] % (VFU_FDS_MAX + 1);
		size_t len = (size_t)data[at + 1] | (size_t)data[at + 2] << 8;
		struct vfu_req req;
		char desc[160];
		long n;
		int r;

		at += 3;
		if (len > size - at)
			len = size - at;
		sh.nfds = nfds;
		r = vfu_decode(data + at, len, nfds, &req);
		/* The debug log describes every message, refused or not. */
		vfu_describe(&req, desc, sizeof(desc));
		at += len;
		if (trace && r != 0)
			fprintf(stderr, "fuzz-vfu: %s: refused %d\n", desc, r);
		if (r == VFU_DECODE_DROP)
			break;  /* msiv-vfu closes the connection */
		FUZZ_CHECK(r <= 0);
		if (r < 0)
			continue;
		FUZZ_CHECK(req.nfds == nfds);
		n = vfu_dev_handle(&dev, &req, fds, out, sizeof(out));
		if (trace)
			fprintf(stderr, "fuzz-vfu: %s: %ld\n", desc, n);
		FUZZ_CHECK(n <= (long)VFU_MSG_MAX);
		if (n >= 0 && req.hdr.cmd == VFU_CMD_REGION_READ)
			FUZZ_CHECK((size_t)n == sizeof(struct vfu_region_rw) +
			    req.u.rw.rw.count);
		FUZZ_CHECK(dev.enabled == sh.enabled);
	}
	vfu_dev_free(&dev);
	return 0;
}
