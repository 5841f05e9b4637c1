// Tests of a curated suite's generated metadata: the Release (release-write.ts), index text and variants (packages-write.ts),
// kept paragraph text (deb822 keepText) and the index checksum (sync-parts.ts).
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { readStanzas } from "../../../core/apt/deb822.js";
import { indexText, indexVariants } from "../../../core/apt/packages-write.js";
import { parseRelease } from "../../../core/apt/release.js";
import { curatedReleaseText, resignedSuiteFiles, signedSuiteFiles, writtenByHashPaths } from "../../../core/apt/release-write.js";
import { canonicalJson, curatedIndexChecksum } from "../../../core/apt/sync-parts.js";
import { decompressIterable } from "../../../core/compress/decompress.js";
import { FilterSchema } from "../../../core/config/schema.js";
import type { MetadataSigner } from "../../../core/mirror/types.js";

const UPSTREAM = parseRelease(`Origin: Debian
Label: Debian
Suite: stable-updates
Version: 12.1
Codename: bookworm-updates
Date: Sat, 10 Jun 2023 08:48:49 UTC
Valid-Until: Sat, 17 Jun 2023 08:48:49 UTC
Acquire-By-Hash: yes
No-Support-for-Architecture-all: Packages
Architectures: all amd64 arm64 i386
Components: main contrib non-free
Description: Debian 12 - Updates
 second line
Changelogs: https://metadata.ftp-master.debian.org/changelogs/@CHANGEPATH@_changelog
SHA256:
 ${"a".repeat(64)} 10 main/binary-amd64/Packages
`);

const INDICES = [
  { path: "main/binary-amd64/Packages.gz", data: Buffer.from("gz") },
  { path: "main/binary-amd64/Packages", data: Buffer.from("Package: a\n") },
];

function hex(algo: string, data: Buffer): string {
  return createHash(algo).update(data).digest("hex");
}

describe("curatedReleaseText", () => {
  const text = curatedReleaseText(UPSTREAM, { components: ["main"], architectures: ["amd64"] }, INDICES);

  it("copies upstream's identity and dates, narrows Architectures and Components, lists exactly our indices", () => {
    expect(text).toBe(
      [
        "Origin: Debian",
        "Label: Debian",
        "Suite: stable-updates",
        "Version: 12.1",
        "Codename: bookworm-updates",
        "Date: Sat, 10 Jun 2023 08:48:49 UTC",
        "Valid-Until: Sat, 17 Jun 2023 08:48:49 UTC",
        "Architectures: all amd64",
        "Components: main",
        "Description: Debian 12 - Updates",
        " second line",
        "No-Support-for-Architecture-all: Packages",
        "Acquire-By-Hash: yes",
        "SHA256:",
        ` ${hex("sha256", INDICES[1]!.data)}               11 main/binary-amd64/Packages`,
        ` ${hex("sha256", INDICES[0]!.data)}                2 main/binary-amd64/Packages.gz`,
        "SHA512:",
        ` ${hex("sha512", INDICES[1]!.data)}               11 main/binary-amd64/Packages`,
        ` ${hex("sha512", INDICES[0]!.data)}                2 main/binary-amd64/Packages.gz`,
        "",
      ].join("\n"),
    );
  });

  it("is what our own Release parser (and apt) reads back", () => {
    const back = parseRelease(text);
    expect(back.date).toEqual(UPSTREAM.date);
    expect(back.validUntil).toEqual(UPSTREAM.validUntil);
    expect(back.acquireByHash).toBe(true);
    expect([...back.files.keys()]).toEqual(["main/binary-amd64/Packages", "main/binary-amd64/Packages.gz"]);
    expect(back.files.get("main/binary-amd64/Packages")).toEqual({
      path: "main/binary-amd64/Packages",
      size: 11,
      sha256: hex("sha256", INDICES[1]!.data),
      sha512: hex("sha512", INDICES[1]!.data),
    });
  });

  it("has no Valid-Until (nor any field) upstream did not have", () => {
    const bare = parseRelease(`Suite: s\nDate: Sat, 10 Jun 2023 08:48:49 UTC\nSHA256:\n ${"a".repeat(64)} 1 x\n`);
    expect(curatedReleaseText(bare, { components: ["main"], architectures: ["amd64"] }, [])).toBe(
      "Suite: s\nDate: Sat, 10 Jun 2023 08:48:49 UTC\nAcquire-By-Hash: yes\nSHA256:\nSHA512:\n",
    );
  });

  it("by-hash paths sit in each index's directory, for SHA256 and SHA512", () => {
    expect(writtenByHashPaths(INDICES[1]!)).toEqual([
      `main/binary-amd64/by-hash/SHA256/${hex("sha256", INDICES[1]!.data)}`,
      `main/binary-amd64/by-hash/SHA512/${hex("sha512", INDICES[1]!.data)}`,
    ]);
  });
});

describe("suite signatures", () => {
  const signed: string[] = [];
  const signer: MetadataSigner = {
    resign: true,
    publicKeyName: "k",
    fingerprint: "F".repeat(40),
    signDetached: async (d) => `detached(${d.toString()})`,
    clearsign: async (t) => `clear(${t})`,
    publicKeyArmored: () => "",
    publicKeyBinary: () => new Uint8Array(),
  };
  it("InRelease clearsigns the Release text and Release.gpg signs its bytes", async () => {
    const files = await signedSuiteFiles("Suite: s\n", {
      ...signer,
      clearsign: async (t) => {
        signed.push(t);
        return `clear(${t})`;
      },
    });
    expect(files.map((f) => [f.name, f.data.toString()])).toEqual([
      ["Release", "Suite: s\n"],
      ["InRelease", "clear(Suite: s\n)"],
      ["Release.gpg", "detached(Suite: s\n)"],
    ]);
    expect(signed).toEqual(["Suite: s\n"]);
  });

  it("re-signing keeps upstream's Release bytes, else InRelease's signed text", async () => {
    const upstream = [
      { name: "InRelease", data: Buffer.from("theirs") },
      { name: "Release", data: Buffer.from("Suite: s\r\n") },
    ];
    expect((await resignedSuiteFiles(upstream, "Suite: s", signer)).map((f) => f.data.toString())).toEqual([
      "Suite: s\r\n",
      "clear(Suite: s\r\n)",
      "detached(Suite: s\r\n)",
    ]);
    expect((await resignedSuiteFiles([upstream[0]!], "Suite: s", signer))[0]!.data.toString()).toBe("Suite: s\n");
  });
});

describe("indices", () => {
  it.each([
    [[], ""],
    [["Package: a"], "Package: a\n"],
    [["Package: a\nVersion: 1", "Package: b"], "Package: a\nVersion: 1\n\nPackage: b\n"],
  ])("indexText(%j)", (paragraphs, expected) => {
    expect(indexText(paragraphs)).toBe(expected);
  });

  it("writes plain, .gz and .xz of the same text, the same bytes every time", async () => {
    const text = indexText(["Package: a\nVersion: 1.0", "Package: b\nVersion: 2.0"]);
    const first = await indexVariants("main/binary-amd64/Packages", text);
    const second = await indexVariants("main/binary-amd64/Packages", text);
    expect(first.xz).toBe(true);
    expect(first.files.map((f) => f.path)).toEqual(["main/binary-amd64/Packages", "main/binary-amd64/Packages.gz", "main/binary-amd64/Packages.xz"]);
    expect(second.files).toEqual(first.files);
    expect(gunzipSync(first.files[1]!.data).toString()).toBe(text);
    const chunks: string[] = [];
    for await (const c of decompressIterable(Readable.from([first.files[2]!.data]), "xz", { maxOutputBytes: 1000 })) chunks.push(c.toString());
    expect(chunks.join("")).toBe(text);
  });

  it("without xz on the host, publishes plain and .gz only", async () => {
    const v = await indexVariants("Packages", "Package: a\n", { toolInstalled: (bin) => bin !== "xz" });
    expect(v.xz).toBe(false);
    expect(v.files.map((f) => f.path)).toEqual(["Packages", "Packages.gz"]);
  });
});

describe("readStanzas keepText", () => {
  it("returns each paragraph's lines as read (comments, continuations, CR dropped), also for fields it does not parse", async () => {
    const doc = "Package: a\r\nDescription: x\n more\n# note\nVersion: 1\n\n\n \nPackage: b\nVersion: 2";
    const out = [];
    for await (const s of readStanzas(Readable.from([Buffer.from(doc)]), { keepText: true, fields: new Set(["package"]) })) out.push(s);
    expect(out.map((s) => s.text)).toEqual(["Package: a\nDescription: x\n more\n# note\nVersion: 1", "Package: b\nVersion: 2"]);
    expect(out.map((s) => s.fields.get("package"))).toEqual(["a", "b"]);
  });

  it("has no text unless asked", async () => {
    for await (const s of readStanzas(Readable.from([Buffer.from("Package: a\n")]))) expect(s.text).toBeUndefined();
  });
});

describe("curatedIndexChecksum", () => {
  const filter = FilterSchema.parse({ include: ["a*"], retain_versions: 1 });
  const base = curatedIndexChecksum("up", filter, "F1");
  it("is the same for the same filter in any key order, and changes with upstream, filter and key", () => {
    expect(curatedIndexChecksum("up", JSON.parse(canonicalJson(filter)), "F1")).toBe(base);
    expect(curatedIndexChecksum("up", { ...filter }, "F1")).toBe(base);
    expect(curatedIndexChecksum("up2", filter, "F1")).not.toBe(base);
    expect(curatedIndexChecksum("up", { ...filter, retain_versions: 2 }, "F1")).not.toBe(base);
    expect(curatedIndexChecksum("up", filter, "F2")).not.toBe(base);
    expect(curatedIndexChecksum("up", filter, undefined)).not.toBe(base);
  });
  it.each([
    [{ b: 1, a: [2, { d: null, c: "x" }] }, '{"a":[2,{"c":"x","d":null}],"b":1}'],
    [{ a: undefined, b: true }, '{"b":true}'],
  ])("canonicalJson(%j)", (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });
});
