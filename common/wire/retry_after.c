/*
 * retry_after.c: the Retry-After header's two forms into milliseconds,
 * and a wait into the gateway's own Retry-After and retry-after-ms.
 *
 * The date forms are read field by field with no locale and no libc time
 * parser: strptime() would follow the process locale and timegm() is not
 * standard C, so the day count is computed here (days from civil, the
 * proleptic Gregorian calendar). Anything that does not match a form
 * exactly is -1: a wrong guess at a provider's wait is worse than none.
 */

#include <string.h>

#include "common/wire/fmt.h"
#include "common/wire/retry_after.h"

static const char retry_months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

typedef struct {
    const char *p;
    const char *end;
} retry_cursor_t;

/* Reads @min..@max digits; -1 when there are not enough. */
static int64_t
retry_digits(retry_cursor_t *c, int min, int max)
{
    int64_t v = 0;
    int     n = 0;

    while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && n < max) {
        v = v * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    return n >= min ? v : -1;
}

static int
retry_char(retry_cursor_t *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int
retry_month(retry_cursor_t *c)
{
    int m;

    if (c->end - c->p < 3) {
        return -1;
    }
    for (m = 0; m < 12; m++) {
        if (memcmp(c->p, retry_months[m], 3) == 0) {
            c->p += 3;
            return m + 1;
        }
    }
    return -1;
}

/* "HH:MM:SS" into seconds of the day; -1 when malformed. */
static int64_t
retry_clock(retry_cursor_t *c)
{
    int64_t h, m, s;

    h = retry_digits(c, 2, 2);
    if (h < 0 || h > 23 || !retry_char(c, ':')) {
        return -1;
    }
    m = retry_digits(c, 2, 2);
    if (m < 0 || m > 59 || !retry_char(c, ':')) {
        return -1;
    }
    s = retry_digits(c, 2, 2);
    if (s < 0 || s > 60) {
        return -1;
    }
    return h * 3600 + m * 60 + s;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t
retry_days(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The HTTP-date in @c as unix seconds; -1 when it is none of the forms. */
static int64_t
retry_date(retry_cursor_t *c)
{
    int64_t day, month, year, secs;
    int     letters = 0;

    while (c->p < c->end && ((*c->p >= 'A' && *c->p <= 'Z')
                             || (*c->p >= 'a' && *c->p <= 'z'))) {
        c->p++;
        letters++;
    }
    if (letters < 3) {
        return -1;
    }
    if (retry_char(c, ',')) {
        if (!retry_char(c, ' ')) {
            return -1;
        }
        day = retry_digits(c, 2, 2);
        if (day < 0) {
            return -1;
        }
        if (retry_char(c, ' ')) {
            /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
            month = retry_month(c);
            if (month < 0 || !retry_char(c, ' ')) {
                return -1;
            }
            year = retry_digits(c, 4, 4);
        } else if (retry_char(c, '-')) {
            /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
            month = retry_month(c);
            if (month < 0 || !retry_char(c, '-')) {
                return -1;
            }
            year = retry_digits(c, 2, 2);
            if (year >= 0) {
                year += year < 70 ? 2000 : 1900;
            }
        } else {
            return -1;
        }
        if (year < 0 || !retry_char(c, ' ')) {
            return -1;
        }
        secs = retry_clock(c);
        if (secs < 0 || !retry_char(c, ' ') || c->end - c->p != 3
            || memcmp(c->p, "GMT", 3) != 0) {
            return -1;
        }
        c->p += 3;
    } else {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        if (!retry_char(c, ' ')) {
            return -1;
        }
        month = retry_month(c);
        if (month < 0 || !retry_char(c, ' ')) {
            return -1;
        }
        (void) retry_char(c, ' ');
        day = retry_digits(c, 1, 2);
        if (day < 0 || !retry_char(c, ' ')) {
            return -1;
        }
        secs = retry_clock(c);
        if (secs < 0 || !retry_char(c, ' ')) {
            return -1;
        }
        year = retry_digits(c, 4, 4);
        if (year < 0 || c->p != c->end) {
            return -1;
        }
    }
    if (day < 1 || day > 31) {
        return -1;
    }
    return retry_days(year, month, day) * 86400 + secs;
}

int64_t
fg_retry_after_ms(const char *v, size_t len, int64_t now_unix_s)
{
    retry_cursor_t c = { v, v + len };
    int64_t        secs, at;

    while (c.p < c.end && (*c.p == ' ' || *c.p == '\t')) {
        c.p++;
    }
    while (c.end > c.p && (c.end[-1] == ' ' || c.end[-1] == '\t'
                           || c.end[-1] == '\r' || c.end[-1] == '\n')) {
        c.end--;
    }
    if (c.p == c.end) {
        return -1;
    }
    if (*c.p >= '0' && *c.p <= '9') {
        /* More digits than a day's worth of seconds needs are still a
         * number: read them all, and cap. */
        secs = 0;
        while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
            if (secs <= FG_RETRY_AFTER_MAX_MS) {
                secs = secs * 10 + (*c.p - '0');
            }
            c.p++;
        }
        if (c.p != c.end) {
            return -1;
        }
        return secs * 1000 > FG_RETRY_AFTER_MAX_MS ? FG_RETRY_AFTER_MAX_MS
                                                  : secs * 1000;
    }
    at = retry_date(&c);
    if (at < 0) {
        return -1;
    }
    if (at <= now_unix_s) {
        return 0;
    }
    return at - now_unix_s > FG_RETRY_AFTER_MAX_MS / 1000
           ? FG_RETRY_AFTER_MAX_MS : (at - now_unix_s) * 1000;
}

void
fg_retry_after_values(int64_t ms, char secs[FG_RETRY_AFTER_VALUE_MAX],
                      char msv[FG_RETRY_AFTER_VALUE_MAX])
{
    if (ms < 0) {
        ms = 0;
    }
    secs[fg_fmt_i64(secs, ms / 1000 + (ms % 1000 != 0))] = '\0';
    msv[fg_fmt_i64(msv, ms)] = '\0';
}
