import { describe, expect, it, vi } from "vitest";
import widget from "./builder.js";
import { byId, fakeModel, widgetHost } from "./testing.js";

function state(overrides = {}) {
  return {
    columns: [
      { name: "review", dtype: "object" },
      { name: "stars", dtype: "int64" },
    ],
    n_rows: 300,
    models: ["mock", "big-model"],
    windows: ["24h", "1h"],
    schema: null,
    template: "Sentiment: {review}",
    model: "mock",
    window: "24h",
    max_tokens: null,
    row: 0,
    messages: [],
    estimate: "300 requests, est. $0.02",
    submit_state: "idle",
    ...overrides,
  };
}

const host = widgetHost(widget, { fakeTimers: true });

function mount(overrides) {
  const model = fakeModel(state(overrides));
  host.render(model);
  return model;
}

describe("builder render", () => {
  it("names every control in words for a screen reader", () => {
    mount();
    const controls = host.el.querySelectorAll("button, select, input, textarea");
    expect(controls.length).toBeGreaterThan(5);
    for (const c of controls) {
      const label = c.closest("label")?.textContent ?? "";
      const name = c.getAttribute("aria-label") || (c.tagName === "BUTTON" ? c.textContent : "") || label;
      expect(name, c.outerHTML).toMatch(/[A-Za-z]{2,}/);
    }
  });

  it("shows columns, choices, template and the estimate", () => {
    mount();
    const chips = byId(host.el, "dw-columns").querySelectorAll("button");
    expect([...chips].map((c) => c.dataset.column)).toEqual(["review", "stars"]);
    expect(byId(host.el, "dw-template").value).toBe("Sentiment: {review}");
    expect([...byId(host.el, "dw-model").options].map((o) => o.value)).toEqual(["mock", "big-model"]);
    expect(byId(host.el, "dw-window").value).toBe("24h");
    expect(byId(host.el, "dw-estimate").textContent).toBe("300 requests, est. $0.02");
    expect(byId(host.el, "dw-schema").hidden).toBe(true);
  });

  it("asks the kernel for a preview at once and shows only the latest answer", () => {
    const model = mount();
    expect(model.sent).toEqual([{ type: "preview", id: 1, template: "Sentiment: {review}", row: 0 }]);
    const template = byId(host.el, "dw-template");
    template.value = "Stars: {stars}";
    template.dispatchEvent(new Event("input"));
    vi.advanceTimersByTime(250);
    expect(model.sent.at(-1)).toEqual({ type: "preview", id: 2, template: "Stars: {stars}", row: 0 });
    model.receive({ type: "preview", id: 1, text: "old answer", label: "a", error: "" });
    expect(byId(host.el, "dw-preview").textContent).toBe("");
    model.receive({ type: "preview", id: 2, text: "Stars: 5", label: "r1", error: "" });
    expect(byId(host.el, "dw-preview").textContent).toBe("Stars: 5");
    expect(byId(host.el, "dw-row-label").textContent).toBe("(r1)");
  });

  it("debounces template edits into the synced trait", () => {
    const model = mount();
    const template = byId(host.el, "dw-template");
    for (const text of ["a", "ab", "abc"]) {
      template.value = text;
      template.dispatchEvent(new Event("input"));
      vi.advanceTimersByTime(50);
    }
    expect(model.get("template")).toBe("Sentiment: {review}");
    vi.advanceTimersByTime(250);
    expect(model.get("template")).toBe("abc");
    expect(model.saves).toBe(1);
  });

  it("inserts a column placeholder at the cursor", () => {
    mount({ template: "Rate: " });
    const template = byId(host.el, "dw-template");
    template.selectionStart = template.selectionEnd = 6;
    byId(host.el, "dw-columns").querySelector('[data-column="stars"]').click();
    expect(template.value).toBe("Rate: {stars}");
  });

  it("steps through rows within range and previews each", () => {
    const model = mount({ n_rows: 2 });
    byId(host.el, "dw-row-next").click();
    expect(model.get("row")).toBe(1);
    byId(host.el, "dw-row-next").click();
    expect(model.get("row")).toBe(1);
    byId(host.el, "dw-row-prev").click();
    byId(host.el, "dw-row-prev").click();
    expect(model.get("row")).toBe(0);
    expect(model.sent.filter((m) => m.type === "preview").map((m) => m.row)).toEqual([0, 1, 1, 0, 0]);
  });

  it("shows an error found by both the preview and validation once", () => {
    const model = mount();
    model.set("messages", [{ level: "error", text: "unknown column 'x'" }]);
    model.receive({ type: "preview", id: 1, text: "", error: "unknown column 'x'" });
    expect(byId(host.el, "dw-preview-error").hidden).toBe(true);
    expect(host.el.querySelectorAll(".dw-msg").length).toBe(1);
    expect(byId(host.el, "dw-submit").disabled).toBe(true);
  });

  it("shows preview errors and validation messages; errors disable submit", () => {
    const model = mount();
    model.receive({ type: "preview", id: 1, text: "", error: "unknown column 'x'" });
    expect(byId(host.el, "dw-preview-error").textContent).toBe("unknown column 'x'");
    expect(byId(host.el, "dw-preview-error").hidden).toBe(false);
    model.set("messages", [
      { level: "warning", text: "long prompt" },
      { level: "error", text: "unknown model" },
    ]);
    const items = byId(host.el, "dw-validation").querySelectorAll("li");
    expect([...items].map((i) => i.className)).toEqual(["dw-msg dw-msg-warning", "dw-msg dw-msg-error"]);
    expect(byId(host.el, "dw-submit").disabled).toBe(true);
    model.set("messages", [{ level: "warning", text: "long prompt" }]);
    expect(byId(host.el, "dw-submit").disabled).toBe(false);
  });

  it("submits the whole form, flushing a pending template edit", () => {
    const model = mount();
    const template = byId(host.el, "dw-template");
    template.value = "Label: {review}";
    template.dispatchEvent(new Event("input"));
    byId(host.el, "dw-max-tokens").value = "64";
    byId(host.el, "dw-window").value = "1h";
    byId(host.el, "dw-submit").click();
    expect(model.get("template")).toBe("Label: {review}");
    expect(model.sent.at(-1)).toEqual({
      type: "submit",
      form: { template: "Label: {review}", model: "mock", window: "1h", max_tokens: 64, pilot: false, pilot_by: "", row: 0 },
    });
    expect(byId(host.el, "dw-submit").disabled).toBe(true);
    expect(byId(host.el, "dw-status").textContent).toBe("submitting…");
  });

  it("Try 10 rows first: a checkbox and a column to spread them over, synced and submitted", () => {
    const model = mount();
    const pilot = byId(host.el, "dw-pilot");
    const by = byId(host.el, "dw-pilot-by");
    expect(pilot.checked).toBe(false);
    expect(by.disabled).toBe(true);
    expect([...by.options].map((o) => o.value)).toEqual(["", "review", "stars"]);
    pilot.checked = true;
    pilot.dispatchEvent(new Event("change"));
    expect(model.get("pilot")).toBe(true);
    expect(by.disabled).toBe(false);
    by.value = "stars";
    by.dispatchEvent(new Event("change"));
    expect(model.get("pilot_by")).toBe("stars");
    byId(host.el, "dw-submit").click();
    expect(model.sent.at(-1).form).toMatchObject({ pilot: true, pilot_by: "stars" });
  });

  it("shows the schema when one is given", () => {
    mount({ schema: { type: "object", properties: { label: { enum: ["pos", "neg"] } } } });
    expect(byId(host.el, "dw-schema").hidden).toBe(false);
    expect(byId(host.el, "dw-schema").textContent).toContain('"enum": [');
  });

  it("renders column names, previews and messages as text", () => {
    const evil = '<img src=x onerror="window.__pwned=1">';
    const model = mount({ columns: [{ name: evil, dtype: evil }], messages: [{ level: evil, text: evil }], models: [evil] });
    model.receive({ type: "preview", id: 1, text: evil, label: evil, error: evil });
    expect(host.el.querySelector("img")).toBeNull();
    expect(byId(host.el, "dw-preview").textContent).toBe(evil);
    expect(window.__pwned).toBeUndefined();
  });

  it("cleanup removes listeners and pending timers", () => {
    const model = mount();
    byId(host.el, "dw-template").dispatchEvent(new Event("input"));
    host.unmount();
    expect(model.listenerCount("msg:custom")).toBe(0);
    expect(model.listenerCount("change:messages")).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(host.el.children).toHaveLength(0);
  });
});
