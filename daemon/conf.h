/*
 * msivd configuration: msivd.conf (INI, parsed with inih) merged with the
 * command line, or the embedded default when no file exists. See
 * msivd.conf(5).
 */
#ifndef MSIVD_CONF_H
#define MSIVD_CONF_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include <msiv/protocol.h>

#include "log.h"
#include "vector.h"

#define CONF_DEVICES_MAX 64u
#define CONF_RULES_MAX 64u
#define CONF_TENANTS_MAX 64u          /* a bit each in session.tenants_ok */
#define CONF_IDS_MAX 16u              /* uids, gids of one tenant */
#define CONF_TENANT_DEVICES_MAX 16u
#define CONF_DEFAULT_PATH MSIV_SYSCONFDIR "/msiv/msivd.conf"
#define CONF_DEFAULT_STATE_DIR "/var/lib/msiv"

struct conf_device {
	char name[MSIV_NAME_MAX];
	char backend[MSIV_NAME_MAX]; /* "sim" or "vfio" */
	char address[32];            /* vfio: PCI address, 0000:00:03.0 */
	uint32_t slots;
	enum vector_policy policy;
	uint32_t flags;              /* MSIV_ATTACH_* (msi_latch, shard:
					the handover carries the struct
					as it is) */
};

/*
 * [auto NAME]: attach a PCI device by rule when it is bound to vfio-pci
 * (hotplug.c). The rule matches one address (the device is named NAME) or
 * every device of a vendor:device pair (each named NAME-ADDRESS).
 */
struct conf_rule {
	char name[MSIV_NAME_MAX];
	char address[16];            /* "" for a vendor:device rule */
	uint16_t vendor, device;
	enum vector_policy policy;
	uint32_t flags;              /* MSIV_ATTACH_* (msi_latch) */
	int set;                     /* match given */
};

/*
 * [tenant NAME]: who may act as the tenant, and what it may use. A peer is
 * admitted when its uid is one of uids, or its primary or a supplementary
 * group one of gids. Quotas count the tenant's vfuncs (and their vectors)
 * on each device, whichever session holds them.
 */
struct conf_tenant {
	char name[MSIV_NAME_MAX];
	uint32_t nuids, ngids;
	uid_t uids[CONF_IDS_MAX];
	gid_t gids[CONF_IDS_MAX];
	uint32_t ndevices;           /* 0: every device */
	char devices[CONF_TENANT_DEVICES_MAX][MSIV_NAME_MAX];
	uint32_t max_vfuncs;         /* per device */
	uint32_t max_vectors;        /* per device */
};

struct conf {
	char socket[108];            /* sun_path */
	char state_dir[PATH_MAX];
	enum log_level log_level;
	char admin_group[64];        /* "" = none */
	gid_t admin_gid;             /* admin_group, looked up when parsed */
	uint32_t socket_mode;        /* 0660 */
	uint32_t max_sessions;
	uint32_t max_vfuncs_per_session;
	uint32_t max_sessions_per_uid;
	uint32_t max_queued;         /* replies and events queued per session */
	uint32_t max_rate;           /* requests per second per session */
	uint32_t max_vfuncs;         /* per tenant and device, by default */
	uint32_t max_vectors;        /* per tenant and device, by default */
	char user[64];               /* drop to this user when root; "root": no */
	char delivery[16];           /* delivery loop: auto, io_uring, epoll */
	uint32_t delivery_shards;    /* io_uring loops; 0: auto */
	int seccomp;                 /* system call filter: 1, 0; -1: default */
	uint32_t orphan_grace;       /* s; 0: release at disconnect */
	uint32_t write_behind_ms;    /* 0: mask/unmask written through */
	uint32_t ndevices;
	struct conf_device devices[CONF_DEVICES_MAX];
	int hotplug;                 /* [hotplug] listen: the uevent listener */
	uint32_t hotplug_buffer;     /* its receive buffer, bytes */
	uint32_t nrules;
	struct conf_rule rules[CONF_RULES_MAX];
	uint32_t ntenants;           /* 0: any peer may act as any tenant */
	struct conf_tenant tenants[CONF_TENANTS_MAX];
};

/* What the command line sets on top of the file (NULL: not given). */
struct conf_args {
	const char *config;          /* NULL: CONF_DEFAULT_PATH, or none */
	const char *socket;
	const char *state_dir;
	const char *log_level;
	const char *user;
	const char *delivery;
};

/* Fill in the defaults (no devices). */
void conf_defaults(struct conf *c);
/* Is s a delivery loop name (auto, io_uring, epoll)? 0 or -1. */
int conf_delivery_ok(const char *s);
/* The embedded default device set: one sim device sim0 of 2048 slots. */
void conf_embedded_devices(struct conf *c);
/* Parse path into c (on top of the defaults). Returns 0, or -EINVAL with
 * "file:line: reason" in err (or "file: reason" for what is not one
 * line's), or -errno when the file cannot be read. */
int conf_load(struct conf *c, const char *path, char *err, size_t errlen);
/* The command line's values (a) alone: 0, or -EINVAL with the option and
 * why in err. conf_read checks them too; msivd's start tells a bad option
 * (exit status 2) from a bad file (3) with it. */
int conf_args_check(const struct conf_args *a, char *err, size_t errlen);
/*
 * The whole configuration: the defaults, the file (a->config; without
 * one CONF_DEFAULT_PATH, or the embedded default when that does not
 * exist), then the command line. *path is the file read (NULL: the
 * embedded default). Returns 0, or conf_load's error with the reason in
 * err. No side effects: msivd --check-config and RELOAD use it too.
 */
int conf_read(struct conf *c, const struct conf_args *a, const char **path,
    char *err, size_t errlen);
/* The settings that take a restart and differ between a and b, named in
 * out ("socket_mode, [device sim1]"). Returns how many. */
unsigned int conf_restart_diff(const struct conf *a, const struct conf *b,
    char *out, size_t outlen);
/* Look up a user and a group once while msivd may still load the NSS
 * modules (before its system call filter), so that a RELOAD naming users
 * later finds them loaded. */
void conf_nss_preload(void);
const char *conf_policy_name(enum vector_policy p);
/* Is the device one the tenant may use? */
int conf_tenant_device(const struct conf_tenant *t, const char *device);
/* Check a device definition (config section or DEVICE_ATTACH) and fill
 * in defaults. Returns 0, or -1 with the reason in err. */
int conf_device_check(struct conf_device *d, char *err, size_t errlen);

#endif /* MSIVD_CONF_H */
