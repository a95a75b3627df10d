/*
 * store.c: `fluxgate-admin store check|repair`: the usage journal's files
 * in the data folder, read directly (no admin API: it works with the
 * gateway stopped, which a repair requires).
 *
 *   check    every file, its records, and damage (file, offset, records
 *            before it); exit 1 when a file is damaged
 *   repair   each damaged file set aside as <file>.damaged-<UTC time>,
 *            a new file of the records before the damage in its place
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "admin/output.h"
#include "admin/verbs.h"
#include "common/base/alloc.h"
#include "common/base/conf.h"
#include "common/store/usagerepair.h"

#define STORE_OPT_DATA_DIR (FG_ADMIN_OPT_VERB + 40)

static const char store_usage[] =
    "usage: fluxgate-admin [--config FILE] store check|repair "
    "[--data-dir DIR]\n"
    "\n"
    "Reads the gateway's data folder directly (no admin API): --data-dir,\n"
    "else the data_dir of the configuration (--config or $FLUXGATE_CONF).\n"
    "\n"
    "  check    lists the usage journal's files (usage.journal and the "
    "rolled\n"
    "           usage.journal.<id>) with their records, and any damage: "
    "the file,\n"
    "           the offset, the records before it. Exit 1 when a file is "
    "damaged.\n"
    "  repair   stop fluxgate first. Sets each damaged file aside as\n"
    "           <file>.damaged-<UTC time> and puts in its place a file of "
    "the\n"
    "           records before the damage; then start fluxgate again.\n";

/* The data folder from --data-dir, --config or $FLUXGATE_CONF, in @out. */
static int
store_data_dir(const fg_admin_ctx_t *ctx, const char *given, char *out,
               size_t size)
{
    const char *path = ctx->conf_path;
    fg_conf_t  *conf;
    fg_err_t    err;
    int         rc = FG_ADMIN_EXIT_OK;

    if (given != NULL) {
        snprintf(out, size, "%s", given);
        return FG_ADMIN_EXIT_OK;
    }
    if (path == NULL) {
        path = getenv("FLUXGATE_CONF");
    }
    if (path == NULL || path[0] == '\0') {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "store: name the data "
                             "folder with --data-dir DIR, or the gateway's "
                             "configuration with --config FILE");
    }
    conf = fg_xcalloc(1, sizeof(*conf));
    if (fg_conf_load(conf, path, &err) != FG_OK) {
        rc = fg_admin_fail(FG_ADMIN_EXIT_USAGE, "store: %s", err.msg);
    } else {
        snprintf(out, size, "%s", conf->data_dir);
    }
    free(conf);
    return rc;
}

static json_t *
store_file_json(const fg_usagecheck_t *c)
{
    json_t *o = json_pack("{s:s, s:I, s:b, s:I, s:I, s:b, s:b}",
                          "path", c->path, "id", (json_int_t) c->id,
                          "current", c->is_current,
                          "bytes", (json_int_t) c->bytes,
                          "records", (json_int_t) c->records,
                          "damaged", c->is_damaged,
                          "torn_tail", c->has_torn_tail);

    if (o != NULL && c->is_damaged) {
        json_object_set_new(o, "damaged_offset",
                            json_integer((json_int_t) c->damaged_offset));
    }
    if (o != NULL && c->problem[0] != '\0') {
        json_object_set_new(o, "problem", json_string(c->problem));
    }
    return o;
}

static void
store_print_file(const fg_usagecheck_t *c)
{
    if (c->is_damaged) {
        printf("%s: DAMAGED at offset %llu of %llu bytes; %llu records "
               "before the damage\n  %s\n", c->path,
               (unsigned long long) c->damaged_offset,
               (unsigned long long) c->bytes,
               (unsigned long long) c->records, c->problem);
    } else {
        printf("%s: ok, %llu records, %llu bytes%s%s\n", c->path,
               (unsigned long long) c->records,
               (unsigned long long) c->bytes,
               c->problem[0] != '\0' ? "; " : "", c->problem);
    }
}

/* Takes @dir/keys.lock as the syncer does, without waiting: held means
 * a gateway runs on this folder. Returns the descriptor, or -1 (printed). */
static int
store_lock(const char *dir)
{
    char path[FG_CONF_PATH_MAX + 16];
    int  fd;

    snprintf(path, sizeof(path), "%s/keys.lock", dir);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        return fd;      /* no gateway ever ran here: nothing to exclude */
    }
    if (fd < 0) {
        fg_admin_fail(FG_ADMIN_EXIT_FAILED, "store repair: open(\"%s\"): %s",
                      path, strerror(errno));
        return -2;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        fg_admin_fail(FG_ADMIN_EXIT_REFUSED, "store repair: a gateway holds "
                      "%s; stop fluxgate first", path);
        return -2;
    }
    return fd;
}

int
fg_admin_store(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        { "data-dir", required_argument, NULL, STORE_OPT_DATA_DIR },
        { NULL, 0, NULL, 0 }
    };
    const char      *given = NULL, *action;
    char             dir[FG_CONF_PATH_MAX], journal[FG_CONF_PATH_MAX + 32];
    char             aside[FG_CONF_PATH_MAX + 96];
    fg_usagecheck_t *files = NULL;
    fg_err_t         err;
    json_t          *out, *list, *repaired;
    size_t           i, n = 0, damaged = 0;
    int              opt, rc, is_repair, lock_fd = -1;

    if (fg_admin_wants_help(argc, argv)) {
        fputs(store_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    optind = 0;
    while ((opt = getopt_long(argc, argv, FG_ADMIN_SHORT_OPTIONS, opts,
                              NULL)) != -1) {
        if (opt == STORE_OPT_DATA_DIR) {
            given = optarg;
            continue;
        }
        rc = fg_admin_opt_common(ctx, "store", opt, argv);
        if (rc != 0) {
            return rc;
        }
    }
    if (optind + 1 != argc) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "store: say check or "
                             "repair (see --help)");
    }
    action = argv[optind];
    is_repair = strcmp(action, "repair") == 0;
    if (!is_repair && strcmp(action, "check") != 0) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "store: unknown action "
                             "\"%s\" (check or repair)", action);
    }
    rc = store_data_dir(ctx, given, dir, sizeof(dir));
    if (rc != FG_ADMIN_EXIT_OK) {
        return rc;
    }
    if (is_repair) {
        lock_fd = store_lock(dir);
        if (lock_fd == -2) {
            return FG_ADMIN_EXIT_REFUSED;
        }
    }
    snprintf(journal, sizeof(journal), "%s/usage.journal", dir);
    if (fg_usagecheck_all(journal, &files, &n, &err) != FG_OK) {
        if (lock_fd >= 0) {
            close(lock_fd);
        }
        return fg_admin_fail(FG_ADMIN_EXIT_FAILED, "store %s: %s", action,
                             err.msg);
    }
    out = json_object();
    list = json_array();
    repaired = json_array();
    rc = FG_ADMIN_EXIT_OK;
    for (i = 0; i < n; i++) {
        damaged += files[i].is_damaged;
        json_array_append_new(list, store_file_json(&files[i]));
        if (!ctx->is_json) {
            store_print_file(&files[i]);
        }
        if (!is_repair || !files[i].is_damaged) {
            continue;
        }
        if (fg_usagecheck_repair(&files[i], (int64_t) time(NULL), aside,
                                 sizeof(aside), &err) != FG_OK) {
            rc = fg_admin_fail(FG_ADMIN_EXIT_FAILED, "store repair: %s",
                               err.msg);
            break;
        }
        json_array_append_new(repaired, json_pack(
            "{s:s, s:s, s:I}", "path", files[i].path, "set_aside", aside,
            "records_kept", (json_int_t) files[i].records));
        if (!ctx->is_json) {
            printf("repaired %s: kept the %llu records before offset %llu; "
                   "the damaged file is %s\n", files[i].path,
                   (unsigned long long) files[i].records,
                   (unsigned long long) files[i].damaged_offset, aside);
        }
    }
    if (lock_fd >= 0) {
        close(lock_fd);
    }
    json_object_set_new(out, "files", list);
    json_object_set_new(out, "damaged", json_integer((json_int_t) damaged));
    if (is_repair) {
        json_object_set_new(out, "repaired", repaired);
    } else {
        json_decref(repaired);
    }
    free(files);
    if (rc == FG_ADMIN_EXIT_OK && ctx->is_json) {
        rc = fg_admin_print_json(out);
    } else if (rc == FG_ADMIN_EXIT_OK && n == 0) {
        printf("%s: no usage journal\n", dir);
    }
    json_decref(out);
    if (rc == FG_ADMIN_EXIT_OK && !is_repair && damaged > 0) {
        if (!ctx->is_json) {
            printf("%zu damaged file(s): stop fluxgate, then run "
                   "`fluxgate-admin store repair`\n", damaged);
        }
        return FG_ADMIN_EXIT_REFUSED;
    }
    return rc;
}
