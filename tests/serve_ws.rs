//! `dbl serve --listen`: the same registry over WebSocket, with subscriptions, from jsonrpsee's client.

mod common;

use std::time::{Duration, Instant};

use common::*;
use dbl::events;
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{json, Value};

/// Spawns `dbl serve --listen 127.0.0.1:0` and returns it with the address it printed on stderr.
fn spawn_ws(dir: &std::path::Path, log: &std::path::Path) -> (Kill, String, std::path::PathBuf) {
    spawn_ws_with(dir, log, &[])
}

fn spawn_ws_with(dir: &std::path::Path, log: &std::path::Path, extra: &[&str]) -> (Kill, String, std::path::PathBuf) {
    let stderr_path = dir.join("ws-stderr.txt");
    // Killed and waited for when dropped, on every path (the panic below included).
    let child = Kill(
        dbl()
            .args(["serve", "--listen", "127.0.0.1:0", "--poll-ms", "20", "--log", log.to_str().unwrap()])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        if let Some(at) = stderr.find("listening on ws://") {
            let url = stderr[at + "listening on ".len()..].lines().next().unwrap().trim().to_string();
            return (child, url, stderr_path);
        }
        if Instant::now() >= deadline {
            panic!("no address on stderr: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_methods_and_subscription_in_event_order() {
    let dir = tempfile::tempdir().unwrap();
    let all = events::demo_events();
    let log = dir.path().join("demo.bel");
    write_log(&log, &all[..4]);
    let (mut child, url, _) = spawn_ws(dir.path(), &log);
    let client = WsClientBuilder::default().build(&url).await.unwrap();

    let deadline = Instant::now() + TIMEOUT;
    loop {
        let status: Value = client.request("databuild/status", rpc_params![]).await.unwrap();
        if status["eventsApplied"] == 4 && status["loading"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let error = client.request::<Value, _>("databuild/nope", rpc_params![]).await.unwrap_err().to_string();
    assert!(error.contains("-32601") || error.contains("Method not found"), "{error}");

    let mut params = jsonrpsee::core::params::ObjectParams::new();
    params.insert("wants", ["W-001", "W-002"]).unwrap();
    let mut sub = client.subscribe::<Value, _>("databuild/subscribe", params, "databuild/unsubscribe").await.unwrap();
    let first = tokio::time::timeout(TIMEOUT, sub.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(first, json!({"kind": "subscribed", "lastEventId": 4, "loading": false}));

    // Append the rest one event at a time.
    for e in &all[4..] {
        append_log(&log, std::slice::from_ref(e));
    }
    let mut ids = Vec::new();
    let mut notices = Vec::new();
    while ids.last() != Some(&15) {
        let notice = tokio::time::timeout(TIMEOUT, sub.next()).await.expect("notice in time").unwrap().unwrap();
        assert_eq!(notice["kind"], "changed", "{notice}");
        ids.push(notice["eventId"].as_u64().unwrap());
        notices.push(notice);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let text = serde_json::to_string(&notices).unwrap();
    assert!(
        text.contains(
            r#"{"entity":"derivativeWant","parentWantId":"W-001","childWantId":"W-002","jobRunId":"JR-123"}"#
        ),
        "{text}"
    );
    let w001_done = notices
        .iter()
        .flat_map(|n| n["changes"].as_array().unwrap())
        .any(|c| c["entity"] == "want" && c["wantId"] == "W-001" && c["to"] == "Successful");
    assert!(w001_done, "W-001 never became Successful: {text}");
    assert!(text.contains(r#""wantId":"W-002","from":"Building","to":"Successful""#), "{text}");

    let status: Value = client.request("databuild/status", rpc_params![]).await.unwrap();
    assert_eq!(status["digest"], cold_digest(&log));

    // The editor's neighbour lists are served here too, by name (no documents on this transport).
    let mut params = jsonrpsee::core::params::ObjectParams::new();
    params.insert("ref", "data/gamma").unwrap();
    let up: Value = client.request("databuild/upstream", params).await.unwrap();
    let refs: Vec<&str> = up["data"]["items"].as_array().unwrap().iter().map(|i| i["ref"].as_str().unwrap()).collect();
    assert_eq!(refs, ["data/beta", "data/alpha"], "{up}");
    assert_eq!(up["index"]["jobRuns"]["JR-456"]["jobLabel"], "//jobs:beta", "{up}");
    let mut params = jsonrpsee::core::params::ObjectParams::new();
    params.insert("textDocument", json!({"uri": "file:///w/a.py"})).unwrap();
    params.insert("position", json!({"line": 0, "character": 0})).unwrap();
    let error = client.request::<Value, _>("databuild/downstream", params).await.unwrap_err().to_string();
    assert!(error.contains("document file:///w/a.py is not open"), "{error}");
    sub.unsubscribe().await.unwrap();
    child.0.kill().unwrap();
    let output = child.0.wait_with_output_ref();
    assert!(output.is_empty(), "WebSocket-only serve wrote to stdout: {output:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_limits_are_errors_that_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.bel");
    write_log(&log, &events::demo_events());
    let limits = ["--max-subscriptions", "1", "--max-connections", "1", "--max-message-bytes", "1000"];
    let (_child, url, _) = spawn_ws_with(dir.path(), &log, &limits);
    let client = WsClientBuilder::default().build(&url).await.unwrap();
    let params = || jsonrpsee::core::params::ObjectParams::new();
    let _first = client.subscribe::<Value, _>("databuild/subscribe", params(), "databuild/unsubscribe").await.unwrap();
    let second = client.subscribe::<Value, _>("databuild/subscribe", params(), "databuild/unsubscribe").await;
    let error = second.map(|_| ()).unwrap_err().to_string();
    assert!(error.contains("Too many subscriptions") && error.contains("1"), "{error}");

    // A second connection is one too many.
    let second = WsClientBuilder::default().build(&url).await;
    let error = second.map(|_| ()).unwrap_err().to_string();
    assert!(error.contains("429") || error.contains("Too Many"), "{error}");
    drop(client);

    // A message over --max-message-bytes is answered with an error that says so (a raw WebSocket,
    // since jsonrpsee's client gives up on an answer with a null id).
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "databuild/want", "params": {"wantId": "W".repeat(2000)}});
    let addr = url.trim_start_matches("ws://").to_string();
    let answer = tokio::task::spawn_blocking(move || raw_ws_exchange(&addr, &big.to_string())).await.unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["error"]["code"], -32007, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("too big"), "{answer}");
    assert!(answer["error"]["data"].to_string().contains("1000"), "the limit is named: {answer}");
}

/// Upgrades a TCP connection to WebSocket, sends one text message, returns the first text reply.
fn raw_ws_exchange(addr: &str, text: &str) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let deadline = Instant::now() + TIMEOUT;
    let stream = loop {
        // The previous connection may still count against --max-connections for a moment.
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        if status.contains(" 101 ") {
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            break reader.into_inner();
        }
        assert!(Instant::now() < deadline, "no upgrade: {status}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stream = stream;
    // A masked text frame (clients must mask), 16-bit length.
    let payload = text.as_bytes();
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | 126];
    frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).unwrap();
    loop {
        let mut head = [0u8; 2];
        stream.read_exact(&mut head).unwrap();
        let len = match head[1] & 0x7f {
            126 => {
                let mut ext = [0u8; 2];
                stream.read_exact(&mut ext).unwrap();
                u16::from_be_bytes(ext) as usize
            }
            127 => {
                let mut ext = [0u8; 8];
                stream.read_exact(&mut ext).unwrap();
                u64::from_be_bytes(ext) as usize
            }
            n => n as usize,
        };
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).unwrap();
        if head[0] & 0x0f == 1 {
            return String::from_utf8(body).unwrap();
        }
    }
}

trait StdoutOf {
    fn wait_with_output_ref(&mut self) -> Vec<u8>;
}
impl StdoutOf for std::process::Child {
    fn wait_with_output_ref(&mut self) -> Vec<u8> {
        use std::io::Read;
        let _ = self.wait();
        let mut out = Vec::new();
        if let Some(mut stdout) = self.stdout.take() {
            stdout.read_to_end(&mut out).unwrap();
        }
        out
    }
}
