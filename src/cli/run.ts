/**
 * `bitget-bot run`: the trading daemon (live/daemon.ts). Flags override config.yaml's `run:`
 * block; see README "Trading". Exit codes: 0 clean stop (SIGTERM/SIGINT, --duration), 1 runtime
 * failure, 2 usage / config / start-up check (missing keys, wrong environment for the keys,
 * position- or margin-mode mismatch, an unknown position with onUnknownPosition: refuse).
 */
import { parseArgs } from "node:util";
import { ConfigError, parseConfig } from "../config/config.ts";
import type { Config } from "../config/config.ts";
import { parseDuration } from "../config/duration.ts";
import { DaemonError, runDaemon } from "../live/daemon.ts";
import { createLogger } from "../ops/log.ts";
import { resolveConfig } from "./collect.ts";
import { credentialsFromEnv } from "../config/credentials.ts";

const HELP = `usage: bitget-bot run [--mode paper|demo|live] [--strategy S] [options]

  --mode M             paper (simulated exchange on the live book, no keys) | demo (Bitget demo
                       trading, demo keys) | live (default: config run.mode = paper)
  --strategy S         ml | regime | microswing | smoke (default: run.strategy)
  --symbols S …        symbols to trade (default: run.symbols, else collect.symbols)
  --model PATH         model bundle for --strategy ml (default: strategies.ml.model)
  --db PATH            database to record into and keep orders in (default: run.db)
  --config FILE        YAML config (default: config.yaml if present, or $BITGET_CONFIG)
  --duration D         stop after D (e.g. 90s, 2h); default: until SIGTERM/SIGINT
  --on-unknown-position adopt|flatten|refuse   (default: run.onUnknownPosition = refuse)
  --rest-url URL       REST base URL (e.g. a loopback simulator)
  --ws-url URL         public WebSocket URL
  --private-ws-url URL private WebSocket URL (the simulator's is /v2/ws/private)
  --metrics-listen A   Prometheus /metrics + /healthz address host:port, or off
                       (default: metrics.listen = 127.0.0.1:9464)
  --log-format F       auto | json | text
  --log-level L        debug | info | warn | error

Keys (demo, live) come only from the environment: BITGET_API_KEY, BITGET_API_SECRET,
BITGET_PASSPHRASE. SIGUSR1 or the file run.killFile trips the kill switch.
`;

export async function runCommand(argv: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        mode: { type: "string" },
        strategy: { type: "string" },
        symbols: { type: "string", multiple: true },
        model: { type: "string" },
        db: { type: "string" },
        config: { type: "string" },
        duration: { type: "string" },
        "on-unknown-position": { type: "string" },
        "rest-url": { type: "string" },
        "ws-url": { type: "string" },
        "private-ws-url": { type: "string" },
        "log-format": { type: "string" },
        "metrics-listen": { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`run: ${(e as Error).message}\n(bitget-bot run --help lists the options)`);
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
    const symbols = [...(values.symbols ?? []), ...positionals]
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter(Boolean);
    config = parseConfig({
      ...base,
      exchange: {
        ...base.exchange,
        ...(values["rest-url"] ? { restUrl: values["rest-url"] } : {}),
      },
      run: {
        ...base.run,
        ...(values.mode ? { mode: values.mode } : {}),
        ...(values.strategy ? { strategy: values.strategy } : {}),
        ...(symbols.length ? { symbols } : {}),
        ...(values.db ? { db: values.db } : {}),
        ...(values["on-unknown-position"]
          ? { onUnknownPosition: values["on-unknown-position"] }
          : {}),
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
    }, "command line");
    if (values.duration !== undefined) durationMs = parseDuration(values.duration);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof RangeError) {
      console.error(`run: ${e.message.split("\n").join("\n  ")}`);
      return 2;
    }
    throw e;
  }
  const run = config.run;
  const demo = run.mode === "demo";
  const symbols = run.symbols.length ? run.symbols : config.collect.symbols;
  const credentials = run.mode === "paper" ? null : credentialsFromEnv();
  const log = createLogger({ level: config.log.level, format: config.log.format });
  try {
    await runDaemon({
      config,
      run,
      symbols,
      modelPath: values.model,
      restUrl: config.exchange.restUrl,
      wsPublicUrl: values["ws-url"] ??
        (demo ? config.exchange.demoWsPublicUrl : config.exchange.wsPublicUrl),
      wsPrivateUrl: values["private-ws-url"] ??
        (demo ? config.exchange.demoWsPrivateUrl : config.exchange.wsPrivateUrl),
      credentials,
      durationMs,
      logger: log,
      handleSignals: true,
      argv,
    });
    return 0;
  } catch (e) {
    if (e instanceof DaemonError) {
      log.error(e.message);
      console.error(`run: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}
