// Usage a provider reports that no reply to the request could have
// (worker/meter.c meter_usage_is_possible): negative counts, completion
// tokens over the output limit sent times n, prompt tokens over the
// model's context window. Such a reply is malformed: charged the worst
// case it was reserved for, its record flagged provider_usage_malformed,
// counted in fluxgate_provider_usage_invalid_total; the reply's charge,
// the record and the balance agree. (Usage within those bounds but priced
// beyond the reservation stays uncharged_micro: 46-usage.)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { stopAll, shippedModels, simModel, sseData, startGateway, startSim, usageJournal, waitFor } from '../lib/harness.mjs';
import { NO_TOKENIZER, promptBounds } from '../lib/tokens.mjs';

const URL_PATH = '/v1/chat/completions';
const PRICE = { prompt_per_mtok_micro: 1000000, completion_per_mtok_micro: 2000000 };
const MODELS = {
  models: [...shippedModels(),
    simModel('neg-chat', 'sim-negative-usage', { pricing: PRICE }),
    simModel('overcount-chat', 'sim-overcount-10', { pricing: PRICE }),
    simModel('overwindow-chat', 'sim-overprompt-1000', { pricing: PRICE, context_window: 64 }),
    simModel('overprompt-chat', 'sim-overprompt-10', { pricing: PRICE })],
};
const START = 10000000;

// Micro-credits for @prompt and @completion tokens at PRICE, rounded up.
const cost = (prompt, completion) => Math.ceil((prompt * PRICE.prompt_per_mtok_micro
  + completion * PRICE.completion_per_mtok_micro) / 1000000);
// What worker/meter.c reserves: the prompt's upper bound (these models have
// no tokenizer: its bytes and the template's most), max_tokens × n.
const worstCase = (body) => cost(promptBounds(body, NO_TOKENIZER).upper,
  body.max_tokens * (body.n ?? 1));

describe('usage a provider could not have reported', () => {
  let sim;
  let gw;
  let key;

  before(async () => {
    sim = await startSim();
    gw = await startGateway({ sim, models: MODELS, config: { workers: 1 } });
    key = await gw.createKey({ name: 'invalid-usage', energy: { balance_micro: START } });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  const balance = async () => (await gw.admin('GET', `/admin/v1/keys/${key.id}`)).json().energy.balance_micro;
  const recordOf = (id) => waitFor(`the usage record of ${id}`, () => usageJournal(gw.dataDir).lines
    .map((l) => l.record).find((r) => r.request_id === id), { tries: 200, every: 25 });
  const send = async (body) => {
    const before = await balance();
    const res = await gw.post(URL_PATH, body, { authorization: `Bearer ${key.secret}` });
    assert.equal(res.status, 200, res.text);
    const rec = await recordOf(res.headers['x-request-id']);
    return { res, rec, paid: before - await balance() };
  };

  test('negative completion tokens are charged the reservation in full, never a negative charge', async () => {
    const body = { model: 'neg-chat', max_tokens: 7, messages: [{ role: 'user', content: 'hello there' }] };
    const { res, rec, paid } = await send(body);
    assert.equal(res.json().usage.completion_tokens, -5000000, 'the sim lied as asked');
    const charged = Number(res.headers['x-fluxgate-charged-micro']);
    assert.equal(charged, worstCase(body));
    assert.equal(rec.charged_micro, charged);
    assert.equal(paid, charged);
    assert.ok(rec.flags.includes('provider_usage_malformed'), JSON.stringify(rec));
    assert.ok(rec.completion_tokens >= 0 && rec.prompt_tokens >= 0, JSON.stringify(rec));
  });

  test('a stream\'s negative usage chunk: the billing it shows, the record and the balance agree', async () => {
    const body = { model: 'neg-chat', max_tokens: 7, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hello there' }] };
    const { res, rec, paid } = await send(body);
    const chunk = sseData(res.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d)).find((c) => c.usage);
    assert.equal(chunk.fluxgate_billing.charged_micro, worstCase(body));
    assert.equal(rec.charged_micro, chunk.fluxgate_billing.charged_micro);
    assert.equal(paid, rec.charged_micro);
    assert.ok(rec.flags.includes('provider_usage_malformed'), JSON.stringify(rec));
  });

  test('completion tokens over max_tokens × n are malformed: the worst case, flagged, nothing uncharged', async () => {
    const body = { model: 'overcount-chat', max_tokens: 5, n: 2, messages: [{ role: 'user', content: 'hello there' }] };
    const { res, rec, paid } = await send(body);
    assert.ok(res.json().usage.completion_tokens > 10, JSON.stringify(res.json().usage));
    assert.equal(rec.charged_micro, worstCase(body));
    assert.equal(Number(res.headers['x-fluxgate-charged-micro']), rec.charged_micro);
    assert.equal(paid, rec.charged_micro);
    assert.equal(rec.uncharged_micro, 0);
    assert.ok(rec.flags.includes('provider_usage_malformed'), JSON.stringify(rec));
  });

  test('prompt tokens over the model\'s context window are malformed', async () => {
    const body = { model: 'overwindow-chat', max_tokens: 5, messages: [{ role: 'user', content: 'hello there' }] };
    const { rec, paid } = await send(body);
    assert.ok(rec.flags.includes('provider_usage_malformed'), JSON.stringify(rec));
    assert.equal(rec.charged_micro, worstCase(body));
    assert.equal(paid, rec.charged_micro);
  });

  test('prompt tokens beyond the estimate but within the window are charged, the rest uncharged, not flagged', async () => {
    const body = { model: 'overprompt-chat', max_tokens: 5, messages: [{ role: 'user', content: 'hello there' }] };
    const { res, rec, paid } = await send(body);
    assert.ok(!rec.flags.includes('provider_usage_malformed'), JSON.stringify(rec));
    const { usage } = res.json();
    assert.equal(rec.charged_micro + rec.uncharged_micro, cost(usage.prompt_tokens, usage.completion_tokens));
    assert.equal(paid, rec.charged_micro);
  });

  test('fluxgate_provider_usage_invalid_total counts them by model and provider', async () => {
    const text = await gw.scrape();
    const count = (model) => Number((text.match(new RegExp(
      `^fluxgate_provider_usage_invalid_total\\{model="${model}",provider="demo"\\} (\\d+)$`, 'm')) || [])[1]);
    assert.equal(count('neg-chat'), 2, text.split('\n').filter((l) => l.includes('usage_invalid')).join('\n'));
    assert.equal(count('overcount-chat'), 1);
    assert.equal(count('overwindow-chat'), 1);
    assert.equal(count('overprompt-chat'), 0);
  });
});
