/*
 * systemd's file descriptor store (msivd(8), RESTART AND UPGRADE): under
 * a service manager that keeps fds for its services (NOTIFY_SOCKET set),
 * msivd keeps there what a crash must not close, so that a restarted
 * msivd takes it back (LISTEN_FDS, LISTEN_FDNAMES) instead of reopening
 * it: a VFIO device closed by its last user has its MSI-X disabled.
 *
 * What is kept, by name (FDNAME= takes no ':'; each at most 255 bytes):
 *
 *   listen                  the listening socket msivd made itself (one
 *                           passed by msivd.socket is systemd's already)
 *   dev.NAME.fdI            a device backend's fds (vfio: container,
 *                           group, device, request IRQ), I in the order of
 *   dev.NAME.state          a memfd: what the backend knows of them
 *                           (vfio: the enabled range, armed vectors),
 *                           rewritten when it changes
 *   trig.NAME.SLOT          a slot's trigger
 *   tgt.NAME.SLOT           the target of a set-up vector on slot SLOT,
 *                           replaced (FDSTOREREMOVE=1) when it changes
 *
 * One fd per notification, each under its own name: FDNAME= names every
 * fd a notification carries (up to 253: SCM_MAX_FD), and systemd gives
 * the store back in an order of its own (252 prepends each fd), so fds
 * sharing a name could not be told apart.
 *
 * The sessions are not kept: after a crash clients reconnect and resume.
 * Nor are the vectors' pending bits, which live in msivd's memory: a
 * crash assumes one pending on every set-up vector, as a plain restart
 * does (at most one spurious interrupt, none lost). The unit sizes the
 * store (FileDescriptorStoreMax=). systemd 252 empties it when the
 * service stops (FileDescriptorStorePreserve= came in 254): only a crash
 * or a kill, restarted by Restart=, gets it back.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdstore.h"
#include "log.h"
#include "sdnotify.h"

#define FDSTORE_FIRST 3            /* SD_LISTEN_FDS_START */
#define FDSTORE_MAX_TAKEN 1048576  /* LimitNOFILE= */

struct fdstore_fd {
	char *name;
	int fd;                    /* -1 once taken */
};

static struct fdstore_fd *fs_fds;
static size_t fs_n;
static int fs_on = -1;             /* NOTIFY_SOCKET is usable */

/* --- what the service manager passed -------------------------------------- */

int
fdstore_init(void)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char *end, *copy = NULL, *save = NULL, *tok;
	long n;
	int r = 0;

	if (pid == NULL || nfds == NULL)
		goto out;
	errno = 0;
	if (strtol(pid, &end, 10) != (long)getpid() || *end != '\0')
		goto out; /* meant for another process */
	n = strtol(nfds, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > FDSTORE_MAX_TAKEN) {
		r = -EINVAL;
		goto out;
	}
	if (n == 0)
		goto out;
	if ((fs_fds = calloc((size_t)n, sizeof(*fs_fds))) == NULL ||
	    (names != NULL && (copy = strdup(names)) == NULL)) {
		r = -ENOMEM;
		goto out;
	}
	tok = copy != NULL ? strtok_r(copy, ":", &save) : NULL;
	for (long i = 0; i < n; i++) {
		int fd = FDSTORE_FIRST + (int)i;

		if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			r = -errno;
			goto out;
		}
		fs_fds[i].fd = fd;
		fs_fds[i].name = strdup(tok != NULL ? tok : "unknown");
		if (fs_fds[i].name == NULL) {
			r = -ENOMEM;
			goto out;
		}
		tok = tok != NULL ? strtok_r(NULL, ":", &save) : NULL;
	}
	fs_n = (size_t)n;
out:
	free(copy);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return r < 0 ? r : (int)fs_n;
}

static int
fdstore_ours(const char *name)
{
	return strcmp(name, "listen") == 0 || strncmp(name, "dev.", 4) == 0 ||
	    strncmp(name, "trig.", 5) == 0 || strncmp(name, "tgt.", 4) == 0;
}

int
fdstore_take_listener(void)
{
	int fd = -1;

	/* Ours ("listen"), or the one socket activation passed (named
	 * after its unit); two is one too many. */
	for (size_t i = 0; i < fs_n; i++) {
		if (fs_fds[i].fd < 0 || (fdstore_ours(fs_fds[i].name) &&
		    strcmp(fs_fds[i].name, "listen") != 0))
			continue;
		if (fd >= 0) {
			log_errx("socket activation: more than one socket "
			    "passed, msivd takes one");
			return -EINVAL;
		}
		fd = fs_fds[i].fd;
		fs_fds[i].fd = -1;
	}
	return fd;
}

size_t
fdstore_take(const char *name, int *fds, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < fs_n && k < max; i++)
		if (fs_fds[i].fd >= 0 && strcmp(fs_fds[i].name, name) == 0) {
			fds[k++] = fs_fds[i].fd;
			fs_fds[i].fd = -1;
		}
	return k;
}

void
fdstore_each(const char *prefix, fdstore_fn *fn, void *arg)
{
	size_t len = strlen(prefix);

	for (size_t i = 0; i < fs_n; i++)
		if (fs_fds[i].fd >= 0 && strncmp(fs_fds[i].name, prefix,
		    len) == 0)
			fn(fs_fds[i].name, &fs_fds[i].fd, arg);
}

size_t
fdstore_leftover(void)
{
	size_t n = 0;

	for (size_t i = 0; i < fs_n; i++) {
		if (fs_fds[i].fd >= 0) {
			if (fdstore_ours(fs_fds[i].name))
				fdstore_remove(fs_fds[i].name);
			close(fs_fds[i].fd);
			n++;
		}
		free(fs_fds[i].name);
	}
	free(fs_fds);
	fs_fds = NULL;
	fs_n = 0;
	return n;
}

int
fdstore_listen_fd(void)
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

/* --- keeping fds there ----------------------------------------------------- */

int
fdstore_on(void)
{
	if (fs_on < 0) {
		const char *p = getenv("NOTIFY_SOCKET");

		fs_on = p != NULL && (p[0] == '/' || p[0] == '@');
	}
	return fs_on;
}

void
fdstore_put(const char *name, const int *fds, size_t nfds)
{
	char state[300];
	int r;

	if (!fdstore_on() || nfds == 0)
		return;
	snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=%s", name);
	if ((r = sdn_notify_fds(state, fds, nfds)) < 0) {
		errno = -r;
		log_warn("fd store: cannot keep %s there", name);
	}
}

void
fdstore_remove(const char *name)
{
	char state[300];

	if (!fdstore_on())
		return;
	snprintf(state, sizeof(state), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	(void)sdn_notify_fds(state, NULL, 0);
}
