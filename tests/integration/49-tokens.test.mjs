// Knowing how many tokens a request is (issue 13; common/tokens/tokcount.c,
// worker/pipeline.c pipeline_route, worker/meter.c; docs/api.md "Metering:
// a prompt's tokens before the provider counts them"). Before its upstream
// call a request's prompt is counted into two bounds: the reservation
// covers the upper bound, the context check rejects only on the lower one.
// With a shipped tokenizer (demo-chat: o200k_base) both are the exact
// count; without one the text is bounded by its UTF-8 bytes.
//
// What each request should reserve is computed by tests/lib/tokens.mjs, the
// estimator written again on the reference tokenizer (js-tiktoken), never
// by the C code under test. fg-sim bills prompts as a real tokenizer would
// (tests/sim/plan.c): o200k_base exactly by default, densely for a model
// tagged "tok-dense", images by gpt-4o's tiles formula, and k times that
// for "overprompt-<k>". The reservation is read where the gateway writes
// it: the reservation log (<data_dir>/reservations.journal, the amount held
// in charged_micro).
//
// Every test that is charged logs (t.diagnostic) the ratio of the prompt
// tokens reserved to those the provider billed.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  stopAll, reservationLog, shippedModels, simModel, startGateway, startSim, usageJournal, waitFor,
} from '../lib/harness.mjs';
import {
  EXACT_COUNT_BYTES, GPT4O_TILES, NO_TOKENIZER, chatPromptTokens, imageTokens, pngDataUrl, promptBounds,
} from '../lib/tokens.mjs';

const URL_PATH = '/v1/chat/completions';
const MIN_REPLY_TOKENS = 16;   // billing.min_reply_tokens, the default

// demo-chat's prices; the test models reuse them unless they say.
const PRICE = shippedModels().find((m) => m.id === 'demo-chat').pricing;
// One micro-credit a token, prompt or completion: a cost reads as tokens.
const UNIT_PRICE = { prompt_per_mtok_micro: 1000000, completion_per_mtok_micro: 1000000 };
const O200K_TOKENS = { tokenizer: 'o200k_base' };

const MODELS = {
  models: [...shippedModels(),
    // No tokenizer at the gateway; the provider counts densely (one token
    // a CJK character or emoji code point, a punctuation mark, 3 letters).
    simModel('dense-chat', 'sim-tok-dense', { pricing: PRICE }),
    // No tokenizer at the gateway; the provider counts o200k_base.
    simModel('plain-chat', 'sim-plain', { pricing: PRICE }),
    // o200k_base at one micro-credit a token.
    simModel('unit-chat', 'sim-unit', { pricing: UNIT_PRICE, tokens: O200K_TOKENS }),
    // Room for 200 tokens, at most 50 of them output.
    simModel('small-window', 'sim-small', {
      context_window: 200, max_output_tokens: 50, pricing: PRICE, tokens: O200K_TOKENS,
    }),
    simModel('small-window-bytes', 'sim-small', { context_window: 200, max_output_tokens: 50, pricing: PRICE }),
    // Bills three times the prompt it read.
    simModel('overprompt-chat', 'sim-overprompt-3', { pricing: PRICE, tokens: O200K_TOKENS })],
};

// Prompts whose tokens are dense for their bytes, and English prose.
const TEXTS = {
  CJK: '東京の天気予報によると、明日は午後から雨が降るそうです。傘を忘れずに持って行ってください。'
    + '人工智能正在改变我们的工作方式，许多公司已经开始使用大型语言模型来处理客户服务。'
    + '한국어 문장도 포함되어 있습니다. 오늘은 날씨가 정말 좋네요.',
  emoji: '👨‍👩‍👧‍👦🇫🇷🇯🇵👍🏽👋🏿🎉🔥😂🤖🧠✨🚀🌍🌧️☔🍣🍜🥟🧋 '.repeat(4),
  code: 'static int\nfg_ledger_reserve(fg_ledger_t *ledger, unsigned slot, const char *subject,\n'
    + '                  int64_t want_micro, int64_t min_micro, int64_t *held)\n{\n'
    + '    fg_account_t *acct = ledger_find(ledger, subject);\n'
    + '    if (acct == NULL || atomic_load(&acct->balance) < min_micro) {\n'
    + '        return 0;\n    }\n    *held = want_micro > acct->balance ? acct->balance : want_micro;\n'
    + '    atomic_fetch_sub(&acct->balance, *held);\n    return FG_OK;\n}\n',
  base64: Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919 + 13) % 256)).toString('base64'),
};
const ENGLISH = 'The gateway counts every prompt before it calls a provider. Where the model\'s '
  + 'tokenizer ships with it, the count is exact, and the reservation is exactly what the '
  + 'provider will bill; where it does not, the text is bounded by its bytes, because a '
  + 'byte-level tokenizer never makes more tokens than bytes. For ordinary English prose a '
  + 'token is about four characters long, so the bound reserves about four times what the '
  + 'request will be charged, and the rest is refunded as soon as the request ends. A tenant '
  + 'with a comfortable balance never notices; one whose balance barely covers a request may '
  + 'see its max_tokens lowered a little earlier than before.';

let sim;
let gw;

before(async () => {
  sim = await startSim();
  gw = await startGateway({ sim, models: MODELS });
});

after(async () => {
  await stopAll(gw, sim);
});

// The cost at @price in micro-credits, rounded up, as fg_ledger_cost().
function cost(price, prompt, completion) {
  const sum = BigInt(prompt) * BigInt(price.prompt_per_mtok_micro)
    + BigInt(completion) * BigInt(price.completion_per_mtok_micro);
  return Number((sum + 999999n) / 1000000n);
}

// fg-sim's dense count (tests/sim/plan.c): per text a token a non-ASCII
// code point, an ASCII punctuation mark or symbol, a run of white space,
// and 3 letters or digits of a run; 3 a message and 3 for the reply.
function denseTokens(text) {
  let n = 0;
  for (const m of text.matchAll(/[\t\n\v\f\r ]+|[A-Za-z0-9]+|[\x00-\x7f]|[^\x00-\x7f]/gu)) {
    n += /^[A-Za-z0-9]/.test(m[0]) ? Math.ceil(m[0].length / 3) : 1;
  }
  return n;
}
const densePromptTokens = (body) => 3 + body.messages
  .reduce((n, m) => n + 3 + denseTokens(m.role) + denseTokens(m.content), 0);

const bearer = (secret) => ({ authorization: `Bearer ${secret}` });
const chat = (key, body) => gw.post(URL_PATH, body, bearer(key.secret));
const header = (res, name) => (res.headers[name] === undefined ? undefined : Number(res.headers[name]));
const ratio = (a, b) => (a / b).toFixed(2);

// A new key with @balance micro-credits.
async function keyWith(name, balance) {
  const k = await gw.createKey({ name, energy: { balance_micro: balance } });
  assert.equal(k.key.energy.balance_micro, balance);
  return k;
}

// The key's live balance, through the admin API.
async function balanceOf(key) {
  const r = await gw.admin('GET', `/admin/v1/keys/${key.id}`);
  assert.equal(r.status, 200, r.text);
  return r.json().energy.balance_micro;
}

// The usage record of request @id (the gateway's x-request-id).
const recordOf = (id) => waitFor(`the usage record of ${id}`,
  () => usageJournal(gw.dataDir).lines.map((l) => l.record).find((r) => r.request_id === id),
  { tries: 200, every: 25 });

// The micro-credits request @id held while it ran (its reservation record).
const reservedOf = async (id) => (await waitFor(`the reservation of ${id}`,
  () => reservationLog(gw.dataDir).find((r) => r.request_id === id), { tries: 200, every: 25 }))
  .charged_micro;

// fluxgate_uncharged_micro_total of @model, from a scrape.
async function unchargedTotal(model) {
  const text = await gw.scrape();
  const m = text.match(new RegExp(`^fluxgate_uncharged_micro_total\\{model="${model}",provider="demo"\\} (\\d+)$`, 'm'));
  assert.ok(m, `no fluxgate_uncharged_micro_total series for ${model}:\n${text.split('\n')
    .filter((l) => l.includes('uncharged')).join('\n')}`);
  return Number(m[1]);
}

// Sends @body with a new key of @balance and checks the ledger: the reply's
// charge is its usage at @price, the record says the same with nothing
// uncharged (nor has the model's uncharged total ever grown), the balance
// lost exactly the charge. Returns what the test asserts on besides.
async function chargedExactly(name, body, price, balance = 1000000) {
  const key = await keyWith(name, balance);
  const res = await chat(key, body);
  assert.equal(res.status, 200, res.text);
  const id = res.headers['x-request-id'];
  const { usage } = res.json();
  const charged = header(res, 'x-fluxgate-charged-micro');
  assert.equal(charged, cost(price, usage.prompt_tokens, usage.completion_tokens));
  const rec = await recordOf(id);
  assert.equal(rec.charged_micro, charged);
  assert.equal(rec.uncharged_micro, 0, JSON.stringify(rec));
  assert.equal(await unchargedTotal(body.model), 0);
  assert.equal(await balanceOf(key), balance - charged);
  return { res, usage, charged, reserved: await reservedOf(id) };
}

describe('a model with a tokenizer reserves the exact count', () => {
  for (const [kind, text] of Object.entries(TEXTS)) {
    test(`${kind} prompts are reserved at their exact count and charged the provider's count in full, nothing uncharged (record, metric, balance)`, async (t) => {
      const body = {
        model: 'demo-chat', max_tokens: 20,
        messages: [{ role: 'system', content: 'Answer in one sentence.' }, { role: 'user', content: text }],
      };
      const prompt = chatPromptTokens(body);

      const { usage, charged, reserved } = await chargedExactly(`dense-${kind}`, body, PRICE);

      assert.equal(usage.prompt_tokens, prompt, 'fg-sim bills the o200k_base count');
      assert.equal(reserved, cost(PRICE, prompt, 20));
      assert.equal(charged, reserved, 'the reply used all of max_tokens');
      t.diagnostic(`${kind}: ${Buffer.byteLength(text)} bytes, ${prompt} prompt tokens; reserved/billed `
        + `prompt tokens 1.00 (the old estimate, body bytes / 4: `
        + `${ratio(Math.floor(Buffer.byteLength(JSON.stringify(body)) / 4), prompt)})`);
    });
  }

  // The example: before it, the reservation counted the body's
  // bytes / 4 and these were charged a few per cent of their cost.
  test('20 inline images with max_tokens 1 are reserved and charged the image formula in full', async (t) => {
    const sizes = [[512, 512], [1024, 1024], [2048, 4096], [640, 480], [4096, 2048]];
    const images = Array.from({ length: 20 }, (_, i) => sizes[i % sizes.length]);
    const question = { type: 'text', text: 'What do these images have in common?' };
    const body = {
      model: 'demo-chat', max_tokens: 1,
      messages: [{
        role: 'user',
        content: [question, ...images.map(([w, h]) => ({
          type: 'image_url', image_url: { url: pngDataUrl(w, h), detail: 'high' },
        }))],
      }],
    };
    // 255, 765, 1105, 425 and 1105 tokens, four times each.
    const imageCost = images.reduce((n, [width, height]) => n
      + imageTokens(GPT4O_TILES, 'high', { width, height }).upper, 0);
    assert.equal(imageCost, 4 * (255 + 765 + 1105 + 425 + 1105));
    const text = chatPromptTokens({ messages: [{ role: 'user', content: [question] }] });
    assert.equal(chatPromptTokens(body), text + imageCost);

    const { usage, charged, reserved } = await chargedExactly('images-inline', body, PRICE);

    assert.equal(usage.prompt_tokens, text + imageCost, 'fg-sim bills the formula for the sizes the PNGs state');
    assert.equal(reserved, cost(PRICE, text + imageCost, 1));
    assert.equal(charged, reserved);
    const old = Math.floor(Buffer.byteLength(JSON.stringify(body)) / 4);
    t.diagnostic(`20 images: ${usage.prompt_tokens} prompt tokens; reserved/billed 1.00 (the old `
      + `estimate: ${old} tokens, ${ratio(old, usage.prompt_tokens)} of them)`);
  });

  // limits.exact_count_bytes (64 KiB): a text the rest of the budget cannot
  // hold is bounded, one token a byte at most, instead of counted.
  test('a text past the exact-count budget is reserved by its bytes, and charged the provider\'s count', async (t) => {
    const text = ENGLISH.repeat(Math.ceil(70000 / ENGLISH.length));
    assert.ok(Buffer.byteLength(text) > EXACT_COUNT_BYTES);
    const body = { model: 'demo-chat', max_tokens: 10, messages: [{ role: 'user', content: text }] };
    // 3 + "user" + the text's bytes + 3.
    const upper = 7 + Buffer.byteLength(text);
    assert.equal(promptBounds(body).upper, upper);

    const { usage, charged, reserved } = await chargedExactly('past-budget', body, PRICE);

    assert.equal(reserved, cost(PRICE, upper, 10));
    assert.equal(usage.prompt_tokens, chatPromptTokens(body, { budget: Infinity }), 'fg-sim counts it all');
    assert.ok(charged < reserved);
    t.diagnostic(`${Buffer.byteLength(text)} bytes of English past the budget: reserved ${upper} prompt `
      + `tokens, billed ${usage.prompt_tokens}: ${ratio(upper, usage.prompt_tokens)}`);
  });

  test('remote image URLs are reserved at the formula\'s maximum for their detail, and charged what the provider bills', async (t) => {
    const part = (n, detail) => ({
      type: 'image_url', image_url: { url: `https://images.example.invalid/photo-${n}.jpg`, detail },
    });
    const question = { type: 'text', text: 'Describe these photos.' };
    const body = {
      model: 'demo-chat', max_tokens: 10,
      messages: [{ role: 'user', content: [question, part(1, 'high'), part(2, 'high'), part(3, 'auto'), part(4, 'low')] }],
    };
    // Never fetched: high (and auto, which may be high) at most 85 + 170 x 8
    // tiles, low 85.
    const text = chatPromptTokens({ messages: [{ role: 'user', content: [question] }] });
    const most = text + 3 * 1445 + 85;
    assert.equal(promptBounds(body).upper, most);

    const { usage, charged, reserved } = await chargedExactly('images-remote', body, PRICE);

    assert.equal(reserved, cost(PRICE, most, 10));
    assert.ok(usage.prompt_tokens <= most, `billed ${usage.prompt_tokens}, reserved ${most}`);
    assert.ok(charged <= reserved);
    t.diagnostic(`4 remote images: reserved ${most} prompt tokens, billed ${usage.prompt_tokens} `
      + `(fg-sim bills a remote image its most too): ${ratio(most, usage.prompt_tokens)}`);
  });
});

describe('a model without a tokenizer reserves the byte bound', () => {
  for (const [kind, text] of Object.entries(TEXTS)) {
    test(`${kind} prompts reserve their UTF-8 bytes and the template's most, and are charged the provider's dense count, nothing uncharged`, async (t) => {
      const body = { model: 'dense-chat', max_tokens: 20, messages: [{ role: 'user', content: text }] };
      // 4 + the text's bytes, 8 for the message's markers, 8 for the reply's.
      const upper = promptBounds(body, NO_TOKENIZER).upper;
      assert.equal(upper, 4 + Buffer.byteLength(text) + 16);

      const { usage, charged, reserved } = await chargedExactly(`bytes-${kind}`, body, PRICE);

      assert.equal(reserved, cost(PRICE, upper, 20));
      assert.equal(usage.prompt_tokens, densePromptTokens(body), 'fg-sim bills its dense count');
      assert.ok(usage.prompt_tokens <= upper);
      assert.ok(charged <= reserved);
      t.diagnostic(`${kind}, no tokenizer: reserved ${upper} prompt tokens, billed ${usage.prompt_tokens} `
        + `(dense): ${ratio(upper, usage.prompt_tokens)}; o200k_base would bill `
        + `${chatPromptTokens(body)}: ${ratio(upper, chatPromptTokens(body))}`);
    });
  }

  // docs/api.md: for English text the byte bound is about 4 times the real
  // count; 6 leaves room for short prompts, where the template's 8-token
  // markers weigh more.
  test('English prose reserves at most 6 times the tokens a real tokenizer bills for it', async (t) => {
    const body = { model: 'plain-chat', max_tokens: 20, messages: [{ role: 'user', content: ENGLISH }] };
    const upper = promptBounds(body, NO_TOKENIZER).upper;

    const { usage, reserved } = await chargedExactly('bytes-english', body, PRICE);

    assert.equal(reserved, cost(PRICE, upper, 20));
    assert.equal(usage.prompt_tokens, chatPromptTokens(body), 'fg-sim bills the o200k_base count');
    const r = upper / usage.prompt_tokens;
    assert.ok(r >= 1 && r <= 6, `reserved ${upper} prompt tokens for ${usage.prompt_tokens}: ${r}`);
    t.diagnostic(`English, no tokenizer: reserved ${upper} prompt tokens, billed ${usage.prompt_tokens} `
      + `(o200k_base): ${ratio(upper, usage.prompt_tokens)}`);
  });
});

describe('a near-empty balance', () => {
  // unit-chat: one micro-credit a token. The balance affords an English
  // prompt and billing.min_reply_tokens; emoji of the same byte length are
  // more tokens than that.
  test('a dense prompt whose count cannot be afforded with min_reply_tokens gets 402 and leaves the balance untouched, while an English prompt of the same bytes is served', async () => {
    const emoji = TEXTS.emoji;
    const english = ENGLISH.slice(0, Buffer.byteLength(emoji));
    assert.equal(Buffer.byteLength(english), Buffer.byteLength(emoji));
    const dense = { model: 'unit-chat', max_tokens: 100, messages: [{ role: 'user', content: emoji }] };
    const plain = { model: 'unit-chat', max_tokens: 100, messages: [{ role: 'user', content: english }] };
    const balance = chatPromptTokens(plain) + MIN_REPLY_TOKENS;
    assert.ok(chatPromptTokens(dense) + MIN_REPLY_TOKENS > balance,
      `test set-up: ${chatPromptTokens(dense)} emoji tokens, ${chatPromptTokens(plain)} English`);
    const key = await keyWith('near-empty', balance);
    const upstreamBefore = (await sim.stats()).requests;

    const refused = await chat(key, dense);

    assert.equal(refused.status, 402, refused.text);
    const { error } = refused.json();
    assert.equal(error.code, 'BILLING_INSUFFICIENT_ENERGY');
    assert.match(error.message, new RegExp(`estimated ${chatPromptTokens(dense)} prompt tokens and ${MIN_REPLY_TOKENS} output tokens`));
    assert.equal((await sim.stats()).requests, upstreamBefore, 'a 402 reaches no upstream');
    assert.equal(await balanceOf(key), balance);

    const served = await chat(key, plain);

    assert.equal(served.status, 200, served.text);
    assert.equal(header(served, 'x-fluxgate-max-tokens-lowered'), MIN_REPLY_TOKENS);
    const charged = header(served, 'x-fluxgate-charged-micro');
    assert.equal(charged, chatPromptTokens(plain) + served.json().usage.completion_tokens);
    assert.equal(await balanceOf(key), balance - charged);
  });
});

describe('the context window', () => {
  // "hello hello …": one o200k_base token a word; a user message of @n
  // words is n + 7 prompt tokens (3 + "user" + the words + 3).
  const words = (n) => `hello${' hello'.repeat(n - 1)}`;
  const small = (n, over = {}) => ({
    model: 'small-window', messages: [{ role: 'user', content: words(n) }], ...over,
  });

  test('a prompt whose exact count plus max_tokens exceeds the context window gets 400 context_length_exceeded with the numbers, before any upstream call and at no charge', async () => {
    const body = small(153, { max_tokens: 41 });
    assert.equal(chatPromptTokens(body), 160);
    const key = await keyWith('context', 1000000);
    const upstreamBefore = (await sim.stats()).requests;

    const res = await chat(key, body);

    assert.equal(res.status, 400, res.text);
    const { error } = res.json();
    assert.equal(error.type, 'invalid_request_error');
    assert.equal(error.code, 'context_length_exceeded');
    assert.equal(error.param, 'messages');
    assert.equal(error.message, 'This model\'s maximum context length is 200 tokens. However, you '
      + 'requested 201 tokens (160 in the messages, 41 in the completion). Please reduce the length '
      + 'of the messages or completion.');
    assert.equal((await sim.stats()).requests, upstreamBefore, 'no upstream call');
    assert.equal(await balanceOf(key), 1000000);
    const rec = await recordOf(res.headers['x-request-id']);
    assert.deepEqual([rec.status, rec.error_code, rec.charged_micro, rec.attempts.length],
      [400, 'context_length_exceeded', 0, 0]);
    assert.equal(reservationLog(gw.dataDir).find((r) => r.request_id === rec.request_id), undefined,
      'nothing was reserved');
  });

  test('a prompt whose count plus max_tokens is exactly the context window is served', async () => {
    const body = small(153, { max_tokens: 40 });

    const res = await gw.post(URL_PATH, body);

    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().usage.prompt_tokens + 40, 200);
  });

  // As OpenAI's API: a request that names no limit may generate what the
  // window leaves after its prompt, at most the model's maximum output.
  test('without max_tokens the output reserved is the model\'s maximum cut to what the window leaves after the prompt', async () => {
    const body = small(144);
    assert.equal(chatPromptTokens(body), 151);

    const res = await gw.post(URL_PATH, body);

    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().usage.prompt_tokens, 151);
    assert.equal(await reservedOf(res.headers['x-request-id']), cost(PRICE, 151, 200 - 151));
    assert.equal((await sim.stats()).last_body.max_tokens, undefined, 'no limit is sent for the client');
  });

  test('without max_tokens a prompt that fills the window on its own is refused', async () => {
    const body = small(193);
    assert.equal(chatPromptTokens(body), 200);
    const upstreamBefore = (await sim.stats()).requests;

    const res = await gw.post(URL_PATH, body);

    assert.equal(res.status, 400, res.text);
    const { error } = res.json();
    assert.deepEqual([error.code, error.param], ['context_length_exceeded', 'messages']);
    assert.equal(error.message, "This model's maximum context length is 200 tokens. However, "
      + 'your messages resulted in 200 tokens. Please reduce the length of the messages.');
    assert.equal((await sim.stats()).requests, upstreamBefore, 'no upstream call');
  });

  test('without a tokenizer only the lower bound refuses: a prompt that may fit is sent', async () => {
    const body = { ...small(100, { max_tokens: 50 }), model: 'small-window-bytes' };
    const { lower, upper } = promptBounds(body, NO_TOKENIZER);
    assert.ok(upper + 50 > 200 && lower + 50 <= 200, `bounds ${lower}..${upper}`);

    const res = await gw.post(URL_PATH, body);

    assert.equal(res.status, 200, res.text);
    assert.ok(res.json().usage.prompt_tokens + 50 <= 200, 'it did fit');
  });

  test('without a tokenizer a prompt that cannot fit even at one token per 256 bytes is refused, "at least" that many', async () => {
    const body = { ...small(9000, { max_tokens: 50 }), model: 'small-window-bytes' };
    const { lower } = promptBounds(body, NO_TOKENIZER);
    assert.ok(lower + 50 > 200, `lower bound ${lower}`);
    const upstreamBefore = (await sim.stats()).requests;

    const res = await gw.post(URL_PATH, body);

    assert.equal(res.status, 400, res.text);
    assert.equal(res.json().error.code, 'context_length_exceeded');
    assert.match(res.json().error.message,
      new RegExp(`you requested ${lower + 50} tokens \\(at least ${lower} in the messages, 50 in the completion\\)`));
    assert.equal((await sim.stats()).requests, upstreamBefore, 'no upstream call');
  });
});

describe('a provider that bills more than the estimate\'s upper bound', () => {
  // overprompt-chat's provider bills three times the prompt the gateway
  // counted exactly: the excess is cut (zero overspend), but not silently.
  test('the excess is uncharged_micro in the usage record and in fluxgate_uncharged_micro_total, and the log names the prompt above the upper bound', async () => {
    const body = { model: 'overprompt-chat', max_tokens: 10, messages: [{ role: 'user', content: ENGLISH }] };
    const prompt = chatPromptTokens(body);
    const key = await keyWith('overprompt', 1000000);

    const res = await chat(key, body);

    assert.equal(res.status, 200, res.text);
    const id = res.headers['x-request-id'];
    const { usage } = res.json();
    assert.equal(usage.prompt_tokens, 3 * prompt);
    const reserved = cost(PRICE, prompt, 10);
    const uncharged = cost(PRICE, usage.prompt_tokens, usage.completion_tokens) - reserved;
    assert.ok(uncharged > 0);
    assert.equal(header(res, 'x-fluxgate-charged-micro'), reserved);
    const rec = await recordOf(id);
    assert.deepEqual([rec.charged_micro, rec.uncharged_micro], [reserved, uncharged]);
    assert.ok(!rec.flags.includes('provider_usage_malformed'), 'a count a reply could have');
    assert.equal(await balanceOf(key), 1000000 - reserved);
    assert.equal(await unchargedTotal('overprompt-chat'), uncharged);
    await waitFor('the warning in the log', () => gw.log().includes(`req=${id} not charged`));
    assert.ok(gw.log().includes(`req=${id} not charged ${uncharged} micro-credits: provider demo `
      + `counted ${3 * prompt} prompt tokens for overprompt-chat, above the estimate's upper bound `
      + `of ${prompt}`), gw.log().split('\n').filter((l) => l.includes(id)).join('\n'));
  });
});
