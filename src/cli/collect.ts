/**
 * `bitget-bot collect`: record Bitget USDT-M public market data into SQLite until SIGTERM/SIGINT
 * or `--duration`. Flags override `config.yaml`; see README "Commands".
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, parseConfig } from "../config/config.ts";
import type { Config } from "../config/config.ts";
import { parseDuration } from "../config/duration.ts";
import { createLogger } from "../ops/log.ts";
import { CHANNELS } from "../market/events.ts";
import type { Channel } from "../market/events.ts";
import { CollectError, runCollector } from "../collector/collector.ts";

const HELP = `usage: bitget-bot collect [--symbols BTCUSDT ETHUSDT …] [options]

  --symbols S …        symbols to record (space- or comma-separated; default: config collect.symbols)
  --channels C,…       ticker,trade,books15,books,candle1m,candle15m (default: config collect.channels)
  --db PATH            SQLite file (default: config collect.db = data/bitget.db)
  --config FILE        YAML config (default: config.yaml if present, or $BITGET_CONFIG)
  --duration D         stop after D (e.g. 90s, 2h); default: run until SIGTERM/SIGINT
  --ws-url URL         public WebSocket URL (e.g. a loopback simulator)
  --rest-url URL       REST base URL
  --metrics-listen A   Prometheus /metrics + /healthz address host:port, or off
                       (default: metrics.listen = 127.0.0.1:9464)
  --log-format F       auto | json | text
  --log-level L        debug | info | warn | error
  --isolate-workers    give each ingest worker only net to the WS host (needs --unstable-worker-options)
`;

/** Resolves the config file: --config (must exist), else $BITGET_CONFIG, else ./config.yaml if any. */
export function resolveConfig(path: string | undefined): Config {
  const envPath = (() => {
    try {
      return Deno.env.get("BITGET_CONFIG");
    } catch {
      return undefined;
    }
  })();
  if (path) return loadConfig(path);
  if (envPath) return loadConfig(envPath);
  return loadConfig("config.yaml", true);
}

export async function collectCommand(argv: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        symbols: { type: "string", multiple: true },
        channels: { type: "string" },
        db: { type: "string" },
        config: { type: "string" },
        duration: { type: "string" },
        "ws-url": { type: "string" },
        "rest-url": { type: "string" },
        "log-format": { type: "string" },
        "metrics-listen": { type: "string" },
        "log-level": { type: "string" },
        "isolate-workers": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`collect: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }

  let config: Config;
  let durationMs: number | undefined;
  try {
    const base = resolveConfig(values.config);
    // Flags are merged into the raw config and re-validated, so a bad flag value gets the same
    // "field: got X: expected Y" message as a bad config value.
    const symbols = [...(values.symbols ?? []), ...positionals]
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter(Boolean);
    config = parseConfig(
      {
        ...base,
        exchange: {
          ...base.exchange,
          ...(values["ws-url"] ? { wsPublicUrl: values["ws-url"] } : {}),
          ...(values["rest-url"] ? { restUrl: values["rest-url"] } : {}),
        },
        collect: {
          ...base.collect,
          ...(symbols.length ? { symbols } : {}),
          ...(values.channels ? { channels: values.channels.split(",").map((c) => c.trim()) } : {}),
          ...(values.db ? { db: values.db } : {}),
        },
        metrics: {
          ...base.metrics,
          ...(values["metrics-listen"] ? { listen: values["metrics-listen"] } : {}),
        },
        log: {
          ...base.log,
          ...(values["log-format"] ? { format: values["log-format"] } : {}),
          ...(values["log-level"] ? { level: values["log-level"] } : {}),
        },
      },
      "command line",
    );
    if (values.duration !== undefined) durationMs = parseDuration(values.duration);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof RangeError) {
      console.error(`collect: ${e.message}`);
      return 2;
    }
    throw e;
  }

  const log = createLogger({ level: config.log.level, format: config.log.format });
  try {
    await runCollector({
      config,
      symbols: config.collect.symbols,
      channels: config.collect.channels.filter((c): c is Channel =>
        (CHANNELS as readonly string[]).includes(c)
      ),
      dbPath: config.collect.db,
      durationMs,
      logger: log,
      handleSignals: true,
      restrictWorkerPermissions: values["isolate-workers"] ?? false,
      argv,
    });
    return 0;
  } catch (e) {
    if (e instanceof CollectError) {
      log.error(e.message);
      console.error(`collect: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}
