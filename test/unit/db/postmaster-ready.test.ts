// Tests of postmasterReady (core/db/embedded.ts): when postmaster.pid says the server just started accepts connections.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { postmasterReady } from "../../../core/db/embedded.js";

const dir = mkdtempSync(join(tmpdir(), "chantal-pmready-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A postmaster.pid as PostgreSQL writes it: pid, data dir, start time, port, socket dir, listen address, shmem key, status. */
function pidFile(pid: number, startedSec: number, status: string): string {
  return `${pid}\n${dir}\n${startedSec}\n5432\n\n127.0.0.1\n  1234  5678\n${status}\n`;
}

const now = Math.floor(Date.now() / 1000);

it.each([
  { name: "a live server started now, ready", content: pidFile(process.pid, now, "ready"), since: now, ready: true },
  { name: "started a second before our start (clock granularity)", content: pidFile(process.pid, now - 1, "ready"), since: now, ready: true },
  { name: "still starting", content: pidFile(process.pid, now, "starting"), since: now, ready: false },
  { name: "stopping", content: pidFile(process.pid, now, "stopping"), since: now, ready: false },
  { name: "stale: started long before our start", content: pidFile(process.pid, now - 60, "ready"), since: now, ready: false },
  { name: "stale: its process is gone", content: pidFile(2 ** 22 + 17, now, "ready"), since: now, ready: false },
  { name: "truncated (being written)", content: `${process.pid}\n${dir}\n`, since: now, ready: false },
  { name: "no pid", content: pidFile(0, now, "ready"), since: now, ready: false },
])("$name: $ready", async ({ content, since, ready }) => {
  writeFileSync(join(dir, "postmaster.pid"), content);
  expect(await postmasterReady(dir, since)).toBe(ready);
});

it("no postmaster.pid: not ready", async () => {
  rmSync(join(dir, "postmaster.pid"), { force: true });
  expect(await postmasterReady(dir, now)).toBe(false);
});
