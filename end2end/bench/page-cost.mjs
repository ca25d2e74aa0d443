// What the dashboard costs the browser's main thread, beside the same screen built on
// lightweight-charts (bench/lwc/), in one headless Chromium at 1440×900: per animation frame,
// the main thread's busy time, script, and style + layout (CDP Performance.getMetrics, thread
// time), the frame rate and the longest frame, over SECONDS after a warm-up. The two pages are
// measured alternately, RUNS times each, at 200 and at 10 frames/s; the cheapest run of each is
// reported (a noisy machine only ever adds time). `make bench-page` starts the two servers and
// runs this; BENCHMARKS.md, "Page cost against lightweight-charts", has the results.
//
// usage: node bench/page-cost.mjs URL_AT_200_HZ URL_AT_10_HZ [SECONDS] [RUNS]
import { chromium } from "@playwright/test";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const [fast, slow, seconds = "10", runs = "2"] = process.argv.slice(2);
if (!fast || !slow) {
  console.error("usage: node bench/page-cost.mjs URL_AT_200_HZ URL_AT_10_HZ [SECONDS] [RUNS]");
  process.exit(2);
}
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const files = {
  "/index.html": ["text/html", readFileSync(here("lwc/index.html"))],
  "/screen.js": ["text/javascript", readFileSync(here("lwc/screen.js"))],
  "/lightweight-charts.js": [
    "text/javascript",
    readFileSync(here("../node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js")),
  ],
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});

async function measure(kind, hz) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.route("http://lwc.bench/**", (route) => {
    const [type, body] = files[new URL(route.request().url()).pathname] ?? ["text/plain", ""];
    return route.fulfill({ status: body ? 200 : 404, contentType: type, body });
  });
  if (kind === "tickertape") {
    await page.goto(hz === 200 ? fast : slow);
    await page.getByTestId("connection-status").filter({ hasText: "Live" }).waitFor();
    // The widest view, as the comparison page's: 500 one-second candles.
    await page.getByTestId("price-chart").locator(".plot").focus();
    for (let i = 0; i < 10; i++) await page.keyboard.press("-");
  } else {
    await page.goto(`http://lwc.bench/index.html?hz=${hz}`);
  }
  await page.evaluate(() => {
    const w = window;
    w.__gaps = [];
    let last = 0;
    const count = (t) => {
      if (last) w.__gaps.push(t - last);
      last = t;
      requestAnimationFrame(count);
    };
    requestAnimationFrame(count);
  });
  await page.waitForTimeout(3_000); // warm-up
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable", { timeDomain: "threadTicks" });
  const metrics = async () =>
    Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value * 1000]));
  await page.evaluate(() => (window.__gaps = []));
  const m0 = await metrics();
  await page.waitForTimeout(Number(seconds) * 1000);
  const m1 = await metrics();
  const gaps = await page.evaluate(() => window.__gaps);
  await context.close();
  const frames = gaps.length;
  const per = (name) => +((m1[name] - m0[name]) / frames).toFixed(2);
  return {
    page: kind,
    hz,
    fps: +(frames / Number(seconds)).toFixed(1),
    longestFrameMs: +Math.max(...gaps).toFixed(1),
    mainThreadMs: per("TaskDuration"),
    scriptMs: per("ScriptDuration"),
    styleLayoutMs: +(per("RecalcStyleDuration") + per("LayoutDuration")).toFixed(2),
  };
}

const results = [];
for (const hz of [200, 10]) {
  for (let r = 0; r < Number(runs); r++) {
    for (const kind of ["tickertape", "lightweight-charts"]) {
      const m = await measure(kind, hz);
      console.log(JSON.stringify(m));
      results.push(m);
    }
  }
}
await browser.close();

console.log("\n| frames/s | page | main thread ms/frame | script | style + layout | fps | longest frame ms |");
console.log("|---|---|---|---|---|---|---|");
for (const hz of [200, 10]) {
  const best = {};
  for (const kind of ["tickertape", "lightweight-charts"]) {
    best[kind] = results.filter((m) => m.page === kind && m.hz === hz).reduce((a, b) => (b.mainThreadMs < a.mainThreadMs ? b : a));
    const b = best[kind];
    console.log(`| ${hz} | ${kind} | ${b.mainThreadMs} | ${b.scriptMs} | ${b.styleLayoutMs} | ${b.fps} | ${b.longestFrameMs} |`);
  }
  const ratio = best.tickertape.mainThreadMs / best["lightweight-charts"].mainThreadMs;
  console.log(`| ${hz} | ratio | ${ratio.toFixed(2)} | | | | |`);
}
