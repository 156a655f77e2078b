// The API reference in a real browser: /docs renders every tag of /openapi.json, "Try it out" on GET /health gets
// its 200 from this Settle, the console shows no error, and no request leaves the Settle under test.
// Usage: node docs.mjs <base URL> <screenshot file>; prints a JSON summary; exits 1 on a failed check.
import { checkClean, openPage, scrollsSideways } from "./lib.mjs";

const [base, shot] = process.argv.slice(2);
const seen = await openPage(base);
const { browser, page, errors } = seen;
const failures = [];
try {
  page.on("response", (r) => r.status() >= 400 && r.url() !== base + "/health" && errors.push(`${r.status()} ${r.url()}`));
  await page.goto(base + "/docs", { waitUntil: "load" });
  await page.waitForSelector(".opblock-tag-section", { timeout: 30000 });

  const spec = await (await fetch(base + "/openapi.json")).json();
  const want = [...new Set(Object.values(spec.paths).flatMap((p) => Object.values(p).flatMap((op) => op.tags || [])))].sort();
  const shown = (await page.$$eval(".opblock-tag", (els) => els.map((e) => e.getAttribute("data-tag")))).sort();
  for (const t of want) if (!shown.includes(t)) failures.push(`tag ${t} is not rendered`);

  // The bearer schemes are wired: "Authorize" offers both.
  await page.click(".btn.authorize");
  const schemes = await page.$$eval(".auth-container h4", (els) => els.map((e) => e.textContent));
  if (schemes.length < 2) failures.push(`Authorize shows ${schemes.length} schemes`);
  await page.click(".btn-done, .close-modal");

  // Try it out: GET /health answers 200 from this server.
  const op = "#operations-health-health";
  await page.click(`${op} .opblock-summary`);
  await page.click(`${op} .try-out__btn`);
  const answered = page.waitForResponse((r) => r.url() === base + "/health");
  await page.click(`${op} .execute`);
  const res = await answered;
  if (res.status() !== 200) failures.push(`try it out: GET /health answered ${res.status()}`);
  const cell = `${op} .live-responses-table tbody .response-col_status`;
  await page.waitForSelector(cell, { timeout: 15000 });
  const status = (await page.textContent(cell)).trim();
  if (!status.startsWith("200")) failures.push(`the page shows ${status} for GET /health`);
  if (shot) await page.screenshot({ path: shot, fullPage: false });

  // Usable at a phone's width: the tags still render without a horizontal scroll of the page.
  await page.setViewportSize({ width: 390, height: 844 });
  if (await scrollsSideways(page)) failures.push("the page scrolls sideways at 390 px");
  checkClean(seen, failures);
  console.log(JSON.stringify({ tags: shown, want, status, failures }));
} finally {
  await browser.close();
}
process.exit(failures.length ? 1 : 0);
