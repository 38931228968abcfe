// A pull's page: its state as rendered, then each newer state from ws/pulls/<id>/ until the pull ends.
import { el, jsonData, LiveSocket } from "./lib.js";

const status = document.getElementById("pull-status");
const bar = document.getElementById("pull-bar");
const summary = document.getElementById("pull-summary");
const layers = document.getElementById("pull-layers");
const message = document.getElementById("pull-message");
const errorBox = document.getElementById("pull-error");
const note = document.getElementById("pull-note");
const initial = jsonData("pull-data");

function size(bytes) {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit ? `${value.toFixed(1)} ${units[unit]}` : `${value} bytes`;
}

function show(pull) {
  status.textContent = pull.status;
  status.dataset.state = pull.status;
  const progress = pull.progress;
  bar.max = progress.totalBytes || 1;
  bar.value = progress.currentBytes;
  summary.textContent =
    `${progress.layersDone} of ${progress.layers} layers, ` +
    `${size(progress.currentBytes)} of ${size(progress.totalBytes)}`;
  message.textContent = pull.message;
  errorBox.textContent = pull.error;
  note.textContent = pull.note;
  layers.replaceChildren(
    ...pull.layers.map((layer) =>
      el(
        "tr",
        {},
        el("td", { class: "mono", text: layer.id }),
        el("td", { text: layer.status }),
        el("td", { text: `${size(layer.currentBytes)} / ${size(layer.totalBytes)}` }),
      ),
    ),
  );
}

// A run may follow a successful pull and its outcome comes as the note: listen until there is nothing to wait for.
const settled = (pull) => pull.finishedAt && (pull.note || pull.status !== "succeeded");

if (!settled(initial)) {
  const socket = new LiveSocket(() => `/ws/pulls/${initial.id}/`, {
    onMessage: (event) => {
      if (event.type !== "pull.progress") return;
      show(event.pull);
      if (settled(event.pull)) socket.close();
    },
  });
}
