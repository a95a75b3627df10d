/*
 * bench_auth.c: the authenticate stage's own cost, without HTTP: parse the
 * header, check the secret's shape, hash it (keyed BLAKE2b), probe a
 * table of 100 000 keys and copy the record out, as worker/auth.c does.
 * Prints nanoseconds per lookup. Not a test: run by `make bench`.
 */

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/accounts/keys.h"
#include "common/accounts/keytable.h"

#define KEYS   100000
#define ROUNDS 1000000

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(void)
{
    static char     headers[KEYS][FG_KEY_SECRET_SIZE + 8];
    uint8_t         server[FG_KEY_SERVER_SECRET_BYTES];
    size_t          bytes = fg_keytable_bytes(KEYS);
    void           *mem = aligned_alloc(64, bytes);
    fg_keytable_t  *t;
    fg_key_record_t rec;
    fg_err_t        err;
    double          t0, t1;
    unsigned long   found = 0;
    int             i;

    if (sodium_init() < 0 || mem == NULL) {
        return 1;
    }
    randombytes_buf(server, sizeof(server));
    memset(mem, 0, bytes);
    t = fg_keytable_init(mem, bytes, KEYS, &err);
    for (i = 0; i < KEYS; i++) {
        char secret[FG_KEY_SECRET_SIZE], id[FG_KEY_ID_SIZE];

        memset(&rec, 0, sizeof(rec));
        if (fg_key_generate(secret, sizeof(secret), id, sizeof(id), &err)
            != FG_OK) {
            return 1;
        }
        fg_key_hash(server, secret, strlen(secret), rec.kr_hash);
        memcpy(rec.kr_id, id, sizeof(id));
        rec.kr_status = FG_KEY_STATUS_ACTIVE;
        if (fg_keytable_put(t, &rec, &err) != FG_OK) {
            fprintf(stderr, "put: %s\n", err.msg);
            return 1;
        }
        snprintf(headers[i], sizeof(headers[i]), "Bearer %s", secret);
    }
    t0 = now_s();
    for (i = 0; i < ROUNDS; i++) {
        const char *secret;
        size_t      len;
        uint8_t     hash[FG_KEY_HASH_BYTES];

        if (fg_key_parse_bearer(headers[((uint64_t) i * 7919) % KEYS], &secret, &len)
            != FG_OK || !fg_key_secret_is_well_formed(secret, len)) {
            return 1;
        }
        fg_key_hash(server, secret, len, hash);
        found += fg_keytable_lookup(t, hash, &rec) == FG_KEYTABLE_FOUND;
    }
    t1 = now_s();
    printf("auth stage: %.0f ns per request (parse + BLAKE2b + probe + "
           "copy of a %zu-byte record), %d keys, %lu/%d found\n",
           (t1 - t0) * 1e9 / ROUNDS, sizeof(rec), KEYS, found, ROUNDS);
    free(mem);
    return found == ROUNDS ? 0 : 1;
}
