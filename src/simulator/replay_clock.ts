/**
 * The simulator's one market clock, shared by all connections, as a real exchange has one: a
 * connection that subscribes (or reconnects) mid-stream joins at the current position and gets
 * fresh snapshots — it does not see the recording again from its start.
 *
 * Finite speed: the clock starts at the first subscribe on any connection (wall time T0); frame i
 * is due at T0 + (recv_i − recv_0) / speed for every connection. Speed "max": there is no wall
 * mapping and each connection streams as fast as its own socket drains, so connections opened
 * together (shards) all start at frame 0, and a connection opened after another one was lost
 * (a reconnect) resumes where the furthest lost connection had got to.
 */
export class ReplayClock {
  private t0 = -1;
  /** Speed max: furthest cursor of a lost connection. */
  private highWater = 0;

  constructor(private readonly recvMs: Float64Array | number[], readonly speed: number | "max") {}

  /** Wall time (performance.now ms) at which frame 0 was due; starts the clock on first call. */
  start(): number {
    if (this.t0 < 0) this.t0 = performance.now();
    return this.t0;
  }

  /** Index of the first frame not yet due: where a connection joining now begins. */
  joinIndex(): number {
    if (this.t0 < 0) return 0;
    if (this.speed === "max") return this.highWater;
    const n = this.recvMs.length;
    const due = this.recvMs[0] + (performance.now() - this.t0) * this.speed;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.recvMs[mid] <= due) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Records that a connection ended having been sent everything before `cursor`. */
  connectionLost(cursor: number): void {
    if (cursor > this.highWater) this.highWater = cursor;
  }
}
