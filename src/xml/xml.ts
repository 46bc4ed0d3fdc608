/**
 * Building and parsing S3 XML documents. Building is a tiny tree serializer
 * (S3 responses are small and regular); parsing uses fast-xml-parser with
 * entity handling that cannot expand beyond the input.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from '../errors/s3-errors.js';

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** A node value: text, a nested element list, or omitted when undefined. */
export type XmlValue = string | number | boolean | bigint | Date | (XmlNode | RawXml)[] | undefined | null;
/** One element: `[name, value]`, or `[name, value, attributes]`. */
export type XmlNode = [string, XmlValue] | [string, XmlValue, Record<string, string>];

/**
 * Markup rendered elsewhere, already escaped and well-formed, written as it is among an
 * element's children: for the long runs of one element that a template writes faster than
 * a node tree (a listing's 1000 `<Contents>`, s3/list.ts).
 */
export class RawXml {
  constructor(readonly xml: string) {}
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };

/**
 * Characters XML 1.0 cannot carry at all, not even as character references: C0 controls
 * but TAB, LF and CR; U+FFFE and U+FFFF; unpaired surrogates (its Char production).
 */
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NOT_XML_CHARS = new RegExp(NOT_XML_CHAR.source, 'g');
/** Text with none of these is written as it is: one test, where most text (keys, ids, ETags) has nothing to escape. */
const NEEDS_ESCAPING = /[&<>"'\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

/** Whether `text` can appear in an XML 1.0 document (escaped) as it is. */
export function isXmlText(text: string): boolean {
  return !NOT_XML_CHAR.test(text);
}

/**
 * Escapes text for element content and attribute values. Every document stays well-formed
 * XML 1.0: a character XML cannot carry becomes U+FFFD. Amazon S3 writes such characters as
 * references (`&#x1;`), which XML 1.0 parsers reject (expat, Go's encoding/xml, libxml2, Woodstox),
 * breaking the whole response. Listings, where keys matter, switch to encoding-type=url
 * instead (s3/list.ts); only echoes of a name the client sent (an error's Key) are lossy.
 */
export function escapeXml(text: string): string {
  if (!NEEDS_ESCAPING.test(text)) return text;
  const escaped = text.replace(/[&<>"'\r]/g, (c) => ESCAPES[c]!);
  return isXmlText(escaped) ? escaped : escaped.replace(NOT_XML_CHARS, '\uFFFD');
}

function renderValue(value: Exclude<XmlValue, undefined | null>): string {
  if (typeof value === 'string') return escapeXml(value);
  if (Array.isArray(value)) {
    let out = '';
    for (const child of value) out += child instanceof RawXml ? child.xml : renderNode(child);
    return out;
  }
  if (value instanceof Date) return value.toISOString();
  // Numbers, bigints and booleans have nothing to escape.
  return String(value);
}

/** One element and its children, without the XML declaration. */
export function renderNode(node: XmlNode): string {
  const [name, value, attrs] = node;
  if (value === undefined || value === null) return '';
  let attrText = '';
  if (attrs) for (const k in attrs) attrText += ` ${k}="${escapeXml(attrs[k]!)}"`;
  return `<${name}${attrText}>${renderValue(value)}</${name}>`;
}

/** Serializes a document with the XML declaration. */
export function buildXml(root: XmlNode): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${renderNode(root)}`;
}

/** Same, with the S3 namespace on the root element. */
export function buildS3Xml(name: string, children: (XmlNode | RawXml)[]): string {
  return buildXml([name, children, { xmlns: S3_XMLNS }]);
}

const PARSER_OPTIONS = {
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  // Entities are decoded by decodeEntities below: the parser's own handling skips numeric
  // character references, and Go's encoding/xml (rclone, the Go SDKs) writes quotes as `&#34;`.
  processEntities: false,
  ignoreDeclaration: true,
  isArray: () => true,
} as const;
const parser = new XMLParser(PARSER_OPTIONS);

/** Attributes are read only for the documents that carry meaning in them (ACL grantees' `xsi:type`). */
const ATTRIBUTE_PREFIX = '@_';
const attributeParser = new XMLParser({
  ...PARSER_OPTIONS,
  ignoreAttributes: false,
  attributeNamePrefix: ATTRIBUTE_PREFIX,
  parseAttributeValue: false,
  isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
});

/** A parsed element: its text and its children by name (every child is a list, in order). */
export interface XmlElement {
  text: string;
  children: Map<string, XmlElement[]>;
  /** Attributes without namespace prefix (`xsi:type` is `type`); filled only by `parseXml(…, { attributes: true })`. */
  attributes: Map<string, string>;
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** The five XML entities and numeric character references; anything else is not well-formed. */
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&([^;&]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw new S3Error('MalformedXML');
    const named = NAMED_ENTITIES[name];
    if (named !== undefined) return named;
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (!m) throw new S3Error('MalformedXML');
    const code = m[1] !== undefined ? parseInt(m[1], 16) : Number(m[2]);
    if (code > 0x10ffff || code === 0 || (code >= 0xd800 && code <= 0xdfff)) throw new S3Error('MalformedXML');
    return String.fromCodePoint(code);
  });
}

function toElement(raw: unknown): XmlElement {
  const children = new Map<string, XmlElement[]>();
  const attributes = new Map<string, string>();
  let text = '';
  if (typeof raw === 'string') return { text: decodeEntities(raw), children, attributes };
  if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (k === '#text') {
        text = decodeEntities(Array.isArray(v) ? v.join('') : String(v));
        continue;
      }
      if (k.startsWith(ATTRIBUTE_PREFIX)) {
        attributes.set(k.slice(ATTRIBUTE_PREFIX.length), decodeEntities(String(v)));
        continue;
      }
      const list = Array.isArray(v) ? v : [v];
      children.set(k, list.map(toElement));
    }
  }
  return { text, children, attributes };
}

/**
 * Parses an XML request body and returns its root element, checking the root's
 * name. Anything not well-formed is `MalformedXML`, as S3 answers.
 */
export function parseXml(body: string, rootName: string, options: { attributes?: boolean } = {}): XmlElement {
  if (body.trim() === '') throw new S3Error('MalformedXML');
  if (XMLValidator.validate(body) !== true) throw new S3Error('MalformedXML');
  let doc: unknown;
  try {
    doc = (options.attributes ? attributeParser : parser).parse(body);
  } catch {
    throw new S3Error('MalformedXML');
  }
  const root = (doc as Record<string, unknown[]>)[rootName];
  if (!root || !Array.isArray(root) || root.length !== 1) throw new S3Error('MalformedXML');
  return toElement(root[0]);
}

/** The text of the only child named `name`, or undefined. More than one → MalformedXML. */
export function childText(el: XmlElement, name: string): string | undefined {
  const list = el.children.get(name);
  if (!list) return undefined;
  if (list.length !== 1) throw new S3Error('MalformedXML');
  return list[0]!.text;
}

export function childList(el: XmlElement, name: string): XmlElement[] {
  return el.children.get(name) ?? [];
}

/** Rejects children other than `allowed` (S3 validates documents against its schema). */
export function onlyChildren(el: XmlElement, allowed: readonly string[]): void {
  for (const k of el.children.keys()) if (!allowed.includes(k)) throw new S3Error('MalformedXML');
}
