//! Cases for an IOCOM server: the suite acts as the conformance device `conform`.
//!
//! The conformance device map: device `conform` (automatic number) owns an up block
//! `exp` and a down block `imp`, both [`BLOCK_SIZE`] bytes. A server that supports the
//! map *reflects*: every snapshot it receives in `exp` it copies into `imp` of the same
//! device and sends down. Cases that need reflection report `unsupported` without it.

use std::time::Duration;

use ferrocom_wire::iocom::FrameFlags;

use super::raw::{
    IntoFailure, Raw, Stage, auth_content, expect_drop_and_recovery, fresh_connection_works,
};
use super::session::{BLOCK_SIZE, DEVICE, Session, SessionError};
use super::wire::{self, Seen};
use crate::case::{Case, CaseFuture, CaseResult, Ctx, Failure, Kind, Outcome, Role};

macro_rules! case {
    ($id:literal, [$($c:literal),+], $kind:ident, $slow:literal, $title:literal, $f:ident) => {
        Case {
            id: $id,
            clauses: &[$($c),+],
            role: Role::Server,
            title: $title,
            kind: Kind::$kind,
            slow: $slow,
            run: |ctx| -> CaseFuture { Box::pin($f(ctx)) },
        }
    };
}

/// The server-role cases.
pub static CASES: &[Case] = &[
    case!(
        "IOCOM-8.5-1#s1",
        [
            "IOCOM-8.5-1",
            "IOCOM-8.1-4",
            "IOCOM-9.1-1",
            "IOCOM-4.6-3",
            "IOCOM-8.5-3",
            "IOCOM-11.2-1",
            "IOCOM-9.3-1"
        ],
        Normal,
        false,
        "Handshake, authentication (server first), binding of exp and imp, key frame of imp",
        session_setup
    ),
    case!(
        "IOCOM-6.3-1#s1",
        ["IOCOM-6.3-1"],
        Normal,
        false,
        "The server's first write after the handshake is an ACK",
        first_ack
    ),
    case!(
        "IOCOM-9.5-1#s1",
        ["IOCOM-9.5-1", "IOCOM-10.2-1"],
        Normal,
        false,
        "mbinfo replies to an automatically numbered device carry 8999",
        replies_8999
    ),
    case!(
        "IOCOM-10.3-1#s1",
        ["IOCOM-10.3-1"],
        Normal,
        false,
        "Order of the mbinfo replies (C: source blocks first)",
        reply_order
    ),
    case!(
        "IOCOM-11.2-2#s1",
        ["IOCOM-11.2-2", "IOCOM-11.4-2"],
        Normal,
        false,
        "Data up: raw, compressed and delta snapshots of exp are accepted",
        data_up
    ),
    case!(
        "IOCOM-11.4-2#s1",
        ["IOCOM-11.4-2", "IOCOM-11.1-1", "IOCOM-11.2-2"],
        Normal,
        false,
        "Data down: the server's snapshots of imp arrive intact (reflection)",
        data_down
    ),
    case!(
        "IOCOM-8.4-1#s1",
        ["IOCOM-8.4-1", "IOCOM-5-3", "IOCOM-11.2-1"],
        Normal,
        false,
        "Reconnect: numbering restarts at 0 and the key frame of imp comes again",
        reconnect
    ),
    case!(
        "IOCOM-5-3#s1",
        ["IOCOM-5-3", "IOCOM-5-4"],
        Normal,
        false,
        "Frame-number wrap: 250 frames each way, 200 is followed by 1",
        wrap
    ),
    case!(
        "IOCOM-6.3-2#s1",
        ["IOCOM-6.3-2", "IOCOM-6.1-5"],
        Normal,
        false,
        "The server acknowledges at least every 500 received bytes, counting exactly",
        ack_limit
    ),
    case!(
        "IOCOM-6.3-3#s1",
        ["IOCOM-6.3-3"],
        Normal,
        false,
        "Flow control: never more than MAX_IN_AIR (61 248) bytes in flight without ACK",
        flow_control
    ),
    case!(
        "IOCOM-4.6-2#s1",
        ["IOCOM-4.6-2"],
        Normal,
        false,
        "Frames never exceed the frame size the device announced (464)",
        frame_size
    ),
    case!(
        "IOCOM-4.7-3#s1",
        ["IOCOM-4.7-3"],
        Normal,
        false,
        "Frames split byte by byte and several frames in one write are reassembled",
        split_frames
    ),
    case!(
        "IOCOM-10.4-3#s1",
        ["IOCOM-10.4-3"],
        Normal,
        false,
        "Data for an unbound block id is ignored",
        unbound_data
    ),
    case!(
        "IOCOM-7-1#s1",
        ["IOCOM-7-1"],
        Normal,
        true,
        "Keep-alive: an ACK after 10 s without writing",
        keepalive
    ),
    case!(
        "IOCOM-7-2#s1",
        ["IOCOM-7-2"],
        Normal,
        true,
        "Silence: the connection is dropped after 20 s without input",
        silence
    ),
    case!(
        "IOCOM-9.4-4#s1",
        ["IOCOM-9.4-4", "IOCOM-9.4-3"],
        Normal,
        false,
        "TLS: a device with the name and password of an account is authorized and bound",
        tls_auth_accepted
    ),
    case!(
        "IOCOM-9.4-4#s2",
        ["IOCOM-9.4-4"],
        Normal,
        false,
        "TLS: a wrong password is refused (the connection is closed), the right one still works",
        tls_auth_refused
    ),
    case!(
        "IOCOM-4.7-2#s1",
        ["IOCOM-4.7-2", "IOCOM-4.7-4"],
        Malformed,
        false,
        "Wrong frame number (5 instead of 1): drop, keep serving",
        wrong_number
    ),
    case!(
        "IOCOM-5-2#s1",
        ["IOCOM-5-2", "IOCOM-4.7-4"],
        Malformed,
        false,
        "Lead byte 0xC9 (above 200, not an ACK): drop, keep serving",
        bad_lead
    ),
    case!(
        "IOCOM-5-3#s2",
        ["IOCOM-5-3", "IOCOM-4.7-4"],
        Malformed,
        false,
        "First numbered frame carries 1 instead of 0: drop, keep serving",
        first_not_zero
    ),
    case!(
        "IOCOM-4.6-1#s1",
        ["IOCOM-4.6-1", "IOCOM-4.7-4"],
        Malformed,
        false,
        "DATA_SZ 2000 (frame longer than 1392): drop from the header, keep serving",
        oversize
    ),
    case!(
        "IOCOM-11.7-1#s1",
        ["IOCOM-11.7-1", "IOCOM-11.3-1"],
        Malformed,
        false,
        "Zero-run literal count beyond the content: drop, keep serving",
        bad_zero_run
    ),
    case!(
        "IOCOM-11.7-2#s1",
        ["IOCOM-11.7-2"],
        Malformed,
        false,
        "Data frame addressed beyond the block end: drop, keep serving",
        addr_beyond
    ),
    case!(
        "IOCOM-10.4-1#s1",
        ["IOCOM-10.4-1"],
        Malformed,
        false,
        "Unknown system frame type 0x07 is ignored; the session goes on",
        unknown_system
    ),
    case!(
        "IOCOM-8.1-3#s1",
        ["IOCOM-8.1-3", "IOCOM-4.7-4"],
        Malformed,
        false,
        "Garbage instead of a handshake (\"GET / HTTP/1.0\"): close, keep serving",
        garbage_handshake
    ),
    case!(
        "IOCOM-8.1-3#s2",
        ["IOCOM-8.1-3", "IOCOM-8.1-2"],
        Malformed,
        false,
        "Handshake role 0x14: close, keep serving",
        bad_handshake_role
    ),
    case!(
        "IOCOM-8.1-5#s1",
        ["IOCOM-8.1-5"],
        Malformed,
        false,
        "Handshake network length 0: close, keep serving",
        handshake_len_zero
    ),
    case!(
        "IOCOM-8.1-5#s2",
        ["IOCOM-8.1-5"],
        Malformed,
        false,
        "Handshake network length 25 (24 is the maximum): close, keep serving",
        handshake_len_25
    ),
    case!(
        "IOCOM-9.4-1#s1",
        ["IOCOM-9.4-1"],
        Malformed,
        false,
        "User name of 26 bytes (25 is the maximum): drop, keep serving",
        long_user
    ),
    case!(
        "IOCOM-9.4-2#s1",
        ["IOCOM-9.4-2"],
        Malformed,
        false,
        "Network name of 24 bytes in the authentication (23 is the maximum): drop",
        long_network
    ),
    case!(
        "IOCOM-12-2#s1",
        ["IOCOM-12-2"],
        Malformed,
        false,
        "Remove request with 17 ids (16 is the maximum): drop, keep serving",
        remove_17
    ),
    case!(
        "IOCOM-4.7-4#s1",
        ["IOCOM-4.7-4"],
        Malformed,
        false,
        "Connection closed in the middle of a frame: the server keeps serving",
        truncated_close
    ),
];

fn t(ctx: &Ctx) -> Duration {
    ctx.settings().reply_timeout
}

/// A bound session: both authentications, both blocks bound, key frame of imp received.
async fn bound(ctx: &Ctx) -> Result<Session, Failure> {
    let mut s = Session::device(ctx).await?;
    s.run_until(t(ctx), |s| s.authenticated())
        .await
        .map_err(|e| e.fail("IOCOM-8.5-1", "authentication"))?;
    let imp = s.imp;
    s.run_until(t(ctx), |s| s.bound() >= 2 && s.snapshot_seen(imp))
        .await
        .map_err(|e| {
            e.fail(
                "IOCOM-8.5-3",
                "binding of exp and imp with the key frame of imp",
            )
        })?;
    Ok(s)
}

/// Deterministic pseudo-random non-zero bytes.
fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as u8) | 1
        })
        .collect()
}

async fn session_setup(ctx: Ctx) -> CaseResult {
    let s = bound(&ctx).await?;
    let frames: Vec<_> = s.rx.frames().cloned().collect();
    let Some(first) = frames.first() else {
        return Ok(Outcome::fail(&["IOCOM-8.5-1"], "no numbered frame"));
    };
    if first.system != Some(2) || first.nr != 0 {
        return Ok(Outcome::fail(
            &["IOCOM-9.3-1"],
            format!("first numbered frame is not the authentication frame 0: {first:?}"),
        ));
    }
    if !(96..=16384).contains(&first.mblk) {
        return Ok(Outcome::fail(
            &["IOCOM-4.6-3"],
            format!("authentication MBLK_ID {} is not a frame size", first.mblk),
        ));
    }
    let imp_id = s.imp.map_or(0, |b| u32::from(b.0));
    let reply = frames
        .iter()
        .position(|f| f.system == Some(1) && f.info.as_ref().is_some_and(|i| i.0 == "imp"));
    let data = frames.iter().position(|f| f.is_data() && f.mblk == imp_id);
    match (reply, data) {
        (Some(r), Some(d)) if r < d => {}
        _ => {
            return Ok(Outcome::fail(
                &["IOCOM-8.5-3"],
                "the key frame of imp did not follow the mbinfo reply for imp",
            ));
        }
    }
    let key: Vec<_> = frames[data.unwrap_or(0)..]
        .iter()
        .filter(|f| f.is_data() && f.mblk == imp_id)
        .collect();
    if key.iter().any(|f| f.is_delta()) || !key.iter().any(|f| f.is_sync()) {
        return Ok(Outcome::fail(
            &["IOCOM-11.2-1"],
            "the first snapshot of imp is not a key frame (DELTA set or no SYNC_COMPLETE)",
        ));
    }
    Ok(Outcome::pass(format!(
        "authenticated with frame size {}, exp and imp bound, key frame of imp received",
        first.mblk
    )))
}

async fn first_ack(ctx: Ctx) -> CaseResult {
    let s = bound(&ctx).await?;
    match s.rx.items.first().map(|i| &i.seen) {
        Some(Seen::Ack(c)) => Ok(Outcome::pass(format!("first item: ACK {c}"))),
        other => Ok(Outcome::non_strict(
            &["IOCOM-6.3-1"],
            format!("first item is {other:?}, not an ACK (a C end writes an ACK first)"),
        )),
    }
}

async fn replies_8999(ctx: Ctx) -> CaseResult {
    let s = bound(&ctx).await?;
    let bad: Vec<_> =
        s.rx.frames()
            .filter(|f| f.system == Some(1))
            .filter_map(|f| f.info.clone())
            .filter(|i| i.1 != 8999)
            .collect();
    if bad.is_empty() {
        Ok(Outcome::pass(
            "every mbinfo reply carries device number 8999",
        ))
    } else {
        Ok(Outcome::fail(
            &["IOCOM-9.5-1"],
            format!("mbinfo replies with other device numbers: {bad:?}"),
        ))
    }
}

async fn reply_order(ctx: Ctx) -> CaseResult {
    let s = bound(&ctx).await?;
    let order: Vec<String> =
        s.rx.frames()
            .filter(|f| f.system == Some(1))
            .filter_map(|f| f.info.as_ref().map(|i| i.0.clone()))
            .collect();
    Ok(Outcome::info(format!(
        "mbinfo replies in the order {order:?} (C: imp before exp)"
    )))
}

/// Waits until `imp` equals `exp` (reflection); `false` if it did not happen.
async fn reflected(s: &mut Session, within: Duration) -> Result<bool, Failure> {
    let (exp, imp) = (s.exp, s.imp);
    match s.run_until(within, |s| s.block(imp) == s.block(exp)).await {
        Ok(()) => Ok(true),
        Err(super::session::SessionError::Timeout) => Ok(false),
        Err(e) => Err(e.fail("IOCOM-11.2-2", "waiting for the reflection")),
    }
}

async fn data_up(ctx: Ctx) -> CaseResult {
    let mut s = bound(&ctx).await?;
    let exp = s.exp;
    // A compressed key-like whole block, a raw delta, a compressed delta.
    let mut whole = pattern(1, BLOCK_SIZE);
    for b in whole.iter_mut().skip(100).take(200) {
        *b = 0;
    }
    s.write(exp, 0, &whole);
    s.run_for(Duration::from_millis(50))
        .await
        .map_err(|e| e.fail("IOCOM-11.2-2", "sending a whole-block snapshot"))?;
    s.write(exp, 10, &[0x55, 0x66]);
    s.run_for(Duration::from_millis(50))
        .await
        .map_err(|e| e.fail("IOCOM-11.2-2", "sending a raw delta"))?;
    s.write(exp, 400, &pattern(2, 40));
    s.run_for(Duration::from_millis(50))
        .await
        .map_err(|e| e.fail("IOCOM-11.2-2", "sending a delta"))?;
    let delta =
        s.tx.frames()
            .filter(|f| f.is_data() && f.is_delta())
            .count();
    let yes = reflected(&mut s, Duration::from_millis(1000)).await?;
    Ok(Outcome::pass(format!(
        "3 snapshots ({delta} delta frames) accepted; {}",
        if yes {
            "reflected into imp intact"
        } else {
            "no reflection, so only acceptance was checked"
        }
    )))
}

async fn data_down(ctx: Ctx) -> CaseResult {
    let mut s = bound(&ctx).await?;
    let exp = s.exp;
    s.write(exp, 0, &pattern(3, BLOCK_SIZE));
    if !reflected(&mut s, Duration::from_millis(1500)).await? {
        return Ok(Outcome::unsupported(
            "the target does not reflect exp into imp (conformance device map)",
        ));
    }
    s.write(exp, 500, &[0, 0, 0, 0, 0, 0, 7, 7, 7]);
    if !reflected(&mut s, t(&ctx)).await? {
        return Ok(Outcome::fail(
            &["IOCOM-11.4-2"],
            "a later snapshot of imp did not arrive intact",
        ));
    }
    Ok(Outcome::pass(
        "imp equals exp after a key-sized and a delta snapshot",
    ))
}

async fn reconnect(ctx: Ctx) -> CaseResult {
    let s = bound(&ctx).await?;
    s.peer.close().await;
    let s2 = bound(&ctx).await?;
    if let Some(e) = s2.rx.numbering_error() {
        return Ok(Outcome::fail(&["IOCOM-5-3"], e));
    }
    let imp_id = s2.imp.map_or(0, |b| u32::from(b.0));
    let first = s2.rx.frames().find(|f| f.is_data() && f.mblk == imp_id);
    match first {
        Some(f) if !f.is_delta() => Ok(Outcome::pass(
            "second connection: frames numbered from 0, key frame of imp again",
        )),
        _ => Ok(Outcome::fail(
            &["IOCOM-8.4-1"],
            "no key frame of imp on the second connection",
        )),
    }
}

async fn wrap(ctx: Ctx) -> CaseResult {
    let mut s = bound(&ctx).await?;
    let exp = s.exp;
    for i in 0..250u32 {
        let n = s.tx.frames().count();
        s.write(exp, (i as usize * 4) % BLOCK_SIZE, &[(i as u8) | 0x80]);
        s.run_until(t(&ctx), |s| s.tx.frames().count() > n)
            .await
            .map_err(|e| e.fail("IOCOM-5-3", "sending 250 snapshots"))?;
    }
    let sent = s.tx.frames().count();
    let yes = reflected(&mut s, Duration::from_millis(1500)).await?;
    if let Some(e) = s.rx.numbering_error() {
        return Ok(Outcome::fail(&["IOCOM-5-3"], e));
    }
    let got = s.rx.frames().count();
    if yes && got > 201 {
        Ok(Outcome::pass(format!(
            "sent {sent} frames (wrapped), received {got} correctly numbered frames"
        )))
    } else {
        Ok(Outcome::pass(format!(
            "sent {sent} frames (wrapped) and the target stayed connected; it sent {got} \
             frames (no reflection, its own wrap not observed)"
        )))
    }
}

async fn ack_limit(ctx: Ctx) -> CaseResult {
    let mut s = bound(&ctx).await?;
    let exp = s.exp;
    for i in 0..8 {
        s.write(exp, 0, &pattern(10 + i, BLOCK_SIZE));
        s.run_for(Duration::from_millis(20))
            .await
            .map_err(|e| e.fail("IOCOM-6.3-2", "sending 8 kB"))?;
    }
    s.run_for(Duration::from_millis(300))
        .await
        .map_err(|e| e.fail("IOCOM-6.3-2", "waiting for ACKs"))?;
    let total = s.tx.total();
    let acks: Vec<u32> = s.rx.acks().map(|(_, c)| c).collect();
    if let Some(c) = acks.iter().find(|&&c| u64::from(c) > total) {
        return Ok(Outcome::fail(
            &["IOCOM-6.1-5"],
            format!("ACK count {c} exceeds the {total} bytes the suite sent"),
        ));
    }
    let last = acks.last().copied().unwrap_or(0);
    if total.saturating_sub(u64::from(last)) >= 500 {
        return Ok(Outcome::fail(
            &["IOCOM-6.3-2"],
            format!("the suite sent {total} bytes, the last ACK counts {last}"),
        ));
    }
    Ok(Outcome::pass(format!(
        "{} ACKs for {total} bytes, last {last}",
        acks.len()
    )))
}

async fn flow_control(ctx: Ctx) -> CaseResult {
    let mut s = bound(&ctx).await?;
    let exp = s.exp;
    s.write(exp, 0, &pattern(40, BLOCK_SIZE));
    if !reflected(&mut s, Duration::from_millis(1500)).await? {
        return Ok(Outcome::unsupported(
            "needs reflection (conformance device map) to make the server send enough",
        ));
    }
    let base = s.rx.total();
    let acked = s.tx.acks().map(|(_, c)| c).last().unwrap_or(0);
    s.drop_acks = true;
    s.peer.note("withholding ACKs from now on");
    for i in 0..70 {
        s.write(exp, 0, &pattern(100 + i, BLOCK_SIZE));
        s.run_for(Duration::from_millis(10))
            .await
            .map_err(|e| e.fail("IOCOM-6.3-3", "sending 70 kB while withholding ACKs"))?;
    }
    s.run_for(Duration::from_millis(500))
        .await
        .map_err(|e| e.fail("IOCOM-6.3-3", "waiting while withholding ACKs"))?;
    let in_flight = s.rx.total() - u64::from(acked);
    let sent = s.rx.total() - base;
    if in_flight > 61_248 {
        return Ok(Outcome::fail(
            &["IOCOM-6.3-3"],
            format!("{in_flight} bytes in flight without an ACK (limit 61 248)"),
        ));
    }
    s.drop_acks = false;
    s.peer.note("acknowledging again");
    s.inject_ack()
        .await
        .map_err(|e| e.fail("IOCOM-6.3-3", "acknowledging the withheld data"))?;
    let released = reflected(&mut s, Duration::from_secs(10)).await?;
    if sent < 50_000 {
        return Ok(Outcome::info(format!(
            "the server sent only {sent} bytes while ACKs were withheld; limit not reached"
        )));
    }
    let target_acked = s.rx.acks().map(|(_, c)| u64::from(c)).last().unwrap_or(0);
    if !released && s.tx.total().saturating_sub(target_acked) > 50_000 {
        return Ok(Outcome::fail(
            &["IOCOM-6.3-2"],
            format!(
                "the target acknowledged {target_acked} of {} bytes: the suite's own sending stalled",
                s.tx.total()
            ),
        ));
    }
    if !released {
        return Ok(Outcome::fail(
            &["IOCOM-6.3-3"],
            "the withheld data did not follow once ACKs resumed",
        ));
    }
    Ok(Outcome::pass(format!(
        "stalled at {in_flight} bytes in flight, resumed after the ACK"
    )))
}

async fn frame_size(ctx: Ctx) -> CaseResult {
    let mut s = Session::device_with(&ctx, Some(464)).await?;
    let imp = s.imp;
    s.run_until(t(&ctx), |s| s.bound() >= 2 && s.snapshot_seen(imp))
        .await
        .map_err(|e| e.fail("IOCOM-8.5-3", "binding"))?;
    let exp = s.exp;
    s.write(exp, 0, &pattern(7, BLOCK_SIZE));
    let yes = reflected(&mut s, Duration::from_millis(1500)).await?;
    let longest = s.rx.frames().map(|f| f.len).max().unwrap_or(0);
    if longest > 464 {
        return Ok(Outcome::fail(
            &["IOCOM-4.6-2"],
            format!("a {longest}-byte frame after the device announced 464"),
        ));
    }
    if !yes {
        return Ok(Outcome::unsupported(
            "needs reflection to make the server send a block larger than 464 bytes",
        ));
    }
    Ok(Outcome::pass(format!("longest frame {longest} bytes")))
}

async fn split_frames(ctx: Ctx) -> CaseResult {
    let net = ctx.settings().network.clone();
    let mut raw = Raw::open(&ctx, Stage::Handshake).await?;
    raw.wait(t(&ctx), |o| o.frames().any(|f| f.system == Some(2)))
        .await
        .map_err(|e| e.into_failure("IOCOM-8.5-1", "waiting for the authentication"))?;
    let auth = wire::frame(0, FrameFlags::SYSTEM, 1392, 0, &auth_content(&ctx));
    for b in &auth {
        raw.send(&[*b]).await?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    raw.nr = 1;
    let mut both = wire::frame(
        1,
        FrameFlags::SYSTEM,
        8,
        0,
        &wire::mbinfo(
            DEVICE,
            &net,
            "exp",
            BLOCK_SIZE as u32,
            super::session::EXP_FLAGS.0,
        ),
    );
    both.extend(wire::frame(
        2,
        FrameFlags::SYSTEM,
        9,
        0,
        &wire::mbinfo(
            DEVICE,
            &net,
            "imp",
            BLOCK_SIZE as u32,
            super::session::IMP_FLAGS.0,
        ),
    ));
    raw.send(&both).await?;
    raw.wait(t(&ctx), |o| {
        o.frames().filter(|f| f.system == Some(1)).count() >= 2
    })
    .await
    .map_err(|e| e.into_failure("IOCOM-4.7-3", "waiting for two mbinfo replies"))?;
    Ok(Outcome::pass(
        "authentication sent byte by byte and two mbinfo frames in one write were answered",
    ))
}

async fn unbound_data(ctx: Ctx) -> CaseResult {
    let net = ctx.settings().network.clone();
    let mut raw = Raw::open(&ctx, Stage::Bound).await?;
    let unbound = raw.exp_id + 100;
    raw.send_frame(FrameFlags::SYNC, unbound, 0, &[1, 2, 3])
        .await?;
    let info = wire::mbinfo(
        DEVICE,
        &net,
        "imp",
        BLOCK_SIZE as u32,
        super::session::IMP_FLAGS.0,
    );
    raw.send_frame(FrameFlags::SYSTEM, 9, 0, &info).await?;
    raw.wait(t(&ctx), |o| {
        o.frames()
            .any(|f| f.system == Some(1) && f.info.as_ref().is_some_and(|i| i.0 == "imp"))
    })
    .await
    .map_err(|e| {
        e.into_failure(
            "IOCOM-10.4-3",
            "after data for an unbound id, the mbinfo reply for imp",
        )
    })?;
    Ok(Outcome::pass(format!(
        "data for id {unbound} ignored, the session went on"
    )))
}

async fn keepalive(ctx: Ctx) -> CaseResult {
    let mut s = bound(&ctx).await?;
    let start = s.now();
    s.run_for(Duration::from_millis(11_500))
        .await
        .map_err(|e| e.fail("IOCOM-7-1", "idle for 11.5 s"))?;
    let last_before =
        s.rx.items
            .iter()
            .filter(|i| i.t_ms <= start)
            .map(|i| i.t_ms)
            .max()
            .unwrap_or(0);
    let ka =
        s.rx.items
            .iter()
            .find(|i| i.t_ms > start && matches!(i.seen, Seen::Ack(_)));
    match ka {
        Some(i) => Ok(Outcome::pass(format!(
            "keep-alive ACK {} ms after the previous write",
            i.t_ms - last_before
        ))),
        None => Ok(Outcome::fail(
            &["IOCOM-7-1"],
            "no keep-alive ACK within 11.5 s of idleness",
        )),
    }
}

async fn silence(ctx: Ctx) -> CaseResult {
    let mut raw = Raw::open(&ctx, Stage::Authenticated).await?;
    raw.peer.note("silent from now on");
    let start = std::time::Instant::now();
    if raw.peer.expect_close(Duration::from_secs(24)).await {
        let after = start.elapsed().as_millis();
        if after < 15_000 {
            return Ok(Outcome::non_strict(
                &["IOCOM-7-2"],
                format!("dropped after {after} ms of silence (C: 20 s)"),
            ));
        }
        Ok(Outcome::pass(format!(
            "dropped after {} s of silence",
            after / 1000
        )))
    } else {
        Ok(Outcome::fail(
            &["IOCOM-7-2"],
            "still connected after 24 s without input",
        ))
    }
}

async fn wrong_number(ctx: Ctx) -> CaseResult {
    let net = ctx.settings().network.clone();
    let mut raw = Raw::open(&ctx, Stage::Authenticated).await?;
    raw.nr = 5;
    let info = wire::mbinfo(
        DEVICE,
        &net,
        "exp",
        BLOCK_SIZE as u32,
        super::session::EXP_FLAGS.0,
    );
    raw.send_frame(FrameFlags::SYSTEM, 8, 0, &info).await?;
    expect_drop_and_recovery(
        &ctx,
        &mut raw.peer,
        "IOCOM-4.7-2",
        "frame number 5 instead of 1",
    )
    .await
}

async fn bad_lead(ctx: Ctx) -> CaseResult {
    let mut raw = Raw::open(&ctx, Stage::Authenticated).await?;
    raw.send(&[0xC9, 0x20, 0x01, 0x00, 0x08, 0x00, 0x01])
        .await?;
    expect_drop_and_recovery(&ctx, &mut raw.peer, "IOCOM-5-2", "lead byte 0xC9").await
}

async fn first_not_zero(ctx: Ctx) -> CaseResult {
    let mut raw = Raw::open(&ctx, Stage::Handshake).await?;
    raw.wait(t(&ctx), |o| o.frames().any(|f| f.system == Some(2)))
        .await
        .map_err(|e| e.into_failure("IOCOM-8.5-1", "waiting for the authentication"))?;
    raw.nr = 1;
    raw.send_frame(FrameFlags::SYSTEM, 1392, 0, &auth_content(&ctx))
        .await?;
    expect_drop_and_recovery(&ctx, &mut raw.peer, "IOCOM-5-3", "first frame numbered 1").await
}

async fn oversize(ctx: Ctx) -> CaseResult {
    let mut raw = Raw::open(&ctx, Stage::Authenticated).await?;
    let mut bytes = vec![raw.nr, 0x00, 0xD0, 0x07, 0x08, 0x00];
    bytes.extend(pattern(5, 100));
    raw.send(&bytes).await?;
    expect_drop_and_recovery(
        &ctx,
        &mut raw.peer,
        "IOCOM-4.6-1",
        "DATA_SZ 2000 (content not sent)",
    )
    .await
}

async fn bad_zero_run(ctx: Ctx) -> CaseResult {
    let mut raw = Raw::open(&ctx, Stage::Bound).await?;
    let id = raw.exp_id;
    let mut bytes = vec![raw.nr, 0x12, 0x03, 0x00, id as u8, 0x00];
    if id > 0xFF {
        bytes = vec![raw.nr, 0x1A, 0x03, 0x00, id as u8, (id >> 8) as u8, 0x00];
    }
    bytes.extend([0x10, 0x01, 0x02]);
    raw.send(&bytes).await?;
    expect_drop_and_recovery(
        &ctx,
        &mut raw.peer,
        "IOCOM-11.7-1",
        "literal count 16 with 2 bytes of content",
    )
    .await
}

async fn addr_beyond(ctx: Ctx) -> CaseResult {
    let mut raw = Raw::open(&ctx, Stage::Bound).await?;
    let id = raw.exp_id;
    raw.send_frame(FrameFlags::SYNC, id, 2000, &[1]).await?;
    expect_drop_and_recovery(
        &ctx,
        &mut raw.peer,
        "IOCOM-11.7-2",
        "address 2000 in a 1024-byte block",
    )
    .await
}

async fn unknown_system(ctx: Ctx) -> CaseResult {
    let net = ctx.settings().network.clone();
    let mut raw = Raw::open(&ctx, Stage::Authenticated).await?;
    raw.send_frame(FrameFlags::SYSTEM, 0, 0, &[0x07, 0x01, 0x02, 0x03])
        .await?;
    let info = wire::mbinfo(
        DEVICE,
        &net,
        "exp",
        BLOCK_SIZE as u32,
        super::session::EXP_FLAGS.0,
    );
    raw.send_frame(FrameFlags::SYSTEM, 8, 0, &info).await?;
    match raw
        .wait(t(&ctx), |o| o.frames().any(|f| f.system == Some(1)))
        .await
    {
        Ok(()) => Ok(Outcome::pass("ignored; the following mbinfo was answered")),
        Err(e) => Ok(Outcome::fail(
            &["IOCOM-10.4-1"],
            format!("after an unknown system frame type: {e}"),
        )),
    }
}

async fn raw_handshake(ctx: Ctx, bytes: &[u8], clause: &'static str, what: &str) -> CaseResult {
    let mut raw = Raw::open(&ctx, Stage::Open).await?;
    raw.send(bytes).await?;
    expect_drop_and_recovery(&ctx, &mut raw.peer, clause, what).await
}

async fn garbage_handshake(ctx: Ctx) -> CaseResult {
    raw_handshake(
        ctx,
        b"GET / HTTP/1.0\r\n\r\n",
        "IOCOM-8.1-3",
        "HTTP request as handshake",
    )
    .await
}

async fn bad_handshake_role(ctx: Ctx) -> CaseResult {
    let net = ctx.settings().network.clone();
    let mut hs = wire::handshake(&net);
    hs[0] = 0x54;
    hs.extend(wire::ack(0));
    raw_handshake(ctx, &hs, "IOCOM-8.1-3", "handshake role 0x14").await
}

async fn handshake_len_zero(ctx: Ctx) -> CaseResult {
    raw_handshake(
        ctx,
        &[0x53, 0x00, 0xFF, 0, 0, 0],
        "IOCOM-8.1-5",
        "network length 0",
    )
    .await
}

async fn handshake_len_25(ctx: Ctx) -> CaseResult {
    let mut hs = vec![0x53, 25];
    hs.extend([b'n'; 24]);
    hs.push(0);
    hs.extend(wire::ack(0));
    raw_handshake(ctx, &hs, "IOCOM-8.1-5", "network length 25").await
}

/// Authentication content with free-form strings (for over-long names).
fn auth_bytes(user: &[u8], network: &[u8]) -> Vec<u8> {
    let mut c = vec![0x02, 0x12, user.len() as u8];
    c.extend_from_slice(user);
    c.push(0);
    c.extend([0xC0, 0x4F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    c.push(network.len() as u8);
    c.extend_from_slice(network);
    c.push(0);
    c
}

async fn bad_auth(ctx: Ctx, content: Vec<u8>, clause: &'static str, what: &str) -> CaseResult {
    let mut raw = Raw::open(&ctx, Stage::Handshake).await?;
    raw.wait(t(&ctx), |o| o.frames().any(|f| f.system == Some(2)))
        .await
        .map_err(|e| e.into_failure("IOCOM-8.5-1", "waiting for the authentication"))?;
    raw.send_frame(FrameFlags::SYSTEM, 1392, 0, &content)
        .await?;
    expect_drop_and_recovery(&ctx, &mut raw.peer, clause, what).await
}

async fn long_user(ctx: Ctx) -> CaseResult {
    let net = ctx.settings().network.clone();
    bad_auth(
        ctx,
        auth_bytes(&[b'u'; 26], net.as_bytes()),
        "IOCOM-9.4-1",
        "26-byte user name",
    )
    .await
}

async fn long_network(ctx: Ctx) -> CaseResult {
    bad_auth(
        ctx,
        auth_bytes(DEVICE.as_bytes(), &[b'n'; 24]),
        "IOCOM-9.4-2",
        "24-byte network name",
    )
    .await
}

async fn remove_17(ctx: Ctx) -> CaseResult {
    let mut raw = Raw::open(&ctx, Stage::Bound).await?;
    let mut c = vec![0x03];
    c.extend([0x01; 17]);
    raw.send_frame(FrameFlags::SYSTEM, 17, 0, &c).await?;
    expect_drop_and_recovery(
        &ctx,
        &mut raw.peer,
        "IOCOM-12-2",
        "remove request with 17 ids",
    )
    .await
}

async fn truncated_close(ctx: Ctx) -> CaseResult {
    let net = ctx.settings().network.clone();
    let mut raw = Raw::open(&ctx, Stage::Authenticated).await?;
    let f = wire::frame(
        raw.nr,
        FrameFlags::SYSTEM,
        8,
        0,
        &wire::mbinfo(DEVICE, &net, "exp", 1024, 0x0A),
    );
    raw.send(&f[..f.len() / 2]).await?;
    raw.peer.close().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    fresh_connection_works(&ctx).await?;
    Ok(Outcome::pass(
        "half a frame, then close; a new connection is served",
    ))
}

/// The account for the authorization cases; they only apply over TLS (§8.2, §9.4).
fn tls_account(ctx: &Ctx) -> Result<(String, String), Failure> {
    if !ctx.is_tls() {
        return Err(Failure(Outcome::unsupported(
            "authorization is only checked on TLS connections (§9.4); run with TLS",
        )));
    }
    ctx.settings().account.clone().ok_or_else(|| {
        Failure(Outcome::unsupported(
            "no account of the server was given (ferrocom conform --user NAME --password PW)",
        ))
    })
}

/// Authenticates as `user` with `password` and binds both blocks.
async fn authorized(ctx: &Ctx, user: &str, password: &str) -> Result<(), Failure> {
    let mut s = Session::device_as(ctx, user, password, None).await?;
    s.run_until(t(ctx), |s| s.authenticated() && s.bound() >= 2)
        .await
        .map_err(|e| e.fail("IOCOM-9.4-4", &format!("authorization as {user}")))?;
    s.peer.close().await;
    Ok(())
}

async fn tls_auth_accepted(ctx: Ctx) -> CaseResult {
    let (user, password) = tls_account(&ctx)?;
    authorized(&ctx, &user, &password).await?;
    Ok(Outcome::pass(format!(
        "{user} with its password: authorized, exp and imp bound"
    )))
}

async fn tls_auth_refused(ctx: Ctx) -> CaseResult {
    let (user, password) = tls_account(&ctx)?;
    let wrong = format!("{password}-not");
    let mut s = Session::device_as(&ctx, &user, &wrong, None).await?;
    s.peer.note("authenticating with a wrong password");
    match s.run_until(t(&ctx), |s| s.bound() >= 1).await {
        Ok(()) => {
            return Ok(Outcome::fail(
                &["IOCOM-9.4-4"],
                format!("{user} with a wrong password was authorized: a block was bound"),
            ));
        }
        Err(SessionError::Closed) => {}
        Err(SessionError::Timeout) => {
            return Ok(Outcome::fail(
                &["IOCOM-9.4-4"],
                "with a wrong password the connection stayed open (no binding, no close)",
            ));
        }
        Err(e) => return Err(e.fail("IOCOM-9.4-4", "authentication with a wrong password")),
    }
    authorized(&ctx, &user, &password).await?;
    Ok(Outcome::pass(
        "wrong password: closed without binding; the right password then works",
    ))
}
