// The integration harness: starts the real binaries on free loopback ports,
// in a temporary directory, with a configuration made of the defaults plus
// the test's overrides, and ends every process it started by PID.
//
//   const sim = await startSim();
//   const gw = await startGateway({ sim, config: { limits: {...} } });
//   const res = await gw.post('/v1/chat/completions', body);
//   await gw.stop(); await sim.stop();
//
// Binaries come from $FG_BIN_DIR (default build/bin), so the same tests run
// against the ASan build. stop() fails the test if a process wrote a
// sanitizer report. Every wait is bounded.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const SRC_DIR = process.env.FG_SRC_DIR
  || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const BIN_DIR = process.env.FG_BIN_DIR || path.join(SRC_DIR, 'build/bin');

const started = new Set();
process.on('exit', () => {
  for (const child of started) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Polls fn() every `every` ms until it returns a truthy value, at most
// `tries` times; returns that value or throws with `what`.
export async function waitFor(what, fn, { tries = 100, every = 50 } = {}) {
  for (let i = 0; i < tries; i++) {
    try {
      const v = await fn();
      if (v) return v;
    } catch { /* not yet */ }
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function sanitizerReport(text) {
  const m = text.match(/(ERROR: (Address|Leak|Undefined)Sanitizer[^\n]*|runtime error:[^\n]*)/);
  return m ? m[0] : null;
}

class Proc {
  constructor(name, child, logPath) {
    this.name = name;
    this.child = child;
    this.pid = child.pid;
    this.logPath = logPath;
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    }));
  }

  log() {
    try { return fs.readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  signal(sig) {
    try { process.kill(this.pid, sig); } catch { /* gone */ }
  }

  // Ends the process (SIGTERM, then SIGKILL after `graceMs`); throws if its
  // log holds a sanitizer report. Returns the exit status.
  async stop(graceMs = 10000) {
    this.signal('SIGTERM');
    const t = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const status = await this.exited;
    clearTimeout(t);
    const report = sanitizerReport(this.log());
    if (report) throw new Error(`${this.name}: sanitizer report: ${report}`);
    return status;
  }
}

function spawnLogged(name, bin, args, { env = {}, dir }) {
  const logPath = path.join(dir, `${name}.log`);
  const fd = fs.openSync(logPath, 'a');
  const child = spawn(bin, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', fd, fd],
    cwd: dir,
  });
  fs.closeSync(fd);
  started.add(child);
  return new Proc(name, child, logPath);
}

// Stops every process given (null ones skipped), each even when an earlier
// stop throws (a sanitizer report, uncharged usage), then throws the first
// error: a failed stop must not leave the next process running, which
// would keep the test file's process alive for ever.
export async function stopAll(...procs) {
  let first = null;
  for (const p of procs) {
    try {
      await p?.stop();
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}

export function tempDir(prefix = 'fg-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Starts the upstream simulator; `args` are extra command-line flags.
export async function startSim({ args = [], dir = tempDir('fg-sim-') } = {}) {
  const port = await freePort();
  const proc = spawnLogged('sim', path.join(BIN_DIR, 'fg-sim'),
    ['-l', `127.0.0.1:${port}`, '-q', ...args], { dir });
  await waitFor('fg-sim to listen', () => proc.log().includes('listening'));
  proc.port = port;
  proc.url = `http://127.0.0.1:${port}`;
  proc.stats = async () => (await request('GET', `${proc.url}/sim/stats`)).json();
  proc.reset = async () => request('POST', `${proc.url}/sim/reset`, '');
  // Sets this instance's failure plan (fg-sim.c, POST /sim/plan), e.g.
  // { faults: ['500'] } or { always: '429', retry_after_s: 2 }; throws
  // unless the simulator took it.
  proc.plan = async (plan) => {
    const r = await request('POST', `${proc.url}/sim/plan`, JSON.stringify(plan));
    if (r.status !== 200) throw new Error(`POST /sim/plan: ${r.status} ${r.text}`);
    return r.json();
  };
  // Chat requests this instance received (GET /sim/stats "requests").
  proc.requests = async () => (await proc.stats()).requests;
  return proc;
}

function merge(base, over) {
  const out = { ...base };
  for (const [k, v] of Object.entries(over || {})) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v)
      && base[k] && typeof base[k] === 'object' ? merge(base[k], v) : v;
  }
  return out;
}

// Models the tests add to the shipped catalog: each routes to the simulator
// under a name that selects one of its fault modes.
export const FAULT_MODELS = ['500', '429', '400', 'reset', 'malformed', 'stall', 'slow']
  .map((mode) => ({
    id: `fault-${mode}`, provider: 'demo', upstream_id: `sim-fault-${mode}`,
    created: 1735689600, owned_by: 'fluxgate', context_window: 8192,
    max_output_tokens: 4096, supports_vision: false, supports_tools: true,
    reasoning_effort: [],
    pricing: { prompt_per_mtok_micro: 1, completion_per_mtok_micro: 1 },
  }));

// Writes providers.json, models.json and impact/ (the impact tables) into
// @dir for a gateway whose config sits there: the shipped tables, plus a
// size class for every model and industry averages for every provider the
// shipped tables lack (impact is never guessed; an operator configures
// them the same way). @impact ({ providerId: { country, pue, ... } })
// changes those providers' entries, e.g. a test provider's country.
export function writeCatalogs(dir, { providers, models, impact = {} }) {
  fs.writeFileSync(path.join(dir, 'providers.json'), JSON.stringify(providers));
  fs.writeFileSync(path.join(dir, 'models.json'), JSON.stringify(models));
  const impactDir = path.join(dir, 'impact');
  fs.mkdirSync(impactDir, { recursive: true });
  fs.copyFileSync(path.join(SRC_DIR, 'etc/impact/countries.json'),
    path.join(impactDir, 'countries.json'));
  const impactProviders = JSON.parse(fs.readFileSync(path.join(SRC_DIR, 'etc/impact/providers.json')));
  for (const p of providers.providers || []) {
    if (!impactProviders.providers.some((q) => q.id === p.id)) {
      impactProviders.providers.push({ id: p.id, pue: 1.56, wue_site_l_per_kwh: 1.8,
        country: 'WORLD', assumed: true, source: 'a test provider' });
    }
  }
  for (const [id, over] of Object.entries(impact)) {
    const entry = impactProviders.providers.find((q) => q.id === id);
    if (!entry) throw new Error(`impact: no provider "${id}" in the catalog or the tables`);
    Object.assign(entry, over, { source: 'a test provider' });
  }
  fs.writeFileSync(path.join(impactDir, 'providers.json'), JSON.stringify(impactProviders));
  const impactModels = JSON.parse(fs.readFileSync(path.join(SRC_DIR, 'etc/impact/models.json')));
  const covered = new Set(impactModels.models.flatMap((m) => [m.id, ...(m.aliases || [])]));
  for (const m of models.models || []) {
    if (!covered.has(m.id)) {
      impactModels.models.push({ id: m.id, size_class: 'small', source: 'a test model' });
    }
  }
  fs.writeFileSync(path.join(impactDir, 'models.json'), JSON.stringify(impactModels));
}

// Starts fluxgate in front of `sim` with the shipped catalogs (demo provider
// pointed at the simulator, plus FAULT_MODELS), two workers, short drain
// times and the test's `config` overrides; waits for /readyz.
//
// Unless `key` is false it then creates an API key through the admin API
// (gw.key is its secret, gw.keyId its id) and gw.get/post/request send it
// as `Authorization: Bearer …` by default; a test passes
// { authorization: null } to send none, or its own header to override.
// gw.admin(method, path, body, headers) calls the admin API on its unix
// socket with the admin token (gw.adminToken).
export async function startGateway({ sim, config = {}, env = {}, providers, models, impact,
  dir = tempDir('fg-gw-'), key = true, ready = true } = {}) {
  const port = await freePort();
  // The metrics listener gets a free port too: the default (9464) would be
  // shared by every gateway a test run starts.
  let metricsPort = await freePort();
  while (metricsPort === port) metricsPort = await freePort();
  const shippedProviders = JSON.parse(fs.readFileSync(path.join(SRC_DIR, 'etc/providers.json')));
  const shippedModels = JSON.parse(fs.readFileSync(path.join(SRC_DIR, 'etc/models.json')));
  writeCatalogs(dir, {
    providers: providers || shippedProviders,
    models: models || { models: [...shippedModels.models, ...FAULT_MODELS] },
    impact,
  });
  const conf = merge({
    listen: `127.0.0.1:${port}`,
    metrics: { listen: `127.0.0.1:${metricsPort}` },
    workers: 2,
    pid_file: path.join(dir, 'fluxgate.pid'),
    log: { file: 'stderr', level: 'info' },
    shutdown_timeout_ms: 5000,
    data_dir: path.join(dir, 'data'),
    // Tests about other things must not run out of energy: a million
    // credits for every key created without a balance of its own.
    keys: { max_keys: 1000, default_balance_micro: 1000000000000 },
    // FG_TEST_UPSTREAM_CLIENT=libcurl: the upstream tests once more with
    // libcurl instead of fluxgate's own HTTP/1.1 client (tests/run.sh).
    ...(process.env.FG_TEST_UPSTREAM_CLIENT === 'libcurl' ? { upstream: { native_http: 0 } } : {}),
  }, config);
  const confPath = path.join(dir, 'fluxgate.json');
  fs.writeFileSync(confPath, JSON.stringify(conf, null, 2));
  const proc = spawnLogged('fluxgate', path.join(BIN_DIR, 'fluxgate'), ['-c', confPath], {
    dir,
    env: {
      FG_DEMO_BASE_URL: sim ? `${sim.url}/v1` : 'http://127.0.0.1:9/v1',
      FG_DEMO_API_KEY: 'sim-key',
      ...env,
    },
  });
  proc.port = port;
  proc.url = `http://127.0.0.1:${port}`;
  proc.dir = dir;
  // GET /metrics on the metrics listener (null when "off"): the text.
  proc.metricsUrl = conf.metrics.listen === 'off' ? null
    : `http://${conf.metrics.listen}/metrics`;
  proc.scrape = async () => {
    const r = await request('GET', proc.metricsUrl, undefined, {}, { timeoutMs: 5000 });
    if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.text}`);
    return r.text;
  };
  proc.confPath = confPath;
  proc.config = conf;
  proc.dataDir = conf.data_dir;
  // A gateway killed without a clean stop leaves its named arena behind
  // (on purpose: the next start recovers it); the test's stop removes it.
  // Issue 13's invariant, checked at every stop of every gateway a test
  // starts: no credit goes uncharged unless the simulated provider was
  // told to misreport its usage (fg-sim's overprompt-, overcount- and
  // negative-usage tags in the model's upstream id).
  const servedModels = (models || { models: [...shippedModels.models, ...FAULT_MODELS] }).models || [];
  const misreporting = new Set(servedModels
    .filter((m) => /overprompt|overcount|negative-usage/.test(m.upstream_id || m.id))
    .map((m) => m.id));
  const uncharged = async () => {
    if (proc.metricsUrl === null || proc.child.exitCode !== null) return [];
    let text;
    try {
      const r = await request('GET', proc.metricsUrl, undefined, {}, { timeoutMs: 2000 });
      if (r.status !== 200) return [];
      text = r.text;
    } catch { return []; }   /* a gateway a test stopped answering */
    return [...text.matchAll(/^fluxgate_uncharged_micro_total\{model="([^"]*)"[^}]*\} (\d+)$/gm)]
      .filter(([, model, n]) => Number(n) > 0 && !misreporting.has(model))
      .map(([, model, n]) => `${model}: ${n} micro-credits`);
  };
  const stopProc = proc.stop.bind(proc);
  proc.stop = async (graceMs) => {
    const lost = await uncharged();
    const status = await stopProc(graceMs);
    try {
      fs.unlinkSync(`/dev/shm/${shmName(conf.data_dir)}`);
    } catch { /* a clean stop removed it already */ }
    if (lost.length > 0) {
      throw new Error(`usage went uncharged with no misreporting provider: ${lost.join(', ')}`);
    }
    return status;
  };
  proc.adminSocket = (conf.admin && conf.admin.listen && conf.admin.listen.startsWith('unix:'))
    ? conf.admin.listen.slice(5) : path.join(conf.data_dir, 'admin.sock');
  proc.key = null;
  proc.keyId = null;
  // The default key's header, unless the test names its own or null.
  proc.auth = (headers = {}) => withAuth(proc.key, headers);
  proc.authHeaders = () => (proc.key ? { authorization: `Bearer ${proc.key}` } : {});
  // request() adds the key (or honours a null authorization) itself.
  proc.request = (method, p, body, headers) => request(method, proc.url + p, body, headers);
  proc.get = (p, headers) => request('GET', proc.url + p, undefined, headers);
  proc.post = (p, body, headers) => request('POST', proc.url + p,
    typeof body === 'string' ? body : JSON.stringify(body),
    { 'content-type': 'application/json', ...headers });
  proc.adminToken = () => fs.readFileSync(path.join(conf.data_dir, 'admin.token'), 'utf8').trim();
  proc.admin = (method, p, body, headers = {}) => adminRequest(proc.adminSocket, method, p,
    body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    { authorization: `Bearer ${proc.adminToken()}`, 'content-type': 'application/json', ...headers });
  // Creates a key; resolves to { id, secret, key } (key: the API's object).
  proc.createKey = async (fields = {}) => {
    const r = await proc.admin('POST', '/admin/v1/keys', { name: 'test', ...fields });
    if (r.status !== 201) throw new Error(`creating a key: ${r.status} ${r.text}`);
    const j = r.json();
    return { id: j.key.id, secret: j.secret, key: j.key };
  };
  proc.workerPids = () => {
    const pids = new Map();
    for (const m of proc.log().matchAll(/started worker#(\d+), pid (\d+)/g)) pids.set(m[1], Number(m[2]));
    for (const m of proc.log().matchAll(/worker#(\d+) \(pid (\d+)\) (exited|killed)/g)) {
      if (pids.get(m[1]) === Number(m[2])) pids.delete(m[1]);
    }
    return [...pids.values()];
  };
  // ready: false (a gateway expected not to become ready): answering is
  // enough, whatever /readyz says.
  await waitFor('fluxgate /readyz', async () => {
    const r = await proc.get('/readyz');
    return ready ? r.status === 200 : r.status === 200 || r.status === 503;
  }, { tries: 200, every: 50 }).catch((e) => {
    throw new Error(`${e.message}\n--- fluxgate log ---\n${proc.log()}`);
  });
  // A ready gateway's admin API on its unix socket is waited for too: the
  // syncer opens it a moment after /readyz may answer, and a test that
  // creates its own key at once must not race it.
  const unixAdmin = !(conf.admin && conf.admin.listen && !conf.admin.listen.startsWith('unix:'));
  if (key || (ready && unixAdmin)) {
    await waitFor('the admin API', async () => {
      try {
        return (await proc.admin('GET', '/admin/v1/status')).status === 200;
      } catch {
        return false;
      }
    }, { tries: 200, every: 50 });
  }
  if (key) {
    const k = await proc.createKey({ name: 'harness' });
    proc.key = k.secret;
    proc.keyId = k.id;
    keyByOrigin.set(proc.url, k.secret);
  }
  return proc;
}

// The harness key of the gateway serving @url: request() and
// streamRequest() send it by default, like gw.get/post (a test that wants
// no key passes { authorization: null }).
const keyByOrigin = new Map();
function keyFor(url) {
  try {
    return keyByOrigin.get(new URL(url).origin) || null;
  } catch {
    return null;
  }
}

// The name of the shared-memory object of the gateway whose data folder is
// @dataDir, as master/main.c derives it: FNV-1a 64 of the folder's real path.
export function shmName(dataDir) {
  let real = dataDir;
  try { real = fs.realpathSync(dataDir); } catch { /* not made yet */ }
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(real)) {
    h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `fluxgate-${h.toString(16).padStart(16, '0')}`;
}

// @headers with `authorization: Bearer <key>` added unless it names an
// authorization or x-api-key header itself; a null value removes it.
export function withAuth(key, headers = {}) {
  const out = {};
  const names = Object.keys(headers).map((h) => h.toLowerCase());
  if (key && !names.includes('authorization') && !names.includes('x-api-key')) {
    out.authorization = `Bearer ${key}`;
  }
  for (const [k, v] of Object.entries(headers)) {
    if (v !== null && v !== undefined) out[k] = v;
  }
  return out;
}

// One request to the admin API on its unix socket; same result shape as
// request().
export function adminRequest(socketPath, method, p, body, headers = {}, { timeoutMs = 10000 } = {}) {
  return httpRequest({ socketPath, path: p, method, headers }, null, body, timeoutMs);
}

// One HTTP request: http.request(target[, options]); resolves to
// { status, headers, text, json() }, rejects on a connection error or after
// timeoutMs.
function httpRequest(target, options, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const onResponse = (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    };
    const req = options === null ? http.request(target, onResponse)
      : http.request(target, options, onResponse);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// One HTTP request on a fresh connection. Resolves to
// { status, headers, text, json() }; rejects on a connection error or after
// `timeoutMs`.
export function request(method, url, body, headers = {}, { timeoutMs = 15000, agent = false } = {}) {
  return httpRequest(url, { method, headers: withAuth(keyFor(url), headers), agent }, body, timeoutMs);
}

// Parses an SSE body into the list of data payloads (strings).
export function sseData(text) {
  return text.split(/\n\n/).map((e) => e.split('\n')
    .filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'))
    .filter((d) => d.length > 0);
}

export const CHAT = Object.freeze({
  model: 'demo-chat',
  messages: [{ role: 'user', content: 'hello gateway' }],
});

// ---------------------------------------------------------------------------
// Helpers for the integration tests (tests/integration/). Additions only: the
// API above is unchanged.

// The shipped model catalog plus FAULT_MODELS, as startGateway uses it by
// default; a fresh copy a test may extend and pass as `models: { models }`.
export function shippedModels() {
  const shipped = JSON.parse(fs.readFileSync(path.join(SRC_DIR, 'etc/models.json')));
  return [...shipped.models, ...FAULT_MODELS.map((m) => structuredClone(m))];
}

// The shipped provider catalog ({ providers: [...] }), a fresh copy a test
// may change (e.g. the demo provider's timeouts) and pass as `providers`.
export function shippedProviders(change = {}) {
  const p = JSON.parse(fs.readFileSync(path.join(SRC_DIR, 'etc/providers.json')));
  for (const prov of p.providers) {
    if (change[prov.id]) Object.assign(prov, structuredClone(change[prov.id]));
  }
  return p;
}

// A catalog model routed to the simulator under `upstream_id` (which may
// carry fg-sim's "delay-<ms>" / "ttft-<ms>" / "fault-<mode>" tags). It has
// no `tokens` entry (no tokenizer: its prompts are bounded by their bytes)
// unless @over gives one. Its maximum output leaves room in its context
// window: a request without max_tokens counts the model's maximum output
// in the context check (docs/api.md, "Metering").
export function simModel(id, upstreamId, over = {}) {
  return {
    id, provider: 'demo', upstream_id: upstreamId, created: 1735689600,
    owned_by: 'fluxgate', context_window: 8192, max_output_tokens: 4096,
    supports_vision: false, supports_tools: true, reasoning_effort: [],
    pricing: { prompt_per_mtok_micro: 1, completion_per_mtok_micro: 1 },
    ...over,
  };
}

// What fg-sim's "badjson-<class>" model tag (tests/sim/badjson.h) makes of
// @value, the compact JSON text of a non-empty object whose strings hold no
// quote or backslash: { class: text } for every class.
export function simBadJson(value) {
  return {
    fence: `Here is the JSON you asked for:\n\n\`\`\`json\n${value}\n\`\`\`\n\nLet me know if you need anything else.`,
    prose: `Sure, here is the answer. ${value} I hope this helps.`,
    truncated: value.replace(/[}\]]+$/, '').replace(/"$/, ''),
    comma: `${value.slice(0, -1)},}`,
    single: value.replace(/"/g, "'"),
    unquoted: value.replace(/"([A-Za-z_$][A-Za-z0-9_$]*)":/g, '$1:'),
    comments: `{\n// the answer, as asked\n${value.slice(1)}`,
    hopeless: 'I am sorry, but I cannot help with that request.',
  };
}

// A provider entry for providers.json whose upstream is @sim (a startSim()
// process, or a base URL such as a closed loopback port's), enabled with no
// key; @over changes any member, e.g. { timeouts: { first_byte_ms: 300 } }
// (timeouts not given are the ones below). Routing tests make several
// simulators providers "a", "b", "c" of one model (endpointModel).
export function simProvider(id, sim, over = {}) {
  const url = typeof sim === 'string' ? sim : `${sim.url}/v1`;
  const { timeouts, ...rest } = over;
  return {
    id, name: `fg-sim as provider ${id}`, base_url: url,
    timeouts: { connect_ms: 1000, first_byte_ms: 10000, idle_ms: 10000, total_ms: 30000, ...timeouts },
    ...rest,
  };
}

// A catalog model served by several endpoints (docs/routing.md): simModel's
// fields as the defaults every endpoint inherits, no single "provider", and
// @endpoints as given ([{ provider: 'a', upstream_id?, pricing?, country?,
// ... }]). Its upstream id is @id unless @over says.
export function endpointModel(id, endpoints, over = {}) {
  const { provider, ...m } = simModel(id, id, over);
  void provider;
  return { ...m, endpoints };
}

// Sends raw bytes on a fresh loopback connection and collects what comes
// back until the server closes or `timeoutMs` passes. Resolves to
// { text, closed (server ended or reset the connection), error, ms }.
// `dribble` (ms) sends one byte at a time with that delay in between.
export function rawHttp(port, bytes, { timeoutMs = 5000, dribble = 0 } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const chunks = [];
    const sock = net.connect(port, '127.0.0.1');
    let done = false;
    let timer;
    let drip;
    const finish = (closed, error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(drip);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed, error, ms: Date.now() - t0 });
    };
    timer = setTimeout(() => finish(false, null), timeoutMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => finish(true, null));
    sock.on('close', () => finish(true, null));
    sock.on('error', (e) => finish(true, e));
    sock.on('connect', () => {
      const buf = Buffer.from(bytes);
      if (!dribble) {
        sock.write(buf);
        return;
      }
      let i = 0;
      drip = setInterval(() => {
        if (i >= buf.length || sock.destroyed) { clearInterval(drip); return; }
        sock.write(buf.subarray(i, i + 1));
        i++;
      }, dribble);
    });
  });
}

// A request whose response is read as it arrives: resolves once the head is
// in, to { status, headers, events: [{ t, data }], reads: [t], done, pause(),
// resume(), destroy() }. `events` grows as SSE events arrive (t in ms since
// the request was sent); `done` resolves to { text, ms, error } when the
// response ends, fails or is destroyed. Bounded by `timeoutMs`, and by
// `maxBytes` of response body (then destroyed, ending with an error).
export function streamRequest(url, body, { headers = {}, timeoutMs = 15000, maxBytes = 64 << 20 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const data = typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(url, {
      method: 'POST', agent: false,
      headers: withAuth(keyFor(url), { 'content-type': 'application/json', ...headers }),
    }, (res) => {
      const chunks = [];
      const events = [];
      const reads = [];
      let pending = '';
      let bytes = 0;
      let endDone;
      const done = new Promise((r) => { endDone = r; });
      const end = (error) => {
        clearTimeout(timer);
        endDone({ text: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - t0, error });
      };
      res.on('data', (c) => {
        const t = Date.now() - t0;
        reads.push(t);
        chunks.push(c);
        bytes += c.length;
        if (bytes > maxBytes) {
          req.destroy();
          end(new Error(`response exceeded ${maxBytes} bytes`));
          return;
        }
        pending += c.toString('utf8');
        let i;
        while ((i = pending.indexOf('\n\n')) >= 0) {
          const ev = pending.slice(0, i);
          pending = pending.slice(i + 2);
          const d = ev.split('\n').filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart()).join('\n');
          if (d.length > 0) events.push({ t, data: d });
        }
      });
      res.on('end', () => end(null));
      res.on('error', (e) => end(e));
      res.on('close', () => end(res.complete ? null : new Error('response closed early')));
      resolve({
        status: res.statusCode, headers: res.headers, events, reads, done,
        pause: () => res.pause(),
        resume: () => res.resume(),
        destroy: () => { req.destroy(); end(new Error('destroyed by the test')); },
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.end(data);
  });
}

// The IPv4 TCP sockets (from /proc/net/tcp) with `port` at either end:
// [{ localPort, remotePort, state, txQueue, rxQueue }]; state is the
// kernel's hex code ('01' established, '06' time-wait, '0A' listen).
export function tcpSockets(port) {
  let text = '';
  try { text = fs.readFileSync('/proc/net/tcp', 'utf8'); } catch { return []; }
  const out = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const localPort = parseInt(f[1].split(':')[1], 16);
    const remotePort = parseInt(f[2].split(':')[1], 16);
    if (localPort !== port && remotePort !== port) continue;
    const [tx, rx] = f[4].split(':').map((h) => parseInt(h, 16));
    out.push({ localPort, remotePort, state: f[3], txQueue: tx, rxQueue: rx });
  }
  return out;
}

// Whether process `pid` is alive (and not a zombie).
export function isAlive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

// One HTTP request on a fresh connection with exactly @headers: unlike
// request() it never adds a harness key, so a test can send no key, or
// only its own. Same result shape as request().
export function plainRequest(method, url, body, headers = {}, { timeoutMs = 15000 } = {}) {
  return httpRequest(url, { method, headers, agent: false }, body, timeoutMs);
}

// Runs build/bin/fluxgate-admin with @args against @gw's admin socket and
// token file (FLUXGATE_ADMIN, FLUXGATE_ADMIN_TOKEN_FILE; `env` adds or
// overrides, a null value removes). Resolves to { code, signal, stdout,
// stderr, json() }; the process is killed by PID after `timeoutMs`.
export function runAdmin(gw, args, { env = {}, timeoutMs = 10000 } = {}) {
  const full = { ...process.env };
  delete full.FLUXGATE_ADMIN_TOKEN;
  if (gw) {
    full.FLUXGATE_ADMIN = `unix:${gw.adminSocket}`;
    full.FLUXGATE_ADMIN_TOKEN_FILE = path.join(gw.dataDir, 'admin.token');
  }
  for (const [k, v] of Object.entries(env)) {
    if (v === null || v === undefined) delete full[k];
    else full[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(BIN_DIR, 'fluxgate-admin'), args,
      { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    started.add(child);
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    const timer = setTimeout(() => {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); started.delete(child); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      started.delete(child);
      const stdout = Buffer.concat(out).toString('utf8');
      resolve({
        code, signal, stdout, stderr: Buffer.concat(err).toString('utf8'),
        json: () => JSON.parse(stdout),
      });
    });
  });
}

// The pid of @gw's syncer: the last "started the syncer, pid N" line of its
// log (the master logs one per syncer it starts).
export function syncerPid(gw) {
  const all = [...gw.log().matchAll(/started the syncer, pid (\d+)/g)];
  if (all.length === 0) throw new Error('no "started the syncer" line in the log');
  return Number(all[all.length - 1][1]);
}

// The usage journal <dataDir>/usage.journal (common/store/usagelog.h), as
// { text, lines: [{ line, record }] } in file order: every complete line
// (a line still being written has no newline yet and is left out) with its
// JSON parsed. A missing file holds no line.
export function usageJournal(dataDir) {
  let text = '';
  try { text = fs.readFileSync(path.join(dataDir, 'usage.journal'), 'utf8'); } catch { /* none yet */ }
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const lines = complete.split('\n').filter((l) => l.length > 0)
    .map((line) => ({ line, record: JSON.parse(line) }));
  return { text, lines };
}

// The reservation log <dataDir>/reservations.journal (master/reservations.h):
// the records of the reservations the workers took (flag "reservation"),
// in file order, as usageJournal() reads the journal. Their seqs come from
// the same node-wide sequence as the usage records'.
export function reservationLog(dataDir) {
  let text = '';
  try { text = fs.readFileSync(path.join(dataDir, 'reservations.journal'), 'utf8'); } catch { /* none yet */ }
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l))
    .filter((r) => r.flags.includes('reservation'));
}

// CRC-32C (Castagnoli, as common/store/journal.c fg_journal_crc32c) of @bytes
// (a Buffer or a string, taken as UTF-8), as an unsigned 32-bit number.
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
export function crc32c(bytes) {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  let c = 0xffffffff;
  for (const b of buf) c = CRC32C_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
