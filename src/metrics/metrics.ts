/**
 * Coffer's Prometheus metrics (`GET /_coffer/metrics`, prom-client): requests,
 * their duration and bytes; KMS operations and key-usage denials; bucket-key
 * cache hits; metadata store and blob backend latency and errors; per-bucket
 * objects and bytes and the blob collector's queue; prom-client's default
 * process metrics (memory, CPU, event-loop lag, GC).
 *
 * Each serving process keeps its own counters. A scrape is answered by one
 * worker for all of them: it gathers every worker's metrics through the cluster
 * primary (cluster-relay.ts) and sums them with prom-client's
 * AggregatorRegistry.aggregate — counters and histograms add up, default
 * metrics use the aggregator prom-client gives each. Metrics of the shared
 * store (bucket usage, the garbage queue) are read once per scrape, by the
 * worker answering it, from counters the metadata store maintains in the
 * writing transaction (MetadataStore.bucketUsage): a scrape never counts objects.
 *
 * Every label value comes from a bounded set (operation names Coffer routes,
 * error types it defines, bucket names): nothing a client sends becomes a label
 * as it is, so no client can make the label space grow without bound.
 */
import cluster from 'node:cluster';
import type { Socket } from 'node:net';
import client from 'prom-client';
import { BlobNotFoundError, type BlobStore } from '../blob/blob-store.js';
import { S3Error } from '../errors/s3-errors.js';
import type { KmsAudit, KmsAuditEvent } from '../kms/kms-audit.js';
import { S3_SERVICE } from '../kms/kms.js';
import type { Endpoint } from '../http/router.js';
import type { BucketUsage, MetadataStore } from '../metadata/metadata-store.js';
import { isMetricsMessage, type MetricsMessage } from './cluster-relay.js';

type MetricJson = client.MetricObjectWithValues<client.MetricValue<string>>;

/** Which API a request was for: the S3 REST API, KMS (JSON), IAM/STS (query), or Coffer's own paths. */
type RequestApi = 's3' | 'kms' | 'iam' | 'sts' | 'coffer';

export interface ObservedRequest {
  /** What the router made of the request; undefined when it refused it (a malformed URI…). */
  endpoint: Endpoint | undefined;
  status: number;
  seconds: number;
  /** The request's connection: the bytes it moved since the last request on it are counted. */
  socket: Socket;
}

/** What the bucket-key cache reports (storage/object-keys.ts). */
export interface BucketKeyCacheStats {
  bucketKeyCacheHits: number;
  bucketKeyCacheMisses: number;
}

/** KMS errors that mean "this caller may not use this key now": policy, key state. */
const DENIALS = new Set(['AccessDeniedException', 'DisabledException', 'KMSInvalidStateException']);
/** KMS operations that use a key on data (where a denial is a key-usage denial). */
const KEY_USAGE = new Set(['Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext']);

const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const STORE_SECONDS_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

/** An error-type label: KMS error names are Coffer's own; anything else is folded into one value. */
function errorLabel(type: string | undefined): string {
  return type !== undefined && /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(type) ? type : 'Other';
}

export class Metrics {
  /** This process's metrics (what it reports to the worker answering a scrape). */
  readonly registry = new client.Registry();
  /** Metrics of the shared store, read by the worker that answers a scrape. */
  readonly #shared = new client.Registry();
  readonly #requests: client.Counter<'api' | 'operation' | 'status_class'>;
  readonly #duration: client.Histogram<'api' | 'operation'>;
  readonly #received: client.Counter<'api'>;
  readonly #sent: client.Counter<'api'>;
  readonly #kmsOperations: client.Counter<'operation' | 'outcome' | 'caller'>;
  readonly #kmsDenials: client.Counter<'operation' | 'reason'>;
  readonly #metadataSeconds: client.Histogram<'driver' | 'operation'>;
  readonly #metadataErrors: client.Counter<'driver' | 'operation'>;
  readonly #blobSeconds: client.Histogram<'backend' | 'operation'>;
  readonly #blobErrors: client.Counter<'backend' | 'operation'>;
  readonly #workersReporting: client.Gauge;
  /** Bytes of each connection counted so far (the rest belong to the next request on it). */
  readonly #counted = new WeakMap<Socket, { read: number; written: number }>();
  readonly #knownKmsOperations: ReadonlySet<string>;
  #gatherings = 0;
  #forgetSharedReads: () => void = () => {};
  readonly #waiting = new Map<number, (m: Extract<MetricsMessage, { coffer: 'metrics-gathered' }>) => void>();

  constructor(options: { kmsOperations: readonly string[] }) {
    this.#knownKmsOperations = new Set([...options.kmsOperations, 'RotateKey', 'DeleteKey']);
    const r = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.#requests = new client.Counter({
      name: 'coffer_http_requests_total',
      help: 'Requests answered, by API, operation and status class (2xx, 3xx, 4xx, 5xx).',
      labelNames: ['api', 'operation', 'status_class'],
      registers: r,
    });
    this.#duration = new client.Histogram({
      name: 'coffer_http_request_duration_seconds',
      help: 'Time from a request arriving to its response being written, by API and operation.',
      labelNames: ['api', 'operation'],
      buckets: SECONDS_BUCKETS,
      registers: r,
    });
    this.#received = new client.Counter({ name: 'coffer_http_received_bytes_total', help: 'Bytes received on client connections (headers and bodies), by API.', labelNames: ['api'], registers: r });
    this.#sent = new client.Counter({ name: 'coffer_http_sent_bytes_total', help: 'Bytes sent on client connections (headers and bodies), by API.', labelNames: ['api'], registers: r });
    this.#kmsOperations = new client.Counter({
      name: 'coffer_kms_operations_total',
      help: 'KMS operations as audited, by operation, outcome (success or the KMS error type) and caller (api: the KMS API; s3: SSE-KMS and SSE-S3 on a requester\'s behalf; coffer: rotation, deletion).',
      labelNames: ['operation', 'outcome', 'caller'],
      registers: r,
    });
    this.#kmsDenials = new client.Counter({
      name: 'coffer_kms_key_usage_denials_total',
      help: 'Uses of a KMS key refused (not allowed by policy, key disabled or pending deletion), by operation and reason.',
      labelNames: ['operation', 'reason'],
      registers: r,
    });
    this.#metadataSeconds = new client.Histogram({
      name: 'coffer_metadata_operation_duration_seconds',
      help: 'Metadata store calls, by driver (sqlite, postgres) and method.',
      labelNames: ['driver', 'operation'],
      buckets: STORE_SECONDS_BUCKETS,
      registers: r,
    });
    this.#metadataErrors = new client.Counter({
      name: 'coffer_metadata_errors_total',
      help: 'Metadata store calls that failed for a reason other than an S3 answer (NoSuchBucket, a failed condition…), by driver and method.',
      labelNames: ['driver', 'operation'],
      registers: r,
    });
    this.#blobSeconds = new client.Histogram({
      name: 'coffer_blob_operation_duration_seconds',
      help: 'Blob backend calls (reads: until the stream is open), by backend (local, s3) and operation.',
      labelNames: ['backend', 'operation'],
      buckets: STORE_SECONDS_BUCKETS,
      registers: r,
    });
    this.#blobErrors = new client.Counter({
      name: 'coffer_blob_errors_total',
      help: 'Blob backend calls that failed (a blob not found is not counted), by backend and operation.',
      labelNames: ['backend', 'operation'],
      registers: r,
    });
    this.#workersReporting = new client.Gauge({
      name: 'coffer_metrics_workers_reporting',
      help: 'Serving processes whose metrics this scrape includes.',
      registers: [this.#shared],
    });
    if (cluster.isWorker) {
      process.on('message', (m: unknown) => {
        if (!isMetricsMessage(m)) return;
        if (m.coffer === 'metrics-report') {
          void this.registry.getMetricsAsJSON().then(
            (metrics) => process.send?.({ coffer: 'metrics-reported', id: m.id, metrics } satisfies MetricsMessage, undefined, {}, () => {}),
            () => {},
          );
        } else if (m.coffer === 'metrics-gathered') {
          this.#waiting.get(m.id)?.(m);
        }
      });
    }
  }

  /** Starts reporting the shared store's usage and this process's bucket-key cache. */
  watch(sources: { metadata: MetadataStore; bucketKeys: BucketKeyCacheStats }): void {
    const { metadata, bucketKeys } = sources;
    // One read of the usage table serves both gauges of a scrape (scrape() forgets it first).
    let usage: Promise<BucketUsage[]> | undefined;
    this.#forgetSharedReads = () => (usage = undefined);
    const bucketUsage = (): Promise<BucketUsage[]> => (usage ??= metadata.bucketUsage());
    new client.Gauge({
      name: 'coffer_bucket_objects',
      help: 'Objects stored, by bucket.',
      labelNames: ['bucket'],
      registers: [this.#shared],
      async collect() {
        this.reset();
        for (const u of await bucketUsage()) this.set({ bucket: u.bucket }, u.objects);
      },
    });
    new client.Gauge({
      name: 'coffer_bucket_bytes',
      help: 'Bytes stored (the objects\' sizes, before encryption), by bucket.',
      labelNames: ['bucket'],
      registers: [this.#shared],
      async collect() {
        this.reset();
        for (const u of await bucketUsage()) this.set({ bucket: u.bucket }, u.bytes);
      },
    });
    new client.Gauge({
      name: 'coffer_blob_gc_queue_length',
      help: 'Blobs of replaced or deleted objects waiting for the blob collector.',
      registers: [this.#shared],
      async collect() {
        this.set(await metadata.garbageQueueLength());
      },
    });
    new client.Counter({
      name: 'coffer_bucket_key_cache_total',
      help: 'S3 Bucket Key lookups by SSE-KMS reads and writes, by result: hit (no KMS call) or miss.',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ result: 'hit' }, bucketKeys.bucketKeyCacheHits);
        this.inc({ result: 'miss' }, bucketKeys.bucketKeyCacheMisses);
      },
    });
  }

  /** Counts one answered request. */
  observeRequest(r: ObservedRequest): void {
    const { api, operation } = this.#requestLabels(r.endpoint);
    this.#requests.inc({ api, operation, status_class: `${Math.floor(r.status / 100)}xx` });
    this.#duration.observe({ api, operation }, r.seconds);
    const seen = this.#counted.get(r.socket) ?? { read: 0, written: 0 };
    const read = r.socket.bytesRead;
    const written = r.socket.bytesWritten;
    if (read > seen.read) this.#received.inc({ api }, read - seen.read);
    if (written > seen.written) this.#sent.inc({ api }, written - seen.written);
    this.#counted.set(r.socket, { read, written });
  }

  #requestLabels(e: Endpoint | undefined): { api: RequestApi; operation: string } {
    if (e === undefined) return { api: 's3', operation: 'Unrouted' };
    switch (e.kind) {
      case 'health':
        return { api: 'coffer', operation: 'Health' };
      case 'coffer':
        return { api: 'coffer', operation: cofferOperation(e.path) };
      case 'kms':
        return { api: 'kms', operation: this.kmsOperationLabel(e.operation) };
      case 'iam':
        // The IAM Action is in the form body, which the IAM handler reads: the service is the label.
        return { api: e.service, operation: e.service === 'iam' ? 'IAM' : 'STS' };
      case 'preflight':
        return { api: 's3', operation: 'PreflightRequest' };
      case 'post-object':
        return { api: 's3', operation: 'PostObject' };
      default:
        // Router names, from its own tables (unsupported ones too): a bounded set.
        return { api: 's3', operation: e.operation };
    }
  }

  /** A KMS operation name as a label: one Coffer knows, or `Other` (the name is the client's). */
  kmsOperationLabel(operation: string): string {
    return this.#knownKmsOperations.has(operation) ? operation : 'Other';
  }

  /** The audit log, counting every record it is given (every KMS operation is audited: kms-audit.ts). */
  meterAudit(audit: KmsAudit): KmsAudit {
    return {
      record: (event) => {
        this.#kmsAudited(event);
        return audit.record(event);
      },
    };
  }

  #kmsAudited(e: Omit<KmsAuditEvent, 'time'>): void {
    const operation = this.kmsOperationLabel(e.operation);
    const caller = e.invokedBy === S3_SERVICE ? 's3' : e.principal.startsWith('coffer:') ? 'coffer' : 'api';
    const outcome = e.outcome === 'success' ? 'success' : errorLabel(e.errorType);
    this.#kmsOperations.inc({ operation, outcome, caller });
    if (e.outcome === 'failure' && KEY_USAGE.has(operation) && DENIALS.has(outcome)) this.#kmsDenials.inc({ operation, reason: outcome });
  }

  /** The metadata store, timing every call and counting its failures (S3 answers such as NoSuchBucket are not failures). */
  meterMetadata<T extends MetadataStore>(store: T, driver: string): T {
    return meter(store, {
      observe: (operation, seconds) => this.#metadataSeconds.observe({ driver, operation }, seconds),
      failed: (operation, err) => !(err instanceof S3Error) && this.#metadataErrors.inc({ driver, operation }),
    });
  }

  /** The blob store, timing every call and counting its failures (a blob not found is an answer, not a failure). */
  meterBlobs<T extends BlobStore>(store: T, backend: string): T {
    return meter(store, {
      observe: (operation, seconds) => this.#blobSeconds.observe({ backend, operation }, seconds),
      failed: (operation, err) => !(err instanceof BlobNotFoundError) && this.#blobErrors.inc({ backend, operation }),
    });
  }

  /**
   * The Prometheus text of every serving process (this one alone when it is not a
   * cluster worker), and of the shared store. A worker that does not answer in time
   * is left out of this scrape (coffer_metrics_workers_reporting says how many did).
   */
  async scrape(): Promise<{ contentType: string; body: string }> {
    let reports: MetricJson[][];
    if (cluster.isWorker && process.send !== undefined && process.connected) {
      const id = this.#gatherings++;
      const gathered = await new Promise<Extract<MetricsMessage, { coffer: 'metrics-gathered' }> | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 5000);
        this.#waiting.set(id, (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        process.send!({ coffer: 'metrics-gather', id } satisfies MetricsMessage, undefined, {}, (err) => {
          if (err) {
            clearTimeout(timer);
            resolve(undefined);
          }
        });
      }).finally(() => this.#waiting.delete(id));
      reports = gathered ? (gathered.reports as MetricJson[][]) : [await this.registry.getMetricsAsJSON()];
    } else {
      reports = [await this.registry.getMetricsAsJSON()];
    }
    this.#workersReporting.set(reports.length);
    this.#forgetSharedReads();
    const shared = await this.#shared.getMetricsAsJSON();
    const aggregated = client.AggregatorRegistry.aggregate([...reports, shared]);
    return { contentType: this.registry.contentType, body: await aggregated.metrics() };
  }
}

interface MeterHooks {
  observe(operation: string, seconds: number): void;
  failed(operation: string, err: unknown): void;
}

/**
 * A view of `target` whose methods are timed. Methods run on the target itself
 * (drivers keep #private state), and only methods that return a promise are
 * timed: synchronous ones (listeners, statistics) pass through as they are.
 */
function meter<T extends object>(target: T, hooks: MeterHooks): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, name) {
      const value = Reflect.get(t, name) as unknown;
      if (typeof value !== 'function' || typeof name !== 'string' || name === 'constructor') return value;
      let w = wrapped.get(name);
      if (w === undefined) {
        const fn = value as (...args: unknown[]) => unknown;
        w = (...args: unknown[]): unknown => {
          const started = process.hrtime.bigint();
          let result: unknown;
          try {
            result = fn.apply(t, args);
          } catch (err) {
            hooks.failed(name, err);
            throw err;
          }
          if (!(result instanceof Promise)) return result;
          return result.then(
            (v: unknown) => {
              hooks.observe(name, Number(process.hrtime.bigint() - started) / 1e9);
              return v;
            },
            (err: unknown) => {
              hooks.observe(name, Number(process.hrtime.bigint() - started) / 1e9);
              hooks.failed(name, err);
              throw err;
            },
          );
        };
        wrapped.set(name, w);
      }
      return w;
    },
  });
}

/** A bounded name for a path under /_coffer/. */
function cofferOperation(path: string): string {
  if (path === '/_coffer/metrics') return 'Metrics';
  if (path === '/_coffer/health/ready') return 'Ready';
  if (path.startsWith('/_coffer/console')) return 'Console';
  return 'Other';
}
