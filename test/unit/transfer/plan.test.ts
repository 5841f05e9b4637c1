// Tests of core/transfer/plan.ts: --volume-size parsing and the export plan (delta exclusions, volume packing, the blob too large for a volume).
import { describe, expect, it } from "vitest";
import { ExportPlanError, parseSize, planExport, TAR_END_BYTES, type PlannedBlob } from "../../../core/transfer/plan.js";
import { tarMemberBytes } from "../../../core/transfer/tar.js";

const sha = (c: string) => c.repeat(64);
const blob = (c: string, size: number): PlannedBlob => ({ sha256: sha(c), size });

describe("parseSize", () => {
  it.each([
    ["4G", 4 * 1024 ** 3],
    ["700M", 700 * 1024 ** 2],
    ["512K", 512 * 1024],
    ["512k", 512 * 1024],
    ["1.5G", 1.5 * 1024 ** 3],
    ["4096", 4096],
    ["4GiB", 4 * 1024 ** 3],
    ["4GB", 4 * 1024 ** 3],
    ["2T", 2 * 1024 ** 4],
  ])("%s is %d bytes", (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(["", "G", "4X", "-1G", "0", "four", "4 G B", "1e3"])("refuses %j", (text) => {
    expect(() => parseSize(text)).toThrow(ExportPlanError);
    expect(() => parseSize(text)).toThrow(/--volume-size/);
  });
});

describe("planExport", () => {
  const refs = [blob("c", 100), blob("a", 600), blob("b", 1024), blob("a", 600)];

  it.each([
    { name: "full directory: every blob once, sorted", exclude: undefined, included: ["a", "b", "c"], excluded: 0 },
    { name: "delta: the base's blobs left out", exclude: ["b"], included: ["a", "c"], excluded: 1 },
    { name: "delta against a base that has everything", exclude: ["a", "b", "c", "d"], included: [], excluded: 3 },
    { name: "a base of unrelated blobs changes nothing", exclude: ["d", "e"], included: ["a", "b", "c"], excluded: 0 },
  ])("$name", ({ exclude, included, excluded }) => {
    const plan = planExport(refs, { format: "dir", ...(exclude ? { exclude: { description: "x", sha256s: new Set(exclude.map(sha)) } } : {}) });
    expect(plan.included.map((b) => b.sha256[0])).toEqual(included);
    expect(plan.included.every((b) => b.volume === null)).toBe(true);
    expect(plan.excluded).toBe(excluded);
    expect(plan.referenced).toHaveLength(3);
    expect(plan.referencedBytes).toBe(1724);
    expect(plan.includedBytes).toBe(plan.included.reduce((n, b) => n + b.size, 0));
    expect(plan.volumeBytes).toEqual([]);
  });

  it("tar without a volume size: one volume of every member and the end blocks", () => {
    const plan = planExport(refs, { format: "tar" });
    expect(plan.included.map((b) => b.volume)).toEqual([0, 0, 0]);
    expect(plan.volumeBytes).toEqual([TAR_END_BYTES + tarMemberBytes(600) + tarMemberBytes(1024) + tarMemberBytes(100)]);
    expect(tarMemberBytes(600)).toBe(512 + 1024);
    expect(tarMemberBytes(1024)).toBe(512 + 1024);
    expect(tarMemberBytes(0)).toBe(512);
  });

  it.each([
    // a: 1536, b: 1536, c: 1024 bytes as members; the end blocks 1024
    { limit: 10_000, volumes: [0, 0, 0] },
    { limit: 1536 + 1536 + 1024, volumes: [0, 0, 1] },
    { limit: 1536 + 1024, volumes: [0, 1, 2] },
    { limit: 1536 + 1536 + 1024 + 1024, volumes: [0, 0, 0] },
  ])("volumes of at most $limit bytes: $volumes", ({ limit, volumes }) => {
    const plan = planExport(refs, { format: "tar", volumeSize: limit });
    expect(plan.included.map((b) => b.volume)).toEqual(volumes);
    for (const v of plan.volumeBytes) expect(v).toBeLessThanOrEqual(limit);
  });

  it("refuses a blob larger than a volume, naming it and the size needed", () => {
    expect(() => planExport([blob("a", 10), blob("f", 5000)], { format: "tar", volumeSize: 4096 })).toThrow(
      new RegExp(`blob ${sha("f")} is 5000 bytes: .*at least ${512 + 5120 + TAR_END_BYTES}`),
    );
  });

  it("a tar export with nothing new still has one empty volume", () => {
    const plan = planExport(refs, { format: "tar", exclude: { description: "x", sha256s: new Set(["a", "b", "c"].map(sha)) } });
    expect(plan.included).toEqual([]);
    expect(plan.volumeBytes).toEqual([TAR_END_BYTES]);
  });
});
