// While a sync command waits for its database to start: fetch repomd.xml, and when the primary it names is not in the
// pool yet (upstream changed), fetch that into the pool and start its parse (startParseAhead), which the sync takes
// over if its own repomd.xml, read under the repository lock, names the same file. A guess only: whatever fails or
// differs here is dropped without a word, and the sync does that work itself, recorded in its run.
import type { Logger } from "pino";
import type { Config, RepositoryConfig } from "../config/schema.js";
import { fetchBuffer } from "../http/client.js";
import { downloadToPool } from "../http/download.js";
import { repositoryHttp, type RepositoryHttp } from "../http/repo-http.js";
import { upstreamFileUrl } from "../http/url.js";
import { errorMessage } from "../errors.js";
import type { BlobStore } from "../storage/blob-store.js";
import { parseRepomd } from "./repomd.js";
import { parsesAskedSoFar, startParseAhead } from "./primary-thread.js";
import { locationOf, MAX_REPOMD_BYTES, primaryParseOptions, REPOMD } from "./sync-steps.js";

export interface PrimaryAheadInput {
  config: Config;
  repo: RepositoryConfig;
  blobs: BlobStore;
  /** Where relative ca_bundle and certificate paths are (the configuration directory). */
  configDir: string;
  /** --full or --dry-run: the sync parses every element, so the parse ahead must too. */
  full: boolean;
  log: Logger;
  /** The command's: an interrupted command does not wait for the head start's requests. */
  signal: AbortSignal;
}

/** Settles when the parse is started, or when there is nothing to start (never rejects). */
export async function parsePrimaryAhead(input: PrimaryAheadInput): Promise<void> {
  const { config, repo, blobs, log } = input;
  // A pool elsewhere (S3) would stream the file through this thread: the gain is not worth it there.
  if (blobs.localPath === undefined) return;
  const askedBefore = parsesAskedSoFar();
  let http: RepositoryHttp | undefined;
  try {
    // No retries: a failure here costs nothing but the head start, and the sync retries under its own rules.
    http = repositoryHttp(repo, config, { retries: 0, signal: input.signal }, { configDir: input.configDir, onWarning: () => undefined });
    // A wrong password is never sent twice in a run for a head start: proxies and servers lock accounts after a few.
    if (http.sendsCredentials) return;
    const repomd = parseRepomd(
      (await fetchBuffer(upstreamFileUrl(repo.upstream_url, REPOMD), http.http, { maxBytes: MAX_REPOMD_BYTES }, { subject: "repomd.xml" })).body,
    );
    const primary = repomd.data.find((d) => d.type === "primary");
    // Another checksum than sha256 is looked up in the database, which is not open yet.
    if (primary?.checksum.algo !== "sha256") return;
    const path = locationOf({ repo }, primary.location, primary.locationBase);
    const sha256 = primary.checksum.value.toLowerCase();
    // Upstream's text: only a well-formed key is looked up in the pool (the sync refuses the others, named).
    if (!/^[0-9a-f]{64}$/.test(sha256)) return;
    // Pooled already: most likely an unchanged repository, a no-op that parses nothing.
    if ((await blobs.sizeOf(sha256)) !== undefined) return;
    await downloadToPool(
      {
        url: upstreamFileUrl(repo.upstream_url, path),
        expected: primary.checksum,
        ...(primary.size !== undefined ? { size: primary.size } : {}),
        label: `primary metadata (${path})`,
      },
      { blobs, http: http.http },
    );
    const options = primaryParseOptions(path, primary.openSize, { repo, config, force: input.full }, false);
    if (startParseAhead(blobs.localPath(sha256), options, askedBefore)) log.debug({ repo: repo.id }, `${path}: fetched and parsing while the database starts`);
  } catch (err) {
    log.debug({ repo: repo.id, error: errorMessage(err) }, "no head start for the primary's parse");
  } finally {
    await http?.close();
  }
}
