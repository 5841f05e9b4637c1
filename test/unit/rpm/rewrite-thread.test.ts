// Tests of core/rpm/rewrite-thread.ts and rewrite-worker.ts: a large gzipped document through the worker, read slowly.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { rewriteInWorker } from "../../../core/rpm/rewrite-thread.js";

/** `count` filelists packages with pkgids that do not compress, so the gzip input arrives in many pieces. */
function filelists(count: number): { gz: Buffer; pkgids: string[] } {
  const pkgids: string[] = [];
  const parts = [`<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="${count}">\n`];
  for (let i = 0; i < count; i++) {
    const id = createHash("sha256").update(String(i)).digest("hex");
    pkgids.push(id);
    parts.push(`<package pkgid="${id}" name="p${i}" arch="noarch"><version epoch="0" ver="1" rel="1"/><file>/usr/share/${id}</file></package>\n`);
  }
  parts.push("</filelists>\n");
  return { gz: gzipSync(parts.join("")), pkgids };
}

async function* inChunks(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe("rewriteInWorker", () => {
  // zlib reads input ahead while the worker waits for the ack of an output piece: each message must reach its own waiter.
  it("keeps every kept package of a multi-megabyte gzip document when the output is taken slowly", async () => {
    const { gz, pkgids } = filelists(60_000);
    const kept = pkgids.filter((_, i) => i % 2 === 1);
    let text = "";
    for await (const piece of rewriteInWorker(inChunks(gz, 64 * 1024), {
      kind: "filelists",
      compression: "gz",
      label: "filelists.xml.gz",
      maxOutputBytes: 1024 * 1024 * 1024,
      kept,
    })) {
      text += piece;
      await sleep(2);
    }
    expect(text.match(/<package /g)?.length).toBe(kept.length);
    expect(text).toContain(`packages="${kept.length}"`);
    expect(text.endsWith("</filelists>\n")).toBe(true);
  }, 120_000);
});
