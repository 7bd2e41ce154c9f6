/*
 * vm-handover: inside the test guest, msivd hands over to a new msivd
 * (msivd(8), RESTART AND UPGRADE; SIGUSR2) again and again while it owns
 * QEMU's ivshmem-doorbell device (MSI-X) through the vfio backend and
 * the device's vectors carry interrupts, in relay and in direct mode.
 * Checked, per mode:
 *  - the device's MSI-X stays enabled throughout: a thread reads the
 *    MSI-X Message Control word from the device's config space (sysfs)
 *    before, during and after the handovers, counting its samples, those
 *    taken while a handover was under way, and any with Enable clear or
 *    the function masked (a VFIO device closed by its last user is reset
 *    and its MSI-X disabled);
 *  - no vector goes dead: ping-pong rounds with the host-side peer
 *    (ivshmem-host.c) as the source, one interrupt in flight at a time
 *    (doorbells coalesce): it rings vector k, k's target fires, the next
 *    round asks for vector k + 1. Every round completes, and no
 *    interrupt comes beyond one a round;
 *  - the client's connection is the same throughout (no reconnect: the
 *    same socket, the same session, its vfunc still its own), and each
 *    vector's counters are exact across the handovers (relay: one fired
 *    and one delivered a round; direct: the device signals the targets,
 *    msivd's counts do not move): nothing assumed, nothing lost;
 *  - every old msivd exits 0 and the new one has another pid. This
 *    program starts msivd and is a subreaper: a new msivd is a child of
 *    the old one's spawner, and becomes ours once they are gone;
 *  - the kernel logs no reset and no "No irq handler" meanwhile
 *    (/dev/kmsg; its lines are printed as PROBE INFO).
 *
 * usage: vm-handover SOCKET BDF HANDOVERS LOG MSIVD [ARG...]
 * Starts MSIVD ARG... (its output appended to LOG), HANDOVERS handovers
 * per mode. Prints PROBE OK/FAIL/INFO lines, PROBE DONE.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <msiv/msiv.h>

#define GUEST_IVSHMEM
#define GUEST_MSIX_CTL
#include "guest.h"

#define NV            4      /* vectors of the vfunc, rung in turn */
#define ROUND_MS      30000  /* a round's interrupt: generous (TCG) */
#define HANDOVER_MS   60000  /* a handover, from SIGUSR2 to the old gone */
#define ROUNDS_APART  3      /* rounds between two handovers, at least */
#define ROUNDS_AFTER  (2 * NV) /* rounds after the last handover */
#define SAMPLE_US     500    /* the reader's pause between two samples */
#define KMSG_SHOWN    20

static const char *sock;
static struct msiv_conn *c;
static char what[512];
static pid_t msivd;               /* the msivd serving now */

/* The reader thread's figures (reader()). */
static atomic_int reading, in_handover;
static atomic_ulong samples, samples_during, enable_clear, maskall_set,
    read_errors;
static atomic_uint last_word;

/* The rounds (main thread) and the handovers (driver thread). */
static atomic_uint rounds, handovers_done;
static atomic_int rounds_stopped, driver_done;
static struct {
	unsigned int done, failed, exited0, rounds_during, sampled_windows;
	unsigned int min_ms, max_ms, polls, poll_errors, last_error;
	unsigned long long total_ms;
	char why[256];
} ho;

#define WHAT(...) (snprintf(what, sizeof(what), __VA_ARGS__), what)

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the MSI-X Message Control word ------------------------------------- */

/* Sample the word until told to stop, counting. */
static void *
reader(void *arg)
{
	(void)arg;
	while (atomic_load(&reading)) {
		int during = atomic_load(&in_handover), w = msix_word();

		atomic_fetch_add(&samples, 1);
		if (during)
			atomic_fetch_add(&samples_during, 1);
		if (w < 0)
			atomic_fetch_add(&read_errors, 1);
		else {
			atomic_store(&last_word, (unsigned int)w);
			if (!(w & MSIX_ENABLE))
				atomic_fetch_add(&enable_clear, 1);
			if (w & MSIX_MASKALL)
				atomic_fetch_add(&maskall_set, 1);
		}
		usleep(SAMPLE_US);
	}
	return NULL;
}

/* --- the kernel's log ----------------------------------------------------- */

/* /dev/kmsg, from now on. */
static int
kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Print what the kernel logged since kmsg_open (up to KMSG_SHOWN lines);
 * the number of its lines that speak of a reset or of an interrupt that
 * had no handler, or -1 if it cannot be read. */
static int
kmsg_read(int fd, const char *mode, unsigned int *lines)
{
	char rec[2048];
	int bad = 0;

	*lines = 0;
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		char *text, *end;

		if (n < 0 && errno == EPIPE)
			continue;  /* overwritten: the next one */
		if (n <= 0)
			break;
		rec[n] = '\0';
		text = strchr(rec, ';');
		text = text != NULL ? text + 1 : rec;
		if ((end = strchr(text, '\n')) != NULL)
			*end = '\0';
		if (strstr(text, "No irq handler") != NULL ||
		    strstr(text, "reset") != NULL ||
		    strstr(text, "Reset") != NULL)
			bad++;
		if (++*lines <= KMSG_SHOWN)
			printf("PROBE INFO %s: kernel: %s\n", mode, text);
	}
	close(fd);
	return bad;
}

/* --- msivd's processes ---------------------------------------------------- */

/* The pid of the msivd serving the socket (STATUS, on a connection of
 * its own), or -errno. */
static pid_t
serving_pid(void)
{
	struct msiv_status_info st;
	struct msiv_conn *sc;
	int r;

	if ((r = msiv_connect(sock, NULL, &sc)) < 0)
		return r;
	if ((r = msiv_get_status(sc, &st, sizeof(st))) == 0)
		r = (int)st.pid;
	msiv_close(sc);
	return r;
}

static pid_t
start_msivd(const char *log, char **argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Reap children until pid is gone (others are spawners SIGKILLed by
 * their msivd's exit): its wait status, or -1 at the deadline. */
static int
reap(pid_t pid, long long deadline)
{
	int st;

	while (now_ms() < deadline) {
		pid_t r = waitpid(-1, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r > 0)
			continue;
		if (r < 0 && errno != EINTR)
			return -1;
		usleep(10000);  /* polling an exit, with a deadline */
	}
	return -1;
}

static void
ho_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
ho_fail(const char *fmt, ...)
{
	va_list ap;

	ho.failed++;
	if (ho.why[0] != '\0')
		return;
	va_start(ap, fmt);
	(void)vsnprintf(ho.why, sizeof(ho.why), fmt, ap);
	va_end(ap);
}

/* One handover: SIGUSR2 to the serving msivd, then wait until another
 * one serves and the old one is gone; 0, or -1 (why in ho.why). */
static int
handover(void)
{
	long long t0 = now_ms(), deadline = t0 + HANDOVER_MS, ms;
	unsigned long s0 = atomic_load(&samples_during);
	unsigned int r0 = atomic_load(&rounds);
	pid_t old = msivd, pid = -1;
	int st;

	atomic_store(&in_handover, 1);
	if (kill(old, SIGUSR2) < 0) {
		atomic_store(&in_handover, 0);
		ho_fail("handover %u: kill(%d, SIGUSR2): %s", ho.done + 1,
		    (int)old, strerror(errno));
		return -1;
	}
	while (now_ms() < deadline) {
		ho.polls++;
		if ((pid = serving_pid()) > 0 && pid != old)
			break;
		if (pid < 0) {
			ho.poll_errors++;
			ho.last_error = (unsigned int)-pid;
		}
		usleep(10000);  /* polling the new msivd, with a deadline */
	}
	st = pid > 0 && pid != old ? reap(old, deadline) : -1;
	atomic_store(&in_handover, 0);
	ms = now_ms() - t0;
	if (pid <= 0 || pid == old) {
		ho_fail("handover %u: no other msivd serves within %d s (pid "
		    "%d serves)", ho.done + 1, HANDOVER_MS / 1000, (int)pid);
		return -1;
	}
	msivd = pid;
	if (st == -1) {
		ho_fail("handover %u: the old msivd (pid %d) did not exit",
		    ho.done + 1, (int)old);
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		ho_fail("handover %u: the old msivd (pid %d) %s %d",
		    ho.done + 1, (int)old, WIFEXITED(st) ? "exited" :
		    "was killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) :
		    WTERMSIG(st));
	else
		ho.exited0++;
	ho.done++;
	atomic_store(&handovers_done, ho.done);
	ho.rounds_during += atomic_load(&rounds) - r0;
	ho.sampled_windows += atomic_load(&samples_during) > s0;
	ho.total_ms += (unsigned long long)ms;
	if (ho.done == 1 || ms < ho.min_ms)
		ho.min_ms = (unsigned int)ms;
	if (ms > ho.max_ms)
		ho.max_ms = (unsigned int)ms;
	return 0;
}

static unsigned int handovers;

/* The driver thread: the handovers, each one ROUNDS_APART rounds after
 * the last, while the main thread plays the rounds. */
static void *
driver(void *arg)
{
	unsigned int next = ROUNDS_APART;

	(void)arg;
	memset(&ho, 0, sizeof(ho));
	for (unsigned int i = 0; i < handovers; i++) {
		while (atomic_load(&rounds) < next &&
		    !atomic_load(&rounds_stopped))
			usleep(10000);  /* waits for the rounds to advance */
		if (atomic_load(&rounds_stopped) || handover() < 0)
			break;
		next = atomic_load(&rounds) + ROUNDS_APART;
	}
	atomic_store(&driver_done, 1);
	return NULL;
}

/* --- the rounds ----------------------------------------------------------- */

/*
 * One mode: a vfunc of NV vectors; rounds of ping-pong on vector
 * k = round % NV while the driver thread makes the handovers; then the
 * checks.
 */
static void
mode_run(const char *mode, unsigned int flags)
{
	int direct = (flags & MSIV_SETUP_DIRECT) != 0, kfd, bad, fd0 = msiv_fd(c);
	struct msiv_vector_info in[NV], out[NV];
	struct msiv_session_info ss[16];
	uint64_t vf, sid = msiv_session_id(c);
	unsigned int per[NV] = { 0 }, extra = 0, lines, done, after = 0;
	unsigned int dead_round = 0, dead_vec = 0, dead_ho = 0;
	int efd[NV], ok, w0, w1, ns, found = 0;
	pthread_t rt, dt;
	long long t0, tr, slowest = 0;

	ok = msiv_vfunc_open(c, "ivshmem", NV, MSIV_POLICY_DEFAULT, &vf) == 0;
	for (unsigned int i = 0; i < NV && ok; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC);
		ok = efd[i] >= 0 && msiv_vector_setup(c, vf, i, 0xfee00000u,
		    0x40 + i, efd[i], MSIV_SETUP_UNMASKED | flags) == 0;
	}
	ok = ok && msiv_vfunc_enable(c, vf, 1) == 0;
	/* Direct: enabling moved each trigger to its target, and a move is
	 * at-least-once (one interrupt each, written before the reply). */
	for (unsigned int i = 0; i < NV && ok; i++)
		(void)wait_efd(efd[i], 0);
	for (unsigned int i = 0; i < NV && ok; i++)
		ok = msiv_vector_query(c, vf, i, &in[i]) == 0 &&
		    in[i].routed == (unsigned int)direct;
	if (!check(ok, WHAT("%s: a vfunc of %d vectors on the ivshmem device, "
	    "set up and enabled%s", mode, NV, direct ? ", routed to their "
	    "targets" : "")))
		return;
	w0 = msix_word();
	check(w0 >= 0 && (w0 & MSIX_ENABLE) && !(w0 & MSIX_MASKALL),
	    WHAT("%s: before: MSI-X Message Control (capability at 0x%02x) "
	    "is 0x%04x: enabled, function not masked", mode, msix_cap, w0));

	kfd = kmsg_open();
	atomic_store(&samples, 0);
	atomic_store(&samples_during, 0);
	atomic_store(&enable_clear, 0);
	atomic_store(&maskall_set, 0);
	atomic_store(&read_errors, 0);
	atomic_store(&rounds, 0);
	atomic_store(&rounds_stopped, 0);
	atomic_store(&handovers_done, 0);
	atomic_store(&driver_done, 0);
	atomic_store(&reading, 1);
	if (pthread_create(&rt, NULL, reader, NULL) != 0) {
		check(0, WHAT("%s: start the reader thread", mode));
		return;
	}
	if (pthread_create(&dt, NULL, driver, NULL) != 0) {
		atomic_store(&reading, 0);
		pthread_join(rt, NULL);
		check(0, WHAT("%s: start the driver thread", mode));
		return;
	}
	t0 = now_ms();
	/* Rounds until the driver is done, and ROUNDS_AFTER after that: the
	 * vectors deliver after the last handover too. */
	for (done = 0;; done++) {
		unsigned int k = done % NV;
		uint64_t got;

		if (atomic_load(&driver_done) && after++ == ROUNDS_AFTER)
			break;
		for (unsigned int j = 0; j < NV; j++)
			extra += (unsigned int)wait_efd(efd[j], 0);
		tr = now_ms();
		if (!ring(HOST, in[k].slot)) {
			dead_round = done + 1;
			dead_vec = k;
			dead_ho = atomic_load(&handovers_done);
			break;
		}
		got = wait_efd(efd[k], ROUND_MS);
		if (got == 0) {
			dead_round = done + 1;
			dead_vec = k;
			dead_ho = atomic_load(&handovers_done);
			break;
		}
		extra += (unsigned int)(got - 1);
		if (now_ms() - tr > slowest)
			slowest = now_ms() - tr;
		per[k]++;
		atomic_fetch_add(&rounds, 1);
	}
	atomic_store(&rounds_stopped, 1);
	pthread_join(dt, NULL);
	atomic_store(&reading, 0);
	pthread_join(rt, NULL);
	w1 = msix_word();

	if (dead_round != 0)
		printf("PROBE INFO %s: round %u (vector %u, after %u "
		    "handovers): no interrupt within %d s; MSI-X Message "
		    "Control now 0x%04x\n", mode, dead_round, dead_vec, dead_ho,
		    ROUND_MS / 1000, w1);
	if (ho.why[0] != '\0')
		printf("PROBE INFO %s: %s\n", mode, ho.why);
	printf("PROBE INFO %s: %u connections asked which msivd serves during "
	    "the handovers; %u failed%s%s\n", mode, ho.polls, ho.poll_errors,
	    ho.poll_errors ? ", the last with " : "",
	    ho.poll_errors ? strerror((int)ho.last_error) : "");
	check(ho.done == handovers && ho.failed == 0 && ho.exited0 ==
	    handovers, WHAT("%s: %u of %u handovers (SIGUSR2): each time "
	    "another msivd serves and the old one exits 0 (%u ms to %u ms, "
	    "%llu ms on average)", mode, ho.exited0, handovers, ho.min_ms,
	    ho.max_ms, ho.done ? ho.total_ms / ho.done : 0));
	check(dead_round == 0 && extra == 0 && done > 0,
	    WHAT("%s: no vector went dead: %u ping-pong rounds (host rings "
	    "vector k, its target fires) all complete, %u of them during "
	    "the handovers, the slowest in %lld ms; %u interrupts beyond one "
	    "a round (%.1f s)", mode, done, ho.rounds_during, slowest, extra,
	    (double)(now_ms() - t0) / 1000));
	check(w1 >= 0 && atomic_load(&enable_clear) == 0 &&
	    atomic_load(&maskall_set) == 0 && atomic_load(&read_errors) == 0 &&
	    ho.sampled_windows == ho.done && ho.done > 0 &&
	    (w1 & MSIX_ENABLE) && !(w1 & MSIX_MASKALL),
	    WHAT("%s: MSI-X stays enabled: %lu samples of Message Control, "
	    "%lu of them during %u of %u handovers; %lu with Enable clear, "
	    "%lu with the function masked, %lu unread; after: 0x%04x", mode,
	    atomic_load(&samples), atomic_load(&samples_during),
	    ho.sampled_windows, ho.done, atomic_load(&enable_clear),
	    atomic_load(&maskall_set), atomic_load(&read_errors), w1));

	/* The same connection, session and vfunc throughout; counters exact
	 * (the round of a vector moves its fired and delivered by one in
	 * relay mode, and not at all in direct mode). */
	ns = msiv_list_sessions(c, ss, 16, sizeof(ss[0]));
	for (int i = 0; i < ns; i++)
		found |= ss[i].session == sid && ss[i].vfuncs == 1;
	check(msiv_fd(c) == fd0 && msiv_session_id(c) == sid && found,
	    WHAT("%s: the client's connection is the one it made before the "
	    "handovers: the same socket, session %llu, its vfunc still its "
	    "own", mode, (unsigned long long)sid));
	ok = 1;
	for (unsigned int i = 0; i < NV; i++) {
		uint64_t want = direct ? 0 : per[i];

		ok &= msiv_vector_query(c, vf, i, &out[i]) == 0 &&
		    out[i].fired - in[i].fired == want &&
		    out[i].delivered - in[i].delivered == want &&
		    !out[i].pending && out[i].routed == (unsigned int)direct;
		if (!ok) {
			printf("PROBE INFO %s: vector %u: %u rounds; fired "
			    "%llu -> %llu, delivered %llu -> %llu, pending %u, "
			    "routed %u\n", mode, i, per[i],
			    (unsigned long long)in[i].fired,
			    (unsigned long long)out[i].fired,
			    (unsigned long long)in[i].delivered,
			    (unsigned long long)out[i].delivered,
			    out[i].pending, out[i].routed);
			break;
		}
	}
	/* What was delivered late would be here now (a query syncs msivd's
	 * delivery loop). */
	for (unsigned int j = 0; j < NV; j++)
		extra += (unsigned int)wait_efd(efd[j], 0);
	check(ok && extra == 0, WHAT("%s: each vector's counters are exact "
	    "across the handovers (%s), nothing pending, nothing spurious",
	    mode, direct ? "the device signals the targets: msivd's counts "
	    "did not move" : "one fired and one delivered a round"));
	/* Rules 4 and 2 on the new msivd, with the host as the source. */
	check(msiv_vector_mask(c, vf, 0) == 0 && ring(HOST, in[0].slot) &&
	    msiv_vector_query(c, vf, 0, &out[0]) == 0 &&
	    wait_efd(efd[0], 200) == 0 && out[0].pending &&
	    msiv_vector_unmask(c, vf, 0) == 0 &&
	    wait_efd(efd[0], 10000) == 1 && wait_efd(efd[0], 200) == 0,
	    WHAT("%s: after the handovers: masked, an interrupt is held "
	    "pending; unmask replays it once", mode));
	bad = kmsg_read(kfd, mode, &lines);
	check(bad == 0, WHAT("%s: the kernel logged %u lines during the "
	    "handovers, none of a reset or of \"No irq handler\"", mode,
	    lines));
	check(msiv_vfunc_close(c, vf) == 0, WHAT("%s: close the vfunc", mode));
	for (unsigned int i = 0; i < NV; i++)
		close(efd[i]);
}

int
main(int argc, char **argv)
{
	struct msiv_device_info dev[4];
	long long deadline;
	int n, st, found = 0;

	if (argc < 6)
		return 2;
	sock = argv[1];
	handovers = (unsigned int)strtoul(argv[3], NULL, 10);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Each new msivd is ours once its parents (the old msivd and its
	 * spawner) are gone. */
	if (!check(prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) == 0,
	    "become the subreaper of msivd's handovers"))
		goto done;
	if (!check(ivshmem_map(argv[2]),
	    "map the ivshmem registers and shared memory"))
		goto done;
	n = msix_find(argv[2]);
	if (!check(n, WHAT("the device's MSI-X capability in its config "
	    "space (at 0x%02x)", msix_cap)))
		goto done;
	msivd = start_msivd(argv[4], argv + 5);
	deadline = now_ms() + 60000;
	while (msivd > 0 && serving_pid() != msivd && now_ms() < deadline)
		usleep(20000);  /* polling msivd's start, with a deadline */
	if (!check(msivd > 0 && now_ms() < deadline, "start msivd"))
		goto done;
	if (!check(msiv_connect(sock, "vm", &c) == 0, "connect to msivd"))
		goto done;
	n = msiv_list_devices(c, dev, 4, sizeof(*dev));
	for (int i = 0; i < n; i++)
		found |= strcmp(dev[i].name, "ivshmem") == 0 &&
		    strcmp(dev[i].backend, "vfio") == 0 &&
		    (dev[i].flags & MSIV_DEVICE_MSIX);
	if (!check(found, "msivd has the ivshmem device: vfio, MSI-X"))
		goto done;
	mode_run("relay", 0);
	mode_run("direct", MSIV_SETUP_DIRECT);
	msiv_close(c);
	/* The last msivd shuts down as any does. */
	st = kill(msivd, SIGTERM) == 0 ? reap(msivd, now_ms() + 60000) : -1;
	check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "the last msivd releases the device and exits 0 on SIGTERM");
	msivd = -1;
done:
	if (msivd > 0) {
		(void)kill(msivd, SIGTERM);
		(void)reap(msivd, now_ms() + 60000);
	}
	printf("PROBE DONE %d\n", failures);
	return failures != 0;
}
