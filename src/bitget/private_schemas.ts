/**
 * zod schemas of Bitget's private v2 REST responses (API.md §5, envelope §7) and private WS pushes
 * (API.md §3.2), written for the shapes Bitget really sends:
 *
 * - Decimals (prices, sizes, balances, rates, leverage) stay the exchange's exact strings; a JSON
 *   number (leverage in `positions` pushes, the Mar-2025 `account` capture) becomes its string.
 *   A decimal that is neither is a zod error naming the field.
 * - Optional values: "" / null / absent → null. Timestamps (`cTime`, `uTime`, `ts`, `requestTime`,
 *   `serverTime`) become epoch-ms numbers, from a string or a number.
 * - Enums are compared case-insensitively and returned lower case; known aliases are normalized
 *   (`cross` → `crossed`, `hedge-mode` → `hedge_mode`, `cancelled` → `canceled`, tradeScope `T`/`M`
 *   → `taker`/`maker`). An unknown value is kept (lower case), never an error.
 * - Ids stay strings (orderIds exceed 2^53); symbols and coins upper case ("ethusdt" in doc examples).
 * - Order rows take their status from `status` or `state` (API.md §5.5); `entrustedList`, `fillList`,
 *   `successList`, `failureList`, `feeDetail` and `assetList` may be null → [].
 * - Unknown extra fields are stripped (zod's default), never an error.
 */
import { z } from "zod";

// ---- primitives ------------------------------------------------------------------------------

const DEC_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const raw = z.union([z.string(), z.number(), z.null()]).optional();
type Raw = z.infer<typeof raw>;
const isAbsent = (v: Raw): v is "" | null | undefined => v === undefined || v === null || v === "";

function checkDec(v: string | number, ctx: z.RefinementCtx): string {
  if (typeof v === "number") {
    if (Number.isFinite(v)) return String(v);
  } else if (DEC_RE.test(v)) return v;
  ctx.addIssue({ code: "custom", message: `expected a decimal string, got ${JSON.stringify(v)}` });
  return z.NEVER;
}

/** Required decimal → exact string. */
export const dec = z.union([z.string(), z.number()]).transform(checkDec);
/** Optional decimal → exact string or null. */
export const optDec = raw.transform((v, ctx) => isAbsent(v) ? null : checkDec(v, ctx));

function checkMs(v: string | number, ctx: z.RefinementCtx): number {
  const n = typeof v === "number" ? v : /^\d+$/.test(v) ? Number(v) : NaN;
  if (Number.isSafeInteger(n)) return n;
  ctx.addIssue({ code: "custom", message: `expected epoch ms, got ${JSON.stringify(v)}` });
  return z.NEVER;
}
/** Required epoch-ms timestamp (string or number) → number. */
export const ms = z.union([z.string(), z.number()]).transform(checkMs);
/** Optional epoch ms → number or null. */
export const optMs = raw.transform((v, ctx) => isAbsent(v) ? null : checkMs(v, ctx));

/** Required non-empty string (ids); a JSON number becomes its string. */
export const str = z.union([z.string().min(1), z.number()]).transform(String);
/** Optional string → null when "" / null / absent. */
export const optStr = raw.transform((v) => isAbsent(v) ? null : String(v));
/** Symbol / coin, upper case. */
export const sym = z.string().min(1).transform((s) => s.toUpperCase());
export const optSym = raw.transform((v) => isAbsent(v) ? null : String(v).toUpperCase());

/** An enum value: a known member, or any other string kept as sent (lower case). */
export type Open<T extends string> = T | (string & Record<never, never>);

function lower<T extends string>(s: string, aliases: Record<string, T>): Open<T> {
  const l = s.toLowerCase();
  return aliases[l] ?? l;
}
/** Required enum, lower case, aliases applied. `known` documents (and types) the members. */
export function enumOf<T extends string>(_known: readonly T[], aliases: Record<string, T> = {}) {
  return z.string().min(1).transform((s) => lower<T>(s, aliases));
}
/** Optional enum → null when "" / null / absent. */
export function optEnumOf<T extends string>(_known: readonly T[], aliases: Record<string, T> = {}) {
  return raw.transform((v) => isAbsent(v) ? null : lower<T>(String(v), aliases));
}
/** "yes"/"YES"/"no" → boolean; "" / absent → null. */
export const yesNo = raw.transform((v) => isAbsent(v) ? null : String(v).toLowerCase() === "yes");
/** An array that may be null / absent → []. */
const list = <T extends z.ZodTypeAny>(item: T) =>
  z.array(item).nullable().optional().transform((v) => v ?? []);

type Fields<K extends string, S> = { [P in K]: S };
function many<S extends z.ZodTypeAny, K extends string>(s: S, keys: K[]): Fields<K, S> {
  return Object.fromEntries(keys.map((k) => [k, s])) as Fields<K, S>;
}
const decs = <K extends string>(...k: K[]) => many(optDec, k);
const strs = <K extends string>(...k: K[]) => many(optStr, k);

// ---- enums -----------------------------------------------------------------------------------

const side = enumOf(["buy", "sell"]);
const holdSide = enumOf(["long", "short"]);
const posSide = optEnumOf(["long", "short", "net"]);
const marginMode = optEnumOf(["crossed", "isolated"], { cross: "crossed" });
const posMode = optEnumOf(["one_way_mode", "hedge_mode"], {
  "hedge-mode": "hedge_mode",
  "one-way-mode": "one_way_mode",
});
const orderStatus = enumOf(["live", "partially_filled", "filled", "canceled"], {
  cancelled: "canceled",
  "partial-fill": "partially_filled",
});
const orderType = optEnumOf(["limit", "market"]);
const force = optEnumOf(["gtc", "ioc", "fok", "post_only"]);
const tradeSide = optEnumOf(["open", "close"]);
const tradeScope = optEnumOf(["taker", "maker"], { t: "taker", m: "maker" });
const assetMode = optEnumOf(["single", "union"]);
const onOff = optEnumOf(["on", "off"]);
const triggerType = optEnumOf(["fill_price", "mark_price"]);
const planType = optEnumOf([
  "normal_plan",
  "track_plan",
  "profit_plan",
  "loss_plan",
  "moving_plan",
  "pos_profit",
  "pos_loss",
]);

// ---- envelope and REST responses ---------------------------------------------------------------

/** `{"code":"00000","msg","requestTime","data"}` (API.md §7); `code` may arrive as a number. */
export const EnvelopeSchema = z.object({
  code: z.union([z.string(), z.number()]).transform(String),
  msg: optStr,
  requestTime: optMs,
  data: z.unknown(),
});

/** GET /api/v2/public/time → data. */
export const ServerTimeSchema = z.object({ serverTime: ms });

const AssetSchema = z.object({ coin: sym, ...decs("balance", "available") });

/** GET /api/v2/mix/account/accounts → data[i] (API.md §5.1). */
export const AccountRowSchema = z.object({
  marginCoin: sym,
  available: dec,
  ...decs("locked", "crossedMaxAvailable", "isolatedMaxAvailable", "maxTransferOut"),
  ...decs("accountEquity", "usdtEquity", "btcEquity", "crossedRiskRate", "unrealizedPL", "coupon"),
  ...decs("unionTotalMargin", "unionAvailable", "unionMm", "isolatedMargin", "crossedMargin"),
  ...decs("crossedUnrealizedPL", "isolatedUnrealizedPL"),
  assetList: list(AssetSchema),
  assetMode,
});
export const AccountsSchema = z.array(AccountRowSchema);

/** GET /api/v2/mix/account/account → data: the row plus leverage / mode settings (API.md §5.1). */
export const SingleAccountSchema = AccountRowSchema.extend({
  ...decs("crossedMarginLeverage", "isolatedLongLever", "isolatedShortLever"),
  marginMode,
  posMode,
  grant: optStr,
});

/** all-position / single-position → data[i] (API.md §5.6). */
export const PositionRowSchema = z.object({
  symbol: sym,
  marginCoin: optSym,
  holdSide,
  total: dec,
  ...decs("available", "locked", "openDelegateSize", "marginSize", "leverage", "openPriceAvg"),
  ...decs("achievedProfits", "unrealizedPL", "liquidationPrice", "keepMarginRate", "markPrice"),
  ...decs("marginRatio", "breakEvenPrice", "totalFee", "deductedFee", "takeProfit", "stopLoss"),
  ...strs("takeProfitId", "stopLossId"),
  marginMode,
  posMode,
  assetMode,
  autoMargin: onOff,
  cTime: optMs,
  uTime: optMs,
});
export const PositionsSchema = z.array(PositionRowSchema);

/** Copies `state` into `status` when only `state` is present (API.md §5.5). */
const stateToStatus = (v: unknown) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  return o.status === undefined && o.state !== undefined ? { ...o, status: o.state } : o;
};

/** detail / orders-pending / orders-history row (API.md §5.5). */
export const OrderRowSchema = z.preprocess(
  stateToStatus,
  z.object({
    symbol: sym,
    orderId: str,
    clientOid: optStr,
    size: dec,
    status: orderStatus,
    side,
    ...decs("price", "priceAvg", "baseVolume", "quoteVolume", "fee", "totalProfits", "leverage"),
    ...decs("presetStopSurplusPrice", "presetStopSurplusExecutePrice"),
    ...decs("presetStopLossPrice", "presetStopLossExecutePrice"),
    ...strs("presetStopSurplusType", "presetStopLossType", "enterPointSource", "orderSource"),
    ...strs("cancelReason"),
    force,
    posSide,
    marginCoin: optSym,
    orderType,
    marginMode,
    reduceOnly: yesNo,
    tradeSide,
    posMode,
    cTime: optMs,
    uTime: optMs,
  }),
);
/** `{entrustedList, endId}` page; both may be null when there are no orders. */
export const OrdersPageSchema = z.object({ entrustedList: list(OrderRowSchema), endId: optStr });

const FeeDetailSchema = z.object({
  deduction: yesNo,
  feeCoin: optSym,
  ...decs("totalDeductionFee", "totalFee"),
});

/** GET /api/v2/mix/order/fills → data.fillList[i] (API.md §5.5). */
export const FillRowSchema = z.object({
  tradeId: str,
  symbol: sym,
  orderId: str,
  price: dec,
  baseVolume: dec,
  side,
  ...decs("quoteVolume", "profit"),
  feeDetail: list(FeeDetailSchema),
  enterPointSource: optStr,
  tradeSide,
  posMode,
  tradeScope,
  cTime: optMs,
});
export const FillsPageSchema = z.object({ fillList: list(FillRowSchema), endId: optStr });

/** place-order / cancel-order / place-tpsl-order → `{orderId, clientOid}` (either may be ""). */
export const OrderIdSchema = z.object({ orderId: optStr, clientOid: optStr });

/** batch-cancel-orders / close-positions / cancel-plan-order → success and failure lists. */
export const BatchResultSchema = z.object({
  successList: list(OrderIdSchema.extend({ symbol: optSym })),
  failureList: list(
    OrderIdSchema.extend({ symbol: optSym, errorMsg: optStr, errorCode: optStr }),
  ),
});

/** GET /api/v2/mix/order/orders-plan-pending → data.entrustedList[i] (API.md §5.7). */
export const PlanOrderRowSchema = z.object({
  orderId: str,
  symbol: sym,
  clientOid: optStr,
  planType,
  ...decs("size", "price", "executePrice", "callbackRatio", "triggerPrice"),
  ...decs("stopSurplusTriggerPrice", "stopSurplusExecutePrice"),
  ...decs("stopLossTriggerPrice", "stopLossExecutePrice"),
  triggerType,
  stopSurplusTriggerType: triggerType,
  stopLossTriggerType: triggerType,
  planStatus: optEnumOf([
    "live",
    "not_trigger",
    "triggered",
    "executed",
    "fail_trigger",
    "cancelled",
  ]),
  side: optEnumOf(["buy", "sell"]),
  posSide,
  marginCoin: optSym,
  marginMode,
  tradeSide,
  posMode,
  orderType,
  ...strs("enterPointSource", "orderSource"),
  cTime: optMs,
  uTime: optMs,
});
export const PlanOrdersPageSchema = z.object({
  entrustedList: list(PlanOrderRowSchema),
  endId: optStr,
});

/** set-leverage / set-margin-mode → data (API.md §5.2). */
export const LeverageResultSchema = z.object({
  symbol: optSym,
  marginCoin: optSym,
  ...decs("longLeverage", "shortLeverage", "crossMarginLeverage"),
  marginMode,
});
/** set-position-mode → data. */
export const PositionModeResultSchema = z.object({
  posMode: enumOf(["one_way_mode", "hedge_mode"], { "hedge-mode": "hedge_mode" }),
});

// ---- private WebSocket (API.md §3) -------------------------------------------------------------

export const WsArgSchema = z.object({
  instType: z.string(),
  channel: z.string().min(1),
  instId: optStr,
  coin: optStr,
});
/** Push envelope `{action, arg, data: [...], ts}`; rows are parsed per channel afterwards. */
export const WsPushEnvelopeSchema = z.object({
  action: z.string().transform((s) => s.toLowerCase()),
  arg: WsArgSchema,
  data: z.array(z.unknown()),
  ts: optMs,
});
/** Event frame: login / subscribe acks and errors; `code` number or string → number | null. */
export const WsEventSchema = z.object({
  event: z.string(),
  code: raw.transform((v) => (isAbsent(v) || !Number.isFinite(Number(v)) ? null : Number(v))),
  msg: optStr,
  arg: WsArgSchema.optional(),
  op: optStr,
});

/** `orders` push row (API.md §3.2), including the fill fields of an execution push. */
export const WsOrderSchema = z.object({
  orderId: str,
  clientOid: optStr,
  instId: sym,
  size: dec,
  status: orderStatus,
  side,
  ...decs("price", "notionalUsd", "leverage", "totalProfits", "accBaseVolume", "priceAvg"),
  ...decs("presetStopSurplusPrice", "presetStopSurplusExecutePrice"),
  ...decs("presetStopLossPrice", "presetStopLossExecutePrice"),
  ...decs("fillPrice", "baseVolume", "fillFee", "fillNotionalUsd", "pnl"),
  ...strs("presetStopSurplusType", "presetStopLossType", "enterPointSource", "cancelReason"),
  ...strs("stpMode", "tradeId"),
  fillFeeCoin: optSym,
  fillTime: optMs,
  tradeScope,
  posMode,
  tradeSide,
  orderType,
  force,
  posSide,
  marginMode,
  marginCoin: optSym,
  reduceOnly: yesNo,
  feeDetail: list(z.object({ feeCoin: optSym, fee: optDec })),
  cTime: optMs,
  uTime: optMs,
});

/** `positions` push row (API.md §3.2); `leverage` arrives as a number. */
export const WsPositionSchema = z.object({
  posId: optStr,
  instId: sym,
  marginCoin: optSym,
  holdSide,
  total: dec,
  ...decs("marginSize", "available", "frozen", "openPriceAvg", "leverage", "achievedProfits"),
  ...decs("unrealizedPL", "unrealizedPLR", "liquidationPrice", "keepMarginRate", "marginRate"),
  ...decs("isolatedMarginRate", "breakEvenPrice", "totalFee", "deductedFee", "markPrice"),
  marginMode,
  posMode,
  assetMode,
  autoMargin: onOff,
  cTime: optMs,
  uTime: optMs,
});

/** `account` push row (API.md §3.2). */
export const WsAccountSchema = z.object({
  marginCoin: sym,
  available: dec,
  ...decs("frozen", "maxOpenPosAvailable", "maxTransferOut", "equity", "usdtEquity"),
  ...decs("crossedRiskRate", "unrealizedPL", "unionTotalMargin", "unionAvailable", "unionMm"),
  assetsMode: assetMode,
});

/** `orders-algo` push row (API.md §3.2); planType kept as sent (docs show "pl"). */
export const WsAlgoOrderSchema = z.object({
  orderId: str,
  instId: sym,
  clientOid: optStr,
  ...decs("triggerPrice", "price", "executePrice", "size", "actualSize"),
  ...decs("stopSurplusTriggerPrice", "stopLossTriggerPrice"),
  triggerType,
  stopSurplusTriggerType: triggerType,
  stopLossTriggerType: triggerType,
  triggerTime: optMs,
  planType: optEnumOf(["pl", "tp", "sl", "normal_plan", "track_plan", "pos_profit", "pos_loss"]),
  status: optEnumOf(["live", "not_trigger", "triggered", "executed", "cancelled", "fail_trigger"]),
  orderType,
  side: optEnumOf(["buy", "sell"]),
  tradeSide,
  posSide,
  posMode,
  marginCoin: optSym,
  ...strs("enterPointSource", "stpMode"),
  cTime: optMs,
  uTime: optMs,
});

/** `fill` push row (API.md §3.2). In hedge mode `side` is the trade direction here. */
export const WsFillSchema = z.object({
  orderId: str,
  tradeId: str,
  clientOid: optStr,
  symbol: sym,
  side,
  price: dec,
  baseVolume: dec,
  ...decs("quoteVolume", "profit"),
  orderType,
  posMode,
  tradeSide,
  tradeScope,
  feeDetail: list(FeeDetailSchema),
  cTime: optMs,
  uTime: optMs,
});

/** `positions-history` push row (closed positions). */
export const WsPositionHistorySchema = z.object({
  posId: optStr,
  instId: sym,
  marginCoin: optSym,
  holdSide,
  ...decs("openPriceAvg", "closePriceAvg", "openSize", "closeSize", "achievedProfits"),
  ...decs("settleFee", "openFee", "closeFee"),
  marginMode,
  posMode,
  cTime: optMs,
  uTime: optMs,
});

/** `equity` push row (seen in JKorf's tests). */
export const WsEquitySchema = z.object({
  ...decs("btcEquity", "usdtEquity", "unrealizedPL", "unionTotalMargin", "unionAvailable"),
  ...decs("unionMm"),
});

/** Row schema per private channel. */
export const WS_CHANNEL_SCHEMAS = {
  "orders": WsOrderSchema,
  "positions": WsPositionSchema,
  "account": WsAccountSchema,
  "orders-algo": WsAlgoOrderSchema,
  "fill": WsFillSchema,
  "positions-history": WsPositionHistorySchema,
  "equity": WsEquitySchema,
} as const;
export type PrivateChannel = keyof typeof WS_CHANNEL_SCHEMAS;

// ---- types -----------------------------------------------------------------------------------

export type Envelope = z.infer<typeof EnvelopeSchema>;
export type AccountRow = z.infer<typeof AccountRowSchema>;
export type SingleAccount = z.infer<typeof SingleAccountSchema>;
export type PositionRow = z.infer<typeof PositionRowSchema>;
export type OrderRow = z.infer<typeof OrderRowSchema>;
export type OrdersPage = z.infer<typeof OrdersPageSchema>;
export type FillRow = z.infer<typeof FillRowSchema>;
export type FillsPage = z.infer<typeof FillsPageSchema>;
export type OrderIdResult = z.infer<typeof OrderIdSchema>;
export type BatchResult = z.infer<typeof BatchResultSchema>;
export type PlanOrderRow = z.infer<typeof PlanOrderRowSchema>;
export type PlanOrdersPage = z.infer<typeof PlanOrdersPageSchema>;
export type LeverageResult = z.infer<typeof LeverageResultSchema>;
export type PositionModeResult = z.infer<typeof PositionModeResultSchema>;
export type WsArg = z.infer<typeof WsArgSchema>;
export type WsEvent = z.infer<typeof WsEventSchema>;
export type WsOrder = z.infer<typeof WsOrderSchema>;
export type WsPosition = z.infer<typeof WsPositionSchema>;
export type WsAccount = z.infer<typeof WsAccountSchema>;
export type WsAlgoOrder = z.infer<typeof WsAlgoOrderSchema>;
export type WsFill = z.infer<typeof WsFillSchema>;
export type WsPositionHistory = z.infer<typeof WsPositionHistorySchema>;
export type WsEquity = z.infer<typeof WsEquitySchema>;
/** Parsed row type of each private channel. */
export type WsRowOf = { [C in PrivateChannel]: z.infer<(typeof WS_CHANNEL_SCHEMAS)[C]> };

// ---- helpers ---------------------------------------------------------------------------------

/** One line per zod issue: `path: message` (path joined with "." / "[i]"; "(root)" if empty). */
export function formatZodError(e: z.ZodError, max = 3): string {
  const lines = e.issues.slice(0, max).map((i) => {
    const path = i.path.map((p) => typeof p === "number" ? `[${p}]` : `.${p}`).join("");
    return `${path.replace(/^\./, "") || "(root)"}: ${i.message}`;
  });
  if (e.issues.length > max) lines.push(`(+${e.issues.length - max} more)`);
  return lines.join("; ");
}

/** A decimal string as a number (NaN-free: throws on a non-decimal). */
export function toNumber(s: string): number {
  const n = Number(s);
  if (!DEC_RE.test(s) || !Number.isFinite(n)) throw new RangeError(`not a decimal: ${s}`);
  return n;
}
/** `toNumber`, with null passing through. */
export function toNumberOrNull(s: string | null): number | null {
  return s === null ? null : toNumber(s);
}

/**
 * A request value as a plain decimal string (no exponent): strings are checked and kept as is,
 * numbers are formatted with up to 12 decimals (trailing zeros trimmed). Throws RangeError.
 */
export function toDecimalString(v: string | number): string {
  if (typeof v === "string") {
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(v)) throw new RangeError(`not a plain decimal: "${v}"`);
    return v;
  }
  if (!Number.isFinite(v)) throw new RangeError(`not a finite number: ${v}`);
  const s = String(v);
  if (!/e/i.test(s)) return s;
  return v.toFixed(12).replace(/\.?0+$/, "") || "0";
}
