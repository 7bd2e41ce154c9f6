/*
 * The control thread's socket server: the listener, start-up and
 * shutdown (server.c), and the sessions it serves (session.h).
 */
#ifndef MSIVD_SERVER_H
#define MSIVD_SERVER_H

#include <stdint.h>

#include "conf.h"
#include "session.h"

struct cmd_entry;
struct event_base;

/* Start serving with the configuration and the dispatch table (one entry
 * per opcode: the commands layer's cmd_table). */
int server_init(struct event_base *base, const struct conf *conf,
    const struct cmd_entry *table);
/* The configuration server_init was given has changed (a reload): admit
 * every session again under it. */
void server_reconfigured(void);
/* Listen on the socket passed by the service manager (activated >= 0), or
 * on the configured socket path (stale sockets are replaced, a live one is
 * an error). */
int server_listen(int activated);
/* Serve a connected socket (non-blocking, close-on-exec) as a new session,
 * authorised from its peer credentials like an accepted one. */
void server_adopt(int fd);
void server_shutdown(void);
/* Handover (handover.c): the old msivd, its loop parked, writes the
 * listening socket and the sessions; the new one reads them back, in the
 * same order (0, or -errno with the reason given to ho_fail()). */
struct ho_buf;
struct ho_rd;
void server_handover_save(struct ho_buf *b);
void server_session_save(const struct session *s, struct ho_buf *b);
/* Send what the sessions have queued, as far as their sockets take it. */
void server_handover_flush(void);
int server_handover_adopt(struct ho_rd *r, const struct conf *conf);
int server_session_adopt(struct ho_rd *r);
/* Keep the listening socket msivd made in systemd's fd store. */
void server_fdstore_put(void);
/* Ask the main loop to stop after the current callback (SHUTDOWN). */
void server_request_stop(void);
const struct conf *server_conf(void);
struct event_base *server_base(void);
uint64_t server_uptime_ms(void);
/* Monotonic milliseconds (clock_now_ms). */
uint64_t server_now_ms(void);

#endif /* MSIVD_SERVER_H */
