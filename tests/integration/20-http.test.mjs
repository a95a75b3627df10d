// The HTTP surface that is not chat: health and readiness, request ids,
// routing errors in OpenAI's format, and the model list built from the
// catalogs (worker/http.c, worker/models.c, common/base/catalog.c).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { stopAll, CHAT, startGateway, startSim } from '../lib/harness.mjs';

let sim;
let gw;

before(async () => {
  sim = await startSim();
  // No OpenAI key: its models must be hidden, whatever the outer env holds.
  gw = await startGateway({ sim, env: { OPENAI_API_KEY: '' } });
});

after(async () => {
  await stopAll(gw, sim);
});

const GENERATED_ID = /^req_[0-9a-f]{24}$/;

function assertOpenAIError(res, status, code) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers['content-type'], /^application\/json/);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.equal(body.error.code, code);
  return body.error;
}

describe('health and readiness', () => {
  test('GET /healthz answers 200 {"status":"ok"}', async () => {
    const res = await gw.get('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  test('GET /readyz answers 200 with every configured worker ready', async () => {
    const res = await gw.get('/readyz');
    assert.equal(res.status, 200);
    const body = res.json();
    assert.equal(body.status, 'ready');
    assert.equal(body.workers_configured, 2);
    assert.equal(body.workers_ready, body.workers_configured);
    assert.equal(body.config_generation, 1);
  });
});

describe('x-request-id', () => {
  test('a response carries a generated x-request-id when the client sends none', async () => {
    const res = await gw.get('/healthz');
    assert.match(res.headers['x-request-id'], GENERATED_ID);
  });

  test('generated request ids differ from request to request', async () => {
    const ids = new Set();
    for (let i = 0; i < 20; i++) ids.add((await gw.get('/healthz')).headers['x-request-id']);
    assert.equal(ids.size, 20);
  });

  test('a valid client x-request-id is echoed in x-client-request-id; x-request-id stays the gateway\'s', async () => {
    const id = 'client-Req_42.trace:7';
    const res = await gw.get('/healthz', { 'x-request-id': id });
    assert.equal(res.headers['x-client-request-id'], id);
    assert.match(res.headers['x-request-id'], GENERATED_ID);
  });

  test('a client id of 60 characters comes back whole on a chat completion', async () => {
    const id = `chat-request-${'0'.repeat(47)}`;
    const res = await gw.post('/v1/chat/completions', CHAT, { 'x-request-id': id });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-client-request-id'], id);
    assert.match(res.headers['x-request-id'], GENERATED_ID);
  });

  test('requests that reuse one client id each get their own x-request-id', async () => {
    const ids = new Set();
    for (let i = 0; i < 3; i++) {
      const res = await gw.post('/v1/chat/completions', CHAT, { 'x-request-id': 'reused-id' });
      assert.equal(res.headers['x-client-request-id'], 'reused-id');
      ids.add(res.headers['x-request-id']);
    }
    assert.equal(ids.size, 3);
  });

  test('an x-request-id with spaces is ignored', async () => {
    const res = await gw.get('/healthz', { 'x-request-id': 'has some spaces' });
    assert.match(res.headers['x-request-id'], GENERATED_ID);
    assert.equal(res.headers['x-client-request-id'], undefined);
  });

  test('an x-request-id of 200 characters is ignored', async () => {
    const res = await gw.get('/healthz', { 'x-request-id': 'a'.repeat(200) });
    assert.match(res.headers['x-request-id'], GENERATED_ID);
    assert.equal(res.headers['x-client-request-id'], undefined);
  });

  test('an x-request-id with a quote or a slash is ignored', async () => {
    for (const bad of ['x"y', 'a/b', 'a;b']) {
      const res = await gw.get('/healthz', { 'x-request-id': bad });
      assert.match(res.headers['x-request-id'], GENERATED_ID, bad);
      assert.equal(res.headers['x-client-request-id'], undefined, bad);
    }
  });

  test('every kind of response carries an x-request-id', async () => {
    const replies = [
      await gw.get('/readyz'),
      await gw.get('/v1/models'),
      await gw.get('/v1/models/demo-chat'),
      await gw.get('/no/such/path'),
      await gw.get('/v1/chat/completions'),
      await gw.post('/v1/chat/completions', '{bad json'),
      await gw.post('/v1/chat/completions', { ...CHAT, model: 'fault-500' }),
      await gw.post('/v1/chat/completions', { ...CHAT, stream: true }),
    ];
    for (const r of replies) {
      assert.match(r.headers['x-request-id'] || '', GENERATED_ID, `status ${r.status}: ${r.text.slice(0, 200)}`);
    }
  });
});

describe('routing errors', () => {
  test('an unknown path answers 404 in OpenAI\'s error format', async () => {
    const res = await gw.get('/v1/nothing-here');
    const err = assertOpenAIError(res, 404, 'not_found');
    assert.equal(err.type, 'invalid_request_error');
    assert.equal(err.param, null);
  });

  test('GET on /v1/chat/completions answers 405 with Allow: POST', async () => {
    const res = await gw.get('/v1/chat/completions');
    assertOpenAIError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.allow, 'POST');
  });

  test('DELETE on /v1/chat/completions answers 405 with Allow: POST', async () => {
    const res = await gw.request('DELETE', '/v1/chat/completions');
    assertOpenAIError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.allow, 'POST');
  });

  test('POST on /v1/models answers 405 with Allow: GET', async () => {
    const res = await gw.post('/v1/models', {});
    assertOpenAIError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.allow, 'GET, HEAD');
  });

  test('a query string does not change the route', async () => {
    const res = await gw.get('/healthz?verbose=1');
    assert.equal(res.status, 200);
  });
});

describe('GET /v1/models', () => {
  let list;

  before(async () => {
    const res = await gw.get('/v1/models');
    assert.equal(res.status, 200, res.text);
    list = res.json();
  });

  test('answers an OpenAI list object', () => {
    assert.equal(list.object, 'list');
    assert.ok(Array.isArray(list.data));
  });

  test('lists the demo models with every catalog field', () => {
    const chat = list.data.find((m) => m.id === 'demo-chat');
    const reasoner = list.data.find((m) => m.id === 'demo-reasoner');
    assert.ok(chat && reasoner, JSON.stringify(list.data.map((m) => m.id)));
    assert.equal(chat.object, 'model');
    assert.equal(chat.created, 1735689600);
    assert.equal(chat.owned_by, 'fluxgate');
    assert.equal(chat.context_window, 131072);
    assert.equal(chat.context_length, chat.context_window);
    assert.equal(chat.supports_vision, true);
    assert.equal(chat.supports_tools, true);
    assert.deepEqual(chat.reasoning_effort, []);
    assert.equal(chat.pricing.prompt_per_mtok_micro, 100000);
    assert.equal(chat.pricing.completion_per_mtok_micro, 400000);
    assert.equal(chat.pricing.cached_prompt_per_mtok_micro, 50000);
    assert.equal(reasoner.supports_vision, false);
    assert.deepEqual(reasoner.reasoning_effort, ['low', 'medium', 'high']);
  });

  test('a model names the tokenizer its prompts are counted with, and one without a shipped tokenizer names none', () => {
    assert.equal(list.data.find((m) => m.id === 'demo-chat').tokenizer, 'o200k_base');
    const untokenized = list.data.find((m) => m.id === 'fault-500');
    assert.ok(untokenized, JSON.stringify(list.data.map((m) => m.id)));
    assert.equal('tokenizer' in untokenized, false);
  });

  test('every listed model has id, object, created, owned_by and context_window == context_length', () => {
    for (const m of list.data) {
      assert.equal(typeof m.id, 'string');
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      assert.equal(typeof m.owned_by, 'string');
      assert.equal(m.context_length, m.context_window, m.id);
      assert.equal(typeof m.supports_vision, 'boolean');
      assert.equal(typeof m.supports_tools, 'boolean');
      assert.ok(Array.isArray(m.reasoning_effort));
      assert.equal(typeof m.pricing, 'object');
    }
  });

  test('a model shows its enabled endpoints, its quality and the range of its prices', () => {
    const chat = list.data.find((m) => m.id === 'demo-chat');
    assert.equal(chat.endpoints, 1);
    assert.equal(typeof chat.quality, 'number');
    assert.deepEqual(chat.pricing.range, {
      prompt_per_mtok_micro: [100000, 100000],
      completion_per_mtok_micro: [400000, 400000],
    });
  });

  test('does not list models of providers whose key variable is unset', () => {
    const ids = list.data.map((m) => m.id);
    assert.ok(!ids.includes('gpt-4o-mini'), ids.join(', '));
    assert.ok(!ids.includes('o4-mini'), ids.join(', '));
  });

  test('lists a provider\'s models once its key variable is set', async () => {
    const other = await startGateway({ sim, env: { OPENAI_API_KEY: 'sk-test-not-used' } });
    try {
      const ids = (await other.get('/v1/models')).json().data.map((m) => m.id);
      assert.ok(ids.includes('gpt-4o-mini'), ids.join(', '));
      assert.ok(ids.includes('demo-chat'));
    } finally {
      await other.stop();
    }
  });
});

describe('GET /v1/models/{id}', () => {
  test('/v1/models/demo-chat returns that model', async () => {
    const res = await gw.get('/v1/models/demo-chat');
    assert.equal(res.status, 200, res.text);
    const m = res.json();
    assert.equal(m.id, 'demo-chat');
    assert.equal(m.object, 'model');
    assert.equal(m.context_length, m.context_window);
  });

  test('/v1/models/demo/demo-chat resolves the provider-qualified id', async () => {
    const res = await gw.get('/v1/models/demo/demo-chat');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().id, 'demo-chat');
  });

  test('a percent-encoded model id is decoded', async () => {
    const res = await gw.get('/v1/models/demo%2Fdemo-chat');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().id, 'demo-chat');
  });

  test('an unknown model id answers 404 model_not_found', async () => {
    const res = await gw.get('/v1/models/no-such-model');
    const err = assertOpenAIError(res, 404, 'model_not_found');
    assert.equal(err.param, 'model');
  });

  test('a model of a provider without a key answers 404 model_not_found', async () => {
    const res = await gw.get('/v1/models/gpt-4o-mini');
    assertOpenAIError(res, 404, 'model_not_found');
  });

  test('/v1/models/demo-chat/endpoints lists its enabled endpoints with their health', async () => {
    const res = await gw.get('/v1/models/demo-chat/endpoints');
    assert.equal(res.status, 200, res.text);
    const body = res.json();
    assert.equal(body.object, 'list');
    assert.equal(body.model, 'demo-chat');
    assert.equal(body.data.length, 1);
    const e = body.data[0];
    assert.equal(e.provider, 'demo');
    assert.equal(e.upstream_id, 'demo-chat');
    assert.equal(e.location, 'WORLD');
    assert.equal(typeof e.carbon_intensity, 'number');
    assert.equal(e.context_window, 131072);
    assert.deepEqual(e.capabilities.apis, ['chat', 'completions']);
    assert.equal(e.capabilities.vision, true);
    assert.equal(e.capabilities.reasoning_format, 'none', 'no reasoning_effort values: none');
    assert.equal(e.pricing.prompt_per_mtok_micro, 100000);
    assert.equal(e.enabled, true);
    assert.ok('health' in e);
  });

  test('/v1/models/demo/demo-chat/endpoints lists the endpoint the provider names', async () => {
    const res = await gw.get('/v1/models/demo/demo-chat/endpoints');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json().data.map((e) => e.provider), ['demo']);
  });

  test('the endpoints of an unknown model answer 404 model_not_found', async () => {
    const res = await gw.get('/v1/models/no-such-model/endpoints');
    assertOpenAIError(res, 404, 'model_not_found');
  });

  test('a chat completion for a model of a provider without a key answers 404', async () => {
    const before = (await sim.stats()).requests;
    const res = await gw.post('/v1/chat/completions', { ...CHAT, model: 'gpt-4o-mini' });
    assertOpenAIError(res, 404, 'model_not_found');
    assert.equal((await sim.stats()).requests, before);
  });
});
