/**
 * The model registry: every bundle the project trained or was given, and which one trades.
 *
 * Layout (files, not a database table: bundles are files already — ONNX bytes with their
 * SHA-256 in the JSON — and `train`, `backtest` and `run` each use one without sharing a
 * database; a registry folder can be copied, diffed or rsync'd to another host as it is):
 *
 *   models/registry/index.json         versions, the live pointer, the history of changes
 *   models/registry/v<N>/<name>.json   the bundle (bundle.ts), hash-checked when read
 *   models/registry/v<N>/<name>.onnx   (+ <name>.raw.onnx for classifiers)
 *
 * Every change is a read-modify-write of index.json under `index.lock` (created exclusively;
 * one older than LOCK_STALE_MS is taken as left by a killed process), written to a temporary
 * file then renamed, so a reader never sees half an index and a SIGKILL loses at most the
 * change in flight. Bundles are written before the index names them.
 *
 * Statuses: `live` (at most one: the one `run` trades), `candidate` (registered, not yet
 * promoted: a retrain in shadow, or a bundle registered by hand), `rejected` (lost its shadow
 * comparison, with the reason), `retired` (was live, replaced). `promote` makes any version live
 * (a rejected one too: the user overrides the verdict, and the history says so); `rollback`
 * makes the version live again that was live before the current one.
 */
import { z } from "zod";
import { BundleError, bundlePaths, readBundle, readBundleMeta, sha256Hex } from "./bundle.ts";

/** A registry that cannot be read or changed (missing, corrupt, unknown version, lock held). */
export class RegistryError extends Error {
  override name = "RegistryError";
}

export const REGISTRY_FILE = "index.json";
const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

const StatusSchema = z.enum(["live", "candidate", "rejected", "retired"]);
export type ModelStatus = z.infer<typeof StatusSchema>;

const EntrySchema = z.object({
  version: z.string().regex(/^v\d+$/),
  /** Version this one was retrained from (null: trained or imported outside the daemon). */
  parent: z.string().nullable(),
  status: StatusSchema,
  /** Bundle path relative to the registry folder, without extension (`v3/model`). */
  bundle: z.string(),
  registeredAt: z.string(),
  /** What made it: "register" (by hand), or the retrain trigger (schedule, drift, decay). */
  origin: z.string(),
  source: z.string().nullable(),
  trainingWindow: z.object({ startMs: z.number(), endMs: z.number() }).nullable(),
  /** Feature set: the names' count and a SHA-256 of "name,name,…" (full list in the bundle). */
  features: z.object({ count: z.number().int(), sha256: z.string() }),
  objective: z.string(),
  /** Trainer parameters (LightGBM names), when known. */
  params: z.record(z.union([z.string(), z.number(), z.boolean()])),
  validationMetrics: z.record(z.number()),
  onnxSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Why it has its status (the shadow verdict, "promoted by hand", …). */
  reason: z.string().nullable(),
  /** Shadow metrics of the verdict (candidate and live), when one was made. */
  shadow: z.record(z.unknown()).nullable(),
  /** The bundle's files were deleted by {@link ModelRegistry.pruneRejected}; the record stays. */
  pruned: z.boolean().optional(),
});
export type RegistryEntry = z.infer<typeof EntrySchema>;

const HistorySchema = z.object({
  ts: z.string(),
  action: z.enum(["register", "promote", "reject", "rollback"]),
  version: z.string(),
  /** The version live before (promote, rollback). */
  previous: z.string().nullable(),
  /** Who: "cli" (bitget-bot model …) or "daemon" (run's lifecycle). */
  by: z.string(),
  reason: z.string().nullable(),
});
export type RegistryHistoryEntry = z.infer<typeof HistorySchema>;

export const RegistryIndexSchema = z.object({
  format: z.literal("bitget-bot-model-registry"),
  formatVersion: z.literal(1),
  live: z.string().nullable(),
  versions: z.array(EntrySchema),
  history: z.array(HistorySchema),
});
export type RegistryIndex = z.infer<typeof RegistryIndexSchema>;

/** What {@link ModelRegistry.register} records beside the bundle's own metadata. */
export interface RegisterInfo {
  parent?: string | null;
  origin?: string;
  params?: Record<string, string | number | boolean>;
  by?: string;
  reason?: string | null;
  /** Make it live at once (history: register then promote). */
  promote?: boolean;
}

function emptyIndex(): RegistryIndex {
  return {
    format: "bitget-bot-model-registry",
    formatVersion: 1,
    live: null,
    versions: [],
    history: [],
  };
}

export class ModelRegistry {
  private constructor(readonly dir: string) {}

  /**
   * Opens the registry in `dir`. `create`: make the folder and an empty index when missing.
   * @throws RegistryError when there is no registry there (and not `create`), or it is corrupt.
   */
  static async open(dir: string, opts: { create?: boolean } = {}): Promise<ModelRegistry> {
    const r = new ModelRegistry(dir.replace(/\/+$/, "") || "/");
    if (await ModelRegistry.isRegistry(r.dir)) {
      await r.read(); // validates
      return r;
    }
    if (!opts.create) {
      throw new RegistryError(`${r.dir}: no model registry (${REGISTRY_FILE} missing)`);
    }
    await Deno.mkdir(r.dir, { recursive: true });
    await r.withLock(async () => {
      if (!(await ModelRegistry.isRegistry(r.dir))) await r.write(emptyIndex());
    });
    return r;
  }

  /** The registry in `dir`, not checked (open() validates); for synchronous set-up. */
  static at(dir: string): ModelRegistry {
    return new ModelRegistry(dir.replace(/\/+$/, "") || "/");
  }

  /** True when `path` is a folder holding a registry index. */
  static async isRegistry(path: string): Promise<boolean> {
    try {
      return (await Deno.stat(`${path.replace(/\/+$/, "")}/${REGISTRY_FILE}`)).isFile;
    } catch {
      return false;
    }
  }

  get indexPath(): string {
    return `${this.dir}/${REGISTRY_FILE}`;
  }

  /** Reads and validates the index. @throws RegistryError */
  async read(): Promise<RegistryIndex> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.indexPath);
    } catch (e) {
      throw new RegistryError(
        `cannot read ${this.indexPath}: ${e instanceof Error ? e.message : e}`,
      );
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new RegistryError(
        `${this.indexPath} is not valid JSON: ${e instanceof Error ? e.message : e}`,
      );
    }
    const r = RegistryIndexSchema.safeParse(obj);
    if (!r.success) {
      const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
      throw new RegistryError(
        `${this.indexPath} is not a valid registry:\n  ${issues.join("\n  ")}`,
      );
    }
    return r.data;
  }

  /** Bundle path (for readBundle / Scorer.load) of `version`. @throws RegistryError */
  async bundlePath(version: string): Promise<string> {
    return `${this.dir}/${this.entry(await this.read(), version).bundle}`;
  }

  /** The live version and its bundle path, or null when none is live. */
  async live(): Promise<{ version: string; bundle: string } | null> {
    const idx = await this.read();
    if (!idx.live) return null;
    return { version: idx.live, bundle: `${this.dir}/${this.entry(idx, idx.live).bundle}` };
  }

  /**
   * Adds a bundle as the next version: copies its files (hash-checked) into `v<N>/`, or, with
   * `write`, lets the caller write the bundle at the given base path (the daemon's retrains).
   * @returns the new entry.
   * @throws BundleError for a bad bundle, RegistryError for a registry problem.
   */
  async register(
    src: string | { write: (base: string) => Promise<void> },
    info: RegisterInfo = {},
  ): Promise<RegistryEntry> {
    // The version number is taken under the lock; the files are written first, into a folder
    // named for it, so an index never names a bundle that is not complete.
    return await this.withLock(async () => {
      const idx = await this.read();
      const n = 1 + idx.versions.reduce((m, e) => Math.max(m, Number(e.version.slice(1))), 0);
      const version = `v${n}`;
      const folder = `${this.dir}/${version}`;
      await Deno.remove(folder, { recursive: true }).catch(() => {});
      await Deno.mkdir(folder, { recursive: true });
      let base: string;
      if (typeof src === "string") {
        const p = bundlePaths(src);
        const meta = await readBundleMeta(src);
        base = `${folder}/${p.name}`;
        const from = p.base.slice(0, p.base.length - p.name.length);
        for (const f of [meta.onnx.file, meta.rawOnnx?.file].filter((x): x is string => !!x)) {
          await Deno.copyFile(`${from}${f}`, `${folder}/${f}`);
        }
        await Deno.copyFile(p.json, `${base}.json`);
      } else {
        base = `${folder}/model`;
        await src.write(base);
      }
      // The hash check of the copy (or of the bundle just written).
      const { meta } = await readBundle(base);
      const training = await trainingOf(base);
      const now = new Date().toISOString();
      const entry: RegistryEntry = {
        version,
        parent: info.parent ?? null,
        status: "candidate",
        bundle: base.slice(this.dir.length + 1),
        registeredAt: now,
        origin: info.origin ?? "register",
        source: meta.source,
        trainingWindow: meta.trainingWindow,
        features: {
          count: meta.featureNames.length,
          sha256: await sha256Hex(new TextEncoder().encode(meta.featureNames.join(","))),
        },
        objective: meta.objective.name,
        params: info.params ?? training?.params ?? {},
        validationMetrics: meta.validationMetrics,
        onnxSha256: meta.onnx.sha256,
        reason: info.reason ?? null,
        shadow: null,
      };
      idx.versions.push(entry);
      const by = info.by ?? "cli";
      idx.history.push({
        ts: now,
        action: "register",
        version,
        previous: null,
        by,
        reason: entry.reason,
      });
      if (info.promote) {
        this.makeLive(idx, version, "promote", by, info.reason ?? "promoted on register");
      }
      await this.write(idx);
      return idx.versions[idx.versions.length - 1];
    });
  }

  /**
   * Makes `version` live (the previous live one becomes retired). A running daemon picks it up
   * at its next poll (live/model_watch.ts). @returns the version live before.
   */
  async promote(version: string, by = "cli", reason: string | null = null): Promise<string | null> {
    return await this.change((idx) =>
      this.makeLive(
        idx,
        version,
        "promote",
        by,
        reason ?? (by === "cli" ? "promoted by hand" : null),
      )
    );
  }

  /** Marks a candidate rejected with the reason and shadow metrics of the verdict. */
  async reject(
    version: string,
    reason: string,
    shadow: Record<string, unknown> | null = null,
    by = "daemon",
  ): Promise<void> {
    await this.change((idx) => {
      const e = this.entry(idx, version);
      if (e.status === "live") {
        throw new RegistryError(`${version} is live: promote another version first`);
      }
      e.status = "rejected";
      e.reason = reason;
      e.shadow = shadow;
      idx.history.push({
        ts: new Date().toISOString(),
        action: "reject",
        version,
        previous: null,
        by,
        reason,
      });
      return null;
    });
  }

  /** Records a verdict's shadow metrics on `version` (kept beside its status). */
  async annotate(
    version: string,
    shadow: Record<string, unknown> | null,
    reason: string | null,
  ): Promise<void> {
    await this.change((idx) => {
      const e = this.entry(idx, version);
      e.shadow = shadow;
      if (reason !== null) e.reason = reason;
      return null;
    });
  }

  /**
   * Deletes the bundle files of all but the newest `keep` rejected versions (their entries stay,
   * marked `pruned`, with the verdict's reason and metrics): a daemon retraining every 15 min
   * rejects up to 96 models a day. Live, retired (rollback targets) and candidate versions are
   * never touched.
   * @returns the versions pruned now.
   */
  async pruneRejected(keep: number): Promise<string[]> {
    const gone: string[] = [];
    await this.change((idx) => {
      const rejected = idx.versions.filter((v) => v.status === "rejected" && !v.pruned);
      for (const v of rejected.slice(0, Math.max(0, rejected.length - keep))) {
        v.pruned = true;
        gone.push(v.version);
      }
      return null;
    });
    // Files go after the index says so: a crash in between leaves files nobody names, not a
    // name without files.
    for (const v of gone) {
      await Deno.remove(`${this.dir}/${v}`, { recursive: true }).catch(() => {});
    }
    return gone;
  }

  /**
   * Makes the version live again that was live before the current one (the `previous` of the
   * promotion that made the current one live). @returns { from, to }.
   * @throws RegistryError when nothing is live or there is no earlier live version.
   */
  async rollback(by = "cli"): Promise<{ from: string; to: string }> {
    let out = { from: "", to: "" };
    await this.change((idx) => {
      const cur = idx.live;
      if (!cur) throw new RegistryError("nothing is live: nothing to roll back");
      const made = [...idx.history].reverse().find((h) =>
        (h.action === "promote" || h.action === "rollback") && h.version === cur
      );
      const to = made?.previous;
      if (!to) throw new RegistryError(`${cur} has no earlier live version to roll back to`);
      this.makeLive(idx, to, "rollback", by, `rolled back from ${cur}`);
      out = { from: cur, to };
      return null;
    });
    return out;
  }

  private makeLive(
    idx: RegistryIndex,
    version: string,
    action: "promote" | "rollback",
    by: string,
    reason: string | null,
  ): string | null {
    const e = this.entry(idx, version);
    if (e.pruned) throw new RegistryError(`${version} was pruned (its bundle files are deleted)`);
    const previous = idx.live;
    if (previous === version) return previous;
    if (previous) this.entry(idx, previous).status = "retired";
    const overridden = e.status === "rejected" ? ` (overriding its rejection: ${e.reason})` : "";
    e.status = "live";
    if (reason !== null) e.reason = reason + overridden;
    idx.live = version;
    idx.history.push({
      ts: new Date().toISOString(),
      action,
      version,
      previous,
      by,
      reason: e.reason,
    });
    return previous;
  }

  private entry(idx: RegistryIndex, version: string): RegistryEntry {
    const e = idx.versions.find((v) => v.version === version);
    if (!e) {
      const known = idx.versions.map((v) => v.version).join(", ") || "none";
      throw new RegistryError(`no version ${version} in ${this.dir} (versions: ${known})`);
    }
    return e;
  }

  private async change<T>(fn: (idx: RegistryIndex) => T): Promise<T> {
    return await this.withLock(async () => {
      const idx = await this.read();
      const out = fn(idx);
      await this.write(idx);
      return out;
    });
  }

  private async write(idx: RegistryIndex): Promise<void> {
    const tmp = `${this.indexPath}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(idx, null, 2) + "\n");
    await Deno.rename(tmp, this.indexPath);
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = `${this.dir}/index.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        (await Deno.open(lock, { createNew: true, write: true })).close();
        break;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
        const st = await Deno.stat(lock).catch(() => null);
        if (st?.mtime && Date.now() - st.mtime.getTime() > LOCK_STALE_MS) {
          await Deno.remove(lock).catch(() => {});
          continue;
        }
        if (Date.now() > deadline) {
          throw new RegistryError(`${lock} is held by another process (remove it if none runs)`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    try {
      return await fn();
    } finally {
      await Deno.remove(lock).catch(() => {});
    }
  }
}

/** The bundle's `training` section params, if it has one (read loosely: imports have none). */
async function trainingOf(base: string): Promise<{ params: Record<string, string> } | null> {
  try {
    const j = JSON.parse(await Deno.readTextFile(`${base}.json`));
    const p = j?.training?.params;
    return p && typeof p === "object" ? { params: p } : null;
  } catch (e) {
    throw new BundleError(`cannot read ${base}.json: ${e instanceof Error ? e.message : e}`);
  }
}
