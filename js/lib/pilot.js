// The report of a pilot inside the progress widget: measured figures, the rest's extrapolated
// cost on the window chosen, the answers beside their prompts, and Proceed. Reads
// snapshot.pilot (dw_notebook/progress/pilot.py says its shape); every text goes in as text.
import { h, separator, setText } from "./dom.js";
import { formatCount } from "./format.js";

/** Dollars as the Python report writes them: "$0.0123", "$0.000117". */
export function pilotUsd(value) {
  if (value >= 0.01 || value === 0) {
    return `$${value.toLocaleString("en-US", { minimumFractionDigits: 4, maximumFractionDigits: 4 })}`;
  }
  return `$${value.toFixed(6)}`;
}

const fixed1 = (v) => Number(v).toFixed(1);
const present = (v) => v !== null && v !== undefined;

/** A pilot's figures as short lines, worded as dw_notebook/progress/pilot.py figure_lines. */
export function pilotFigureLines(f) {
  if (!f || typeof f !== "object") return [];
  const out = [
    `pilot: ${f.pilot_rows} rows, ${f.answered} answered, ${f.failed} failed, ` +
      `${f.truncated} truncated (finish_reason=length)`,
  ];
  if (!present(f.input_tokens_per_row)) {
    out.push("no answered row: nothing measured");
    return out;
  }
  const sd = present(f.output_tokens_sd) ? ` (sd ${fixed1(f.output_tokens_sd)})` : "";
  out.push(
    `measured per row: ${fixed1(f.input_tokens_per_row)} input + ` +
      `${fixed1(f.output_tokens_per_row)} output tokens${sd}`,
  );
  const rest =
    `rest: ${formatCount(f.rest_rows)} rows, ~${formatCount(f.rest_input_tokens)} input + ` +
    `~${formatCount(f.rest_output_tokens)} output tokens`;
  if (!present(f.rest_usd)) {
    out.push(`${rest} (no price for '${f.model}' in the ${f.window} window)`);
    return out;
  }
  const spread =
    present(f.rest_low_usd) && present(f.rest_high_usd)
      ? ` (95%: ${pilotUsd(f.rest_low_usd)} to ${pilotUsd(f.rest_high_usd)})`
      : "";
  out.push(`${rest} ≈ ${pilotUsd(f.rest_usd)}${spread} on the ${f.window} window`);
  if (present(f.static_rest_usd)) out.push(`static estimate of the rest (bytes ÷ 4): ${pilotUsd(f.static_rest_usd)}`);
  if (present(f.pilot_usd)) out.push(`the pilot cost ${pilotUsd(f.pilot_usd)}`);
  return out;
}

function rowNode(row, columns) {
  const answers = row.answers && typeof row.answers === "object" ? row.answers : {};
  const named = columns.length > 1;
  const answer = h(
    "div",
    { class: "dw-pilot-answer", "data-testid": "dw-pilot-answer" },
    ...columns
      .filter((c) => present(answers[c]))
      .map((c) => h("div", {}, named ? h("span", { class: "dw-pilot-col" }, `${c}: `) : null, String(answers[c]))),
  );
  if (row.error) answer.append(h("div", { class: "dw-pilot-error" }, String(row.error)));
  const truncated = row.finish_reason === "length";
  const status = h(
    "span",
    { class: `dw-pilot-status dw-pilot-${row.status === "ok" && !truncated ? "ok" : "bad"}` },
    truncated ? `${row.status}, truncated` : String(row.status ?? ""),
  );
  const tokens = present(row.prompt_tokens)
    ? `${formatCount(row.prompt_tokens)} in / ${formatCount(row.completion_tokens)} out`
    : "";
  return h(
    "div",
    { class: "dw-pilot-row", "data-testid": "dw-pilot-row" },
    h("div", { class: "dw-pilot-prompt" }, String(row.prompt ?? "")),
    answer,
    h("div", { class: "dw-pilot-meta" }, status, tokens ? separator(", ") : null, h("span", { class: "dw-pilot-tokens" }, tokens)),
  );
}

/**
 * The pilot block: `update(pilot)` shows it (hidden without a pilot or while it runs);
 * `onProceed(window)` is called once per click; the button stays disabled until the kernel
 * answers (`done()` after an error, or a snapshot whose pilot has proceeded).
 */
export function pilotSection({ onProceed }) {
  let sending = false;
  let last = null;
  let chosen = null; // the window the user picked; the job's own until then

  let folded = false; // after proceed the report folds to its title (the whole job is the story)
  const title = h("span", { class: "dw-pilot-title", "data-testid": "dw-pilot-title" });
  const fold = h("button", {
    class: "dw-button",
    type: "button",
    "data-testid": "dw-pilot-fold",
    onclick: () => {
      folded = !folded;
      update(last);
    },
  });
  const error = h("div", { class: "dw-pilot-error", "data-testid": "dw-pilot-error" });
  const figures = h("ul", { class: "dw-pilot-figures", "data-testid": "dw-pilot-figures" });
  const rows = h("div", { class: "dw-pilot-rows", "data-testid": "dw-pilot-rows" });
  const select = h("select", {
    class: "dw-select",
    "data-testid": "dw-pilot-window",
    "aria-label": "completion window of the rest",
    onchange: () => {
      chosen = select.value;
      update(last);
    },
  });
  const button = h("button", {
    class: "dw-button dw-button-primary",
    type: "button",
    "data-testid": "dw-proceed",
    onclick: () => {
      if (sending || last?.state !== "ready") return;
      sending = true;
      onProceed(select.value);
      update(last);
    },
  });
  const actions = h(
    "div",
    { class: "dw-pilot-actions" },
    h("label", { class: "dw-pilot-label" }, "Send the rest on the ", select, " window"),
    button,
  );
  const body = h("div", { class: "dw-pilot-body" }, error, figures, rows);
  const root = h(
    "div",
    { class: "dw-pilot", "data-testid": "dw-pilot" },
    h("div", { class: "dw-pilot-head" }, title, fold),
    body,
    actions,
  );
  let wasProceeded = false;

  function update(pilot) {
    last = pilot && typeof pilot === "object" ? pilot : null;
    const shown = Boolean(last) && last.state !== "running";
    root.hidden = !shown;
    if (!shown) return;
    const proceeded = last.state === "proceeded";
    if (proceeded) sending = false;
    if (proceeded && !wasProceeded) folded = true;
    if (!proceeded && wasProceeded) folded = false; // the rest's upload failed: offered again
    wasProceeded = proceeded;
    body.hidden = folded;
    fold.hidden = !proceeded;
    setText(fold, folded ? "Show" : "Hide");
    fold.setAttribute("aria-label", folded ? "Show the pilot report" : "Hide the pilot report");

    const table = last.figures && typeof last.figures === "object" ? last.figures : {};
    const windows = Object.keys(table);
    const window = proceeded ? last.window : (chosen ?? last.window);
    if (select.options.length !== windows.length) {
      select.replaceChildren(...windows.map((w) => h("option", { value: w }, w)));
    }
    if (windows.includes(window)) select.value = window;

    setText(
      title,
      proceeded
        ? `Pilot report: ${formatCount(last.n)} rows; the rest (${formatCount(last.rest)} rows) sent on the ${last.window} window`
        : `Pilot report: ${formatCount(last.n)} rows done, waiting for proceed`,
    );
    setText(error, last.error ? `the pilot's answers could not be read: ${last.error}` : "");
    error.hidden = !last.error;
    figures.replaceChildren(...pilotFigureLines(table[window]).map((line) => h("li", {}, line)));
    const columns = Array.isArray(last.columns) ? last.columns.map(String) : [];
    const list = Array.isArray(last.rows) ? last.rows : [];
    rows.replaceChildren(...list.map((row) => rowNode(row, columns)));
    rows.hidden = !list.length;

    actions.hidden = proceeded;
    button.disabled = sending || last.state !== "ready";
    setText(button, sending ? "Sending…" : `Proceed: send the other ${formatCount(last.rest)} rows`);
  }

  return {
    root,
    update,
    /** The kernel refused the proceed: offer the button again. */
    done() {
      sending = false;
      update(last);
    },
    get sending() {
      return sending;
    },
  };
}
