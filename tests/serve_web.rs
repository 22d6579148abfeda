//! `dbl serve --listen`: the web pages on the listener's port, over raw HTTP/1.1 against the real binary:
//! pages answer GETs, the listener's guard still runs first (a foreign Origin gets 403, a foreign Host 403),
//! JSON-RPC and WebSocket upgrades still reach jsonrpsee, and `databuild/status` names the pages' URL.

mod common;

use std::path::Path;

use common::http::{get, send, spawn, Server};
use common::*;
use serde_json::Value;

/// A server on the demo log (the story of `dbl demo`).
fn demo_server(dir: &Path) -> Server {
    let log = dir.join("demo.bel");
    write_log(&log, &dbl::events::demo_events());
    spawn(dir, &["--log", log.to_str().unwrap(), "--listen", "127.0.0.1:0"])
}

/// GETs `target` until the daemon has loaded the log (the pages answer from the start, possibly empty).
fn get_loaded(port: u16, target: &str) -> common::http::Response {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let response = get(port, target, &[]);
        if response.status != 404 || std::time::Instant::now() > deadline {
            return response;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn every_page_of_the_demo_story_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let pages = [
        ("/wants/W-001", "DepMiss → retry → Succeeded"),
        ("/job-runs/JR-789", "d1305448"),
        ("/partitions/data%2Fbeta", "d1305448-db69-5062-8c23-837705b1ceef"),
        ("/partitions/d1305448-db69-5062-8c23-837705b1ceef", "JR-456"),
        ("/lineage/data%2Fbeta", r#"id="lineage-data""#),
        ("/", "Recent wants"),
        ("/assets/graph.js", "dagre"),
    ];
    for (target, expected) in pages {
        let response = get_loaded(server.port, target);
        assert_eq!(response.status, 200, "{target}: {}{}", response.head, response.body);
        assert!(response.body.contains(expected), "{target} lacks {expected:?}: {}", response.body);
    }
    let page = get(server.port, "/wants/W-001", &[]);
    assert!(page.head.contains("content-type: text/html; charset=utf-8"), "{}", page.head);
    assert!(page.head.contains("content-security-policy: default-src 'none'; script-src 'self'"), "{}", page.head);
    assert!(page.head.contains("x-content-type-options: nosniff"), "{}", page.head);
}

#[test]
fn bad_urls_get_pages_that_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    get_loaded(server.port, "/wants/W-001");
    let cases = [
        ("/wants/W-404", 404, "There is no want W-404 in this log."),
        ("/job-runs/JR-404", 404, "There is no job run JR-404 in this log."),
        ("/partitions/data%2Fnope", 404, "There is no partition ref data/nope in this log."),
        ("/partitions/d1305448-db69-5062-8c23-83770", 404, "not a valid instance UUID either"),
        ("/partitions/00000000-0000-0000-0000-000000000000", 404, "no partition instance with UUID 00000000"),
        ("/lineage/data%2Fbeta?depth=deep", 400, "depth: &#34;deep&#34; is not a whole number"),
        ("/lineage/data%2Fbeta?fanoutLimit=0", 400, "fanoutLimit: 0 is out of range 1..=1000"),
        ("/lineage/data%2Fbeta?depth=101", 400, "depth: 101 is more than 100"),
        ("/nowhere", 404, "no page at"),
    ];
    for (target, status, message) in cases {
        let response = get(server.port, target, &[]);
        assert_eq!(response.status, status, "{target}: {}", response.body);
        assert!(response.body.contains(message), "{target} lacks {message:?}: {}", response.body);
    }
}

#[test]
fn a_foreign_origin_or_host_gets_403_on_pages_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let port = server.port;
    let own = format!("http://127.0.0.1:{port}");
    for origin in ["https://evil.example", "null", &format!("http://127.0.0.1:{}", port + 1)] {
        for target in ["/", "/wants/W-001", "/assets/live.js"] {
            let response = get(port, target, &[("Origin", origin)]);
            assert_eq!(response.status, 403, "{origin} {target}: {}", response.body);
            assert!(response.body.contains(&format!("Origin must be {own}")), "{}", response.body);
            assert!(!response.body.contains("W-001"), "{}", response.body);
        }
    }
    let response = send(port, "GET /wants/W-001 HTTP/1.1\r\nHost: evil.example\r\n".into(), &[], "");
    assert_eq!(response.status, 403, "{}", response.body);
    // The page's own origin passes (what a browser sends on a same-origin fetch).
    assert_eq!(get_loaded(port, "/wants/W-001").status, 200);
    assert_eq!(get(port, "/wants/W-001", &[("Origin", &own)]).status, 200);
}

#[test]
fn json_rpc_and_websocket_still_reach_jsonrpsee_and_status_names_the_pages() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let port = server.port;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"databuild/status"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    let response = send(port, request, &[], body);
    assert_eq!(response.status, 200, "{}", response.body);
    let status: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(status["result"]["pages"], format!("http://127.0.0.1:{port}/"), "{status}");
    let upgrade = send(
        port,
        format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        ),
        &[("Origin", &format!("http://localhost:{port}"))],
        "",
    );
    assert_eq!(upgrade.status, 101, "{}{}", upgrade.head, upgrade.body);
}

#[test]
fn search_redirects_to_the_one_match_and_head_has_no_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let port = server.port;
    get_loaded(port, "/wants/W-001");
    for (q, to) in [
        ("W-002", "/wants/W-002"),
        ("JR-123", "/job-runs/JR-123"),
        ("data%2Fbeta", "/partitions/data%2Fbeta"),
        ("ad92881c-f799-550a-92da-b8741062ba9c", "/partitions/ad92881c-f799-550a-92da-b8741062ba9c"),
    ] {
        let response = get(port, &format!("/search?q={q}"), &[]);
        assert_eq!(response.status, 303, "{q}: {}", response.body);
        assert!(response.head.contains(&format!("location: {}\r\n", to.to_ascii_lowercase())), "{}", response.head);
    }
    let response = get(port, "/search?q=data%2F", &[]);
    assert_eq!(response.status, 200);
    assert!(response.body.contains("/partitions/data%2Fgamma"), "{}", response.body);
    let response = send(port, format!("HEAD /wants/W-001 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"), &[], "");
    assert_eq!((response.status, response.body.as_str()), (200, ""), "{}", response.head);
}

#[test]
fn assets_are_revalidated_by_etag() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let first = get(server.port, "/assets/style.css", &[]);
    assert_eq!(first.status, 200);
    assert!(first.head.contains("content-type: text/css"), "{}", first.head);
    let etag = first.head.lines().find_map(|l| l.strip_prefix("etag: ")).unwrap().trim().to_string();
    let again = get(server.port, "/assets/style.css", &[("If-None-Match", &etag)]);
    assert_eq!((again.status, again.body.as_str()), (304, ""));
}
