/*
 * Least privilege: the drop to the service user, and the one capability
 * kept for opening device files afterwards (see priv.c).
 */
#ifndef MSIVD_PRIV_H
#define MSIVD_PRIV_H

#include "conf.h"

/*
 * Started as root: hand the state directory (and the socket's group,
 * own_socket: msivd made it) to c->user, become it, and keep only
 * CAP_DAC_OVERRIDE, permitted and not effective. Not root, or user =
 * root: nothing to do. Returns 0 or -errno (logged).
 */
int priv_drop(const struct conf *c, int own_socket);
/* open() with CAP_DAC_OVERRIDE effective for the call (O_CLOEXEC added):
 * device files the service user cannot open by itself. */
int priv_open(const char *path, int flags);

#endif /* MSIVD_PRIV_H */
