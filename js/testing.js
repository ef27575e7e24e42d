import { afterEach, beforeEach, vi } from "vitest";

// Test helpers: a fake anywidget model with the subset of the API the widgets use, and lookups.

/** The element under `el` with this data-testid. */
export const byId = (el, id) => el.querySelector(`[data-testid="${id}"]`);

/** A model whose state is a plain object; `sent` records messages to the kernel. */
export function fakeModel(initial = {}) {
  const state = { ...initial };
  const handlers = new Map();
  const sent = [];
  let saves = 0;
  return {
    sent,
    get saves() {
      return saves;
    },
    get(key) {
      return state[key];
    },
    set(key, value) {
      state[key] = value;
      for (const fn of handlers.get(`change:${key}`) ?? []) fn();
    },
    on(event, fn) {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event).add(fn);
    },
    off(event, fn) {
      if (fn) handlers.get(event)?.delete(fn);
      else handlers.delete(event);
    },
    save_changes() {
      saves += 1;
    },
    send(content, callbacks, buffers) {
      sent.push(buffers === undefined ? content : { content, buffers });
    },
    /** Deliver a custom message from the kernel to the front end. */
    receive(content, buffers = []) {
      for (const fn of handlers.get("msg:custom") ?? []) fn(content, buffers);
    },
    listenerCount(event) {
      return handlers.get(event)?.size ?? 0;
    },
  };
}

/**
 * A fresh element per test to render `widget` into, removed with its cleanup after the test.
 * `host.render(model)` renders; `host.unmount()` runs the widget's cleanup early.
 */
export function widgetHost(widget, { fakeTimers = false, now } = {}) {
  const host = {
    el: null,
    cleanup: undefined,
    render(model) {
      host.cleanup = widget.render({ model, el: host.el });
      return model;
    },
    unmount() {
      host.cleanup?.();
      host.cleanup = undefined;
    },
  };
  beforeEach(() => {
    if (fakeTimers) vi.useFakeTimers();
    if (now !== undefined) vi.setSystemTime(now);
    host.el = document.createElement("div");
    document.body.append(host.el);
  });
  afterEach(() => {
    host.unmount();
    host.el.remove();
    vi.useRealTimers();
  });
  return host;
}

/**
 * The name a screen reader announces for a control, in the order the accessible-name rules
 * use: aria-label, aria-labelledby, a wrapping <label>, a button's text, the title.
 */
export function accessibleName(control) {
  const aria = control.getAttribute("aria-label");
  if (aria) return aria.trim();
  const by = control.getAttribute("aria-labelledby");
  if (by) return by.split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? "").join(" ").trim();
  const label = control.closest("label") ?? (control.id ? document.querySelector(`label[for="${control.id}"]`) : null);
  if (label) return label.textContent.trim();
  if (control.tagName === "BUTTON" || control.tagName === "SUMMARY" || control.tagName === "A") {
    const text = control.textContent.trim();
    if (text) return text;
  }
  return (control.getAttribute("title") ?? "").trim();
}

/** The controls under `el` whose announced name is not words (empty, or a glyph such as ‹ › ✕ ▸). */
export function unnamedControls(el) {
  const glyph = /[‹›«»✕✖×▸▾▴▹◂←→↑↓]/;
  return [...el.querySelectorAll("button, select, input, textarea, a[href], summary")]
    .map((c) => ({ html: c.outerHTML.slice(0, 160), name: accessibleName(c) }))
    .filter(({ name }) => !/[A-Za-z]{2,}/.test(name) || glyph.test(name));
}
