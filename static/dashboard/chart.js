// A small SVG line chart of one series over a sliding time window. Our own because the dashboard has no
// build step and 300 points need no library; points live in a ring buffer so memory stays bounded.
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 300; // viewBox units; the SVG is stretched to its box, the stroke kept at 1.5 px by CSS
const HEIGHT = 100;

export class RingBuffer {
  constructor(capacity) {
    this.items = new Array(capacity);
    this.start = 0;
    this.length = 0;
  }

  push(item) {
    const capacity = this.items.length;
    this.items[(this.start + this.length) % capacity] = item;
    if (this.length < capacity) this.length += 1;
    else this.start = (this.start + 1) % capacity; // full: the oldest gives way
  }

  *[Symbol.iterator]() {
    for (let i = 0; i < this.length; i += 1) yield this.items[(this.start + i) % this.items.length];
  }
}

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function text(tag, className, value = "") {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = value;
  return node;
}

export class LineChart {
  // max: the top of the y axis (a value above it is drawn at the top); format: a value as text.
  constructor({ label, max, format, windowMs = 5 * 60 * 1000, capacity = 300 }) {
    this.max = max > 0 ? max : 1;
    this.format = format;
    this.windowMs = windowMs;
    this.points = new RingBuffer(capacity);
    this.current = text("strong", "chart-value", "-");
    this.line = svg("path", { class: "chart-line", d: "" });
    this.area = svg("path", { class: "chart-area", d: "" });
    this.svg = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", role: "img" });
    for (const y of [25, 50, 75]) this.svg.append(svg("line", { class: "chart-grid", x1: 0, x2: WIDTH, y1: y, y2: y }));
    this.svg.append(this.area, this.line);
    this.svg.dataset.points = "0";
    const caption = document.createElement("figcaption");
    caption.append(text("span", "", `${label} `), this.current);
    const axis = document.createElement("div");
    axis.className = "chart-axis muted";
    axis.append(text("span", "", "−5 min"), text("span", "", `max ${format(max)}`), text("span", "", "now"));
    this.root = document.createElement("figure");
    this.root.className = "chart";
    this.root.append(caption, this.svg, axis);
    this.svg.setAttribute("aria-label", label);
  }

  // value null: no reading (the board does not report it); the line breaks there.
  push(time, value) {
    this.points.push([time, value]);
    this.current.textContent = value === null || value === undefined ? "n/a" : this.format(value);
  }

  draw(now = Date.now()) {
    let line = "";
    let area = "";
    let runStart = null;
    let lastX = 0;
    let shown = 0;
    const close = () => {
      if (runStart !== null) area += `L${lastX.toFixed(1)},${HEIGHT}L${runStart.toFixed(1)},${HEIGHT}Z`;
      runStart = null;
    };
    for (const [time, value] of this.points) {
      const x = WIDTH - ((now - time) / this.windowMs) * WIDTH;
      if (x < -WIDTH / 60) continue; // older than the window (a little margin so the line enters the edge)
      if (value === null || value === undefined) {
        close();
        continue;
      }
      const y = HEIGHT - Math.min(1, Math.max(0, value / this.max)) * HEIGHT;
      const point = `${x.toFixed(1)},${y.toFixed(1)}`;
      if (runStart === null) {
        line += `M${point}`;
        area += `M${x.toFixed(1)},${HEIGHT}L${point}`;
        runStart = x;
      } else {
        line += `L${point}`;
        area += `L${point}`;
      }
      lastX = x;
      shown += 1;
    }
    close();
    this.line.setAttribute("d", line);
    this.area.setAttribute("d", area);
    this.svg.dataset.points = String(shown);
  }
}
