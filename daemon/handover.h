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
 * keeps serving. Bump it with every change to what handover.c writes.
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

/* --- the state codec: a byte stream and the fds it refers to ----------- */

struct ho_buf {
	uint8_t *p;
	size_t len, cap;
	int *fds;          /* not owned: the sender's own */
	uint32_t nfds, fdcap;
	int err;           /* -ENOMEM once anything failed */
};

struct ho_rd {
	const uint8_t *p;
	size_t len, off;
	int *fds;          /* owned until taken (ho_get_fd) */
	uint32_t nfds;
	int err;           /* -EBADMSG once anything was out of bounds */
};

void ho_put(struct ho_buf *b, const void *p, size_t n);
void ho_put_u32(struct ho_buf *b, uint32_t v);
void ho_put_u64(struct ho_buf *b, uint64_t v);
/* An fd (-1: none), as its index in the fds sent after the stream. */
void ho_put_fd(struct ho_buf *b, int fd);

void ho_get(struct ho_rd *r, void *p, size_t n);
uint32_t ho_get_u32(struct ho_rd *r);
uint64_t ho_get_u64(struct ho_rd *r);
/* The fd written there (-1: none), now the caller's; each only once. */
int ho_get_fd(struct ho_rd *r);

/* While adopting: why the state cannot be taken (sent to the old msivd
 * with the refusal). Returns -EINVAL. */
int ho_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- the parts' own state (server.c, device.c, vfunc-restore.c) --------- */

struct device;
struct vfunc;

/* The old msivd, its loop parked: write the part's state. */
void server_handover_save(struct ho_buf *b);
void server_session_save(const struct session *s, struct ho_buf *b);
void device_handover_save(struct device *dev, struct ho_buf *b);
void vfunc_handover_save(struct vfunc *vf, struct ho_buf *b);
/* Send what the sessions have queued, as far as their sockets take it. */
void server_handover_flush(void);
/* The new msivd: read it back, in the same order. 0, or -errno with the
 * reason given to ho_fail(). */
int server_handover_adopt(struct ho_rd *r, const struct conf *conf);
int server_session_adopt(struct ho_rd *r);
int device_handover_adopt(struct ho_rd *r);
int vfunc_handover_adopt(struct ho_rd *r);

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
