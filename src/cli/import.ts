/**
 * `bitget-bot import <file.csv[.gz]> --symbol S --kind K [--db data/bitget.db]`: loads candles,
 * settled funding rates, 1 s top-15 books or 1 s trade flow into the database (see
 * store/import_csv.ts for the columns of each kind). The file is validated completely before
 * the database is opened; the rows are written in one transaction and recorded as a run.
 * Exit codes: 0 ok, 1 bad file or database error, 2 usage.
 */
import { parseArgs } from "node:util";
import {
  IMPORT_KINDS,
  ImportError,
  type ImportKind,
  parseImport,
  writeImport,
} from "../store/import_csv.ts";
import type { ContractSpec } from "../market/contracts.ts";
import { ContractsFileError, readContractsFile } from "../market/contracts_file.ts";
import { Progress } from "../ops/progress.ts";
import { Store, StoreError } from "../store/store.ts";
import { VERSION } from "../version.ts";

const USAGE = `usage: bitget-bot import <file.csv[.gz]> --symbol SYMBOL --kind KIND [--db PATH]
                         [--contracts FILE]

  --symbol     instrument the file belongs to, e.g. BTCUSDT
  --kind       ${IMPORT_KINDS.join(" | ")}
  --db         database file (default data/bitget.db; created when missing)
  --contracts  Bitget contracts JSON (a saved /api/v2/mix/market/contracts response): the
               spec of --symbol is stored with the rows (without it, backtest falls back to
               the bundled dated snapshot)

The time column is found by name (ts_ms, open_time_ms, funding_time_ms, time, timestamp, ...);
values are epoch milliseconds or ISO-8601. Re-importing a file adds nothing.`;

const iso = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

export async function importCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        symbol: { type: "string" },
        kind: { type: "string" },
        db: { type: "string", default: "data/bitget.db" },
        contracts: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    console.error(`import: ${e instanceof Error ? e.message : e}\n\n${USAGE}`);
    return 2;
  }
  const v = args.values;
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const problems: string[] = [];
  if (args.positionals.length !== 1) problems.push("expected exactly one CSV file");
  if (!v.symbol || !/^[A-Z0-9]{2,30}$/.test(v.symbol)) {
    problems.push("--symbol is required: an upper-case symbol like BTCUSDT");
  }
  if (!v.kind || !(IMPORT_KINDS as readonly string[]).includes(v.kind)) {
    problems.push(`--kind is required: one of ${IMPORT_KINDS.join(", ")}`);
  }
  if (problems.length) {
    console.error(`import: ${problems.join("; ")}\n\n${USAGE}`);
    return 2;
  }
  const file = args.positionals[0];
  const kind = v.kind as ImportKind;
  const symbol = v.symbol!;
  let store: Store | undefined;
  let runId: number | undefined;
  try {
    const parsed = await parseImport(file, kind, symbol);
    let spec: { specs: ContractSpec[]; raw: Record<string, unknown>[] } | null = null;
    if (v.contracts !== undefined) {
      const all = readContractsFile(v.contracts);
      spec = {
        specs: all.specs.filter((c) => c.symbol === symbol),
        raw: all.raw.filter((r) => r.symbol === symbol),
      };
      if (spec.specs.length === 0) {
        throw new ContractsFileError(`--contracts ${v.contracts}: no entry for ${symbol}`);
      }
    }
    store = Store.open(v.db!, { create: true });
    runId = store.beginRun({ command: "import", args: argv, version: VERSION });
    const bar = new Progress("import", NaN, "rows");
    let r;
    try {
      r = writeImport(store, parsed, runId, (done, total) => {
        bar.setTotal(total);
        bar.update(done, `${done} / ${total} rows`);
      });
    } finally {
      bar.done();
    }
    if (spec) store.upsertContracts(spec.specs, spec.raw);
    store.endRun(runId, "ok");
    console.log(
      `imported ${r.imported} of ${r.rows} rows from ${file} into ${r.table} ` +
        `(${symbol}, ${kind}); skipped ${r.skipped} already present; ` +
        `span ${iso(r.firstTs)} → ${iso(r.lastTs)}; database ${v.db}` +
        (spec ? `; contract spec of ${symbol} stored from ${v.contracts}` : ""),
    );
    return 0;
  } catch (e) {
    if (store && runId !== undefined) {
      try {
        store.endRun(runId, "error");
      } catch { /* the original error is what matters */ }
    }
    if (
      e instanceof ImportError || e instanceof StoreError || e instanceof ContractsFileError ||
      (e as { code?: string }).code === "ERR_SQLITE_ERROR"
    ) {
      console.error(`import: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  } finally {
    store?.close();
  }
}
