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

const capText = (cap) => (present(cap) ? `max_tokens=${cap}` : "the model's own length limit");

/** What the pilot found and the fix proposed, worded as dw_notebook/progress/fixes.py does. */
export function pilotFindingLines(f) {
  if (!f || typeof f !== "object") return [];
  const out = [];
  if (f.truncated) {
    const used = present(f.longest_complete)
      ? `the longest complete answer used ${f.longest_complete} tokens`
      : "no answer ended by itself";
    out.push(
      `${f.truncated} of ${f.rows} answers were cut off at ${capText(f.cap)} ` +
        `(finish_reason=length); ${used}; proposed max_tokens=${f.max_tokens}`,
    );
  }
  if (f.unparsed) {
    const example = f.parse_example ? ` (${f.parse_example})` : "";
    out.push(
      `${f.unparsed} of ${f.rows} answers did not parse against the schema${example}; ` +
        "proposed: add the schema to the system prompt (schema_hint=True)",
    );
  }
  return out;
}

/** Whether the pilot found something Proceed must not silently send again. */
/** What a pilot's proceed sent (same words as the Python text: progress/fixes.py). */
export function restSentText(pilot = {}) {
  const text = `the rest (${formatCount(pilot.rest ?? 0)} rows) sent on the ${pilot.window} window`;
  const sent = pilot.sent && typeof pilot.sent === "object" ? pilot.sent : {};
  if (sent.unchanged) return `${text} unchanged, as asked (the pilot's findings will repeat)`;
  const fixes = [sent.max_tokens ? `max_tokens=${sent.max_tokens}` : null, sent.schema_hint ? "the schema hint" : null];
  const chosen = fixes.filter(Boolean);
  return chosen.length ? `${text} with ${chosen.join(" and ")}` : text;
}

export const needsChoice = (f) => Boolean(f && typeof f === "object" && (f.truncated || f.unparsed));

/**
 * The fix block: the findings, a max_tokens field prefilled with the proposal, the schema hint,
 * and "send unchanged" (a deliberate tick). `choice()` is the proceed's options, or null while
 * neither a fix nor "send unchanged" is chosen; `reason()` says why not.
 */
function fixSection(onChange) {
  let f = null;
  let touched = false; // the user edited the field: polls do not overwrite it
  const lines = h("ul", { class: "dw-pilot-findings", "data-testid": "dw-pilot-findings" });
  const tokens = h("input", {
    class: "dw-input dw-pilot-tokens-input",
    type: "number",
    min: "1",
    step: "1",
    "data-testid": "dw-pilot-max-tokens",
    "aria-label": "max_tokens of the rest",
    oninput: () => {
      touched = true;
      onChange();
    },
  });
  const tokensLabel = h("label", { class: "dw-pilot-fix-field" }, "max_tokens for the rest ", tokens);
  const hint = h("input", { type: "checkbox", "data-testid": "dw-pilot-schema-hint", onchange: () => onChange() });
  hint.checked = true;
  const hintText = h("span", { class: "dw-pilot-hint-text" });
  const hintLabel = h("label", { class: "dw-pilot-fix-field" }, hint, " add to the system prompt: ", hintText);
  const unchanged = h("input", { type: "checkbox", "data-testid": "dw-pilot-unchanged", onchange: () => onChange() });
  const unchangedText = h("span", {}, "send the rest unchanged");
  const unchangedLabel = h("label", { class: "dw-pilot-fix-field dw-pilot-unchanged" }, unchanged, " ", unchangedText);
  const note = h("div", { class: "dw-pilot-fix-note", "data-testid": "dw-pilot-fix-note" });
  const root = h(
    "div",
    { class: "dw-pilot-fix", "data-testid": "dw-pilot-fix" },
    lines,
    tokensLabel,
    hintLabel,
    unchangedLabel,
    note,
  );

  function tokensValue() {
    const text = tokens.value.trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  }

  /** The fix chosen, {problems} naming what is left unfixed, or {send_unchanged: true}. */
  function choice() {
    if (!needsChoice(f)) return { options: {}, problems: [] };
    if (unchanged.checked) return { options: { send_unchanged: true }, problems: [] };
    const options = {};
    const problems = [];
    if (f.truncated) {
      const value = tokensValue();
      const floor = f.cut_at ?? 0;
      if (value === null || value <= floor) problems.push(`max_tokens must be above ${floor}`);
      else options.max_tokens = value;
    }
    if (f.unparsed) {
      if (hint.checked && f.schema_hint) options.schema_hint = true;
      else problems.push("tick the schema hint");
    }
    return { options, problems };
  }

  function update(findings, rest, locked) {
    f = needsChoice(findings) ? findings : null;
    root.hidden = !f;
    if (!f) return;
    lines.replaceChildren(...pilotFindingLines(f).map((line) => h("li", {}, line)));
    tokensLabel.hidden = !f.truncated;
    if (f.truncated && !touched) tokens.value = String(f.max_tokens ?? "");
    hintLabel.hidden = !f.unparsed || !f.schema_hint;
    setText(hintText, f.schema_hint ?? "");
    const cause = f.truncated ? "cut off at the same max_tokens" : "unparsed the same way";
    setText(unchangedText, `send the other ${formatCount(rest)} rows unchanged (expect answers ${cause})`);
    tokens.disabled = hint.disabled = unchanged.checked || locked;
    unchanged.disabled = locked;
    const { problems } = choice();
    setText(note, problems.length ? `To send: ${problems.join(", ")}; or tick "send unchanged".` : "");
    note.hidden = !problems.length;
  }

  return { root, update, choice };
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
 * `onProceed(window, options)` is called once per click (options: the fix chosen for what the
 * pilot found, `{max_tokens, schema_hint}`, or `{send_unchanged: true}`; Proceed stays disabled
 * until one is chosen); the button stays disabled until the kernel answers (`done()` after an
 * error, or a snapshot whose pilot has proceeded).
 */
export function pilotSection({ onProceed }) {
  const fix = fixSection(() => update(last));
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
      const { options, problems } = fix.choice();
      if (problems.length) return;
      sending = true;
      onProceed(select.value, options);
      update(last);
    },
  });
  const actions = h(
    "div",
    { class: "dw-pilot-actions" },
    h("label", { class: "dw-pilot-label" }, "Send the rest on the ", select, " window"),
    button,
  );
  const shared = h("div", { class: "dw-pilot-shared", "data-testid": "dw-pilot-shared" });
  const body = h("div", { class: "dw-pilot-body" }, error, figures, shared, rows);
  const root = h(
    "div",
    { class: "dw-pilot", "data-testid": "dw-pilot" },
    h("div", { class: "dw-pilot-head" }, title, fold),
    body,
    fix.root,
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
        ? `Pilot report: ${formatCount(last.n)} rows; ${restSentText(last)}`
        : `Pilot report: ${formatCount(last.n)} rows done, waiting for proceed`,
    );
    setText(error, last.error ? `the pilot's answers could not be read: ${last.error}` : "");
    error.hidden = !last.error;
    figures.replaceChildren(...pilotFigureLines(table[window]).map((line) => h("li", {}, line)));
    const columns = Array.isArray(last.columns) ? last.columns.map(String) : [];
    const list = Array.isArray(last.rows) ? last.rows : [];
    rows.replaceChildren(...list.map((row) => rowNode(row, columns)));
    rows.hidden = !list.length;
    const common = typeof last.shared_prompt === "string" ? last.shared_prompt : "";
    setText(shared, common ? `Every prompt starts with: ${common}` : "");
    shared.hidden = !common;

    fix.update(proceeded ? null : last.findings, last.rest, sending);
    const { options, problems } = fix.choice();
    actions.hidden = proceeded;
    button.disabled = sending || last.state !== "ready" || problems.length > 0;
    const rest = `the other ${formatCount(last.rest)} rows`;
    const changes = [
      present(options.max_tokens) ? `max_tokens=${options.max_tokens}` : null,
      options.schema_hint ? "the schema hint" : null,
    ].filter(Boolean);
    let label = `Proceed: send ${rest}`;
    if (options.send_unchanged) label = `Send unchanged: ${rest}`;
    else if (changes.length) label = `Proceed with ${changes.join(" and ")}: send ${rest}`;
    setText(button, sending ? "Sending…" : label);
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
