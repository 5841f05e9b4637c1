// web.auth: a request's Authorization header checked against the configured basic credentials or bearer token, in constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import type { WebAuthConfig } from "../config/schema.js";

/** Equal strings in time that depends on neither (both are hashed to 32 bytes first, so their lengths do not leak either). */
export function constantTimeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** No auth configured: every request is allowed (the schema only allows that on a loopback address). */
export function authorized(auth: WebAuthConfig | undefined, header: string | undefined): boolean {
  if (!auth) return true;
  if (header === undefined) return false;
  const m = /^(\S+)\s+(\S+)\s*$/.exec(header);
  if (!m) return false;
  const [scheme, value] = [m[1]!.toLowerCase(), m[2]!];
  if (auth.bearer_token !== undefined) return scheme === "bearer" && constantTimeEqual(value, auth.bearer_token);
  if (auth.basic === undefined || scheme !== "basic") return false;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  // Both halves are compared whatever the first gives: the time does not tell which one was wrong.
  const user = constantTimeEqual(decoded.slice(0, colon), auth.basic.username);
  const password = constantTimeEqual(decoded.slice(colon + 1), auth.basic.password);
  return user && password;
}

/** The WWW-Authenticate challenge of a 401. */
export function challenge(auth: WebAuthConfig): string {
  return auth.bearer_token !== undefined ? 'Bearer realm="chantal"' : 'Basic realm="chantal", charset="UTF-8"';
}
