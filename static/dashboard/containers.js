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

// The latest resource sample of each running container, from ws/stats/ (one message a sampling round).
const stats = new Map();
const MIB = 1024 ** 2;

function cpuText(id) {
  const sample = stats.get(id);
  return sample && sample.cpuPercent !== null ? `${sample.cpuPercent.toFixed(1)} %` : "-";
}

function memoryText(id) {
  const sample = stats.get(id);
  return sample ? `${(sample.memoryBytes / MIB).toFixed(1)} MiB` : "-";
}

// Sorting by a live column: the header's button cycles descending, ascending, off (newest first).
const SORT_VALUES = {
  cpu: (id) => stats.get(id)?.cpuPercent ?? null,
  memory: (id) => stats.get(id)?.memoryBytes ?? null,
};
const sort = { key: null, descending: true };

function compare(a, b) {
  if (sort.key) {
    const [x, y] = [SORT_VALUES[sort.key](a.id), SORT_VALUES[sort.key](b.id)];
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

function showStats(batch) {
  stats.clear();
  for (const sample of batch.stats) stats.set(sample.containerId, sample);
  // In place: the rest of the table (and a button being clicked) stays as it is.
  for (const tr of body.rows) {
    tr.querySelector("td.cpu").textContent = cpuText(tr.dataset.id);
    tr.querySelector("td.memory").textContent = memoryText(tr.dataset.id);
  }
  if (sort.key) reorder();
}

// The rows moved, not made again, and only when the order changed.
function reorder() {
  const rows = [...body.rows];
  const sorted = [...rows].sort((a, b) => compare(containers.get(a.dataset.id), containers.get(b.dataset.id)));
  if (sorted.some((tr, i) => tr !== rows[i])) body.append(...sorted);
}

function row(c) {
  return el(
    "tr",
    { "data-id": c.id, "data-state": c.state },
    el("td", {}, el("a", { href: `/containers/${c.id}/`, text: c.name || c.id.slice(0, 12) })),
    el("td", {}, el("span", { class: "state", "data-state": c.state, text: c.state })),
    el("td", { class: "cpu", text: cpuText(c.id) }),
    el("td", { class: "memory", text: memoryText(c.id) }),
    el("td", { text: c.image }),
    el("td", { text: ports(c.ports) }),
    el("td", { text: age(c.createdAt), title: c.createdAt || "" }),
    el("td", { text: c.gpuEnabled ? "GPU" : "" }),
    el("td", { text: c.managed ? "yes" : "" }),
    actionButtons(c),
  );
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
new LiveSocket(() => "/ws/stats/", { onMessage: (message) => message.type === "stats.batch" && showStats(message) });
render();
setInterval(render, 30000); // ages

// Ticking a GPU in the run form means giving only the ticked ones (the server refuses the contradiction).
for (const box of document.querySelectorAll("input[name=gpu_ids]")) {
  box.addEventListener("change", () => {
    const chosen = document.querySelector("input[name=gpu][value=chosen]");
    if (box.checked && chosen) chosen.checked = true;
  });
}
