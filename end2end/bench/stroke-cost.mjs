// What stroking costs a canvas without a GPU, by line width: nineteen 60-point lines on an
// 80×860 canvas (the watchlist's sparklines), in one path per colour or one path per line, timed
// with the raster forced (`getImageData`). ui/canvas.rs cites it for its one-pixel lines.
//
// usage: cd end2end && node bench/stroke-cost.mjs
import { chromium } from "@playwright/test";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const page = await browser.newPage();
await page.setContent("<canvas id=c width=80 height=860></canvas>");
const results = await page.evaluate(() => {
  const ctx = document.getElementById("c").getContext("2d");
  let seed = 1;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const rows = Array.from({ length: 19 }, () => Array.from({ length: 60 }, rand));
  const line = (i) =>
    rows[i].forEach((v, k) => (k ? ctx.lineTo : ctx.moveTo).call(ctx, (k / 59) * 80, i * 45 + 2 + v * 22));
  const draw = (perLine, width) => {
    ctx.clearRect(0, 0, 80, 860);
    ctx.lineWidth = width;
    if (perLine) {
      for (let i = 0; i < 19; i++) {
        ctx.beginPath();
        line(i);
        ctx.strokeStyle = i % 2 ? "#c0252c" : "#087a3a";
        ctx.stroke();
      }
    } else {
      for (const up of [true, false]) {
        ctx.beginPath();
        for (let i = 0; i < 19; i++) if ((i % 2 === 0) === up) line(i);
        ctx.strokeStyle = up ? "#087a3a" : "#c0252c";
        ctx.stroke();
      }
    }
    ctx.getImageData(0, 0, 1, 1); // the raster happens here
  };
  const out = [];
  for (const width of [0.5, 1, 1.25, 1.5, 2, 3]) {
    for (const perLine of [false, true]) {
      for (let i = 0; i < 20; i++) draw(perLine, width);
      const t0 = performance.now();
      for (let i = 0; i < 200; i++) draw(perLine, width);
      out.push({ width, paths: perLine ? "one per line" : "one per colour", ms: +((performance.now() - t0) / 200).toFixed(3) });
    }
  }
  return out;
});
await browser.close();
console.log("| line width (px) | paths | ms per draw |\n|---|---|---|");
for (const r of results) console.log(`| ${r.width} | ${r.paths} | ${r.ms} |`);
