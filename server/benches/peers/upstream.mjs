// What both benchmark peers (sse.mjs, socketio.mjs) share: they take their events from one
// Tickertape SSE stream, so that they send the very same ticks (quotes, bytes, ids) as the server
// they are compared with, and the load generator checks loss against the same replay.

import http from "node:http";

/**
 * Follows `${upstream}/api/stream` for ever (reconnecting 100 ms after it ends or fails), calling
 * `onTick` with each `tick` event's text, blank line included. `live()` says whether the stream
 * is up, for the peer's /healthz.
 */
export function followTicks(upstream, onTick) {
  let up = false;
  const retry = () => {
    up = false;
    setTimeout(follow, 100);
  };
  function follow() {
    const req = http.get(`${upstream}/api/stream`, { headers: { accept: "text/event-stream" } }, (res) => {
      up = res.statusCode === 200;
      res.setEncoding("utf8");
      let pending = "";
      res.on("data", (chunk) => {
        pending += chunk;
        let end;
        while ((end = pending.indexOf("\n\n")) >= 0) {
          const event = pending.slice(0, end + 2);
          pending = pending.slice(end + 2);
          if (event.startsWith("event: tick\n")) onTick(event);
        }
      });
      res.on("end", retry);
    });
    req.on("error", retry);
  }
  follow();
  return { live: () => up };
}
