import { test, expect } from "./fixtures";
import type { APIRequestContext, BrowserContext, Page } from "@playwright/test";

// A browser allows six HTTP/1.1 connections per site: with a stream per tab, a seventh tab
// never connects. The dashboard's tabs share one stream (see app/src/live/share.rs).

const TABS = 12;

// A trace snapshots every page at every step: twelve live pages would spend the machine on it.
test.use({ trace: "off" });

/** Connections the server has opened for `transport` since it started (`/metrics`). */
async function opened(request: APIRequestContext, transport: string): Promise<number> {
  const text = await (await request.get("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(`tickertape_connections_opened_total{transport="${transport}"}`));
  return Number(line?.split(" ").pop() ?? 0);
}

/** Streaming clients the server holds now, over every transport (`/metrics`). */
async function streams(request: APIRequestContext): Promise<number> {
  const text = await (await request.get("/metrics")).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith("tickertape_clients{"))
    .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
}

const status = (page: Page) => page.getByTestId("connection-status");
const role = (page: Page) => page.getByTestId("stream-role").getAttribute("data-role");
const seqs = (page: Page) => page.evaluate(() => ((window as any).__tickertapeSeqs ?? []) as number[]);
const snapshots = (page: Page) => page.evaluate(() => ((window as any).__tickertapeSnapshots ?? 0) as number);
const rows = (page: Page) =>
  page.getByTestId("quote-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-symbol")));

async function universe(request: APIRequestContext): Promise<string[]> {
  const snapshot = await (await request.get("/api/snapshot")).json();
  return snapshot.instruments.map((i: { symbol: string }) => i.symbol);
}

/** Tab `i`'s symbols: three of the universe, a different set for each tab, its chart on the first. */
function setOf(all: string[], i: number): string[] {
  return [all[i % all.length], all[(i + 3) % all.length], all[(i + 7) % all.length]];
}

/** Opens the tabs (each on its own symbols) and waits until every one is Live within 3 s. */
async function openTabs(context: BrowserContext, transport: string, sets: string[][]): Promise<Page[]> {
  const pages: Page[] = [];
  for (let i = 0; i < sets.length; i++) pages.push(await context.newPage());
  await Promise.all(
    pages.map((page, i) => page.goto(`/?transport=${transport}&symbols=${sets[i].join(",")}&symbol=${sets[i][0]}`)),
  );
  await Promise.all(pages.map((page) => expect(status(page)).toHaveText("Live", { timeout: 3_000 })));
  return pages;
}

/** From now on, every text the page's badge shows other than Live is kept in `__notLive`. */
async function watchBadge(page: Page) {
  await page.evaluate(() => {
    const badge = document.querySelector('[data-testid="connection-status"]')!;
    (window as any).__notLive = [];
    new MutationObserver(() => {
      if (badge.textContent !== "Live") (window as any).__notLive.push(badge.textContent);
    }).observe(badge, { childList: true, characterData: true, subtree: true });
  });
}

/** The sequence numbers of the server's frames after `after` up to `end` for a selection. */
async function serverSeqs(request: APIRequestContext, epoch: string, after: number, end: number, query: string) {
  const out: number[] = [];
  let from = `${epoch}-${after}`;
  while (true) {
    const batch = await (await request.get(`/api/poll?${query}&after=${from}&timeout_ms=0`)).json();
    for (const event of batch.events) {
      const seq = Number(String(event.id).split("~")[0].split("-")[1]);
      if (seq <= end) out.push(seq);
    }
    const next = Number(String(batch.next).split("~")[0].split("-")[1]);
    if (next >= end || batch.events.length === 0) return out;
    from = batch.next;
  }
}

for (const transport of ["sse", "ws", "poll"]) {
  test(`over ${transport}: twelve tabs share one stream, each sees its own symbols, and survive the holder closing`, async ({
    browser,
  }) => {
    test.setTimeout(90_000);
    const context = await browser.newContext();
    try {
      await expect.poll(() => streams(context.request), { message: "no stream left from earlier tests" }).toBe(0);
      const all = await universe(context.request);
      const sets = Array.from({ length: TABS }, (_, i) => setOf(all, i));
      const wsBefore = await opened(context.request, "Ws");
      const pages = await openTabs(context, transport, sets);
      // Over a WebSocket the stream widens with `set` as the tabs join, on one connection.
      if (transport === "ws") expect(await opened(context.request, "Ws")).toBe(wsBefore + 1);

      // One stream (and at most a tab's catch-up poll beside it), not twelve.
      await expect.poll(() => streams(context.request)).toBeLessThanOrEqual(2);
      // (A long poll is counted while it waits, not between two polls.)
      if (transport !== "poll") expect(await streams(context.request)).toBeGreaterThanOrEqual(1);
      const roles = await Promise.all(pages.map(role));
      expect(roles.filter((r) => r === "holding")).toHaveLength(1);
      expect(roles.filter((r) => r === "through")).toHaveLength(TABS - 1);

      // Each tab shows exactly its own symbols, moving.
      for (let i = 0; i < TABS; i++) expect(await rows(pages[i])).toEqual(sets[i]);
      const first = await pages[TABS - 1].getByTestId("quote-last").allTextContents();
      await expect
        .poll(async () => (await pages[TABS - 1].getByTestId("quote-last").allTextContents()).join() !== first.join())
        .toBe(true);

      // The holder closes: another tab takes over, and every tab's frames run on without a gap
      // or a repeat, its badge Live throughout.
      const holder = pages[roles.indexOf("holding")];
      const rest = pages.filter((p) => p !== holder);
      await Promise.all(rest.map(watchBadge));
      const snapshotsBefore = await Promise.all(rest.map(snapshots));
      const before = Math.max(...(await Promise.all(rest.map(async (p) => (await seqs(p)).at(-1) ?? 0))));
      const closing = Date.now();
      await holder.close();
      await expect
        .poll(async () => (await Promise.all(rest.map(role))).filter((r) => r === "holding").length, {
          message: "another tab holds the stream",
        })
        .toBe(1);
      const heir = rest[(await Promise.all(rest.map(role))).indexOf("holding")];
      const heldSince = await heir.evaluate(() => (window as any).__tickertapeHeldSince as number);
      expect(heldSince - closing, "taken over within a second of the close").toBeLessThan(1_000);
      for (const page of rest) {
        await expect.poll(async () => (await seqs(page)).at(-1) ?? 0).toBeGreaterThan(before + 30);
      }
      const end = Math.min(...(await Promise.all(rest.map(async (p) => (await seqs(p)).at(-1) ?? 0))));
      const lastEvent = (await status(rest[0]).getAttribute("data-last-event")) ?? "";
      const union = {
        symbols: [...new Set(sets.filter((_, i) => pages[i] !== holder).flat())].sort(),
        depth: [...new Set(sets.filter((_, i) => pages[i] !== holder).map((s) => s[0]))],
      };
      // What the server sent for the stream's selection over that stretch (the holder's view
      // leaves it at the next connection; frames are the same for the wider one before).
      const wide = [...new Set(sets.flat())].sort();
      const depth = [...new Set(sets.map((s) => s[0]))];
      const expected = await serverSeqs(
        context.request,
        lastEvent.split("-")[0],
        before,
        end,
        `symbols=${wide.join(",")}&depth=${depth.join(",")}`,
      );
      const narrow = await serverSeqs(
        context.request,
        lastEvent.split("-")[0],
        before,
        end,
        `symbols=${union.symbols.join(",")}&depth=${union.depth.join(",")}`,
      );
      expect(expected.length).toBeGreaterThan(30);
      // The stream was resumed, not started afresh: no tab was handed a snapshot.
      expect(await Promise.all(rest.map(snapshots))).toEqual(snapshotsBefore);
      for (const page of rest) {
        const got = (await seqs(page)).filter((s) => s > before && s <= end);
        // Every frame of the stream's selection, once, in order.
        expect(new Set(got).size, "no frame applied twice").toBe(got.length);
        expect(got.every((s, i) => i === 0 || s > got[i - 1]), "in order").toBe(true);
        for (const seq of narrow) expect(got, `frame ${seq}`).toContain(seq);
        for (const seq of got) expect(expected, `frame ${seq} is the server's`).toContain(seq);
        expect(await page.evaluate(() => (window as any).__notLive), "badge stayed Live").toEqual([]);
        await expect(status(page)).toHaveText("Live");
      }
    } finally {
      await context.close();
    }
  });
}

test("without Web Locks, each tab keeps a connection of its own, as before", async ({ browser }) => {
  const context = await browser.newContext();
  try {
    await context.addInitScript(() => delete (Navigator.prototype as any).locks);
    await expect.poll(() => streams(context.request), { message: "no stream left from earlier tests" }).toBe(0);
    const pages = await openTabs(context, "sse", [["AAPL"], ["MSFT"]]);
    expect(await Promise.all(pages.map(role))).toEqual(["own", "own"]);
    await expect(pages[0].getByTestId("stream-role")).toBeHidden();
    await expect.poll(() => streams(context.request)).toBe(2);
  } finally {
    await context.close();
  }
});

test("a holder that hangs (as a frozen tab does) is taken over within a second, and no frame is lost", async ({
  browser,
}) => {
  test.setTimeout(60_000);
  const context = await browser.newContext();
  try {
    const all = await universe(context.request);
    const pages = await openTabs(context, "sse", Array.from({ length: 4 }, () => all));
    const roles = await Promise.all(pages.map(role));
    const holder = pages[roles.indexOf("holding")];
    const rest = pages.filter((p) => p !== holder);
    const snapshotsBefore = await Promise.all(rest.map(snapshots));
    const before = Math.max(...(await Promise.all(rest.map(async (p) => (await seqs(p)).at(-1) ?? 0))));
    // Its main thread busy for 3 s: nothing it reads is forwarded, and it cannot let go of the
    // lock. (CDP's `Page.setWebLifecycleState` does not freeze a visible headless page.)
    const frozen = Date.now();
    const hung = holder.evaluate(() => {
      const end = Date.now() + 3_000;
      while (Date.now() < end);
    });
    await expect.poll(async () => (await Promise.all(rest.map(role))).filter((r) => r === "holding").length).toBe(1);
    const heir = rest[(await Promise.all(rest.map(role))).indexOf("holding")];
    const heldSince = await heir.evaluate(() => (window as any).__tickertapeHeldSince as number);
    expect(heldSince - frozen, "taken over within a second of the hang").toBeLessThan(1_000);
    for (const page of rest) {
      await expect.poll(async () => (await seqs(page)).at(-1) ?? 0).toBeGreaterThan(before + 30);
    }
    const end = Math.min(...(await Promise.all(rest.map(async (p) => (await seqs(p)).at(-1) ?? 0))));
    const epoch = ((await status(rest[0]).getAttribute("data-last-event")) ?? "").split("-")[0];
    const expected = await serverSeqs(context.request, epoch, before, end, `depth=${all[0]}`);
    expect(expected.length).toBeGreaterThan(30);
    // The frames of the silence were resumed, each once, in every tab.
    for (const page of rest) {
      expect((await seqs(page)).filter((s) => s > before && s <= end)).toEqual(expected);
    }
    expect(await Promise.all(rest.map(snapshots))).toEqual(snapshotsBefore);

    // Awake, the old holder finds the stream taken, follows it, and stays exact.
    await hung;
    await expect.poll(() => role(holder)).toBe("through");
    await expect.poll(async () => (await seqs(holder)).at(-1) ?? 0).toBeGreaterThan(end + 10);
    const after = await seqs(holder);
    expect(new Set(after).size, "no frame applied twice").toBe(after.length);
    expect(after.every((s, i) => i === 0 || s > after[i - 1]), "in order").toBe(true);
    await expect(status(holder)).toHaveText("Live");
    expect((await Promise.all(pages.map(role))).filter((r) => r === "holding")).toHaveLength(1);
  } finally {
    await context.close();
  }
});

test("a signed-in user's private event reaches all twelve tabs of the browser, once each", async ({ browser }) => {
  test.setTimeout(90_000);
  const context = await browser.newContext();
  try {
    const name = `tabs${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const signup = await context.request.post("/api/signup", {
      data: { username: name, password: "correct horse battery" },
    });
    expect(signup.status()).toBe(201);
    const all = await universe(context.request);
    const pages = await openTabs(
      context,
      "sse",
      Array.from({ length: TABS }, (_, i) => setOf(all, i)),
    );
    const events = () =>
      Promise.all(pages.map((p) => p.evaluate(() => ((window as any).__tickertapeAccountEvents ?? 0) as number)));
    expect(await events()).toEqual(Array(TABS).fill(0));

    const save = (symbols: string[]) =>
      context.request.put("/api/watchlists/Shared", { data: { symbols } });
    expect((await save(["AAPL"])).status()).toBe(200);
    await expect.poll(events, { timeout: 3_000 }).toEqual(Array(TABS).fill(1));
    // A second change arrives after any repeat of the first would have: still one each.
    expect((await save(["AAPL", "MSFT"])).status()).toBe(200);
    await expect.poll(events, { timeout: 3_000 }).toEqual(Array(TABS).fill(2));
    for (const page of pages) {
      await expect(page.locator('[data-testid="watchlist-tab"][data-name="Shared"]')).toHaveCount(1);
    }
  } finally {
    await context.close();
  }
});

test("the transport and who is signed in are the browser's: a change in one tab shows in the others", async ({
  browser,
}) => {
  const context = await browser.newContext();
  try {
    const pages = await openTabs(context, "sse", [["AAPL"], ["MSFT"], ["TSLA"]]);
    await pages[0].getByTestId("transport").selectOption("ws");
    for (const page of pages) {
      await expect(page.getByTestId("transport")).toHaveValue("ws");
      await expect(page).toHaveURL(/transport=ws/);
      await expect(status(page)).toHaveText("Live");
    }
    await expect.poll(() => streams(context.request)).toBe(1);

    // Signing in in one tab signs in all of them (the cookie is the browser's), and out again.
    const name = `tabs${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    await pages[1].getByTestId("signin-open").click();
    const form = pages[1].getByTestId("signin-form");
    await form.getByLabel("Username").fill(name);
    await form.getByLabel("Password").fill("correct horse battery");
    await form.getByTestId("signup").click();
    for (const page of pages) await expect(page.getByTestId("account-name")).toHaveText(name);
    await pages[2].getByTestId("signout").click();
    for (const page of pages) {
      await expect(page.getByTestId("account-name")).toHaveCount(0);
      await expect(status(page)).toHaveText("Live");
    }
  } finally {
    await context.close();
  }
});
