/*
 * Send a uevent-formatted message from user space, as an attacker would:
 * to one netlink port (anyone may) or to the kernel's uevent multicast
 * group (root in the network namespace may). msivd must ignore both.
 *
 *   uevent-forge PORT|multicast ACTION DEVPATH [KEY=VALUE...]
 *
 * Used by test-uevent.sh inside a private network namespace.
 */
#include "config.h"

#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	char buf[4096];
	size_t len = 0;
	int fd, n;

	if (argc < 4) {
		fprintf(stderr, "usage: uevent-forge PORT|multicast ACTION "
		    "DEVPATH [KEY=VALUE...]\n");
		return 2;
	}
	if (strcmp(argv[1], "multicast") == 0)
		to.nl_groups = 1;
	else
		to.nl_pid = (unsigned int)strtoul(argv[1], NULL, 10);
	n = snprintf(buf, sizeof(buf), "%s@%s", argv[2], argv[3]);
	len = (size_t)n + 1;
	n = snprintf(buf + len, sizeof(buf) - len, "ACTION=%s", argv[2]);
	len += (size_t)n + 1;
	n = snprintf(buf + len, sizeof(buf) - len, "DEVPATH=%s", argv[3]);
	len += (size_t)n + 1;
	for (int i = 4; i < argc && len < sizeof(buf) - 256; i++) {
		n = snprintf(buf + len, sizeof(buf) - len, "%s", argv[i]);
		len += (size_t)n + 1;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_KOBJECT_UEVENT);
	if (fd < 0) {
		perror("uevent-forge: socket");
		return 1;
	}
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) !=
	    (ssize_t)len) {
		perror("uevent-forge: sendto");
		return 1;
	}
	close(fd);
	return 0;
}
