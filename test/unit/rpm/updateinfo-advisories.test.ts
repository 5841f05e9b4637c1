// Tests of core/rpm/updateinfo-advisories.ts: the advisories of an updateinfo.xml, read from chunks cut anywhere.
import { describe, expect, it } from "vitest";
import { readAdvisories } from "../../../core/rpm/updateinfo-advisories.js";

const DOC = `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="release-engineering@redhat.com" status="final" type="security" version="2">
    <id>RHSA-2026:0101</id>
    <title>Important: openssl security &amp; bug fix update</title>
    <issued date="2026-01-02 00:00:00"/>
    <severity>Important</severity>
    <references>
      <reference href="https://access.redhat.com/errata/RHSA-2026:0101" id="RHSA-2026:0101" title="RHSA-2026:0101" type="self"/>
    </references>
    <pkglist><collection short="rhel"><name>rhel</name><package name="openssl" version="3.0.7" release="25.el9" epoch="1" arch="x86_64"><filename>openssl-3.0.7-25.el9.x86_64.rpm</filename></package></collection></pkglist>
  </update>
  <update status="final" type="bugfix">
    <id>RHBA-2026:0102</id>
    <title><![CDATA[bash <bug> fix]]></title>
  </update>
  <update type="enhancement"><title>no id: skipped</title></update>
</updates>
`;

async function* chunksOf(s: string, size: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(s, "utf8");
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe("readAdvisories", () => {
  it.each([1, 7, 64, 100_000])("reads id, type, severity and title (chunks of %i bytes)", async (size) => {
    expect(await readAdvisories(chunksOf(DOC, size), "updateinfo.xml")).toEqual([
      { id: "RHSA-2026:0101", type: "security", severity: "Important", title: "Important: openssl security & bug fix update" },
      { id: "RHBA-2026:0102", type: "bugfix", severity: null, title: "bash <bug> fix" },
    ]);
  });

  it("keeps a character split between chunks and cuts a very long title", async () => {
    const long = "é".repeat(400);
    const [a] = await readAdvisories(chunksOf(`<updates><update type="x"><id>A-1</id><title>${long}</title></update></updates>`, 3), "u");
    expect(a!.title!.length).toBe(300);
    expect(a!.title!.startsWith("éééé")).toBe(true);
    expect(a!.title!.endsWith("…")).toBe(true);
  });
});
