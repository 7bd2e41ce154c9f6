/*
 * msiv wire protocol: the one header shared by msivd, libmsiv and msivctl.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET, one message per packet. Every message
 * is a struct msiv_hdr followed by hdr.len bytes of payload. All integers
 * are little-endian; structs are fixed width and naturally aligned, with no
 * implicit padding (the _Static_asserts below pin their sizes). File
 * descriptors travel as SCM_RIGHTS on the same packet; the number each
 * opcode carries is fixed, except VEC_RETARGET's, which a flag of the
 * request decides. Payload lengths, fd counts and layouts are the wire
 * table, msiv_wire_table[] in lib/proto.c (shared by libmsiv and msivd);
 * who may call each opcode is msivd's dispatch table, cmd_table[] in
 * daemon/cmd.c.
 *
 * A request carries a client-chosen sequence number; the reply echoes it
 * with MSIV_F_REPLY set and status = 0 or a negative errno (an error reply
 * carries no payload, or a struct msiv_error_rep: see there). Events are sent
 * by the daemon unprompted with MSIV_F_EVENT set, seq = 0 and an event code
 * in the opcode field.
 *
 * Version history (MSIV_PROTO_VERSION):
 *   1  first version (msiv 0.1). Added within it: in fields that were
 *      reserved or flag bits an older daemon refuses (EINVAL), VFUNC_OPEN's
 *      MSIV_OPEN_LAZY (slots on first use) and VEC_LIST's nospace count
 *      (0 from an older daemon); the reason an error reply may carry
 *      (struct msiv_error_rep: an older daemon sends error replies with
 *      len 0, and clients since msiv 0.1 read past the header of an error
 *      reply without looking at it). Opcodes added within it, which a
 *      daemon that predates them answers with ENOSYS (unknown opcode):
 *      RELOAD (28), LOG_LEVEL (29), TENANT_RELEASE (30), METRICS (31,
 *      admin: the store's commit figures; msivctl metrics says so),
 *      RESTART (32) and SHARD_LIST (33: the delivery shards, a record
 *      each; STATUS keeps the totals). Flag bits added within it:
 *      DEVICE_ATTACH's shard (MSIV_ATTACH_SHARD_*).
 *
 * Opcode numbers are only ever appended; a retired opcode keeps its number
 * as a comment saying it is unused. The full protocol is described in
 * msiv-protocol(7).
 */
#ifndef MSIV_PROTOCOL_H
#define MSIV_PROTOCOL_H

#include <stdint.h>

/* <msiv/msiv.h> includes this header, and C++ spells C11's _Static_assert
 * static_assert; undefined again at the end. */
#if defined(__cplusplus) && !defined(_Static_assert)
#define _Static_assert static_assert
#define MSIV_PROTOCOL_CXX_ASSERT
#endif

#define MSIV_PROTO_VERSION 1u
#define MSIV_PROTO_MAGIC   0x564du /* "MV": first field of every header */

/* The largest packet either side sends or accepts (header + payload). */
#define MSIV_MSG_MAX 4096u
#define MSIV_FDS_MAX 8u /* most fds one packet carries (SIM_TRIGGERS) */

#define MSIV_NAME_MAX 32u /* device and tenant names, NUL padded */

struct msiv_hdr {
	uint16_t magic;   /* MSIV_PROTO_MAGIC */
	uint16_t version; /* MSIV_PROTO_VERSION of the sender */
	uint16_t opcode;  /* enum msiv_op, or enum msiv_event with MSIV_F_EVENT */
	uint16_t flags;   /* MSIV_F_* */
	uint32_t seq;     /* request sequence, echoed in the reply */
	uint32_t len;     /* payload bytes following the header */
	int32_t status;   /* replies: 0 or -errno; requests and events: 0 */
	uint32_t reserved; /* must be 0 */
};
_Static_assert(sizeof(struct msiv_hdr) == 24, "msiv_hdr is 24 bytes");

#define MSIV_F_REPLY 0x0001u
#define MSIV_F_EVENT 0x0002u
#define MSIV_F_ALL   (MSIV_F_REPLY | MSIV_F_EVENT)

enum msiv_op {
	MSIV_OP_HELLO = 1,          /* version/feature negotiation, first message */
	MSIV_OP_STATUS = 2,         /* daemon summary */
	MSIV_OP_DEVICE_LIST = 3,    /* devices, paged */
	MSIV_OP_VFUNC_OPEN = 4,     /* allocate a vfunc of N vectors on a device */
	MSIV_OP_VFUNC_CLOSE = 5,    /* release a vfunc and its slots */
	MSIV_OP_VFUNC_ENABLE = 6,   /* MSI-X Enable bit of the virtual function */
	MSIV_OP_VFUNC_FMASK = 7,    /* MSI-X Function Mask bit */
	MSIV_OP_VFUNC_RESET = 8,    /* function reset: every vector to reset state */
	MSIV_OP_VEC_SETUP = 9,      /* message + target eventfd (1 fd) */
	MSIV_OP_VEC_MASK = 10,
	MSIV_OP_VEC_UNMASK = 11,
	MSIV_OP_VEC_RETARGET = 12,  /* new target (1 fd) and/or message, atomically */
	MSIV_OP_VEC_FREE = 13,
	MSIV_OP_VEC_QUERY = 14,
	MSIV_OP_TABLE_WRITE = 15,   /* raw MSI-X table / PBA emulation */
	MSIV_OP_TABLE_READ = 16,
	MSIV_OP_VFUNC_LIST = 17,    /* vfuncs, paged (admin: all; tenant: own) */
	MSIV_OP_VEC_LIST = 18,      /* vectors of one vfunc, paged */
	MSIV_OP_SESSION_LIST = 19,  /* admin */
	MSIV_OP_SIM_TRIGGERS = 20,  /* admin: trigger fds of a sim slot range */
	MSIV_OP_SIM_FIRE = 21,      /* admin: fire a sim slot */
	MSIV_OP_SHUTDOWN = 22,      /* admin: stop the daemon */
	MSIV_OP_DEVICE_ATTACH = 23, /* admin: add a device at run time */
	MSIV_OP_DEVICE_DETACH = 24, /* admin: remove a device no vfunc uses */
	MSIV_OP_IRQ_AFFINITY = 25,  /* CPU affinity of a slot's host IRQ */
	MSIV_OP_REVOKE = 26,        /* admin: take vfuncs away from a tenant */
	MSIV_OP_HOTPLUG_STATUS = 27, /* the uevent listener's figures */
	MSIV_OP_RELOAD = 28,        /* admin: read the configuration again */
	MSIV_OP_LOG_LEVEL = 29,     /* admin: the daemon's log level */
	MSIV_OP_TENANT_RELEASE = 30, /* admin: release a tenant's orphans now */
	MSIV_OP_METRICS = 31,       /* admin: figures for msivctl metrics */
	MSIV_OP_RESTART = 32,       /* admin: hand over to a new msivd */
	MSIV_OP_SHARD_LIST = 33,    /* the delivery shards' figures, paged */
	MSIV_OP__COUNT              /* keep last */
};

enum msiv_event {
	MSIV_EV_MSG_CHANGED = 1,    /* a vector's effective message changed (rule 10) */
	MSIV_EV_VFUNC_GONE = 2,     /* a vfunc was taken away (device removed, revoked) */
	MSIV_EV_RESUMED = 3,        /* libmsiv only, never on the wire: the
				       connection was re-established and the
				       targets re-attached */
	MSIV_EV__COUNT
};

/* Features negotiated in HELLO (none are optional yet). */
#define MSIV_FEAT_NONE 0u

/* Session rights reported in the HELLO reply. */
#define MSIV_RIGHT_ADMIN 0x1u

/* Message-update policy of a vfunc (design rule 5). */
enum msiv_policy {
	MSIV_POLICY_DEFAULT = 0, /* the device's configured default */
	MSIV_POLICY_LATCH = 1,
	MSIV_POLICY_STRICT = 2,
	MSIV_POLICY_LIVE = 3,
};

/* MSI-X table geometry (PCI Local Bus spec 3.0, 6.8.2.6-7). */
#define MSIV_MSIX_ENTRY_SIZE 16u
#define MSIV_MSIX_ADDR_LO    0u
#define MSIV_MSIX_ADDR_HI    4u
#define MSIV_MSIX_DATA       8u
#define MSIV_MSIX_CTRL       12u
#define MSIV_MSIX_CTRL_MASKBIT 0x1u
#define MSIV_VECTORS_MAX     2048u /* MSI-X Table Size field is 11 bits */
/* Offsets of TABLE_READ/WRITE: the table at 0, the PBA at MSIV_PBA_OFFSET. */
#define MSIV_PBA_OFFSET      (MSIV_VECTORS_MAX * MSIV_MSIX_ENTRY_SIZE)

/* --- payloads ------------------------------------------------------------ */

#define MSIV_TOKEN_LEN 16

/*
 * HELLO names the tenant the session acts for. A tenant the daemon does
 * not know is created and its resume token returned. A known tenant needs
 * its token (-EACCES otherwise) unless it holds no vfuncs; with the token
 * the session resumes: it takes over the tenant's orphaned vfuncs (those
 * whose session ended, e.g. across a daemon restart).
 */
struct msiv_hello_req {
	uint32_t version_min;
	uint32_t version_max;
	uint32_t features;
	uint32_t reserved;
	char tenant[MSIV_NAME_MAX]; /* empty: the daemon names it from the uid */
	uint8_t token[MSIV_TOKEN_LEN]; /* all zero: none */
};
_Static_assert(sizeof(struct msiv_hello_req) == 64, "hello_req");

struct msiv_hello_rep {
	uint32_t version;
	uint32_t features;
	uint32_t rights;   /* MSIV_RIGHT_* */
	uint32_t resumed;  /* orphaned vfuncs taken over */
	uint64_t session;  /* session id, for listings and logs */
	char tenant[MSIV_NAME_MAX];
	uint8_t token[MSIV_TOKEN_LEN]; /* the tenant's resume token */
};
_Static_assert(sizeof(struct msiv_hello_rep) == 72, "hello_rep");

struct msiv_status_rep {
	uint32_t version;      /* protocol */
	uint32_t pid;
	uint64_t uptime_ms;
	uint32_t devices;
	uint32_t sessions;
	uint32_t vfuncs;
	uint32_t vectors;      /* vectors of all vfuncs */
	uint64_t interrupts;   /* trigger wakeups seen by the delivery loop */
	uint64_t delivered;
	uint64_t dropped;      /* vfunc disabled or slot unallocated */
	char loop[MSIV_NAME_MAX]; /* delivery loop in use, e.g. "epoll" */
	char version_str[MSIV_NAME_MAX];
};
_Static_assert(sizeof(struct msiv_status_rep) == 120, "status_rep");

/* Paged listings: the request names a cursor (0 to start), the reply holds
 * a struct msiv_page followed by count records; next = 0 ends the list. */
struct msiv_list_req {
	uint64_t vfunc;  /* VEC_LIST: the vfunc; otherwise 0 */
	uint32_t cursor;
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_list_req) == 16, "list_req");

struct msiv_page {
	uint32_t count;
	uint32_t next;
};
_Static_assert(sizeof(struct msiv_page) == 8, "page");

/* What a device's message store is and can do (msiv_device_rec.flags). */
#define MSIV_DEVICE_MSIX   0x1u  /* MSI-X vectors */
#define MSIV_DEVICE_MSI    0x2u  /* MSI vectors */
#define MSIV_DEVICE_FIXED  0x4u  /* the enabled range cannot grow in place
				    (VFIO NORESIZE): growing re-enables it */
#define MSIV_DEVICE_DIRECT 0x8u  /* direct delivery (MSIV_SETUP_DIRECT) */
#define MSIV_DEVICE_MSI_LATCH 0x10u /* MSI message latched at enable:
				       every vector enabled at attach */

struct msiv_device_rec {
	char name[MSIV_NAME_MAX];
	char backend[MSIV_NAME_MAX];
	uint32_t slots;
	uint32_t slots_used;
	uint32_t policy;   /* default enum msiv_policy */
	uint32_t flags;    /* MSIV_DEVICE_* */
};
_Static_assert(sizeof(struct msiv_device_rec) == 80, "device_rec");

/*
 * VFUNC_OPEN: policy holds the enum msiv_policy in its low byte and
 * MSIV_OPEN_* flags above it (a daemon that predates a flag refuses it
 * with EINVAL).
 *
 * MSIV_OPEN_LAZY: slots on first use. No slot is reserved at open; a
 * vector is bound to a free slot of the device when it is set up (VEC_SETUP,
 * or VEC_RETARGET attaching a target) and gives it back when it is freed
 * (VEC_FREE, VFUNC_RESET). When the device has no free slot, or the
 * tenant's quota of bound slots is used up, that setup fails with ENOSPC
 * (EDQUOT) and the vector stays undeliverable with its pending bit
 * latched; the setup that later succeeds replays one interrupt (rule 2).
 * A vector freed and set up again may get another slot.
 */
#define MSIV_OPEN_POLICY 0xffu  /* the policy's bits */
#define MSIV_OPEN_LAZY   0x100u /* slots on first use */
#define MSIV_OPEN_ALL    MSIV_OPEN_LAZY

/* No slot: first_slot of a lazy vfunc, slot of a vector it has not bound. */
#define MSIV_SLOT_NONE 0xffffffffu

struct msiv_vfunc_open_req {
	char device[MSIV_NAME_MAX];
	uint32_t nvec;
	uint32_t policy;   /* enum msiv_policy | MSIV_OPEN_* */
};
_Static_assert(sizeof(struct msiv_vfunc_open_req) == 40, "vfunc_open_req");

struct msiv_vfunc_open_rep {
	uint64_t vfunc;
	uint32_t first_slot; /* MSIV_SLOT_NONE with MSIV_OPEN_LAZY */
	uint32_t policy;   /* the policy in force (DEFAULT resolved), no flags */
};
_Static_assert(sizeof(struct msiv_vfunc_open_rep) == 16, "vfunc_open_rep");

/* VFUNC_CLOSE, VFUNC_RESET; VFUNC_ENABLE and VFUNC_FMASK use value. */
struct msiv_vfunc_req {
	uint64_t vfunc;
	uint32_t value;    /* ENABLE: 1 enable/0 disable; FMASK: 1 mask/0 unmask */
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_vfunc_req) == 16, "vfunc_req");

/* VEC_MASK, VEC_UNMASK, VEC_FREE, VEC_QUERY. */
struct msiv_vec_req {
	uint64_t vfunc;
	uint32_t vector;
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_vec_req) == 16, "vec_req");

#define MSIV_SETUP_UNMASKED 0x1u /* leave the vector unmasked after setup */
#define MSIV_SETUP_DIRECT   0x2u /* direct delivery: while the vector is
				    deliverable the device signals the target
				    itself; the daemon is off the path */
#define MSIV_SETUP_ALL      (MSIV_SETUP_UNMASKED | MSIV_SETUP_DIRECT)

struct msiv_vec_setup_req {
	uint64_t vfunc;
	uint32_t vector;
	uint32_t flags;    /* MSIV_SETUP_* */
	uint64_t addr;
	uint32_t data;
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_vec_setup_req) == 32, "vec_setup_req");

#define MSIV_RETARGET_TARGET 0x1u /* an eventfd is attached: the new target */
#define MSIV_RETARGET_MSG    0x2u /* addr/data hold the new message */
#define MSIV_RETARGET_ALL    (MSIV_RETARGET_TARGET | MSIV_RETARGET_MSG)

struct msiv_vec_retarget_req {
	uint64_t vfunc;
	uint32_t vector;
	uint32_t flags;    /* MSIV_RETARGET_*, at least one */
	uint64_t addr;
	uint32_t data;
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_vec_retarget_req) == 32, "vec_retarget_req");

#define MSIV_VEC_MASKED    0x01u /* the vector's own mask bit */
#define MSIV_VEC_PENDING   0x02u /* PBA bit */
#define MSIV_VEC_TARGET    0x04u /* a target eventfd is attached */
#define MSIV_VEC_FMASKED   0x08u /* the function is masked */
#define MSIV_VEC_ENABLED   0x10u /* the function is enabled */
#define MSIV_VEC_ORPHANED  0x20u /* set up before a restart, target not yet
				    re-attached */
#define MSIV_VEC_DIRECT    0x40u /* direct delivery mode */
#define MSIV_VEC_ROUTED    0x80u /* direct: the device signals the target
				    now (the daemon is off the path) */

struct msiv_vec_info {
	uint64_t prog_addr; /* programmed: what table reads return */
	uint64_t eff_addr;  /* effective: what the device would send */
	uint32_t prog_data;
	uint32_t eff_data;
	uint32_t state;     /* MSIV_VEC_* */
	uint32_t slot;      /* the device slot backing the vector, or
			       MSIV_SLOT_NONE (lazy vfunc, not bound) */
	uint64_t fired;     /* raw interrupts seen on the slot */
	uint64_t delivered; /* writes to the target */
	uint64_t coalesced; /* interrupts folded into a pending bit */
	uint64_t dropped;   /* interrupts while the function was disabled */
};
_Static_assert(sizeof(struct msiv_vec_info) == 64, "vec_info");

/* Records of VEC_LIST: the info of vector index. */
struct msiv_vec_rec {
	uint32_t vector;
	uint32_t nospace;  /* lazy vfunc: setups of the vector that found no
			      slot (ENOSPC, EDQUOT); 0 otherwise */
	struct msiv_vec_info info;
};
_Static_assert(sizeof(struct msiv_vec_rec) == 72, "vec_rec");

#define MSIV_VFUNC_ENABLED  0x1u
#define MSIV_VFUNC_FMASKED  0x2u
#define MSIV_VFUNC_ORPHANED 0x4u /* no session: released when grace ends */
#define MSIV_VFUNC_GONE     0x8u /* taken away (see gone): no vectors; calls
				    on it fail until the tenant closes it */
#define MSIV_VFUNC_LAZY     0x10u /* slots on first use (MSIV_OPEN_LAZY):
				     first_slot is MSIV_SLOT_NONE; VEC_LIST
				     tells each vector's slot */

struct msiv_vfunc_rec {
	uint64_t vfunc;
	uint64_t session;  /* owning session, 0 if none */
	char device[MSIV_NAME_MAX];
	char tenant[MSIV_NAME_MAX];
	uint32_t nvec;
	uint32_t first_slot;
	uint32_t policy;
	uint32_t flags;    /* MSIV_VFUNC_* */
	uint32_t grace_ms; /* orphaned: time left before release */
	uint32_t gone;     /* MSIV_GONE_REVOKED or MSIV_GONE_DEVICE, or 0 */
};
_Static_assert(sizeof(struct msiv_vfunc_rec) == 104, "vfunc_rec");

struct msiv_session_rec {
	uint64_t session;
	uint32_t pid;
	uint32_t uid;
	uint32_t gid;
	uint32_t rights;
	uint32_t vfuncs;
	uint32_t reserved;
	char tenant[MSIV_NAME_MAX];
};
_Static_assert(sizeof(struct msiv_session_rec) == 64, "session_rec");

/*
 * SHARD_LIST (paged, anyone): a record per delivery loop (msivd(8),
 * DELIVERY LOOPS): one io_uring shard each, or the epoll loop's one. The
 * figures are this msivd's since it started (STATUS's totals also hold
 * what an msivd before a restart counted, and the control thread's
 * replays); cpu_ns is the shard's thread's CPU time.
 */
struct msiv_shard_rec {
	uint64_t interrupts;  /* trigger wakeups the shard handled */
	uint64_t delivered;   /* target writes it issued */
	uint64_t dropped;     /* vfunc disabled or slot unallocated */
	uint64_t cpu_ns;
	uint32_t shard;       /* its number: thread msivd-deliverN */
	uint32_t slots;       /* triggers it watches */
};
_Static_assert(sizeof(struct msiv_shard_rec) == 40, "shard_rec");

/* TABLE_WRITE / TABLE_READ: offset into the MSI-X table (0) or the PBA
 * (MSIV_PBA_OFFSET); size 4 or 8, naturally aligned. */
struct msiv_table_req {
	uint64_t vfunc;
	uint32_t offset;
	uint32_t size;
	uint64_t value;    /* WRITE: the value; READ: 0 */
};
_Static_assert(sizeof(struct msiv_table_req) == 24, "table_req");

struct msiv_table_rep {
	uint64_t value;
};
_Static_assert(sizeof(struct msiv_table_rep) == 8, "table_rep");

/* SIM_TRIGGERS: the reply carries count fds (count <= MSIV_FDS_MAX). */
struct msiv_sim_req {
	char device[MSIV_NAME_MAX];
	uint32_t slot;
	uint32_t count;    /* TRIGGERS: fds wanted; FIRE: interrupts to raise */
};
_Static_assert(sizeof(struct msiv_sim_req) == 40, "sim_req");

/* DEVICE_ATTACH: as a [device NAME] section of msivd.conf; it is kept
 * in the state directory and attached again at start-up. */
struct msiv_attach_req {
	char name[MSIV_NAME_MAX];
	char backend[MSIV_NAME_MAX];  /* "sim" or "vfio" */
	char address[MSIV_NAME_MAX];  /* vfio: PCI address */
	uint32_t slots;    /* 0: the backend's default */
	uint32_t policy;   /* enum msiv_policy; DEFAULT: latch */
	uint32_t flags;    /* MSIV_ATTACH_* */
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_attach_req) == 112, "attach_req");
/* The device latches its MSI message when MSI is enabled (msivd.conf
 * msi_latch): see msivd.conf(5). */
#define MSIV_ATTACH_MSI_LATCH 0x1u
/*
 * The delivery shard that watches the device's slots (msivd.conf(5),
 * shard), in bits 16-31 of flags: 0 auto, MSIV_ATTACH_SHARD_SPREAD slot i
 * on shard i, MSIV_ATTACH_SHARD_FIXED + N (N at most
 * MSIV_ATTACH_SHARD_MAX) every slot on shard N, each modulo the shard
 * count. Added within version 1: a daemon that predates it refuses the
 * flags (EINVAL).
 */
#define MSIV_ATTACH_SHARD_SHIFT 16
#define MSIV_ATTACH_SHARD_MASK  0xffff0000u
#define MSIV_ATTACH_SHARD_SPREAD 1u
#define MSIV_ATTACH_SHARD_FIXED  2u
#define MSIV_ATTACH_SHARD_MAX    63u
#define MSIV_ATTACH_SHARD(v) ((uint32_t)(v) << MSIV_ATTACH_SHARD_SHIFT)

/* DEVICE_DETACH with MSIV_DETACH_FORCE: a device whose slots are in use
 * is detached too, its vfuncs revoked (VFUNC_GONE, reason
 * MSIV_GONE_DEVICE); without it such a detach fails with EBUSY. */
#define MSIV_DETACH_FORCE 0x1u

struct msiv_detach_req {
	char name[MSIV_NAME_MAX];
	uint32_t flags;    /* MSIV_DETACH_* */
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_detach_req) == 40, "detach_req");

/* IRQ_AFFINITY: the host IRQ behind a vector (vfunc != 0: the caller's
 * vfunc and vector) or a device's slot (vfunc 0: admin), its CPU affinity
 * set to cpus (all zero: only read it). The reply has the IRQ number and
 * the affinity the kernel reports in effect. */
#define MSIV_CPUS_WORDS 4  /* CPUs 0-255 */
struct msiv_affinity_req {
	uint64_t vfunc;
	uint32_t vector;
	uint32_t slot;
	char device[MSIV_NAME_MAX];
	uint64_t cpus[MSIV_CPUS_WORDS];
};
_Static_assert(sizeof(struct msiv_affinity_req) == 80, "affinity_req");

struct msiv_affinity_rep {
	uint32_t irq;
	uint32_t reserved;
	uint64_t cpus[MSIV_CPUS_WORDS];
};
_Static_assert(sizeof(struct msiv_affinity_rep) == 40, "affinity_rep");

/* REVOKE: take away one vfunc (vfunc != 0, tenant empty) or every vfunc
 * of a tenant (vfunc 0). Each is released at once and its session gets
 * VFUNC_GONE (reason MSIV_GONE_REVOKED); the tenant's later calls on it
 * fail with EKEYREVOKED until it closes it. The reply counts them. */
struct msiv_revoke_req {
	uint64_t vfunc;
	char tenant[MSIV_NAME_MAX];
	uint32_t flags;    /* 0 */
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_revoke_req) == 48, "revoke_req");

struct msiv_revoke_rep {
	uint32_t count;
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_revoke_rep) == 8, "revoke_rep");

/* HOTPLUG_STATUS: the kernel uevent listener (msivd.conf(5), [hotplug]). */
#define MSIV_HOTPLUG_LISTENING 0x1u /* the listener runs */

struct msiv_hotplug_rep {
	uint32_t flags;       /* MSIV_HOTPLUG_* */
	uint32_t rules;       /* auto-attach rules configured */
	uint64_t uevents;     /* messages from the kernel */
	uint64_t foreign;     /* messages not sent by the kernel: ignored */
	uint64_t rescans;     /* sysfs rescans (start-up and overruns) */
	uint64_t attached;    /* devices attached by a rule */
	uint64_t removed;     /* devices released because they went away */
};
_Static_assert(sizeof(struct msiv_hotplug_rep) == 48, "hotplug_rep");

/*
 * LOG_LEVEL: set the daemon's log level at run time (msivd(8), LOGGING),
 * or with MSIV_LOG_QUERY only read it. The levels are those of msivd's
 * --log-level; any other value is refused with EINVAL. The reply has the
 * level in force before the request and the one in force after it. Not
 * kept across a restart: msivd starts at its configured level.
 */
#define MSIV_LOG_ERROR   0u
#define MSIV_LOG_WARNING 1u
#define MSIV_LOG_INFO    2u
#define MSIV_LOG_DEBUG   3u
#define MSIV_LOG_QUERY   0xffffffffu /* change nothing */

struct msiv_log_level_req {
	uint32_t level;    /* MSIV_LOG_* */
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_log_level_req) == 8, "log_level_req");

struct msiv_log_level_rep {
	uint32_t previous; /* before the request */
	uint32_t level;    /* in force now */
};
_Static_assert(sizeof(struct msiv_log_level_rep) == 8, "log_level_rep");

/*
 * METRICS (admin): what msivctl metrics needs beyond STATUS and the
 * listings. Store group commits and their latency (the COMMIT statement,
 * fsync included), as a histogram: commit_hist[i] counts the commits that
 * took at most MSIV_METRICS_BOUNDS_US[i] microseconds and more than the
 * bound before; the commits slower than the last bound are commits less
 * the sum of the buckets.
 */
#define MSIV_METRICS_BUCKETS 12
#define MSIV_METRICS_BOUNDS_US { 100, 250, 500, 1000, 2500, 5000, 10000, \
	25000, 50000, 100000, 250000, 1000000 }

struct msiv_metrics_rep {
	uint64_t commits;        /* group commits done */
	uint64_t commit_fail;    /* commits (or turns) that failed */
	uint64_t commit_us_sum;  /* microseconds the commits took, in all */
	uint64_t commit_hist[MSIV_METRICS_BUCKETS];
};
_Static_assert(sizeof(struct msiv_metrics_rep) == 120, "metrics_rep");

/*
 * TENANT_RELEASE: release at once, as the end of orphan_grace would, every
 * vfunc of the tenant that no session holds (orphaned ones, revoked or
 * not): its vectors are freed, its slots go back to the device and the
 * store forgets it. A tenant left holding no vfunc no longer asks for its
 * token: the next HELLO naming it takes it over with a new token (its uid
 * binding stays). EBUSY (nothing released) while a session holds vfuncs
 * of the tenant; ENOENT if the tenant holds no vfunc. The reply counts
 * the vfuncs released.
 */
struct msiv_tenant_release_req {
	char tenant[MSIV_NAME_MAX];
	uint32_t flags;    /* 0 */
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_tenant_release_req) == 40,
    "tenant_release_req");

struct msiv_tenant_release_rep {
	uint32_t count;
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_tenant_release_rep) == 8,
    "tenant_release_rep");

/*
 * The payload an error reply (status < 0) may carry: why the daemon
 * refused, as one line of text for a person, NUL terminated and NUL
 * padded, the same words msivd logs. An error reply has len 0 (no reason:
 * an older daemon, or a failure with nothing to add to the errno) or
 * exactly sizeof(struct msiv_error_rep); a client ignores any other
 * length, and any payload it does not expect. The text names only what
 * the request named or what belongs to the session's own tenant, never
 * another client's data.
 */
#define MSIV_REASON_MAX 128u

struct msiv_error_rep {
	char reason[MSIV_REASON_MAX];
};
_Static_assert(sizeof(struct msiv_error_rep) == 128, "error_rep");

/*
 * RELOAD: msivd reads its configuration file again (msivd(8), RELOAD).
 * Status 0: the reply is what msivd logged, "reloaded FILE ...". Otherwise
 * nothing changed, and the error reply's reason (struct msiv_error_rep
 * below; the log has it whole) says why: "FILE:LINE: reason" for a file
 * that is not valid (-EINVAL), the settings that take a restart (-EBUSY),
 * or why the file cannot be read (another -errno).
 */
#define MSIV_TEXT_MAX 512u

struct msiv_reload_rep {
	char message[MSIV_TEXT_MAX]; /* NUL terminated */
};
_Static_assert(sizeof(struct msiv_reload_rep) == 512, "reload_rep");

/*
 * RESTART (admin): msivd hands everything it holds to a newly executed
 * msivd, which may be a newer one (msivd(8), RESTART AND UPGRADE): the
 * listening socket, the devices, every trigger and target, and the
 * sessions, this one included. The reply comes from the new process, on
 * the same connection, once it serves. A refusal (the new binary cannot
 * take the state over, or failed to start) comes from the old process,
 * which keeps serving; the reason says why.
 */
struct msiv_restart_rep {
	uint32_t pid;          /* the new msivd's */
	uint32_t blackout_us;  /* no trigger read: old loop parked -> new armed */
	uint32_t sessions;     /* handed over */
	uint32_t vfuncs;
	uint32_t fds;
	uint32_t format;       /* the state's format (MSIVD_HANDOVER_FORMAT) */
	char version_str[MSIV_NAME_MAX]; /* the new msivd's */
	char old_version[MSIV_NAME_MAX]; /* the one it took over from */
};
_Static_assert(sizeof(struct msiv_restart_rep) == 88, "restart_rep");

/* Event payloads. */
struct msiv_ev_msg {
	uint64_t vfunc;
	uint32_t vector;
	uint32_t data;
	uint64_t addr;
};
_Static_assert(sizeof(struct msiv_ev_msg) == 24, "ev_msg");

#define MSIV_GONE_CLOSED  1u /* closed by the daemon (shutdown) */
#define MSIV_GONE_REVOKED 2u
#define MSIV_GONE_DEVICE  3u /* the device went away */

struct msiv_ev_gone {
	uint64_t vfunc;
	uint32_t reason;   /* MSIV_GONE_* */
	uint32_t reserved;
};
_Static_assert(sizeof(struct msiv_ev_gone) == 16, "ev_gone");

#ifdef MSIV_PROTOCOL_CXX_ASSERT
#undef _Static_assert
#undef MSIV_PROTOCOL_CXX_ASSERT
#endif

#endif /* MSIV_PROTOCOL_H */
