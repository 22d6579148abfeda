//! One module per page. Each takes a `BuildState` snapshot, asks [`crate::views`] exactly what the
//! JSON-RPC method (and `--format json`) answers, and turns the response into a template's fields:
//! links resolved from the response's `index`, times as text. Templates are in `src/web/templates/`,
//! compiled and checked by askama; all log-derived text is HTML-escaped by it.

pub mod error;
pub mod home;
pub mod job_run;
pub mod lineage;
pub mod links;
pub mod partition;
pub mod search;
pub mod want;

use std::collections::BTreeSet;

use serde_json::json;

use askama::filters::HtmlSafe;
use uuid::Uuid;

use crate::calendar;
use crate::views::{RelatedEntities, ViewError};
use crate::web::route::PageError;

/// What the layout (`base.html`) shows around every page.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub title: String,
    /// The `databuild/subscribe` params for this page's live updates, as JSON (empty: every change).
    pub subscribe: String,
    /// What the search box shows.
    pub query: String,
}

impl Frame {
    pub fn new(title: impl Into<String>, subscribe: String) -> Frame {
        Frame { title: title.into(), subscribe, query: String::new() }
    }
}

/// The `databuild/subscribe` params for a page that shows `refs` and `wants` (each listed once, sorted).
pub fn subscription<'a>(refs: impl IntoIterator<Item = &'a str>, wants: impl IntoIterator<Item = &'a str>) -> String {
    let refs: BTreeSet<&str> = refs.into_iter().collect();
    let wants: BTreeSet<&str> = wants.into_iter().collect();
    json!({ "refs": refs, "wants": wants }).to_string()
}

/// The subscription for a page that shows everything a view response's index holds.
pub fn index_subscription(index: &RelatedEntities) -> String {
    subscription(index.partitions.values().map(|p| p.partition_ref.as_str()), index.wants.keys().map(String::as_str))
}

/// An event's time as pages show it: to the second, UTC.
pub fn when(ms: u64) -> String {
    format!("{} UTC", calendar::format_timestamp_seconds(ms))
}

/// Asks a view about a partition named by a path key: as an instance UUID when it is one the log knows,
/// else as a ref. `ask` gets the view's `ref` and `uuid` params. A key that is neither, and looks like a
/// UUID, is answered with why it is not one.
pub fn by_key<T>(
    key: &str,
    ask: impl Fn(Option<String>, Option<String>) -> Result<T, ViewError>,
) -> Result<T, PageError> {
    let by_ref = || ask(Some(key.to_string()), None);
    match Uuid::parse_str(key) {
        Ok(_) => match ask(None, Some(key.to_string())) {
            Err(ViewError::NotFound { .. }) => by_ref().map_err(|_| {
                PageError::NotFound(format!(
                    "There is no partition instance with UUID {key}, nor a ref {key}, in this log."
                ))
            }),
            found => Ok(found?),
        },
        Err(e) => by_ref().map_err(|error| match error {
            ViewError::NotFound { .. } if looks_like_uuid(key) => PageError::NotFound(format!(
                "There is no partition ref {key} in this log, and it is not a valid instance UUID either ({e})."
            )),
            other => other.into(),
        }),
    }
}

/// Hex digits and hyphens with a hyphen in them, or 32 hex digits: probably meant as a UUID.
fn looks_like_uuid(key: &str) -> bool {
    let hexy = key.len() >= 8 && key.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    hexy && (key.contains('-') || key.len() == 32)
}

/// JSON for a `<script type="application/json">` element: `<`, `>`, `&` and the JavaScript line
/// separators escaped, so no log-derived text can end the element or start markup.
#[derive(Debug, Clone)]
pub struct ScriptJson(String);

impl ScriptJson {
    pub fn new(value: &serde_json::Value) -> ScriptJson {
        let text = value.to_string();
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        }
        ScriptJson(out)
    }
}

impl std::fmt::Display for ScriptJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl HtmlSafe for ScriptJson {}
