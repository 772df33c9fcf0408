/**
 * The daemon's side of the model registry (model/model_registry.ts): every retrained model is
 * stored there as a candidate (bundle with its training section and drift reference), and every
 * shadow verdict is written back — promoted (live) or rejected, with the reason and the shadow
 * metrics. The backtest never writes to a registry: its lifecycle is a what-if.
 *
 * Verdict writes are queued (one at a time, in event order) so the lifecycle's synchronous
 * event hook never waits on the disk; a failed write is reported through `onError` and the
 * running model is unaffected.
 */
import { writeBundle } from "../model/bundle.ts";
import { ModelRegistry } from "../model/model_registry.ts";
import type { GbdtModel } from "../model/tree.ts";
import type { LifecycleEvent, RetrainContext } from "./lifecycle.ts";
import type { RetrainConfig } from "./ml_config.ts";
import { retrainParams } from "./retrain.ts";
import { paramsToLightGbm } from "../model/train/params.ts";

/** Rejected versions whose bundle files are kept (older ones: the record only). */
export const KEEP_REJECTED = 20;

/** Reason prefix of promotions that came from the registry (not to be written back). */
export const REGISTRY_REASON = "registry:";

export class RegistrySync {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly cfg: RetrainConfig,
    private readonly onError: (e: Error) => void,
  ) {}

  /** The sync for the registry in `dir` (opened by resolveModel already). */
  static at(dir: string, cfg: RetrainConfig, onError: (e: Error) => void): RegistrySync {
    return new RegistrySync(ModelRegistry.at(dir), cfg, onError);
  }

  /**
   * Stores a retrained model as the next candidate version; its bundle carries the parent's
   * `training` section with this retrain's window and parameters (so a restart on it can
   * retrain again) and the PSI reference of its training rows.
   * @returns the registry version (e.g. "v4").
   */
  async registerRetrain(
    model: GbdtModel,
    ctx: RetrainContext,
    parentBundle: string | null,
  ): Promise<string> {
    const parentJson = parentBundle ? await readJson(`${parentBundle}.json`) : null;
    const parentMeta = parentJson as
      | { classes?: string[] | null; label?: { definition: string; horizonMs: number | null } }
      | null;
    const training = (parentJson as { training?: Record<string, unknown> } | null)?.training;
    const d = ctx.data;
    const first = d.numRows > 0 ? ctx.ts - this.cfg.trainWindowMs : ctx.ts;
    const window = { startMs: first, endMs: ctx.ts };
    // Every parameter the trainer ran with (defaults included), LightGBM names and spelling.
    const params = paramsToLightGbm(retrainParams(model.objective.name, this.cfg.params));
    const entry = await this.registry.register({
      write: async (base) => {
        const b = await writeBundle(base, model, {
          classes: parentMeta?.classes ?? null,
          label: parentMeta?.label ?? null,
          trainingWindow: window,
          source: `bitget-bot run retrain (${ctx.trigger}) of ${ctx.parent ?? "no model"}`,
          drift: ctx.reference.toJSON(),
        });
        if (training) {
          const t = {
            ...training,
            windows: {
              train: { ...window, rows: d.numRows },
              valid: { startMs: ctx.ts, endMs: ctx.ts, rows: 0 },
              gapMs: 0,
              purgedRows: 0,
            },
            params,
          };
          await Deno.writeTextFile(b.json, JSON.stringify({ ...b.meta, training: t }, null, 2));
        }
      },
    }, {
      parent: ctx.parent,
      origin: ctx.trigger,
      params,
      by: "daemon",
      reason: `retrained (${ctx.trigger}) on ${d.numRows} rows`,
    });
    return entry.version;
  }

  /** Path of a version's bundle (for the next retrain's parent section). */
  bundlePath(version: string): Promise<string> {
    return this.registry.bundlePath(version);
  }

  /** Writes a verdict back (queued; see module doc). */
  onEvent(e: LifecycleEvent): void {
    if (e.type !== "promoted" && e.type !== "rejected") return;
    if (e.reason.startsWith(REGISTRY_REASON)) return;
    const shadow = e.candidate || e.live ? { candidate: e.candidate, live: e.live } : null;
    this.queue = this.queue.then(async () => {
      if (e.type === "promoted") {
        await this.registry.promote(e.version, "daemon", e.reason);
        if (shadow) await this.registry.annotate(e.version, shadow, null);
      } else {
        await this.registry.reject(e.version, e.reason, shadow);
        await this.registry.pruneRejected(KEEP_REJECTED);
      }
    }).catch((err) => this.onError(err as Error));
  }

  /** Resolves when every queued write is done. */
  flush(): Promise<void> {
    return this.queue;
  }
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}
