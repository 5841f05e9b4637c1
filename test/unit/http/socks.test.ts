// SOCKS5 pieces that need no proxy: which proxy URLs are accepted, the RFC 1928 address encoding, and the errors a failed handshake becomes.
import { describe, expect, it } from "vitest";
import { ProxySchema } from "../../../core/config/schema.js";
import { ProxyError } from "../../../core/http/client.js";
import { isSocksUrl, proxyUrlProblem } from "../../../core/http/proxy-url.js";
import { addressBytes, describeSocksFailure, SocksError } from "../../../core/http/socks.js";

describe("proxyUrlProblem", () => {
  const long = "x".repeat(256);
  const cases: [url: string, creds: { username?: string; password?: string }, problem: RegExp | undefined][] = [
    ["http://p:3128", {}, undefined],
    ["https://p:3129", {}, undefined],
    ["socks5://p:1080", {}, undefined],
    ["socks5h://p", {}, undefined],
    ["socks5h://u:pw@p:1080", {}, undefined],
    ["socks5h://p:1080", { username: "u", password: "pw" }, undefined],
    ["socks5h://p:1080/", {}, undefined],
    ["socks4://p:1080", {}, /^socks4:\/\/ proxies are not supported.*SOCKS4 is not supported/],
    ["socks4a://p:1080", {}, /^socks4a:\/\/ proxies are not supported/],
    ["socks://p:1080", {}, /^socks:\/\/ proxies are not supported/],
    ["ftp://p:21", {}, /^ftp:\/\/ proxies are not supported: use http:\/\/, https:\/\/, socks5:\/\/ or socks5h:\/\/$/],
    ["p:3128", {}, /must be a proxy URL/],
    ["socks5://p:1080/x", {}, /host:port only/],
    ["socks5://p:1080?a=1", {}, /host:port only/],
    ["socks5h://u@p:1080", {}, /needs a password of 1 to 255 bytes/],
    ["socks5h://p:1080", { username: "u" }, /needs a password/],
    ["socks5h://p:1080", { username: "u", password: "" }, /needs a password/],
    ["socks5h://p:1080", { username: "", password: "x" }, /username is 1 to 255 bytes/],
    ["socks5h://p:1080", { username: long, password: "x" }, /username is 1 to 255 bytes/],
    ["socks5h://p:1080", { username: "u", password: long }, /password of 1 to 255/],
    // an HTTP proxy's credentials are not bound by RFC 1929
    ["http://p:3128", { username: "u" }, undefined],
  ];
  it.each(cases)("%s %j", (url, creds, problem) => {
    const got = proxyUrlProblem(url, creds);
    if (problem) expect(got).toMatch(problem);
    else expect(got).toBeUndefined();
  });

  it("isSocksUrl", () => {
    expect(["socks5://p", "SOCKS5H://p", "http://p", "socks4://p"].map(isSocksUrl)).toEqual([true, true, false, false]);
  });

  it("the proxy block: the key with the problem", () => {
    const r = ProxySchema.safeParse({ https_proxy: "socks5h://p:1080", username: "u" });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["username", "a SOCKS5 username needs a password of 1 to 255 bytes (RFC 1929) (for https_proxy)"],
    ]);
    const u = ProxySchema.safeParse({ http_proxy: "socks4://p:1080" });
    expect(u.error?.issues.map((i) => i.path.join("."))).toEqual(["http_proxy"]);
    expect(ProxySchema.safeParse({ http_proxy: "socks5://p:1080", https_proxy: "socks5h://p:1080", username: "u", password: "p" }).success).toBe(true);
  });
});

describe("addressBytes (RFC 1928 DST.ADDR)", () => {
  const cases: [host: string, atyp: number, hex: string][] = [
    ["127.0.0.1", 1, "7f000001"],
    ["10.1.2.255", 1, "0a0102ff"],
    ["::1", 4, "00000000000000000000000000000001"],
    ["2001:db8::8:1", 4, "20010db8000000000000000000080001"],
    ["fe80::", 4, "fe800000000000000000000000000000"],
    ["1:2:3:4:5:6:7:8", 4, "00010002000300040005000600070008"],
    ["::ffff:192.168.0.1", 4, "00000000000000000000ffffc0a80001"],
    ["localhost", 3, "096c6f63616c686f7374"],
  ];
  it.each(cases)("%s", (host, atyp, hex) => {
    const a = addressBytes(host);
    expect(a.atyp).toBe(atyp);
    expect(a.bytes.toString("hex")).toBe(hex);
  });

  it("refuses a name longer than 255 bytes", () => {
    expect(() => addressBytes(`${"a".repeat(250)}.example`)).toThrow(/too long for SOCKS5/);
  });
});

describe("describeSocksFailure", () => {
  const proxy = { url: "socks5h://127.0.0.1:1080", username: "bob", password: "s3cret" };
  const url = "https://up.example/r/repodata/repomd.xml";
  const cases: [err: SocksError, message: RegExp, retryable: boolean][] = [
    [
      new SocksError("the SOCKS5 proxy rejected the username/password (RFC 1929)", "auth-failed"),
      /^SOCKS5 proxy socks5h:\/\/bob@127\.0\.0\.1:1080 rejected the username\/password for repository r1: check/,
      false,
    ],
    [
      new SocksError("the SOCKS5 proxy requires authentication", "auth-required"),
      /requires authentication for repository r1: set username and password/,
      false,
    ],
    [
      new SocksError("the SOCKS5 proxy could not connect to up.example:443: host unreachable", "refused", 4),
      /\(repository r1\): could not connect to up\.example:443: host unreachable$/,
      true,
    ],
    [new SocksError("the SOCKS5 proxy could not connect to up.example:443: connection not allowed by ruleset", "refused", 2), /not allowed by ruleset/, false],
    [new SocksError("the proxy closed the connection during the SOCKS5 handshake", "protocol"), /closed the connection/, true],
    [
      new SocksError("cannot resolve up.example here (ENOTFOUND; socks5h:// lets the proxy resolve it)", "resolve"),
      /\(repository r1\): cannot resolve up\.example here/,
      true,
    ],
  ];
  it.each(cases)("%s", (err, message, retryable) => {
    const e = describeSocksFailure(new Error("wrapped", { cause: err }), url, "repomd.xml", proxy, "r1");
    expect(e).toBeInstanceOf(ProxyError);
    expect(e?.message).toMatch(message);
    expect(e?.message).not.toContain("s3cret");
    expect(e?.retryable).toBe(retryable);
    expect(e?.proxy).toBe("socks5h://bob@127.0.0.1:1080");
  });

  it("leaves other errors alone", () => {
    expect(describeSocksFailure(new Error("ECONNRESET"), url, undefined, proxy, "r1")).toBeUndefined();
  });
});
