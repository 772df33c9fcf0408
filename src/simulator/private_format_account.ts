/**
 * Bitget v2 JSON shapes of positions and the account (API.md §3.2 `positions` / `account`
 * pushes, §5.1 accounts / account, §5.6 all-position / single-position), conventions as in
 * private_format.ts. Pure functions.
 *
 * Account fields from the venue's SimAccount (USDT): `available` = balance − position margin
 * (order-frozen margin still counted, as Bitget's `available` ≥ `maxOpenPosAvailable` shows);
 * `locked` / `frozen` = margin reserved by open orders; `crossedMaxAvailable`,
 * `isolatedMaxAvailable`, `maxOpenPosAvailable`, `maxTransferOut` = the venue's available
 * (balance − position margin − order margin), minus unrealized losses in crossed mode;
 * `accountEquity` / `equity` / `usdtEquity` = balance + unrealized PnL at mark.
 */
import type { ContractSpec } from "../market/contracts.ts";
import {
  type AccountView,
  avg,
  dec,
  fixed,
  money,
  type Obj,
  type PositionView,
  posModeWire,
  px,
  size,
} from "./private_records.ts";

function breakEven(v: PositionView): number {
  const { pos, spec, meta } = v;
  const cost = pos.entryPrice * pos.size;
  const r = spec.takerFeeRate;
  return pos.holdSide === "long"
    ? (cost + meta.fees) / (pos.size * (1 - r))
    : (cost - meta.fees) / (pos.size * (1 + r));
}

const liq = (x: number, s: ContractSpec) => (Number.isFinite(x) && x > 0 ? avg(x, s) : "0");

/** all-position / single-position item (API.md §5.6); single-position adds `autoMargin`. */
export function positionRest(v: PositionView, single: boolean): Obj {
  const { pos: p, spec: s, meta } = v;
  const out: Obj = {
    marginCoin: "USDT",
    symbol: p.symbol,
    holdSide: p.holdSide,
    openDelegateSize: size(v.openDelegate, s),
    marginSize: money(p.margin),
    available: size(Math.max(0, p.size - v.frozen), s),
    locked: size(v.frozen, s),
    total: size(p.size, s),
    leverage: String(p.leverage),
    achievedProfits: money(meta.achieved),
    openPriceAvg: avg(p.entryPrice, s),
    marginMode: p.marginMode,
    posMode: posModeWire(v.posMode),
    unrealizedPL: money(p.unrealizedPnl),
    liquidationPrice: liq(p.liquidationPrice, s),
    keepMarginRate: String(v.mmr),
    markPrice: px(p.markPrice, s),
    marginRatio: dec(v.marginRatio, 10),
    breakEvenPrice: avg(breakEven(v), s),
    totalFee: money(meta.funding),
    deductedFee: money(meta.fees),
    takeProfit: v.tp?.plan.triggerPrice != null ? px(v.tp.plan.triggerPrice, s) : "",
    stopLoss: v.sl?.plan.triggerPrice != null ? px(v.sl.plan.triggerPrice, s) : "",
    takeProfitId: v.tp?.orderId ?? "",
    stopLossId: v.sl?.orderId ?? "",
    assetMode: "single",
  };
  if (single) out.autoMargin = "off";
  out.cTime = String(meta.cTime);
  out.uTime = String(meta.uTime);
  return out;
}

/** `positions` push item (API.md §3.2): `leverage` a JSON number. */
export function positionPush(v: PositionView): Obj {
  const { pos: p, spec: s, meta } = v;
  return {
    posId: meta.posId,
    instId: p.symbol,
    marginCoin: "USDT",
    marginSize: money(p.margin),
    marginMode: p.marginMode,
    holdSide: p.holdSide,
    posMode: posModeWire(v.posMode),
    total: size(p.size, s),
    available: size(Math.max(0, p.size - v.frozen), s),
    frozen: size(v.frozen, s),
    openPriceAvg: avg(p.entryPrice, s),
    leverage: p.leverage,
    achievedProfits: money(meta.achieved),
    unrealizedPL: money(p.unrealizedPnl),
    unrealizedPLR: dec(p.margin > 0 ? p.unrealizedPnl / p.margin : 0, 12),
    liquidationPrice: liq(p.liquidationPrice, s),
    keepMarginRate: String(v.mmr),
    marginRate: dec(v.marginRatio, 12),
    breakEvenPrice: avg(breakEven(v), s),
    totalFee: money(meta.funding),
    deductedFee: money(meta.fees),
    markPrice: px(p.markPrice, s),
    assetMode: "single",
    autoMargin: "off",
    cTime: String(meta.cTime),
    uTime: String(meta.uTime),
  };
}

interface AccountNumbers {
  /** Bitget `available`: balance − position margin (order-frozen margin included). */
  available: number;
  /** Order-frozen margin (`locked` / `frozen`). */
  frozen: number;
  /** What may open positions / be transferred: the venue's available, minus crossed losses. */
  maxAvailable: number;
  mm: number;
  crossedUpl: number;
  isolatedUpl: number;
  crossedMargin: number;
  isolatedMargin: number;
}

function accountNumbers(v: AccountView): AccountNumbers {
  const a = v.acct;
  let mm = 0;
  for (const p of v.positions) mm += p.size * p.markPrice * v.mmr;
  const cross = v.marginMode === "crossed";
  return {
    available: a.available + a.orderMargin,
    frozen: a.orderMargin,
    maxAvailable: Math.max(0, a.available + (cross ? Math.min(0, a.unrealizedPnl) : 0)),
    mm,
    crossedUpl: cross ? a.unrealizedPnl : 0,
    isolatedUpl: cross ? 0 : a.unrealizedPnl,
    crossedMargin: cross ? a.positionMargin : 0,
    isolatedMargin: cross ? 0 : a.positionMargin,
  };
}

/** accounts item (API.md §5.1). */
export function accountRest(v: AccountView): Obj {
  const a = v.acct;
  const n = accountNumbers(v);
  const cross = v.marginMode === "crossed";
  return {
    marginCoin: "USDT",
    locked: money(n.frozen),
    available: money(n.available),
    crossedMaxAvailable: money(n.maxAvailable),
    isolatedMaxAvailable: money(n.maxAvailable),
    maxTransferOut: money(n.maxAvailable),
    accountEquity: money(a.equity),
    usdtEquity: dec(a.equity, 12),
    btcEquity: Number.isFinite(v.btcMark) && v.btcMark > 0 ? dec(a.equity / v.btcMark, 12) : "0",
    crossedRiskRate: cross && a.equity > 0 ? dec(n.mm / a.equity, 12) : "0",
    unrealizedPL: money(a.unrealizedPnl),
    coupon: "0",
    unionTotalMargin: money(a.equity),
    unionAvailable: money(n.maxAvailable),
    unionMm: money(n.mm),
    assetList: [],
    isolatedMargin: money(n.isolatedMargin),
    crossedMargin: money(n.crossedMargin),
    crossedUnrealizedPL: money(n.crossedUpl),
    isolatedUnrealizedPL: money(n.isolatedUpl),
    assetMode: "single",
  };
}

/** account (single symbol) data (API.md §5.1): accounts fields + leverage and modes. */
export function accountSingleRest(v: AccountView, leverage: number): Obj {
  const base = accountRest(v);
  delete base.assetList;
  return {
    ...base,
    crossedMarginLeverage: String(leverage),
    isolatedLongLever: String(leverage),
    isolatedShortLever: String(leverage),
    marginMode: v.marginMode,
    posMode: posModeWire(v.posMode),
    grant: "",
  };
}

/** `account` push item (API.md §3.2). */
export function accountPush(v: AccountView): Obj {
  const a = v.acct;
  const n = accountNumbers(v);
  return {
    marginCoin: "USDT",
    frozen: fixed(n.frozen, 8),
    available: fixed(n.available, 8),
    maxOpenPosAvailable: fixed(n.maxAvailable, 8),
    maxTransferOut: fixed(n.maxAvailable, 8),
    equity: fixed(a.equity, 8),
    usdtEquity: fixed(a.equity, 12),
    crossedRiskRate: v.marginMode === "crossed" && a.equity > 0 ? dec(n.mm / a.equity, 12) : "0",
    unrealizedPL: fixed(a.unrealizedPnl, 12),
    unionTotalMargin: fixed(a.equity, 8),
    unionAvailable: fixed(n.maxAvailable, 8),
    unionMm: fixed(n.mm, 8),
    assetsMode: "single",
  };
}
