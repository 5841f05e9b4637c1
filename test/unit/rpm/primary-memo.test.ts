// Tests of core/rpm/primary-memo.ts and parsePrimary's memo: a parse that reuses an earlier parse's elements finds
// exactly the packages (or the error) of a whole parse, whatever the document does to the scan's idea of an element.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PRIMARY_LIMITS, parsePrimary, type MemoRecord, type ParsePrimaryOptions, type PrimaryPackage } from "../../../core/rpm/primary.js";
import { memoFingerprint, PackageMemo, readMemo, writeMemo } from "../../../core/rpm/primary-memo.js";
import { syntheticPackageXml } from "../../helpers/rpm-fixtures.js";

const HEAD = `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="3">\n`;
const SHA = "ab".repeat(32);
const inner = (name: string, extra = ""): string =>
  `<name>${name}</name><arch>noarch</arch><version epoch="0" ver="1.0" rel="1"/><checksum type="sha256" pkgid="YES">${SHA}</checksum><size package="12"/><location href="${name}.rpm"/>${extra}`;
const pkg = (name: string, extra = "", type = "rpm"): string => `<package type="${type}">${inner(name, extra)}</package>\n`;

async function* inChunks(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** The packages, or the error's class and message. */
async function outcome(xml: string, opts: ParsePrimaryOptions = {}, chunkSize = 4096): Promise<PrimaryPackage[] | string> {
  const out: PrimaryPackage[] = [];
  try {
    for await (const p of parsePrimary(inChunks(xml, chunkSize), opts)) out.push(p);
    return out;
  } catch (err) {
    return `${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
}

/** The memo a parse of `xml` records. */
async function learned(xml: string): Promise<PackageMemo> {
  const memo = new PackageMemo();
  await outcome(xml, { memo });
  return new PackageMemo(new Map(memo.records()));
}

/** A primary.xml of `n` synthetic packages (createrepo_c's layout: indented, one element per line). */
function syntheticPrimaryXml(n: number): string {
  let xml = HEAD.replace('packages="3"', `packages="${n}"`);
  for (let i = 0; i < n; i++) xml += syntheticPackageXml(i);
  return `${xml}</metadata>\n`;
}

const E = pkg("inside");
// Documents that tempt the scan ("<package" to the first "</package>") to cut an element wrongly, or that it must not
// read by elements at all; each is parsed whole, with an empty memo, with its own and with another document's memo.
const documents: [string, string][] = [
  ["synthetic packages, one per line group", syntheticPrimaryXml(40)],
  ["entities, CDATA and multi-byte text in a name", `${HEAD}${pkg("h&amp;é€😀<![CDATA[x]]>")}${pkg("b")}</metadata>`],
  ["a package of another type, skipped", `${HEAD}${pkg("a")}${pkg("b", "", "src-other")}${pkg("c")}</metadata>`],
  ["xml:base on a location", `${HEAD}${pkg("a").replace('<location href="a.rpm"/>', '<location xml:base="http://m.test/x/" href="a.rpm"/>')}</metadata>`],
  ["CDATA holding </package> in a description", `${HEAD}${pkg("a", "<description><![CDATA[x</package>y]]></description>")}${pkg("b")}</metadata>`],
  ["a comment holding </package> inside a package", `${HEAD}${pkg("a", "<!-- </package> -->")}${pkg("b")}</metadata>`],
  ["a whole element inside a CDATA section", `${HEAD}${pkg("outer", `<description><![CDATA[${E}]]></description>`)}${E}</metadata>`],
  ["a whole element inside a comment between packages", `${HEAD}${pkg("a")}<!-- ${E} -->${E}</metadata>`],
  ["a comment before the first package", `${HEAD}<!-- ${E} -->${E}</metadata>`],
  ["a DTD before <metadata>", `<?xml version="1.0"?><!DOCTYPE metadata>${HEAD.split("\n")[1]}${E}${pkg("b")}</metadata>`],
  ["a closing tag with a space", `${HEAD}<package type="rpm">${inner("a")}</package >${pkg("b")}</metadata>`],
  ["a nested <package> in <format>", `${HEAD}${pkg("a", "<format><package><name>no</name></package></format>")}${pkg("b")}</metadata>`],
  ["text between packages", `${HEAD}${pkg("a")}junk${pkg("b")}</metadata>`],
  ["a <packages> element, not a package", `${HEAD}<packages/>${pkg("a")}</metadata>`],
  [
    "a namespace prefix on the elements",
    `<c:metadata xmlns:c="http://linux.duke.edu/metadata/common">${pkg("a").replaceAll("<package", "<c:package").replaceAll("</package", "</c:package")}</c:metadata>`,
  ],
  ["a self-closing package (no name: refused)", `${HEAD}<package/>${pkg("a")}</metadata>`],
  ["a package without a checksum (refused)", `${HEAD}${pkg("a")}${pkg("b").replace(/<checksum.*<\/checksum>/, "")}</metadata>`],
  ["malformed XML after good packages (the error's line)", `${HEAD}${pkg("a")}\n\n${pkg("b")}\n${pkg("c").replace("</name>", "</nam>")}</metadata>`],
  [
    "malformed XML after multi-line packages (the error's line and column)",
    syntheticPrimaryXml(5).replace("</metadata>", `${pkg("c").replace("</name>", "</nam>")}</metadata>`),
  ],
  ["a truncated document", `${HEAD}${pkg("a")}${pkg("b")}<package type="rpm"><name>c`],
  ["no root element", ""],
];

describe("parsePrimary with a memo finds what a whole parse finds", () => {
  const other = syntheticPrimaryXml(5) + E;
  it.each(documents)("%s", async (_what, xml) => {
    const whole = await outcome(xml);
    for (const chunkSize of [4096, 7, 1]) {
      expect(await outcome(xml, { memo: new PackageMemo() }, chunkSize)).toEqual(whole);
      expect(await outcome(xml, { memo: await learned(xml) }, chunkSize)).toEqual(whole);
    }
    // Elements learned in one context (a clean document) reused in another (inside a CDATA, a comment).
    const memo = await learned(`${HEAD}${E}${pkg("a")}${pkg("b")}</metadata>`);
    expect(await outcome(xml, { memo })).toEqual(whole);
    expect(await outcome(other, { memo })).toEqual(await outcome(other));
  });

  it("reuses every unchanged element of a changed document, and only those", async () => {
    const before = syntheticPrimaryXml(100);
    const memo = await learned(before);
    expect(memo.hits).toBe(0);
    // One package changed, one removed, two added.
    const after = before
      .replace(syntheticPackageXml(10), syntheticPackageXml(10).replace("friends", "others"))
      .replace(syntheticPackageXml(20), "")
      .replace("</metadata>", `${syntheticPackageXml(100)}${syntheticPackageXml(101)}</metadata>`);
    const whole = await outcome(after);
    expect(await outcome(after, { memo })).toEqual(whole);
    expect(memo.hits).toBe(98);
    // What it records is this document's elements: 98 reused and 3 parsed, not the removed one.
    expect(memo.size).toBe(101);
  });

  it("counts reused packages and elements against the limits", async () => {
    const xml = syntheticPrimaryXml(11);
    const memo = await learned(xml);
    const err = await outcome(xml, { memo, maxPackages: 10 });
    expect(err).toMatch(/^LimitExceededError: .*more than 10 packages \(limit maxPackages\)/);
    expect(memo.hits).toBe(11); // the 11th found, and refused
    expect(await outcome(xml, { memo: await learned(xml), maxElements: 50 })).toMatch(/limit maxElements/);
  });

  it("keeps at most maxRecords elements (the thread's heap is small): beyond, it overflows, and the parse is unchanged", async () => {
    const xml = syntheticPrimaryXml(10);
    const memo = new PackageMemo(new Map(), 4);
    expect(await outcome(xml, { memo })).toEqual(await outcome(xml));
    expect(memo.size).toBe(4);
    expect(memo.overflow).toBe(true);
    const fits = new PackageMemo(new Map(), 10);
    await outcome(xml, { memo: fits });
    expect(fits.overflow).toBe(false);
  });

  it("a parse with dependencies reads every element (the memo holds none)", async () => {
    const xml = syntheticPrimaryXml(5);
    const memo = await learned(xml);
    const withDeps = await outcome(xml, { withDependencies: true });
    expect(await outcome(xml, { withDependencies: true, memo })).toEqual(withDeps);
    expect(memo.hits).toBe(0);
  });

  it("an element longer than the scan holds is read without the memo", async () => {
    const big = pkg("big", `<description>${"x".repeat(5 * 1024 * 1024)}</description>`);
    const xml = `${HEAD}${pkg("a")}${big}${pkg("b")}</metadata>`;
    const memo = await learned(xml);
    const whole = await outcome(xml, { maxTextLength: 8 * 1024 * 1024 });
    expect(await outcome(xml, { memo, maxTextLength: 8 * 1024 * 1024 }, 65536)).toEqual(whole);
    expect(memo.hits).toBe(1); // "a"; after the long element the rest is read by saxes alone
  });
});

describe("the memo file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "chantal-memo-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const fingerprint = memoFingerprint(DEFAULT_PRIMARY_LIMITS);

  it("is read back as written, and only the elements of the last document", async () => {
    const xml = syntheticPrimaryXml(20);
    const memo = new PackageMemo();
    await outcome(xml, { memo });
    const file = join(dir, "sub", "repo.json");
    await writeMemo(file, fingerprint, memo);
    const back = await readMemo(file, fingerprint);
    expect(back.size).toBe(20);
    const again = new PackageMemo(back);
    expect(await outcome(xml, { memo: again })).toEqual(await outcome(xml));
    expect(again.hits).toBe(20);
  });

  it.each<[string, (text: string) => string]>([
    ["another fingerprint (format or limits)", (t) => t.replace(fingerprint, "chantal-primary-memo/0 text=1 depth=1")],
    ["truncated", (t) => t.slice(0, t.length / 2)],
    ["a record of the wrong shape", (t) => t.replace(/\["[^"]+",\[\d+,"pkg0",/, '["k",["x","pkg0",')],
    ["an unknown checksum type", (t) => t.replace('"sha256"', '"md5"')],
    ["not JSON at all", () => "\u0000garbage"],
  ])("%s: ignored (an empty memo, a whole parse)", async (_what, damage) => {
    const memo = new PackageMemo();
    await outcome(syntheticPrimaryXml(3), { memo });
    const file = join(dir, "damaged.json");
    await writeMemo(file, fingerprint, memo);
    const text = await readFile(file, "utf8");
    const damaged = damage(text);
    expect(damaged).not.toBe(text);
    await writeFile(file, damaged);
    expect((await readMemo(file, fingerprint)).size).toBe(0);
  });

  it("a missing file is an empty memo", async () => {
    expect((await readMemo(join(dir, "none.json"), fingerprint)).size).toBe(0);
  });

  it("records hold copies, and a skipped element's record is its element count alone", async () => {
    const memo = new PackageMemo();
    await outcome(`${HEAD}${pkg("a", "", "other")}${pkg("b")}</metadata>`, { memo });
    const records = [...memo.records()].map(([, r]) => r) as MemoRecord[];
    expect(records[0]).toEqual([7]);
    expect(records[1]!.slice(1, 3)).toEqual(["b", "noarch"]);
  });
});
