#ifndef FG_COMMON_CIDR_H
#define FG_COMMON_CIDR_H

/*
 * Sets of address ranges (CIDR blocks), for limits.trusted_proxies: the
 * peers whose PROXY protocol header or X-Forwarded-For names the real
 * client. A set is a fixed array (FG_CIDR_MAX blocks), parsed once from
 * text and matched without allocating. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) matches as its IPv4 address.
 */

#include <stdint.h>

#include <sys/socket.h>

#include "common/base/errors.h"

#define FG_CIDR_MAX 64

typedef struct {
    uint8_t  family;          /* AF_INET or AF_INET6 */
    uint8_t  prefix;          /* bits that must match */
    uint8_t  addr[16];        /* network order; 4 bytes for IPv4 */
} fg_cidr_t;

typedef struct {
    fg_cidr_t blocks[FG_CIDR_MAX];
    int       count;
} fg_cidr_set_t;

/*
 * Parses @text, blocks separated by commas and/or spaces ("10.0.0.0/8,
 * 2001:db8::/32, 192.0.2.7"; an address without a prefix is one host;
 * "" is the empty set) into @set. Returns FG_OK, or FG_ERR with @err
 * naming the first bad block.
 */
int fg_cidr_parse(fg_cidr_set_t *set, const char *text, fg_err_t *err);

/* 1 when @addr (AF_INET or AF_INET6) lies in one of @set's blocks. */
int fg_cidr_match(const fg_cidr_set_t *set, const struct sockaddr *addr);

/*
 * Parses one address (no prefix, no port; surrounding blanks allowed) of
 * @len bytes at @text into @out (port 0). Returns FG_OK, or FG_ERR.
 */
int fg_cidr_addr_parse(const char *text, size_t len,
                       struct sockaddr_storage *out);

#endif
