// fg-sim itself (tests/sim/fg-sim.c, call.c, plan.c): the failure plan one
// instance plays (POST /sim/plan), the fault modes routing tests lean on,
// and the model tags that make it write malformed JSON (badjson-<class>) or
// reason first (reasoning-<n>); the replies a strict OpenAI validator
// accepts (refusal, logprobs), json_schema instances, tool turns that let
// agent loops end, and the embeddings, legacy completions and Responses
// endpoints.
// Talks to the simulator directly, no
// gateway: when a routing test says "provider a failed with a 401", or a
// repair test says "the model fenced its JSON", this file is the proof of
// what the provider sent.

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { rawHttp, request, simBadJson, startSim, streamRequest } from '../lib/harness.mjs';

// What a badjson-<class> tag makes of {"echo":"hello sim"}.
const VALUE = '{"echo":"hello sim"}';
const BADJSON = simBadJson(VALUE);
const JSON_MODE = { response_format: { type: 'json_object' }, max_tokens: 200 };
const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } },
  },
};

// The parsed chunks of a finished stream, [DONE] left out.
const chunksOf = (events) => events.map((e) => e.data).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
// The non-empty values of delta[@member] across @chunks, in order.
const deltas = (chunks, member) => chunks.map((c) => c.choices[0]?.delta?.[member])
  .filter((v) => typeof v === 'string' && v.length > 0);

const BODY = { model: 'sim-small', messages: [{ role: 'user', content: 'hello sim' }], max_tokens: 3 };

describe('fg-sim', () => {
  let sim;

  before(async () => { sim = await startSim(); });
  after(async () => { await sim?.stop(); });
  beforeEach(async () => { await sim.reset(); });

  const chat = (over = {}, headers = {}) => request('POST', `${sim.url}/v1/chat/completions`,
    JSON.stringify({ ...BODY, ...over }), { 'content-type': 'application/json', ...headers });
  const stream = (over = {}, headers = {}) => streamRequest(`${sim.url}/v1/chat/completions`,
    { ...BODY, stream: true, ...over }, { headers });
  // The raw bytes of one chat request, for replies node's client rejects.
  const raw = (headers = {}) => {
    const body = JSON.stringify(BODY);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    return rawHttp(sim.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
      + `${extra}\r\n${body}`);
  };

  describe('the failure plan', () => {
    test('takes the listed faults one per chat request, in order, then serves normally again', async () => {
      await sim.plan({ faults: ['500', '429', '401'] });
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await chat()).status);
      assert.deepEqual(statuses, [500, 429, 401, 200, 200]);
    });

    test('"none" in the list is a normal reply', async () => {
      await sim.plan({ faults: ['none', '500'] });
      assert.equal((await chat()).status, 200);
      assert.equal((await chat()).status, 500);
    });

    test('"always" fails every request that way until the next plan', async () => {
      await sim.plan({ always: '500' });
      for (let i = 0; i < 3; i++) assert.equal((await chat()).status, 500);
      await sim.plan({ faults: [] });
      assert.equal((await chat()).status, 200);
    });

    test('"always" follows the list once it is used up', async () => {
      await sim.plan({ faults: ['429'], always: '500' });
      assert.equal((await chat()).status, 429);
      assert.equal((await chat()).status, 500);
      assert.equal((await chat()).status, 500);
    });

    test('{"faults": []} clears it', async () => {
      await sim.plan({ faults: ['500', '500'] });
      await sim.plan({ faults: [] });
      assert.equal((await chat()).status, 200);
    });

    test('POST /sim/reset clears it', async () => {
      await sim.plan({ always: '500', ttft_ms: 2000 });
      await sim.reset();
      const t0 = Date.now();
      assert.equal((await chat()).status, 200);
      assert.ok(Date.now() - t0 < 1500, 'the plan\'s speed went with it');
      assert.deepEqual((await sim.stats()).plan.faults, []);
    });

    test('wins over the request\'s own fault', async () => {
      await sim.plan({ faults: ['500'] });
      assert.equal((await chat({}, { 'x-sim-fault': '400' })).status, 500);
      assert.equal((await chat({}, { 'x-sim-fault': '400' })).status, 400);
    });

    test('an invalid chat request takes nothing from it', async () => {
      await sim.plan({ faults: ['500'] });
      assert.equal((await chat({ messages: 'not a list' })).status, 400);
      assert.equal((await chat()).status, 500);
    });

    test('stats show what is left of it', async () => {
      await sim.plan({ faults: ['500', 'close'], always: '429', retry_after_s: 3 });
      await chat();
      const { plan } = await sim.stats();
      assert.deepEqual(plan.faults, ['close']);
      assert.equal(plan.always, '429');
      assert.equal(plan.retry_after_s, 3);
    });

    test('a bad plan is a 400 and changes nothing', async () => {
      await sim.plan({ faults: ['500', '500'] });
      for (const bad of ['not json', '[]', '{"faults": ["nope"]}', '{"faults": "500"}',
        '{"always": 500}', '{"retry_after_s": -1}', '{"ttft_ms": "fast"}', '{"foo": 1}']) {
        const r = await request('POST', `${sim.url}/sim/plan`, bad);
        assert.equal(r.status, 400, bad);
        assert.ok(r.json().error.message, bad);
      }
      assert.deepEqual((await sim.stats()).plan.faults, ['500', '500']);
    });

    test('retry_after_s is the 429\'s Retry-After (1 without a plan)', async () => {
      assert.equal((await chat({}, { 'x-sim-fault': '429' })).headers['retry-after'], '1');
      await sim.plan({ faults: ['429'], retry_after_s: 2 });
      const r = await chat();
      assert.equal(r.status, 429);
      assert.equal(r.headers['retry-after'], '2');
    });

    test('ttft_ms sets this instance\'s time to first token', async () => {
      await sim.plan({ ttft_ms: 400 });
      const t0 = Date.now();
      assert.equal((await chat()).status, 200);
      assert.ok(Date.now() - t0 >= 350, `answered after ${Date.now() - t0} ms`);
      assert.equal((await sim.stats()).plan.ttft_ms, 400);
    });

    test('token_delay_ms sets this instance\'s delay between tokens', async () => {
      await sim.plan({ token_delay_ms: 150 });
      const s = await stream({ max_tokens: 4 });
      const end = await s.done;
      assert.equal(end.error, null);
      assert.ok(end.ms >= 400, `4 tokens streamed in ${end.ms} ms`);
    });
  });

  describe('GET /sim/stats', () => {
    test('counts the chat requests received, and nothing else', async () => {
      await sim.plan({ faults: ['500'] });
      await chat();
      await chat({ messages: 'not a list' });
      await chat();
      await request('GET', `${sim.url}/v1/models`);
      await sim.stats();
      assert.equal(await sim.requests(), 3);
    });
  });

  describe('fault modes', () => {
    for (const [mode, status, code] of [['401', 401, 'invalid_api_key'],
      ['403', 403, 'unsupported_country_region_territory'], ['404', 404, 'model_not_found']]) {
      test(`${mode}: an OpenAI-format error with status ${status}`, async () => {
        const r = await chat({}, { 'x-sim-fault': mode });
        assert.equal(r.status, status);
        assert.match(r.headers['content-type'], /^application\/json/);
        const { error } = r.json();
        assert.equal(error.code, code);
        assert.equal(typeof error.message, 'string');
        assert.equal(typeof error.type, 'string');
      });
    }

    test('empty: a 200 application/json with an empty body', async () => {
      const r = await chat({}, { 'x-sim-fault': 'empty' });
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'], /^application\/json/);
      assert.equal(r.text, '');
    });

    test('empty-stream: a stream\'s head, then the connection closes with no event', async () => {
      const s = await stream({}, { 'x-sim-fault': 'empty-stream' });
      assert.equal(s.status, 200);
      assert.match(s.headers['content-type'], /^text\/event-stream/);
      const end = await s.done;
      assert.ok(end.error, 'the body never ended cleanly');
      assert.equal(s.events.length, 0);
      assert.equal((await sim.stats()).aborted, 1);
    });

    test('empty-stream on a non-stream request is the empty fault', async () => {
      const r = await chat({}, { 'x-sim-fault': 'empty-stream' });
      assert.equal(r.status, 200);
      assert.equal(r.text, '');
    });

    test('stream-error: one content event, then the connection closes without [DONE]', async () => {
      const s = await stream({ max_tokens: 5 }, { 'x-sim-fault': 'stream-error' });
      assert.equal(s.status, 200);
      const end = await s.done;
      assert.ok(end.error, 'the body never ended cleanly');
      const chunks = s.events.map((e) => e.data);
      assert.ok(!chunks.includes('[DONE]'));
      assert.equal(chunks.length, 2, 'the role event and one content event');
      assert.ok(JSON.parse(chunks[1]).choices[0].delta.content.length > 0);
    });

    test('stream-error on a non-stream request: half the promised body, then the connection closes', async () => {
      const r = await raw({ 'x-sim-fault': 'stream-error' });
      assert.ok(r.closed);
      const [head, body] = r.text.split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 200/);
      const promised = Number(head.match(/content-length: (\d+)/i)[1]);
      assert.ok(body.length > 0 && body.length < promised, `${body.length} of ${promised} bytes`);
    });

    test('close: the whole request is read, then the connection closes with no response', async () => {
      const r = await raw({ 'x-sim-fault': 'close' });
      assert.ok(r.closed);
      assert.equal(r.text, '');
      const st = await sim.stats();
      assert.equal(st.requests, 1, 'the request was received');
      assert.equal(st.last_body.model, BODY.model);
      assert.equal(st.aborted, 1);
    });

    test('close honours the time to first token before closing', async () => {
      await sim.plan({ faults: ['close'], ttft_ms: 300 });
      const r = await raw();
      assert.ok(r.closed);
      assert.ok(r.ms >= 250, `closed after ${r.ms} ms`);
    });

    test('a model-name tag names the longest mode: fault-empty-stream-ttft-5 is empty-stream', async () => {
      const s = await stream({ model: 'sim-fault-empty-stream-ttft-5' });
      await s.done;
      assert.equal(s.events.length, 0);
      const r = await chat({ model: 'sim-fault-empty-ttft-5' });
      assert.equal(r.status, 200);
      assert.equal(r.text, '');
      assert.equal((await chat({ model: 'sim-fault-emptyx' })).status, 400, 'an unknown mode is a 400');
    });

    test('the new modes are taken from the plan too', async () => {
      await sim.plan({ faults: ['403', 'empty', 'stream-error'] });
      assert.equal((await chat()).status, 403);
      assert.equal((await chat()).text, '');
      const s = await stream({ max_tokens: 5 });
      assert.ok((await s.done).error);
    });
  });

  describe('badjson-<class>: malformed JSON as models write it', () => {
    for (const [cls, text] of Object.entries(BADJSON)) {
      test(`${cls}: the JSON-mode content is malformed that way, and usage counts the tokens sent`, async () => {
        const r = await chat({ model: `sim-badjson-${cls}`, ...JSON_MODE });
        assert.equal(r.status, 200);
        const { choices, usage } = r.json();
        assert.equal(choices[0].message.content, text);
        assert.equal(choices[0].finish_reason, 'stop');
        assert.throws(() => JSON.parse(text), SyntaxError, 'not valid JSON');
        const s = await stream({ model: `sim-badjson-${cls}`, ...JSON_MODE, stream_options: { include_usage: true } });
        assert.equal((await s.done).error, null);
        const chunks = chunksOf(s.events);
        const parts = deltas(chunks, 'content');
        assert.equal(parts.join(''), text, 'the deltas concatenate to the non-stream content');
        assert.ok(parts.length > 1, `${parts.length} deltas`);
        assert.equal(usage.completion_tokens, parts.length, 'one token a delta');
        assert.equal(chunks.at(-1).usage.completion_tokens, parts.length);
      });
    }

    test('truncated cuts no text of the last string: closing it gives back the value', async () => {
      const r = await chat({ model: 'sim-badjson-truncated', ...JSON_MODE });
      assert.deepEqual(JSON.parse(`${r.json().choices[0].message.content}"}`), JSON.parse(VALUE));
    });

    test('single: an escaped double quote loses its backslash, a single quote gains one', async () => {
      const r = await chat({ model: 'sim-badjson-single', ...JSON_MODE,
        messages: [{ role: 'user', content: 'say "hi" it\'s' }] });
      assert.equal(r.json().choices[0].message.content, "{'echo':'say \"hi\" it\\'s'}");
    });

    test('json_schema content is made malformed too', async () => {
      const r = await chat({ model: 'sim-badjson-comma', max_tokens: 200, response_format: {
        type: 'json_schema',
        json_schema: { name: 'p', schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } } } },
      } });
      assert.equal(r.json().choices[0].message.content, '{"name":"test","age":1,}');
    });

    test('a tool call\'s arguments are made malformed without any response_format', async () => {
      const r = await chat({ model: 'sim-badjson-unquoted', max_tokens: 200, tools: [WEATHER] });
      const { message, finish_reason: finish } = r.json().choices[0];
      assert.equal(finish, 'tool_calls');
      assert.equal(message.tool_calls[0].function.arguments, '{city:"test",days:1}');
      const s = await stream({ model: 'sim-badjson-unquoted', max_tokens: 200, tools: [WEATHER] });
      await s.done;
      const args = chunksOf(s.events).map((c) => c.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '');
      assert.equal(args.join(''), '{city:"test",days:1}');
    });

    test('a plain text answer stays as it is', async () => {
      const r = await chat({ model: 'sim-badjson-fence' });
      assert.equal(r.json().choices[0].message.content, 'echo: hello sim');
    });

    test('a stream splits the fence and escapes across deltas', async () => {
      const s = await stream({ model: 'sim-badjson-fence', ...JSON_MODE,
        messages: [{ role: 'user', content: 'say "hi"' }] });
      await s.done;
      const parts = deltas(chunksOf(s.events), 'content');
      assert.ok(!parts.some((p) => p.includes('```json')), JSON.stringify(parts));
      assert.ok(parts.some((p) => /`$/.test(p) && !p.endsWith('```')), 'a delta ends inside a fence');
      assert.ok(parts.some((p) => p.endsWith('\\')), 'a delta ends inside an escape');
      assert.equal(parts.join(''), BADJSON.fence.replace(VALUE, '{"echo":"say \\"hi\\""}'));
    });

    test('an unknown class is a 400', async () => {
      const r = await chat({ model: 'sim-badjson-nope', ...JSON_MODE });
      assert.equal(r.status, 400);
      assert.match(r.json().error.message, /badjson/);
    });
  });

  describe('reasoning tags', () => {
    test('reasoning-<n>: message.reasoning_content holds n tokens, counted in completion_tokens', async () => {
      const r = await chat({ model: 'sim-reasoning-4', max_tokens: 10 });
      assert.equal(r.status, 200);
      const { choices, usage } = r.json();
      assert.equal(choices[0].message.reasoning_content, 'think: hello sim hello');
      assert.equal(choices[0].message.content, 'echo: hello sim hello sim hello');
      assert.equal(usage.completion_tokens, 10);
      assert.equal(usage.completion_tokens_details.reasoning_tokens, 4);
      assert.equal(usage.total_tokens, usage.prompt_tokens + 10);
    });

    test('a bare reasoning tag reasons 16 tokens', async () => {
      const r = await chat({ model: 'sim-reasoning', max_tokens: undefined });
      const { choices, usage } = r.json();
      assert.equal(choices[0].message.reasoning_content.split(' ').length, 16);
      assert.equal(usage.completion_tokens_details.reasoning_tokens, 16);
      assert.equal(usage.completion_tokens, 32, '16 of reasoning and 16 of answer');
    });

    test('reasoning-field names the member "reasoning" instead', async () => {
      const r = await chat({ model: 'sim-reasoning-field-3', max_tokens: 10 });
      const { message } = r.json().choices[0];
      assert.equal(message.reasoning, 'think: hello sim');
      assert.equal('reasoning_content' in message, false);
      const s = await stream({ model: 'sim-reasoning-field-3', max_tokens: 10 });
      await s.done;
      const chunks = chunksOf(s.events);
      assert.equal(deltas(chunks, 'reasoning').join(''), 'think: hello sim');
      assert.deepEqual(deltas(chunks, 'reasoning_content'), []);
    });

    test('a stream sends reasoning_content deltas after the role event and before the first content delta', async () => {
      const s = await stream({ model: 'sim-reasoning-4', max_tokens: 10, stream_options: { include_usage: true } });
      assert.equal((await s.done).error, null);
      const chunks = chunksOf(s.events);
      const kinds = chunks.filter((c) => c.choices.length > 0).map((c) => {
        const d = c.choices[0].delta;
        return d.role ? 'role' : d.reasoning_content !== undefined ? 'reasoning' : d.content !== undefined ? 'content' : 'end';
      });
      assert.deepEqual(kinds, ['role', ...Array(4).fill('reasoning'), ...Array(6).fill('content'), 'end']);
      assert.equal(deltas(chunks, 'reasoning_content').join(''), 'think: hello sim hello');
      assert.equal(deltas(chunks, 'content').join(''), 'echo: hello sim hello sim hello');
      const { usage } = chunks.at(-1);
      assert.equal(usage.completion_tokens, 10);
      assert.equal(usage.completion_tokens_details.reasoning_tokens, 4);
    });

    test('a timed stream sends the same reasoning deltas', async () => {
      const s = await stream({ model: 'sim-reasoning-4-delay-1', max_tokens: 10 });
      assert.equal((await s.done).error, null);
      assert.equal(deltas(chunksOf(s.events), 'reasoning_content').join(''), 'think: hello sim hello');
    });

    test('the token limit bounds reasoning and answer together, leaving the answer one token', async () => {
      const r = await chat({ model: 'sim-reasoning-16', max_tokens: 3 });
      const { choices, usage } = r.json();
      assert.equal(choices[0].message.reasoning_content, 'think: hello');
      assert.equal(choices[0].message.content, 'echo:');
      assert.equal(choices[0].finish_reason, 'length');
      assert.equal(usage.completion_tokens, 3);
      assert.equal(usage.completion_tokens_details.reasoning_tokens, 2);
    });

    test('reasoning comes with tool calls and malformed JSON alike', async () => {
      const r = await chat({ model: 'sim-badjson-comma-reasoning-2', max_tokens: 200, tools: [WEATHER] });
      const { message } = r.json().choices[0];
      assert.equal(message.reasoning_content, 'think: hello');
      assert.equal(message.tool_calls[0].function.arguments, '{"city":"test","days":1,}');
    });

    test('without the tag there is no reasoning member and reasoning_tokens is 0', async () => {
      const r = await chat();
      const { choices, usage } = r.json();
      assert.equal('reasoning_content' in choices[0].message, false);
      assert.equal('reasoning' in choices[0].message, false);
      assert.equal(usage.completion_tokens_details.reasoning_tokens, 0);
    });

    for (const model of ['sim-reasoning-0', 'sim-reasoning-1000001', 'sim-reasoningx', 'sim-reasoning-7x']) {
      test(`a bad reasoning tag is a 400: ${model}`, async () => {
        const r = await chat({ model });
        assert.equal(r.status, 400);
        assert.match(r.json().error.message, /reasoning/);
      });
    }
  });

  describe('replies a strict validator accepts', () => {
    test('a message carries refusal: null and logprobs is null when not asked', async () => {
      const { choices } = (await chat()).json();
      assert.equal(choices[0].message.refusal, null);
      assert.ok('refusal' in choices[0].message);
      assert.equal(choices[0].logprobs, null);
    });

    test("a stream's first delta carries role, empty content and refusal: null", async () => {
      const s = await stream();
      await s.done;
      assert.deepEqual(chunksOf(s.events)[0].choices[0].delta, { role: 'assistant', content: '', refusal: null });
    });

    test('logprobs: true gives one entry per content token, consistent with the content', async () => {
      const { choices } = (await chat({ logprobs: true, top_logprobs: 3 })).json();
      const { content, refusal } = choices[0].logprobs;
      assert.equal(refusal, null);
      assert.equal(content.map((e) => e.token).join(''), choices[0].message.content);
      assert.equal(content.length, 3, 'max_tokens 3: three tokens');
      for (const e of content) {
        assert.ok(e.logprob <= 0);
        assert.deepEqual(e.bytes, [...Buffer.from(e.token)]);
        assert.equal(e.top_logprobs.length, 3);
        assert.equal(e.top_logprobs[0].token, e.token, 'the chosen token is the likeliest');
        assert.equal(e.top_logprobs[0].logprob, e.logprob);
        const lps = e.top_logprobs.map((t) => t.logprob);
        assert.deepEqual(lps, [...lps].sort((a, b) => b - a));
        assert.equal(new Set(e.top_logprobs.map((t) => t.token)).size, 3);
      }
    });

    test('logprobs are deterministic and top_logprobs defaults to none', async () => {
      const a = (await chat({ logprobs: true })).json().choices[0].logprobs;
      const b = (await chat({ logprobs: true })).json().choices[0].logprobs;
      assert.deepEqual(a, b);
      assert.deepEqual(a.content[0].top_logprobs, []);
    });

    test("a stream's content chunks carry their token's logprobs, equal to the reply's", async () => {
      const whole = (await chat({ logprobs: true, top_logprobs: 2 })).json().choices[0].logprobs.content;
      const s = await stream({ logprobs: true, top_logprobs: 2 });
      await s.done;
      const chunks = chunksOf(s.events);
      const streamed = chunks.filter((c) => c.choices[0]?.delta?.content).flatMap((c) => c.choices[0].logprobs.content);
      assert.deepEqual(streamed, whole);
      assert.equal(chunks[0].choices[0].logprobs, null, 'the role chunk has none');
      assert.equal(chunks.at(-1).choices[0].logprobs, null, 'the finish chunk has none');
    });

    test('top_logprobs without logprobs, or above 20, is a 400', async () => {
      assert.equal((await chat({ top_logprobs: 2 })).status, 400);
      assert.equal((await chat({ logprobs: true, top_logprobs: 21 })).status, 400);
      assert.equal((await chat({ logprobs: 'yes' })).status, 400);
    });

    test("a tool call's logprobs has content null", async () => {
      const { choices } = (await chat({ tools: [WEATHER], logprobs: true, max_tokens: 100 })).json();
      assert.deepEqual(choices[0].logprobs, { content: null, refusal: null });
      assert.equal(choices[0].message.refusal, null);
    });
  });

  describe('json_schema instances', () => {
    const schemaReply = async (schema) => {
      const r = await chat({ max_tokens: 4000, response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } });
      assert.equal(r.status, 200);
      return JSON.parse(r.json().choices[0].message.content);
    };

    test('required properties only, when the schema lists them', async () => {
      const v = await schemaReply({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } }, required: ['b'] });
      assert.deepEqual(v, { b: 1 });
    });

    test('enum and const give their first value', async () => {
      const v = await schemaReply({ type: 'object', properties: { e: { enum: ['red', 'blue'] }, c: { const: 42 } }, required: ['e', 'c'] });
      assert.deepEqual(v, { e: 'red', c: 42 });
    });

    test('minItems and maxItems size an array; uniqueItems varies its items', async () => {
      const v = await schemaReply({
        type: 'object', required: ['a', 'b'],
        properties: {
          a: { type: 'array', items: { type: 'string' }, minItems: 3, uniqueItems: true },
          b: { type: 'array', items: { type: 'integer' }, minItems: 5, maxItems: 2 },
        },
      });
      assert.deepEqual(v.a, ['test', 'test1', 'test2']);
      assert.equal(v.b.length, 2);
    });

    test('minLength and maxLength bound a string', async () => {
      const v = await schemaReply({
        type: 'object', required: ['long', 'short'],
        properties: { long: { type: 'string', minLength: 10 }, short: { type: 'string', maxLength: 2 } },
      });
      assert.equal(v.long.length, 10);
      assert.equal(v.short, 'te');
    });

    test('minimum, maximum and their exclusive forms bound a number', async () => {
      const v = await schemaReply({
        type: 'object', required: ['i', 'n', 'm'],
        properties: {
          i: { type: 'integer', exclusiveMinimum: 5, maximum: 9 },
          n: { type: 'number', minimum: 0, exclusiveMaximum: 0.5 },
          m: { type: 'integer', minimum: 10, multipleOf: 4 },
        },
      });
      assert.equal(v.i, 6);
      assert.ok(v.n >= 0 && v.n < 0.5);
      assert.equal(v.m, 12);
    });

    test('a simple pattern is matched; an unsupported one falls back to a string', async () => {
      const v = await schemaReply({
        type: 'object', required: ['code', 'id', 'odd'],
        properties: {
          code: { type: 'string', pattern: '^[A-Z]{2}-\\d{3}(x|y)?$' },
          id: { type: 'string', pattern: '^[a-f0-9]+$', minLength: 6 },
          odd: { type: 'string', pattern: '^(?=a)\\w+$' },
        },
      });
      assert.match(v.code, /^[A-Z]{2}-\d{3}(x|y)?$/);
      assert.match(v.id, /^[a-f0-9]+$/);
      assert.ok(v.id.length >= 6);
      assert.equal(v.odd, 'test');
    });

    test('formats give a value of their shape', async () => {
      const v = await schemaReply({
        type: 'object', required: ['d', 'e', 'u'],
        properties: { d: { type: 'string', format: 'date-time' }, e: { type: 'string', format: 'email' }, u: { type: 'string', format: 'uuid' } },
      });
      assert.ok(!Number.isNaN(Date.parse(v.d)));
      assert.match(v.e, /^[^@]+@[^@]+$/);
      assert.match(v.u, /^[0-9a-f-]{36}$/);
    });

    test('nested objects and arrays, type lists, anyOf and oneOf (first branch)', async () => {
      const v = await schemaReply({
        type: 'object', required: ['o', 't', 'any', 'one'],
        properties: {
          o: { type: 'object', properties: { list: { type: 'array', minItems: 1, items: { type: 'object', properties: { k: { type: 'boolean' } }, required: ['k'] } } }, required: ['list'] },
          t: { type: ['null', 'integer'] },
          any: { anyOf: [{ type: 'number', minimum: 3 }, { type: 'string' }] },
          one: { oneOf: [{ type: 'null' }, { type: 'string' }] },
        },
      });
      assert.deepEqual(v, { o: { list: [{ k: true }] }, t: 1, any: 3, one: null });
    });

    test('$ref to #/$defs and #/definitions resolves; a recursive schema ends', async () => {
      const v = await schemaReply({
        type: 'object', required: ['a', 'b', 'tree'],
        properties: { a: { $ref: '#/$defs/color' }, b: { $ref: '#/definitions/n' }, tree: { $ref: '#/$defs/node' } },
        $defs: {
          color: { type: 'string', enum: ['green'] },
          node: { type: 'object', properties: { child: { $ref: '#/$defs/node' } }, required: ['child'] },
        },
        definitions: { n: { type: 'integer', minimum: 7 } },
      });
      assert.equal(v.a, 'green');
      assert.equal(v.b, 7);
      let depth = 0;
      for (let n = v.tree; n.child; n = n.child) depth++;
      assert.ok(depth > 1 && depth <= 16, `recursion cut at a bounded depth (${depth})`);
    });

    test('a hostile schema (huge minItems, deep nesting, huge minLength) gets a bounded reply', async () => {
      let deep = { type: 'string' };
      for (let i = 0; i < 500; i++) deep = { type: 'object', properties: { x: deep }, required: ['x'] };
      const r = await chat({
        max_tokens: 100000,
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {
          type: 'object', required: ['many', 'deep', 'long'],
          properties: {
            many: { type: 'array', minItems: 1e9, items: { type: 'array', minItems: 1e9, items: { type: 'string', minLength: 1e9 } } },
            deep, long: { type: 'string', minLength: 1e9 },
          },
        } } },
      });
      assert.equal(r.status, 200);
      const v = JSON.parse(r.json().choices[0].message.content);
      assert.ok(v.many.length >= 1 && v.many.length <= 64);
      assert.equal(v.many[0].length, 64, 'minItems capped at 64');
      assert.equal(v.many[0][0].length, 4096, 'minLength capped at 4096');
      assert.ok(r.text.length < 1 << 20, `reply of ${r.text.length} bytes`);
      assert.equal(v.long, 'test', 'past 256 KiB of strings a required member is a placeholder');
    });

    test('tool-call arguments satisfy the parameters the same way', async () => {
      const tool = { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { n: { type: 'integer', minimum: 5 }, opt: { type: 'string' } }, required: ['n'] } } };
      const { message } = (await chat({ tools: [tool], max_tokens: 100 })).json().choices[0];
      assert.deepEqual(JSON.parse(message.tool_calls[0].function.arguments), { n: 5 });
    });
  });

  describe('tool turns', () => {
    const afterTool = [
      { role: 'user', content: 'weather in Paris' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny 21C' },
    ];

    test('a tool is called when the last message is not a tool result', async () => {
      const { choices } = (await chat({ tools: [WEATHER], max_tokens: 100 })).json();
      assert.equal(choices[0].finish_reason, 'tool_calls');
    });

    test('after a tool result the answer is text that mentions the result', async () => {
      const { choices } = (await chat({ messages: afterTool, tools: [WEATHER], max_tokens: undefined })).json();
      assert.equal(choices[0].finish_reason, 'stop');
      assert.equal(choices[0].message.tool_calls, undefined);
      assert.equal(choices[0].message.content.split(' ').slice(0, 6).join(' '), 'echo: weather in Paris sunny 21C');
    });

    test('a streamed answer after a tool result is text too', async () => {
      const s = await stream({ messages: afterTool, tools: [WEATHER], max_tokens: 6 });
      await s.done;
      const chunks = chunksOf(s.events);
      assert.equal(deltas(chunks, 'content').join(''), 'echo: weather in Paris sunny 21C');
      assert.equal(chunks.some((c) => c.choices[0]?.delta?.tool_calls), false);
    });

    test('tool_choice "required" or a named function forces a call even after a tool result', async () => {
      for (const tool_choice of ['required', { type: 'function', function: { name: 'get_weather' } }]) {
        const { choices } = (await chat({ messages: afterTool, tools: [WEATHER], tool_choice, max_tokens: 100 })).json();
        assert.equal(choices[0].finish_reason, 'tool_calls', JSON.stringify(tool_choice));
        assert.equal(choices[0].message.tool_calls[0].function.name, 'get_weather');
      }
    });

    test('tool_choice "none" forbids a call', async () => {
      const { choices } = (await chat({ tools: [WEATHER], tool_choice: 'none' })).json();
      assert.equal(choices[0].message.tool_calls, undefined);
      assert.match(choices[0].message.content, /^echo:/);
    });
  });

  describe('POST /v1/embeddings', () => {
    const embed = (body, headers = {}) => request('POST', `${sim.url}/v1/embeddings`,
      JSON.stringify({ model: 'text-embedding-3-small', ...body }), { 'content-type': 'application/json', ...headers });
    const norm = (v) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

    test('a string input gives one unit vector of 1536 floats', async () => {
      const r = await embed({ input: 'hello sim' });
      assert.equal(r.status, 200);
      const body = r.json();
      assert.equal(body.object, 'list');
      assert.equal(body.model, 'text-embedding-3-small');
      assert.equal(body.data.length, 1);
      assert.equal(body.data[0].object, 'embedding');
      assert.equal(body.data[0].index, 0);
      assert.equal(body.data[0].embedding.length, 1536);
      assert.ok(Math.abs(norm(body.data[0].embedding) - 1) < 1e-5);
    });

    test('vectors are deterministic per input and differ between inputs', async () => {
      const a = (await embed({ input: ['alpha', 'beta'] })).json().data;
      const b = (await embed({ input: 'alpha' })).json().data;
      assert.deepEqual(a[0].embedding, b[0].embedding);
      assert.notDeepEqual(a[0].embedding, a[1].embedding);
      assert.deepEqual(a.map((d) => d.index), [0, 1]);
    });

    test('dimensions shortens the vector, still of unit length; a dim-<n> tag sets the model size', async () => {
      const v = (await embed({ input: 'x', dimensions: 256 })).json().data[0].embedding;
      assert.equal(v.length, 256);
      assert.ok(Math.abs(norm(v) - 1) < 1e-5);
      assert.equal((await embed({ model: 'emb-dim-8', input: 'x' })).json().data[0].embedding.length, 8);
      assert.equal((await embed({ model: 'emb-dim-8', input: 'x', dimensions: 9 })).status, 400);
    });

    test('encoding_format base64 is the little-endian float32 array of the float reply', async () => {
      const f = (await embed({ input: 'hello', dimensions: 16 })).json().data[0].embedding;
      const b = (await embed({ input: 'hello', dimensions: 16, encoding_format: 'base64' })).json().data[0].embedding;
      const buf = Buffer.from(b, 'base64');
      assert.equal(buf.length, 64);
      const floats = Array.from({ length: 16 }, (_, i) => buf.readFloatLE(4 * i));
      assert.deepEqual(floats, f.map((x) => Math.fround(x)));
    });

    test('token arrays are accepted and counted by their length; strings by the tokenizer', async () => {
      const t = (await embed({ input: [[1, 2, 3], [4, 5]] })).json();
      assert.equal(t.data.length, 2);
      assert.deepEqual(t.usage, { prompt_tokens: 5, total_tokens: 5 });
      assert.equal((await embed({ input: [1, 2, 3] })).json().usage.prompt_tokens, 3, 'one array of ids is one input');
      assert.deepEqual((await embed({ input: 'hello world' })).json().usage, { prompt_tokens: 2, total_tokens: 2 });
    });

    for (const [name, body] of [
      ['an empty string', { input: '' }], ['an empty array', { input: [] }], ['mixed kinds', { input: ['a', 1] }],
      ['a number', { input: 5 }], ['an empty token array', { input: [[]] }], ['a negative id', { input: [[-1]] }],
      ['no input', {}], ['a bad encoding_format', { input: 'a', encoding_format: 'hex' }], ['dimensions 0', { input: 'a', dimensions: 0 }],
    ]) {
      test(`${name} is a 400`, async () => {
        const r = await embed(body);
        assert.equal(r.status, 400);
        assert.equal(r.json().error.type, 'invalid_request_error');
      });
    }

    test('fault tags and the TTFT apply, and stats name the path', async () => {
      assert.equal((await embed({ model: 'e-fault-500', input: 'x' })).status, 500);
      assert.equal((await embed({ model: 'e-fault-429', input: 'x' })).status, 429);
      const t0 = Date.now();
      assert.equal((await embed({ model: 'e-ttft-150', input: 'x' })).status, 200);
      assert.ok(Date.now() - t0 >= 140);
      const stats = await sim.stats();
      assert.equal(stats.last_path, '/v1/embeddings');
      assert.equal(stats.requests, 3);
    });
  });

  describe('POST /v1/completions', () => {
    const complete = (body) => request('POST', `${sim.url}/v1/completions`,
      JSON.stringify({ model: 'gpt-3.5-turbo-instruct', ...body }), { 'content-type': 'application/json' });
    const completeStream = (body) => streamRequest(`${sim.url}/v1/completions`,
      { model: 'gpt-3.5-turbo-instruct', stream: true, ...body });

    test('a prompt string gets a text_completion of max_tokens words, 16 by default', async () => {
      const r = await complete({ prompt: 'once upon' });
      assert.equal(r.status, 200);
      const body = r.json();
      assert.equal(body.object, 'text_completion');
      assert.match(body.id, /^cmpl-/);
      assert.equal(body.choices.length, 1);
      const [c] = body.choices;
      assert.equal(c.index, 0);
      assert.equal(c.logprobs, null);
      assert.equal(c.finish_reason, 'length');
      assert.equal(c.text.split(' ').length - 1, 16);
      assert.ok(c.text.startsWith(' once upon once'));
      assert.equal(body.usage.completion_tokens, 16);
      assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + 16);
    });

    test('an array of prompts times n gives one choice per prompt and n, indexed in that order', async () => {
      const body = (await complete({ prompt: ['a b', 'c d'], n: 2, best_of: 3, max_tokens: 2 })).json();
      assert.deepEqual(body.choices.map((c) => [c.index, c.text]), [[0, ' a b'], [1, ' a b'], [2, ' c d'], [3, ' c d']]);
      assert.equal(body.usage.completion_tokens, 8);
      assert.equal(body.usage.prompt_tokens, 4, 'each prompt counted once');
    });

    test('echo puts the prompt first; stop cuts the text', async () => {
      const [c] = (await complete({ prompt: 'red green blue', max_tokens: 5, echo: true })).json().choices;
      assert.equal(c.text, 'red green blue red green blue red green');
      const [d] = (await complete({ prompt: 'red green blue', max_tokens: 5, stop: [' blue'] })).json().choices;
      assert.equal(d.text, ' red green');
      assert.equal(d.finish_reason, 'stop');
    });

    test('token prompts are accepted and counted by their length', async () => {
      const body = (await complete({ prompt: [[1, 2, 3], [4]], max_tokens: 1 })).json();
      assert.equal(body.choices.length, 2);
      assert.equal(body.usage.prompt_tokens, 4);
      assert.equal(body.choices[0].text, ' sim');
    });

    test('logprobs gives the legacy object consistent with the text, echo included', async () => {
      const [c] = (await complete({ prompt: 'one two', max_tokens: 3, echo: true, logprobs: 2 })).json().choices;
      const lp = c.logprobs;
      assert.equal(lp.tokens.join(''), c.text);
      assert.equal(lp.token_logprobs[0], null, 'the first prompt token has no logprob');
      assert.equal(lp.top_logprobs[0], null);
      assert.ok(lp.token_logprobs.slice(1).every((x) => x <= 0));
      assert.ok(lp.top_logprobs.slice(1).every((t) => Object.keys(t).length === 2));
      let off = 0;
      lp.tokens.forEach((t, i) => { assert.equal(lp.text_offset[i], off); off += t.length; });
    });

    test('a stream sends text_completion chunks, finish chunks, usage when asked, then [DONE]', async () => {
      const s = await completeStream({ prompt: ['x y', 'z'], max_tokens: 2, stream_options: { include_usage: true } });
      assert.equal((await s.done).error, null);
      assert.equal(s.events.at(-1).data, '[DONE]');
      const chunks = chunksOf(s.events);
      assert.ok(chunks.every((c) => c.object === 'text_completion' && c.id === chunks[0].id));
      const text = (i) => chunks.filter((c) => c.choices[0]?.index === i).map((c) => c.choices[0].text).join('');
      assert.equal(text(0), ' x y');
      assert.equal(text(1), ' z z');
      const ends = chunks.filter((c) => c.choices[0]?.finish_reason);
      assert.deepEqual(ends.map((c) => c.choices[0].finish_reason), ['length', 'length']);
      assert.deepEqual(chunks.at(-1).choices, []);
      assert.equal(chunks.at(-1).usage.completion_tokens, 4);
    });

    test('a streamed completion with logprobs matches the whole reply', async () => {
      const whole = (await complete({ prompt: 'p q', max_tokens: 3, logprobs: 1 })).json().choices[0].logprobs;
      const s = await completeStream({ prompt: 'p q', max_tokens: 3, logprobs: 1 });
      await s.done;
      const parts = chunksOf(s.events).filter((c) => c.choices[0].text).map((c) => c.choices[0].logprobs);
      assert.deepEqual(parts.flatMap((p) => p.tokens), whole.tokens);
      assert.deepEqual(parts.flatMap((p) => p.text_offset), whole.text_offset);
      assert.deepEqual(parts.flatMap((p) => p.token_logprobs), whole.token_logprobs);
    });

    test('a timed stream steps token by token and ends the same', async () => {
      const s = await completeStream({ model: 'c-delay-5', prompt: 'a', max_tokens: 3 });
      assert.equal((await s.done).error, null);
      assert.equal(chunksOf(s.events).map((c) => c.choices[0].text).join(''), ' a a a');
    });

    for (const [name, body] of [
      ['no prompt', {}], ['a number prompt', { prompt: 3 }], ['mixed prompts', { prompt: ['a', [1]] }],
      ['best_of below n', { prompt: 'a', n: 2, best_of: 1 }], ['logprobs 6', { prompt: 'a', logprobs: 6 }],
      ['a stream with best_of 2', { prompt: 'a', stream: true, best_of: 2 }], ['max_tokens -1', { prompt: 'a', max_tokens: -1 }],
    ]) {
      test(`${name} is a 400`, async () => {
        const r = await complete(body);
        assert.equal(r.status, 400);
      });
    }

    test('fault tags apply', async () => {
      assert.equal((await complete({ model: 'c-fault-500', prompt: 'a' })).status, 500);
      assert.equal((await sim.stats()).last_path, '/v1/completions');
    });
  });
  describe('POST /v1/responses', () => {
    const RBODY = { model: 'sim-small', input: 'hello sim' };
    const respond = (over = {}, headers = {}) => request('POST', `${sim.url}/v1/responses`,
      JSON.stringify({ ...RBODY, ...over }), { 'content-type': 'application/json', ...headers });
    const respondStream = (over = {}, headers = {}) => streamRequest(`${sim.url}/v1/responses`,
      { ...RBODY, stream: true, ...over }, { headers });
    // The typed events of a stream's text: [{ event, data }], data parsed.
    const typed = (text) => text.split('\n\n').filter((e) => e.length > 0).map((e) => {
      const lines = e.split('\n');
      return {
        event: lines.find((l) => l.startsWith('event: '))?.slice(7),
        data: JSON.parse(lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')),
      };
    });
    // @value with the sequence number that ids carry taken out.
    const anyIds = (value) => JSON.parse(JSON.stringify(value).replace(/sim-\d+/g, 'sim-N').replace(/call_\d+/g, 'call_N'));
    const FN = {
      type: 'function', name: 'get_weather',
      parameters: {
        type: 'object', required: ['city', 'days'],
        properties: { city: { type: 'string', enum: ['Paris', 'Oslo'] }, days: { type: 'integer', minimum: 2 } },
      },
    };
    const AFTER_CALL = [
      { role: 'user', content: 'weather in Paris' },
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris","days":2}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'sunny 21C' },
    ];

    test('a plain reply is a completed response: one message, the settings echoed, usage as chat counts the same turn', async () => {
      const r = await respond({ instructions: 'be brief', metadata: { k: 'v' }, temperature: 0.5 });
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'], /^application\/json/);
      const body = r.json();
      assert.match(body.id, /^resp_sim-\d+$/);
      assert.equal(body.object, 'response');
      assert.equal(typeof body.created_at, 'number');
      assert.equal(body.status, 'completed');
      assert.equal(body.error, null);
      assert.equal(body.incomplete_details, null);
      assert.equal(body.model, 'sim-small');
      assert.equal(body.instructions, 'be brief');
      assert.equal(body.max_output_tokens, null);
      assert.equal(body.temperature, 0.5);
      assert.equal(body.top_p, 1);
      assert.deepEqual(body.metadata, { k: 'v' });
      assert.deepEqual(body.text, { format: { type: 'text' } });
      assert.deepEqual(body.reasoning, { effort: null, summary: null });
      assert.deepEqual([body.tool_choice, body.tools, body.parallel_tool_calls, body.store, body.truncation],
        ['auto', [], true, true, 'disabled']);
      assert.equal(body.previous_response_id, null);
      assert.equal(body.user, null);
      assert.equal(body.output.length, 1);
      const [msg] = body.output;
      assert.match(msg.id, /^msg_sim-\d+_0$/);
      assert.deepEqual({ ...msg, id: 0 }, {
        id: 0, type: 'message', role: 'assistant', status: 'completed',
        content: [{ type: 'output_text', text: msg.content[0].text, annotations: [] }],
      });
      const chatReply = (await chat({ messages: [{ role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello sim' }], max_tokens: undefined })).json();
      assert.equal(msg.content[0].text, chatReply.choices[0].message.content);
      const input = chatReply.usage.prompt_tokens;
      assert.deepEqual(body.usage, {
        input_tokens: input, input_tokens_details: { cached_tokens: 0 },
        output_tokens: 16, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: input + 16,
      });
    });

    test("a stream sends typed events numbered from 0 in OpenAI's order, and its response.completed is the plain reply", async () => {
      const plain = (await respond()).json();
      const s = await respondStream();
      assert.equal(s.status, 200);
      assert.match(s.headers['content-type'], /^text\/event-stream/);
      const end = await s.done;
      assert.equal(end.error, null);
      assert.ok(!end.text.includes('[DONE]'), 'no [DONE]');
      const events = typed(end.text);
      events.forEach((e, i) => {
        assert.equal(e.data.type, e.event);
        assert.equal(e.data.sequence_number, i);
      });
      assert.deepEqual(events.map((e) => e.event), [
        'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
        ...Array(16).fill('response.output_text.delta'), 'response.output_text.done', 'response.content_part.done',
        'response.output_item.done', 'response.completed',
      ]);
      for (const e of events.slice(0, 2)) {
        assert.equal(e.data.response.status, 'in_progress');
        assert.deepEqual(e.data.response.output, []);
        assert.equal(e.data.response.usage, null);
      }
      assert.equal(events[2].data.item.status, 'in_progress');
      assert.deepEqual(events[2].data.item.content, []);
      const text = plain.output[0].content[0].text;
      assert.equal(events.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta).join(''), text);
      assert.equal(events.find((e) => e.event === 'response.output_text.done').data.text, text);
      const last = events.at(-1).data.response;
      assert.deepEqual(anyIds(last), anyIds({ ...plain, created_at: last.created_at }));
      assert.equal((await sim.stats()).streams, 1);
    });

    test('a reasoning tag puts a reasoning item first, its summary streamed before the text', async () => {
      const body = (await respond({ model: 'sim-reasoning-4' })).json();
      assert.deepEqual(body.output.map((i) => i.type), ['reasoning', 'message']);
      assert.match(body.output[0].id, /^rs_sim-\d+_0$/);
      assert.match(body.output[1].id, /^msg_sim-\d+_1$/);
      assert.deepEqual(body.output[0].summary, [{ type: 'summary_text', text: 'think: hello sim hello' }]);
      assert.equal(body.usage.output_tokens, 20, '4 of reasoning and 16 of answer');
      assert.equal(body.usage.output_tokens_details.reasoning_tokens, 4);
      const events = typed((await (await respondStream({ model: 'sim-reasoning-4' })).done).text);
      assert.deepEqual(events.map((e) => e.event).slice(2, 13), [
        'response.output_item.added', 'response.reasoning_summary_part.added',
        ...Array(4).fill('response.reasoning_summary_text.delta'), 'response.reasoning_summary_text.done',
        'response.reasoning_summary_part.done', 'response.output_item.done', 'response.output_item.added',
        'response.content_part.added',
      ]);
      assert.equal(events.filter((e) => e.event === 'response.reasoning_summary_text.delta')
        .map((e) => e.data.delta).join(''), 'think: hello sim hello');
    });

    test('with tools and a last item that is not a function_call_output the output is a function_call', async () => {
      const body = (await respond({ tools: [FN] })).json();
      assert.equal(body.status, 'completed');
      assert.equal(body.output.length, 1);
      const [call] = body.output;
      assert.match(call.id, /^fc_sim-\d+_0$/);
      assert.match(call.call_id, /^call_\d+$/);
      assert.deepEqual({ ...call, id: 0, call_id: 0, arguments: '' },
        { id: 0, type: 'function_call', status: 'completed', arguments: '', call_id: 0, name: 'get_weather' });
      assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris', days: 2 }, 'an instance of the parameters');
      assert.deepEqual(body.tools, [FN]);
    });

    test('tool_choice naming a function calls that one', async () => {
      const other = { type: 'function', name: 'get_time' };
      const body = (await respond({ tools: [FN, other], tool_choice: { type: 'function', name: 'get_time' } })).json();
      assert.equal(body.output[0].name, 'get_time');
      assert.deepEqual(body.tool_choice, { type: 'function', name: 'get_time' });
    });

    test('after a function_call_output the answer is a message that mentions the output, counted as chat counts the turn', async () => {
      const body = (await respond({ input: AFTER_CALL, tools: [FN] })).json();
      assert.deepEqual(body.output.map((i) => i.type), ['message']);
      assert.equal(body.output[0].content[0].text.split(' ').slice(0, 6).join(' '), 'echo: weather in Paris sunny 21C');
      const chatReply = (await chat({ max_tokens: undefined, tools: [{ type: 'function', function: { name: FN.name, parameters: FN.parameters } }],
        messages: [
          { role: 'user', content: 'weather in Paris' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris","days":2}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny 21C' },
        ] })).json();
      assert.equal(body.usage.input_tokens, chatReply.usage.prompt_tokens);
    });

    test('a streamed function_call is added with empty arguments, then argument deltas, then done', async () => {
      const plain = (await respond({ tools: [FN] })).json();
      const events = typed((await (await respondStream({ tools: [FN] })).done).text);
      const types = events.map((e) => e.event);
      const n = types.filter((t) => t === 'response.function_call_arguments.delta').length;
      assert.ok(n > 1, `${n} argument deltas`);
      assert.deepEqual(types, ['response.created', 'response.in_progress', 'response.output_item.added',
        ...Array(n).fill('response.function_call_arguments.delta'), 'response.function_call_arguments.done',
        'response.output_item.done', 'response.completed']);
      assert.equal(events[2].data.item.arguments, '');
      assert.equal(events[2].data.item.status, 'in_progress');
      const args = events.filter((e) => e.event === 'response.function_call_arguments.delta').map((e) => e.data.delta).join('');
      assert.equal(args, plain.output[0].arguments);
      assert.equal(events.at(-3).data.arguments, args);
      assert.equal(events.at(-3).data.name, 'get_weather');
      assert.deepEqual(anyIds(events.at(-1).data.response.output), anyIds(plain.output));
    });

    test('text.format json_schema: the message text is an instance with the required members and enum values', async () => {
      const format = { type: 'json_schema', name: 'paint', strict: true, schema: {
        type: 'object', additionalProperties: false, required: ['color', 'coats'],
        properties: { color: { type: 'string', enum: ['teal', 'navy'] }, coats: { type: 'integer', minimum: 3 }, note: { type: 'string' } },
      } };
      const body = (await respond({ text: { format } })).json();
      assert.equal(body.status, 'completed');
      assert.deepEqual(JSON.parse(body.output[0].content[0].text), { color: 'teal', coats: 3 });
      assert.deepEqual(body.text, { format });
    });

    test('text.format json_object: the message text is a JSON object', async () => {
      const body = (await respond({ text: { format: { type: 'json_object' } } })).json();
      assert.deepEqual(JSON.parse(body.output[0].content[0].text), { echo: 'hello sim' });
    });

    test('max_output_tokens shorter than the answer: status incomplete, reason max_output_tokens, the text cut to it', async () => {
      const body = (await respond({ max_output_tokens: 20 })).json();
      assert.equal(body.status, 'incomplete');
      assert.deepEqual(body.incomplete_details, { reason: 'max_output_tokens' });
      assert.equal(body.max_output_tokens, 20);
      assert.equal(body.output[0].content[0].text.split(' ').length, 20);
      assert.equal(body.usage.output_tokens, 20);
      const events = typed((await (await respondStream({ max_output_tokens: 20 })).done).text);
      assert.equal(events.at(-1).event, 'response.incomplete');
      assert.deepEqual(events.at(-1).data.response.incomplete_details, { reason: 'max_output_tokens' });
      const short = (await respond({ max_output_tokens: 100, text: { format: { type: 'json_object' } } })).json();
      assert.equal(short.status, 'completed', 'an answer within the limit is whole');
    });

    test('previous_response_id is a 400 naming the id: the sim keeps no responses', async () => {
      const r = await respond({ previous_response_id: 'resp_earlier' });
      assert.equal(r.status, 400);
      assert.equal(r.json().error.type, 'invalid_request_error');
      assert.match(r.json().error.message, /resp_earlier/);
    });

    test('an item_reference item is a 400 naming the id, with or without its type', async () => {
      for (const item of [{ type: 'item_reference', id: 'msg_earlier_1' }, { id: 'msg_earlier_1' }]) {
        const r = await respond({ input: [{ role: 'user', content: 'hi' }, item] });
        assert.equal(r.status, 400, JSON.stringify(item));
        assert.match(r.json().error.message, /msg_earlier_1/);
      }
    });

    for (const [name, over, word] of [
      ["chat's messages", { messages: [{ role: 'user', content: 'hi' }] }, "'messages'"],
      ['seed, which chat has and Responses has not', { seed: 1 }, "'seed'"],
      ["a gateway's routing field", { models: ['a', 'b'] }, "'models'"],
      ['a tool in chat\'s nesting', { tools: [WEATHER] }, 'tools[0].name'],
      ['stream_options.include_usage', { stream: true, stream_options: { include_usage: true } }, 'include_usage'],
      ['a built-in tool', { tools: [{ type: 'web_search' }] }, 'web_search'],
      ['max_output_tokens under 16', { max_output_tokens: 15 }, 'max_output_tokens'],
      ['a tool_choice naming no tool', { tools: [FN], tool_choice: { type: 'function', name: 'nope' } }, 'nope'],
      ['no input', { input: undefined }, "'input'"],
      ['an input image from the assistant', { input: [{ role: 'assistant', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }] }, 'input_image'],
      ['a function_call without call_id', { input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }, 'input[0].call_id'],
    ]) {
      test(`${name} is a 400 naming it`, async () => {
        const r = await respond(over);
        assert.equal(r.status, 400);
        assert.ok(r.json().error.message.includes(word), r.json().error.message);
      });
    }

    test('items as the SDKs send them back (ids, status, annotations, reasoning) are accepted', async () => {
      const first = (await respond({ model: 'sim-reasoning-2', tools: [FN] })).json();
      const r = await respond({ tools: [FN], input: [{ role: 'user', content: [{ type: 'input_text', text: 'weather?' }] },
        ...first.output, { type: 'function_call_output', call_id: first.output[1].call_id, output: 'rain' }] });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json().output[0].type, 'message');
    });

    test('a fault-<status> tag answers with that status and an OpenAI error', async () => {
      const r = await respond({ model: 'sim-fault-429' });
      assert.equal(r.status, 429);
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(r.json().error.code, 'rate_limit_exceeded');
      assert.equal((await respond({ model: 'sim-fault-500' })).status, 500);
    });

    test('the failure plan and the TTFT apply as to chat', async () => {
      await sim.plan({ faults: ['401'] });
      assert.equal((await respond()).status, 401);
      const t0 = Date.now();
      assert.equal((await respond({ model: 'sim-ttft-150' })).status, 200);
      assert.ok(Date.now() - t0 >= 140, `answered after ${Date.now() - t0} ms`);
    });

    test('a token delay paces the stream one delta event at a time', async () => {
      const s = await respondStream({ model: 'sim-delay-40', max_output_tokens: 16 });
      const end = await s.done;
      assert.equal(end.error, null);
      assert.ok(end.ms >= 15 * 40 - 20, `16 deltas in ${end.ms} ms`);
      assert.equal(typed(end.text).at(-1).event, 'response.incomplete');
    });

    test('stream-error: the head and one delta, then the connection closes without response.completed', async () => {
      const s = await respondStream({}, { 'x-sim-fault': 'stream-error' });
      assert.equal(s.status, 200);
      const end = await s.done;
      assert.ok(end.error, 'the body never ended cleanly');
      assert.deepEqual(s.events.map((e) => JSON.parse(e.data).type), ['response.created', 'response.in_progress',
        'response.output_item.added', 'response.content_part.added', 'response.output_text.delta']);
      assert.equal((await sim.stats()).aborted, 1);
    });

    test('stats name the path, count the request and keep its body', async () => {
      await respond({ input: 'counted' });
      const st = await sim.stats();
      assert.equal(st.last_path, '/v1/responses');
      assert.equal(st.requests, 1);
      assert.equal(st.last_body.input, 'counted');
      assert.equal(st.completed, 1);
    });
  });
});
