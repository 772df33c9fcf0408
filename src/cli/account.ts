/**
 * `bitget-bot account [--mode demo|live] [--json]`: balances, positions and open orders, read
 * only — the "do my keys work" check. Signed REST v2 (bitget/rest_private.ts); nothing is sent
 * but GET requests. Exit codes: 0 ok, 1 Bitget unreachable, 2 usage / missing keys / a refusal
 * (the line says what to fix: 40099 wrong environment for the keys, 40006 key, 40012 passphrase…).
 */
import { parseArgs } from "node:util";
import { BitgetApiError } from "../bitget/private_errors.ts";
import { BitgetPrivateRest } from "../bitget/rest_private.ts";
import { ConfigError } from "../config/config.ts";
import { credentialsFromEnv, missingKeysLine } from "../config/credentials.ts";
import { resolveConfig } from "./collect.ts";

const HELP = `usage: bitget-bot account [--mode demo|live] [--json] [options]

  --mode M        live (default) or demo (demo trading: the paptrading header, demo keys)
  --json          one JSON document instead of tables
  --config FILE   YAML config (exchange.restUrl)
  --rest-url URL  REST base URL (e.g. a loopback simulator)

Keys come only from the environment: BITGET_API_KEY, BITGET_API_SECRET, BITGET_PASSPHRASE.
`;

function table(rows: Record<string, unknown>[], cols: string[]): string {
  if (rows.length === 0) return "  (none)";
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? "")));
  const w = cols.map((c, i) => Math.max(c.length, ...cells.map((x) => x[i].length)));
  const line = (xs: string[]) => "  " + xs.map((x, i) => x.padEnd(w[i])).join("  ");
  return [line(cols), ...cells.map(line)].join("\n");
}

export async function accountCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        mode: { type: "string" },
        json: { type: "boolean" },
        config: { type: "string" },
        "rest-url": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`account: ${(e as Error).message}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const mode = values.mode ?? "live";
  if (mode !== "live" && mode !== "demo") {
    console.error(`account: --mode: expected live or demo, got ${mode}`);
    return 2;
  }
  let restUrl: string;
  try {
    restUrl = values["rest-url"] ?? resolveConfig(values.config).exchange.restUrl;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`account: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const credentials = credentialsFromEnv();
  if (!credentials) {
    console.error(`account: ${missingKeysLine(mode)}`);
    return 2;
  }
  const rest = new BitgetPrivateRest({ baseUrl: restUrl, credentials, demo: mode === "demo" });
  try {
    await rest.syncTime();
    const accounts = await rest.accounts();
    const positions = await rest.allPositions();
    const orders = await rest.ordersPending({});
    if (values.json) {
      console.log(JSON.stringify({ mode, accounts, positions, orders }, null, 2));
      return 0;
    }
    console.log(`Bitget ${mode} account (${restUrl})\n\nbalances (USDT-M futures):`);
    console.log(
      table(accounts, ["marginCoin", "accountEquity", "available", "locked", "unrealizedPL"]),
    );
    console.log("\npositions:");
    console.log(
      table(positions, [
        "symbol",
        "holdSide",
        "total",
        "openPriceAvg",
        "markPrice",
        "unrealizedPL",
        "leverage",
        "marginMode",
        "liquidationPrice",
      ]),
    );
    console.log("\nopen orders:");
    console.log(
      table(orders, ["symbol", "side", "orderType", "size", "price", "status", "clientOid"]),
    );
    return 0;
  } catch (e) {
    if (e instanceof BitgetApiError) {
      if (e.code === "40099") {
        console.error(
          `account: Bitget answered 40099 (exchange environment is incorrect): ` +
            (mode === "live"
              ? "these look like demo keys — run with --mode demo"
              : "these look like live keys — run with --mode live"),
        );
        return 2;
      }
      console.error(`account: ${e.endpoint}: code ${e.code}: ${e.hint}`);
      return e.kind === "api" ? 2 : 1;
    }
    throw e;
  }
}
