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
 * ignored on a host that depends on it.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "proto.h"

struct conf_parse {
	struct conf *c;
	char *err;
	size_t errlen;
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

/* inih reports the first failing line; keep the first message too. */
#define CONF_ERR(p, line, ...) do {					\
	if ((p)->err[0] == '\0')					\
		snprintf((p)->err, (p)->errlen, __VA_ARGS__);		\
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
	if (p->err[0] != '\0')
		return NULL;
	if (msiv_name_put(field, name) < 0 || msiv_name_check(field) < 0) {
		snprintf(p->err, p->errlen, "[%s %s]: the name must be 1 to %u "
		    "printable characters without spaces", kind, name,
		    MSIV_NAME_MAX - 1);
		return NULL;
	}
	if (*n == max) {
		snprintf(p->err, p->errlen, "more than %u [%s] sections", max,
		    kind);
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
		if (strlen(val) >= sizeof(c->admin_group))
			CONF_ERR(p, line, "admin_group is too long");
		snprintf(c->admin_group, sizeof(c->admin_group), "%s", val);
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
		d->flags = on ? MSIV_ATTACH_MSI_LATCH : 0;
	} else if (strcmp(key, "policy") == 0) {
		if (conf_policy_parse(val, &d->policy) < 0)
			CONF_ERR(p, line, "device %s: policy must be latch, "
			    "strict or live, not \"%s\"", name, val);
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

static int
conf_handler(void *arg, const char *section, const char *key,
    const char *val)
{
	int line = 0; /* inih reports the line of the first failure */

	struct conf_parse *p = arg;

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
	if (d->flags & ~MSIV_ATTACH_MSI_LATCH) {
		snprintf(err, errlen, "unknown flags 0x%x", d->flags);
		return -1;
	}
	return 0;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	struct conf_parse p = { .c = c, .err = err, .errlen = errlen };
	char msg[256] = "";
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	p.err = msg;
	p.errlen = sizeof(msg);
	r = ini_parse_file(f, conf_handler, &p);
	fclose(f);
	if (r != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, r,
		    msg[0] ? msg : "syntax error");
		return -1;
	}
	for (uint32_t i = 0; i < c->ndevices; i++) {
		if (conf_device_check(&c->devices[i], msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s: [device %s] %s", path,
			    c->devices[i].name, msg);
			return -1;
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
			snprintf(err, errlen, "%s: [auto %s] needs match (a PCI "
			    "address or vendor:device)", path,
			    c->rules[i].name);
			return -1;
		}
	}
	return 0;
}
