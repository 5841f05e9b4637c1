// What the benchmarks share: medians, rounding, wall-clock timing, a free 127.0.0.1 port, a fresh database, plain-text
// tables, and nginx serving a directory.
import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { freePort } from "../core/free-port.js";

/** The median of the finite values (a failed sample is NaN), or null when there is none. */
export function median(values: number[]): number | null {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

export function round(x: number | null | undefined, digits = 2): number | null {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Starts a monotonic clock; the function returned gives the seconds since. */
export function stopwatch(): () => number {
  const t0 = performance.now();
  return () => (performance.now() - t0) / 1000;
}

/** Starts a clock of this process's CPU time (user + system, every thread); the function returned gives the seconds since. */
export function cpuStopwatch(): () => number {
  const c0 = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6;
  };
}

/** The user + system CPU seconds of the children of `sh`, from the last line of its `times` builtin ("0m0.120s 0m0.340s"). */
export function childCpuSeconds(timesOutput: string): number {
  const last = timesOutput.trim().split("\n").at(-1) ?? "";
  const parts = [...last.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return parts.length === 2 ? parts[0]! + parts[1]! : Number.NaN;
}

export { freePort } from "../core/free-port.js";

/** A new empty database `name` on the server of adminUrl (dropped first if a previous run left it); returns its URL. */
export async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Columns padded to their widest cell, a dashed rule under the headers; columns from `rightFrom` on are right-aligned. */
export function table(headers: string[], rows: string[][], rightFrom = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const pad = (s: string, n: number, right: boolean) => (right ? s.padStart(n) : s.padEnd(n));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, widths[i]!, i >= rightFrom))
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Until something accepts connections on 127.0.0.1:`port` (10 s at most). */
export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, "127.0.0.1", () => {
        s.end();
        r(true);
      });
      s.on("error", () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

/** nginx serving `root` as static files on a free 127.0.0.1 port, its configuration, pid and logs under `dir`; stop() ends it. */
export async function startNginx(root: string, dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  await mkdir(join(dir, "tmp"), { recursive: true });
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  const tmp = (k: string) => `${k}_temp_path ${join(dir, "tmp", k)};`;
  await writeFile(
    conf,
    `${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes auto;\ndaemon off;\npid ${join(dir, "nginx.pid")};\nerror_log ${join(dir, "error.log")} warn;\n` +
      `events { worker_connections 1024; }\nhttp { access_log off; sendfile on; tcp_nopush on; keepalive_timeout 65; keepalive_requests 1000000;\n` +
      `  default_type application/octet-stream; ${["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(tmp).join(" ")}\n` +
      `  server { listen 127.0.0.1:${port}; root ${root}; location / { } } }\n`,
  );
  const child = spawn("nginx", ["-p", dir, "-c", conf, "-e", join(dir, "error.log")], { stdio: "ignore" });
  await waitForPort(port);
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGQUIT");
      await exited;
    },
  };
}
