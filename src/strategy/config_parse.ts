/**
 * Validation of a strategy's config section with readable errors: the zod schema first (types,
 * ranges, unknown fields), then the module's cross-field rules (e.g. adxRange ≤ adxTrend), both
 * reported as one StrategyConfigError naming each field, the value given and what was expected —
 * the same style as `parseConfig` (src/config/config.ts). config.ts imports the strategy schemas,
 * so this file must not import config.ts (an import cycle would leave a schema undefined while
 * config.ts evaluates); hence its own error class.
 */
import type { z } from "zod";

/** A strategy or scanner config that is invalid (message lists every bad field). */
export class StrategyConfigError extends Error {
  override name = "StrategyConfigError";
}

/** A cross-field rule violation: dotted field path and what is expected. */
export interface ConfigProblem {
  field: string;
  message: string;
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

/** Throws StrategyConfigError `<where>: invalid configuration` listing `problems` (no-op when empty). */
export function throwProblems(where: string, cfg: unknown, problems: ConfigProblem[]): void {
  if (problems.length === 0) return;
  const lines = problems.map((p) =>
    `${p.field}: got ${describe(valueAt(cfg, p.field.split(".")))}: ${p.message}`
  );
  throw new StrategyConfigError(`${where}: invalid configuration\n  ${lines.join("\n  ")}`);
}

/**
 * Parses `raw` (undefined/null = all defaults) with `schema`, then runs `rules` on the result.
 * @throws StrategyConfigError naming every bad field (schema issues, then rule problems).
 */
export function parseStrategyConfig<S extends z.ZodTypeAny>(
  schema: S,
  raw: unknown,
  where: string,
  rules: (cfg: z.infer<S>) => ConfigProblem[],
): z.infer<S> {
  const input = raw ?? {};
  const res = schema.safeParse(input);
  if (!res.success) {
    const lines = res.error.issues.map((i: z.ZodIssue) => {
      const field = i.path.join(".") || "(root)";
      if (i.code === "unrecognized_keys") {
        return `${field === "(root)" ? "" : field + ": "}unknown field(s) ${i.keys.join(", ")}`;
      }
      return `${field}: got ${describe(valueAt(input, i.path))}: ${i.message}`;
    });
    throw new StrategyConfigError(`${where}: invalid configuration\n  ${lines.join("\n  ")}`);
  }
  throwProblems(where, res.data, rules(res.data));
  return res.data;
}
