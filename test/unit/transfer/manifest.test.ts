// manifest.json of an export bundle: what a reader accepts, and each refusal naming the problem.
import { describe, expect, it } from "vitest";
import {
  BundleInvalidError,
  EXPORT_FORMAT_VERSION,
  type Manifest,
  parseManifest,
  referencedBlobs,
  serializeManifest,
} from "../../../core/transfer/manifest.js";

const A = "a".repeat(64);
const B = "b".repeat(64);
const M = "c".repeat(64);

function manifest(over: Partial<Manifest> = {}): Manifest {
  return {
    format: "chantal-export",
    format_version: 1,
    export_id: "20261202T190000Z-0a1b2c3d",
    instance_id: "6f1c2a5e-8b7d-4c3a-9e2f-1a2b3c4d5e6f",
    chantal_version: "0.1.0",
    created_at: "2026-12-02T19:00:00.000Z",
    kind: "full",
    base_export_id: null,
    base_description: null,
    selection: { kind: "snapshot", repo_id: "el9", snapshot: "s1" },
    repositories: [{ repo_id: "el9", type: "rpm", upstream_url: "http://127.0.0.1/el9" }],
    packages: [{ sha256: A, size: 10, type: "rpm", name: "a", epoch: 0, version: "1", release: "1", arch: "x86_64", checksum: `sha256:${A}`, metadata: {} }],
    snapshots: [
      {
        repo_id: "el9",
        name: "s1",
        description: null,
        created_at: "2026-12-02T18:00:00.000Z",
        packages: { "Packages/a.rpm": A },
        metadata: { "repodata/repomd.xml": M },
      },
    ],
    group_snapshots: [],
    environments: [],
    blobs: [
      { sha256: A, size: 10, volume: null },
      { sha256: M, size: 5, volume: null },
    ],
    volumes: [],
    ...over,
  };
}

const bytes = (m: unknown) => Buffer.from(JSON.stringify(m));

describe("parseManifest", () => {
  it("reads what serializeManifest writes, byte-identically on a second pass", () => {
    const out = serializeManifest(manifest());
    const back = parseManifest(out, "b");
    expect(back).toEqual(manifest());
    expect(serializeManifest(back).equals(out)).toBe(true);
    expect([...referencedBlobs(back)].sort()).toEqual([A, M]);
  });

  it("accepts a delta whose referenced blobs are not all in the bundle", () => {
    const m = manifest({ kind: "delta", base_export_id: "20261201T000000Z-00000000", base_description: "export 20261201T000000Z-00000000", blobs: [] });
    expect(parseManifest(bytes(m), "b").kind).toBe("delta");
  });

  const refusals: [string, unknown, RegExp][] = [
    ["not JSON", "{", /not valid JSON/],
    ["another format", { ...manifest(), format: "pulp" }, /not a Chantal export manifest/],
    ["a newer format", { ...manifest(), format_version: EXPORT_FORMAT_VERSION + 1 }, /format_version 2; this Chantal reads up to 1: upgrade Chantal/],
    ["a bad sha256", manifest({ blobs: [{ sha256: "XYZ", size: 1, volume: null }] }), /blobs\.0\.sha256/],
    ["an unknown field", { ...manifest(), extra: 1 }, /invalid at \(root\)/],
    ["a snapshot of an unlisted repository", manifest({ repositories: [] }), /names repository el9/],
    ["a location without its package", manifest({ packages: [] }), /lists Packages\/a\.rpm/],
    ["a full export missing a blob", manifest({ blobs: [{ sha256: A, size: 10, volume: null }] }), /full export must hold every blob.*cccc/],
    ["a blob twice", manifest({ blobs: [...manifest().blobs, { sha256: A, size: 10, volume: null }] }), /listed twice/],
    [
      "a volume index out of range",
      manifest({
        volumes: [{ file: "volume-0001.tar", size: 1, sha256: B }],
        blobs: [
          { sha256: A, size: 10, volume: 1 },
          { sha256: M, size: 5, volume: 0 },
        ],
      }),
      /names volume 1/,
    ],
    [
      "a group member without its snapshot",
      manifest({ group_snapshots: [{ group: "g", name: "s1", description: null, created_at: "2026-12-02T18:00:00.000Z", members: ["el9", "epel"] }] }),
      /member epel/,
    ],
    [
      "an environment without its group snapshot",
      manifest({ environments: [{ environment: "prod", group: "g", snapshot: "s1" }] }),
      /environment prod serves g\/s1/,
    ],
    ["a full export with a base", manifest({ base_export_id: "x" }), /full export has no base/],
  ];
  it.each(refusals)("refuses %s", (_what, input, message) => {
    const data = typeof input === "string" ? Buffer.from(input) : bytes(input);
    expect(() => parseManifest(data, "bundle /media/x")).toThrow(BundleInvalidError);
    expect(() => parseManifest(data, "bundle /media/x")).toThrow(message);
  });
});
