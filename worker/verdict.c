/*
 * verdict.c: filling a stage's verdict. Kept apart from the pipeline so a
 * stage (and its unit test) links with nothing but common/.
 */

#include <stdarg.h>
#include <stdio.h>

#include "worker/verdict.h"

fg_verdict_kind_t
fg_verdict_refuse(fg_verdict_t *v, int64_t retry_after_ms,
                  fg_error_code_t code, const char *param,
                  const char *fmt, ...)
{
    va_list ap;

    v->kind = FG_VERDICT_REFUSE;
    v->err.code = code;
    va_start(ap, fmt);
    vsnprintf(v->err.msg, sizeof(v->err.msg), fmt, ap);
    va_end(ap);
    snprintf(v->err.param, sizeof(v->err.param), "%s", param ? param : "");
    v->retry_after_ms = retry_after_ms;
    return FG_VERDICT_REFUSE;
}
