// The secret values of a configuration (proxy and basic-auth passwords, signing passphrases, the listener's credentials, webhook secrets and headers, the SMTP password), removed from any error text we store or print.
import type { Config } from "./schema.js";

/** Secret values of the configuration, removed from any error text we store or print. */
export function configSecrets(config: Config): string[] {
  const out: (string | undefined)[] = [
    config.proxy?.password,
    config.signing?.passphrase,
    config.backup.signing?.passphrase,
    config.notify?.email?.smtp.password,
  ];
  for (const w of config.notify?.webhooks ?? []) out.push(w.secret, ...Object.values(w.headers ?? {}));
  out.push(config.web.auth?.basic?.password, config.web.auth?.bearer_token);
  for (const r of config.repositories) {
    out.push(r.proxy?.password, r.signing?.passphrase);
    if (r.auth?.type === "basic") out.push(r.auth.password);
  }
  return out.filter((s): s is string => !!s);
}
