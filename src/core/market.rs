//! Market identity and the price grid.

use std::fmt;
use std::sync::Arc;

/// A market ticker (`KXFEDDECISION-26DEC-H25`). Cheap to clone: books, orders and screens all
/// key on it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Ticker(Arc<str>);

impl Ticker {
    pub fn new(text: &str) -> Ticker {
        Ticker(Arc::from(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Ticker {
    fn from(text: &str) -> Ticker {
        Ticker::new(text)
    }
}

impl From<String> for Ticker {
    fn from(text: String) -> Ticker {
        Ticker(Arc::from(text))
    }
}

impl std::borrow::Borrow<str> for Ticker {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}
