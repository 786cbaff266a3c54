// test/browser/lib.mjs — what every browser scenario needs: Debian's chromium
// driven by playwright-core (no browser download), a fresh profile, the API
// asked directly (to compare the page's answers with), screenshots, and a
// watch on the console (a CSP violation or an uncaught error fails the run).
//
// Environment: LENSFLOW_URL (ml-serve, e.g. http://127.0.0.1:8000),
// SHOT_DIR (where screenshots go), CHROMIUM (default /usr/bin/chromium).
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BASE = process.env.LENSFLOW_URL;
export const SHOT_DIR = process.env.SHOT_DIR || join(tmpdir(), "lensflow-shots");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export const DESKTOP = { width: 1280, height: 900 };
export const NARROW = { width: 375, height: 812 };

// The JSON of an API answer: {status, body}.
export async function api(path, init = {}) {
  const res = await fetch(BASE + path, {
    ...init,
    headers: { Accept: "application/json", ...(init.body ? { "Content-Type": "application/json" } : {}) },
  });
  return { status: res.status, body: await res.json() };
}

// Runs fn(page, ctx) in a fresh browser; fails on page errors and CSP reports.
export async function withPage(viewport, fn) {
  assert.ok(BASE, "LENSFLOW_URL is not set");
  const profile = mkdtempSync(join(tmpdir(), "lensflow-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const problems = [];
  try {
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.setDefaultTimeout(15000);
    page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
    page.on("console", (m) => {
      // A 4xx/5xx the page asked for on purpose is logged as "Failed to load resource".
      if (m.type() === "error" && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("request", (r) => {
      if (!r.url().startsWith(BASE) && !r.url().startsWith("data:")) problems.push(`request off the origin: ${r.url()}`);
    });
    await fn(page, ctx);
    assert.deepEqual(problems, [], "the page logged errors");
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

export async function open(page, path = "/") {
  const res = await page.goto(BASE + path);
  assert.equal(res.status(), 200);
  // the page has asked /readyz and /model once it says something about them
  await page.waitForFunction(() => document.getElementById("status").dataset.kind !== "info");
}

export async function shot(page, name, opts = {}) {
  mkdirSync(SHOT_DIR, { recursive: true });
  const path = join(SHOT_DIR, name);
  await (opts.locator ? opts.locator.screenshot({ path }) : page.screenshot({ path, fullPage: opts.fullPage ?? true }));
  console.log(`# screenshot ${path}`);
}

// The rows of a ranked list on the page: [{id, title, score}].
export async function rankedRows(page, listId) {
  return page.$$eval(`#${listId} > li`, (lis) =>
    lis.map((li) => ({
      id: Number(li.dataset.movieId),
      title: li.querySelector(".title").textContent,
      score: Number(li.dataset.score),
      shown: li.querySelector(".score")?.textContent ?? "",
    })),
  );
}

// The page's list equals the API's items: same ids and titles in the same order, scores as sent.
export function sameRanking(rows, items, what) {
  assert.ok(items.length > 0, `${what}: the API gave no items`);
  assert.deepEqual(
    rows.map((r) => [r.id, r.title]),
    items.map((i) => [i.movie_id, i.title]),
    `${what}: the page shows another list than the API`,
  );
  rows.forEach((r, n) => {
    assert.ok(Math.abs(r.score - items[n].score) < 1e-9, `${what}: score of ${r.title}`);
    assert.equal(r.shown, `score ${items[n].score.toFixed(3)}`, `${what}: shown score of ${r.title}`);
  });
}

export async function waitRows(page, listId, n) {
  await page.waitForFunction(([id, k]) => document.querySelectorAll(`#${id} > li`).length === k, [listId, n]);
}
