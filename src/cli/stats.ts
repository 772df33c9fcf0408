/**
 * `bitget-bot stats <db> [--json]`: what a database holds — rows and time spans per table and
 * symbol, gaps and checksum failures, frames per channel, runs, file size.
 * Exit codes: 0 ok, 1 missing file / not a bitget-bot database / read error, 2 usage.
 * Opens the file read-only and never creates it.
 */
import { parseArgs } from "node:util";
import { collectStats, formatStats } from "../store/stats.ts";
import { Store, StoreError } from "../store/store.ts";

const USAGE = `usage: bitget-bot stats <db> [--json]

  <db>     SQLite database written by bitget-bot (e.g. data/bitget.db)
  --json   print a stable JSON document instead of the table report`;

export function statsCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
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
  if (args.positionals.length !== 1) {
    console.error(`stats: expected exactly one database path\n\n${USAGE}`);
    return Promise.resolve(2);
  }
  const path = args.positionals[0];
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
