// How many requests may be on the wire at once: a counting semaphore, and the process-wide connection caps per host
// and in total (http.max_connections_per_host, http.max_total_connections) that every repository's requests share.
// A slot is held from the request until its body is read or dropped: over HTTP/1.1 that is exactly a busy connection.
// An origin seen to speak HTTP/2 multiplexes its requests over the connections it has, so its requests take no slot.
import { subscribe } from "node:diagnostics_channel";
import { abortedError } from "../runtime/sleep.js";

export type Release = () => void;

/** Something a request waits on before it is sent; the Release frees the slot (once: a second call does nothing). */
export interface RequestGate {
  acquire(url: string, signal?: AbortSignal): Promise<Release>;
}

/** A counting semaphore; waiters are served in order, an aborted waiter leaves the queue. */
export class Semaphore {
  private inUse = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private limit: number) {}

  get active(): number {
    return this.inUse;
  }

  /** A new limit applies to the next acquisitions (slots in use are not taken back). */
  setLimit(limit: number): void {
    this.limit = limit;
    this.drain();
  }

  async acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) throw abortedError(signal);
    if (this.inUse < this.limit && this.waiters.length === 0) {
      this.inUse++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        this.inUse++;
        resolve();
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortedError(signal!));
      };
      this.waiters.push(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    return this.releaser();
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse--;
      this.drain();
    };
  }

  private drain(): void {
    while (this.inUse < this.limit && this.waiters.length > 0) this.waiters.shift()!();
  }
}

export interface ConnectionCaps {
  /** Connections (HTTP/1.1: requests in flight) to one host:port at once; undefined = no cap. */
  perHost?: number;
  /** Connections to all hosts at once; undefined = no cap. */
  total?: number;
}

/** The caps of one process, shared by every repository's requests; keyed by origin (scheme, host and port). */
export class ConnectionLimits implements RequestGate {
  private caps: ConnectionCaps = {};
  private readonly hosts = new Map<string, Semaphore>();
  private readonly totalSlots = new Semaphore(Number.POSITIVE_INFINITY);
  private readonly h2Origins = new Set<string>();

  configure(caps: ConnectionCaps): void {
    this.caps = caps;
    this.totalSlots.setLimit(caps.total ?? Number.POSITIVE_INFINITY);
    for (const s of this.hosts.values()) s.setLimit(caps.perHost ?? Number.POSITIVE_INFINITY);
  }

  /** The origin answered over HTTP/2: its requests share connections, so they are no longer counted as connections. */
  markHttp2(origin: string): void {
    this.h2Origins.add(origin);
  }

  isHttp2(origin: string): boolean {
    return this.h2Origins.has(origin);
  }

  /** Requests in flight that hold a slot, to this origin (tests, diagnostics). */
  activeFor(origin: string): number {
    return this.hosts.get(origin)?.active ?? 0;
  }

  async acquire(url: string, signal?: AbortSignal): Promise<Release> {
    // Without caps (the default) every request passes: no URL parse, no closure per request.
    if (this.caps.perHost === undefined && this.caps.total === undefined) return NO_SLOT;
    const origin = new URL(url).origin;
    if (this.h2Origins.has(origin)) return NO_SLOT;
    let host = this.hosts.get(origin);
    if (!host) {
      host = new Semaphore(this.caps.perHost ?? Number.POSITIVE_INFINITY);
      this.hosts.set(origin, host);
    }
    // Per host first: a request waiting for its busy host holds no slot of the total that another host could use.
    const releaseHost = await host.acquire(signal);
    try {
      const releaseTotal = await this.totalSlots.acquire(signal);
      return () => {
        releaseTotal();
        releaseHost();
      };
    } catch (err) {
      releaseHost();
      throw err;
    }
  }
}

const NO_SLOT: Release = () => undefined;

/** The process's caps: repositoryHttp() configures them from the global http: block. */
export const processConnectionLimits = new ConnectionLimits();

/** Requests pass every gate, in order; a failure to pass one frees those already passed. */
export function chainGates(...gates: (RequestGate | undefined)[]): RequestGate | undefined {
  const present = gates.filter((g): g is RequestGate => g !== undefined);
  if (present.length <= 1) return present[0];
  return {
    async acquire(url, signal) {
      const releases: Release[] = [];
      try {
        for (const g of present) releases.push(await g.acquire(url, signal));
      } catch (err) {
        for (const r of releases.reverse()) r();
        throw err;
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        for (const r of releases.reverse()) r();
      };
    },
  };
}

/** Every request of this dispatcher-agnostic gate holds one slot of `semaphore`, whatever its origin. */
export function semaphoreGate(semaphore: Semaphore): RequestGate {
  return { acquire: (_url, signal) => semaphore.acquire(signal) };
}

// undici announces every new connection with its protocol: an HTTP/2 one marks its origin in the process's caps.
subscribe("undici:client:connected", (message) => {
  const { connectParams } = message as { connectParams?: { protocol?: string; host?: string; version?: string } };
  if (connectParams?.version === "h2" && connectParams.protocol && connectParams.host)
    processConnectionLimits.markHttp2(`${connectParams.protocol}//${connectParams.host}`);
});
