// The comparison page's script: see index.html. Deterministic (a seeded generator), so two runs
// draw the same market.
"use strict";
const HZ = Number(new URLSearchParams(location.search).get("hz") ?? 200);
const SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "V", "XOM", "JNJ", "WMT", "BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD", "EUR-USD", "GBP-USD", "USD-JPY"];
const DOM_MS = 100;
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

const quotes = SYMBOLS.map((symbol, i) => ({ symbol, price: 100 + i * 37, open: 100 + i * 37, volume: 0, spark: [], dirty: true }));
const chartQuote = quotes[0];

// The chart: 500 one-second candles of past, then live.
const chart = LightweightCharts.createChart(document.getElementById("chart"), {
  autoSize: true,
  layout: { background: { color: "#ffffff" }, textColor: "#505a69" },
  grid: { vertLines: { color: "#edf0f4" }, horzLines: { color: "#edf0f4" } },
  timeScale: { timeVisible: true, secondsVisible: true },
  crosshair: { mode: 0 },
});
const candles = chart.addSeries(LightweightCharts.CandlestickSeries, { upColor: "#087a3a", downColor: "#c0252c", wickUpColor: "#087a3a", wickDownColor: "#c0252c", borderVisible: false });
const volume = chart.addSeries(LightweightCharts.HistogramSeries, { priceScaleId: "", priceFormat: { type: "volume" } });
volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
const now = Math.floor(Date.now() / 1000);
let bar = null;
{
  const past = [];
  const vols = [];
  let p = chartQuote.price;
  for (let t = now - 500; t < now; t++) {
    const o = p;
    let h = o, l = o;
    for (let k = 0; k < 5; k++) { p += (rand() - 0.5) * 0.4; h = Math.max(h, p); l = Math.min(l, p); }
    past.push({ time: t, open: o, high: h, low: l, close: p });
    vols.push({ time: t, value: Math.round(rand() * 1000), color: p >= o ? "rgba(8,122,58,0.3)" : "rgba(192,37,44,0.3)" });
  }
  candles.setData(past);
  volume.setData(vols);
  chartQuote.price = p;
}
chart.timeScale().fitContent();

// The book and the tape: 10 levels a side, 30 prints.
const bookRows = [];
const book = document.getElementById("book");
for (let i = 0; i < 20; i++) {
  const tr = book.insertRow();
  tr.insertCell(); tr.insertCell(); tr.insertCell();
  bookRows.push(tr);
}
const tapeBody = document.getElementById("tape");
// Prints since the tape was last drawn: the tape adds their rows and drops the oldest, as
// Tickertape's keyed tape does.
const fresh = [];

// The watchlist.
const rowsBody = document.getElementById("rows");
for (const q of quotes) {
  const tr = rowsBody.insertRow();
  for (let c = 0; c < 6; c++) tr.insertCell();
  tr.cells[0].textContent = q.symbol;
  const cell = tr.insertCell();
  const canvas = document.createElement("canvas");
  canvas.className = "spark";
  canvas.width = 80 * devicePixelRatio;
  canvas.height = 26 * devicePixelRatio;
  cell.appendChild(canvas);
  q.row = tr;
  q.canvas = canvas;
}

function tick() {
  const t = Math.floor(Date.now() / 1000);
  for (const q of quotes) {
    q.price = Math.max(1, q.price + (rand() - 0.5) * q.price * 0.0004);
    q.volume += Math.round(rand() * 10);
    q.dirty = true;
  }
  const p = chartQuote.price;
  if (!bar || bar.time !== t) bar = { time: t, open: p, high: p, low: p, close: p, volume: 0 };
  bar.high = Math.max(bar.high, p);
  bar.low = Math.min(bar.low, p);
  bar.close = p;
  bar.volume += Math.round(rand() * 10);
  candles.update({ time: bar.time, open: bar.open, high: bar.high, low: bar.low, close: bar.close });
  volume.update({ time: bar.time, value: bar.volume, color: bar.close >= bar.open ? "rgba(8,122,58,0.3)" : "rgba(192,37,44,0.3)" });
  fresh.push({ price: p, size: Math.round(rand() * 100), t: Date.now() });
  if (fresh.length > 30) fresh.shift();
}
setInterval(tick, 1000 / HZ);

function drawSpark(q) {
  const ctx = q.canvas.getContext("2d");
  const w = q.canvas.width, h = q.canvas.height, s = q.spark;
  ctx.clearRect(0, 0, w, h);
  if (s.length < 2) return;
  const lo = Math.min(...s), hi = Math.max(...s), span = hi - lo || 1;
  ctx.beginPath();
  s.forEach((v, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, (i / (s.length - 1)) * w, 2 + ((hi - v) / span) * (h - 4)));
  ctx.strokeStyle = s[s.length - 1] >= s[0] ? "#087a3a" : "#c0252c";
  ctx.lineWidth = 1.5 * devicePixelRatio;
  ctx.stroke();
}

function drawDepth(levels) {
  const canvas = document.getElementById("depth");
  const w = (canvas.width = canvas.clientWidth * devicePixelRatio);
  const h = (canvas.height = canvas.clientHeight * devicePixelRatio);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const lo = levels.bids[levels.bids.length - 1][0], hi = levels.asks[levels.asks.length - 1][0];
  let deepest = 0;
  for (const side of [levels.bids, levels.asks]) deepest = Math.max(deepest, side.reduce((a, l) => a + l[1], 0));
  for (const [side, fill, stroke] of [[levels.bids, "rgba(8,122,58,0.14)", "#087a3a"], [levels.asks, "rgba(192,37,44,0.13)", "#c0252c"]]) {
    ctx.beginPath();
    let total = 0;
    const x = (p) => ((p - lo) / (hi - lo)) * w;
    ctx.moveTo(x(side[0][0]), h);
    for (const [p, size] of side) {
      ctx.lineTo(x(p), h - (total / deepest) * (h - 4));
      total += size;
      ctx.lineTo(x(p), h - (total / deepest) * (h - 4));
    }
    ctx.lineTo(x(side[side.length - 1][0]), h);
    ctx.closePath();
    ctx.fillStyle = fill;
    ctx.fill();
    ctx.strokeStyle = stroke;
    ctx.stroke();
  }
}

// The DOM and the small canvases, ten times a second: only cells whose text changed are written.
const set = (cell, text) => { if (cell.textContent !== text) cell.textContent = text; };
setInterval(() => {
  for (const q of quotes) {
    if (!q.dirty) continue;
    q.dirty = false;
    q.spark.push(q.price);
    if (q.spark.length > 60) q.spark.shift();
    const chg = q.price - q.open;
    const c = q.row.cells;
    set(c[1], q.price.toFixed(2));
    set(c[2], (chg >= 0 ? "+" : "") + chg.toFixed(2));
    c[2].className = chg >= 0 ? "up" : "down";
    set(c[3], (q.price - 0.01).toFixed(2));
    set(c[4], (q.price + 0.01).toFixed(2));
    set(c[5], String(q.volume));
    drawSpark(q);
  }
  const mid = chartQuote.price;
  const levels = { bids: [], asks: [] };
  for (let i = 0; i < 20; i++) {
    levels.asks.push([mid + 0.01 * (i + 1), Math.round(50 + rand() * 200)]);
    levels.bids.push([mid - 0.01 * (i + 1), Math.round(50 + rand() * 200)]);
  }
  for (let i = 0; i < 10; i++) {
    const ask = levels.asks[9 - i], bid = levels.bids[i];
    set(bookRows[i].cells[0], ask[0].toFixed(2)); set(bookRows[i].cells[1], String(ask[1])); set(bookRows[i].cells[2], "");
    set(bookRows[10 + i].cells[0], bid[0].toFixed(2)); set(bookRows[10 + i].cells[1], String(bid[1])); set(bookRows[10 + i].cells[2], "");
  }
  drawDepth(levels);
  for (const p of fresh.splice(0)) {
    const tr = tapeBody.insertRow(0);
    tr.insertCell().textContent = p.price.toFixed(2);
    tr.insertCell().textContent = String(p.size);
    tr.insertCell().textContent = new Date(p.t).toISOString().slice(11, 23);
  }
  while (tapeBody.rows.length > 30) tapeBody.deleteRow(-1);
}, DOM_MS);
