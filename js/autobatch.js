// Autobatch status: calls queued, batches in flight, answered, failed, cost so far.
// One synced trait, `stats`, written by the kernel; nothing is sent back.
import "./common.css";
import { h, setText, mount } from "./lib/dom.js";
import { keepRecordsOnSave } from "./lib/record.js";
import { formatCost, formatCount } from "./lib/format.js";

const FIELDS = [
  ["queued", "queued"],
  ["in_flight", "in flight"],
  ["answered", "answered"],
  ["failed", "failed"],
  ["cost", "cost so far"],
];

/** The text of each field from a stats object (missing numbers count as 0). */
export function statsText(stats = {}) {
  const n = (key) => (Number.isFinite(stats[key]) ? stats[key] : 0);
  const batches = n("in_flight_batches");
  return {
    queued: formatCount(n("queued") + n("sending")),
    in_flight: `${formatCount(batches)} batch${batches === 1 ? "" : "es"} (${formatCount(n("in_flight_calls"))} calls)`,
    answered: formatCount(n("answered")),
    failed: formatCount(n("failed")),
    cost: Number.isFinite(stats.cost_usd) ? formatCost(stats.cost_usd) : "unknown",
  };
}

function render({ model, el }) {
  keepRecordsOnSave(model);
  const values = {};
  const cells = FIELDS.map(([key, label]) => {
    values[key] = h("span", { class: "dw-ab-value", style: "font-weight:600", "data-testid": `dw-ab-${key}` });
    return h("span", { class: "dw-ab-field" }, values[key], h("span", { class: "dw-muted" }, ` ${label}`));
  });
  const title = h("span", { class: "dw-title", "data-testid": "dw-ab-title" });
  const error = h("div", { class: "dw-notice", role: "alert", "data-testid": "dw-ab-error" });
  mount(el, h("div", { class: "dw-widget dw-autobatch", "data-testid": "dw-autobatch" }, h("div", { class: "dw-head" }, title), h("div", { class: "dw-ab-fields", style: "display:flex;flex-wrap:wrap;gap:0.4rem 1.25rem" }, ...cells), error));

  function update() {
    const stats = model.get("stats") ?? {};
    const text = statsText(stats);
    for (const [key] of FIELDS) setText(values[key], text[key]);
    setText(title, `autobatch ${stats.name ?? ""} · ${stats.window ?? ""} window${stats.closed ? " · closed" : ""}`);
    setText(error, stats.last_error ? `last error: ${stats.last_error}` : "");
    error.hidden = !stats.last_error;
    values.failed.style.color = (stats.failed ?? 0) > 0 ? "var(--dw-error-text)" : "";
  }
  model.on("change:stats", update);
  update();
  return () => model.off("change:stats", update);
}

export default { render };
