// The durable key store (issue 3; common/store/store_file.c, common/store/journal.c,
// master/syncer.c): every admin change acknowledged before a crash is
// there after it, exactly once, and a journal whose last record was torn
// by a crash in the middle of a write is cut back with a warning.
//
// The crash is real: SIGKILL to the master, every worker and the syncer,
// then a new gateway on the same data folder.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  CHAT, isAlive, plainRequest, runAdmin, startGateway, startSim, waitFor,
} from '../lib/harness.mjs';

let sim;

before(async () => {
  sim = await startSim();
});

after(async () => {
  await sim?.stop();
});

const bearer = (secret) => ({ authorization: `Bearer ${secret}` });
const nowSec = () => Math.floor(Date.now() / 1000);
const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function getPublic(g, p, headers) {
  return plainRequest('GET', g.url + p, undefined, headers);
}

async function adminJson(g, ...args) {
  const r = await runAdmin(g, ['--json', ...args]);
  assert.equal(r.code, 0, `fluxgate-admin ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.json();
}

// Every key, through `fluxgate-admin keys list --all`, in id order,
// without its running totals (requests, charges and impact
// since the node started: they move with every request, not with admin
// changes).
async function listAll(g) {
  const out = await adminJson(g, 'keys', 'list', '--all');
  assert.equal(out.has_more, false);
  return out.data.map(withoutTotals);
}

function withoutTotals(k) {
  const { totals, ...rest } = k;
  return rest;
}

function ok(res, status = 200) {
  assert.equal(res.status, status, res.text);
  return res.json();
}

// The syncer's pid, from the master's log line.
function syncerPid(g) {
  const all = [...g.log().matchAll(/started the syncer, pid (\d+)/g)];
  assert.ok(all.length > 0, 'no "started the syncer" line in the log');
  return Number(all[all.length - 1][1]);
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
  const g2 = await startGateway({ sim, dir: g.dir, config, key: false });
  await waitFor('the admin API after the restart', async () => {
    try {
      return (await g2.admin('GET', '/admin/v1/status')).status === 200;
    } catch {
      return false;
    }
  }, { tries: 200, every: 50 });
  return g2;
}

// N mixed admin changes through the API; the expected state is what the
// replies said last: { keys: id → key object, secrets: id → { current, old },
// topups: [{ id, idem, amount }] }.
async function mixedChanges(g, n) {
  const keys = new Map();
  const secrets = new Map();
  const topups = [];
  keys.set(g.keyId, withoutTotals(ok(await g.admin('GET', `/admin/v1/keys/${g.keyId}`))));
  secrets.set(g.keyId, { current: g.key, old: null });
  const kinds = ['create', 'update', 'topup', 'rotate', 'topup', 'update', 'revoke', 'topup'];
  for (let i = 0; i < n; i++) {
    const live = [...keys.values()].filter((k) => k.status === 'active' && k.id !== g.keyId).map((k) => k.id);
    const kind = live.length < 3 ? 'create' : kinds[i % kinds.length];
    const id = live[(i * 7) % Math.max(live.length, 1)];
    switch (kind) {
      case 'create': {
        const j = ok(await g.admin('POST', '/admin/v1/keys', {
          name: `crash-${i}`, owner: `tenant-${i % 3}`, models: i % 2 ? ['demo-chat'] : [],
          limits: { requests_per_min: 100 + i, max_concurrent: i % 5 },
          energy: { balance_micro: 1000 * i, cap_micro: 1000000000 },
          metadata: { i, kind: 'created' },
        }), 201);
        keys.set(j.key.id, withoutTotals(j.key));
        secrets.set(j.key.id, { current: j.secret, old: null });
        break;
      }
      case 'update': {
        const j = ok(await g.admin('PATCH', `/admin/v1/keys/${id}`, {
          name: `renamed-${i}`, owner: `tenant-${(i + 1) % 3}`,
          models: i % 3 ? ['demo/*', 'demo-chat'] : ['*'],
          limits: { tokens_per_min: 1000 * i },
          energy: { regen_per_hour_micro: 0, cap_micro: 2000000000 + i },
          metadata: { i, kind: 'updated' },
          expires_at: i % 2 ? nowSec() + 30 * 86400 + i : null,
        }));
        keys.set(id, withoutTotals(j));
        break;
      }
      case 'topup': {
        const idem = `crash-topup-${i}`;
        const amount = 1000 * i + 1;
        const j = ok(await g.admin('POST', `/admin/v1/keys/${id}/topup`,
          { amount_micro: amount, idempotency_key: idem }));
        assert.equal(j.applied, true);
        assert.equal(j.key.energy.balance_micro, keys.get(id).energy.balance_micro + amount);
        keys.set(id, withoutTotals(j.key));
        topups.push({ id, idem, amount });
        // A retry before the crash, too: it changes nothing.
        const again = ok(await g.admin('POST', `/admin/v1/keys/${id}/topup`,
          { amount_micro: amount, idempotency_key: idem }));
        assert.equal(again.applied, false);
        assert.deepEqual(withoutTotals(again.key), withoutTotals(j.key));
        break;
      }
      case 'rotate': {
        const j = ok(await g.admin('POST', `/admin/v1/keys/${id}/rotate`, { grace_seconds: 3600 }));
        keys.set(id, withoutTotals(j.key));
        secrets.set(id, { current: j.secret, old: secrets.get(id).current });
        break;
      }
      case 'revoke': {
        keys.set(id, withoutTotals(ok(await g.admin('POST', `/admin/v1/keys/${id}/revoke`))));
        break;
      }
      default:
        throw new Error(kind);
    }
  }
  return { keys, secrets, topups };
}

for (const variant of [
  { name: 'journal only', config: {} },
  { name: 'snapshot and journal (store.compact_after 10)', config: { store: { compact_after: 10 } } },
]) {
  describe(`after a SIGKILL of every gateway process (${variant.name})`, () => {
    const N = 40;
    let gw;
    let expected;

    before(async () => {
      const first = await startGateway({ sim, config: variant.config });
      try {
        expected = await mixedChanges(first, N);
      } catch (e) {
        await first.stop();
        throw e;
      }
      if (variant.config.store) {
        await waitFor('a snapshot', () => fs.existsSync(path.join(first.dataDir, 'keys.snapshot')));
      }
      await crash(first);
      gw = await restart(first, variant.config);
    });

    after(async () => {
      await gw?.stop();
    });

    test('keys list --all has every key exactly once, as the last admin reply showed it', async () => {
      const listed = await listAll(gw);
      const ids = listed.map((k) => k.id);
      assert.equal(new Set(ids).size, ids.length, 'a key is listed twice');
      assert.deepEqual(listed, [...expected.keys.values()].sort(byId));
    });

    test('status counts every key once', async () => {
      const s = ok(await gw.admin('GET', '/admin/v1/status'));
      assert.equal(s.keys.count, expected.keys.size);
      assert.deepEqual(s.workers, { wanted: 2, ready: 2 });
    });

    test('every secret is accepted or refused as before the crash', async () => {
      let accepted = 0;
      for (const [id, k] of expected.keys) {
        const { current, old } = expected.secrets.get(id);
        const res = await getPublic(gw, '/v1/models', bearer(current));
        if (k.status === 'revoked') {
          assert.equal(res.status, 401, `${id}: ${res.text}`);
          assert.equal(res.json().error.code, 'key_revoked');
          continue;
        }
        assert.equal(res.status, 200, `${id}: ${res.text}`);
        accepted++;
        if (old && k.previous_secret_valid_until !== null) {
          const prev = await getPublic(gw, '/v1/models', bearer(old));
          assert.equal(prev.status, 200, `${id}'s rotated-out secret in its grace period: ${prev.text}`);
        }
      }
      assert.ok(accepted >= 3);
      const first = [...expected.keys.keys()][0];
      const harness = expected.secrets.get(first).current;
      const res = await plainRequest('POST', `${gw.url}/v1/chat/completions`, JSON.stringify(CHAT),
        { 'content-type': 'application/json', ...bearer(harness) });
      assert.equal(res.status, 200, res.text);
      // A completion is metered: the key's balance is what it was less
      // the charge the reply names.
      const charged = Number(res.headers['x-fluxgate-charged-micro']);
      assert.ok(charged > 0, 'the completion was not charged');
      assert.equal(Number(res.headers['x-fluxgate-balance-micro']),
        expected.keys.get(first).energy.balance_micro - charged);
      expected.keys.get(first).energy.balance_micro -= charged;
    });

    test('a top-up applied before the crash answers applied:false when retried, and the balance does not change', async () => {
      assert.ok(expected.topups.length >= 5);
      for (const t of expected.topups) {
        const j = ok(await gw.admin('POST', `/admin/v1/keys/${t.id}/topup`,
          { amount_micro: t.amount, idempotency_key: t.idem }));
        assert.equal(j.applied, false, `${t.idem} was applied again`);
        assert.equal(j.key.energy.balance_micro, expected.keys.get(t.id).energy.balance_micro);
      }
      assert.deepEqual(await listAll(gw), [...expected.keys.values()].sort(byId));
    });

    test('an idempotency key used before the crash is still refused with another amount', async () => {
      const t = expected.topups[0];
      const res = await gw.admin('POST', `/admin/v1/keys/${t.id}/topup`,
        { amount_micro: t.amount + 1, idempotency_key: t.idem });
      assert.equal(res.status, 409, res.text);
      assert.equal(res.json().error.code, 'idempotency_key_reused');
      assert.equal(ok(await gw.admin('GET', `/admin/v1/keys/${t.id}`)).energy.balance_micro,
        expected.keys.get(t.id).energy.balance_micro);
    });
  });
}

// The records of a journal, as Buffers; asserts the file ends on a record.
function journalRecords(buf) {
  const out = [];
  let off = 0;
  while (off + 32 <= buf.length) {
    assert.equal(buf.readUInt32LE(off), 0x524a4746, `no record magic at offset ${off}`);
    const end = off + 32 + buf.readUInt32LE(off + 8);
    assert.ok(end <= buf.length, `record at ${off} runs past the end`);
    out.push(buf.subarray(off, end));
    off = end;
  }
  assert.equal(off, buf.length, 'the journal does not end on a record');
  return out;
}

for (const tail of [
  { name: 'half a record', bytes: (records) => {
      const last = records[records.length - 1];
      return last.subarray(0, Math.floor(last.length / 2));
    } },
  { name: 'garbage bytes', bytes: () => Buffer.from('\x00\x01garbage-not-a-record\xff') },
]) {
  describe(`a journal ending in ${tail.name} (a torn last record)`, () => {
    let gw;
    let expected;
    let journalSize;
    let logFrom;

    before(async () => {
      const first = await startGateway({ sim });
      try {
        for (let i = 0; i < 4; i++) {
          const k = await first.createKey({ name: `torn-${i}`, owner: 'torn', metadata: { i } });
          ok(await first.admin('POST', `/admin/v1/keys/${k.id}/topup`,
            { amount_micro: 10 + i, idempotency_key: `torn-${i}` }));
        }
        ok(await first.admin('POST', `/admin/v1/keys/${first.keyId}/rotate`, { grace_seconds: 3600 }));
        expected = ok(await first.admin('GET', '/admin/v1/keys?limit=1000')).data.map(withoutTotals);
      } finally {
        assert.deepEqual(await first.stop(), { code: 0, signal: null });
      }
      const journal = path.join(first.dataDir, 'keys.journal');
      const buf = fs.readFileSync(journal);
      const records = journalRecords(buf);
      assert.ok(records.length >= 10, `${records.length} records`);
      journalSize = buf.length;
      const torn = tail.bytes(records);
      assert.ok(torn.length > 0 && torn.length < records[records.length - 1].length);
      fs.appendFileSync(journal, torn);
      logFrom = first.log().length;
      gw = await restart(first);
    });

    after(async () => {
      await gw?.stop();
    });

    test('the gateway starts and logs a warning about the torn record', () => {
      const log = gw.log().slice(logFrom);
      assert.match(log, /warn[^\n]*torn/i, log);
      assert.match(log, new RegExp(`offset ${journalSize}\\b`), log);
    });

    test('every key is there, unchanged', async () => {
      assert.deepEqual(await listAll(gw), expected);
    });

    test('a change made after the cut survives another restart, with no warning', async () => {
      const k = await gw.createKey({ name: 'after-the-cut', owner: 'torn' });
      const again = await gw.admin('POST', `/admin/v1/keys/${k.id}/topup`,
        { amount_micro: 7, idempotency_key: 'after-the-cut' });
      const now = withoutTotals(ok(again).key);
      assert.deepEqual(await gw.stop(), { code: 0, signal: null });
      const from = gw.log().length;
      const prev = gw;
      gw = null;
      gw = await restart(prev);
      assert.ok(!/torn/i.test(gw.log().slice(from)), gw.log().slice(from));
      assert.deepEqual(await listAll(gw), [...expected, now].sort(byId));
      const res = await getPublic(gw, '/v1/models', bearer(k.secret));
      assert.equal(res.status, 200, res.text);
    });
  });
}
