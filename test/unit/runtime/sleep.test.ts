// The shared sleep: resolves on time, rejects with the abort's AbortedError before or during the wait, leaves no listener.
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { AbortedError } from "../../../core/errors.js";
import { abortedError, sleep, throwIfAborted } from "../../../core/runtime/sleep.js";

describe("sleep", () => {
  it("resolves after the time has passed", async () => {
    const started = performance.now();
    await sleep(50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it("rejects with the signal's reason when it was aborted before", async () => {
    const ac = new AbortController();
    const reason = new AbortedError("interrupted by SIGINT", "SIGINT");
    ac.abort(reason);
    await expect(sleep(10_000, ac.signal)).rejects.toBe(reason);
  });

  it("rejects with the signal's reason when it is aborted during the wait, without waiting the time out", async () => {
    const ac = new AbortController();
    const reason = new AbortedError("interrupted by SIGTERM", "SIGTERM");
    const started = performance.now();
    const slept = sleep(10_000, ac.signal);
    setTimeout(() => ac.abort(reason), 20);
    await expect(slept).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });

  it("removes its abort listener when the time has passed", async () => {
    const ac = new AbortController();
    await sleep(10, ac.signal);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });

  it("turns a reason that is not an AbortedError into one, keeping a signal name", async () => {
    const ac = new AbortController();
    ac.abort("SIGTERM");
    const err = await sleep(10_000, ac.signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as AbortedError).signalName).toBe("SIGTERM");
    const plain = new AbortController();
    plain.abort();
    expect(abortedError(plain.signal)).toMatchObject({ message: "interrupted", signalName: "abort" });
  });
});

describe("throwIfAborted", () => {
  it("throws the abort's AbortedError only once the signal fired", () => {
    const ac = new AbortController();
    expect(() => throwIfAborted(ac.signal)).not.toThrow();
    expect(() => throwIfAborted(undefined)).not.toThrow();
    const reason = new AbortedError("interrupted by SIGINT", "SIGINT");
    ac.abort(reason);
    expect(() => throwIfAborted(ac.signal)).toThrow(reason);
  });
});
