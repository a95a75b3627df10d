// Rate limits (worker/admit.c, common/accounts/limiter.c; docs/api.md "Rate limits"):
// a key's requests_per_min, max_concurrent and tokens_per_min, and a model's
// global limit from the catalog, each hit by many concurrent clients on
// fresh connections across both workers. The limits must hold exactly
// across the workers, a refused request must reach no upstream and cost
// nothing, Retry-After must be honest, and a concurrency slot must come
// back on every way a request ends, a worker killed by SIGKILL included.
//
// GCRA gives a key its whole minute at once, then one request every
// 60 s / limit: a burst sent within a few seconds sees exactly `limit`
// admissions. Every test makes its own keys, so no test sees another's
// counters.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import {
  stopAll, CHAT, shippedModels, simModel, sleep, startGateway, startSim, waitFor,
} from '../lib/harness.mjs';
import { NO_TOKENIZER, chatPromptTokens, promptBounds } from '../lib/tokens.mjs';

let sim;
let gw;

// 'slow' answers after 3 s, long enough for every request of a burst
// to arrive while the first ones are held; 'limited' carries a
// global limit of 2 requests a minute over all keys.
before(async () => {
  sim = await startSim();
  gw = await startGateway({
    sim,
    models: {
      models: [...shippedModels(),
        simModel('slow', 'sim-ttft-3000'),
        simModel('limited', 'sim-echo', { limits: { requests_per_min: 2 } })],
    },
  });
});

after(async () => {
  await stopAll(gw, sim);
});

const bearer = (secret) => ({ authorization: `Bearer ${secret}` });

// A chat completion with the key @secret, on a fresh connection.
const chat = (secret, over = {}) => gw.post('/v1/chat/completions', { ...CHAT, ...over },
  bearer(secret));

// @n chat completions at once, each on its own connection.
const burst = (n, secret, over = {}) => Promise.all(Array.from({ length: n }, () => chat(secret, over)));

const ok = (results) => results.filter((r) => r.status === 200);
const refused = (results) => results.filter((r) => r.status === 429);

// A new key with @limits; resolves to its secret.
async function keyWith(name, limits) {
  return (await gw.createKey({ name, limits })).secret;
}

// A 429 of the gateway's own limiter: OpenAI's error shape, type
// rate_limit_error, @code, and Retry-After in whole seconds, at least 1.
function assertRefused(res, code) {
  assert.equal(res.status, 429, res.text);
  const body = res.json();
  assert.equal(body.error.type, 'rate_limit_error', res.text);
  assert.equal(body.error.code, code, res.text);
  assert.match(res.headers['retry-after'] ?? '', /^[1-9][0-9]*$/, res.text);
  return body.error;
}

// The workers that served @results, from the log's request lines (each
// written when its request ends, which may be just after the reply).
async function workersOf(results) {
  const ids = results.map((r) => r.headers['x-request-id']);
  return waitFor('the request lines in the log', () => {
    const byId = new Map();
    for (const m of gw.log().matchAll(/ (worker#\d+)\[\d+\] req=(\S+) status=/g)) byId.set(m[2], m[1]);
    return ids.every((id) => byId.has(id)) && new Set(ids.map((id) => byId.get(id)));
  });
}

// fg-sim's chat request counter.
const upstreamRequests = async () => (await sim.stats()).requests;

// "20ms", "1.5s", "6m0s" (OpenAI's x-ratelimit-reset-* durations) in ms;
// NaN for anything else, including seconds past 59 in the minute form.
function durationMs(text) {
  let m = /^(\d+)ms$/.exec(text);
  if (m) return Number(m[1]);
  m = /^(\d+)(?:\.(\d{1,3}))?s$/.exec(text);
  if (m) return Number(m[1]) * 1000 + Number((m[2] || '').padEnd(3, '0'));
  m = /^(\d+)m(\d+)s$/.exec(text);
  if (m && Number(m[2]) < 60) return Number(m[1]) * 60000 + Number(m[2]) * 1000;
  return NaN;
}

describe('requests per minute', () => {
  test('of 30 concurrent requests on a key allowed 10 a minute, exactly 10 pass, over both workers', async () => {
    // Which worker takes a connection is the kernel's choice: bursts go on
    // (each on a new key) until one was served by both, and every burst
    // must admit exactly 10.
    let served = new Set();
    for (let round = 0; round < 5 && served.size < 2; round++) {
      const secret = await keyWith(`rpm-10-${round}`, { requests_per_min: 10 });
      const t0 = Date.now();
      const results = await burst(30, secret);
      // An 11th would need 6 s more (60 s / 10).
      const most = Date.now() - t0 < 6000 ? 10 : 11;
      assert.ok(ok(results).length >= 10 && ok(results).length <= most,
        `${ok(results).length} passed`);
      assert.equal(refused(results).length, 30 - ok(results).length);
      served = await workersOf(results);
    }
    assert.equal(served.size, 2, 'no burst was served by both workers');
  });

  test('a request over the limit gets 429 rate_limit_requests with Retry-After in whole seconds', async () => {
    const secret = await keyWith('rpm-refusal', { requests_per_min: 10 });
    const t0 = Date.now();
    const results = await burst(12, secret);
    // An 11th would need 6 s more (60 s / 10).
    const fewest = Date.now() - t0 < 6000 ? 2 : 1;
    assert.ok(refused(results).length >= fewest && refused(results).length <= 2,
      `${refused(results).length} refused`);
    for (const res of refused(results)) {
      const err = assertRefused(res, 'rate_limit_requests');
      assert.match(err.message, /requests per minute/);
      // The next turn is 6 s away (60 s / 10), less what has passed.
      assert.ok(Number(res.headers['retry-after']) <= 6, res.headers['retry-after']);
    }
  });

  test('a refused request reaches no upstream', async () => {
    const secret = await keyWith('rpm-upstream', { requests_per_min: 5 });
    const before = await upstreamRequests();
    const results = await burst(15, secret);
    assert.equal(ok(results).length, 5);
    assert.equal(await upstreamRequests(), before + 5);
  });

  test('refused requests are not counted: after 20 of them, honouring Retry-After succeeds', async () => {
    // 60 a minute: one request back every second, so a refusal is
    // always told to come back in 1 s.
    const secret = await keyWith('rpm-60', { requests_per_min: 60 });
    const t0 = Date.now();
    assert.equal(ok(await burst(60, secret)).length, 60);
    const again = await burst(20, secret);
    assert.ok(refused(again).length > 0
      && ok(again).length <= Math.floor((Date.now() - t0) / 1000), `${ok(again).length} passed`);
    for (const res of refused(again)) {
      assertRefused(res, 'rate_limit_requests');
      assert.equal(res.headers['retry-after'], '1');
    }
    // Had the refusals been counted, the next turn would be up to 20 s away.
    await sleep(1000);
    const res = await chat(secret);
    assert.equal(res.status, 200, res.text);
  });

  test('other keys are unaffected while one key is refused', async () => {
    const spent = await keyWith('rpm-spent', { requests_per_min: 1 });
    const other = await keyWith('rpm-other', { requests_per_min: 1 });
    assert.equal((await chat(spent)).status, 200);
    assertRefused(await chat(spent), 'rate_limit_requests');
    assert.equal((await chat(other)).status, 200);
    assert.equal((await chat(gw.key)).status, 200);
  });
});

describe('concurrent requests', () => {
  test('of 10 parallel slow requests on a key allowed 3 at once, exactly 3 pass; the others get 429 rate_limit_concurrency', async () => {
    const secret = await keyWith('conc-3', { max_concurrent: 3 });
    const results = await burst(10, secret, { model: 'slow' });
    assert.equal(ok(results).length, 3);
    assert.equal(refused(results).length, 7);
    for (const res of refused(results)) {
      const err = assertRefused(res, 'rate_limit_concurrency');
      assert.match(err.message, /concurrent requests/);
    }
  });

  test('slots come back when requests succeed: the next 3 in parallel all pass', async () => {
    const secret = await keyWith('conc-success', { max_concurrent: 3 });
    assert.equal(ok(await burst(3, secret, { model: 'slow' })).length, 3);
    assert.equal(ok(await burst(3, secret, { model: 'slow' })).length, 3);
  });

  test('a slot comes back when the upstream fails', async () => {
    const secret = await keyWith('conc-upstream-error', { max_concurrent: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await chat(secret, { model: 'fault-500' });
      assert.equal(res.status, 502, res.text);
      assert.equal(res.json().error.code, 'INFERENCE_PROVIDER_ERROR');
    }
    assert.equal((await chat(secret)).status, 200);
  });

  test('a slot comes back when the client disconnects mid-request', async () => {
    const secret = await keyWith('conc-disconnect', { max_concurrent: 1 });
    const before = (await sim.stats()).in_flight;
    // An upstream call that never answers, held until its client leaves.
    const body = JSON.stringify({ ...CHAT, model: 'fault-stall' });
    const sock = net.connect(gw.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await waitFor('the call to reach the upstream', async () => (await sim.stats()).in_flight > before);
    assertRefused(await chat(secret), 'rate_limit_concurrency');
    sock.destroy();
    await waitFor('the slot to come back', async () => (await chat(secret)).status === 200,
      { tries: 60, every: 50 });
  });
});

describe('tokens per minute', () => {
  test('admissions stop once the estimates add up past tokens_per_min', async () => {
    const secret = await keyWith('tpm-300', { tokens_per_min: 300 });
    const over = { model: 'slow', max_tokens: 100 };
    // The estimate: the prompt's upper bound plus max_tokens (docs/api.md);
    // 'slow' has no tokenizer, so its prompt counts by its bytes.
    const estimate = promptBounds({ ...CHAT, ...over }, NO_TOKENIZER).upper + 100;
    const admitted = Math.floor(300 / estimate);
    assert.ok(admitted >= 1 && admitted < 5, `estimate ${estimate}`);
    // Slow replies: every request is admitted or refused before any settles.
    const results = await burst(5, secret, over);
    assert.equal(ok(results).length, admitted);
    for (const res of refused(results)) assertRefused(res, 'rate_limit_tokens');
  });
});

describe('x-ratelimit headers', () => {
  test('a key with limits gets the six headers; remaining requests drops by one per request', async () => {
    const secret = await keyWith('headers', { requests_per_min: 10, tokens_per_min: 100000 });
    for (let k = 1; k <= 3; k++) {
      const res = await chat(secret);
      assert.equal(res.status, 200, res.text);
      const h = res.headers;
      assert.equal(h['x-ratelimit-limit-requests'], '10');
      assert.equal(h['x-ratelimit-remaining-requests'], String(10 - k));
      // The whole quota is back k turns of 6 s from now (less the time
      // the requests took).
      const reset = durationMs(h['x-ratelimit-reset-requests']);
      assert.ok(reset > 6000 * (k - 1) && reset <= 6000 * k, h['x-ratelimit-reset-requests']);
      assert.equal(h['x-ratelimit-limit-tokens'], '100000');
      const remaining = Number(h['x-ratelimit-remaining-tokens']);
      assert.ok(Number.isInteger(remaining) && remaining >= 0 && remaining < 100000,
        h['x-ratelimit-remaining-tokens']);
      const tokensReset = durationMs(h['x-ratelimit-reset-tokens']);
      assert.ok(tokensReset > 0 && tokensReset <= 60000, h['x-ratelimit-reset-tokens']);
    }
  });

  test('a refused request says no requests remain', async () => {
    const secret = await keyWith('headers-refused', { requests_per_min: 1 });
    assert.equal((await chat(secret)).status, 200);
    const res = await chat(secret);
    assertRefused(res, 'rate_limit_requests');
    assert.equal(res.headers['x-ratelimit-limit-requests'], '1');
    assert.equal(res.headers['x-ratelimit-remaining-requests'], '0');
    assert.ok(durationMs(res.headers['x-ratelimit-reset-requests']) <= 60000);
  });

  test('a key without limits gets no x-ratelimit headers', async () => {
    const res = await chat(gw.key);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.headers).filter((h) => h.startsWith('x-ratelimit-')), []);
  });

  test('a request refused for concurrency reports the requests the key has left', async () => {
    const secret = await keyWith('headers-concurrency', { requests_per_min: 10, max_concurrent: 1 });
    const before = (await sim.stats()).in_flight;
    const held = chat(secret, { model: 'slow' });
    await waitFor('the call to reach the upstream', async () => (await sim.stats()).in_flight > before);
    try {
      const res = await chat(secret);
      assertRefused(res, 'rate_limit_concurrency');
      assert.equal(res.headers['x-ratelimit-remaining-requests'], '9');
      assert.ok(durationMs(res.headers['x-ratelimit-reset-requests']) > 0,
        res.headers['x-ratelimit-reset-requests']);
    } finally {
      assert.equal((await held).status, 200);
    }
  });

  test('a request refused for tokens reports the tokens the key has left, not 0', async () => {
    // 2000 tokens a minute; the first request uses 1000 (its prompt and
    // the rest in completion), so about 1000 remain (more as the minute
    // refills). The next asks for 1500 and is refused: what remains is
    // still there for a smaller request, and the header says so.
    const secret = await keyWith('headers-tokens-refused', { tokens_per_min: 2000 });
    const messages = [{ role: 'user', content: 'abcdefghijklmnop' }];
    const first = await chat(secret, {
      max_tokens: 1000 - chatPromptTokens({ messages }), messages,
    });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json().usage.total_tokens, 1000);
    const over = { max_tokens: 1500 };
    const estimate = chatPromptTokens({ ...CHAT, ...over }) + 1500;
    const res = await chat(secret, over);
    assertRefused(res, 'rate_limit_tokens');
    assert.equal(res.headers['x-ratelimit-limit-tokens'], '2000');
    const remaining = Number(res.headers['x-ratelimit-remaining-tokens']);
    assert.ok(Number.isInteger(remaining) && remaining >= 1000 && remaining < estimate,
      `remaining ${res.headers['x-ratelimit-remaining-tokens']}, estimate ${estimate}`);
  });

  test('reset-tokens stays a well-formed duration when usage exceeded the estimate', async () => {
    // 100 tokens a minute. The request's estimate is capped at the whole
    // quota, but the upstream reports 200 tokens (its prompt and the rest
    // in completion): the quota is whole again in 120 s, less the time since.
    const secret = await keyWith('headers-overrun', { tokens_per_min: 100 });
    const messages = [{ role: 'user', content: 'abcdefghijklmnop' }];
    const first = await chat(secret, {
      max_tokens: 200 - chatPromptTokens({ messages }), messages,
    });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json().usage.total_tokens, 200);
    const res = await chat(secret);
    assertRefused(res, 'rate_limit_tokens');
    const reset = durationMs(res.headers['x-ratelimit-reset-tokens']);
    assert.ok(reset > 60000 && reset <= 120000, res.headers['x-ratelimit-reset-tokens']);
  });
});

// Spends the 'limited' model's two requests a minute, unless an earlier
// test did.
async function spendLimitedModel() {
  for (let i = 0; i < 3; i++) {
    if ((await chat(gw.key, { model: 'limited' })).status === 429) return;
  }
  assert.fail("the model 'limited' never refused");
}

describe('global limits from the catalog', () => {
  test("a model's requests_per_min applies across keys", async () => {
    const before = await upstreamRequests();
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push(await chat(await keyWith(`model-${i}`, {}), { model: 'limited' }));
    }
    assert.deepEqual(results.map((r) => r.status), [200, 200, 429]);
    const err = assertRefused(results[2], 'rate_limit_requests');
    assert.match(err.message, /model limited/);
    assert.equal(await upstreamRequests(), before + 2);
  });

  test("a request refused by the model's limit costs the key nothing", async () => {
    await spendLimitedModel();
    const secret = await keyWith('model-refused', { requests_per_min: 1 });
    assertRefused(await chat(secret, { model: 'limited' }), 'rate_limit_requests');
    // The key's one request a minute is still there.
    assert.equal((await chat(secret)).status, 200);
  });

  test("a request refused by the model's limit reports the key's requests untouched", async () => {
    await spendLimitedModel();
    const secret = await keyWith('headers-model-refused', { requests_per_min: 10 });
    const res = await chat(secret, { model: 'limited' });
    assertRefused(res, 'rate_limit_requests');
    assert.equal(res.headers['x-ratelimit-remaining-requests'], '10');
  });
});

describe('a worker that dies', () => {
  test('a worker SIGKILLed while holding slots does not keep them', async () => {
    const secret = await keyWith('conc-killed', { max_concurrent: 3 });
    const before = (await sim.stats()).in_flight;
    // Three calls that never answer, holding the key's three slots.
    const held = Array.from({ length: 3 }, () => chat(secret, { model: 'fault-stall' })
      .catch((e) => e));
    await waitFor('three calls at the upstream', async () => (await sim.stats()).in_flight >= before + 3);
    assertRefused(await chat(secret), 'rate_limit_concurrency');
    // Wherever the kernel put them, both workers die.
    const victims = gw.workerPids();
    for (const pid of victims) process.kill(pid, 'SIGKILL');
    await Promise.all(held);
    await waitFor('two replacement workers', () => {
      const now = gw.workerPids();
      return now.length === 2 && now.every((pid) => !victims.includes(pid));
    }, { tries: 100, every: 50 });
    const given = [...gw.log().matchAll(/worker#\d+ held (\d+) concurrency slots; given back/g)]
      .reduce((sum, m) => sum + Number(m[1]), 0);
    assert.equal(given, 3);
    assert.equal(ok(await burst(3, secret, { model: 'slow' })).length, 3);
  });
});
