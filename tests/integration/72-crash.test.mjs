// The crash report (common/base/crash.c): a worker, the syncer or the
// master that gets SIGSEGV writes to its log the signal, a backtrace and
// (a worker) the gateway ids of its requests in flight, nothing secret,
// then dies of the signal as before; the master respawns what it
// supervises. The real signal is sent: there is no crash trigger in the
// product.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  CHAT, isAlive, request, startGateway, startSim, syncerPid, waitFor,
} from '../lib/harness.mjs';

let sim;

before(async () => {
  sim = await startSim();
});

after(async () => {
  await sim?.stop();
});

const SLOW = JSON.stringify({ ...CHAT, model: 'fault-slow', max_tokens: 7 });   // about 1.2 s

// The lines of @gw's log written by process @pid's crash report, and the
// backtrace lines between its first and last.
function report(gw, pid) {
  const lines = gw.log().split('\n');
  const first = lines.findIndex((l) => l.includes(`[${pid}] crash: signal`));
  const last = lines.findIndex((l) => l.includes(`[${pid}] crash: end of report`));
  return { first, last, lines: first >= 0 && last > first ? lines.slice(first, last + 1) : [] };
}

describe('crash report', () => {
  test('a worker killed with SIGSEGV logs the signal, a backtrace and its requests in flight, dies of it and is respawned', async () => {
    const gw = await startGateway({ sim, config: { workers: 1 } });
    try {
      const [victim] = gw.workerPids();
      const before = (await sim.stats()).in_flight;
      const slow = request('POST', `${gw.url}/v1/chat/completions`, SLOW,
        gw.auth({ 'content-type': 'application/json' }), { timeoutMs: 10000 })
        .catch((e) => ({ status: 0, error: e.code || e.message }));
      await waitFor('the slow request to reach the simulator',
        async () => (await sim.stats()).in_flight > before);

      process.kill(victim, 'SIGSEGV');
      await waitFor('the worker to die', () => !isAlive(victim));
      await waitFor('its death in the log', () =>
        gw.log().includes(`(pid ${victim}) killed by signal 11`));
      const r = report(gw, victim);
      assert.ok(r.lines.length > 0, `no crash report in the log:\n${gw.log()}`);
      const text = r.lines.join('\n');
      assert.match(r.lines[0], new RegExp(`error worker#0\\[${victim}\\] crash: signal 11 \\(SIGSEGV\\), code 0, sent by pid ${process.pid}, pc 0x[0-9a-f]+`));
      assert.match(text, /crash: backtrace follows\n(.*\[0x[0-9a-f]+\]\n)+/, text);
      assert.match(text, /crash: 1 requests in flight\n.*crash: in flight: (req_[0-9a-f]{24})\n/, text);
      const id = text.match(/in flight: (req_[0-9a-f]{24})/)[1];
      assert.match(r.lines[r.lines.length - 1], /crash: end of report, dying with signal 11$/);
      // The id is the request the master settled for the dead worker.
      await waitFor('the master to settle its reservation', () =>
        gw.log().includes(`req=${id}: its worker died`));
      // Nothing secret: not the key, no header, no body.
      assert.ok(!text.includes(gw.key), 'the key is in the report');
      assert.doesNotMatch(text, /Bearer|authorization|fault-slow|messages/i);

      assert.equal((await slow).status !== 200, true);
      await waitFor('a replacement worker', () => gw.workerPids().length === 1
        && gw.workerPids()[0] !== victim, { tries: 100, every: 50 });
      await waitFor('/readyz 200', async () => (await gw.get('/readyz')).status === 200,
        { tries: 100, every: 50 });
      const res = await gw.post('/v1/chat/completions', { ...CHAT, max_tokens: 3 });
      assert.equal(res.status, 200, res.text);
    } finally {
      await gw.stop();
    }
  });

  test('the syncer killed with SIGSEGV logs its report under its own role and is respawned', async () => {
    const gw = await startGateway({ sim });
    try {
      const victim = syncerPid(gw);
      process.kill(victim, 'SIGSEGV');
      await waitFor('the syncer to die', () => !isAlive(victim));
      await waitFor('its death in the log', () =>
        gw.log().includes(`the syncer (pid ${victim}) was killed by signal 11`));
      const r = report(gw, victim);
      assert.ok(r.lines.length > 0, `no crash report in the log:\n${gw.log()}`);
      assert.match(r.lines[0], new RegExp(`error syncer\\[${victim}\\] crash: signal 11 \\(SIGSEGV\\)`));
      assert.match(r.lines.join('\n'), /crash: backtrace follows\n(.*\[0x[0-9a-f]+\]\n)+/);
      await waitFor('a new syncer', () => syncerPid(gw) !== victim && isAlive(syncerPid(gw)),
        { tries: 100, every: 50 });
      await waitFor('the admin API again', async () => {
        try {
          return (await gw.admin('GET', '/admin/v1/status')).status === 200;
        } catch {
          return false;
        }
      }, { tries: 100, every: 50 });
    } finally {
      await gw.stop();
    }
  });

  test('the master killed with SIGABRT logs its report and dies of the signal', async () => {
    const gw = await startGateway({ sim, key: false });
    try {
      gw.signal('SIGABRT');
      const status = await Promise.race([gw.exited,
        new Promise((r) => setTimeout(() => r('still running'), 10000))]);
      assert.deepEqual(status, { code: null, signal: 'SIGABRT' });
      const r = report(gw, gw.pid);
      assert.ok(r.lines.length > 0, `no crash report in the log:\n${gw.log()}`);
      assert.match(r.lines[0], new RegExp(`error master\\[${gw.pid}\\] crash: signal 6 \\(SIGABRT\\), code 0, sent by pid ${process.pid}`));
    } finally {
      await gw.stop();
    }
  });
});
