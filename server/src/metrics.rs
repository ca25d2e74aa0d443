//! Operational counters, exported in the Prometheus text format at `GET /metrics`.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The ways a client can receive the feed.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Transport {
    Sse,
    Ws,
    Poll,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabels {
    transport: Transport,
}

/// Every metric of the process. Handles are cheap clones of shared atomics.
pub struct Metrics {
    registry: Registry,
    clients: Family<TransportLabels, Gauge>,
    opened: Family<TransportLabels, Counter>,
    delivered: Family<TransportLabels, Counter>,
    wire_sent: Family<TransportLabels, Counter>,
    wire_received: Family<TransportLabels, Counter>,
    /// SSE streams served on their own connection by `conn` (the others went through hyper).
    pub sse_direct: Counter,
    /// Times a direct stream's socket could not take an event whole, so its fan-out group handed
    /// it back to its own task until the client read (a slow client, or a burst).
    pub fanout_stalls: Counter,
    /// Frames published by this node's hub (generated here, or received from the market bus).
    pub frames: Counter,
    /// Resync snapshots sent (foreign or expired resume points, lagging subscribers).
    pub resyncs: Counter,
    /// Subscribers that fell behind the live channel.
    pub lagged: Counter,
    /// Frames currently held for resuming clients.
    pub history: Gauge,
    /// 1 while this node is connected to the market bus (always 0 without `MARKET_BUS`).
    pub bus_connected: Gauge,
    /// Times the link to the bus was lost.
    pub bus_reconnects: Counter,
    /// Times an edge started over from the checkpoint (new epoch, frames gone).
    pub bus_resets: Counter,
    /// Frames the generator dropped because Redis was away too long.
    pub bus_frames_dropped: Counter,
    /// Book updates after which this node's copy of the book did not have the checksum the
    /// market gave (a damaged or misapplied feed; 0 in a healthy run).
    pub book_mismatches: Counter,
    /// Alert firings dropped because the queue to the store was full (0 in a healthy run: the
    /// queue holds 65 536).
    pub alert_firings_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let (clients, opened, delivered) = (Family::default(), Family::default(), Family::default());
        let (wire_sent, wire_received) = (Family::default(), Family::default());
        let (sse_direct, fanout_stalls, frames, resyncs, lagged, history) = Default::default();
        let (bus_connected, bus_reconnects, bus_resets, bus_frames_dropped, book_mismatches) = Default::default();
        let alert_firings_dropped = Counter::default();
        let mut registry = Registry::with_prefix("tickertape");
        registry.register("clients", "Connected streaming clients", Family::clone(&clients));
        registry.register(
            "connections_opened",
            "Streaming connections opened (for long polling: polls)",
            Family::clone(&opened),
        );
        registry.register(
            "sse_direct_streams",
            "SSE streams served on their own connection, outside hyper",
            Counter::clone(&sse_direct),
        );
        registry.register(
            "fanout_stalls",
            "Times a stream's socket (SSE or WebSocket) was full and its own task waited for the client",
            Counter::clone(&fanout_stalls),
        );
        registry.register(
            "events_delivered",
            "Events handed to clients",
            Family::clone(&delivered),
        );
        registry.register(
            "wire_bytes_sent",
            "Bytes written to each transport's clients: HTTP heads, framing, events, keep-alives",
            Family::clone(&wire_sent),
        );
        registry.register(
            "wire_bytes_received",
            "Bytes read from each transport's clients: request heads, WebSocket frames",
            Family::clone(&wire_received),
        );
        registry.register(
            "frames_generated",
            "Frames published by this node's hub (generated here or read from the market bus)",
            Counter::clone(&frames),
        );
        registry.register("resyncs", "Resync snapshots sent", Counter::clone(&resyncs));
        registry.register(
            "lagged_subscribers",
            "Subscribers that fell behind the live channel",
            Counter::clone(&lagged),
        );
        registry.register(
            "history_frames",
            "Frames held for resuming clients",
            Gauge::clone(&history),
        );
        registry.register(
            "bus_connected",
            "1 while connected to the market bus (MARKET_BUS)",
            Gauge::clone(&bus_connected),
        );
        registry.register(
            "bus_reconnects",
            "Times the link to the market bus was lost",
            Counter::clone(&bus_reconnects),
        );
        registry.register(
            "bus_resets",
            "Times this edge started over from the bus checkpoint",
            Counter::clone(&bus_resets),
        );
        registry.register(
            "bus_frames_dropped",
            "Frames the generator dropped while the bus was away",
            Counter::clone(&bus_frames_dropped),
        );
        registry.register(
            "book_checksum_mismatches",
            "Book updates after which this node's book disagreed with the market's checksum",
            Counter::clone(&book_mismatches),
        );
        registry.register(
            "alert_firings_dropped",
            "Alert firings dropped because the queue to the store was full",
            Counter::clone(&alert_firings_dropped),
        );
        Metrics {
            registry,
            clients,
            opened,
            delivered,
            wire_sent,
            wire_received,
            sse_direct,
            fanout_stalls,
            frames,
            resyncs,
            lagged,
            history,
            bus_connected,
            bus_reconnects,
            bus_resets,
            bus_frames_dropped,
            book_mismatches,
            alert_firings_dropped,
        }
    }
}

impl Metrics {
    /// Counts a connected client until the returned guard is dropped.
    pub fn client(&self, transport: Transport) -> ClientGuard {
        let labels = TransportLabels { transport };
        let clients = self.clients.get_or_create(&labels).clone();
        clients.inc();
        self.opened.get_or_create(&labels).inc();
        ClientGuard {
            clients,
            delivered: self.delivered.get_or_create(&labels).clone(),
        }
    }

    /// The byte counters of `transport`'s connections.
    pub fn wire(&self, transport: Transport) -> Wire {
        let labels = TransportLabels { transport };
        Wire {
            sent: self.wire_sent.get_or_create(&labels).clone(),
            received: self.wire_received.get_or_create(&labels).clone(),
        }
    }

    /// What each transport has carried since start-up: events delivered, bytes sent and bytes
    /// received.
    pub fn wire_totals(&self) -> Vec<(Transport, WireTotals)> {
        [Transport::Sse, Transport::Ws, Transport::Poll]
            .into_iter()
            .map(|transport| {
                let labels = TransportLabels { transport };
                let wire = self.wire(transport);
                let totals = WireTotals {
                    events: self.delivered.get_or_create(&labels).get(),
                    sent: wire.sent.get(),
                    received: wire.received.get(),
                };
                (transport, totals)
            })
            .collect()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// The byte counters of one transport's connections, counted where the server reads or writes
/// their sockets (see `tickertape_server::socket` for connections hyper serves).
#[derive(Clone, Debug, Default)]
pub struct Wire {
    pub sent: Counter,
    pub received: Counter,
}

/// A transport's totals since start-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireTotals {
    pub events: u64,
    pub sent: u64,
    pub received: u64,
}

/// One connected client: holds its transport's gauge up, and counts what it was sent.
/// (The label values are `Sse`, `Ws` and `Poll`; a poll counts as connected while it waits.)
pub struct ClientGuard {
    clients: Gauge,
    delivered: Counter,
}

impl ClientGuard {
    pub fn delivered(&self) {
        self.delivered.inc();
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.clients.dec();
    }
}
