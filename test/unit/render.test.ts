/**
 * The renderer's last line of defence (src/http/render.ts) and the XML text
 * escaper (src/xml/xml.ts): a header node would refuse is found before anything
 * is written, and no text makes a document that is not well-formed XML 1.0.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { releaseBody, unsendableHeader } from '../../src/http/render.js';
import { escapeXml, isXmlText } from '../../src/xml/xml.js';

describe('render', () => {
  test('unsendableHeader_finds_values_node_would_refuse', () => {
    assert.equal(unsendableHeader({ status: 200, headers: { 'content-type': 'text/plain', 'content-length': 5, etag: undefined } }), undefined);
    assert.equal(unsendableHeader({ status: 200, headers: { 'x-amz-meta-a': 'café\tok' } }), undefined, 'Latin-1 and TAB can be sent');
    for (const bad of ['a\r\nb', 'a\nb', 'a\u0000b', 'a\u007fb', 'a\u0001b', 'nằm']) {
      assert.equal(unsendableHeader({ status: 200, headers: { 'content-type': 'text/plain', 'content-disposition': bad } }), 'content-disposition', JSON.stringify(bad));
    }
    assert.equal(unsendableHeader({ status: 200, headers: { 'bad name': 'x' } }), 'bad name');
  });

  test('releaseBody_ends_a_streamed_body_that_will_not_be_sent', async () => {
    let released = false;
    async function* body(): AsyncGenerator<Buffer> {
      try {
        yield Buffer.from('never sent');
      } finally {
        released = true;
      }
    }
    const stream = body();
    await stream.next(); // started, suspended at its first yield (an open blob, say)
    await releaseBody(stream);
    assert.equal(released, true);
    await releaseBody('a string body');
    await releaseBody(undefined);
  });
});

describe('xml text', () => {
  test('escapeXml_keeps_every_document_well_formed_XML_1_0', () => {
    const table: [string, string, boolean][] = [
      ['plain', 'plain', true],
      [`&<>"'`, '&amp;&lt;&gt;&quot;&apos;', true],
      ['tab\tlf\ncr\r', 'tab\tlf\ncr&#13;', true],
      ['emoji \u{1F600}', 'emoji \u{1F600}', true],
      ['a\u0001b', 'a\uFFFDb', false],
      ['nul\u0000', 'nul\uFFFD', false],
      ['\u000b\u000c\u001f', '\uFFFD\uFFFD\uFFFD', false],
      ['\uFFFE\uFFFF', '\uFFFD\uFFFD', false],
      ['lone \uD83D surrogate', 'lone \uFFFD surrogate', false],
      ['lone \uDE00 low', 'lone \uFFFD low', false],
      ['del \u007f and c1 \u0085 are XML text', 'del \u007f and c1 \u0085 are XML text', true],
    ];
    for (const [input, escaped, ok] of table) {
      assert.equal(escapeXml(input), escaped, JSON.stringify(input));
      assert.equal(isXmlText(input), ok, JSON.stringify(input));
    }
  });
});
