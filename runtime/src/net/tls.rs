//! TLS with rustls (ring provider) and tokio-rustls (reference §8.1, §8.2: plain TLS, no
//! ALPN, no client certificates; the client authenticates with the password inside the
//! IOCOM authentication frame). Development certificates come from rcgen
//! ([`generate_dev_certificates`], what `ferrocom cert` writes).

use std::fmt;
use std::path::{Path, PathBuf};
use std::prelude::rust_2024::*;
use std::sync::{Arc, Mutex};
use std::vec;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::net::TcpStream;

pub use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

/// What went wrong with certificates or TLS configuration.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// rcgen could not make a certificate.
    Generate(rcgen::Error),
    /// rustls refused the configuration (e.g. a key that does not match).
    Config(rustls::Error),
    /// A PEM file could not be read or holds nothing usable.
    Pem(String),
    /// A server name that is neither a DNS name nor an IP address.
    ServerName(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Generate(e) => write!(f, "cannot generate certificate: {e}"),
            TlsError::Config(e) => write!(f, "TLS configuration: {e}"),
            TlsError::Pem(e) => write!(f, "PEM: {e}"),
            TlsError::ServerName(n) => write!(f, "invalid TLS server name {n:?}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl From<rcgen::Error> for TlsError {
    fn from(e: rcgen::Error) -> Self {
        TlsError::Generate(e)
    }
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        TlsError::Config(e)
    }
}

/// A development certificate authority and a server certificate signed by it.
pub struct DevCertificates {
    /// The CA certificate (give it to devices as their trust root), PEM.
    pub ca_cert_pem: String,
    /// The CA certificate, DER.
    pub ca_cert: CertificateDer<'static>,
    /// The CA's private key, PEM (to sign more server certificates later).
    pub ca_key_pem: String,
    /// The server certificate followed by the CA certificate, PEM.
    pub server_chain_pem: String,
    /// The server certificate chain, DER: server, then CA.
    pub server_chain: Vec<CertificateDer<'static>>,
    /// The server's private key, PEM (PKCS#8).
    pub server_key_pem: String,
}

impl DevCertificates {
    /// The server's private key, DER.
    pub fn server_key(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        parse_key_pem(self.server_key_pem.as_bytes())
    }
}

impl fmt::Debug for DevCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevCertificates")
            .field("server_chain", &self.server_chain.len())
            .field("keys", &"<hidden>")
            .finish()
    }
}

/// Makes a development CA ("ferrocom development CA") and a server certificate for
/// `names` (DNS names and/or IP addresses, e.g. `["localhost", "127.0.0.1"]`), ECDSA
/// P-256. For development and tests only: the keys are not protected.
pub fn generate_dev_certificates(names: &[&str]) -> Result<DevCertificates, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "ferrocom development CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let ca_key_pem = ca_key.serialize_pem();

    let server_key = KeyPair::generate()?;
    let mut srv =
        CertificateParams::new(names.iter().map(|n| (*n).to_string()).collect::<Vec<_>>())?;
    srv.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("ferrocom server"),
    );
    srv.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    srv.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let issuer = Issuer::new(ca, ca_key);
    let srv_cert = srv.signed_by(&server_key, &issuer)?;

    Ok(DevCertificates {
        ca_cert_pem: ca_cert.pem(),
        ca_cert: ca_cert.der().clone(),
        ca_key_pem,
        server_chain_pem: std::format!("{}{}", srv_cert.pem(), ca_cert.pem()),
        server_chain: vec![srv_cert.der().clone(), ca_cert.der().clone()],
        server_key_pem: server_key.serialize_pem(),
    })
}

/// Certificates from PEM text.
pub fn parse_certs_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Pem("no certificate found".into()));
    }
    Ok(certs)
}

/// A private key (PKCS#8, PKCS#1 or SEC1) from PEM text.
pub fn parse_key_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| TlsError::Pem(e.to_string()))
}

/// Certificates from a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes =
        std::fs::read(path).map_err(|e| TlsError::Pem(std::format!("{}: {e}", path.display())))?;
    parse_certs_pem(&bytes)
}

/// A private key from a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes =
        std::fs::read(path).map_err(|e| TlsError::Pem(std::format!("{}: {e}", path.display())))?;
    parse_key_pem(&bytes)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS acceptor for an IOCOM listener (no client certificates: devices authenticate
/// with their password, §8.2).
pub fn acceptor(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, TlsError> {
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// How a device checks the server's certificate.
#[derive(Clone)]
pub enum Trust {
    /// Accept certificates that chain to one of these roots.
    Roots(Vec<CertificateDer<'static>>),
    /// Accept any certificate (the C client's behaviour without a stored chain, §8.2).
    /// Tests and first-time provisioning only: it defeats authentication of the server.
    InsecureAnyCertificate,
    /// Trust on first use: a certificate that chains to `roots` is accepted as usual;
    /// one that does not is accepted only if its SHA-256 equals the one pinned in
    /// `pin_file`, or — when `pin_file` does not exist yet — pinned there (hex) and
    /// accepted. A changed certificate is refused from then on. Allow this only where
    /// the first connection is known to reach the right peer.
    FirstUse {
        /// Roots tried first (may be empty).
        roots: Vec<CertificateDer<'static>>,
        /// Where the SHA-256 of the peer's certificate is kept.
        pin_file: PathBuf,
    },
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trust::Roots(r) => write!(f, "Roots({} certificates)", r.len()),
            Trust::InsecureAnyCertificate => f.write_str("InsecureAnyCertificate"),
            Trust::FirstUse { roots, pin_file } => write!(
                f,
                "FirstUse({} roots, pin {})",
                roots.len(),
                pin_file.display()
            ),
        }
    }
}

/// A TLS connector for a device.
pub fn connector(trust: &Trust) -> Result<TlsConnector, TlsError> {
    connector_with_alpn(trust, &[])
}

/// A TLS connector offering these ALPN protocols (e.g. `x-amzn-mqtt-ca` for MQTT on
/// port 443 of AWS IoT; IOCOM itself uses no ALPN). An empty list sends no ALPN
/// extension.
pub fn connector_with_alpn(trust: &Trust, alpn: &[Vec<u8>]) -> Result<TlsConnector, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?;
    let cfg = match trust {
        Trust::Roots(roots) => {
            let mut store = rustls::RootCertStore::empty();
            for c in roots {
                store.add(c.clone())?;
            }
            builder.with_root_certificates(store).with_no_client_auth()
        }
        Trust::InsecureAnyCertificate => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
            .with_no_client_auth(),
        Trust::FirstUse { roots, pin_file } => {
            let chain = if roots.is_empty() {
                None
            } else {
                let mut store = rustls::RootCertStore::empty();
                for c in roots {
                    store.add(c.clone())?;
                }
                Some(
                    rustls::client::WebPkiServerVerifier::builder_with_provider(
                        Arc::new(store),
                        provider(),
                    )
                    .build()
                    .map_err(|e| TlsError::Pem(e.to_string()))?,
                )
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinOnFirstUse {
                    chain,
                    pin_file: pin_file.clone(),
                    any: AnyCertificate(provider()),
                    lock: Mutex::new(()),
                }))
                .with_no_client_auth()
        }
    };
    let mut cfg = cfg;
    cfg.alpn_protocols = alpn.to_vec();
    Ok(TlsConnector::from(Arc::new(cfg)))
}

/// Connects TLS over an established TCP stream; `server_name` is checked against the
/// certificate (a DNS name or an IP address).
pub async fn connect(
    connector: &TlsConnector,
    server_name: &str,
    tcp: TcpStream,
) -> std::io::Result<client::TlsStream<TcpStream>> {
    let name = ServerName::try_from(server_name.to_string()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            TlsError::ServerName(server_name.into()).to_string(),
        )
    })?;
    connector.connect(name, tcp).await
}

/// SHA-256 of a certificate (DER), lower-case hex: what [`Trust::FirstUse`] pins.
pub fn certificate_fingerprint(cert: &CertificateDer<'_>) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| std::format!("{b:02x}"))
        .collect()
}

/// [`Trust::FirstUse`]: chain validation first, then the pin file.
#[derive(Debug)]
struct PinOnFirstUse {
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    pin_file: PathBuf,
    /// Signature checks (the handshake still proves the peer holds the pinned key).
    any: AnyCertificate,
    /// Two connections racing to pin must not both write.
    lock: Mutex<()>,
}

impl ServerCertVerifier for PinOnFirstUse {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(chain) = &self.chain
            && chain
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .is_ok()
        {
            return Ok(ServerCertVerified::assertion());
        }
        let presented = certificate_fingerprint(end_entity);
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        match std::fs::read_to_string(&self.pin_file) {
            Ok(pinned) if pinned.trim().eq_ignore_ascii_case(&presented) => {
                Ok(ServerCertVerified::assertion())
            }
            Ok(pinned) => {
                let msg = std::format!(
                    "certificate changed: {} pins sha256 {}, the peer presented {presented}; remove the pin file only if the change is expected",
                    self.pin_file.display(),
                    pinned.trim()
                );
                tracing::error!("{msg}");
                Err(rustls::Error::General(msg))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::write(&self.pin_file, std::format!("{presented}\n")).map_err(|e| {
                    rustls::Error::General(std::format!(
                        "cannot write pin file {}: {e}",
                        self.pin_file.display()
                    ))
                })?;
                tracing::warn!(
                    pin_file = %self.pin_file.display(),
                    "certificate trusted on first use and pinned: sha256 {presented}"
                );
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(rustls::Error::General(std::format!(
                "cannot read pin file {}: {e}",
                self.pin_file.display()
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.any.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.any.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.any.supported_verify_schemes()
    }
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
