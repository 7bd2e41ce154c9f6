/*
 * kill -9 test of durable state (issue: durable allocation state).
 *
 * Each iteration: worker processes, one per tenant, resume their tenant
 * (token) and run random operations on their vfuncs (open, enable,
 * close, setup, free, retarget, mask, unmask), journaling every request
 * before it is sent and every reply, to this process. At a random moment
 * msivd is killed with SIGKILL, then the workers. This process applies
 * the journals to its model of the acknowledged state (a request without
 * a reply may or may not have happened: both outcomes are accepted, and
 * the model takes the one found), restarts msivd on the same state
 * directory and checks:
 *  - PRAGMA integrity_check of the database is "ok";
 *  - every acknowledged vfunc is there with the state of every vector and
 *    its enable bit, and nothing else is (no lost or duplicated
 *    allocation); no slot is allocated twice;
 *  - every tenant resumes with its token and gets its vfuncs back;
 *  - set-up vectors hold a pending interrupt for the time the daemon was
 *    down, delivered once their target is re-attached; an interrupt fired
 *    after the restart and before re-attachment is not lost either.
 * Each tenant's last vfunc has slots on first use (MSIV_OPEN_LAZY): its
 * vectors hold a slot exactly while they are set up, each the one it was
 * bound to when it was set up (the worker journals it), no slot twice.
 * The daemon writes mask state through (write_behind_ms = 0) here, so
 * that every acknowledged change can be checked exactly.
 *
 * MSIV_KILL_ITERATIONS sets the number of iterations (default 100; the
 * soak target runs more).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define NT    3   /* tenants, one worker each */
#define MAXVF 3   /* vfuncs per tenant */
#define NV    4   /* vectors per vfunc */

static const char conf[] =
    "[msivd]\n"
    "orphan_grace = 3600\n"
    "write_behind_ms = 0\n"
    "[device sim0]\n"
    "backend = sim\n"
    "slots = 64\n"
    "policy = latch\n";

struct mvec {
	uint8_t setup, masked;
	uint8_t slot_known; /* lazy: the slot it was bound to is known */
	uint32_t slot;
	uint64_t addr;
	uint32_t data;
};

struct mvf {
	uint64_t id;
	uint8_t used, enabled;
	uint8_t lazy;     /* slots on first use: the tenant's last vfunc */
	struct mvec v[NV];
};

struct mtenant {
	char name[MSIV_NAME_MAX];
	uint8_t token[MSIV_TOKEN_LEN];
	int have_token;
	struct mvf vf[MAXVF];
};

enum op { OP_OPEN, OP_ENABLE, OP_CLOSE, OP_SETUP, OP_FREE, OP_RETARGET,
    OP_MASK, OP_UNMASK };

struct jrec {
	char kind;        /* 'T' token, 'B' sent, 'A' acknowledged, 'F' failed,
			     'S' the slot a lazy vector's setup bound */
	uint8_t op, vfi, vec, unmasked;
	int32_t err;
	uint64_t id, addr;
	uint32_t data;
	uint32_t slot;
	uint8_t token[MSIV_TOKEN_LEN];
};

static struct h_daemon d;
static struct mtenant model[NT];
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t
rnd(void)
{
	return tap_rand(&rng);
}

static void
apply(struct mtenant *t, const struct jrec *r)
{
	struct mvf *vf = &t->vf[r->vfi];
	struct mvec *v = &vf->v[r->vec];

	switch ((enum op)r->op) {
	case OP_OPEN:
		memset(vf, 0, sizeof(*vf));
		vf->used = 1;
		vf->id = r->id;
		vf->lazy = r->vfi == MAXVF - 1;
		for (int i = 0; i < NV; i++)
			vf->v[i].masked = 1;
		break;
	case OP_ENABLE:
		vf->enabled = 1;
		break;
	case OP_CLOSE:
		memset(vf, 0, sizeof(*vf));
		break;
	case OP_SETUP:
		v->setup = 1;
		v->masked = !r->unmasked;
		v->addr = r->addr;
		v->data = r->data;
		break;
	case OP_FREE:
		memset(v, 0, sizeof(*v));
		v->masked = 1;
		break;
	case OP_RETARGET:
		v->addr = r->addr;
		v->data = r->data;
		break;
	case OP_MASK:
		v->masked = 1;
		break;
	case OP_UNMASK:
		v->masked = 0;
		break;
	}
}

static void
jwrite(int fd, const struct jrec *r)
{
	if (write(fd, r, sizeof(*r)) != sizeof(*r))
		_exit(3);
}

/* A worker: resume the tenant, re-attach targets, then random operations
 * until the daemon goes away. Never returns. */
static void
worker(struct mtenant *t, int jfd, uint64_t seed)
{
	struct msiv_conn *c;
	struct jrec r;
	int efd = h_eventfd(), res = 0;

	rng = seed;
	if (msiv_connect_token(d.sock, t->name, t->have_token ? t->token :
	    NULL, &c) < 0)
		_exit(0);
	msiv_set_timeout(c, H_TIMEOUT_MS);
	memset(&r, 0, sizeof(r));
	r.kind = 'T';
	msiv_token(c, r.token);
	jwrite(jfd, &r);
	for (int i = 0; i < MAXVF; i++)
		for (int k = 0; k < NV && t->vf[i].used; k++)
			if (t->vf[i].v[k].setup &&
			    msiv_vector_retarget(c, t->vf[i].id, (unsigned)k,
			    MSIV_RETARGET_TARGET, 0, 0, efd) == -ENOTCONN)
				_exit(0);
	for (;;) {
		uint32_t vfi = (uint32_t)(rnd() % MAXVF), k = rnd() % NV;
		struct mvf *vf = &t->vf[vfi];
		struct mvec *v = &vf->v[k];
		uint64_t x = rnd();

		memset(&r, 0, sizeof(r));
		r.vfi = (uint8_t)vfi;
		r.vec = (uint8_t)k;
		r.addr = 0xfee00000u + (x & 0xff) * 0x1000u;
		r.data = (uint32_t)(x >> 8) & 0xffff;
		r.unmasked = (uint8_t)((x >> 32) & 1);
		if (!vf->used)
			r.op = OP_OPEN;
		else if (!vf->enabled)
			r.op = OP_ENABLE;
		else if (x % 23 == 0)
			r.op = OP_CLOSE;
		else if (!v->setup)
			r.op = OP_SETUP;
		else
			r.op = (uint8_t)(OP_FREE + (x >> 40) % 4);
		r.kind = 'B';
		r.id = vf->id;
		jwrite(jfd, &r);
		switch ((enum op)r.op) {
		case OP_OPEN:
			res = msiv_vfunc_open_flags(c, "sim0", NV,
			    MSIV_POLICY_DEFAULT, vfi == MAXVF - 1 ?
			    MSIV_OPEN_LAZY : 0, &r.id);
			break;
		case OP_ENABLE:
			res = msiv_vfunc_enable(c, vf->id, 1);
			break;
		case OP_CLOSE:
			res = msiv_vfunc_close(c, vf->id);
			break;
		case OP_SETUP:
			res = msiv_vector_setup(c, vf->id, k, r.addr, r.data,
			    efd, r.unmasked ? MSIV_SETUP_UNMASKED : 0);
			break;
		case OP_FREE:
			res = msiv_vector_free(c, vf->id, k);
			break;
		case OP_RETARGET:
			res = msiv_vector_retarget(c, vf->id, k,
			    MSIV_RETARGET_TARGET | MSIV_RETARGET_MSG, r.addr,
			    r.data, efd);
			break;
		case OP_MASK:
			res = msiv_vector_mask(c, vf->id, k);
			break;
		case OP_UNMASK:
			res = msiv_vector_unmask(c, vf->id, k);
			break;
		}
		r.kind = res == 0 ? 'A' : 'F';
		r.err = res;
		jwrite(jfd, &r);
		if (res == -ENOTCONN || res == -ETIMEDOUT)
			_exit(0);
		if (res == 0)
			apply(t, &r);
		if (res == 0 && r.op == OP_SETUP && vf->lazy) {
			struct msiv_vector_info in;

			if (msiv_vector_query(c, vf->id, k, &in) < 0)
				_exit(0);
			r.kind = 'S';
			r.slot = in.slot;
			jwrite(jfd, &r);
		}
	}
}

/* Read a worker's journal into the model; returns the request in flight
 * (sent, no reply) in *pending, if any. */
static int
journal(struct mtenant *t, int jfd, struct jrec *pending)
{
	struct jrec r;
	int have = 0;

	while (read(jfd, &r, sizeof(r)) == sizeof(r)) {
		switch (r.kind) {
		case 'T':
			memcpy(t->token, r.token, sizeof(t->token));
			t->have_token = 1;
			break;
		case 'B':
			*pending = r;
			have = 1;
			break;
		case 'A':
			apply(t, &r);
			have = 0;
			break;
		case 'S':
			t->vf[r.vfi].v[r.vec].slot = r.slot;
			t->vf[r.vfi].v[r.vec].slot_known = 1;
			break;
		default: /* 'F': an error reply changed nothing, unless the
			    daemon was lost before replying */
			have = r.err == -ENOTCONN || r.err == -ETIMEDOUT;
			break;
		}
	}
	return have;
}

struct real {
	int n;
	struct msiv_vfunc_info rec[NT * MAXVF + NT];
	struct msiv_vector_state vec[NT * MAXVF + NT][NV];
};

static int
real_get(struct msiv_conn *admin, struct real *re)
{
	re->n = msiv_list_vfuncs(admin, re->rec, NT * MAXVF + NT,
	    sizeof(*re->rec));
	if (re->n < 0 || re->n > NT * MAXVF + NT)
		return -1;
	for (int i = 0; i < re->n; i++)
		if (msiv_list_vectors(admin, re->rec[i].vfunc, re->vec[i], NV,
		    sizeof(*re->vec[i])) !=
		    (int)re->rec[i].nvec || re->rec[i].nvec != NV)
			return -1;
	return 0;
}

/* Does the tenant's part of reality match the model exactly? */
static int
matches(const struct mtenant *t, const struct real *re, char *why,
    size_t len)
{
	int seen = 0;

	for (int i = 0; i < re->n; i++) {
		const struct msiv_vfunc_info *r = &re->rec[i];
		const struct mvf *vf = NULL;

		if (strcmp(r->tenant, t->name) != 0)
			continue;
		seen++;
		for (int k = 0; k < MAXVF; k++)
			if (t->vf[k].used && t->vf[k].id == r->vfunc)
				vf = &t->vf[k];
		if (vf == NULL) {
			snprintf(why, len, "%s: unexpected vfunc %016llx",
			    t->name, (unsigned long long)r->vfunc);
			return 0;
		}
		if (!!(r->flags & MSIV_VFUNC_LAZY) != vf->lazy) {
			snprintf(why, len, "%s: vfunc %016llx lazy flag",
			    t->name, (unsigned long long)r->vfunc);
			return 0;
		}
		if (!!(r->flags & MSIV_VFUNC_ENABLED) != vf->enabled) {
			snprintf(why, len, "%s: vfunc %016llx enable bit",
			    t->name, (unsigned long long)r->vfunc);
			return 0;
		}
		for (int k = 0; k < NV; k++) {
			const struct msiv_vector_state *in = &re->vec[i][k];
			const struct mvec *v = &vf->v[k];

			if (!!(in->state & MSIV_VEC_MASKED) != v->masked ||
			    !!(in->state & MSIV_VEC_ORPHANED) != v->setup ||
			    in->eff_addr != v->addr || in->eff_data != v->data ||
			    (vf->lazy && (in->slot != MSIV_SLOT_NONE) !=
			    v->setup) || (vf->lazy && v->setup &&
			    v->slot_known && in->slot != v->slot)) {
				snprintf(why, len, "%s: vfunc %016llx vector %d: "
				    "state 0x%x addr 0x%llx data 0x%x slot %u, "
				    "model setup %d masked %d addr 0x%llx data "
				    "0x%x slot %u", t->name, (unsigned long long)
				    r->vfunc, k, in->state, (unsigned long long)
				    in->eff_addr, in->eff_data, in->slot,
				    v->setup, v->masked, (unsigned long long)
				    v->addr, v->data, v->slot_known ? v->slot :
				    MSIV_SLOT_NONE);
				return 0;
			}
		}
	}
	for (int k = 0; k < MAXVF; k++)
		seen -= t->vf[k].used;
	if (seen != 0) {
		snprintf(why, len, "%s: %d vfunc(s) %s", t->name,
		    seen < 0 ? -seen : seen, seen < 0 ? "lost" : "extra");
		return 0;
	}
	return 1;
}

/* The id of the tenant's vfunc that the model does not have (an open in
 * flight that happened). */
static uint64_t
extra_id(const struct mtenant *t, const struct real *re)
{
	for (int i = 0; i < re->n; i++) {
		int known = 0;

		if (strcmp(re->rec[i].tenant, t->name) != 0)
			continue;
		for (int k = 0; k < MAXVF; k++)
			known |= t->vf[k].used && t->vf[k].id == re->rec[i].vfunc;
		if (!known)
			return re->rec[i].vfunc;
	}
	return 0;
}

static int
integrity_ok(void)
{
	char path[200];
	sqlite3 *db;
	sqlite3_stmt *st;
	int ok = 0;

	snprintf(path, sizeof(path), "%s/msivd.db", d.dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		return 0;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) ==
	    SQLITE_OK) {
		ok = sqlite3_step(st) == SQLITE_ROW &&
		    strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return ok;
}

static int
slots_ok(const struct real *re, struct msiv_conn *admin)
{
	struct msiv_device_info dev;
	uint8_t used[64] = { 0 };
	uint32_t sum = 0;

	for (int i = 0; i < re->n; i++)
		for (uint32_t s = 0; s < re->rec[i].nvec; s++) {
			uint32_t slot = re->rec[i].first_slot + s;

			/* Lazy: the slots its vectors are bound to. */
			if (re->rec[i].flags & MSIV_VFUNC_LAZY) {
				slot = re->vec[i][s].slot;
				if (slot == MSIV_SLOT_NONE)
					continue;
			}
			if (slot >= 64 || used[slot]++)
				return 0;
			sum++;
		}
	return msiv_list_devices(admin, &dev, 1, sizeof(dev)) == 1 &&
	    dev.slots_used == sum;
}

/* Resume a tenant, fire its set-up vectors before re-attaching, and see
 * each delivered once its target is back. */
static int
resume_ok(struct mtenant *t, char *why, size_t len)
{
	struct msiv_conn *c, *admin;
	int efd = h_eventfd(), want = 0, r;
	unsigned int n = 0;

	if ((r = msiv_connect_token(d.sock, t->name, t->token, &c)) < 0) {
		snprintf(why, len, "%s: resume: %s", t->name, msiv_strerror(r));
		close(efd);
		return 0;
	}
	admin = h_connect(&d, NULL);
	for (int k = 0; k < MAXVF; k++)
		n += t->vf[k].used;
	if (msiv_resumed(c) != n) {
		snprintf(why, len, "%s: resumed %u vfuncs, want %u", t->name,
		    msiv_resumed(c), n);
		goto fail;
	}
	for (int k = 0; k < MAXVF; k++) {
		struct mvf *vf = &t->vf[k];

		for (int i = 0; i < NV && vf->used; i++) {
			struct msiv_vector_info in;

			if (msiv_vector_query(c, vf->id, (unsigned)i, &in) < 0 ||
			    in.pending != vf->v[i].setup) {
				snprintf(why, len, "%s: vector %d pending %d "
				    "after the restart, set up %d", t->name, i,
				    in.pending, vf->v[i].setup);
				goto fail;
			}
			if (!vf->v[i].setup)
				continue;
			/* Fired after the restart, before re-attachment. */
			(void)msiv_sim_fire(admin, "sim0", in.slot, 1);
			if (h_wait_fired(c, vf->id, (unsigned)i, 1) < 0 ||
			    msiv_vector_retarget(c, vf->id, (unsigned)i,
			    MSIV_RETARGET_TARGET, 0, 0, efd) < 0) {
				snprintf(why, len, "%s: re-attach failed",
				    t->name);
				goto fail;
			}
			want += !vf->v[i].masked;
		}
	}
	for (int got = 0; got < want;) {
		uint64_t v = h_efd_wait(efd, H_TIMEOUT_MS);

		if (v == 0) {
			snprintf(why, len, "%s: %d of %d unmasked vectors "
			    "delivered after re-attach", t->name, got, want);
			goto fail;
		}
		got += (int)v;
	}
	msiv_close(admin);
	msiv_close(c);
	close(efd);
	return 1;
fail:
	msiv_close(admin);
	msiv_close(c);
	close(efd);
	return 0;
}

/* One iteration; returns 1 if everything checked out. */
static int
iteration(int it)
{
	int jfd[NT][2], pid[NT], have[NT];
	struct jrec pend[NT];
	struct msiv_conn *admin;
	struct real re;
	char why[4096] = "";

	for (int t = 0; t < NT; t++) {
		if (pipe2(jfd[t], O_CLOEXEC) < 0)
			tap_bail("pipe");
		pid[t] = fork();
		if (pid[t] == 0) {
			close(jfd[t][0]);
			worker(&model[t], jfd[t][1], rnd() | 1);
		}
		close(jfd[t][1]);
	}
	/* Let the workload run, then pull the plug. */
	poll(NULL, 0, (int)(1 + rnd() % 30));
	if (h_kill9(&d) < 0)
		tap_bail("kill -9");
	for (int t = 0; t < NT; t++) {
		kill(pid[t], SIGKILL);
		waitpid(pid[t], NULL, 0);
		have[t] = journal(&model[t], jfd[t][0], &pend[t]);
		close(jfd[t][0]);
	}
	if (!integrity_ok()) {
		tap_diag("iteration %d: integrity_check failed", it);
		return 0;
	}
	if (h_spawn(&d) < 0) {
		tap_diag("iteration %d: msivd did not restart", it);
		return 0;
	}
	admin = h_connect(&d, NULL);
	if (real_get(admin, &re) < 0 || !slots_ok(&re, admin)) {
		tap_diag("iteration %d: listing or slot accounting wrong", it);
		msiv_close(admin);
		return 0;
	}
	msiv_close(admin);
	for (int t = 0; t < NT; t++) {
		struct mtenant with = model[t];

		if (matches(&model[t], &re, why, sizeof(why)))
			continue;
		if (have[t]) {
			if (pend[t].op == OP_OPEN)
				pend[t].id = extra_id(&model[t], &re);
			apply(&with, &pend[t]);
			if (matches(&with, &re, why, sizeof(why))) {
				model[t] = with;
				continue;
			}
		}
		tap_diag("iteration %d: %s", it, why);
		return 0;
	}
	for (int t = 0; t < NT; t++)
		if (model[t].have_token && !resume_ok(&model[t], why,
		    sizeof(why))) {
			tap_diag("iteration %d: %s", it, why);
			return 0;
		}
	return 1;
}

int
main(void)
{
	const char *env = getenv("MSIV_KILL_ITERATIONS");
	int n = env != NULL ? atoi(env) : 100, passed = 0, ops = 0;

	if (n <= 0)
		n = 100;
	signal(SIGPIPE, SIG_IGN);
	for (int t = 0; t < NT; t++)
		snprintf(model[t].name, sizeof(model[t].name), "vm-%d", t);
	if (h_start(&d, conf) < 0)
		tap_bail("msivd did not start");
	for (int it = 0; it < n; it++) {
		if (!iteration(it))
			break;
		passed++;
	}
	for (int t = 0; t < NT; t++)
		for (int k = 0; k < MAXVF; k++)
			ops += model[t].vf[k].used;
	is_int(passed, n, "%d kill -9 iterations: acknowledged state intact, "
	    "no slot twice, integrity ok, tenants resumed, interrupts held "
	    "and delivered", n);
	tap_diag("%d vfuncs held at the end", ops);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
