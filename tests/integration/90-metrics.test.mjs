// Prometheus metrics (common/base/metrics.c, common/base/exposition.c,
// worker/metrics_http.c; docs/operations.md "Metrics"): GET /metrics on its
// own listener, never the public one; output that `promtool check metrics`
// accepts; every family docs/operations.md lists, and no other; counters
// that move by exactly the requests of known outcomes sent, impact totals
// by the replies' environment_impact, a usage backlog that drains; histograms that are cumulative; counts that outlive the workers
// that made them; the listener's life across reloads, its "off" switch and
// its start-up error.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import {
  BIN_DIR, CHAT, SRC_DIR, freePort, isAlive, request, sseData, startGateway, startSim,
  tempDir, waitFor,
} from '../lib/harness.mjs';

let sim;

before(async () => {
  sim = await startSim();
});

after(async () => {
  await sim?.stop();
});

// The exposition as a Map "name{labels}" -> value.
function parse(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    samples.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return samples;
}

// after - before for every series of the families named (a series absent
// before counts from 0); only the non-zero ones.
function deltas(before, after, families) {
  const out = {};
  for (const [k, v] of after) {
    if (!families.some((f) => k === f || k.startsWith(`${f}{`))) continue;
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

const req = (model, provider, cls, code) =>
  `fluxgate_requests_total{model="${model}",provider="${provider}",status_class="${cls}",code="${code}"}`;

function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool: ${r.error.message} (Debian package "prometheus")`);
  return r;
}

// The TCP ports process @pid has listening sockets on.
function listeningPorts(pid) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const ports = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 9 && c[3] === '0A' && inodes.has(c[9])) {
        ports.push(parseInt(c[1].split(':')[1], 16));
      }
    }
  }
  return ports.sort((a, b) => a - b);
}

const syncerPid = (gw) => Number([...gw.log().matchAll(/started the syncer, pid (\d+)/g)].at(-1)[1]);

const connectRefused = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.on('connect', () => { s.destroy(); resolve(false); });
  s.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
});

// Tokens of a reply: the usage object of a JSON body or of a stream's
// last chunk.
function usageOf(res, stream = false) {
  const u = stream
    ? sseData(res.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d)).at(-1).usage
    : res.json().usage;
  return {
    prompt: u.prompt_tokens ?? 0,
    completion: u.completion_tokens ?? 0,
    reasoning: u.completion_tokens_details?.reasoning_tokens ?? 0,
    cached: u.prompt_tokens_details?.cached_tokens ?? 0,
  };
}

describe('GET /metrics', () => {
  let gw;

  before(async () => {
    gw = await startGateway({ sim });
  });

  after(async () => {
    await gw?.stop();
  });

  test('is served on the metrics listener in the text format, and promtool accepts it', async () => {
    await gw.post('/v1/chat/completions', CHAT);
    const r = await request('GET', gw.metricsUrl);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const check = promtool(r.text);
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}\n${r.text}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), '');
    for (const name of ['fluxgate_requests_total', 'fluxgate_request_duration_seconds',
      'fluxgate_upstream_time_to_first_byte_seconds', 'fluxgate_tokens_total',
      'fluxgate_rate_limit_rejections_total', 'fluxgate_upstream_errors_total',
      'fluxgate_requests_in_flight', 'fluxgate_workers_up', 'fluxgate_worker_restarts_total',
      'fluxgate_key_table_capacity', 'fluxgate_key_table_used',
      'fluxgate_concurrency_slots_held', 'fluxgate_energy_kwh_total',
      'fluxgate_carbon_grams_total', 'fluxgate_water_liters_total',
      'fluxgate_usage_records_pending', 'fluxgate_usage_oldest_pending_age_seconds',
      'fluxgate_usage_journal_sync_duration_seconds',
      'fluxgate_response_store_bytes', 'fluxgate_response_store_files',
      'fluxgate_response_store_stored_total', 'fluxgate_response_store_refused_total',
      'fluxgate_response_store_failed_total', 'fluxgate_response_store_expired_total',
      'fluxgate_response_store_evicted_total', 'fluxgate_response_store_sweeps_total']) {
      assert.match(r.text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    const s = parse(r.text);
    assert.equal(s.get('fluxgate_workers_up'), 2);
    assert.equal(s.get('fluxgate_key_table_capacity'), 1000);
    assert.equal(s.get('fluxgate_key_table_used'), 1);
    assert.equal(s.get('fluxgate_requests_in_flight'), 0);
    // Per-key series are off by default.
    assert.doesNotMatch(r.text, /fluxgate_key_requests_total/);
  });

  test('is not served on the public listener, and the metrics listener serves nothing else', async () => {
    const pub = await gw.get('/metrics');
    assert.equal(pub.status, 404);
    assert.equal(pub.json().error.code, 'not_found');
    const other = await request('GET', gw.metricsUrl.replace('/metrics', '/v1/models'));
    assert.equal(other.status, 404);
    const post = await request('POST', gw.metricsUrl, '');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  test('counters move by exactly the requests of known outcomes', async () => {
    const before = parse(await gw.scrape());
    const usage = { prompt: 0, completion: 0, reasoning: 0, cached: 0 };
    const add = (u) => { for (const k of Object.keys(usage)) usage[k] += u[k]; };

    for (let i = 0; i < 3; i++) {
      const r = await gw.post('/v1/chat/completions', { ...CHAT, max_tokens: 4 + i });
      assert.equal(r.status, 200, r.text);
      add(usageOf(r));
    }
    const st = await gw.post('/v1/chat/completions',
      { ...CHAT, stream: true, max_tokens: 5, stream_options: { include_usage: true } });
    assert.equal(st.status, 200, st.text);
    add(usageOf(st, true));
    const nf = await gw.post('/v1/chat/completions', { ...CHAT, model: 'no-such-model' });
    assert.equal(nf.status, 404, nf.text);
    const nokey = await gw.post('/v1/chat/completions', CHAT, { authorization: null });
    assert.equal(nokey.status, 401, nokey.text);
    const f500 = await gw.post('/v1/chat/completions', { ...CHAT, model: 'fault-500' });
    assert.equal(f500.status, 502, f500.text);
    assert.ok(usage.prompt > 0 && usage.completion > 0, JSON.stringify(usage));

    const after = parse(await gw.scrape());
    assert.deepEqual(deltas(before, after, ['fluxgate_requests_total']), {
      [req('demo-chat', 'demo', '2xx', '')]: 4,
      [req('', '', '4xx', 'model_not_found')]: 1,
      [req('', '', '4xx', 'invalid_api_key')]: 1,
      [req('fault-500', 'demo', '5xx', 'INFERENCE_PROVIDER_ERROR')]: 1,
    });
    assert.deepEqual(deltas(before, after, ['fluxgate_upstream_errors_total']), {
      'fluxgate_upstream_errors_total{provider="demo",kind="5xx"}': 1,
    });
    assert.deepEqual(deltas(before, after, ['fluxgate_rate_limit_rejections_total']), {});
    const tokens = {};
    for (const [dir, n] of Object.entries(usage)) {
      if (n) tokens[`fluxgate_tokens_total{model="demo-chat",provider="demo",direction="${dir}"}`] = n;
    }
    assert.deepEqual(deltas(before, after, ['fluxgate_tokens_total']), tokens);
    // Every request is timed; the five that reached the upstream have a
    // first byte (the 500 included), the 404 and the 401 none.
    assert.deepEqual(deltas(before, after, ['fluxgate_request_duration_seconds_count',
      'fluxgate_upstream_time_to_first_byte_seconds_count']), {
      fluxgate_request_duration_seconds_count: 7,
      fluxgate_upstream_time_to_first_byte_seconds_count: 5,
    });
    assert.equal(after.get('fluxgate_requests_in_flight'), 0);
  });

  test('impact totals move by the environment_impact of the replies, by model and provider', async () => {
    const before = parse(await gw.scrape());
    const sum = { energy_kwh: 0, carbon_g_co2: 0, water_liters: 0 };
    for (let i = 0; i < 3; i++) {
      const r = await gw.post('/v1/chat/completions', { ...CHAT, max_tokens: 6 + i });
      assert.equal(r.status, 200, r.text);
      const impact = r.json().environment_impact;
      for (const k of Object.keys(sum)) sum[k] += impact[k];
    }
    const after = parse(await gw.scrape());
    const labels = '{model="demo-chat",provider="demo"}';
    const families = {
      fluxgate_energy_kwh_total: sum.energy_kwh,
      fluxgate_carbon_grams_total: sum.carbon_g_co2,
      fluxgate_water_liters_total: sum.water_liters,
    };
    for (const [family, want] of Object.entries(families)) {
      const got = after.get(`${family}${labels}`) - (before.get(`${family}${labels}`) ?? 0);
      assert.ok(want > 0, family);
      // The replies carry 6 significant digits; the counters round each
      // request to a nano-unit (energy: 1e-12 kWh).
      const nano = family === 'fluxgate_energy_kwh_total' ? 1e-12 : 1e-9;
      assert.ok(Math.abs(got - want) <= want * 1e-5 + 3 * nano, `${family}: ${got}, replies say ${want}`);
    }
    // Fixed decimals of the unit, never an exponent.
    assert.match(await gw.scrape(), /^fluxgate_energy_kwh_total\{model="demo-chat",provider="demo"\} \d+\.\d{12}$/m);
  });

  test('the usage backlog drains to zero, and each journal sync is timed', async () => {
    const before = parse(await gw.scrape());
    for (let i = 0; i < 3; i++) {
      const r = await gw.post('/v1/chat/completions', CHAT);
      assert.equal(r.status, 200, r.text);
    }
    const after = await waitFor('the usage records to reach the journal', async () => {
      const s = parse(await gw.scrape());
      return s.get('fluxgate_usage_records_pending') === 0 ? s : null;
    });
    assert.equal(after.get('fluxgate_usage_oldest_pending_age_seconds'), 0);
    const h = 'fluxgate_usage_journal_sync_duration_seconds';
    assert.ok(after.get(`${h}_count`) > (before.get(`${h}_count`) ?? 0), 'a sync was timed');
    assert.equal(after.get(`${h}_bucket{le="+Inf"}`), after.get(`${h}_count`));
  });

  test('every family docs/operations.md lists is exported, and every exported family is listed', async () => {
    const doc = fs.readFileSync(path.join(SRC_DIR, 'docs/operations.md'), 'utf8');
    const section = doc.slice(doc.indexOf('\n## Metrics'), doc.indexOf('\n## ', doc.indexOf('\n## Metrics') + 1));
    const listed = new Map();
    for (const m of section.matchAll(/^\| `(fluxgate_[a-z_]+)` \| (\w+) \|[^|]*\|([^\n]*)$/gm)) {
      listed.set(m[1], { type: m[2], perKey: /metrics\.per_key/.test(m[3]) });
    }
    assert.ok(listed.size >= 20, `the table lists ${listed.size} families`);
    const exported = new Map();
    for (const m of (await gw.scrape()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) exported.set(m[1], m[2]);
    for (const [name, { type, perKey }] of listed) {
      if (perKey) continue;           // only with metrics.per_key 1: below
      assert.equal(exported.get(name), type, `${name} is listed as a ${type}`);
    }
    for (const name of exported.keys()) assert.ok(listed.has(name), `${name} is not in docs/operations.md`);
  });

  test('histogram buckets are cumulative, +Inf equals _count, and _count equals the requests', async () => {
    const s = parse(await gw.scrape());
    let requests = 0;
    for (const [k, v] of s) if (k.startsWith('fluxgate_requests_total{')) requests += v;
    for (const h of ['fluxgate_request_duration_seconds', 'fluxgate_upstream_time_to_first_byte_seconds']) {
      const buckets = [...s].filter(([k]) => k.startsWith(`${h}_bucket{`));
      assert.equal(buckets.length, 15, h);
      assert.equal(buckets[0][0], `${h}_bucket{le="0.005"}`);
      assert.equal(buckets.at(-2)[0], `${h}_bucket{le="120"}`);
      assert.equal(buckets.at(-1)[0], `${h}_bucket{le="+Inf"}`);
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i][1] >= buckets[i - 1][1], `${h}: ${buckets[i][0]}`);
      }
      assert.equal(buckets.at(-1)[1], s.get(`${h}_count`), h);
      assert.ok(s.get(`${h}_sum`) >= 0);
    }
    assert.equal(s.get('fluxgate_request_duration_seconds_count'), requests);
  });

  test('a rate-limit refusal is counted by its limit', async () => {
    const k = await gw.createKey({ name: 'rpm-1', limits: { requests_per_min: 1 } });
    const before = parse(await gw.scrape());
    const auth = { authorization: `Bearer ${k.secret}` };
    assert.equal((await gw.post('/v1/chat/completions', CHAT, auth)).status, 200);
    const refused = await gw.post('/v1/chat/completions', CHAT, auth);
    assert.equal(refused.status, 429, refused.text);
    const after = parse(await gw.scrape());
    assert.deepEqual(deltas(before, after, ['fluxgate_rate_limit_rejections_total']), {
      'fluxgate_rate_limit_rejections_total{limit="requests"}': 1,
    });
    assert.equal(deltas(before, after, ['fluxgate_requests_total'])[
      req('demo-chat', 'demo', '4xx', 'rate_limit_requests')], 1);
    assert.equal(after.get('fluxgate_key_table_used'), 2);
  });

  test('the master and the workers hold the metrics socket, the syncer does not', () => {
    const port = Number(gw.metricsUrl.match(/:(\d+)\//)[1]);
    assert.deepEqual(listeningPorts(gw.pid), [gw.port, port].sort((a, b) => a - b));
    for (const w of gw.workerPids()) assert.ok(listeningPorts(w).includes(port), `worker ${w}`);
    assert.deepEqual(listeningPorts(syncerPid(gw)), []);
  });

  test('counts survive SIGKILL of every worker, and worker_restarts_total counts the respawns', async () => {
    const before = parse(await gw.scrape());
    assert.ok(before.get('fluxgate_request_duration_seconds_count') > 0);
    for (let i = 0; i < 2; i++) {
      const victim = gw.workerPids()[0];
      process.kill(victim, 'SIGKILL');
      await waitFor('a replacement worker', () => gw.workerPids().length === 2
        && !gw.workerPids().includes(victim), { tries: 100, every: 50 });
    }
    await waitFor('two workers up', async () =>
      parse(await gw.scrape()).get('fluxgate_workers_up') === 2, { tries: 100, every: 50 });
    const after = parse(await gw.scrape());
    assert.equal(after.get('fluxgate_worker_restarts_total')
      - before.get('fluxgate_worker_restarts_total'), 2);
    // No request was made in between: every counter is where it was.
    for (const [k, v] of before) {
      if (/^fluxgate_(requests_total|tokens_total|upstream_errors_total|rate_limit_rejections_total|request_duration_seconds|upstream_time_to_first_byte_seconds)/.test(k)) {
        assert.equal(after.get(k), v, k);
      }
    }
  });
});

describe('metrics.per_key', () => {
  test('1 adds requests and tokens by key id, and promtool still accepts the output', async () => {
    const gw = await startGateway({ sim, config: { metrics: { per_key: 1 } } });
    try {
      const before = parse(await gw.scrape());
      const r = await gw.post('/v1/chat/completions', { ...CHAT, max_tokens: 3 });
      assert.equal(r.status, 200, r.text);
      const u = usageOf(r);
      const text = await gw.scrape();
      const after = parse(text);
      assert.deepEqual(deltas(before, after, ['fluxgate_key_requests_total']), {
        [`fluxgate_key_requests_total{key="${gw.keyId}"}`]: 1,
      });
      assert.equal(after.get(`fluxgate_key_tokens_total{key="${gw.keyId}",direction="prompt"}`),
        u.prompt);
      assert.equal(after.get(`fluxgate_key_tokens_total{key="${gw.keyId}",direction="completion"}`),
        u.completion);
      const check = promtool(text);
      assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
      for (const name of ['fluxgate_key_requests_total', 'fluxgate_key_tokens_total']) {
        assert.match(text, new RegExp(`^# TYPE ${name} counter$`, 'm'), name);
      }
    } finally {
      await gw.stop();
    }
  });
});

describe('the metrics listener', () => {
  test('metrics.listen "off" opens no metrics socket', async () => {
    const gw = await startGateway({ sim, key: false, config: { metrics: { listen: 'off' } } });
    try {
      assert.equal(gw.metricsUrl, null);
      assert.doesNotMatch(gw.log(), /metrics on/);
      assert.deepEqual(listeningPorts(gw.pid), [gw.port]);
      for (const w of gw.workerPids()) assert.deepEqual(listeningPorts(w), [gw.port]);
    } finally {
      await gw.stop();
    }
  });

  test('a reload that turns it off closes it; one that turns it on opens it', async () => {
    const gw = await startGateway({ sim, key: false });
    const port = Number(gw.metricsUrl.match(/:(\d+)\//)[1]);
    const reload = async (metrics, gen) => {
      const old = gw.workerPids();
      const conf = JSON.parse(fs.readFileSync(gw.confPath, 'utf8'));
      conf.metrics = metrics;
      fs.writeFileSync(gw.confPath, JSON.stringify(conf));
      gw.signal('SIGHUP');
      await waitFor('the new generation', async () => {
        const r = (await gw.get('/readyz')).json();
        return r.config_generation === gen && r.status === 'ready';
      }, { tries: 100, every: 50 });
      await waitFor('the old workers to exit', () => old.every((p) => !isAlive(p)),
        { tries: 200, every: 50 });
    };
    try {
      await gw.scrape();
      await reload({ listen: 'off' }, 2);
      assert.ok(await connectRefused(port), 'the metrics port still accepts');
      assert.deepEqual(listeningPorts(gw.pid), [gw.port]);
      await reload({ listen: `127.0.0.1:${port}` }, 3);
      const s = parse(await gw.scrape());
      assert.equal(s.get('fluxgate_workers_up'), 2);
    } finally {
      await gw.stop();
    }
  });

  // A configuration of the shipped catalogs with @over; its path.
  function writeConfig(dir, over) {
    const conf = {
      listen: '127.0.0.1:1',
      workers: 1,
      pid_file: '',
      data_dir: path.join(dir, 'data'),
      keys: { max_keys: 100 },
      catalog: {
        providers: path.join(SRC_DIR, 'etc/providers.json'),
        models: path.join(SRC_DIR, 'etc/models.json'),
      },
      ...over,
    };
    const p = path.join(dir, 'fluxgate.json');
    fs.writeFileSync(p, JSON.stringify(conf));
    return p;
  }

  test('an address already in use is a clear start-up error', async () => {
    const busy = net.createServer();
    await new Promise((r) => busy.listen(0, '127.0.0.1', r));
    const { port } = busy.address();
    const dir = tempDir('fg-metrics-');
    try {
      const conf = writeConfig(dir, {
        listen: `127.0.0.1:${await freePort()}`,
        metrics: { listen: `127.0.0.1:${port}` },
      });
      const child = spawn(path.join(BIN_DIR, 'fluxgate'), ['-c', conf],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      const code = await new Promise((r) => child.on('exit', (c) => r(c)));
      clearTimeout(t);
      assert.equal(code, 1, out);
      assert.match(out, new RegExp(`metrics\\.listen: bind\\(127\\.0\\.0\\.1:${port}\\) failed: Address already in use`));
    } finally {
      busy.close();
    }
  });

  test('fluxgate -t refuses a metrics address that is a public listener, or not an address', () => {
    const dir = tempDir('fg-metrics-');
    let conf = writeConfig(dir, { listen: '127.0.0.1:8080', metrics: { listen: '127.0.0.1:8080' } });
    let r = spawnSync(path.join(BIN_DIR, 'fluxgate'), ['-t', '-c', conf], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /"metrics\.listen": 127\.0\.0\.1:8080 is a public listener/);
    conf = writeConfig(dir, { metrics: { listen: 'nowhere' } });
    r = spawnSync(path.join(BIN_DIR, 'fluxgate'), ['-t', '-c', conf], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /"metrics\.listen"/);
    conf = writeConfig(dir, { metrics: { listen: 'off' } });
    r = spawnSync(path.join(BIN_DIR, 'fluxgate'), ['-t', '-c', conf], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});

// The response store's folder, counted at start and swept by the syncer
// (common/store/respstore.h; docs/operations.md, "Response store"): files
// written into it before the start stand for what an earlier run left.
describe('the response store', () => {
  // Where the store keeps id @id: <data>/responses/<FNV-1a low byte>/<id>.
  function storePath(dataDir, id) {
    let h = 0xcbf29ce484222325n;
    for (const c of Buffer.from(id)) {
      h = ((h ^ BigInt(c)) * 0x100000001b3n) & 0xffffffffffffffffn;
    }
    const shard = (h & 0xffn).toString(16).padStart(2, '0');
    return path.join(dataDir, 'responses', shard, id);
  }

  function writeRecord(dataDir, id, createdMs, expiresMs) {
    const body = '[{"role":"user","content":"hi"}]';
    const p = storePath(dataDir, id);
    fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 });
    fs.writeFileSync(p, `FGRS1 R key_x ${createdMs} ${expiresMs} ${body.length}\n${body}`);
    return p;
  }

  test('a start counts what the folder holds; the syncer sweeps it every responses.store_sweep_s', async () => {
    const dir = tempDir('fg-respstore-');
    const data = path.join(dir, 'data');
    const now = Date.now();
    const live = writeRecord(data, 'resp_live', now, now + 3600000);
    const soon = writeRecord(data, 'resp_soon', now, now + 2500);
    const dead = writeRecord(data, 'resp_dead', now - 7200000, now - 3600000);
    const tmp = path.join(path.dirname(live), '.tmp.1.1');
    fs.writeFileSync(tmp, 'half');
    const gw = await startGateway({ sim, dir, config: { responses: { store_sweep_s: 1 } } });
    try {
      assert.equal(fs.readdirSync(path.join(data, 'responses')).length, 256);
      assert.ok(!fs.existsSync(dead), 'an expired file is deleted at start');
      assert.ok(!fs.existsSync(tmp), 'a temporary file is deleted at start');
      const first = parse(await gw.scrape());
      assert.equal(first.get('fluxgate_response_store_files'), 2);
      assert.equal(first.get('fluxgate_response_store_bytes'),
        fs.statSync(live).size + fs.statSync(soon).size);
      const swept = await waitFor('the sweep of the expired record', async () => {
        const s = parse(await gw.scrape());
        return s.get('fluxgate_response_store_expired_total') === 1 ? s : null;
      }, { tries: 100, every: 100 });
      assert.ok(swept.get('fluxgate_response_store_sweeps_total') >= 1);
      assert.equal(swept.get('fluxgate_response_store_files'), 1);
      assert.equal(swept.get('fluxgate_response_store_bytes'), fs.statSync(live).size);
      assert.ok(!fs.existsSync(soon));
      assert.ok(fs.existsSync(live));
      await waitFor('the sweep\'s log line', () =>
        /response store: swept \d+ files, deleted 1 expired/.test(gw.log()));
    } finally {
      await gw.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('responses.store_bytes 0 turns it off: no folder, no sweep', async () => {
    const dir = tempDir('fg-respstore-');
    const gw = await startGateway({ sim, dir, config: { responses: { store_bytes: 0, store_sweep_s: 1 } } });
    try {
      assert.match(gw.log(), /response store off/);
      await new Promise((r) => setTimeout(r, 1500));
      const s = parse(await gw.scrape());
      assert.equal(s.get('fluxgate_response_store_sweeps_total'), 0);
      assert.ok(!fs.existsSync(path.join(dir, 'data', 'responses')));
    } finally {
      await gw.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
