/*
 * bpe.c: OpenAI's byte-level BPE (see bpe.h): load a vocabulary, split a
 * text with its pattern, merge each piece by rank.
 *
 * The vocabulary is an arena of records (rank, length, bytes) and an
 * open-addressing table of 32-bit slots, each a record's offset and 8
 * bits of its key's hash, so a probe that meets another key rarely reads
 * the arena. The table is at most half full and fixed at load: clients
 * only look up, so the longest probe walk is fixed by the vocabulary and
 * no input can lengthen it; an unkeyed hash is enough.
 *
 * A piece that is no token is merged as tiktoken does: while some
 * adjacent pair of parts concatenates to a token, merge the pair of
 * lowest rank, the leftmost of equals. tiktoken scans for that pair after
 * every merge, O(n^2); here the candidate pairs wait in a min-heap keyed
 * by (rank, start), O(n log n) with the same choice at every step.
 * Measured, it is as fast as the scan even on 8-byte pieces, so there is
 * no second way.
 *
 * The pattern runs through PCRE2's JIT (the interpreter when JIT is not
 * available) on text whose UTF-8 was checked once, under a match limit.
 * Every code point starts a match of these patterns, so the pieces tile
 * the text; bytes no piece covers (a pattern that does not tile) are
 * counted as 0 to their length, as tiktoken skips them.
 *
 * All the scratch a count needs (the match data, the merge arrays) is
 * allocated at load, so counting never allocates.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <zlib.h>

#include "common/base/alloc.h"
#include "common/tokens/bpe.h"
#include "common/wire/utf8.h"

#define BPE_NO_RANK          UINT32_MAX
#define BPE_TOKEN_BYTES_MAX  1024          /* a longer token refuses the
                                              load: lengths fit 16 bits */
#define BPE_LINE_MAX         2048          /* base64 of the longest token,
                                              a space and a rank */
#define BPE_ARENA_MAX        (1u << 24)    /* offsets are 24 bits a slot */
#define BPE_RECORD_HEAD      6             /* rank (4 bytes), length (2) */
#define BPE_READ_CHUNK       (1u << 16)
#define BPE_START_BITS       12            /* a heap key: the pair's
                                              start offset in its piece, */
#define BPE_RANK_LIMIT       (1u << (32 - BPE_START_BITS))  /* its rank */
#define BPE_HEAP_CAP         (3 * FG_BPE_PIECE_MAX)
#define BPE_MATCH_LIMIT      (1u << 20)    /* one match of these patterns
                                              costs about the length of
                                              the run it backtracks over;
                                              a run this long is counted
                                              by bounds anyway */
#define BPE_HEAP_LIMIT_KIB   (8 * 1024)    /* the interpreter's frames */
#define BPE_JIT_STACK_MIN    (32 * 1024)
#define BPE_JIT_STACK_MAX    (1024 * 1024)

_Static_assert(FG_BPE_PIECE_MAX <= (1 << BPE_START_BITS),
               "a piece's offsets fit a heap key (and 16 bits)");

/* The merge arrays: one set a tokenizer, used by one count at a time. */
typedef struct {
    uint16_t end[FG_BPE_PIECE_MAX];   /* the part starting here ends
                                         there; 0: merged into its left */
    uint16_t prev[FG_BPE_PIECE_MAX];  /* the part before the one here */
    uint32_t pair[FG_BPE_PIECE_MAX];  /* rank of the part here merged
                                         with the next one */
    uint32_t heap[BPE_HEAP_CAP + 1];  /* rank << BPE_START_BITS | start,
                                         and room for a sentinel */
} bpe_scratch_t;

struct fg_bpe_s {
    char                *name;
    uint8_t             *arena;      /* arena[0] unused: offset 0 is "empty" */
    size_t               arena_len;
    uint32_t            *slots;      /* offset << 8 | hash tag; 0: empty */
    size_t               slot_mask;
    size_t               token_count;
    size_t               max_token_bytes;
    pcre2_code          *re;
    int                  jit;        /* the pattern is JIT-compiled */
    pcre2_jit_stack     *jit_stack;
    pcre2_match_context *match_ctx;
    pcre2_match_data    *match_data;
    bpe_scratch_t       *scratch;
};

/* Where a count's tokens go: always into the bounds, and into @ids when
 * encoding. */
typedef struct {
    fg_token_bounds_t bounds;
    uint32_t         *ids;       /* NULL: count only */
    size_t            cap;
    int               exact;
} bpe_sink_t;

static uint64_t bpe_hash(const uint8_t *p, size_t n);
static uint32_t bpe_rank(const fg_bpe_t *bpe, const uint8_t *p, size_t n);
static int bpe_load_json(fg_bpe_t *bpe, const char *path, char *ranks_path,
                         size_t ranks_path_size, char **pattern,
                         fg_err_t *err);
static int bpe_load_ranks(fg_bpe_t *bpe, const char *path, fg_err_t *err);
static int bpe_parse_line(fg_bpe_t *bpe, const int8_t *digit,
                          const char *line, size_t len, size_t *arena_cap,
                          int64_t *last_rank, const char *path,
                          size_t line_no, fg_err_t *err);
static int bpe_index(fg_bpe_t *bpe, const char *path, fg_err_t *err);
static int bpe_compile(fg_bpe_t *bpe, const char *path, const char *pattern,
                       fg_err_t *err);
static void bpe_run(const fg_bpe_t *bpe, const uint8_t *text, size_t len,
                    bpe_sink_t *sink);

/*
 * A 64-bit hash of a short key: whole 8-byte words, then the tail read
 * as overlapping loads (wyhash's trick), each mixed in by a multiply. The
 * table's index takes the low bits, its tag the top 8.
 */
static uint64_t
bpe_hash(const uint8_t *p, size_t n)
{
    const uint64_t m = 0x9e3779b97f4a7c15ULL;
    uint64_t       h = (uint64_t) n * m, w;
    uint32_t       a, b;

    while (n > 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * m;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        w = (uint64_t) a << 32 | b;
    } else if (n > 0) {
        w = (uint64_t) p[0] << 16 | (uint64_t) p[n >> 1] << 8 | p[n - 1];
    } else {
        w = 0;
    }
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
}

/* The rank of the token spelt by @n bytes at @p, or BPE_NO_RANK. The
 * walk ends: the table always has an empty slot. */
static uint32_t
bpe_rank(const fg_bpe_t *bpe, const uint8_t *p, size_t n)
{
    uint64_t h = bpe_hash(p, n);
    size_t   i = (size_t) h & bpe->slot_mask;
    uint32_t tag = (uint32_t) (h >> 56), slot, rank;
    uint16_t len;

    while ((slot = bpe->slots[i]) != 0) {
        if ((slot & 0xff) == tag) {
            const uint8_t *rec = bpe->arena + (slot >> 8);

            memcpy(&len, rec + 4, sizeof(len));
            if (len == n && memcmp(rec + BPE_RECORD_HEAD, p, n) == 0) {
                memcpy(&rank, rec, sizeof(rank));
                return rank;
            }
        }
        i = (i + 1) & bpe->slot_mask;
    }
    return BPE_NO_RANK;
}

/* The rank of bytes [@from, @to) of a piece; tokens longer than the
 * longest are not looked for. */
static inline uint32_t
bpe_span_rank(const fg_bpe_t *bpe, const uint8_t *piece, size_t from,
              size_t to)
{
    return to - from <= bpe->max_token_bytes
               ? bpe_rank(bpe, piece + from, to - from)
               : BPE_NO_RANK;
}

/* The base64 digit values, -1 for any other byte. */
static void
bpe_b64_table(int8_t digit[256])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int i;

    memset(digit, -1, 256);
    for (i = 0; i < 64; i++) {
        digit[(unsigned char) alphabet[i]] = (int8_t) i;
    }
}

/*
 * Decodes @n bytes of padded base64 into @out (room for n / 4 * 3).
 * Returns the length, or -1 unless the text is canonical base64: whole
 * quads, '=' only as the last one or two characters, and no bits set
 * that the padding drops (so one token has one spelling).
 */
static long
bpe_b64_decode(const int8_t *digit, const char *s, size_t n, uint8_t *out)
{
    size_t   i, pad = 0, len = 0;
    int      v[4], k;
    uint32_t quad;

    if (n == 0 || n % 4 != 0) {
        return -1;
    }
    pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    for (i = 0; i < n; i += 4) {
        for (k = 0; k < 4; k++) {
            if (i + (size_t) k >= n - pad) {
                v[k] = 0;
            } else if ((v[k] = digit[(unsigned char) s[i + k]]) < 0) {
                return -1;
            }
        }
        quad = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12
               | (uint32_t) v[2] << 6 | (uint32_t) v[3];
        out[len++] = (uint8_t) (quad >> 16);
        out[len++] = (uint8_t) (quad >> 8);
        out[len++] = (uint8_t) quad;
    }
    if ((pad == 2 && (quad & 0xffff) != 0) || (pad == 1 && (quad & 0xff) != 0)) {
        return -1;
    }
    return (long) (len - pad);
}

/*
 * Reads the JSON description: the name (kept), the pattern (returned,
 * owned by the caller) and the ranks file's path, resolved beside @path
 * unless absolute. "source" and "licence" must be there, as the record
 * of where the vocabulary comes from; nothing else may be.
 */
static int
bpe_load_json(fg_bpe_t *bpe, const char *path, char *ranks_path,
              size_t ranks_path_size, char **pattern, fg_err_t *err)
{
    json_error_t jerr;
    json_t      *root;
    const char  *name, *pat, *ranks, *source, *licence, *slash;
    int          dir_len, n;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return fg_err_set(err, FG_E_INVALID_JSON, NULL, "%s:%d:%d: %s", path,
                          jerr.line, jerr.column, jerr.text);
    }
    if (json_unpack_ex(root, &jerr, 0, "{s:s, s:s, s:s, s:s, s:s !}",
                       "name", &name, "pattern", &pat, "ranks", &ranks,
                       "source", &source, "licence", &licence) != 0) {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                   "%s: expected {\"name\", \"pattern\", \"ranks\", "
                   "\"source\", \"licence\"}, all strings: %s", path,
                   jerr.text);
        json_decref(root);
        return FG_ERR;
    }
    if (name[0] == '\0' || pat[0] == '\0' || ranks[0] == '\0'
        || source[0] == '\0' || licence[0] == '\0') {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: an empty field", path);
        json_decref(root);
        return FG_ERR;
    }
    slash = strrchr(path, '/');
    dir_len = ranks[0] == '/' || slash == NULL ? 0 : (int) (slash - path + 1);
    n = snprintf(ranks_path, ranks_path_size, "%.*s%s", dir_len, path, ranks);
    if (n < 0 || (size_t) n >= ranks_path_size) {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: \"ranks\" path too long",
                   path);
        json_decref(root);
        return FG_ERR;
    }
    bpe->name = fg_xstrdup(name);
    *pattern = fg_xstrdup(pat);
    json_decref(root);
    return FG_OK;
}

/*
 * One "<base64 token> <rank>" line into the arena. Ranks must rise line
 * by line (the format is sorted by rank), so no two tokens share one.
 */
static int
bpe_parse_line(fg_bpe_t *bpe, const int8_t *digit, const char *line,
               size_t len, size_t *arena_cap, int64_t *last_rank,
               const char *path, size_t line_no, fg_err_t *err)
{
    const char *space = memchr(line, ' ', len);
    size_t      b64_len, i, need;
    int64_t     rank = 0;
    uint16_t    token_len;
    uint32_t    rank32;
    long        decoded;

    if (space == NULL || space == line || space + 1 == line + len
        || (size_t) (line + len - space - 1) > 10) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: line %zu: expected \"<base64> <rank>\"", path,
                          line_no);
    }
    for (i = (size_t) (space + 1 - line); i < len; i++) {
        if (line[i] < '0' || line[i] > '9') {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: line %zu: the rank is not a number", path,
                              line_no);
        }
        rank = rank * 10 + (line[i] - '0');
    }
    if (rank <= *last_rank || rank >= BPE_RANK_LIMIT) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: line %zu: rank %lld is not above the one "
                          "before, or not below %u", path, line_no,
                          (long long) rank, BPE_RANK_LIMIT);
    }
    b64_len = (size_t) (space - line);
    need = BPE_RECORD_HEAD + b64_len / 4 * 3;
    if (b64_len > (BPE_TOKEN_BYTES_MAX + 2) / 3 * 4
        || bpe->arena_len + need > BPE_ARENA_MAX) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: line %zu: a token over %d bytes, or tokens "
                          "over %u bytes in all", path, line_no,
                          BPE_TOKEN_BYTES_MAX, BPE_ARENA_MAX);
    }
    while (bpe->arena_len + need > *arena_cap) {
        *arena_cap *= 2;
        bpe->arena = fg_xrealloc(bpe->arena, *arena_cap);
    }
    decoded = bpe_b64_decode(digit, line, b64_len,
                             bpe->arena + bpe->arena_len + BPE_RECORD_HEAD);
    if (decoded <= 0 || decoded > BPE_TOKEN_BYTES_MAX) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: line %zu: the token is not canonical base64 "
                          "of 1 to %d bytes", path, line_no,
                          BPE_TOKEN_BYTES_MAX);
    }
    rank32 = (uint32_t) rank;
    token_len = (uint16_t) decoded;
    memcpy(bpe->arena + bpe->arena_len, &rank32, sizeof(rank32));
    memcpy(bpe->arena + bpe->arena_len + 4, &token_len, sizeof(token_len));
    bpe->arena_len += BPE_RECORD_HEAD + (size_t) decoded;
    if ((size_t) decoded > bpe->max_token_bytes) {
        bpe->max_token_bytes = (size_t) decoded;
    }
    bpe->token_count++;
    *last_rank = rank;
    return FG_OK;
}

/* Reads the gzipped ranks file into the arena, line by line through a
 * fixed buffer; a line longer than BPE_LINE_MAX is an error. */
static int
bpe_load_ranks(fg_bpe_t *bpe, const char *path, fg_err_t *err)
{
    gzFile  gz;
    char   *buf, *line, *nl;
    size_t  have = 0, arena_cap = 1u << 20, line_no = 0, left;
    int64_t last_rank = -1;
    int8_t  digit[256];
    int     got, rc = FG_OK, zerr;

    errno = 0;
    gz = gzopen(path, "rb");
    if (gz == NULL) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: %s", path,
                          errno ? strerror(errno) : "cannot open");
    }
    gzbuffer(gz, BPE_READ_CHUNK);
    bpe_b64_table(digit);
    buf = fg_xmalloc(BPE_READ_CHUNK + BPE_LINE_MAX);
    bpe->arena = fg_xmalloc(arena_cap);
    bpe->arena_len = 1;
    for (;;) {
        got = gzread(gz, buf + have, BPE_READ_CHUNK);
        if (got < 0) {
            rc = fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: %s", path,
                            gzerror(gz, &zerr));
            break;
        }
        have += (size_t) got;
        line = buf;
        left = have;
        while (rc == FG_OK && (nl = memchr(line, '\n', left)) != NULL) {
            rc = bpe_parse_line(bpe, digit, line, (size_t) (nl - line),
                                &arena_cap, &last_rank, path, ++line_no, err);
            left -= (size_t) (nl + 1 - line);
            line = nl + 1;
        }
        if (rc != FG_OK) {
            break;
        }
        if (got == 0) {
            /* zlib ends a cut stream as if it were whole, but says so. */
            gzerror(gz, &zerr);
            if (zerr != Z_OK) {
                rc = fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                                "%s: truncated (%s)", path,
                                gzerror(gz, &zerr));
                break;
            }
            /* The last line may lack its newline. */
            if (left > 0) {
                rc = bpe_parse_line(bpe, digit, line, left, &arena_cap,
                                    &last_rank, path, ++line_no, err);
            }
            break;
        }
        if (left >= BPE_LINE_MAX) {
            rc = fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                            "%s: line %zu longer than %d bytes", path,
                            line_no + 1, BPE_LINE_MAX);
            break;
        }
        memmove(buf, line, left);
        have = left;
    }
    free(buf);
    gzclose(gz);
    if (rc == FG_OK && bpe->token_count == 0) {
        rc = fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: no tokens", path);
    }
    return rc;
}

/*
 * Builds the table over the arena's records and checks what the counts'
 * bounds rest on: no token twice, and every single byte a token.
 */
static int
bpe_index(fg_bpe_t *bpe, const char *path, fg_err_t *err)
{
    size_t   slots = 16, off = 1, i;
    uint16_t len;
    uint8_t  byte;

    while (slots < 2 * bpe->token_count) {
        slots *= 2;
    }
    bpe->slots = fg_xcalloc(slots, sizeof(*bpe->slots));
    bpe->slot_mask = slots - 1;
    while (off < bpe->arena_len) {
        const uint8_t *token = bpe->arena + off + BPE_RECORD_HEAD;
        uint64_t       h;

        memcpy(&len, bpe->arena + off + 4, sizeof(len));
        if (bpe_rank(bpe, token, len) != BPE_NO_RANK) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: a token appears twice", path);
        }
        h = bpe_hash(token, len);
        i = (size_t) h & bpe->slot_mask;
        while (bpe->slots[i] != 0) {
            i = (i + 1) & bpe->slot_mask;
        }
        bpe->slots[i] = (uint32_t) off << 8 | (uint32_t) (h >> 56);
        off += BPE_RECORD_HEAD + len;
    }
    for (i = 0; i < 256; i++) {
        byte = (uint8_t) i;
        if (bpe_rank(bpe, &byte, 1) == BPE_NO_RANK) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "%s: byte 0x%02zx is no token, and every "
                              "byte must be one", path, i);
        }
    }
    return FG_OK;
}

/*
 * Compiles the pattern (JIT when the platform has it) and makes the
 * match's context and data once. \C is refused: it could end a match
 * inside a character, where the next match, told the text is valid
 * UTF-8, would start.
 */
static int
bpe_compile(fg_bpe_t *bpe, const char *path, const char *pattern,
            fg_err_t *err)
{
    PCRE2_UCHAR msg[256];
    PCRE2_SIZE  offset;
    int         code;

    bpe->re = pcre2_compile((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C,
                            &code, &offset, NULL);
    if (bpe->re == NULL) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "%s: pattern, at offset %zu: %s", path,
                          (size_t) offset, (const char *) msg);
    }
    bpe->jit = pcre2_jit_compile(bpe->re, PCRE2_JIT_COMPLETE) == 0;
    bpe->match_ctx = pcre2_match_context_create(NULL);
    bpe->match_data = pcre2_match_data_create_from_pattern(bpe->re, NULL);
    if (bpe->match_ctx == NULL || bpe->match_data == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "%s: out of memory for the pattern", path);
    }
    pcre2_set_match_limit(bpe->match_ctx, BPE_MATCH_LIMIT);
    pcre2_set_heap_limit(bpe->match_ctx, BPE_HEAP_LIMIT_KIB);
    if (bpe->jit) {
        bpe->jit_stack = pcre2_jit_stack_create(BPE_JIT_STACK_MIN,
                                                BPE_JIT_STACK_MAX, NULL);
        if (bpe->jit_stack == NULL) {
            return fg_err_set(err, FG_E_INTERNAL, NULL,
                              "%s: out of memory for the JIT stack", path);
        }
        pcre2_jit_stack_assign(bpe->match_ctx, NULL, bpe->jit_stack);
    }
    return FG_OK;
}

fg_bpe_t *
fg_bpe_load(const char *path, fg_err_t *err)
{
    fg_bpe_t *bpe = fg_xcalloc(1, sizeof(*bpe));
    char      ranks_path[4096], *pattern = NULL;

    if (bpe_load_json(bpe, path, ranks_path, sizeof(ranks_path), &pattern,
                      err) != FG_OK
        || bpe_load_ranks(bpe, ranks_path, err) != FG_OK
        || bpe_index(bpe, ranks_path, err) != FG_OK
        || bpe_compile(bpe, path, pattern, err) != FG_OK) {
        free(pattern);
        fg_bpe_free(bpe);
        return NULL;
    }
    free(pattern);
    bpe->scratch = fg_xmalloc(sizeof(*bpe->scratch));
    return bpe;
}

void
fg_bpe_free(fg_bpe_t *bpe)
{
    if (bpe == NULL) {
        return;
    }
    pcre2_match_data_free(bpe->match_data);
    pcre2_match_context_free(bpe->match_ctx);
    pcre2_jit_stack_free(bpe->jit_stack);
    pcre2_code_free(bpe->re);
    free(bpe->scratch);
    free(bpe->slots);
    free(bpe->arena);
    free(bpe->name);
    free(bpe);
}

const char *
fg_bpe_name(const fg_bpe_t *bpe)
{
    return bpe->name;
}

size_t
fg_bpe_max_token_bytes(const fg_bpe_t *bpe)
{
    return bpe->max_token_bytes;
}

/* One token of rank @rank. */
static inline void
bpe_emit(bpe_sink_t *sink, uint32_t rank)
{
    if (sink->ids != NULL && (size_t) sink->bounds.upper < sink->cap) {
        sink->ids[sink->bounds.upper] = rank;
    }
    fg_token_bounds_add_exact(&sink->bounds, 1);
}

/* @n bytes that begin at a piece boundary, counted by the proven bounds
 * instead of merged. */
static void
bpe_emit_bounds(const fg_bpe_t *bpe, bpe_sink_t *sink, size_t n)
{
    sink->bounds.lower += (int64_t) ((n + bpe->max_token_bytes - 1)
                                     / bpe->max_token_bytes);
    sink->bounds.upper += (int64_t) n;
    sink->exact = 0;
}

/*
 * Moves @key down from @i to its place in the min-heap of @len keys. The
 * smaller child is picked without a branch (UINT32_MAX at heap[len] is
 * the missing right one): that branch mispredicts half the time, and
 * this loop is most of a long piece's cost; twice as fast so.
 */
static inline void
bpe_heap_sift_down(uint32_t *heap, size_t len, size_t i, uint32_t key)
{
    size_t child;

    heap[len] = UINT32_MAX;
    while ((child = 2 * i + 1) < len) {
        child += heap[child + 1] < heap[child];
        if (heap[child] >= key) {
            break;
        }
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = key;
}

static inline void
bpe_heap_push(uint32_t *heap, size_t *len, uint32_t key)
{
    size_t i = (*len)++, up;

    while (i > 0 && heap[up = (i - 1) / 2] > key) {
        heap[i] = heap[up];
        i = up;
    }
    heap[i] = key;
}

/*
 * The merge in O(n log n): parts as a list over s->end and s->prev, the
 * rank of each part merged with its next in s->pair, and the candidate
 * pairs in a min-heap of 32-bit keys rank << BPE_START_BITS | start, so
 * the lowest rank wins and, among equals, the leftmost, as in tiktoken's
 * scan. A pair that changed since it was offered is skipped when it
 * surfaces: its part's pair now has another rank (parts only grow, and a
 * longer span is another token). Each merge offers at most two pairs, so
 * the heap never holds more than 3n. Four-byte keys (rank, start) with
 * the pair checked through s->pair, rather than eight-byte ones carrying
 * the pair's end, took a quarter off the longest piece.
 * Returns the number of parts; s->end chains them from 0.
 */
static size_t
bpe_merge(const fg_bpe_t *bpe, bpe_scratch_t *s, const uint8_t *p, size_t n)
{
    size_t   len = 0, parts = n, i, start, mid, end;
    uint32_t key, rank;

    for (i = 0; i < n; i++) {
        s->end[i] = (uint16_t) (i + 1);
        s->prev[i] = (uint16_t) (i > 0 ? i - 1 : 0);
        s->pair[i] = i + 1 < n ? bpe_span_rank(bpe, p, i, i + 2)
                               : BPE_NO_RANK;
        if (s->pair[i] != BPE_NO_RANK) {
            s->heap[len++] = s->pair[i] << BPE_START_BITS | (uint32_t) i;
        }
    }
    for (i = len / 2; i-- > 0;) {
        bpe_heap_sift_down(s->heap, len, i, s->heap[i]);
    }
    while (len > 0) {
        key = s->heap[0];
        len--;
        bpe_heap_sift_down(s->heap, len, 0, s->heap[len]);
        start = key & ((1u << BPE_START_BITS) - 1);
        if (s->end[start] == 0 || s->pair[start] != key >> BPE_START_BITS) {
            continue;
        }
        mid = s->end[start];
        end = s->end[mid];
        s->end[start] = (uint16_t) end;
        s->end[mid] = 0;
        parts--;
        rank = BPE_NO_RANK;
        if (end < n) {
            s->prev[end] = (uint16_t) start;
            rank = bpe_span_rank(bpe, p, start, s->end[end]);
        }
        if ((s->pair[start] = rank) != BPE_NO_RANK) {
            bpe_heap_push(s->heap, &len, rank << BPE_START_BITS
                                             | (uint32_t) start);
        }
        if (start > 0) {
            i = s->prev[start];
            if ((s->pair[i] = bpe_span_rank(bpe, p, i, end)) != BPE_NO_RANK) {
                bpe_heap_push(s->heap, &len, s->pair[i] << BPE_START_BITS
                                                 | (uint32_t) i);
            }
        }
    }
    return parts;
}

/* One piece of @n bytes: a token itself, merged, or (too long) bounded. */
static void
bpe_piece(const fg_bpe_t *bpe, const uint8_t *p, size_t n, bpe_sink_t *sink)
{
    bpe_scratch_t *s = bpe->scratch;
    uint32_t       rank;
    size_t         parts, k;

    if (n > FG_BPE_PIECE_MAX) {
        bpe_emit_bounds(bpe, sink, n);
        return;
    }
    if (n <= bpe->max_token_bytes
        && (rank = bpe_rank(bpe, p, n)) != BPE_NO_RANK) {
        bpe_emit(sink, rank);
        return;
    }
    parts = bpe_merge(bpe, s, p, n);
    if (sink->ids == NULL) {
        fg_token_bounds_add_exact(&sink->bounds, (int64_t) parts);
        return;
    }
    for (k = 0; k < n; k = s->end[k]) {
        bpe_emit(sink, bpe_span_rank(bpe, p, k, s->end[k]));
    }
}

/* Whether all @len bytes are well-formed UTF-8; ASCII a word at a time. */
static int
bpe_utf8_valid(const uint8_t *p, size_t len)
{
    size_t   i = 0, n;
    uint64_t w;

    while (i < len) {
        if (len - i >= 8) {
            memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if ((n = fg_utf8_len(p + i, len - i)) == 0) {
            return 0;
        }
        i += n;
    }
    return 1;
}

/*
 * Splits valid UTF-8 into pieces and counts each. Every turn moves @pos
 * on by at least one byte, so there are at most @len turns; a match
 * that fails (match limit, JIT stack) leaves the rest to the bounds,
 * which hold for it because @pos is a piece boundary.
 */
static void
bpe_run(const fg_bpe_t *bpe, const uint8_t *text, size_t len,
        bpe_sink_t *sink)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(bpe->match_data);
    size_t      pos = 0, start, end, next;
    int         rc;

    if (!bpe_utf8_valid(text, len)) {
        bpe_emit_bounds(bpe, sink, len);
        return;
    }
    while (pos < len) {
        rc = bpe->jit
                 ? pcre2_jit_match(bpe->re, text, len, pos, 0,
                                   bpe->match_data, bpe->match_ctx)
                 : pcre2_match(bpe->re, text, len, pos, PCRE2_NO_UTF_CHECK,
                               bpe->match_data, bpe->match_ctx);
        if (rc == PCRE2_ERROR_NOMATCH) {
            start = end = next = len;
        } else if (rc < 0 || ov[0] < pos || ov[1] < ov[0] || ov[1] > len) {
            /* Failed, or (\K) a match that would not move on. */
            bpe_emit_bounds(bpe, sink, len - pos);
            return;
        } else {
            start = ov[0];
            end = ov[1];
            /* An empty match: skip a character, as tiktoken does. */
            next = start < end || start == len
                       ? end
                       : start + fg_utf8_len(text + start, len - start);
        }
        /* Bytes no piece covers: tiktoken skips them, so 0 is possible. */
        if (next - pos > end - start) {
            sink->bounds.upper += (int64_t) (next - pos - (end - start));
            sink->exact = 0;
        }
        if (start < end) {
            bpe_piece(bpe, text + start, end - start, sink);
        }
        pos = next;
    }
}

void
fg_bpe_count(const fg_bpe_t *bpe, const char *text, size_t len,
             fg_token_bounds_t *out)
{
    bpe_sink_t sink = { { 0, 0 }, NULL, 0, 1 };

    if (len > 0) {
        bpe_run(bpe, (const uint8_t *) text, len, &sink);
    }
    *out = sink.bounds;
}

int64_t
fg_bpe_encode(const fg_bpe_t *bpe, const char *text, size_t len,
              uint32_t *ids, size_t cap)
{
    bpe_sink_t sink = { { 0, 0 }, ids, cap, 1 };

    if (len > 0) {
        bpe_run(bpe, (const uint8_t *) text, len, &sink);
    }
    return sink.exact ? sink.bounds.upper : -1;
}
