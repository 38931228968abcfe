// The containers page: the list rendered from the server's data, then kept live from ws/containers/.
import { LiveSocket, age, containerAction, el, jsonData, showEngineBanner } from "./lib.js";

const can = jsonData("can-data");
const containers = new Map(jsonData("containers-data").map((c) => [c.id, c]));
const body = document.querySelector("#containers tbody");
const filters = {
  state: document.getElementById("filter-state"),
  text: document.getElementById("filter-text"),
  managed: document.getElementById("filter-managed"),
};
const errorBox = document.getElementById("action-error");

function ports(list) {
  return (list || []).map((p) => (p.host ? `${p.host}→${p.internal}` : `${p.internal}`)).join(", ") || "-";
}

function visible(c) {
  const text = filters.text.value.trim().toLowerCase();
  if (filters.state.value && c.state !== filters.state.value) return false;
  if (filters.managed.checked && !c.managed) return false;
  return !text || [c.name, c.image, c.id].some((value) => (value || "").toLowerCase().includes(text));
}

function actionButtons(c) {
  const cell = el("td", { class: "actions" });
  const offer = [];
  if (can.run && c.state !== "running") offer.push("start");
  if (can.stop && c.state === "running") offer.push("stop");
  if (can.run && c.state === "running") offer.push("restart");
  if (can.stop) offer.push("remove");
  for (const action of offer) {
    const button = el("button", { type: "button", text: action, "data-action": action, "data-id": c.id });
    if (action === "remove") button.className = "danger";
    cell.append(button);
  }
  return cell;
}

// The latest resource values of each running container, kept from ws/stats/?changes=only: a whole first
// message, then per sampling round only the values that changed and the ids that went away.
const stats = new Map();
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

// Three significant figures (from 1000 on, in the next unit), as the server rounds what it sends.
function bytes(value) {
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

const percent = (value) => `${value.toFixed(1)} %`;
const rate = (value) => `${bytes(value)}/s`;
const sum = (x, y) => (x === null || y === null ? null : x + y);
const line = (text, props = {}) => el("div", { ...props, text });

// The live columns: a header's data-sort and its cells' class are the key; `fields` are the values a cell
// shows (a change to another leaves it alone), `value` sorts, `show` fills a cell that has a value. Network
// and disk sort by both directions together (what moves the most bytes), each direction on a line of its own.
const LIVE_COLUMNS = {
  cpu: { fields: ["cpuPercent"], value: (s) => s.cpuPercent, show: (s) => [percent(s.cpuPercent)] },
  memory: {
    fields: ["memoryBytes", "memoryPercent", "memoryLimitBytes"],
    value: (s) => s.memoryBytes,
    show: (s) => [line(bytes(s.memoryBytes)), line(percent(s.memoryPercent), { class: "muted", title: "of the limit" })],
  },
  network: {
    fields: ["netRxBytesPerSecond", "netTxBytesPerSecond"],
    value: (s) => sum(s.netRxBytesPerSecond, s.netTxBytesPerSecond),
    show: (s) => [
      line(`↓ ${rate(s.netRxBytesPerSecond)}`, { class: "in", title: "received" }),
      line(`↑ ${rate(s.netTxBytesPerSecond)}`, { class: "out", title: "sent" }),
    ],
  },
  disk: {
    fields: ["blockReadBytesPerSecond", "blockWriteBytesPerSecond"],
    value: (s) => sum(s.blockReadBytesPerSecond, s.blockWriteBytesPerSecond),
    show: (s) => [
      line(`R ${rate(s.blockReadBytesPerSecond)}`, { class: "read", title: "read" }),
      line(`W ${rate(s.blockWriteBytesPerSecond)}`, { class: "write", title: "written" }),
    ],
  },
};

function liveValue(key, id) {
  const sample = stats.get(id);
  const value = sample ? LIVE_COLUMNS[key].value(sample) : null;
  return value === undefined ? null : value;
}

function fillLive(td, key, id) {
  td.replaceChildren(...(liveValue(key, id) === null ? ["-"] : LIVE_COLUMNS[key].show(stats.get(id))));
}

function liveCells(id) {
  return Object.keys(LIVE_COLUMNS).map((key) => {
    const td = el("td", { class: `${key} metric` });
    fillLive(td, key, id);
    return td;
  });
}

function memoryTitle(id) {
  const limit = stats.get(id)?.memoryLimitBytes;
  return limit ? `limit ${bytes(limit)}` : "";
}

// Sorting by a live column: the header's button cycles descending, ascending, off (newest first).
const sort = { key: null, descending: true };

function compare(a, b) {
  if (sort.key) {
    const [x, y] = [liveValue(sort.key, a.id), liveValue(sort.key, b.id)];
    if (x !== y) {
      if (x === null) return 1; // no sample yet: last, whichever the direction
      if (y === null) return -1;
      return sort.descending ? y - x : x - y;
    }
  }
  return (b.createdAt || "").localeCompare(a.createdAt || "");
}

function showSort() {
  for (const th of document.querySelectorAll("#containers th[data-sort]")) {
    const on = th.dataset.sort === sort.key;
    th.setAttribute("aria-sort", on ? (sort.descending ? "descending" : "ascending") : "none");
  }
}

document.querySelector("#containers thead").addEventListener("click", (event) => {
  const th = event.target.closest("th[data-sort]");
  if (!th) return;
  if (sort.key !== th.dataset.sort) Object.assign(sort, { key: th.dataset.sort, descending: true });
  else if (sort.descending) sort.descending = false;
  else sort.key = null;
  showSort();
  render();
});

const ALL_COLUMNS = Object.keys(LIVE_COLUMNS);

function showStats(message) {
  if (message.full) stats.clear();
  const touched = new Map(); // container id -> the columns whose values changed
  for (const change of message.stats) {
    stats.set(change.containerId, { ...stats.get(change.containerId), ...change });
    touched.set(
      change.containerId,
      ALL_COLUMNS.filter((key) => LIVE_COLUMNS[key].fields.some((field) => field in change)),
    );
  }
  for (const id of message.gone) {
    stats.delete(id);
    touched.set(id, ALL_COLUMNS);
  }
  // In place, and only the cells whose values changed: the rest of the table (and a button being clicked)
  // stays as it is.
  for (const tr of body.rows) {
    const columns = message.full ? ALL_COLUMNS : touched.get(tr.dataset.id);
    if (columns) showLive(tr, columns);
  }
  if (sort.key && (message.full || touched.size)) reorder();
}

function showLive(tr, columns) {
  const id = tr.dataset.id;
  for (const key of columns) fillLive(tr.querySelector(`td.${key}`), key, id);
  if (columns.includes("memory")) tr.querySelector("td.memory").title = memoryTitle(id);
}

// The rows moved, not made again, and only when the order changed.
function reorder() {
  const rows = [...body.rows];
  const sorted = [...rows].sort((a, b) => compare(containers.get(a.dataset.id), containers.get(b.dataset.id)));
  if (sorted.some((tr, i) => tr !== rows[i])) body.append(...sorted);
}

function row(c) {
  const tr = el(
    "tr",
    { "data-id": c.id, "data-state": c.state },
    el("td", {}, el("a", { href: `/containers/${c.id}/`, text: c.name || c.id.slice(0, 12) })),
    el("td", {}, el("span", { class: "state", "data-state": c.state, text: c.state })),
    ...liveCells(c.id),
    el("td", { class: "detail", text: c.image }),
    el("td", { text: ports(c.ports) }),
    el("td", { text: age(c.createdAt), title: c.createdAt || "" }),
    el("td", { text: c.gpuEnabled ? "GPU" : "" }),
    el("td", { text: c.managed ? "yes" : "" }),
    actionButtons(c),
  );
  tr.querySelector("td.memory").title = memoryTitle(c.id);
  return tr;
}

function render() {
  const rows = [...containers.values()]
    .filter(visible)
    .sort(compare)
    .map(row);
  body.replaceChildren(...rows);
  document.getElementById("empty").hidden = rows.length > 0;
}

body.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const { action, id } = button.dataset;
  if (action === "remove" && !confirm(`Remove ${containers.get(id)?.name || id}?`)) return;
  button.disabled = true;
  errorBox.textContent = "";
  try {
    await containerAction(action, id);
  } catch (error) {
    errorBox.textContent = `${action} failed: ${error.message}`;
    button.disabled = false;
  }
});

for (const input of Object.values(filters)) input.addEventListener("input", render);

const liveState = document.getElementById("live-state");
new LiveSocket(() => "/ws/containers/", {
  onState: (state) => {
    liveState.dataset.state = state;
    liveState.title = state === "live" ? "live updates" : "reconnecting…";
  },
  onMessage: (message) => {
    if (message.type === "engine.status") {
      showEngineBanner(message.available, message.error);
      return;
    }
    if (message.type !== "container.status") return;
    if (message.full) containers.clear();
    for (const c of message.containers) containers.set(c.id, c);
    for (const id of message.removed) containers.delete(id);
    render();
  },
});
new LiveSocket(() => "/ws/stats/?changes=only", {
  onMessage: (message) => message.type === "stats.changes" && showStats(message),
});
render();
setInterval(render, 30000); // ages

// Ticking a GPU in the run form means giving only the ticked ones (the server refuses the contradiction).
for (const box of document.querySelectorAll("input[name=gpu_ids]")) {
  box.addEventListener("change", () => {
    const chosen = document.querySelector("input[name=gpu][value=chosen]");
    if (box.checked && chosen) chosen.checked = true;
  });
}
