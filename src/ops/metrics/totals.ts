/**
 * Turns cumulative tallies (a feed's frames so far, a writer's rows so far) into counter
 * increments: `delta(key, total)` is what `total` grew by since the last call with `key`. A total
 * that went down means its source restarted (a respawned ingest worker counts from 0 again): the
 * new total is then all new, so a Prometheus counter never decreases and loses nothing.
 */
export class Totals {
  private readonly last = new Map<string, number>();

  /** Increment of `total` since the previous call for `key` (the whole total on the first call). */
  delta(key: string, total: number): number {
    if (!Number.isFinite(total) || total < 0) return 0;
    const prev = this.last.get(key) ?? 0;
    this.last.set(key, total);
    return total >= prev ? total - prev : total;
  }
}
