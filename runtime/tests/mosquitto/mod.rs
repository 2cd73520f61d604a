//! A mosquitto the test starts itself: free loopback port, generated config in a temp
//! dir, killed on drop. Under CI=true a missing mosquitto fails the test; elsewhere the
//! test prints why it skips.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn find_mosquitto() -> Option<PathBuf> {
    let candidates = [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ];
    if let Some(p) = candidates.iter().map(PathBuf::from).find(|p| p.exists()) {
        return Some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("mosquitto"))
        .find(|p| p.exists())
}

/// The mosquitto binary; `None` (skip, with the reason printed) only outside CI.
pub fn mosquitto_or_skip() -> Option<PathBuf> {
    let bin = find_mosquitto();
    if bin.is_none() {
        assert!(
            !in_ci(),
            "mosquitto is not installed (CI=true: .ci/run installs it)"
        );
        eprintln!("skipping: mosquitto is not installed (apt-get install mosquitto)");
    }
    bin
}

/// A running broker; killed and its directory removed on drop.
pub struct Mosquitto {
    bin: PathBuf,
    child: Option<Child>,
    pub dir: PathBuf,
    pub addr: SocketAddr,
    persistence: bool,
    /// TLS listener files (chain, key), if any.
    tls: Option<(PathBuf, PathBuf)>,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Mosquitto {
    /// Anonymous, plain TCP; `persistence` keeps sessions and messages on disk across a
    /// restart.
    pub fn start(bin: &Path, persistence: bool) -> Mosquitto {
        Self::start_tls(bin, persistence, None)
    }

    /// With `tls` = (certificate chain PEM, key PEM) the listener speaks TLS.
    pub fn start_tls(bin: &Path, persistence: bool, tls: Option<(&str, &str)>) -> Mosquitto {
        let dir = std::env::temp_dir().join(format!(
            "ferrocom-mqtt-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // mosquitto started as root drops to its own user, which must write the
        // persistence file here.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let tls = tls.map(|(chain, key)| {
            let (c, k) = (dir.join("chain.pem"), dir.join("key.pem"));
            std::fs::write(&c, chain).unwrap();
            std::fs::write(&k, key).unwrap();
            std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o644)).unwrap();
            (c, k)
        });
        let mut m = Mosquitto {
            bin: bin.to_path_buf(),
            child: None,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            persistence,
            tls,
        };
        m.launch();
        m
    }

    fn launch(&mut self) {
        let port = self.addr.port();
        let conf = self.dir.join("mosquitto.conf");
        let mut text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type all\n\
max_inflight_messages 0\nmax_queued_messages 100000\n"
        );
        if self.persistence {
            text.push_str(&format!(
                "persistence true\npersistence_location {}/\nautosave_interval 1\n",
                self.dir.display()
            ));
        } else {
            text.push_str("persistence false\n");
        }
        if let Some((c, k)) = &self.tls {
            text.push_str(&format!(
                "certfile {}\nkeyfile {}\n",
                c.display(),
                k.display()
            ));
        }
        std::fs::write(&conf, text).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("mosquitto.log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.child = Some(child);
        let t0 = Instant::now();
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "mosquitto did not listen on {} within 10 s:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the broker at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends a signal (`STOP`, `CONT`, `TERM`, ...) to the broker.
    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status();
        }
    }

    /// Stops the broker the way a service manager does (SIGTERM: it saves its
    /// persistence file and exits). Also ends a broker frozen with `STOP`: the
    /// pending SIGTERM takes effect as soon as it continues.
    pub fn terminate(&mut self) {
        self.signal("TERM");
        self.signal("CONT");
        if let Some(mut c) = self.child.take() {
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the broker again on the same port and directory.
    pub fn restart(&mut self) {
        self.launch();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}
