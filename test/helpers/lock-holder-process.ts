// Starts test/helpers/lock-holder.ts as another process that holds a repository lock on its own connection.
import { spawn, type ChildProcess } from "node:child_process";
import { repoRoot } from "./cli.js";

export interface LockHolderProcess {
  child: ChildProcess;
  output(): string;
  /** Close its stdin: it releases the lock and exits; resolves once it has. */
  release(): Promise<void>;
}

/** Resolves once the other process holds (databaseUrl, key) and said so. */
export function startLockHolder(databaseUrl: string, key: number, purpose: string): Promise<LockHolderProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/lock-holder.ts", databaseUrl, String(key), purpose], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("locked")) {
        resolve({
          child,
          output: () => out,
          async release() {
            child.stdin!.end();
            await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
          },
        });
      }
    });
    child.on("exit", (code) => reject(new Error(`lock holder exited ${code}: ${out}`)));
  });
}
