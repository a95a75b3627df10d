// The endpoints beside chat completions, through the official openai SDK
// as a client calls them by default (issue 17): embeddings.create (which
// asks for base64 and decodes it, also when the provider answered numbers
// and the gateway converted them), and the legacy completions.create,
// plain and streamed. fg-sim serves both (tests/sim/embed.c, complete.c).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import { stopAll, shippedModels, simModel, startGateway, startSim } from '../lib/harness.mjs';

let sim;
let gw;
let client;

before(async () => {
  sim = await startSim();
  gw = await startGateway({
    sim,
    models: {
      models: [...shippedModels(),
        simModel('floats-embed', 'sim-dim-16-float-only', { apis: ['embeddings'] })],
    },
  });
  client = new OpenAI({
    baseURL: `${gw.url}/v1`, apiKey: gw.key, maxRetries: 0, timeout: 10000,
  });
});

after(async () => {
  await stopAll(gw, sim);
});

const norm = (v) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

describe('embeddings.create', () => {
  test('returns one decoded unit vector per input, with usage', async () => {
    const r = await client.embeddings.create({ model: 'demo-embed', input: ['hello', 'gateway'] });
    assert.equal(r.data.length, 2);
    assert.equal(r.data[0].embedding.length, 1536);
    assert.ok(Math.abs(norm(r.data[1].embedding) - 1) < 1e-5);
    assert.equal(r.usage.prompt_tokens, 2);
  });

  test('decodes what the gateway converted from a provider that answers numbers', async () => {
    const r = await client.embeddings.create({ model: 'floats-embed', input: 'hello', dimensions: 16 });
    assert.equal(r.data[0].embedding.length, 16);
    assert.ok(Math.abs(norm(r.data[0].embedding) - 1) < 1e-5);
  });

  test('encoding_format float comes back as numbers', async () => {
    const r = await client.embeddings.create({ model: 'demo-embed', input: 'x', encoding_format: 'float' });
    assert.equal(typeof r.data[0].embedding[0], 'number');
  });
});

describe('completions.create (legacy)', () => {
  test('a plain completion has a choice per prompt and usage', async () => {
    const r = await client.completions.create({ model: 'demo-chat', prompt: ['Say', 'hi'], max_tokens: 3 });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.choices.length, 2);
    assert.equal(r.usage.completion_tokens, 6);
  });

  test('a streamed completion yields text chunks, and its usage when asked', async () => {
    const stream = await client.completions.create({
      model: 'demo-chat', prompt: 'Say', max_tokens: 4, stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text.trim().split(/\s+/).length, 4);
    assert.equal(usage?.completion_tokens, 4);
  });
});
