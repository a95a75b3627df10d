/*
 * amount.c: credits between decimal text and int64_t micro-units.
 *
 * Parsing accumulates every digit, integer part and fraction alike, into
 * one unsigned micro-unit count, padding the fraction to six digits, and
 * checks the bound before each step; so "0000012.5" works, leading zeros
 * never overflow, and the largest value accepted is exactly INT64_MAX
 * micro-units ("9223372036854.775807"). Formatting works on the magnitude
 * as uint64_t so INT64_MIN prints too.
 *
 * Deliberately not here: range rules of the admin API (a top-up must be
 * positive, a cap may be zero). The caller or the server says those.
 */

#include <stdio.h>
#include <string.h>

#include "admin/amount.h"

const char fg_amount_err_empty[] = "no amount given";
const char fg_amount_err_syntax[] =
    "not an amount of credits (digits, optionally '.' and up to six "
    "more digits)";
const char fg_amount_err_decimals[] =
    "too many decimals (a micro-credit, 0.000001, is the smallest unit)";
const char fg_amount_err_overflow[] = "too large";

static int amount_push_digit(uint64_t *acc, char c);

const char *
fg_amount_parse(const char *text, int64_t *micro)
{
    const char *p = text;
    uint64_t    acc = 0;
    int         decimals = 0;

    if (text == NULL || *text == '\0') {
        return fg_amount_err_empty;
    }
    if (*p < '0' || *p > '9') {
        return fg_amount_err_syntax;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (amount_push_digit(&acc, *p) != 0) {
            return fg_amount_err_overflow;
        }
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            return fg_amount_err_syntax;
        }
        for (; *p >= '0' && *p <= '9'; p++) {
            if (++decimals > FG_AMOUNT_DECIMALS) {
                return fg_amount_err_decimals;
            }
            if (amount_push_digit(&acc, *p) != 0) {
                return fg_amount_err_overflow;
            }
        }
    }
    if (*p != '\0') {
        return fg_amount_err_syntax;
    }
    for (; decimals < FG_AMOUNT_DECIMALS; decimals++) {
        if (amount_push_digit(&acc, '0') != 0) {
            return fg_amount_err_overflow;
        }
    }
    *micro = (int64_t) acc;
    return NULL;
}

/* acc = acc * 10 + digit, refusing to pass INT64_MAX. */
static int
amount_push_digit(uint64_t *acc, char c)
{
    uint64_t d = (uint64_t) (c - '0');

    if (*acc > ((uint64_t) INT64_MAX - d) / 10) {
        return -1;
    }
    *acc = *acc * 10 + d;
    return 0;
}

char *
fg_amount_format(int64_t micro, char *buf, size_t size)
{
    char     text[FG_AMOUNT_TEXT_SIZE];
    uint64_t mag;
    size_t   len;

    /* Negate in unsigned arithmetic: -INT64_MIN does not exist. */
    mag = micro < 0 ? (uint64_t) 0 - (uint64_t) micro : (uint64_t) micro;
    len = (size_t) snprintf(text, sizeof(text), "%s%llu.%06llu",
                            micro < 0 ? "-" : "",
                            (unsigned long long)
                            (mag / FG_AMOUNT_MICRO_PER_CREDIT),
                            (unsigned long long)
                            (mag % FG_AMOUNT_MICRO_PER_CREDIT));
    /* Whole text first, then cut to the caller's size, whatever it is. */
    if (size > 0) {
        len = len < size - 1 ? len : size - 1;
        memcpy(buf, text, len);
        buf[len] = '\0';
    }
    return buf;
}
