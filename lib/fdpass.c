/*
 * Passing file descriptors over the SEQPACKET socket (see fdpass.h). The
 * only place in msiv that builds or parses SCM_RIGHTS control messages.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <msiv/protocol.h>

#include "fdpass.h"

#define FDPASS_CMSG_SPACE CMSG_SPACE(MSIV_FDS_MAX * sizeof(int))
/* The fds the kernel puts in a control buffer of that size (its padding
 * may hold more than MSIV_FDS_MAX). */
#define FDPASS_CMSG_FDS ((FDPASS_CMSG_SPACE - CMSG_LEN(0)) / sizeof(int))

union fdpass_cmsg {
	char buf[FDPASS_CMSG_SPACE];
	struct cmsghdr align;
};

void
fdpass_close(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

ssize_t
fdpass_sendmsg(int sock, struct msghdr *msg, const int *fds, size_t nfds,
    int flags)
{
	union {
		char buf[CMSG_SPACE(FDPASS_SEND_MAX * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct cmsghdr *c;
	ssize_t n;

	if (nfds > FDPASS_SEND_MAX)
		return -EINVAL;
	msg->msg_control = NULL;
	msg->msg_controllen = 0;
	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		msg->msg_control = cm.buf;
		msg->msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, msg, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	msg->msg_control = NULL;
	msg->msg_controllen = 0;
	return n < 0 ? -errno : n;
}

int
fdpass_send(int sock, const void *buf, size_t len, const int *fds,
    size_t nfds, int flags)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > MSIV_FDS_MAX)
		return -EINVAL;
	if ((n = fdpass_sendmsg(sock, &msg, fds, nfds, flags)) < 0)
		return (int)n;
	if ((size_t)n != len)
		return -EMSGSIZE; /* SEQPACKET sends whole packets or none */
	return 0;
}

/*
 * A packet of n bytes arrived as msg: take its fds into fds[] and check
 * it. Returns n, or -EMSGSIZE / -EBADMSG / -EMFILE with every fd closed.
 *
 * MSG_CTRUNC has two causes, told apart by how many fds arrived. The
 * kernel fills the control buffer up to its room (FDPASS_CMSG_FDS fds)
 * and stops early only when it cannot install an fd in our table (out
 * of fds: RLIMIT_NOFILE, or the system's limit; in principle also a
 * security module refusing the file, reported the same way). So a
 * truncated message with the buffer full is the sender's doing (more fds
 * than any packet carries): -EBADMSG; one with fewer is ours: -EMFILE,
 * and the packet itself is intact.
 */
static ssize_t
fdpass_take(struct msghdr *msg, ssize_t n, int *fds, size_t *nfds)
{
	struct cmsghdr *c;
	size_t total = 0;
	int bad = 0;

	*nfds = 0;
	/* Collect every fd that arrived first, so that all are closed on any
	 * error below. */
	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = 1; /* e.g. SCM_CREDENTIALS we did not ask for */
			continue;
		}
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		total += k;
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < MSIV_FDS_MAX)
				fds[(*nfds)++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (!bad && (msg->msg_flags & MSG_CTRUNC) && total < FDPASS_CMSG_FDS &&
	    !(msg->msg_flags & MSG_TRUNC)) {
		fdpass_close(fds, *nfds);
		*nfds = 0;
		return -EMFILE;
	}
	if (msg->msg_flags & MSG_CTRUNC)
		bad = 1;
	if (bad || (msg->msg_flags & MSG_TRUNC)) {
		fdpass_close(fds, *nfds);
		*nfds = 0;
		return bad ? -EBADMSG : -EMSGSIZE;
	}
	return n;
}

ssize_t
fdpass_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds,
    int flags)
{
	union fdpass_cmsg cm;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cm.buf, .msg_controllen = sizeof(cm.buf),
	};
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return fdpass_take(&msg, n, fds, nfds);
}

int
fdpass_recvv(int sock, struct fdpass_rmsg *m, size_t n, int flags)
{
	union fdpass_cmsg cm[FDPASS_BATCH_MAX];
	struct iovec iov[FDPASS_BATCH_MAX];
	struct mmsghdr mm[FDPASS_BATCH_MAX];
	int got;

	if (n == 0 || n > FDPASS_BATCH_MAX)
		return -EINVAL;
	memset(mm, 0, n * sizeof(mm[0]));
	for (size_t i = 0; i < n; i++) {
		iov[i].iov_base = m[i].buf;
		iov[i].iov_len = m[i].cap;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_control = cm[i].buf;
		mm[i].msg_hdr.msg_controllen = sizeof(cm[i].buf);
	}
	do
		got = recvmmsg(sock, mm, (unsigned int)n,
		    flags | MSG_CMSG_CLOEXEC, NULL);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	for (int i = 0; i < got; i++) {
		m[i].len = fdpass_take(&mm[i].msg_hdr, (ssize_t)mm[i].msg_len,
		    m[i].fds, &m[i].nfds);
		m[i].fderr = 0;
		if (m[i].len == -EMFILE) {
			/* The packet is whole: the receiver can answer it. */
			m[i].fderr = -EMFILE;
			m[i].len = (ssize_t)mm[i].msg_len;
		}
	}
	return got;
}
