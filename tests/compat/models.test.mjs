// The model endpoints through the official openai SDK: models.list() and
// models.retrieve(), including an id with slashes (which the SDK sends
// percent-encoded) and an unknown id.

import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import { stopAll, FAULT_MODELS, SRC_DIR, startGateway, startSim } from '../lib/harness.mjs';

const SHIPPED = JSON.parse(fs.readFileSync(path.join(SRC_DIR, 'etc/models.json'), 'utf8'));
const DEMO_IDS = SHIPPED.models.filter((m) => m.provider === 'demo').map((m) => m.id);
// A namespaced id, as OpenRouter and Together use, on the demo provider.
const SLASHED = {
  ...SHIPPED.models.find((m) => m.id === 'demo-chat'),
  id: 'org/team/demo-chat', upstream_id: 'demo-chat',
};

let sim;
let gw;
let client;

before(async () => {
  sim = await startSim();
  gw = await startGateway({
    sim, models: { models: [...SHIPPED.models, ...FAULT_MODELS, SLASHED] },
  });
  client = new OpenAI({
    baseURL: `${gw.url}/v1`, apiKey: gw.key, maxRetries: 0, timeout: 10000,
  });
});

after(async () => {
  await stopAll(gw, sim);
});

describe('models', () => {
  test('models.list() iterates the demo models as model objects', async () => {
    assert.ok(DEMO_IDS.includes('demo-chat'));
    const ids = [];
    for await (const model of client.models.list()) {
      assert.equal(model.object, 'model');
      assert.equal(typeof model.id, 'string');
      assert.equal(typeof model.created, 'number');
      assert.equal(typeof model.owned_by, 'string');
      ids.push(model.id);
    }
    for (const id of DEMO_IDS) assert.ok(ids.includes(id), `${id} missing from ${ids}`);
    assert.ok(ids.includes(SLASHED.id));
    assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  });

  test('models.list() returns a page whose data is the whole list', async () => {
    const page = await client.models.list();
    assert.ok(Array.isArray(page.data));
    assert.ok(page.data.some((m) => m.id === 'demo-chat'));
    assert.equal(page.hasNextPage(), false);
  });

  test("models.retrieve('demo-chat') returns that model", async () => {
    const model = await client.models.retrieve('demo-chat');
    assert.equal(model.id, 'demo-chat');
    assert.equal(model.object, 'model');
    assert.equal(model.owned_by, 'fluxgate');
    assert.equal(model.created, 1735689600);
  });

  test('models.retrieve() finds an id with slashes, which the SDK percent-encodes', async () => {
    const model = await client.models.retrieve(SLASHED.id);
    assert.equal(model.id, SLASHED.id);
    const completion = await client.chat.completions.create({
      model: SLASHED.id, messages: [{ role: 'user', content: 'hi' }],
    });
    assert.match(completion.choices[0].message.content, /^echo: hi/);
  });

  test('models.retrieve() of an unknown id throws NotFoundError with code model_not_found', async () => {
    await assert.rejects(client.models.retrieve('no-such-model'), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}`);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.type, 'invalid_request_error');
      assert.match(err.message, /no-such-model/);
      return true;
    });
  });
});
