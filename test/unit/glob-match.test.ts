/**
 * The policy language's wildcard matcher (`*` and `?` in Resource, Action and
 * StringLike/ArnLike conditions). It must agree with the obvious definition
 * and take time linear in value × pattern length whatever the pattern: a
 * backtracking regex took exponential time (issue: policy wildcards backtrack).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { globMatch } from '../../src/auth/access/policy.js';

/** The definition, by dynamic programming: the reference the fast matcher must agree with. */
function reference(pattern: string, value: string): boolean {
  let row = new Array<boolean>(value.length + 1).fill(false);
  row[0] = true;
  for (const c of pattern) {
    const next = new Array<boolean>(value.length + 1).fill(false);
    if (c === '*') {
      let any = false;
      for (let j = 0; j <= value.length; j++) next[j] = any = any || row[j]!;
    } else {
      for (let j = 1; j <= value.length; j++) next[j] = row[j - 1]! && (c === '?' || c === value[j - 1]);
    }
    row = next;
  }
  return row[value.length]!;
}

describe('globMatch', () => {
  test('a table of AWS-style patterns', () => {
    const rows: [string, string, boolean][] = [
      ['arn:aws:s3:::b/*', 'arn:aws:s3:::b/k', true],
      ['arn:aws:s3:::b/*', 'arn:aws:s3:::b/', true],
      ['arn:aws:s3:::b/*', 'arn:aws:s3:::b', false],
      ['arn:aws:s3:::b/*.tmp', 'arn:aws:s3:::b/x/y.tmp', true],
      ['arn:aws:s3:::b/*.tmp', 'arn:aws:s3:::b/x/y.tmpx', false],
      ['arn:aws:s3:::b/??', 'arn:aws:s3:::b/ab', true],
      ['arn:aws:s3:::b/??', 'arn:aws:s3:::b/abc', false],
      ['s3:Get*', 's3:GetObject', true],
      ['s3:*Object', 's3:PutObject', true],
      ['*', '', true],
      ['', '', true],
      ['', 'a', false],
      ['a*b*c', 'abc', true],
      ['a*b*c', 'acb', false],
      ['*ab*ab*', 'xabyab', true],
      ['*ab*ab*', 'xaby', false],
      ['*a?c*', 'zzabcz', true],
      // Characters that are special to regular expressions are literal here.
      ['b/(x)+[y].$', 'b/(x)+[y].$', true],
      ['b/.*', 'b/ab', false],
    ];
    for (const [pattern, value, expected] of rows) {
      assert.equal(globMatch(pattern, value, { caseInsensitive: false }), expected, `${pattern} ~ ${value}`);
    }
    assert.equal(globMatch('S3:GET*', 's3:getobject', { caseInsensitive: true }), true);
    assert.equal(globMatch('S3:GET*', 's3:getobject', { caseInsensitive: false }), false);
  });

  test('agrees with the definition on random short patterns and values', () => {
    // A seeded generator, so a failure reproduces.
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = (alphabet: string, max: number) => Array.from({ length: rand(max + 1) }, () => alphabet[rand(alphabet.length)]).join('');
    for (let i = 0; i < 20_000; i++) {
      const pattern = pick('ab*?/', 8);
      const value = pick('ab/', 10);
      assert.equal(globMatch(pattern, value, { caseInsensitive: false }), reference(pattern, value), `${JSON.stringify(pattern)} ~ ${JSON.stringify(value)}`);
    }
  });

  test('hostile patterns against long values take milliseconds, not exponential time', () => {
    const cases: [string, string][] = [
      // The reported one: ten `*` separated by `/`, against a key of 1,000 and of 16,000 `/`.
      [`arn:aws:s3:::b/${Array(10).fill('*').join('/')}.tmp`, `arn:aws:s3:::b/${'/'.repeat(1000)}`],
      [`arn:aws:s3:::b/${Array(10).fill('*').join('/')}.tmp`, `arn:aws:s3:::b/${'/'.repeat(16_000)}`],
      // Classic worst cases for backtracking and for naive two-pointer matching.
      [`${'*a'.repeat(2000)}b`, 'a'.repeat(16_000)],
      [`*${'a'.repeat(8000)}b`, 'a'.repeat(16_000)],
      [`*${'a?'.repeat(500)}b`, 'a'.repeat(4000)],
    ];
    for (const [pattern, value] of cases) {
      const started = performance.now();
      assert.equal(globMatch(pattern, value, { caseInsensitive: false }), false);
      const ms = performance.now() - started;
      assert.ok(ms < 200, `${pattern.slice(0, 40)}… took ${ms.toFixed(1)} ms`);
    }
  });
});
