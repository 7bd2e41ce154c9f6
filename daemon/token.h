/*
 * Resume tokens (msiv-protocol(7), HELLO). A tenant's token is
 * MSIV_TOKEN_LEN bytes from getrandom(); the client keeps it, msivd does
 * not. The store holds only a seal of it: a random salt and
 * SHA-256(salt || token). Anyone who can read the store (a backup, a
 * state directory with loose modes) learns nothing that resumes the
 * tenant: the token has 128 bits of entropy, so one salted hash is enough
 * (no slow key derivation needed), and the salt keeps two seals of one
 * token apart.
 */
#ifndef MSIVD_TOKEN_H
#define MSIVD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msiv/protocol.h>

#define TOKEN_SALT_LEN 16
#define TOKEN_HASH_LEN 32 /* SHA-256 */
#define TOKEN_SEAL_LEN (TOKEN_SALT_LEN + TOKEN_HASH_LEN)

/* A fresh token. 0 or -errno. */
int token_new(uint8_t token[MSIV_TOKEN_LEN]);
/* Seal a token with a fresh salt: seal = salt || hash. 0 or -errno. */
int token_seal(const uint8_t token[MSIV_TOKEN_LEN],
    uint8_t seal[TOKEN_SEAL_LEN]);
/* Does token match seal? In constant time; a seal of the wrong length
 * matches nothing. */
bool token_check(const uint8_t token[MSIV_TOKEN_LEN], const uint8_t *seal,
    size_t seallen);

#endif /* MSIVD_TOKEN_H */
