// Saved notebooks keep each widget's static record in place of the widget.
//
// A notebook saved while a widget is live holds an output whose widget view names a model id.
// Reopened (trusted) without that kernel, JupyterLab's widget renderer looks the id up among
// the models of the notebook's widget state and, finding none, shows "Error displaying widget:
// model not found"; it never falls back to the output's text/html. The state is only saved
// when the user turned "Save Widget State Automatically" on, and then it holds the live
// widget, which would render its last snapshot with buttons that no longer work.
//
// So when the notebook is saved, each output of ours that shows a widget gets, under its model
// id in the notebook's widget state, an Output widget holding the output's own text/html and
// text/plain: the static record. Reopened, the renderer finds that model and shows the record;
// nbconvert and nbviewer render it from the same state (with the widget manager from a CDN:
// offline, an export needs the state cleared, see docs/front-ends.md).
//
// The kernel re-sends an output's text/html only now and then (each re-send redraws the
// widget), so a running job's widget also carries its record in a synced `record` trait, sent
// with every snapshot: `{ view model id: bundle }`. A save takes the record from there, as
// fresh as the progress on screen, and falls back to the output's own text/html. The saved
// outputs get the same fresh record as their text/html and text/plain, for readers that
// show those (an untrusted notebook, GitHub, an HTML export without the widget state).

const STATE = "application/vnd.jupyter.widget-state+json";
const VIEW = "application/vnd.jupyter.widget-view+json";
const MARK = 'data-testid="dw-'; // every static card of this package carries one
export const RECORD_CLASS = "dw-record";
const HOOKED = Symbol.for("dw-notebook.record-on-save");
// shared by every bundle of this package on the page (each bundle has its own copy of this file)
const LIVE = Symbol.for("dw-notebook.live-records");

const text = (value) => (Array.isArray(value) ? value.join("") : value);

/** Widget models whose `record` trait holds the records of their views. */
function liveModels() {
  globalThis[LIVE] ??= new Set();
  return globalThis[LIVE];
}

/** `{ view model id: bundle }` of every live widget model that carries records. */
export function liveRecords(models = liveModels()) {
  const records = {};
  for (const model of models) {
    const own = model.get?.("record");
    if (own && typeof own === "object") Object.assign(records, own);
  }
  return records;
}

/** The records to keep for the outputs of a notebook (nbformat JSON of each cell's outputs):
 * `{ model_id: widget state }` for every output showing a widget view with a card of ours,
 * taken from `live` (`{ model_id: bundle }`) when it has one for that view. */
export function recordsOf(outputLists, live = {}) {
  const records = {};
  for (const outputs of outputLists) {
    for (const output of outputs ?? []) {
      const data = output?.data ?? {};
      const id = data[VIEW]?.model_id;
      const html = text(data["text/html"]);
      if (!id || typeof html !== "string" || !html.includes(MARK)) continue;
      let bundle = { "text/html": html };
      if (typeof text(data["text/plain"]) === "string") bundle["text/plain"] = text(data["text/plain"]);
      if (typeof live[id]?.["text/html"] === "string") bundle = { ...live[id] };
      records[id] = {
        model_name: "OutputModel",
        model_module: "@jupyter-widgets/output",
        model_module_version: "1.0.0",
        state: {
          _dom_classes: [RECORD_CLASS],
          outputs: [{ output_type: "display_data", data: bundle, metadata: {} }],
        },
      };
    }
  }
  return records;
}

/** The notebook's widget state with ``records`` in it: records of earlier saves whose outputs
 * are gone are dropped, other widgets' state is kept as it is. */
export function withRecords(widgets, records) {
  const saved = widgets?.[STATE] ?? {};
  const state = {};
  for (const [id, model] of Object.entries(saved.state ?? {})) {
    if (!model?.state?._dom_classes?.includes?.(RECORD_CLASS)) state[id] = model;
  }
  Object.assign(state, records);
  return { ...(widgets ?? {}), [STATE]: { version_major: 2, version_minor: 0, ...saved, state } };
}

function cellOutputs(notebook) {
  const lists = [];
  for (const cell of notebook.cells ?? []) {
    const outputs = cell?.outputs?.toJSON?.();
    if (outputs?.length) lists.push(outputs);
  }
  return lists;
}

/** The nbformat JSON of a notebook with the text/html and text/plain of each output whose
 * widget view has a live record replaced by that record (changed in place, and returned). */
export function withFreshOutputs(json, live) {
  for (const cell of json?.cells ?? []) {
    for (const output of cell?.outputs ?? []) {
      const record = live[output?.data?.[VIEW]?.model_id];
      if (typeof record?.["text/html"] === "string") output.data = { ...output.data, ...record };
    }
  }
  return json;
}

// JupyterLab serialises the notebook with `model.toJSON()` right after "started". The outputs
// on screen keep their widget (changing their data would redraw it); only the saved copy
// takes the fresh records, through a one-save wrapper of toJSON on the model.
function freshenNextSerialisation(notebook, live) {
  if (Object.prototype.hasOwnProperty.call(notebook, "toJSON")) return; // a save in progress
  const own = notebook.toJSON;
  notebook.toJSON = function (...args) {
    delete notebook.toJSON;
    const json = own.apply(this, args);
    try {
      return withFreshOutputs(json, live);
    } catch (err) {
      console.error("dw-notebook: could not refresh the saved records", err);
      return json;
    }
  };
}

/** Once per notebook: on every save, write the records of this package's live outputs into
 * the notebook's widget state, and the running jobs' fresh records into the saved outputs.
 * Does nothing where the page is not a Jupyter document (the widget manager has no document
 * context, e.g. VS Code or a test page). */
export function keepRecordsOnSave(model) {
  if (model?.get?.("record") !== undefined) liveModels().add(model);
  const context = model?.widget_manager?.context;
  const notebook = context?.model;
  if (!context?.saveState?.connect || !notebook?.setMetadata || context[HOOKED]) return;
  context[HOOKED] = true;
  context.saveState.connect((_sender, phase) => {
    if (phase !== "started") {
      // a save that never serialised the model leaves no wrapper behind
      if (Object.prototype.hasOwnProperty.call(notebook, "toJSON")) delete notebook.toJSON;
      return;
    }
    try {
      const live = liveRecords();
      const records = recordsOf(cellOutputs(notebook), live);
      const widgets = notebook.getMetadata("widgets");
      if (Object.keys(live).length) freshenNextSerialisation(notebook, live);
      if (!Object.keys(records).length && !widgets) return;
      notebook.setMetadata("widgets", withRecords(widgets, records));
    } catch (err) {
      console.error("dw-notebook: could not keep the widget records in the notebook", err);
    }
  });
}
