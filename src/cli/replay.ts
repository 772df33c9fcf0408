/**
 * `bitget-bot replay` — serve a recording as a loopback Bitget v2 exchange (public WS + REST market
 * endpoints, and the private API over a simulated account trading against the replayed market)
 * with fault injection. See src/simulator/server.ts for the protocol and endpoints.
 *
 * Prints one JSON line to stdout once listening:
 * `{"msg":"listening","port":N,"wsUrl":"ws://127.0.0.1:N/v2/ws/public","restUrl":"http://127.0.0.1:N",
 * "privateWsUrl":"ws://127.0.0.1:N/v2/ws/private","env":"live"}` — the last two only when an API
 * key is configured (without one the private API answers 40006 and a note goes to stderr)
 * then serves until SIGINT/SIGTERM, closes every connection and exits 0. Logs (with --verbose) go
 * to stderr so stdout stays machine-readable. Needs only `--allow-net=127.0.0.1` and
 * `--allow-read` of the files it is given (the default contracts file is compiled in); with
 * `--allow-env=BITGET_*` the private API's key may come from BITGET_API_KEY / BITGET_API_SECRET /
 * BITGET_PASSPHRASE instead of the flags. Keys are never printed or logged.
 *
 * Exit codes: 0 after a signal, 2 for bad arguments or unusable input files, 1 for runtime
 * failures (e.g. port in use).
 */
import { parseArgs } from "node:util";
import { createLogger, silentLogger } from "../ops/log.ts";
import { FaultSpecError, parseFaultSpec } from "../simulator/faults.ts";
import { GRANULARITY_MS, HistoryFileError } from "../simulator/history.ts";
import { RecordingError } from "../simulator/recording.ts";
import {
  SimulatorConfigError,
  type SimulatorOptions,
  startSimulator,
} from "../simulator/server.ts";

const USAGE = `usage: bitget-bot replay <recording.jsonl[.gz]> [options]

Serves a Bitget v2 public-WebSocket recording on ws://HOST:PORT/v2/ws/public and the public REST
market endpoints on http://HOST:PORT/api/v2/..., until SIGINT/SIGTERM. A simulated account trades
against the replayed market through Bitget's signed private REST (/api/v2/mix/account|position|
order/...) and the private WebSocket ws://HOST:PORT/v2/ws/private.

options:
  --port P                          listen port (default 0 = ephemeral)
  --host H                          listen address (default 127.0.0.1)
  --speed X|max                     replay speed factor, or max = as fast as the client reads (default 1)
  --on-end idle|close               at the end of the recording keep sockets open (default) or close them
  --idle-timeout MS                 close a connection after MS ms without a ping (default 120000)
  --contracts FILE                  contracts response JSON (default: shipped sample/rest/contracts.json)
  --history-candles SYMBOL:INTERVAL:FILE   candle CSV for history-candles (repeatable), e.g. BTCUSDT:1m:btc_1m.csv
  --history-funding SYMBOL:FILE     funding CSV for history-fund-rate (repeatable)
  --fault SPEC                      arm a fault (repeatable): drop@N, stall@N:MS, malformed@N, error@N:CODE,
                                    checksum@N, reject:CHANNEL:INSTID[:K], rest429:N, order-timeout@N,
                                    private-drop@N, reject-order:CODE[:K]
  --api-key KEY --api-secret SECRET --passphrase PASS
                                    the private API's key (all three; default: BITGET_API_KEY,
                                    BITGET_API_SECRET, BITGET_PASSPHRASE if readable; else no key
                                    and every private request gets 40006)
  --env live|demo                   demo: private requests must carry "paptrading: 1", live: must not
                                    (else 40099; default live)
  --balance USDT                    initial balance of the simulated account (default 10000)
  --position-mode one_way|hedge     initial position mode (default one_way)
  --margin-mode isolated|crossed    initial margin mode, all symbols (default isolated)
  --leverage N                      default leverage of every symbol (default 10)
  --verbose                         log connections and faults to stderr (JSON lines)
  --no-relay                        serve without the TCP relay (one copy less per byte; drop@N
                                    then closes with a close frame instead of cutting the socket)
  -h, --help                        this text`;

class UsageError extends Error {}

function parseSpeed(s: string): number | "max" {
  if (s === "max") return "max";
  const v = Number(s);
  if (!Number.isFinite(v) || v <= 0) {
    throw new UsageError(`--speed must be a positive number or "max", got "${s}"`);
  }
  return v;
}

function parseCandles(s: string): { symbol: string; interval: string; path: string } {
  const m = /^([^:]+):([^:]+):(.+)$/.exec(s);
  if (!m) throw new UsageError(`--history-candles expects SYMBOL:INTERVAL:FILE, got "${s}"`);
  if (!(m[2] in GRANULARITY_MS)) {
    throw new UsageError(
      `--history-candles: unknown interval "${m[2]}" (expected one of ${
        Object.keys(GRANULARITY_MS).join(", ")
      })`,
    );
  }
  return { symbol: m[1], interval: m[2], path: m[3] };
}

function parseFunding(s: string): { symbol: string; path: string } {
  const m = /^([^:]+):(.+)$/.exec(s);
  if (!m) throw new UsageError(`--history-funding expects SYMBOL:FILE, got "${s}"`);
  return { symbol: m[1], path: m[2] };
}

function parseInt10(s: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new UsageError(`${name} must be an integer in [${min}, ${max}], got "${s}"`);
  }
  return Number(s);
}

/** Parses argv into simulator options; throws UsageError with a one-line reason. */
function parse(argv: string[]): SimulatorOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        speed: { type: "string" },
        "on-end": { type: "string" },
        "idle-timeout": { type: "string" },
        contracts: { type: "string" },
        "history-candles": { type: "string", multiple: true },
        "history-funding": { type: "string", multiple: true },
        fault: { type: "string", multiple: true },
        "api-key": { type: "string" },
        "api-secret": { type: "string" },
        passphrase: { type: "string" },
        env: { type: "string" },
        balance: { type: "string" },
        "position-mode": { type: "string" },
        "margin-mode": { type: "string" },
        leverage: { type: "string" },
        verbose: { type: "boolean" },
        "no-relay": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return "help";
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "missing <recording.jsonl[.gz]>"
        : `unexpected arguments: ${positionals.slice(1).join(" ")}`,
    );
  }
  const onEnd = v["on-end"] ?? "idle";
  if (onEnd !== "idle" && onEnd !== "close") {
    throw new UsageError(`--on-end must be idle or close, got "${onEnd}"`);
  }
  const faults = v.fault ?? [];
  for (const f of faults) {
    try {
      parseFaultSpec(f);
    } catch (e) {
      throw new UsageError(`--fault: ${(e as Error).message}`);
    }
  }
  const keyFlags = [v["api-key"], v["api-secret"], v.passphrase];
  if (
    keyFlags.some((x) => x !== undefined) && !keyFlags.every((x) => x !== undefined && x !== "")
  ) {
    throw new UsageError("--api-key, --api-secret and --passphrase go together (all three)");
  }
  const env = v.env ?? "live";
  if (env !== "live" && env !== "demo") {
    throw new UsageError(`--env must be live or demo, got "${env}"`);
  }
  const positionMode = v["position-mode"] ?? "one_way";
  if (positionMode !== "one_way" && positionMode !== "hedge") {
    throw new UsageError(`--position-mode must be one_way or hedge, got "${positionMode}"`);
  }
  const marginMode = v["margin-mode"] ?? "isolated";
  if (marginMode !== "isolated" && marginMode !== "crossed") {
    throw new UsageError(`--margin-mode must be isolated or crossed, got "${marginMode}"`);
  }
  const balance = v.balance === undefined ? 10_000 : Number(v.balance);
  if (v.balance !== undefined && !(/^\d+(\.\d+)?$/.test(v.balance) && Number.isFinite(balance))) {
    throw new UsageError(`--balance must be a non-negative number of USDT, got "${v.balance}"`);
  }
  return {
    recording: positionals[0],
    hostname: v.host ?? "127.0.0.1",
    port: v.port === undefined ? 0 : parseInt10(v.port, "--port", 0, 65535),
    speed: v.speed === undefined ? 1 : parseSpeed(v.speed),
    onEnd,
    idleTimeoutMs: v["idle-timeout"] === undefined
      ? undefined
      : parseInt10(v["idle-timeout"], "--idle-timeout", 1, 2 ** 31 - 1),
    contractsFile: v.contracts,
    historyCandles: (v["history-candles"] ?? []).map(parseCandles),
    historyFunding: (v["history-funding"] ?? []).map(parseFunding),
    faults,
    credentials: v["api-key"] === undefined
      ? undefined
      : { apiKey: v["api-key"], secret: v["api-secret"]!, passphrase: v.passphrase! },
    env,
    balance,
    positionMode,
    marginMode,
    leverage: v.leverage === undefined ? 10 : parseInt10(v.leverage, "--leverage", 1, 1000),
    relay: !v["no-relay"],
    logger: v.verbose
      ? createLogger({ format: "json", sink: (l) => console.error(l) }, { cmd: "replay" })
      : silentLogger,
  };
}

/** Entry point of `bitget-bot replay`; resolves to the process exit code. */
export async function replayCommand(argv: string[]): Promise<number> {
  let opts: SimulatorOptions | "help";
  try {
    opts = parse(argv);
  } catch (e) {
    console.error(`bitget-bot replay: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === "help") {
    console.log(USAGE);
    return 0;
  }
  let sim;
  try {
    sim = await startSimulator(opts);
  } catch (e) {
    const user = e instanceof RecordingError || e instanceof HistoryFileError ||
      e instanceof SimulatorConfigError || e instanceof FaultSpecError;
    const denied = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
    console.error(`bitget-bot replay: ${(e as Error).message}`);
    return user || denied ? 2 : 1;
  }
  const signals = ["SIGINT", "SIGTERM"] as const;
  let onSignal = () => {};
  const stopped = new Promise<void>((resolve) => (onSignal = resolve));
  for (const sig of signals) Deno.addSignalListener(sig, onSignal);
  const line: Record<string, unknown> = {
    msg: "listening",
    port: sim.port,
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
  };
  if (sim.privateApi) {
    line.privateWsUrl = sim.privateWsUrl;
    line.env = opts.env ?? "live";
  } else {
    console.error(
      "bitget-bot replay: no API key (--api-key/--api-secret/--passphrase or BITGET_* with " +
        "--allow-env): private requests get 40006",
    );
  }
  console.log(JSON.stringify(line));
  await stopped;
  for (const sig of signals) Deno.removeSignalListener(sig, onSignal);
  await sim.close();
  return 0;
}
