// CORS and retry hints (common/wire/cors.c, worker/http.c's preflight,
// worker/request.c's reply headers, common/wire/retry_after.c; docs/api.md
// "CORS" and "Retry hints"): a browser app's preflight is answered without
// a key; replies to an allowed origin carry Access-Control-Allow-Origin and
// expose the gateway's headers; an origin not listed, or CORS left off,
// gets no Access-Control-* header; a requested-header list is checked
// before it is reflected; and every Retry-After has retry-after-ms beside
// it, saying the same wait.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  BIN_DIR, CHAT, request, shippedModels, simModel, startGateway, startSim, streamRequest,
  waitFor,
} from '../lib/harness.mjs';

const APP = 'https://app.example.com';
const LOCAL = 'http://localhost:5173';

// What a browser sends before a cross-origin POST with the OpenAI SDK's
// headers (Chrome's form: lower case, sorted, no blanks).
const PREFLIGHT = Object.freeze({
  origin: APP,
  'access-control-request-method': 'POST',
  'access-control-request-headers': 'authorization,content-type,x-stainless-os',
});

const corsHeaders = (res) => Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));

// A preflight: no key at all.
const preflight = (gw, p, headers) => request('OPTIONS', gw.url + p, undefined,
  { authorization: null, ...headers });

let sim;
before(async () => { sim = await startSim(); });
after(async () => { await sim?.stop(); });

describe('cors.allowed_origins listing origins', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ sim, config: { cors: { allowed_origins: [APP, LOCAL] } } });
  });
  after(async () => { await gw?.stop(); });

  test('a browser\'s preflight is answered 204 without a key, with the path\'s methods, the requested headers and Max-Age 600', async () => {
    const res = await preflight(gw, '/v1/chat/completions', PREFLIGHT);
    assert.equal(res.status, 204, res.text);
    assert.equal(res.text, '');
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-methods'], 'POST, OPTIONS');
    assert.equal(res.headers['access-control-allow-headers'],
      'authorization,content-type,x-stainless-os');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers.vary, 'Origin');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.equal(res.headers['content-length'], undefined, 'a 204 has no Content-Length');
  });

  test('a preflight to /v1/models allows GET and HEAD', async () => {
    const res = await preflight(gw, '/v1/models', { ...PREFLIGHT, 'access-control-request-method': 'GET' });
    assert.equal(res.status, 204, res.text);
    assert.equal(res.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS');
  });

  test('the POST that follows carries Allow-Origin, Vary: Origin and exposes every header the gateway sent', async () => {
    const res = await gw.post('/v1/chat/completions', CHAT, { origin: APP });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers.vary, 'Origin');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    const exposed = res.headers['access-control-expose-headers'].split(/,\s*/);
    for (const h of ['x-request-id', 'retry-after', 'retry-after-ms', 'x-ratelimit-limit-requests',
      'x-ratelimit-remaining-tokens', 'x-fluxgate-provider', 'x-fluxgate-charged-micro']) {
      assert.ok(exposed.includes(h), `${h} is exposed`);
    }
    const sent = Object.keys(res.headers).filter((h) => /^(x-|retry-after)/.test(h));
    assert.ok(sent.length >= 3, sent.join(', '));
    for (const h of sent) assert.ok(exposed.includes(h), `${h} was sent but is not exposed`);
  });

  test('a stream to an allowed origin carries Allow-Origin and Expose-Headers', async () => {
    const res = await streamRequest(`${gw.url}/v1/chat/completions`, { ...CHAT, stream: true },
      { headers: { origin: LOCAL } });
    const done = await res.done;
    assert.equal(res.status, 200, done.text);
    assert.equal(res.headers['access-control-allow-origin'], LOCAL);
    assert.match(res.headers['access-control-expose-headers'], /x-request-id/);
    assert.match(done.text, /data: \[DONE\]/);
  });

  test('an error reply to an allowed origin carries Allow-Origin, so the script can read it', async () => {
    const res = await gw.post('/v1/chat/completions', CHAT, { origin: APP, authorization: 'Bearer fg-wrong' });
    assert.equal(res.status, 401, res.text);
    assert.equal(res.headers['access-control-allow-origin'], APP);
  });

  test('an origin not listed gets no Access-Control header, on the preflight (204) or the request', async () => {
    const pre = await preflight(gw, '/v1/chat/completions', { ...PREFLIGHT, origin: 'https://evil.example' });
    assert.equal(pre.status, 204, pre.text);
    assert.deepEqual(corsHeaders(pre), []);
    const res = await gw.post('/v1/chat/completions', CHAT, { origin: 'https://evil.example' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(corsHeaders(res), []);
    assert.equal(res.headers.vary, 'Origin');
  });

  test('an origin differing only in case, port or trailing slash is not listed', async () => {
    for (const origin of ['https://APP.example.com', 'https://app.example.com:8443', `${APP}/`]) {
      const res = await preflight(gw, '/v1/chat/completions', { ...PREFLIGHT, origin });
      assert.deepEqual(corsHeaders(res), [], origin);
    }
  });

  test('an OPTIONS without Access-Control-Request-Method is no preflight: it still needs a key', async () => {
    const res = await preflight(gw, '/v1/chat/completions', { origin: APP });
    assert.equal(res.status, 401, res.text);
  });

  test('a malformed Access-Control-Request-Headers is refused with 400', async () => {
    for (const bad of ['authorization, content type', 'authorization;x', 'a,"b"']) {
      const res = await preflight(gw, '/v1/chat/completions',
        { ...PREFLIGHT, 'access-control-request-headers': bad });
      assert.equal(res.status, 400, `${bad}: ${res.text}`);
      assert.equal(res.json().error.code, 'malformed_http');
      assert.equal(res.headers['access-control-allow-headers'], undefined);
    }
  });

  test('an Access-Control-Request-Headers over 1 KiB or 32 names is refused with 400', async () => {
    const many = Array.from({ length: 33 }, (_, i) => `x-h${i}`).join(',');
    const long = `x-${'a'.repeat(1100)}`;
    for (const bad of [many, long]) {
      const res = await preflight(gw, '/v1/chat/completions',
        { ...PREFLIGHT, 'access-control-request-headers': bad });
      assert.equal(res.status, 400, res.text);
      assert.match(res.json().error.message, /more than (32 headers|1024 bytes)/);
    }
    const ok = Array.from({ length: 32 }, (_, i) => `x-h${i}`).join(', ');
    const res = await preflight(gw, '/v1/chat/completions',
      { ...PREFLIGHT, 'access-control-request-headers': ok });
    assert.equal(res.status, 204, res.text);
    assert.equal(res.headers['access-control-allow-headers'], ok);
  });
});

describe('cors.allowed_origins ["*"]', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ sim, config: { cors: { allowed_origins: ['*'] } } });
  });
  after(async () => { await gw?.stop(); });

  test('any origin is answered "*", without Allow-Credentials or Vary', async () => {
    const pre = await preflight(gw, '/v1/chat/completions', { ...PREFLIGHT, origin: 'https://any.example' });
    assert.equal(pre.status, 204, pre.text);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-credentials'], undefined);
    const res = await gw.post('/v1/chat/completions', CHAT, { origin: 'https://any.example' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.equal(res.headers.vary, undefined);
  });
});

describe('CORS off (the default) and retry hints', () => {
  let gw;
  before(async () => {
    gw = await startGateway({
      sim,
      models: { models: [...shippedModels(), simModel('cooled', 'sim-cooled')] },
    });
  });
  after(async () => { await gw?.stop(); });

  test('without cors.allowed_origins no reply carries an Access-Control header, and a preflight gets 204 without them', async () => {
    const pre = await preflight(gw, '/v1/chat/completions', PREFLIGHT);
    assert.equal(pre.status, 204, pre.text);
    assert.deepEqual(corsHeaders(pre), []);
    const res = await gw.post('/v1/chat/completions', CHAT, { origin: APP });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(corsHeaders(res), []);
    assert.equal(res.headers.vary, undefined);
  });

  test('the limiter\'s 429 carries retry-after-ms, the exact wait, within Retry-After seconds', async () => {
    const { secret } = await gw.createKey({ name: 'rpm1', limits: { requests_per_min: 1 } });
    const auth = { authorization: `Bearer ${secret}` };
    assert.equal((await gw.post('/v1/chat/completions', CHAT, auth)).status, 200);
    const res = await gw.post('/v1/chat/completions', CHAT, auth);
    assert.equal(res.status, 429, res.text);
    const secs = Number(res.headers['retry-after']);
    const ms = Number(res.headers['retry-after-ms']);
    assert.match(res.headers['retry-after-ms'], /^[1-9]\d*$/);
    assert.ok(ms <= secs * 1000 && ms > (secs - 1) * 1000, `Retry-After ${secs}, retry-after-ms ${ms}`);
    assert.ok(ms > 50000 && ms <= 60000, `one request a minute: about a minute to wait, ${ms}`);
  });

  test('a provider\'s 429 carries its wait in both, and the 503 while the endpoint cools says the same in ms', async () => {
    await sim.plan({ faults: ['429'], retry_after_s: 30 });
    const limited = await gw.post('/v1/chat/completions', { ...CHAT, model: 'cooled' });
    assert.equal(limited.status, 429, limited.text);
    assert.equal(limited.headers['retry-after'], '30');
    assert.equal(limited.headers['retry-after-ms'], '30000');

    const cooling = await gw.post('/v1/chat/completions', { ...CHAT, model: 'cooled' });
    assert.equal(cooling.status, 503, cooling.text);
    assert.equal(cooling.json().error.code, 'no_provider_available');
    const secs = Number(cooling.headers['retry-after']);
    assert.ok(secs >= 1 && secs <= 30, cooling.headers['retry-after']);
    assert.equal(cooling.headers['retry-after-ms'], String(secs * 1000));
  });

  test('an upstream 429 with Retry-After: 1 answers retry-after-ms: 1000', async () => {
    await sim.plan({ faults: [] });
    const res = await gw.post('/v1/chat/completions', { ...CHAT, model: 'fault-429' });
    assert.equal(res.status, 429, res.text);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.headers['retry-after-ms'], '1000');
  });
});

describe('cors.allowed_origins in the configuration', () => {
  let gw;
  before(async () => { gw = await startGateway({ sim }); });
  after(async () => { await gw?.stop(); });

  test('fluxgate -t refuses an origin no browser sends, naming the key', () => {
    const conf = JSON.parse(fs.readFileSync(gw.confPath, 'utf8'));
    const p = path.join(gw.dir, 'bad-cors.json');
    fs.writeFileSync(p, JSON.stringify({ ...conf, cors: { allowed_origins: [APP, 'https://app.example.com/'] } }));
    const r = spawnSync(path.join(BIN_DIR, 'fluxgate'), ['-t', '-c', p], { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(r.status, 0, r.stdout);
    assert.match(r.stderr, /cors\.allowed_origins/);
    assert.match(r.stderr, /element 1/);
  });

  test('a SIGHUP reload with a changed cors.allowed_origins takes effect', async () => {
    assert.deepEqual(corsHeaders(await preflight(gw, '/v1/chat/completions', PREFLIGHT)), []);
    const conf = JSON.parse(fs.readFileSync(gw.confPath, 'utf8'));
    fs.writeFileSync(gw.confPath, JSON.stringify({ ...conf, cors: { allowed_origins: [APP] } }));
    const gen = (await gw.get('/readyz')).json().config_generation;
    gw.signal('SIGHUP');
    await waitFor('the new generation', async () => {
      const r = (await gw.get('/readyz')).json();
      return r.config_generation === gen + 1 && r.status === 'ready';
    }, { tries: 200, every: 50 });
    const res = await waitFor('the new workers answering', async () => {
      const r = await preflight(gw, '/v1/chat/completions', PREFLIGHT);
      return r.headers['access-control-allow-origin'] === APP ? r : null;
    }, { tries: 100, every: 50 });
    assert.equal(res.status, 204);
  });
});
