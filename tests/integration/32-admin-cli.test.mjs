// fluxgate-admin as an operator meets it (docs/admin-api.md "fluxgate-admin";
// admin/main.c, admin/keyview.c, common/accounts/ledger.c): where it finds
// the admin API (--admin, FLUXGATE_ADMIN, then the gateway's configuration
// by --config or FLUXGATE_CONF; with none a clear error, never a default
// socket), errors as JSON on stdout with --json and the same exit codes,
// numbers printed as the integers or fixed decimals they are, a key's
// routing preset and default transforms set, shown and cleared, the
// totals of `keys show` counting what the usage records count, and
// `providers` listing the catalog's endpoints with their health
// (master/admin_http.c, admin/providers.c, common/route/health.c).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { stopAll, CHAT, plainRequest, runAdmin, startGateway, startSim, waitFor } from '../lib/harness.mjs';

let sim;
let gw;

before(async () => {
  sim = await startSim();
  gw = await startGateway({ sim });
});

after(async () => {
  await stopAll(gw, sim);
});

// No address, no token, no configuration from the environment: only what
// the test passes.
const BARE = {
  FLUXGATE_ADMIN: null, FLUXGATE_ADMIN_TOKEN: null, FLUXGATE_ADMIN_TOKEN_FILE: null,
  FLUXGATE_CONF: null,
};
const bare = (args, env = {}) => runAdmin(null, args, { env: { ...BARE, ...env } });
const nowhere = () => `unix:${path.join(gw.dir, 'nowhere.sock')}`;

function assertOk(r, what) {
  assert.equal(r.code, 0, `${what}: exit ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr, '', what);
}

// A failed run without --json: exit @code, nothing on stdout, one line on
// stderr matching @pattern.
function assertFailed(r, code, pattern) {
  assert.equal(r.code, code, `exit ${r.code}, stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^fluxgate-admin: [^\n]+\n$/, `not one line: ${JSON.stringify(r.stderr)}`);
  if (pattern) assert.match(r.stderr, pattern);
}

// A failed run with --json: exit @code, nothing on stderr, and on stdout
// one OpenAI-format error object with @code_ as its code.
function assertJsonFailed(r, code, errorCode, pattern) {
  assert.equal(r.code, code, `exit ${r.code}, stdout: ${r.stdout}, stderr: ${r.stderr}`);
  assert.equal(r.stderr, '');
  const body = r.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, errorCode, r.stdout);
  assert.equal(typeof body.error.type, 'string');
  assert.ok(body.error.message.length > 0);
  if (pattern) assert.match(body.error.message, pattern);
  return body.error;
}

describe('fluxgate-admin: where the admin API is', () => {
  test('with no --admin, FLUXGATE_ADMIN, --config or FLUXGATE_CONF it exits 3 naming the four, and calls nothing', async () => {
    const r = await bare(['status']);
    assertFailed(r, 3, /--admin.*FLUXGATE_ADMIN.*--config.*FLUXGATE_CONF/);
    // No default to fall back on, even with a token at hand.
    assertFailed(await bare(['status'], { FLUXGATE_ADMIN_TOKEN: 'f'.repeat(64) }), 3, /--admin/);
  });

  test('--config FILE finds the admin socket and the token beside data_dir', async () => {
    const r = await bare(['--config', gw.confPath, '--json', 'status']);
    assertOk(r, '--config');
    assert.equal(r.json().object, 'status');
  });

  test('FLUXGATE_CONF does the same, and --config beats it', async () => {
    assertOk(await bare(['status'], { FLUXGATE_CONF: gw.confPath }), 'FLUXGATE_CONF');
    const other = path.join(gw.dir, 'other.json');
    fs.writeFileSync(other, JSON.stringify({ data_dir: path.join(gw.dir, 'other-data') }));
    assertFailed(await bare(['status'], { FLUXGATE_CONF: other }), 3, /other-data/);
    assertOk(await bare(['--config', gw.confPath, 'status'], { FLUXGATE_CONF: other }), '--config over FLUXGATE_CONF');
  });

  test('the order is --admin, then FLUXGATE_ADMIN, then the configuration', async () => {
    const good = `unix:${gw.adminSocket}`;
    // --admin beats FLUXGATE_ADMIN.
    assertOk(await bare(['--admin', good, '--config', gw.confPath, 'status'], { FLUXGATE_ADMIN: nowhere() }),
      '--admin over FLUXGATE_ADMIN');
    assertFailed(await bare(['--admin', nowhere(), '--config', gw.confPath, 'status'], { FLUXGATE_ADMIN: good }),
      3, /nowhere\.sock/);
    // FLUXGATE_ADMIN beats the configuration's admin.listen; the token
    // still comes from the configuration.
    assertFailed(await bare(['--config', gw.confPath, 'status'], { FLUXGATE_ADMIN: nowhere() }),
      3, /nowhere\.sock/);
    assertOk(await bare(['--config', gw.confPath, 'status'], { FLUXGATE_ADMIN: good }),
      'FLUXGATE_ADMIN with the configuration\'s token');
  });

  test('the configuration is read only when the address or the token is still missing', async () => {
    // Address and token from the environment: a broken FLUXGATE_CONF is
    // never opened.
    assertOk(await runAdmin(gw, ['status'], { env: { FLUXGATE_CONF: path.join(gw.dir, 'missing.json') } }),
      'a broken FLUXGATE_CONF, unused');
  });

  test('a token given beats the configuration\'s', async () => {
    const wrong = path.join(gw.dir, 'wrong.token');
    fs.writeFileSync(wrong, `${'0'.repeat(64)}\n`, { mode: 0o600 });
    assertFailed(await bare(['--config', gw.confPath, '--token-file', wrong, 'status']), 1, /invalid_admin_token/);
    assertFailed(await bare(['--config', gw.confPath, 'status'], { FLUXGATE_ADMIN_TOKEN_FILE: wrong }),
      1, /invalid_admin_token/);
  });

  test('an address without a token, a configuration that turns the admin API off, or one that cannot be read, is a clear error', async () => {
    assertFailed(await bare(['--admin', `unix:${gw.adminSocket}`, 'status']), 3, /no admin token.*--config/);
    const off = path.join(gw.dir, 'admin-off.json');
    fs.writeFileSync(off, JSON.stringify({ admin: { listen: 'off' } }));
    assertFailed(await bare(['--config', off, 'status']), 3, /admin API off/);
    assertFailed(await bare(['--config', path.join(gw.dir, 'missing.json'), 'status']), 2, /missing\.json/);
  });
});

describe('fluxgate-admin --json: errors as JSON on stdout, same exit codes', () => {
  test('a refusal of the admin API is its own error object, exit 1', async () => {
    const e = assertJsonFailed(await runAdmin(gw, ['--json', 'keys', 'show', 'key_0000000000000000']),
      1, 'key_not_found');
    assert.equal(e.type, 'invalid_request_error');
  });

  test('a bad command line is invalid_command_line, exit 2, wherever --json stands', async () => {
    assertJsonFailed(await runAdmin(gw, ['--json', 'keys', 'create']), 2, 'invalid_command_line', /--name/);
    assertJsonFailed(await runAdmin(gw, ['keys', 'create', '--bogus', '--json']), 2, 'invalid_command_line',
      /--bogus/);
    assertJsonFailed(await runAdmin(gw, ['--json', 'frobnicate']), 2, 'invalid_command_line');
  });

  test('an unreachable admin API or a missing token is admin_unreachable, exit 3', async () => {
    assertJsonFailed(await runAdmin(gw, ['--json', 'status'], { env: { FLUXGATE_ADMIN: nowhere() } }),
      3, 'admin_unreachable', /nowhere\.sock/);
    assertJsonFailed(await bare(['--json', 'status']), 3, 'admin_unreachable', /--config/);
  });
});

describe('fluxgate-admin: numbers are the integers or fixed decimals they are', () => {
  test('status prints used_percent rounded to two decimals, in JSON and in text', async () => {
    // One secret in a table of 1000: 0.1 %, which a double prints as
    // 0.10000000000000001 when dumped with 17 digits.
    const j = await runAdmin(gw, ['--json', 'status']);
    assertOk(j, 'status --json');
    assert.match(j.stdout, /"used_percent": \d+(\.\d{1,2})?,?\n/, j.stdout);
    assert.doesNotMatch(j.stdout, /\d\.\d{3,}/, j.stdout);
    const t = await runAdmin(gw, ['status']);
    assertOk(t, 'status');
    assert.match(t.stdout, /^keys\.used_percent: \d+(\.\d{1,2})?$/m, t.stdout);
  });

  test('the admin API itself writes used_percent as the decimal it is', async () => {
    const r = await gw.admin('GET', '/admin/v1/status');
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /"used_percent":\d+(\.\d{1,2})?[,}]/, r.text);
  });
});

describe('fluxgate-admin keys: --preset', () => {
  const create = async (...args) => {
    const r = await runAdmin(gw, ['--json', 'keys', 'create', '--name', 'preset', ...args]);
    assertOk(r, 'keys create');
    return r.json().key;
  };

  test('keys create --preset sets the key\'s preset, and keys show prints it', async () => {
    const k = await create('--preset', 'price');
    assert.equal(k.preset, 'price');
    const shown = await runAdmin(gw, ['keys', 'show', k.id]);
    assertOk(shown, 'keys show');
    assert.match(shown.stdout, /^preset: price$/m, shown.stdout);
  });

  test('keys update --preset changes it, and --preset none clears it', async () => {
    const k = await create('--preset', 'speed');
    const set = await runAdmin(gw, ['--json', 'keys', 'update', k.id, '--preset', 'environment']);
    assertOk(set, 'keys update --preset environment');
    assert.equal(set.json().preset, 'environment');
    const cleared = await runAdmin(gw, ['keys', 'update', k.id, '--preset', 'none']);
    assertOk(cleared, 'keys update --preset none');
    assert.match(cleared.stdout, /^preset: none \(balanced\)$/m, cleared.stdout);
    assert.equal((await gw.admin('GET', `/admin/v1/keys/${k.id}`)).json().preset, null);
  });

  test('an unknown preset exits 2 naming it and the presets, and changes nothing', async () => {
    const k = await create('--preset', 'quality');
    assertFailed(await runAdmin(gw, ['keys', 'update', k.id, '--preset', 'fast']), 2,
      /--preset: "fast" is not a preset: expected balanced, speed, price, quality, environment or none/);
    assertFailed(await runAdmin(gw, ['keys', 'create', '--name', 'bad-preset', '--preset', 'Price']), 2,
      /--preset: "Price"/);
    assert.equal((await gw.admin('GET', `/admin/v1/keys/${k.id}`)).json().preset, 'quality');
  });
});

describe('fluxgate-admin keys: --transforms', () => {
  const create = async (...args) => {
    const r = await runAdmin(gw, ['--json', 'keys', 'create', '--name', 'transforms', ...args]);
    assertOk(r, 'keys create');
    return r.json().key;
  };

  test('keys create --transforms middle-out sets the key\'s transforms, and keys show prints them', async () => {
    const k = await create('--transforms', 'middle-out');
    assert.deepEqual(k.transforms, ['middle-out']);
    const shown = await runAdmin(gw, ['keys', 'show', k.id]);
    assertOk(shown, 'keys show');
    assert.match(shown.stdout, /^transforms: middle-out$/m, shown.stdout);
  });

  test('keys show prints none for a key without transforms', async () => {
    const k = await create();
    const shown = await runAdmin(gw, ['keys', 'show', k.id]);
    assertOk(shown, 'keys show');
    assert.match(shown.stdout, /^transforms: none$/m, shown.stdout);
  });

  test('keys update --transforms sets them, and --transforms none clears them', async () => {
    const k = await create();
    const set = await runAdmin(gw, ['--json', 'keys', 'update', k.id, '--transforms', 'middle-out']);
    assertOk(set, 'keys update --transforms middle-out');
    assert.deepEqual(set.json().transforms, ['middle-out']);
    const cleared = await runAdmin(gw, ['keys', 'update', k.id, '--transforms', 'none']);
    assertOk(cleared, 'keys update --transforms none');
    assert.match(cleared.stdout, /^transforms: none$/m, cleared.stdout);
    assert.deepEqual((await gw.admin('GET', `/admin/v1/keys/${k.id}`)).json().transforms, []);
  });

  test('an unknown, empty or repeated name, or none in a list, exits 2 naming it, and changes nothing', async () => {
    const k = await create('--transforms', 'middle-out');
    assertFailed(await runAdmin(gw, ['keys', 'update', k.id, '--transforms', 'middle-in']), 2,
      /--transforms: "middle-in" is not a transform: expected middle-out, a comma-separated list of them, or none/);
    assertFailed(await runAdmin(gw, ['keys', 'update', k.id, '--transforms', 'middle-out,']), 2,
      /--transforms: "" is not a transform/);
    assertFailed(await runAdmin(gw, ['keys', 'update', k.id, '--transforms', 'middle-out,middle-out']), 2,
      /--transforms: "middle-out" is repeated/);
    assertFailed(await runAdmin(gw, ['keys', 'update', k.id, '--transforms', 'none,middle-out']), 2,
      /--transforms: "none" stands alone/);
    assertFailed(await runAdmin(gw, ['keys', 'create', '--name', 'bad-xf', '--transforms', 'Middle-Out']), 2,
      /--transforms: "Middle-Out"/);
    assert.deepEqual((await gw.admin('GET', `/admin/v1/keys/${k.id}`)).json().transforms, ['middle-out']);
  });
});

describe('fluxgate-admin keys show: totals', () => {
  test('count every request that left a usage record, as `usage` does, and print the impact as fixed decimals', async () => {
    const k = await gw.createKey({ name: 'totals' });
    const auth = { authorization: `Bearer ${k.secret}`, 'content-type': 'application/json' };
    const send = (body) => plainRequest('POST', `${gw.url}/v1/chat/completions`, JSON.stringify(body), auth);
    assert.equal((await send(CHAT)).status, 200);
    assert.equal((await send({ ...CHAT, max_tokens: 3 })).status, 200);
    assert.equal((await send({ ...CHAT, model: 'no-such-model' })).status, 404);
    assert.equal((await send({ ...CHAT, model: 'fault-500' })).status, 502);

    const shown = await runAdmin(gw, ['--json', 'keys', 'show', k.id]);
    assertOk(shown, 'keys show');
    const totals = shown.json().totals;
    assert.equal(totals.requests, 4, JSON.stringify(totals));
    const usage = await waitFor('the four usage records in the journal', async () => {
      const r = await runAdmin(gw, ['--json', 'usage', '--key', k.id]);
      return r.code === 0 && r.json().totals.requests === 4 ? r.json() : null;
    });
    assert.equal(totals.charged_micro, usage.totals.charged_micro);
    assert.ok(Math.abs(totals.energy_kwh - usage.totals.energy_kwh) <= usage.totals.energy_kwh * 1e-5 + 1e-11,
      `${totals.energy_kwh} vs ${usage.totals.energy_kwh}`);

    const text = await runAdmin(gw, ['keys', 'show', k.id]);
    assertOk(text, 'keys show');
    assert.match(text.stdout, /^requests_since_start: 4$/m, text.stdout);
    assert.match(text.stdout, /^impact_since_start: \d+(\.\d+)? kWh, \d+(\.\d+)? g CO2e, \d+(\.\d+)? L$/m,
      text.stdout);
    // The usage table too: a short request's 5e-7 kWh, not "5.3e-07".
    const table = await runAdmin(gw, ['usage', '--key', k.id]);
    assertOk(table, 'usage');
    assert.match(table.stdout, /^total +4 +\d+ +\d+ +\d+\.\d+ +\d+\.\d+ +\d+\.\d+ +\d+\.\d+$/m, table.stdout);
    assert.doesNotMatch(table.stdout, /\de-\d/, table.stdout);
  });
});

describe('fluxgate-admin providers: the endpoints and their health', () => {
  test('lists the demo endpoint closed, with its upstream id and country, in JSON and as a table', async () => {
    const j = await runAdmin(gw, ['--json', 'providers']);
    assertOk(j, 'providers --json');
    assert.equal(j.json().object, 'list');
    const demo = j.json().data.find((e) => e.provider === 'demo' && e.model === 'demo-chat');
    assert.ok(demo, j.stdout);
    assert.equal(demo.upstream_id, 'demo-chat');
    assert.equal(demo.country, 'WORLD');
    assert.equal(demo.state, 'closed');
    assert.equal(demo.retry_at_s, null);
    assert.equal(typeof demo.error_rate, 'number');

    const t = await runAdmin(gw, ['providers']);
    assertOk(t, 'providers');
    assert.match(t.stdout, /^PROVIDER +MODEL +COUNTRY +STATE +TTFT +TPS +ERRORS$/m, t.stdout);
    assert.match(t.stdout, /^demo +demo-chat +WORLD +closed +\S+( ms)? +\S+ +\d+\.\d%$/m, t.stdout);
  });

  test('the admin API takes no query parameter on /admin/v1/providers', async () => {
    const r = await gw.admin('GET', '/admin/v1/providers?state=open');
    assert.equal(r.status, 400, r.text);
  });
});
