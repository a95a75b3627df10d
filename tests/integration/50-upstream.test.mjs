// Non-streamed completions through the gateway to fg-sim, and every way the
// upstream can fail (worker/upstream.c, worker/relay.c): error statuses,
// resets, malformed replies, stalls, an upstream that is down, replies too
// large; and keep-alive reuse of upstream connections.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  stopAll, CHAT, shippedModels, shippedProviders, simModel, startGateway, startSim, tcpSockets, waitFor,
} from '../lib/harness.mjs';
import { chatPromptTokens } from '../lib/tokens.mjs';

let sim;
let gw;

before(async () => {
  sim = await startSim();
  gw = await startGateway({ sim });
});

after(async () => {
  await stopAll(gw, sim);
});

function assertGatewayError(res, status, code, type = 'api_error') {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers['content-type'] || '', /^application\/json/);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(body.error.code, code, res.text);
  assert.equal(body.error.type, type, res.text);
  assert.ok(body.error.message.length > 0);
  return body.error;
}

const chat = (over = {}) => gw.post('/v1/chat/completions', { ...CHAT, ...over });

describe('completions', () => {
  test('a plain completion answers 200 with choices, usage and model', async () => {
    const res = await chat({ max_tokens: 5 });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'], /^application\/json/);
    const body = res.json();
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.model, 'demo-chat');
    assert.equal(body.choices.length, 1);
    assert.equal(body.choices[0].message.role, 'assistant');
    assert.equal(body.choices[0].message.content, 'echo: hello gateway hello gateway');
    assert.equal(body.choices[0].finish_reason, 'length');
    assert.equal(body.usage.completion_tokens, 5);
    assert.equal(body.usage.prompt_tokens, chatPromptTokens(CHAT));
    assert.equal(body.usage.total_tokens, chatPromptTokens(CHAT) + 5);
  });

  test('n=2 returns two choices', async () => {
    const res = await chat({ n: 2, max_tokens: 3 });
    assert.equal(res.status, 200, res.text);
    const body = res.json();
    assert.equal(body.choices.length, 2);
    assert.deepEqual(body.choices.map((c) => c.index), [0, 1]);
    assert.equal(body.usage.completion_tokens, 6);
  });

  test('a stop string cuts the reply with finish_reason stop', async () => {
    const res = await chat({ stop: [' gateway'] });
    assert.equal(res.status, 200, res.text);
    const c = res.json().choices[0];
    assert.equal(c.message.content, 'echo: hello');
    assert.equal(c.finish_reason, 'stop');
  });

  test('a tool call reply is relayed with its arguments', async () => {
    const res = await chat({
      tools: [{
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      }],
    });
    assert.equal(res.status, 200, res.text);
    const c = res.json().choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(c.message.tool_calls[0].function.arguments), { city: 'test' });
  });
});

describe('upstream failures', () => {
  test('an upstream 500 answers 502 INFERENCE_PROVIDER_ERROR', async () => {
    const res = await chat({ model: 'fault-500' });
    const err = assertGatewayError(res, 502, 'INFERENCE_PROVIDER_ERROR');
    assert.match(err.message, /500/);
  });

  test('an upstream 429 answers 429 with Retry-After', async () => {
    const res = await chat({ model: 'fault-429' });
    assertGatewayError(res, 429, 'INFERENCE_PROVIDER_RATE_LIMITED', 'rate_limit_error');
    assert.equal(res.headers['retry-after'], '1');
  });

  test('an upstream 400 is passed through with the upstream\'s message', async () => {
    const res = await chat({ model: 'fault-400' });
    assert.equal(res.status, 400, res.text);
    const body = res.json();
    assert.equal(body.error.message, 'simulated upstream rejection');
    assert.equal(body.error.type, 'invalid_request_error');
  });

  test('an upstream that resets the connection answers 502', async () => {
    const res = await chat({ model: 'fault-reset' });
    assertGatewayError(res, 502, 'INFERENCE_PROVIDER_ERROR');
  });

  test('an upstream 200 whose body is not JSON answers 502', async () => {
    const res = await chat({ model: 'fault-malformed' });
    const err = assertGatewayError(res, 502, 'INFERENCE_PROVIDER_ERROR');
    assert.match(err.message, /malformed/);
  });

  test('a stream request that the upstream refuses gets that error as JSON, not as a stream', async () => {
    const res = await chat({ model: 'fault-500', stream: true });
    assertGatewayError(res, 502, 'INFERENCE_PROVIDER_ERROR');
  });

  test('the gateway keeps serving after every fault', async () => {
    for (const m of ['fault-500', 'fault-429', 'fault-400', 'fault-reset', 'fault-malformed']) {
      await chat({ model: m });
      await chat({ model: m, stream: true });
    }
    const res = await chat();
    assert.equal(res.status, 200, res.text);
    assert.equal((await gw.get('/readyz')).status, 200);
  });
});

describe('upstream timeouts and limits', () => {
  let tgw;

  before(async () => {
    const providers = shippedProviders({
      demo: { timeouts: { connect_ms: 1000, first_byte_ms: 1000, idle_ms: 1000, total_ms: 8000 } },
    });
    tgw = await startGateway({
      sim,
      providers,
      config: { upstream: { max_body_bytes: 65536 } },
      models: { models: [...shippedModels(), simModel('slow-start', 'sim-ttft-3000')] },
    });
  });

  after(async () => {
    await tgw?.stop();
  });

  test('a stalled upstream answers 504 INFERENCE_PROVIDER_TIMEOUT within the first-byte timeout', async () => {
    const t0 = Date.now();
    const res = await tgw.post('/v1/chat/completions', { ...CHAT, model: 'fault-stall' });
    const ms = Date.now() - t0;
    assertGatewayError(res, 504, 'INFERENCE_PROVIDER_TIMEOUT');
    assert.ok(ms >= 900 && ms < 4000, `answered after ${ms} ms; first_byte_ms is 1000`);
  });

  test('a stalled upstream call is cancelled at the upstream after the 504', async () => {
    const before = (await sim.stats()).cancelled;
    const res = await tgw.post('/v1/chat/completions', { ...CHAT, model: 'fault-stall', stream: true });
    assertGatewayError(res, 504, 'INFERENCE_PROVIDER_TIMEOUT');
    await waitFor('the simulator to see the call cancelled', async () => {
      const s = await sim.stats();
      return s.cancelled > before && s.in_flight === 0;
    }, { tries: 60, every: 50 });
  });

  test('an upstream slower than the first-byte timeout answers 504', async () => {
    const res = await tgw.post('/v1/chat/completions', { ...CHAT, model: 'slow-start' });
    assertGatewayError(res, 504, 'INFERENCE_PROVIDER_TIMEOUT');
  });

  test('a reply larger than upstream.max_body_bytes answers 502', async () => {
    const word = 'w'.repeat(60);
    const res = await tgw.post('/v1/chat/completions', {
      ...CHAT, messages: [{ role: 'user', content: `${word} ${word}` }], max_tokens: 4000,
    });
    const err = assertGatewayError(res, 502, 'INFERENCE_PROVIDER_ERROR');
    assert.match(err.message, /too large/);
  });

  test('a reply of about 50 KB, under upstream.max_body_bytes, is relayed whole', async () => {
    const res = await tgw.post('/v1/chat/completions', { ...CHAT, max_tokens: 7000 });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.ok(res.text.length > 45000 && res.text.length < 65536, `${res.text.length} bytes`);
    assert.equal(res.json().usage.completion_tokens, 7000);
  });

  test('the gateway keeps serving after the timeouts', async () => {
    const res = await tgw.post('/v1/chat/completions', CHAT);
    assert.equal(res.status, 200, res.text);
  });
});

describe('an upstream that is down', () => {
  let dgw;

  before(async () => {
    dgw = await startGateway({});   // no sim: the demo provider points at a closed port
  });

  after(async () => {
    await dgw?.stop();
  });

  test('answers 502 INFERENCE_PROVIDER_ERROR quickly', async () => {
    const t0 = Date.now();
    const res = await dgw.post('/v1/chat/completions', CHAT);
    const ms = Date.now() - t0;
    const err = assertGatewayError(res, 502, 'INFERENCE_PROVIDER_ERROR');
    assert.ok(ms < 1500, `answered after ${ms} ms`);
    assert.ok(!/127\.0\.0\.1|sim-key/.test(err.message), `the message leaks internals: ${err.message}`);
  });

  test('answers a stream request with 502 JSON too', async () => {
    const res = await dgw.post('/v1/chat/completions', { ...CHAT, stream: true });
    assertGatewayError(res, 502, 'INFERENCE_PROVIDER_ERROR');
  });

  test('stays ready: an upstream outage is not a gateway outage', async () => {
    assert.equal((await dgw.get('/readyz')).status, 200);
    assert.equal((await dgw.get('/healthz')).status, 200);
  });
});

describe('upstream connections', () => {
  // Ephemeral ports of the TCP connections with the simulator at one end.
  function simPeers() {
    const peers = new Set();
    for (const s of tcpSockets(sim.port)) {
      if (s.state === '0A') continue;
      peers.add(s.localPort === sim.port ? s.remotePort : s.localPort);
    }
    return peers;
  }

  test('sequential requests reuse kept-alive upstream connections', async () => {
    // Warm up every worker's connection, then count new ones.
    for (let i = 0; i < 6; i++) await chat({ max_tokens: 1 });
    const before = simPeers();
    const N = 40;
    for (let i = 0; i < N; i++) {
      const res = await chat({ max_tokens: 1 });
      assert.equal(res.status, 200, res.text);
    }
    const fresh = [...simPeers()].filter((p) => !before.has(p));
    assert.ok(fresh.length <= 2, `${N} requests opened ${fresh.length} new upstream connections`);
  });
});
