// A curated APT sync run in-process (filter from the config, a MetadataSigner from a GnuPG key), until the CLI passes the signer itself.
import { readFileSync } from "node:fs";
import { loadConfig, findRepository } from "../../core/config/load.js";
import { openDatabase, type Database } from "../../core/db/client.js";
import { ensureRepository } from "../../core/db/repositories.js";
import { finishRun, startRun, zeroCounts } from "../../core/db/sync-runs.js";
import { syncApt } from "../../core/apt/sync.js";
import { effectiveFilter, type ActiveFilter } from "../../core/filter/effective.js";
import { repositoryHttp } from "../../core/http/repo-http.js";
import { silentLogger, type Logger } from "../../core/log.js";
import type { MetadataSigner, RepoSyncResult } from "../../core/mirror/types.js";
import { publishLatest } from "../../core/publish/trees.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { runWithInput, type GpgKey } from "./apt-fixtures.js";

function gpg(key: GpgKey, args: string[], input: Buffer): Promise<Buffer> {
  return runWithInput(
    "gpg",
    ["--homedir", key.home, "--batch", "--no-tty", "--quiet", "--local-user", key.fingerprint, "--digest-algo", "SHA512", ...args],
    input,
  );
}

/** The mirror's signer, backed by a GnuPG key made at test time (createGpgKey). */
export function gpgMetadataSigner(key: GpgKey, opts: { resign?: boolean; publicKeyName?: string } = {}): MetadataSigner {
  return {
    resign: opts.resign ?? false,
    publicKeyName: opts.publicKeyName ?? "chantal-mirror",
    fingerprint: key.fingerprint,
    async signDetached(data) {
      return (await gpg(key, ["--armor", "--detach-sign"], data)).toString("utf8");
    },
    async clearsign(text) {
      return (await gpg(key, ["--clearsign"], Buffer.from(text, "utf8"))).toString("utf8");
    },
    publicKeyArmored: () => readFileSync(key.armored, "utf8"),
    publicKeyBinary: () => new Uint8Array(readFileSync(key.keyring)),
  };
}

export interface CuratedSyncOptions {
  repoId: string;
  signer?: MetadataSigner;
  /** Replaces the configured filter (undefined: the config's, through effectiveFilter; null: none). */
  filter?: ActiveFilter | null;
  dryRun?: boolean;
  force?: boolean;
  publish?: boolean;
  log?: Logger;
}

export interface CuratedSyncer {
  sync(opts: CuratedSyncOptions): Promise<RepoSyncResult>;
  database(): Database;
  close(): Promise<void>;
}

/** Runs core/apt/sync.ts as functions/sync-repository.ts does (run row, commit, publish latest), with a filter and signer given here. */
export async function curatedSyncer(configDir: string): Promise<CuratedSyncer> {
  const loaded = await loadConfig({ configDir, env: {} });
  const db = await openDatabase({ config: loaded.config, log: silentLogger(), env: {} });
  return {
    database: () => db,
    async sync(opts) {
      const { config } = loaded;
      const repo = findRepository(loaded, opts.repoId);
      const row = await ensureRepository(db.pool, repo);
      const runId = await startRun(db.pool, row.id, "manual", "running", new Date());
      const http = repositoryHttp(repo, config, {}, { configDir: loaded.dir });
      const filter = opts.filter === undefined ? effectiveFilter(config, repo) : (opts.filter ?? undefined);
      const counts = zeroCounts();
      try {
        const result = await syncApt({
          config,
          repo,
          row,
          db: db.pool,
          blobs: blobStoreOf(config),
          http: http.http,
          log: opts.log ?? silentLogger(),
          signal: new AbortController().signal,
          runId,
          force: opts.force ?? false,
          counts,
          allowDowngrade: false,
          now: () => new Date(),
          ...(filter ? { filter } : {}),
          ...(opts.signer ? { signer: opts.signer } : {}),
          ...(opts.dryRun ? { dryRun: true } : {}),
        });
        await finishRun(db.pool, runId, { status: result.status === "dry-run" ? "noop" : result.status, counts, finishedAt: new Date() });
        if (result.status === "success" && opts.publish !== false) await publishLatest(db.pool, config, { id: row.id, repoId: repo.id });
        return result;
      } catch (err) {
        await finishRun(db.pool, runId, { status: "failed", counts, error: String(err), finishedAt: new Date() });
        throw err;
      } finally {
        await http.close();
      }
    },
    close: () => db.close(),
  };
}
