//! The WebSocket transport: jsonrpsee's server serving the [`Registry`] as is. Loopback only unless the
//! caller explicitly allows other addresses.

use std::net::SocketAddr;

use jsonrpsee::server::{Server, ServerConfig, ServerHandle};

use super::Registry;

/// A running WebSocket server.
pub struct WsServer {
    pub local_addr: SocketAddr,
    pub handle: ServerHandle,
}

/// Binds `addr` and serves `registry` on it. Refuses a non-loopback address unless `allow_remote`:
/// the methods expose the whole build history, and there is no authentication.
pub async fn serve(addr: SocketAddr, allow_remote: bool, registry: Registry) -> anyhow::Result<WsServer> {
    if !addr.ip().is_loopback() && !allow_remote {
        anyhow::bail!(
            "refusing to listen on {addr}: not a loopback address (the server has no authentication); \
             use 127.0.0.1 or ::1, or pass --allow-remote to listen on it anyway"
        );
    }
    let config = ServerConfig::builder().max_request_body_size(16 << 20).max_response_body_size(256 << 20).build();
    let server = Server::builder()
        .set_config(config)
        .build(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local_addr = server.local_addr()?;
    let handle = server.start(registry);
    tracing::info!("listening on ws://{local_addr}");
    Ok(WsServer { local_addr, handle })
}
