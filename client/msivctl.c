/*
 * msivctl: the msiv admin CLI. See msivctl(8).
 *
 * Listings print aligned tables, or JSON with --json (json-c): every
 * object of a listing has the same keys every time, a value that does not
 * apply being null (msivctl(8) gives each schema). Each failure maps to one
 * message and one exit status (enum ctl_exit), so scripts can tell "daemon
 * not running" from "permission denied" from "no such device"; the
 * daemon's reason, when it gives one, follows the message. One table of
 * commands (ctl_cmds) drives the usage text, `msivctl help COMMAND` and
 * dispatch; client/completion/msivctl completes the same names (a test
 * checks it).
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

#include "proto.h"

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

struct ctl_cmd;

struct ctl {
	const char *sock;     /* as given, or NULL */
	const char *sockname; /* for messages */
	int json;
	struct msiv_conn *conn;
	const struct ctl_cmd *cmd; /* the command being run */
};

/*
 * The command table. args: the arguments, alternative forms separated by
 * '\n'; summary: one line for the usage text; detail: more for `msivctl
 * help COMMAND` and a usage error (NULL: none).
 */
struct ctl_cmd {
	const char *name;
	const char *args;
	const char *summary;
	const char *detail;
	int minargs, maxargs; /* checked before msivd is asked anything */
	int (*fn)(struct ctl *c, int argc, char **argv);
};

static void usage(FILE *f);
static const struct ctl_cmd *ctl_find(const char *name);

/* The usage lines of one command: "usage: msivctl NAME ARGS", a line per
 * form of its arguments. */
static void
cmd_usage(FILE *f, const struct ctl_cmd *ct)
{
	const char *a = ct->args;
	const char *lead = "usage:";

	for (;;) {
		const char *nl = strchr(a, '\n');
		int alen = nl != NULL ? (int)(nl - a) : (int)strlen(a);

		fprintf(f, "%s msivctl %s%s%.*s\n", lead, ct->name,
		    alen ? " " : "", alen, a);
		if (nl == NULL)
			break;
		lead = "      ";
		a = nl + 1;
	}
}

/* A command's arguments are wrong: its usage and details, exit 2. */
static int
ctl_usage_error(const struct ctl *c)
{
	cmd_usage(stderr, c->cmd);
	if (c->cmd->detail != NULL)
		fprintf(stderr, "%s", c->cmd->detail);
	return CTL_EXIT_USAGE;
}

/* The errno's symbolic name for --json ("EINVAL"), or NULL. */
static const char *
errno_name(int e)
{
#ifdef HAVE_STRERRORNAME_NP
	return strerrorname_np(e);
#else
	(void)e;
	return NULL;
#endif
}

static int
ctl_exit_for(int status)
{
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

/* msiv_strerror(), but for EBUSY: its text is about a vector (a VMM's
 * strict policy), and what msivctl is refused is not. */
static const char *
ctl_strerror(int status)
{
	return status == -EBUSY ? "busy" : msiv_strerror(status);
}

/*
 * Report a failure of what and return exit: with --json one object on
 * standard output (the document a script parses, whatever the outcome),
 * {"error": {"command", "errno", "name", "message", "reason"}}, reason null
 * when msivd gave none; else "msivctl: WHAT: MESSAGE[: REASON]" on
 * standard error. message is the text for status (NULL: msiv_strerror's).
 * The daemon's reason is that of the last request on the connection, or
 * of the refused connect when there is no connection yet.
 */
static int
ctl_report(const struct ctl *c, const char *what, int status,
    const char *message, int exit)
{
	const char *reason = msiv_last_reason(c->conn);
	const char *name = errno_name(-status);

	if (message == NULL)
		message = ctl_strerror(status);
	if (c->json) {
		json_object *o = json_object_new_object();
		json_object *e = json_object_new_object();

		json_object_object_add(e, "command", json_object_new_string(
		    c->cmd != NULL ? c->cmd->name : what));
		json_object_object_add(e, "errno",
		    json_object_new_int(-status));
		json_object_object_add(e, "name", name != NULL ?
		    json_object_new_string(name) : NULL);
		json_object_object_add(e, "message",
		    json_object_new_string(message));
		json_object_object_add(e, "reason", reason[0] != '\0' ?
		    json_object_new_string(reason) : NULL);
		json_object_object_add(o, "error", e);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
		    JSON_C_TO_STRING_SPACED));
		json_object_put(o);
		return exit;
	}
	if (reason[0] != '\0')
		fprintf(stderr, "msivctl: %s: %s: %s\n", what, message, reason);
	else
		fprintf(stderr, "msivctl: %s: %s\n", what, message);
	return exit;
}

/* One message, one exit status per failure. */
static int
ctl_fail(const struct ctl *c, const char *what, int status)
{
	return ctl_report(c, what, status, NULL, ctl_exit_for(status));
}

/*
 * A failure msivctl can say more about than msiv_strerror() when msivd
 * gave no reason (an older daemon, or a failure in a backend that only
 * msivd's log explains): hint replaces the message then. With a reason,
 * the reason says it.
 */
static int
ctl_fail_hint(const struct ctl *c, const char *what, int status,
    const char *hint, int exit)
{
	return ctl_report(c, what, status,
	    msiv_last_reason(c->conn)[0] != '\0' ? NULL : hint, exit);
}

static int
ctl_connect(struct ctl *c)
{
	char what[160];
	int r = msiv_connect(c->sock, NULL, &c->conn);

	if (r == 0)
		return CTL_EXIT_OK;
	snprintf(what, sizeof(what), "cannot reach msivd at %s", c->sockname);
	if (r == -ENOENT || r == -ECONNREFUSED)
		return ctl_report(c, what, r, "daemon not running",
		    CTL_EXIT_NODAEMON);
	if (r == -EACCES || r == -EPERM)
		return ctl_report(c, what, r, "permission denied",
		    CTL_EXIT_DENIED);
	return ctl_report(c, what, r, NULL, CTL_EXIT_FAIL);
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
jnull(json_object *o, const char *key)
{
	json_object_object_add(o, key, NULL);
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
	return msiv_list_devices(c->conn, out, max,
	    sizeof(struct msiv_device_info));
}

static int
list_vfuncs(struct ctl *c, uint64_t arg, void *out, size_t max)
{
	(void)arg;
	return msiv_list_vfuncs(c->conn, out, max,
	    sizeof(struct msiv_vfunc_info));
}

static int
list_vectors(struct ctl *c, uint64_t arg, void *out, size_t max)
{
	return msiv_list_vectors(c->conn, arg, out, max,
	    sizeof(struct msiv_vector_state));
}

static int
list_sessions(struct ctl *c, uint64_t arg, void *out, size_t max)
{
	(void)arg;
	return msiv_list_sessions(c->conn, out, max,
	    sizeof(struct msiv_session_info));
}

/* msivd's delivery shards (at most CTL_SHARDS_MAX) into sh: how many, or
 * -errno (-ENOSYS: an msivd that predates SHARD_LIST reports none). */
#define CTL_SHARDS_MAX ((int)MSIV_ATTACH_SHARD_MAX + 1) /* msivd's most */
static int
ctl_shards(struct ctl *c, struct msiv_shard_info sh[CTL_SHARDS_MAX])
{
	int n = msiv_list_shards(c->conn, sh, CTL_SHARDS_MAX, sizeof(sh[0]));

	return n > CTL_SHARDS_MAX ? CTL_SHARDS_MAX : n;
}

/* A shard's share of the wakeups every shard handled, in per cent. */
static double
shard_share(const struct msiv_shard_info *sh, int n, int k)
{
	uint64_t all = 0;

	for (int i = 0; i < n; i++)
		all += sh[i].interrupts;
	return all != 0 ? 100.0 * (double)sh[k].interrupts / (double)all : 0;
}

static int
cmd_status(struct ctl *c, int argc, char **argv)
{
	struct msiv_status_info st;
	struct msiv_hotplug_info hp;
	struct msiv_shard_info sh[CTL_SHARDS_MAX];
	int hp_known, nsh, r = msiv_get_status(c->conn, &st, sizeof(st));

	(void)argc;
	(void)argv;
	if (r < 0)
		return ctl_fail(c, "status", r);
	/* A daemon older than this msivctl may not know the opcode. */
	if ((r = msiv_get_hotplug(c->conn, &hp, sizeof(hp))) < 0 &&
	    r != -ENOSYS)
		return ctl_fail(c, "status", r);
	hp_known = r == 0;
	/* The same for the shards (SHARD_LIST). */
	if ((nsh = ctl_shards(c, sh)) < 0 && nsh != -ENOSYS)
		return ctl_fail(c, "status", nsh);
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
		if (nsh >= 0) {
			json_object *a = json_object_new_array();

			for (int k = 0; k < nsh; k++) {
				json_object *so = json_object_new_object();

				jint(so, "shard", sh[k].shard);
				jint(so, "slots", sh[k].slots);
				jint(so, "interrupts",
				    (int64_t)sh[k].interrupts);
				jint(so, "delivered", (int64_t)sh[k].delivered);
				jint(so, "dropped", (int64_t)sh[k].dropped);
				jint(so, "cpu_ms",
				    (int64_t)(sh[k].cpu_ns / 1000000));
				json_object_object_add(so, "share",
				    json_object_new_double(
				    shard_share(sh, nsh, k) / 100.0));
				json_object_array_add(a, so);
			}
			json_object_object_add(o, "delivery_shards", a);
		} else
			jnull(o, "delivery_shards"); /* an older msivd */
		if (hp_known) {
			jbool(o, "hotplug", hp.flags & MSIV_HOTPLUG_LISTENING);
			jint(o, "hotplug_rules", hp.rules);
			jint(o, "uevents", (int64_t)hp.uevents);
			jint(o, "uevents_foreign", (int64_t)hp.foreign);
			jint(o, "rescans", (int64_t)hp.rescans);
			jint(o, "auto_attached", (int64_t)hp.attached);
			jint(o, "removed", (int64_t)hp.removed);
		} else {
			/* An older msivd: not reported, the keys stay. */
			static const char *const hpkeys[] = { "hotplug",
			    "hotplug_rules", "uevents", "uevents_foreign",
			    "rescans", "auto_attached", "removed" };

			for (size_t k = 0; k < sizeof(hpkeys) /
			    sizeof(hpkeys[0]); k++)
				jnull(o, hpkeys[k]);
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
	for (int k = 0; k < nsh; k++)
		printf("    shard %-4u   %u slots; %" PRIu64 " wakeups (%.1f%%), %"
		    PRIu64 " delivered, %" PRIu64 " dropped; %" PRIu64
		    " ms CPU\n", sh[k].shard, sh[k].slots, sh[k].interrupts,
		    shard_share(sh, nsh, k), sh[k].delivered, sh[k].dropped,
		    sh[k].cpu_ns / 1000000);
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
	struct msiv_device_info *d;
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
vector_json(const struct msiv_vector_state *v)
{
	const struct msiv_vector_state *in = v;
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
vector_print(const struct msiv_vector_state *v)
{
	const struct msiv_vector_state *in = v;
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
vfunc_lazy_count(const struct msiv_vector_state *v, size_t nv, uint32_t *bound,
    uint64_t *nospace)
{
	*bound = 0;
	*nospace = 0;
	for (size_t j = 0; j < nv; j++) {
		*bound += v[j].slot != MSIV_SLOT_NONE;
		*nospace += v[j].nospace;
	}
}

static int
cmd_vfuncs(struct ctl *c, int argc, char **argv)
{
	struct msiv_vfunc_info *f;
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
		struct msiv_vector_state *v;
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
			/* Every key every time; null where it does not apply
			 * (msivctl(8), JSON OUTPUT). */
			if (f[i].flags & MSIV_VFUNC_LAZY) {
				jint(o, "bound_slots", bound);
				jint(o, "nospace", (int64_t)nospace);
				jnull(o, "first_slot");
			} else {
				jnull(o, "bound_slots");
				jnull(o, "nospace");
				jint(o, "first_slot", f[i].first_slot);
			}
			jstr(o, "policy", policy_name(f[i].policy));
			jbool(o, "enabled", f[i].flags & MSIV_VFUNC_ENABLED);
			jbool(o, "function_masked", f[i].flags & MSIV_VFUNC_FMASKED);
			jbool(o, "orphaned", f[i].flags & MSIV_VFUNC_ORPHANED);
			if (f[i].flags & MSIV_VFUNC_GONE)
				jstr(o, "revoked", gone_name(f[i].gone));
			else
				jnull(o, "revoked");
			if (f[i].flags & MSIV_VFUNC_ORPHANED)
				jint(o, "grace_left_ms", f[i].grace_ms);
			else
				jnull(o, "grace_left_ms");
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
	struct msiv_session_info *s;
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
		return ctl_usage_error(c);
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

/*
 * metrics: OpenMetrics text (https://openmetrics.io) for Prometheus,
 * e.g. through node_exporter's textfile collector (msivctl(8)). Admin
 * only: METRICS refuses others, and the listings would show an admin
 * every tenant's vfuncs. The figures are those of status and vfuncs
 * (the vector counters, summed per vfunc, device and tenant) and the
 * store's commit figures (METRICS). Memory is bounded by the listings
 * (CTL_LIST_MAX records each; one vfunc's vectors at a time).
 */
struct mfig {
	uint64_t fired, delivered, coalesced, dropped, pending;
};

static void
mfig_add(struct mfig *to, const struct mfig *f)
{
	to->fired += f->fired;
	to->delivered += f->delivered;
	to->coalesced += f->coalesced;
	to->dropped += f->dropped;
	to->pending += f->pending;
}

/* A label value: backslash, double quote and newline escaped. */
static void
om_label(const char *name, const char *v, size_t max)
{
	printf("%s=\"", name);
	for (size_t i = 0; i < max && v[i] != '\0'; i++) {
		if (v[i] == '\\' || v[i] == '"')
			printf("\\%c", v[i]);
		else if (v[i] == '\n')
			fputs("\\n", stdout);
		else
			putchar(v[i]);
	}
	putchar('"');
}

/*
 * A family's TYPE and HELP lines. Counters are declared under their
 * sample name, ending in _total: the text format node_exporter's textfile
 * collector and promtool read takes the TYPE line's name as the family's,
 * and its lint wants counters to end in _total.
 */
static void
om_family(const char *name, const char *type, const char *help)
{
	printf("# TYPE %s %s\n# HELP %s %s\n", name, type, name, help);
}

/* The labels of one scope's sample: a device, a tenant, or a vfunc (its
 * device, tenant and handle). */
enum om_scope { OM_DEVICE, OM_TENANT, OM_VFUNC };

struct om_key {
	const char *device; /* NUL terminated */
	const char *tenant;
	uint64_t vfunc;
};

static void
om_labels(enum om_scope sc, const struct om_key *k)
{
	putchar('{');
	switch (sc) {
	case OM_DEVICE:
		om_label("device", k->device, MSIV_NAME_MAX);
		break;
	case OM_TENANT:
		om_label("tenant", k->tenant, MSIV_NAME_MAX);
		break;
	case OM_VFUNC:
		om_label("device", k->device, MSIV_NAME_MAX);
		putchar(',');
		om_label("tenant", k->tenant, MSIV_NAME_MAX);
		printf(",vfunc=\"%016" PRIx64 "\"", k->vfunc);
		break;
	}
	putchar('}');
}

/* The five families of one scope: four counters and the pending gauge. */
static void
om_scope(enum om_scope sc, const char *scope, const struct om_key *keys,
    const struct mfig *figs, size_t n)
{
	static const struct {
		const char *name, *help;
	} fams[] = {
		{ "fired", "Interrupts fired (seen on the trigger or assumed)" },
		{ "delivered", "Interrupts delivered with a target write of "
		    "their own" },
		{ "coalesced", "Interrupts folded into another one's delivery "
		    "or pending bit" },
		{ "dropped", "Interrupts dropped (function disabled, pending "
		    "bit freed)" },
		{ "pending", "Vectors whose pending bit is set" },
	};

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		int gauge = f == 4;
		char name[64];
		char help[160];

		snprintf(name, sizeof(name), "msiv_%s_interrupts_%s%s", scope,
		    fams[f].name, gauge ? "" : "_total");
		snprintf(help, sizeof(help), "%s, per %s.", fams[f].help,
		    scope);
		om_family(name, gauge ? "gauge" : "counter", help);
		for (size_t i = 0; i < n; i++) {
			const uint64_t v[] = { figs[i].fired,
			    figs[i].delivered, figs[i].coalesced,
			    figs[i].dropped, figs[i].pending };

			fputs(name, stdout);
			om_labels(sc, &keys[i]);
			printf(" %" PRIu64 "\n", v[f]);
		}
	}
}

/* The delivery shards' series (SHARD_LIST), a sample per shard. */
static void
om_shards(const struct msiv_shard_info *sh, int n)
{
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{ "msiv_delivery_shard_wakeups_total", "counter", "Trigger "
		    "wakeups a delivery shard handled." },
		{ "msiv_delivery_shard_delivered_total", "counter", "Target "
		    "writes a delivery shard issued." },
		{ "msiv_delivery_shard_dropped_total", "counter", "Interrupts "
		    "a delivery shard dropped (function disabled, slot not "
		    "allocated)." },
		{ "msiv_delivery_shard_cpu_seconds_total", "counter", "CPU "
		    "time of a delivery shard's thread." },
		{ "msiv_delivery_shard_slots", "gauge", "Triggers a delivery "
		    "shard watches." },
	};

	for (size_t f = 0; n > 0 && f < sizeof(fams) / sizeof(fams[0]); f++) {
		om_family(fams[f].name, fams[f].type, fams[f].help);
		for (int k = 0; k < n; k++) {
			printf("%s{shard=\"%u\"} ", fams[f].name, sh[k].shard);
			switch (f) {
			case 0:
				printf("%" PRIu64 "\n", sh[k].interrupts);
				break;
			case 1:
				printf("%" PRIu64 "\n", sh[k].delivered);
				break;
			case 2:
				printf("%" PRIu64 "\n", sh[k].dropped);
				break;
			case 3:
				printf("%.6f\n", (double)sh[k].cpu_ns / 1e9);
				break;
			default:
				printf("%u\n", sh[k].slots);
				break;
			}
		}
	}
}

static int
cmd_metrics(struct ctl *c, int argc, char **argv)
{
	static const uint64_t bounds[MSIV_METRICS_BUCKETS] =
	    MSIV_METRICS_BOUNDS_US;
	struct msiv_metrics_info m;
	struct msiv_status_info st;
	struct msiv_device_info *dv = NULL;
	struct msiv_vfunc_info *f = NULL;
	struct om_key *dk = NULL, *tk = NULL, *fk = NULL;
	struct mfig *dfig = NULL, *tfig = NULL, *ffig = NULL;
	struct msiv_shard_info sh[CTL_SHARDS_MAX];
	size_t nd = 0, nf = 0, nt = 0, nk = 0;
	uint64_t cum = 0;
	int r, nsh;

	(void)argc;
	(void)argv;
	if ((r = msiv_metrics(c->conn, &m, sizeof(m))) < 0) {
		if (r == -ENOSYS)
			fprintf(stderr, "msivctl: metrics: msivd is older than "
			    "this msivctl and has no METRICS\n");
		return r == -ENOSYS ? CTL_EXIT_FAIL : ctl_fail(c, "metrics",
		    r);
	}
	if ((r = msiv_get_status(c->conn, &st, sizeof(st))) < 0 ||
	    (r = ctl_list(c, list_devices, 0, sizeof(*dv), (void **)&dv,
	    &nd)) < 0 ||
	    (r = ctl_list(c, list_vfuncs, 0, sizeof(*f), (void **)&f,
	    &nf)) < 0)
		goto fail;
	/* An msivd that predates SHARD_LIST: no shard series. */
	if ((nsh = ctl_shards(c, sh)) < 0 && nsh != -ENOSYS) {
		r = nsh;
		goto fail;
	}
	dk = calloc(nd + 1, sizeof(*dk));
	dfig = calloc(nd + 1, sizeof(*dfig));
	tk = calloc(nf + 1, sizeof(*tk));
	tfig = calloc(nf + 1, sizeof(*tfig));
	fk = calloc(nf + 1, sizeof(*fk));
	ffig = calloc(nf + 1, sizeof(*ffig));
	if (dk == NULL || dfig == NULL || tk == NULL || tfig == NULL ||
	    fk == NULL || ffig == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < nd; i++)
		dk[i].device = dv[i].name;
	for (size_t i = 0; i < nf; i++) {
		struct msiv_vector_state *v = NULL;
		struct mfig sum = { 0 };
		size_t nv = 0, j;

		r = f[i].flags & MSIV_VFUNC_GONE ? 0 : ctl_list(c,
		    list_vectors, f[i].vfunc, sizeof(*v), (void **)&v, &nv);
		if (r == -ENOENT || r == -ENODEV || r == -EKEYREVOKED)
			continue; /* closed meanwhile */
		if (r < 0)
			goto fail;
		for (j = 0; j < nv; j++) {
			sum.fired += v[j].fired;
			sum.delivered += v[j].delivered;
			sum.coalesced += v[j].coalesced;
			sum.dropped += v[j].dropped;
			sum.pending += (v[j].state & MSIV_VEC_PENDING) ?
			    1u : 0u;
		}
		free(v);
		fk[nk].device = f[i].device;
		fk[nk].tenant = f[i].tenant;
		fk[nk].vfunc = f[i].vfunc;
		ffig[nk++] = sum;
		for (j = 0; j < nd; j++)
			if (strncmp(dv[j].name, f[i].device,
			    MSIV_NAME_MAX) == 0)
				break;
		if (j < nd)
			mfig_add(&dfig[j], &sum);
		for (j = 0; j < nt; j++)
			if (strncmp(tk[j].tenant, f[i].tenant,
			    MSIV_NAME_MAX) == 0)
				break;
		if (j == nt)
			tk[nt++].tenant = f[i].tenant;
		mfig_add(&tfig[j], &sum);
	}

	om_family("msiv_sessions", "gauge", "Client sessions connected.");
	printf("msiv_sessions %u\n", st.sessions);
	om_family("msiv_devices", "gauge", "Devices attached.");
	printf("msiv_devices %u\n", st.devices);
	om_family("msiv_vfuncs", "gauge", "Virtual MSI-X functions.");
	printf("msiv_vfuncs %u\n", st.vfuncs);
	om_family("msiv_vectors", "gauge", "Vectors of all vfuncs.");
	printf("msiv_vectors %u\n", st.vectors);
	om_family("msiv_store_commits_total", "counter", "Store group "
	    "commits.");
	printf("msiv_store_commits_total %" PRIu64 "\n", m.commits);
	om_family("msiv_store_commit_failures_total", "counter", "Store "
	    "commits that failed (the turn's changes rolled back).");
	printf("msiv_store_commit_failures_total %" PRIu64 "\n",
	    m.commit_failures);
	om_family("msiv_store_commit_duration_seconds", "histogram",
	    "Store group commit latency (fsync included).");
	printf("# UNIT msiv_store_commit_duration_seconds seconds\n");
	for (size_t i = 0; i < MSIV_METRICS_BUCKETS; i++) {
		cum += m.commit_hist[i];
		printf("msiv_store_commit_duration_seconds_bucket{le=\"%g\"} %"
		    PRIu64 "\n", (double)bounds[i] / 1e6, cum);
	}
	printf("msiv_store_commit_duration_seconds_bucket{le=\"+Inf\"} %"
	    PRIu64 "\n", m.commits);
	printf("msiv_store_commit_duration_seconds_count %" PRIu64 "\n",
	    m.commits);
	printf("msiv_store_commit_duration_seconds_sum %.6f\n",
	    (double)m.commit_us_sum / 1e6);
	om_scope(OM_DEVICE, "device", dk, dfig, nd);
	om_scope(OM_TENANT, "tenant", tk, tfig, nt);
	om_scope(OM_VFUNC, "vfunc", fk, ffig, nk);
	om_shards(sh, nsh);
	printf("# EOF\n");
	r = fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
fail:
	free(dv);
	free(f);
	free(dk);
	free(dfig);
	free(tk);
	free(tfig);
	free(fk);
	free(ffig);
	return r < 0 ? ctl_fail(c, "metrics", r) : CTL_EXIT_OK;
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
	char what[96], hint[160];
	int r, bad = argc < 3;

	for (int i = 3; i < argc; i++) {
		uint32_t sh = 0;

		if (strcmp(argv[i], "msi-latch") == 0)
			flags |= MSIV_ATTACH_MSI_LATCH;
		else if (strncmp(argv[i], "shard=", 6) == 0) {
			bad |= msiv_shard_parse(argv[i] + 6, &sh) < 0;
			flags = (flags & ~MSIV_ATTACH_SHARD_MASK) | sh;
		} else
			bad |= parse_policy(argv[i], &policy) < 0;
	}
	if (bad || (strcmp(argv[1], "vfio") == 0 ? (addr = argv[2], 0) :
	    strcmp(argv[1], "sim") == 0 ?
	    parse_u32(argv[2], 65536, &slots) < 0 || slots == 0 : 1)) {
		return ctl_usage_error(c);
	}
	r = msiv_device_attach(c->conn, argv[0], argv[1], addr, slots, policy,
	    flags);
	snprintf(what, sizeof(what), "attach %s", argv[0]);
	switch (r) {
	case 0:
		break;
	case -ENODEV:
		snprintf(hint, sizeof(hint), "%s is missing or not bound to "
		    "vfio-pci (msivd's log says which, and how to bind it)",
		    addr != NULL ? addr : argv[0]);
		return ctl_fail_hint(c, what, r, hint, CTL_EXIT_NOENT);
	case -EBUSY:
		snprintf(hint, sizeof(hint), "the IOMMU group of %s is not "
		    "viable: bind every device in it to vfio-pci",
		    addr != NULL ? addr : argv[0]);
		return ctl_fail_hint(c, what, r, hint, CTL_EXIT_FAIL);
	case -EEXIST:
		return ctl_fail_hint(c, what, r, "a device of that name is "
		    "attached already", CTL_EXIT_FAIL);
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
	else if (argc != 1)
		return ctl_usage_error(c);
	r = msiv_device_detach(c->conn, argv[0], flags);
	snprintf(what, sizeof(what), "detach %s", argv[0]);
	if (r == -EBUSY)
		return ctl_fail_hint(c, what, r, "vfuncs still use the device "
		    "(msivctl vfuncs); --force revokes them", CTL_EXIT_FAIL);
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

	if (argc != 1)
		return ctl_usage_error(c);
	snprintf(what, sizeof(what), "revoke %s", argv[0]);
	if (parse_handle(argv[0], &vfunc) == 0)
		r = msiv_revoke(c->conn, NULL, vfunc, &count);
	else
		r = msiv_revoke(c->conn, argv[0], 0, &count);
	if (r == -ENOENT)
		return ctl_fail_hint(c, what, r, vfunc != 0 ? "no such vfunc" :
		    "the tenant holds no vfunc", CTL_EXIT_NOENT);
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
		return ctl_usage_error(c);
	}
	r = msiv_slot_affinity(c->conn, argv[0], slot, argc == 3 ? cpus : NULL,
	    &irq, eff);
	if (r < 0) {
		snprintf(what, sizeof(what), "affinity %s slot %u", argv[0],
		    slot);
		if (r == -ENXIO)
			return ctl_fail_hint(c, what, r, "the slot is not in "
			    "use, so it has no host IRQ", CTL_EXIT_NOENT);
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
	if (r == -ENOSYS)
		return ctl_fail_hint(c, "reload", r, "msivd is older than this "
		    "msivctl: it has no reload (send it SIGHUP)", CTL_EXIT_FAIL);
	if (r < 0)
		return ctl_fail(c, "reload refused", r);
	if (c->json) {
		json_object *o = json_object_new_object();

		jstr(o, "message", msg);
		json_print(o);
	} else
		puts(msg);
	return CTL_EXIT_OK;
}

/*
 * restart: msivd hands everything over to a new msivd (msivd(8), RESTART
 * AND UPGRADE), whose reply says what it took over. ENOSYS is what an
 * msivd that predates the opcode answers (msiv-protocol(7)), so it gets
 * the hint whatever its reason. A refusal (the old msivd keeps serving)
 * is exit 1 whatever its errno, as the failure is msivd's, not one of
 * the caller's objects or rights; only EPERM to a session that is not an
 * admin's is the usual "permission denied". Without a reply it is not
 * known whether msivd restarted: that is said rather than "refused".
 */
static int
cmd_restart(struct ctl *c, int argc, char **argv)
{
	struct msiv_restart_info ri;
	char msg[160];
	int r = msiv_restart(c->conn, &ri, sizeof(ri));

	(void)argc;
	(void)argv;
	if (r == -ENOSYS)
		return ctl_report(c, "restart", r, "msivd is older than this "
		    "msivctl: it has no restart", CTL_EXIT_FAIL);
	if (r == -EPERM && !msiv_is_admin(c->conn))
		return ctl_fail(c, "restart", r);
	if (r == -ETIMEDOUT || r == -ENOTCONN || r == -ECONNRESET ||
	    r == -EPROTO) {
		snprintf(msg, sizeof(msg), "%s; whether msivd restarted is "
		    "unknown (msivctl status shows its pid, msivd's log "
		    "says)", msiv_strerror(r));
		return ctl_report(c, "restart", r, msg, CTL_EXIT_FAIL);
	}
	if (r < 0)
		return ctl_report(c, "restart refused", r, NULL,
		    CTL_EXIT_FAIL);
	if (c->json) {
		json_object *o = json_object_new_object();

		jint(o, "pid", ri.pid);
		jstr(o, "version", ri.version);
		jstr(o, "old_version", ri.old_version);
		jint(o, "sessions", ri.sessions);
		jint(o, "vfuncs", ri.vfuncs);
		jint(o, "fds", ri.fds);
		jint(o, "blackout_us", ri.blackout_us);
		jint(o, "format", ri.format);
		json_print(o);
	} else
		printf("msivd restarted: pid %" PRIu32 ", version %s (from %s), "
		    "%" PRIu32 " session%s, %" PRIu32 " vfunc%s, %" PRIu32
		    " fd%s handed over; no interrupt read for %" PRIu32 " us\n",
		    ri.pid, ri.version, ri.old_version, ri.sessions,
		    ri.sessions == 1 ? "" : "s", ri.vfuncs,
		    ri.vfuncs == 1 ? "" : "s", ri.fds, ri.fds == 1 ? "" : "s",
		    ri.blackout_us);
	return CTL_EXIT_OK;
}

static const char *const ctl_levels[] = {
	[MSIV_LOG_ERROR] = "error",
	[MSIV_LOG_WARNING] = "warning",
	[MSIV_LOG_INFO] = "info",
	[MSIV_LOG_DEBUG] = "debug",
};

/* log-level [LEVEL]: set the daemon's log level, or print it. */
static int
cmd_log_level(struct ctl *c, int argc, char **argv)
{
	uint32_t want = MSIV_LOG_QUERY;
	const char *was, *now;
	int r;

	for (uint32_t i = 0; argc == 1 && i <= MSIV_LOG_DEBUG; i++)
		if (strcmp(argv[0], ctl_levels[i]) == 0)
			want = i;
	if (argc == 1 && want == MSIV_LOG_QUERY)
		return ctl_usage_error(c);
	if ((r = msiv_log_level(c->conn, want)) < 0) {
		if (r == -ENOSYS) {
			fprintf(stderr, "msivctl: log-level: this msivd is "
			    "older than the command; restart it with "
			    "--log-level instead\n");
			return CTL_EXIT_FAIL;
		}
		return ctl_fail(c, "log-level", r);
	}
	was = ctl_levels[r];
	now = want == MSIV_LOG_QUERY ? was : ctl_levels[want];
	if (c->json) {
		json_object *o = json_object_new_object();

		jstr(o, "level", now);
		jstr(o, "previous", was);
		json_print(o);
	} else if (want == MSIV_LOG_QUERY)
		printf("%s\n", now);
	else
		printf("log level %s (was %s)\n", now, was);
	return CTL_EXIT_OK;
}

static int
cmd_release(struct ctl *c, int argc, char **argv)
{
	char what[96];
	unsigned int count = 0;
	int r;

	if (argc != 1)
		return ctl_usage_error(c);
	snprintf(what, sizeof(what), "release %s", argv[0]);
	r = msiv_tenant_release(c->conn, argv[0], &count);
	if (r == -ENOSYS)
		return ctl_fail_hint(c, what, r, "msivd is older than this "
		    "msivctl: it has no release", CTL_EXIT_FAIL);
	if (r == -ENOENT)
		return ctl_fail_hint(c, what, r, "the tenant holds no vfunc",
		    CTL_EXIT_NOENT);
	if (r == -EBUSY)
		return ctl_fail_hint(c, what, r, "a session of the tenant "
		    "holds vfuncs (revoke them, or end the session, first)",
		    CTL_EXIT_FAIL);
	if (r < 0)
		return ctl_fail(c, what, r);
	if (c->json) {
		json_object *o = json_object_new_object();

		jint(o, "released", count);
		json_print(o);
	} else
		printf("released %u vfunc%s\n", count, count == 1 ? "" : "s");
	return CTL_EXIT_OK;
}

/* help [COMMAND]: needs no daemon (main runs it before connecting). */
static int
cmd_help(struct ctl *c, int argc, char **argv)
{
	const struct ctl_cmd *ct;

	(void)c;
	if (argc == 0) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	if ((ct = ctl_find(argv[0])) == NULL) {
		fprintf(stderr, "msivctl: help: unknown command: %s\n",
		    argv[0]);
		return CTL_EXIT_USAGE;
	}
	cmd_usage(stdout, ct);
	printf("\n%s\n", ct->summary);
	if (ct->detail != NULL)
		printf("%s", ct->detail);
	return CTL_EXIT_OK;
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", "", "daemon summary", NULL, 0, 0, cmd_status },
	{ "devices", "", "devices and their slots", NULL, 0, 0, cmd_devices },
	{ "vfuncs", "", "virtual functions and their vectors", NULL, 0, 0,
	    cmd_vfuncs },
	{ "sessions", "", "client sessions", NULL, 0, 0, cmd_sessions },
	{ "fire", "DEVICE SLOT [COUNT]", "raise interrupts on a sim slot",
	    "  SLOT and COUNT are decimal numbers, COUNT at least 1 (1 if "
	    "left out)\n", 2, 3, cmd_fire },
	{ "attach", "NAME vfio PCI-ADDRESS [POLICY] [msi-latch] [shard=S]\n"
	    "NAME sim SLOTS [POLICY] [shard=S]", "attach a device (kept across "
	    "restarts)",
	    "  PCI-ADDRESS like 0000:00:03.0; SLOTS 1 to 65536; POLICY latch, "
	    "strict or live\n  (the device's default for vfuncs that ask for "
	    "none; latch if left out);\n  msi-latch: the device latches its "
	    "MSI message at enable (msivd.conf(5));\n  S: the delivery shard "
	    "of its slots, auto, spread or 0 to 63 (msivd.conf(5))\n", 3, 6,
	    cmd_attach },
	{ "detach", "NAME [--force]", "detach a device",
	    "  --force: even if vfuncs use it; they are revoked\n", 1, 2,
	    cmd_detach },
	{ "revoke", "TENANT|VFUNC", "take a tenant's vfuncs away",
	    "  TENANT: every vfunc of the tenant; VFUNC: one, by its 16-digit "
	    "handle\n  (msivctl vfuncs). Their slots are freed at once; the "
	    "tenant's calls on\n  them fail until it closes them (msivctl "
	    "release frees them of a tenant\n  whose VMM is gone).\n", 1, 1,
	    cmd_revoke },
	{ "release", "TENANT", "release a tenant's orphaned vfuncs now",
	    "  Every vfunc of TENANT that no session holds (orphaned, revoked "
	    "or not)\n  is released at once instead of at the end of "
	    "orphan_grace: its slots\n  go back to the device, and a tenant "
	    "left with no vfunc can be taken\n  over by a new client without "
	    "its resume token. Refused while a\n  session of the tenant "
	    "holds vfuncs.\n", 1, 1, cmd_release },
	{ "affinity", "DEVICE SLOT [CPUS]",
	    "host IRQ of a slot and its CPU affinity",
	    "  CPUS a list like 0-3,6 (CPUs below 256): set the affinity "
	    "first\n", 2, 3, cmd_affinity },
	{ "log-level", "[LEVEL]", "the daemon's log level",
	    "  LEVEL error, warning, info or debug: set it until msivd stops "
	    "(left out:\n  print it)\n", 0, 1, cmd_log_level },
	{ "metrics", "", "OpenMetrics text for Prometheus (admin)",
	    "  Counters per device, tenant and vfunc, sessions and store "
	    "commits\n  (msivctl(8), METRICS)\n", 0, 0, cmd_metrics },
	{ "reload", "", "read the configuration file again",
	    "  As SIGHUP does: all or nothing; a file that is not valid, or "
	    "that changes\n  a setting that takes a restart, is refused and "
	    "the running one stays\n  (msivd(8), RELOAD)\n", 0, 0,
	    cmd_reload },
	{ "restart", "", "hand over to a new msivd; clients stay (admin)",
	    "  msivd executes its binary again, which may be a newer release, "
	    "and hands\n  it the devices (not reset), every trigger and "
	    "target, and the sessions:\n  no client is disconnected and no "
	    "interrupt lost. Refused, the running\n  msivd keeps serving "
	    "(msivd(8), RESTART AND UPGRADE)\n", 0, 0, cmd_restart },
	{ "shutdown", "", "stop the daemon", NULL, 0, 0, cmd_shutdown },
	{ "help", "[COMMAND]", "this list, or what COMMAND does", NULL, 0, 1,
	    cmd_help },
	{ NULL, NULL, NULL, NULL, 0, 0, NULL },
};

static const struct ctl_cmd *
ctl_find(const char *name)
{
	for (const struct ctl_cmd *ct = ctl_cmds; ct->name != NULL; ct++)
		if (strcmp(ct->name, name) == 0)
			return ct;
	return NULL;
}

static void
usage(FILE *f)
{
	const struct ctl_cmd *ct;

	fprintf(f, "usage: msivctl [-s PATH] [-j] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (ct = ctl_cmds; ct->name != NULL; ct++) {
		const char *a = ct->args;
		int w;

		/* Each form of the arguments on a line; the summary beside
		 * the last one if it fits, else under it. */
		for (;;) {
			const char *nl = strchr(a, '\n');
			int alen = nl != NULL ? (int)(nl - a) : (int)strlen(a);

			w = fprintf(f, "  %s%s%.*s", ct->name, alen ? " " : "",
			    alen, a);
			if (nl == NULL)
				break;
			fputc('\n', f);
			a = nl + 1;
		}
		if (w > 26)
			fprintf(f, "\n%28s%s\n", "", ct->summary);
		else
			fprintf(f, "%*s%s\n", 28 - w, "", ct->summary);
	}
	fprintf(f, "\noptions:\n"
	    "  -s, --socket PATH  daemon socket (default $MSIV_SOCKET, else %s)\n"
	    "  -j, --json         JSON output, errors too (on standard "
	    "output)\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      version\n"
	    "\n`msivctl help COMMAND` describes a command.\n",
	    MSIV_DEFAULT_SOCKET);
}


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
	if ((ct = ctl_find(cmd)) == NULL) {
		fprintf(stderr, "msivctl: unknown command: %s\n", cmd);
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	c.cmd = ct;
	if (nargs > ct->maxargs) {
		fprintf(stderr, "msivctl: too many arguments for %s\n", cmd);
		return ctl_usage_error(&c);
	}
	if (nargs < ct->minargs) {
		fprintf(stderr, "msivctl: too few arguments for %s\n", cmd);
		return ctl_usage_error(&c);
	}
	if (ct->fn == cmd_help)
		return cmd_help(&c, nargs, argv + optind + 1);
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
