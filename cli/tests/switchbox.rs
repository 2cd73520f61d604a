//! `ferrocom switchbox`, run as a program: service accounts added, listed and removed,
//! clear errors for bad input, and a switchbox started from PEM files that accepts a TLS
//! connection and sends the IOCOM mark byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

fn ferrocom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrocom"))
        .args(args)
        .output()
        .unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ferrocom-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn accounts_add_list_remove_and_errors() {
    let dir = temp_dir("sb-accounts");
    let db = dir.join("sb.db");
    let db = db.to_str().unwrap();
    let o = ferrocom(&[
        "switchbox",
        "accounts",
        "add",
        "plant",
        "--password",
        "pw",
        "--networks",
        "cafenet,othernet",
        "--db",
        db,
    ]);
    assert!(o.status.success(), "{o:?}");
    let o = ferrocom(&["switchbox", "accounts", "list", "--db", db]);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("plant\tcafenet,othernet\tpassword set"),
        "{out}"
    );
    assert!(!out.contains("pw\n"), "the password is not shown");

    let o = ferrocom(&[
        "switchbox",
        "accounts",
        "add",
        "x",
        "--password",
        "pw",
        "--networks",
        "a-network-name-far-too-long",
        "--db",
        db,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("must be 1 to 23 bytes"));

    let o = ferrocom(&["switchbox", "accounts", "remove", "plant", "--db", db]);
    assert!(o.status.success());
    let o = ferrocom(&["switchbox", "accounts", "remove", "plant", "--db", db]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no account plant"));

    let o = ferrocom(&["switchbox", "--db", db]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--cert and --key are required"));
}

#[test]
fn serves_tls_from_pem_files() {
    let dir = temp_dir("sb-serve");
    let certs = ferrocom_runtime::net::tls::generate_dev_certificates(&["127.0.0.1"]).unwrap();
    std::fs::write(dir.join("chain.pem"), &certs.server_chain_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &certs.server_key_pem).unwrap();
    // A free port: bind, read it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocom"))
        .args(["switchbox", "--listen", &addr])
        .arg("--cert")
        .arg(dir.join("chain.pem"))
        .arg("--key")
        .arg(dir.join("key.pem"))
        .arg("--db")
        .arg(dir.join("sb.db"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut listening = false;
    for _ in 0..20 {
        line.clear();
        if err.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.contains("listening on") {
            listening = true;
            break;
        }
    }
    assert!(listening, "last line: {line}");

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certs.ca_cert.clone()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let mut mark = [0u8; 1];
    tls.read_exact(&mut mark).unwrap();
    assert_eq!(mark, [0x5B], "the IOCOM TLS mark byte");
    // A client for a network nobody published is closed.
    tls.write_all(b"\x53\x08cafenet\x00").unwrap();
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest);
    assert!(rest.is_empty());
    child.kill().unwrap();
    let _ = child.wait();
}
