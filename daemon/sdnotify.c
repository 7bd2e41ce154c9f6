/*
 * systemd readiness notification and socket activation (sdnotify.h).
 * The fallback follows sd_notify(3) and sd_listen_fds(3): a datagram to
 * the AF_UNIX socket named by $NOTIFY_SOCKET ('@' for the abstract
 * namespace), and fds from 3 (SD_LISTEN_FDS_START) when $LISTEN_PID is
 * this process.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "fdstore.h"
#include "log.h"
#include "sdnotify.h"

#ifdef HAVE_LIBSYSTEMD
void
sdn_notify(const char *state)
{
	int r = sd_notify(0, state);

	if (r < 0) {
		errno = -r;
		log_warn("sd_notify");
	}
}

#else
void
sdn_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t salen;
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof(sa.sun_path)) {
		log_warnx("NOTIFY_SOCKET is too long");
		return;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, salen) < 0)
		log_warn("notify %s", path);
	if (fd >= 0)
		close(fd);
}

#endif

int
sdn_listen_fd(void)
{
	int n = fdstore_init(), fd, type = 0, acc = 0;
	socklen_t len = sizeof(type);
	struct sockaddr_un sa;
	socklen_t salen = sizeof(sa);

	/* The listening socket, and after a crash what msivd kept in the
	 * fd store (fdstore.c: each taken by its name). */
	if (n <= 0)
		return n < 0 ? n : -1;
	if ((fd = fdstore_take_listener()) < 0)
		return fd == -1 ? -1 : fd;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 ||
	    (len = sizeof(acc), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc,
	    &len)) < 0 || sa.sun_family != AF_UNIX || type != SOCK_SEQPACKET ||
	    !acc) {
		log_errx("socket activation: fd %d is not a listening "
		    "AF_UNIX SOCK_SEQPACKET socket (ListenSequentialPacket=)",
		    fd);
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	return fd;
}
