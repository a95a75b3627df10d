/*
 * json.c: jansson helpers for untrusted input.
 *
 * fg_json_depth_exceeds() is a one-pass scanner with three states (outside
 * a string, inside one, just after a backslash inside one). It exists
 * because jansson 2.14 parses recursively up to its own cap of 2048 levels
 * and dumps, compares and copies recursively with no cap at all, so a body
 * must be proven shallow before jansson touches it (reliability.md 3.7).
 *
 * fg_json_load_body() is the one way a client body becomes a json_t: the
 * pre-scan, then json_loadb() with JSON_REJECT_DUPLICATES (a repeated
 * "model" or "max_tokens" would otherwise let the gateway price one value
 * while the upstream sees another), and a mapping of jansson's error into
 * an fg_err_t whose message can be shown to the client. jansson's text
 * quotes the offending token ("near '...'"), which is client input and may
 * be invalid UTF-8, so the quote is clipped and reduced to printable ASCII.
 *
 * Deliberately not here: any JSON schema logic (worker/validate.c), JSON
 * repair, and anything that prints.
 */

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/base/errors.h"
#include "common/wire/json.h"

#define JSON_QUOTE_MAX 32   /* bytes of client input an error may quote */

static int json_is_blank(const char *buf, size_t len);
static void json_clean(char *dst, size_t size, const char *src,
                       size_t src_len);
static void json_split_error(const json_error_t *jerr, int is_key,
                             char *reason, size_t reason_size, char *near,
                             size_t near_size);

int
fg_json_depth_exceeds(const char *buf, size_t len, size_t max_depth)
{
    size_t i, depth = 0;
    int    in_string = 0, escaped = 0;

    for (i = 0; i < len; i++) {
        char c = buf[i];

        if (in_string) {
            /*
             * A backslash consumes exactly the next byte, so "\\" followed
             * by '"' ends the string while "\"" does not. \uXXXX needs no
             * care: its hex digits are never quotes or brackets.
             */
            if (escaped) {
                escaped = 0;
            } else if (c == '\\') {
                escaped = 1;
            } else if (c == '"') {
                in_string = 0;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = 1;
            break;
        case '[':
        case '{':
            if (++depth > max_depth) {
                return 1;
            }
            break;
        case ']':
        case '}':
            /* Invalid JSON, left for the parser; never wrap below zero. */
            if (depth > 0) {
                depth--;
            }
            break;
        default:
            break;
        }
    }
    return 0;
}

json_t *
fg_json_load_body(const char *buf, size_t len, size_t max_depth,
                  fg_err_t *err)
{
    json_t                 *root;
    json_error_t            jerr;
    enum json_error_code    code;
    char                    reason[JSON_ERROR_TEXT_LENGTH];
    char                    near[JSON_QUOTE_MAX + 4];

    if (buf == NULL || json_is_blank(buf, len)) {
        fg_err_set(err, FG_E_EMPTY_BODY, NULL,
                   "The request body is empty; expected a JSON object.");
        return NULL;
    }
    if (fg_json_depth_exceeds(buf, len, max_depth)) {
        fg_err_set(err, FG_E_NESTING_TOO_DEEP, NULL,
                   "The request body nests objects or arrays more than %zu "
                   "levels deep.", max_depth);
        return NULL;
    }

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                      &jerr);
    if (root != NULL) {
        return root;
    }

    code = json_error_code(&jerr);
    json_split_error(&jerr, code == json_error_duplicate_key, reason,
                     sizeof(reason), near, sizeof(near));
    switch (code) {
    case json_error_duplicate_key:
        if (near[0] != '\0') {
            fg_err_set(err, FG_E_DUPLICATE_KEY, NULL,
                       "The request body repeats the key %s within one "
                       "object (line %d, column %d); each key may appear "
                       "only once.", near, jerr.line, jerr.column);
        } else {
            fg_err_set(err, FG_E_DUPLICATE_KEY, NULL,
                       "The request body repeats a key within one object "
                       "(line %d, column %d); each key may appear only "
                       "once.", jerr.line, jerr.column);
        }
        break;
    case json_error_stack_overflow:
        /* Only when @max_depth is above jansson's own cap of 2048. */
        fg_err_set(err, FG_E_NESTING_TOO_DEEP, NULL,
                   "The request body nests objects or arrays too deeply.");
        break;
    default:
        fg_err_set(err, FG_E_INVALID_JSON, NULL,
                   "The request body is not valid JSON: %s%s%s (line %d, "
                   "column %d).", reason, near[0] ? " near " : "", near,
                   jerr.line, jerr.column);
        break;
    }
    return NULL;
}

/* JSON's four whitespace bytes only (RFC 8259, section 2). */
static int
json_is_blank(const char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n'
            && buf[i] != '\r')
        {
            return 0;
        }
    }
    return 1;
}

/*
 * Copies @src_len bytes of @src into @dst as printable ASCII (anything else
 * becomes '?'), truncated to fit @size with "..." marking the cut.
 */
static void
json_clean(char *dst, size_t size, const char *src, size_t src_len)
{
    size_t i, n = 0;

    if (size == 0) {
        return;
    }
    for (i = 0; i < src_len && n + 1 < size; i++) {
        unsigned char c = (unsigned char) src[i];

        dst[n++] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
    }
    if (i < src_len && size >= 4) {
        n = n >= 3 ? n - 3 : 0;
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
}

/*
 * jansson's text is "<reason>" or "<reason> near '<token>'", the token
 * being raw client bytes. Splits it into the reason and a cleaned, clipped
 * quote of the token ("" when there is none). When the token is an object
 * key (@is_key), its JSON double quotes are dropped: 'model', not
 * '"model"'.
 */
static void
json_split_error(const json_error_t *jerr, int is_key, char *reason,
                 size_t reason_size, char *near, size_t near_size)
{
    const char *text = jerr->text, *mark, *tok, *tok_end;
    size_t      text_len;
    char        quoted[JSON_QUOTE_MAX + 1];

    text_len = strnlen(text, JSON_ERROR_TEXT_LENGTH - 1);
    mark = NULL;
    for (tok = text; tok + 7 <= text + text_len; tok++) {
        if (memcmp(tok, " near '", 7) == 0) {
            mark = tok;
            break;
        }
    }
    if (mark == NULL) {
        json_clean(reason, reason_size, text, text_len);
        near[0] = '\0';
        return;
    }
    json_clean(reason, reason_size, text, (size_t) (mark - text));

    tok = mark + 7;
    tok_end = text + text_len;
    if (tok_end > tok && tok_end[-1] == '\'') {
        tok_end--;
    }
    if (is_key && tok_end - tok >= 2 && tok[0] == '"' && tok_end[-1] == '"') {
        tok++;
        tok_end--;
    }
    json_clean(quoted, sizeof(quoted), tok, (size_t) (tok_end - tok));
    snprintf(near, near_size, "'%s'", quoted);
}
