// A free TCP port on 127.0.0.1 for a server we start next: any the kernel offers (tests, benchmarks), or one outside its ephemeral range (embedded PostgreSQL).
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return listenOnce(0);
}

/** The kernel's range for outgoing connections' local ports, from `ip_local_port_range` ("32768\t60999"); Linux's default when unreadable. */
export function ephemeralRange(text: string | undefined): { low: number; high: number } {
  const [low, high] = (text ?? "").trim().split(/\s+/).map(Number);
  if (low === undefined || high === undefined || !Number.isInteger(low) || !Number.isInteger(high) || low < 1 || high > 65535 || low > high) {
    return { low: 32768, high: 60999 };
  }
  return { low, high };
}

const LOWEST_SERVER_PORT = 10_000;

/**
 * The ports to try for a long-lived server, in order: random ones below the ephemeral range, where no outgoing
 * connection takes them while the server is down (initdb, a restart), then any port the kernel offers (0).
 */
export function serverPortCandidates(range: { low: number; high: number }, random: () => number, tries = 20): number[] {
  const span = range.low - LOWEST_SERVER_PORT;
  const below = span > 0 ? Array.from({ length: tries }, () => LOWEST_SERVER_PORT + Math.floor(random() * span)) : [];
  return [...below, 0];
}

/** A port that is free now and that outgoing connections will not take in the meantime, if the system leaves one. */
export async function serverPort(random: () => number = Math.random): Promise<number> {
  const text = await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8").catch(() => undefined);
  for (const candidate of serverPortCandidates(ephemeralRange(text), random)) {
    const port = await listenOnce(candidate).catch(() => undefined);
    if (port !== undefined) return port;
  }
  throw new Error("no free TCP port on 127.0.0.1");
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const addr = server.address();
      server.close(() => (typeof addr === "object" && addr ? resolvePort(addr.port) : reject(new Error("no port"))));
    });
  });
}
