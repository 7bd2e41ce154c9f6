/*
 * systemd's file descriptor store (fdstore.c): what a crash must not
 * close, kept by the service manager and taken back on the restart.
 */
#ifndef MSIVD_FDSTORE_H
#define MSIVD_FDSTORE_H

#include <stddef.h>

#define FDSTORE_BATCH 253u /* fds per notification (SCM_MAX_FD) */

/* Read LISTEN_FDS / LISTEN_FDNAMES (and remove them from the
 * environment): how many fds were passed, or -errno. */
int fdstore_init(void);
/* The listening socket passed (ours, "listen", or msivd.socket's), or -1;
 * -EINVAL if more than one. */
int fdstore_take_listener(void);
/*
 * What the service manager passed (fdstore_init), and of it the listening
 * socket: an fd, -1 when none was passed, or -errno when what was passed
 * cannot be used (more than one socket, or not a listening AF_UNIX
 * SOCK_SEQPACKET socket). The other fds passed are what msivd kept in the
 * store before a crash, taken by name later. LISTEN_* are removed from
 * the environment.
 */
int fdstore_listen_fd(void);
/* Take (own) the passed fds named name, in the order they were kept; at
 * most max. Returns how many. */
size_t fdstore_take(const char *name, int *fds, size_t max);
/* Call fn for each passed fd not taken yet whose name starts with prefix;
 * fn may take it (set *fd to -1 and own it). */
typedef void fdstore_fn(const char *name, int *fd, void *arg);
void fdstore_each(const char *prefix, fdstore_fn *fn, void *arg);
/* Close what was passed and not taken, and drop msivd's names of it from
 * the store. Returns how many. */
size_t fdstore_leftover(void);

/* Is there a service manager to keep fds (NOTIFY_SOCKET)? */
int fdstore_on(void);
/* Keep nfds (<= FDSTORE_BATCH) fds under name; drop every fd kept under
 * name. Both do nothing without a service manager. */
void fdstore_put(const char *name, const int *fds, size_t nfds);
void fdstore_remove(const char *name);

#endif /* MSIVD_FDSTORE_H */
