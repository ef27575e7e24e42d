// Bar lengths of the review's charts: every bar of every chart on one scale, so a longer bar
// always means a larger count (148 and 116 look different even in two charts side by side).

/** The largest count any chart draws (its labels, "other", "(missing)", histogram bins); 1 at least. */
export function sharedMax(distributions = [], histograms = []) {
  const counts = [];
  for (const d of distributions) {
    for (const v of Array.isArray(d.values) ? d.values : []) counts.push(v.count);
    counts.push(d.other ?? 0, d.missing ?? 0);
  }
  for (const hist of histograms) {
    for (const b of Array.isArray(hist.bins) ? hist.bins : []) counts.push(b.count);
  }
  return Math.max(1, ...counts.filter(Number.isFinite));
}

/** A bar's length as a percentage of its track, for `count` on a scale whose end is `max`. */
export function barPercent(count, max) {
  if (!Number.isFinite(count) || count <= 0) return 0;
  return Math.min(100, (100 * count) / Math.max(1, max));
}
