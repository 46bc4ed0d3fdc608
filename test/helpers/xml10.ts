/**
 * A strict well-formedness check for response documents. fast-xml-parser's
 * validator checks structure but lets through what XML 1.0 forbids everywhere:
 * characters outside its Char production, raw or as references (`&#x1;`), which
 * strict parsers (expat, libxml2, Go's encoding/xml, Woodstox) reject.
 */
import assert from 'node:assert/strict';
import { XMLValidator } from 'fast-xml-parser';

/** XML 1.0, section 2.2: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]. */
function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

export function assertWellFormedXml10(body: Buffer | string): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (typeof body !== 'string') assert.ok(Buffer.from(text, 'utf8').equals(body), 'the document is valid UTF-8');
  assert.equal(XMLValidator.validate(text), true, `well-formed structure: ${text}`);
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    assert.ok(isXmlChar(cp), `U+${cp.toString(16).padStart(4, '0')} cannot appear in XML 1.0: ${JSON.stringify(text)}`);
  }
  for (const m of text.matchAll(/&#(x[0-9a-fA-F]+|[0-9]+);/g)) {
    const ref = m[1]!;
    const cp = ref.startsWith('x') ? parseInt(ref.slice(1), 16) : Number(ref);
    assert.ok(isXmlChar(cp), `the reference ${m[0]} names a character XML 1.0 forbids`);
  }
}
