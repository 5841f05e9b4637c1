// html``: every interpolation escaped unless it is Html built by html`` itself; arrays, null and false; query().
import { describe, expect, it } from "vitest";
import { escapeHtml, Html, html, query } from "../../../../core/web/html.js";

describe("escapeHtml", () => {
  it.each([
    ["<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"],
    [`" onmouseover="x`, "&quot; onmouseover=&quot;x"],
    ["it's", "it&#39;s"],
    ["a & b", "a &amp; b"],
    ["&lt;", "&amp;lt;"],
    ["plain-1.0", "plain-1.0"],
  ])("%j", (text, expected) => expect(escapeHtml(text)).toBe(expected));
});

describe("html``", () => {
  it("escapes strings and numbers, in content and in attributes", () => {
    const name = "<svg/onload=alert(1)>";
    expect(html`<td title="${name}">${name} ${42}</td>`.text).toBe(`<td title="&lt;svg/onload=alert(1)&gt;">&lt;svg/onload=alert(1)&gt; 42</td>`);
  });
  it("inserts Html unescaped, so nesting escapes once", () => {
    const inner = html`<b>${"<i>"}</b>`;
    expect(html`<p>${inner}</p>`.text).toBe("<p><b>&lt;i&gt;</b></p>");
  });
  it("joins arrays (each item escaped or nested) and renders null, undefined and false as nothing", () => {
    expect(html`<ul>${["<a>", html`<li>x</li>`]}</ul>${null}${undefined}${false}`.text).toBe("<ul>&lt;a&gt;<li>x</li></ul>");
  });
  it("a plain object that looks like Html is still escaped (only instances are trusted)", () => {
    const fake = { text: "<script>" } as unknown as string;
    expect(html`${fake}`.text).toBe("[object Object]");
    expect(new Html("<b>").toString()).toBe("<b>");
  });
  it("query() URL-encodes, then html`` escapes the & for the attribute", () => {
    expect(html`<a href="/d?${query({ from: "a&b", to: "<c>" })}">`.text).toBe(`<a href="/d?from=a%26b&amp;to=%3Cc%3E">`);
  });
});
