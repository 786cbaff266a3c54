// lensflow's page: plain DOM, no framework, no build step. Every piece of data
// reaches the page through textContent or text nodes, never innerHTML: titles
// hold quotes, ampersands and the odd angle bracket.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const TIMEOUT_MS = 10000;
  const READY_RETRY_MS = 5000;
  const TOP_K = 10;

  // ---------- talking to ml-serve ----------

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  // The JSON answer of ml-serve, or an ApiError whose message a person can read.
  async function api(path, init = {}) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    const headers = { Accept: "application/json" };
    if (init.body) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, { ...init, headers, signal: abort.signal });
    } catch {
      throw new ApiError(
        abort.signal.aborted
          ? `ml-serve did not answer within ${TIMEOUT_MS / 1000} s. Try again in a moment.`
          : "Cannot reach ml-serve: the server is stopped or the network failed.",
        0,
      );
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      const said = body && typeof body.message === "string" ? body.message : `HTTP ${res.status}`;
      if (res.status === 503) {
        const retry = res.headers.get("Retry-After");
        readySoon();
        throw new ApiError(
          `The service is not ready: ${said}.` + (retry ? ` Try again in ${retry} s.` : ""),
          503,
        );
      }
      throw new ApiError(sentence(said), res.status);
    }
    if (body === null) throw new ApiError("ml-serve answered with something that is not JSON.", res.status);
    return body;
  }

  function sentence(text) {
    const t = String(text).trim();
    if (!t) return t;
    const first = t[0].toUpperCase() + t.slice(1);
    return /[.!?]$/.test(first) ? first : `${first}.`;
  }

  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) node.append(kid);
    return node;
  }

  function say(region, text, kind = "info") {
    region.textContent = text;
    region.dataset.kind = kind;
  }

  // Only the answer to the latest request of a panel may paint it.
  function latest() {
    let current = 0;
    return () => {
      const mine = ++current;
      return () => mine === current;
    };
  }

  function stars(n) {
    const full = Math.max(0, Math.min(5, Math.round(n)));
    return "★".repeat(full) + "☆".repeat(5 - full);
  }

  // ---------- readiness ----------

  // The banner says what /readyz says; any 503 of another answer asks it again
  // (once: a check already pending covers it), and while not ready it is asked
  // every Retry-After seconds. Back to ready, the model panel is loaded again.
  const status = $("status");
  let readyTimer = null;

  function readySoon() {
    if (readyTimer === null) readyTimer = setTimeout(checkReady, 0);
  }

  async function checkReady() {
    clearTimeout(readyTimer);
    readyTimer = null;
    const was = status.dataset.kind;
    let res, body;
    try {
      res = await fetch("/readyz", { headers: { Accept: "application/json" } });
      body = await res.json();
    } catch {
      say(status, "Cannot reach ml-serve: the server is stopped or the network failed.", "error");
      return;
    }
    if (res.ok) {
      say(status, `Ready: serving model version ${body.model_version}.`, "ok");
      if (was === "error") loadModel();
      return;
    }
    const detail = body && (body.detail || body.message) ? body.detail || body.message : `HTTP ${res.status}`;
    const secs = Number(res.headers.get("Retry-After")) > 0 ? Number(res.headers.get("Retry-After")) : READY_RETRY_MS / 1000;
    say(status, `The service is not ready: ${detail}. Checking again in ${secs} s.`, "error");
    readyTimer = setTimeout(checkReady, secs * 1000);
  }

  // ---------- movie rows ----------

  function movieButton(movie) {
    return el(
      "button",
      {
        type: "button",
        class: "link title",
        title: "Show this movie and the ones most like it",
        onclick: () => openMovie(movie.movie_id),
      },
      movie.title,
    );
  }

  function rankedRow(item) {
    return el(
      "li",
      { "data-movie-id": item.movie_id, "data-score": item.score },
      el(
        "span",
        { class: "line" },
        movieButton(item),
        el("span", { class: "score", title: "model score" }, `score ${item.score.toFixed(3)}`),
      ),
    );
  }

  function ratedRow(item) {
    return el(
      "li",
      { "data-movie-id": item.movie_id, "data-rating": item.rating },
      el(
        "span",
        { class: "line" },
        movieButton(item),
        el("span", { class: "stars", role: "img", "aria-label": `rated ${item.rating} of 5` }, stars(item.rating)),
      ),
    );
  }

  function fill(list, items, row) {
    list.replaceChildren(...items.map(row));
  }

  // ---------- a user's taste and recommendations ----------

  const userForm = $("user-form");
  const userId = $("user-id");
  const userPick = $("user-pick");
  const userMsg = $("user-msg");
  const userResult = $("user-result");
  const userTurn = latest();

  async function showUser(raw) {
    const text = String(raw).trim();
    if (!/^[0-9]{1,10}$/.test(text) || Number(text) < 1) {
      userResult.hidden = true;
      say(userMsg, "A user id is a whole number from 1 up, such as 196.", "error");
      userId.focus();
      return;
    }
    const id = Number(text);
    // the picker shows the user on display, or nothing when the id is not among its choices
    userPick.value = [...userPick.options].some((o) => o.value === String(id)) ? String(id) : "";
    const mine = userTurn();
    say(userMsg, `Loading user ${id}…`);
    try {
      const [ratedAnswer, recsAnswer] = await Promise.allSettled([
        api(`/users/${id}/ratings?limit=${TOP_K}`),
        api(`/recommendations/${id}?k=${TOP_K}`),
      ]);
      // the recommendations' error first: it names the model the user is unknown to
      if (recsAnswer.status === "rejected") throw recsAnswer.reason;
      if (ratedAnswer.status === "rejected") throw ratedAnswer.reason;
      const rated = ratedAnswer.value;
      const recs = recsAnswer.value;
      if (!mine()) return;
      $("user-label").textContent = String(id);
      $("user-label2").textContent = String(id);
      fill($("user-rated"), rated.items, ratedRow);
      fill($("user-recs"), recs.items, rankedRow);
      $("user-model").textContent = `Top ${recs.items.length} from model version ${recs.model_version}${recs.arm ? ` (${recs.arm})` : ""}, movies the user rated left out.`;
      // the address now opens this user: a link to share
      if (window.history && history.replaceState) history.replaceState(null, "", `?user=${id}`);
      userResult.hidden = false;
      say(userMsg, `User ${id}: ${rated.items.length} highest-rated movies and ${recs.items.length} recommendations.`);
    } catch (e) {
      if (!mine()) return;
      userResult.hidden = true;
      const msg = e.status === 404 ? `${e.message} Pick a user from the list or type another id.` : e.message;
      say(userMsg, msg, "error");
    }
  }

  userForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    showUser(userId.value);
  });
  userPick.addEventListener("change", () => {
    if (!userPick.value) return;
    userId.value = userPick.value;
    showUser(userPick.value);
  });

  // ---------- search a title, then the movies most like it ----------

  const searchMsg = $("search-msg");
  const searchResults = $("search-results");
  const movieMsg = $("movie-msg");
  const movieDetail = $("movie-detail");
  const searchTurn = latest();
  const movieTurn = latest();

  async function search(q, msgRegion, turn) {
    const text = q.trim();
    if (!text) {
      say(msgRegion, "Type part of a title first, such as “star”.", "error");
      return null;
    }
    const mine = turn();
    say(msgRegion, `Searching for “${text}”…`);
    try {
      const found = await api(`/movies/search?q=${encodeURIComponent(text)}&limit=${TOP_K}`);
      if (!mine()) return null;
      say(
        msgRegion,
        found.length ? `${found.length} title${found.length === 1 ? " matches" : "s match"} “${text}”.` : `No title contains “${text}”.`,
      );
      return found;
    } catch (e) {
      if (mine()) say(msgRegion, e.message, "error");
      return null;
    }
  }

  $("search-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const found = await search($("search-q").value, searchMsg, searchTurn);
    if (!found) return;
    fill(searchResults, found, (m) =>
      el(
        "li",
        { "data-movie-id": m.movie_id },
        movieButton(m),
        m.genres && m.genres.length ? el("span", { class: "note" }, ` · ${m.genres.join(", ")}`) : null,
      ),
    );
  });

  async function openMovie(id) {
    const mine = movieTurn();
    say(movieMsg, "Loading the movie and the ones like it…");
    try {
      const [movie, similar] = await Promise.all([api(`/movies/${id}`), api(`/movies/${id}/similar?k=${TOP_K}`)]);
      if (!mine()) return;
      $("movie-title").textContent = movie.title;
      $("movie-title").dataset.movieId = String(movie.movie_id);
      const parts = [];
      if (movie.year) parts.push(String(movie.year));
      if (movie.genres && movie.genres.length) parts.push(movie.genres.join(", "));
      parts.push(`movie id ${movie.movie_id}`);
      $("movie-meta").textContent = parts.join(" · ");
      fill($("movie-similar"), similar.items, rankedRow);
      movieDetail.hidden = false;
      say(movieMsg, `${similar.items.length} movies most like ${movie.title}.`);
      $("movie").scrollIntoView({ block: "start" });
      $("movie-title").focus({ preventScroll: true });
    } catch (e) {
      if (!mine()) return;
      movieDetail.hidden = true;
      say(movieMsg, e.message, "error");
    }
  }

  // ---------- a new user: rate a few movies ----------

  const ratings = new Map(); // movie_id -> {movie_id, title, rating}
  const coldResults = $("cold-results");
  const coldMsg = $("cold-msg");
  const coldTurn = latest();
  const coldSearchTurn = latest();

  function starBar(movie) {
    const bar = el("span", { class: "starbar", role: "group", "aria-label": `Your rating of ${movie.title}` });
    for (let n = 1; n <= 5; n++) {
      bar.append(
        el(
          "button",
          {
            type: "button",
            "data-stars": n,
            "aria-pressed": ratings.get(movie.movie_id)?.rating === n ? "true" : "false",
            "aria-label": `Rate ${movie.title} ${n} star${n === 1 ? "" : "s"}`,
            onclick: () => rate(movie, n),
          },
          `${n}★`,
        ),
      );
    }
    return bar;
  }

  function rate(movie, n) {
    ratings.set(movie.movie_id, { movie_id: movie.movie_id, title: movie.title, rating: n });
    for (const li of coldResults.children) {
      if (Number(li.dataset.movieId) !== movie.movie_id) continue;
      for (const b of li.querySelectorAll("button[data-stars]"))
        b.setAttribute("aria-pressed", Number(b.dataset.stars) === n ? "true" : "false");
    }
    showRatings();
  }

  function showRatings() {
    const list = [...ratings.values()];
    fill($("cold-rated"), list, (r) =>
      el(
        "li",
        { "data-movie-id": r.movie_id, "data-rating": r.rating },
        el(
          "span",
          { class: "line" },
          el("span", { class: "title" }, r.title),
          el(
            "span",
            {},
            el("span", { class: "stars", role: "img", "aria-label": `${r.rating} of 5` }, stars(r.rating)),
            " ",
            el(
              "button",
              {
                type: "button",
                class: "link",
                "aria-label": `Remove your rating of ${r.title}`,
                onclick: () => {
                  ratings.delete(r.movie_id);
                  for (const li of coldResults.children)
                    if (Number(li.dataset.movieId) === r.movie_id)
                      for (const b of li.querySelectorAll("button[data-stars]")) b.setAttribute("aria-pressed", "false");
                  showRatings();
                },
              },
              "remove",
            ),
          ),
        ),
      ),
    );
    $("cold-count").textContent = String(list.length);
    $("cold-empty").hidden = list.length > 0;
    $("cold-go").disabled = list.length === 0;
    $("cold-clear").disabled = list.length === 0;
  }

  $("cold-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const found = await search($("cold-q").value, $("cold-search-msg"), coldSearchTurn);
    if (!found) return;
    fill(coldResults, found, (m) =>
      el("li", { "data-movie-id": m.movie_id }, el("span", { class: "title" }, m.title), starBar(m)),
    );
  });

  $("cold-go").addEventListener("click", async () => {
    const mine = coldTurn();
    const body = {
      ratings: [...ratings.values()].map((r) => ({ movie_id: r.movie_id, rating: r.rating })),
      k: TOP_K,
    };
    say(coldMsg, "Folding your ratings into the model…");
    try {
      const recs = await api("/recommendations", { method: "POST", body: JSON.stringify(body) });
      if (!mine()) return;
      fill($("cold-recs"), recs.items, rankedRow);
      say(
        coldMsg,
        `${recs.items.length} recommendations from your ${body.ratings.length} rating${body.ratings.length === 1 ? "" : "s"} (model version ${recs.model_version}).`,
      );
    } catch (e) {
      if (!mine()) return;
      $("cold-recs").replaceChildren();
      say(coldMsg, e.message, "error");
    }
  });

  $("cold-clear").addEventListener("click", () => {
    ratings.clear();
    for (const b of coldResults.querySelectorAll("button[data-stars]")) b.setAttribute("aria-pressed", "false");
    showRatings();
    $("cold-recs").replaceChildren();
    say(coldMsg, "Your ratings are cleared.");
  });

  // ---------- the serving model ----------

  const modelMsg = $("model-msg");
  const modelTurn = latest();

  // One gauge of the Prometheus text, or null.
  function gauge(text, name) {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([-+0-9.eE]+|NaN)$`, "m").exec(text);
    return m ? Number(m[1]) : null;
  }

  // One arm's value of a gauge labelled {arm="..."}, or null.
  function armGauge(text, name, arm) {
    const m = new RegExp(`^${name}\\{arm="${arm}"\\} ([-+0-9.eE]+|NaN)$`, "m").exec(text);
    return m ? Number(m[1]) : null;
  }

  function onlineText(rate, answers) {
    if (answers === null) return "not measured yet";
    if (rate === null) return `no answers in the window`;
    return `${(100 * rate).toFixed(1)} % of ${answers} answers`;
  }

  // Counts as integers, rates and errors to 4 decimals.
  function metricText(v) {
    const x = Number(v);
    return Number.isInteger(x) ? String(x) : x.toFixed(4);
  }

  function facts(list, pairs) {
    list.replaceChildren();
    for (const [term, value, key] of pairs) {
      list.append(el("dt", {}, term), el("dd", { "data-key": key }, value));
    }
  }

  async function loadModel() {
    const mine = modelTurn();
    say(modelMsg, "Loading the model’s description…");
    try {
      const model = await api("/model");
      let champion = null;
      let metrics = "";
      try {
        const res = await fetch("/metrics");
        if (res.ok) {
          metrics = await res.text();
          champion = gauge(metrics, "lensflow_registry_champion_version");
        }
      } catch {
        champion = null;
      }
      if (!mine()) return;
      const loaded = new Date(model.loaded_at * 1000);
      const loadedText = Number.isFinite(loaded.getTime())
        ? `${loaded.toISOString().slice(0, 19).replace("T", " ")} UTC`
        : "unknown";
      const championText =
        champion && champion > 0
          ? `${champion}${String(champion) === model.version ? " (this one)" : " (not the one served)"}`
          : model.alias === "champion"
            ? `${model.version} (the served set; registry not read)`
            : "unknown";
      facts($("model-facts"), [
        ["Model", model.name, "name"],
        ["Serving version", model.version ?? "none", "version"],
        ["Champion version", championText, "champion"],
        ["Loaded at", loadedText, "loaded_at"],
        ["Run id", model.run_id || "—", "run_id"],
        ["Dimensions", String(model.dim), "dim"],
        ["Users · movies", `${model.n_users} · ${model.n_items}`, "sizes"],
        [
          "Challenger",
          model.challenger
            ? `version ${model.challenger.version}, ${(100 * model.challenger.share).toFixed(0)} % of users`
            : "none",
          "challenger",
        ],
        [
          "Online hit rate@10, champion",
          onlineText(
            armGauge(metrics, "lensflow_online_hit_rate", "champion"),
            armGauge(metrics, "lensflow_online_impressions", "champion"),
          ),
          "online_champion",
        ],
        ...(model.challenger
          ? [[
              "Online hit rate@10, challenger",
              onlineText(
                armGauge(metrics, "lensflow_online_hit_rate", "challenger"),
                armGauge(metrics, "lensflow_online_impressions", "challenger"),
              ),
              "online_challenger",
            ]]
          : []),
      ]);
      const names = Object.keys(model.metrics || {}).sort();
      facts(
        $("model-metrics"),
        names.map((n) => [n, metricText(model.metrics[n]), n]),
      );
      if (!names.length) $("model-metrics").append(el("dd", {}, "none recorded"));
      $("model-grid").hidden = false;
      say(modelMsg, `Model ${model.name} version ${model.version}, loaded ${loadedText}.`);
    } catch (e) {
      if (!mine()) return;
      $("model-facts").replaceChildren();
      $("model-metrics").replaceChildren();
      $("model-grid").hidden = true;
      say(modelMsg, e.message, "error");
    }
  }

  $("model-refresh").addEventListener("click", loadModel);

  checkReady();
  loadModel();
  // /?user=196 opens that user's recommendations
  const shared = new URLSearchParams(window.location.search).get("user");
  if (shared !== null) {
    userId.value = shared;
    showUser(shared);
  }
})();
