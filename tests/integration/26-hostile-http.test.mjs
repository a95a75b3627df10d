// Hostile clients on the public listener (issue 12, items 1, 2 and 14):
// a client that pipelines requests and never reads their replies, bodies
// announced and never finished, an unauthenticated client sending a body,
// and a head whose lines end with a bare CR. Memory is read from the
// worker's /proc/PID/status (VmRSS) and bounded generously; the figures
// before the fixes were hundreds of MiB.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { stopAll, CHAT, rawHttp, sleep, startGateway, startSim, tempDir } from '../lib/harness.mjs';

const MiB = 1 << 20;
const MAX_BODY = 1 * MiB;
const BUDGET = 8 * MiB;

let sim;
let gw;
let accessLog;

before(async () => {
  sim = await startSim();
  const dir = tempDir('fg-gw-');
  accessLog = path.join(dir, 'access.log');
  gw = await startGateway({
    sim,
    dir,
    // Under ASan, freed memory sits in its quarantine (256 MiB): kept
    // small, the worker's RSS measures what it holds, as without ASan.
    env: { ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'quarantine_size_mb=4']
      .filter((o) => o).join(':') },
    config: {
      workers: 1,
      access_log: { file: accessLog },
      limits: {
        // Long enough that a reply the test waits for is never the
        // timeout's doing.
        request_timeout_ms: 60000,
        max_body_bytes: MAX_BODY,
        body_buffer_budget_bytes: BUDGET,
      },
    },
  });
});

after(async () => {
  await stopAll(gw, sim);
});

function workerRssBytes() {
  const [pid] = gw.workerPids();
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+) kB/)[1]) * 1024;
}

function accessLogLines() {
  try {
    return fs.readFileSync(accessLog, 'utf8').split('\n').filter((l) => l).length;
  } catch {
    return 0;
  }
}

// The status and headers of the first response in `text` (or null).
function firstResponse(text) {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = text.slice(0, end).split('\r\n');
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0].split(' ')[1]), headers, body: text.slice(end + 4) };
}

// Opens a connection, sends `head` then `body`, and keeps it open; the
// returned handle collects what the gateway answers.
function holdOpen(head, body) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(gw.port, '127.0.0.1');
    const h = { sock, text: '', closed: false };
    sock.on('data', (c) => { h.text += c.toString('latin1'); });
    sock.on('close', () => { h.closed = true; });
    sock.on('error', () => { h.closed = true; });
    sock.on('connect', () => {
      sock.write(head);
      if (body) sock.write(body);
      resolve(h);
    });
    setTimeout(() => reject(new Error('connect timed out')), 5000);
  });
}

async function waitUntil(fn, ms) {
  const t0 = Date.now();
  while (!fn() && Date.now() - t0 < ms) await sleep(20);
  return fn();
}

describe('a client that pipelines requests and never reads', () => {
  test('is read no more: the worker stays flat and the access log stops growing', async (t) => {
    const rssBefore = workerRssBytes();
    const one = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    const block = Buffer.from(one.repeat(Math.floor(65536 / one.length)));
    const sock = net.connect(gw.port, '127.0.0.1');
    await new Promise((resolve, reject) => { sock.on('connect', resolve); sock.on('error', reject); });
    sock.pause();   // never read a reply
    sock.on('error', () => {});
    // Up to 100 MiB of requests, sent as fast as the gateway takes them,
    // for 40 s at most; the gateway stops taking them once its output
    // backs up, which ends this early.
    let sent = 0;
    const t0 = Date.now();
    let stalled = false;
    while (sent < 100 * MiB && Date.now() - t0 < 40000) {
      if (sock.write(block)) {
        sent += block.length;
        continue;
      }
      sent += block.length;
      const drained = await Promise.race([
        new Promise((resolve) => sock.once('drain', () => resolve(true))),
        sleep(2000).then(() => false),
      ]);
      if (!drained) { stalled = true; break; }
    }
    const rssAfter = workerRssBytes();
    const lines = accessLogLines();
    await sleep(1000);
    const linesLater = accessLogLines();
    sock.destroy();
    t.diagnostic(`took ${sent} bytes of requests, worker grew ${rssAfter - rssBefore} bytes, `
      + `${lines} access-log lines, ${linesLater} a second later`);
    assert.ok(stalled, `the gateway took all ${sent} bytes of requests`);
    assert.ok(sent < 32 * MiB, `the gateway took ${sent} bytes of requests`);
    assert.ok(rssAfter - rssBefore < 32 * MiB,
      `worker memory grew by ${rssAfter - rssBefore} bytes`);
    assert.ok(lines < 200000, `${lines} access-log lines`);
    assert.equal(linesLater, lines, 'the access log grew while the client read nothing');
  });
});

describe('request bodies', () => {
  test('an unauthenticated POST gets 401 from its head, with no 100 Continue, and the connection closed', async () => {
    const h = await holdOpen('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
      + `Content-Type: application/json\r\nContent-Length: ${MAX_BODY}\r\n`
      + 'Expect: 100-continue\r\n\r\n');
    await waitUntil(() => h.closed, 10000);
    h.sock.destroy();
    const res = firstResponse(h.text);
    assert.equal(res?.status, 401, h.text.slice(0, 300));
    assert.equal(JSON.parse(res.body).error.code, 'invalid_api_key');
    assert.equal(res.headers.connection, 'close');
    assert.ok(!h.text.includes('100 Continue'));
    assert.ok(h.closed);
  });

  test('a body to an unknown path gets 404 before it is sent', async () => {
    const h = await holdOpen(`POST /v1/nowhere HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.key}\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${MAX_BODY}\r\n\r\n`, '{"a":');
    await waitUntil(() => h.text.includes('\r\n\r\n'), 10000);
    h.sock.destroy();
    const res = firstResponse(h.text);
    assert.equal(res?.status, 404, h.text.slice(0, 300));
    assert.equal(res.headers.connection, 'close');
  });

  test('a body to a known path with the wrong method gets 405 before it is sent', async () => {
    const h = await holdOpen(`PUT /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.key}\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${MAX_BODY}\r\n\r\n`, '{"a":');
    await waitUntil(() => h.text.includes('\r\n\r\n'), 10000);
    h.sock.destroy();
    const res = firstResponse(h.text);
    assert.equal(res?.status, 405, h.text.slice(0, 300));
    assert.equal(res.headers.allow, 'POST');
    assert.equal(res.headers.connection, 'close');
  });

  test('bodies past limits.body_buffer_budget_bytes get 503 body_buffer_full and the worker stays under the budget', async (t) => {
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.key}\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${MAX_BODY}\r\n\r\n`;
    const allButOne = Buffer.alloc(MAX_BODY - 1, 0x20);
    const rssBefore = workerRssBytes();
    const conns = [];
    // 48 bodies of 1 MiB, all but their last byte: 48 MiB held before.
    for (let i = 0; i < 48; i++) conns.push(await holdOpen(head, allButOne));
    const answered = () => conns.filter((h) => h.text.includes('\r\n\r\n')).length;
    await waitUntil(() => answered() >= 48 - BUDGET / MAX_BODY, 20000);
    await sleep(500);   // the held bodies are all in by now
    const rssAfter = workerRssBytes();
    const refused = conns.map((h) => firstResponse(h.text)).filter((r) => r);
    for (const h of conns) h.sock.destroy();
    t.diagnostic(`${refused.length} of 48 refused, worker grew ${rssAfter - rssBefore} bytes`);
    assert.ok(refused.length >= 48 - BUDGET / MAX_BODY, `${refused.length} refused`);
    for (const r of refused) {
      assert.equal(r.status, 503);
      assert.equal(JSON.parse(r.body).error.code, 'body_buffer_full');
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(r.headers['retry-after-ms'], '1000');
    }
    assert.ok(rssAfter - rssBefore < BUDGET + 16 * MiB,
      `worker memory grew by ${rssAfter - rssBefore} bytes`);
    // The room comes back: a whole request is served again.
    let r;
    for (let i = 0; i < 50; i++) {
      r = await gw.post('/v1/chat/completions', { ...CHAT, max_tokens: 2 });
      if (r.status === 200) break;
      await sleep(100);
    }
    assert.equal(r.status, 200, r.text);
  });
});

describe('a bare CR', () => {
  test('a request line ended by a bare CR gets 400 at once', async () => {
    const r = await rawHttp(gw.port, 'GET /healthz HTTP/1.1\rHost: x\r\r', { timeoutMs: 10000 });
    const res = firstResponse(r.text);
    assert.equal(res?.status, 400, r.text.slice(0, 300));
    assert.equal(JSON.parse(res.body).error.code, 'malformed_http');
    assert.equal(r.closed, true);
  });
});
