// POST /v1/responses through the official openai SDK (issue 17): the
// gateway translates the request into a chat completion for the provider
// and the reply back (worker/responses_req.c, responses_reply.c), so the
// SDK's responses.create, its stream of typed events, responses.stream()'s
// final response and a function-tool round trip all work against fg-sim.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import { stopAll, startGateway, startSim } from '../lib/harness.mjs';

let sim;
let gw;
let client;

before(async () => {
  sim = await startSim();
  gw = await startGateway({ sim });
  client = new OpenAI({
    baseURL: `${gw.url}/v1`, apiKey: gw.key, maxRetries: 0, timeout: 10000,
  });
});

after(async () => {
  await stopAll(gw, sim);
});

const WEATHER = {
  type: 'function', name: 'get_weather', description: 'Weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('responses.create', () => {
  test('a plain response has output_text, usage and the gateway\'s environment_impact', async () => {
    const r = await client.responses.create({
      model: 'demo-chat', instructions: 'Be brief.', input: 'Hello gateway', max_output_tokens: 16,
    });
    assert.equal(r.object, 'response');
    assert.match(r.output_text, /Hello gateway/);
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
    assert.ok(r.environment_impact.energy_kwh > 0);
  });

  test('a stream yields typed events in order, ending with response.completed', async () => {
    const stream = await client.responses.create({ model: 'demo-chat', input: 'Hello', stream: true });
    const types = [];
    let text = '';
    let last = -1;
    for await (const ev of stream) {
      types.push(ev.type);
      assert.equal(ev.sequence_number, last + 1);
      last = ev.sequence_number;
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress',
      'response.output_item.added', 'response.content_part.added']);
    assert.equal(types[types.length - 1], 'response.completed');
    assert.match(text, /Hello/);
  });

  test('responses.stream() gives the final response', async () => {
    const stream = client.responses.stream({ model: 'demo-chat', input: 'Stream me' });
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    assert.match(final.output_text, /Stream me/);
  });

  test('a function tool round trip: the call, then its output sent back as input items', async () => {
    const first = await client.responses.create({
      model: 'demo-chat', input: 'Weather in Paris?', tools: [WEATHER],
    });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    assert.equal(call.name, 'get_weather');
    const second = await client.responses.create({
      model: 'demo-chat', tools: [WEATHER],
      input: ['Weather in Paris?', ...first.output,
        { type: 'function_call_output', call_id: call.call_id, output: 'sunny 21C' }]
        .map((i) => (typeof i === 'string' ? { role: 'user', content: i } : i)),
    });
    assert.match(second.output_text, /sunny 21C/);
  });

  test('a function tool round trip by previous_response_id: only the output is sent back', async () => {
    const first = await client.responses.create({
      model: 'demo-chat', input: 'Weather in Paris?', tools: [WEATHER],
    });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    const second = await client.responses.create({
      model: 'demo-chat', tools: [WEATHER], previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny 21C' }],
    });
    assert.match(second.output_text, /Weather in Paris\? sunny 21C/);
  });

  test('an unknown previous_response_id is a BadRequestError naming it', async () => {
    await assert.rejects(
      client.responses.create({ model: 'demo-chat', input: 'x', previous_response_id: 'resp_gone' }),
      (err) => err instanceof OpenAI.BadRequestError && err.param === 'previous_response_id'
        && err.message.includes('resp_gone'),
    );
  });

  test('a built-in tool is a BadRequestError naming tools[0].type', async () => {
    await assert.rejects(
      client.responses.create({ model: 'demo-chat', input: 'x', tools: [{ type: 'web_search' }] }),
      (err) => err instanceof OpenAI.BadRequestError && err.param === 'tools[0].type',
    );
  });
});
