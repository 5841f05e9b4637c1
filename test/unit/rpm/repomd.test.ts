// Tests of core/rpm/repomd.ts.
import { describe, expect, it } from "vitest";
import { ChecksumRefusedError, MAX_REPOMD_BYTES, parseRepomd, RepomdError } from "../../../core/rpm/repomd.js";
import { LimitExceededError } from "../../../core/compress/decompress.js";

const SHA256 = "a".repeat(64);
const SHA1 = "b".repeat(40);
const SHA512 = "c".repeat(128);
const SHA384 = "d".repeat(96);

function repomd(dataBlocks: string, head = "<revision>1700000000</revision>"): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  ${head}
  ${dataBlocks}
</repomd>
`;
}

function data(type: string, inner: string): string {
  return `<data type="${type}">${inner}</data>`;
}

const PRIMARY = data(
  "primary",
  `
    <checksum type="sha256">${SHA256}</checksum>
    <open-checksum type="sha256">${"e".repeat(64)}</open-checksum>
    <location href="repodata/${SHA256}-primary.xml.gz"/>
    <timestamp>1700000001</timestamp>
    <size>1234</size>
    <open-size>56789</open-size>`,
);

function refusal(xml: string): Error {
  try {
    parseRepomd(xml);
  } catch (err) {
    return err as Error;
  }
  throw new Error("parseRepomd accepted it");
}

describe("parseRepomd", () => {
  it("reads revision and every <data> entry as createrepo_c writes them", () => {
    const filelists = data("filelists", `<checksum type="sha256">${"f".repeat(64)}</checksum><location href="repodata/x-filelists.xml.gz"/><size>10</size>`);
    const md = parseRepomd(repomd(PRIMARY + filelists));
    expect(md.revision).toBe("1700000000");
    expect(md.data).toEqual([
      {
        type: "primary",
        location: `repodata/${SHA256}-primary.xml.gz`,
        checksum: { algo: "sha256", value: SHA256 },
        openChecksum: { algo: "sha256", value: "e".repeat(64) },
        size: 1234,
        openSize: 56789,
        timestamp: 1700000001,
      },
      { type: "filelists", location: "repodata/x-filelists.xml.gz", checksum: { algo: "sha256", value: "f".repeat(64) }, size: 10 },
    ]);
  });

  it.each([
    ["sha", SHA1, "sha1"],
    ["sha1", SHA1, "sha1"],
    ["SHA256", SHA256, "sha256"],
    ["sha384", SHA384, "sha384"],
    ["sha512", SHA512, "sha512"],
  ])("accepts checksum type %s", (type, value, algo) => {
    const md = parseRepomd(repomd(data("primary", `<checksum type="${type}">${value.toUpperCase()}</checksum><location href="p.xml.gz"/>`)));
    expect(md.data[0]!.checksum).toEqual({ algo, value });
  });

  it("refuses an md5 checksum, naming the data type", () => {
    const err = refusal(repomd(data("primary", `<checksum type="md5">${"a".repeat(32)}</checksum><location href="p.xml.gz"/>`)));
    expect(err).toBeInstanceOf(ChecksumRefusedError);
    expect(err.message).toBe('repomd.xml: <data type="primary"> has an md5 checksum, which is not accepted');
  });

  it("refuses a missing checksum, naming the data type", () => {
    const err = refusal(repomd(data("other", `<location href="o.xml.gz"/><size>3</size>`)));
    expect(err).toBeInstanceOf(ChecksumRefusedError);
    expect(err.message).toBe('repomd.xml: <data type="other"> has no checksum, which is not accepted');
  });

  it.each([
    ["a checksum without a type", `<checksum>${SHA256}</checksum>`, /checksum without a type attribute/],
    ["an unknown algorithm", `<checksum type="sha224">${"a".repeat(56)}</checksum>`, /of type "sha224", which is not supported/],
    ["a value of the wrong length", `<checksum type="sha256">${"a".repeat(63)}</checksum>`, /malformed sha256 checksum/],
    ["a value that is not hex", `<checksum type="sha1">${"g".repeat(40)}</checksum>`, /malformed sha1 checksum/],
    ["an empty value", `<checksum type="sha256"></checksum>`, /malformed sha256 checksum/],
  ])("refuses %s", (_what, checksum, message) => {
    const err = refusal(repomd(data("primary", `${checksum}<location href="p.xml.gz"/>`)));
    expect(err).toBeInstanceOf(ChecksumRefusedError);
    expect(err.message).toMatch(/^repomd\.xml: <data type="primary">/);
    expect(err.message).toMatch(message);
  });

  it("drops an md5 open-checksum instead of failing: nothing is verified against it", () => {
    const md = parseRepomd(
      repomd(
        data("primary", `<checksum type="sha256">${SHA256}</checksum><open-checksum type="md5">${"a".repeat(32)}</open-checksum><location href="p.xml.gz"/>`),
      ),
    );
    expect(md.data[0]!.openChecksum).toBeUndefined();
  });

  it("records xml:base of <location>", () => {
    const md = parseRepomd(
      repomd(data("primary", `<checksum type="sha256">${SHA256}</checksum><location xml:base="http://mirror.test/base/" href="repodata/p.xml.gz"/>`)),
    );
    expect(md.data[0]).toMatchObject({ location: "repodata/p.xml.gz", locationBase: "http://mirror.test/base/" });
  });

  it("reads a document with a namespace prefix, a BOM and comments", () => {
    const xml = `\ufeff<?xml version="1.0"?><repo:repomd xmlns:repo="http://linux.duke.edu/metadata/repo"><!-- c --><repo:data type="primary"><repo:checksum type="sha256"><![CDATA[${SHA256}]]></repo:checksum><repo:location href="p.xml.gz"/></repo:data></repo:repomd>`;
    const md = parseRepomd(Buffer.from(xml, "utf8"));
    expect(md.data).toEqual([{ type: "primary", location: "p.xml.gz", checksum: { algo: "sha256", value: SHA256 } }]);
    expect(md.revision).toBeUndefined();
  });

  it("ignores elements it does not know (tags, database_version, header-checksum)", () => {
    const xml = repomd(
      data("primary_db", `<checksum type="sha256">${SHA256}</checksum><location href="p.sqlite.bz2"/><database_version>10</database_version>`),
      '<revision>7</revision><tags><content>binary-x86_64</content><distro cpeid="cpe:/o:x">X</distro></tags>',
    );
    const md = parseRepomd(xml);
    expect(md.revision).toBe("7");
    expect(md.data.map((d) => d.type)).toEqual(["primary_db"]);
  });

  it.each([
    ["the wrong root element", `<metadata/>`, /root element is <metadata>, not <repomd>/],
    ["malformed XML", `<repomd><data type="primary">`, /not well-formed XML/],
    ["text that is not XML", `hello`, /not well-formed XML/],
    ["a <data> without type", repomd(`<data><checksum type="sha256">${SHA256}</checksum><location href="p"/></data>`), /has no type attribute/],
    ["a duplicate <data> type", repomd(PRIMARY + PRIMARY), /<data type="primary"> appears twice/],
    ["a <data> without location", repomd(data("primary", `<checksum type="sha256">${SHA256}</checksum>`)), /has no <location href>/],
    [
      "a size that is not a number",
      repomd(data("primary", `<checksum type="sha256">${SHA256}</checksum><location href="p"/><size>-1</size>`)),
      /<size> is not a non-negative integer/,
    ],
    ["an entity it cannot expand", `<!DOCTYPE r [<!ENTITY x "y">]><repomd>&x;</repomd>`, /not well-formed XML/],
  ])("refuses %s with RepomdError", (_what, xml, message) => {
    const err = refusal(xml);
    expect(err).toBeInstanceOf(RepomdError);
    expect(err.message).toMatch(message);
  });

  it("refuses a document larger than any repomd.xml", () => {
    const huge = repomd(PRIMARY) + " ".repeat(MAX_REPOMD_BYTES);
    expect(() => parseRepomd(huge)).toThrow(LimitExceededError);
  });
});
