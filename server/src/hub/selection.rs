//! Which instruments a subscriber wants, resolved from the symbols a client wrote, and of which
//! it wants the order book and the tape (`depth=`).

use super::Hub;
use app::wire::protocol::MAX_SYMBOLS;
use std::sync::Arc;

pub use app::wire::protocol::MAX_DEPTH_SYMBOLS;

/// Which instruments a subscriber wants (all, or a mask over the universe), and the few of them
/// whose books and prints it wants too.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    mask: Option<Arc<[bool]>>,
    /// Universe indices, ascending, each selected; at most [`MAX_DEPTH_SYMBOLS`].
    depth: Arc<[usize]>,
}

impl Selection {
    pub fn all() -> Self {
        Selection::default()
    }

    pub fn contains(&self, index: usize) -> bool {
        self.mask.as_ref().is_none_or(|m| m[index])
    }

    /// The instruments whose books and prints the subscriber follows, ascending.
    pub fn depth(&self) -> &[usize] {
        &self.depth
    }

    pub(super) fn depth_shared(&self) -> Arc<[usize]> {
        self.depth.clone()
    }

    /// `new` following in depth what this selection follows and `new` still selects.
    pub fn keeping_depth(&self, mut new: Selection) -> Selection {
        new.depth = self.depth.iter().copied().filter(|&i| new.contains(i)).collect();
        new
    }

    /// Whether this is every instrument's quotes and nothing else: what most subscribers want,
    /// so its events are shared (one encoded snapshot per frame, a frame's whole JSON).
    pub(super) fn is_whole_market(&self) -> bool {
        self.mask.is_none() && self.depth.is_empty()
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
    #[error("too many depth symbols: at most {MAX_DEPTH_SYMBOLS} per stream")]
    TooDeep,
    #[error("depth symbol {0:?} is not among the stream's symbols")]
    DepthNotSelected(String),
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
            depth: Arc::new([]),
        })
    }

    /// `selection` with the books and prints of `depth` (a comma-separated symbol list, each
    /// among the selection's; `None` or empty: none).
    pub fn with_depth(&self, selection: Selection, depth: Option<&str>) -> Result<Selection, SelectError> {
        let list: Vec<&str> = depth
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        self.depth_of(selection, &list)
    }

    /// `selection` following `symbols` in depth (see [`Hub::with_depth`]).
    pub fn depth_of(&self, mut selection: Selection, symbols: &[impl AsRef<str>]) -> Result<Selection, SelectError> {
        if symbols.len() > MAX_SYMBOLS {
            return Err(SelectError::TooDeep);
        }
        let mut depth = Vec::with_capacity(symbols.len());
        for raw in symbols {
            let index = self.lookup(raw.as_ref())?;
            if !selection.contains(index) {
                return Err(SelectError::DepthNotSelected(raw.as_ref().chars().take(32).collect()));
            }
            depth.push(index);
        }
        depth.sort_unstable();
        depth.dedup();
        if depth.len() > MAX_DEPTH_SYMBOLS {
            return Err(SelectError::TooDeep);
        }
        selection.depth = depth.into();
        Ok(selection)
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
        // Depth follows only what stays selected.
        Ok(current.keeping_depth(Selection {
            mask: Some(mask.into()),
            depth: Arc::new([]),
        }))
    }
}
