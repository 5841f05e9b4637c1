// The daemon's Prometheus endpoint: a node:http server answering GET /metrics (404 elsewhere, 405 for other methods).
import { createServer, type Server } from "node:http";
import { prometheusContentType } from "prom-client";
import { ChantalError, errorMessage } from "../errors.js";
import type { Logger } from "../log.js";

export interface MetricsListen {
  host: string;
  port: number;
}

/** "127.0.0.1:9464" → host and port; a bare port listens on 127.0.0.1. */
export function parseListen(text: string): MetricsListen {
  const m = /^(?:(.+):)?([0-9]{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port < 1 || port > 65_535)
    throw new ChantalError(`metrics listen address ${JSON.stringify(text)} is not host:port: write it like 127.0.0.1:9464 (metrics.listen or --http)`);
  return { host: m[1]?.replace(/^\[(.*)\]$/, "$1") ?? "127.0.0.1", port };
}

export interface MetricsServer {
  /** http://host:port (the port the system chose when 0 was asked). */
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(listen: MetricsListen, render: () => Promise<string>, log: Logger): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: the metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET", "content-type": "text/plain; charset=utf-8" }).end("only GET\n");
      return;
    }
    render().then(
      (body) => res.writeHead(200, { "content-type": prometheusContentType }).end(body),
      (err: unknown) => {
        log.warn({ error: errorMessage(err) }, "metrics: cannot collect");
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`cannot collect the metrics: ${errorMessage(err)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(new ChantalError(`cannot listen on ${listen.host}:${listen.port} for the metrics: ${err.message} (choose another metrics.listen or --http)`)),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : listen.port;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
