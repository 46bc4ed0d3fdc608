/**
 * `--config FILE`: YAML or JSON settings under the configuration's own names,
 * validated by the same schema; precedence flags > environment > file > defaults;
 * clear errors that never quote the file (it may hold secrets).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { exposedSecretsWarning, readConfigFile } from '../../src/config/config-file.js';
import { loadConfig } from '../../src/config/config.js';

const dir = mkdtempSync(join(tmpdir(), 'coffer-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

test('flags_win_over_environment_over_file_over_defaults', () => {
  const path = file('all.yaml', 'port: 3\nregion: eu-west-3\ndataDir: /srv/coffer\naddress: 0.0.0.0\ndomains: [s3.example.com, s3.example.net]\n');
  const values = readConfigFile(path);
  const c = loadConfig({ port: '1' }, { COFFER_PORT: '2', COFFER_REGION: 'eu-west-2' }, { path, values });
  assert.equal(c.port, 1, 'flag over environment and file');
  assert.equal(c.region, 'eu-west-2', 'environment over file');
  assert.equal(c.dataDir, '/srv/coffer', 'file over default');
  assert.equal(c.address, '0.0.0.0');
  assert.deepEqual(c.domains, ['s3.example.com', 's3.example.net']);
  assert.equal(c.logLevel, 'info', 'default where nobody says');
  assert.ok(Object.isFrozen(c));
});

test('json_files_and_typed_values_are_read_and_validated_by_the_schema', () => {
  const path = file('c.json', JSON.stringify({ port: 9100, workers: 2, allowInsecureSseC: true, domains: 'a.example,b.example', metricsToken: 'a-token-of-enough-length' }));
  const c = loadConfig({}, {}, { path, values: readConfigFile(path) });
  assert.equal(c.port, 9100);
  assert.equal(c.workers, 2);
  assert.equal(c.allowInsecureSseC, true);
  assert.deepEqual(c.domains, ['a.example', 'b.example']);
  assert.equal(c.metricsToken, 'a-token-of-enough-length');
  // An empty file is no settings at all.
  assert.equal(loadConfig({}, {}, { path: file('empty.yaml', ''), values: readConfigFile(join(dir, 'empty.yaml')) }).port, 9000);
});

test('bad_files_get_clear_errors_that_never_quote_their_contents', () => {
  assert.throws(() => readConfigFile(join(dir, 'absent.yaml')), /cannot read the configuration file .*absent\.yaml: ENOENT/);
  const broken = file('broken.yaml', 'secretAccessKey: [hunter2-secret-value\nport: 1\n');
  assert.throws(
    () => readConfigFile(broken),
    (err: Error) => /is not valid YAML or JSON/.test(err.message) && !err.message.includes('hunter2'),
  );
  assert.throws(() => readConfigFile(file('list.yaml', '- port\n- 1\n')), /must hold a mapping/);
  assert.throws(() => readConfigFile(file('dup.yaml', 'port: 1\nport: 2\n')), /not valid YAML/);
  const unknown = file('unknown.yaml', 'prot: 9000\n');
  assert.throws(() => loadConfig({}, {}, { path: unknown, values: readConfigFile(unknown) }), /unknown\.yaml: unknown setting 'prot'/);
  const invalid = file('invalid.yaml', 'port: 70000\nmetricsToken: short\n');
  assert.throws(
    () => loadConfig({}, {}, { path: invalid, values: readConfigFile(invalid) }),
    (err: Error) => /invalid configuration: .*port/.test(err.message) && /metricsToken: the metrics token must be at least 16 characters/.test(err.message) && !err.message.includes('short'),
  );
});

test('a_file_holding_secrets_readable_by_others_is_warned_about', () => {
  const path = file('secret.yaml', 'secretAccessKey: 0123456789abcdef\naccessKeyId: AKIDEXAMPLE\n');
  assert.equal(exposedSecretsWarning(path, readConfigFile(path)), undefined, 'mode 0600: fine');
  chmodSync(path, 0o644);
  assert.match(exposedSecretsWarning(path, readConfigFile(path)) ?? '', /holds secretAccessKey and is readable by other users \(mode 0644\)/);
  const plain = file('plain.yaml', 'port: 1\n');
  chmodSync(plain, 0o644);
  assert.equal(exposedSecretsWarning(plain, readConfigFile(plain)), undefined, 'no secret in it');
});
