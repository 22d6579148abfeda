//! The WebSocket transport: jsonrpsee's server serving the registry as is, behind a guard that every HTTP
//! request and WebSocket upgrade passes first (docs/SECURITY.md):
//!
//! - a present `Origin` must be the listener's own origin (cross-site WebSocket hijacking, RFC 6455 §10.2);
//! - on a loopback listener the `Host` must name a loopback host (DNS rebinding);
//! - with a token (`--token-file`), `Authorization: Bearer TOKEN` must carry it (compared in constant time).
//!
//! Loopback only unless the caller explicitly allows other addresses, and then only with a token.
//! [`check_request`] is the whole policy, a pure function of the request head; [`Guard`] only applies it.

use std::fmt;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use futures::future;
use futures::FutureExt;
use http::header::{AUTHORIZATION, HOST, ORIGIN};
use http::{HeaderMap, HeaderValue, StatusCode};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse, Methods, Server, ServerConfig, ServerHandle};
use subtle::ConstantTimeEq;

use super::intercept::{Answer, Intercept, InterceptLayer};
use super::limits::Limits;
use super::pages::{PageRequests, PageService};
use super::ws_lsp::{LspEndpoint, LspUpgrades};

/// A running WebSocket server.
pub struct WsServer {
    pub local_addr: SocketAddr,
    pub handle: ServerHandle,
    /// The `/lsp` endpoint, when served.
    lsp: Option<LspEndpoint>,
}

impl WsServer {
    /// Language-server sessions open on the `/lsp` endpoint now.
    pub fn lsp_sessions(&self) -> usize {
        self.lsp.as_ref().map_or(0, LspEndpoint::open_sessions)
    }
}

/// How `dbl serve --listen` may be reached: the command-line flags, before the address is bound.
#[derive(Clone, Default)]
pub struct ListenerPolicy {
    /// `--allow-remote`: a non-loopback address may be bound (then `token` is required).
    pub allow_remote: bool,
    /// The bearer token every request must carry (the contents of `--token-file`, trimmed), if any.
    pub token: Option<String>,
}

impl ListenerPolicy {
    /// The policy for the flags `--allow-remote` and `--token-file FILE` (read with [`read_token_file`]).
    pub fn from_flags(allow_remote: bool, token_file: Option<&Path>) -> anyhow::Result<ListenerPolicy> {
        let token = token_file.map(read_token_file).transpose()?;
        Ok(ListenerPolicy { allow_remote, token })
    }
}

impl fmt::Debug for ListenerPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerPolicy")
            .field("allow_remote", &self.allow_remote)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The largest token file read; a token is a line, not a document.
const MAX_TOKEN_FILE_BYTES: u64 = 64 << 10;

/// Reads a bearer token from `path`: a regular file, not readable or writable by group or others
/// (`mode & 0o077 == 0`), whose contents, trimmed, are the token: non-empty visible ASCII, no spaces.
pub fn read_token_file(path: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let check = |meta: &std::fs::Metadata| -> anyhow::Result<()> {
        if !meta.is_file() {
            anyhow::bail!("token file {shown} is not a regular file");
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "token file {shown} has mode {mode:04o}: it must not be readable or writable by group or others \
                 (run `chmod 600 {shown}`)"
            );
        }
        Ok(())
    };
    // Check before opening (a FIFO would block the open) and again on the open file (it may have been replaced).
    check(&std::fs::metadata(path).map_err(|e| anyhow::anyhow!("cannot read token file {shown}: {e}"))?)?;
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot read token file {shown}: {e}"))?;
    check(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("cannot read token file {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_TOKEN_FILE_BYTES {
        anyhow::bail!("token file {shown} is larger than {MAX_TOKEN_FILE_BYTES} bytes");
    }
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("token file {shown} is not UTF-8"))?;
    let token = text.trim();
    if token.is_empty() {
        anyhow::bail!("token file {shown} is empty");
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        anyhow::bail!(
            "token file {shown}: the token must be one line of visible ASCII without spaces \
             (it is sent as `Authorization: Bearer TOKEN`)"
        );
    }
    Ok(token.to_string())
}

/// Binds `addr` and serves `methods` (the registry) on it, every request passing [`check_request`] first;
/// then upgrades of `/lsp` become language-server sessions of `lsp`, when given (see [`super::ws_lsp`]),
/// and the GETs that are not WebSocket upgrades go to `pages`, when given (see [`super::pages`]).
///
/// Refuses a non-loopback address unless `policy.allow_remote`, and `allow_remote` without a token: the
/// methods expose the whole build history.
pub async fn serve(
    addr: SocketAddr,
    policy: ListenerPolicy,
    limits: &Limits,
    methods: impl Into<Methods>,
    pages: Option<Arc<dyn PageService>>,
    lsp: Option<LspEndpoint>,
) -> anyhow::Result<WsServer> {
    if !addr.ip().is_loopback() && !policy.allow_remote {
        anyhow::bail!(
            "refusing to listen on {addr}: not a loopback address; use 127.0.0.1 or ::1, or pass \
             --allow-remote --token-file FILE to listen on it with bearer-token authentication"
        );
    }
    if policy.allow_remote && policy.token.is_none() {
        anyhow::bail!(
            "--allow-remote requires --token-file FILE: a listener reachable from other machines must \
             authenticate its clients (see docs/SECURITY.md)"
        );
    }
    // Bind first: a loopback listener's own origin includes the port, which port 0 leaves to the system.
    let listener = std::net::TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
    let guard = if local_addr.ip().is_loopback() {
        RequestPolicy::loopback(local_addr, policy.token)
    } else {
        RequestPolicy::remote(policy.token)
    };
    let config = ServerConfig::builder()
        .max_request_body_size(u32::try_from(limits.max_message_bytes).unwrap_or(u32::MAX))
        .max_response_body_size(256 << 20)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions)
        .build();
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .layer(InterceptLayer(Guard::new(guard)))
                .layer(InterceptLayer(LspUpgrades(lsp.clone())))
                .layer(InterceptLayer(PageRequests(pages))),
        )
        .build_from_tcp(listener)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let handle = server.start(methods);
    tracing::info!("listening on ws://{local_addr}");
    Ok(WsServer { local_addr, handle, lsp })
}

/// What [`check_request`] enforces, fixed once the listener is bound.
#[derive(Clone)]
pub struct RequestPolicy {
    /// On a loopback listener, the origins that are its own (`http://127.0.0.1:PORT`, `http://localhost:PORT`,
    /// `http://[::1]:PORT`, ...), lowercase; `None` on a remote listener, where the own origin is
    /// `http://` + the request's Host.
    own_origins: Option<Vec<String>>,
    token: Option<String>,
}

impl RequestPolicy {
    /// A listener bound to the loopback address `local` (with its actual port).
    pub fn loopback(local: SocketAddr, token: Option<String>) -> RequestPolicy {
        let port = local.port();
        let bound = match local {
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        };
        // The bound address first: it is the one refusals name.
        let mut hosts = vec![bound];
        for other in ["127.0.0.1", "localhost", "[::1]"] {
            if !hosts.iter().any(|h| h == other) {
                hosts.push(other.to_string());
            }
        }
        let mut own_origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}:{port}")).collect();
        if port == 80 {
            own_origins.extend(hosts.iter().map(|h| format!("http://{h}")));
        }
        RequestPolicy { own_origins: Some(own_origins), token }
    }

    /// A listener bound to a non-loopback address (`--allow-remote`).
    pub fn remote(token: Option<String>) -> RequestPolicy {
        RequestPolicy { own_origins: None, token }
    }
}

impl fmt::Debug for RequestPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestPolicy")
            .field("own_origins", &self.own_origins)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Why [`check_request`] refused a request. `Display` is the response body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: no Host (nor URI authority), several, or one that is not a `host[:port]`.
    BadHost(String),
    /// 403: on a loopback listener, a Host that is not a loopback name (DNS rebinding).
    ForeignHost { host: String },
    /// 403: a present Origin that is not the listener's own.
    ForeignOrigin { origin: String, expected: String },
    /// 401: a token is required and the request carries none, or another.
    Unauthorized { reason: &'static str },
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::BadHost(_) => StatusCode::BAD_REQUEST,
            Refusal::ForeignHost { .. } | Refusal::ForeignOrigin { .. } => StatusCode::FORBIDDEN,
            Refusal::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
        }
    }

    /// The plain-text HTTP response for this refusal.
    pub fn response(&self) -> HttpResponse {
        let mut builder = http::Response::builder()
            .status(self.status())
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(http::header::CACHE_CONTROL, "no-store");
        if let Refusal::Unauthorized { reason } = self {
            let challenge = match *reason {
                WRONG_TOKEN => r#"Bearer realm="dbl", error="invalid_token""#,
                _ => r#"Bearer realm="dbl""#,
            };
            builder = builder.header(http::header::WWW_AUTHENTICATE, challenge);
        }
        builder.body(HttpBody::from(format!("{self}\n"))).expect("a valid static response head")
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::BadHost(why) => write!(f, "dbl: bad request: {why}"),
            Refusal::ForeignHost { host } => write!(
                f,
                "dbl: request for host {host} refused: this listener is on loopback and answers only \
                 127.0.0.1, localhost or [::1] (DNS rebinding defence)"
            ),
            Refusal::ForeignOrigin { origin, expected } => {
                write!(f, "dbl: cross-origin request from {origin} refused (Origin must be {expected})")
            }
            Refusal::Unauthorized { reason } => write!(f, "dbl: unauthorized: {reason}"),
        }
    }
}

const NO_TOKEN: &str = "this listener requires `Authorization: Bearer TOKEN` (the contents of its --token-file)";
const WRONG_TOKEN: &str = "the bearer token is not this listener's";

/// The whole policy: may a request (an HTTP request or a WebSocket upgrade) with these headers, and this URI
/// authority (HTTP/2's `:authority`, or an absolute-form HTTP/1.1 target), reach the server?
///
/// 1. Host: exactly one of Host / URI authority (or both, equal), a `host[:port]`; on a loopback listener
///    the host must be `localhost`, `[::1]` or `127.x.y.z` (any port).
/// 2. Origin, if present (browsers always send it on WebSocket upgrades and cross-origin requests): on a
///    loopback listener, `http://` + `127.0.0.1`, `localhost`, `[::1]` or the bound address + `:` + the bound
///    port; on a remote listener, `http://` + the request's Host. Compared ASCII-case-insensitively.
/// 3. With a token: `Authorization: Bearer TOKEN`, exactly once, the token compared in constant time.
pub fn check_request(headers: &HeaderMap, uri_authority: Option<&str>, policy: &RequestPolicy) -> Result<(), Refusal> {
    let host = request_host(headers, uri_authority)?;
    let (name, _port) =
        split_host_port(host).ok_or_else(|| Refusal::BadHost(format!("malformed Host {}", shown(host))))?;
    if policy.own_origins.is_some() && !is_loopback_name(name) {
        return Err(Refusal::ForeignHost { host: shown(host) });
    }

    let mut origins = headers.get_all(ORIGIN).iter();
    if let Some(origin) = origins.next() {
        let expected = match &policy.own_origins {
            Some(own) => own[0].clone(),
            None => format!("http://{}", host.to_ascii_lowercase()),
        };
        let refuse = || Refusal::ForeignOrigin { origin: shown_value(origin), expected: expected.clone() };
        if origins.next().is_some() {
            return Err(Refusal::ForeignOrigin { origin: "several Origin headers".into(), expected });
        }
        let origin = origin.to_str().map_err(|_| refuse())?.to_ascii_lowercase();
        let own = match &policy.own_origins {
            Some(own) => own.contains(&origin),
            None => origin == expected,
        };
        if !own {
            return Err(refuse());
        }
    }

    if let Some(token) = &policy.token {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(Refusal::Unauthorized { reason: NO_TOKEN });
        };
        let presented = value
            .as_bytes()
            .split_first_chunk::<7>()
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
            .map(|(_, rest)| rest.trim_ascii())
            .ok_or(Refusal::Unauthorized { reason: NO_TOKEN })?;
        if !bool::from(presented.ct_eq(token.as_bytes())) {
            return Err(Refusal::Unauthorized { reason: WRONG_TOKEN });
        }
    }
    Ok(())
}

/// The request's `host[:port]`: its single Host header, its URI authority, or both when they agree.
fn request_host<'a>(headers: &'a HeaderMap, uri_authority: Option<&'a str>) -> Result<&'a str, Refusal> {
    let mut hosts = headers.get_all(HOST).iter();
    let header = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(Refusal::BadHost("several Host headers".into())),
        (Some(value), None) => {
            Some(value.to_str().map_err(|_| Refusal::BadHost(format!("malformed Host {}", shown_value(value))))?)
        }
        (None, _) => None,
    };
    match (header, uri_authority) {
        (Some(h), Some(a)) if !h.eq_ignore_ascii_case(a) => {
            Err(Refusal::BadHost(format!("Host {} does not match the request target's {}", shown(h), shown(a))))
        }
        (Some(h), _) => Ok(h),
        (None, Some(a)) => Ok(a),
        (None, None) => Err(Refusal::BadHost("no Host header".into())),
    }
}

/// Splits `host[:port]` (`[v6]` bracketed), checking the port is a number. None if malformed.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (name, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (name, rest) = authority.split_at(end + 1);
        match rest {
            "" => (name, None),
            _ => (name, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        }
    };
    if name.is_empty() || !name.starts_with('[') && name.contains(|c: char| "[]@/\\".contains(c) || c.is_whitespace()) {
        return None;
    }
    let port = match port {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
        None => None,
    };
    Some((name, port))
}

/// `localhost`, `[::1]` or `127.x.y.z`.
fn is_loopback_name(name: &str) -> bool {
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// A header value for a message: at most 200 characters, non-printables escaped.
fn shown_value(value: &HeaderValue) -> String {
    shown(&String::from_utf8_lossy(value.as_bytes()))
}

fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(200).flat_map(char::escape_debug).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// Puts [`check_request`] in front of jsonrpsee's HTTP and WebSocket service: a refused request
/// is answered here with its status and reason.
#[derive(Clone, Debug)]
pub struct Guard(Arc<RequestPolicy>);

impl Guard {
    pub fn new(policy: RequestPolicy) -> Guard {
        Guard(Arc::new(policy))
    }
}

impl Intercept for Guard {
    fn intercept<B: Send + 'static>(&self, request: HttpRequest<B>) -> Result<Answer, HttpRequest<B>> {
        match check_request(request.headers(), request.uri().authority().map(|a| a.as_str()), &self.0) {
            Ok(()) => Err(request),
            Err(refusal) => {
                tracing::info!("{} {}: {refusal}", refusal.status().as_u16(), request.uri().path());
                Ok(future::ready(refusal.response()).boxed())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: u16 = 7420;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn loopback(token: Option<&str>) -> RequestPolicy {
        RequestPolicy::loopback(SocketAddr::from(([127, 0, 0, 1], PORT)), token.map(str::to_string))
    }

    fn check(pairs: &[(&str, &str)], policy: &RequestPolicy) -> Result<(), Refusal> {
        check_request(&headers(pairs), None, policy)
    }

    fn status(result: Result<(), Refusal>) -> u16 {
        match result {
            Ok(()) => 200,
            Err(refusal) => refusal.status().as_u16(),
        }
    }

    #[test]
    fn loopback_host_names_pass_others_are_refused() {
        let policy = loopback(None);
        for host in ["127.0.0.1:7420", "127.0.0.1", "localhost:7420", "LOCALHOST", "[::1]:7420", "[::1]", "127.1.2.3:1"]
        {
            assert_eq!(check(&[("host", host)], &policy), Ok(()), "{host}");
        }
        for host in
            ["evil.example:7420", "evil.example", "10.0.0.1:7420", "localhost.evil.example", "[::2]:7420", "0.0.0.0"]
        {
            assert!(matches!(check(&[("host", host)], &policy), Err(Refusal::ForeignHost { .. })), "{host}");
        }
        for host in ["", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:99999", "[::1", "[::1]x", "user@127.0.0.1", "a:b:c"] {
            assert_eq!(status(check(&[("host", host)], &policy)), 400, "{host:?}");
        }
    }

    #[test]
    fn host_is_required_once_and_must_agree_with_the_target() {
        let policy = loopback(None);
        assert_eq!(check(&[], &policy), Err(Refusal::BadHost("no Host header".into())));
        assert_eq!(status(check(&[("host", "127.0.0.1"), ("host", "localhost")], &policy)), 400);
        // HTTP/2 carries the authority in the URI.
        assert_eq!(check_request(&headers(&[]), Some("127.0.0.1:7420"), &policy), Ok(()));
        assert_eq!(status(check_request(&headers(&[]), Some("evil.example"), &policy)), 403);
        assert_eq!(status(check_request(&headers(&[("host", "127.0.0.1")]), Some("evil.example"), &policy)), 400);
        assert_eq!(check_request(&headers(&[("host", "127.0.0.1")]), Some("127.0.0.1"), &policy), Ok(()));
    }

    #[test]
    fn a_present_origin_must_be_the_listeners_own() {
        let policy = loopback(None);
        let host = ("host", "127.0.0.1:7420");
        for origin in ["http://127.0.0.1:7420", "http://localhost:7420", "http://[::1]:7420", "HTTP://LocalHost:7420"] {
            assert_eq!(check(&[host, ("origin", origin)], &policy), Ok(()), "{origin}");
        }
        for origin in [
            "https://evil.example",
            "http://127.0.0.1:7421",
            "http://127.0.0.1",
            "https://127.0.0.1:7420",
            "null",
            "http://127.0.0.1:7420/",
            "http://localhost:7420.evil.example",
            "",
        ] {
            let refusal = check(&[host, ("origin", origin)], &policy).unwrap_err();
            assert_eq!(refusal.status(), StatusCode::FORBIDDEN, "{origin}");
            assert_eq!(
                refusal.to_string(),
                format!("dbl: cross-origin request from {origin} refused (Origin must be http://127.0.0.1:7420)")
            );
        }
        assert_eq!(status(check(&[host, ("origin", "http://127.0.0.1:7420"), ("origin", "http://x")], &policy)), 403);
        // No Origin: not a browser page (CLIs, editor plugins, scripts).
        assert_eq!(check(&[host], &policy), Ok(()));
    }

    #[test]
    fn own_origins_follow_the_bound_address_and_port() {
        let policy = RequestPolicy::loopback(SocketAddr::from(([127, 0, 0, 5], 80)), None);
        for origin in ["http://127.0.0.5:80", "http://127.0.0.5", "http://localhost", "http://127.0.0.1:80"] {
            assert_eq!(check(&[("host", "127.0.0.5"), ("origin", origin)], &policy), Ok(()), "{origin}");
        }
        let policy = RequestPolicy::loopback("[::1]:9000".parse().unwrap(), None);
        assert_eq!(check(&[("host", "[::1]:9000"), ("origin", "http://[::1]:9000")], &policy), Ok(()));
        assert_eq!(status(check(&[("host", "[::1]:9000"), ("origin", "http://[::1]")], &policy)), 403);
    }

    #[test]
    fn remote_listener_allows_any_host_and_its_own_origin() {
        let policy = RequestPolicy::remote(Some("s3cret".into()));
        let auth = ("authorization", "Bearer s3cret");
        assert_eq!(check(&[("host", "build.example:7420"), auth], &policy), Ok(()));
        assert_eq!(check(&[("host", "10.1.2.3:7420"), ("origin", "http://10.1.2.3:7420"), auth], &policy), Ok(()));
        assert_eq!(
            check(&[("host", "Build.Example:7420"), ("origin", "http://build.example:7420"), auth], &policy),
            Ok(())
        );
        let refusal = check(&[("host", "10.1.2.3:7420"), ("origin", "https://evil.example"), auth], &policy);
        assert_eq!(
            refusal.unwrap_err().to_string(),
            "dbl: cross-origin request from https://evil.example refused (Origin must be http://10.1.2.3:7420)"
        );
        assert_eq!(status(check(&[("host", "10.1.2.3:7420")], &policy)), 401);
        assert_eq!(status(check(&[auth], &policy)), 400);
    }

    #[test]
    fn token_is_required_when_configured() {
        let policy = loopback(Some("s3cret"));
        let host = ("host", "127.0.0.1:7420");
        assert_eq!(check(&[host, ("authorization", "Bearer s3cret")], &policy), Ok(()));
        assert_eq!(check(&[host, ("authorization", "bearer   s3cret")], &policy), Ok(()));
        assert_eq!(check(&[host], &policy), Err(Refusal::Unauthorized { reason: NO_TOKEN }));
        for wrong in ["Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "Bearer ", "Bearer"] {
            assert_eq!(status(check(&[host, ("authorization", wrong)], &policy)), 401, "{wrong}");
        }
        assert_eq!(
            check(&[host, ("authorization", "Basic czNjcmV0")], &policy),
            Err(Refusal::Unauthorized { reason: NO_TOKEN })
        );
        let twice = [host, ("authorization", "Bearer s3cret"), ("authorization", "Bearer s3cret")];
        assert_eq!(status(check(&twice, &policy)), 401);
        // The other checks come first.
        assert_eq!(status(check(&[("host", "evil.example"), ("authorization", "Bearer s3cret")], &policy)), 403);
        assert_eq!(status(check(&[host, ("origin", "https://evil.example")], &policy)), 403);
    }

    #[test]
    fn refusal_responses() {
        let response = Refusal::Unauthorized { reason: NO_TOKEN }.response();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[http::header::WWW_AUTHENTICATE], r#"Bearer realm="dbl""#);
        let response = Refusal::Unauthorized { reason: WRONG_TOKEN }.response();
        assert_eq!(response.headers()[http::header::WWW_AUTHENTICATE], r#"Bearer realm="dbl", error="invalid_token""#);
        let response = Refusal::ForeignHost { host: "evil.example".into() }.response();
        assert_eq!(response.status(), 403);
        assert!(response.headers().get(http::header::WWW_AUTHENTICATE).is_none());
        let long = "x".repeat(1000);
        assert_eq!(shown(&long).chars().count(), 201);
        assert_eq!(shown("a\r\nb"), "a\\r\\nb");
    }

    #[test]
    fn debug_does_not_show_the_token() {
        let text = format!(
            "{:?} {:?}",
            loopback(Some("s3cret")),
            ListenerPolicy { allow_remote: true, token: Some("s3cret".into()) }
        );
        assert!(!text.contains("s3cret") && text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn token_files_must_be_private_and_non_empty() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_token_file(&path).unwrap(), "s3cret");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(read_token_file(&path).unwrap(), "s3cret");
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let error = read_token_file(&path).unwrap_err().to_string();
            assert!(
                error.contains(&path.display().to_string()) && error.contains(&format!("mode {mode:04o}")),
                "{error}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, " \n").unwrap();
        assert!(read_token_file(&path).unwrap_err().to_string().contains("is empty"));
        std::fs::write(&path, "two words").unwrap();
        assert!(read_token_file(&path).unwrap_err().to_string().contains("visible ASCII"));
        let missing = dir.path().join("missing");
        assert!(read_token_file(&missing).unwrap_err().to_string().contains("cannot read token file"));
        assert!(read_token_file(dir.path()).unwrap_err().to_string().contains("not a regular file"));
    }
}
