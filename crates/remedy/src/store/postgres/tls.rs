//! TLS to PostgreSQL, as libpq's `sslmode` and `sslrootcert` ask for it.
//!
//! tokio-postgres knows `sslmode=disable|prefer|require` and leaves certificate checks to the TLS
//! connector it is given. remedy reads the TLS parameters of the URL itself ([`TlsSettings::take`])
//! and passes tokio-postgres the rest, with a rustls connector when TLS is asked for:
//!
//! | `sslmode` | remedy |
//! |---|---|
//! | absent, `disable`, `prefer` | plain TCP (remedy never negotiates TLS unasked) |
//! | `require` | TLS; the certificate is not checked (libpq's meaning), unless `sslrootcert` is given: then as `verify-ca` |
//! | `verify-ca` | TLS; the certificate chains to a trusted root, whatever host it names |
//! | `verify-full` | TLS; the certificate chains to a trusted root and names the host connected to |
//!
//! Trusted roots: the PEM file `sslrootcert` names, or the system's roots (`sslrootcert=system`,
//! or no `sslrootcert`). The handshake's signatures are always verified; SCRAM channel binding is
//! not offered.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

/// How a connection's server certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// Not at all (`sslmode=require` without `sslrootcert`).
    Nothing,
    /// It chains to a trusted root (`verify-ca`).
    Chain,
    /// It chains to a trusted root and names the host (`verify-full`).
    ChainAndHost,
}

/// The TLS a database URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub verify: Verify,
    /// The PEM file of trusted roots; `None`: the system's.
    pub root_cert: Option<String>,
}

impl TlsSettings {
    /// Takes the TLS parameters out of a `postgres://` URL: the URL to give tokio-postgres, and
    /// the TLS to use (`None`: plain TCP). Other URL forms are returned unchanged.
    pub fn take(url: &str) -> Result<(String, Option<TlsSettings>), String> {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_string(), None));
        };
        if !(base.starts_with("postgres://") || base.starts_with("postgresql://")) {
            return Ok((url.to_string(), None));
        }
        let mut mode = None;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => mode = Some(value.to_string()),
                "sslrootcert" => root_cert = Some(percent_decode(value)),
                _ => kept.push(pair),
            }
        }
        let verify = match mode.as_deref() {
            None | Some("disable") | Some("prefer") => None,
            Some("require") if root_cert.is_some() => Some(Verify::Chain),
            Some("require") => Some(Verify::Nothing),
            Some("verify-ca") => Some(Verify::Chain),
            Some("verify-full") => Some(Verify::ChainAndHost),
            Some(other) => {
                return Err(format!(
                    "sslmode={other}: expected disable, prefer, require, verify-ca or verify-full"
                ))
            }
        };
        let Some(verify) = verify else {
            if root_cert.is_some() {
                return Err("sslrootcert is given but sslmode does not ask for TLS \
                            (require, verify-ca or verify-full)"
                    .into());
            }
            kept.push("sslmode=disable");
            return Ok((join(base, &kept), None));
        };
        kept.push("sslmode=require");
        let root_cert = root_cert.filter(|r| r != "system");
        Ok((join(base, &kept), Some(TlsSettings { verify, root_cert })))
    }

    /// The connector for tokio-postgres (and the pool) these settings describe.
    pub fn connector(&self) -> Result<MakeRustls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let chain = match self.verify {
            Verify::Nothing => None,
            Verify::Chain | Verify::ChainAndHost => Some(
                WebPkiServerVerifier::builder_with_provider(
                    Arc::new(self.roots()?),
                    provider.clone(),
                )
                .build()
                .map_err(|e| format!("TLS: {e}"))?,
            ),
        };
        let config = match (chain, &self.verify) {
            (Some(webpki), Verify::ChainAndHost) => {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            }
            (chain, _) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(WithoutHostCheck { chain, provider }))
                .with_no_client_auth(),
        };
        Ok(MakeRustls(Arc::new(config)))
    }

    fn roots(&self) -> Result<RootCertStore, String> {
        let mut roots = RootCertStore::empty();
        match &self.root_cert {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("sslrootcert={path}: {e}"))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(format!("sslrootcert={path}: no certificate in it"));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(
                        "TLS: the system has no trusted root certificates; name a PEM file \
                         with sslrootcert"
                            .into(),
                    );
                }
            }
        }
        Ok(roots)
    }
}

fn join(base: &str, params: &[&str]) -> String {
    format!("{base}?{}", params.join("&"))
}

/// `%XX` escapes of a URL query value decoded (a file path may hold them).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `sslmode=require` and `verify-ca`: the certificate is not checked against the host name and,
/// without `chain` (`require`), not at all — the connection is encrypted, not authenticated. With
/// `chain`, the full WebPKI check but for the name. The handshake's signatures are checked against
/// the certificate's key either way.
#[derive(Debug)]
struct WithoutHostCheck {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for WithoutHostCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// tokio-postgres' TLS connector over rustls.
#[derive(Clone)]
pub struct MakeRustls(Arc<ClientConfig>);

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, host: &str) -> Result<RustlsConnect, Self::Error> {
        Ok(RustlsConnect {
            connector: tokio_rustls::TlsConnector::from(self.0.clone()),
            server_name: ServerName::try_from(host.to_string())?,
        })
    }
}

pub struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            self.connector
                .connect(self.server_name, stream)
                .await
                .map(RustlsStream)
        })
    }
}

pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(url: &str) -> (String, Option<TlsSettings>) {
        TlsSettings::take(url).unwrap()
    }

    #[test]
    fn plain_unless_the_url_asks_for_tls() {
        for url in [
            "postgres://u@h:5432/db",
            "host=h user=u sslmode=require",
            "postgres://u@h/db?application_name=x",
        ] {
            assert_eq!(take(url).1, None, "{url}");
        }
        for mode in ["disable", "prefer"] {
            let (rest, tls) = take(&format!(
                "postgres://u@h/db?sslmode={mode}&connect_timeout=3"
            ));
            assert_eq!(tls, None);
            assert_eq!(rest, "postgres://u@h/db?connect_timeout=3&sslmode=disable");
        }
    }

    #[test]
    fn each_mode_and_root_file() {
        let (rest, tls) = take("postgres://u@h/db?sslmode=require");
        assert_eq!(rest, "postgres://u@h/db?sslmode=require");
        assert_eq!(tls.unwrap().verify, Verify::Nothing);
        let (rest, tls) = take("postgresql://u@h/db?sslrootcert=%2Fetc%2Fca.pem&sslmode=require");
        assert_eq!(rest, "postgresql://u@h/db?sslmode=require");
        assert_eq!(
            tls,
            Some(TlsSettings {
                verify: Verify::Chain,
                root_cert: Some("/etc/ca.pem".into())
            })
        );
        let (_, tls) = take("postgres://u@h/db?sslmode=verify-ca&sslrootcert=system");
        assert_eq!(
            tls,
            Some(TlsSettings {
                verify: Verify::Chain,
                root_cert: None
            })
        );
        let (_, tls) = take("postgres://u@h/db?sslmode=verify-full");
        assert_eq!(tls.unwrap().verify, Verify::ChainAndHost);
    }

    #[test]
    fn unknown_modes_and_stray_roots_are_refused() {
        assert_eq!(
            TlsSettings::take("postgres://u@h/db?sslmode=allow").unwrap_err(),
            "sslmode=allow: expected disable, prefer, require, verify-ca or verify-full"
        );
        assert!(TlsSettings::take("postgres://u@h/db?sslrootcert=/x.pem")
            .unwrap_err()
            .starts_with("sslrootcert is given but sslmode does not ask for TLS"));
        let missing = TlsSettings {
            verify: Verify::ChainAndHost,
            root_cert: Some("/nonexistent/ca.pem".into()),
        };
        assert!(missing
            .connector()
            .err()
            .unwrap()
            .starts_with("sslrootcert=/nonexistent/ca.pem: "));
    }
}
