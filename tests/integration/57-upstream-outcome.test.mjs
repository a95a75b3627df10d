// How each upstream attempt ended (worker/upstream.c, common/wire/attempt.h),
// as the access log shows it in upstream_outcome and upstream_status: every
// fault fg-sim (or a hand-written upstream) can play maps to its outcome,
// and no client sends a request twice on its own. tests/run.sh runs this
// file once more through libcurl (FG_TEST_UPSTREAM_CLIENT=libcurl).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import {
  stopAll, CHAT, shippedModels, shippedProviders, simModel, startGateway, startSim, streamRequest, tempDir,
  waitFor,
} from '../lib/harness.mjs';

const URL_PATH = '/v1/chat/completions';

// The access-log line of the request that got @res (written as it ends).
async function lineOf(file, res) {
  const id = res.headers['x-request-id'];
  assert.ok(id, 'the response names its request id');
  return waitFor(`the access-log line of ${id}`, () => {
    let text = '';
    try { text = fs.readFileSync(file, 'utf8'); } catch { return undefined; }
    return text.split('\n').filter((l) => l).map((l) => JSON.parse(l))
      .find((l) => l.request_id === id);
  }, { tries: 100, every: 20 });
}

// A gateway with an access log in front of @sim (or of nothing).
async function gatewayWithLog(opts) {
  const dir = tempDir('fg-gw-');
  const file = path.join(dir, 'access.log');
  const gw = await startGateway({
    ...opts, dir, config: { ...(opts.config || {}), access_log: { file } },
  });
  return { gw, file };
}

describe('attempts against fg-sim', () => {
  let sim;
  let gw;
  let file;

  before(async () => {
    sim = await startSim();
    ({ gw, file } = await gatewayWithLog({
      sim,
      providers: shippedProviders({
        demo: { timeouts: { connect_ms: 1000, first_byte_ms: 1000, idle_ms: 700, total_ms: 8000 } },
      }),
      // One worker: its kept-alive connection is the one the next request
      // reuses, which is where a client might be tempted to send again.
      config: { workers: 1, upstream: { max_body_bytes: 65536 } },
      models: {
        models: [...shippedModels(), simModel('stall-mid', 'sim-delay-3000'),
          // Reads the whole request, works 500 ms, drops the connection.
          simModel('reset-after-work', 'sim-fault-reset-ttft-500')],
      },
    }));
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  const chat = (over = {}) => gw.post(URL_PATH, { ...CHAT, ...over });

  test('a whole reply is outcome "status" with the provider\'s 200', async () => {
    const res = await chat({ max_tokens: 3 });
    assert.equal(res.status, 200, res.text);
    const l = await lineOf(file, res);
    assert.equal(l.upstream_outcome, 'status');
    assert.equal(l.upstream_status, 200);
  });

  test('an error status is outcome "status" with the provider\'s status', async () => {
    const res = await chat({ model: 'fault-429' });
    assert.equal(res.status, 429, res.text);
    const l = await lineOf(file, res);
    assert.equal(l.upstream_outcome, 'status');
    assert.equal(l.upstream_status, 429);
  });

  test('a connection reset before any reply byte is "sent_no_reply", and the request went once', async () => {
    const warm = await chat({ max_tokens: 1 });
    assert.equal(warm.status, 200, warm.text);
    const before = (await sim.stats()).requests;
    const res = await chat({ model: 'fault-reset' });
    assert.equal(res.status, 502, res.text);
    const l = await lineOf(file, res);
    assert.equal(l.upstream_outcome, 'sent_no_reply');
    assert.equal(l.upstream_status, null);
    assert.equal((await sim.stats()).requests - before, 1,
      'the request reached the provider once: no client sent it again');
  });

  // Issue 12, item 10: a POST is never sent twice. A request fully written
  // on a reused connection that the provider drops after working on it
  // may have run: neither client may resend it on its own.
  test('a reused connection dropped after the provider worked on the request: 502, and the provider saw it once', async () => {
    const warm = await chat({ max_tokens: 1 });
    assert.equal(warm.status, 200, warm.text);
    const before = (await sim.stats()).requests;
    const res = await chat({ model: 'reset-after-work' });
    assert.equal(res.status, 502, res.text);
    const l = await lineOf(file, res);
    assert.equal(l.upstream_outcome, 'sent_no_reply');
    // Long enough for a resend to have reached the provider too.
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((await sim.stats()).requests - before, 1,
      'the provider got the request once: no client sent it again');
  });

  test('no byte before first_byte_ms is "first_byte_timeout"', async () => {
    const res = await chat({ model: 'fault-stall' });
    assert.equal(res.status, 504, res.text);
    const l = await lineOf(file, res);
    assert.equal(l.upstream_outcome, 'first_byte_timeout');
    assert.equal(l.upstream_status, null);
  });

  test('a stream reset after its first tokens is "broke_after_bytes" with its 200', async () => {
    const res = await chat({ model: 'fault-reset', stream: true });
    assert.equal(res.status, 200);
    const l = await lineOf(file, res);
    assert.equal(l.upstream_outcome, 'broke_after_bytes');
    assert.equal(l.upstream_status, 200);
  });

  test('a stream that stalls longer than idle_ms is "broke_after_bytes"', async () => {
    const res = await chat({ model: 'stall-mid', stream: true, max_tokens: 3 });
    assert.equal(res.status, 200);
    const l = await lineOf(file, res);
    assert.equal(l.upstream_outcome, 'broke_after_bytes');
    assert.equal(l.upstream_error, 'timeout');
  });

  test('an attempt the gateway stops because its client left is "cancelled"', async () => {
    const s = await streamRequest(gw.url + URL_PATH,
      { ...CHAT, model: 'fault-slow', stream: true, max_tokens: 30 });
    assert.equal(s.status, 200);
    await waitFor('two tokens', () => s.events.length >= 3, { tries: 60, every: 50 });
    s.destroy();
    const l = await lineOf(file, s);
    assert.equal(l.client_gone, true);
    assert.equal(l.upstream_outcome, 'cancelled');
    assert.equal(l.upstream_status, 200);
  });

  test('a reply larger than upstream.max_body_bytes is "broke_after_bytes"', async () => {
    const word = 'w'.repeat(60);
    const res = await chat({ messages: [{ role: 'user', content: `${word} ${word}` }], max_tokens: 4000 });
    assert.equal(res.status, 502, res.text.slice(0, 300));
    const l = await lineOf(file, res);
    assert.equal(l.upstream_outcome, 'broke_after_bytes');
    assert.equal(l.upstream_status, 200);
  });
});

describe('an upstream that is down', () => {
  let gw;
  let file;

  before(async () => {
    ({ gw, file } = await gatewayWithLog({}));   // the demo provider's port is closed
  });

  after(async () => {
    await gw?.stop();
  });

  test('no connection is "connect_failed"', async () => {
    const res = await gw.post(URL_PATH, CHAT);
    assert.equal(res.status, 502, res.text);
    const l = await lineOf(file, res);
    assert.equal(l.upstream_outcome, 'connect_failed');
    assert.equal(l.upstream_status, null);
  });
});

describe('an upstream that resets the connection before the body is in', () => {
  let server;
  let gw;
  let file;

  before(async () => {
    // Reads the request head, stops reading and resets the connection: a
    // body far larger than the socket buffers is then never written whole.
    server = net.createServer((sock) => {
      let head = Buffer.alloc(0);
      sock.on('error', () => {});
      sock.on('data', (d) => {
        head = Buffer.concat([head, d]);
        if (head.indexOf('\r\n\r\n') >= 0) {
          sock.pause();
          sock.removeAllListeners('data');
          setTimeout(() => sock.resetAndDestroy(), 200);
        }
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    ({ gw, file } = await gatewayWithLog({
      env: { FG_DEMO_BASE_URL: `http://127.0.0.1:${server.address().port}/v1` },
      config: { workers: 1, limits: { max_body_bytes: 64 * 1024 * 1024 } },
    }));
  });

  after(async () => {
    await gw?.stop();
    server?.close();
  });

  test('a request not fully written is "not_sent"', async () => {
    const big = 'x '.repeat(6 * 1024 * 1024);   // 12 MiB of prompt
    const res = await gw.post(URL_PATH, { ...CHAT, messages: [{ role: 'user', content: big }] });
    assert.equal(res.status, 502, res.text.slice(0, 300));
    const l = await lineOf(file, res);
    assert.equal(l.upstream_outcome, 'not_sent');
    assert.equal(l.upstream_status, null);
  });
});

describe('an upstream whose reply head is over the 64 KiB limit', () => {
  let server;
  let gw;
  let file;

  before(async () => {
    // Reads the request, then writes a 100 KiB head and a small body in
    // one write: the limit must hold however the head arrives.
    const body = JSON.stringify({
      id: 'chatcmpl-big-head', object: 'chat.completion', created: 1, model: 'raw',
      choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    });
    const filler = Array.from({ length: 20 }, (_, i) => `X-Filler-${i}: ${'f'.repeat(5000)}\r\n`).join('');
    server = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('error', () => {});
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const len = Number((buf.subarray(0, end).toString('latin1').match(/\r\ncontent-length: *(\d+)/i) || [])[1] || 0);
        if (buf.length < end + 4 + len) return;
        buf = Buffer.alloc(0);
        sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${filler}`
          + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    ({ gw, file } = await gatewayWithLog({
      env: { FG_DEMO_BASE_URL: `http://127.0.0.1:${server.address().port}/v1` },
      config: { workers: 1 },
    }));
  });

  after(async () => {
    await gw?.stop();
    server?.close();
  });

  test('a reply head over 64 KiB sent in one write is refused as malformed (502)', async () => {
    const res = await gw.post(URL_PATH, { ...CHAT, max_tokens: 3 });
    assert.equal(res.status, 502, res.text.slice(0, 300));
    assert.equal(res.json().error.code, 'INFERENCE_PROVIDER_ERROR');
    assert.match(res.json().error.message, /malformed/);
    const l = await lineOf(file, res);
    assert.equal(l.status, 502);
  });
});
