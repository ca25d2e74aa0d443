// Twelve dashboard tabs in one headless Chromium against a running server: how many go Live,
// how many streams the server holds, and the server's CPU and memory while they run, with the
// tabs sharing one stream and (the same page without Web Locks, as before the sharing) each
// with its own. `make bench-tabs` starts the server and runs this; see BENCHMARKS.md, "Tabs".
//
// usage: node bench/tabs.mjs BASE_URL SERVER_PID [TABS] [SECONDS]
import { chromium } from "@playwright/test";
import { readFileSync } from "node:fs";

const [base, pid, tabs = "12", seconds = "30"] = process.argv.slice(2);
if (!base || !pid) {
  console.error("usage: node bench/tabs.mjs BASE_URL SERVER_PID [TABS] [SECONDS]");
  process.exit(2);
}
const ticks = 100; // USER_HZ: the unit of /proc's CPU times on Linux

/** The server's CPU time (s) and resident memory (MB) now. */
function usage() {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpu = (Number(fields[11]) + Number(fields[12])) / ticks;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
  return { cpu, rss };
}

async function streams(request) {
  const text = await (await request.get(`${base}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("tickertape_clients{"))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
}

async function run(shared) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const context = await browser.newContext();
  // Without Web Locks, each tab keeps a connection of its own: the page as it was before.
  if (!shared) await context.addInitScript(() => delete Navigator.prototype.locks);
  const before = usage();
  const pages = [];
  for (let i = 0; i < Number(tabs); i++) pages.push(await context.newPage());
  await Promise.all(pages.map((p) => p.goto(base)));
  await new Promise((r) => setTimeout(r, 10_000)); // warm-up: every tab that will connect has
  const live = async () =>
    (await Promise.all(pages.map((p) => p.getByTestId("connection-status").textContent()))).filter(
      (s) => s === "Live",
    ).length;
  const start = usage();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
  const end = usage();
  const wall = (Date.now() - t0) / 1000;
  const result = {
    mode: shared ? "shared" : "own connections",
    tabs: Number(tabs),
    live: await live(),
    streams: await streams(context.request),
    server_cpu_pct: +((100 * (end.cpu - start.cpu)) / wall).toFixed(2),
    server_rss_mb: +end.rss.toFixed(1),
    server_rss_added_mb: +(end.rss - before.rss).toFixed(2),
  };
  await browser.close();
  return result;
}

const results = [];
for (const shared of [false, true, false, true]) {
  results.push(await run(shared));
  console.log(JSON.stringify(results.at(-1)));
}
