//! What one stream carries: the market for its selection and, on a signed-in user's stream, the
//! user's own events ([`crate::private`]) on the same connection, each id carrying both
//! positions (`<epoch>-<seq>~<n>`, [`StreamId`]), so that the one id a client keeps resumes both.
//!
//! A private event goes out with the id of the last market event the client has, and every market
//! event with the number of the last private event: whichever the client saw last, its id says
//! where each of the two stands. Private events go first when both are ready (they are small,
//! and a change should not wait behind a replay); they go out at the latest with the next market
//! frame.

use super::Transports;
use crate::accounts::session_from_cookies;
use crate::hub::{Event, EventKind, Frame, Selection, Subscription};
use crate::private::{Cursor, SessionWatch};
use app::wire::protocol::{EventId, StreamId};
use axum::http::{HeaderMap, header};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How long opening a stream waits for the store to say whose session it is; past it the stream
/// opens anonymously (a database that is down must not hold up the market).
const LOOKUP_TIMEOUT: Duration = Duration::from_millis(500);

pub struct Feed {
    market: Subscription,
    /// The last market event the client has: where it resumed from, then each one carried.
    last: Option<EventId>,
    private: Option<Private>,
}

struct Private {
    cursor: Cursor,
    /// The session's cookie value, to tell whether a later request is the same session's.
    session: String,
    /// Wakes a waiting poll at every market frame, to look for private events.
    frames: Option<broadcast::Receiver<Arc<Frame>>>,
}

impl Feed {
    /// The market from `from` for `selection`, and the user's own events when `headers` carry
    /// a live session (see the module's docs).
    pub async fn open(t: &Transports, headers: &HeaderMap, selection: Selection, from: Option<StreamId>) -> Feed {
        let session = session_of(headers);
        let private = match (&t.accounts, session) {
            (Some(accounts), Some(session)) => {
                let after = from.and_then(|f| f.private);
                let lookup = async {
                    let user = accounts.user_cached(session).await.ok()?;
                    // A log this node has is kept current by every change (its own, and the
                    // others' through the bus): the store is asked only to seed one it lacks, or
                    // when the client says it is ahead of it (a long poll that is not its
                    // connection's first would otherwise read the store at every poll).
                    let known = accounts
                        .channels()
                        .log(user.id)
                        .filter(|log| log.has_account())
                        .map(|log| log.latest())
                        .is_some_and(|latest| latest > 0 && after.is_none_or(|a| a <= latest));
                    let current = match known {
                        true => None,
                        false => accounts.current_event(&user).await.ok(),
                    };
                    Some((user, current))
                };
                // Unknown, expired, or a store that does not answer in time: anonymous.
                match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
                    Ok(Some((user, current))) => Some(Private {
                        cursor: accounts.channels().cursor(
                            user.id,
                            &crate::accounts::session_hash(session),
                            after,
                            current,
                        ),
                        session: session.to_string(),
                        frames: None,
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        let market = from.map(|f| f.market);
        Feed {
            market: t.hub.subscribe(market, selection),
            last: market,
            private,
        }
    }

    /// The next event if one is ready, without waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        if let Some(event) = self.try_private() {
            return Some(event);
        }
        let event = self.market.try_next()?;
        Some(self.stamp(event))
    }

    /// The user's next event, once the client has some market position to put in its id.
    fn try_private(&mut self) -> Option<Event> {
        let last = self.last?;
        let private = self.private.as_mut()?;
        let delivery = private.cursor.try_next()?;
        let data = if delivery.resync {
            with_resync(&delivery.event.data)
        } else {
            delivery.event.data
        };
        Some(Event {
            kind: EventKind::Private(delivery.event.kind),
            id: last,
            private: Some(delivery.event.seq),
            data,
        })
    }

    /// The next event, waiting for it. Cancel-safe.
    pub async fn next(&mut self) -> Event {
        loop {
            if let Some(event) = self.try_next() {
                return event;
            }
            let frames = self
                .private
                .as_mut()
                .filter(|p| !p.cursor.watch().ended())
                .map(|p| p.frames.get_or_insert_with(|| self.market.hub().live_frames()));
            match frames {
                None => {
                    let event = self.market.next().await;
                    return self.stamp(event);
                }
                Some(frames) => {
                    tokio::select! {
                        event = self.market.next() => return self.stamp(event),
                        // A frame (or a lag): look for private events again.
                        _ = frames.recv() => {}
                    }
                }
            }
        }
    }

    /// Takes up to `max` events available without waiting.
    pub fn take_ready(&mut self, max: usize) -> Vec<Event> {
        std::iter::from_fn(|| self.try_next()).take(max).collect()
    }

    /// Records a market event as the client's last, and stamps it with the private position.
    fn stamp(&mut self, mut event: Event) -> Event {
        self.last = Some(event.id);
        event.private = self.private.as_ref().and_then(|p| p.cursor.at());
        event
    }

    /// Where the client stands: the last market event it has (`None` before any) and its last
    /// private one.
    pub fn position(&self) -> Option<StreamId> {
        Some(StreamId {
            market: self.last?,
            private: self.private.as_ref().and_then(|p| p.cursor.at()),
        })
    }

    pub fn market(&self) -> &Subscription {
        &self.market
    }

    /// Switches the market selection (a WebSocket command): the snapshot of the new selection.
    pub fn reselect(&mut self, selection: Selection) -> Event {
        let event = self.market.reselect(selection);
        self.stamp(event)
    }

    /// The session whose events this stream carries: ended at sign-out.
    pub fn session_watch(&self) -> Option<Arc<SessionWatch>> {
        self.private.as_ref().map(|p| p.cursor.watch().clone())
    }

    /// Whether this stream carries the events of the session in `headers`'s cookie (or none
    /// when it has none): a later poll with the same cookie may continue it.
    pub fn same_session(&self, headers: &HeaderMap) -> bool {
        let ended = self.private.as_ref().is_some_and(|p| p.cursor.watch().ended());
        !ended && self.private.as_ref().map(|p| p.session.as_str()) == session_of(headers)
    }
}

/// The session id of a request's cookie.
fn session_of(headers: &HeaderMap) -> Option<&str> {
    session_from_cookies(headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()))
}

/// Returns when `watch`'s session ends; never without one.
pub async fn session_ended(watch: Option<Arc<SessionWatch>>) {
    match watch {
        Some(watch) => watch.wait().await,
        None => std::future::pending().await,
    }
}

/// A private event's data marked as a resync (`"resync":true`): the client had missed events,
/// and this one stands for them all.
fn with_resync(data: &str) -> Arc<str> {
    match data.strip_prefix('{') {
        Some("}") => r#"{"resync":true}"#.into(),
        Some(rest) => format!(r#"{{"resync":true,{rest}"#).into(),
        None => data.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::with_resync;

    #[test]
    fn a_resync_is_marked_in_the_data() {
        assert_eq!(
            &*with_resync(r#"{"watchlists":[]}"#),
            r#"{"resync":true,"watchlists":[]}"#
        );
        assert_eq!(&*with_resync("{}"), r#"{"resync":true}"#);
    }
}
