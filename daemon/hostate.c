/*
 * The handover state's codec (handover.c; msivd(8), RESTART AND UPGRADE):
 * a byte stream in this machine's byte order and the fds it refers to by
 * index, which travel beside it. Each part of msivd writes and reads its
 * own state with it (server.c, session.c, device.c, vfio.c,
 * vfunc-restore.c); handover.c sends and receives the whole, and
 * device.c keeps a backend's part in systemd's fd store. Nothing here
 * knows what the bytes mean.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostate.h"

void
ho_put(struct ho_buf *b, const void *p, size_t n)
{
	if (b->err != 0 || n == 0)
		return; /* (n == 0: p may be NULL, an empty list) */
	if (b->len + n > b->cap) {
		size_t cap = b->cap != 0 ? b->cap : 4096;
		uint8_t *np;

		while (cap < b->len + n)
			cap *= 2;
		if (cap > HOSTATE_MAX || (np = realloc(b->p, cap)) == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
ho_put_u32(struct ho_buf *b, uint32_t v)
{
	ho_put(b, &v, sizeof(v));
}

void
ho_put_u64(struct ho_buf *b, uint64_t v)
{
	ho_put(b, &v, sizeof(v));
}

void
ho_put_fd(struct ho_buf *b, int fd)
{
	if (fd < 0 || b->err != 0) {
		ho_put_u32(b, UINT32_MAX);
		return;
	}
	if (b->nfds == b->fdcap) {
		uint32_t cap = b->fdcap != 0 ? b->fdcap * 2 : 256;
		int *np = realloc(b->fds, cap * sizeof(int));

		if (np == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->fds = np;
		b->fdcap = cap;
	}
	ho_put_u32(b, b->nfds);
	b->fds[b->nfds++] = fd;
}

void
ho_get(struct ho_rd *r, void *p, size_t n)
{
	if (n == 0)
		return;
	if (r->err != 0 || r->len - r->off < n) {
		r->err = -EBADMSG;
		memset(p, 0, n);
		return;
	}
	memcpy(p, r->p + r->off, n);
	r->off += n;
}

uint32_t
ho_get_u32(struct ho_rd *r)
{
	uint32_t v;

	ho_get(r, &v, sizeof(v));
	return v;
}

uint64_t
ho_get_u64(struct ho_rd *r)
{
	uint64_t v;

	ho_get(r, &v, sizeof(v));
	return v;
}

int
ho_get_fd(struct ho_rd *r)
{
	uint32_t i = ho_get_u32(r);
	int fd;

	if (r->err != 0 || i == UINT32_MAX)
		return -1;
	if (i >= r->nfds || r->fds[i] < 0) {
		r->err = -EBADMSG;
		return -1;
	}
	fd = r->fds[i];
	r->fds[i] = -1;
	return fd;
}

static char ho_why[MSIV_REASON_MAX];

const char *
ho_reason(void)
{
	return ho_why;
}

int
ho_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(ho_why, sizeof(ho_why), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

