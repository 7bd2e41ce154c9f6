/*
 * Delivery shards (msivd(8), DELIVERY LOOPS; doc/delivery.md, Shards), on
 * the real msivd with delivery_shards = 2:
 *  - a thread per shard, msivd-deliver0 and msivd-deliver1; SHARD_LIST
 *    (msiv_list_shards) has a record each;
 *  - shard = spread puts a vfunc's vectors on both shards, and both
 *    forward: each shard's wakeups and deliveries grow; shard = 1 puts
 *    every slot of a device on shard 1, and so does DEVICE_ATTACH's
 *    MSIV_ATTACH_SHARD_* (one out of range is EINVAL);
 *  - MASK right after a delivery, the shard quiet since, returns: it
 *    wakes the slot's shard, whose write is in flight until then;
 *  - a handover to an msivd of 3 shards, then of 1: the triggers are
 *    spread over the new shards and every vector still delivers;
 *  - rule 7 across shards: with the four vectors of a vfunc on two
 *    shards flooded all along, once VFUNC_FMASK is acknowledged nothing
 *    reaches any of their targets until the function is unmasked, and
 *    then each vector's pending interrupt is delivered.
 * Where io_uring is not available msivd runs the epoll loop, one thread:
 * the test skips.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define NV      4     /* vectors of the vfunc: slots 0-3, shards 0 1 0 1 */
#define ROUNDS  200   /* function mask / unmask rounds under the flood */
#define AFTER   64    /* trigger writes after each acknowledgement */

static const char conf[] =
    "[msivd]\n"
    "log_level = debug\n"
    "orphan_grace = 0\n"
    "delivery_shards = 2\n"
    "[device sim0]\n"
    "backend = sim\n"
    "slots = 64\n"
    "shard = spread\n"
    "[device sim1]\n"
    "backend = sim\n"
    "slots = 8\n"
    "shard = 1\n";

static struct h_daemon d;

struct flood {
	int trig[NV];
	_Atomic int stop;
	_Atomic uint64_t writes;
	pthread_t thread;
};

/* Write 1 to the triggers in turn, as a device raising interrupts on
 * every vector would, until told to stop. */
static void *
flood_main(void *arg)
{
	struct flood *fl = arg;
	const uint64_t one = 1;

	for (unsigned int i = 0; !atomic_load(&fl->stop); i++)
		if (write(fl->trig[i % NV], &one, sizeof(one)) == sizeof(one))
			atomic_fetch_add(&fl->writes, 1);
		else if (errno != EAGAIN)
			break;
		else
			sched_yield(); /* a full counter: let msivd read it */
	return NULL;
}

/* Does msivd have a thread of this name? */
static int
has_thread(pid_t pid, const char *name)
{
	char path[320], comm[32];
	struct dirent *e;
	DIR *dir;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while (!found && (e = readdir(dir)) != NULL) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid,
		    e->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL) {
			comm[strcspn(comm, "\n")] = '\0';
			found = strcmp(comm, name) == 0;
		}
		fclose(f);
	}
	closedir(dir);
	return found;
}

static int
shards(struct msiv_conn *c, struct msiv_shard_info sh[2])
{
	return msiv_list_shards(c, sh, 2, sizeof(sh[0]));
}

/* Open a vfunc of n vectors on dev, each set up unmasked on its own
 * target, the function enabled. */
static uint64_t
vf_open(struct msiv_conn *c, const char *dev, unsigned int n, int *efd)
{
	uint64_t vf;

	if (msiv_vfunc_open(c, dev, n, MSIV_POLICY_DEFAULT, &vf) < 0)
		tap_bail("cannot open a vfunc");
	for (unsigned int i = 0; i < n; i++) {
		efd[i] = h_eventfd();
		if (msiv_vector_setup(c, vf, i, 0xfee00000u, 0x40u + i,
		    efd[i], MSIV_SETUP_UNMASKED) < 0)
			tap_bail("cannot set up a vector");
	}
	if (msiv_vfunc_enable(c, vf, 1) < 0)
		tap_bail("cannot enable the vfunc");
	return vf;
}

static void
test_both_forward(struct msiv_conn *c, uint64_t vf0, const int *trig,
    const int *efd)
{
	struct msiv_shard_info a[2], b[2];
	struct msiv_vector_info in;
	const uint64_t one = 1;
	uint64_t got = 0;

	is_int(shards(c, a), 2, "SHARD_LIST: two records");
	for (int round = 0; round < 10; round++)
		for (int i = 0; i < NV; i++) {
			if (write(trig[i], &one, sizeof(one)) != sizeof(one))
				tap_bail("cannot fire");
			got += h_efd_wait(efd[i], H_TIMEOUT_MS) != 0;
		}
	is_int(got, 10 * NV, "every interrupt of the vectors on both shards "
	    "reached its target");
	/* A query syncs every shard: their last writes are counted. */
	(void)msiv_vector_query(c, vf0, 0, &in);
	is_int(shards(c, b), 2, "SHARD_LIST again");
	ok(b[0].interrupts >= a[0].interrupts + 20 &&
	    b[1].interrupts >= a[1].interrupts + 20,
	    "both shards handled wakeups (shard 0 %llu, shard 1 %llu more)",
	    (unsigned long long)(b[0].interrupts - a[0].interrupts),
	    (unsigned long long)(b[1].interrupts - a[1].interrupts));
	ok(b[0].delivered >= a[0].delivered + 20 &&
	    b[1].delivered >= a[1].delivered + 20,
	    "both shards delivered (shard 0 %llu, shard 1 %llu more)",
	    (unsigned long long)(b[0].delivered - a[0].delivered),
	    (unsigned long long)(b[1].delivered - a[1].delivered));
	ok(b[0].slots >= NV / 2 && b[1].slots >= NV / 2,
	    "spread: each shard watches half the vfunc's slots (%u, %u)",
	    b[0].slots, b[1].slots);
	ok(b[0].cpu_ns > 0 && b[1].cpu_ns > 0, "each shard's thread has a "
	    "CPU time");
}

static void
test_fixed(struct msiv_conn *c)
{
	struct msiv_shard_info a[2], b[2];
	int efd[2], trig[2];
	uint64_t vf;

	if (shards(c, a) != 2)
		tap_bail("SHARD_LIST");
	vf = vf_open(c, "sim1", 2, efd);
	/* A sim slot's trigger is made, and watched, on first use. */
	if (msiv_sim_triggers(c, "sim1", 0, 2, trig) < 0)
		tap_bail("cannot get the triggers");
	close(trig[0]);
	close(trig[1]);
	if (shards(c, b) != 2)
		tap_bail("SHARD_LIST");
	ok(b[0].slots == a[0].slots && b[1].slots == a[1].slots + 2,
	    "shard = 1: the device's slots are all on shard 1 (shard 0 "
	    "%u -> %u, shard 1 %u -> %u)", a[0].slots, b[0].slots,
	    a[1].slots, b[1].slots);
	(void)msiv_vfunc_close(c, vf);
	close(efd[0]);
	close(efd[1]);
}

/* DEVICE_ATTACH takes the shard in its flags (MSIV_ATTACH_SHARD_*). */
static void
test_attach(struct msiv_conn *c)
{
	struct msiv_shard_info a[2], b[2];
	int trig[2];

	is_int(msiv_device_attach(c, "simx", "sim", NULL, 4,
	    MSIV_POLICY_DEFAULT, MSIV_ATTACH_SHARD(MSIV_ATTACH_SHARD_FIXED +
	    MSIV_ATTACH_SHARD_MAX + 1)), -EINVAL, "DEVICE_ATTACH with shard "
	    "%u: EINVAL", MSIV_ATTACH_SHARD_MAX + 1);
	if (shards(c, a) != 2)
		tap_bail("SHARD_LIST");
	is_int(msiv_device_attach(c, "simx", "sim", NULL, 4,
	    MSIV_POLICY_DEFAULT, MSIV_ATTACH_SHARD(MSIV_ATTACH_SHARD_FIXED +
	    2)), 0, "DEVICE_ATTACH with shard 2 (of 2: shard 0)");
	if (msiv_sim_triggers(c, "simx", 0, 2, trig) < 0)
		tap_bail("cannot get the triggers");
	close(trig[0]);
	close(trig[1]);
	if (shards(c, b) != 2)
		tap_bail("SHARD_LIST");
	ok(b[0].slots == a[0].slots + 2 && b[1].slots == a[1].slots,
	    "... its slots are on shard 0 (shard 0 %u -> %u, shard 1 %u -> "
	    "%u)", a[0].slots, b[0].slots, a[1].slots, b[1].slots);
	is_int(msiv_device_detach(c, "simx", 0), 0, "detach it");
}

/*
 * The io_uring loop clears a write's in-flight mark when the enter that
 * issued it returns, which, on a quiet shard, is at its next wakeup: a
 * control operation on that slot must wake the slot's own shard
 * (deliver_lock), or it waits for an interrupt that may never come.
 */
static void
test_kick(struct msiv_conn *c, uint64_t vf, const int *trig, const int *efd)
{
	const uint64_t one = 1;

	msiv_set_timeout(c, 5000);
	for (int i = 0; i < 2; i++) {
		int r;

		if (write(trig[i], &one, sizeof(one)) != sizeof(one) ||
		    h_efd_wait(efd[i], H_TIMEOUT_MS) == 0)
			tap_bail("no delivery");
		r = msiv_vector_mask(c, vf, (unsigned)i);
		is_int(r, 0, "MASK just after a delivery on a quiet shard %d "
		    "returns", i);
		if (r < 0 || msiv_vector_unmask(c, vf, (unsigned)i) < 0)
			tap_bail("the vector cannot be unmasked");
	}
	msiv_set_timeout(c, H_TIMEOUT_MS);
}

/* Wait until the flood has written n more times (or it stopped). */
static int
flood_wait(struct flood *fl, uint64_t n)
{
	uint64_t until = atomic_load(&fl->writes) + n;
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;

	while (atomic_load(&fl->writes) < until)
		if (h_now_ms() > deadline)
			return -1;
		else
			usleep(100); /* polling a count, with a deadline */
	return 0;
}

static void
test_rule7(struct msiv_conn *c, uint64_t vf, const int *trig, const int *efd)
{
	struct flood fl;
	uint64_t late = 0, received = 0, replayed = 0, missing = 0;
	int bad = 0;

	memset(&fl, 0, sizeof(fl));
	memcpy(fl.trig, trig, sizeof(fl.trig));
	if (pthread_create(&fl.thread, NULL, flood_main, &fl) != 0)
		tap_bail("pthread_create");
	for (int r = 0; r < ROUNDS && !bad; r++) {
		struct msiv_vector_info in;

		if (msiv_vfunc_mask(c, vf, 1) < 0) {
			bad = 1;
			break;
		}
		/* What came before the acknowledgement is taken now; what
		 * comes after it broke rule 7. */
		for (int i = 0; i < NV; i++)
			received += h_efd_take(efd[i]);
		if (flood_wait(&fl, AFTER) < 0) {
			bad = 1;
			break;
		}
		/* A query waits until msivd has handled every interrupt
		 * raised before it (on every shard). */
		for (int i = 0; i < NV; i++) {
			if (msiv_vector_query(c, vf, (unsigned)i, &in) < 0)
				bad = 1;
			else if (!in.pending)
				missing++;
		}
		for (int i = 0; i < NV; i++)
			late += h_efd_take(efd[i]);
		if (msiv_vfunc_mask(c, vf, 0) < 0) {
			bad = 1;
			break;
		}
		/* The function unmask replays each pending interrupt. */
		for (int i = 0; i < NV; i++)
			replayed += h_efd_wait(efd[i], H_TIMEOUT_MS) != 0;
	}
	atomic_store(&fl.stop, 1);
	pthread_join(fl.thread, NULL);
	ok(!bad, "%d function mask / unmask rounds under a flood of %llu "
	    "interrupts", ROUNDS, (unsigned long long)atomic_load(&fl.writes));
	is_int(late, 0, "rule 7 across shards: nothing reached a target "
	    "after the function mask was acknowledged");
	is_int(missing, 0, "... each masked vector had its pending bit");
	is_int(replayed, (long long)ROUNDS * NV, "... and each delivered on "
	    "the function unmask");
	ok(received > 0, "deliveries between the rounds (%llu)",
	    (unsigned long long)received);
}

/*
 * A handover to an msivd with another shard count: the new one places
 * every trigger it takes over on its own shards, and every vector keeps
 * delivering.
 */
static void
test_handover(struct msiv_conn *c, uint64_t vf, const int *trig,
    const int *efd, unsigned int n)
{
	struct msiv_shard_info sh[4];
	const uint64_t one = 1;
	uint32_t slots = 0;
	uint64_t got = 0;
	FILE *f;
	int k;

	/* The new msivd reads the same file: the count is rewritten. */
	if ((f = fopen(d.conf, "w")) == NULL)
		tap_bail("cannot write the configuration");
	for (const char *p = conf; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);

		if (strncmp(p, "delivery_shards = ", 18) == 0)
			(void)fprintf(f, "delivery_shards = %u\n", n);
		else
			(void)fwrite(p, 1, len, f);
		p += len;
	}
	if (fclose(f) != 0)
		tap_bail("cannot write the configuration");
	for (int i = 0; i < NV; i++)
		(void)h_efd_take(efd[i]);
	if (h_handover(&d) < 0)
		tap_bail("the handover failed");
	k = msiv_list_shards(c, sh, 4, sizeof(sh[0]));
	for (int i = 0; i < k && i < 4; i++)
		slots += sh[i].slots;
	ok(k == (int)n && slots == NV + 2, "handed over to an msivd of %u "
	    "shard(s): %d listed, watching the %u triggers between them", n,
	    k, slots);
	for (int i = 0; i < NV; i++) {
		if (write(trig[i], &one, sizeof(one)) != sizeof(one))
			tap_bail("cannot fire");
		got += h_efd_wait(efd[i], H_TIMEOUT_MS) != 0;
	}
	is_int(got, NV, "... and every vector of the vfunc delivers");
	(void)vf;
}

int
main(void)
{
	struct msiv_status_info st;
	struct msiv_conn *c;
	int trig[NV], efd[NV];
	uint64_t vf;

	if (h_start(&d, conf) < 0)
		tap_bail("msivd did not start");
	c = h_connect(&d, "shards");
	if (msiv_get_status(c, &st, sizeof(st)) < 0)
		tap_bail("STATUS");
	if (strcmp(st.loop, "io_uring") != 0) {
		(void)h_stop(&d);
		tap_skip_all("msivd runs the epoll loop here (no io_uring): "
		    "one thread, no shards");
	}
	ok(has_thread((pid_t)st.pid, "msivd-deliver0") &&
	    has_thread((pid_t)st.pid, "msivd-deliver1"),
	    "threads msivd-deliver0 and msivd-deliver1");

	vf = vf_open(c, "sim0", NV, efd);
	if (msiv_sim_triggers(c, "sim0", 0, NV, trig) < 0)
		tap_bail("cannot get the triggers");
	test_both_forward(c, vf, trig, efd);
	test_kick(c, vf, trig, efd);
	test_fixed(c);
	test_attach(c);
	test_rule7(c, vf, trig, efd);
	test_handover(c, vf, trig, efd, 3);
	test_handover(c, vf, trig, efd, 1);

	(void)msiv_vfunc_close(c, vf);
	for (int i = 0; i < NV; i++) {
		close(trig[i]);
		close(efd[i]);
	}
	msiv_close(c);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
