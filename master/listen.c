/*
 * listen.c: binding the public listeners. Sockets are non-blocking (the
 * workers' evconnlistener needs that) and close-on-exec; workers get them
 * across fork, not exec.
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "master/listen.h"

static int
listen_bind(const fg_listen_t *addr, fg_err_t *err)
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

int
fg_listeners_open(fg_listeners_t *out, const fg_conf_t *conf,
                  fg_listeners_t *old, fg_err_t *err)
{
    int i, j, reused[FG_CONF_MAX_LISTEN];

    memset(out, 0, sizeof(*out));
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
            out->fd[i] = listen_bind(&conf->listen[i], err);
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
    for (i = 0; i < out->count; i++) {
        if (reused[i] >= 0) {
            old->fd[reused[i]] = -1;
        }
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
}
