// Jobs dashboard: one row per job (its batches and attempts inside; the service's other batches
// one per row), live status and progress, a status filter, and open / cancel / proceed (a pilot's
// rest) / collect (an autobatch client's answers) actions sent to the kernel as messages. Counts
// the service could not give are shown as unknown, never as 0.
import "./common.css";
import "./jobs.css";
import { h, setText, mount, separator } from "./lib/dom.js";
import { keepRecordsOnSave } from "./lib/record.js";
import { TERMINAL_PHASES, attemptLabel, barWidths, formatCost, formatCounts, formatDuration, phaseClass, phaseLabel } from "./lib/format.js";

/** "3m 05s ago" for recent times, else "2026-11-25 17:40" (UTC); "" when unknown. */
export function formatCreated(epochSeconds, nowMs = Date.now()) {
  if (!Number.isFinite(epochSeconds)) return "";
  const age = nowMs / 1000 - epochSeconds;
  if (age >= 0 && age < 86400) return `${formatDuration(age)} ago`;
  return new Date(epochSeconds * 1000).toISOString().slice(0, 16).replace("T", " ");
}

/** A row's status: "pilot done, waiting for proceed" for a pilot whose rest waits. */
export function statusLabel(job) {
  return job.pilot === "waiting" ? "pilot done, waiting for proceed" : phaseLabel(job.status);
}

const BUSY = { attach: "Opening…", proceed: "Sending…", collect: "Collecting…" };

function render({ model, el }) {
  keepRecordsOnSave(model);
  const confirming = new Set(); // batch ids whose cancel awaits confirmation
  const pending = new Map(); // batch id -> "attach" | "cancel"
  const expanded = new Set(); // row ids whose batches are shown

  const filters = h("div", { class: "dw-filters", role: "group", "aria-label": "Filter by status", "data-testid": "dw-jobs-filter" });
  const refresh = h("button", { class: "dw-button", type: "button", "data-testid": "dw-jobs-refresh", onclick: () => model.send({ type: "refresh" }) }, "Refresh");
  const body = h("tbody");
  const table = h(
    "table",
    { class: "dw-jobs-table", "data-testid": "dw-jobs-table" },
    h("thead", {}, h("tr", {}, ...["Job", "Status", "Progress", "Created", "Model", ""].map((t) => h("th", {}, t)))),
    body,
  );
  const empty = h("div", { class: "dw-muted dw-empty", "data-testid": "dw-jobs-empty" });
  const notice = h("div", { class: "dw-notice", role: "alert", "data-testid": "dw-notice" });
  const info = h("div", { class: "dw-muted", role: "status", "data-testid": "dw-jobs-info" });
  const root = h(
    "div",
    { class: "dw-widget dw-jobs", "data-testid": "dw-jobs" },
    h("div", { class: "dw-head" }, h("span", { class: "dw-title" }, "Jobs"), filters, h("span", { class: "dw-spacer" }), refresh),
    notice,
    info,
    h("div", { class: "dw-table-scroll" }, table),
    empty,
  );
  mount(el, root);

  function send(type, id) {
    pending.set(id, type);
    model.send({ type, id });
    update();
  }

  function actions(job) {
    const id = job.id;
    const cell = h("td", { class: "dw-actions" });
    if (confirming.has(id)) {
      cell.append(
        h("span", {}, "Cancel this job? "),
        h("button", { class: "dw-button dw-button-danger", type: "button", "data-testid": "dw-job-cancel-confirm", onclick: () => { confirming.delete(id); send("cancel", id); } }, "Yes"),
        h("button", { class: "dw-button", type: "button", "data-testid": "dw-job-cancel-keep", onclick: () => { confirming.delete(id); update(); } }, "No"),
      );
      return cell;
    }
    const busy = pending.get(id);
    cell.append(
      h("button", { class: "dw-button", type: "button", "data-testid": "dw-job-attach", title: "Show this job's progress or results below", disabled: busy === "attach", onclick: () => send("attach", id) }, busy === "attach" ? BUSY.attach : "Open"),
    );
    if (job.pilot === "waiting") {
      cell.append(
        h("button", { class: "dw-button dw-button-primary", type: "button", "data-testid": "dw-job-proceed", title: "Send the rows the pilot did not", disabled: Boolean(busy), onclick: () => send("proceed", id) }, busy === "proceed" ? BUSY.proceed : "Proceed"),
      );
    }
    if (job.collectable) {
      cell.append(
        h("button", { class: "dw-button", type: "button", "data-testid": "dw-job-collect", title: "Read the answers of this autobatch client's batches", disabled: busy === "collect", onclick: () => send("collect", id) }, busy === "collect" ? BUSY.collect : "Collect"),
      );
    }
    const cancellable = job.cancellable ?? (!TERMINAL_PHASES.has(job.status) && job.status !== "cancelling");
    if (cancellable) {
      cell.append(
        h("button", { class: "dw-button dw-button-danger", type: "button", "data-testid": "dw-job-cancel", disabled: busy === "cancel", onclick: () => { confirming.add(id); update(); } }, busy === "cancel" ? "Cancelling…" : "Cancel"),
      );
    }
    return cell;
  }

  function countsText(job) {
    if (job.completed === null || job.completed === undefined || job.total === null || job.total === undefined) return "unknown";
    return formatCounts(job);
  }

  /** "2m 05s · $0.12" (or "· cost n/a (simulated)"): how long the job took and what it cost. */
  function metaText(job) {
    const parts = [];
    const duration = formatDuration(job.duration_s);
    if (duration) parts.push(duration);
    const cost = formatCost(job.cost);
    if (cost) parts.push(cost);
    else if (job.cost_note) parts.push(`cost ${job.cost_note}`);
    return parts.join(" · ");
  }

  function batchLines(job) {
    return h(
      "div",
      { class: "dw-job-batches", "data-testid": "dw-job-batches" },
      ...(job.batches ?? []).map((b) =>
        h(
          "div",
          { class: "dw-job-batch" },
          h("span", { class: "dw-mono dw-job-id", title: b.id }, b.id),
          separator(", "),
          h("span", {}, attemptLabel(b.attempt, job.pilot ? 2 : 1)),
          separator(": "),
          h("span", {}, phaseLabel(b.status)),
          separator(", "),
          h("span", { class: "dw-muted" }, b.where && b.where !== "on the service" ? b.where : countsText(b)),
        ),
      ),
    );
  }

  function row(job) {
    const widths = barWidths({ completed: job.completed ?? 0, failed: job.failed ?? 0, total: job.total ?? 0 });
    const batches = job.batches ?? [];
    const open = expanded.has(job.id);
    const toggle = batches.length
      ? h(
          "button",
          {
            class: "dw-chip-x dw-expand",
            type: "button",
            "aria-expanded": open ? "true" : "false",
            "data-testid": "dw-job-expand",
            title: "batches and attempts",
            "aria-label": `${open ? "Hide" : "Show"} ${batches.length} batch${batches.length === 1 ? "" : "es"}${job.attempts > 1 ? ` and ${job.attempts} attempts` : ""} of ${job.name || job.id || "this job"}`,
            onclick: () => {
              if (open) expanded.delete(job.id);
              else expanded.add(job.id);
              update();
            },
          },
          `${open ? "▾" : "▸"} ${batches.length} batch${batches.length === 1 ? "" : "es"}${job.attempts > 1 ? ` · ${job.attempts} attempts` : ""}`,
        )
      : null;
    return h(
      "tr",
      { class: `dw-phase-${phaseClass(job.status)}`, "data-testid": "dw-job-row", "data-id": job.id },
      h(
        "td",
        { class: "dw-job-name" },
        h("div", { class: "dw-job-title" }, job.name || job.id || "", job.source ? [separator(", from "), h("span", { class: "dw-source" }, job.source)] : null),
        toggle,
        open ? batchLines(job) : null,
      ),
      h(
        "td",
        {},
        h("span", { class: "dw-badge", "data-testid": "dw-job-status" }, statusLabel(job)),
        job.where ? h("div", { class: "dw-muted dw-job-where", "data-testid": "dw-job-where" }, job.where) : null,
      ),
      h(
        "td",
        { class: "dw-job-progress" },
        h("span", { class: "dw-bar dw-bar-small" }, h("span", { class: "dw-bar-done", style: `width:${widths.done}%` }), h("span", { class: "dw-bar-failed", style: `width:${widths.failed}%` })),
        h("span", { class: "dw-job-counts", "data-testid": "dw-job-counts" }, countsText(job)),
        h("div", { class: "dw-muted dw-job-meta", "data-testid": "dw-job-meta" }, metaText(job)),
      ),
      h("td", { class: "dw-muted dw-job-created" }, formatCreated(job.created_at)),
      h("td", { class: "dw-mono dw-job-model" }, job.model ?? ""),
      actions(job),
    );
  }

  function update() {
    const jobs = Array.isArray(model.get("jobs")) ? model.get("jobs") : [];
    const active = model.get("status_filter") ?? "";
    const counts = new Map();
    for (const job of jobs) counts.set(job.status, (counts.get(job.status) ?? 0) + 1);
    const label = (s) => (s === "pilot_done" ? "pilot done" : phaseLabel(s));
    const choices = [["", `all (${jobs.length})`], ...[...counts].map(([s, n]) => [s, `${label(s)} (${n})`])];
    if (active && !counts.has(active)) choices.push([active, `${phaseLabel(active)} (0)`]);
    filters.replaceChildren(
      ...choices.map(([value, label]) =>
        h("button", {
          class: `dw-filter${value === active ? " dw-filter-active" : ""}`,
          type: "button",
          "aria-pressed": value === active ? "true" : "false",
          "data-status": value,
          onclick: () => { model.set("status_filter", value); model.save_changes(); update(); },
        }, label),
      ),
    );
    const shown = active ? jobs.filter((j) => j.status === active) : jobs;
    body.replaceChildren(...shown.map(row));
    table.hidden = shown.length === 0;
    setText(empty, jobs.length === 0 ? "No jobs yet." : shown.length === 0 ? `No ${phaseLabel(active)} jobs.` : "");
    empty.hidden = shown.length > 0;
  }

  const onJobs = () => {
    pending.clear();
    update();
  };
  const onMessage = (content) => {
    if (content && content.type === "done" && content.id) {
      pending.delete(content.id);
      if (typeof content.text === "string") {
        setText(info, content.text);
        info.hidden = !content.text;
      }
      update();
      return;
    }
    if (!content || content.type !== "error") return;
    if (content.id) pending.delete(content.id);
    setText(notice, content.text ?? "");
    notice.hidden = !content.text;
    update();
  };
  const onFilter = () => update();
  model.on("change:jobs", onJobs);
  model.on("change:status_filter", onFilter);
  model.on("msg:custom", onMessage);
  notice.hidden = true;
  info.hidden = true;
  update();

  return () => {
    model.off("change:jobs", onJobs);
    model.off("change:status_filter", onFilter);
    model.off("msg:custom", onMessage);
    root.remove();
  };
}

export default { render };
