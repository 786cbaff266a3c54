// test/browser/run.mjs SCENARIO — one browser scenario against a running
// ml-serve (LENSFLOW_URL); exit 0 when it passed. test/bats/browser.bats runs
// each scenario as one test. Every answer the page shows is compared with
// the API's own answer to the same question.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { DESKTOP, NARROW, api, open, rankedRows, sameRanking, shot, waitRows, withPage } from "./lib.mjs";

const msgIs = (page, id, re) =>
  page.waitForFunction(([i, src]) => new RegExp(src).test(document.getElementById(i).textContent), [id, re.source]);

// The user panel shows user `id`: highest-rated movies and recommendations as the API gives them.
async function checkUser(page, id) {
  await msgIs(page, "user-msg", new RegExp(`^User ${id}: `));
  const recs = await api(`/recommendations/${id}?k=10`);
  assert.equal(recs.status, 200);
  sameRanking(await rankedRows(page, "user-recs"), recs.body.items, `recommendations of user ${id}`);
  const rated = await api(`/users/${id}/ratings?limit=10`);
  const rows = await page.$$eval("#user-rated > li", (lis) =>
    lis.map((li) => [Number(li.dataset.movieId), li.querySelector(".title").textContent, Number(li.dataset.rating)]),
  );
  assert.deepEqual(
    rows,
    rated.body.items.map((m) => [m.movie_id, m.title, m.rating]),
    `highest-rated movies of user ${id}`,
  );
  // highest first, and none of them recommended again
  assert.ok(rows.every((r, i) => i === 0 || rows[i - 1][2] >= r[2]));
  const recIds = new Set(recs.body.items.map((i) => i.movie_id));
  assert.ok(rows.every((r) => !recIds.has(r[0])), "a rated movie was recommended");
  assert.equal(await page.textContent("#user-label"), String(id));
  assert.equal(await page.isVisible("#user-result"), true);
}

const scenarios = {
  // The picker and the id box; the answers equal the API's.
  async user() {
    await withPage(DESKTOP, async (page) => {
      await open(page);
      assert.match(await page.textContent("#status"), /^Ready: serving model version 1\.$/);
      await page.selectOption("#user-pick", "1");
      await checkUser(page, 1);
      assert.equal(await page.inputValue("#user-id"), "1");
      await page.fill("#user-id", "196");
      await page.click("#user-go");
      await checkUser(page, 196);
      assert.equal(await page.inputValue("#user-pick"), "", "the picker names another user");
      await page.fill("#user-id", "42");
      await page.click("#user-go");
      await checkUser(page, 42);
      assert.equal(await page.inputValue("#user-pick"), "42");
      await shot(page, "desktop-user.png", { locator: page.locator("#user") });
      // a recommended title opens that movie and the ones like it
      const top = (await api("/recommendations/42?k=10")).body.items[0];
      await page.click("#user-recs > li:first-child .title");
      await page.waitForFunction((t) => document.getElementById("movie-title").textContent === t, top.title);
      sameRanking(
        await rankedRows(page, "movie-similar"),
        (await api(`/movies/${top.movie_id}/similar?k=10`)).body.items,
        `movies like ${top.movie_id}`,
      );
      await shot(page, "desktop-full.png");
    });
  },

  // /?user=196 opens that user; showing another user makes the address that user's link.
  async shared() {
    await withPage(DESKTOP, async (page) => {
      await open(page, "/?user=196");
      await checkUser(page, 196);
      assert.equal(await page.inputValue("#user-id"), "196");
      await page.fill("#user-id", "42");
      await page.click("#user-go");
      await checkUser(page, 42);
      assert.equal(new URL(page.url()).search, "?user=42");
      await open(page, "/?user=nobody");
      await msgIs(page, "user-msg", /whole number/);
    });
  },

  // Keyboard only: Tab reaches the picker first, arrows choose, the id box and Enter work.
  async keyboard() {
    await withPage(DESKTOP, async (page) => {
      await open(page);
      const order = [];
      for (let i = 0; i < 9; i++) {
        await page.keyboard.press("Tab");
        order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.className));
      }
      assert.deepEqual(order, [
        "skip", "user-pick", "user-id", "user-go", "search-q", "search-go", "cold-q", "cold-search", "model-refresh",
      ]);
      // back to the picker with Shift+Tab, then choose with the arrow keys
      for (let i = 0; i < 7; i++) await page.keyboard.press("Shift+Tab");
      assert.equal(await page.evaluate(() => document.activeElement.id), "user-pick");
      await page.keyboard.press("ArrowDown"); // the first user of the list: 1
      await checkUser(page, 1);
      await page.keyboard.press("ArrowDown"); // the next: 2
      await checkUser(page, 2);
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement.id), "user-id");
      await page.keyboard.press("Control+A");
      await page.keyboard.type("42");
      await page.keyboard.press("Enter");
      await checkUser(page, 42);
      // a focus ring is drawn where the keyboard is
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.notEqual(outline, "none");
      // every control is a real control with a name: labels for fields, text for buttons
      const unnamed = await page.evaluate(() =>
        [...document.querySelectorAll("input, select, button")]
          .filter((e) => !(e.labels?.length || e.getAttribute("aria-label") || e.textContent.trim()))
          .map((e) => e.outerHTML),
      );
      assert.deepEqual(unnamed, []);
      assert.equal(await page.$$eval("[onclick], div[role=button], span[role=button]", (e) => e.length), 0);
      assert.equal(await page.getAttribute("#user-recs", "aria-labelledby"), "user-recs-h");
      assert.equal(await page.getAttribute("#user-msg", "aria-live"), "polite");
    });
  },

  // An unknown user and a malformed id are said in words; nothing stale stays shown.
  async unknown() {
    await withPage(DESKTOP, async (page) => {
      await open(page);
      await page.selectOption("#user-pick", "7");
      await checkUser(page, 7);
      const api404 = await api("/recommendations/99999?k=10");
      assert.equal(api404.status, 404);
      await page.fill("#user-id", "99999");
      await page.press("#user-id", "Enter");
      await msgIs(page, "user-msg", /^User 99999 /);
      const m = api404.body.message;
      assert.equal(
        await page.textContent("#user-msg"),
        `${m[0].toUpperCase()}${m.slice(1)}. Pick a user from the list or type another id.`,
      );
      assert.equal(await page.inputValue("#user-pick"), "", "the picker still names the previous user");
      assert.equal(await page.getAttribute("#user-msg", "data-kind"), "error");
      assert.equal(await page.isVisible("#user-result"), false);
      await shot(page, "unknown-user.png", { locator: page.locator("#user") });
      await page.fill("#user-id", "seven");
      await page.click("#user-go");
      await msgIs(page, "user-msg", /^A user id is a whole number/);
      assert.equal(await page.evaluate(() => document.activeElement.id), "user-id");
    });
  },

  // Search a title, open it, its most similar movies; a title in a list opens too.
  async search() {
    await withPage(DESKTOP, async (page) => {
      await open(page);
      await page.fill("#search-q", "star wars");
      await page.press("#search-q", "Enter");
      await msgIs(page, "search-msg", /match(es)? “star wars”/);
      const found = await api("/movies/search?q=star%20wars&limit=10");
      const rows = await page.$$eval("#search-results > li", (lis) =>
        lis.map((li) => [Number(li.dataset.movieId), li.querySelector(".title").textContent]),
      );
      assert.deepEqual(rows, found.body.map((m) => [m.movie_id, m.title]));
      assert.ok(rows.length > 0);
      await page.click("#search-results > li:first-child .title");
      const id = rows[0][0];
      await msgIs(page, "movie-msg", /movies most like/);
      const movie = await api(`/movies/${id}`);
      assert.equal(await page.textContent("#movie-title"), movie.body.title);
      assert.match(await page.textContent("#movie-meta"), new RegExp(`movie id ${id}$`));
      const similar = await api(`/movies/${id}/similar?k=10`);
      sameRanking(await rankedRows(page, "movie-similar"), similar.body.items, `movies like ${id}`);
      assert.equal(await page.evaluate(() => document.activeElement.id), "movie-title");
      await shot(page, "desktop-movie.png", { locator: page.locator("#movie") });
      // a similar movie's title opens that movie
      const second = similar.body.items[0];
      await page.click("#movie-similar > li:first-child .title");
      await page.waitForFunction((t) => document.getElementById("movie-title").textContent === t, second.title);
      sameRanking(
        await rankedRows(page, "movie-similar"),
        (await api(`/movies/${second.movie_id}/similar?k=10`)).body.items,
        `movies like ${second.movie_id}`,
      );
      // a search text with URL and HTML syntax in it: sent encoded, titles shown as text
      await page.fill("#search-q", "& ");
      await page.click("#search-go");
      await msgIs(page, "search-msg", /match(es)? “&”/);
      const amp = (await api("/movies/search?q=%26%20&limit=10")).body;
      assert.ok(amp.length > 0 && amp.every((m) => m.title.includes("&")));
      assert.deepEqual(
        await page.$$eval("#search-results .title", (b) => b.map((x) => x.textContent)),
        amp.map((m) => m.title),
      );
      // nothing found is said so
      await page.fill("#search-q", "zzqx no such film");
      await page.click("#search-go");
      await msgIs(page, "search-msg", /^No title contains “zzqx no such film”\.$/);
      assert.equal(await page.$$eval("#search-results > li", (l) => l.length), 0);
    });
  },

  // A new user rates three movies with stars; the page's answer is POST /recommendations'.
  async coldstart() {
    await withPage(DESKTOP, async (page) => {
      await open(page);
      assert.equal(await page.isDisabled("#cold-go"), true);
      const picks = [["toy story", 5], ["star wars", 4], ["fargo", 5], ["jaws", 1]];
      const body = { ratings: [], k: 10 };
      for (const [q, stars] of picks) {
        await page.fill("#cold-q", q);
        await page.press("#cold-q", "Enter");
        await msgIs(page, "cold-search-msg", new RegExp(`match(es)? “${q}”`));
        const first = (await api(`/movies/search?q=${encodeURIComponent(q)}&limit=10`)).body[0];
        const li = page.locator(`#cold-results > li[data-movie-id="${first.movie_id}"]`);
        await li.getByRole("button", { name: `Rate ${first.title} ${stars} star` }).click();
        assert.equal(await li.locator(`button[data-stars="${stars}"]`).getAttribute("aria-pressed"), "true");
        body.ratings.push({ movie_id: first.movie_id, rating: stars });
      }
      // change of mind: the last one removed again
      const dropped = body.ratings.pop();
      await page.click(`#cold-rated > li[data-movie-id="${dropped.movie_id}"] button`);
      assert.equal(await page.textContent("#cold-count"), "3");
      const shown = await page.$$eval("#cold-rated > li", (l) =>
        l.map((li) => ({ movie_id: Number(li.dataset.movieId), rating: Number(li.dataset.rating) })),
      );
      assert.deepEqual(shown, body.ratings);
      await page.click("#cold-go");
      await msgIs(page, "cold-msg", /^10 recommendations from your 3 ratings/);
      const recs = await api("/recommendations", { method: "POST", body: JSON.stringify(body) });
      assert.equal(recs.status, 200);
      sameRanking(await rankedRows(page, "cold-recs"), recs.body.items, "the new user's recommendations");
      const rated = new Set(body.ratings.map((r) => r.movie_id));
      assert.ok(recs.body.items.every((i) => !rated.has(i.movie_id)), "a rated movie was recommended");
      await shot(page, "desktop-cold-start.png", { locator: page.locator("#cold") });
      await page.click("#cold-clear");
      assert.equal(await page.textContent("#cold-count"), "0");
      assert.equal(await page.isDisabled("#cold-go"), true);
    });
  },

  // Serving version, champion, loaded time and offline metrics as /model and /metrics say.
  async model() {
    await withPage(DESKTOP, async (page) => {
      await open(page);
      await msgIs(page, "model-msg", /^Model /);
      const model = (await api("/model")).body;
      const text = await (await fetch(`${process.env.LENSFLOW_URL}/metrics`)).text();
      const champion = Number(/^lensflow_registry_champion_version (\d+)$/m.exec(text)[1]);
      const fact = (key) => page.textContent(`#model-facts dd[data-key="${key}"]`);
      assert.equal(await fact("name"), model.name);
      assert.equal(await fact("version"), model.version);
      assert.equal(await fact("run_id"), model.run_id);
      assert.equal(await fact("dim"), String(model.dim));
      assert.equal(await fact("sizes"), `${model.n_users} · ${model.n_items}`);
      const loaded = new Date(model.loaded_at * 1000).toISOString().slice(0, 19).replace("T", " ");
      assert.equal(await fact("loaded_at"), `${loaded} UTC`);
      assert.match(await fact("champion"), champion > 0 ? new RegExp(`^${champion} `) : new RegExp(`^${model.version} \\(the served set`));
      const names = Object.keys(model.metrics).sort();
      assert.ok(names.includes("ndcg@10") && names.includes("rmse"), names.join());
      const metrics = await page.$$eval("#model-metrics dd", (dds) => dds.map((d) => [d.dataset.key, d.textContent]));
      const text4 = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(4));
      assert.deepEqual(metrics, names.map((n) => [n, text4(model.metrics[n])]));
      // the arms: no challenger here; the champion's online hit rate as the gauges say
      assert.equal(await fact("challenger"), "none");
      const rate = /^lensflow_online_hit_rate\{arm="champion"\} (\S+)$/m.exec(text);
      const answers = /^lensflow_online_impressions\{arm="champion"\} (\S+)$/m.exec(text);
      assert.equal(
        await fact("online_champion"),
        !answers ? "not measured yet" : !rate ? "no answers in the window"
          : `${(100 * Number(rate[1])).toFixed(1)} % of ${answers[1]} answers`,
      );
      await shot(page, "desktop-model.png", { locator: page.locator("#model") });
    });
  },

  // 375 px wide: one column, nothing wider than the screen, every feature still works.
  async narrow() {
    await withPage(NARROW, async (page) => {
      await open(page);
      await page.selectOption("#user-pick", "13");
      await checkUser(page, 13);
      await page.fill("#search-q", "fargo");
      await page.press("#search-q", "Enter");
      await msgIs(page, "search-msg", /match(es)? “fargo”/);
      await page.click("#search-results > li:first-child .title");
      await msgIs(page, "movie-msg", /movies most like/);
      await page.fill("#cold-q", "toy story");
      await page.press("#cold-q", "Enter");
      await msgIs(page, "cold-search-msg", /match/);
      await page.click("#cold-results > li:first-child button[data-stars='5']");
      await page.click("#cold-go");
      await msgIs(page, "cold-msg", /^10 recommendations/);
      await msgIs(page, "model-msg", /^Model /);
      const layout = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        wide: [...document.querySelectorAll("body *")]
          .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > window.innerWidth + 0.5)
          .map((e) => e.id || e.className || e.tagName),
        cards: [...document.querySelectorAll(".card")].map((c) => Math.round(c.getBoundingClientRect().left)),
        small: [...document.querySelectorAll("button:not(.link), input, select")]
          .filter((e) => e.getClientRects().length && e.getBoundingClientRect().height < 44)
          .map((e) => e.id || e.outerHTML.slice(0, 60)),
        font: parseFloat(getComputedStyle(document.body).fontSize),
      }));
      assert.equal(layout.scroll, 375, "the page scrolls sideways");
      assert.deepEqual(layout.wide, [], "elements wider than the screen");
      assert.ok(new Set(layout.cards).size === 1, `cards not in one column: ${layout.cards}`);
      assert.deepEqual(layout.small, [], "touch targets under 44 px");
      assert.ok(layout.font >= 16);
      await shot(page, "narrow-375.png");
      await shot(page, "narrow-375-cold-start.png", { locator: page.locator("#cold") });
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot(page, "narrow-375-top.png", { fullPage: false });
    });
  },

  // ml-serve with nothing to serve: the banner and the panels say so in words.
  async notready() {
    await withPage(DESKTOP, async (page) => {
      await open(page);
      const ready = await api("/readyz");
      assert.equal(ready.status, 503);
      assert.equal(await page.getAttribute("#status", "data-kind"), "error");
      await msgIs(page, "model-msg", /^The service is not ready: no model loaded yet\. Try again in 5 s\.$/);
      assert.equal(await page.isVisible("#model-grid"), false);
      // the banner says what /readyz says, not another answer's words
      assert.equal(ready.body.detail, "no model loaded");
      assert.equal(await page.textContent("#status"), "The service is not ready: no model loaded. Checking again in 5 s.");
      await page.selectOption("#user-pick", "1");
      await msgIs(page, "user-msg", /^The service is not ready: no model loaded yet\. Try again in 5 s\.$/);
      assert.equal(await page.getAttribute("#user-msg", "data-kind"), "error");
      await shot(page, "not-ready.png", { fullPage: false });
      // a set of the model is switched in: ml-serve's poll serves it, the page sees it without a reload
      const { NOTREADY_LOAD } = process.env;
      if (NOTREADY_LOAD) {
        execFileSync("sh", ["-c", NOTREADY_LOAD], { stdio: ["ignore", "ignore", "inherit"] });
        await page.waitForFunction(
          () => document.getElementById("status").textContent.startsWith("Ready: "),
          null,
          { timeout: 20000 },
        );
        await msgIs(page, "model-msg", new RegExp(`^Model ${process.env.EMPTY_MODEL} version 1, loaded `));
        assert.equal(await page.isVisible("#model-grid"), true);
        // the registry's champion is version 2 while version 1 is served: the panel says both
        const champion = 'dd[data-key="champion"]';
        for (let i = 0; i < 20 && (await page.textContent(champion)) !== "2 (not the one served)"; i++) {
          await page.waitForTimeout(250);
          await page.click("#model-refresh");
          await msgIs(page, "model-msg", /^Model /);
        }
        assert.equal(await page.textContent(champion), "2 (not the one served)");
        assert.equal(await page.textContent('dd[data-key="version"]'), "1");
        await shot(page, "ready-again-model.png", { locator: page.locator("#model") });
        await page.click("#user-go");
        await checkUser(page, 1);
      }
    });
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`run.mjs: no scenario '${name}'; one of: ${Object.keys(scenarios).join(", ")}`);
  process.exit(64);
}
try {
  await scenarios[name]();
} catch (e) {
  console.error(e.stack || String(e));
  process.exit(1);
}
