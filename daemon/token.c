/*
 * Resume tokens and their seals (see token.h). SHA-256 is nettle's (a
 * library of plain functions: no initialisation, no configuration file,
 * no allocation), and so is the constant-time comparison.
 */
#include "config.h"

#include <errno.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <string.h>
#include <sys/random.h>

#include "token.h"

_Static_assert(TOKEN_HASH_LEN == SHA256_DIGEST_SIZE, "SHA-256");

/* n bytes from the kernel's generator (n <= 256: never a short read,
 * but a signal can interrupt the wait for its first seeding). */
static int
token_random(uint8_t *buf, size_t n)
{
	ssize_t r;

	while ((r = getrandom(buf, n, 0)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -errno;
	return (size_t)r == n ? 0 : -EIO;
}

int
token_new(uint8_t token[MSIV_TOKEN_LEN])
{
	return token_random(token, MSIV_TOKEN_LEN);
}

static void
token_hash(const uint8_t *salt, const uint8_t token[MSIV_TOKEN_LEN],
    uint8_t hash[TOKEN_HASH_LEN])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, TOKEN_SALT_LEN, salt);
	sha256_update(&ctx, MSIV_TOKEN_LEN, token);
	sha256_digest(&ctx, TOKEN_HASH_LEN, hash);
	/* The context held the token. */
	explicit_bzero(&ctx, sizeof(ctx));
}

int
token_seal(const uint8_t token[MSIV_TOKEN_LEN], uint8_t seal[TOKEN_SEAL_LEN])
{
	int r = token_random(seal, TOKEN_SALT_LEN);

	if (r < 0)
		return r;
	token_hash(seal, token, seal + TOKEN_SALT_LEN);
	return 0;
}

bool
token_check(const uint8_t token[MSIV_TOKEN_LEN], const uint8_t *seal,
    size_t seallen)
{
	uint8_t hash[TOKEN_HASH_LEN];
	bool same;

	if (seal == NULL || seallen != TOKEN_SEAL_LEN)
		return false;
	token_hash(seal, token, hash);
	/* Constant time: how much of the hash matched is not told. */
	same = memeql_sec(hash, seal + TOKEN_SALT_LEN, TOKEN_HASH_LEN) != 0;
	explicit_bzero(hash, sizeof(hash));
	return same;
}
