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
