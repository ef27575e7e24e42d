// Tiny DOM builder. Text always goes in as textContent, so data from the kernel is never
// parsed as HTML.

const CONTROLS = new Set(["input", "select", "textarea", "button", "summary"]);

/**
 * h("div", { class: "x", "data-testid": "y", onclick: fn }, "text", child)
 * Attributes starting with "on" become event listeners; strings and numbers become text nodes.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  // JupyterLab and Notebook 7 match their shortcuts from the key's target up and stop at an
  // element with this mark: on the control itself, the arrow keys move a select's option and
  // Enter presses a button, instead of moving or editing the notebook's active cell
  if (CONTROLS.has(tag)) node.setAttribute("data-lm-suppress-shortcuts", "true");
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "text") {
      node.textContent = String(value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Set text only when it changed (keeps MutationObserver histories meaningful). */
export function setText(node, text) {
  const value = text === undefined || text === null ? "" : String(text);
  if (node.textContent !== value) node.textContent = value;
}

/** Put a widget's root into anywidget's element, marked like our controls (see h). */
export function mount(el, root) {
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  el.append(root);
}

/** Words between two elements shown side by side (a name and its badge), for screen readers
 * only: without them the two are read as one word. */
export function separator(text = ", ") {
  return h("span", { class: "dw-sr-only" }, text);
}
