/*
 * systemd's notification protocol (sd_notify(3)): READY=1, STATUS=...,
 * STOPPING=1, MAINPID=, and the fd store's FDSTORE=1 with fds (fdstore.c).
 * Nothing is sent when msivd was not started by a service manager
 * ($NOTIFY_SOCKET unset).
 */
#ifndef MSIVD_SDNOTIFY_H
#define MSIVD_SDNOTIFY_H

#include <stddef.h>

/* Send state (e.g. "READY=1\nSTATUS=serving") to $NOTIFY_SOCKET; a failure
 * is logged. */
void sdn_notify(const char *state);
/* The same with nfds fds (at most 253); 0 (also when there is no service
 * manager) or -errno. */
int sdn_notify_fds(const char *state, const int *fds, size_t nfds);

#endif /* MSIVD_SDNOTIFY_H */
