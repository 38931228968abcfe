// The containers page: the list rendered from the server's data, then kept live from ws/containers/ (status)
// and ws/stats/?changes=only (resource values).
//
// Hundreds of rows update every second, so the page is built to keep the browser's main thread idle: each
// row is made once and kept (a view holding its cells' text nodes); a status change remakes only its own row;
// a stats change rewrites only the text nodes whose strings changed, inside boxes of a fixed size that Chrome
// lays out on their own (app.css: `#containers td.metric > div`, `contain: strict`), so the table around them
// is not laid out again; every DOM write waits for the next animation frame and all of them go in it, and no
// layout is read. Rows move only when the order really changed, and then only those out of place.
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

// The filters' values, read once for a whole pass over the rows.
function visibleTest() {
  const text = filters.text.value.trim().toLowerCase();
  const state = filters.state.value;
  const managed = filters.managed.checked;
  return (c) =>
    (!state || c.state === state) &&
    (!managed || c.managed) &&
    (!text || [c.name, c.image, c.id].some((value) => (value || "").toLowerCase().includes(text)));
}

function actionButtons(c) {
  const buttons = cell({ class: "actions" });
  const offer = [];
  if (can.run && c.state !== "running") offer.push("start");
  if (can.stop && c.state === "running") offer.push("stop");
  if (can.run && c.state === "running") offer.push("restart");
  if (can.stop) offer.push("remove");
  for (const action of offer) {
    const button = el("button", { type: "button", text: action, "data-action": action, "data-id": c.id });
    if (action === "remove") button.className = "danger";
    buttons.append(button);
  }
  return buttons;
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
const NO_VALUE = "-";

// The live columns: a header's data-sort and its cells' class are the key; `fields` are the values a cell
// shows (a change to another leaves it alone), `value` sorts, `lines` are the cell's lines (class and title
// of each) and `show` their texts for a sample that has a value. Network and disk sort by both directions
// together (what moves the most bytes), each direction on a line of its own.
const LIVE_COLUMNS = {
  cpu: {
    fields: ["cpuPercent"],
    value: (s) => s.cpuPercent,
    lines: [{}],
    show: (s) => [percent(s.cpuPercent)],
  },
  memory: {
    fields: ["memoryBytes", "memoryPercent", "memoryLimitBytes"],
    value: (s) => s.memoryBytes,
    lines: [{}, { class: "muted", title: "of the limit" }],
    show: (s) => [bytes(s.memoryBytes), percent(s.memoryPercent)],
  },
  network: {
    fields: ["netRxBytesPerSecond", "netTxBytesPerSecond"],
    value: (s) => sum(s.netRxBytesPerSecond, s.netTxBytesPerSecond),
    lines: [
      { class: "in", title: "received" },
      { class: "out", title: "sent" },
    ],
    show: (s) => [`↓ ${rate(s.netRxBytesPerSecond)}`, `↑ ${rate(s.netTxBytesPerSecond)}`],
  },
  disk: {
    fields: ["blockReadBytesPerSecond", "blockWriteBytesPerSecond"],
    value: (s) => sum(s.blockReadBytesPerSecond, s.blockWriteBytesPerSecond),
    lines: [
      { class: "read", title: "read" },
      { class: "write", title: "written" },
    ],
    show: (s) => [`R ${rate(s.blockReadBytesPerSecond)}`, `W ${rate(s.blockWriteBytesPerSecond)}`],
  },
};
const ALL_COLUMNS = Object.keys(LIVE_COLUMNS);

function liveValue(key, id) {
  const sample = stats.get(id);
  const value = sample ? LIVE_COLUMNS[key].value(sample) : null;
  return value === undefined ? null : value;
}

// What a live cell's lines read: "-" on the first while there is no value (the cell keeps its lines, so its
// size never changes).
function liveTexts(key, id) {
  const column = LIVE_COLUMNS[key];
  if (liveValue(key, id) === null) return column.lines.map((_, i) => (i === 0 ? NO_VALUE : ""));
  return column.show(stats.get(id));
}

function memoryTitle(id) {
  const limit = stats.get(id)?.memoryLimitBytes;
  return limit ? `limit ${bytes(limit)}` : "";
}

// A text node is written only when its string changed: an unchanged one costs neither style nor layout.
function setText(node, text) {
  if (node.data !== text) node.data = text;
}

// The rows are grids (app.css), no longer table rows to assistive technology: their roles say what they are.
const cell = (props, ...children) => el("td", { ...props, role: "cell" }, ...children);

// One row, made once per status of its container: its <tr>, and the text nodes that change without it.
class RowView {
  constructor(c) {
    this.container = c;
    this.texts = {}; // live column -> its lines' text nodes
    const cells = ALL_COLUMNS.map((key) => {
      this.texts[key] = LIVE_COLUMNS[key].lines.map(() => document.createTextNode(""));
      const lines = LIVE_COLUMNS[key].lines.map((props, i) => el("div", props, this.texts[key][i]));
      return cell({ class: `${key} metric` }, ...lines);
    });
    this.memoryCell = cells[ALL_COLUMNS.indexOf("memory")];
    this.age = document.createTextNode(age(c.createdAt));
    this.tr = el(
      "tr",
      { "data-id": c.id, "data-state": c.state, role: "row" },
      cell({ class: "name" }, el("a", { href: `/containers/${c.id}/`, text: c.name || c.id.slice(0, 12) })),
      cell({}, el("span", { class: "state", "data-state": c.state, text: c.state })),
      ...cells,
      cell({ class: "detail", text: c.image }),
      cell({ class: "ports", text: ports(c.ports) }),
      cell({ title: c.createdAt || "" }, this.age),
      cell({ text: c.gpuEnabled ? "GPU" : "" }),
      cell({ text: c.managed ? "yes" : "" }),
      actionButtons(c),
    );
    this.showLive(ALL_COLUMNS);
  }

  showLive(columns) {
    const id = this.container.id;
    for (const key of columns) {
      liveTexts(key, id).forEach((text, i) => setText(this.texts[key][i], text));
    }
    if (columns.includes("memory")) {
      const title = memoryTitle(id);
      if (this.memoryCell.title !== title) this.memoryCell.title = title;
    }
  }

  showAge() {
    setText(this.age, age(this.container.createdAt));
  }
}

const views = new Map(); // container id -> RowView, shown or filtered out
let shown = []; // the RowViews in the table, in its order

// Sorting by a live column: the header's button cycles descending, ascending, off (newest first).
const sort = { key: null, descending: true };

function compare(a, b) {
  if (sort.key) {
    const [x, y] = [liveValue(sort.key, a.container.id), liveValue(sort.key, b.container.id)];
    if (x !== y) {
      if (x === null) return 1; // no sample yet: last, whichever the direction
      if (y === null) return -1;
      return sort.descending ? y - x : x - y;
    }
  }
  return (b.container.createdAt || "").localeCompare(a.container.createdAt || "");
}

function inOrder(list) {
  for (let i = 1; i < list.length; i += 1) if (compare(list[i - 1], list[i]) > 0) return false;
  return true;
}

// The indexes of a longest strictly increasing run (not necessarily adjacent) among `positions`, -1 left out:
// the rows that may stay where they are while the others move around them.
function longestIncreasing(positions) {
  const tails = []; // tails[k]: index in positions of the smallest last value of a run of length k + 1
  const previous = new Array(positions.length);
  positions.forEach((value, i) => {
    if (value < 0) return;
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (positions[tails[middle]] < value) low = middle + 1;
      else high = middle;
    }
    previous[i] = low > 0 ? tails[low - 1] : -1;
    tails[low] = i;
  });
  const keep = new Set();
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = previous[i]) keep.add(i);
  return keep;
}

// The table shows `wanted`, in that order: rows no longer wanted leave, and of the others only those out of
// place move (each move lays out again what follows it).
function place(wanted) {
  const keeping = new Set(wanted);
  for (const view of shown) if (!keeping.has(view)) view.tr.remove();
  const was = new Map(shown.filter((view) => keeping.has(view)).map((view, i) => [view, i]));
  const stay = longestIncreasing(wanted.map((view) => (was.has(view) ? was.get(view) : -1)));
  let next = null;
  for (let i = wanted.length - 1; i >= 0; i -= 1) {
    const tr = wanted[i].tr;
    if (!stay.has(i)) body.insertBefore(tr, next);
    next = tr;
  }
  shown = wanted;
  const empty = document.getElementById("empty");
  if (empty.hidden !== wanted.length > 0) empty.hidden = wanted.length > 0;
}

function placeAll() {
  const visible = visibleTest();
  place([...views.values()].filter((view) => visible(view.container)).sort(compare));
}

// --- what waits for the next frame ------------------------------------------------------------------------
const due = {
  rows: new Set(), // container ids whose row is made again (or removed)
  live: new Map(), // container id -> the live columns whose values changed
  placeAll: false, // which rows, in which order: filter and sort again
  checkOrder: false, // the sort column's values changed: move rows only if they are out of order
};
let frameAsked = false;

function later() {
  if (frameAsked) return;
  frameAsked = true;
  requestAnimationFrame(applyDue);
}

function applyDue() {
  frameAsked = false;
  for (const id of due.rows) {
    const old = views.get(id);
    const c = containers.get(id);
    if (!c) {
      views.delete(id);
      if (old) old.tr.remove();
      shown = shown.filter((view) => view !== old);
      continue;
    }
    const view = new RowView(c);
    views.set(id, view);
    due.live.delete(id); // made with the latest values
    if (old) {
      if (old.tr.parentNode) old.tr.replaceWith(view.tr);
      shown = shown.map((each) => (each === old ? view : each));
    }
  }
  for (const [id, columns] of due.live) views.get(id)?.showLive([...columns]);
  if (due.placeAll || due.rows.size) placeAll();
  else if (due.checkOrder && !inOrder(shown)) place([...shown].sort(compare));
  due.rows.clear();
  due.live.clear();
  due.placeAll = false;
  due.checkOrder = false;
}

function showStatus(message) {
  if (message.full) {
    const listed = new Set(message.containers.map((c) => c.id));
    for (const id of containers.keys()) if (!listed.has(id)) due.rows.add(id);
    containers.clear();
  }
  for (const c of message.containers) {
    const before = views.get(c.id)?.container;
    containers.set(c.id, c);
    // A whole list after a reconnect repeats most rows as they were: those stay as they are.
    if (!before || JSON.stringify(before) !== JSON.stringify(c)) due.rows.add(c.id);
  }
  for (const id of message.removed) {
    containers.delete(id);
    due.rows.add(id);
  }
  if (due.rows.size) later();
}

function showStats(message) {
  if (message.full) {
    for (const id of stats.keys()) due.live.set(id, new Set(ALL_COLUMNS));
    stats.clear();
  }
  for (const change of message.stats) {
    const id = change.containerId;
    stats.set(id, { ...stats.get(id), ...change });
    const columns = due.live.get(id) || new Set();
    for (const key of ALL_COLUMNS) {
      if (message.full || LIVE_COLUMNS[key].fields.some((field) => field in change)) columns.add(key);
    }
    if (columns.size) due.live.set(id, columns);
    if (sort.key && columns.has(sort.key)) due.checkOrder = true;
  }
  for (const id of message.gone) {
    stats.delete(id);
    due.live.set(id, new Set(ALL_COLUMNS));
    if (sort.key) due.checkOrder = true;
  }
  if (due.live.size) later();
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
  due.placeAll = true;
  later();
});

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

for (const input of Object.values(filters)) {
  input.addEventListener("input", () => {
    due.placeAll = true;
    later();
  });
}

const liveState = document.getElementById("live-state");
new LiveSocket(() => "/ws/containers/", {
  onState: (state) => {
    liveState.dataset.state = state;
    liveState.title = state === "live" ? "live updates" : "reconnecting…";
  },
  onMessage: (message) => {
    if (message.type === "engine.status") showEngineBanner(message.available, message.error);
    else if (message.type === "container.status") showStatus(message);
  },
});
new LiveSocket(() => "/ws/stats/?changes=only", {
  onMessage: (message) => message.type === "stats.changes" && showStats(message),
});
for (const c of containers.values()) views.set(c.id, new RowView(c));
placeAll();
// The ages: only their own text nodes, and only those whose text changed.
setInterval(() => {
  for (const view of views.values()) view.showAge();
}, 30000);

// Ticking a GPU in the run form means giving only the ticked ones (the server refuses the contradiction).
for (const box of document.querySelectorAll("input[name=gpu_ids]")) {
  box.addEventListener("change", () => {
    const chosen = document.querySelector("input[name=gpu][value=chosen]");
    if (box.checked && chosen) chosen.checked = true;
  });
}
