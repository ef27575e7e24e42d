// Results review: label distribution charts, failed rows with errors, and sample rows with
// prompt and answer side by side. Pages come from the kernel on request, one at a time.
import "./common.css";
import "./review.css";
import { h, setText, mount, separator } from "./lib/dom.js";
import { keepRecordsOnSave } from "./lib/record.js";
import { formatCount, formatRowCounts } from "./lib/format.js";
import { barPercent, sharedMax } from "./lib/bars.js";

function cellText(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** How many samples a label filter leaves (from the chart of its column); null when unknown. */
export function filteredCount(distributions, filter) {
  if (!filter) return null;
  const d = (Array.isArray(distributions) ? distributions : []).find((x) => x.column === filter.column);
  if (!d) return null;
  if (filter.label === null) return d.missing ?? 0;
  const value = (Array.isArray(d.values) ? d.values : []).find((v) => v.label === filter.label);
  return value ? value.count : null;
}

/** "Samples (148 of 290)" while a filter narrows the tab, else "Samples (290)". */
export function tabLabel(label, count, shown = null) {
  return shown === null ? `${label} (${formatCount(count)})` : `${label} (${formatCount(shown)} of ${formatCount(count)})`;
}

function render({ model, el }) {
  keepRecordsOnSave(model);
  let view = "samples";
  let page = 0;
  let filter = null; // {column, label}
  let shuffle = false;
  let requestId = 0;

  const counts = h("span", { class: "dw-muted", "data-testid": "dw-review-counts" });
  const charts = h("div", { class: "dw-charts", "data-testid": "dw-distributions" });
  const errorGroups = h("div", { class: "dw-error-groups", "data-testid": "dw-error-groups" });
  const sharedPrompt = h("div", { class: "dw-shared-prompt", "data-testid": "dw-shared-prompt" });
  const tabs = h("div", { class: "dw-tabs", role: "tablist" });
  const filterChip = h("span", { class: "dw-filter-chip", "data-testid": "dw-review-filter" });
  const shuffleBox = h("input", { type: "checkbox", "data-testid": "dw-review-shuffle" });
  const table = h("table", { class: "dw-review-table", "data-testid": "dw-page-table" });
  const empty = h("div", { class: "dw-muted dw-empty", "data-testid": "dw-review-empty" });
  const error = h("div", { class: "dw-notice", role: "alert", "data-testid": "dw-notice" });
  const prev = h("button", { class: "dw-button", type: "button", "aria-label": "Previous page", "data-testid": "dw-page-prev" }, "‹ Prev");
  const next = h("button", { class: "dw-button", type: "button", "aria-label": "Next page", "data-testid": "dw-page-next" }, "Next ›");
  const pageInfo = h("span", { class: "dw-muted", "data-testid": "dw-page-info" });
  const root = h(
    "div",
    { class: "dw-widget dw-review", "data-testid": "dw-review" },
    h("div", { class: "dw-head" }, h("span", { class: "dw-title" }, "Results"), separator(": "), counts),
    charts,
    h("div", { class: "dw-toolbar" }, tabs, filterChip, h("span", { class: "dw-spacer" }), h("label", { class: "dw-muted" }, shuffleBox, " shuffle")),
    error,
    errorGroups,
    sharedPrompt,
    h("div", { class: "dw-table-wrap" }, table),
    empty,
    h("div", { class: "dw-pager", "data-testid": "dw-pager" }, prev, pageInfo, next),
  );
  mount(el, root);

  function request() {
    requestId += 1;
    model.send({ type: "page", id: requestId, view, page, filter, shuffle });
    root.classList.add("dw-loading");
  }

  function go(changes) {
    const state = { view, page, filter, shuffle, ...changes };
    view = state.view;
    page = state.page;
    filter = state.filter;
    shuffle = state.shuffle;
    renderTabs();
    renderCharts();
    renderErrors();
    request();
  }

  function renderErrors() {
    // each group names the view that lists its rows (parse errors: unparsed)
    const all = Array.isArray(model.get("errors")) ? model.get("errors") : [];
    const groups = all.filter((g) => (g.view ?? "failed") === view);
    errorGroups.hidden = view === "samples" || groups.length === 0;
    errorGroups.replaceChildren(
      h("div", { class: "dw-dist-title" }, view === "unparsed" ? "Unparsed answers by reason" : "Failed rows by error"),
      ...groups.map((g) =>
        h(
          "div",
          { class: "dw-error-group", "data-testid": "dw-error-group", title: g.example ?? "" },
          h("span", { class: "dw-error-count" }, formatCount(g.count)),
          h("span", { class: "dw-error-kind" }, g.kind ?? ""),
          h("span", { class: "dw-muted" }, g.hint ?? ""),
        ),
      ),
    );
  }

  function renderOverview() {
    const o = model.get("overview") ?? {};
    // the one count of the rows (RowCounts), as the tabs, the progress card and the reprs print it
    setText(counts, formatRowCounts(o.counts ?? { rows: o.rows ?? 0 }));
    renderTabs();
  }

  function renderTabs() {
    const views = (model.get("overview") ?? {}).views ?? {};
    // the filter narrows the samples only (unparsed and failed rows have no label to filter on)
    const narrowed = { samples: filteredCount(model.get("distributions"), filter), failed: null };
    const tab = (name, label) =>
      h("button", {
        class: `dw-tab${view === name ? " dw-tab-active" : ""}`,
        type: "button",
        role: "tab",
        "aria-selected": view === name ? "true" : "false",
        "data-testid": `dw-tab-${name}`,
        onclick: () => go({ view: name, page: 0 }),
      }, tabLabel(label, views[name] ?? 0, narrowed[name] ?? null));
    const unparsed = views.unparsed > 0 || view === "unparsed"; // a tab only when there are some
    tabs.replaceChildren(tab("samples", "Samples"), ...(unparsed ? [tab("unparsed", "Unparsed")] : []), tab("failed", "Failed"));
    filterChip.replaceChildren();
    filterChip.hidden = !(filter && view === "samples");
    if (filter && view === "samples") {
      filterChip.append(
        `${filter.column} = ${filter.label === null ? "(missing)" : filter.label} `,
        h("button", { class: "dw-chip-x", type: "button", title: "clear filter", "aria-label": "Clear the filter", "data-testid": "dw-review-filter-clear", onclick: () => go({ filter: null, page: 0 }) }, "✕"),
      );
    }
  }

  function histogramChart(hist, max) {
    const bins = Array.isArray(hist.bins) ? hist.bins : [];
    const total = Math.max(1, hist.total ?? 0);
    return h(
      "div",
      { class: "dw-dist", "data-testid": "dw-histogram", "data-column": hist.column },
      h("div", { class: "dw-dist-title" }, hist.column),
      ...bins.map((b) =>
        h(
          "div",
          { class: "dw-dist-row dw-hist-row", "data-label": b.label },
          h("span", { class: "dw-dist-label" }, b.label),
          h("span", { class: "dw-dist-track" }, h("span", { class: "dw-dist-fill", style: `width:${barPercent(b.count, max)}%` })),
          h("span", { class: "dw-dist-count" }, `${formatCount(b.count)} (${Math.round((100 * b.count) / total)}%)`),
        ),
      ),
    );
  }

  function renderCharts() {
    const dists = Array.isArray(model.get("distributions")) ? model.get("distributions") : [];
    const hists = Array.isArray(model.get("histograms")) ? model.get("histograms") : [];
    charts.hidden = dists.length === 0 && hists.length === 0;
    const max = sharedMax(dists, hists);
    charts.replaceChildren(
      ...dists.map((d) => {
        const values = Array.isArray(d.values) ? d.values : [];
        const total = Math.max(1, d.total ?? 0);
        const bar = (label, count, clickable, value) => {
          const active = filter && filter.column === d.column && filter.label === value;
          const share = `${formatCount(count)} (${Math.round((100 * count) / total)}%)`;
          return h(
            "button",
            {
              class: `dw-dist-row${active ? " dw-dist-active" : ""}`,
              type: "button",
              disabled: !clickable,
              title: clickable ? `show ${label} samples` : "",
              "aria-label": `${label}: ${share}${clickable ? (active ? ", clear this filter" : ", show these samples") : ""}`,
              "aria-pressed": clickable ? (active ? "true" : "false") : undefined,
              "data-testid": "dw-dist-row",
              "data-label": label,
              onclick: clickable ? () => go({ view: "samples", page: 0, filter: active ? null : { column: d.column, label: value } }) : undefined,
            },
            h("span", { class: "dw-dist-label" }, label),
            h("span", { class: "dw-dist-track" }, h("span", { class: "dw-dist-fill", style: `width:${barPercent(count, max)}%` })),
            h("span", { class: "dw-dist-count" }, share),
          );
        };
        return h(
          "div",
          { class: "dw-dist", "data-testid": "dw-dist", "data-column": d.column },
          h("div", { class: "dw-dist-title" }, d.column),
          ...values.map((v) => bar(v.label, v.count, true, v.label)),
          d.other ? bar("other", d.other, false) : null,
          d.missing ? bar("(missing)", d.missing, true, null) : null,
        );
      }),
      ...hists.map((hist) => histogramChart(hist, max)),
    );
  }

  function renderPage(reply) {
    root.classList.remove("dw-loading");
    setText(error, reply.error ?? "");
    error.hidden = !reply.error;
    if (reply.error) return;
    page = reply.page ?? 0;
    const columns = Array.isArray(reply.columns) ? reply.columns : [];
    const data = reply.data ?? {};
    const index = Array.isArray(reply.index) ? reply.index : [];
    const kind = (c) => (c === "prompt" ? "prompt" : c === "error" || c === "parse_error" ? "error" : "value");
    const head = h("thead", {}, h("tr", {}, h("th", {}, "row"), ...columns.map((c) => h("th", { class: `dw-col-${kind(c)}` }, c))));
    setText(sharedPrompt, reply.shared_prompt ? `Every row's prompt starts with:\n${reply.shared_prompt}` : "");
    sharedPrompt.hidden = !reply.shared_prompt;
    const body = h(
      "tbody",
      {},
      ...index.map((label, i) =>
        h(
          "tr",
          { "data-testid": "dw-page-row" },
          h("td", { class: "dw-mono dw-row-label" }, h("div", { class: "dw-row-id", title: cellText(label) }, cellText(label))),
          ...columns.map((c) => {
            const value = (data[c] ?? [])[i];
            const text = cellText(value);
            return h(
              "td",
              { "data-column": c, class: `dw-cell dw-col-${kind(c)}${value === null || value === undefined ? " dw-null" : ""}${kind(c) === "error" ? " dw-error-cell" : ""}`, title: text.length > 60 ? text : "" },
              h("div", { class: "dw-cell-text" }, text),
            );
          }),
        ),
      ),
    );
    table.replaceChildren(head, body);
    table.hidden = index.length === 0;
    empty.hidden = index.length > 0;
    setText(empty, view === "failed" ? "No failed rows." : view === "unparsed" ? "No unparsed rows." : "No rows to show.");
    setText(pageInfo, `page ${formatCount(page + 1)} of ${formatCount(reply.pages ?? 1)} · ${formatCount(reply.total ?? 0)} ${reply.total === 1 ? "row" : "rows"}`);
    prev.disabled = page <= 0;
    next.disabled = page + 1 >= (reply.pages ?? 1);
  }

  const onMessage = (content) => {
    if (!content || content.type !== "page" || content.id !== requestId) return;
    renderPage(content);
  };
  const onPrev = () => go({ page: Math.max(0, page - 1) });
  const onNext = () => go({ page: page + 1 });
  const onShuffle = () => go({ shuffle: shuffleBox.checked, page: 0 });
  prev.addEventListener("click", onPrev);
  next.addEventListener("click", onNext);
  shuffleBox.addEventListener("change", onShuffle);
  model.on("change:overview", renderOverview);
  model.on("change:distributions", renderCharts);
  model.on("change:histograms", renderCharts);
  model.on("change:errors", renderErrors);
  model.on("msg:custom", onMessage);

  error.hidden = true;
  empty.hidden = true;
  table.hidden = true;
  prev.disabled = next.disabled = true;
  renderOverview();
  renderCharts();
  renderErrors();
  request();

  return () => {
    prev.removeEventListener("click", onPrev);
    next.removeEventListener("click", onNext);
    shuffleBox.removeEventListener("change", onShuffle);
    model.off("change:overview", renderOverview);
    model.off("change:distributions", renderCharts);
    model.off("change:histograms", renderCharts);
    model.off("change:errors", renderErrors);
    model.off("msg:custom", onMessage);
    root.remove();
  };
}

export default { render };
