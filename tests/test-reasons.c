/*
 * Errors with their reason (msiv-protocol(7), ERRORS; libmsiv(3),
 * msiv_last_reason): with the real msivd, each refusal of a request
 * carries why, in the words the daemon logs; libmsiv hands it out until
 * the next request; a reason never names another tenant's data; a
 * refused HELLO's reason survives the failed connect. On the wire an
 * error reply has len 0 or exactly sizeof(struct msiv_error_rep), NUL
 * terminated and padded. Against a daemon that predates reasons (a
 * stand-in that answers with len 0, or with a payload of another size)
 * msiv_last_reason() is empty and the errno is unchanged.
 *
 * And msivctl --json: every object of a listing has the same keys
 * whatever state its vfunc is in (lazy or not, orphaned, revoked, a
 * vector with or without a slot), status has the same keys whether msivd
 * reports hotplug or predates it (the stand-in), and an error is one JSON
 * object with the same keys, reason or not.
 */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "proto.h"
#include "tap.h"

static const char conf[] =
    "[msivd]\n"
    "orphan_grace = 3600\n"
    "max_vectors = 6\n"
    "[device sim0]\n"
    "backend = sim\n"
    "slots = 16\n"
    "policy = strict\n";

static struct h_daemon d;

static int
has(const char *s, const char *frag)
{
	if (strstr(s, frag) != NULL)
		return 1;
	tap_diag("  \"%s\" lacks \"%s\"", s, frag);
	return 0;
}

/* --- libmsiv against msivd ------------------------------------------------ */

static void
test_reasons(void)
{
	struct msiv_conn *a = h_connect(&d, "vm-a");
	struct msiv_conn *b = h_connect(&d, "vm-b");
	struct msiv_conn *c;
	uint64_t vf, lazy, cbig = 0;
	int e = h_eventfd();
	char hex[64];

	ok(strcmp(msiv_last_reason(a), "") == 0, "a new connection: no reason");
	is_int(msiv_vfunc_open(a, "nodev", 4, MSIV_POLICY_DEFAULT, &vf),
	    -ENODEV, "open on a device that does not exist: ENODEV");
	ok(has(msiv_last_reason(a), "no device nodev"), "... reason: no device "
	    "nodev");
	ok(h_logged(&d, "VFUNC_OPEN refused (No such device): no device nodev"),
	    "... logged in the same words");
	is_int(msiv_vfunc_open(a, "sim0", 4, MSIV_POLICY_DEFAULT, &vf), 0,
	    "open 4 vectors on sim0");
	ok(strcmp(msiv_last_reason(a), "") == 0, "a request that succeeds "
	    "clears the reason");
	is_int(msiv_vector_mask(a, vf, 9), -EINVAL, "vector 9 of 4: EINVAL");
	ok(has(msiv_last_reason(a), "vector 9: vfunc ") &&
	    has(msiv_last_reason(a), "has 4 vectors"), "... reason names the "
	    "index and the size");
	is_int(msiv_vfunc_open(a, "sim0", 4, MSIV_POLICY_DEFAULT, &lazy),
	    -EDQUOT, "4 more vectors over max_vectors 6: EDQUOT");
	ok(has(msiv_last_reason(a), "tenant vm-a over its quota on sim0: 1 of")
	    && has(msiv_last_reason(a), "4 + 4 of 6 vectors"),
	    "... reason gives the quota");
	is_int(msiv_vector_setup(a, vf, 0, 0xfee00000, 0x41, e,
	    MSIV_SETUP_UNMASKED), 0, "set up vector 0, unmasked");
	is_int(msiv_vector_setup(a, vf, 0, 0xfee00000, 0x41, e, 0), -EBUSY,
	    "set it up again: EBUSY");
	ok(has(msiv_last_reason(a), "vector 0 is set up already"), "... reason "
	    "says so");
	is_int(msiv_vfunc_enable(a, vf, 1), 0, "enable the function");
	is_int(msiv_table_write(a, vf, 0, 4, 0xfee01000), -EBUSY,
	    "strict: a message write to an unmasked vector: EBUSY");
	ok(has(msiv_last_reason(a), "vector 0 is unmasked and the vfunc's "
	    "policy is strict: mask it first"), "... reason says mask first");
	/* Lazy: no free slot. vm-b opens 2 lazy vectors; 12 of the 16 slots
	 * go to a third tenant first. */
	c = h_connect(&d, "vm-c");
	{
		uint64_t big;

		is_int(msiv_vfunc_open(c, "sim0", 6, MSIV_POLICY_DEFAULT, &big),
		    0, "vm-c takes 6 slots");
		cbig = big;
	}
	{
		struct msiv_conn *c2 = h_connect(&d, "vm-d");
		uint64_t big;

		is_int(msiv_vfunc_open(c2, "sim0", 6, MSIV_POLICY_DEFAULT,
		    &big), 0, "vm-d takes 6 more: none left");
		is_int(msiv_vfunc_open_flags(b, "sim0", 2, MSIV_POLICY_LATCH,
		    MSIV_OPEN_LAZY, &lazy), 0, "vm-b opens a lazy vfunc");
		is_int(msiv_vector_setup(b, lazy, 1, 0xfee00000, 0x42, e, 0),
		    -ENOSPC, "its setup finds no slot: ENOSPC");
		ok(has(msiv_last_reason(b), "vector 1 has no slot on sim0 (the "
		    "device has none free): undeliverable, its pending bit "
		    "set"),
		    "... reason says so, pending bit and all");
		ok(h_logged(&d, "vector 1 has no slot on sim0 (the device has "
		    "none free, 1 time(s)): undeliverable"), "... as the log "
		    "does");
		/* Closed, not orphaned: the slots are for test_json. */
		ok(msiv_vfunc_close(c2, big) == 0 &&
		    msiv_vfunc_close(c, cbig) == 0 &&
		    msiv_vfunc_close(b, lazy) == 0, "the slots given back");
		msiv_close(c2);
	}
	msiv_close(c);
	/* Another tenant's handle: refused exactly like a made-up one, and
	 * nothing of vm-a in the words. */
	is_int(msiv_vfunc_enable(b, vf, 1), -ENOENT, "vm-b names vm-a's vfunc: "
	    "ENOENT");
	snprintf(hex, sizeof(hex), "no vfunc %016llx in this session",
	    (unsigned long long)vf);
	ok(strcmp(msiv_last_reason(b), hex) == 0, "... reason: %s", hex);
	ok(strstr(msiv_last_reason(b), "vm-a") == NULL, "... not naming vm-a");
	is_int(msiv_vfunc_enable(b, 0x1234567812345678ull, 1), -ENOENT,
	    "a made-up handle: ENOENT");
	ok(strcmp(msiv_last_reason(b),
	    "no vfunc 1234567812345678 in this session") == 0,
	    "... the same words");
	/* A refused HELLO: the reason outlives the connect. */
	is_int(msiv_connect(d.sock, "vm-a", &c), -EACCES, "connect as vm-a "
	    "without its token while it holds a vfunc: EACCES");
	ok(has(msiv_last_reason(NULL), "tenant vm-a refused: it holds vfuncs "
	    "and the session gave no token"), "... msiv_last_reason(NULL) says "
	    "why");
	/* A library-side error sends nothing: the reason stays. */
	is_int(msiv_vector_mask(a, vf, 9), -EINVAL, "vector 9 again");
	is_int(msiv_revoke(a, NULL, 0, NULL), -EINVAL, "revoke with neither "
	    "tenant nor vfunc: EINVAL from the library");
	ok(has(msiv_last_reason(a), "vector 9"), "... the reason of the last "
	    "request sent is still there");
	close(e);
	msiv_close(a);
	msiv_close(b);
}

/* --- the wire ------------------------------------------------------------- */

/* Send one request on a raw connection and read its reply. */
static int
raw_call(int fd, unsigned int op, const void *payload, uint32_t len,
    struct msiv_hdr *rh, unsigned char *rep, size_t cap)
{
	unsigned char pkt[MSIV_MSG_MAX];
	struct msiv_hdr h = {
		.magic = MSIV_PROTO_MAGIC, .version = MSIV_PROTO_VERSION,
		.opcode = (uint16_t)op, .seq = 7, .len = len,
	};
	ssize_t n;

	msiv_hdr_encode(&h, pkt);
	if (len > 0)
		memcpy(pkt + sizeof(h), payload, len);
	if (send(fd, pkt, sizeof(h) + len, 0) < 0)
		return -errno;
	n = recv(fd, pkt, sizeof(pkt), 0);
	if (n < 0)
		return -errno;
	if (msiv_hdr_decode(pkt, (size_t)n, rh) < 0)
		return -EPROTO;
	if (rh->len > cap)
		return -EMSGSIZE;
	memcpy(rep, pkt + sizeof(*rh), rh->len);
	return 0;
}

static void
test_wire(void)
{
	struct msiv_hello_req hq = { .version_min = 1, .version_max = 1 };
	struct msiv_vfunc_open_req oq = { .device = "nodev", .nvec = 1 };
	struct msiv_hdr rh;
	unsigned char rep[MSIV_MSG_MAX];
	int fd = h_raw_connect(&d), padded = 1;
	size_t n;

	if (fd < 0)
		tap_bail("raw connect");
	ok(raw_call(fd, MSIV_OP_STATUS, NULL, 0, &rh, rep, sizeof(rep)) == 0 &&
	    rh.status == -EPROTO && rh.len == sizeof(struct msiv_error_rep),
	    "STATUS before HELLO: EPROTO with a %zu-byte reason",
	    sizeof(struct msiv_error_rep));
	ok(has((const char *)rep, "must be HELLO"), "... saying HELLO comes "
	    "first");
	memcpy(hq.tenant, "vm-wire", 8);
	ok(raw_call(fd, MSIV_OP_HELLO, &hq, sizeof(hq), &rh, rep,
	    sizeof(rep)) == 0 && rh.status == 0, "HELLO");
	ok(raw_call(fd, MSIV_OP_VFUNC_OPEN, &oq, sizeof(oq), &rh, rep,
	    sizeof(rep)) == 0 && rh.status == -ENODEV &&
	    rh.len == sizeof(struct msiv_error_rep), "VFUNC_OPEN of nodev: "
	    "ENODEV, with a reason");
	n = strnlen((const char *)rep, rh.len);
	for (size_t i = n; i < rh.len; i++)
		padded &= rep[i] == 0;
	ok(n < rh.len && padded && strcmp((const char *)rep,
	    "no device nodev") == 0, "... \"no device nodev\", NUL terminated "
	    "and padded");
	ok(raw_call(fd, MSIV_OP_VFUNC_OPEN, &oq, sizeof(oq) - 4, &rh, rep,
	    sizeof(rep)) == 0 && rh.status == -EMSGSIZE &&
	    has((const char *)rep, "VFUNC_OPEN payload of 36 bytes: it takes "
	    "40"), "a short payload: EMSGSIZE, saying the sizes");
	ok(raw_call(fd, 0x7fff, NULL, 0, &rh, rep, sizeof(rep)) == 0 &&
	    rh.status == -ENOSYS && has((const char *)rep, "opcode 32767 is "
	    "not one msivd knows"), "an unknown opcode: ENOSYS, saying so");
	close(fd);
}

/*
 * A stand-in for a daemon that predates reasons: it answers HELLO, STATUS
 * (all zero), and every other request with status and errlen payload
 * bytes (len 0 as an old msivd, or a length no reply of that kind has).
 */
struct fake {
	int lfd;
	int status;
	uint32_t errlen;
	char path[108];
	pthread_t t;
};

static void *
fake_run(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	unsigned char pkt[MSIV_MSG_MAX];
	ssize_t n;
	int fd;

	/* A client that never comes must not hang the test. */
	if (poll(&p, 1, H_TIMEOUT_MS) != 1 ||
	    (fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return NULL;
	while ((n = recv(fd, pkt, sizeof(pkt), 0)) > 0) {
		struct msiv_hdr h;
		struct msiv_hello_rep hr = { .version = 1 };
		struct msiv_status_rep st = { .version = 1 };

		if (msiv_hdr_decode(pkt, (size_t)n, &h) < 0)
			break;
		h.flags = MSIV_F_REPLY;
		if (h.opcode == MSIV_OP_HELLO) {
			memcpy(hr.tenant, "old", 4);
			h.len = sizeof(hr);
			msiv_hdr_encode(&h, pkt);
			memcpy(pkt + sizeof(h), &hr, sizeof(hr));
		} else if (h.opcode == MSIV_OP_STATUS) {
			h.len = sizeof(st);
			msiv_hdr_encode(&h, pkt);
			memcpy(pkt + sizeof(h), &st, sizeof(st));
		} else {
			h.status = f->status;
			h.len = f->errlen;
			msiv_hdr_encode(&h, pkt);
			memset(pkt + sizeof(h), 'x', f->errlen);
		}
		if (send(fd, pkt, sizeof(h) + h.len, 0) < 0)
			break;
	}
	close(fd);
	return NULL;
}

/* It serves one connection, at d.dir/old.sock. */
static void
fake_start(struct fake *f, int status, uint32_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	f->status = status;
	f->errlen = errlen;
	snprintf(f->path, sizeof(f->path), "%s/old.sock", d.dir);
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	unlink(f->path);
	f->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa,
	    sizeof(sa)) < 0 || listen(f->lfd, 1) < 0 ||
	    pthread_create(&f->t, NULL, fake_run, f) != 0)
		tap_bail("fake daemon");
}

static void
fake_stop(struct fake *f)
{
	pthread_join(f->t, NULL);
	close(f->lfd);
	unlink(f->path);
}

static void
test_old_daemon(uint32_t errlen)
{
	struct fake f;
	struct msiv_conn *c;
	uint64_t vf;

	fake_start(&f, -EINVAL, errlen);
	is_int(msiv_connect(f.path, "old", &c), 0, "connect to a daemon "
	    "answering errors with %u payload bytes", errlen);
	is_int(msiv_vfunc_open(c, "sim0", 1, MSIV_POLICY_DEFAULT, &vf), -EINVAL,
	    "... an error reply: the errno as sent");
	ok(strcmp(msiv_last_reason(c), "") == 0, "... and no reason");
	msiv_close(c);
	fake_stop(&f);
}

/* --- msivctl --json ------------------------------------------------------- */

/* Run msivctl with args; its standard output parsed as JSON (NULL if it
 * is not), its exit status in *rc. */
static json_object *
ctl_json(const char *sock, const char *args, int *rc)
{
	char cmd[512], buf[1 << 16];
	size_t n;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "\"%s\" --socket \"%s\" --json %s "
	    "2>/dev/null", getenv("MSIVCTL"), sock, args);
	if ((p = popen(cmd, "r")) == NULL)
		tap_bail("popen msivctl");
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	st = pclose(p);
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return json_tokener_parse(buf);
}

/* The object's keys, sorted, comma separated. */
static void
keyset(json_object *o, char *out, size_t len)
{
	const char *keys[64];
	size_t n = 0, off = 0;

	json_object_object_foreach(o, k, v) {
		(void)v;
		if (n < 64)
			keys[n++] = k;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0;
		    j--) {
			const char *t = keys[j];

			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(out + off, off < len ? len - off : 0,
		    "%s%s", i ? "," : "", keys[i]);
}

/* Do all objects of the array have the same keys? */
static int
same_keys(json_object *a, const char *what)
{
	char first[2048], ks[2048];
	size_t n = json_object_array_length(a);

	for (size_t i = 0; i < n; i++) {
		keyset(json_object_array_get_idx(a, i), i ? ks : first,
		    sizeof(ks));
		if (i > 0 && strcmp(ks, first) != 0) {
			tap_diag("  %s %zu: %s", what, i, ks);
			tap_diag("  %s 0: %s", what, first);
			return 0;
		}
	}
	return 1;
}

static void
test_json(void)
{
	struct msiv_conn *live = h_connect(&d, "j-live");
	struct msiv_conn *lz = h_connect(&d, "j-lazy");
	struct msiv_conn *gone = h_connect(&d, "j-gone");
	struct msiv_conn *orph = h_connect(&d, "j-orph");
	struct msiv_conn *admin = h_connect(&d, NULL);
	json_object *a, *all_vecs, *e1, *e2;
	uint64_t v1, v2, v3, v4;
	int e = h_eventfd(), rc, ok_live = 1;
	char k1[512], k2[512];

	/* sim0 has 16 slots, vm-a holds 4 of them still (test_reasons). */
	ok(msiv_vfunc_open(live, "sim0", 2, MSIV_POLICY_LATCH, &v1) == 0 &&
	    msiv_vector_setup(live, v1, 0, 0xfee00000, 1, e, 1) == 0,
	    "a vfunc with a vector set up");
	ok(msiv_vfunc_open_flags(lz, "sim0", 2, MSIV_POLICY_LATCH,
	    MSIV_OPEN_LAZY, &v2) == 0 && msiv_vector_setup(lz, v2, 1,
	    0xfee00000, 2, e, 0) == 0, "a lazy vfunc, one vector bound, one "
	    "not");
	ok(msiv_vfunc_open(gone, "sim0", 1, MSIV_POLICY_LATCH, &v3) == 0 &&
	    msiv_revoke(admin, "j-gone", 0, NULL) == 0, "a revoked vfunc");
	ok(msiv_vfunc_open(orph, "sim0", 1, MSIV_POLICY_LATCH, &v4) == 0,
	    "a vfunc about to be orphaned");
	msiv_close(orph);
	/* Orphaned once the daemon has seen the session end. */
	for (int waited = 0; waited < H_TIMEOUT_MS; waited += 20) {
		struct msiv_vfunc_info r[16];
		int n = msiv_list_vfuncs(admin, r, 16, sizeof(*r)), found = 0;

		for (int i = 0; i < n && i < 16; i++)
			found |= r[i].vfunc == v4 &&
			    (r[i].flags & MSIV_VFUNC_ORPHANED);
		if (found)
			break;
		usleep(20000);
	}
	a = ctl_json(d.sock, "vfuncs", &rc);
	ok(rc == 0 && a != NULL && json_object_is_type(a, json_type_array) &&
	    json_object_array_length(a) >= 4, "msivctl --json vfuncs: %zu "
	    "vfuncs", a != NULL ? json_object_array_length(a) : 0);
	ok(a != NULL && same_keys(a, "vfunc"), "... every vfunc has the same "
	    "keys (lazy or not, orphaned, revoked)");
	all_vecs = json_object_new_array();
	for (size_t i = 0; a != NULL && i < json_object_array_length(a); i++) {
		json_object *vf = json_object_array_get_idx(a, i), *vs;

		if (json_object_object_get_ex(vf, "vectors", &vs))
			for (size_t j = 0; j < json_object_array_length(vs);
			    j++)
				json_object_array_add(all_vecs, json_object_get(
				    json_object_array_get_idx(vs, j)));
	}
	ok(json_object_array_length(all_vecs) >= 6 &&
	    same_keys(all_vecs, "vector"), "... every vector too (with a slot "
	    "or none)");
	json_object_put(all_vecs);
	json_object_put(a);
	/* status from msivd, and from one that predates HOTPLUG_STATUS
	 * (ENOSYS): the same keys, the hotplug ones null. */
	a = ctl_json(d.sock, "status", &rc);
	ok(rc == 0 && a != NULL, "--json status");
	{
		struct fake f;
		json_object *o = NULL, *hp;

		fake_start(&f, -ENOSYS, 0);
		o = ctl_json(f.path, "status", &rc);
		fake_stop(&f);
		ok(rc == 0 && o != NULL, "--json status of an msivd without "
		    "HOTPLUG_STATUS");
		if (a != NULL && o != NULL) {
			keyset(a, k1, sizeof(k1));
			keyset(o, k2, sizeof(k2));
			ok(strcmp(k1, k2) == 0, "... the same keys");
			if (strcmp(k1, k2) != 0)
				tap_diag("  %s\n  %s", k1, k2);
			ok(json_object_object_get_ex(o, "hotplug", &hp) &&
			    hp == NULL && json_object_object_get_ex(o,
			    "uevents", &hp) && hp == NULL, "... hotplug and "
			    "uevents null");
		}
		json_object_put(o);
	}
	json_object_put(a);
	a = ctl_json(d.sock, "devices", &rc);
	ok(rc == 0 && a != NULL && same_keys(a, "device"), "--json devices");
	json_object_put(a);
	a = ctl_json(d.sock, "sessions", &rc);
	ok(rc == 0 && a != NULL && json_object_array_length(a) >= 4 &&
	    same_keys(a, "session"), "--json sessions");
	json_object_put(a);
	/* Errors: one object, the same keys whether msivd gave a reason or
	 * there was no msivd to give one. */
	e1 = ctl_json(d.sock, "fire sim0 99", &rc);
	ok(rc == 1 && e1 != NULL && json_object_object_get_ex(e1, "error",
	    &a), "--json fire on a slot out of range: an error object, exit 1");
	if (e1 != NULL && json_object_object_get_ex(e1, "error", &a)) {
		json_object *r, *nm, *en;

		keyset(a, k1, sizeof(k1));
		ok(json_object_object_get_ex(a, "reason", &r) &&
		    strcmp(json_object_get_string(r), "slot 99: device sim0 "
		    "has 16 slots") == 0, "... with msivd's reason");
		ok(json_object_object_get_ex(a, "name", &nm) &&
		    strcmp(json_object_get_string(nm), "EINVAL") == 0 &&
		    json_object_object_get_ex(a, "errno", &en) &&
		    json_object_get_int(en) == EINVAL, "... errno 22, EINVAL");
	} else
		ok_live = 0;
	{
		char nosock[160];

		snprintf(nosock, sizeof(nosock), "%s/none.sock", d.dir);
		e2 = ctl_json(nosock, "status", &rc);
	}
	ok(rc == 3 && e2 != NULL && json_object_object_get_ex(e2, "error",
	    &a), "--json status with no daemon: an error object, exit 3");
	if (ok_live && e2 != NULL && json_object_object_get_ex(e2, "error",
	    &a)) {
		json_object *r;

		keyset(a, k2, sizeof(k2));
		ok(strcmp(k1, k2) == 0, "... with the same keys (%s)", k2);
		ok(json_object_object_get_ex(a, "reason", &r) && r == NULL,
		    "... its reason null");
	}
	json_object_put(e1);
	json_object_put(e2);
	close(e);
	msiv_close(live);
	msiv_close(lz);
	msiv_close(gone);
	msiv_close(admin);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (getenv("MSIVCTL") == NULL)
		tap_skip_all("MSIVCTL not set: run through make check");
	if (h_start(&d, conf) < 0)
		tap_bail("msivd did not start");
	test_reasons();
	test_wire();
	test_old_daemon(0);
	test_old_daemon(5);
	test_json();
	h_stop(&d);
	return tap_done();
}
