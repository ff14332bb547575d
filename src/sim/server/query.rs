//! Query strings the way Kalshi's endpoints take them: repeated keys (`tickers=A&tickers=B`),
//! comma lists, integers and booleans; every bad value is a 400 naming the parameter.

use super::errors::RestError;
use std::collections::BTreeMap;

/// A parsed query string.
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    values: BTreeMap<String, Vec<String>>,
}

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> QueryParams {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            values
                .entry(key.into_owned())
                .or_default()
                .push(value.into_owned());
        }
        QueryParams { values }
    }

    /// The last non-empty value of `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every value of `name`, each split at commas.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.values
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, RestError> {
        self.text(name)
            .map(|text| {
                text.parse::<i64>().map_err(|_| {
                    RestError::bad_request(format!(
                        "query parameter {name}={text:?} is not an integer"
                    ))
                })
            })
            .transpose()
    }

    pub fn flag(&self, name: &str) -> Result<bool, RestError> {
        match self.text(name) {
            None => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(RestError::bad_request(format!(
                "query parameter {name}={other:?} must be true or false"
            ))),
        }
    }

    /// `subaccount`, 0..=63.
    pub fn subaccount(&self) -> Result<Option<u32>, RestError> {
        match self.int("subaccount")? {
            None => Ok(None),
            Some(n) if (0..=63).contains(&n) => Ok(Some(n as u32)),
            Some(n) => Err(RestError::bad_request(format!(
                "subaccount {n} must be between 0 and 63"
            ))),
        }
    }

    /// `limit` within `1..=max` (or `0..=max` when `zero_ok`), defaulting to `default`.
    pub fn limit(&self, default: usize, max: usize, zero_ok: bool) -> Result<usize, RestError> {
        match self.int("limit")? {
            None => Ok(default),
            Some(0) if zero_ok => Ok(default),
            Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
            Some(n) => Err(RestError::bad_request(format!(
                "limit {n} must be between 1 and {max}"
            ))),
        }
    }

    /// The offset a `cursor` encodes (the simulator's cursors are offsets into a stable order).
    pub fn cursor(&self) -> Result<usize, RestError> {
        match self.text("cursor") {
            None => Ok(0),
            Some(text) => text.parse::<usize>().map_err(|_| {
                RestError::bad_request(format!("cursor {text:?} is not one this server issued"))
            }),
        }
    }
}

/// One page of `items` from `offset`, and the cursor of the next page ("" when none).
pub fn page<T>(items: Vec<T>, offset: usize, limit: usize) -> (Vec<T>, String) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let next = offset + page.len();
    let cursor = if next < total {
        next.to_string()
    } else {
        String::new()
    };
    (page, cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_ints_flags_and_pages() {
        let query = QueryParams::parse(Some(
            "tickers=A&tickers=B,C&limit=2&with_nested_markets=true&x=",
        ));
        assert_eq!(query.list("tickers"), vec!["A", "B", "C"]);
        assert_eq!(query.int("limit").unwrap(), Some(2));
        assert!(query.flag("with_nested_markets").unwrap());
        assert_eq!(query.text("x"), None);
        assert!(QueryParams::parse(Some("limit=abc")).int("limit").is_err());
        assert!(
            QueryParams::parse(Some("limit=1001"))
                .limit(100, 1000, false)
                .is_err()
        );
        assert!(
            QueryParams::parse(Some("subaccount=64"))
                .subaccount()
                .is_err()
        );
        let (first, cursor) = page(vec![1, 2, 3], 0, 2);
        assert_eq!((first, cursor.as_str()), (vec![1, 2], "2"));
        let (rest, cursor) = page(vec![1, 2, 3], 2, 2);
        assert_eq!((rest, cursor.as_str()), (vec![3], ""));
    }
}
