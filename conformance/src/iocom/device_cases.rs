//! Cases for an IOCOM device: the suite acts as a server (`conformsrv`, dynamic
//! blocks) and the device connects to it. Each case takes the device's next connection,
//! so the device must reconnect after a drop (a C device waits about 2 s).

use std::time::Duration;

use ferrocom_wire::iocom::{AuthFlags, ClientHandshake};

use super::session::Session;
use super::wire;
use crate::case::{Case, CaseFuture, CaseResult, Ctx, Failure, Kind, Outcome, Role};
use crate::peer::Peer;

macro_rules! case {
    ($id:literal, [$($c:literal),+], $kind:ident, $title:literal, $f:ident) => {
        Case {
            id: $id,
            clauses: &[$($c),+],
            role: Role::Device,
            title: $title,
            kind: Kind::$kind,
            slow: false,
            run: |ctx| -> CaseFuture { Box::pin($f(ctx)) },
        }
    };
}

/// The device-role cases.
pub static CASES: &[Case] = &[
    case!(
        "IOCOM-8.1-4#d1",
        ["IOCOM-8.1-4", "IOCOM-8.1-2", "IOCOM-8.1-5"],
        Normal,
        "The device's handshake: role 0x13, valid network name",
        handshake
    ),
    case!(
        "IOCOM-6.3-1#d1",
        ["IOCOM-6.3-1"],
        Normal,
        "The device's first write after the handshake is an ACK",
        first_ack
    ),
    case!(
        "IOCOM-8.5-1#d1",
        ["IOCOM-8.5-1", "IOCOM-9.3-1", "IOCOM-9.3-2"],
        Normal,
        "The device waits for the server's authentication, then sends its own with CONNECT_UP",
        waits_for_auth
    ),
    case!(
        "IOCOM-8.5-2#d1",
        ["IOCOM-8.5-2", "IOCOM-8.5-4", "IOCOM-11.2-1"],
        Normal,
        "mbinfo after authentication, no data before the reply, then key frames",
        announces_and_keys
    ),
    case!(
        "IOCOM-8.4-1#d1",
        ["IOCOM-8.4-1", "IOCOM-5-3"],
        Normal,
        "Reconnect: numbering restarts at 0 and key frames come again",
        reconnect
    ),
    case!(
        "IOCOM-4.7-2#d1",
        ["IOCOM-4.7-2", "IOCOM-4.7-4"],
        Malformed,
        "Wrong frame number from the server: the device drops and reconnects",
        wrong_number
    ),
];

fn t(ctx: &Ctx) -> Duration {
    ctx.settings().reply_timeout
}

async fn bound(ctx: &Ctx) -> Result<Session, Failure> {
    let mut s = Session::server(ctx).await?;
    s.run_until(t(ctx), |s| {
        s.authenticated() && s.bound() >= 1 && s.rx.frames().any(|f| f.is_data() && f.is_sync())
    })
    .await
    .map_err(|e| {
        e.fail(
            "IOCOM-8.5-2",
            "authentication, binding and a key frame from the device",
        )
    })?;
    Ok(s)
}

async fn handshake(ctx: Ctx) -> CaseResult {
    let mut s = Session::server(&ctx).await?;
    s.run_until(t(&ctx), |s| s.handshake.is_some())
        .await
        .map_err(|e| e.fail("IOCOM-8.1-4", "the device's handshake"))?;
    let hs = s.handshake.clone().unwrap_or_default();
    s.peer.close().await;
    match ClientHandshake::decode_exact(&hs) {
        Ok(h) if h.client_type.role == 0x13 => Ok(Outcome::pass(format!(
            "handshake {} (network {:?})",
            crate::peer::hex(&hs),
            h.network
        ))),
        Ok(h) => Ok(Outcome::fail(
            &["IOCOM-8.1-4"],
            format!("handshake role {:#04x}, expected 0x13", h.client_type.role),
        )),
        Err(e) => Ok(Outcome::fail(
            &[e.clause().unwrap_or("IOCOM-8.1-4")],
            format!("handshake {} does not decode: {e}", crate::peer::hex(&hs)),
        )),
    }
}

async fn first_ack(ctx: Ctx) -> CaseResult {
    let s = bound(&ctx).await?;
    let first = s.rx.items.first().map(|i| i.seen.clone());
    s.peer.close().await;
    match first {
        Some(wire::Seen::Ack(c)) => Ok(Outcome::pass(format!("first item: ACK {c}"))),
        other => Ok(Outcome::non_strict(
            &["IOCOM-6.3-1"],
            format!("first item is {other:?}, not an ACK"),
        )),
    }
}

async fn waits_for_auth(ctx: Ctx) -> CaseResult {
    let mut s = Session::server(&ctx).await?;
    s.hold = true;
    s.peer
        .note("holding the server's authentication for 500 ms");
    s.run_for(Duration::from_millis(500))
        .await
        .map_err(|e| e.fail("IOCOM-8.5-1", "waiting without authentication"))?;
    if let Some(f) = s.rx.frames().next() {
        return Ok(Outcome::fail(
            &["IOCOM-8.5-1"],
            format!(
                "the device sent frame {} before the server's authentication",
                f.nr
            ),
        ));
    }
    s.hold = false;
    s.run_until(t(&ctx), |s| s.rx.frames().any(|f| f.system == Some(2)))
        .await
        .map_err(|e| e.fail("IOCOM-8.5-1", "the device's authentication"))?;
    let auth = s.rx.frames().find(|f| f.system == Some(2)).cloned();
    s.peer.close().await;
    match auth.and_then(|f| f.info) {
        Some((_, _, _, flags)) if flags & u32::from(AuthFlags::CONNECT_UP.0) != 0 => Ok(
            Outcome::pass("nothing but ACKs before the server's authentication; CONNECT_UP set"),
        ),
        other => Ok(Outcome::fail(
            &["IOCOM-9.3-2"],
            format!("the device's authentication lacks CONNECT_UP: {other:?}"),
        )),
    }
}

async fn announces_and_keys(ctx: Ctx) -> CaseResult {
    let s = bound(&ctx).await?;
    let frames: Vec<_> = s.rx.frames().cloned().collect();
    let ours: Vec<u32> =
        s.tx.frames()
            .filter(|f| f.system == Some(1))
            .map(|f| f.mblk)
            .collect();
    s.peer.close().await;
    let first_data = frames.iter().position(|f| f.is_data());
    let last_info = frames.iter().rposition(|f| f.system == Some(1));
    if frames.get(1).and_then(|f| f.system) != Some(1) {
        return Ok(Outcome::fail(
            &["IOCOM-8.5-2"],
            "the frame after the device's authentication is not an mbinfo",
        ));
    }
    if let (Some(d), Some(i)) = (first_data, last_info)
        && d < i
        && !frames[..d].iter().any(|f| f.system == Some(1))
    {
        return Ok(Outcome::fail(&["IOCOM-8.5-4"], "data before any mbinfo"));
    }
    let bad = frames
        .iter()
        .filter(|f| f.is_data() && !ours.contains(&f.mblk))
        .count();
    if bad > 0 {
        return Ok(Outcome::fail(
            &["IOCOM-8.5-4"],
            format!("{bad} data frames for blocks the server has not described"),
        ));
    }
    if frames.iter().filter(|f| f.is_data()).any(|f| f.is_delta()) {
        return Ok(Outcome::fail(
            &["IOCOM-11.2-1"],
            "the first snapshot after binding is a delta, not a key frame",
        ));
    }
    Ok(Outcome::pass(format!(
        "{} mbinfo frames, key frames after the replies",
        frames.iter().filter(|f| f.system == Some(1)).count()
    )))
}

async fn reconnect(ctx: Ctx) -> CaseResult {
    let s = bound(&ctx).await?;
    s.peer.close().await;
    let s2 = bound(&ctx).await?;
    let err = s2.rx.numbering_error();
    s2.peer.close().await;
    match err {
        Some(e) => Ok(Outcome::fail(&["IOCOM-5-3"], e)),
        None => Ok(Outcome::pass("numbered from 0 again, key frames again")),
    }
}

async fn wrong_number(ctx: Ctx) -> CaseResult {
    let mut s = bound(&ctx).await?;
    let nr = s.next_tx_nr().wrapping_add(3).min(200);
    let net = ctx.settings().network.clone();
    let bad = wire::frame(
        nr,
        ferrocom_wire::iocom::FrameFlags::SYSTEM,
        8,
        0,
        &wire::mbinfo("x", &net, "y", 24, 1),
    );
    s.inject(&bad)
        .await
        .map_err(|e| e.fail("IOCOM-4.7-2", "injecting a wrongly numbered frame"))?;
    let mut peer: Peer = s.peer;
    if !peer.expect_close(t(&ctx)).await {
        return Ok(Outcome::fail(
            &["IOCOM-4.7-2"],
            format!("frame number {nr} accepted: the device kept the connection"),
        ));
    }
    let mut again = Session::server(&ctx).await.map_err(|_| {
        Failure(Outcome::fail(
            &["IOCOM-4.7-4"],
            "the device did not reconnect",
        ))
    })?;
    again
        .run_until(t(&ctx), |s| s.authenticated())
        .await
        .map_err(|e| e.fail("IOCOM-4.7-4", "the device's new connection"))?;
    Ok(Outcome::pass("dropped the connection and reconnected"))
}
