//! Raw HTTP/1.1 against `dbl serve --listen`: a server spawned on a free port, and requests with exactly
//! the headers a browser or an attacker would send.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{dbl, TIMEOUT};

pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `dbl serve` with `args` (which include `--listen`) and waits for the address on stderr.
pub fn spawn(dir: &Path, args: &[&str]) -> Server {
    spawn_command(dir, "serve", args, &[])
}

/// Spawns `dbl COMMAND` (`serve`, or `daemon`) with `args` including `--listen` and environment `env`,
/// and waits for the address on stderr.
pub fn spawn_command(dir: &Path, command: &str, args: &[&str], env: &[(&str, &Path)]) -> Server {
    let stderr_path = dir.join(format!("stderr-{command}-{}.txt", args.join("_").replace(['/', ' '], "_")));
    let child = dbl()
        .envs(env.iter().copied())
        .arg(command)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let mut server = Server { child, port: 0 };
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        if let Some(at) = stderr.find("listening on ws://") {
            let addr = stderr[at + "listening on ws://".len()..].lines().next().unwrap().trim();
            server.port = addr.rsplit(':').next().unwrap().parse().unwrap();
            return server;
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("dbl {command} {args:?} exited ({status}): {stderr}");
        }
        assert!(Instant::now() < deadline, "no address on stderr: {stderr}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The response to a raw HTTP/1.1 request: status code, head (lowercased) and body.
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends `request` (a request line and headers, each ending in CRLF), then `headers`, then `body`, and
/// reads the response.
pub fn send(port: u16, mut request: String, headers: &[(&str, &str)], body: &str) -> Response {
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before the end of the response head: {:?}", String::from_utf8_lossy(&bytes));
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(bytes[..head_end].to_vec()).unwrap().to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize =
        head.lines().find_map(|line| line.strip_prefix("content-length:")).map_or(0, |n| n.trim().parse().unwrap());
    while bytes.len() < head_end + length {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before the end of the body");
        bytes.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8(bytes[head_end..head_end + length].to_vec()).unwrap();
    Response { status, head, body }
}

/// A GET of `target` on 127.0.0.1:`port` with `Host: 127.0.0.1:PORT` and `headers`.
pub fn get(port: u16, target: &str, headers: &[(&str, &str)]) -> Response {
    send(port, format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"), headers, "")
}
