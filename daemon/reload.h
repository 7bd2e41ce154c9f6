/*
 * Reloading the configuration: SIGHUP or an admin's RELOAD (reload.c,
 * msivd(8) RELOAD).
 */
#ifndef MSIVD_RELOAD_H
#define MSIVD_RELOAD_H

#include <stddef.h>

#include "conf.h"

/* The running configuration (changed in place by a reload) and the
 * command line that is applied on top of the file each time. */
void reload_init(struct conf *running, const struct conf_args *args);
/*
 * Read the configuration file again and, if all of it is valid and no
 * setting that takes a restart differs, make it the running one. by says
 * who asked, for the log. msg gets what was logged: "reloaded FILE", or
 * the reason nothing changed. Returns 0, -EINVAL (the file is bad),
 * -EBUSY (a restart-only setting differs), -errno (cannot read it), or
 * -EOPNOTSUPP before reload_init.
 */
int reload_run(const char *by, char *msg, size_t msglen);

#endif /* MSIVD_RELOAD_H */
