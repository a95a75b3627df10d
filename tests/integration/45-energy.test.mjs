// Energy: prepaid credit per key (issue 4; worker/meter.c, common/accounts/ledger.c,
// docs/api.md "Energy"). Before its upstream call a request reserves its
// worst case from the key's balance: the upper bound of its prompt's tokens
// (docs/api.md "Metering") plus its max_tokens, at the model's prices. A balance
// short of that lowers max_tokens to what it affords; one that cannot
// afford billing.min_reply_tokens (16) is a 402 before any upstream call.
// When the request ends its usage is charged and the rest refunded, once,
// on whatever path it ends: a reply, a stream, a client that left, a
// worker killed by SIGKILL (then the master charges the whole reservation).
//
// Every test makes its own key with a balance of its own, reads it through
// the admin API (GET /admin/v1/keys/{id}: energy.balance_micro is the live
// balance, reservations in flight taken out) and predicts every amount
// exactly: fg-sim's usage is a pure function of the body (tests/sim/plan.c:
// prompt_tokens = the o200k_base count with the chat template's overhead,
// completion_tokens = max_tokens words, or fewer when a stop string cuts),
// and the reservation is computed by tests/lib/tokens.mjs, the estimator
// written again on the reference tokenizer: demo-chat's prompt is counted
// exactly (o200k_base), the test models' below (no tokenizer) by their
// UTF-8 bytes plus the template's most.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  stopAll, shippedModels, simModel, sseData, startGateway, startSim, streamRequest, waitFor,
} from '../lib/harness.mjs';
import { chatPromptTokens, profileOf, promptBounds } from '../lib/tokens.mjs';

const URL_PATH = '/v1/chat/completions';
const MIN_REPLY_TOKENS = 16;   // billing.min_reply_tokens, the default

// demo-chat's prices, as etc/models.json ships them; the test models below
// route to fg-sim with the same prices.
const PRICE = shippedModels().find((m) => m.id === 'demo-chat').pricing;

const MODELS = {
  models: [...shippedModels(),
    // Holds every request 2 s before its first token: a burst is all in
    // flight (all reserved) at once.
    simModel('held-chat', 'sim-ttft-2000', { pricing: PRICE }),
    // Held long enough for four admin calls, fdatasync'd, on a slow machine.
    simModel('longer-held-chat', 'sim-ttft-6000', { pricing: PRICE }),
    // One token every 50 ms: a stream a client can leave half-way.
    simModel('drip-chat', 'sim-delay-50', { pricing: PRICE }),
    // Never answers: requests stay in flight until their worker dies.
    simModel('stall-chat', 'sim-fault-stall', { pricing: PRICE }),
    // Answers 500 at once: the provider failed.
    simModel('failing-chat', 'sim-fault-500', { pricing: PRICE })],
};

let sim;
let gw;

before(async () => {
  sim = await startSim();
  gw = await startGateway({ sim, models: MODELS });
});

after(async () => {
  await stopAll(gw, sim);
});

// The cost in micro-credits, rounded up, as fg_ledger_cost() computes it:
// (prompt - cached) x prompt price + cached x cached price + completion x
// completion price, per million tokens. BigInt: exact, like the C.
function cost(prompt, cached, completion) {
  const c = Math.min(cached, prompt);
  const sum = BigInt(prompt - c) * BigInt(PRICE.prompt_per_mtok_micro)
    + BigInt(c) * BigInt(PRICE.cached_prompt_per_mtok_micro)
    + BigInt(completion) * BigInt(PRICE.completion_per_mtok_micro);
  return Number((sum + 999999n) / 1000000n);
}

// How each model's prompts are counted (its catalog entry's `tokens`).
const PROFILES = new Map(MODELS.models.map((m) => [m.id, profileOf(m)]));

// The prompt tokens meter.c reserves for @body: the upper bound of its count.
const promptEstimate = (body) => promptBounds(body, PROFILES.get(body.model)).upper;

// What meter.c reserves for @body: fg_ledger_cost(price, the prompt's upper
// bound, 0, max_tokens), the larger of max_tokens and max_completion_tokens
// (worker/validate.c).
const worstCase = (body) => cost(promptEstimate(body), 0,
  Math.max(body.max_tokens ?? 0, body.max_completion_tokens ?? 0));

// What a reply's usage costs.
const usageCost = (u) => cost(u.prompt_tokens, u.prompt_tokens_details?.cached_tokens ?? 0,
  u.completion_tokens);

// The largest max_tokens @balance affords after @body's prompt estimate
// (fg_ledger_affordable_completion).
const affordable = (body, balance) => Number(
  (BigInt(balance) * 1000000n - BigInt(promptEstimate(body))
    * BigInt(PRICE.prompt_per_mtok_micro)) / BigInt(PRICE.completion_per_mtok_micro));

const chatBody = (over = {}) => ({
  model: 'demo-chat',
  messages: [{ role: 'user', content: 'hello gateway' }],
  ...over,
});

const bearer = (secret) => ({ authorization: `Bearer ${secret}` });

// A new key with @balance micro-credits: { id, secret }.
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

const chat = (key, body) => gw.post(URL_PATH, body, bearer(key.secret));

const header = (res, name) => {
  const v = res.headers[name];
  return v === undefined ? undefined : Number(v);
};

// The JSON events of an SSE body (everything but [DONE]).
const chunksOf = (text) => sseData(text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));

// Resolves once the worker has logged the end of request @id (after its
// charge: fg_req_finish() charges, then logs).
const requestEnded = (id) => waitFor(`the end of ${id} in the log`,
  () => gw.log().includes(`req=${id} status=`), { tries: 200, every: 25 });

// The workers that served @results, from the log's request lines.
const workersOf = (results) => waitFor('the request lines in the log', () => {
  const byId = new Map();
  for (const m of gw.log().matchAll(/ (worker#\d+)\[\d+\] req=(\S+) status=/g)) byId.set(m[2], m[1]);
  const ids = results.map((r) => r.headers['x-request-id']);
  return ids.every((id) => byId.has(id)) && new Set(ids.map((id) => byId.get(id)));
}, { tries: 200, every: 25 });

describe('before the upstream call', () => {
  test('a balance that cannot afford min_reply_tokens gets 402 BILLING_INSUFFICIENT_ENERGY, reaches no upstream and is unchanged', async () => {
    const body = chatBody({ max_tokens: 100 });
    const prompt = promptEstimate(body);
    const min = cost(prompt, 0, MIN_REPLY_TOKENS);
    const key = await keyWith('poor', min - 1);
    const upstreamBefore = (await sim.stats()).requests;

    const res = await chat(key, body);

    assert.equal(res.status, 402, res.text);
    const { error } = res.json();
    assert.equal(error.type, 'insufficient_quota');
    assert.equal(error.code, 'BILLING_INSUFFICIENT_ENERGY');
    // The balance, the least the request needs and the estimate behind it.
    assert.match(error.message, new RegExp(`balance of key ${key.id} is ${min - 1} micro-credits`));
    assert.match(error.message, new RegExp(`needs at least ${min} `));
    assert.match(error.message, new RegExp(`estimated ${prompt} prompt tokens and ${MIN_REPLY_TOKENS} output tokens`));
    assert.match(error.message, new RegExp(`would need ${worstCase(body)}\\b`));
    assert.equal((await sim.stats()).requests, upstreamBefore, 'a 402 must reach no upstream');
    assert.equal(await balanceOf(key), min - 1);
  });

  test('a balance short of max_tokens lowers it to what it affords, says so in x-fluxgate-max-tokens-lowered, and never goes negative', async () => {
    const body = chatBody({ max_tokens: 1000 });
    const balance = cost(promptEstimate(body), 0, 120);   // affords ~120 tokens
    const n = affordable(body, balance);
    assert.ok(n >= MIN_REPLY_TOKENS && n < 1000, `test set-up: affords ${n}`);
    const key = await keyWith('short', balance);

    const res = await chat(key, body);

    assert.equal(res.status, 200, res.text);
    assert.equal(header(res, 'x-fluxgate-max-tokens-lowered'), n);
    const upstreamGot = (await sim.stats()).last_body;
    assert.equal(upstreamGot.max_tokens, n);
    assert.equal(upstreamGot.max_completion_tokens, undefined, 'the client named max_tokens only');
    const { usage } = res.json();
    assert.ok(usage.completion_tokens <= n, `${usage.completion_tokens} tokens, lowered to ${n}`);
    const charged = header(res, 'x-fluxgate-charged-micro');
    assert.equal(charged, usageCost(usage));
    assert.ok(charged <= balance, `charged ${charged} of ${balance}`);
    assert.equal(header(res, 'x-fluxgate-balance-micro'), balance - charged);
    assert.ok(await balanceOf(key) >= 0);
    assert.equal(await balanceOf(key), balance - charged);
  });

  test('a lowered max_completion_tokens is written as max_completion_tokens', async () => {
    const body = chatBody({ max_completion_tokens: 1000 });
    const balance = cost(promptEstimate(body), 0, 50);
    const n = affordable(body, balance);
    const key = await keyWith('short-mct', balance);

    const res = await chat(key, body);

    assert.equal(res.status, 200, res.text);
    assert.equal(header(res, 'x-fluxgate-max-tokens-lowered'), n);
    const upstreamGot = (await sim.stats()).last_body;
    assert.equal(upstreamGot.max_completion_tokens, n);
    assert.equal(upstreamGot.max_tokens, undefined, 'the client named max_completion_tokens only');
    assert.equal(res.json().usage.completion_tokens, n);
    assert.equal(await balanceOf(key), balance - header(res, 'x-fluxgate-charged-micro'));
  });
});

describe('the charge', () => {
  test('a non-streaming reply carries x-fluxgate-charged-micro and x-fluxgate-balance-micro, and balance before - charged = balance after', async () => {
    const key = await keyWith('headers', 1000000);
    const before = await balanceOf(key);

    const res = await chat(key, chatBody({ max_tokens: 16 }));

    assert.equal(res.status, 200, res.text);
    const charged = header(res, 'x-fluxgate-charged-micro');
    const balance = header(res, 'x-fluxgate-balance-micro');
    assert.ok(Number.isInteger(charged) && charged > 0, res.headers['x-fluxgate-charged-micro']);
    assert.equal(balance, before - charged);
    assert.equal(await balanceOf(key), balance);
    assert.equal(res.headers['x-fluxgate-max-tokens-lowered'], undefined);
  });

  test('the charge is the usage at the model prices, rounded up to the micro-credit', async () => {
    const key = await keyWith('prices', 1000000);
    // 9 prompt tokens (3 + "user" 1 + "hello gateway" 2 + 3) and 16
    // completion tokens: 0.9 + 6.4 = 7.3 micro-credits.
    const body = chatBody({ max_tokens: 16 });
    const res = await chat(key, body);

    assert.equal(res.status, 200, res.text);
    const { usage } = res.json();
    assert.deepEqual([usage.prompt_tokens, usage.completion_tokens], [chatPromptTokens(body), 16]);
    assert.equal(usage.prompt_tokens, 9);
    assert.equal(usageCost(usage), 8);
    assert.equal(header(res, 'x-fluxgate-charged-micro'), usageCost(usage));
  });

  test('a stream without stream_options.include_usage shows no usage chunk, and is charged its usage', async () => {
    const key = await keyWith('stream-no-usage', 1000000);
    const body = chatBody({ stream: true, max_tokens: 20 });

    const res = await chat(key, body);

    assert.equal(res.status, 200, res.text);
    const chunks = chunksOf(res.text);
    assert.ok(chunks.length > 0 && sseData(res.text).at(-1) === '[DONE]', res.text);
    for (const c of chunks) {
      assert.ok(c.usage === undefined || c.usage === null, `a usage chunk reached the client: ${JSON.stringify(c)}`);
      assert.equal(c.fluxgate_billing, undefined);
    }
    // The gateway asked the upstream for the usage on the client's behalf.
    assert.equal((await sim.stats()).last_body.stream_options?.include_usage, true);
    assert.equal(await balanceOf(key), 1000000 - cost(chatPromptTokens(body), 0, 20));
  });

  test('a stream with stream_options.include_usage gets the charge in its usage chunk as fluxgate_billing', async () => {
    const key = await keyWith('stream-usage', 1000000);
    const body = chatBody({ stream: true, stream_options: { include_usage: true }, max_tokens: 20 });

    const res = await chat(key, body);

    assert.equal(res.status, 200, res.text);
    const withUsage = chunksOf(res.text).filter((c) => c.usage);
    assert.equal(withUsage.length, 1, res.text);
    const [chunk] = withUsage;
    const charged = usageCost(chunk.usage);
    assert.deepEqual(chunk.fluxgate_billing, {
      charged_micro: charged, balance_micro: 1000000 - charged, estimated: false,
    });
    assert.equal(await balanceOf(key), 1000000 - charged);
  });

  // The upstream generates up to n x max_tokens: the reservation covers
  // all n choices, so the charge is never cut to one of them.
  test('a request for n choices is reserved and charged for all n completions', async () => {
    const key = await keyWith('n-choices', 1000000);
    const res = await chat(key, chatBody({ n: 4, max_tokens: 100 }));

    assert.equal(res.status, 200, res.text);
    const { usage } = res.json();
    assert.equal(usage.completion_tokens, 400);
    assert.equal(header(res, 'x-fluxgate-charged-micro'), usageCost(usage));
    assert.equal(await balanceOf(key), 1000000 - usageCost(usage));
  });

  // With include_usage an upstream puts "usage": null on every chunk but
  // the last (OpenAI does); relay.c relay_on_event() forwards those chunks
  // verbatim, so a client that did not ask sees the member we asked for.
  test('a stream without stream_options.include_usage carries no usage member at all, as OpenAI\'s does', async () => {
    const res = await gw.post(URL_PATH, chatBody({ stream: true, max_tokens: 4 }));

    assert.equal(res.status, 200, res.text);
    for (const c of chunksOf(res.text)) {
      assert.ok(!('usage' in c), `a usage member reached the client: ${JSON.stringify(c)}`);
    }
  });
});

describe('under concurrency', () => {
  test('200 concurrent requests on a balance of about 50 worst cases never overspend, and the ledger is exact across a top-up', async () => {
    // A stop string cuts every reply to 3 tokens: the usage (2 micro) is
    // far below the worst case (1000 tokens), so the reservations, not
    // the charges, are what the balance runs out of.
    const body = chatBody({ model: 'held-chat', max_tokens: 1000, stop: 'gateway' });
    const worst = worstCase(body);
    const initial = 50 * worst + Math.floor(worst / 2);
    const topup = 10 * worst;
    const key = await keyWith('burst', initial);
    const inFlightBefore = (await sim.stats()).in_flight;

    // Reads of the balance while the burst runs: none may be negative.
    const seen = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        seen.push(await balanceOf(key));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const send = (n) => Array.from({ length: n }, () => chat(key, body));
    const first = send(100);
    // The top-up lands while the first half holds its reservations.
    await waitFor('the first requests at the upstream',
      async () => (await sim.stats()).in_flight >= inFlightBefore + 20, { tries: 200, every: 10 });
    const t = await gw.admin('POST', `/admin/v1/keys/${key.id}/topup`,
      { amount_micro: topup, idempotency_key: 'burst-topup-1' });
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json().applied, true);
    const results = await Promise.all([...first, ...send(100)]);
    polling = false;
    await poller;

    let charged = 0;
    const counts = { full: 0, lowered: 0, refused: 0 };
    for (const res of results) {
      if (res.status === 402) {
        assert.equal(res.json().error.code, 'BILLING_INSUFFICIENT_ENERGY', res.text);
        counts.refused++;
        continue;
      }
      assert.equal(res.status, 200, res.text);
      const c = header(res, 'x-fluxgate-charged-micro');
      assert.equal(c, usageCost(res.json().usage));
      assert.ok(header(res, 'x-fluxgate-balance-micro') >= 0, res.headers['x-fluxgate-balance-micro']);
      const lowered = header(res, 'x-fluxgate-max-tokens-lowered');
      if (lowered !== undefined) {
        assert.ok(lowered >= MIN_REPLY_TOKENS && lowered < 1000, `lowered to ${lowered}`);
        assert.ok(res.json().usage.completion_tokens <= lowered);
        counts.lowered++;
      } else {
        counts.full++;
      }
      charged += c;
    }
    const final = await balanceOf(key);
    const diag = `${JSON.stringify(counts)}, charged ${charged}, final ${final}, worst ${worst}`;
    assert.ok(counts.full + counts.lowered > 0, diag);
    assert.ok(charged <= initial + topup, diag);
    assert.ok(seen.length > 0 && seen.every((b) => b >= 0), `a negative balance was read: ${Math.min(...seen)}`);
    assert.equal(final, initial + topup - charged, diag);
    assert.equal((await workersOf(results)).size, 2, 'the burst reached both workers');
  });

  test('a top-up while requests are in flight lands in the live balance exactly once', async () => {
    const body = chatBody({ model: 'longer-held-chat', max_tokens: 500 });
    const worst = worstCase(body);
    const initial = 1000000;
    const topup = 123457;
    const key = await keyWith('topup-in-flight', initial);
    const inFlightBefore = (await sim.stats()).in_flight;

    const pending = Array.from({ length: 5 }, () => chat(key, body));
    await waitFor('five requests at the upstream',
      async () => (await sim.stats()).in_flight >= inFlightBefore + 5, { tries: 200, every: 10 });
    assert.equal(await balanceOf(key), initial - 5 * worst, 'five reservations held');

    const up = { amount_micro: topup, idempotency_key: 'in-flight-1' };
    const first = await gw.admin('POST', `/admin/v1/keys/${key.id}/topup`, up);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json().applied, true);
    assert.equal(first.json().key.energy.balance_micro, initial - 5 * worst + topup);
    const again = await gw.admin('POST', `/admin/v1/keys/${key.id}/topup`, up);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json().applied, false);
    assert.equal(await balanceOf(key), initial - 5 * worst + topup, 'a repeated top-up adds nothing');

    const results = await Promise.all(pending);
    let charged = 0;
    for (const res of results) {
      assert.equal(res.status, 200, res.text);
      charged += header(res, 'x-fluxgate-charged-micro');
    }
    assert.equal(await balanceOf(key), initial + topup - charged);
  });
});

describe('requests that end early', () => {
  test('a request the provider fails costs nothing', async () => {
    const key = await keyWith('failed', 1000000);

    const res = await chat(key, chatBody({ model: 'failing-chat', max_tokens: 100 }));

    assert.ok(res.status >= 500, `${res.status} ${res.text}`);
    await requestEnded(res.headers['x-request-id']);
    assert.equal(await balanceOf(key), 1000000);
  });

  test('a client that leaves mid-stream is charged for what was relayed, at most its reservation', async () => {
    const initial = 1000000;
    const key = await keyWith('leaver', initial);
    const body = chatBody({ model: 'drip-chat', stream: true, max_tokens: 200 });
    const reserved = worstCase(body);

    const s = await streamRequest(gw.url + URL_PATH, body, { headers: bearer(key.secret) });
    assert.equal(s.status, 200);
    const id = s.headers['x-request-id'];
    await waitFor('five tokens', () => s.events.length >= 6, { tries: 200, every: 10 });
    s.destroy();
    await requestEnded(id);

    // What the client saw is a floor of what the gateway counted.
    const seenBytes = s.events.map((e) => JSON.parse(e.data))
      .reduce((n, c) => n + Buffer.byteLength(c.choices?.[0]?.delta?.content ?? ''), 0);
    // Without the provider's count the prompt is charged at its estimate.
    const floor = cost(promptEstimate(body), 0, Math.ceil(seenBytes / 4));
    const drop = initial - await balanceOf(key);
    assert.ok(drop > 0, 'a stream that relayed text must be charged');
    assert.ok(drop >= floor, `charged ${drop}, less than the ${floor} of the text the client saw`);
    assert.ok(drop <= reserved, `charged ${drop}, more than the ${reserved} reserved`);
  });

  // relay.c relay_count_text() counts "content", "reasoning_content" and
  // "reasoning" only: tool-call arguments relayed without a usage count
  // are no text, so meter.c fg_meter_charge() charges nothing.
  test('a client that leaves a stream of tool-call arguments is charged for the arguments relayed', async () => {
    const initial = 1000000;
    const key = await keyWith('tool-leaver', initial);
    const properties = Object.fromEntries(Array.from({ length: 40 },
      (_, i) => [`field_number_${i}`, { type: 'string' }]));
    const body = chatBody({
      model: 'drip-chat', stream: true, max_tokens: 500,
      tools: [{ type: 'function', function: { name: 'fill', parameters: { type: 'object', properties } } }],
    });

    const s = await streamRequest(gw.url + URL_PATH, body, { headers: bearer(key.secret) });
    assert.equal(s.status, 200);
    await waitFor('ten argument pieces', () => s.events.length >= 11, { tries: 200, every: 10 });
    s.destroy();
    await requestEnded(s.headers['x-request-id']);

    const drop = initial - await balanceOf(key);
    assert.ok(drop > 0, 'a stream that relayed tool-call arguments must be charged');
    assert.ok(drop <= worstCase(body));
  });

  test('a worker SIGKILLed with requests in flight leaks no reservation: the master charges each in full', async () => {
    const initial = 10000000;
    const key = await keyWith('crash', initial);

    // Requests that complete before the crash: charged their usage.
    let completed = 0;
    for (let i = 0; i < 3; i++) {
      const res = await chat(key, chatBody({ max_tokens: 10 + i }));
      assert.equal(res.status, 200, res.text);
      completed += header(res, 'x-fluxgate-charged-micro');
    }

    // Requests that never end, each with a worst case of its own.
    const stalled = [100, 200, 300, 400, 500, 600].map((m) => chatBody({ model: 'stall-chat', max_tokens: m }));
    const worst = stalled.reduce((n, b) => n + worstCase(b), 0);
    const inFlightBefore = (await sim.stats()).in_flight;
    const pending = stalled.map((b) => chat(key, b).catch((e) => e));
    await waitFor('the stalled requests at the upstream',
      async () => (await sim.stats()).in_flight >= inFlightBefore + stalled.length, { tries: 200, every: 10 });
    assert.equal(await balanceOf(key), initial - completed - worst, 'the reservations are held');

    // Wherever the kernel put them, both workers die.
    const logFrom = gw.log().length;
    const victims = gw.workerPids();
    assert.equal(victims.length, 2);
    for (const pid of victims) process.kill(pid, 'SIGKILL');
    await Promise.all(pending);
    await waitFor('two replacement workers', () => {
      const now = gw.workerPids();
      return now.length === 2 && now.every((pid) => !victims.includes(pid));
    }, { tries: 200, every: 25 });

    const settled = [...gw.log().slice(logFrom)
      .matchAll(/worker#\d+ held (\d+) energy reservations; settled in full/g)]
      .reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(settled, stalled.length, gw.log().slice(logFrom));
    assert.equal(await balanceOf(key), initial - completed - worst);

    // The key works on the new workers, from the balance the master left.
    const res = await waitFor('a reply from the new workers', async () => {
      const r = await chat(key, chatBody({ max_tokens: 16 }));
      return r.status === 200 && r;
    }, { tries: 100, every: 50 });
    const charged = header(res, 'x-fluxgate-charged-micro');
    assert.equal(header(res, 'x-fluxgate-balance-micro'), initial - completed - worst - charged);
    assert.equal(await balanceOf(key), initial - completed - worst - charged);
  });
});

describe('across a clean restart', () => {
  // SIGTERM reaches the syncer together with the workers (master/cycle.c
  // cycle_signal_children): it persists the balances and exits at once,
  // while a worker still drains a request holding its reservation. The
  // refund that request gets when it ends is never stored: after the
  // restart the key has paid the whole worst case.
  test('a request that drains during a clean stop keeps its refund in the stored balance', async () => {
    const g = await startGateway({ sim, models: MODELS, key: false });
    let g2;
    let stopped;
    try {
      const { id, secret } = await g.createKey({ name: 'restart', energy: { balance_micro: 1000000 } });
      const body = chatBody({ model: 'held-chat', max_tokens: 1000, stop: 'gateway' });
      const inFlightBefore = (await sim.stats()).in_flight;
      const pending = g.post(URL_PATH, body, bearer(secret));
      await waitFor('the request at the upstream',
        async () => (await sim.stats()).in_flight >= inFlightBefore + 1, { tries: 200, every: 10 });

      stopped = g.stop();
      const res = await pending;
      assert.equal((await stopped).code, 0);
      assert.equal(res.status, 200, 'a clean stop lets the request finish');
      const charged = header(res, 'x-fluxgate-charged-micro');
      assert.ok(charged < worstCase(body));

      g2 = await startGateway({ sim, models: MODELS, dir: g.dir, key: false });
      await waitFor('the admin API after the restart', async () => {
        try {
          return (await g2.admin('GET', `/admin/v1/keys/${id}`)).status === 200;
        } catch {
          return false;
        }
      }, { tries: 200, every: 50 });
      const stored = (await g2.admin('GET', `/admin/v1/keys/${id}`)).json().energy.balance_micro;
      assert.equal(stored, 1000000 - charged,
        `stored ${stored}: the worst case ${worstCase(body)} was kept, not the charge ${charged}`);
    } finally {
      await (stopped ?? g.stop());
      await g2?.stop();
    }
  });
});
