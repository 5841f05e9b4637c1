// backup-list and backup-info: manifests read from the first member of each archive, without reading the rest.
import { errorMessage } from "../errors.js";
import { readManifestText } from "./archive.js";
import { parseManifest, type Manifest } from "./manifest.js";
import { dateFromBackupName, isArchiveName } from "./naming.js";
import type { BackupStore } from "./store.js";

export interface BackupListing {
  name: string;
  location: string;
  size: number;
  createdAt: Date;
  /** The manifest is readable and valid (the members are checked by backup-verify, not here). */
  valid: boolean;
  error?: string;
  manifest?: Manifest;
}

/** A listing as `db backup list --json` and the dashboard's /api/backups show it (snake_case, nulls for what is unknown). */
export function backupListingJson(b: BackupListing) {
  return {
    name: b.name,
    location: b.location,
    created_at: b.createdAt,
    size: b.size,
    valid: b.valid,
    error: b.error ?? null,
    packages: b.manifest?.packages_count ?? null,
    database_version: b.manifest?.database_version ?? null,
    includes_config: b.manifest?.includes_config ?? null,
    encrypted_to: b.manifest?.encryption?.recipients ?? null,
  };
}

export async function readBackupManifest(store: BackupStore, name: string, signal?: AbortSignal): Promise<Manifest> {
  return parseManifest(await readManifestText(await store.openRead(name, signal)));
}

/** Every tar archive in the store, newest first; an unreadable one is listed as invalid with the reason, never hidden. */
export async function listBackups(store: BackupStore, signal?: AbortSignal): Promise<BackupListing[]> {
  const objects = (await store.list()).filter((o) => isArchiveName(o.name));
  const out: BackupListing[] = [];
  for (const o of objects) {
    const base = { name: o.name, location: store.describe(o.name), size: o.size };
    try {
      const manifest = await readBackupManifest(store, o.name, signal);
      out.push({ ...base, createdAt: new Date(manifest.created_at), valid: true, manifest });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      out.push({ ...base, createdAt: dateFromBackupName(o.name) ?? o.modified, valid: false, error: errorMessage(err) });
    }
  }
  return out.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.name < b.name ? 1 : -1));
}
