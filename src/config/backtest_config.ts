/**
 * The `backtest:` section of config.yaml (defaults of `bitget-bot backtest`). Durations are
 * stored as ms; money in USDT; the synthetic candle book in bps (see backtest/replay_source.ts).
 */
import { z } from "zod";
import { parseTime } from "./duration.ts";
import { configDuration } from "./zod_duration.ts";

const duration = configDuration;

/** An optional time bound: ISO-8601 or epoch ms; absent = the data's own bound. */
const time = z.union([z.string(), z.number()]).optional().transform((v, ctx) => {
  if (v === undefined) return undefined;
  try {
    return typeof v === "number" ? v : parseTime(v);
  } catch {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: "expected an ISO-8601 time (2025-05-04 or 2025-05-04T12:00:00Z) or epoch ms",
    });
    return z.NEVER;
  }
});

export const BacktestConfigSchema = z.object({
  /** Strategy module run by default (`--strategy`). */
  strategy: z.enum(["ml", "regime", "microswing", "smoke", "buy_and_hold", "flat"]).default(
    "regime",
  ),
  /** Symbols (`--symbols`); empty = collect.symbols. */
  symbols: z.array(z.string().regex(/^[A-Z0-9]{2,30}$/, "expected a symbol like BTCUSDT"))
    .default([]),
  from: time,
  to: time,
  /** raw: stored books/trades/tickers; candles: 1m/15m bars with the synthetic book; auto: raw if books exist. */
  mode: z.enum(["auto", "raw", "candles"]).default("auto"),
  /**
   * Order book of raw replays: books15 (top-15 snapshots), books (full depth, incremental) or
   * auto (books15 when present). Strategies reading the book are switched to the same channel.
   */
  bookChannel: z.enum(["auto", "books15", "books"]).default("auto"),
  /**
   * Raw replays: `ts` = exchange-time order; `recv` = the order the recording process received
   * the events in (use it to reproduce a `run` from the database it recorded).
   */
  order: z.enum(["ts", "recv"]).default("ts"),
  /** Candle interval of candle replays (and the engine's primary bar interval). */
  interval: z.enum(["1m", "15m"]).default("1m"),
  /** Starting cash (USDT). */
  initialBalance: z.number().positive().default(10_000),
  /** Leverage set on every symbol (x, clamped to the contract's bounds). */
  leverage: z.number().positive().default(5),
  /** Bitget margin mode: isolated or crossed. */
  marginMode: z.enum(["isolated", "crossed"]).default("isolated"),
  /** Order latency: placement → matching (ms). */
  latencyMs: z.number().min(0).default(50),
  /** Equity sampling period. */
  sampleInterval: duration("1m"),
  /** Allow new exposure inside recorded gaps. */
  tradeAcrossGaps: z.boolean().default(false),
  /** Close every position after the last event. */
  closeAtEnd: z.boolean().default(true),
  /** Rank symbols with the scanner and trade only its top-N. */
  scanner: z.boolean().default(false),
  /** Output folder root: results go to <out>/<timestamp>/ unless --out names a folder. */
  out: z.string().default("backtests"),
  /** Bitget contracts JSON used when the database holds no contract specs. */
  contracts: z.string().optional(),
  /** Synthetic order book of candle replays. */
  book: z.object({
    spreadBps: z.number().min(0).default(2),
    levels: z.number().int().min(1).default(5),
    levelStepBps: z.number().min(0).default(1),
    depthPerLevelUsdt: z.number().positive().default(250_000),
  }).strict().default({}),
  /** Cut points of --check-lookahead. */
  lookaheadCuts: z.number().int().min(1).max(20).default(3),
}).strict();

export type BacktestConfig = z.infer<typeof BacktestConfigSchema>;
