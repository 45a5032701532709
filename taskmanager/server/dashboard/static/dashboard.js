// The TaskManager dashboard: reads the JSON API, renders tables and inline SVG charts.
// No build step, no dependencies. The API key, if any, lives in localStorage.
"use strict";

const KEY_STORAGE = "taskmanager.apiKey";
const REFRESH_STORAGE = "taskmanager.autoRefresh";
const REFRESH_MS = 5000;
const STATUSES = ["pending", "processing", "completed", "failed", "cancelled"];

const body = document.body;
const API = body.dataset.api;
const ROOT = body.dataset.root;

// -- small helpers -------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fillRows(table, rows, emptyText, columns) {
  const tbody = table.querySelector("tbody");
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", {}, el("td", { colspan: columns, class: "muted", text: emptyText })));
    return;
  }
  for (const row of rows) tbody.append(row);
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

function since(iso) {
  if (!iso) return "–";
  return `${age(Math.max(0, (Date.now() - Date.parse(iso)) / 1000))} ago`;
}

function when(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–";
}

function percent(rate) {
  return rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)} %`;
}

function badge(status) {
  return el("span", { class: `badge ${status}`, "data-status": status, text: status });
}

function taskLink(id) {
  return el("a", { href: `${ROOT}/tasks/${encodeURIComponent(id)}`, class: "task-link" }, id.slice(0, 8));
}

function short(text, length) {
  if (!text) return "";
  return text.length > length ? `${text.slice(0, length)}…` : text;
}

// -- the API -------------------------------------------------------------------------------

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function api(path, options) {
  const headers = { Accept: "application/json" };
  const key = localStorage.getItem(KEY_STORAGE);
  if (key) headers.Authorization = `Bearer ${key}`;
  if (options && options.method === "POST") headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, { ...(options || {}), headers });
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    let message = (payload && payload.message) || `${response.status} ${response.statusText}`;
    if (response.status === 401) message = `${message}: enter an API key above.`;
    if (response.status === 403) message = `${message}: this key's role may not do that.`;
    throw new Error(message);
  }
  return payload;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}

// -- charts --------------------------------------------------------------------------------

const CHART = { width: 600, height: 140, left: 40, right: 8, top: 10, bottom: 22 };

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function drawChart(target, points, field, kind) {
  const { width, height, left, right, top, bottom } = CHART;
  const values = points.map((point) => point[field]);
  const max = Math.max(1, ...values);
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const step = plotWidth / Math.max(1, values.length);
  const y = (value) => top + plotHeight - (value / max) * plotHeight;
  target.replaceChildren();
  target.setAttribute("data-max", String(Math.max(...values, 0)));
  target.setAttribute("data-total", String(values.reduce((a, b) => a + b, 0)));
  target.append(svg("line", { x1: left, y1: top + plotHeight, x2: width - right, y2: top + plotHeight, class: "axis" }));
  target.append(svg("line", { x1: left, y1: top, x2: left, y2: top + plotHeight, class: "axis" }));
  const label = (x, yy, text, anchor) => {
    const node = svg("text", { x, y: yy, "text-anchor": anchor, class: "tick" });
    node.textContent = text;
    target.append(node);
  };
  label(left - 4, top + 8, String(max), "end");
  label(left - 4, top + plotHeight, "0", "end");
  label(left, height - 6, `-${values.length} min`, "start");
  label(width - right, height - 6, "now", "end");
  if (kind === "line") {
    const coords = values.map((value, index) => `${left + step * (index + 0.5)},${y(value)}`);
    target.append(svg("polyline", { points: coords.join(" "), class: `series ${field}` }));
    return;
  }
  values.forEach((value, index) => {
    if (!value) return;
    const bar = svg("rect", {
      x: left + step * index + 1, y: y(value), width: Math.max(1, step - 2),
      height: top + plotHeight - y(value), class: `bar ${field}`,
    });
    const title = svg("title", {});
    title.textContent = `${when(points[index].at)}: ${value}`;
    bar.append(title);
    target.append(bar);
  });
}

// -- pages ---------------------------------------------------------------------------------

async function loadOverview() {
  const [stats, overview, history, failures] = await Promise.all([
    api("/stats"),
    api("/stats/overview"),
    api("/stats/history?minutes=60"),
    api("/tasks?status=failed&limit=10"),
  ]);
  for (const status of STATUSES) {
    document.getElementById(`total-${status}`).textContent = stats.totals[status] ?? 0;
  }
  document.getElementById("oldest-pending").textContent = age(stats.oldest_pending_age_seconds);
  document.getElementById("completed-last-minute").textContent = stats.completed_last_minute;
  document.getElementById("failed-last-minute").textContent = stats.failed_last_minute;
  const p50 = stats.processing_seconds_p50;
  const p95 = stats.processing_seconds_p95;
  document.getElementById("processing-times").textContent =
    p50 === null ? "–" : `${p50.toFixed(2)} / ${p95.toFixed(2)} s`;
  fillRows(document.getElementById("failures"), failures.tasks.map((task) => el("tr", { "data-task-id": task.id },
    el("td", {}, taskLink(task.id)), el("td", { text: task.type }),
    el("td", { class: "error-text", text: short(task.error, 160) }),
    el("td", { text: `${task.attempts}/${task.max_attempts}` }), el("td", { text: when(task.completed_at) }),
  )), "No failed tasks.", 5);
  fillRows(document.getElementById("types"), overview.types.map((row) => el("tr", { "data-type": row.type },
    el("td", {}, el("a", { href: `${ROOT}/tasks${query({ type: row.type })}`, text: row.type })),
    ...STATUSES.map((status) => el("td", { class: "num", "data-status": status, text: row.counts[status] })),
    el("td", { class: "num", text: row.completed_in_window }),
    el("td", { class: "num", text: row.failed_in_window }),
    el("td", { class: "num", text: percent(row.error_rate) }),
    el("td", { class: "num", text: age(row.oldest_pending_age_seconds) }),
  )), "No tasks yet.", 10);
  drawChart(document.getElementById("chart-completed"), history.points, "completed", "bars");
  drawChart(document.getElementById("chart-failed"), history.points, "failed", "bars");
  drawChart(document.getElementById("chart-depth"), history.points, "depth", "line");
}

const listState = { cursors: [null], page: 0 };

function currentFilters() {
  const params = new URLSearchParams(window.location.search);
  return {
    status: params.get("status") || "",
    type: params.get("type") || "",
    worker_id: params.get("worker_id") || "",
    limit: params.get("limit") || "50",
  };
}

function setUpFilters() {
  setUpFilterValues();
  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const next = Object.fromEntries([...form.entries()].map(([k, v]) => [k, String(v).trim()]));
    window.history.pushState(null, "", `${ROOT}/tasks${query(next)}`);
    listState.cursors = [null];
    listState.page = 0;
    refresh();
  });
  document.getElementById("page-older").addEventListener("click", () => {
    listState.page += 1;
    refresh();
  });
  document.getElementById("page-newer").addEventListener("click", () => {
    listState.page = Math.max(0, listState.page - 1);
    refresh();
  });
}

async function loadTasks() {
  const filters = currentFilters();
  const cursor = listState.cursors[listState.page];
  const page = await api(`/tasks${query({ ...filters, cursor })}`);
  listState.cursors[listState.page + 1] = page.next_cursor;
  fillRows(document.getElementById("task-list"), page.tasks.map((task) => el("tr", { "data-task-id": task.id },
    el("td", {}, taskLink(task.id)), el("td", { text: task.type }), el("td", {}, badge(task.status)),
    el("td", { class: "num", text: `${task.attempts}/${task.max_attempts}` }),
    el("td", { text: task.worker_id || "" }), el("td", { text: when(task.created_at) }),
    el("td", { class: "error-text", text: short(task.error, 100) }),
  )), "No tasks match.", 7);
  document.getElementById("page-number").textContent = `page ${listState.page + 1}`;
  document.getElementById("page-newer").disabled = listState.page === 0;
  document.getElementById("page-older").disabled = !page.next_cursor;
}

function json(value) {
  return value === null || value === undefined ? "–" : JSON.stringify(value, null, 2);
}

async function taskAction(action) {
  try {
    await api(`/tasks/${encodeURIComponent(body.dataset.taskId)}/${action}`, { method: "POST", body: "{}" });
    showError("");
  } catch (error) {
    showError(error.message);
  }
  await refresh();
}

async function loadTask() {
  const id = encodeURIComponent(body.dataset.taskId);
  const [task, history] = await Promise.all([api(`/tasks/${id}`), api(`/tasks/${id}/history`)]);
  const status = document.getElementById("task-status");
  status.textContent = task.status;
  status.className = `badge ${task.status}`;
  status.dataset.status = task.status;
  const fields = ["type", "status", "priority", "attempts", "max_attempts", "worker_id", "created_at",
    "run_at", "claimed_at", "completed_at", "lease_expires_at", "progress", "progress_message",
    "idempotency_key"];
  fillRows(document.getElementById("task-fields"), fields.map((name) => el("tr", { "data-field": name },
    el("th", { text: name }), el("td", { text: task[name] === null ? "–" : String(task[name]) }),
  )), "", 2);
  document.getElementById("task-params").textContent = json(task.params);
  document.getElementById("task-result").textContent = json(task.result);
  document.getElementById("task-error").textContent = task.error || "–";
  // Only an admin may cancel or retry: other keys never see the buttons.
  const admin = (await identity()).role === "admin";
  document.getElementById("cancel-task").hidden = !admin || !["pending", "processing"].includes(task.status);
  document.getElementById("retry-task").hidden = !admin || !["failed", "cancelled"].includes(task.status);
  fillRows(document.getElementById("task-history"), history.events.map((event) => el("tr", { "data-event": event.event },
    el("td", { text: when(event.at) }), el("td", {}, badge(event.event)), el("td", { class: "num", text: event.attempt }),
    el("td", { text: event.worker_id || "" }), el("td", { class: "error-text", text: event.message || "" }),
  )), "No history recorded for this task.", 5);
}

let knownIdentity = null;

// Who the saved key is, asked once per key.
async function identity() {
  const key = localStorage.getItem(KEY_STORAGE) || "";
  if (!knownIdentity || knownIdentity.key !== key) knownIdentity = { key, me: await api("/identity") };
  return knownIdentity.me;
}

// Every processing task, page after page: a busy queue holds more than one page of them.
async function processingTasks() {
  const tasks = [];
  let cursor = null;
  do {
    const page = await api(`/tasks${query({ status: "processing", limit: "200", cursor })}`);
    tasks.push(...page.tasks);
    cursor = page.next_cursor;
  } while (cursor);
  return tasks;
}

async function loadWorkers() {
  const [workers, processing] = await Promise.all([api("/workers"), processingTasks()]);
  const current = {};
  for (const task of processing) (current[task.worker_id] ||= []).push(task.id);
  fillRows(document.getElementById("workers"), workers.workers.map((worker) => el("tr", { "data-worker-id": worker.worker_id },
    el("td", {}, el("a", { href: `${ROOT}/tasks${query({ worker_id: worker.worker_id })}`, text: worker.worker_id })),
    el("td", { title: worker.last_seen_at, text: since(worker.last_seen_at) }),
    el("td", { class: "num", text: worker.tasks_processing }),
    el("td", { class: "num", text: worker.tasks_completed }),
    el("td", { class: "num", text: worker.tasks_failed }),
    el("td", {}, ...(current[worker.worker_id] || []).flatMap((id) => [taskLink(id), " "])),
  )), "No worker has been seen yet.", 6);
}

// -- wiring --------------------------------------------------------------------------------

const PAGES = { overview: loadOverview, tasks: loadTasks, task: loadTask, workers: loadWorkers };
let refreshing = null;

async function refresh() {
  const load = PAGES[body.dataset.page];
  if (!load) return;
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      await load();
      showError("");
      document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
      body.dataset.loaded = String(Number(body.dataset.loaded || 0) + 1);
    } catch (error) {
      showError(error.message);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function setUpHeader() {
  const input = document.getElementById("api-key");
  input.value = localStorage.getItem(KEY_STORAGE) || "";
  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    refresh();
  });
  const auto = document.getElementById("auto-refresh");
  auto.checked = localStorage.getItem(REFRESH_STORAGE) !== "off";
  auto.addEventListener("change", () => localStorage.setItem(REFRESH_STORAGE, auto.checked ? "on" : "off"));
  setInterval(() => {
    if (auto.checked && !document.hidden) refresh();
  }, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  setUpHeader();
  if (body.dataset.page === "tasks") setUpFilters();
  if (body.dataset.page === "task") {
    document.getElementById("cancel-task").addEventListener("click", () => taskAction("cancel"));
    document.getElementById("retry-task").addEventListener("click", () => taskAction("retry"));
  }
  window.addEventListener("popstate", () => {
    listState.cursors = [null];
    listState.page = 0;
    if (body.dataset.page === "tasks") setUpFilterValues();
    refresh();
  });
  refresh();
});

function setUpFilterValues() {
  const filters = currentFilters();
  document.getElementById("filter-status").value = filters.status;
  document.getElementById("filter-type").value = filters.type;
  document.getElementById("filter-worker").value = filters.worker_id;
  document.getElementById("filter-limit").value = filters.limit;
}
