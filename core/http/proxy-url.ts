// Which proxy URLs Chantal accepts (http, https, socks5, socks5h) and why one is refused; pure, shared by the config schema and the environment.

/** socks5h: the proxy resolves the upstream's name (remote DNS); socks5: Chantal resolves it and sends the address. */
export const SOCKS_SCHEMES = ["socks5", "socks5h"] as const;
export const PROXY_SCHEMES = ["http", "https", ...SOCKS_SCHEMES] as const;

/** The scheme of a URL, lower-cased, without the colon; undefined when it has none. */
export function proxyScheme(url: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m?.[1]?.toLowerCase();
}

export function isSocksUrl(url: string): boolean {
  return (SOCKS_SCHEMES as readonly string[]).includes(proxyScheme(url) ?? "");
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** RFC 1929 sends each of username and password as 1 to 255 bytes. */
const RFC1929_MAX = 255;

/** What is wrong with a proxy URL (and, for SOCKS, with its credentials), in words; undefined: usable. */
export function proxyUrlProblem(url: string, credentials: { username?: string | undefined; password?: string | undefined } = {}): string | undefined {
  const scheme = proxyScheme(url);
  if (scheme === undefined || !URL.canParse(url)) return "must be a proxy URL like http://proxy:3128 or socks5h://proxy:1080";
  if (!(PROXY_SCHEMES as readonly string[]).includes(scheme)) {
    const hint = scheme.startsWith("socks") ? " (SOCKS4 is not supported: use socks5:// or socks5h:// for remote DNS)" : "";
    return `${scheme}:// proxies are not supported: use http://, https://, socks5:// or socks5h://${hint}`;
  }
  const u = new URL(url);
  if (!u.hostname) return "must name the proxy's host";
  if (!isSocksUrl(url)) return undefined;
  if ((u.pathname !== "" && u.pathname !== "/") || u.search || u.hash) return `a ${scheme}:// proxy is host:port only (no path, query or fragment)`;
  const username = credentials.username ?? (u.username ? decode(u.username) : undefined);
  const password = credentials.password ?? (u.password ? decode(u.password) : undefined);
  if (username === undefined) return undefined;
  if (Buffer.byteLength(username) < 1 || Buffer.byteLength(username) > RFC1929_MAX) return "a SOCKS5 username is 1 to 255 bytes (RFC 1929)";
  if (password === undefined || Buffer.byteLength(password) < 1 || Buffer.byteLength(password) > RFC1929_MAX)
    return "a SOCKS5 username needs a password of 1 to 255 bytes (RFC 1929)";
  return undefined;
}
