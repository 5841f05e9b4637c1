// A real webhook receiver on 127.0.0.1 for tests: records every POST with its raw body, checks the HMAC-SHA256
// signature with node:crypto itself (not Chantal's code), and answers as its plan says: ok, fail (503) or hang.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type ReceiverAnswer = "ok" | "fail" | "reject" | "hang";

export interface ReceivedHook {
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON. */
  json: Record<string, unknown>;
  /** Whether X-Chantal-Signature-256 is sha256=HMAC(secret, body); null without a secret. */
  signatureValid: boolean | null;
  at: number;
  answered: ReceiverAnswer;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedHook[];
  close(): Promise<void>;
}

/** `plan(n)` answers the n-th request (1-based): default always ok. */
export async function startWebhookReceiver(opts: { secret?: string; plan?: (n: number) => ReceiverAnswer } = {}): Promise<WebhookReceiver> {
  const received: ReceivedHook[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const answer = opts.plan?.(received.length + 1) ?? "ok";
      let signatureValid: boolean | null = null;
      if (opts.secret) {
        const want = Buffer.from(`sha256=${createHmac("sha256", opts.secret).update(body).digest("hex")}`);
        const got = Buffer.from(String(req.headers["x-chantal-signature-256"] ?? ""));
        signatureValid = want.length === got.length && timingSafeEqual(want, got);
      }
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // recorded as {}: the test's assertions say what was expected
      }
      received.push({ headers: req.headers, body, json, signatureValid, at: Date.now(), answered: answer });
      if (answer === "hang") {
        hanging.add(res);
        return;
      }
      res.writeHead(answer === "ok" ? 204 : answer === "reject" ? 400 : 503).end();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/chantal-token-in-path`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
