// Tests of core/rpm/primary.ts.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compressionFromPath, decompressIterable, LimitExceededError } from "../../../core/compress/decompress.js";
import { AbortedError } from "../../../core/errors.js";
import { safeLocation } from "../../../core/mirror/location.js";
import { parsePrimary, PrimaryParseError, type ParsePrimaryOptions, type PrimaryPackage } from "../../../core/rpm/primary.js";
import { ChecksumRefusedError, parseRepomd } from "../../../core/rpm/repomd.js";
import { buildRpm, createRepo, syntheticPackageXml, syntheticPrimaryXml, syntheticSha256 } from "../../helpers/rpm-fixtures.js";
import { rejection } from "../../helpers/assert.js";
import { toolMissing } from "../../helpers/tools.js";

const HEAD = `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">\n`;
const SHA = "ab".repeat(32);

function pkg(inner: string, type = "rpm"): string {
  return `<package type="${type}">${inner}</package>\n`;
}

const MINIMAL = `<name>hello</name><arch>noarch</arch><version epoch="0" ver="1.0" rel="1"/><checksum type="sha256" pkgid="YES">${SHA}</checksum><size package="123"/><location href="hello-1.0-1.noarch.rpm"/>`;

async function* inChunks(text: string | Buffer, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function parseAll(xml: string | Buffer | AsyncIterable<Uint8Array>, opts: ParsePrimaryOptions = {}, chunkSize = 4096): Promise<PrimaryPackage[]> {
  const input = typeof xml === "string" || Buffer.isBuffer(xml) ? inChunks(xml, chunkSize) : xml;
  const out: PrimaryPackage[] = [];
  for await (const p of parsePrimary(input, opts)) out.push(p);
  return out;
}

describe("parsePrimary", () => {
  it("reads the fields of each package", async () => {
    const xml =
      HEAD +
      pkg(MINIMAL) +
      pkg(
        `<name>beta</name><arch>x86_64</arch><version epoch="3" ver="2.0~rc1" rel="4.el9"/><checksum type="sha" pkgid="YES">${"CD".repeat(20)}</checksum><size package="99" installed="1000"/><location xml:base="http://mirror.test/base/" href="Packages/b/beta.rpm"/>`,
      ) +
      "</metadata>";
    expect(await parseAll(xml)).toEqual([
      {
        name: "hello",
        arch: "noarch",
        epoch: 0,
        version: "1.0",
        release: "1",
        checksum: { algo: "sha256", value: SHA },
        pkgid: SHA,
        size: 123,
        location: "hello-1.0-1.noarch.rpm",
      },
      {
        name: "beta",
        arch: "x86_64",
        epoch: 3,
        version: "2.0~rc1",
        release: "4.el9",
        checksum: { algo: "sha1", value: "cd".repeat(20) },
        pkgid: "cd".repeat(20),
        size: 99,
        location: "Packages/b/beta.rpm",
        locationBase: "http://mirror.test/base/",
      },
    ]);
  });

  it("accepts the largest 32-bit epoch", async () => {
    expect((await parseAll(HEAD + pkg(MINIMAL.replace('epoch="0"', 'epoch="2147483647"')) + "</metadata>"))[0]!.epoch).toBe(2147483647);
  });

  it("takes a missing epoch as 0 and a missing size as unknown", async () => {
    const [p] = await parseAll(HEAD + pkg(MINIMAL.replace(' epoch="0"', "").replace('<size package="123"/>', "")) + "</metadata>");
    expect(p!.epoch).toBe(0);
    expect(p!.size).toBeUndefined();
  });

  it("ignores same-named elements inside <format> and unknown elements", async () => {
    const format = `<format><rpm:provides><rpm:entry name="x"/></rpm:provides><name>not-this</name><checksum type="md5">x</checksum><location href="../../evil"/><file>/usr/bin/x</file></format><extra><name>nor-this</name></extra>`;
    const [p] = await parseAll(HEAD + pkg(MINIMAL + format) + "</metadata>");
    expect(p).toMatchObject({ name: "hello", location: "hello-1.0-1.noarch.rpm", checksum: { algo: "sha256" } });
  });

  it("skips packages whose type is not rpm, as libsolv does", async () => {
    const out = await parseAll(HEAD + pkg(MINIMAL, "srpm-other") + pkg(MINIMAL) + "</metadata>");
    expect(out).toHaveLength(1);
  });

  it("decodes entities, CDATA and multi-byte UTF-8 split across 1-byte chunks", async () => {
    const xml = HEAD + pkg(MINIMAL.replace("<name>hello</name>", "<name>h&amp;é€😀<![CDATA[<x>]]></name>")) + "</metadata>";
    const [p] = await parseAll(xml, {}, 1);
    expect(p!.name).toBe("h&é€😀<x>");
  });

  it("accepts a BOM and a namespace prefix on the common namespace", async () => {
    const xml = `\ufeff<?xml version="1.0"?><c:metadata xmlns:c="http://linux.duke.edu/metadata/common"><c:package type="rpm"><c:name>n</c:name><c:arch>noarch</c:arch><c:version ver="1" rel="1"/><c:checksum type="sha256">${SHA}</c:checksum><c:location href="n.rpm"/></c:package></c:metadata>`;
    expect((await parseAll(xml)).map((p) => p.name)).toEqual(["n"]);
  });

  it("parses an empty repository", async () => {
    expect(await parseAll(`${HEAD.replace('packages="1"', 'packages="0"')}</metadata>`)).toEqual([]);
  });

  describe("refuses bad metadata with a message naming the package", () => {
    it("an md5 package checksum", async () => {
      const err = await rejection(
        parseAll(
          HEAD + pkg(MINIMAL.replace(`<checksum type="sha256" pkgid="YES">${SHA}`, `<checksum type="md5" pkgid="YES">${"a".repeat(32)}`)) + "</metadata>",
          { label: "p.xml" },
        ),
      );
      expect(err).toBeInstanceOf(ChecksumRefusedError);
      expect(err.message).toBe("p.xml: package hello-1.0-1.noarch has an md5 checksum, which is not accepted");
    });

    it.each([
      ["no name", MINIMAL.replace("<name>hello</name>", ""), /a <package> has no <name>/],
      ["no arch", MINIMAL.replace("<arch>noarch</arch>", ""), /package hello-1\.0-1 has no <arch>/],
      ["no version", MINIMAL.replace('<version epoch="0" ver="1.0" rel="1"/>', ""), /package hello\.noarch has no version/],
      ["no release", MINIMAL.replace(' rel="1"', ""), /package hello-1\.0\.noarch has no release/],
      ["no checksum", MINIMAL.replace(/<checksum.*<\/checksum>/, ""), /package hello-1\.0-1\.noarch has no <checksum>/],
      ["no location", MINIMAL.replace('<location href="hello-1.0-1.noarch.rpm"/>', ""), /has no <location href>/],
      ["a bad epoch", MINIMAL.replace('epoch="0"', 'epoch="x"'), /has an invalid epoch "x"/],
      ["a bad size", MINIMAL.replace('package="123"', 'package="-5"'), /has an invalid package size "-5"/],
      [
        "a 15-digit epoch (beyond rpm's and PostgreSQL's 32-bit integer)",
        MINIMAL.replace('epoch="0"', 'epoch="123456789012345"'),
        /package hello-1\.0-1\.noarch has an epoch 123456789012345 larger than 2147483647/,
      ],
      ["an epoch one past 2^31-1", MINIMAL.replace('epoch="0"', 'epoch="2147483648"'), /has an epoch 2147483648 larger than 2147483647/],
      [
        "a newline in <name>",
        MINIMAL.replace("<name>hello</name>", "<name>hel\nlo</name>"),
        /package "hel\\nlo-1\.0-1\.noarch" has whitespace or a control character in <name>: "hel\\nlo"/,
      ],
      ["a space in <arch>", MINIMAL.replace("<arch>noarch</arch>", "<arch>no arch</arch>"), /has whitespace or a control character in <arch>: "no arch"/],
      [
        "an encoded newline in the release",
        MINIMAL.replace('rel="1"', 'rel="1&#10;evil"'),
        /has whitespace or a control character in <version rel>: "1\\nevil"/,
      ],
    ])("%s", async (_what, inner, message) => {
      const err = await rejection(parseAll(HEAD + pkg(inner) + "</metadata>"));
      expect(err).toBeInstanceOf(PrimaryParseError);
      expect(err.message).toMatch(/^primary\.xml: /);
      expect(err.message).toMatch(message);
    });

    it.each([
      ["malformed XML", HEAD + pkg(MINIMAL).replace("</name>", "</nam>") + "</metadata>", /not well-formed XML/],
      ["a truncated document", HEAD + pkg(MINIMAL), /not well-formed XML/],
      ["another root element", `<repomd></repomd>`, /root element is <repomd>, not <metadata>/],
      ["an empty document", ``, /empty/],
      [
        "an undefined entity (no DTD expansion)",
        `<!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">]>${HEAD.split("\n")[1]}<package>&a;</package></metadata>`,
        /not well-formed XML/,
      ],
    ])("%s", async (_what, xml, message) => {
      const err = await rejection(parseAll(xml));
      expect(err).toBeInstanceOf(PrimaryParseError);
      expect(err.message).toMatch(message);
    });
  });

  describe("limits", () => {
    it("maxPackages", async () => {
      const err = await rejection(parseAll(syntheticPrimaryXml(11), { maxPackages: 10 }));
      expect(err).toBeInstanceOf(LimitExceededError);
      expect(err.message).toMatch(/more than 10 packages \(limit maxPackages\)/);
    });

    it("maxTextLength in an element we read", async () => {
      const err = await rejection(parseAll(HEAD + pkg(MINIMAL.replace("hello", "x".repeat(2000))) + "</metadata>", { maxTextLength: 1000 }));
      expect(err).toBeInstanceOf(LimitExceededError);
      expect((err as LimitExceededError).limit).toBe("maxTextLength");
    });

    it("maxTextLength for a token that never ends (a giant comment or attribute), without buffering it all", async () => {
      async function* endlessComment(): AsyncGenerator<Buffer> {
        yield Buffer.from(`${HEAD}<!-- `);
        const filler = Buffer.alloc(1024 * 1024, 0x61);
        for (let i = 0; i < 1024; i++) yield filler; // 1 GiB if it were all read
      }
      const err = await rejection(parseAll(endlessComment(), { maxTextLength: 1024 * 1024 }));
      expect(err).toBeInstanceOf(LimitExceededError);
      async function* endlessAttribute(): AsyncGenerator<Buffer> {
        yield Buffer.from(`${HEAD}<package type="`);
        const filler = Buffer.alloc(1024 * 1024, 0x61);
        for (let i = 0; i < 1024; i++) yield filler;
      }
      expect(await rejection(parseAll(endlessAttribute(), { maxTextLength: 1024 * 1024 }))).toBeInstanceOf(LimitExceededError);
    });

    it("maxElements", async () => {
      const err = await rejection(parseAll(syntheticPrimaryXml(100), { maxElements: 500 }));
      expect(err).toBeInstanceOf(LimitExceededError);
      expect((err as LimitExceededError).limit).toBe("maxElements");
    });

    it("maxDepth", async () => {
      const deep = HEAD + "<a>".repeat(100) + "</a>".repeat(100) + "</metadata>";
      const err = await rejection(parseAll(deep));
      expect(err).toBeInstanceOf(LimitExceededError);
      expect((err as LimitExceededError).limit).toBe("maxDepth");
    });
  });

  it("stops with AbortedError when the signal fires", async () => {
    const ac = new AbortController();
    let n = 0;
    const err = await rejection(
      (async () => {
        for await (const _p of parsePrimary(syntheticPrimaryXml(10_000), { signal: ac.signal })) if (++n === 100) ac.abort();
      })(),
    );
    expect(err).toBeInstanceOf(AbortedError);
  });

  it("reads its input only as fast as packages are consumed", async () => {
    let piecesPulled = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const piece of syntheticPrimaryXml(100_000, 50)) {
        piecesPulled++;
        yield piece;
      }
    }
    let taken = 0;
    for await (const _p of parsePrimary(counted())) if (++taken === 120) break;
    // 2000 pieces exist; reading 120 packages needs 3 or 4 of them.
    expect(piecesPulled).toBeLessThan(10);
  });

  it("parses 100,000 packages in a few seconds without memory growing with the document", async () => {
    const started = Date.now();
    let count = 0;
    let peakHeap = 0;
    let last: PrimaryPackage | undefined;
    for await (const p of parsePrimary(syntheticPrimaryXml(100_000))) {
      count++;
      last = p;
      if (count % 1000 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    }
    const elapsed = Date.now() - started;
    expect(count).toBe(100_000);
    expect(last).toMatchObject({ name: "pkg99999", checksum: { algo: "sha256", value: syntheticSha256(99_999) }, size: 100_999 });
    expect(elapsed).toBeLessThan(20_000);
    expect(peakHeap).toBeLessThan(150 * 1024 * 1024);
  }, 60_000);

  it("the synthetic package looks like createrepo_c output", () => {
    expect(syntheticPackageXml(5)).toMatch(/<location href="Packages\/5\/pkg5-1\.5\.5-6\.el9\.x86_64\.rpm"\/>/);
  });
});

describe.skipIf(toolMissing("rpmbuild") || toolMissing("createrepo_c"))("a real repository from rpmbuild and createrepo_c", () => {
  let dir: string;
  const built: { path: string; location: string; name: string; epoch: number; version: string; release: string }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "chantal-repo-"));
    const specs = [
      { name: "alpha", version: "1.0", release: "1", sub: "" },
      { name: "beta", version: "2.0~rc1", release: "3.el9", epoch: 2, sub: "Packages/b" },
      { name: "gamma", version: "1.0^git20240101", release: "1.fc40", sub: "Packages/g/deeper", payloadBytes: 200_000 },
      { name: "delta-devel", version: "10.2", release: "0.1", epoch: 0, sub: "" },
    ];
    for (const s of await Promise.all(
      specs.map(async (s) => ({
        s,
        path: await buildRpm({
          dir: join(dir, s.sub),
          name: s.name,
          version: s.version,
          release: s.release,
          ...(s.epoch !== undefined ? { epoch: s.epoch } : {}),
          ...(s.payloadBytes ? { payloadBytes: s.payloadBytes } : {}),
        }),
      })),
    )) {
      const file = `${s.s.name}-${s.s.version}-${s.s.release}.noarch.rpm`;
      built.push({
        path: s.path,
        location: s.s.sub ? `${s.s.sub}/${file}` : file,
        name: s.s.name,
        epoch: s.s.epoch ?? 0,
        version: s.s.version,
        release: s.s.release,
      });
    }
  }, 120_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const variants = [
    { checksum: "sha512", compress: "xz" },
    { checksum: "sha256", compress: "zstd" },
    { checksum: "sha256", compress: "gz" },
    { checksum: "sha1", compress: "bz2" },
  ] as const;

  it.each(variants)("checksum $checksum, metadata compressed with $compress", async ({ checksum, compress }) => {
    const repomdPath = await createRepo(dir, { checksum, compress });
    const repomd = parseRepomd(await readFile(repomdPath));
    expect(repomd.revision).toMatch(/^\d+$/);
    expect(repomd.data.map((d) => d.type).sort()).toEqual(["filelists", "other", "primary"]);
    const primary = repomd.data.find((d) => d.type === "primary")!;
    const location = safeLocation(primary.location, primary.locationBase);
    expect(compressionFromPath(location)).toBe(compress === "zstd" ? "zst" : compress);

    // The declared checksum and size are those of the file on disk.
    const primaryBytes = await readFile(join(dir, location));
    expect(primary.checksum.algo).toBe(checksum);
    expect(createHash(checksum).update(primaryBytes).digest("hex")).toBe(primary.checksum.value);
    expect(primary.size).toBe(primaryBytes.length);

    const packages: PrimaryPackage[] = [];
    const text = decompressIterable(createReadStream(join(dir, location)), compressionFromPath(location), {
      maxOutputBytes: 64 * 1024 * 1024,
      label: location,
    });
    for await (const p of parsePrimary(text, { label: location })) packages.push(p);

    expect(packages.map((p) => p.name).sort()).toEqual(built.map((b) => b.name).sort());
    for (const b of built) {
      const p = packages.find((x) => x.name === b.name)!;
      const rpm = await readFile(b.path);
      expect(p).toMatchObject({ arch: "noarch", epoch: b.epoch, version: b.version, release: b.release, size: (await stat(b.path)).size });
      expect(p.checksum).toEqual({ algo: checksum, value: createHash(checksum).update(rpm).digest("hex") });
      expect(p.pkgid).toBe(p.checksum.value);
      expect(safeLocation(p.location, p.locationBase)).toBe(b.location);
    }
  });
});
