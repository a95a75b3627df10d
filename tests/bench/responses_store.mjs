// The response store's cost on the request path (docs/performance.md):
// POST /v1/responses to the simulator with store true and store false,
// interleaved so both see the same machine, N of each, one at a time.
// Prints the median and p99 latency of each, and their difference.
//   FG_BIN_DIR=build/bin node tests/bench/responses_store.mjs [N]
import { startGateway, startSim } from '../lib/harness.mjs';

const n = Number(process.argv[2] || 1000);
const sim = await startSim();
const gw = await startGateway({ sim });
const times = { true: [], false: [] };
try {
  for (let i = 0; i < n * 2; i++) {
    const store = i % 2 === 0;
    const t0 = process.hrtime.bigint();
    const res = await gw.post('/v1/responses', { model: 'demo-chat', input: `turn ${i}`, store });
    times[store].push(Number(process.hrtime.bigint() - t0) / 1000);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.text}`);
  }
} finally {
  await gw.stop();
  await sim.stop();
}
const q = (a, p) => a.slice().sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
for (const k of ['false', 'true']) {
  console.log(`store ${k.padEnd(5)}  median ${q(times[k], 0.5).toFixed(0)} us  p99 ${q(times[k], 0.99).toFixed(0)} us`);
}
console.log(`store's median cost: ${(q(times.true, 0.5) - q(times.false, 0.5)).toFixed(0)} us per response`);
