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
 */
import type { BucketRecord, MetadataStore } from '../metadata/metadata-store.js';

/** Methods that only read, and so leave the memo as it is. */
function isRead(method: string): boolean {
  return method.startsWith('get') || method.startsWith('list') || method === 'referencedBlobIds';
}

export function requestScopedMetadata(store: MetadataStore): MetadataStore {
  let buckets = new Map<string, Promise<BucketRecord | undefined>>();
  let configs = new Map<string, Promise<Map<string, string>>>();
  const forget = () => {
    buckets = new Map();
    configs = new Map();
  };
  const memo = <T>(cache: Map<string, Promise<T>>, key: string, read: () => Promise<T>): Promise<T> => {
    let p = cache.get(key);
    if (!p) {
      p = read();
      cache.set(key, p);
      // A failed read is not remembered.
      p.catch(() => cache.get(key) === p && cache.delete(key));
    }
    return p;
  };
  const own: Partial<MetadataStore> = {
    getBucket: (name) => memo(buckets, name, () => store.getBucket(name)),
    getBucketConfigs: (bucket) => memo(configs, bucket, () => store.getBucketConfigs(bucket)),
    getBucketConfig: async (bucket, name) => (await own.getBucketConfigs!(bucket)).get(name),
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in own) return own[prop as keyof typeof own];
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (typeof prop === 'string' && isRead(prop)) return fn.bind(target);
      return (...args: unknown[]) => {
        forget();
        return fn.apply(target, args);
      };
    },
  });
}
