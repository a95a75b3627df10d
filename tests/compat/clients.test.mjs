// Popular clients beside the official openai SDK (issue 17), pinned in
// package.json at versions that run on Node 18: the Vercel AI SDK (`ai` 5
// with `@ai-sdk/openai` 2.0, whose default provider calls /v1/responses)
// and LangChain JS (`@langchain/openai` 0.6: ChatOpenAI over chat
// completions and, with useResponsesApi, over /v1/responses;
// OpenAIEmbeddings). Each is pointed at the gateway as a user would:
// `${gw.url}/v1` and a key. fg-sim answers chat (echoing the user's
// words, a tool call unless the last message is a tool result, a
// json_schema instance honouring its keywords) and embeddings (1536
// dimensions for demo-embed); the gateway serves /v1/responses by
// translating to chat.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { createOpenAI } from '@ai-sdk/openai';
import { embed, embedMany, generateObject, generateText, stepCountIs, streamText, tool } from 'ai';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { z } from 'zod';

import { stopAll, startGateway, startSim } from '../lib/harness.mjs';

let sim;
let gw;
let openai;

before(async () => {
  sim = await startSim();
  gw = await startGateway({ sim });
  openai = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.key });
});

after(async () => {
  await stopAll(gw, sim);
});

// The AI SDK retries twice by default; a gateway error should fail the
// test at once, with the gateway's message.
const AI = { maxRetries: 0 };

describe('Vercel AI SDK, createOpenAI()(model): /v1/responses', () => {
  test('generateText returns the text and usage', async () => {
    const r = await generateText({ ...AI, model: openai('demo-chat'), prompt: 'Hello gateway' });
    assert.match(r.text, /^echo: Hello gateway/);
    assert.equal(r.finishReason, 'stop');
    assert.ok(r.usage.inputTokens > 0, JSON.stringify(r.usage));
    assert.equal(r.usage.outputTokens, 16);
    assert.equal(r.usage.totalTokens, r.usage.inputTokens + r.usage.outputTokens);
  });

  test('streamText streams text deltas and finishes with usage', async () => {
    const r = streamText({
      ...AI, model: openai('demo-chat'), prompt: 'Stream me please',
      onError: ({ error }) => { throw error; },
    });
    const deltas = [];
    for await (const d of r.textStream) deltas.push(d);
    assert.ok(deltas.length > 1, JSON.stringify(deltas));
    assert.equal(deltas.join(''), await r.text);
    assert.match(await r.text, /^echo: Stream me please/);
    assert.equal(await r.finishReason, 'stop');
    const usage = await r.usage;
    assert.ok(usage.inputTokens > 0, JSON.stringify(usage));
    assert.equal(usage.outputTokens, 16);
  });

  test('generateObject returns an object matching the zod schema', async () => {
    const schema = z.object({
      city: z.string(),
      days: z.number().int(),
      sunny: z.boolean(),
      tags: z.array(z.string()),
    });
    const r = await generateObject({ ...AI, model: openai('demo-chat'), schema, prompt: 'Plan a trip' });
    assert.deepEqual(schema.parse(r.object), r.object);
    assert.ok(r.usage.outputTokens > 0);
  });

  // A weather tool loop of up to three steps; @calls gets each city.
  const weatherLoop = (calls, extra = {}) => generateText({
    ...AI,
    model: openai('demo-chat'),
    prompt: 'Weather in Paris?',
    tools: {
      get_weather: tool({
        description: 'Weather in a city',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => {
          calls.push(city);
          return 'sunny 21C';
        },
      }),
    },
    stopWhen: stepCountIs(3),
    ...extra,
  });

  test('a multi-step tool loop ends with a text answer that uses the tool result', async () => {
    const calls = [];
    // store left out: true to the SDK, which sends its earlier output
    // back as {type: "item_reference", id}, resolved by the gateway's
    // response store (docs/api.md, "Stored state").
    const r = await weatherLoop(calls);
    assert.equal(calls.length, 1);
    assert.equal(r.steps.length, 2);
    assert.equal(r.steps[0].finishReason, 'tool-calls');
    assert.equal(r.finishReason, 'stop');
    assert.match(r.text, /Weather in Paris\? sunny 21C/);
    assert.ok(r.totalUsage.inputTokens > r.usage.inputTokens);
  });

  test('the same loop with store false sends its output back whole', async () => {
    const calls = [];
    const r = await weatherLoop(calls, { providerOptions: { openai: { store: false } } });
    assert.equal(calls.length, 1);
    assert.equal(r.finishReason, 'stop');
    assert.match(r.text, /Weather in Paris\? sunny 21C/);
  });
});

describe('Vercel AI SDK, other models', () => {
  test('openai.chat(model) generateText over chat completions', async () => {
    const r = await generateText({ ...AI, model: openai.chat('demo-chat'), prompt: 'Hello chat' });
    assert.match(r.text, /^echo: Hello chat/);
    assert.equal(r.usage.outputTokens, 16);
  });

  test('embed returns one vector of the model\'s size', async () => {
    const r = await embed({ ...AI, model: openai.textEmbeddingModel('demo-embed'), value: 'hello' });
    assert.equal(r.embedding.length, 1536);
    assert.ok(r.usage.tokens > 0);
  });

  test('embedMany returns a vector per value', async () => {
    const r = await embedMany({
      ...AI, model: openai.textEmbeddingModel('demo-embed'), values: ['hello', 'gateway', 'three'],
    });
    assert.equal(r.embeddings.length, 3);
    for (const e of r.embeddings) assert.equal(e.length, 1536);
    assert.notDeepEqual(r.embeddings[0], r.embeddings[1]);
  });
});

function chatModel(over = {}) {
  return new ChatOpenAI({
    model: 'demo-chat', apiKey: gw.key, maxRetries: 0, configuration: { baseURL: `${gw.url}/v1` },
    ...over,
  });
}

async function streamed(model, prompt) {
  const chunks = [];
  for await (const c of await model.stream(prompt)) chunks.push(c);
  return chunks;
}

const chunkText = (chunks) => chunks.map((c) => (typeof c.content === 'string' ? c.content
  : c.content.map((p) => p.text ?? '').join(''))).join('');

describe('LangChain ChatOpenAI', () => {
  test('invoke over chat completions', async () => {
    const m = await chatModel().invoke('Hello langchain');
    assert.match(m.content, /^echo: Hello langchain/);
    assert.equal(m.usage_metadata.output_tokens, 16);
  });

  test('stream over chat completions', async () => {
    const chunks = await streamed(chatModel(), 'Stream langchain');
    assert.ok(chunks.length > 1);
    assert.match(chunkText(chunks), /^echo: Stream langchain/);
  });

  test('invoke with useResponsesApi', async () => {
    const m = await chatModel({ useResponsesApi: true }).invoke('Hello responses');
    assert.match(m.text, /^echo: Hello responses/);
    assert.equal(m.usage_metadata.output_tokens, 16);
  });

  test('stream with useResponsesApi', async () => {
    const chunks = await streamed(chatModel({ useResponsesApi: true }), 'Stream responses');
    assert.ok(chunks.length > 1);
    assert.match(chunkText(chunks), /^echo: Stream responses/);
  });
});

describe('LangChain OpenAIEmbeddings', () => {
  const embeddings = () => new OpenAIEmbeddings({
    model: 'demo-embed', apiKey: gw.key, maxRetries: 0, configuration: { baseURL: `${gw.url}/v1` },
  });

  test('embedQuery returns one vector of the model\'s size', async () => {
    const v = await embeddings().embedQuery('hello');
    assert.equal(v.length, 1536);
  });

  test('embedDocuments returns a vector per document', async () => {
    const vs = await embeddings().embedDocuments(['hello', 'gateway', 'three']);
    assert.equal(vs.length, 3);
    for (const v of vs) assert.equal(v.length, 1536);
  });
});
