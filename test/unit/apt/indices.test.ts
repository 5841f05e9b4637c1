// Tests of core/apt/indices.ts.
import { describe, expect, it } from "vitest";
import { byHashPaths, compressionOf, planIndexTargets } from "../../../core/apt/indices.js";
import { parseRelease } from "../../../core/apt/release.js";

const h = (i: number) => i.toString(16).padStart(64, "0");

function release(paths: string[], extra = ""): ReturnType<typeof parseRelease> {
  return parseRelease(
    `Architectures: amd64 arm64\nComponents: main contrib\n${extra}SHA256:\n${paths.map((p, i) => ` ${h(i + 1)} ${i + 10} ${p}`).join("\n")}\n`,
  );
}

const DEBIAN_LIKE = [
  "main/binary-amd64/Packages",
  "main/binary-amd64/Packages.xz",
  "main/binary-amd64/Packages.gz",
  "main/binary-amd64/Release",
  "main/binary-all/Packages",
  "main/binary-all/Packages.xz",
  "main/binary-arm64/Packages.xz",
  "main/source/Sources.xz",
  "main/source/Sources.gz",
  "main/i18n/Translation-en.bz2",
  "main/i18n/Translation-de.bz2",
  "contrib/binary-amd64/Packages.bz2",
  "contrib/binary-amd64/Packages.lzma",
  "main/Contents-amd64.gz",
];

describe("planIndexTargets", () => {
  it("picks Packages of each component × architecture and binary-all, preferring xz, and mirrors every listed variant", () => {
    const targets = planIndexTargets(release(DEBIAN_LIKE), { components: ["main", "contrib"], architectures: ["amd64"], includeSources: false }, "InRelease");
    expect(targets.map((t) => [t.kind, t.base, t.parse?.path, t.variants.map((v) => v.path)])).toEqual([
      [
        "packages",
        "main/binary-amd64/Packages",
        "main/binary-amd64/Packages.xz",
        ["main/binary-amd64/Packages.xz", "main/binary-amd64/Packages.gz", "main/binary-amd64/Packages"],
      ],
      ["extra", "main/binary-amd64/Release", undefined, ["main/binary-amd64/Release"]],
      ["packages", "main/binary-all/Packages", "main/binary-all/Packages.xz", ["main/binary-all/Packages.xz", "main/binary-all/Packages"]],
      ["extra", "main/i18n/Translation-en", undefined, ["main/i18n/Translation-en.bz2"]],
      [
        "packages",
        "contrib/binary-amd64/Packages",
        "contrib/binary-amd64/Packages.bz2",
        ["contrib/binary-amd64/Packages.bz2", "contrib/binary-amd64/Packages.lzma"],
      ],
    ]);
  });

  it("adds Sources when include_sources, and does not repeat binary-all when it is configured", () => {
    const targets = planIndexTargets(release(DEBIAN_LIKE), { components: ["main"], architectures: ["arm64", "all"], includeSources: true }, "InRelease");
    expect(targets.filter((t) => t.parse).map((t) => t.parse!.path)).toEqual([
      "main/binary-arm64/Packages.xz",
      "main/binary-all/Packages.xz",
      "main/source/Sources.xz",
    ]);
  });

  it("parses a plain index when it is the only variant", () => {
    const targets = planIndexTargets(
      release(["main/binary-amd64/Packages"]),
      { components: ["main"], architectures: ["amd64"], includeSources: false },
      "Release",
    );
    expect(targets[0]!.parse!.path).toBe("main/binary-amd64/Packages");
    expect(compressionOf("main/binary-amd64/Packages")).toBe("none");
    expect(compressionOf("main/binary-amd64/Packages.xz")).toBe("xz");
  });

  it.each([
    [
      { components: ["non-free"], architectures: ["amd64"], includeSources: false },
      /lists no non-free\/binary-amd64\/Packages .*components main contrib and architectures amd64 arm64/,
    ],
    [{ components: ["main"], architectures: ["i386"], includeSources: false }, /lists no main\/binary-i386\/Packages/],
    [{ components: ["contrib"], architectures: ["amd64"], includeSources: true }, /lists no contrib\/source\/Sources/],
  ])("names what is missing for %j", (selection, message) => {
    expect(() => planIndexTargets(release(DEBIAN_LIKE), selection, "dists/x/InRelease")).toThrow(message);
  });

  it("gives the by-hash paths apt asks for: SHA256, and SHA512 when listed", () => {
    expect(byHashPaths({ path: "main/binary-amd64/Packages.xz", size: 1, sha256: h(1) })).toEqual([`main/binary-amd64/by-hash/SHA256/${h(1)}`]);
    expect(byHashPaths({ path: "Contents-amd64.gz", size: 1, sha256: h(1), sha512: "f".repeat(128) })).toEqual([
      `by-hash/SHA256/${h(1)}`,
      `by-hash/SHA512/${"f".repeat(128)}`,
    ]);
  });
});
