// The three listeners on one HTTP server (common/wire/httpserver.c;
// docs/operations.md "Listeners and their limits"): the public API, the
// metrics listener and the admin API answer what they cannot serve
// (malformed, too large, unknown path or method) with OpenAI-format JSON
// errors, never HTML, and each enforces its own limits: a head or a body
// the public listener takes is refused by the metrics or admin listener.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { freePort, rawHttp, request, startGateway, waitFor } from '../lib/harness.mjs';

let gw;
let metricsPort;

// The public listener's head limit is raised above the others' 16 KiB.
const PUBLIC_MAX_HEADER = 65536;

before(async () => {
  gw = await startGateway({ key: false, config: { limits: { max_header_bytes: PUBLIC_MAX_HEADER } } });
  metricsPort = Number(new URL(gw.metricsUrl).port);
});

after(async () => {
  await gw?.stop();
});

// rawHttp's twin for the admin API's unix socket.
function rawUnix(socketPath, bytes, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    const sock = net.connect(socketPath);
    let done = false;
    const finish = (closed, error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed, error });
    };
    const timer = setTimeout(() => finish(false, null), timeoutMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => finish(true, null));
    sock.on('close', () => finish(true, null));
    sock.on('error', (e) => finish(true, e));
    sock.on('connect', () => sock.write(Buffer.from(bytes)));
  });
}

// The one response in a raw reply: { status, headers, body }.
function parseRaw(text) {
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no response head in ${JSON.stringify(text.slice(0, 200))}`);
  const lines = text.slice(0, end).split('\r\n');
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0].split(' ')[1]), headers, body: text.slice(end + 4) };
}

// A JSON error of @status with OpenAI's shape and @code.
function assertJsonError(r, status, code) {
  assert.equal(r.status, status, r.body ?? r.text);
  assert.match(r.headers['content-type'], /^application\/json/);
  const body = JSON.parse(r.body ?? r.text);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.error.code, code);
  assert.ok('type' in body.error && 'param' in body.error);
}

const bigHeader = (bytes) => `X-Big: ${'a'.repeat(bytes)}\r\n`;
const adminAuth = () => `Authorization: Bearer ${gw.adminToken()}\r\n`;

describe('the metrics listener', () => {
  test('an unknown path is a JSON 404', async () => {
    const r = await request('GET', `http://127.0.0.1:${metricsPort}/nope`);
    assertJsonError(r, 404, 'not_found');
  });

  test('a method other than GET or HEAD on /metrics is a JSON 405 with Allow', async () => {
    const r = await request('POST', gw.metricsUrl, '');
    assertJsonError(r, 405, 'method_not_allowed');
    assert.equal(r.headers.allow, 'GET, HEAD');
  });

  test('a malformed request is a JSON 400 and the connection closes', async () => {
    const r = await rawHttp(metricsPort, 'GET /metrics HTTP/1.1\r\nBad Header : x\r\n\r\n');
    assert.ok(r.closed);
    assertJsonError(parseRaw(r.text), 400, 'malformed_http');
  });

  test('a head over its 16 KiB is a JSON 431, where the public listener takes it', async () => {
    const head = bigHeader(20000);
    const pub = parseRaw((await rawHttp(gw.port, `GET /healthz HTTP/1.1\r\n${head}Connection: close\r\n\r\n`)).text);
    assert.equal(pub.status, 200, pub.body);
    const r = await rawHttp(metricsPort, `GET /metrics HTTP/1.1\r\n${head}\r\n`);
    assertJsonError(parseRaw(r.text), 431, 'headers_too_large');
  });

  test('a body over its 4 KiB is a JSON 413, where the public listener reads it', async () => {
    const body = 'x'.repeat(5000);
    const pub = parseRaw((await rawHttp(gw.port,
      `POST /healthz HTTP/1.1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)).text);
    assertJsonError(pub, 405, 'method_not_allowed');
    const r = await rawHttp(metricsPort, `POST /metrics HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assertJsonError(parseRaw(r.text), 413, 'VALIDATION_BODY_TOO_LARGE');
  });

  test('pipelined scrapes on one connection are all answered, in order', async () => {
    const r = await rawHttp(metricsPort, 'GET /metrics HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\nConnection: close\r\n\r\n');
    const first = r.text.indexOf('HTTP/1.1 200 OK');
    const second = r.text.indexOf('HTTP/1.1 404 Not Found');
    assert.ok(first === 0 && second > first, r.text.slice(0, 200));
  });
});

describe('the admin API', () => {
  test('an unknown path is a JSON 404', async () => {
    const r = await gw.admin('GET', '/admin/v1/nope');
    assertJsonError(r, 404, 'not_found');
  });

  test('a method it does not implement is a JSON 501', async () => {
    const r = await gw.admin('DELETE', '/admin/v1/keys');
    assertJsonError(r, 501, 'not_implemented');
  });

  test('a malformed request is a JSON 400 and the connection closes', async () => {
    const r = await rawUnix(gw.adminSocket, `GET /admin/v1/status HTTP/1.1\r\n${adminAuth()}Bad Header : x\r\n\r\n`);
    assert.ok(r.closed);
    assertJsonError(parseRaw(r.text), 400, 'malformed_http');
  });

  test('a head over its 16 KiB is a JSON 431', async () => {
    const r = await rawUnix(gw.adminSocket, `GET /admin/v1/status HTTP/1.1\r\n${adminAuth()}${bigHeader(20000)}\r\n`);
    assertJsonError(parseRaw(r.text), 431, 'headers_too_large');
  });

  test('a body over its 64 KiB is a JSON 413 and creates no key', async () => {
    const before = (await gw.admin('GET', '/admin/v1/keys')).json().data.length;
    const body = JSON.stringify({ name: 'big', owner: 'x'.repeat(70000) });
    const r = await rawUnix(gw.adminSocket, `POST /admin/v1/keys HTTP/1.1\r\n${adminAuth()}`
      + `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assertJsonError(parseRaw(r.text), 413, 'VALIDATION_BODY_TOO_LARGE');
    assert.equal((await gw.admin('GET', '/admin/v1/keys')).json().data.length, before);
  });

  test('a malformed query string is a JSON 400', async () => {
    const r = await gw.admin('GET', '/admin/v1/keys?owner=%zz');
    assertJsonError(r, 400, 'VALIDATION_INVALID_VALUE');
  });

  test('query parameters are percent-decoded', async () => {
    const k = await gw.admin('POST', '/admin/v1/keys', { name: 'q', owner: 'team a/b' });
    assert.equal(k.status, 201, k.text);
    const r = await gw.admin('GET', '/admin/v1/keys?owner=team%20a%2Fb');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json().data.map((x) => x.owner), ['team a/b']);
  });
});

describe('the admin API on TCP (admin.listen "host:port")', () => {
  let tcp;
  let port;

  before(async () => {
    port = await freePort();
    tcp = await startGateway({ key: false, config: { admin: { listen: `127.0.0.1:${port}` } } });
  });

  after(async () => {
    await tcp?.stop();
  });

  test('serves the same routes and JSON errors as on the unix socket', async () => {
    const auth = { authorization: `Bearer ${tcp.adminToken()}` };
    await waitFor('the admin API on TCP', async () => {
      try {
        return (await request('GET', `http://127.0.0.1:${port}/admin/v1/status`, undefined, auth)).status === 200;
      } catch {
        return false;
      }
    }, { tries: 200, every: 50 });
    const status = await request('GET', `http://127.0.0.1:${port}/admin/v1/status`, undefined, auth);
    assert.equal(status.json().object, 'status');
    assertJsonError(await request('GET', `http://127.0.0.1:${port}/admin/v1/nope`, undefined, auth), 404, 'not_found');
    assertJsonError(await request('GET', `http://127.0.0.1:${port}/admin/v1/status`), 401, 'invalid_admin_token');
  });
});
