/*
 * test_validate_apis.c: the validators of POST /v1/embeddings and of the
 * legacy POST /v1/completions, each rule accepted and refused with its
 * code and param, and how their inputs are counted
 * (common/tokens/tokcount.h). Bodies use ' for ".
 */

#include "worker/validate.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/errors.h"
#include "common/tokens/tokcount.h"
#include "tests/unit/fg_test.h"

static fg_err_t          emb_err;
static fg_chat_request_t emb_req;
static fg_jdoc_t         emb_doc;
static char             *emb_body;

static int (*emb_validator)(const char *, size_t, size_t, fg_jdoc_t *,
                            fg_chat_request_t *, fg_err_t *)
    = fg_validate_embeddings_body;

/* Validates @body (' for "): 1 accepted (emb_doc holds it), 0 refused. */
static int
emb_run(const char *body)
{
    size_t i, n = strlen(body);

    if (emb_body != NULL) {
        free(emb_body);
    }
    emb_body = malloc(n + 1);
    for (i = 0; i <= n; i++) {
        emb_body[i] = body[i] == '\'' ? '"' : body[i];
    }
    memset(&emb_err, 0, sizeof(emb_err));
    memset(&emb_req, 0, sizeof(emb_req));
    return emb_validator(emb_body, n, 64, &emb_doc, &emb_req, &emb_err)
           == FG_OK;
}

static void
emb_done(void)
{
    fg_jdoc_free(&emb_doc);
}

/* @body is refused with @code at @param. */
static void
emb_refused(const char *body, fg_error_code_t code, const char *param)
{
    if (emb_run(body)) {
        FG_TEST_FAIL("accepted %s", body);
        emb_done();
        return;
    }
    expect_int_eq(emb_err.code, code);
    expect_str_eq(emb_err.param, param);
}

static void
embeddings_a_string_input_is_one_input(void)
{
    expect_true(emb_run("{'model':'m','input':'hello'}"));
    expect_int_eq(emb_req.inputs, 1);
    expect_int_eq(emb_req.n, 1);
    expect_int_eq(emb_req.wants_base64, 0);
    emb_done();
}

static void
embeddings_an_array_of_strings_is_one_input_each(void)
{
    expect_true(emb_run("{'model':'m','input':['a','b','c']}"));
    expect_int_eq(emb_req.inputs, 3);
    emb_done();
}

static void
embeddings_token_ids_are_one_input_and_token_arrays_one_each(void)
{
    expect_true(emb_run("{'model':'m','input':[1,2,3]}"));
    expect_int_eq(emb_req.inputs, 1);
    emb_done();
    expect_true(emb_run("{'model':'m','input':[[1,2],[3]]}"));
    expect_int_eq(emb_req.inputs, 2);
    emb_done();
}

static void
embeddings_base64_is_recorded_and_float_is_the_default(void)
{
    expect_true(emb_run("{'model':'m','input':'x','encoding_format':"
                        "'base64'}"));
    expect_int_eq(emb_req.wants_base64, 1);
    emb_done();
    expect_true(emb_run("{'model':'m','input':'x','encoding_format':"
                        "'float','dimensions':256,'user':'u'}"));
    expect_int_eq(emb_req.wants_base64, 0);
    emb_done();
}

static void
embeddings_missing_or_empty_input_is_refused(void)
{
    emb_refused("{'model':'m'}", FG_E_REQUIRED_FIELD, "input");
    emb_refused("{'model':'m','input':''}", FG_E_INVALID_VALUE, "input");
    emb_refused("{'model':'m','input':[]}", FG_E_OUT_OF_RANGE, "input");
    emb_refused("{'model':'m','input':['a','']}", FG_E_INVALID_VALUE,
                "input[1]");
    emb_refused("{'model':'m','input':[[]]}", FG_E_INVALID_VALUE,
                "input[0]");
}

static void
embeddings_mixed_or_wrong_kinds_are_refused_at_the_entry(void)
{
    emb_refused("{'model':'m','input':5}", FG_E_INVALID_TYPE, "input");
    emb_refused("{'model':'m','input':['a',1]}", FG_E_INVALID_TYPE,
                "input[1]");
    emb_refused("{'model':'m','input':[[1],'a']}", FG_E_INVALID_TYPE,
                "input[1]");
    emb_refused("{'model':'m','input':[{'a':1}]}", FG_E_INVALID_TYPE,
                "input[0]");
    emb_refused("{'model':'m','input':[1,-2]}", FG_E_INVALID_VALUE,
                "input[1]");
    emb_refused("{'model':'m','input':[[1,2.5]]}", FG_E_INVALID_VALUE,
                "input[0][1]");
}

static void
embeddings_more_than_2048_inputs_are_refused(void)
{
    size_t i;
    char  *body = malloc(32 + 4 * 2049), *p = body;

    p += sprintf(p, "{'model':'m','input':[");
    for (i = 0; i < 2049; i++) {
        p += sprintf(p, "%s'a'", i ? "," : "");
    }
    sprintf(p, "]}");
    emb_refused(body, FG_E_OUT_OF_RANGE, "input");
    free(body);
}

static void
embeddings_bad_options_are_refused(void)
{
    emb_refused("{'model':'m','input':'x','encoding_format':'int8'}",
                FG_E_INVALID_VALUE, "encoding_format");
    emb_refused("{'model':'m','input':'x','dimensions':0}",
                FG_E_OUT_OF_RANGE, "dimensions");
    emb_refused("{'input':'x'}", FG_E_REQUIRED_FIELD, "model");
    emb_refused("{'model':'m','input':'x','api_base':'http://x'}",
                FG_E_FORBIDDEN_FIELD, "api_base");
}

static void
embeddings_chat_transforms_are_refused(void)
{
    emb_refused("{'model':'m','input':'x','reasoning':{'effort':'low'}}",
                FG_E_INVALID_VALUE, "reasoning");
    emb_refused("{'model':'m','input':'x','transforms':['middle-out']}",
                FG_E_INVALID_VALUE, "transforms");
}

static void
embeddings_routing_fields_are_accepted(void)
{
    expect_true(emb_run("{'model':'m','input':'x','models':['n'],"
                        "'provider':{'order':['p']}}"));
    emb_done();
}

static void
embeddings_count_sums_inputs_and_names_the_largest(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;
    int64_t            largest;

    fg_token_profile_default(&p);     /* no tokenizer: bounds */
    expect_true(emb_run("{'model':'m','input':[[1,2,3],[4]]}"));
    fg_tokcount_inputs(&p, &emb_doc, "input", NULL, 1 << 16, &c, &largest);
    /* Token ids are exact. */
    expect_int_eq(c.prompt.lower, 3 + 1);
    expect_int_eq(c.prompt.upper, 3 + 1);
    expect_int_eq(largest, 3);
    emb_done();
    expect_true(emb_run("{'model':'m','input':['abcdefgh','ab']}"));
    fg_tokcount_inputs(&p, &emb_doc, "input", NULL, 1 << 16, &c, &largest);
    /* Without a tokenizer 8 bytes are 1 to 8 tokens, 2 bytes 1 to 2; no
     * chat frame. */
    expect_int_eq(c.prompt.lower, 1 + 1);
    expect_int_eq(c.prompt.upper, 8 + 2);
    expect_int_eq(largest, 1);
    emb_done();
    expect_true(emb_run("{'model':'m','input':[5,6,7,8]}"));
    fg_tokcount_inputs(&p, &emb_doc, "input", NULL, 1 << 16, &c, &largest);
    expect_int_eq(c.prompt.lower, 4);
    expect_int_eq(c.prompt.upper, 4);
    expect_int_eq(largest, 4);
    emb_done();
}

/* The completions tests run the legacy validator. */
static void
completions_use_their_validator(void)
{
    emb_validator = fg_validate_completions_body;
}

static void
completions_a_string_prompt_even_empty_is_one_prompt(void)
{
    expect_true(emb_run("{'model':'m','prompt':''}"));
    expect_int_eq(emb_req.inputs, 1);
    expect_int_eq(emb_req.n, 1);
    expect_int_eq(emb_req.tokens_field, FG_TOKENS_FIELD_NONE);
    emb_done();
}

static void
completions_generate_prompts_times_the_larger_of_n_and_best_of(void)
{
    expect_true(emb_run("{'model':'m','prompt':['a','b','c'],'n':2,"
                        "'best_of':4,'max_tokens':7}"));
    expect_int_eq(emb_req.inputs, 3);
    expect_int_eq(emb_req.n, 12);
    expect_int_eq(emb_req.max_tokens, 7);
    expect_int_eq(emb_req.tokens_field, FG_TOKENS_FIELD_MAX_TOKENS);
    emb_done();
    expect_true(emb_run("{'model':'m','prompt':[[1,2],[3]],'n':3}"));
    expect_int_eq(emb_req.n, 6);
    emb_done();
}

static void
completions_options_are_accepted(void)
{
    expect_true(emb_run("{'model':'m','prompt':'x','suffix':'y','echo':true,"
                        "'logprobs':5,'stop':['\\n'],'stream':true,"
                        "'stream_options':{'include_usage':true},"
                        "'temperature':0.5,'max_tokens':0,'seed':1}"));
    expect_int_eq(emb_req.is_stream, 1);
    expect_int_eq(emb_req.include_usage, 1);
    emb_done();
}

static void
completions_bad_options_are_refused(void)
{
    emb_refused("{'model':'m'}", FG_E_REQUIRED_FIELD, "prompt");
    emb_refused("{'model':'m','prompt':[]}", FG_E_OUT_OF_RANGE, "prompt");
    emb_refused("{'model':'m','prompt':['a',2]}", FG_E_INVALID_TYPE,
                "prompt[1]");
    emb_refused("{'model':'m','prompt':'x','best_of':1,'n':2}",
                FG_E_INVALID_VALUE, "best_of");
    emb_refused("{'model':'m','prompt':'x','best_of':2,'stream':true}",
                FG_E_INVALID_VALUE, "best_of");
    emb_refused("{'model':'m','prompt':'x','logprobs':6}",
                FG_E_OUT_OF_RANGE, "logprobs");
    emb_refused("{'model':'m','prompt':'x','suffix':3}", FG_E_INVALID_TYPE,
                "suffix");
    emb_refused("{'model':'m','prompt':'x','plugins':[]}",
                FG_E_INVALID_VALUE, "plugins");
}

static void
completions_count_prompts_as_inputs(void)
{
    fg_token_profile_t p;
    fg_tokcount_t      c;
    int64_t            largest;

    fg_token_profile_default(&p);
    expect_true(emb_run("{'model':'m','prompt':[[1,2,3],[4,5]]}"));
    fg_tokcount_inputs(&p, &emb_doc, "prompt", "suffix", 1 << 16, &c, &largest);
    expect_int_eq(c.prompt.lower, 5);
    expect_int_eq(c.prompt.upper, 5);
    expect_int_eq(largest, 3);
    emb_done();
    /* A suffix of 8 bytes (1 to 8 tokens without a tokenizer) follows
     * each of the two prompts. */
    expect_true(emb_run("{'model':'m','prompt':[[1,2,3],[4,5]],"
                        "'suffix':'abcdefgh'}"));
    fg_tokcount_inputs(&p, &emb_doc, "prompt", "suffix", 1 << 16, &c,
                       &largest);
    expect_int_eq(c.prompt.lower, 5 + 2 * 1);
    expect_int_eq(c.prompt.upper, 5 + 2 * 8);
    expect_int_eq(largest, 3 + 1);
    emb_done();
}

static void
embeddings_cleanup(void)
{
    free(emb_body);
    emb_body = NULL;
}

FG_TEST_MAIN("validate_apis",
    FG_TEST_CASE(embeddings_a_string_input_is_one_input),
    FG_TEST_CASE(embeddings_an_array_of_strings_is_one_input_each),
    FG_TEST_CASE(embeddings_token_ids_are_one_input_and_token_arrays_one_each),
    FG_TEST_CASE(embeddings_base64_is_recorded_and_float_is_the_default),
    FG_TEST_CASE(embeddings_missing_or_empty_input_is_refused),
    FG_TEST_CASE(embeddings_mixed_or_wrong_kinds_are_refused_at_the_entry),
    FG_TEST_CASE(embeddings_more_than_2048_inputs_are_refused),
    FG_TEST_CASE(embeddings_bad_options_are_refused),
    FG_TEST_CASE(embeddings_chat_transforms_are_refused),
    FG_TEST_CASE(embeddings_routing_fields_are_accepted),
    FG_TEST_CASE(embeddings_count_sums_inputs_and_names_the_largest),
    FG_TEST_CASE(completions_use_their_validator),
    FG_TEST_CASE(completions_a_string_prompt_even_empty_is_one_prompt),
    FG_TEST_CASE(completions_generate_prompts_times_the_larger_of_n_and_best_of),
    FG_TEST_CASE(completions_options_are_accepted),
    FG_TEST_CASE(completions_bad_options_are_refused),
    FG_TEST_CASE(completions_count_prompts_as_inputs),
    FG_TEST_CASE(embeddings_cleanup))
