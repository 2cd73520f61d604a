//! A hand-driven device connection: every byte crafted by the suite (through the codec
//! where the bytes are well formed), for malformed-input cases.

use std::time::{Duration, Instant};

use ferrocom_wire::iocom::FrameFlags;

use super::session::{BLOCK_SIZE, DEVICE, EXP_FLAGS, Session};
use super::wire::{self, Observer, Seen};
use crate::case::{Ctx, Failure, Outcome};
use crate::peer::{Peer, PeerError};

/// How far the raw connection gets before the crafted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Nothing sent yet (not even the handshake).
    Open,
    /// Handshake and first ACK sent.
    Handshake,
    /// Both authentication frames exchanged.
    Authenticated,
    /// `exp` announced and the target's reply received (its id in [`Raw::exp_id`]).
    Bound,
}

/// A raw device connection.
#[derive(Debug)]
pub struct Raw {
    /// Transport.
    pub peer: Peer,
    /// The target's stream.
    pub rx: Observer,
    /// Next frame number to send.
    pub nr: u8,
    /// The target's id of `exp` (after [`Stage::Bound`]).
    pub exp_id: u32,
    start: Instant,
}

impl Raw {
    /// Opens a connection and drives it to `stage`.
    pub async fn open(ctx: &Ctx, stage: Stage) -> Result<Raw, Failure> {
        let peer = ctx.open().await.map_err(|e| {
            Failure(Outcome::fail(
                &["IOCOM-4.7-4"],
                format!("cannot open a connection: {e}"),
            ))
        })?;
        let mut raw = Raw {
            peer,
            // Over TLS the server's stream starts with the mark byte (§8.1).
            rx: Observer::new(usize::from(ctx.is_tls())),
            nr: 0,
            exp_id: 0,
            start: Instant::now(),
        };
        let net = ctx.settings().network.clone();
        let t = ctx.settings().reply_timeout;
        if stage == Stage::Open {
            return Ok(raw);
        }
        let mut hs = wire::handshake(&net);
        hs.extend(wire::ack(0));
        raw.send(&hs).await?;
        if stage == Stage::Handshake {
            return Ok(raw);
        }
        raw.wait(t, |o| o.frames().any(|f| f.system == Some(2)))
            .await
            .map_err(|e| {
                e.into_failure("IOCOM-8.5-1", "waiting for the target's authentication")
            })?;
        let auth = auth_content(ctx);
        raw.send_frame(FrameFlags::SYSTEM, 1392, 0, &auth).await?;
        if stage == Stage::Authenticated {
            return Ok(raw);
        }
        let info = wire::mbinfo(DEVICE, &net, "exp", BLOCK_SIZE as u32, EXP_FLAGS.0);
        raw.send_frame(FrameFlags::SYSTEM, 8, 0, &info).await?;
        raw.wait(t, |o| {
            o.frames()
                .any(|f| f.system == Some(1) && f.info.as_ref().is_some_and(|i| i.0 == "exp"))
        })
        .await
        .map_err(|e| e.into_failure("IOCOM-8.5-3", "waiting for the mbinfo reply for exp"))?;
        raw.exp_id = raw
            .rx
            .frames()
            .find(|f| f.system == Some(1) && f.info.as_ref().is_some_and(|i| i.0 == "exp"))
            .map_or(0, |f| f.mblk);
        Ok(raw)
    }

    /// Sends bytes as they are.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        match self.peer.send(bytes).await {
            Ok(()) => Ok(()),
            Err(e) => Err(Failure(Outcome::fail(
                &["IOCOM-4.7-4"],
                format!("sending failed before the crafted input: {e}"),
            ))),
        }
    }

    /// Sends a well-formed numbered frame with the next number.
    pub async fn send_frame(
        &mut self,
        flags: FrameFlags,
        mblk: u32,
        addr: u32,
        content: &[u8],
    ) -> Result<(), Failure> {
        let f = wire::frame(self.nr, flags, mblk, addr, content);
        self.nr = if self.nr >= 200 { 1 } else { self.nr + 1 };
        self.send(&f).await
    }

    /// Reads until `done` holds on the observed stream.
    pub async fn wait(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Observer) -> bool,
    ) -> Result<(), PeerError> {
        let end = Instant::now() + timeout;
        while !done(&self.rx) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PeerError::Timeout);
            }
            let bytes = self.peer.recv(left).await?;
            let t = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(0);
            self.rx.feed(&bytes, t);
        }
        Ok(())
    }

    /// Any ACK seen so far.
    pub fn acks_seen(&self) -> usize {
        self.rx
            .items
            .iter()
            .filter(|i| matches!(i.seen, Seen::Ack(_)))
            .count()
    }
}

/// The authentication content of the suite's device `conform`: with the password of
/// the settings over TLS, without one on plain TCP (§8.2).
pub fn auth_content(ctx: &Ctx) -> Vec<u8> {
    let password = if ctx.is_tls() {
        ctx.settings().password.as_str()
    } else {
        ""
    };
    wire::device_auth(DEVICE, &ctx.settings().network, password)
}

/// Turns a wait error into a failure.
pub trait IntoFailure {
    /// The failure for goal `what` of `clause`.
    fn into_failure(self, clause: &'static str, what: &str) -> Failure;
}

impl IntoFailure for PeerError {
    fn into_failure(self, clause: &'static str, what: &str) -> Failure {
        Failure(Outcome::fail(&[clause], format!("{what}: {self}")))
    }
}

/// After crafted input: the target must close this connection and still serve a new
/// one. `clause` is the rule the input broke.
pub async fn expect_drop_and_recovery(
    ctx: &Ctx,
    peer: &mut Peer,
    clause: &'static str,
    what: &str,
) -> Result<Outcome, Failure> {
    let within = ctx.settings().reply_timeout;
    if !peer.expect_close(within).await {
        return Ok(Outcome::fail(
            &[clause],
            format!(
                "{what}: the target kept the connection open ({} ms)",
                within.as_millis()
            ),
        ));
    }
    fresh_connection_works(ctx).await?;
    Ok(Outcome::pass(format!(
        "{what}: the target dropped the connection and serves new ones"
    )))
}

/// A new connection authenticates and binds both blocks.
pub async fn fresh_connection_works(ctx: &Ctx) -> Result<(), Failure> {
    ctx.note("checking that the target still serves a new connection");
    let mut s = Session::device(ctx).await?;
    s.run_until(ctx.settings().reply_timeout, |s| {
        s.authenticated() && s.bound() >= 2
    })
    .await
    .map_err(|e| e.fail("IOCOM-4.7-4", "a new connection after the dropped one"))?;
    s.peer.close().await;
    Ok(())
}
