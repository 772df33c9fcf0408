/**
 * private_schemas.ts on every private fixture in shared/bitget/fixtures (docs/, ccxt/, jkorf/):
 * exact decimal strings, "" → null, `state`/`status`, null lists, number-or-string fields,
 * case-insensitive enums, and clear zod errors on malformed input.
 */
import assert from "node:assert/strict";
import type { z } from "zod";
import {
  AccountsSchema,
  BatchResultSchema,
  EnvelopeSchema,
  FillsPageSchema,
  formatZodError,
  LeverageResultSchema,
  OrderIdSchema,
  OrderRowSchema,
  OrdersPageSchema,
  PlanOrdersPageSchema,
  PositionModeResultSchema,
  PositionsSchema,
  type PrivateChannel,
  ServerTimeSchema,
  SingleAccountSchema,
  toDecimalString,
  toNumber,
  toNumberOrNull,
  WS_CHANNEL_SCHEMAS,
  WsEventSchema,
  WsPositionSchema,
  WsPushEnvelopeSchema,
} from "../src/bitget/private_schemas.ts";

const FIX = new URL("../../shared/bitget/fixtures/", import.meta.url);
const readJson = (f: string) => JSON.parse(Deno.readTextFileSync(new URL(f, FIX)));

/** Parses `schema` or fails the test with the formatted zod error. */
function must<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, v: unknown, what: string): T {
  const p = schema.safeParse(v);
  if (!p.success) assert.fail(`${what}: ${formatZodError(p.error)}`);
  return p.data;
}

function restData<T>(file: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>): T {
  const env = must(EnvelopeSchema, readJson(`docs/${file}`), file);
  assert.equal(env.code, "00000", file);
  assert.equal(typeof env.requestTime, "number", file);
  return must(schema, env.data, file);
}

function pushRows(obj: unknown, what: string) {
  const env = must(WsPushEnvelopeSchema, obj, what);
  const schema = WS_CHANNEL_SCHEMAS[env.arg.channel as PrivateChannel];
  assert.ok(schema, `${what}: channel ${env.arg.channel} has a schema`);
  // deno-lint-ignore no-explicit-any
  return { env, rows: env.data.map((r, i) => must(schema as any, r, `${what} data[${i}]`)) };
}

Deno.test("REST account fixtures parse; decimals exact, '' → null", () => {
  const [acc] = restData("rest_accounts.json", AccountsSchema);
  assert.equal(acc.marginCoin, "USDT");
  assert.equal(acc.usdtEquity, "10582.902657719473");
  assert.equal(acc.btcEquity, "0.204885807029");
  assert.equal(acc.unrealizedPL, null);
  assert.equal(acc.unionTotalMargin, null); // the doc example misspells it `unionTotalMagin`
  assert.deepEqual(acc.assetList, [{ coin: "BTC", balance: "1.2", available: "1.2" }]);
  assert.equal(acc.assetMode, "union");
  const one = restData("rest_account.json", SingleAccountSchema);
  assert.equal(one.crossedMarginLeverage, "20");
  assert.equal(one.posMode, "hedge_mode");
  assert.equal(one.marginMode, "crossed");
  assert.equal(one.usdtEquity, "13178.861106922");
});

Deno.test("REST position fixtures parse", () => {
  const [p] = restData("rest_all_position.json", PositionsSchema);
  assert.equal(p.symbol, "BTCUSDT");
  assert.equal(p.holdSide, "long");
  assert.equal(p.liquidationPrice, "24144.1124161806977798");
  assert.equal(p.marginSize, "9.6695050093373343");
  assert.equal(p.leverage, "20");
  assert.equal(p.takeProfitId, "11111111");
  assert.equal(p.cTime, 1691382137448);
  const [s] = restData("rest_single_position.json", PositionsSchema);
  assert.equal(s.autoMargin, "on");
  assert.equal(s.takeProfit, null);
  assert.deepEqual(must(PositionsSchema, [], "flat"), []);
});

Deno.test("REST order fixtures: status from `status` or `state`, symbols upper case", () => {
  const page = restData("rest_orders_pending.json", OrdersPageSchema);
  assert.equal(page.endId, "123");
  const [o] = page.entrustedList;
  assert.equal(o.status, "partially_filled");
  assert.equal(o.symbol, "ETHUSDT");
  assert.equal(o.marginCoin, "USDT");
  assert.equal(o.marginMode, "crossed"); // doc example says "cross"
  assert.equal(o.fee, null);
  assert.equal(o.presetStopLossExecutePrice, "1900");
  assert.equal(o.reduceOnly, null);
  const d = restData("rest_order_detail.json", OrderRowSchema);
  assert.equal(d.status, "filled"); // from "state"
  assert.equal(d.reduceOnly, true);
  assert.equal(d.tradeSide, null);
  assert.equal(d.cancelReason, null);
  assert.equal(d.posMode, "one_way_mode");
  assert.equal(d.uTime, 1627300098776);
  const both = must(OrderRowSchema, { ...rawDetail(), status: "canceled", state: "filled" }, "b");
  assert.equal(both.status, "canceled"); // `status` wins when both are present
});

function rawDetail(): Record<string, unknown> {
  return { ...readJson("docs/rest_order_detail.json").data };
}

Deno.test("REST fills, order ids, batch lists, plan orders, settings, time", () => {
  const fills = restData("rest_order_fills.json", FillsPageSchema);
  const [f] = fills.fillList;
  assert.equal(f.feeDetail[0].totalFee, "-0.017118519726");
  assert.equal(f.feeDetail[0].deduction, true);
  assert.equal(f.feeDetail[0].feeCoin, "BGB");
  assert.equal(f.tradeScope, "taker");
  assert.equal(f.tradeSide, "close");
  const placed = restData("rest_place_order_response.json", OrderIdSchema);
  assert.deepEqual(placed, { orderId: "121211212122", clientOid: "121211212122" });
  assert.deepEqual(restData("rest_cancel_order_response.json", OrderIdSchema), {
    orderId: "123",
    clientOid: null,
  });
  assert.equal(
    restData("rest_place_tpsl_order_response.json", OrderIdSchema).orderId,
    "121212121212",
  );
  const batch = restData("rest_batch_cancel_orders_response.json", BatchResultSchema);
  assert.equal(batch.successList[0].clientOid, "BITGET#121211212122");
  assert.equal(batch.failureList[0].errorMsg, "notExistend");
  assert.equal(batch.failureList[0].errorCode, null);
  const close = restData("rest_close_positions_response.json", BatchResultSchema);
  assert.equal(close.successList[0].symbol, "BTCUSDT");
  assert.equal(close.failureList[0].errorCode, "xxxx");
  const plan = restData("rest_cancel_plan_order_response.json", BatchResultSchema);
  assert.equal(plan.successList.length, 2);
  assert.equal(plan.failureList[1].clientOid, null);
  const pp = restData("rest_orders_plan_pending.json", PlanOrdersPageSchema);
  const [po] = pp.entrustedList;
  assert.equal(po.planType, "normal_plan");
  assert.equal(po.planStatus, "not_trigger");
  assert.equal(po.callbackRatio, null);
  assert.equal(po.uTime, null);
  assert.equal(po.stopLossTriggerPrice, "1820");
  assert.equal(po.stopSurplusTriggerType, "fill_price");
  const lev = restData("rest_set_leverage_response.json", LeverageResultSchema);
  assert.deepEqual(lev, {
    symbol: "BTCUSDT",
    marginCoin: "USDT",
    longLeverage: "25",
    shortLeverage: "20",
    crossMarginLeverage: "20",
    marginMode: "crossed",
  });
  const mm = restData("rest_set_margin_mode_response.json", LeverageResultSchema);
  assert.equal(mm.marginMode, "isolated");
  assert.equal(mm.crossMarginLeverage, null);
  const pm = restData("rest_set_position_mode_response.json", PositionModeResultSchema);
  assert.equal(pm.posMode, "one_way_mode");
  assert.equal(restData("rest_public_time.json", ServerTimeSchema).serverTime, 1688008631614);
});

Deno.test("docs ws_private_* pushes parse", () => {
  const files = [...Deno.readDirSync(new URL("docs/", FIX))]
    .map((e) => e.name)
    .filter((n) => n.startsWith("ws_private_") && !n.endsWith("_subscribe.json"))
    .sort();
  assert.deepEqual(files, [
    "ws_private_account.json",
    "ws_private_fill.json",
    "ws_private_orders.json",
    "ws_private_orders_algo.json",
    "ws_private_positions.json",
    "ws_private_positions_history.json",
  ]);
  const rows: Record<string, Record<string, unknown>> = {};
  for (const f of files) {
    const { env, rows: r } = pushRows(readJson(`docs/${f}`), f);
    assert.equal(env.action, "snapshot");
    assert.equal(typeof env.ts, "number");
    rows[env.arg.channel] = r[0] as Record<string, unknown>;
  }
  assert.equal(rows.orders.orderId, "13333333333333333333"); // > 2^53: kept as a string
  assert.equal(rows.orders.status, "live");
  assert.equal(rows.orders.enterPointSource, "API");
  assert.deepEqual(rows.orders.feeDetail, [{ feeCoin: "USDT", fee: "0.00000000" }]);
  assert.equal(rows.positions.leverage, "20"); // a JSON number in the push
  assert.equal(rows.positions.liquidationPrice, "5788.108475905242");
  assert.equal(rows.account.usdtEquity, "11.985457617660");
  assert.equal(rows.account.assetsMode, "union");
  assert.equal(rows["orders-algo"].planType, "pl");
  assert.equal(rows["orders-algo"].triggerPrice, "27000.000000000");
  assert.equal(rows.fill.baseVolume, "0.01");
  assert.equal(rows["positions-history"].closeFee, "-0.15732600");
});

Deno.test("ccxt private pushes parse (sparse account rows, bare position item)", () => {
  const acc = pushRows(readJson("ccxt/ws_private_account_usdt_futures_ccxt.json"), "ccxt acc");
  assert.equal((acc.rows[0] as { crossedRiskRate: string | null }).crossedRiskRate, null);
  const fill = pushRows(readJson("ccxt/ws_private_fill_usdt_futures_ccxt.json"), "ccxt fill");
  assert.equal((fill.rows[0] as { clientOid: string | null }).clientOid, null);
  const pos = must(WsPositionSchema, readJson("ccxt/ws_private_positions_item_ccxt.json"), "pos");
  assert.equal(pos.leverage, "20");
  assert.equal(pos.unrealizedPLR, "-0.00145955438");
  assert.equal(pos.posId, "926036334386778112");
});

/** `>` client, `<` server reply, `=` pushed update with JSON on the following lines. */
function jkorfTranscript(text: string): { replies: unknown[]; pushes: unknown[] } {
  const replies: unknown[] = [];
  const pushes: unknown[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith("< ")) replies.push(JSON.parse(lines[i].slice(2)));
    if (lines[i].startsWith("=")) {
      const rest = lines.slice(i + 1).join("\n").split(/\n[<>=] /)[0];
      pushes.push(JSON.parse(rest));
    }
  }
  return { replies, pushes };
}

Deno.test("jkorf transcripts: login acks, subscribe acks and pushes parse", () => {
  const files = [...Deno.readDirSync(new URL("jkorf/", FIX))].map((e) => e.name).sort();
  assert.equal(files.length, 4);
  let pushes = 0;
  for (const f of files) {
    const t = jkorfTranscript(Deno.readTextFileSync(new URL(`jkorf/${f}`, FIX)));
    const [login, sub] = t.replies.map((r) => must(WsEventSchema, r, f));
    assert.equal(login.event, "login");
    assert.equal(login.code, 0); // "0" in the transcript
    assert.equal(sub.event, "subscribe");
    for (const p of t.pushes) {
      pushRows(p, f);
      pushes++;
    }
  }
  assert.equal(pushes, 4);
  const order = jkorfTranscript(
    Deno.readTextFileSync(new URL("jkorf/Subscriptions_Futures_Order.txt", FIX)),
  );
  const { rows } = pushRows(order.pushes[0], "order");
  const o = rows[0] as Record<string, unknown>;
  assert.equal(o.tradeScope, "taker"); // "T"
  assert.equal(o.fillPrice, "27000.5");
  assert.equal(o.fillTime, 1695718781146);
  assert.equal(o.enterPointSource, "WEB");
});

Deno.test("login ack / error events: code as string or number", () => {
  assert.equal(must(WsEventSchema, readJson("docs/ws_login_ack.json"), "ack").code, 0);
  assert.equal(must(WsEventSchema, { event: "login", code: 0, msg: "" }, "ack").code, 0);
  const err = must(WsEventSchema, readJson("docs/ws_login_error.json"), "err");
  assert.equal(err.code, 30005);
  assert.equal(err.event, "error");
});

Deno.test("drift: null lists, number-or-string leverage and requestTime, enum case", () => {
  const empty = must(OrdersPageSchema, { entrustedList: null, endId: null }, "empty");
  assert.deepEqual(empty, { entrustedList: [], endId: null });
  assert.deepEqual(must(FillsPageSchema, { fillList: null, endId: null }, "f").fillList, []);
  const acc = readJson("docs/rest_account.json").data;
  const numeric = must(SingleAccountSchema, {
    ...acc,
    crossedMarginLeverage: 10,
    isolatedLongLever: 12.5,
    isolatedShortLever: "10",
    extraFieldFromTheFuture: { any: "thing" },
  }, "numeric leverage");
  assert.equal(numeric.crossedMarginLeverage, "10");
  assert.equal(numeric.isolatedLongLever, "12.5");
  assert.equal(numeric.isolatedShortLever, "10");
  assert.ok(!("extraFieldFromTheFuture" in numeric));
  const env = must(EnvelopeSchema, { code: "00000", requestTime: "1695806875837", data: {} }, "e");
  assert.equal(env.requestTime, 1695806875837);
  assert.equal(must(EnvelopeSchema, { code: 40786, data: null }, "n").code, "40786");
  const d = rawDetail();
  const up = must(OrderRowSchema, {
    ...d,
    state: "FILLED",
    side: "BUY",
    posMode: "HEDGE-MODE",
    marginMode: "Isolated",
  }, "upper");
  assert.equal(up.status, "filled");
  assert.equal(up.side, "buy");
  assert.equal(up.posMode, "hedge_mode");
  assert.equal(up.marginMode, "isolated");
  assert.equal(must(OrderRowSchema, { ...d, state: "Cancelled" }, "c").status, "canceled");
  assert.equal(must(OrderRowSchema, { ...d, state: "NEW_STATE" }, "u").status, "new_state");
});

Deno.test("malformed input: a clear zod error naming the field, never a throw", () => {
  const d = rawDetail();
  const bad = OrderRowSchema.safeParse({ ...d, size: "abc" });
  assert.ok(!bad.success);
  assert.match(formatZodError(bad.error), /^size: expected a decimal string, got "abc"/);
  const missing = OrderRowSchema.safeParse({ ...d, orderId: undefined });
  assert.ok(!missing.success);
  assert.match(formatZodError(missing.error), /orderId/);
  const nested = OrdersPageSchema.safeParse({ entrustedList: [{ ...d, cTime: "soon" }] });
  assert.ok(!nested.success);
  assert.match(formatZodError(nested.error), /^entrustedList\[0\]\.cTime: expected epoch ms/);
  for (const v of [null, 42, "x", [], { data: 1 }]) {
    assert.equal(OrderRowSchema.safeParse(v).success, false);
    assert.equal(WsPushEnvelopeSchema.safeParse(v).success, false);
  }
});

Deno.test("numeric helpers", () => {
  assert.equal(toNumber("0.001"), 0.001);
  assert.equal(toNumberOrNull(null), null);
  assert.throws(() => toNumber("abc"), RangeError);
  assert.equal(toDecimalString("1.50"), "1.50");
  assert.equal(toDecimalString(0.0000001), "0.0000001");
  assert.equal(toDecimalString(25000.5), "25000.5");
  assert.throws(() => toDecimalString("1e5"), RangeError);
  assert.throws(() => toDecimalString(Number.NaN), RangeError);
});
