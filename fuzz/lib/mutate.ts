/**
 * Turns a well-formed request (corpus.ts) into a hostile one. Every request is
 * mutated at one or more levels — header, query, path, body (bytes, XML, JSON)
 * — either before it is signed (so the signature is valid and the mutation
 * reaches the handlers) or after (so it meets the signature checks), or it is
 * sent presigned, anonymous, or as an aws-chunked signed stream with broken
 * chunks.
 */
import { createHash, createHmac } from 'node:crypto';
import { Signer, sha256Hex, uriEncode, UNSIGNED_PAYLOAD } from '../../bench/lib/sigv4.js';
import type { RequestSpec } from './corpus.js';
import type { Rng } from './rng.js';

/** What goes on the wire. Header values may hold any Latin-1 character; `raw` ones need a raw socket. */
export interface WireRequest {
  method: string;
  /** Path and query as sent. */
  target: string;
  headers: [string, string][];
  body: Buffer;
  /** Header values with characters node's client refuses (CR, LF, NUL…): sent over a raw socket. */
  raw: boolean;
  /** How it was made, for the failure report. */
  description: string[];
}

const INTERESTING = [
  '',
  ' ',
  '0',
  '-1',
  '1',
  '2147483648',
  '18446744073709551616',
  '99999999999999999999999999',
  'NaN',
  '1e309',
  '0x10',
  '%',
  '%zz',
  '%00',
  '%C3%A9',
  'é',
  'ÿÿÿÿ',
  '\u0080',
  '*',
  '?',
  '../../etc/passwd',
  '/',
  '//',
  'a'.repeat(1025),
  'a'.repeat(8000),
  'true',
  'false',
  'AES256',
  'aws:kms',
  'aws:kms:dsse',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'UNSIGNED-PAYLOAD',
  'bytes=0-',
  'bytes=-0',
  'bytes=5-1',
  'bytes=0-1,2-3',
  'bytes=99999999999999999999-',
  'bytes=-99999999999999999999',
  '"etag"',
  'W/"x"',
  'Sat, 01 Jan 2000 00:00:00 GMT',
  'not a date',
  '20991231T235959Z',
  'AAAA',
  'AAAAAAAAAAAAAAAAAAAAAA==',
  '=',
  '{"a":',
  '<a>',
  'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000',
  'alias/aws/s3',
  '/fz/plain',
  '/fz/ssec',
  'fz/dir/a.txt?versionId=1',
  'REPLACE',
  'COPY',
  'BucketOwnerEnforced',
  'public-read-write',
  'id="x"',
  'CRC32',
  'CRC64NVME',
  'SHA256',
];
const CONTROL = ['\r\n', '\n', '\r', '\u0000', '\u007f', '\r\nx-injected: 1', '\u0001'];

const HEADERS = [
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-context',
  'x-amz-server-side-encryption-bucket-key-enabled',
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-customer-key',
  'x-amz-server-side-encryption-customer-key-md5',
  'x-amz-copy-source',
  'x-amz-copy-source-range',
  'x-amz-copy-source-if-match',
  'x-amz-copy-source-if-modified-since',
  'x-amz-copy-source-server-side-encryption-customer-key',
  'x-amz-metadata-directive',
  'x-amz-tagging-directive',
  'x-amz-tagging',
  'x-amz-meta-a',
  'x-amz-acl',
  'x-amz-grant-read',
  'x-amz-grant-full-control',
  'x-amz-object-ownership',
  'x-amz-storage-class',
  'x-amz-website-redirect-location',
  'x-amz-bucket-object-lock-enabled',
  'x-amz-object-lock-mode',
  'x-amz-expected-bucket-owner',
  'x-amz-checksum-crc32',
  'x-amz-checksum-crc32c',
  'x-amz-checksum-crc64nvme',
  'x-amz-checksum-sha1',
  'x-amz-checksum-sha256',
  'x-amz-checksum-algorithm',
  'x-amz-sdk-checksum-algorithm',
  'x-amz-trailer',
  'x-amz-decoded-content-length',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-request-payer',
  'x-amz-object-attributes',
  'x-amz-target',
  'content-md5',
  'content-type',
  'content-encoding',
  'content-disposition',
  'cache-control',
  'expires',
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'expect',
  'transfer-encoding',
];
const QUERY = [
  'uploadId',
  'partNumber',
  'max-keys',
  'max-parts',
  'max-uploads',
  'prefix',
  'delimiter',
  'marker',
  'continuation-token',
  'start-after',
  'encoding-type',
  'list-type',
  'fetch-owner',
  'key-marker',
  'upload-id-marker',
  'part-number-marker',
  'versionId',
  'response-content-type',
  'response-content-disposition',
  'response-content-language',
  'response-expires',
  'response-cache-control',
  'response-content-encoding',
  'uploads',
  'delete',
  'tagging',
  'acl',
  'encryption',
  'policy',
  'location',
  'versioning',
  'x-id',
  'X-Amz-Expires',
  'X-Amz-Date',
];

/** A value for a header or parameter: interesting, random bytes as Latin-1, or a neighbour of the original. */
function value(rng: Rng, original: string | undefined, allowControl: boolean): string {
  const r = rng.int(10);
  if (r < 5) return rng.pick(INTERESTING);
  if (r < 6 && allowControl) return `${original ?? 'x'}${rng.pick(CONTROL)}`;
  if (r < 8 && original !== undefined && original.length > 0) return flipChar(rng, original);
  if (r < 9) return Buffer.from(rng.bytes(1 + rng.int(40)).map((b) => (b < 0x20 || b === 0x7f ? 0x41 : b))).toString('latin1');
  return (original ?? '').repeat(2 + rng.int(50));
}

function flipChar(rng: Rng, text: string): string {
  const i = rng.int(text.length);
  const codes = [0x00, 0x20, 0x25, 0x2f, 0x3d, 0x41, 0x7a, 0x80, 0xe9, 0xff];
  const c = rng.chance(0.5) ? String.fromCharCode(rng.pick(codes)) : String.fromCharCode(text.charCodeAt(i) ^ (1 << rng.int(8)));
  const out = text.slice(0, i) + c + text.slice(i + 1);
  // NUL and other controls are raw-only; keep them out of ordinary header values.
  return out.replace(/[\u0000-\u001f\u007f]/g, 'A');
}

function flipBytes(rng: Rng, body: Buffer): Buffer {
  if (body.length === 0) return rng.bytes(1 + rng.int(64));
  const out = Buffer.from(body);
  for (let n = 1 + rng.int(4); n > 0; n--) out[rng.int(out.length)] ^= 1 << rng.int(8);
  return out;
}

const XML_BOMB = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]><a>&lol4;&lol4;&lol4;</a>`;
const XML_EXTERNAL = `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`;

/** Mutates an XML document's text: elements dropped, duplicated, emptied, renamed, nested deeply; entities and bombs. */
function mutateXml(rng: Rng, text: string): string {
  const tags = [...text.matchAll(/<([A-Za-z][\w:.-]*)[^>]*>([^<]*)<\/\1>/g)];
  switch (rng.int(10)) {
    case 0:
      return XML_BOMB;
    case 1:
      return XML_EXTERNAL;
    case 2:
      return `${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}`;
    case 3:
      return text.slice(0, rng.int(text.length + 1));
    case 4: {
      const t = tags.length > 0 ? rng.pick(tags) : undefined;
      return t ? text.replace(t[0], t[0].repeat(2 + rng.int(1500))) : text;
    }
    case 5: {
      const t = tags.length > 0 ? rng.pick(tags) : undefined;
      return t ? text.replace(t[0], '') : text;
    }
    case 6: {
      const t = tags.length > 0 ? rng.pick(tags) : undefined;
      return t ? text.replace(t[0], `<${t[1]}>${escapeXml(value(rng, t[2], false))}</${t[1]}>`) : text;
    }
    case 7: {
      const t = tags.length > 0 ? rng.pick(tags) : undefined;
      return t ? text.replace(t[0], `<${t[1]}>&#x${rng.int(0x110000).toString(16)};&amp;&lt;&unknown;</${t[1]}>`) : text;
    }
    case 8:
      return text.replace(/<\/?([A-Za-z][\w:.-]*)/, (m) => `${m}x`);
    default:
      return `${text}<extra/>`;
  }
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

/** Mutates a JSON document: a field's value replaced by another type, dropped, or the text broken. */
function mutateJson(rng: Rng, text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return text.slice(0, rng.int(text.length + 1));
  }
  if (typeof doc !== 'object' || doc === null || rng.chance(0.15)) return rng.pick(['', '{', 'null', '[]', '"x"', '{"a":'.repeat(3000), text.slice(0, rng.int(text.length + 1))]);
  const obj = doc as Record<string, unknown>;
  const keys = Object.keys(obj);
  const key = keys.length > 0 && rng.chance(0.8) ? rng.pick(keys) : rng.pick(['KeyId', 'Plaintext', 'CiphertextBlob', 'EncryptionContext', 'GrantTokens', 'Limit', 'Marker', 'NumberOfBytes', 'KeySpec', 'Statement']);
  const replacements: unknown[] = [null, 0, -1, 1e300, '', 'x'.repeat(10_000), [], {}, [1, 2], { a: { b: {} } }, true, value(rng, String(obj[key] ?? ''), false)];
  if (rng.chance(0.2)) delete obj[key];
  else obj[key] = rng.pick(replacements);
  return JSON.stringify(obj);
}

/** Mutates a form-encoded IAM body: a parameter dropped, changed, or added. */
function mutateForm(rng: Rng, text: string): string {
  const params = new URLSearchParams(text);
  const names = [...params.keys()];
  const r = rng.int(3);
  if (r === 0 && names.length > 0) params.delete(rng.pick(names));
  else if (r === 1 && names.length > 0) {
    const n = rng.pick(names);
    params.set(n, value(rng, params.get(n) ?? '', false));
  } else params.set(rng.pick(['Action', 'UserName', 'PolicyName', 'PolicyDocument', 'MaxItems', 'Marker', 'AccessKeyId', 'Status', 'Path']), value(rng, undefined, false));
  return params.toString();
}

function mutateBody(rng: Rng, spec: RequestSpec, description: string[]): void {
  const text = spec.body.toString('utf8');
  const isXml = text.startsWith('<?xml') || text.startsWith('<');
  const isJson = text.startsWith('{');
  const isForm = spec.service === 'iam' || spec.service === 'sts';
  const r = rng.int(10);
  if (r < 5 && (isXml || isJson || isForm)) {
    spec.body = Buffer.from(isXml ? mutateXml(rng, text) : isJson ? mutateJson(rng, text) : mutateForm(rng, text));
    description.push(`body:${isXml ? 'xml' : isJson ? 'json' : 'form'}`);
  } else if (r < 8) {
    spec.body = flipBytes(rng, spec.body);
    description.push('body:flip');
  } else if (r < 9) {
    spec.body = spec.body.subarray(0, rng.int(spec.body.length + 1));
    description.push('body:truncate');
  } else {
    spec.body = Buffer.concat([spec.body, rng.bytes(rng.int(4096))]);
    description.push('body:extend');
  }
  // A Content-MD5 that still matches, half the time: the document itself is then what is judged.
  if (spec.headers['content-md5'] !== undefined && rng.chance(0.5)) spec.headers['content-md5'] = createHash('md5').update(spec.body).digest('base64');
}

function mutateHeaders(rng: Rng, headers: Record<string, string>, description: string[]): void {
  const names = Object.keys(headers);
  const r = rng.int(4);
  if (r === 0 && names.length > 0) {
    const n = rng.pick(names);
    delete headers[n];
    description.push(`header:drop:${n}`);
  } else if (r === 1 && names.length > 0) {
    const n = rng.pick(names);
    headers[n] = value(rng, headers[n], false);
    description.push(`header:value:${n}`);
  } else {
    const n = rng.pick(HEADERS);
    headers[n] = value(rng, headers[n], false);
    description.push(`header:add:${n}`);
  }
}

function mutateQuery(rng: Rng, query: [string, string][], description: string[]): void {
  const r = rng.int(4);
  if (r === 0 && query.length > 0) {
    const i = rng.int(query.length);
    description.push(`query:drop:${query[i]![0]}`);
    query.splice(i, 1);
  } else if (r === 1 && query.length > 0) {
    const i = rng.int(query.length);
    query[i] = [query[i]![0], value(rng, query[i]![1], false)];
    description.push(`query:value:${query[i]![0]}`);
  } else if (r === 2 && query.length > 0) {
    const i = rng.int(query.length);
    query.push([query[i]![0], value(rng, undefined, false)]);
    description.push(`query:duplicate:${query[i]![0]}`);
  } else {
    const n = rng.pick(QUERY);
    query.push([n, value(rng, undefined, false)]);
    description.push(`query:add:${n}`);
  }
}

function mutatePath(rng: Rng, spec: RequestSpec, description: string[]): void {
  const r = rng.int(5);
  if (r === 0) spec.path = `${spec.path}/${value(rng, undefined, false)}`;
  else if (r === 1) spec.path = spec.path.replace(/^\/[^/]*/, `/${value(rng, 'fz', false)}`);
  else if (r === 2) spec.path = `${spec.path}${'/'.repeat(1 + rng.int(2000))}`;
  else if (r === 3) spec.path = flipChar(rng, spec.path);
  else spec.path = `/${BUCKET_LIKE[rng.int(BUCKET_LIKE.length)]}`;
  description.push('path');
}
const BUCKET_LIKE = ['', 'FZ', 'fz..x', '-fz', 'fz-', 'a', 'x'.repeat(64), '192.168.1.1', 'xn--fz', 'fz/../fz/plain', '_coffer/health', '_coffer/x'];

function encodePath(path: string): string {
  return path
    .split('/')
    .map((seg) => uriEncode(seg, { keepSlash: false }))
    .join('/');
}

function canonicalPairs(query: [string, string][]): string {
  return query
    .map(([k, v]) => [uriEncode(k, { keepSlash: false }), uriEncode(v, { keepSlash: false })] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => (v === '' && k !== '' ? `${k}=` : `${k}=${v}`))
    .join('&');
}

function cloneSpec(spec: RequestSpec): RequestSpec {
  return { ...spec, query: spec.query.map(([k, v]) => [k, v] as [string, string]), headers: { ...spec.headers }, body: Buffer.from(spec.body) };
}

/** Signs a spec with the Authorization header (payload hash of the body for small bodies, or UNSIGNED-PAYLOAD). */
function signHeader(signer: Signer, host: string, spec: RequestSpec, unsignedPayload: boolean): WireRequest {
  const path = encodePath(spec.path);
  const query = canonicalPairs(spec.query);
  const headers = signer.sign({ method: spec.method, host, path, query, headers: spec.headers, payloadHash: unsignedPayload ? UNSIGNED_PAYLOAD : sha256Hex(spec.body), service: spec.service });
  const { host: _host, ...rest } = headers;
  return { method: spec.method, target: query ? `${path}?${query}` : path, headers: Object.entries(rest), body: spec.body, raw: false, description: [] };
}

/** An aws-chunked, chunk-signed body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), with one thing broken. */
function signChunked(signer: Signer, host: string, spec: RequestSpec, rng: Rng, description: string[]): WireRequest {
  const data = spec.body.length > 0 ? spec.body : rng.bytes(1 + rng.int(3000));
  const headers = { ...spec.headers, 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length) };
  const path = encodePath(spec.path);
  const query = canonicalPairs(spec.query);
  const signed = signer.sign({ method: spec.method, host, path, query, headers, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', service: 's3' });
  const seed = /Signature=([0-9a-f]{64})/.exec(signed.authorization!)![1]!;
  const amzDate = signed['x-amz-date']!;
  const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const key = signer.signingKey(amzDate.slice(0, 8), 's3');
  const chunks: Buffer[] = [];
  const size = 1 + rng.int(Math.max(1, data.length));
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) pieces.push(data.subarray(i, i + size));
  pieces.push(Buffer.alloc(0));
  const broken = rng.int(6);
  description.push(`chunked:${['bad-signature', 'bad-size', 'no-final-chunk', 'extra-bytes', 'bad-decoded-length', 'bad-extension'][broken]}`);
  let previous = seed;
  for (const [i, piece] of pieces.entries()) {
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previous}\n${sha256Hex('')}\n${sha256Hex(piece)}`;
    let signature = createHmac('sha256', key).update(toSign).digest('hex');
    previous = signature;
    if (broken === 0 && i === rng.int(pieces.length)) signature = flipChar(rng, signature);
    let sizeText = piece.length.toString(16);
    if (broken === 1 && i === 0) sizeText = rng.pick(['zz', '-1', 'ffffffffffffffff', '', String(piece.length + 1)]);
    const ext = broken === 5 && i === 0 ? rng.pick([';chunk-signature', ';x=y', ';chunk-signature=', '']) : `;chunk-signature=${signature}`;
    if (broken === 2 && piece.length === 0) break;
    chunks.push(Buffer.from(`${sizeText}${ext}\r\n`), piece, Buffer.from('\r\n'));
  }
  if (broken === 3) chunks.push(rng.bytes(1 + rng.int(100)));
  const outHeaders = { ...signed };
  delete outHeaders.host;
  if (broken === 4) outHeaders['x-amz-decoded-content-length'] = rng.pick(['0', '-1', String(data.length + 1), '99999999999999999999', 'x']);
  return { method: spec.method, target: query ? `${path}?${query}` : path, headers: Object.entries(outHeaders), body: Buffer.concat(chunks), raw: false, description };
}

/** One hostile request made from `base`. */
export function mutate(base: RequestSpec, rng: Rng, signer: Signer, host: string): WireRequest {
  const spec = cloneSpec(base);
  const description: string[] = [base.operation];
  const mode = rng.int(100);
  if (mode < 55) {
    // Mutate, then sign: a valid signature carries the mutation to the handler.
    description.push('signed-after-mutation');
    for (let n = 1 + rng.int(3); n > 0; n--) {
      const level = rng.int(10);
      if (level < 4) mutateHeaders(rng, spec.headers, description);
      else if (level < 7) mutateQuery(rng, spec.query, description);
      else if (level < 9) mutateBody(rng, spec, description);
      else mutatePath(rng, spec, description);
    }
    const wire = signHeader(signer, host, spec, spec.service === 's3' && rng.chance(0.2));
    wire.description = description;
    return wire;
  }
  if (mode < 75) {
    // Sign, then change one thing: the signature checks and payload hashes meet it.
    description.push('mutated-after-signing');
    const wire = signHeader(signer, host, spec, false);
    const r = rng.int(5);
    if (r === 0) {
      const i = rng.int(wire.headers.length);
      const [name, v] = wire.headers[i]!;
      const raw = rng.chance(0.15);
      wire.headers[i] = [name, raw ? `${v}${rng.pick(CONTROL)}` : flipChar(rng, v)];
      wire.raw = raw;
      description.push(`header:flip:${name}${raw ? ':control' : ''}`);
    } else if (r === 1) {
      wire.body = flipBytes(rng, wire.body);
      description.push('body:flip');
    } else if (r === 2) {
      wire.target = flipChar(rng, wire.target);
      description.push('target:flip');
    } else if (r === 3) {
      wire.headers.push([rng.pick(HEADERS), value(rng, undefined, false)]);
      description.push('header:add-unsigned');
    } else {
      const auth = wire.headers.find(([n]) => n === 'authorization');
      if (auth) auth[1] = rng.pick([auth[1].replace('Credential=', 'Credential=x'), auth[1].replace(/Signature=[0-9a-f]+/, `Signature=${rng.pick(['', 'zz', 'é'.repeat(64), '0'.repeat(63)])}`), auth[1].replace('SignedHeaders=', 'SignedHeaders=;'), 'AWS4-HMAC-SHA256', 'AWS AKID:sig', auth[1].replace(/\/s3\/|\/kms\/|\/iam\//, '/ec2/'), `${auth[1]}, Extra=1`]);
      description.push('authorization');
    }
    wire.description = description;
    return wire;
  }
  if (mode < 85 && base.service === 's3') {
    // Presigned: the parameters themselves are mutated, before or after signing.
    description.push('presigned');
    if (rng.chance(0.5)) mutateQuery(rng, spec.query, description);
    const path = encodePath(spec.path);
    const params = Object.fromEntries(spec.query);
    let query = signer.presign({ method: spec.method, host, path, params, service: 's3', expiresSeconds: rng.pick([1, 60, 604800, 604801]) });
    if (rng.chance(0.5)) {
      const names = ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Algorithm'];
      const n = rng.pick(names);
      query = query.replace(new RegExp(`${n}=[^&]*`), `${n}=${uriEncode(value(rng, undefined, false), { keepSlash: false })}`);
      description.push(`presigned:${n}`);
    }
    const headers = Object.entries(spec.headers).filter(([n]) => !n.startsWith('x-amz-') || rng.chance(0.2));
    return { method: spec.method, target: `${path}?${query}`, headers, body: spec.body, raw: false, description };
  }
  if (mode < 92 && base.service === 's3' && (base.method === 'PUT' || base.method === 'POST')) {
    return signChunked(signer, host, spec, rng, [...description, 'aws-chunked']);
  }
  // Anonymous, mutated.
  description.push('anonymous');
  mutateHeaders(rng, spec.headers, description);
  if (rng.chance(0.5)) mutateQuery(rng, spec.query, description);
  const path = encodePath(spec.path);
  const query = canonicalPairs(spec.query);
  return { method: spec.method, target: query ? `${path}?${query}` : path, headers: Object.entries(spec.headers), body: spec.body, raw: false, description };
}

/** A correctly signed request, unchanged (setup, and the control that well-formed requests still work). */
export function signed(spec: RequestSpec, signer: Signer, host: string): WireRequest {
  return signHeader(signer, host, spec, false);
}
