/*
 * The seed corpus of the fuzz target: valid message sequences in its
 * framing (fuzz.h), one file per scenario, written into the directory
 * given. The corpus in tests/fuzz/corpus/ is this program's output
 * (make fuzz-seeds writes it again; run-corpus.sh checks it is current).
 *
 * Every seed starts as a client does (HELLO) unless it is about what
 * happens without; typed requests use FUZZ_F_HDR | FUZZ_F_EXACT, and
 * requests that name a vfunc use FUZZ_F_HANDLE with the handle's number
 * (the order of the VFUNC_OPEN replies) in the vfunc field. Devices are
 * fresh at the start of every input, so sim0's slots are predictable: the
 * first vfunc opened starts at slot 0.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"

#define SEED_MAX 16384
#define TYPED (FUZZ_F_HDR | FUZZ_F_EXACT)
#define H(n) ((uint64_t)(n))   /* handle number n (FUZZ_F_HANDLE) */
#define ADDR 0xfee00000ull
#define DATA 0x4021u

static unsigned char seed[SEED_MAX];
static size_t seed_len;
static unsigned int seed_b;   /* records go to session B (FUZZ_LEN_B) */
static const char *out_dir;
static int nseeds;

/* One record: len, flags, body. */
static void
rec(unsigned int flags, const void *body, size_t len)
{
	size_t l = len | (seed_b ? FUZZ_LEN_B : 0);

	if (seed_len + FUZZ_REC_HDR + len > sizeof(seed) ||
	    len > FUZZ_LEN_MASK) {
		fprintf(stderr, "mkseeds: seed too long\n");
		exit(1);
	}
	seed[seed_len++] = (unsigned char)(l & 0xff);
	seed[seed_len++] = (unsigned char)(l >> 8);
	seed[seed_len++] = (unsigned char)flags;
	if (len > 0)
		memcpy(seed + seed_len, body, len);
	seed_len += len;
}

/* A request of opcode op with the harness's header (FUZZ_F_HDR): the
 * payload is given in host order and written in wire order. */
static void
req(unsigned int flags, unsigned int op, const void *payload, size_t len)
{
	const struct msiv_opinfo *oi = msiv_proto_op(op);
	unsigned char body[1 + 2 * MSIV_MSG_MAX];

	if (len > sizeof(body) - 1)
		exit(1);
	body[0] = (unsigned char)op;
	if (len > 0)
		memcpy(body + 1, payload, len);
	if (oi != NULL && len == oi->req_len)
		msiv_swap(oi->req_layout, body + 1, len);
	rec(flags | FUZZ_F_HDR, body, 1 + len);
}

static void
done(const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	if ((f = fopen(path, "wbe")) == NULL ||
	    fwrite(seed, 1, seed_len, f) != seed_len || fclose(f) != 0) {
		fprintf(stderr, "mkseeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	seed_len = 0;
	seed_b = 0;
	nseeds++;
}

/* What follows goes to session A (the admin) or B (tenant1). */
static void
as_a(void)
{
	seed_b = 0;
}

static void
as_b(void)
{
	seed_b = 1;
}

/* --- requests ---------------------------------------------------------- */

static void
hello_full(uint32_t vmin, uint32_t vmax, uint32_t reserved, const char *tenant)
{
	struct msiv_hello_req rq = {
		.version_min = vmin, .version_max = vmax, .reserved = reserved,
	};

	memcpy(rq.tenant, tenant, strlen(tenant));
	req(TYPED, MSIV_OP_HELLO, &rq, sizeof(rq));
}

static void
hello(void)
{
	hello_full(1, 1, 0, "fuzz");
}

static void
simple(unsigned int flags, unsigned int op)
{
	req(flags | TYPED, op, NULL, 0);
}

static void
list(unsigned int flags, unsigned int op, uint64_t vfunc, uint32_t cursor)
{
	struct msiv_list_req rq = { .vfunc = vfunc, .cursor = cursor };

	req(flags | TYPED, op, &rq, sizeof(rq));
}

static void
vopen(unsigned int flags, const char *dev, uint32_t nvec, uint32_t policy)
{
	struct msiv_vfunc_open_req rq = { .nvec = nvec, .policy = policy };

	memcpy(rq.device, dev, strlen(dev));
	req(flags | TYPED, MSIV_OP_VFUNC_OPEN, &rq, sizeof(rq));
}

/* VFUNC_CLOSE, _ENABLE, _FMASK, _RESET on handle number h. */
static void
vfunc(unsigned int flags, unsigned int op, uint64_t h, uint32_t value)
{
	struct msiv_vfunc_req rq = { .vfunc = h, .value = value };

	req(flags | TYPED | FUZZ_F_HANDLE, op, &rq, sizeof(rq));
}

/* VEC_MASK, _UNMASK, _FREE, _QUERY. */
static void
vec(unsigned int flags, unsigned int op, uint64_t h, uint32_t vector)
{
	struct msiv_vec_req rq = { .vfunc = h, .vector = vector };

	req(flags | TYPED | FUZZ_F_HANDLE, op, &rq, sizeof(rq));
}

/* VEC_SETUP with an eventfd (fds: another FUZZ_FDS_*). */
static void
setup(unsigned int fds, uint64_t h, uint32_t vector, uint32_t flags,
    uint64_t addr, uint32_t data)
{
	struct msiv_vec_setup_req rq = {
		.vfunc = h, .vector = vector, .flags = flags, .addr = addr,
		.data = data,
	};

	req(fds | TYPED | FUZZ_F_HANDLE, MSIV_OP_VEC_SETUP, &rq, sizeof(rq));
}

static void
retarget(unsigned int fds, uint64_t h, uint32_t vector, uint32_t flags,
    uint64_t addr, uint32_t data)
{
	struct msiv_vec_retarget_req rq = {
		.vfunc = h, .vector = vector, .flags = flags, .addr = addr,
		.data = data,
	};

	req(fds | TYPED | FUZZ_F_HANDLE, MSIV_OP_VEC_RETARGET, &rq,
	    sizeof(rq));
}

static void
table(unsigned int op, uint64_t h, uint32_t offset, uint32_t size,
    uint64_t value)
{
	struct msiv_table_req rq = {
		.vfunc = h, .offset = offset, .size = size, .value = value,
	};

	req(TYPED | FUZZ_F_HANDLE, op, &rq, sizeof(rq));
}

static void
sim(unsigned int op, const char *dev, uint32_t slot, uint32_t count)
{
	struct msiv_sim_req rq = { .slot = slot, .count = count };

	memcpy(rq.device, dev, strlen(dev));
	req(TYPED, op, &rq, sizeof(rq));
}

static void
attach(const char *name, const char *backend, const char *address,
    uint32_t slots, uint32_t policy, uint32_t flags)
{
	struct msiv_attach_req rq = {
		.slots = slots, .policy = policy, .flags = flags,
	};

	memcpy(rq.name, name, strlen(name));
	memcpy(rq.backend, backend, strlen(backend));
	memcpy(rq.address, address, strlen(address));
	req(TYPED, MSIV_OP_DEVICE_ATTACH, &rq, sizeof(rq));
}

static void
detach(const char *name, uint32_t flags)
{
	struct msiv_detach_req rq = { .flags = flags };

	memcpy(rq.name, name, strlen(name));
	req(TYPED, MSIV_OP_DEVICE_DETACH, &rq, sizeof(rq));
}

static void
affinity(unsigned int flags, uint64_t h, uint32_t vector, const char *dev,
    uint32_t slot, uint64_t cpu0)
{
	struct msiv_affinity_req rq = {
		.vfunc = h, .vector = vector, .slot = slot, .cpus = { cpu0 },
	};

	memcpy(rq.device, dev, strlen(dev));
	req(flags | TYPED, MSIV_OP_IRQ_AFFINITY, &rq, sizeof(rq));
}

static void
revoke(unsigned int flags, uint64_t h, const char *tenant)
{
	struct msiv_revoke_req rq = { .vfunc = h };

	memcpy(rq.tenant, tenant, strlen(tenant));
	req(flags | TYPED, MSIV_OP_REVOKE, &rq, sizeof(rq));
}

static void
release(uint32_t flags, const char *tenant)
{
	struct msiv_tenant_release_req rq = { .flags = flags };

	memcpy(rq.tenant, tenant, strlen(tenant));
	req(TYPED, MSIV_OP_TENANT_RELEASE, &rq, sizeof(rq));
}

/* A raw packet: a header as given, then len payload bytes. */
static void
raw(unsigned int fds, uint16_t magic, uint16_t version, uint16_t op,
    uint16_t hflags, uint32_t hlen, int32_t status, const void *payload,
    size_t len)
{
	struct msiv_hdr h = {
		.magic = magic, .version = version, .opcode = op,
		.flags = hflags, .seq = 7, .len = hlen, .status = status,
	};
	unsigned char pkt[sizeof(h) + 256];

	if (len > 256)
		exit(1);
	msiv_hdr_encode(&h, pkt);
	if (len > 0)
		memcpy(pkt + sizeof(h), payload, len);
	rec(fds, pkt, sizeof(h) + len);
}

/* --- seeds --------------------------------------------------------------- */

static void
seeds_session(void)
{
	static const unsigned char junk[40] = {
		0xde, 0xad, 0xbe, 0xef, 0x4d, 0x56, 0x01, 0x00, 0x02, 0x00,
		0xff, 0xff, 0xff, 0xff, 0x10, 0x00, 0x00, 0x00, 0x80,
	};
	unsigned char big[5000];

	hello();
	simple(0, MSIV_OP_STATUS);
	done("hello");

	hello_full(1, 1, 0, "");
	list(0, MSIV_OP_SESSION_LIST, 0, 0);
	done("hello-anonymous");

	hello();
	hello();
	done("hello-twice");

	hello_full(2, 1, 0, "fuzz");
	hello_full(2, 3, 0, "fuzz");
	hello_full(1, 1, 1, "fuzz");
	hello_full(1, 1, 0, "bad name");
	hello_full(0, 9, 0, "fuzz");
	done("hello-refused");

	simple(0, MSIV_OP_STATUS);
	hello();
	done("no-hello");

	rec(0, junk, sizeof(junk));
	done("raw-garbage");

	raw(0, MSIV_PROTO_MAGIC, 2, MSIV_OP_HELLO, 0, 0, 0, NULL, 0);
	raw(0, MSIV_PROTO_MAGIC, 0, MSIV_OP_HELLO, 0, 0, 0, NULL, 0);
	done("raw-bad-version");

	rec(0, junk, 10);
	done("raw-short");

	raw(0, MSIV_PROTO_MAGIC, 1, MSIV_OP_STATUS, 0, 64, 0, junk, 8);
	done("raw-length-lies");

	hello();
	raw(0, MSIV_PROTO_MAGIC, 1, MSIV_OP_STATUS, MSIV_F_REPLY, 0, 0, NULL,
	    0);
	raw(0, MSIV_PROTO_MAGIC, 1, MSIV_OP_STATUS, 0, 0, -5, NULL, 0);
	raw(0, MSIV_PROTO_MAGIC, 1, MSIV_OP_STATUS, MSIV_F_ALL, 0, 0, NULL, 0);
	done("raw-flags-status");

	hello();
	memset(big, 0x5a, sizeof(big));
	req(FUZZ_F_HDR, MSIV_OP_STATUS, big, sizeof(big));
	done("oversized");

	hello();
	rec(0, NULL, 0);
	done("empty-packet");

	hello();
	req(FUZZ_F_HDR, 0, NULL, 0);
	req(FUZZ_F_HDR, MSIV_OP__COUNT, NULL, 0);
	req(FUZZ_F_HDR, 200, junk, 16);
	done("unknown-opcode");

	hello();
	req(FUZZ_F_HDR, MSIV_OP_STATUS, junk, 4);
	req(FUZZ_F_HDR, MSIV_OP_VFUNC_OPEN, junk, 39);
	done("wrong-length");

	hello();
	simple(FUZZ_FDS_EVENTFD, MSIV_OP_STATUS);
	simple(FUZZ_FDS_MAXFDS, MSIV_OP_STATUS);
	simple(FUZZ_FDS_TOOMANY, MSIV_OP_STATUS);
	done("fds-unwanted");

	/* The last record says 40 bytes; 9 follow. */
	hello();
	{
		unsigned char part[12] = {
			40, 0, TYPED, MSIV_OP_VFUNC_OPEN, 's', 'i', 'm', '0',
		};

		memcpy(seed + seed_len, part, sizeof(part));
		seed_len += sizeof(part);
	}
	done("truncated-record");

	hello();
	simple(0, MSIV_OP_SHUTDOWN);
	simple(0, MSIV_OP_STATUS);
	done("shutdown");

	/* A client that stops reading: the daemon drops it at max_queued. */
	hello();
	for (int i = 0; i < 100; i++)
		simple(FUZZ_F_NOREAD, MSIV_OP_STATUS);
	done("never-reads");
}

static void
seeds_lists(void)
{
	hello();
	simple(0, MSIV_OP_STATUS);
	list(0, MSIV_OP_DEVICE_LIST, 0, 0);
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	list(0, MSIV_OP_SESSION_LIST, 0, 0);
	simple(0, MSIV_OP_HOTPLUG_STATUS);
	simple(0, MSIV_OP_METRICS);
	list(0, MSIV_OP_SHARD_LIST, 0, 0);
	list(0, MSIV_OP_SHARD_LIST, 0, 1000);
	list(0, MSIV_OP_DEVICE_LIST, 0, 1);
	list(0, MSIV_OP_VFUNC_LIST, 1, 0);
	list(0, MSIV_OP_VEC_LIST, 1, 0);
	done("lists");

	/* More records than a page holds: VEC_LIST of 2048 vectors. */
	hello();
	vopen(0, "sim0", 2048, 0);
	list(FUZZ_F_HANDLE, MSIV_OP_VEC_LIST, H(0), 0);
	list(FUZZ_F_HANDLE, MSIV_OP_VEC_LIST, H(0), 56);
	list(FUZZ_F_HANDLE, MSIV_OP_VEC_LIST, H(0), 2047);
	vopen(0, "sim0", 1, 0);
	done("list-pages");
}

static void
seeds_vfunc(void)
{
	hello();
	vopen(0, "sim0", 4, 0);
	list(FUZZ_F_HANDLE, MSIV_OP_VEC_LIST, H(0), 0);
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	done("open-close");

	hello();
	vopen(0, "sim0", 1, 1);
	vopen(0, "sim0", 2, 2);
	vopen(0, "sim0", 3, 3);
	vopen(0, "sim0", 4, 9);
	vopen(0, "sim0", 0, 0);
	vopen(0, "sim0", 4096, 0);
	vopen(0, "nosuch", 1, 0);
	vopen(0, "bad name", 1, 0);
	done("open-policies");

	hello();
	vopen(0, "sim0", 2048, 0);
	vopen(0, "sim0", 1, 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	vopen(0, "sim0", 1, 0);
	done("open-full");

	hello();
	for (int i = 0; i < 10; i++)
		vopen(0, "sim0", (uint32_t)i + 1, 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(3), 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(7), 0);
	vopen(0, "sim0", 5, 0);
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	done("open-many");

	hello();
	vopen(0, "sim0", 4, 0);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 1);
	vfunc(0, MSIV_OP_VFUNC_FMASK, H(0), 1);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	vfunc(0, MSIV_OP_VFUNC_FMASK, H(0), 0);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 0);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 2);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 1);
	vfunc(0, MSIV_OP_VFUNC_RESET, H(0), 0);
	done("vfunc-bits");

	hello();
	vopen(0, "sim0", 8, 0);
	for (uint32_t v = 0; v < 4; v++)
		setup(FUZZ_FDS_EVENTFD, H(0), v, MSIV_SETUP_UNMASKED, ADDR,
		    DATA + v);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 1);
	vfunc(0, MSIV_OP_VFUNC_RESET, H(0), 0);
	list(FUZZ_F_HANDLE, MSIV_OP_VEC_LIST, H(0), 0);
	done("reset-after-setup");

	/* Slots on first use: the lazy vfunc holds none, so the reserved
	 * one takes all but 8; the 9th and 10th setups find none (ENOSPC,
	 * pending latched), a free gives one back, a retarget binds. */
	hello();
	vopen(0, "sim0", 2048, MSIV_OPEN_LAZY);
	vopen(0, "sim0", 2040, 0);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 1);
	for (uint32_t v = 0; v < 10; v++)
		setup(FUZZ_FDS_EVENTFD, H(0), v, MSIV_SETUP_UNMASKED, ADDR,
		    DATA + v);
	table(MSIV_OP_TABLE_READ, H(0), MSIV_PBA_OFFSET, 8, 0);
	vec(0, MSIV_OP_VEC_FREE, H(0), 3);
	setup(FUZZ_FDS_EVENTFD, H(0), 9, MSIV_SETUP_UNMASKED, ADDR, DATA);
	vec(0, MSIV_OP_VEC_FREE, H(0), 4);
	retarget(FUZZ_FDS_EVENTFD, H(0), 8, MSIV_RETARGET_TARGET, 0, 0);
	retarget(0, H(0), 2000, MSIV_RETARGET_MSG, ADDR, DATA);
	table(MSIV_OP_TABLE_WRITE, H(0), 1999 * 16 + 12, 4, 0);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 2000);
	list(FUZZ_F_HANDLE, MSIV_OP_VEC_LIST, H(0), 0);
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	affinity(FUZZ_F_HANDLE, H(0), 2047, "", 0, 0);
	vfunc(0, MSIV_OP_VFUNC_RESET, H(0), 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	done("open-lazy");

	hello();
	vopen(0, "sim0", 4, MSIV_OPEN_LAZY | 3);
	vopen(0, "sim0", 4, MSIV_OPEN_LAZY | 9);
	vopen(0, "sim0", 4, 0x200);
	vopen(0, "sim0", 4, 0xffffffffu);
	vopen(0, "sim0", 0, MSIV_OPEN_LAZY);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, 0, ADDR, DATA);
	revoke(FUZZ_F_HANDLE, H(0), "");
	setup(FUZZ_FDS_EVENTFD, H(0), 1, 0, ADDR, DATA);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	done("open-lazy-flags");
}

static void
seeds_vector(void)
{
	hello();
	vopen(0, "sim0", 4, 0);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_SETUP_UNMASKED, ADDR, DATA);
	vec(0, MSIV_OP_VEC_UNMASK, H(0), 0);
	vec(0, MSIV_OP_VEC_MASK, H(0), 0);
	retarget(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_RETARGET_ALL, ADDR + 0x1000,
	    DATA + 1);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_DATA, 4, DATA + 2);
	table(MSIV_OP_TABLE_READ, H(0), MSIV_MSIX_DATA, 4, 0);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	list(FUZZ_F_HANDLE, MSIV_OP_VEC_LIST, H(0), 0);
	vec(0, MSIV_OP_VEC_FREE, H(0), 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	done("vector-lifecycle");

	hello();
	vopen(0, "sim0", 4, 0);
	setup(FUZZ_FDS_NONE, H(0), 0, 0, ADDR, DATA);
	setup(FUZZ_FDS_PIPE, H(0), 0, 0, ADDR, DATA);
	setup(FUZZ_FDS_FILE, H(0), 0, 0, ADDR, DATA);
	setup(FUZZ_FDS_EVENTFD2, H(0), 0, 0, ADDR, DATA);
	setup(FUZZ_FDS_EVENTFD_PIPE, H(0), 0, 0, ADDR, DATA);
	setup(FUZZ_FDS_EVENTFD, H(0), 9, 0, ADDR, DATA);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, 0x80, ADDR, DATA);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, 0, ADDR, DATA);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, 0, ADDR, DATA);
	setup(FUZZ_FDS_EVENTFD, H(0), 1, MSIV_SETUP_ALL, ADDR, DATA);
	setup(FUZZ_FDS_EVENTFD, H(5), 1, 0, ADDR, DATA);
	done("setup-refused");

	hello();
	vopen(0, "sim0", 2, 0);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_SETUP_UNMASKED, ADDR, DATA);
	retarget(FUZZ_FDS_NONE, H(0), 0, 0, 0, 0);
	retarget(FUZZ_FDS_NONE, H(0), 0, 0x4, 0, 0);
	retarget(FUZZ_FDS_NONE, H(0), 0, MSIV_RETARGET_MSG, ADDR + 0x2000, 7);
	retarget(FUZZ_FDS_NONE, H(0), 0, MSIV_RETARGET_TARGET, 0, 0);
	retarget(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_RETARGET_TARGET, 0, 0);
	retarget(FUZZ_FDS_PIPE, H(0), 0, MSIV_RETARGET_TARGET, 0, 0);
	retarget(FUZZ_FDS_EVENTFD, H(0), 1, MSIV_RETARGET_ALL, ADDR, 9);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 1);
	done("retarget");

	/* Raw table writes, latch policy: a message written while masked
	 * takes effect at unmask (MSG_CHANGED event). */
	hello();
	vopen(0, "sim0", 4, MSIV_POLICY_LATCH);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_ADDR_LO, 4, ADDR);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_ADDR_HI, 4, 0);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_DATA, 4, DATA);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_CTRL, 4, 0);
	table(MSIV_OP_TABLE_READ, H(0), MSIV_MSIX_ADDR_LO, 8, 0);
	table(MSIV_OP_TABLE_WRITE, H(0), 16, 8, ADDR | 0x10);
	table(MSIV_OP_TABLE_WRITE, H(0), 16 + MSIV_MSIX_DATA, 8,
	    (uint64_t)MSIV_MSIX_CTRL_MASKBIT << 32 | DATA);
	table(MSIV_OP_TABLE_WRITE, H(0), 2, 4, 0);
	table(MSIV_OP_TABLE_WRITE, H(0), 64, 4, 0);
	table(MSIV_OP_TABLE_WRITE, H(0), 0, 2, 0);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_DATA, 4, 1ull << 32);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_PBA_OFFSET, 8, ~0ull);
	table(MSIV_OP_TABLE_READ, H(0), MSIV_PBA_OFFSET, 8, 0);
	table(MSIV_OP_TABLE_READ, H(0), MSIV_PBA_OFFSET + 8, 8, 0);
	table(MSIV_OP_TABLE_READ, H(0), 0, 4, 1);
	setup(FUZZ_FDS_EVENTFD, H(0), 2, 0, ADDR, DATA);
	table(MSIV_OP_TABLE_WRITE, H(0), 32 + MSIV_MSIX_DATA, 4, DATA + 5);
	vec(0, MSIV_OP_VEC_UNMASK, H(0), 2);
	done("table-latch");

	/* Strict: no message writes while unmasked. */
	hello();
	vopen(0, "sim0", 2, MSIV_POLICY_STRICT);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_SETUP_UNMASKED, ADDR, DATA);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_DATA, 4, DATA + 1);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_CTRL, 4, 1);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_DATA, 4, DATA + 1);
	done("table-strict");

	/* Live: the message commits once all of it is written. */
	hello();
	vopen(0, "sim0", 2, MSIV_POLICY_LIVE);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_SETUP_UNMASKED, ADDR, DATA);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_ADDR_LO, 4, ADDR + 0x40);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_DATA, 4, DATA + 3);
	table(MSIV_OP_TABLE_WRITE, H(0), MSIV_MSIX_ADDR_HI, 4, 0);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	done("table-live");
}

static void
seeds_interrupts(void)
{
	/* Relay: delivery, then mask -> pending -> unmask replay. */
	hello();
	vopen(0, "sim0", 4, 0);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 1);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_SETUP_UNMASKED, ADDR, DATA);
	sim(MSIV_OP_SIM_FIRE, "sim0", 0, 3);
	vec(0, MSIV_OP_VEC_MASK, H(0), 0);
	sim(MSIV_OP_SIM_FIRE, "sim0", 0, 1);
	table(MSIV_OP_TABLE_READ, H(0), MSIV_PBA_OFFSET, 8, 0);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	vec(0, MSIV_OP_VEC_UNMASK, H(0), 0);
	retarget(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_RETARGET_TARGET, 0, 0);
	sim(MSIV_OP_SIM_FIRE, "sim0", 3, 1);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	done("fire-relay");

	/* Function mask and disable. */
	hello();
	vopen(0, "sim0", 4, 0);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 1);
	setup(FUZZ_FDS_EVENTFD, H(0), 1, MSIV_SETUP_UNMASKED, ADDR, DATA);
	vfunc(0, MSIV_OP_VFUNC_FMASK, H(0), 1);
	sim(MSIV_OP_SIM_FIRE, "sim0", 1, 1);
	vfunc(0, MSIV_OP_VFUNC_FMASK, H(0), 0);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 0);
	sim(MSIV_OP_SIM_FIRE, "sim0", 1, 2);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 1);
	simple(0, MSIV_OP_STATUS);
	done("fire-fmask");

	/* Direct delivery: the device signals the target itself. */
	hello();
	vopen(0, "sim0", 4, 0);
	setup(FUZZ_FDS_EVENTFD, H(0), 2, MSIV_SETUP_ALL, ADDR, DATA);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 1);
	sim(MSIV_OP_SIM_FIRE, "sim0", 2, 1);
	vec(0, MSIV_OP_VEC_MASK, H(0), 2);
	sim(MSIV_OP_SIM_FIRE, "sim0", 2, 1);
	vec(0, MSIV_OP_VEC_UNMASK, H(0), 2);
	retarget(FUZZ_FDS_EVENTFD, H(0), 2, MSIV_RETARGET_TARGET, 0, 0);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 2);
	vec(0, MSIV_OP_VEC_FREE, H(0), 2);
	done("fire-direct");

	hello();
	sim(MSIV_OP_SIM_TRIGGERS, "sim0", 0, MSIV_FDS_MAX);
	sim(MSIV_OP_SIM_TRIGGERS, "sim0", 0, MSIV_FDS_MAX + 1);
	sim(MSIV_OP_SIM_TRIGGERS, "sim0", 2047, 2);
	sim(MSIV_OP_SIM_TRIGGERS, "nosuch", 0, 1);
	sim(MSIV_OP_SIM_FIRE, "sim0", 2048, 1);
	sim(MSIV_OP_SIM_FIRE, "sim0", 5, 0);
	sim(MSIV_OP_SIM_FIRE, "sim0", 5, 1);
	done("sim-triggers");
}

static void
seeds_admin(void)
{
	hello();
	attach("sim1", "sim", "", 16, 0, 0);
	list(0, MSIV_OP_DEVICE_LIST, 0, 0);
	vopen(0, "sim1", 4, 0);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_SETUP_UNMASKED, ADDR, DATA);
	detach("sim1", 0);
	detach("sim1", MSIV_DETACH_FORCE);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	detach("nosuch", 0);
	attach("sim1", "sim", "", 8, MSIV_POLICY_LIVE, 0);
	attach("sim1", "sim", "", 8, 0, 0);
	done("attach-detach");

	hello();
	attach("sim2", "foo", "", 8, 0, 0);
	attach("sim2", "sim", "", 0, 0, 0);
	attach("sim2", "sim", "", 70000, 0, 0);
	attach("sim2", "sim", "", 8, 0, MSIV_ATTACH_MSI_LATCH);
	attach("sim2", "sim", "", 8, 7, 0);
	attach("bad name", "sim", "", 8, 0, 0);
	attach("vf0", "vfio", "", 0, 0, 0);
	attach("vf0", "vfio", "03:00.0", 0, 0, 0);
	attach("vf0", "vfio", "0000:00:03.0", 0, 0, 0);
	detach("sim0", 0x2);
	done("attach-refused");

	/* Detach the configured device itself (it is back for the next
	 * input). */
	hello();
	detach("sim0", 0);
	vopen(0, "sim0", 1, 0);
	attach("sim0", "sim", "", 4, 0, 0);
	vopen(0, "sim0", 4, 0);
	done("detach-sim0");

	hello();
	vopen(0, "sim0", 2, 0);
	vopen(0, "sim0", 2, 0);
	revoke(FUZZ_F_HANDLE, H(0), "");
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	revoke(FUZZ_F_HANDLE, H(0), "");
	revoke(0, 0, "fuzz");
	revoke(FUZZ_F_HANDLE, H(1), "fuzz");
	revoke(0, 0, "nobody");
	revoke(0, 0, "");
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(1), 0);
	done("revoke");

	/* TENANT_RELEASE: orphan_grace is 0 here, so what it meets is its
	 * refusals: held by a session (revoked too), nobody, bad fields. */
	hello();
	vopen(0, "sim0", 2, 0);
	release(0, "fuzz");
	release(0, "nobody");
	release(0, "");
	release(1, "fuzz");
	revoke(0, 0, "fuzz");
	release(0, "fuzz");
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	release(0, "fuzz");
	done("tenant-release");

	hello();
	vopen(0, "sim0", 2, 0);
	affinity(FUZZ_F_HANDLE, H(0), 0, "", 0, 0);
	affinity(FUZZ_F_HANDLE, H(0), 5, "", 0, 0);
	affinity(FUZZ_F_HANDLE, H(0), 0, "sim0", 0, 0);
	affinity(0, 0, 0, "sim0", 0, 1);
	affinity(0, 0, 0, "sim0", 4096, 0);
	affinity(0, 0, 1, "sim0", 0, 0);
	affinity(0, 0, 0, "nosuch", 0, 0);
	done("irq-affinity");
}

/* Session B, a tenant: what it may do, and that it sees nothing of A. */
static void
seeds_tenant(void)
{
	as_b();
	hello_full(1, 1, 0, "");
	simple(0, MSIV_OP_STATUS);
	list(0, MSIV_OP_DEVICE_LIST, 0, 0);
	list(0, MSIV_OP_SESSION_LIST, 0, 0);
	vopen(0, "sim0", 4, 0);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_SETUP_UNMASKED, ADDR, DATA);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 1);
	vec(0, MSIV_OP_VEC_MASK, H(0), 0);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	list(FUZZ_F_HANDLE, MSIV_OP_VEC_LIST, H(0), 0);
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	affinity(FUZZ_F_HANDLE, H(0), 0, "", 0, 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	done("tenant");

	/* B tries A's vfunc: as if it did not exist, revoked or not. */
	hello();
	vopen(0, "sim0", 2, 0);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_SETUP_UNMASKED, ADDR, DATA);
	as_b();
	hello_full(1, 1, 0, "tenant1");
	vopen(0, "sim0", 2, 0);
	vfunc(0, MSIV_OP_VFUNC_ENABLE, H(0), 1);
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	setup(FUZZ_FDS_EVENTFD, H(0), 1, 0, ADDR, DATA);
	table(MSIV_OP_TABLE_READ, H(0), 0, 4, 0);
	list(FUZZ_F_HANDLE, MSIV_OP_VEC_LIST, H(0), 0);
	affinity(FUZZ_F_HANDLE, H(0), 0, "", 0, 0);
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	list(0, MSIV_OP_SESSION_LIST, 0, 0);
	as_a();
	revoke(FUZZ_F_HANDLE, H(0), "");
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	as_b();
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(1), 0);
	done("tenant-isolation");

	/* Admin requests: refused. */
	as_b();
	hello_full(1, 1, 0, "");
	sim(MSIV_OP_SIM_FIRE, "sim0", 0, 1);
	sim(MSIV_OP_SIM_TRIGGERS, "sim0", 0, 1);
	simple(0, MSIV_OP_SHUTDOWN);
	attach("sim9", "sim", "", 8, 0, 0);
	detach("sim0", 0);
	revoke(0, 0, "tenant1");
	affinity(0, 0, 0, "sim0", 0, 0);
	done("tenant-not-admin");

	/* Its devices and quotas (tenant1: sim0, 8 vfuncs, 512 vectors). */
	hello();
	attach("sim1", "sim", "", 16, 0, 0);
	as_b();
	hello_full(1, 1, 0, "");
	list(0, MSIV_OP_DEVICE_LIST, 0, 0);
	vopen(0, "sim1", 1, 0);
	vopen(0, "sim0", 600, 0);
	for (int i = 0; i < 9; i++)
		vopen(0, "sim0", 1, 0);
	done("tenant-quota");

	/* Only the tenant that admits it. */
	as_b();
	hello_full(1, 1, 0, "other");
	hello_full(1, 1, 0, "uid-0");
	hello_full(1, 1, 0, "tenant1");
	done("tenant-hello");

	/* An admin takes the tenant's vfuncs away. */
	hello();
	as_b();
	hello_full(1, 1, 0, "");
	vopen(0, "sim0", 2, 0);
	setup(FUZZ_FDS_EVENTFD, H(0), 0, MSIV_SETUP_UNMASKED, ADDR, DATA);
	as_a();
	revoke(0, 0, "tenant1");
	as_b();
	vec(0, MSIV_OP_VEC_QUERY, H(0), 0);
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	vfunc(0, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	done("tenant-revoked");
}

/* Several requests in one turn of the daemon's loop: one group commit. */
static void
seeds_batch(void)
{
	hello();
	vopen(0, "sim0", 4, 0);
	vopen(FUZZ_F_BATCH, "sim0", 4, 0);
	setup(FUZZ_F_BATCH | FUZZ_FDS_EVENTFD, H(0), 0, MSIV_SETUP_UNMASKED,
	    ADDR, DATA);
	vec(FUZZ_F_BATCH, MSIV_OP_VEC_MASK, H(0), 0);
	vfunc(FUZZ_F_BATCH, MSIV_OP_VFUNC_ENABLE, H(0), 1);
	sim(MSIV_OP_SIM_FIRE, "sim0", 0, 1);
	vec(FUZZ_F_BATCH, MSIV_OP_VEC_UNMASK, H(0), 0);
	vfunc(FUZZ_F_BATCH, MSIV_OP_VFUNC_CLOSE, H(0), 0);
	simple(0, MSIV_OP_STATUS);
	list(0, MSIV_OP_VFUNC_LIST, 0, 0);
	done("batch");

	/* Replies held for a commit while the client does not read. */
	hello();
	vopen(0, "sim0", 64, 0);
	for (uint32_t v = 0; v < 40; v++)
		setup(FUZZ_F_NOREAD | FUZZ_FDS_EVENTFD, H(0), v,
		    MSIV_SETUP_UNMASKED, ADDR, DATA + v);
	for (uint32_t v = 0; v < 40; v++)
		vec(FUZZ_F_BATCH | FUZZ_F_NOREAD, MSIV_OP_VEC_MASK, H(0), v);
	simple(0, MSIV_OP_STATUS);
	done("batch-noread");
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	seeds_session();
	seeds_lists();
	seeds_vfunc();
	seeds_vector();
	seeds_interrupts();
	seeds_admin();
	seeds_tenant();
	seeds_batch();
	printf("mkseeds: %d seeds in %s\n", nseeds, out_dir);
	return 0;
}
