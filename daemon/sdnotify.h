/*
 * The two systemd protocols msivd speaks: readiness notification
 * (sd_notify: READY=1, STATUS=..., STOPPING=1) and socket activation
 * (LISTEN_FDS). Through libsystemd where it was found at configure time,
 * otherwise msivd's own implementation of the documented protocols. Both
 * do nothing when msivd was not started that way.
 */
#ifndef MSIVD_SDNOTIFY_H
#define MSIVD_SDNOTIFY_H

/* Send state (e.g. "READY=1\nSTATUS=serving") to $NOTIFY_SOCKET. */
void sdn_notify(const char *state);
/*
 * The listening socket passed by the service manager: an fd, -1 when
 * none was passed, or -errno when what was passed cannot be used (more
 * than one socket, or not a listening AF_UNIX SOCK_SEQPACKET socket).
 * The other fds passed are what msivd kept in the fd store before a crash
 * (fdstore.c takes them by name). LISTEN_* are removed from the
 * environment.
 */
int sdn_listen_fd(void);

#endif /* MSIVD_SDNOTIFY_H */
