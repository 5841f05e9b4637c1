// `chantal-run signing generate-key`: make the mirror's OpenPGP signing key (the secret key to --out, mode 0600, never overwriting), print its public key, the signing: block and how clients trust it.
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { UsageError } from "../../core/errors.js";
import { generateSigningKey, KEY_ALGORITHMS, type KeyAlgorithm } from "../../core/openpgp/sign.js";
import { action } from "../context.js";

interface GenerateKeyOptions {
  name: string;
  email: string;
  out?: string;
  passphraseEnv?: string;
  expires?: number;
  algorithm: KeyAlgorithm;
}

/** Days until expiry: a whole number ≥ 1 (no --expires: the key never expires). */
function days(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError("expected a number of days ≥ 1");
  return Number(value);
}

/** A user id part must not carry the "<>" of the email form, nor a newline. */
function userIdPart(what: string, value: string): string {
  if (/[<>\n\r]/.test(value) || value.trim() === "") throw new UsageError(`${what} ${JSON.stringify(value)} must be non-empty, without "<", ">" or a newline`);
  return value.trim();
}

function passphraseOf(varName: string | undefined): string | undefined {
  if (varName === undefined) return undefined;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(varName)) throw new UsageError(`--passphrase-env takes the name of an environment variable, not "${varName}"`);
  const value = process.env[varName];
  if (!value)
    throw new UsageError(
      `--passphrase-env ${varName}: the variable is not set or empty: export ${varName}=... first (the passphrase never goes on the command line)`,
    );
  return value;
}

/** What to put in the configuration and on clients, once the key exists. */
function setupText(keyFile: string, passphraseEnv: string | undefined): string {
  const name = "chantal-mirror";
  return [
    "Configuration (config.yaml for every repository, or a repository's own signing: block):",
    "  signing:",
    `    key_file: ${keyFile}`,
    ...(passphraseEnv
      ? [`    passphrase: \${${passphraseEnv}}`]
      : ["    # the key is not protected by a passphrase: keep the file readable by the chantal user only"]),
    `    # public_key_name: ${name}  # the default: published as <base_url><repo-id>/${name}.asc and .gpg`,
    "    # resign: true                     # also sign trees published verbatim (upstream repomd.xml unsigned)",
    "",
    'Clients ("chantal-run repo show REPO" prints the exact lines for a repository):',
    "  dnf:  repo_gpgcheck=1",
    `        gpgkey=<base_url><repo-id>/${name}.asc`,
    `  apt:  curl -fsSL <base_url><repo-id>/${name}.gpg -o /etc/apt/keyrings/<repo-id>.gpg`,
    "        deb [signed-by=/etc/apt/keyrings/<repo-id>.gpg] <base_url><repo-id>/latest/ <suite> <components>",
    "Check the fingerprint above against the key a client fetched (gpg --show-keys FILE) before trusting it.",
    "",
  ].join("\n");
}

export function register(signing: Command): void {
  signing
    .command("generate-key")
    .description(
      "make the mirror's OpenPGP signing key: the secret key to --out (mode 0600, never overwritten), its public key and the signing: block on stdout",
    )
    .requiredOption("--name <name>", 'the key\'s user id name, e.g. "Example Corp package mirror"')
    .requiredOption("--email <email>", "the key's user id email")
    .option("--out <file>", "write the armored secret key here (refuses an existing file); without it the key goes to stdout, which must not be a terminal")
    .option("--passphrase-env <var>", "protect the secret key with the passphrase in this environment variable (default: unprotected)")
    .option("--expires <days>", "the key expires after this many days (default: never; renew with gpg --quick-set-expire)", days)
    .addOption(
      new Option("--algorithm <algorithm>", "rsa4096: accepted by every apt and dnf, FIPS mode too; ed25519: smaller, GnuPG 2.2+ (EL8+, Debian 10+)")
        .choices(KEY_ALGORITHMS)
        .default("rsa4096"),
    )
    .action(
      action(async (_ctx, opts: GenerateKeyOptions) => {
        const name = userIdPart("--name", opts.name);
        const email = userIdPart("--email", opts.email);
        if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new UsageError(`--email "${email}" is not an email address`);
        // Refused before the key is made: a secret key on a terminal ends up in its scrollback.
        if (!opts.out && process.stdout.isTTY)
          throw new UsageError("refusing to print a secret key on a terminal: give --out FILE (or redirect stdout to a file that only you can read)");
        const passphrase = passphraseOf(opts.passphraseEnv);
        const key = await generateSigningKey({
          name,
          email,
          algorithm: opts.algorithm,
          ...(passphrase ? { passphrase } : {}),
          ...(opts.expires ? { expiresDays: opts.expires } : {}),
        });
        // Without --out the secret key is stdout's and everything else goes to stderr, so `> key.asc` captures only the key.
        const info = opts.out ? process.stdout : process.stderr;
        let keyFile = "FILE";
        if (opts.out) {
          keyFile = resolve(opts.out);
          await writeFile(keyFile, key.armoredPrivateKey, { mode: 0o600, flag: "wx" }).catch((err: NodeJS.ErrnoException) => {
            if (err.code === "EEXIST") throw new UsageError(`${keyFile} exists: refusing to overwrite a key; choose another --out or move the file away`);
            throw new UsageError(`cannot write ${keyFile}: ${err.message}`);
          });
          info.write(`wrote the secret key to ${keyFile} (mode 0600)\n`);
        } else {
          process.stdout.write(key.armoredPrivateKey);
        }
        const expiry = key.expiresAt ? `expires ${key.expiresAt.toISOString().slice(0, 10)}` : "does not expire";
        info.write(`fingerprint: ${key.fingerprint} (${opts.algorithm}, ${expiry})\n\n`);
        info.write(`Public key (the mirror publishes it beside each signed repository):\n${key.armoredPublicKey}\n`);
        info.write(setupText(keyFile, opts.passphraseEnv));
      }),
    );
}
