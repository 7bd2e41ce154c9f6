/*
 * Fuzz target: msivd's message decoder and command dispatch, in process.
 * The daemon's pieces start once (the embedded sim0 device, a store in a
 * private temporary directory, orphan_grace 0 so a closed session releases
 * what it opened); each input becomes one session on a socketpair, served
 * through server_adopt() exactly as an accepted connection (as root: an
 * admin, so every opcode is reachable).
 *
 * Input framing, repeated: 2 bytes of length (big-endian, at most
 * MSIV_MSG_MAX), 1 byte of flags, then that many bytes, sent as one
 * packet. Flags: 0x1 attach an eventfd, 0x2 attach a second one (a pipe
 * end with 0x4), 0x8 write a valid magic, version and length into the
 * header so the fuzzer reaches the handlers quickly.
 *
 * The delivery thread is not started: relay delivery is not what is
 * fuzzed here, and deliver_sync() is a no-op without it.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "deliver.h"
#include "device.h"
#include "fdpass.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static struct conf conf;

static void
fz_init(void)
{
	char dir[] = "/tmp/msiv-fuzz-XXXXXX", err[512];

	conf_defaults(&conf);
	conf_embedded_devices(&conf);
	conf.orphan_grace = 0;
	log_init(1, LOG_LEVEL_ERROR);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(conf.state_dir, sizeof(conf.state_dir), "%s", dir);
	base = event_base_new();
	if (base == NULL || event_base_priority_init(base, 3) < 0 ||
	    deliver_init() < 0 || server_init(base, &conf) < 0 ||
	    device_create(&conf.devices[0], NULL) < 0 ||
	    store_open(conf.state_dir, base, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "fuzz: cannot start the daemon's pieces\n");
		abort();
	}
}

static void
fz_run(int peer)
{
	unsigned char buf[MSIV_MSG_MAX];

	for (int i = 0; i < 4; i++)
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
	for (;;) {
		int fds[MSIV_FDS_MAX];
		size_t nfds;
		ssize_t n = fdpass_recv(peer, buf, sizeof(buf), fds, &nfds,
		    MSG_DONTWAIT);

		if (n <= 0)
			break;
		fdpass_close(fds, nfds);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];

	if (base == NULL)
		fz_init();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0, sv) < 0)
		abort();
	server_adopt(sv[0]);
	while (size >= 3) {
		size_t len = (size_t)data[0] << 8 | data[1];
		unsigned int flags = data[2];
		unsigned char pkt[MSIV_MSG_MAX] = { 0 };
		int fds[2], nfds = 0, p[2];

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > sizeof(pkt))
			len = sizeof(pkt);
		memcpy(pkt, data, len);
		data += len;
		size -= len;
		if ((flags & 0x8) && len >= sizeof(struct msiv_hdr)) {
			struct msiv_hdr h;

			memcpy(&h, pkt, sizeof(h));
			h.magic = MSIV_PROTO_MAGIC;
			h.version = MSIV_PROTO_VERSION;
			h.len = (uint32_t)(len - sizeof(h));
			msiv_hdr_encode(&h, pkt);
		}
		if (flags & 0x1)
			fds[nfds++] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if ((flags & 0x4) && pipe2(p, O_CLOEXEC) == 0) {
			fds[nfds++] = p[1];
			close(p[0]);
		} else if (flags & 0x2)
			fds[nfds++] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		(void)fdpass_send(sv[1], pkt, len, fds, (size_t)nfds,
		    MSG_DONTWAIT);
		for (int i = 0; i < nfds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		fz_run(sv[1]);
	}
	close(sv[1]);
	/* The session sees the end and is freed on the next turns. */
	for (int i = 0; i < 4; i++)
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
