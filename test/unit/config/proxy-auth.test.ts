// proxy.auth: basic is accepted, negotiate (Kerberos) is refused with the reason and the fix (issue 22 point 3).
import { describe, expect, it } from "vitest";
import { ProxySchema } from "../../../core/config/schema.js";

describe("proxy.auth", () => {
  it("accepts basic", () => expect(ProxySchema.parse({ https_proxy: "http://p:3128", auth: "basic", username: "u", password: "x" }).auth).toBe("basic"));
  it("refuses negotiate, naming the key and a fix", () => {
    const r = ProxySchema.safeParse({ https_proxy: "http://p:3128", auth: "negotiate" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["auth"]);
    expect(r.error?.issues[0]?.message).toMatch(/negotiate \(Kerberos\) proxy authentication is not supported.*fix: use auth: basic/);
  });
});
