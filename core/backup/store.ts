// Where backups live: a local directory or an S3 prefix, behind one small interface (list, read, atomic write, delete).
import { createReadStream, createWriteStream } from "node:fs";
import { readdir, stat, unlink } from "node:fs/promises";
import { DirMode, makeDirectory } from "../fs-dirs.js";
import { basename, dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Config } from "../config/schema.js";
import { ChantalError } from "../errors.js";
import { durableRename } from "../storage/durable.js";
import { ownedName, sweepLeftovers } from "../leftovers.js";
import { s3ConnectionOf } from "../s3/client.js";
import { isS3Url, parseS3Url } from "../s3/url.js";
import { S3Store, type StoredObject } from "./s3.js";

export class BackupNotFoundError extends ChantalError {}

export interface BackupStore {
  /** The directory, or s3://bucket/prefix; with a name, that backup's location. */
  describe(name?: string): string;
  list(): Promise<StoredObject[]>;
  openRead(name: string, signal?: AbortSignal): Promise<Readable>;
  size(name: string): Promise<number>;
  /** Write a new backup atomically: readers never see a partial archive under `name`. */
  write(name: string, body: Readable, signal?: AbortSignal): Promise<void>;
  remove(name: string): Promise<void>;
  close(): void;
}

export class LocalStore implements BackupStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  describe(name?: string): string {
    return name ? join(this.dir, name) : this.dir;
  }

  async list(): Promise<StoredObject[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const out: StoredObject[] = [];
    for (const name of names) {
      const info = await stat(join(this.dir, name)).catch(() => undefined);
      if (info?.isFile()) out.push({ name, size: info.size, modified: info.mtime });
    }
    return out;
  }

  async openRead(name: string): Promise<Readable> {
    const path = this.describe(name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw new BackupNotFoundError(`backup ${path} not found`);
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async size(name: string): Promise<number> {
    return (await stat(this.describe(name))).size;
  }

  /** Written as .<name>.partial~host~pid~ beside the target, fsynced and renamed into place; an existing file is never overwritten. */
  async write(name: string, body: Readable, signal?: AbortSignal): Promise<void> {
    const final = this.describe(name);
    if (await stat(final).catch(() => undefined)) throw new ChantalError(`${final} exists already: choose another --output, or remove it`);
    await makeDirectory(this.dir, { mode: DirMode.private }); // dumps and config files: the owner only
    await sweepLeftovers(this.dir, (n) => n.startsWith(".") && /\.partial(~|$)/.test(n));
    const partial = join(this.dir, ownedName(`.${name}.partial`));
    try {
      await pipeline(body, createWriteStream(partial, { mode: 0o600 }), signal ? { signal } : {});
      // The name a reader trusts must never point at bytes that are not on disk yet.
      await durableRename(partial, final);
    } catch (err) {
      await unlink(partial).catch(() => undefined);
      throw err;
    }
  }

  async remove(name: string): Promise<void> {
    await unlink(this.describe(name));
  }

  close(): void {}
}

/** backup.dir, else <base_path>/backups. */
export function defaultBackupDir(config: Config): string {
  return resolve(config.backup.dir ?? join(config.storage.base_path, "backups"));
}

/** The target of a backup, listing or prune: --target, else backup.target, else backup.dir. */
export function defaultTarget(config: Config | undefined, flag?: string): string {
  if (flag) return flag;
  if (!config) throw new ChantalError("no backup target: give --target DIR|s3://bucket/prefix (there is no configuration to take backup.dir from)");
  return config.backup.target ?? defaultBackupDir(config);
}

export function openStore(target: string, config: Config | undefined): BackupStore {
  if (isS3Url(target)) return new S3Store(parseS3Url(target), s3ConnectionOf(config?.backup.s3));
  return new LocalStore(target);
}

/** A FILE or s3://bucket/prefix/name argument: the store it is in and its name there. */
export function locateBackup(fileOrUrl: string, config: Config | undefined): { store: BackupStore; name: string } {
  if (isS3Url(fileOrUrl)) {
    const { bucket, prefix } = parseS3Url(fileOrUrl);
    const slash = prefix.lastIndexOf("/");
    const name = prefix.slice(slash + 1);
    if (!name) throw new ChantalError(`"${fileOrUrl}" names no object: give s3://bucket/prefix/chantal-backup-....tar.gz`);
    return { store: new S3Store({ bucket, prefix: slash === -1 ? "" : prefix.slice(0, slash) }, s3ConnectionOf(config?.backup.s3)), name };
  }
  const abs = resolve(fileOrUrl);
  return { store: new LocalStore(dirname(abs)), name: basename(abs) };
}
