//! The generator only loads servers on this machine.

use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `target` and accepts it only if every address it names is a loopback address:
/// the generator is a load tool for one's own machine, never for someone else's server.
pub fn loopback_target(target: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {target}: {error}"))?
        .collect();
    match addrs.first() {
        None => Err(format!("{target} resolves to no address")),
        Some(_) if addrs.iter().any(|addr| !addr.ip().is_loopback()) => Err(format!(
            "refusing {target}: the generator only loads servers on a loopback address"
        )),
        Some(addr) => Ok(*addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_pass() {
        assert!(loopback_target("127.0.0.1:9001").is_ok());
        assert!(loopback_target("[::1]:9001").is_ok());
        assert!(loopback_target("127.0.0.2:80").is_ok());
        assert!(loopback_target("10.0.0.1:9001").is_err());
        assert!(loopback_target("0.0.0.0:9001").is_err());
        assert!(loopback_target("192.168.1.20:80").is_err());
        assert!(loopback_target("no-port").is_err());
    }
}
