/**
 * The metadata store as one S3 request sees it: the bucket record and the
 * bucket's sub-resource documents (policy, public access block, ownership,
 * ACL, encryption) are read once per request, not once per check that needs
 * them. A PutObject used to make six reads before its one write (the bucket
 * twice, four documents one by one); each is a SQLite read transaction, and
 * with several workers nearly every one starts by re-reading pages the other
 * process's commits have invalidated.
 *
 * Within a request the answers are one snapshot, as S3 gives one request. Any
 * other method — every write — empties the memo first, so a handler that
 * changes a bucket document and reads it back sees its change. Nothing is
 * kept between requests.
 *
 * A view is an object whose prototype holds the store's methods, built once
 * per store: a request pays for two small maps, not for a proxy on every call.
 */
import type { BucketRecord, MetadataStore } from '../metadata/metadata-store.js';

/** Methods that only read, and so leave the memo as it is. */
function isRead(method: string): boolean {
  return method.startsWith('get') || method.startsWith('list') || method === 'referencedBlobIds';
}

interface Memo {
  buckets: Map<string, Promise<BucketRecord | undefined>>;
  configs: Map<string, Promise<Map<string, string>>>;
}

function remember<T>(cache: Map<string, Promise<T>>, key: string, read: () => Promise<T>): Promise<T> {
  const known = cache.get(key);
  if (known) return known;
  const fresh = read();
  cache.set(key, fresh);
  // A failed read is not remembered.
  fresh.catch(() => cache.get(key) === fresh && cache.delete(key));
  return fresh;
}

/** Every method name of the store: its own (wrapped) properties and its classes' methods. */
function methodNames(store: object): Set<string> {
  const names = new Set<string>();
  for (let o: object | null = store; o && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name !== 'constructor' && typeof (store as Record<string, unknown>)[name] === 'function') names.add(name);
    }
  }
  return names;
}

const prototypes = new WeakMap<MetadataStore, object>();

function prototypeFor(store: MetadataStore): object {
  let proto = prototypes.get(store);
  if (proto) return proto;
  const methods: Record<string, unknown> = {};
  for (const name of methodNames(store)) {
    const fn = (store as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
    methods[name] = isRead(name)
      ? (...args: unknown[]) => fn.apply(store, args)
      : function (this: Memo, ...args: unknown[]) {
          this.buckets = new Map();
          this.configs = new Map();
          return fn.apply(store, args);
        };
  }
  methods.getBucket = function (this: Memo, name: string) {
    return remember(this.buckets, name, () => store.getBucket(name));
  };
  methods.getBucketConfigs = function (this: Memo, bucket: string) {
    return remember(this.configs, bucket, () => store.getBucketConfigs(bucket));
  };
  methods.getBucketConfig = async function (this: Memo & MetadataStore, bucket: string, name: string) {
    return (await this.getBucketConfigs(bucket)).get(name);
  };
  proto = methods;
  prototypes.set(store, proto);
  return proto;
}

export function requestScopedMetadata(store: MetadataStore): MetadataStore {
  const view = Object.create(prototypeFor(store)) as Memo & MetadataStore;
  view.buckets = new Map();
  view.configs = new Map();
  return view;
}
