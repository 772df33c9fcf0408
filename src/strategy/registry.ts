/**
 * Strategy modules by name, built from their `strategies.<name>` section of config.yaml, and the
 * symbol scanner from `scanner:`. The zod schemas live with each module; config.ts composes them.
 */
import type { Config } from "../config/config.ts";
import type { SymbolFilter } from "../engine/engine.ts";
import { createMicroswingStrategy } from "./microswing.ts";
import type { LifecycleOptions } from "./ml.ts";
import { createMlStrategy } from "./ml.ts";
import { createRegimeStrategy } from "./regime.ts";
import { Scanner } from "./scanner.ts";
import { createSmokeStrategy } from "./smoke.ts";
import type { ContractSpec } from "../market/contracts.ts";
import type { TradingStrategy } from "./types.ts";

export const STRATEGY_NAMES = ["ml", "regime", "microswing", "smoke"] as const;
export type StrategyName = typeof STRATEGY_NAMES[number];

/** Thrown when a strategy cannot run on the given data (message says why and what to use). */
export class StrategyError extends Error {
  override name = "StrategyError";
}

/**
 * Builds strategy `name`. `mode` is the replay mode: microswing needs order books and trades, so
 * it refuses candle-only data with a StrategyError. The ml strategy may load a model bundle
 * (BundleError / FeatureMismatchError on a bad one). `smoke` (config `run.smoke`) sizes from the
 * contract specs in `contracts`.
 */
export async function createTradingStrategy(
  name: StrategyName,
  config: Config,
  modelPath: string | undefined,
  mode: "raw" | "candles",
  contracts: readonly ContractSpec[] = [],
  opts: { reference?: "inline" | "worker"; lifecycle?: LifecycleOptions } = {},
): Promise<TradingStrategy> {
  switch (name) {
    case "regime":
      return createRegimeStrategy(config.strategies.regime);
    case "microswing":
      if (mode !== "raw") {
        throw new StrategyError(
          "microswing trades on order-book imbalance and trade flow: it needs a database with " +
            "books/trades (collect), not candles only — use --strategy regime or ml on candles",
        );
      }
      return createMicroswingStrategy(config.strategies.microswing);
    case "ml":
      return await createMlStrategy(config.strategies.ml, { modelPath, ...opts });
    case "smoke": {
      const specs = new Map(contracts.map((c) => [c.symbol, c]));
      return createSmokeStrategy(config.run.smoke, (s) => {
        const c = specs.get(s);
        if (!c) throw new StrategyError(`smoke: no contract spec for ${s}`);
        return c;
      });
    }
  }
}

/** The scanner over `symbols` configured by `scanner:`. */
export function createScanner(config: Config, symbols: readonly string[]): SymbolFilter {
  const s = new Scanner(config.scanner, [...symbols]);
  return {
    interval: config.scanner.interval,
    onBar: (b) => s.onBar(b),
    isTradable: (sym) => s.isTradable(sym),
  };
}
