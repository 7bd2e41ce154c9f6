/*
 * Integration test of slots on first use (MSIV_OPEN_LAZY, msiv-protocol(7))
 * with the real msivd on sim devices, interrupts raised by SIM_FIRE on the
 * slot a query names (as an admin does with msivctl fire):
 *  - a lazy vfunc holds no slot until a vector is set up, and a freed
 *    vector gives its slot back;
 *  - with the device full a setup fails with ENOSPC, the vector stays
 *    undeliverable with its pending bit latched (the PBA shows it), the
 *    refusal is counted; once a slot is free the setup succeeds and
 *    replays exactly one interrupt (rule 2);
 *  - a slot that changes owner by a free and a setup brings nothing of
 *    its old owner to the new one: not the signals the old one left
 *    unread, not a delivery (rule 6 across a rebind);
 *  - quotas count bound slots (EDQUOT at a setup, pending latched too);
 *  - revocation gives the bound slots back;
 *  - after kill -9 and a restart every set-up vector is bound to the slot
 *    it had, its pending bit set, and delivers once its target is back.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define NV 16

static const char conf[] =
    "[msivd]\n"
    "orphan_grace = 3600\n"
    "write_behind_ms = 0\n"
    "max_vectors = 6\n"
    "[device tiny]\n"
    "backend = sim\n"
    "slots = 4\n"
    "policy = latch\n"
    "[device big]\n"
    "backend = sim\n"
    "slots = 64\n"
    "policy = latch\n";

static struct h_daemon d;

static struct msiv_vector_info
query(struct msiv_conn *c, uint64_t vf, unsigned int i)
{
	struct msiv_vector_info in;

	memset(&in, 0, sizeof(in));
	if (msiv_vector_query(c, vf, i, &in) < 0)
		tap_diag("query of vector %u failed", i);
	return in;
}

static uint32_t
slots_used(struct msiv_conn *c, const char *dev)
{
	struct msiv_device_info r[4];
	int n = msiv_list_devices(c, r, 4, sizeof(*r));

	for (int i = 0; i < n && i < 4; i++)
		if (strcmp(r[i].name, dev) == 0)
			return r[i].slots_used;
	return UINT32_MAX;
}

/* Raise n interrupts on the vector's slot and wait until the daemon has
 * counted them. */
static int
fire(struct msiv_conn *c, const char *dev, uint64_t vf, unsigned int i,
    uint32_t n)
{
	struct msiv_vector_info in = query(c, vf, i);

	if (in.slot == MSIV_SLOT_NONE || msiv_sim_fire(c, dev, in.slot, n) < 0)
		return -1;
	return h_wait_fired(c, vf, i, in.fired + n);
}

static int
setup(struct msiv_conn *c, uint64_t vf, unsigned int i, int fd)
{
	return msiv_vector_setup(c, vf, i, 0xfee00000u + i * 0x1000u,
	    0x40u + i, fd, MSIV_SETUP_UNMASKED);
}

static uint32_t
nospace(struct msiv_conn *c, uint64_t vf, unsigned int i)
{
	struct msiv_vector_state r[NV];
	int n = msiv_list_vectors(c, vf, r, NV, sizeof(*r));

	for (int k = 0; k < n && k < NV; k++)
		if (r[k].vector == i)
			return r[k].nospace;
	return UINT32_MAX;
}

/* What msivctl prints for args (text), into buf; 0 if it ran and exited
 * 0. */
static int
ctl(const char *args, char *buf, size_t len)
{
	char cmd[512];
	const char *bin = getenv("MSIVCTL");
	size_t n = 0, r;
	FILE *p;

	if (bin == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' %s", bin, d.sock, args);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (n + 1 < len && (r = fread(buf + n, 1, len - 1 - n, p)) > 0)
		n += r;
	buf[n] = '\0';
	return pclose(p) == 0 ? 0 : -1;
}

static void
test_nospace(struct msiv_conn *c)
{
	struct msiv_vector_info in;
	struct msiv_vfunc_info rec[8];
	uint32_t slot[4], s2;
	uint64_t vf, x, pba = 0;
	int efd[NV], n, distinct = 1, lazy = 0;

	for (int i = 0; i < NV; i++)
		efd[i] = h_eventfd();
	ok(msiv_vfunc_open_flags(c, "tiny", NV, MSIV_POLICY_DEFAULT,
	    MSIV_OPEN_LAZY, &vf) == 0, "a lazy vfunc of %d vectors on a "
	    "device of 4 slots", NV);
	n = msiv_list_vfuncs(c, rec, 8, sizeof(*rec));
	for (int i = 0; i < n && i < 8; i++)
		if (rec[i].vfunc == vf)
			lazy = (rec[i].flags & MSIV_VFUNC_LAZY) &&
			    rec[i].first_slot == MSIV_SLOT_NONE;
	ok(lazy && slots_used(c, "tiny") == 0 &&
	    query(c, vf, 0).slot == MSIV_SLOT_NONE, "it is listed lazy and "
	    "holds no slot");
	ok(msiv_vfunc_enable(c, vf, 1) == 0, "enable the function");
	for (unsigned int i = 0; i < 4; i++) {
		if (setup(c, vf, i, efd[i]) < 0)
			break;
		slot[i] = query(c, vf, i).slot;
		for (unsigned int k = 0; k < i; k++)
			distinct &= slot[k] != slot[i];
	}
	ok(distinct && slots_used(c, "tiny") == 4 && slot[0] < 4 &&
	    slot[3] < 4, "4 vectors set up, each bound to its own slot");
	is_int(msiv_vfunc_open(c, "tiny", 1, 0, &x), -ENOSPC, "the device is "
	    "full: a reserved vfunc of 1 gets ENOSPC");
	is_int(setup(c, vf, 4, efd[4]), -ENOSPC, "the 5th setup: ENOSPC");
	in = query(c, vf, 4);
	ok(in.pending && !in.target && in.slot == MSIV_SLOT_NONE &&
	    h_efd_take(efd[4]) == 0, "it stays undeliverable, no slot, its "
	    "pending bit latched");
	ok(msiv_table_read(c, vf, MSIV_PBA_OFFSET, 8, &pba) == 0 &&
	    pba == 1u << 4, "the PBA shows it (0x%llx)",
	    (unsigned long long)pba);
	is_int(setup(c, vf, 4, efd[4]), -ENOSPC, "again: ENOSPC");
	is_int(nospace(c, vf, 4), 2, "both refusals counted (VEC_LIST)");
	{
		static char out[65536];
		char want[64];

		snprintf(want, sizeof(want), "    %4u %5u ", 3, slot[3]);
		ok(ctl("vfuncs", out, sizeof(out)) == 0 &&
		    strstr(out, "16 vectors, slots on first use (4 bound, 2 "
		    "setup(s) refused for want of a slot)") != NULL &&
		    strstr(out, "NO SLOT: 2 setup(s) refused") != NULL &&
		    strstr(out, "       4     - ") != NULL &&
		    strstr(out, want) != NULL, "msivctl vfuncs shows it: "
		    "4 bound, vector 3 on slot %u, vector 4 with no slot and 2 "
		    "refusals", slot[3]);
		ok(ctl("--json vfuncs", out, sizeof(out)) == 0 &&
		    strstr(out, "\"lazy\": true") != NULL &&
		    strstr(out, "\"bound_slots\": 4") != NULL &&
		    strstr(out, "\"nospace\": 2") != NULL &&
		    strstr(out, "\"slot\": null") != NULL,
		    "msivctl --json vfuncs: lazy, bound_slots, nospace, slot null");
	}

	/* Rule 6 across a rebind: vector 2 leaves 1000 signals unread on its
	 * slot (one write, one delivery); the slot's next owner, vector 4,
	 * gets none of them. */
	ok(fire(c, "tiny", vf, 2, 1) == 0 &&
	    h_efd_wait(efd[2], H_TIMEOUT_MS) == 1, "vector 2: one interrupt "
	    "(the sim device opens a slot's trigger at its first fire)");
	ok(fire(c, "tiny", vf, 2, 1000) == 0 &&
	    h_efd_wait(efd[2], H_TIMEOUT_MS) == 1, "vector 2: 1000 signals in "
	    "one write, one delivery");
	s2 = slot[2];
	ok(msiv_vector_free(c, vf, 2) == 0 && slots_used(c, "tiny") == 3 &&
	    query(c, vf, 2).slot == MSIV_SLOT_NONE, "free vector 2: its slot "
	    "goes back");
	ok(setup(c, vf, 4, efd[4]) == 0 && query(c, vf, 4).slot == s2,
	    "the setup of vector 4 succeeds now, on that slot");
	is_int(h_efd_wait(efd[4], H_TIMEOUT_MS), 1, "rule 2: the latched "
	    "pending bit replays exactly one interrupt");
	in = query(c, vf, 4);
	ok(!in.pending && in.delivered == 1, "the bit is clear");
	ok(msiv_vector_mask(c, vf, 4) == 0 && fire(c, "tiny", vf, 4, 3) == 0,
	    "3 signals on vector 4 masked");
	in = query(c, vf, 4);
	/* fired: the interrupt its nospace setup assumed (replayed above),
	 * then the 3; one of those is the pending bit's. */
	ok(in.pending && in.fired == 4 && in.coalesced == 2 &&
	    in.delivered == 1 && h_efd_take(efd[4]) == 0 &&
	    h_efd_take(efd[2]) == 0,
	    "rule 6: it counts its own only (fired %llu, coalesced %llu); "
	    "nothing reached either target", (unsigned long long)in.fired,
	    (unsigned long long)in.coalesced);
	ok(msiv_vector_unmask(c, vf, 4) == 0 &&
	    h_efd_wait(efd[4], H_TIMEOUT_MS) == 1 && h_efd_take(efd[4]) == 0,
	    "unmask: one delivery");

	/* A vector freed with its bit latched: rule 8 clears it. */
	ok(setup(c, vf, 5, efd[5]) == -ENOSPC && query(c, vf, 5).pending &&
	    msiv_vector_free(c, vf, 5) == 0 && !query(c, vf, 5).pending,
	    "ENOSPC, then free: the latched bit is cleared (rule 8)");
	ok(msiv_vector_free(c, vf, 0) == 0 && setup(c, vf, 5, efd[5]) == 0 &&
	    h_efd_take(efd[5]) == 0, "...and its next setup replays nothing");

	/* A RETARGET attaching a target binds as a setup does. */
	ok(msiv_vector_retarget(c, vf, 6, MSIV_RETARGET_TARGET, 0, 0, efd[6]) ==
	    -ENOSPC && query(c, vf, 6).pending, "RETARGET attaching a target "
	    "to an unbound vector: ENOSPC too, pending latched");

	ok(msiv_vfunc_reset(c, vf) == 0 && slots_used(c, "tiny") == 0,
	    "function reset: every slot goes back");
	ok(msiv_vfunc_close(c, vf) == 0 && slots_used(c, "tiny") == 0,
	    "close");
	for (int i = 0; i < NV; i++)
		close(efd[i]);
}

/* max_vectors = 6: the quota counts bound slots, not vectors. */
static void
test_quota(struct msiv_conn *c)
{
	uint64_t vf, x;
	int efd[8], good = 0;

	ok(msiv_vfunc_open_flags(c, "big", NV, 0, MSIV_OPEN_LAZY, &vf) == 0,
	    "quota: a lazy vfunc of %d vectors under a quota of 6", NV);
	for (unsigned int i = 0; i < 8; i++)
		efd[i] = h_eventfd();
	for (unsigned int i = 0; i < 6; i++)
		good += setup(c, vf, i, efd[i]) == 0;
	is_int(good, 6, "quota: 6 setups");
	is_int(setup(c, vf, 6, efd[6]), -EDQUOT, "quota: the 7th: EDQUOT");
	ok(query(c, vf, 6).pending && nospace(c, vf, 6) == 1, "quota: its "
	    "pending bit latched, counted");
	is_int(msiv_vfunc_open(c, "big", 1, 0, &x), -EDQUOT, "quota: a "
	    "reserved vfunc of 1 more: EDQUOT");
	ok(msiv_vector_free(c, vf, 0) == 0 && setup(c, vf, 6, efd[6]) == 0,
	    "quota: free one, the setup succeeds");
	ok(msiv_vfunc_close(c, vf) == 0 && slots_used(c, "big") == 0,
	    "quota: closed, no slot held");
	for (unsigned int i = 0; i < 8; i++)
		close(efd[i]);
}

static void
test_revoke(struct msiv_conn *admin)
{
	struct msiv_conn *t = h_connect(&d, "lazy-revoked");
	unsigned int count = 0;
	uint64_t vf;
	int e = h_eventfd();

	ok(msiv_vfunc_open_flags(t, "tiny", NV, 0, MSIV_OPEN_LAZY, &vf) == 0 &&
	    setup(t, vf, 3, e) == 0 && slots_used(admin, "tiny") == 1,
	    "revoke: a lazy vfunc holding one slot");
	ok(msiv_revoke(admin, "lazy-revoked", 0, &count) == 0 && count == 1 &&
	    slots_used(admin, "tiny") == 0, "revoke: its slot goes back");
	is_int(setup(t, vf, 4, e), -EKEYREVOKED, "revoke: a later setup gets "
	    "EKEYREVOKED");
	ok(msiv_vfunc_close(t, vf) == 0, "revoke: closed by its tenant");
	msiv_close(t);
	close(e);

	/* A lazy vfunc uses its device even when it holds no slot. */
	ok(msiv_device_attach(admin, "simq", "sim", NULL, 2,
	    MSIV_POLICY_DEFAULT, 0) == 0 && msiv_vfunc_open_flags(admin,
	    "simq", 4, 0, MSIV_OPEN_LAZY, &vf) == 0, "detach: a lazy vfunc "
	    "with no slot bound on an attached device");
	is_int(msiv_device_detach(admin, "simq", 0), -EBUSY, "detach: EBUSY, "
	    "not a silent revocation");
	ok(msiv_vfunc_close(admin, vf) == 0 &&
	    msiv_device_detach(admin, "simq", 0) == 0, "detach: once closed, "
	    "detached");
}

static void
test_restart(void)
{
	static const unsigned int order[3] = { 5, 1, 6 };
	struct msiv_conn *t = h_connect(&d, "lazy-restart"), *o;
	struct msiv_vector_info in;
	uint8_t token[MSIV_TOKEN_LEN];
	uint32_t slot[NV];
	uint64_t vf, ov;
	int e[NV], same = 1, pend = 1, r;

	for (int i = 0; i < NV; i++)
		e[i] = h_eventfd();
	o = h_connect(&d, "lazy-other");
	ok(msiv_vfunc_open_flags(o, "big", 4, 0, MSIV_OPEN_LAZY, &ov) == 0 &&
	    setup(o, ov, 0, e[0]) == 0 && msiv_vector_free(o, ov, 0) == 0,
	    "restart: another tenant bound slot 0 and gave it back");
	ok(msiv_vfunc_open_flags(t, "big", NV, 0, MSIV_OPEN_LAZY, &vf) == 0 &&
	    msiv_vfunc_enable(t, vf, 1) == 0, "restart: a lazy vfunc, enabled");
	for (unsigned int k = 0; k < 3; k++) {
		(void)setup(t, vf, order[k], e[order[k]]);
		slot[order[k]] = query(t, vf, order[k]).slot;
	}
	/* Make the bindings differ from vector order: free vector 1's and
	 * bind vector 9, which takes it. */
	ok(msiv_vector_free(t, vf, 1) == 0 && setup(t, vf, 9, e[9]) == 0,
	    "restart: vector 1 freed, vector 9 set up");
	slot[9] = query(t, vf, 9).slot;
	ok(slot[9] == slot[1], "restart: vectors 5, 6, 9 bound to slots %u, "
	    "%u, %u", slot[5], slot[6], slot[9]);
	msiv_token(t, token);
	ok(h_kill9(&d) == 0 && h_spawn(&d) == 0, "restart: kill -9 and start "
	    "msivd again");
	msiv_close(t);
	msiv_close(o);
	r = msiv_connect_token(d.sock, "lazy-restart", token, &t);
	ok(r == 0 && msiv_resumed(t) == 1, "restart: the tenant resumes its "
	    "vfunc");
	if (r < 0)
		return;
	msiv_set_timeout(t, H_TIMEOUT_MS);
	ok(slots_used(t, "big") == 3, "restart: 3 slots bound on the device");
	for (unsigned int i = 0; i < NV; i++) {
		in = query(t, vf, i);
		if (i == 5 || i == 6 || i == 9) {
			same &= in.slot == slot[i];
			pend &= in.pending && in.orphaned;
		} else
			same &= in.slot == MSIV_SLOT_NONE && !in.pending;
	}
	ok(same, "restart: every set-up vector has the slot it had, the "
	    "others none");
	ok(pend, "restart: each holds a pending interrupt, awaiting its "
	    "target");
	ok(msiv_vector_retarget(t, vf, 9, MSIV_RETARGET_TARGET, 0, 0, e[9]) ==
	    0 && h_efd_wait(e[9], H_TIMEOUT_MS) == 1, "restart: the target "
	    "re-attached gets the pending interrupt once");
	ok(fire(t, "big", vf, 9, 1) == 0 && h_efd_wait(e[9], H_TIMEOUT_MS) == 1,
	    "restart: and the vector's slot delivers to it");
	ok(setup(t, vf, 0, e[0]) == 0 && (in = query(t, vf, 0)).slot !=
	    slot[5] && in.slot != slot[6] && in.slot != slot[9],
	    "restart: a new setup gets a slot no restored vector holds");
	ok(msiv_vfunc_close(t, vf) == 0 && slots_used(t, "big") == 0,
	    "restart: closed, every slot back");
	msiv_close(t);
	for (int i = 0; i < NV; i++)
		close(e[i]);
}

int
main(void)
{
	struct msiv_conn *c;
	uint64_t x, y;

	if (h_start(&d, conf) < 0)
		tap_bail("msivd did not start");
	c = h_connect(&d, "lazy");
	is_int(msiv_vfunc_open_flags(c, "tiny", 4, 0, 0x8000, &x), -EINVAL,
	    "an unknown open flag: EINVAL");
	is_int(msiv_vfunc_open_flags(c, "tiny", 4, (enum msiv_policy)0x100, 0,
	    &x), -EINVAL, "a policy with flag bits: EINVAL");
	test_nospace(c);
	/* The memory of lazy vfuncs is capped per device: 8 vectors per
	 * slot, and one full table always. */
	ok(msiv_vfunc_open_flags(c, "tiny", MSIV_VECTORS_MAX, 0,
	    MSIV_OPEN_LAZY, &x) == 0, "a lazy vfunc of %u vectors on a device "
	    "of 4 slots", MSIV_VECTORS_MAX);
	is_int(msiv_vfunc_open_flags(c, "tiny", 1, 0, MSIV_OPEN_LAZY, &y),
	    -ENOSPC, "one more lazy vector there: ENOSPC (the cap)");
	ok(msiv_vfunc_close(c, x) == 0 && msiv_vfunc_open_flags(c, "tiny", 1,
	    0, MSIV_OPEN_LAZY, &y) == 0 && msiv_vfunc_close(c, y) == 0,
	    "closed, there is room again");
	test_quota(c);
	test_revoke(c);
	msiv_close(c);
	test_restart();
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
