// Tests of the port choice for long-lived servers (core/free-port.ts): below the kernel's ephemeral range, then any.
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { expect, it } from "vitest";
import { ephemeralRange, serverPort, serverPortCandidates } from "../../../core/free-port.js";

it.each([
  { text: "32768\t60999\n", range: { low: 32768, high: 60999 } },
  { text: "1024 65535", range: { low: 1024, high: 65535 } },
  { text: undefined, range: { low: 32768, high: 60999 } },
  { text: "", range: { low: 32768, high: 60999 } },
  { text: "garbage", range: { low: 32768, high: 60999 } },
  { text: "60999 32768", range: { low: 32768, high: 60999 } },
  { text: "0 70000", range: { low: 32768, high: 60999 } },
])("ephemeralRange($text)", ({ text, range }) => {
  expect(ephemeralRange(text)).toEqual(range);
});

it.each([
  { name: "Linux's default range", range: { low: 32768, high: 60999 }, randoms: [0, 0.5, 0.999999], ports: [10000, 21384, 32767, 0] },
  { name: "a range starting at 20000", range: { low: 20000, high: 60999 }, randoms: [0, 0.5], ports: [10000, 15000, 0] },
  { name: "a range that leaves nothing below 10000's floor", range: { low: 1024, high: 65535 }, randoms: [0.5], ports: [0] },
])("serverPortCandidates: $name", ({ range, randoms, ports }) => {
  const queue = [...randoms];
  expect(serverPortCandidates(range, () => queue.shift() ?? 0, randoms.length)).toEqual(ports);
});

it("serverPort skips a candidate that is taken and returns the next free one", async () => {
  const { low } = ephemeralRange(await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8").catch(() => undefined));
  const squatter = createServer();
  let taken = 0;
  for (let p = 10_000 + Math.floor(Math.random() * 10_000); taken === 0 && p < low; p++) {
    taken = await new Promise<number>((ok) => {
      squatter.once("error", () => ok(0));
      squatter.listen(p, "127.0.0.1", () => ok(p));
    });
  }
  expect(taken).toBeGreaterThan(0);
  try {
    const toRandom = (port: number) => (port - 10_000 + 0.5) / (low - 10_000);
    const next = taken + 1 < low ? taken + 1 : taken - 1;
    const randoms = [toRandom(taken), toRandom(next)];
    expect(await serverPort(() => randoms.shift() ?? 0)).toBe(next);
  } finally {
    await new Promise((ok) => squatter.close(ok));
  }
});
