// What the gateway improves (issue 15), seen through the official openai
// SDK: JSON mode content a model wrapped in a markdown fence comes back as
// JSON the client can parse, a reasoning model's reasoning_content deltas
// reach the SDK's stream chunks, and a plugin the gateway does not offer is
// the SDK's BadRequestError. The models are fg-sim under tags that make it
// misbehave (tests/sim/fg-sim.c: badjson-<class>, reasoning-<n>).

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
        simModel('fenced-json', 'sim-badjson-fence'),
        simModel('thinking-chat', 'sim-reasoning-8')],
    },
  });
  client = new OpenAI({
    baseURL: `${gw.url}/v1`, apiKey: gw.key, maxRetries: 0, timeout: 10000,
  });
});

after(async () => {
  await stopAll(gw, sim);
});

const USER = [{ role: 'user', content: 'hello gateway' }];

describe('JSON repair', () => {
  test('json_object content a model wrapped in ```json fences comes back as JSON that JSON.parse accepts', async () => {
    const completion = await client.chat.completions.create({
      model: 'fenced-json', messages: USER, response_format: { type: 'json_object' },
    });
    const { content } = completion.choices[0].message;
    assert.deepEqual(JSON.parse(content), { echo: 'hello gateway' });
  });
});

describe('reasoning', () => {
  test('a stream from a reasoning model yields reasoning_content deltas before the content', async () => {
    const stream = await client.chat.completions.create({
      model: 'thinking-chat', messages: USER, max_tokens: 20, stream: true,
    });
    let reasoning = '';
    let content = '';
    let reasoningAfterContent = false;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta ?? {};
      if (delta.reasoning_content) {
        reasoning += delta.reasoning_content;
        if (content.length > 0) reasoningAfterContent = true;
      }
      content += delta.content ?? '';
    }
    assert.equal(reasoning, 'think: hello gateway hello gateway hello gateway hello');
    assert.match(content, /^echo: hello gateway/);
    assert.equal(reasoningAfterContent, false);
  });
});

describe('plugins', () => {
  test("plugins: [{id: 'web'}] raises BadRequestError with code VALIDATION_INVALID_VALUE and param plugins[0].id", async () => {
    await assert.rejects(client.chat.completions.create({
      model: 'demo-chat', messages: USER, plugins: [{ id: 'web' }],
    }), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError,
        `expected BadRequestError, got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 400);
      assert.equal(err.code, 'VALIDATION_INVALID_VALUE');
      assert.equal(err.param, 'plugins[0].id');
      assert.match(err.message, /web/);
      return true;
    });
  });
});
