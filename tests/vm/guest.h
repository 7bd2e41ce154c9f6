/*
 * What the guest-side test clients (vm-relay.c, vm-msix.c) share: the
 * verdict lines the host reads from the serial console, and waiting on an
 * eventfd. Header-only: each client is one static binary.
 */
#ifndef MSIV_VM_GUEST_H
#define MSIV_VM_GUEST_H

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static int failures;

/* One verdict: "PROBE OK what" or "PROBE FAIL what". */
static int
check(int cond, const char *what)
{
	printf("PROBE %s %s\n", cond ? "OK" : "FAIL", what);
	fflush(stdout);
	failures += !cond;
	return cond;
}

/* Wait up to ms for the eventfd and read it: its count, 0 for none. */
static uint64_t
wait_efd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, ms) == 1 && read(fd, &v, 8) != 8)
		v = 0;
	return v;
}

#endif /* MSIV_VM_GUEST_H */
