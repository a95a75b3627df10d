#ifndef FG_COMMON_KEYS_H
#define FG_COMMON_KEYS_H

/*
 * API key secrets and their keyed hashes. A key is a random secret shown
 * once to its owner; the gateway keeps only BLAKE2b(server secret, secret)
 * and finds keys by that hash. Everything else names a key by its public
 * id. Formats, exactly:
 *
 *   secret     "fg-" + base64url without padding of 32 random bytes:
 *              46 characters, [A-Za-z0-9_-] after the prefix
 *              (FG_KEY_SECRET_LEN).
 *   key id     "key_" + 16 lowercase hex digits of 8 other random bytes:
 *              20 characters (FG_KEY_ID_LEN).
 *   server     32 random bytes, stored as one line of 64 lowercase hex
 *   secret     digits (a trailing "\n" is allowed) in a 0600 file.
 *   hash       crypto_generichash (BLAKE2b-256) of the secret's bytes,
 *              keyed with the server secret: 32 bytes.
 *
 * Library code: nothing here logs or exits. The process must have called
 * sodium_init() successfully before any function below (the master does it
 * once at start; children inherit it across fork).
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"

#ifndef FG_MUST_USE
#define FG_MUST_USE __attribute__((warn_unused_result))
#endif

#define FG_KEY_SECRET_PREFIX        "fg-"
#define FG_KEY_SECRET_PREFIX_LEN    3
#define FG_KEY_SECRET_RANDOM_BYTES  32
#define FG_KEY_SECRET_LEN           (FG_KEY_SECRET_PREFIX_LEN + 43)
#define FG_KEY_SECRET_SIZE          (FG_KEY_SECRET_LEN + 1)

#define FG_KEY_ID_PREFIX            "key_"
#define FG_KEY_ID_PREFIX_LEN        4
#define FG_KEY_ID_RANDOM_BYTES      8
#define FG_KEY_ID_LEN               (FG_KEY_ID_PREFIX_LEN + 16)
#define FG_KEY_ID_SIZE              (FG_KEY_ID_LEN + 1)

#define FG_KEY_SERVER_SECRET_BYTES  32
#define FG_KEY_HASH_BYTES           32

/* Longest token fg_key_parse_bearer() and fg_key_parse_api_key() accept. */
#define FG_KEY_TOKEN_MAX            256

/*
 * A secret is redacted when "fg-" is followed by at least this many
 * base64url characters (see fg_key_redact()).
 */
#define FG_KEY_REDACT_MIN_CHARS     16
#define FG_KEY_REDACTED             "fg-\xe2\x80\xa6redacted"   /* fg-…redacted */

/*
 * Generates a new key: a secret into @secret_out (@size bytes, at least
 * FG_KEY_SECRET_SIZE) and a public id into @id_out (@id_size bytes, at
 * least FG_KEY_ID_SIZE), both NUL-terminated, in the formats above.
 * The random bytes behind the secret are wiped before returning; the
 * caller owns @secret_out and should wipe it (sodium_memzero) once it has
 * been hashed and shown. Returns FG_OK, or FG_ERR with @err set
 * (FG_E_INTERNAL) when a buffer is too small; the buffers are then left
 * empty. Any process; never blocks.
 */
FG_MUST_USE int fg_key_generate(char *secret_out, size_t size, char *id_out,
                                size_t id_size, fg_err_t *err);

/*
 * Writes into @out the keyed hash of the @len bytes at @secret (no NUL
 * needed). Deterministic for a given server secret; cannot fail. Any
 * process; never blocks, no syscalls.
 */
void fg_key_hash(const uint8_t server_secret[FG_KEY_SERVER_SECRET_BYTES],
                 const char *secret, size_t len,
                 uint8_t out[FG_KEY_HASH_BYTES]);

/* 1 if the two hashes are equal, 0 otherwise; constant time. */
int fg_key_hash_equal(const uint8_t a[FG_KEY_HASH_BYTES],
                      const uint8_t b[FG_KEY_HASH_BYTES]);

/*
 * Parses an Authorization header value, strictly "Bearer <token>": the
 * scheme in any case, one or more spaces or tabs, then a token of 1 to
 * FG_KEY_TOKEN_MAX printable non-space ASCII bytes (0x21-0x7e) and nothing
 * after it (no trailing space). On FG_OK, *@secret and *@len are a slice of
 * @header_value (borrowed; valid as long as it is). On FG_ERR nothing is
 * written. A token that is not an fg- secret still parses: whether it is a
 * key is the lookup's business. Never blocks.
 */
FG_MUST_USE int fg_key_parse_bearer(const char *header_value,
                                    const char **secret, size_t *len);

/*
 * The same for an x-api-key header value: the whole value is the token,
 * with the same character and length rules.
 */
FG_MUST_USE int fg_key_parse_api_key(const char *header_value,
                                     const char **secret, size_t *len);

/*
 * 1 if the @len bytes at @secret have the exact shape of a generated
 * secret ("fg-" and 43 base64url characters), 0 otherwise. Lets the
 * authentication stage refuse junk before hashing it. Never blocks.
 */
int fg_key_secret_is_well_formed(const char *secret, size_t len);

/*
 * Fills @out with the server secret kept in the file @path.
 *
 * 1) The file exists: it must be a regular file with no group or other
 *    permission bits (mode 0600 or 0400) holding exactly 64 hex digits and
 *    an optional "\n". Anything else is refused with a message naming the
 *    path and the problem ("mode 0644 lets group or others read it; chmod
 *    600 it", "holds 12 bytes, expected 64 hex digits").
 * 2) It does not exist: 32 random bytes are written as hex to
 *    "@path.tmp" (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600), fsync'd, then
 *    published with link(2), which fails rather than overwrite a file that
 *    appeared meanwhile (that file is then read as in 1); the directory is
 *    fsync'd. A crash therefore leaves either no secret or a whole one,
 *    never a truncated file that would refuse the next start. A stale
 *    "@path.tmp" from such a crash is removed.
 *
 * Returns FG_OK, or FG_ERR with @err set (FG_E_INTERNAL) and @out zeroed.
 * Buffers holding the secret are wiped. Master only, at start-up; blocks
 * on disk I/O.
 */
FG_MUST_USE int fg_key_server_secret_load_or_create(
    const char *path, uint8_t out[FG_KEY_SERVER_SECRET_BYTES],
    fg_err_t *err);

/*
 * Copies the NUL-terminated @s into @out (@size bytes, always
 * NUL-terminated when @size > 0), replacing every run of "fg-" followed by
 * at least FG_KEY_REDACT_MIN_CHARS base64url characters with
 * FG_KEY_REDACTED. Truncation cuts the output but never copies a byte of a
 * secret. Returns the length the whole redacted string has (as snprintf
 * does: a result >= @size means it was truncated). For logging layers;
 * never blocks, cannot fail.
 */
size_t fg_key_redact(const char *s, char *out, size_t size);

#endif
