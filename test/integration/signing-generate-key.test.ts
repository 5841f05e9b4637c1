// `signing generate-key` through the real CLI: the secret key to --out (0600, never overwritten) or to a non-terminal
// stdout, a passphrase from the environment, the printed public key and signing: block that config validate accepts.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadSigningKey, SigningKeyError } from "../../core/openpgp/sign.js";
import { cliPath, makeConfigDir, repoRoot, runCli } from "../helpers/cli.js";
import { describeWithTools } from "../helpers/tools.js";

let work: string;

const PUBLIC_BLOCK = /-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?-----END PGP PUBLIC KEY BLOCK-----\n/;

/** The fingerprint gpg reads from an armored public key. */
function gpgFingerprint(armored: string): string {
  const file = join(work, `show-${Date.now()}.asc`);
  writeFileSync(file, armored);
  const out = spawnSync("gpg", ["--with-colons", "--show-keys", file], { encoding: "utf8" }).stdout;
  return /^fpr:+([0-9A-F]{40}):/m.exec(out)![1]!;
}

describeWithTools(["gpg", "script"], "signing generate-key", () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "chantal-genkey-"));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("writes a passphrase-protected RSA 4096 key to --out (0600), prints its public key and a signing: block that config validate accepts", async () => {
    const out = join(work, "mirror.asc");
    const r = await runCli(
      [
        "signing",
        "generate-key",
        "--name",
        "Example mirror",
        "--email",
        "mirror@example.org",
        "--out",
        out,
        "--passphrase-env",
        "MIRROR_PW",
        "--expires",
        "30",
      ],
      {
        env: { MIRROR_PW: "tr0ub4dor" },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain(`wrote the secret key to ${out} (mode 0600)`);
    const fpr = /^fingerprint: ([0-9A-F]{40}) \(rsa4096, expires \d{4}-\d{2}-\d{2}\)$/m.exec(r.stdout)?.[1];
    expect(fpr, r.stdout).toBeDefined();
    // The printed public key is the key's, as gpg reads it; the secret key needs the passphrase.
    expect(gpgFingerprint(PUBLIC_BLOCK.exec(r.stdout)![0])).toBe(fpr);
    await expect(loadSigningKey({ key_file: out }, "signing")).rejects.toBeInstanceOf(SigningKeyError);
    const key = await loadSigningKey({ key_file: out, passphrase: "tr0ub4dor" }, "signing");
    expect(key.fingerprint).toBe(fpr);
    expect(key.expiresAt!.getTime() - Date.now()).toBeGreaterThan(29 * 86400_000);
    expect(r.stdout).toContain("gpgkey=<base_url><repo-id>/chantal-mirror.asc");
    expect(r.stdout).toContain("signed-by=/etc/apt/keyrings/<repo-id>.gpg");
    expect(r.stdout).not.toContain("tr0ub4dor");

    // The printed block, pasted into config.yaml, validates (with the variable set, as the service would have it).
    const block = /^ {2}signing:\n(?: {4}.*\n)+/m.exec(r.stdout)![0].replace(/^ {2}/gm, "");
    expect(block).toContain(`key_file: ${out}\n`);
    expect(block).toContain("passphrase: ${MIRROR_PW}\n");
    const configDir = makeConfigDir({ "config.yaml": `storage:\n  base_path: ${join(work, "state")}\n${block}` });
    const v = await runCli(["--config-dir", configDir, "config", "validate"], { env: { MIRROR_PW: "tr0ub4dor" } });
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // config validate unlocks every key: a wrong passphrase, and a repository's missing key file, are both reported (78).
    writeFileSync(
      join(configDir, "config.yaml"),
      `storage:\n  base_path: ${join(work, "state")}\n${block}repositories:\n  - id: r1\n    type: rpm\n    upstream_url: http://127.0.0.1:9/\n    signing:\n      key_file: ${join(work, "gone.asc")}\n  - id: r2\n    type: rpm\n    upstream_url: http://127.0.0.1:9/\n`,
    );
    const bad = await runCli(["--config-dir", configDir, "config", "validate"], { env: { MIRROR_PW: "wrong" } });
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/repositories\[r1\]\.signing\.key_file: cannot read the OpenPGP secret key .*gone\.asc/);
    expect(bad.stderr).toMatch(/: signing\.passphrase: cannot unlock .*mirror\.asc/);
    rmSync(configDir, { recursive: true, force: true });

    // Never overwrites: the key file stays as it was.
    const before = readFileSync(out, "utf8");
    const again = await runCli(["signing", "generate-key", "--name", "Other", "--email", "o@example.org", "--out", out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/mirror\.asc exists: refusing to overwrite a key/);
    expect(readFileSync(out, "utf8")).toBe(before);
  });

  it("without --out writes only the secret key to a redirected stdout (ed25519, unprotected), the rest to stderr", async () => {
    const r = await runCli(["signing", "generate-key", "--name", "Piped", "--email", "p@example.org", "--algorithm", "ed25519"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----\n[\s\S]*-----END PGP PRIVATE KEY BLOCK-----\n$/);
    const file = join(work, "piped.asc");
    writeFileSync(file, r.stdout);
    const key = await loadSigningKey({ key_file: file }, "signing");
    expect(r.stderr).toContain(`fingerprint: ${key.fingerprint} (ed25519, does not expire)`);
    expect(r.stderr).toContain("the key is not protected by a passphrase");
    expect(gpgFingerprint(PUBLIC_BLOCK.exec(r.stderr)![0])).toBe(key.fingerprint);
  });

  it("refuses to print a secret key on a terminal, an unset --passphrase-env, and bad arguments (exit 2)", async () => {
    const tty = spawnSync("script", ["-qec", `${process.execPath} ${cliPath} signing generate-key --name T --email t@example.org; echo EXIT=$?`, "/dev/null"], {
      cwd: repoRoot,
      env: { ...process.env, CHANTAL_FROM_SOURCE: "1", SHELL: "/bin/bash" },
      encoding: "utf8",
    });
    expect(tty.stdout).toMatch(/refusing to print a secret key on a terminal: give --out FILE/);
    expect(tty.stdout).toContain("EXIT=2");
    expect(tty.stdout).not.toContain("PRIVATE KEY");

    const unset = await runCli(
      ["signing", "generate-key", "--name", "T", "--email", "t@example.org", "--out", join(work, "u.asc"), "--passphrase-env", "NOT_SET_HERE"],
      {
        env: { NOT_SET_HERE: undefined },
      },
    );
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(/--passphrase-env NOT_SET_HERE: the variable is not set or empty/);
    expect(() => statSync(join(work, "u.asc"))).toThrow();

    for (const args of [
      ["--name", "T", "--email", "not-an-address", "--out", join(work, "x.asc")],
      ["--name", "T <evil>", "--email", "t@example.org", "--out", join(work, "x.asc")],
      ["--name", "T", "--email", "t@example.org", "--out", join(work, "x.asc"), "--expires", "0"],
      ["--name", "T", "--email", "t@example.org", "--out", join(work, "x.asc"), "--algorithm", "dsa1024"],
      ["--email", "t@example.org", "--out", join(work, "x.asc")],
    ]) {
      const r = await runCli(["signing", "generate-key", ...args]);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
    }
    expect(() => statSync(join(work, "x.asc"))).toThrow();
  });
});
