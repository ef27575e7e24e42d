import { describe, expect, it } from "vitest";
import widget, { statsText } from "./autobatch.js";
import { byId, fakeModel, widgetHost } from "./testing.js";

const host = widgetHost(widget);

describe("autobatch widget", () => {
  it("shows queued, in flight, answered, failed and cost, and follows changes", () => {
    const model = fakeModel({ stats: { name: "nightly", window: "24h", queued: 5, sending: 2, in_flight_batches: 2, in_flight_calls: 2000, answered: 10, failed: 1, cost_usd: 0.5 } });
    host.render(model);
    expect(byId(host.el, "dw-ab-queued").textContent).toBe("7");
    expect(byId(host.el, "dw-ab-in_flight").textContent).toBe("2 batches (2,000 calls)");
    expect(byId(host.el, "dw-ab-failed").textContent).toBe("1");
    expect(byId(host.el, "dw-ab-title").textContent).toContain("nightly");
    model.set("stats", { ...model.get("stats"), answered: 2010, in_flight_batches: 0, in_flight_calls: 0 });
    expect(byId(host.el, "dw-ab-answered").textContent).toBe("2,010");
    expect(byId(host.el, "dw-ab-in_flight").textContent).toBe("0 batches (0 calls)");
  });

  it("escapes an error message from the service", () => {
    const evil = '<img src=x onerror="alert(1)">';
    host.render(fakeModel({ stats: { last_error: evil } }));
    expect(byId(host.el, "dw-ab-error").textContent).toBe(`last error: ${evil}`);
    expect(host.el.querySelector("img")).toBeNull();
  });

  it("says unknown for a cost without a price", () => {
    expect(statsText({}).cost).toBe("unknown");
  });
});
