/**
 * `--peer-endpoint` / `--peer radosgw`: a second S3 server measured in the same
 * sitting as Coffer. The peer gets its own targets (`peer SSE-S3`, `peer SSE-KMS`,
 * `peer SSE-C`, `peer none`), buckets and credentials; each mode is probed before
 * anything is measured, and a mode the peer does not honour is reported as such,
 * never measured as if it encrypted. The workloads' target lists then hold each
 * peer mode right after the Coffer mode it is compared with, so within every
 * repetition the two run the same workload back to back.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { S3Client, type Reply } from './client.js';
import type { PeerOptions } from './plan.js';
import { ProcessProbe } from './proc.js';
import { createBucket, createKmsKey } from './setup.js';
import type { Credentials } from './sigv4.js';
import { PEER_COUNTERPART, PEER_MODES, peerTargetId, sseCHeaders, type PeerMode, type PeerTargetId, type Target, type TargetId } from './targets.js';

/** A peer ready to be measured. */
export interface PeerServer {
  url: URL;
  credentials: Credentials;
  region: string;
  name: string;
  probe?: ProcessProbe;
  kmsKeyId?: string;
  /** For the report: what it is and how it was started. */
  description: string;
  /** Stops what the benchmark started (nothing for --peer-endpoint). */
  stop(): Promise<void>;
}

/** What the probes found, per mode: the evidence that it is honoured, or why it is not measured. */
export interface PeerProbe {
  mode: PeerMode;
  supported: boolean;
  detail: string;
}

export interface PeerSetup {
  server: PeerServer;
  targets: Target[];
  probes: PeerProbe[];
}

const RADOSGW_SCRIPT = fileURLToPath(new URL('../../../bench/peers/radosgw.sh', import.meta.url));

/** The peer of the command line: the given endpoint, or a throwaway Ceph RGW started by bench/peers/radosgw.sh. */
export async function startPeer(options: PeerOptions, log: (line: string) => void): Promise<PeerServer> {
  if (options.start !== 'radosgw') {
    return {
      url: options.endpoint!,
      credentials: { accessKeyId: options.accessKeyId!, secretAccessKey: options.secretAccessKey! },
      region: options.region,
      name: options.name,
      ...(options.pid !== undefined ? { probe: new ProcessProbe(options.pid) } : {}),
      ...(options.kmsKeyId !== undefined ? { kmsKeyId: options.kmsKeyId } : {}),
      description: `${options.endpoint!.href} (external${options.pid !== undefined ? `, pid ${options.pid}` : ', no pid: no server CPU or memory figures'})`,
      stop: async () => {},
    };
  }
  log('Starting the peer: a single-node Ceph RGW (bench/peers/radosgw.sh)');
  const proc = spawn('bash', [RADOSGW_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-64 * 1024)));
  proc.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-64 * 1024)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  };
  let ready: { port: number; accessKey: string; secretKey: string; kmsKeyId: string; objectstore: string };
  try {
    ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`radosgw.sh did not answer within 180 s:\n${out}`)), 180_000);
      proc.stdout.on('data', () => {
        const line = out.split('\n').find((l) => l.startsWith('{') && l.includes('"listening"'));
        if (!line) return;
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line) as typeof ready);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`radosgw.sh exited before it was ready:\n${out}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: new URL(`http://127.0.0.1:${ready.port}`),
    credentials: { accessKeyId: ready.accessKey, secretAccessKey: ready.secretKey },
    region: options.region,
    name: options.name,
    // The script's descendants are ceph-mon, ceph-osd and radosgw: all of Ceph's CPU and memory.
    probe: new ProcessProbe(proc.pid!),
    kmsKeyId: options.kmsKeyId ?? ready.kmsKeyId,
    description: `Ceph RGW ${radosgwVersion()} on 127.0.0.1:${ready.port}: one ceph-mon, one ceph-osd on ${ready.objectstore === 'bluestore' ? 'bluestore (a sparse file in the temp dir)' : `${ready.objectstore} (RAM: no disk writes)`}, radosgw (beast), started by bench/peers/radosgw.sh; server figures are all three daemons`,
    stop,
  };
}

function radosgwVersion(): string {
  try {
    return /\d+\.\d+\.\d+/.exec(execFileSync('radosgw', ['--version'], { encoding: 'utf8', timeout: 10_000 }))?.[0] ?? '(version unknown)';
  } catch {
    return '(version unknown)';
  }
}

class NotHonoured extends Error {}

function header(reply: Reply, name: string): string | undefined {
  const v = reply.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function s3Error(reply: Reply): string {
  const text = reply.body?.toString('utf8') ?? '';
  return `HTTP ${reply.status}${/<Code>([^<]*)<\/Code>/.exec(text)?.[1] ? ` ${/<Code>([^<]*)<\/Code>/.exec(text)![1]}` : ''}`;
}

interface ModeSpec {
  bucket: string;
  write: Record<string, string>;
  read: Record<string, string>;
}

/**
 * Checks that the peer honours a mode: PUT a 4 KiB object with the mode's headers,
 * HEAD and GET it back (the same bytes, and the encryption headers S3 answers with),
 * and the refusals that show the mode is real — SSE-C: no read without the key, or
 * with another key; SSE-KMS: no write under a KMS key that does not exist; none: the
 * object does not come back encrypted (a peer that always encrypts has no plaintext
 * mode to measure). What is on the peer's disk cannot be seen from here.
 */
async function probeMode(client: S3Client, mode: PeerMode, spec: ModeSpec): Promise<string> {
  const key = `probe/${mode}-${randomBytes(4).toString('hex')}`;
  const path = `/${spec.bucket}/${key}`;
  const body = randomBytes(4096);
  const put = await client.send({ method: 'PUT', path, headers: spec.write, body: [body] });
  if (put.status !== 200) throw new NotHonoured(`PUT with the ${mode} headers answered ${s3Error(put)}`);
  try {
    const head = await client.send({ method: 'HEAD', path, headers: spec.read });
    if (head.status !== 200) throw new NotHonoured(`HEAD answered HTTP ${head.status}`);
    const get = await client.send({ method: 'GET', path, headers: spec.read, response: { kind: 'collect' } });
    if (get.status !== 200 || !get.body?.equals(body)) throw new NotHonoured(`GET answered ${get.status === 200 ? 'other bytes than were PUT' : s3Error(get)}`);
    const evidence: string[] = [];
    for (const [what, reply] of [
      ['HEAD', head],
      ['GET', get],
    ] as const) {
      const got = header(reply, 'x-amz-server-side-encryption');
      if (mode === 'SSE-S3' && got !== 'AES256') throw new NotHonoured(`PUT with x-amz-server-side-encryption: AES256 succeeded, but ${what} answers ${got === undefined ? 'without x-amz-server-side-encryption' : `x-amz-server-side-encryption: ${got}`}: the object is not stored with SSE-S3`);
      if (mode === 'SSE-KMS' && got !== 'aws:kms') throw new NotHonoured(`${what} answers ${got === undefined ? 'without x-amz-server-side-encryption' : `x-amz-server-side-encryption: ${got}`}, not aws:kms`);
      if (mode === 'none' && got !== undefined) throw new NotHonoured(`the peer encrypts without being asked (${what}: x-amz-server-side-encryption: ${got}); it has no unencrypted mode to measure`);
      if (mode === 'SSE-C') {
        const algorithm = header(reply, 'x-amz-server-side-encryption-customer-algorithm');
        const md5 = header(reply, 'x-amz-server-side-encryption-customer-key-md5');
        if (algorithm !== 'AES256' || md5 !== spec.read['x-amz-server-side-encryption-customer-key-md5']) {
          throw new NotHonoured(`${what} answers customer-algorithm ${algorithm ?? '(none)'}, key-md5 ${md5 ?? '(none)'}: not the customer key it was given`);
        }
      }
    }
    if (mode === 'SSE-S3') evidence.push('HEAD and GET answer x-amz-server-side-encryption: AES256');
    if (mode === 'none') evidence.push('HEAD and GET answer without x-amz-server-side-encryption (stored unencrypted, as asked)');
    if (mode === 'SSE-KMS') {
      const keyId = header(head, 'x-amz-server-side-encryption-aws-kms-key-id');
      if (!keyId) throw new NotHonoured('HEAD answers aws:kms without x-amz-server-side-encryption-aws-kms-key-id');
      const bogus = `coffer-bench-no-such-key-${randomBytes(4).toString('hex')}`;
      const refused = await client.send({ method: 'PUT', path: `${path}-bogus-key`, headers: { ...spec.write, 'x-amz-server-side-encryption-aws-kms-key-id': bogus }, body: [body] });
      if (refused.status === 200) {
        await client.send({ method: 'DELETE', path: `${path}-bogus-key` });
        throw new NotHonoured(`a PUT under a KMS key that does not exist (${bogus}) was accepted: the KMS is not consulted`);
      }
      evidence.push(`HEAD and GET answer aws:kms, key ${keyId}; a PUT under a KMS key that does not exist is refused (${s3Error(refused)})`);
    }
    if (mode === 'SSE-C') {
      const noKey = await client.send({ method: 'GET', path, response: { kind: 'collect' } });
      if (noKey.status === 200) throw new NotHonoured('GET without the customer key returned the object');
      const other = sseCHeaders(randomBytes(32));
      const wrongKey = await client.send({ method: 'GET', path, headers: other, response: { kind: 'collect' } });
      if (wrongKey.status === 200) throw new NotHonoured('GET with another customer key returned the object');
      evidence.push(`HEAD and GET answer the customer key's MD5; GET without the key ${s3Error(noKey)}, with another key ${s3Error(wrongKey)}`);
    }
    return evidence.join('; ');
  } finally {
    await client.send({ method: 'DELETE', path }).catch(() => undefined);
  }
}

/**
 * Buckets on the peer (`bench-peer-<mode>-<random>`, plus `-keys` and `-few` for the
 * metadata workloads), one per mode, each mode probed; the targets of the modes it honours.
 */
export async function peerTargets(server: PeerServer, log: (line: string) => void): Promise<PeerSetup> {
  const client = new S3Client({ endpoint: server.url, credentials: server.credentials, region: server.region, maxSockets: 2, timeoutMs: 60_000 });
  const suffix = randomBytes(3).toString('hex');
  const targets: Target[] = [];
  const probes: PeerProbe[] = [];
  try {
    let kmsKeyId = server.kmsKeyId;
    let kmsError: string | undefined;
    if (kmsKeyId === undefined) {
      try {
        kmsKeyId = await createKmsKey(client);
      } catch (err) {
        kmsError = `no KMS key (give --peer-kms-key-id): ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    const customerKey = randomBytes(32);
    for (const mode of PEER_MODES) {
      const bucket = `bench-peer-${mode.toLowerCase()}-${suffix}`;
      const write: Record<string, string> =
        mode === 'SSE-S3'
          ? { 'x-amz-server-side-encryption': 'AES256' }
          : mode === 'SSE-KMS'
            ? kmsKeyId !== undefined
              ? { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': kmsKeyId }
              : {}
            : mode === 'SSE-C'
              ? sseCHeaders(customerKey)
              : {};
      const read = mode === 'SSE-C' ? sseCHeaders(customerKey) : {};
      let probe: PeerProbe;
      try {
        if (mode === 'SSE-KMS' && kmsKeyId === undefined) throw new NotHonoured(kmsError!);
        for (const b of [bucket, `${bucket}-keys`, `${bucket}-few`]) await createBucket(client, b);
        const detail = await probeMode(client, mode, { bucket, write, read });
        probe = { mode, supported: true, detail };
        targets.push({
          id: peerTargetId(mode),
          endpoint: server.url,
          ...(server.probe ? { probe: server.probe } : {}),
          bucket,
          writeHeaders: write,
          readHeaders: read,
          verifiable: true,
          credentials: server.credentials,
          region: server.region,
        });
      } catch (err) {
        if (!(err instanceof NotHonoured)) throw err;
        probe = { mode, supported: false, detail: err.message };
      }
      probes.push(probe);
      log(`  peer ${mode}: ${probe.supported ? 'honoured' : 'not supported by the peer'} — ${probe.detail}`);
    }
  } finally {
    client.close();
  }
  return { server, targets, probes };
}

/**
 * A workload's target list with each present peer mode placed right after the Coffer
 * mode it is compared with: SSE-S3, peer SSE-S3, peer none, SSE-KMS, peer SSE-KMS, …
 */
export function withPeers(ids: readonly TargetId[], present: ReadonlySet<TargetId>): TargetId[] {
  const out: TargetId[] = [];
  for (const id of ids) {
    out.push(id);
    for (const mode of PEER_MODES) {
      const peer: PeerTargetId = peerTargetId(mode);
      if (PEER_COUNTERPART[mode] === id && present.has(peer)) out.push(peer);
    }
  }
  return out;
}
