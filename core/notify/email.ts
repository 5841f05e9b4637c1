// E-mail delivery through nodemailer's SMTP transport: STARTTLS when offered (or required), AUTH, a CA file; a
// temporary failure (4xx, a lost connection) is retried with backoff, a permanent one (5xx) is not. Never throws.
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type nodemailer from "nodemailer";
import type { EmailConfig, SmtpConfig } from "../config/schema.js";
import { errorMessage } from "../errors.js";
import { redactSecrets } from "../redact.js";
import type { RenderedMail } from "./render.js";

export const EMAIL_BACKOFF = { baseMs: 2000, maxMs: 120_000 };

export interface EmailDeps {
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  onRetry?: (info: { attempt: number; delayMs: number; error: string }) => void;
}

export interface EmailOutcome {
  ok: boolean;
  attempts: number;
  /** The server's id of the accepted message. */
  messageId?: string;
  error?: string;
}

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  message?: string;
}

/** A 5xx answer will not change by retrying (a refused recipient, bad credentials); anything else may. */
export function smtpRetryable(err: unknown): boolean {
  const e = err as SmtpFailure;
  if (typeof e.responseCode === "number") return e.responseCode < 500;
  return e.code !== "EAUTH" && e.code !== "EENVELOPE" && e.code !== "EMESSAGE";
}

function transportOptions(smtp: SmtpConfig) {
  const ca = smtp.ca_file ? [...rootCertificates, readFileSync(smtp.ca_file, "utf8")] : undefined;
  const ms = smtp.timeout_seconds * 1000;
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.require_starttls,
    ...(smtp.username ? { auth: { user: smtp.username, pass: smtp.password ?? "" } } : {}),
    tls: ca ? { ca } : {},
    connectionTimeout: ms,
    greetingTimeout: ms,
    socketTimeout: ms,
    // No pooled connection: a mail now and then, and nothing left open when the command ends.
    pool: false,
  };
}

/** Send one mail to every address of notify.email.to. */
export async function sendMail(email: EmailConfig, mail: RenderedMail, deps: EmailDeps): Promise<EmailOutcome> {
  const secrets = [email.smtp.password];
  let transport: ReturnType<typeof nodemailer.createTransport>;
  try {
    // Loaded on first mail: a sync without notify.email does not pay nodemailer's start-up.
    const { default: mailer } = await import("nodemailer");
    transport = mailer.createTransport(transportOptions(email.smtp));
  } catch (err) {
    return { ok: false, attempts: 0, error: redactSecrets(`notify.email.smtp: ${errorMessage(err)}`, secrets) };
  }
  try {
    for (let n = 1; ; n++) {
      try {
        const info = await transport.sendMail({ from: email.from, to: email.to, subject: mail.subject, text: mail.text, html: mail.html });
        return { ok: true, attempts: n, messageId: info.messageId };
      } catch (err) {
        if (deps.signal?.aborted) throw err;
        const error = redactSecrets(errorMessage(err), secrets);
        if (!smtpRetryable(err) || n > email.smtp.retries) return { ok: false, attempts: n, error };
        const delayMs = Math.min(EMAIL_BACKOFF.maxMs, EMAIL_BACKOFF.baseMs * 2 ** (n - 1));
        deps.onRetry?.({ attempt: n, delayMs, error });
        await deps.sleep(delayMs, deps.signal);
      }
    }
  } finally {
    transport.close();
  }
}
