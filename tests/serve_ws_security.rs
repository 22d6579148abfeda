//! `dbl serve --listen`: who may talk to the WebSocket listener (docs/SECURITY.md). Raw HTTP over a TcpStream,
//! so that the exact `Host`, `Origin` and `Authorization` headers a browser or an attacker would send are sent.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::http::{send, spawn, Response};
use common::*;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::{HeaderMap, HeaderValue, WsClientBuilder};
use serde_json::Value;

const TOKEN: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

/// Runs `dbl serve` with `args`, expecting it to exit by itself; returns its status and stderr.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String) {
    let mut child = dbl()
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dbl serve {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status, stderr)
}

/// A token file with `mode`, holding `contents`.
fn token_file(dir: &Path, mode: u32, contents: &str) -> PathBuf {
    let path = dir.join(format!("token-{mode:o}"));
    std::fs::write(&path, contents).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Sends a WebSocket upgrade request to 127.0.0.1:`port` with `Host: host` (none if `None`) and `headers`.
fn upgrade(port: u16, host: Option<&str>, headers: &[(&str, &str)]) -> Response {
    let mut request = String::from("GET / HTTP/1.1\r\n");
    if let Some(host) = host {
        request.push_str(&format!("Host: {host}\r\n"));
    }
    request.push_str(
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    );
    send(port, request, headers, "")
}

/// Sends a JSON-RPC POST to 127.0.0.1:`port` with `Host: host` and `headers`.
fn post(port: u16, host: &str, headers: &[(&str, &str)]) -> Response {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"databuild/status"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    send(port, request, headers, body)
}

#[test]
fn a_foreign_origin_is_refused_with_403() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let host = format!("127.0.0.1:{}", server.port);
    let own = format!("http://127.0.0.1:{}", server.port);
    for origin in ["https://evil.example", "null", &format!("http://127.0.0.1:{}", server.port + 1)] {
        let response = upgrade(server.port, Some(&host), &[("Origin", origin)]);
        assert_eq!(response.status, 403, "{origin}: {}{}", response.head, response.body);
        assert!(response.body.contains(&format!("cross-origin request from {origin} refused")), "{}", response.body);
        assert!(response.body.contains(&format!("Origin must be {own}")), "{}", response.body);
    }
    // Plain HTTP JSON-RPC too.
    let response = post(server.port, &host, &[("Origin", "https://evil.example")]);
    assert_eq!(response.status, 403, "{}", response.body);
    assert!(!response.body.contains("eventsApplied"), "{}", response.body);
}

#[test]
fn the_own_origin_and_no_origin_are_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let port = server.port;
    let host = format!("127.0.0.1:{port}");
    for origin in
        [format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}"), format!("http://[::1]:{port}")]
    {
        let response = upgrade(port, Some(&host), &[("Origin", &origin)]);
        assert_eq!(response.status, 101, "{origin}: {}{}", response.head, response.body);
    }
    let response = upgrade(port, Some(&host), &[]);
    assert_eq!(response.status, 101, "{}{}", response.head, response.body);
    let response = post(port, &host, &[]);
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.body.contains("eventsApplied"), "{}", response.body);
}

#[test]
fn a_host_that_is_not_loopback_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path(), &["--listen", "127.0.0.1:0"]);
    let port = server.port;
    for host in [format!("evil.example:{port}"), "evil.example".to_string(), format!("192.168.1.20:{port}")] {
        let response = upgrade(port, Some(&host), &[]);
        assert_eq!(response.status, 403, "{host}: {}{}", response.head, response.body);
        assert!(response.body.contains(&format!("request for host {host} refused")), "{}", response.body);
        // Even with the origin a rebound page would have.
        let response = upgrade(port, Some(&host), &[("Origin", &format!("http://{host}"))]);
        assert_eq!(response.status, 403, "{host}: {}", response.body);
    }
    for host in [format!("localhost:{port}"), "localhost".to_string(), format!("[::1]:{port}"), "127.0.0.2".to_string()]
    {
        assert_eq!(upgrade(port, Some(&host), &[]).status, 101, "{host}");
    }
    let response = upgrade(port, None, &[]);
    assert_eq!(response.status, 400, "{}", response.body);
    assert!(response.body.contains("no Host header"), "{}", response.body);
}

#[test]
fn with_a_token_file_every_request_needs_the_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path(), 0o600, &format!("{TOKEN}\n"));
    let server = spawn(dir.path(), &["--listen", "127.0.0.1:0", "--token-file", token.to_str().unwrap()]);
    let port = server.port;
    let host = format!("127.0.0.1:{port}");

    let response = upgrade(port, Some(&host), &[]);
    assert_eq!(response.status, 401, "{}{}", response.head, response.body);
    assert!(response.head.contains("www-authenticate: bearer"), "{}", response.head);
    for wrong in ["Bearer wrong", &format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]), &format!("Basic {TOKEN}")] {
        let response = upgrade(port, Some(&host), &[("Authorization", wrong)]);
        assert_eq!(response.status, 401, "{wrong}: {}", response.body);
        assert!(response.head.contains("www-authenticate: bearer"), "{}", response.head);
    }
    let bearer = format!("Bearer {TOKEN}");
    let response = upgrade(port, Some(&host), &[("Authorization", &bearer)]);
    assert_eq!(response.status, 101, "{}{}", response.head, response.body);
    assert_eq!(post(port, &host, &[]).status, 401);
    assert_eq!(post(port, &host, &[("Authorization", &bearer)]).status, 200);
    // The token does not lift the other checks.
    let response = upgrade(port, Some(&host), &[("Authorization", &bearer), ("Origin", "https://evil.example")]);
    assert_eq!(response.status, 403, "{}", response.body);
    let response = upgrade(port, Some("evil.example"), &[("Authorization", &bearer)]);
    assert_eq!(response.status, 403, "{}", response.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonrpsee_ws_client_with_the_token_calls_status() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path(), 0o600, TOKEN);
    let server = spawn(dir.path(), &["--listen", "127.0.0.1:0", "--token-file", token.to_str().unwrap()]);
    let url = format!("ws://127.0.0.1:{}", server.port);

    let mut headers = HeaderMap::new();
    headers.insert("Authorization", HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap());
    let client = WsClientBuilder::default().set_headers(headers).build(&url).await.unwrap();
    let status: Value = client.request("databuild/status", rpc_params![]).await.unwrap();
    assert!(status["eventsApplied"].is_u64(), "{status}");

    let Err(error) = WsClientBuilder::default().build(&url).await else { panic!("connected without the token") };
    let error = error.to_string();
    assert!(error.contains("401"), "{error}");
}

#[test]
fn a_remote_listener_needs_the_token_and_checks_origin_against_host() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path(), 0o600, TOKEN);
    let server =
        spawn(dir.path(), &["--listen", "0.0.0.0:0", "--allow-remote", "--token-file", token.to_str().unwrap()]);
    let port = server.port;
    let bearer = format!("Bearer {TOKEN}");
    let auth = ("Authorization", bearer.as_str());

    assert_eq!(upgrade(port, Some(&format!("127.0.0.1:{port}")), &[]).status, 401);
    assert_eq!(upgrade(port, Some(&format!("127.0.0.1:{port}")), &[auth]).status, 101);
    // Any Host (the machine's names are not known), but a present Origin must be http:// + that Host.
    let host = format!("build-box.example:{port}");
    assert_eq!(upgrade(port, Some(&host), &[auth]).status, 101);
    assert_eq!(upgrade(port, Some(&host), &[auth, ("Origin", &format!("http://{host}"))]).status, 101);
    let response = upgrade(port, Some(&host), &[auth, ("Origin", "https://evil.example")]);
    assert_eq!(response.status, 403, "{}", response.body);
    assert!(response.body.contains(&format!("Origin must be http://{host}")), "{}", response.body);
}

#[test]
fn allow_remote_without_a_token_file_does_not_start() {
    let (status, stderr) = run_to_exit(&["--listen", "0.0.0.0:0", "--allow-remote"]);
    assert!(!status.success());
    assert!(stderr.contains("--token-file"), "{stderr}");
    let (status, stderr) = run_to_exit(&["--listen", "0.0.0.0:0"]);
    assert!(!status.success());
    assert!(stderr.contains("not a loopback address") && stderr.contains("--allow-remote"), "{stderr}");
}

#[test]
fn a_token_file_others_may_read_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o644, 0o640, 0o606] {
        let token = token_file(dir.path(), mode, TOKEN);
        let shown = token.to_str().unwrap();
        for listen in [&["--listen", "127.0.0.1:0"][..], &["--listen", "0.0.0.0:0", "--allow-remote"][..]] {
            let args = [listen, &["--token-file", shown]].concat();
            let (status, stderr) = run_to_exit(&args);
            assert!(!status.success(), "{args:?}");
            assert!(stderr.contains(shown) && stderr.contains(&format!("mode {mode:04o}")), "{stderr}");
            assert!(!stderr.contains("listening on"), "{stderr}");
        }
    }
    let empty = token_file(dir.path(), 0o600, " \n");
    let (status, stderr) = run_to_exit(&["--listen", "127.0.0.1:0", "--token-file", empty.to_str().unwrap()]);
    assert!(!status.success());
    assert!(stderr.contains(empty.to_str().unwrap()) && stderr.contains("empty"), "{stderr}");
    let missing = dir.path().join("missing");
    let (status, stderr) = run_to_exit(&["--listen", "127.0.0.1:0", "--token-file", missing.to_str().unwrap()]);
    assert!(!status.success());
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
}
