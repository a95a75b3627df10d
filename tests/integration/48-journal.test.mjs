// The usage journal as something that stays up (issue 12, items 11 and
// 12; master/usage_query.c, master/syncer.c, master/cycle.c,
// common/store/usagelog.c, common/store/usagerepair.c, admin/store.c):
//
// - GET /admin/v1/usage sums the journal in a child process, so the
//   syncer's loop (which drains the usage rings) never stops for it: on a
//   large journal, completions meanwhile are not turned away with 503
//   billing_unavailable; at most two queries run at once (503
//   usage_query_busy beyond) and each has a deadline
//   (usage.query_timeout_ms, 503 usage_query_timeout);
// - the journal rolls at usage.journal_max_bytes into usage.journal.<id>,
//   still summed, and usage.retention_bytes / usage.retention_days delete
//   the oldest rolled files, never the current one;
// - a byte changed in the middle of the journal is reported (/readyz 503
//   with the reason), the syncer is not restarted forever, and
//   `fluxgate-admin store check|repair` names the damage and keeps the
//   records before it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  adminRequest, crc32c, runAdmin, sleep, startGateway, startSim, tempDir, waitFor,
} from '../lib/harness.mjs';

const CHAT = { model: 'demo-chat', messages: [{ role: 'user', content: 'hello journal' }], max_tokens: 8 };

let sim;

before(async () => {
  sim = await startSim();
});

after(async () => {
  await sim?.stop();
});

// A journal of @n records of line format 1 (as 46-usage writes one), the
// way the syncer frames them: one JSON line each with its CRC-32C.
function writeJournal(file, n) {
  const fd = fs.openSync(file, 'w', 0o600);
  const day = Date.UTC(2025, 0, 1);
  let chunk = [];
  for (let i = 0; i < n; i++) {
    const r = {
      v: 1, node: 'n1', seq: i + 1, ring: i % 4, request_id: `past-${i}`,
      key_id: `key_${String(i % 50).padStart(16, '0')}`, model_requested: 'demo-chat',
      model_served: 'demo-chat', provider: 'demo', status: 200, error_code: '',
      started_unix_ms: day + (i % 30) * 86400000 + i, latency_us: 1000, ttfb_us: 500,
      prompt_tokens: 10, completion_tokens: 20, reasoning_tokens: 0, cached_tokens: 0,
      usage_estimated: false, charged_micro: 3, energy_kwh: 0.5, carbon_g_co2: 0.25,
      water_liters: 0.125, impact_estimated: true, stream: false, client_gone: false,
      worker_lost: false,
    };
    const body = JSON.stringify(r).slice(0, -1);
    chunk.push(`${body},"crc":"${crc32c(body).toString(16).padStart(8, '0')}"}\n`);
    if (chunk.length === 10000) {
      fs.writeSync(fd, chunk.join(''));
      chunk = [];
    }
  }
  fs.writeSync(fd, chunk.join(''));
  fs.closeSync(fd);
}

// A gateway whose data folder starts with @journal (a path to copy).
async function gatewayWith(journal, config = {}) {
  const dir = tempDir('fg-gw-');
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  if (journal) fs.copyFileSync(journal, path.join(dataDir, 'usage.journal'));
  return startGateway({ sim, dir, config });
}

const usageQuery = (gw, query = '') => adminRequest(gw.adminSocket, 'GET', `/admin/v1/usage${query}`,
  undefined, { authorization: `Bearer ${gw.adminToken()}` }, { timeoutMs: 300000 });

const completion = (gw) => gw.post('/v1/chat/completions', CHAT, gw.auth());

// The journal's files in @dataDir: { current: bytes | null, rolled: [{ id, bytes, name }] }.
function journalFiles(dataDir) {
  const out = { current: null, rolled: [] };
  for (const name of fs.readdirSync(dataDir)) {
    const m = name.match(/^usage\.journal\.(\d{6,})$/);
    if (name === 'usage.journal') out.current = fs.statSync(path.join(dataDir, name)).size;
    if (m) out.rolled.push({ id: Number(m[1]), name, bytes: fs.statSync(path.join(dataDir, name)).size });
  }
  out.rolled.sort((a, b) => a.id - b.id);
  return out;
}

describe('GET /admin/v1/usage on a large journal', () => {
  const N = 200000;
  let journal;
  let gw;

  before(async () => {
    journal = path.join(tempDir('fg-journal-'), 'usage.journal');
    writeJournal(journal, N);
    // The default rings (1024 records each): room for completions one
    // after another while the syncer drains, however slow a sync is on a
    // busy machine; a syncer that stops draining shows within a second.
    gw = await gatewayWith(journal);
  });

  after(async () => {
    await gw?.stop();
  });

  test('completions are not refused (503 billing_unavailable) while a usage query runs', async () => {
    const started = Date.now();
    let done = false;
    const query = usageQuery(gw).finally(() => { done = true; });
    const statuses = new Map();
    let sent = 0;
    while (!done) {
      const r = await completion(gw);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      sent++;
    }
    const reply = await query;
    const ms = Date.now() - started;
    const refused = statuses.get(503) ?? 0;
    console.log(`# usage query over ${N} records: ${ms} ms; ${sent} completions meanwhile, ${refused} got 503`);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json().records, N);
    // Two rings of 1024: more than that many completions must have been
    // made during the query for it to tell anything.
    assert.ok(sent >= 2500, `only ${sent} completions during the query (${ms} ms): inconclusive`);
    assert.equal(refused, 0, `statuses: ${JSON.stringify([...statuses])}`);
  });

  test('the admin API answers while a usage query runs', async () => {
    let queryDone = 0;
    const query = usageQuery(gw).then((r) => { queryDone = Date.now(); return r; });
    // The query takes seconds; this only makes sure it is under way.
    await sleep(200);
    const status = await gw.admin('GET', '/admin/v1/status');
    const statusDone = Date.now();
    assert.equal(status.status, 200);
    assert.equal(queryDone, 0, 'the status call waited for the usage query');
    assert.equal((await query).status, 200);
    assert.ok(queryDone >= statusDone);
  });

  test('a third usage query while two run gets 503 usage_query_busy with Retry-After', async () => {
    const replies = await Promise.all([usageQuery(gw), usageQuery(gw), usageQuery(gw)]);
    const busy = replies.filter((r) => r.status === 503);
    assert.equal(busy.length, 1, replies.map((r) => `${r.status} ${r.text.slice(0, 80)}`).join('\n'));
    assert.equal(busy[0].json().error.code, 'usage_query_busy');
    assert.equal(busy[0].headers['retry-after'], '1');
    assert.equal(busy[0].headers['retry-after-ms'], '1000');
    for (const r of replies.filter((x) => x.status !== 503)) {
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json().records >= N);
    }
  });

  test('a usage query past usage.query_timeout_ms is killed: 503 usage_query_timeout', async () => {
    const quick = await gatewayWith(journal, { usage: { query_timeout_ms: 100 } });
    try {
      const r = await usageQuery(quick);
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json().error.code, 'usage_query_timeout');
      // The admin API goes on.
      assert.equal((await quick.admin('GET', '/admin/v1/status')).status, 200);
    } finally {
      await quick.stop();
    }
  });
});

describe('usage.journal_max_bytes and retention', () => {
  let gw;
  const dir = tempDir('fg-gw-');
  const dataDir = path.join(dir, 'data');
  let sent = 0;

  before(async () => {
    gw = await startGateway({ sim, dir, config: { usage: { journal_max_bytes: 4096 } } });
  });

  after(async () => {
    await gw?.stop();
  });

  // @n completions in groups of 5, each group's records journaled before
  // the next is sent, so that the journal is synced (and may roll) between
  // them; resolves to the usage query's reply after the last.
  async function completionsJournaled(n) {
    let got;
    for (let i = 0; i < n; i += 5) {
      for (let j = 0; j < 5; j++, sent++) assert.equal((await completion(gw)).status, 200);
      got = await waitFor(`${sent} records summed`, async () => {
        const r = await usageQuery(gw);
        return r.status === 200 && r.json().records === sent && r.json();
      }, { tries: 200, every: 25 });
    }
    return got;
  }

  test('the journal rolls into usage.journal.<id> files that the usage query still sums', async () => {
    await completionsJournaled(40);
    // The syncer may roll the file just after the query read it: compare
    // a listing and a query taken with no roll between them.
    const { got, files } = await waitFor('a query and a listing of the same files', async () => {
      const before = journalFiles(dataDir);
      const r = await usageQuery(gw);
      const after = journalFiles(dataDir);
      return r.status === 200 && before.rolled.length === after.rolled.length
        && { got: r.json(), files: after };
    }, { tries: 200, every: 25 });
    assert.ok(files.rolled.length >= 2, JSON.stringify(files));
    assert.deepEqual(files.rolled.map((f) => f.id), files.rolled.map((_, i) => i + 1));
    assert.notEqual(files.current, null);
    assert.equal(got.files, files.rolled.length + 1);
    assert.equal(got.totals.requests, sent);
  });

  // @n completions in groups of 5, each group's records out of the rings
  // (journaled) before the next is sent, so that the journal can roll
  // between groups.
  async function completionsDrained(n) {
    for (let i = 0; i < n; i += 5) {
      for (let j = 0; j < 5; j++) assert.equal((await completion(gw)).status, 200);
      await waitFor('the usage rings drained', async () => /\nfluxgate_usage_records_pending 0\n/.test(await gw.scrape()),
        { tries: 200, every: 25 });
    }
  }

  test('usage.retention_bytes deletes the oldest rolled files, never the current one', async () => {
    await gw.stop();
    gw = await startGateway({ sim, dir, config: { usage: { journal_max_bytes: 4096, retention_bytes: 10000 } } });
    await completionsDrained(40);
    // Retention runs after each roll, and the current file grows until
    // the sync after it reached journal_max_bytes: bounded, not exact.
    const files = await waitFor('the oldest rolled files deleted', () => {
      const f = journalFiles(dataDir);
      const total = f.rolled.reduce((sum, x) => sum + x.bytes, f.current ?? 0);
      return f.rolled.length > 0 && f.rolled[0].id > 1 && total <= 10000 + 2 * 4096 && f;
    }, { tries: 200, every: 50 });
    assert.notEqual(files.current, null, 'the current file is kept');
  });

  test('usage.retention_days deletes rolled files last written before it, at start', async () => {
    await gw.stop();
    gw = await startGateway({ sim, dir, config: { usage: { journal_max_bytes: 4096 } } });
    await completionsDrained(30);
    await gw.stop();
    const before = journalFiles(dataDir);
    assert.ok(before.rolled.length >= 3, JSON.stringify(before));
    const old = (Date.now() - 3 * 86400000) / 1000;
    const newest = before.rolled[before.rolled.length - 1];
    for (const f of before.rolled.slice(0, -1)) fs.utimesSync(path.join(dataDir, f.name), old, old);
    gw = await startGateway({ sim, dir, key: false, config: { usage: { journal_max_bytes: 4096, retention_days: 2 } } });
    const after = await waitFor('the old rolled files deleted', () => {
      const f = journalFiles(dataDir);
      return !f.rolled.some((x) => x.id < newest.id) && f;
    }, { tries: 200, every: 50 });
    assert.ok(after.rolled.some((x) => x.id === newest.id), JSON.stringify(after));
    assert.notEqual(after.current, null);
  });
});

describe('a byte changed in the middle of usage.journal', () => {
  const dir = tempDir('fg-gw-');
  const dataDir = path.join(dir, 'data');
  const journal = path.join(dataDir, 'usage.journal');
  let gw;
  let damagedAt;
  let original;
  let mark;

  before(async () => {
    const first = await startGateway({ sim, dir });
    for (let i = 0; i < 6; i++) assert.equal((await completion(first)).status, 200);
    await waitFor('6 journal lines', () => fs.existsSync(journal)
      && fs.readFileSync(journal, 'utf8').split('\n').length === 7, { tries: 200, every: 25 });
    await first.stop();
    // Line 3 of 6: a digit of its latency changed, so its CRC fails and
    // valid lines follow it.
    const lines = fs.readFileSync(journal, 'utf8').split('\n');
    damagedAt = Buffer.byteLength(lines.slice(0, 2).map((l) => `${l}\n`).join(''));
    const at = lines[2].indexOf('"latency_us":') + '"latency_us":'.length;
    const c = lines[2][at];
    lines[2] = lines[2].slice(0, at) + (c === '9' ? '8' : String(Number(c) + 1)) + lines[2].slice(at + 1);
    fs.writeFileSync(journal, lines.join('\n'));
    original = fs.readFileSync(journal);
    mark = fs.readFileSync(path.join(dir, 'fluxgate.log'), 'utf8').length;
    gw = await startGateway({ sim, dir, key: false, ready: false });
  });

  after(async () => {
    await gw?.stop();
  });

  const logSinceStart = () => gw.log().slice(mark);

  test('/readyz answers 503 with the reason: the file and the offset', async () => {
    const body = await waitFor('/readyz 503 with a reason', async () => {
      const r = await gw.get('/readyz');
      return r.status === 503 && r.json().reason && r.json();
    }, { tries: 200, every: 50 });
    assert.equal(body.status, 'not_ready');
    assert.match(body.reason, /usage journal/);
    assert.match(body.reason, /damaged/);
    assert.ok(body.reason.includes(`offset ${damagedAt}`), body.reason);
  });

  test('the syncer is not restarted forever: it stops after 5 identical failures', async () => {
    await waitFor('the master to give up on the syncer', () => logSinceStart().includes('not restarting it'),
      { tries: 400, every: 50 });
    const starts = () => [...logSinceStart().matchAll(/started the syncer, pid/g)].length;
    assert.equal(starts(), 5, logSinceStart());
    await sleep(1500);
    assert.equal(starts(), 5, 'a syncer was started after the master gave up');
    // Still not ready, and still saying why.
    const r = await gw.get('/readyz');
    assert.equal(r.status, 503);
    assert.match(r.json().reason, /damaged/);
  });

  test('fluxgate-admin store check names the file, the offset and the records before it', async () => {
    const r = await runAdmin(null, ['store', 'check', '--data-dir', dataDir, '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const out = r.json();
    assert.equal(out.damaged, 1);
    const f = out.files.find((x) => x.current);
    assert.equal(f.path, journal);
    assert.equal(f.damaged, true);
    assert.equal(f.damaged_offset, damagedAt);
    assert.equal(f.records, 2);
    const text = await runAdmin(null, ['store', 'check', '--data-dir', dataDir]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, new RegExp(`DAMAGED at offset ${damagedAt}.*2 records before`));
  });

  test('fluxgate-admin store repair sets the file aside, keeping the records before the damage', async () => {
    // The master gave up on the syncer (above): nothing writes the journal.
    const r = await runAdmin(null, ['store', 'repair', '--data-dir', dataDir, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const aside = r.json().repaired[0].set_aside;
    assert.match(path.basename(aside), /^usage\.journal\.damaged-\d{8}T\d{6}Z$/);
    assert.deepEqual(fs.readFileSync(aside), original, 'the damaged file is kept whole');
    assert.deepEqual(fs.readFileSync(journal), original.subarray(0, damagedAt));
    const check = await runAdmin(null, ['store', 'check', '--data-dir', dataDir, '--json']);
    assert.equal(check.code, 0, check.stdout);
  });

  test('after the repair, SIGHUP starts the syncer again: ready, with the records before the damage', async () => {
    gw.signal('SIGHUP');
    await waitFor('/readyz 200', async () => (await gw.get('/readyz')).status === 200, { tries: 200, every: 50 });
    assert.equal((await usageQuery(gw)).json().records, 2);
  });

  test('a restart after the repair serves, keeps the records before the damage and adds new ones', async () => {
    await gw.stop();
    gw = await startGateway({ sim, dir });
    assert.equal((await gw.get('/readyz')).status, 200);
    assert.equal((await usageQuery(gw)).json().records, 2);
    assert.equal((await completion(gw)).status, 200);
    await waitFor('the new record summed', async () => (await usageQuery(gw)).json().records === 3,
      { tries: 200, every: 50 });
  });
});
