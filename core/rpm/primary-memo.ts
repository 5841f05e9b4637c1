// What the last parse of a repository's primary.xml made of each <package> element, keyed by the element's exact text
// (sha1): the next parse of a changed primary.xml reuses it for every element that did not change, so parsing costs a
// scan plus what changed instead of the whole document. A cache only: missing, stale or unreadable, the parse is whole.
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { DirMode, makeDirectory } from "../fs-dirs.js";
import { checksumAlgo } from "./repomd.js";
import type { Config } from "../config/schema.js";
import type { ElementMemo, MemoRecord, PrimaryLimits } from "./primary.js";

/** Bumped whenever what the parser makes of an element changes: an older file is then ignored. */
const MEMO_FORMAT = "chantal-primary-memo/1";

/**
 * The parser's thread has a 128 MB heap: 100,000 records of RHEL-like names are ~25 MB of file and ~45 MB of heap, so a
 * larger memo is neither read nor kept (a repository of more packages is parsed whole, as without a memo).
 */
const MAX_MEMO_BYTES = 32 * 1024 * 1024;
const MAX_MEMO_RECORDS = 120_000;

/** Where the parse memo of `repoId`'s primary.xml lives: a cache beside the PAC file's, under storage.base_path. */
export function primaryMemoFile(config: Pick<Config, "storage">, repoId: string): string {
  return join(config.storage.base_path, "cache", "primary", `${repoId}.json`);
}

/** The previous parse's records, and this parse's: what is written for the next one (this document's elements only). */
export class PackageMemo implements ElementMemo {
  private readonly seen = new Map<string, MemoRecord>();
  hits = 0;
  /** More elements than maxRecords: the memo is incomplete and not written (the next parse is whole). */
  overflow = false;

  constructor(
    private previous: ReadonlyMap<string, MemoRecord> = new Map(),
    private readonly maxRecords = MAX_MEMO_RECORDS,
  ) {}

  get(key: string): MemoRecord | undefined {
    const r = this.previous.get(key);
    if (r !== undefined) {
      this.hits++;
      this.keep(key, r);
    }
    return r;
  }

  record(key: string, r: MemoRecord): void {
    this.keep(key, r);
  }

  private keep(key: string, r: MemoRecord): void {
    if (this.seen.size >= this.maxRecords) this.overflow = true;
    else this.seen.set(key, r);
  }

  /** The previous parse's records are no longer needed (the parse is over): their memory goes before the memo is written. */
  forgetPrevious(): void {
    this.previous = new Map();
  }

  get size(): number {
    return this.seen.size;
  }

  records(): IterableIterator<[string, MemoRecord]> {
    return this.seen.entries();
  }
}

/** What the records depend on besides the element's text: the format and the limits it was checked against. */
export function memoFingerprint(limits: PrimaryLimits): string {
  return `${MEMO_FORMAT} text=${limits.maxTextLength} depth=${limits.maxDepth}`;
}

function isRecord(r: unknown): r is MemoRecord {
  if (!Array.isArray(r) || !Number.isSafeInteger(r[0]) || (r[0] as number) < 1) return false;
  if (r.length === 1) return true;
  if (r.length !== 11) return false;
  const [, name, arch, epoch, version, release, algo, value, location, size, base] = r as unknown[];
  return (
    typeof name === "string" &&
    typeof arch === "string" &&
    Number.isSafeInteger(epoch) &&
    typeof version === "string" &&
    typeof release === "string" &&
    typeof algo === "string" &&
    checksumAlgo(algo) !== undefined &&
    typeof value === "string" &&
    typeof location === "string" &&
    (size === null || Number.isSafeInteger(size)) &&
    (base === null || typeof base === "string")
  );
}

/** The records of `file`, or none when it is missing, too large, of another format or fingerprint, or damaged. */
export async function readMemo(file: string, fingerprint: string): Promise<Map<string, MemoRecord>> {
  const none = new Map<string, MemoRecord>();
  try {
    if ((await stat(file)).size > MAX_MEMO_BYTES) return none;
    const doc = JSON.parse(await readFile(file, "utf8")) as { fingerprint?: unknown; records?: unknown };
    if (doc.fingerprint !== fingerprint || !Array.isArray(doc.records)) return none;
    const records = new Map<string, MemoRecord>();
    for (const e of doc.records as unknown[]) {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string" || !isRecord(e[1])) return none;
      records.set(e[0], e[1]);
    }
    return records;
  } catch {
    return none;
  }
}

/** Replaces `file` with this parse's records (a temporary file renamed over it: a reader sees the old or the new). */
export async function writeMemo(file: string, fingerprint: string, memo: PackageMemo): Promise<void> {
  await makeDirectory(dirname(file), { mode: DirMode.private });
  const temp = join(dirname(file), `.${basename(file)}.tmp`);
  // Written in ~1 MB pieces: the whole document as one string would double the thread's heap at the end of a parse.
  const out = await open(temp, "w", 0o600);
  try {
    let piece = `{"fingerprint":${JSON.stringify(fingerprint)},"records":[`;
    let first = true;
    for (const [key, r] of memo.records()) {
      piece += `${first ? "\n" : ",\n"}${JSON.stringify([key, r])}`;
      first = false;
      if (piece.length >= 1024 * 1024) {
        await out.write(piece);
        piece = "";
      }
    }
    await out.write(`${piece}\n]}\n`);
  } finally {
    await out.close();
  }
  await rename(temp, file);
}

/** Forgets `repoId`'s memo (repo remove): nothing is left of a repository that left, and a missing file is no error. */
export async function removePrimaryMemo(config: Pick<Config, "storage">, repoId: string): Promise<void> {
  await rm(primaryMemoFile(config, repoId), { force: true });
}
