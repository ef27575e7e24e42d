import { describe, expect, it } from "vitest";
import {
  RECORD_CLASS,
  keepRecordsOnSave,
  liveRecords,
  recordsOf,
  withFreshOutputs,
  withRecords,
} from "./record.js";

const STATE = "application/vnd.jupyter.widget-state+json";
const VIEW = "application/vnd.jupyter.widget-view+json";
const card = '<div data-testid="dw-progress-static">37 / 300 done</div>';
const ours = (id, html = card) => ({
  output_type: "display_data",
  data: { [VIEW]: { model_id: id }, "text/html": html, "text/plain": "37 / 300" },
});

/** A notebook context as JupyterLab's: cells with outputs, metadata, a saveState signal. */
function fakeContext(cells, metadata = {}) {
  const listeners = [];
  return {
    saveState: { connect: (fn) => listeners.push(fn) },
    model: {
      cells: cells.map((outputs) => ({ outputs: { toJSON: () => outputs } })),
      getMetadata: (key) => metadata[key],
      setMetadata: (key, value) => {
        metadata[key] = value;
      },
    },
    save() {
      for (const fn of listeners) fn(this, "started");
    },
    listeners,
    metadata,
  };
}

describe("records kept in a saved notebook", () => {
  it("takes each live output of ours with its own static HTML and text", () => {
    const records = recordsOf([
      [ours("a"), { output_type: "stream", text: "hi" }],
      [{ data: { [VIEW]: { model_id: "other" }, "text/html": "<b>not ours</b>" } }],
      [{ data: { "text/html": card } }], // a finished job: static already, no widget
      [ours("b", ["<div ", 'data-testid="dw-jobs-static">Jobs</div>'])], // nbformat lines
    ]);
    expect(Object.keys(records)).toEqual(["a", "b"]);
    expect(records.a.model_name).toBe("OutputModel");
    expect(records.a.state.outputs[0].data).toEqual({ "text/html": card, "text/plain": "37 / 300" });
    expect(records.b.state.outputs[0].data["text/html"]).toContain("Jobs</div>");
  });

  it("keeps other widgets' state and drops records whose outputs are gone", () => {
    const saved = {
      [STATE]: {
        version_major: 2,
        version_minor: 0,
        state: {
          slider: { model_name: "IntSliderModel", state: { value: 3 } },
          gone: { model_name: "OutputModel", state: { _dom_classes: [RECORD_CLASS], outputs: [] } },
        },
      },
    };
    const merged = withRecords(saved, recordsOf([[ours("a")]]));
    expect(Object.keys(merged[STATE].state).sort()).toEqual(["a", "slider"]);
    expect(merged[STATE].version_major).toBe(2);
  });

  it("writes the records when the notebook is saved, hooking each document once", () => {
    const context = fakeContext([[ours("a")]]);
    const model = { widget_manager: { context } };
    keepRecordsOnSave(model);
    keepRecordsOnSave(model); // a second widget of the same notebook
    expect(context.listeners).toHaveLength(1);
    expect(context.metadata.widgets).toBeUndefined();
    context.save();
    expect(Object.keys(context.metadata.widgets[STATE].state)).toEqual(["a"]);
  });

  it("takes a running widget's record from its trait, fresher than the output's text/html", () => {
    const fresh = '<div data-testid="dw-progress-static">120 / 300 done</div>';
    const live = {
      get: (key) => (key === "record" ? { a: { "text/html": fresh, "text/plain": "120 / 300" } } : undefined),
    };
    const context = fakeContext([[ours("a"), ours("b")]]);
    keepRecordsOnSave({ ...live, widget_manager: { context } });
    context.save();
    const state = context.metadata.widgets[STATE].state;
    expect(state.a.state.outputs[0].data).toEqual({ "text/html": fresh, "text/plain": "120 / 300" });
    expect(state.b.state.outputs[0].data["text/html"]).toBe(card); // no live record: its own
    expect(liveRecords([live, { get: () => undefined }])).toEqual(live.get("record"));
  });

  it("puts the fresh records into the saved copy of the outputs only, for that one save", () => {
    const fresh = { "text/html": '<div data-testid="dw-progress-static">90 / 300</div>', "text/plain": "90" };
    const outputs = [ours("a"), ours("b")];
    const context = fakeContext([outputs]);
    // JupyterLab's model serialises through a method of its class, as here
    const proto = { toJSON: () => ({ cells: [{ outputs: structuredClone(outputs) }] }) };
    context.model = Object.assign(Object.create(proto), context.model);
    const live = { get: (key) => (key === "record" ? { a: fresh } : undefined) };
    keepRecordsOnSave({ ...live, widget_manager: { context } });
    context.save();
    const saved = context.model.toJSON();
    expect(saved.cells[0].outputs[0].data).toEqual({ [VIEW]: { model_id: "a" }, ...fresh });
    expect(saved.cells[0].outputs[1].data["text/html"]).toBe(card);
    expect(outputs[0].data["text/html"]).toBe(card); // what is on screen is left alone
    expect(Object.hasOwn(context.model, "toJSON")).toBe(false); // the next save starts afresh
    expect(context.model.toJSON().cells[0].outputs[0].data["text/html"]).toBe(card);
  });

  it("refreshes the outputs whose widget view has a live record", () => {
    const json = { cells: [{ outputs: [ours("a"), { output_type: "stream", text: "x" }] }, {}] };
    withFreshOutputs(json, { a: { "text/html": "<b>new</b>", "text/plain": "new" } });
    expect(json.cells[0].outputs[0].data["text/html"]).toBe("<b>new</b>");
    expect(json.cells[0].outputs[0].data[VIEW]).toEqual({ model_id: "a" });
    expect(json.cells[0].outputs[1]).toEqual({ output_type: "stream", text: "x" });
  });

  it("does nothing where the page has no document (VS Code, a test page)", () => {
    expect(() => keepRecordsOnSave({ widget_manager: {} })).not.toThrow();
    expect(() => keepRecordsOnSave({})).not.toThrow();
  });
});
