//! Cases for an Iotellect server (role `icp-server`): the suite connects as an agent
//! (`conform`), answers the server's Start as each case wants, answers `login` with the
//! MD5 of the challenge and the password from the settings, and refuses every other
//! operation with `D`.
//!
//! What a server does after Start is its own business; the suite sees it through the
//! server's answer to a Get of an unknown variable (a server that serves no operations
//! should still refuse it) and through whatever the server sends by itself (`login`,
//! a keep-alive Start). Cases with neither to look at report unsupported.

use std::time::{Duration, Instant};

use super::agent_cases::{
    BAD_ZLIB, broken_escape, check_compression, command_x, header, long_name, nesting_bomb_set,
    operation_z, with_kind, without_cr,
};
use super::link::{self, CR, Framing, Link, LinkError, NO_SUCH_VARIABLE, STX, body, get, reply};
use super::session::{
    Target, accept_start, expect_rejection, next_start, server_start, server_started,
};
use crate::case::{Case, CaseFuture, CaseResult, Ctx, Failure, Kind, Outcome, Role};
use crate::peer::PeerError;

macro_rules! case {
    ($id:literal, [$($c:literal),+], $kind:ident, $title:literal, $f:ident) => {
        Case {
            id: $id,
            clauses: &[$($c),+],
            role: Role::IcpServer,
            title: $title,
            kind: Kind::$kind,
            slow: false,
            run: |ctx| -> CaseFuture { Box::pin($f(ctx)) },
        }
    };
}

/// The server-role cases.
pub static CASES: &[Case] = &[
    case!(
        "ICP-S-1#s1",
        ["ICP-S-1", "ICP-S-5", "ICP-3.1", "ICP-4.1"],
        Normal,
        "The server sends Start first, in V2, proposing 4",
        start_first
    ),
    case!(
        "ICP-S-4#s1",
        ["ICP-S-4", "ICP-3.2", "ICP-3.2-1", "ICP-3.2-2", "ICP-3.2-5"],
        Normal,
        "After A/4 the server reads and writes V4 frames",
        switch_v4
    ),
    case!(
        "ICP-S-4#s2",
        ["ICP-S-4", "ICP-3.2"],
        Normal,
        "After A/3 the server reads and writes V3 frames",
        switch_v3
    ),
    case!(
        "ICP-S-5#s1",
        ["ICP-S-5", "ICP-S-1"],
        Normal,
        "The Start ladder: D to 4 and to 3, then Start 2 (all in V2), accepted",
        ladder
    ),
    case!(
        "ICP-S-3#s1",
        ["ICP-S-3"],
        Normal,
        "A Get before the server's Start was answered is refused with D",
        before_start
    ),
    case!(
        "ICP-S-6#s1",
        ["ICP-S-6", "ICP-3.2-3", "ICP-3.2-4"],
        Normal,
        "Compression (A/4/C): commands over 128 bytes zlib both ways, shorter ones raw",
        compression
    ),
    case!(
        "ICP-S-7#s1",
        ["ICP-S-7", "ICP-4.4", "ICP-4.3"],
        Normal,
        "Replies echo message ids (9, 3, 27 in one write); an event gets no reply",
        reply_ids
    ),
    case!(
        "ICP-S-9#s1",
        ["ICP-S-9"],
        Normal,
        "login: the right MD5 answer to the server's challenge keeps the link",
        login_right
    ),
    case!(
        "ICP-S-9#s2",
        ["ICP-S-9"],
        Normal,
        "login: a wrong answer to the server's challenge ends the link",
        login_wrong
    ),
    case!(
        "ICP-3.1-1#s1",
        ["ICP-3.1-1"],
        Malformed,
        "Garbage (with a CR) before the STX of the Start reply is skipped",
        garbage_before_stx
    ),
    case!(
        "ICP-3.1-1#s2",
        ["ICP-3.1-1", "ICP-3.1-2"],
        Malformed,
        "A new STX restarts the frame: an unfinished D, then A/4: the A counts",
        stx_restarts
    ),
    case!(
        "ICP-3.2-2#s1",
        ["ICP-3.2-2", "ICP-S-11"],
        Malformed,
        "V4 length 0x7FFFFFFF: refused from the header (drop or error), keeps serving",
        oversize
    ),
    case!(
        "ICP-3.2-2#s2",
        ["ICP-3.2-2", "ICP-S-11"],
        Malformed,
        "V4 length 0: drop or error, keeps serving",
        zero_length
    ),
    case!(
        "ICP-3.2-3#s1",
        ["ICP-3.2-3", "ICP-S-11"],
        Malformed,
        "V4 type byte 7: drop or error, keeps serving",
        unknown_type
    ),
    case!(
        "ICP-3.2-4#s1",
        ["ICP-3.2-4", "ICP-S-11"],
        Malformed,
        "V4 type 1 with a broken zlib stream: drop or error, keeps serving",
        bad_zlib
    ),
    case!(
        "ICP-3.2-5#s1",
        ["ICP-3.2-5", "ICP-S-11"],
        Malformed,
        "V4 frame ending in LF instead of CR: drop or error, keeps serving",
        missing_cr
    ),
    case!(
        "ICP-4-1#s1",
        ["ICP-4-1", "ICP-S-11"],
        Malformed,
        "Command letter X (neither M nor R): drop or error, keeps serving",
        unknown_command
    ),
    case!(
        "ICP-4-3#s1",
        ["ICP-4-3", "ICP-S-11"],
        Malformed,
        "Operation code Z: drop or error reply with the id, keeps serving",
        unknown_operation
    ),
    case!(
        "ICP-S-11#s1",
        ["ICP-S-11"],
        Malformed,
        "Broken escapes (a lone % in a table value and the queue): drop or refusal, keeps serving",
        broken_escapes
    ),
    case!(
        "ICP-S-11#s2",
        ["ICP-S-11"],
        Malformed,
        "Nesting bomb: a value nested 50 000 levels deep: drop or refusal, keeps serving",
        nesting_bomb
    ),
];

fn t(ctx: &Ctx) -> Duration {
    ctx.settings().reply_timeout
}

async fn start_first(ctx: Ctx) -> CaseResult {
    let (mut link, s) = server_start(&ctx).await?;
    let v = s.version.clone().unwrap_or_default();
    accept_start(&mut link, &s, 4.min(v.parse().unwrap_or(2)), false).await?;
    link.close().await;
    if s.framing != Framing::V2 {
        return Ok(Outcome::fail(&["ICP-S-1"], "Start not in V2 framing"));
    }
    match v.as_str() {
        "4" => Ok(Outcome::pass(format!("M/{}/S/4 in V2", s.id))),
        "3" | "2" | "" => Ok(Outcome::non_strict(
            &["ICP-S-5"],
            format!("the first Start proposes {v:?}, not 4"),
        )),
        other => Ok(Outcome::fail(
            &["ICP-S-1"],
            format!("the first Start proposes {other:?}"),
        )),
    }
}

/// What the server did after the switch: its answer to the probe, or (if it answers no
/// operations) the commands it sent by itself. `None`: nothing to look at.
async fn after_switch(link: &mut Link, seen_before: usize) -> Result<Option<String>, LinkError> {
    match link.probe().await {
        Ok((f, rep)) => Ok(Some(format!(
            "the probe was answered {} in a {:?} frame",
            rep.describe(),
            f.framing
        ))),
        Err(LinkError::Peer(PeerError::Timeout)) => {
            let n = link.frames.len().saturating_sub(seen_before);
            Ok((n > 0).then(|| format!("{n} commands of the server after the switch")))
        }
        Err(e) => Err(e),
    }
}

async fn switched(ctx: Ctx, version: u8) -> CaseResult {
    let (mut link, s) = server_start(&ctx).await?;
    accept_start(&mut link, &s, version, false).await?;
    let before = link.frames.len();
    let r = after_switch(&mut link, before).await;
    let frames: Vec<Framing> = link.frames[before..].iter().map(|f| f.framing).collect();
    link.close().await;
    match r {
        Err(e) => Err(e.fail("ICP-S-4", &format!("reading V{version} frames"))),
        Ok(None) => Ok(Outcome::unsupported(
            "the server neither answered a Get nor sent anything after Start",
        )),
        Ok(Some(how)) if frames.iter().all(|f| *f == Framing::Binary) => Ok(Outcome::pass(
            format!("A/{version} sent; {how}, every frame V{version}"),
        )),
        Ok(Some(how)) => Ok(Outcome::fail(
            &["ICP-S-4"],
            format!("{how}, not V{version}"),
        )),
    }
}

async fn switch_v4(ctx: Ctx) -> CaseResult {
    switched(ctx, 4).await
}

async fn switch_v3(ctx: Ctx) -> CaseResult {
    switched(ctx, 3).await
}

async fn ladder(ctx: Ctx) -> CaseResult {
    let (mut link, s) = server_start(&ctx).await?;
    let mut steps = Vec::new();
    let mut s = s;
    for expect in ["4", "3"] {
        let v = s.version.clone().unwrap_or_default();
        steps.push(format!("Start {v:?}"));
        if v != expect || s.framing != Framing::V2 {
            link.close().await;
            return Ok(Outcome::fail(
                &["ICP-S-5"],
                format!(
                    "{}: expected Start {expect} in V2, got {v:?} in {:?}",
                    steps.join(", "),
                    s.framing
                ),
            ));
        }
        link.send(&reply(&s.id, "D", vec![&b"not this version"[..]]))
            .await
            .map_err(|e| e.fail("ICP-S-5", "refusing Start"))?;
        steps.push("D".into());
        let t = link.t();
        s = next_start(&mut link, t).await.map_err(|Failure(o)| {
            Failure(Outcome::fail(
                &["ICP-S-5"],
                format!("after D to Start {expect}: {}", o.message),
            ))
        })?;
    }
    let v = s.version.clone().unwrap_or_default();
    steps.push(format!("Start {v:?}"));
    if !matches!(v.as_str(), "2" | "") || s.framing != Framing::V2 {
        link.close().await;
        return Ok(Outcome::fail(
            &["ICP-S-5"],
            format!("{}: expected Start 2 in V2", steps.join(", ")),
        ));
    }
    accept_start(&mut link, &s, 2, false).await?;
    steps.push("A/2".into());
    let before = link.frames.len();
    let r = after_switch(&mut link, before).await;
    let frames: Vec<Framing> = link.frames[before..].iter().map(|f| f.framing).collect();
    link.close().await;
    match r {
        Err(e) => Err(e.fail("ICP-S-5", "after A/2")),
        Ok(Some(how)) if frames.iter().any(|f| *f != Framing::V2) => Ok(Outcome::fail(
            &["ICP-S-4"],
            format!("{}; {how}, not all in V2", steps.join(", ")),
        )),
        Ok(how) => Ok(Outcome::pass(format!(
            "{}{}",
            steps.join(", "),
            how.map(|h| format!("; {h}")).unwrap_or_default()
        ))),
    }
}

async fn before_start(ctx: Ctx) -> CaseResult {
    let (mut link, s) = server_start(&ctx).await?;
    let r = link.probe().await;
    let (frame, rep) = match r {
        Ok(x) => x,
        Err(e) => {
            link.close().await;
            return Err(e.fail("ICP-S-3", "a Get before answering the server's Start"));
        }
    };
    accept_start(&mut link, &s, 4, false).await?;
    link.close().await;
    if rep.code != "D" || frame.framing != Framing::V2 {
        return Ok(Outcome::fail(
            &["ICP-S-3"],
            format!(
                "a Get before Start answered {} ({:?}), not D in V2",
                rep.describe(),
                frame.framing
            ),
        ));
    }
    Ok(Outcome::pass(format!("answered {}", rep.describe())))
}

async fn compression(ctx: Ctx) -> CaseResult {
    let mut link = server_started(&ctx, 4, true).await?;
    let before = link.frames.len();
    let short = link.probe().await;
    let id = link.id();
    let name = long_name();
    link.note("a Get longer than 128 bytes, compressed");
    let long = link.request(&get(&id, "", &name)).await;
    let answered = match (&short, &long) {
        (Ok(_), Ok(_)) => true,
        (Err(LinkError::Peer(PeerError::Timeout)), Err(LinkError::Peer(PeerError::Timeout))) => {
            false
        }
        (Ok(_), Err(LinkError::Peer(PeerError::Timeout))) => {
            link.close().await;
            return Ok(Outcome::fail(
                &["ICP-S-6"],
                "a short Get was answered, the compressed long one was not",
            ));
        }
        _ => {
            let e = match (short, long) {
                (Err(e), _) | (_, Err(e)) => e,
                _ => LinkError::Peer(PeerError::Timeout),
            };
            link.close().await;
            return Err(e.fail("ICP-S-6", "Gets with compression agreed"));
        }
    };
    // Give the server a moment for commands of its own (some send long ones).
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline
        && !link.frames[before..]
            .iter()
            .any(|f| f.body.len() > link::COMPRESS_ABOVE)
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match link.recv(left).await {
            Ok((_, c)) => link
                .respond(&c)
                .await
                .map_err(|e| e.fail("ICP-S-6", "answering the server"))?,
            Err(LinkError::Peer(PeerError::Timeout)) => break,
            Err(e) => return Err(e.fail("ICP-S-6", "reading the server's commands")),
        }
    }
    let checked = check_compression(&link, "the server");
    let seen = link.frames.len() - before;
    link.close().await;
    match checked {
        Err(o) => Ok(o),
        Ok(_) if !answered && seen == 0 => Ok(Outcome::unsupported(
            "the server answered no Get and sent nothing after Start",
        )),
        Ok(n) => Ok(Outcome::pass(format!(
            "{}{n} of the server's commands over 128 bytes came compressed, shorter ones raw",
            if answered {
                "a compressed Get was read; "
            } else {
                ""
            }
        ))),
    }
}

async fn reply_ids(ctx: Ctx) -> CaseResult {
    let mut link = server_started(&ctx, 4, false).await?;
    let ids = ["9", "3", "27"];
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let data = link::string_table("value", "1", 4, true);
    let event = ferrocom_wire::iotellect::Command {
        body: ferrocom_wire::iotellect::CommandBody::Message(ferrocom_wire::iotellect::Message {
            id: "",
            body: ferrocom_wire::iotellect::MessageBody::Event(ferrocom_wire::iotellect::Event {
                context: "",
                event: "conformEvent",
                level: 1,
                event_id: "1",
                listener: "",
                data: &data,
                created,
                server_id: None,
            }),
        }),
    };
    let mut bytes = link.frame(&body(&event));
    for id in ids {
        link.sent_id(id);
        bytes.extend(link.frame(&body(&get(id, "", NO_SUCH_VARIABLE))));
    }
    link.send_raw(&bytes)
        .await
        .map_err(|e| e.fail("ICP-S-7", "an event and three Gets in one write"))?;
    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + t(&ctx);
    let mut verdict = None;
    while seen.len() < ids.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match link.recv(left).await {
            Ok((_, link::Cmd::Reply(r))) => {
                if r.id.is_empty() {
                    verdict = Some(Outcome::fail(
                        &["ICP-S-7"],
                        format!("the event was answered: {}", r.describe()),
                    ));
                    break;
                }
                if !ids.contains(&r.id.as_str()) || seen.contains(&r.id) {
                    verdict = Some(Outcome::fail(
                        &["ICP-S-7"],
                        format!("reply {} does not echo a pending message id", r.describe()),
                    ));
                    break;
                }
                seen.push(r.id);
            }
            Ok((_, other)) => link
                .respond(&other)
                .await
                .map_err(|e| e.fail("ICP-S-7", "answering the server"))?,
            Err(LinkError::Peer(PeerError::Timeout)) if seen.is_empty() => {
                verdict = Some(Outcome::unsupported(
                    "the server answered none of the Gets (it may serve no operations)",
                ));
                break;
            }
            Err(e) => {
                link.close().await;
                return Err(e.fail("ICP-S-7", &format!("replies to 9, 3, 27 (got {seen:?})")));
            }
        }
    }
    link.close().await;
    Ok(verdict.unwrap_or_else(|| {
        Outcome::pass(format!(
            "replies came for {}; none for the event",
            seen.join(", ")
        ))
    }))
}

/// Waits for the server's `login` call after Start (answered by the link); `false` if
/// none came.
async fn await_login(link: &mut Link, within: Duration) -> Result<bool, LinkError> {
    let deadline = Instant::now() + within;
    while link.logins == 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match link.recv(left).await {
            Ok((_, c)) => link.respond(&c).await?,
            Err(LinkError::Peer(PeerError::Timeout)) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

async fn login_right(ctx: Ctx) -> CaseResult {
    if ctx.settings().icp_password.is_none() {
        return Ok(Outcome::unsupported(
            "no password for the suite's agent was given (--icp-password)",
        ));
    }
    let mut link = server_started(&ctx, 4, false).await?;
    let t = link.t();
    let called = await_login(&mut link, t)
        .await
        .map_err(|e| e.fail("ICP-S-9", "waiting for login"))?;
    if !called {
        link.close().await;
        return Ok(Outcome::unsupported("the server did not call login"));
    }
    let quiet = Duration::from_millis(500);
    let r = link.idle(quiet).await;
    link.close().await;
    match r {
        Ok(()) => Ok(Outcome::pass(format!(
            "login answered with the right MD5; the link stayed up for {} ms",
            quiet.as_millis()
        ))),
        Err(e) if e.is_closed() => Ok(Outcome::fail(
            &["ICP-S-9"],
            "the server closed the link after a right login answer",
        )),
        Err(e) => Err(e.fail("ICP-S-9", "after login")),
    }
}

async fn login_wrong(ctx: Ctx) -> CaseResult {
    let mut link = server_started(&ctx, 4, false).await?;
    link.wrong_login = true;
    let t = link.t();
    match await_login(&mut link, t).await {
        Ok(true) => {}
        Ok(false) => {
            link.close().await;
            return Ok(Outcome::unsupported("the server did not call login"));
        }
        Err(e) if e.is_closed() => {
            return Ok(Outcome::unsupported(
                "the server closed the link before calling login",
            ));
        }
        Err(e) => return Err(e.fail("ICP-S-9", "waiting for login")),
    }
    let closed = link.peer.expect_close(t).await;
    if closed {
        Ok(Outcome::pass("a wrong login answer ended the link"))
    } else {
        link.close().await;
        Ok(Outcome::fail(
            &["ICP-S-9"],
            "the link stayed up after a wrong login answer",
        ))
    }
}

// ---- malformed input ----------------------------------------------------------------

/// The Start reply after `prefix`, then what the server does: it must have read the
/// reply (and switched to V4).
async fn reply_after(ctx: Ctx, prefix: fn(&str) -> Vec<u8>, what: &str) -> CaseResult {
    let (mut link, s) = server_start(&ctx).await?;
    let mut bytes = prefix(&s.id);
    bytes.extend(link::v2_frame(&body(&reply(&s.id, "A", vec![&b"4"[..]]))));
    link.send_raw(&bytes)
        .await
        .map_err(|e| e.fail("ICP-3.1-1", what))?;
    link.switch(4, false);
    let before = link.frames.len();
    let r = after_switch(&mut link, before).await;
    link.close().await;
    match r {
        Ok(Some(how)) => Ok(Outcome::pass(format!("{what}: read; {how}"))),
        Ok(None) => Ok(Outcome::unsupported(format!(
            "{what}: the server neither answered a Get nor sent anything afterwards"
        ))),
        Err(LinkError::Bad { what: w, .. }) => Ok(Outcome::fail(
            &["ICP-3.1-1"],
            format!("{what}: the reply was not read as A/4 ({w})"),
        )),
        Err(e) => Err(e.fail("ICP-3.1-1", what)),
    }
}

async fn garbage_before_stx(ctx: Ctx) -> CaseResult {
    reply_after(
        ctx,
        |_| b"\x00\x7fHTTP/1.0 200 OK\r\n\x1b".to_vec(),
        "garbage before the Start reply",
    )
    .await
}

async fn stx_restarts(ctx: Ctx) -> CaseResult {
    // An unfinished refusal of the same Start: a server that did not restart at the
    // new STX would read `R/id/D/no␂R/id/A/4` as a refusal and propose 3.
    reply_after(
        ctx,
        |id| {
            let mut prefix = vec![STX];
            prefix.extend(body(&reply(id, "D", vec![&b"no"[..]])));
            prefix
        },
        "an unfinished D, then A/4",
    )
    .await
}

async fn v4_link(ctx: &Ctx) -> Result<(Link, String, Vec<u8>), Failure> {
    let mut link = server_started(ctx, 4, false).await?;
    let id = link.id();
    let b = body(&get(&id, "", NO_SUCH_VARIABLE));
    Ok((link, id, b))
}

async fn oversize(ctx: Ctx) -> CaseResult {
    let (link, _, b) = v4_link(&ctx).await?;
    let mut bytes = header(i32::MAX, 0);
    bytes.extend(&b);
    expect_rejection(
        &ctx,
        Target::Server,
        link,
        &bytes,
        None,
        &["ICP-3.2-2"],
        "a V4 header declaring 2 GiB",
    )
    .await
}

async fn zero_length(ctx: Ctx) -> CaseResult {
    let (link, _, _) = v4_link(&ctx).await?;
    expect_rejection(
        &ctx,
        Target::Server,
        link,
        &[STX, 0, 0, 0, 0, CR],
        None,
        &["ICP-3.2-2"],
        "a V4 frame of length 0",
    )
    .await
}

async fn unknown_type(ctx: Ctx) -> CaseResult {
    let (link, id, b) = v4_link(&ctx).await?;
    expect_rejection(
        &ctx,
        Target::Server,
        link,
        &with_kind(&b, 7),
        Some(&id),
        &["ICP-3.2-3"],
        "a V4 frame of type 7",
    )
    .await
}

async fn bad_zlib(ctx: Ctx) -> CaseResult {
    let (link, id, _) = v4_link(&ctx).await?;
    expect_rejection(
        &ctx,
        Target::Server,
        link,
        &with_kind(BAD_ZLIB, 1),
        Some(&id),
        &["ICP-3.2-4"],
        "a V4 frame of type 1 with a broken zlib stream",
    )
    .await
}

async fn missing_cr(ctx: Ctx) -> CaseResult {
    let (link, id, b) = v4_link(&ctx).await?;
    expect_rejection(
        &ctx,
        Target::Server,
        link,
        &without_cr(&b),
        Some(&id),
        &["ICP-3.2-5"],
        "a V4 frame ending in LF",
    )
    .await
}

async fn bad_command(
    ctx: Ctx,
    make: fn(&str) -> Vec<u8>,
    with_id: bool,
    clause: &'static str,
    what: &str,
) -> CaseResult {
    let mut link = server_started(&ctx, 4, false).await?;
    let id = link.id();
    let bytes = link.frame(&make(&id));
    expect_rejection(
        &ctx,
        Target::Server,
        link,
        &bytes,
        with_id.then_some(id.as_str()),
        &[clause],
        what,
    )
    .await
}

async fn unknown_command(ctx: Ctx) -> CaseResult {
    bad_command(ctx, command_x, false, "ICP-4-1", "command letter X").await
}

async fn unknown_operation(ctx: Ctx) -> CaseResult {
    bad_command(ctx, operation_z, true, "ICP-4-3", "operation code Z").await
}

async fn broken_escapes(ctx: Ctx) -> CaseResult {
    bad_command(
        ctx,
        broken_escape,
        true,
        "ICP-S-11",
        "lone % in a value and the queue",
    )
    .await
}

async fn nesting_bomb(ctx: Ctx) -> CaseResult {
    bad_command(
        ctx,
        nesting_bomb_set,
        true,
        "ICP-S-11",
        "a value nested 50 000 levels deep",
    )
    .await
}
