// Runs a dump script (ours: SQL, COPY ... FROM stdin blocks, psql meta-commands) on one client inside the caller's
// transaction, streaming the COPY data so memory stays flat however large the dump is.
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { BackupInvalidError } from "./manifest.js";
import { DUMP_BEGIN, DUMP_END } from "./dump.js";
import { dropSecondaryStructures, restoreSecondaryStructures, type DeferredStructures } from "./deferred-constraints.js";

const NEWLINE = 10;
const COPY_LINE = /^COPY (\S+) \((.*)\) FROM stdin;$/;
const COPY_END = Buffer.from("\\.");

export interface LoadResult {
  statements: number;
  copies: number;
}

class ScriptRunner {
  private sql: string[] = [];
  private copy: Writable | undefined;
  private began = false;
  private deferred: DeferredStructures | undefined;
  ended = false;
  readonly result: LoadResult = { statements: 0, copies: 0 };

  constructor(
    private readonly client: pg.ClientBase,
    private readonly signal?: AbortSignal,
    /** Schema whose foreign keys and secondary indexes are dropped before the data and rebuilt after it. */
    private readonly deferIn?: string,
  ) {}

  /** One line of the SQL part (not COPY data), without its newline. */
  async sqlLine(line: string): Promise<void> {
    if (line === DUMP_BEGIN) {
      this.began = true;
      return;
    }
    if (line === DUMP_END) {
      await this.flush();
      if (this.deferred) await restoreSecondaryStructures(this.client, this.deferred);
      this.ended = true;
      return;
    }
    if (this.ended) {
      if (line.trim() !== "") throw new BackupInvalidError("the dump has content after its end marker");
      return;
    }
    if (line.startsWith("\\")) return; // psql meta-command (\set ON_ERROR_STOP on)
    const copy = COPY_LINE.exec(line);
    if (copy) {
      if (!this.began) throw new BackupInvalidError("the dump has COPY data before its begin marker");
      await this.flush();
      if (this.deferIn && !this.deferred) this.deferred = await dropSecondaryStructures(this.client, this.deferIn);
      this.copy = this.client.query(copyFrom(`COPY ${copy[1]} (${copy[2]}) FROM STDIN`));
      this.result.copies++;
      return;
    }
    this.sql.push(line);
  }

  get inCopy(): boolean {
    return this.copy !== undefined;
  }

  async copyData(chunk: Buffer): Promise<void> {
    if (this.signal?.aborted) throw this.signal.reason;
    if (chunk.length > 0 && !this.copy!.write(chunk)) await once(this.copy!, "drain", this.signal ? { signal: this.signal } : {});
  }

  async endCopy(): Promise<void> {
    const copy = this.copy!;
    this.copy = undefined;
    copy.end();
    await finished(copy);
  }

  /** Statements are sent as one multi-statement query per block between COPYs (simple query protocol). */
  async flush(): Promise<void> {
    const text = this.sql.join("\n");
    this.sql = [];
    if (text.trim() === "") return;
    if (this.signal?.aborted) throw this.signal.reason;
    await this.client.query(text);
    this.result.statements++;
  }
}

/**
 * Execute the dump read from `input` (decompressed). The dump's own BEGIN/COMMIT lines are skipped: the caller owns
 * the transaction. Throws BackupInvalidError when the dump is incomplete (no end marker).
 */
export async function loadDump(client: pg.ClientBase, input: Readable, signal?: AbortSignal, opts: { deferConstraintsIn?: string } = {}): Promise<LoadResult> {
  const runner = new ScriptRunner(client, signal, opts.deferConstraintsIn);
  let rest: Buffer = Buffer.alloc(0);
  for await (const raw of input) {
    let buf = rest.length ? Buffer.concat([rest, raw as Buffer]) : (raw as Buffer);
    let start = 0;
    let copyStart = 0;
    for (let nl = buf.indexOf(NEWLINE); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
      if (runner.inCopy) {
        // Inside COPY data only the terminator line matters; everything before it goes to the server in one write.
        if (nl - start === 2 && buf[start] === COPY_END[0] && buf[start + 1] === COPY_END[1]) {
          await runner.copyData(buf.subarray(copyStart, start));
          await runner.endCopy();
        }
        start = nl + 1;
        if (!runner.inCopy) copyStart = start;
        continue;
      }
      await runner.sqlLine(buf.toString("utf8", start, nl));
      start = nl + 1;
      copyStart = start;
    }
    if (runner.inCopy) {
      await runner.copyData(buf.subarray(copyStart, start));
    }
    rest = buf.subarray(start);
    buf = rest;
  }
  if (rest.length > 0 && !runner.inCopy) await runner.sqlLine(rest.toString("utf8"));
  if (runner.inCopy || !runner.ended) throw new BackupInvalidError("the dump is incomplete: it ends before its final COMMIT (truncated?)");
  return runner.result;
}
