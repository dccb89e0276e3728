//! go-plugin AutoMTLS, server side.
//!
//! Terraform generates a throw-away client certificate (ECDSA P-521, self-signed, CA:true),
//! passes its PEM in `PLUGIN_CLIENT_CERT`, and expects us to (1) serve TLS with a fresh server
//! certificate whose DER we announce in the handshake line, and (2) accept only that client
//! certificate. rustls' WebPki client verifier cannot do (2): it rejects a CA certificate used
//! as an end entity, and ring cannot verify P-521 at all. So the client certificate is pinned
//! byte for byte, and handshake signatures are checked with the aws-lc-rs algorithms, which
//! include P-521.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

/// Why TLS could not be set up; shown on stderr before exiting (nothing secret in it).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// `PLUGIN_CLIENT_CERT` holds no usable PEM certificate.
    #[error("PLUGIN_CLIENT_CERT does not contain a PEM certificate: {0}")]
    ClientCert(String),
    /// Generating our own certificate failed.
    #[error("could not generate the plugin's TLS certificate: {0}")]
    ServerCert(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("could not configure TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A ready TLS server configuration and the DER of the certificate it presents.
pub struct ServerTls {
    /// Shared by every accepted connection.
    pub config: Arc<ServerConfig>,
    /// Goes, base64-encoded, into field 6 of the handshake line.
    pub cert_der: Vec<u8>,
}

/// Reads the certificate Terraform put in `PLUGIN_CLIENT_CERT` (PEM). A pure function of the
/// variable, so the fuzz targets exercise exactly what the server parses at start.
pub fn parse_client_cert(pem: &str) -> Result<CertificateDer<'static>, TlsSetupError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map(CertificateDer::into_owned)
        .map_err(|e| TlsSetupError::ClientCert(e.to_string()))?;
    // An empty block would pin zero bytes: every connection from Terraform would then fail
    // later with an obscure handshake error instead of this clear one at start-up.
    if der.is_empty() {
        return Err(TlsSetupError::ClientCert(
            "the CERTIFICATE block is empty".into(),
        ));
    }
    Ok(der)
}

/// Builds the server side of AutoMTLS from the PEM Terraform put in `PLUGIN_CLIENT_CERT`.
pub fn server_tls(client_cert_pem: &str) -> Result<ServerTls, TlsSetupError> {
    let client_der = parse_client_cert(client_cert_pem)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (cert_der, key_der) = server_certificate()?;

    let verifier = Arc::new(PinnedClientCert {
        expected: client_der.into_owned(),
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)),
        )?;
    // gRPC clients from grpc-go 1.67 on (Terraform >= 1.13) refuse a connection without ALPN h2.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(ServerTls {
        config: Arc::new(config),
        cert_der,
    })
}

/// A fresh self-signed ECDSA P-256 certificate for `localhost` (what Terraform's client checks)
/// in the shape go-plugin's own servers use; returns (cert DER, PKCS#8 key DER).
fn server_certificate() -> Result<(Vec<u8>, Vec<u8>), rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "terraform-provider-hostup");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::seconds(30);
    params.not_after = now + time::Duration::days(365 * 30);
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
    let cert = params.self_signed(&key)?;
    Ok((cert.der().to_vec(), key.serialize_der()))
}

/// Accepts exactly one client certificate: the one Terraform announced. Pinning the exact
/// bytes is stronger than chain validation here (the certificate is its own root) and does not
/// trip over its CA:true / keyCertSign extensions.
#[derive(Debug)]
struct PinnedClientCert {
    expected: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Empty hints: Go's client then offers its certificate without an issuer check.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if intermediates.is_empty() && end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
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

/// Exposed for tests: the aws-lc-rs provider whose algorithms the verifier uses.
#[cfg(test)]
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terraform_like_cert() -> (String, Vec<u8>) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512)
            .unwrap_or_else(|e| panic!("keygen: {e}"));
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap_or_else(|e| panic!("params: {e}"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params
            .self_signed(&key)
            .unwrap_or_else(|e| panic!("sign: {e}"));
        (cert.pem(), cert.der().to_vec())
    }

    #[test]
    fn verifier_pins_exact_certificate_and_offers_p521() {
        let (_, der) = terraform_like_cert();
        let (_, other) = terraform_like_cert();
        let v = PinnedClientCert {
            expected: CertificateDer::from(der.clone()),
            algorithms: provider().signature_verification_algorithms,
        };
        let now = UnixTime::now();
        assert!(v
            .verify_client_cert(&CertificateDer::from(der.clone()), &[], now)
            .is_ok());
        assert!(v
            .verify_client_cert(&CertificateDer::from(other.clone()), &[], now)
            .is_err());
        assert!(v
            .verify_client_cert(
                &CertificateDer::from(der),
                &[CertificateDer::from(other)],
                now
            )
            .is_err());
        assert!(v.client_auth_mandatory());
        assert!(v
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }

    #[test]
    fn server_tls_builds_from_pem_and_rejects_garbage() {
        let (pem, _) = terraform_like_cert();
        let tls = server_tls(&pem).unwrap_or_else(|e| panic!("server_tls: {e}"));
        assert!(tls.cert_der.len() > 50);
        assert_eq!(tls.config.alpn_protocols, vec![b"h2".to_vec()]);
        assert!(matches!(
            server_tls("not a pem"),
            Err(TlsSetupError::ClientCert(_))
        ));
    }
}
