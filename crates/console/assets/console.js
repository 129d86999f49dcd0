// @ts-check
// The tandem console: signs an operator in (an access key, or a user of the
// identity service through its identity pool), then every two seconds reads
// the region it is served by (regions, apps, replication, the last hour of
// lag and backlog, state changes, drills; the edge's cache figures when an
// edge serves it) and draws it. State changes ask for confirmation and go
// through the node's safety rule, whose refusal is shown as it is.
// The session lives in this closure only: not in a cookie, not in storage,
// so reloading the page signs out, and no other page can use it.
"use strict";
(() => {
/** The console session (`KEYID:TOKEN`) while signed in. @type {string | null} */
let session = null;

const BASE = "/_tandem/console";
const REFRESH_MS = 2000;
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c"];

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * A console data request, with the session in its header (signed out:
 * answered 401 here, without asking).
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<{status: number, body: any}>}
 */
async function api(path, init = {}) {
  if (!session) return { status: 401, body: {} };
  const headers = { "x-tandem-console": session, "content-type": "application/json" };
  const resp = await fetch(BASE + path, { ...init, headers, credentials: "omit", cache: "no-store" });
  const text = await resp.text();
  let body = {};
  try { body = text ? JSON.parse(text) : {}; } catch { body = { message: text }; }
  return { status: resp.status, body };
}

/** @param {string} tag @param {string | number | null | undefined} text @param {string} [cls] */
function cell(tag, text, cls) {
  const el = document.createElement(tag);
  el.textContent = text == null ? "" : String(text);
  if (cls) el.className = cls;
  return el;
}

/** @param {string} id @param {HTMLElement[][]} rows */
function fillTable(id, rows) {
  const body = /** @type {HTMLTableSectionElement} */ ($(id).querySelector("tbody"));
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    tr.append(...cells);
    return tr;
  }));
}

/** @param {number | undefined} ms */
function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "";
}

/** A number with `digits` decimals; `?` for anything that is not a finite number. */
function fixed(/** @type {unknown} */ value, /** @type {number} */ digits) {
  const n = Number(value);
  return Number.isFinite(n) ? n.toFixed(digits) : "?";
}

/** @param {string} status */
function badge(status) {
  return cell("td", status, "badge " + status.replace(/[^a-z-]/g, ""));
}

// ---- signing in ----------------------------------------------------------

/** @param {string} message */
function signInError(message) {
  $("sign-in-error").textContent = message;
}

/** @param {Record<string, string>} credentials */
async function openSession(credentials) {
  const resp = await fetch(BASE + "/session", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(credentials),
    credentials: "omit",
  });
  const body = await resp.json().catch(() => ({}));
  if (resp.status !== 200 || typeof body.session !== "string") {
    signInError(body.message || `sign-in failed (${resp.status})`);
    return;
  }
  session = body.session;
  signInError("");
  await refresh();
}

/**
 * A call to the identity service the console is served by (Cognito's JSON protocol).
 * @param {string} target @param {object} payload
 */
async function cognito(target, payload) {
  const resp = await fetch("/", {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": target },
    body: JSON.stringify(payload),
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.message || body.__type || `${target} failed (${resp.status})`);
  return body;
}

/** Signs a user pool user in, then exchanges the ID token for credentials of the identity pool's role. */
async function poolSignIn(/** @type {HTMLFormElement} */ form) {
  const f = new FormData(form);
  const field = (/** @type {string} */ n) => String(f.get(n) || "");
  const auth = await cognito("AWSCognitoIdentityProviderService.InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: field("client_id"),
    AuthParameters: { USERNAME: field("username"), PASSWORD: field("password") },
  });
  const idToken = auth.AuthenticationResult && auth.AuthenticationResult.IdToken;
  if (!idToken) throw new Error(auth.ChallengeName ? `the user must first answer ${auth.ChallengeName} (set a new password in the app)` : "no ID token");
  const claims = JSON.parse(atob(idToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  const logins = { [String(claims.iss).replace(/^https?:\/\//, "")]: idToken };
  const { IdentityId } = await cognito("AWSCognitoIdentityService.GetId", { IdentityPoolId: field("identity_pool_id"), Logins: logins });
  const { Credentials } = await cognito("AWSCognitoIdentityService.GetCredentialsForIdentity", { IdentityId, Logins: logins });
  await openSession({
    access_key_id: Credentials.AccessKeyId,
    secret_access_key: Credentials.SecretKey,
    session_token: Credentials.SessionToken,
  });
}

function wireSignIn() {
  const keyForm = /** @type {HTMLFormElement} */ ($("key-form"));
  const poolForm = /** @type {HTMLFormElement} */ ($("pool-form"));
  keyForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(keyForm);
    openSession({ access_key_id: String(f.get("access_key_id")), secret_access_key: String(f.get("secret_access_key")) });
  });
  poolForm.addEventListener("submit", (e) => {
    e.preventDefault();
    poolSignIn(poolForm).catch((err) => signInError(String(err.message || err)));
  });
  const tabs = /** @type {[string, HTMLFormElement][]} */ ([["tab-key", keyForm], ["tab-pool", poolForm]]);
  for (const [tab, form] of tabs) {
    $(tab).addEventListener("click", () => {
      for (const [other, otherForm] of tabs) {
        $(other).setAttribute("aria-selected", String(other === tab));
        otherForm.hidden = other !== tab;
      }
    });
  }
  $("sign-out").addEventListener("click", () => {
    session = null;
    showSignIn();
  });
}

function showSignIn() {
  $("sign-in").hidden = false;
  $("dashboard").hidden = true;
  $("who").hidden = true;
}

// ---- the views -----------------------------------------------------------

/** @param {any} overview */
function renderOverview(overview) {
  $("served-by").textContent = `· ${overview.region}`;
  $("principal").textContent = `signed in as ${overview.signed_in.principal}`;
  fillTable("regions", overview.regions.map((/** @type {any} */ r) => [
    cell("td", r.name), badge(r.status), cell("td", r.url), cell("td", r.detail),
  ]));
  renderApps(overview.apps);
  fillTable("peers", overview.replication.peers.map((/** @type {any} */ p) => [
    cell("td", p.peer),
    badge(p.state),
    cell("td", `${p.backlog.changes} changes, ${p.backlog.bytes} bytes`),
    cell("td", `${fixed(p.backlog.oldest_age_seconds, 1)} s`),
  ]));
}

/**
 * The apps table. Rows are kept across refreshes, so a state picked or a
 * reason typed is not lost while the figures update.
 * @param {any[]} apps
 */
function renderApps(apps) {
  const body = /** @type {HTMLTableSectionElement} */ ($("apps").querySelector("tbody"));
  for (const app of apps) {
    let row = /** @type {HTMLTableRowElement | null} */ (body.querySelector(`tr[data-app="${CSS.escape(app.id)}"]`));
    if (!row) {
      row = appRow(app.id);
      body.append(row);
    }
    const s = app.state;
    const cells = row.children;
    cells[1].replaceWith(badge(s.State));
    cells[2].textContent = s.WriteRegion || "nobody (fenced)";
    cells[3].textContent = String(s.Version);
    cells[4].textContent = [when(s.ChangedAt), s.ChangedBy && `by ${s.ChangedBy}`, s.Reason].filter(Boolean).join(" · ");
  }
}

/** A new row of the apps table, with its state-change control. @param {string} id */
function appRow(id) {
  const row = document.createElement("tr");
  row.dataset.app = id;
  const control = document.createElement("td");
  control.className = "control";
  const select = document.createElement("select");
  select.setAttribute("aria-label", `new state of ${id}`);
  for (const state of ["active", "fenced", "failover"]) select.append(new Option(state, state));
  const reason = document.createElement("input");
  reason.placeholder = "reason";
  reason.setAttribute("aria-label", `reason for changing ${id}`);
  const forceLabel = document.createElement("label");
  const force = document.createElement("input");
  force.type = "checkbox";
  forceLabel.append(force, " force");
  const button = cell("button", "Change…");
  button.setAttribute("type", "button");
  button.addEventListener("click", () => confirmChange(id, select.value, reason.value, force.checked));
  control.append(select, reason, forceLabel, button);
  row.append(cell("td", id), cell("td", ""), cell("td", ""), cell("td", ""), cell("td", ""), control);
  return row;
}

/** Asks, then sends the change; shows what the node answered. */
function confirmChange(/** @type {string} */ app, /** @type {string} */ state, /** @type {string} */ reason, /** @type {boolean} */ force) {
  const dialog = /** @type {HTMLDialogElement} */ ($("confirm"));
  $("confirm-text").textContent =
    `Set ${app} to ${state}${force ? ", past the safety rule (forced)" : ""}? Every region enforces the new state at once.`;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "confirm") return;
    const result = $("state-result");
    const { status, body } = await api("/api/state", { method: "POST", body: JSON.stringify({ app, state, reason, force }) });
    result.className = status === 200 ? "ok" : "error";
    result.textContent = status === 200
      ? `${app} is now ${body.State} (version ${body.Version})`
      : `Refused: ${body.message}${body.fix ? ". " + body.fix : ""}`;
    await refresh();
  };
  dialog.showModal();
}

/** @type {Record<string, any>} */
const charts = {};

/**
 * Draws one metric of every peer over the last hour.
 * @param {string} id @param {any} peers @param {string} field
 */
function drawChart(id, peers, field) {
  const names = Object.keys(peers);
  if (names.length === 0 || typeof uPlot === "undefined") return;
  // Every peer is sampled at the same ticks; one added later has fewer
  // samples, so its column is padded at the start.
  const longest = names.reduce((a, b) => (peers[b].at_ms.length > peers[a].at_ms.length ? b : a));
  const xs = peers[longest].at_ms.map((/** @type {number} */ t) => t / 1000);
  const pad = (/** @type {any[]} */ column) => [...Array(xs.length - column.length).fill(null), ...column];
  const data = [xs, ...names.map((n) => pad(peers[n][field]))];
  const key = names.join(",");
  const el = $(id);
  if (!charts[id] || charts[id].key !== key) {
    if (charts[id]) charts[id].plot.destroy();
    const opts = {
      width: Math.max(280, Math.min(el.clientWidth || 520, 640)),
      height: 200,
      series: [{}, ...names.map((n, i) => ({ label: `to ${n}`, stroke: COLORS[i % COLORS.length], width: 2 }))],
      axes: [{}, { size: 50 }],
      scales: { y: { range: (/** @type {any} */ _u, /** @type {number} */ _min, /** @type {number} */ max) => [0, Math.max(1, max * 1.1)] } },
    };
    // @ts-ignore: uPlot is the bundled chart library (vendor/uPlot.iife.min.js).
    charts[id] = { key, plot: new uPlot(opts, data, el) };
  } else {
    charts[id].plot.setData(data);
  }
}

/** @param {any[]} history */
function renderHistory(history) {
  fillTable("history", history.map((h) => [
    cell("td", when(h.changed_ms)), cell("td", h.app), cell("td", h.from), cell("td", h.to),
    cell("td", h.by), cell("td", h.made_in), cell("td", h.reason),
  ]));
}

/** @param {any[]} drills */
function renderDrills(drills) {
  const seconds = (/** @type {unknown} */ s) => (s == null ? "not recovered" : `${fixed(s, 2)} s`);
  fillTable("drills", drills.map((d) => [
    cell("td", when(d.kept_at_ms)),
    cell("td", d.app),
    cell("td", d.failure),
    cell("td", seconds(d.rto_seconds)),
    cell("td", `${(d.rpo_missing || []).length} (predicted ${d.rpo_predicted_changes ?? "?"})`),
    cell("td", `${fixed(d.max_lag_seconds, 1)} s`),
    cell("td", d.converge_seconds == null ? "no" : `${fixed(d.converge_seconds, 1)} s`),
    badge(d.targets && d.targets.missed && d.targets.missed.length ? "missed" : "met"),
  ]));
}

/** @param {{status: number, body: any}} edge */
function renderEdge(edge) {
  const shown = edge.status === 200 && Array.isArray(edge.body.distributions);
  $("edge").hidden = !shown;
  if (!shown) return;
  fillTable("edge-stats", edge.body.distributions.map((/** @type {any} */ d) => [
    cell("td", d.name),
    cell("td", d.requests),
    cell("td", d.hit_ratio == null ? "no cached requests" : `${fixed(d.hit_ratio * 100, 1)} %`),
  ]));
  const failovers = edge.body.failovers.map((/** @type {any} */ f) => `${f.from} → ${f.to}: ${f.count}`);
  $("edge-failovers").textContent = `Origin failovers: ${failovers.length ? failovers.join(", ") : "none"}`;
}

let refreshing = false;

/** Reads everything the page shows; shows the sign-in form when signed out. */
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    const overview = await api("/api/overview");
    if (overview.status === 401) {
      showSignIn();
      return;
    }
    $("sign-in").hidden = true;
    $("dashboard").hidden = false;
    $("who").hidden = false;
    if (overview.status !== 200) {
      $("state-result").className = "error";
      $("state-result").textContent = overview.body.message || `the region answered ${overview.status}`;
      return;
    }
    renderOverview(overview.body);
    const [series, history, drills, edge] = await Promise.all([
      api("/api/series"), api("/api/history"), api("/api/drills"), api("/api/edge"),
    ]);
    // One panel's bad data (a malformed drill report) leaves the others drawn.
    const panel = (/** @type {string} */ name, /** @type {() => void} */ draw) => {
      try { draw(); } catch (err) { console.warn(`the ${name} panel could not be drawn`, err); }
    };
    if (series.status === 200) {
      panel("lag", () => drawChart("lag-chart", series.body.series.peers, "lag_seconds"));
      panel("backlog", () => drawChart("backlog-chart", series.body.series.peers, "backlog_changes"));
    }
    if (history.status === 200) panel("history", () => renderHistory(history.body.history));
    if (drills.status === 200) panel("drills", () => renderDrills(drills.body.drills));
    panel("edge", () => renderEdge(edge));
  } catch (err) {
    $("state-result").className = "error";
    $("state-result").textContent = `cannot reach the console's region: ${err}`;
  } finally {
    refreshing = false;
  }
}

wireSignIn();
refresh();
setInterval(refresh, REFRESH_MS);
})();
