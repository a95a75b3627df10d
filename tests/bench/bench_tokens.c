/*
 * bench_tokens.c: what counting a prompt's tokens costs (common/tokens/
 * bpe.h, o200k_base): the load, then fg_bpe_count over 2 KiB of English,
 * of Chinese, Japanese and Korean, of code, 64 KiB of English-like words,
 * and the worst single piece the merge takes (FG_BPE_PIECE_MAX random
 * letters). Each figure is the best of three rounds' means, with warm
 * caches; the English prompt is timed with cold ones too. Prints one
 * line a figure. Not a test: run by `make bench`.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/tokens/bpe.h"

#define ROUND_S     0.2
#define ROUNDS      3
#define EVICT_BYTES (64u << 20)   /* beyond the last-level cache */

static const char english[] =
    "You are a careful assistant for a small company that sells garden "
    "tools online. Answer the customer's question below in plain English, "
    "in at most three short paragraphs, and do not invent facts about "
    "stock, prices or delivery dates: when the context does not say, tell "
    "the customer that you will ask a colleague and that they will hear "
    "back within one working day. If the customer is upset, acknowledge "
    "it once, briefly, and then move on to what can be done. Never ask "
    "for card numbers or passwords.\n\n"
    "Context: the spring catalogue went live on 3 March. The pruning "
    "shears (model PS-200) are back in stock; the telescopic loppers are "
    "not, and the supplier expects a delivery at the end of the month. "
    "Orders placed before noon on a weekday leave the warehouse the same "
    "day; orders placed later, or at the weekend, leave the next working "
    "day. Standard delivery takes two to four days; express takes one. "
    "Returns are free within thirty days if the tool is unused and in its "
    "box, and the refund reaches the customer's account about five days "
    "after the parcel arrives back at the warehouse.\n\n"
    "Customer: Hi, I ordered the loppers and a pair of gloves on Friday "
    "evening and I still haven't got anything. The tracking page says "
    "the parcel is 'being prepared', which it has said for four days "
    "now. I need the loppers this weekend because the hedge is taking "
    "over the path and my neighbour has already complained twice. Can "
    "you tell me what's going on? If they can't arrive by Saturday I'd "
    "rather cancel the loppers, keep the gloves, and get my money back "
    "for the part I cancel. Also, is the PS-200 any good for thick "
    "branches, or would that be a waste of money? I don't want to buy "
    "another tool that turns out to be the wrong one. Thanks, Sam.\n\n"
    "Write the reply now. Start with a greeting that uses the customer's "
    "name, say what happened to the order, offer the choice between "
    "waiting and cancelling, and answer the question about the shears "
    "honestly, with what the context says and nothing more.\n";

static const char cjk[] =
    "人工智能模型按词元计费，因此网关需要在请求到达上游之前估算提示的长度。"
    "如果估算过低，预留的额度就不够；如果估算过高，用户会被不必要地拒绝。"
    "我们的做法是先精确计算常见的情况，再用可以证明的上下界处理其余部分。"
    "这样既不会多收费，也不会让一个异常的请求拖慢整个工作进程。"
    "東京の天気は今日も晴れで、午後には気温が二十五度まで上がる見込みです。"
    "週末は雨が降るかもしれないので、出かける前に天気予報を確認してください。"
    "このサービスは、リクエストごとに使用量を記録し、月末に請求書を作成します。"
    "ご不明な点がございましたら、サポート窓口までお気軽にお問い合わせください。"
    "오늘 회의는 오후 세 시에 시작하며, 새로운 요금제에 대해 논의할 예정입니다. "
    "참석하지 못하는 분은 회의록을 확인해 주시고, 질문이 있으면 이메일로 "
    "보내 주세요. 다음 주에는 서비스 점검이 있어 잠시 접속이 어려울 수 있습니다. "
    "불편을 드려 죄송하며, 더 나은 서비스를 위해 노력하겠습니다. "
    "模型的上下文窗口有限，超过限制的请求会被上游拒绝，所以提前检查更省时间。";

static const char code[] =
    "static int\n"
    "ring_push(ring_t *r, const entry_t *e)\n"
    "{\n"
    "    size_t next = (r->head + 1) & r->mask;\n"
    "\n"
    "    if (next == r->tail) {\n"
    "        r->dropped++;\n"
    "        return -1;   /* full: the caller counts it */\n"
    "    }\n"
    "    memcpy(&r->slots[r->head], e, sizeof(*e));\n"
    "    r->head = next;\n"
    "    return 0;\n"
    "}\n"
    "\n"
    "def summarise(rows, key=lambda r: r['model']):\n"
    "    totals = {}\n"
    "    for row in rows:\n"
    "        k = key(row)\n"
    "        t = totals.setdefault(k, {'requests': 0, 'tokens': 0})\n"
    "        t['requests'] += 1\n"
    "        t['tokens'] += row.get('prompt_tokens', 0) + row.get(\n"
    "            'completion_tokens', 0)\n"
    "    return sorted(totals.items(), key=lambda kv: -kv[1]['tokens'])\n"
    "\n"
    "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"system\", "
    "\"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": "
    "\"Count to ten.\"}], \"max_tokens\": 64, \"temperature\": 0.2, "
    "\"stream\": true}\n"
    "\n"
    "for (i = 0; i < n; i++) {\n"
    "    uint64_t h = hash(keys[i], lens[i]);\n"
    "    size_t   slot = (size_t) h & mask;\n"
    "\n"
    "    while (table[slot] != 0) {\n"
    "        slot = (slot + 1) & mask;\n"
    "    }\n"
    "    table[slot] = (uint32_t) i + 1;\n"
    "}\n";

static const char *const words[] = {
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was",
    "with", "be", "by", "on", "not", "he", "this", "are", "or", "his",
    "from", "at", "which", "but", "have", "an", "had", "they", "you",
    "were", "their", "one", "all", "we", "can", "her", "has", "there",
    "been", "if", "more", "when", "will", "would", "who", "so", "no",
    "gateway", "request", "tokens", "counted", "before", "upstream",
    "provider", "answers", "reservation", "limit", "window", "prompt",
    "customer", "delivery", "question", "understand", "measurement",
    "particularly", "nevertheless", "approximately", "responsibility",
    "international", "configuration", "unfortunately", "circumstances",
    "Monday", "London", "Paris", "October", "2025", "42", "3.14", "e.g.",
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long
next_random(unsigned long *state)
{
    *state = *state * 6364136223846793005UL + 1442695040888963407UL;
    return *state >> 33;
}

/* @size bytes (a whole UTF-8 sequence at the end) of @src repeated. */
static char *
repeat_to(const char *src, size_t size, size_t *len)
{
    size_t n = strlen(src), i;
    char  *out = malloc(size + 1);

    if (out == NULL) {
        exit(1);
    }
    for (i = 0; i <= size; i++) {
        out[i] = src[i % n];
    }
    while (size > 0 && ((unsigned char) out[size] & 0xc0) == 0x80) {
        size--;
    }
    *len = size;
    return out;
}

/* Seeded English-like words and punctuation, @size bytes. */
static char *
words_to(size_t size)
{
    static const size_t n_words = sizeof(words) / sizeof(words[0]);
    unsigned long       state = 13;
    char               *out = malloc(size + 64);
    size_t              len = 0;

    if (out == NULL) {
        exit(1);
    }
    while (len < size) {
        unsigned long r = next_random(&state);

        len += (size_t) sprintf(out + len, "%s%s", words[r % n_words],
                                r % 17 == 0 ? ". " : r % 11 == 0 ? ", " : " ");
    }
    return out;
}

/* Microseconds a count of @text: the best of ROUNDS means; with
 * @evict, the caches are flushed (untimed) before each count. */
static double
time_count(const fg_bpe_t *bpe, const char *text, size_t len, int evict,
           int64_t *tokens)
{
    static char      *junk;
    fg_token_bounds_t b;
    double            best = 1e30, t0, spent;
    long              n;
    int               round;

    if (evict && junk == NULL && (junk = malloc(EVICT_BYTES)) == NULL) {
        exit(1);
    }
    for (round = 0; round < ROUNDS; round++) {
        spent = 0;
        for (n = 0; spent < ROUND_S; n++) {
            if (evict) {
                memset(junk, (int) n, EVICT_BYTES);
            }
            t0 = now_s();
            fg_bpe_count(bpe, text, len, &b);
            spent += now_s() - t0;
        }
        if (spent / n < best) {
            best = spent / n;
        }
    }
    *tokens = b.upper;
    return best * 1e6;
}

static void
report(const fg_bpe_t *bpe, const char *what, const char *text, size_t len,
       int evict)
{
    int64_t tokens;
    double  us = time_count(bpe, text, len, evict, &tokens);

    printf("tokens %s: count %s (%zu bytes, %lld tokens): %.1f us, "
           "%.1f ns/byte\n", fg_bpe_name(bpe), what, len,
           (long long) tokens, us, us * 1000 / (double) len);
}

int
main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1]
                                : FG_SYSCONFDIR "/tokenizers/o200k_base.json";
    char        piece[FG_BPE_PIECE_MAX];
    fg_bpe_t   *bpe = NULL;
    fg_err_t    err;
    double      t0, load = 1e30;
    size_t      len, i;
    char       *text;
    unsigned long state = 7;
    int         round;

    for (round = 0; round < ROUNDS; round++) {
        fg_bpe_free(bpe);
        t0 = now_s();
        if ((bpe = fg_bpe_load(path, &err)) == NULL) {
            fprintf(stderr, "bench_tokens: %s\n", err.msg);
            return 1;
        }
        if (now_s() - t0 < load) {
            load = now_s() - t0;
        }
    }
    printf("tokens %s: load %.1f ms\n", fg_bpe_name(bpe), load * 1e3);

    text = repeat_to(english, 2048, &len);
    report(bpe, "2 KiB English", text, len, 0);
    report(bpe, "2 KiB English, cold caches", text, len, 1);
    free(text);
    text = repeat_to(cjk, 2048, &len);
    report(bpe, "2 KiB CJK", text, len, 0);
    free(text);
    text = repeat_to(code, 2048, &len);
    report(bpe, "2 KiB code", text, len, 0);
    free(text);
    text = words_to(64 * 1024);
    report(bpe, "64 KiB English-like words", text, 64 * 1024, 0);
    free(text);
    for (i = 0; i < sizeof(piece); i++) {
        piece[i] = (char) ('a' + next_random(&state) % 26);
    }
    report(bpe, "one 4096-byte piece of random letters", piece,
           sizeof(piece), 0);
    fg_bpe_free(bpe);
    return 0;
}
