// The gateway's prompt estimator (common/tokens/tokcount.c; docs/api.md,
// "Metering: a prompt's tokens before the provider counts them") written
// again in JavaScript on the reference tokenizer, the npm js-tiktoken
// package: what the tests expect a request to reserve and to be checked
// against its context window is computed here, independently of the C code.
//
//   promptBounds(body, profile)  { lower, upper }: the upper bound is what
//                                the reservation and the token rate limit
//                                count, the lower bound what the context
//                                check rejects on
//   chatPromptTokens(body)       the exact count under o200k_base (demo-chat,
//                                demo-reasoner); it is also what fg-sim
//                                reports as prompt_tokens by default
//   textTokens(text)             o200k_base tokens of a text, special-token
//                                spellings counted as ordinary text
//   pngDataUrl(w, h)             a real PNG of w x h pixels as a data: URL
//   imageTokens(formula, detail, size)   the tiles formula
//
// The rules, as tokcount.c applies them:
// - a message: 3 (the template's markers) + its role + its content (a
//   string, or its parts: text and refusal parts their text, image parts
//   the image formula, any other part its JSON text in the upper bound
//   only) + its name and 1 more + its tool_call_id + each tool call's
//   function name and arguments and 3; then 3 to prime the reply;
// - tools (and the older functions): the lower bound is the OpenAI
//   cookbook's formula for gpt-4o (7 a function plus "name:description",
//   3 for the properties, 3 plus "key:type:description" a property, -3
//   plus 3 and the item for an enum, 12 at the end; a trailing '.' of the
//   description dropped), the upper bound the larger of that and each
//   definition's JSON text plus 7 a tool and 12; a json_schema response
//   format adds its JSON text to the upper bound;
// - without a tokenizer: every text at most its UTF-8 bytes and at least
//   one token per 256 bytes; 8 template tokens at most a message, for a
//   name and for the reply, none at least; tools their JSON text's bytes
//   plus 8 a tool and 8 at most; images as with a tokenizer;
// - the exact count has a budget (limits.exact_count_bytes, 64 KiB): a
//   text is counted exactly while the bytes counted so far leave room for
//   it, and by the bounds above (its bytes; one token per 128 bytes, the
//   longest o200k_base token) otherwise.
// Not mirrored (no test here sends them): input_audio parts, the patches
// image formula, and pre-tokens longer than 4 KiB (a run of letters with no
// break, which the C counts by its bounds).
//
// js-tiktoken is a dependency of tests/compat (tests/compat/package.json);
// the integration tests load it from there.

import { createRequire } from 'node:module';
import path from 'node:path';
import zlib from 'node:zlib';

import { SRC_DIR } from './harness.mjs';

const require = createRequire(path.join(SRC_DIR, 'tests/compat/package.json'));

// The chat template (the cookbook's num_tokens_from_messages).
const PER_MESSAGE = 3;
const PER_NAME = 1;
const REPLY_PRIMING = 3;
const PER_TOOL_CALL = 3;
// The cookbook's tool formula for gpt-4o and gpt-4o-mini.
const FUNC_INIT = 7;
const PROP_INIT = 3;
const PROP_KEY = 3;
const ENUM_INIT = -3;
const ENUM_ITEM = 3;
const FUNC_END = 12;
// Without a tokenizer: template markers at most a message (tokcount.h
// FG_TOKCOUNT_TEMPLATE_MAX), and the longest token assumed.
const TEMPLATE_MAX = 8;
const NO_TOKENIZER_MAX_TOKEN_BYTES = 256;
// o200k_base's longest token, in bytes (docs/api.md).
const O200K_MAX_TOKEN_BYTES = 128;

// limits.exact_count_bytes, its default.
export const EXACT_COUNT_BYTES = 64 * 1024;

// gpt-4o's image formula, the one demo-chat, demo-reasoner and every model
// without a `tokens` entry use.
export const GPT4O_TILES = Object.freeze({ formula: 'tiles', base: 85, per_tile: 170 });

// How a model's prompts are counted, as its catalog entry's `tokens` says.
export const O200K = Object.freeze({ tokenizer: 'o200k_base', image: GPT4O_TILES });
export const NO_TOKENIZER = Object.freeze({ tokenizer: null, image: GPT4O_TILES });

// The profile of catalog model @m (an etc/models.json entry). Counting
// under a profile this file does not mirror (cl100k_base, the patches
// formula) throws.
export function profileOf(m) {
  const t = m.tokens || {};
  return { tokenizer: t.tokenizer || null, image: { ...GPT4O_TILES, ...(t.image || {}) } };
}

let o200k = null;
function encoding() {
  if (o200k === null) {
    const { getEncoding } = require('js-tiktoken');
    o200k = getEncoding('o200k_base');
  }
  return o200k;
}

// o200k_base tokens of @text: special tokens spelled in it are ordinary
// text (allowed and disallowed special sets both empty), as providers
// count message content.
export function textTokens(text) {
  return encoding().encode(text, [], []).length;
}

// --- images -----------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

const pngCache = new Map();

// A complete, valid PNG of @width x @height pixels (1-bit greyscale, all
// black; a few hundred bytes even at 2048 x 2048) as a data: URL.
export function pngDataUrl(width, height) {
  const id = `${width}x${height}`;
  if (!pngCache.has(id)) {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr[8] = 1;   // bit depth
    ihdr[9] = 0;   // greyscale
    const row = 1 + Math.ceil(width / 8);   // filter byte + pixels
    const raw = Buffer.alloc(row * height);
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      pngChunk('IHDR', ihdr),
      pngChunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
      pngChunk('IEND', Buffer.alloc(0)),
    ]);
    pngCache.set(id, `data:image/png;base64,${png.toString('base64')}`);
  }
  return pngCache.get(id);
}

// The width and height a PNG data: URL states in its IHDR chunk, or null
// for any other URL.
export function pngSize(url) {
  const m = /^data:image\/png;base64,(.*)$/s.exec(url);
  if (!m) return null;
  const head = Buffer.from(m[1].slice(0, 32), 'base64');
  if (head.length < 24 || head.toString('latin1', 12, 16) !== 'IHDR') return null;
  return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
}

// The tiles formula (OpenAI's vision guide, "Calculating costs"): the
// image is scaled down to fit in 2048 x 2048, then down so that its
// shortest side is 768 (exactly, no rounding to whole pixels); it costs
// base + per_tile x its 512-px tiles.
// "low" is base alone. @size null (a remote URL): the formula's range,
// from one tile to its most, 8 (768 x 2048). "auto" lies between "low"
// and "high", as the model chooses.
export function imageTokens(formula, detail, size) {
  if (formula.formula !== 'tiles') throw new Error(`the ${formula.formula} image formula is not mirrored`);
  const { base, per_tile: perTile } = formula;
  if (detail === 'low') return { lower: base, upper: base };
  let high;
  let least;
  if (size) {
    let { width: w, height: h } = size;
    if (w > 2048 || h > 2048) {
      const s = 2048 / Math.max(w, h);
      w *= s;
      h *= s;
    }
    if (Math.min(w, h) > 768) {
      const s = 768 / Math.min(w, h);
      w *= s;
      h *= s;
    }
    high = base + perTile * Math.ceil(w / 512) * Math.ceil(h / 512);
    least = high;
  } else {
    high = base + perTile * 8;
    least = base + perTile;
  }
  return detail === 'high' ? { lower: least, upper: high } : { lower: base, upper: high };
}

// --- the walk -----------------------------------------------------------

const isString = (v) => typeof v === 'string';
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const utf8 = (s) => Buffer.byteLength(s, 'utf8');

// One request's count in progress: every figure tokcount.c keeps.
class Count {
  constructor(profile, budget) {
    if (profile.tokenizer && profile.tokenizer !== 'o200k_base') {
      throw new Error(`tests/lib/tokens.mjs mirrors o200k_base only, not ${profile.tokenizer}`);
    }
    this.p = profile;
    this.budget = budget;
    this.maxToken = profile.tokenizer ? O200K_MAX_TOKEN_BYTES : NO_TOKENIZER_MAX_TOKEN_BYTES;
    this.lower = 0;
    this.upper = 0;
  }

  // @s's bounds: exact while the budget lasts, else bytes and bytes/128.
  text(s) {
    const len = utf8(s);
    if (len === 0) return { lower: 0, upper: 0 };
    if (!this.p.tokenizer || len > this.budget) {
      return { lower: Math.ceil(len / this.maxToken), upper: len };
    }
    this.budget -= len;
    const n = textTokens(s);
    return { lower: n, upper: n };
  }

  add(b) {
    this.lower += b.lower;
    this.upper += b.upper;
  }

  addText(v) {
    if (isString(v)) this.add(this.text(v));
  }

  // The template's markers: exact with a tokenizer, at most 8 without.
  markers(n) {
    if (this.p.tokenizer) this.add({ lower: n, upper: n });
    else this.upper += TEMPLATE_MAX;
  }

  part(part) {
    if (part.type === 'text') {
      this.addText(part.text);
    } else if (part.type === 'refusal') {
      this.addText(part.refusal);
    } else if (part.type === 'image_url') {
      const url = part.image_url?.url;
      const detail = ['low', 'high'].includes(part.image_url?.detail) ? part.image_url.detail : 'auto';
      this.add(imageTokens(this.p.image, detail, isString(url) ? pngSize(url) : null));
    } else if (part.type === 'input_audio') {
      throw new Error('tests/lib/tokens.mjs does not mirror input_audio');
    } else {
      // Unknown part: its JSON text, in the upper bound only.
      this.upper += this.text(JSON.stringify(part)).upper;
    }
  }

  call(fn) {
    this.addText(fn?.name);
    this.addText(fn?.arguments);
    this.markers(PER_TOOL_CALL);
  }

  message(msg) {
    this.markers(PER_MESSAGE);
    this.addText(msg.role);
    if (isString(msg.name)) {
      this.addText(msg.name);
      this.markers(PER_NAME);
    }
    this.addText(msg.tool_call_id);
    if (isString(msg.content)) this.addText(msg.content);
    else if (Array.isArray(msg.content)) for (const part of msg.content) this.part(part);
    if (Array.isArray(msg.tool_calls)) for (const c of msg.tool_calls) this.call(c.function);
    if (isObject(msg.function_call)) this.call(msg.function_call);
  }

  // The cookbook's "a:b[:c]" line: values that are not strings read as
  // "", the last one loses a trailing '.'.
  line(values) {
    const parts = values.map((v) => (isString(v) ? v : ''));
    const last = values.length - 1;
    if (isString(values[last]) && parts[last].endsWith('.')) parts[last] = parts[last].slice(0, -1);
    return this.text(parts.join(':'));
  }

  // One function by the cookbook.
  cookbook(fn) {
    let n = FUNC_INIT;
    let words = this.line([fn.name, fn.description]).lower;
    const props = fn.parameters?.properties;
    if (isObject(props) && Object.keys(props).length > 0) {
      n += PROP_INIT;
      for (const [key, prop] of Object.entries(props)) {
        n += PROP_KEY;
        if (Array.isArray(prop?.enum)) {
          n += ENUM_INIT;
          for (const item of prop.enum) {
            n += ENUM_ITEM;
            if (isString(item)) words += this.text(item).lower;
          }
        }
        words += this.line([key, prop?.type, prop?.description]).lower;
      }
    }
    return n + words;
  }

  tools(list, isLegacy) {
    if (!Array.isArray(list) || list.length === 0) return;
    let raw = 0;
    let markers = 0;
    let cookbook = 0;
    for (const tool of list) {
      const fn = isLegacy ? tool : tool?.function;
      markers += FUNC_INIT;
      raw += this.text(JSON.stringify(tool)).upper;
      if (this.p.tokenizer && isObject(fn)) cookbook += this.cookbook(fn);
    }
    cookbook += FUNC_END;
    markers += FUNC_END;
    if (!this.p.tokenizer) {
      this.upper += raw + markers;
      return;
    }
    this.lower += cookbook;
    this.upper += Math.max(cookbook, raw + markers);
  }
}

// The bounds of @body's prompt under @profile: { lower, upper }. @body is
// the request as the test sends it (gw.post sends JSON.stringify(body)).
export function promptBounds(body, profile = O200K, { budget = EXACT_COUNT_BYTES } = {}) {
  const c = new Count(profile, budget);
  for (const msg of body.messages) c.message(msg);
  c.markers(REPLY_PRIMING);
  c.tools(body.tools, false);
  c.tools(body.functions, true);
  if (isObject(body.response_format?.json_schema)) {
    c.upper += c.text(JSON.stringify(body.response_format.json_schema)).upper;
  }
  return { lower: c.lower, upper: c.upper };
}

// The exact o200k_base count of @body's prompt (throws if the rules above
// only bound it: an image of unknown size, text past the budget, which
// { budget: Infinity } lifts, as a provider counts).
export function chatPromptTokens(body, { budget = EXACT_COUNT_BYTES } = {}) {
  const b = promptBounds(body, O200K, { budget });
  if (b.lower !== b.upper) {
    throw new Error(`the prompt is bounded (${b.lower}..${b.upper}), not counted exactly`);
  }
  return b.upper;
}
