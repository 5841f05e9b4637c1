// makeDirectory on a real filesystem: exact modes whatever the umask, untouched existing dirs, concurrent creators.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DirectoryError, DirMode, makeDirectory } from "../../../core/fs-dirs.js";
import { ancestors, unreachableMessage } from "../../../core/db/embedded.js";

const scratch = mkdtempSync(join(tmpdir(), "chantal-fsdirs-"));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const savedUmask = process.umask();
afterEach(() => void process.umask(savedUmask));

const modeOf = (p: string) => statSync(p).mode & 0o7777;
let n = 0;
const fresh = () => join(scratch, `case-${++n}`);

describe("makeDirectory", () => {
  it.each([
    { umask: 0o022, mode: DirMode.shared, parents: 0o755, leaf: 0o755 },
    { umask: 0o077, mode: DirMode.shared, parents: 0o755, leaf: 0o755 },
    { umask: 0o077, mode: DirMode.private, parents: 0o755, leaf: 0o700 },
    { umask: 0o000, mode: DirMode.private, parents: 0o755, leaf: 0o700 },
    { umask: 0o027, mode: 0o750, parents: 0o755, leaf: 0o750 },
  ])("umask $umask, mode $mode: parents $parents, leaf $leaf", async ({ umask, mode, parents, leaf }) => {
    const top = fresh();
    process.umask(umask);
    const created = await makeDirectory(join(top, "a", "b", "leaf"), { mode });
    expect(created).toEqual([top, join(top, "a"), join(top, "a", "b"), join(top, "a", "b", "leaf")]);
    for (const p of created.slice(0, -1)) expect(modeOf(p), p).toBe(parents);
    expect(modeOf(join(top, "a", "b", "leaf"))).toBe(leaf);
  });

  it("leaves existing directories (and their modes) alone and creates only what is missing", async () => {
    const top = fresh();
    mkdirSync(top, { mode: 0o700 });
    chmodSync(top, 0o711);
    expect(await makeDirectory(top)).toEqual([]);
    expect(await makeDirectory(join(top, "x"), { mode: DirMode.private })).toEqual([join(top, "x")]);
    expect(modeOf(top)).toBe(0o711);
    expect(modeOf(join(top, "x"))).toBe(0o700);
  });

  it("lets 16 concurrent creators of one deep path all succeed", async () => {
    const top = fresh();
    process.umask(0o077);
    const leaf = join(top, "p", "q", "r", "s");
    const results = await Promise.allSettled(Array.from({ length: 16 }, () => makeDirectory(leaf, { mode: DirMode.private })));
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    const created = results.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
    expect(created.sort()).toEqual([top, join(top, "p"), join(top, "p", "q"), join(top, "p", "q", "r"), leaf].sort()); // each made once
    expect([top, join(top, "p"), join(top, "p", "q"), join(top, "p", "q", "r")].map(modeOf)).toEqual([0o755, 0o755, 0o755, 0o755]);
    expect(modeOf(leaf)).toBe(0o700);
  });

  it("refuses a file in the way, naming it", async () => {
    const top = fresh();
    mkdirSync(top);
    writeFileSync(join(top, "file"), "");
    const err = await makeDirectory(join(top, "file")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirectoryError);
    expect((err as Error).message).toContain(`${join(top, "file")}: it exists and is not a directory`);
    const below = await makeDirectory(join(top, "file", "sub")).catch((e: unknown) => e);
    expect(below).toBeInstanceOf(DirectoryError);
    expect((below as Error).message).toMatch(/not a directory/);
  });

  it("follows a symlink to a directory, and names a dangling one", async () => {
    const top = fresh();
    mkdirSync(join(top, "real"), { recursive: true });
    symlinkSync(join(top, "real"), join(top, "link"));
    expect(await makeDirectory(join(top, "link", "x"))).toEqual([join(top, "link", "x")]);
    symlinkSync(join(top, "nowhere"), join(top, "dangling"));
    const err = await makeDirectory(join(top, "dangling", "x")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirectoryError);
    expect((err as Error).message).toContain(`${join(top, "dangling")}: it is a symbolic link to nothing`);
  });
});

describe("ancestors", () => {
  it.each([
    { path: "/a/b/c", want: ["/", "/a", "/a/b"] },
    { path: "/a", want: ["/"] },
    { path: "/var/lib/chantal/postgres/", want: ["/", "/var", "/var/lib", "/var/lib/chantal"] },
  ])("$path", ({ path, want }) => expect(ancestors(path)).toEqual(want));
});

describe("unreachableMessage", () => {
  const user = "user 'postgres' (uid 101)";
  const dir = "/srv/x/chantal/postgres";
  it.each([
    {
      blocker: "/srv/x",
      must: [`/srv/x (mode 0700, owner root) is not searchable`, `chmod o+x /srv/x`, "not under /srv/x", "database.url"],
    },
    { blocker: dir, must: ["is not writable by it although Chantal made it its owner"] },
  ])("blocked at $blocker", ({ blocker, must }) => {
    const text = unreachableMessage(user, dir, blocker, `${blocker} (mode 0700, owner root)`);
    for (const m of must) expect(text).toContain(m);
    expect(text).not.toContain(`chmod o+x ${dir}`);
    expect(text).not.toMatch(/such as \/var\/lib\/chantal/);
  });
});
