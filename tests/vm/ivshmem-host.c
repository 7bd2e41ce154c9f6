/*
 * ivshmem-host: the host side of the guest's ivshmem-doorbell device (QEMU
 * docs/specs/ivshmem-spec.rst). It is the ivshmem server QEMU connects to,
 * and it is a peer of that server too: peer 0, whose interrupt eventfds
 * the server hands to every client as an ordinary connect notification.
 * QEMU (the guest's device) becomes peer 1, 2, ...
 *
 * Being a peer lets it raise the guest device's MSI-X vectors from outside
 * the guest: a source of interrupts msivd (inside the guest) cannot see
 * coming. The guest asks for them through a mailbox at the start of the
 * shared memory and rings peer 0's vector 0; this program then writes the
 * guest's eventfd of the asked vector count times and marks the request
 * done in the mailbox.
 *
 * usage: ivshmem-host SOCKET VECTORS LOG
 * Listens on SOCKET, then forks: the parent exits 0 once the socket is
 * ready (so QEMU may start), the child serves until its last client
 * disconnects or it gets SIGTERM. LOG records what it did.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SHM_SIZE (1u << 20)
#define MAX_VECTORS 64
#define MAX_PEERS 8

/* The mailbox, at offset 0 of the shared memory (the guest's BAR2). */
struct mailbox {
	uint32_t req;      /* guest: bumped after vector/count are written */
	uint32_t vector;
	uint32_t count;
	uint32_t done;     /* host: set to req once the vector was rung */
	uint32_t peer;     /* guest: its own peer id */
	uint32_t rung;     /* host: interrupts raised so far */
};

struct peer {
	int sock;              /* -1: free */
	int efd[MAX_VECTORS];  /* its interrupt eventfds */
};

static unsigned int nvec;
static struct peer peers[MAX_PEERS];  /* index = peer id; 0 is us */
static int shm;
static FILE *logf;

static void
die(const char *what)
{
	fprintf(logf != NULL ? logf : stderr, "ivshmem-host: %s: %s\n", what,
	    strerror(errno));
	exit(1);
}

/* One protocol message: a little-endian int64, maybe with an fd. */
static int
send_msg(int sock, int64_t v, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	v = (int64_t)htole64((uint64_t)v);
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == sizeof(v) ? 0 : -1;
}

/* A peer's connect notification: its id once per vector, with the fd. */
static int
announce(int sock, unsigned int id)
{
	for (unsigned int i = 0; i < nvec; i++)
		if (send_msg(sock, id, peers[id].efd[i]) < 0)
			return -1;
	return 0;
}

static void
new_client(int lsock)
{
	int s = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	unsigned int id;

	if (s < 0)
		return;
	for (id = 1; id < MAX_PEERS && peers[id].sock >= 0; id++)
		;
	if (id == MAX_PEERS) {
		fprintf(logf, "too many peers, refused\n");
		close(s);
		return;
	}
	for (unsigned int i = 0; i < nvec; i++) {
		peers[id].efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (peers[id].efd[i] < 0)
			die("eventfd");
	}
	peers[id].sock = s;
	/* version, id, shared memory, the other peers, then its own. */
	if (send_msg(s, 0, -1) < 0 || send_msg(s, id, -1) < 0 ||
	    send_msg(s, -1, shm) < 0)
		goto fail;
	for (unsigned int p = 0; p < MAX_PEERS; p++) {
		if (p == id || (p != 0 && peers[p].sock < 0))
			continue;
		if (announce(s, p) < 0 ||
		    (p != 0 && announce(peers[p].sock, id) < 0))
			goto fail;
	}
	if (announce(s, id) < 0)
		goto fail;
	fprintf(logf, "peer %u connected, %u vectors\n", id, nvec);
	return;
fail:
	fprintf(logf, "peer %u: setup failed: %s\n", id, strerror(errno));
	close(s);
	peers[id].sock = -1;
}

static void
gone(unsigned int id)
{
	close(peers[id].sock);
	peers[id].sock = -1;
	for (unsigned int i = 0; i < nvec; i++)
		close(peers[id].efd[i]);
	for (unsigned int p = 1; p < MAX_PEERS; p++)
		if (peers[p].sock >= 0)
			(void)send_msg(peers[p].sock, id, -1);
	fprintf(logf, "peer %u disconnected\n", id);
}

/* Our vector 0 rang: serve the mailbox. */
static void
serve(struct mailbox *mb)
{
	uint32_t req = __atomic_load_n(&mb->req, __ATOMIC_ACQUIRE);
	uint32_t peer = mb->peer, v = mb->vector, n = mb->count;
	uint64_t one = 1;

	if (req == __atomic_load_n(&mb->done, __ATOMIC_RELAXED))
		return;
	if (peer == 0 || peer >= MAX_PEERS || peers[peer].sock < 0 ||
	    v >= nvec || n > 1000) {
		fprintf(logf, "bad request %u: peer %u vector %u count %u\n",
		    req, peer, v, n);
	} else {
		for (uint32_t i = 0; i < n; i++)
			if (write(peers[peer].efd[v], &one, 8) != 8)
				die("write");
		fprintf(logf, "request %u: rang peer %u vector %u x%u\n", req,
		    peer, v, n);
		__atomic_add_fetch(&mb->rung, n, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&mb->done, req, __ATOMIC_RELEASE);
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd[MAX_PEERS + 2];
	struct mailbox *mb;
	int lsock, served = 0;
	pid_t pid;

	if (argc != 4 || (nvec = (unsigned int)atoi(argv[2])) == 0 ||
	    nvec > MAX_VECTORS || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: ivshmem-host SOCKET VECTORS LOG\n");
		return 2;
	}
	logf = fopen(argv[3], "we");
	if (logf == NULL)
		die(argv[3]);
	setvbuf(logf, NULL, _IOLBF, 0);
	shm = memfd_create("msiv-ivshmem", MFD_CLOEXEC);
	if (shm < 0 || ftruncate(shm, SHM_SIZE) < 0)
		die("shared memory");
	mb = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
	if (mb == MAP_FAILED)
		die("mmap");
	for (unsigned int p = 0; p < MAX_PEERS; p++)
		peers[p].sock = -1;
	for (unsigned int i = 0; i < nvec; i++)
		if ((peers[0].efd[i] = eventfd(0, EFD_CLOEXEC |
		    EFD_NONBLOCK)) < 0)
			die("eventfd");
	strcpy(sa.sun_path, argv[1]);
	lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lsock, 4) < 0)
		die(argv[1]);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid > 0)
		return 0;  /* the socket is ready */
	(void)setsid();
	for (;;) {
		unsigned int n = 0, ids[MAX_PEERS + 2];
		int any = 0;

		pfd[n++] = (struct pollfd){ .fd = lsock, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = peers[0].efd[0],
		    .events = POLLIN };
		for (unsigned int p = 1; p < MAX_PEERS; p++) {
			if (peers[p].sock < 0)
				continue;
			any = 1;
			ids[n] = p;
			pfd[n++] = (struct pollfd){ .fd = peers[p].sock,
			    .events = POLLIN };
		}
		if (served && !any)
			break;  /* the last client (QEMU) has gone */
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[0].revents & POLLIN) {
			new_client(lsock);
			served = 1;
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t c;

			if (read(peers[0].efd[0], &c, 8) == 8)
				serve(mb);
		}
		for (unsigned int i = 2; i < n; i++) {
			char b[64];

			/* Clients never send; readable means gone. */
			if (pfd[i].revents && read(pfd[i].fd, b, sizeof(b)) <= 0)
				gone(ids[i]);
		}
	}
	unlink(argv[1]);
	fprintf(logf, "done\n");
	return 0;
}
