//! A deliberately broken IOCOM server: the engine-based server of the suite with faults
//! injected into its byte streams. The suite must report exactly the clauses each fault
//! violates — and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use ferrocom_conformance::targets::{Filter, FilterFactory};
use ferrocom_conformance::{EngineServer, Report, RunOptions, Verdict, run_in_process};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{FrameFlags, SocketBody, SocketItem, SystemBody, SystemMessage};

/// The faults the double can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Never sends an ACK (violates IOCOM-6.3-2; C behaviour IOCOM-6.3-1).
    NoAcks,
    /// Accepts frames with a wrong number (renumbers them before the engine sees them):
    /// violates IOCOM-4.7-2 and IOCOM-5-3.
    AcceptWrongFrameNumber,
    /// Drops the connection on an unknown system frame type (violates IOCOM-10.4-1).
    DropOnUnknownSystem,
    /// Numbers its first mbinfo reply 7 (wrong frame number: violates IOCOM-5-3).
    WrongFrameNumber,
}

struct Broken {
    fault: Fault,
    /// Incoming: handshake bytes still to pass through, parse buffer, next number.
    hs_left: Option<usize>,
    inbuf: Vec<u8>,
    in_nr: u8,
    in_broken: bool,
    out_frames: usize,
}

fn next(nr: u8) -> u8 {
    if nr >= 200 { 1 } else { nr + 1 }
}

impl Broken {
    fn new(fault: Fault) -> Self {
        Broken {
            fault,
            hs_left: None,
            inbuf: Vec::new(),
            in_nr: 0,
            in_broken: false,
            out_frames: 0,
        }
    }
}

/// Re-encodes complete items of `buf` through `f` (None = drop the connection); the
/// incomplete tail stays in `buf`.
fn rewrite(
    buf: &mut Vec<u8>,
    mut f: impl FnMut(&mut SocketItem<'_>) -> Option<()>,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut used_total = 0;
    loop {
        match SocketItem::decode(&buf[used_total..]) {
            Ok(Decoded::Complete(item, used)) => {
                let raw = buf[used_total..used_total + used].to_vec();
                let mut owned = item.clone();
                f(&mut owned)?;
                if owned == item {
                    out.extend(raw);
                } else {
                    owned.encode(&mut out).unwrap();
                }
                used_total += used;
            }
            Ok(Decoded::Incomplete(_)) => break,
            Err(_) => {
                // Not decodable: let the engine see (and reject) it.
                out.extend_from_slice(&buf[used_total..]);
                used_total = buf.len();
                break;
            }
        }
    }
    buf.drain(..used_total);
    Some(out)
}

impl Filter for Broken {
    fn outgoing(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        let mut buf = bytes;
        let fault = self.fault;
        let frames = &mut self.out_frames;
        rewrite(&mut buf, |item| {
            match (&mut item.body, fault) {
                (SocketBody::Ack(_), Fault::NoAcks) => {
                    // Replaced by nothing: encode an empty marker handled below.
                    item.body =
                        SocketBody::Ack(ferrocom_wire::iocom::SocketAck { count: 0xFF_FFFF });
                }
                (SocketBody::Numbered(f), Fault::WrongFrameNumber) => {
                    *frames += 1;
                    if *frames == 2 {
                        f.nr = 7;
                    }
                }
                _ => {}
            }
            Some(())
        })
        .map(|out| strip_marked_acks(&out))
        .unwrap_or_default()
    }

    fn incoming(&mut self, bytes: Vec<u8>) -> Option<Vec<u8>> {
        if !matches!(
            self.fault,
            Fault::AcceptWrongFrameNumber | Fault::DropOnUnknownSystem
        ) || self.in_broken
        {
            return Some(bytes);
        }
        let mut pass = Vec::new();
        let mut rest = &bytes[..];
        if self.hs_left != Some(0) {
            // The handshake: type byte, then N + N bytes if 0x40.
            self.inbuf.extend_from_slice(rest);
            rest = &[];
            let need = match self.inbuf.first() {
                Some(t) if t & 0x40 != 0 => self.inbuf.get(1).map(|n| 2 + usize::from(*n)),
                Some(_) => Some(1),
                None => None,
            };
            let valid = self
                .inbuf
                .first()
                .is_none_or(|t| matches!(t & 0x3F, 0x12 | 0x13))
                && self
                    .inbuf
                    .get(1)
                    .is_none_or(|n| (1..=24).contains(n) || self.inbuf[0] & 0x40 == 0);
            if !valid {
                // Let the engine reject a bad handshake itself.
                self.in_broken = true;
                return Some(std::mem::take(&mut self.inbuf));
            }
            match need {
                Some(n) if self.inbuf.len() >= n => {
                    pass.extend(self.inbuf.drain(..n));
                    self.hs_left = Some(0);
                }
                _ => return Some(pass),
            }
        }
        self.inbuf.extend_from_slice(rest);
        let fault = self.fault;
        let nr = &mut self.in_nr;
        let out = rewrite(&mut self.inbuf, |item| {
            if let SocketBody::Numbered(f) = &mut item.body {
                if fault == Fault::AcceptWrongFrameNumber {
                    f.nr = *nr;
                }
                if fault == Fault::DropOnUnknownSystem
                    && f.flags.contains(FrameFlags::SYSTEM)
                    && matches!(
                        SystemMessage::decode_exact(&f.data).map(|m| m.body),
                        Ok(SystemBody::Unknown(_))
                    )
                {
                    return None;
                }
                *nr = next(*nr);
                f.data = Cow::Owned(f.data.to_vec());
            }
            Some(())
        })?;
        pass.extend(out);
        // A header announcing an oversize frame: let the engine judge it from the header.
        if self.inbuf.len() >= 4
            && self.inbuf[0] != 0xFF
            && usize::from(u16::from_le_bytes([self.inbuf[2], self.inbuf[3]])) > 1392
        {
            self.in_broken = true;
            pass.append(&mut self.inbuf);
        }
        Some(pass)
    }
}

/// Removes ACKs whose count was set to the marker (24-bit max after truncation).
fn strip_marked_acks(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match SocketItem::decode(rest) {
            Ok(Decoded::Complete(item, used)) => {
                let marked = matches!(item.body, SocketBody::Ack(a) if a.count == 0xFF_FFFF);
                if !marked {
                    out.extend_from_slice(&rest[..used]);
                }
                rest = &rest[used..];
            }
            _ => {
                out.extend_from_slice(rest);
                break;
            }
        }
    }
    out
}

async fn run_double(fault: Fault) -> Report {
    let factory: FilterFactory = Arc::new(move || Box::new(Broken::new(fault)));
    let target = EngineServer {
        name: format!("broken-{fault:?}"),
        filter: factory,
        ..EngineServer::default()
    };
    let opts = RunOptions {
        progress: false,
        skip_slow: true,
        ..RunOptions::default()
    };
    run_in_process(&target, &opts).await
}

fn judged(r: &Report) -> BTreeSet<(String, Verdict, Vec<String>)> {
    r.failures().into_iter().collect()
}

fn set(items: &[(&str, Verdict, &[&str])]) -> BTreeSet<(String, Verdict, Vec<String>)> {
    items
        .iter()
        .map(|(id, v, c)| {
            (
                id.to_string(),
                *v,
                c.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acks_fails_exactly_the_ack_clauses() {
    let r = run_double(Fault::NoAcks).await;
    assert_eq!(
        judged(&r),
        set(&[
            ("IOCOM-6.3-1#s1", Verdict::NonStrict, &["IOCOM-6.3-1"]),
            ("IOCOM-6.3-2#s1", Verdict::Fail, &["IOCOM-6.3-2"]),
            // The flow-control case sends 70 kB; without ACKs the suite itself stalls.
            ("IOCOM-6.3-3#s1", Verdict::Fail, &["IOCOM-6.3-2"]),
        ]),
        "{}",
        r.console_summary()
    );
    assert!(!r.ok);
    assert_eq!(r.new_failures, ["IOCOM-6.3-2#s1", "IOCOM-6.3-3#s1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_wrong_frame_numbers_fails_the_numbering_clauses() {
    let r = run_double(Fault::AcceptWrongFrameNumber).await;
    assert_eq!(
        judged(&r),
        set(&[
            ("IOCOM-4.7-2#s1", Verdict::Fail, &["IOCOM-4.7-2"]),
            ("IOCOM-5-3#s2", Verdict::Fail, &["IOCOM-5-3"]),
        ]),
        "{}",
        r.console_summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_on_unknown_system_frames_fails_10_4_1() {
    let r = run_double(Fault::DropOnUnknownSystem).await;
    assert_eq!(
        judged(&r),
        set(&[("IOCOM-10.4-1#s1", Verdict::Fail, &["IOCOM-10.4-1"])]),
        "{}",
        r.console_summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_frame_number_fails_5_3_everywhere_it_is_seen() {
    let r = run_double(Fault::WrongFrameNumber).await;
    // The second numbered frame of every connection is wrong, so every case that gets
    // that far reports IOCOM-5-3, and nothing else is blamed.
    let blamed: BTreeSet<String> = r.failures().into_iter().flat_map(|(_, _, c)| c).collect();
    assert_eq!(
        blamed,
        BTreeSet::from(["IOCOM-5-3".to_string()]),
        "{}",
        r.console_summary()
    );
    assert!(r.summary.fail >= 10, "{}", r.console_summary());
}
