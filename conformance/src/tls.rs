//! The [`TlsProvider`] on the runtime's rustls adapter (`ferrocom_runtime::net::tls`):
//! a client side that trusts given roots (or, on request, any certificate) and a server
//! side with a certificate chain and key, e.g. the development CA of
//! [`generate_dev_certificates`].

use std::io;
use std::path::Path;
use std::sync::Arc;

use ferrocom_runtime::net::tls::{
    self, DevCertificates, TlsAcceptor, TlsConnector, TlsError, Trust, generate_dev_certificates,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;

use crate::peer::{Stream, TlsFuture, TlsProvider};

/// TLS for the suite's connections.
#[derive(Clone)]
pub struct RustlsProvider {
    connector: Option<TlsConnector>,
    acceptor: Option<TlsAcceptor>,
    /// Checked against the server certificate instead of the host of the address.
    server_name: Option<String>,
}

impl std::fmt::Debug for RustlsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustlsProvider")
            .field("client", &self.connector.is_some())
            .field("server", &self.acceptor.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl RustlsProvider {
    /// Client side: the suite connects to a server or broker and checks its certificate
    /// per `trust`, against `server_name` (default: the host of the target address).
    pub fn client(trust: &Trust, server_name: Option<String>) -> Result<Self, TlsError> {
        Ok(RustlsProvider {
            connector: Some(tls::connector(trust)?),
            acceptor: None,
            server_name,
        })
    }

    /// Server side: devices connect to the suite, which presents `chain` (leaf first)
    /// and proves it holds `key`.
    pub fn server(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        Ok(RustlsProvider {
            connector: None,
            acceptor: Some(tls::acceptor(chain, key)?),
            server_name: None,
        })
    }

    /// Client side from a CA file (PEM); `insecure` accepts any certificate instead.
    pub fn client_from_files(
        ca: Option<&Path>,
        insecure: bool,
        server_name: Option<String>,
    ) -> Result<Self, TlsError> {
        let trust = match (ca, insecure) {
            (Some(path), _) => Trust::Roots(tls::load_certs(path)?),
            (None, true) => Trust::InsecureAnyCertificate,
            (None, false) => {
                return Err(TlsError::Pem(
                    "a CA certificate is needed to check the target (or accept any with --insecure)"
                        .into(),
                ));
            }
        };
        Self::client(&trust, server_name)
    }

    /// Server side from PEM files.
    pub fn server_from_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        Self::server(tls::load_certs(cert)?, tls::load_key(key)?)
    }
}

impl TlsProvider for RustlsProvider {
    fn client(&self, tcp: TcpStream, server_name: &str) -> TlsFuture {
        let connector = self.connector.clone();
        let name = self
            .server_name
            .clone()
            .unwrap_or_else(|| server_name.to_string());
        Box::pin(async move {
            let Some(c) = connector else {
                return Err(io::Error::other("no client-side TLS configured"));
            };
            let s = tls::connect(&c, &name, tcp).await?;
            Ok(Box::new(s) as Box<dyn Stream>)
        })
    }

    fn server(&self, tcp: TcpStream) -> TlsFuture {
        let acceptor = self.acceptor.clone();
        Box::pin(async move {
            let Some(a) = acceptor else {
                return Err(io::Error::other("no server-side TLS configured"));
            };
            let s = a.accept(tcp).await?;
            Ok(Box::new(s) as Box<dyn Stream>)
        })
    }
}

/// A development CA and a certificate for `localhost` / `127.0.0.1`, shared by an
/// in-process TLS target and the suite's end of it.
#[derive(Debug, Clone)]
pub struct DevTls(pub Arc<DevCertificates>);

impl DevTls {
    /// Generates a fresh CA and server certificate.
    pub fn generate() -> Result<Self, TlsError> {
        Ok(DevTls(Arc::new(generate_dev_certificates(&[
            "localhost",
            "127.0.0.1",
        ])?)))
    }

    /// Trusting only this CA.
    pub fn trust(&self) -> Trust {
        Trust::Roots(vec![self.0.ca_cert.clone()])
    }

    /// The suite as a client of a server holding the certificate.
    pub fn client_provider(&self) -> Result<RustlsProvider, TlsError> {
        RustlsProvider::client(&self.trust(), Some("localhost".into()))
    }

    /// The suite as a server holding the certificate.
    pub fn server_provider(&self) -> Result<RustlsProvider, TlsError> {
        RustlsProvider::server(self.0.server_chain.clone(), self.0.server_key()?)
    }
}
