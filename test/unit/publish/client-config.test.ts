// The client snippets (dnf .repo, sources.list, deb822 .sources) for each kind of published tree.
import { describe, expect, it } from "vitest";
import {
  aptDeb822,
  aptSourcesList,
  clientRepoName,
  formatClientConfig,
  publishedUrl,
  rpmRepoStanza,
  type PublishedTarget,
} from "../../../core/publish/client-config.js";
import { clientConfig } from "../../../core/publish/targets.js";

const rpm: PublishedTarget = { repoId: "rhel9-baseos", type: "rpm", name: "latest", path: "/srv/published/rhel9-baseos/latest" };
const apt: PublishedTarget = {
  repoId: "bookworm",
  type: "apt",
  name: "latest",
  path: "/srv/published/bookworm/latest",
  apt: { distribution: "bookworm", components: ["main", "contrib"], architectures: ["amd64", "arm64"], includeSources: false },
  signedBy: ["/etc/chantal/keys/debian.gpg"],
};

describe("publishedUrl", () => {
  it.each([
    ["http://mirror.internal/", "r1", "latest", "http://mirror.internal/r1/latest/"],
    ["http://mirror.internal", "r1", "latest", "http://mirror.internal/r1/latest/"],
    ["https://m.example/mirror/", "r1", "snapshots/2026-01", "https://m.example/mirror/r1/snapshots/2026-01/"],
    ["http://m/", "a+b", "latest", "http://m/a%2Bb/latest/"],
  ])("%s + %s/%s -> %s", (base, repoId, name, url) => {
    expect(publishedUrl(base, repoId, name)).toBe(url);
  });
});

describe("clientRepoName", () => {
  it.each([
    ["r1", "latest", "r1"],
    ["r1", "snapshots/v1", "r1-v1"],
  ])("%s %s -> %s", (repoId, name, out) => expect(clientRepoName(repoId, name)).toBe(out));
});

describe("rpmRepoStanza", () => {
  const url = "http://m/rhel9-baseos/latest/";
  it.each<[string, PublishedTarget, string]>([
    [
      "unsigned upstream: no gpg checks, and how to turn them on",
      rpm,
      "[rhel9-baseos]\nname=rhel9-baseos\nbaseurl=http://m/rhel9-baseos/latest/\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\n# the upstream does not sign repomd.xml: if its packages are signed, set gpgcheck=1 and gpgkey= to its key\n",
    ],
    [
      "signed with repomd.xml.key published: gpgkey from the mirror",
      { ...rpm, description: "RHEL 9\nBaseOS", rpmSignature: { asc: true, key: true } },
      "[rhel9-baseos]\nname=RHEL 9 BaseOS\nbaseurl=http://m/rhel9-baseos/latest/\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=http://m/rhel9-baseos/latest/repodata/repomd.xml.key\n",
    ],
    [
      "signed without a key file: gpgkey left to the admin",
      { ...rpm, rpmSignature: { asc: true, key: false } },
      "[rhel9-baseos]\nname=rhel9-baseos\nbaseurl=http://m/rhel9-baseos/latest/\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\n# the upstream publishes no repodata/repomd.xml.key: set gpgkey= to the URL or file:// path of its signing key\n",
    ],
    [
      "signed by the mirror, upstream key in the tree: repo_gpgcheck with the mirror's key, gpgcheck with the upstream's",
      { ...rpm, baseUrl: "http://m/", mirrorKey: { name: "chantal-mirror" }, rpmSignature: { asc: true, key: true } },
      "[rhel9-baseos]\nname=rhel9-baseos\nbaseurl=http://m/rhel9-baseos/latest/\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=http://m/rhel9-baseos/chantal-mirror.asc http://m/rhel9-baseos/latest/repodata/repomd.xml.key\n",
    ],
    [
      "signed by the mirror, no upstream key known: repo_gpgcheck only, and how to add the package key",
      { ...rpm, baseUrl: "http://m", mirrorKey: { name: "corp-key" }, rpmSignature: { asc: true, key: false } },
      "[rhel9-baseos]\nname=rhel9-baseos\nbaseurl=http://m/rhel9-baseos/latest/\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=1\ngpgkey=http://m/rhel9-baseos/corp-key.asc\n# repomd.xml is signed by the mirror; if the upstream signs its packages, set gpgcheck=1 and add its key to gpgkey=\n",
    ],
    [
      "rewritten by a filter without signing: no gpg checks of repomd.xml, and how to sign",
      { ...rpm, unsignedRewrite: true, rpmSignature: { asc: false, key: true } },
      "[rhel9-baseos]\nname=rhel9-baseos\nbaseurl=http://m/rhel9-baseos/latest/\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\n# the mirror rewrites this metadata (filter:) and has no signing: block, so it is unsigned: add one (chantal-run signing generate-key); if the upstream signs its packages, set gpgcheck=1 and gpgkey= to its key\n",
    ],
  ])("%s", (_, target, text) => {
    expect(rpmRepoStanza(target, url)).toEqual({ file: "/etc/yum.repos.d/rhel9-baseos.repo", text });
  });

  it("names a snapshot's repository after the snapshot", () => {
    const s = rpmRepoStanza({ ...rpm, name: "snapshots/v1" }, "http://m/rhel9-baseos/snapshots/v1/");
    expect(s.file).toBe("/etc/yum.repos.d/rhel9-baseos-v1.repo");
    expect(s.text).toMatch(/^\[rhel9-baseos-v1\]\nname=rhel9-baseos \(snapshot v1\)\nbaseurl=http:\/\/m\/rhel9-baseos\/snapshots\/v1\/\n/);
  });
});

describe("APT sources", () => {
  const url = "http://m/bookworm/latest/";
  const mirrorNote = [
    "# the mirror signs this suite with its own key; install it once on each client:",
    "#   sudo install -d -m 0755 /etc/apt/keyrings",
    "#   sudo curl -fsSL http://m/bookworm/chantal-mirror.gpg -o /etc/apt/keyrings/bookworm.gpg    (or: sudo wget -qO /etc/apt/keyrings/bookworm.gpg http://m/bookworm/chantal-mirror.gpg)",
    "",
  ].join("\n");
  const unsignedNote =
    "# the mirror rewrites this metadata (filter:) and has no signing: block, so it is unsigned: add one (chantal-run signing generate-key); apt refuses an unsigned suite\n";
  const note = "# signed-by names verify.keyring of this host: copy /etc/chantal/keys/debian.gpg to the same path on every client\n";
  it.each<[string, PublishedTarget, string, string]>([
    [
      "signed, binaries only",
      apt,
      `${note}deb [arch=amd64,arm64 signed-by=/etc/chantal/keys/debian.gpg] http://m/bookworm/latest/ bookworm main contrib\n`,
      `${note}Types: deb\nURIs: http://m/bookworm/latest/\nSuites: bookworm\nComponents: main contrib\nArchitectures: amd64 arm64\nSigned-By: /etc/chantal/keys/debian.gpg\n`,
    ],
    [
      "signed, with sources",
      { ...apt, apt: { ...apt.apt!, includeSources: true } },
      `${note}deb [arch=amd64,arm64 signed-by=/etc/chantal/keys/debian.gpg] http://m/bookworm/latest/ bookworm main contrib\ndeb-src [signed-by=/etc/chantal/keys/debian.gpg] http://m/bookworm/latest/ bookworm main contrib\n`,
      `${note}Types: deb deb-src\nURIs: http://m/bookworm/latest/\nSuites: bookworm\nComponents: main contrib\nArchitectures: amd64 arm64\nSigned-By: /etc/chantal/keys/debian.gpg\n`,
    ],
    [
      "no keyring: no Signed-By, and a warning",
      { ...apt, signedBy: undefined, apt: { ...apt.apt!, includeSources: true } },
      "# no verify.keyring is configured: add Signed-By (signed-by=) with the upstream's key, or apt refuses the unsigned suite\ndeb [arch=amd64,arm64] http://m/bookworm/latest/ bookworm main contrib\ndeb-src http://m/bookworm/latest/ bookworm main contrib\n",
      "# no verify.keyring is configured: add Signed-By (signed-by=) with the upstream's key, or apt refuses the unsigned suite\nTypes: deb deb-src\nURIs: http://m/bookworm/latest/\nSuites: bookworm\nComponents: main contrib\nArchitectures: amd64 arm64\n",
    ],
    [
      "a keyring directory: every key file",
      { ...apt, signedBy: ["/k/a.gpg", "/k/b.asc"] },
      "# signed-by names verify.keyring of this host: copy /k/a.gpg, /k/b.asc to the same path on every client\ndeb [arch=amd64,arm64 signed-by=/k/a.gpg,/k/b.asc] http://m/bookworm/latest/ bookworm main contrib\n",
      "# signed-by names verify.keyring of this host: copy /k/a.gpg, /k/b.asc to the same path on every client\nTypes: deb\nURIs: http://m/bookworm/latest/\nSuites: bookworm\nComponents: main contrib\nArchitectures: amd64 arm64\nSigned-By: /k/a.gpg /k/b.asc\n",
    ],
    [
      "signed by the mirror: Signed-By names the mirror's key under /etc/apt/keyrings, and how to fetch it",
      { ...apt, baseUrl: "http://m/", mirrorKey: { name: "chantal-mirror" }, apt: { ...apt.apt!, includeSources: true } },
      `${mirrorNote}deb [arch=amd64,arm64 signed-by=/etc/apt/keyrings/bookworm.gpg] http://m/bookworm/latest/ bookworm main contrib\ndeb-src [signed-by=/etc/apt/keyrings/bookworm.gpg] http://m/bookworm/latest/ bookworm main contrib\n`,
      `${mirrorNote}Types: deb deb-src\nURIs: http://m/bookworm/latest/\nSuites: bookworm\nComponents: main contrib\nArchitectures: amd64 arm64\nSigned-By: /etc/apt/keyrings/bookworm.gpg\n`,
    ],
    [
      "rewritten by a filter without signing: no Signed-By (the upstream's key no longer signs it), and why apt refuses it",
      { ...apt, unsignedRewrite: true },
      `${unsignedNote}deb [arch=amd64,arm64] http://m/bookworm/latest/ bookworm main contrib\n`,
      `${unsignedNote}Types: deb\nURIs: http://m/bookworm/latest/\nSuites: bookworm\nComponents: main contrib\nArchitectures: amd64 arm64\n`,
    ],
  ])("%s", (_, target, list, deb822) => {
    expect(aptSourcesList(target, url)).toEqual({ file: "/etc/apt/sources.list.d/bookworm.list", text: list });
    expect(aptDeb822(target, url)).toEqual({ file: "/etc/apt/sources.list.d/bookworm.sources", text: deb822 });
  });
});

describe("clientConfig", () => {
  it.each<[string, PublishedTarget, { url?: string; files: string[]; hint: boolean }]>([
    ["rpm without base_url: the path and how to set base_url", rpm, { files: [], hint: true }],
    [
      "rpm with base_url: one .repo",
      { ...rpm, baseUrl: "http://m/" },
      { url: "http://m/rhel9-baseos/latest/", files: ["/etc/yum.repos.d/rhel9-baseos.repo"], hint: false },
    ],
    [
      "apt with base_url: .list and .sources",
      { ...apt, baseUrl: "http://m" },
      { url: "http://m/bookworm/latest/", files: ["/etc/apt/sources.list.d/bookworm.list", "/etc/apt/sources.list.d/bookworm.sources"], hint: false },
    ],
  ])("%s", (_, target, want) => {
    const c = clientConfig(target);
    expect(c.url).toBe(want.url);
    expect(c.path).toBe(target.path);
    expect(c.snippets.map((s) => s.file)).toEqual(want.files);
    expect(c.hint !== undefined).toBe(want.hint);
  });

  it("prints the URL, then each snippet under a comment naming its file; without base_url the hint", () => {
    expect(formatClientConfig(clientConfig({ ...rpm, baseUrl: "http://m/" }))).toBe(
      "url: http://m/rhel9-baseos/latest/\n\n# /etc/yum.repos.d/rhel9-baseos.repo\n[rhel9-baseos]\nname=rhel9-baseos\nbaseurl=http://m/rhel9-baseos/latest/\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\n# the upstream does not sign repomd.xml: if its packages are signed, set gpgcheck=1 and gpgkey= to its key\n",
    );
    expect(formatClientConfig(clientConfig(rpm))).toMatch(/^clients: set publish\.base_url .*README\n$/);
  });
});
