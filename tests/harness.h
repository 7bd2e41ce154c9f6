/*
 * Integration test harness: runs the real msivd ($MSIVD) unprivileged on a
 * private socket and state directory, and fires sim slots from a separate
 * process. Every wait has a deadline; nothing sleeps and hopes.
 */
#ifndef MSIV_HARNESS_H
#define MSIV_HARNESS_H

#include <stdint.h>
#include <sys/types.h>

#include <msiv/msiv.h>

#define H_TIMEOUT_MS 20000 /* generous: a loaded 2-core machine */

struct h_daemon {
	char dir[64];
	char sock[128];
	char conf[128];
	char log[128];
	char state[128]; /* --state-dir; empty: dir */
	char user[32];  /* --user: "root" (the default) keeps root */
	char loop[MSIV_NAME_MAX + 1];  /* its delivery loop, once it answered */
	pid_t pid;
	int status;     /* its wait status, once reaped (h_alive, h_wait) */
};

/*
 * Start msivd with this configuration text (NULL: sim0 of 2048 slots with
 * the latch policy, sim-strict and sim-live of 64 slots with theirs).
 * Returns 0 once the daemon answers on its socket; bails out otherwise.
 */
int h_start(struct h_daemon *d, const char *conf);
/* The same, dropping to user when the test runs as root. */
int h_start_user(struct h_daemon *d, const char *conf, const char *user);
/* h_start without the start: the directory and its configuration, for a
 * test that sets d->state or d->log before h_spawn. */
void h_prepare(struct h_daemon *d, const char *conf);
/* Start msivd (again) on the same directory, configuration and socket,
 * on d->state if set. Returns 0 once it answers; -1 if it does not, and
 * if it exited, d->status says how (h_exit_status). */
int h_spawn(struct h_daemon *d);
/* Wait for the daemon to exit by itself (SHUTDOWN, or a start that
 * fails), up to H_TIMEOUT_MS, then SIGKILL it. Returns its exit status,
 * -1 if a signal ended it, -2 if it hung. */
int h_wait(struct h_daemon *d);
/* The exit status in d->status, or -1 if a signal ended it. */
int h_exit_status(const struct h_daemon *d);
/* SIGKILL the daemon and reap it. */
int h_kill9(struct h_daemon *d);
/* Hand over to a new msivd (SIGUSR2; msivd(8), RESTART AND UPGRADE) and
 * wait until it serves d's socket: d->pid is the new one (a child of
 * ours, the subreaper, once the old one and its spawner are gone). The
 * old one must exit 0. h_handover_wait() does the waiting alone, for a
 * handover asked another way (RESTART). 0 or -1 (said why on a TAP
 * comment line); d->pid is the new msivd once one serves, even on -1. */
int h_handover(struct h_daemon *d);
int h_handover_wait(struct h_daemon *d);
/* SIGTERM and wait; returns the daemon's exit status (-1: killed or hung). */
int h_stop(struct h_daemon *d);
/* Is the daemon process still running? */
int h_alive(struct h_daemon *d);
struct msiv_conn *h_connect(struct h_daemon *d, const char *tenant);
/* A plain SOCK_SEQPACKET connection to the daemon, no HELLO: an fd, or
 * -1. For tests that speak the protocol byte by byte. */
int h_raw_connect(const struct h_daemon *d);
/* Does the daemon's log have a line with this fragment? Waits for one,
 * up to H_TIMEOUT_MS: for what the daemon must log, not what it must not. */
int h_logged(const struct h_daemon *d, const char *what);
/* Monotonic milliseconds. */
int64_t h_now_ms(void);

/* A separate process holding trigger fds of slots [first, first + n). */
struct h_firer {
	pid_t pid;
	int req;  /* requests to the firer */
	int ack;  /* its acknowledgements */
};
int h_firer_start(struct h_firer *f, struct msiv_conn *admin,
    const char *dev, uint32_t first, uint32_t n);
/* Fire slot first+idx count times (one write of count); returns once the
 * trigger has been written. */
int h_fire(struct h_firer *f, uint32_t idx, uint32_t count);
/* The same in two halves: ask, then (after doing something meanwhile)
 * wait until the trigger has been written. */
int h_fire_async(struct h_firer *f, uint32_t idx, uint32_t count);
int h_fire_done(struct h_firer *f);
/* Fire as fast as possible until h_firer_stop (a loop of 1-writes on
 * slot idx); h_firer_stop returns the number of writes done. */
int h_firer_flood(struct h_firer *f, uint32_t idx);
uint64_t h_firer_stop(struct h_firer *f);

/* Eventfd helpers: wait up to ms for a signal and read it (0: none);
 * read without waiting. */
uint64_t h_efd_wait(int fd, int ms);
uint64_t h_efd_take(int fd);
int h_eventfd(void);

/* Wait until the daemon has seen at least fired interrupts on a vector
 * (its fired counter), so a check that nothing arrived is meaningful. */
int h_wait_fired(struct msiv_conn *c, uint64_t vf, unsigned int vec,
    uint64_t fired);

#endif /* MSIV_HARNESS_H */
