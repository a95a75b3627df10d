// Descriptors and connections per client (issue 12, items 3 and 4):
// the soft RLIMIT_NOFILE the master sets from the connection caps (exit 1
// when the hard limit cannot hold them), a local shortage of descriptors
// answered 503 and never 502, the metrics listener's cap, and
// limits.max_connections_per_client counted across the workers.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { stopAll, CHAT, request, startGateway, startSim, sleep, waitFor } from '../lib/harness.mjs';

const BIN = path.join(process.env.FG_BIN_DIR || 'build/bin', 'fluxgate');

// A socket from @host (a loopback address) to @port, open and idle.
function idleSocket(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: host });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// What the server sends on a socket it closes: resolves { text, closed }.
function readUntilClose(sock, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const chunks = [];
    const t = setTimeout(() => resolve({ text: Buffer.concat(chunks).toString(), closed: false }), timeoutMs);
    sock.on('data', (c) => chunks.push(c));
    const end = () => { clearTimeout(t); resolve({ text: Buffer.concat(chunks).toString(), closed: true }); };
    sock.once('end', end);
    sock.once('close', end);
    sock.once('error', end);
  });
}

// One GET on a fresh connection from @host; resolves to the raw reply.
async function getFrom(port, host, p = '/healthz') {
  const s = await idleSocket(port, host);
  const done = readUntilClose(s);
  s.write(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  const r = await done;
  s.destroy();
  return r;
}

const statusOf = (text) => Number((text.match(/^HTTP\/1\.[01] (\d{3})/) || [])[1] || 0);

// The gateway run again from @gw's configuration under `ulimit -n @soft
// -Hn @hard`; resolves to its exit code and output (or kills it).
function runUnderLimit(gw, hard) {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', `ulimit -n ${hard} && exec "$0" -c "$1"`,
      BIN, gw.confPath], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    const t = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, out }); });
  });
}

describe('descriptors (item 3)', () => {
  let sim;
  before(async () => { sim = await startSim(); });
  after(async () => { await sim?.stop(); });

  test('a hard limit below what the caps need: exit 1 naming both numbers', async () => {
    const gw = await startGateway({ sim, key: false, config: { workers: 1, limits: { max_connections: 1000 } } });
    await gw.stop();
    const r = await runUnderLimit(gw, 500);
    assert.equal(r.code, 1, r.out);
    const m = r.out.match(/hard limit on open files is (\d+), below the (\d+) descriptors/);
    assert.ok(m, r.out);
    assert.equal(Number(m[1]), 500);
    assert.ok(Number(m[2]) > 1000, r.out);
  });

  test('the soft limit is set to what the caps need', async () => {
    const gw = await startGateway({ sim, key: false, config: { workers: 1, limits: { max_connections: 300 } } });
    try {
      const limits = fs.readFileSync(`/proc/${gw.workerPids()[0]}/limits`, 'utf8');
      const soft = Number(limits.match(/Max open files\s+(\d+)/)[1]);
      // 300 + per-host x enabled providers + 64 metrics + 64 admin + 64
      assert.ok(soft >= 300 + 3 * 64 && soft < 20000, limits);
      assert.equal((soft - 300 - 3 * 64) % 256, 0, `${soft}: one term per enabled provider`);
    } finally {
      await gw.stop();
    }
  });

  test('a reload whose caps need more than the hard limit is refused, the configuration kept', async () => {
    const gw = await startGateway({ sim, key: false, config: { workers: 1 } });
    try {
      execFileSync('prlimit', ['--pid', String(gw.pid), '--nofile=5000:5000']);
      const conf = JSON.parse(fs.readFileSync(gw.confPath, 'utf8'));
      conf.limits = { ...conf.limits, max_connections: 10000 };
      fs.writeFileSync(gw.confPath, JSON.stringify(conf, null, 2));
      gw.signal('SIGHUP');
      await waitFor('the refused reload', () => /reload failed, configuration kept: .*hard limit on open files is 5000, below the \d+ descriptors/.test(gw.log()));
      assert.doesNotMatch(gw.log(), /reloaded: generation 2/);
      assert.equal((await gw.get('/healthz')).status, 200);
    } finally {
      await gw.stop();
    }
  });

  test('the metrics and admin listeners hold 64 connections each; the public port still serves', async () => {
    const gw = await startGateway({ sim, config: { workers: 1 } });
    const socks = [];
    try {
      const port = Number(new URL(gw.metricsUrl).port);
      for (let i = 0; i < 200; i++) socks.push(await idleSocket(port));
      for (let i = 0; i < 64; i++) {
        socks.push(await new Promise((resolve, reject) => {
          const s = net.connect(gw.adminSocket);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }));
      }
      await sleep(300);
      // Over each cap a new connection waits in the backlog, unanswered.
      const unanswered = async (target) => {
        const s = net.connect(target);
        const r = readUntilClose(s, 1000);
        s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
        const out = await r;
        s.destroy();
        return out.text === '' && !out.closed;
      };
      assert.ok(await unanswered({ port, host: '127.0.0.1' }), 'the 201st metrics connection was served');
      assert.ok(await unanswered({ path: gw.adminSocket }), 'the 65th admin connection was served');
      const res = await gw.post('/v1/chat/completions', CHAT);
      assert.equal(res.status, 200, res.text);
    } finally {
      for (const s of socks) s.destroy();
    }
    try {
      await waitFor('the metrics listener accepting again', async () => {
        try { return (await request('GET', gw.metricsUrl, undefined, {}, { timeoutMs: 2000 })).status === 200; } catch { return false; }
      });
    } finally {
      await gw.stop();
    }
  });

  test('no descriptor left for the upstream socket: 503 service_unavailable with Retry-After, not 502', async () => {
    const gw = await startGateway({ sim, config: { workers: 1 } });
    try {
      const pid = gw.workerPids()[0];
      // A kept-alive connection, accepted while descriptors were left.
      const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
      const warm = await request('GET', `${gw.url}/healthz`, undefined, {}, { agent });
      assert.equal(warm.status, 200);
      // Then the worker's limit is lowered to its lowest free descriptor
      // (descriptors are handed out lowest first): socket() fails.
      const fds = new Set(fs.readdirSync(`/proc/${pid}/fd`).map(Number));
      let free = 0;
      while (fds.has(free)) free++;
      execFileSync('prlimit', ['--pid', String(pid), `--nofile=${free}:20000`]);
      const res = await request('POST', `${gw.url}/v1/chat/completions`, JSON.stringify(CHAT),
        { 'content-type': 'application/json', authorization: `Bearer ${gw.key}` }, { agent });
      assert.equal(res.status, 503, res.text);
      assert.equal(res.json().error.code, 'service_unavailable');
      assert.equal(res.headers['retry-after'], '1');
      agent.destroy();
      execFileSync('prlimit', ['--pid', String(pid), '--nofile=20000:20000']);
    } finally {
      await gw.stop();
    }
  });
});

describe('limits.max_connections_per_client (item 4)', () => {
  let sim;
  let gw;
  before(async () => {
    sim = await startSim();
    gw = await startGateway({ sim, key: false, config: { workers: 2, limits: { max_connections_per_client: 4 } } });
  });
  after(async () => {
    await stopAll(gw, sim);
  });

  test('an address holding its limit of idle connections gets 503 JSON; another address is served', async () => {
    const held = [];
    try {
      for (let i = 0; i < 4; i++) held.push(await idleSocket(gw.port, '127.0.0.2'));
      await sleep(100);   // accepted by whichever worker
      const over = await getFrom(gw.port, '127.0.0.2');
      assert.equal(statusOf(over.text), 503, over.text);
      assert.match(over.text, /Retry-After: 1\r\nretry-after-ms: 1000\r\n/i);
      assert.match(over.text, /"code":\s*"service_unavailable"/);
      assert.match(over.text, /too many connections from this address/);
      const other = await getFrom(gw.port, '127.0.0.1');
      assert.equal(statusOf(other.text), 200, other.text);
    } finally {
      for (const s of held) s.destroy();
    }
  });

  test('a closed connection is given back: the address is served again', async () => {
    const held = [];
    try {
      for (let i = 0; i < 4; i++) held.push(await idleSocket(gw.port, '127.0.0.2'));
      held.shift().destroy();
      await waitFor('a connection given back', async () =>
        statusOf((await getFrom(gw.port, '127.0.0.2')).text) === 200);
    } finally {
      for (const s of held) s.destroy();
    }
  });

  test('a worker killed while holding connections: the master gives its counts back', async () => {
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await idleSocket(gw.port, '127.0.0.3'));
    await sleep(100);
    assert.equal(statusOf((await getFrom(gw.port, '127.0.0.3')).text), 503);
    const closed = held.map((s) => readUntilClose(s, 10000));
    for (const pid of gw.workerPids()) process.kill(pid, 'SIGKILL');
    await Promise.all(closed);
    await waitFor('workers respawned', async () => gw.workerPids().length === 2
      && (await gw.get('/healthz')).status === 200, { tries: 200 });
    const again = [];
    try {
      for (let i = 0; i < 4; i++) {
        const r = await getFrom(gw.port, '127.0.0.3');
        assert.equal(statusOf(r.text), 200, r.text);
        again.push(await idleSocket(gw.port, '127.0.0.3'));
      }
    } finally {
      for (const s of again) s.destroy();
    }
  });
});

// The access-log line of the request the client named @id (its
// x-request-id, logged as client_request_id beside the gateway's own id)
// in @file (written as it finishes).
async function accessLine(file, id) {
  return waitFor(`the access-log line of ${id}`, () => {
    let text = '';
    try { text = fs.readFileSync(file, 'utf8'); } catch { return null; }
    return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
      .find((l) => l.client_request_id === id) || null;
  }, { tries: 100, every: 20 });
}

// Bytes of one request on a fresh connection from @host; resolves to
// { sock, reply } where reply resolves when the server closes.
async function sendFrom(port, host, bytes) {
  const sock = await idleSocket(port, host);
  const reply = readUntilClose(sock, 10000);
  sock.write(bytes);
  return { sock, reply };
}

describe('limits.trusted_proxies (item 4)', () => {
  let sim;
  let gw;
  let file;
  let seq = 0;
  const get = (xff, id) => `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n`
    + `x-request-id: ${id}\r\n${xff ? `X-Forwarded-For: ${xff}\r\n` : ''}\r\n`;

  before(async () => {
    sim = await startSim();
    gw = await startGateway({
      sim,
      config: {
        workers: 2,
        limits: { max_connections_per_client: 2, trusted_proxies: '127.0.0.1, 10.0.0.0/8' },
        access_log: { file: 'access.log' },
      },
    });
    file = path.join(gw.dir, 'access.log');
  });
  after(async () => {
    await stopAll(gw, sim);
  });

  test("a trusted proxy's X-Forwarded-For names the client: its last untrusted hop", async () => {
    const id = `xff-trusted-${++seq}`;
    const r = await sendFrom(gw.port, '127.0.0.1', get('198.51.100.9, 203.0.113.5, 10.1.2.3', id));
    assert.equal(statusOf((await r.reply).text), 200);
    assert.equal((await accessLine(file, id)).client, '203.0.113.5');
  });

  test("an untrusted peer's X-Forwarded-For is ignored", async () => {
    const id = `xff-untrusted-${++seq}`;
    const r = await sendFrom(gw.port, '127.0.0.2', get('203.0.113.5', id));
    assert.equal(statusOf((await r.reply).text), 200);
    assert.equal((await accessLine(file, id)).client, '127.0.0.2');
  });

  test('requests through a trusted proxy count per real client, not per proxy', async () => {
    const body = JSON.stringify({ ...CHAT, model: 'fault-stall' });
    const stalled = (xff) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n`
      + `Authorization: Bearer ${gw.key}\r\nContent-Type: application/json\r\n`
      + `X-Forwarded-For: ${xff}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    // Two requests of 203.0.113.77 in flight, on two proxy connections.
    const held = [await sendFrom(gw.port, '127.0.0.1', stalled('203.0.113.77')),
      await sendFrom(gw.port, '127.0.0.1', stalled('203.0.113.77'))];
    try {
      await sleep(200);
      const over = await sendFrom(gw.port, '127.0.0.1', get('203.0.113.77', `xff-over-${++seq}`));
      const text = (await over.reply).text;
      assert.equal(statusOf(text), 503, text);
      assert.match(text, /too many connections from this address/);
      assert.match(text, /Retry-After: 1\r\nretry-after-ms: 1000\r\n/i);
      // Another client behind the same proxy, on a third proxy connection.
      const other = await sendFrom(gw.port, '127.0.0.1', get('203.0.113.78', `xff-other-${++seq}`));
      assert.equal(statusOf((await other.reply).text), 200);
    } finally {
      for (const h of held) h.sock.destroy();
    }
    await waitFor('the stalled requests given back', async () => {
      const r = await sendFrom(gw.port, '127.0.0.1', get('203.0.113.77', `xff-again-${++seq}`));
      return statusOf((await r.reply).text) === 200;
    });
  });

  describe('listen_proxy_protocol 1', () => {
    const v1 = (client) => `PROXY TCP4 ${client} 127.0.0.1 40000 80\r\n`;

    before(async () => {
      const conf = JSON.parse(fs.readFileSync(gw.confPath, 'utf8'));
      conf.listen_proxy_protocol = 1;
      fs.writeFileSync(gw.confPath, JSON.stringify(conf, null, 2));
      gw.signal('SIGHUP');
      await waitFor('the reload', () => /reloaded: generation 2/.test(gw.log()), { tries: 200 });
      await waitFor('the new workers serving', async () => {
        const r = await sendFrom(gw.port, '127.0.0.1', v1('192.0.2.1') + get(null, `probe-${++seq}`));
        return statusOf((await r.reply).text) === 200;
      }, { tries: 200 });
    });

    test("a trusted peer's PROXY header names the client: access log and per-client count", async () => {
      const held = [];
      try {
        for (let i = 0; i < 2; i++) {
          const s = await idleSocket(gw.port, '127.0.0.1');
          s.write(v1('198.51.100.7'));
          held.push(s);
        }
        await sleep(200);
        const over = await sendFrom(gw.port, '127.0.0.1', v1('198.51.100.7'));
        const text = (await over.reply).text;
        assert.equal(statusOf(text), 503, text);
        const id = `pp-other-${++seq}`;
        const other = await sendFrom(gw.port, '127.0.0.1', v1('198.51.100.8') + get(null, id));
        assert.equal(statusOf((await other.reply).text), 200);
        assert.equal((await accessLine(file, id)).client, '198.51.100.8');
      } finally {
        for (const s of held) s.destroy();
      }
    });

    test("an untrusted peer's PROXY header is read but not believed", async () => {
      const id = `pp-untrusted-${++seq}`;
      const r = await sendFrom(gw.port, '127.0.0.2', v1('198.51.100.7') + get(null, id));
      assert.equal(statusOf((await r.reply).text), 200);
      assert.equal((await accessLine(file, id)).client, '127.0.0.2');
    });

    test('a connection without a valid PROXY header is closed unanswered', async () => {
      const r = await sendFrom(gw.port, '127.0.0.1', get(null, `pp-none-${++seq}`));
      const reply = await r.reply;
      assert.equal(reply.closed, true);
      assert.equal(reply.text, '');
    });
  });
});
