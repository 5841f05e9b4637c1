// Tests of the curated mirror's other rewrites: updateinfo (rewrite-updateinfo.ts), modules.yaml (rewrite-modules.ts), repomd.xml (repomd-write.ts).
import { describe, expect, it } from "vitest";
import { filterAdvisory, rewriteUpdateinfo, type KeptFiles } from "../../../core/rpm/rewrite-updateinfo.js";
import { rewriteModules } from "../../../core/rpm/rewrite-modules.js";
import { writeRepomd } from "../../../core/rpm/repomd-write.js";
import { parseRepomd } from "../../../core/rpm/repomd.js";
import { rejection } from "../../helpers/assert.js";
import { XmlRewriteError } from "../../../core/rpm/xml-tokens.js";

const kept: KeptFiles = { nevras: new Set(["a-0:1-1.noarch", "b-2:3-4.x86_64"]), filenames: new Set(["c-1-1.noarch.rpm"]) };

const pkg = (name: string, epoch: string, version: string, release: string, arch: string, filename?: string) =>
  `\n        <package name="${name}" epoch="${epoch}" version="${version}" release="${release}" arch="${arch}">${filename ? `<filename>${filename}</filename>` : ""}</package>`;
const advisory = (...pkgs: string[]) =>
  `<update type="security"><id>X</id><description><![CDATA[a <b> & c]]></description><pkglist><collection short="s">${pkgs.join("")}\n      </collection></pkglist></update>`;

async function* from(...items: (string | Buffer)[]): AsyncGenerator<string | Buffer> {
  yield* items;
}

describe("filterAdvisory", () => {
  const cases: { name: string; input: string; expected: string | undefined }[] = [
    { name: "all kept: unchanged", input: advisory(pkg("a", "0", "1", "1", "noarch")), expected: advisory(pkg("a", "0", "1", "1", "noarch")) },
    {
      name: "a dropped package goes, with its indentation",
      input: advisory(pkg("a", "0", "1", "1", "noarch"), pkg("z", "0", "1", "1", "noarch", "z-1-1.noarch.rpm")),
      expected: advisory(pkg("a", "0", "1", "1", "noarch")),
    },
    { name: "none kept: the advisory goes", input: advisory(pkg("z", "0", "1", "1", "noarch")), expected: undefined },
    { name: "by epoch too", input: advisory(pkg("b", "0", "3", "4", "x86_64")), expected: undefined },
    { name: "a missing epoch is 0", input: advisory(pkg("a", "", "1", "1", "noarch")), expected: advisory(pkg("a", "", "1", "1", "noarch")) },
    {
      name: "by the file name when the NEVRA does not match",
      input: advisory(pkg("c", "0", "9", "9", "noarch", "Packages/c-1-1.noarch.rpm")),
      expected: advisory(pkg("c", "0", "9", "9", "noarch", "Packages/c-1-1.noarch.rpm")),
    },
  ];
  for (const c of cases) it(c.name, () => expect(filterAdvisory(c.input, kept, "updateinfo.xml")).toBe(c.expected));

  it("streams a whole document and refuses a DOCTYPE", async () => {
    const doc = `<?xml version="1.0"?>\n<updates>\n  ${advisory(pkg("a", "0", "1", "1", "noarch"))}\n  ${advisory(pkg("z", "0", "1", "1", "noarch"))}\n</updates>\n`;
    let out = "";
    for await (const s of rewriteUpdateinfo(from(Buffer.from(doc)), kept, "u")) out += s;
    expect(out).toBe(`<?xml version="1.0"?>\n<updates>\n  ${advisory(pkg("a", "0", "1", "1", "noarch"))}\n</updates>\n`);
    const err = await rejection(
      (async () => {
        for await (const _ of rewriteUpdateinfo(from(`<!DOCTYPE u [<!ENTITY x "y">]><updates/>`), kept, "u"));
      })(),
    );
    expect(err).toBeInstanceOf(XmlRewriteError);
  });
});

const stream = (name: string, stream: string, rpms: string[]) =>
  `---\ndocument: modulemd\nversion: 2\ndata:\n  name: ${name}\n  stream: "${stream}"\n  version: 1\n  context: c\n  artifacts:\n    rpms:\n${rpms.map((r) => `    - ${r}`).join("\n")}\n...\n`;
const defaults = (name: string) => `---\ndocument: modulemd-defaults\nversion: 1\ndata:\n  module: ${name}\n  stream: "1"\n...\n`;

describe("rewriteModules", () => {
  it.each([
    { name: "a stream with every artifact kept stays", docs: [stream("m", "1", ["a-0:1-1.noarch"]), defaults("m")], keep: [0, 1], partial: [] },
    { name: "a stream with none kept goes, with its defaults", docs: [stream("m", "1", ["z-0:1-1.noarch"]), defaults("m")], keep: [], partial: [] },
    {
      name: "a stream with some kept stays (its packages stay modular) and is reported",
      docs: [stream("m", "1", ["a-0:1-1.noarch", "z-0:1-1.noarch"])],
      keep: [0],
      partial: ["m:1:1:c"],
    },
    {
      name: "source artifacts do not count",
      docs: [stream("m", "1", ["a-0:1-1.noarch", "a-0:1-1.src"]), stream("n", "1", ["n-0:1-1.src"])],
      keep: [0],
      partial: [],
    },
    {
      name: "defaults stay while any stream of the module does",
      docs: [stream("m", "1", ["z-0:1-1.noarch"]), stream("m", "2", ["a-0:1-1.noarch"]), defaults("m")],
      keep: [1, 2],
      partial: [],
    },
  ])("$name", ({ docs, keep, partial }) => {
    const r = rewriteModules(docs.join(""), kept.nevras, "modules.yaml");
    expect(r.text).toBe(keep.map((i) => docs[i]).join(""));
    expect(r.partial).toEqual(partial);
  });

  it("refuses invalid YAML and alias bombs", () => {
    expect(() => rewriteModules("---\ndocument: [\n...\n", kept.nevras, "m")).toThrow(/not valid YAML/);
    const bomb = `---\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n...\n`;
    expect(() => rewriteModules(bomb, kept.nevras, "m")).toThrow(/not valid YAML/);
  });
});

describe("writeRepomd", () => {
  it("writes a repomd.xml the parser reads back, the same bytes for the same input", () => {
    const entries = [
      {
        type: "primary",
        location: "repodata/x-primary.xml.gz",
        sha256: "ab".repeat(32),
        size: 10,
        openChecksum: { algo: "sha256", value: "cd".repeat(32) },
        openSize: 20,
        timestamp: 1700000000,
      },
    ];
    const bytes = writeRepomd("17 & <x>", entries);
    expect(writeRepomd("17 & <x>", entries)).toEqual(bytes);
    const parsed = parseRepomd(bytes);
    expect(parsed.revision).toBe("17 & <x>");
    expect(parsed.data).toEqual([
      {
        type: "primary",
        location: "repodata/x-primary.xml.gz",
        checksum: { algo: "sha256", value: "ab".repeat(32) },
        openChecksum: { algo: "sha256", value: "cd".repeat(32) },
        size: 10,
        openSize: 20,
        timestamp: 1700000000,
      },
    ]);
  });
});
