// The access log (issue 5; common/store/accesslog.c, worker/worker.c): one JSON
// line per request, written by the worker's finish path, for every outcome;
// never a key's secret; prompts and completions only with
// access_log.content 1; SIGUSR1 reopens the file for logrotate; "off"
// writes nothing; `fluxgate -t` refuses a path that cannot be opened.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  stopAll, BIN_DIR, CHAT, SRC_DIR, freePort, rawHttp, startGateway, startSim, streamRequest, tempDir, waitFor, writeCatalogs,
} from '../lib/harness.mjs';

const URL_PATH = '/v1/chat/completions';
const FIELDS = [
  'time', 'request_id', 'client_request_id', 'key_id', 'model_requested', 'model_served', 'provider',
  'status', 'error', 'prompt_tokens', 'completion_tokens', 'reasoning_tokens',
  'cached_tokens', 'usage_estimated', 'charged_micro', 'energy_kwh', 'carbon_g_co2',
  'water_liters', 'impact_estimated', 'latency_ms', 'ttfb_ms', 'bytes_in', 'bytes_out', 'client',
  'stream', 'client_gone', 'limit', 'upstream_error', 'upstream_outcome', 'upstream_status',
];
const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// Every line of @file parsed (each must be one JSON object); [] if absent.
function readLines(file) {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return []; }
  assert.ok(text === '' || text.endsWith('\n'), 'the file ends with a whole line');
  return text.split('\n').filter((l) => l.length > 0).map((l) => {
    try {
      return JSON.parse(l);
    } catch (e) {
      throw new Error(`not a JSON line: ${l}`);
    }
  });
}

// The line of request @id (waits: the line is written when the request
// finishes, just after its reply).
async function lineFor(file, id) {
  assert.ok(id, 'the response names its request id');
  const line = await waitFor(`the access-log line of ${id}`,
    () => readLines(file).find((l) => l.request_id === id), { tries: 100, every: 20 });
  assert.deepEqual(Object.keys(line).slice(0, FIELDS.length), FIELDS);
  assert.match(line.time, RFC3339_MS);
  assert.equal(typeof line.latency_ms, 'number');
  return line;
}

// The pids of @gw's workers whose open files include exactly @file.
function workersWith(gw, file) {
  return gw.workerPids().filter((pid) => {
    try {
      return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === file; } catch { return false; }
      });
    } catch {
      return false;
    }
  });
}

describe('the access log', () => {
  let sim;
  let gw;
  let file;

  before(async () => {
    sim = await startSim();
    const dir = tempDir('fg-gw-');
    file = path.join(dir, 'access.log');
    gw = await startGateway({ sim, dir, config: { access_log: { file } } });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  test('a 200 has the key id, models, provider, usage, timings and sizes', async () => {
    const t0 = Date.now();
    const body = JSON.stringify({ ...CHAT, messages: [{ role: 'user', content: 'access log probe 7f3c' }] });
    const res = await gw.post(URL_PATH, body, { 'x-request-id': 'probe-7f3c' });
    assert.equal(res.status, 200, res.text);
    const l = await lineFor(file, res.headers['x-request-id']);
    const usage = res.json().usage;
    assert.equal(l.client_request_id, 'probe-7f3c');
    assert.equal(l.status, 200);
    assert.equal(l.error, null);
    assert.equal(l.key_id, gw.keyId);
    assert.equal(l.model_requested, 'demo-chat');
    assert.equal(l.model_served, 'demo-chat');
    assert.equal(l.provider, 'demo');
    assert.equal(l.prompt_tokens, usage.prompt_tokens);
    assert.equal(l.completion_tokens, usage.completion_tokens);
    assert.equal(l.reasoning_tokens, usage.completion_tokens_details?.reasoning_tokens ?? 0);
    assert.equal(l.cached_tokens, usage.prompt_tokens_details?.cached_tokens ?? 0);
    assert.equal(typeof l.ttfb_ms, 'number');
    assert.ok(l.ttfb_ms <= l.latency_ms, `ttfb ${l.ttfb_ms} <= latency ${l.latency_ms}`);
    assert.equal(l.bytes_in, Buffer.byteLength(body));
    assert.equal(l.bytes_out, Buffer.byteLength(res.text));
    assert.equal(l.client, '127.0.0.1');
    assert.equal(l.stream, false);
    assert.equal(l.client_gone, false);
    assert.equal(l.limit, null);
    assert.equal(l.upstream_error, null);
    const t = Date.parse(l.time);
    assert.ok(t >= t0 - 1000 && t <= Date.now() + 1000, `time ${l.time} is the request's`);
    assert.equal(l.messages, undefined, 'no content unless access_log.content is 1');
    assert.equal(l.reply, undefined);
  });

  test('a request without a key is logged 401 with no key id', async () => {
    const res = await gw.post(URL_PATH, CHAT, { authorization: null });
    assert.equal(res.status, 401);
    const l = await lineFor(file, res.headers['x-request-id']);
    assert.equal(l.status, 401);
    assert.equal(l.error, 'invalid_api_key');
    assert.equal(l.key_id, null);
    assert.equal(l.provider, null);
    assert.equal(l.prompt_tokens, null);
    assert.equal(l.ttfb_ms, null, 'no upstream byte: ttfb is null');
  });

  test('a request that is not well-formed HTTP is logged with its status and code', async () => {
    const r = await rawHttp(gw.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
      + 'Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}');
    const id = (r.text.match(/\r\nx-request-id: (\S+)\r\n/) || [])[1];
    const l = await lineFor(file, id);
    assert.equal(l.status, 400);
    assert.equal(l.error, 'malformed_http');
    assert.equal(l.client, '127.0.0.1');
    assert.equal(l.key_id, null);
  });

  test('an unknown model is logged 404 model_not_found, requested but not served', async () => {
    const res = await gw.post(URL_PATH, { ...CHAT, model: 'no-such-model' });
    assert.equal(res.status, 404);
    const l = await lineFor(file, res.headers['x-request-id']);
    assert.equal(l.status, 404);
    assert.equal(l.error, 'model_not_found');
    assert.equal(l.key_id, gw.keyId);
    assert.equal(l.model_requested, 'no-such-model');
    assert.equal(l.model_served, null);
    assert.equal(l.provider, null);
    assert.equal(l.ttfb_ms, null);
  });

  test('an upstream 500 is logged with the gateway status and upstream_error "5xx"', async () => {
    const res = await gw.post(URL_PATH, { ...CHAT, model: 'fault-500' });
    assert.equal(res.status, 502, res.text);
    const l = await lineFor(file, res.headers['x-request-id']);
    assert.equal(l.status, 502);
    assert.equal(l.error, res.json().error.code);
    assert.equal(l.upstream_error, '5xx');
    assert.equal(l.model_served, 'fault-500');
    assert.equal(l.provider, 'demo');
    assert.equal(l.prompt_tokens, null);
  });

  test('a stream is logged with stream true and the usage of its last chunk', async () => {
    const res = await gw.post(URL_PATH, {
      ...CHAT, stream: true, stream_options: { include_usage: true }, max_tokens: 5,
    });
    assert.equal(res.status, 200);
    const usageChunk = res.text.split('\n\n').map((e) => e.replace(/^data: /, ''))
      .filter((d) => d.startsWith('{')).map((d) => JSON.parse(d)).find((c) => c.usage);
    assert.ok(usageChunk, 'the stream carried usage');
    const l = await lineFor(file, res.headers['x-request-id']);
    assert.equal(l.status, 200);
    assert.equal(l.stream, true);
    assert.equal(l.client_gone, false);
    assert.equal(l.prompt_tokens, usageChunk.usage.prompt_tokens);
    assert.equal(l.completion_tokens, usageChunk.usage.completion_tokens);
    assert.equal(typeof l.ttfb_ms, 'number');
    assert.equal(l.bytes_out, Buffer.byteLength(res.text));
  });

  test('a client that leaves mid-stream is logged client_gone', async () => {
    const s = await streamRequest(gw.url + URL_PATH,
      { ...CHAT, model: 'fault-slow', stream: true, max_tokens: 30 });
    assert.equal(s.status, 200);
    await waitFor('two tokens', () => s.events.length >= 3, { tries: 60, every: 50 });
    s.destroy();
    const l = await lineFor(file, s.headers['x-request-id']);
    assert.equal(l.stream, true);
    assert.equal(l.client_gone, true);
    assert.equal(l.model_served, 'fault-slow');
    assert.equal(typeof l.ttfb_ms, 'number');
    assert.ok(l.bytes_out > 0);
  });

  test('each request leaves exactly one line', async () => {
    const before = readLines(file).length;
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const res = await gw.post(URL_PATH, i % 2 ? CHAT : { ...CHAT, model: 'no-such-model' });
      ids.push(res.headers['x-request-id']);
    }
    for (const id of ids) await lineFor(file, id);
    const lines = readLines(file);
    assert.equal(lines.length, before + 5);
    for (const id of ids) assert.equal(lines.filter((l) => l.request_id === id).length, 1);
  });

  test('no key secret in the access log or the gateway log', async () => {
    const res = await gw.post(URL_PATH, CHAT);
    await lineFor(file, res.headers['x-request-id']);
    const text = fs.readFileSync(file, 'utf8');
    assert.ok(gw.key && !text.includes(gw.key), 'the secret is not in the access log');
    assert.ok(text.includes(gw.keyId));
    assert.ok(!gw.log().includes(gw.key), 'the secret is not in the gateway log');
    assert.ok(!text.includes('access log probe 7f3c'), 'no prompt without access_log.content');
  });

  test('SIGUSR1 after a rename: new lines go to a new file, the old one keeps its lines', async () => {
    const rotated = `${file}.1`;
    const first = await gw.post(URL_PATH, CHAT);
    await lineFor(file, first.headers['x-request-id']);
    fs.renameSync(file, rotated);
    const oldLines = readLines(rotated);
    const workers = gw.workerPids();
    assert.ok(workers.length >= 2);
    gw.signal('SIGUSR1');
    // Every worker reopened: each holds the file at the configured path.
    await waitFor('every worker to reopen the access log',
      () => workersWith(gw, file).length === workers.length, { tries: 100, every: 20 });
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await gw.post(URL_PATH, CHAT)).headers['x-request-id']);
    for (const id of ids) await lineFor(file, id);
    assert.equal(readLines(file).length, 4);
    assert.deepEqual(readLines(rotated), oldLines);
    assert.ok(oldLines.some((l) => l.request_id === first.headers['x-request-id']));
    assert.ok(!gw.log().includes('reopening the access log failed'), gw.log());
  });
});

describe('access_log.content 1', () => {
  let sim;
  let gw;
  let file;

  before(async () => {
    sim = await startSim();
    const dir = tempDir('fg-gw-');
    file = path.join(dir, 'access.log');
    gw = await startGateway({ sim, dir, config: { access_log: { file, content: 1 } } });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  test('logs the request\'s messages and the reply\'s messages', async () => {
    const messages = [
      { role: 'system', content: 'be "brief"\nplease' },
      { role: 'user', content: 'content probe é 😀' },
    ];
    const res = await gw.post(URL_PATH, { ...CHAT, messages });
    assert.equal(res.status, 200, res.text);
    const l = await lineFor(file, res.headers['x-request-id']);
    assert.deepEqual(l.messages, messages);
    assert.deepEqual(l.reply, res.json().choices.map((c) => c.message));
    assert.equal(l.content_truncated, undefined);
    assert.ok(!fs.readFileSync(file, 'utf8').includes(gw.key));
  });

  test('a stream logs its messages but no reply text', async () => {
    const res = await gw.post(URL_PATH, { ...CHAT, stream: true });
    assert.equal(res.status, 200);
    const l = await lineFor(file, res.headers['x-request-id']);
    assert.deepEqual(l.messages, CHAT.messages);
    assert.equal(l.reply, null);
  });
});

describe('access_log.file', () => {
  test('"off" (the default) writes no access log', async () => {
    const sim = await startSim();
    const gw = await startGateway({ sim, config: { access_log: { file: 'off' } } });
    try {
      const res = await gw.post(URL_PATH, CHAT);
      assert.equal(res.status, 200);
      const r2 = await gw.post(URL_PATH, CHAT, { authorization: null });
      assert.equal(r2.status, 401);
      await gw.stop();
      assert.deepEqual(fs.readdirSync(gw.dir).filter((f) => /off|access/.test(f)), []);
      assert.ok(!gw.log().includes('"request_id":'), 'no access line on stderr either');
    } finally {
      await gw.stop();
      await sim.stop();
    }
  });

  test('"stderr" writes the lines to standard error', async () => {
    const sim = await startSim();
    const gw = await startGateway({ sim, config: { access_log: { file: 'stderr' } } });
    try {
      const res = await gw.post(URL_PATH, CHAT);
      const id = res.headers['x-request-id'];
      const line = await waitFor('the line on stderr', () => gw.log().split('\n')
        .find((l) => l.startsWith('{') && l.includes(id)));
      assert.equal(JSON.parse(line).key_id, gw.keyId);
      assert.ok(!gw.log().includes(gw.key));
    } finally {
      await gw.stop();
      await sim.stop();
    }
  });

  test('fluxgate -t refuses a path in a folder that does not exist', () => {
    const dir = tempDir('fg-conf-');
    try {
      const conf = path.join(dir, 'fluxgate.json');
      fs.writeFileSync(conf, JSON.stringify({ access_log: { file: '/nonexistent-fg/access.log' } }));
      const r = spawnSync(path.join(BIN_DIR, 'fluxgate'), ['-t', '-c', conf],
        { encoding: 'utf8', timeout: 10000 });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /"access_log\.file": folder "\/nonexistent-fg"/);
      assert.doesNotMatch(r.stdout, /configuration OK/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a worker that cannot open it fails at start-up, saying why, and is not respawned', async () => {
    // A FIFO nobody reads passes the check but cannot be opened without
    // blocking, which the worker refuses.
    const dir = tempDir('fg-conf-');
    try {
      const fifo = path.join(dir, 'fifo');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      writeCatalogs(dir, {
        providers: JSON.parse(fs.readFileSync(path.join(SRC_DIR, 'etc/providers.json'))),
        models: JSON.parse(fs.readFileSync(path.join(SRC_DIR, 'etc/models.json'))),
      });
      const conf = path.join(dir, 'fluxgate.json');
      fs.writeFileSync(conf, JSON.stringify({
        listen: `127.0.0.1:${await freePort()}`, workers: 2, pid_file: '',
        data_dir: path.join(dir, 'data'), metrics: { listen: 'off' },
        access_log: { file: fifo },
      }));
      const child = spawn(path.join(BIN_DIR, 'fluxgate'), ['-c', conf],
        { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c) => { stderr += c; });
      try {
        await waitFor('both workers to give up', () => (stderr.match(/not respawning/g) || []).length === 2,
          { tries: 200, every: 50 }).catch((e) => { throw new Error(`${e.message}\n${stderr}`); });
        const why = new RegExp(`worker start-up failed: open\\("${fifo}"\\) for the access log failed: `, 'g');
        assert.equal((stderr.match(why) || []).length, 2, stderr);
        assert.match(stderr, /exited with code 2/);
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
