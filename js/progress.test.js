import { describe, expect, it, vi } from "vitest";
import widget from "./progress.js";
import { byId, fakeModel, widgetHost } from "./testing.js";

function snapshot(overrides = {}) {
  return {
    name: "reviews",
    phase: "in_progress",
    total: 300,
    completed: 37,
    failed: 2,
    batches: [{ id: "batch_1", status: "in_progress", total: 300, completed: 37, failed: 2 }],
    model: "mock",
    simulated: true,
    done: false,
    elapsed_s: 62,
    throughput: 12.34,
    eta_s: 20,
    window_left_s: 86340,
    estimated_cost: 0.12,
    actual_cost: null,
    poll_error: null,
    last_update_age_s: null,
    message: "",
    extra: {},
    ...overrides,
  };
}

const host = widgetHost(widget);

function mount(snap) {
  const model = fakeModel({ snapshot: snap });
  host.render(model);
  return model;
}

describe("progress render", () => {
  it("shows phase, counts with completed first, and a stacked bar", () => {
    mount(snapshot());
    expect(byId(host.el, "dw-progress")).not.toBeNull();
    expect(byId(host.el, "dw-phase").textContent).toBe("in progress");
    expect(byId(host.el, "dw-counts").textContent).toBe("37 / 300 done, 2 failed");
    const [done, failed] = byId(host.el, "dw-bar").children;
    expect(parseFloat(done.style.width)).toBeCloseTo((100 * 37) / 300, 5);
    expect(parseFloat(failed.style.width)).toBeCloseTo((100 * 2) / 300, 5);
    expect(byId(host.el, "dw-stats").textContent).toBe(
      "12.3 req/s · elapsed 1m 02s · ETA 20s",
    );
    expect(byId(host.el, "dw-cost").textContent).toBe("cost: estimated $0.12");
  });

  it("shows the upload before the batch exists, then its failure in the summary", () => {
    const sending = {
      phase: "uploading", rows: 300, files_done: 1, files_total: 4, bytes_done: 3000,
      bytes_total: 12000, rate: 1500, batches_done: 0, batches_total: 0, error: null,
    };
    const model = mount(snapshot({ phase: "uploading", completed: 0, failed: 0, batches: [], sending }));
    expect(byId(host.el, "dw-phase").textContent).toBe("uploading");
    expect(byId(host.el, "dw-counts").textContent).toBe("1 / 4 files uploaded · 3.0 kB / 12.0 kB · 1.5 kB/s");
    expect(byId(host.el, "dw-percent").textContent).toBe("25%");
    expect(parseFloat(byId(host.el, "dw-bar").children[0].style.width)).toBeCloseTo(25, 5);
    model.set("snapshot", snapshot({
      phase: "failed", done: true, completed: 0, failed: 0, batches: [],
      sending: { ...sending, error: "TransportError: POST files failed" },
    }));
    expect(byId(host.el, "dw-summary").textContent).toBe(
      "failed while uploading (1 / 4 files uploaded · 3.0 kB / 12.0 kB · 1.5 kB/s): TransportError: POST files failed",
    );
  });

  it("colours the root by phase", () => {
    const model = mount(snapshot());
    const root = byId(host.el, "dw-progress");
    expect(root.classList.contains("dw-phase-in_progress")).toBe(true);
    model.set("snapshot", snapshot({ phase: "failed", done: true }));
    expect(root.classList.contains("dw-phase-failed")).toBe(true);
    expect(root.classList.contains("dw-phase-in_progress")).toBe(false);
  });

  it("re-renders on change:snapshot, including counts that move backwards", () => {
    const model = mount(snapshot());
    model.set("snapshot", snapshot({ completed: 120, failed: 0 }));
    expect(byId(host.el, "dw-counts").textContent).toBe("120 / 300 done");
    model.set("snapshot", snapshot({ completed: 110, failed: 0 }));
    expect(byId(host.el, "dw-counts").textContent).toBe("110 / 300 done");
  });

  it("clamps the bar when counts exceed the total", () => {
    mount(snapshot({ completed: 290, failed: 40 }));
    const [done, failed] = byId(host.el, "dw-bar").children;
    expect(parseFloat(done.style.width) + parseFloat(failed.style.width)).toBeCloseTo(100, 5);
  });

  it("shows the service's errors with their codes and unreadable answers, escaped", () => {
    mount(snapshot({
      phase: "failed",
      done: true,
      extra: {
        errors: [{ code: "model_not_found", message: "<img src=x onerror=alert(1)>", line: 1, param: "body.model" }],
        error_count: 2,
        unreadable_lines: 3,
      },
    }));
    const problems = byId(host.el, "dw-problems");
    expect(problems.hidden).toBe(false);
    expect(problems.textContent).toBe(
      "Errors: model_not_found: <img src=x onerror=alert(1)> (line 1, body.model); 1 more · 3 answers unreadable",
    );
    expect(host.el.querySelector("img")).toBeNull();
  });

  it("hides the errors line when there is nothing to report", () => {
    mount(snapshot());
    expect(byId(host.el, "dw-problems").hidden).toBe(true);
  });

  it("shows a waiting state before the first snapshot", () => {
    mount({});
    expect(byId(host.el, "dw-phase").textContent).toBe("waiting");
    expect(byId(host.el, "dw-counts").textContent).toBe("waiting for the first update");
    expect(byId(host.el, "dw-cancel").hidden).toBe(true);
  });

  it("marks a lasting finalizing phase as busy rather than idle", () => {
    mount(snapshot({ phase: "finalizing", completed: 298, failed: 2 }));
    expect(byId(host.el, "dw-phase").textContent).toBe("finalizing");
    expect(byId(host.el, "dw-bar").classList.contains("dw-bar-busy")).toBe(true);
  });

  it("lists one row per batch only when there are several", () => {
    const model = mount(snapshot());
    expect(byId(host.el, "dw-batches").hidden).toBe(true);
    model.set(
      "snapshot",
      snapshot({
        batches: [
          { id: "batch_a", status: "completed", total: 150, completed: 150, failed: 0 },
          { id: "batch_b", status: "in_progress", total: 150, completed: 10, failed: 3 },
        ],
      }),
    );
    const rows = host.el.querySelectorAll('[data-testid="dw-batch"]');
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain("batch_a");
    expect(rows[0].textContent).toContain("150 / 150 done");
    expect(rows[1].textContent).toContain("10 / 150 done, 3 failed");
    expect(byId(host.el, "dw-batches").hidden).toBe(false);
  });

  it("shows a reconnecting note that keeps counting while polls fail", () => {
    vi.useFakeTimers();
    const model = mount(snapshot({ poll_error: "ConnectError: refused", last_update_age_s: 40 }));
    const note = byId(host.el, "dw-reconnect");
    expect(note.hidden).toBe(false);
    expect(note.textContent).toBe("reconnecting, last update 40 s ago");
    vi.advanceTimersByTime(5000);
    expect(note.textContent).toBe("reconnecting, last update 45 s ago");
    model.set("snapshot", snapshot());
    expect(note.hidden).toBe(true);
  });

  it("shows the message, e.g. that answers are simulated", () => {
    mount(snapshot({ message: "answers are simulated by the local mock server" }));
    expect(byId(host.el, "dw-message").textContent).toBe(
      "answers are simulated by the local mock server",
    );
  });

  it("renders markup in any snapshot field as text, never as HTML", () => {
    const evil = '<img src=x onerror="window.__pwned=1">';
    mount(
      snapshot({
        name: evil,
        message: evil,
        model: evil,
        phase: evil,
        batches: [
          { id: evil, status: evil, total: 1, completed: 0, failed: 0 },
          { id: "b", status: "in_progress", total: 1, completed: 0, failed: 0 },
        ],
        extra: { hint: evil },
      }),
    );
    expect(host.el.querySelector("img")).toBeNull();
    expect(byId(host.el, "dw-message").textContent).toBe(evil);
    expect(host.el.textContent).toContain(evil);
    expect(window.__pwned).toBeUndefined();
  });

  it("shows a summary and the results hint at the end and hides cancel", () => {
    mount(
      snapshot({
        phase: "completed",
        done: true,
        completed: 296,
        failed: 2,
        extra: { hint: "job.join() returns the results" },
        actual_cost: 0.1,
      }),
    );
    expect(byId(host.el, "dw-summary").textContent).toBe(
      "completed: 296 / 300 done, 2 failed, 2 not run in 1m 02s",
    );
    expect(byId(host.el, "dw-hint").textContent).toBe("job.join() returns the results");
    expect(byId(host.el, "dw-cancel").hidden).toBe(true);
    expect(byId(host.el, "dw-cost").textContent).toBe("cost: estimated $0.12, actual $0.10");
  });
});

describe("progress commands", () => {
  it("asks for confirmation inside the widget before sending cancel", () => {
    const model = mount(snapshot());
    const confirmSpy = vi.spyOn(window, "confirm");
    byId(host.el, "dw-cancel").click();
    expect(model.sent).toEqual([]);
    expect(byId(host.el, "dw-confirm").hidden).toBe(false);
    byId(host.el, "dw-cancel-confirm").click();
    expect(model.sent).toEqual([{ type: "cancel" }]);
    expect(byId(host.el, "dw-confirm").hidden).toBe(true);
    expect(byId(host.el, "dw-cancel").disabled).toBe(true);
    expect(confirmSpy).not.toHaveBeenCalled();
  });

  it("sends nothing when the confirmation is declined", () => {
    const model = mount(snapshot());
    byId(host.el, "dw-cancel").click();
    byId(host.el, "dw-cancel-keep").click();
    expect(model.sent).toEqual([]);
    expect(byId(host.el, "dw-confirm").hidden).toBe(true);
    expect(byId(host.el, "dw-cancel").disabled).toBe(false);
  });

  it("keeps cancel pending across snapshots until the job is cancelling", () => {
    const model = mount(snapshot());
    byId(host.el, "dw-cancel").click();
    byId(host.el, "dw-cancel-confirm").click();
    model.set("snapshot", snapshot({ completed: 40 }));
    expect(byId(host.el, "dw-cancel").textContent).toBe("Cancelling…");
    model.set("snapshot", snapshot({ phase: "cancelled", done: true }));
    expect(byId(host.el, "dw-cancel").hidden).toBe(true);
  });

  it("sends refresh and re-enables the button on the next snapshot", () => {
    const model = mount(snapshot());
    byId(host.el, "dw-refresh").click();
    expect(model.sent).toEqual([{ type: "refresh" }]);
    expect(byId(host.el, "dw-refresh").disabled).toBe(true);
    model.set("snapshot", snapshot({ completed: 50 }));
    expect(byId(host.el, "dw-refresh").disabled).toBe(false);
  });

  it("shows a command error sent by the kernel and re-enables cancel", () => {
    const model = mount(snapshot());
    byId(host.el, "dw-cancel").click();
    byId(host.el, "dw-cancel-confirm").click();
    model.receive({ type: "error", text: "cancel failed: <b>409</b>" });
    expect(byId(host.el, "dw-notice").textContent).toBe("cancel failed: <b>409</b>");
    expect(byId(host.el, "dw-notice").hidden).toBe(false);
    expect(host.el.querySelector("b")).toBeNull();
    expect(byId(host.el, "dw-cancel").disabled).toBe(false);
  });

  it("cleanup removes listeners, timers and the DOM", () => {
    vi.useFakeTimers();
    const model = mount(snapshot());
    expect(model.listenerCount("change:snapshot")).toBe(1);
    host.unmount();
    expect(model.listenerCount("change:snapshot")).toBe(0);
    expect(model.listenerCount("msg:custom")).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(host.el.children).toHaveLength(0);
  });

  it("shows percent, queue, tokens, the window only when it matters, and n/a cost when simulated", () => {
    mount(
      snapshot({
        percent: 13,
        running: 250,
        queued: 11,
        input_tokens: 12300,
        output_tokens: 4500,
        window_left_s: 1800,
        estimated_cost: null,
        cost_note: "n/a (simulated)",
      }),
    );
    expect(byId(host.el, "dw-percent").textContent).toBe("13%");
    expect(byId(host.el, "dw-counts").textContent).toBe("37 / 300 done, 2 failed · 250 running, 11 queued");
    expect(byId(host.el, "dw-stats").textContent).toBe(
      "12.3 req/s · elapsed 1m 02s · ETA 20s · 30m 00s left in window · tokens: 12.3k in / 4.5k out",
    );
    expect(byId(host.el, "dw-cost").textContent).toBe("cost: n/a (simulated)");
  });

  it("shows the whole job with one line per attempt after a retry", () => {
    mount(
      snapshot({
        phase: "completed",
        done: true,
        total: 400,
        completed: 400,
        failed: 0,
        percent: 100,
        recovered: 56,
        attempts: [
          { attempt: 0, phase: "completed", total: 400, completed: 344, failed: 56, done: true },
          { attempt: 1, phase: "completed", total: 56, completed: 56, failed: 0, done: true },
        ],
      }),
    );
    expect(byId(host.el, "dw-percent").textContent).toBe("100%");
    // not joined yet: the service's count of the retry's answers, not yet known to parse
    expect(byId(host.el, "dw-counts").textContent).toBe("400 / 400 done · 56 answered on retry 1");
    const lines = [...host.el.querySelectorAll('[data-testid="dw-attempt"]')].map((n) => n.textContent);
    expect(lines).toEqual(["first run: completed, 344 / 400 done, 56 failed", "retry 1: completed, 56 / 56 done"]);
  });

  it("once the ended job is joined, prints its rows by outcome and what the retry recovered", () => {
    const rows = { rows: 850, answered: 822, parsed: 238, failed: 28, missing: 0, skipped: 0, truncated: 607, failed_by: { failed: 20, expired: 8 }, recovered: 5, unparsed: 584 };
    const attempts = [
      { attempt: 0, phase: "completed", total: 850, completed: 238, failed: 612, done: true },
      { attempt: 1, phase: "completed", total: 612, completed: 612, failed: 0, done: true },
    ];
    mount(snapshot({ phase: "completed", done: true, total: 850, completed: 850, failed: 0, recovered: 5, attempts, rows }));
    const counts = "850 rows: 822 answered (238 parsed, 584 unparsed), 607 cut off at max_tokens · 28 failed (20 errors, 8 expired) · 0 missing";
    expect(byId(host.el, "dw-counts").textContent).toBe(`${counts} · 5 recovered on retry 1`);
    expect(byId(host.el, "dw-summary").textContent).toBe(`completed: ${counts} in 1m 02s`);
  });

  it("shows no rate or ETA before a row of this attempt has ended, and says what it waits for", () => {
    const sending = {
      phase: "creating", rows: 850, files_done: 1, files_total: 1, bytes_done: 100,
      bytes_total: 100, rate: null, batches_done: 0, batches_total: 1, error: null,
    };
    const model = mount(snapshot({ phase: "creating", completed: 0, failed: 0, batches: [], sending, throughput: 8.8, eta_s: 0, elapsed_s: 3 }));
    expect(byId(host.el, "dw-counts").textContent).toBe("0 / 1 batches created");
    expect(byId(host.el, "dw-stats").textContent).toBe("elapsed 3s");
    model.set("snapshot", snapshot({ phase: "validating", completed: 0, failed: 0, throughput: 8.8, eta_s: 0, elapsed_s: 5 }));
    expect(byId(host.el, "dw-stats").textContent).toBe("waiting for the service to start · elapsed 5s");
  });
});
