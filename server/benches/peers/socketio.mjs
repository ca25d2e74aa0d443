// A Socket.IO 4 server: the peer BENCHMARKS.md compares Tickertape's WebSocket with ("what
// people build today with Socket.IO"), run by `server/benches/scenarios.sh peer-ws`. The npm
// `socket.io` package on Node's http module, WebSocket transport only, no compression: its
// recommended set-up for a server that pushes to many clients. The scenario installs the package
// (`server/benches/peers/node_modules`, not part of `make test`).
//
// So that both servers send the very same events (same quotes, same ids, so the load generator
// can check loss against its replay of the seeded market), it takes its events from a Tickertape
// stream, one upstream connection, and broadcasts each `tick` as `42["tick",{type,id,data}]`,
// the object Tickertape's WebSocket sends. `io.emit` encodes a broadcast once for every client,
// as Tickertape's fan-out does. It keeps no history: no resume, no snapshot.
//
//   node server/benches/peers/socketio.mjs <upstream http://host:port> <listen port>

import http from "node:http";
import { Server } from "socket.io";
import { followTicks } from "./upstream.mjs";

const [upstream, port] = process.argv.slice(2);
if (!upstream || !port) {
  console.error("usage: node socketio.mjs <upstream http://host:port> <listen port>");
  process.exit(2);
}

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(feed.live() ? 200 : 503, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: feed.live() ? "ok" : "joining", clients: io.engine.clientsCount }));
  } else {
    res.writeHead(404, { "content-type": "application/json" });
    res.end('{"error":"not found"}');
  }
});
const io = new Server(server, { transports: ["websocket"], perMessageDeflate: false, serveClient: false });

const feed = followTicks(upstream, (event) => {
  let id = "";
  let data = "";
  for (const line of event.split("\n")) {
    if (line.startsWith("id: ")) id = line.slice(4);
    else if (line.startsWith("data: ")) data = line.slice(6);
  }
  io.emit("tick", { type: "tick", id, data: JSON.parse(data) });
});

server.listen(Number(port), "127.0.0.1");
