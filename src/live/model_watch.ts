/**
 * Hot pickup of a registry promotion: `run` polls the registry's index (model/model_registry.ts)
 * every `pollMs` and, when its live pointer moves to a version the strategy is not trading, puts
 * that version live (MlStrategy.adoptModel) without a restart. Only a *change* of the pointer
 * acts: the daemon's own promotions move it to the version already trading, and a poll that
 * reads the index while the daemon's write is in flight sees the old pointer, which is not a
 * change. A version that cannot replace the running model (other features or objective) is
 * reported and the running model stays.
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
  private seen: string | null;

  constructor(
    dir: string,
    initialLive: string,
    private readonly strategy: MlStrategy,
    private readonly hooks: ModelWatchHooks,
    readonly pollMs = 2000,
  ) {
    this.registry = ModelRegistry.at(dir);
    this.seen = initialLive;
    this.timer = setInterval(() => {
      if (!this.busy) this.busy = this.poll().finally(() => (this.busy = null));
    }, pollMs);
  }

  /** One poll (exposed for tests). */
  async poll(): Promise<void> {
    let live: string | null;
    try {
      live = (await this.registry.read()).live;
    } catch (e) {
      this.hooks.onError(`model registry unreadable: ${e instanceof Error ? e.message : e}`);
      return;
    }
    if (live === this.seen) return;
    this.seen = live;
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
