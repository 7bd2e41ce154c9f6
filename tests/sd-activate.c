/*
 * The test suite as the service manager: sd-activate SOCKET NOTIFYLOG CMD
 * [ARGS...] makes a listening SOCK_SEQPACKET socket at SOCKET (0660) and a
 * notify socket at SOCKET.notify, runs CMD with the listener as fd 3
 * (LISTEN_FDS=1, LISTEN_PID) and NOTIFY_SOCKET set, appends every
 * notification it receives to NOTIFYLOG (one line each, newlines as
 * '|'), and exits with CMD's exit status once CMD is gone. The socket
 * file is left in place, as systemd leaves it between activations.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t child = -1;

/* As a service manager stops its service: SIGTERM to the main process. */
static void
forward(int sig)
{
	if (child > 0)
		(void)kill(child, sig);
}

static int
bound(int type, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
		perror("socket");
		exit(1);
	}
	memcpy(sa.sun_path, path, strlen(path));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

int
main(int argc, char **argv)
{
	char npath[128], buf[4096], pid[32];
	int lfd, nfd, st = 0, done = 0;
	FILE *log;

	if (argc < 4) {
		fprintf(stderr, "usage: sd-activate SOCKET NOTIFYLOG CMD...\n");
		return 2;
	}
	snprintf(npath, sizeof(npath), "%s.notify", argv[1]);
	lfd = bound(SOCK_SEQPACKET, argv[1]);
	if (chmod(argv[1], 0660) < 0 || listen(lfd, 128) < 0) {
		perror("listen");
		return 1;
	}
	nfd = bound(SOCK_DGRAM, npath);
	if ((log = fopen(argv[2], "ae")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	signal(SIGTERM, forward);
	signal(SIGINT, forward);
	if ((child = fork()) < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		/* fd 3 is the listener, without close-on-exec. The child
		 * dies with us (the test's clean-up kills us with -9). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
		    getppid() == 1 || dup2(lfd, 3) < 0 || fcntl(3, F_SETFD, 0) < 0)
			_exit(126);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", pid, 1);
		setenv("NOTIFY_SOCKET", npath, 1);
		execvp(argv[3], argv + 3);
		_exit(127);
	}
	close(lfd);
	for (;;) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		ssize_t n;

		if (!done && waitpid(child, &st, WNOHANG) == child)
			done = 1; /* what it sent before exiting is still read */
		if (poll(&p, 1, done ? 0 : 100) == 1 &&
		    (n = recv(nfd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			for (char *c = buf; *c != '\0'; c++)
				if (*c == '\n')
					*c = '|';
			fprintf(log, "%s\n", buf);
			fflush(log);
			continue;
		}
		if (done)
			break;
	}
	fclose(log);
	unlink(npath);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
