//! `wss://`: a server with a certificate generated here (rcgen), and tokio-tungstenite's
//! rustls client trusting exactly that certificate.

mod support;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use support::{STEP, start};
use tokio::{io::AsyncReadExt, net::TcpStream};
use tokio_tungstenite::{
    Connector, MaybeTlsStream, WebSocketStream, client_async_tls_with_config,
    tungstenite::{Message, client::IntoClientRequest},
};
use ws_server::{Server, TlsConfig};

echo_resource!(Echo, "/echo");

type TlsClient = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A self-signed certificate for `localhost`, as PEM: (certificate, key).
fn certificate() -> (String, String) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    (generated.cert.pem(), generated.signing_key.serialize_pem())
}

/// A rustls client configuration that trusts `cert_pem` alone.
fn client_config(cert_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("PEM");
    roots.add(cert).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A TLS server on a free port with the certificate in files, as a user would set it up.
async fn tls_server(builder: ws_server::Builder) -> (SocketAddr, String) {
    let (cert, key) = certificate();
    // A directory per server: tests run in parallel, each with a certificate of its own.
    static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ws-server-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, &cert).expect("write cert");
    std::fs::write(&key_path, &key).expect("write key");
    let tls = TlsConfig::from_pem_files(&cert_path, &key_path).expect("TLS config");
    (start(builder.tls(tls)).await, cert)
}

async fn connect_wss(addr: SocketAddr, cert: &str) -> TlsClient {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("wss://localhost:{}/echo", addr.port())
        .into_client_request()
        .expect("request");
    let connector = Connector::Rustls(client_config(cert));
    let (client, _) = tokio::time::timeout(
        STEP,
        client_async_tls_with_config(request, stream, None, Some(connector)),
    )
    .await
    .expect("handshake in time")
    .expect("wss handshake");
    client
}

#[tokio::test]
async fn wss_clients_exchange_messages_over_tls() {
    let (addr, cert) = tls_server(Server::builder().route::<Echo>()).await;
    let mut client = connect_wss(addr, &cert).await;
    assert!(matches!(client.get_ref(), MaybeTlsStream::Rustls(_)));
    client.send(Message::text("over tls")).await.expect("send");
    let echoed = client.next().await.expect("reply").expect("message");
    assert_eq!(echoed, Message::text("over tls"));
    // A large message crosses many TLS records both ways.
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    client
        .send(Message::binary(big.clone()))
        .await
        .expect("send");
    let echoed = client.next().await.expect("reply").expect("message");
    assert_eq!(echoed.into_data().as_ref(), &big[..]);
    client.close(None).await.expect("close");
}

#[tokio::test]
async fn plain_and_untrusting_clients_fail_while_others_are_served() {
    let (addr, cert) = tls_server(Server::builder().route::<Echo>()).await;
    // Plain ws:// to a TLS port: the server refuses the bytes as a TLS handshake.
    let plain = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/echo", addr.port()));
    let plain = tokio::time::timeout(STEP, plain)
        .await
        .expect("answer in time");
    assert!(plain.is_err(), "a plain client got through");
    // A client that trusts another certificate refuses ours.
    let (other, _) = certificate();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("wss://localhost:{}/echo", addr.port());
    let connector = Connector::Rustls(client_config(&other));
    let result = client_async_tls_with_config(request, stream, None, Some(connector)).await;
    assert!(result.is_err(), "an untrusted certificate was accepted");
    let mut client = connect_wss(addr, &cert).await;
    client
        .send(Message::text("still served"))
        .await
        .expect("send");
    assert_eq!(
        client.next().await.expect("reply").expect("message"),
        Message::text("still served")
    );
}

#[tokio::test]
async fn a_client_stalling_in_the_tls_handshake_is_disconnected() {
    let builder = Server::builder()
        .route::<Echo>()
        .handshake_timeout(Duration::from_millis(300));
    let (addr, _) = tls_server(builder).await;
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(STEP, silent.read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
}

#[test]
fn bad_pem_is_refused_with_a_reason() {
    let (cert, key) = certificate();
    let error = TlsConfig::from_pem(b"not a certificate", key.as_bytes()).expect_err("no cert");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    let error = TlsConfig::from_pem(cert.as_bytes(), b"").expect_err("no key");
    assert!(error.to_string().starts_with("key"), "{error}");
    let missing = TlsConfig::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem");
    assert!(
        missing
            .expect_err("no file")
            .to_string()
            .contains("/nonexistent/cert.pem")
    );
    let (other_cert, _) = certificate();
    let mismatch = TlsConfig::from_pem(other_cert.as_bytes(), key.as_bytes());
    assert!(mismatch.is_err(), "a key that does not fit the certificate");
}

#[tokio::test]
async fn over_tls_alpn_agrees_http2_and_websockets_open_on_its_streams() {
    let (addr, cert) = tls_server(Server::builder().route::<Echo>()).await;
    let mut config = Arc::unwrap_or_clone(client_config(&cert));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let authority = format!("localhost:{}", addr.port());
    let mut client = support::h2::H2Client::over(tls, authority).await;
    let mut sockets = [client.open("/echo").await, client.open("/echo").await];
    for (index, socket) in sockets.iter_mut().enumerate() {
        let text = format!("stream {index} over h2 over TLS");
        socket
            .send(Message::text(text.clone()))
            .await
            .expect("send");
        let echoed = tokio::time::timeout(STEP, socket.next())
            .await
            .expect("in time")
            .expect("reply")
            .expect("message");
        assert_eq!(echoed, Message::text(text));
    }
}
