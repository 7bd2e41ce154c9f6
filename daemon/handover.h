/*
 * Handover (handover.c; msivd(8), RESTART AND UPGRADE): everything msivd
 * holds passes to a newly executed msivd, which may be a newer one,
 * without a device being closed, a client reconnecting, or an interrupt
 * being lost or made up.
 */
#ifndef MSIVD_HANDOVER_H
#define MSIVD_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

#include <msiv/protocol.h>

struct conf;
struct session;

/*
 * The state's format. An msivd takes over from one whose format it
 * knows (this one or older) and refuses a newer one: the old msivd then
 * keeps serving. Bump it with every change to what the parts write (hostate.h).
 */
#define HANDOVER_FORMAT 1u

/* The handover socket (SOCK_SEQPACKET) carries these packets: a header,
 * then data or fds (tests/test-handover plays an old msivd with them). */
#define HO_MAGIC       0x4f48534dU /* "MSHO" */

/* Messages on the handover socket. */
enum ho_msg {
	HO_HELLO = 1,   /* new -> old: the newest format it reads */
	HO_STATE = 2,   /* old -> new: sizes, then chunks, then fd batches */
	HO_DATA = 3,
	HO_FDS = 4,
	HO_READY = 5,   /* new -> old: everything is adopted */
	HO_REFUSE = 6,  /* new -> old: why not (the old one serves on) */
	HO_GO = 7,      /* old -> new: the old one is gone */
	HO_ABORT = 8,   /* old -> new: exit, touching nothing */
};

struct ho_hdr {
	uint32_t magic;
	uint32_t msg;      /* enum ho_msg */
	uint32_t format;   /* HELLO: the newest it reads; STATE: the state's */
	uint32_t nfds;     /* STATE: fds to follow; FDS: in this packet */
	uint64_t len;      /* STATE: bytes to follow; DATA: in this packet */
	char version[MSIV_NAME_MAX];
	char reason[MSIV_REASON_MAX]; /* REFUSE */
};

/* --- the old msivd ------------------------------------------------------ */

/*
 * Start a handover, asked for by a RESTART of session s (its request
 * header rq) or by SIGUSR2 (s NULL). Returns 0: the new msivd is being
 * started, and the outcome is the reply (or the log); or -errno with
 * why filled in (one is in progress: -EBUSY).
 */
int handover_start(struct session *s, const struct msiv_hdr *rq, char *why,
    size_t len);

/* --- the new msivd ------------------------------------------------------ */

/* MSIVD_HANDOVER: our end of the handover socket, or -1 (a plain
 * start). Removed from the environment. */
int handover_fd(void);
/*
 * Say hello, receive the state and adopt the devices in it (before the
 * configuration's devices are created and the store's vfuncs restored).
 * 0, or -1: the old msivd has been told why and keeps serving; the
 * caller must _exit() at once, touching nothing it was handed.
 */
int handover_receive(int fd, const struct conf *conf);
/*
 * After the store's vfuncs are restored: put back their exact state
 * (vectors, targets, pending bits, counters), the sessions and the
 * listening socket; then say ready and wait for the old msivd's go.
 * 0: everything is ours; -1 as for handover_receive().
 */
int handover_finish(void);
/* Refuse, after handover_receive() (the caller then _exit()s). */
void handover_refuse(int fd, const char *why);
/* Serving (the delivery loop armed): answer the RESTART that asked. */
void handover_done(void);

#endif /* MSIVD_HANDOVER_H */
