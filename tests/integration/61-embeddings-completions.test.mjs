// POST /v1/embeddings and the legacy POST /v1/completions through every
// stage of the pipeline (issue 17): keys, validation, routing, the
// reservation and the charge, 402 and 429, usage records, impact, streams,
// and what the provider is sent (docs/api.md).
//
// fg-sim answers both endpoints (tests/sim/embed.c, complete.c): vectors
// of "dim-<n>" floats, base64 when asked unless the model is "float-only",
// completions of " word" tokens, usage counted with o200k.

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  stopAll, reservationLog, shippedModels, simModel, sseData, startGateway, startSim, streamRequest,
  usageJournal, waitFor, withAuth,
} from '../lib/harness.mjs';
import { textTokens } from '../lib/tokens.mjs';

// One micro-credit a token, prompt and completion alike.
const PER_TOKEN = { prompt_per_mtok_micro: 1000000, completion_per_mtok_micro: 1000000 };
const EMBED = { apis: ['embeddings'], pricing: PER_TOKEN, tokens: { tokenizer: 'o200k_base' } };
const LEGACY = { apis: ['chat', 'completions'], pricing: PER_TOKEN, tokens: { tokenizer: 'o200k_base' } };

// The float32 little-endian numbers base64 @s holds.
function floats(s) {
  const b = Buffer.from(s, 'base64');
  return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(4 * i));
}
const norm = (v) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

describe('embeddings and legacy completions', () => {
  let sim;
  let gw;
  let n = 0;

  before(async () => {
    sim = await startSim();
    gw = await startGateway({
      sim,
      models: {
        models: [...shippedModels(),
          simModel('emb', 'sim-emb-dim-8', { ...EMBED, context_window: 64 }),
          simModel('emb-floats', 'sim-emb-dim-4-float-only', EMBED),
          simModel('legacy', 'sim-legacy', LEGACY)],
      },
    });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  beforeEach(async () => { await sim.reset(); });

  const id = (what) => `ec-${what}-${++n}`;
  const recordOf = (rid) => waitFor(`the usage record of ${rid}`, () => usageJournal(gw.dataDir).lines
    .map((l) => l.record).find((r) => r.client_request_id === rid), { tries: 200, every: 50 });
  const reservationOf = (rid) => waitFor(`the reservation of ${rid}`, () => reservationLog(gw.dataDir)
    .find((r) => r.client_request_id === rid), { tries: 200, every: 50 });
  const lastBody = async () => (await sim.stats()).last_body;

  describe('POST /v1/embeddings', () => {
    test('an array of strings gets one unit vector each, with usage and environment_impact', async () => {
      const res = await gw.post('/v1/embeddings', { model: 'emb', input: ['hello', 'gateway'] });
      assert.equal(res.status, 200, res.text);
      const j = res.json();
      assert.equal(j.object, 'list');
      assert.deepEqual(j.data.map((d) => d.index), [0, 1]);
      for (const d of j.data) {
        assert.equal(d.object, 'embedding');
        assert.equal(d.embedding.length, 8);
        assert.ok(Math.abs(norm(d.embedding) - 1) < 1e-5);
      }
      assert.equal(j.usage.prompt_tokens, 2);
      assert.equal(j.environment_impact.estimated, true, 'the test model has no published size');
      assert.ok(j.environment_impact.energy_kwh > 0, 'the prompt term is all of an embedding\'s energy');
      assert.equal(res.headers['x-fluxgate-provider'], 'demo');
      assert.equal(res.headers['x-fluxgate-charged-micro'], '2');
    });

    test('the provider is sent /embeddings with the catalog\'s upstream id and no gateway field', async () => {
      const res = await gw.post('/v1/embeddings',
        { model: 'emb', input: 'x', dimensions: 8, provider: { order: ['demo'] } });
      assert.equal(res.status, 200, res.text);
      const stats = await sim.stats();
      assert.equal(stats.last_path, '/v1/embeddings');
      assert.deepEqual(stats.last_body, { model: 'sim-emb-dim-8', input: 'x', dimensions: 8 });
    });

    test('base64 asked is passed through when the provider answers it', async () => {
      const res = await gw.post('/v1/embeddings', { model: 'emb', input: 'x', encoding_format: 'base64' });
      assert.equal(res.status, 200, res.text);
      const v = floats(res.json().data[0].embedding);
      assert.equal(v.length, 8);
      assert.ok(Math.abs(norm(v) - 1) < 1e-5);
    });

    test('base64 asked of a provider that answers numbers is converted to OpenAI\'s base64', async () => {
      const asFloat = (await gw.post('/v1/embeddings', { model: 'emb-floats', input: 'same' })).json();
      const res = await gw.post('/v1/embeddings',
        { model: 'emb-floats', input: 'same', encoding_format: 'base64' });
      assert.equal(res.status, 200, res.text);
      assert.equal((await lastBody()).encoding_format, 'base64', 'asked of the provider as asked');
      const got = res.json().data[0].embedding;
      assert.equal(typeof got, 'string');
      assert.deepEqual(floats(got), asFloat.data[0].embedding.map((x) => Math.fround(x)));
    });

    test('token arrays are counted exactly, as the provider counts them', async () => {
      const rid = id('tokens');
      const res = await gw.post('/v1/embeddings', { model: 'emb', input: [[1, 2, 3], [4, 5]] },
        { 'x-request-id': rid });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().usage.prompt_tokens, 5);
      assert.equal((await reservationOf(rid)).charged_micro, 5, 'the reservation is the 5 tokens, no output');
    });

    test('the usage record says api embeddings, the tokens and the charge', async () => {
      const rid = id('record');
      const res = await gw.post('/v1/embeddings', { model: 'emb', input: 'hello gateway' },
        { 'x-request-id': rid });
      assert.equal(res.status, 200, res.text);
      const rec = await recordOf(rid);
      assert.equal(rec.api, 'embeddings');
      assert.equal(rec.prompt_tokens, 2);
      assert.equal(rec.completion_tokens, 0);
      assert.equal(rec.charged_micro, 2);
      assert.equal(rec.status, 200);
    });

    test('an input the window cannot hold is 400 context_length_exceeded naming input, and nothing is sent', async () => {
      const res = await gw.post('/v1/embeddings', { model: 'emb', input: ['short', 'word '.repeat(100)] });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.code, 'context_length_exceeded');
      assert.equal(res.json().error.param, 'input');
      assert.equal((await sim.stats()).requests, 0);
    });

    test('many inputs that each fit are one request, however much they sum to', async () => {
      const res = await gw.post('/v1/embeddings', { model: 'emb', input: Array(40).fill('word '.repeat(20)) });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().data.length, 40);
    });

    test('a malformed input is a 400 naming the entry, and nothing is sent', async () => {
      const res = await gw.post('/v1/embeddings', { model: 'emb', input: ['a', 7] });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.param, 'input[1]');
      assert.equal((await sim.stats()).requests, 0);
    });

    test('a chat model asked for embeddings is 404 no_matching_endpoint saying so', async () => {
      const res = await gw.post('/v1/embeddings', { model: 'demo-chat', input: 'x' });
      assert.equal(res.status, 404, res.text);
      assert.equal(res.json().error.code, 'no_matching_endpoint');
      assert.match(res.json().error.message, /does not serve \/v1\/embeddings/);
    });

    test('an embeddings model asked for a chat completion is 404 no_matching_endpoint', async () => {
      const res = await gw.post('/v1/chat/completions', { model: 'emb', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(res.status, 404, res.text);
      assert.match(res.json().error.message, /does not serve \/v1\/chat\/completions/);
    });

    test('a key that cannot pay is 402 and the provider is never called', async () => {
      const k = await gw.createKey({ energy: { balance_micro: 1 } });
      const res = await gw.post('/v1/embeddings', { model: 'emb', input: 'hello gateway' },
        withAuth(k.secret));
      assert.equal(res.status, 402, res.text);
      assert.equal((await sim.stats()).requests, 0);
    });

    test('a key\'s request limit refuses the next embedding with 429 and retry hints', async () => {
      const k = await gw.createKey({ limits: { requests_per_min: 1 } });
      assert.equal((await gw.post('/v1/embeddings', { model: 'emb', input: 'a' }, withAuth(k.secret))).status, 200);
      const res = await gw.post('/v1/embeddings', { model: 'emb', input: 'a' }, withAuth(k.secret));
      assert.equal(res.status, 429, res.text);
      assert.ok(Number(res.headers['retry-after']) >= 1);
      assert.ok(Number(res.headers['retry-after-ms']) >= 1);
    });
  });

  describe('POST /v1/completions (legacy)', () => {
    test('every prompt gets n choices, and a missing max_tokens is sent as OpenAI\'s 16', async () => {
      const res = await gw.post('/v1/completions', { model: 'legacy', prompt: ['Say', 'hi'], n: 2 });
      assert.equal(res.status, 200, res.text);
      const j = res.json();
      assert.equal(j.object, 'text_completion');
      assert.equal(j.choices.length, 4);
      assert.ok(j.environment_impact);
      const stats = await sim.stats();
      assert.equal(stats.last_path, '/v1/completions');
      assert.equal(stats.last_body.max_tokens, 16);
      assert.equal(stats.last_body.model, 'sim-legacy');
    });

    test('the reservation covers every prompt and each of its best_of candidates', async () => {
      const rid = id('bestof');
      const prompt = ['one two three', 'four'];
      const res = await gw.post('/v1/completions', { model: 'legacy', prompt, n: 1, best_of: 3, max_tokens: 5 },
        { 'x-request-id': rid });
      assert.equal(res.status, 200, res.text);
      // o200k counts the prompts exactly: no chat frame around them.
      const upper = prompt.map((p) => textTokens(p)).reduce((a, b) => a + b, 0);
      assert.equal((await reservationOf(rid)).charged_micro, upper + 5 * 2 * 3);
      const rec = await recordOf(rid);
      assert.equal(rec.api, 'completions');
      assert.equal(rec.charged_micro, rec.prompt_tokens + rec.completion_tokens);
    });

    test('a stream is relayed chunk by chunk and charged, its usage kept from a client that did not ask', async () => {
      const rid = id('stream');
      const s = await streamRequest(`${gw.url}/v1/completions`,
        { model: 'legacy', prompt: 'Say', max_tokens: 4, stream: true }, { headers: { 'x-request-id': rid } });
      assert.equal(s.status, 200);
      const end = await s.done;
      assert.equal(end.error, null);
      const events = sseData(end.text);
      assert.equal(events[events.length - 1], '[DONE]');
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
      assert.ok(chunks.every((c) => c.object === 'text_completion' && !c.usage));
      assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join('').trim().split(/\s+/).length, 4);
      const rec = await recordOf(rid);
      assert.equal(rec.completion_tokens, 4);
      assert.ok(rec.flags.includes('stream'));
    });

    test('best_of above 1 with stream is a 400 naming best_of', async () => {
      const res = await gw.post('/v1/completions', { model: 'legacy', prompt: 'x', best_of: 2, stream: true });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.param, 'best_of');
    });

    test('a model whose endpoints do not serve completions is 404 saying so', async () => {
      const res = await gw.post('/v1/completions', { model: 'demo-reasoner', prompt: 'x' });
      assert.equal(res.status, 404, res.text);
      assert.match(res.json().error.message, /does not serve \/v1\/completions/);
    });

    test('chat\'s transforms are a 400 on a completion', async () => {
      const res = await gw.post('/v1/completions', { model: 'legacy', prompt: 'x', transforms: ['middle-out'] });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.param, 'transforms');
    });
  });
});
