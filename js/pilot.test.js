import { describe, expect, it } from "vitest";
import widget from "./progress.js";
import cases from "../tests/widgets/format_cases.json";
import { pilotFigureLines, pilotFindingLines, restSentText } from "./lib/pilot.js";
import { byId, fakeModel, widgetHost } from "./testing.js";

const figures = (window, rest_usd) => ({
  model: "Qwen/Qwen3.5-9B",
  window,
  pilot_rows: 3,
  answered: 2,
  failed: 1,
  truncated: 1,
  input_tokens_per_row: 21.75,
  output_tokens_per_row: 2,
  output_tokens_sd: 0.5,
  rest_rows: 997,
  rest_input_tokens: 21000,
  rest_output_tokens: 1994,
  pilot_usd: 0.000008,
  rest_usd,
  rest_low_usd: rest_usd * 0.9,
  rest_high_usd: rest_usd * 1.1,
  static_rest_usd: 0.0123,
});

function pilot(overrides = {}) {
  return {
    state: "ready",
    n: 3,
    rest: 997,
    window: "24h",
    figures: { "1h": figures("1h", 0.5), "24h": figures("24h", 0.25) },
    columns: ["sentiment", "stars"],
    rows: [
      {
        prompt: "Classify: <img src=x onerror=alert(1)> costs $5 and $6",
        answers: { sentiment: "<b>positive</b>", stars: "5" },
        status: "ok", error: null, finish_reason: "stop", prompt_tokens: 21, completion_tokens: 2,
      },
      {
        prompt: "Classify: long one",
        answers: { sentiment: "neg", stars: null },
        status: "ok", error: null, finish_reason: "length", prompt_tokens: 22, completion_tokens: 2,
      },
      {
        prompt: "Classify: refused",
        answers: { sentiment: null, stars: null },
        status: "failed", error: "server_error: boom", finish_reason: null,
        prompt_tokens: null, completion_tokens: null,
      },
    ],
    error: null,
    ...overrides,
  };
}

function snapshot(p, overrides = {}) {
  return {
    name: "reviews", phase: "completed", total: 3, completed: 2, failed: 1, done: true,
    batches: [], attempts: [], extra: {}, message: "", pilot: p, ...overrides,
  };
}

const allById = (el, id) => [...el.querySelectorAll(`[data-testid="${id}"]`)];
const host = widgetHost(widget);

function mount(snap) {
  const model = fakeModel({ snapshot: snap });
  host.render(model);
  return model;
}

describe("pilot report in the progress widget", () => {
  it("is hidden without a pilot and while the pilot runs", () => {
    const model = mount(snapshot(null));
    expect(byId(host.el, "dw-pilot").hidden).toBe(true);
    model.set("snapshot", snapshot({ state: "running", n: 3, rest: 997, window: "24h" }, { done: false }));
    expect(byId(host.el, "dw-pilot").hidden).toBe(true);
  });

  it("says in the badge that the pilot waits for proceed, not that the job completed", () => {
    const model = mount(snapshot(pilot()));
    expect(byId(host.el, "dw-phase").textContent).toBe("pilot done");
    expect(host.el.querySelector(".dw-progress").classList.contains("dw-done")).toBe(false);
    model.set("snapshot", snapshot(pilot({ state: "proceeded" }), { phase: "in_progress", done: false }));
    expect(byId(host.el, "dw-phase").textContent).toBe("in progress");
  });

  it("shows answers beside their prompts, failures and truncations, escaped", () => {
    mount(snapshot(pilot()));
    expect(byId(host.el, "dw-pilot").hidden).toBe(false);
    const rows = allById(host.el, "dw-pilot-row");
    expect(rows).toHaveLength(3);
    expect(rows[0].textContent).toContain("Classify: <img src=x onerror=alert(1)> costs $5 and $6");
    expect(rows[0].textContent).toContain("sentiment: <b>positive</b>");
    expect(host.el.querySelector("img, b")).toBeNull(); // model output is text, never markup
    expect(rows[1].textContent).toContain("ok, truncated");
    expect(rows[2].textContent).toContain("failed");
    expect(rows[2].textContent).toContain("server_error: boom");
    expect(rows[0].textContent).toContain("21 in / 2 out");
  });

  it("shows the measured figures and the rest's cost with its spread on the chosen window", () => {
    mount(snapshot(pilot()));
    const text = () => byId(host.el, "dw-pilot-figures").textContent;
    expect(text()).toContain("measured per row: 21.8 input + 2.0 output tokens (sd 0.5)");
    expect(text()).toContain("≈ $0.2500 (95%: $0.2250 to $0.2750) on the 24h window");
    expect(text()).toContain("static estimate of the rest (bytes ÷ 4): $0.0123");
    const select = byId(host.el, "dw-pilot-window");
    expect([...select.options].map((o) => o.value)).toEqual(["1h", "24h"]);
    expect(select.value).toBe("24h");
    select.value = "1h";
    select.dispatchEvent(new Event("change"));
    expect(text()).toContain("≈ $0.5000 (95%: $0.4500 to $0.5500) on the 1h window");
  });

  it("Proceed sends the chosen window once, stays disabled while sending, again after an error", () => {
    const model = mount(snapshot(pilot()));
    const button = byId(host.el, "dw-proceed");
    expect(button.textContent).toBe("Proceed: send the other 997 rows");
    const select = byId(host.el, "dw-pilot-window");
    select.value = "1h";
    select.dispatchEvent(new Event("change"));
    button.click();
    button.click();
    expect(model.sent).toEqual([{ type: "proceed", window: "1h" }]);
    expect(button.disabled).toBe(true);
    expect(button.textContent).toBe("Sending…");
    model.set("snapshot", snapshot(pilot())); // a poll meanwhile does not re-enable it
    expect(button.disabled).toBe(true);
    model.receive({ type: "error", text: "proceed failed: over the budget" });
    expect(button.disabled).toBe(false);
    expect(byId(host.el, "dw-notice").textContent).toBe("proceed failed: over the budget");
  });

  it("after proceed shows the whole job, the report folded, no button", () => {
    const model = mount(snapshot(pilot()));
    byId(host.el, "dw-proceed").click();
    const attempts = [
      { attempt: 0, phase: "completed", total: 3, completed: 2, failed: 1, done: true },
      { attempt: 1, phase: "in_progress", total: 997, completed: 100, failed: 0, done: false },
    ];
    model.set("snapshot", snapshot(pilot({ state: "proceeded", window: "1h" }), {
      phase: "in_progress", done: false, total: 1000, completed: 102, failed: 1, attempts,
    }));
    expect(byId(host.el, "dw-counts").textContent).toBe("102 / 1,000 done, 1 failed");
    expect(byId(host.el, "dw-pilot-figures").closest("[hidden]")).not.toBeNull();
    byId(host.el, "dw-pilot-fold").click(); // the report is still there when asked for
    expect(byId(host.el, "dw-pilot-figures").closest("[hidden]")).toBeNull();
    expect(byId(host.el, "dw-pilot-title").textContent).toContain("sent on the 1h window");
    expect(byId(host.el, "dw-proceed").closest("[hidden]")).not.toBeNull();
    expect(allById(host.el, "dw-attempt").map((a) => a.firstChild.textContent)).toEqual(["pilot", "rest"]);
  });

  it("a rest whose upload failed after proceed is offered again, the report unfolded", () => {
    const model = mount(snapshot(pilot()));
    byId(host.el, "dw-proceed").click();
    model.set("snapshot", snapshot(pilot({ state: "proceeded" }), { phase: "uploading", done: false }));
    expect(byId(host.el, "dw-proceed").closest("[hidden]")).not.toBeNull();
    const sending = { phase: "creating", error: "APIError: refused", files_done: 1, files_total: 1 };
    model.set("snapshot", snapshot(pilot(), { phase: "failed", done: true, sending }));
    const button = byId(host.el, "dw-proceed");
    expect(button.closest("[hidden]")).toBeNull();
    expect(button.disabled).toBe(false);
    expect(button.textContent).toBe("Proceed: send the other 997 rows");
    expect(byId(host.el, "dw-pilot-figures").closest("[hidden]")).toBeNull();
    expect(byId(host.el, "dw-summary").textContent).toContain("APIError: refused");
  });

  it("words the figures as the Python report does", () => {
    const f = figures("24h", 0.000117);
    expect(pilotFigureLines(f)).toEqual([
      "pilot: 3 rows, 2 answered, 1 failed, 1 truncated (finish_reason=length)",
      "measured per row: 21.8 input + 2.0 output tokens (sd 0.5)",
      "rest: 997 rows, ~21,000 input + ~1,994 output tokens ≈ $0.000117 " +
        "(95%: $0.000105 to $0.000129) on the 24h window",
      "static estimate of the rest (bytes ÷ 4): $0.0123",
      "the pilot cost $0.000008",
    ]);
    expect(pilotFigureLines({ ...f, rest_usd: null })[2]).toBe(
      "rest: 997 rows, ~21,000 input + ~1,994 output tokens (no price for 'Qwen/Qwen3.5-9B' in the 24h window)",
    );
  });

  const findings = (overrides = {}) => ({
    rows: 10, truncated: 5, cap: 16, cut_at: 16, longest_complete: 12, max_tokens: 64,
    unparsed: 0, parse_example: null, schema_hint: "Answer with only a JSON object. r: x (string)",
    ...overrides,
  });

  it("words the findings as the Python report does", () => {
    expect(pilotFindingLines(findings({ unparsed: 2, parse_example: "EOF" }))).toEqual([
      "5 of 10 answers were cut off at max_tokens=16 (finish_reason=length); " +
        "the longest complete answer used 12 tokens; proposed max_tokens=64",
      "2 of 10 answers did not parse against the schema (EOF); " +
        "proposed: add the schema to the system prompt (schema_hint=True)",
    ]);
    expect(pilotFindingLines(findings({ cap: null, longest_complete: null }))[0]).toBe(
      "5 of 10 answers were cut off at the model's own length limit (finish_reason=length); " +
        "no answer ended by itself; proposed max_tokens=64",
    );
    expect(pilotFindingLines(null)).toEqual([]);
  });

  it("shows the proposal before the click and Proceed sends the proposed max_tokens", () => {
    const model = mount(snapshot(pilot({ findings: findings() })));
    expect(byId(host.el, "dw-pilot-findings").textContent).toContain("proposed max_tokens=64");
    const field = byId(host.el, "dw-pilot-max-tokens");
    expect(field.value).toBe("64");
    const button = byId(host.el, "dw-proceed");
    expect(button.textContent).toBe("Proceed with max_tokens=64: send the other 997 rows");
    button.click();
    expect(model.sent).toEqual([{ type: "proceed", window: "24h", max_tokens: 64 }]);
  });

  it("never resends the same cap silently: a cap not above it needs a deliberate send unchanged", () => {
    const model = mount(snapshot(pilot({ findings: findings() })));
    const field = byId(host.el, "dw-pilot-max-tokens");
    const button = byId(host.el, "dw-proceed");
    field.value = "16";
    field.dispatchEvent(new Event("input"));
    expect(button.disabled).toBe(true);
    expect(byId(host.el, "dw-pilot-fix-note").textContent).toContain("max_tokens must be above 16");
    button.click();
    expect(model.sent).toEqual([]);
    model.set("snapshot", snapshot(pilot({ findings: findings() }))); // a poll keeps the edit
    expect(field.value).toBe("16");
    field.value = "100";
    field.dispatchEvent(new Event("input"));
    expect(button.textContent).toBe("Proceed with max_tokens=100: send the other 997 rows");
    const unchanged = byId(host.el, "dw-pilot-unchanged");
    unchanged.checked = true;
    unchanged.dispatchEvent(new Event("change"));
    expect(field.disabled).toBe(true);
    expect(button.textContent).toBe("Send unchanged: the other 997 rows");
    button.click();
    expect(model.sent).toEqual([{ type: "proceed", window: "24h", send_unchanged: true }]);
  });

  it("answers that did not parse offer the schema hint, ticked, sent as schema_hint", () => {
    const model = mount(snapshot(pilot({ findings: findings({ truncated: 0, max_tokens: null, unparsed: 3 }) })));
    expect(byId(host.el, "dw-pilot-max-tokens").closest("[hidden]")).not.toBeNull();
    const hint = byId(host.el, "dw-pilot-schema-hint");
    expect(hint.closest("label").textContent).toContain("Answer with only a JSON object");
    hint.checked = false;
    hint.dispatchEvent(new Event("change"));
    expect(byId(host.el, "dw-proceed").disabled).toBe(true);
    hint.checked = true;
    hint.dispatchEvent(new Event("change"));
    byId(host.el, "dw-proceed").click();
    expect(model.sent).toEqual([{ type: "proceed", window: "24h", schema_hint: true }]);
  });

  it("shows the prompt start every row shares once, and no fix block without findings", () => {
    mount(snapshot(pilot({ shared_prompt: "[system] You label reviews.\nSentiment of: " })));
    expect(byId(host.el, "dw-pilot-shared").textContent).toBe(
      "Every prompt starts with: [system] You label reviews.\nSentiment of: ",
    );
    expect(byId(host.el, "dw-pilot-fix").hidden).toBe(true);
  });
});

describe("what a proceed sent, worded as the Python text (tests/widgets/format_cases.json)", () => {
  it.each(cases.rest_sent)("rest sent %j -> %s", (pilot, text) => expect(restSentText(pilot)).toBe(text));
});
