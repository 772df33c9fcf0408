/**
 * Bounded label values for the bot's Prometheus metrics. Every label value passes through
 * `LabelGuard.value` before it reaches a series: control characters become `_`, the value is
 * cut to `MAX_LABEL_LENGTH` characters, an empty one reads `unknown`, and once one label of one
 * metric has seen `maxValues` distinct values, further new values fold into `other` (so a caller
 * that passes an order id by mistake grows a series count of at most `maxValues`, not one per
 * order). Every fold is counted by the `onOverflow` callback.
 */

/** Longest label value kept (characters); longer values are cut. */
export const MAX_LABEL_LENGTH = 64;

/** The value new label values fold into once a label is full. */
export const OVERFLOW_VALUE = "other";

/** Distinct values one label of one metric keeps by default. */
export const DEFAULT_MAX_LABEL_VALUES = 100;

/**
 * An endpoint label from a REST path or URL: the path only, without scheme, host, query or
 * fragment (`https://api.bitget.com/api/v2/mix/order/detail?orderId=1` →
 * `/api/v2/mix/order/detail`), so query parameters such as order ids never become label values.
 */
export function endpointLabel(pathOrUrl: string): string {
  const noOrigin = pathOrUrl.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, "");
  const path = noOrigin.split(/[?#]/, 1)[0];
  return path === "" ? "/" : path;
}

export class LabelGuard {
  private readonly seen = new Map<string, Set<string>>();

  /**
   * @param maxValues distinct values kept per (metric, label); further new values read `other`
   * @param onOverflow called with the metric name each time a value is folded into `other`
   */
  constructor(
    private readonly maxValues = DEFAULT_MAX_LABEL_VALUES,
    private readonly onOverflow: (metric: string) => void = () => {},
  ) {}

  /** The label value to record for `raw` as `label` of `metric` (sanitised and bounded). */
  value(metric: string, label: string, raw: string | number): string {
    // deno-lint-ignore no-control-regex
    let v = String(raw).replace(/[\u0000-\u001f\u007f]/g, "_").trim();
    if (v.length > MAX_LABEL_LENGTH) v = v.slice(0, MAX_LABEL_LENGTH);
    if (v === "") v = "unknown";
    const key = `${metric}\u0000${label}`;
    let set = this.seen.get(key);
    if (set === undefined) this.seen.set(key, set = new Set());
    if (set.has(v)) return v;
    if (set.size >= this.maxValues) {
      this.onOverflow(metric);
      return OVERFLOW_VALUE;
    }
    set.add(v);
    return v;
  }

  /** Forgets the values seen for every label of `metric` (after its series were reset). */
  forget(metric: string): void {
    for (const key of this.seen.keys()) {
      if (key.startsWith(`${metric}\u0000`)) this.seen.delete(key);
    }
  }
}
