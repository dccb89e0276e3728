//! Certificate verification is on: a HostUp endpoint with a certificate no trusted authority
//! signed is refused before anything (least of all the key) is sent.

mod client_util;

use std::sync::Arc;

use client_util::*;
use hostup_provider::hostup::{Client, ClientConfig, Error, ErrorKind};

#[tokio::test]
async fn self_signed_certificate_is_refused() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut handshakes = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            handshakes.push(acceptor.accept(sock).await.is_ok());
            if handshakes.len() == 1 {
                return handshakes;
            }
        }
        handshakes
    });
    let mut cfg = ClientConfig::new(&format!("https://localhost:{port}"), KEY_TEST).unwrap();
    cfg.retry.max_attempts = 1;
    let c = Client::new(cfg).unwrap();
    let e = c.get_vps(VPS_APP).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert!(matches!(e, Error::Network { not_sent: true, .. }), "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    assert_eq!(
        server.await.unwrap(),
        vec![false],
        "the handshake never completed"
    );
}
