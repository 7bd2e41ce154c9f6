/*
 * Where msivd keeps its targets (daemon/cmd-vector.c, cmd_target_high):
 * at fd 1024 and above when its open file limit allows, so that the
 * sessions it accepts after many targets still get low numbers and
 * libevent's fd-indexed array stays small (doc/performance.md, memory).
 * Counted in /proc/PID/fd of the real msivd: its eventfds at 1024 and
 * above are exactly the attached targets (the sim device makes no trigger
 * until a slot is fired, and msivd's own eventfds are made at start-up,
 * low); a target moved there still delivers. Skips where msivd may not
 * open fd 1024.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define FLOOR 1024

static struct h_daemon d;

/* msivd's eventfds numbered FLOOR or above. */
static int
high_eventfds(void)
{
	char path[64], link[64], fdpath[64 + 256];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d.pid);
	if ((dir = opendir(path)) == NULL)
		tap_bail("cannot list msivd's fds");
	while ((e = readdir(dir)) != NULL) {
		ssize_t len;

		if (atoi(e->d_name) < FLOOR)
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
		if ((len = readlink(fdpath, link, sizeof(link) - 1)) < 0)
			continue;
		link[len] = '\0';
		n += strcmp(link, "anon_inode:[eventfd]") == 0;
	}
	closedir(dir);
	return n;
}

/* msivd's soft open file limit (it raises it to the hard one). */
static unsigned long long
nofile(void)
{
	char path[64], line[256];
	unsigned long long soft = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)d.pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Max open files", 14) == 0)
			soft = strtoull(line + 14, NULL, 10);
	fclose(f);
	return soft;
}

int
main(void)
{
	struct msiv_conn *c, *admin;
	struct msiv_vector_info in;
	struct h_firer f;
	uint64_t vf;
	int efd[3];

	if (h_start(&d, NULL) < 0)
		tap_bail("msivd did not start");
	if (nofile() <= FLOOR) {
		h_stop(&d);
		tap_skip_all("msivd may not open fd 1024 (RLIMIT_NOFILE)");
	}
	c = h_connect(&d, "fds");
	admin = h_connect(&d, NULL);
	for (int i = 0; i < 3; i++)
		efd[i] = h_eventfd();
	if (msiv_vfunc_open(c, "sim0", 4, MSIV_POLICY_DEFAULT, &vf) < 0)
		tap_bail("open");
	tap_ok(high_eventfds() == 0, "no target yet: no eventfd at %d or "
	    "above", FLOOR);
	if (msiv_vector_setup(c, vf, 0, 0xfee00000u, 0x40, efd[0],
	    MSIV_SETUP_UNMASKED) < 0 ||
	    msiv_vector_setup(c, vf, 1, 0xfee00000u, 0x41, efd[1], 0) < 0)
		tap_bail("setup");
	tap_ok(high_eventfds() == 2, "two targets set up: both kept at %d or "
	    "above (found %d)", FLOOR, high_eventfds());
	if (msiv_vector_retarget(c, vf, 1, MSIV_RETARGET_TARGET, 0, 0,
	    efd[2]) < 0)
		tap_bail("retarget");
	tap_ok(high_eventfds() == 2, "a retarget's new target too, the old "
	    "one closed (found %d)", high_eventfds());
	if (msiv_vector_free(c, vf, 1) < 0)
		tap_bail("free");
	tap_ok(high_eventfds() == 1, "freed: one left (found %d)",
	    high_eventfds());

	/* The moved fd is the tenant's eventfd all the same. */
	if (msiv_vfunc_enable(c, vf, 1) < 0 ||
	    msiv_vector_query(c, vf, 0, &in) < 0 ||
	    h_firer_start(&f, admin, "sim0", in.slot, 1) < 0)
		tap_bail("enable, query, firer");
	if (h_fire(&f, 0, 1) < 0)
		tap_bail("fire");
	tap_ok(h_efd_wait(efd[0], H_TIMEOUT_MS) == 1,
	    "an interrupt reaches the tenant's eventfd");
	(void)h_firer_stop(&f);
	msiv_close(admin);
	msiv_close(c);
	tap_ok(h_stop(&d) == 0, "msivd exits cleanly");
	return tap_done();
}
