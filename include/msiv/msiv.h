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

/* Close the connection; the daemon releases the session's vfuncs. */
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
 * Listings fill up to max records into out and return how many there are
 * in all (which may exceed max). Sessions without admin rights see only
 * their own vfuncs and sessions.
 */
int msiv_status(struct msiv_conn *conn, struct msiv_status_rep *st);
int msiv_device_list(struct msiv_conn *conn, struct msiv_device_rec *out,
    size_t max);
int msiv_vfunc_list(struct msiv_conn *conn, struct msiv_vfunc_rec *out,
    size_t max);
int msiv_vector_list(struct msiv_conn *conn, uint64_t vfunc,
    struct msiv_vec_rec *out, size_t max);
int msiv_session_list(struct msiv_conn *conn, struct msiv_session_rec *out,
    size_t max);

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
 * RELOAD; since MSIV_0.3). msg (may be NULL; msglen up to
 * MSIV_TEXT_MAX is useful) gets the daemon's account: "reloaded FILE",
 * or why nothing changed ("FILE:LINE: reason"); empty if the daemon gave
 * none. Errors: -EINVAL the file is not valid, -EBUSY it changes a
 * setting that takes a restart, another -errno the daemon cannot read
 * it; in each case the daemon's configuration is unchanged. -EPERM not
 * an admin; -ENOSYS an older daemon.
 */
int msiv_reload(struct msiv_conn *conn, char *msg, size_t msglen);

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

/* The kernel uevent listener's state and figures (hotplug). */
int msiv_hotplug_status(struct msiv_conn *conn, struct msiv_hotplug_rep *st);

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

#ifdef __cplusplus
}
#endif

#endif /* MSIV_MSIV_H */
