// The reference pages agree with the code they describe: every
// configuration key common/base/conf.c declares is in docs/operations.md's
// "Configuration keys" table, and every error common/base/errors.h can send
// is a row of docs/api.md's "Error codes" table with its status and type.
// Both directions are checked, so a key or a code removed from the code
// cannot linger in the docs either. The tests read the sources and the
// pages; they start no process.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { SRC_DIR } from '../lib/harness.mjs';

function read(rel) {
  return fs.readFileSync(path.join(SRC_DIR, rel), 'utf8');
}

// The text of the page's section under `heading` ("## …"), up to the next
// heading of the same level.
function section(page, heading) {
  const text = read(page);
  const at = text.indexOf(`\n${heading}\n`);
  assert.notEqual(at, -1, `${page} has no section "${heading}"`);
  const next = text.indexOf('\n## ', at + heading.length + 2);
  return text.slice(at, next === -1 ? text.length : next);
}

// The cells of every table row in `text` (header and rule rows included).
function tableRows(text) {
  return text.split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) => line.slice(1, line.endsWith('|') ? -1 : undefined)
      .split('|').map((cell) => cell.trim()));
}

function backticked(cell) {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
}

function without(list, other) {
  const set = new Set(other);
  return [...new Set(list)].filter((x) => !set.has(x)).sort();
}

// conf.c declares every key in one array, conf_table[], one entry per line
// start: `{ "path", CONF_…` or `CONF_I("path", …` / `CONF_S("path", …`.
// Every entry start must carry its path as a string literal, so an entry
// this reading cannot see fails the test instead of passing unchecked.
function confKeys() {
  const src = read('common/base/conf.c').replace(/\/\*[\s\S]*?\*\//g, '');
  const start = src.indexOf('conf_table[] = {');
  assert.notEqual(start, -1, 'common/base/conf.c has no conf_table[]');
  const body = src.slice(start + 'conf_table[] = {'.length,
    src.indexOf('\n};', start));
  const entries = body.split('\n').filter((l) => /^\s*(\{|CONF_\w+\()/.test(l));
  const keys = entries.map((l) => {
    const m = l.match(/^\s*(?:\{|CONF_\w+\()\s*"([^"]+)"/);
    assert.ok(m, `conf_table[] entry without a literal path: ${l.trim()}`);
    return m[1];
  });
  assert.ok(keys.includes('listen') && keys.includes('catalog.models'),
    `conf_table[] read wrong: ${keys.join(', ')}`);
  return keys;
}

function documentedConfKeys() {
  return tableRows(section('docs/operations.md', '## Configuration keys'))
    .flatMap((cells) => backticked(cells[0]));
}

// errors.h: X(FG_E_NAME, status, "type", "code") in FG_ERROR_LIST.
function sentErrors() {
  const src = read('common/base/errors.h').replace(/\\\n/g, ' ');
  const list = src.slice(src.indexOf('#define FG_ERROR_LIST'));
  const errors = [...list.matchAll(
    /X\(\s*(FG_E_\w+)\s*,\s*(\d+)\s*,\s*"([^"]*)"\s*,\s*"([^"]*)"\s*\)/g)]
    .filter((m) => m[4] !== '')                       // FG_E_NONE
    .map((m) => `${m[4]} (${m[2]} ${m[3]})`);
  assert.ok(errors.length >= 40, `FG_ERROR_LIST read wrong: ${errors.length} errors`);
  return errors;
}

// Rows "| status | type | `code` … | when |"; a row for what the provider
// sent ("(the provider's)") names no code of ours.
function documentedErrors() {
  return tableRows(section('docs/api.md', '## Error codes'))
    .filter((cells) => /^\d{3}$/.test(cells[0]) && backticked(cells[2]).length > 0)
    .map((cells) => `${backticked(cells[2])[0]} (${cells[0]} ${cells[1].replace(/`/g, '')})`);
}

describe('docs/operations.md "Configuration keys"', () => {
  test('lists every key common/base/conf.c accepts', () => {
    const missing = without(confKeys(), documentedConfKeys());
    assert.deepEqual(missing, [],
      `docs/operations.md "Configuration keys" lacks: ${missing.join(', ')}`);
  });

  test('lists no key common/base/conf.c does not accept', () => {
    const stale = without(documentedConfKeys(), confKeys());
    assert.deepEqual(stale, [],
      `docs/operations.md "Configuration keys" lists unknown keys: ${stale.join(', ')}`);
  });
});

describe('docs/api.md "Error codes"', () => {
  test('has a row for every error common/base/errors.h sends, with its status and type', () => {
    const missing = without(sentErrors(), documentedErrors());
    assert.deepEqual(missing, [],
      `docs/api.md "Error codes" lacks: ${missing.join(', ')}`);
  });

  test('has no row for an error common/base/errors.h does not send', () => {
    const stale = without(documentedErrors(), sentErrors());
    assert.deepEqual(stale, [],
      `docs/api.md "Error codes" has rows errors.h does not define: ${stale.join(', ')}`);
  });
});
