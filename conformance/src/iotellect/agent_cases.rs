//! Cases for an Iotellect agent (role `icp-agent`): the agent connects to the suite,
//! which plays the server: it sends Start, operations and listeners. Each case takes
//! the agent's next connection, so the agent must reconnect after a drop.
//!
//! Optional settings: the agent's password (`login`, ICP-S-9) and an event it fires
//! (listeners, ICP-S-10); without them those cases are unsupported.

use std::time::{Duration, Instant};

use super::link::{
    self, COMPRESS_ABOVE, CR, Cmd, Framing, Link, LinkError, NO_SUCH_FUNCTION, NO_SUCH_VARIABLE,
    STX, binary_frame, body, call, get, listener, set,
};
use super::session::{Target, accept_agent, agent_started, expect_rejection, send_start};
use crate::case::{Case, CaseFuture, CaseResult, Ctx, Failure, Kind, Outcome, Role};
use crate::peer::PeerError;

macro_rules! case {
    ($id:literal, [$($c:literal),+], $kind:ident, $title:literal, $f:ident) => {
        Case {
            id: $id,
            clauses: &[$($c),+],
            role: Role::IcpAgent,
            title: $title,
            kind: Kind::$kind,
            slow: false,
            run: |ctx| -> CaseFuture { Box::pin($f(ctx)) },
        }
    };
}

/// The agent-role cases.
pub static CASES: &[Case] = &[
    case!(
        "ICP-S-1#a1",
        ["ICP-S-1", "ICP-3.1", "ICP-4.1", "ICP-4.4"],
        Normal,
        "Start 4 in V2 is answered R/<id>/A/4 in V2 (with or without C)",
        start_4
    ),
    case!(
        "ICP-S-1#a2",
        ["ICP-S-1"],
        Normal,
        "Start 3 is answered A/3",
        start_3
    ),
    case!(
        "ICP-S-1#a3",
        ["ICP-S-1", "ICP-3.1"],
        Normal,
        "Start 2 is answered A/2 and the link stays in V2 framing",
        start_2
    ),
    case!(
        "ICP-S-1#a4",
        ["ICP-S-1"],
        Normal,
        "Start without a version means 2: answered A, V2 framing",
        start_empty
    ),
    case!(
        "ICP-S-2#a1",
        ["ICP-S-2", "ICP-S-5"],
        Normal,
        "Start 9 (unknown) is answered D; the next Start 4 is accepted",
        unknown_version
    ),
    case!(
        "ICP-S-3#a1",
        ["ICP-S-3"],
        Normal,
        "A Get before Start is answered D (in V2); Start works afterwards",
        before_start
    ),
    case!(
        "ICP-S-4#a1",
        ["ICP-S-4", "ICP-3.2", "ICP-3.2-1", "ICP-3.2-2", "ICP-3.2-5"],
        Normal,
        "After A/4 the agent reads V4 frames and writes them: a Get in V4 is answered in V4",
        switch_v4
    ),
    case!(
        "ICP-S-4#a2",
        ["ICP-S-4", "ICP-3.2"],
        Normal,
        "After A/3 a Get in a V3 frame is answered in a V3 frame",
        switch_v3
    ),
    case!(
        "ICP-S-6#a1",
        ["ICP-S-6", "ICP-3.2-3", "ICP-3.2-4"],
        Normal,
        "Compression: commands over 128 bytes zlib both ways, shorter ones raw",
        compression
    ),
    case!(
        "ICP-S-7#a1",
        ["ICP-S-7", "ICP-4.4"],
        Normal,
        "Replies echo message ids: Gets with ids 9, 3 and 27 in one write",
        reply_ids
    ),
    case!(
        "ICP-S-8#a1",
        ["ICP-S-8", "ICP-4.2.1", "ICP-4.2", "ICP-4"],
        Normal,
        "Getting an unknown variable is answered D",
        get_unknown
    ),
    case!(
        "ICP-S-8#a2",
        ["ICP-S-8", "ICP-4.2.2"],
        Normal,
        "Setting an unknown variable is answered D",
        set_unknown
    ),
    case!(
        "ICP-S-8#a3",
        ["ICP-S-8", "ICP-4.2.3"],
        Normal,
        "Calling an unknown function is answered D",
        call_unknown
    ),
    case!(
        "ICP-S-9#a1",
        ["ICP-S-9", "ICP-4.2.3"],
        Normal,
        "login: the response is the upper-case hex MD5 of challenge + password",
        login
    ),
    case!(
        "ICP-S-10#a1",
        [
            "ICP-S-10",
            "ICP-4.2.4",
            "ICP-4.3",
            "ICP-4.3-1",
            "ICP-4.3-2",
            "ICP-S-7"
        ],
        Normal,
        "Add listener: events with the listener code and an empty id; none after Remove",
        listeners
    ),
    case!(
        "ICP-3.1-1#a1",
        ["ICP-3.1-1"],
        Malformed,
        "Garbage (with a CR) before the STX of Start is skipped: Start is answered",
        garbage_before_stx
    ),
    case!(
        "ICP-3.1-1#a2",
        ["ICP-3.1-1", "ICP-3.1-2"],
        Malformed,
        "A new STX restarts the frame: an unfinished Get, then Start, answers only Start",
        stx_restarts
    ),
    case!(
        "ICP-3.2-2#a1",
        ["ICP-3.2-2", "ICP-S-11"],
        Malformed,
        "V4 length 0x7FFFFFFF: refused from the header (drop or error), keeps serving",
        oversize
    ),
    case!(
        "ICP-3.2-2#a2",
        ["ICP-3.2-2", "ICP-S-11"],
        Malformed,
        "V4 length 0: drop or error, keeps serving",
        zero_length
    ),
    case!(
        "ICP-3.2-3#a1",
        ["ICP-3.2-3", "ICP-S-11"],
        Malformed,
        "V4 type byte 7: drop or error, keeps serving",
        unknown_type
    ),
    case!(
        "ICP-3.2-4#a1",
        ["ICP-3.2-4", "ICP-S-11"],
        Malformed,
        "V4 type 1 with a broken zlib stream: drop or error, keeps serving",
        bad_zlib
    ),
    case!(
        "ICP-3.2-5#a1",
        ["ICP-3.2-5", "ICP-S-11"],
        Malformed,
        "V4 frame ending in LF instead of CR: drop or error, keeps serving",
        missing_cr
    ),
    case!(
        "ICP-4-1#a1",
        ["ICP-4-1", "ICP-S-11"],
        Malformed,
        "Command letter X (neither M nor R): drop or error, keeps serving",
        unknown_command
    ),
    case!(
        "ICP-4-2#a1",
        ["ICP-4-2", "ICP-S-11"],
        Malformed,
        "Message code Q: drop or error reply with the id, keeps serving",
        unknown_message_code
    ),
    case!(
        "ICP-4-3#a1",
        ["ICP-4-3", "ICP-S-11"],
        Malformed,
        "Operation code Z: drop or error reply with the id, keeps serving",
        unknown_operation
    ),
    case!(
        "ICP-S-11#a1",
        ["ICP-S-11"],
        Malformed,
        "Broken escapes (a lone % in a table value and the queue): drop or refusal, keeps serving",
        broken_escapes
    ),
    case!(
        "ICP-S-11#a2",
        ["ICP-S-11"],
        Malformed,
        "Nesting bomb: a value nested 50 000 levels deep: drop or refusal, keeps serving",
        nesting_bomb
    ),
];

fn t(ctx: &Ctx) -> Duration {
    ctx.settings().reply_timeout
}

async fn start_4(ctx: Ctx) -> CaseResult {
    let (link, s) = agent_started(&ctx, "4").await?;
    link.close().await;
    if s.framing != Framing::V2 {
        return Ok(Outcome::fail(
            &["ICP-S-4"],
            "the Start reply is not in V2 framing",
        ));
    }
    let extra_ok = match s.reply.params.len() {
        1 => true,
        2 => s.compression,
        _ => false,
    };
    if extra_ok {
        Ok(Outcome::pass(format!("answered {}", s.reply.describe())))
    } else {
        Ok(Outcome::fail(
            &["ICP-S-1"],
            format!(
                "answered {}: after the version only C may follow",
                s.reply.describe()
            ),
        ))
    }
}

async fn start_3(ctx: Ctx) -> CaseResult {
    let (link, s) = agent_started(&ctx, "3").await?;
    link.close().await;
    Ok(Outcome::pass(format!("answered {}", s.reply.describe())))
}

/// After Start 2 (or no version) the link stays V2: the probe and its reply are V2.
async fn stays_v2(mut link: Link, answered: String) -> CaseResult {
    let (frame, rep) = link
        .probe()
        .await
        .map_err(|e| e.fail("ICP-3.1", "a Get in V2 after Start 2"))?;
    link.close().await;
    if frame.framing != Framing::V2 {
        return Ok(Outcome::fail(&["ICP-3.1"], "reply not in V2 framing"));
    }
    Ok(Outcome::pass(format!(
        "answered {answered}; a Get in V2 was answered {} in V2",
        rep.describe()
    )))
}

async fn start_2(ctx: Ctx) -> CaseResult {
    let (link, s) = agent_started(&ctx, "2").await?;
    stays_v2(link, s.reply.describe()).await
}

async fn start_empty(ctx: Ctx) -> CaseResult {
    let mut link = accept_agent(&ctx).await?;
    let s = send_start(&mut link, None).await?;
    let v = s.reply.param(0);
    if s.reply.code != "A" || !matches!(v.as_deref(), None | Some("") | Some("2")) {
        link.close().await;
        return Ok(Outcome::fail(
            &["ICP-S-1"],
            format!(
                "Start without a version answered {}, not A with version 2",
                s.reply.describe()
            ),
        ));
    }
    link.switch(2, false);
    stays_v2(link, s.reply.describe()).await
}

async fn unknown_version(ctx: Ctx) -> CaseResult {
    let mut link = accept_agent(&ctx).await?;
    let s = send_start(&mut link, Some("9")).await?;
    if s.reply.code != "D" {
        link.close().await;
        return Ok(Outcome::fail(
            &["ICP-S-2"],
            format!("Start 9 answered {}, not D", s.reply.describe()),
        ));
    }
    let again = send_start(&mut link, Some("4")).await?;
    link.close().await;
    if again.reply.code != "A" {
        return Ok(Outcome::fail(
            &["ICP-S-5"],
            format!(
                "after D, Start 4 answered {} (a server's ladder needs it accepted)",
                again.reply.describe()
            ),
        ));
    }
    Ok(Outcome::pass(format!(
        "Start 9 answered {}, then Start 4 {}",
        s.reply.describe(),
        again.reply.describe()
    )))
}

async fn before_start(ctx: Ctx) -> CaseResult {
    let mut link = accept_agent(&ctx).await?;
    let (frame, rep) = link
        .probe()
        .await
        .map_err(|e| e.fail("ICP-S-3", "a Get before Start"))?;
    if rep.code != "D" || frame.framing != Framing::V2 {
        link.close().await;
        return Ok(Outcome::fail(
            &["ICP-S-3"],
            format!(
                "a Get before Start answered {} ({:?} framing), not D in V2",
                rep.describe(),
                frame.framing
            ),
        ));
    }
    let s = send_start(&mut link, Some("4")).await?;
    link.close().await;
    if s.reply.code != "A" {
        return Ok(Outcome::fail(
            &["ICP-S-1"],
            format!(
                "Start after the refused Get answered {}",
                s.reply.describe()
            ),
        ));
    }
    Ok(Outcome::pass(format!(
        "answered {} before Start, then {}",
        rep.describe(),
        s.reply.describe()
    )))
}

async fn switched(ctx: Ctx, version: &str) -> CaseResult {
    let (mut link, s) = agent_started(&ctx, version).await?;
    if s.framing != Framing::V2 {
        link.close().await;
        return Ok(Outcome::fail(
            &["ICP-S-4"],
            "the Start reply is not in V2 framing (the writer switches after it)",
        ));
    }
    let (frame, rep) = link
        .probe()
        .await
        .map_err(|e| e.fail("ICP-S-4", &format!("a Get in a V{version} frame")))?;
    link.close().await;
    if frame.framing != Framing::Binary {
        return Ok(Outcome::fail(&["ICP-S-4"], "reply not in V3/V4 framing"));
    }
    Ok(Outcome::pass(format!(
        "Start reply {} in V2, then {} in a V{version} frame",
        s.reply.describe(),
        rep.describe()
    )))
}

async fn switch_v4(ctx: Ctx) -> CaseResult {
    switched(ctx, "4").await
}

async fn switch_v3(ctx: Ctx) -> CaseResult {
    switched(ctx, "3").await
}

/// Checks the compression rule on every V3/V4 frame the target wrote; returns how many
/// long frames there were.
pub(super) fn check_compression(link: &Link, who: &str) -> Result<usize, Outcome> {
    let mut long = 0;
    for f in link.frames.iter().filter(|f| f.framing == Framing::Binary) {
        let n = f.body.len();
        if n > COMPRESS_ABOVE {
            long += 1;
        }
        match (n > COMPRESS_ABOVE, f.zlib) {
            (true, false) => {
                return Err(Outcome::fail(
                    &["ICP-S-6"],
                    format!("{who} sent a {n}-byte command raw, though compression was agreed"),
                ));
            }
            (false, true) => {
                return Err(Outcome::fail(
                    &["ICP-S-6"],
                    format!("{who} compressed a {n}-byte command (128 bytes or less go raw)"),
                ));
            }
            _ => {}
        }
    }
    Ok(long)
}

/// A Get whose variable name makes the command longer than 128 bytes.
pub(super) fn long_name() -> String {
    format!("{NO_SUCH_VARIABLE}{}", "X".repeat(140))
}

async fn compression(ctx: Ctx) -> CaseResult {
    let (mut link, s) = agent_started(&ctx, "4").await?;
    if !s.compression {
        link.close().await;
        return Ok(Outcome::unsupported(format!(
            "the agent does not ask for compression ({})",
            s.reply.describe()
        )));
    }
    link.probe()
        .await
        .map_err(|e| e.fail("ICP-S-6", "a short Get, raw"))?;
    let id = link.id();
    let name = long_name();
    link.note("a Get longer than 128 bytes, compressed");
    link.request(&get(&id, "", &name))
        .await
        .map_err(|e| e.fail("ICP-S-6", "a Get longer than 128 bytes, compressed"))?;
    let checked = check_compression(&link, "the agent");
    link.close().await;
    match checked {
        Err(o) => Ok(o),
        Ok(0) => Ok(Outcome::pass(
            "a compressed Get was read; the agent's replies were all 128 bytes or less and raw",
        )),
        Ok(n) => Ok(Outcome::pass(format!(
            "a compressed Get was read; {n} replies over 128 bytes came compressed, shorter ones raw"
        ))),
    }
}

async fn reply_ids(ctx: Ctx) -> CaseResult {
    let (mut link, _) = agent_started(&ctx, "4").await?;
    let ids = ["9", "3", "27"];
    let mut bytes = Vec::new();
    for id in ids {
        link.sent_id(id);
        bytes.extend(link.frame(&body(&get(id, "", NO_SUCH_VARIABLE))));
    }
    link.send_raw(&bytes)
        .await
        .map_err(|e| e.fail("ICP-S-7", "three Gets in one write"))?;
    let mut seen = Vec::new();
    let deadline = Instant::now() + t(&ctx);
    while seen.len() < ids.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match link.recv(left).await {
            Ok((_, Cmd::Reply(r))) => {
                if !ids.contains(&r.id.as_str()) || seen.contains(&r.id) {
                    link.close().await;
                    return Ok(Outcome::fail(
                        &["ICP-S-7"],
                        format!("reply {} does not echo a pending message id", r.describe()),
                    ));
                }
                seen.push(r.id);
            }
            Ok((_, other)) => link
                .respond(&other)
                .await
                .map_err(|e| e.fail("ICP-S-7", "answering the agent"))?,
            Err(e) => {
                link.close().await;
                return Err(e.fail("ICP-S-7", &format!("replies to 9, 3, 27 (got {seen:?})")));
            }
        }
    }
    link.close().await;
    Ok(Outcome::pass(format!(
        "replies came for {}",
        seen.join(", ")
    )))
}

async fn expect_denied(
    ctx: &Ctx,
    clause: &'static str,
    what: &str,
    make: impl FnOnce(&str, u8) -> Vec<u8>,
) -> CaseResult {
    let (mut link, _) = agent_started(ctx, "4").await?;
    let id = link.id();
    link.sent_id(&id);
    let bytes = link.frame(&make(&id, link.version));
    link.send_raw(&bytes)
        .await
        .map_err(|e| e.fail(clause, what))?;
    let t = link.t();
    let (_, rep) = link
        .wait_reply(&id, t)
        .await
        .map_err(|e| e.fail(clause, what))?;
    link.close().await;
    if rep.code == "D" {
        Ok(Outcome::pass(format!("{what}: {}", rep.describe())))
    } else {
        Ok(Outcome::fail(
            &["ICP-S-8"],
            format!("{what}: answered {}, not D", rep.describe()),
        ))
    }
}

async fn get_unknown(ctx: Ctx) -> CaseResult {
    expect_denied(&ctx, "ICP-S-8", "Get of an unknown variable", |id, _| {
        body(&get(id, "", NO_SUCH_VARIABLE))
    })
    .await
}

async fn set_unknown(ctx: Ctx) -> CaseResult {
    expect_denied(&ctx, "ICP-S-8", "Set of an unknown variable", |id, v| {
        let table = link::string_table("value", "x", v, true);
        body(&set(id, "", NO_SUCH_VARIABLE, &table))
    })
    .await
}

async fn call_unknown(ctx: Ctx) -> CaseResult {
    expect_denied(&ctx, "ICP-S-8", "Call of an unknown function", |id, v| {
        let table = link::string_table("value", "x", v, true);
        body(&call(id, "", NO_SUCH_FUNCTION, &table, None))
    })
    .await
}

async fn login(ctx: Ctx) -> CaseResult {
    let Some(password) = ctx.settings().icp_password.clone() else {
        return Ok(Outcome::unsupported(
            "the agent's password was not given (--icp-password)",
        ));
    };
    let (mut link, _) = agent_started(&ctx, "4").await?;
    let challenge = "c0nf0rm-ch4llenge";
    let id = link.id();
    let input = link::string_table("challenge", challenge, link.version, false);
    let (_, rep) = link
        .request(&call(&id, "", "login", &input, None))
        .await
        .map_err(|e| e.fail("ICP-S-9", "login"))?;
    link.close().await;
    if rep.code != "A" {
        return Ok(Outcome::fail(
            &["ICP-S-9"],
            format!("login answered {}", rep.describe()),
        ));
    }
    let expected = link::login_response(challenge, &password);
    let table = rep.params.first().cloned().unwrap_or_default();
    let response = link::read_field(&table, 4, &link::login_output_format(), "response");
    match response {
        Some(r) if r == expected => Ok(Outcome::pass(format!("response {r}"))),
        Some(r) if r.eq_ignore_ascii_case(&expected) => Ok(Outcome::non_strict(
            &["ICP-S-9"],
            format!("response {r} is the MD5 in lower case (the SDK writes upper case)"),
        )),
        Some(r) => Ok(Outcome::fail(
            &["ICP-S-9"],
            format!("response {r}, expected {expected}"),
        )),
        None => Ok(Outcome::fail(
            &["ICP-S-9"],
            format!("login reply {} holds no response field", rep.describe()),
        )),
    }
}

/// The code the suite's listener uses.
const LISTENER: &str = "4711";

async fn listeners(ctx: Ctx) -> CaseResult {
    let Some((context, event)) = ctx.settings().icp_event.clone() else {
        return Ok(Outcome::unsupported(
            "no event of the agent was given (--icp-event)",
        ));
    };
    let (mut link, _) = agent_started(&ctx, "4").await?;
    let id = link.id();
    let (_, rep) = link
        .request(&listener(&id, true, &context, &event, LISTENER))
        .await
        .map_err(|e| e.fail("ICP-S-10", "Add listener"))?;
    if rep.code != "A" {
        link.close().await;
        return Ok(Outcome::fail(
            &["ICP-S-10"],
            format!("Add listener answered {}", rep.describe()),
        ));
    }
    let deadline = Instant::now() + t(&ctx) * 2;
    let ours = |l: &Link| {
        l.events
            .iter()
            .filter(|e| e.listener == LISTENER && e.event == event)
            .count()
    };
    while ours(&link) == 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match link.recv(left).await {
            Ok((_, c)) => link
                .respond(&c)
                .await
                .map_err(|e| e.fail("ICP-S-10", "waiting for an event"))?,
            Err(LinkError::Peer(PeerError::Timeout)) => {
                link.close().await;
                return Ok(Outcome::unsupported(format!(
                    "the agent accepted the listener but fired no {event} event within {} ms",
                    (t(&ctx) * 2).as_millis()
                )));
            }
            Err(e) => {
                link.close().await;
                return Err(e.fail("ICP-S-10", "waiting for an event"));
            }
        }
    }
    if let Some(e) = link
        .events
        .iter()
        .find(|e| !(0..=5).contains(&e.level))
        .cloned()
    {
        link.close().await;
        return Ok(Outcome::fail(
            &["ICP-4.3-1"],
            format!("event {} has level {} (0 to 5)", e.event, e.level),
        ));
    }
    if let Some(e) = link.events.iter().find(|e| e.created < 0).cloned() {
        link.close().await;
        return Ok(Outcome::fail(
            &["ICP-4.3-2"],
            format!(
                "event {} was created at {} ms, before 1970",
                e.event, e.created
            ),
        ));
    }
    if let Some(e) = link.events.iter().find(|e| !e.id.is_empty()).cloned() {
        link.close().await;
        return Ok(Outcome::fail(
            &["ICP-S-7"],
            format!("event {} carries message id {:?}", e.event, e.id),
        ));
    }
    let id = link.id();
    let (_, rep) = link
        .request(&listener(&id, false, &context, &event, LISTENER))
        .await
        .map_err(|e| e.fail("ICP-S-10", "Remove listener"))?;
    let before = ours(&link);
    let quiet = Duration::from_millis(600).min(t(&ctx));
    link.idle(quiet)
        .await
        .map_err(|e| e.fail("ICP-S-10", "after Remove listener"))?;
    let after = ours(&link) - before;
    link.close().await;
    if rep.code != "A" {
        return Ok(Outcome::fail(
            &["ICP-S-10"],
            format!("Remove listener answered {}", rep.describe()),
        ));
    }
    if after > 0 {
        return Ok(Outcome::fail(
            &["ICP-S-10"],
            format!("{after} events for listener {LISTENER} after Remove listener was answered"),
        ));
    }
    Ok(Outcome::pass(format!(
        "{before} events for listener {LISTENER}, none in the {} ms after Remove",
        quiet.as_millis()
    )))
}

// ---- malformed input ----------------------------------------------------------------

async fn garbage_before_stx(ctx: Ctx) -> CaseResult {
    let mut link = accept_agent(&ctx).await?;
    let id = link.id();
    let mut bytes = b"\x00\x7fGET / HTTP/1.0\r\n\x1b".to_vec();
    bytes.extend(link::v2_frame(&body(&link::start(&id, Some("4")))));
    link.sent_id(&id);
    link.send_raw(&bytes)
        .await
        .map_err(|e| e.fail("ICP-3.1-1", "garbage, then Start"))?;
    let t = link.t();
    let r = link.wait_reply(&id, t).await;
    link.close().await;
    match r {
        Ok((_, rep)) if rep.code == "A" => Ok(Outcome::pass(format!(
            "the garbage was skipped: {}",
            rep.describe()
        ))),
        Ok((_, rep)) => Ok(Outcome::fail(
            &["ICP-3.1-1"],
            format!("Start after garbage answered {}", rep.describe()),
        )),
        Err(e) => Err(e.fail("ICP-3.1-1", "Start after garbage")),
    }
}

async fn stx_restarts(ctx: Ctx) -> CaseResult {
    let mut link = accept_agent(&ctx).await?;
    let id = link.id();
    // An unfinished Get with the same id: if it were not dropped at the new STX, the
    // agent would read one command `M/1/O/G//x␂M/1/S/4` and refuse it.
    let mut bytes = vec![STX];
    bytes.extend(body(&get(&id, "", NO_SUCH_VARIABLE)));
    bytes.extend(link::v2_frame(&body(&link::start(&id, Some("4")))));
    link.sent_id(&id);
    link.send_raw(&bytes)
        .await
        .map_err(|e| e.fail("ICP-3.1-1", "an unfinished Get, then Start"))?;
    let t = link.t();
    let r = link.wait_reply(&id, t).await;
    match r {
        Ok((_, rep)) if rep.code == "A" && rep.param(0).as_deref() == Some("4") => {
            link.switch(4, rep.params.get(1).is_some_and(|c| c == b"C"));
            // Only one reply: nothing may answer the dropped Get.
            let extra = link.recv(Duration::from_millis(300)).await;
            link.close().await;
            match extra {
                Ok((_, Cmd::Reply(r))) => Ok(Outcome::fail(
                    &["ICP-3.1-1"],
                    format!("a second reply {} to the unfinished frame", r.describe()),
                )),
                _ => Ok(Outcome::pass(format!(
                    "the unfinished frame was dropped: {}",
                    rep.describe()
                ))),
            }
        }
        Ok((_, rep)) => {
            link.close().await;
            Ok(Outcome::fail(
                &["ICP-3.1-1"],
                format!(
                    "answered {}: the unfinished frame was not dropped at the new STX",
                    rep.describe()
                ),
            ))
        }
        Err(e) => {
            link.close().await;
            Err(e.fail("ICP-3.1-1", "an unfinished Get, then Start"))
        }
    }
}

/// A started V4 link and the body of a Get with a fresh id, for hand-made frames.
async fn v4_with_get(ctx: &Ctx) -> Result<(Link, String, Vec<u8>), Failure> {
    let (mut link, _) = agent_started(ctx, "4").await?;
    let id = link.id();
    let b = body(&get(&id, "", NO_SUCH_VARIABLE));
    Ok((link, id, b))
}

/// A V4 header: STX, big-endian length, type byte.
pub(super) fn header(len: i32, kind: u8) -> Vec<u8> {
    let mut v = vec![STX];
    v.extend(len.to_be_bytes());
    v.push(kind);
    v
}

async fn oversize(ctx: Ctx) -> CaseResult {
    let (link, _, b) = v4_with_get(&ctx).await?;
    let mut bytes = header(i32::MAX, 0);
    bytes.extend(&b);
    expect_rejection(
        &ctx,
        Target::Agent,
        link,
        &bytes,
        None,
        &["ICP-3.2-2"],
        "a V4 header declaring 2 GiB",
    )
    .await
}

async fn zero_length(ctx: Ctx) -> CaseResult {
    let (link, _, _) = v4_with_get(&ctx).await?;
    let bytes = [STX, 0, 0, 0, 0, CR];
    expect_rejection(
        &ctx,
        Target::Agent,
        link,
        &bytes,
        None,
        &["ICP-3.2-2"],
        "a V4 frame of length 0",
    )
    .await
}

pub(super) fn with_kind(b: &[u8], kind: u8) -> Vec<u8> {
    let mut bytes = header(i32::try_from(b.len() + 1).unwrap_or(i32::MAX), kind);
    bytes.extend(b);
    bytes.push(CR);
    bytes
}

async fn unknown_type(ctx: Ctx) -> CaseResult {
    let (link, id, b) = v4_with_get(&ctx).await?;
    let bytes = with_kind(&b, 7);
    expect_rejection(
        &ctx,
        Target::Agent,
        link,
        &bytes,
        Some(&id),
        &["ICP-3.2-3"],
        "a V4 frame of type 7",
    )
    .await
}

/// A zlib header followed by bytes that are no deflate stream.
pub(super) const BAD_ZLIB: &[u8] = &[0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0x00, 0x13, 0x37];

async fn bad_zlib(ctx: Ctx) -> CaseResult {
    let (link, id, _) = v4_with_get(&ctx).await?;
    let bytes = with_kind(BAD_ZLIB, 1);
    expect_rejection(
        &ctx,
        Target::Agent,
        link,
        &bytes,
        Some(&id),
        &["ICP-3.2-4"],
        "a V4 frame of type 1 with a broken zlib stream",
    )
    .await
}

pub(super) fn without_cr(b: &[u8]) -> Vec<u8> {
    let mut bytes = binary_frame(b, false);
    if let Some(last) = bytes.last_mut() {
        *last = b'\n';
    }
    bytes
}

async fn missing_cr(ctx: Ctx) -> CaseResult {
    let (link, id, b) = v4_with_get(&ctx).await?;
    let bytes = without_cr(&b);
    expect_rejection(
        &ctx,
        Target::Agent,
        link,
        &bytes,
        Some(&id),
        &["ICP-3.2-5"],
        "a V4 frame ending in LF",
    )
    .await
}

/// `parts` joined by the separator: a command the codec would refuse to build.
pub(super) fn parts(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&0x17u8)
}

async fn framed_bad_command(
    ctx: Ctx,
    make: fn(&str) -> Vec<u8>,
    clause: &'static str,
    what: &str,
) -> CaseResult {
    let (mut link, _) = agent_started(&ctx, "4").await?;
    let id = link.id();
    let bytes = link.frame(&make(&id));
    expect_rejection(
        &ctx,
        Target::Agent,
        link,
        &bytes,
        Some(&id),
        &[clause],
        what,
    )
    .await
}

pub(super) fn command_x(id: &str) -> Vec<u8> {
    parts(&[
        b"X",
        id.as_bytes(),
        b"O",
        b"G",
        b"",
        NO_SUCH_VARIABLE.as_bytes(),
    ])
}

pub(super) fn message_q(id: &str) -> Vec<u8> {
    parts(&[b"M", id.as_bytes(), b"Q", b"x"])
}

pub(super) fn operation_z(id: &str) -> Vec<u8> {
    parts(&[
        b"M",
        id.as_bytes(),
        b"O",
        b"Z",
        b"",
        NO_SUCH_VARIABLE.as_bytes(),
    ])
}

/// A call whose input table value and queue end in a lone `%`.
pub(super) fn broken_escape(id: &str) -> Vec<u8> {
    parts(&[
        b"M",
        id.as_bytes(),
        b"O",
        b"C",
        b"",
        NO_SUCH_FUNCTION.as_bytes(),
        b"\x1cR\x1e\x1cx%\x1d\x1d",
        b"q%",
    ])
}

async fn unknown_command(ctx: Ctx) -> CaseResult {
    // No readable id: the reply, if any, may carry any id.
    let (mut link, _) = agent_started(&ctx, "4").await?;
    let id = link.id();
    let bytes = link.frame(&command_x(&id));
    expect_rejection(
        &ctx,
        Target::Agent,
        link,
        &bytes,
        None,
        &["ICP-4-1"],
        "command letter X",
    )
    .await
}

async fn unknown_message_code(ctx: Ctx) -> CaseResult {
    framed_bad_command(ctx, message_q, "ICP-4-2", "message code Q").await
}

async fn unknown_operation(ctx: Ctx) -> CaseResult {
    framed_bad_command(ctx, operation_z, "ICP-4-3", "operation code Z").await
}

async fn broken_escapes(ctx: Ctx) -> CaseResult {
    framed_bad_command(
        ctx,
        broken_escape,
        "ICP-S-11",
        "lone % in a value and the queue",
    )
    .await
}

/// Levels of the nesting bomb.
pub(super) const BOMB_DEPTH: usize = 50_000;

/// A Set whose value is nested [`BOMB_DEPTH`] levels deep.
pub(super) fn nesting_bomb_set(id: &str) -> Vec<u8> {
    let mut table = b"\x1cR\x1e".to_vec();
    table.extend(std::iter::repeat_n(0x1C, BOMB_DEPTH));
    table.extend(std::iter::repeat_n(0x1D, BOMB_DEPTH + 1));
    body(&set(id, "", NO_SUCH_VARIABLE, &table))
}

async fn nesting_bomb(ctx: Ctx) -> CaseResult {
    framed_bad_command(
        ctx,
        nesting_bomb_set,
        "ICP-S-11",
        "a value nested 50 000 levels deep",
    )
    .await
}
