/*
 * The one module that passes file descriptors (SCM_RIGHTS) over the
 * SOCK_SEQPACKET socket. Received fds are close-on-exec
 * (MSG_CMSG_CLOEXEC); a truncated packet or control message is an error
 * and every fd that did arrive is closed.
 */
#ifndef MSIV_FDPASS_H
#define MSIV_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#include <msiv/protocol.h>

/* Send one packet with nfds fds (nfds <= MSIV_FDS_MAX). Returns 0, or
 * -errno (-EAGAIN if the socket is full and non-blocking). */
int fdpass_send(int sock, const void *buf, size_t len, const int *fds,
    size_t nfds, int flags);

/* Send msg (its msg_control is ours) with nfds fds, up to
 * FDPASS_SEND_MAX (SCM_MAX_FD): the daemon's handover and systemd's fd
 * store. Returns the bytes sent, or -errno. */
#define FDPASS_SEND_MAX 253u
struct msghdr;
ssize_t fdpass_sendmsg(int sock, struct msghdr *msg, const int *fds,
    size_t nfds, int flags);

/* Receive one packet of at most cap bytes and up to MSIV_FDS_MAX fds.
 * Returns the packet length (0: orderly close), or -errno: -EMSGSIZE for a
 * truncated packet, -EBADMSG for a control message truncated by the
 * sender (more fds than a packet carries) or a foreign one, -EMFILE when
 * the kernel could not give us the fds (out of fds: the packet is
 * consumed). *nfds is set to the number of fds stored in fds[]. */
ssize_t fdpass_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds,
    int flags);

#define FDPASS_BATCH_MAX 16

/* A packet of a batch received by fdpass_recvv(). */
struct fdpass_rmsg {
	void *buf;             /* in: where the packet goes */
	size_t cap;            /* in: its room */
	ssize_t len;           /* out: as fdpass_recv() returns, but never
				  -EMFILE: */
	int fderr;             /* out: -EMFILE: the packet (len bytes) is
				  whole but its fds could not be received
				  (we are out of fds), nfds is 0; else 0 */
	int fds[MSIV_FDS_MAX];
	size_t nfds;
};

/* Receive up to n packets with one system call (recvmmsg), each checked
 * as fdpass_recv() checks one. Returns how many arrived (>= 1), or -errno
 * when none did; a packet's own errors are in its len. */
int fdpass_recvv(int sock, struct fdpass_rmsg *m, size_t n, int flags);

/* Close n fds (ignoring -1). */
void fdpass_close(int *fds, size_t n);

#endif /* MSIV_FDPASS_H */
