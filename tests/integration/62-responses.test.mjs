// POST /v1/responses through every stage of the pipeline (issue 17): the
// request translated into the chat completion the provider is sent
// (worker/responses_req.c), the reply and the stream translated back
// (worker/responses_reply.c), billing, usage records, impact, and the
// refusals of what the gateway does not offer (docs/api.md).

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  stopAll, shippedModels, simModel, startGateway, startSim, streamRequest, usageJournal, waitFor, withAuth,
} from '../lib/harness.mjs';

// The typed events of a Responses stream's text: [{ event, data }].
function events(text) {
  return text.split('\n\n').filter((b) => b.trim().length > 0).map((block) => {
    const ev = /^event: (.*)$/m.exec(block);
    const data = /^data: (.*)$/m.exec(block);
    return { event: ev && ev[1], data: data && JSON.parse(data[1]) };
  });
}

describe('POST /v1/responses', () => {
  let sim;
  let gw;
  let n = 0;

  before(async () => {
    sim = await startSim();
    gw = await startGateway({
      sim,
      models: {
        models: [...shippedModels(),
          simModel('resp-500', 'sim-fault-500'),
          simModel('resp-reason', 'sim-reasoning-4', { reasoning_effort: ['low', 'high'] })],
      },
    });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  beforeEach(async () => { await sim.reset(); });

  const rid = (what) => `rs-${what}-${++n}`;
  const post = (body, headers) => gw.post('/v1/responses', body, headers);
  const lastBody = async () => (await sim.stats()).last_body;
  const recordOf = (id) => waitFor(`the usage record of ${id}`, () => usageJournal(gw.dataDir).lines
    .map((l) => l.record).find((r) => r.client_request_id === id), { tries: 200, every: 50 });

  test('a string input is answered with a completed response object', async () => {
    const res = await post({ model: 'demo-chat', input: 'hello gateway' });
    assert.equal(res.status, 200, res.text);
    const r = res.json();
    assert.match(r.id, /^resp_/);
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.equal(r.output[0].type, 'message');
    assert.equal(r.output[0].content[0].type, 'output_text');
    assert.match(r.output[0].content[0].text, /hello gateway/);
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
    assert.ok(r.environment_impact);
    assert.equal(res.headers['x-fluxgate-provider'], 'demo');
  });

  test('the provider is sent the chat completion the request means', async () => {
    const res = await post({
      model: 'demo-chat', instructions: 'Be brief.', max_output_tokens: 32, temperature: 0.5,
      text: { format: { type: 'json_schema', name: 'o', schema: { type: 'object', properties: { a: { type: 'string' } } } } },
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
      metadata: { team: 'x' }, store: false,
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(await lastBody(), {
      model: 'demo-chat',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }],
      max_completion_tokens: 32, temperature: 0.5,
      response_format: { type: 'json_schema', json_schema: { name: 'o', schema: { type: 'object', properties: { a: { type: 'string' } } } } },
    });
    assert.deepEqual(res.json().metadata, { team: 'x' }, 'metadata is echoed, not sent');
  });

  test('reasoning.effort goes as reasoning_effort, and the reasoning comes back as a reasoning item', async () => {
    const res = await post({ model: 'resp-reason', input: 'think', reasoning: { effort: 'high' }, max_output_tokens: 64 });
    assert.equal(res.status, 200, res.text);
    assert.equal((await lastBody()).reasoning_effort, 'high');
    const r = res.json();
    assert.equal(r.output[0].type, 'reasoning');
    assert.ok(r.usage.output_tokens_details.reasoning_tokens > 0);
  });

  test('max_output_tokens reached makes the response incomplete, saying why', async () => {
    const res = await post({ model: 'demo-chat', input: 'hello gateway', max_output_tokens: 16 });
    const r = res.json();
    assert.equal(r.status, 'incomplete');
    assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
  });

  test('the usage record says api responses, and the charge is the tokens', async () => {
    const id = rid('record');
    const res = await post({ model: 'demo-chat', input: 'hello gateway' }, { 'x-request-id': id });
    assert.equal(res.status, 200, res.text);
    const rec = await recordOf(id);
    assert.equal(rec.api, 'responses');
    assert.equal(rec.prompt_tokens, res.json().usage.input_tokens);
    assert.equal(rec.completion_tokens, res.json().usage.output_tokens);
    assert.equal(String(rec.charged_micro), res.headers['x-fluxgate-charged-micro']);
  });

  test('a stream is the typed events in order, numbered, ending with the whole response, its charge and impact', async () => {
    const id = rid('stream');
    const s = await streamRequest(`${gw.url}/v1/responses`,
      { model: 'demo-chat', input: 'hello gateway', stream: true }, { headers: { 'x-request-id': id } });
    assert.equal(s.status, 200);
    const end = await s.done;
    assert.equal(end.error, null);
    const evs = events(end.text);
    assert.deepEqual(evs.map((e) => e.data.sequence_number), evs.map((_, i) => i));
    assert.ok(evs.every((e) => e.event === e.data.type));
    assert.deepEqual(evs.slice(0, 4).map((e) => e.event), ['response.created', 'response.in_progress',
      'response.output_item.added', 'response.content_part.added']);
    const last = evs[evs.length - 1];
    assert.equal(last.event, 'response.completed');
    const text = evs.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta).join('');
    assert.equal(last.data.response.output[0].content[0].text, text);
    assert.ok(last.data.response.environment_impact);
    assert.ok(last.data.response.fluxgate_billing.charged_micro > 0);
    assert.ok(!end.text.includes('[DONE]'), 'a Responses stream has no [DONE]');
    const rec = await recordOf(id);
    assert.equal(rec.api, 'responses');
    assert.equal(rec.charged_micro, last.data.response.fluxgate_billing.charged_micro);
  });

  test('a function call comes back as a function_call item, and its output goes back as a tool message', async () => {
    const tools = [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } }];
    const first = (await post({ model: 'demo-chat', input: 'find it', tools })).json();
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    const res = await post({
      model: 'demo-chat', tools,
      input: [{ role: 'user', content: 'find it' }, call,
        { type: 'function_call_output', call_id: call.call_id, output: 'found' }],
    });
    assert.equal(res.status, 200, res.text);
    const sent = await lastBody();
    assert.equal(sent.messages[1].tool_calls[0].id, call.call_id);
    assert.deepEqual(sent.messages[2], { role: 'tool', content: 'found', tool_call_id: call.call_id });
    assert.match(res.json().output[0].content[0].text, /found/);
  });

  for (const [what, body, param, code] of [
    ['a built-in tool', { tools: [{ type: 'web_search' }] }, 'tools[0].type', 'unsupported_parameter'],
    ['background', { background: true }, 'background', 'unsupported_parameter'],
    ['an item_reference nothing stored', { input: [{ type: 'item_reference', id: 'msg_nothing_0' }] }, 'input[0].id', null],
    ['a previous_response_id nothing stored', { previous_response_id: 'resp_nothing' }, 'previous_response_id', null],
    ['an unknown parameter', { messages: [] }, 'messages', 'unsupported_parameter'],
  ]) {
    test(`${what} is a 400 naming ${param}, and nothing is sent`, async () => {
      const res = await post({ model: 'demo-chat', input: 'x', ...body });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.param, param);
      if (code) assert.equal(res.json().error.code, code);
      assert.equal((await sim.stats()).requests, 0);
    });
  }

  test('a key that cannot pay is 402 and nothing is sent', async () => {
    const k = await gw.createKey({ energy: { balance_micro: 1 } });
    const res = await post({ model: 'demo-chat', input: 'hello' }, withAuth(k.secret));
    assert.equal(res.status, 402, res.text);
    assert.equal((await sim.stats()).requests, 0);
  });

  test('a provider that fails is the gateway\'s OpenAI-format error, not the provider\'s words', async () => {
    const res = await post({ model: 'resp-500', input: 'hello' });
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json().error.code, 'INFERENCE_PROVIDER_ERROR');
  });
});
