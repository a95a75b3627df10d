// Request validation through the real gateway (worker/chat.c,
// worker/validate.c, common/wire/json.c): every class of error answers the
// OpenAI error shape with the right status, code and param, and never
// reaches the upstream; what is accepted reaches the upstream re-serialised,
// with the catalog's upstream model id and every unknown field unchanged.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import {
  stopAll, CHAT, request, shippedModels, simModel, startGateway, startSim,
} from '../lib/harness.mjs';

const MAX_BODY = 65536;

let sim;
let gw;

before(async () => {
  sim = await startSim();
  gw = await startGateway({
    sim,
    config: { limits: { max_body_bytes: MAX_BODY } },
    models: {
      models: [...shippedModels(), simModel('alias-chat', 'sim-small'),
        simModel('mapped-reasoner', 'sim-small', {
          reasoning_effort: ['low', 'medium', 'high'], reasoning_effort_map: { xhigh: 'high' },
        })],
    },
    env: { OPENAI_API_KEY: '' },
  });
});

after(async () => {
  await stopAll(gw, sim);
});

const MSG = [{ role: 'user', content: 'hi' }];

// Asserts the exact OpenAI error shape; returns the error object.
function assertOpenAIError(res, status, code, param) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers['content-type'] || '', /^application\/json/);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error'], res.text);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type'], res.text);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.equal(body.error.type, 'invalid_request_error', res.text);
  assert.equal(body.error.code, code, res.text);
  if (param !== undefined) assert.equal(body.error.param, param, res.text);
  return body.error;
}

// Posts `body` (an object, or a raw string) and checks that the simulator
// saw no request.
async function postRejected(body, headers) {
  const before = (await sim.stats()).requests;
  const res = await gw.post('/v1/chat/completions', body, headers);
  const after = (await sim.stats()).requests;
  assert.equal(after, before, `the rejected request reached the simulator: ${res.status} ${res.text}`);
  return res;
}

function nested(depth) {
  return '['.repeat(depth) + ']'.repeat(depth);
}

// [name, body, status, code, param]
const CASES = [
  ['a missing model is VALIDATION_REQUIRED_FIELD on model',
    { messages: MSG }, 400, 'VALIDATION_REQUIRED_FIELD', 'model'],
  ['an empty model string is VALIDATION_REQUIRED_FIELD on model',
    { model: '', messages: MSG }, 400, 'VALIDATION_REQUIRED_FIELD', 'model'],
  ['a model that is not a string is VALIDATION_INVALID_TYPE on model',
    { model: 7, messages: MSG }, 400, 'VALIDATION_INVALID_TYPE', 'model'],
  ['missing messages are VALIDATION_REQUIRED_FIELD on messages',
    { model: 'demo-chat' }, 400, 'VALIDATION_REQUIRED_FIELD', 'messages'],
  ['an empty messages array is VALIDATION_REQUIRED_FIELD on messages',
    { model: 'demo-chat', messages: [] }, 400, 'VALIDATION_REQUIRED_FIELD', 'messages'],
  ['a message that is not an object is VALIDATION_INVALID_TYPE on messages[0]',
    { model: 'demo-chat', messages: ['hi'] }, 400, 'VALIDATION_INVALID_TYPE', 'messages[0]'],
  ['an unknown role is VALIDATION_INVALID_VALUE on messages[0].role',
    { model: 'demo-chat', messages: [{ role: 'wizard', content: 'hi' }] },
    400, 'VALIDATION_INVALID_VALUE', 'messages[0].role'],
  ['content of the wrong type is VALIDATION_INVALID_TYPE on messages[0].content',
    { model: 'demo-chat', messages: [{ role: 'user', content: 42 }] },
    400, 'VALIDATION_INVALID_TYPE', 'messages[0].content'],
  ['a user message without content is VALIDATION_REQUIRED_FIELD on its content',
    { model: 'demo-chat', messages: [{ role: 'system', content: 'be brief' }, { role: 'user' }] },
    400, 'VALIDATION_REQUIRED_FIELD', 'messages[1].content'],
  ['a text part without text is VALIDATION_REQUIRED_FIELD on its path',
    { model: 'demo-chat', messages: [{ role: 'user', content: [{ type: 'text' }] }] },
    400, 'VALIDATION_REQUIRED_FIELD', 'messages[0].content[0].text'],
  ['a tool message without tool_call_id is VALIDATION_REQUIRED_FIELD',
    { model: 'demo-chat', messages: [{ role: 'tool', content: 'x' }] },
    400, 'VALIDATION_REQUIRED_FIELD', 'messages[0].tool_call_id'],
  ['temperature 3 is VALIDATION_OUT_OF_RANGE on temperature',
    { ...CHAT, temperature: 3 }, 400, 'VALIDATION_OUT_OF_RANGE', 'temperature'],
  ['a string temperature is VALIDATION_INVALID_TYPE on temperature',
    { ...CHAT, temperature: '0.5' }, 400, 'VALIDATION_INVALID_TYPE', 'temperature'],
  ['top_p -1 is VALIDATION_OUT_OF_RANGE on top_p',
    { ...CHAT, top_p: -1 }, 400, 'VALIDATION_OUT_OF_RANGE', 'top_p'],
  ['n 0 is VALIDATION_OUT_OF_RANGE on n',
    { ...CHAT, n: 0 }, 400, 'VALIDATION_OUT_OF_RANGE', 'n'],
  ['max_tokens 0 is VALIDATION_OUT_OF_RANGE on max_tokens',
    { ...CHAT, max_tokens: 0 }, 400, 'VALIDATION_OUT_OF_RANGE', 'max_tokens'],
  ['max_tokens 1.5 is VALIDATION_INVALID_TYPE on max_tokens',
    { ...CHAT, max_tokens: 1.5 }, 400, 'VALIDATION_INVALID_TYPE', 'max_tokens'],
  ['max_completion_tokens -1 is VALIDATION_OUT_OF_RANGE on max_completion_tokens',
    { ...CHAT, max_completion_tokens: -1 }, 400, 'VALIDATION_OUT_OF_RANGE', 'max_completion_tokens'],
  ['stop with 5 strings is VALIDATION_OUT_OF_RANGE on stop',
    { ...CHAT, stop: ['a', 'b', 'c', 'd', 'e'] }, 400, 'VALIDATION_OUT_OF_RANGE', 'stop'],
  ['a stop array holding a number is VALIDATION_INVALID_TYPE on stop[1]',
    { ...CHAT, stop: ['a', 1] }, 400, 'VALIDATION_INVALID_TYPE', 'stop[1]'],
  ['presence_penalty 3 is VALIDATION_OUT_OF_RANGE on presence_penalty',
    { ...CHAT, presence_penalty: 3 }, 400, 'VALIDATION_OUT_OF_RANGE', 'presence_penalty'],
  ['frequency_penalty -2.5 is VALIDATION_OUT_OF_RANGE on frequency_penalty',
    { ...CHAT, frequency_penalty: -2.5 }, 400, 'VALIDATION_OUT_OF_RANGE', 'frequency_penalty'],
  ['top_logprobs 21 is VALIDATION_OUT_OF_RANGE on top_logprobs',
    { ...CHAT, logprobs: true, top_logprobs: 21 }, 400, 'VALIDATION_OUT_OF_RANGE', 'top_logprobs'],
  ['a non-boolean stream is VALIDATION_INVALID_TYPE on stream',
    { ...CHAT, stream: 'yes' }, 400, 'VALIDATION_INVALID_TYPE', 'stream'],
  ['a bogus response_format.type is VALIDATION_INVALID_VALUE on response_format.type',
    { ...CHAT, response_format: { type: 'bogus' } }, 400, 'VALIDATION_INVALID_VALUE', 'response_format.type'],
  ['json_schema without its json_schema object is VALIDATION_REQUIRED_FIELD',
    { ...CHAT, response_format: { type: 'json_schema' } },
    400, 'VALIDATION_REQUIRED_FIELD', 'response_format.json_schema'],
  ['a json_schema whose schema is not an object is VALIDATION_INVALID_TYPE',
    { ...CHAT, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: 'str' } } },
    400, 'VALIDATION_INVALID_TYPE', 'response_format.json_schema.schema'],
  ['a tool with a bad function name is VALIDATION_INVALID_VALUE on its name',
    { ...CHAT, tools: [{ type: 'function', function: { name: 'has space', parameters: {} } }] },
    400, 'VALIDATION_INVALID_VALUE', 'tools[0].function.name'],
  ['a tool whose parameters are not an object is VALIDATION_INVALID_TYPE',
    { ...CHAT, tools: [{ type: 'function', function: { name: 'f', parameters: [] } }] },
    400, 'VALIDATION_INVALID_TYPE', 'tools[0].function.parameters'],
  ['a bogus tool_choice is VALIDATION_INVALID_VALUE on tool_choice',
    { ...CHAT, tool_choice: 'bogus' }, 400, 'VALIDATION_INVALID_VALUE', 'tool_choice'],
  ['stream_options without stream is VALIDATION_INVALID_VALUE on stream_options',
    { ...CHAT, stream_options: { include_usage: true } }, 400, 'VALIDATION_INVALID_VALUE', 'stream_options'],
  ['a logit_bias value of 101 is VALIDATION_OUT_OF_RANGE on its key',
    { ...CHAT, logit_bias: { 50256: 101 } }, 400, 'VALIDATION_OUT_OF_RANGE', 'logit_bias.50256'],
  ['a forbidden api_base is VALIDATION_FORBIDDEN_FIELD on api_base',
    { ...CHAT, api_base: 'http://169.254.169.254/' }, 400, 'VALIDATION_FORBIDDEN_FIELD', 'api_base'],
  ['a forbidden base_url is VALIDATION_FORBIDDEN_FIELD on base_url',
    { ...CHAT, base_url: 'http://127.0.0.1:1/' }, 400, 'VALIDATION_FORBIDDEN_FIELD', 'base_url'],
  ['a forbidden key inside extra_body is VALIDATION_FORBIDDEN_FIELD on its path',
    { ...CHAT, extra_body: { api_key: 'sk-steal' } }, 400, 'VALIDATION_FORBIDDEN_FIELD', 'extra_body.api_key'],
  ['a forbidden field is refused in any letter case',
    { ...CHAT, Base_URL: 'http://127.0.0.1:1/' }, 400, 'VALIDATION_FORBIDDEN_FIELD', 'Base_URL'],
  ['a body that is a JSON array is VALIDATION_INVALID_TYPE',
    [CHAT], 400, 'VALIDATION_INVALID_TYPE', null],
  ['a duplicate model key is VALIDATION_DUPLICATE_KEY',
    '{"model":"demo-chat","model":"x","messages":[{"role":"user","content":"hi"}]}',
    400, 'VALIDATION_DUPLICATE_KEY', undefined],
  ['a duplicate key in a nested object is VALIDATION_DUPLICATE_KEY',
    '{"model":"demo-chat","messages":[{"role":"user","content":"a","content":"b"}]}',
    400, 'VALIDATION_DUPLICATE_KEY', undefined],
  ['malformed JSON is VALIDATION_INVALID_JSON',
    '{"model":"demo-chat","messages":[', 400, 'VALIDATION_INVALID_JSON', null],
  ['trailing bytes after the JSON object are VALIDATION_INVALID_JSON',
    `${JSON.stringify(CHAT)} x`, 400, 'VALIDATION_INVALID_JSON', null],
  ['an escaped NUL in a string is VALIDATION_INVALID_JSON',
    '{"model":"demo-chat","messages":[{"role":"user","content":"a\\u0000b"}]}',
    400, 'VALIDATION_INVALID_JSON', null],
  ['nesting 100 deep is VALIDATION_NESTING_TOO_DEEP',
    `{"model":"demo-chat","messages":[{"role":"user","content":"hi"}],"x":${nested(100)}}`,
    400, 'VALIDATION_NESTING_TOO_DEEP', null],
  ['an unknown model is 404 model_not_found on model',
    { ...CHAT, model: 'no-such-model' }, 404, 'model_not_found', 'model'],
  ['max_tokens above the model\'s max_output_tokens is VALIDATION_OUT_OF_RANGE on max_tokens',
    { ...CHAT, max_tokens: 8193 }, 400, 'VALIDATION_OUT_OF_RANGE', 'max_tokens'],
  ['max_completion_tokens above the model\'s max_output_tokens is VALIDATION_OUT_OF_RANGE on it',
    { ...CHAT, max_completion_tokens: 100000 }, 400, 'VALIDATION_OUT_OF_RANGE', 'max_completion_tokens'],
  ['a transform other than middle-out is VALIDATION_INVALID_VALUE on its index',
    { ...CHAT, transforms: ['middle-out', 'squash'] }, 400, 'VALIDATION_INVALID_VALUE', 'transforms[1]'],
  ['the web plugin, which the gateway does not offer, is VALIDATION_INVALID_VALUE on its id',
    { ...CHAT, plugins: [{ id: 'web' }] }, 400, 'VALIDATION_INVALID_VALUE', 'plugins[0].id'],
  ['an unknown plugin is VALIDATION_INVALID_VALUE on its id',
    { ...CHAT, plugins: [{ id: 'response-healing' }, { id: 'moderation' }] }, 400,
    'VALIDATION_INVALID_VALUE', 'plugins[1].id'],
  ['an unknown member of a plugin is VALIDATION_INVALID_VALUE on its path',
    { ...CHAT, plugins: [{ id: 'context-compression', max_results: 3 }] }, 400,
    'VALIDATION_INVALID_VALUE', 'plugins[0].max_results'],
  ['a plugin listed twice is VALIDATION_INVALID_VALUE on the second',
    { ...CHAT, plugins: [{ id: 'response-healing' }, { id: 'response-healing', enabled: false }] }, 400,
    'VALIDATION_INVALID_VALUE', 'plugins[1].id'],
  ['an unknown reasoning effort is VALIDATION_INVALID_VALUE on reasoning.effort',
    { ...CHAT, reasoning: { effort: 'max' } }, 400, 'VALIDATION_INVALID_VALUE', 'reasoning.effort'],
  ['an unknown member of reasoning is VALIDATION_INVALID_VALUE on its path',
    { ...CHAT, reasoning: { budget_tokens: 100 } }, 400, 'VALIDATION_INVALID_VALUE', 'reasoning.budget_tokens'],
  ['reasoning beside reasoning_effort is VALIDATION_INVALID_VALUE on reasoning',
    { ...CHAT, model: 'demo-reasoner', reasoning_effort: 'low', reasoning: { effort: 'low' } }, 400,
    'VALIDATION_INVALID_VALUE', 'reasoning'],
  ['a reasoning budget that fills max_tokens is VALIDATION_OUT_OF_RANGE on reasoning.max_tokens',
    { ...CHAT, max_tokens: 1000, reasoning: { max_tokens: 1000 } }, 400,
    'VALIDATION_OUT_OF_RANGE', 'reasoning.max_tokens'],
  ['a reasoning_effort the model neither accepts nor maps is unsupported_parameter',
    { ...CHAT, model: 'demo-reasoner', reasoning_effort: 'max' }, 400,
    'unsupported_parameter', 'reasoning_effort'],
];

describe('rejected requests', () => {
  for (const [name, body, status, code, param] of CASES) {
    test(`${name}, and never reaches the upstream`, async () => {
      const res = await postRejected(body);
      assertOpenAIError(res, status, code, param);
    });
  }

  test('an empty body is VALIDATION_EMPTY_BODY, and never reaches the upstream', async () => {
    const res = await postRejected('');
    assertOpenAIError(res, 400, 'VALIDATION_EMPTY_BODY', null);
  });

  test('a text/plain body is 415 VALIDATION_UNSUPPORTED_MEDIA_TYPE, and never reaches the upstream', async () => {
    const res = await postRejected(JSON.stringify(CHAT), { 'content-type': 'text/plain' });
    assertOpenAIError(res, 415, 'VALIDATION_UNSUPPORTED_MEDIA_TYPE', null);
  });

  test('a body without Content-Type is 415, and never reaches the upstream', async () => {
    const before = (await sim.stats()).requests;
    const res = await request('POST', `${gw.url}/v1/chat/completions`, JSON.stringify(CHAT));
    assertOpenAIError(res, 415, 'VALIDATION_UNSUPPORTED_MEDIA_TYPE', null);
    assert.equal((await sim.stats()).requests, before);
  });

  test('application/json with a charset parameter is accepted', async () => {
    const res = await gw.post('/v1/chat/completions', CHAT,
      { 'content-type': 'application/json; charset=utf-8' });
    assert.equal(res.status, 200, res.text);
  });

  test('a body over limits.max_body_bytes is 413, and never reaches the upstream', async () => {
    const big = { ...CHAT, messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY + 1024) }] };
    const res = await postRejected(big);
    assert.equal(res.status, 413);
    assert.equal(res.json().error.code, 'VALIDATION_BODY_TOO_LARGE');
  });

  test('a body just under limits.max_body_bytes is accepted', async () => {
    const pad = MAX_BODY - JSON.stringify({ ...CHAT, max_tokens: 2, messages: [{ role: 'user', content: '' }] }).length - 16;
    const res = await gw.post('/v1/chat/completions',
      { ...CHAT, max_tokens: 2, messages: [{ role: 'user', content: 'y'.repeat(pad) }] });
    assert.equal(res.status, 200, res.text.slice(0, 300));
  });

  test('a 400 leaves the connection usable for the next keep-alive request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const a = await request('POST', `${gw.url}/v1/chat/completions`, '{bad',
        { 'content-type': 'application/json' }, { agent });
      assert.equal(a.status, 400);
      const b = await request('POST', `${gw.url}/v1/chat/completions`, JSON.stringify(CHAT),
        { 'content-type': 'application/json' }, { agent });
      assert.equal(b.status, 200, b.text);
    } finally {
      agent.destroy();
    }
  });
});

describe('accepted requests as the simulator receives them', () => {
  test('unknown fields and provider extensions are forwarded unchanged', async () => {
    const extensions = {
      top_k: 40,
      repetition_penalty: 1.1,
      verbosity: 'high',
      min_p: 0.05,
      made_up_field: { nested: [1, 'two', { three: null }], flag: false },
    };
    const res = await gw.post('/v1/chat/completions', { ...CHAT, ...extensions });
    assert.equal(res.status, 200, res.text);
    const { last_body: got } = await sim.stats();
    for (const [k, v] of Object.entries(extensions)) {
      assert.deepEqual(got[k], v, k);
    }
    assert.deepEqual(got.messages, CHAT.messages);
  });

  test('transforms, plugins and reasoning never reach the provider, which gets the reasoning in its form', async () => {
    const res = await gw.post('/v1/chat/completions', {
      ...CHAT, model: 'demo-reasoner', transforms: [], plugins: [{ id: 'response-healing', enabled: false }],
      reasoning: { effort: 'xhigh', exclude: false },
    });
    assert.equal(res.status, 200, res.text);
    const { last_body: got } = await sim.stats();
    for (const k of ['transforms', 'plugins', 'reasoning']) assert.ok(!(k in got), `"${k}" reached the provider`);
    assert.equal(got.reasoning_effort, 'high');
    assert.deepEqual(got.messages, CHAT.messages);
  });

  test('a reasoning_effort the model maps reaches the provider as the value it maps to', async () => {
    const res = await gw.post('/v1/chat/completions', { ...CHAT, model: 'mapped-reasoner', reasoning_effort: 'xhigh' });
    assert.equal(res.status, 200, res.text);
    assert.equal((await sim.stats()).last_body.reasoning_effort, 'high');
  });

  test('null optional fields are accepted and forwarded as null', async () => {
    const res = await gw.post('/v1/chat/completions', { ...CHAT, temperature: null, stop: null });
    assert.equal(res.status, 200, res.text);
    const { last_body: got } = await sim.stats();
    assert.equal(got.temperature, null);
    assert.equal(got.stop, null);
  });

  test('the forwarded model is the catalog\'s upstream id', async () => {
    const res = await gw.post('/v1/chat/completions', { ...CHAT, model: 'alias-chat' });
    assert.equal(res.status, 200, res.text);
    assert.equal((await sim.stats()).last_body.model, 'sim-small');
  });

  test('a provider-qualified model id is forwarded as the upstream id', async () => {
    const res = await gw.post('/v1/chat/completions', { ...CHAT, model: 'demo/alias-chat' });
    assert.equal(res.status, 200, res.text);
    assert.equal((await sim.stats()).last_body.model, 'sim-small');
  });

  test('a body sent with extra whitespace arrives with equal content', async () => {
    const body = { ...CHAT, temperature: 0.5, max_tokens: 3, user: 'u-1' };
    const raw = JSON.stringify(body, null, 8).replace(/\n/g, '\r\n  \t');
    const res = await gw.post('/v1/chat/completions', raw);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((await sim.stats()).last_body, body);
  });
});

// An in-process upstream that records the raw bytes and headers the gateway
// sends, and answers a fixed completion: what fg-sim's parsed last_body
// cannot show.
function startCapture() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, url: req.url, raw: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id: 'chatcmpl-capture', object: 'chat.completion', created: 1, model: 'captured',
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      seen, url: `http://127.0.0.1:${server.address().port}`,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
    }));
  });
}

describe('accepted requests as bytes on the wire', () => {
  let capture;
  let cgw;

  before(async () => {
    capture = await startCapture();
    cgw = await startGateway({
      env: { FG_DEMO_BASE_URL: `${capture.url}/v1`, OPENAI_API_KEY: '' },
      models: { models: [...shippedModels(), simModel('alias-chat', 'upstream-name')] },
    });
  });

  after(async () => {
    await cgw?.stop();
    await capture?.close();
  });

  test('the forwarded body is the client\'s own bytes with only the model renamed', async () => {
    const body = { model: 'alias-chat', messages: [{ role: 'user', content: 'a  b\n c' }], temperature: 0.5, top_k: 3 };
    const raw = `  ${JSON.stringify(body, null, 4)}\n\n`;
    const res = await cgw.post('/v1/chat/completions', raw);
    assert.equal(res.status, 200, res.text);
    const got = capture.seen.at(-1);
    assert.equal(got.url, '/v1/chat/completions');
    // What was validated and priced is what the provider parses: the same
    // bytes, white space and number spelling included.
    assert.equal(got.raw, raw.replace('"alias-chat"', '"upstream-name"'));
  });

  test('a stream that did not ask for usage gets include_usage added in its stream_options', async () => {
    const cases = [
      ['{"model":"alias-chat","stream":true,"messages":[{"role":"user","content":"hi"}]}',
        '{"stream_options":{"include_usage":true},"model":"upstream-name","stream":true,"messages":[{"role":"user","content":"hi"}]}'],
      ['{"model":"alias-chat","stream":true,"stream_options":{},"messages":[{"role":"user","content":"hi"}]}',
        '{"model":"upstream-name","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}'],
      ['{"model":"alias-chat","stream":true,"stream_options":{"x":1},"messages":[{"role":"user","content":"hi"}]}',
        '{"model":"upstream-name","stream":true,"stream_options":{"include_usage":true,"x":1},"messages":[{"role":"user","content":"hi"}]}'],
      ['{"model":"alias-chat","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"hi"}]}',
        '{"model":"upstream-name","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}'],
      ['{"model":"alias-chat","stream":true,"stream_options":null,"messages":[{"role":"user","content":"hi"}]}',
        '{"model":"upstream-name","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}'],
    ];
    for (const [sent, forwarded] of cases) {
      await cgw.post('/v1/chat/completions', sent);
      assert.equal(capture.seen.at(-1).raw, forwarded, sent);
    }
  });

  test('the upstream gets the provider\'s key and the gateway\'s request id, not the client\'s Authorization', async () => {
    const res = await cgw.post('/v1/chat/completions', CHAT,
      { 'x-request-id': 'trace-abc-123', 'x-custom': 'nope' });
    assert.equal(res.status, 200, res.text);
    const got = capture.seen.at(-1);
    assert.equal(got.headers.authorization, 'Bearer sim-key');
    assert.ok(!got.raw.includes(cgw.key) && !JSON.stringify(got.headers).includes(cgw.key),
      'the tenant\'s key reached the upstream');
    assert.equal(got.headers['x-request-id'], res.headers['x-request-id']);
    assert.equal(got.headers['x-custom'], undefined);
    assert.match(got.headers['content-type'], /^application\/json/);
  });

  test('the upstream\'s reply body reaches the client as sent', async () => {
    const res = await cgw.post('/v1/chat/completions', CHAT);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().id, 'chatcmpl-capture');
    assert.equal(res.json().model, 'captured');
  });
});
