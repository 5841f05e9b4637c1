// Tests of postmasterReady and serverRunning (core/db/embedded.ts): what postmaster.pid says of the server, and of
// passwdLookup (the service user from /etc/passwd).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { passwdLookup, postmasterReady, serverRunning } from "../../../core/db/embedded.js";

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

it.each([
  { name: "a live server", content: pidFile(process.pid, now - 600, "ready"), running: true },
  { name: "a live server still starting", content: pidFile(process.pid, now, "starting"), running: true },
  { name: "a single-user backend (negative pid)", content: pidFile(-process.pid, now, ""), running: true },
  { name: "a stale file: its process is gone", content: pidFile(2 ** 22 + 17, now, "ready"), running: false },
  { name: "an empty file: ask pg_ctl", content: "", running: undefined },
  { name: "no pid on its first line: ask pg_ctl", content: "x\n", running: undefined },
])("serverRunning, $name: $running", async ({ content, running }) => {
  writeFileSync(join(dir, "postmaster.pid"), content);
  expect(await serverRunning(dir)).toBe(running);
});

it("serverRunning without postmaster.pid: false (pg_ctl status's exit 3)", async () => {
  rmSync(join(dir, "postmaster.pid"), { force: true });
  expect(await serverRunning(dir)).toBe(false);
  expect(await serverRunning(join(dir, "missing-data-dir"))).toBe(false);
});

const PASSWD =
  "root:x:0:0:root:/root:/bin/bash\npostgres-old:x:5:5::/:/bin/false\n# comment\npostgres:x:998:996:PostgreSQL:/nonexistent:/usr/sbin/nologin\nbroken:x:abc:1::/:\n";
it.each([
  { name: "postgres", found: { uid: 998, gid: 996 } },
  { name: "root", found: { uid: 0, gid: 0 } },
  { name: "postgres-o", found: undefined },
  { name: "broken", found: undefined },
  { name: "nobody", found: undefined },
])("passwdLookup($name)", ({ name, found }) => {
  expect(passwdLookup(PASSWD, name)).toEqual(found);
});
