// The README's nginx and Apache configurations serving a real published tree, read by the real dnf and
// apt-get through the client snippets Chantal prints (publish.base_url).
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { APT_TOOLS, aptClientWithSources, buildDeb, createGpgKey, detachSign, writeAptRepo, type GpgKey } from "../helpers/apt-fixtures.js";
import { buildRpm, createRepo, run } from "../helpers/rpm-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools, toolMissing } from "../helpers/tools.js";
import { startApache, startNginx, type WebServer } from "../helpers/web-server.js";

let scratch: string;
let key: GpgKey;
let env: SyncEnvironment;
const rpms = new Map<string, string>();
const debs = new Map<string, string>();
const servers: WebServer[] = [];

interface Snippet {
  file: string;
  text: string;
}

function setBaseUrl(url: string | undefined): void {
  mkdirSync(join(env.configDir, "conf.d"), { recursive: true });
  writeFileSync(join(env.configDir, "conf.d", "publish.yaml"), url ? `publish:\n  base_url: ${url}\n` : "{}\n");
}

async function show(repoId: string): Promise<{
  clients: { url: string | null; snippets: Snippet[]; hint: string | null };
  published: { name: string; url: string | null }[];
  package_count: number;
  total_bytes: number;
  snapshots: { name: string; url: string | null }[];
}> {
  const r = await env.cli("repo", "show", "--repo-id", repoId, "--json");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

/** The real dnf reading only the printed .repo file, with the GPG checks it asks for. */
async function dnfWith(repo: Snippet, ...args: string[]): Promise<string> {
  const dir = mkdtempSync(join(scratch, "dnf-"));
  mkdirSync(join(dir, "repos"));
  writeFileSync(join(dir, "repos", basename(repo.file)), repo.text);
  const id = /^\[([^\]]+)\]$/m.exec(repo.text)![1]!;
  return run("dnf", [
    "-q",
    "-y",
    "--releasever=9",
    `--setopt=cachedir=${join(dir, "cache")}`,
    `--setopt=reposdir=${join(dir, "repos")}`,
    "--setopt=skip_if_unavailable=False",
    `--repo=${id}`,
    ...args,
  ]);
}

/** A .list snippet, or a .sources one, is what apt-get reads. */
function aptWith(s: Snippet) {
  return aptClientWithSources(scratch, { fileName: basename(s.file), text: s.text });
}

async function cacheControl(url: string): Promise<string | null> {
  const res = await fetch(url);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return res.headers.get("cache-control");
}

/** Everything a client does through `server`, with the snippets printed for its base_url. */
async function checkClientsThrough(server: WebServer): Promise<void> {
  setBaseUrl(server.url);
  // publish repo prints the URL and the very snippets repo show gives.
  const rpmPublish = await env.cli("publish", "repo", "--repo-id", "el");
  expect(rpmPublish.code).toBe(0);
  const rpm = await show("el");
  expect(rpm.clients.url).toBe(`${server.url}el/latest/`);
  expect(rpmPublish.stdout).toContain(`url: ${server.url}el/latest/`);
  const [repoFile] = rpm.clients.snippets;
  expect(repoFile!.file).toBe("/etc/yum.repos.d/el.repo");
  expect(rpmPublish.stdout).toContain(repoFile!.text);
  // The upstream signs repomd.xml and publishes its key: the stanza asks dnf to check both.
  expect(repoFile!.text).toContain("repo_gpgcheck=1\n");
  expect(repoFile!.text).toContain(`gpgkey=${server.url}el/latest/repodata/repomd.xml.key\n`);

  const available = (await dnfWith(repoFile!, "repoquery", "--available", "--qf", "%{name}-%{version}"))
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
  expect(available).toEqual(["alpha-1.0", "beta-2.0"]);
  const dest = mkdtempSync(join(scratch, "dl-"));
  await dnfWith(repoFile!, "download", "--destdir", dest, "beta");
  expect(readFileSync(join(dest, "beta-2.0-1.noarch.rpm"))).toEqual(readFileSync(rpms.get("beta")!));

  // A snapshot: its own URL and repository id.
  const snapPublish = await env.cli("publish", "snapshot", "--repo-id", "el", "--name", "v1");
  expect(snapPublish.code).toBe(0);
  expect(snapPublish.stdout).toContain(`url: ${server.url}el/snapshots/v1/`);
  const stanza = snapPublish.stdout.slice(snapPublish.stdout.indexOf("[el-v1]\n"));
  const snapRepo = { file: "/etc/yum.repos.d/el-v1.repo", text: stanza.slice(0, stanza.indexOf("\n\n") + 1 || undefined) };
  expect(snapPublish.stdout).toContain(`# ${snapRepo.file}\n[el-v1]\n`);
  expect(snapRepo.text).toContain(`baseurl=${server.url}el/snapshots/v1/\n`);
  expect((await dnfWith(snapRepo, "repoquery", "--available", "--qf", "%{name}")).split("\n").filter(Boolean).sort()).toEqual(["alpha", "beta"]);

  // APT: the sources.list line and the deb822 form, Signed-By from verify.keyring.
  const aptPublish = await env.cli("publish", "repo", "--repo-id", "deb");
  expect(aptPublish.code).toBe(0);
  const deb = await show("deb");
  expect(deb.clients.url).toBe(`${server.url}deb/latest/`);
  const [list, sources] = deb.clients.snippets;
  expect(list!.file).toBe("/etc/apt/sources.list.d/deb.list");
  expect(sources!.file).toBe("/etc/apt/sources.list.d/deb.sources");
  expect(aptPublish.stdout).toContain(list!.text);
  expect(aptPublish.stdout).toContain(sources!.text);
  expect(sources!.text).toContain(`Signed-By: ${key.keyring}\n`);
  for (const snippet of [list!, sources!]) {
    const apt = await aptWith(snippet);
    await apt.update();
    expect(await apt.available()).toEqual(["alpha=1.0-1", "beta=2.0-1"]);
    const got = await apt.download(mkdtempSync(join(scratch, "debs-")), "beta");
    expect(got).toEqual(["beta_2.0-1_all.deb"]);
  }

  // Metadata is revalidated, packages are cacheable, the trees' internals are not served.
  expect(await cacheControl(`${server.url}el/latest/repodata/repomd.xml`)).toBe("no-cache");
  expect(await cacheControl(`${server.url}deb/latest/dists/stable/InRelease`)).toBe("no-cache");
  expect(await cacheControl(`${server.url}deb/latest/dists/stable/Release`)).toBe("no-cache");
  expect(await cacheControl(`${server.url}el/latest/beta-2.0-1.noarch.rpm`)).toBe("public, max-age=604800");
  expect(await cacheControl(`${server.url}deb/latest/${debs.get("alpha")}`)).toBe("public, max-age=604800");
  const trees = await fetch(`${server.url}el/.trees/`);
  await trees.arrayBuffer();
  expect([403, 404]).toContain(trees.status);
}

describeWithTools(["rpmbuild", "createrepo_c", "dnf", "nginx", ...APT_TOOLS], "Serving the mirror with the README's web server configurations", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-serve-"));
    const upstream = join(scratch, "upstream");
    key = await createGpgKey(join(scratch, "keys"));
    // RPM, with a signed repomd.xml and its key, as OBS and COPR publish them.
    for (const [name, version] of [
      ["alpha", "1.0"],
      ["beta", "2.0"],
    ] as const)
      rpms.set(name, await buildRpm({ dir: join(upstream, "el"), name, version, release: "1", payloadBytes: 2000 }));
    const repomd = await createRepo(join(upstream, "el"));
    writeFileSync(`${repomd}.asc`, await detachSign(key, await readFile(repomd)));
    writeFileSync(`${repomd}.key`, readFileSync(key.armored));
    // APT, signed.
    const aptRoot = join(upstream, "deb");
    for (const [name, version] of [
      ["alpha", "1.0-1"],
      ["beta", "2.0-1"],
    ] as const)
      debs.set(name, await buildDeb(aptRoot, { name, version, payloadBytes: 2000 }));
    await writeAptRepo(aptRoot, { dist: "stable", components: ["main"], signer: key, byHash: true });
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        [
          "  - id: el",
          "    type: rpm",
          `    upstream_url: ${url}/el/`,
          "    description: Enterprise Linux test",
          "  - id: deb",
          "    type: apt",
          `    upstream_url: ${url}/deb/`,
          "    apt: { distribution: stable, components: [main], architectures: [amd64] }",
          `    verify: { keyring: ${key.keyring} }`,
          "",
        ].join("\n"),
    });
    // The web servers' users read the tree: mkdtemp made the base private.
    chmodSync(env.base, 0o755);
  }, 240_000);

  afterAll(async () => {
    for (const s of servers) await s.close();
    await env?.close();
    await key?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("without publish.base_url, sync prints the published path and how to set base_url", async () => {
    const never = await show("el");
    expect(never).toMatchObject({ package_count: 0, total_bytes: 0, published: [], snapshots: [], clients: null });
    expect((await env.cli("repo", "show", "--repo-id", "el")).stdout).toMatch(/^packages {4}never synced\n[\s\S]*^published:\n {2}nothing/m);
    for (const id of ["el", "deb"]) {
      const r = await env.cli("repo", "sync", "--repo-id", id);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`published: ${env.published(id)}`);
      expect(r.stdout).toMatch(/^clients: set publish\.base_url .*"Serving the mirror"/m);
    }
    expect((await env.cli("snapshot", "create", "--repo-id", "el", "--name", "v1")).code).toBe(0);
    const el = await show("el");
    expect(el.clients).toMatchObject({ url: null, snippets: [] });
    expect(el.package_count).toBe(2);
    expect(el.total_bytes).toBe(readFileSync(rpms.get("alpha")!).length + readFileSync(rpms.get("beta")!).length);
    expect(el.published).toEqual([{ name: "latest", path: env.published("el"), url: null }]);
  }, 120_000);

  it("with base_url, a sync prints the URL and the .repo stanza", async () => {
    setBaseUrl("http://mirror.internal/");
    const r = await env.cli("repo", "sync", "--repo-id", "el");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "url: http://mirror.internal/el/latest/\n\n# /etc/yum.repos.d/el.repo\n[el]\nname=Enterprise Linux test\nbaseurl=http://mirror.internal/el/latest/\n",
    );
    const human = await env.cli("repo", "show", "--repo-id", "el");
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^packages {4}2 \(/m);
    expect(human.stdout).toContain("client configuration (latest):\nurl: http://mirror.internal/el/latest/");
  }, 120_000);

  it("nginx, configured with the README's lines, serves dnf and apt-get through the printed snippets", async () => {
    const nginx = await startNginx(join(scratch, "nginx"), join(env.base, "published"));
    servers.push(nginx);
    await checkClientsThrough(nginx);
  }, 240_000);

  it.skipIf(toolMissing("apache2"))(
    "Apache, configured with the README's lines, serves dnf and apt-get through the printed snippets",
    async () => {
      const apache = await startApache(join(scratch, "apache"), join(env.base, "published"));
      servers.push(apache);
      await checkClientsThrough(apache);
    },
    240_000,
  );
});
