// A publish in its own process for crash tests: publishTree of a JSON list of entries, slowly (one page per 200 ms,
// "page N" on stdout after each), so that a test can kill -9 it while the standby is being updated.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { publishTree } from "../../core/storage/publish.js";
import type { TreeEntry } from "../../core/db/package-sets.js";

const [root, pool, entriesFile, pageSize] = process.argv.slice(2) as [string, string, string, string];
const entries = JSON.parse(readFileSync(entriesFile, "utf8")) as TreeEntry[];
const size = Number(pageSize);

async function* pages(): AsyncGenerator<TreeEntry[]> {
  for (let i = 0; i < entries.length; i += size) {
    if (i > 0) {
      process.stdout.write(`page ${i / size}\n`);
      await sleep(200);
    }
    yield entries.slice(i, i + size);
  }
}

await publishTree({ repoRoot: root, name: "latest", pages, blobPath: (s) => join(pool, s) });
process.stdout.write("done\n");
