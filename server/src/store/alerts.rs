//! The store's side of alerts (issue 26): the alerts themselves, and each user's inbox.
//!
//! A firing is one transaction: the user's revision bumped (it numbers the notification among the
//! user's private events), the inbox entry written under a key of (alert, kind, frame), the
//! alert's count, last firing and state updated. A second write of the same firing (a writer
//! retrying after a failure it could not see the end of, a generator taking over) finds the key
//! taken and changes nothing.

use super::{Store, StoreError, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// An alert as stored. Prices in the instrument's integer units; times in ms since 1970.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRow {
    pub id: i64,
    pub user_id: i64,
    pub symbol: String,
    pub condition: String,
    pub price: Option<i64>,
    pub low: Option<i64>,
    pub high: Option<i64>,
    /// A moving condition's threshold, in hundredths of a percent, and look-back in candles.
    pub pct_bp: Option<i64>,
    pub bars: Option<i64>,
    pub frequency: String,
    pub interval: Option<String>,
    pub expires: Option<i64>,
    pub note: String,
    pub state: String,
    pub last_fired: Option<i64>,
    pub fire_count: i64,
}

/// The columns [`alert_of`] reads, in its order (a macro, so queries stay `&'static str`).
macro_rules! alert_columns {
    () => {
        "id, user_id, symbol, condition, price, low, high, frequency, bar_interval, expires, note, state, last_fired, \
         fire_count, pct_bp, bars"
    };
}

fn alert_of(row: &AnyRow) -> Result<AlertRow, sqlx::Error> {
    Ok(AlertRow {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        symbol: row.try_get(2)?,
        condition: row.try_get(3)?,
        price: row.try_get(4)?,
        low: row.try_get(5)?,
        high: row.try_get(6)?,
        frequency: row.try_get(7)?,
        interval: row.try_get(8)?,
        expires: row.try_get(9)?,
        note: row.try_get(10)?,
        state: row.try_get(11)?,
        last_fired: row.try_get(12)?,
        fire_count: row.try_get(13)?,
        pct_bp: row.try_get(14)?,
        bars: row.try_get(15)?,
    })
}

/// An inbox entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxRow {
    pub id: i64,
    pub alert_id: i64,
    pub kind: String,
    pub symbol: String,
    pub condition: String,
    pub price: i64,
    pub prev: i64,
    pub seq: i64,
    pub ts: i64,
    pub note: String,
    pub read: bool,
}

/// The columns [`inbox_of`] reads, in its order.
macro_rules! inbox_columns {
    () => {
        "id, alert_id, kind, symbol, condition, price, prev, seq, ts, note, is_read"
    };
}

fn inbox_of(row: &AnyRow) -> Result<InboxRow, sqlx::Error> {
    Ok(InboxRow {
        id: row.try_get(0)?,
        alert_id: row.try_get(1)?,
        kind: row.try_get(2)?,
        symbol: row.try_get(3)?,
        condition: row.try_get(4)?,
        price: row.try_get(5)?,
        prev: row.try_get(6)?,
        seq: row.try_get(7)?,
        ts: row.try_get(8)?,
        note: row.try_get(9)?,
        read: row.try_get::<i64, _>(10)? != 0,
    })
}

/// A firing to record: the alert, the trade's prices, the frame, and the state the alert ends
/// in if this firing ends it (`triggered` after its one firing, `stopped`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firing {
    pub alert_id: i64,
    pub price: i64,
    pub prev: i64,
    pub seq: i64,
    pub ts: i64,
    pub ends_in: Option<&'static str>,
}

/// What [`Store::record_firing`] wrote: the user, and the entries (the firing's, and the stop
/// notice when the firing stopped the alert), each numbered among the user's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub user_id: i64,
    pub entries: Vec<InboxRow>,
}

/// What [`Store::create_alert`] and [`Store::update_alert`] did.
#[derive(Debug)]
pub enum Saved {
    Done(Box<AlertRow>),
    /// The user has `max` active alerts already.
    TooMany,
    /// The user has no such alert.
    NotFound,
}

impl Store {
    /// Adds an active alert for `row.user_id`, unless they have `max` active ones already.
    pub async fn create_alert(&self, row: &AlertRow, now: i64, max: usize) -> Result<Saved, StoreError> {
        let mut tx = self.begin_write().await?;
        // The user's row lock (PostgreSQL; SQLite has one writer) orders concurrent creations,
        // so two cannot both pass the count.
        sqlx::query("UPDATE users SET rev = rev WHERE id = $1")
            .bind(row.user_id)
            .execute(&mut *tx)
            .await?;
        let active: i64 = sqlx::query("SELECT COUNT(*) FROM alerts WHERE user_id = $1 AND state = 'active'")
            .bind(row.user_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if active as usize >= max {
            return Ok(Saved::TooMany);
        }
        let inserted = sqlx::query(concat!(
            "INSERT INTO alerts (user_id, symbol, condition, price, low, high, frequency, bar_interval, expires, note, \
             state, created_at, fire_count, pct_bp, bars) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'active', $11, 0, $12, $13) RETURNING ",
            alert_columns!()
        ))
        .bind(row.user_id)
        .bind(&row.symbol)
        .bind(&row.condition)
        .bind(row.price)
        .bind(row.low)
        .bind(row.high)
        .bind(&row.frequency)
        .bind(row.interval.as_deref())
        .bind(row.expires)
        .bind(&row.note)
        .bind(now)
        .bind(row.pct_bp)
        .bind(row.bars)
        .fetch_one(&mut *tx)
        .await?;
        let alert = alert_of(&inserted)?;
        tx.commit().await?;
        Ok(Saved::Done(Box::new(alert)))
    }

    /// The user's alerts, oldest first.
    pub async fn alerts_of(&self, user_id: i64) -> Result<Vec<AlertRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE user_id = $1 ORDER BY id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(alert_of).collect::<Result<_, _>>()?)
    }

    /// One of the user's alerts (`None`: no such alert, or someone else's).
    pub async fn alert(&self, user_id: i64, id: i64) -> Result<Option<AlertRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE id = $1 AND user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(alert_of).transpose()?)
    }

    /// An alert by its id alone (the engine's view: whoever owns it).
    pub async fn alert_by_id(&self, id: i64) -> Result<Option<AlertRow>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(alert_of).transpose()?)
    }

    /// The alerts the engine evaluates (the active and the paused) after id `after`, oldest
    /// first, at most `limit`: read a page at a time, a start-up with 100 000 of them held every
    /// row's buffers at once (150 MB that the allocator then kept).
    pub async fn live_alerts(&self, after: i64, limit: i64) -> Result<Vec<AlertRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE state IN ('active', 'paused') AND id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(alert_of).collect::<Result<_, _>>()?)
    }

    /// Writes what may change of an alert (level, frequency, expiry, note, state); an alert
    /// re-armed to `active` counts against `max` as a new one does.
    pub async fn update_alert(&self, row: &AlertRow, max: usize) -> Result<Saved, StoreError> {
        let mut tx = self.begin_write().await?;
        let before = sqlx::query("SELECT state FROM alerts WHERE id = $1 AND user_id = $2")
            .bind(row.id)
            .bind(row.user_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(before) = before else {
            return Ok(Saved::NotFound);
        };
        let was: String = before.try_get(0)?;
        if row.state == "active" && was != "active" {
            let active: i64 = sqlx::query("SELECT COUNT(*) FROM alerts WHERE user_id = $1 AND state = 'active'")
                .bind(row.user_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            if active as usize >= max {
                return Ok(Saved::TooMany);
            }
        }
        let updated = sqlx::query(concat!(
            "UPDATE alerts SET price = $1, low = $2, high = $3, frequency = $4, bar_interval = $5, expires = $6, \
             note = $7, state = $8, pct_bp = $11, bars = $12 WHERE id = $9 AND user_id = $10 RETURNING ",
            alert_columns!()
        ))
        .bind(row.price)
        .bind(row.low)
        .bind(row.high)
        .bind(&row.frequency)
        .bind(row.interval.as_deref())
        .bind(row.expires)
        .bind(&row.note)
        .bind(&row.state)
        .bind(row.id)
        .bind(row.user_id)
        .bind(row.pct_bp)
        .bind(row.bars)
        .fetch_one(&mut *tx)
        .await?;
        let alert = alert_of(&updated)?;
        tx.commit().await?;
        Ok(Saved::Done(Box::new(alert)))
    }

    /// Deletes one of the user's alerts; whether there was one.
    pub async fn delete_alert(&self, user_id: i64, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM alerts WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends an alert the engine ended without a firing (`expired`); nothing if it is no longer
    /// live (deleted, or changed meanwhile).
    pub async fn end_alert(&self, id: i64, state: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE alerts SET state = $1 WHERE id = $2 AND state IN ('active', 'paused')")
            .bind(state)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a firing (see the module's docs). `Ok(None)`: nothing to record, because the
    /// alert is no longer active (deleted or paused since the frame) or this firing is recorded
    /// already.
    pub async fn record_firing(&self, firing: &Firing) -> Result<Option<Recorded>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT user_id, symbol, condition, note FROM alerts WHERE id = $1 AND state = 'active'")
            .bind(firing.alert_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (user_id, symbol, condition, note): (i64, String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let mut entries = Vec::new();
        let kinds: &[&str] = match firing.ends_in {
            Some("stopped") => &["fired", "stopped"],
            _ => &["fired"],
        };
        for kind in kinds {
            let id = next_event(&mut tx, user_id).await?;
            let entry = InboxRow {
                id,
                alert_id: firing.alert_id,
                kind: kind.to_string(),
                symbol: symbol.clone(),
                condition: condition.clone(),
                price: firing.price,
                prev: firing.prev,
                seq: firing.seq,
                ts: firing.ts,
                note: note.clone(),
                read: false,
            };
            let written = sqlx::query(
                "INSERT INTO inbox (user_id, id, alert_id, kind, symbol, condition, price, prev, seq, ts, note, is_read) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0) ON CONFLICT (alert_id, kind, seq, ts) DO NOTHING",
            )
            .bind(user_id)
            .bind(entry.id)
            .bind(entry.alert_id)
            .bind(&entry.kind)
            .bind(&entry.symbol)
            .bind(&entry.condition)
            .bind(entry.price)
            .bind(entry.prev)
            .bind(entry.seq)
            .bind(entry.ts)
            .bind(&entry.note)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if written == 0 {
                // Recorded already: dropping the transaction rolls the revision back.
                return Ok(None);
            }
            entries.push(entry);
        }
        sqlx::query(
            "UPDATE alerts SET fire_count = fire_count + 1, last_fired = $1, state = COALESCE($2, state) WHERE id = $3",
        )
        .bind(firing.ts)
        .bind(firing.ends_in)
        .bind(firing.alert_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Recorded { user_id, entries }))
    }

    /// The user's inbox after entry `after`, oldest first, at most `limit`.
    pub async fn inbox(&self, user_id: i64, after: i64, limit: i64) -> Result<Vec<InboxRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            inbox_columns!(),
            " FROM inbox WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(user_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(inbox_of).collect::<Result<_, _>>()?)
    }

    /// How many of the user's entries are unread.
    pub async fn unread(&self, user_id: i64) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM inbox WHERE user_id = $1 AND is_read = 0")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Marks entries read (those up to `up_to`, and those in `ids`); returns the event number
    /// of the mark and how many stay unread.
    pub async fn mark_read(&self, user_id: i64, up_to: Option<i64>, ids: &[i64]) -> Result<(i64, i64), StoreError> {
        let mut tx = self.begin_write().await?;
        let rev = next_event(&mut tx, user_id).await?;
        if let Some(up_to) = up_to {
            sqlx::query("UPDATE inbox SET is_read = 1 WHERE user_id = $1 AND id <= $2 AND is_read = 0")
                .bind(user_id)
                .bind(up_to)
                .execute(&mut *tx)
                .await?;
        }
        for id in ids {
            sqlx::query("UPDATE inbox SET is_read = 1 WHERE user_id = $1 AND id = $2")
                .bind(user_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let unread: i64 = sqlx::query("SELECT COUNT(*) FROM inbox WHERE user_id = $1 AND is_read = 0")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        tx.commit().await?;
        Ok((rev, unread))
    }

    /// Deletes inbox entries older than `before`; returns how many.
    pub async fn purge_inbox(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM inbox WHERE ts < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Numbers the user's next private event that is not an account change (see migration 0004).
async fn next_event(tx: &mut Tx, user_id: i64) -> Result<i64, StoreError> {
    let row = sqlx::query("UPDATE users SET rev = rev + 1 WHERE id = $1 RETURNING rev")
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get(0)?)
}
