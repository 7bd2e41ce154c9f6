/*
 * The dispatch table (msiv-protocol(7), OPCODES): who may call each
 * opcode, and its handler in the commands layer (cmd-*.c, hotplug.c).
 * What an opcode carries on the wire (payload lengths, fds, layouts) is
 * the wire table shared with libmsiv (lib/proto.c), which the server's
 * checker (dispatch.c) applies first; main() hands this table to the
 * server once, at start-up (server_init), which names no handler itself.
 * Sized by its entries: an opcode appended to enum msiv_op without its
 * entry here does not build, and msivd does not start if one between is
 * left out or says no permission (dispatch_init).
 */
#include "config.h"

#include "cmd.h"

const struct cmd_entry cmd_table[] = {
	[MSIV_OP_HELLO] = { .perm = CMD_PERM_ANY, .fn = cmd_hello },
	[MSIV_OP_STATUS] = { .perm = CMD_PERM_ANY, .fn = cmd_status },
	[MSIV_OP_DEVICE_LIST] = { .perm = CMD_PERM_ANY, .fn = cmd_device_list },
	[MSIV_OP_VFUNC_OPEN] = { .perm = CMD_PERM_ANY, .fn = cmd_vfunc_open },
	[MSIV_OP_VFUNC_CLOSE] = { .perm = CMD_PERM_ANY, .fn = cmd_vfunc_close },
	[MSIV_OP_VFUNC_ENABLE] = { .perm = CMD_PERM_ANY,
	    .fn = cmd_vfunc_enable },
	[MSIV_OP_VFUNC_FMASK] = { .perm = CMD_PERM_ANY, .fn = cmd_vfunc_fmask },
	[MSIV_OP_VFUNC_RESET] = { .perm = CMD_PERM_ANY, .fn = cmd_vfunc_reset },
	[MSIV_OP_VEC_SETUP] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_setup },
	[MSIV_OP_VEC_MASK] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_mask },
	[MSIV_OP_VEC_UNMASK] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_unmask },
	[MSIV_OP_VEC_RETARGET] = { .perm = CMD_PERM_ANY,
	    .fn = cmd_vec_retarget },
	[MSIV_OP_VEC_FREE] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_free },
	[MSIV_OP_VEC_QUERY] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_query },
	[MSIV_OP_TABLE_WRITE] = { .perm = CMD_PERM_ANY, .fn = cmd_table_write },
	[MSIV_OP_TABLE_READ] = { .perm = CMD_PERM_ANY, .fn = cmd_table_read },
	[MSIV_OP_VFUNC_LIST] = { .perm = CMD_PERM_ANY, .fn = cmd_vfunc_list },
	[MSIV_OP_VEC_LIST] = { .perm = CMD_PERM_ANY, .fn = cmd_vec_list },
	[MSIV_OP_SESSION_LIST] = { .perm = CMD_PERM_ANY,
	    .fn = cmd_session_list },
	[MSIV_OP_SIM_TRIGGERS] = { .perm = CMD_PERM_ADMIN,
	    .fn = cmd_sim_triggers },
	[MSIV_OP_SIM_FIRE] = { .perm = CMD_PERM_ADMIN, .fn = cmd_sim_fire },
	[MSIV_OP_SHUTDOWN] = { .perm = CMD_PERM_ADMIN, .fn = cmd_shutdown },
	[MSIV_OP_DEVICE_ATTACH] = { .perm = CMD_PERM_ADMIN,
	    .fn = cmd_device_attach },
	[MSIV_OP_DEVICE_DETACH] = { .perm = CMD_PERM_ADMIN,
	    .fn = cmd_device_detach },
	[MSIV_OP_IRQ_AFFINITY] = { .perm = CMD_PERM_ANY,
	    .fn = cmd_irq_affinity },
	[MSIV_OP_REVOKE] = { .perm = CMD_PERM_ADMIN, .fn = cmd_revoke },
	[MSIV_OP_HOTPLUG_STATUS] = { .perm = CMD_PERM_ANY,
	    .fn = cmd_hotplug_status },
	[MSIV_OP_RELOAD] = { .perm = CMD_PERM_ADMIN, .fn = cmd_reload },
	[MSIV_OP_LOG_LEVEL] = { .perm = CMD_PERM_ADMIN, .fn = cmd_log_level },
	[MSIV_OP_TENANT_RELEASE] = { .perm = CMD_PERM_ADMIN,
	    .fn = cmd_tenant_release },
	[MSIV_OP_METRICS] = { .perm = CMD_PERM_ADMIN, .fn = cmd_metrics },
	[MSIV_OP_RESTART] = { .perm = CMD_PERM_ADMIN, .fn = cmd_restart },
	[MSIV_OP_SHARD_LIST] = { .perm = CMD_PERM_ANY, .fn = cmd_shard_list },
};
_Static_assert(sizeof(cmd_table) / sizeof(cmd_table[0]) == MSIV_OP__COUNT,
    "one dispatch table entry per opcode");

