/*
 * test_errors.c: the error table and the OpenAI error body.
 */

#include "common/base/errors.h"

#include <jansson.h>

#include "tests/unit/fg_test.h"

static void
validation_codes_are_400_invalid_request_errors(void)
{
    expect_int_eq(fg_error_status(FG_E_REQUIRED_FIELD), 400);
    expect_str_eq(fg_error_type(FG_E_REQUIRED_FIELD),
                  "invalid_request_error");
    expect_str_eq(fg_error_code_str(FG_E_REQUIRED_FIELD),
                  "VALIDATION_REQUIRED_FIELD");
}

static void
provider_failures_map_to_502_and_504(void)
{
    expect_int_eq(fg_error_status(FG_E_PROVIDER_ERROR), 502);
    expect_str_eq(fg_error_code_str(FG_E_PROVIDER_ERROR),
                  "INFERENCE_PROVIDER_ERROR");
    expect_int_eq(fg_error_status(FG_E_PROVIDER_TIMEOUT), 504);
}

static void
out_of_table_code_renders_as_internal_error(void)
{
    expect_int_eq(fg_error_status((fg_error_code_t) 9999), 500);
}

static void
rendered_body_has_the_openai_shape(void)
{
    fg_err_t     err;
    char         buf[FG_ERROR_BODY_MAX];
    json_t      *root, *e;
    json_error_t jerr;

    fg_err_set(&err, FG_E_OUT_OF_RANGE, "temperature",
               "temperature must be at most 2, got %d", 3);
    fg_error_render(&err, buf, sizeof(buf));
    root = json_loads(buf, 0, &jerr);
    e = json_object_get(root, "error");
    expect_true(json_is_object(e));
    expect_str_eq(json_string_value(json_object_get(e, "message")),
                  "temperature must be at most 2, got 3");
    expect_str_eq(json_string_value(json_object_get(e, "type")),
                  "invalid_request_error");
    expect_str_eq(json_string_value(json_object_get(e, "param")),
                  "temperature");
    expect_str_eq(json_string_value(json_object_get(e, "code")),
                  "VALIDATION_OUT_OF_RANGE");
    json_decref(root);
}

static void
missing_param_renders_as_null(void)
{
    fg_err_t err;
    char     buf[FG_ERROR_BODY_MAX];

    fg_err_set(&err, FG_E_PROVIDER_ERROR, NULL, "x");
    fg_error_render(&err, buf, sizeof(buf));
    expect_true(strstr(buf, "\"param\":null") != NULL);
}

static void
quotes_and_control_bytes_in_messages_are_escaped(void)
{
    fg_err_t     err;
    char         buf[FG_ERROR_BODY_MAX];
    json_t      *root;
    json_error_t jerr;

    fg_err_set(&err, FG_E_INVALID_VALUE, "a\"b", "bad \"value\"\n\t<x>");
    fg_error_render(&err, buf, sizeof(buf));
    root = json_loads(buf, 0, &jerr);
    expect_true(root != NULL);
    json_decref(root);
}

static void
message_that_is_not_utf8_still_renders_valid_json(void)
{
    fg_err_t     err;
    char         buf[FG_ERROR_BODY_MAX];
    json_t      *root;
    json_error_t jerr;

    fg_err_set(&err, FG_E_INVALID_VALUE, NULL, "bad \xff\xfe bytes");
    fg_error_render(&err, buf, sizeof(buf));
    root = json_loads(buf, 0, &jerr);
    expect_str_eq(json_string_value(json_object_get(
                      json_object_get(root, "error"), "message")),
                  "bad ?? bytes");
    json_decref(root);
}

static void
null_err_is_accepted_and_returns_fg_err(void)
{
    expect_int_eq(fg_err_set(NULL, FG_E_INTERNAL, NULL, "ignored"), FG_ERR);
}

FG_TEST_MAIN("errors",
    FG_TEST_CASE(validation_codes_are_400_invalid_request_errors),
    FG_TEST_CASE(provider_failures_map_to_502_and_504),
    FG_TEST_CASE(out_of_table_code_renders_as_internal_error),
    FG_TEST_CASE(rendered_body_has_the_openai_shape),
    FG_TEST_CASE(missing_param_renders_as_null),
    FG_TEST_CASE(quotes_and_control_bytes_in_messages_are_escaped),
    FG_TEST_CASE(message_that_is_not_utf8_still_renders_valid_json),
    FG_TEST_CASE(null_err_is_accepted_and_returns_fg_err))
