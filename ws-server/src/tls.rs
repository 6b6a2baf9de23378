//! `wss://`: TLS in front of the HTTP exchange, with rustls.

use std::{fmt, io, path::Path, sync::Arc};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{self, ServerConfig, crypto::ring},
};

/// A server's TLS settings: its certificate chain and private key, or a whole rustls
/// configuration. Requires the `tls` feature.
///
/// ```no_run
/// use ws_server::{Server, TlsConfig};
///
/// # async fn start() -> std::io::Result<()> {
/// let tls = TlsConfig::from_pem_files("cert.pem", "key.pem")?;
/// let server = Server::builder().registered_routes().tls(tls).bind("0.0.0.0:443").await?;
/// server.run().await
/// # }
/// # let _ = start;
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ServerConfig>,
}

impl TlsConfig {
    /// Reads a PEM certificate chain (the server's certificate first) and a PEM private key
    /// (PKCS#8, PKCS#1 or SEC1) from files.
    ///
    /// # Errors
    /// If a file cannot be read, or as [`from_pem`](TlsConfig::from_pem).
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> io::Result<TlsConfig> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|error| {
                io::Error::new(error.kind(), format!("{}: {error}", path.display()))
            })
        };
        TlsConfig::from_pem(&read(cert_chain.as_ref())?, &read(key.as_ref())?)
    }

    /// A certificate chain and private key in PEM, served over TLS 1.2 and 1.3 with
    /// rustls's safe defaults (ring as the crypto provider) and ALPN `h2` and `http/1.1`:
    /// browsers speak HTTP/2 to it, and open WebSockets on its streams.
    ///
    /// # Errors
    /// `InvalidInput` if there is no certificate or no key, if the PEM is malformed, or if
    /// the key does not fit the certificate.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> io::Result<TlsConfig> {
        let invalid = |what: &str, error: &dyn fmt::Display| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {error}"))
        };
        let certs = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| invalid("certificate chain", &error))?;
        if certs.is_empty() {
            return Err(invalid("certificate chain", &"no certificate in the PEM"));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|error| invalid("key", &error))?;
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|error| invalid("TLS versions", &error))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|error| invalid("certificate and key", &error))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsConfig::from_rustls(Arc::new(config)))
    }

    /// A rustls configuration of your own (client certificates, several certificates by
    /// server name, other providers). Its ALPN list should offer `h2` (for HTTP/2) and
    /// `http/1.1`, or be empty (HTTP/1.1 then).
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> TlsConfig {
        TlsConfig { config }
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("alpn_protocols", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}
