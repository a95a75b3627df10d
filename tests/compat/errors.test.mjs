// Errors through the official openai SDK: every gateway error must surface
// as the SDK's typed error class with the status, code, param and type of
// the gateway's OpenAI-format error body (common/base/errors.h), and a stream
// that breaks after it started must make the SDK throw, not end silently.
// Upstream failures come from fg-sim's fault modes (the harness's
// FAULT_MODELS: fault-500, fault-429, fault-reset, ...).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import { stopAll, shippedModels, simModel, startGateway, startSim, waitFor } from '../lib/harness.mjs';

let sim;
let gw;
let client;

before(async () => {
  sim = await startSim();
  gw = await startGateway({
    sim,
    models: {
      models: [...shippedModels(),
        // Room for 200 tokens, counted exactly.
        simModel('small-window', 'sim-small', {
          context_window: 200, max_output_tokens: 50, tokens: { tokenizer: 'o200k_base' },
        })],
    },
  });
  client = new OpenAI({
    baseURL: `${gw.url}/v1`, apiKey: gw.key, maxRetries: 0, timeout: 10000,
  });
});

after(async () => {
  await stopAll(gw, sim);
});

const USER = [{ role: 'user', content: 'one two three four' }];

function chat(model, extra = {}) {
  return client.chat.completions.create({ model, messages: USER, ...extra });
}

// Asserts that `err` is an instance of `cls` with the given fields; returns
// true for assert.rejects.
function isError(err, cls, fields) {
  assert.ok(err instanceof cls,
    `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
  assert.ok(err instanceof OpenAI.APIError);
  for (const [k, v] of Object.entries(fields)) {
    assert.equal(err[k], v, `${k}: ${JSON.stringify(err[k])} (${err.message})`);
  }
  return true;
}

// Iterates a stream to its end; returns the text seen and what was thrown.
async function drain(stream) {
  let text = '';
  try {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  } catch (err) {
    return { text, err };
  }
  return { text, err: null };
}

describe('errors before a reply', () => {
  test('an out-of-range temperature is a BadRequestError with code VALIDATION_OUT_OF_RANGE and param temperature', async () => {
    await assert.rejects(chat('demo-chat', { temperature: 5 }), (err) => {
      isError(err, OpenAI.BadRequestError, {
        status: 400, code: 'VALIDATION_OUT_OF_RANGE', param: 'temperature',
        type: 'invalid_request_error',
      });
      assert.match(err.message, /^400 .*temperature/);
      assert.ok(err.requestID, 'the error carries the x-request-id');
      return true;
    });
  });

  test('a prompt too long for the model\'s context window is a BadRequestError with code context_length_exceeded and param messages', async () => {
    const messages = [{ role: 'user', content: 'hello '.repeat(300) }];
    await assert.rejects(client.chat.completions.create({ model: 'small-window', messages, max_tokens: 50 }),
      (err) => {
        isError(err, OpenAI.BadRequestError, {
          status: 400, code: 'context_length_exceeded', param: 'messages',
          type: 'invalid_request_error',
        });
        assert.match(err.message, /maximum context length is 200 tokens\. However, you requested \d+ tokens/);
        return true;
      });
  });

  test('a missing messages field is a BadRequestError with code VALIDATION_REQUIRED_FIELD', async () => {
    await assert.rejects(client.chat.completions.create({ model: 'demo-chat' }),
      (err) => isError(err, OpenAI.BadRequestError, {
        status: 400, code: 'VALIDATION_REQUIRED_FIELD', param: 'messages',
      }));
  });

  test('an unknown model is a NotFoundError with code model_not_found', async () => {
    await assert.rejects(chat('no-such-model'), (err) => isError(err, OpenAI.NotFoundError, {
      status: 404, code: 'model_not_found', param: 'model', type: 'invalid_request_error',
    }));
  });

  test('an upstream 500 is an APIError (InternalServerError) with status 502 and code INFERENCE_PROVIDER_ERROR', async () => {
    await assert.rejects(chat('fault-500'), (err) => isError(err, OpenAI.InternalServerError, {
      status: 502, code: 'INFERENCE_PROVIDER_ERROR', type: 'api_error',
    }));
  });

  test('an upstream 500 to a stream request rejects create() itself with status 502', async () => {
    await assert.rejects(chat('fault-500', { stream: true }),
      (err) => isError(err, OpenAI.InternalServerError, {
        status: 502, code: 'INFERENCE_PROVIDER_ERROR',
      }));
  });

  test('an upstream 429 is a RateLimitError with status 429 and the upstream Retry-After', async () => {
    await assert.rejects(chat('fault-429'), (err) => {
      isError(err, OpenAI.RateLimitError, {
        status: 429, code: 'INFERENCE_PROVIDER_RATE_LIMITED', type: 'rate_limit_error',
      });
      assert.equal(err.headers.get('retry-after'), '1');
      return true;
    });
  });

  test("an upstream 400 reaches the client as a BadRequestError with the upstream's own code", async () => {
    await assert.rejects(chat('fault-400'), (err) => {
      isError(err, OpenAI.BadRequestError, { status: 400, type: 'invalid_request_error' });
      assert.equal(typeof err.code, 'string');
      assert.ok(err.message.length > '400 '.length);
      return true;
    });
  });

  test('a malformed upstream reply is an InternalServerError with status 502', async () => {
    await assert.rejects(chat('fault-malformed'), (err) => isError(err, OpenAI.InternalServerError, {
      status: 502, code: 'INFERENCE_PROVIDER_ERROR',
    }));
  });

  test('an upstream that drops the connection before replying is an InternalServerError with status 502', async () => {
    await assert.rejects(chat('fault-reset'), (err) => isError(err, OpenAI.InternalServerError, {
      status: 502, code: 'INFERENCE_PROVIDER_ERROR',
    }));
  });

  test('a stalled upstream lets the SDK time out, and the gateway cancels the upstream call', async () => {
    const cancelledBefore = (await sim.stats()).cancelled;
    const call = client.chat.completions.create(
      { model: 'fault-stall', messages: USER }, { timeout: 500 });
    await assert.rejects(call, (err) => {
      assert.ok(err instanceof OpenAI.APIConnectionTimeoutError,
        `got ${err?.constructor?.name}: ${err?.message}`);
      return true;
    });
    await waitFor('the upstream call to be cancelled',
      async () => (await sim.stats()).cancelled > cancelledBefore);
  });
});

describe('endpoints and models the gateway does not serve', () => {
  test('embeddings.create() of a chat model is a NotFoundError with code no_matching_endpoint', async () => {
    await assert.rejects(
      client.embeddings.create({ model: 'demo-chat', input: 'hi' }),
      (err) => isError(err, OpenAI.NotFoundError, { status: 404, code: 'no_matching_endpoint', param: 'model' }),
    );
  });

  test('an endpoint the gateway does not have is a NotFoundError with code not_found', async () => {
    await assert.rejects(
      client.post('/audio/speech', { body: { model: 'demo-chat', input: 'hi', voice: 'alloy' } }),
      (err) => isError(err, OpenAI.NotFoundError, { status: 404, code: 'not_found' }),
    );
  });

  test('models.delete() is an APIError with status 405 and code method_not_allowed', async () => {
    await assert.rejects(client.models.delete('demo-chat'),
      (err) => isError(err, OpenAI.APIError, { status: 405, code: 'method_not_allowed' }));
  });
});

describe('errors in the middle of a stream', () => {
  test('a stream whose upstream resets mid-way throws an APIError carrying the error message', async () => {
    const stream = await chat('fault-reset', { stream: true });
    const { text, err } = await drain(stream);
    assert.ok(err, `the stream ended silently after ${JSON.stringify(text)}`);
    isError(err, OpenAI.APIError, { code: 'INFERENCE_PROVIDER_ERROR', type: 'api_error' });
    assert.equal(typeof err.error?.message, 'string');
    assert.ok(err.error.message.length > 0);
    assert.equal(err.message, err.error.message);
    assert.match(text, /^echo:/, 'the tokens sent before the break arrived');
  });

  test('a stream whose upstream sends a malformed event throws an APIError, not a JSON SyntaxError', async () => {
    const stream = await chat('fault-malformed', { stream: true });
    const { text, err } = await drain(stream);
    assert.ok(err, `the stream ended silently after ${JSON.stringify(text)}`);
    isError(err, OpenAI.APIError, { code: 'INFERENCE_PROVIDER_ERROR' });
    assert.ok(err.message.length > 0);
    assert.match(text, /^echo:/);
  });

  test('the stream helper rejects finalChatCompletion() when the upstream resets mid-way', async () => {
    const stream = client.chat.completions.stream({
      model: 'fault-reset', messages: USER,
    });
    await assert.rejects(stream.finalChatCompletion(),
      (err) => isError(err, OpenAI.APIError, { code: 'INFERENCE_PROVIDER_ERROR' }));
  });
});

describe('API keys', () => {
  const withKey = (apiKey) => new OpenAI({
    baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0, timeout: 10000,
  });

  test('an unknown key raises AuthenticationError with code invalid_api_key', async () => {
    await assert.rejects(
      withKey(`fg-${'A'.repeat(43)}`).chat.completions.create({ model: 'demo-chat', messages: USER }),
      (err) => isError(err, OpenAI.AuthenticationError,
        { status: 401, code: 'invalid_api_key', type: 'authentication_error' }));
  });

  test('a revoked key raises AuthenticationError with code key_revoked', async () => {
    const k = await gw.createKey({ name: 'to revoke' });
    assert.equal((await gw.admin('POST', `/admin/v1/keys/${k.id}/revoke`)).status, 200);
    await assert.rejects(
      withKey(k.secret).models.list(),
      (err) => isError(err, OpenAI.AuthenticationError, { status: 401, code: 'key_revoked' }));
  });

  test('a model the key may not use raises PermissionDeniedError with code model_not_allowed', async () => {
    const k = await gw.createKey({ name: 'narrow', models: ['demo-reasoner'] });
    await assert.rejects(
      withKey(k.secret).chat.completions.create({ model: 'demo-chat', messages: USER }),
      (err) => isError(err, OpenAI.PermissionDeniedError,
        { status: 403, code: 'model_not_allowed', param: 'model' }));
  });
});
