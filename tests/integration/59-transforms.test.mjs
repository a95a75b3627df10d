// Requests the gateway improves (issue 15, docs/api.md): context
// compression (`transforms: ["middle-out"]`, the context-compression
// plugin, a key's default), JSON repair of a model's malformed output
// (automatic for non-stream JSON modes and tool-call arguments, the
// response-healing plugin for streams), the plugins list's validation,
// and reasoning: reasoning text passed through or excluded, the
// `reasoning` object translated per endpoint (`reasoning_format` in the
// catalog), and top-level `reasoning_effort` mapped per model
// (`reasoning_effort_map`).
//
// The provider is fg-sim (tests/sim/fg-sim.c): "badjson-<class>" in an
// upstream id makes its JSON malformed one way, "reasoning-<n>" makes it
// reason first, and GET /sim/stats shows the body it last received.

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';

import {
  stopAll, reservationLog, shippedModels, simBadJson, simModel, sseData, startGateway, startSim, streamRequest,
  usageJournal, waitFor,
} from '../lib/harness.mjs';
import { chatPromptTokens, promptBounds } from '../lib/tokens.mjs';

const URL_PATH = '/v1/chat/completions';
const USER = 'hello gateway';
const ECHO = { echo: USER };

// One micro-credit a token: a charge reads as a count of tokens.
const PER_TOKEN = { prompt_per_mtok_micro: 1000000, completion_per_mtok_micro: 1000000 };

// What fg-sim sends for {"echo":"hello gateway"} under each badjson class.
const VALUE = JSON.stringify(ECHO);
const BADJSON = simBadJson(VALUE);
const REPAIRABLE = Object.keys(BADJSON).filter((c) => c !== 'hopeless');

const JSON_MODE = { response_format: { type: 'json_object' }, max_tokens: 200 };
const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } },
  },
};

// The window of xf-window and the token limit every compression request
// asks for: compression must bring the prompt to at most 900 tokens.
const WINDOW = 1000;
const LIMIT = 100;

// A conversation of about 1670 o200k tokens: a system message, the first
// user question, six rounds of an answer, a follow-up and a tool call
// answered by two tool results, then a short last turn.
const WORDS = ['river', 'stone', 'maple', 'cloud', 'amber', 'harbor', 'lantern', 'meadow', 'copper',
  'violet', 'summit', 'canyon'];
const prose = (seed, n) => Array.from({ length: n }, (_, k) => WORDS[(seed * 7 + k * 5) % WORDS.length]).join(' ');
const toolCall = (id) => ({ id, type: 'function', function: { name: 'lookup', arguments: `{"q":"${id}"}` } });
function conversation({ system = 'You are a terse assistant.' } = {}) {
  const messages = [
    { role: 'system', content: system },
    { role: 'user', content: 'First question: where do rivers begin?' },
  ];
  for (let i = 0; i < 6; i++) {
    messages.push({ role: 'assistant', content: `Answer ${i}: ${prose(i, 60)}` });
    messages.push({ role: 'user', content: `Follow-up ${i}: ${prose(i + 50, 60)}` });
    messages.push({ role: 'assistant', content: null, tool_calls: [toolCall(`call_${i}a`), toolCall(`call_${i}b`)] });
    messages.push({ role: 'tool', tool_call_id: `call_${i}a`, content: `Result ${i}a: ${prose(i + 100, 40)}` });
    messages.push({ role: 'tool', tool_call_id: `call_${i}b`, content: `Result ${i}b: ${prose(i + 150, 40)}` });
  }
  messages.push({ role: 'assistant', content: 'Noted.' });
  messages.push({ role: 'user', content: 'Final question: summarise it all.' });
  return messages;
}
const LONG = conversation();

// "messages=N,tokens=M" as numbers, or null.
function compressedHeader(res) {
  const m = /^messages=(\d+),tokens=(\d+)$/.exec(res.headers['x-fluxgate-compressed'] ?? '');
  return m ? { messages: Number(m[1]), tokens: Number(m[2]) } : null;
}

// The index in @all of each message of @kept (matched whole, in order);
// throws when @kept is not a subsequence of @all.
function positionsIn(all, kept) {
  const out = [];
  let j = 0;
  for (const m of kept) {
    while (j < all.length && !isDeepStrictEqual(all[j], m)) j++;
    assert.ok(j < all.length, `a message the provider got was not sent, or not whole: ${JSON.stringify(m)}`);
    out.push(j++);
  }
  return out;
}

// Every assistant tool call of @messages answered there, and every tool
// message answering a call there.
function assertToolGroupsWhole(messages) {
  const calls = new Set(messages.flatMap((m) => (m.tool_calls ?? []).map((c) => c.id)));
  const answers = new Set(messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id));
  for (const id of calls) assert.ok(answers.has(id), `tool call ${id} kept without its result`);
  for (const id of answers) assert.ok(calls.has(id), `tool result ${id} kept without its call`);
}

const chunksOf = (text) => sseData(text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
const deltasOf = (chunks, member) => chunks.map((c) => c.choices[0]?.delta?.[member])
  .filter((v) => typeof v === 'string' && v.length > 0);

describe('transforms, JSON repair and reasoning', () => {
  let sim;
  let gw;
  let requestNo = 0;

  before(async () => {
    sim = await startSim();
    gw = await startGateway({
      sim,
      models: {
        models: [...shippedModels(),
          simModel('xf-window', 'sim-xf-window', {
            context_window: WINDOW, max_output_tokens: LIMIT, tokens: { tokenizer: 'o200k_base' },
            pricing: PER_TOKEN,
          }),
          ...Object.keys(BADJSON).map((cls) => simModel(`xf-json-${cls}`, `sim-badjson-${cls}`)),
          simModel('xf-json-valid', 'sim-json-valid'),
          simModel('xf-reason', 'sim-reasoning-8'),
          simModel('xf-reason-field', 'sim-reasoning-field-8')],
      },
    });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  beforeEach(async () => { await sim.reset(); });

  // A request id of its own, for finding the usage record.
  const nextId = (what) => `xf-${what}-${++requestNo}`;
  const chat = (model, over = {}, headers = {}) => gw.post(URL_PATH,
    { model, messages: [{ role: 'user', content: USER }], ...over }, headers);
  const stream = (model, over = {}, headers = {}) => streamRequest(`${gw.url}${URL_PATH}`,
    { model, messages: [{ role: 'user', content: USER }], stream: true, ...over }, { headers });
  const lastBody = async () => (await sim.stats()).last_body;
  const recordOf = (id) => waitFor(`the usage record of ${id}`, () => usageJournal(gw.dataDir).lines
    .map((l) => l.record).find((r) => r.client_request_id === id), { tries: 200, every: 50 });
  const compress = (over = {}, headers = {}) => gw.post(URL_PATH,
    { model: 'xf-window', messages: LONG, max_tokens: LIMIT, ...over }, headers);
  // A compression request that must succeed: its reply and the body the
  // provider got.
  const compressed = async (over = {}, headers = {}) => {
    const res = await compress(over, headers);
    assert.equal(res.status, 200, res.text);
    return { res, sent: await lastBody() };
  };

  describe('context compression', () => {
    test('a conversation longer than the window is 400 context_length_exceeded without transforms', async () => {
      assert.ok(promptBounds({ messages: LONG }).lower + LIMIT > WINDOW, 'the test conversation must not fit');
      const res = await compress();
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.code, 'context_length_exceeded');
      assert.equal(await sim.requests(), 0);
    });

    test('transforms ["middle-out"] makes it fit: 200 with x-fluxgate-compressed: messages=N,tokens=M', async () => {
      const { res, sent } = await compressed({ transforms: ['middle-out'] });
      const said = compressedHeader(res);
      assert.ok(said, `x-fluxgate-compressed: ${res.headers['x-fluxgate-compressed']}`);
      assert.equal(said.messages, LONG.length - sent.messages.length, 'N: the messages removed');
      assert.equal(said.tokens, promptBounds({ messages: LONG }).lower - promptBounds(sent).lower,
        'M: the prompt\'s lower bound before minus after');
      assert.ok(promptBounds(sent).lower + LIMIT <= WINDOW, 'the compressed prompt fits the window');
    });

    test('the provider gets the system message, the first user message and the last turns; the middle goes', async () => {
      const { messages } = (await compressed({ transforms: ['middle-out'] })).sent;
      assert.ok(messages.length < LONG.length);
      assert.deepEqual(messages[0], LONG[0], 'the system message');
      assert.deepEqual(messages[1], LONG[1], 'the first user message');
      assert.deepEqual(messages.slice(-2), LONG.slice(-2), 'the last turn');
      // Whole messages, removed from the middle: what is left is a head
      // and a tail of the conversation, each message byte for byte.
      const at = positionsIn(LONG, messages);
      const gaps = at.slice(1).filter((p, i) => p !== at[i] + 1);
      assert.equal(gaps.length, 1, `one run of messages removed, not several: kept ${at.join(',')}`);
    });

    test('an assistant tool call and the tool results answering it go or stay together', async () => {
      const { messages } = (await compressed({ transforms: ['middle-out'] })).sent;
      assertToolGroupsWhole(messages);
      assert.ok(messages.some((m) => m.tool_calls), 'a tool group was kept');
    });

    test('the provider\'s body has no transforms or plugins member', async () => {
      assert.equal('transforms' in (await compressed({ transforms: ['middle-out'] })).sent, false);
      assert.equal('plugins' in (await compressed({ plugins: [{ id: 'context-compression' }] })).sent, false);
    });

    test('a prompt that fits is sent whole, with no x-fluxgate-compressed header', async () => {
      const messages = LONG.slice(0, 2).concat(LONG.slice(-2));
      const { res, sent } = await compressed({ messages, transforms: ['middle-out'] });
      assert.equal(res.headers['x-fluxgate-compressed'], undefined);
      assert.deepEqual(sent.messages, messages);
      assert.equal('transforms' in sent, false);
    });

    test('the context-compression plugin compresses as middle-out does', async () => {
      const { res, sent: { messages } } = await compressed({ plugins: [{ id: 'context-compression' }] });
      assert.ok(compressedHeader(res), `x-fluxgate-compressed: ${res.headers['x-fluxgate-compressed']}`);
      assert.deepEqual(messages[0], LONG[0]);
      assert.deepEqual(messages.at(-1), LONG.at(-1));
      assertToolGroupsWhole(messages);
    });

    test('the context-compression plugin with enabled: false compresses nothing', async () => {
      const res = await compress({ plugins: [{ id: 'context-compression', enabled: false }] });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.code, 'context_length_exceeded');
    });

    test('a conversation whose kept messages alone do not fit is still 400 context_length_exceeded', async () => {
      const messages = conversation({ system: `You are a terse assistant. ${prose(7, 1200)}` });
      const res = await compress({ messages, transforms: ['middle-out'] });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.code, 'context_length_exceeded');
      assert.equal(await sim.requests(), 0, 'nothing was sent');
    });

    test('a key whose default is middle-out compresses without transforms; transforms [] and the plugin off override it', async () => {
      const k = await gw.createKey({ name: 'compressing', transforms: ['middle-out'] });
      const auth = { authorization: `Bearer ${k.secret}` };
      const { res } = await compressed({}, auth);
      assert.ok(compressedHeader(res), 'compressed by the key\'s default');
      for (const over of [{ transforms: [] }, { plugins: [{ id: 'context-compression', enabled: false }] }]) {
        const off = await compress(over, auth);
        assert.equal(off.status, 400, `${JSON.stringify(over)}: ${off.text}`);
        assert.equal(off.json().error.code, 'context_length_exceeded');
      }
    });

    test('the usage record says "compressed", and the request is charged and reserved for the compressed prompt', async () => {
      const id = nextId('compressed');
      const { res, sent } = await compressed({ transforms: ['middle-out'] }, { 'x-request-id': id });
      const { usage } = res.json();
      assert.equal(usage.prompt_tokens, chatPromptTokens(sent), 'the provider counted what it got');
      const rec = await recordOf(id);
      assert.ok(rec.flags.includes('compressed'), JSON.stringify(rec.flags));
      assert.equal(rec.prompt_tokens, usage.prompt_tokens);
      assert.ok(rec.prompt_tokens < promptBounds({ messages: LONG }).lower);
      assert.equal(rec.charged_micro, usage.prompt_tokens + usage.completion_tokens, 'one micro-credit a token');
      assert.equal(rec.charged_micro, Number(res.headers['x-fluxgate-charged-micro']));
      const held = reservationLog(gw.dataDir).find((r) => r.client_request_id === id);
      assert.ok(held, 'the reservation was logged');
      assert.equal(held.charged_micro, promptBounds(sent).upper + LIMIT,
        'reserved: the compressed prompt\'s upper bound and the token limit');
    });

    test('an unknown transform is a 400 naming transforms[i], and nothing is sent', async () => {
      const res = await chat('xf-json-valid', { transforms: ['middle-out', 'shuffle'] });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.code, 'VALIDATION_INVALID_VALUE');
      assert.equal(res.json().error.param, 'transforms[1]');
      assert.equal(await sim.requests(), 0);
    });
  });

  describe('JSON repair, non-stream', () => {
    for (const cls of REPAIRABLE) {
      test(`json_object content malformed as "${cls}" comes back valid, marked x-fluxgate-json-repaired: 1`, async () => {
        const res = await chat(`xf-json-${cls}`, JSON_MODE);
        assert.equal(res.status, 200, res.text);
        const { content } = res.json().choices[0].message;
        assert.deepEqual(JSON.parse(content), ECHO, 'the value, nothing invented');
        assert.equal(res.headers['x-fluxgate-json-repaired'], '1');
      });
    }

    test('a repaired reply\'s usage record has the flag "json_repaired"', async () => {
      const id = nextId('repaired');
      const res = await chat('xf-json-fence', JSON_MODE, { 'x-request-id': id });
      assert.equal(res.status, 200, res.text);
      const rec = await recordOf(id);
      assert.ok(rec.flags.includes('json_repaired'), JSON.stringify(rec.flags));
    });

    test('json_schema content is repaired too', async () => {
      const res = await chat('xf-json-comma', {
        max_tokens: 200,
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'p', schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } } } },
        },
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(JSON.parse(res.json().choices[0].message.content), { name: 'test', age: 1 });
      assert.equal(res.headers['x-fluxgate-json-repaired'], '1');
    });

    test('hopeless prose is passed unchanged, with no header and no flag', async () => {
      const id = nextId('hopeless');
      const res = await chat('xf-json-hopeless', JSON_MODE, { 'x-request-id': id });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().choices[0].message.content, BADJSON.hopeless);
      assert.equal(res.headers['x-fluxgate-json-repaired'], undefined);
      const rec = await recordOf(id);
      assert.ok(!rec.flags.includes('json_repaired'), JSON.stringify(rec.flags));
    });

    test('valid JSON content is left byte for byte, with no header', async () => {
      const res = await chat('xf-json-valid', JSON_MODE);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().choices[0].message.content, VALUE);
      assert.equal(res.headers['x-fluxgate-json-repaired'], undefined);
    });

    test('malformed tool-call arguments are repaired without any response_format', async () => {
      const res = await chat('xf-json-single', { tools: [WEATHER], max_tokens: 200 });
      assert.equal(res.status, 200, res.text);
      const call = res.json().choices[0].message.tool_calls[0];
      assert.deepEqual(JSON.parse(call.function.arguments), { city: 'test', days: 1 });
      assert.equal(res.headers['x-fluxgate-json-repaired'], '1');
    });

    test('plain text outside JSON modes is not touched', async () => {
      const res = await chat('xf-json-fence', { max_tokens: 5 });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().choices[0].message.content, `echo: ${USER} ${USER}`);
      assert.equal(res.headers['x-fluxgate-json-repaired'], undefined);
    });

    test('the response-healing plugin with enabled: false turns the repair off', async () => {
      const res = await chat('xf-json-fence', { ...JSON_MODE, plugins: [{ id: 'response-healing', enabled: false }] });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().choices[0].message.content, BADJSON.fence);
      assert.equal(res.headers['x-fluxgate-json-repaired'], undefined);
      assert.equal('plugins' in (await lastBody()), false, 'the plugins list is not forwarded');
    });

    test('fluxgate_json_repaired_total counts a repair by model and provider', async () => {
      const res = await chat('xf-json-comments', JSON_MODE);
      assert.equal(res.headers['x-fluxgate-json-repaired'], '1');
      const line = await waitFor('the repair in /metrics', async () => (await gw.scrape()).split('\n')
        .find((l) => /^fluxgate_json_repaired_total\{[^}]*model="xf-json-comments"[^}]*\} [1-9]/.test(l)));
      assert.match(line, /provider="/);
    });
  });

  describe('JSON repair, streams', () => {
    test('a stream is untouched by default: the deltas concatenate to the malformed text', async () => {
      const s = await stream('xf-json-fence', JSON_MODE);
      assert.equal(s.status, 200);
      const end = await s.done;
      assert.equal(end.error, null);
      assert.equal(deltasOf(chunksOf(end.text), 'content').join(''), BADJSON.fence);
      assert.equal(s.headers['x-fluxgate-json-repaired'], undefined);
    });

    test('with the response-healing plugin the content arrives valid, in one delta before the finish chunk', async () => {
      const s = await stream('xf-json-fence', { ...JSON_MODE, plugins: [{ id: 'response-healing' }] });
      assert.equal(s.status, 200);
      const end = await s.done;
      assert.equal(end.error, null);
      assert.ok(sseData(end.text).includes('[DONE]'));
      const chunks = chunksOf(end.text).filter((c) => c.choices.length > 0);
      const withContent = chunks.filter((c) => typeof c.choices[0].delta?.content === 'string'
        && c.choices[0].delta.content.length > 0);
      assert.equal(withContent.length, 1, `content deltas: ${JSON.stringify(withContent)}`);
      assert.deepEqual(JSON.parse(withContent[0].choices[0].delta.content), ECHO);
      const next = chunks[chunks.indexOf(withContent[0]) + 1];
      assert.equal(next?.choices[0].finish_reason, 'stop', 'the finish chunk follows it');
    });

    test('a healed stream that was repaired has the flag "json_repaired" in its usage record', async () => {
      const id = nextId('healed');
      const s = await stream('xf-json-comma', { ...JSON_MODE, plugins: [{ id: 'response-healing' }] },
        { 'x-request-id': id });
      assert.equal(s.status, 200);
      assert.equal((await s.done).error, null);
      const rec = await recordOf(id);
      assert.ok(rec.flags.includes('json_repaired'), JSON.stringify(rec.flags));
      assert.ok(rec.flags.includes('stream'), JSON.stringify(rec.flags));
    });

    test('a healed stream of valid JSON sends it whole and unflagged', async () => {
      const id = nextId('healed-valid');
      const s = await stream('xf-json-valid', { ...JSON_MODE, plugins: [{ id: 'response-healing' }] },
        { 'x-request-id': id });
      const end = await s.done;
      assert.equal(end.error, null);
      assert.deepEqual(JSON.parse(deltasOf(chunksOf(end.text), 'content').join('')), ECHO);
      const rec = await recordOf(id);
      assert.ok(!rec.flags.includes('json_repaired'), JSON.stringify(rec.flags));
    });
  });

  describe('plugins validation', () => {
    for (const id of ['web', 'file-parser']) {
      test(`plugin "${id}" is a 400 saying the gateway does not offer it, and the provider is never called`, async () => {
        const res = await chat('xf-json-valid', { plugins: [{ id }] });
        assert.equal(res.status, 400, res.text);
        const { error } = res.json();
        assert.equal(error.code, 'VALIDATION_INVALID_VALUE');
        assert.equal(error.param, 'plugins[0].id');
        assert.match(error.message, /does not offer/);
        assert.ok(error.message.includes(id), error.message);
        assert.equal(await sim.requests(), 0);
      });
    }

    test('an unknown plugin id is a 400 naming it, and the provider is never called', async () => {
      const res = await chat('xf-json-valid', { plugins: [{ id: 'response-healing' }, { id: 'teleport' }] });
      assert.equal(res.status, 400, res.text);
      const { error } = res.json();
      assert.equal(error.code, 'VALIDATION_INVALID_VALUE');
      assert.equal(error.param, 'plugins[1].id');
      assert.ok(error.message.includes('teleport'), error.message);
      assert.equal(await sim.requests(), 0);
    });

    test('an unknown member of a plugin is a 400 naming plugins[i].member', async () => {
      const res = await chat('xf-json-valid', { plugins: [{ id: 'response-healing', max: 3 }] });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.param, 'plugins[0].max');
      assert.equal(await sim.requests(), 0);
    });

    test('a plugin named twice is a 400', async () => {
      const res = await chat('xf-json-valid', { plugins: [{ id: 'response-healing' }, { id: 'response-healing' }] });
      assert.equal(res.status, 400, res.text);
      assert.equal(await sim.requests(), 0);
    });
  });

  describe('reasoning', () => {
    // fg-sim's reasoning for USER: "think:" and the user's words, 8 tokens.
    const THOUGHT = `think: ${USER} ${USER} ${USER} hello`;

    test('reasoning_content passes through a non-stream reply', async () => {
      const res = await chat('xf-reason', { max_tokens: 20 });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().choices[0].message.reasoning_content, THOUGHT);
    });

    test('reasoning_content passes through a stream, delta by delta', async () => {
      const s = await stream('xf-reason', { max_tokens: 20 });
      const end = await s.done;
      assert.equal(end.error, null);
      const parts = deltasOf(chunksOf(end.text), 'reasoning_content');
      assert.equal(parts.length, 8);
      assert.equal(parts.join(''), THOUGHT);
    });

    test('the "reasoning" member some providers use passes through too', async () => {
      const res = await chat('xf-reason-field', { max_tokens: 20 });
      assert.equal(res.json().choices[0].message.reasoning, THOUGHT);
      const s = await stream('xf-reason-field', { max_tokens: 20 });
      assert.equal(deltasOf(chunksOf((await s.done).text), 'reasoning').join(''), THOUGHT);
    });

    test('usage reports completion_tokens_details.reasoning_tokens, counted in completion_tokens', async () => {
      const id = nextId('reasoning');
      const res = await chat('xf-reason', { max_tokens: 20 }, { 'x-request-id': id });
      const { usage } = res.json();
      assert.equal(usage.completion_tokens_details.reasoning_tokens, 8);
      assert.equal(usage.completion_tokens, 20);
      const rec = await recordOf(id);
      assert.equal(rec.reasoning_tokens, 8);
      assert.equal(rec.completion_tokens, 20);
    });

    test('reasoning.exclude drops the reasoning from a non-stream reply', async () => {
      const res = await chat('xf-reason', { max_tokens: 20, reasoning: { exclude: true } });
      assert.equal(res.status, 200, res.text);
      const { message } = res.json().choices[0];
      assert.equal(message.reasoning_content ?? null, null, JSON.stringify(message));
      assert.equal(message.content, `echo: ${USER} ${USER} ${USER} ${USER} ${USER} hello`);
      assert.equal('reasoning' in (await lastBody()), false, 'the reasoning object is not forwarded');
    });

    test('reasoning.exclude drops the reasoning deltas from a stream', async () => {
      const s = await stream('xf-reason', { max_tokens: 20, reasoning: { exclude: true } });
      const end = await s.done;
      assert.equal(end.error, null);
      const chunks = chunksOf(end.text);
      assert.deepEqual(deltasOf(chunks, 'reasoning_content'), []);
      assert.ok(deltasOf(chunks, 'content').join('').startsWith('echo:'));
    });

    test('reasoning.exclude drops the "reasoning" member too', async () => {
      const res = await chat('xf-reason-field', { max_tokens: 20, reasoning: { exclude: true } });
      assert.equal(res.json().choices[0].message.reasoning ?? null, null);
    });

    test('a reasoning_effort no endpoint accepts, without a map, is 400 listing the accepted values', async () => {
      const res = await chat('demo-reasoner', { reasoning_effort: 'minimal' });
      assert.equal(res.status, 400, res.text);
      const { error } = res.json();
      assert.equal(error.code, 'unsupported_parameter');
      assert.equal(error.param, 'reasoning_effort');
      for (const v of ['low', 'medium', 'high']) assert.ok(error.message.includes(v), error.message);
      assert.equal(await sim.requests(), 0);
    });

    for (const [what, reasoning, param] of [
      ['an unknown member', { effort: 'high', depth: 2 }, 'reasoning.depth'],
      ['an unknown effort', { effort: 'extreme' }, 'reasoning.effort'],
      ['effort and max_tokens together', { effort: 'high', max_tokens: 100 }, 'reasoning'],
    ]) {
      test(`reasoning with ${what} is a 400 naming ${param}`, async () => {
        const res = await chat('xf-reason', { reasoning });
        assert.equal(res.status, 400, res.text);
        assert.equal(res.json().error.param, param);
        assert.equal(await sim.requests(), 0);
      });
    }

    test('reasoning beside a top-level reasoning_effort is a 400 naming reasoning', async () => {
      const res = await chat('demo-reasoner', { reasoning: { effort: 'high' }, reasoning_effort: 'high' });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.param, 'reasoning');
    });

    test('reasoning.max_tokens at or above the request\'s token limit is 400 out of range', async () => {
      const res = await chat('xf-reason', { max_tokens: 100, reasoning: { max_tokens: 100 } });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error.code, 'VALIDATION_OUT_OF_RANGE');
      assert.equal(res.json().error.param, 'reasoning.max_tokens');
    });
  });
});

// The reasoning object translated for each endpoint's reasoning_format,
// and reasoning_effort_map: catalog fields of their own, on a gateway of
// their own.
describe('reasoning translated per endpoint', () => {
  let sim;
  let gw;

  before(async () => {
    sim = await startSim();
    const EFFORTS = ['low', 'medium', 'high'];
    gw = await startGateway({
      sim,
      models: {
        models: [
          simModel('xf-thinking', 'sim-xf-thinking', { reasoning_format: 'thinking' }),
          simModel('xf-budget', 'sim-xf-budget', { reasoning_format: 'thinking_budget' }),
          simModel('xf-effort', 'sim-xf-effort', { reasoning_format: 'reasoning_effort', reasoning_effort: EFFORTS }),
          simModel('xf-effort-default', 'sim-xf-effort-default', { reasoning_effort: EFFORTS }),
          simModel('xf-none', 'sim-xf-none', { reasoning_format: 'none' }),
          simModel('xf-mapped', 'sim-xf-mapped', {
            reasoning_effort: EFFORTS, reasoning_effort_map: { minimal: 'low', xhigh: 'high' },
          }),
        ],
      },
    });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  beforeEach(async () => { await sim.reset(); });

  const chat = (model, over = {}) => gw.post(URL_PATH,
    { model, messages: [{ role: 'user', content: USER }], ...over });
  // The body the provider got, after a 200.
  const sentFor = async (model, over) => {
    const res = await chat(model, over);
    assert.equal(res.status, 200, res.text);
    return { res, body: (await sim.stats()).last_body };
  };
  const REASONING_FIELDS = ['reasoning', 'reasoning_effort', 'thinking', 'enable_thinking', 'thinking_budget'];
  const reasoningOf = (body) => Object.fromEntries(REASONING_FIELDS.filter((k) => k in body).map((k) => [k, body[k]]));

  test('the endpoint list shows each endpoint\'s reasoning_format', async () => {
    for (const [model, format] of [['xf-thinking', 'thinking'], ['xf-budget', 'thinking_budget'],
      ['xf-effort-default', 'reasoning_effort'], ['xf-none', 'none']]) {
      const res = await gw.get(`/v1/models/${model}/endpoints`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().data[0].capabilities.reasoning_format, format, model);
    }
  });

  test('effort high to a "thinking" endpoint sends thinking {type enabled, budget_tokens 0.8 × the limit}', async () => {
    const { body } = await sentFor('xf-thinking', { max_tokens: 2000, reasoning: { effort: 'high' } });
    assert.deepEqual(reasoningOf(body), { thinking: { type: 'enabled', budget_tokens: 1600 } });
  });

  test('a small effort\'s budget is raised to 1024', async () => {
    const { body } = await sentFor('xf-thinking', { max_tokens: 2000, reasoning: { effort: 'low' } });
    assert.deepEqual(reasoningOf(body), { thinking: { type: 'enabled', budget_tokens: 1024 } });
  });

  test('reasoning.max_tokens to a "thinking" endpoint is the budget as given', async () => {
    const { body } = await sentFor('xf-thinking', { max_tokens: 2000, reasoning: { max_tokens: 1500 } });
    assert.deepEqual(reasoningOf(body), { thinking: { type: 'enabled', budget_tokens: 1500 } });
  });

  test('a limit of 1024 or less leaves no room for a budget: nothing is sent', async () => {
    const { body } = await sentFor('xf-thinking', { max_tokens: 1000, reasoning: { effort: 'high' } });
    assert.deepEqual(reasoningOf(body), {});
  });

  test('effort none sends nothing', async () => {
    const { body } = await sentFor('xf-thinking', { max_tokens: 2000, reasoning: { effort: 'none' } });
    assert.deepEqual(reasoningOf(body), {});
  });

  test('effort medium to a "thinking_budget" endpoint sends enable_thinking and thinking_budget', async () => {
    const { body } = await sentFor('xf-budget', { max_tokens: 4000, reasoning: { effort: 'medium' } });
    assert.deepEqual(reasoningOf(body), { enable_thinking: true, thinking_budget: 2000 });
  });

  test('effort high to a "reasoning_effort" endpoint sends reasoning_effort high', async () => {
    const { body } = await sentFor('xf-effort', { reasoning: { effort: 'high' } });
    assert.deepEqual(reasoningOf(body), { reasoning_effort: 'high' });
  });

  test('an effort the endpoint does not list goes as the nearest it does: xhigh as high, minimal as low', async () => {
    assert.deepEqual(reasoningOf((await sentFor('xf-effort', { reasoning: { effort: 'xhigh' } })).body),
      { reasoning_effort: 'high' });
    assert.deepEqual(reasoningOf((await sentFor('xf-effort', { reasoning: { effort: 'minimal' } })).body),
      { reasoning_effort: 'low' });
  });

  test('reasoning.max_tokens to a "reasoning_effort" endpoint goes as the effort its share of the limit is', async () => {
    const { body } = await sentFor('xf-effort', { max_tokens: 2000, reasoning: { max_tokens: 1700 } });
    assert.deepEqual(reasoningOf(body), { reasoning_effort: 'high' }, '0.85 of the limit');
  });

  test('an endpoint with reasoning_effort values and no reasoning_format takes reasoning_effort', async () => {
    const { body } = await sentFor('xf-effort-default', { reasoning: { effort: 'medium' } });
    assert.deepEqual(reasoningOf(body), { reasoning_effort: 'medium' });
  });

  test('a "none" endpoint gets nothing of the reasoning object', async () => {
    const { body } = await sentFor('xf-none', { max_tokens: 2000, reasoning: { effort: 'high' } });
    assert.deepEqual(reasoningOf(body), {});
  });

  test('reasoning enabled: true alone asks for effort medium', async () => {
    const { body } = await sentFor('xf-effort', { reasoning: { enabled: true } });
    assert.deepEqual(reasoningOf(body), { reasoning_effort: 'medium' });
  });

  test('a top-level reasoning_effort the model maps goes as the mapped value, said in x-fluxgate-reasoning-effort', async () => {
    const { res, body } = await sentFor('xf-mapped', { reasoning_effort: 'xhigh' });
    assert.equal(body.reasoning_effort, 'high');
    assert.equal(res.headers['x-fluxgate-reasoning-effort'], 'xhigh->high');
    const low = await sentFor('xf-mapped', { reasoning_effort: 'minimal' });
    assert.equal(low.body.reasoning_effort, 'low');
    assert.equal(low.res.headers['x-fluxgate-reasoning-effort'], 'minimal->low');
  });

  test('a top-level reasoning_effort the endpoint accepts goes as asked, with no header', async () => {
    const { res, body } = await sentFor('xf-mapped', { reasoning_effort: 'medium' });
    assert.equal(body.reasoning_effort, 'medium');
    assert.equal(res.headers['x-fluxgate-reasoning-effort'], undefined);
  });

  test('a top-level reasoning_effort neither accepted nor mapped is 400 listing the accepted values', async () => {
    const res = await chat('xf-mapped', { reasoning_effort: 'none' });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json().error.code, 'unsupported_parameter');
    assert.equal(res.json().error.param, 'reasoning_effort');
    for (const v of ['low', 'medium', 'high']) assert.ok(res.json().error.message.includes(v));
    assert.equal(await sim.requests(), 0);
  });
});

describe('a healed stream is bounded by upstream.max_body_bytes', () => {
  let sim;
  let gw;

  before(async () => {
    sim = await startSim();
    gw = await startGateway({
      sim,
      config: { upstream: { max_body_bytes: 65536 } },
      models: { models: [simModel('xf-big-fence', 'sim-badjson-fence', { context_window: 262144, max_output_tokens: 60000 })] },
    });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  test('content past the bound is sent as it came, whole, and the stream ends normally', async () => {
    // A 70,000-byte echo: its fenced content passes the 64 KiB the
    // gateway may hold.
    const user = 'x'.repeat(70000);
    const s = await streamRequest(`${gw.url}${URL_PATH}`, {
      model: 'xf-big-fence', messages: [{ role: 'user', content: user }], stream: true,
      response_format: { type: 'json_object' }, max_tokens: 40000,
      plugins: [{ id: 'response-healing' }],
    }, { timeoutMs: 60000 });   // 70 k tokens: slow under ASan on a busy machine
    assert.equal(s.status, 200);
    const end = await s.done;
    assert.equal(end.error, null);
    assert.ok(sseData(end.text).includes('[DONE]'));
    const text = deltasOf(chunksOf(end.text), 'content').join('');
    assert.equal(text, simBadJson(JSON.stringify({ echo: user })).fence, 'nothing lost, nothing repaired');
  });
});
