// The pure side of the S3 backend: key layout, the order of a publish's writes, what it deletes, manifests.
import { describe, expect, it } from "vitest";
import { PublishError } from "../../../core/storage/publish.js";
import { existenceCheckFor, LIST_THRESHOLD } from "../../../core/storage/s3-blob-store.js";
import {
  cacheControlFor,
  checkTreePath,
  indexRank,
  manifestKeyOf,
  parseManifest,
  planTreeUpdate,
  plusAlias,
  poolKeyOf,
  poolListPrefix,
  serializeManifest,
  treeFiles,
  treeKeyPrefix,
  unpublishOrder,
} from "../../../core/storage/s3-layout.js";

const A = "a".repeat(64);
const B = "ab12" + "0".repeat(60);
const C = "c".repeat(64);
const D = "d".repeat(64);

const tree = (m: Record<string, string>) => Object.entries(m).map(([path, sha256]) => ({ path, sha256 }));

describe("key layout", () => {
  it.each([
    ["", B, `pool/ab/12/${B}`],
    ["mirror", B, `mirror/pool/ab/12/${B}`],
    ["site/a", A, `site/a/pool/aa/aa/${A}`],
  ])("pool key with prefix %j", (prefix, sha, key) => {
    expect(poolKeyOf(prefix, sha)).toBe(key);
  });

  it("lower-cases a sha256 and refuses anything else as a pool key", () => {
    expect(poolKeyOf("", B.toUpperCase())).toBe(`pool/ab/12/${B}`);
    expect(() => poolKeyOf("", "../../etc/passwd")).toThrow(/not a sha256/);
  });

  it.each([
    ["", "r1", "latest", "published/r1/latest/", "manifests/r1/latest.json"],
    ["m", "r1", "latest", "m/published/r1/latest/", "m/manifests/r1/latest.json"],
    ["m/x", "deb", "snapshots/v1", "m/x/published/deb/snapshots/v1/", "m/x/manifests/deb/snapshots/v1.json"],
  ])("tree and manifest keys (prefix %j, %s %s)", (prefix, repo, name, treeKey, manifestKey) => {
    expect(treeKeyPrefix(prefix, repo, name)).toBe(treeKey);
    expect(manifestKeyOf(prefix, repo, name)).toBe(manifestKey);
  });

  it("lists the pool by its <aa>/ prefixes", () => {
    expect(poolListPrefix("", "ab")).toBe("pool/ab/");
    expect(poolListPrefix("m", "00")).toBe("m/pool/00/");
  });

  it.each(["", "/abs", "a//b", "a/./b", "../x", "a/..", "a\\b"])("refuses the tree path %j", (path) => {
    expect(() => checkTreePath(path)).toThrow(PublishError);
  });
});

describe("index ordering", () => {
  it.each([
    ["Packages/a/alpha-1.0-1.noarch.rpm", undefined],
    ["repodata/abc-primary.xml.gz", undefined],
    ["sub/repodata/repomd.xml", undefined],
    ["dists/stable/main/binary-amd64/Packages.xz", undefined],
    ["dists/stable/main/binary-amd64/by-hash/SHA256/" + A, undefined],
    ["pool/main/r/Release", undefined],
    ["Release", undefined],
  ])("%s is data", (path, rank) => {
    expect(indexRank(path)).toBe(rank);
  });

  it("writes RPM signatures and keys before repomd.xml", () => {
    const order = ["repodata/repomd.xml", "repodata/repomd.xml.asc", "repodata/repomd.xml.key"].sort((a, b) => indexRank(a)! - indexRank(b)!);
    expect(order).toEqual(["repodata/repomd.xml.key", "repodata/repomd.xml.asc", "repodata/repomd.xml"]);
  });

  it("writes component Release files before the suite's, and InRelease last", () => {
    const paths = [
      "dists/stable/InRelease",
      "dists/stable/Release",
      "dists/stable/Release.gpg",
      "dists/stable/main/binary-amd64/Release",
      "dists/stable/contrib/source/Release",
    ];
    const order = [...paths].sort((a, b) => indexRank(a)! - indexRank(b)!);
    expect(order.slice(2)).toEqual(["dists/stable/Release.gpg", "dists/stable/Release", "dists/stable/InRelease"]);
    expect(order.slice(0, 2).sort()).toEqual(["dists/stable/contrib/source/Release", "dists/stable/main/binary-amd64/Release"]);
  });

  it("handles a suite with a slash in its name (stable/updates)", () => {
    const order = ["dists/stable/updates/InRelease", "dists/stable/updates/main/binary-amd64/Release"].sort((a, b) => indexRank(a)! - indexRank(b)!);
    expect(order).toEqual(["dists/stable/updates/main/binary-amd64/Release", "dists/stable/updates/InRelease"]);
  });
});

describe("'+' in paths", () => {
  it("aliases a '+' path with spaces, which is what S3 looks up for a literal '+'", () => {
    expect(plusAlias("pool/main/d/delta/delta_1.0+1-1_all.deb")).toBe("pool/main/d/delta/delta_1.0 1-1_all.deb");
    expect(plusAlias("Packages/l/libstdc++-11.rpm")).toBe("Packages/l/libstdc  -11.rpm");
    expect(plusAlias("Packages/a/alpha.rpm")).toBeUndefined();
  });

  it("adds the alias to the tree unless a real file has that path", () => {
    const files = treeFiles(tree({ "p/x+y.rpm": A, "p/a+b.rpm": B, "p/a b.rpm": C }));
    expect(Object.fromEntries(files)).toEqual({ "p/x+y.rpm": A, "p/x y.rpm": A, "p/a+b.rpm": B, "p/a b.rpm": C });
  });

  it("refuses one path with two contents", () => {
    expect(() => treeFiles(tree({ x: A }).concat(tree({ x: B })))).toThrow(/twice with different content/);
    expect(treeFiles(tree({ x: A }).concat(tree({ x: A }))).size).toBe(1);
  });
});

describe("planTreeUpdate", () => {
  const rpm1 = { "repodata/repomd.xml": A, "repodata/p1-primary.xml.gz": B, "Packages/alpha-1.rpm": C, "Packages/beta-1.rpm": D };

  it("first publish: copies data, then the index, deletes nothing", () => {
    const plan = planTreeUpdate(tree(rpm1), new Set(), new Map());
    expect(plan.data.map((f) => f.path)).toEqual(["Packages/alpha-1.rpm", "Packages/beta-1.rpm", "repodata/p1-primary.xml.gz"]);
    expect(plan.replaced).toEqual([]);
    expect(plan.indexes).toEqual([{ path: "repodata/repomd.xml", sha256: A }]);
    expect(plan.stale).toEqual([]);
    expect(plan.unchanged).toBe(0);
    expect(plan.interim.size).toBe(0);
    expect(Object.fromEntries(plan.manifest)).toEqual(rpm1);
  });

  it("an update: copies only what changed, index last, deletes what the new tree lacks", () => {
    const present = new Set(Object.keys(rpm1));
    const next = { "repodata/repomd.xml": D, "repodata/p2-primary.xml.gz": A, "Packages/alpha-1.rpm": C, "Packages/gamma-1.rpm": B };
    const plan = planTreeUpdate(tree(next), present, new Map(Object.entries(rpm1)));
    expect(plan.data).toEqual([
      { path: "Packages/gamma-1.rpm", sha256: B },
      { path: "repodata/p2-primary.xml.gz", sha256: A },
    ]);
    expect(plan.replaced).toEqual([]);
    expect(plan.indexes).toEqual([{ path: "repodata/repomd.xml", sha256: D }]);
    expect(plan.unchanged).toBe(1);
    expect(plan.stale).toEqual(["Packages/beta-1.rpm", "repodata/p1-primary.xml.gz"]);
    // while copying, the manifest vouches only for what is not being rewritten (the old files stay valid until deleted)
    expect(Object.fromEntries(plan.interim)).toEqual({ "repodata/p1-primary.xml.gz": B, "Packages/alpha-1.rpm": C, "Packages/beta-1.rpm": D });
  });

  it("an unchanged tree: nothing to copy or delete", () => {
    const plan = planTreeUpdate(tree(rpm1), new Set(Object.keys(rpm1)), new Map(Object.entries(rpm1)));
    expect(plan.data).toEqual([]);
    expect(plan.replaced).toEqual([]);
    expect(plan.indexes).toEqual([]);
    expect(plan.stale).toEqual([]);
    expect(plan.unchanged).toBe(4);
  });

  it("recopies a file the manifest vouches for but the bucket lost, and one the manifest does not know", () => {
    const present = new Set(["repodata/repomd.xml", "repodata/p1-primary.xml.gz", "Packages/alpha-1.rpm"]);
    const previous = new Map(Object.entries({ "repodata/repomd.xml": A, "repodata/p1-primary.xml.gz": B, "Packages/beta-1.rpm": D }));
    const plan = planTreeUpdate(tree(rpm1), present, previous);
    expect(plan.data.map((f) => f.path)).toEqual(["Packages/beta-1.rpm"]);
    expect(plan.replaced.map((f) => f.path)).toEqual(["Packages/alpha-1.rpm"]);
    expect(plan.indexes).toEqual([]);
    expect(plan.unchanged).toBe(2);
  });

  it("without a manifest (lost, or written by an interrupted publish) copies everything and still deletes leftovers", () => {
    const plan = planTreeUpdate(tree(rpm1), new Set([...Object.keys(rpm1), "Packages/old.rpm"]), new Map());
    expect(plan.data).toEqual([]);
    expect(plan.replaced.length + plan.indexes.length).toBe(4);
    expect(plan.stale).toEqual(["Packages/old.rpm"]);
  });

  it("an APT suite without by-hash: new files, then the Packages files that change in place, then the index", () => {
    const v1 = { "dists/s/InRelease": A, "dists/s/main/binary-amd64/Packages.xz": B, "dists/s/main/binary-amd64/Release": C, "pool/main/a/a_1_all.deb": D };
    const v2 = { "dists/s/InRelease": B, "dists/s/main/binary-amd64/Packages.xz": C, "dists/s/main/binary-amd64/Release": C, "pool/main/a/a_2_all.deb": A };
    const plan = planTreeUpdate(tree(v2), new Set(Object.keys(v1)), new Map(Object.entries(v1)));
    expect(plan.data).toEqual([{ path: "pool/main/a/a_2_all.deb", sha256: A }]);
    expect(plan.replaced).toEqual([{ path: "dists/s/main/binary-amd64/Packages.xz", sha256: C }]);
    expect(plan.indexes).toEqual([{ path: "dists/s/InRelease", sha256: B }]);
    expect(plan.stale).toEqual(["pool/main/a/a_1_all.deb"]);
    expect(Object.fromEntries(plan.interim)).toEqual({ "dists/s/main/binary-amd64/Release": C, "pool/main/a/a_1_all.deb": D });
  });

  it("an APT suite: component Release files, then Release.gpg, Release, InRelease", () => {
    const apt = {
      "dists/s/InRelease": A,
      "dists/s/Release": B,
      "dists/s/Release.gpg": C,
      "dists/s/main/binary-amd64/Packages.xz": D,
      "dists/s/main/binary-amd64/Release": A,
      "pool/main/d/delta/delta_1.0+1-1_all.deb": B,
    };
    const plan = planTreeUpdate(tree(apt), new Set(), new Map());
    expect(plan.indexes.map((f) => f.path)).toEqual(["dists/s/main/binary-amd64/Release", "dists/s/Release.gpg", "dists/s/Release", "dists/s/InRelease"]);
    expect(plan.data.map((f) => f.path)).toEqual([
      "dists/s/main/binary-amd64/Packages.xz",
      "pool/main/d/delta/delta_1.0 1-1_all.deb",
      "pool/main/d/delta/delta_1.0+1-1_all.deb",
    ]);
  });

  it("deletes a dropped signature only after the new index (it is stale, not an index to write)", () => {
    const previous = { "repodata/repomd.xml": A, "repodata/repomd.xml.asc": B };
    const plan = planTreeUpdate(tree({ "repodata/repomd.xml": C }), new Set(Object.keys(previous)), new Map(Object.entries(previous)));
    expect(plan.indexes).toEqual([{ path: "repodata/repomd.xml", sha256: C }]);
    expect(plan.stale).toEqual(["repodata/repomd.xml.asc"]);
  });
});

describe("cacheControlFor", () => {
  it.each([
    ["repodata/repomd.xml", "no-cache"],
    ["repodata/abc-primary.xml.zst", "no-cache"],
    ["dists/stable/main/binary-amd64/Packages.xz", "no-cache"],
    ["dists/stable/InRelease", "no-cache"],
    ["Packages/a/alpha-1.0-1.noarch.rpm", undefined],
    ["pool/main/a/alpha/alpha_1.0-1_all.deb", undefined],
  ])("%s -> %s", (path, value) => {
    expect(cacheControlFor(path)).toBe(value);
  });
});

describe("unpublishOrder", () => {
  it("deletes the top-level index first, then the rest", () => {
    const p = "m/published/deb/snapshots/v1/";
    const keys = [
      `${p}pool/a.deb`,
      `${p}dists/s/Release`,
      `${p}dists/s/InRelease`,
      `${p}dists/s/main/binary-amd64/Release`,
      `${p}dists/s/main/binary-amd64/Packages`,
    ];
    const order = unpublishOrder(keys, p);
    expect(order.indexes).toEqual([`${p}dists/s/InRelease`, `${p}dists/s/Release`, `${p}dists/s/main/binary-amd64/Release`]);
    expect(order.rest).toEqual([`${p}pool/a.deb`, `${p}dists/s/main/binary-amd64/Packages`]);
  });
});

describe("manifests", () => {
  it("round-trips, sorted", () => {
    const m = new Map([
      ["b", A],
      ["a", B],
    ]);
    const bytes = serializeManifest(m);
    expect(bytes.toString()).toBe(`{"format":1,"files":{"a":"${B}","b":"${A}"}}`);
    expect(parseManifest(bytes)).toEqual(
      new Map([
        ["a", B],
        ["b", A],
      ]),
    );
  });

  it.each([undefined, Buffer.from("not json"), Buffer.from('{"format":2,"files":{}}'), Buffer.from('{"format":1}'), Buffer.from("null")])(
    "reads %s as empty",
    (data) => {
      expect(parseManifest(data).size).toBe(0);
    },
  );
});

describe("existenceCheckFor", () => {
  it.each([
    [0, "head"],
    [1, "head"],
    [LIST_THRESHOLD - 1, "head"],
    [LIST_THRESHOLD, "list"],
    [20_000, "list"],
  ] as const)("%i blobs -> %s", (count, method) => {
    expect(existenceCheckFor(count)).toBe(method);
  });
});
