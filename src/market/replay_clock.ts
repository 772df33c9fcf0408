/**
 * Receive lag (receive time − exchange push time, ms) against a replayed recording: the pushes
 * carry the recording's old exchange times, so the raw lag is the recording's age (days), not
 * feed lag. When the first sample's offset exceeds {@link REPLAY_OFFSET_MS} the clock is taken as
 * a replay of the past and every later lag is reported relative to that first offset.
 */

/** Offsets above this (ms) mean the exchange clock is a replay of the past (simulator). */
export const REPLAY_OFFSET_MS = 10 * 60_000;

/** Turns raw lag samples into feed lag (see module doc). */
export class LagClock {
  private offset0 = NaN;

  /** True once the first sample showed a replayed exchange clock. */
  get replayed(): boolean {
    return Math.abs(this.offset0) > REPLAY_OFFSET_MS;
  }

  /** Feed lag (ms) of one raw sample `recvTs − exchangeTs`. */
  lag(rawMs: number): number {
    if (Number.isNaN(this.offset0)) this.offset0 = rawMs;
    return this.replayed ? rawMs - this.offset0 : rawMs;
  }
}
