// What providers say to tenants (worker/relay.c): a provider's refusal of
// the gateway's own credentials, and its 5xx internals, are the operator's
// business (logged, scrubbed) and reach the tenant as the gateway's own
// 502; a 4xx about the tenant's request is forwarded, with every provider
// credential the gateway knows (and any Bearer/sk- echo) masked.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { CHAT, shippedModels, simModel, startGateway, waitFor } from '../lib/harness.mjs';

const DEMO_KEY = 'prov-demo-key-7f3c9a81b2e4';
const OTHER_KEY = 'other-provider-key-5d6e7f8091';   // OPENAI_API_KEY
const URL_PATH = '/v1/chat/completions';

const provErr = (message, extra = {}) => JSON.stringify({
  error: { message, type: 'invalid_request_error', param: null, code: null, ...extra },
});

// The provider's reply to each model (its upstream_id).
const REPLIES = {
  'p-401': (req) => [401, provErr('Incorrect API key provided: sk-evi*****cdef. You can find your API key at '
    + 'https://platform.example/account/api-keys.', { code: 'invalid_api_key' })],
  'p-403': () => [403, provErr(`Key ${DEMO_KEY} is not allowed to use this model`, { code: 'forbidden' })],
  'p-404': () => [404, provErr('The model `p-404` does not exist or you do not have access to it.',
    { code: 'model_not_found' })],
  'p-400-echo': (req) => [400, provErr(`Invalid header in request: Authorization: ${req.headers.authorization}; `
    + `also seen: ${OTHER_KEY} and sk-proj-0123456789abcdef`)],
  'p-500-trace': () => [500, provErr('Traceback (most recent call last): File "/srv/llm/app.py", line 42, '
    + 'in forward: ConnectionError: 10.20.30.40:8080 refused', { type: 'server_error' })],
  'p-503-text': () => [503, 'upstream connect error at 10.20.30.41:9000; stack: at Router.handle (/srv/x.js:12)'],
  'p-500-forge': () => [500, 'oops\n2030-01-01T00:00:00.000Z notice master[1] FORGED-LINE'],
  'p-stream-error': (req) => [200, `data: ${JSON.stringify({
    id: 'c', object: 'chat.completion.chunk', created: 1, model: 'x',
    choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }],
  })}\n\ndata: ${JSON.stringify({ error: { message: `upstream auth ${req.headers.authorization} failed` } })}\n\n`],
};

function startProvider() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const { model } = JSON.parse(Buffer.concat(chunks).toString());
      const [status, body] = REPLIES[model](req);
      const type = body.startsWith('{') ? 'application/json' : body.startsWith('data:') ? 'text/event-stream' : 'text/plain';
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}`,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
    }));
  });
}

describe('provider errors reaching tenants', () => {
  let provider;
  let gw;

  before(async () => {
    provider = await startProvider();
    gw = await startGateway({
      env: { FG_DEMO_BASE_URL: `${provider.url}/v1`, FG_DEMO_API_KEY: DEMO_KEY, OPENAI_API_KEY: OTHER_KEY },
      models: { models: [...shippedModels(), ...Object.keys(REPLIES).map((m) => simModel(m, m))] },
      config: { workers: 1 },
    });
  });

  after(async () => {
    await gw?.stop();
    await provider?.close();
  });

  const chat = (model) => gw.post(URL_PATH, { ...CHAT, model });
  const noSecret = (text) => {
    for (const s of [DEMO_KEY, OTHER_KEY, 'sk-evi', 'sk-proj-0123456789abcdef']) {
      assert.ok(!text.includes(s), `"${s}" leaked: ${text}`);
    }
  };

  test('a provider 401 is a 502 saying the provider refused the gateway\'s credentials, never invalid_api_key', async () => {
    const res = await chat('p-401');
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json().error.code, 'INFERENCE_PROVIDER_ERROR');
    assert.match(res.json().error.message, /the provider refused the gateway's credentials/);
    assert.ok(!res.text.includes('invalid_api_key'), res.text);
    noSecret(res.text);
  });

  test('a provider 404 (the catalog names a model it does not serve) is a 502, never the tenant\'s model_not_found', async () => {
    const res = await chat('p-404');
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json().error.code, 'INFERENCE_PROVIDER_ERROR');
    assert.match(res.json().error.message, /does not serve the catalog's model id/);
    assert.ok(!res.text.includes('model_not_found'), res.text);
    assert.match(gw.log(), /does not serve the catalog's model id \(HTTP 404\)/);
  });

  test('a provider 403 is the same 502; the operator\'s log has the provider\'s text, scrubbed', async () => {
    const res = await chat('p-403');
    assert.equal(res.status, 502, res.text);
    assert.match(res.json().error.message, /the provider refused the gateway's credentials/);
    noSecret(res.text);
    assert.match(gw.log(), /refused the gateway's credentials \(HTTP 403\): Key \*+ is not allowed/);
    noSecret(gw.log());
  });

  test('a provider 400 that quotes the request headers is forwarded without any provider key', async () => {
    const res = await chat('p-400-echo');
    assert.equal(res.status, 400, res.text);
    const { message } = res.json().error;   // still the provider's JSON
    assert.match(message, /Authorization: Bearer \*+;/);
    noSecret(res.text);
  });

  test('a provider 500 with a stack trace is a 502 in the gateway\'s words naming the status; the body only in the log', async () => {
    const res = await chat('p-500-trace');
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json().error.code, 'INFERENCE_PROVIDER_ERROR');
    assert.match(res.json().error.message, /HTTP 500/);
    assert.ok(!/Traceback|10\.20\.30\.40|app\.py/.test(res.text), res.text);
    assert.match(gw.log(), /answered HTTP 500: Traceback/);
  });

  test('a provider 503 with a plain-text body is a 502 naming the status, without the body', async () => {
    const res = await chat('p-503-text');
    assert.equal(res.status, 502, res.text);
    assert.match(res.json().error.message, /HTTP 503/);
    assert.ok(!/10\.20\.30\.41|Router\.handle/.test(res.text), res.text);
    assert.match(gw.log(), /answered HTTP 503: upstream connect error/);
  });

  test('a provider\'s error body cannot forge a log line', async () => {
    const res = await chat('p-500-forge');
    assert.equal(res.status, 502, res.text);
    await waitFor('the provider\'s body in the log', () => gw.log().includes('FORGED-LINE'));
    assert.ok(!/^2030-01-01T00:00:00.000Z notice master\[1\] FORGED-LINE/m.test(gw.log()), 'a forged line');
  });

  test('an error event inside a stream is relayed without the provider key', async () => {
    const res = await gw.post(URL_PATH, { ...CHAT, model: 'p-stream-error', stream: true });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /upstream auth Bearer \*+ failed/);
    noSecret(res.text);
  });
});
