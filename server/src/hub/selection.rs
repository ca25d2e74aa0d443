//! Which instruments a subscriber wants, resolved from the symbols a client wrote.

use super::Hub;
use app::wire::protocol::MAX_SYMBOLS;
use std::sync::Arc;

/// Which instruments a subscriber wants: all, or a mask over the universe.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    mask: Option<Arc<[bool]>>,
}

impl Selection {
    pub fn all() -> Self {
        Selection { mask: None }
    }

    pub fn contains(&self, index: usize) -> bool {
        self.mask.as_ref().is_none_or(|m| m[index])
    }
}

impl Selection {
    /// The mask over the universe; `None` selects every instrument.
    pub(super) fn mask(&self) -> Option<&[bool]> {
        self.mask.as_deref()
    }
}

/// Why a symbol list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("unknown symbol {0:?}; GET /api/symbols lists the known ones")]
    Unknown(String),
    #[error("too many symbols: at most {max} per request")]
    TooMany { max: usize },
}

impl Hub {
    /// Resolves a comma-separated symbol list (`None` or empty: all).
    pub fn select(&self, symbols: Option<&str>) -> Result<Selection, SelectError> {
        let Some(list) = symbols.filter(|s| !s.trim().is_empty()) else {
            return Ok(Selection::all());
        };
        let mut mask = vec![false; self.instruments.len()];
        for (n, raw) in list.split(',').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
            if n >= MAX_SYMBOLS {
                return Err(SelectError::TooMany { max: MAX_SYMBOLS });
            }
            mask[self.lookup(raw)?] = true;
        }
        Ok(Selection {
            mask: Some(mask.into()),
        })
    }

    /// The universe index of a symbol as a client wrote it (trimmed, any case).
    fn lookup(&self, raw: &str) -> Result<usize, SelectError> {
        let symbol = raw.trim().to_ascii_uppercase();
        self.index
            .get(&symbol)
            .copied()
            .ok_or_else(|| SelectError::Unknown(raw.chars().take(32).collect()))
    }

    /// `current` with the symbols of `add` added and those of `remove` taken away.
    pub fn reselect(&self, current: &Selection, add: &[String], remove: &[String]) -> Result<Selection, SelectError> {
        if add.len() + remove.len() > MAX_SYMBOLS {
            return Err(SelectError::TooMany { max: MAX_SYMBOLS });
        }
        let mut mask: Vec<bool> = (0..self.instruments.len()).map(|i| current.contains(i)).collect();
        for (list, value) in [(add, true), (remove, false)] {
            for raw in list {
                mask[self.lookup(raw)?] = value;
            }
        }
        Ok(Selection {
            mask: Some(mask.into()),
        })
    }
}
