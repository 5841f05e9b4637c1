// Tests of core/rpm/rewrite-packages.ts and rewrite-xml.ts: the streaming rewrite of primary, filelists and other.
import { describe, expect, it } from "vitest";
import { LimitExceededError } from "../../../core/compress/decompress.js";
import { rewritePackageList, type PackageListType } from "../../../core/rpm/rewrite-packages.js";
import { XmlRewriteError } from "../../../core/rpm/xml-tokens.js";
import { parsePrimary } from "../../../core/rpm/primary.js";
import { rejection } from "../../helpers/assert.js";

const A = "aa".repeat(32);
const B = "bb".repeat(32);
const C = "cc".repeat(32);

const primaryPkg = (sum: string, name: string, extra = "") =>
  `<package type="rpm">\n  <name>${name}</name>\n  <arch>noarch</arch>\n  <version epoch="0" ver="1" rel="1"/>\n  <checksum type="sha256" pkgid="YES">${sum}</checksum>\n  <size package="1"/>\n  <location href="${name}.rpm"/>${extra}\n</package>`;

const primary = (...pkgs: string[]) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${pkgs.length}">\n${pkgs.join("\n")}\n</metadata>\n`;

const filelists = (...pkgs: [string, string][]) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="${pkgs.length}">\n${pkgs
    .map(
      ([id, name]) =>
        `<package pkgid="${id}" name="${name}" arch="noarch">\n  <version epoch="0" ver="1" rel="1"/>\n  <file>/usr/bin/${name}</file>\n</package>`,
    )
    .join("\n")}\n</filelists>\n`;

async function* chunks(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function rewrite(text: string, type: PackageListType, kept: string[], chunk = 7, limits: object = {}): Promise<string> {
  let out = "";
  for await (const s of rewritePackageList(chunks(text, chunk), { type, label: `${type}.xml`, kept: new Set(kept), ...limits })) out += s;
  return out;
}

describe("rewritePackageList", () => {
  const cases: { name: string; type: PackageListType; input: string; kept: string[]; expected: string }[] = [
    {
      name: "primary: keeps the kept elements verbatim and sets packages=",
      type: "primary",
      input: primary(primaryPkg(A, "a"), primaryPkg(B, "b"), primaryPkg(C, "c")),
      kept: [A, C],
      expected: primary(primaryPkg(A, "a"), primaryPkg(C, "c")),
    },
    {
      name: "primary: nothing kept",
      type: "primary",
      input: primary(primaryPkg(A, "a"), primaryPkg(B, "b")),
      kept: [],
      // The whitespace before a dropped element goes with it.
      expected: primary().replace(">\n\n</metadata>", ">\n</metadata>"),
    },
    {
      name: "primary: CDATA, entities and non-ASCII text are copied as written",
      type: "primary",
      input: primary(primaryPkg(A, "a", "\n  <description><![CDATA[<b>x</b> & ü]]> &amp; &#233; &lt;</description>"), primaryPkg(B, "b")),
      kept: [A],
      expected: primary(primaryPkg(A, "a", "\n  <description><![CDATA[<b>x</b> & ü]]> &amp; &#233; &lt;</description>")),
    },
    {
      name: "primary: a package listed twice is written once",
      type: "primary",
      input: primary(primaryPkg(A, "a"), primaryPkg(A, "a")),
      kept: [A],
      expected: primary(primaryPkg(A, "a")),
    },
    {
      name: "filelists: by pkgid attribute",
      type: "filelists",
      input: filelists([A, "a"], [B, "b"]),
      kept: [B],
      expected: filelists([B, "b"]),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      for (const size of [1, 7, 4096]) expect(await rewrite(c.input, c.type, c.kept, size)).toBe(c.expected);
    });
  }

  it("leaves the caller's kept set as it was (it deletes from its own copy)", async () => {
    const kept = new Set([A, C]);
    let out = "";
    for await (const s of rewritePackageList(chunks(primary(primaryPkg(A, "a"), primaryPkg(C, "c")), 7), { type: "primary", label: "primary.xml", kept }))
      out += s;
    expect(out).toBe(primary(primaryPkg(A, "a"), primaryPkg(C, "c")));
    expect([...kept]).toEqual([A, C]);
  });

  it("writes a primary that the parser reads back with exactly the kept packages", async () => {
    const out = await rewrite(primary(primaryPkg(A, "a"), primaryPkg(B, "b"), primaryPkg(C, "c")), "primary", [B]);
    const names: string[] = [];
    for await (const p of parsePrimary(chunks(out, 100))) names.push(p.name);
    expect(names).toEqual(["b"]);
  });

  const hostile: { name: string; type: PackageListType; input: string; error: unknown; message: RegExp; limits?: object }[] = [
    {
      name: "a <package> without a checksum",
      type: "primary",
      input: primary("<package><name>x</name></package>"),
      error: XmlRewriteError,
      message: /without a <checksum>/,
    },
    {
      name: "a filelists <package> without pkgid",
      type: "filelists",
      input: '<filelists packages="1"><package name="x"/></filelists>',
      error: XmlRewriteError,
      message: /without a pkgid/,
    },
    {
      name: "a nesting bomb",
      type: "primary",
      input: primary(`<package>${"<a>".repeat(100)}${"</a>".repeat(100)}</package>`),
      error: LimitExceededError,
      message: /levels of nesting/,
    },
    {
      name: "a DOCTYPE (entity expansion)",
      type: "primary",
      input: `<!DOCTYPE x [<!ENTITY a "aaaa">]>${primary()}`,
      error: XmlRewriteError,
      message: /DOCTYPE/,
    },
    {
      name: "mismatched tags",
      type: "primary",
      input: primary(primaryPkg(A, "a").replace("</name>", "</nam>")),
      error: XmlRewriteError,
      message: /not well-formed/,
    },
    { name: "the wrong root", type: "primary", input: filelists([A, "a"]), error: XmlRewriteError, message: /not <metadata>/ },
    { name: "a truncated document", type: "primary", input: primary(primaryPkg(A, "a")).slice(0, 200), error: XmlRewriteError, message: /./ },
    { name: "an empty document", type: "primary", input: "", error: XmlRewriteError, message: /empty/ },
    {
      name: "an element larger than the limit",
      type: "primary",
      input: primary(primaryPkg(A, "a", `<description>${"x".repeat(5000)}</description>`)),
      error: LimitExceededError,
      message: /characters in one <package>/,
      limits: { maxElementChars: 1000 },
    },
    { name: "a kept package the document does not list", type: "filelists", input: filelists([A, "a"]), error: XmlRewriteError, message: /not listed/ },
  ];
  for (const h of hostile) {
    it(`refuses ${h.name}`, async () => {
      const kept = h.name.startsWith("a kept") ? [A, B] : [A];
      const err = await rejection(rewrite(h.input, h.type, kept, 64, h.limits ?? {}));
      expect(err).toBeInstanceOf(h.error);
      expect(String((err as Error).message)).toMatch(h.message);
    });
  }
});

describe("rewriteInWorker", () => {
  it("writes what the in-thread rewrite writes, and its errors arrive as the same classes", async () => {
    const { rewriteInWorker } = await import("../../../core/rpm/rewrite-thread.js");
    const input = primary(primaryPkg(A, "a"), primaryPkg(B, "b"), primaryPkg(C, "c"));
    const opts = { kind: "primary" as const, compression: "none" as const, label: "primary.xml", maxOutputBytes: 1e7, kept: [A, C] };
    let out = "";
    for await (const s of rewriteInWorker(chunks(input, 5), opts)) out += s;
    expect(out).toBe(await rewrite(input, "primary", [A, C]));

    const noChecksum = rejection(
      (async () => {
        for await (const _ of rewriteInWorker(chunks(primary("<package><name>x</name></package>"), 64), opts));
      })(),
    );
    expect(await noChecksum).toBeInstanceOf(XmlRewriteError);
    const bomb = rejection(
      (async () => {
        for await (const _ of rewriteInWorker(chunks(primary(`<package>${"<a>".repeat(100)}</package>`), 64), opts));
      })(),
    );
    expect(await bomb).toBeInstanceOf(LimitExceededError);
  });
});
