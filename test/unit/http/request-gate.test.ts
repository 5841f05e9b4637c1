// Tests of core/http/request-gate.ts: the semaphore, the per-host and total connection caps, and downloadMany under them
// (real HTTP servers on 127.0.0.1 that count the requests in flight).
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AbortedError } from "../../../core/errors.js";
import { downloadMany, type DownloadJob } from "../../../core/http/download.js";
import { chainGates, ConnectionLimits, Semaphore } from "../../../core/http/request-gate.js";
import { FilesystemBlobStore } from "../../../core/storage/pool.js";
import { startStaticServer, type InFlightCounter, type StaticServer } from "../../helpers/http-server.js";

const tick = () => new Promise((ok) => setImmediate(ok));

describe("Semaphore", () => {
  it("lets `limit` holders in, serves waiters in order, and a second release does nothing", async () => {
    const s = new Semaphore(2);
    const a = await s.acquire();
    const b = await s.acquire();
    const order: string[] = [];
    const c = s.acquire().then((r) => {
      order.push("c");
      return r;
    });
    const d = s.acquire().then((r) => {
      order.push("d");
      return r;
    });
    await tick();
    expect(order).toEqual([]);
    a();
    a();
    await tick();
    expect(order).toEqual(["c"]);
    expect(s.active).toBe(2);
    b();
    await tick();
    expect(order).toEqual(["c", "d"]);
    (await c)();
    (await d)();
    expect(s.active).toBe(0);
  });

  it("an aborted waiter leaves the queue and rejects with the abort", async () => {
    const s = new Semaphore(1);
    const held = await s.acquire();
    const ac = new AbortController();
    const waiting = s.acquire(ac.signal);
    ac.abort(new AbortedError("stop"));
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
    held();
    expect(s.active).toBe(0);
    (await s.acquire())();
  });
});

describe("ConnectionLimits", () => {
  const cases: { name: string; caps: { perHost?: number; total?: number }; wants: string[]; admitted: number }[] = [
    { name: "no caps: everything at once", caps: {}, wants: ["a", "a", "a", "b"], admitted: 4 },
    { name: "2 per host", caps: { perHost: 2 }, wants: ["a", "a", "a", "b", "b", "b"], admitted: 4 },
    { name: "3 in total", caps: { total: 3 }, wants: ["a", "a", "b", "b"], admitted: 3 },
    { name: "2 per host, 3 in total", caps: { perHost: 2, total: 3 }, wants: ["a", "a", "a", "b", "b"], admitted: 3 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const limits = new ConnectionLimits();
      limits.configure(c.caps);
      let admitted = 0;
      for (const host of c.wants) void limits.acquire(`http://${host}.example:80/x`).then(() => admitted++);
      await tick();
      expect(admitted).toBe(c.admitted);
    });
  }

  it("an origin that spoke HTTP/2 takes no slot: its requests share connections", async () => {
    const limits = new ConnectionLimits();
    limits.configure({ perHost: 1 });
    await limits.acquire("https://cdn.example/a");
    limits.markHttp2("https://cdn.example");
    await limits.acquire("https://cdn.example/b");
    expect(limits.activeFor("https://cdn.example")).toBe(1);
  });

  it("chainGates frees the first gate when the second one is aborted", async () => {
    const first = new Semaphore(1);
    const second = new Semaphore(0);
    const ac = new AbortController();
    const gate = chainGates({ acquire: (_u, s) => first.acquire(s) }, { acquire: (_u, s) => second.acquire(s) })!;
    const p = gate.acquire("http://x/", ac.signal);
    await tick();
    expect(first.active).toBe(1);
    ac.abort(new AbortedError("stop"));
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    expect(first.active).toBe(0);
  });
});

describe("downloadMany under the caps", () => {
  let dir: string;
  const servers: StaticServer[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "chantal-gate-"));
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  /** A server of `count` files, each answered after 30 ms: the requests overlap as much as the client lets them. */
  async function slowServer(name: string, count: number, shared?: InFlightCounter): Promise<DownloadJob[]> {
    const root = join(dir, name);
    await mkdir(root);
    const jobs: DownloadJob[] = [];
    const paths: string[] = [];
    for (let i = 0; i < count; i++) {
      const content = randomBytes(2_000);
      await writeFile(join(root, `f${i}`), content);
      paths.push(`/f${i}`);
      jobs.push({
        url: "",
        label: `${name}-${i}`,
        size: content.length,
        expected: { algo: "sha256", value: createHash("sha256").update(content).digest("hex") },
      });
    }
    const server = await startStaticServer({ root, faults: () => ({ delayMs: 30 }), ...(shared ? { shared } : {}) });
    servers.push(server);
    return jobs.map((j, i) => ({ ...j, url: `${server.url}${paths[i]}` }));
  }

  it("download_concurrency bounds the requests in flight, and a file being flushed and renamed holds no request slot", async () => {
    const counter: InFlightCounter = { now: 0, peak: 0 };
    const jobs = await slowServer("one", 40, counter);
    let inFlightDuringAdopt = 0;
    // A slow disk: while one file is adopted, the other workers keep all 4 request slots busy. The adopt (20 ms) is
    // shorter than a request (30 ms), so 8 workers want more than 4 slots and one is always waiting for a free slot;
    // the requests in flight are sampled through the whole adopt, as a held slot would cap them at 3 throughout.
    class SlowDisk extends FilesystemBlobStore {
      override async adopt(temp: string, sha256: string, signal?: AbortSignal, alias?: string): Promise<void> {
        const sample = setInterval(() => {
          inFlightDuringAdopt = Math.max(inFlightDuringAdopt, counter.now);
        }, 2);
        await new Promise((ok) => setTimeout(ok, 20));
        clearInterval(sample);
        return super.adopt(temp, sha256, signal, alias);
      }
    }
    const r = await downloadMany(jobs, { blobs: new SlowDisk(join(dir, "pool"), join(dir, "tmp")), http: { retries: 0 }, concurrency: 4 });
    expect(r.files).toBe(40);
    expect(counter.peak).toBe(4);
    expect(inFlightDuringAdopt).toBe(4);
  });

  it("per-host and total caps hold across two hosts, whatever the download concurrency", async () => {
    const both: InFlightCounter = { now: 0, peak: 0 };
    const a = await slowServer("a", 30, both);
    const b = await slowServer("b", 30, both);
    const limits = new ConnectionLimits();
    limits.configure({ perHost: 2, total: 3 });
    const blobs = new FilesystemBlobStore(join(dir, "pool"), join(dir, "tmp"));
    // Two repositories syncing at once, each with 8 downloads, share the process's caps.
    const [ra, rb] = await Promise.all([
      downloadMany(a, { blobs, http: { retries: 0, gate: limits }, concurrency: 8 }),
      downloadMany(b, { blobs, http: { retries: 0, gate: limits }, concurrency: 8 }),
    ]);
    expect(ra.files + rb.files).toBe(60);
    const [sa, sb] = servers;
    expect(sa!.peak.inFlight).toBeLessThanOrEqual(2);
    expect(sb!.peak.inFlight).toBeLessThanOrEqual(2);
    expect(Math.max(sa!.peak.inFlight, sb!.peak.inFlight)).toBe(2);
    expect(both.peak).toBe(3);
  });
});
