/**
 * In-page parts of the HTML backtest report (report_html.ts): CSS, an early script that collects
 * window errors, and the script that draws the charts with Lightweight Charts v5 (global
 * `LightweightCharts` from the inlined standalone bundle) from the JSON in
 * `<script id="report-data">`, then runs a render self-check.
 *
 * Self-check: every `.chart` container must hold canvases in which each of its required "ink"
 * colours (the series colours, set by the drawing code in `data-ink`) covers at least
 * MIN_INK_PIXELS pixels, read back with getImageData. Lightweight Charts draws each pane, axis
 * and overlay on separate canvases, so all canvases of a container are scanned. The result is
 * written to `<pre id="render-check">` as JSON: {"charts":N,"drawn":N,"errors":[...],
 * "final":bool,"attempts":n,"details":[{"chart","canvases","ink":{colour:pixels},"markers"}]}
 * (rewritten on every retry; "final" is true once all charts are drawn, an error occurred or
 * the retries ran out). Checking series colours,
 * not just "something differs from the background", means grid lines and axis labels alone do
 * not pass.
 *
 * The scripts are plain ES5-style JavaScript in string constants (they use no template literals
 * themselves), so they survive `deno bundle` unchanged and need no DOM typings in `deno check`.
 */

/** Minimum pixels of each required series colour for a chart to count as drawn. */
export const MIN_INK_PIXELS = 10;
/**
 * Marker labels (exit reasons) are drawn only up to this many markers per price pane; with more
 * they overlap into an unreadable block, so they show in the line above the pane on hover.
 */
export const MAX_MARKER_LABELS = 40;

export const PAGE_CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
  margin: 0 auto; padding: 16px 24px 40px; max-width: 1500px; background: #fff; }
h1 { font-size: 22px; margin: 4px 0 12px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.note { color: #59636e; font-size: 12.5px; font-weight: normal; }
.empty { color: #59636e; font-style: italic; padding: 12px; background: #f6f8fa; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f6f8fa; font-weight: 600; }
th:first-child { text-align: left; }
table.params td { text-align: left; white-space: normal; word-break: break-all; }
.pos { color: #1a7f37; } .neg { color: #cf222e; }
td.na { background: #fafafa; }
td.year { font-weight: 600; }
.scroll { max-height: 640px; overflow: auto; border: 1px solid #d0d7de; }
.scroll table { border: 0; }
.chart { position: relative; width: 100%; border: 1px solid #d0d7de; }
.hover { min-height: 1.4em; margin: 0 0 2px; }
.chart.price { height: 380px; } .chart.equity { height: 460px; } .chart.pnl { height: 300px; }
pre#render-check { background: #f6f8fa; padding: 8px; white-space: pre-wrap; font-size: 12px; }
footer { margin-top: 32px; color: #59636e; font-size: 12px; }
`;

/** Runs before anything else in the page: collects uncaught errors for the self-check. */
export const PRE_SCRIPT = `
window.__report = { errors: [] };
window.addEventListener("error", function (e) {
  window.__report.errors.push(String(e.message || e.type) + (e.lineno ? " (line " + e.lineno + ")" : ""));
});
window.addEventListener("unhandledrejection", function (e) {
  window.__report.errors.push("unhandled rejection: " + String(e.reason));
});
`;

/** Draws the charts, then runs the self-check (see module doc). */
export const PAGE_SCRIPT = `
(function () {
  "use strict";
  var R = window.__report;
  var MIN_INK = ${MIN_INK_PIXELS};
  var MAX_LABELS = ${MAX_MARKER_LABELS};
  var details = [];
  function fail(where, e) { R.errors.push(where + ": " + (e && e.message ? e.message : String(e))); }
  function box(id) { return document.querySelector('[data-chart="' + id + '"]'); }
  var L = window.LightweightCharts;
  var data = null;
  try {
    if (!L) throw new Error("LightweightCharts bundle did not load");
    data = JSON.parse(document.getElementById("report-data").textContent);
  } catch (e) { fail("init", e); }
  var EQ = "#2962ff", DD = "#e91e63", BH = "#f7a600";
  function base(extra) {
    var o = {
      autoSize: true,
      layout: { background: { type: "solid", color: "#ffffff" }, textColor: "#1f2328", fontSize: 11 },
      grid: { vertLines: { color: "#f0f3fa" }, horzLines: { color: "#f0f3fa" } },
      rightPriceScale: { borderColor: "#d0d7de" },
      // minBarSpacing below the default 0.5 px: fitContent can then show every bar of a long run
      // (5,000 bars in a 1,300 px pane), which the default would cut to a window mid-run.
      timeScale: { borderColor: "#d0d7de", timeVisible: true, secondsVisible: false, minBarSpacing: 0.01 },
      crosshair: { mode: 0 }
    };
    for (var k in extra) o[k] = extra[k];
    return o;
  }
  function guard(id, fn) {
    var el = box(id);
    if (!el) return;
    try { fn(el); } catch (e) { fail(id, e); }
  }
  if (data) {
    var C = data.colors;
    data.symbols.forEach(function (s, i) {
      if (!s.bars.length) return;
      guard("price-" + i, function (el) {
        var chart = L.createChart(el, base({}));
        var series = chart.addSeries(L.CandlestickSeries, {
          upColor: C.buy, downColor: C.sell, borderVisible: false,
          wickUpColor: C.buy, wickDownColor: C.sell,
          priceFormat: { type: "price", precision: s.precision, minMove: Math.pow(10, -s.precision) }
        });
        series.setData(s.bars.map(function (b) {
          return { time: b[0], open: b[1], high: b[2], low: b[3], close: b[4] };
        }));
        // Labels only while they stay readable; beyond that the exit reason shows on hover.
        var labelled = s.markers.length <= MAX_LABELS;
        var shown = labelled ? s.markers : s.markers.map(function (m) {
          return { time: m.time, position: m.position, shape: m.shape, color: m.color };
        });
        var mk = L.createSeriesMarkers(series, shown);
        var byTime = {};
        s.markers.forEach(function (m) { (byTime[m.time] = byTime[m.time] || []).push(m); });
        var legend = el.parentNode && el.parentNode.querySelector(".hover");
        chart.subscribeCrosshairMove(function (p) {
          if (!legend) return;
          var ms = p && p.time !== undefined ? byTime[p.time] : null;
          legend.textContent = ms ? ms.map(function (m) {
            return (m.shape === "arrowUp" ? "buy" : "sell") + (m.text ? " · " + m.text : "");
          }).join("   ") : "";
        });
        chart.timeScale().fitContent();
        // autoSize measures the box on a later frame: fit again then, so the pane opens on the
        // whole run.
        requestAnimationFrame(function () { chart.timeScale().fitContent(); });
        el.__chart = chart;
        el.__bars = s.bars.length;
        el.setAttribute("data-labels", String(labelled ? s.markers.filter(function (m) { return m.text; }).length : 0));
        // Require only the candle colours the data has (a calm stretch may have no down bar).
        var up = s.bars.some(function (b) { return b[4] >= b[1]; });
        var down = s.bars.some(function (b) { return b[4] < b[1]; });
        el.setAttribute("data-ink", (up ? [C.buy] : []).concat(down ? [C.sell] : []).join(","));
        el.setAttribute("data-markers", String(mk.markers().length));
      });
    });
    guard("equity", function (el) {
      var rows = data.equity;
      var chart = L.createChart(el, base({}));
      var money = { type: "price", precision: 2, minMove: 0.01 };
      var eq = chart.addSeries(L.LineSeries, { color: EQ, lineWidth: 2, priceFormat: money, title: "equity" });
      eq.setData(rows.map(function (r) { return { time: r[0], value: r[1] }; }));
      var bhRows = rows.filter(function (r) { return r[3] !== null; });
      if (bhRows.length) {
        var bh = chart.addSeries(L.LineSeries, {
          color: BH, lineWidth: 1, lineStyle: 2, priceFormat: money, title: "buy & hold",
          lastValueVisible: false, priceLineVisible: false
        });
        bh.setData(bhRows.map(function (r) { return { time: r[0], value: r[3] }; }));
      }
      var dd = chart.addSeries(L.BaselineSeries, {
        baseValue: { type: "price", price: 0 }, lineWidth: 2,
        topLineColor: DD, bottomLineColor: DD,
        topFillColor1: "rgba(233,30,99,0.05)", topFillColor2: "rgba(233,30,99,0.05)",
        bottomFillColor1: "rgba(233,30,99,0.05)", bottomFillColor2: "rgba(233,30,99,0.35)",
        priceFormat: { type: "custom", minMove: 0.01, formatter: function (v) { return v.toFixed(2) + "%"; } },
        title: "drawdown"
      }, 1);
      dd.setData(rows.map(function (r) { return { time: r[0], value: r[2] }; }));
      var panes = chart.panes();
      if (panes.length > 1) { panes[0].setStretchFactor(0.7); panes[1].setStretchFactor(0.3); }
      chart.timeScale().fitContent();
      el.setAttribute("data-ink", EQ + "," + DD);
    });
    guard("pnl", function (el) {
      var chart = L.createOptionsChart(el, base({ localization: { precision: 2 } }));
      var hs = chart.addSeries(L.HistogramSeries, { priceFormat: { type: "price", precision: 0, minMove: 1 } });
      var inks = {};
      hs.setData(data.hist.map(function (b) {
        var color = b[0] < 0 ? C.sell : C.buy;
        if (b[1] > 0) inks[color] = true;
        return { time: b[0], value: b[1], color: color };
      }));
      chart.timeScale().fitContent();
      el.setAttribute("data-ink", Object.keys(inks).join(","));
    });
  }

  function rgb(hex) {
    var n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  function inspect(el) {
    var inks = (el.getAttribute("data-ink") || "").split(",").filter(Boolean);
    var want = inks.map(rgb);
    var counts = inks.map(function () { return 0; });
    var canvases = el.querySelectorAll("canvas");
    for (var c = 0; c < canvases.length; c++) {
      var cv = canvases[c];
      if (!cv.width || !cv.height) continue;
      var px = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
      for (var p = 0; p < px.length; p += 4) {
        if (px[p + 3] < 200) continue;
        for (var k = 0; k < want.length; k++) {
          var w = want[k];
          if (Math.abs(px[p] - w[0]) <= 6 && Math.abs(px[p + 1] - w[1]) <= 6 && Math.abs(px[p + 2] - w[2]) <= 6) counts[k]++;
        }
      }
    }
    var ink = {};
    inks.forEach(function (h, k) { ink[h] = counts[k]; });
    var ok = inks.length > 0 && counts.every(function (n) { return n >= MIN_INK; });
    var m = el.getAttribute("data-markers");
    var lb = el.getAttribute("data-labels");
    var out = { chart: el.getAttribute("data-chart"), canvases: canvases.length, ink: ink, drawn: ok,
      markers: m === null ? null : Number(m), labels: lb === null ? null : Number(lb) };
    if (el.__chart) {
      // The bars the pane shows on opening, as logical indexes [from, to] out of the bar count.
      var r = el.__chart.timeScale().getVisibleLogicalRange();
      out.visible = r ? [r.from, r.to] : null;
      out.bars = el.__bars;
    }
    return out;
  }
  var tries = 0;
  function check() {
    var boxes = document.querySelectorAll(".chart");
    var res = [];
    var drawn = 0;
    for (var i = 0; i < boxes.length; i++) {
      var d;
      try { d = inspect(boxes[i]); } catch (e) { fail("check", e); d = { chart: boxes[i].getAttribute("data-chart"), drawn: false }; }
      if (d.drawn) drawn++;
      res.push(d);
    }
    // Charts paint on animation frames after autoSize measures the box: retry for up to ~5 s
    // unless an error already decided the outcome. Every attempt is written ("final": false
    // until the last) so a reader that stops early sees the state, not "pending".
    var again = drawn < boxes.length && R.errors.length === 0 && ++tries < 50;
    document.getElementById("render-check").textContent = JSON.stringify({
      charts: boxes.length, drawn: drawn, errors: R.errors, final: !again, attempts: tries + 1,
      details: res
    });
    if (again) setTimeout(check, 100);
  }
  function start() { setTimeout(check, 0); }
  if (document.readyState === "complete") start(); else window.addEventListener("load", start);
})();
`;
