#ifndef FG_COMMON_PROXYPROTO_H
#define FG_COMMON_PROXYPROTO_H

/*
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
 * 2) a load balancer sends first on a connection to name the client it
 * relays. Strict: v1 is "PROXY TCP4|TCP6|UNKNOWN ...\r\n" of at most 107
 * bytes, with addresses of the family named, ports 0..65535 without
 * leading zeros, single spaces; v2 is the 12-byte signature, version 2,
 * command LOCAL or PROXY, and a length of at most
 * FG_PROXYPROTO_MAX_BYTES - 16 (TLVs are skipped). Anything else is
 * refused: a connection that should start with the header and does not
 * is closed.
 */

#include <stddef.h>

#include <sys/socket.h>

/* The longest header accepted: v1's 107 bytes, v2's addresses and TLVs. */
#define FG_PROXYPROTO_MAX_BYTES 536

typedef struct {
    int                     has_source;   /* 0: LOCAL, UNKNOWN, UNSPEC */
    struct sockaddr_storage source;       /* the client, with its port */
} fg_proxyproto_t;

/*
 * Reads the header at the start of @buf (@len bytes received so far).
 * Returns its length (> 0) with @out filled, 0 when more bytes are needed
 * (never when @len >= FG_PROXYPROTO_MAX_BYTES), or -1 when @buf does not
 * start with a valid header.
 */
int fg_proxyproto_parse(const char *buf, size_t len, fg_proxyproto_t *out);

#endif
