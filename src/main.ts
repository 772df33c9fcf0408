/**
 * bitget-bot command line: one subcommand per module under `cli/`.
 * Exit codes: 0 success, 1 runtime failure (bad data, network, database), 2 usage or config error.
 *
 * Subcommand modules are imported lazily (static specifiers, so `deno compile`/`deno bundle` still
 * include them) to keep start-up fast and the permissions a command touches minimal.
 */
import { VERSION } from "./version.ts";

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  collect: {
    summary: "record Bitget USDT-M market data into SQLite (WS + REST), as a service",
    load: async () => (await import("./cli/collect.ts")).collectCommand,
  },
  replay: {
    summary: "serve a recording as a loopback Bitget v2 exchange (WS + REST), with fault injection",
    load: async () => (await import("./cli/replay.ts")).replayCommand,
  },
  import: {
    summary: "load a CSV (candles, funding, 1 s books or trades) into the database",
    load: async () => (await import("./cli/import.ts")).importCommand,
  },
  download: {
    summary: "page Bitget history-candles and history-fund-rate into the database (resumable)",
    load: async () => {
      const { downloadCommand } = await import("./cli/download.ts");
      const { StoreHistory } = await import("./store/history_store.ts");
      return (argv) => downloadCommand(argv, (path) => StoreHistory.open(path));
    },
  },
  backtest: {
    summary: "replay stored data through features → model → strategy → risk → simulated exchange",
    load: async () => (await import("./cli/backtest.ts")).backtestCommand,
  },
  run: {
    summary: "the trading daemon: strategy on the live feed, paper / demo / live orders",
    load: async () => (await import("./cli/run.ts")).runCommand,
  },
  account: {
    summary: "balances, positions and open orders on Bitget (read only: do my keys work?)",
    load: async () => (await import("./cli/account.ts")).accountCommand,
  },
  stats: {
    summary: "row counts, time spans, gaps and checksum failures per table and symbol",
    load: async () => (await import("./cli/stats.ts")).statsCommand,
  },
  model: {
    summary: "import | inspect | predict | fit — LightGBM-compatible models and ONNX bundles",
    load: async () => (await import("./cli/model.ts")).modelCommand,
  },
  train: {
    summary: "build features + labels from the database, walk-forward train a GBDT, write a bundle",
    load: async () => (await import("./cli/train.ts")).trainCommand,
  },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`);
  return [
    `bitget-bot ${VERSION} — Bitget USDT-M perpetual futures data collector and trading daemon`,
    "",
    "usage: bitget-bot <command> [options]   (bitget-bot <command> --help for a command's options)",
    "",
    "commands:",
    ...rows,
    "",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "version") {
    console.log(VERSION);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`bitget-bot: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return await (await cmd.load())(rest);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
