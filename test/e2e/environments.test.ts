// Lifecycle environments read by real clients: dnf and apt-get pointed once at <published>/prod/<repo-id>/ follow
// promotions and a rollback of a group; readers never see members at different snapshots; a kill -9 mid-promotion.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { readFile, realpath } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { acquireLock, repositoryLockRequest } from "../../core/db/locks.js";
import { readEnvironment } from "../../core/environments/tree.js";
import { APT_TOOLS, aptClient, createGpgKey, type GpgKey } from "../helpers/apt-fixtures.js";
import { ENVIRONMENTS_DIST, environmentsRepoYaml, writeEnvironmentsUpstream } from "../helpers/environments-fixture.js";
import { dnfClient } from "../helpers/dnf.js";
import { startStaticServer } from "../helpers/http-server.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools, hasTool } from "../helpers/tools.js";
import { startNginx } from "../helpers/web-server.js";
import { until } from "../helpers/wait.js";

let scratch: string;
let upstream: string;
let key: GpgKey;
let env: SyncEnvironment;
let published: string;

const DIST = ENVIRONMENTS_DIST;

const rpmAvailable = (repoId: string, envName: string) => dnfClient(scratch).available(`file://${join(published, envName, repoId)}`, "%{name}-%{version}");
async function debAvailable(envName: string): Promise<string[]> {
  const client = await aptClient(scratch, { uri: `file:${join(published, envName, "deb")}`, dist: DIST, components: ["main"], keyring: key.keyring });
  await client.update();
  return client.available();
}

async function cli(...args: string[]) {
  return env.cli(...args);
}

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Upstream state A (v1) or B (v2): rpm1 upgrades, rpm2 gains a package, deb upgrades alpha. */
async function writeUpstream(state: "A" | "B"): Promise<void> {
  await writeEnvironmentsUpstream(upstream, key, state === "A" ? "1.0" : "1.1", state === "A" ? 1 : 2);
}

describeWithTools(["dnf", ...APT_TOOLS], "lifecycle environments read by dnf and apt-get", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-envs-"));
    upstream = join(scratch, "upstream");
    key = await createGpgKey(join(scratch, "keys"));
    await writeUpstream("A");
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (u) => environmentsRepoYaml(u, key.keyring, "http://mirror.example/"),
    });
    published = join(env.base, "published");
    await ok("repo", "sync", "--all");
    await ok("snapshot", "create", "--group", "el", "--name", "A");
  }, 180_000);

  afterAll(async () => {
    await env?.close();
    await key?.dispose();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("promotes in path order: A to test, then prod; dnf and apt-get on prod/ see A", async () => {
    const outOfOrder = await cli("promote", "--group", "el", "--snapshot", "A", "--to", "prod");
    expect(outOfOrder.code).toBe(1);
    expect(outOfOrder.stderr).toMatch(/snapshot A of group el is not in test \(nothing is promoted there\): promote it to test first, or add --force/);
    expect(existsSync(join(published, "prod"))).toBe(false);

    expect(await ok("promote", "--group", "el", "--snapshot", "A", "--to", "test")).toMatch(/promoted snapshot A of group el to test/);
    const toProd = JSON.parse(await ok("promote", "--group", "el", "--snapshot", "A", "--to", "prod", "--note", "CHG-1", "--json"));
    expect(toProd.promotion).toMatchObject({ environment: "prod", snapshot_name: "A", kind: "promote", note: "CHG-1", forced: false });
    expect(toProd.promotion.members.map((m: { repo_id: string }) => m.repo_id)).toEqual(["deb", "rpm1", "rpm2"]);

    expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.0", "pkg000001-1.0"]);
    expect(await rpmAvailable("rpm2", "prod")).toEqual(["other000000-1.0"]);
    expect(await debAvailable("prod")).toEqual(["alpha=1.0-1"]);
    // The same promotion again switches nothing.
    expect(await ok("promote", "--group", "el", "--snapshot", "A", "--to", "prod")).toMatch(/already serves snapshot A/);
  });

  it("an upstream change, snapshot B to test leaves prod on A; B to prod moves it; rollback returns it to A", async () => {
    await writeUpstream("B");
    await ok("repo", "sync", "--all");
    await ok("snapshot", "create", "--group", "el", "--name", "B");
    const diff = JSON.parse(await ok("snapshot", "diff", "--group", "el", "A", "B", "--json"));
    expect(
      diff.members.map((m: { repo_id: string; diff: { added: unknown[]; updated: unknown[] } }) => [m.repo_id, m.diff.added.length, m.diff.updated.length]),
    ).toEqual([
      ["deb", 0, 1],
      ["rpm1", 0, 2],
      ["rpm2", 1, 0],
    ]);

    await ok("promote", "--group", "el", "--snapshot", "B", "--to", "test");
    expect(await rpmAvailable("rpm1", "test")).toEqual(["pkg000000-1.1", "pkg000001-1.1"]);
    expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.0", "pkg000001-1.0"]);
    expect(await debAvailable("prod")).toEqual(["alpha=1.0-1"]);

    await ok("promote", "--group", "el", "--snapshot", "B", "--to", "prod");
    expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.1", "pkg000001-1.1"]);
    expect(await rpmAvailable("rpm2", "prod")).toEqual(["other000000-1.0", "other000001-1.0"]);
    expect(await debAvailable("prod")).toEqual(["alpha=1.1-1"]);

    expect(await ok("promote", "rollback", "--group", "el", "--env", "prod")).toMatch(/rolled back group el in prod to snapshot A/);
    expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.0", "pkg000001-1.0"]);
    expect(await rpmAvailable("rpm2", "prod")).toEqual(["other000000-1.0"]);
    expect(await debAvailable("prod")).toEqual(["alpha=1.0-1"]);
    // A second rollback goes further back than A's promotion: there is nothing before it.
    const again = await cli("promote", "rollback", "--group", "el", "--env", "prod");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/has no earlier promotion to return to/);

    const history = JSON.parse(await ok("promote", "history", "--group", "el", "--env", "prod", "--json"));
    expect(history.map((h: { kind: string; snapshot_name: string }) => `${h.kind} ${h.snapshot_name}`)).toEqual(["rollback A", "promote B", "promote A"]);
    expect(history[2]).toMatchObject({ note: "CHG-1", host: hostname(), pid: expect.any(Number), os_user: expect.any(String) });
    expect(await ok("promote", "history", "--env", "test")).toMatch(/^\d+\s+.*\s+el\s+test\s+B\s+promote\s/m);
  }, 240_000);

  it("environment show prints each member's .repo stanza and sources.list lines at its stable URL", async () => {
    const out = await ok("environment", "show", "--env", "prod", "--group", "el");
    expect(out).toMatch(/^prod serves snapshot A of group el$/m);
    expect(out).toMatch(/^baseurl=http:\/\/mirror\.example\/prod\/rpm1\/$/m);
    expect(out).toMatch(/^baseurl=http:\/\/mirror\.example\/prod\/rpm2\/$/m);
    expect(out).toMatch(/^deb \[arch=amd64 signed-by=\S+\] http:\/\/mirror\.example\/prod\/deb\/ stable main$/m);
    expect(out).toMatch(/^URIs: http:\/\/mirror\.example\/prod\/deb\/$/m);
    expect(out).toMatch(/^\[rpm1-prod\]$/m);
    const json = JSON.parse(await ok("environment", "show", "--env", "prod", "--group", "el", "--json"));
    expect(json.members.map((m: { repo_id: string; snapshot_name: string }) => `${m.repo_id}:${m.snapshot_name}`)).toEqual(["deb:A", "rpm1:A", "rpm2:A"]);
  });

  it("refuses bad input: an unknown group, environment or snapshot; a snapshot an environment uses is not deleted without --force", async () => {
    const group = await cli("promote", "--group", "el8", "--snapshot", "A", "--to", "test");
    expect(group.code).toBe(2);
    expect(group.stderr).toMatch(/unknown group "el8": did you mean "el"\? \(configured: el, solo\)/);
    const environment = await cli("promote", "--group", "el", "--snapshot", "A", "--to", "prd");
    expect(environment.code).toBe(2);
    expect(environment.stderr).toMatch(/unknown environment "prd": did you mean "prod"\?/);
    const snapshot = await cli("promote", "--group", "el", "--snapshot", "Z", "--to", "test");
    expect(snapshot.code).toBe(1);
    expect(snapshot.stderr).toMatch(/group el has no snapshot named "Z"/);
    expect((await cli("promote", "--group", "el", "--to", "test")).code).toBe(2);
    expect((await cli("environment", "show", "--env", "dev", "--group", "el")).code).toBe(2);
    const overlap = await cli("snapshot", "create", "--group", "solo", "--name", "S");
    expect(overlap.code).toBe(0);
    const twoGroups = await cli("promote", "--group", "solo", "--snapshot", "S", "--to", "prod", "--force");
    expect(twoGroups.code).toBe(1);
    expect(twoGroups.stderr).toMatch(/repository rpm1 is already in prod through group el/);

    // A is served by prod; B is what prod's rollback... was rolled back from, and test serves B.
    const used = await cli("snapshot", "delete", "--repo-id", "rpm1", "--name", "A");
    expect(used.code).toBe(1);
    expect(used.stderr).toMatch(
      /snapshot A of rpm1 is used by environment\(s\) prod \(group el\)(, test \(group el, the state a rollback returns to\))?: promote another snapshot there first, or add --force/,
    );
    const usedB = await cli("snapshot", "delete", "--repo-id", "rpm2", "--name", "B");
    expect(usedB.code).toBe(1);
    expect(usedB.stderr).toMatch(/used by environment\(s\) test \(group el\)/);
    expect(existsSync(join(published, "rpm1", "snapshots", "A"))).toBe(true);
    const unpublish = await cli("publish", "remove", "--repo-id", "rpm1", "--snapshot", "A");
    expect(unpublish.code).toBe(1);
    expect(unpublish.stderr).toMatch(/cannot unpublish snapshots\/A of rpm1: snapshot\(s\) of rpm1 are used by environment\(s\): A by prod \(group el\)/);
    expect(existsSync(join(published, "rpm1", "snapshots", "A"))).toBe(true);
  });

  it("snapshot create --group fails naming a member being synced, and with --wait freezes all members once it is done", async () => {
    const rpm2Id = (await env.pg.query(`SELECT id FROM chantal.repositories WHERE repo_id = 'rpm2'`)).rows[0].id as number;
    const holder = await acquireLock(env.db.url, repositoryLockRequest(rpm2Id, "test: a sync of rpm2"));
    try {
      const busy = await cli("snapshot", "create", "--group", "el", "--name", "busy");
      expect(busy.code).toBe(75);
      expect(busy.stderr).toMatch(/cannot freeze the group: a member is being synced: rpm2 \(lock is held by .*\); wait for the sync or add --wait SECONDS/);
      expect((await env.pg.query(`SELECT count(*)::int AS n FROM chantal.snapshots WHERE name = 'busy'`)).rows[0].n).toBe(0);
      const waiting = env.spawn("snapshot", "create", "--group", "el", "--name", "busy", "--wait", "60", "--json");
      await new Promise((r) => setTimeout(r, 1500));
      await holder.release();
      const done = await waiting.result;
      expect(done.code, done.stderr).toBe(0);
      expect(JSON.parse(done.stdout).members.map((m: { repo_id: string; name: string }) => `${m.repo_id}:${m.name}`)).toEqual([
        "deb:busy",
        "rpm1:busy",
        "rpm2:busy",
      ]);
    } finally {
      await holder.release();
    }
    const listed = JSON.parse(await ok("snapshot", "list", "--group", "el", "--json"));
    expect(listed.map((g: { name: string }) => g.name)).toEqual(["busy", "B", "A"]);
    const again = await cli("snapshot", "create", "--group", "el", "--name", "busy");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/group el already has a snapshot named "busy"/);
  });

  it("a reader that resolves prod once never sees members at different snapshots during many promotions", async () => {
    const marker = (repoId: string, snap: string, file: string) => readFileSync(join(published, repoId, "snapshots", snap, file), "utf8");
    const files = { rpm1: "repodata/repomd.xml", rpm2: "repodata/repomd.xml", deb: `dists/${DIST}/InRelease` } as const;
    const which = (repoId: keyof typeof files, text: string) => (["A", "B"] as const).find((s) => marker(repoId, s, files[repoId]) === text) ?? "?";
    let stop = false;
    const seen = { A: 0, B: 0 };
    const mixes: string[] = [];
    const reader = (async () => {
      while (!stop) {
        const dir = await realpath(join(published, "prod"));
        const states = await Promise.all(
          (Object.keys(files) as (keyof typeof files)[]).map(async (r) => which(r, await readFile(join(dir, r, files[r]), "utf8"))),
        );
        if (new Set(states).size !== 1 || states[0] === "?") mixes.push(states.join(","));
        else seen[states[0] as "A" | "B"]++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 10; i++) await ok("promote", "--group", "el", "--snapshot", i % 2 === 0 ? "B" : "A", "--to", "prod", "--force");
    stop = true;
    await reader;
    expect(mixes).toEqual([]);
    expect(seen.A).toBeGreaterThan(0);
    expect(seen.B).toBeGreaterThan(0);
    // The last promotion was A: prod serves A, and the directory before it (B) is still readable for clients mid-download.
    expect(Object.fromEntries(await readEnvironment(published, "prod"))).toEqual({ deb: "A", rpm1: "A", rpm2: "A" });
    const previous = realpathSync(join(published, ".environments", "prod.previous"));
    expect(readdirSync(previous).sort()).toEqual(["deb", "rpm1", "rpm2"]);
    expect(readFileSync(join(previous, "rpm1", files.rpm1), "utf8")).toBe(marker("rpm1", "B", files.rpm1));
  }, 300_000);

  it("a kill -9 during a promotion leaves the previous state live, and the next promotion works and sweeps its leftovers", async () => {
    await writeUpstream("A");
    await ok("repo", "sync", "--all");
    await ok("snapshot", "create", "--group", "el", "--name", "C");
    const before = Object.fromEntries(await readEnvironment(published, "test"));
    expect(before).toEqual({ deb: "B", rpm1: "B", rpm2: "B" });
    const historyBefore = JSON.parse(await ok("promote", "history", "--json")).length;
    // rpm1 is being "synced": the promotion publishes deb's snapshot C, then waits for rpm1's lock.
    const rpm1Id = (await env.pg.query(`SELECT id FROM chantal.repositories WHERE repo_id = 'rpm1'`)).rows[0].id as number;
    const holder = await acquireLock(env.db.url, repositoryLockRequest(rpm1Id, "test: a sync of rpm1"));
    const run = env.spawn("promote", "--group", "el", "--snapshot", "C", "--to", "test", "--force");
    try {
      await until("deb's snapshot C published by the promotion", () => existsSync(join(published, "deb", "snapshots", "C")), 60_000);
      await new Promise((r) => setTimeout(r, 500));
      run.child.kill("SIGKILL");
      const result = await run.result;
      expect(result.signal).toBe("SIGKILL");
    } finally {
      await holder.release();
    }
    expect(Object.fromEntries(await readEnvironment(published, "test"))).toEqual(before);
    expect(JSON.parse(await ok("promote", "history", "--json"))).toHaveLength(historyBefore);
    // What a kill between the steps of a switch leaves: a building directory and a swap link of the dead process.
    const dead = run.child.pid!;
    const building = join(published, ".environments", `test-x.building~${hostname()}~${dead}~`);
    mkdirSync(building);
    const swap = join(published, `test.swap~${hostname()}~${dead}~`);
    symlinkSync(".environments/nowhere", swap);
    expect(await rpmAvailable("rpm1", "test")).toEqual(["pkg000000-1.1", "pkg000001-1.1"]);

    await ok("promote", "--group", "el", "--snapshot", "C", "--to", "test", "--force");
    expect(Object.fromEntries(await readEnvironment(published, "test"))).toEqual({ deb: "C", rpm1: "C", rpm2: "C" });
    expect(existsSync(building)).toBe(false);
    expect(readdirSync(published)).not.toContain(`test.swap~${hostname()}~${dead}~`);
    expect(await rpmAvailable("rpm1", "test")).toEqual(["pkg000000-1.0", "pkg000001-1.0"]);
    expect(await debAvailable("test")).toEqual(["alpha=1.0-1"]);
  }, 180_000);

  it("snapshot delete --force deletes a snapshot an environment would roll back to, naming it; the rollback then refuses", async () => {
    // test serves C now, and B is what its rollback returns to.
    const forced = await cli("snapshot", "delete", "--repo-id", "rpm2", "--name", "B", "--force");
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/which environment\(s\) .*test \(group el, the state a rollback returns to\)/);
    const refused = await cli("promote", "rollback", "--group", "el", "--env", "test");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot roll back el in test to B: snapshot\(s\) rpm2\/B were deleted/);
    expect(Object.fromEntries(await readEnvironment(published, "test"))).toEqual({ deb: "C", rpm1: "C", rpm2: "C" });
    // The group snapshot B lost a member: promoting it would drop rpm2 from the environment.
    const partial = await cli("promote", "--group", "el", "--snapshot", "B", "--to", "test", "--force");
    expect(partial.code).toBe(1);
    expect(partial.stderr).toMatch(
      /snapshot B of group el has no member for rpm2 \(deleted, or added to the group after B was made\): create a new group snapshot/,
    );
  });

  it("serves environments over HTTP: dnf and apt-get read prod/<repo-id>/ from a web server on 127.0.0.1 (and the README's nginx block)", async () => {
    const servers: { url: string; close(): Promise<void> }[] = [await startStaticServer({ root: published })];
    if (hasTool("nginx")) servers.push(await startNginx(join(scratch, "nginx"), published));
    try {
      for (const web of servers) {
        const base = web.url.replace(/\/$/, "");
        expect(await dnfClient(scratch).available(`${base}/prod/rpm1/`, "%{name}-%{version}")).toEqual(["pkg000000-1.0", "pkg000001-1.0"]);
        const client = await aptClient(scratch, { uri: `${base}/prod/deb/`, dist: DIST, components: ["main"], keyring: key.keyring });
        await client.update();
        expect(await client.available()).toEqual(["alpha=1.0-1"]);
      }
    } finally {
      for (const web of servers) await web.close();
    }
  });
});
