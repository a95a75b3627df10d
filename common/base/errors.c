/*
 * errors.c: the client-visible error table and the OpenAI error body.
 * Rendering goes through jansson so messages that quote client input are
 * escaped correctly.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/base/errors.h"

typedef struct {
    int         status;
    const char *type;
    const char *code;
} errors_entry_t;

static const errors_entry_t errors_table[FG_E__COUNT] = {
#define FG_ERROR_ENTRY(name, status, type, code) [name] = {status, type, code},
    FG_ERROR_LIST(FG_ERROR_ENTRY)
#undef FG_ERROR_ENTRY
};

int
fg_err_set(fg_err_t *err, fg_error_code_t code, const char *param,
           const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return FG_ERR;
    }
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
    return FG_ERR;
}

static const errors_entry_t *
errors_entry(fg_error_code_t code)
{
    if ((unsigned) code >= FG_E__COUNT) {
        code = FG_E_INTERNAL;
    }
    return &errors_table[code];
}

int
fg_error_status(fg_error_code_t code)
{
    return errors_entry(code)->status;
}

const char *
fg_error_type(fg_error_code_t code)
{
    return errors_entry(code)->type;
}

const char *
fg_error_code_str(fg_error_code_t code)
{
    return errors_entry(code)->code;
}

/*
 * Messages quote client input, cut to a length that may split a UTF-8
 * sequence; jansson refuses such strings, so the copy drops non-ASCII bytes.
 */
static void
errors_ascii_copy(fg_err_t *dst, const fg_err_t *src)
{
    size_t i;

    *dst = *src;
    for (i = 0; dst->msg[i] != '\0'; i++) {
        if ((unsigned char) dst->msg[i] >= 0x80) {
            dst->msg[i] = '?';
        }
    }
    for (i = 0; dst->param[i] != '\0'; i++) {
        if ((unsigned char) dst->param[i] >= 0x80) {
            dst->param[i] = '?';
        }
    }
}

static json_t *
errors_body_new(const fg_err_t *err)
{
    return json_pack("{s:{s:s, s:s, s:o, s:s}}", "error",
                     "message", err->msg,
                     "type", fg_error_type(err->code),
                     "param", err->param[0] ? json_string(err->param)
                                            : json_null(),
                     "code", fg_error_code_str(err->code));
}

size_t
fg_error_render(const fg_err_t *err, char *buf, size_t size)
{
    json_t  *body;
    fg_err_t ascii;
    char    *s;
    size_t   n;

    body = errors_body_new(err);
    if (body == NULL) {
        errors_ascii_copy(&ascii, err);
        body = errors_body_new(&ascii);
    }
    s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (s == NULL) {
        /* Unreachable but for out-of-memory inside jansson. */
        n = (size_t) snprintf(buf, size,
                              "{\"error\":{\"message\":\"internal error\","
                              "\"type\":\"api_error\",\"param\":null,"
                              "\"code\":\"internal_error\"}}");
        return n < size ? n : size - 1;
    }
    n = strlen(s);
    if (n >= size) {
        n = size - 1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    free(s);
    return n;
}
