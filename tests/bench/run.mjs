#!/usr/bin/env node
// `make bench`: fluxgate against the upstream alone ("direct") and against
// nginx as a plain keep-alive proxy, in one run, on loopback. docs/
// performance.md explains the method and how to read the table.
//
//   node tests/bench/run.mjs [--bin DIR] [--out DIR] [--mode all|throughput|capacity|serve]
//                            [--seconds S] [--rounds N] [--profile]
//
// Every process it starts is ended by its pid on the way out (normal end,
// error, Ctrl-C). Exit status: 0 when every request of every cell
// succeeded, 1 when any failed (a non-2xx reply, a socket error, a timeout,
// a stream without [DONE]), 2 when the bench itself could not run.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { shmName } from '../lib/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.resolve(HERE, '../..');

// ---- options ------------------------------------------------------------

const opt = { bin: 'build/bench/bin', out: 'build/bench', mode: 'all', seconds: 5,
  rounds: 2, profile: false, idle: 10000, streams: 1000 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const next = () => process.argv[++i];
  if (a === '--bin') opt.bin = next();
  else if (a === '--out') opt.out = next();
  else if (a === '--mode') opt.mode = next();
  else if (a === '--seconds') opt.seconds = Number(next());
  else if (a === '--rounds') opt.rounds = Number(next());
  else if (a === '--idle') opt.idle = Number(next());
  else if (a === '--streams') opt.streams = Number(next());
  else if (a === '--profile') opt.profile = true;
  else { console.error(`bench: unknown option ${a}`); process.exit(2); }
}
if (!['all', 'throughput', 'capacity', 'serve'].includes(opt.mode)) {
  console.error(`bench: --mode must be all, throughput, capacity or serve`);
  process.exit(2);
}
opt.bin = path.resolve(SRC, opt.bin);
opt.out = path.resolve(SRC, opt.out);
const RUN = path.join(opt.out, 'run');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;

// ---- processes ----------------------------------------------------------

const procs = new Map();   // pid -> { name, child }

function log(msg) {
  process.stdout.write(`bench: ${msg}\n`);
}

function start(name, cmd, args, { env = {}, stdout = null } = {}) {
  const logFile = path.join(RUN, `${name}.out`);
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout === 'pipe' ? 'pipe' : fd, fd],
  });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
  procs.set(child.pid, { name, child });
  child.exited = new Promise((resolve) => child.on('exit', (code, sig) => {
    procs.delete(child.pid);
    resolve({ code, sig });
  }));
  child.logFile = logFile;
  return child;
}

async function stop(child, ms = 5000) {
  if (!procs.has(child.pid)) return;
  try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
  const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
  await child.exited;
  clearTimeout(t);
}

async function stopAll() {
  // Reverse order of start: clients first, the upstream last.
  const list = [...procs.values()].reverse();
  for (const { child } of list) await stop(child);
}

process.on('exit', () => {
  for (const pid of procs.keys()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    log(`${sig}: stopping what was started`);
    await stopAll();
    process.exit(2);
  });
}

// Runs a command to its end; resolves to { code, stdout, stderr }.
function run(name, cmd, args, { env = {}, timeoutMs = 600000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) { reject(new Error(`cannot run ${cmd}`)); return; }
    procs.set(child.pid, { name, child });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      clearTimeout(t);
      procs.delete(child.pid);
      resolve({ code, sig, stdout, stderr });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A port nothing listens on now, never one this run handed out before:
// the kernel may give a just-closed ephemeral port again, and two
// servers of one run on one port fail (nginx: "duplicate listen").
const portsGiven = new Set();
async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port: p } = s.address();
        s.close(() => resolve(p));
      });
    });
    if (!portsGiven.has(port)) {
      portsGiven.add(port);
      return port;
    }
  }
}

async function waitFor(what, fn, { tries = 200, every = 50 } = {}) {
  for (let i = 0; i < tries; i++) {
    try { if (await fn()) return; } catch { /* not yet */ }
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function request({ port, socketPath, method = 'GET', path: p, body, headers = {}, timeoutMs = 10000 }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, socketPath, method, path: p,
      headers: { ...headers, ...(body ? { 'content-length': Buffer.byteLength(body) } : {}) },
      agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// ---- /proc --------------------------------------------------------------

function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

// The pid and every descendant of it.
function tree(root) {
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = procStat(d);
    if (!st) continue;
    if (!kids.has(st.ppid)) kids.set(st.ppid, []);
    kids.get(st.ppid).push(Number(d));
  }
  const out = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop();
    out.push(p);
    for (const k of kids.get(p) || []) todo.push(k);
  }
  return out;
}

function cpuTicks(pids) {
  let t = 0;
  for (const p of pids) {
    const st = procStat(p);
    if (st) t += st.ticks;
  }
  return t;
}

function memOf(pid) {
  const m = {};
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
      const r = /^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):\s+(\d+) kB/.exec(line);
      if (r) m[r[1]] = Number(r[2]);
    }
  } catch {
    return null;
  }
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
      const r = /^(Pss|Private_Clean|Private_Dirty):\s+(\d+) kB/.exec(line);
      if (r) m[r[1]] = Number(r[2]);
    }
  } catch { /* older kernels: no rollup */ }
  // rss_noshm_kb: what the issue's targets are judged on ("the shm arena
  // reported apart"); private_kb: pages no other process maps.
  return { rss_kb: m.VmRSS, hwm_kb: m.VmHWM, anon_kb: m.RssAnon, file_kb: m.RssFile,
    shmem_kb: m.RssShmem, rss_noshm_kb: m.VmRSS - (m.RssShmem || 0), pss_kb: m.Pss,
    private_kb: (m.Private_Clean || 0) + (m.Private_Dirty || 0) };
}

const mib = (kb) => (kb / 1024);

// ---- set-up -------------------------------------------------------------

const BODY = {
  model: 'sim-fast',
  messages: [
    { role: 'system', content: 'You are a concise assistant. Answer in plain text.' },
    { role: 'user', content: 'Summarise in one sentence: the quick brown fox jumps over the lazy dog while the cat watches from the window sill, and nobody in the house notices either of them.' },
  ],
  max_tokens: 48,
  temperature: 0.7,
  user: 'bench-user-0001',
};

function bodyFile(name, fields) {
  const file = path.join(RUN, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...BODY, ...fields }));
  return file;
}

function model(id, provider) {
  return { id, provider, upstream_id: id, created: 1735689600, owned_by: 'bench',
    context_window: 131072, max_output_tokens: 8192, supports_vision: true,
    supports_tools: true, reasoning_effort: [],
    pricing: { prompt_per_mtok_micro: 100000, cached_prompt_per_mtok_micro: 50000,
      completion_per_mtok_micro: 400000 } };
}

function fill(template, vars) {
  let s = fs.readFileSync(path.join(HERE, template), 'utf8');
  for (const [k, v] of Object.entries(vars)) s = s.split(`@${k}@`).join(String(v));
  return s;
}

async function startNginx(name, template, vars) {
  const prefix = path.join(RUN, name);
  fs.mkdirSync(path.join(prefix, 'tmp'), { recursive: true });
  fs.chmodSync(prefix, 0o755);
  fs.chmodSync(path.join(prefix, 'tmp'), 0o777);
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(conf, fill(template, { PREFIX: prefix, ...vars }));
  const nginx = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
  const elog = path.join(prefix, 'error.log');
  const t = spawnSync(nginx, ['-t', '-q', '-e', elog, '-p', prefix, '-c', conf], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`nginx -t ${conf}: ${t.stderr}`);
  return start(name, nginx, ['-e', elog, '-p', prefix, '-c', conf]);
}

// Starts fluxgate; resolves to { child, port, metricsPort, pids() }.
// 20,000 connections per worker, or what the hard open-file limit leaves
// once @reserved descriptors are set aside.
function benchMaxConnections(reserved) {
  const out = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  const hard = out === 'unlimited' ? Infinity : Number(out);
  return Math.max(1024, Math.min(20000, hard - reserved - 64));
}

async function startFluxgate(name, { simPort, fixedPort, env = {} }) {
  const dir = path.join(RUN, name);
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const metricsPort = await freePort();
  fs.writeFileSync(path.join(dir, 'providers.json'), JSON.stringify({ providers: [
    { id: 'fixed', name: 'nginx with fixed replies', base_url: `http://127.0.0.1:${fixedPort}/v1`,
      key_env: 'FG_BENCH_UPSTREAM_KEY',
      timeouts: { connect_ms: 2000, first_byte_ms: 30000, idle_ms: 30000, total_ms: 120000 } },
    { id: 'sim', name: 'fg-sim', base_url: `http://127.0.0.1:${simPort}/v1`,
      key_env: 'FG_BENCH_UPSTREAM_KEY',
      timeouts: { connect_ms: 2000, first_byte_ms: 30000, idle_ms: 30000, total_ms: 120000 } },
  ] }));
  const models = [
    model('sim-fast', 'fixed'), model('sim-instant', 'sim'), model('sim-ttft-50', 'sim'),
    model('sim-ttft-50-delay-5', 'sim'), model('sim-ttft-20-delay-5', 'sim'),
    model('sim-ttft-1000-delay-50', 'sim'),
  ];
  fs.writeFileSync(path.join(dir, 'models.json'), JSON.stringify({ models }));
  const conf = {
    listen: `127.0.0.1:${port}`,
    workers: 2,
    pid_file: path.join(dir, 'fluxgate.pid'),
    data_dir: path.join(dir, 'data'),
    log: { file: path.join(dir, 'fluxgate.log'), level: 'notice' },
    shutdown_timeout_ms: 3000,
    // Every load generator connects from 127.0.0.1: no per-client cap. The
    // caps need max_connections + 1,024 x 2 providers + 192 descriptors:
    // fluxgate exits 1 at start if the hard limit is lower
    // (docs/operations.md), so a lower hard limit lowers the cap.
    limits: { max_connections: benchMaxConnections(2 * 1024 + 192), max_connections_per_client: 0,
      keepalive_timeout_ms: 300000 },
    upstream: { max_connections_per_host: 1024 },
    // 20,000 requests a second fill the default 1,024-record usage rings
    // within one slow fdatasync of the journal (then 503, by design): an
    // operator expecting such rates sizes them up, as here.
    usage: { ring_records: 8192 },
    metrics: { listen: `127.0.0.1:${metricsPort}` },
    access_log: { file: path.join(opt.out, `${name}-access.log`) },
    catalog: { providers: 'providers.json', models: 'models.json' },
  };
  // The impact tables (metering, issue 4) must describe every catalog model
  // and provider: the shipped ones, plus the bench's, sized like the demo's.
  const impactSrc = path.join(SRC, 'etc/impact');
  if (fs.existsSync(impactSrc)) {
    const idir = path.join(dir, 'impact');
    fs.mkdirSync(idir, { recursive: true });
    for (const f of fs.readdirSync(impactSrc)) fs.copyFileSync(path.join(impactSrc, f), path.join(idir, f));
    const im = JSON.parse(fs.readFileSync(path.join(idir, 'models.json'), 'utf8'));
    const demo = im.models.find((x) => x.id === 'demo-chat');
    if (demo) {
      for (const x of models) {
        im.models.push({ ...demo, id: x.id, aliases: undefined, source: 'bench: sized like demo-chat' });
      }
      fs.writeFileSync(path.join(idir, 'models.json'), JSON.stringify(im));
    }
    const ip = JSON.parse(fs.readFileSync(path.join(idir, 'providers.json'), 'utf8'));
    const dp = ip.providers.find((x) => x.id === 'demo');
    if (dp) {
      for (const id of ['fixed', 'sim']) ip.providers.push({ ...dp, id, name: `bench ${id}` });
      fs.writeFileSync(path.join(idir, 'providers.json'), JSON.stringify(ip));
    }
  }
  fs.writeFileSync(path.join(dir, 'fluxgate.json'), JSON.stringify(conf, null, 2));
  fs.rmSync(conf.access_log.file, { force: true });
  // A fluxgate of an earlier run that was killed leaves its shared-memory
  // arena behind, and the next master would adopt it and scan its usage
  // rings (hundreds of MiB in the master's RSS): start from none.
  fs.rmSync(`/dev/shm/${shmName(conf.data_dir)}`, { force: true });
  const child = start(name, path.join(opt.bin, 'fluxgate'), ['-c', path.join(dir, 'fluxgate.json')],
    { env: { FG_BENCH_UPSTREAM_KEY: 'bench', ...env } });
  await waitFor(`${name} /readyz`, async () => (await request({ port, path: '/readyz' })).status === 200);
  const sock = path.join(conf.data_dir, 'admin.sock');
  const token = () => fs.readFileSync(path.join(conf.data_dir, 'admin.token'), 'utf8').trim();
  await waitFor(`${name} admin API`, async () => (await request({ socketPath: sock, path: '/admin/v1/status',
    headers: { authorization: `Bearer ${token()}` } })).status === 200);
  // A key whose limits and balance never stop a bench request.
  const r = await request({ socketPath: sock, method: 'POST', path: '/admin/v1/keys',
    headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', owner: 'bench',
      limits: { requests_per_min: 1000000000, tokens_per_min: 1000000000000, max_concurrent: 1000000 },
      energy: { balance_micro: 1000000000000000 } }) });
  if (r.status !== 201) throw new Error(`${name}: creating the bench key: ${r.status} ${r.text}`);
  const key = JSON.parse(r.text);
  const logText = () => fs.readFileSync(conf.log.file, 'utf8');
  const pids = () => {
    const out = { master: child.pid, syncer: null, workers: [] };
    const w = new Map();
    for (const m of logText().matchAll(/started the syncer, pid (\d+)/g)) out.syncer = Number(m[1]);
    for (const m of logText().matchAll(/started worker#(\d+), pid (\d+)/g)) w.set(m[1], Number(m[2]));
    out.workers = [...w.entries()].sort().map(([, p]) => p);
    return out;
  };
  return { name, child, port, metricsPort, key: key.secret, keyId: key.key.id, conf, pids, logText };
}

// ---- measurements -------------------------------------------------------

let failures = 0;
const failNotes = [];

function noteFailure(where, n, detail) {
  if (n > 0) {
    failures += n;
    failNotes.push(`${where}: ${n} failed (${detail})`);
  }
}

async function wrk({ target, conns, seconds, body, key }) {
  const out = path.join(RUN, 'wrk-out.json');
  fs.rmSync(out, { force: true });
  const before = cpuTicks(target.cpuPids());
  const t0 = process.hrtime.bigint();
  const r = await run('wrk', 'wrk', ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '10s',
    '-s', path.join(HERE, 'chat.lua'), `http://127.0.0.1:${target.port}`],
  { env: { BENCH_BODY_FILE: body, BENCH_KEY: key, BENCH_OUT: out } });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = cpuTicks(target.cpuPids());
  if (r.code !== 0 || !fs.existsSync(out)) throw new Error(`wrk failed: ${r.stderr}`);
  const j = JSON.parse(fs.readFileSync(out, 'utf8'));
  const e = j.errors;
  const errs = e.connect + e.read + e.write + e.status + e.timeout;
  const cpuS = (after - before) / CLK_TCK;
  return {
    rps: j.requests / (j.duration_us / 1e6),
    requests: j.requests,
    p50_us: j.latency_us.p['50'],
    p99_us: j.latency_us.p['99'],
    mean_us: j.latency_us.mean,
    non2xx: e.status,
    errors: errs,
    error_detail: e,
    cpu_s: cpuS,
    cpu_cores: cpuS / wall,
    cpu_us_per_req: j.requests ? (cpuS * 1e6) / j.requests : null,
  };
}

async function client(args) {
  const r = await run('fg-bench-client', path.join(opt.bin, 'fg-bench-client'), args);
  let j;
  try {
    j = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    throw new Error(`fg-bench-client ${args.join(' ')}: exit ${r.code}: ${r.stdout} ${r.stderr}`);
  }
  return j;
}

const median = (xs) => {
  const v = xs.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

function summarise(runs) {
  const keys = ['rps', 'p50_us', 'p99_us', 'cpu_us_per_req', 'cpu_cores'];
  const s = {};
  for (const k of keys) s[k] = median(runs.map((r) => r[k]));
  s.requests = runs.reduce((a, r) => a + r.requests, 0);
  s.non2xx = runs.reduce((a, r) => a + r.non2xx, 0);
  s.errors = runs.reduce((a, r) => a + r.errors, 0);
  s.rounds = runs;
  return s;
}

// ---- the run ------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  fs.rmSync(RUN, { recursive: true, force: true });
  fs.mkdirSync(RUN, { recursive: true });
  for (const b of ['fluxgate', 'fg-sim', 'fg-bench-client']) {
    if (!fs.existsSync(path.join(opt.bin, b))) throw new Error(`${opt.bin}/${b} is missing (make bench builds it)`);
  }
  const nofile = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  const results = {
    version: 1,
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, mem_gib: +(os.totalmem() / 2 ** 30).toFixed(1),
      kernel: os.release(), load_avg_at_start: os.loadavg().map((x) => +x.toFixed(2)), nofile },
    method: { seconds_per_run: opt.seconds, rounds: opt.rounds, wrk_threads: 1,
      order: 'per cell, targets alternate direct, fluxgate, nginx each round (A B C A B C)',
      fluxgate_workers: 2, nginx_workers: 2 },
    notes: [],
  };
  const note = (s) => { results.notes.push(s); log(s); };

  // 1. Upstreams: the simulator (under the TCP_NODELAY shim, as a real
  //    provider's server) and nginx with fixed replies.
  const simPort = await freePort();
  const shim = path.join(opt.bin, 'nodelay.so');
  const sim = start('fg-sim', path.join(opt.bin, 'fg-sim'), ['-q', '-l', `127.0.0.1:${simPort}`],
    { env: fs.existsSync(shim) ? { LD_PRELOAD: shim } : {} });
  await waitFor('fg-sim', async () => (await request({ port: simPort, path: '/v1/models' })).status === 200);

  const fastBody = bodyFile('body-fast', {});
  const slowBody = bodyFile('body-slow', { model: 'sim-ttft-50' });
  const stream = { stream: true, stream_options: { include_usage: true } };
  const instantBody = bodyFile('body-stream-instant', { model: 'sim-instant', max_tokens: 300, ...stream });
  const pacedBody = bodyFile('body-stream-paced', { model: 'sim-ttft-50-delay-5', max_tokens: 200, ...stream });
  const firstBody = bodyFile('body-stream-first', { model: 'sim-ttft-20-delay-5', max_tokens: 8, ...stream });
  const capBody = bodyFile('body-stream-slow', { model: 'sim-ttft-1000-delay-50', max_tokens: 60, ...stream });
  const reply = await request({ port: simPort, method: 'POST', path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json' }, body: fs.readFileSync(fastBody, 'utf8') });
  if (reply.status !== 200 || /['$\\]/.test(reply.text)) {
    throw new Error(`the simulator's reply cannot be used as the fixed reply: ${reply.status} ${reply.text}`);
  }
  const fixedPort = await freePort();
  const fixed = await startNginx('nginx-upstream', 'nginx-upstream.conf', { PORT: fixedPort, REPLY: reply.text });
  await waitFor('nginx upstream', async () => (await request({ port: fixedPort, path: '/healthz' })).status === 200);

  // 2. The proxies: nginx (the floor for one hop) and fluxgate.
  const nginxFast = await freePort();
  const nginxSim = await freePort();
  const proxy = await startNginx('nginx-proxy', 'nginx-proxy.conf', { FAST_PORT: fixedPort, SIM_PORT: simPort,
    FAST_LISTEN: nginxFast, SIM_LISTEN: nginxSim });
  await waitFor('nginx proxy', async () => (await request({ port: nginxFast, path: '/healthz' })).status === 200);

  const fg = await startFluxgate('fluxgate', { simPort, fixedPort });
  const fgPids = fg.pids();
  log(`fluxgate master ${fgPids.master}, syncer ${fgPids.syncer}, workers ${fgPids.workers.join(' ')}`);
  const idleMem = { master: memOf(fgPids.master), syncer: memOf(fgPids.syncer),
    workers: fgPids.workers.map(memOf) };

  // What this build of fluxgate does on the request path.
  const check = await request({ port: fg.port, method: 'POST', path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${fg.key}` },
    body: fs.readFileSync(fastBody, 'utf8') });
  if (check.status !== 200) throw new Error(`fluxgate answered the bench body with ${check.status}: ${check.text}`);
  const metering = /environment_impact/.test(check.text);
  results.features = {
    key_auth: true,
    rate_limits: 'on: the bench key has requests_per_min 1e9, tokens_per_min 1e12, max_concurrent 1e6',
    metrics: `on: ${fg.conf.metrics.listen}`,
    access_log: fg.conf.access_log.file,
    metering_and_impact: metering ? 'on (environment_impact in replies)' : 'not in this build (issue 4 in progress)',
  };
  note(metering ? 'metering and impact are on' : 'metering and impact are not in this build (issue 4 in progress): not measured');

  // Targets. cpuPids is re-read on each run (workers may be respawned).
  const T = {
    direct: { name: 'direct', port: fixedPort, cpuPids: () => tree(fixed.pid) },
    fluxgate: { name: 'fluxgate', port: fg.port, cpuPids: () => tree(fg.child.pid) },
    nginx: { name: 'nginx', port: nginxFast, cpuPids: () => tree(proxy.pid) },
  };
  const TS = {
    direct: { name: 'direct', port: simPort, cpuPids: () => [sim.pid] },
    fluxgate: T.fluxgate,
    nginx: { name: 'nginx', port: nginxSim, cpuPids: () => tree(proxy.pid) },
  };
  const order = ['direct', 'fluxgate', 'nginx'];

  if (opt.mode === 'serve') {
    // For profiling by hand: everything up, the ports and pids printed.
    const info = { direct: fixedPort, sim: simPort, fluxgate: fg.port, metrics: fg.metricsPort,
      nginx_fast: nginxFast, nginx_sim: nginxSim, key: fg.key, pids: fg.pids(),
      nginx_pids: tree(proxy.pid), bodies: RUN };
    fs.writeFileSync(path.join(RUN, 'serve.json'), JSON.stringify(info, null, 2));
    log(`serving until SIGINT/SIGTERM: ${JSON.stringify(info)}`);
    await new Promise(() => {});
  }

  // The authenticate stage on its own (tests/bench/bench_auth.c), if built.
  const authBin = path.join(opt.bin, 'bench_auth');
  if (fs.existsSync(authBin)) {
    const r = await run('bench_auth', authBin, []);
    results.auth_stage = r.stdout.trim();
    log(results.auth_stage);
  }

  // Token counting on its own (tests/bench/bench_tokens.c), if built.
  const tokensBin = path.join(opt.bin, 'bench_tokens');
  if (fs.existsSync(tokensBin)) {
    const r = await run('bench_tokens', tokensBin, []);
    results.token_count = r.stdout.trim().split('\n').filter(Boolean);
    for (const line of results.token_count) log(line);
  }

  // Routing on its own (tests/bench/bench_route.c), if built.
  const routeBin = path.join(opt.bin, 'bench_route');
  if (fs.existsSync(routeBin)) {
    const r = await run('bench_route', routeBin, []);
    results.route = r.stdout.trim().split('\n').filter(Boolean);
    for (const line of results.route) log(line);
  }

  if (opt.mode !== 'capacity') {
    // 3. Warm-up: connections, caches, the key's limiter entries.
    log('warm-up');
    for (const n of order) await wrk({ target: T[n], conns: 16, seconds: 1, body: fastBody, key: fg.key });

    // 4. Fast upstream: cost per request, at 1, 16, 64, 256 connections.
    results.fast = {};
    const memRounds = [];
    for (const c of [1, 16, 64, 256]) {
      const runs = { direct: [], fluxgate: [], nginx: [] };
      for (let r = 0; r < opt.rounds; r++) {
        for (const n of order) {
          const x = await wrk({ target: T[n], conns: c, seconds: opt.seconds, body: fastBody, key: fg.key });
          runs[n].push(x);
          noteFailure(`fast c=${c} ${n} round ${r + 1}`, x.errors, JSON.stringify(x.error_detail));
          log(`fast c=${c} round ${r + 1} ${n}: ${x.rps.toFixed(0)} req/s, p50 ${x.p50_us} µs, ` +
            `p99 ${x.p99_us} µs, ${x.cpu_us_per_req?.toFixed(1)} µs CPU/req, errors ${x.errors}`);
        }
        memRounds.push({ after: `fast c=${c} round ${r + 1}`, cell: c, round: r + 1,
          workers: fg.pids().workers.map(memOf) });
      }
      results.fast[c] = Object.fromEntries(order.map((n) => [n, summarise(runs[n])]));
    }
    results.memory_after_cells = memRounds;

    // 5. Fixed offered load: open-loop, 2,000 requests/s (latency from the
    //    moment each request was due, as wrk2 measures).
    results.fixed_load = {};
    for (const n of order) {
      const j = await client(['rate', '-a', `127.0.0.1:${T[n].port}`, '-b', fastBody, '-k', fg.key,
        '-r', '2000', '-d', String(opt.seconds), '-c', '64', '-T', '30']);
      noteFailure(`fixed load ${n}`, j.failed, `bad status ${j.bad_status}, io ${j.io_errors}`);
      results.fixed_load[n] = j;
      log(`2000 req/s ${n}: achieved ${j.achieved_rps.toFixed(0)}, p50 ${j.latency_us.p50} µs, p99 ${j.latency_us.p99} µs`);
    }

    // 6. An upstream that answers after 50 ms, 256 connections.
    results.slow = {};
    {
      const runs = { direct: [], fluxgate: [], nginx: [] };
      for (let r = 0; r < opt.rounds; r++) {
        for (const n of order) {
          const x = await wrk({ target: TS[n], conns: 256, seconds: opt.seconds, body: slowBody, key: fg.key });
          runs[n].push(x);
          noteFailure(`slow c=256 ${n} round ${r + 1}`, x.errors, JSON.stringify(x.error_detail));
          log(`50 ms upstream c=256 round ${r + 1} ${n}: ${x.rps.toFixed(0)} req/s, p50 ${x.p50_us} µs, ` +
            `p99 ${x.p99_us} µs, errors ${x.errors}`);
        }
      }
      results.slow[256] = Object.fromEntries(order.map((n) => [n, summarise(runs[n])]));
    }

    // 7. Streams. (a) An instant 300-event stream, 100 in a row on one
    //    connection: the relay's cost per stream. (b) Paced like a model
    //    (first token after 50 ms, then one per 5 ms, 200 tokens), 64 at
    //    once: time to the first event and whether anything is held back.
    let fgShim = null;
    if (fs.existsSync(shim)) {
      // The same fluxgate with TCP_NODELAY on its client sockets (the shim):
      // what the suggested fix would buy. Streams only.
      fgShim = await startFluxgate('fluxgate-nodelay', { simPort, fixedPort, env: { LD_PRELOAD: shim } });
    }
    const streamTargets = [['direct', simPort, ''], ['fluxgate', fg.port, fg.key], ['nginx', nginxSim, '']];
    if (fgShim) streamTargets.push(['fluxgate+nodelay', fgShim.port, fgShim.key]);
    results.streams = { instant: {}, first: {}, paced: {} };
    for (const [kind, body, n, conc] of [['instant', instantBody, 100, 1], ['first', firstBody, 20, 1],
      ['paced', pacedBody, 64, 64]]) {
      const acc = {};
      for (let r = 0; r < opt.rounds; r++) {
        for (const [name, port, key] of streamTargets) {
          const args = ['sse', '-a', `127.0.0.1:${port}`, '-b', body, '-n', String(n), '-c', String(conc), '-T', '60'];
          if (key) args.push('-k', key);
          const j = await client(args);
          noteFailure(`stream ${kind} ${name} round ${r + 1}`, j.failed,
            `bad status ${j.bad_status}, io ${j.io_errors}, no [DONE] ${j.no_done}`);
          (acc[name] ||= []).push(j);
          log(`stream ${kind} round ${r + 1} ${name}: first byte p50 ${j.first_byte_us.p50} µs, ` +
            `first token p50 ${j.second_event_us.p50} µs, last byte p50 ${j.last_byte_us.p50} µs, ` +
            `${j.events_per_stream} events, failed ${j.failed}`);
        }
      }
      for (const [name, runs] of Object.entries(acc)) {
        results.streams[kind][name] = {
          first_byte_p50_us: median(runs.map((j) => j.first_byte_us.p50)),
          first_byte_p99_us: median(runs.map((j) => j.first_byte_us.p99)),
          first_token_p50_us: median(runs.map((j) => j.second_event_us.p50)),
          last_byte_p50_us: median(runs.map((j) => j.last_byte_us.p50)),
          last_byte_p99_us: median(runs.map((j) => j.last_byte_us.p99)),
          events_per_stream: runs[0].events_per_stream,
          streams: runs.reduce((a, j) => a + j.requests, 0),
          failed: runs.reduce((a, j) => a + j.failed, 0),
          rounds: runs,
        };
      }
    }
    if (fgShim) await stop(fgShim.child);

    // 8. Optional profile of one worker during a 64-connection run.
    if (opt.profile && spawnSync('sh', ['-c', 'command -v perf']).status !== 0) {
      note('--profile: perf is not installed (apt-get install linux-perf); no profile');
    } else if (opt.profile) {
      const w = fg.pids().workers[0];
      const data = path.join(opt.out, 'perf.data');
      const perf = start('perf', 'perf', ['record', '-g', '-F', '999', '-o', data, '-p', String(w), '--', 'sleep', String(opt.seconds)]);
      await sleep(200);
      await wrk({ target: T.fluxgate, conns: 64, seconds: opt.seconds, body: fastBody, key: fg.key });
      await perf.exited;
      const rep = spawnSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--sort', 'symbol',
        '--percent-limit', '0.7', '-g', 'none'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      fs.writeFileSync(path.join(opt.out, 'profile.txt'), rep.stdout);
      log(`profile of worker ${w}: ${path.join(opt.out, 'profile.txt')}`);
    }
  }

  // 9. Capacity: 10,000 idle keep-alive connections and 1,000 slow streams
  //    at once; RSS of each process before, while held, after.
  if (opt.mode !== 'throughput') {
    let idle = opt.idle;
    let streams = opt.streams;
    const room = nofile - 200;
    if (idle + streams > room) {
      const k = room / (idle + streams);
      idle = Math.floor(idle * k);
      streams = Math.floor(streams * k);
      note(`ulimit -n is ${nofile}: capacity scaled down to ${idle} idle connections and ${streams} streams`);
    }
    // Fresh instances, so that memory freed by the earlier cells and kept
    // by malloc does not hide what the connections cost.
    results.capacity = {};
    const fgCap = await startFluxgate('fluxgate-capacity', { simPort, fixedPort });
    const nxCapFast = await freePort();
    const nxCapSim = await freePort();
    const nxCap = await startNginx('nginx-capacity', 'nginx-proxy.conf', { FAST_PORT: fixedPort, SIM_PORT: simPort,
      FAST_LISTEN: nxCapFast, SIM_LISTEN: nxCapSim });
    await waitFor('nginx (capacity)', async () => (await request({ port: nxCapSim, path: '/healthz' })).status === 200);
    for (const [name, port, key, pidsFn] of [
      ['fluxgate', fgCap.port, fgCap.key, () => { const p = fgCap.pids(); return [p.master, p.syncer, ...p.workers]; }],
      ['nginx', nxCapSim, '', () => tree(nxCap.pid)],
    ]) {
      const pids = pidsFn();
      const args = ['hold', '-a', `127.0.0.1:${port}`, '-b', capBody, '-i', String(idle), '-s', String(streams),
        '-P', pids.join(','), '-T', '90'];
      if (key) args.push('-k', key);
      const j = await client(args);
      const fails = (j.idle_failed || 0) + (j.stream_failed || 0) + (j.idle_recheck_failed || 0)
        + Math.max(0, idle - (j.idle_ok || 0)) + Math.max(0, streams - (j.stream_ok || 0));
      noteFailure(`capacity ${name}`, fails, `idle failed ${j.idle_failed}, streams failed ${j.stream_failed}, ` +
        `idle re-check failed ${j.idle_recheck_failed}`);
      j.pids = pids;
      j.roles = Object.fromEntries(pids.map((p, i) => [p, name === 'fluxgate'
        ? ['master', 'syncer'][i] || `worker#${i - 2}` : (i === 0 ? 'master' : 'worker')]));
      results.capacity[name] = j;
      log(`capacity ${name}: ${j.idle_ok}/${idle} idle held, ${j.stream_ok}/${streams} streams, ` +
        `idle re-check ${j.idle_recheck_ok}/${idle}, ok ${j.ok}`);
    }
    await stop(fgCap.child);
    await stop(nxCap);
  }

  const fgNow = fg.pids();
  results.memory = {
    idle_at_start: idleMem,
    at_end: { master: memOf(fgNow.master), syncer: memOf(fgNow.syncer), workers: fgNow.workers.map(memOf) },
    nginx_at_end: tree(proxy.pid).map(memOf),
  };
  // What fluxgate itself says about the replies that were not 200 (its
  // access log): status and error code, so a failure can be traced.
  results.fluxgate_non_200 = {};
  try {
    for (const line of fs.readFileSync(fg.conf.access_log.file, 'utf8').split('\n')) {
      if (!line) continue;
      const x = JSON.parse(line);
      if (x.status === 200 || !x.model_requested) continue;   /* health probes at start */
      const k = x.client_gone ? 'client left before the reply (end of a wrk run)' : `${x.status} ${x.error || ''}`.trim();
      results.fluxgate_non_200[k] = (results.fluxgate_non_200[k] || 0) + 1;
    }
  } catch { /* no access log */ }
  results.failures = failures;
  results.failure_notes = failNotes;
  results.seconds = (Date.now() - t0) / 1000;
  await stopAll();

  const { text, targets } = report(results);
  results.targets = targets;
  fs.writeFileSync(path.join(opt.out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(path.join(opt.out, 'results.txt'), text);
  process.stdout.write('\n' + text);
  log(`results: ${path.join(opt.out, 'results.json')} (table in results.txt), ${results.seconds.toFixed(0)} s`);
  if (failures > 0) {
    log(`FAILED: ${failures} request(s) failed:\n  ${failNotes.join('\n  ')}`);
    return 1;
  }
  return 0;
}

// ---- the table ----------------------------------------------------------

function report(R) {
  const L = [];
  const f0 = (x) => (x === null || x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));
  const f1 = (x) => (x === null || x === undefined ? '-' : x.toFixed(1));
  const f2 = (x) => (x === null || x === undefined ? '-' : x.toFixed(2));
  const ms = (us) => (us === null || us === undefined ? '-' : (us / 1000).toFixed(2));
  const pad = (s, n) => String(s).padStart(n);
  const padr = (s, n) => String(s).padEnd(n);
  const targets = [];
  const tgt = (name, value, goal, ok, aim) => targets.push({ name, value, goal, met: ok, aim });

  L.push(`fluxgate bench  ${R.date}  ${R.machine.cpus} CPU (${R.machine.cpu_model}), load at start ${R.machine.load_avg_at_start.join(' ')}`);
  L.push(`fluxgate: 2 workers, key auth, rate limits (never triggered), metrics, access log; metering/impact: ${R.features.metering_and_impact}`);
  L.push(`nginx: 2 workers, keep-alive proxy, no feature.  wrk -t1, ${R.method.seconds_per_run} s per run, ${R.method.rounds} rounds (A B C A B C), medians`);
  L.push('');
  if (R.fast) {
    L.push('Fast upstream (nginx, fixed reply): cost per request');
    L.push(`${padr('conn', 5)}${padr('target', 10)}${pad('req/s', 9)}${pad('x nginx', 9)}${pad('x direct', 9)}` +
      `${pad('p50 us', 9)}${pad('p99 us', 9)}${pad('+p50 us', 9)}${pad('CPU us/req', 11)}${pad('non-2xx', 9)}${pad('errors', 8)}`);
    for (const [c, cell] of Object.entries(R.fast)) {
      for (const n of ['direct', 'fluxgate', 'nginx']) {
        const x = cell[n];
        L.push(`${padr(c, 5)}${padr(n, 10)}${pad(f0(x.rps), 9)}${pad(f2(x.rps / cell.nginx.rps), 9)}` +
          `${pad(f2(x.rps / cell.direct.rps), 9)}${pad(f0(x.p50_us), 9)}${pad(f0(x.p99_us), 9)}` +
          `${pad(n === 'direct' ? '-' : f0(x.p50_us - cell.direct.p50_us), 9)}${pad(f1(x.cpu_us_per_req), 11)}` +
          `${pad(x.non2xx, 9)}${pad(x.errors, 8)}`);
      }
    }
    L.push('');
    const c1 = R.fast[1];
    const added = c1.fluxgate.p50_us - c1.direct.p50_us;
    tgt('added p50 latency, 1 connection', `${f0(added)} µs (nginx ${f0(c1.nginx.p50_us - c1.direct.p50_us)} µs)`, '≤ 100 µs (aim 60)', added <= 100, added <= 60);
    const cpu = Math.max(R.fast[16].fluxgate.cpu_us_per_req, R.fast[64].fluxgate.cpu_us_per_req);
    tgt('CPU per non-streaming request (worse of c=16, c=64)', `${f1(cpu)} µs (nginx ${f1(Math.max(R.fast[16].nginx.cpu_us_per_req, R.fast[64].nginx.cpu_us_per_req))} µs)`,
      '≤ 60 µs (aim 40)', cpu <= 60, cpu <= 40);
    const ratio = Math.min(R.fast[16].fluxgate.rps / R.fast[16].nginx.rps, R.fast[64].fluxgate.rps / R.fast[64].nginx.rps);
    tgt('throughput vs nginx at 16 and 64 connections (worse)', `${f2(ratio)}×`, '≥ 0.5× (aim 0.7×)', ratio >= 0.5, ratio >= 0.7);
    const p99r = R.fast[16].fluxgate.p99_us / R.fast[16].nginx.p99_us;
    tgt('p99 at 16 connections vs nginx', `${f2(p99r)}× (${f0(R.fast[16].fluxgate.p99_us)} vs ${f0(R.fast[16].nginx.p99_us)} µs)`, '≤ 2×', p99r <= 2, p99r <= 1.3);
    const up = Math.min(...[16, 64, 256].map((c) => R.fast[c].direct.rps / R.fast[c].fluxgate.rps));
    tgt('fast upstream never the bottleneck (direct / fluxgate req/s, c ≥ 16)', `${f2(up)}×`, '≥ 2×', up >= 2);
  }
  if (R.fixed_load) {
    L.push('Fixed offered load, 2,000 req/s open loop (latency from when each request was due)');
    L.push(`${padr('target', 10)}${pad('achieved', 10)}${pad('p50 us', 9)}${pad('p90 us', 9)}${pad('p99 us', 9)}${pad('+p50 us', 9)}${pad('failed', 8)}`);
    for (const n of ['direct', 'fluxgate', 'nginx']) {
      const j = R.fixed_load[n];
      L.push(`${padr(n, 10)}${pad(f0(j.achieved_rps), 10)}${pad(f0(j.latency_us.p50), 9)}${pad(f0(j.latency_us.p90), 9)}` +
        `${pad(f0(j.latency_us.p99), 9)}${pad(n === 'direct' ? '-' : f0(j.latency_us.p50 - R.fixed_load.direct.latency_us.p50), 9)}${pad(j.failed, 8)}`);
    }
    L.push('');
  }
  if (R.slow) {
    const cell = R.slow[256];
    L.push('Upstream answering after 50 ms (fg-sim), 256 connections');
    L.push(`${padr('target', 10)}${pad('req/s', 9)}${pad('x direct', 9)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('+p99 ms', 9)}${pad('CPU us/req', 11)}${pad('errors', 8)}`);
    for (const n of ['direct', 'fluxgate', 'nginx']) {
      const x = cell[n];
      L.push(`${padr(n, 10)}${pad(f0(x.rps), 9)}${pad(f2(x.rps / cell.direct.rps), 9)}${pad(ms(x.p50_us), 9)}${pad(ms(x.p99_us), 9)}` +
        `${pad(n === 'direct' ? '-' : ms(x.p99_us - cell.direct.p99_us), 9)}${pad(f1(x.cpu_us_per_req), 11)}${pad(x.errors, 8)}`);
    }
    L.push('');
    const r = cell.fluxgate.rps / cell.direct.rps;
    const dp99 = (cell.fluxgate.p99_us - cell.direct.p99_us) / 1000;
    tgt('256 concurrent 50 ms requests: throughput vs direct', `${f2(r)}×`, '≥ 0.97×', r >= 0.97, r >= 0.99);
    tgt('256 concurrent 50 ms requests: p99 vs direct', `+${dp99.toFixed(2)} ms`, '≤ +5 ms', dp99 <= 5);
    tgt('256 concurrent 50 ms requests: errors', `${cell.fluxgate.errors}`, '0', cell.fluxgate.errors === 0);
  }
  if (R.streams) {
    L.push('Streams (fg-sim; times from the request written to the client)');
    L.push(`${padr('stream', 29)}${padr('target', 18)}${pad('1st byte p50', 13)}${pad('1st token p50', 14)}${pad('last byte p50', 14)}` +
      `${pad('+last p50', 10)}${pad('events', 7)}${pad('failed', 7)}`);
    const labels = { instant: '300 events at once, x100', first: 'TTFT 20 ms, 8 tokens, x20',
      paced: '200 tokens/5 ms, 64 at once' };
    for (const kind of ['instant', 'first', 'paced']) {
      const cell = R.streams[kind];
      for (const [n, x] of Object.entries(cell)) {
        L.push(`${padr(labels[kind], 29)}${padr(n, 18)}${pad(ms(x.first_byte_p50_us), 13)}${pad(ms(x.first_token_p50_us), 14)}` +
          `${pad(ms(x.last_byte_p50_us), 14)}${pad(n === 'direct' ? '-' : ms(x.last_byte_p50_us - cell.direct.last_byte_p50_us), 10)}` +
          `${pad(x.events_per_stream, 7)}${pad(x.failed, 7)}`);
      }
    }
    L.push('  (times in ms; one at a time on one connection unless "at once"; 1st token = the second event, the first');
    L.push('   carries only the role; fluxgate+nodelay = the same build with TCP_NODELAY on its client sockets, via a shim)');
    L.push('');
    const p = R.streams.first;
    const firstBehind = (p.fluxgate.first_token_p50_us - p.nginx.first_token_p50_us) / 1000;
    tgt('first SSE token behind nginx (TTFT 20 ms, one at a time, p50)', `${firstBehind.toFixed(2)} ms`, '≤ 0.25 ms', firstBehind <= 0.25, firstBehind <= 0.1);
    const pb = R.streams.paced;
    const burstBehind = (pb.fluxgate.first_token_p50_us - pb.nginx.first_token_p50_us) / 1000;
    tgt('first SSE token behind nginx (64 streams starting at once, p50)', `${burstBehind.toFixed(2)} ms`, '≤ 0.25 ms', burstBehind <= 0.25);
    for (const kind of ['instant', 'paced']) {
      const c = R.streams[kind];
      const whole = (c.fluxgate.last_byte_p50_us - c.direct.last_byte_p50_us) / 1000;
      tgt(`whole stream vs direct (${kind}, p50)`, `+${whole.toFixed(2)} ms`, '≤ +2 ms', whole <= 2);
    }
  }
  // Memory.
  const m = R.memory;
  const mline = (role, x) => (x ? `${padr(role, 10)}${pad(mib(x.rss_kb).toFixed(1), 8)}${pad(mib(x.rss_noshm_kb).toFixed(1), 12)}` +
    `${pad(mib(x.private_kb).toFixed(1), 9)}${pad(mib(x.shmem_kb).toFixed(1), 9)}${pad(mib(x.hwm_kb).toFixed(1), 9)}` : `${role} -`);
  L.push('fluxgate memory (MiB)');
  L.push(`${padr('', 10)}${pad('RSS', 8)}${pad('RSS-shm', 12)}${pad('private', 9)}${pad('shm', 9)}${pad('peak', 9)}`);
  L.push('idle, at start:');
  L.push(mline('master', m.idle_at_start.master));
  L.push(mline('syncer', m.idle_at_start.syncer));
  m.idle_at_start.workers.forEach((w, i) => L.push(mline(`worker#${i}`, w)));
  L.push('at the end:');
  L.push(mline('master', m.at_end.master));
  L.push(mline('syncer', m.at_end.syncer));
  m.at_end.workers.forEach((w, i) => L.push(mline(`worker#${i}`, w)));
  L.push('  (RSS-shm: resident set without the shared-memory arena; private: pages no other process maps;');
  L.push('   shared library pages count in RSS but not in private)');
  if (R.memory_after_cells) {
    L.push(`worker RSS-shm after each round (MiB): ${R.memory_after_cells.map((c) => `c=${c.cell} r${c.round} ${c.workers.map((w) => mib(w.rss_noshm_kb).toFixed(1)).join('/')}`).join(', ')}`);
  }
  if (m.nginx_at_end) {
    L.push(`nginx at the end (MiB RSS / private): ${m.nginx_at_end.map((x, i) => `${i === 0 ? 'master' : 'worker'} ${mib(x.rss_kb).toFixed(1)}/${mib(x.private_kb).toFixed(1)}`).join(', ')}`);
  }
  L.push('');
  const idleWorker = Math.max(...m.idle_at_start.workers.map((w) => mib(w.rss_noshm_kb)));
  tgt('idle worker RSS (shm apart)', `${idleWorker.toFixed(1)} MiB`, '≤ 16 MiB', idleWorker <= 16, idleWorker <= 12);
  const master = mib(m.idle_at_start.master.rss_noshm_kb);
  tgt('master RSS (shm apart)', `${master.toFixed(1)} MiB (private ${mib(m.idle_at_start.master.private_kb).toFixed(1)} MiB)`, '≤ 8 MiB', master <= 8);
  if (R.memory_after_cells && R.fast && R.fast[256]) {
    const c256 = R.memory_after_cells.filter((c) => c.cell === 256);
    if (c256.length > 1) {
      const a = c256[0].workers;
      const b = c256[c256.length - 1].workers;
      const growth = Math.max(...b.map((x, i) => (x.rss_noshm_kb - a[i].rss_noshm_kb) / 1024));
      tgt('worker RSS flat across rounds (c=256, first to last round)', `${growth >= 0 ? '+' : ''}${growth.toFixed(2)} MiB`, '≤ +0.5 MiB', growth <= 0.5);
    }
  }
  if (R.capacity) {
    L.push('Capacity: idle keep-alive connections and slow streams (TTFT 1 s, 60 tokens at 50 ms) held at once, fresh instances');
    for (const [name, j] of Object.entries(R.capacity)) {
      const sumKb = (sample) => Object.values(sample).reduce((a, x) => a + (x.rss_kb - x.shmem_kb), 0);
      const before = j.rss.before;
      const idleS = j.rss.idle_held;
      const fl = j.rss_in_flight.sample.in_flight;
      const perConn = ((sumKb(idleS) - sumKb(before)) * 1024) / Math.max(1, j.idle_ok);
      const perStream = ((sumKb(fl) - sumKb(idleS)) * 1024) / Math.max(1, j.rss_in_flight.streams_in_flight);
      j.bytes_per_idle_connection = Math.round(perConn);
      j.bytes_per_stream_in_flight = Math.round(perStream);
      L.push(`${padr(name, 10)} idle ${j.idle_ok}/${j.idle} held, ${j.idle_recheck_ok} answered again at the end; streams ${j.stream_ok}/${j.streams} ` +
        `(${j.rss_in_flight.streams_in_flight} in flight at the sample); ` +
        `${(perConn / 1024).toFixed(2)} KiB per idle connection, ${(perStream / 1024).toFixed(1)} KiB per stream in flight; ` +
        `all ok: ${j.ok}`);
      const per = j.pids.map((pid) => `${j.roles[pid]} ${mib(fl[pid].rss_kb - fl[pid].shmem_kb).toFixed(1)}`).join(', ');
      L.push(`${padr('', 10)} RSS-shm while everything is held (MiB): ${per}`);
    }
    L.push('');
    const c = R.capacity.fluxgate;
    tgt(`${c.streams} concurrent slow streams and ${c.idle} idle connections, no error`,
      `${c.stream_ok}/${c.streams} streams, ${c.idle_recheck_ok}/${c.idle} idle`, 'all', c.ok === true);
    const fl = c.rss_in_flight.sample.in_flight;
    const workersMax = Math.max(...c.pids.slice(2).map((pid) => mib(fl[pid].rss_kb - fl[pid].shmem_kb)));
    tgt(`worker RSS holding ~${Math.round(c.streams / 2)} streams and ~${Math.round(c.idle / 2)} idle connections each`,
      `${workersMax.toFixed(1)} MiB (shm apart)`, '≤ 32 MiB (the target is for 256 streams)', workersMax <= 32);
  }
  L.push('Targets (issue 6)');
  for (const t of targets) {
    L.push(`  ${t.met ? 'met   ' : 'MISSED'} ${t.name}: ${t.value}  [goal ${t.goal}${t.aim === undefined ? '' : `; aim ${t.aim ? 'met' : 'not met'}`}]`);
  }
  L.push(`Failed requests: ${R.failures}${R.failures ? ' — ' + R.failure_notes.join('; ') : ''}`);
  const n200 = Object.entries(R.fluxgate_non_200 || {});
  if (n200.length) L.push(`fluxgate access log, replies other than 200: ${n200.map(([k, v]) => `${v} × ${k}`).join('; ')}`);
  if (R.auth_stage) L.push(R.auth_stage);
  if (R.token_count) L.push(...R.token_count);
  if (R.route) L.push(...R.route);
  for (const n of R.notes) L.push(`note: ${n}`);
  return { text: L.join('\n') + '\n', targets };
}

main().then(async (code) => {
  await stopAll();
  process.exit(code);
}, async (e) => {
  console.error(`bench: error: ${e.stack || e.message}`);
  await stopAll();
  process.exit(2);
});
