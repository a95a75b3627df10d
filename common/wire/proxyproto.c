/*
 * proxyproto.c: the PROXY protocol header, versions 1 and 2 (see
 * proxyproto.h).
 */

#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/wire/proxyproto.h"

#define V1_MAX 107

static const char v2_sig[12] = { '\r', '\n', '\r', '\n', '\0', '\r', '\n',
                                 'Q', 'U', 'I', 'T', '\n' };

/* A decimal port of @len bytes, no sign, no leading zero; -1 if not. */
static long
pp_port(const char *p, size_t len)
{
    long   v = 0;
    size_t i;

    if (len == 0 || len > 5 || (p[0] == '0' && len > 1)) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    return v <= 65535 ? v : -1;
}

/* An address of @family, @len bytes at @p, into @dst (raw bytes). */
static int
pp_addr(int family, const char *p, size_t len, void *dst)
{
    char buf[INET6_ADDRSTRLEN];

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    return inet_pton(family, buf, dst) == 1 ? 0 : -1;
}

static int
pp_v1(const char *buf, size_t len, fg_proxyproto_t *out)
{
    const char *end = memchr(buf, '\r', len < V1_MAX ? len : V1_MAX);
    const char *f[6], *p;
    size_t      flen[6];
    int         n = 0, family;
    long        sport;
    size_t      hlen;

    if (memchr(buf, '\n', end != NULL ? (size_t) (end - buf)
                                       : (len < V1_MAX ? len : V1_MAX))
        != NULL) {
        return -1;   /* a bare LF */
    }
    if (end == NULL) {
        return len >= V1_MAX ? -1 : 0;
    }
    hlen = (size_t) (end - buf) + 2;
    if (hlen > len) {
        return 0;   /* the LF is still to come */
    }
    if (end[1] != '\n') {
        return -1;
    }
    /* "PROXY" SP proto [SP src SP dst SP sport SP dport] */
    p = buf;
    while (p < end && n < 6) {
        const char *sp = memchr(p, ' ', (size_t) (end - p));

        f[n] = p;
        flen[n] = (size_t) ((sp != NULL ? sp : end) - p);
        n++;
        if (sp == NULL) {
            p = end;
            break;
        }
        p = sp + 1;
        if (p == end) {
            return -1;   /* a trailing space */
        }
    }
    if (p != end || n < 2 || flen[0] != 5 || memcmp(f[0], "PROXY", 5) != 0) {
        return -1;
    }
    memset(out, 0, sizeof(*out));
    if (flen[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0) {
        return (int) hlen;   /* whatever follows is ignored */
    }
    if (n != 6 || flen[1] != 4
        || (memcmp(f[1], "TCP4", 4) != 0 && memcmp(f[1], "TCP6", 4) != 0)) {
        return -1;
    }
    family = f[1][3] == '4' ? AF_INET : AF_INET6;
    sport = pp_port(f[4], flen[4]);
    if (sport < 0 || pp_port(f[5], flen[5]) < 0) {
        return -1;
    }
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) (void *) &out->source;
        struct in_addr      dst;

        if (pp_addr(AF_INET, f[2], flen[2], &sin->sin_addr) != 0
            || pp_addr(AF_INET, f[3], flen[3], &dst) != 0) {
            return -1;
        }
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) sport);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) (void *)
                                    &out->source;
        struct in6_addr      dst;

        if (pp_addr(AF_INET6, f[2], flen[2], &sin6->sin6_addr) != 0
            || pp_addr(AF_INET6, f[3], flen[3], &dst) != 0) {
            return -1;
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) sport);
    }
    out->has_source = 1;
    return (int) hlen;
}

static int
pp_v2(const unsigned char *buf, size_t len, fg_proxyproto_t *out)
{
    size_t body, hlen;

    if (len < 16) {
        return 0;
    }
    if ((buf[12] & 0xf0) != 0x20 || (buf[12] & 0x0f) > 1) {
        return -1;   /* version 2; LOCAL (0) or PROXY (1) */
    }
    body = ((size_t) buf[14] << 8) | buf[15];
    hlen = 16 + body;
    if (hlen > FG_PROXYPROTO_MAX_BYTES) {
        return -1;
    }
    if (len < hlen) {
        return 0;
    }
    memset(out, 0, sizeof(*out));
    if ((buf[12] & 0x0f) == 0) {
        return (int) hlen;   /* LOCAL: the proxy's own connection */
    }
    switch (buf[13]) {
    case 0x11: {   /* TCP over IPv4 */
        struct sockaddr_in *sin = (struct sockaddr_in *) (void *) &out->source;

        if (body < 12) {
            return -1;
        }
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, buf + 16, 4);
        memcpy(&sin->sin_port, buf + 24, 2);
        out->has_source = 1;
        break;
    }
    case 0x21: {   /* TCP over IPv6 */
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) (void *)
                                    &out->source;

        if (body < 36) {
            return -1;
        }
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, buf + 16, 16);
        memcpy(&sin6->sin6_port, buf + 48, 2);
        out->has_source = 1;
        break;
    }
    case 0x00:     /* UNSPEC: addresses unknown */
        break;
    default:       /* UDP, unix sockets: not a client of an HTTP port */
        return -1;
    }
    return (int) hlen;
}

int
fg_proxyproto_parse(const char *buf, size_t len, fg_proxyproto_t *out)
{
    size_t n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);

    if (len == 0) {
        return 0;
    }
    if (memcmp(buf, v2_sig, n) == 0) {
        return n < sizeof(v2_sig) ? 0
               : pp_v2((const unsigned char *) buf, len, out);
    }
    n = len < 6 ? len : 6;
    if (memcmp(buf, "PROXY ", n) != 0) {
        return -1;
    }
    return n < 6 ? 0 : pp_v1(buf, len, out);
}
