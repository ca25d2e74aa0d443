//! The store: what must outlive the process (accounts, their sessions, watchlists and views), in an embedded
//! SQLite file by default, or in PostgreSQL when several nodes serve one market and share it.
//! One interface over both, through sqlx's `Any` driver with runtime queries; each backend has
//! its own versioned migrations (`server/migrations/{sqlite,postgres}`), applied at start-up.
//! On SQLite the frequent calls (account changes, session lookups) skip sqlx's worker thread
//! and run through rusqlite on the calling thread instead ([`direct`], which says why and how it
//! keeps from stalling the async workers); both go through the same methods, with the same SQL.
//!
//! Only this module speaks SQL. The market (feed, hub, transports) never touches it: a database
//! that is down makes account requests fail with `503`, and the market streams on.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};
use std::sync::Arc;
use std::time::Duration;

pub mod alerts;
mod direct;

use direct::Direct;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections the pool keeps at most, PostgreSQL.
const MAX_CONNECTIONS: u32 = 8;
/// SQLite: one. It has one writer anyway, every statement of a connection runs on that
/// connection's worker thread, and each connection keeps its own page cache, which a write on
/// another connection makes stale: with eight, most changes read their pages again
/// (BENCHMARKS.md, *Signed-in streams*). Nothing in the store holds a connection while it asks
/// for another.
const SQLITE_CONNECTIONS: u32 = 1;
/// How long a request waits for a connection (or to connect) before the store is unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A checked `DATABASE_URL`: `sqlite://PATH` (created with its schema when missing) or
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

/// Never prints the URL itself: it may hold a password.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.backend().name())
    }
}

impl DatabaseUrl {
    pub fn backend(&self) -> Backend {
        if self.0.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    /// The URL sqlx connects to: an SQLite file is created when missing.
    fn connect_url(&self) -> String {
        match self.backend() {
            Backend::Sqlite if !self.0.contains("mode=") => {
                let sep = if self.0.contains('?') { '&' } else { '?' };
                format!("{}{sep}mode=rwc", self.0)
            }
            _ => self.0.clone(),
        }
    }

    /// The URL without its password, for messages.
    pub fn redacted(&self) -> String {
        match self.0.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://…@{host}"),
                None => self.0.clone(),
            },
            None => self.0.clone(),
        }
    }
}

/// Parses `DATABASE_URL`; the error names the variable and what it accepts.
pub fn parse_database_url(s: &str) -> Result<DatabaseUrl, String> {
    let text = s.trim();
    let accepted = "DATABASE_URL must be sqlite://PATH (an SQLite file, created when missing) or \
                    postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE";
    if let Some(path) = text.strip_prefix("sqlite://").or_else(|| text.strip_prefix("sqlite:")) {
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(format!("{accepted}; the SQLite path is empty"));
        }
        return Ok(DatabaseUrl(text.to_string()));
    }
    if let Some(rest) = text
        .strip_prefix("postgres://")
        .or_else(|| text.strip_prefix("postgresql://"))
    {
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        if host.is_empty() || host.starts_with('/') {
            return Err(format!("{accepted}; no host"));
        }
        return Ok(DatabaseUrl(text.to_string()));
    }
    Err(format!("{accepted}; got a URL of another kind"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Why the store did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The username is someone's already.
    #[error("that username is taken")]
    Taken,
    /// The database failed or could not be reached in time; nothing was changed.
    #[error("the account store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Unavailable(Box::new(err))
    }
}

impl From<direct::DirectError> for StoreError {
    fn from(err: direct::DirectError) -> Self {
        StoreError::Unavailable(Box::new(err))
    }
}

/// A signed-in session, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub user_id: i64,
    pub username: String,
    /// Milliseconds since 1970.
    pub expires_at: i64,
}

/// The store's handle: a pool of connections and, on SQLite, the connection the account changes
/// run on (see [`direct`]). Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    direct: Option<Arc<Direct>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects and brings the schema up to date; the error says what failed, without the
    /// URL's password.
    pub async fn connect(url: &DatabaseUrl) -> Result<Store, String> {
        sqlx::any::install_default_drivers();
        let backend = url.backend();
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => SQLITE_CONNECTIONS,
                Backend::Postgres => MAX_CONNECTIONS,
            })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // An embedded file cannot drop a connection: no ping before each use (on SQLite a
            // ping is a round trip to sqlx's worker thread, one more context switch per query).
            .test_before_acquire(backend != Backend::Sqlite)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // A write-ahead log, synced at checkpoints: a commit is one append, not
                        // two fsyncs of a rollback journal. It survives the process dying
                        // (`kill -9` keeps every commit: the log is read back on opening); only a
                        // power cut can lose the newest commits. SQLITE_BUSY waits its turn
                        // (another process on the file). Pages are read through a map, not a
                        // `pread` each.
                        sqlx::Executor::execute(
                            &mut *conn,
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 3000; PRAGMA mmap_size = 268435456;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url.connect_url())
            .await
            .map_err(|e| format!("cannot open the database {}: {e}", url.redacted()))?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| format!("cannot migrate the database {}: {e}", url.redacted()))?;
        let direct = match direct::file_of(&url.0) {
            Some(path) if backend == Backend::Sqlite => {
                Some(Arc::new(Direct::open(path).map_err(|e| {
                    format!("cannot open the database {}: {e}", url.redacted())
                })?))
            }
            _ => None,
        };
        Ok(Store { pool, backend, direct })
    }

    /// A transaction that will write. On SQLite it takes the write lock at once (`IMMEDIATE`):
    /// a transaction that read first could not write after another connection's commit.
    async fn begin_write(&self) -> Result<Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Runs a write (an account change, a session's new expiry) on the SQLite connection of
    /// [`direct`], and a checkpoint on the pool's worker when one is due.
    async fn direct<T, F>(&self, direct: &Arc<Direct>, change: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (out, checkpoint) = direct.run(true, change).await?;
        if checkpoint {
            let pool = self.pool.clone();
            tokio::spawn(async move {
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                    tracing::warn!(error = %e, "the store's checkpoint failed; the next one tries again");
                }
            });
        }
        Ok(out)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Adds a user; [`StoreError::Taken`] if the (lower-cased) name is someone's.
    pub async fn create_user(&self, username: &str, password_phc: &str, now: i64) -> Result<i64, StoreError> {
        let row: Option<AnyRow> = sqlx::query(
            "INSERT INTO users (username, password, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (username) DO NOTHING RETURNING id",
        )
        .bind(username)
        .bind(password_phc)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(row.try_get::<i64, _>(0)?),
            None => Err(StoreError::Taken),
        }
    }

    /// A user's id and password hash.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT id, password FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some((row.try_get(0)?, row.try_get(1)?)),
            None => None,
        })
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The live session whose id hashes to `id_hash` (none once expired at `now`).
    pub async fn session(&self, id_hash: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
        if let Some(direct) = &self.direct {
            let id_hash = id_hash.to_string();
            return Ok(direct.run(false, move |tx| direct::session(tx, &id_hash, now)).await?.0);
        }
        let row = sqlx::query(SESSION)
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some(SessionRow {
                user_id: row.try_get(0)?,
                username: row.try_get(1)?,
                expires_at: row.try_get(2)?,
            }),
            None => None,
        })
    }

    /// Moves a session's expiry (sliding expiry).
    pub async fn extend_session(&self, id_hash: &str, expires_at: i64) -> Result<(), StoreError> {
        if let Some(direct) = &self.direct {
            let id_hash = id_hash.to_string();
            return self
                .direct(direct, move |tx| direct::extend_session(tx, &id_hash, expires_at))
                .await;
        }
        sqlx::query(EXTEND_SESSION)
            .bind(expires_at)
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A user's state as it stands, read at one revision.
    pub async fn state(&self, user_id: i64) -> Result<Versioned, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT state_rev, rev FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        let (rev, latest): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let mut state = read_state(&mut tx, user_id, rev).await?;
        state.latest = latest;
        tx.commit().await?;
        Ok(state)
    }

    /// Creates or replaces a watchlist (a new one goes last), renaming it to `rename` if given;
    /// `Ok(None)` when it is new and the user has `max` already.
    pub async fn put_watchlist(
        &self,
        user_id: i64,
        name: &str,
        rename: Option<&str>,
        symbols_json: &str,
        max: usize,
    ) -> Result<PutOutcome, StoreError> {
        if let Some(direct) = &self.direct {
            let (name, rename, symbols) = (name.to_string(), rename.map(str::to_string), symbols_json.to_string());
            return self
                .direct(direct, move |tx| {
                    direct::put_watchlist(tx, user_id, &name, rename.as_deref(), &symbols, max)
                })
                .await;
        }
        let mut tx = self.begin_write().await?;
        let to = rename.unwrap_or(name);
        let rev = bump(&mut tx, user_id).await?;
        if to != name {
            let taken = sqlx::query(NAME_TAKEN)
                .bind(user_id)
                .bind(to)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Ok(PutOutcome::NameTaken);
            }
        }
        let updated = sqlx::query(UPDATE_LIST)
            .bind(symbols_json)
            .bind(to)
            .bind(user_id)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            let row = sqlx::query(COUNT_LISTS).bind(user_id).fetch_one(&mut *tx).await?;
            let (count, last): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            if count as usize >= max {
                return Ok(PutOutcome::TooMany);
            }
            sqlx::query(INSERT_LIST)
                .bind(user_id)
                .bind(to)
                .bind(last + 1)
                .bind(symbols_json)
                .execute(&mut *tx)
                .await?;
        }
        let state = read_state(&mut tx, user_id, rev).await?;
        tx.commit().await?;
        Ok(PutOutcome::Done(state))
    }

    /// Deletes a watchlist; `None` if there was none of that name (nothing changes then).
    pub async fn delete_watchlist(&self, user_id: i64, name: &str) -> Result<Option<Versioned>, StoreError> {
        if let Some(direct) = &self.direct {
            let name = name.to_string();
            return self
                .direct(direct, move |tx| direct::delete_watchlist(tx, user_id, &name))
                .await;
        }
        let mut tx = self.begin_write().await?;
        let rev = bump(&mut tx, user_id).await?;
        let done = sqlx::query(DELETE_LIST)
            .bind(user_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let state = read_state(&mut tx, user_id, rev).await?;
        tx.commit().await?;
        Ok(Some(state))
    }

    pub async fn put_view(&self, user_id: i64, view_json: &str) -> Result<Versioned, StoreError> {
        if let Some(direct) = &self.direct {
            let view = view_json.to_string();
            return self
                .direct(direct, move |tx| direct::put_view(tx, user_id, &view))
                .await;
        }
        let mut tx = self.begin_write().await?;
        let rev = bump(&mut tx, user_id).await?;
        sqlx::query(UPSERT_VIEW)
            .bind(user_id)
            .bind(view_json)
            .execute(&mut *tx)
            .await?;
        let state = read_state(&mut tx, user_id, rev).await?;
        tx.commit().await?;
        Ok(state)
    }

    /// Deletes the sessions that expired before `now`; returns how many.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// A user's state at one revision: watchlists in their order (name, symbols as a JSON array)
/// and the last view (JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The number of the account change this state is (its event's number).
    pub rev: i64,
    /// The number of the user's newest private event of any kind (notifications included).
    pub latest: i64,
    pub watchlists: Vec<(String, String)>,
    pub view: Option<String>,
}

/// What [`Store::put_watchlist`] did.
#[derive(Debug)]
pub enum PutOutcome {
    Done(Versioned),
    /// A new list, and the user has the most already.
    TooMany,
    /// A rename to a name the user has for another list.
    NameTaken,
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

// The statements that SQLite's direct connection ([`direct`]) runs too (SQLite reads `$N` as
// names).
/// The username by a subquery, not a join (see [`STATE_ROWS`] for why).
const SESSION: &str = "SELECT s.user_id, (SELECT username FROM users WHERE id = s.user_id), s.expires_at \
     FROM sessions s WHERE s.id_hash = $1 AND s.expires_at > $2";
const EXTEND_SESSION: &str = "UPDATE sessions SET expires_at = $1 WHERE id_hash = $2";
/// Bumps the user's revision and marks it as the state's (see migration 0004).
const BUMP: &str = "UPDATE users SET rev = rev + 1, state_rev = rev + 1 WHERE id = $1 RETURNING rev";
const NAME_TAKEN: &str = "SELECT 1 FROM watchlists WHERE user_id = $1 AND name = $2";
const UPDATE_LIST: &str = "UPDATE watchlists SET symbols = $1, name = $2 WHERE user_id = $3 AND name = $4";
const COUNT_LISTS: &str = "SELECT COUNT(*), COALESCE(MAX(position), 0) FROM watchlists WHERE user_id = $1";
const INSERT_LIST: &str = "INSERT INTO watchlists (user_id, name, position, symbols) VALUES ($1, $2, $3, $4)";
const DELETE_LIST: &str = "DELETE FROM watchlists WHERE user_id = $1 AND name = $2";
const UPSERT_VIEW: &str =
    "INSERT INTO views (user_id, view) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET view = excluded.view";

/// Bumps the user's revision, first thing in an account change's transaction on PostgreSQL:
/// the row lock it takes orders concurrent changes of one user, so revisions follow the order
/// in which the changes commit. (SQLite has one writer.)
async fn bump(tx: &mut Tx, user_id: i64) -> Result<i64, StoreError> {
    let row = sqlx::query(BUMP).bind(user_id).fetch_one(&mut **tx).await?;
    Ok(row.try_get(0)?)
}

/// The watchlists and the view of user `$1`, in one query: each row is tagged `l` (a list: name,
/// symbols, position) or `v` (the view, in the second column).
///
/// No `ORDER BY`: the lists are put in order here instead. SQLite marks a statement whose plan
/// may depend on a bound value (one with an `ORDER BY` or a join, as it turned out) to be
/// prepared again once its values are cleared, and rusqlite's statement cache clears them
/// whenever it takes a statement back: so the statement was parsed and planned afresh at every
/// change (`StatementStatus::RePrepare` counted one per run), most of what reading the state
/// cost.
const STATE_ROWS: &str = "SELECT 'l', name, symbols, position FROM watchlists WHERE user_id = $1 \
     UNION ALL SELECT 'v', view, NULL, 0 FROM views WHERE user_id = $1";

/// One row of [`STATE_ROWS`], as either backend reads it.
enum StateRow {
    List {
        position: i64,
        name: String,
        symbols: String,
    },
    View(String),
}

/// The state at `rev` from its rows: the lists in their order, and the view.
fn versioned(rev: i64, rows: impl IntoIterator<Item = StateRow>) -> Versioned {
    let (mut lists, mut view) = (Vec::new(), None);
    for row in rows {
        match row {
            StateRow::List {
                position,
                name,
                symbols,
            } => lists.push((position, name, symbols)),
            StateRow::View(json) => view = Some(json),
        }
    }
    lists.sort_unstable_by_key(|&(position, ..)| position);
    Versioned {
        rev,
        latest: rev,
        watchlists: lists.into_iter().map(|(_, name, symbols)| (name, symbols)).collect(),
        view,
    }
}

async fn read_state(tx: &mut Tx, user_id: i64, rev: i64) -> Result<Versioned, StoreError> {
    let rows = sqlx::query(STATE_ROWS).bind(user_id).fetch_all(&mut **tx).await?;
    let mut read = Vec::with_capacity(rows.len());
    for row in rows {
        read.push(match row.try_get::<String, _>(0)?.as_str() {
            "l" => StateRow::List {
                position: row.try_get(3)?,
                name: row.try_get(1)?,
                symbols: row.try_get(2)?,
            },
            _ => StateRow::View(row.try_get(1)?),
        });
    }
    Ok(versioned(rev, read))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_checked_and_never_shown_with_their_password() {
        for ok in [
            "sqlite://tickertape.db",
            "sqlite:data/t.db?mode=rwc",
            "postgres://tt@127.0.0.1:5432/postgres",
        ] {
            assert!(parse_database_url(ok).is_ok(), "{ok}");
        }
        for bad in ["", "mysql://x@y/z", "sqlite://", "postgres://", "tickertape.db"] {
            let err = parse_database_url(bad).unwrap_err();
            assert!(
                err.contains("DATABASE_URL") && err.contains("sqlite://PATH"),
                "{bad}: {err}"
            );
        }
        let url = parse_database_url("postgres://tt:s3cret@db.example:5432/market").unwrap();
        assert_eq!(url.backend(), Backend::Postgres);
        assert!(!url.redacted().contains("s3cret") && !format!("{url:?}").contains("s3cret"));
        let file = parse_database_url("sqlite://tickertape.db").unwrap();
        assert_eq!(file.connect_url(), "sqlite://tickertape.db?mode=rwc");
    }
}
