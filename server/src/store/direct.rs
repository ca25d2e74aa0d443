//! SQLite's account changes (a list's symbols, a new, renamed or deleted list, the view), each
//! one transaction run on the calling thread through rusqlite: no thread hop.
//!
//! Why not sqlx for these: sqlx runs every statement of a SQLite connection on that connection's
//! own worker thread, a channel round trip each. With the server on one busy core each round
//! trip is two context switches, and they, not SQLite, were most of what a change cost (`perf`
//! and `strace` in BENCHMARKS.md, *Signed-in streams*). Here a change is SQLite's own work: a
//! few statements on pages already in memory and one append to the write-ahead log (no `fsync`:
//! `synchronous = NORMAL`; a `kill -9` still keeps every commit).
//!
//! Why it cannot stall the market, though it runs on an async worker:
//! - the connection is taken with `try_lock`, and the transaction begins with `BEGIN IMMEDIATE`
//!   under a busy timeout of zero: it takes SQLite's write lock at once or gives up at once
//!   (another connection is writing: the pool's, or another process's);
//! - either refusal hands the change to one of tokio's blocking threads, which waits its turn
//!   until a deadline ([`WAIT`]); past it the change is not made and the caller hears that the
//!   store is unavailable;
//! - checkpoints (copying the log into the database file, with an `fsync`) never run here:
//!   this connection's automatic checkpoint is off, and the store runs one on the pool's worker
//!   every [`CHECKPOINT_EVERY`] commits.
//!
//! The session lookups of the REST calls (one per user every `SESSION_CACHE`) run here too.
//! Everything else (sign-up, sign-in, alerts, the state a stream starts from) goes through sqlx's
//! pool on the same file: rare next to these. Its transactions that write begin `IMMEDIATE` too,
//! so neither side's read can go stale under the other's write.

use super::{PutOutcome, STATE_ROWS, SessionRow, StateRow, Versioned};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a change that found the store busy waits its turn before it gives up unmade.
pub const WAIT: Duration = Duration::from_secs(3);
/// Commits between two checkpoints: about three pages of log each, so the log stays near
/// SQLite's own default of 1 000 pages.
pub const CHECKPOINT_EVERY: u64 = 256;

/// The connection the account changes share.
pub struct Direct {
    conn: Mutex<Connection>,
    commits: AtomicU64,
}

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store stayed busy for {0:?}")]
    Busy(Duration),
    #[error("the blocking pool dropped the change")]
    Dropped,
}

/// The SQLite file of a `sqlite:` URL, unless it is a database in memory (which another
/// connection could not share).
pub fn file_of(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let memory = path.is_empty() || path == ":memory:" || query.split('&').any(|kv| kv == "mode=memory");
    (!memory).then_some(path)
}

impl Direct {
    /// Opens `path` (the store has created it and its schema already).
    pub fn open(path: &str) -> rusqlite::Result<Direct> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        // As the pool's connections (see `Store::connect`), but no automatic checkpoint and no
        // waiting for a lock: both would block an async worker.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456; \
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        conn.busy_timeout(Duration::ZERO)?;
        Ok(Direct {
            conn: Mutex::new(conn),
            commits: AtomicU64::new(0),
        })
    }

    /// Runs `change` in one `IMMEDIATE` transaction and commits it when `writes` (a change that
    /// finds nothing to do writes nothing, so its commit is empty); else runs it as it is, a
    /// read of one statement. Returns its result and whether a checkpoint is due.
    pub async fn run<T, F>(self: &Arc<Self>, writes: bool, change: F) -> Result<(T, bool), DirectError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        if let Ok(mut conn) = self.conn.try_lock() {
            match self.attempt(&mut conn, writes, &change) {
                Err(e) if is_busy(&e) => {}
                done => return done.map_err(DirectError::from),
            }
        }
        // Busy: wait on a blocking thread, until the deadline at the latest. A change whose
        // caller is gone still runs to its end there (its result is dropped).
        let deadline = Instant::now() + WAIT;
        let this = self.clone();
        let waited = tokio::task::spawn_blocking(move || {
            let mut conn = this.conn.lock().unwrap_or_else(|e| e.into_inner());
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DirectError::Busy(WAIT));
            }
            conn.busy_timeout(left)?;
            let done = this.attempt(&mut conn, writes, &change);
            conn.busy_timeout(Duration::ZERO)?;
            match done {
                Err(e) if is_busy(&e) => Err(DirectError::Busy(WAIT)),
                done => done.map_err(DirectError::from),
            }
        });
        // The blocking thread checks the deadline itself; this one bounds a wait for the
        // connection's lock, held by a change stuck in the file system.
        match tokio::time::timeout(WAIT + Duration::from_secs(1), waited).await {
            Ok(Ok(done)) => done,
            Ok(Err(_)) => Err(DirectError::Dropped),
            Err(_) => Err(DirectError::Busy(WAIT)),
        }
    }

    fn attempt<T>(
        &self,
        conn: &mut Connection,
        writes: bool,
        change: &impl Fn(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<(T, bool)> {
        // A change that panicked half-way (the lock is then poisoned, and taken anyway) left
        // its transaction open: nothing of it was committed.
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK")?;
        }
        // A read is one statement: it needs no transaction of its own.
        if !writes {
            return Ok((change(conn)?, false));
        }
        // `BEGIN` and `COMMIT` from the statement cache too (rusqlite's `Transaction` parses
        // them at every use); anything that fails rolls the whole change back.
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let done = change(conn).and_then(|out| {
            conn.prepare_cached("COMMIT")?.execute([])?;
            Ok(out)
        });
        if done.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        let out = done?;
        let n = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
        Ok((out, n.is_multiple_of(CHECKPOINT_EVERY)))
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// `$1`, `$2`… by name: the SQL is the pool's, whose `$N` SQLite takes as names, numbered in
/// the order they first appear (not always their own number's order).
fn named<'a>(values: &'a [&'a dyn ToSql]) -> Vec<(&'static str, &'a dyn ToSql)> {
    const NAMES: [&str; 6] = ["$1", "$2", "$3", "$4", "$5", "$6"];
    NAMES.iter().copied().zip(values.iter().copied()).collect()
}

fn run(tx: &Connection, sql: &str, values: &[&dyn ToSql]) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(named(values).as_slice())
}

/// Bumps the user's revision (see `store::bump`); SQLite's one writer orders the changes.
fn bump(tx: &Connection, user_id: i64) -> rusqlite::Result<i64> {
    tx.prepare_cached(super::BUMP)?
        .query_row(named(&[&user_id]).as_slice(), |row| row.get(0))
}

fn read_state(tx: &Connection, user_id: i64, rev: i64) -> rusqlite::Result<Versioned> {
    let mut read = Vec::new();
    let mut stmt = tx.prepare_cached(STATE_ROWS)?;
    let mut rows = stmt.query(named(&[&user_id]).as_slice())?;
    while let Some(row) = rows.next()? {
        read.push(match row.get_ref(0)?.as_str()? {
            "l" => StateRow::List {
                position: row.get(3)?,
                name: row.get(1)?,
                symbols: row.get(2)?,
            },
            _ => StateRow::View(row.get(1)?),
        });
    }
    Ok(super::versioned(rev, read))
}

/// `Store::session` on SQLite.
pub fn session(tx: &Connection, id_hash: &str, now: i64) -> rusqlite::Result<Option<SessionRow>> {
    tx.prepare_cached(super::SESSION)?
        .query_row(named(&[&id_hash, &now]).as_slice(), |row| {
            Ok(SessionRow {
                user_id: row.get(0)?,
                username: row.get(1)?,
                expires_at: row.get(2)?,
            })
        })
        .optional()
}

/// `Store::extend_session` on SQLite.
pub fn extend_session(tx: &Connection, id_hash: &str, expires_at: i64) -> rusqlite::Result<()> {
    run(tx, super::EXTEND_SESSION, &[&expires_at, &id_hash]).map(drop)
}

/// `Store::put_watchlist` on SQLite: the checks come before any write, so an outcome other
/// than `Done` has written nothing.
pub fn put_watchlist(
    tx: &Connection,
    user_id: i64,
    name: &str,
    rename: Option<&str>,
    symbols_json: &str,
    max: usize,
) -> rusqlite::Result<PutOutcome> {
    let to = rename.unwrap_or(name);
    if to != name {
        let taken = tx
            .prepare_cached(super::NAME_TAKEN)?
            .exists(named(&[&user_id, &to]).as_slice())?;
        if taken {
            return Ok(PutOutcome::NameTaken);
        }
    }
    let updated = run(tx, super::UPDATE_LIST, &[&symbols_json, &to, &user_id, &name])?;
    if updated == 0 {
        let (count, last): (i64, i64) = tx
            .prepare_cached(super::COUNT_LISTS)?
            .query_row(named(&[&user_id]).as_slice(), |row| Ok((row.get(0)?, row.get(1)?)))?;
        if count as usize >= max {
            return Ok(PutOutcome::TooMany);
        }
        run(tx, super::INSERT_LIST, &[&user_id, &to, &(last + 1), &symbols_json])?;
    }
    let rev = bump(tx, user_id)?;
    read_state(tx, user_id, rev).map(PutOutcome::Done)
}

/// `Store::delete_watchlist` on SQLite.
pub fn delete_watchlist(tx: &Connection, user_id: i64, name: &str) -> rusqlite::Result<Option<Versioned>> {
    if run(tx, super::DELETE_LIST, &[&user_id, &name])? == 0 {
        return Ok(None);
    }
    let rev = bump(tx, user_id)?;
    read_state(tx, user_id, rev).map(Some)
}

/// `Store::put_view` on SQLite.
pub fn put_view(tx: &Connection, user_id: i64, view_json: &str) -> rusqlite::Result<Versioned> {
    run(tx, super::UPSERT_VIEW, &[&user_id, &view_json])?;
    let rev = bump(tx, user_id)?;
    read_state(tx, user_id, rev)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection to a new file with the store's schema (its SQLite migrations, in order).
    fn schema() -> (Connection, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "tickertape-direct-{}-{:?}.db",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&path);
        let conn = Connection::open(&path).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            conn.execute_batch(&std::fs::read_to_string(file).unwrap()).unwrap();
        }
        (conn, path)
    }

    /// A store with user 1 and their list `Main` (empty), a connection to it, and the direct one.
    fn one_user() -> (Connection, std::path::PathBuf, Arc<Direct>) {
        let (conn, path) = schema();
        conn.execute_batch(
            "INSERT INTO users (id, username, password, created_at) VALUES (1, 'a', 'x', 0);
             INSERT INTO watchlists VALUES (1, 'Main', 1, '[]');",
        )
        .unwrap();
        let direct = Arc::new(Direct::open(path.to_str().unwrap()).unwrap());
        (conn, path, direct)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_change_is_prepared_once_and_reads_the_lists_in_order() {
        let (conn, path) = schema();
        conn.execute_batch(
            "INSERT INTO users (id, username, password, created_at) VALUES (1, 'a', 'x', 0), (2, 'b', 'x', 0);
             INSERT INTO sessions VALUES ('h1', 1, 0, 1000), ('h2', 2, 0, 1000);
             INSERT INTO watchlists VALUES (1, 'Zeta', 1, '[]'), (1, 'Alpha', 2, '[]'), (2, 'Main', 1, '[]');",
        )
        .unwrap();
        let direct = Arc::new(Direct::open(path.to_str().unwrap()).unwrap());
        for n in 0..6 {
            let user = 1 + n % 2;
            let (found, _) = direct
                .run(false, move |c| session(c, if user == 1 { "h1" } else { "h2" }, 500 + n))
                .await
                .unwrap();
            assert_eq!(found.map(|s| s.user_id), Some(user));
            let (outcome, _) = direct
                .run(true, move |c| put_watchlist(c, user, "Main", None, r#"["AAPL"]"#, 20))
                .await
                .unwrap();
            let PutOutcome::Done(state) = outcome else {
                panic!("not done")
            };
            let names: Vec<_> = state.watchlists.iter().map(|(name, _)| name.as_str()).collect();
            assert_eq!(
                names,
                if user == 1 {
                    vec!["Zeta", "Alpha", "Main"]
                } else {
                    vec!["Main"]
                }
            );
        }
        // Every statement was prepared once and reused: none was prepared again at a run (the
        // state's query with an `ORDER BY`, and the session's with a join, were, every time: see
        // `store::STATE_ROWS`).
        {
            let conn = direct.conn.lock().unwrap();
            for sql in [
                STATE_ROWS,
                super::super::BUMP,
                super::super::UPDATE_LIST,
                super::super::SESSION,
            ] {
                let stmt = conn.prepare_cached(sql).unwrap();
                assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0, "{sql}");
                assert!(stmt.get_status(rusqlite::StatementStatus::Run) >= 3, "{sql}");
            }
        }
        drop(direct);
        let _ = std::fs::remove_file(path);
    }

    /// Another connection writing: the change neither fails nor holds up the async thread (a
    /// single one here); it waits on a blocking thread and is made once the lock is free.
    #[tokio::test(flavor = "current_thread")]
    async fn a_busy_store_is_waited_for_off_the_async_thread() {
        let (conn, path, direct) = one_user();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let change = tokio::spawn({
            let direct = direct.clone();
            async move {
                direct
                    .run(true, |tx| put_watchlist(tx, 1, "Main", None, r#"["AAPL"]"#, 20))
                    .await
            }
        });
        // The change makes its attempt, finds the lock taken and hands itself over at once (a
        // busy timeout would hold this thread for `WAIT`).
        let attempt = Instant::now();
        tokio::task::yield_now().await;
        assert!(attempt.elapsed() < WAIT / 3, "the attempt waited on the async thread");
        assert!(!change.is_finished());
        conn.execute_batch("COMMIT").unwrap();
        let (outcome, _) = change.await.unwrap().unwrap();
        let PutOutcome::Done(state) = outcome else {
            panic!("not done")
        };
        assert_eq!(
            (state.rev, state.watchlists),
            (1, vec![("Main".into(), r#"["AAPL"]"#.into())])
        );
        drop(conn);
        let _ = std::fs::remove_file(path);
    }

    /// A change that fails half-way leaves nothing of itself, and the next one goes through (the
    /// connection is not left inside its transaction).
    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_change_is_rolled_back_whole() {
        let (conn, path, direct) = one_user();
        let failed = direct
            .run(true, |c| {
                run(c, super::super::UPDATE_LIST, &[&r#"["TSLA"]"#, &"Main", &1i64, &"Main"])?;
                Err::<(), _>(rusqlite::Error::QueryReturnedNoRows)
            })
            .await;
        assert!(failed.is_err());
        let symbols: String = conn
            .query_row("SELECT symbols FROM watchlists WHERE user_id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(symbols, "[]");
        let (outcome, _) = direct
            .run(true, |c| put_watchlist(c, 1, "Main", None, r#"["AAPL"]"#, 20))
            .await
            .unwrap();
        assert!(matches!(outcome, PutOutcome::Done(state) if state.rev == 1));
        drop((conn, direct));
        let _ = std::fs::remove_file(path);
    }

    /// A change that panics half-way leaves nothing of itself either, and does not take the
    /// store down with it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_change_that_panics_is_rolled_back_at_the_next_use() {
        let (conn, path, direct) = one_user();
        let panicked = tokio::spawn({
            let direct = direct.clone();
            async move {
                direct
                    .run(true, |c| {
                        run(c, super::super::UPDATE_LIST, &[&r#"["TSLA"]"#, &"Main", &1i64, &"Main"])?;
                        panic!("a bug half-way through a change");
                        #[allow(unreachable_code)]
                        Ok(())
                    })
                    .await
            }
        })
        .await;
        assert!(panicked.is_err_and(|e| e.is_panic()));
        let (outcome, _) = direct
            .run(true, |c| put_watchlist(c, 1, "Main", None, r#"["AAPL"]"#, 20))
            .await
            .unwrap();
        let PutOutcome::Done(state) = outcome else {
            panic!("not done")
        };
        assert_eq!(
            (state.rev, state.watchlists),
            (1, vec![("Main".into(), r#"["AAPL"]"#.into())])
        );
        drop((conn, direct));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn only_files_are_shared() {
        assert_eq!(file_of("sqlite://tickertape.db"), Some("tickertape.db"));
        assert_eq!(file_of("sqlite:///tmp/t.db?mode=rwc"), Some("/tmp/t.db"));
        assert_eq!(file_of("sqlite:data/t.db"), Some("data/t.db"));
        assert_eq!(file_of("sqlite::memory:"), None);
        assert_eq!(file_of("sqlite://t.db?mode=memory"), None);
        assert_eq!(file_of("postgres://x@y/z"), None);
    }
}
