/*
 * msivctl: the msiv admin CLI. See msivctl(8).
 *
 * Listings print aligned tables, or JSON with --json (json-c). Each failure
 * maps to one message and one exit status (enum ctl_exit), so scripts can
 * tell "daemon not running" from "permission denied" from "no such device".
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msiv/msiv.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* Exit statuses, documented in msivctl(8). */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1,        /* any other error */
	CTL_EXIT_USAGE = 2,       /* bad command line */
	CTL_EXIT_NODAEMON = 3,    /* no daemon at the socket */
	CTL_EXIT_DENIED = 4,      /* permission denied */
	CTL_EXIT_NOENT = 5,       /* no such device or object */
};

#define CTL_LIST_MAX 65536 /* records one listing may hold */

struct ctl {
	const char *sock;     /* as given, or NULL */
	const char *sockname; /* for messages */
	int json;
	struct msiv_conn *conn;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: msivctl [-s PATH] [-j] COMMAND [ARGS]\n"
	    "\n"
	    "commands:\n"
	    "  status                   daemon summary\n"
	    "  devices                  devices and their slots\n"
	    "  vfuncs                   virtual functions and their vectors\n"
	    "  sessions                 client sessions\n"
	    "  fire DEVICE SLOT [COUNT] raise interrupts on a sim slot\n"
	    "  attach NAME vfio PCI-ADDRESS [POLICY] [msi-latch]\n"
	    "  attach NAME sim SLOTS [POLICY]\n"
	    "                           attach a device (kept across restarts)\n"
	    "  detach NAME [--force]    detach a device (--force: even if vfuncs\n"
	    "                           use it; they are revoked)\n"
	    "  revoke TENANT|VFUNC      take a tenant's vfuncs (or one vfunc,\n"
	    "                           by its 16-digit handle) away\n"
	    "  affinity DEVICE SLOT [CPUS]\n"
	    "                           host IRQ of a slot and its CPU affinity\n"
	    "                           (CPUS like 0-3,6: set it)\n"
	    "  reload                   read the configuration file again\n"
	    "  shutdown                 stop the daemon\n"
	    "\n"
	    "options:\n"
	    "  -s, --socket PATH  daemon socket (default $MSIV_SOCKET, else %s)\n"
	    "  -j, --json         JSON output\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      version\n", MSIV_DEFAULT_SOCKET);
}

/* One message, one exit status per failure. */
static int
ctl_fail(const struct ctl *c, const char *what, int status)
{
	fprintf(stderr, "msivctl: %s: %s\n", what, msiv_strerror(status));
	(void)c;
	switch (-status) {
	case EACCES:
	case EPERM:
		return CTL_EXIT_DENIED;
	case ENODEV:
	case ENOENT:
		return CTL_EXIT_NOENT;
	default:
		return CTL_EXIT_FAIL;
	}
}

static int
ctl_connect(struct ctl *c)
{
	int r = msiv_connect(c->sock, NULL, &c->conn);

	if (r == -ENOENT || r == -ECONNREFUSED) {
		fprintf(stderr, "msivctl: cannot reach msivd at %s: daemon not "
		    "running\n", c->sockname);
		return CTL_EXIT_NODAEMON;
	}
	if (r == -EACCES || r == -EPERM) {
		fprintf(stderr, "msivctl: cannot reach msivd at %s: permission "
		    "denied\n", c->sockname);
		return CTL_EXIT_DENIED;
	}
	if (r < 0) {
		fprintf(stderr, "msivctl: cannot reach msivd at %s: %s\n",
		    c->sockname, msiv_strerror(r));
		return CTL_EXIT_FAIL;
	}
	return CTL_EXIT_OK;
}

static const char *
policy_name(uint32_t p)
{
	switch (p) {
	case MSIV_POLICY_LATCH:
		return "latch";
	case MSIV_POLICY_STRICT:
		return "strict";
	case MSIV_POLICY_LIVE:
		return "live";
	default:
		return "?";
	}
}

static json_object *
json_hex(uint64_t v, int width)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%0*" PRIx64, width, v);
	return json_object_new_string(buf);
}

static void
jint(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void
jstr(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static void
jbool(json_object *o, const char *key, int v)
{
	json_object_object_add(o, key, json_object_new_boolean(v != 0));
}

static void
json_print(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_SPACED));
	json_object_put(o);
}

/*
 * Fetch a whole listing: the calls return the total, which may exceed the
 * buffer; grow once to fit. list(ctx, out, max) is one of the msiv_*_list
 * calls bound to its arguments.
 */
typedef int list_fn(struct ctl *c, uint64_t arg, void *out, size_t max);

static int
ctl_list(struct ctl *c, list_fn *fn, uint64_t arg, size_t recsz, void **out,
    size_t *n)
{
	size_t cap = 64;
	void *buf = NULL;
	int r;

	for (;;) {
		void *nb = realloc(buf, cap * recsz);

		if (nb == NULL) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		r = fn(c, arg, buf, cap);
		if (r < 0) {
			free(buf);
			return r;
		}
		if ((size_t)r <= cap)
			break;
		if ((size_t)r > CTL_LIST_MAX) {
			free(buf);
			return -E2BIG;
		}
		cap = (size_t)r;
	}
	*out = buf;
	*n = (size_t)r;
	return 0;
}

static int
list_devices(struct ctl *c, uint64_t arg, void *out, size_t max)
{
	(void)arg;
	return msiv_device_list(c->conn, out, max);
}

static int
list_vfuncs(struct ctl *c, uint64_t arg, void *out, size_t max)
{
	(void)arg;
	return msiv_vfunc_list(c->conn, out, max);
}

static int
list_vectors(struct ctl *c, uint64_t arg, void *out, size_t max)
{
	return msiv_vector_list(c->conn, arg, out, max);
}

static int
list_sessions(struct ctl *c, uint64_t arg, void *out, size_t max)
{
	(void)arg;
	return msiv_session_list(c->conn, out, max);
}

static int
cmd_status(struct ctl *c, int argc, char **argv)
{
	struct msiv_status_rep st;
	struct msiv_hotplug_rep hp;
	int hp_known, r = msiv_status(c->conn, &st);

	(void)argc;
	(void)argv;
	if (r < 0)
		return ctl_fail(c, "status", r);
	/* A daemon older than this msivctl may not know the opcode. */
	if ((r = msiv_hotplug_status(c->conn, &hp)) < 0 && r != -ENOSYS)
		return ctl_fail(c, "status", r);
	hp_known = r == 0;
	if (c->json) {
		json_object *o = json_object_new_object();

		jstr(o, "version", st.version_str);
		jint(o, "protocol", st.version);
		jint(o, "pid", st.pid);
		jint(o, "uptime_ms", (int64_t)st.uptime_ms);
		jint(o, "devices", st.devices);
		jint(o, "sessions", st.sessions);
		jint(o, "vfuncs", st.vfuncs);
		jint(o, "vectors", st.vectors);
		jint(o, "interrupts", (int64_t)st.interrupts);
		jint(o, "delivered", (int64_t)st.delivered);
		jint(o, "dropped", (int64_t)st.dropped);
		jstr(o, "delivery_loop", st.loop);
		if (hp_known) {
			jbool(o, "hotplug", hp.flags & MSIV_HOTPLUG_LISTENING);
			jint(o, "hotplug_rules", hp.rules);
			jint(o, "uevents", (int64_t)hp.uevents);
			jint(o, "uevents_foreign", (int64_t)hp.foreign);
			jint(o, "rescans", (int64_t)hp.rescans);
			jint(o, "auto_attached", (int64_t)hp.attached);
			jint(o, "removed", (int64_t)hp.removed);
		}
		jbool(o, "admin", msiv_is_admin(c->conn));
		jstr(o, "tenant", msiv_tenant(c->conn));
		json_print(o);
		return CTL_EXIT_OK;
	}
	printf("msivd %s (protocol %u), pid %u, up %" PRIu64 ".%03" PRIu64
	    " s\n", st.version_str, st.version, st.pid, st.uptime_ms / 1000,
	    st.uptime_ms % 1000);
	printf("  socket         %s\n", c->sockname);
	printf("  devices        %u\n", st.devices);
	printf("  sessions       %u\n", st.sessions);
	printf("  vfuncs         %u (%u vectors)\n", st.vfuncs, st.vectors);
	printf("  interrupts     %" PRIu64 " seen, %" PRIu64 " delivered, %"
	    PRIu64 " dropped\n", st.interrupts, st.delivered, st.dropped);
	printf("  delivery loop  %s\n", st.loop);
	if (!hp_known)
		printf("  hotplug        not reported (msivd is older)\n");
	else if (hp.flags & MSIV_HOTPLUG_LISTENING)
		printf("  hotplug        %u rule(s); %" PRIu64 " uevents, %"
		    PRIu64 " not from the kernel (ignored), %" PRIu64
		    " rescans; %" PRIu64 " attached by rule, %" PRIu64
		    " removed\n", hp.rules, hp.uevents, hp.foreign, hp.rescans,
		    hp.attached, hp.removed);
	else
		printf("  hotplug        off\n");
	printf("  this session   tenant %s%s\n", msiv_tenant(c->conn),
	    msiv_is_admin(c->conn) ? ", admin" : "");
	return CTL_EXIT_OK;
}

static const char *
device_kind(uint32_t flags)
{
	return flags & MSIV_DEVICE_MSIX ? "MSI-X" :
	    flags & MSIV_DEVICE_MSI ? "MSI" : "-";
}

static int
cmd_devices(struct ctl *c, int argc, char **argv)
{
	struct msiv_device_rec *d;
	size_t n;
	int r = ctl_list(c, list_devices, 0, sizeof(*d), (void **)&d, &n);

	(void)argc;
	(void)argv;
	if (r < 0)
		return ctl_fail(c, "devices", r);
	if (c->json) {
		json_object *a = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			json_object *o = json_object_new_object();

			jstr(o, "name", d[i].name);
			jstr(o, "backend", d[i].backend);
			jint(o, "slots", d[i].slots);
			jint(o, "slots_used", d[i].slots_used);
			jstr(o, "policy", policy_name(d[i].policy));
			jstr(o, "vectors", device_kind(d[i].flags));
			jbool(o, "fixed_size",
			    (d[i].flags & MSIV_DEVICE_FIXED) != 0);
			jbool(o, "direct", (d[i].flags & MSIV_DEVICE_DIRECT) != 0);
			jbool(o, "msi_latch",
			    (d[i].flags & MSIV_DEVICE_MSI_LATCH) != 0);
			json_object_array_add(a, o);
		}
		json_print(a);
	} else {
		printf("%-16s %-8s %6s %6s %-8s %s\n", "NAME", "BACKEND",
		    "SLOTS", "USED", "POLICY", "VECTORS");
		for (size_t i = 0; i < n; i++)
			printf("%-16s %-8s %6u %6u %-8s %s%s%s%s\n", d[i].name,
			    d[i].backend, d[i].slots, d[i].slots_used,
			    policy_name(d[i].policy), device_kind(d[i].flags),
			    d[i].flags & MSIV_DEVICE_FIXED ? ", fixed-size" : "",
			    d[i].flags & MSIV_DEVICE_DIRECT ? ", direct" : "",
			    d[i].flags & MSIV_DEVICE_MSI_LATCH ? ", msi-latch" :
			    "");
	}
	free(d);
	return CTL_EXIT_OK;
}

static const char *
gone_name(uint32_t gone)
{
	return gone == MSIV_GONE_DEVICE ? "device removed" :
	    "revoked by an admin";
}

static json_object *
vector_json(const struct msiv_vec_rec *v)
{
	const struct msiv_vec_info *in = &v->info;
	json_object *o = json_object_new_object();

	jint(o, "vector", v->vector);
	if (in->slot != MSIV_SLOT_NONE)
		jint(o, "slot", in->slot);
	else
		json_object_object_add(o, "slot", NULL); /* lazy, unbound */
	jint(o, "nospace", v->nospace);
	jbool(o, "masked", in->state & MSIV_VEC_MASKED);
	jbool(o, "pending", in->state & MSIV_VEC_PENDING);
	jbool(o, "target", in->state & MSIV_VEC_TARGET);
	jbool(o, "awaiting_target", in->state & MSIV_VEC_ORPHANED);
	json_object_object_add(o, "eff_addr", json_hex(in->eff_addr, 16));
	json_object_object_add(o, "eff_data", json_hex(in->eff_data, 8));
	json_object_object_add(o, "prog_addr", json_hex(in->prog_addr, 16));
	json_object_object_add(o, "prog_data", json_hex(in->prog_data, 8));
	jint(o, "fired", (int64_t)in->fired);
	jint(o, "delivered", (int64_t)in->delivered);
	jint(o, "coalesced", (int64_t)in->coalesced);
	jint(o, "dropped", (int64_t)in->dropped);
	return o;
}

static void
vector_print(const struct msiv_vec_rec *v)
{
	const struct msiv_vec_info *in = &v->info;
	char slot[12] = "-"; /* lazy: no slot bound */

	if (in->slot != MSIV_SLOT_NONE)
		snprintf(slot, sizeof(slot), "%u", in->slot);
	printf("    %4u %5s %-8s %-7s %-6s 0x%016" PRIx64 " 0x%08x %9" PRIu64
	    " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n", v->vector, slot,
	    in->state & MSIV_VEC_MASKED ? "masked" : "unmasked",
	    in->state & MSIV_VEC_PENDING ? "pending" : "-",
	    in->state & MSIV_VEC_TARGET ? "yes" : in->state &
	    MSIV_VEC_ORPHANED ? "await" : "no", in->eff_addr,
	    in->eff_data, in->fired, in->delivered, in->coalesced, in->dropped);
	if (in->prog_addr != in->eff_addr || in->prog_data != in->eff_data)
		printf("%40s programmed 0x%016" PRIx64 " 0x%08x (latched at "
		    "the next unmask)\n", "", in->prog_addr, in->prog_data);
	if (v->nospace != 0)
		printf("%40s NO SLOT: %u setup(s) refused (ENOSPC/EDQUOT)\n",
		    "", v->nospace);
}

/* A lazy vfunc's bound slots and refused setups, from its vectors. */
static void
vfunc_lazy_count(const struct msiv_vec_rec *v, size_t nv, uint32_t *bound,
    uint64_t *nospace)
{
	*bound = 0;
	*nospace = 0;
	for (size_t j = 0; j < nv; j++) {
		*bound += v[j].info.slot != MSIV_SLOT_NONE;
		*nospace += v[j].nospace;
	}
}

static int
cmd_vfuncs(struct ctl *c, int argc, char **argv)
{
	struct msiv_vfunc_rec *f;
	json_object *a = NULL;
	size_t n;
	int r = ctl_list(c, list_vfuncs, 0, sizeof(*f), (void **)&f, &n);

	(void)argc;
	(void)argv;
	if (r < 0)
		return ctl_fail(c, "vfuncs", r);
	if (c->json)
		a = json_object_new_array();
	else if (n == 0)
		printf("no vfuncs\n");
	for (size_t i = 0; i < n; i++) {
		struct msiv_vec_rec *v;
		uint64_t nospace;
		uint32_t bound;
		size_t nv;

		v = NULL;
		nv = 0;
		r = f[i].flags & MSIV_VFUNC_GONE ? 0 : ctl_list(c,
		    list_vectors, f[i].vfunc, sizeof(*v), (void **)&v, &nv);
		if (r == -ENOENT || r == -ENODEV || r == -EKEYREVOKED)
			continue; /* closed meanwhile */
		if (r < 0) {
			free(f);
			if (a != NULL)
				json_object_put(a);
			return ctl_fail(c, "vectors", r);
		}
		vfunc_lazy_count(v, nv, &bound, &nospace);
		if (a != NULL) {
			json_object *o = json_object_new_object();
			json_object *va = json_object_new_array();

			json_object_object_add(o, "handle",
			    json_hex(f[i].vfunc, 16));
			jstr(o, "device", f[i].device);
			jstr(o, "tenant", f[i].tenant);
			jint(o, "session", (int64_t)f[i].session);
			jint(o, "nvec", f[i].nvec);
			jbool(o, "lazy", f[i].flags & MSIV_VFUNC_LAZY);
			if (f[i].flags & MSIV_VFUNC_LAZY) {
				jint(o, "bound_slots", bound);
				jint(o, "nospace", (int64_t)nospace);
			} else
				jint(o, "first_slot", f[i].first_slot);
			jstr(o, "policy", policy_name(f[i].policy));
			jbool(o, "enabled", f[i].flags & MSIV_VFUNC_ENABLED);
			jbool(o, "function_masked", f[i].flags & MSIV_VFUNC_FMASKED);
			jbool(o, "orphaned", f[i].flags & MSIV_VFUNC_ORPHANED);
			if (f[i].flags & MSIV_VFUNC_GONE)
				jstr(o, "revoked", gone_name(f[i].gone));
			if (f[i].flags & MSIV_VFUNC_ORPHANED)
				jint(o, "grace_left_ms", f[i].grace_ms);
			for (size_t j = 0; j < nv; j++)
				json_object_array_add(va, vector_json(&v[j]));
			json_object_object_add(o, "vectors", va);
			json_object_array_add(a, o);
		} else if (f[i].flags & MSIV_VFUNC_GONE) {
			printf("vfunc 0x%016" PRIx64 "  device %s  tenant %s  "
			    "REVOKED (%s): no vectors; calls on it fail until "
			    "the tenant closes it\n", f[i].vfunc, f[i].device,
			    f[i].tenant, gone_name(f[i].gone));
		} else {
			if (f[i].flags & MSIV_VFUNC_ORPHANED)
				printf("vfunc 0x%016" PRIx64 "  device %s  tenant "
				    "%s  ORPHANED: released in %u.%u s unless "
				    "the tenant resumes\n", f[i].vfunc,
				    f[i].device, f[i].tenant,
				    f[i].grace_ms / 1000,
				    f[i].grace_ms % 1000 / 100);
			else
				printf("vfunc 0x%016" PRIx64 "  device %s  "
				    "tenant %s  session %" PRIu64 "\n",
				    f[i].vfunc, f[i].device, f[i].tenant,
				    f[i].session);
			if (f[i].flags & MSIV_VFUNC_LAZY)
				printf("  %u vectors, slots on first use (%u "
				    "bound, %" PRIu64 " setup(s) refused for want "
				    "of a slot), ", f[i].nvec, bound, nospace);
			else
				printf("  %u vectors on slots %u-%u, ",
				    f[i].nvec, f[i].first_slot,
				    f[i].first_slot + f[i].nvec - 1);
			printf("%s policy, %s, function %s\n",
			    policy_name(f[i].policy),
			    f[i].flags & MSIV_VFUNC_ENABLED ? "enabled" :
			    "disabled", f[i].flags & MSIV_VFUNC_FMASKED ?
			    "masked" : "unmasked");
			printf("    %4s %5s %-8s %-7s %-6s %-18s %-10s %9s %9s "
			    "%9s %9s\n", "VEC", "SLOT", "MASK", "PENDING",
			    "TARGET", "ADDRESS", "DATA", "FIRED", "DELIVERED",
			    "COALESCED", "DROPPED");
			for (size_t j = 0; j < nv; j++)
				vector_print(&v[j]);
		}
		free(v);
	}
	free(f);
	if (a != NULL)
		json_print(a);
	return CTL_EXIT_OK;
}

static int
cmd_sessions(struct ctl *c, int argc, char **argv)
{
	struct msiv_session_rec *s;
	size_t n;
	int r = ctl_list(c, list_sessions, 0, sizeof(*s), (void **)&s, &n);

	(void)argc;
	(void)argv;
	if (r < 0)
		return ctl_fail(c, "sessions", r);
	if (c->json) {
		json_object *a = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			json_object *o = json_object_new_object();

			jint(o, "session", (int64_t)s[i].session);
			jint(o, "pid", s[i].pid);
			jint(o, "uid", s[i].uid);
			jint(o, "gid", s[i].gid);
			jstr(o, "tenant", s[i].tenant);
			jint(o, "vfuncs", s[i].vfuncs);
			jbool(o, "admin", s[i].rights & MSIV_RIGHT_ADMIN);
			jbool(o, "self", s[i].session == msiv_session_id(c->conn));
			json_object_array_add(a, o);
		}
		json_print(a);
	} else {
		printf("%8s %8s %6s %6s %-20s %6s %s\n", "SESSION", "PID",
		    "UID", "GID", "TENANT", "VFUNCS", "ADMIN");
		for (size_t i = 0; i < n; i++)
			printf("%8" PRIu64 " %8u %6u %6u %-20s %6u %s%s\n",
			    s[i].session, s[i].pid, s[i].uid, s[i].gid,
			    s[i].tenant, s[i].vfuncs,
			    s[i].rights & MSIV_RIGHT_ADMIN ? "yes" : "no",
			    s[i].session == msiv_session_id(c->conn) ?
			    "  (this msivctl)" : "");
	}
	free(s);
	return CTL_EXIT_OK;
}

/* A decimal number, all of it, no sign, within max. */
static int
parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
cmd_fire(struct ctl *c, int argc, char **argv)
{
	uint32_t slot, count = 1;
	int r;

	if (argc < 2 || argc > 3 || parse_u32(argv[1], UINT32_MAX, &slot) < 0 ||
	    (argc == 3 && (parse_u32(argv[2], UINT32_MAX, &count) < 0 ||
	    count == 0))) {
		fprintf(stderr, "usage: msivctl fire DEVICE SLOT [COUNT]\n"
		    "  SLOT and COUNT are decimal numbers, COUNT at least 1\n");
		return CTL_EXIT_USAGE;
	}
	r = msiv_sim_fire(c->conn, argv[0], slot, count);
	if (r < 0) {
		char what[80];

		snprintf(what, sizeof(what), "fire %s slot %u", argv[0], slot);
		return ctl_fail(c, what, r);
	}
	if (c->json)
		puts("{ \"ok\": true }");
	else
		printf("fired %u interrupt%s on %s slot %u\n", count,
		    count == 1 ? "" : "s", argv[0], slot);
	return CTL_EXIT_OK;
}

static int
parse_policy(const char *s, enum msiv_policy *p)
{
	for (uint32_t i = MSIV_POLICY_LATCH; i <= MSIV_POLICY_LIVE; i++)
		if (strcmp(s, policy_name(i)) == 0) {
			*p = (enum msiv_policy)i;
			return 0;
		}
	return -1;
}

static int
cmd_attach(struct ctl *c, int argc, char **argv)
{
	enum msiv_policy policy = MSIV_POLICY_DEFAULT;
	const char *addr = NULL;
	unsigned int flags = 0;
	uint32_t slots = 0;
	char what[96];
	int r, bad = argc < 3;

	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "msi-latch") == 0)
			flags |= MSIV_ATTACH_MSI_LATCH;
		else
			bad |= parse_policy(argv[i], &policy) < 0;
	}
	if (bad || (strcmp(argv[1], "vfio") == 0 ? (addr = argv[2], 0) :
	    strcmp(argv[1], "sim") == 0 ?
	    parse_u32(argv[2], 65536, &slots) < 0 || slots == 0 : 1)) {
		fprintf(stderr, "usage: msivctl attach NAME vfio PCI-ADDRESS "
		    "[POLICY] [msi-latch]\n"
		    "       msivctl attach NAME sim SLOTS [POLICY]\n"
		    "  PCI-ADDRESS like 0000:00:03.0; SLOTS 1 to 65536; POLICY "
		    "latch, strict or live\n");
		return CTL_EXIT_USAGE;
	}
	r = msiv_device_attach(c->conn, argv[0], argv[1], addr, slots, policy,
	    flags);
	snprintf(what, sizeof(what), "attach %s", argv[0]);
	switch (r) {
	case 0:
		break;
	case -ENODEV:
		fprintf(stderr, "msivctl: %s: %s is missing or not bound to "
		    "vfio-pci (msivd's log says which, and how to bind it)\n",
		    what, addr != NULL ? addr : argv[0]);
		return CTL_EXIT_NOENT;
	case -EBUSY:
		fprintf(stderr, "msivctl: %s: the IOMMU group of %s is not "
		    "viable: bind every device in it to vfio-pci\n", what,
		    addr != NULL ? addr : argv[0]);
		return CTL_EXIT_FAIL;
	case -EEXIST:
		fprintf(stderr, "msivctl: %s: a device of that name is "
		    "attached already\n", what);
		return CTL_EXIT_FAIL;
	default:
		return ctl_fail(c, what, r);
	}
	puts(c->json ? "{ \"ok\": true }" : "attached");
	return CTL_EXIT_OK;
}

static int
cmd_detach(struct ctl *c, int argc, char **argv)
{
	char what[64];
	unsigned int flags = 0;
	int r;

	if (argc == 2 && strcmp(argv[1], "--force") == 0)
		flags = MSIV_DETACH_FORCE;
	else if (argc != 1) {
		fprintf(stderr, "usage: msivctl detach NAME [--force]\n");
		return CTL_EXIT_USAGE;
	}
	r = msiv_device_detach(c->conn, argv[0], flags);
	snprintf(what, sizeof(what), "detach %s", argv[0]);
	if (r == -EBUSY) {
		fprintf(stderr, "msivctl: %s: vfuncs still use the device "
		    "(msivctl vfuncs); --force revokes them\n", what);
		return CTL_EXIT_FAIL;
	}
	if (r < 0)
		return ctl_fail(c, what, r);
	puts(c->json ? "{ \"ok\": true }" : "detached");
	return CTL_EXIT_OK;
}

/* A vfunc handle as msivctl vfuncs shows it: 16 hex digits, 0x allowed. */
static int
parse_handle(const char *s, uint64_t *out)
{
	size_t n;

	if (strncmp(s, "0x", 2) == 0)
		s += 2;
	n = strlen(s);
	if (n != 16 || strspn(s, "0123456789abcdefABCDEF") != n)
		return -1;
	*out = strtoull(s, NULL, 16);
	return *out != 0 ? 0 : -1;
}

static int
cmd_revoke(struct ctl *c, int argc, char **argv)
{
	char what[96];
	uint64_t vfunc = 0;
	unsigned int count = 0;
	int r;

	if (argc != 1) {
		fprintf(stderr, "usage: msivctl revoke TENANT|VFUNC\n");
		return CTL_EXIT_USAGE;
	}
	snprintf(what, sizeof(what), "revoke %s", argv[0]);
	if (parse_handle(argv[0], &vfunc) == 0)
		r = msiv_revoke(c->conn, NULL, vfunc, &count);
	else
		r = msiv_revoke(c->conn, argv[0], 0, &count);
	if (r == -ENOENT) {
		fprintf(stderr, "msivctl: %s: %s\n", what, vfunc != 0 ?
		    "no such vfunc" : "the tenant holds no vfunc");
		return CTL_EXIT_NOENT;
	}
	if (r < 0)
		return ctl_fail(c, what, r);
	if (c->json) {
		json_object *o = json_object_new_object();

		jint(o, "revoked", count);
		json_print(o);
	} else
		printf("revoked %u vfunc%s\n", count, count == 1 ? "" : "s");
	return CTL_EXIT_OK;
}

/* CPU lists as the kernel writes them: 0-3,6. */
static int
parse_cpus(const char *s, uint64_t cpus[MSIV_CPUS_WORDS])
{
	memset(cpus, 0, MSIV_CPUS_WORDS * sizeof(uint64_t));
	for (;;) {
		char *end;
		unsigned long a, b;

		if (*s < '0' || *s > '9')
			return -1;
		a = b = strtoul(s, &end, 10);
		if (*end == '-') {
			s = end + 1;
			if (*s < '0' || *s > '9')
				return -1;
			b = strtoul(s, &end, 10);
		}
		if (a > b || b >= 64 * MSIV_CPUS_WORDS)
			return -1;
		for (unsigned long i = a; i <= b; i++)
			cpus[i / 64] |= 1ull << (i % 64);
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

static void
format_cpus(const uint64_t cpus[MSIV_CPUS_WORDS], char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (unsigned int i = 0; i < 64 * MSIV_CPUS_WORDS; i++) {
		unsigned int j = i;

		if (!(cpus[i / 64] >> (i % 64) & 1))
			continue;
		while (j + 1 < 64 * MSIV_CPUS_WORDS &&
		    (cpus[(j + 1) / 64] >> ((j + 1) % 64) & 1))
			j++;
		off += (size_t)snprintf(out + off, off < len ? len - off : 0,
		    j > i ? "%s%u-%u" : "%s%u", off ? "," : "", i, j);
		i = j;
	}
}

static int
cmd_affinity(struct ctl *c, int argc, char **argv)
{
	uint64_t cpus[MSIV_CPUS_WORDS], eff[MSIV_CPUS_WORDS];
	char what[96], list[1024];
	unsigned int irq;
	uint32_t slot;
	int r;

	if (argc < 2 || parse_u32(argv[1], UINT32_MAX, &slot) < 0 ||
	    (argc == 3 && parse_cpus(argv[2], cpus) < 0)) {
		fprintf(stderr, "usage: msivctl affinity DEVICE SLOT [CPUS]\n"
		    "  CPUS a list like 0-3,6 (CPUs below %u)\n",
		    64 * MSIV_CPUS_WORDS);
		return CTL_EXIT_USAGE;
	}
	r = msiv_slot_affinity(c->conn, argv[0], slot, argc == 3 ? cpus : NULL,
	    &irq, eff);
	if (r < 0) {
		snprintf(what, sizeof(what), "affinity %s slot %u", argv[0],
		    slot);
		if (r == -ENXIO) {
			fprintf(stderr, "msivctl: %s: the slot is not in use, "
			    "so it has no host IRQ\n", what);
			return CTL_EXIT_NOENT;
		}
		return ctl_fail(c, what, r);
	}
	format_cpus(eff, list, sizeof(list));
	if (c->json) {
		json_object *o = json_object_new_object();

		jint(o, "irq", irq);
		jstr(o, "effective_cpus", list);
		json_print(o);
	} else
		printf("%s slot %u: IRQ %u, CPUs %s\n", argv[0], slot, irq,
		    list);
	return CTL_EXIT_OK;
}

static int
cmd_shutdown(struct ctl *c, int argc, char **argv)
{
	int r = msiv_shutdown(c->conn);

	(void)argc;
	(void)argv;
	if (r < 0)
		return ctl_fail(c, "shutdown", r);
	puts(c->json ? "{ \"ok\": true }" : "msivd is shutting down");
	return CTL_EXIT_OK;
}

/* The daemon's account of the reload goes to stdout, or with the refusal
 * to stderr; the status gives the exit code. */
static int
cmd_reload(struct ctl *c, int argc, char **argv)
{
	char msg[MSIV_TEXT_MAX];
	int r = msiv_reload(c->conn, msg, sizeof(msg));

	(void)argc;
	(void)argv;
	if (r < 0 && msg[0] == '\0')
		return ctl_fail(c, "reload", r);
	if (r < 0) {
		fprintf(stderr, "msivctl: reload refused: %s\n", msg);
		return CTL_EXIT_FAIL;
	}
	if (c->json)
		puts("{ \"ok\": true }");
	else
		puts(msg);
	return CTL_EXIT_OK;
}

static const struct ctl_cmd {
	const char *name;
	int maxargs;
	int (*fn)(struct ctl *c, int argc, char **argv);
} ctl_cmds[] = {
	{ "status", 0, cmd_status },
	{ "devices", 0, cmd_devices },
	{ "vfuncs", 0, cmd_vfuncs },
	{ "sessions", 0, cmd_sessions },
	{ "fire", 3, cmd_fire },
	{ "attach", 5, cmd_attach },
	{ "detach", 2, cmd_detach },
	{ "revoke", 1, cmd_revoke },
	{ "affinity", 3, cmd_affinity },
	{ "reload", 0, cmd_reload },
	{ "shutdown", 0, cmd_shutdown },
	{ NULL, 0, NULL },
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c = { 0 };
	const struct ctl_cmd *ct;
	const char *cmd;
	int ch, r, nargs;

	while ((ch = getopt_long(argc, argv, "+s:jhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			c.sock = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("msivctl %s (protocol %u)\n", PACKAGE_VERSION,
			    MSIV_PROTO_VERSION);
			return CTL_EXIT_OK;
		default:
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	cmd = argv[optind];
	nargs = argc - optind - 1;
	for (ct = ctl_cmds; ct->name != NULL; ct++)
		if (strcmp(ct->name, cmd) == 0)
			break;
	if (ct->name == NULL) {
		fprintf(stderr, "msivctl: unknown command: %s\n", cmd);
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (nargs > ct->maxargs) {
		fprintf(stderr, "msivctl: too many arguments for %s\n", cmd);
		return CTL_EXIT_USAGE;
	}
	c.sockname = c.sock;
	if (c.sockname == NULL)
		c.sockname = getenv("MSIV_SOCKET");
	if (c.sockname == NULL || *c.sockname == '\0')
		c.sockname = MSIV_DEFAULT_SOCKET;
	if ((r = ctl_connect(&c)) != CTL_EXIT_OK)
		return r;
	r = ct->fn(&c, nargs, argv + optind + 1);
	msiv_close(c.conn);
	return r;
}
