/*
 * keys.c: API key secrets, their keyed hashes, header parsing, the server
 * secret file and log redaction.
 *
 * A leaked store, shm dump or core file must reveal no usable secret, so
 * a secret exists in the clear only in the admin reply that shows it once
 * and, briefly, in the request buffer that carries it. What is kept is
 * BLAKE2b keyed with a server secret: without that 32-byte file the hashes
 * cannot even be brute-forced offline, and with it 256 random bits still
 * cannot be. The hash is also the key table's index, which is safe because
 * a client cannot choose where its guess lands without the server secret.
 *
 * The server secret file is created once and never rewritten: rotating it
 * would invalidate every key. Creation goes through a temporary file and
 * link(2) so that a crash cannot leave a half-written secret behind, and
 * loading refuses loose permissions rather than "fixing" them, since a
 * file others could read may already have been read.
 *
 * Nothing here logs, allocates or keeps state.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/base/durable.h"
#include "common/accounts/keys.h"

#define KEYS_HEX_LEN  (FG_KEY_SERVER_SECRET_BYTES * 2)

_Static_assert(FG_KEY_HASH_BYTES >= crypto_generichash_BYTES_MIN
               && FG_KEY_HASH_BYTES <= crypto_generichash_BYTES_MAX,
               "hash size is one BLAKE2b supports");
_Static_assert(FG_KEY_SERVER_SECRET_BYTES >= crypto_generichash_KEYBYTES_MIN
               && FG_KEY_SERVER_SECRET_BYTES
                  <= crypto_generichash_KEYBYTES_MAX,
               "server secret size is a BLAKE2b key size");

static int keys_is_token_char(int c);
static int keys_is_b64url_char(int c);
static int keys_parse_token(const char *p, const char **secret,
                            size_t *len);
static int keys_secret_read(const char *path, int fd,
                            uint8_t out[FG_KEY_SERVER_SECRET_BYTES],
                            fg_err_t *err);
static int keys_secret_create(const char *path,
                              uint8_t out[FG_KEY_SERVER_SECRET_BYTES],
                              fg_err_t *err);
static int keys_write_all(int fd, const char *p, size_t n);

static int
keys_is_token_char(int c)
{
    return c >= 0x21 && c <= 0x7e;
}

static int
keys_is_b64url_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
fg_key_generate(char *secret_out, size_t size, char *id_out, size_t id_size,
                fg_err_t *err)
{
    uint8_t raw[FG_KEY_SECRET_RANDOM_BYTES];
    uint8_t id_raw[FG_KEY_ID_RANDOM_BYTES];

    if (size > 0) {
        secret_out[0] = '\0';
    }
    if (id_size > 0) {
        id_out[0] = '\0';
    }
    if (size < FG_KEY_SECRET_SIZE || id_size < FG_KEY_ID_SIZE) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "key buffers of %zu and %zu bytes, need %d and %d",
                          size, id_size, FG_KEY_SECRET_SIZE, FG_KEY_ID_SIZE);
    }

    randombytes_buf(raw, sizeof(raw));
    randombytes_buf(id_raw, sizeof(id_raw));

    memcpy(secret_out, FG_KEY_SECRET_PREFIX, FG_KEY_SECRET_PREFIX_LEN);
    sodium_bin2base64(secret_out + FG_KEY_SECRET_PREFIX_LEN,
                      size - FG_KEY_SECRET_PREFIX_LEN, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    memcpy(id_out, FG_KEY_ID_PREFIX, FG_KEY_ID_PREFIX_LEN);
    sodium_bin2hex(id_out + FG_KEY_ID_PREFIX_LEN,
                   id_size - FG_KEY_ID_PREFIX_LEN, id_raw, sizeof(id_raw));

    sodium_memzero(raw, sizeof(raw));
    return FG_OK;
}

void
fg_key_hash(const uint8_t server_secret[FG_KEY_SERVER_SECRET_BYTES],
            const char *secret, size_t len, uint8_t out[FG_KEY_HASH_BYTES])
{
    /*
     * crypto_generichash fails only on out-of-range sizes, and both sizes
     * are checked against libsodium's bounds at compile time above.
     */
    (void) crypto_generichash(out, FG_KEY_HASH_BYTES,
                              (const unsigned char *) secret, len,
                              server_secret, FG_KEY_SERVER_SECRET_BYTES);
}

int
fg_key_hash_equal(const uint8_t a[FG_KEY_HASH_BYTES],
                  const uint8_t b[FG_KEY_HASH_BYTES])
{
    return sodium_memcmp(a, b, FG_KEY_HASH_BYTES) == 0;
}

static int
keys_parse_token(const char *p, const char **secret, size_t *len)
{
    size_t n = 0;

    while (p[n] != '\0') {
        if (!keys_is_token_char((unsigned char) p[n])
            || n == FG_KEY_TOKEN_MAX) {
            return FG_ERR;
        }
        n++;
    }
    if (n == 0) {
        return FG_ERR;
    }
    *secret = p;
    *len = n;
    return FG_OK;
}

int
fg_key_parse_bearer(const char *header_value, const char **secret,
                    size_t *len)
{
    const char *p;

    if (header_value == NULL
        || strncasecmp(header_value, "Bearer", 6) != 0
        || (header_value[6] != ' ' && header_value[6] != '\t')) {
        return FG_ERR;
    }
    /* RFC 9110 11.4: one or more spaces (tabs, as nginx takes) after it. */
    p = header_value + 7;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return keys_parse_token(p, secret, len);
}

int
fg_key_parse_api_key(const char *header_value, const char **secret,
                     size_t *len)
{
    if (header_value == NULL) {
        return FG_ERR;
    }
    return keys_parse_token(header_value, secret, len);
}

int
fg_key_secret_is_well_formed(const char *secret, size_t len)
{
    size_t i;

    if (len != FG_KEY_SECRET_LEN
        || memcmp(secret, FG_KEY_SECRET_PREFIX,
                  FG_KEY_SECRET_PREFIX_LEN) != 0) {
        return 0;
    }
    for (i = FG_KEY_SECRET_PREFIX_LEN; i < len; i++) {
        if (!keys_is_b64url_char((unsigned char) secret[i])) {
            return 0;
        }
    }
    return 1;
}

static int
keys_write_all(int fd, const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return FG_ERR;
        }
        p += w;
        n -= (size_t) w;
    }
    return FG_OK;
}

static int
keys_secret_read(const char *path, int fd,
                 uint8_t out[FG_KEY_SERVER_SECRET_BYTES], fg_err_t *err)
{
    struct stat st;
    char        buf[KEYS_HEX_LEN + 2];
    size_t      n = 0, bin_len = 0;
    ssize_t     r;
    int         rc = FG_ERR;

    if (fstat(fd, &st) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "fstat(\"%s\") failed: %s",
                   path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "server secret %s is not a regular file", path);
        goto done;
    }
    if ((st.st_mode & 077) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "server secret %s has mode %04o, which lets group or "
                   "others read it; chmod 600 it",
                   path, (unsigned) (st.st_mode & 07777));
        goto done;
    }

    /* Read one byte more than a valid file holds, to see an overlong one. */
    while (n < sizeof(buf)) {
        r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            fg_err_set(err, FG_E_INTERNAL, NULL, "read(\"%s\") failed: %s",
                       path, strerror(errno));
            goto done;
        }
        if (r == 0) {
            break;
        }
        n += (size_t) r;
    }
    if (n == KEYS_HEX_LEN + 1 && buf[KEYS_HEX_LEN] == '\n') {
        n = KEYS_HEX_LEN;
    }
    if (n != KEYS_HEX_LEN
        || sodium_hex2bin(out, FG_KEY_SERVER_SECRET_BYTES, buf, n, NULL,
                          &bin_len, NULL) != 0
        || bin_len != FG_KEY_SERVER_SECRET_BYTES) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "server secret %s must hold exactly %d hex digits and an "
                   "optional newline (%s%zu bytes)", path, KEYS_HEX_LEN,
                   n == sizeof(buf) ? "more than " : "found ", n);
        goto done;
    }
    rc = FG_OK;

done:
    sodium_memzero(buf, sizeof(buf));
    if (rc != FG_OK) {
        sodium_memzero(out, FG_KEY_SERVER_SECRET_BYTES);
    }
    return rc;
}

static int
keys_secret_create(const char *path, uint8_t out[FG_KEY_SERVER_SECRET_BYTES],
                   fg_err_t *err)
{
    char tmp[PATH_MAX];
    char hex[KEYS_HEX_LEN + 2];
    int  fd, rc = FG_ERR, attempt;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "path too long: %s",
                          path);
    }

    /*
     * A "@path.tmp" can only be left by a crash during an earlier
     * creation (the final name never existed, or we would not be here),
     * so it is removed and the exclusive create tried once more.
     */
    for (attempt = 0; ; attempt++) {
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
        if (fd >= 0 || errno != EEXIST || attempt == 1) {
            break;
        }
        if (unlink(tmp) != 0 && errno != ENOENT) {
            break;
        }
    }
    if (fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "open(\"%s\", O_CREAT|O_EXCL) failed: %s", tmp,
                          strerror(errno));
    }

    randombytes_buf(out, FG_KEY_SERVER_SECRET_BYTES);
    sodium_bin2hex(hex, sizeof(hex), out, FG_KEY_SERVER_SECRET_BYTES);
    hex[KEYS_HEX_LEN] = '\n';

    /* The umask may have narrowed 0600 further; make the mode exact. */
    if (fchmod(fd, 0600) != 0
        || keys_write_all(fd, hex, KEYS_HEX_LEN + 1) != FG_OK
        || fsync(fd) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "writing server secret %s failed: %s", tmp,
                   strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    close(fd);

    if (link(tmp, path) != 0) {
        int saved = errno;

        unlink(tmp);
        if (saved == EEXIST) {
            /* Another process created it first: use theirs. */
            fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) {
                fg_err_set(err, FG_E_INTERNAL, NULL,
                           "open(\"%s\") failed: %s", path, strerror(errno));
                goto done;
            }
            rc = keys_secret_read(path, fd, out, err);
            close(fd);
            goto done;
        }
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "link(\"%s\", \"%s\") failed: %s", tmp, path,
                   strerror(saved));
        goto done;
    }
    if (unlink(tmp) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "unlink(\"%s\") failed: %s",
                   tmp, strerror(errno));
        goto done;
    }
    rc = fg_fsync_dir_of(path, err);

done:
    sodium_memzero(hex, sizeof(hex));
    if (rc != FG_OK) {
        sodium_memzero(out, FG_KEY_SERVER_SECRET_BYTES);
    }
    return rc;
}

int
fg_key_server_secret_load_or_create(const char *path,
                                    uint8_t out[FG_KEY_SERVER_SECRET_BYTES],
                                    fg_err_t *err)
{
    int fd, rc;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        return keys_secret_create(path, out, err);
    }
    if (fd < 0) {
        sodium_memzero(out, FG_KEY_SERVER_SECRET_BYTES);
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "open(\"%s\") failed: %s", path, strerror(errno));
    }
    rc = keys_secret_read(path, fd, out, err);
    close(fd);
    return rc;
}

size_t
fg_key_redact(const char *s, char *out, size_t size)
{
    static const char redacted[] = FG_KEY_REDACTED;
    size_t total = 0, written = 0, run, n;
    int    is_full = (size == 0);

    /*
     * @total counts the whole redacted string; pieces (one byte, or the
     * marker as a whole) are stored only while they fit, so a truncated
     * output is a prefix of the redacted string that ends neither inside
     * a secret nor inside the marker's multibyte ellipsis.
     */
    while (*s != '\0') {
        if (strncmp(s, FG_KEY_SECRET_PREFIX, FG_KEY_SECRET_PREFIX_LEN) == 0) {
            run = 0;
            while (keys_is_b64url_char(
                       (unsigned char) s[FG_KEY_SECRET_PREFIX_LEN + run])) {
                run++;
            }
            if (run >= FG_KEY_REDACT_MIN_CHARS) {
                n = sizeof(redacted) - 1;
                if (!is_full && written + n < size) {
                    memcpy(out + written, redacted, n);
                    written += n;
                } else {
                    is_full = 1;
                }
                total += n;
                s += FG_KEY_SECRET_PREFIX_LEN + run;
                continue;
            }
        }
        if (!is_full && written + 1 < size) {
            out[written++] = *s;
        } else {
            is_full = 1;
        }
        total++;
        s++;
    }
    if (size > 0) {
        out[written] = '\0';
    }
    return total;
}
