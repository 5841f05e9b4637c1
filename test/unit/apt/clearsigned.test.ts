// Tests of splitClearsigned (core/openpgp/signature.ts): the clearsigned InRelease grammar.
import { describe, expect, it } from "vitest";
import { splitClearsigned } from "../../../core/openpgp/signature.js";

const SIG = "-----BEGIN PGP SIGNATURE-----\n\niQ==\n=abcd\n-----END PGP SIGNATURE-----";
const doc = (body: string, { before = "", after = "\n", headers = "Hash: SHA512\n" } = {}) =>
  `${before}-----BEGIN PGP SIGNED MESSAGE-----\n${headers}\n${body}\n${SIG}${after}`;

describe("splitClearsigned", () => {
  it("returns the signed text without dash-escaping and without the newline before the signature", () => {
    const parts = splitClearsigned(doc("Suite: x\n- -not a header\nSHA256:\n abc 1 a"), "InRelease");
    expect(parts.payload).toBe("Suite: x\n-not a header\nSHA256:\n abc 1 a");
    expect(parts.signature).toBe(SIG);
  });

  it("accepts CRLF line ends, blank lines before and whitespace after", () => {
    const text = doc("Suite: x", { before: "\n\n", after: "\n\n  \n" }).replace(/\n/g, "\r\n");
    expect(splitClearsigned(text, "InRelease").payload).toBe("Suite: x");
  });

  it.each([
    ["text before the message", doc("Suite: x", { before: "Suite: evil\n" }), /is not a clearsigned document/],
    ["text after the signature", doc("Suite: x", { after: "\nSHA256:\n f 1 a\n" }), /data after the signature .* is refused/],
    ["a second signed message", `${doc("Suite: x")}${doc("Suite: y")}`, /data after the signature/],
    [
      "a signature that does not end",
      `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSuite: x\n-----BEGIN PGP SIGNATURE-----\n\niQ==\n`,
      /not terminated/,
    ],
    ["no signature", `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSuite: x\n`, /has no signature/],
    ["an unescaped dash line", doc("Suite: x\n-----BEGIN PGP SIGNED MESSAGE-----\nSuite: y"), /unexpected line/],
    ["a malformed armor header", doc("Suite: x", { headers: "garbage\n" }), /malformed armor header/],
    ["a plain Release", "Suite: x\nSHA256:\n", /is not a clearsigned document/],
  ])("refuses %s", (_what, text, message) => {
    expect(() => splitClearsigned(text, "InRelease")).toThrow(message);
  });
});
