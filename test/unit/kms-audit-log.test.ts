/**
 * The KMS audit log's recovery from torn records (kms-audit.ts): a record whose
 * write was cut short must spoil no record but itself — neither one glued onto
 * it by another process, nor the next one this file gets after a restart.
 * (Short writes themselves, on a really full disk: test/integration/disk-full.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { KmsAuditLog, readAuditLog, repairAuditLog, type KmsAuditEvent } from '../../src/kms/kms-audit.js';

function record(requestId: string, extra: Partial<KmsAuditEvent> = {}): string {
  const event: KmsAuditEvent = { time: new Date().toISOString(), requestId, principal: 'coffer:test', operation: 'Decrypt', outcome: 'success', ...extra };
  return JSON.stringify(event);
}

async function read(path: string): Promise<{ ids: string[]; unreadable: number[] }> {
  const unreadable: number[] = [];
  const ids: string[] = [];
  for await (const e of readAuditLog(path, {}, { onUnreadable: (n) => unreadable.push(n) })) ids.push(e.requestId);
  return { ids, unreadable };
}

describe('KMS audit log', () => {
  const dirs: string[] = [];
  const file = () => {
    const d = mkdtempSync(join(tmpdir(), 'coffer-audit-'));
    dirs.push(d);
    return join(d, 'kms-audit.log');
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('readAuditLog_keeps_a_record_glued_onto_a_torn_fragment_and_flags_the_line', async () => {
    const path = file();
    // B was cut short inside its encryption context — whose key `time` makes it look like a record start.
    const torn = record('B', { encryptionContext: { time: 'noon', other: 'x' } });
    const fragment = torn.slice(0, torn.indexOf('"other"'));
    assert.ok(fragment.includes('{"time":"noon"'), 'the fragment holds a false record start');
    writeFileSync(path, `${record('A')}\n${fragment}${record('C')}\n${record('D')}\n`);
    assert.deepEqual(await read(path), { ids: ['A', 'C', 'D'], unreadable: [2] });
  });

  test('readAuditLog_skips_and_flags_a_torn_last_line', async () => {
    const path = file();
    writeFileSync(path, `${record('A')}\n${record('B').slice(0, 40)}`);
    assert.deepEqual(await read(path), { ids: ['A'], unreadable: [2] });
  });

  test('repairAuditLog_cuts_a_torn_last_line_so_the_next_record_reads', async () => {
    const path = file();
    const a = record('A');
    const fragment = record('B').slice(0, 50);
    writeFileSync(path, `${a}\n${fragment}`);
    assert.equal(await repairAuditLog(path), fragment.length);
    assert.equal(readFileSync(path, 'utf8'), `${a}\n`);
    const log = await KmsAuditLog.open(path);
    await log.record({ requestId: 'C', principal: 'coffer:test', operation: 'Encrypt', outcome: 'success' });
    await log.close();
    assert.deepEqual(await read(path), { ids: ['A', 'C'], unreadable: [] });
  });

  test('repairAuditLog_cuts_a_log_that_is_one_torn_line_to_nothing', async () => {
    const path = file();
    writeFileSync(path, record('A').slice(0, 30));
    assert.equal(await repairAuditLog(path), 30);
    assert.equal(readFileSync(path, 'utf8'), '');
  });

  test('repairAuditLog_leaves_a_whole_or_missing_log_alone', async () => {
    const path = file();
    assert.equal(await repairAuditLog(path), 0, 'no log yet');
    const whole = `${record('A')}\n${record('B')}\n`;
    writeFileSync(path, whole);
    assert.equal(await repairAuditLog(path), 0);
    assert.equal(readFileSync(path, 'utf8'), whole);
  });
});
