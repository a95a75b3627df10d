// POST /v1/responses with state (issue 17): the response store keeps each
// response's conversation for its key (common/store/respstore.h), so that
// previous_response_id and item_reference resolve, on the translated path
// and on endpoints that speak the Responses API natively
// (worker/responses_native.c), which are sent the whole conversation and
// never the ids. Bounds: store false, another key, the per-key cap.

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  stopAll, shippedModels, simModel, startGateway, startSim, streamRequest, waitFor, withAuth,
} from '../lib/harness.mjs';

// The typed events of a Responses stream's text: [{ event, data }].
function events(text) {
  return text.split('\n\n').filter((b) => b.trim().length > 0).map((block) => {
    const ev = /^event: (.*)$/m.exec(block);
    const data = /^data: (.*)$/m.exec(block);
    return { event: ev && ev[1], data: data && JSON.parse(data[1]) };
  });
}

// The value of the metric line that starts with @prefix, or 0.
function metric(text, prefix) {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.split(' ').pop()) : 0;
}

// Bytes of every file under @dir (the store's shards).
function storedBytes(dir) {
  let n = 0;
  for (const shard of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    for (const f of fs.readdirSync(path.join(dir, shard))) {
      n += fs.statSync(path.join(dir, shard, f)).size;
    }
  }
  return n;
}

const textOf = (r) => r.output.find((i) => i.type === 'message').content[0].text;

describe('the response store', () => {
  let sim;
  let gw;

  before(async () => {
    sim = await startSim();
    gw = await startGateway({
      sim,
      models: {
        models: [...shippedModels(),
          simModel('native', 'sim-native', { apis: ['responses'] }),
          simModel('native-broken', 'sim-fault-stream-error', { apis: ['responses'] })],
      },
    });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  beforeEach(async () => { await sim.reset(); });

  const post = (body, headers) => gw.post('/v1/responses', body, headers);
  const stats = async () => sim.stats();

  test('previous_response_id continues the stored conversation', async () => {
    const first = await post({ model: 'demo-chat', input: 'first question' });
    assert.equal(first.status, 200, first.text);
    const r1 = first.json();
    const second = await post({ model: 'demo-chat', previous_response_id: r1.id, input: 'second question' });
    assert.equal(second.status, 200, second.text);
    assert.deepEqual((await stats()).last_body.messages, [
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: textOf(r1) },
      { role: 'user', content: 'second question' },
    ]);
  });

  test('a chain of responses carries every earlier turn, without the instructions', async () => {
    const r1 = (await post({ model: 'demo-chat', instructions: 'Be brief.', input: 'one' })).json();
    const r2 = (await post({ model: 'demo-chat', previous_response_id: r1.id, input: 'two' })).json();
    const res = await post({ model: 'demo-chat', previous_response_id: r2.id, input: 'three' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((await stats()).last_body.messages.map((m) => m.content), [
      'one', textOf(r1), 'two', textOf(r2), 'three']);
  });

  test('an item_reference resolves to the stored output item', async () => {
    const r1 = (await post({ model: 'demo-chat', input: 'remember this' })).json();
    const res = await post({
      model: 'demo-chat',
      input: [{ role: 'user', content: 'remember this' }, { type: 'item_reference', id: r1.output[0].id },
        { role: 'user', content: 'and now?' }],
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((await stats()).last_body.messages, [
      { role: 'user', content: 'remember this' },
      { role: 'assistant', content: textOf(r1) },
      { role: 'user', content: 'and now?' },
    ]);
  });

  test('a streamed response is stored once its stream ends', async () => {
    const s = await streamRequest(`${gw.url}/v1/responses`,
      { model: 'demo-chat', input: 'stream me', stream: true });
    const end = await s.done;
    assert.equal(end.error, null);
    const last = events(end.text).pop();
    assert.equal(last.event, 'response.completed');
    const res = await post({ model: 'demo-chat', previous_response_id: last.data.response.id, input: 'more' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((await stats()).last_body.messages.map((m) => m.content), [
      'stream me', textOf(last.data.response), 'more']);
  });

  test('store false keeps nothing: its id is a 400 naming it', async () => {
    const r1 = (await post({ model: 'demo-chat', input: 'forget me', store: false })).json();
    const res = await post({ model: 'demo-chat', previous_response_id: r1.id, input: 'x' });
    assert.equal(res.status, 400);
    assert.equal(res.json().error.param, 'previous_response_id');
    assert.ok(res.json().error.message.includes(r1.id), res.text);
  });

  test('another key cannot use a stored id: the same 400 as an unknown one', async () => {
    const r1 = (await post({ model: 'demo-chat', input: 'mine' })).json();
    const other = await gw.createKey({});
    const res = await post({ model: 'demo-chat', previous_response_id: r1.id, input: 'x' }, withAuth(other.secret));
    assert.equal(res.status, 400);
    assert.equal(res.json().error.param, 'previous_response_id');
    const ref = await post({ model: 'demo-chat', input: [{ type: 'item_reference', id: r1.output[0].id }] },
      withAuth(other.secret));
    assert.equal(ref.status, 400);
    assert.equal(ref.json().error.param, 'input[0].id');
  });

  test('the store counts what it stored in /metrics', async () => {
    const before = metric(await gw.scrape(), 'fluxgate_response_store_stored_total');
    assert.equal((await post({ model: 'demo-chat', input: 'count me' })).status, 200);
    const scrape = await gw.scrape();
    assert.equal(metric(scrape, 'fluxgate_response_store_stored_total'), before + 1);
    assert.ok(metric(scrape, 'fluxgate_response_store_bytes') > 0);
  });

  describe('an endpoint that speaks the Responses API', () => {
    test('is sent the Responses request with the whole conversation, store false and no ids', async () => {
      const r1 = (await post({ model: 'demo-chat', input: 'one' })).json();
      const res = await post({ model: 'native', previous_response_id: r1.id, input: 'two', instructions: 'Be brief.' });
      assert.equal(res.status, 200, res.text);
      const st = await stats();
      assert.equal(st.last_path, '/v1/responses');
      assert.equal(st.last_body.model, 'sim-native');
      assert.equal(st.last_body.store, false);
      assert.equal(st.last_body.previous_response_id, undefined);
      assert.equal(st.last_body.instructions, 'Be brief.');
      assert.deepEqual(st.last_body.input, [
        { type: 'message', role: 'user', content: 'one' }, r1.output[0],
        { type: 'message', role: 'user', content: 'two' }]);
    });

    test('answers with the provider\'s response, its impact added, charged by its usage', async () => {
      const res = await post({ model: 'native', input: 'hello native' });
      assert.equal(res.status, 200, res.text);
      const r = res.json();
      assert.equal(r.object, 'response');
      assert.match(r.id, /^resp_sim/);
      assert.ok(r.environment_impact);
      assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
      assert.ok(Number(res.headers['x-fluxgate-charged-micro']) > 0);
      assert.equal(r.store, true, 'the client\'s store, not the false the provider was sent');
      const kept = (await post({ model: 'native', input: 'x', store: false })).json();
      assert.equal(kept.store, false);
    });

    test('its response is stored by its own id, and a chat endpoint continues it', async () => {
      const r1 = (await post({ model: 'native', input: 'native first' })).json();
      const res = await post({ model: 'demo-chat', previous_response_id: r1.id, input: 'chat second' });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual((await stats()).last_body.messages.map((m) => m.content), [
        'native first', textOf(r1), 'chat second']);
      const ref = await post({ model: 'demo-chat', input: [{ type: 'item_reference', id: r1.output[0].id }, { role: 'user', content: 'x' }] });
      assert.equal(ref.status, 200, ref.text);
    });

    test('a stream is relayed, its response.completed carrying the charge and impact', async () => {
      const s = await streamRequest(`${gw.url}/v1/responses`, { model: 'native', input: 'stream native', stream: true });
      const end = await s.done;
      assert.equal(end.error, null);
      const evs = events(end.text);
      assert.equal(evs[0].event, 'response.created');
      const last = evs[evs.length - 1];
      assert.equal(last.event, 'response.completed');
      assert.ok(last.data.response.environment_impact);
      assert.ok(last.data.response.fluxgate_billing.charged_micro > 0);
      assert.ok(evs.filter((e) => e.data.response).every((e) => e.data.response.store === true));
      const text = evs.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta).join('');
      assert.equal(textOf(last.data.response), text);
      const next = await post({ model: 'demo-chat', previous_response_id: last.data.response.id, input: 'after' });
      assert.equal(next.status, 200, next.text);
    });

    test('a stream that breaks ends with the gateway\'s own error event', async () => {
      const s = await streamRequest(`${gw.url}/v1/responses`, { model: 'native-broken', input: 'break', stream: true });
      const end = await s.done;
      const last = events(end.text).pop();
      assert.equal(last.event, 'error');
      assert.equal(last.data.code, 'INFERENCE_PROVIDER_ERROR');
    });
  });
});

describe('the response store\'s per-key cap', () => {
  let sim;
  let gw;

  before(async () => {
    sim = await startSim();
    gw = await startGateway({
      sim,
      config: { responses: { store_key_bytes: 4096, store_sweep_s: 1 } },
    });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  test('a key never holds more than its cap, and the oldest make room for the newest', async () => {
    const dir = path.join(gw.dataDir, 'responses');
    let last;
    for (let i = 0; i < 12; i++) {
      const res = await gw.post('/v1/responses', { model: 'demo-chat', input: `turn ${i} ${'x'.repeat(200)}` });
      assert.equal(res.status, 200, res.text);
      last = res.json();
      assert.ok(storedBytes(dir) <= 4096, `the store holds ${storedBytes(dir)} bytes`);
    }
    const scrape = await gw.scrape();
    assert.ok(metric(scrape, 'fluxgate_response_store_refused_total')
      + metric(scrape, 'fluxgate_response_store_evicted_total') > 0, 'the cap was reached');
    // The sweep makes room: the newest response is stored again soon.
    await waitFor('a response stored after the sweep', async () => {
      const res = await gw.post('/v1/responses', { model: 'demo-chat', input: 'short' });
      last = res.json();
      const next = await gw.post('/v1/responses', { model: 'demo-chat', previous_response_id: last.id, input: 'y' });
      return next.status === 200;
    }, { tries: 50, every: 200 });
    assert.ok(storedBytes(dir) <= 4096);
  });
});
