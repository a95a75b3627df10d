// Chat completions through fluxgate with the official openai SDK as the
// client: plain, streamed (raw chunks and the SDK's stream helper) and with
// vision-style content parts. The upstream is fg-sim, whose replies are a
// pure function of the request ("echo: <user words>..."), see tests/sim/plan.c.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import { stopAll, startGateway, startSim, waitFor } from '../lib/harness.mjs';

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

const USER = [{ role: 'user', content: 'hello gateway' }];

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function deltaText(chunks) {
  return chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
}

describe('chat.completions.create', () => {
  test('returns a completion with non-empty content and token usage', async () => {
    const completion = await client.chat.completions.create({
      model: 'demo-chat', messages: USER,
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(typeof completion.id, 'string');
    assert.equal(completion.choices.length, 1);
    const { message, finish_reason: finishReason } = completion.choices[0];
    assert.equal(message.role, 'assistant');
    assert.equal(typeof message.content, 'string');
    assert.ok(message.content.length > 0, 'content is empty');
    assert.match(message.content, /^echo: hello gateway/);
    assert.equal(finishReason, 'stop');
    assert.ok(completion.usage.prompt_tokens > 0);
    assert.ok(completion.usage.completion_tokens > 0);
    assert.equal(completion.usage.total_tokens,
      completion.usage.prompt_tokens + completion.usage.completion_tokens);
  });

  test('exposes the gateway request id as _request_id and in the response headers', async () => {
    const { data, response } = await client.chat.completions.create({
      model: 'demo-chat', messages: USER,
    }).withResponse();
    const id = response.headers.get('x-request-id');
    assert.ok(id, 'no x-request-id header');
    assert.equal(data._request_id, id);
    assert.match(response.headers.get('content-type'), /^application\/json/);
  });

  test('honours max_tokens with finish_reason length', async () => {
    const completion = await client.chat.completions.create({
      model: 'demo-chat', messages: USER, max_tokens: 3,
    });
    assert.equal(completion.choices[0].finish_reason, 'length');
    assert.equal(completion.usage.completion_tokens, 3);
    assert.equal(completion.choices[0].message.content, 'echo: hello gateway');
  });

  test('returns n choices, each with its own index', async () => {
    const completion = await client.chat.completions.create({
      model: 'demo-chat', messages: USER, n: 2,
    });
    assert.deepEqual(completion.choices.map((c) => c.index), [0, 1]);
    assert.equal(completion.choices[0].message.content, completion.choices[1].message.content);
  });

  test('keeps non-ASCII text intact both ways', async () => {
    const text = 'héllo 世界 🚀 «ok»';
    const completion = await client.chat.completions.create({
      model: 'demo-chat', messages: [{ role: 'user', content: text }], max_tokens: 5,
    });
    assert.equal(completion.choices[0].message.content, `echo: ${text}`);
    const stream = await client.chat.completions.create({
      model: 'demo-chat', messages: [{ role: 'user', content: text }], max_tokens: 5,
      stream: true,
    });
    assert.equal(deltaText(await collect(stream)), `echo: ${text}`);
  });

  test('accepts vision-style content parts (text and image_url) for demo-chat', async () => {
    const completion = await client.chat.completions.create({
      model: 'demo-chat',
      messages: [{
        role: 'user',
        content: [
          { type: 'text', text: 'hi' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
        ],
      }],
    });
    const { content } = completion.choices[0].message;
    assert.equal(typeof content, 'string');
    assert.match(content, /^echo: hi/);
    assert.ok(completion.usage.total_tokens > 0);
  });
});

describe('streaming with stream: true', () => {
  test('yields chunks whose deltas join into the non-streamed text', async () => {
    const body = { model: 'demo-chat', messages: USER };
    const whole = await client.chat.completions.create(body);
    const chunks = await collect(await client.chat.completions.create({ ...body, stream: true }));
    assert.ok(chunks.length > 2, `only ${chunks.length} chunks`);
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, chunks[0].id, 'every chunk has the same id');
    }
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    const text = deltaText(chunks);
    assert.ok(text.length > 0);
    assert.equal(text, whole.choices[0].message.content);
    const finishes = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
    assert.deepEqual(finishes, ['stop']);
  });

  test('is an event stream with the gateway request id in its headers', async () => {
    const { data: stream, response } = await client.chat.completions.create({
      model: 'demo-chat', messages: USER, stream: true,
    }).withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/event-stream/);
    assert.ok(response.headers.get('x-request-id'), 'no x-request-id header');
    assert.ok((await collect(stream)).length > 0);
  });

  test('streams n choices told apart by their index', async () => {
    const chunks = await collect(await client.chat.completions.create({
      model: 'demo-chat', messages: USER, n: 2, max_tokens: 4, stream: true,
    }));
    const texts = ['', ''];
    for (const c of chunks) {
      for (const choice of c.choices) texts[choice.index] += choice.delta?.content ?? '';
    }
    assert.equal(texts[0], 'echo: hello gateway hello');
    assert.equal(texts[1], texts[0]);
  });

  test('carries no usage when include_usage was not asked for', async () => {
    const chunks = await collect(await client.chat.completions.create({
      model: 'demo-chat', messages: USER, stream: true,
    }));
    for (const c of chunks) assert.ok(c.usage == null, `unexpected usage: ${JSON.stringify(c)}`);
  });

  test('with stream_options.include_usage puts usage on the last chunk', async () => {
    const chunks = await collect(await client.chat.completions.create({
      model: 'demo-chat', messages: USER, stream: true,
      stream_options: { include_usage: true },
    }));
    const last = chunks.at(-1);
    assert.ok(last.usage, `last chunk has no usage: ${JSON.stringify(last)}`);
    assert.deepEqual(last.choices, []);
    assert.ok(last.usage.prompt_tokens > 0);
    assert.ok(last.usage.completion_tokens > 0);
    assert.equal(last.usage.total_tokens,
      last.usage.prompt_tokens + last.usage.completion_tokens);
    for (const c of chunks.slice(0, -1)) assert.ok(c.usage == null);
    assert.match(deltaText(chunks), /^echo: hello gateway/);
  });

  test('can be ended early by the client, which cancels the upstream call, and the gateway keeps serving', async () => {
    const cancelledBefore = (await sim.stats()).cancelled;
    const stream = await client.chat.completions.create({
      model: 'fault-slow', messages: USER, stream: true,
    });
    let seen = 0;
    for await (const chunk of stream) {
      seen += 1;
      if (chunk.choices[0]?.delta?.content) break;   // aborts the request
    }
    assert.ok(seen >= 1);
    await waitFor('the upstream call to be cancelled',
      async () => (await sim.stats()).cancelled > cancelledBefore);
    const completion = await client.chat.completions.create({
      model: 'demo-chat', messages: USER,
    });
    assert.match(completion.choices[0].message.content, /^echo:/);
  });
});

describe('client.chat.completions.stream helper', () => {
  test('assembles a finalChatCompletion equal in content to the deltas', async () => {
    assert.equal(typeof client.chat.completions.stream, 'function');
    const stream = client.chat.completions.stream({
      model: 'demo-chat', messages: USER, stream_options: { include_usage: true },
    });
    let deltas = '';
    stream.on('content', (delta) => { deltas += delta; });
    const final = await stream.finalChatCompletion();
    const { message, finish_reason: finishReason } = final.choices[0];
    assert.equal(message.role, 'assistant');
    assert.match(message.content, /^echo: hello gateway/);
    assert.equal(message.content, deltas);
    assert.equal(finishReason, 'stop');
    assert.ok(final.usage.total_tokens > 0);
    assert.equal(await stream.finalContent(), message.content);
  });
});

describe('energy and environment impact', () => {
  test('a completion carries environment_impact, and the SDK parses it as part of the reply', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'demo-chat', messages: USER, max_tokens: 8 }).withResponse();
    const impact = data.environment_impact;
    assert.equal(typeof impact, 'object');
    for (const k of ['energy_kwh', 'carbon_g_co2', 'water_liters', 'renewable_percent', 'pue']) {
      assert.equal(typeof impact[k], 'number', k);
      assert.ok(impact[k] >= 0, k);
    }
    assert.ok(impact.energy_kwh > 0);
    assert.equal(impact.provider_id, 'demo');
    assert.equal(typeof impact.location, 'string');
    assert.ok(Number(response.headers.get('x-fluxgate-charged-micro')) > 0);
    assert.ok(Number(response.headers.get('x-fluxgate-balance-micro')) >= 0);
  });

  test('a stream with include_usage ends with a usage chunk carrying environment_impact and the charge', async () => {
    const chunks = await collect(await client.chat.completions.create({
      model: 'demo-chat', messages: USER, max_tokens: 8, stream: true,
      stream_options: { include_usage: true },
    }));
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.ok(last.usage.completion_tokens > 0);
    assert.ok(last.environment_impact.energy_kwh > 0);
    assert.ok(last.fluxgate_billing.charged_micro > 0);
    assert.equal(last.fluxgate_billing.estimated, false);
  });

  test('a stream without include_usage shows no usage at all, as OpenAI does', async () => {
    const chunks = await collect(await client.chat.completions.create({
      model: 'demo-chat', messages: USER, max_tokens: 8, stream: true,
    }));
    assert.ok(chunks.length > 0);
    assert.ok(chunks.every((c) => !('usage' in c) && c.choices.length > 0));
  });
});
