/*
 * nodelay.so: an LD_PRELOAD shim that sets TCP_NODELAY on every socket a
 * process accepts, as real providers' HTTP servers (and nginx) do. `make
 * bench` runs the upstream simulator under it so that the direct baseline
 * of the streaming cells is not held back by Nagle's algorithm meeting the
 * client's delayed ACKs; fluxgate itself runs without it, as shipped.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int accept(int fd, struct sockaddr *addr, socklen_t *len);
int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

static void
nodelay(int s)
{
    int one = 1;

    if (s >= 0) {
        (void) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

int
accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    static int (*real)(int, struct sockaddr *, socklen_t *);
    int s;

    if (real == NULL) {
        *(void **) &real = dlsym(RTLD_NEXT, "accept");
    }
    s = real(fd, addr, len);
    nodelay(s);
    return s;
}

int
accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    int s;

    if (real == NULL) {
        *(void **) &real = dlsym(RTLD_NEXT, "accept4");
    }
    s = real(fd, addr, len, flags);
    nodelay(s);
    return s;
}
