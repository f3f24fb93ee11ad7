//! HTTPS: `berth serve --tls-cert FILE --tls-key FILE` serves every route over TLS (rustls with
//! aws-lc-rs), as Docker Content Trust and clients without `insecure-registries` require.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the certificate chain and its private key are (both PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Reads the certificate chain and key; fails with a message naming the file at fault.
pub fn server_config(files: &TlsFiles) -> anyhow::Result<rustls::ServerConfig> {
    berth_accounts::install_tls_provider();
    let chain = certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).with_context(|| {
        format!(
            "reading the TLS private key from {} (PEM: PKCS#8, PKCS#1 or SEC1)",
            files.key.display()
        )
    })?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and private key do not go together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the TLS certificate chain from {}", path.display()))?;
    if chain.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", path.display());
    }
    Ok(chain)
}
