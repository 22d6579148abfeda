//! Which page a request is for: a pure function of its path and query, so every bad URL is answered with
//! a message that names what is wrong (an unknown path, a parameter that is not a number, ...).

use std::collections::BTreeMap;

use super::assets::{self, Asset};
use super::href;
use crate::views::{Direction, LineageParams, ViewError};

#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Home,
    Search {
        q: String,
    },
    Want {
        id: String,
        expand_retries: bool,
    },
    JobRun {
        id: String,
    },
    /// A ref or an instance UUID.
    Partition {
        key: String,
    },
    /// `params` carries the depth controls; its `ref`/`uuid` are left for the page to fill from `key`.
    Lineage {
        key: String,
        params: LineageParams,
    },
    Asset(&'static Asset),
}

/// Why a URL names no page: 404 or 400, with a message for the error page. Pages answer a view's
/// error with it too (see `From<ViewError>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    NotFound(String),
    BadRequest(String),
}

impl From<ViewError> for PageError {
    fn from(error: ViewError) -> PageError {
        match error {
            ViewError::NotFound { kind: "partition", id } => {
                PageError::NotFound(format!("There is no partition instance with UUID {id} in this log."))
            }
            ViewError::NotFound { kind: "ref", id } => {
                PageError::NotFound(format!("There is no partition ref {id} in this log."))
            }
            ViewError::NotFound { kind, id } => PageError::NotFound(format!("There is no {kind} {id} in this log.")),
            bad @ ViewError::BadParams { .. } => PageError::BadRequest(bad.to_string()),
        }
    }
}

/// The route for `path` and `query` (both as sent, still percent-encoded).
pub fn route(path: &str, query: Option<&str>) -> Result<Route, PageError> {
    let query = Query::parse(query.unwrap_or(""))?;
    let (page, rest) = match path.strip_prefix('/').unwrap_or(path).split_once('/') {
        Some((page, rest)) => (page, Some(rest)),
        None => (path.trim_start_matches('/'), None),
    };
    match (page, rest) {
        ("", None) => query.only(&[]).map(|_| Route::Home),
        ("search", None) => {
            query.only(&["q"])?;
            Ok(Route::Search { q: query.get("q").unwrap_or_default().trim().to_string() })
        }
        ("wants", Some(rest)) => {
            query.only(&["expandRetries"])?;
            let expand_retries = query.flag("expandRetries")?;
            Ok(Route::Want { id: key(rest, "want id")?, expand_retries })
        }
        ("job-runs", Some(rest)) => query.only(&[]).and(Ok(Route::JobRun { id: key(rest, "job run id")? })),
        ("partitions", Some(rest)) => {
            query.only(&[]).and(Ok(Route::Partition { key: key(rest, "partition ref or instance UUID")? }))
        }
        ("lineage", Some(rest)) => {
            let params = lineage_params(&query)?;
            Ok(Route::Lineage { key: key(rest, "partition ref or instance UUID")?, params })
        }
        ("assets", Some(name)) => {
            assets::find(name).map(Route::Asset).ok_or_else(|| PageError::NotFound(format!("no asset {}", shown(name))))
        }
        _ => Err(PageError::NotFound(format!(
            "no page at {}: pages are /, /search?q=…, /wants/ID, /job-runs/ID, /partitions/REF-OR-UUID and \
             /lineage/REF-OR-UUID",
            shown(path)
        ))),
    }
}

/// The rest of the path after `/wants/` and the like: one encoded segment (`data%2Fbeta`), or a ref typed
/// with its slashes (`data/beta`), decoded.
fn key(rest: &str, what: &str) -> Result<String, PageError> {
    let decoded = href::decode_segment(rest)
        .ok_or_else(|| PageError::BadRequest(format!("the {what} in the path is not UTF-8 once decoded")))?;
    if decoded.is_empty() {
        return Err(PageError::BadRequest(format!("the path names no {what}")));
    }
    Ok(decoded)
}

/// `direction`, `depth`, `upDepth`, `downDepth`, `fanoutLimit`: the params of `databuild/lineage`, by the
/// same names. An empty value (a form field left blank) is the default.
fn lineage_params(query: &Query) -> Result<LineageParams, PageError> {
    query.only(&["direction", "depth", "upDepth", "downDepth", "fanoutLimit"])?;
    let mut params = LineageParams::default();
    if let Some(direction) = query.get("direction") {
        params.direction = match direction.as_str() {
            "upstream" => Direction::Upstream,
            "downstream" => Direction::Downstream,
            "both" => Direction::Both,
            other => {
                let message = format!("direction: {} is not upstream, downstream or both", shown(other));
                return Err(PageError::BadRequest(message));
            }
        };
    }
    params.depth = query.number("depth")?.unwrap_or(params.depth);
    params.up_depth = query.number("upDepth")?;
    params.down_depth = query.number("downDepth")?;
    params.fanout_limit = query.number("fanoutLimit")?.unwrap_or(params.fanout_limit);
    Ok(params)
}

/// A decoded query string: each name at most once.
#[derive(Debug, Default)]
struct Query(BTreeMap<String, String>);

impl Query {
    fn parse(text: &str) -> Result<Query, PageError> {
        let mut map = BTreeMap::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let bad = || PageError::BadRequest(format!("query parameter {} is not UTF-8", shown(name)));
            let name = href::decode_query_value(name).ok_or_else(bad)?;
            let value = href::decode_query_value(value).ok_or_else(bad)?;
            if map.insert(name.clone(), value).is_some() {
                return Err(PageError::BadRequest(format!("query parameter {} is given twice", shown(&name))));
            }
        }
        Ok(Query(map))
    }

    /// Refuses a parameter this page does not take, naming the ones it does.
    fn only(&self, allowed: &[&str]) -> Result<(), PageError> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(unknown) if allowed.is_empty() => {
                Err(PageError::BadRequest(format!("unknown query parameter {}: this page takes none", shown(unknown))))
            }
            Some(unknown) => Err(PageError::BadRequest(format!(
                "unknown query parameter {}: this page takes {}",
                shown(unknown),
                allowed.join(", ")
            ))),
        }
    }

    /// A value, `None` when absent or empty.
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.trim().is_empty()).cloned()
    }

    fn number(&self, name: &str) -> Result<Option<u32>, PageError> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| PageError::BadRequest(format!("{name}: {} is not a whole number", shown(&v))))
            })
            .transpose()
    }

    fn flag(&self, name: &str) -> Result<bool, PageError> {
        match self.get(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(PageError::BadRequest(format!("{name}: {} is not true or false", shown(other)))),
        }
    }
}

/// Text from a URL for a message: quoted, at most 200 characters.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    format!("{out:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(path: &str, query: Option<&str>) -> Route {
        route(path, query).unwrap_or_else(|e| panic!("{path}?{query:?}: {e:?}"))
    }

    fn bad(path: &str, query: Option<&str>) -> String {
        match route(path, query) {
            Err(PageError::BadRequest(message)) => message,
            other => panic!("{path}?{query:?}: expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn pages_and_their_keys() {
        assert_eq!(ok("/", None), Route::Home);
        assert_eq!(ok("/search", Some("q=data%2Fbeta+x")), Route::Search { q: "data/beta x".into() });
        assert_eq!(ok("/search", None), Route::Search { q: String::new() });
        assert_eq!(ok("/wants/W-001", None), Route::Want { id: "W-001".into(), expand_retries: false });
        assert_eq!(
            ok("/wants/W-001", Some("expandRetries=true")),
            Route::Want { id: "W-001".into(), expand_retries: true }
        );
        assert_eq!(ok("/job-runs/JR%20123", None), Route::JobRun { id: "JR 123".into() });
        assert_eq!(ok("/partitions/data%2Fbeta", None), Route::Partition { key: "data/beta".into() });
        assert_eq!(ok("/partitions/data/beta", None), Route::Partition { key: "data/beta".into() });
        assert!(matches!(ok("/assets/style.css", None), Route::Asset(_)));
    }

    #[test]
    fn lineage_takes_the_rpc_params_by_name() {
        let Route::Lineage { key, params } =
            ok("/lineage/data%2Fbeta", Some("direction=downstream&depth=2&upDepth=&downDepth=5&fanoutLimit=3"))
        else {
            panic!("not a lineage route")
        };
        assert_eq!(key, "data/beta");
        assert_eq!(params.direction, Direction::Downstream);
        assert_eq!((params.depth, params.up_depth, params.down_depth, params.fanout_limit), (2, None, Some(5), 3));
        let Route::Lineage { params, .. } = ok("/lineage/x", None) else { panic!("not a lineage route") };
        assert_eq!(params, LineageParams::default());
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert_eq!(bad("/lineage/x", Some("depth=deep")), r#"depth: "deep" is not a whole number"#);
        assert_eq!(bad("/lineage/x", Some("depth=-1")), r#"depth: "-1" is not a whole number"#);
        assert_eq!(
            bad("/lineage/x", Some("direction=sideways")),
            r#"direction: "sideways" is not upstream, downstream or both"#
        );
        assert_eq!(
            bad("/lineage/x", Some("dpeth=2")),
            r#"unknown query parameter "dpeth": this page takes direction, depth, upDepth, downDepth, fanoutLimit"#
        );
        assert_eq!(bad("/job-runs/JR-1", Some("x=1")), r#"unknown query parameter "x": this page takes none"#);
        assert_eq!(bad("/search", Some("q=a&q=b")), r#"query parameter "q" is given twice"#);
        assert_eq!(bad("/wants/W", Some("expandRetries=yes")), r#"expandRetries: "yes" is not true or false"#);
        assert_eq!(bad("/wants/", None), "the path names no want id");
        assert_eq!(
            bad("/partitions/%FF", None),
            "the partition ref or instance UUID in the path is not UTF-8 once decoded"
        );
        assert_eq!(bad("/search", Some("q=%FF")), r#"query parameter "q" is not UTF-8"#);
        match route("/nope", None) {
            Err(PageError::NotFound(message)) => {
                assert!(message.starts_with(r#"no page at "/nope": pages are /"#), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(route("/assets/nope.js", None), Err(PageError::NotFound(r#"no asset "nope.js""#.into())));
        assert!(matches!(route("/wants", None), Err(PageError::NotFound(_))));
    }
}
