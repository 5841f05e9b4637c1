// The sync decides on the run's clock (SyncEnv.now, carried as RepoSyncContext.now), never the host's: an APT
// Release's Valid-Until and Date are judged against the injected time.
import { formatLocalTimeWithZone } from "../../core/local-time.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../../core/config/load.js";
import { openDatabase, type Database } from "../../core/db/client.js";
import { migrate } from "../../core/db/migrate.js";
import { silentLogger } from "../../core/log.js";
import { runSync } from "../../functions/sync.js";
import { buildDeb, createGpgKey, writeAptRepo, type GpgKey } from "../helpers/apt-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";

const TOOLS = ["dpkg-deb", "dpkg-scanpackages", "apt-ftparchive", "gpg", "xz"] as const;
const DIST = "bookworm";
// Dates long past on the host's clock: only the injected clock can find this Release valid.
const RELEASE_DATE = new Date("2020-01-01T00:00:00Z");
const VALID_UNTIL = "Valid-Until: Sat, 01 Feb 2020 00:00:00 UTC";

let scratch: string;
let key: GpgKey;
let env: SyncEnvironment;
let database: Database | undefined;

describeWithTools(TOOLS, "the sync's injected clock", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-clock-"));
    key = await createGpgKey(join(scratch, "keys"), { name: "Archive Clock" });
    const upstream = join(scratch, "up");
    await buildDeb(upstream, { name: "alpha", version: "1.0-1", payloadBytes: 2000 });
    await writeAptRepo(upstream, { dist: DIST, signer: key, date: RELEASE_DATE, extraFields: [VALID_UNTIL] });
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        `  - id: deb\n    type: apt\n    upstream_url: ${url}/\n    apt:\n      distribution: ${DIST}\n    verify:\n      keyring: ${key.keyring}\n`,
    });
    await migrate(env.pg);
  }, 120_000);

  afterAll(async () => {
    await database?.close();
    await env?.close();
    await key?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("refuses a Release whose Valid-Until is past on the injected clock, and syncs it on a clock before Valid-Until", async () => {
    const loaded = await loadConfig({ configDir: env.configDir, env: {} });
    database = await openDatabase({ config: loaded.config, log: silentLogger(), env: {} });
    const syncAt = (iso: string) =>
      runSync(
        { repoId: "deb", trigger: "manual" },
        { loaded, database: database!, log: silentLogger(), signal: new AbortController().signal, now: () => new Date(iso) },
      );

    const late = await syncAt("2020-03-01T00:00:00Z");
    expect(late.status).toBe("failed");
    expect(late.error).toContain(
      `InRelease of repository deb has expired: Valid-Until ${formatLocalTimeWithZone(new Date("2020-02-01T00:00:00Z"))} is in the past`,
    );

    const inTime = await syncAt("2020-01-15T00:00:00Z");
    expect(inTime.error).toBeUndefined();
    expect(inTime.status).toBe("success");
    expect(inTime.counts.packagesTotal).toBe(1);
  });
});
