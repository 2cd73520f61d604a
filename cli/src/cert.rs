//! `ferrocom cert`: a development CA and a server certificate signed by it, as PEM files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use ferrocom_runtime::net::tls::generate_dev_certificates;

/// Arguments of `ferrocom cert`.
#[derive(Debug, Args)]
#[command(
    about = "Create a development CA, server certificate and key for TLS (ports 6369, switchbox)",
    long_about = "Creates a development certificate authority and a server certificate signed by it \
(ECDSA P-256), and writes four PEM files into --out:\n\n  \
ca.pem       the CA certificate: give it to devices (ferrocom device --ca ca.pem)\n  \
ca.key       the CA's private key (keep it, to sign more server certificates later)\n  \
server.pem   the server certificate followed by the CA certificate (ferrocom server --cert)\n  \
server.key   the server's private key, PKCS#8 (ferrocom server --key)\n\n\
The keys are not protected: for development and tests, not for production.",
    after_help = "Example:\n  ferrocom cert --out certs --name localhost --name 127.0.0.1 --name gateway.local"
)]
pub struct CertArgs {
    /// Folder to write into (created if missing).
    #[arg(long, value_name = "DIR", default_value = "certs")]
    out: PathBuf,

    /// A DNS name or IP address the server certificate is valid for (repeatable;
    /// default: localhost and 127.0.0.1).
    #[arg(long = "name", value_name = "NAME")]
    names: Vec<String>,

    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

fn write(path: &Path, text: &str, secret: bool) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

/// Runs `ferrocom cert`.
pub fn run(args: CertArgs) -> ExitCode {
    let names: Vec<&str> = if args.names.is_empty() {
        vec!["localhost", "127.0.0.1"]
    } else {
        args.names.iter().map(String::as_str).collect()
    };
    let certs = match generate_dev_certificates(&names) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: cannot create {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    let files = [
        ("ca.pem", certs.ca_cert_pem.as_str(), false),
        ("ca.key", certs.ca_key_pem.as_str(), true),
        ("server.pem", certs.server_chain_pem.as_str(), false),
        ("server.key", certs.server_key_pem.as_str(), true),
    ];
    if !args.force {
        let existing: Vec<String> = files
            .iter()
            .map(|(f, _, _)| args.out.join(f))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            eprintln!(
                "error: {} already exist(s); use --force to overwrite",
                existing.join(", ")
            );
            return ExitCode::FAILURE;
        }
    }
    for (file, text, secret) in files {
        let path = args.out.join(file);
        if let Err(e) = write(&path, text, secret) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    println!("server certificate valid for: {}", names.join(", "));
    ExitCode::SUCCESS
}
