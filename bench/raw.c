/*
 * msivd's protocol spoken byte by byte, for the figures where libmsiv's
 * one-call-at-a-time would hide what is measured (pipelined requests, a
 * flooder keeping requests in flight): the packet codec and fd passing
 * from lib/, a poll with the bench's deadline around each reply.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "bench.h"
#include "fdpass.h"
#include "proto.h"

size_t
bench_raw_encode(unsigned char *pkt, unsigned int op, uint32_t seq,
    const void *req)
{
	const struct msiv_opinfo *oi = msiv_proto_op(op);
	struct msiv_hdr h = {
		.magic = MSIV_PROTO_MAGIC, .version = MSIV_PROTO_VERSION,
		.opcode = (uint16_t)op, .seq = seq, .len = oi->req_len,
	};

	msiv_hdr_encode(&h, pkt);
	memcpy(pkt + sizeof(h), req, oi->req_len);
	msiv_swap(oi->req_layout, pkt + sizeof(h), oi->req_len);
	return sizeof(h) + oi->req_len;
}

void
bench_raw_send(int fd, unsigned int op, uint32_t seq, const void *req,
    const int *fds, size_t nfds)
{
	unsigned char pkt[MSIV_MSG_MAX];
	size_t len = bench_raw_encode(pkt, op, seq, req);
	int r = fdpass_send(fd, pkt, len, fds, nfds, 0);

	if (r < 0)
		fail("raw send", r);
}

int
bench_raw_recv(int fd, struct msiv_hdr *h, void *rep)
{
	unsigned char pkt[MSIV_MSG_MAX];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int rfds[MSIV_FDS_MAX];
	size_t nr;
	ssize_t n;

	for (;;) {
		const struct msiv_opinfo *oi;

		if (poll(&p, 1, BENCH_TIMEOUT_MS) != 1)
			bench_die("raw: no reply within %d ms",
			    BENCH_TIMEOUT_MS);
		n = fdpass_recv(fd, pkt, sizeof(pkt), rfds, &nr, MSG_DONTWAIT);
		if (n == -EAGAIN)
			continue;
		if (n <= 0)
			bench_die("raw: msivd closed the connection");
		fdpass_close(rfds, nr);
		if (msiv_hdr_decode(pkt, (size_t)n, h) < 0)
			bench_die("raw: a malformed reply");
		if (h->flags & MSIV_F_EVENT)
			continue;
		oi = msiv_proto_op(h->opcode);
		if (rep != NULL && h->status == 0 && oi != NULL &&
		    h->len == oi->rep_len) {
			memcpy(rep, pkt + sizeof(*h), h->len);
			msiv_swap(oi->rep_layout, rep, h->len);
		}
		return h->status;
	}
}
