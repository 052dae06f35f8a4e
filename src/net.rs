//! TCP: resolving names, connecting (Happy Eyeballs, under the connect deadline) and
//! binding listeners.

mod happy_eyeballs;
mod port;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::time::Duration;

use async_io::Async;
use async_net::TcpStream;

use crate::error::{Error, ErrorKind, Result};

pub use self::port::Port;
pub(crate) use self::port::port_number;

/// `host` without the brackets of an IPv6 literal.
pub(crate) fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The addresses of `host:port`; IP literals skip the resolver.
pub(crate) async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let bare = bare_host(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs = async_net::resolve((bare, port)).await.map_err(|e| {
        Error::with_source(ErrorKind::Resolve, format!("cannot resolve {bare:?}"), e)
    })?;
    if addrs.is_empty() {
        return Err(Error::new(
            ErrorKind::Resolve,
            format!("{bare:?} resolved to no address"),
        ));
    }
    Ok(addrs)
}

/// Connects to `host:port` within `limit`, racing addresses by Happy Eyeballs.
pub(crate) async fn connect_tcp(
    host: &str,
    port: Port,
    limit: Option<Duration>,
) -> Result<TcpStream> {
    let number = port_number(&port).await?;
    if bare_host(host).is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "the host name is empty",
        ));
    }
    happy_eyeballs::connect_within(host, number, resolve(host, number), limit).await
}

/// A listening socket on `host:port`: on the first address of `host` that can be bound,
/// or, when `host` is empty, on every address (`[::]`, which takes IPv4 too on dual-stack
/// systems, else `0.0.0.0`). A service name is looked up off the executor thread (see
/// [`port_number`]).
pub(crate) async fn bind(host: &str, port: Port) -> Result<Async<TcpListener>> {
    let port = port_number(&port).await?;
    let addrs = if bare_host(host).is_empty() {
        vec![
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        ]
    } else {
        resolve(host, port).await?
    };
    let mut last = None;
    for addr in addrs {
        match Async::<TcpListener>::bind(addr) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, err) = last.expect("at least one address");
    Err(Error::with_source(
        ErrorKind::Io,
        format!("cannot listen on {addr}"),
        err,
    ))
}
