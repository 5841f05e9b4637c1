// A real SOCKS5 server for the tests: Debian's danted on 127.0.0.1 (own config, port, pid file, in the foreground), with or without username/password.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../core/free-port.js";

export const DANTED = "/usr/sbin/danted";

/** danted checks `socksmethod: username` against the system's users: the tests' throwaway one. */
export const SOCKS_TEST_USER = "chantal-socks-test";

export interface Danted {
  port: number;
  /** socks5://127.0.0.1:port (no credentials). */
  url: string;
  /** Everything danted logged since start (or since the last mark()), debug lines included. */
  log(): string;
  mark(): void;
  close(): Promise<void>;
}

/** Why the SOCKS tests cannot run here, or undefined: danted must be installed, and we must be root to make the user. */
export function dantedUnavailable(): string | undefined {
  if (spawnSync("test", ["-x", DANTED]).status !== 0) return `${DANTED} is missing (apt-get install dante-server)`;
  if (process.getuid?.() !== 0) return "danted checks passwords against the system's users: creating the test user needs root";
  return undefined;
}

/** Creates (once) the system user danted authenticates, and sets its password. */
export function ensureSocksUser(password: string): void {
  if (spawnSync("id", [SOCKS_TEST_USER], { stdio: "ignore" }).status !== 0) {
    const add = spawnSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SOCKS_TEST_USER], { encoding: "utf8" });
    if (add.status !== 0) throw new Error(`useradd ${SOCKS_TEST_USER} failed: ${add.stderr}`);
  }
  const pw = spawnSync("chpasswd", [], { input: `${SOCKS_TEST_USER}:${password}\n`, encoding: "utf8" });
  if (pw.status !== 0) throw new Error(`chpasswd for ${SOCKS_TEST_USER} failed: ${pw.stderr}`);
}

export async function startDanted(opts: { auth?: boolean } = {}): Promise<Danted> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "chantal-danted-"));
  const conf = join(dir, "danted.conf");
  writeFileSync(
    conf,
    [
      "logoutput: stderr",
      // debug 1 logs each request's address type and address: how a test tells socks5h (a name) from socks5 (an address)
      "debug: 1",
      `internal: 127.0.0.1 port = ${port}`,
      "external: 127.0.0.1",
      "clientmethod: none",
      `socksmethod: ${opts.auth ? "username" : "none"}`,
      "user.privileged: root",
      "user.unprivileged: nobody",
      "client pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  log: error connect\n}",
      // only loopback targets: a test never leaves the machine
      "socks pass {\n  from: 127.0.0.0/8 to: 127.0.0.0/8\n  command: connect\n  log: error connect\n}",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(DANTED, ["-f", conf, "-p", join(dir, "danted.pid"), "-N", "1"], { stdio: ["ignore", "ignore", "pipe"] });
  let text = "";
  let from = 0;
  child.stderr!.on("data", (c: Buffer) => {
    text += c.toString("latin1");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!/Dante\/server\[\d+\/\d+\] v[\d.]+ running/.test(text)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`danted did not start on 127.0.0.1:${port}:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `socks5://127.0.0.1:${port}`,
    log: () => text.slice(from),
    mark: () => {
      from = text.length;
    },
    close: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
