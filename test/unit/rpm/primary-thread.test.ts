// parsePrimaryInWorker: the same packages and the same errors as parsing in the sync's own thread.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DecompressionError, LimitExceededError } from "../../../core/compress/decompress.js";
import { AbortedError } from "../../../core/errors.js";
import { UnsafePathError } from "../../../core/mirror/location.js";
import { PrimaryParseError } from "../../../core/rpm/primary.js";
import {
  parseAheadWaiting,
  parsePrimaryInWorker,
  parserThreadsEnded,
  parsesAskedSoFar,
  prewarmPrimaryParser,
  startParseAhead,
  sparePreloaded,
  spareWorkers,
  type PrimaryInWorkerOptions,
} from "../../../core/rpm/primary-thread.js";
import type { ParsedPackage } from "../../../core/rpm/primary-protocol.js";
import { ChecksumRefusedError } from "../../../core/rpm/repomd.js";
import { rejection } from "../../helpers/assert.js";
import { repoRoot } from "../../helpers/cli.js";

const REPO = "http://127.0.0.1:9/repo/";
const HEAD = `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" packages="2">\n`;
const SHA = "ab".repeat(32);

function pkg(name: string, opts: { href?: string; base?: string; checksum?: string; size?: string } = {}): string {
  const checksum = opts.checksum ?? `<checksum type="sha256" pkgid="YES">${SHA}</checksum>`;
  const base = opts.base !== undefined ? ` xml:base="${opts.base}"` : "";
  return `<package type="rpm"><name>${name}</name><arch>x86_64</arch><version epoch="2" ver="1.0" rel="3.el9"/>${checksum}<size package="${opts.size ?? "123"}"/><location${base} href="${opts.href ?? `Packages/${name}.rpm`}"/><format><rpm:entry name="x"/></format></package>\n`;
}

async function* chunks(bytes: Buffer, size = 1000): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

function options(extra: Partial<PrimaryInWorkerOptions> = {}): PrimaryInWorkerOptions {
  return { compression: "gz", label: "repodata/primary.xml.gz", maxOutputBytes: 64 * 1024 * 1024, maxPackages: 1000, repoUrl: REPO, ...extra };
}

async function parseAll(xml: string | Buffer, extra: Partial<PrimaryInWorkerOptions> = {}): Promise<ParsedPackage[]> {
  const out: ParsedPackage[] = [];
  for await (const p of parsePrimaryInWorker(chunks(gzipSync(xml)), options(extra))) out.push(p);
  return out;
}

async function parseFileAll(file: string, extra: Partial<PrimaryInWorkerOptions> = {}): Promise<ParsedPackage[]> {
  const out: ParsedPackage[] = [];
  for await (const p of parsePrimaryInWorker({ file }, options(extra))) out.push(p);
  return out;
}

describe("parsePrimaryInWorker", () => {
  it("yields every package with its location resolved, across batches", async () => {
    const names = Array.from({ length: 2500 }, (_, i) => `p${i}`);
    const xml = `${HEAD}${names.map((n) => pkg(n)).join("")}${pkg("based", { base: `${REPO}sub/`, href: "x.rpm", size: "7" })}</metadata>`;
    const got = await parseAll(xml, { maxPackages: 10_000 });
    expect(got).toHaveLength(2501);
    expect(got[0]).toEqual({
      location: "Packages/p0.rpm",
      name: "p0",
      epoch: 2,
      version: "1.0",
      release: "3.el9",
      arch: "x86_64",
      size: 123,
      checksumAlgo: "sha256",
      checksumValue: SHA,
    });
    expect(got[1999]!.name).toBe("p1999");
    expect(got[2500]).toMatchObject({ location: "sub/x.rpm", size: 7 });
  });

  it("brings each error back as the class the sync expects", async () => {
    const cases: [string, Buffer | string, Partial<PrimaryInWorkerOptions>, new (...a: never[]) => Error, RegExp][] = [
      ["malformed XML", `${HEAD}<package type="rpm"><name>a</nam></package></metadata>`, {}, PrimaryParseError, /primary\.xml\.gz: not well-formed XML/],
      ["md5", `${HEAD}${pkg("a", { checksum: `<checksum type="md5">${"a".repeat(32)}</checksum>` })}</metadata>`, {}, ChecksumRefusedError, /md5/],
      ["unsafe href", `${HEAD}${pkg("a", { href: "../../etc/passwd" })}</metadata>`, {}, UnsafePathError, /\.\.\/\.\.\/etc\/passwd/],
      ["too many packages", `${HEAD}${pkg("a")}${pkg("b")}${pkg("c")}</metadata>`, { maxPackages: 2 }, LimitExceededError, /more than 2 packages/],
      [
        "decompressed size",
        `${HEAD}${"<!-- padding -->".repeat(10_000)}</metadata>`,
        { maxOutputBytes: 4096 },
        LimitExceededError,
        /decompresses to more than 4 KiB/,
      ],
    ];
    for (const [what, xml, extra, cls, message] of cases) {
      const err = await rejection(parseAll(xml, extra));
      expect(err, what).toBeInstanceOf(cls);
      expect((err as Error).message, what).toMatch(message);
    }
    const limit = (await rejection(parseAll(`${HEAD}${pkg("a")}${pkg("b")}${pkg("c")}</metadata>`, { maxPackages: 2 }))) as LimitExceededError;
    expect(limit).toMatchObject({ limit: "maxPackages", max: 2 });
  });

  it("reports corrupt compressed data as a DecompressionError", async () => {
    const gz = gzipSync(`${HEAD}${pkg("a")}</metadata>`);
    gz.fill(0x55, 12, 40);
    const out: ParsedPackage[] = [];
    const err = await rejection(
      (async () => {
        for await (const p of parsePrimaryInWorker(chunks(gz), options())) out.push(p);
      })(),
    );
    expect(err).toBeInstanceOf(DecompressionError);
  });

  it("passes a failure of the source through unchanged", async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield gzipSync(HEAD).subarray(0, 10);
      throw new Error("connection reset while reading the pool");
    }
    const err = await rejection(
      (async () => {
        for await (const _ of parsePrimaryInWorker(failing(), options())) void _;
      })(),
    );
    expect((err as Error).message).toBe("connection reset while reading the pool");
  });

  it("reads a file on this host itself ({ file }): the same packages and errors as the bytes sent by the main thread", async () => {
    const dir = await mkdtemp(join(tmpdir(), "chantal-primary-file-"));
    try {
      const names = Array.from({ length: 1500 }, (_, i) => `f${i}`);
      const xml = `${HEAD}${names.map((n) => pkg(n)).join("")}</metadata>`;
      const file = join(dir, "primary.xml.gz");
      await writeFile(file, gzipSync(xml));
      const fromFile: ParsedPackage[] = [];
      for await (const p of parsePrimaryInWorker({ file }, options({ maxPackages: 10_000 }))) fromFile.push(p);
      expect(fromFile).toEqual(await parseAll(xml, { maxPackages: 10_000 }));
      expect(fromFile).toHaveLength(1500);

      const damaged = join(dir, "damaged.xml.gz");
      const gz = gzipSync(`${HEAD}${pkg("a")}</metadata>`);
      gz.fill(0x55, 12, 40);
      await writeFile(damaged, gz);
      expect(await rejection(parseFileAll(damaged))).toBeInstanceOf(DecompressionError);
      const tooMany = await rejection(parseFileAll(file, { maxPackages: 10 }));
      expect(tooMany).toBeInstanceOf(LimitExceededError);
      const missing = await rejection(parseFileAll(join(dir, "gone.xml.gz")));
      expect((missing as Error).message).toContain("gone.xml.gz");
    } finally {
      await parserThreadsEnded();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    const xml = `${HEAD}${Array.from({ length: 3000 }, (_, i) => pkg(`p${i}`)).join("")}</metadata>`;
    let seen = 0;
    const err = await rejection(
      (async () => {
        for await (const _ of parsePrimaryInWorker(chunks(gzipSync(xml)), options({ maxPackages: 10_000, signal: controller.signal }))) {
          if (++seen === 10) controller.abort();
        }
      })(),
    );
    expect(err).toBeInstanceOf(AbortedError);
    expect(seen).toBeLessThan(3000);
  });
});

/** A Node process running `code` ends by itself, well within its timeout, having printed `stdout`. */
function expectExitsPrinting(code: string, stdout: string): void {
  const started = Date.now();
  const res = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: repoRoot, encoding: "utf8", timeout: 20_000 });
  expect(res.error).toBeUndefined();
  expect(res.status, res.stderr).toBe(0);
  expect(res.stdout.trim()).toBe(stdout);
  expect(Date.now() - started).toBeLessThan(15_000);
}

describe("prewarmPrimaryParser", () => {
  it("the next parse runs in the spare worker (its input sent first), with the same packages and errors; the one after starts its own", async () => {
    const xml = `${HEAD}${["a", "b", "c"].map((n) => pkg(n)).join("")}</metadata>`;
    const fresh = await parseAll(xml);
    prewarmPrimaryParser();
    prewarmPrimaryParser(); // one spare at most
    expect(spareWorkers()).toBe(1);
    expect(await parseAll(xml)).toEqual(fresh);
    expect(spareWorkers()).toBe(0);
    expect(await parseAll(xml)).toEqual(fresh);

    prewarmPrimaryParser();
    const err = await rejection(parseAll(`${HEAD}<package type="rpm"><name>a</nam></package></metadata>`));
    expect(err).toBeInstanceOf(PrimaryParseError);
    expect(spareWorkers()).toBe(0);
  });

  it("an unused spare does not keep the process alive", () => {
    const mod = JSON.stringify(join(repoRoot, "core/rpm/primary-thread.ts"));
    expectExitsPrinting(`const m = await import(${mod}); m.prewarmPrimaryParser(); await new Promise((r) => setTimeout(r, 300)); console.log("done");`, "done");
  });
});

/** `fn` in a fresh directory, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "chantal-memo-thread-"));
  try {
    await fn(dir);
  } finally {
    await parserThreadsEnded(); // a complete parse's thread writes its memo after its last packages
    await rm(dir, { recursive: true, force: true });
  }
}

describe("a parse started ahead (startParseAhead)", () => {
  const xml = `${HEAD}${["a", "b", "c"].map((n) => pkg(n)).join("")}${pkg("bad", { href: "../../escape.rpm" })}</metadata>`;
  const good = `${HEAD}${["a", "b", "c"].map((n) => pkg(n)).join("")}</metadata>`;

  /** The packages of `file`, and whether the parse was the one started ahead. */
  async function parseTaking(file: string, extra: Partial<PrimaryInWorkerOptions> = {}): Promise<{ packages: ParsedPackage[]; taken: boolean }> {
    let taken = false;
    const packages: ParsedPackage[] = [];
    for await (const p of parsePrimaryInWorker({ file }, { ...options(extra), onTakenAhead: () => (taken = true) })) packages.push(p);
    return { packages, taken };
  }

  it("is taken over by the next parse of the same file with the same options, with the same packages as a parse of its own", () =>
    inTempDir(async (dir) => {
      const file = join(dir, "primary.xml.gz");
      await writeFile(file, gzipSync(good));
      const own = await parseFileAll(file);
      startParseAhead(file, options(), parsesAskedSoFar());
      expect(parseAheadWaiting()).toBe(true);
      await new Promise((ok) => setTimeout(ok, 200)); // it parses meanwhile: what it sent waits for the taker
      const ahead = await parseTaking(file);
      expect(ahead.taken).toBe(true);
      expect(ahead.packages).toEqual(own);
      expect(parseAheadWaiting()).toBe(false);
    }));

  it("brings its error to the parse that takes it over", () =>
    inTempDir(async (dir) => {
      const file = join(dir, "primary.xml.gz");
      await writeFile(file, gzipSync(xml));
      startParseAhead(file, options(), parsesAskedSoFar());
      let taken = false;
      const err = await rejection(
        (async () => {
          for await (const _ of parsePrimaryInWorker({ file }, { ...options(), onTakenAhead: () => (taken = true) }));
        })(),
      );
      expect(taken).toBe(true);
      expect(err).toBeInstanceOf(UnsafePathError);
    }));

  it("is not taken by a parse of another file or with other options, which parses on its own; the started one is stopped", () =>
    inTempDir(async (dir) => {
      const file = join(dir, "primary.xml.gz");
      const other = join(dir, "other.xml.gz");
      await writeFile(file, gzipSync(good));
      await writeFile(other, gzipSync(`${HEAD}${pkg("z")}</metadata>`));
      startParseAhead(file, options(), parsesAskedSoFar());
      const elsewhere = await parseTaking(other);
      expect(elsewhere.taken).toBe(false);
      expect(elsewhere.packages.map((p) => p.name)).toEqual(["z"]);
      expect(parseAheadWaiting()).toBe(false);

      startParseAhead(file, options(), parsesAskedSoFar());
      const otherOptions = await parseTaking(file, { maxPackages: 999 });
      expect(otherOptions.taken).toBe(false);
      expect(otherOptions.packages.map((p) => p.name)).toEqual(["a", "b", "c"]);
    }));

  it("is not started when a parse was asked for since the head start began (the sync got there first)", () =>
    inTempDir(async (dir) => {
      const file = join(dir, "primary.xml.gz");
      await writeFile(file, gzipSync(good));
      const before = parsesAskedSoFar();
      await parseFileAll(file);
      expect(startParseAhead(file, options(), before)).toBe(false);
      expect(parseAheadWaiting()).toBe(false);
      expect((await parseTaking(file)).taken).toBe(false);
    }));

  it("does not keep the process alive when nobody takes it", () =>
    inTempDir(async (dir) => {
      // A parse that would keep the process alive ends before it: with its memo written (the thread's last act).
      const file = join(dir, "primary.xml.gz");
      const memoFile = join(dir, "memo.json");
      await writeFile(file, gzipSync(`${HEAD}${Array.from({ length: 20_000 }, (_, i) => pkg(`p${i}`)).join("")}</metadata>`));
      const mod = JSON.stringify(join(repoRoot, "core/rpm/primary-thread.ts"));
      const opts = JSON.stringify(options({ maxPackages: 100_000, memoFile }));
      expectExitsPrinting(
        `const m = await import(${mod}); m.startParseAhead(${JSON.stringify(file)}, ${opts}, 0); console.log(String(m.parseAheadWaiting()));`,
        "true",
      );
      expect(await stat(memoFile).catch(() => "absent")).toBe("absent");
      // The same parse, taken over, runs to its end and writes the memo: what the check above would see if it were kept alive.
      expectExitsPrinting(
        `const m = await import(${mod}); const o = ${opts}; m.startParseAhead(${JSON.stringify(file)}, o, 0); let n = 0; for await (const _ of m.parsePrimaryInWorker({ file: ${JSON.stringify(file)} }, o)) n++; console.log(n);`,
        "20000",
      );
      expect((await stat(memoFile)).size).toBeGreaterThan(0);
    }));
});

describe("the parse memo (memoFile)", () => {
  /** The memo file once the parse's thread has written it (after its last packages: the sync does not wait for it). */
  async function written(file: string, since: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const s = await stat(file).catch(() => undefined);
      if (s && s.mtimeMs >= since) return;
      await new Promise((ok) => setTimeout(ok, 25));
    }
    throw new Error(`${file} was not written`);
  }

  it("is written after a complete parse, and the next parse takes its unchanged packages from it (not with ignoreMemo)", () =>
    inTempDir(async (dir) => {
      const memoFile = join(dir, "cache", "repo.json");
      const names = Array.from({ length: 300 }, (_, i) => `p${i}`);
      const before = `${HEAD}${names.map((n) => pkg(n)).join("")}</metadata>`;
      let reused = -1;
      const first = await parseAll(before, { memoFile, onReused: (n) => (reused = n) });
      expect(reused).toBe(0);
      await written(memoFile, 0);
      expect((await stat(join(dir, "cache"))).mode & 0o777).toBe(0o700);
      // One changed (its size), one added: 299 taken from the memo, and the packages are those of a whole parse.
      const after = before.replace(pkg("p7"), pkg("p7", { size: "999" })).replace("</metadata>", `${pkg("new")}</metadata>`);
      const since = Date.now() - 1;
      const second = await parseAll(after, { memoFile, onReused: (n) => (reused = n) });
      expect(reused).toBe(299);
      expect(second).toEqual(await parseAll(after));
      expect(second.find((p) => p.name === "p7")!.size).toBe(999);
      expect(first).toHaveLength(300);
      await written(memoFile, since);
      // --full: every element parsed, the memo rewritten all the same.
      await parseAll(after, { memoFile, ignoreMemo: true, onReused: (n) => (reused = n) });
      expect(reused).toBe(0);
      // With dependencies (a filter's with_dependencies) the memo is neither read nor reported.
      reused = -1;
      await parseAll(after, { memoFile, withDependencies: true, onReused: (n) => (reused = n) });
      expect(reused).toBe(-1);
    }));

  it("a spare worker reads the memo it was given ahead; given another file's, the parse reads its own", () =>
    inTempDir(async (dir) => {
      const memoFile = join(dir, "repo.json");
      const xml = `${HEAD}${["a", "b", "c", "d"].map((n) => pkg(n)).join("")}</metadata>`;
      await parseAll(xml, { memoFile });
      await written(memoFile, 0);
      let reused = -1;
      prewarmPrimaryParser({ memoFile });
      for (let i = 0; i < 400 && !sparePreloaded(); i++) await new Promise((ok) => setTimeout(ok, 25)); // it reads while it waits
      expect(sparePreloaded()).toBe(true);
      // Gone from disk: only what the spare read ahead can give the reuse.
      const saved = await readFile(memoFile);
      await rm(memoFile);
      expect(await parseAll(xml, { memoFile, onReused: (n) => (reused = n) })).toEqual(await parseAll(xml));
      expect(reused).toBe(4);
      await writeFile(memoFile, saved);
      prewarmPrimaryParser({ memoFile: join(dir, "other.json") });
      expect(await parseAll(xml, { memoFile, onReused: (n) => (reused = n) })).toHaveLength(4);
      expect(reused).toBe(4);
      expect(spareWorkers()).toBe(0);
    }));

  it("a process whose parse wrote a memo exits by itself, with the memo written", () =>
    inTempDir(async (dir) => {
      const memoFile = join(dir, "repo.json");
      const mod = JSON.stringify(join(repoRoot, "core/rpm/primary-thread.ts"));
      const xml = JSON.stringify(`${HEAD}${pkg("a")}${pkg("b")}</metadata>`);
      const code = `import { gzipSync } from "node:zlib"; const m = await import(${mod});
      async function* src() { yield gzipSync(${xml}); }
      let n = 0; for await (const _ of m.parsePrimaryInWorker(src(), { compression: "gz", label: "p", maxOutputBytes: 1e6, maxPackages: 10, repoUrl: ${JSON.stringify(REPO)}, memoFile: ${JSON.stringify(memoFile)} })) n++;
      console.log("parsed", n);`;
      expectExitsPrinting(code, "parsed 2");
      expect((await stat(memoFile)).size).toBeGreaterThan(0);
    }));

  it("a parse that fails writes no memo", () =>
    inTempDir(async (dir) => {
      const memoFile = join(dir, "repo.json");
      await expect(parseAll(`${HEAD}${pkg("a")}${pkg("b", { checksum: "" })}</metadata>`, { memoFile })).rejects.toBeInstanceOf(PrimaryParseError);
      await new Promise((ok) => setTimeout(ok, 200));
      expect(await stat(memoFile).catch(() => undefined)).toBeUndefined();
    }));
});
