// Live progress of one dw-notebook job. Reads one synced trait, `snapshot`
// (JobSnapshot.to_dict()), and sends {type: "cancel"} / {type: "refresh"} messages, and after a
// pilot {type: "proceed", window} (with max_tokens / schema_hint / send_unchanged when the
// pilot found answers cut off or not parsed).
import "./common.css";
import "./progress.css";
import { h, setText, mount, separator } from "./lib/dom.js";
import { pilotSection } from "./lib/pilot.js";
import { keepRecordsOnSave } from "./lib/record.js";
import {
  TERMINAL_PHASES,
  attemptLabel,
  barWidths,
  countsText,
  formatCost,
  formatCount,
  formatCounts,
  formatDuration,
  formatErrors,
  formatLineCounts,
  formatStats,
  formatTokens,
  phaseClass,
  phaseLabel,
  sendFailure,
  sendingPercent,
  sendingText,
} from "./lib/format.js";

/** Seconds between repaints of the "last update N s ago" note while reconnecting. */
const TICK_MS = 1000;

function statsText(snap) {
  const parts = formatStats(snap);
  const tokens = tokensText(snap);
  if (tokens) parts.push(tokens);
  return parts.join(" · ");
}

function tokensText(snap) {
  if (!snap.input_tokens && !snap.output_tokens) return "";
  return `tokens: ${formatTokens(snap.input_tokens) || "?"} in / ${formatTokens(snap.output_tokens) || "?"} out`;
}

/** "37 / 300 done, 2 failed · 56 recovered on retry 1 · 250 running, 11 queued" */
function countsLine(snap) {
  const parts = [countsText(snap)];
  const attempts = Array.isArray(snap.attempts) ? snap.attempts : [];
  const first = firstRetry(snap);
  if (attempts.length > first) {
    const last = attempts[attempts.length - 1].attempt - first + 1;
    // recovered (a parsed answer) is known once the ended job is joined; before, the service's answers
    const word = snap.done && snap.rows && typeof snap.rows === "object" ? "recovered" : "answered";
    parts.push(`${formatCount(snap.recovered)} ${word} on ${last === 1 ? "retry 1" : `retries 1–${last}`}`);
  }
  const queue = [];
  if (snap.running > 0) queue.push(`${formatCount(snap.running)} running`);
  if (snap.queued > 0) queue.push(`${formatCount(snap.queued)} queued`);
  if (queue.length) parts.push(queue.join(", "));
  return parts.join(" · ");
}

/** The attempt a job's first retry is: 1, or 2 after a pilot (0 the pilot, 1 the rest). */
function firstRetry(snap) {
  return snap.pilot && typeof snap.pilot === "object" ? 2 : 1;
}

function attemptRow(a, first) {
  const widths = barWidths(a);
  return h(
    "div",
    { class: `dw-batch dw-phase-${phaseClass(a.phase)}`, "data-testid": "dw-attempt" },
    h("span", { class: "dw-batch-id" }, attemptLabel(a.attempt, first)),
    separator(": "),
    h("span", { class: "dw-batch-status" }, phaseLabel(a.phase)),
    separator(", "),
    h(
      "span",
      { class: "dw-bar dw-bar-small" },
      h("span", { class: "dw-bar-done", style: `width:${widths.done}%` }),
      h("span", { class: "dw-bar-failed", style: `width:${widths.failed}%` }),
    ),
    h("span", { class: "dw-batch-counts" }, formatCounts(a)),
  );
}

function costText(snap) {
  const parts = [];
  const est = formatCost(snap.estimated_cost);
  if (est) parts.push(`estimated ${est}`);
  const actual = formatCost(snap.actual_cost);
  if (actual) parts.push(`actual ${actual}`);
  if (!parts.length) return snap.cost_note ? `cost: ${snap.cost_note}` : "";
  return `cost: ${parts.join(", ")}`;
}

function summaryText(snap) {
  const failure = sendFailure(snap.sending);
  if (failure) return failure;
  const label = phaseLabel(snap.phase);
  const elapsed = formatDuration(snap.elapsed_s);
  const unfinished = Math.max(0, (snap.total ?? 0) - (snap.completed ?? 0) - (snap.failed ?? 0));
  const joined = Boolean(snap.done && snap.rows && typeof snap.rows === "object"); // rows say "missing"
  let text = `${label}: ${countsText(snap)}`;
  if (unfinished > 0 && snap.total > 0 && !joined) text += `, ${formatCount(unfinished)} not run`;
  if (elapsed) text += ` in ${elapsed}`;
  return text;
}

function batchRow(batch) {
  const widths = barWidths(batch);
  return h(
    "div",
    { class: `dw-batch dw-phase-${phaseClass(batch.status)}`, "data-testid": "dw-batch" },
    h("span", { class: "dw-batch-id", title: batch.id ?? "" }, batch.id ?? ""),
    separator(": "),
    h("span", { class: "dw-batch-status" }, phaseLabel(batch.status)),
    separator(", "),
    h(
      "span",
      { class: "dw-bar dw-bar-small" },
      h("span", { class: "dw-bar-done", style: `width:${widths.done}%` }),
      h("span", { class: "dw-bar-failed", style: `width:${widths.failed}%` }),
    ),
    h("span", { class: "dw-batch-counts" }, formatCounts(batch)),
  );
}

function render({ model, el }) {
  keepRecordsOnSave(model);
  let confirming = false;
  let pending = null; // "cancel" | "refresh" while waiting for the next snapshot
  let receivedAt = Date.now();

  const name = h("span", { class: "dw-name" });
  const phase = h("span", { class: "dw-badge", "data-testid": "dw-phase" });
  const modelName = h("span", { class: "dw-model" });
  const modelSeparator = separator(", model ");
  const refresh = h("button", {
    class: "dw-button",
    type: "button",
    "data-testid": "dw-refresh",
    title: "Ask the server for the latest status now",
    onclick: () => {
      pending = "refresh";
      model.send({ type: "refresh" });
      update();
    },
  });
  const cancel = h("button", {
    class: "dw-button dw-button-danger",
    type: "button",
    "data-testid": "dw-cancel",
    onclick: () => {
      confirming = true;
      update();
    },
  });
  const confirmYes = h(
    "button",
    {
      class: "dw-button dw-button-danger",
      type: "button",
      "data-testid": "dw-cancel-confirm",
      onclick: () => {
        confirming = false;
        pending = "cancel";
        model.send({ type: "cancel" });
        update();
      },
    },
    "Yes, cancel",
  );
  const confirmNo = h(
    "button",
    {
      class: "dw-button",
      type: "button",
      "data-testid": "dw-cancel-keep",
      onclick: () => {
        confirming = false;
        update();
      },
    },
    "Keep running",
  );
  const confirmBox = h(
    "div",
    { class: "dw-confirm", role: "alertdialog", "data-testid": "dw-confirm" },
    h("span", {}, "Cancel this job? Requests already finished are kept and billed."),
    confirmYes,
    confirmNo,
  );
  const done = h("span", { class: "dw-bar-done" });
  const failed = h("span", { class: "dw-bar-failed" });
  const bar = h(
    "div",
    { class: "dw-bar", role: "progressbar", "aria-valuemin": 0, "data-testid": "dw-bar" },
    done,
    failed,
  );
  const percent = h("span", { class: "dw-percent", "data-testid": "dw-percent" });
  const counts = h("span", { class: "dw-counts", "data-testid": "dw-counts" });
  const stats = h("span", { class: "dw-stats", "data-testid": "dw-stats" });
  const cost = h("div", { class: "dw-cost", "data-testid": "dw-cost" });
  const reconnect = h("div", { class: "dw-reconnect", role: "status", "data-testid": "dw-reconnect" });
  const batches = h("div", { class: "dw-batches", "data-testid": "dw-batches" });
  const attemptsBox = h("div", { class: "dw-batches", "data-testid": "dw-attempts" });
  const summary = h("div", { class: "dw-summary", "data-testid": "dw-summary" });
  const hint = h("div", { class: "dw-hint", "data-testid": "dw-hint" });
  const message = h("div", { class: "dw-message", "data-testid": "dw-message" });
  const notice = h("div", { class: "dw-notice", role: "alert", "data-testid": "dw-notice" });
  // the service's own errors (first few, with codes) and result lines read leniently or not at all
  const problems = h("div", { class: "dw-problems", role: "status", "data-testid": "dw-problems" });
  const pilot = pilotSection({
    onProceed: (window, options = {}) => model.send({ type: "proceed", window, ...options }),
  });

  const root = h(
    "div",
    { class: "dw-widget dw-progress", "data-testid": "dw-progress" },
    h("div", { class: "dw-head" }, name, separator(": "), phase, modelSeparator, modelName, h("span", { class: "dw-spacer" }), refresh, cancel),
    confirmBox,
    bar,
    h("div", { class: "dw-line" }, percent, counts, stats),
    cost,
    reconnect,
    notice,
    problems,
    attemptsBox,
    batches,
    summary,
    hint,
    pilot.root,
    message,
  );
  mount(el, root);

  function show(node, visible) {
    node.hidden = !visible;
  }

  function update() {
    const snap = model.get("snapshot") ?? {};
    const has = snap && typeof snap === "object" && "phase" in snap;
    const terminal = Boolean(snap.done) || TERMINAL_PHASES.has(snap.phase);
    root.className = `dw-widget dw-progress dw-phase-${has ? phaseClass(snap.phase) : "unknown"}`;
    const pilotWaits = snap.pilot?.state === "ready"; // the job goes on once the rest is sent
    root.classList.toggle("dw-done", terminal && !pilotWaits);

    setText(name, snap.name ?? "");
    setText(phase, pilotWaits ? "pilot done" : has ? phaseLabel(snap.phase) : "waiting");
    setText(modelName, snap.model ? snap.model : "");
    show(modelName, Boolean(snap.model));
    show(modelSeparator, Boolean(snap.model));

    const sending = snap.sending && typeof snap.sending === "object" ? snap.sending : null;
    const sent = sendingPercent(sending);
    const widths = sent !== null ? { done: sent, failed: 0 } : barWidths(snap);
    done.style.width = `${widths.done}%`;
    failed.style.width = `${widths.failed}%`;
    bar.setAttribute("aria-valuemax", String(snap.total ?? 0));
    bar.setAttribute("aria-valuenow", String((snap.completed ?? 0) + (snap.failed ?? 0)));
    const unknownSize = sending ? sent === null : !(snap.total > 0);
    bar.classList.toggle("dw-bar-indeterminate", has && !terminal && unknownSize);
    bar.classList.toggle("dw-bar-busy", snap.phase === "finalizing");

    const before = sending && !sending.error ? sendingText(sending) : "";
    setText(counts, has ? before || countsLine(snap) : "waiting for the first update");
    const pct = sending ? (sent === null ? null : Math.floor(sent)) : snap.percent;
    setText(percent, has && Number.isFinite(pct) ? `${pct}%` : "");
    show(percent, has && Number.isFinite(pct));
    setText(stats, has ? statsText(snap) : "");
    const costLine = costText(snap);
    setText(cost, costLine);
    show(cost, Boolean(costLine));

    const list = Array.isArray(snap.batches) ? snap.batches : [];
    batches.replaceChildren(...(list.length > 1 ? list.map(batchRow) : []));
    show(batches, list.length > 1);
    const attempts = Array.isArray(snap.attempts) ? snap.attempts : [];
    attemptsBox.replaceChildren(...(attempts.length > 1 ? attempts.map((a) => attemptRow(a, firstRetry(snap))) : []));
    show(attemptsBox, attempts.length > 1);

    setText(summary, terminal ? summaryText(snap) : "");
    show(summary, terminal);
    // a pilot waiting for proceed says what to do in its report, beside the button
    const waiting = snap.pilot?.state === "ready";
    const hintText =
      terminal && !waiting && snap.extra && typeof snap.extra.hint === "string" ? snap.extra.hint : "";
    setText(hint, hintText);
    show(hint, Boolean(hintText));

    pilot.update(snap.pilot);

    setText(message, snap.message ?? "");
    show(message, Boolean(snap.message));
    const problemText = [formatErrors(snap.extra), formatLineCounts(snap.extra)].filter(Boolean).join(" · ");
    setText(problems, problemText);
    show(problems, Boolean(problemText));

    const cancellable = has && !terminal && snap.phase !== "cancelling";
    if (!cancellable) {
      confirming = false;
      if (pending === "cancel") pending = null;
    }
    show(cancel, cancellable || pending === "cancel");
    cancel.disabled = !cancellable || pending === "cancel" || confirming;
    setText(cancel, pending === "cancel" ? "Cancelling…" : "Cancel");
    show(confirmBox, confirming);
    refresh.disabled = pending === "refresh";
    setText(refresh, pending === "refresh" ? "Refreshing…" : "Refresh");
    tick();
  }

  function tick() {
    const snap = model.get("snapshot") ?? {};
    if (!snap.poll_error || snap.done) {
      setText(reconnect, "");
      show(reconnect, false);
      return;
    }
    const base = Number.isFinite(snap.last_update_age_s) ? snap.last_update_age_s : 0;
    const age = Math.round(base + (Date.now() - receivedAt) / 1000);
    setText(reconnect, `reconnecting, last update ${age} s ago`);
    reconnect.title = String(snap.poll_error);
    show(reconnect, true);
  }

  const onChange = () => {
    receivedAt = Date.now();
    // A cancel stays pending until the job says it is cancelling (or over); a refresh is
    // answered by any new snapshot.
    if (pending === "refresh") pending = null;
    update();
  };
  // The kernel reports a failed command (e.g. cancel refused) as {type: "error", text}.
  const onMessage = (content) => {
    if (!content || content.type !== "error") return;
    pending = null;
    pilot.done();
    setText(notice, content.text ?? "");
    show(notice, Boolean(content.text));
    update();
  };
  model.on("change:snapshot", onChange);
  model.on("msg:custom", onMessage);
  show(notice, false);
  const timer = setInterval(tick, TICK_MS);
  update();

  return () => {
    clearInterval(timer);
    model.off("change:snapshot", onChange);
    model.off("msg:custom", onMessage);
    root.remove();
  };
}

export default { render };
