#ifndef FG_ADMIN_AMOUNT_H
#define FG_ADMIN_AMOUNT_H

/*
 * Credits as people type them and as the admin API stores them. The API
 * counts energy in integer micro-units (1 credit = 1 000 000); the command
 * line takes decimal credits with at most six fraction digits ("12.5") and
 * output shows them with exactly six ("12.500000"). The conversion is pure
 * string work on int64_t, so no value is ever rounded through a double.
 *
 * A pure module: no allocation, no I/O, no dependency beyond libc, so
 * tests/unit/test_amount.c can compile it in directly.
 */

#include <stddef.h>
#include <stdint.h>

#define FG_AMOUNT_MICRO_PER_CREDIT  1000000
#define FG_AMOUNT_DECIMALS          6

/* "-9223372036854.775808" and its NUL: any int64_t fits. */
#define FG_AMOUNT_TEXT_SIZE         24

/*
 * Why fg_amount_parse() refused a text. Compared by pointer, printable as
 * they are ("--balance: too many decimals").
 */
extern const char fg_amount_err_empty[];
extern const char fg_amount_err_syntax[];
extern const char fg_amount_err_decimals[];
extern const char fg_amount_err_overflow[];

/*
 * Parses @text, the whole string, as credits: one or more ASCII digits,
 * optionally a '.' and one to six more digits. Nothing else is accepted:
 * no sign, no blank, no exponent, no leading or trailing '.'. Stores the
 * value in micro-units in *@micro and returns NULL; otherwise leaves
 * *@micro alone and returns one of the fg_amount_err_* strings (overflow
 * when the value exceeds INT64_MAX micro-units). Cannot fail otherwise.
 */
const char *fg_amount_parse(const char *text, int64_t *micro);

/*
 * Writes @micro as credits with six decimals ("12.500000", "-0.000001")
 * into @buf, NUL-terminated and truncated to @size (FG_AMOUNT_TEXT_SIZE is
 * always enough). Returns @buf so it can be an argument to printf.
 */
char *fg_amount_format(int64_t micro, char *buf, size_t size);

#endif
