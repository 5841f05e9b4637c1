// PAC files: the answer parser (table-driven), the QuickJS sandbox with the standard functions, hostile scripts
// (endless loops, memory, no host objects), the proxy block's PAC settings and the file loader's memo.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProxySchema } from "../../../core/config/schema.js";
import { compilePac, forgetPacScripts, ipv4InNet, loadPacScript, PacError, pacDecision, parsePacAnswer } from "../../../core/http/pac.js";
import { selectProxySettings } from "../../../core/http/proxy.js";

describe("parsePacAnswer", () => {
  const cases: [answer: string, urls: (string | null)[], ignored?: string[]][] = [
    ["DIRECT", [null]],
    ["", [null]],
    [" ; ", [null]],
    ["PROXY proxy.corp:3128", ["http://proxy.corp:3128"]],
    ["PROXY a:1; PROXY b:2; DIRECT", ["http://a:1", "http://b:2", null]],
    ["proxy a:1;direct", ["http://a:1", null]],
    ["PROXY  a:1 ;  SOCKS b:1081", ["http://a:1", "socks5://b:1081"]],
    ["HTTP a:8080", ["http://a:8080"]],
    ["HTTPS secure.corp:8443", ["https://secure.corp:8443"]],
    ["SOCKS5 s:1080; SOCKS s2", ["socks5://s:1080", "socks5://s2:1080"]],
    // default ports: PROXY 80 (dropped from the URL as http's default), HTTPS 443, SOCKS 1080
    ["PROXY a", ["http://a"]],
    ["HTTPS a", ["https://a"]],
    ["PROXY 10.0.0.1:3128", ["http://10.0.0.1:3128"]],
    ["PROXY [::1]:3128", ["http://[::1]:3128"]],
    ["PROXY [fd00::1]", ["http://[fd00::1]"]],
    // duplicates once
    ["PROXY a:1; PROXY a:1; DIRECT; DIRECT", ["http://a:1", null]],
    ["PROXY A:1; proxy a:1", ["http://a:1"]],
    // what cannot be used is skipped, and said
    ["SOCKS4 old:1080; DIRECT", [null], ["SOCKS4 old:1080"]],
    ["BOGUS x:1; PROXY a:1", ["http://a:1"], ["BOGUS x:1"]],
    ["PROXY", [], ["PROXY"]],
    ["PROXY user:pw@a:1", [], ["PROXY user:pw@a:1"]],
    ["PROXY a:1/path", [], ["PROXY a:1/path"]],
    ["PROXY a:99999", [], ["PROXY a:99999"]],
    ["DIRECT a:1", [], ["DIRECT a:1"]],
    ["PROXY a:1 extra", [], ["PROXY a:1 extra"]],
  ];
  it.each(cases)("%j", (answer, urls, ignored = []) => {
    const parsed = parsePacAnswer(answer);
    expect(parsed.entries.map((e) => e.url)).toEqual(urls);
    expect(parsed.ignored).toEqual(ignored);
  });
});

describe("pacDecision", () => {
  const source = { url: "http://wpad.internal/proxy.pac", key: "pac_url of the global proxy block" };
  const selection = selectProxySettings({}, { proxy: ProxySchema.parse({ pac_url: source.url, username: "u", password: "p w" }) }, {});

  it("puts the block's credentials on every proxy of the answer, in order", () => {
    const d = pacDecision(selection, "https://cdn.example.com/", source, "PROXY a:1; SOCKS b:2; DIRECT");
    expect(d.proxy).toEqual({ url: "http://a:1", username: "u", password: "p w" });
    expect(d.pac).toMatchObject({
      script: source.url,
      answer: "PROXY a:1; SOCKS b:2; DIRECT",
      chain: [{ url: "http://a:1", username: "u", password: "p w" }, { url: "socks5://b:2", username: "u", password: "p w" }, null],
    });
    expect(d.reason).toBe(`the PAC file ${source.url} answered "PROXY a:1; SOCKS b:2; DIRECT" (tried in that order)`);
  });

  it("an answer with nothing usable is a PacError naming the file, the URL and the key", () => {
    expect(() => pacDecision(selection, "http://x/", source, "SOCKS4 a:1")).toThrow(PacError);
    expect(() => pacDecision(selection, "http://x/", source, "SOCKS4 a:1")).toThrow(
      'the PAC file http://wpad.internal/proxy.pac answered "SOCKS4 a:1" for http://x/: no DIRECT, PROXY, HTTPS or SOCKS entry in it (pac_url of the global proxy block)',
    );
  });

  it("no_proxy still sends a host direct before the PAC is asked; otherwise the decision waits for the PAC", async () => {
    const { decideProxy } = await import("../../../core/http/proxy.js");
    const s = selectProxySettings({}, { proxy: ProxySchema.parse({ pac_file: "p.pac", no_proxy: ".internal" }) }, {});
    expect(decideProxy(s, "http://repo.internal/")).toMatchObject({ proxy: null, noProxyMatch: ".internal" });
    expect(decideProxy(s, "http://repo.example.com/")).toMatchObject({ proxy: null, pac: "pending" });
    expect(s.pac).toEqual({ file: "p.pac", key: "pac_file of the global proxy block" });
  });
});

describe("ipv4InNet", () => {
  const cases: [ip: string, pattern: string, mask: string, inNet: boolean][] = [
    ["198.95.249.79", "198.95.249.79", "255.255.255.255", true],
    ["198.95.249.80", "198.95.249.79", "255.255.255.255", false],
    ["198.95.1.2", "198.95.0.0", "255.255.0.0", true],
    ["198.96.1.2", "198.95.0.0", "255.255.0.0", false],
    ["10.200.3.4", "10.0.0.0", "255.0.0.0", true],
    ["255.255.255.255", "0.0.0.0", "0.0.0.0", true],
    ["not-an-ip", "10.0.0.0", "255.0.0.0", false],
    ["10.0.0.1", "10.0.0.0", "bad", false],
    ["256.0.0.1", "0.0.0.0", "0.0.0.0", false],
  ];
  it.each(cases)("%s in %s/%s: %s", (ip, pattern, mask, inNet) => expect(ipv4InNet(ip, pattern, mask)).toBe(inNet));
});

const STANDARD = `
function FindProxyForURL(url, host) {
  if (isPlainHostName(host)) return "DIRECT; plain";
  if (dnsDomainIs(host, ".intranet.corp")) return "DIRECT; domain";
  if (localHostOrDomainIs(host, "www.corp")) return "DIRECT; localhost-or-domain";
  if (shExpMatch(url, "*/packages/*.rpm")) return "PROXY rpm-cache:3128";
  if (isInNet(host, "10.0.0.0", "255.0.0.0")) return "PROXY ten:1";
  if (isInNet(myIpAddress(), "192.168.7.0", "255.255.255.0")) return "PROXY office:8080; DIRECT";
  if (host == "levels.a.b") return "PROXY levels:" + dnsDomainLevels(host);
  if (host == "resolve.me") return "PROXY " + dnsResolve("mirror.corp") + ":3128";
  if (host == "unknown.me") return isResolvable("nowhere.corp") ? "PROXY yes" : "DIRECT; unresolvable";
  if (host == "week.day") return weekdayRange("SUN", "SAT") ? "DIRECT; week" : "PROXY never";
  return "PROXY default:3128; DIRECT";
}`;

describe("the PAC sandbox: the standard functions", () => {
  const lookups: string[] = [];
  const lookup = async (host: string) => {
    lookups.push(host);
    return ({ "mirror.corp": "10.9.8.7", "repo.corp": "10.1.1.1" } as Record<string, string>)[host] ?? null;
  };
  const script = compilePac(STANDARD, "standard.pac", { myIpAddress: "192.168.7.20", lookup });
  const cases: [url: string, answer: string][] = [
    ["http://mirror/", "DIRECT; plain"],
    ["https://cdn.intranet.corp/", "DIRECT; domain"],
    ["http://www.corp/", "DIRECT; localhost-or-domain"],
    ["https://dl.example.com/packages/x-1.0.rpm", "PROXY rpm-cache:3128"],
    ["http://10.2.3.4:8080/", "PROXY ten:1"],
    // resolved (isInNet on a name) by the injected resolver, the call run again with the answer
    ["http://repo.corp/", "PROXY ten:1"],
    ["http://www.example.com/", "PROXY office:8080; DIRECT"],
    ["http://levels.a.b/", "PROXY office:8080; DIRECT"],
    ["http://resolve.me/", "PROXY office:8080; DIRECT"],
  ];
  it.each(cases)("%s → %s", async (url, answer) => {
    expect(await (await script).findProxy(url)).toBe(answer);
  });

  it("dnsResolve, isResolvable, dnsDomainLevels, weekdayRange; each name is looked up once per script", async () => {
    const s = await compilePac(STANDARD, "standard.pac", { myIpAddress: "172.16.0.1", lookup });
    lookups.length = 0;
    expect(await s.findProxy("http://levels.a.b/")).toBe("PROXY levels:2");
    expect(await s.findProxy("http://resolve.me/")).toBe("PROXY 10.9.8.7:3128");
    expect(await s.findProxy("http://unknown.me/")).toBe("DIRECT; unresolvable");
    expect(await s.findProxy("http://unknown.me/")).toBe("DIRECT; unresolvable");
    expect(await s.findProxy("http://week.day/")).toBe("DIRECT; week");
    expect(lookups.filter((h) => h === "nowhere.corp")).toEqual(["nowhere.corp"]);
    expect(lookups.filter((h) => h === "mirror.corp")).toEqual(["mirror.corp"]);
  });

  it("myIpAddress answers this host's address without asking the network", async () => {
    const s = await compilePac(`function FindProxyForURL(u, h) { return "PROXY " + myIpAddress() + ":1"; }`, "ip.pac");
    expect(await s.findProxy("http://x/")).toMatch(/^PROXY \d+\.\d+\.\d+\.\d+:1$/);
  });
});

describe("the PAC sandbox: hostile and broken scripts", () => {
  const run = async (code: string, opts = {}) => (await compilePac(code, "hostile.pac", { evalTimeoutMs: 300, ...opts })).findProxy("http://target.example/");

  it("an endless loop in FindProxyForURL is interrupted and named; the script still answers the next URL", async () => {
    const s = await compilePac(`function FindProxyForURL(u, h) { if (h == "loop") { while (true) {} } return "DIRECT"; }`, "loop.pac", { evalTimeoutMs: 300 });
    const started = Date.now();
    await expect(s.findProxy("http://loop/")).rejects.toThrow(
      "the PAC file loop.pac failed for http://loop/: it did not answer within 300 ms (an endless loop?)",
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await s.findProxy("http://fine/")).toBe("DIRECT");
  });

  it("an endless loop after a DNS answer (the re-run) is interrupted too", async () => {
    const lookup = async () => "10.0.0.1";
    await expect(run(`function FindProxyForURL(u, h) { if (dnsResolve("a.corp")) { for (;;) {} } return "DIRECT"; }`, { lookup })).rejects.toThrow(
      "it did not answer within 300 ms",
    );
  });

  it("an endless loop at the top level is a PacError at compile time", async () => {
    await expect(compilePac("for (;;) {}", "top.pac", { evalTimeoutMs: 200 })).rejects.toThrow(
      "the PAC file top.pac is not a usable PAC script: it did not answer within 200 ms (an endless loop?)",
    );
  });

  it("a script eating memory is stopped by the sandbox's limit", async () => {
    await expect(
      run(`function FindProxyForURL(u, h) { var a = []; for (;;) a.push(new Array(10000).join("x") + a.length); }`, { evalTimeoutMs: 10_000 }),
    ).rejects.toThrow("it ran out of memory in the sandbox");
  });

  it("no host objects: require, process, module, fetch, import() are not there, not even through the Function constructor", async () => {
    const probe = `function FindProxyForURL(u, h) {
      var F = (function () {}).constructor;
      var mk = F("return this");
      var g = mk();
      return [typeof require, typeof process, typeof module, typeof fetch, typeof setTimeout, typeof g.process, typeof Buffer].join(",");
    }`;
    expect(await run(probe)).toBe("undefined,undefined,undefined,undefined,undefined,undefined,undefined");
    await expect(run(`function FindProxyForURL(u, h) { return require("fs").readFileSync("/etc/passwd", "utf8"); }`)).rejects.toThrow(
      "the PAC file hostile.pac failed for http://target.example/: require is not defined",
    );
    await expect(run(`function FindProxyForURL(u, h) { import("fs"); return "DIRECT"; }`)).rejects.toThrow(PacError);
  });

  it("the script's alert() prints nothing and changes nothing", async () => {
    expect(await run(`function FindProxyForURL(u, h) { alert("hello"); return "DIRECT"; }`)).toBe("DIRECT");
  });

  const broken: [what: string, code: string, message: string][] = [
    [
      "a syntax error",
      `function FindProxyForURL(u, h) { return "DIRECT"`,
      "the PAC file hostile.pac is not a usable PAC script: Line 1: Unexpected end of input",
    ],
    ["no FindProxyForURL", `var x = 1;`, "the PAC file hostile.pac is not a usable PAC script: FindProxyForURL is not defined"],
    ["a throw", `function FindProxyForURL(u, h) { throw new Error("nope"); }`, "the PAC file hostile.pac failed for http://target.example/: nope"],
    [
      "a number",
      `function FindProxyForURL(u, h) { return 3128; }`,
      'answered a number for http://target.example/, not a string like "PROXY host:port; DIRECT"',
    ],
    ["nothing", `function FindProxyForURL(u, h) { }`, "answered undefined for http://target.example/"],
  ];
  it.each(broken)("%s is a PacError", async (_what, code, message) => {
    const err = await run(code).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PacError);
    expect((err as Error).message).toContain(message);
  });
});

describe("proxy block: PAC settings", () => {
  const issues = (block: object) => {
    const r = ProxySchema.safeParse(block);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };
  const cases: [block: object, expected: string[]][] = [
    [{ pac_url: "http://wpad.internal/proxy.pac" }, []],
    [{ pac_file: "proxy.pac", no_proxy: ".internal", username: "u", password: "p" }, []],
    [{ pac_url: "ftp://wpad/proxy.pac" }, ["pac_url: must be an http:// or https:// URL"]],
    [{ pac_file: "" }, ["pac_file: Too small: expected string to have >=1 characters"]],
    [{ pac_url: "http://wpad/p.pac", pac_file: "p.pac" }, ["pac_file: pac_url and pac_file are both set: keep one PAC file"]],
    [
      { pac_url: "http://wpad/p.pac", https_proxy: "http://proxy:3128" },
      ["pac_url: a PAC file and a static proxy (https_proxy) in one block: the PAC decides the proxy, so remove https_proxy or pac_url"],
    ],
    [
      { pac_file: "p.pac", http_proxy: "http://proxy:3128", https_proxy: "http://proxy:3128" },
      [
        "pac_file: a PAC file and a static proxy (http_proxy, https_proxy) in one block: the PAC decides the proxy, so remove http_proxy and https_proxy or pac_file",
      ],
    ],
  ];
  it.each(cases)("%j", (block, expected) => expect(issues(block)).toEqual(expected));
});

describe("loadPacScript: a pac_file", () => {
  const dir = mkdtempSync(join(tmpdir(), "chantal-pac-file-"));
  afterAll(() => {
    forgetPacScripts();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads a relative pac_file from the config directory once per run; a missing one names the key", async () => {
    forgetPacScripts();
    writeFileSync(join(dir, "proxy.pac"), `function FindProxyForURL(u, h) { return "PROXY one:1"; }`);
    const source = { file: "proxy.pac", key: "pac_file of the global proxy block" };
    const first = await loadPacScript(source, { configDir: dir });
    expect(await first.findProxy("http://x/")).toBe("PROXY one:1");
    writeFileSync(join(dir, "proxy.pac"), `function FindProxyForURL(u, h) { return "PROXY two:2"; }`);
    expect(await loadPacScript(source, { configDir: dir })).toBe(first);
    forgetPacScripts();
    expect(await (await loadPacScript(source, { configDir: dir })).findProxy("http://x/")).toBe("PROXY two:2");
    await expect(loadPacScript({ file: "missing.pac", key: "pac_file of the repository proxy block" }, { configDir: dir })).rejects.toThrow(
      `cannot read the PAC file ${join(dir, "missing.pac")} (pac_file of the repository proxy block): ENOENT`,
    );
  });
});
