// The money invariants under crashes, for the APIs that came after chat
// (issue 17): embeddings, legacy completions, and Responses, translated
// to chat or sent natively (worker/pipeline.c, worker/meter.c,
// master/cycle.c, master/syncer.c). 35-keys-crash, 36-cold-start and
// 70-process prove them for chat completions; these requests share the
// reservation, the metering and the usage records, and must keep the same
// promises:
//
//   balance == initial + top-ups - every charge in the usage journal
//
// exactly; every request has exactly one usage record, saying which API
// it was ("embeddings", "completions", "responses"); and a reply the
// client received announced the charge its record holds
// (x-fluxgate-charged-micro, or a stream's fluxgate_billing).
//
// Two crashes: a worker SIGKILLed (the arena stays; the master settles
// its reservations, charged in full) and a power loss (every process
// SIGKILLed and the arena removed, as 36-cold-start does; the syncer
// settles at the next start what the reservation log holds open).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import {
  stopAll, isAlive, reservationLog, shippedModels, shmName, simModel, sleep, sseData, startGateway,
  startSim, streamRequest, syncerPid, usageJournal, waitFor,
} from '../lib/harness.mjs';

const SHIPPED = shippedModels();
const like = (id) => {
  const m = SHIPPED.find((x) => x.id === id);
  return { apis: m.apis, pricing: m.pricing, tokens: m.tokens };
};
// Slow twins of the shipped models, same APIs and prices: "stall" never
// answers (a plain request in flight until the crash), "delay-50" sends
// a token (a Responses delta) every 50 ms (a stream in flight, some of it
// relayed).
const MODELS = {
  models: [...SHIPPED,
    simModel('stall-embed', 'sim-embed-fault-stall', like('demo-embed')),
    simModel('stall-chat', 'sim-fault-stall', like('demo-chat')),
    simModel('drip-chat', 'sim-delay-50', like('demo-chat')),
    simModel('stall-responses', 'sim-native-fault-stall', like('demo-responses')),
    simModel('drip-responses', 'sim-native-delay-50', like('demo-responses'))],
};

const WORDS = 'say something about gateways';

// Each kind of request: its path, the "api" its record must name, and
// its body, answered at once (the shipped model) or held in flight (the
// slow twin).
const KINDS = [
  { name: 'embeddings', path: '/v1/embeddings', api: 'embeddings', stream: false,
    body: (model) => ({ model: model ?? 'demo-embed', input: [WORDS, 'and energy'] }),
    slow: 'stall-embed' },
  { name: 'legacy completion', path: '/v1/completions', api: 'completions', stream: false,
    body: (model) => ({ model: model ?? 'demo-chat', prompt: WORDS, max_tokens: 8 }),
    slow: 'stall-chat' },
  { name: 'legacy completion stream', path: '/v1/completions', api: 'completions', stream: true,
    body: (model) => ({ model: model ?? 'demo-chat', prompt: WORDS, max_tokens: model ? 2000 : 8,
      stream: true, stream_options: { include_usage: true } }),
    slow: 'drip-chat' },
  { name: 'translated response', path: '/v1/responses', api: 'responses', stream: false,
    body: (model) => ({ model: model ?? 'demo-chat', input: WORDS, max_output_tokens: 16 }),
    slow: 'stall-chat' },
  { name: 'translated response stream', path: '/v1/responses', api: 'responses', stream: true,
    body: (model) => ({ model: model ?? 'demo-chat', input: WORDS, max_output_tokens: model ? 2000 : 16,
      stream: true }),
    slow: 'drip-chat' },
  { name: 'native response', path: '/v1/responses', api: 'responses', stream: false,
    body: (model) => ({ model: model ?? 'demo-responses', input: WORDS, max_output_tokens: 16 }),
    slow: 'stall-responses' },
  { name: 'native response stream', path: '/v1/responses', api: 'responses', stream: true,
    body: (model) => ({ model: model ?? 'demo-responses', input: WORDS, max_output_tokens: model ? 2000 : 16,
      stream: true }),
    slow: 'drip-responses' },
];

let sim;

before(async () => {
  sim = await startSim();
});

after(async () => {
  await sim?.stop();
});

const bearer = (secret, id) => ({ authorization: `Bearer ${secret}`, 'x-request-id': id });
const slug = (kind) => kind.name.replace(/ /g, '-');

// Each request in @held (cut by a crash) has exactly one worker_lost
// record in @records, naming its API, model and stream flag, charged the
// whole reservation @reservations holds for it.
function expectLost(held, records, reservations, log = '') {
  for (const h of held) {
    const mine = records.filter((rec) => rec.client_request_id === h.id);
    assert.equal(mine.length, 1, `${h.kind.name}: ${mine.length} records\n${log}`);
    const [rec] = mine;
    assert.ok(rec.flags.includes('worker_lost'), `${h.kind.name}: ${rec.flags}`);
    assert.equal(rec.api, h.kind.api, `${h.kind.name}: ${JSON.stringify(rec)}`);
    assert.equal(rec.model_requested, h.kind.slow, `${h.kind.name}: ${JSON.stringify(rec)}`);
    assert.equal(rec.flags.includes('stream'), h.kind.stream, `${h.kind.name}: ${rec.flags}`);
    assert.ok(rec.charged_micro > 0, `${h.kind.name} was charged`);
    assert.equal(rec.charged_micro, reservations.get(h.id), `${h.kind.name}: charged its whole reservation`);
  }
}

// The billing a stream's last event announced: the usage chunk of a
// completions stream, response.completed's response for Responses.
function streamBilling(text) {
  for (const d of sseData(text).reverse()) {
    if (d === '[DONE]') continue;
    const j = JSON.parse(d);
    const billing = j.fluxgate_billing ?? j.response?.fluxgate_billing;
    if (billing) return billing;
  }
  return null;
}

// Sends @kind's quick request as @id and returns what its reply announced:
// { id, kind, charged, balance }.
async function answer(g, secret, kind, id) {
  const s = await streamRequest(g.url + kind.path, kind.body(),
    { headers: bearer(secret, id), timeoutMs: 15000 });
  const end = await s.done;
  assert.equal(s.status, 200, `${kind.name}: ${end.text}`);
  assert.equal(end.error, null, `${kind.name}: ${end.error}`);
  if (!kind.stream) {
    return { id, kind, charged: Number(s.headers['x-fluxgate-charged-micro']),
      balance: Number(s.headers['x-fluxgate-balance-micro']) };
  }
  const billing = streamBilling(end.text);
  assert.ok(billing, `${kind.name}: no fluxgate_billing in the stream:\n${end.text.slice(-600)}`);
  return { id, kind, charged: billing.charged_micro, balance: billing.balance_micro };
}

// Starts one request of every kind on its slow twin, all as @prefix-<kind>,
// and resolves once each is at the simulator and each stream has relayed
// tokens: [{ id, kind, stream, done }] (done settles when the crash ends
// it).
async function holdInFlight(g, secret, prefix) {
  // Arrivals, not the in_flight gauge, which calls cut by an earlier
  // crash may still be leaving.
  const before = (await sim.stats()).requests;
  const held = [];
  for (const kind of KINDS) {
    const id = `${prefix}-${slug(kind)}`;
    const s = streamRequest(g.url + kind.path, kind.body(kind.slow),
      { headers: bearer(secret, id), timeoutMs: 60000 });
    // A plain request's head comes only with its reply: not awaited.
    const started = kind.stream ? await s : null;
    held.push({ id, kind, stream: started,
      done: kind.stream ? started.done : s.then((r) => r.done, (e) => e) });
  }
  await waitFor('every held request at the simulator',
    async () => (await sim.stats()).requests >= before + KINDS.length, { tries: 300, every: 20 });
  await waitFor('tokens on every held stream',
    () => held.every((h) => !h.kind.stream || h.stream.events.length >= 3), { tries: 300, every: 20 });
  return held;
}

const recordsOf = (dataDir, keyId) => usageJournal(dataDir).lines.map((l) => l.record)
  .filter((rec) => rec.key_id === keyId);

// What each request's reservation held (reservations.journal), by client id.
const heldAmounts = (dataDir) => new Map(reservationLog(dataDir)
  .map((r) => [r.client_request_id, r.charged_micro]));

const journalCharges = (records) => records.reduce((n, rec) => n + rec.charged_micro, 0);

const balanceOf = async (g, keyId) => {
  const r = await g.admin('GET', `/admin/v1/keys/${keyId}`);
  assert.equal(r.status, 200, r.text);
  return r.json().energy.balance_micro;
};

// One request of every kind, each reply's balance its predecessor's less
// its own charge, starting from @balance.
async function servesAgain(g, secret, prefix, balance) {
  let expected = balance;
  for (const kind of KINDS) {
    const got = await answer(g, secret, kind, `${prefix}-${slug(kind)}`);
    assert.ok(got.charged > 0, `${kind.name} was charged`);
    expected -= got.charged;
    assert.equal(got.balance, expected, `${kind.name}: balance ${got.balance}, expected ${expected}`);
  }
}

describe('a worker SIGKILLed with requests of every API in flight', () => {
  const INITIAL = 50000000;
  const TOPUP = 1234567;
  let g;
  let keyId;
  let secret;
  let victim;
  let answered;             // replies received before the kill
  let held;                 // requests in flight at the kill
  let balanceAfter;
  let records;
  let reservations;         // client id -> micro-units its reservation held

  before(async () => {
    g = await startGateway({ sim, models: MODELS, key: false, config: { workers: 1 } });
    const k = await g.createKey({ name: 'worker-kill', energy: { balance_micro: INITIAL } });
    keyId = k.id;
    secret = k.secret;
    const top = await g.admin('POST', `/admin/v1/keys/${keyId}/topup`,
      { amount_micro: TOPUP, idempotency_key: 'worker-kill-topup' });
    assert.equal(top.status, 200, top.text);

    [victim] = g.workerPids();
    held = await holdInFlight(g, secret, 'wk-held');
    // Answered right before the kill: their records may still be in the
    // worker's ring, which the arena keeps.
    answered = [];
    for (const kind of KINDS) answered.push(await answer(g, secret, kind, `wk-answered-${slug(kind)}`));
    process.kill(victim, 'SIGKILL');
    await Promise.all(held.map((h) => h.done));

    await waitFor('a replacement worker', () => g.workerPids().length === 1
      && g.workerPids()[0] !== victim && !isAlive(victim), { tries: 200, every: 50 });
    await waitFor('/readyz 200', async () => (await g.get('/readyz')).status === 200,
      { tries: 200, every: 50 });
    const ids = [...answered, ...held].map((r) => r.id);
    await waitFor('a record of every request in the journal', () => {
      const have = new Set(recordsOf(g.dataDir, keyId).map((rec) => rec.client_request_id));
      return ids.every((id) => have.has(id));
    }, { tries: 200, every: 50 }).catch((e) => {
      throw new Error(`${e.message}\n${g.log()}`);
    });
    balanceAfter = await balanceOf(g, keyId);
    records = recordsOf(g.dataDir, keyId);
    reservations = heldAmounts(g.dataDir);
  });

  after(async () => {
    await g?.stop();
  });

  test('the balance is initial + top-ups - every charge in the journal, exactly', () => {
    const charged = journalCharges(records);
    assert.equal(balanceAfter, INITIAL + TOPUP - charged,
      `balance ${balanceAfter}, journal charges ${charged}: off by ${balanceAfter - (INITIAL + TOPUP - charged)}`);
  });

  test('every answered request has exactly one usage record, naming its API', () => {
    for (const a of answered) {
      const mine = records.filter((rec) => rec.client_request_id === a.id);
      assert.equal(mine.length, 1, `${a.kind.name}: ${mine.length} records`);
      assert.equal(mine[0].api, a.kind.api, `${a.kind.name}: ${JSON.stringify(mine[0])}`);
    }
  });

  test('every answered request\'s record holds the charge its reply announced', () => {
    for (const a of answered) {
      const rec = records.find((r) => r.client_request_id === a.id);
      assert.ok(a.charged > 0, `${a.kind.name} announced a charge`);
      assert.equal(rec.charged_micro, a.charged, `${a.kind.name}: ${JSON.stringify(rec)}`);
    }
  });

  test('every request cut by the kill has exactly one worker_lost record, naming its API and model, charged its whole reservation', () => {
    expectLost(held, records, reservations);
  });

  test('the key serves every API again, each reply\'s balance exact', async () => {
    await servesAgain(g, secret, 'wk-after', balanceAfter);
  });
});

// SIGKILL to the master first (nobody restarts what dies next), then the
// syncer and the workers; then the arena goes too, as a reboot takes it
// (36-cold-start's powerLoss).
async function powerLoss(g) {
  const pids = [g.pid, syncerPid(g), ...g.workerPids()];
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await g.exited;
  await waitFor('every gateway process to die', () => pids.every((pid) => !isAlive(pid)));
  fs.unlinkSync(`/dev/shm/${shmName(g.dataDir)}`);
}

// Strict durability, as 36-cold-start: every request in flight at the
// power loss holds a durable reservation, settled at the next start.
const STRICT = { workers: 1, usage: { reservation_wait_ms: 2000 } };

async function restart(g) {
  const g2 = await startGateway({ sim, models: MODELS, dir: g.dir, key: false, config: STRICT });
  await waitFor('the admin API after the restart', async () => {
    try {
      return (await g2.admin('GET', '/admin/v1/status')).status === 200;
    } catch {
      return false;
    }
  }, { tries: 200, every: 50 });
  return g2;
}

describe('a power loss with requests of every API in flight', () => {
  const INITIAL = 50000000;
  const TOPUP = 7654321;
  let g;
  let g2;
  let keyId;
  let secret;
  let settled;              // replies whose records reached the journal before the loss
  let burst;                // replies received just before the loss
  let held;                 // requests in flight at the loss
  let balanceAfter;
  let records;
  let reservations;         // client id -> micro-units its reservation held

  before(async () => {
    g = await startGateway({ sim, models: MODELS, key: false, config: STRICT });
    const k = await g.createKey({ name: 'power-loss', energy: { balance_micro: INITIAL } });
    keyId = k.id;
    secret = k.secret;
    const top = await g.admin('POST', `/admin/v1/keys/${keyId}/topup`,
      { amount_micro: TOPUP, idempotency_key: 'power-loss-topup' });
    assert.equal(top.status, 200, top.text);

    // A power loss takes the rings: a reply is as durable as its record
    // once the record is in the journal (36-cold-start, retention).
    settled = [];
    for (const kind of KINDS) settled.push(await answer(g, secret, kind, `pl-settled-${slug(kind)}`));
    await waitFor('the settled replies\' records in the journal', () => {
      const have = new Set(recordsOf(g.dataDir, keyId).map((rec) => rec.client_request_id));
      return settled.every((a) => have.has(a.id));
    }, { tries: 200, every: 20 });

    held = await holdInFlight(g, secret, 'pl-held');
    // Reservations held across at least one of the syncer's balance writes.
    await sleep(1500);
    burst = [];
    for (const kind of KINDS) burst.push(await answer(g, secret, kind, `pl-burst-${slug(kind)}`));
    await powerLoss(g);
    await Promise.all(held.map((h) => h.done));

    g2 = await restart(g);
    balanceAfter = await balanceOf(g2, keyId);
    records = recordsOf(g.dataDir, keyId);
    reservations = heldAmounts(g.dataDir);
  });

  after(async () => {
    await stopAll(g2, g);
  });

  test('the rebuilt balance is initial + top-ups - every charge in the journal, exactly', () => {
    const charged = journalCharges(records);
    assert.equal(balanceAfter, INITIAL + TOPUP - charged,
      `balance ${balanceAfter}, journal charges ${charged}: off by ${balanceAfter - (INITIAL + TOPUP - charged)}\n${g2.log()}`);
  });

  test('every answered request has exactly one usage record, naming its API', () => {
    for (const a of [...settled, ...burst]) {
      const mine = records.filter((rec) => rec.client_request_id === a.id);
      assert.equal(mine.length, 1, `${a.id}: ${mine.length} records`);
      assert.equal(mine[0].api, a.kind.api, `${a.id}: ${JSON.stringify(mine[0])}`);
    }
  });

  test('a reply whose record reached the journal before the loss announced the charge the record holds', () => {
    for (const a of settled) {
      const rec = records.find((r) => r.client_request_id === a.id);
      assert.ok(a.charged > 0, `${a.kind.name} announced a charge`);
      assert.equal(rec.charged_micro, a.charged, `${a.kind.name}: ${JSON.stringify(rec)}`);
    }
  });

  test('every request cut by the loss has exactly one worker_lost record, naming its API and model, charged its whole reservation', () => {
    expectLost(held, records, reservations, g2.log());
  });

  test('the key serves every API again from the rebuilt balance, each reply\'s balance exact', async () => {
    await servesAgain(g2, secret, 'pl-after', balanceAfter);
  });
});
