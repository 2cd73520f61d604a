//! The example boards of `firmware/` (gina and the plc, on the no_std device core with
//! its blocking runner) connect to `ferrocom server`, and `ferrocom spy` shows their
//! live signals: the two programs are run as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferrocom_firmware_host::{Options, run_board};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spy_once(port: u16) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocom"))
        .args([
            "spy",
            &format!("tcp://127.0.0.1:{port}"),
            "--once",
            "--interval",
            "600",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The value column of `signal`'s row of `device`.
fn value(table: &str, device: &str, signal: &str) -> Option<String> {
    table.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        (cols.first().is_some_and(|d| d.starts_with(device)) && cols.get(2) == Some(&signal))
            .then(|| cols.get(3).map(|v| (*v).to_string()))
            .flatten()
    })
}

#[test]
fn boards_run_against_the_server_and_the_spy_shows_them_live() {
    let dir = std::env::temp_dir().join(format!("ferrocom-boards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Kill(
        Command::new(env!("CARGO_BIN_EXE_ferrocom"))
            .args(["server", "--tcp", "127.0.0.1:0", "--db"])
            .arg(dir.join("s.db"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let l = lines.next().unwrap().unwrap();
        if let Some(a) = l.strip_prefix("listening on ") {
            break a.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    let opts = Options::parse(
        [
            "--connect",
            &format!("tcp://127.0.0.1:{port}"),
            "--seconds",
            "20",
        ]
        .map(String::from),
    )
    .unwrap();
    let o2 = opts.clone();
    std::thread::spawn(move || {
        let _ = run_board(
            &ferrocom_board_gina::spec("", *b"spy-test-gna"),
            ferrocom_board_gina::Gina::new(ferrocom_board_gina::sim::SimPins::default()),
            &o2,
        );
    });
    std::thread::spawn(move || {
        let _ = run_board(
            &ferrocom_board_plc::spec("", *b"spy-test-plc"),
            ferrocom_board_plc::Plc::new(ferrocom_board_plc::sim::SimPins::default()),
            &opts,
        );
    });

    // Both boards appear with their maps, and their values move between two looks.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let first = loop {
        let t = spy_once(port);
        if value(&t, "gina", "potentiometer").is_some() && value(&t, "plc", "scans").is_some() {
            break t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "boards not seen:\n{t}"
        );
    };
    std::thread::sleep(Duration::from_millis(700));
    let second = spy_once(port);
    for (dev, sig) in [("gina", "potentiometer"), ("plc", "scans")] {
        let (a, b) = (value(&first, dev, sig), value(&second, dev, sig));
        assert!(
            a.is_some() && b.is_some() && a != b,
            "{dev}.{sig} did not change: {a:?} then {b:?}\n{second}"
        );
    }
    assert!(
        second
            .lines()
            .any(|l| l.starts_with("gina") && l.ends_with("ok")),
        "{second}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
