// syncfs(2) through one long-lived shell that runs `sync -f DIR` (coreutils) for each line it reads: spawning `sync`
// from Node forks our whole process on the main thread (~4 ms at 300 MB of RSS, 80 times in a 20,000-package sync);
// the small shell forks itself instead, on another core. Node has no syncfs of its own.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

/** What the shell prints for each directory, in order: 0 when `sync -f` succeeded. */
const LOOP = 'while IFS= read -r d; do if sync -f -- "$d" 2>/dev/null; then echo 0; else echo 1; fi; done';

/** A request's answer: `sync -f` succeeded or failed, or the shell could not answer it (not started, died). */
export type SyncfsAnswer = boolean | undefined;

interface Waiter {
  settle(answer: SyncfsAnswer): void;
}

/**
 * Runs syncfs requests one after the other in a child shell started on first use. A request answers true when
 * `sync -f` succeeded, false when it failed or took longer than `timeoutMs` (the shell is then killed, and the next
 * request starts another), undefined when the shell could not start or died. Idle, it does not keep the process alive.
 */
export class SyncfsRunner {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly waiting: Waiter[] = [];
  private output = "";
  private timer: NodeJS.Timeout | undefined;
  /** process.env.PATH when the shell started. */
  private childPath: string | undefined;

  constructor(
    private readonly timeoutMs: number,
    /** The shell and its environment (tests: a PATH whose `sync` misbehaves). */
    private readonly shell = "/bin/sh",
    private readonly env?: NodeJS.ProcessEnv,
  ) {}

  /** true: everything written on `dir`'s filesystem before the call is on disk. A signal's abort rejects the wait (the sync itself runs on). */
  run(dir: string, signal?: AbortSignal): Promise<SyncfsAnswer> {
    signal?.throwIfAborted();
    // A line is a request: a directory whose name holds a newline cannot be one.
    if (dir.includes("\n")) return Promise.resolve(undefined);
    // `sync` is looked up on the PATH of the moment, as a process of its own would be: a changed PATH, a new shell.
    if (this.child && !this.env && this.waiting.length === 0 && process.env.PATH !== this.childPath) this.fail();
    const child = this.started();
    if (!child) return Promise.resolve(undefined);
    return new Promise<SyncfsAnswer>((resolve, reject) => {
      const onAbort = () => {
        waiter.settle = () => undefined; // its answer still comes, and is dropped
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        settle: (answer) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(answer);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (this.waiting.length === 0) this.hold(true);
      this.waiting.push(waiter);
      this.armTimer();
      child.stdin.write(`${dir}\n`);
    });
  }

  /** Stop the shell (tests; the shell also ends by itself when our end of its stdin closes). */
  close(): void {
    this.fail();
  }

  private started(): ChildProcessWithoutNullStreams | undefined {
    if (this.child) return this.child;
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(this.shell, ["-c", LOOP], {
        stdio: ["pipe", "pipe", "ignore"],
        ...(this.env ? { env: this.env } : {}),
      }) as unknown as ChildProcessWithoutNullStreams;
    } catch {
      return undefined;
    }
    this.child = child;
    this.childPath = process.env.PATH;
    this.output = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text: string) => this.answered(text));
    const gone = () => {
      if (this.child === child) this.fail();
    };
    child.on("error", gone);
    child.on("exit", gone);
    child.stdin.on("error", gone);
    this.hold(false);
    return child;
  }

  private answered(text: string): void {
    this.output += text;
    for (let nl = this.output.indexOf("\n"); nl >= 0; nl = this.output.indexOf("\n")) {
      const line = this.output.slice(0, nl);
      this.output = this.output.slice(nl + 1);
      this.waiting.shift()?.settle(line === "0");
    }
    if (this.waiting.length === 0) {
      this.hold(false);
      clearTimeout(this.timer);
      this.timer = undefined;
    } else this.armTimer(true);
  }

  /** Every pending request answers undefined (not answered); the shell goes (the next request starts another). */
  private fail(): void {
    const child = this.child;
    this.child = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (child) {
      child.stdin.destroy();
      child.stdout.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    for (const w of this.waiting.splice(0)) w.settle(undefined);
  }

  /** The request at the head of the queue gets `timeoutMs` from when it became the head. */
  private armTimer(restart = false): void {
    if (this.timer && !restart) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.waiting.shift()?.settle(false);
      this.fail();
    }, this.timeoutMs);
  }

  /** While a request waits, the shell keeps the process alive; idle, it does not. */
  private hold(ref: boolean): void {
    const child = this.child;
    if (!child) return;
    for (const h of [child, child.stdin, child.stdout] as Array<{ ref?: () => void; unref?: () => void }>) (ref ? h.ref : h.unref)?.call(h);
  }
}
