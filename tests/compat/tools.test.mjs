// Tool calls and structured output through fluxgate with the official
// openai SDK: a function-tool round trip, a streamed tool call assembled by
// the SDK's stream helper, JSON mode and json_schema (also through the
// SDK's parse() helper). fg-sim fills a schema deterministically: string
// "test", integer and number 1, boolean true (tests/sim/plan.c).

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

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'integer' },
      },
      required: ['city', 'unit', 'days'],
      additionalProperties: false,
    },
  },
};

const PERSON_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    age: { type: 'integer' },
    member: { type: 'boolean' },
  },
  required: ['name', 'age', 'member'],
  additionalProperties: false,
};

describe('tool calls', () => {
  test('a function tool round trip: tool_calls with JSON arguments, then a tool result, then an answer', async () => {
    const messages = [{ role: 'user', content: 'weather in Paris' }];
    const first = await client.chat.completions.create({
      model: 'demo-chat', messages, tools: [WEATHER_TOOL],
    });
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.equal(typeof call.id, 'string');
    assert.ok(call.id.length > 0);
    assert.equal(call.function.name, 'get_weather');
    const args = JSON.parse(call.function.arguments);
    assert.deepEqual(args, { city: 'test', unit: 'celsius', days: 1 });

    messages.push(choice.message);
    messages.push({
      role: 'tool', tool_call_id: call.id,
      content: JSON.stringify({ temperature: 21, unit: 'celsius' }),
    });
    const second = await client.chat.completions.create({
      model: 'demo-chat', messages, tools: [WEATHER_TOOL], tool_choice: 'none',
    });
    const forwarded = (await sim.stats()).last_body;
    assert.equal(forwarded.messages[1].tool_calls[0].id, call.id,
      'the assistant tool call reached the upstream');
    assert.equal(forwarded.messages[2].role, 'tool');
    assert.equal(forwarded.messages[2].tool_call_id, call.id,
      'the tool result reached the upstream with its tool_call_id');
    const answer = second.choices[0];
    assert.equal(answer.finish_reason, 'stop');
    assert.ok(!answer.message.tool_calls || answer.message.tool_calls.length === 0);
    assert.equal(typeof answer.message.content, 'string');
    assert.match(answer.message.content, /^echo: weather in Paris/);
    assert.ok(second.usage.prompt_tokens > first.usage.prompt_tokens,
      'the tool result counts as prompt');
  });

  test('tool_choice naming a function selects that function', async () => {
    const other = {
      type: 'function',
      function: { name: 'noop', parameters: { type: 'object', properties: {} } },
    };
    const completion = await client.chat.completions.create({
      model: 'demo-chat',
      messages: [{ role: 'user', content: 'weather' }],
      tools: [other, WEATHER_TOOL],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const [call] = completion.choices[0].message.tool_calls;
    assert.equal(call.function.name, 'get_weather');
    assert.equal(JSON.parse(call.function.arguments).city, 'test');
  });

  test('a streamed tool call is assembled by the stream helper into parseable arguments', async () => {
    const stream = client.chat.completions.stream({
      model: 'demo-chat',
      messages: [{ role: 'user', content: 'weather in Paris' }],
      tools: [WEATHER_TOOL],
    });
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments),
      { city: 'test', unit: 'celsius', days: 1 });
  });
});

describe('structured output', () => {
  test('JSON mode (response_format json_object) returns content JSON.parse accepts', async () => {
    const completion = await client.chat.completions.create({
      model: 'demo-chat',
      messages: [
        { role: 'system', content: 'Answer in JSON.' },
        { role: 'user', content: 'say hi' },
      ],
      response_format: { type: 'json_object' },
    });
    const { content } = completion.choices[0].message;
    const parsed = JSON.parse(content);
    assert.equal(typeof parsed, 'object');
    assert.deepEqual(parsed, { echo: 'say hi' });
    assert.equal(completion.choices[0].finish_reason, 'stop');
  });

  test('JSON mode streamed joins into content JSON.parse accepts', async () => {
    const stream = await client.chat.completions.create({
      model: 'demo-chat',
      messages: [{ role: 'user', content: 'say hi' }],
      response_format: { type: 'json_object' },
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.deepEqual(JSON.parse(text), { echo: 'say hi' });
  });

  test('response_format json_schema returns content matching the schema', async () => {
    const completion = await client.chat.completions.create({
      model: 'demo-chat',
      messages: [{ role: 'user', content: 'a person' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'person', strict: true, schema: PERSON_SCHEMA },
      },
    });
    const parsed = JSON.parse(completion.choices[0].message.content);
    assert.deepEqual(parsed, { name: 'test', age: 1, member: true });
  });

  test('chat.completions.parse() with a json_schema gives message.parsed', async () => {
    const completion = await client.chat.completions.parse({
      model: 'demo-chat',
      messages: [{ role: 'user', content: 'a person' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'person', strict: true, schema: PERSON_SCHEMA },
      },
    });
    assert.deepEqual(completion.choices[0].message.parsed,
      { name: 'test', age: 1, member: true });
  });
});
