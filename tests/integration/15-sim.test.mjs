// fg-sim itself (tests/sim/fg-sim.c, call.c): the failure plan one instance
// plays (POST /sim/plan) and the fault modes routing tests lean on. Talks to
// the simulator directly, no gateway: when a routing test says "provider a
// failed with a 401", this file is the proof of what a saw.

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { rawHttp, request, startSim, streamRequest } from '../lib/harness.mjs';

const BODY = { model: 'sim-small', messages: [{ role: 'user', content: 'hello sim' }], max_tokens: 3 };

describe('fg-sim', () => {
  let sim;

  before(async () => { sim = await startSim(); });
  after(async () => { await sim?.stop(); });
  beforeEach(async () => { await sim.reset(); });

  const chat = (over = {}, headers = {}) => request('POST', `${sim.url}/v1/chat/completions`,
    JSON.stringify({ ...BODY, ...over }), { 'content-type': 'application/json', ...headers });
  const stream = (over = {}, headers = {}) => streamRequest(`${sim.url}/v1/chat/completions`,
    { ...BODY, stream: true, ...over }, { headers });
  // The raw bytes of one chat request, for replies node's client rejects.
  const raw = (headers = {}) => {
    const body = JSON.stringify(BODY);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    return rawHttp(sim.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
      + `${extra}\r\n${body}`);
  };

  describe('the failure plan', () => {
    test('takes the listed faults one per chat request, in order, then serves normally again', async () => {
      await sim.plan({ faults: ['500', '429', '401'] });
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await chat()).status);
      assert.deepEqual(statuses, [500, 429, 401, 200, 200]);
    });

    test('"none" in the list is a normal reply', async () => {
      await sim.plan({ faults: ['none', '500'] });
      assert.equal((await chat()).status, 200);
      assert.equal((await chat()).status, 500);
    });

    test('"always" fails every request that way until the next plan', async () => {
      await sim.plan({ always: '500' });
      for (let i = 0; i < 3; i++) assert.equal((await chat()).status, 500);
      await sim.plan({ faults: [] });
      assert.equal((await chat()).status, 200);
    });

    test('"always" follows the list once it is used up', async () => {
      await sim.plan({ faults: ['429'], always: '500' });
      assert.equal((await chat()).status, 429);
      assert.equal((await chat()).status, 500);
      assert.equal((await chat()).status, 500);
    });

    test('{"faults": []} clears it', async () => {
      await sim.plan({ faults: ['500', '500'] });
      await sim.plan({ faults: [] });
      assert.equal((await chat()).status, 200);
    });

    test('POST /sim/reset clears it', async () => {
      await sim.plan({ always: '500', ttft_ms: 2000 });
      await sim.reset();
      const t0 = Date.now();
      assert.equal((await chat()).status, 200);
      assert.ok(Date.now() - t0 < 1500, 'the plan\'s speed went with it');
      assert.deepEqual((await sim.stats()).plan.faults, []);
    });

    test('wins over the request\'s own fault', async () => {
      await sim.plan({ faults: ['500'] });
      assert.equal((await chat({}, { 'x-sim-fault': '400' })).status, 500);
      assert.equal((await chat({}, { 'x-sim-fault': '400' })).status, 400);
    });

    test('an invalid chat request takes nothing from it', async () => {
      await sim.plan({ faults: ['500'] });
      assert.equal((await chat({ messages: 'not a list' })).status, 400);
      assert.equal((await chat()).status, 500);
    });

    test('stats show what is left of it', async () => {
      await sim.plan({ faults: ['500', 'close'], always: '429', retry_after_s: 3 });
      await chat();
      const { plan } = await sim.stats();
      assert.deepEqual(plan.faults, ['close']);
      assert.equal(plan.always, '429');
      assert.equal(plan.retry_after_s, 3);
    });

    test('a bad plan is a 400 and changes nothing', async () => {
      await sim.plan({ faults: ['500', '500'] });
      for (const bad of ['not json', '[]', '{"faults": ["nope"]}', '{"faults": "500"}',
        '{"always": 500}', '{"retry_after_s": -1}', '{"ttft_ms": "fast"}', '{"foo": 1}']) {
        const r = await request('POST', `${sim.url}/sim/plan`, bad);
        assert.equal(r.status, 400, bad);
        assert.ok(r.json().error.message, bad);
      }
      assert.deepEqual((await sim.stats()).plan.faults, ['500', '500']);
    });

    test('retry_after_s is the 429\'s Retry-After (1 without a plan)', async () => {
      assert.equal((await chat({}, { 'x-sim-fault': '429' })).headers['retry-after'], '1');
      await sim.plan({ faults: ['429'], retry_after_s: 2 });
      const r = await chat();
      assert.equal(r.status, 429);
      assert.equal(r.headers['retry-after'], '2');
    });

    test('ttft_ms sets this instance\'s time to first token', async () => {
      await sim.plan({ ttft_ms: 400 });
      const t0 = Date.now();
      assert.equal((await chat()).status, 200);
      assert.ok(Date.now() - t0 >= 350, `answered after ${Date.now() - t0} ms`);
      assert.equal((await sim.stats()).plan.ttft_ms, 400);
    });

    test('token_delay_ms sets this instance\'s delay between tokens', async () => {
      await sim.plan({ token_delay_ms: 150 });
      const s = await stream({ max_tokens: 4 });
      const end = await s.done;
      assert.equal(end.error, null);
      assert.ok(end.ms >= 400, `4 tokens streamed in ${end.ms} ms`);
    });
  });

  describe('GET /sim/stats', () => {
    test('counts the chat requests received, and nothing else', async () => {
      await sim.plan({ faults: ['500'] });
      await chat();
      await chat({ messages: 'not a list' });
      await chat();
      await request('GET', `${sim.url}/v1/models`);
      await sim.stats();
      assert.equal(await sim.requests(), 3);
    });
  });

  describe('fault modes', () => {
    for (const [mode, status, code] of [['401', 401, 'invalid_api_key'],
      ['403', 403, 'unsupported_country_region_territory'], ['404', 404, 'model_not_found']]) {
      test(`${mode}: an OpenAI-format error with status ${status}`, async () => {
        const r = await chat({}, { 'x-sim-fault': mode });
        assert.equal(r.status, status);
        assert.match(r.headers['content-type'], /^application\/json/);
        const { error } = r.json();
        assert.equal(error.code, code);
        assert.equal(typeof error.message, 'string');
        assert.equal(typeof error.type, 'string');
      });
    }

    test('empty: a 200 application/json with an empty body', async () => {
      const r = await chat({}, { 'x-sim-fault': 'empty' });
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'], /^application\/json/);
      assert.equal(r.text, '');
    });

    test('empty-stream: a stream\'s head, then the connection closes with no event', async () => {
      const s = await stream({}, { 'x-sim-fault': 'empty-stream' });
      assert.equal(s.status, 200);
      assert.match(s.headers['content-type'], /^text\/event-stream/);
      const end = await s.done;
      assert.ok(end.error, 'the body never ended cleanly');
      assert.equal(s.events.length, 0);
      assert.equal((await sim.stats()).aborted, 1);
    });

    test('empty-stream on a non-stream request is the empty fault', async () => {
      const r = await chat({}, { 'x-sim-fault': 'empty-stream' });
      assert.equal(r.status, 200);
      assert.equal(r.text, '');
    });

    test('stream-error: one content event, then the connection closes without [DONE]', async () => {
      const s = await stream({ max_tokens: 5 }, { 'x-sim-fault': 'stream-error' });
      assert.equal(s.status, 200);
      const end = await s.done;
      assert.ok(end.error, 'the body never ended cleanly');
      const chunks = s.events.map((e) => e.data);
      assert.ok(!chunks.includes('[DONE]'));
      assert.equal(chunks.length, 2, 'the role event and one content event');
      assert.ok(JSON.parse(chunks[1]).choices[0].delta.content.length > 0);
    });

    test('stream-error on a non-stream request: half the promised body, then the connection closes', async () => {
      const r = await raw({ 'x-sim-fault': 'stream-error' });
      assert.ok(r.closed);
      const [head, body] = r.text.split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 200/);
      const promised = Number(head.match(/content-length: (\d+)/i)[1]);
      assert.ok(body.length > 0 && body.length < promised, `${body.length} of ${promised} bytes`);
    });

    test('close: the whole request is read, then the connection closes with no response', async () => {
      const r = await raw({ 'x-sim-fault': 'close' });
      assert.ok(r.closed);
      assert.equal(r.text, '');
      const st = await sim.stats();
      assert.equal(st.requests, 1, 'the request was received');
      assert.equal(st.last_body.model, BODY.model);
      assert.equal(st.aborted, 1);
    });

    test('close honours the time to first token before closing', async () => {
      await sim.plan({ faults: ['close'], ttft_ms: 300 });
      const r = await raw();
      assert.ok(r.closed);
      assert.ok(r.ms >= 250, `closed after ${r.ms} ms`);
    });

    test('a model-name tag names the longest mode: fault-empty-stream-ttft-5 is empty-stream', async () => {
      const s = await stream({ model: 'sim-fault-empty-stream-ttft-5' });
      await s.done;
      assert.equal(s.events.length, 0);
      const r = await chat({ model: 'sim-fault-empty-ttft-5' });
      assert.equal(r.status, 200);
      assert.equal(r.text, '');
      assert.equal((await chat({ model: 'sim-fault-emptyx' })).status, 400, 'an unknown mode is a 400');
    });

    test('the new modes are taken from the plan too', async () => {
      await sim.plan({ faults: ['403', 'empty', 'stream-error'] });
      assert.equal((await chat()).status, 403);
      assert.equal((await chat()).text, '');
      const s = await stream({ max_tokens: 5 });
      assert.ok((await s.done).error);
    });
  });
});
