/*
 * The daemon's clock: monotonic milliseconds, for the layers that time
 * things (orphan grace, rate caps, the store's waits) without asking a
 * higher one for the time.
 */
#ifndef MSIVD_CLOCK_H
#define MSIVD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* Microseconds, for the handover's blackout: CLOCK_MONOTONIC is the
 * system's, so the old and the new msivd read the same clock. */
static inline uint64_t
clock_now_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
}

#endif /* MSIVD_CLOCK_H */
