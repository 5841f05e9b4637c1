// The process's connection pools: one per route, shared while leased, closed once unused for a while; the per-origin cap.
import { Agent } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { connectionsPerOrigin } from "../../../core/http/repo-http.js";
import { closeSharedAgents, leaseAgent, routeKey, sharedAgentCount } from "../../../core/http/shared-agents.js";

afterEach(async () => {
  vi.useRealTimers();
  await closeSharedAgents();
});

describe("leaseAgent", () => {
  it("shares one pool per route key, and closes it only once every lease is released and it stayed unused", async () => {
    vi.useFakeTimers();
    let made = 0;
    const create = () => {
      made++;
      return new Agent();
    };
    const a = leaseAgent(routeKey(["direct", 4]), create);
    const b = leaseAgent(routeKey(["direct", 4]), create);
    const other = leaseAgent(routeKey(["direct", 8]), create);
    expect(b.dispatcher).toBe(a.dispatcher);
    expect(other.dispatcher).not.toBe(a.dispatcher);
    expect(made).toBe(2);
    const closed = vi.spyOn(a.dispatcher, "close");
    a.release();
    a.release(); // a second release does nothing: b still holds the pool
    await vi.advanceTimersByTimeAsync(60_000);
    expect(closed).not.toHaveBeenCalled();
    b.release();
    await vi.advanceTimersByTimeAsync(10_000);
    // Leased again before the idle timeout: the same pool, kept.
    const c = leaseAgent(routeKey(["direct", 4]), create);
    expect(c.dispatcher).toBe(a.dispatcher);
    c.release();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(closed).toHaveBeenCalled();
    expect(sharedAgentCount()).toBe(1);
    other.release();
  });

  it("keys by a digest: no credential in the key", () => {
    const key = routeKey([{ url: "http://proxy:3128", password: "s3cret" }]);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toContain("s3cret");
  });
});

describe("connectionsPerOrigin", () => {
  it.each([
    [{}, undefined],
    [{ http: {} }, undefined],
    [{ http: { max_connections_per_host: 4 } }, 4],
    [{ http: { max_total_connections: 6 } }, 6],
    [{ http: { max_connections_per_host: 8, max_total_connections: 6 } }, 6],
    [{ http: { max_connections_per_host: 2, max_total_connections: 6 } }, 2],
  ])("%j -> %s", (config, expected) => {
    expect(connectionsPerOrigin(config as never)).toBe(expected);
  });
});
