import { describe, expect, it } from "vitest";
import cases from "../tests/widgets/format_cases.json";
import {
  attemptLabel,
  formatBytes,
  formatRowCounts,
  formatStats,
  formatCost,
  formatCounts,
  formatDuration,
  formatErrors,
  formatLineCounts,
  formatRate,
  phaseLabel,
  sendFailure,
  sendingPercent,
  sendingText,
} from "./lib/format.js";

// The same cases are checked against the Python formatter (tests/widgets/test_text.py).

describe("formatting shared with the Python text fallback", () => {
  it.each(cases.duration)("duration %s -> %s", (value, text) => expect(formatDuration(value)).toBe(text));
  it.each(cases.cost)("cost %s -> %s", (value, text) => expect(formatCost(value)).toBe(text));
  it.each(cases.rate)("rate %s -> %s", (value, text) => expect(formatRate(value)).toBe(text));
  it.each(cases.counts)("counts %j -> %s", ([completed, failed, total], text) =>
    expect(formatCounts({ completed, failed, total })).toBe(text),
  );
  it.each(cases.phase)("phase %s -> %s", (phase, text) => expect(phaseLabel(phase)).toBe(text));
  it.each(cases.attempt)("attempt %s (first retry %s) -> %s", (attempt, first, text) =>
    expect(attemptLabel(attempt, first)).toBe(text),
  );
  it.each(cases.line_counts)("line counts %j -> %s", (extra, text) => expect(formatLineCounts(extra)).toBe(text));
  it.each(cases.bytes)("bytes %s -> %s", (value, text) => expect(formatBytes(value)).toBe(text));
  it.each(cases.sending)("sending %j -> %s", (sending, text, failure) => {
    expect(sendingText(sending)).toBe(text);
    expect(sendFailure(sending)).toBe(failure);
  });
  it.each(cases.errors)("errors %j -> %s", (extra, text) => expect(formatErrors(extra)).toBe(text));
  it.each(cases.row_counts)("row counts %j -> %s", (rows, text) => expect(formatRowCounts(rows)).toBe(text));
  it.each(cases.stats)("stats %j -> %s", (snap, text) => expect(formatStats(snap).join(" · ")).toBe(text));
});

describe("upload percent", () => {
  const sent = { phase: "uploading", files_done: 0, files_total: 1, bytes_done: 67400, bytes_total: 67400 };
  it("stays below 100 while the service has not accepted every file", () => {
    expect(sendingPercent(sent)).toBe(99);
    expect(sendingPercent({ ...sent, files_done: 1 })).toBe(100);
    expect(sendingPercent({ ...sent, bytes_done: 33700 })).toBe(50);
  });
});
