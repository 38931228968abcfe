// The live log viewer. Everything from a log is inserted as text (textContent), never as HTML.
//
// Lines are kept in a bounded store; the DOM holds a bounded window of them, appended in batches per frame,
// so a burst of a million lines never freezes the tab. While the reader is scrolled up or paused, new lines
// are counted ("N new lines") instead of pushing the text away.
import { LiveSocket, el } from "./lib.js";

const MAX_STORE = 50000;
const MAX_DOM = 5000;
const PER_FRAME = 1000;
const FRAME_BUDGET_MS = 8;
const ANSI_SGR = /\x1b\[([0-9;]*)m/g;
// Other escapes (cursor moves, titles, charsets) are dropped; SGR (ending in "m") is kept for colours.
const ANSI_OTHER = /\x1b(\[[0-9;?]*[A-Za-ln-z]|\][^\x07]*\x07|[()][A-Za-z0-9])/g;

function stripAnsi(text) {
  return text.replace(ANSI_SGR, "").replace(ANSI_OTHER, "");
}

// ANSI colours as spans with classes; the text of each span is set with textContent.
function ansiSegments(text) {
  const segments = [];
  let style = { fg: null, bg: null, bold: false };
  let last = 0;
  const source = text.replace(ANSI_OTHER, "");
  for (const match of source.matchAll(ANSI_SGR)) {
    if (match.index > last) segments.push([source.slice(last, match.index), { ...style }]);
    last = match.index + match[0].length;
    const codes = match[1] === "" ? [0] : match[1].split(";").map(Number);
    for (const code of codes) {
      if (code === 0) style = { fg: null, bg: null, bold: false };
      else if (code === 1) style.bold = true;
      else if (code === 22) style.bold = false;
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) style.fg = code;
      else if (code === 39) style.fg = null;
      else if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) style.bg = code;
      else if (code === 49) style.bg = null;
    }
  }
  if (last < source.length) segments.push([source.slice(last), { ...style }]);
  return segments;
}

function formatTime(ns) {
  if (!ns) return "";
  const date = new Date(Number(BigInt(ns) / 1000000n));
  return date.toISOString().replace("T", " ").replace("Z", "");
}

export class LogViewer {
  constructor(root, controls, containerId) {
    this.root = root;
    this.controls = controls;
    this.containerId = containerId;
    this.store = [];
    this.pending = [];
    this.newCount = 0;
    this.paused = false;
    this.following = true;
    this.frame = 0;
    this.autoTop = 0;
    this.generation = "";
    this.lastNumber = null;
    this.lastTs = 0;
    this.fromStart = false;
    this.filter = { stdout: true, stderr: true, search: null };
    this.bind();
    this.socket = new LiveSocket(() => this.path(), {
      onMessage: (message) => this.onMessage(message),
      onState: (state) => this.status(state === "live" ? "live" : "reconnecting…"),
    });
  }

  path() {
    const base = `/ws/containers/${this.containerId}/logs/`;
    if (this.lastNumber !== null) {
      return `${base}?generation=${this.generation}&after=${this.lastNumber}&since=${this.lastTs}`;
    }
    // Lines of the past have no number: a reconnect while reading them goes on after the last one's time.
    if (this.fromStart) return this.lastTs ? `${base}?tail=all&since=${this.lastTs}` : `${base}?tail=all`;
    return `${base}?tail=200`;
  }

  /** Show the whole log from its first line (the page keeps the newest MAX_STORE), then follow it. */
  showFromStart() {
    this.fromStart = true;
    this.lastNumber = null;
    this.lastTs = 0;
    this.store = [];
    this.pending = [];
    this.newCount = 0;
    this.clearOnNextFrame = true;
    this.updateNewBadge();
    this.schedule();
    this.socket.reconnectNow();
  }

  status(text) {
    this.controls.status.textContent = text;
  }

  bind() {
    const c = this.controls;
    c.timestamps.addEventListener("change", () => this.root.classList.toggle("show-ts", c.timestamps.checked));
    for (const input of [c.stdout, c.stderr, c.search, c.regex]) input.addEventListener("input", () => this.refilter());
    c.pause.addEventListener("click", () => this.setPaused(!this.paused));
    c.live.addEventListener("click", () => this.jumpToLive());
    c.fromStart.addEventListener("click", () => this.showFromStart());
    this.root.addEventListener("scroll", () => this.onScroll());
  }

  // --- messages ---------------------------------------------------------------------------------------------
  onMessage(message) {
    if (message.type === "hello") {
      if (message.generation !== this.generation) this.generation = message.generation;
      return;
    }
    if (message.type === "end") {
      this.status("the container's output ended");
      this.add([{ marker: `— output ended${message.error ? `: ${message.error}` : ""} —` }]);
      return;
    }
    if (message.type !== "lines") return;
    const lines = [];
    if (message.gap) lines.push({ marker: "— some lines were lost; download the full log to see them —" });
    if (message.skipped) lines.push({ marker: `— ${message.skipped} lines skipped (too fast to show) —` });
    for (const [n, stream, ts, text] of message.lines) lines.push({ n, stream, ts, text });
    if (message.generation) this.generation = message.generation;
    const last = message.lines[message.lines.length - 1];
    if (last) {
      this.lastNumber = last[0]; // null for lines read from the engine for this socket: resumed by time
      this.lastTs = last[2];
    }
    this.add(lines);
    this.socket.send({ type: "ack", seq: message.seq });
  }

  add(lines) {
    for (const line of lines) {
      this.store.push(line);
      if (!this.matches(line)) continue;
      if (this.following) this.pending.push(line);
      else this.newCount += 1;
    }
    if (this.store.length > MAX_STORE * 1.2) this.store.splice(0, this.store.length - MAX_STORE);
    // Lines beyond the DOM window would be removed as soon as they were added: never render them.
    if (this.pending.length > MAX_DOM) {
      this.pending.splice(0, this.pending.length - MAX_DOM);
      this.clearOnNextFrame = true;
    }
    this.updateNewBadge();
    this.schedule();
  }

  // --- filtering --------------------------------------------------------------------------------------------
  refilter() {
    const c = this.controls;
    let search = null;
    c.search.classList.remove("invalid");
    if (c.search.value) {
      try {
        search = c.regex.checked ? new RegExp(c.search.value, "gi") : new RegExp(escapeRegex(c.search.value), "gi");
      } catch {
        c.search.classList.add("invalid");
      }
    }
    this.filter = { stdout: c.stdout.checked, stderr: c.stderr.checked, search };
    this.rerender();
  }

  matches(line) {
    if (line.marker) return !this.filter.search;
    if (!this.filter[line.stream]) return false;
    if (!this.filter.search) return true;
    this.filter.search.lastIndex = 0;
    return this.filter.search.test(stripAnsi(line.text));
  }

  // --- rendering --------------------------------------------------------------------------------------------
  rerender() {
    this.pending = [];
    for (let i = this.store.length - 1; i >= 0 && this.pending.length < MAX_DOM; i -= 1) {
      if (this.matches(this.store[i])) this.pending.push(this.store[i]);
    }
    this.pending.reverse();
    this.clearOnNextFrame = true;
    this.newCount = 0;
    this.updateNewBadge();
    this.schedule();
  }

  schedule() {
    if (!this.frame && (this.pending.length || this.clearOnNextFrame)) {
      this.frame = requestAnimationFrame(() => this.renderFrame());
    }
  }

  renderFrame() {
    this.frame = 0;
    if (this.clearOnNextFrame) {
      this.root.replaceChildren();
      this.clearOnNextFrame = false;
    }
    // A time budget per frame, so input is handled between frames however fast lines come.
    const deadline = performance.now() + FRAME_BUDGET_MS;
    const fragment = document.createDocumentFragment();
    let count = 0;
    while (this.pending.length && count < PER_FRAME && (count % 50 || performance.now() < deadline)) {
      fragment.append(this.lineNode(this.pending.shift()));
      count += 1;
    }
    this.root.append(fragment);
    const excess = this.root.childElementCount - MAX_DOM;
    for (let i = 0; i < excess; i += 1) this.root.firstElementChild.remove();
    if (this.following) {
      this.root.scrollTop = this.root.scrollHeight;
      this.autoTop = this.root.scrollTop;
    }
    this.schedule();
  }

  lineNode(line) {
    if (line.marker) return el("div", { class: "line marker", text: line.marker });
    const node = el("div", { class: `line ${line.stream}` }, el("span", { class: "ts", text: formatTime(line.ts) }));
    const text = el("span", { class: "text" });
    if (this.filter.search) {
      const plain = stripAnsi(line.text);
      let last = 0;
      this.filter.search.lastIndex = 0;
      for (const match of plain.matchAll(this.filter.search)) {
        if (!match[0]) break;
        text.append(plain.slice(last, match.index), el("mark", { text: match[0] }));
        last = match.index + match[0].length;
      }
      text.append(plain.slice(last));
    } else {
      for (const [part, style] of ansiSegments(line.text)) {
        if (!style.fg && !style.bg && !style.bold) {
          text.append(part);
          continue;
        }
        const classes = [style.fg && `ansi-fg-${style.fg}`, style.bg && `ansi-bg-${style.bg}`, style.bold && "ansi-bold"];
        text.append(el("span", { class: classes.filter(Boolean).join(" "), text: part }));
      }
    }
    node.append(text);
    return node;
  }

  // --- following, pausing -----------------------------------------------------------------------------------
  atBottom() {
    return this.root.scrollTop + this.root.clientHeight >= this.root.scrollHeight - 4;
  }

  onScroll() {
    if (this.paused) return;
    // Our own scrolling only ever goes down: a position above it is the reader's. One still at the bottom is
    // the browser's (the box grew, lines got shorter: the end came up), and following goes on.
    if (this.following && this.root.scrollTop < this.autoTop - 4 && !this.atBottom()) this.setFollowing(false);
    else if (!this.following && this.atBottom()) this.jumpToLive();
  }

  setPaused(paused) {
    this.paused = paused;
    this.controls.pause.textContent = paused ? "Resume" : "Pause";
    if (paused) this.setFollowing(false);
    else this.jumpToLive();
  }

  setFollowing(following) {
    this.following = following;
    this.controls.live.hidden = following;
  }

  jumpToLive() {
    this.paused = false;
    this.controls.pause.textContent = "Pause";
    this.setFollowing(true);
    this.rerender();
  }

  updateNewBadge() {
    const badge = this.controls.newLines;
    badge.hidden = this.newCount === 0;
    badge.textContent = `${this.newCount} new line${this.newCount === 1 ? "" : "s"}`;
  }

  // The container started again: follow its new output from where we are.
  resume() {
    this.socket.reconnectNow();
  }
}

function escapeRegex(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
