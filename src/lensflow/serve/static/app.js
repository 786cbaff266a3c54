// lensflow's page: plain DOM, no framework. All data reaches the page through textContent or
// text nodes, never innerHTML: titles hold quotes, ampersands and the odd angle bracket.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const TIMEOUT_MS = 10000;
  const SEARCH_DELAY_MS = 250;
  const RATE_DELAY_MS = 200;
  const TOP_K = 10;
  // MovieLens 100k numbers its users 1..943; an id outside still gets the API's own message.
  const ML100K_USERS = 943;

  let servingModel = null;

  // ---------- plumbing ----------

  class ApiError extends Error {}

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
          ? `The lensflow API did not answer within ${TIMEOUT_MS / 1000} s. Try again in a moment.`
          : "Cannot reach the lensflow API: the server is down or the network failed. " +
              "Check that `lensflow serve` is running, then try again.",
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
      let msg =
        body && typeof body.message === "string" ? body.message : `The API answered HTTP ${res.status}.`;
      const retry = res.headers.get("Retry-After");
      if (res.status === 503 && retry) msg += ` (retry in ${retry} s)`;
      throw new ApiError(msg);
    }
    if (body === null) throw new ApiError("The API answered with something that is not JSON.");
    return body;
  }

  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    // append() turns strings into text nodes: data is never parsed as markup.
    for (const kid of kids) if (kid !== null && kid !== undefined) node.append(kid);
    return node;
  }

  function say(region, text, kind = "info") {
    region.textContent = text;
    region.dataset.kind = kind;
  }

  function debounce(fn, ms) {
    let timer = null;
    const wrapped = (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
    wrapped.cancel = () => clearTimeout(timer);
    return wrapped;
  }

  // Only the answer to the latest request may paint: a slow early answer must not overwrite a later one.
  function latest() {
    let current = 0;
    return () => {
      const mine = ++current;
      return () => mine === current;
    };
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  function setHash(key, value) {
    const params = new URLSearchParams(location.hash.slice(1));
    params.set(key, String(value));
    history.replaceState(null, "", `#${params}`);
  }

  // ---------- movies as list rows ----------

  const YEAR_SUFFIX = /\s*\((\d{4})\)\s*$/;
  // MovieLens files articles last ("Godfather, The"); people read and type them first.
  const TRAILING_ARTICLE = /^(.+?), (The|A|An|La|Le|Les|Il|El|Das|Der|Die|Un|Une)(\s\(.*\))?$/;
  const LEADING_ARTICLE = /^(the|an?)\s+/i;

  // MovieLens titles end in "(1995)"; show the name and the year apart.
  function splitTitle(title, year) {
    const match = YEAR_SUFFIX.exec(title);
    let name = match ? title.slice(0, match.index) : title;
    const article = TRAILING_ARTICLE.exec(name);
    if (article) name = `${article[2]} ${article[1]}${article[3] || ""}`;
    return { name, year: year ?? (match ? Number(match[1]) : null) };
  }

  function titleLine(movie) {
    const { name, year } = splitTitle(movie.title, movie.year);
    return el(
      "div",
      { class: "title-line" },
      el(
        "button",
        {
          type: "button",
          class: "link",
          title: "Show similar movies",
          onclick: () => openMovie(movie.movie_id),
        },
        name,
      ),
      year ? el("span", { class: "year" }, ` ${year}`) : null,
    );
  }

  function genresLine(movie) {
    return movie.genres && movie.genres.length
      ? el("div", { class: "genres" }, movie.genres.join(" · "))
      : null;
  }

  function ratingBadge(rating) {
    const full = Math.round(rating);
    return el(
      "span",
      { class: "rating", role: "img", "aria-label": `rated ${rating} of 5` },
      "★".repeat(full),
      el("span", { class: "dim" }, "★".repeat(5 - full)),
    );
  }

  function scoreRows(items) {
    const top = Math.max(...items.map((m) => Math.abs(m.score)), 1e-9);
    return items.map((m) => {
      const fill = el("span", { class: "fill" });
      // Set through CSSOM: the page's CSP forbids style attributes, not this.
      fill.style.width = `${Math.max(0, (m.score / top) * 100).toFixed(1)}%`;
      return el(
        "li",
        { class: "movie", "data-movie-id": m.movie_id },
        titleLine(m),
        el(
          "span",
          { class: "score", title: "model score" },
          el("span", { class: "bar", "aria-hidden": "true" }, fill),
          m.score.toFixed(2),
        ),
      );
    });
  }

  // ---------- 1. a user ----------

  const userInput = $("user-id");
  const userMsg = $("user-msg");
  const userTurn = latest();

  async function showUser(raw) {
    const id = Number(raw);
    if (String(raw).trim() === "" || !Number.isInteger(id) || id < 1) {
      say(userMsg, "Type a user id: a whole number from 1 up (MovieLens 100k has users 1 to 943).", "error");
      userInput.focus();
      return;
    }
    const isLatest = userTurn();
    say(userMsg, `Loading user ${id}…`, "busy");
    const [rated, recs] = await Promise.allSettled([
      api(`/users/${id}/ratings?limit=${TOP_K}`),
      api(`/recommendations/${id}?k=${TOP_K}`),
    ]);
    if (!isLatest()) return;
    const failed = [recs, rated].find((r) => r.status === "rejected");
    if (failed) {
      $("user-result").hidden = true;
      say(userMsg, failed.reason.message, "error");
      return;
    }
    $("user-label").textContent = String(id);
    $("user-rated").replaceChildren(
      ...rated.value.items.map((m) =>
        el(
          "li",
          { class: "movie", "data-movie-id": m.movie_id },
          titleLine(m),
          genresLine(m),
          ratingBadge(m.rating),
        ),
      ),
    );
    $("user-recs").replaceChildren(...scoreRows(recs.value.items));
    const name = servingModel ? servingModel.name : "model";
    $("user-model").textContent =
      `Scored by ${name} v${recs.value.model_version}; movies user ${id} rated are left out.`;
    $("user-result").hidden = false;
    const count = plural(recs.value.items.length, "recommendation");
    say(userMsg, `User ${id}: ${count} from ${name} v${recs.value.model_version}.`);
    setHash("user", id);
  }

  function stepUser(delta) {
    const next = Math.max(1, (Number.parseInt(userInput.value, 10) || 0) + delta);
    userInput.value = String(next);
    showUser(next);
  }

  $("user-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showUser(userInput.value);
  });
  $("user-prev").addEventListener("click", () => stepUser(-1));
  $("user-next").addEventListener("click", () => stepUser(1));
  $("user-random").addEventListener("click", () => {
    userInput.value = String(1 + Math.floor(Math.random() * ML100K_USERS));
    showUser(userInput.value);
  });

  // ---------- search, shared by "find a movie" and "rate movies" ----------

  function searchBox({ form, input, list, msg, limit, row }) {
    const turn = latest();
    const run = async () => {
      const query = input.value.trim();
      // Stored titles say "Godfather, The": search without the typed leading article.
      const term = query.replace(LEADING_ARTICLE, "") || query;
      const isLatest = turn();
      if (!query) {
        list.replaceChildren();
        list.setAttribute("aria-busy", "false");
        say(msg, "");
        return;
      }
      try {
        const items = await api(`/movies/search?q=${encodeURIComponent(term)}&limit=${limit}`);
        if (!isLatest()) return;
        list.setAttribute("aria-busy", "false");
        list.replaceChildren(...items.map(row));
        say(
          msg,
          items.length === 1
            ? `1 title contains “${query}”.`
            : `${items.length || "No"} titles contain “${query}”.`,
          items.length ? "info" : "error",
        );
      } catch (err) {
        if (!isLatest()) return;
        list.setAttribute("aria-busy", "false");
        list.replaceChildren();
        say(msg, err.message, "error");
      }
    };
    const later = debounce(run, SEARCH_DELAY_MS);
    input.addEventListener("input", () => {
      // Results of the previous query stay visible but dimmed until the new ones arrive.
      list.setAttribute("aria-busy", "true");
      later();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      later.cancel();
      run();
    });
  }

  // ---------- 2. a movie and its neighbours ----------

  const movieMsg = $("movie-msg");
  const movieTurn = latest();

  searchBox({
    form: $("search-form"),
    input: $("search-q"),
    list: $("search-results"),
    msg: $("search-msg"),
    limit: 8,
    row: (m) => el("li", { class: "movie", "data-movie-id": m.movie_id }, titleLine(m), genresLine(m)),
  });

  async function openMovie(id, { focus = true } = {}) {
    const isLatest = movieTurn();
    say(movieMsg, `Loading movie ${id}…`, "busy");
    const [movie, similar] = await Promise.allSettled([
      api(`/movies/${id}`),
      api(`/movies/${id}/similar?k=${TOP_K}`),
    ]);
    if (!isLatest()) return;
    const failed = [movie, similar].find((r) => r.status === "rejected");
    if (failed) {
      $("movie-detail").hidden = true;
      say(movieMsg, failed.reason.message, "error");
      return;
    }
    const m = movie.value;
    const { name, year } = splitTitle(m.title, m.year);
    $("movie-title").textContent = year ? `${name} (${year})` : name;
    $("movie-meta").textContent = m.genres.length ? m.genres.join(" · ") : "no genre listed";
    $("movie-similar").replaceChildren(...scoreRows(similar.value.items));
    $("movie-detail").hidden = false;
    $("movie-detail").dataset.movieId = String(m.movie_id);
    say(movieMsg, `${plural(similar.value.items.length, "movie")} most like ${name}, by embedding cosine.`);
    setHash("movie", m.movie_id);
    // Focus follows the content, so keyboard and screen reader users land on what they opened.
    if (focus) $("movie-title").focus();
  }

  // ---------- 3. cold start ----------

  const ratings = new Map(); // movie_id -> { movie, rating }
  const coldMsg = $("cold-msg");
  const ratedList = $("cold-rated");
  const coldTurn = latest();

  function paintStars(fieldset, value) {
    fieldset.querySelectorAll("label").forEach((label, i) => label.classList.toggle("on", i < value));
  }

  function starPicker(movie, group) {
    const { name } = splitTitle(movie.title, movie.year);
    const current = ratings.get(movie.movie_id)?.rating ?? 0;
    const fieldset = el(
      "fieldset",
      { class: "stars", "data-movie-id": movie.movie_id },
      el("legend", { class: "sr-only" }, `Your rating for ${name}`),
    );
    for (let value = 1; value <= 5; value++) {
      const id = `${group}-${movie.movie_id}-${value}`;
      const input = el("input", {
        type: "radio",
        class: "sr-only",
        name: `${group}-${movie.movie_id}`,
        id,
        value,
      });
      input.checked = value === current;
      input.addEventListener("change", () => rate(movie, value));
      const label = el(
        "label",
        { for: id, title: plural(value, "star") },
        el("span", { "aria-hidden": "true" }, "★"),
        el("span", { class: "sr-only" }, plural(value, "star")),
      );
      fieldset.append(input, label);
    }
    paintStars(fieldset, current);
    return fieldset;
  }

  // The same movie can show in the search results and in "your ratings": keep both pickers in step.
  function syncStars(movieId, value) {
    for (const fieldset of document.querySelectorAll(`fieldset.stars[data-movie-id="${movieId}"]`)) {
      for (const input of fieldset.querySelectorAll("input")) input.checked = Number(input.value) === value;
      paintStars(fieldset, value);
    }
  }

  function ratedRow(movie) {
    const { name } = splitTitle(movie.title, movie.year);
    return el(
      "li",
      { class: "movie rated", "data-movie-id": movie.movie_id },
      titleLine(movie),
      starPicker(movie, "mine"),
      el(
        "button",
        {
          type: "button",
          class: "ghost remove",
          "aria-label": `Remove your rating for ${name}`,
          onclick: () => unrate(movie.movie_id),
        },
        "✕",
      ),
    );
  }

  function ratingsChanged() {
    $("cold-count").textContent = String(ratings.size);
    $("cold-empty").hidden = ratings.size > 0;
    $("cold-clear").hidden = ratings.size === 0;
    updateColdRecs();
  }

  function rate(movie, value) {
    const isNew = !ratings.has(movie.movie_id);
    ratings.set(movie.movie_id, { movie, rating: value });
    syncStars(movie.movie_id, value);
    if (isNew) ratedList.append(ratedRow(movie));
    ratingsChanged();
  }

  function unrate(movieId) {
    ratings.delete(movieId);
    const row = ratedList.querySelector(`li[data-movie-id="${movieId}"]`);
    // Keep keyboard focus in the list instead of dropping it on <body> with the removed row.
    const next = row?.nextElementSibling || row?.previousElementSibling;
    row?.remove();
    syncStars(movieId, 0);
    (next?.querySelector("button.remove") || $("cold-q")).focus();
    ratingsChanged();
  }

  const updateColdRecs = debounce(async () => {
    const isLatest = coldTurn();
    if (ratings.size === 0) {
      $("cold-recs").replaceChildren();
      say(coldMsg, "Rate at least one movie to get recommendations.");
      return;
    }
    say(coldMsg, "Updating…", "busy");
    const body = {
      ratings: [...ratings.values()].map((r) => ({ movie_id: r.movie.movie_id, rating: r.rating })),
      k: TOP_K,
    };
    try {
      const recs = await api("/recommendations", { method: "POST", body: JSON.stringify(body) });
      if (!isLatest()) return;
      $("cold-recs").replaceChildren(...scoreRows(recs.items));
      const used = plural(body.ratings.length, "rating");
      say(
        coldMsg,
        `${plural(recs.items.length, "movie")} for your ${used}, from model v${recs.model_version}.`,
      );
    } catch (err) {
      if (!isLatest()) return;
      say(coldMsg, err.message, "error");
    }
  }, RATE_DELAY_MS);

  searchBox({
    form: $("cold-form"),
    input: $("cold-q"),
    list: $("cold-results"),
    msg: $("cold-search-msg"),
    limit: 6,
    row: (m) =>
      el("li", { class: "movie rated", "data-movie-id": m.movie_id }, titleLine(m), starPicker(m, "find")),
  });

  $("cold-clear").addEventListener("click", () => {
    for (const id of [...ratings.keys()]) syncStars(id, 0);
    ratings.clear();
    ratedList.replaceChildren();
    $("cold-q").focus();
    ratingsChanged();
  });

  // ---------- 4. the model ----------

  const SVG_NS = "http://www.w3.org/2000/svg";
  let drawnWidth = 0;

  // Draw at the plot's own pixel width so that labels keep their size on a phone.
  function plotWidth() {
    return Math.round(Math.min(640, Math.max(280, $("ndcg-plot").parentElement.clientWidth || 480)));
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderCurve(curve) {
    const plot = $("ndcg-plot");
    const points = Object.entries(curve || {})
      .map(([k, v]) => [Number(k), Number(v)])
      .filter(([k, v]) => Number.isFinite(k) && Number.isFinite(v))
      .sort((a, b) => a[0] - b[0]);
    if (points.length < 2) {
      plot.replaceChildren();
      plot.hidden = true;
      $("ndcg-caption").textContent = "This model's evaluation report has no NDCG@k curve.";
      return;
    }
    const W = plotWidth();
    const [H, left, right, top, bottom] = [220, 46, 16, 14, 40];
    const kMin = points[0][0];
    const kMax = points[points.length - 1][0];
    const yMax = Math.max(0.1, Math.ceil(Math.max(...points.map((p) => p[1])) * 10) / 10);
    const x = (k) => left + ((k - kMin) / (kMax - kMin)) * (W - left - right);
    const y = (v) => top + (1 - v / yMax) * (H - top - bottom);
    const nodes = [
      svg("title", { id: "ndcg-title" }, "NDCG@k of the serving model"),
      svg("desc", { id: "ndcg-desc" }, points.map(([k, v]) => `NDCG@${k} ${v.toFixed(3)}`).join(", ")),
    ];
    const step = yMax > 0.5 ? 0.2 : 0.1;
    for (let i = 0; i * step <= yMax + 1e-9; i++) {
      const v = i * step;
      nodes.push(
        svg("line", { class: "grid", x1: left, x2: W - right, y1: y(v), y2: y(v) }),
        svg("text", { class: "tick", x: left - 6, y: y(v) + 4, "text-anchor": "end" }, v.toFixed(1)),
      );
    }
    const kTicks = [...new Set([kMin, ...points.map((p) => p[0]).filter((k) => k % 5 === 0), kMax])];
    for (const k of kTicks) {
      nodes.push(
        svg("text", { class: "tick", x: x(k), y: H - bottom + 16, "text-anchor": "middle" }, String(k)),
      );
    }
    nodes.push(
      svg(
        "text",
        { class: "axis", x: (left + W - right) / 2, y: H - 6, "text-anchor": "middle" },
        "k, length of the list",
      ),
      svg(
        "text",
        {
          class: "axis",
          x: 12,
          y: (top + H - bottom) / 2,
          "text-anchor": "middle",
          transform: `rotate(-90 12 ${(top + H - bottom) / 2})`,
        },
        "NDCG@k",
      ),
      svg("polyline", {
        class: "curve",
        points: points.map(([k, v]) => `${x(k).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
      }),
    );
    for (const [k, v] of points) {
      const dot = svg("circle", {
        class: k === TOP_K ? "dot hl" : "dot",
        cx: x(k).toFixed(1),
        cy: y(v).toFixed(1),
        r: k === TOP_K ? 5 : 3,
      });
      dot.append(svg("title", {}, `NDCG@${k} = ${v.toFixed(3)}`));
      nodes.push(dot);
      if (k === TOP_K) {
        nodes.push(
          svg(
            "text",
            { class: "callout", x: x(k), y: y(v) + 20, "text-anchor": "middle" },
            `@${k}: ${v.toFixed(3)}`,
          ),
        );
      }
    }
    drawnWidth = W;
    plot.setAttribute("viewBox", `0 0 ${W} ${H}`);
    plot.replaceChildren(...nodes);
    plot.hidden = false;
  }

  window.addEventListener(
    "resize",
    debounce(() => {
      if (servingModel && Math.abs(plotWidth() - drawnWidth) > 20) {
        renderCurve(servingModel.ndcg_curve);
      }
    }, 150),
  );

  const HEADLINE = [
    ["ndcg@10", "NDCG@10"],
    ["recall@10", "Recall@10"],
    ["rmse", "RMSE"],
  ];
  const SECONDARY = [
    ["precision@10", "Precision@10"],
    ["map@10", "MAP@10"],
    ["coverage@10", "Coverage@10"],
  ];

  function definitions(list, rows) {
    list.replaceChildren(
      ...rows.map(([term, value, className]) =>
        el("div", { class: className }, el("dt", {}, term), el("dd", {}, value)),
      ),
    );
  }

  async function loadModel() {
    try {
      const m = await api("/model");
      servingModel = m;
      $("model-badge").textContent = `${m.name} v${m.version}${m.alias ? ` · ${m.alias}` : ""}`;
      $("model-badge").dataset.kind = "ok";
      const fmt = (key) => (typeof m.metrics[key] === "number" ? m.metrics[key].toFixed(3) : "–");
      definitions($("model-metrics"), [
        ...HEADLINE.map(([key, label]) => [label, fmt(key), "metric headline"]),
        ...SECONDARY.map(([key, label]) => [label, fmt(key), "metric"]),
      ]);
      definitions($("model-facts"), [
        ["Model", `${m.name} v${m.version}`, "fact"],
        ["Alias", m.alias || "none", "fact"],
        ["MLflow run", m.run_id ? m.run_id.slice(0, 12) : "–", "fact"],
        ["Loaded", new Date(m.loaded_at * 1000).toLocaleString(), "fact"],
      ]);
      renderCurve(m.ndcg_curve);
      say($("model-msg"), "");
    } catch (err) {
      $("model-badge").textContent = "model unavailable";
      $("model-badge").dataset.kind = "error";
      say($("model-msg"), err.message, "error");
      say($("global-msg"), err.message, "error");
    }
  }

  // ---------- start ----------

  async function start() {
    await loadModel();
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.get("user")) {
      userInput.value = params.get("user");
      showUser(params.get("user"));
    }
    if (params.get("movie")) openMovie(Number(params.get("movie")), { focus: false });
  }

  start();
})();
