import { describe, expect, it } from "vitest";
import widget, { formatCreated } from "./jobs.js";
import { byId, fakeModel, widgetHost } from "./testing.js";

const NOW = Date.UTC(2026, 10, 25, 18, 0, 0);

const JOBS = [
  { id: "batch_b", name: "reviews", status: "in_progress", total: 300, completed: 37, failed: 2, created_at: NOW / 1000 - 185, model: "mock", source: "local" },
  { id: "batch_a", name: "tickets", status: "completed", total: 10, completed: 10, failed: 0, created_at: NOW / 1000 - 3 * 86400, model: "mock", source: "server" },
  { id: "batch_c", name: "old", status: "failed", total: 5, completed: 0, failed: 5, created_at: null, model: "", source: "" },
];

const host = widgetHost(widget, { fakeTimers: true, now: NOW });

function mount(jobs = JOBS, status_filter = "") {
  const model = fakeModel({ jobs, status_filter });
  host.render(model);
  return model;
}

const rows = () => [...host.el.querySelectorAll('[data-testid="dw-job-row"]')];

describe("jobs dashboard", () => {
  it("shows one row per batch with status, counts and age", () => {
    mount();
    expect(rows().map((r) => r.dataset.id)).toEqual(["batch_b", "batch_a", "batch_c"]);
    const first = rows()[0];
    expect(byId(first, "dw-job-status").textContent).toBe("in progress");
    expect(byId(first, "dw-job-counts").textContent).toBe("37 / 300 done, 2 failed");
    expect(first.textContent).toContain("3m 05s ago");
    expect(rows()[1].textContent).toContain("2026-11-22 18:00");
  });

  it("offers cancel only for unfinished batches", () => {
    mount();
    expect(rows().map((r) => Boolean(byId(r, "dw-job-cancel")))).toEqual([true, false, false]);
    expect(rows().every((r) => byId(r, "dw-job-attach"))).toBe(true);
  });

  it("filters by status with counts, and syncs the filter", () => {
    const model = mount();
    const labels = [...byId(host.el, "dw-jobs-filter").querySelectorAll("button")].map((b) => b.textContent);
    expect(labels).toEqual(["all (3)", "in progress (1)", "completed (1)", "failed (1)"]);
    byId(host.el, "dw-jobs-filter").querySelector('[data-status="completed"]').click();
    expect(model.get("status_filter")).toBe("completed");
    expect(rows().map((r) => r.dataset.id)).toEqual(["batch_a"]);
    model.set("status_filter", "expired");
    expect(rows()).toHaveLength(0);
    expect(byId(host.el, "dw-jobs-empty").textContent).toBe("No expired jobs.");
  });

  it("sends attach at once and cancel only after confirming", () => {
    const model = mount();
    byId(rows()[1], "dw-job-attach").click();
    expect(model.sent).toEqual([{ type: "attach", id: "batch_a" }]);
    byId(rows()[0], "dw-job-cancel").click();
    expect(model.sent).toHaveLength(1);
    byId(rows()[0], "dw-job-cancel-keep").click();
    byId(rows()[0], "dw-job-cancel").click();
    byId(rows()[0], "dw-job-cancel-confirm").click();
    expect(model.sent.at(-1)).toEqual({ type: "cancel", id: "batch_b" });
    expect(byId(rows()[0], "dw-job-cancel").disabled).toBe(true);
    model.set("jobs", JOBS.map((j) => (j.id === "batch_b" ? { ...j, status: "cancelling" } : j)));
    expect(byId(rows()[0], "dw-job-cancel")).toBeNull();
  });

  it("shows errors from the kernel and re-enables the action", () => {
    const model = mount();
    byId(rows()[1], "dw-job-attach").click();
    expect(byId(rows()[1], "dw-job-attach").disabled).toBe(true);
    model.receive({ type: "error", id: "batch_a", text: "attach failed: gone" });
    expect(byId(host.el, "dw-notice").textContent).toBe("attach failed: gone");
    expect(byId(rows()[1], "dw-job-attach").disabled).toBe(false);
  });

  it("clears a pending action when the kernel says it is done", () => {
    const model = mount();
    byId(rows()[1], "dw-job-attach").click();
    model.receive({ type: "done", id: "batch_a", action: "attach" });
    expect(byId(rows()[1], "dw-job-attach").disabled).toBe(false);
    expect(byId(rows()[1], "dw-job-attach").textContent).toBe("Open");
  });

  it("says so when there are no batches", () => {
    mount([]);
    expect(byId(host.el, "dw-jobs-empty").textContent).toBe("No jobs yet.");
    expect(byId(host.el, "dw-jobs-table").hidden).toBe(true);
  });

  it("sends refresh", () => {
    const model = mount();
    byId(host.el, "dw-jobs-refresh").click();
    expect(model.sent).toEqual([{ type: "refresh" }]);
  });

  it("renders names and ids as text", () => {
    const evil = '<img src=x onerror="window.__pwned=1">';
    mount([{ id: evil, name: evil, status: evil, model: evil, source: evil, total: 1, completed: 0, failed: 0 }]);
    expect(host.el.querySelector("img")).toBeNull();
    expect(rows()[0].dataset.id).toBe(evil);
    expect(window.__pwned).toBeUndefined();
  });

  it("formats creation times", () => {
    expect(formatCreated(NOW / 1000 - 30, NOW)).toBe("30s ago");
    expect(formatCreated(undefined, NOW)).toBe("");
  });

  it("cleanup removes listeners and the DOM", () => {
    const model = mount();
    host.unmount();
    expect(model.listenerCount("change:jobs")).toBe(0);
    expect(model.listenerCount("msg:custom")).toBe(0);
    expect(host.el.children).toHaveLength(0);
  });

  it("shows one row per job with its batches inside, and unknown counts with where the batches are", () => {
    const model = fakeModel({
      jobs: [
        { id: "b1", name: "split", status: "completed", total: 30, completed: 30, failed: 0, attempts: 2, where: "", cancellable: false,
          duration_s: 125, cost: 0.12,
          batches: [{ id: "b1", attempt: 0, status: "completed", total: 10, completed: 10, failed: 0, where: "on the service" },
                    { id: "b2", attempt: 1, status: "completed", total: 2, completed: 2, failed: 0, where: "on the service" }] },
        { id: "bx", name: "elsewhere", status: "unknown", total: null, completed: null, failed: null, attempts: 1,
          where: "on another local server", cancellable: false, batches: [] },
      ],
    });
    host.render(model);
    const rows = [...host.el.querySelectorAll('[data-testid="dw-job-row"]')];
    expect(rows.length).toBe(2);
    expect(rows[0].querySelector('[data-testid="dw-job-meta"]').textContent).toBe("2m 05s · $0.12");
    expect(rows[1].querySelector('[data-testid="dw-job-counts"]').textContent).toBe("unknown");
    expect(rows[1].querySelector('[data-testid="dw-job-where"]').textContent).toBe("on another local server");
    expect(rows[1].querySelector('[data-testid="dw-job-cancel"]')).toBeNull();
    const expand = rows[0].querySelector('[data-testid="dw-job-expand"]');
    expect(expand.textContent).toBe("▸ 2 batches · 2 attempts");
    expand.click();
    const lines = host.el.querySelector('[data-testid="dw-job-batches"]').children;
    expect(lines.length).toBe(2);
    expect(lines[1].textContent).toContain("retry 1");
  });
});

describe("jobs dashboard: pilots and autobatch", () => {
  const PILOT = {
    id: "batch_p", name: "piloted", status: "pilot_done", pilot: "waiting", total: 10, completed: 10, failed: 0,
    created_at: NOW / 1000 - 60, model: "Qwen/Qwen3.5-9B", source: "local",
    batches: [{ id: "batch_p", attempt: 0, status: "completed", total: 10, completed: 10, failed: 0 }],
  };
  const AUTO = { id: "batch_x", name: "autobatch", status: "completed", collectable: true, total: 4, completed: 4, failed: 0, created_at: NOW / 1000 - 30, model: "", source: "local" };

  it("says a pilot waits for proceed and offers Proceed once", () => {
    const model = mount([PILOT, JOBS[0]]);
    const [pilotRow, other] = rows();
    expect(byId(pilotRow, "dw-job-status").textContent).toBe("pilot done, waiting for proceed");
    expect(byId(other, "dw-job-proceed")).toBeNull();
    byId(pilotRow, "dw-job-proceed").click();
    expect(model.sent).toEqual([{ type: "proceed", id: "batch_p" }]);
    const busy = byId(rows()[0], "dw-job-proceed");
    expect(busy.disabled).toBe(true);
    expect(busy.textContent).toBe("Sending…");
    const labels = [...byId(host.el, "dw-jobs-filter").querySelectorAll("button")].map((b) => b.textContent);
    expect(labels).toContain("pilot done (1)");
  });

  it("names a proceeded pilot's batches pilot and rest", () => {
    const batches = [
      { id: "batch_p", attempt: 0, status: "completed", total: 10, completed: 10, failed: 0 },
      { id: "batch_r", attempt: 1, status: "in_progress", total: 290, completed: 5, failed: 0 },
      { id: "batch_t", attempt: 2, status: "in_progress", total: 3, completed: 0, failed: 0 },
    ];
    mount([{ ...PILOT, status: "in_progress", pilot: "proceeded", total: 300, completed: 15, batches }]);
    expect(byId(rows()[0], "dw-job-status").textContent).toBe("in progress");
    expect(byId(rows()[0], "dw-job-proceed")).toBeNull();
    byId(rows()[0], "dw-job-expand").click();
    expect(byId(rows()[0], "dw-job-batches").textContent).toMatch(/pilot.*rest.*retry 1/);
  });

  it("collects an autobatch client's answers and says how many", () => {
    const model = mount([AUTO, JOBS[1]]);
    expect(byId(rows()[1], "dw-job-collect")).toBeNull();
    byId(rows()[0], "dw-job-collect").click();
    expect(model.sent).toEqual([{ type: "collect", id: "batch_x" }]);
    expect(byId(rows()[0], "dw-job-collect").textContent).toBe("Collecting…");
    model.receive({ type: "done", id: "batch_x", action: "collect", text: "collected 4 answers of autobatch 'autobatch' (0 failed)" });
    expect(byId(host.el, "dw-jobs-info").hidden).toBe(false);
    expect(byId(host.el, "dw-jobs-info").textContent).toContain("collected 4 answers");
    expect(byId(rows()[0], "dw-job-collect").disabled).toBe(false);
  });
});
