// Tests of core/storage/syncfs-runner.ts: one shell answers every syncfs request in order, a failing or hanging
// `sync` answers false, a shell that cannot start answers undefined (the caller's own fallback), and an idle
// runner does not keep the process alive.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { SyncfsRunner } from "../../../core/storage/syncfs-runner.js";
import { repoRoot } from "../../helpers/cli.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "chantal-syncfs-"));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function runner(timeoutMs = 30_000, shell?: string, env?: NodeJS.ProcessEnv): SyncfsRunner {
  const r = new SyncfsRunner(timeoutMs, shell, env);
  cleanups.push(() => r.close());
  return r;
}

/** A PATH whose only `sync` is `script` (with the shell's own tools still found). */
function fakeSync(script: string): NodeJS.ProcessEnv {
  const bin = tempDir();
  writeFileSync(join(bin, "sync"), `#!/bin/sh\n${script}\n`);
  chmodSync(join(bin, "sync"), 0o755);
  return { ...process.env, PATH: `${bin}:${process.env.PATH}` };
}

it("answers every request, concurrent ones in order, through one shell", async () => {
  const d = tempDir();
  const r = runner();
  expect(await Promise.all(Array.from({ length: 20 }, () => r.run(d)))).toEqual(Array(20).fill(true));
  expect(await r.run(d)).toBe(true);
  // Every `sync` is a child of the same shell.
  const parents = join(d, "parents");
  const traced = runner(30_000, undefined, fakeSync(`echo $PPID >> ${JSON.stringify(parents)}`));
  expect(await Promise.all(Array.from({ length: 10 }, () => traced.run(d)))).toEqual(Array(10).fill(true));
  const ppids = readFileSync(parents, "utf8").trim().split("\n");
  expect(ppids).toHaveLength(10);
  expect(new Set(ppids).size).toBe(1);
  expect(Number(ppids[0])).not.toBe(process.pid);
});

it("a sync that fails answers false, and the next request is answered by the same shell", async () => {
  const env = fakeSync(`for a; do last="$a"; done; case "$last" in */bad) exit 1;; esac; exit 0`);
  const d = tempDir();
  const r = runner(30_000, undefined, env);
  expect(await Promise.all([r.run(join(d, "good")), r.run(join(d, "bad")), r.run(join(d, "good"))])).toEqual([true, false, true]);
});

it("a sync that hangs answers false after the timeout; the requests behind it get no answer, and the next one a new shell", async () => {
  const d = tempDir();
  const marker = join(d, "hang-once");
  writeFileSync(marker, "");
  const env = fakeSync(`if [ -e ${JSON.stringify(marker)} ]; then rm -f ${JSON.stringify(marker)}; exec sleep 30; fi; exit 0`);
  const r = runner(300, undefined, env);
  const started = Date.now();
  expect(await Promise.all([r.run(d), r.run(d)])).toEqual([false, undefined]);
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(await r.run(d)).toBe(true);
});

it("a shell that cannot start answers undefined; a directory with a newline is not sent", async () => {
  const d = tempDir();
  expect(await runner(30_000, join(d, "no-such-shell")).run(d)).toBeUndefined();
  expect(await runner().run(`${d}/a\nb`)).toBeUndefined();
});

it("an abort rejects the wait; the runner still answers the next request", async () => {
  const d = tempDir();
  const env = fakeSync("sleep 0.3; exit 0");
  const r = runner(30_000, undefined, env);
  const ac = new AbortController();
  const waiting = r.run(d, ac.signal);
  ac.abort(new Error("stop"));
  await expect(waiting).rejects.toThrow("stop");
  expect(await r.run(d)).toBe(true);
});

it("an idle runner does not keep the process alive", () => {
  const mod = JSON.stringify(join(repoRoot, "core/storage/syncfs-runner.ts"));
  const code = `const { SyncfsRunner } = await import(${mod}); const r = new SyncfsRunner(30000); console.log(await r.run(${JSON.stringify(tempDir())}));`;
  const res = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: repoRoot, encoding: "utf8", timeout: 20_000 });
  expect(res.error).toBeUndefined();
  expect(res.status, res.stderr).toBe(0);
  expect(res.stdout.trim()).toBe("true");
});

it("looks `sync` up on the PATH of the moment: a PATH without it answers false, and the PATH back, true again", async () => {
  const d = tempDir();
  const r = runner();
  expect(await r.run(d)).toBe(true);
  const path = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    expect(await r.run(d)).toBe(false);
  } finally {
    process.env.PATH = path;
  }
  expect(await r.run(d)).toBe(true);
});
