// Writes the token ids js-tiktoken gives a corpus, in o200k_base and
// cl100k_base, for tests/unit/test_bpe.c to compare with:
//
//   node tests/lib/tiktoken-reference.mjs tests/fixtures/tokens/corpus.json OUT
//
// tests/run.sh runs it before the unit tests (OUT under the build folder,
// named by FG_TOKENS_REFERENCE). js-tiktoken comes from tests/compat's
// node_modules. The corpus is {"texts": [...], "repeated": [[[text,
// times], ...], ...], "random": {seed, texts, max_code_points,
// long_words, long_word_max_bytes}}; OUT is
//
//   {"generator": "...", "texts": [...],
//    "o200k_base": {"ids": [[...], null, ...], "long_piece": [false, true, ...]},
//    "cl100k_base": {...}}
//
// long_piece marks a text with a piece (a match of the pattern) longer
// than FG_BPE_PIECE_MAX bytes, which the C side counts by bounds instead;
// its ids are null.
// Special tokens are text, as the providers count message content:
// encode(text, [], []).

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const here = path.dirname(new URL(import.meta.url).pathname);
const srcDir = path.resolve(here, '../..');
const require = createRequire(path.join(srcDir, 'tests/compat/package.json'));
const { Tiktoken } = require('js-tiktoken/lite');
const NAMES = ['o200k_base', 'cl100k_base'];

const [corpusPath, outPath] = process.argv.slice(2);
if (!corpusPath || !outPath) {
  console.error('usage: tiktoken-reference.mjs CORPUS.json OUT.json');
  process.exit(2);
}

// FG_BPE_PIECE_MAX, read from the header that defines it.
const header = fs.readFileSync(path.join(srcDir, 'common/tokens/bpe.h'), 'utf8');
const pieceMax = Number(/#define FG_BPE_PIECE_MAX (\d+)/.exec(header)[1]);

// mulberry32: small, seeded, the same on every machine.
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Code point ranges long assigned (Node's ICU and PCRE2 may know different
// Unicode versions, so nothing recent), none of U+0085 and U+FEFF.
const SCRIPTS = [
  [0x20, 0x7e], [0x41, 0x5a], [0x61, 0x7a], [0x30, 0x39], [0xa1, 0xff],
  [0x100, 0x17f], [0x370, 0x3ff], [0x400, 0x4ff], [0x5d0, 0x5ea],
  [0x620, 0x64a], [0x660, 0x669], [0x900, 0x97f], [0xe01, 0xe5b],
  [0x3041, 0x3096], [0x30a1, 0x30fa], [0x4e00, 0x9fa5], [0xac00, 0xd7a3],
  [0x1f300, 0x1f5ff], [0x1f600, 0x1f64f], [0x300, 0x36f], [0x0, 0x1f],
  [0x2000, 0x206f],
];
const BITS = [' ', ' ', ' ', '  ', '\t', '\n', '\r\n', '\n\n', '\u00a0',
  '\u3000', "'s", "'LL", "'t", "'re", ', ', '. ', '\u200d', '\ufe0f',
  '<|endoftext|>'];

function randomTexts(spec) {
  const rnd = generator(spec.seed);
  const pick = (n) => Math.floor(rnd() * n);
  const out = [];
  for (let t = 0; t < spec.texts; t++) {
    const scripts = [SCRIPTS[pick(SCRIPTS.length)], SCRIPTS[pick(SCRIPTS.length)]];
    const n = pick(spec.max_code_points + 1);
    let s = '';
    for (let i = 0; i < n; i++) {
      if (rnd() < 0.2) {
        s += BITS[pick(BITS.length)];
        continue;
      }
      const [lo, hi] = scripts[pick(2)];
      s += String.fromCodePoint(lo + pick(hi - lo + 1));
    }
    out.push(s);
  }
  // Long runs of letters: single pieces, some over the maximum.
  for (let t = 0; t < spec.long_words; t++) {
    const n = 64 + pick(spec.long_word_max_bytes - 63);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(97 + pick(26));
    out.push(s);
  }
  return out;
}

const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
const texts = [
  ...corpus.texts,
  ...corpus.repeated.map((parts) => parts.map(([s, n]) => s.repeat(n)).join('')),
  ...randomTexts(corpus.random),
];
texts.forEach((text, i) => {
  if (!text.isWellFormed()) throw new Error(`text ${i}: a lone surrogate`);
  if (/[\u0085\ufeff]/u.test(text)) {
    throw new Error(`text ${i}: U+0085 or U+FEFF, where js-tiktoken is not tiktoken`);
  }
});

const version = JSON.parse(fs.readFileSync(
  path.join(srcDir, 'tests/compat/node_modules/js-tiktoken/package.json'), 'utf8')).version;
const out = { generator: `tests/lib/tiktoken-reference.mjs, js-tiktoken ${version}`, texts };
const utf8 = new TextEncoder();
for (const name of NAMES) {
  const ranks = require(`js-tiktoken/ranks/${name}`);
  const enc = new Tiktoken(ranks);
  const pieces = new RegExp(ranks.pat_str, 'gu');
  const longPiece = texts.map((text) => [...text.matchAll(pieces)]
    .some((m) => utf8.encode(m[0]).length > pieceMax));
  // js-tiktoken's merge is quadratic: a long piece would take seconds.
  out[name] = {
    ids: texts.map((text, i) => (longPiece[i] ? null : enc.encode(text, [], []))),
    long_piece: longPiece,
  };
}
fs.mkdirSync(path.dirname(path.resolve(outPath)), { recursive: true });
fs.writeFileSync(outPath, JSON.stringify(out));
console.log(`tiktoken-reference: ${texts.length} texts, ${NAMES.join(' and ')}, `
  + `js-tiktoken ${version} -> ${outPath}`);
