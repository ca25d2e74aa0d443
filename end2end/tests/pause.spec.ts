import { test, expect } from "./fixtures";

test("pause stops rendering but not data; resume shows the current state at once", async ({ dashboard }) => {
  await dashboard.open();
  await dashboard.pause.click();
  await expect(dashboard.status).toHaveText("Paused");
  await expect(dashboard.pause).toHaveAttribute("aria-pressed", "true");

  const frozen = await dashboard.lastPrices();
  const seq = await dashboard.lastSeq();
  // Data keeps arriving (the last event id advances)...
  await expect.poll(() => dashboard.lastSeq()).toBeGreaterThan(seq + 20);
  // ...but nothing was drawn.
  expect(await dashboard.lastPrices()).toEqual(frozen);

  await dashboard.pause.click();
  await expect(dashboard.status).toHaveText("Live");
  await dashboard.expectPricesToMove(frozen);
});
