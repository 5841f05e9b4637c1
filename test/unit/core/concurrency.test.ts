// forEachLimited: bounded, stops on the first failure or an abort, and rejects an abort that came after the last item was taken.
import { describe, expect, it } from "vitest";
import { forEachLimited } from "../../../core/concurrency.js";

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("forEachLimited", () => {
  const cases: { name: string; items: number; limit: number; abortAt?: number; failAt?: number; expectError?: RegExp; expectDone: number }[] = [
    { name: "runs every item", items: 10, limit: 3, expectDone: 10 },
    { name: "an abort during the last item (all taken) rejects", items: 4, limit: 4, abortAt: 3, expectError: /stop now/, expectDone: 4 },
    { name: "an abort mid-way stops taking items", items: 20, limit: 2, abortAt: 0, expectError: /stop now/, expectDone: 2 },
    { name: "a failure stops taking items and is the rejection", items: 20, limit: 2, failAt: 0, expectError: /item 0 failed/, expectDone: 2 },
  ];
  it.each(cases)("$name", async ({ items, limit, abortAt, failAt, expectError, expectDone }) => {
    const ac = new AbortController();
    let done = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const run = forEachLimited(
      Array.from({ length: items }, (_, i) => i),
      limit,
      async (i) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await tick();
        if (i === abortAt) ac.abort(new Error("stop now"));
        inFlight--;
        done++;
        if (i === failAt) throw new Error(`item ${i} failed`);
      },
      ac.signal,
    );
    if (expectError) await expect(run).rejects.toThrow(expectError);
    else await run;
    expect(done).toBe(expectDone);
    expect(maxInFlight).toBeLessThanOrEqual(limit);
    expect(inFlight).toBe(0);
  });
});
