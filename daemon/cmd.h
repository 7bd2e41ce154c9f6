/*
 * The commands layer (cmd-*.c, and hotplug.c's): the handlers, and the
 * dispatch table that names them (cmd.c).
 */
#ifndef MSIVD_CMD_H
#define MSIVD_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "dispatch.h"
#include "vfunc.h"

/* Who may call each opcode and its handler, indexed by opcode (cmd.c). */
extern const struct cmd_entry cmd_table[];

/* cmd-vfunc.c */
cmd_handler cmd_hello, cmd_vfunc_open, cmd_vfunc_close, cmd_vfunc_enable,
    cmd_vfunc_fmask, cmd_vfunc_reset;
/* cmd-vector.c. cmd_vec_lookup: the session's vfunc id and a vector of
 * it (-ENOENT, -EINVAL). cmd_vec_done: vfunc_vec_done(), then a new
 * effective message is announced to the owner (rule 10) once the lock is
 * released. */
int cmd_vec_lookup(struct cmd_ctx *ctx, uint64_t id, uint32_t vector,
    struct vfunc **vf);
void cmd_vec_done(struct vfunc *vf, uint32_t vector, unsigned int act);
cmd_handler cmd_vec_setup, cmd_vec_mask, cmd_vec_unmask, cmd_vec_retarget,
    cmd_vec_free, cmd_vec_query, cmd_table_write, cmd_table_read;
/* cmd-device.c */
cmd_handler cmd_revoke;
/*
 * Attach a device at run time (DEVICE_ATTACH, or hotplug): check its
 * definition, open it, keep it in the store (DEVICE_ATTACH_KEEP: attached
 * again at start-up) and restore the vfuncs stored for a device of that
 * name (DEVICE_ATTACH_RESTORE). by says who asked, for the log. Returns 0
 * or -errno: -EINVAL (bad definition), -EEXIST (name taken), -ENOSPC (too
 * many devices), or device_create's (logged). why (NULL: not wanted)
 * gets the reason for the first three, as logged.
 */
#define DEVICE_ATTACH_KEEP    0x1u
#define DEVICE_ATTACH_RESTORE 0x2u
int device_attach(struct conf_device *cd, unsigned int flags, const char *by,
    char *why, size_t whylen);
/* hotplug.c */
cmd_handler cmd_hotplug_status;
cmd_handler cmd_metrics;
cmd_handler cmd_restart;
/* cmd-admin.c */
cmd_handler cmd_status, cmd_device_list, cmd_vfunc_list, cmd_vec_list,
    cmd_session_list, cmd_shard_list, cmd_sim_triggers, cmd_sim_fire,
    cmd_shutdown, cmd_log_level,
    cmd_reload;
/* cmd-device.c */
cmd_handler cmd_device_attach, cmd_device_detach, cmd_irq_affinity,
    cmd_tenant_release;

#endif /* MSIVD_CMD_H */
