// The dashboard in headless Chromium (Debian's, driven by playwright-core): the daemon serves it on 127.0.0.1 without a login
// against real syncs (one ok, one failing, one stale); the states shown, a snapshot diff opened from the repository page, a package
// name that is markup shown as text with no dialog fired, and a screenshot kept as a CI artifact (test-artifacts/dashboard.png).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "../helpers/cli.js";
import { type Daemon, type DashboardFixture, setUpDashboard, startDaemon, XSS_DESCRIPTION, XSS_NAME } from "../helpers/dashboard-fixture.js";
import { describeWithTools } from "../helpers/tools.js";

const CHROMIUM = "/usr/bin/chromium";
/** The one browser global used (tsconfig has no DOM library). */
type BrowserWindow = { getComputedStyle(e: unknown): { backgroundColor: string } };
const ARTIFACTS = join(repoRoot, "test-artifacts");

let fx: DashboardFixture | undefined;
let daemon: Daemon | undefined;
let browser: Browser | undefined;
let page: Page;
const dialogs: string[] = [];
const failedRequests: string[] = [];

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
  await fx?.close();
});

describeWithTools(["chromium"], "the dashboard in headless Chromium", () => {
  beforeAll(async () => {
    fx = await setUpDashboard();
    daemon = await startDaemon(fx.env);
    // Root has no user namespace sandbox to give; the page comes from 127.0.0.1 only.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // Any request beyond the listener (a CDN font, an injected image) would show here.
    page.on("request", (r) => {
      if (!r.url().startsWith(daemon!.url)) failedRequests.push(r.url());
    });
  }, 300_000);

  it("the overview shows each repository's freshness, the failing one's error and the next run", async () => {
    const res = await page.goto(`${daemon!.url}/`);
    expect(res?.status()).toBe(200);
    const state = (id: string) => page.locator(`tr[data-repo="${id}"]`).getAttribute("data-state");
    expect([await state("good"), await state("quick"), await state("broken")]).toEqual(["ok", "stale", "failing"]);
    const badge = (id: string) => page.locator(`tr[data-repo="${id}"] .state`).innerText();
    expect([await badge("good"), await badge("quick"), await badge("broken")]).toEqual(["ok", "stale", "failing"]);
    // Styled from /style.css (the CSP allows no inline style): the failing badge is red.
    expect(
      await page.locator('tr[data-repo="broken"] .state').evaluate((e) => (globalThis as unknown as BrowserWindow).getComputedStyle(e).backgroundColor),
    ).toBe("rgb(179, 38, 30)");
    expect(await page.locator('tr[data-repo="broken"] td.error').innerText()).toMatch(/127\.0\.0\.1|refused|ECONNREFUSED/);
    expect(await page.locator('tr[data-repo="good"]').innerText()).toContain("0 4 * * *");
    expect(await page.locator('tr[data-repo="good"] time').count()).toBeGreaterThanOrEqual(2); // last and next run
    // The description is markup from the configuration: shown as text, no element made of it.
    expect(await page.locator('tr[data-repo="good"]').innerText()).toContain(XSS_DESCRIPTION);
    expect(await page.locator("main img").count()).toBe(0);
  });

  it("opens the snapshot diff from the repository page: side by side, the hostile package name as text", async () => {
    await page.goto(`${daemon!.url}/`);
    await page.click('tr[data-repo="good"] a');
    await page.waitForURL(/\/repositories\/good$/);
    expect(await page.locator("h1").innerText()).toBe("Repository good");
    expect(await page.locator("tr[data-run]").count()).toBe(2);
    await page.click('tr[data-snapshot="s2"] a.diff-previous');
    await page.waitForURL(/\/repositories\/good\/diff\?from=s1&to=s2$/);
    expect(await page.locator("h1").innerText()).toBe("good: s1 → s2");
    const rows = await page.locator("table.diff tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    expect(rows).toEqual([
      [XSS_NAME, "noarch", "", "1.1-1", "added"],
      ["pkg000000", "noarch", "1.0-1", "", "removed"],
      ["pkg000001", "noarch", "1.0-1", "1.1-1", "upgrade"],
      ["pkg000002", "noarch", "1.0-1", "1.1-1", "upgrade"],
      ["pkg000003", "noarch", "", "1.1-1", "added"],
    ]);
    expect(await page.locator("table.diff svg").count()).toBe(0);
    expect(await page.locator("table.diff thead").innerText()).toMatch(/s1[\s\S]*s2/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-diff.png"), fullPage: true });
  });

  it("the diff form, groups, backups and pool pages; a screenshot of the overview", async () => {
    await page.goto(`${daemon!.url}/repositories/good`);
    await page.selectOption('select[name="from"]', "s1");
    await page.selectOption('select[name="to"]', "G1");
    await page.click('form button[type="submit"]');
    await page.waitForURL(/\/diff\?from=s1&to=G1$/);
    expect(await page.locator("main p").first().innerText()).toMatch(/2 added, 1 removed, 2 updated/);

    await page.goto(`${daemon!.url}/groups`);
    expect(await page.locator('tr[data-environment="dev"]').innerText()).toMatch(/el\s+G1/);
    expect(await page.locator('tr[data-environment="prod"]').innerText()).toContain("serves nothing yet");
    await page.goto(`${daemon!.url}/backups`);
    expect(await page.locator("main table tbody tr").count()).toBe(1);
    await page.goto(`${daemon!.url}/pool`);
    expect(await page.locator("main").innerText()).toMatch(/pool gc would free/);

    await page.goto(`${daemon!.url}/`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    expect(dialogs).toEqual([]);
    expect(failedRequests).toEqual([]);
  });
});
