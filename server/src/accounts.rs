//! Accounts: who a request comes from. Sign-up and sign-in with a username and a password
//! (hashed with Argon2id, off the async workers), sessions as opaque random ids in a cookie (the
//! store keeps only their SHA-256), and the throttle that makes guessing passwords slow.
//!
//! Transport-free: the HTTP handlers (`http::accounts`) turn requests into these calls, and
//! the [`AccountError`]s into statuses.

use crate::private::{Channels, PrivateEvent, Relayed, Seed};
use crate::store::{PutOutcome, Store, StoreError, Versioned};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use futures_util::FutureExt;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The session cookie's name.
pub const COOKIE: &str = "tt_session";
/// Failed sign-ins one username may have within [`FAILURE_WINDOW`] before it is throttled.
pub const FAILURES_PER_USERNAME: usize = 5;
/// Failed sign-ins one client address may have within [`FAILURE_WINDOW`].
pub const FAILURES_PER_ADDRESS: usize = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Usernames and addresses the throttle remembers at most; past it, the oldest are forgotten
/// first (a flood of names cannot grow the server's memory without bound).
const THROTTLE_KEYS: usize = 100_000;
/// A session's expiry moves forward at most this often (not a write on every request).
const EXTEND_EVERY: Duration = Duration::from_secs(60);

/// Argon2id at OWASP's minimum: 19 MiB, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// What went wrong, as the API reports it.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// `400`: the input breaks a rule, which the message states.
    #[error("{0}")]
    Invalid(String),
    /// `409`.
    #[error("that username is taken")]
    Taken,
    /// `404`: none of the user's own (another user's is not theirs either).
    #[error("{0}")]
    NotFound(String),
    /// `401`: the same for an unknown user and a wrong password.
    #[error("wrong username or password")]
    WrongCredentials,
    /// `401`: no session, or an expired one.
    #[error("not signed in")]
    SignedOut,
    /// `429`, with `Retry-After`.
    #[error("too many failed sign-ins; try again in {} s", .0.as_secs().max(1))]
    Throttled(Duration),
    /// `429`, with `Retry-After`: a limit on what one user may have or do (the message says
    /// which).
    #[error("{0}")]
    TooMany(String, Duration),
    /// `503`: the store failed; nothing was changed.
    #[error("accounts are unavailable right now; try again shortly")]
    Unavailable,
}

impl From<StoreError> for AccountError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Taken => AccountError::Taken,
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "account store unavailable");
                AccountError::Unavailable
            }
        }
    }
}

/// A username as stored: lower-cased, 3–32 of `a-z 0-9 _ . -`.
pub fn normalise_username(name: &str) -> Result<String, AccountError> {
    let name = name.to_ascii_lowercase();
    let ok = (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok {
        Ok(name)
    } else {
        Err(AccountError::Invalid(
            "username: 3 to 32 characters of a-z 0-9 _ . - (case-insensitive)".into(),
        ))
    }
}

/// A password: 8–128 characters.
pub fn check_password(password: &str) -> Result<(), AccountError> {
    if (8..=128).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(AccountError::Invalid("password: 8 to 128 characters".into()))
    }
}

/// A new session id: 256 random bits, hex (what the cookie carries, and nothing else does).
fn new_session_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

/// What the store keeps of a session id.
pub fn session_hash(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

/// Lower-case hex, two digits a byte (one allocation: a `format!` per byte showed in the
/// profile of every signed-in request).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Hashes `password` with a fresh salt into a PHC string, on a blocking thread (about 50 ms of
/// CPU and 19 MiB: never on an async worker).
async fn hash_password(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|_| AccountError::Unavailable)?;
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| AccountError::Unavailable)
    })
    .await
    .map_err(|_| AccountError::Unavailable)?
}

/// Whether `password` matches `phc`, on a blocking thread. Without a user (`phc` `None`) a
/// dummy hash is checked all the same, so an unknown name takes as long as a wrong password.
async fn verify_password(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let phc = phc.unwrap_or_else(|| dummy_phc().to_string());
        let Ok(hash) = PasswordHash::new(&phc) else {
            return false;
        };
        argon2().verify_password(password.as_bytes(), &hash).is_ok()
    })
    .await
    .unwrap_or(false)
}

/// The hash, with the same parameters, of a random password nobody knows (made on first use).
fn dummy_phc() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("16 bytes are a valid salt");
        let password: [u8; 32] = rand::random();
        argon2()
            .hash_password(&password, &salt)
            .map(|h| h.to_string())
            .expect("Argon2 hashes 32 bytes")
    })
}

/// Most watchlists one account has.
pub const MAX_WATCHLISTS: usize = 20;
/// Most symbols one watchlist holds.
pub const MAX_WATCHLIST_SYMBOLS: usize = 100;

pub use app::wire::account::{Account, AccountState, SavedView, Watchlist};

/// Checks every field of a view; the error names the one that is wrong.
fn check_view(view: &SavedView, universe: &[String]) -> Result<(), AccountError> {
    let bad = |what: &str| Err(AccountError::Invalid(what.to_string()));
    if let Some(symbol) = &view.symbol
        && !universe.contains(symbol)
    {
        return bad(&format!("view.symbol: {symbol} is not in the universe"));
    }
    if view.interval.parse::<app::wire::protocol::Interval>().is_err() {
        return bad("view.interval: one of 1s, 5s, 1m, 5m, 15m, 1h");
    }
    if !["candles", "line"].contains(&view.mode.as_str()) {
        return bad("view.mode: candles or line");
    }
    if !["light", "dark", "system"].contains(&view.theme.as_str()) {
        return bad("view.theme: light, dark or system");
    }
    if app::state::view::Transport::parse(&view.transport).is_none() {
        return bad("view.transport: sse, ws or poll");
    }
    Ok(())
}

/// A watchlist's name: 1–32 characters, no control characters, trimmed.
fn check_watchlist_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    if (1..=32).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(name.to_string())
    } else {
        Err(AccountError::Invalid(
            "watchlist name: 1 to 32 characters, no control characters".into(),
        ))
    }
}

/// A watchlist's symbols, upper-cased: each in the universe, once, at most
/// [`MAX_WATCHLIST_SYMBOLS`].
fn check_symbols(symbols: Vec<String>, universe: &[String]) -> Result<Vec<String>, AccountError> {
    if symbols.len() > MAX_WATCHLIST_SYMBOLS {
        return Err(AccountError::Invalid(format!(
            "a watchlist holds at most {MAX_WATCHLIST_SYMBOLS} symbols"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(symbols.len());
    for symbol in symbols {
        let symbol = symbol.trim().to_ascii_uppercase();
        if !universe.contains(&symbol) {
            return Err(AccountError::Invalid(format!("unknown symbol {symbol:?}")));
        }
        if out.contains(&symbol) {
            return Err(AccountError::Invalid(format!("{symbol} is listed twice")));
        }
        out.push(symbol);
    }
    Ok(out)
}

/// A signed-in user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
}

/// Failures per key within the window, oldest first; bounded in keys.
struct Failures<K> {
    by_key: HashMap<K, VecDeque<Instant>>,
    order: VecDeque<K>,
}

impl<K> Default for Failures<K> {
    fn default() -> Self {
        Failures {
            by_key: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone> Failures<K> {
    /// How long until `key` may try again, if it has `max` failures in the window.
    fn blocked(&mut self, key: &K, max: usize, now: Instant) -> Option<Duration> {
        let times = self.by_key.get_mut(key)?;
        while times.front().is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW) {
            times.pop_front();
        }
        (times.len() >= max).then(|| FAILURE_WINDOW.saturating_sub(now.duration_since(times[0])))
    }

    fn record(&mut self, key: K, max: usize, now: Instant) {
        if !self.by_key.contains_key(&key) {
            while self.by_key.len() >= THROTTLE_KEYS {
                let Some(old) = self.order.pop_front() else { break };
                self.by_key.remove(&old);
            }
            self.order.push_back(key.clone());
        }
        let times = self.by_key.entry(key).or_default();
        times.push_back(now);
        while times.len() > max {
            times.pop_front();
        }
    }
}

#[derive(Default)]
struct Throttle {
    usernames: Failures<String>,
    addresses: Failures<IpAddr>,
}

/// What a change of the store gives back: the state it committed, if it changed anything.
trait Committed {
    fn versioned(&self) -> Option<&Versioned>;
}

impl Committed for Option<Versioned> {
    fn versioned(&self) -> Option<&Versioned> {
        self.as_ref()
    }
}

impl Committed for PutOutcome {
    fn versioned(&self) -> Option<&Versioned> {
        match self {
            PutOutcome::Done(versioned) => Some(versioned),
            PutOutcome::TooMany | PutOutcome::NameTaken => None,
        }
    }
}

/// Sign-up, sign-in and sessions over a [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    ttl: Duration,
    cookie_secure: bool,
    throttle: Arc<Mutex<Throttle>>,
    /// Each user's private events, filed here as the store commits them.
    channels: Arc<Channels>,
    /// Sessions recently found in the store (see [`SESSION_CACHE`]).
    sessions: Arc<Mutex<HashMap<String, (User, Instant)>>>,
    /// Where this node's events and sign-outs go for the other nodes (the market bus), if any.
    relay: Arc<OnceLock<mpsc::Sender<Relayed>>>,
    /// Where alerts changed through other nodes are told, on the node that evaluates them.
    alert_changes: Arc<OnceLock<mpsc::Sender<i64>>>,
}

/// How long a session found in the store is trusted without asking it again: a long poll asks
/// who it serves at every request, and a store query per poll would cost more than the poll.
/// Sign-out on this node forgets it at once (and on other nodes through the bus).
pub const SESSION_CACHE: Duration = Duration::from_secs(5);
/// Sessions the cache holds at most; when full it starts over.
const SESSION_CACHE_KEYS: usize = 10_000;

impl Accounts {
    /// Sessions last `ttl` after their last use; cookies say `Secure` when `cookie_secure`.
    pub fn new(store: Store, ttl: Duration, cookie_secure: bool) -> Self {
        Accounts {
            store,
            ttl,
            cookie_secure,
            throttle: Arc::default(),
            channels: Arc::default(),
            sessions: Arc::default(),
            relay: Arc::default(),
            alert_changes: Arc::default(),
        }
    }

    /// Tells the other nodes that alert `id` changed in the store (the one that evaluates alerts
    /// reads it again).
    pub fn alert_changed(&self, id: i64) {
        self.tell_others(Relayed::Alert { id });
    }

    /// Hands this node's alert desk the alerts changed through other nodes.
    pub fn follow_alert_changes(&self, changes: mpsc::Sender<i64>) {
        let _ = self.alert_changes.set(changes);
    }

    /// An alert changed through another node (the bus says so).
    pub fn alert_changed_elsewhere(&self, id: i64) {
        if let Some(changes) = self.alert_changes.get()
            && changes.try_send(id).is_err()
        {
            tracing::warn!(
                alert = id,
                "the alerts' queue of changes is full: a change waits for a restart"
            );
        }
    }

    /// Sends this node's private events and sign-outs to `relay` too (see `bus::relay`).
    pub fn relay_to(&self, relay: mpsc::Sender<Relayed>) {
        let _ = self.relay.set(relay);
    }

    /// Tells the other nodes, if there are any; a full queue (Redis away for long) drops it,
    /// and their streams of that user resync.
    fn tell_others(&self, relayed: Relayed) {
        if let Some(relay) = self.relay.get()
            && relay.try_send(relayed).is_err()
        {
            tracing::warn!("the private relay's queue is full: another node's streams of a user will resync");
        }
    }

    /// The private channels this node's streams read.
    pub fn channels(&self) -> &Arc<Channels> {
        &self.channels
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn now_ms() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    /// A new session for `user`; returns its id (for the cookie only).
    async fn open_session(&self, user: i64) -> Result<String, AccountError> {
        let id = new_session_id();
        let now = Self::now_ms();
        self.store
            .create_session(&session_hash(&id), user, now, now + self.ttl.as_millis() as i64)
            .await?;
        Ok(id)
    }

    /// Creates an account and signs it in; returns the user and the new session's id.
    pub async fn signup(&self, username: &str, password: &str) -> Result<(User, String), AccountError> {
        let username = normalise_username(username)?;
        check_password(password)?;
        let phc = hash_password(password.to_string()).await?;
        let id = self.store.create_user(&username, &phc, Self::now_ms()).await?;
        let session = self.open_session(id).await?;
        Ok((User { id, username }, session))
    }

    /// Signs in: the same error for an unknown user and a wrong password; throttled after
    /// [`FAILURES_PER_USERNAME`] failures for a name or [`FAILURES_PER_ADDRESS`] from an address
    /// within [`FAILURE_WINDOW`] (then even the right password waits).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<(User, String), AccountError> {
        let name = username.to_ascii_lowercase();
        let now = Instant::now();
        {
            let mut t = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
            let by_name = t.usernames.blocked(&name, FAILURES_PER_USERNAME, now);
            let by_address = from.and_then(|ip| t.addresses.blocked(&ip, FAILURES_PER_ADDRESS, now));
            if let Some(wait) = by_name.into_iter().chain(by_address).max() {
                return Err(AccountError::Throttled(wait));
            }
        }
        let found = match normalise_username(&name) {
            Ok(name) => self.store.user_by_name(&name).await?,
            Err(_) => None,
        };
        let (id, phc) = found.map_or((None, None), |(id, phc)| (Some(id), Some(phc)));
        let valid = verify_password(password.to_string(), phc).await;
        match id {
            Some(id) if valid => {
                let session = self.open_session(id).await?;
                Ok((User { id, username: name }, session))
            }
            _ => {
                let mut t = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
                t.usernames.record(name, FAILURES_PER_USERNAME, now);
                if let Some(ip) = from {
                    t.addresses.record(ip, FAILURES_PER_ADDRESS, now);
                }
                Err(AccountError::WrongCredentials)
            }
        }
    }

    /// The user a session id belongs to, moving the session's expiry forward (at most once a
    /// minute).
    pub async fn user(&self, session: &str) -> Result<User, AccountError> {
        let hash = session_hash(session);
        let now = Self::now_ms();
        let row = self.store.session(&hash, now).await?.ok_or(AccountError::SignedOut)?;
        let renewed = now + self.ttl.as_millis() as i64;
        if renewed - row.expires_at >= EXTEND_EVERY.as_millis() as i64 {
            self.store.extend_session(&hash, renewed).await?;
        }
        Ok(User {
            id: row.user_id,
            username: row.username,
        })
    }

    /// The user of a session (its hash), as [`Accounts::user`] finds it, trusting what it found
    /// within the last [`SESSION_CACHE`]: what the streams ask at every connection and poll.
    pub async fn user_cached(&self, session: &str) -> Result<User, AccountError> {
        let hash = session_hash(session);
        {
            let cache = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((user, at)) = cache.get(&hash)
                && at.elapsed() < SESSION_CACHE
            {
                return Ok(user.clone());
            }
        }
        let user = self.user(session).await?;
        let mut cache = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= SESSION_CACHE_KEYS {
            cache.clear();
        }
        cache.insert(hash, (user.clone(), Instant::now()));
        Ok(user)
    }

    /// The user's state, as the store has it now.
    pub async fn state(&self, user: &User) -> Result<AccountState, AccountError> {
        Ok(state_of(&self.store.state(user.id).await?))
    }

    /// The user's newest private event as the store has it: their state now (what seeds a
    /// stream's cursor).
    pub async fn current_event(&self, user: &User) -> Result<Seed, AccountError> {
        let versioned = self.store.state(user.id).await?;
        Ok(Seed {
            account: event_of(&versioned),
            latest: versioned.latest.max(0) as u64,
        })
    }

    /// Makes a change in the store and files what it committed as the user's next private
    /// event, as one piece that the caller going away cannot split: a change the store cannot
    /// make at once goes on a task of its own, which the request only waits for.
    ///
    /// Why: a change that waits for a busy store (on a blocking thread, see
    /// `store::direct`), or whose commit is on its way, is made even if the request is dropped
    /// meanwhile (its client hung up, or timed out). Were the event filed by the request, a
    /// change committed after that would reach none of the user's streams until their next
    /// event. The usual change (SQLite's direct path, done at the first poll) is filed at once,
    /// with no task: nothing can come between its commit and its event. A task that panics is
    /// `503`, as a store that failed.
    async fn committed<T, Change>(&self, user: &User, change: impl FnOnce(Store) -> Change) -> Result<T, AccountError>
    where
        T: Committed + Send + 'static,
        Change: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let mut change = Box::pin(change(self.store.clone()));
        if let Some(made) = (&mut change).now_or_never() {
            return Ok(self.filed(user, made?));
        }
        let (accounts, user) = (self.clone(), user.clone());
        let made = tokio::spawn(async move { Ok::<_, AccountError>(accounts.filed(&user, change.await?)) });
        made.await.unwrap_or(Err(AccountError::Unavailable))
    }

    /// Files what a change committed, if anything, as the user's next private event.
    fn filed<T: Committed>(&self, user: &User, made: T) -> T {
        if let Some(versioned) = made.versioned() {
            self.publish(user, versioned);
        }
        made
    }

    /// Files a change the store committed as the user's next private event.
    fn publish(&self, user: &User, versioned: &Versioned) {
        self.publish_event(user.id, event_of(versioned));
    }

    /// Files one of `user`'s events that the store committed (numbered by it): every stream of
    /// the user, on every node, carries it.
    pub fn publish_event(&self, user: i64, event: PrivateEvent) {
        self.channels.publish(user, event.clone());
        self.tell_others(Relayed::Event { user, event });
    }

    /// The user's watchlists, in their order.
    pub async fn watchlists(&self, user: &User) -> Result<Vec<Watchlist>, AccountError> {
        Ok(self.state(user).await?.watchlists)
    }

    /// Creates or replaces the user's watchlist `name` with `symbols` (checked against the
    /// `universe`), renamed to `rename` if given. Every stream of the user carries the change.
    pub async fn put_watchlist(
        &self,
        user: &User,
        name: &str,
        rename: Option<&str>,
        symbols: Vec<String>,
        universe: &[String],
    ) -> Result<Watchlist, AccountError> {
        let name = check_watchlist_name(name)?;
        let rename = rename.map(check_watchlist_name).transpose()?;
        let symbols = check_symbols(symbols, universe)?;
        let json = serde_json::to_string(&symbols).map_err(|_| AccountError::Unavailable)?;
        let (id, list, new_name) = (user.id, name.clone(), rename.clone());
        let outcome = self
            .committed(user, move |store| async move {
                store
                    .put_watchlist(id, &list, new_name.as_deref(), &json, MAX_WATCHLISTS)
                    .await
            })
            .await?;
        match outcome {
            PutOutcome::Done(_) => {}
            PutOutcome::TooMany => return Err(AccountError::Invalid(format!("at most {MAX_WATCHLISTS} watchlists"))),
            PutOutcome::NameTaken => {
                return Err(AccountError::Invalid(format!(
                    "there is a watchlist named {:?} already",
                    rename.unwrap_or_default()
                )));
            }
        }
        Ok(Watchlist {
            name: rename.unwrap_or(name),
            symbols,
        })
    }

    pub async fn delete_watchlist(&self, user: &User, name: &str) -> Result<(), AccountError> {
        let (id, list) = (user.id, name.trim().to_string());
        let deleted = self
            .committed(
                user,
                move |store| async move { store.delete_watchlist(id, &list).await },
            )
            .await?;
        match deleted {
            Some(_) => Ok(()),
            None => Err(AccountError::NotFound(format!("no watchlist named {:?}", name.trim()))),
        }
    }

    pub async fn put_view(&self, user: &User, view: SavedView, universe: &[String]) -> Result<SavedView, AccountError> {
        check_view(&view, universe)?;
        let json = serde_json::to_string(&view).map_err(|_| AccountError::Unavailable)?;
        let id = user.id;
        self.committed(
            user,
            move |store| async move { store.put_view(id, &json).await.map(Some) },
        )
        .await?;
        Ok(view)
    }

    /// Ends a session (nothing happens for an unknown one): the store forgets it, and every
    /// stream it has open on this node stops carrying its events and closes.
    pub async fn logout(&self, session: &str) -> Result<(), AccountError> {
        let hash = session_hash(session);
        self.store.delete_session(&hash).await?;
        self.forget_session(&hash);
        self.tell_others(Relayed::Ended { session: hash });
        Ok(())
    }

    /// Forgets a session (its hash) that ended, here or on another node: the cache no longer
    /// trusts it, and its streams end.
    pub fn forget_session(&self, hash: &str) {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(hash);
        self.channels.end_session(hash);
    }

    /// Deletes expired sessions every `period` until `shutdown`, so the table holds only live
    /// ones (a failure is logged and tried again next time).
    pub async fn purge_expired_sessions(self, period: Duration, shutdown: tokio_util::sync::CancellationToken) {
        let mut every = tokio::time::interval(period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            match self.store.purge_expired(Self::now_ms()).await {
                Ok(n) => tracing::debug!(sessions = n, "purged expired sessions"),
                Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
            }
        }
    }

    /// The `Set-Cookie` value that carries a session id.
    pub fn cookie(&self, session: &str) -> String {
        format!(
            "{COOKIE}={session}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
            self.ttl.as_secs(),
            if self.cookie_secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
            if self.cookie_secure { "; Secure" } else { "" }
        )
    }
}

/// A user's state from the store's rows (a row that no longer parses is left out: nothing the
/// server wrote, but a hand-edited database must not break the page).
fn state_of(versioned: &Versioned) -> AccountState {
    AccountState {
        watchlists: versioned
            .watchlists
            .iter()
            .filter_map(|(name, symbols)| {
                Some(Watchlist {
                    name: name.clone(),
                    symbols: serde_json::from_str(symbols).ok()?,
                })
            })
            .collect(),
        view: versioned
            .view
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok()),
    }
}

/// The private event that carries a user's state at a revision: `account`, the whole state.
fn event_of(versioned: &Versioned) -> PrivateEvent {
    let data = serde_json::to_string(&state_of(versioned)).unwrap_or_else(|_| "{}".into());
    PrivateEvent {
        seq: versioned.rev.max(0) as u64,
        kind: app::wire::account::EVENT_ACCOUNT,
        data: data.into(),
    }
}

/// The session id in a request's `Cookie` headers, if any.
pub fn session_from_cookies<'a>(cookies: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    cookies
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_passwords_follow_the_rules() {
        assert_eq!(normalise_username("Alice_01").unwrap(), "alice_01");
        assert_eq!(normalise_username("a.b-c").unwrap(), "a.b-c");
        for bad in ["ab", "", "has space", "émile", &"x".repeat(33), "semi;colon"] {
            assert!(
                matches!(normalise_username(bad), Err(AccountError::Invalid(_))),
                "{bad}"
            );
        }
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"é".repeat(128)).is_ok(), "characters, not bytes");
        assert!(check_password("1234567").is_err());
        assert!(check_password(&"x".repeat(129)).is_err());
    }

    #[test]
    fn the_dummy_hash_has_the_real_parameters() {
        let hash = PasswordHash::new(dummy_phc()).unwrap();
        assert_eq!(hash.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&hash).unwrap();
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), (19 * 1024, 2, 1));
    }

    #[test]
    fn session_ids_are_long_random_and_stored_hashed() {
        let (a, b) = (new_session_id(), new_session_id());
        assert_eq!(a.len(), 64, "256 bits");
        assert_ne!(a, b);
        assert_eq!(session_hash(&a).len(), 64);
        assert_ne!(session_hash(&a), a);
        assert_eq!(session_hash(&a), session_hash(&a));
        // SHA-256's own test vector, in the hex the stores already hold: a session saved before
        // any change to `hex` is still found.
        assert_eq!(
            session_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn cookies_are_read_among_others() {
        let headers = ["theme=dark; tt_session=abc123", "x=1"];
        assert_eq!(session_from_cookies(headers.into_iter()), Some("abc123"));
        assert_eq!(session_from_cookies(["tt_session=", "y=2"].into_iter()), None);
        assert_eq!(session_from_cookies(["tt_sessionx=1"].into_iter()), None);
    }

    #[test]
    fn the_throttle_counts_failures_in_a_window_and_forgets_them() {
        let mut f = Failures::<String>::default();
        let t0 = Instant::now();
        for k in 0..5 {
            assert_eq!(f.blocked(&"a".into(), 5, t0), None);
            f.record("a".into(), 5, t0 + Duration::from_secs(k));
        }
        let wait = f.blocked(&"a".into(), 5, t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(wait, FAILURE_WINDOW - Duration::from_secs(10));
        assert_eq!(f.blocked(&"b".into(), 5, t0), None, "per key");
        assert_eq!(
            f.blocked(&"a".into(), 5, t0 + FAILURE_WINDOW),
            None,
            "the oldest left the window"
        );
    }
}
