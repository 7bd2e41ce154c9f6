/*
 * The spawner (spawn.c): executes a new msivd for a handover, from a
 * process forked before the system call filter.
 */
#ifndef MSIVD_SPAWN_H
#define MSIVD_SPAWN_H

#include <sys/types.h>

/* The environment variable that hands the new msivd its end of the
 * handover socket: MSIVD_HANDOVER=FD. */
#define SPAWN_ENV "MSIVD_HANDOVER"

/* Fork the spawner; argv is msivd's command line, kept for every
 * generation. Before any other thread and before the filter. 0 or
 * -errno. */
int spawn_init(char **argv);
/* The binary a handover executes: the path msivd was started from. */
const char *spawn_exe(void);
/* Execute a new msivd: *ho is our end of its handover socket, *pid its
 * pid. 0 or -errno (-ENOTCONN: no spawner). Blocks briefly (a fork). */
int spawn_new(int *ho, pid_t *pid);

#endif /* MSIVD_SPAWN_H */
