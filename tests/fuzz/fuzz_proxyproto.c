/*
 * fuzz_proxyproto.c: libFuzzer target for the PROXY protocol header
 * parser (common/wire/proxyproto.c).
 *
 * The input is what a peer sends first. Checked: a header's length is
 * within the input and FG_PROXYPROTO_MAX_BYTES; every shorter prefix of a
 * header is "need more" (0), never a different answer, so a header split
 * across reads parses the same; a refused input stays refused when more
 * bytes follow; an input of FG_PROXYPROTO_MAX_BYTES or more is never
 * "need more".
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char     *buf = (const char *) data;
    fg_proxyproto_t pp, again;
    int             len, r;
    size_t          i;

    len = fg_proxyproto_parse(buf, size, &pp);
    if (len > 0) {
        if ((size_t) len > size || len > FG_PROXYPROTO_MAX_BYTES) {
            abort();
        }
        for (i = 0; i < (size_t) len; i++) {
            if (fg_proxyproto_parse(buf, i, &again) != 0) {
                abort();
            }
        }
        if (fg_proxyproto_parse(buf, (size_t) len, &again) != len
            || again.has_source != pp.has_source
            || (pp.has_source
                && memcmp(&again.source, &pp.source, sizeof(pp.source))
                   != 0)) {
            abort();
        }
    } else if (len < 0) {
        for (i = 0; i < size && i < 2 * FG_PROXYPROTO_MAX_BYTES; i++) {
            r = fg_proxyproto_parse(buf, i, &again);
            if (r > 0) {
                abort();   /* a prefix of a refused input was a header */
            }
        }
    } else if (size >= FG_PROXYPROTO_MAX_BYTES) {
        abort();
    }
    return 0;
}
