/*
 * Reading a session's requests, at the rate allowed (session-read.c).
 */
#ifndef MSIVD_SESSION_READ_H
#define MSIVD_SESSION_READ_H

#include <event2/util.h>

#include "conf.h"

/* What reading needs of the configuration (max_rate), handed down once. */
void session_read_init(const struct conf *conf);
/* The session's read event (arg: the session): read and dispatch a
 * burst of requests. */
void session_read_cb(evutil_socket_t fd, short what, void *arg);
/* The session's pause timer: reads resume once its credit is back. */
void session_unpause_cb(evutil_socket_t fd, short what, void *arg);

#endif /* MSIVD_SESSION_READ_H */
