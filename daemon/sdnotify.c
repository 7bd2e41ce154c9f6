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

#include "log.h"
#include "sdnotify.h"

#define SDN_LISTEN_FDS_START 3

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

static int
sdn_count(void)
{
	return sd_listen_fds(1);
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

static int
sdn_count(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long n;
	int r = 0;

	if (pid == NULL || fds == NULL)
		goto out;
	errno = 0;
	if (strtol(pid, &end, 10) != (long)getpid() || *end != '\0')
		goto out; /* meant for another process */
	n = strtol(fds, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > 64) {
		r = -EINVAL;
		goto out;
	}
	r = (int)n;
	for (int fd = SDN_LISTEN_FDS_START; fd < SDN_LISTEN_FDS_START + r;
	    fd++)
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			r = -errno;
			break;
		}
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return r;
}
#endif

int
sdn_listen_fd(void)
{
	int n = sdn_count(), fd = SDN_LISTEN_FDS_START, type = 0, acc = 0;
	socklen_t len = sizeof(type);
	struct sockaddr_un sa;
	socklen_t salen = sizeof(sa);

	if (n <= 0)
		return n < 0 ? n : -1;
	if (n > 1) {
		log_errx("socket activation: %d sockets passed, msivd takes "
		    "one", n);
		return -EINVAL;
	}
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
