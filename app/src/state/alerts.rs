//! The signed-in user's alerts and inbox as the page holds them (issue 26). Pure rules: what a
//! `notification` or `read` event does to the inbox, and how a price typed in the alert form
//! becomes the instrument's integer units.

use crate::wire::alerts::{Notification, ReadMark};

/// Inbox entries the page keeps (the newest); older ones stay on the server.
pub const MAX_ITEMS: usize = 200;
/// Toasts on screen at once; a new one pushes out the oldest.
pub const MAX_TOASTS: usize = 3;

/// The inbox: its newest entries, oldest first, and how many are unread (the server's count,
/// kept current by the events).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inbox {
    pub items: Vec<Notification>,
    pub unread: u64,
    /// Entries that arrived while this page was open, shown as toasts until dismissed.
    pub toasts: Vec<Notification>,
}

impl Inbox {
    /// Takes the inbox as the server has it (at start, after sign-in, after a resync).
    pub fn replace(&mut self, mut items: Vec<Notification>, unread: u64) {
        items.sort_by_key(|n| n.id);
        items.dedup_by_key(|n| n.id);
        let over = items.len().saturating_sub(MAX_ITEMS);
        items.drain(..over);
        self.items = items;
        self.unread = unread;
    }

    /// A `notification` event: a new entry (toasted), or one the page has (ignored). Returns
    /// whether it was new.
    pub fn add(&mut self, entry: Notification) -> bool {
        if self.items.iter().any(|n| n.id == entry.id) {
            return false;
        }
        if !entry.read {
            self.unread += 1;
        }
        let at = self.items.partition_point(|n| n.id < entry.id);
        self.items.insert(at, entry.clone());
        if self.items.len() > MAX_ITEMS {
            self.items.remove(0);
        }
        self.toasts.push(entry);
        if self.toasts.len() > MAX_TOASTS {
            self.toasts.remove(0);
        }
        true
    }

    /// A `read` event (from this tab or another): the entries it names are read, and the
    /// server's count of the rest is the truth.
    pub fn read(&mut self, mark: &ReadMark) {
        for item in &mut self.items {
            let named = mark.up_to.is_some_and(|up_to| item.id <= up_to)
                || mark.ids.as_ref().is_some_and(|ids| ids.contains(&item.id));
            if named {
                item.read = true;
            }
        }
        self.unread = mark.unread;
    }

    pub fn dismiss(&mut self, id: u64) {
        self.toasts.retain(|t| t.id != id);
    }

    /// The newest entry's id, if any.
    pub fn newest(&self) -> Option<u64> {
        self.items.last().map(|n| n.id)
    }
}

/// A price typed by the user (`189.5`, `0.00012`) in units of 10^-`decimals`; `None` if it is
/// not a positive number with at most `decimals` decimals on the `tick` grid.
pub fn parse_price(text: &str, decimals: u8, tick: i64) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > usize::from(decimals)
    {
        return None;
    }
    let scale = 10i64.checked_pow(u32::from(decimals))?;
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let padded = format!("{fraction:0<width$}", width = usize::from(decimals));
    let fraction: i64 = if padded.is_empty() { 0 } else { padded.parse().ok()? };
    let units = whole.checked_mul(scale)?.checked_add(fraction)?;
    (units > 0 && units % tick.max(1) == 0).then_some(units)
}

/// How a condition reads in a sentence.
pub fn condition_label(condition: &str) -> &'static str {
    match condition {
        "crossing" => "crossing",
        "crossing_up" => "crossing up",
        "crossing_down" => "crossing down",
        "greater_than" => "above",
        "less_than" => "below",
        "entering_channel" => "entering",
        "exiting_channel" => "leaving",
        "moving_up_pct" => "up by",
        "moving_down_pct" => "down by",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, read: bool) -> Notification {
        Notification {
            id,
            alert: 1,
            kind: "fired".into(),
            symbol: "AAPL".into(),
            condition: "crossing_up".into(),
            price: 18_950,
            prev: 18_949,
            seq: 7,
            ts: 0,
            note: String::new(),
            read,
        }
    }

    #[test]
    fn an_entry_counts_once_and_read_marks_follow_the_server() {
        let mut inbox = Inbox::default();
        inbox.replace(vec![entry(3, true), entry(1, false)], 1);
        assert_eq!(inbox.items.iter().map(|n| n.id).collect::<Vec<_>>(), [1, 3]);
        assert!(inbox.add(entry(5, false)));
        assert!(!inbox.add(entry(5, false)), "a repeat is not a new entry");
        assert_eq!((inbox.unread, inbox.toasts.len()), (2, 1));
        inbox.read(&ReadMark {
            up_to: None,
            ids: Some(vec![5]),
            unread: 1,
        });
        assert!(inbox.items[2].read && !inbox.items[0].read);
        inbox.read(&ReadMark {
            up_to: Some(5),
            ids: None,
            unread: 0,
        });
        assert!(inbox.items.iter().all(|n| n.read));
        assert_eq!(inbox.unread, 0);
        for id in 10..20 {
            inbox.add(entry(id, false));
        }
        assert_eq!(inbox.toasts.len(), MAX_TOASTS);
        inbox.dismiss(19);
        assert_eq!(inbox.toasts.iter().map(|t| t.id).collect::<Vec<_>>(), [17, 18]);
        assert_eq!(inbox.newest(), Some(19));
    }

    #[test]
    fn prices_are_read_exactly_on_the_grid() {
        assert_eq!(parse_price("189.5", 2, 1), Some(18_950));
        assert_eq!(parse_price(" 189.50 ", 2, 1), Some(18_950));
        assert_eq!(parse_price("189", 2, 1), Some(18_900));
        assert_eq!(parse_price(".5", 2, 1), Some(50));
        assert_eq!(parse_price("0.00012", 5, 1), Some(12));
        assert_eq!(parse_price("1.085", 4, 5), Some(10_850));
        assert_eq!(parse_price("1.0851", 4, 5), None, "off the grid");
        for bad in [
            "",
            ".",
            "-1",
            "1.234",
            "1e3",
            "abc",
            "0",
            "0.00",
            "99999999999999999999",
        ] {
            assert_eq!(parse_price(bad, 2, 1), None, "{bad:?}");
        }
    }
}
