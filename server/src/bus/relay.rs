//! Private events between nodes: a change a user makes through one node reaches their streams
//! on every other node of the bus, and a sign-out on one node ends the session's streams on all.
//!
//! Through a Redis Stream, `tickertape:private`, as the market's frames are: every node appends
//! what its own store writes committed ([`Relayed`]) and follows the stream from where it joined,
//! filing each event in its [`Channels`] (its own included: a log ignores an event it holds).
//! A stream, not pub/sub: a node that loses its link for a moment reads on from the last entry
//! it had, so nothing is lost that the stream still holds (`MAXLEN ~` [`KEPT`]); an event lost
//! anyway is a gap, which the user's streams turn into a resync after [`crate::private::GAP_WAIT`].

use super::{Backoff, connect, pause};
use crate::accounts::Accounts;
use crate::private::{PrivateEvent, Relayed};
use redis::Client;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const PRIVATE: &str = "tickertape:private";
/// Entries the stream keeps, about.
const KEPT: usize = 10_000;
/// What this node's writes may queue while Redis is away; past it they are dropped (and the
/// other nodes' streams of those users resync).
pub const QUEUE: usize = 4_096;

/// Connects `accounts` to the bus: returns the two tasks to run (the writer of this node's
/// events, the follower of everyone's) and hands `accounts` the queue its writes go to.
pub fn relay(
    client: Client,
    accounts: &Accounts,
    shutdown: CancellationToken,
) -> (
    impl Future<Output = ()> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
) {
    let (sender, receiver) = mpsc::channel(QUEUE);
    accounts.relay_to(sender);
    let writer = write_loop(client.clone(), receiver, shutdown.clone());
    let follower = follow_loop(client, accounts.clone(), shutdown);
    (writer, follower)
}

/// Appends this node's events, in order, reconnecting with backoff (an event waits meanwhile).
async fn write_loop(client: Client, mut queue: mpsc::Receiver<Relayed>, shutdown: CancellationToken) {
    let mut conn: Option<MultiplexedConnection> = None;
    let mut backoff = Backoff(0);
    let mut next: Option<Relayed> = None;
    loop {
        let item = match next.take() {
            Some(item) => item,
            None => tokio::select! {
                () = shutdown.cancelled() => return,
                item = queue.recv() => match item {
                    Some(item) => item,
                    None => return,
                },
            },
        };
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match connect(&client).await {
                Ok(c) => conn.insert(c),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot reach Redis to relay private events");
                    next = Some(item);
                    pause(&shutdown, backoff.next()).await;
                    continue;
                }
            },
        };
        let mut add = redis::cmd("XADD");
        add.arg(PRIVATE).arg("MAXLEN").arg("~").arg(KEPT).arg("*");
        match &item {
            Relayed::Event { user, event } => {
                add.arg("k").arg(event.kind).arg("u").arg(*user).arg("s").arg(event.seq);
                add.arg("d").arg(event.data.as_bytes());
            }
            Relayed::Ended { session } => {
                add.arg("k").arg("ended").arg("d").arg(session.as_bytes());
            }
            Relayed::Alert { id } => {
                add.arg("k").arg("alert").arg("d").arg(*id);
            }
        }
        if let Err(err) = add.query_async::<String>(c).await {
            tracing::warn!(error = %err, "lost Redis while relaying a private event; retrying");
            conn = None;
            next = Some(item);
            pause(&shutdown, backoff.next()).await;
        } else {
            backoff.reset();
        }
    }
}

/// Follows the stream from its end when this node joins, filing every entry.
async fn follow_loop(client: Client, accounts: Accounts, shutdown: CancellationToken) {
    let mut conn: Option<MultiplexedConnection> = None;
    let mut backoff = Backoff(0);
    // The last entry read: the stream's newest when this node joined (older events were filed
    // by the store's own state when a stream opens).
    let mut after: Option<String> = None;
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let Some(c) = conn.as_mut() else {
            match connect(&client).await {
                Ok(c) => {
                    conn = Some(c);
                    backoff.reset();
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot reach Redis to follow private events");
                    pause(&shutdown, backoff.next()).await;
                }
            }
            continue;
        };
        if after.is_none() {
            match redis::cmd("XREVRANGE")
                .arg(PRIVATE)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async::<StreamRangeReply>(c)
                .await
            {
                Ok(newest) => after = Some(newest.ids.first().map_or_else(|| "0-0".into(), |e| e.id.clone())),
                Err(err) => {
                    tracing::warn!(error = %err, "lost Redis while following private events");
                    conn = None;
                    continue;
                }
            }
        }
        let from = after.clone().unwrap_or_else(|| "0-0".into());
        let read = super::read_after(PRIVATE, &from);
        let reply = tokio::select! {
            () = shutdown.cancelled() => return,
            reply = read.query_async::<Option<StreamReadReply>>(c) => reply,
        };
        match reply {
            Ok(reply) => {
                for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
                    after = Some(entry.id.clone());
                    file(&accounts, &entry);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "lost Redis while following private events");
                conn = None;
            }
        }
    }
}

/// The kinds of private event the bus carries (with `&'static` names, as events have them).
const KINDS: [&str; 3] = [
    app::wire::account::EVENT_ACCOUNT,
    app::wire::alerts::EVENT_NOTIFICATION,
    app::wire::alerts::EVENT_READ,
];

/// Files one entry; a damaged one is logged and skipped.
fn file(accounts: &Accounts, entry: &StreamId) {
    let text = |field: &str| entry.get::<String>(field);
    let kind = text("k");
    if kind.as_deref() == Some("ended") {
        if let Some(session) = text("d") {
            accounts.forget_session(&session);
        }
        return;
    }
    if kind.as_deref() == Some("alert") {
        if let Some(id) = entry.get::<i64>("d") {
            accounts.alert_changed_elsewhere(id);
        }
        return;
    }
    let Some(kind) = KINDS.into_iter().find(|k| Some(*k) == kind.as_deref()) else {
        tracing::warn!(id = %entry.id, "an unknown private event on the bus");
        return;
    };
    let (Some(user), Some(seq), Some(data)) = (entry.get::<i64>("u"), entry.get::<u64>("s"), text("d")) else {
        tracing::warn!(id = %entry.id, "a damaged private event on the bus");
        return;
    };
    accounts.channels().publish(
        user,
        PrivateEvent {
            seq,
            kind,
            data: data.into(),
        },
    );
}
