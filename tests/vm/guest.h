/*
 * What the guest-side test clients (vm-*.c, vfu-guest.c) share: the
 * verdict lines the host reads from the serial console, and waiting on an
 * eventfd. Header-only: each client is one static binary.
 *
 * Parts only some clients use, each asked for by a macro defined before
 * this header is included (so that no client carries what it does not
 * use, and -Wunused-function stays on):
 *  GUEST_IVSHMEM   QEMU's ivshmem-doorbell device, its BARs mapped
 *                  through sysfs: ringing one of its vectors from the
 *                  device itself or from the peer on the host
 *                  (ivshmem-host.c) (vm-msix.c, vm-crash.c,
 *                  vm-handover.c);
 *  GUEST_MSIX_CTL  a device's MSI-X Message Control word, read from its
 *                  config space through sysfs (vm-crash.c,
 *                  vm-handover.c).
 */
#ifndef MSIV_VM_GUEST_H
#define MSIV_VM_GUEST_H

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static int failures;

/* One verdict: "PROBE OK what" or "PROBE FAIL what". */
static int
check(int cond, const char *what)
{
	printf("PROBE %s %s\n", cond ? "OK" : "FAIL", what);
	fflush(stdout);
	failures += !cond;
	return cond;
}

/* Wait up to ms for the eventfd and read it: its count, 0 for none. */
static uint64_t
wait_efd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, ms) == 1 && read(fd, &v, 8) != 8)
		v = 0;
	return v;
}

#ifdef GUEST_IVSHMEM
#include <fcntl.h>
#include <sys/mman.h>

struct mailbox {  /* as in ivshmem-host.c */
	uint32_t req, vector, count, done, peer, rung;
};

enum source { DEVICE, HOST };

static volatile uint32_t *regs;   /* BAR0: 8 IVPosition, 12 Doorbell */
static struct mailbox *mb;        /* BAR2 */
static uint32_t self;             /* our peer id */

/* BAR bar of the device at bdf through its sysfs resource file, or
 * MAP_FAILED. */
static void *
map_bar(const char *bdf, int bar, size_t len)
{
	char path[128];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
	    bdf, bar);
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return MAP_FAILED;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p;
}

/* Map the device's registers (BAR0) and shared memory (BAR2) and read
 * our peer id: 1 on success. */
static int
ivshmem_map(const char *bdf)
{
	regs = map_bar(bdf, 0, 4096);
	mb = map_bar(bdf, 2, 4096);
	if (regs == MAP_FAILED || mb == MAP_FAILED)
		return 0;
	self = regs[2];
	return 1;
}

/* Raise our vector slot once: the device rings its own peer id, or the
 * host-side peer (ivshmem-host.c) rings it on request through the
 * mailbox, acknowledged there. 0 if the host did not answer in 10 s. */
static int
ring(enum source src, uint32_t slot)
{
	uint32_t req;

	if (src == DEVICE) {
		regs[3] = self << 16 | slot;
		return 1;
	}
	mb->peer = self;
	mb->vector = slot;
	mb->count = 1;
	req = __atomic_load_n(&mb->req, __ATOMIC_RELAXED) + 1;
	__atomic_store_n(&mb->req, req, __ATOMIC_RELEASE);
	regs[3] = 0u << 16 | 0;  /* peer 0 (the host), its vector 0 */
	for (int i = 0; i < 2000; i++) {
		if (__atomic_load_n(&mb->done, __ATOMIC_ACQUIRE) == req)
			return 1;
		usleep(5000);
	}
	return 0;
}
#endif /* GUEST_IVSHMEM */

#ifdef GUEST_MSIX_CTL
#include <fcntl.h>

#define PCI_CAP_ID_MSIX 0x11
#define MSIX_ENABLE     0x8000 /* Message Control: MSI-X Enable */
#define MSIX_MASKALL    0x4000 /* Message Control: Function Mask */

static int cfg = -1;              /* the device's sysfs config file */
static unsigned int msix_cap;     /* the MSI-X capability's offset */

/* Open the config space of the device at bdf (sysfs) and find its MSI-X
 * capability: 1 if found. */
static int
msix_find(const char *bdf)
{
	char path[128];
	uint8_t hdr[256];
	unsigned int p;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	if ((cfg = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    pread(cfg, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    !(hdr[0x06] & 0x10))  /* Status: Capabilities List */
		return 0;
	p = hdr[0x34] & 0xfc;
	for (int n = 0; n < 48 && p >= 0x40; n++) {
		if (hdr[p] == PCI_CAP_ID_MSIX) {
			msix_cap = p;
			return 1;
		}
		p = hdr[p + 1] & 0xfc;
	}
	return 0;
}

/* The Message Control word (little-endian, as all of config space), or
 * -1. */
static int
msix_word(void)
{
	uint8_t b[2];

	if (pread(cfg, b, 2, msix_cap + 2) != 2)
		return -1;
	return b[0] | b[1] << 8;
}
#endif /* GUEST_MSIX_CTL */

#endif /* MSIV_VM_GUEST_H */
