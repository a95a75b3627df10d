/*
 * main.c: fluxgate's entry point. Parses the command line, loads and
 * checks the configuration (-t stops there), opens the log and the
 * listeners, creates the shared-memory arena, counts the response store
 * into it, writes the pid file and hands over to the master cycle.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/base/clock.h"
#include "common/base/crash.h"
#include "common/base/log.h"
#include "common/store/respstore.h"
#include "common/base/version.h"
#include "master/cycle.h"
#include "master/fdlimit.h"

#ifndef FG_SYSCONFDIR
#define FG_SYSCONFDIR "/usr/local/etc/fluxgate"
#endif

static void
main_usage(FILE *out)
{
    fprintf(out,
            "usage: fluxgate [-c config.json] [-l host:port] [-t] [-v]\n"
            "  -c FILE   configuration (default: $FLUXGATE_CONF, else "
            FG_SYSCONFDIR "/fluxgate.json)\n"
            "  -l ADDR   listen on ADDR instead of the configured listeners\n"
            "  -t        check the configuration and catalogs, then exit\n"
            "  -v        print the version and exit\n");
}

static int
main_write_pid(const char *path)
{
    char buf[32];
    int  fd, n;

    if (path[0] == '\0') {
        return 0;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
    if (write(fd, buf, (size_t) n) != n) {
        close(fd);
        return -1;
    }
    return close(fd);
}

/*
 * The name of the node's shared-memory object: one per data folder, so
 * that a restart finds its predecessor's arena and two gateways on one
 * machine never share one.
 */
static void
main_shm_name(const char *data_dir, char *out, size_t size)
{
    char        real[PATH_MAX];
    const char *p = realpath(data_dir, real) != NULL ? real : data_dir;
    uint64_t    h = 0xcbf29ce484222325ULL;

    for (; *p != '\0'; p++) {
        h = (h ^ (unsigned char) *p) * 0x100000001b3ULL;
    }
    snprintf(out, size, "/fluxgate-%016llx", (unsigned long long) h);
}

/* mkdir -p @path, mode 0700 for what it creates. */
static int
main_mkdir_p(const char *path, fg_err_t *err)
{
    char   buf[FG_CONF_PATH_MAX];
    size_t i;

    snprintf(buf, sizeof(buf), "%s", path);
    for (i = 1; buf[i] != '\0'; i++) {
        if (buf[i] == '/') {
            buf[i] = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                return fg_err_set(err, FG_E_INTERNAL, NULL,
                                  "mkdir(\"%s\"): %s", buf, strerror(errno));
            }
            buf[i] = '/';
        }
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "mkdir(\"%s\"): %s", buf,
                          strerror(errno));
    }
    return FG_OK;
}

/*
 * The response store's folder, tidied and counted into the arena before
 * any worker can put or get: a store that cannot be prepared would fail
 * every stored response later, so the start is refused instead.
 */
static int
main_responses(fg_master_t *m, fg_err_t *err)
{
    fg_respstore_conf_t  c = fg_respstore_conf_from(m->conf);
    fg_respstore_stats_t st;

    if (fg_respstore_prepare(m->shm.responses, &c, fg_wall_ms(), err)
        != FG_OK) {
        return FG_ERR;
    }
    if (c.total_bytes_max == 0) {
        fg_log(FG_LOG_NOTICE, 0, "response store off "
               "(responses.store_bytes 0)");
        return FG_OK;
    }
    fg_respstore_stats(m->shm.responses, &st);
    fg_log(FG_LOG_NOTICE, 0, "response store %s: %llu files, %llu bytes",
           c.dir, (unsigned long long) st.files,
           (unsigned long long) st.bytes);
    return FG_OK;
}

/*
 * The data folder, the key-hashing secret and the admin token: each
 * generated at first start into a 0600 file, refused if readable by
 * others. The admin token is the hex of 32 random bytes.
 */
static int
main_secrets(fg_master_t *m, fg_err_t *err)
{
    uint8_t token[FG_KEY_SERVER_SECRET_BYTES];

    if (main_mkdir_p(m->conf->data_dir, err) != FG_OK
        || fg_key_server_secret_load_or_create(
               m->conf->keys_server_secret_file, m->server_secret, err)
           != FG_OK) {
        return FG_ERR;
    }
    if (m->conf->admin_token[0] != '\0') {
        snprintf(m->admin_token, sizeof(m->admin_token), "%s",
                 m->conf->admin_token);
        return FG_OK;
    }
    if (fg_key_server_secret_load_or_create(m->conf->admin_token_file, token,
                                            err) != FG_OK) {
        return FG_ERR;
    }
    sodium_bin2hex(m->admin_token, sizeof(m->admin_token), token,
                   sizeof(token));
    sodium_memzero(token, sizeof(token));
    return FG_OK;
}

int
main(int argc, char **argv)
{
    fg_master_t m;
    fg_err_t    err;
    const char *env;
    static char default_path[] = FG_SYSCONFDIR "/fluxgate.json";
    int         opt, test_only = 0, rc, i, recovered = 0;
    char        shm_name[64];

    memset(&m, 0, sizeof(m));
    while ((opt = getopt(argc, argv, "c:l:thv")) != -1) {
        switch (opt) {
        case 'c': m.conf_path = optarg; break;
        case 'l': m.listen_override = optarg; break;
        case 't': test_only = 1; break;
        case 'v': printf("fluxgate %s\n", FG_VERSION); return 0;
        case 'h': main_usage(stdout); return 0;
        default:  main_usage(stderr); return 1;
        }
    }
    if (optind != argc) {
        main_usage(stderr);
        return 1;
    }
    if (m.conf_path == NULL) {
        env = getenv("FLUXGATE_CONF");
        m.conf_path = env != NULL && env[0] ? env : default_path;
    }

    if (sodium_init() < 0) {
        fprintf(stderr, "fluxgate: library initialisation failed\n");
        return 1;
    }
    if (fg_master_load(&m, &m.conf, &m.catalog, &err) != FG_OK) {
        fprintf(stderr, "fluxgate: %s\n", err.msg);
        if (test_only) {
            fprintf(stderr, "fluxgate: configuration test failed\n");
        }
        return 1;
    }
    if (test_only) {
        printf("fluxgate: configuration file %s: configuration OK "
               "(%zu providers, %zu models)\n", m.conf_path,
               m.catalog->provider_count, m.catalog->model_count);
        fg_catalog_free(m.catalog);
        free(m.conf);
        return 0;
    }

    /* Before anything opens a descriptor: a node whose hard limit cannot
     * hold its connection caps would refuse or fail requests at random
     * later (an accept that fails, an upstream without a socket). */
    if (fg_fdlimit_apply(m.conf, m.catalog, NULL, &err) != FG_OK) {
        fprintf(stderr, "fluxgate: %s\n", err.msg);
        return 1;
    }
    if (fg_log_open(m.conf->log_file, m.conf->log_level) != 0) {
        fprintf(stderr, "fluxgate: open(\"%s\") for the log failed: %s\n",
                m.conf->log_file, strerror(errno));
        return 1;
    }
    /* Before any fork: the workers and the syncer inherit the handlers. */
    fg_crash_install();
    if (fg_listeners_open(&m.listeners, m.conf, NULL, &err) != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "%s", err.msg);
        return 1;
    }
    if (main_secrets(&m, &err) != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "%s", err.msg);
        return 1;
    }
    main_shm_name(m.conf->data_dir, shm_name, sizeof(shm_name));
    if (fg_shm_create(&m.shm, shm_name, (uint32_t) m.conf->keys_max,
                      (uint32_t) m.conf->usage_ring_records,
                      fg_clientconns_slots((uint64_t) m.conf->max_connections
                                           * (uint64_t) m.conf->workers),
                      (uint32_t) m.conf->routing_max_endpoints, &recovered,
                      &err) != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "%s", err.msg);
        return 1;
    }
    if (recovered) {
        fg_master_recover(&m);
    }
    if (main_responses(&m, &err) != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "response store: %s", err.msg);
        return 1;
    }
    /* A reservation waits for the syncer's next pass; this wakes it at
     * once instead of at its next 10 ms tick. */
    m.syncer_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (main_write_pid(m.conf->pid_file) != 0) {
        fg_log(FG_LOG_ERROR, errno, "writing the pid file \"%s\" failed",
               m.conf->pid_file);
        return 1;
    }
    for (i = 0; i < m.listeners.count; i++) {
        fg_log(FG_LOG_NOTICE, 0, "fluxgate %s listening on %s:%d, %d "
               "workers", FG_VERSION, m.listeners.addr[i].host,
               m.listeners.addr[i].port, m.conf->workers);
    }
    if (m.listeners.metrics_fd >= 0) {
        fg_log(FG_LOG_NOTICE, 0, "metrics on http://%s:%d/metrics",
               m.listeners.metrics_addr.host, m.listeners.metrics_addr.port);
    }

    rc = fg_master_cycle(&m);

    if (m.conf->pid_file[0] != '\0') {
        unlink(m.conf->pid_file);
    }
    fg_listeners_close(&m.listeners);
    fg_shm_destroy(&m.shm);
    if (rc == 0) {
        /* A clean stop: every child drained and settled; nothing in the
         * arena is needed by the next run. */
        (void) fg_shm_unlink(shm_name);
    }
    sodium_memzero(m.server_secret, sizeof(m.server_secret));
    sodium_memzero(m.admin_token, sizeof(m.admin_token));
    fg_catalog_free(m.catalog);
    free(m.conf);
    return rc;
}
