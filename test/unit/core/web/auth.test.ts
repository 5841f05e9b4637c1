// web.auth: basic credentials and bearer tokens accepted only when both parts match; no auth allows everything; the challenge.
import { describe, expect, it } from "vitest";
import { authorized, challenge, constantTimeEqual } from "../../../../core/web/auth.js";

const basic = { basic: { username: "ops", password: "s3cret-pass" } };
const bearer = { bearer_token: "0123456789abcdef-token" };
const b64 = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;

describe("authorized", () => {
  it.each([
    [basic, b64("ops:s3cret-pass"), true],
    [basic, `basic ${Buffer.from("ops:s3cret-pass").toString("base64")}`, true],
    [basic, b64("ops:s3cret-pass:more"), false],
    [basic, b64("ops:wrong"), false],
    [basic, b64("root:s3cret-pass"), false],
    [basic, b64("ops"), false],
    [basic, b64(":"), false],
    [basic, "Bearer s3cret-pass", false],
    [basic, "Basic", false],
    [basic, undefined, false],
    [bearer, "Bearer 0123456789abcdef-token", true],
    [bearer, "bearer 0123456789abcdef-token", true],
    [bearer, "Bearer 0123456789abcdef-toke", false],
    [bearer, "Bearer 0123456789abcdef-tokenX", false],
    [bearer, b64("x:0123456789abcdef-token"), false],
    [bearer, "", false],
    [undefined, undefined, true],
  ])("%j with %j: %s", (auth, header, expected) => expect(authorized(auth, header)).toBe(expected));

  it("passwords with a colon: everything after the first colon is the password", () => {
    expect(authorized({ basic: { username: "u", password: "a:b:c-long" } }, b64("u:a:b:c-long"))).toBe(true);
  });

  it("constantTimeEqual compares strings of any lengths", () => {
    expect(constantTimeEqual("a", "a")).toBe(true);
    expect(constantTimeEqual("a", "ab")).toBe(false);
    expect(constantTimeEqual("", "")).toBe(true);
  });

  it("challenge names the scheme", () => {
    expect(challenge(basic)).toMatch(/^Basic realm="chantal"/);
    expect(challenge(bearer)).toBe('Bearer realm="chantal"');
  });
});
