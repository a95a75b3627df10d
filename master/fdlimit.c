/*
 * fdlimit.c: the descriptors a process needs, and the soft limit set to
 * match (see fdlimit.h).
 */

#include <errno.h>
#include <string.h>

#include <sys/resource.h>

#include "common/base/process.h"
#include "master/admin_http.h"
#include "master/fdlimit.h"

int64_t
fg_fdlimit_need(const fg_conf_t *conf, const fg_catalog_t *catalog)
{
    int64_t providers = 0;
    size_t  i;

    for (i = 0; catalog != NULL && i < catalog->provider_count; i++) {
        providers += catalog->providers[i].is_enabled != 0;
    }
    return conf->max_connections
           + conf->upstream_max_connections * providers
           + FG_METRICS_MAX_CONNECTIONS + FG_ADMIN_MAX_CONNECTIONS
           + FG_FDLIMIT_SPARE;
}

int
fg_fdlimit_apply(const fg_conf_t *conf, const fg_catalog_t *catalog,
                 int64_t *soft_out, fg_err_t *err)
{
    struct rlimit rl;
    int64_t       need = fg_fdlimit_need(conf, catalog);

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "getrlimit(RLIMIT_NOFILE)"
                          " failed: %s", strerror(errno));
    }
    if (rl.rlim_max != RLIM_INFINITY && (int64_t) rl.rlim_max < need) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "limits.max_connections",
                          "the hard limit on open files is %lld, below the "
                          "%lld descriptors a process may need "
                          "(limits.max_connections %lld + "
                          "upstream.max_connections_per_host %lld x the "
                          "enabled providers + %d metrics + %d admin + %d "
                          "spare): raise the hard limit (ulimit -Hn, "
                          "LimitNOFILE=) or lower those limits",
                          (long long) rl.rlim_max, (long long) need,
                          (long long) conf->max_connections,
                          (long long) conf->upstream_max_connections,
                          FG_METRICS_MAX_CONNECTIONS,
                          FG_ADMIN_MAX_CONNECTIONS, FG_FDLIMIT_SPARE);
    }
    if ((int64_t) rl.rlim_cur != need) {
        rl.rlim_cur = (rlim_t) need;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            return fg_err_set(err, FG_E_INTERNAL, NULL, "setrlimit("
                              "RLIMIT_NOFILE, %lld) failed: %s",
                              (long long) need, strerror(errno));
        }
    }
    if (soft_out != NULL) {
        *soft_out = need;
    }
    return FG_OK;
}
