/*
 * msivd.conf parsing (see conf.h and msivd.conf(5)). The file is INI:
 *
 *   [msivd]                 daemon settings
 *   [device NAME]           one device per section
 *   [hotplug]               the kernel uevent listener
 *   [auto NAME]             attach devices by rule when they appear
 *   [tenant NAME]           who may act as a tenant, its devices, quotas
 *
 * Unknown sections and keys are errors, so that a typo is not silently
 * ignored on a host that depends on it; so are a section or a key given
 * twice (which of the two would count?), a line that starts with white
 * space after a setting (inih would take it as the value's continuation)
 * and a "#" after a value (a comment is a line of its own). Every error
 * names the file and the line: inih reads the file through conf_reader,
 * which counts the lines and sees the section headers.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "proto.h"

#define CONF_SECTIONS_MAX \
	(CONF_DEVICES_MAX + CONF_RULES_MAX + CONF_TENANTS_MAX + 2u)
#define CONF_KEYS_MAX 32u   /* more than any section has */
#define CONF_LINE_MAX 200   /* inih's line buffer (INI_MAX_LINE) */

struct conf_seen {
	char name[MSIV_NAME_MAX + 8]; /* "tenant vm-a", "msivd" */
	int line;
};

struct conf_parse {
	struct conf *c;
	FILE *f;
	char *err;
	size_t errlen;
	int line;                 /* the line inih is parsing, from 1 */
	int errline;              /* the first error's, 0: none yet */
	int indented;             /* the line starts with white space */
	uint32_t nsections;       /* section headers so far */
	struct conf_seen sections[CONF_SECTIONS_MAX];
	uint32_t nkeys;           /* keys of the current section */
	struct conf_seen keys[CONF_KEYS_MAX];
};

const char *
conf_policy_name(enum vector_policy p)
{
	switch (p) {
	case VECTOR_POLICY_LATCH:
		return "latch";
	case VECTOR_POLICY_STRICT:
		return "strict";
	case VECTOR_POLICY_LIVE:
		return "live";
	}
	return "?";
}

static int
conf_policy_parse(const char *s, enum vector_policy *out)
{
	static const enum vector_policy all[] = {
		VECTOR_POLICY_LATCH, VECTOR_POLICY_STRICT, VECTOR_POLICY_LIVE,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, conf_policy_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

int
conf_delivery_ok(const char *s)
{
	return strcmp(s, "auto") == 0 || strcmp(s, "io_uring") == 0 ||
	    strcmp(s, "epoll") == 0 ? 0 : -1;
}

static int
conf_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, int base)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min ||
	    v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A PCI address as sysfs writes it: 0000:00:03.0. */
static int
conf_pci_address(const char *s)
{
	unsigned int dom, bus, sl, fn;
	char end;

	return strlen(s) == 12 && sscanf(s, "%4x:%2x:%2x.%1x%c", &dom, &bus,
	    &sl, &fn, &end) == 4 ? 0 : -1;
}

/* yes or no. */
static int
conf_yesno(const char *val, int *out)
{
	if (strcmp(val, "yes") == 0)
		*out = 1;
	else if (strcmp(val, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), "%s", "/run/msiv/msivd.sock");
	snprintf(c->state_dir, sizeof(c->state_dir), "%s",
	    CONF_DEFAULT_STATE_DIR);
	c->log_level = LOG_LEVEL_INFO;
	c->socket_mode = 0660;
	c->max_sessions = 256;
	c->max_vfuncs_per_session = 64;
	c->max_sessions_per_uid = 32;
	c->max_queued = 1024;
	c->max_rate = 200000;
	c->max_vfuncs = 64;
	c->max_vectors = 65536;
	snprintf(c->user, sizeof(c->user), "%s", MSIV_USER);
	snprintf(c->delivery, sizeof(c->delivery), "auto");
	c->seccomp = -1;
	c->orphan_grace = 300;
	c->write_behind_ms = 100;
	c->hotplug = 1;
	c->hotplug_buffer = 1u << 20;
}

void
conf_embedded_devices(struct conf *c)
{
	struct conf_device *d = &c->devices[0];

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "sim0");
	snprintf(d->backend, sizeof(d->backend), "sim");
	d->slots = 2048;
	d->policy = VECTOR_POLICY_LATCH;
	c->ndevices = 1;
}

/* The first error and its line; parsing stops there (conf_reader). */
static void __attribute__((format(printf, 2, 3)))
conf_err(struct conf_parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->errline != 0)
		return;
	p->errline = p->line > 0 ? p->line : 1;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
}

#define CONF_ERR(p, line, ...) do {					\
	conf_err(p, __VA_ARGS__);					\
	(void)(line);							\
	return 0;							\
} while (0)

/*
 * The entry of a [KIND NAME] section in an array (n entries in use of
 * max, each sz bytes and starting with its name): the one already there,
 * or a new zeroed one with the name checked (*fresh set: the caller fills
 * in its defaults). NULL, with the reason in p->err, when the name is not
 * a name or the array is full.
 */
static void *
conf_section(struct conf_parse *p, const char *kind, const char *name,
    void *arr, size_t sz, uint32_t *n, uint32_t max, int *fresh)
{
	unsigned char *e = arr;
	char field[MSIV_NAME_MAX];

	*fresh = 0;
	for (uint32_t i = 0; i < *n; i++, e += sz)
		if (strcmp((const char *)e, name) == 0)
			return e;
	if (p->errline != 0)
		return NULL;
	if (msiv_name_put(field, name) < 0 || msiv_name_check(field) < 0) {
		conf_err(p, "[%s %s]: the name must be 1 to %u printable "
		    "characters without spaces", kind, name, MSIV_NAME_MAX - 1);
		return NULL;
	}
	if (*n == max) {
		conf_err(p, "more than %u [%s] sections", max, kind);
		return NULL;
	}
	e = (unsigned char *)arr + (size_t)(*n)++ * sz;
	memset(e, 0, sz);
	memcpy(e, field, sizeof(field));
	*fresh = 1;
	return e;
}
_Static_assert(offsetof(struct conf_device, name) == 0 &&
    offsetof(struct conf_rule, name) == 0 &&
    offsetof(struct conf_tenant, name) == 0, "conf_section: names first");

static int conf_id(const char *w, int group, uint32_t *out);

static int
conf_daemon_key(struct conf_parse *p, const char *key, const char *val,
    int line)
{
	struct conf *c = p->c;

	if (strcmp(key, "socket") == 0) {
		if (strlen(val) >= sizeof(c->socket) || *val == '\0')
			CONF_ERR(p, line, "socket path must be 1 to %zu bytes",
			    sizeof(c->socket) - 1);
		snprintf(c->socket, sizeof(c->socket), "%s", val);
	} else if (strcmp(key, "state_dir") == 0) {
		if (strlen(val) >= sizeof(c->state_dir) || *val == '\0')
			CONF_ERR(p, line, "state_dir is empty or too long");
		snprintf(c->state_dir, sizeof(c->state_dir), "%s", val);
	} else if (strcmp(key, "log_level") == 0) {
		if (log_level_parse(val, &c->log_level) < 0)
			CONF_ERR(p, line, "log_level must be error, warning, "
			    "info or debug, not \"%s\"", val);
	} else if (strcmp(key, "admin_group") == 0) {
		uint32_t gid = 0;

		if (strlen(val) >= sizeof(c->admin_group))
			CONF_ERR(p, line, "admin_group is too long");
		/* Looked up now: a group that does not exist is an error
		 * here, with its line, not a surprise at start-up. */
		if (*val != '\0' && conf_id(val, 1, &gid) < 0)
			CONF_ERR(p, line, "admin_group: no such group \"%s\"",
			    val);
		snprintf(c->admin_group, sizeof(c->admin_group), "%s", val);
		c->admin_gid = (gid_t)gid;
	} else if (strcmp(key, "socket_mode") == 0) {
		if (conf_u32(val, 0, 0777, &c->socket_mode, 8) < 0)
			CONF_ERR(p, line, "socket_mode must be octal, e.g. 0660");
	} else if (strcmp(key, "max_sessions") == 0) {
		if (conf_u32(val, 1, 65536, &c->max_sessions, 10) < 0)
			CONF_ERR(p, line, "max_sessions must be 1 to 65536");
	} else if (strcmp(key, "max_vfuncs_per_session") == 0) {
		if (conf_u32(val, 1, 65536, &c->max_vfuncs_per_session, 10) < 0)
			CONF_ERR(p, line,
			    "max_vfuncs_per_session must be 1 to 65536");
	} else if (strcmp(key, "max_sessions_per_uid") == 0) {
		if (conf_u32(val, 1, 65536, &c->max_sessions_per_uid, 10) < 0)
			CONF_ERR(p, line, "max_sessions_per_uid must be 1 to 65536");
	} else if (strcmp(key, "max_queued") == 0) {
		if (conf_u32(val, 16, 1u << 20, &c->max_queued, 10) < 0)
			CONF_ERR(p, line, "max_queued must be 16 to 1048576");
	} else if (strcmp(key, "max_rate") == 0) {
		if (conf_u32(val, 0, 100000000, &c->max_rate, 10) < 0)
			CONF_ERR(p, line, "max_rate must be 0 (no limit) to "
			    "100000000 requests per second");
	} else if (strcmp(key, "max_vfuncs") == 0) {
		if (conf_u32(val, 0, 65536, &c->max_vfuncs, 10) < 0)
			CONF_ERR(p, line, "max_vfuncs must be 0 to 65536");
	} else if (strcmp(key, "max_vectors") == 0) {
		if (conf_u32(val, 0, 1u << 24, &c->max_vectors, 10) < 0)
			CONF_ERR(p, line, "max_vectors must be 0 to 16777216");
	} else if (strcmp(key, "user") == 0) {
		if (strlen(val) >= sizeof(c->user) || *val == '\0')
			CONF_ERR(p, line, "user is empty or too long");
		snprintf(c->user, sizeof(c->user), "%s", val);
	} else if (strcmp(key, "delivery") == 0) {
		if (conf_delivery_ok(val) < 0)
			CONF_ERR(p, line, "delivery must be auto, io_uring or "
			    "epoll");
		snprintf(c->delivery, sizeof(c->delivery), "%s", val);
	} else if (strcmp(key, "delivery_shards") == 0) {
		if (strcmp(val, "auto") == 0)
			c->delivery_shards = 0;
		else if (conf_u32(val, 1, MSIV_ATTACH_SHARD_MAX + 1,
		    &c->delivery_shards, 10) < 0)
			CONF_ERR(p, line, "delivery_shards must be auto or 1 "
			    "to 64, not \"%s\"", val);
	} else if (strcmp(key, "seccomp") == 0) {
		if (conf_yesno(val, &c->seccomp) < 0)
			CONF_ERR(p, line, "seccomp must be yes or no");
	} else if (strcmp(key, "orphan_grace") == 0) {
		if (conf_u32(val, 0, 86400 * 365, &c->orphan_grace, 10) < 0)
			CONF_ERR(p, line, "orphan_grace must be 0 to 31536000 "
			    "seconds");
	} else if (strcmp(key, "write_behind_ms") == 0) {
		if (conf_u32(val, 0, 10000, &c->write_behind_ms, 10) < 0)
			CONF_ERR(p, line, "write_behind_ms must be 0 to 10000");
	} else
		CONF_ERR(p, line, "unknown key \"%s\" in [msivd]", key);
	return 1;
}

static int
conf_device_key(struct conf_parse *p, const char *name, const char *key,
    const char *val, int line)
{
	struct conf *c = p->c;
	int fresh;
	struct conf_device *d = conf_section(p, "device", name, c->devices,
	    sizeof(*d), &c->ndevices, CONF_DEVICES_MAX, &fresh);

	if (d == NULL)
		return 0;
	if (fresh)
		d->policy = VECTOR_POLICY_LATCH;
	if (strcmp(key, "backend") == 0) {
		if (strcmp(val, "sim") != 0 && strcmp(val, "vfio") != 0)
			CONF_ERR(p, line, "device %s: unknown backend \"%s\" "
			    "(known: sim, vfio)", name, val);
		snprintf(d->backend, sizeof(d->backend), "%s", val);
	} else if (strcmp(key, "address") == 0) {
		if (conf_pci_address(val) < 0)
			CONF_ERR(p, line, "device %s: address must be a PCI "
			    "address like 0000:00:03.0, not \"%s\"", name, val);
		snprintf(d->address, sizeof(d->address), "%s", val);
	} else if (strcmp(key, "slots") == 0) {
		if (conf_u32(val, 1, 65536, &d->slots, 10) < 0)
			CONF_ERR(p, line, "device %s: slots must be 1 to 65536",
			    name);
	} else if (strcmp(key, "msi_latch") == 0) {
		int on;

		if (conf_yesno(val, &on) < 0)
			CONF_ERR(p, line, "device %s: msi_latch must be yes or "
			    "no, not \"%s\"", name, val);
		d->flags = (d->flags & ~MSIV_ATTACH_MSI_LATCH) |
		    (on ? MSIV_ATTACH_MSI_LATCH : 0);
	} else if (strcmp(key, "policy") == 0) {
		if (conf_policy_parse(val, &d->policy) < 0)
			CONF_ERR(p, line, "device %s: policy must be latch, "
			    "strict or live, not \"%s\"", name, val);
	} else if (strcmp(key, "shard") == 0) {
		uint32_t sh;

		if (msiv_shard_parse(val, &sh) < 0)
			CONF_ERR(p, line, "device %s: shard must be auto, "
			    "spread or 0 to %u, not \"%s\"", name,
			    MSIV_ATTACH_SHARD_MAX, val);
		d->flags = (d->flags & ~MSIV_ATTACH_SHARD_MASK) | sh;
	} else
		CONF_ERR(p, line, "device %s: unknown key \"%s\"", name, key);
	return 1;
}

static int
conf_hotplug_key(struct conf_parse *p, const char *key, const char *val,
    int line)
{
	struct conf *c = p->c;

	if (strcmp(key, "listen") == 0) {
		if (conf_yesno(val, &c->hotplug) < 0)
			CONF_ERR(p, line, "[hotplug] listen must be yes or no, "
			    "not \"%s\"", val);
	} else if (strcmp(key, "buffer") == 0) {
		if (conf_u32(val, 4096, 64u << 20, &c->hotplug_buffer, 10) < 0)
			CONF_ERR(p, line, "[hotplug] buffer must be 4096 to "
			    "67108864 bytes");
	} else
		CONF_ERR(p, line, "unknown key \"%s\" in [hotplug]", key);
	return 1;
}

static int
conf_rule_key(struct conf_parse *p, const char *name, const char *key,
    const char *val, int line)
{
	struct conf *c = p->c;
	int fresh;
	struct conf_rule *r = conf_section(p, "auto", name, c->rules,
	    sizeof(*r), &c->nrules, CONF_RULES_MAX, &fresh);

	if (r == NULL)
		return 0;
	if (fresh)
		r->policy = VECTOR_POLICY_LATCH;
	if (strcmp(key, "match") == 0) {
		unsigned int ven, dev;
		char end;

		r->address[0] = '\0';
		r->vendor = r->device = 0;
		if (conf_pci_address(val) == 0)
			snprintf(r->address, sizeof(r->address), "%s", val);
		else if (strlen(val) == 9 && sscanf(val, "%4x:%4x%c", &ven,
		    &dev, &end) == 2) {
			/* Each device is named NAME-ADDRESS. */
			if (strlen(r->name) + 13 >= MSIV_NAME_MAX)
				CONF_ERR(p, line, "[auto %s]: a vendor:device "
				    "rule's name must be at most %u characters "
				    "(devices are named NAME-ADDRESS)", name,
				    MSIV_NAME_MAX - 14);
			r->vendor = (uint16_t)ven;
			r->device = (uint16_t)dev;
		} else
			CONF_ERR(p, line, "[auto %s]: match must be a PCI "
			    "address like 0000:00:03.0 or vendor:device like "
			    "1234:11e8, not \"%s\"", name, val);
		r->set = 1;
	} else if (strcmp(key, "policy") == 0) {
		if (conf_policy_parse(val, &r->policy) < 0)
			CONF_ERR(p, line, "[auto %s]: policy must be latch, "
			    "strict or live, not \"%s\"", name, val);
	} else if (strcmp(key, "msi_latch") == 0) {
		int on;

		if (conf_yesno(val, &on) < 0)
			CONF_ERR(p, line, "[auto %s]: msi_latch must be yes or "
			    "no, not \"%s\"", name, val);
		r->flags = on ? MSIV_ATTACH_MSI_LATCH : 0;
	} else
		CONF_ERR(p, line, "[auto %s]: unknown key \"%s\"", name, key);
	return 1;
}

/* The next word of a list separated by spaces or commas. */
static const char *
conf_word(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	while (*s == ' ' || *s == ',' || *s == '\t')
		s++;
	while (*s != '\0' && *s != ' ' && *s != ',' && *s != '\t') {
		if (n + 1 < outlen)
			out[n] = *s;
		n++;
		s++;
	}
	if (n >= outlen)
		n = 0; /* too long: an empty word is refused by the caller */
	out[n] = '\0';
	return s;
}

/* A user or group: a number, or a name looked up now (a name that does
 * not exist is a configuration error, not a silent never-match). */
static int
conf_id(const char *w, int group, uint32_t *out)
{
	char buf[4096];

	if (conf_u32(w, 0, 0xfffffffe, out, 10) == 0)
		return 0;
	if (group) {
		struct group gr, *res = NULL;

		if (getgrnam_r(w, &gr, buf, sizeof(buf), &res) != 0 ||
		    res == NULL)
			return -1;
		*out = gr.gr_gid;
	} else {
		struct passwd pw, *res = NULL;

		if (getpwnam_r(w, &pw, buf, sizeof(buf), &res) != 0 ||
		    res == NULL)
			return -1;
		*out = pw.pw_uid;
	}
	return 0;
}

static int
conf_tenant_key(struct conf_parse *p, const char *name, const char *key,
    const char *val, int line)
{
	struct conf *c = p->c;
	int fresh;
	struct conf_tenant *t = conf_section(p, "tenant", name, c->tenants,
	    sizeof(*t), &c->ntenants, CONF_TENANTS_MAX, &fresh);
	char w[MSIV_NAME_MAX + 32];

	if (t == NULL)
		return 0;
	if (fresh)
		t->max_vfuncs = t->max_vectors = UINT32_MAX; /* [msivd]'s */
	if (strcmp(key, "uids") == 0 || strcmp(key, "gids") == 0) {
		int group = key[0] == 'g';
		uint32_t *n = group ? &t->ngids : &t->nuids;

		for (const char *s = conf_word(val, w, sizeof(w)); w[0] != '\0';
		    s = conf_word(s, w, sizeof(w))) {
			uint32_t id;

			if (*n == CONF_IDS_MAX)
				CONF_ERR(p, line, "[tenant %s]: more than %u %s",
				    name, CONF_IDS_MAX, key);
			if (conf_id(w, group, &id) < 0)
				CONF_ERR(p, line, "[tenant %s]: no such %s \"%s\"",
				    name, group ? "group" : "user", w);
			if (group)
				t->gids[(*n)++] = (gid_t)id;
			else
				t->uids[(*n)++] = (uid_t)id;
		}
	} else if (strcmp(key, "devices") == 0) {
		t->ndevices = 0;
		if (strcmp(val, "*") == 0)
			return 1;
		for (const char *s = conf_word(val, w, sizeof(w)); w[0] != '\0';
		    s = conf_word(s, w, sizeof(w))) {
			if (t->ndevices == CONF_TENANT_DEVICES_MAX)
				CONF_ERR(p, line, "[tenant %s]: more than %u "
				    "devices (or * for every device)", name,
				    CONF_TENANT_DEVICES_MAX);
			if (msiv_name_put(t->devices[t->ndevices], w) < 0 ||
			    msiv_name_check(t->devices[t->ndevices]) < 0)
				CONF_ERR(p, line, "[tenant %s]: \"%s\" is not a "
				    "device name", name, w);
			t->ndevices++;
		}
		if (t->ndevices == 0)
			CONF_ERR(p, line, "[tenant %s]: devices is empty (give "
			    "names, or * for every device)", name);
	} else if (strcmp(key, "max_vfuncs") == 0) {
		if (conf_u32(val, 0, 65536, &t->max_vfuncs, 10) < 0)
			CONF_ERR(p, line, "[tenant %s]: max_vfuncs must be 0 to "
			    "65536", name);
	} else if (strcmp(key, "max_vectors") == 0) {
		if (conf_u32(val, 0, 1u << 24, &t->max_vectors, 10) < 0)
			CONF_ERR(p, line, "[tenant %s]: max_vectors must be 0 to "
			    "16777216", name);
	} else
		CONF_ERR(p, line, "[tenant %s]: unknown key \"%s\"", name, key);
	return 1;
}

int
conf_tenant_device(const struct conf_tenant *t, const char *device)
{
	if (t->ndevices == 0)
		return 1;
	for (uint32_t i = 0; i < t->ndevices; i++)
		if (strncmp(t->devices[i], device, MSIV_NAME_MAX) == 0)
			return 1;
	return 0;
}

/*
 * inih's line reader. It counts the lines (inih's count is the same: one
 * call per line), refuses a line longer than inih's buffer (inih would
 * take its rest as a line of its own), and sees each section header as
 * it comes: a section given twice is an error, and the keys seen so far
 * are forgotten. Returning NULL ends the parse, at the first error.
 */
static char *
conf_reader(char *str, int num, void *arg)
{
	struct conf_parse *p = arg;
	const char *s = str;
	size_t n;

	if (p->errline != 0 || fgets(str, num, p->f) == NULL)
		return NULL;
	p->line++;
	n = strlen(str);
	if ((n == 0 || str[n - 1] != '\n') && !feof(p->f)) {
		conf_err(p, "line too long (at most %d characters)", num - 2);
		return NULL;
	}
	if (p->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* a UTF-8 byte order mark (inih skips it) */
	while (*s == ' ' || *s == '\t')
		s++;
	p->indented = s != str && *s != '\0' && *s != '\n' && *s != '\r';
	if (*s == '[') {
		const char *end = strchr(s + 1, ']');
		struct conf_seen *e;
		size_t len;

		if (end == NULL)
			return str; /* inih's syntax error */
		len = (size_t)(end - s - 1);
		if (len >= sizeof(e->name)) {
			conf_err(p, "section name too long: [%.*s]", (int)len,
			    s + 1);
			return NULL;
		}
		for (uint32_t i = 0; i < p->nsections; i++) {
			e = &p->sections[i];
			if (strlen(e->name) == len &&
			    memcmp(e->name, s + 1, len) == 0) {
				conf_err(p, "duplicate section [%s] (first at "
				    "line %d): give each section once", e->name,
				    e->line);
				return NULL;
			}
		}
		if (p->nsections == CONF_SECTIONS_MAX) {
			conf_err(p, "more than %u sections", CONF_SECTIONS_MAX);
			return NULL;
		}
		e = &p->sections[p->nsections++];
		memcpy(e->name, s + 1, len);
		e->name[len] = '\0';
		e->line = p->line;
		p->nkeys = 0;
	}
	return str;
}

/* Where the section was, for what conf_load checks after the parse. */
static int
conf_section_line(const struct conf_parse *p, const char *kind,
    const char *name)
{
	char want[sizeof(p->sections[0].name)];

	snprintf(want, sizeof(want), "%s %s", kind, name);
	for (uint32_t i = 0; i < p->nsections; i++)
		if (strcmp(p->sections[i].name, want) == 0)
			return p->sections[i].line;
	return 0;
}

static int
conf_handler(void *arg, const char *section, const char *key,
    const char *val)
{
	int line = 0; /* conf_err takes the line from conf_reader */
	struct conf_parse *p = arg;
	struct conf_seen *k;

	if (p->errline != 0)
		return 0;
	/* An inih built to call on each new section, or to allow a key
	 * without "= value": the section is seen by conf_reader, and a key
	 * needs its value. */
	if (key == NULL)
		return 1;
	if (val == NULL)
		CONF_ERR(p, line, "%s: expected KEY = VALUE", key);
	for (uint32_t i = 0; i < p->nkeys; i++) {
		if (strcmp(p->keys[i].name, key) != 0)
			continue;
		if (p->indented && i + 1 == p->nkeys)
			CONF_ERR(p, line, "a line that starts with white space "
			    "continues the value of %s (line %d): values are one "
			    "line each; remove the indentation", key,
			    p->keys[i].line);
		CONF_ERR(p, line, "duplicate key %s in [%s] (first at line "
		    "%d): give each key once", key, section, p->keys[i].line);
	}
	if (strstr(val, " #") != NULL || strstr(val, "\t#") != NULL)
		CONF_ERR(p, line, "%s: a # after a value is not a comment; put "
		    "comments on lines of their own", key);
	if (p->nkeys == CONF_KEYS_MAX || strlen(key) >= sizeof(k->name))
		CONF_ERR(p, line, "unknown key \"%s\" in [%s]", key, section);
	k = &p->keys[p->nkeys++];
	snprintf(k->name, sizeof(k->name), "%s", key);
	k->line = p->line;
	if (strcmp(section, "msivd") == 0)
		return conf_daemon_key(p, key, val, line);
	if (strncmp(section, "device ", 7) == 0 && section[7] != '\0')
		return conf_device_key(p, section + 7, key, val, line);
	if (strcmp(section, "hotplug") == 0)
		return conf_hotplug_key(p, key, val, line);
	if (strncmp(section, "auto ", 5) == 0 && section[5] != '\0')
		return conf_rule_key(p, section + 5, key, val, line);
	if (strncmp(section, "tenant ", 7) == 0 && section[7] != '\0')
		return conf_tenant_key(p, section + 7, key, val, line);
	CONF_ERR(p, line, "unknown section [%s] (known: [msivd], "
	    "[device NAME], [hotplug], [auto NAME], [tenant NAME])", section);
}

int
conf_device_check(struct conf_device *d, char *err, size_t errlen)
{
	uint32_t shard = (d->flags & MSIV_ATTACH_SHARD_MASK) >>
	    MSIV_ATTACH_SHARD_SHIFT;

	if (msiv_name_check(d->name) < 0) {
		snprintf(err, errlen, "the name must be 1 to %u printable "
		    "characters without spaces", MSIV_NAME_MAX - 1);
		return -1;
	}
	if (strcmp(d->backend, "vfio") == 0) {
		if (d->address[0] == '\0') {
			snprintf(err, errlen, "needs the PCI address of the "
			    "device");
			return -1;
		}
		if (conf_pci_address(d->address) < 0) {
			snprintf(err, errlen, "address must be a PCI address "
			    "like 0000:00:03.0, not \"%s\"", d->address);
			return -1;
		}
		/* As many slots as the device has vectors. */
		if (d->slots == 0 || d->slots > MSIV_VECTORS_MAX)
			d->slots = MSIV_VECTORS_MAX;
	} else if (strcmp(d->backend, "sim") == 0) {
		if (d->flags & MSIV_ATTACH_MSI_LATCH) {
			snprintf(err, errlen, "msi_latch is for vfio devices");
			return -1;
		}
		if (d->slots == 0 || d->slots > 65536) {
			snprintf(err, errlen, "needs slots, 1 to 65536");
			return -1;
		}
	} else {
		snprintf(err, errlen, "needs a backend: sim or vfio");
		return -1;
	}
	if (d->flags & ~(MSIV_ATTACH_MSI_LATCH | MSIV_ATTACH_SHARD_MASK)) {
		snprintf(err, errlen, "unknown flags 0x%x", d->flags);
		return -1;
	}
	if (shard > MSIV_ATTACH_SHARD_FIXED + MSIV_ATTACH_SHARD_MAX) {
		snprintf(err, errlen, "shard %u: at most %u", shard -
		    MSIV_ATTACH_SHARD_FIXED, MSIV_ATTACH_SHARD_MAX);
		return -1;
	}
	return 0;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	struct conf_parse *p;
	char msg[256] = "";
	int r, bad;

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	p->c = c;
	p->err = msg;
	p->errlen = sizeof(msg);
	p->f = fopen(path, "re");
	if (p->f == NULL) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		free(p);
		return r;
	}
	r = ini_parse_stream(conf_reader, p, conf_handler, p);
	bad = ferror(p->f);
	fclose(p->f);
	if (bad) {
		snprintf(err, errlen, "%s: %s", path, strerror(EIO));
		free(p);
		return -EIO;
	}
	/* inih's own error (a line that is neither a section, a setting
	 * nor a comment) when it comes first; else ours. */
	if (r != 0 && (p->errline == 0 || (r > 0 && r < p->errline))) {
		snprintf(err, errlen, "%s:%d: syntax error: not [SECTION], "
		    "KEY = VALUE, or a comment (a line starting with # or ;)",
		    path, r > 0 ? r : 1);
		free(p);
		return -EINVAL;
	}
	if (p->errline != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, p->errline, msg);
		free(p);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < c->ndevices; i++) {
		if (conf_device_check(&c->devices[i], msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s:%d: [device %s] %s", path,
			    conf_section_line(p, "device", c->devices[i].name),
			    c->devices[i].name, msg);
			free(p);
			return -EINVAL;
		}
	}
	for (uint32_t i = 0; i < c->ntenants; i++) {
		struct conf_tenant *t = &c->tenants[i];

		if (t->max_vfuncs == UINT32_MAX)
			t->max_vfuncs = c->max_vfuncs;
		if (t->max_vectors == UINT32_MAX)
			t->max_vectors = c->max_vectors;
	}
	for (uint32_t i = 0; i < c->nrules; i++) {
		if (!c->rules[i].set) {
			snprintf(err, errlen, "%s:%d: [auto %s] needs match (a "
			    "PCI address or vendor:device)", path,
			    conf_section_line(p, "auto", c->rules[i].name),
			    c->rules[i].name);
			free(p);
			return -EINVAL;
		}
	}
	free(p);
	return 0;
}

int
conf_args_check(const struct conf_args *a, char *err, size_t errlen)
{
	const struct conf *c = NULL; /* for the field sizes */
	enum log_level level;

	if (a->socket != NULL &&
	    (strlen(a->socket) >= sizeof(c->socket) || !*a->socket)) {
		snprintf(err, errlen, "--socket: path must be 1 to %zu bytes",
		    sizeof(c->socket) - 1);
		return -EINVAL;
	}
	if (a->state_dir != NULL &&
	    (strlen(a->state_dir) >= sizeof(c->state_dir) || !*a->state_dir)) {
		snprintf(err, errlen, "--state-dir: bad path");
		return -EINVAL;
	}
	if (a->user != NULL &&
	    (strlen(a->user) >= sizeof(c->user) || !*a->user)) {
		snprintf(err, errlen, "--user: bad user name");
		return -EINVAL;
	}
	if (a->delivery != NULL && conf_delivery_ok(a->delivery) < 0) {
		snprintf(err, errlen, "--delivery: must be auto, io_uring or "
		    "epoll");
		return -EINVAL;
	}
	if (a->log_level != NULL && log_level_parse(a->log_level, &level) < 0) {
		snprintf(err, errlen, "--log-level: must be error, warning, "
		    "info or debug");
		return -EINVAL;
	}
	return 0;
}

int
conf_read(struct conf *c, const struct conf_args *a, const char **path,
    char *err, size_t errlen)
{
	int r;

	if ((r = conf_args_check(a, err, errlen)) < 0)
		return r;
	conf_defaults(c);
	*path = a->config != NULL ? a->config : CONF_DEFAULT_PATH;
	r = conf_load(c, *path, err, errlen);
	if (r == -ENOENT && a->config == NULL) {
		/* No file at the default path: the embedded default. */
		conf_defaults(c);
		conf_embedded_devices(c);
		*path = NULL;
	} else if (r < 0)
		return r;
	/* The command line on top of the file. */
	if (a->socket != NULL)
		snprintf(c->socket, sizeof(c->socket), "%s", a->socket);
	if (a->state_dir != NULL)
		snprintf(c->state_dir, sizeof(c->state_dir), "%s",
		    a->state_dir);
	if (a->user != NULL)
		snprintf(c->user, sizeof(c->user), "%s", a->user);
	if (a->delivery != NULL)
		snprintf(c->delivery, sizeof(c->delivery), "%s", a->delivery);
	if (a->log_level != NULL)
		(void)log_level_parse(a->log_level, &c->log_level);
	return 0;
}

static void
conf_diff_add(char *out, size_t outlen, unsigned int *n, const char *what,
    const char *name)
{
	size_t len = strlen(out);

	if (len < outlen)
		snprintf(out + len, outlen - len, "%s%s%s%s%s",
		    *n > 0 ? ", " : "", name != NULL ? "[" : "", what,
		    name != NULL ? " " : "", name != NULL ? name : "");
	if (name != NULL && (len = strlen(out)) < outlen)
		snprintf(out + len, outlen - len, "]");
	(*n)++;
}

static int
conf_device_same(const struct conf_device *a, const struct conf_device *b)
{
	return strcmp(a->name, b->name) == 0 &&
	    strcmp(a->backend, b->backend) == 0 &&
	    strcmp(a->address, b->address) == 0 && a->slots == b->slots &&
	    a->policy == b->policy && a->flags == b->flags;
}

static const struct conf_device *
conf_device_named(const struct conf *c, const char *name)
{
	for (uint32_t i = 0; i < c->ndevices; i++)
		if (strcmp(c->devices[i].name, name) == 0)
			return &c->devices[i];
	return NULL;
}

/*
 * What a running msivd cannot take over: the socket it listens on, the
 * state directory its store is open in, the user it dropped to, the
 * delivery loop and the system call filter it started, the uevent
 * listener, and the configured devices, opened at start-up (at run time
 * msivctl attach and detach add and remove devices).
 */
unsigned int
conf_restart_diff(const struct conf *a, const struct conf *b, char *out,
    size_t outlen)
{
	unsigned int n = 0;

	if (outlen > 0)
		out[0] = '\0';
	if (strcmp(a->socket, b->socket) != 0)
		conf_diff_add(out, outlen, &n, "socket", NULL);
	if (a->socket_mode != b->socket_mode)
		conf_diff_add(out, outlen, &n, "socket_mode", NULL);
	if (strcmp(a->state_dir, b->state_dir) != 0)
		conf_diff_add(out, outlen, &n, "state_dir", NULL);
	if (strcmp(a->user, b->user) != 0)
		conf_diff_add(out, outlen, &n, "user", NULL);
	if (strcmp(a->delivery, b->delivery) != 0)
		conf_diff_add(out, outlen, &n, "delivery", NULL);
	if (a->delivery_shards != b->delivery_shards)
		conf_diff_add(out, outlen, &n, "delivery_shards", NULL);
	if (a->seccomp != b->seccomp)
		conf_diff_add(out, outlen, &n, "seccomp", NULL);
	if (a->hotplug != b->hotplug)
		conf_diff_add(out, outlen, &n, "[hotplug] listen", NULL);
	if (a->hotplug_buffer != b->hotplug_buffer)
		conf_diff_add(out, outlen, &n, "[hotplug] buffer", NULL);
	for (uint32_t i = 0; i < a->ndevices; i++) {
		const struct conf_device *d = conf_device_named(b,
		    a->devices[i].name);

		if (d == NULL || !conf_device_same(d, &a->devices[i]))
			conf_diff_add(out, outlen, &n, "device",
			    a->devices[i].name);
	}
	for (uint32_t i = 0; i < b->ndevices; i++)
		if (conf_device_named(a, b->devices[i].name) == NULL)
			conf_diff_add(out, outlen, &n, "device",
			    b->devices[i].name);
	return n;
}

void
conf_nss_preload(void)
{
	uint32_t id;

	(void)conf_id("root", 0, &id);
	(void)conf_id("root", 1, &id);
}
