// Tests of core/config/load.ts.
import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, resolveConfigDir } from "../../../core/config/load.js";
import { ConfigError } from "../../../core/errors.js";
import { interpolateString } from "../../../core/config/interpolate.js";
import { makeConfigDir } from "../../helpers/cli.js";

const dirs: string[] = [];
function dirWith(files: Record<string, string>): string {
  const d = makeConfigDir(files);
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function issuesOf(files: Record<string, string>, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  try {
    await loadConfig({ configDir: dirWith(files), env });
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split("\n");
    throw err;
  }
  return [];
}

const repo = (id: string, extra = "") => `  - id: ${id}\n    type: rpm\n    upstream_url: http://mirror.example.org/${id}\n${extra}`;

describe("resolveConfigDir", () => {
  it.each([
    ["/a", { CHANTAL_CONFIG_DIR: "/b" }, "/a"],
    [undefined, { CHANTAL_CONFIG_DIR: "/b" }, "/b"],
    [undefined, {}, "/etc/chantal"],
  ])("flag %s env %j -> %s", (flag, env, expected) => {
    expect(resolveConfigDir(flag, env)).toBe(expected);
  });
});

describe("interpolateString", () => {
  it.each([
    ["${A}", { A: "x" }, "x", []],
    ["pre-${A}-post", { A: "x" }, "pre-x-post", []],
    ["${A:-dflt}", {}, "dflt", []],
    ["${A:-dflt}", { A: "" }, "dflt", []],
    ["${A}", {}, "", ["A"]],
    ["$${A}", { A: "x" }, "${A}", []],
    ["p@ss:w/rd%", {}, "p@ss:w/rd%", []],
  ])("%s with %j", (input, env, value, missing) => {
    expect(interpolateString(input, env)).toEqual({ value, missing });
  });
});

describe("loadConfig", () => {
  it("merges config.yaml and conf.d/*.yaml in sorted order and applies defaults", async () => {
    const dir = dirWith({
      "config.yaml": `storage:\n  base_path: ./data\nrepositories:\n${repo("a")}`,
      "conf.d/20-b.yaml": `repositories:\n${repo("c")}`,
      "conf.d/10-a.yaml": `repositories:\n${repo("b", "    schedule:\n      cron: '0 2 * * *'\n")}`,
      "conf.d/ignored.txt": "not yaml at all: [",
    });
    const loaded = await loadConfig({ configDir: dir, env: {} });
    expect(loaded.files).toEqual(["config.yaml", "conf.d/10-a.yaml", "conf.d/20-b.yaml"]);
    expect(loaded.config.repositories.map((r) => r.id)).toEqual(["a", "b", "c"]);
    expect(loaded.config.storage.base_path).toBe(`${dir}/data`);
    expect(loaded.config.storage.pool_path).toBe(`${dir}/data/pool`);
    expect(loaded.config.storage.published_path).toBe(`${dir}/data/published`);
    const b = loaded.config.repositories[1]!;
    expect(b.schedule).toMatchObject({ enabled: true, cron: "0 2 * * *", jitter_seconds: 0, create_snapshot: false });
    expect(b.download_concurrency).toBe(8);
    expect(loaded.sources.get("b")).toEqual({ file: "conf.d/10-a.yaml", index: 0, line: 2 });
  });

  it("resolves the files a repository names relative to the config directory", async () => {
    const dir = dirWith({
      "config.yaml": `proxy:\n  ca_bundle: certs/ca.pem\nscheduler:\n  pid_file: run/s.pid\nrepositories:\n${repo("a", "    apt:\n      distribution: bookworm\n    auth:\n      type: client_cert\n      cert_file: pki/c.pem\n      key_file: /etc/pki/k.pem\n    verify:\n      keyring: keys/k.gpg\n    proxy:\n      ca_bundle: ca2.pem\n").replace("type: rpm", "type: apt")}`,
    });
    const { config } = await loadConfig({ configDir: dir, env: {} });
    const a = config.repositories[0]!;
    expect(a.type).toBe("apt");
    expect(config.proxy?.ca_bundle).toBe(`${dir}/certs/ca.pem`);
    expect(config.scheduler.pid_file).toBe(`${dir}/run/s.pid`);
    expect(a.auth).toMatchObject({ cert_file: `${dir}/pki/c.pem`, key_file: "/etc/pki/k.pem" });
    expect(a.verify?.keyring).toBe(`${dir}/keys/k.gpg`);
    expect(a.proxy?.ca_bundle).toBe(`${dir}/ca2.pem`);
  });

  it("interpolates environment variables into strings", async () => {
    const loaded = await loadConfig({
      configDir: dirWith({
        "config.yaml": `proxy:\n  http_proxy: http://proxy.example.com:8080\n  username: u\n  password: \${PW}\n  no_proxy: \${NP:-localhost}\n`,
      }),
      env: { PW: "s3cr:t@" },
    });
    expect(loaded.config.proxy?.password).toBe("s3cr:t@");
    expect(loaded.config.proxy?.no_proxy).toBe("localhost");
  });

  it("reports every problem with file and key path", async () => {
    const issues = await issuesOf(
      {
        "config.yaml": `proxy:\n  password: \${UNSET_PW}\n  verify_ssl: maybe\nrepositories:\n${repo("a", "    schedule:\n      cron: '0 25 * * *'\n      jitter_seconds: 301\n")}`,
        "conf.d/rhel9.yaml": `repositories:\n  - id: b\n    type: yum\n    upstream_url: ftp://x\n    colour_scheme: red\n`,
      },
      {},
    );
    expect(issues).toEqual([
      "config.yaml:2: proxy.password: environment variable UNSET_PW is not set (use ${UNSET_PW:-default} for a default)",
      "config.yaml:3: proxy.verify_ssl: Invalid input: expected boolean, received string",
      'config.yaml:9: repository a: schedule.cron: "0 25 * * *" is not a valid cron expression (hour 25 is out of range 0-23)',
      "config.yaml:10: repository a: schedule.jitter_seconds: Too big: expected number to be <=300",
      'conf.d/rhel9.yaml:3: repository b: type: must be "rpm" or "apt", not "yum"',
      "conf.d/rhel9.yaml:4: repository b: upstream_url: must be an http:// or https:// URL",
      "conf.d/rhel9.yaml:5: repository b: colour_scheme: unknown key",
    ]);
  });

  it("names a repository by its id and the file's line, and suggests the closest key and time zone", async () => {
    const issues = await issuesOf({
      "conf.d/a.yaml": `repositories:\n${repo("x")}${repo("rhel9-baseos", "    download_concurency: 4\n    schedule:\n      cron: '0 2 * * *'\n      timezone: Europe/Pari\n    auth: { type: basic, usernme: u }\n")}`,
      "config.yaml": "storage:\n  base_path: /x\n  pool_pth: /y\nscheduler:\n  timezone: Mars/Olympus\n",
    });
    expect(issues).toEqual([
      "config.yaml:3: storage.pool_pth: unknown key (did you mean pool_path?)",
      'config.yaml:5: scheduler.timezone: "Mars/Olympus" is not a known IANA time zone (for example Europe/Berlin or UTC)',
      // A missing key is reported at its mapping's line.
      "conf.d/a.yaml:12: repository rhel9-baseos: auth.username: Invalid input: expected string, received undefined",
      "conf.d/a.yaml:12: repository rhel9-baseos: auth.password: Invalid input: expected string, received undefined",
      "conf.d/a.yaml:12: repository rhel9-baseos: auth.usernme: unknown key (did you mean username?)",
      'conf.d/a.yaml:11: repository rhel9-baseos: schedule.timezone: "Europe/Pari" is not a known IANA time zone (did you mean Europe/Paris?)',
      "conf.d/a.yaml:8: repository rhel9-baseos: download_concurency: unknown key (did you mean download_concurrency?)",
    ]);
  });

  it("names both files for a duplicate repository id", async () => {
    const issues = await issuesOf({ "config.yaml": `repositories:\n${repo("x")}`, "conf.d/b.yaml": `repositories:\n${repo("y")}${repo("x")}` });
    expect(issues).toEqual(['conf.d/b.yaml:5: repository x: id: repository id "x" is already defined in config.yaml:2']);
  });

  it("reports malformed YAML with its line and column", async () => {
    const issues = await issuesOf({ "config.yaml": "storage:\n  base_path: [unclosed\n" });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^config\.yaml:\d+:\d+: invalid YAML: /);
  });

  it("rejects duplicate keys and unknown sections", async () => {
    const issues = await issuesOf({ "config.yaml": "storage:\n  base_path: /a\n  base_path: /b\n" });
    expect(issues[0]).toMatch(/config\.yaml:3:\d+: invalid YAML: Map keys must be unique/);
    expect(await issuesOf({ "config.yaml": "storrage: {}\n" })).toEqual(["config.yaml:1: storrage: unknown key (did you mean storage?)"]);
  });

  it("validates auth blocks", async () => {
    const issues = await issuesOf({
      "config.yaml": `repositories:\n${repo("a", "    auth:\n      type: client_cert\n")}${repo("b", "    auth:\n      type: kerberos\n")}${repo("c", "    auth:\n      type: basic\n      username: u\n      password: p\n")}`,
    });
    expect(issues[0]).toBe("config.yaml:5: repository a: auth: client_cert needs cert_dir, or both cert_file and key_file");
    expect(issues[1]).toMatch(/^config\.yaml:\d+: repository b: auth\.type: /);
    expect(issues).toHaveLength(2);
  });

  it("refuses a keyring on an rpm repository and duplicate apt components", async () => {
    const issues = await issuesOf({
      "config.yaml": `repositories:\n${repo("a", "    verify:\n      keyring: /k.gpg\n")}  - id: d\n    type: apt\n    upstream_url: http://mirror.example.org/debian\n    apt:\n      distribution: bookworm\n      components: [main, contrib, main]\n`,
    });
    expect(issues).toEqual([
      "config.yaml:6: repository a: verify.keyring: is checked for apt repositories only: an RPM mirror keeps repomd.xml.asc verbatim, so enable repo_gpgcheck in dnf to verify it",
      'config.yaml:12: repository d: apt.components: lists "main" twice',
    ]);
  });

  const aptRepo = (apt: string) => `repositories:\n  - id: d\n    type: apt\n    upstream_url: http://mirror.example.org/debian\n    apt:\n${apt}`;

  it.each([
    ["bookworm-updates", "[main, contrib, non-free-firmware]"],
    ["buster/updates", "[updates/main, updates/contrib]"],
    ["jammy-security", "[main, restricted, universe, multiverse]"],
    ["./", "[main]"],
  ])("accepts the documented APT forms: distribution %s, components %s", async (distribution, components) => {
    expect(
      await issuesOf({
        "config.yaml": aptRepo(`      distribution: ${distribution}\n      components: ${components}\n      architectures: [amd64, arm64, all, hurd-i386]\n`),
      }),
    ).toEqual([]);
  });

  it.each([
    [
      "a component climbing out of dists/",
      "      distribution: bookworm\n      components: [main, ../../x]\n",
      "repository d: apt.components[1]",
      /"\.\.\/\.\.\/x" must be a component of the suite: .*never empty, absolute or '\.\.'/,
    ],
    ["an absolute component", "      distribution: bookworm\n      components: [/etc]\n", "repository d: apt.components[0]", /"\/etc" must be a component/],
    [
      "an empty segment in a component",
      "      distribution: bookworm\n      components: [updates//main]\n",
      "repository d: apt.components[0]",
      /must be a component/,
    ],
    ["an empty component", "      distribution: bookworm\n      components: ['']\n", "repository d: apt.components[0]", /must be a component/],
    [
      "a distribution with '..'",
      "      distribution: ../../../etc\n",
      "repository d: apt.distribution",
      /"\.\.\/\.\.\/\.\.\/etc" must be a suite or codename under dists\//,
    ],
    ["a distribution with a '..' segment inside", "      distribution: bookworm/../../x\n", "repository d: apt.distribution", /must be a suite or codename/],
    ["an absolute distribution", "      distribution: /bookworm\n", "repository d: apt.distribution", /must be a suite or codename/],
    [
      "an architecture with a slash",
      "      distribution: bookworm\n      architectures: [../amd64]\n",
      "repository d: apt.architectures[0]",
      /must be a Debian architecture name/,
    ],
  ])("refuses %s, naming the file and the key path", async (_what, apt, path, message) => {
    const issues = await issuesOf({ "config.yaml": aptRepo(apt) });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(new RegExp(`^config\\.yaml:\\d+: ${path.replace(/[[\].]/g, "\\$&")}: `));
    expect(issues[0]).toMatch(message);
  });

  it("reports a YAML alias bomb as a configuration error naming the file, and accepts an anchor shared by many repositories", async () => {
    const levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `${"abcdefghi"[i]}: &${"abcdefghi"[i]} [${Array(9)
          .fill(`*${"abcdefghi"[i - 1]}`)
          .join(", ")}]`,
      );
    const issues = await issuesOf({ "config.yaml": "storage: {}\n", "conf.d/bomb.yaml": `${levels.join("\n")}\n` });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^conf\.d\/bomb\.yaml: invalid YAML: Excessive alias count .*\(aliases expand to more than 1000 nodes\)/);
    // One anchor referenced by 300 repositories is not a bomb (yaml's default limit of 100 would refuse it).
    const many = Array.from({ length: 300 }, (_, i) => `${repo(`r${i}`)}    proxy: ${i === 0 ? "&direct { enabled: false }" : "*direct"}\n`).join("");
    expect(await issuesOf({ "config.yaml": `repositories:\n${many}` })).toEqual([]);
  });

  it.each([
    ["../../{date}", /snapshot name "\.\.\/\.\.\/20261231" must be 1-128 letters/],
    ["{repo_id}/{date}", /snapshot name "a\/20261231" must be/],
    ["{repo_id}-{week}", /has an unknown placeholder \{week\}/],
    [`{repo_id}-{datetime}-${"x".repeat(120)}`, /must be 1-128 letters/],
  ])("refuses snapshot_name_template %s by rendering it with a sample date", async (template, message) => {
    const issues = await issuesOf({
      "config.yaml": `repositories:\n${repo("a", `    schedule:\n      cron: "0 2 * * *"\n      snapshot_name_template: "${template}"\n`)}`,
    });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^config\.yaml:\d+: repository a: schedule\.snapshot_name_template: /);
    expect(issues[0]).toMatch(message);
    expect(issues[0]).toContain("(rendered with the sample date 2026-12-31 23:59:59)");
  });

  it("accepts the documented snapshot name templates", async () => {
    for (const template of ["rhel9-baseos-{date}", "{repo_id}-{datetime}", "{date}.{time}", "nightly_{repo_id}"]) {
      expect(
        await issuesOf({
          "config.yaml": `repositories:\n${repo("rhel9-baseos", `    schedule:\n      cron: "0 2 * * *"\n      snapshot_name_template: "${template}"\n`)}`,
        }),
      ).toEqual([]);
    }
  });

  it("takes verify.allow_rollback on apt repositories only", async () => {
    const apt = `  - id: d\n    type: apt\n    upstream_url: http://mirror.example.org/debian\n    apt:\n      distribution: bookworm\n    verify:\n      allow_rollback: true\n`;
    const loaded = await loadConfig({ configDir: dirWith({ "config.yaml": `repositories:\n${apt}` }), env: {} });
    expect(loaded.config.repositories[0]!.verify?.allow_rollback).toBe(true);
    expect(await issuesOf({ "config.yaml": `repositories:\n${repo("a", "    verify:\n      allow_rollback: false\n")}` })).toEqual([
      "config.yaml:6: repository a: verify.allow_rollback: applies to apt repositories only (the Date of their Release)",
    ]);
  });

  it("fails clearly when config.yaml is missing", async () => {
    const issues = await issuesOf({ "conf.d/a.yaml": "repositories: []\n" });
    expect(issues[0]).toMatch(/config\.yaml: configuration file not found/);
  });
});
