/*
 * The handover state's codec (hostate.c): what each part of msivd writes
 * of its own state for a new msivd, and reads back.
 */
#ifndef MSIVD_HOSTATE_H
#define MSIVD_HOSTATE_H

#include <stddef.h>
#include <stdint.h>

#include <msiv/protocol.h>

/* The largest state, in bytes. */
#define HOSTATE_MAX (1024u * 1024u * 1024u)

/* A byte stream and the fds it refers to. */
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
/* The reason ho_fail() was last given. */
const char *ho_reason(void);

#endif /* MSIVD_HOSTATE_H */
