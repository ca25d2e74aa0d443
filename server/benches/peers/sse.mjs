// A plain Node SSE server: the peer BENCHMARKS.md compares Tickertape's SSE with ("a hand-rolled
// SSE endpoint"), run by `server/benches/scenarios.sh peer-sse`. Node's own http module, no
// dependencies, one process, one `res.write` per client per event: what most SSE servers are.
//
// So that both servers send the very same events (same quotes, same bytes, same ids, so the load
// generator can check loss against its replay of the seeded market), it takes its events from a
// Tickertape stream, one upstream connection, and writes each `tick` to every client as it comes.
// It keeps no history: no resume, no snapshot, no back-pressure beyond Node's own buffering.
//
//   node server/benches/peers/sse.mjs <upstream http://host:port> <listen port>

import http from "node:http";
import { followTicks } from "./upstream.mjs";

const [upstream, port] = process.argv.slice(2);
if (!upstream || !port) {
  console.error("usage: node sse.mjs <upstream http://host:port> <listen port>");
  process.exit(2);
}

const clients = new Set();
const feed = followTicks(upstream, (event) => {
  for (const client of clients) client.write(event);
});

http
  .createServer((req, res) => {
    if (req.url.startsWith("/api/stream")) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
      res.write("retry: 1000\n\n");
      clients.add(res);
      req.on("close", () => clients.delete(res));
    } else if (req.url === "/healthz") {
      res.writeHead(feed.live() ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: feed.live() ? "ok" : "joining", clients: clients.size }));
    } else {
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"error":"not found"}');
    }
  })
  .listen(Number(port), "127.0.0.1");

