/*
 * listen.c: binding the public listeners and the metrics listener.
 * Sockets are non-blocking (the HTTP server's accept needs that) and
 * close-on-exec; workers get them across fork, not exec. The metrics
 * socket is a member of the same set so that whatever closes the public
 * sockets (the syncer at its start, the master on shutdown) closes it too.
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "master/listen.h"

int
fg_listen_bind(const fg_listen_t *addr, fg_err_t *err)
{
    struct addrinfo hints, *res = NULL;
    char            port[16];
    int             fd, one = 1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof(port), "%d", addr->port);
    rc = getaddrinfo(addr->host, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "getaddrinfo(%s) failed: %s",
                   addr->host, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "socket() failed: %s",
                   strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* Accepted sockets inherit it: a stream's events leave at once, not
     * after Nagle waits for the client's ACK of the previous one. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "bind(%s:%d) failed: %s",
                   addr->host, addr->port, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    if (listen(fd, 4096) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "listen(%s:%d) failed: %s",
                   addr->host, addr->port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The metrics listener of @conf into @out: reused from @old (*@reused
 * set), bound, or none for "off". */
static int
listen_metrics(fg_listeners_t *out, const fg_conf_t *conf,
               const fg_listeners_t *old, int *reused, fg_err_t *err)
{
    fg_err_t e;

    *reused = 0;
    if (strcmp(conf->metrics_listen, "off") == 0) {
        return FG_OK;
    }
    if (fg_conf_parse_listen(conf->metrics_listen, &out->metrics_addr, &e)
        != FG_OK) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "metrics.listen",
                          "metrics.listen \"%s\": %s", conf->metrics_listen,
                          e.msg);
    }
    if (old != NULL && old->metrics_fd >= 0
        && old->metrics_addr.port == out->metrics_addr.port
        && strcmp(old->metrics_addr.host, out->metrics_addr.host) == 0) {
        out->metrics_fd = old->metrics_fd;
        *reused = 1;
        return FG_OK;
    }
    out->metrics_fd = fg_listen_bind(&out->metrics_addr, &e);
    if (out->metrics_fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, "metrics.listen",
                          "metrics.listen: %s", e.msg);
    }
    return FG_OK;
}

int
fg_listeners_open(fg_listeners_t *out, const fg_conf_t *conf,
                  fg_listeners_t *old, fg_err_t *err)
{
    int i, j, reused[FG_CONF_MAX_LISTEN], metrics_reused;

    memset(out, 0, sizeof(*out));
    out->metrics_fd = -1;
    for (i = 0; i < conf->listen_count; i++) {
        out->addr[i] = conf->listen[i];
        out->fd[i] = -1;
        reused[i] = -1;
        for (j = 0; old != NULL && j < old->count; j++) {
            if (old->fd[j] >= 0 && old->addr[j].port == conf->listen[i].port
                && strcmp(old->addr[j].host, conf->listen[i].host) == 0) {
                out->fd[i] = old->fd[j];
                reused[i] = j;
                break;
            }
        }
        if (out->fd[i] < 0) {
            out->fd[i] = fg_listen_bind(&conf->listen[i], err);
            if (out->fd[i] < 0) {
                for (j = 0; j < i; j++) {
                    if (reused[j] < 0) {
                        close(out->fd[j]);
                    }
                }
                out->count = 0;
                return FG_ERR;
            }
        }
        out->count = i + 1;
    }
    if (listen_metrics(out, conf, old, &metrics_reused, err) != FG_OK) {
        for (j = 0; j < out->count; j++) {
            if (reused[j] < 0) {
                close(out->fd[j]);
            }
        }
        out->count = 0;
        out->metrics_fd = -1;
        return FG_ERR;
    }
    for (i = 0; i < out->count; i++) {
        if (reused[i] >= 0) {
            old->fd[reused[i]] = -1;
        }
    }
    if (metrics_reused) {
        old->metrics_fd = -1;
    }
    return FG_OK;
}

void
fg_listeners_close(fg_listeners_t *l)
{
    int i;

    for (i = 0; i < l->count; i++) {
        if (l->fd[i] >= 0) {
            close(l->fd[i]);
            l->fd[i] = -1;
        }
    }
    l->count = 0;
    if (l->metrics_fd >= 0) {
        close(l->metrics_fd);
        l->metrics_fd = -1;
    }
}
