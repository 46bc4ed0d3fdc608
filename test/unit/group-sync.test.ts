import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupSync } from '../../src/util/group-sync.js';

/** A sync whose completion the test controls. */
function controlledSync() {
  const pending: (() => void)[] = [];
  const failing: ((err: Error) => void)[] = [];
  let started = 0;
  const group = new GroupSync(
    () =>
      new Promise<void>((resolve, reject) => {
        started++;
        pending.push(resolve);
        failing.push(reject);
      }),
  );
  return {
    group,
    started: () => started,
    finish: () => pending.shift()!(),
    fail: (err: Error) => {
      pending.shift();
      failing.shift()!(err);
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('group_sync_callers_arriving_during_a_sync_share_the_next_one', async () => {
  const s = controlledSync();
  let firstDone = false;
  const first = s.group.sync().then(() => (firstDone = true));
  assert.equal(s.started(), 1);
  // 50 callers arrive while the first sync runs: their writes may postdate it, so they need another.
  let laterDone = 0;
  const later = Array.from({ length: 50 }, () => s.group.sync().then(() => laterDone++));
  await tick();
  assert.equal(s.started(), 1, 'the second sync waits for the first to finish');
  s.finish();
  await first;
  assert.equal(firstDone, true);
  await tick();
  assert.equal(laterDone, 0, 'the first sync does not release callers that arrived during it');
  assert.equal(s.started(), 2, 'one sync serves all 50');
  s.finish();
  await Promise.all(later);
  assert.equal(laterDone, 50);
  assert.equal(s.group.syncs, 2);
});

test('group_sync_idle_caller_starts_a_sync_at_once_and_failures_reach_their_callers', async () => {
  const s = controlledSync();
  const a = s.group.sync();
  const b = s.group.sync();
  s.fail(new Error('EIO'));
  await assert.rejects(a, /EIO/);
  await tick();
  assert.equal(s.started(), 2, 'the waiting caller still gets its own sync after a failure');
  s.fail(new Error('EIO again'));
  await assert.rejects(b, /EIO again/);
  const c = s.group.sync();
  assert.equal(s.started(), 3, 'an idle group starts at once');
  s.finish();
  await c;
});
