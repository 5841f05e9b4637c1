// The minimum transfer rate (issue 12, point 13): the pure window verdict, then real trickling servers on 127.0.0.1
// with a short window, for index files (fetchBuffer), packages (downloadToPool) and an unwanted redirect body.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fetchBuffer, TransferTooSlowError, type HttpOptions, type RetryInfo } from "../../../core/http/client.js";
import { downloadToPool } from "../../../core/http/download.js";
import { pruneSamples, rateVerdict, type MinRate, type RateSample } from "../../../core/http/min-rate.js";
import { FilesystemBlobStore } from "../../../core/storage/pool.js";
import { sha256Hex } from "../../../core/checksum.js";
import { startStaticServer, type StaticServer } from "../../helpers/http-server.js";

const rate: MinRate = { bytesPerSecond: 100, windowMs: 10_000 };
const at = (atMs: number, totalBytes: number): RateSample => ({ atMs, totalBytes });

describe("rateVerdict", () => {
  it.each([
    { name: "no full window yet", samples: [at(0, 0)], now: at(9_999, 0), tooSlow: false, bytesInWindow: undefined },
    { name: "exactly the minimum over a whole window", samples: [at(0, 0)], now: at(10_000, 1_000), tooSlow: false, bytesInWindow: 1_000 },
    { name: "one byte short over a whole window", samples: [at(0, 0)], now: at(10_000, 999), tooSlow: true, bytesInWindow: 999 },
    { name: "nothing at all for a window", samples: [at(0, 0)], now: at(10_000, 0), tooSlow: true, bytesInWindow: 0 },
    {
      name: "fast start, then a stall: the last window counts",
      samples: [at(0, 0), at(1_000, 50_000), at(2_000, 50_000)],
      now: at(12_000, 50_100),
      tooSlow: true,
      bytesInWindow: 100,
    },
    {
      name: "slow start, then fast: the last window counts",
      samples: [at(0, 0), at(5_000, 10), at(6_000, 10)],
      now: at(16_000, 5_000),
      tooSlow: false,
      bytesInWindow: 4_990,
    },
    { name: "a late tick is measured over the real age", samples: [at(0, 0)], now: at(15_000, 1_400), tooSlow: true, bytesInWindow: 1_400 },
    { name: "a late tick at the minimum rate passes", samples: [at(0, 0)], now: at(15_000, 1_500), tooSlow: false, bytesInWindow: 1_500 },
  ])("$name", ({ samples, now, tooSlow, bytesInWindow }) => {
    expect(rateVerdict(samples, now, rate)).toEqual({ tooSlow, ...(bytesInWindow !== undefined ? { bytesInWindow } : {}) });
  });

  it("a rate of 0 turns the check off", () => {
    expect(rateVerdict([at(0, 0)], at(100_000, 0), { bytesPerSecond: 0, windowMs: 1_000 })).toEqual({ tooSlow: false });
  });

  it("pruneSamples keeps the newest sample at least a window old and everything after it", () => {
    const samples = [at(0, 0), at(1_000, 1), at(2_000, 2), at(11_500, 3)];
    pruneSamples(samples, 12_500, 10_000);
    expect(samples).toEqual([at(2_000, 2), at(11_500, 3)]);
    pruneSamples(samples, 12_600, 10_000);
    expect(samples).toEqual([at(2_000, 2), at(11_500, 3)]);
  });
});

// ---------------------------------------------------------------------------------------------

let dir: string;
let servers: { close(): Promise<void> }[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "chantal-minrate-"));
  servers = [];
});

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function staticServer(files: Record<string, Buffer>, faults: Parameters<typeof startStaticServer>[0]["faults"]): Promise<StaticServer> {
  const root = join(dir, "www");
  await mkdir(root, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(root, name), content);
  const s = await startStaticServer({ root, ...(faults ? { faults } : {}) });
  servers.push(s);
  return s;
}

/** A raw server whose handler writes what it likes; close() destroys open sockets. */
async function rawServer(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer(handler);
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  const out = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
  servers.push(out);
  return out;
}

// 1000 B/s over 1 s; the servers below send 20 bytes every 100 ms (200 B/s): 100 KB would take over 8 minutes.
const shortWindow: HttpOptions = { baseDelayMs: 10, maxDelayMs: 50, retries: 1, minRate: { bytesPerSecond: 1_000, windowMs: 1_000 } };
const trickle = { chunkBytes: 20, chunkDelayMs: 100, times: Infinity };

describe("a trickling server fails the request and is retried", () => {
  it("fetchBuffer: TransferTooSlowError naming the (redacted) URL, after the retry", async () => {
    const s = await staticServer({ Release: randomBytes(100_000) }, { "/Release": trickle });
    const retries: RetryInfo[] = [];
    const url = s.url.replace("http://", "http://mirror:s3cret@") + "/Release";
    const started = Date.now();
    const err = await fetchBuffer(url, { ...shortWindow, onRetry: (r) => retries.push(r) }, { maxBytes: 1_000_000 }, { subject: "Release" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransferTooSlowError);
    const msg = (err as Error).message;
    expect(msg).toContain(`${s.url.replace("http://", "http://mirror:***@")}/Release`);
    expect(msg).not.toContain("s3cret");
    expect(msg).toMatch(/^Release: transfer from .* is too slow: \d+ bytes in the last 1 s, below the minimum of 1000 bytes\/s/);
    expect(msg).toContain("after 2 attempts");
    expect(retries).toHaveLength(1);
    expect(retries[0]!.error).toBeInstanceOf(TransferTooSlowError);
    expect(s.requestsFor("/Release")).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it("downloadToPool: resumes with Range after the too-slow failure, then gives up; no temp file left", async () => {
    const content = randomBytes(100_000);
    const s = await staticServer({ "a.rpm": content }, { "/a.rpm": trickle });
    const blobs = new FilesystemBlobStore(join(dir, "pool"), join(dir, "tmp"));
    const retries: RetryInfo[] = [];
    const started = Date.now();
    const err = await downloadToPool(
      { url: `${s.url}/a.rpm`, expected: { algo: "sha256", value: sha256Hex(content) }, size: content.length, label: "a-1.0-1.noarch" },
      { blobs, http: { ...shortWindow, onRetry: (r) => retries.push(r) } },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferTooSlowError);
    expect((err as Error).message).toContain(`a-1.0-1.noarch: transfer from ${s.url}/a.rpm is too slow`);
    expect(retries.map((r) => r.error.constructor.name)).toEqual(["TransferTooSlowError"]);
    const second = s.requestsFor("/a.rpm")[1]!;
    expect(second.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(await readdir(join(dir, "tmp")).catch(() => [])).toEqual([]);
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it("a transfer above the minimum is left alone, even when slowish", async () => {
    const content = randomBytes(6_000);
    // 300 bytes every 100 ms: 3000 B/s against a minimum of 1000 B/s, for about 2 windows.
    const s = await staticServer({ "b.rpm": content }, { "/b.rpm": { chunkBytes: 300, chunkDelayMs: 100 } });
    const r = await fetchBuffer(`${s.url}/b.rpm`, shortWindow, { maxBytes: 1_000_000 });
    expect(r.body.equals(content)).toBe(true);
    expect(s.requestsFor("/b.rpm")).toHaveLength(1);
  });

  it("an unwanted redirect body that trickles does not hold the request", async () => {
    const content = randomBytes(1_000);
    const target = await staticServer({ "c.rpm": content }, undefined);
    const timers: NodeJS.Timeout[] = [];
    const redirector = await rawServer((_req, res) => {
      res.writeHead(302, { location: `${target.url}/c.rpm`, "content-type": "text/plain" });
      const t = setInterval(() => res.write("."), 200);
      timers.push(t);
      res.on("close", () => clearInterval(t));
    });
    const started = Date.now();
    try {
      const r = await fetchBuffer(`${redirector.url}/c.rpm`, shortWindow, { maxBytes: 10_000 });
      expect(r.body.equals(content)).toBe(true);
    } finally {
      for (const t of timers) clearInterval(t);
    }
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
