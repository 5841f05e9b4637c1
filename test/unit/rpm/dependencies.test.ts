// Tests of core/rpm/dependencies.ts and parsePrimary's withDependencies: rpm dependency data as the filter's model.
import { describe, expect, it } from "vitest";
import { parsePrimary, type PrimaryPackage } from "../../../core/rpm/primary.js";
import { dependenciesOf, filterPackageOf, requirementOf, unresolvedFileRequirements } from "../../../core/rpm/dependencies.js";

const SHA = "ab".repeat(32);
const DOC = `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
<package type="rpm"><name>a</name><arch>x86_64</arch><version epoch="1" ver="2.0" rel="3"/>
<checksum type="sha256" pkgid="YES">${SHA}</checksum><location href="a.rpm"/>
<format>
  <rpm:provides><rpm:entry name="a" flags="EQ" epoch="1" ver="2.0" rel="3"/><rpm:entry name="virtual-a"/></rpm:provides>
  <rpm:requires>
    <rpm:entry name="b" flags="GE" epoch="0" ver="1.5"/>
    <rpm:entry name="/usr/bin/c" pre="1"/>
    <rpm:entry name="rpmlib(CompressedFileNames)" flags="LE" epoch="0" ver="3.0.4" rel="1"/>
    <rpm:entry name="(d or e)"/>
  </rpm:requires>
  <rpm:conflicts><rpm:entry name="z"/></rpm:conflicts>
  <file>/usr/bin/a</file>
  <file type="dir">/etc/a</file>
</format>
</package>
</metadata>`;

async function* one(text: string): AsyncGenerator<string> {
  yield text;
}

async function parse(withDependencies: boolean): Promise<PrimaryPackage[]> {
  const out: PrimaryPackage[] = [];
  for await (const p of parsePrimary(one(DOC), { withDependencies })) out.push(p);
  return out;
}

describe("rpm dependency data", () => {
  it("is not collected without withDependencies", async () => {
    expect((await parse(false))[0]!.deps).toBeUndefined();
  });

  it("maps provides, requires (pre kept, rpmlib dropped, rich approximate) and files", async () => {
    const [p] = await parse(true);
    const deps = dependenciesOf(p!.deps!);
    expect(deps.provides).toEqual([{ name: "a", op: "=", version: { epoch: 1, version: "2.0", release: "3" } }, { name: "virtual-a" }]);
    expect(deps.requires).toEqual([
      { alternatives: [{ name: "b", op: ">=", version: { epoch: 0, version: "1.5", release: "" } }], text: "b >= 1.5" },
      { alternatives: [{ name: "/usr/bin/c" }], text: "/usr/bin/c" },
      { alternatives: [{ name: "d" }, { name: "e" }], approximate: true, text: "(d or e)" },
    ]);
    expect(deps.files).toEqual(["/usr/bin/a", "/etc/a"]);
    expect(filterPackageOf(p!, deps)).toMatchObject({ name: "a", arch: "x86_64", source: false, version: { epoch: 1, version: "2.0", release: "3" } });
    expect(unresolvedFileRequirements([deps])).toEqual(new Set(["/usr/bin/c"]));
  });

  it.each([
    ["LT", "<"],
    ["LE", "<="],
    ["EQ", "="],
    ["GE", ">="],
    ["GT", ">"],
  ])("maps rpm flag %s to %s", (flags, op) => {
    expect(requirementOf({ name: "x", flags, ver: "1" }).alternatives[0]!.op).toBe(op);
  });

  it("marks src and nosrc packages as sources", () => {
    for (const arch of ["src", "nosrc"]) expect(filterPackageOf({ name: "x", arch, epoch: 0, version: "1", release: "1" }).source).toBe(true);
  });
});

describe("the primary worker with withDependencies", () => {
  it("sends each package's dependency data in the filter's model, and none without it", async () => {
    const { parsePrimaryInWorker } = await import("../../../core/rpm/primary-thread.js");
    const opts = { compression: "none" as const, label: "primary.xml", maxOutputBytes: 1e7, maxPackages: 10, repoUrl: "http://127.0.0.1/r/" };
    const read = async (withDependencies: boolean) => {
      const out = [];
      for await (const p of parsePrimaryInWorker(one(DOC), { ...opts, withDependencies })) out.push(p);
      return out;
    };
    expect((await read(false))[0]!.deps).toBeUndefined();
    const [p] = await read(true);
    expect(p!.deps!.requires.map((r) => r.text)).toEqual(["b >= 1.5", "/usr/bin/c", "(d or e)"]);
    expect(p!.deps!.files).toEqual(["/usr/bin/a", "/etc/a"]);
  });
});
