// How proxy failures read, and where repository credentials may go: pure functions of repo-http.
import { describe, expect, it } from "vitest";
import { isRetryableError, ProxyError } from "../../../core/http/client.js";
import type { ProxyDecision } from "../../../core/http/proxy.js";
import { credentialsAllowed, describeProxyFailure, proxyStatusOf } from "../../../core/http/repo-http.js";

const viaProxy = (username?: string): ProxyDecision => ({
  target: "https://cdn.example.com/",
  proxy: { url: "http://proxy.example.com:8080", ...(username !== undefined ? { username, password: "s3cret" } : {}) },
  source: "global",
  reason: "https_proxy of the global proxy block",
});
const direct: ProxyDecision = { target: "https://cdn.example.com/", proxy: null, source: "none", reason: "none" };

function undiciError(message: string, code: string, cause?: Error): Error {
  return Object.assign(new Error(message, cause ? { cause } : undefined), { code });
}

describe("proxyStatusOf", () => {
  it.each([
    [undiciError("Proxy Authentication Required (407)", "UND_ERR_INVALID_ARG"), 407],
    [undiciError("Proxy response (407) !== 200 when HTTP Tunneling", "UND_ERR_ABORTED"), 407],
    [undiciError("Proxy response (503) !== 200 when HTTP Tunneling", "UND_ERR_ABORTED"), 503],
    [undiciError("fetch failed", "X", undiciError("Proxy response (403) !== 200 when HTTP Tunneling", "UND_ERR_ABORTED")), 403],
    [undiciError("connect ECONNREFUSED 127.0.0.1:3128", "ECONNREFUSED"), undefined],
  ])("%s -> %s", (err, status) => expect(proxyStatusOf(err)).toBe(status));
});

describe("describeProxyFailure", () => {
  const url = "https://cdn.example.com/repodata/repomd.xml";
  it("407 with credentials: the message of the issue, not retried, no password", () => {
    const e = describeProxyFailure(
      undiciError("Proxy response (407) !== 200 when HTTP Tunneling", "UND_ERR_ABORTED"),
      url,
      "repomd.xml",
      viaProxy("u"),
      "rhel9",
    )!;
    expect(e).toBeInstanceOf(ProxyError);
    expect(e.message).toBe("proxy http://proxy.example.com:8080 rejected the credentials (407) for repository rhel9");
    expect(e.status).toBe(407);
    expect(isRetryableError(e)).toBe(false);
    expect(JSON.stringify({ ...e, message: e.message })).not.toContain("s3cret");
  });
  it("407 without credentials says what to set", () => {
    const e = describeProxyFailure(undiciError("Proxy Authentication Required (407)", "UND_ERR_INVALID_ARG"), "http://a.org/x", undefined, viaProxy(), "r")!;
    expect(e.message).toMatch(/^proxy http:\/\/proxy\.example\.com:8080 requires authentication \(407\) for repository r: set username and password/);
  });
  it("a refused tunnel names the target; 5xx is retried, 403 is not", () => {
    const e503 = describeProxyFailure(undiciError("Proxy response (503) !== 200 when HTTP Tunneling", "UND_ERR_ABORTED"), url, undefined, viaProxy(), "r")!;
    expect(e503.message).toBe("proxy http://proxy.example.com:8080 refused the tunnel to cdn.example.com (HTTP 503) for repository r");
    expect(isRetryableError(e503)).toBe(true);
    const e403 = describeProxyFailure(undiciError("Proxy response (403) !== 200 when HTTP Tunneling", "UND_ERR_ABORTED"), url, undefined, viaProxy(), "r")!;
    expect(isRetryableError(e403)).toBe(false);
  });
  it("an unreachable proxy is named (and retried)", () => {
    const e = describeProxyFailure(undiciError("connect ECONNREFUSED 127.0.0.1:3128", "ECONNREFUSED"), url, undefined, viaProxy(), "r")!;
    expect(e.message).toBe("cannot reach proxy http://proxy.example.com:8080 for repository r (ECONNREFUSED)");
    expect(isRetryableError(e)).toBe(true);
  });
  it("leaves other failures, and direct connections, to the default", () => {
    expect(describeProxyFailure(undiciError("other side closed", "UND_ERR_SOCKET"), url, undefined, viaProxy(), "r")).toBeUndefined();
    expect(
      describeProxyFailure(undiciError("Proxy response (407) !== 200 when HTTP Tunneling", "UND_ERR_ABORTED"), url, undefined, direct, "r"),
    ).toBeUndefined();
  });
});

describe("credentialsAllowed (repository basic auth)", () => {
  it.each([
    ["https://repo.example.com/rhel9/", "https://repo.example.com", true],
    ["http://repo.example.com/", "http://repo.example.com", true],
    ["http://repo.example.com/", "https://repo.example.com", true],
    ["https://repo.example.com/", "http://repo.example.com", false],
    ["https://repo.example.com/", "https://cdn.example.com", false],
    ["https://repo.example.com/", "https://repo.example.com.evil.org", false],
    ["http://127.0.0.1:8080/", "http://127.0.0.1:9090", false],
    ["http://127.0.0.1:8080/", "http://127.0.0.1:8080", true],
  ])("%s -> %s: %s", (upstream, origin, allowed) => expect(credentialsAllowed(upstream, origin)).toBe(allowed));
});
