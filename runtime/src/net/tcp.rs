//! Plain TCP (reference §3: default port 6368).

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};

/// Default IOCOM TCP port.
pub const DEFAULT_TCP_PORT: u16 = 6368;
/// Default IOCOM TLS port.
pub const DEFAULT_TLS_PORT: u16 = 6369;

/// Connects to an IOCOM server; Nagle is switched off (frames are small and latency
/// matters more than packet count).
pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Binds a listener (port 0 picks a free port; see [`TcpListener::local_addr`]).
pub async fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
