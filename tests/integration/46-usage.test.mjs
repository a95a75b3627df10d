// Usage records (common/accounts/usage.h, common/accounts/usagering.h, common/store/usagelog.h;
// worker/request.c fg_req_finish, master/syncer.c syncer_drain): every
// request that passed authentication leaves exactly one record: its key,
// models, status, error code, tokens, credit charged, environmental impact
// and timings. The worker pushes it onto its ring in the shm arena; the
// syncer appends it to <data_dir>/usage.journal, one JSON line with a
// CRC-32C, and frees the ring's slots only once the journal is fdatasync'd.
// A full ring turns new billable requests away (503 billing_unavailable,
// Retry-After) rather than drop a record; a worker killed under a request
// leaves the master to write its record (worker_lost); a SIGKILL of every
// process leaves the records in the named arena for the next master.
// GET /admin/v1/usage and `fluxgate-admin usage` sum the journal per key,
// model and UTC day.
//
// Records are matched to requests by client_request_id: every request here
// sends an x-request-id of its own (1 to 128 of [A-Za-z0-9._:-]), which the
// record keeps whole beside the gateway's own id (request_id).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  BIN_DIR, SRC_DIR, crc32c, isAlive, plainRequest, runAdmin, shippedModels, shmName, simModel, sseData, startGateway,
  reservationLog, startSim, streamRequest, syncerPid, tempDir, usageJournal, waitFor,
} from '../lib/harness.mjs';
import { profileOf, promptBounds } from '../lib/tokens.mjs';

const URL_PATH = '/v1/chat/completions';
const PRICE = shippedModels().find((m) => m.id === 'demo-chat').pricing;
const MODELS = {
  models: [...shippedModels(),
    // One token every 50 ms: a stream a client can leave half-way.
    simModel('drip-chat', 'sim-delay-50', { pricing: PRICE }),
    // Never answers: a request stays in flight until its worker dies.
    simModel('stall-chat', 'sim-fault-stall', { pricing: PRICE }),
    // Bills ten times the prompt it read: more than was reserved (the
    // prompt's bytes and the template's most: about four times the
    // count), yet a count a reply could have (ten times the completion
    // would be malformed: 47-usage-invalid).
    simModel('overcount-chat', 'sim-overprompt-10', { pricing: PRICE }),
    // The same for a stream: a hundred times the prompt.
    simModel('overcount-stream', 'sim-overprompt-100', { pricing: PRICE })],
};

let sim;

before(async () => {
  sim = await startSim();
});

after(async () => {
  await sim?.stop();
});

const bearer = (secret) => ({ authorization: `Bearer ${secret}` });
const chatBody = (over = {}) => ({
  model: 'demo-chat', messages: [{ role: 'user', content: 'hello gateway' }], ...over,
});

// The records of @g's journal, in file order.
const recordsOf = (g) => usageJournal(g.dataDir).lines.map((l) => l.record);

// Every seq the node handed out: its usage records' and its reservation
// records' (they share the sequence), sorted.
const allSeqs = (g) => [...recordsOf(g), ...reservationLog(g.dataDir)]
  .map((r) => r.seq).sort((a, b) => a - b);

// The records of @g's journal whose client_request_id is one of @ids:
// id → [records].
function recordsById(g, ids) {
  const want = new Set(ids);
  const out = new Map(ids.map((id) => [id, []]));
  for (const r of recordsOf(g)) if (want.has(r.client_request_id)) out.get(r.client_request_id).push(r);
  return out;
}

// Waits until each of @ids has a record in @g's journal; resolves to
// id → [records].
const waitRecords = (g, ids, what = 'their usage records') => waitFor(`${ids.length} requests' ${what}`, () => {
  const m = recordsById(g, ids);
  return [...m.values()].every((rs) => rs.length > 0) && m;
}, { tries: 200, every: 25 });

// Asserts each of @ids has exactly one record in @byId; returns id → record.
function exactlyOne(byId, ids) {
  const out = new Map();
  for (const id of ids) {
    const rs = byId.get(id) ?? [];
    assert.equal(rs.length, 1, `${id}: ${rs.length} records: ${JSON.stringify(rs)}`);
    out.set(id, rs[0]);
  }
  return out;
}

// The cost in micro-credits, rounded up, as fg_ledger_cost() computes it.
function cost(prompt, cached, completion) {
  const sum = BigInt(prompt - cached) * BigInt(PRICE.prompt_per_mtok_micro)
    + BigInt(cached) * BigInt(PRICE.cached_prompt_per_mtok_micro)
    + BigInt(completion) * BigInt(PRICE.completion_per_mtok_micro);
  return Number((sum + 999999n) / 1000000n);
}

// What worker/meter.c reserves for @body: the upper bound of its prompt's
// tokens (tests/lib/tokens.mjs, under its model's profile), max_tokens as
// the completion.
const PROFILES = new Map(MODELS.models.map((m) => [m.id, profileOf(m)]));
const promptEstimate = (body) => promptBounds(body, PROFILES.get(body.model)).upper;
const worstCase = (body) => cost(promptEstimate(body), 0, body.max_tokens);
// The prompt a reply without usage is charged (worker/meter.c): the exact
// count, or without a tokenizer the body's bytes / 4 within the bounds.
const promptLikely = (body) => {
  const { lower, upper } = promptBounds(body, PROFILES.get(body.model));
  const guess = Math.floor(Buffer.byteLength(JSON.stringify(body)) / 4);
  return lower === upper ? upper : Math.min(upper, Math.max(lower, guess));
};

// The UTC day of a record, as the aggregation buckets it.
const dayOf = (r) => new Date(r.started_unix_ms).toISOString().slice(0, 10);
const dayAfter = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86400000).toISOString().slice(0, 10);

const INT_SUMS = ['requests', 'prompt_tokens', 'completion_tokens', 'reasoning_tokens',
  'cached_tokens', 'charged_micro', 'uncharged_micro', 'estimated', 'errors'];
const FLOAT_SUMS = ['energy_kwh', 'carbon_g_co2', 'water_liters'];

// What GET /admin/v1/usage should answer for @records and @filter, as
// common/store/usagelog.h fg_usagelog_aggregate() documents it: rows per UTC
// day, key and model (the served one, else the requested one), sorted.
function aggregate(records, { key, from, to } = {}) {
  const rows = new Map();
  const zero = () => Object.fromEntries([...INT_SUMS, ...FLOAT_SUMS].map((f) => [f, 0]));
  const totals = zero();
  for (const r of records) {
    const day = dayOf(r);
    if ((key && r.key_id !== key) || (from && day < from) || (to && day > to)) continue;
    const model = r.model_served || r.model_requested;
    const id = `${day}\n${r.key_id}\n${model}`;
    if (!rows.has(id)) rows.set(id, { key_id: r.key_id, model, day, ...zero() });
    for (const sums of [rows.get(id), totals]) {
      sums.requests += 1;
      // A line of format 1 has no uncharged_micro: it read as 0.
      for (const f of ['prompt_tokens', 'completion_tokens', 'reasoning_tokens', 'cached_tokens',
        'charged_micro', 'uncharged_micro', ...FLOAT_SUMS]) sums[f] += r[f] ?? 0;
      sums.estimated += r.usage_estimated ? 1 : 0;
      sums.errors += r.error_code !== '' ? 1 : 0;
    }
  }
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const sorted = [...rows.values()].sort((a, b) => cmp(a.day, b.day) || cmp(a.key_id, b.key_id)
    || cmp(a.model, b.model));
  return { rows: sorted, totals };
}

// Asserts an aggregation reply sums as @expected: integers exactly,
// impact figures (doubles summed in another order) to 1e-9.
function assertSums(got, expected, what) {
  const close = (a, b, f, where) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1e-12),
    `${what} ${where} ${f}: ${a} != ${b}`);
  assert.deepEqual(got.rows.map((r) => [r.day, r.key_id, r.model]),
    expected.rows.map((r) => [r.day, r.key_id, r.model]), `${what}: the rows`);
  got.rows.forEach((row, i) => {
    for (const f of INT_SUMS) assert.equal(row[f], expected.rows[i][f], `${what} row ${i} ${f}`);
    for (const f of FLOAT_SUMS) close(row[f], expected.rows[i][f], f, `row ${i}`);
  });
  for (const f of INT_SUMS) assert.equal(got.totals[f], expected.totals[f], `${what} totals ${f}`);
  for (const f of FLOAT_SUMS) close(got.totals[f], expected.totals[f], f, 'totals');
}

async function adminUsage(g, query = '') {
  const r = await g.admin('GET', `/admin/v1/usage${query}`);
  assert.equal(r.status, 200, r.text);
  return r.json();
}

async function cliUsage(g, args) {
  const r = await runAdmin(g, ['usage', ...args]);
  assert.equal(r.code, 0, `fluxgate-admin usage ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r;
}

// SIGKILL to the master first (so nobody restarts what dies next), then to
// the syncer and every worker; resolves once all of them are gone.
async function crash(g) {
  const pids = [g.pid, syncerPid(g), ...g.workerPids()];
  assert.equal(pids.length, 4, `expected a master, a syncer and 2 workers: ${pids}`);
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  await g.exited;
  await waitFor('every gateway process to die', () => pids.every((pid) => !isAlive(pid)));
}

// A new gateway on @g's folder and data; waits until its key store is loaded.
async function restart(g, config) {
  const g2 = await startGateway({ sim, dir: g.dir, config, models: MODELS, key: false });
  await waitFor('the admin API after the restart', async () => {
    try {
      return (await g2.admin('GET', '/admin/v1/status')).status === 200;
    } catch {
      return false;
    }
  }, { tries: 200, every: 50 });
  return g2;
}

describe('one record per authenticated request', () => {
  let gw;
  const keys = {};
  // request id → { id, keyId, res, t0, t1, upstream (whether it reached the
  // provider), usage, charged (what the client was told it was charged) }
  const sent = new Map();
  const LONG_ID = `long-id-${'x'.repeat(120)}`;   // 128 characters
  const NO_KEY_ID = 'mix-no-key';
  let keyed;
  let byId;   // client's request id → [records]

  async function send(id, { key = keys.harness, body = chatBody(), upstream = true } = {}) {
    const t0 = Date.now();
    const res = await gw.post(URL_PATH, body, { 'x-request-id': id, ...bearer(key.secret) });
    const t1 = Date.now();
    assert.equal(res.headers['x-client-request-id'], id);
    let usage;
    let charged = res.headers['x-fluxgate-charged-micro'];
    let impact;
    if (res.status === 200 && body.stream) {
      const chunk = sseData(res.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d))
        .find((c) => c.usage);
      usage = chunk.usage;
      charged = chunk.fluxgate_billing.charged_micro;
    } else if (res.status === 200) {
      usage = res.json().usage;
      impact = res.json().environment_impact;
    }
    sent.set(id, { id, keyId: key.id, res, t0, t1, upstream, usage, impact,
      charged: charged === undefined ? undefined : Number(charged), body });
    return res;
  }

  before(async () => {
    gw = await startGateway({ sim, models: MODELS });
    keys.harness = { id: gw.keyId, secret: gw.key };
    keys.poor = await gw.createKey({ name: 'poor', energy: { balance_micro: 1 } });
    keys.limited = await gw.createKey({ name: 'limited', limits: { requests_per_min: 1 } });
    keys.leaver = await gw.createKey({ name: 'leaver', energy: { balance_micro: 1000000 } });

    // No key: a 401, before anything else.
    const anon = await plainRequest('POST', gw.url + URL_PATH, JSON.stringify(chatBody()),
      { 'content-type': 'application/json', 'x-request-id': NO_KEY_ID });
    assert.equal(anon.status, 401, anon.text);
    assert.equal(anon.headers['x-client-request-id'], NO_KEY_ID);

    assert.equal((await send('mix-ok')).status, 200);
    assert.equal((await send('mix-stream', {
      body: chatBody({ stream: true, stream_options: { include_usage: true }, max_tokens: 20 }),
    })).status, 200);
    assert.equal((await send('mix-unknown-model', { body: chatBody({ model: 'no-such-model' }), upstream: false })).status, 404);
    assert.equal((await send('mix-invalid-body', { body: { model: 'demo-chat' }, upstream: false })).status, 400);
    assert.equal((await send('mix-provider-500', { body: chatBody({ model: 'fault-500' }) })).status, 502);
    assert.equal((await send('mix-limited-ok', { key: keys.limited })).status, 200);
    assert.equal((await send('mix-limited-429', { key: keys.limited, upstream: false })).status, 429);
    assert.equal((await send('mix-balance-402', { key: keys.poor, upstream: false })).status, 402);
    assert.equal((await send(LONG_ID)).status, 200);

    // A client that leaves a stream after a few tokens.
    const goneBody = chatBody({ model: 'drip-chat', stream: true, max_tokens: 200 });
    const t0 = Date.now();
    const s = await streamRequest(gw.url + URL_PATH, goneBody,
      { headers: { 'x-request-id': 'mix-client-gone', ...bearer(keys.leaver.secret) } });
    assert.equal(s.status, 200);
    await waitFor('five tokens', () => s.events.length >= 6, { tries: 200, every: 10 });
    s.destroy();
    sent.set('mix-client-gone', { id: 'mix-client-gone', keyId: keys.leaver.id, res: s, t0,
      upstream: true, body: goneBody, events: s.events.length });

    keyed = [...sent.keys()];
    byId = await waitRecords(gw, keyed);
  });

  after(async () => {
    await gw?.stop();
  });

  // The record of request @id (the first, if a test above found more).
  const rec = (id) => byId.get(id)[0];

  test('each authenticated request has exactly one record, whatever its outcome', () => {
    exactlyOne(byId, keyed);
    const statuses = Object.fromEntries([...sent.values()].map((s) => [s.id, rec(s.id).status]));
    assert.deepEqual(statuses, {
      'mix-ok': 200, 'mix-stream': 200, 'mix-unknown-model': 404, 'mix-invalid-body': 400,
      'mix-provider-500': 502, 'mix-limited-ok': 200, 'mix-limited-429': 429, 'mix-balance-402': 402,
      [LONG_ID]: 200, 'mix-client-gone': 200,
    });
    assert.equal(recordsOf(gw).length, sent.size, 'a record no request of this test made');
  });

  test('sequence numbers have no gap: no record is missing anywhere', () => {
    const seqs = allSeqs(gw);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
  });

  // Its place in the sequence is before every later request's: with no gap
  // in the sequence, a record of it could not be anywhere else.
  test('a request without a key (401) leaves none', () => {
    assert.deepEqual(recordsById(gw, [NO_KEY_ID]).get(NO_KEY_ID), []);
  });

  test('status and error_code are the ones of the reply', () => {
    for (const s of sent.values()) {
      if (s.id === 'mix-client-gone') continue;
      const r = rec(s.id);
      assert.equal(r.status, s.res.status, s.id);
      assert.equal(r.error_code, s.res.status === 200 ? '' : s.res.json().error.code, s.id);
    }
  });

  test('key_id is the id of the key used, and no secret is ever written', () => {
    for (const s of sent.values()) assert.equal(rec(s.id).key_id, s.keyId, s.id);
    const { text } = usageJournal(gw.dataDir);
    for (const [name, k] of Object.entries(keys)) {
      assert.ok(k.secret.length > 20);
      assert.ok(!text.includes(k.secret), `the secret of the ${name} key is in the journal`);
    }
  });

  test('models and provider: the one asked for and the one that served; none served for an unknown model or an invalid body', () => {
    const models = (id) => {
      const r = rec(id);
      return [r.model_requested, r.model_served, r.provider];
    };
    assert.deepEqual(models('mix-ok'), ['demo-chat', 'demo-chat', 'demo']);
    assert.deepEqual(models('mix-stream'), ['demo-chat', 'demo-chat', 'demo']);
    assert.deepEqual(models('mix-provider-500'), ['fault-500', 'fault-500', 'demo']);
    assert.deepEqual(models('mix-balance-402'), ['demo-chat', 'demo-chat', 'demo']);
    assert.deepEqual(models('mix-client-gone'), ['drip-chat', 'drip-chat', 'demo']);
    assert.deepEqual(models('mix-unknown-model'), ['no-such-model', '', '']);
    assert.deepEqual(models('mix-invalid-body'), ['', '', '']);
  });

  test('the tokens are the usage the reply reported, streamed or not', () => {
    for (const id of ['mix-ok', 'mix-stream', 'mix-limited-ok', LONG_ID]) {
      const { usage } = sent.get(id);
      const r = rec(id);
      assert.ok(usage.completion_tokens > 0, id);
      assert.deepEqual(
        [r.prompt_tokens, r.completion_tokens, r.reasoning_tokens, r.cached_tokens, r.usage_estimated],
        [usage.prompt_tokens, usage.completion_tokens,
          usage.completion_tokens_details?.reasoning_tokens ?? 0,
          usage.prompt_tokens_details?.cached_tokens ?? 0, false], id);
      assert.equal(r.stream, id === 'mix-stream', id);
    }
    for (const id of ['mix-unknown-model', 'mix-invalid-body', 'mix-provider-500', 'mix-limited-429', 'mix-balance-402']) {
      const r = rec(id);
      assert.deepEqual([r.prompt_tokens, r.completion_tokens], [0, 0], id);
    }
  });

  test('charged_micro is what x-fluxgate-charged-micro (or a stream\'s fluxgate_billing) said; a refused or failed request is charged nothing', () => {
    for (const s of sent.values()) {
      if (s.id === 'mix-client-gone') continue;
      const r = rec(s.id);
      if (s.res.status === 200) {
        assert.ok(s.charged > 0, `${s.id}: the reply named no charge`);
        assert.equal(r.charged_micro, s.charged, s.id);
      } else {
        assert.equal(r.charged_micro, s.charged ?? 0, s.id);
        assert.equal(r.charged_micro, 0, s.id);
      }
    }
  });

  test('a completion has its energy, carbon and water, as environment_impact said; a request that generated nothing has none', () => {
    for (const id of ['mix-ok', 'mix-limited-ok', LONG_ID]) {
      const r = rec(id);
      const { impact } = sent.get(id);
      assert.ok(r.energy_kwh > 0 && r.carbon_g_co2 > 0 && r.water_liters > 0, id);
      // The reply prints 6 significant digits.
      for (const f of ['energy_kwh', 'carbon_g_co2', 'water_liters']) {
        assert.ok(Math.abs(r[f] - impact[f]) <= 1e-5 * impact[f], `${id} ${f}: ${r[f]} vs ${impact[f]}`);
      }
      assert.equal(r.impact_estimated, impact.estimated, id);
    }
    assert.ok(rec('mix-stream').energy_kwh > 0);
    for (const id of ['mix-unknown-model', 'mix-invalid-body', 'mix-limited-429', 'mix-balance-402']) {
      assert.equal(rec(id).energy_kwh, 0, id);
    }
  });

  // Sane, not precise: started_unix_ms is libevent's cached wall clock
  // (it may be off by a few ms), and the worker takes the time of the end
  // after it has sent the reply, so neither is compared to the
  // millisecond with what the client saw.
  test('timings: it started around when it was sent, took about as long as the client waited, and ttfb is -1 without an upstream', () => {
    for (const s of sent.values()) {
      const r = rec(s.id);
      assert.ok(Number.isInteger(r.started_unix_ms) && r.started_unix_ms >= s.t0 - 1000,
        `${s.id}: started ${r.started_unix_ms}, sent at ${s.t0}`);
      assert.ok(r.latency_us > 0, s.id);
      if (s.t1 !== undefined) {
        assert.ok(r.started_unix_ms <= s.t1 + 1000, `${s.id}: started ${r.started_unix_ms}, answered at ${s.t1}`);
        assert.ok(r.latency_us <= (s.t1 - s.t0 + 1000) * 1000, `${s.id}: latency ${r.latency_us} us, the client waited ${s.t1 - s.t0} ms`);
      }
      if (s.upstream) {
        assert.ok(r.ttfb_us > 0 && r.ttfb_us <= r.latency_us, `${s.id}: ttfb ${r.ttfb_us} of ${r.latency_us}`);
      } else {
        assert.equal(r.ttfb_us, -1, s.id);
      }
    }
  });

  test('a client that leaves mid-stream: client_gone, usage_estimated, and charged what its balance lost', async () => {
    const r = rec('mix-client-gone');
    assert.equal(r.client_gone, true);
    assert.equal(r.usage_estimated, true);
    assert.equal(r.stream, true);
    assert.ok(r.charged_micro > 0, 'a stream that relayed text must be charged');
    assert.ok(r.charged_micro <= worstCase(sent.get('mix-client-gone').body), 'more than it reserved');
    const k = await gw.admin('GET', `/admin/v1/keys/${keys.leaver.id}`);
    assert.equal(k.json().energy.balance_micro, 1000000 - r.charged_micro);
    for (const id of ['mix-ok', 'mix-stream', 'mix-provider-500']) assert.equal(rec(id).client_gone, false, id);
  });

  // A request without a usage count is charged for an estimate (prompt:
  // promptLikely; completion: relayed bytes / 4): its record counts those
  // tokens, marked usage_estimated.
  test('a client that leaves mid-stream: its record counts the estimated tokens it was charged for', () => {
    const r = rec('mix-client-gone');
    assert.equal(r.prompt_tokens, promptLikely(sent.get('mix-client-gone').body));
    assert.ok(r.completion_tokens >= sent.get('mix-client-gone').events - 1, `completion_tokens ${r.completion_tokens}`);
    assert.equal(r.charged_micro, cost(r.prompt_tokens, 0, r.completion_tokens));
  });

  test('a request id of 128 characters is kept whole in the reply and in the record', () => {
    assert.equal(sent.get(LONG_ID).res.headers['x-client-request-id'], LONG_ID);
    assert.equal(rec(LONG_ID).client_request_id, LONG_ID);
  });

  test('the reply\'s x-request-id is the gateway\'s id its record is keyed by', () => {
    for (const id of keyed) {
      assert.equal(sent.get(id).res.headers['x-request-id'], rec(id).request_id, id);
    }
  });

  test('request_id is the gateway\'s own id, one per request, beside the client\'s', () => {
    const ids = keyed.map((id) => rec(id).request_id);
    for (const id of ids) assert.match(id, /^req_[0-9a-f]{24}$/);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('the api is chat; a request that reached the provider has one attempt, the others none', () => {
    for (const s of sent.values()) {
      const r = rec(s.id);
      assert.equal(r.api, 'chat', s.id);
      assert.equal(r.attempts.length, s.upstream ? 1 : 0, `${s.id}: ${JSON.stringify(r.attempts)}`);
    }
    const [ok] = rec('mix-ok').attempts;
    assert.deepEqual([ok.provider, ok.outcome, ok.status], [rec('mix-ok').provider, 'status', 200]);
    assert.ok(ok.model.length > 0 && ok.latency_us > 0, JSON.stringify(ok));
    const [bad] = rec('mix-provider-500').attempts;
    assert.deepEqual([bad.outcome, bad.status], ['status', 500]);
  });

  test('flags name what the booleans say; nothing priced beyond a reservation here', () => {
    for (const s of sent.values()) {
      const r = rec(s.id);
      assert.equal(r.flags.includes('estimated'), r.usage_estimated, s.id);
      assert.equal(r.flags.includes('stream'), r.stream, s.id);
      assert.equal(r.flags.includes('client_gone'), r.client_gone, s.id);
      assert.equal(r.uncharged_micro, 0, s.id);
    }
    assert.ok(rec('mix-client-gone').flags.includes('estimated'));
  });

  test('every line is {"v":2,"node",…,"crc"} and its crc is the CRC-32C of the bytes before ,"crc":', () => {
    const { lines } = usageJournal(gw.dataDir);
    assert.equal(lines.length, sent.size);
    for (const { line, record } of lines) {
      assert.ok(line.startsWith('{"v":2,"node":'), line);
      assert.equal(typeof record.node, 'string');
      assert.ok(record.node.length > 0);
      assert.ok(Number.isInteger(record.seq) && record.seq > 0);
      assert.ok(Number.isInteger(record.ring) && record.ring >= 0);
      assert.match(record.crc, /^[0-9a-f]{8}$/);
      const at = line.lastIndexOf(',"crc":');
      assert.equal(crc32c(line.slice(0, at)).toString(16).padStart(8, '0'), record.crc, line);
    }
  });

  describe('summed: GET /admin/v1/usage and fluxgate-admin usage', () => {
    test('GET /admin/v1/usage sums requests, tokens and credit per key, model and day exactly as the records say', async () => {
      const all = recordsOf(gw);
      const got = await adminUsage(gw);
      assertSums(got, aggregate(all), 'GET /admin/v1/usage');
      assert.equal(got.records, all.length);
      assert.equal(got.has_torn_tail, false);
      assert.equal(got.totals.requests, sent.size);
      assert.equal(got.totals.charged_micro, all.reduce((n, r) => n + r.charged_micro, 0));
      assert.ok(got.totals.charged_micro > 0);
    });

    test('fluxgate-admin usage --json prints the same sums', async () => {
      const cli = (await cliUsage(gw, ['--json'])).json();
      assertSums(cli, aggregate(recordsOf(gw)), 'fluxgate-admin usage --json');
      assert.deepEqual(cli, await adminUsage(gw));
    });

    test('--key (?key=) sums one key\'s records only', async () => {
      for (const k of [keys.harness, keys.limited, keys.leaver]) {
        const expected = aggregate(recordsOf(gw), { key: k.id });
        assert.ok(expected.totals.requests > 0);
        const api = await adminUsage(gw, `?key=${k.id}`);
        assertSums(api, expected, `?key=${k.id}`);
        assert.ok(api.rows.every((r) => r.key_id === k.id));
        const cli = (await cliUsage(gw, ['--key', k.id, '--json'])).json();
        assert.deepEqual(cli, api);
      }
      const none = await adminUsage(gw, '?key=key_0000000000000001');
      assert.deepEqual([none.rows, none.totals.requests], [[], 0]);
    });

    test('--from and --to (?from=&to=) keep the records of the days between them, both included', async () => {
      const all = recordsOf(gw);
      const days = all.map(dayOf).sort();
      const [first, last] = [days[0], days[days.length - 1]];
      for (const [from, to, count] of [
        [first, last, all.length],
        [first, undefined, all.length],
        [undefined, last, all.length],
        [dayAfter(last, 1), undefined, 0],
        [undefined, dayAfter(first, -1), 0],
      ]) {
        const q = [from && `from=${from}`, to && `to=${to}`].filter(Boolean).join('&');
        const api = await adminUsage(gw, `?${q}`);
        assertSums(api, aggregate(all, { from, to }), `?${q}`);
        assert.equal(api.totals.requests, count, `?${q}`);
        const args = [...(from ? ['--from', from] : []), ...(to ? ['--to', to] : []), '--json'];
        assert.deepEqual((await cliUsage(gw, args)).json(), api, args.join(' '));
      }
    });

    test('the human table has a row per key, model and day and ends with a totals line', async () => {
      const api = await adminUsage(gw);
      const out = (await cliUsage(gw, [])).stdout;
      const lines = out.split('\n').filter((l) => l.trim() !== '');
      assert.match(lines[0], /^DAY\s+KEY\s+MODEL\s+REQUESTS\s+PROMPT\s+COMPLETION\s+CREDITS\s+UNCHARGED\s+KWH\s+G_CO2E\s*$/);
      assert.equal(lines.length, 1 + api.rows.length + 1, out);
      const total = lines[lines.length - 1].trim().split(/\s+/);
      const t = api.totals;
      const amount = (micro) => `${Math.floor(micro / 1e6)}.${String(micro % 1e6).padStart(6, '0')}`;
      assert.deepEqual(total.slice(0, 6),
        ['total', String(t.requests), String(t.prompt_tokens), String(t.completion_tokens),
          amount(t.charged_micro), amount(t.uncharged_micro)], out);
      assert.equal(total.length, 8, out);
    });
  });
});

// A journal written here, the way the syncer writes one, with records on
// three UTC days, two of them a millisecond apart across midnight.
describe('--from and --to on a journal of three days', () => {
  let gw;
  const K1 = 'key_00000000000000a1';
  const K2 = 'key_00000000000000b2';
  const records = [
    [K1, 'demo-chat', Date.UTC(2025, 2, 1, 12, 0, 0), 100],
    [K2, 'demo-chat', Date.UTC(2025, 2, 1, 23, 59, 59, 999), 200],
    [K1, 'demo-chat', Date.UTC(2025, 2, 2, 0, 0, 0, 0), 300],
    [K1, 'other-chat', Date.UTC(2025, 2, 2, 18, 30, 0), 400],
    [K2, 'demo-chat', Date.UTC(2025, 2, 3, 9, 0, 0), 500],
  ].map(([key, model, started, charged], i) => ({
    seq: i + 1, ring: 0, request_id: `past-${i}`, key_id: key, model_requested: model,
    model_served: model, provider: 'demo', status: 200, error_code: '', started_unix_ms: started,
    latency_us: 1000, ttfb_us: 500, prompt_tokens: 10 + i, completion_tokens: 20 + i,
    reasoning_tokens: 0, cached_tokens: i, usage_estimated: i === 4, charged_micro: charged,
    energy_kwh: 0.5 + i, carbon_g_co2: 0.25 * (i + 1), water_liters: 0.125 * (i + 1),
    impact_estimated: true, stream: false, client_gone: false, worker_lost: false,
  }));

  before(async () => {
    const dir = tempDir('fg-gw-');
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const text = records.map((r) => {
      const head = JSON.stringify({ v: 1, node: 'n1', ...r });
      const body = head.slice(0, -1);
      return `${body},"crc":"${crc32c(body).toString(16).padStart(8, '0')}"}\n`;
    }).join('');
    fs.writeFileSync(path.join(dataDir, 'usage.journal'), text, { mode: 0o600 });
    gw = await startGateway({ sim, dir, key: false });
    await waitFor('the admin API', async () => {
      try {
        return (await gw.admin('GET', '/admin/v1/status')).status === 200;
      } catch {
        return false;
      }
    }, { tries: 200, every: 50 });
  });

  after(async () => {
    await gw?.stop();
  });

  test('the syncer accepts the journal as it is', async () => {
    const got = await adminUsage(gw);
    assert.equal(got.records, records.length);
    assert.equal(got.has_torn_tail, false);
    assertSums(got, aggregate(records), 'the whole journal');
  });

  test('days are UTC days, and --from and --to include both ends', async () => {
    for (const [from, to, requests] of [
      ['2025-03-01', '2025-03-01', 2],
      ['2025-03-02', '2025-03-02', 2],
      ['2025-03-02', undefined, 3],
      [undefined, '2025-03-02', 4],
      ['2025-03-01', '2025-03-03', 5],
      ['2025-03-04', undefined, 0],
      ['2025-03-03', '2025-03-01', 0],
    ]) {
      const q = [from && `from=${from}`, to && `to=${to}`].filter(Boolean).join('&');
      const api = await adminUsage(gw, `?${q}`);
      assertSums(api, aggregate(records, { from, to }), `?${q}`);
      assert.equal(api.totals.requests, requests, `?${q}`);
      const args = ['--json', ...(from ? ['--from', from] : []), ...(to ? ['--to', to] : [])];
      assert.deepEqual((await cliUsage(gw, args)).json(), api, args.join(' '));
    }
  });

  test('--key with --from and --to: one key\'s records of those days', async () => {
    const api = await adminUsage(gw, `?key=${K1}&from=2025-03-02&to=2025-03-03`);
    assertSums(api, aggregate(records, { key: K1, from: '2025-03-02', to: '2025-03-03' }), 'K1 02..03');
    assert.deepEqual(api.rows.map((r) => [r.day, r.model, r.charged_micro]),
      [['2025-03-02', 'demo-chat', 300], ['2025-03-02', 'other-chat', 400]]);
    const cli = (await cliUsage(gw, ['--key', K1, '--from', '2025-03-02', '--to', '2025-03-03', '--json'])).json();
    assert.deepEqual(cli, api);
  });
});

// With the syncer running, the records are in the journal at the crash,
// and those whose sync has not yet freed their ring slots are delivered
// again by the next syncer: the journal must skip them by (ring, seq).
// With the syncer stopped, they are only in the arena's rings.
for (const variant of [
  { name: 'the syncer running', stopSyncer: false },
  { name: 'the syncer stopped: every record still in the rings', stopSyncer: true },
]) {
  describe(`after a SIGKILL of every gateway process right after a burst (${variant.name})`, () => {
    const N = 50;
    const ids = Array.from({ length: N }, (_, i) => `burst-${variant.stopSyncer ? 's' : 'w'}-${i}`);
    let first;
    let gw;
    let replies;
    let journalAtCrash;

    before(async () => {
      // With the syncer stopped nothing becomes durable: the requests are
      // let through at once (docs/operations.md usage.reservation_wait_ms).
      first = await startGateway({
        sim, models: MODELS,
        config: variant.stopSyncer ? { usage: { reservation_wait_ms: 0 } } : {},
      });
      try {
        if (variant.stopSyncer) process.kill(syncerPid(first), 'SIGSTOP');
        replies = await Promise.all(ids.map((id, i) => first.post(URL_PATH,
          chatBody({ max_tokens: 1 + (i % 7) }), { 'x-request-id': id })));
        for (const r of replies) assert.equal(r.status, 200, r.text);
      } catch (e) {
        await crash(first);
        throw e;
      }
      await crash(first);
      journalAtCrash = recordsOf(first).length;
      gw = await restart(first);
    });

    after(async () => {
      await gw?.stop();
    });

    test('the new master finds the arena of the killed run', () => {
      assert.match(gw.log(), /found the arena of a run that did not stop cleanly/);
      if (variant.stopSyncer) assert.equal(journalAtCrash, 0, 'the stopped syncer wrote records');
    });

    test(`the journal holds each of the ${N} records exactly once`, async () => {
      const byId = await waitRecords(gw, ids);
      exactlyOne(byId, ids);
      const all = recordsOf(gw);
      assert.equal(all.length, N);
      const seqs = allSeqs(gw);
      assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'a gap or a repeat in the sequence');
    });

    test('each record is the one of its reply: key, status, tokens and charge', async () => {
      const recs = exactlyOne(await waitRecords(gw, ids), ids);
      replies.forEach((res, i) => {
        const r = recs.get(ids[i]);
        const { usage } = res.json();
        assert.deepEqual([r.key_id, r.status, r.prompt_tokens, r.completion_tokens, r.charged_micro],
          [first.keyId, 200, usage.prompt_tokens, usage.completion_tokens,
            Number(res.headers['x-fluxgate-charged-micro'])], ids[i]);
      });
    });
  });
}

describe('a worker SIGKILLed with requests in flight', () => {
  let gw;
  let victim;
  const done = ['wk-done-0', 'wk-done-1', 'wk-done-2'];
  const inFlight = [100, 200, 300, 400].map((m, i) => ({
    id: `wk-fly-${i}`, body: chatBody({ model: 'stall-chat', max_tokens: m }),
  }));
  const later = [];   // 'id:status' of every request sent after the kill

  before(async () => {
    // One worker: every request is on the one killed.
    gw = await startGateway({ sim, models: MODELS, config: { workers: 1 } });
    for (const id of done) {
      const r = await gw.post(URL_PATH, chatBody(), { 'x-request-id': id });
      assert.equal(r.status, 200, r.text);
    }
    const inFlightBefore = (await sim.stats()).in_flight;
    const pending = inFlight.map((f) => gw.post(URL_PATH, f.body, { 'x-request-id': f.id }).catch((e) => e));
    await waitFor('the stalled requests at the upstream',
      async () => (await sim.stats()).in_flight >= inFlightBefore + inFlight.length, { tries: 200, every: 10 });
    [victim] = gw.workerPids();
    process.kill(victim, 'SIGKILL');
    await Promise.all(pending);
    await waitFor('a new worker', () => {
      const now = gw.workerPids();
      return now.length === 1 && now[0] !== victim;
    }, { tries: 200, every: 25 });
    // On the new worker: an id of its own for every try, so that a try
    // refused while it starts is a request with its own record, not a double.
    for (let i = 0; later.filter((s) => s.endsWith(':200')).length < 2; i++) {
      assert.ok(i < 100, 'the new worker answers no request');
      const id = `wk-after-${i}`;
      const res = await gw.post(URL_PATH, chatBody(), { 'x-request-id': id });
      later.push(`${id}:${res.status}`);
      if (res.status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(async () => {
    await gw?.stop();
  });

  test('each request in flight gets one record from the master: worker_lost, charged its reservation', async () => {
    const ids = inFlight.map((f) => f.id);
    const recs = exactlyOne(await waitRecords(gw, ids), ids);
    for (const f of inFlight) {
      const r = recs.get(f.id);
      assert.equal(r.worker_lost, true, f.id);
      assert.equal(r.error_code, 'worker_lost', f.id);
      assert.equal(r.key_id, gw.keyId, f.id);
      assert.equal(r.usage_estimated, true, f.id);
      assert.equal(r.charged_micro, worstCase(f.body), f.id);
      assert.equal(r.ring, Math.max(...recordsOf(gw).map((x) => x.ring)), `${f.id}: not on the master's ring`);
    }
  });

  test('no record is lost or doubled: before, in flight and after the kill', async () => {
    const after = later.map((s) => s.split(':'));
    const ids = [...done, ...inFlight.map((f) => f.id), ...after.map(([id]) => id)];
    const recs = exactlyOne(await waitRecords(gw, ids), ids);
    assert.equal(recordsOf(gw).length, ids.length);
    for (const id of done) assert.deepEqual([recs.get(id).status, recs.get(id).worker_lost], [200, false], id);
    for (const [id, status] of after) {
      assert.deepEqual([recs.get(id).status, recs.get(id).worker_lost], [Number(status), false], id);
    }
  });

  // The master's record of a lost request (master/cycle.c cycle_lost_cb)
  // takes the ids the reservation kept: both, whole.
  test('a request in flight with a 128-character id gets its worker_lost record under that id', async () => {
    const id = `wk-long-${'y'.repeat(120)}`;
    assert.equal(id.length, 128);
    const inFlightBefore = (await sim.stats()).in_flight;
    const pending = gw.post(URL_PATH, chatBody({ model: 'stall-chat', max_tokens: 50 }),
      { 'x-request-id': id }).catch((e) => e);
    await waitFor('the stalled request at the upstream',
      async () => (await sim.stats()).in_flight >= inFlightBefore + 1, { tries: 200, every: 10 });
    const [pid] = gw.workerPids();
    process.kill(pid, 'SIGKILL');
    await pending;
    const lost = await waitFor('its worker_lost record', () => recordsOf(gw)
      .find((r) => r.worker_lost && r.client_request_id.startsWith(id.slice(0, 39))), { tries: 200, every: 25 });
    assert.equal(lost.client_request_id, id);
    assert.match(lost.request_id, /^req_[0-9a-f]{24}$/);
  });
});

// Each upstream call is an attempt in its record (worker/usagerec.c): how
// it ended, as common/wire/attempt.h names it, as the upstream client
// filled it. One gateway, one request per ending. A non-streamed reply
// that arrived whole but is not JSON ended as a transfer with its status:
// the relay, not the attempt, refuses its body (the record's error says so).
describe('attempts: how each upstream call ended', () => {
  let gw;
  let recs;
  const ENDINGS = {
    'att-500': ['fault-500', {}, 'status', 500],
    'att-reset': ['fault-reset', {}, 'sent_no_reply', 0],
    'att-reset-stream': ['fault-reset', { stream: true }, 'broke_after_bytes', 200],
    'att-malformed': ['fault-malformed', {}, 'status', 200],
    'att-client-left': ['stall-chat', {}, 'cancelled', 0],
  };

  before(async () => {
    gw = await startGateway({ sim, models: MODELS });
    for (const [id, [model, over]] of Object.entries(ENDINGS)) {
      const headers = { 'content-type': 'application/json', 'x-request-id': id, ...bearer(gw.key) };
      const body = JSON.stringify(chatBody({ model, max_tokens: 20, ...over }));
      // The stalled one: the client gives up after a second.
      await plainRequest('POST', gw.url + URL_PATH, body, headers,
        { timeoutMs: model === 'stall-chat' ? 1000 : 15000 }).catch((e) => e);
    }
    recs = exactlyOne(await waitRecords(gw, Object.keys(ENDINGS)), Object.keys(ENDINGS));
  });

  after(async () => {
    await gw?.stop();
  });

  for (const [id, [model, over, outcome, status]] of Object.entries(ENDINGS)) {
    test(`${model}${over.stream ? ' (stream)' : ''}: one attempt, ${outcome}, status ${status}`, () => {
      const r = recs.get(id);
      assert.equal(r.attempts.length, 1, JSON.stringify(r));
      const [a] = r.attempts;
      assert.deepEqual([a.provider, a.outcome, a.status], ['demo', outcome, status], JSON.stringify(a));
      assert.ok(a.latency_us > 0 && a.latency_us <= r.latency_us, JSON.stringify(r));
    });
  }
});

// fg_ledger_settle never takes more than was reserved; what the provider's
// usage cost beyond it is recorded as uncharged_micro. overcount-chat's
// provider reports ten times the prompt tokens it read.
describe('usage priced beyond the reservation', () => {
  let gw;
  let r;
  let body;

  before(async () => {
    gw = await startGateway({ sim, models: MODELS });
    body = chatBody({ model: 'overcount-chat', max_tokens: 5 });
    const res = await gw.post(URL_PATH, body, { 'x-request-id': 'over-reservation' });
    assert.equal(res.status, 200, res.text);
    const { usage } = res.json();
    r = exactlyOne(await waitRecords(gw, ['over-reservation']), ['over-reservation'])
      .get('over-reservation');
    r.reported = usage;
  });

  after(async () => {
    await gw?.stop();
  });

  test('is charged up to the reservation and records the rest as uncharged_micro', () => {
    const priced = cost(r.reported.prompt_tokens, 0, r.reported.completion_tokens);
    assert.equal(r.charged_micro, worstCase(body), JSON.stringify(r));
    assert.ok(r.uncharged_micro > 0, JSON.stringify(r));
    assert.equal(r.charged_micro + r.uncharged_micro, priced);
  });

  test('the sums count it', async () => {
    const got = await adminUsage(gw);
    assert.equal(got.totals.uncharged_micro, r.uncharged_micro);
  });
});

// The same on a stream (issue 12 item 8): the usage chunk settles the
// request mid-stream (relay.c), by the same settle, so a provider's usage
// beyond the reservation is cut to it there too, and recorded.
describe('streamed usage priced beyond the reservation', () => {
  let gw;
  let r;
  let body;
  let usage;

  before(async () => {
    gw = await startGateway({ sim, models: MODELS });
    body = chatBody({ model: 'overcount-stream', max_tokens: 5, stream: true,
      stream_options: { include_usage: true } });
    const s = await streamRequest(gw.url + URL_PATH, body, { headers: { 'x-request-id': 'over-stream' } });
    assert.equal(s.status, 200);
    await s.done;
    usage = s.events.map((e) => (e.data === '[DONE]' ? null : JSON.parse(e.data)))
      .find((c) => c && c.usage)?.usage;
    assert.ok(usage, 'a usage chunk');
    r = exactlyOne(await waitRecords(gw, ['over-stream']), ['over-stream']).get('over-stream');
  });

  after(async () => {
    await gw?.stop();
  });

  test('is charged up to the reservation and records the rest as uncharged_micro', () => {
    const priced = cost(usage.prompt_tokens, 0, usage.completion_tokens);
    assert.ok(r.flags.includes('stream'), JSON.stringify(r));
    assert.equal(r.charged_micro, worstCase(body), JSON.stringify(r));
    assert.ok(r.uncharged_micro > 0, JSON.stringify(r));
    assert.equal(r.charged_micro + r.uncharged_micro, priced);
  });
});

// A usage record's size is part of the shm layout (FG_SHM_LAYOUT_VERSION):
// an arena that a crashed run of another layout left may hold records and
// reservations this build cannot read, so the start is refused, the arena
// untouched (docs/operations.md, Upgrades).
describe('an arena left by a crashed run of another layout', () => {
  let gw;
  let arena;
  let run;
  const LAYOUT_AT = 8;   // fg_shm_header_t: magic (8 bytes), then the version

  before(async () => {
    gw = await startGateway({ sim, models: MODELS });
    assert.equal((await gw.post(URL_PATH, chatBody(), { 'x-request-id': 'old-layout' })).status, 200);
    await crash(gw);
    arena = `/dev/shm/${shmName(gw.dataDir)}`;
    const fd = fs.openSync(arena, 'r+');
    const version = Buffer.alloc(4);
    fs.readSync(fd, version, 0, 4, LAYOUT_AT);
    version.writeUInt32LE(version.readUInt32LE(0) - 1, 0);
    fs.writeSync(fd, version, 0, 4, LAYOUT_AT);
    fs.closeSync(fd);
    run = spawnSync(path.join(BIN_DIR, 'fluxgate'), ['-c', gw.confPath], {
      env: { ...process.env, FG_DEMO_BASE_URL: `${sim.url}/v1`, FG_DEMO_API_KEY: 'sim-key' },
      encoding: 'utf8', timeout: 20000,
    });
  });

  after(async () => {
    await gw?.stop();
  });

  test('the gateway does not start, and says which layout it found and what to do', () => {
    assert.equal(run.signal, null, run.stderr);
    assert.notEqual(run.status, 0, run.stderr);
    assert.match(run.stderr, /layout version \d+, this build \d+/, run.stderr);
    assert.match(run.stderr, /stop it with SIGTERM, or remove \/dev\/shm\/fluxgate-/, run.stderr);
  });

  test('the arena is left as it was', () => {
    const version = Buffer.alloc(4);
    const fd = fs.openSync(arena, 'r');
    fs.readSync(fd, version, 0, 4, LAYOUT_AT);
    fs.closeSync(fd);
    const ours = fs.readFileSync(path.join(SRC_DIR, 'common/base/shm.h'), 'utf8')
      .match(/#define FG_SHM_LAYOUT_VERSION\s+(\d+)/)[1];
    assert.equal(version.readUInt32LE(0), Number(ours) - 1);
  });
});

describe('back-pressure: a full ring (usage.ring_records 16) with the syncer stopped', () => {
  let gw;
  let spid;
  let upstreamSaw;
  const ids = Array.from({ length: 24 }, (_, i) => `bp-${i}`);
  const replies = [];

  before(async () => {
    // One worker: its ring is the one every request needs room in.
    // reservation_wait_ms 0: with the syncer stopped no reservation becomes
    // durable, and this is about the ring's room, not that wait.
    gw = await startGateway({ sim, config: { workers: 1, usage: { ring_records: 16, reservation_wait_ms: 0 } } });
    spid = syncerPid(gw);
    process.kill(spid, 'SIGSTOP');
    const upstreamBefore = (await sim.stats()).requests;
    for (const id of ids) replies.push(await gw.post(URL_PATH, chatBody(), { 'x-request-id': id }));
    upstreamSaw = (await sim.stats()).requests - upstreamBefore;
  });

  after(async () => {
    if (spid) {
      try { process.kill(spid, 'SIGCONT'); } catch { /* gone */ }
    }
    await gw?.stop();
  });

  const admitted = () => ids.filter((_, i) => replies[i].status === 200);
  const refused = () => ids.filter((_, i) => replies[i].status === 503);

  test('requests beyond the ring\'s room get 503 billing_unavailable with Retry-After, and reach no upstream', () => {
    const statuses = replies.map((r) => r.status);
    const n = admitted().length;
    assert.ok(n >= 1 && n <= 16, `${n} admitted with room for 16 records: ${statuses}`);
    assert.deepEqual(statuses, [...Array(n).fill(200), ...Array(ids.length - n).fill(503)],
      'once full, the ring stays full while the syncer is stopped');
    for (const r of replies.slice(n)) {
      assert.equal(r.json().error.code, 'billing_unavailable', r.text);
      assert.match(r.headers['retry-after'] ?? '', /^[1-9]\d*$/, 'Retry-After in whole seconds');
    }
    assert.equal(upstreamSaw, n, 'a refused request reached the upstream');
  });

  test('after SIGCONT, every admitted request\'s record reaches the journal, once', async () => {
    process.kill(spid, 'SIGCONT');
    const ok = admitted();
    exactlyOne(await waitRecords(gw, ok), ok);
  });

  // Once the syncer runs again, the group commit (usage.sync_interval_ms)
  // frees the ring's slots, however few records wait.
  test('after SIGCONT, new requests pass again', async () => {
    process.kill(spid, 'SIGCONT');
    let n = 0;
    const res = await waitFor('a request admitted again', async () => {
      const r = await gw.post(URL_PATH, chatBody(), { 'x-request-id': `bp-again-${n++}` });
      return r.status === 200 && r;
    }, { tries: 100, every: 100 });
    assert.equal(res.status, 200);
  });

  test('after SIGCONT, the refused requests\' records reach the journal too', async () => {
    process.kill(spid, 'SIGCONT');
    const no = refused();
    exactlyOne(await waitRecords(gw, no, 'refused requests\' records'), no);
  });
});
