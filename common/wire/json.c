/*
 * json.c: JSON text helpers, and the loader of untrusted bodies.
 *
 * fg_json_string_end() is the one lax string scanner: a backslash takes
 * the next byte, a quote ends the string, and nothing else is looked at.
 * fg_json_depth_exceeds() and fg_json_compact() are one pass each over
 * the text with it: outside a string they look at one byte at a time,
 * inside one the scanner reads a short string byte by byte and jumps
 * through a long one from quote to quote. The strict scanner
 * that validates escapes and UTF-8 is jdoc's, apart on purpose: the
 * pre-scan runs before anything has validated the bytes, so it must walk
 * through an invalid string, not stop at it.
 *
 * fg_json_depth_exceeds() exists because jansson 2.14 parses recursively
 * up to its own cap of 2048 levels and dumps, compares and copies
 * recursively with no cap at all, so a body must be proven shallow before
 * jansson touches it (reliability.md 3.7).
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

#define JSON_QUOTE_MAX    32   /* bytes of client input an error may quote */
#define JSON_SHORT_STRING 16   /* string bytes read one by one before
                                  memchr takes over */

static size_t json_string_end_long(const char *buf, size_t len, size_t i);
static void json_split_error(const json_error_t *jerr, int is_key,
                             char *reason, size_t reason_size, char *near,
                             size_t near_size);

/*
 * The end of a string longer than JSON_SHORT_STRING, from @i on, where no
 * escape is open: quote to quote with memchr. A quote ends the string
 * unless an odd run of backslashes stands right before it. Counting that
 * run backwards is exact because it cannot begin inside an escape: the
 * byte before it is no backslash, or the run begins at @i. Each backslash
 * is counted once, so the whole stays linear. Out of line: it would
 * crowd the short loop it follows.
 */
static size_t
json_string_end_long(const char *buf, size_t len, size_t i)
{
    const char *start = buf + i, *q, *b;

    while (i < len && (q = memchr(buf + i, '"', len - i)) != NULL) {
        i = (size_t) (q - buf) + 1;
        b = q;
        while (b > start && b[-1] == '\\') {
            b--;
        }
        if ((q - b) % 2 == 0) {
            return i;
        }
    }
    return len;
}

/* The scanner, inlined into the two passes here: most strings are keys
 * and short values, which a byte loop ends before a call, let alone a
 * memchr, would have paid for itself. */
static inline size_t
json_string_end(const char *buf, size_t len, size_t i)
{
    size_t short_end = len - i > JSON_SHORT_STRING ? i + JSON_SHORT_STRING
                                                   : len;

    for (; i < short_end; i++) {
        if (buf[i] == '"') {
            return i + 1;
        }
        /*
         * A backslash takes the next byte, even a quote. When that byte
         * lies at or past short_end (maybe past @len), stepping over it
         * leaves by the break, so i never passes the loop's bound inside
         * it: GCC 12's code for this shape ran twice as fast as for a
         * bare i++ (docs/performance.md).
         */
        if (buf[i] == '\\' && ++i >= short_end) {
            i++;
            break;
        }
    }
    return i >= len ? len : json_string_end_long(buf, len, i);
}

size_t
fg_json_string_end(const char *buf, size_t len, size_t i)
{
    return json_string_end(buf, len, i);
}

int
fg_json_depth_exceeds(const char *buf, size_t len, size_t max_depth)
{
    size_t i = 0, depth = 0;

    while (i < len) {
        switch (buf[i++]) {
        case '"':
            i = json_string_end(buf, len, i);
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

size_t
fg_json_compact(const char *src, size_t len, char *dst)
{
    size_t i = 0, n = 0, end;

    while (i < len) {
        char c = src[i];

        if (c == '"') {
            /* A string is copied whole, its white space with it; a short
             * one as a fixed 16 bytes (a constant size is inlined, no
             * call). The bytes past its end are scratch that what follows
             * overwrites or the caller ignores, and as n <= i they stay
             * within the @len bytes of @dst. */
            end = json_string_end(src, len, i + 1);
            if (end - i <= JSON_SHORT_STRING && i + JSON_SHORT_STRING <= len) {
                memcpy(dst + n, src + i, JSON_SHORT_STRING);
            } else {
                memcpy(dst + n, src + i, end - i);
            }
            n += end - i;
            i = end;
            continue;
        }
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
            dst[n++] = c;
        }
        i++;
    }
    return n;
}

size_t
fg_json_quote(const char *s, size_t len, char *dst)
{
    static const char hex[] = "0123456789abcdef";
    size_t            i, n = 0;

    dst[n++] = '"';
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char) c;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': dst[n++] = '\\'; dst[n++] = 'n'; break;
            case '\r': dst[n++] = '\\'; dst[n++] = 'r'; break;
            case '\t': dst[n++] = '\\'; dst[n++] = 't'; break;
            default:
                memcpy(dst + n, "\\u00", 4);
                dst[n + 4] = hex[c >> 4];
                dst[n + 5] = hex[c & 15];
                n += 6;
                break;
            }
        } else {
            dst[n++] = (char) c;
        }
    }
    dst[n++] = '"';
    return n;
}

int
fg_json_is_blank(const char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n'
            && buf[i] != '\r') {
            return 0;
        }
    }
    return 1;
}

void
fg_json_clip(char *dst, size_t size, const char *src, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len && n + 1 < size; i++) {
        unsigned char c = (unsigned char) src[i];

        dst[n++] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
    }
    if (i < len && n >= 3) {
        memcpy(dst + n - 3, "...", 3);
    }
    dst[n] = '\0';
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

    if (buf == NULL || fg_json_is_blank(buf, len)) {
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
        fg_json_clip(reason, reason_size, text, text_len);
        near[0] = '\0';
        return;
    }
    fg_json_clip(reason, reason_size, text, (size_t) (mark - text));

    tok = mark + 7;
    tok_end = text + text_len;
    if (tok_end > tok && tok_end[-1] == '\'') {
        tok_end--;
    }
    if (is_key && tok_end - tok >= 2 && tok[0] == '"' && tok_end[-1] == '"') {
        tok++;
        tok_end--;
    }
    fg_json_clip(quoted, sizeof(quoted), tok, (size_t) (tok_end - tok));
    snprintf(near, near_size, "'%s'", quoted);
}
