// Secrets never reach logs, errors or --json output: every URL is redacted before it is printed.

/** Replace the password (and keep the user) of every URL-like credential in a text. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return redactText(url);
  }
}

/** Redact `scheme://user:password@` forms and `password=...` parameters anywhere in a text. */
export function redactText(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi, "$1***@").replace(/(password=)[^\s&;]+/gi, "$1***");
}

/** Redact a text and also remove known secret values wherever they appear verbatim. */
export function redactSecrets(text: string, secrets: Iterable<string | undefined>): string {
  let out = redactText(text);
  for (const s of secrets) {
    if (!s || s.length < 3) continue;
    out = out.split(s).join("***");
    const enc = encodeURIComponent(s);
    if (enc !== s) out = out.split(enc).join("***");
  }
  return out;
}
