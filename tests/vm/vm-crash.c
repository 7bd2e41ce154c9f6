/*
 * vm-crash: inside the systemd test guest (check-systemd.sh), msivd runs
 * as msivd.service (socket-activated, Restart=on-failure) and owns QEMU's
 * ivshmem-doorbell device through the vfio backend. This client kills
 * msivd with SIGKILL while a vfunc of two vectors (one relay, one direct)
 * is in use, lets systemd restart it, and checks:
 *  (a) the device's MSI-X Enable bit (Message Control, read from its PCI
 *      config space) stays set from before the kill until after the
 *      restart: sampled all along by a thread, every transition reported.
 *      Without systemd's fd store the device fds close with the process
 *      and vfio-pci disables MSI-X (the bug issue 19 fixes);
 *  (b) systemd restarted msivd: a new MainPID, active again;
 *  (c) ping-pong rounds (ring a vector, wait for its target) complete
 *      after the restart, once the session is taken over again
 *      (msiv_reconnect(): same tenant and resume token).
 * Interrupts come from the device itself (a doorbell write to its own
 * peer id, BAR0 offset 12) and from the peer on the host
 * (ivshmem-host.c), through the shared memory mailbox.
 *
 * usage: vm-crash SOCKET BDF ROUNDS   Prints PROBE OK/FAIL/INFO lines and
 * PROBE DONE; exits 1 if a check failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <msiv/msiv.h>

#define GUEST_IVSHMEM
#define GUEST_MSIX_CTL
#include "guest.h"

#define NV 2
#define MAX_CHANGES 64
#define BUS_MASTER (1 << 16)  /* in msix_ctl()'s value */

static struct msiv_conn *c;
static char what[512];

#define WHAT(...) (snprintf(what, sizeof(what), __VA_ARGS__), what)

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* --- the MSI-X Message Control word, from the device's config space ---- */

/* The control word, with the Command register's Bus Master Enable as
 * bit 16 (vfio-pci clears it too when the device is released); -1 if it
 * cannot be read. */
static int
msix_ctl(void)
{
	int w = msix_word();
	uint8_t cmd;

	if (w < 0 || pread(cfg, &cmd, 1, 4) != 1)
		return -1;
	return w | (cmd & 0x04 ? BUS_MASTER : 0);
}

/* The sampler: reads the control word until told to stop, and records
 * its first value and every change (time, value); counts the samples and
 * the longest gap between two, and remembers any sample with Enable
 * clear. */
static struct {
	pthread_t th;
	int stop;
	double t0;
	unsigned int samples, nchanges, cleared;
	double maxgap;
	struct { double t; int v; } ch[MAX_CHANGES];
} smp;

static void *
sampler(void *arg)
{
	int last = -2;
	double prev = 0;

	(void)arg;
	while (!__atomic_load_n(&smp.stop, __ATOMIC_ACQUIRE)) {
		int v = msix_ctl();
		double t = now();

		if (smp.samples > 0 && t - prev > smp.maxgap)
			smp.maxgap = t - prev;
		prev = t;
		smp.samples++;
		if (v < 0 || !(v & MSIX_ENABLE))
			smp.cleared++;
		if (v != last && smp.nchanges < MAX_CHANGES) {
			smp.ch[smp.nchanges].t = t;
			smp.ch[smp.nchanges].v = v;
			smp.nchanges++;
		}
		last = v;
		usleep(200);
	}
	return NULL;
}

/* --- systemd ------------------------------------------------------------ */

/* The first line systemctl prints for args, in buf; 0 on success. */
static int
systemctl(const char *args, char *buf, size_t len)
{
	char cmd[256];
	FILE *p;
	int ok;

	snprintf(cmd, sizeof(cmd), "systemctl %s 2>&1", args);
	p = popen(cmd, "re");
	if (p == NULL)
		return -1;
	ok = fgets(buf, (int)len, p) != NULL;
	if (pclose(p) != 0 || !ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static long
main_pid(void)
{
	char b[64];

	if (systemctl("show -p MainPID --value msivd.service", b,
	    sizeof(b)) < 0)
		return -1;
	return strtol(b, NULL, 10);
}

static int
is_active(void)
{
	char b[64];

	return systemctl("is-active msivd.service", b, sizeof(b)) == 0 &&
	    strcmp(b, "active") == 0;
}

/* --- the vfunc ---------------------------------------------------------- */

static uint64_t vf;
static int efd[NV];
static uint32_t slot[NV];
static const char *mode[NV] = { "relay", "direct" };

static int
setup(void)
{
	struct msiv_vector_info in;

	if (msiv_vfunc_open(c, "ivshmem", NV, MSIV_POLICY_DEFAULT, &vf) < 0)
		return 0;
	for (unsigned int i = 0; i < NV; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC);
		if (efd[i] < 0 || msiv_vector_setup(c, vf, i, 0xfee00000u,
		    0x40 + i, efd[i], MSIV_SETUP_UNMASKED |
		    (i == 1 ? MSIV_SETUP_DIRECT : 0)) < 0 ||
		    msiv_vector_query(c, vf, i, &in) < 0)
			return 0;
		slot[i] = in.slot;
	}
	if (msiv_vfunc_enable(c, vf, 1) < 0)
		return 0;
	/* Direct: enabling moved the trigger to its target, and a move is
	 * at-least-once: one interrupt, before the reply. */
	(void)wait_efd(efd[1], 0);
	return 1;
}

/* rounds ping-pongs: ring a vector (alternately relay and direct, from
 * the device and from the host), wait for its target. Returns how many
 * came back; *extra: interrupts beyond one a round. */
static unsigned int
pingpong(unsigned int rounds, unsigned int *extra)
{
	unsigned int done = 0;

	*extra = 0;
	for (unsigned int r = 0; r < rounds; r++) {
		unsigned int i = r % NV;
		uint64_t got;

		if (!ring(r / NV % 2 ? HOST : DEVICE, slot[i]))
			break;
		got = wait_efd(efd[i], 10000);
		if (got == 0) {
			printf("PROBE INFO round %u (%s vector, %s): nothing "
			    "came back in 10 s\n", r, mode[i],
			    r / NV % 2 ? "host" : "device");
			break;
		}
		*extra += (unsigned int)(got - 1);
		done++;
	}
	return done;
}

/* The control word (and Bus Master Enable) in words. */
static const char *
ctl_str(int v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "unreadable");
	else
		snprintf(buf, len, "0x%04x (Enable %d, Function Mask %d; "
		    "Bus Master %d)", v & 0xffff, !!(v & MSIX_ENABLE),
		    !!(v & MSIX_MASKALL), !!(v & BUS_MASTER));
	return buf;
}

int
main(int argc, char **argv)
{
	char s1[80], ts[64], nr0[32] = "?", nr1[32] = "?";
	unsigned int rounds, done, extra, resumed = 0;
	long pid0, pid1 = 0;
	double tkill, tgone = -1, tnew = -1, tactive = -1, tback = -1;
	struct msiv_vector_info in;
	int v, lost, back, r = -1;
	uint8_t token[MSIV_TOKEN_LEN];

	if (argc != 4)
		return 2;
	rounds = (unsigned int)strtoul(argv[3], NULL, 10);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!check(ivshmem_map(argv[2]) && msix_find(argv[2]), "map the "
	    "ivshmem registers and shared memory, find the MSI-X capability "
	    "in config space"))
		goto done;
	if (!check(msiv_connect(argv[1], "vm", &c) == 0 && setup(),
	    "connect to msivd (msivd.socket), open a vfunc of 2 vectors "
	    "(relay, direct) on the ivshmem device, enable"))
		goto done;
	msiv_token(c, token);
	done = pingpong(rounds, &extra);
	check(done == rounds, WHAT("before the crash: %u of %u ping-pong "
	    "rounds came back (%u extra)", done, rounds, extra));
	v = msix_ctl();
	printf("PROBE INFO MSI-X control before the kill: %s; Message Control "
	    "at config offset 0x%x\n", ctl_str(v, s1, sizeof(s1)),
	    msix_cap + 2);
	if (!check(v >= 0 && (v & MSIX_ENABLE), "MSI-X is enabled before "
	    "the kill"))
		goto done;

	/* The crash. */
	(void)systemctl("show -p NRestarts --value msivd.service", nr0,
	    sizeof(nr0));
	pid0 = main_pid();
	smp.t0 = now();
	if (!check(pid0 > 0 && pthread_create(&smp.th, NULL, sampler,
	    NULL) == 0, WHAT("msivd.service's MainPID is %ld; sampling "
	    "MSI-X control from now on", pid0)))
		goto done;
	usleep(20000);
	tkill = now();
	if (!check(kill((pid_t)pid0, SIGKILL) == 0, WHAT("kill -9 %ld", pid0)))
		goto done;
	/* Gone once systemd has reaped it; then a new MainPID, then active
	 * (Type=notify: READY=1). Counted, generously: 120 s. */
	for (int i = 0; i < 600 && tactive < 0; i++) {
		long p;
		int fresh = 0;

		if (tnew < 0 && (p = main_pid()) > 0 && p != pid0) {
			tnew = now();
			pid1 = p;
			fresh = 1;
		}
		if (tgone < 0 && kill((pid_t)pid0, 0) < 0 && errno == ESRCH) {
			tgone = now();
			printf("PROBE INFO seen at %+.3f s: the killed msivd is "
			    "gone; MSI-X control %s\n", tgone - tkill,
			    ctl_str(msix_ctl(), s1, sizeof(s1)));
		}
		if (fresh)
			printf("PROBE INFO seen at %+.3f s: a new MainPID %ld; "
			    "MSI-X control %s\n", tnew - tkill, pid1,
			    ctl_str(msix_ctl(), s1, sizeof(s1)));
		if (tnew >= 0 && is_active()) {
			tactive = now();
			printf("PROBE INFO seen at %+.3f s: msivd.service is "
			    "active again; MSI-X control %s\n", tactive - tkill,
			    ctl_str(msix_ctl(), s1, sizeof(s1)));
		}
		if (tactive < 0)
			usleep(50000);
	}
	(void)systemctl("show -p NRestarts --value msivd.service", nr1,
	    sizeof(nr1));
	check(tactive >= 0 && pid1 > 0 && main_pid() == pid1 &&
	    strtol(nr1, NULL, 10) == strtol(nr0, NULL, 10) + 1,
	    WHAT("(b) systemd restarted msivd: MainPID %ld -> %ld, active "
	    "after %.2f s, NRestarts %s -> %s", pid0, pid1, tactive - tkill,
	    nr0, nr1));

	/* The session: still there (an fd store keeping it), or taken
	 * over again by a new connection with the resume token. */
	lost = msiv_vector_query(c, vf, 0, &in) < 0;
	back = !lost;
	for (int i = 0; i < 300 && !back; i++) {
		r = msiv_reconnect(c);
		if (r == 0)
			back = 1;
		else
			usleep(100000);
	}
	if (back) {
		tback = now();
		resumed = msiv_resumed(c);
		if (lost)
			printf("PROBE INFO %+.3f s: the connection was lost; "
			    "msiv_reconnect() took the session over again (%u "
			    "vfunc resumed); MSI-X control %s\n", tback - tkill,
			    resumed, ctl_str(msix_ctl(), s1, sizeof(s1)));
		else
			printf("PROBE INFO the connection survived the "
			    "restart; MSI-X control %s\n",
			    ctl_str(msix_ctl(), s1, sizeof(s1)));
	}
	check(back && (!lost || resumed == 1), lost ? WHAT("the client "
	    "reconnects with its resume token and resumes its vfunc "
	    "(msiv_reconnect: %s, %u resumed)", r == 0 ? "0" : strerror(-r),
	    resumed) : "the client's connection survived the restart");
	if (back) {
		/* A restored vector comes back pending (msiv-protocol(7),
		 * MSI-X SEMANTICS, across a restart), and re-attaching its
		 * target replays it: at-least-once. */
		for (unsigned int i = 0; i < NV; i++) {
			if (msiv_vector_query(c, vf, i, &in) == 0 &&
			    in.slot != slot[i]) {
				printf("PROBE INFO vector %u moved from slot "
				    "%u to %u\n", i, slot[i], in.slot);
				slot[i] = in.slot;
			}
			(void)wait_efd(efd[i], 100);
		}
		done = pingpong(rounds, &extra);
		check(done == rounds, WHAT("(c) after the restart: %u of %u "
		    "ping-pong rounds came back (%u extra)", done, rounds,
		    extra));
	} else
		check(0, "(c) after the restart: no session, no ping-pong");
	v = msix_ctl();
	printf("PROBE INFO MSI-X control after the rounds: %s\n",
	    ctl_str(v, s1, sizeof(s1)));

	__atomic_store_n(&smp.stop, 1, __ATOMIC_RELEASE);
	pthread_join(smp.th, NULL);
	for (unsigned int i = 0; i < smp.nchanges; i++) {
		snprintf(ts, sizeof(ts), "%+.3f s", smp.ch[i].t - tkill);
		printf("PROBE INFO MSI-X control %s %s: %s\n", i == 0 ?
		    "from" : "at", i == 0 ? "before the kill" : ts,
		    ctl_str(smp.ch[i].v, s1, sizeof(s1)));
	}
	check(smp.cleared == 0 && smp.samples > 0, WHAT("(a) MSI-X Enable "
	    "stayed set from before the kill until after the restart and the "
	    "rounds: %u of %u samples had it clear (%u changes; a sample "
	    "every %.2f ms at most)", smp.cleared, smp.samples,
	    smp.nchanges - (smp.nchanges > 0), smp.maxgap * 1e3));
done:
	printf("PROBE DONE %d\n", failures);
	return failures != 0;
}
