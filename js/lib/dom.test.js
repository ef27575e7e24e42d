import { describe, expect, it } from "vitest";
import { h, mount } from "./dom.js";

describe("keys inside our widgets stay ours", () => {
  it("marks every control so JupyterLab skips its shortcuts for keys pressed on it", () => {
    for (const tag of ["input", "select", "textarea", "button", "summary"]) {
      expect(h(tag).getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    }
    expect(h("div").hasAttribute("data-lm-suppress-shortcuts")).toBe(false);
  });

  it("marks the widget's own element when mounting its root", () => {
    const el = document.createElement("div");
    const root = h("div", { "data-testid": "root" });
    mount(el, root);
    expect(el.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    expect(el.firstChild).toBe(root);
  });
});
