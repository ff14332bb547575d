//! Cursor pagination: follow `cursor` until the exchange sends an empty one.

use super::error::RestError;
use std::collections::HashSet;
use std::future::Future;

/// A safety stop: at 1000 items a page this is ten million items.
pub const MAX_PAGES: usize = 10_000;

/// Fetch pages with `fetch(cursor)` (the first call gets `None`) until a page comes back with
/// an empty cursor. A cursor the exchange already sent is an error, not an endless loop.
pub async fn collect_pages<T, Fut>(
    what: &str,
    mut fetch: impl FnMut(Option<String>) -> Fut,
) -> Result<Vec<T>, RestError>
where
    Fut: Future<Output = Result<(Vec<T>, String), RestError>>,
{
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = HashSet::new();
    for _ in 0..MAX_PAGES {
        let (page, next) = fetch(cursor.take()).await?;
        items.extend(page);
        if next.is_empty() {
            return Ok(items);
        }
        if !seen.insert(next.clone()) {
            return Err(RestError::Decode {
                what: format!("{what} pages"),
                error: format!("the exchange repeated cursor {next:?}"),
            });
        }
        cursor = Some(next);
    }
    Err(RestError::Decode {
        what: format!("{what} pages"),
        error: format!("more than {MAX_PAGES} pages"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    #[test]
    fn follows_cursors_to_the_end() {
        let pages = [
            ("", vec![1, 2], "a"),
            ("a", vec![3], "b"),
            ("b", vec![4], ""),
        ];
        let mut calls = 0;
        let all = collect_pages("numbers", |cursor| {
            let (expected, items, next) = pages[calls].clone();
            calls += 1;
            assert_eq!(cursor.unwrap_or_default(), expected);
            async move { Ok((items, next.to_string())) }
        })
        .now_or_never()
        .unwrap()
        .unwrap();
        assert_eq!(all, vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_repeated_cursor_is_an_error() {
        let result = collect_pages("loops", |_| async { Ok((vec![1], "same".to_string())) })
            .now_or_never()
            .unwrap();
        assert!(matches!(result, Err(RestError::Decode { .. })));
    }
}
