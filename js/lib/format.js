// Pure formatting helpers shared by the widgets (kept in step with dw_notebook/widgets/text.py).

/** "1,234" for counts; "0" for missing values. */
export function formatCount(n) {
  const v = Number.isFinite(n) ? Math.round(n) : 0;
  return v.toLocaleString("en-US");
}

/** Seconds as "45s", "3m 07s", "2h 05m", "3d 04h"; "" when unknown. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  let s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  s %= 60;
  if (m < 60) return `${m}m ${String(s).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, "0")}h`;
}

/** Dollars with enough digits to show small costs: "$0.0042", "$1.25", "$1,234". */
export function formatCost(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "";
  if (value === 0) return "$0.00";
  if (Math.abs(value) < 0.01) return `$${value.toFixed(4)}`;
  if (Math.abs(value) < 1000) return `$${value.toFixed(2)}`;
  return `$${Math.round(value).toLocaleString("en-US")}`;
}

/** Requests per second: "12.3 req/s", "0.25 req/s", "" when unknown. */
export function formatRate(rate) {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return "";
  if (rate >= 100) return `${Math.round(rate)} req/s`;
  if (rate >= 1) return `${rate.toFixed(1)} req/s`;
  return `${rate.toFixed(2)} req/s`;
}

/** "37 / 300 done, 2 failed": completed first, failed only when there are some. */
export function formatCounts({ completed = 0, failed = 0, total = 0 } = {}) {
  const done = total > 0 ? `${formatCount(completed)} / ${formatCount(total)} done` : `${formatCount(completed)} done`;
  return failed > 0 ? `${done}, ${formatCount(failed)} failed` : done;
}

const FAILED_KINDS = [["failed", "errors"], ["expired", "expired"], ["cancelled", "cancelled"], ["unreadable", "unreadable"]];

/**
 * The rows of a join by outcome (RowCounts.to_dict()): "850 rows: 822 answered (238 parsed, 584
 * unparsed), 607 cut off at max_tokens · 28 failed (20 errors, 8 expired) · 0 missing".
 */
export function formatRowCounts(rows = {}) {
  const answered = rows.answered || 0;
  const parsed = rows.parsed || 0;
  let text = `${formatCount(answered)} answered`;
  if (answered > parsed) text += ` (${formatCount(parsed)} parsed, ${formatCount(answered - parsed)} unparsed)`;
  if (rows.truncated) text += `, ${formatCount(rows.truncated)} cut off at max_tokens`;
  let failed = `${formatCount(rows.failed)} failed`;
  const by = rows.failed_by && typeof rows.failed_by === "object" ? rows.failed_by : {};
  if (Object.keys(by).some((k) => k !== "failed")) {
    const kinds = FAILED_KINDS.filter(([k]) => by[k]).map(
      ([k, word]) => `${formatCount(by[k])} ${k === "failed" && by[k] === 1 ? word.slice(0, -1) : word}`,
    );
    failed += ` (${kinds.join(", ")})`;
  }
  const parts = [text, failed, `${formatCount(rows.missing)} missing`];
  if (rows.skipped) parts.push(`${formatCount(rows.skipped)} skipped`);
  return `${formatCount(rows.rows)} rows: ${parts.join(" · ")}`;
}

/** A card's counts: the rows of the last join once the job ended and was joined, else the service's. */
export function countsText(snap = {}) {
  if (snap.done && snap.rows && typeof snap.rows === "object") return formatRowCounts(snap.rows);
  return formatCounts(snap);
}

/** What a job whose rows have not started to end waits for, by phase. */
const WAITING_PHASES = {
  submitting: "waiting for the service to accept the batches",
  validating: "waiting for the service to start",
  in_progress: "waiting for the first answers",
};
/** "left in window" shows only when less than this is left, or the ETA is later. */
const WINDOW_NOTE_S = 3600;

/**
 * Rate, elapsed time, ETA and window left. No rate or ETA before the first row has ended (nor
 * while the submit sends): nothing is measured then, so the card says what it waits for.
 */
export function formatStats(snap = {}) {
  const running = !snap.done && !(snap.sending && typeof snap.sending === "object");
  const started = (snap.completed || 0) + (snap.failed || 0) > 0;
  const parts = [];
  const rate = formatRate(snap.throughput);
  if (running && started && rate) parts.push(rate);
  if (running && !started && snap.total > 0 && Object.hasOwn(WAITING_PHASES, snap.phase)) {
    parts.push(WAITING_PHASES[snap.phase]);
  }
  const elapsed = formatDuration(snap.elapsed_s);
  if (elapsed) parts.push(`elapsed ${elapsed}`);
  if (running) {
    const eta = formatDuration(snap.eta_s);
    if (started && eta) parts.push(`ETA ${eta}`);
    const left = snap.window_left_s;
    const late = started && Number.isFinite(snap.eta_s) && Number.isFinite(left) && snap.eta_s > left;
    if (Number.isFinite(left) && (left < WINDOW_NOTE_S || late)) parts.push(`${formatDuration(left)} left in window`);
  }
  return parts;
}

/** Bytes in powers of 1000: "950 B", "12.3 MB"; "0 B" when unknown. */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 1000) return `${Number.isFinite(n) ? Math.round(n) : 0} B`;
  let v = n;
  let unit = "B";
  for (const u of ["kB", "MB", "GB"]) {
    v /= 1000;
    unit = u;
    if (v < 1000) break;
  }
  return `${v.toFixed(1)} ${unit}`;
}

/** The submit's steps before the batches exist: "2 / 17 files uploaded · 84.0 MB / 713.0 MB · 41.2 MB/s". */
export function sendingText(sending) {
  if (!sending || typeof sending !== "object") return "";
  if (sending.phase === "building") return `building ${formatCount(sending.rows)} requests`;
  if (sending.phase === "creating") {
    return `${formatCount(sending.batches_done)} / ${formatCount(sending.batches_total)} batches created`;
  }
  let text = `${formatCount(sending.files_done)} / ${formatCount(sending.files_total)} files uploaded · `;
  const checking = (sending.files_total || 0) - (sending.files_done || 0);
  // what is left to send does not show at this precision: read as sent, not as "x / x"
  const sent = sending.bytes_done >= sending.bytes_total || formatBytes(sending.bytes_done) === formatBytes(sending.bytes_total);
  if (sending.bytes_total > 0 && sent && checking > 0) {
    // every byte is sent, but a file counts as uploaded only once the service accepts it
    const files = checking === 1 ? "file" : "files";
    text += `${formatBytes(sending.bytes_total)} sent, the service is checking ${formatCount(checking)} ${files}`;
  } else {
    text += `${formatBytes(sending.bytes_done)} / ${formatBytes(sending.bytes_total)}`;
  }
  if (sending.rate) text += ` · ${formatBytes(sending.rate)}/s`;
  if (sending.batches_done) {
    text += ` · ${formatCount(sending.batches_done)} / ${formatCount(sending.batches_total)} batches created`;
  }
  return text;
}

/** "failed while uploading (3 / 17 files uploaded · ...): <error>"; "" unless the steps stopped. */
export function sendFailure(sending) {
  if (!sending || !sending.error) return "";
  const done = sending.phase !== "building" ? ` (${sendingText(sending)})` : "";
  return `failed while ${phaseLabel(sending.phase)}${done}: ${sending.error}`;
}

/** Percent of the upload's bytes sent, while uploading; null otherwise. */
export function sendingPercent(sending) {
  if (!sending || sending.phase !== "uploading" || !(sending.bytes_total > 0)) return null;
  const percent = Math.min(100, Math.max(0, (100 * sending.bytes_done) / sending.bytes_total));
  // never 100% while a file still waits for the service's answer
  return sending.files_done < sending.files_total ? Math.min(percent, 99) : percent;
}

const PHASE_LABELS = {
  building: "building",
  uploading: "uploading",
  creating: "creating batches",
  submitting: "submitting",
  validating: "validating",
  in_progress: "in progress",
  finalizing: "finalizing",
  completed: "completed",
  failed: "failed",
  expired: "expired",
  cancelling: "cancelling",
  cancelled: "cancelled",
  unknown: "checking status",
};

/** Human label of a phase; unknown phases are shown as sent, underscores as spaces. */
export function phaseLabel(phase) {
  if (!phase) return "waiting";
  return PHASE_LABELS[phase] ?? String(phase).replaceAll("_", " ");
}

/** CSS-safe phase class suffix (unknown phases share one neutral style). */
export function phaseClass(phase) {
  return Object.hasOwn(PHASE_LABELS, phase) ? phase : "unknown";
}

export const TERMINAL_PHASES = new Set(["completed", "failed", "expired", "cancelled"]);

/** Percent widths of the done and failed segments of a stacked bar, clamped to 0..100. */
export function barWidths({ completed = 0, failed = 0, total = 0 } = {}) {
  if (!(total > 0)) return { done: 0, failed: 0 };
  const clamp = (v) => Math.min(100, Math.max(0, v));
  const done = clamp((100 * Math.max(0, completed)) / total);
  const fail = clamp((100 * Math.max(0, failed)) / total);
  return { done, failed: Math.min(fail, 100 - done) };
}

/** Token counts: "950", "12.3k", "4.5M"; "" when unknown. */
export function formatTokens(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "";
  for (const [unit, size] of [["B", 1e9], ["M", 1e6], ["k", 1e3]]) {
    if (n >= size) return `${(n / size).toFixed(1)}${unit}`;
  }
  return String(n);
}

/** "2 answers unreadable, 1 line salvaged" from a snapshot's extra; "" when none. */
export function formatLineCounts(extra) {
  const parts = [];
  const n = (key) => (Number.isFinite(extra?.[key]) ? extra[key] : 0);
  const plural = (k, word) => `${formatCount(k)} ${word}${k !== 1 ? "s" : ""}`;
  if (n("unreadable_lines")) parts.push(`${plural(n("unreadable_lines"), "answer")} unreadable`);
  if (n("salvaged_lines")) parts.push(`${plural(n("salvaged_lines"), "line")} salvaged`);
  return parts.join(", ");
}

/** "Errors: model_not_found: The model ... (line 1, body.model); 1 more" ("" when none). */
export function formatErrors(extra) {
  const errors = Array.isArray(extra?.errors) ? extra.errors : [];
  const shown = [];
  for (const error of errors) {
    if (!error || typeof error !== "object") continue;
    const code = error.code;
    const message = error.message || "";
    const text = code && message ? `${code}: ${message}` : String(message || code || "error");
    const where = [];
    if (error.line !== null && error.line !== undefined) where.push(`line ${error.line}`);
    if (error.param) where.push(String(error.param));
    shown.push(text + (where.length ? ` (${where.join(", ")})` : ""));
  }
  if (!shown.length) return "";
  const total = Number.isFinite(extra?.error_count) && extra.error_count ? extra.error_count : errors.length;
  const more = total - shown.length;
  return `Errors: ${shown.join("; ")}${more > 0 ? `; ${formatCount(more)} more` : ""}`;
}

/** A batch's attempt: "first run", "retry 1"; after a pilot (`first` 2) "pilot", "rest", "retry 1". */
export function attemptLabel(attempt, first = 1) {
  if (first === 2 && attempt < 2) return attempt === 0 ? "pilot" : "rest";
  return attempt === 0 ? "first run" : `retry ${attempt - first + 1}`;
}
