// Tests of core/http/download.ts.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AbortedError } from "../../../core/errors.js";
import {
  fetchBuffer,
  HttpNetworkError,
  HttpStatusError,
  parseRetryAfter,
  ResponseTooLargeError,
  retryDelayMs,
  type HttpOptions,
} from "../../../core/http/client.js";
import { ChecksumMismatchError, downloadMany, downloadToPool, type DownloadJob } from "../../../core/http/download.js";
import { FilesystemBlobStore } from "../../../core/storage/pool.js";
import { startStaticServer, type FaultPlan, type StaticServer } from "../../helpers/http-server.js";

let dir: string;
let root: string;
let blobs: FilesystemBlobStore;
let server: StaticServer | undefined;

const fastRetries: HttpOptions = { baseDelayMs: 10, maxDelayMs: 2_000, retries: 5 };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "chantal-dl-"));
  root = join(dir, "www");
  await mkdir(root);
  blobs = new FilesystemBlobStore(join(dir, "pool"), join(dir, "tmp"));
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

interface Fixture {
  path: string;
  content: Buffer;
  sha256: string;
}

async function fixture(name: string, size: number): Promise<Fixture> {
  const content = randomBytes(size);
  await mkdir(join(root, name, ".."), { recursive: true });
  await writeFile(join(root, name), content);
  return { path: `/${name}`, content, sha256: sha("sha256", content) };
}

function sha(algo: string, data: Buffer): string {
  return createHash(algo).update(data).digest("hex");
}

async function serve(faults?: FaultPlan): Promise<StaticServer> {
  server = await startStaticServer({ root, ...(faults ? { faults } : {}) });
  return server;
}

function job(s: StaticServer, f: Fixture, overrides: Partial<DownloadJob> = {}): DownloadJob {
  return { url: s.url + f.path, expected: { algo: "sha256", value: f.sha256 }, size: f.content.length, label: `pkg-${f.path.slice(1)}`, ...overrides };
}

async function tempFiles(): Promise<string[]> {
  return readdir(join(dir, "tmp")).catch(() => []);
}

async function pooled(f: Fixture): Promise<Buffer> {
  return readFile(blobs.pathOf(f.sha256));
}

describe("downloadToPool", () => {
  it("downloads, verifies and pools a file", async () => {
    const f = await fixture("a.rpm", 100_000);
    const s = await serve();
    let progress = 0;
    const r = await downloadToPool(job(s, f), { blobs, http: fastRetries, onBytes: (n) => (progress += n) });
    expect(r).toEqual({ sha256: f.sha256, size: f.content.length, bytesDownloaded: f.content.length, resumed: false });
    expect(progress).toBe(f.content.length);
    expect((await pooled(f)).equals(f.content)).toBe(true);
    expect(await tempFiles()).toEqual([]);
    expect(s.requests[0]!.headers["accept-encoding"]).toBe("identity");
    expect(s.requests[0]!.headers["user-agent"]).toMatch(/^chantal\//);
  });

  it.each(["sha1", "sha384", "sha512"] as const)("verifies a %s checksum and still keys the pool by sha256", async (algo) => {
    const f = await fixture("b.rpm", 5_000);
    const s = await serve();
    const r = await downloadToPool(job(s, f, { expected: { algo, value: sha(algo, f.content).toUpperCase() } }), { blobs, http: fastRetries });
    expect(r.sha256).toBe(f.sha256);
    expect(await blobs.has(f.sha256)).toBe(true);
  });

  it("retries two 503s and succeeds", async () => {
    const f = await fixture("c.rpm", 10_000);
    const s = await serve({ "/c.rpm": { status: 503, times: 2 } });
    const r = await downloadToPool(job(s, f), { blobs, http: fastRetries });
    expect(r.sha256).toBe(f.sha256);
    expect(s.requestsFor("/c.rpm")).toHaveLength(3);
  });

  it("honours Retry-After on a 429", async () => {
    const f = await fixture("d.rpm", 1_000);
    const s = await serve({ "/d.rpm": { status: 429, retryAfter: 1 } });
    const started = Date.now();
    await downloadToPool(job(s, f), { blobs, http: fastRetries });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(3_000);
    expect(s.requestsFor("/d.rpm")).toHaveLength(2);
  });

  it("gives up after the retries with the status and URL named", async () => {
    const f = await fixture("e.rpm", 1_000);
    const s = await serve({ "/e.rpm": { status: 503, times: Infinity } });
    const err = await downloadToPool(job(s, f), { blobs, http: { ...fastRetries, retries: 2 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(503);
    expect((err as Error).message).toContain(`${s.url}/e.rpm`);
    expect((err as Error).message).toContain("after 3 attempts");
    expect(s.requestsFor("/e.rpm")).toHaveLength(3);
    expect(await tempFiles()).toEqual([]);
  });

  it("resumes with a Range request after a reset mid-body", async () => {
    const f = await fixture("f.rpm", 200_000);
    const s = await serve({ "/f.rpm": { resetAfterBytes: 70_000 } });
    const r = await downloadToPool(job(s, f), { blobs, http: fastRetries });
    expect(r.resumed).toBe(true);
    expect(r.sha256).toBe(f.sha256);
    expect((await pooled(f)).equals(f.content)).toBe(true);
    const reqs = s.requestsFor("/f.rpm");
    expect(reqs).toHaveLength(2);
    expect(reqs[0]!.headers.range).toBeUndefined();
    expect(reqs[1]!.headers.range).toBe("bytes=70000-");
    expect(r.bytesDownloaded).toBe(f.content.length);
  });

  it("writes a body of several 1 MiB batches byte for byte, also when a reset splits it and the rest is appended", async () => {
    const whole = await fixture("big-whole.rpm", 5 * 1024 * 1024 + 12_345);
    const split = await fixture("big-split.rpm", 5 * 1024 * 1024 + 54_321);
    const s = await serve({ "/big-split.rpm": { resetAfterBytes: 3 * 1024 * 1024 + 7 } });
    const a = await downloadToPool(job(s, whole), { blobs, http: fastRetries });
    const b = await downloadToPool(job(s, split), { blobs, http: fastRetries });
    expect([a.resumed, b.resumed]).toEqual([false, true]);
    expect((await pooled(whole)).equals(whole.content)).toBe(true);
    expect((await pooled(split)).equals(split.content)).toBe(true);
    expect(s.requestsFor("/big-split.rpm")[1]!.headers.range).toBe(`bytes=${3 * 1024 * 1024 + 7}-`);
    expect(await tempFiles()).toEqual([]);
  });

  it("resumes after a truncated body (Content-Length declared, connection closed early)", async () => {
    const f = await fixture("g.rpm", 50_000);
    const s = await serve({ "/g.rpm": { truncateAfterBytes: 20_000 } });
    const r = await downloadToPool(job(s, f), { blobs, http: fastRetries });
    expect(r.sha256).toBe(f.sha256);
    expect(r.resumed).toBe(true);
    expect(s.requestsFor("/g.rpm")[1]!.headers.range).toBe("bytes=20000-");
  });

  it("restarts from zero when the server ignores Range", async () => {
    const f = await fixture("h.rpm", 100_000);
    const s = await serve({ "/h.rpm": [{ resetAfterBytes: 30_000 }, { ignoreRange: true, times: Infinity }] });
    const r = await downloadToPool(job(s, f), { blobs, http: fastRetries });
    expect(r.resumed).toBe(false);
    expect((await pooled(f)).equals(f.content)).toBe(true);
    expect(s.requestsFor("/h.rpm")[1]!.headers.range).toBe("bytes=30000-");
  });

  it("restarts without Range when the server does not advertise ranges", async () => {
    const f = await fixture("i.rpm", 100_000);
    const s = await serve({ "/i.rpm": [{ resetAfterBytes: 30_000, noRanges: true }] });
    const r = await downloadToPool(job(s, f), { blobs, http: fastRetries });
    expect(r.resumed).toBe(false);
    expect(r.sha256).toBe(f.sha256);
    expect(s.requestsFor("/i.rpm")[1]!.headers.range).toBeUndefined();
  });

  it("retries a checksum mismatch once and succeeds", async () => {
    const f = await fixture("j.rpm", 10_000);
    const s = await serve({ "/j.rpm": { corrupt: true } });
    const r = await downloadToPool(job(s, f), { blobs, http: fastRetries });
    expect(r.sha256).toBe(f.sha256);
    expect(s.requestsFor("/j.rpm")).toHaveLength(2);
    expect(await tempFiles()).toEqual([]);
  });

  it("fails with ChecksumMismatchError when the bytes are always wrong", async () => {
    const f = await fixture("k.rpm", 10_000);
    const s = await serve({ "/k.rpm": { corrupt: true, times: Infinity } });
    const err = await downloadToPool(job(s, f), { blobs, http: fastRetries }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    const msg = (err as Error).message;
    expect(msg).toContain("pkg-k.rpm");
    expect(msg).toContain(`${s.url}/k.rpm`);
    expect(msg).toContain(f.sha256);
    const corrupted = Buffer.from((await readFile(join(root, "k.rpm"))).map((b, i) => (i % 1250 === 0 ? b ^ 0xff : b)));
    expect(msg).toContain(sha("sha256", corrupted));
    expect(s.requestsFor("/k.rpm")).toHaveLength(2);
    expect(await tempFiles()).toEqual([]);
    expect(await blobs.has(f.sha256)).toBe(false);
    expect(await readdir(join(dir, "pool")).catch(() => [])).toEqual([]);
  });

  it("treats a wrong size as a mismatch and stops reading past the declared size", async () => {
    const f = await fixture("l.rpm", 10_000);
    const s = await serve();
    const err = await downloadToPool(job(s, f, { size: 4_000 }), { blobs, http: fastRetries }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as Error).message).toContain("expected 4000 bytes");
    expect(await tempFiles()).toEqual([]);
  });

  it("refuses a body whose Content-Length passes the declared size before reading a byte, without a second attempt", async () => {
    const f = await fixture("big.rpm", 1024 * 1024);
    const s = await serve();
    let received = 0;
    const err = await downloadToPool(job(s, f, { size: 5 }), { blobs, http: fastRetries, onBytes: (n) => (received += n) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as Error).message).toContain("expected 5 bytes, got more than that (after 1 attempt)");
    expect(received).toBe(0);
    expect(s.requestsFor("/big.rpm")).toHaveLength(1);
    expect(await tempFiles()).toEqual([]);
  });

  it("without a declared size, caps the body at maxDownloadBytes (Content-Length known: nothing read)", async () => {
    const f = await fixture("nosize.rpm", 200_000);
    const s = await serve();
    let received = 0;
    const err = await downloadToPool(job(s, f, { size: undefined }), {
      blobs,
      http: { ...fastRetries, maxDownloadBytes: 50_000 },
      onBytes: (n) => (received += n),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseTooLargeError);
    expect((err as Error).message).toContain(`pkg-nosize.rpm: response from ${s.url}/nosize.rpm is larger than the limit of 50000 bytes`);
    expect((err as Error).message).toContain("http.max_download_bytes");
    expect(received).toBe(0);
    expect(s.requestsFor("/nosize.rpm")).toHaveLength(1);
    expect(await tempFiles()).toEqual([]);
  });

  it("without a declared size, an endless chunked body is cut off at maxDownloadBytes", async () => {
    const endless = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once("drain", pump);
      };
      pump();
    });
    await new Promise<void>((ok) => endless.listen(0, "127.0.0.1", () => ok()));
    const url = `http://127.0.0.1:${(endless.address() as AddressInfo).port}/endless.deb`;
    let received = 0;
    try {
      const err = await downloadToPool(
        { url, expected: { algo: "sha256", value: "0".repeat(64) }, label: "endless_1.0_all" },
        { blobs, http: { ...fastRetries, maxDownloadBytes: 1024 * 1024 }, onBytes: (n) => (received += n) },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResponseTooLargeError);
      expect((err as Error).message).toContain("endless_1.0_all: response from");
    } finally {
      endless.closeAllConnections();
      await new Promise<void>((ok) => endless.close(() => ok()));
    }
    expect(received).toBeGreaterThan(1024 * 1024);
    expect(received).toBeLessThan(2 * 1024 * 1024);
    expect(await tempFiles()).toEqual([]);
  });

  it("fails a 404 at once, naming the package and URL", async () => {
    const s = await serve();
    const url = `${s.url}/missing.rpm`;
    const err = await downloadToPool(
      { url, expected: { algo: "sha256", value: "0".repeat(64) }, label: "foo-1.0-1.x86_64" },
      { blobs, http: fastRetries },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(404);
    expect((err as Error).message).toContain("foo-1.0-1.x86_64");
    expect((err as Error).message).toContain(url);
    expect(s.requests).toHaveLength(1);
    expect(await tempFiles()).toEqual([]);
  });

  it("redacts credentials in error URLs", async () => {
    const s = await serve();
    const url = s.url.replace("http://", "http://user:s3cret@") + "/missing.rpm";
    const err = await downloadToPool({ url, expected: { algo: "sha256", value: "0".repeat(64) }, label: "x" }, { blobs, http: fastRetries }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).not.toContain("s3cret");
    expect((err as HttpStatusError).url).not.toContain("s3cret");
  });

  it("aborts mid-download with AbortedError and removes the temp file", async () => {
    const f = await fixture("m.rpm", 100_000);
    const s = await serve({ "/m.rpm": { chunkBytes: 1_000, chunkDelayMs: 20 } });
    const ac = new AbortController();
    let received = 0;
    const started = Date.now();
    const err = await downloadToPool(job(s, f), {
      blobs,
      http: { ...fastRetries, signal: ac.signal },
      onBytes: (n) => {
        received += n;
        if (received >= 5_000) ac.abort();
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(await tempFiles()).toEqual([]);
    expect(await blobs.has(f.sha256)).toBe(false);
  });

  it("aborts promptly during a retry backoff", async () => {
    const f = await fixture("n.rpm", 1_000);
    const s = await serve({ "/n.rpm": { status: 503, retryAfter: 30, times: Infinity } });
    const ac = new AbortController();
    setTimeout(() => ac.abort("SIGINT"), 100);
    const started = Date.now();
    const err = await downloadToPool(job(s, f), { blobs, http: { ...fastRetries, maxDelayMs: 30_000, signal: ac.signal } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as AbortedError).signalName).toBe("SIGINT");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("refuses a malformed expected checksum before any request", async () => {
    const s = await serve();
    await expect(downloadToPool({ url: `${s.url}/x`, expected: { algo: "sha256", value: "abc" }, label: "x" }, { blobs, http: fastRetries })).rejects.toThrow(
      /malformed sha256/,
    );
    expect(s.requests).toHaveLength(0);
  });
});

describe("fetchBuffer", () => {
  it("fetches a small file and enforces maxBytes", async () => {
    const f = await fixture("repodata/repomd.xml", 3_000);
    const s = await serve({ "/repodata/repomd.xml": { status: 502 } });
    const r = await fetchBuffer(s.url + f.path, fastRetries, { maxBytes: 10_000 });
    expect(r.status).toBe(200);
    expect(r.body.equals(f.content)).toBe(true);
    expect(r.headers["content-length"]).toBe("3000");
    await expect(fetchBuffer(s.url + f.path, fastRetries, { maxBytes: 100 })).rejects.toBeInstanceOf(ResponseTooLargeError);
  });

  it("retries a connection reset mid-body", async () => {
    const f = await fixture("Release", 50_000);
    const s = await serve({ "/Release": { resetAfterBytes: 10_000 } });
    const r = await fetchBuffer(s.url + f.path, fastRetries, { maxBytes: 1_000_000 });
    expect(r.body.equals(f.content)).toBe(true);
    expect(s.requestsFor("/Release")).toHaveLength(2);
  });

  it("does not retry a 403", async () => {
    const s = await serve({ "/secret": { status: 403, times: Infinity } });
    await expect(fetchBuffer(`${s.url}/secret`, fastRetries, { maxBytes: 100 })).rejects.toMatchObject({ status: 403 });
    expect(s.requests).toHaveLength(1);
  });
});

describe("HTTP client behaviour", () => {
  it("follows a redirect and drops credentials when it changes origin", async () => {
    const f = await fixture("s.rpm", 5_000);
    const other = await startStaticServer({ root });
    try {
      const s = await serve({
        "/moved.rpm": { redirectTo: `${other.url}/s.rpm`, times: Infinity },
        "/here.rpm": { redirectTo: "/s.rpm", redirectStatus: 301 },
      });
      const http = { ...fastRetries, headers: { Authorization: "Basic c2VjcmV0" } };
      await downloadToPool(job(s, f, { url: `${s.url}/moved.rpm` }), { blobs, http });
      expect(other.requests[0]!.headers.authorization).toBeUndefined();
      await fetchBuffer(`${s.url}/here.rpm`, http, { maxBytes: 10_000 });
      expect(s.requestsFor("/s.rpm")[0]!.headers.authorization).toBe("Basic c2VjcmV0");
    } finally {
      await other.close();
    }
  });

  it("retries a refused connection and then names the URL", async () => {
    const s = await serve();
    const url = `${s.url}/gone.rpm`;
    await s.close();
    server = undefined;
    const retries: number[] = [];
    const err = await fetchBuffer(url, { ...fastRetries, retries: 2, onRetry: (i) => retries.push(i.attempt) }, { maxBytes: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpNetworkError);
    expect((err as HttpNetworkError).code).toBe("ECONNREFUSED");
    expect((err as Error).message).toContain(url);
    expect((err as Error).message).toContain("after 3 attempts");
    expect(retries).toEqual([1, 2]);
  });

  it("retries a response that times out", async () => {
    const f = await fixture("slow.xml", 100);
    // undici checks its timers about every 500 ms, so the server must be much slower than the timeout.
    const s = await serve({ "/slow.xml": { delayMs: 3_000 } });
    const r = await fetchBuffer(s.url + f.path, { ...fastRetries, timeoutMs: 200 }, { maxBytes: 1_000 });
    expect(r.body.equals(f.content)).toBe(true);
    expect(s.requestsFor("/slow.xml")).toHaveLength(2);
  });

  it("parses Retry-After as seconds or an HTTP date and caps it", () => {
    const now = Date.parse("2024-01-01T00:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3_000);
    expect(parseRetryAfter("Mon, 01 Jan 2024 00:00:05 GMT", now)).toBe(5_000);
    expect(parseRetryAfter("garbage", now)).toBeUndefined();
    expect(retryDelayMs(1, { maxDelayMs: 2_000 }, 60_000)).toBe(2_000);
    for (let a = 1; a < 10; a++) expect(retryDelayMs(a, { baseDelayMs: 10, maxDelayMs: 100 })).toBeLessThanOrEqual(100);
  });
});

describe("downloadToPool file modes", () => {
  // 2 KB is written in one synchronous go, 300 KB through a FileHandle: both must end up 0644 in the pool.
  it.each([
    { size: 2_000, staged: false },
    { size: 2_000, staged: true },
    { size: 300_000, staged: false },
    { size: 300_000, staged: true },
  ])("pools $size bytes (staged $staged) with mode 0644 under umask 077", async ({ size, staged }) => {
    const f = await fixture(`m-${size}-${staged}.rpm`, size);
    const s = await serve();
    const old = process.umask(0o077);
    try {
      await downloadToPool(job(s, f), { blobs, http: fastRetries, ...(staged ? { staged: true } : {}) });
      await blobs.flushAdopted();
    } finally {
      process.umask(old);
    }
    expect((await pooled(f)).equals(f.content)).toBe(true);
    expect((await stat(blobs.pathOf(f.sha256))).mode & 0o777).toBe(0o644);
    expect(await tempFiles()).toEqual([]);
  });
});

describe("downloadMany", () => {
  it("downloads 500 small files with concurrency 8", async () => {
    const files = await Promise.all(Array.from({ length: 500 }, (_, i) => fixture(`p/${String(i).padStart(3, "0")}.rpm`, 500 + i)));
    const s = await serve();
    let done = 0;
    const started = Date.now();
    const r = await downloadMany(
      files.map((f) => job(s, f)),
      { blobs, http: fastRetries, concurrency: 8, onFileDone: () => done++ },
    );
    const elapsed = Date.now() - started;
    expect(r.files).toBe(500);
    expect(done).toBe(500);
    expect(r.bytes).toBe(files.reduce((n, f) => n + f.content.length, 0));
    expect(r.results[42]!.sha256).toBe(files[42]!.sha256);
    expect((await blobs.haveMany(files.map((f) => f.sha256))).size).toBe(500);
    expect(await tempFiles()).toEqual([]);
    expect(elapsed).toBeLessThan(5_000);
  });

  it("stops at the first failure, aborts the in-flight jobs and leaves no temp file", async () => {
    const files = await Promise.all(Array.from({ length: 200 }, (_, i) => fixture(`q/${i}.rpm`, 2_000)));
    const s = await serve((req) => (req.path === "/q/5.rpm" ? { status: 404 } : { chunkBytes: 500, chunkDelayMs: 5 }));
    const err = await downloadMany(
      files.map((f) => job(s, f)),
      { blobs, http: fastRetries, concurrency: 8 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as Error).message).toContain("/q/5.rpm");
    expect(s.requests.length).toBeLessThan(40);
    expect(await tempFiles()).toEqual([]);
  });

  it("rejects with AbortedError when the caller aborts", async () => {
    const files = await Promise.all(Array.from({ length: 50 }, (_, i) => fixture(`r/${i}.rpm`, 20_000)));
    const s = await serve(() => ({ chunkBytes: 1_000, chunkDelayMs: 10 }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await downloadMany(
      files.map((f) => job(s, f)),
      { blobs, http: fastRetries, concurrency: 4, signal: ac.signal },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(await tempFiles()).toEqual([]);
  });
});
