/*
 * Targets through the io_uring loop's registered files (doc/delivery.md,
 * "Registered files"), on the real msivd:
 *
 *  - rule 6 (msiv-protocol(7)): after each RETARGET, and after each FREE
 *    and SETUP with a new eventfd (msivd then receives it at the very fd
 *    number the old target had), the next interrupt reaches the new
 *    target and no other: a registered file left stale would reach the
 *    old one. Mask cycles and a second vector sharing the table come in
 *    between. Then the same under a flood, checked as test-stress does.
 *  - a target the client has closed is let go by msivd once it is
 *    retargeted, freed, its vfunc closed, or its device detached, with no
 *    interrupt after: the client's epoll set watches the eventfd, and the
 *    kernel takes the watch off when the file is released, its last
 *    reference gone (shown in /proc/self/fdinfo as "tfd:" lines).
 *
 * Where msivd's rings have registered file tables (their fdinfo,
 * "UserFiles:" with entries, on Linux 6.x), the test also checks that a
 * delivery fills an entry and a drop empties it, and with two shards
 * (tests/test-targets.shards2: a vfunc's vectors spread over both), that
 * each shard's ring holds its own vector's target; elsewhere (the epoll
 * loop, or plain fds) those checks are skipped and the rest still holds.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define NTARGET 4
#define ROUNDS  240
#define FLOOD_OPS 2000

static struct h_daemon d;
static struct msiv_conn *c;

/* The entries msivd's registered file tables hold (the sum over its
 * rings' fdinfo), or -1: no ring of its has such a table; *rings (if not
 * NULL): how many of its rings hold any. */
static int
registered_on(int *rings)
{
	char path[320], link[64], buf[16384];
	struct dirent *de;
	int total = -1;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d.pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		char *p, *end;
		unsigned int n;
		ssize_t len;
		int fd, held = 0;

		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)d.pid,
		    de->d_name);
		if ((len = readlink(path, link, sizeof(link) - 1)) < 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, "anon_inode:[io_uring]") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)d.pid,
		    de->d_name);
		/* The kernel skips the tables while the ring's lock is
		 * taken (a submission): ask again. */
		for (int tries = 0; tries < 1000; tries++) {
			len = -1;
			if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
				len = read(fd, buf, sizeof(buf) - 1);
				close(fd);
			}
			if (len <= 0)
				break;
			buf[len] = '\0';
			if (strstr(buf, "UserFiles:") != NULL)
				break;
			len = -1;
		}
		if (len <= 0 || (p = strstr(buf, "UserFiles:")) == NULL ||
		    sscanf(p, "UserFiles: %u", &n) != 1 || n == 0)
			continue;
		/* One line per entry that holds a file: "%5u: path". */
		for (p = strchr(p, '\n'); p != NULL; p = strchr(p, '\n')) {
			p++;
			while (*p == ' ')
				p++;
			(void)strtoul(p, &end, 10);
			if (end == p || *end != ':')
				break;
			held++;
		}
		total = total < 0 ? held : total + held;
		if (rings != NULL && held > 0)
			(*rings)++;
	}
	closedir(dir);
	return total;
}

static int
registered(void)
{
	return registered_on(NULL);
}

/* What msivd logs when its rings cannot have registered file tables. */
#define PLAIN_FDS "target writes through plain fds"

/* Does msivd's log have a line with what in it by now? (h_logged waits
 * for one: for what must be logged, not what may not.) */
static int
in_log(const char *what)
{
	char line[1024];
	FILE *f;
	int found = 0;

	if ((f = fopen(d.log, "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

/* Wait until msivd's tables hold want entries (up to H_TIMEOUT_MS). */
static int
wait_registered(int want)
{
	int64_t end = h_now_ms() + H_TIMEOUT_MS;
	int n;

	while ((n = registered()) != want) {
		if (h_now_ms() > end)
			return n;
		usleep(5000);
	}
	return n;
}

/* Does the epoll set ep watch any file still? */
static int
watching(int ep)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		tap_bail("cannot read the epoll set's fdinfo");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		tap_bail("cannot read the epoll set's fdinfo");
	buf[n] = '\0';
	return strstr(buf, "tfd:") != NULL;
}

/* Wait (up to H_TIMEOUT_MS) until nothing holds the file of the eventfd
 * ep watches: 0, or -1 if something still does. */
static int
released(int ep)
{
	int64_t end = h_now_ms() + H_TIMEOUT_MS;

	while (watching(ep)) {
		if (h_now_ms() > end)
			return -1;
		usleep(5000);
	}
	return 0;
}

/* An eventfd that ep watches, and ep: *ep is set. */
static int
watched_eventfd(int *ep)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = h_eventfd();

	if ((*ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(*ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		tap_bail("epoll");
	return fd;
}

/* Fire vector idx's slot once and wait for it at target t: 1 if it came
 * there once and nowhere else among t[0..n) (other, not checked: -1). */
static int
lands(struct h_firer *f, uint32_t idx, const int *t, int n, int cur)
{
	int ok;

	if (h_fire(f, idx, 1) < 0)
		return 0;
	ok = h_efd_wait(t[cur], H_TIMEOUT_MS) == 1;
	for (int i = 0; i < n; i++)
		if (i != cur && h_efd_take(t[i]) != 0)
			ok = 0;
	return ok;
}

/* Rule 6, one interrupt at a time (see the top). */
static void
test_steps(void)
{
	struct msiv_vector_info in;
	struct h_firer f;
	uint64_t vf;
	int t[NTARGET], u = h_eventfd(), cur = 0, bad = 0, badu = 0;
	int lastbad = -1;

	for (int i = 0; i < NTARGET; i++)
		t[i] = h_eventfd();
	if (msiv_vfunc_open(c, "sim0", 2, MSIV_POLICY_DEFAULT, &vf) != 0 ||
	    msiv_vfunc_enable(c, vf, 1) != 0 ||
	    msiv_vector_setup(c, vf, 0, 0xfee00000u, 0, t[0],
	    MSIV_SETUP_UNMASKED) != 0 ||
	    msiv_vector_setup(c, vf, 1, 0xfee00000u, 1, u,
	    MSIV_SETUP_UNMASKED) != 0 ||
	    msiv_vector_query(c, vf, 0, &in) != 0 ||
	    h_firer_start(&f, c, "sim0", in.slot, 2) != 0)
		tap_bail("steps: cannot set up");
	ok(lands(&f, 0, t, NTARGET, 0), "steps: the first interrupt reaches "
	    "the first target");
	for (int r = 0; r < ROUNDS; r++) {
		int next = (cur + 1 + r % (NTARGET - 1)) % NTARGET, e = 0;

		switch (r % 6) {
		case 0: case 1: case 3:
			e = msiv_vector_retarget(c, vf, 0,
			    MSIV_RETARGET_TARGET | (r % 2 ? MSIV_RETARGET_MSG :
			    0), 0xfee00000u, (uint32_t)r, t[next]);
			break;
		case 2: case 4:
			/* msivd closes the old target's fd, then receives
			 * the new one at the same number. */
			e = msiv_vector_free(c, vf, 0) != 0 ||
			    msiv_vector_setup(c, vf, 0, 0xfee00000u,
			    (uint32_t)r, t[next], MSIV_SETUP_UNMASKED) != 0;
			break;
		case 5:
			/* No new target: the entry is made again all the
			 * same, to the same file. */
			next = cur;
			e = msiv_vector_mask(c, vf, 0) != 0 ||
			    msiv_vector_unmask(c, vf, 0) != 0;
			/* Unmasked with nothing pending: nothing comes. */
			break;
		}
		if (e != 0)
			tap_bail("steps: an operation failed");
		cur = next;
		/* One wrong round fails: no need to wait through others. */
		if (!lands(&f, 0, t, NTARGET, cur)) {
			bad++;
			lastbad = r;
			break;
		}
		if (r % 8 == 0 && !lands(&f, 1, &u, 1, 0)) {
			badu++;
			break;
		}
	}
	is_int(bad, 0, "steps: after each of %d retargets, free and setup, "
	    "mask cycles, the next interrupt reached the target of then and "
	    "no other (bad round %d)", ROUNDS, lastbad);
	is_int(badu, 0, "steps: the other vector's interrupts reached its "
	    "own target all along");
	h_firer_stop(&f);
	ok(msiv_vfunc_close(c, vf) == 0, "steps: close the vfunc");
	for (int i = 0; i < NTARGET; i++)
		close(t[i]);
	close(u);
}

/* Rule 6 under a flood: the retired targets receive nothing after their
 * acknowledgement, and every delivery reached one target. */
static void
test_flood(void)
{
	struct msiv_vector_info in;
	struct h_firer f;
	uint64_t vf, got = 0, late = 0, writes;
	int t[NTARGET], cur = 0, bad = 0;

	for (int i = 0; i < NTARGET; i++)
		t[i] = h_eventfd();
	if (msiv_vfunc_open(c, "sim0", 1, MSIV_POLICY_DEFAULT, &vf) != 0 ||
	    msiv_vfunc_enable(c, vf, 1) != 0 ||
	    msiv_vector_setup(c, vf, 0, 0xfee00000u, 0, t[0],
	    MSIV_SETUP_UNMASKED) != 0 ||
	    msiv_vector_query(c, vf, 0, &in) != 0 ||
	    h_firer_start(&f, c, "sim0", in.slot, 1) != 0)
		tap_bail("flood: cannot set up");
	ok(h_firer_flood(&f, 0) == 0, "flood: the firer floods the vector");
	for (int n = 0; n < FLOOD_OPS; n++) {
		int next = (cur + 1) % NTARGET;

		/* The next target retired earlier: nothing may have come. */
		late += h_efd_take(t[next]);
		if (n % 3 == 2)
			bad += msiv_vector_free(c, vf, 0) != 0 ||
			    msiv_vector_setup(c, vf, 0, 0xfee00000u,
			    (uint32_t)n, t[next], MSIV_SETUP_UNMASKED) != 0;
		else
			bad += msiv_vector_retarget(c, vf, 0,
			    MSIV_RETARGET_TARGET, 0, 0, t[next]) != 0;
		/* What the old target got before the acknowledgement. */
		got += h_efd_take(t[cur]);
		cur = next;
	}
	writes = h_firer_stop(&f);
	ok(bad == 0 && writes > 0, "flood: %d retargets and rebinds while "
	    "%llu interrupts were raised", FLOOD_OPS,
	    (unsigned long long)writes);
	ok(msiv_vector_query(c, vf, 0, &in) == 0, "flood: query (the loop "
	    "has handled every interrupt raised)");
	for (int i = 0; i < NTARGET; i++) {
		uint64_t v = h_efd_take(t[i]);

		if (i != cur)
			late += v;
		got += v;
	}
	is_int(late, 0, "flood: no retired target received anything after "
	    "its retarget or free was acknowledged");
	is_int(got, in.delivered, "flood: every delivery counted reached a "
	    "target (%llu)", (unsigned long long)got);
	ok(msiv_vfunc_close(c, vf) == 0, "flood: close the vfunc");
	for (int i = 0; i < NTARGET; i++)
		close(t[i]);
}

/*
 * A target the client closed, delivered to (so a registered file table
 * holds it), is let go by msivd after how: 0 retarget, 1 free, 2 the vfunc
 * closed, 3 the device detached. Nothing is fired after.
 */
static void
test_release(int how, int table)
{
	static const char *const what[] = {
		"retargeted", "freed", "its vfunc closed",
		"its device detached",
	};
	struct msiv_vector_info in;
	struct h_firer f;
	const char *dev = how == 3 ? "simr" : "sim0";
	uint64_t vf;
	int ep, e = watched_eventfd(&ep), other = h_eventfd(), r;

	if ((how == 3 && msiv_device_attach(c, "simr", "sim", NULL, 2,
	    MSIV_POLICY_DEFAULT, 0) != 0) ||
	    msiv_vfunc_open(c, dev, 1, MSIV_POLICY_DEFAULT, &vf) != 0 ||
	    msiv_vfunc_enable(c, vf, 1) != 0 ||
	    msiv_vector_setup(c, vf, 0, 0xfee00000u, 0, e,
	    MSIV_SETUP_UNMASKED) != 0 ||
	    msiv_vector_query(c, vf, 0, &in) != 0 ||
	    h_firer_start(&f, c, dev, in.slot, 1) != 0)
		tap_bail("release: cannot set up");
	ok(h_fire(&f, 0, 1) == 0 && h_efd_wait(e, H_TIMEOUT_MS) == 1,
	    "release (%s): delivered to the target", what[how]);
	h_firer_stop(&f);
	if (table)
		is_int(wait_registered(1), 1, "release (%s): msivd's "
		    "registered file table holds it", what[how]);
	close(e);
	ok(watching(ep), "release (%s): closed by the client, the eventfd "
	    "lives on in msivd", what[how]);
	switch (how) {
	case 0:
		r = msiv_vector_retarget(c, vf, 0, MSIV_RETARGET_TARGET, 0, 0,
		    other);
		break;
	case 1:
		r = msiv_vector_free(c, vf, 0);
		break;
	case 2:
		r = msiv_vfunc_close(c, vf);
		break;
	default:
		r = msiv_vfunc_close(c, vf) != 0 ||
		    msiv_device_detach(c, "simr", 0) != 0;
		break;
	}
	ok(r == 0, "release (%s): done", what[how]);
	is_int(released(ep), 0, "release (%s): msivd let the eventfd go, "
	    "with no interrupt since", what[how]);
	if (table)
		is_int(wait_registered(0), 0, "release (%s): the registered "
		    "file table is empty", what[how]);
	if (how < 2)
		ok(msiv_vfunc_close(c, vf) == 0, "release (%s): close the "
		    "vfunc", what[how]);
	close(ep);
	close(other);
}

/* With two shards, each vector of a vfunc (slots 0 and 1, spread) on
 * its own: each shard's ring holds its own vector's target; one let go
 * leaves the other's alone. Elsewhere one ring holds both. */
static void
test_shards(void)
{
	const char *env = getenv("MSIV_TEST_SHARDS");
	int want = env != NULL && strcmp(env, "2") == 0 ? 2 : 1;
	struct msiv_vector_info in;
	struct h_firer f;
	uint64_t vf;
	int t[2] = { h_eventfd(), h_eventfd() }, rings = 0, n = -1;
	int64_t end = h_now_ms() + H_TIMEOUT_MS;

	if (msiv_vfunc_open(c, "sim0", 2, MSIV_POLICY_DEFAULT, &vf) != 0 ||
	    msiv_vfunc_enable(c, vf, 1) != 0 ||
	    msiv_vector_setup(c, vf, 0, 0xfee00000u, 0, t[0],
	    MSIV_SETUP_UNMASKED) != 0 ||
	    msiv_vector_setup(c, vf, 1, 0xfee00000u, 1, t[1],
	    MSIV_SETUP_UNMASKED) != 0 ||
	    msiv_vector_query(c, vf, 0, &in) != 0 ||
	    h_firer_start(&f, c, "sim0", in.slot, 2) != 0)
		tap_bail("shards: cannot set up");
	ok(lands(&f, 0, t, 2, 0) && lands(&f, 1, t, 2, 1), "shards: both "
	    "vectors delivered");
	h_firer_stop(&f);
	/* Each ring's updates are issued by its own thread: wait for both. */
	while (h_now_ms() < end) {
		rings = 0;
		if ((n = registered_on(&rings)) == 2 && rings == want)
			break;
		usleep(5000);
	}
	ok(n == 2 && rings == want, "shards: the two targets are held by %d "
	    "ring(s) (%d entries in %d)", want, n, rings);
	ok(msiv_vector_free(c, vf, 0) == 0, "shards: free vector 0");
	is_int(wait_registered(1), 1, "shards: the other vector's entry "
	    "stays");
	ok(msiv_vfunc_close(c, vf) == 0, "shards: close the vfunc");
	is_int(wait_registered(0), 0, "shards: the tables hold nothing");
	close(t[0]);
	close(t[1]);
}

int
main(void)
{
	int table;

	if (h_start(&d, NULL) < 0)
		tap_bail("msivd did not start");
	c = h_connect(&d, "targets");
	tap_diag("msivd's delivery loop: %s", d.loop);

	/* Registered before the ring runs: there from the start, or never
	 * (and then msivd said why, unless it runs the epoll loop). */
	table = registered() >= 0;
	if (!table && strcmp(d.loop, "epoll") != 0)
		ok(in_log(PLAIN_FDS), "msivd's io_uring rings have no "
		    "registered file table, and msivd logged why");
	else
		ok(1, "msivd's rings have registered file tables, or it runs "
		    "the epoll loop");
	if (!table)
		tap_diag("msivd has no registered file table (the epoll loop, "
		    "or plain fds): those checks are skipped");

	test_steps();
	test_flood();
	if (table)
		is_int(wait_registered(0), 0, "every vfunc closed, the "
		    "registered file table holds nothing");
	for (int how = 0; how < 4; how++)
		test_release(how, table);
	if (table)
		test_shards();

	msiv_close(c);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
