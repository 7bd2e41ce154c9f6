/*
 * vmm-example: what a VMM does with msivd, step by step, in words.
 *
 * It opens a virtual MSI-X function of 4 vectors on the sim device, gives
 * each vector a message and an eventfd (where a real VMM would pass a KVM
 * irqfd), raises interrupts on the device's slots from a separate "device"
 * process, and shows: delivery, masking with the pending bit, replay on
 * unmask, and an atomic retarget to a new eventfd.
 *
 * usage: vmm-example [--socket PATH] [--device NAME] [--tenant NAME]
 *                    [--token-file FILE] [--stay]
 *   --tenant      act for this tenant (default example-vm)
 *   --token-file  keep the tenant's resume token in FILE (read if it
 *                 exists), so that a later run can act for the same tenant
 *   --stay        after the demo, keep the session (and so the vfunc) in
 *                 the background, the way a running VM holds its vectors;
 *                 `msivctl vfuncs` then shows it. If msivd restarts, the
 *                 example reconnects with its token and libmsiv re-attaches
 *                 its eventfds (it gives up a minute after losing msivd).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msiv/msiv.h>

#define NVEC 4
#define WAIT_MS 5000

static struct msiv_conn *conn;
static uint64_t vf;

static void
die(const char *what, int r)
{
	fprintf(stderr, "vmm-example: %s: %s\n", what, msiv_strerror(r));
	exit(1);
}

#define CHECK(call, what) do { int r_ = (call); if (r_ < 0) die(what, r_); } while (0)

static void
on_event(struct msiv_conn *c, const struct msiv_event_info *ev, void *arg)
{
	(void)c;
	(void)arg;
	if (ev->type == MSIV_EV_MSG_CHANGED)
		printf("    [event] vector %u now sends address 0x%llx data "
		    "0x%x: a KVM VMM would update the vector's GSI route\n",
		    ev->vector, (unsigned long long)ev->addr, ev->data);
	else if (ev->type == MSIV_EV_VFUNC_GONE)
		printf("    [event] the daemon took the vfunc away (reason %u)\n",
		    ev->reason);
	else if (ev->type == MSIV_EV_RESUMED)
		printf("    [event] reconnected to msivd; %u eventfds "
		    "re-attached\n", ev->count);
}

/* The token file holds 32 hex digits. */
static int
token_load(const char *path, uint8_t *tok)
{
	FILE *f = fopen(path, "re");
	int ok = 1;

	if (f == NULL)
		return 0;
	for (int i = 0; i < MSIV_TOKEN_LEN && ok; i++) {
		unsigned int b;

		ok = fscanf(f, "%2x", &b) == 1;
		tok[i] = (uint8_t)b;
	}
	fclose(f);
	return ok;
}

static void
token_save(const char *path, const uint8_t *tok)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (f == NULL) {
		perror("vmm-example: token file");
		exit(1);
	}
	for (int i = 0; i < MSIV_TOKEN_LEN; i++)
		fprintf(f, "%02x", tok[i]);
	fprintf(f, "\n");
	if (fclose(f) != 0) {
		perror("vmm-example: token file");
		exit(1);
	}
}

/* Wait until the eventfd is signalled; returns its counter or 0. */
static uint64_t
wait_irq(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, ms) == 1 && read(efd, &v, sizeof(v)) != sizeof(v))
		v = 0;
	return v;
}

/*
 * The "device": a separate process that holds the slot triggers (handed
 * out by the daemon) and raises an interrupt on a slot each time the
 * parent asks through a pipe.
 */
static int
start_device(const int *triggers, pid_t *pid)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	*pid = fork();
	if (*pid < 0)
		return -errno;
	if (*pid == 0) {
		unsigned char vec;

		close(p[1]);
		while (read(p[0], &vec, 1) == 1) {
			uint64_t one = 1;

			if (vec < NVEC && write(triggers[vec], &one,
			    sizeof(one)) != sizeof(one))
				_exit(1);
		}
		_exit(0);
	}
	close(p[0]);
	return p[1];
}

static void
raise_irq(int dev, unsigned char vec)
{
	if (write(dev, &vec, 1) != 1) {
		perror("vmm-example: device");
		exit(1);
	}
}

static void
show(unsigned int vec)
{
	struct msiv_vector_info in;

	CHECK(msiv_vector_query(conn, vf, vec, &in), "query");
	printf("    vector %u: %s, pending bit %u, delivered %llu, "
	    "interrupts seen %llu\n", vec, in.masked ? "masked" : "unmasked",
	    in.pending, (unsigned long long)in.delivered,
	    (unsigned long long)in.fired);
}

static void
dispatch(void)
{
	if (msiv_dispatch(conn) < 0) {
		fprintf(stderr, "vmm-example: lost the daemon\n");
		exit(1);
	}
}

/* Poll until the vector's pending bit is set (the daemon saw the fire). */
static int
wait_pending(unsigned int vec)
{
	struct msiv_vector_info in;

	for (int i = 0; i < WAIT_MS / 10; i++) {
		CHECK(msiv_vector_query(conn, vf, vec, &in), "query");
		if (in.pending)
			return 1;
		usleep(10000);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ "stay", no_argument, NULL, 'S' },
		{ "token-file", required_argument, NULL, 't' },
		{ "tenant", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *devname = "sim0", *tokfile = NULL;
	const char *tenant = "example-vm";
	uint8_t token[MSIV_TOKEN_LEN];
	int have_token = 0;
	int efd[NVEC], trig[NVEC], stay = 0, ch, dev, newfd;
	struct msiv_device_info devs[16];
	uint32_t first_slot = 0;
	pid_t devpid = -1;
	uint64_t v;

	while ((ch = getopt_long(argc, argv, "s:d:St:T:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'd':
			devname = optarg;
			break;
		case 'S':
			stay = 1;
			break;
		case 't':
			tokfile = optarg;
			break;
		case 'T':
			tenant = optarg;
			break;
		default:
			fprintf(stderr, "usage: vmm-example [--socket PATH] "
			    "[--device NAME] [--tenant NAME] [--token-file FILE] "
			    "[--stay]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("1. Connect to msivd and say hello.\n");
	if (tokfile != NULL)
		have_token = token_load(tokfile, token);
	CHECK(msiv_connect_token(sock, tenant, have_token ? token : NULL,
	    &conn), "connect (another run of the example holds the tenant: "
	    "give it the same --token-file, or another --tenant)");
	if (tokfile != NULL) {
		msiv_token(conn, token);
		token_save(tokfile, token);
	}
	msiv_set_event_cb(conn, on_event, NULL);
	printf("    session %llu, tenant \"%s\"\n",
	    (unsigned long long)msiv_session_id(conn), msiv_tenant(conn));
	CHECK(msiv_list_devices(conn, devs, 16, sizeof(*devs)), "devices");

	printf("2. Open a virtual MSI-X function of %d vectors on %s.\n"
	    "    The daemon gives it %d of the device's slots (host vectors).\n",
	    NVEC, devname, NVEC);
	CHECK(msiv_vfunc_open(conn, devname, NVEC, MSIV_POLICY_DEFAULT, &vf),
	    "open vfunc");
	{
		struct msiv_vector_info in;

		CHECK(msiv_vector_query(conn, vf, 0, &in), "query");
		first_slot = in.slot;
	}
	printf("    vfunc handle 0x%016llx, slots %u-%u\n",
	    (unsigned long long)vf, first_slot, first_slot + NVEC - 1);

	printf("3. Give every vector a message (address/data) and an eventfd,\n"
	    "   unmasked, then set MSI-X Enable. A real VMM passes KVM irqfds.\n");
	for (int i = 0; i < NVEC; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC);
		if (efd[i] < 0)
			die("eventfd", -errno);
		CHECK(msiv_vector_setup(conn, vf, (unsigned int)i,
		    0xfee00000u + ((unsigned int)i << 12), 0x40u + (unsigned)i,
		    efd[i], MSIV_SETUP_UNMASKED), "setup");
	}
	CHECK(msiv_vfunc_enable(conn, vf, 1), "enable");
	dispatch();

	printf("4. Start a separate \"device\" process holding the slots' "
	    "trigger eventfds.\n");
	CHECK(msiv_sim_triggers(conn, devname, first_slot, NVEC, trig),
	    "sim triggers (needs admin rights: run as the daemon's user)");
	dev = start_device(trig, &devpid);
	if (dev < 0)
		die("fork", dev);
	for (int i = 0; i < NVEC; i++)
		close(trig[i]);

	printf("5. The device raises an interrupt on each vector; the daemon "
	    "relays it.\n");
	for (int i = 0; i < NVEC; i++) {
		raise_irq(dev, (unsigned char)i);
		v = wait_irq(efd[i], WAIT_MS);
		printf("    vector %d: %s\n", i, v ? "interrupt delivered to its "
		    "eventfd" : "NOTHING ARRIVED");
		if (!v)
			return 1;
	}

	printf("6. Mask vector 1, then the device raises it three times.\n"
	    "   Masked vectors deliver nothing; the daemon sets the pending "
	    "bit instead.\n");
	CHECK(msiv_vector_mask(conn, vf, 1), "mask");
	for (int i = 0; i < 3; i++)
		raise_irq(dev, 1);
	if (!wait_pending(1))
		die("pending bit never set", -ETIMEDOUT);
	v = wait_irq(efd[1], 200);
	printf("    eventfd of vector 1 while masked: %s\n",
	    v ? "SIGNALLED (wrong)" : "quiet, as it should be");
	show(1);

	printf("7. Unmask vector 1: the pending interrupt is replayed exactly "
	    "once.\n");
	CHECK(msiv_vector_unmask(conn, vf, 1), "unmask");
	v = wait_irq(efd[1], WAIT_MS);
	printf("    eventfd of vector 1: %s\n", v == 1 ? "one interrupt "
	    "(three raised while masked coalesce into one)" : "unexpected");
	show(1);

	printf("8. Retarget vector 2 to a new eventfd and a new message, "
	    "atomically.\n");
	newfd = eventfd(0, EFD_CLOEXEC);
	if (newfd < 0)
		die("eventfd", -errno);
	CHECK(msiv_vector_retarget(conn, vf, 2, MSIV_RETARGET_TARGET |
	    MSIV_RETARGET_MSG, 0xfee01000u, 0x52, newfd), "retarget");
	dispatch();
	raise_irq(dev, 2);
	v = wait_irq(newfd, WAIT_MS);
	printf("    new eventfd: %s; old eventfd: %s\n",
	    v ? "interrupt arrived" : "NOTHING ARRIVED",
	    wait_irq(efd[2], 200) ? "SIGNALLED (wrong)" : "quiet");
	close(newfd); /* the daemon holds its own copy */

	printf("9. Mask vector 3 and leave an interrupt pending, for msivctl "
	    "to show.\n");
	CHECK(msiv_vector_mask(conn, vf, 3), "mask");
	raise_irq(dev, 3);
	if (!wait_pending(3))
		die("pending bit never set", -ETIMEDOUT);
	show(3);

	close(dev);
	waitpid(devpid, NULL, 0);
	if (!stay) {
		printf("Done: closing the vfunc.\n");
		CHECK(msiv_vfunc_close(conn, vf), "close vfunc");
		msiv_close(conn);
		return 0;
	}
	printf("Done. The example stays connected in the background, holding "
	    "its vfunc.\nWhen msivd goes away it tries to reconnect with its "
	    "token for a minute,\nthen exits.\n");
	if (daemon(1, 0) < 0)
		die("daemon", -errno);
	msiv_set_auto_reconnect(conn, 60000);
	for (;;) {
		struct pollfd p = { .fd = msiv_fd(conn), .events = POLLIN };

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		if (msiv_dispatch(conn) < 0)
			break;
	}
	msiv_close(conn);
	return 0;
}
