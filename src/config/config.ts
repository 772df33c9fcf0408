/**
 * `config.yaml` schema, defaults and loading. Every field has a default, so an empty or missing
 * file is a valid config; a present but wrong field fails with a message naming the field, the
 * value given and what was expected (ConfigError).
 *
 * Durations accept `500ms`/`30s`/`5m`/`2h`/`7d` or bare milliseconds and are stored as ms.
 */
import { z } from "zod";
import YAML from "yaml";
import { configDuration } from "./zod_duration.ts";
import { CHANNELS } from "../market/events.ts";
import { BacktestConfigSchema } from "./backtest_config.ts";
import { RunConfigSchema } from "./run_config.ts";
import { EngineConfigSchema } from "../engine/engine_support.ts";
import { MlConfigSchema } from "../strategy/ml.ts";
import { MicroswingConfigSchema } from "../strategy/microswing.ts";
import { RegimeConfigSchema } from "../strategy/regime.ts";
import { ScannerConfigSchema } from "../strategy/scanner.ts";
import { MetricsConfigSchema } from "../ops/metrics/server.ts";
import { AlertsConfigSchema } from "../ops/alerts/config.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

const duration = configDuration;

const symbol = z.string().regex(/^[A-Z0-9]{2,30}$/, "expected an upper-case symbol like BTCUSDT");
const url = (protocols: string[]) =>
  z.string().url().refine((u) => protocols.includes(new URL(u).protocol), {
    message: `expected a URL with scheme ${protocols.join(" or ")}`,
  });

export const ConfigSchema = z.object({
  exchange: z.object({
    /** REST base URL (API.md §0). */
    restUrl: url(["https:", "http:"]).default("https://api.bitget.com"),
    /** Public WebSocket v2 URL (API.md §0). */
    wsPublicUrl: url(["wss:", "ws:"]).default("wss://ws.bitget.com/v2/ws/public"),
    /** Private WebSocket v2 URL (API.md §3.1). */
    wsPrivateUrl: url(["wss:", "ws:"]).default("wss://ws.bitget.com/v2/ws/private"),
    /** Demo trading public / private WebSocket URLs (API.md §8); REST is the same host. */
    demoWsPublicUrl: url(["wss:", "ws:"]).default("wss://wspap.bitget.com/v2/ws/public"),
    demoWsPrivateUrl: url(["wss:", "ws:"]).default("wss://wspap.bitget.com/v2/ws/private"),
    /** Margin coin of USDT-M futures (API.md §5.3). */
    marginCoin: z.enum(["USDT"]).default("USDT"),
    /** productType / instType for USDT-M perpetuals. */
    productType: z.enum(["USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES"]).default("USDT-FUTURES"),
  }).strict().default({}),
  collect: z.object({
    symbols: z.array(symbol).min(1).default(["BTCUSDT", "ETHUSDT"]),
    /** Public channels to record; `books` is full depth with checksum (heavier than books15). */
    channels: z.array(z.enum(CHANNELS as [string, ...string[]])).min(1)
      .default(["ticker", "trade", "books15", "books", "candle1m", "candle15m"]),
    /** SQLite file. */
    db: z.string().min(1).default("data/bitget.db"),
  }).strict().default({}),
  ws: z.object({
    /** Channels (symbol × channel) per connection; Bitget recommends < 50 (API.md §1.1). */
    maxChannelsPerConnection: z.number().int().min(1).max(1000).default(48),
    /**
     * Connections (= ingest worker threads) to spread symbols over, at least; `auto` = the CPU
     * count. Each connection still holds ≤ maxChannelsPerConnection; Bitget allows 100 per IP.
     */
    minConnections: z.union([z.literal("auto"), z.number().int().min(1).max(100)]).default("auto"),
    /** Args per subscribe message; the args must also stay ≤ 4096 bytes (API.md §1.1). */
    maxArgsPerMessage: z.number().int().min(1).max(100).default(15),
    /** Client → server messages per second per connection; Bitget's cap is 10 (API.md §1.1). */
    maxMessagesPerSecond: z.number().min(0.1).max(10).default(8),
    /** Text `ping` interval; Bitget asks for 30 s (API.md §1.1). */
    pingInterval: duration("30s"),
    /** A connection that received nothing (not even `pong`) for this long is dead. */
    staleAfter: duration("45s"),
    reconnectMinDelay: duration("1s"),
    reconnectMaxDelay: duration("30s"),
    /** Subscribe requests per hour per connection (Bitget: 240, API.md §1.1). */
    maxSubscribesPerHour: z.number().int().min(1).max(240).default(200),
  }).strict().default({}),
  rest: z.object({
    /** Requests per second per endpoint; Bitget allows 20/s/IP on public market endpoints. */
    ratePerSecond: z.number().min(0.1).max(20).default(10),
    timeout: duration("10s"),
    /** Poll intervals; 0 disables a poller. */
    symbolPriceInterval: duration("5s"),
    openInterestInterval: duration("30s"),
    fundingRateInterval: duration("60s"),
    fundingTimeInterval: duration("5m"),
    contractsInterval: duration("6h"),
  }).strict().default({}),
  store: z.object({
    /** Longest a batch stays open before it is committed (the most a kill can lose). */
    batchMaxAge: duration("250ms"),
    /** Events per batch before an early commit. */
    batchMaxEvents: z.number().int().min(1).max(1_000_000).default(20_000),
    /** Raw order-book rows older than this are deleted (0 = keep forever). */
    rawBooksRetention: duration("7d"),
    /** Raw trades, tickers and REST samples older than this are deleted (0 = keep forever). */
    rawOtherRetention: duration("0"),
    retentionCheckInterval: duration("1h"),
  }).strict().default({}),
  log: z.object({
    level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /** `auto`: readable text on a TTY, JSON lines otherwise (journald). */
    format: z.enum(["auto", "json", "text"]).default("auto"),
    statusInterval: duration("10s"),
  }).strict().default({}),
  /** `bitget-bot run` defaults (config/run_config.ts). */
  run: RunConfigSchema.default({}),
  /** `bitget-bot backtest` defaults (config/backtest_config.ts). */
  backtest: BacktestConfigSchema.default({}),
  /** Sizing and risk limits of the trading engine (engine/engine_support.ts). */
  risk: EngineConfigSchema.default({}),
  /** Strategy modules, each with its own schema (src/strategy/). */
  strategies: z.object({
    ml: MlConfigSchema.default({}),
    regime: RegimeConfigSchema.default({}),
    microswing: MicroswingConfigSchema.default({}),
  }).strict().default({}),
  /** Symbol scanner for multi-symbol runs (strategy/scanner.ts). */
  scanner: ScannerConfigSchema.default({}),
  /** Prometheus `/metrics` and `/healthz` of `run` and `collect` (ops/metrics/server.ts). */
  metrics: MetricsConfigSchema.default({}),
  /** Discord / JSON-webhook alerts of `run` (ops/alerts/config.ts; URLs from the environment). */
  alerts: AlertsConfigSchema.default({}),
}).strict();

export type Config = z.infer<typeof ConfigSchema>;

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

/** Unwraps defaults, optionals and refinements down to the schema that holds the keys. */
function unwrap(t: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (t instanceof z.ZodDefault || t instanceof z.ZodOptional || t instanceof z.ZodNullable) {
      t = t._def.innerType;
    } else if (t instanceof z.ZodEffects) t = t._def.schema;
    else return t;
  }
}

/** The field names the schema accepts at `path` (empty when not an object there). */
function knownKeys(path: (string | number)[]): string[] {
  let t: z.ZodTypeAny = ConfigSchema;
  for (const k of path) {
    t = unwrap(t);
    if (!(t instanceof z.ZodObject)) return [];
    t = t.shape[k];
    if (!t) return [];
  }
  t = unwrap(t);
  return t instanceof z.ZodObject ? Object.keys(t.shape) : [];
}

/** Levenshtein distance (insert, delete, substitute; case-insensitive). */
function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The accepted key nearest to `key` (distance ≤ 1/3 of its length, at least 1), else null. */
export function nearestKey(key: string, known: readonly string[]): string | null {
  let best: string | null = null, bestD = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

/** Validates a parsed config object; throws ConfigError naming field, value and expectation. */
export function parseConfig(raw: unknown, source = "config"): Config {
  const res = ConfigSchema.safeParse(raw ?? {});
  if (res.success) return res.data;
  const lines = res.error.issues.map((i) => {
    const field = i.path.join(".") || "(root)";
    if (i.code === "unrecognized_keys") {
      const known = knownKeys(i.path);
      const keys = i.keys.map((k) => {
        const near = nearestKey(k, known);
        return near ? `${k} (did you mean ${near}?)` : k;
      });
      return `${field === "(root)" ? "" : field + ": "}unknown field(s) ${keys.join(", ")}`;
    }
    return `${field}: got ${describe(valueAt(raw, i.path))}: ${i.message}`;
  });
  throw new ConfigError(`${source}: invalid configuration\n  ${lines.join("\n  ")}`);
}

/**
 * Reads and validates a YAML config file. A missing file yields the defaults only when
 * `optional` is true (the default path); a named file that is missing is an error.
 */
export function loadConfig(path: string, optional = false): Config {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (optional && e instanceof Deno.errors.NotFound) return parseConfig({}, path);
    throw new ConfigError(`${path}: cannot read config: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid YAML: ${(e as Error).message}`);
  }
  return parseConfig(raw, path);
}
