/*
 * test_responses_reply.c: the Responses API's reply made from a chat
 * completion: the response object of a whole reply, and the typed SSE
 * events of a stream, in OpenAI's order, ending with the same response
 * the whole reply gives. JSON texts are written with ' for " so they read
 * like the JSON they are.
 */

#include "worker/responses_reply.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "tests/unit/fg_test.h"

#define RESP_ID  "resp_0123abcd"
#define CREATED  1741290958

/* Strings the helpers return live in this ring, freed on reuse (tests
 * never hold more than a few at once). */
static char *reply_ring[32];
static int   reply_ring_at;

static char *
reply_keep(char *p)
{
    free(reply_ring[reply_ring_at]);
    reply_ring[reply_ring_at] = p;
    reply_ring_at = (reply_ring_at + 1) % 32;
    return p;
}

static char *
reply_quotes(const char *s)
{
    size_t i, n = strlen(s);
    char  *out = malloc(n + 1);

    for (i = 0; i <= n; i++) {
        out[i] = s[i] == '\'' ? '"' : s[i];
    }
    return reply_keep(out);
}

/* The request of most tests: nothing set, so every default shows. */
static fg_responses_req_t
reply_req(void)
{
    fg_responses_req_t rq;

    memset(&rq, 0, sizeof(rq));
    rq.store = 1;
    rq.parallel_tool_calls = 1;
    return rq;
}

/* Node at @path ("output.0.content.0.text") of @doc, or FG_JNONE. */
static int
reply_at(const fg_jdoc_t *doc, const char *path)
{
    char        key[64];
    const char *p = path, *dot;
    int         node = 0, i;
    size_t      len;
    long        k;

    while (node != FG_JNONE && *p != '\0') {
        dot = strchr(p, '.');
        len = dot != NULL ? (size_t) (dot - p) : strlen(p);
        memcpy(key, p, len);
        key[len] = '\0';
        if (fg_jdoc_type(doc, node) == FG_JARRAY) {
            k = strtol(key, NULL, 10);
            for (i = fg_jdoc_first(doc, node); i != FG_JNONE && k > 0;
                 i = fg_jdoc_next(doc, node, i), k--) {
            }
            node = i;
        } else {
            node = fg_jdoc_get(doc, node, key);
        }
        p += len + (dot != NULL);
    }
    return node;
}

/* The raw JSON text at @path of @json (' or "), with " written as '
 * ("(absent)" when there is none, "(invalid)" when @json does not
 * parse). */
static const char *
reply_raw(const char *json, const char *path)
{
    fg_jdoc_t doc;
    int       n;
    char     *out;
    size_t    i;

    if (json == NULL) {
        return "(null)";
    }
    json = reply_quotes(json);
    if (fg_jdoc_parse(&doc, json, strlen(json), 64, NULL) != FG_OK) {
        return "(invalid)";
    }
    n = reply_at(&doc, path);
    if (n == FG_JNONE) {
        fg_jdoc_free(&doc);
        return "(absent)";
    }
    out = malloc(doc.nodes[n].len + 1);
    memcpy(out, json + doc.nodes[n].start, doc.nodes[n].len);
    out[doc.nodes[n].len] = '\0';
    for (i = 0; out[i] != '\0'; i++) {
        out[i] = out[i] == '"' ? '\'' : out[i];
    }
    fg_jdoc_free(&doc);
    return reply_keep(out);
}

/* The response for chat completion @chat (' for "). */
static const char *
reply_to(const char *chat, const fg_responses_req_t *rq)
{
    const char *text = reply_quotes(chat);
    fg_jdoc_t   doc;
    char       *out;
    size_t      len;

    if (fg_jdoc_parse(&doc, text, strlen(text), 64, NULL) != FG_OK) {
        FG_TEST_FAIL("the chat reply does not parse: %s", chat);
        return NULL;
    }
    out = fg_responses_reply(&doc, rq, RESP_ID, CREATED, &len);
    fg_jdoc_free(&doc);
    if (out != NULL) {
        expect_int_eq(len, strlen(out));
        reply_keep(out);
    }
    return out;
}

#define CHAT(msg, finish, usage)                                            \
    "{'id':'chatcmpl-1','object':'chat.completion','created':1,"             \
    "'model':'gpt-4o-2024-08-06','choices':[{'index':0,'message':" msg      \
    ",'finish_reason':'" finish "'}]" usage "}"

#define USAGE ",'usage':{'prompt_tokens':19,'completion_tokens':10,"         \
              "'total_tokens':29,'prompt_tokens_details':{'cached_tokens':3},"\
              "'completion_tokens_details':{'reasoning_tokens':4}}"

/* The whole reply */

static void
reply_of_a_text_completion_is_a_completed_response_with_a_message(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(CHAT("{'role':'assistant','content':"
                                         "'Hello there'}", "stop", USAGE),
                                    &rq);

    expect_str_eq(reply_raw(r, "id"), "'resp_0123abcd'");
    expect_str_eq(reply_raw(r, "object"), "'response'");
    expect_str_eq(reply_raw(r, "created_at"), "1741290958");
    expect_str_eq(reply_raw(r, "status"), "'completed'");
    expect_str_eq(reply_raw(r, "error"), "null");
    expect_str_eq(reply_raw(r, "incomplete_details"), "null");
    expect_str_eq(reply_raw(r, "model"), "'gpt-4o-2024-08-06'");
    expect_str_eq(reply_raw(r, "output"),
                  "[{'id':'msg_0123abcd_0','type':'message',"
                  "'role':'assistant','status':'completed','content':"
                  "[{'type':'output_text','text':'Hello there',"
                  "'annotations':[]}]}]");
    expect_str_eq(reply_raw(r, "output_text"), "(absent)");
}

static void
reply_echoes_the_defaults_of_a_request_that_sets_nothing(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(CHAT("{'role':'assistant','content':'Hi'}",
                                         "stop", ""), &rq);

    expect_str_eq(reply_raw(r, "instructions"), "null");
    expect_str_eq(reply_raw(r, "max_output_tokens"), "null");
    expect_str_eq(reply_raw(r, "metadata"), "{}");
    expect_str_eq(reply_raw(r, "parallel_tool_calls"), "true");
    expect_str_eq(reply_raw(r, "previous_response_id"), "null");
    expect_str_eq(reply_raw(r, "reasoning"),
                  "{'effort':null,'summary':null}");
    expect_str_eq(reply_raw(r, "store"), "true");
    expect_str_eq(reply_raw(r, "temperature"), "1");
    expect_str_eq(reply_raw(r, "text"), "{'format':{'type':'text'}}");
    expect_str_eq(reply_raw(r, "tool_choice"), "'auto'");
    expect_str_eq(reply_raw(r, "tools"), "[]");
    expect_str_eq(reply_raw(r, "top_p"), "1");
    expect_str_eq(reply_raw(r, "truncation"), "'disabled'");
    expect_str_eq(reply_raw(r, "user"), "null");
}

static void
reply_echoes_the_request_fields_as_sent(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r;

    rq.instructions = reply_quotes("'Be brief.'");
    rq.instructions_len = strlen(rq.instructions);
    rq.tools = reply_quotes("[{'type':'function','name':'f'}]");
    rq.tools_len = strlen(rq.tools);
    rq.tool_choice = reply_quotes("'required'");
    rq.tool_choice_len = strlen(rq.tool_choice);
    rq.text = reply_quotes("{'format':{'type':'json_object'}}");
    rq.text_len = strlen(rq.text);
    rq.reasoning = reply_quotes("{'effort':'low'}");
    rq.reasoning_len = strlen(rq.reasoning);
    rq.metadata = reply_quotes("{'k':'v'}");
    rq.metadata_len = strlen(rq.metadata);
    rq.previous_response_id = reply_quotes("'resp_prev'");
    rq.previous_response_id_len = strlen(rq.previous_response_id);
    rq.user = reply_quotes("'u-42'");
    rq.user_len = strlen(rq.user);
    rq.temperature = 0.7;
    rq.has_temperature = 1;
    rq.top_p = 0.25;
    rq.has_top_p = 1;
    rq.max_output_tokens = 500;
    rq.parallel_tool_calls = 0;
    rq.store = 0;
    r = reply_to(CHAT("{'role':'assistant','content':'Hi'}", "stop", ""),
                 &rq);
    expect_str_eq(reply_raw(r, "instructions"), "'Be brief.'");
    expect_str_eq(reply_raw(r, "tools"), "[{'type':'function','name':'f'}]");
    expect_str_eq(reply_raw(r, "tool_choice"), "'required'");
    expect_str_eq(reply_raw(r, "text"), "{'format':{'type':'json_object'}}");
    expect_str_eq(reply_raw(r, "reasoning"), "{'effort':'low'}");
    expect_str_eq(reply_raw(r, "metadata"), "{'k':'v'}");
    expect_str_eq(reply_raw(r, "previous_response_id"), "'resp_prev'");
    expect_str_eq(reply_raw(r, "user"), "'u-42'");
    expect_str_eq(reply_raw(r, "temperature"), "0.7");
    expect_str_eq(reply_raw(r, "top_p"), "0.25");
    expect_str_eq(reply_raw(r, "max_output_tokens"), "500");
    expect_str_eq(reply_raw(r, "parallel_tool_calls"), "false");
    expect_str_eq(reply_raw(r, "store"), "false");
}

static void
reply_translates_usage_to_the_responses_names(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(CHAT("{'role':'assistant','content':'Hi'}",
                                         "stop", USAGE), &rq);

    expect_str_eq(reply_raw(r, "usage"),
                  "{'input_tokens':19,'input_tokens_details':"
                  "{'cached_tokens':3},'output_tokens':10,"
                  "'output_tokens_details':{'reasoning_tokens':4},"
                  "'total_tokens':29}");
}

static void
reply_usage_without_details_counts_zero_and_sums_a_missing_total(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(CHAT("{'role':'assistant','content':'Hi'}",
                                         "stop", ",'usage':{'prompt_tokens':"
                                         "5,'completion_tokens':2}"), &rq);

    expect_str_eq(reply_raw(r, "usage"),
                  "{'input_tokens':5,'input_tokens_details':"
                  "{'cached_tokens':0},'output_tokens':2,"
                  "'output_tokens_details':{'reasoning_tokens':0},"
                  "'total_tokens':7}");
}

static void
reply_without_usage_has_null_usage(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(CHAT("{'role':'assistant','content':'Hi'}",
                                         "stop", ""), &rq);

    expect_str_eq(reply_raw(r, "usage"), "null");
}

static void
reply_of_a_refusal_is_a_message_with_a_refusal_part(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(CHAT("{'role':'assistant','content':null,"
                                         "'refusal':'I cannot help with that.'}",
                                         "stop", ""), &rq);

    expect_str_eq(reply_raw(r, "output.0.content"),
                  "[{'type':'refusal','refusal':'I cannot help with that.'}]");
}

static void
reply_of_tool_calls_is_one_function_call_item_each_and_no_message(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(
        CHAT("{'role':'assistant','content':null,'tool_calls':["
             "{'id':'call_a','type':'function','function':{'name':'get_weather',"
             "'arguments':'{\\'city\\':\\'Paris\\'}'}},"
             "{'id':'call_b','type':'function','function':{'name':'get_time',"
             "'arguments':'{}'}}]}", "tool_calls", ""), &rq);

    expect_str_eq(reply_raw(r, "status"), "'completed'");
    expect_str_eq(reply_raw(r, "output"),
                  "[{'id':'fc_0123abcd_0','type':'function_call',"
                  "'status':'completed','arguments':'{\\'city\\':\\'Paris\\'}',"
                  "'call_id':'call_a','name':'get_weather'},"
                  "{'id':'fc_0123abcd_1','type':'function_call',"
                  "'status':'completed','arguments':'{}','call_id':'call_b',"
                  "'name':'get_time'}]");
}

static void
reply_keeps_the_text_said_beside_tool_calls_as_a_message_first(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(
        CHAT("{'role':'assistant','content':'Let me look.','tool_calls':["
             "{'id':'call_a','type':'function','function':{'name':'f',"
             "'arguments':'{}'}}]}", "tool_calls", ""), &rq);

    expect_str_eq(reply_raw(r, "output.0.type"), "'message'");
    expect_str_eq(reply_raw(r, "output.0.id"), "'msg_0123abcd_0'");
    expect_str_eq(reply_raw(r, "output.1.type"), "'function_call'");
    expect_str_eq(reply_raw(r, "output.1.id"), "'fc_0123abcd_1'");
}

static void
reply_names_a_tool_call_the_provider_sent_without_an_id(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(
        CHAT("{'role':'assistant','tool_calls':[{'type':'function',"
             "'function':{'name':'f','arguments':'{}'}}]}", "tool_calls", ""),
        &rq);

    expect_str_eq(reply_raw(r, "output.0.call_id"), "'call_0123abcd_0'");
}

static void
reply_of_reasoning_content_starts_with_a_reasoning_item(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(
        CHAT("{'role':'assistant','reasoning_content':'The user greets.',"
             "'content':'Hello!'}", "stop", ""), &rq);

    expect_str_eq(reply_raw(r, "output.0"),
                  "{'id':'rs_0123abcd_0','type':'reasoning','summary':"
                  "[{'type':'summary_text','text':'The user greets.'}]}");
    expect_str_eq(reply_raw(r, "output.1.id"), "'msg_0123abcd_1'");
    expect_str_eq(reply_raw(r, "output.1.content.0.text"), "'Hello!'");
}

static void
reply_reads_reasoning_under_its_openrouter_name_too(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(
        CHAT("{'role':'assistant','reasoning':'Thinking.','content':'Hi'}",
             "stop", ""), &rq);

    expect_str_eq(reply_raw(r, "output.0.summary.0.text"), "'Thinking.'");
}

static void
reply_of_an_empty_answer_is_still_a_message(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(CHAT("{'role':'assistant','content':''}",
                                         "stop", ""), &rq);

    expect_str_eq(reply_raw(r, "output.0.content"),
                  "[{'type':'output_text','text':'','annotations':[]}]");
}

static void
reply_finished_by_length_is_incomplete_for_max_output_tokens(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(CHAT("{'role':'assistant','content':'Onc'}",
                                         "length", ""), &rq);

    expect_str_eq(reply_raw(r, "status"), "'incomplete'");
    expect_str_eq(reply_raw(r, "incomplete_details"),
                  "{'reason':'max_output_tokens'}");
    expect_str_eq(reply_raw(r, "output.0.content.0.text"), "'Onc'");
}

static void
reply_finished_by_the_content_filter_is_incomplete_for_it(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(CHAT("{'role':'assistant','content':''}",
                                         "content_filter", ""), &rq);

    expect_str_eq(reply_raw(r, "incomplete_details"),
                  "{'reason':'content_filter'}");
}

static void
reply_quotes_control_characters_and_keeps_unicode(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(
        CHAT("{'role':'assistant','content':'a\\nb\\u00e9\\u0001\\\\'}",
             "stop", ""), &rq);

    expect_str_eq(reply_raw(r, "output.0.content.0.text"),
                  "'a\\nb\xc3\xa9\\u0001\\\\'");
}

static void
reply_is_null_for_what_is_not_a_chat_completion(void)
{
    fg_responses_req_t rq = reply_req();

    expect_true(reply_to("{'error':{'message':'x'}}", &rq) == NULL);
    expect_true(reply_to("{'choices':[]}", &rq) == NULL);
    expect_true(reply_to("{'choices':[{'index':0}]}", &rq) == NULL);
    expect_true(reply_to("[1]", &rq) == NULL);
}

static void
output_items_are_the_response_output_array(void)
{
    fg_responses_req_t rq = reply_req();
    const char        *r = reply_to(CHAT("{'role':'assistant','content':'Hi'}",
                                         "stop", USAGE), &rq);
    char              *items;
    size_t             len;

    items = fg_responses_output_items(r, strlen(r), &len);
    expect_int_eq(len, strlen(items));
    expect_str_eq(items, reply_quotes(
        "[{'id':'msg_0123abcd_0','type':'message','role':'assistant',"
        "'status':'completed','content':[{'type':'output_text','text':'Hi',"
        "'annotations':[]}]}]"));
    free(items);
    expect_true(fg_responses_output_items("{}", 2, &len) == NULL);
    expect_true(fg_responses_output_items("{", 1, &len) == NULL);
}

static void
item_ids_lead_back_to_their_response(void)
{
    char buf[64];

    expect_int_eq(fg_responses_item_response_id("msg_0123abcd_1", 14, buf,
                                                sizeof(buf)), 13);
    expect_str_eq(buf, "resp_0123abcd");
    expect_int_eq(fg_responses_item_response_id("fc_a_b_12", 9, buf,
                                                sizeof(buf)), 8);
    expect_str_eq(buf, "resp_a_b");
    expect_int_eq(fg_responses_item_response_id("rs_x_0", 6, buf,
                                                sizeof(buf)), 6);
    expect_str_eq(buf, "resp_x");
}

static void
item_ids_of_other_shapes_lead_nowhere(void)
{
    char buf[8];

    expect_int_eq(fg_responses_item_response_id("msg_abc", 7, buf, 64), 0);
    expect_int_eq(fg_responses_item_response_id("msg__1", 6, buf, 64), 0);
    expect_int_eq(fg_responses_item_response_id("fc_abc_", 7, buf, 64), 0);
    expect_int_eq(fg_responses_item_response_id("call_abc_1", 10, buf, 64),
                  0);
    expect_int_eq(fg_responses_item_response_id("msg_toolong_1", 13, buf,
                                                sizeof(buf)), 0);
}

/* The stream */

typedef struct {
    char   types[4096];     /* the events' types, comma-separated */
    char  *data[512];       /* each event's data, ' for " */
    size_t n;
    char  *text;            /* all of it, as sent */
    char  *output;          /* fg_responses_stream_output(), or NULL */
} reply_events_t;

/* The ResponseStreamEvent types of the official openai SDK (6.49.0,
 * resources/responses/responses.d.ts) this module may send. */
static const char *const reply_sdk_types[] = {
    "response.created", "response.in_progress", "response.completed",
    "response.incomplete", "response.output_item.added",
    "response.output_item.done", "response.content_part.added",
    "response.content_part.done", "response.output_text.delta",
    "response.output_text.done", "response.refusal.delta",
    "response.refusal.done", "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done"
};

static int
reply_is_sdk_type(const char *type)
{
    size_t i;

    for (i = 0; i < sizeof(reply_sdk_types) / sizeof(*reply_sdk_types); i++) {
        if (strcmp(type, reply_sdk_types[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * Splits the SSE text of a stream into its events, checking what every
 * event must be: "event: T\ndata: D\n\n", T a type the SDK knows, D a JSON
 * object whose type is T and whose sequence_number is its position.
 */
static void
reply_split(const char *text, reply_events_t *ev)
{
    const char *p = text, *nl, *end;
    char        type[128];
    fg_jdoc_t   doc;
    size_t      i, len;
    int         seq;

    while (*p != '\0' && ev->n < 512) {
        if (strncmp(p, "event: ", 7) != 0 || (nl = strchr(p, '\n')) == NULL
            || strncmp(nl + 1, "data: ", 6) != 0
            || (end = strstr(nl + 7, "\n\n")) == NULL) {
            FG_TEST_FAIL("not an SSE event at: %.80s", p);
            return;
        }
        len = (size_t) (nl - p - 7);
        memcpy(type, p + 7, len);
        type[len] = '\0';
        if (!reply_is_sdk_type(type)) {
            FG_TEST_FAIL("event %zu: %s is not an SDK event type", ev->n,
                         type);
        }
        len = (size_t) (end - nl - 7);
        ev->data[ev->n] = malloc(len + 1);
        memcpy(ev->data[ev->n], nl + 7, len);
        ev->data[ev->n][len] = '\0';
        if (fg_jdoc_parse(&doc, ev->data[ev->n], len, 64, NULL) != FG_OK) {
            FG_TEST_FAIL("event %zu's data does not parse: %s", ev->n,
                         ev->data[ev->n]);
        } else {
            if (!fg_jdoc_str_eq(&doc, fg_jdoc_get(&doc, 0, "type"), type)) {
                FG_TEST_FAIL("event %zu: data type is not %s", ev->n, type);
            }
            seq = fg_jdoc_get(&doc, 0, "sequence_number");
            if (fg_jdoc_type(&doc, seq) != FG_JINT
                || doc.nodes[seq].num.i != (long long) ev->n) {
                FG_TEST_FAIL("event %zu: sequence_number is not %zu", ev->n,
                             ev->n);
            }
            fg_jdoc_free(&doc);
        }
        for (i = 0; i < len; i++) {
            ev->data[ev->n][i] = ev->data[ev->n][i] == '"'
                                     ? '\'' : ev->data[ev->n][i];
        }
        if (ev->n > 0) {
            strcat(ev->types, ",");
        }
        strcat(ev->types, type + strlen("response."));
        ev->n++;
        p = end + 2;
    }
}

/* Feeds @chunks (NULL-ended, ' for ") through a stream and ends it with
 * @usage and @extra; @ev gets the events. */
static void
reply_stream(const char *const *chunks, const fg_responses_req_t *rq,
             size_t max_text, const char *usage, const char *extra,
             reply_events_t *ev)
{
    fg_responses_stream_t *s;
    struct evbuffer       *out = evbuffer_new();
    fg_jdoc_t              doc;
    const char            *text;
    size_t                 len;

    memset(ev, 0, sizeof(*ev));
    s = fg_responses_stream_new(rq, RESP_ID, CREATED, "requested-model",
                                max_text);
    for (; *chunks != NULL; chunks++) {
        text = reply_quotes(*chunks);
        if (fg_jdoc_parse(&doc, text, strlen(text), 64, NULL) != FG_OK) {
            FG_TEST_FAIL("a chunk does not parse: %s", *chunks);
            continue;
        }
        fg_responses_stream_chunk(s, &doc, out);
        fg_jdoc_free(&doc);
    }
    if (usage != NULL) {
        usage = reply_quotes(usage);
    }
    if (extra != NULL) {
        extra = reply_quotes(extra);
    }
    ev->output = fg_responses_stream_output(s, &len);
    expect_true(ev->output == NULL);
    fg_responses_stream_end(s, usage, usage != NULL ? strlen(usage) : 0,
                            extra, extra != NULL ? strlen(extra) : 0, out);
    ev->output = fg_responses_stream_output(s, &len);
    fg_responses_stream_free(s);
    len = evbuffer_get_length(out);
    ev->text = malloc(len + 1);
    evbuffer_remove(out, ev->text, len);
    ev->text[len] = '\0';
    evbuffer_free(out);
    reply_split(ev->text, ev);
}

static void
reply_events_free(reply_events_t *ev)
{
    size_t i;

    for (i = 0; i < ev->n; i++) {
        free(ev->data[i]);
    }
    free(ev->text);
    free(ev->output);
}

/* The last event's response, with " (as fg_responses_reply() writes). */
static const char *
reply_final(const reply_events_t *ev)
{
    return ev->n == 0 ? "(none)"
                      : reply_quotes(reply_raw(reply_quotes(
                                                   ev->data[ev->n - 1]),
                                               "response"));
}

#define CHUNK(delta, finish)                                                 \
    "{'id':'chatcmpl-1','object':'chat.completion.chunk','created':1,"       \
    "'model':'gpt-4o-2024-08-06','choices':[{'index':0,'delta':" delta       \
    ",'finish_reason':" finish "}]}"

#define USAGE_CHUNK                                                          \
    "{'id':'chatcmpl-1','object':'chat.completion.chunk','created':1,"       \
    "'model':'gpt-4o-2024-08-06','choices':[],'usage':{'prompt_tokens':19,"  \
    "'completion_tokens':10,'total_tokens':29}}"

static const char *const reply_text_chunks[] = {
    CHUNK("{'role':'assistant','content':''}", "null"),
    CHUNK("{'content':'Hel'}", "null"),
    CHUNK("{'content':'lo'}", "null"),
    CHUNK("{}", "'stop'"),
    USAGE_CHUNK,
    NULL
};

static void
stream_of_text_emits_openai_events_in_order(void)
{
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(reply_text_chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(ev.types,
                  "created,in_progress,output_item.added,content_part.added,"
                  "output_text.delta,output_text.delta,output_text.done,"
                  "content_part.done,output_item.done,completed");
    expect_str_eq(reply_raw(ev.data[0], "response.status"), "'in_progress'");
    expect_str_eq(reply_raw(ev.data[0], "response.output"), "[]");
    expect_str_eq(reply_raw(ev.data[0], "response.usage"), "null");
    expect_str_eq(reply_raw(ev.data[0], "response.model"),
                  "'gpt-4o-2024-08-06'");
    expect_str_eq(ev.data[2],
                  "{'type':'response.output_item.added','sequence_number':2,"
                  "'output_index':0,'item':{'id':'msg_0123abcd_0','type':"
                  "'message','role':'assistant','status':'in_progress',"
                  "'content':[]}}");
    expect_str_eq(ev.data[3],
                  "{'type':'response.content_part.added','sequence_number':3,"
                  "'item_id':'msg_0123abcd_0','output_index':0,"
                  "'content_index':0,'part':{'type':'output_text','text':'',"
                  "'annotations':[]}}");
    expect_str_eq(ev.data[4],
                  "{'type':'response.output_text.delta','sequence_number':4,"
                  "'item_id':'msg_0123abcd_0','output_index':0,"
                  "'content_index':0,'logprobs':[],'delta':'Hel'}");
    expect_str_eq(ev.data[6],
                  "{'type':'response.output_text.done','sequence_number':6,"
                  "'item_id':'msg_0123abcd_0','output_index':0,"
                  "'content_index':0,'logprobs':[],'text':'Hello'}");
    expect_str_eq(ev.data[7],
                  "{'type':'response.content_part.done','sequence_number':7,"
                  "'item_id':'msg_0123abcd_0','output_index':0,"
                  "'content_index':0,'part':{'type':'output_text','text':"
                  "'Hello','annotations':[]}}");
    expect_str_eq(reply_raw(ev.data[8], "item.status"), "'completed'");
    expect_str_eq(reply_raw(ev.data[9], "response.status"), "'completed'");
    expect_str_eq(reply_raw(ev.data[9], "response.usage.total_tokens"),
                  "29");
    reply_events_free(&ev);
}

static void
stream_final_response_is_the_whole_reply_of_the_same_completion(void)
{
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(reply_text_chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(reply_final(&ev),
                  reply_to(CHAT("{'role':'assistant','content':'Hello'}",
                                "stop", ",'usage':{'prompt_tokens':19,"
                                "'completion_tokens':10,'total_tokens':29}"),
                           &rq));
    reply_events_free(&ev);
}

static void
stream_output_is_the_output_of_its_final_response(void)
{
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;
    const char        *final;
    char              *items;
    size_t             len;

    reply_stream(reply_text_chunks, &rq, 1 << 20, NULL, NULL, &ev);
    final = reply_final(&ev);
    items = fg_responses_output_items(final, strlen(final), &len);
    expect_true(items != NULL && ev.output != NULL);
    if (items != NULL && ev.output != NULL) {
        expect_str_eq(ev.output, items);
    }
    free(items);
    reply_events_free(&ev);
}

static void
stream_output_is_not_given_when_its_text_was_cut(void)
{
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(reply_text_chunks, &rq, 2, NULL, NULL, &ev);
    expect_true(ev.output == NULL);
    reply_events_free(&ev);
}

static void
stream_deltas_pass_the_chunk_strings_with_their_escapes(void)
{
    static const char *const chunks[] = {
        CHUNK("{'content':'a\\nb\\u00e9\\\\'}", "'stop'"),
        NULL
    };
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(reply_raw(ev.data[4], "delta"), "'a\\nb\\u00e9\\\\'");
    expect_str_eq(reply_raw(ev.data[5], "text"), "'a\\nb\xc3\xa9\\\\'");
    reply_events_free(&ev);
}

static const char *const reply_call_chunks[] = {
    CHUNK("{'role':'assistant','content':null,'tool_calls':[{'index':0,"
          "'id':'call_a','type':'function','function':{'name':'get_weather',"
          "'arguments':''}}]}", "null"),
    CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':'{\\'ci'}}]}",
          "null"),
    CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':"
          "'ty\\':\\'Paris\\'}'}}]}", "null"),
    CHUNK("{}", "'tool_calls'"),
    NULL
};

static void
stream_of_a_tool_call_sends_its_arguments_as_they_come(void)
{
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(reply_call_chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(ev.types,
                  "created,in_progress,output_item.added,"
                  "function_call_arguments.delta,"
                  "function_call_arguments.delta,"
                  "function_call_arguments.done,output_item.done,completed");
    expect_str_eq(reply_raw(ev.data[2], "item"),
                  "{'id':'fc_0123abcd_0','type':'function_call','status':"
                  "'in_progress','arguments':'','call_id':'call_a','name':"
                  "'get_weather'}");
    expect_str_eq(ev.data[3],
                  "{'type':'response.function_call_arguments.delta',"
                  "'sequence_number':3,'item_id':'fc_0123abcd_0',"
                  "'output_index':0,'delta':'{\\'ci'}");
    expect_str_eq(ev.data[5],
                  "{'type':'response.function_call_arguments.done',"
                  "'sequence_number':5,'item_id':'fc_0123abcd_0',"
                  "'output_index':0,'name':'get_weather','arguments':"
                  "'{\\'city\\':\\'Paris\\'}'}");
    expect_str_eq(reply_raw(ev.data[6], "item.status"), "'completed'");
    expect_str_eq(reply_final(&ev),
                  reply_to(CHAT("{'role':'assistant','content':null,"
                                "'tool_calls':[{'id':'call_a','type':"
                                "'function','function':{'name':'get_weather',"
                                "'arguments':'{\\'city\\':\\'Paris\\'}'}}]}",
                                "tool_calls", ""), &rq));
    reply_events_free(&ev);
}

static void
stream_of_two_tool_calls_makes_two_items_done_at_the_end(void)
{
    static const char *const chunks[] = {
        CHUNK("{'tool_calls':[{'index':0,'id':'call_a','type':'function',"
              "'function':{'name':'f','arguments':'{}'}}]}", "null"),
        CHUNK("{'tool_calls':[{'index':1,'id':'call_b','type':'function',"
              "'function':{'name':'g','arguments':'{\\'x\\''}}]}", "null"),
        CHUNK("{'tool_calls':[{'index':1,'function':{'arguments':':1}'}}]}",
              "null"),
        CHUNK("{}", "'tool_calls'"),
        NULL
    };
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(ev.types,
                  "created,in_progress,"
                  "output_item.added,function_call_arguments.delta,"
                  "output_item.added,function_call_arguments.delta,"
                  "function_call_arguments.delta,"
                  "function_call_arguments.done,output_item.done,"
                  "function_call_arguments.done,output_item.done,completed");
    expect_str_eq(reply_raw(ev.data[4], "output_index"), "1");
    expect_str_eq(reply_raw(ev.data[9], "arguments"), "'{\\'x\\':1}'");
    expect_str_eq(reply_final(&ev),
                  reply_to(CHAT("{'role':'assistant','tool_calls':["
                                "{'id':'call_a','type':'function','function':"
                                "{'name':'f','arguments':'{}'}},"
                                "{'id':'call_b','type':'function','function':"
                                "{'name':'g','arguments':'{\\'x\\':1}'}}]}",
                                "tool_calls", ""), &rq));
    reply_events_free(&ev);
}

static void
stream_of_interleaved_tool_calls_keeps_each_call_arguments_apart(void)
{
    static const char *const chunks[] = {
        CHUNK("{'tool_calls':[{'index':0,'id':'call_a','function':{'name':"
              "'f','arguments':'[1'}},{'index':1,'id':'call_b','function':"
              "{'name':'g','arguments':'[2'}}]}", "null"),
        CHUNK("{'tool_calls':[{'index':1,'function':{'arguments':']'}},"
              "{'index':0,'function':{'arguments':']'}}]}", "null"),
        NULL
    };
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(reply_raw(reply_final(&ev), "output.0.arguments"),
                  "'[1]'");
    expect_str_eq(reply_raw(reply_final(&ev), "output.1.arguments"),
                  "'[2]'");
    reply_events_free(&ev);
}

static void
stream_of_reasoning_then_text_closes_the_reasoning_first(void)
{
    static const char *const chunks[] = {
        CHUNK("{'role':'assistant','reasoning_content':'The user'}", "null"),
        CHUNK("{'reasoning_content':' greets.'}", "null"),
        CHUNK("{'content':'Hello!'}", "null"),
        CHUNK("{}", "'stop'"),
        NULL
    };
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(ev.types,
                  "created,in_progress,"
                  "output_item.added,reasoning_summary_part.added,"
                  "reasoning_summary_text.delta,reasoning_summary_text.delta,"
                  "reasoning_summary_text.done,reasoning_summary_part.done,"
                  "output_item.done,"
                  "output_item.added,content_part.added,output_text.delta,"
                  "output_text.done,content_part.done,output_item.done,"
                  "completed");
    expect_str_eq(reply_raw(ev.data[2], "item"),
                  "{'id':'rs_0123abcd_0','type':'reasoning','summary':[]}");
    expect_str_eq(ev.data[4],
                  "{'type':'response.reasoning_summary_text.delta',"
                  "'sequence_number':4,'item_id':'rs_0123abcd_0',"
                  "'output_index':0,'summary_index':0,'delta':'The user'}");
    expect_str_eq(reply_raw(ev.data[6], "text"), "'The user greets.'");
    expect_str_eq(reply_raw(ev.data[7], "part"),
                  "{'type':'summary_text','text':'The user greets.'}");
    expect_str_eq(reply_raw(ev.data[9], "output_index"), "1");
    expect_str_eq(reply_final(&ev),
                  reply_to(CHAT("{'role':'assistant','reasoning_content':"
                                "'The user greets.','content':'Hello!'}",
                                "stop", ""), &rq));
    reply_events_free(&ev);
}

static void
stream_of_a_refusal_sends_refusal_events(void)
{
    static const char *const chunks[] = {
        CHUNK("{'role':'assistant','refusal':'No.'}", "null"),
        CHUNK("{}", "'stop'"),
        NULL
    };
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(ev.types,
                  "created,in_progress,output_item.added,content_part.added,"
                  "refusal.delta,refusal.done,content_part.done,"
                  "output_item.done,completed");
    expect_str_eq(reply_raw(ev.data[3], "part"),
                  "{'type':'refusal','refusal':''}");
    expect_str_eq(reply_raw(ev.data[5], "refusal"), "'No.'");
    expect_str_eq(reply_final(&ev),
                  reply_to(CHAT("{'role':'assistant','content':null,"
                                "'refusal':'No.'}", "stop", ""), &rq));
    reply_events_free(&ev);
}

static void
stream_finished_by_length_ends_with_response_incomplete(void)
{
    static const char *const chunks[] = {
        CHUNK("{'content':'Onc'}", "null"),
        CHUNK("{}", "'length'"),
        NULL
    };
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(ev.types + strlen(ev.types) - strlen("incomplete"),
                  "incomplete");
    expect_str_eq(reply_raw(ev.data[ev.n - 1], "response.incomplete_details"),
                  "{'reason':'max_output_tokens'}");
    expect_str_eq(reply_final(&ev),
                  reply_to(CHAT("{'role':'assistant','content':'Onc'}",
                                "length", ""), &rq));
    reply_events_free(&ev);
}

static void
stream_usage_given_at_the_end_wins_over_the_usage_chunk(void)
{
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(reply_text_chunks, &rq, 1 << 20,
                 "{'prompt_tokens':1,'completion_tokens':2,'total_tokens':3}",
                 NULL, &ev);
    expect_str_eq(reply_raw(ev.data[ev.n - 1], "response.usage.input_tokens"),
                  "1");
    reply_events_free(&ev);
}

static void
stream_extra_members_end_the_completed_response(void)
{
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(reply_text_chunks, &rq, 1 << 20, NULL,
                 "'environment_impact':{'energy_wh':0.5}", &ev);
    expect_str_eq(reply_raw(ev.data[ev.n - 1],
                            "response.environment_impact"),
                  "{'energy_wh':0.5}");
    expect_str_eq(reply_raw(ev.data[0], "response.environment_impact"),
                  "(absent)");
    reply_events_free(&ev);
}

static void
stream_keeps_at_most_max_text_bytes_but_sends_every_delta(void)
{
    static const char *const chunks[] = {
        CHUNK("{'content':'abc'}", "null"),
        CHUNK("{'content':'d\xc3\xa9'}", "null"),
        CHUNK("{'content':'f'}", "'stop'"),
        NULL
    };
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    /* 5 bytes: "abcd" and half of the e-acute, which is not kept; nor
     * is the "f" after it, though it would fit. */
    reply_stream(chunks, &rq, 5, NULL, NULL, &ev);
    expect_str_eq(reply_raw(ev.data[6], "delta"), "'f'");
    expect_str_eq(reply_raw(ev.data[7], "text"), "'abcd'");
    expect_str_eq(reply_raw(reply_final(&ev), "output.0.content.0.text"),
                  "'abcd'");
    reply_events_free(&ev);
}

static void
stream_without_any_text_still_ends_with_an_empty_message(void)
{
    static const char *const chunks[] = {
        CHUNK("{'role':'assistant','content':''}", "'stop'"),
        NULL
    };
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(ev.types,
                  "created,in_progress,output_item.added,content_part.added,"
                  "output_text.done,content_part.done,output_item.done,"
                  "completed");
    expect_str_eq(reply_final(&ev),
                  reply_to(CHAT("{'role':'assistant','content':''}", "stop",
                                ""), &rq));
    reply_events_free(&ev);
}

static void
stream_ended_before_any_chunk_still_creates_the_response(void)
{
    static const char *const chunks[] = { NULL };
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(reply_raw(ev.data[0], "type"), "'response.created'");
    expect_str_eq(reply_raw(ev.data[0], "response.model"),
                  "'requested-model'");
    expect_str_eq(reply_raw(ev.data[ev.n - 1], "type"),
                  "'response.completed'");
    reply_events_free(&ev);
}

static void
stream_translates_choice_zero_only(void)
{
    static const char *const chunks[] = {
        "{'model':'m','choices':[{'index':1,'delta':{'content':'other'}},"
        "{'index':0,'delta':{'content':'mine'}}]}",
        "{'model':'m','choices':[{'index':1,'delta':{},'finish_reason':"
        "'length'}]}",
        NULL
    };
    fg_responses_req_t rq = reply_req();
    reply_events_t     ev;

    reply_stream(chunks, &rq, 1 << 20, NULL, NULL, &ev);
    expect_str_eq(reply_raw(reply_final(&ev), "output.0.content.0.text"),
                  "'mine'");
    expect_str_eq(reply_raw(reply_final(&ev), "status"), "'completed'");
    reply_events_free(&ev);
}

static void
stream_adds_nothing_after_its_end(void)
{
    fg_responses_req_t     rq = reply_req();
    fg_responses_stream_t *s = fg_responses_stream_new(&rq, RESP_ID, CREATED,
                                                       "m", 100);
    struct evbuffer       *out = evbuffer_new();
    const char            *text = reply_quotes(CHUNK("{'content':'x'}",
                                                     "null"));
    fg_jdoc_t              doc;
    size_t                 len;

    fg_responses_stream_end(s, NULL, 0, NULL, 0, out);
    len = evbuffer_get_length(out);
    fg_responses_stream_end(s, NULL, 0, NULL, 0, out);
    expect_true(fg_jdoc_parse(&doc, text, strlen(text), 64, NULL) == FG_OK);
    fg_responses_stream_chunk(s, &doc, out);
    fg_jdoc_free(&doc);
    expect_int_eq(evbuffer_get_length(out), len);
    fg_responses_stream_free(s);
    fg_responses_stream_free(NULL);
    evbuffer_free(out);
}

FG_TEST_MAIN("responses_reply",
             FG_TEST_CASE(reply_of_a_text_completion_is_a_completed_response_with_a_message),
             FG_TEST_CASE(reply_echoes_the_defaults_of_a_request_that_sets_nothing),
             FG_TEST_CASE(reply_echoes_the_request_fields_as_sent),
             FG_TEST_CASE(reply_translates_usage_to_the_responses_names),
             FG_TEST_CASE(reply_usage_without_details_counts_zero_and_sums_a_missing_total),
             FG_TEST_CASE(reply_without_usage_has_null_usage),
             FG_TEST_CASE(reply_of_a_refusal_is_a_message_with_a_refusal_part),
             FG_TEST_CASE(reply_of_tool_calls_is_one_function_call_item_each_and_no_message),
             FG_TEST_CASE(reply_keeps_the_text_said_beside_tool_calls_as_a_message_first),
             FG_TEST_CASE(reply_names_a_tool_call_the_provider_sent_without_an_id),
             FG_TEST_CASE(reply_of_reasoning_content_starts_with_a_reasoning_item),
             FG_TEST_CASE(reply_reads_reasoning_under_its_openrouter_name_too),
             FG_TEST_CASE(reply_of_an_empty_answer_is_still_a_message),
             FG_TEST_CASE(reply_finished_by_length_is_incomplete_for_max_output_tokens),
             FG_TEST_CASE(reply_finished_by_the_content_filter_is_incomplete_for_it),
             FG_TEST_CASE(reply_quotes_control_characters_and_keeps_unicode),
             FG_TEST_CASE(reply_is_null_for_what_is_not_a_chat_completion),
             FG_TEST_CASE(output_items_are_the_response_output_array),
             FG_TEST_CASE(item_ids_lead_back_to_their_response),
             FG_TEST_CASE(item_ids_of_other_shapes_lead_nowhere),
             FG_TEST_CASE(stream_of_text_emits_openai_events_in_order),
             FG_TEST_CASE(stream_final_response_is_the_whole_reply_of_the_same_completion),
             FG_TEST_CASE(stream_output_is_the_output_of_its_final_response),
             FG_TEST_CASE(stream_output_is_not_given_when_its_text_was_cut),
             FG_TEST_CASE(stream_deltas_pass_the_chunk_strings_with_their_escapes),
             FG_TEST_CASE(stream_of_a_tool_call_sends_its_arguments_as_they_come),
             FG_TEST_CASE(stream_of_two_tool_calls_makes_two_items_done_at_the_end),
             FG_TEST_CASE(stream_of_interleaved_tool_calls_keeps_each_call_arguments_apart),
             FG_TEST_CASE(stream_of_reasoning_then_text_closes_the_reasoning_first),
             FG_TEST_CASE(stream_of_a_refusal_sends_refusal_events),
             FG_TEST_CASE(stream_finished_by_length_ends_with_response_incomplete),
             FG_TEST_CASE(stream_usage_given_at_the_end_wins_over_the_usage_chunk),
             FG_TEST_CASE(stream_extra_members_end_the_completed_response),
             FG_TEST_CASE(stream_keeps_at_most_max_text_bytes_but_sends_every_delta),
             FG_TEST_CASE(stream_without_any_text_still_ends_with_an_empty_message),
             FG_TEST_CASE(stream_ended_before_any_chunk_still_creates_the_response),
             FG_TEST_CASE(stream_translates_choice_zero_only),
             FG_TEST_CASE(stream_adds_nothing_after_its_end))
