// The starter configuration `config init` writes: a commented config.yaml and one conf.d/ file with two disabled repositories.
import { constants } from "node:fs";
import { mkdir, open, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ChantalError } from "../errors.js";

/** The files, relative to the configuration directory, in the order they are written. Kept in step with examples/config/ (a test compares them). */
export const INIT_FILES: readonly { path: string; text: string }[] = [
  {
    path: "config.yaml",
    text: `# config.yaml: settings of this Chantal installation, written by "chantal-run config init".
# Then every conf.d/*.yaml is read in sorted order: one file per repository (or per vendor) is easiest to manage.
# Strings may use \${VAR} or \${VAR:-default} from the environment, so that secrets stay out of these files.
# Check your edits with: chantal-run config validate   (JSON Schema for editors: chantal-run config schema)

storage:
  base_path: /var/lib/chantal          # pool/, published/, backups/, postgres/ (embedded database) live here
  # published_path: /srv/mirror        # what your web server serves (default <base_path>/published)
  # backend: s3                        # pool and published trees in a bucket instead of base_path
  # s3: { bucket: my-mirror, region: eu-central-1 }

# database:
#   url: postgres://chantal:\${CHANTAL_DB_PASSWORD}@db.example.org:5432/chantal
#   (unset: CHANTAL_DATABASE_URL, DATABASE_URL, else the embedded PostgreSQL under base_path)

# proxy:
#   http_proxy: "http://proxy.example.com:8080"
#   https_proxy: "http://proxy.example.com:8080"
#   no_proxy: "localhost,127.0.0.1,.internal.example.com"
#   username: "proxyuser"
#   password: "\${CHANTAL_PROXY_PASSWORD}"

scheduler:
  max_concurrent_syncs: 2              # syncs the local scheduler ("scheduler start") runs at once
  catch_up: true                       # a run missed while the scheduler was down starts when it comes back

# backup:
#   target: /var/backups/chantal       # or s3://bucket/prefix; "db backup" writes there
#   schedule: { cron: "0 4 * * *" }
#   retention: { keep_daily: 7, keep_weekly: 4 }

# groups:                              # repositories frozen and promoted together (snapshot create --group, promote)
#   - id: fleet
#     repositories: [rocky9-baseos, debian-bookworm-updates]
#     schedule: { cron: "0 4 * * *", timezone: Europe/Berlin, name: "{repo_id}-{date}" }   # waits for members' syncs of the same time
# environments: [dev, test, prod]      # promote --group fleet --snapshot NAME --to dev; clients use <published>/prod/<repo-id>/
`,
  },
  {
    path: "conf.d/example.yaml",
    text: `# conf.d/example.yaml: two example repositories, both disabled (enabled: false) until you point them at a mirror.
# To use one: set upstream_url (or the variable it names), set enabled: true, then
#   chantal-run config validate && chantal-run repo sync --repo-id <id>
# A disabled repository is skipped by "repo sync --all" and by the scheduler; "repo sync --repo-id <id>" still syncs it.
repositories:
  - id: rocky9-baseos
    type: rpm
    enabled: false
    description: Rocky Linux 9 BaseOS, x86_64
    upstream_url: \${ROCKY_MIRROR:-http://mirror.example.org/rocky}/9/BaseOS/x86_64/os/
    download_concurrency: 8
    schedule:
      cron: "0 2 * * *"                # minute hour day-of-month month day-of-week
      timezone: Europe/Berlin

  - id: debian-bookworm-updates
    type: apt
    enabled: false
    description: Debian 12 bookworm-updates, main, amd64
    upstream_url: \${DEBIAN_MIRROR:-http://mirror.example.org/debian}
    apt:
      distribution: bookworm-updates
      components: [main]
      architectures: [amd64]
    verify:
      keyring: /usr/share/keyrings/debian-archive-keyring.gpg   # checks InRelease (apt-get install debian-archive-keyring)
    schedule:
      cron: "30 2 * * *"
      timezone: Europe/Berlin
      create_snapshot: true            # freeze and publish <published>/<id>/snapshots/<name> after each scheduled sync
      snapshot_name_template: "{repo_id}-{date}"
`,
  },
];

/** An existing file that `config init` will not overwrite. */
export class InitTargetExistsError extends ChantalError {}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

function refusal(path: string): InitTargetExistsError {
  return new InitTargetExistsError(
    `${path} already exists: config init never overwrites a file; edit it, or move it away and run config init again (or choose another --config-dir)`,
  );
}

/**
 * Write the starter files into `dir` (created 0755 with its parents). Nothing is written when any of them
 * exists already; a file that appears meanwhile is not overwritten either (O_EXCL), and what this call wrote is removed again.
 */
export async function writeInitialConfig(dir: string): Promise<string[]> {
  const targets = INIT_FILES.map((f) => ({ ...f, full: join(dir, f.path) }));
  for (const t of targets) if (await exists(t.full)) throw refusal(t.full);
  const written: string[] = [];
  try {
    for (const t of targets) {
      await mkdir(join(t.full, ".."), { recursive: true, mode: 0o755 });
      const handle = await open(t.full, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644).catch((err: NodeJS.ErrnoException) => {
        throw err.code === "EEXIST" ? refusal(t.full) : err;
      });
      try {
        await handle.writeFile(t.text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      written.push(t.full);
    }
  } catch (err) {
    for (const p of written) await unlink(p).catch(() => undefined);
    throw err;
  }
  return written;
}
