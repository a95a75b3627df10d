// API keys (issue 3): the key lifecycle through the real `fluxgate-admin`,
// every authentication error of the public API, revocation seen by every
// worker, the admin API's own protections, and the promise that a secret
// is never stored (docs/admin-api.md; worker/auth.c, master/admin_http.c,
// common/store/keystore.c, admin/).
//
// Rejected requests must never reach the upstream: the tests compare
// fg-sim's request counter (GET /sim/stats) before and after.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  stopAll, CHAT, adminRequest, plainRequest, runAdmin, shippedModels, startGateway, startSim, waitFor,
} from '../lib/harness.mjs';

let sim;
let gw;

before(async () => {
  sim = await startSim();
  // The openai provider enabled and pointed at the simulator too, so that
  // model patterns can be tried across two providers.
  gw = await startGateway({ sim, env: { OPENAI_API_KEY: 'sim-key', OPENAI_BASE_URL: `${sim.url}/v1` } });
});

after(async () => {
  await stopAll(gw, sim);
});

const KEY_ID = /^key_[0-9a-f]{16}$/;
const SECRET = /^fg-[A-Za-z0-9_-]{43}$/;

const bearer = (secret) => ({ authorization: `Bearer ${secret}` });
const nowSec = () => Math.floor(Date.now() / 1000);

// A chat completion on a fresh connection with exactly @headers.
function chat(g, headers, body = CHAT) {
  return plainRequest('POST', `${g.url}/v1/chat/completions`,
    typeof body === 'string' ? body : JSON.stringify(body),
    { 'content-type': 'application/json', ...headers });
}

function getPublic(g, p, headers) {
  return plainRequest('GET', g.url + p, undefined, headers);
}

function assertOpenAIError(res, status, type, code, param = null) {
  assert.equal(res.status, status, res.text);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.type, type, res.text);
  assert.equal(body.error.code, code, res.text);
  assert.equal(body.error.param, param, res.text);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  return body.error;
}

// Runs @fn and asserts that fg-sim received no request meanwhile.
async function noUpstream(fn) {
  const before = (await sim.stats()).requests;
  const out = await fn();
  assert.equal((await sim.stats()).requests, before, 'a rejected request reached the upstream');
  return out;
}

// `fluxgate-admin --json ARGS` must succeed; resolves to its parsed output.
async function adminJson(g, ...args) {
  const r = await runAdmin(g, ['--json', ...args]);
  assert.equal(r.code, 0, `fluxgate-admin ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr, '');
  return r.json();
}

// A failed run: exit @code, nothing on stdout, one line on stderr that
// matches @pattern.
function assertFailed(r, code, pattern) {
  assert.equal(r.code, code, `exit ${r.code}, stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^fluxgate-admin: [^\n]+\n$/, `not one line: ${JSON.stringify(r.stderr)}`);
  if (pattern) assert.match(r.stderr, pattern);
}

async function createCli(g, ...args) {
  const out = await adminJson(g, 'keys', 'create', ...args);
  return { id: out.key.id, secret: out.secret, key: out.key };
}

async function listAll(g, ...args) {
  return (await adminJson(g, 'keys', 'list', '--all', ...args)).data;
}

// A unique owner per test, so that list filters see only that test's keys.
let ownerSeq = 0;
const freshOwner = (what) => `${what}-${process.pid}-${++ownerSeq}`;

describe('fluxgate-admin: the key lifecycle', () => {
  test('keys create prints the new key and its secret, and the secret works for /v1/chat/completions', async () => {
    const owner = freshOwner('create');
    const out = await adminJson(gw, 'keys', 'create', '--name', 'prod backend', '--owner', owner,
      '--model', 'demo-chat', '--rpm', '600', '--tpm', '200000', '--concurrency', '16',
      '--balance', '2.5', '--metadata', '{"plan":"pro"}');
    assert.deepEqual(Object.keys(out).sort(), ['key', 'secret']);
    assert.match(out.secret, SECRET);
    const k = out.key;
    assert.match(k.id, KEY_ID);
    assert.equal(k.object, 'api_key');
    assert.equal(k.name, 'prod backend');
    assert.equal(k.owner, owner);
    assert.equal(k.status, 'active');
    assert.equal(k.expires_at, null);
    assert.equal(k.previous_secret_valid_until, null);
    assert.deepEqual(k.models, ['demo-chat']);
    assert.deepEqual(k.limits, { requests_per_min: 600, tokens_per_min: 200000, max_concurrent: 16 });
    assert.deepEqual(k.energy, { balance_micro: 2500000, regen_per_hour_micro: 0, cap_micro: 0 });
    assert.deepEqual(k.metadata, { plan: 'pro' });
    assert.ok(Math.abs(k.created_at - nowSec()) <= 5, `created_at ${k.created_at}`);
    assert.ok(!JSON.stringify(k).includes(out.secret), 'the key object holds its secret');

    const before = (await sim.stats()).requests;
    const res = await chat(gw, bearer(out.secret));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().object, 'chat.completion');
    assert.equal((await sim.stats()).requests, before + 1);
  });

  test('keys create without --json shows the secret once, with the key id', async () => {
    const r = await runAdmin(gw, ['keys', 'create', '--name', 'for people']);
    assert.equal(r.code, 0, r.stderr);
    const secret = r.stdout.match(/fg-[A-Za-z0-9_-]{43}/);
    const id = r.stdout.match(/key_[0-9a-f]{16}/);
    assert.ok(secret && id, r.stdout);
    assert.equal((await getPublic(gw, '/v1/models', bearer(secret[0]))).status, 200);
    const shown = await runAdmin(gw, ['keys', 'show', id[0]]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(shown.stdout.includes(id[0]));
    assert.ok(!shown.stdout.includes(secret[0]), 'keys show printed the secret again');
  });

  test('keys list --owner and --status filter the list', async () => {
    const owner = freshOwner('filter');
    const other = freshOwner('filter-other');
    const a1 = await createCli(gw, '--name', 'a1', '--owner', owner);
    const a2 = await createCli(gw, '--name', 'a2', '--owner', owner);
    const b1 = await createCli(gw, '--name', 'b1', '--owner', other);
    await adminJson(gw, 'keys', 'revoke', a2.id);

    const ids = (data) => data.map((k) => k.id).sort();
    const mine = await adminJson(gw, 'keys', 'list', '--owner', owner);
    assert.deepEqual(ids(mine.data), [a1.id, a2.id].sort());
    assert.ok(mine.data.every((k) => k.owner === owner));
    assert.deepEqual(ids((await adminJson(gw, 'keys', 'list', '--owner', other)).data), [b1.id]);

    const active = await adminJson(gw, 'keys', 'list', '--owner', owner, '--status', 'active');
    assert.deepEqual(ids(active.data), [a1.id]);
    const revoked = await adminJson(gw, 'keys', 'list', '--owner', owner, '--status', 'revoked');
    assert.deepEqual(ids(revoked.data), [a2.id]);

    const allRevoked = await listAll(gw, '--status', 'revoked');
    assert.ok(allRevoked.length >= 1);
    assert.ok(allRevoked.every((k) => k.status === 'revoked'), JSON.stringify(allRevoked.map((k) => k.status)));
    assert.ok(allRevoked.some((k) => k.id === a2.id));
    assert.ok(!allRevoked.some((k) => k.id === a1.id || k.id === b1.id));
  });

  test('keys list pages by id with --limit and --after, and --all follows every page', async () => {
    const owner = freshOwner('pager');
    const made = [];
    for (let i = 0; i < 5; i++) made.push((await createCli(gw, '--name', `p${i}`, '--owner', owner)).id);
    const sorted = [...made].sort();

    const seen = [];
    let after = null;
    const pages = [];
    for (let i = 0; i < 5; i++) {
      const args = ['keys', 'list', '--owner', owner, '--limit', '2'];
      if (after) args.push('--after', after);
      const page = await adminJson(gw, ...args);
      pages.push(page);
      assert.equal(page.object, 'list');
      assert.ok(page.data.length <= 2);
      seen.push(...page.data.map((k) => k.id));
      if (!page.has_more) {
        assert.equal(page.next_after, null);
        break;
      }
      assert.equal(page.next_after, page.data[page.data.length - 1].id);
      after = page.next_after;
    }
    assert.deepEqual(pages.map((p) => p.data.length), [2, 2, 1]);
    assert.deepEqual(seen, sorted, 'pages are not in id order, or skip or repeat keys');

    const all = await adminJson(gw, 'keys', 'list', '--owner', owner, '--all', '--limit', '2');
    assert.deepEqual(all.data.map((k) => k.id), sorted);
    assert.equal(all.has_more, false);
    assert.deepEqual((await listAll(gw, '--owner', owner)).map((k) => k.id), sorted);
  });

  test('keys show prints the key as keys list has it', async () => {
    const owner = freshOwner('show');
    const k = await createCli(gw, '--name', 'shown', '--owner', owner, '--model', 'demo/*', '--cap', '7');
    const shown = await adminJson(gw, 'keys', 'show', k.id);
    assert.deepEqual(shown, k.key);
    assert.deepEqual((await adminJson(gw, 'keys', 'list', '--owner', owner)).data, [shown]);
  });

  test('keys update changes limits, energy, models, name, owner, metadata and expiry, and leaves the rest', async () => {
    const owner = freshOwner('update');
    const k = await createCli(gw, '--name', 'before', '--owner', owner, '--model', 'demo-chat',
      '--rpm', '10', '--tpm', '1000', '--concurrency', '2', '--balance', '1', '--regen', '0.5',
      '--cap', '10', '--metadata', '{"a":1}');
    assert.equal((await getPublic(gw, '/v1/models/demo-reasoner', bearer(k.secret))).status, 404);

    // One field: the rest is untouched (but the balance regenerates, at
    // 0.5 credit an hour, while the test runs, and the totals count the
    // GET above: it left a usage record).
    const one = await adminJson(gw, 'keys', 'update', k.id, '--rpm', '20');
    const regen = one.energy.balance_micro - k.key.energy.balance_micro;
    assert.ok(regen >= 0 && regen < 5000, `regenerated ${regen}`);
    assert.deepEqual(one, { ...k.key, limits: { ...k.key.limits, requests_per_min: 20 },
      energy: { ...k.key.energy, balance_micro: one.energy.balance_micro },
      totals: { ...k.key.totals, requests: 1 },
      updated_at: one.updated_at });

    const expires = nowSec() + 86400;
    const all = await adminJson(gw, 'keys', 'update', k.id, '--name', 'after', '--owner', `${owner}-2`,
      '--model', 'demo-reasoner', '--model', 'demo/*', '--tpm', '5000', '--concurrency', '4',
      '--balance', '3.25', '--regen', '1', '--cap', '20', '--metadata', '{"plan":"pro","n":2}',
      '--expires', String(expires));
    assert.equal(all.id, k.id);
    assert.equal(all.name, 'after');
    assert.equal(all.owner, `${owner}-2`);
    assert.equal(all.status, 'active');
    assert.equal(all.created_at, k.key.created_at);
    assert.deepEqual(all.models, ['demo-reasoner', 'demo/*']);
    assert.deepEqual(all.limits, { requests_per_min: 20, tokens_per_min: 5000, max_concurrent: 4 });
    assert.deepEqual(all.energy, { balance_micro: 3250000, regen_per_hour_micro: 1000000, cap_micro: 20000000 });
    assert.deepEqual(all.metadata, { plan: 'pro', n: 2 });
    assert.equal(all.expires_at, expires);
    const shown = await adminJson(gw, 'keys', 'show', k.id);
    assert.ok(shown.energy.balance_micro - 3250000 < 5000, 'regeneration only');
    assert.deepEqual({ ...shown, energy: { ...shown.energy, balance_micro: 3250000 } }, all);

    // The workers see the new model list; the secret is unchanged.
    assert.equal((await getPublic(gw, '/v1/models/demo-reasoner', bearer(k.secret))).status, 200);
  });

  test('keys update --expires +Nd, --no-expiry and --models-all set and clear the expiry and the model list', async () => {
    const k = await createCli(gw, '--name', 'clear', '--model', 'demo-chat');
    const inTwoDays = await adminJson(gw, 'keys', 'update', k.id, '--expires', '+2d');
    assert.ok(Math.abs(inTwoDays.expires_at - (nowSec() + 2 * 86400)) <= 5, `expires_at ${inTwoDays.expires_at}`);
    const cleared = await adminJson(gw, 'keys', 'update', k.id, '--no-expiry', '--models-all');
    assert.equal(cleared.expires_at, null);
    assert.deepEqual(cleared.models, []);
    assert.equal((await getPublic(gw, '/v1/models/demo-reasoner', bearer(k.secret))).status, 200);
  });

  test('keys rotate: the new secret works at once, and the old one still works during the grace period', async () => {
    const k = await createCli(gw, '--name', 'rotate-long');
    const out = await adminJson(gw, 'keys', 'rotate', k.id, '--grace', '60');
    assert.match(out.secret, SECRET);
    assert.notEqual(out.secret, k.secret);
    assert.equal(out.key.id, k.id);
    assert.equal(out.key.status, 'active');
    assert.ok(Math.abs(out.key.previous_secret_valid_until - (nowSec() + 60)) <= 5,
      `previous_secret_valid_until ${out.key.previous_secret_valid_until}`);
    assert.equal((await chat(gw, bearer(out.secret))).status, 200);
    assert.equal((await chat(gw, bearer(k.secret))).status, 200);
  });

  test('keys rotate --grace 3: the old secret gets 401 key_rotated once the grace period is over', async () => {
    const k = await createCli(gw, '--name', 'rotate-short');
    const out = await adminJson(gw, 'keys', 'rotate', k.id, '--grace', '3');
    assert.equal((await chat(gw, bearer(k.secret))).status, 200, 'the old secret died before its grace period ended');
    const res = await waitFor('the old secret to be refused', async () => {
      const r = await getPublic(gw, '/v1/models', bearer(k.secret));
      return r.status !== 200 && r;
    }, { tries: 200, every: 50 });
    await noUpstream(async () => {
      const err = assertOpenAIError(await chat(gw, bearer(k.secret)), 401, 'authentication_error', 'key_rotated');
      assert.ok(err.message.includes(k.id), err.message);
    });
    assertOpenAIError(res, 401, 'authentication_error', 'key_rotated');
    assert.equal((await chat(gw, bearer(out.secret))).status, 200);
  });

  test('keys rotate --grace 0: the old secret dies at once', async () => {
    const k = await createCli(gw, '--name', 'rotate-now');
    const out = await adminJson(gw, 'keys', 'rotate', k.id, '--grace', '0');
    await noUpstream(async () => {
      assertOpenAIError(await chat(gw, bearer(k.secret)), 401, 'authentication_error', 'key_rotated');
    });
    assert.equal((await chat(gw, bearer(out.secret))).status, 200);
  });

  test('keys revoke: the current secret and an in-grace old secret are refused at once', async () => {
    const k = await createCli(gw, '--name', 'revoke');
    const rotated = await adminJson(gw, 'keys', 'rotate', k.id, '--grace', '3600');
    assert.equal((await chat(gw, bearer(k.secret))).status, 200);
    assert.equal((await chat(gw, bearer(rotated.secret))).status, 200);

    const out = await adminJson(gw, 'keys', 'revoke', k.id);
    assert.equal(out.id, k.id);
    assert.equal(out.status, 'revoked');
    assert.equal(out.previous_secret_valid_until, null);
    await noUpstream(async () => {
      assertOpenAIError(await chat(gw, bearer(rotated.secret)), 401, 'authentication_error', 'key_revoked');
      const old = (await chat(gw, bearer(k.secret))).json().error;
      assert.ok(['key_revoked', 'key_rotated'].includes(old.code), JSON.stringify(old));
      assertOpenAIError(await chat(gw, bearer(k.secret)), 401, 'authentication_error', old.code);
    });
    assert.equal((await adminJson(gw, 'keys', 'show', k.id)).status, 'revoked');
  });

  test('keys topup with an idempotency key: a retry is applied once', async () => {
    const k = await createCli(gw, '--name', 'topup', '--balance', '1');
    const idem = `topup-${crypto.randomUUID()}`;
    const first = await adminJson(gw, 'keys', 'topup', k.id, '--amount', '2.5', '--idempotency-key', idem);
    assert.equal(first.applied, true);
    assert.equal(first.key.energy.balance_micro, 3500000);
    const retry = await adminJson(gw, 'keys', 'topup', k.id, '--amount', '2.5', '--idempotency-key', idem);
    assert.equal(retry.applied, false);
    assert.equal(retry.key.energy.balance_micro, 3500000);
    assert.equal((await adminJson(gw, 'keys', 'show', k.id)).energy.balance_micro, 3500000);

    const tiny = await adminJson(gw, 'keys', 'topup', k.id, '--amount', '0.000001',
      '--idempotency-key', `${idem}-2`);
    assert.equal(tiny.applied, true);
    assert.equal(tiny.key.energy.balance_micro, 3500001);
  });

  test('keys topup: the same idempotency key with another amount or key exits 1 with idempotency_key_reused, and changes nothing', async () => {
    const k = await createCli(gw, '--name', 'topup-reuse');
    const other = await createCli(gw, '--name', 'topup-reuse-other');
    const idem = `reuse-${crypto.randomUUID()}`;
    assert.equal((await adminJson(gw, 'keys', 'topup', k.id, '--amount', '1', '--idempotency-key', idem)).applied, true);

    assertFailed(await runAdmin(gw, ['keys', 'topup', k.id, '--amount', '2', '--idempotency-key', idem]),
      1, /idempotency_key_reused/);
    assertFailed(await runAdmin(gw, ['keys', 'topup', other.id, '--amount', '1', '--idempotency-key', idem]),
      1, /idempotency_key_reused/);
    // Keys start with the harness's keys.default_balance_micro.
    const start = k.key.energy.balance_micro;
    assert.equal((await adminJson(gw, 'keys', 'show', k.id)).energy.balance_micro, start + 1000000);
    assert.equal((await adminJson(gw, 'keys', 'show', other.id)).energy.balance_micro,
      other.key.energy.balance_micro);
  });

  test('status reports the version, the workers, the key table and the store', async () => {
    const s = await adminJson(gw, 'status');
    assert.equal(typeof s.version, 'string');
    assert.equal(typeof s.uptime_seconds, 'number');
    assert.deepEqual(s.workers, { wanted: 2, ready: 2 });
    assert.equal(s.keys.count, (await listAll(gw)).length);
    assert.equal(s.keys.capacity, 1000);
    // Rotated-out secrets take table slots too, so the table may be fuller
    // than count says.
    assert.ok(s.keys.used_percent >= (100 * s.keys.count) / 1000 - 0.01 && s.keys.used_percent <= 100,
      JSON.stringify(s.keys));
    assert.equal(s.store.kind, 'file');
    assert.ok(s.store.journal_records > 0 && s.store.last_seq > 0, JSON.stringify(s.store));

    const text = await runAdmin(gw, ['status']);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(text.stdout.includes(s.version), text.stdout);
  });
});

describe('fluxgate-admin: exit codes and errors', () => {
  test('an unknown key id exits 1 with one line naming key_not_found', async () => {
    for (const args of [['keys', 'show', 'key_0000000000000000'],
      ['keys', 'update', 'key_0000000000000000', '--name', 'x'],
      ['keys', 'rotate', 'key_0000000000000000'],
      ['keys', 'revoke', 'key_0000000000000000'],
      ['keys', 'topup', 'key_0000000000000000', '--amount', '1', '--idempotency-key', 'nf']]) {
      assertFailed(await runAdmin(gw, args), 1, /key_not_found/);
      // --json: the same exit code, the error as JSON on stdout.
      const j = await runAdmin(gw, ['--json', ...args]);
      assert.equal(j.code, 1);
      assert.equal(j.stderr, '');
      assert.equal(j.json().error.code, 'key_not_found');
    }
  });

  test('a change to a revoked key exits 1 with key_revoked', async () => {
    const k = await createCli(gw, '--name', 'revoked-change');
    await adminJson(gw, 'keys', 'revoke', k.id);
    assertFailed(await runAdmin(gw, ['keys', 'update', k.id, '--name', 'x']), 1, /key_revoked/);
    assertFailed(await runAdmin(gw, ['keys', 'rotate', k.id]), 1, /key_revoked/);
    assertFailed(await runAdmin(gw, ['keys', 'topup', k.id, '--amount', '1', '--idempotency-key', `rv-${k.id}`]),
      1, /key_revoked/);
    assert.equal((await adminJson(gw, 'keys', 'show', k.id)).name, 'revoked-change');
  });

  test('a wrong admin token exits 1 with invalid_admin_token', async () => {
    const tokenFile = path.join(gw.dir, 'wrong.token');
    fs.writeFileSync(tokenFile, `${'0'.repeat(64)}\n`, { mode: 0o600 });
    assertFailed(await runAdmin(gw, ['status'], { env: { FLUXGATE_ADMIN_TOKEN_FILE: tokenFile } }),
      1, /invalid_admin_token/);
    assertFailed(await runAdmin(gw, ['keys', 'list'], { env: { FLUXGATE_ADMIN_TOKEN: 'f'.repeat(64) } }),
      1, /invalid_admin_token/);
  });

  test('a bad command line exits 2 before any call to the admin API', async () => {
    // No gateway behind this address: exit 2, not 3, shows nothing was called.
    const env = { FLUXGATE_ADMIN: `unix:${path.join(gw.dir, 'nowhere.sock')}` };
    const bad = [
      [],
      ['frobnicate'],
      ['keys'],
      ['keys', 'frobnicate'],
      ['keys', 'create'],
      ['keys', 'create', '--name', 'x', '--bogus'],
      ['keys', 'create', '--name', 'x', '--rpm', '-1'],
      ['keys', 'create', '--name', 'x', '--balance', '1.2345678'],
      ['keys', 'create', '--name', 'x', '--metadata', 'not json'],
      ['keys', 'list', '--limit', '0'],
      ['keys', 'list', '--status', 'sleeping'],
      ['keys', 'show'],
      ['keys', 'update', gw.keyId],
      ['keys', 'update', gw.keyId, '--expires', '+1d', '--no-expiry'],
      ['keys', 'rotate', gw.keyId, '--grace', 'soon'],
      ['keys', 'topup', gw.keyId, '--amount', '1'],
      ['keys', 'topup', gw.keyId, '--idempotency-key', 'k'],
      ['keys', 'topup', gw.keyId, '--amount', '0', '--idempotency-key', 'k'],
      ['keys', 'topup', gw.keyId, '--amount', 'ten', '--idempotency-key', 'k'],
    ];
    for (const args of bad) {
      const r = await runAdmin(gw, args, { env });
      assert.equal(r.code, 2, `${JSON.stringify(args)}: exit ${r.code}, stderr: ${r.stderr}`);
      assertFailed(r, 2);
    }
  });

  test('every verb has --help, which exits 0', async () => {
    const env = { FLUXGATE_ADMIN: `unix:${path.join(gw.dir, 'nowhere.sock')}` };
    for (const args of [['--help'], ['status', '--help'], ['keys', '--help'],
      ...['create', 'list', 'show', 'update', 'rotate', 'revoke', 'topup'].map((v) => ['keys', v, '--help'])]) {
      const r = await runAdmin(gw, args, { env });
      assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
      assert.match(r.stdout, /usage:/, args.join(' '));
    }
  });

  test('an admin socket that does not exist exits 3 with one line', async () => {
    const r = await runAdmin(gw, ['keys', 'list'],
      { env: { FLUXGATE_ADMIN: `unix:${path.join(gw.dir, 'nowhere.sock')}` } });
    assertFailed(r, 3, /nowhere\.sock/);
    assertFailed(await runAdmin(gw, ['--admin', `unix:${path.join(gw.dir, 'nowhere.sock')}`, 'status']), 3);
  });

  test('no admin token exits 3 with one line', async () => {
    const r = await runAdmin(gw, ['keys', 'list'],
      { env: { FLUXGATE_ADMIN_TOKEN_FILE: path.join(gw.dir, 'no.token') } });
    assertFailed(r, 3, /token/);
    assertFailed(await runAdmin(gw, ['--token-file', path.join(gw.dir, 'no.token'), 'status']), 3);
  });
});

describe('authentication of API calls', () => {
  test('a request without a key gets 401 invalid_api_key and never reaches the upstream', async () => {
    await noUpstream(async () => {
      assertOpenAIError(await chat(gw, {}), 401, 'authentication_error', 'invalid_api_key');
      assertOpenAIError(await getPublic(gw, '/v1/models', {}), 401, 'authentication_error', 'invalid_api_key');
    });
  });

  test('a malformed Authorization header gets 401 invalid_api_key', async () => {
    const s = gw.key;
    const headers = ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', s, `Token ${s}`, `Bearer ${s}x`,
      `Bearer ${s.slice(0, -1)}`, `Bearer ${s.replace(/^fg-/, 'sk-')}`, `Bearer ${s.slice(0, -1)}!`,
      `Bearer ${s} ${s}`];
    await noUpstream(async () => {
      for (const h of headers) {
        const res = await chat(gw, { authorization: h });
        assertOpenAIError(res, 401, 'authentication_error', 'invalid_api_key');
      }
      assertOpenAIError(await chat(gw, { 'x-api-key': `Bearer ${s}` }), 401, 'authentication_error', 'invalid_api_key');
    });
  });

  test('a well-formed key that does not exist gets 401 invalid_api_key', async () => {
    const unknown = `fg-${crypto.randomBytes(32).toString('base64url')}`;
    assert.match(unknown, SECRET);
    await noUpstream(async () => {
      assertOpenAIError(await chat(gw, bearer(unknown)), 401, 'authentication_error', 'invalid_api_key');
      assertOpenAIError(await chat(gw, { 'x-api-key': unknown }), 401, 'authentication_error', 'invalid_api_key');
    });
  });

  test('a key in an x-api-key header is accepted', async () => {
    const k = await gw.createKey({ name: 'x-api-key' });
    const before = (await sim.stats()).requests;
    const res = await chat(gw, { 'x-api-key': k.secret });
    assert.equal(res.status, 200, res.text);
    assert.equal((await sim.stats()).requests, before + 1);
  });

  test('a revoked key gets 401 key_revoked', async () => {
    const k = await gw.createKey({ name: 'revoked' });
    assert.equal((await gw.admin('POST', `/admin/v1/keys/${k.id}/revoke`)).status, 200);
    await noUpstream(async () => {
      const err = assertOpenAIError(await chat(gw, bearer(k.secret)), 401, 'authentication_error', 'key_revoked');
      assert.ok(err.message.includes(k.id), err.message);
      assertOpenAIError(await chat(gw, { 'x-api-key': k.secret }), 401, 'authentication_error', 'key_revoked');
    });
  });

  test('an expired key gets 401 key_expired', async () => {
    const k = await gw.createKey({ name: 'expiring', expires_at: nowSec() + 4 });
    assert.equal((await getPublic(gw, '/v1/models', bearer(k.secret))).status, 200);
    const res = await waitFor('the key to expire', async () => {
      const r = await getPublic(gw, '/v1/models', bearer(k.secret));
      return r.status !== 200 && r;
    }, { tries: 200, every: 50 });
    assertOpenAIError(res, 401, 'authentication_error', 'key_expired');
    await noUpstream(async () => {
      assertOpenAIError(await chat(gw, bearer(k.secret)), 401, 'authentication_error', 'key_expired');
    });
  });

  test("a model outside the key's allowed models gets 403 model_not_allowed with param model", async () => {
    const k = await gw.createKey({ name: 'restricted', models: ['demo-chat'] });
    assert.equal((await chat(gw, bearer(k.secret))).status, 200);
    await noUpstream(async () => {
      for (const model of ['demo-reasoner', 'fault-500']) {
        const err = assertOpenAIError(await chat(gw, bearer(k.secret), { ...CHAT, model }),
          403, 'permission_error', 'model_not_allowed', 'model');
        assert.ok(err.message.includes(model), err.message);
      }
      assertOpenAIError(await chat(gw, bearer(k.secret), { ...CHAT, model: 'demo-reasoner', stream: true }),
        403, 'permission_error', 'model_not_allowed', 'model');
    });
  });

  test('a provider/* pattern allows every model of that provider and no other', async () => {
    const k = await gw.createKey({ name: 'provider', models: ['demo/*'] });
    assert.equal((await chat(gw, bearer(k.secret), { ...CHAT, model: 'demo-reasoner' })).status, 200);
    await noUpstream(async () => {
      assertOpenAIError(await chat(gw, bearer(k.secret), { ...CHAT, model: 'gpt-4o-mini' }),
        403, 'permission_error', 'model_not_allowed', 'model');
    });
    const openai = await gw.createKey({ name: 'provider-openai', models: ['openai/*'] });
    const res = await chat(gw, bearer(openai.secret), { ...CHAT, model: 'gpt-4o-mini' });
    assert.equal(res.status, 200, res.text);
    await noUpstream(async () => {
      assertOpenAIError(await chat(gw, bearer(openai.secret)), 403, 'permission_error', 'model_not_allowed', 'model');
    });
  });

  test("a '*' pattern or an empty list allows every model", async () => {
    for (const models of [['*'], []]) {
      const k = await gw.createKey({ name: 'star', models });
      for (const model of ['demo-chat', 'gpt-4o-mini']) {
        const res = await chat(gw, bearer(k.secret), { ...CHAT, model });
        assert.equal(res.status, 200, `${JSON.stringify(models)} ${model}: ${res.text}`);
      }
    }
  });

  test('GET /v1/models with a model-restricted key lists only the models it may use', async () => {
    const exact = await gw.createKey({ name: 'list-exact', models: ['demo-chat'] });
    const res = await getPublic(gw, '/v1/models', bearer(exact.secret));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json().data.map((m) => m.id), ['demo-chat']);

    const everything = (await getPublic(gw, '/v1/models', bearer(gw.key))).json().data.map((m) => m.id);
    const demo = new Set(shippedModels().filter((m) => m.provider === 'demo').map((m) => m.id));
    const byProvider = await gw.createKey({ name: 'list-provider', models: ['demo/*', 'demo-chat'] });
    const listed = (await getPublic(gw, '/v1/models', bearer(byProvider.secret))).json().data.map((m) => m.id);
    assert.deepEqual(listed, everything.filter((id) => demo.has(id)));
  });

  test('GET /v1/models/{id} with a model-restricted key is 404 for a model it may not use', async () => {
    const k = await gw.createKey({ name: 'retrieve', models: ['demo-chat'] });
    const ok = await getPublic(gw, '/v1/models/demo-chat', bearer(k.secret));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json().id, 'demo-chat');
    assert.equal((await getPublic(gw, '/v1/models/demo-reasoner', bearer(gw.key))).status, 200);
    const res = await getPublic(gw, '/v1/models/demo-reasoner', bearer(k.secret));
    assert.equal(res.status, 404, res.text);
    assert.equal(res.json().error.code, 'model_not_found');
  });

  test('GET /v1/models/{id}/endpoints with a model-restricted key is 404 for a model it may not use', async () => {
    const k = await gw.createKey({ name: 'endpoints', models: ['demo-chat'] });
    const ok = await getPublic(gw, '/v1/models/demo-chat/endpoints', bearer(k.secret));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json().model, 'demo-chat');
    const res = await getPublic(gw, '/v1/models/demo-reasoner/endpoints', bearer(k.secret));
    assert.equal(res.status, 404, res.text);
    assert.equal(res.json().error.code, 'model_not_found');
  });
});

describe('revocation on every worker', () => {
  // The 401s each worker wrote to the log for key @id with @code.
  function refusalsByWorker(id, code) {
    const out = new Map();
    const re = new RegExp(`worker#(\\d+)\\[\\d+\\] req=\\S+ error 401 ${code}: [^\\n]*${id}`, 'g');
    for (const m of gw.log().matchAll(re)) out.set(m[1], (out.get(m[1]) || 0) + 1);
    return out;
  }

  test('with 2 workers, requests on fresh connections right after a revoke are all refused by every worker', async () => {
    const k = await gw.createKey({ name: 'revoke-everywhere' });
    const burst = (n) => Promise.all(Array.from({ length: n }, () => chat(gw, bearer(k.secret))));
    assert.deepEqual([...new Set((await burst(16)).map((r) => r.status))], [200]);

    const revoked = await gw.admin('POST', `/admin/v1/keys/${k.id}/revoke`);
    assert.equal(revoked.status, 200, revoked.text);
    const t0 = Date.now();
    const results = [];
    await noUpstream(async () => {
      // Bursts until both workers have refused the key (bounded: 40
      // bursts, or 10 s of them on a slow machine).
      for (let i = 0; i < 40 && Date.now() - t0 < 10000 && refusalsByWorker(k.id, 'key_revoked').size < 2; i++) {
        results.push(...await burst(16));
      }
    });
    assert.ok(results.length >= 16);
    const statuses = results.map((r) => `${r.status} ${r.status === 200 ? '' : r.json().error.code}`);
    assert.deepEqual([...new Set(statuses)], ['401 key_revoked'], `${results.length} requests`);
    assert.equal(refusalsByWorker(k.id, 'key_revoked').size, 2,
      `not every worker refused the key: ${JSON.stringify([...refusalsByWorker(k.id, 'key_revoked')])}`);
  });
});

describe('the admin API', () => {
  test('is not served on the public listener', async () => {
    const token = gw.adminToken();
    const countBefore = (await gw.admin('GET', '/admin/v1/status')).json().keys.count;
    const paths = ['/admin/v1/status', '/admin/v1/keys', `/admin/v1/keys/${gw.keyId}`];
    for (const p of paths) {
      for (const headers of [{}, bearer(gw.key), bearer(token)]) {
        const res = await getPublic(gw, p, headers);
        assert.notEqual(res.status, 200, `${p} answered 200 on the public listener`);
        assert.ok(!res.text.includes('"api_key"'), res.text);
      }
      assert.equal((await getPublic(gw, p, bearer(gw.key))).status, 404);
    }
    for (const headers of [bearer(gw.key), bearer(token)]) {
      const res = await plainRequest('POST', `${gw.url}/admin/v1/keys`, JSON.stringify({ name: 'sneaky' }),
        { 'content-type': 'application/json', ...headers });
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
      const rev = await plainRequest('POST', `${gw.url}/admin/v1/keys/${gw.keyId}/revoke`, '',
        { 'content-type': 'application/json', ...headers });
      assert.ok(rev.status >= 400 && rev.status < 500, `${rev.status} ${rev.text}`);
    }
    assert.equal((await gw.admin('GET', '/admin/v1/status')).json().keys.count, countBefore);
    assert.equal((await chat(gw, bearer(gw.key))).status, 200, 'the harness key was revoked through the public listener');
  });

  test('a call without the admin token, or with a wrong one, gets 401 invalid_admin_token', async () => {
    const token = gw.adminToken();
    const countBefore = (await gw.admin('GET', '/admin/v1/status')).json().keys.count;
    // Exactly these headers, unlike gw.admin(), which adds the token.
    const call = (method, p, body, headers) => adminRequest(gw.adminSocket, method, p,
      body === undefined ? undefined : JSON.stringify(body), { 'content-type': 'application/json', ...headers });
    const wrong = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: `Bearer ${token}x` },
      { authorization: `Bearer ${token.slice(0, -1)}` },
      { authorization: `Bearer ${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}` },
      { authorization: token },
      { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` },
      { authorization: `Bearer ${gw.key}` },
      { 'x-api-key': token },
    ];
    for (const headers of wrong) {
      const label = JSON.stringify(headers).replaceAll(token, '<token>');
      const status = await call('GET', '/admin/v1/status', undefined, headers);
      assert.equal(status.status, 401, `${label}: ${status.text}`);
      assertOpenAIError(status, 401, 'authentication_error', 'invalid_admin_token');
      const create = await call('POST', '/admin/v1/keys', { name: 'no token' }, headers);
      assert.equal(create.status, 401, `${label}: ${create.text}`);
      const revoke = await call('POST', `/admin/v1/keys/${gw.keyId}/revoke`, undefined, headers);
      assert.equal(revoke.status, 401, `${label}: ${revoke.text}`);
    }
    assert.equal((await gw.admin('GET', '/admin/v1/status')).json().keys.count, countBefore);
    assert.equal((await chat(gw, bearer(gw.key))).status, 200);
  });

  test('the admin socket, the admin token and the server secret are readable by their owner only (0600)', () => {
    const socket = fs.statSync(gw.adminSocket);
    assert.ok(socket.isSocket());
    assert.equal((socket.mode & 0o777).toString(8), '600');
    for (const f of ['admin.token', 'server.secret']) {
      assert.equal((fs.statSync(path.join(gw.dataDir, f)).mode & 0o777).toString(8), '600', f);
    }
  });

  test('unknown fields in a body are refused with 400 naming the field, and change nothing', async () => {
    const countBefore = (await gw.admin('GET', '/admin/v1/status')).json().keys.count;
    const create = await gw.admin('POST', '/admin/v1/keys', { name: 'unknown-field', bogus: 1 });
    assert.equal(create.status, 400, create.text);
    assert.equal(create.json().error.param, 'bogus');
    assert.equal((await gw.admin('GET', '/admin/v1/status')).json().keys.count, countBefore);
    assert.ok(!(await listAll(gw)).some((k) => k.name === 'unknown-field'));

    const k = await gw.createKey({ name: 'unchanged', limits: { requests_per_min: 600 } });
    const patch = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { name: 'changed', bogus: true });
    assert.equal(patch.status, 400, patch.text);
    assert.equal(patch.json().error.param, 'bogus');
    const nested = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`,
      { name: 'changed', limits: { requests_per_min: 5, bogus: 1 } });
    assert.equal(nested.status, 400, nested.text);
    assert.match(nested.json().error.param, /^limits/);

    const idem = `unknown-${k.id}`;
    const topup = await gw.admin('POST', `/admin/v1/keys/${k.id}/topup`,
      { amount_micro: 5, idempotency_key: idem, note: 'x' });
    assert.equal(topup.status, 400, topup.text);
    assert.equal(topup.json().error.param, 'note');
    const rotate = await gw.admin('POST', `/admin/v1/keys/${k.id}/rotate`, { grace_seconds: 5, bogus: 1 });
    assert.equal(rotate.status, 400, rotate.text);
    assert.equal(rotate.json().error.param, 'bogus');

    const now = (await gw.admin('GET', `/admin/v1/keys/${k.id}`)).json();
    assert.deepEqual(now, k.key);
    const used = await chat(gw, bearer(k.secret));
    assert.equal(used.status, 200, 'the refused rotate changed the secret');
    // The refused top-up did not use up its idempotency key.
    const retry = await gw.admin('POST', `/admin/v1/keys/${k.id}/topup`, { amount_micro: 5, idempotency_key: idem });
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.json().applied, true);
    assert.equal(retry.json().key.energy.balance_micro,
      Number(used.headers['x-fluxgate-balance-micro']) + 5);
  });

  test('an unknown field is refused with code VALIDATION_FORBIDDEN_FIELD naming it', async () => {
    const res = await gw.admin('POST', '/admin/v1/keys', { name: 'unknown-code', bogus: 1 });
    assertOpenAIError(res, 400, 'invalid_request_error', 'VALIDATION_FORBIDDEN_FIELD', 'bogus');
  });

  test('a value out of range or of the wrong type is refused with its own code, naming the field', async () => {
    const res = await gw.admin('PATCH', `/admin/v1/keys/${gw.keyId}`, { limits: { requests_per_min: -1 } });
    assertOpenAIError(res, 400, 'invalid_request_error', 'VALIDATION_OUT_OF_RANGE', 'limits.requests_per_min');
    const typed = await gw.admin('PATCH', `/admin/v1/keys/${gw.keyId}`, { name: 5 });
    assertOpenAIError(typed, 400, 'invalid_request_error', 'VALIDATION_INVALID_TYPE', 'name');
  });

  test('wrong types and out-of-range values are refused with 400, and change nothing', async () => {
    const k = await gw.createKey({ name: 'typed' });
    for (const body of [{ name: 5 }, { limits: { requests_per_min: -1 } }, { metadata: 'x' },
      { expires_at: 'tomorrow' }, { models: Array.from({ length: 9 }, (_, i) => `m${i}`) },
      { energy: { balance_micro: 1.5 } }]) {
      const res = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json().error.type, 'invalid_request_error');
    }
    for (const body of [{ amount_micro: 0, idempotency_key: 'z1' }, { amount_micro: -5, idempotency_key: 'z2' },
      { amount_micro: 5 }, { amount_micro: 5, idempotency_key: '' }, { amount_micro: 5, idempotency_key: 'x'.repeat(65) }]) {
      const res = await gw.admin('POST', `/admin/v1/keys/${k.id}/topup`, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    }
    assert.deepEqual((await gw.admin('GET', `/admin/v1/keys/${k.id}`)).json(), k.key);
  });

  test('an unknown key id is 404 key_not_found', async () => {
    for (const [method, p] of [['GET', ''], ['PATCH', ''], ['POST', '/rotate'], ['POST', '/revoke']]) {
      const res = await gw.admin(method, `/admin/v1/keys/key_0000000000000000${p}`,
        method === 'PATCH' ? { name: 'x' } : undefined);
      assertOpenAIError(res, 404, 'invalid_request_error', 'key_not_found', 'id');
    }
  });
});

describe('the admin API: a key\'s default routing preset', () => {
  const PRESETS = /"balanced", "speed", "price", "quality", "environment"/;

  test('a key created with a preset shows it, and GET shows it too', async () => {
    const k = await gw.createKey({ name: 'preset-set', preset: 'price' });
    assert.equal(k.key.preset, 'price');
    assert.equal((await gw.admin('GET', `/admin/v1/keys/${k.id}`)).json().preset, 'price');
  });

  test('a key created without a preset shows null', async () => {
    const k = await gw.createKey({ name: 'preset-none' });
    assert.equal(k.key.preset, null);
  });

  test('PATCH sets a preset, and null clears it', async () => {
    const k = await gw.createKey({ name: 'preset-patch', preset: 'speed' });
    const set = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { preset: 'environment' });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.json().preset, 'environment');
    const cleared = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { preset: null });
    assert.equal(cleared.status, 200, cleared.text);
    assert.equal((await gw.admin('GET', `/admin/v1/keys/${k.id}`)).json().preset, null);
  });

  test('an unknown preset is 400 naming the field and the five presets, and changes nothing', async () => {
    const k = await gw.createKey({ name: 'preset-bad', preset: 'quality' });
    const named = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { preset: 'fast' });
    assert.match(assertOpenAIError(named, 400, 'invalid_request_error', 'VALIDATION_INVALID_VALUE', 'preset').message,
      PRESETS);
    const typed = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { preset: 2 });
    assert.match(assertOpenAIError(typed, 400, 'invalid_request_error', 'VALIDATION_INVALID_TYPE', 'preset').message,
      PRESETS);
    const created = await gw.admin('POST', '/admin/v1/keys', { name: 'preset-bad-create', preset: 'Price' });
    assertOpenAIError(created, 400, 'invalid_request_error', 'VALIDATION_INVALID_VALUE', 'preset');
    assert.equal((await gw.admin('GET', `/admin/v1/keys/${k.id}`)).json().preset, 'quality');
  });
});

describe('the admin API: a key\'s default transforms', () => {
  const get = async (id) => (await gw.admin('GET', `/admin/v1/keys/${id}`)).json();

  test('a key created with transforms ["middle-out"] shows them, and GET shows them too', async () => {
    const k = await gw.createKey({ name: 'xf-set', transforms: ['middle-out'] });
    assert.deepEqual(k.key.transforms, ['middle-out']);
    assert.deepEqual((await get(k.id)).transforms, ['middle-out']);
  });

  test('a key created without transforms shows an empty list', async () => {
    const k = await gw.createKey({ name: 'xf-none' });
    assert.deepEqual(k.key.transforms, []);
  });

  test('PATCH sets them, [] clears them, and null clears them too', async () => {
    const k = await gw.createKey({ name: 'xf-patch' });
    const set = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { transforms: ['middle-out'] });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.json().transforms, ['middle-out']);
    const emptied = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { transforms: [] });
    assert.equal(emptied.status, 200, emptied.text);
    assert.deepEqual((await get(k.id)).transforms, []);
    await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { transforms: ['middle-out'] });
    const nulled = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { transforms: null });
    assert.equal(nulled.status, 200, nulled.text);
    assert.deepEqual((await get(k.id)).transforms, []);
  });

  test('a PATCH of other fields keeps them', async () => {
    const k = await gw.createKey({ name: 'xf-keep', transforms: ['middle-out'] });
    const res = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { name: 'xf-kept', preset: 'speed' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json().transforms, ['middle-out']);
  });

  test('an unknown or repeated transform is 400 naming the field and the one transform, and changes nothing', async () => {
    const k = await gw.createKey({ name: 'xf-bad', transforms: ['middle-out'] });
    const unknown = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { transforms: ['middle-in'] });
    assert.match(assertOpenAIError(unknown, 400, 'invalid_request_error', 'VALIDATION_INVALID_VALUE', 'transforms').message,
      /transforms\[0\].*"middle-out"/);
    const repeated = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { transforms: ['middle-out', 'middle-out'] });
    assert.match(assertOpenAIError(repeated, 400, 'invalid_request_error', 'VALIDATION_INVALID_VALUE', 'transforms').message,
      /transforms\[1\] repeats/);
    const created = await gw.admin('POST', '/admin/v1/keys', { name: 'xf-bad-create', transforms: ['Middle-Out'] });
    assertOpenAIError(created, 400, 'invalid_request_error', 'VALIDATION_INVALID_VALUE', 'transforms');
    assert.deepEqual((await get(k.id)).transforms, ['middle-out']);
  });

  test('transforms that are not an array of strings, or more than 8, are 400 naming the field', async () => {
    const k = await gw.createKey({ name: 'xf-type' });
    for (const transforms of ['middle-out', { 'middle-out': true }, [1], [null]]) {
      const res = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { transforms });
      assertOpenAIError(res, 400, 'invalid_request_error', 'VALIDATION_INVALID_TYPE', 'transforms');
    }
    const many = await gw.admin('PATCH', `/admin/v1/keys/${k.id}`, { transforms: Array(9).fill('middle-out') });
    assertOpenAIError(many, 400, 'invalid_request_error', 'VALIDATION_OUT_OF_RANGE', 'transforms');
    assert.deepEqual((await get(k.id)).transforms, []);
  });
});

describe('secrets are never stored', () => {
  // Every regular file under @dir, recursively.
  function filesUnder(dir) {
    const out = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) out.push(...filesUnder(p));
      else if (e.isFile()) out.push(p);
    }
    return out;
  }

  test('no secret appears in the data folder, the logs or an error body', async () => {
    const g = await startGateway({ sim });
    const secrets = [g.key];
    const bodies = [];
    const keep = (res) => { bodies.push(res.text); return res; };
    try {
      const plain = await g.createKey({ name: 'grep-plain', metadata: { team: 'grep' } });
      const restricted = await g.createKey({ name: 'grep-restricted', models: ['demo-chat'] });
      const cli = await createCli(g, '--name', 'grep-cli', '--balance', '1');
      secrets.push(plain.secret, restricted.secret, cli.secret);
      const rotNow = (await g.admin('POST', `/admin/v1/keys/${plain.id}/rotate`, { grace_seconds: 0 })).json();
      const rotLater = await adminJson(g, 'keys', 'rotate', cli.id, '--grace', '60');
      secrets.push(rotNow.secret, rotLater.secret);

      // Successes, streamed and not, with either header.
      for (const s of [rotNow.secret, restricted.secret, cli.secret, rotLater.secret, g.key]) {
        assert.equal((await chat(g, bearer(s))).status, 200);
        assert.equal((await chat(g, { 'x-api-key': s }, { ...CHAT, stream: true })).status, 200);
        assert.equal((await getPublic(g, '/v1/models', bearer(s))).status, 200);
      }
      // Failures of every kind.
      assertOpenAIError(keep(await chat(g, bearer(plain.secret))), 401, 'authentication_error', 'key_rotated');
      assertOpenAIError(keep(await chat(g, bearer(restricted.secret), { ...CHAT, model: 'demo-reasoner' })),
        403, 'permission_error', 'model_not_allowed', 'model');
      assert.equal(keep(await getPublic(g, '/v1/models/demo-reasoner', bearer(restricted.secret))).status, 404);
      assert.equal(keep(await chat(g, bearer(cli.secret), '{"model": "demo-chat", "messages": [')).status, 400);
      assert.equal(keep(await chat(g, bearer(cli.secret), { ...CHAT, model: 'fault-500' })).status >= 500, true);
      assert.equal(keep(await chat(g, bearer(cli.secret), { ...CHAT, model: 'no-such-model' })).status, 404);
      assert.equal(keep(await chat(g, { authorization: `Bearer ${cli.secret}x` })).status, 401);
      assert.equal(keep(await chat(g, { authorization: cli.secret })).status, 401);
      assert.equal(keep(await chat(g, { authorization: `Basic ${cli.secret}` })).status, 401);
      await g.admin('POST', `/admin/v1/keys/${restricted.id}/revoke`);
      assertOpenAIError(keep(await chat(g, bearer(restricted.secret))), 401, 'authentication_error', 'key_revoked');
      await g.admin('POST', `/admin/v1/keys/${cli.id}/revoke`);
      for (const s of [cli.secret, rotLater.secret]) assert.equal(keep(await chat(g, bearer(s))).status, 401);
      assert.equal(keep(await g.admin('GET', `/admin/v1/keys/${plain.id}`)).status, 200);
      keep(await g.admin('GET', '/admin/v1/keys?limit=1000'));
    } finally {
      await g.stop();
    }

    const files = filesUnder(g.dir);
    assert.ok(files.some((f) => f.endsWith('keys.journal')), files.join(' '));
    assert.ok(files.some((f) => f.endsWith('fluxgate.log')), files.join(' '));
    const haystacks = [
      ...files.map((f) => [path.relative(g.dir, f), fs.readFileSync(f)]),
      ['the gateway log', Buffer.from(g.log())],
      ...bodies.map((b, i) => [`error body ${i}`, Buffer.from(b)]),
    ];
    for (const secret of secrets) {
      assert.match(secret, SECRET);
      const raw = Buffer.from(secret.slice(3), 'base64url');
      const needles = [secret, secret.slice(3), raw, raw.toString('hex'), raw.toString('base64')];
      for (const [name, hay] of haystacks) {
        for (const needle of needles) {
          assert.equal(hay.indexOf(needle), -1, `a secret (${secret.slice(0, 6)}…) is in ${name}`);
        }
      }
    }
  });
});
