// Writes etc/tokenizers/NAME.tiktoken.gz and NAME.json from the rank files
// of the npm package js-tiktoken (installed by tests/compat's package.json),
// for NAME in o200k_base and cl100k_base. Run once after a version bump:
//
//   (cd tests/compat && npm ci) && node tests/lib/tiktoken-convert.mjs
//
// js-tiktoken ships each vocabulary as {pat_str, special_tokens, bpe_ranks}
// where bpe_ranks is lines "! <offset> <b64> <b64> ..." giving the tokens
// ranks offset, offset + 1, ... (its `uncompressed` code). Out comes the
// plain tiktoken format, one "<b64> <rank>" a line sorted by rank, gzipped.
//
// The pattern is js-tiktoken's with one rewrite: \s and \S become
// \p{White_Space} and \P{White_Space}. tiktoken's own \s (Rust's regex)
// is Unicode White_Space; JavaScript's adds U+FEFF and lacks U+0085, and
// PCRE2's under UCP adds U+180E. The property means the same everywhere.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

const here = path.dirname(new URL(import.meta.url).pathname);
const srcDir = path.resolve(here, '../..');
const outDir = path.join(srcDir, 'etc/tokenizers');
const pkgDir = path.join(srcDir, 'tests/compat/node_modules/js-tiktoken');
const require = createRequire(path.join(srcDir, 'tests/compat/package.json'));
const NAMES = ['o200k_base', 'cl100k_base'];

// \s -> \p{White_Space}, \S -> \P{White_Space}; every other escape kept.
function whiteSpaceAsTiktoken(pattern) {
  return pattern.replace(/\\(.)/gsu, (escape, c) => {
    if (c === 's') return '\\p{White_Space}';
    if (c === 'S') return '\\P{White_Space}';
    return escape;
  });
}

// The tokens of bpe_ranks, in rank order; throws unless the ranks are
// 0, 1, 2, ... with no gap and no token twice.
function tokensByRank(bpeRanks) {
  const tokens = [];
  const seen = new Set();
  for (const line of bpeRanks.split('\n').filter(Boolean)) {
    const [bang, offsetStr, ...b64s] = line.split(' ');
    const offset = Number.parseInt(offsetStr, 10);
    if (bang !== '!' || offset !== tokens.length) {
      throw new Error(`bpe_ranks: line "${line.slice(0, 40)}" does not `
        + `continue at rank ${tokens.length}`);
    }
    for (const b64 of b64s) {
      if (Buffer.from(b64, 'base64').toString('base64') !== b64) {
        throw new Error(`bpe_ranks: "${b64}" is not canonical base64`);
      }
      if (seen.has(b64)) throw new Error(`bpe_ranks: "${b64}" twice`);
      seen.add(b64);
      tokens.push(b64);
    }
  }
  return tokens;
}

const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'),
                                           'utf8')).version;
fs.mkdirSync(outDir, { recursive: true });
for (const name of NAMES) {
  const ranks = require(`js-tiktoken/ranks/${name}`);
  const tokens = tokensByRank(ranks.bpe_ranks);
  const text = tokens.map((b64, rank) => `${b64} ${rank}\n`).join('');
  const pattern = whiteSpaceAsTiktoken(ranks.pat_str);

  new RegExp(pattern, 'u');   // throws if the rewrite broke it
  fs.writeFileSync(path.join(outDir, `${name}.tiktoken.gz`),
                   zlib.gzipSync(text, { level: 9 }));
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify({
    name,
    pattern,
    ranks: `${name}.tiktoken.gz`,
    source: `js-tiktoken ${version} (npm), dist/ranks/${name}.js`,
    licence: 'MIT',
  }, null, 2) + '\n');
  console.log(`${name}: ${tokens.length} tokens`);
}
