// Hostile HTTP against the configured limits (worker/http.c, worker/conn.c):
// oversized headers, slow clients, connection floods, invalid methods and
// malformed requests. Whatever arrives, the gateway answers or closes, and
// no worker dies.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { stopAll, CHAT, rawHttp, request, startGateway, startSim, waitFor } from '../lib/harness.mjs';

let sim;
let gw;
let workers;

before(async () => {
  sim = await startSim();
  gw = await startGateway({
    sim,
    config: { limits: { max_header_bytes: 4096, request_timeout_ms: 1000 } },
  });
  workers = gw.workerPids().sort();
});

after(async () => {
  await stopAll(gw, sim);
});

// No worker died or was replaced, and the gateway still answers.
async function assertHealthy(g = gw, pids = workers) {
  assert.doesNotMatch(g.log(), /killed by signal|exited with code [1-9]/);
  assert.deepEqual(g.workerPids().sort(), pids);
  const res = await g.post('/v1/chat/completions', CHAT);
  assert.equal(res.status, 200, res.text);
}

// The harness key as a raw header line.
const auth = () => `Authorization: Bearer ${gw.key}\r\n`;
const statusOf = (text) => Number((text.match(/^HTTP\/1\.[01] (\d{3})/) || [])[1] || 0);

describe('oversized and malformed requests', () => {
  test('headers larger than limits.max_header_bytes get a 4xx or a closed connection', async () => {
    const r = await rawHttp(gw.port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    assert.ok(r.closed, 'the connection should be closed');
    const status = statusOf(r.text);
    assert.ok(status === 0 || (status >= 400 && status < 500), r.text.slice(0, 200));
    await assertHealthy();
  });

  test('many headers adding up past limits.max_header_bytes get a 4xx or a closed connection', async () => {
    const headers = Array.from({ length: 200 }, (_, i) => `X-H${i}: ${'v'.repeat(30)}\r\n`).join('');
    const r = await rawHttp(gw.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${headers}\r\n`);
    assert.ok(r.closed);
    const status = statusOf(r.text);
    assert.ok(status === 0 || (status >= 400 && status < 500), r.text.slice(0, 200));
    await assertHealthy();
  });

  test('a request line longer than limits.max_header_bytes gets a 4xx or a closed connection', async () => {
    const r = await rawHttp(gw.port, `GET /${'p'.repeat(8000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.ok(r.closed);
    const status = statusOf(r.text);
    assert.ok(status === 0 || (status >= 400 && status < 500), r.text.slice(0, 200));
    await assertHealthy();
  });

  test('headers just under limits.max_header_bytes are accepted', async () => {
    const res = await gw.get('/healthz', { 'x-pad': 'a'.repeat(3000) });
    assert.equal(res.status, 200);
  });

  for (const method of ['TRACE', 'CONNECT', 'FOO']) {
    test(`the invalid method ${method} gets a 4xx or 5xx and no crash`, async () => {
      const r = await rawHttp(gw.port, `${method} /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n`,
        { timeoutMs: 3000 });
      const status = statusOf(r.text);
      assert.ok(status >= 400 && status < 600, JSON.stringify(r.text.slice(0, 200)));
      await assertHealthy();
    });
  }

  test('a malformed request line gets a 400 or a closed connection, and no crash', async () => {
    for (const bytes of ['GET\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', '\x00\x01\x02\xff\r\n\r\n',
      'GET / HTTP/1.1\r\nNo-Colon-Here\r\n\r\n']) {
      const r = await rawHttp(gw.port, bytes, { timeoutMs: 3000 });
      const status = statusOf(r.text);
      assert.ok(status === 0 ? r.closed : status >= 400, `${JSON.stringify(bytes)}: ${r.text.slice(0, 100)}`);
    }
    await assertHealthy();
  });

  test('a non-numeric or negative Content-Length gets a 4xx or a closed connection, and no crash', async () => {
    for (const cl of ['abc', '-5', '99999999999999999999999']) {
      const r = await rawHttp(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
        + `Content-Type: application/json\r\nContent-Length: ${cl}\r\n\r\n{}`, { timeoutMs: 3000 });
      const status = statusOf(r.text);
      assert.ok(status === 0 ? r.closed : status >= 400 && status < 500, `${cl}: ${r.text.slice(0, 100)}`);
    }
    await assertHealthy();
  });

  test('a chunked request body is accepted', async () => {
    const body = JSON.stringify(CHAT);
    const half = Math.floor(body.length / 2);
    const chunk = (s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    const r = await rawHttp(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
      + 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
      + `${chunk(body.slice(0, half))}${chunk(body.slice(half))}0\r\n\r\n`, { timeoutMs: 3000 });
    assert.equal(statusOf(r.text), 200, r.text.slice(0, 300));
  });

  test('two pipelined requests on one connection are both answered, in order', async () => {
    const r = await rawHttp(gw.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: first-1\r\n\r\n'
      + 'GET /readyz HTTP/1.1\r\nHost: x\r\nX-Request-Id: second-2\r\nConnection: close\r\n\r\n',
    { timeoutMs: 3000 });
    const first = r.text.indexOf('x-client-request-id: first-1');
    const second = r.text.indexOf('x-client-request-id: second-2');
    assert.ok(first >= 0 && second > first, r.text);
  });
});

describe('slow clients and limits.request_timeout_ms', () => {
  test('a slowloris client dribbling a header byte every 200 ms is cut off by request_timeout_ms', async () => {
    const dribbling = rawHttp(gw.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'s'.repeat(60)}\r\n\r\n`,
      { dribble: 200, timeoutMs: 6000 });
    // Normal requests are served meanwhile.
    for (let i = 0; i < 3; i++) {
      const res = await gw.post('/v1/chat/completions', CHAT);
      assert.equal(res.status, 200);
    }
    const r = await dribbling;
    assert.ok(r.closed, 'the slow client was never cut off');
    assert.equal(statusOf(r.text), 0, `it was served: ${r.text.slice(0, 100)}`);
    assert.ok(r.ms >= 800 && r.ms < 3000, `cut off after ${r.ms} ms; request_timeout_ms is 1000`);
    await assertHealthy();
  });

  test('a client that sends headers and part of the body is cut off by request_timeout_ms', async () => {
    const r = await rawHttp(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
      + 'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"model":', { timeoutMs: 6000 });
    assert.ok(r.closed, 'the client was never cut off');
    assert.ok(r.ms >= 800 && r.ms < 3000, `cut off after ${r.ms} ms`);
    assert.equal((await sim.stats()).in_flight, 0);
  });

  test('a connection that never sends a byte is closed by request_timeout_ms', async () => {
    const r = await rawHttp(gw.port, '', { timeoutMs: 6000 });
    assert.ok(r.closed, 'the idle connection was never closed');
    assert.ok(r.ms >= 800 && r.ms < 3000, `closed after ${r.ms} ms`);
  });

  test('a kept-alive connection is not cut off by request_timeout_ms while it is idle between requests', async () => {
    // keepalive_timeout_ms (60 s here) governs idle time, not the receive deadline.
    const r = await rawHttp(gw.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 1600 });
    assert.equal(statusOf(r.text), 200);
    assert.equal(r.closed, false, `closed after ${r.ms} ms while idle`);
  });
});

describe('limits.max_connections', () => {
  let cgw;
  let cworkers;

  before(async () => {
    cgw = await startGateway({ sim, config: { workers: 1, limits: { max_connections: 8 } } });
    cworkers = cgw.workerPids().sort();
  });

  after(async () => {
    await cgw?.stop();
  });

  function openIdle(n) {
    return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
      const s = net.connect(cgw.port, '127.0.0.1');
      s.on('connect', () => resolve(s));
      s.on('error', reject);
    })));
  }

  test('20 idle sockets against max_connections 8: the gateway serves again once they close', async () => {
    const socks = await openIdle(20);
    try {
      await waitFor('accept to pause at the cap', () => /accept paused/.test(cgw.log()));
    } finally {
      for (const s of socks) s.destroy();
    }
    await waitFor('the gateway to serve again', async () => {
      const res = await request('GET', `${cgw.url}/healthz`, undefined, {}, { timeoutMs: 1000 });
      return res.status === 200;
    }, { tries: 40, every: 50 });
    await assertHealthy(cgw, cworkers);
  });

  test('at max_connections a new request waits, and is served once a connection closes', async () => {
    const socks = await openIdle(8);
    let waiting;
    try {
      await waitFor('the cap', () => (cgw.log().match(/accept paused/g) || []).length >= 2);
      waiting = request('GET', `${cgw.url}/healthz`, undefined, {}, { timeoutMs: 5000 });
      const early = await Promise.race([waiting.then(() => 'served'),
        new Promise((r) => setTimeout(() => r('waiting'), 300))]);
      assert.equal(early, 'waiting', 'a ninth connection was served above the cap');
      socks.shift().destroy();
      const res = await waiting;
      assert.equal(res.status, 200);
    } finally {
      for (const s of socks) s.destroy();
    }
    await assertHealthy(cgw, cworkers);
  });
});
