//! Page URLs: one function per kind of page, so that every link and the router agree. An id or a ref
//! is one percent-encoded path segment (refs contain `/`), so URLs are stable and can be shared.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `text` as one path segment or query value.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// Percent-decodes a path segment (`+` stays a plus). `None` if the bytes are not UTF-8.
pub fn decode_segment(text: &str) -> Option<String> {
    percent_decode_str(text).decode_utf8().ok().map(|s| s.into_owned())
}

/// Decodes a query value of an HTML form (`application/x-www-form-urlencoded`: `+` is a space).
pub fn decode_query_value(text: &str) -> Option<String> {
    decode_segment(&text.replace('+', " "))
}

pub fn home() -> &'static str {
    "/"
}

pub fn want(id: &str) -> String {
    format!("/wants/{}", encode(id))
}

/// A want's fulfillment tree with every retry listed as its own attempt.
pub fn want_expanded(id: &str) -> String {
    format!("/wants/{}?expandRetries=true", encode(id))
}

pub fn job_run(id: &str) -> String {
    format!("/job-runs/{}", encode(id))
}

/// A partition page by ref (its current instance and instance history) or by instance UUID.
pub fn partition(ref_or_uuid: &str) -> String {
    format!("/partitions/{}", encode(ref_or_uuid))
}

/// The lineage graph around a ref's current instance or an instance UUID.
pub fn lineage(ref_or_uuid: &str) -> String {
    format!("/lineage/{}", encode(ref_or_uuid))
}

pub fn search(q: &str) -> String {
    format!("/search?q={}", encode(q))
}

/// The first 8 characters of a UUID, as pages show it beside a ref.
pub fn short_uuid(uuid: &str) -> &str {
    uuid.get(..8).unwrap_or(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_one_segment_and_decode_back() {
        assert_eq!(partition("data/beta"), "/partitions/data%2Fbeta");
        assert_eq!(
            lineage("s3://bucket/sales/date=2025-06-01"),
            "/lineage/s3%3A%2F%2Fbucket%2Fsales%2Fdate%3D2025-06-01"
        );
        assert_eq!(job_run("JR 1?#&"), "/job-runs/JR%201%3F%23%26");
        assert_eq!(want("W-001"), "/wants/W-001");
        for text in ["data/beta", "a b+c", "ü/…", "<script>", "%2F"] {
            assert_eq!(decode_segment(&encode(text)).as_deref(), Some(text));
            assert_eq!(decode_query_value(&encode(text)).as_deref(), Some(text));
        }
        assert_eq!(decode_query_value("a+b%2Bc").as_deref(), Some("a b+c"));
        assert_eq!(decode_segment("%FF"), None);
        assert_eq!(short_uuid("d1305448-db69-5062-8c23-837705b1ceef"), "d1305448");
        assert_eq!(short_uuid("abc"), "abc");
    }
}
