/*
 * systemd's notification protocol (sdnotify.h): through libsystemd where
 * it was found at configure time, else msivd's own, following
 * sd_notify(3): a datagram to the AF_UNIX socket named by $NOTIFY_SOCKET
 * ('@' for the abstract namespace), fds with it as SCM_RIGHTS. What the
 * service manager passes (LISTEN_FDS) is fdstore.c's.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "fdpass.h"
#include "log.h"
#include "sdnotify.h"

#ifdef HAVE_LIBSYSTEMD
int
sdn_notify_fds(const char *state, const int *fds, size_t nfds)
{
	int r = sd_pid_notify_with_fds(0, 0, state, fds, (unsigned int)nfds);

	return r < 0 ? r : 0;
}

#else
int
sdn_notify_fds(const char *state, const int *fds, size_t nfds)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec iov = { (void *)(uintptr_t)state, strlen(state) };
	struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov,
	    .msg_iovlen = 1 };
	size_t len;
	ssize_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	if ((len = strlen(path)) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len + (path[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	n = fdpass_sendmsg(fd, &mh, fds, nfds, 0);
	close(fd);
	return n < 0 ? (int)n : 0;
}
#endif

void
sdn_notify(const char *state)
{
	int r = sdn_notify_fds(state, NULL, 0);

	if (r < 0) {
		errno = -r;
		log_warn("sd_notify");
	}
}
