/*
 * test_metrics.c: the metrics region built in malloc'd memory: the name
 * table, counting into worker blocks, the series table and its overflow,
 * histograms, per-key series, and the text the render writes; then the
 * whole exposition over a real arena, the endpoints' health included.
 */

#include "common/base/metrics.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/exposition.h"
#include "common/base/shm.h"
#include "tests/unit/fg_test.h"

/* The circuit thresholds the exposition reads the health table with. */
static const fg_health_conf_t health = { 5, 50, 20, 60000, 30000 };

static fg_metrics_t *
region_new(void)
{
    size_t        bytes = fg_metrics_bytes();
    void         *mem = NULL;
    fg_metrics_t *m;
    fg_err_t      err;

    if (posix_memalign(&mem, 64, bytes) != 0) {
        abort();
    }
    memset(mem, 0, bytes);
    m = fg_metrics_init(mem, bytes, &err);
    if (m == NULL) {
        abort();
    }
    return m;
}

/* The region with the catalog of most tests: models a, b on provider p. */
static fg_metrics_t *
region_with_names(void)
{
    fg_metrics_t *m = region_new();

    if (fg_metrics_name_add(m, "p", NULL) != FG_OK
        || fg_metrics_name_add(m, "a", NULL) != FG_OK
        || fg_metrics_name_add(m, "b", NULL) != FG_OK) {
        abort();
    }
    return m;
}

/* An owned string of the render. */
static char *
render(const fg_metrics_t *m)
{
    char    *buf = NULL;
    size_t   len = 0;
    FILE    *out = open_memstream(&buf, &len);
    fg_err_t err;

    if (out == NULL || fg_metrics_render(m, out, &err) != FG_OK) {
        abort();
    }
    fclose(out);
    return buf;
}

/* The value of the sample @series ("name{labels}") in @text; -1: none. */
static long long
sample(const char *text, const char *series)
{
    size_t      n = strlen(series);
    const char *p = text;

    while ((p = strstr(p, series)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ') {
            return strtoll(p + n + 1, NULL, 10);
        }
        p += n;
    }
    return -1;
}

/* Lines of @text starting with @prefix. */
static int
count_lines(const char *text, const char *prefix)
{
    size_t      n = strlen(prefix);
    const char *p = text;
    int         c = 0;

    for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        c += strncmp(p, prefix, n) == 0;
    }
    return c;
}

static fg_request_summary_t
summary(const char *model, const char *provider, int status,
        fg_error_code_t e)
{
    fg_request_summary_t s;

    memset(&s, 0, sizeof(s));
    s.key_id = "";
    s.model_served = model;
    s.provider = provider;
    s.status = status;
    s.error = e;
    s.latency_us = 1000;
    s.ttfb_us = -1;
    return s;
}

static void
region_size_is_aligned_and_init_checks_it(void)
{
    void    *mem = NULL;
    fg_err_t err;

    expect_int_eq(fg_metrics_bytes() % 64, 0);
    expect_true(posix_memalign(&mem, 64, 4096) == 0);
    expect_true(fg_metrics_init(mem, 4096, &err) == NULL);
    expect_true(strstr(err.msg, "metrics region") != NULL);
    expect_true(fg_metrics_init((char *) mem + 8, fg_metrics_bytes(), &err)
                == NULL);
    free(mem);
}

static void
requests_are_labelled_by_catalog_names(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s = summary("a", "p", 200, FG_E_NONE);
    char                *t;

    fg_metrics_request_done(m, 0, &s);
    fg_metrics_request_done(m, 0, &s);
    s.model_served = "b";
    fg_metrics_request_done(m, 0, &s);
    t = render(m);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"a\","
                         "provider=\"p\",status_class=\"2xx\",code=\"\"}"),
                  2);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"b\","
                         "provider=\"p\",status_class=\"2xx\",code=\"\"}"),
                  1);
    expect_int_eq(count_lines(t, "# TYPE fluxgate_requests_total counter"),
                  1);
    free(t);
    free(m);
}

static void
name_add_is_idempotent(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s = summary("a", "p", 200, FG_E_NONE);
    char                *t;

    expect_int_eq(fg_metrics_name_add(m, "a", NULL), FG_OK);
    expect_int_eq(fg_metrics_name_add(m, "a", NULL), FG_OK);
    fg_metrics_request_done(m, 0, &s);
    t = render(m);
    expect_int_eq(count_lines(t, "fluxgate_requests_total{model=\"a\""), 1);
    free(t);
    free(m);
}

static void
unknown_names_count_as_other_and_unrouted_as_empty(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s = summary("client-chose-this", "p", 200,
                                     FG_E_NONE);
    char                *t;

    fg_metrics_request_done(m, 0, &s);
    s = summary("", "", 404, FG_E_MODEL_NOT_FOUND);
    fg_metrics_request_done(m, 0, &s);
    t = render(m);
    expect_true(strstr(t, "client-chose-this") == NULL);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"other\","
                         "provider=\"p\",status_class=\"2xx\",code=\"\"}"),
                  1);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"\","
                         "provider=\"\",status_class=\"4xx\","
                         "code=\"model_not_found\"}"), 1);
    free(t);
    free(m);
}

static void
full_name_table_refuses_and_counts_as_other(void)
{
    fg_metrics_t        *m = region_new();
    fg_request_summary_t s;
    fg_err_t             err;
    char                 name[32], *t;
    int                  i;

    for (i = 0; i < FG_METRICS_NAMES; i++) {
        snprintf(name, sizeof(name), "model-%d", i);
        expect_int_eq(fg_metrics_name_add(m, name, NULL), FG_OK);
    }
    expect_int_eq(fg_metrics_name_add(m, "one-too-many", &err), FG_ERR);
    expect_true(strstr(err.msg, "one-too-many") != NULL);
    expect_int_eq(fg_metrics_name_add(m, "model-7", NULL), FG_OK);
    s = summary("one-too-many", "model-0", 200, FG_E_NONE);
    fg_metrics_request_done(m, 0, &s);
    s.model_served = "model-255";
    fg_metrics_request_done(m, 0, &s);
    t = render(m);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"other\","
                         "provider=\"model-0\",status_class=\"2xx\","
                         "code=\"\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"model-255\","
                         "provider=\"model-0\",status_class=\"2xx\","
                         "code=\"\"}"), 1);
    free(t);
    free(m);
}

static void
long_name_is_refused(void)
{
    fg_metrics_t *m = region_new();
    char          name[FG_METRICS_NAME_MAX + 1];
    fg_err_t      err;

    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    expect_int_eq(fg_metrics_name_add(m, name, &err), FG_ERR);
    name[FG_METRICS_NAME_MAX - 1] = '\0';
    expect_int_eq(fg_metrics_name_add(m, name, NULL), FG_OK);
    free(m);
}

static void
counts_are_summed_over_worker_blocks(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s = summary("a", "p", 200, FG_E_NONE);
    char                *t;

    fg_metrics_request_done(m, 0, &s);
    fg_metrics_request_done(m, 7, &s);
    fg_metrics_request_done(m, FG_METRICS_WORKERS - 1, &s);
    fg_metrics_request_done(m, FG_METRICS_WORKERS, &s);   /* ignored */
    t = render(m);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"a\","
                         "provider=\"p\",status_class=\"2xx\",code=\"\"}"),
                  3);
    expect_int_eq(sample(t, "fluxgate_request_duration_seconds_count"), 3);
    free(t);
    free(m);
}

static void
status_class_and_code_label_each_outcome(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s;
    char                *t;

    s = summary("a", "p", 502, FG_E_PROVIDER_ERROR);
    fg_metrics_request_done(m, 0, &s);
    s = summary("a", "p", 0, FG_E_NONE);        /* no reply was sent */
    fg_metrics_request_done(m, 0, &s);
    s = summary("", "", 401, FG_E_INVALID_API_KEY);
    fg_metrics_request_done(m, 0, &s);
    t = render(m);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"a\","
                         "provider=\"p\",status_class=\"5xx\","
                         "code=\"INFERENCE_PROVIDER_ERROR\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"a\","
                         "provider=\"p\",status_class=\"none\","
                         "code=\"\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"\","
                         "provider=\"\",status_class=\"4xx\","
                         "code=\"invalid_api_key\"}"), 1);
    free(t);
    free(m);
}

static void
codes_sharing_a_string_make_one_series(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s;
    char                *t;

    s = summary("", "", 401, FG_E_KEY_REVOKED);
    fg_metrics_request_done(m, 0, &s);
    s = summary("", "", 409, FG_E_KEY_NOT_CHANGEABLE);
    fg_metrics_request_done(m, 0, &s);
    s = summary("", "", 401, FG_E_KEY_NOT_CHANGEABLE);
    fg_metrics_request_done(m, 0, &s);
    t = render(m);
    expect_int_eq(count_lines(t, "fluxgate_requests_total{model=\"\","
                              "provider=\"\",status_class=\"4xx\","
                              "code=\"key_revoked\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"\","
                         "provider=\"\",status_class=\"4xx\","
                         "code=\"key_revoked\"}"), 3);
    free(t);
    free(m);
}

static void
histogram_buckets_are_cumulative_with_le_inclusive(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s = summary("a", "p", 200, FG_E_NONE);
    char                *t;

    s.latency_us = 5000;            /* exactly 0.005 s: in le="0.005" */
    s.ttfb_us = 0;
    fg_metrics_request_done(m, 0, &s);
    s.latency_us = 5001;
    s.ttfb_us = -1;                 /* no upstream byte: not observed */
    fg_metrics_request_done(m, 0, &s);
    s.latency_us = 121000000;       /* above the last bound: +Inf only */
    s.ttfb_us = 2000000;
    fg_metrics_request_done(m, 1, &s);
    t = render(m);
    expect_int_eq(sample(t, "fluxgate_request_duration_seconds_bucket"
                         "{le=\"0.005\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_request_duration_seconds_bucket"
                         "{le=\"0.01\"}"), 2);
    expect_int_eq(sample(t, "fluxgate_request_duration_seconds_bucket"
                         "{le=\"120\"}"), 2);
    expect_int_eq(sample(t, "fluxgate_request_duration_seconds_bucket"
                         "{le=\"+Inf\"}"), 3);
    expect_int_eq(sample(t, "fluxgate_request_duration_seconds_count"), 3);
    expect_true(strstr(t, "\nfluxgate_request_duration_seconds_sum "
                          "121.010001\n") != NULL);
    expect_int_eq(sample(t, "fluxgate_upstream_time_to_first_byte_seconds"
                         "_bucket{le=\"0.005\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_upstream_time_to_first_byte_seconds"
                         "_bucket{le=\"2.5\"}"), 2);
    expect_int_eq(sample(t, "fluxgate_upstream_time_to_first_byte_seconds"
                         "_count"), 2);
    free(t);
    free(m);
}

static void
tokens_are_summed_by_model_and_provider(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s = summary("a", "p", 200, FG_E_NONE);
    char                *t;

    s.prompt_tokens = 10;
    s.completion_tokens = 20;
    s.reasoning_tokens = 3;
    s.cached_tokens = 4;
    fg_metrics_request_done(m, 0, &s);
    /* Another series of the same pair: a stream that failed mid-way. */
    s.status = 200;
    s.error = FG_E_PROVIDER_ERROR;
    s.prompt_tokens = 1;
    s.completion_tokens = -1;       /* unknown: not counted */
    fg_metrics_request_done(m, 1, &s);
    t = render(m);
    expect_int_eq(sample(t, "fluxgate_tokens_total{model=\"a\","
                         "provider=\"p\",direction=\"prompt\"}"), 11);
    expect_int_eq(sample(t, "fluxgate_tokens_total{model=\"a\","
                         "provider=\"p\",direction=\"completion\"}"), 20);
    expect_int_eq(sample(t, "fluxgate_tokens_total{model=\"a\","
                         "provider=\"p\",direction=\"reasoning\"}"), 6);
    expect_int_eq(sample(t, "fluxgate_tokens_total{model=\"a\","
                         "provider=\"p\",direction=\"cached\"}"), 8);
    expect_int_eq(count_lines(t, "fluxgate_tokens_total{model=\"a\","
                              "provider=\"p\",direction=\"prompt\"}"), 1);
    free(t);
    free(m);
}

static void
limits_and_upstream_failures_are_counted_by_kind(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s;
    char                *t;

    s = summary("a", "p", 429, FG_E_RATE_LIMIT_TOKENS);
    s.limit = FG_LIMIT_TOKENS;
    fg_metrics_request_done(m, 0, &s);
    s = summary("a", "p", 502, FG_E_PROVIDER_ERROR);
    s.upstream = FG_UPSTREAM_5XX;
    fg_metrics_request_done(m, 0, &s);
    s.upstream = FG_UPSTREAM_RESET;
    fg_metrics_request_done(m, 3, &s);
    t = render(m);
    expect_int_eq(sample(t, "fluxgate_rate_limit_rejections_total"
                         "{limit=\"tokens\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_rate_limit_rejections_total"
                         "{limit=\"requests\"}"), 0);
    expect_int_eq(sample(t, "fluxgate_upstream_errors_total{provider=\"p\","
                         "kind=\"5xx\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_upstream_errors_total{provider=\"p\","
                         "kind=\"reset\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_upstream_errors_total{provider=\"p\","
                         "kind=\"connect\"}"), 0);
    expect_int_eq(sample(t, "fluxgate_upstream_errors_total{provider=\"\","
                         "kind=\"connect\"}"), -1);
    free(t);
    free(m);
}

static void
per_key_series_only_when_switched_on(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s = summary("a", "p", 200, FG_E_NONE);
    char                *t;

    s.key_id = "key_00000000000000aa";
    s.prompt_tokens = 5;
    fg_metrics_request_done(m, 0, &s);          /* off: not counted */
    t = render(m);
    expect_true(strstr(t, "fluxgate_key_") == NULL);
    free(t);

    fg_metrics_set_per_key(m, 1);
    fg_metrics_request_done(m, 0, &s);
    fg_metrics_request_done(m, 1, &s);
    s.key_id = "not-a-key-id";
    fg_metrics_request_done(m, 1, &s);
    s.key_id = "";                               /* unauthenticated */
    fg_metrics_request_done(m, 1, &s);
    t = render(m);
    expect_int_eq(sample(t, "fluxgate_key_requests_total"
                         "{key=\"key_00000000000000aa\"}"), 2);
    expect_int_eq(sample(t, "fluxgate_key_tokens_total"
                         "{key=\"key_00000000000000aa\",direction="
                         "\"prompt\"}"), 10);
    expect_int_eq(sample(t, "fluxgate_key_requests_total{key=\"other\"}"),
                  1);
    free(t);

    fg_metrics_set_per_key(m, 0);
    t = render(m);
    expect_true(strstr(t, "fluxgate_key_") == NULL);
    free(t);
    free(m);
}

static void
full_series_table_keeps_totals_under_other(void)
{
    fg_metrics_t        *m = region_new();
    fg_request_summary_t s;
    char                 name[32], *t, *p;
    long long            total = 0;
    int                  i, c, n = 0;

    for (i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        expect_int_eq(fg_metrics_name_add(m, name, NULL), FG_OK);
    }
    /* 200 models x 12 codes: more label sets than the table holds. */
    for (i = 0; i < 200; i++) {
        for (c = 0; c < 12; c++) {
            snprintf(name, sizeof(name), "m%d", i);
            s = summary(name, "m0", 400, (fg_error_code_t) (2 + c));
            fg_metrics_request_done(m, 0, &s);
            n++;
        }
    }
    s = summary("unknown", "unknown", 200, FG_E_NONE);
    fg_metrics_request_done(m, 0, &s);
    n++;
    t = render(m);
    for (p = t; (p = strstr(p, "\nfluxgate_requests_total{")) != NULL; p++) {
        total += strtoll(strchr(p, '}') + 2, NULL, 10);
    }
    expect_int_eq(total, n);
    expect_true(strstr(t, "fluxgate_requests_total{model=\"other\","
                          "provider=\"other\",status_class=\"4xx\"") != NULL);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"other\","
                         "provider=\"other\",status_class=\"2xx\","
                         "code=\"\"}"), 1);
    free(t);
    free(m);
}

static void
label_values_are_escaped(void)
{
    fg_metrics_t        *m = region_new();
    fg_request_summary_t s = summary("a\"b\\c", "p", 200, FG_E_NONE);
    char                *t;

    expect_int_eq(fg_metrics_name_add(m, "a\"b\\c", NULL), FG_OK);
    fg_metrics_request_done(m, 0, &s);
    t = render(m);
    expect_true(strstr(t, "model=\"a\\\"b\\\\c\"") != NULL);
    free(t);
    free(m);
}

/* 1 when @line is a whole line of @text. */
static int
has_line(const char *text, const char *line)
{
    size_t      n = strlen(line);
    const char *p = text;

    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n') {
            return 1;
        }
        p += n;
    }
    return 0;
}

static void
impact_is_summed_exactly_by_model_and_provider_as_fixed_decimals(void)
{
    fg_metrics_t        *m = region_with_names();
    fg_request_summary_t s = summary("a", "p", 200, FG_E_NONE);
    char                *t;

    s.has_impact = 1;
    s.energy_kwh = 0.1;             /* no binary double is exactly 0.1 */
    s.carbon_g_co2 = 0.2;
    s.water_liters = 0.0000000015;
    fg_metrics_request_done(m, 0, &s);
    /* Another worker, another series of the same pair. */
    s.status = 500;
    s.error = FG_E_PROVIDER_ERROR;
    s.energy_kwh = 0.2;
    s.carbon_g_co2 = 1.5;
    s.water_liters = 2;
    fg_metrics_request_done(m, 1, &s);
    /* No impact: nothing added, and no garbage read. */
    s.has_impact = 0;
    s.energy_kwh = -1;
    fg_metrics_request_done(m, 1, &s);
    t = render(m);
    expect_true(has_line(t, "# TYPE fluxgate_energy_kwh_total counter"));
    expect_true(has_line(t, "fluxgate_energy_kwh_total{model=\"a\","
                         "provider=\"p\"} 0.300000000000"));
    expect_true(has_line(t, "fluxgate_carbon_grams_total{model=\"a\","
                         "provider=\"p\"} 1.700000000"));
    expect_true(has_line(t, "fluxgate_water_liters_total{model=\"a\","
                         "provider=\"p\"} 2.000000002"));
    /* b served nothing: no sample for it. */
    expect_int_eq(count_lines(t, "fluxgate_energy_kwh_total{model=\"b\""),
                  0);
    free(t);
    free(m);
}

static void
journal_sync_histogram_counts_each_sync_in_its_bucket(void)
{
    fg_metrics_t *m = region_new();
    char         *t;

    fg_metrics_journal_synced(m, 300);          /* le 0.0005 */
    fg_metrics_journal_synced(m, 1000);         /* le 0.001, inclusive */
    fg_metrics_journal_synced(m, 20000000);     /* +Inf */
    t = render(m);
    expect_int_eq(sample(t, "fluxgate_usage_journal_sync_duration_seconds_"
                         "bucket{le=\"0.0005\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_usage_journal_sync_duration_seconds_"
                         "bucket{le=\"0.001\"}"), 2);
    expect_int_eq(sample(t, "fluxgate_usage_journal_sync_duration_seconds_"
                         "bucket{le=\"10\"}"), 2);
    expect_int_eq(sample(t, "fluxgate_usage_journal_sync_duration_seconds_"
                         "bucket{le=\"+Inf\"}"), 3);
    expect_int_eq(sample(t, "fluxgate_usage_journal_sync_duration_seconds_"
                         "count"), 3);
    expect_true(has_line(t, "fluxgate_usage_journal_sync_duration_seconds_"
                         "sum 20.001300"));
    free(t);
    free(m);
}

static void
exposition_reports_the_usage_backlog_and_its_oldest_age(void)
{
    fg_shm_t          shm;
    fg_err_t          err;
    fg_usage_record_t rec, out[4];
    char             *t, *age;
    size_t            len = 0, n = 0;
    int               recovered;

    expect_int_eq(fg_shm_create(&shm, NULL, 100, 64, FG_CLIENTCONNS_MIN_SLOTS, 16, &recovered, &err), FG_OK);
    t = fg_exposition_render(&shm, &health, &len, &err);
    expect_int_eq(sample(t, "fluxgate_usage_records_pending"), 0);
    expect_true(has_line(t, "fluxgate_usage_oldest_pending_age_seconds "
                         "0.000"));
    free(t);

    /* Ended 90 s ago (started 100 s ago, 10 s long), then one just now. */
    fg_usage_init(&rec);
    rec.started_unix_ms = fg_wall_ms() - 100000;
    rec.latency_us = 10000000;
    expect_int_eq(fg_usagering_push(shm.usage, 1, &rec, NULL), FG_OK);
    rec.started_unix_ms = fg_wall_ms();
    rec.latency_us = 0;
    expect_int_eq(fg_usagering_push(shm.usage, 0, &rec, NULL), FG_OK);
    t = fg_exposition_render(&shm, &health, &len, &err);
    expect_int_eq(sample(t, "fluxgate_usage_records_pending"), 2);
    age = strstr(t, "\nfluxgate_usage_oldest_pending_age_seconds ");
    expect_true(age != NULL);
    if (age != NULL) {
        double secs = strtod(strchr(age + 1, ' '), NULL);

        expect_true(secs >= 90.0 && secs < 120.0);
    }
    free(t);

    /* Synced: the journal has them, the rings are empty again. */
    expect_int_eq(fg_usagering_drain(shm.usage, 1, 0, out, 4, &n), FG_OK);
    expect_int_eq(fg_usagering_commit(shm.usage, 1, n), FG_OK);
    expect_int_eq(fg_usagering_drain(shm.usage, 0, 0, out, 4, &n), FG_OK);
    expect_int_eq(fg_usagering_commit(shm.usage, 0, n), FG_OK);
    t = fg_exposition_render(&shm, &health, &len, &err);
    expect_int_eq(sample(t, "fluxgate_usage_records_pending"), 0);
    expect_true(has_line(t, "fluxgate_usage_oldest_pending_age_seconds "
                         "0.000"));
    free(t);
    fg_shm_destroy(&shm);
}

static void
exposition_adds_the_gauges_of_the_arena(void)
{
    fg_shm_t             shm;
    fg_err_t             err;
    fg_request_summary_t s = summary("", "", 200, FG_E_NONE);
    char                *t;
    size_t               len = 0;
    int                  recovered;

    expect_int_eq(fg_shm_create(&shm, NULL, 100, 64, FG_CLIENTCONNS_MIN_SLOTS, 16, &recovered, &err), FG_OK);
    atomic_store(&shm.header->sh_generation, 3);
    atomic_store(&fg_shm_worker(&shm, 0)->ws_state, FG_WORKER_READY);
    atomic_store(&fg_shm_worker(&shm, 0)->ws_generation, 3);
    atomic_store(&fg_shm_worker(&shm, 0)->ws_in_flight, 2);
    atomic_store(&fg_shm_worker(&shm, 1)->ws_state, FG_WORKER_READY);
    atomic_store(&fg_shm_worker(&shm, 1)->ws_generation, 2);
    /* A dead worker's stale gauge is not counted. */
    atomic_store(&fg_shm_worker(&shm, 2)->ws_in_flight, 40);
    atomic_store(&shm.header->sh_worker_restarts, 5);
    fg_metrics_request_done(shm.metrics, 0, &s);
    t = fg_exposition_render(&shm, &health, &len, &err);
    expect_true(t != NULL);
    expect_int_eq(len, strlen(t));
    expect_int_eq(sample(t, "fluxgate_requests_in_flight"), 2);
    expect_int_eq(sample(t, "fluxgate_workers_up"), 1);
    expect_int_eq(sample(t, "fluxgate_worker_restarts_total"), 5);
    expect_int_eq(sample(t, "fluxgate_key_table_capacity"), 100);
    expect_int_eq(sample(t, "fluxgate_key_table_used"), 0);
    expect_int_eq(sample(t, "fluxgate_concurrency_slots_held"), 0);
    expect_int_eq(sample(t, "fluxgate_requests_total{model=\"\","
                         "provider=\"\",status_class=\"2xx\",code=\"\"}"),
                  1);
    free(t);
    fg_shm_destroy(&shm);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void) sb;
    (void) flag;
    (void) f;
    return remove(path);
}

static void
exposition_reports_the_response_store(void)
{
    fg_respstore_conf_t c;
    fg_shm_t            shm;
    fg_err_t            err;
    char                root[] = "/tmp/fg-test-metrics-XXXXXX", dir[64];
    char               *t;
    size_t              len = 0;
    int                 recovered;
    int64_t             now = fg_wall_ms();

    expect_int_eq(fg_shm_create(&shm, NULL, 100, 64, FG_CLIENTCONNS_MIN_SLOTS, 16, &recovered, &err), FG_OK);
    expect_true(mkdtemp(root) != NULL);
    snprintf(dir, sizeof(dir), "%s/responses", root);
    c = (fg_respstore_conf_t) { dir, 1 << 20, 1 << 16, 60000 };
    expect_int_eq(fg_respstore_prepare(shm.responses, &c, now, &err), FG_OK);
    expect_int_eq(fg_respstore_put(shm.responses, &c, "key_a", "resp_1", now,
                                   "", 0, "[{\"id\":\"msg_1\"}]", 16,
                                   &err), FG_OK);
    t = fg_exposition_render(&shm, &health, &len, &err);
    expect_true(sample(t, "fluxgate_response_store_bytes") > 0);
    expect_int_eq(sample(t, "fluxgate_response_store_files"), 2);
    expect_int_eq(sample(t, "fluxgate_response_store_stored_total"), 1);
    expect_int_eq(sample(t, "fluxgate_response_store_refused_total"), 0);
    expect_int_eq(sample(t, "fluxgate_response_store_failed_total"), 0);
    expect_int_eq(sample(t, "fluxgate_response_store_expired_total"), 0);
    expect_int_eq(sample(t, "fluxgate_response_store_evicted_total"), 0);
    expect_int_eq(sample(t, "fluxgate_response_store_sweeps_total"), 0);
    expect_true(has_line(t, "# TYPE fluxgate_response_store_sweeps_total "
                         "counter"));
    free(t);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    fg_shm_destroy(&shm);
}

static void
exposition_lists_every_endpoint_of_the_health_table(void)
{
    fg_shm_t shm;
    fg_err_t err;
    char    *t;
    size_t   len = 0;
    int      recovered, slot, i;
    int64_t  now = fg_mono_ms();

    expect_int_eq(fg_shm_create(&shm, NULL, 100, 64, FG_CLIENTCONNS_MIN_SLOTS, 16, &recovered, &err), FG_OK);
    t = fg_exposition_render(&shm, &health, &len, &err);
    /* No endpoint yet: the families, without samples. */
    expect_int_eq(count_lines(t, "# TYPE fluxgate_endpoint_"), 6);
    expect_int_eq(count_lines(t, "fluxgate_endpoint_"), 0);
    free(t);

    slot = fg_health_bind(shm.health, "acme\"eu", "m-1");
    fg_health_bind(shm.health, "demo", "demo-model");
    for (i = 0; i < health.failures; i++) {
        fg_health_end(shm.health, slot, &health, now,
                      FG_ATTEMPT_CONNECT_FAILED, 0, 1, -1, -1);
    }
    fg_health_failover(shm.health, slot);
    fg_health_end(shm.health, 1, &health, now, FG_ATTEMPT_STATUS, 1, 0,
                  250, 40);
    t = fg_exposition_render(&shm, &health, &len, &err);
    expect_int_eq(sample(t, "fluxgate_endpoint_state{provider=\"acme\\\"eu\","
                         "model=\"m-1\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_endpoint_state{provider=\"demo\","
                         "model=\"demo-model\"}"), 0);
    expect_int_eq(sample(t, "fluxgate_endpoint_attempts_total{provider="
                         "\"acme\\\"eu\",model=\"m-1\",outcome="
                         "\"connect_failed\"}"), health.failures);
    expect_int_eq(count_lines(t, "fluxgate_endpoint_attempts_total{"), 14);
    expect_int_eq(sample(t, "fluxgate_endpoint_failovers_total{provider="
                         "\"acme\\\"eu\",model=\"m-1\"}"), 1);
    expect_int_eq(sample(t, "fluxgate_endpoint_circuit_opened_total{"
                         "provider=\"acme\\\"eu\",model=\"m-1\"}"), 1);
    expect_true(has_line(t, "fluxgate_endpoint_ttft_seconds{provider="
                         "\"demo\",model=\"demo-model\"} 0.25"));
    expect_int_eq(sample(t, "fluxgate_endpoint_tokens_per_second{provider="
                         "\"demo\",model=\"demo-model\"}"), 40);
    /* Not measured: no sample rather than a 0. */
    expect_int_eq(count_lines(t, "fluxgate_endpoint_ttft_seconds{"), 1);
    free(t);
    fg_shm_destroy(&shm);
}

FG_TEST_MAIN("metrics",
    FG_TEST_CASE(region_size_is_aligned_and_init_checks_it),
    FG_TEST_CASE(requests_are_labelled_by_catalog_names),
    FG_TEST_CASE(name_add_is_idempotent),
    FG_TEST_CASE(unknown_names_count_as_other_and_unrouted_as_empty),
    FG_TEST_CASE(full_name_table_refuses_and_counts_as_other),
    FG_TEST_CASE(long_name_is_refused),
    FG_TEST_CASE(counts_are_summed_over_worker_blocks),
    FG_TEST_CASE(status_class_and_code_label_each_outcome),
    FG_TEST_CASE(codes_sharing_a_string_make_one_series),
    FG_TEST_CASE(histogram_buckets_are_cumulative_with_le_inclusive),
    FG_TEST_CASE(tokens_are_summed_by_model_and_provider),
    FG_TEST_CASE(limits_and_upstream_failures_are_counted_by_kind),
    FG_TEST_CASE(per_key_series_only_when_switched_on),
    FG_TEST_CASE(full_series_table_keeps_totals_under_other),
    FG_TEST_CASE(label_values_are_escaped),
    FG_TEST_CASE(impact_is_summed_exactly_by_model_and_provider_as_fixed_decimals),
    FG_TEST_CASE(journal_sync_histogram_counts_each_sync_in_its_bucket),
    FG_TEST_CASE(exposition_reports_the_usage_backlog_and_its_oldest_age),
    FG_TEST_CASE(exposition_adds_the_gauges_of_the_arena),
    FG_TEST_CASE(exposition_reports_the_response_store),
    FG_TEST_CASE(exposition_lists_every_endpoint_of_the_health_table))
