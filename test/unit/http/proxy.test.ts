// Proxy resolution and NO_PROXY matching: table-driven, pure.
import { describe, expect, it } from "vitest";
import type { Config, ProxyConfig, RepositoryConfig } from "../../../core/config/schema.js";
import { ProxySchema } from "../../../core/config/schema.js";
import { matchNoProxy, parseNoProxy, parseNoProxyEntry } from "../../../core/http/no-proxy.js";
import { displayProxy, proxyEndpoint, resolveProxy, ProxySettingError } from "../../../core/http/proxy.js";

describe("NO_PROXY matching", () => {
  const cases: [noProxy: string, url: string, match: string | undefined][] = [
    // "*" matches everything
    ["*", "https://cdn.example.com/x", "*"],
    ["foo.com, *", "http://10.1.2.3:8080/", "*"],
    // a domain matches itself and its subdomains, with or without a leading dot (or "*.")
    ["example.com", "https://example.com/", "example.com"],
    ["example.com", "https://cdn.example.com/", "example.com"],
    ["example.com", "https://a.b.example.com/", "example.com"],
    [".example.com", "https://example.com/", ".example.com"],
    [".example.com", "https://cdn.example.com/", ".example.com"],
    ["*.example.com", "https://cdn.example.com/", "*.example.com"],
    ["example.com", "https://notexample.com/", undefined],
    ["example.com", "https://example.com.evil.org/", undefined],
    [".example.com", "https://badexample.com/", undefined],
    // exact host names
    ["repo.internal", "http://repo.internal/", "repo.internal"],
    ["repo.internal", "http://other.internal/", undefined],
    ["localhost", "http://localhost:8080/", "localhost"],
    // case-insensitive, trailing dots, whitespace and comma separators
    ["EXAMPLE.COM", "https://CDN.Example.Com/", "example.com"],
    ["example.com.", "https://cdn.example.com./", "example.com."],
    ["  a.org   b.org,c.org ,, d.org ", "https://x.c.org/", "c.org"],
    ["a.org\tb.org", "https://b.org/", "b.org"],
    // IP addresses: exact, never by suffix
    ["127.0.0.1", "http://127.0.0.1:3000/", "127.0.0.1"],
    ["127.0.0.1", "http://127.0.0.2/", undefined],
    ["0.0.1", "http://127.0.0.1/", undefined],
    ["::1", "http://[::1]:8080/", "::1"],
    ["[::1]", "http://[::1]/", "[::1]"],
    ["0:0:0:0:0:0:0:1", "http://[::1]/", "0:0:0:0:0:0:0:1"],
    ["fe80::1", "http://[fe80::2]/", undefined],
    // CIDR ranges, IPv4 and IPv6; they match IP literals only (no DNS)
    ["10.0.0.0/8", "http://10.20.30.40/", "10.0.0.0/8"],
    ["10.0.0.0/8", "http://11.0.0.1/", undefined],
    ["192.168.1.0/24", "http://192.168.1.255/", "192.168.1.0/24"],
    ["192.168.1.0/24", "http://192.168.2.1/", undefined],
    ["127.0.0.0/8", "http://localhost/", undefined],
    ["fd00::/8", "http://[fd12:3456::1]/", "fd00::/8"],
    ["fd00::/8", "http://[fe80::1]/", undefined],
    ["[2001:db8::]/32", "http://[2001:db8:1::5]:8443/", undefined],
    ["2001:db8::/32", "http://[2001:db8:1::5]:8443/", "2001:db8::/32"],
    ["0.0.0.0/0", "http://8.8.8.8/", "0.0.0.0/0"],
    // optional :port; default ports count
    ["example.com:8080", "http://cdn.example.com:8080/", "example.com:8080"],
    ["example.com:8080", "http://cdn.example.com/", undefined],
    ["example.com:443", "https://example.com/", "example.com:443"],
    ["example.com:80", "https://example.com/", undefined],
    ["127.0.0.1:3128", "http://127.0.0.1:3128/", "127.0.0.1:3128"],
    ["127.0.0.1:3128", "http://127.0.0.1:3129/", undefined],
    ["[::1]:8080", "http://[::1]:8080/", "[::1]:8080"],
    ["[::1]:8080", "http://[::1]:9090/", undefined],
    // empty: nothing matches; localhost is not implied
    ["", "http://localhost/", undefined],
    ["example.com", "http://127.0.0.1/", undefined],
  ];
  it.each(cases)("NO_PROXY=%j, %s -> %j", (noProxy, url, match) => {
    expect(matchNoProxy(parseNoProxy(noProxy), url)?.text).toBe(match);
  });

  it("accepts a YAML list", () => {
    expect(matchNoProxy(parseNoProxy(["a.org", ".b.org"]), "https://x.b.org/")?.text).toBe(".b.org");
  });

  it.each(["a..b", "exa mple", "10.0.0.0/33", "::1/129", "host:0", "host:99999", "host:abc", "[::1", "10.0.0.0/8/1", "ex@mple.com", "-"])(
    "rejects %j",
    (entry) => {
      expect(parseNoProxyEntry(entry)).toBeUndefined();
    },
  );

  it("keeps the valid entries and lists the invalid ones", () => {
    const list = parseNoProxy("good.org, bad..org, 10.0.0.0/8, 1.2.3.4/99");
    expect(list.entries.map((e) => e.text)).toEqual(["good.org", "10.0.0.0/8"]);
    expect(list.invalid).toEqual(["bad..org", "1.2.3.4/99"]);
  });
});

function block(p: Partial<ProxyConfig>): ProxyConfig {
  return ProxySchema.parse(p);
}
function repo(proxy?: Partial<ProxyConfig>): Pick<RepositoryConfig, "proxy"> {
  return proxy ? { proxy: block(proxy) } : {};
}
function config(proxy?: Partial<ProxyConfig>): Pick<Config, "proxy"> {
  return proxy ? { proxy: block(proxy) } : {};
}

describe("resolveProxy: priority and scheme", () => {
  const G = "http://global.example:8080";
  const R = "http://repo.example:3128";
  const E = "http://env.example:3128";
  const globalBlock = { http_proxy: G, https_proxy: G };
  const cases: {
    name: string;
    repo?: Partial<ProxyConfig>;
    global?: Partial<ProxyConfig>;
    env?: Record<string, string>;
    url: string;
    proxy: string | null;
    source: string;
    noProxyMatch?: string;
  }[] = [
    { name: "nothing configured: direct", url: "https://a.org/", proxy: null, source: "none" },
    { name: "global block, https target", global: globalBlock, url: "https://a.org/", proxy: G, source: "global" },
    { name: "global block, http target", global: { http_proxy: G }, url: "http://a.org/", proxy: G, source: "global" },
    {
      name: "scheme picks https_proxy",
      global: { http_proxy: "http://h:1", https_proxy: "http://s:2" },
      url: "https://a.org/",
      proxy: "http://s:2",
      source: "global",
    },
    {
      name: "scheme picks http_proxy",
      global: { http_proxy: "http://h:1", https_proxy: "http://s:2" },
      url: "http://a.org/",
      proxy: "http://h:1",
      source: "global",
    },
    {
      name: "no https_proxy in the block: direct (the block is not completed from elsewhere)",
      global: { http_proxy: G },
      env: { HTTPS_PROXY: E },
      url: "https://a.org/",
      proxy: null,
      source: "global",
    },
    { name: "repository block wins over global", repo: { https_proxy: R }, global: globalBlock, url: "https://a.org/", proxy: R, source: "repository" },
    {
      name: "repository block replaces global whole (its no_proxy too)",
      repo: { https_proxy: R },
      global: { ...globalBlock, no_proxy: "a.org" },
      url: "https://a.org/",
      proxy: R,
      source: "repository",
    },
    { name: "repository enabled: false beats global", repo: { enabled: false }, global: globalBlock, url: "https://a.org/", proxy: null, source: "repository" },
    {
      name: "repository enabled: false beats environment",
      repo: { enabled: false },
      env: { https_proxy: E },
      url: "https://a.org/",
      proxy: null,
      source: "repository",
    },
    {
      name: "global enabled: false: direct, environment ignored",
      global: { ...globalBlock, enabled: false },
      env: { https_proxy: E },
      url: "https://a.org/",
      proxy: null,
      source: "global",
    },
    { name: "global beats environment", global: globalBlock, env: { HTTPS_PROXY: E }, url: "https://a.org/", proxy: G, source: "global" },
    { name: "environment https_proxy", env: { https_proxy: E }, url: "https://a.org/", proxy: E, source: "environment" },
    { name: "environment HTTPS_PROXY", env: { HTTPS_PROXY: E }, url: "https://a.org/", proxy: E, source: "environment" },
    { name: "environment lower case wins", env: { https_proxy: E, HTTPS_PROXY: "http://upper:1" }, url: "https://a.org/", proxy: E, source: "environment" },
    { name: "environment empty lower case falls back", env: { https_proxy: "", HTTPS_PROXY: E }, url: "https://a.org/", proxy: E, source: "environment" },
    {
      name: "environment http_proxy for an http target",
      env: { http_proxy: E, https_proxy: "http://s:1" },
      url: "http://a.org/",
      proxy: E,
      source: "environment",
    },
    { name: "environment only http_proxy, https target: direct", env: { HTTP_PROXY: E }, url: "https://a.org/", proxy: null, source: "environment" },
    { name: "environment without scheme means http://", env: { https_proxy: "env.example:3128" }, url: "https://a.org/", proxy: E, source: "environment" },
    {
      name: "environment NO_PROXY",
      env: { https_proxy: E, NO_PROXY: ".a.org" },
      url: "https://cdn.a.org/",
      proxy: null,
      source: "environment",
      noProxyMatch: ".a.org",
    },
    {
      name: "environment no_proxy",
      env: { https_proxy: E, no_proxy: "a.org" },
      url: "https://a.org/",
      proxy: null,
      source: "environment",
      noProxyMatch: "a.org",
    },
    {
      name: "environment NO_PROXY ignored under a global block",
      global: globalBlock,
      env: { NO_PROXY: "a.org" },
      url: "https://a.org/",
      proxy: G,
      source: "global",
    },
    {
      name: "global no_proxy",
      global: { ...globalBlock, no_proxy: "localhost,127.0.0.1" },
      url: "http://127.0.0.1:8080/",
      proxy: null,
      source: "global",
      noProxyMatch: "127.0.0.1",
    },
    { name: "127.0.0.1 is not bypassed unless listed", global: globalBlock, url: "http://127.0.0.1:8080/", proxy: G, source: "global" },
    { name: "localhost is not bypassed unless listed", global: globalBlock, url: "http://localhost:8080/", proxy: G, source: "global" },
    {
      name: "https:// proxy",
      global: { https_proxy: "https://secure.example:8443" },
      url: "https://a.org/",
      proxy: "https://secure.example:8443",
      source: "global",
    },
  ];
  it.each(cases)("$name", (c) => {
    const d = resolveProxy(repo(c.repo), config(c.global), c.env ?? {}, c.url);
    expect(d.proxy?.url ?? null).toBe(c.proxy);
    expect(d.source).toBe(c.source);
    expect(d.noProxyMatch).toBe(c.noProxyMatch);
    expect(d.reason).not.toBe("");
  });

  it.each([
    ["socks4://127.0.0.1:1080", /socks4:\/\/ proxies are not supported.*SOCKS4 is not supported/],
    ["socks://h:1", /socks:\/\/ proxies are not supported.*socks5h:\/\//],
    ["ftp://h:21", /ftp:\/\/ proxies are not supported: use http:\/\/, https:\/\/, socks5:\/\/ or socks5h:\/\//],
    ["socks5h://u@h:1080", /needs a password of 1 to 255 bytes/],
    ["socks5://h:1080/path", /host:port only/],
  ])("refuses %s in the environment", (value, message) => {
    expect(() => resolveProxy({}, {}, { https_proxy: value }, "https://a.org/")).toThrow(ProxySettingError);
    expect(() => resolveProxy({}, {}, { https_proxy: value }, "https://a.org/")).toThrow(message);
    expect(() => resolveProxy({}, {}, { https_proxy: value }, "https://a.org/")).toThrow(/^https_proxy in the environment: /);
  });

  it.each([
    ["socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080", undefined],
    ["SOCKS5H://proxy.example:1080", "socks5h://proxy.example:1080", undefined],
    ["socks5h://u%40x:p%3Aw@[::1]:1080", "socks5h://[::1]:1080", "u@x"],
  ])("takes the SOCKS5 proxy %s from the environment", (value, url, user) => {
    const d = resolveProxy({}, {}, { ALL_PROXY: "x", HTTPS_PROXY: value }, "https://a.org/");
    expect(d.proxy?.url).toBe(url);
    expect(d.proxy?.username).toBe(user);
    if (user) expect(d.proxy?.password).toBe("p:w");
  });
});

describe("proxy credentials", () => {
  const cases: [name: string, url: string, sel: { username?: string; password?: string }, user: string | undefined, pass: string | undefined][] = [
    ["none", "http://p:3128", {}, undefined, undefined],
    ["from the block", "http://p:3128", { username: "u", password: "pw" }, "u", "pw"],
    ["from the URL, percent-decoded", "http://us%40er:p%40ss%3Aw%2Frd%25%C3%A9@p:3128", {}, "us@er", "p@ss:w/rd%é"],
    ["the block wins over the URL", "http://a:b@p:3128", { username: "u", password: "pw" }, "u", "pw"],
    ["username without password", "http://p:3128", { username: "u" }, "u", ""],
    ["URL user without password", "http://u@p:3128", {}, "u", ""],
    ["the URL's user with the block's password (e.g. from a conf.d file)", "http://u:old@p:3128", { password: "pw" }, "u", "pw"],
    ["a password alone sends nothing", "http://p:3128", { password: "pw" }, undefined, undefined],
    ["special characters kept verbatim", "http://p:3128", { username: "dom\\user", password: "@:/% é€" }, "dom\\user", "@:/% é€"],
  ];
  it.each(cases)("%s", (_name, url, sel, user, pass) => {
    const e = proxyEndpoint(url, sel);
    expect(e.url).toBe("http://p:3128");
    expect(e.username).toBe(user);
    expect(e.password).toBe(pass);
  });

  it("never prints the password", () => {
    const e = proxyEndpoint("http://u:secret@proxy.example.com:8080", {});
    expect(displayProxy(e)).toBe("http://proxy.example.com:8080");
    expect(displayProxy(e, { withUser: true })).toBe("http://u@proxy.example.com:8080");
    expect(displayProxy(null)).toBe("direct");
  });
});

describe("config validation of the proxy block", () => {
  it("rejects invalid no_proxy entries, naming them", () => {
    const r = ProxySchema.safeParse({ no_proxy: ["ok.org, bad..org", "10.0.0.0/8", "1.2.3.4/40"] });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toEqual([
      "no_proxy: not a host, domain, IP address or CIDR range: bad..org, 1.2.3.4/40",
    ]);
    expect(ProxySchema.safeParse({ no_proxy: "*, .example.com  10.0.0.0/8,[::1]:8080" }).success).toBe(true);
  });
});
