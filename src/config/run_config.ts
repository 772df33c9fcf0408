/**
 * The `run:` section of config.yaml: defaults of `bitget-bot run`, the trading daemon. Durations
 * are stored as ms, money in USDT. Flags of the command override these fields.
 */
import { z } from "zod";
import { SmokeConfigSchema } from "../strategy/smoke.ts";
import { configDuration } from "./zod_duration.ts";

const symbol = z.string().regex(/^[A-Z0-9]{2,30}$/, "expected an upper-case symbol like BTCUSDT");

export const RUN_MODES = ["paper", "demo", "live"] as const;
export const RUN_STRATEGIES = ["ml", "regime", "microswing", "smoke"] as const;

export const RunConfigSchema = z.object({
  /** paper: the simulated exchange against the live book; demo: Bitget demo trading; live. */
  mode: z.enum(RUN_MODES).default("paper"),
  strategy: z.enum(RUN_STRATEGIES).default("regime"),
  /** Symbols to trade; empty = collect.symbols. */
  symbols: z.array(symbol).default([]),
  /** Database the daemon records market data into and keeps its orders in. */
  db: z.string().min(1).default("data/bitget.db"),
  /**
   * Separate SQLite file for the orders / fills / positions_snapshots / equity tables; empty =
   * the `db` file.
   */
  tradingDb: z.string().default(""),
  /** Public channels subscribed (and recorded); books15 or books feeds the engine's book. */
  channels: z.array(z.enum(["ticker", "trade", "books15", "books", "candle1m", "candle15m"]))
    .min(1).default(["ticker", "trade", "books15"]),
  /** Account position mode the daemon expects; start-up exits 2 when Bitget's differs. */
  positionMode: z.enum(["one_way", "hedge"]).default("one_way"),
  /** Margin mode expected for every symbol; start-up exits 2 when Bitget's differs. */
  marginMode: z.enum(["isolated", "crossed"]).default("isolated"),
  /** Leverage set on every symbol at start (x, within the contract's bounds). */
  leverage: z.number().positive().default(5),
  /** A position on a traded symbol the database does not account for: adopt it, flatten it, or exit 2. */
  onUnknownPosition: z.enum(["adopt", "flatten", "refuse"]).default("refuse"),
  /** History replayed from the database at start so indicators are ready at the first bar. */
  warmup: configDuration("6h"),
  /** A file whose presence trips the kill switch (cancel orders, flatten, no new entries). */
  killFile: z.string().default("data/KILL"),
  /** How often the kill file is looked for. */
  killFileInterval: configDuration("1s"),
  /** SIGTERM: stop entries, commit and exit within this time (TP/SL plans stay on the exchange). */
  shutdownTimeout: configDuration("9s"),
  /** Re-read orders, positions and balance over REST this often (and after every reconnect). */
  reconcileInterval: configDuration("5m"),
  /** An exit order counts as in flight for this long (no second exit meanwhile). */
  exitInFlight: configDuration("3s"),
  /** Per-request timeout of signed REST calls; a place-order past it is resolved by query. */
  requestTimeout: configDuration("5s"),
  /**
   * How long after signing a request Bitget may still accept it: its 30 s ACCESS-TIMESTAMP
   * window (API.md §6) + margin. After a crash, an order the exchange does not show is written off
   * only once this has passed since it was sent (start-up waits for it).
   */
  requestWindow: configDuration("35s"),
  /** Paper mode: the simulated exchange (same model as `backtest`). */
  paper: z.object({
    initialBalance: z.number().positive().default(10_000),
    /** Order latency placement → matching (ms), as backtest.latencyMs. */
    latencyMs: z.number().min(0).default(50),
  }).strict().default({}),
  /** The `smoke` strategy (strategy/smoke.ts). */
  smoke: SmokeConfigSchema.default({}),
}).strict();

export type RunConfig = z.infer<typeof RunConfigSchema>;
