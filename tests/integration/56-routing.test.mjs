// Routing across providers (issue 14, docs/routing.md): three fg-sim
// instances are providers "a", "b" and "c" serving the same models, and
// each test makes one of them fail on purpose with its failure plan
// (POST /sim/plan, tests/sim/fg-sim.c). What the tenant sees (status,
// x-fluxgate-provider, x-fluxgate-attempts, the body), what each provider
// received (its request count, the body it was sent) and what was billed
// (usage records, the key's balance).
//
// Every test has a model of its own: circuits and cool-downs are per
// endpoint (model x provider), so no test inherits another's health.
// Requests that must hit one endpoint first name provider.order.

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from '../compat/node_modules/openai/index.mjs';

import {
  endpointModel, freePort, simProvider, sseData, startGateway, startSim, streamRequest,
  usageJournal, waitFor,
} from '../lib/harness.mjs';

const URL_PATH = '/v1/chat/completions';
const MESSAGES = [{ role: 'user', content: 'hello router' }];
const ORDER_AB = { order: ['a', 'b'] };

// a is the cheap endpoint, b the dear one (micro-credits per million).
const CHEAP = { prompt_per_mtok_micro: 1000000, completion_per_mtok_micro: 1000000 };
const DEAR = { prompt_per_mtok_micro: 3000000, completion_per_mtok_micro: 6000000 };

const ROUTING_KEYS = ['models', 'fallbacks', 'provider', 'preset', 'filters', 'route'];

// Endpoints on a and b (then c) under upstream ids that say which one was
// called: "sim-a-<model>".
const on = (id, providers, extra = {}) => endpointModel(id,
  providers.map((p) => ({ provider: p, upstream_id: `sim-${p}-${id}`, ...(extra[p] || {}) })));

// What a reply at @price costs for @usage (docs/api.md, Metering).
const cost = (usage, price) => Number((BigInt(usage.prompt_tokens) * BigInt(price.prompt_per_mtok_micro)
  + BigInt(usage.completion_tokens) * BigInt(price.completion_per_mtok_micro) + 999999n) / 1000000n);

const attemptsOf = (res) => Number(res.headers['x-fluxgate-attempts']);
const providerOf = (res) => res.headers['x-fluxgate-provider'];
const chunksOf = (text) => sseData(text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));

// Where a reply shows a tenant the provider's 401: its own words, or the
// status in any string, header or "status"/"code" member (a number that
// merely contains 401, a content length or a timestamp, does not count).
function shows401(res) {
  const found = [];
  const words = /incorrect API key|invalid_api_key|\b401\b/i;
  for (const [k, v] of Object.entries(res.headers)) {
    if (!['content-length', 'date'].includes(k) && words.test(String(v))) found.push(`header ${k}: ${v}`);
  }
  const walk = (v, key) => {
    if (typeof v === 'string' && words.test(v)) found.push(`${key}: ${v}`);
    else if (typeof v === 'number' && v === 401 && /^(status|code)$/.test(key)) found.push(`${key}: 401`);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(res.json(), '');
  return found;
}

function assertErrorEvent(text, code) {
  const data = sseData(text);
  assert.ok(!data.includes('[DONE]'), 'a broken stream must not end with [DONE]');
  const last = JSON.parse(data.at(-1));
  assert.deepEqual(Object.keys(last), ['error'], data.at(-1));
  assert.equal(last.error.code, code, data.at(-1));
}

// The catalogs of every gateway here: providers a, b, c on the three
// simulators, "down" at a loopback port nothing listens on.
function catalogs(sims, downPort) {
  return {
    providers: {
      providers: [
        simProvider('a', sims.a, { timeouts: { first_byte_ms: 300 } }),
        simProvider('b', sims.b),
        simProvider('c', sims.c),
        simProvider('down', `http://127.0.0.1:${downPort}/v1`, { timeouts: { connect_ms: 500 } }),
      ],
    },
    models: {
      models: [
        on('r-failover', ['a', 'b']),
        on('r-cool', ['a', 'b']),
        on('r-timeout', ['a', 'b']),
        on('r-refused', ['down', 'b']),
        on('r-creds', ['a', 'b']),
        on('r-creds-all', ['a', 'b']),
        on('r-400', ['a', 'b']),
        on('r-close', ['a', 'b']),
        on('r-stream-early', ['a', 'b']),
        on('r-stream-late', ['a', 'b']),
        on('r-circuit', ['a', 'b']),
        on('r-all-open', ['a', 'b']),
        // a: cheap in a coal-fired grid; b: dear in a clean one.
        on('r-green', ['a', 'b'], {
          a: { country: 'PL', pricing: CHEAP }, b: { country: 'SE', pricing: DEAR },
        }),
        on('x-only-c', ['c']),
        on('y-only-c', ['c']),
        on('r-fallback', ['b']),
        on('r-only', ['a', 'b']),
        on('r-ignore', ['a', 'b']),
        on('r-no-fallbacks', ['a', 'b']),
        on('r-pin', ['a', 'b']),
        on('r-pin-fails', ['a', 'b']),
        on('r-no-match', ['a', 'b']),
        on('r-strip', ['a', 'b']),
        on('r-spend', ['a', 'b'], { a: { pricing: CHEAP }, b: { pricing: DEAR } }),
        on('r-record', ['a', 'b']),
        on('r-sdk', ['a', 'b']),
        on('r-watch', ['a', 'b']),
        on('r-cap', ['a', 'b', 'c']),
        // a takes an effort, b Anthropic's thinking budget; the model
        // maps xhigh to high, which only a accepts.
        ...['r-reason', 'r-reason-fo'].map((id) => ({
          ...on(id, ['a', 'b'], {
            a: { reasoning_effort: ['low', 'high'] },
            b: { reasoning_format: 'thinking' },
          }),
          reasoning_effort_map: { xhigh: 'high' },
        })),
      ],
    },
  };
}

// Two attempts at most: every model here has at most two endpoints a
// request may reach, but r-cap, whose third is never tried.
const ROUTING_CONFIG = {
  routing: { max_attempts: 2, circuit: { failures: 2, open_ms: 1000, min_requests: 1000000 } },
};

describe('routing across providers', () => {
  const sims = {};
  let downPort;
  let gw;

  before(async () => {
    [sims.a, sims.b, sims.c] = await Promise.all([startSim(), startSim(), startSim()]);
    downPort = await freePort();
    gw = await startGateway({ ...catalogs(sims, downPort), config: ROUTING_CONFIG });
  });

  after(async () => {
    await gw?.stop();
    for (const s of Object.values(sims)) await s?.stop();
  });

  beforeEach(async () => {
    await Promise.all(Object.values(sims).map((s) => s.reset()));
  });

  const chat = (model, over = {}, headers = {}, g = gw) => g.post(URL_PATH,
    { model, messages: MESSAGES, max_tokens: 5, ...over }, headers);
  const counts = async () => Object.fromEntries(await Promise.all(
    Object.entries(sims).map(async ([id, s]) => [id, await s.requests()])));

  describe('failover', () => {
    test('a 500 from the first endpoint fails over to the second', async () => {
      await sims.a.plan({ faults: ['500'] });
      const res = await chat('r-failover', { provider: ORDER_AB });
      assert.equal(res.status, 200, res.text);
      assert.equal(providerOf(res), 'b');
      assert.equal(attemptsOf(res), 2);
      assert.equal(res.json().environment_impact.provider_id, 'b');
      assert.deepEqual(await counts(), { a: 1, b: 1, c: 0 });
    });

    test('a 429 fails over and cools the endpoint for its Retry-After', async () => {
      await sims.a.plan({ faults: ['429'], retry_after_s: 2 });
      const t0 = Date.now();
      const first = await chat('r-cool', { provider: ORDER_AB });
      assert.equal(first.status, 200, first.text);
      assert.equal(providerOf(first), 'b');
      assert.equal(attemptsOf(first), 2);

      const second = await chat('r-cool', { provider: ORDER_AB });
      assert.ok(Date.now() - t0 < 1900, 'the second request must come within the cool-down');
      assert.equal(second.status, 200, second.text);
      assert.equal(providerOf(second), 'b', 'a is cooling: b first');
      assert.equal(attemptsOf(second), 1);
      assert.equal(await sims.a.requests(), 1, 'a got nothing while it cooled');

      const back = await waitFor('a to serve again', async () => {
        const r = await chat('r-cool', { provider: ORDER_AB });
        return providerOf(r) === 'a' ? r : null;
      }, { tries: 80, every: 100 });
      assert.equal(back.status, 200, back.text);
      assert.ok(Date.now() - t0 >= 2000, `a served again ${Date.now() - t0} ms after its 429 said 2 s`);
    });

    test('a first-byte timeout fails over', async () => {
      await sims.a.plan({ faults: ['stall'] });
      const t0 = Date.now();
      const res = await chat('r-timeout', { provider: ORDER_AB });
      assert.equal(res.status, 200, res.text);
      assert.equal(providerOf(res), 'b');
      assert.equal(attemptsOf(res), 2);
      assert.ok(Date.now() - t0 >= 300, 'a was given its first_byte_ms');
      assert.deepEqual(await counts(), { a: 1, b: 1, c: 0 });
    });

    test('a refused connection fails over', async () => {
      const res = await chat('r-refused', { provider: { order: ['down', 'b'] } });
      assert.equal(res.status, 200, res.text);
      assert.equal(providerOf(res), 'b');
      assert.equal(attemptsOf(res), 2);
      assert.equal(await sims.b.requests(), 1);
    });

    test('a provider 401 fails over and the tenant never sees the 401 or the provider\'s words', async () => {
      await sims.a.plan({ faults: ['401'] });
      const res = await chat('r-creds', { provider: ORDER_AB });
      assert.equal(res.status, 200, res.text);
      assert.equal(providerOf(res), 'b');
      assert.equal(attemptsOf(res), 2);
      assert.deepEqual(shows401(res), []);
    });

    test('a 401 from every endpoint is the gateway\'s 502, without the 401 or the provider\'s words', async () => {
      await sims.a.plan({ faults: ['401'] });
      await sims.b.plan({ faults: ['401'] });
      const res = await chat('r-creds-all', { provider: ORDER_AB });
      assert.equal(res.status, 502, res.text);
      assert.equal(res.json().error.code, 'INFERENCE_PROVIDER_ERROR');
      assert.deepEqual(shows401(res), []);
      assert.deepEqual(await counts(), { a: 1, b: 1, c: 0 });
    });

    test('routing.max_attempts bounds the attempts: the third endpoint is never tried', async () => {
      await sims.a.plan({ always: '500' });
      await sims.b.plan({ always: '500' });
      const res = await chat('r-cap', { provider: { order: ['a', 'b', 'c'] } });
      assert.equal(res.status, 502, res.text);
      assert.equal(attemptsOf(res), 2);
      assert.deepEqual(await counts(), { a: 1, b: 1, c: 0 });
    });

    test('a 400 from the provider is returned, not retried', async () => {
      await sims.a.plan({ faults: ['400'] });
      const res = await chat('r-400', { provider: ORDER_AB });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.code, 'simulated_bad_request', 'the provider\'s own error');
      assert.equal(providerOf(res), 'a');
      assert.equal(attemptsOf(res), 1);
      assert.deepEqual(await counts(), { a: 1, b: 0, c: 0 });
    });

    test('a request sent but never answered is not sent again by default (502)', async () => {
      await sims.a.plan({ faults: ['close'] });
      const res = await chat('r-close', { provider: ORDER_AB });
      assert.equal(res.status, 502, res.text);
      assert.equal(attemptsOf(res), 1);
      assert.deepEqual(await counts(), { a: 1, b: 0, c: 0 }, 'the provider may have run it: once only');
    });

    test('with routing.failover_after_send 1, a request sent but never answered fails over', async () => {
      const g = await startGateway({
        ...catalogs(sims, downPort),
        config: { ...ROUTING_CONFIG, routing: { ...ROUTING_CONFIG.routing, failover_after_send: 1 } },
      });
      try {
        await sims.a.plan({ faults: ['close'] });
        const res = await chat('r-close', { provider: ORDER_AB }, {}, g);
        assert.equal(res.status, 200, res.text);
        assert.equal(providerOf(res), 'b');
        assert.equal(attemptsOf(res), 2);
        assert.deepEqual(await counts(), { a: 1, b: 1, c: 0 });
      } finally {
        await g.stop();
      }
    });
  });

  describe('streams', () => {
    test('a stream that ends before its first event fails over: the client gets one clean stream from b', async () => {
      await sims.a.plan({ faults: ['empty-stream'] });
      const s = await streamRequest(gw.url + URL_PATH,
        { model: 'r-stream-early', messages: MESSAGES, max_tokens: 5, stream: true, provider: ORDER_AB });
      assert.equal(s.status, 200);
      assert.equal(s.headers['x-fluxgate-provider'], 'b');
      assert.equal(Number(s.headers['x-fluxgate-attempts']), 2);
      const end = await s.done;
      assert.equal(end.error, null);
      const data = sseData(end.text);
      assert.equal(data.at(-1), '[DONE]');
      const chunks = chunksOf(end.text);
      assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one stream, not two spliced');
      assert.equal(chunks.filter((c) => c.choices?.[0]?.delta?.role === 'assistant').length, 1);
      assert.deepEqual(await counts(), { a: 1, b: 1, c: 0 });
    });

    test('a stream that breaks after its first event ends with an error event and does not fail over', async () => {
      await sims.a.plan({ faults: ['stream-error'] });
      const s = await streamRequest(gw.url + URL_PATH,
        { model: 'r-stream-late', messages: MESSAGES, max_tokens: 5, stream: true, provider: ORDER_AB });
      assert.equal(s.status, 200);
      assert.equal(s.headers['x-fluxgate-provider'], 'a');
      const end = await s.done;
      assert.ok(chunksOf(end.text).some((c) => c.choices?.[0]?.delta?.content), 'a\'s token was relayed');
      assertErrorEvent(end.text, 'INFERENCE_PROVIDER_ERROR');
      assert.deepEqual(await counts(), { a: 1, b: 0, c: 0 });
    });
  });

  describe('circuit breaker', () => {
    test('the circuit opens after routing.circuit.failures failures in a row, then a probe closes it', async () => {
      await sims.a.plan({ always: '500' });
      let tOpened;
      for (let i = 0; i < 2; i++) {
        tOpened = Date.now();
        const r = await chat('r-circuit', { provider: ORDER_AB });
        assert.equal(r.status, 200, r.text);
        assert.equal(attemptsOf(r), 2);
      }
      const skipped = await chat('r-circuit', { provider: ORDER_AB });
      assert.equal(skipped.status, 200, skipped.text);
      assert.equal(providerOf(skipped), 'b');
      assert.equal(attemptsOf(skipped), 1);
      assert.equal(await sims.a.requests(), 2, 'an open circuit: a skipped entirely');

      await sims.a.plan({ faults: [] });
      const probe = await waitFor('the probe to a after open_ms', async () => {
        const r = await chat('r-circuit', { provider: ORDER_AB });
        return providerOf(r) === 'a' ? r : null;
      }, { tries: 100, every: 50 });
      assert.equal(probe.status, 200, probe.text);
      assert.ok(Date.now() - tOpened >= 1000, 'no probe before open_ms');

      const closed = await chat('r-circuit', { provider: ORDER_AB });
      assert.equal(providerOf(closed), 'a', 'a successful probe closes the circuit');
      assert.equal(attemptsOf(closed), 1);
    });

    test('when every endpoint\'s circuit is open: 503 no_provider_available with Retry-After', async () => {
      await sims.a.plan({ always: '500' });
      await sims.b.plan({ always: '500' });
      const res = await waitFor('every circuit to open', async () => {
        const r = await chat('r-all-open', { provider: ORDER_AB });
        return r.status === 503 ? r : null;
      }, { tries: 10, every: 10 });
      assert.equal(res.json().error.code, 'no_provider_available');
      assert.ok(Number(res.headers['retry-after']) >= 1, `Retry-After: ${res.headers['retry-after']}`);

      const before = await counts();
      const again = await chat('r-all-open', { provider: ORDER_AB });
      assert.equal(again.status, 503, again.text);
      assert.deepEqual(await counts(), before, 'nothing was sent');
    });
  });

  describe('choosing an endpoint', () => {
    test('preset "environment" picks the endpoint in the low-carbon country', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await chat('r-green', { preset: 'environment' });
        assert.equal(res.status, 200, res.text);
        assert.equal(providerOf(res), 'b');
        assert.equal(res.json().environment_impact.location, 'SE');
        assert.equal(res.json().environment_impact.provider_id, 'b');
      }
      assert.equal(await sims.a.requests(), 0);
    });

    test('preset "price" picks the cheap endpoint', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await chat('r-green', { preset: 'price' });
        assert.equal(res.status, 200, res.text);
        assert.equal(providerOf(res), 'a');
        assert.equal(res.json().environment_impact.location, 'PL');
        assert.equal(Number(res.headers['x-fluxgate-charged-micro']), cost(res.json().usage, CHEAP));
      }
      assert.equal(await sims.b.requests(), 0);
    });

    test('"models": a model whose only endpoint fails falls back to the next model', async () => {
      await sims.c.plan({ always: '500' });
      const res = await chat('x-only-c', { models: ['r-fallback'] });
      assert.equal(res.status, 200, res.text);
      // The reply's model is what the answering provider said it ran.
      assert.equal(res.json().model, 'sim-b-r-fallback');
      assert.equal(providerOf(res), 'b');
      assert.equal(attemptsOf(res), 2);
      assert.deepEqual(await counts(), { a: 0, b: 1, c: 1 });
    });

    test('"fallbacks" is the same list', async () => {
      await sims.c.plan({ always: '500' });
      const res = await chat('y-only-c', { fallbacks: ['r-fallback'] });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().model, 'sim-b-r-fallback');
      assert.equal(providerOf(res), 'b');
    });

    test('provider.only: no other provider is used', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await chat('r-only', { provider: { only: ['b'] } });
        assert.equal(res.status, 200, res.text);
        assert.equal(providerOf(res), 'b');
      }
      assert.equal(await sims.a.requests(), 0);
    });

    test('provider.ignore: that provider is never used', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await chat('r-ignore', { provider: { ignore: ['a'] } });
        assert.equal(res.status, 200, res.text);
        assert.equal(providerOf(res), 'b');
      }
      assert.equal(await sims.a.requests(), 0);
    });

    test('provider.allow_fallbacks false: only the providers in order are tried', async () => {
      await sims.a.plan({ faults: ['500'] });
      const res = await chat('r-no-fallbacks', { provider: { order: ['a'], allow_fallbacks: false } });
      assert.equal(res.status, 502, res.text);
      assert.equal(attemptsOf(res), 1);
      assert.deepEqual(await counts(), { a: 1, b: 0, c: 0 });
    });

    test('"b/<model>" pins provider b', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await chat('b/r-pin', { provider: ORDER_AB });
        assert.equal(res.status, 200, res.text);
        assert.equal(providerOf(res), 'b');
      }
      assert.equal(await sims.a.requests(), 0);
    });

    test('a pinned provider that fails is not replaced by another', async () => {
      await sims.b.plan({ faults: ['500'] });
      const res = await chat('b/r-pin-fails');
      assert.equal(res.status, 502, res.text);
      assert.deepEqual(await counts(), { a: 0, b: 1, c: 0 });
    });

    test('preferences that exclude every endpoint: 404 no_matching_endpoint naming the field', async () => {
      const res = await chat('r-no-match', { provider: { only: ['c'] } });
      assert.equal(res.status, 404, res.text);
      assert.equal(res.json().error.code, 'no_matching_endpoint');
      assert.equal(res.json().error.param, 'provider.only');
      assert.deepEqual(await counts(), { a: 0, b: 0, c: 0 });
    });
  });

  describe('the routing fields', () => {
    for (const [what, over, param] of [
      ['an unknown member in provider', { provider: { foo: 1 } }, 'provider.foo'],
      ['an unknown member in filters', { filters: { foo: 1 } }, 'filters.foo'],
      ['a preset that does not exist', { preset: 'cheapest' }, 'preset'],
    ]) {
      test(`${what} is a 400 naming it, and nothing is sent`, async () => {
        const res = await chat('r-strip', over);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.json().error.type, 'invalid_request_error');
        assert.equal(res.json().error.param, param);
        assert.deepEqual(await counts(), { a: 0, b: 0, c: 0 });
      });
    }

    test('never reach the provider, which gets its own model id', async () => {
      const full = {
        models: ['r-fallback'],
        provider: {
          order: ['a', 'b'], allow_fallbacks: true, sort: 'price', require_parameters: false,
          max_price: { prompt: 1000000000, completion: 1000000000 },
        },
        preset: 'balanced',
        filters: { max_carbon_intensity: 100000, max_input_cost: 1000000000 },
      };
      for (const over of [full, { fallbacks: ['r-fallback'], provider: ORDER_AB }]) {
        await Promise.all(Object.values(sims).map((s) => s.reset()));
        const res = await chat('r-strip', over);
        assert.equal(res.status, 200, res.text);
        const served = providerOf(res);
        const { last_body: body } = await sims[served].stats();
        for (const k of ROUTING_KEYS) assert.ok(!(k in body), `"${k}" reached the provider`);
        assert.equal(body.model, `sim-${served}-r-strip`);
        assert.deepEqual(body.messages, MESSAGES);
      }
    });
  });

  describe('reasoning', () => {
    test('a reasoning_effort the model maps goes only where the mapped value is taken, as that value', async () => {
      const res = await chat('r-reason', { reasoning_effort: 'xhigh' });
      assert.equal(res.status, 200, res.text);
      assert.equal(providerOf(res), 'a', 'b accepts no reasoning_effort');
      assert.equal((await sims.a.stats()).last_body.reasoning_effort, 'high');
      assert.deepEqual(await counts(), { a: 1, b: 0, c: 0 });
    });

    test('the reasoning object is written in each endpoint\'s own form, attempt by attempt', async () => {
      await sims.a.plan({ faults: ['500'] });
      const res = await chat('r-reason-fo', {
        max_tokens: 2000, reasoning: { effort: 'high' }, provider: ORDER_AB,
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(providerOf(res), 'b');
      assert.equal(attemptsOf(res), 2);
      const { last_body: atA } = await sims.a.stats();
      const { last_body: atB } = await sims.b.stats();
      assert.equal(atA.reasoning_effort, 'high');
      assert.ok(!('thinking' in atA), JSON.stringify(atA));
      assert.deepEqual(atB.thinking, { type: 'enabled', budget_tokens: 1600 });
      assert.ok(!('reasoning_effort' in atB), JSON.stringify(atB));
      for (const body of [atA, atB]) assert.ok(!('reasoning' in body), JSON.stringify(body));
    });
  });

  describe('billing', () => {
    test('no overspend across a fallback to a dearer endpoint: 200 at once, each at b\'s prices', async () => {
      const START = 3000;
      const k = await gw.createKey({ name: 'spender', energy: { balance_micro: START } });
      await sims.a.plan({ always: '500' });
      const replies = await Promise.all(Array.from({ length: 200 }, () => chat('r-spend',
        { provider: ORDER_AB }, { authorization: `Bearer ${k.secret}` })));

      const statuses = new Set(replies.map((r) => r.status));
      assert.ok([...statuses].every((s) => [200, 402, 502].includes(s)) && statuses.has(200) && statuses.has(402),
        `every request served or refused for its balance: ${replies.map((r) => r.status).join(' ')}`);
      // A balance that pays a minimal reply at a but not at b: a's failure
      // is the answer, and b is never called for it.
      for (const r of replies.filter((x) => x.status === 502)) {
        assert.equal(providerOf(r), 'a');
        assert.equal(attemptsOf(r), 1);
      }
      let told = 0;
      for (const r of replies.filter((x) => x.status === 200)) {
        assert.equal(providerOf(r), 'b');
        const charged = Number(r.headers['x-fluxgate-charged-micro']);
        assert.equal(charged, cost(r.json().usage, DEAR), 'charged at b\'s prices, a refunded');
        told += charged;
      }

      assert.equal(await sims.b.requests(), replies.filter((x) => x.status === 200).length,
        'b got exactly the requests it served: a refused one reached no provider');

      const records = await waitFor('the 200 usage records', () => {
        const mine = usageJournal(gw.dataDir).lines.map((l) => l.record).filter((x) => x.key_id === k.id);
        return mine.length === 200 ? mine : null;
      }, { tries: 200, every: 50 });
      const charged = records.reduce((s, x) => s + x.charged_micro, 0);
      const balance = (await gw.admin('GET', `/admin/v1/keys/${k.id}`)).json().energy.balance_micro;
      assert.ok(balance >= 0, `balance ${balance}`);
      assert.equal(balance, START - charged);
      assert.equal(charged, told, 'the records charge what the replies said');
    });

    test('the usage record of a failed-over request lists both attempts, in order', async () => {
      await sims.a.plan({ faults: ['500'] });
      const id = 'routing-record-1';
      const res = await chat('r-record', { provider: ORDER_AB }, { 'x-request-id': id });
      assert.equal(res.status, 200, res.text);
      const rec = await waitFor('its usage record', () => usageJournal(gw.dataDir).lines
        .map((l) => l.record).find((x) => x.client_request_id === id));
      assert.equal(rec.provider, 'b');
      assert.equal(rec.status, 200);
      assert.equal(rec.charged_micro, Number(res.headers['x-fluxgate-charged-micro']));
      assert.deepEqual(rec.attempts.map((x) => [x.provider, x.model, x.outcome, x.status]), [
        ['a', 'sim-a-r-record', 'status', 500],
        ['b', 'sim-b-r-record', 'status', 200],
      ]);
      for (const x of rec.attempts) assert.ok(x.latency_us >= 0);
    });
  });

  describe('watching the endpoints', () => {
    test('an unknown fallback model is 404 model_not_found naming its entry, and nothing is sent', async () => {
      const res = await chat('r-failover', { models: ['r-fallback', 'no-such-model'] });
      assert.equal(res.status, 404, res.text);
      assert.equal(res.json().error.code, 'model_not_found');
      assert.equal(res.json().error.param, 'models[1]');
      assert.deepEqual(await counts(), { a: 0, b: 0, c: 0 });
    });

    test('an endpoint whose circuit opened shows it in /v1/models/{id}/endpoints, /metrics and the admin API', async () => {
      await sims.a.plan({ always: '500' });
      for (let i = 0; i < 2; i++) {
        const r = await chat('r-watch', { provider: ORDER_AB });
        assert.equal(r.status, 200, r.text);
        assert.equal(providerOf(r), 'b');
      }

      const listing = await gw.get('/v1/models/r-watch/endpoints');
      assert.equal(listing.status, 200, listing.text);
      const byProvider = Object.fromEntries(listing.json().data.map((e) => [e.provider, e.health]));
      assert.equal(byProvider.a.state, 'open');
      assert.ok(byProvider.a.retry_after_s >= 1, JSON.stringify(byProvider.a));
      assert.equal(byProvider.a.failures, 2);
      assert.equal(byProvider.b.state, 'closed');
      assert.equal(byProvider.b.successes, 2);
      assert.ok(byProvider.b.ttft_ms > 0, JSON.stringify(byProvider.b));

      const metrics = await gw.scrape();
      assert.match(metrics, /fluxgate_endpoint_state\{provider="a",model="sim-a-r-watch"\} 1\b/);
      assert.match(metrics, /fluxgate_endpoint_failovers_total\{provider="a",model="sim-a-r-watch"\} 2\b/);
      assert.match(metrics,
        /fluxgate_endpoint_attempts_total\{provider="b",model="sim-b-r-watch",outcome="status"\} 2\b/);

      const admin = await gw.admin('GET', '/admin/v1/providers');
      assert.equal(admin.status, 200, admin.text);
      const row = admin.json().data.find((e) => e.provider === 'a' && e.model === 'r-watch');
      assert.equal(row.state, 'open');
    });

    test('a SIGHUP reload keeps every endpoint\'s figures: the new workers see the same health', async () => {
      const health = async () => Object.fromEntries((await gw.get('/v1/models/r-watch/endpoints'))
        .json().data.map((e) => [e.provider, e.health]));
      const was = await health();
      assert.ok(was.b.successes >= 2, JSON.stringify(was.b));
      const gen = (await gw.get('/readyz')).json().config_generation;
      const old = gw.workerPids();
      gw.signal('SIGHUP');
      await waitFor('the new generation, the old workers gone', async () => {
        const r = (await gw.get('/readyz')).json();
        return r.config_generation === gen + 1 && r.status === 'ready'
          && gw.workerPids().every((pid) => !old.includes(pid));
      }, { tries: 200, every: 50 });
      const now = await health();
      assert.equal(now.a.failures, was.a.failures);
      assert.equal(now.b.successes, was.b.successes);
      assert.equal(now.b.ttft_ms, was.b.ttft_ms);
    });
  });

  describe('the official Node SDK', () => {
    let client;

    before(() => {
      client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.key, maxRetries: 0, timeout: 10000 });
    });

    test('sends models, provider and preset with chat.completions.create and gets a normal completion', async () => {
      await sims.a.plan({ faults: ['500'] });
      const { data, response } = await client.chat.completions.create({
        model: 'r-sdk', messages: MESSAGES, max_tokens: 5,
        models: ['r-fallback'], provider: ORDER_AB, preset: 'balanced',
      }).withResponse();
      assert.equal(data.object, 'chat.completion');
      assert.equal(data.model, 'sim-b-r-sdk');
      assert.ok(data.choices[0].message.content.length > 0);
      assert.equal(response.headers.get('x-fluxgate-provider'), 'b', 'failed over, not retried by the SDK');
      assert.equal(response.headers.get('x-fluxgate-attempts'), '2');
    });

    test('provider.only sent through the SDK decides the provider', async () => {
      const { response } = await client.chat.completions.create({
        model: 'r-sdk', messages: MESSAGES, max_tokens: 5, provider: { only: ['b'] },
      }).withResponse();
      assert.equal(response.headers.get('x-fluxgate-provider'), 'b');
      assert.equal(await sims.a.requests(), 0);
    });

    test('streams with the routing parameters, through a failover before the first event', async () => {
      await sims.a.plan({ faults: ['empty-stream'] });
      const stream = await client.chat.completions.create({
        model: 'r-sdk', messages: MESSAGES, max_tokens: 5, stream: true,
        models: ['r-fallback'], provider: ORDER_AB, preset: 'balanced',
      });
      let text = '';
      let finish = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content || '';
        finish = chunk.choices[0]?.finish_reason || finish;
      }
      assert.ok(text.length > 0);
      assert.ok(finish, 'the stream ended with a finish reason');
      assert.deepEqual(await counts(), { a: 1, b: 1, c: 0 });
    });
  });
});
