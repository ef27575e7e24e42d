// Batch builder form: columns, prompt template with a live preview of one row (rendered by the
// kernel through a message round trip), model, completion window, max tokens, schema, kernel
// validation and cost estimate, "Try 10 rows first" (a pilot, optionally spread over a column),
// and a submit button. No secrets pass through this widget.
import "./common.css";
import "./builder.css";
import { debounce } from "./lib/debounce.js";
import { h, setText, mount } from "./lib/dom.js";
import { keepRecordsOnSave } from "./lib/record.js";
import { formatCount } from "./lib/format.js";

const DEBOUNCE_MS = 200;

function fillSelect(select, values, current) {
  const list = Array.isArray(values) ? values : [];
  const options = list.map((v) => h("option", { value: v }, v));
  if (current && !list.includes(current)) options.unshift(h("option", { value: current }, current));
  select.replaceChildren(...options);
  select.value = current ?? list[0] ?? "";
}

function render({ model, el }) {
  keepRecordsOnSave(model);
  let previewId = 0;

  const chips = h("div", { class: "dw-chips", "data-testid": "dw-columns" });
  const template = h("textarea", {
    class: "dw-textarea",
    rows: 6,
    spellcheck: "false",
    "data-testid": "dw-template",
    "aria-label": "Prompt template",
    placeholder: "Classify the sentiment of this review: {review}",
  });
  const modelSelect = h("select", { class: "dw-select", "data-testid": "dw-model" });
  const windowSelect = h("select", { class: "dw-select", "data-testid": "dw-window" });
  const maxTokens = h("input", {
    class: "dw-input",
    type: "number",
    min: 1,
    step: 1,
    placeholder: "default",
    "data-testid": "dw-max-tokens",
  });
  const pilot = h("input", { type: "checkbox", "data-testid": "dw-pilot" });
  const pilotBy = h("select", {
    class: "dw-select",
    "data-testid": "dw-pilot-by",
    "aria-label": "Spread the pilot rows over the values of a column",
  });
  const pilotBox = h(
    "div",
    { class: "dw-pilot-choice" },
    h("label", { class: "dw-check", title: "Send 10 rows first, look at their answers and measured cost, then proceed" }, pilot, " Try 10 rows first"),
    h("label", { class: "dw-check" }, "spread over ", pilotBy),
  );
  const schemaPre = h("pre", { class: "dw-schema-body dw-mono" });
  const schema = h(
    "details",
    { class: "dw-schema", "data-testid": "dw-schema" },
    h("summary", {}, "Response schema"),
    schemaPre,
  );
  const rowInput = h("input", {
    class: "dw-input dw-row-input",
    type: "number",
    min: 0,
    step: 1,
    "data-testid": "dw-row",
    "aria-label": "Row to preview",
  });
  const rowCount = h("span", { class: "dw-muted" });
  const rowLabel = h("span", { class: "dw-muted dw-mono", "data-testid": "dw-row-label" });
  const prev = h("button", { class: "dw-button", type: "button", title: "Previous row", "aria-label": "Previous row", "data-testid": "dw-row-prev" }, "‹");
  const next = h("button", { class: "dw-button", type: "button", title: "Next row", "aria-label": "Next row", "data-testid": "dw-row-next" }, "›");
  const preview = h("pre", { class: "dw-preview", "data-testid": "dw-preview" });
  const previewError = h("div", { class: "dw-preview-error", role: "alert", "data-testid": "dw-preview-error" });
  const messages = h("ul", { class: "dw-messages", "data-testid": "dw-validation" });
  const estimate = h("span", { class: "dw-estimate", "data-testid": "dw-estimate" });
  const submit = h("button", { class: "dw-button dw-button-primary", type: "button", "data-testid": "dw-submit" }, "Submit batch");
  const status = h("span", { class: "dw-muted", role: "status", "data-testid": "dw-status" });

  const field = (label, control) => h("label", { class: "dw-field" }, h("span", { class: "dw-field-label" }, label), control);

  const root = h(
    "div",
    { class: "dw-widget dw-builder", "data-testid": "dw-builder" },
    h(
      "div",
      { class: "dw-builder-grid" },
      h(
        "div",
        { class: "dw-builder-form" },
        h("div", { class: "dw-field" }, h("span", { class: "dw-field-label" }, "Columns (click to insert)"), chips),
        field("Prompt template", template),
        h("div", { class: "dw-inline-fields" }, field("Model", modelSelect), field("Window", windowSelect), field("Max tokens", maxTokens)),
        pilotBox,
        schema,
      ),
      h(
        "div",
        { class: "dw-builder-preview" },
        h("div", { class: "dw-preview-head" }, h("span", { class: "dw-field-label" }, "Preview of row"), prev, rowInput, next, rowCount, rowLabel),
        preview,
        previewError,
      ),
    ),
    messages,
    h("div", { class: "dw-footer" }, estimate, h("span", { class: "dw-spacer" }), status, submit),
  );
  mount(el, root);

  // -- form -> kernel ------------------------------------------------------------------------
  const requestPreview = debounce(() => {
    previewId += 1;
    model.send({ type: "preview", id: previewId, template: template.value, row: currentRow() });
  }, DEBOUNCE_MS);

  const syncTemplate = debounce(() => {
    model.set("template", template.value);
    model.save_changes();
  }, DEBOUNCE_MS);

  function currentRow() {
    const n = model.get("n_rows") ?? 0;
    const v = Math.trunc(Number(rowInput.value));
    if (!Number.isFinite(v) || n <= 0) return 0;
    return Math.min(Math.max(0, v), n - 1);
  }

  function setRow(row) {
    rowInput.value = String(row);
    const clamped = currentRow();
    rowInput.value = String(clamped);
    model.set("row", clamped);
    model.save_changes();
    requestPreview();
    requestPreview.flush();
  }

  function insertAtCursor(text) {
    const start = template.selectionStart ?? template.value.length;
    const end = template.selectionEnd ?? start;
    template.value = template.value.slice(0, start) + text + template.value.slice(end);
    template.focus();
    template.selectionStart = template.selectionEnd = start + text.length;
    onTemplateInput();
  }

  function onTemplateInput() {
    syncTemplate();
    requestPreview();
  }

  function form() {
    const tokens = maxTokens.value === "" ? null : Math.trunc(Number(maxTokens.value));
    return {
      template: template.value,
      model: modelSelect.value,
      window: windowSelect.value,
      max_tokens: Number.isFinite(tokens) ? tokens : null,
      pilot: pilot.checked,
      pilot_by: pilot.checked ? pilotBy.value : "",
      row: currentRow(),
    };
  }

  const listeners = [
    [template, "input", onTemplateInput],
    [rowInput, "change", () => setRow(currentRow())],
    [prev, "click", () => setRow(Math.max(0, currentRow() - 1))],
    [next, "click", () => setRow(currentRow() + 1)],
    [modelSelect, "change", () => { model.set("model", modelSelect.value); model.save_changes(); }],
    [windowSelect, "change", () => { model.set("window", windowSelect.value); model.save_changes(); }],
    [maxTokens, "change", () => { model.set("max_tokens", form().max_tokens); model.save_changes(); }],
    [pilot, "change", () => { model.set("pilot", pilot.checked); model.save_changes(); renderPilot(); }],
    [pilotBy, "change", () => { model.set("pilot_by", pilotBy.value); model.save_changes(); }],
    [submit, "click", () => {
      syncTemplate.flush();
      requestPreview.cancel();
      model.send({ type: "submit", form: form() });
      setText(status, "submitting…");
      submit.disabled = true;
    }],
  ];
  for (const [node, event, fn] of listeners) node.addEventListener(event, fn);

  // -- kernel -> form ------------------------------------------------------------------------
  function renderColumns() {
    const cols = model.get("columns") ?? [];
    chips.replaceChildren(
      ...cols.map((col) =>
        h(
          "button",
          { class: "dw-chip", type: "button", title: `insert {${col.name}}`, "data-column": col.name, onclick: () => insertAtCursor(`{${col.name}}`) },
          h("span", { class: "dw-chip-name" }, col.name),
          col.dtype ? h("span", { class: "dw-chip-type" }, col.dtype) : null,
        ),
      ),
    );
  }

  function renderPilot() {
    const cols = (model.get("columns") ?? []).map((c) => String(c.name));
    const by = model.get("pilot_by") ?? "";
    pilotBy.replaceChildren(h("option", { value: "" }, "the rows"), ...cols.map((c) => h("option", { value: c }, c)));
    pilotBy.value = cols.includes(by) ? by : "";
    pilot.checked = Boolean(model.get("pilot"));
    pilotBy.disabled = !pilot.checked;
  }

  function renderSchema() {
    const value = model.get("schema");
    const has = value && typeof value === "object" && Object.keys(value).length > 0;
    schema.hidden = !has;
    setText(schemaPre, has ? JSON.stringify(value, null, 2) : "");
  }

  function renderChoices() {
    fillSelect(modelSelect, model.get("models"), model.get("model"));
    fillSelect(windowSelect, model.get("windows"), model.get("window"));
    const tokens = model.get("max_tokens");
    maxTokens.value = tokens === null || tokens === undefined ? "" : String(tokens);
  }

  function renderRows() {
    const n = model.get("n_rows") ?? 0;
    rowInput.max = String(Math.max(0, n - 1));
    setText(rowCount, `of ${formatCount(n)}`);
    rowInput.value = String(model.get("row") ?? 0);
  }

  function renderValidation() {
    const list = Array.isArray(model.get("messages")) ? model.get("messages") : [];
    messages.replaceChildren(
      ...list.map((m) => h("li", { class: `dw-msg dw-msg-${["error", "warning"].includes(m.level) ? m.level : "info"}` }, m.text ?? "")),
    );
    messages.hidden = list.length === 0;
    setText(estimate, model.get("estimate") ?? "");
    const blocked = list.some((m) => m.level === "error") || !(model.get("template") ?? "").trim();
    dedupePreviewError();
    const state = model.get("submit_state") ?? "idle";
    submit.disabled = blocked || state === "submitting" || state === "submitted";
    setText(status, state === "submitting" ? "submitting…" : state === "submitted" ? "submitted" : "");
  }

  // The same error (e.g. an unknown column) can come from validation and from the preview:
  // show it once, in the validation list.
  function dedupePreviewError() {
    const text = previewError.textContent;
    const list = Array.isArray(model.get("messages")) ? model.get("messages") : [];
    previewError.hidden = !text || list.some((m) => m.text === text);
  }

  function renderTemplate() {
    const value = model.get("template") ?? "";
    if (template.value !== value && document.activeElement !== template) template.value = value;
  }

  const onMessage = (content) => {
    if (!content || content.type !== "preview" || content.id !== previewId) return;
    setText(preview, content.text ?? "");
    setText(rowLabel, content.label ? `(${content.label})` : "");
    setText(previewError, content.error ?? "");
    dedupePreviewError();
    preview.classList.toggle("dw-stale", Boolean(content.error));
  };

  const handlers = [
    ["change:columns", renderColumns],
    ["change:columns change:pilot change:pilot_by", renderPilot],
    ["change:schema", renderSchema],
    ["change:models change:model change:windows change:window change:max_tokens", renderChoices],
    ["change:n_rows change:row", renderRows],
    ["change:messages change:estimate change:submit_state", renderValidation],
    ["change:template", renderTemplate],
    ["msg:custom", onMessage],
  ];
  for (const [event, fn] of handlers) for (const e of event.split(" ")) model.on(e, fn);

  template.value = model.get("template") ?? "";
  previewError.hidden = true;
  renderColumns();
  renderPilot();
  renderSchema();
  renderChoices();
  renderRows();
  renderValidation();
  requestPreview();
  requestPreview.flush();

  return () => {
    requestPreview.cancel();
    syncTemplate.cancel();
    for (const [event, fn] of handlers) for (const e of event.split(" ")) model.off(e, fn);
    for (const [node, eventName, fn] of listeners) node.removeEventListener(eventName, fn);
    root.remove();
  };
}

export default { render };
