// storage.backend picks where the pool and the published trees live: a directory (default) or an S3 bucket.
import type { Config } from "../config/schema.js";
import { ChantalError } from "../errors.js";
import { S3Bucket, s3SettingsOf } from "../s3/bucket.js";
import { s3ConnectionOf } from "../s3/client.js";
import { setFsyncEnabled } from "./durable.js";
import { FilesystemBlobStore } from "./pool.js";
import { S3BlobStore } from "./s3-blob-store.js";

/** One S3 store (one client, one connection pool) per loaded configuration. */
const s3Stores = new WeakMap<object, S3BlobStore>();

/** The store of the configuration; storage.fsync applies to the whole process from here (the pool's and the publishes' flushes). */
export function blobStoreOf(config: Config): FilesystemBlobStore | S3BlobStore {
  const storage = config.storage;
  setFsyncEnabled(storage.fsync !== false);
  if (storage.backend !== "s3") return new FilesystemBlobStore(storage.pool_path!, storage.temp_path!);
  if (!storage.s3) throw new ChantalError("storage.backend is s3 but storage.s3.bucket is not set");
  let store = s3Stores.get(storage);
  if (!store) {
    store = new S3BlobStore(new S3Bucket(s3SettingsOf(s3ConnectionOf(storage.s3), storage.s3)), storage.temp_path!);
    s3Stores.set(storage, store);
  }
  return store;
}
