// A build's page: the stored output, then live output from ws/builds/<id>/ until the build ends.
import { LiveSocket } from "./lib.js";

const MAX_CHARS = 2 * 1024 * 1024; // beyond this the oldest output leaves the page
const output = document.getElementById("build-output");
const status = document.getElementById("build-status");
const errorBox = document.getElementById("build-error");
const cancelForm = document.getElementById("build-cancel");
let chunks = 0;

function append(text) {
  output.append(document.createTextNode(text));
  chunks += 1;
  if (chunks > 200) {
    output.normalize();
    chunks = 0;
    const all = output.textContent;
    if (all.length > MAX_CHARS) output.textContent = `[…]\n${all.slice(-MAX_CHARS)}`;
  }
  output.scrollTop = output.scrollHeight;
}

if (output.dataset.finished !== "1") {
  const socket = new LiveSocket(() => `/ws/builds/${output.dataset.id}/`, {
    onMessage: (message) => {
      if (message.type === "output") {
        if (message.seq === 1) output.textContent = "";
        if (message.skipped) append(`\n[… ${message.skipped} characters not shown …]\n`);
        append(message.text);
        socket.send({ type: "ack", seq: message.seq });
      } else if (message.type === "build.status") {
        status.textContent = message.status;
        status.dataset.state = message.status;
        errorBox.textContent = message.error || "";
        if (["succeeded", "failed", "interrupted"].includes(message.status)) {
          if (cancelForm) cancelForm.hidden = true;
          socket.close();
        }
      }
    },
  });
}
