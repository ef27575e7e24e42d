// Every widget's controls are announced by words, carry the shortcut guard of lib/dom.js, and a
// name beside its status badge is read as two words.
import { describe, expect, it } from "vitest";
import autobatch from "./autobatch.js";
import builder from "./builder.js";
import jobs from "./jobs.js";
import progress from "./progress.js";
import review from "./review.js";
import { byId, fakeModel, unnamedControls } from "./testing.js";

const PILOT = {
  state: "ready", n: 2, rest: 98, window: "24h", columns: ["label"], error: null,
  figures: { "24h": { model: "m", window: "24h", pilot_rows: 2, answered: 2, failed: 0, truncated: 1,
    input_tokens_per_row: 20, output_tokens_per_row: 3, rest_rows: 98, rest_input_tokens: 1960, rest_output_tokens: 294 } },
  rows: [{ prompt: "p", answers: { label: "a" }, status: "ok", finish_reason: "length", prompt_tokens: 20, completion_tokens: 16 }],
};

const WIDGETS = {
  review: [review, {
    overview: {
      rows: 30,
      counts: { rows: 30, answered: 28, parsed: 28, failed: 2, missing: 0, failed_by: { failed: 2 } },
      views: { samples: 28, unparsed: 0, failed: 2 },
    },
    distributions: [{ column: "operation", values: [{ label: "query", count: 20 }, { label: "io", count: 6 }], other: 1, missing: 1, total: 28 }],
    histograms: [{ column: "confidence", bins: [{ label: "0.5", count: 3 }], total: 3, missing: 0 }],
  }],
  jobs: [jobs, {
    status_filter: "",
    jobs: [{ id: "b1", name: "stdlib-docstrings", status: "in_progress", total: 30, completed: 3, failed: 0, attempts: 2, pilot: "waiting", collectable: true, source: "local",
      batches: [{ id: "b1", attempt: 0, status: "completed", total: 10, completed: 10, failed: 0 }, { id: "b2", attempt: 1, status: "in_progress", total: 20, completed: 3, failed: 0 }] }],
  }],
  progress: [progress, { snapshot: { name: "stdlib-docstrings", phase: "completed", done: true, total: 2, completed: 2, failed: 0, model: "Qwen/Qwen3.5-9B", batches: [], attempts: [], extra: {}, pilot: PILOT } }],
  builder: [builder, {
    columns: [{ name: "text", dtype: "object" }], n_rows: 3, models: ["m"], windows: ["24h"], schema: { type: "object" }, template: "{text}",
    model: "m", window: "24h", max_tokens: null, row: 0, messages: [], estimate: "", submit_state: "idle",
  }],
  autobatch: [autobatch, { stats: { name: "ab", window: "24h", answered: 1 } }],
};

function show(widget, state) {
  const el = document.createElement("div");
  document.body.append(el);
  const model = fakeModel(state);
  const cleanup = widget.render({ model, el });
  return { el, model, cleanup };
}

describe("accessible controls in every widget", () => {
  for (const [name, [widget, state]] of Object.entries(WIDGETS)) {
    it(`${name}: every control is named in words and keeps keys from the notebook`, () => {
      const { el, model, cleanup } = show(widget, state);
      if (name === "review") {
        el.querySelector('[data-label="io"]').click(); // the filter chip and its clear button
        model.receive({ type: "page", id: model.sent.at(-1).id, page: 0, pages: 3, total: 6, columns: ["prompt"], index: ["a.b"], data: { prompt: ["x"] } });
      }
      if (name === "jobs") byId(el, "dw-job-expand").click();
      const controls = el.querySelectorAll("button, select, input, textarea, summary");
      expect(controls.length > 0).toBe(name !== "autobatch"); // autobatch only shows figures
      expect(unnamedControls(el)).toEqual([]);
      for (const c of controls) expect(c.getAttribute("data-lm-suppress-shortcuts"), c.outerHTML).toBe("true");
      cleanup?.();
      el.remove();
    });
  }

  it("reads a name and the badge beside it as separate words", () => {
    const p = show(progress, WIDGETS.progress[1]);
    expect(p.el.querySelector(".dw-head").textContent).toContain("stdlib-docstrings: pilot done, model Qwen/Qwen3.5-9B");
    const r = show(review, WIDGETS.review[1]);
    expect(r.el.querySelector(".dw-head").textContent).toBe("Results: 30 rows: 28 answered · 2 failed · 0 missing");
    const j = show(jobs, WIDGETS.jobs[1]);
    expect(j.el.querySelector(".dw-job-title").textContent).toBe("stdlib-docstrings, from local");
    const meta = p.el.querySelector(".dw-pilot-meta").textContent;
    expect(meta).toBe("ok, truncated, 20 in / 16 out");
    for (const x of [p, r, j]) x.cleanup?.();
  });
});

describe("rows of figures read as phrases", () => {
  it("a batch's id, status and counts are separate words in progress and the dashboard", () => {
    const snap = { ...WIDGETS.progress[1].snapshot, pilot: null, phase: "in_progress", done: false,
      batches: [{ id: "batch_a", status: "completed", total: 10, completed: 10, failed: 0 }, { id: "batch_b", status: "in_progress", total: 20, completed: 3, failed: 0 }],
      attempts: [{ attempt: 0, phase: "completed", total: 30, completed: 28, failed: 2 }, { attempt: 1, phase: "in_progress", total: 2, completed: 0, failed: 0 }] };
    const p = show(progress, { snapshot: snap });
    expect(byId(p.el, "dw-batch").textContent).toBe("batch_a: completed, 10 / 10 done");
    expect(byId(p.el, "dw-attempt").textContent).toMatch(/^first run: completed, 28 \/ 30 done/);
    const j = show(jobs, WIDGETS.jobs[1]);
    byId(j.el, "dw-job-expand").click();
    expect(j.el.querySelector(".dw-job-batch").textContent).toBe("b1, pilot: completed, 10 / 10 done");
    for (const x of [p, j]) x.cleanup?.();
  });
});
