// A real SMTP server on 127.0.0.1 for tests (the smtp-server package): STARTTLS with the test CA's certificate,
// AUTH PLAIN/LOGIN against one account, and a plan that refuses recipients (4xx or 5xx) before accepting.
import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  /** STARTTLS was done before the message. */
  secure: boolean;
  user: string | undefined;
}

export type SmtpAnswer = "accept" | "temporary" | "permanent";

export interface SmtpTestServer {
  port: number;
  mails: ReceivedMail[];
  /** RCPT TO attempts, with how each was answered. */
  attempts: SmtpAnswer[];
  authFailures: number;
  close(): Promise<void>;
}

export async function startSmtpServer(opts: {
  tls: { key: string; cert: string };
  auth?: { username: string; password: string };
  /** Answer of the n-th RCPT TO (1-based); default accept. */
  plan?: (n: number) => SmtpAnswer;
}): Promise<SmtpTestServer> {
  const mails: ReceivedMail[] = [];
  const attempts: SmtpAnswer[] = [];
  let authFailures = 0;
  const options: SMTPServerOptions = {
    secure: false,
    key: opts.tls.key,
    cert: opts.tls.cert,
    logger: false,
    disabledCommands: opts.auth ? [] : ["AUTH"],
    authMethods: ["PLAIN", "LOGIN"],
    // AUTH only after STARTTLS (the default): a login that works proves the upgrade happened.
    allowInsecureAuth: false,
    authOptional: !opts.auth,
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.username && auth.password === opts.auth.password) return cb(null, { user: auth.username });
      authFailures++;
      const err = Object.assign(new Error("Invalid username or password"), { responseCode: 535 });
      cb(err);
    },
    onRcptTo(_address, _session, cb) {
      const answer = opts.plan?.(attempts.length + 1) ?? "accept";
      attempts.push(answer);
      if (answer === "accept") return cb();
      const err = Object.assign(new Error(answer === "temporary" ? "Mailbox busy, try later" : "Relaying denied"), {
        responseCode: answer === "temporary" ? 451 : 550,
      });
      cb(err);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
          secure: session.secure,
          user: session.user as string | undefined,
        });
        cb();
      });
    },
  };
  const server = new SMTPServer(options);
  server.on("error", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    attempts,
    get authFailures() {
      return authFailures;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A MIME part's text with quoted-printable undone (soft line breaks and =XX). */
export function decodeQuotedPrintable(s: string): string {
  const bytes = s.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}
