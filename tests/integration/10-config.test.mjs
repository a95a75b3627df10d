// Configuration checking through the real binary: `fluxgate -t` loads the
// configuration and both catalogs exactly as a start would, prints
// "configuration OK" and exits 0, or exits non-zero with a message that
// names the file and the offending key or entry (common/base/conf.c,
// common/base/catalog.c).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { BIN_DIR, SRC_DIR, shippedModels, shippedProviders, writeCatalogs, tempDir } from '../lib/harness.mjs';

const FLUXGATE = path.join(BIN_DIR, 'fluxgate');

// Runs `fluxgate -t -c conf` (bounded); returns { status, out, err }.
function check(confPath, env = {}) {
  const r = spawnSync(FLUXGATE, ['-t', '-c', confPath], {
    encoding: 'utf8', timeout: 10000, env: { ...process.env, ...env },
  });
  assert.equal(r.error, undefined, `fluxgate -t did not run: ${r.error}`);
  assert.doesNotMatch(r.stderr, /(Address|Leak|Undefined)Sanitizer|runtime error:/, r.stderr);
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

let dir;

// Writes a configuration (object or raw text) and the shipped catalogs into
// a fresh sub-directory; returns the configuration's path.
let n = 0;
function writeConf(conf, { models, providers } = {}) {
  const d = path.join(dir, `case-${++n}`);
  fs.mkdirSync(d);
  writeCatalogs(d, { providers: providers || shippedProviders(),
    models: models || { models: shippedModels() } });
  const p = path.join(d, 'fluxgate.json');
  fs.writeFileSync(p, typeof conf === 'string' ? conf : JSON.stringify(conf));
  return p;
}

function assertRejected(r, ...needles) {
  assert.notEqual(r.status, 0, `expected a non-zero exit, got 0; stdout: ${r.out}`);
  assert.equal(r.signal, null, `fluxgate -t died of a signal: ${r.signal}\n${r.err}`);
  assert.doesNotMatch(r.out, /configuration OK/);
  for (const s of needles) {
    assert.ok(r.err.includes(s), `stderr should name ${JSON.stringify(s)}:\n${r.err}`);
  }
}

before(() => { dir = tempDir('fg-conf-'); });
after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('fluxgate -t', () => {
  test('accepts the shipped configuration and prints "configuration OK"', () => {
    const r = check(path.join(SRC_DIR, 'etc/fluxgate.json'));
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /configuration OK/);
    assert.ok(r.out.includes('etc/fluxgate.json'), r.out);
  });

  test('accepts an empty object, every key taking its default', () => {
    const r = check(writeConf({}));
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /configuration OK/);
  });

  test('rejects an unknown key, naming the file and the key\'s path', () => {
    const p = writeConf({ limits: { max_body_bytez: 1024 } });
    assertRejected(check(p), p, 'limits.max_body_bytez', 'unknown key');
  });

  test('rejects an unknown top-level key, naming it', () => {
    const p = writeConf({ listen_on: '127.0.0.1:1' });
    assertRejected(check(p), p, 'listen_on');
  });

  test('rejects a value of the wrong type, naming the file and the key\'s path', () => {
    const p = writeConf({ limits: { max_body_bytes: '4MB' } });
    assertRejected(check(p), p, 'limits.max_body_bytes', 'integer');
  });

  test('rejects a section that is not an object, naming it', () => {
    const p = writeConf({ limits: 5 });
    assertRejected(check(p), p, 'limits');
  });

  test('rejects an out-of-range value, naming the file, the key and the bounds', () => {
    const p = writeConf({ limits: { max_json_depth: 2 } });
    assertRejected(check(p), p, 'limits.max_json_depth', '4..1024');
  });

  test('rejects a response store key cap above the store\'s, naming both keys', () => {
    const p = writeConf({ responses: { store_bytes: 1048576, store_key_bytes: 2097152 } });
    assertRejected(check(p), p, 'responses.store_key_bytes', 'responses.store_bytes');
  });

  test('accepts the response store turned off', () => {
    const r = check(writeConf({ responses: { store_bytes: 0 } }));
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /configuration OK/);
  });

  test('rejects a worker count of zero, naming workers', () => {
    const p = writeConf({ workers: 0 });
    assertRejected(check(p), p, 'workers');
  });

  test('rejects malformed JSON, naming the file and the position', () => {
    const p = writeConf('{ "workers": 2,\n  "limits": { ');
    const r = check(p);
    assertRejected(r, p);
    assert.match(r.err, new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+`));
  });

  test('rejects a duplicate key in the configuration', () => {
    const p = writeConf('{ "workers": 2, "workers": 3 }');
    assertRejected(check(p), p, 'workers');
  });

  test('rejects a configuration file that does not exist, naming it', () => {
    const p = path.join(dir, 'no-such-dir', 'fluxgate.json');
    assertRejected(check(p), p);
  });

  test('rejects a missing catalog file, naming that file', () => {
    const p = writeConf({ catalog: { models: 'no-such-models.json' } });
    assertRejected(check(p), 'no-such-models.json');
  });

  test('rejects a model naming an unknown provider, naming the catalog, the model and the provider', () => {
    const models = shippedModels();
    models.push({ ...models[0], id: 'orphan-model', provider: 'nowhere' });
    const p = writeConf({}, { models: { models } });
    assertRejected(check(p), 'models.json', 'orphan-model', 'nowhere');
  });

  test('rejects an unknown field in a model entry, naming the catalog and the entry', () => {
    const models = shippedModels();
    models[1] = { ...models[1], max_output_tokenz: 5 };
    const p = writeConf({}, { models: { models } });
    assertRejected(check(p), 'models.json', 'models[1]');
  });

  test('rejects a provider timeout of zero, naming the catalog and the entry', () => {
    const providers = shippedProviders({
      demo: { timeouts: { connect_ms: 0, first_byte_ms: 1, idle_ms: 1, total_ms: 1 } },
    });
    const p = writeConf({}, { providers });
    assertRejected(check(p), 'providers.json', 'providers[0]');
  });

  test('rejects a provider base_url that is not http(s)', () => {
    const providers = shippedProviders({ demo: { base_url: 'file:///etc/passwd' } });
    const p = writeConf({}, { providers });
    assertRejected(check(p, { FG_DEMO_BASE_URL: '' }), 'providers.json', 'base_url');
  });
});
