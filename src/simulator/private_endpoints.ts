/**
 * The private REST endpoints of the loopback simulator (API.md §5): the route table, with the
 * account / position / query handlers inline and the trading ones in private_trade.ts
 * (transport, auth and limits in private_rest.ts, parameter rules in private_params.ts, shapes in
 * private_format*.ts). Each reads the request fields listed in its doc line and returns the
 * envelope's `data`, or throws ApiError with Bitget's code. `perSec` = requests per second per
 * API key (API.md §5.8); enum values are accepted in any case (API.md §10.8).
 *
 * Simulator decisions where Bitget's docs leave room: one margin mode for all symbols (switched
 * while flat); one leverage per symbol (`longLeverage` ≠ `shortLeverage` → 40020); preset / TP-SL
 * execute prices other than empty or 0 (limit execution) → 40020; empty lists: `entrustedList`
 * and `endId` null (as Bitget answers for orders-pending), `fillList` [] with `endId` null.
 */
import { fillRest, orderRest, planRest } from "./private_format.ts";
import { accountRest, accountSingleRest, positionRest } from "./private_format_account.ts";
import type { PrivateExchange } from "./private_exchange.ts";
import { ApiError, invalid, missing, page, type Params } from "./private_params.ts";
import type { Obj } from "./private_records.ts";
import {
  batchCancel,
  cancelPlans,
  ids,
  orderList,
  placeOrder,
  placeTpsl,
  value,
} from "./private_trade.ts";

export interface Endpoint {
  method: "GET" | "POST";
  perSec: number;
  /** `onPlace(clientOid)`: called once a place-order request has reached the exchange. */
  run(x: PrivateExchange, p: Params, onPlace: (clientOid: string) => void): unknown;
}

const A = "/api/v2/mix/account/";
const P = "/api/v2/mix/position/";
const O = "/api/v2/mix/order/";

function leverageOf(x: PrivateExchange, symbol: string) {
  const l = String(x.leverage.get(symbol));
  return { longLeverage: l, shortLeverage: l };
}

export const ENDPOINTS: Record<string, Endpoint> = {
  /** productType → [account] */
  [A + "accounts"]: {
    method: "GET",
    perSec: 10,
    run: (x, p) => {
      p.productType();
      return [accountRest(x.views.accountView())];
    },
  },
  /** symbol, productType, marginCoin → account + leverage and modes */
  [A + "account"]: {
    method: "GET",
    perSec: 10,
    run: (x, p) => {
      const symbol = p.symbol(x.specs, true);
      p.productType();
      p.marginCoin(true);
      return accountSingleRest(x.views.accountView(), x.leverage.get(symbol)!);
    },
  },
  /** symbol, productType, marginCoin, leverage | longLeverage + shortLeverage, holdSide */
  [A + "set-leverage"]: {
    method: "POST",
    perSec: 5,
    run: (x, p) => {
      const symbol = p.symbol(x.specs, true);
      p.productType();
      p.marginCoin(true);
      p.enumOf("holdSide", ["long", "short"], false);
      const long = p.num("longLeverage", false);
      const short = p.num("shortLeverage", false);
      if (long !== null && short !== null && long !== short) {
        throw invalid("longLeverage", "the simulator keeps one leverage per symbol");
      }
      const lev = long ?? short ?? p.num("leverage", true);
      if (!Number.isInteger(lev)) throw invalid("leverage");
      value(x.setLeverage(symbol, lev));
      return {
        symbol,
        marginCoin: "USDT",
        ...leverageOf(x, symbol),
        crossMarginLeverage: String(lev),
        marginMode: x.modes.marginMode,
      };
    },
  },
  /** symbol, productType, marginCoin, marginMode (applies to every symbol; flat only: 45117) */
  [A + "set-margin-mode"]: {
    method: "POST",
    perSec: 5,
    run: (x, p) => {
      const symbol = p.symbol(x.specs, true);
      p.productType();
      p.marginCoin(true);
      const mm = value(x.setMarginMode(p.enumOf("marginMode", ["isolated", "crossed"], true)));
      return { symbol, marginCoin: "USDT", ...leverageOf(x, symbol), marginMode: mm };
    },
  },
  /** productType, posMode (flat only: 40920) */
  [A + "set-position-mode"]: {
    method: "POST",
    perSec: 5,
    run: (x, p) => {
      p.productType();
      const m = p.enumOf("posMode", ["one_way_mode", "hedge_mode"], true);
      value(x.setPositionMode(m === "hedge_mode" ? "hedge" : "one_way"));
      return { posMode: m };
    },
  },
  /** productType, marginCoin → every open leg */
  [P + "all-position"]: {
    method: "GET",
    perSec: 5,
    run: (x, p) => {
      p.productType();
      p.marginCoin(false);
      return x.views.positions().map((v) => positionRest(v, false));
    },
  },
  /** productType, symbol, marginCoin → the symbol's legs ([] when flat) */
  [P + "single-position"]: {
    method: "GET",
    perSec: 10,
    run: (x, p) => {
      p.productType();
      const symbol = p.symbol(x.specs, true);
      p.marginCoin(true);
      return x.views.positions(symbol).map((v) => positionRest(v, true));
    },
  },
  /** see placeOrder: symbol, productType, marginMode, marginCoin, size, side, orderType, price, force, tradeSide, reduceOnly, clientOid, preset prices, stpMode */
  [O + "place-order"]: { method: "POST", perSec: 10, run: placeOrder },
  /** symbol, productType, marginCoin, orderId | clientOid → {orderId, clientOid} */
  [O + "cancel-order"]: {
    method: "POST",
    perSec: 10,
    run: (x, p) => {
      const symbol = p.symbol(x.specs, true);
      p.productType();
      p.marginCoin(false);
      const orderId = p.str("orderId");
      const clientOid = p.str("clientOid");
      if (orderId === null && clientOid === null) throw missing("orderId");
      return ids(value(x.cancelOrder(symbol, orderId, clientOid)));
    },
  },
  /** productType, symbol, marginCoin, orderIdList → {successList, failureList} */
  [O + "batch-cancel-orders"]: {
    method: "POST",
    perSec: 10,
    run: (x, p) => batchCancel(x, p, false),
  },
  /** productType, marginCoin → {successList, failureList} */
  [O + "cancel-all-orders"]: { method: "POST", perSec: 10, run: (x, p) => batchCancel(x, p, true) },
  /** productType, symbol, holdSide (hedge) → {successList, failureList}; nothing open → 22002 */
  [O + "close-positions"]: {
    method: "POST",
    perSec: 1,
    run: (x, p) => {
      p.productType();
      const symbol = p.symbol(x.specs, false);
      const hs = p.enumOf("holdSide", ["long", "short"], false);
      const hold = x.modes.positionMode === "hedge" ? hs : null;
      const successList: Obj[] = [];
      const failureList: Obj[] = [];
      for (const { symbol: s, r } of value(x.closePositions(symbol, hold))) {
        if (r.ok) successList.push({ ...ids(r.value), symbol: s });
        else {failureList.push({
            orderId: "",
            clientOid: "",
            symbol: s,
            errorMsg: r.msg,
            errorCode: r.code,
          });}
      }
      return { successList, failureList };
    },
  },
  /** symbol, productType, orderId | clientOid → the order (`state`); unknown → 40109 */
  [O + "detail"]: {
    method: "GET",
    perSec: 10,
    run: (x, p) => {
      const symbol = p.symbol(x.specs, true);
      p.productType();
      const orderId = p.str("orderId");
      const clientOid = p.str("clientOid");
      if (orderId === null && clientOid === null) throw missing("orderId");
      const rec = x.ledger.order(orderId, clientOid);
      if (!rec || rec.symbol !== symbol) {
        throw new ApiError(
          "40109",
          "The data of the order cannot be found, please confirm the order number",
        );
      }
      return orderRest(rec, "state");
    },
  },
  /** productType, symbol, orderId, clientOid, status, idLessThan, startTime, endTime, limit */
  [O + "orders-pending"]: { method: "GET", perSec: 10, run: (x, p) => orderList(x, p, true) },
  /** productType, symbol, orderId, clientOid, idLessThan, startTime, endTime, limit */
  [O + "orders-history"]: { method: "GET", perSec: 10, run: (x, p) => orderList(x, p, false) },
  /** productType, orderId, symbol, idLessThan, startTime, endTime, limit → {fillList, endId} */
  [O + "fills"]: {
    method: "GET",
    perSec: 10,
    run: (x, p) => {
      p.productType();
      const symbol = p.symbol(x.specs, false);
      const orderId = p.str("orderId");
      const items = x.ledger.fills.filter((f) =>
        (symbol === null || f.symbol === symbol) && (orderId === null || f.orderId === orderId)
      );
      const { list, endId } = page(items, (f) => f.tradeId, (f) => f.ts, p);
      return { fillList: list.map(fillRest), endId };
    },
  },
  /** see placeTpsl: marginCoin, productType, symbol, planType, triggerPrice, triggerType, executePrice, holdSide, size, rangeRate, clientOid */
  [O + "place-tpsl-order"]: { method: "POST", perSec: 10, run: (x, p) => placeTpsl(x, p) },
  /** productType, symbol, marginCoin, planType, orderIdList → {successList, failureList} */
  [O + "cancel-plan-order"]: { method: "POST", perSec: 10, run: (x, p) => cancelPlans(x, p) },
  /** planType (normal_plan | track_plan | profit_loss), productType, symbol, orderId, clientOid, paging */
  [O + "orders-plan-pending"]: {
    method: "GET",
    perSec: 10,
    run: (x, p) => {
      const planType = p.enumOf("planType", ["normal_plan", "track_plan", "profit_loss"], true);
      p.productType();
      const symbol = p.symbol(x.specs, false);
      const orderId = p.str("orderId");
      const clientOid = p.str("clientOid");
      const items = planType !== "profit_loss"
        ? []
        : [...x.ledger.plans.values()].filter((r) =>
          r.plan.status === "live" && (symbol === null || r.plan.symbol === symbol) &&
          (orderId === null || r.orderId === orderId) &&
          (clientOid === null || r.clientOid === clientOid)
        );
      const { list, endId } = page(items, (r) => r.orderId, (r) => r.cTime, p);
      return { entrustedList: list.length > 0 ? list.map(planRest) : null, endId };
    },
  },
};
