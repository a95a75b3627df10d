// Streaming (SSE) through the gateway (worker/relay.c): the event format,
// usage chunks, incremental relay, broken streams, clients that leave and
// clients that read slowly.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  stopAll, CHAT, shippedModels, shippedProviders, simModel, sleep, sseData, startGateway, startSim,
  streamRequest, tcpSockets, waitFor,
} from '../lib/harness.mjs';
import { chatPromptTokens } from '../lib/tokens.mjs';

const HIGH_WATER = 16384;
// Streams long replies: room in its context window for the longest (LONG).
const LONG_CHAT = simModel('long-chat', 'sim-large', { context_window: 131072, max_output_tokens: 65536 });

let sim;
let gw;

before(async () => {
  sim = await startSim();
  const providers = shippedProviders({
    demo: { timeouts: { connect_ms: 1000, first_byte_ms: 5000, idle_ms: 700, total_ms: 60000 } },
  });
  gw = await startGateway({
    sim,
    providers,
    config: { limits: { stream_high_water_bytes: HIGH_WATER } },
    models: {
      models: [...shippedModels(), simModel('stall-mid', 'sim-delay-3000'), LONG_CHAT,
        simModel('split-lines', 'sim-sse-split')],
    },
  });
});

after(async () => {
  await stopAll(gw, sim);
});

const URL_PATH = '/v1/chat/completions';
const stream = (over = {}, opts) => streamRequest(gw.url + URL_PATH,
  { ...CHAT, stream: true, ...over }, opts);

// The JSON events of an SSE body (everything but [DONE]).
function chunksOf(text) {
  return sseData(text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
}

function assertErrorEvent(text, code) {
  const data = sseData(text);
  assert.ok(!data.includes('[DONE]'), 'a broken stream must not end with [DONE]');
  const last = JSON.parse(data.at(-1));
  assert.deepEqual(Object.keys(last), ['error'], data.at(-1));
  assert.equal(last.error.code, code, data.at(-1));
  assert.equal(typeof last.error.message, 'string');
  assert.ok(last.error.message.length > 0);
}

describe('the stream', () => {
  test('is text/event-stream of chat.completion.chunk events ending with data: [DONE]', async () => {
    const res = await gw.post(URL_PATH, { ...CHAT, stream: true, max_tokens: 4 });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'], /^text\/event-stream/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.match(res.headers['x-request-id'] || '', /./);
    assert.ok(res.text.endsWith('data: [DONE]\n\n'), JSON.stringify(res.text.slice(-40)));
    const data = sseData(res.text);
    assert.equal(data.filter((d) => d === '[DONE]').length, 1);
    const chunks = chunksOf(res.text);
    assert.ok(chunks.length >= 5, `${chunks.length} chunks`);
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1);
    for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');
  });

  test('every event is a single "data: <json>" line followed by a blank line', async () => {
    const res = await gw.post(URL_PATH, { ...CHAT, stream: true, max_tokens: 3 });
    assert.equal(res.status, 200);
    const events = res.text.split('\n\n');
    assert.equal(events.pop(), '');
    for (const e of events) assert.match(e, /^data: [^\n]+$/);
  });

  test('a provider\'s event split over several data: lines reaches the client as one line each', async () => {
    for (const options of [undefined, { include_usage: true }]) {
      const res = await gw.post(URL_PATH, {
        ...CHAT, model: 'split-lines', stream: true, max_tokens: 3, stream_options: options,
      });
      assert.equal(res.status, 200, res.text);
      const events = res.text.split('\n\n');
      assert.equal(events.pop(), '');
      for (const e of events) assert.match(e, /^data: [^\n]+$/);
      const chunks = chunksOf(res.text);
      assert.ok(chunks.length >= 4, `${chunks.length} chunks`);
      assert.equal(chunks.some((c) => c.usage), options !== undefined);
    }
  });

  test('the deltas concatenate to the non-streamed content', async () => {
    const plain = (await gw.post(URL_PATH, { ...CHAT, max_tokens: 7 })).json();
    const res = await gw.post(URL_PATH, { ...CHAT, stream: true, max_tokens: 7 });
    const text = chunksOf(res.text).map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(text, plain.choices[0].message.content);
  });

  test('stream_options.include_usage sends a usage chunk right before [DONE]', async () => {
    const res = await gw.post(URL_PATH, {
      ...CHAT, stream: true, max_tokens: 5, stream_options: { include_usage: true },
    });
    assert.equal(res.status, 200, res.text);
    const data = sseData(res.text);
    assert.equal(data.at(-1), '[DONE]');
    const usage = JSON.parse(data.at(-2));
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.completion_tokens, 5);
    assert.equal(usage.usage.prompt_tokens, chatPromptTokens(CHAT));
    assert.equal(usage.usage.total_tokens, chatPromptTokens(CHAT) + 5);
    for (const c of chunksOf(res.text).slice(0, -1)) assert.equal(c.usage ?? null, null);
  });

  test('events are relayed as they arrive, not buffered', async () => {
    // fault-slow: one token every 200 ms, so 11 tokens take about two
    // seconds; the bounds leave room for a loaded machine's stalls.
    const s = await stream({ model: 'fault-slow', max_tokens: 11 });
    assert.equal(s.status, 200);
    const { ms, error } = await s.done;
    assert.equal(error, null);
    const content = s.events.filter((e) => e.data !== '[DONE]'
      && JSON.parse(e.data).choices[0]?.delta?.content);
    assert.equal(content.length, 11);
    const first = content[0].t;
    const last = content.at(-1).t;
    assert.ok(last - first >= 1200, `tokens spread over ${last - first} ms only`);
    assert.ok(first < 0.5 * ms, `first token at ${first} ms of ${ms} ms: buffered`);
    const reads = new Set(content.map((e) => e.t));
    assert.ok(reads.size >= 6, `11 tokens arrived in ${reads.size} reads`);
  });

  test('ten concurrent streams all complete with their own content', async () => {
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => gw.post(URL_PATH, {
      ...CHAT, stream: true, max_tokens: 3, messages: [{ role: 'user', content: `client${i}` }],
    })));
    all.forEach((res, i) => {
      assert.equal(res.status, 200);
      assert.ok(res.text.endsWith('data: [DONE]\n\n'));
      const text = chunksOf(res.text).map((c) => c.choices[0]?.delta?.content ?? '').join('');
      assert.equal(text, `echo: client${i} client${i}`);
    });
  });
});

describe('broken streams', () => {
  test('a stream the upstream resets ends with an error event and no [DONE]', async () => {
    const res = await gw.post(URL_PATH, { ...CHAT, model: 'fault-reset', stream: true });
    assert.equal(res.status, 200);
    assert.ok(chunksOf(res.text).length >= 2, 'the tokens before the reset are relayed');
    assertErrorEvent(res.text, 'INFERENCE_PROVIDER_ERROR');
  });

  test('a stream the upstream breaks with malformed data ends with an error event and no [DONE]', async () => {
    const res = await gw.post(URL_PATH, { ...CHAT, model: 'fault-malformed', stream: true });
    assert.equal(res.status, 200);
    assertErrorEvent(res.text, 'INFERENCE_PROVIDER_ERROR');
    assert.ok(!res.text.includes('{not json'), 'the malformed event must not be relayed');
  });

  test('a stream whose upstream stalls mid-way ends with a timeout error event after idle_ms', async () => {
    const t0 = Date.now();
    const res = await gw.post(URL_PATH, { ...CHAT, model: 'stall-mid', stream: true, max_tokens: 3 });
    const ms = Date.now() - t0;
    assert.equal(res.status, 200);
    assertErrorEvent(res.text, 'INFERENCE_PROVIDER_TIMEOUT');
    assert.ok(ms >= 600 && ms < 2800, `ended after ${ms} ms; idle_ms is 700`);
  });

  test('the gateway keeps serving after broken streams', async () => {
    const res = await gw.post(URL_PATH, { ...CHAT, stream: true });
    assert.equal(res.status, 200);
    assert.ok(res.text.endsWith('data: [DONE]\n\n'));
  });
});

describe('clients that leave', () => {
  test('a client that disconnects mid-stream makes the upstream call cancelled', async () => {
    const before = (await sim.stats()).cancelled;
    const s = await stream({ model: 'fault-slow', max_tokens: 30 });
    assert.equal(s.status, 200);
    await waitFor('two tokens', () => s.events.length >= 3, { tries: 60, every: 50 });
    s.destroy();
    await waitFor('the simulator to see the stream cancelled', async () => {
      const st = await sim.stats();
      return st.cancelled > before && st.in_flight === 0;
    }, { tries: 60, every: 50 });
  });

  test('the gateway keeps serving after a client left mid-stream', async () => {
    const s = await stream({ model: 'fault-slow', max_tokens: 30 });
    await waitFor('a token', () => s.events.length >= 2, { tries: 60, every: 50 });
    s.destroy();
    const res = await gw.post(URL_PATH, CHAT);
    assert.equal(res.status, 200, res.text);
    assert.equal((await gw.get('/readyz')).status, 200);
    await waitFor('the simulator to be idle', async () => (await sim.stats()).in_flight === 0,
      { tries: 60, every: 50 });
  });

  test('a client that leaves while waiting for a non-streamed reply makes the upstream call cancelled', async () => {
    const before = (await sim.stats()).cancelled;
    // The whole reply takes 6 s; the client gives up after 400 ms.
    const outcome = await streamRequest(gw.url + URL_PATH,
      { ...CHAT, model: 'fault-slow', max_tokens: 30 }, { timeoutMs: 400 }).catch((e) => e);
    assert.ok(outcome instanceof Error, 'no reply head was expected before the client left');
    await waitFor('the simulator to see the call cancelled', async () => {
      const st = await sim.stats();
      return st.cancelled > before && st.in_flight === 0;
    }, { tries: 60, every: 50 });
  });
});

// 10000 distinct words, echoed for 40000 tokens: a stream of about 9 MB,
// far more than the socket buffers and the high-water mark together, in
// which token k (k >= 1) is " w<(k - 1) % 10000>".
const WORDS = Array.from({ length: 10000 }, (_, i) => `w${i}`).join(' ');
const TOKENS = 40000;
const LONG = {
  model: 'long-chat', messages: [{ role: 'user', content: WORDS }], max_tokens: TOKENS,
};
// About 1.5 times the longest stream: ends a resend loop quickly.
const LIMITS = { timeoutMs: 30000, maxBytes: 14 << 20 };

describe('slow readers', () => {
  // Default provider timeouts (idle 30 s), a small high-water mark.
  let sgw;

  before(async () => {
    sgw = await startGateway({
      sim,
      config: { limits: { stream_high_water_bytes: HIGH_WATER } },
      models: { models: [...shippedModels(), LONG_CHAT] },
    });
  });

  after(async () => {
    await sgw?.stop();
  });

  const longStream = (tokens = TOKENS) => streamRequest(sgw.url + URL_PATH,
    { ...LONG, stream: true, max_tokens: tokens }, LIMITS);

  // Checks that the stream is complete, in order and without duplicates.
  function assertWhole({ text, error }, tokens = TOKENS) {
    assert.equal(error, null, error?.message);
    const data = sseData(text);
    assert.equal(data.at(-1), '[DONE]', `ends with ${data.at(-1)?.slice(0, 200)}`);
    const content = chunksOf(text).map((c) => c.choices[0]?.delta?.content).filter((c) => c);
    assert.equal(content[0], 'echo:');
    for (let k = 1; k < content.length; k++) {
      if (content[k] !== ` w${(k - 1) % 10000}`) {
        assert.fail(`token ${k} is ${JSON.stringify(content[k])}, expected " w${(k - 1) % 10000}"`);
      }
    }
    assert.equal(content.length, tokens);
  }

  // Bytes of the upstream connections still in the kernel: sent by the sim
  // but not yet read by the gateway (the sim's unacknowledged send queue
  // plus the gateway's unread receive queue).
  function upstreamPending() {
    return tcpSockets(sim.port).filter((s) => s.state === '01')
      .reduce((n, s) => n + (s.localPort === sim.port ? s.txQueue : s.rxQueue), 0);
  }

  test('a long stream read at full speed arrives whole, in order and without duplicates',
    async () => {
      const s = await longStream(10000);
      assert.equal(s.status, 200);
      assertWhole(await s.done, 10000);
    });

  test('a slow reader\'s stream completes, whole and in order, when it resumes reading',
    async () => {
      const s = await longStream();
      assert.equal(s.status, 200);
      s.pause();
      await sleep(1000);
      s.resume();
      assertWhole(await s.done);
    });

  test('while a client is not reading, the gateway stops reading from the upstream', async () => {
    const s = await longStream();
    assert.equal(s.status, 200);
    s.pause();
    // Backpressure: once the kernel's buffers towards the client are full,
    // the rest of the upstream's reply waits in the kernel between the sim
    // and the gateway instead of being read into the gateway's memory. A
    // gateway that did not pause would have read all 9 MB well within the
    // 1.2 s this waits at least (this test is about time).
    const t0 = Date.now();
    await waitFor('the kernel\'s buffers towards the client to fill', () => tcpSockets(sgw.port)
      .some((x) => x.localPort === sgw.port && x.state === '01' && x.txQueue > 64 * 1024),
    { tries: 100, every: 50 });
    await sleep(Math.max(0, 1200 - (Date.now() - t0)));
    const first = upstreamPending();
    await sleep(200);
    const second = upstreamPending();
    assert.ok(first > 256 * 1024 && second > 256 * 1024,
      `only ${first} then ${second} bytes of the upstream's reply left unread`);
    s.destroy();
  });

  test('the gateway keeps serving others while a client is not reading, and after', async () => {
    const s = await longStream();
    s.pause();
    await sleep(300);
    assert.equal((await sgw.post(URL_PATH, CHAT)).status, 200);
    s.destroy();
    assert.equal((await sgw.get('/readyz')).status, 200);
    await waitFor('the simulator to be idle', async () => (await sim.stats()).in_flight === 0,
      { tries: 60, every: 50 });
  });

  test('a client that stops reading for longer than idle_ms does not get a provider timeout',
    async () => {
      // The main gateway has idle_ms 700: the provider is never idle here,
      // only the client is slow.
      const stalls = () => (gw.log().match(/provider stalled in the middle/g) || []).length;
      const before = stalls();
      const s = await streamRequest(gw.url + URL_PATH, { ...LONG, stream: true }, LIMITS);
      assert.equal(s.status, 200);
      s.pause();
      await sleep(1500);
      s.resume();
      const { text } = await s.done;
      assert.ok(!text.includes('INFERENCE_PROVIDER_TIMEOUT'), 'the stream ended with a provider timeout');
      assert.equal(stalls(), before, 'the gateway logged the provider as stalled');
    });
});
