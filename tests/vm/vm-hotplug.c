/*
 * vm-hotplug: inside the test guest, a device msivd attached by an [auto]
 * rule ("hp", QEMU's edu behind a hot-pluggable PCIe root port) is taken
 * away while this client holds a vector on it, then put back:
 *
 *   sysfs    echo 1 > .../remove, later echo 1 > /sys/bus/pci/rescan;
 *   monitor  device_del / device_add in QEMU's monitor, asked of the host
 *            with "MSIV-VM MONITOR <command>" lines on the console.
 *
 * Checked: the removal completes (msivd gives the device back when
 * vfio-pci asks for it), the client gets VFUNC_GONE (device removed),
 * calls on the vfunc fail with ENODEV and the listing shows it revoked,
 * the other device ("edu") keeps delivering, and the device comes back
 * attached by its rule and delivers again.
 *
 * usage: vm-hotplug SOCKET sysfs|monitor NAME HP-BDF OTHER-BDF
 * NAME is what the rule names the device; the other device is "edu".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <msiv/msiv.h>

#include "guest.h"

#define DEADLINE_MS 60000 /* a TCG guest; the kernel re-asks every 10 s */

static struct msiv_conn *c;
static uint64_t gone_vf;
static uint32_t gone_reason;
static const char *mode, *name;

static void
on_event(struct msiv_conn *conn, const struct msiv_event_info *ev, void *arg)
{
	(void)conn;
	(void)arg;
	if (ev->type == MSIV_EV_VFUNC_GONE) {
		gone_vf = ev->vfunc;
		gone_reason = ev->reason;
	}
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
checkf(int cond, const char *what)
{
	char line[160];

	snprintf(line, sizeof(line), "%s: %s", mode, what);
	check(cond, line);
}

/* edu's BAR0 through its sysfs resource file, or NULL. */
static volatile uint32_t *
map_bar(const char *bdf)
{
	char path[96];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	if ((fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC)) < 0)
		return NULL;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* Ring edu's doorbell and wait for the interrupt on fd. */
static uint64_t
ring(volatile uint32_t *bar, int fd)
{
	uint64_t v;

	if (bar == NULL)
		return 0;
	bar[0x60 / 4] = 1;
	v = wait_efd(fd, 10000);
	bar[0x64 / 4] = 1; /* acknowledge, so it can raise again */
	return v;
}

/* One vector on dev, set up to fd, unmasked, the function enabled. */
static uint64_t
open_vec(const char *dev, int fd)
{
	uint64_t vf = 0;

	if (msiv_vfunc_open(c, dev, 1, MSIV_POLICY_DEFAULT, &vf) < 0 ||
	    msiv_vector_setup(c, vf, 0, 0xfee00000, 0x41, fd, 0) < 0 ||
	    msiv_vector_unmask(c, vf, 0) < 0 || msiv_vfunc_enable(c, vf, 1) < 0)
		return 0;
	return vf;
}

static int
listed(const char *name)
{
	struct msiv_device_info d[16];
	int n = msiv_list_devices(c, d, 16, sizeof(*d));

	for (int i = 0; i < n; i++)
		if (strcmp(d[i].name, name) == 0)
			return 1;
	return 0;
}

/* Wait until the device is listed (want 1) or not (want 0). */
static int
wait_listed(const char *name, int want)
{
	for (long end = now_ms() + DEADLINE_MS; now_ms() < end;
	    usleep(100000))
		if (listed(name) == want)
			return 1;
	return 0;
}

static int
sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -errno;
	close(fd);
	return r;
}

static uint32_t
revoked_as(uint64_t vf)
{
	struct msiv_vfunc_info r[16];
	int n = msiv_list_vfuncs(c, r, 16, sizeof(*r));

	for (int i = 0; i < n; i++)
		if (r[i].vfunc == vf)
			return (r[i].flags & MSIV_VFUNC_GONE) ? r[i].gone : 0;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *hp, *other;
	volatile uint32_t *hbar, *obar;
	char path[128], what[128];
	uint64_t vh, vo;
	int e1 = eventfd(0, EFD_CLOEXEC), e2 = eventfd(0, EFD_CLOEXEC);
	pid_t child = -1;
	long t0, done = -1;

	if (argc != 6) {
		fprintf(stderr, "usage: vm-hotplug SOCKET sysfs|monitor NAME "
		    "HP-BDF OTHER-BDF\n");
		return 2;
	}
	mode = argv[2];
	name = argv[3];
	hp = argv[4];
	other = argv[5];
	if (msiv_connect(argv[1], "vm-hp", &c) < 0) {
		check(0, "connect to msivd");
		return 1;
	}
	msiv_set_timeout(c, 20000);
	msiv_set_event_cb(c, on_event, NULL);
	snprintf(what, sizeof(what), "the device is attached by its [auto] "
	    "rule, as %s", name);
	checkf(wait_listed(name, 1), what);
	hbar = map_bar(hp);
	obar = map_bar(other);
	vh = open_vec(name, e1);
	vo = open_vec("edu", e2);
	checkf(vh != 0 && vo != 0, "a vfunc on each device");
	checkf(ring(hbar, e1) == 1, "before: the hot-pluggable device "
	    "delivers");
	checkf(ring(obar, e2) == 1, "before: the other device delivers");
	if (hbar != NULL)
		munmap((void *)hbar, 4096);

	/* Take it away while the vector is live. */
	t0 = now_ms();
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", hp);
	if (strcmp(mode, "sysfs") == 0) {
		if ((child = fork()) == 0) {
			snprintf(path, sizeof(path),
			    "/sys/bus/pci/devices/%s/remove", hp);
			_exit(sysfs_write(path, "1") == 0 ? 0 : 1);
		}
	} else {
		printf("MSIV-VM MONITOR device_del hp0\n");
		fflush(stdout);
	}
	while (gone_vf == 0 && now_ms() - t0 < DEADLINE_MS) {
		struct pollfd p = { .fd = msiv_fd(c), .events = POLLIN };

		(void)poll(&p, 1, 200);
		(void)msiv_dispatch(c);
	}
	checkf(gone_vf == vh && gone_reason == MSIV_GONE_DEVICE,
	    "the client gets VFUNC_GONE, reason: device removed");
	while (now_ms() - t0 < DEADLINE_MS) {
		int st;

		if (child > 0 ? waitpid(child, &st, WNOHANG) == child &&
		    WIFEXITED(st) && WEXITSTATUS(st) == 0 :
		    access(path, F_OK) < 0) {
			done = now_ms() - t0;
			break;
		}
		usleep(50000);
	}
	snprintf(what, sizeof(what), "the removal completes (%ld ms)", done);
	checkf(done >= 0, what);
	checkf(msiv_vector_unmask(c, vh, 0) == -ENODEV,
	    "a call on the revoked vfunc fails with ENODEV");
	checkf(revoked_as(vh) == MSIV_GONE_DEVICE,
	    "the listing shows it revoked (device removed)");
	checkf(wait_listed(name, 0), "msivd no longer lists the device");
	checkf(ring(obar, e2) == 1, "the other device keeps delivering");
	checkf(msiv_vfunc_close(c, vh) == 0, "the client closes the revoked "
	    "vfunc");

	/* Put it back: attached again by the rule. */
	if (strcmp(mode, "sysfs") == 0)
		checkf(sysfs_write("/sys/bus/pci/rescan", "1") == 0,
		    "rescan the PCI bus");
	else {
		printf("MSIV-VM MONITOR device_add edu,id=hp0,bus=rp1\n");
		fflush(stdout);
	}
	checkf(wait_listed(name, 1), "the device comes back and is attached "
	    "again by its rule");
	hbar = map_bar(hp);
	vh = open_vec(name, e1);
	checkf(vh != 0 && ring(hbar, e1) == 1, "it delivers again");
	checkf(ring(obar, e2) == 1, "and so does the other device");
	if (hbar != NULL)
		munmap((void *)hbar, 4096);
	(void)msiv_vfunc_close(c, vh);
	(void)msiv_vfunc_close(c, vo);
	msiv_close(c);
	return failures ? 1 : 0;
}
