/*
 * upgrade-client: the VMM of tests/upgrade.sh (make check-upgrade). It
 * holds one connection to msivd, as tenant upgrade-vm, for its whole
 * life, and does what the script asks on standard input, one command a
 * line, answering each with one line on standard output:
 *
 *   setup          open a vfunc of NV vectors on the device, enable it,
 *                  give every vector a message and an eventfd target;
 *                  vector 1 masked, the others unmasked
 *                  -> "setup vfunc=H slots=S0,S1,S2,S3"
 *   conn           -> "conn session=N ino=N resumed=N" (the session id of
 *                  the HELLO, the socket's inode, the RESUMED events seen:
 *                  the same connection keeps its inode and sees none)
 *   query K        -> "query K masked=M pending=P target=T fired=N
 *                  delivered=N coalesced=N dropped=N"
 *   mask K, unmask K -> "mask K ok"
 *   take K         read K's target without waiting -> "take K N"
 *   wait K         wait for K's target (WAIT_MS at most) -> "wait K N"
 *   quit
 *
 * A failed call answers "CMD K error=NAME (reason)". The connection is
 * never re-established (no msiv_set_auto_reconnect): a call that finds it
 * lost fails.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msiv/msiv.h>

#define NV      4
#define WAIT_MS 10000

static struct msiv_conn *conn;
static uint64_t vf;
static int target[NV] = { -1, -1, -1, -1 };
static unsigned int resumed;

static void
on_event(struct msiv_conn *c, const struct msiv_event_info *ev, void *arg)
{
	(void)c;
	(void)arg;
	if (ev->type == MSIV_EV_RESUMED)
		resumed++;
}

static void
fail(const char *cmd, unsigned int k, int r)
{
	printf("%s %u error=%s (%s)\n", cmd, k, msiv_strerror(r),
	    msiv_last_reason(conn));
}

/* Read a target: wait up to ms for it; its counter, or 0. */
static uint64_t
efd_read(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1 || read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void
do_setup(void)
{
	char slots[64];
	size_t off = 0;
	int r;

	if ((r = msiv_vfunc_open(conn, "sim0", NV, MSIV_POLICY_DEFAULT,
	    &vf)) < 0 || (r = msiv_vfunc_enable(conn, vf, 1)) < 0) {
		fail("setup", 0, r);
		return;
	}
	for (unsigned int k = 0; k < NV; k++) {
		struct msiv_vector_info in;

		target[k] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (target[k] < 0) {
			fail("setup", k, -errno);
			return;
		}
		if ((r = msiv_vector_setup(conn, vf, k, 0xfee00000u, 0x40 + k,
		    target[k], k == 1 ? 0 : MSIV_SETUP_UNMASKED)) < 0 ||
		    (r = msiv_vector_query(conn, vf, k, &in)) < 0) {
			fail("setup", k, r);
			return;
		}
		off += (size_t)snprintf(slots + off, sizeof(slots) - off,
		    "%s%" PRIu32, k == 0 ? "" : ",", in.slot);
	}
	printf("setup vfunc=%" PRIx64 " slots=%s\n", vf, slots);
}

static void
do_conn(void)
{
	struct stat st;

	(void)msiv_dispatch(conn);
	if (fstat(msiv_fd(conn), &st) < 0) {
		fail("conn", 0, -errno);
		return;
	}
	printf("conn session=%" PRIu64 " ino=%lu resumed=%u\n",
	    msiv_session_id(conn), (unsigned long)st.st_ino, resumed);
}

static void
do_query(unsigned int k)
{
	struct msiv_vector_info in;
	int r;

	if ((r = msiv_vector_query(conn, vf, k, &in)) < 0) {
		fail("query", k, r);
		return;
	}
	printf("query %u masked=%u pending=%u target=%u fired=%" PRIu64
	    " delivered=%" PRIu64 " coalesced=%" PRIu64 " dropped=%" PRIu64
	    "\n", k, in.masked, in.pending, in.target, in.fired, in.delivered,
	    in.coalesced, in.dropped);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	char line[128], cmd[16];
	int o, r;

	while ((o = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
		if (o != 's') {
			fprintf(stderr, "usage: upgrade-client --socket PATH\n");
			return 2;
		}
		sock = optarg;
	}
	if (sock == NULL || optind != argc) {
		fprintf(stderr, "usage: upgrade-client --socket PATH\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((r = msiv_connect(sock, "upgrade-vm", &conn)) < 0) {
		fprintf(stderr, "upgrade-client: %s: %s\n", sock,
		    msiv_strerror(r));
		return 1;
	}
	msiv_set_event_cb(conn, on_event, NULL);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		unsigned int k = 0;
		int n = sscanf(line, "%15s %u", cmd, &k);

		if (n < 1)
			continue;
		if (strcmp(cmd, "quit") == 0)
			break;
		if (strcmp(cmd, "setup") == 0) {
			do_setup();
			continue;
		}
		if (strcmp(cmd, "conn") == 0) {
			do_conn();
			continue;
		}
		if (n != 2 || k >= NV || target[k] < 0) {
			printf("%s error=bad command\n", cmd);
			continue;
		}
		if (strcmp(cmd, "query") == 0)
			do_query(k);
		else if (strcmp(cmd, "mask") == 0 || strcmp(cmd, "unmask") == 0) {
			r = cmd[0] == 'm' ? msiv_vector_mask(conn, vf, k) :
			    msiv_vector_unmask(conn, vf, k);
			if (r < 0)
				fail(cmd, k, r);
			else
				printf("%s %u ok\n", cmd, k);
		} else if (strcmp(cmd, "take") == 0)
			printf("take %u %" PRIu64 "\n", k, efd_read(target[k], 0));
		else if (strcmp(cmd, "wait") == 0)
			printf("wait %u %" PRIu64 "\n", k,
			    efd_read(target[k], WAIT_MS));
		else
			printf("%s error=bad command\n", cmd);
	}
	msiv_close(conn);
	return 0;
}
