// HTTP/1.x as the gateway speaks it on the socket (common/wire/httpserver.c,
// common/wire/httpparse.c): framing, keep-alive by version, Expect, HEAD,
// pipelining behind a request that waits for its upstream, and the
// protocol errors, each answered in OpenAI's error format before the
// connection is closed.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { stopAll, CHAT, rawHttp, sleep, startGateway, startSim } from '../lib/harness.mjs';

let sim;
let gw;
const MAX_BODY = 65536;

before(async () => {
  sim = await startSim();
  gw = await startGateway({ sim, config: { limits: { max_header_bytes: 4096, max_body_bytes: MAX_BODY } } });
});

after(async () => {
  await stopAll(gw, sim);
});

const auth = () => `Authorization: Bearer ${gw.key}\r\n`;
const BODY = JSON.stringify(CHAT);

// Splits a raw response stream into responses: [{ status, headers, body }]
// (bodies framed by Content-Length; a chunked or close-delimited body is
// whatever follows the head).
function responses(text) {
  const out = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.slice(0, end).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    rest = rest.slice(end + 4);
    const len = headers['content-length'] !== undefined && status !== 100
      ? Number(headers['content-length']) : (status === 100 ? 0 : rest.length);
    out.push({ status, headers, body: rest.slice(0, len) });
    rest = rest.slice(len);
  }
  return out;
}

// The OpenAI error object of a raw response, checked for its shape.
function openAIError(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res));
  assert.match(res.headers['content-type'], /^application\/json/);
  const body = JSON.parse(res.body);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(body.error.code, code);
  return body.error;
}

// A conversation on one socket: sends each part in turn, waiting for
// `until` (a string the output must contain) or `pause` ms before the next;
// resolves with everything read and whether the gateway closed.
function converse(parts, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(gw.port, '127.0.0.1');
    let text = '';
    let closed = false;
    const timer = setTimeout(() => { sock.destroy(); resolve({ text, closed }); }, timeoutMs);
    sock.on('data', (c) => { text += c.toString('latin1'); });
    sock.on('close', () => { closed = true; clearTimeout(timer); resolve({ text, closed }); });
    sock.on('error', reject);
    sock.on('connect', async () => {
      for (const part of parts) {
        if (part.until) {
          const t0 = Date.now();
          while (!text.includes(part.until) && Date.now() - t0 < timeoutMs) await sleep(5);
        }
        if (part.pause) await sleep(part.pause);
        if (part.send !== undefined && !sock.destroyed) sock.write(part.send);
      }
    });
  });
}

describe('framing and keep-alive', () => {
  test('a body that arrives after its head is read whole and served', async () => {
    const r = await converse([
      { send: `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
        + `Content-Type: application/json\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n` },
      { pause: 150, send: BODY.slice(0, 10) },
      { pause: 150, send: BODY.slice(10) },
    ]);
    const [res] = responses(r.text);
    assert.equal(res.status, 200, r.text.slice(0, 300));
    assert.equal(JSON.parse(res.body).object, 'chat.completion');
  });

  test('Expect: 100-continue gets 100 Continue before the body is sent, then the reply', async () => {
    const r = await converse([
      { send: `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
        + `Content-Type: application/json\r\nContent-Length: ${BODY.length}\r\n`
        + 'Expect: 100-continue\r\nConnection: close\r\n\r\n' },
      { until: '100 Continue\r\n\r\n', send: BODY },
    ]);
    const [cont, res] = responses(r.text);
    assert.equal(cont.status, 100, r.text.slice(0, 200));
    assert.equal(res.status, 200, r.text.slice(0, 300));
  });

  test('a chunked body with an extension and a trailer is decoded', async () => {
    const half = Math.floor(BODY.length / 2);
    const r = await rawHttp(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
      + 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
      + `${half.toString(16)};note=first\r\n${BODY.slice(0, half)}\r\n`
      + `${(BODY.length - half).toString(16)}\r\n${BODY.slice(half)}\r\n`
      + '0\r\nX-Checksum: none\r\n\r\n');
    const [res] = responses(r.text);
    assert.equal(res.status, 200, r.text.slice(0, 300));
  });

  test('a body near limits.max_body_bytes in one-byte chunks is decoded, however long its framing', async () => {
    // Six bytes of framing for each byte of data: five times the body
    // limit on the wire, which must not count against it.
    const body = JSON.stringify({ ...CHAT, max_tokens: 2,
      messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY - 200) }] });
    const chunks = Array.from(body, (ch) => `1\r\n${ch}\r\n`).join('');
    const r = await rawHttp(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
      + 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
      + `${chunks}0\r\n\r\n`, { timeoutMs: 8000 });
    const [res] = responses(r.text);
    assert.equal(res?.status, 200, r.text.slice(0, 300));
  });

  test('a chunked body over limits.max_body_bytes is refused with 413 as it is decoded', async () => {
    const big = 'x'.repeat(MAX_BODY + 1);
    const r = await rawHttp(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
      + 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'
      + `${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`, { timeoutMs: 4000 });
    const [res] = responses(r.text);
    openAIError(res, 413, 'VALIDATION_BODY_TOO_LARGE');
    assert.equal(r.closed, true);
  });

  test('HTTP/1.1 keeps the connection open after a reply', async () => {
    // Still open 1.5 s on: long after the reply, long before the keep-alive timeout.
    const r = await rawHttp(gw.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 1500 });
    const [res] = responses(r.text);
    assert.equal(res.status, 200);
    assert.equal(res.headers.connection, undefined);
    assert.equal(r.closed, false);
  });

  test('HTTP/1.0 without keep-alive gets Connection: close and the connection is closed', async () => {
    const r = await rawHttp(gw.port, 'GET /healthz HTTP/1.0\r\n\r\n', { timeoutMs: 2000 });
    const [res] = responses(r.text);
    assert.equal(res.status, 200);
    assert.equal(res.headers.connection, 'close');
    assert.equal(r.closed, true);
  });

  test('HTTP/1.0 with Connection: keep-alive is answered with keep-alive and kept open', async () => {
    const r = await rawHttp(gw.port, 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
      { timeoutMs: 1500 });
    const [res] = responses(r.text);
    assert.equal(res.status, 200);
    assert.equal(res.headers.connection, 'keep-alive');
    assert.equal(r.closed, false);
  });

  test('a stream to an HTTP/1.0 client is not chunked and ends with the connection', async () => {
    const body = JSON.stringify({ ...CHAT, stream: true, max_tokens: 5 });
    const r = await rawHttp(gw.port, `POST /v1/chat/completions HTTP/1.0\r\n${auth()}`
      + `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const [res] = responses(r.text);
    assert.equal(res.status, 200);
    assert.equal(res.headers['transfer-encoding'], undefined);
    assert.match(res.body, /^data: \{/);
    assert.match(res.body, /data: \[DONE\]\n\n$/);
    assert.equal(r.closed, true);
  });

  test('a stream to an HTTP/1.1 client is chunked and ends with the last chunk', async () => {
    const body = JSON.stringify({ ...CHAT, stream: true, max_tokens: 5 });
    const r = await rawHttp(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
      + `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    const [res] = responses(r.text);
    assert.equal(res.status, 200);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.match(res.body, /data: \[DONE\]\n\n\r\n0\r\n\r\n$/);
  });

  test('HEAD gets the head of the reply GET would get, and no body', async () => {
    const r = await rawHttp(gw.port, 'HEAD /v1/models HTTP/1.1\r\nHost: x\r\n'
      + `${auth()}Connection: close\r\n\r\n`);
    const end = r.text.indexOf('\r\n\r\n');
    assert.ok(end > 0, r.text);
    assert.match(r.text, /^HTTP\/1\.1 200 /);
    const get = await gw.get('/v1/models');
    assert.match(r.text, new RegExp(`\\r\\nContent-Length: ${Buffer.byteLength(get.text)}\\r\\n`));
    assert.equal(r.text.length, end + 4, 'a body followed the head');
  });

  test('HEAD on a path that only takes POST is 405, with no body', async () => {
    const r = await rawHttp(gw.port, 'HEAD /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
      + `${auth()}Connection: close\r\n\r\n`);
    const end = r.text.indexOf('\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 405 /);
    assert.match(r.text, /\r\nAllow: POST\r\n/);
    assert.equal(r.text.length, end + 4, 'a body followed the head');
  });

  test('empty lines before a request are ignored', async () => {
    const r = await rawHttp(gw.port, '\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(responses(r.text)[0].status, 200, r.text);
  });

  test('a request pipelined behind one that waits for its upstream is answered after it', async () => {
    const r = await rawHttp(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
      + `Content-Type: application/json\r\nContent-Length: ${BODY.length}\r\nX-Request-Id: chat-1\r\n\r\n${BODY}`
      + 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: health-2\r\nConnection: close\r\n\r\n');
    const [first, second] = responses(r.text);
    assert.equal(first.headers['x-client-request-id'], 'chat-1');
    assert.equal(first.status, 200);
    assert.equal(JSON.parse(first.body).object, 'chat.completion');
    assert.equal(second.headers['x-client-request-id'], 'health-2');
    assert.equal(second.status, 200);
    assert.equal(r.closed, true);
  });
});

describe('protocol errors', () => {
  const refused = async (bytes, status, code) => {
    const r = await rawHttp(gw.port, bytes, { timeoutMs: 4000 });
    const [res] = responses(r.text);
    assert.ok(res, `no reply to ${JSON.stringify(bytes.slice(0, 80))}`);
    const error = openAIError(res, status, code);
    assert.match(res.headers['x-request-id'], /^req_[0-9a-f]{24}$/);
    assert.equal(res.headers.connection, 'close');
    assert.equal(r.closed, true, 'the connection stayed open');
    return error;
  };

  test('Content-Length beside Transfer-Encoding is refused with 400 malformed_http', async () => {
    await refused(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth()}`
      + 'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'malformed_http');
  });

  test('two different Content-Length values are refused with 400 malformed_http', async () => {
    await refused('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
      + 'Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}', 400, 'malformed_http');
  });

  test('a header line without a colon is refused with 400 malformed_http', async () => {
    await refused('GET /healthz HTTP/1.1\r\nHost: x\r\nNo-Colon-Here\r\n\r\n', 400, 'malformed_http');
  });

  test('a transfer coding other than chunked is refused with 501 not_implemented', async () => {
    await refused('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
      + 'Transfer-Encoding: gzip\r\n\r\n', 501, 'not_implemented');
  });

  test('HTTP/2.0 in the request line is refused with 505', async () => {
    await refused('GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n', 505, 'http_version_not_supported');
  });

  test('a head over limits.max_header_bytes is refused with 431 headers_too_large', async () => {
    await refused(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`,
      431, 'headers_too_large');
  });

  test('a method the gateway has no use for gets 501 not_implemented', async () => {
    const r = await rawHttp(gw.port, 'TRACE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    openAIError(responses(r.text)[0], 501, 'not_implemented');
  });

  test('after a protocol error the gateway serves the next connection', async () => {
    await rawHttp(gw.port, '\x00\x01\x02\r\n\r\n', { timeoutMs: 2000 });
    const res = await gw.post('/v1/chat/completions', CHAT);
    assert.equal(res.status, 200, res.text);
  });
});
