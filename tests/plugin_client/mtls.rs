//! Terraform's side of go-plugin's AutoMTLS, written once for the tests (through
//! tests/plugin_client) and the launch benchmark (benches/launch.rs, through `#[path]`): a client
//! certificate shaped like Terraform's, the server certificate pinned from the handshake line,
//! TLS with SNI localhost and ALPN h2, gRPC over that one connection, and a codec that passes
//! message bytes through unchanged. Uses nothing of the provider crate, so the benchmark can
//! drive other providers with it too.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use bytes::{Buf as _, BufMut as _, Bytes};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::transport::{Channel, Endpoint};

/// Any error of the connection set-up.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A certificate and key of the shape Terraform generates for AutoMTLS (go-plugin's mtls.go):
/// ECDSA P-521, self-signed, CA:true, CN and SAN localhost.
pub struct ClientCert {
    /// PEM, as passed in `PLUGIN_CLIENT_CERT`.
    pub pem: String,
    der: Vec<u8>,
    key_der: Vec<u8>,
}

/// Generates a [`ClientCert`]; panics only if rcgen cannot make a P-521 key.
pub fn terraform_client_cert() -> ClientCert {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).expect("P-521 key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "HashiCorp");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key).expect("self-signed certificate");
    ClientCert {
        pem: cert.pem(),
        der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    }
}

/// Any stream a plugin can be reached over (TCP or a unix socket), boxed so one TLS type fits.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type TlsIo = tokio_rustls::client::TlsStream<Box<dyn Io>>;

/// Connects over TLS the way Terraform does (the server certificate pinned, SNI localhost, ALPN
/// h2, the client certificate when given) on an established `stream`, then speaks HTTP/2 on it.
/// Returns the channel and the ALPN protocol the server chose.
pub async fn tls_channel_over(
    stream: Box<dyn Io>,
    server_cert_der: &[u8],
    client: Option<&ClientCert>,
) -> Result<(Channel, Option<Vec<u8>>), BoxError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedServer {
        der: server_cert_der.to_vec(),
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match client {
        Some(c) => builder.with_client_auth_cert(
            vec![CertificateDer::from(c.der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key_der.clone())),
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost")?, stream)
        .await?;
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(OneShot(Arc::new(Mutex::new(Some(tls)))))
        .await?;
    Ok((channel, alpn))
}

/// Trusts exactly the server certificate announced in the handshake line, as go-plugin's
/// client does (its RootCAs pool holds only that certificate).
#[derive(Debug)]
struct PinnedServer {
    der: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Hands tonic one already-established connection (Terraform, too, uses one connection).
#[derive(Clone)]
struct OneShot(Arc<Mutex<Option<TlsIo>>>);

impl tonic::codegen::Service<http::Uri> for OneShot {
    type Response = TokioIo<TlsIo>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: http::Uri) -> Self::Future {
        let conn = self.0.lock().ok().and_then(|mut c| c.take());
        std::future::ready(conn.map(TokioIo::new).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotConnected, "connection already used")
        }))
    }
}

/// A gRPC codec that passes message bytes through unchanged: lets a test send what prost never
/// would (invalid protobuf), and the benchmark call tfplugin5, tfplugin6 and go-plugin without
/// their protos.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Self::Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Bytes>, Self::Error> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}
