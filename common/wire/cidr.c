/*
 * cidr.c: sets of address ranges (see cidr.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/wire/cidr.h"

static const uint8_t cidr_v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                           0xff, 0xff };

int
fg_cidr_addr_parse(const char *text, size_t len, struct sockaddr_storage *out)
{
    char buf[INET6_ADDRSTRLEN];

    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t')) {
        len--;
    }
    if (len == 0 || len >= sizeof(buf)) {
        return FG_ERR;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf,
                  &((struct sockaddr_in *) (void *) out)->sin_addr) == 1) {
        out->ss_family = AF_INET;
        return FG_OK;
    }
    if (inet_pton(AF_INET6, buf,
                  &((struct sockaddr_in6 *) (void *) out)->sin6_addr) == 1) {
        out->ss_family = AF_INET6;
        return FG_OK;
    }
    return FG_ERR;
}

/* One block of @len bytes at @p into @b. */
static int
cidr_block_parse(const char *p, size_t len, fg_cidr_t *b)
{
    struct sockaddr_storage ss;
    const char             *slash = memchr(p, '/', len);
    size_t                  alen = slash != NULL ? (size_t) (slash - p) : len;
    long                    prefix;
    char                    digits[4], *end;

    if (fg_cidr_addr_parse(p, alen, &ss) != FG_OK) {
        return FG_ERR;
    }
    memset(b, 0, sizeof(*b));
    if (ss.ss_family == AF_INET) {
        b->family = AF_INET;
        memcpy(b->addr, &((struct sockaddr_in *) (void *) &ss)->sin_addr, 4);
        b->prefix = 32;
    } else {
        b->family = AF_INET6;
        memcpy(b->addr, &((struct sockaddr_in6 *) (void *) &ss)->sin6_addr,
               16);
        b->prefix = 128;
    }
    if (slash == NULL) {
        return FG_OK;
    }
    alen = len - alen - 1;
    if (alen == 0 || alen >= sizeof(digits)) {
        return FG_ERR;
    }
    memcpy(digits, slash + 1, alen);
    digits[alen] = '\0';
    if (digits[0] < '0' || digits[0] > '9') {
        return FG_ERR;
    }
    prefix = strtol(digits, &end, 10);
    if (*end != '\0' || prefix > b->prefix) {
        return FG_ERR;
    }
    b->prefix = (uint8_t) prefix;
    return FG_OK;
}

int
fg_cidr_parse(fg_cidr_set_t *set, const char *text, fg_err_t *err)
{
    const char *p = text, *q;

    memset(set, 0, sizeof(*set));
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t') {
            p++;
        }
        if (*p == '\0') {
            return FG_OK;
        }
        q = p;
        while (*q != '\0' && *q != ' ' && *q != ',' && *q != '\t') {
            q++;
        }
        if (set->count == FG_CIDR_MAX) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL, "more than %d "
                              "address blocks", FG_CIDR_MAX);
        }
        if (cidr_block_parse(p, (size_t) (q - p), &set->blocks[set->count])
            != FG_OK) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "\"%.*s\" is "
                              "not an address or an address/prefix",
                              (int) (q - p > 64 ? 64 : q - p), p);
        }
        set->count++;
        p = q;
    }
}

/* 1 when the first @bits bits of @a and @b are equal. */
static int
cidr_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, whole) != 0) {
        return 0;
    }
    return rest == 0
           || ((a[whole] ^ b[whole]) & (uint8_t) (0xff << (8 - rest))) == 0;
}

int
fg_cidr_match(const fg_cidr_set_t *set, const struct sockaddr *addr)
{
    const uint8_t *a;
    int            family, i;

    if (addr->sa_family == AF_INET) {
        family = AF_INET;
        a = (const uint8_t *) &((const struct sockaddr_in *)
                                (const void *) addr)->sin_addr;
    } else if (addr->sa_family == AF_INET6) {
        a = ((const struct sockaddr_in6 *) (const void *) addr)
                ->sin6_addr.s6_addr;
        family = AF_INET6;
        if (memcmp(a, cidr_v4mapped, sizeof(cidr_v4mapped)) == 0) {
            family = AF_INET;
            a += 12;
        }
    } else {
        return 0;
    }
    for (i = 0; i < set->count; i++) {
        if (set->blocks[i].family == family
            && cidr_prefix_equal(a, set->blocks[i].addr,
                                 set->blocks[i].prefix)) {
            return 1;
        }
    }
    return 0;
}
