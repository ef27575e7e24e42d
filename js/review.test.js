import { describe, expect, it } from "vitest";
import widget, { filteredCount, tabLabel } from "./review.js";
import { barPercent, sharedMax } from "./lib/bars.js";
import { byId, fakeModel, widgetHost } from "./testing.js";

const OVERVIEW = {
  rows: 300,
  by_status: { ok: 290, failed: 8, not_run: 2 },
  counts: { rows: 300, answered: 290, parsed: 290, failed: 8, missing: 2, skipped: 0, truncated: 0, failed_by: { failed: 8 }, recovered: null, unparsed: 0 },
  answer_columns: ["content"],
  label_columns: ["content"],
  has_prompt: true,
  page_size: 2,
  views: { samples: 290, failed: 8 },
};
const DISTS = [
  { column: "content", values: [{ label: "positive", count: 200 }, { label: "negative", count: 80 }], other: 6, missing: 4, total: 290 },
];

function pageReply(request, overrides = {}) {
  return {
    type: "page",
    id: request.id,
    view: request.view,
    page: request.page,
    pages: 145,
    total: 290,
    columns: ["prompt", "content"],
    index: ["r1", "r2"],
    data: { prompt: ["Sentiment: great", "Sentiment: bad"], content: ["positive", null] },
    ...overrides,
  };
}

const host = widgetHost(widget);

function mount(overview = OVERVIEW, distributions = DISTS) {
  const model = fakeModel({ overview, distributions });
  host.render(model);
  return model;
}

describe("review render", () => {
  it("summarises statuses and draws one bar per label", () => {
    mount();
    expect(byId(host.el, "dw-review-counts").textContent).toBe("300 rows: 290 answered · 8 failed · 2 missing");
    expect(byId(host.el, "dw-tab-unparsed")).toBeNull(); // no unparsed answers: no tab
    const rows = [...host.el.querySelectorAll('[data-testid="dw-dist-row"]')];
    expect(rows.map((r) => r.dataset.label)).toEqual(["positive", "negative", "other", "(missing)"]);
    expect(rows[0].textContent).toContain("200 (69%)");
    expect(rows[0].querySelector(".dw-dist-fill").style.width).toBe("100%");
    expect(rows[1].querySelector(".dw-dist-fill").style.width).toBe("40%");
    expect(rows[1].getAttribute("aria-label")).toBe("negative: 80 (28%), show these samples");
    expect(rows[2].disabled).toBe(true);
  });

  it("prints the header and the tabs from one count: unparsed answers are neither samples nor failures", () => {
    const counts = { rows: 850, answered: 822, parsed: 238, failed: 28, missing: 0, skipped: 0, truncated: 607, failed_by: { failed: 20, expired: 8 }, recovered: null, unparsed: 584 };
    const model = fakeModel({
      overview: { ...OVERVIEW, rows: 850, counts, views: { samples: 238, unparsed: 584, failed: 28 } },
      distributions: DISTS,
      errors: [
        { kind: "parse error", count: 584, hint: "h", example: "x", view: "unparsed" },
        { kind: "HTTP 500", count: 20, hint: "h", example: "y", view: "failed" },
      ],
    });
    host.render(model);
    expect(byId(host.el, "dw-review-counts").textContent).toBe(
      "850 rows: 822 answered (238 parsed, 584 unparsed), 607 cut off at max_tokens · 28 failed (20 errors, 8 expired) · 0 missing",
    );
    const tabs = [...host.el.querySelectorAll('[role="tab"]')].map((t) => t.textContent);
    expect(tabs).toEqual(["Samples (238)", "Unparsed (584)", "Failed (28)"]);
    byId(host.el, "dw-tab-unparsed").click();
    expect(model.sent.at(-1)).toMatchObject({ view: "unparsed", page: 0 });
    const groups = [...host.el.querySelectorAll('[data-testid="dw-error-group"]')].map((g) => g.textContent);
    expect(groups).toEqual(["584parse errorh"]); // only the groups of the view's rows
  });

  it("asks for the first page of samples and shows prompt and answer side by side", () => {
    const model = mount();
    expect(model.sent).toEqual([{ type: "page", id: 1, view: "samples", page: 0, filter: null, shuffle: false }]);
    model.receive(pageReply(model.sent[0]));
    const headers = [...byId(host.el, "dw-page-table").querySelectorAll("th")].map((t) => t.textContent);
    expect(headers).toEqual(["row", "prompt", "content"]);
    const cells = [...host.el.querySelectorAll('[data-testid="dw-page-row"]')].map((r) => [...r.children].map((c) => c.textContent));
    expect(cells).toEqual([
      ["r1", "Sentiment: great", "positive"],
      ["r2", "Sentiment: bad", "—"],
    ]);
    expect(byId(host.el, "dw-page-info").textContent).toBe("page 1 of 145 · 290 rows");
    expect(byId(host.el, "dw-page-prev").disabled).toBe(true);
    expect(byId(host.el, "dw-page-next").disabled).toBe(false);
  });

  it("pages on request and ignores stale replies", () => {
    const model = mount();
    model.receive(pageReply(model.sent[0]));
    byId(host.el, "dw-page-next").click();
    byId(host.el, "dw-page-next").click();
    expect(model.sent.map((m) => m.page)).toEqual([0, 1, 2]);
    model.receive(pageReply(model.sent[1], { index: ["stale"] }));
    expect(host.el.querySelector('[data-testid="dw-page-row"]').textContent).toContain("r1");
    model.receive(pageReply(model.sent[2], { index: ["r5", "r6"] }));
    expect(host.el.querySelector('[data-testid="dw-page-row"]').textContent).toContain("r5");
    expect(byId(host.el, "dw-page-info").textContent).toBe("page 3 of 145 · 290 rows");
  });

  it("switches to failed rows with their errors", () => {
    const model = mount();
    byId(host.el, "dw-tab-failed").click();
    const req = model.sent.at(-1);
    expect(req).toMatchObject({ view: "failed", page: 0 });
    model.receive(pageReply(req, { columns: ["status", "error"], index: ["r9"], data: { status: ["failed"], error: ["HTTP 500: boom"] }, pages: 1, total: 1 }));
    const row = host.el.querySelector('[data-testid="dw-page-row"]');
    expect(row.textContent).toContain("HTTP 500: boom");
    expect(row.querySelector(".dw-error-cell")).not.toBeNull();
    expect(byId(host.el, "dw-tab-failed").getAttribute("aria-selected")).toBe("true");
    expect(byId(host.el, "dw-page-next").disabled).toBe(true);
  });

  it("clicking a label filters samples; clicking again or the chip clears it", () => {
    const model = mount();
    host.el.querySelector('[data-label="negative"]').click();
    expect(model.sent.at(-1)).toMatchObject({ view: "samples", page: 0, filter: { column: "content", label: "negative" } });
    expect(byId(host.el, "dw-review-filter").textContent).toContain("content = negative");
    byId(host.el, "dw-review-filter-clear").click();
    expect(model.sent.at(-1).filter).toBeNull();
    host.el.querySelector('[data-label="(missing)"]').click();
    expect(model.sent.at(-1).filter).toEqual({ column: "content", label: null });
    host.el.querySelector('[data-label="(missing)"]').click();
    expect(model.sent.at(-1).filter).toBeNull();
  });

  it("asks for a shuffled order", () => {
    const model = mount();
    const box = byId(host.el, "dw-review-shuffle");
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    expect(model.sent.at(-1)).toMatchObject({ shuffle: true, page: 0 });
  });

  it("shows page errors from the kernel", () => {
    const model = mount();
    model.receive({ type: "page", id: 1, view: "samples", error: "bad filter" });
    expect(byId(host.el, "dw-notice").textContent).toBe("bad filter");
    expect(byId(host.el, "dw-notice").hidden).toBe(false);
  });

  it("renders answers, prompts and labels as text", () => {
    const evil = '<img src=x onerror="window.__pwned=1">';
    const model = mount(OVERVIEW, [{ column: evil, values: [{ label: evil, count: 1 }], other: 0, missing: 0, total: 1 }]);
    model.receive(pageReply(model.sent[0], { columns: [evil], index: [evil], data: { [evil]: [evil] } }));
    expect(host.el.querySelector("img")).toBeNull();
    expect(host.el.querySelector('[data-testid="dw-page-row"]').textContent).toBe(evil + evil);
    expect(window.__pwned).toBeUndefined();
  });

  it("cleanup removes listeners and the DOM", () => {
    const model = mount();
    host.unmount();
    expect(model.listenerCount("msg:custom")).toBe(0);
    expect(model.listenerCount("change:overview")).toBe(0);
    expect(host.el.children).toHaveLength(0);
  });

  it("groups errors in the failed tab, draws histograms, shows a shared prompt once and booleans as true/false", () => {
    const model = fakeModel({
      overview: OVERVIEW,
      distributions: [],
      histograms: [{ column: "stars", bins: [{ label: "1", count: 3 }, { label: "2", count: 1 }], total: 4, missing: 0 }],
      errors: [{ kind: "HTTP 500", count: 8, hint: "job.retry() runs these rows again", example: "HTTP 500: boom" }],
    });
    host.render(model);
    const hist = byId(host.el, "dw-histogram");
    expect(hist.dataset.column).toBe("stars");
    expect(hist.textContent).toContain("3 (75%)");
    expect(byId(host.el, "dw-error-groups").hidden).toBe(true); // samples tab
    byId(host.el, "dw-tab-failed").click();
    expect(byId(host.el, "dw-error-groups").hidden).toBe(false);
    expect(byId(host.el, "dw-error-group").textContent).toBe("8HTTP 500job.retry() runs these rows again");
    const request = model.sent[model.sent.length - 1];
    const long = "HTTP 500: " + "x".repeat(80);
    model.receive(pageReply(request, {
      columns: ["prompt", "error", "ok"],
      data: { prompt: ["[user] a", "[user] b"], error: [long, "short"], ok: [true, false] },
      shared_prompt: "[system] You label.\n",
    }));
    expect(byId(host.el, "dw-shared-prompt").textContent).toContain("[system] You label.");
    const cells = [...host.el.querySelectorAll('[data-testid="dw-page-row"]')][0].querySelectorAll("td");
    expect(cells[2].title).toBe(long);
    expect(cells[3].textContent).toBe("true");
  });
});

describe("review charts and filters read true", () => {
  const LABELLING = [
    { column: "operation", values: [{ label: "query", count: 148 }, { label: "convert", count: 116 }, { label: "io", count: 20 }], other: 0, missing: 6, total: 290 },
    { column: "mentions_errors", values: [{ label: "false", count: 200 }, { label: "true", count: 84 }], other: 0, missing: 6, total: 290 },
  ];
  const HISTS = [{ column: "confidence", bins: [{ label: "0–0.5", count: 40 }, { label: "0.5–1", count: 244 }], total: 284, missing: 6 }];
  const widthOf = (chart, label) => parseFloat(chart.querySelector(`[data-label="${label}"] .dw-dist-fill`).style.width);

  it("draws every bar of every chart on one scale: length follows the count", () => {
    host.render(fakeModel({ overview: OVERVIEW, distributions: LABELLING, histograms: HISTS }));
    const [operation, mentions] = [...host.el.querySelectorAll('[data-testid="dw-dist"]')];
    const confidence = byId(host.el, "dw-histogram");
    expect(widthOf(confidence, "0.5–1")).toBe(100); // the largest count anywhere ends the scale
    expect(widthOf(mentions, "false")).toBeCloseTo((100 * 200) / 244, 5);
    expect(widthOf(operation, "query")).toBeCloseTo((100 * 148) / 244, 5);
    expect(widthOf(operation, "convert")).toBeCloseTo((100 * 116) / 244, 5);
    expect(widthOf(operation, "query")).toBeGreaterThan(widthOf(operation, "convert") + 10);
    expect(widthOf(operation, "io")).toBeLessThan(widthOf(mentions, "true"));
  });

  it("sharedMax and barPercent: one end of scale, no stub for zero", () => {
    expect(sharedMax(LABELLING, HISTS)).toBe(244);
    expect(sharedMax([], [])).toBe(1);
    expect(barPercent(0, 244)).toBe(0);
    expect(barPercent(122, 244)).toBe(50);
    expect(barPercent(300, 244)).toBe(100);
  });

  it("with a filter on, the samples tab counts the filtered rows", () => {
    const model = fakeModel({ overview: OVERVIEW, distributions: LABELLING });
    host.render(model);
    expect(byId(host.el, "dw-tab-samples").textContent).toBe("Samples (290)");
    host.el.querySelector('[data-label="convert"]').click();
    expect(byId(host.el, "dw-tab-samples").textContent).toBe("Samples (116 of 290)");
    expect(byId(host.el, "dw-tab-failed").textContent).toBe("Failed (8)"); // the filter does not narrow failed rows
    host.el.querySelector('[data-label="(missing)"]').click();
    expect(byId(host.el, "dw-tab-samples").textContent).toBe("Samples (6 of 290)");
    byId(host.el, "dw-review-filter-clear").click();
    expect(byId(host.el, "dw-tab-samples").textContent).toBe("Samples (290)");
    expect(filteredCount(LABELLING, { column: "nope", label: "x" })).toBeNull();
    expect(tabLabel("Failed", 28, 3)).toBe("Failed (3 of 28)");
  });

  it("keeps a row id whole on one line, with the whole id as its title", () => {
    const model = fakeModel({ overview: OVERVIEW, distributions: [] });
    host.render(model);
    const id = "email.utils.parsedate_to_datetime";
    model.receive(pageReply(model.sent[0], { index: [id, "r2"] }));
    const cell = host.el.querySelector(".dw-row-id");
    expect(cell.textContent).toBe(id);
    expect(cell.title).toBe(id);
  });
});
