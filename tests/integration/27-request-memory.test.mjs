// Memory an authenticated request holds while it waits on its provider
// (issue 12, item 5): a 4 MiB body that parses into two million nodes
// must not hold 18 times its size until the provider answers. The parsed
// document is freed once the upstream body is built (worker/pipeline.c,
// worker/validate.c fg_validate_drop_doc); the bytes a worker's requests
// hold together are bounded by limits.worker_request_bytes (503 beyond).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { stopAll, startGateway, startSim, waitFor } from '../lib/harness.mjs';

const MiB = 1024 * 1024;
const URL_PATH = '/v1/chat/completions';
// About 4 MiB: two million zeros, each a JSON node of its own.
const ZEROS = JSON.stringify({
  model: 'fault-stall', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }],
  zeros: new Array(2000000).fill(0),
});

const rssOf = (pid) => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)[1]) * 1024;

describe('memory of requests waiting on a stalled provider', () => {
  let sim;
  let gw;

  before(async () => {
    sim = await startSim();
    // Under ASan, freed memory sits in its quarantine (256 MiB) and would
    // count as held: a small quarantine keeps the measure about this code.
    gw = await startGateway({ sim, config: { workers: 1, limits: { max_body_bytes: 8 * MiB } },
      env: { ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'quarantine_size_mb=4']
        .filter(Boolean).join(':') } });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  test('a 4 MiB body of two million zeros holds a few times its size in flight, not 18', async () => {
    const [pid] = gw.workerPids();
    const before = rssOf(pid);
    const seen = (await sim.stats()).requests;
    const n = 3;
    for (let i = 0; i < n; i++) gw.post(URL_PATH, ZEROS).catch(() => {});
    await waitFor('the stalled provider to hold every request',
      async () => (await sim.stats()).requests - seen >= n, { tries: 600, every: 50 });
    const perRequest = (rssOf(pid) - before) / n;
    const ratio = perRequest / ZEROS.length;
    console.log(`# body ${(ZEROS.length / MiB).toFixed(2)} MiB; worker RSS growth per request in flight `
      + `${(perRequest / MiB).toFixed(1)} MiB (${ratio.toFixed(1)}x the body)`);
    assert.ok(ratio < 6, `${ratio.toFixed(1)}x the body held per request`);
  });
});

describe('limits.worker_request_bytes', () => {
  let sim;
  let gw;

  before(async () => {
    sim = await startSim();
    gw = await startGateway({ sim, config: { workers: 1, limits: { worker_request_bytes: MiB } } });
  });

  after(async () => {
    await stopAll(gw, sim);
  });

  test('a body that would take a worker past its budget gets 503 service_unavailable with Retry-After; a small one still passes', async () => {
    // 300 KB, held twice (the copy and the upstream's): 600 KB of 1 MiB.
    const big = JSON.stringify({
      model: 'fault-stall', max_tokens: 1, messages: [{ role: 'user', content: 'x'.repeat(300000) }],
    });
    const seen = (await sim.stats()).requests;
    gw.post(URL_PATH, big).catch(() => {});
    await waitFor('the stalled provider to hold the first request',
      async () => (await sim.stats()).requests - seen >= 1, { tries: 600, every: 50 });
    const refused = await gw.post(URL_PATH, big);
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.json().error.code, 'service_unavailable');
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.headers['retry-after-ms'], '1000');
    assert.equal((await sim.stats()).requests - seen, 1, 'the refused request reached no provider');
    const small = await gw.post(URL_PATH, { model: 'demo-chat', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(small.status, 200, small.text);
  });
});
