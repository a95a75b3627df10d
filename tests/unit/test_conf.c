/*
 * test_conf.c: the configuration loader: embedded defaults, overrides,
 * and one clear error per kind of mistake, naming file and key.
 */

#include "common/base/conf.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/fg_test.h"

static char conf_path[64];

static const char *
write_conf(const char *text)
{
    FILE *f;

    snprintf(conf_path, sizeof(conf_path), "/tmp/fg-test-conf-%d.json",
             (int) getpid());
    f = fopen(conf_path, "w");
    fputs(text, f);
    fclose(f);
    return conf_path;
}

static void
defaults_listen_on_loopback_8080(void)
{
    fg_conf_t conf;

    fg_conf_defaults(&conf);
    expect_int_eq(conf.listen_count, 1);
    expect_str_eq(conf.listen[0].host, "127.0.0.1");
    expect_int_eq(conf.listen[0].port, 8080);
    expect_true(conf.workers >= 1);
    expect_int_eq(conf.max_body_bytes, 4 * 1024 * 1024);
    expect_int_eq(conf.max_json_depth, 64);
}

static void
load_without_a_file_gives_the_defaults(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, NULL, &err), FG_OK);
    expect_int_eq(conf.request_timeout_ms, 10000);
}

static void
load_overrides_nested_keys(void)
{
    fg_conf_t conf;
    fg_err_t  err;
    int       rc;

    rc = fg_conf_load(&conf, write_conf(
        "{\"workers\": 3, \"limits\": {\"max_body_bytes\": 65536},"
        " \"listen\": [\"127.0.0.1:9000\", \"[::1]:9001\"]}"), &err);
    expect_int_eq(rc, FG_OK);
    expect_int_eq(conf.workers, 3);
    expect_int_eq(conf.max_body_bytes, 65536);
    expect_int_eq(conf.listen_count, 2);
    expect_str_eq(conf.listen[1].host, "::1");
    expect_int_eq(conf.listen[1].port, 9001);
    expect_int_eq(conf.max_header_bytes, 16384);
}

static void
body_buffer_budget_defaults_to_128_mib_and_holds_one_body(void)
{
    fg_conf_t conf;
    fg_err_t  err;
    int       rc;

    expect_int_eq(fg_conf_load(&conf, NULL, &err), FG_OK);
    expect_int_eq(conf.body_buffer_budget_bytes, 128 * 1024 * 1024);
    /* A budget smaller than one body allowed could never receive it. */
    rc = fg_conf_load(&conf, write_conf(
        "{\"limits\": {\"max_body_bytes\": 2097152,"
        " \"body_buffer_budget_bytes\": 1048576}}"), &err);
    expect_int_eq(rc, FG_ERR);
    expect_true(strstr(err.msg, "limits.body_buffer_budget_bytes") != NULL);
    expect_true(strstr(err.msg, "limits.max_body_bytes") != NULL);
}

static void
response_store_defaults_and_its_folder_beside_the_data(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"data_dir\": \"/srv/fg\"}"), &err), FG_OK);
    expect_int_eq(conf.responses_store_bytes, 256 * 1024 * 1024);
    expect_int_eq(conf.responses_store_key_bytes, 16 * 1024 * 1024);
    expect_int_eq(conf.responses_store_ttl_s, 3600);
    expect_int_eq(conf.responses_store_sweep_s, 60);
    expect_str_eq(conf.responses_dir, "/srv/fg/responses");
}

static void
response_store_key_cap_above_the_total_is_an_error(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"responses\": {\"store_bytes\": 1048576,"
        " \"store_key_bytes\": 2097152}}"), &err), FG_ERR);
    expect_str_eq(err.param, "responses.store_key_bytes");
    expect_true(strstr(err.msg, "responses.store_bytes") != NULL);
    /* With the store off, the key cap does not matter. */
    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"responses\": {\"store_bytes\": 0}}"), &err), FG_OK);
    expect_int_eq(conf.responses_store_bytes, 0);
    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"responses\": {\"store_ttl_s\": 59}}"), &err), FG_ERR);
    expect_str_eq(err.param, "responses.store_ttl_s");
}

static void
workers_auto_means_one_per_core(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, write_conf("{\"workers\":\"auto\"}"),
                               &err), FG_OK);
    expect_int_eq(conf.workers, sysconf(_SC_NPROCESSORS_ONLN));
}

static void
unknown_key_is_an_error_naming_its_path(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"limits\": {\"max_bodybytes\": 1}}"), &err), FG_ERR);
    expect_str_eq(err.param, "limits.max_bodybytes");
    expect_true(strstr(err.msg, "unknown key") != NULL);
    expect_true(strstr(err.msg, conf_path) != NULL);
}

static void
wrong_type_is_an_error(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"shutdown_timeout_ms\": \"soon\"}"), &err), FG_ERR);
    expect_int_eq(err.code, FG_E_INVALID_TYPE);
    expect_str_eq(err.param, "shutdown_timeout_ms");
}

static void
out_of_range_value_is_an_error(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"limits\": {\"max_json_depth\": 2}}"), &err), FG_ERR);
    expect_int_eq(err.code, FG_E_OUT_OF_RANGE);
    expect_true(strstr(err.msg, "4..1024") != NULL);
}

static void
section_that_is_not_an_object_is_an_error(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, write_conf("{\"limits\": 5}"), &err),
                  FG_ERR);
    expect_str_eq(err.param, "limits");
}

static void
malformed_json_reports_line_and_column(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, write_conf("{\n  \"workers\": ,\n}"),
                               &err), FG_ERR);
    expect_int_eq(err.code, FG_E_INVALID_JSON);
    expect_true(strstr(err.msg, ":2:") != NULL);
}

static void
duplicate_key_is_an_error(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"workers\": 1, \"workers\": 2}"), &err), FG_ERR);
}

static void
bad_log_level_is_an_error(void)
{
    fg_conf_t conf;
    fg_err_t  err;

    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"log\": {\"level\": \"loud\"}}"), &err), FG_ERR);
    expect_str_eq(err.param, "log.level");
}

static void
listen_requires_host_and_port(void)
{
    fg_listen_t l;
    fg_err_t    err;

    expect_int_eq(fg_conf_parse_listen("127.0.0.1", &l, &err), FG_ERR);
    expect_int_eq(fg_conf_parse_listen(":80", &l, &err), FG_ERR);
    expect_int_eq(fg_conf_parse_listen("h:70000", &l, &err), FG_ERR);
    expect_int_eq(fg_conf_parse_listen("h:8x", &l, &err), FG_ERR);
    expect_int_eq(fg_conf_parse_listen("[::1:80", &l, &err), FG_ERR);
    expect_int_eq(fg_conf_parse_listen("localhost:0", &l, &err), FG_OK);
    expect_str_eq(l.host, "localhost");
}

static void
relative_catalog_paths_resolve_against_the_config_directory(void)
{
    fg_conf_t conf;
    fg_err_t  err;
    char      out[FG_CONF_PATH_MAX];

    expect_int_eq(fg_conf_load(&conf, write_conf("{}"), &err), FG_OK);
    fg_conf_resolve(&conf, conf.providers_file, out, sizeof(out));
    expect_str_eq(out, "/tmp/providers.json");
    fg_conf_resolve(&conf, "/etc/x.json", out, sizeof(out));
    expect_str_eq(out, "/etc/x.json");
    unlink(conf_path);
}

static void
cors_is_off_by_default(void)
{
    fg_conf_t conf;

    fg_conf_defaults(&conf);
    expect_int_eq(conf.cors.count, 0);
    expect_int_eq(conf.cors.any, 0);
}

static void
cors_allowed_origins_are_read_and_checked(void)
{
    static const char *const bad[] = {
        "{\"cors\": {\"allowed_origins\": \"https://a.example\"}}",
        "{\"cors\": {\"allowed_origins\": [5]}}",
        "{\"cors\": {\"allowed_origins\": [\"https://a.example/\"]}}",
        "{\"cors\": {\"allowed_origins\": [\"https://A.example\"]}}",
        "{\"cors\": {\"allowed_origins\": [\"a.example\"]}}",
        "{\"cors\": {\"allowed_origins\": [\"null\"]}}",
        "{\"cors\": {\"allowed_origins\": [\"https://a.example:443\"]}}",
    };
    fg_conf_t conf;
    fg_err_t  err;
    char      text[8192];
    size_t    i, n;

    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"cors\": {\"allowed_origins\": [\"https://a.example\", "
        "\"http://localhost:5173\", \"https://a.example\"]}}"), &err),
        FG_OK);
    expect_int_eq(conf.cors.count, 2);
    expect_str_eq(conf.cors.origins[1], "http://localhost:5173");
    expect_int_eq(fg_conf_load(&conf, write_conf(
        "{\"cors\": {\"allowed_origins\": [\"*\"]}}"), &err), FG_OK);
    expect_int_eq(conf.cors.any, 1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (fg_conf_load(&conf, write_conf(bad[i]), &err) != FG_ERR) {
            FG_TEST_FAIL("%s was accepted", bad[i]);
        }
        expect_str_eq(err.param, "cors.allowed_origins");
    }
    /* 64 entries at most: the 65th is refused. */
    n = (size_t) snprintf(text, sizeof(text),
                          "{\"cors\": {\"allowed_origins\": [");
    for (i = 0; i < FG_CORS_MAX_ORIGINS + 1; i++) {
        n += (size_t) snprintf(text + n, sizeof(text) - n,
                               "%s\"https://h%zu.example\"", i ? "," : "",
                               i);
    }
    snprintf(text + n, sizeof(text) - n, "]}}");
    expect_int_eq(fg_conf_load(&conf, write_conf(text), &err), FG_ERR);
    expect_true(strstr(err.msg, "at most 64") != NULL);
    unlink(conf_path);
}

FG_TEST_MAIN("conf",
    FG_TEST_CASE(cors_is_off_by_default),
    FG_TEST_CASE(cors_allowed_origins_are_read_and_checked),
    FG_TEST_CASE(defaults_listen_on_loopback_8080),
    FG_TEST_CASE(load_without_a_file_gives_the_defaults),
    FG_TEST_CASE(load_overrides_nested_keys),
    FG_TEST_CASE(body_buffer_budget_defaults_to_128_mib_and_holds_one_body),
    FG_TEST_CASE(response_store_defaults_and_its_folder_beside_the_data),
    FG_TEST_CASE(response_store_key_cap_above_the_total_is_an_error),
    FG_TEST_CASE(workers_auto_means_one_per_core),
    FG_TEST_CASE(unknown_key_is_an_error_naming_its_path),
    FG_TEST_CASE(wrong_type_is_an_error),
    FG_TEST_CASE(out_of_range_value_is_an_error),
    FG_TEST_CASE(section_that_is_not_an_object_is_an_error),
    FG_TEST_CASE(malformed_json_reports_line_and_column),
    FG_TEST_CASE(duplicate_key_is_an_error),
    FG_TEST_CASE(bad_log_level_is_an_error),
    FG_TEST_CASE(listen_requires_host_and_port),
    FG_TEST_CASE(relative_catalog_paths_resolve_against_the_config_directory))
