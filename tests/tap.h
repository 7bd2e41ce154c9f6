/*
 * Minimal TAP producer for the test programs (automake's tap-driver.sh
 * reads it). Each check is one TAP line; a test program ends with
 * tap_done(), which prints the plan and returns the exit status.
 */
#ifndef MSIV_TAP_H
#define MSIV_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused)) static int
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

/* Diagnostics go to TAP as comments. */
__attribute__((format(printf, 1, 2), unused)) static void
tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Skip the whole program (automake: exit 77 is not TAP; use a plan). */
__attribute__((noreturn, unused)) static void
tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	fflush(stdout);
	exit(0);
}

__attribute__((noreturn, unused)) static void
tap_bail(const char *why)
{
	printf("Bail out! %s\n", why);
	fflush(stdout);
	exit(1);
}

__attribute__((unused)) static int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

/* Compare once: got and want are evaluated exactly once. */
__attribute__((format(printf, 3, 4), unused)) static int
tap_is(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (tap_ok(got == want, "%s", msg))
		return 1;
	tap_diag("  got %lld, want %lld", got, want);
	return 0;
}

/* A small deterministic generator (xorshift64), so that a failing random
 * test can be run again with the same sequence. */
__attribute__((unused)) static uint64_t
tap_rand(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define is_int(got, want, ...) \
	tap_is((long long)(got), (long long)(want), __VA_ARGS__)

#endif /* MSIV_TAP_H */
