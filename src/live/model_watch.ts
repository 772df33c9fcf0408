/**
 * Hot pickup of a registry promotion: `run` polls the registry's index (model/model_registry.ts)
 * every `pollMs` and, when its history gained a promote or rollback made by someone other than
 * the daemon (`bitget-bot model promote|rollback`, by "cli") and the live pointer names a version
 * the strategy is not trading, puts that version live (MlStrategy.adoptModel) without a restart.
 * The daemon's own promotions are not acted on (it trades them already), and a poll that reads
 * the index while the daemon's write is in flight finds no new entry. Reading the history rather
 * than comparing pointers means a hand change made between two polls right after one of the
 * daemon's is not missed. A version that cannot replace the running model (other features or
 * objective) is reported and the running model stays.
 */
import { ModelRegistry } from "../model/model_registry.ts";
import type { MlStrategy } from "../strategy/ml.ts";

export interface ModelWatchHooks {
  onAdopted(version: string, previous: string | null): void;
  onError(message: string): void;
}

/** Polls while running; stop() ends it (waits for a swap in progress). */
export class ModelWatch {
  private readonly registry: ModelRegistry;
  private timer: ReturnType<typeof setInterval> | undefined;
  private busy: Promise<void> | null = null;
  /** History entries already looked at (null until the first read). */
  private processed: number | null = null;

  constructor(
    dir: string,
    initialLive: string,
    private readonly strategy: MlStrategy,
    private readonly hooks: ModelWatchHooks,
    readonly pollMs = 2000,
  ) {
    this.registry = ModelRegistry.at(dir);
    void initialLive; // the strategy trades it; only later hand changes matter
    // The history as it stands at start is the baseline.
    this.busy = this.poll().finally(() => (this.busy = null));
    this.timer = setInterval(() => {
      if (!this.busy) this.busy = this.poll().finally(() => (this.busy = null));
    }, pollMs);
  }

  /** Resolves once the start-up read (the history baseline) is done. */
  async ready(): Promise<void> {
    await this.busy;
  }

  /** One poll (exposed for tests). */
  async poll(): Promise<void> {
    let idx;
    try {
      idx = await this.registry.read();
    } catch (e) {
      this.hooks.onError(`model registry unreadable: ${e instanceof Error ? e.message : e}`);
      return;
    }
    const from = this.processed;
    this.processed = idx.history.length;
    if (from === null || from >= idx.history.length) return; // first read, or a restored file
    const byHand = idx.history.slice(from).some((h) =>
      (h.action === "promote" || h.action === "rollback") && h.by !== "daemon"
    );
    if (!byHand) return;
    const live = idx.live;
    const current = this.strategy.modelVersion;
    if (!live || live === current) return;
    try {
      await this.strategy.adoptModel(live, await this.registry.bundlePath(live));
      this.hooks.onAdopted(live, current);
    } catch (e) {
      this.hooks.onError(
        `registry promoted ${live}; it was not put live: ${e instanceof Error ? e.message : e}`,
      );
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.busy;
  }
}
