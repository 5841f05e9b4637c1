// Tests of core/apt/packages.ts.
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parsePackagesIndex, parseSourcesIndex, type DebPackage } from "../../../core/apt/packages.js";
import { readStanzas, type Stanza } from "../../../core/apt/deb822.js";
import { LimitExceededError } from "../../../core/compress/decompress.js";
import type { CompressionKind } from "../../../core/compress/decompress.js";

const SHA = (c: string) => c.repeat(64);

const PACKAGES = `Package: alpha
Version: 1:1.0-1
Architecture: all
Maintainer: Someone <a@b.c>
Installed-Size: 10
Filename: pool/main/a/alpha/alpha_1.0-1_all.deb
Size: 1234
MD5sum: 0123456789abcdef0123456789abcdef
SHA256: ${SHA("A")}
Description: first line
 continued
 .
 more

package: beta
version: 2.0
architecture: amd64
filename: pool/main/b/beta/beta_2.0_amd64.deb
size: 99
sha256: ${SHA("b")}
`;

async function collect(
  text: string | Buffer,
  compression: CompressionKind = "none",
  pieces = 7,
  extra: { maxStanzas?: number; maxStanzaChars?: number; maxOutputBytes?: number } = {},
): Promise<DebPackage[]> {
  const data = Buffer.isBuffer(text) ? text : Buffer.from(text);
  // Small pieces: paragraphs and lines are cut anywhere.
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += pieces) chunks.push(data.subarray(i, i + pieces));
  const out: DebPackage[] = [];
  for await (const p of parsePackagesIndex(Readable.from(chunks), {
    compression,
    maxOutputBytes: extra.maxOutputBytes ?? 1 << 20,
    label: "Packages",
    ...extra,
  }))
    out.push(p);
  return out;
}

describe("Packages index", () => {
  it("streams packages, with case-insensitive fields, lower-case hashes and split versions", async () => {
    for (const [data, kind] of [
      [Buffer.from(PACKAGES), "none"],
      [gzipSync(PACKAGES), "gz"],
    ] as const) {
      const pkgs = await collect(data, kind);
      expect(pkgs).toEqual([
        {
          name: "alpha",
          epoch: 1,
          version: "1.0",
          release: "1",
          fullVersion: "1:1.0-1",
          arch: "all",
          filename: "pool/main/a/alpha/alpha_1.0-1_all.deb",
          size: 1234,
          sha256: SHA("a"),
        },
        {
          name: "beta",
          epoch: 0,
          version: "2.0",
          release: "",
          fullVersion: "2.0",
          arch: "amd64",
          filename: "pool/main/b/beta/beta_2.0_amd64.deb",
          size: 99,
          sha256: SHA("b"),
        },
      ]);
    }
  });

  it("accepts CRLF, extra blank lines and no final newline", async () => {
    const text = `\n\n${PACKAGES.replace(/\n/g, "\r\n")}\r\n\r\n`.trimEnd();
    expect((await collect(text)).map((p) => p.name)).toEqual(["alpha", "beta"]);
  });

  it.each([
    ["SHA256", /package beta 2\.0 \(amd64\) at line 15 has no SHA256 field/],
    ["Size", /package beta 2\.0 \(amd64\) at line 15 has no Size field/],
    ["Filename", /package beta 2\.0 \(amd64\) at line 15 has no Filename field/],
    ["Version", /package beta \(amd64\) at line 15 has no Version field/],
  ])("names the package whose %s is missing", async (field, message) => {
    const text = PACKAGES.replace(new RegExp(`^${field.toLowerCase()}: .*\\n`, "m"), "");
    await expect(collect(text)).rejects.toThrow(message);
  });

  it.each([
    ["a malformed SHA256", PACKAGES.replace(`sha256: ${SHA("b")}`, "sha256: xyz"), /has a malformed SHA256 "xyz"/],
    ["a negative Size", PACKAGES.replace("size: 99", "size: -1"), /has an invalid Size "-1"/],
    ["a bad epoch", PACKAGES.replace("version: 2.0", "version: x:2.0"), /the epoch is not a number/],
    ["a line that is no field", `${PACKAGES}\nnonsense\n`, /not a "Field: value" line/],
    [
      "a newline in Package (a continuation line)",
      PACKAGES.replace("package: beta\n", "package: beta\n evil\n"),
      /Packages: the paragraph at line 15 has whitespace or a control character in its Package "beta\\nevil"/,
    ],
    [
      "a space in Architecture",
      PACKAGES.replace("architecture: amd64", "architecture: amd 64"),
      /has whitespace or a control character in its Architecture "amd 64"/,
    ],
  ])("refuses %s", async (_what, text, message) => {
    await expect(collect(text)).rejects.toThrow(message);
  });

  it("stops at the package and paragraph limits and a decompression bomb", async () => {
    await expect(collect(PACKAGES, "none", 7, { maxStanzas: 1 })).rejects.toThrow(LimitExceededError);
    await expect(collect(PACKAGES, "none", 7, { maxStanzaChars: 100 })).rejects.toThrow(/longer than 100 characters/);
    await expect(collect(`Package: x\nDescription: ${"y".repeat(500)}`, "none", 1000, { maxStanzaChars: 100 })).rejects.toThrow(LimitExceededError);
    await expect(collect(gzipSync(Buffer.alloc(1 << 21, 0x41)), "gz", 1 << 16)).rejects.toThrow(/decompresses to more than/);
  });

  it.each([
    [
      "a kept field (two Filename:)",
      PACKAGES.replace("size: 99\n", "size: 99\nFilename: pool/main/e/evil/evil.deb\n"),
      /Packages line 20: the paragraph at line 15 \(package beta\) has the field "Filename" twice/,
    ],
    [
      "a kept field in another case",
      PACKAGES.replace("Size: 1234\n", "Size: 1234\nSIZE: 1\n"),
      /Packages line 8: the paragraph at line 1 \(package alpha\) has the field "SIZE" twice/,
    ],
    [
      "a field that is not kept (two Maintainer:)",
      PACKAGES.replace("Installed-Size: 10\n", "Maintainer: Other <o@p.q>\n"),
      /Packages line 5: the paragraph at line 1 \(package alpha\) has the field "Maintainer" twice \(duplicate fields are refused, as dpkg does\)/,
    ],
  ])("refuses a paragraph with %s, as dpkg does", async (_what, text, message) => {
    await expect(collect(text)).rejects.toThrow(message);
  });

  it("counts lines across runs of blank and whitespace-only lines, and keeps a continuation after them", async () => {
    const text = `Package: a\nVersion: 1\n\n \t\n\r\n\n${"\n".repeat(100_000)}Package: b\nDescription: x\n  indented continuation\nVersion: 2\n\n   \n oops\n`;
    const out: Stanza[] = [];
    const read = async () => {
      for await (const s of readStanzas(Readable.from([Buffer.from(text.slice(0, 50_001)), Buffer.from(text.slice(50_001))]), { label: "P" })) out.push(s);
    };
    await expect(read()).rejects.toThrow(/P line 100013: a continuation line before any field/);
    expect(out.map((s) => [s.line, Object.fromEntries(s.fields)])).toEqual([
      [1, { package: "a", version: "1" }],
      [100007, { package: "b", description: "x\n indented continuation", version: "2" }],
    ]);
  });

  it("keeps only the fields it is asked for, continuation lines included", async () => {
    const out = [];
    for await (const s of readStanzas(Readable.from([Buffer.from(PACKAGES)]), { fields: new Set(["package", "description"]) }))
      out.push(Object.fromEntries(s.fields));
    expect(out).toEqual([{ package: "alpha", description: "first line\ncontinued\n.\nmore" }, { package: "beta" }]);
  });
});

describe("Sources index", () => {
  it("lists every file of Checksums-Sha256 under Directory", async () => {
    const text = `Package: alpha\nBinary: alpha\nVersion: 1.0-2\nDirectory: pool/main/a/alpha\nFiles:\n 0123456789abcdef0123456789abcdef 10 alpha_1.0-2.dsc\nChecksums-Sha256:\n ${SHA("c")} 10 alpha_1.0-2.dsc\n ${SHA("d")} 2000 alpha_1.0.orig.tar.xz\n`;
    const out = [];
    for await (const s of parseSourcesIndex(Readable.from([Buffer.from(text)]), { compression: "none", maxOutputBytes: 1 << 20, label: "Sources" }))
      out.push(s);
    expect(out).toEqual([
      {
        name: "alpha",
        epoch: 0,
        version: "1.0",
        release: "2",
        fullVersion: "1.0-2",
        files: [
          { filename: "pool/main/a/alpha/alpha_1.0-2.dsc", size: 10, sha256: SHA("c") },
          { filename: "pool/main/a/alpha/alpha_1.0.orig.tar.xz", size: 2000, sha256: SHA("d") },
        ],
      },
    ]);
  });

  it("refuses a source package without Checksums-Sha256", async () => {
    const text = `Package: alpha\nVersion: 1.0\nDirectory: pool/main/a/alpha\nFiles:\n 0123456789abcdef0123456789abcdef 10 alpha_1.0.dsc\n`;
    const run = async () => {
      for await (const _ of parseSourcesIndex(Readable.from([Buffer.from(text)]), { compression: "none", maxOutputBytes: 1 << 20, label: "Sources" })) void _;
    };
    await expect(run()).rejects.toThrow(/package alpha 1\.0 at line 1 has no Checksums-Sha256 field/);
  });
});
