/*
 * libmsiv: the client library of the msiv interrupt vector broker.
 *
 * Conventions for every call below:
 *  - A call returns 0 (or a count) on success and a negative errno on
 *    failure; errno itself is left alone. The library never logs.
 *  - Calls are synchronous: each sends one request and waits for its reply.
 *    A connection is not thread safe; use one per thread or lock around it.
 *  - Errors every call may return besides those it lists:
 *      -ENOTCONN  the daemon closed the connection (it stopped, or dropped
 *                 this session for a protocol violation);
 *      -EPROTO    the daemon's reply was malformed;
 *      -ETIMEDOUT no reply within the connection's timeout;
 *      -EPERM     the call needs admin rights this session lacks;
 *      -ENOENT    the vfunc handle is unknown to this session;
 *      -EINVAL    an argument is out of range.
 *  - File descriptors passed in (targets) are duplicated by the daemon;
 *    the caller keeps its own. The daemon puts target eventfds in
 *    non-blocking mode (it must never block on a client's eventfd).
 *  - The library keeps a duplicate of every target fd it passed to the
 *    daemon (until the vector is freed or its vfunc closed), so that it can
 *    re-attach them after a reconnect: see msiv_reconnect().
 *  - Events (effective-message changes, vfuncs taken away) arrive on the
 *    connection's socket. They are queued while a call waits for its reply
 *    and handed to the event callback by msiv_dispatch(); poll msiv_fd()
 *    for POLLIN and call msiv_dispatch(), and call it also when
 *    msiv_events_pending() says events were queued during a call.
 *
 *  - <msiv/protocol.h> (included for its constants: MSIV_TOKEN_LEN,
 *    MSIV_POLICY_*, MSIV_VEC_* ...) also defines the wire's structs. They
 *    are not this API: they follow the protocol, and no call of symbol
 *    version MSIV_0.3 or later takes one. Listings fill the library's own
 *    structs (struct msiv_status_info ...), which are extensible: each
 *    such call takes the size of the caller's struct (sizeof); a later
 *    libmsiv only appends fields, fills no more than size bytes, and zeros
 *    what it does not know of a larger struct. A size below the struct's
 *    size in the symbol version that brought it (MSIV_0.3, or the one its
 *    call names), or above 1 MiB, is -EINVAL.
 *  - The calls that took wire structs (msiv_status(), msiv_device_list()
 *    ...) stay, deprecated: define MSIV_NO_DEPRECATION_WARNINGS before
 *    including this header to silence the compiler about them.
 *
 * See libmsiv(3).
 */
#ifndef MSIV_MSIV_H
#define MSIV_MSIV_H

#include <stddef.h>
#include <stdint.h>

#include <msiv/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MSIV_DEFAULT_SOCKET "/run/msiv/msivd.sock"

#if defined(__GNUC__) && !defined(MSIV_NO_DEPRECATION_WARNINGS)
#define MSIV_DEPRECATED(use) __attribute__((deprecated("use " use)))
#else
#define MSIV_DEPRECATED(use)
#endif

struct msiv_conn;

/* One event, valid only during the callback. */
struct msiv_event_info {
	enum msiv_event type;
	uint64_t vfunc;
	uint32_t vector;  /* MSG_CHANGED */
	uint32_t data;    /* MSG_CHANGED: the new effective message */
	uint64_t addr;
	uint32_t reason;  /* VFUNC_GONE: MSIV_GONE_* */
	uint32_t count;   /* RESUMED: targets re-attached */
};

typedef void msiv_event_cb(struct msiv_conn *conn,
    const struct msiv_event_info *ev, void *arg);

/*
 * Connect to the daemon at path (NULL: $MSIV_SOCKET, else
 * MSIV_DEFAULT_SOCKET) acting for tenant (NULL or "": named by the daemon
 * from the caller's uid). On success *out is the new connection.
 * Errors: -ENOENT / -ECONNREFUSED (no daemon at path), -EACCES (socket
 * permissions, or msivd's [tenant] policy does not admit the caller as
 * this tenant, or as any), -EPROTONOSUPPORT (no common protocol version),
 * -EPERM (the daemon refused this peer), -ENAMETOOLONG (path or tenant
 * too long), -ENOMEM. A connection msivd refuses at accept (too many
 * sessions, of the caller's uid too) ends without a reply: -ECONNRESET
 * or -EPIPE.
 */
int msiv_connect(const char *path, const char *tenant, struct msiv_conn **out);

/*
 * The same, presenting the tenant's resume token (from msiv_token() of an
 * earlier connection, e.g. before a daemon restart): the session takes
 * over the tenant's orphaned vfuncs (msiv_resumed() says how many); their
 * targets must be attached again (msiv_vector_retarget). A tenant that
 * holds vfuncs cannot be used without its token: -EACCES.
 */
int msiv_connect_token(const char *path, const char *tenant,
    const uint8_t token[MSIV_TOKEN_LEN], struct msiv_conn **out);
/* The tenant's resume token; keep it secret. */
void msiv_token(const struct msiv_conn *conn, uint8_t token[MSIV_TOKEN_LEN]);

/*
 * Keep a resume token in a file (MSIV_0.3), so that the next run of the
 * VMM, or one after a crash, can take its tenant over: 32 hex digits and a
 * newline, the format msiv-vfu's --token-file has. msiv_token_save()
 * writes a new file of mode 0600 in path's directory, syncs it and renames
 * it over path: path holds the old token or the new one, never a part.
 * Errors: -EPERM (path's directory is writable by others than its owner
 * and not sticky, or owned by neither the caller nor root: someone else
 * could swap the file), -ENAMETOOLONG, and those of open(2), write(2),
 * fsync(2) and rename(2) (-EACCES, -ENOENT for a missing directory,
 * -EROFS, -ENOSPC, -EIO ...).
 * msiv_token_load() reads one back. Errors: -ENOENT (no file: a first
 * run; connect with a NULL token), -EBADMSG (not a token file: wrong size
 * or not hex digits), -EPERM (the file is not a regular file of the
 * caller's, or others may read or write it: the token may have leaked;
 * make a new tenant), and those of open(2) and read(2).
 */
int msiv_token_save(const char *path, const uint8_t token[MSIV_TOKEN_LEN]);
int msiv_token_load(const char *path, uint8_t token[MSIV_TOKEN_LEN]);
/* Orphaned vfuncs the session took over when it connected. */
unsigned int msiv_resumed(const struct msiv_conn *conn);

/*
 * Re-establish a lost connection (the daemon restarted): connect again
 * with the same socket, tenant and token, re-attach every target this
 * connection had attached (the library kept duplicates), and queue an
 * MSIV_EV_RESUMED event. A vfunc the daemon no longer has (released after
 * its grace period) is reported with an MSIV_EV_VFUNC_GONE event.
 * Errors: as msiv_connect().
 */
int msiv_reconnect(struct msiv_conn *conn);
/*
 * Reconnect automatically: a call that finds the connection lost retries
 * msiv_reconnect() for up to ms milliseconds (0: off, the default) and
 * then repeats itself once. msiv_vfunc_open() is not repeated (the lost
 * request may have opened it): it returns -ECONNRESET, and
 * msiv_vfunc_list() tells.
 */
void msiv_set_auto_reconnect(struct msiv_conn *conn, unsigned int ms);

/* Close the connection. The session's vfuncs stay with its tenant,
 * orphaned, for msivd.conf's orphan_grace (0: released at once): a
 * later session of the tenant may take them over with its resume token.
 * Close them first (msiv_vfunc_close) to release them now. */
void msiv_close(struct msiv_conn *conn);

/* Reply timeout for every call (default 10000 ms; 0 waits forever). */
void msiv_set_timeout(struct msiv_conn *conn, unsigned int ms);

/* Session facts from the HELLO exchange. */
uint64_t msiv_session_id(const struct msiv_conn *conn);
int msiv_is_admin(const struct msiv_conn *conn);
const char *msiv_tenant(const struct msiv_conn *conn);

/* --- events --------------------------------------------------------------*/

void msiv_set_event_cb(struct msiv_conn *conn, msiv_event_cb *cb, void *arg);
/* The socket: poll it for POLLIN, then call msiv_dispatch(). */
int msiv_fd(const struct msiv_conn *conn);
/* Number of events queued and not yet dispatched. */
size_t msiv_events_pending(const struct msiv_conn *conn);
/* Hand queued events, then any waiting on the socket, to the callback,
 * without blocking. Returns the number dispatched. The callback may not
 * call libmsiv functions on the same connection. Errors: -ENOTCONN. */
int msiv_dispatch(struct msiv_conn *conn);

/* --- virtual functions ---------------------------------------------------*/

/*
 * Open a vfunc of nvec vectors on device, with the message-update policy
 * (MSIV_POLICY_DEFAULT: the device's). Every vector starts masked and
 * free, the function disabled and not masked (the MSI-X reset state).
 * Errors: -ENODEV (no such device), -EINVAL (nvec 0 or above
 * MSIV_VECTORS_MAX, bad policy), -ENOSPC (not enough free slots on the
 * device: the vfunc reserves all nvec), -EDQUOT (the session's vfunc limit, or the tenant's quota of
 * vfuncs or vectors on the device), -EACCES (the tenant may not use the
 * device).
 */
int msiv_vfunc_open(struct msiv_conn *conn, const char *device,
    unsigned int nvec, enum msiv_policy policy, uint64_t *vfunc);
/*
 * The same with flags (MSIV_0.2): MSIV_OPEN_LAZY opens it with slots on
 * first use (msiv-protocol(7)): no slot is reserved now; each vector takes
 * one when it is set up (msiv_vector_setup(), or msiv_vector_retarget()
 * attaching a target) and gives it back when it is freed
 * (msiv_vector_free(), msiv_vfunc_reset()). There, -ENOSPC (the device has
 * no free slot) and -EDQUOT (the tenant's quota of vectors, which counts
 * bound slots) leave the vector undeliverable with its pending bit set;
 * the setup that later succeeds replays one interrupt. msiv_vector_query()
 * reports its slot, or MSIV_SLOT_NONE while it has none. Errors as
 * msiv_vfunc_open(), and -EINVAL for a flag not in MSIV_OPEN_ALL (also
 * what a daemon too old to know the flag answers).
 */
int msiv_vfunc_open_flags(struct msiv_conn *conn, const char *device,
    unsigned int nvec, enum msiv_policy policy, unsigned int flags,
    uint64_t *vfunc);
/* Release the vfunc: nothing is delivered once this returns. */
int msiv_vfunc_close(struct msiv_conn *conn, uint64_t vfunc);
/* MSI-X Enable (rule 1: a disabled function drops interrupts; enabling
 * replays pending bits of deliverable vectors, rule 2). */
int msiv_vfunc_enable(struct msiv_conn *conn, uint64_t vfunc, int enable);
/* MSI-X Function Mask (rule 7). */
int msiv_vfunc_mask(struct msiv_conn *conn, uint64_t vfunc, int mask);
/* Function reset: every vector freed (rule 8), function disabled and
 * unmasked. */
int msiv_vfunc_reset(struct msiv_conn *conn, uint64_t vfunc);

/* --- vectors -------------------------------------------------------------*/

/*
 * Set up vector with a message and a target eventfd. The vector must have
 * no target (-EBUSY otherwise: use msiv_vector_retarget). It stays masked
 * unless flags has MSIV_SETUP_UNMASKED. With MSIV_SETUP_DIRECT the device
 * signals the target itself while the vector is deliverable (the daemon is
 * off the path; a KVM irqfd on it can use irqbypass); masking routes it
 * back to the daemon, where interrupts become pending, before MASK returns.
 * Errors: -EBADF (target is not an open fd), -EINVAL (target is not an
 * eventfd, unknown flags), -EBUSY, -EOPNOTSUPP (the device cannot do
 * direct delivery); on a vfunc opened with MSIV_OPEN_LAZY, -ENOSPC (no
 * free slot) or -EDQUOT (quota), the vector's pending bit then set.
 */
int msiv_vector_setup(struct msiv_conn *conn, uint64_t vfunc,
    unsigned int vector, uint64_t addr, uint32_t data, int target,
    unsigned int flags);
/* Once MASK returns, nothing more is delivered to the vector's target
 * until it is unmasked (rule 4); interrupts meanwhile set its pending bit. */
int msiv_vector_mask(struct msiv_conn *conn, uint64_t vfunc,
    unsigned int vector);
/* Unmask: latches the programmed message (latch policy) and replays a
 * pending interrupt once (rule 2). */
int msiv_vector_unmask(struct msiv_conn *conn, uint64_t vfunc,
    unsigned int vector);
/*
 * Atomically move the vector to a new target (target >= 0 with
 * MSIV_RETARGET_TARGET) and/or message (MSIV_RETARGET_MSG), as mask →
 * update → restore mask with pending replay (rule 6): once this returns,
 * nothing reaches the old target. Errors: -EINVAL (no flag, target not an
 * eventfd), -EBADF.
 */
int msiv_vector_retarget(struct msiv_conn *conn, uint64_t vfunc,
    unsigned int vector, unsigned int flags, uint64_t addr, uint32_t data,
    int target);
/* Free: masked, pending cleared, target detached (rule 8). */
int msiv_vector_free(struct msiv_conn *conn, uint64_t vfunc,
    unsigned int vector);

struct msiv_vector_info {
	uint64_t prog_addr, eff_addr;
	uint32_t prog_data, eff_data;
	unsigned int masked : 1, pending : 1, target : 1, fmasked : 1,
	    enabled : 1,
	    orphaned : 1, /* set up before a restart, target not re-attached */
	    direct : 1,   /* direct delivery mode (MSIV_SETUP_DIRECT) */
	    routed : 1;   /* direct: the device signals the target now */
	uint32_t slot;
	uint64_t fired, delivered, coalesced, dropped;
};
int msiv_vector_query(struct msiv_conn *conn, uint64_t vfunc,
    unsigned int vector, struct msiv_vector_info *info);

/*
 * Raw MSI-X table emulation: forward a guest access at offset in the table
 * (0 .. 16*nvec) or the PBA (MSIV_PBA_OFFSET ..). size is 4 or 8 and the
 * access naturally aligned. Writes to the PBA are ignored (it is read
 * only). Errors: -EINVAL (bad size, alignment or offset), -EBUSY (strict
 * policy: address/data written while the vector is unmasked).
 */
int msiv_table_write(struct msiv_conn *conn, uint64_t vfunc, uint32_t offset,
    unsigned int size, uint64_t value);
int msiv_table_read(struct msiv_conn *conn, uint64_t vfunc, uint32_t offset,
    unsigned int size, uint64_t *value);

/* --- listings and administration -----------------------------------------*/

/*
 * The daemon's summary (MSIV_0.3). size: sizeof(*st) (see the top of this
 * header for the rule). Strings are NUL terminated.
 */
struct msiv_status_info {
	uint32_t version;      /* protocol version the daemon speaks */
	uint32_t pid;
	uint64_t uptime_ms;
	uint32_t devices;
	uint32_t sessions;
	uint32_t vfuncs;
	uint32_t vectors;      /* vectors of all vfuncs */
	uint64_t interrupts;   /* trigger wakeups seen by the delivery loop */
	uint64_t delivered;
	uint64_t dropped;      /* vfunc disabled or slot unallocated */
	char loop[MSIV_NAME_MAX + 1];        /* delivery loop, e.g. "epoll" */
	char version_str[MSIV_NAME_MAX + 1]; /* msivd's release */
};
int msiv_get_status(struct msiv_conn *conn, struct msiv_status_info *st,
    size_t size);

/* The kernel uevent listener's state and figures (MSIV_0.3); any session.
 * Errors: -ENOSYS from a daemon that predates hotplug. */
struct msiv_hotplug_info {
	uint32_t flags;        /* MSIV_HOTPLUG_LISTENING */
	uint32_t rules;        /* auto-attach rules configured */
	uint64_t uevents;      /* messages from the kernel */
	uint64_t foreign;      /* messages not sent by the kernel: ignored */
	uint64_t rescans;      /* sysfs rescans (start-up and overruns) */
	uint64_t attached;     /* devices attached by a rule */
	uint64_t removed;      /* devices released because they went away */
};
int msiv_get_hotplug(struct msiv_conn *conn, struct msiv_hotplug_info *st,
    size_t size);

/*
 * Listings (MSIV_0.3) fill up to max records into out, an array of
 * records of size bytes each (sizeof(*out)), and return how many there
 * are in all (which may exceed max; out may be NULL when max is 0).
 * Sessions without admin rights see only their own vfuncs and sessions.
 * Strings are NUL terminated.
 */
struct msiv_device_info {
	char name[MSIV_NAME_MAX + 1];
	char backend[MSIV_NAME_MAX + 1]; /* "sim", "vfio" */
	uint32_t slots;
	uint32_t slots_used;
	uint32_t policy;       /* the default enum msiv_policy */
	uint32_t flags;        /* MSIV_DEVICE_* */
};
int msiv_list_devices(struct msiv_conn *conn, struct msiv_device_info *out,
    size_t max, size_t size);

struct msiv_vfunc_info {
	uint64_t vfunc;
	uint64_t session;      /* owning session, 0 if none */
	char device[MSIV_NAME_MAX + 1];
	char tenant[MSIV_NAME_MAX + 1];
	uint32_t nvec;
	uint32_t first_slot;   /* MSIV_SLOT_NONE: lazy (MSIV_VFUNC_LAZY) */
	uint32_t policy;       /* enum msiv_policy in force */
	uint32_t flags;        /* MSIV_VFUNC_* */
	uint32_t grace_ms;     /* orphaned: time left before release */
	uint32_t gone;         /* MSIV_GONE_REVOKED, MSIV_GONE_DEVICE or 0 */
};
int msiv_list_vfuncs(struct msiv_conn *conn, struct msiv_vfunc_info *out,
    size_t max, size_t size);

/* One vector of a vfunc: what msiv_vector_query() tells, and more. */
struct msiv_vector_state {
	uint32_t vector;
	uint32_t state;        /* MSIV_VEC_* */
	uint64_t prog_addr;    /* programmed: what table reads return */
	uint64_t eff_addr;     /* effective: what the device would send */
	uint32_t prog_data;
	uint32_t eff_data;
	uint32_t slot;         /* device slot, or MSIV_SLOT_NONE (lazy) */
	uint32_t nospace;      /* lazy vfunc: setups that found no slot */
	uint64_t fired;        /* raw interrupts seen on the slot */
	uint64_t delivered;    /* writes to the target */
	uint64_t coalesced;    /* interrupts folded into a pending bit */
	uint64_t dropped;      /* interrupts while the function was disabled */
};
int msiv_list_vectors(struct msiv_conn *conn, uint64_t vfunc,
    struct msiv_vector_state *out, size_t max, size_t size);

struct msiv_session_info {
	uint64_t session;
	uint32_t pid;
	uint32_t uid;
	uint32_t gid;
	uint32_t rights;       /* MSIV_RIGHT_* */
	uint32_t vfuncs;
	char tenant[MSIV_NAME_MAX + 1];
};
int msiv_list_sessions(struct msiv_conn *conn, struct msiv_session_info *out,
    size_t max, size_t size);

/* MSIV_0.1, on the wire's structs; deprecated for the calls above. Their
 * strings are NUL terminated (the last byte cut if need be). */
int msiv_status(struct msiv_conn *conn, struct msiv_status_rep *st)
    MSIV_DEPRECATED("msiv_get_status()");
int msiv_device_list(struct msiv_conn *conn, struct msiv_device_rec *out,
    size_t max) MSIV_DEPRECATED("msiv_list_devices()");
int msiv_vfunc_list(struct msiv_conn *conn, struct msiv_vfunc_rec *out,
    size_t max) MSIV_DEPRECATED("msiv_list_vfuncs()");
int msiv_vector_list(struct msiv_conn *conn, uint64_t vfunc,
    struct msiv_vec_rec *out, size_t max)
    MSIV_DEPRECATED("msiv_list_vectors()");
int msiv_session_list(struct msiv_conn *conn, struct msiv_session_rec *out,
    size_t max) MSIV_DEPRECATED("msiv_list_sessions()");
int msiv_hotplug_status(struct msiv_conn *conn, struct msiv_hotplug_rep *st)
    MSIV_DEPRECATED("msiv_get_hotplug()");

/* Admin, sim devices only: raise count interrupts on slot.
 * Errors: -ENODEV, -EOPNOTSUPP (not a sim device), -EINVAL. */
int msiv_sim_fire(struct msiv_conn *conn, const char *device,
    unsigned int slot, unsigned int count);
/* Admin, sim devices only: dup the trigger eventfds of slots
 * [slot, slot + count) into fds[] (count <= MSIV_FDS_MAX); writing 1 to
 * one of them fires that slot from any process. */
int msiv_sim_triggers(struct msiv_conn *conn, const char *device,
    unsigned int slot, unsigned int count, int *fds);
/* Admin: stop the daemon (it replies first). */
int msiv_shutdown(struct msiv_conn *conn);
/*
 * Admin: have the daemon read its configuration file again (msivd(8),
 * RELOAD; since MSIV_0.3). msg (may be NULL; cut to msglen, up to
 * MSIV_TEXT_MAX is useful) gets the daemon's account, "reloaded FILE",
 * or why nothing changed ("FILE:LINE: reason", the refusal's reason as
 * msiv_last_reason() has it: at most MSIV_REASON_MAX - 1 characters, the
 * daemon's log has it whole); empty if the daemon gave none. Errors: -EINVAL the file is not valid, -EBUSY it changes a
 * setting that takes a restart, another -errno the daemon cannot read
 * it; in each case the daemon's configuration is unchanged. -EPERM not
 * an admin; -ENOSYS an older daemon.
 */
int msiv_reload(struct msiv_conn *conn, char *msg, size_t msglen);

/*
 * Admin: set the daemon's log level (MSIV_LOG_ERROR, MSIV_LOG_WARNING,
 * MSIV_LOG_INFO or MSIV_LOG_DEBUG) until it restarts, or with
 * MSIV_LOG_QUERY only read it. Returns the level in force before the call
 * (>= 0). Errors: -EINVAL (no such level), -EPERM (not an admin),
 * -ENOSYS (a daemon older than this call). Since MSIV_0.3.
 */
int msiv_log_level(struct msiv_conn *conn, unsigned int level);

/*
 * Admin: attach a device at run time, as a [device NAME] section of
 * msivd.conf would (backend "vfio" with address a PCI address, slots 0
 * for all its vectors; or "sim" with slots). msivd keeps it in its state
 * directory and attaches it again when it restarts; vfuncs it kept for a
 * device of that name are restored. flags: MSIV_ATTACH_MSI_LATCH (see
 * msivd.conf(5), msi_latch) or 0. Errors: -EEXIST (the name is taken),
 * -EINVAL (bad definition), -ENODEV (no such PCI device, or not bound to
 * vfio-pci), -EBUSY (its IOMMU group is not viable), -ENOSPC (too many
 * devices); msivd's log says which and how to fix it.
 */
int msiv_device_attach(struct msiv_conn *conn, const char *name,
    const char *backend, const char *address, unsigned int slots,
    enum msiv_policy policy, unsigned int flags);
/* Admin: detach a device. One whose slots are in use is refused with
 * -EBUSY unless flags has MSIV_DETACH_FORCE: then its vfuncs are revoked
 * (their sessions get MSIV_EV_VFUNC_GONE, reason MSIV_GONE_DEVICE). */
int msiv_device_detach(struct msiv_conn *conn, const char *name,
    unsigned int flags);

/*
 * Admin: take vfuncs away, either one (vfunc, tenant NULL) or every vfunc
 * of a tenant (tenant, vfunc 0). They are released at once; their
 * sessions get MSIV_EV_VFUNC_GONE (reason MSIV_GONE_REVOKED) and the
 * tenant's later calls on them fail with -EKEYREVOKED until it closes
 * them. *count (may be NULL) gets how many were revoked. -ENOENT: no such
 * vfunc, or the tenant holds none.
 */
int msiv_revoke(struct msiv_conn *conn, const char *tenant, uint64_t vfunc,
    unsigned int *count);

/*
 * The host IRQ behind a vector of one of the caller's vfuncs (vector
 * affinity) or, admin, behind a device's slot: when cpus is not NULL its
 * CPU affinity is set first (cpus: MSIV_CPUS_WORDS words, bit n = CPU n;
 * kept while the vector's slot stays allocated, re-applied when the
 * device's vectors are re-enabled). *irq gets the IRQ number and
 * effective (MSIV_CPUS_WORDS words, may be NULL) the CPUs the kernel
 * reports in effect. Errors: -EOPNOTSUPP (the device has no host IRQs:
 * sim), -ENXIO (the slot is not in use, so it has no IRQ), -EINVAL (no
 * online CPU in cpus), -EACCES (msivd may not write /proc/irq), -EPERM.
 */
int msiv_vector_affinity(struct msiv_conn *conn, uint64_t vfunc,
    unsigned int vector, const uint64_t *cpus, unsigned int *irq,
    uint64_t *effective);
int msiv_slot_affinity(struct msiv_conn *conn, const char *device,
    unsigned int slot, const uint64_t *cpus, unsigned int *irq,
    uint64_t *effective);

/* A short, stable description of a status returned by the calls above. */
const char *msiv_strerror(int status);

/*
 * Admin (MSIV_0.3): the store's group commits and their latency, for
 * msivctl metrics (msiv-protocol(7), METRICS). size: sizeof(*m) (see the
 * top of this header for the rule). commit_hist[i] counts the commits
 * that took at most MSIV_METRICS_BOUNDS_US[i] microseconds and more than
 * the bound before; those slower than the last bound are commits less
 * the buckets' sum. Errors: -EPERM (not an admin), -ENOSYS (a daemon that
 * predates the call), -EINVAL (size).
 */
struct msiv_metrics_info {
	uint64_t commits;          /* group commits done */
	uint64_t commit_failures;  /* commits (or turns) that failed */
	uint64_t commit_us_sum;    /* microseconds they took, in all */
	uint64_t commit_hist[MSIV_METRICS_BUCKETS];
};
int msiv_metrics(struct msiv_conn *conn, struct msiv_metrics_info *m,
    size_t size);

/*
 * Why the daemon refused the last request sent on conn: one line of text
 * for a person (at most MSIV_REASON_MAX - 1 printable ASCII characters),
 * in the words msivd logs. The empty string (never NULL) when the daemon
 * gave no reason: the request succeeded, the failure is one without
 * more to say than its errno, or msivd predates reasons (msiv 0.1's
 * daemon). Every request sent on conn clears it, and a call that fails in
 * the library before sending anything (an argument it checks itself)
 * leaves it as it was: read it right after the call that failed. The
 * string stays valid until the next call on conn or msiv_close().
 * With conn NULL: the reason the last msiv_connect() or
 * msiv_connect_token() that failed in the calling thread was given (the
 * HELLO refused: a [tenant] section that does not admit the caller, a
 * tenant that needs its token), valid until the thread's next connect.
 * The text names only what the request named and what belongs to the
 * caller's own tenant.
 */
const char *msiv_last_reason(const struct msiv_conn *conn);

/*
 * Admin: release at once every vfunc of tenant that no session holds
 * (orphaned ones, revoked or not), as the end of msivd's orphan_grace
 * would: their vectors are freed, their slots go back to the device and
 * the daemon forgets them. A tenant left holding no vfunc no longer
 * asks for its resume token: the next connection naming it takes it over
 * with a new token (the uid the tenant is bound to stays). *count (may be
 * NULL) gets how many vfuncs were released. -ENOENT: the tenant holds no
 * vfunc; -EBUSY: a session holds vfuncs of the tenant (nothing released:
 * revoke them, or end that session, first); -ENOSYS: msivd predates the
 * call.
 */
int msiv_tenant_release(struct msiv_conn *conn, const char *tenant,
    unsigned int *count);

/*
 * Admin (MSIV_0.4): have msivd hand everything it holds over to a newly
 * executed msivd, which may be a newer release (msivd(8), RESTART AND
 * UPGRADE): the devices, never reset, every trigger and target, and the
 * sessions, this connection included, which stays open and usable. The
 * reply comes from the new process once it serves; info gets its
 * account. size: sizeof(*info) (see the top of this header for the
 * rule; the least is the struct's size in MSIV_0.4). Strings are NUL
 * terminated.
 * The call waits for the reply at least MSIV_RESTART_WAIT_MS (the new
 * msivd has to start), longer if msiv_set_timeout() says so, or forever
 * with a timeout of 0. It is never repeated by msiv_set_auto_reconnect().
 * Errors: -EPERM (not an admin), -ENOSYS (an msivd older than the call),
 * -EINVAL (size); any other -errno is a refusal (the new msivd could not
 * be started, or cannot take the state over), msiv_last_reason() says
 * why, and the msivd that refused keeps serving as before. After
 * -ETIMEDOUT, -ENOTCONN or -ECONNRESET (the connection lost during the
 * call) msivd may or may not have restarted: msiv_get_status() (on a new
 * connection after the last two) tells by its pid and version.
 */
#define MSIV_RESTART_WAIT_MS 90000u
struct msiv_restart_info {
	uint32_t pid;          /* the new msivd's */
	uint32_t blackout_us;  /* no trigger was read for this long: from the
	                        * old msivd's last read to the new one's
	                        * arming (interrupts meanwhile wait in the
	                        * triggers, none is lost) */
	uint32_t sessions;     /* handed over, this one included */
	uint32_t vfuncs;       /* handed over */
	uint32_t fds;          /* descriptors handed over */
	uint32_t format;       /* of the state handed over */
	char version[MSIV_NAME_MAX + 1];     /* the new msivd's release */
	char old_version[MSIV_NAME_MAX + 1]; /* the release it took over from */
};
int msiv_restart(struct msiv_conn *conn, struct msiv_restart_info *info,
    size_t size);

/*
 * The delivery loops (MSIV_0.5): one record per io_uring shard, or the
 * epoll loop's one (msivd(8), DELIVERY LOOPS), listed like the calls
 * above (size: sizeof(*out); MSIV_0.3's rule). Their figures are the
 * msivd's since it started; msiv_get_status() has the totals. Errors:
 * -ENOSYS (an msivd older than the call), -EINVAL (size).
 */
struct msiv_shard_info {
	uint32_t shard;        /* its number: thread msivd-deliverN */
	uint32_t slots;        /* triggers it watches */
	uint64_t interrupts;   /* trigger wakeups it handled */
	uint64_t delivered;    /* target writes it issued */
	uint64_t dropped;      /* vfunc disabled or slot unallocated */
	uint64_t cpu_ns;       /* its thread's CPU time */
};
int msiv_list_shards(struct msiv_conn *conn, struct msiv_shard_info *out,
    size_t max, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* MSIV_MSIV_H */
