// fluxgate's own HTTP/1.1 client to plain-http upstreams (worker/
// upstream_h1.c), against a hand-written upstream that does what fg-sim
// never does: close kept-alive connections behind the gateway's back,
// answer 100 Continue first, split chunk framing across writes, end a
// body with the connection, break the framing rules.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { CHAT, request, shippedProviders, sleep, sseData, startGateway, waitFor } from '../lib/harness.mjs';

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-h1', object: 'chat.completion', created: 1, model: 'raw',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi there' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
});

const chunkEvent = (content, extra = {}) => `data: ${JSON.stringify({
  id: 'chatcmpl-h1', object: 'chat.completion.chunk', created: 1, model: 'raw',
  choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra,
})}\n\n`;

// The hand-written upstream. `mode` says how the next replies are sent;
// it counts connections, requests and the most connections open at once.
const up = {
  mode: 'keepalive', slowerMs: 1300, held: null, release: () => {}, connections: 0, open: 0, maxOpen: 0, requests: 0, heads: [], server: null, port: 0,
};

const hexChunk = (s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;

async function reply(sock, head) {
  const stream = /"stream":\s*true/.test(head.body);
  switch (up.mode) {
    case 'keepalive':
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${COMPLETION.length}\r\n\r\n${COMPLETION}`);
      return;
    case 'close-after':
      // A whole reply, no "Connection: close", then the connection is gone.
      sock.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${COMPLETION.length}\r\n\r\n${COMPLETION}`);
      return;
    case 'continue-chunked': {
      sock.write('HTTP/1.1 100 Continue\r\n\r\n');
      await sleep(10);
      const body = stream
        ? chunkEvent('hi') + chunkEvent(' there') + chunkEvent('', { choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }) + 'data: [DONE]\n\n'
        : COMPLETION;
      const type = stream ? 'text/event-stream' : 'application/json';
      const wire = `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\n\r\n`
        + hexChunk(body.slice(0, 7)) + hexChunk(body.slice(7, 60)) + hexChunk(body.slice(60)) + '0\r\n\r\n';
      // Cut at awkward places: inside a size line, between CR and LF.
      const cuts = [5, wire.indexOf('\r\n\r\n') + 5, wire.length - 9, wire.length - 1];
      let at = 0;
      for (const cut of cuts) {
        sock.write(wire.slice(at, cut));
        at = cut;
        await sleep(5);
      }
      sock.write(wire.slice(at));
      return;
    }
    case 'to-the-close':
      sock.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n${COMPLETION}`);
      return;
    case 'two-framings':
      sock.end(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
      return;
    case 'gzip':
      sock.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx');
      return;
    case 'slow':
      await sleep(150);
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${COMPLETION.length}\r\n\r\n${COMPLETION}`);
      return;
    case 'held':
      // Until the test calls up.release().
      await up.held;
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${COMPLETION.length}\r\n\r\n${COMPLETION}`);
      return;
    case 'slower':
      await sleep(up.slowerMs);
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${COMPLETION.length}\r\n\r\n${COMPLETION}`);
      return;
    case 'cut-mid-body':
      sock.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${COMPLETION.length}\r\n\r\n${COMPLETION.slice(0, 20)}`);
      return;
    default:
      throw new Error(`unknown mode ${up.mode}`);
  }
}

function startUpstream() {
  return new Promise((resolve) => {
    up.server = net.createServer((sock) => {
      up.connections++;
      up.open++;
      up.maxOpen = Math.max(up.maxOpen, up.open);
      sock.on('close', () => { up.open--; });
      sock.on('error', () => {});
      let buf = Buffer.alloc(0);
      sock.on('data', async (data) => {
        buf = Buffer.concat([buf, data]);
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const headText = buf.subarray(0, end).toString('latin1');
          const len = Number((headText.match(/\r\ncontent-length: *(\d+)/i) || [])[1] || 0);
          if (buf.length < end + 4 + len) return;
          const body = buf.subarray(end + 4, end + 4 + len).toString();
          buf = buf.subarray(end + 4 + len);
          up.requests++;
          up.heads.push(headText);
          await reply(sock, { text: headText, body });
        }
      });
    });
    up.server.listen(0, '127.0.0.1', () => {
      up.port = up.server.address().port;
      resolve();
    });
  });
}

let gw;

before(async () => {
  await startUpstream();
  gw = await startGateway({
    env: { FG_DEMO_BASE_URL: `http://127.0.0.1:${up.port}/v1` },
    config: { workers: 1, upstream: { max_connections_per_host: 2 } },
  });
});

after(async () => {
  await gw?.stop();
  up.server?.close();
});

const chat = (body = CHAT) => gw.post('/v1/chat/completions', body);

describe('the plain-HTTP/1.1 upstream client', () => {
  test('sends the request line, Host, the provider key, the request id and a Content-Length', async () => {
    up.mode = 'keepalive';
    up.heads = [];
    const res = await chat();
    assert.equal(res.status, 200, res.text);
    const head = up.heads.at(-1);
    assert.match(head, /^POST \/v1\/chat\/completions HTTP\/1\.1\r\n/);
    assert.match(head, new RegExp(`\\r\\nHost: 127\\.0\\.0\\.1:${up.port}\\r\\n`));
    assert.match(head, /\r\nAuthorization: Bearer sim-key\r\n/);
    assert.match(head, new RegExp(`\\r\\nX-Request-Id: ${res.headers['x-request-id']}\\r\\n`));
    assert.match(head, /\r\nContent-Length: \d+(\r\n|$)/);
  });

  test('one kept-alive connection carries requests made one after the other', async () => {
    up.mode = 'keepalive';
    await chat();
    const before = up.connections;
    for (let i = 0; i < 10; i++) {
      const res = await chat();
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().choices[0].message.content, 'hi there');
    }
    assert.equal(up.connections, before, 'a new upstream connection was opened');
  });

  test('a pooled connection the upstream closed is replaced, and the request still succeeds', async () => {
    up.mode = 'close-after';
    const first = await chat();
    assert.equal(first.status, 200, first.text);
    // Back to back: the upstream's close either reaches the gateway first
    // (the connection leaves the pool) or races the next request (which
    // is then sent again on a new connection).
    for (let i = 0; i < 10; i++) {
      const res = await chat();
      assert.equal(res.status, 200, res.text);
    }
  });

  test('100 Continue before the head and chunk framing cut anywhere are read whole', async () => {
    up.mode = 'continue-chunked';
    const res = await chat();
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().choices[0].message.content, 'hi there');
    assert.equal(res.json().usage.total_tokens, 5);
  });

  test('a stream in chunk framing cut anywhere arrives event by event, ending with [DONE]', async () => {
    up.mode = 'continue-chunked';
    const res = await chat({ ...CHAT, stream: true });
    assert.equal(res.status, 200, res.text);
    const data = sseData(res.text);
    assert.equal(data.at(-1), '[DONE]');
    const content = data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, 'hi there');
  });

  test('a body that ends with the connection is relayed whole', async () => {
    up.mode = 'to-the-close';
    const res = await chat();
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().choices[0].message.content, 'hi there');
  });

  test('a reply framed two ways is a 502, never relayed', async () => {
    up.mode = 'two-framings';
    const res = await chat();
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json().error.code, 'INFERENCE_PROVIDER_ERROR');
  });

  test('a transfer coding other than chunked is a 502', async () => {
    up.mode = 'gzip';
    const res = await chat();
    assert.equal(res.status, 502, res.text);
  });

  test('a reply cut in the middle of its body is a 502', async () => {
    up.mode = 'cut-mid-body';
    const res = await chat();
    assert.equal(res.status, 502, res.text);
    assert.match(res.json().error.message, /closed the connection/);
  });

  test('requests beyond max_connections_per_host wait for a connection, and all succeed', async () => {
    up.mode = 'slow';
    up.maxOpen = up.open;
    const results = await Promise.all(Array.from({ length: 6 }, () => chat()));
    for (const res of results) assert.equal(res.status, 200, res.text);
    assert.ok(up.maxOpen <= 2, `${up.maxOpen} upstream connections at once, above the 2 allowed`);
  });
});

// The queue's tests leave wide margins around every deadline: a loaded
// machine stretches each step by tens of milliseconds, and the behaviour
// under test is the order of events, never their speed.
describe('the upstream client\'s queue, one connection allowed', () => {
  let qgw;

  before(async () => {
    qgw = await startGateway({
      env: { FG_DEMO_BASE_URL: `http://127.0.0.1:${up.port}/v1` },
      providers: shippedProviders({
        demo: { timeouts: { connect_ms: 1000, first_byte_ms: 5000, idle_ms: 5000, total_ms: 2000 } },
      }),
      config: { workers: 1, upstream: { max_connections_per_host: 1 } },
    });
  });

  after(async () => {
    await qgw?.stop();
  });

  const qchat = (opts) => request('POST', `${qgw.url}/v1/chat/completions`, JSON.stringify(CHAT),
    { 'content-type': 'application/json' }, opts);

  // Waits, for at most 5 s, until the upstream has read `n` requests.
  async function upstreamSaw(n) {
    for (let i = 0; i < 500 && up.requests < n; i++) await sleep(10);
    assert.ok(up.requests >= n, `the upstream read ${up.requests} requests, expected ${n}`);
  }

  test('a request whose total deadline passes while it waits in line is a 504, and the line goes on', async () => {
    // 1300 ms a reply, 2000 ms allowed, one connection: the first is
    // served, the second times out on the connection, the third while in
    // line.
    up.mode = 'slower';
    up.slowerMs = 1300;
    const statuses = (await Promise.all([qchat(), qchat(), qchat()])).map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 504, 504]);
    up.mode = 'slow';     // 150 ms
    assert.equal((await qchat()).status, 200);
    assert.equal((await qchat()).status, 200);
  });

  test('a client that leaves while its request waits in line holds up no one behind it', async () => {
    // The first holds the one connection until the second, in line, has
    // left and its request has ended; the third, queued behind it, must be
    // the next request the upstream sees.
    up.mode = 'held';
    up.held = new Promise((resolve) => { up.release = resolve; });
    const seen = up.requests;
    try {
      const first = qchat();
      await upstreamSaw(seen + 1);
      const leaving = request('POST', `${qgw.url}/v1/chat/completions`, JSON.stringify(CHAT),
        { 'content-type': 'application/json', 'x-request-id': 'leaving-1' }, { timeoutMs: 100 })
        .catch((e) => e);
      await sleep(30);
      const third = qchat();
      assert.ok((await leaving) instanceof Error, 'the leaving client got a reply');
      await waitFor('the request of the client that left to end',
        () => / req=\S+ status=[^\n]* client_id=leaving-1$/m.test(qgw.log()), { tries: 250, every: 20 });
      up.release();
      assert.equal((await first).status, 200);
      assert.equal((await third).status, 200);
      assert.equal(up.requests, seen + 2, 'the request of the client that left reached the upstream');
    } finally {
      up.release();
    }
  });
});
