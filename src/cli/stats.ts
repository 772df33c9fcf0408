/**
 * `bitget-bot stats [<db>] [--json] [--config FILE]`: what a database holds — rows and time spans per table and
 * symbol, gaps and checksum failures, frames per channel, runs, file size.
 * Exit codes: 0 ok, 1 missing file / not a bitget-bot database / read error, 2 usage.
 * Opens the file read-only and never creates it. Without `<db>` it reads the config's `collect.db`.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/config.ts";
import { collectStats, formatStats } from "../store/stats.ts";
import { Store, StoreError } from "../store/store.ts";

const USAGE = `usage: bitget-bot stats [<db>] [--json] [--config FILE]

  <db>      SQLite database written by bitget-bot (default: the config's collect.db)
  --json    print a stable JSON document instead of the table report
  --config  configuration (default: config.yaml if present)`;

export function statsCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        json: { type: "boolean" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    console.error(`stats: ${e instanceof Error ? e.message : e}\n\n${USAGE}`);
    return Promise.resolve(2);
  }
  if (args.values.help) {
    console.log(USAGE);
    return Promise.resolve(0);
  }
  if (args.positionals.length > 1) {
    console.error(`stats: expected one database path, got ${args.positionals.length}\n\n${USAGE}`);
    return Promise.resolve(2);
  }
  let path = args.positionals[0];
  if (path === undefined) {
    try {
      const c = args.values.config;
      path = (c !== undefined ? loadConfig(c) : loadConfig("config.yaml", true)).collect.db;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      console.error(`stats: ${e.message}`);
      return Promise.resolve(2);
    }
  }
  let store: Store | undefined;
  try {
    store = Store.open(path, { readonly: true });
    const stats = collectStats(store);
    console.log(args.values.json ? JSON.stringify(stats, null, 2) : formatStats(stats));
    return Promise.resolve(0);
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    console.error(`stats: ${e.message}`);
    return Promise.resolve(1);
  } finally {
    store?.close();
  }
}
