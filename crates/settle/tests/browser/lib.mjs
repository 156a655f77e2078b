// What both browser tests share: Debian's Chromium through playwright-core, a page that records every request
// leaving the Settle under test and every console error, and the checks' failures.
import { chromium } from "playwright-core";

export async function openPage(base) {
  const origin = new URL(base).origin;
  const browser = await chromium.launch({
    executablePath: process.env.SETTLE_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const outside = [];
  const errors = [];
  page.on("request", (r) => !r.url().startsWith(origin + "/") && !r.url().startsWith("data:") && outside.push(r.url()));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  return { browser, page, outside, errors };
}

/// Fails when a request left the server or the console showed an error.
export function checkClean({ outside, errors }, failures) {
  if (outside.length) failures.push(`requests left the server: ${outside.join(", ")}`);
  if (errors.length) failures.push(`console errors: ${errors.join(" | ")}`);
}

/// Whether the page scrolls sideways (unreadable at a phone's width).
export async function scrollsSideways(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
}
