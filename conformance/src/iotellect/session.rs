//! Starting a link in either role, and the common judgement of malformed input: an
//! error reply or a dropped connection, then the target must still serve a good
//! connection.

use std::time::{Duration, Instant};

use super::link::{Cmd, Framing, Link, LinkError, Rep, SuiteSide, reply, start};
use crate::case::{Ctx, Failure, Outcome};
use crate::peer::PeerError;

/// The role of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An agent that connects to the suite (the suite is the server).
    Agent,
    /// A server the suite connects to (the suite is an agent).
    Server,
}

fn failure(clauses: &[&'static str], message: impl Into<String>) -> Failure {
    Failure(Outcome::fail(clauses, message))
}

/// The suite's agent side, with the password from the settings.
pub fn suite_agent(ctx: &Ctx) -> SuiteSide {
    SuiteSide::Agent {
        password: ctx.settings().icp_password.clone().unwrap_or_default(),
    }
}

/// What the agent answered to a Start.
#[derive(Debug, Clone)]
pub struct Started {
    /// The reply.
    pub reply: Rep,
    /// Its framing.
    pub framing: Framing,
    /// The agent asked for compression (`C`).
    pub compression: bool,
}

/// Accepts the agent's next connection (the suite is the server).
pub async fn accept_agent(ctx: &Ctx) -> Result<Link, Failure> {
    Link::open(ctx, SuiteSide::Server)
        .await
        .map_err(|e| e.fail("ICP-S-1", "accepting the agent's connection"))
}

/// Sends Start proposing `version` (`None`: no version part) and reads the answer;
/// on `A` the link switches to the accepted version.
pub async fn send_start(link: &mut Link, version: Option<&str>) -> Result<Started, Failure> {
    let id = link.id();
    let (frame, rep) = link
        .request(&start(&id, version))
        .await
        .map_err(|e| e.fail("ICP-S-1", "the agent's answer to Start"))?;
    let compression = rep.params.get(1).is_some_and(|c| c == b"C");
    if rep.code == "A" {
        let v = match rep.param(0).as_deref() {
            Some("4") => 4,
            Some("3") => 3,
            _ => 2,
        };
        link.switch(v, compression);
    }
    Ok(Started {
        reply: rep,
        framing: frame.framing,
        compression,
    })
}

/// Accepts the agent's next connection and starts it with `version`; the answer must
/// be `A`.
pub async fn agent_started(ctx: &Ctx, version: &str) -> Result<(Link, Started), Failure> {
    let mut link = accept_agent(ctx).await?;
    let s = send_start(&mut link, Some(version)).await?;
    if s.reply.code != "A" || s.reply.param(0).as_deref() != Some(version) {
        return Err(failure(
            &["ICP-S-1"],
            format!(
                "Start {version} answered {}, not A/{version}",
                s.reply.describe()
            ),
        ));
    }
    Ok((link, s))
}

/// The server's Start as the suite's agent received it.
#[derive(Debug, Clone)]
pub struct ServerStart {
    /// Message id.
    pub id: String,
    /// Proposed version (`None`: no version part).
    pub version: Option<String>,
    /// Framing it came in.
    pub framing: Framing,
}

/// Connects to the server and reads its first command, which must be Start.
pub async fn server_start(ctx: &Ctx) -> Result<(Link, ServerStart), Failure> {
    let mut link = Link::open(ctx, suite_agent(ctx))
        .await
        .map_err(|e| e.fail("ICP-S-1", "connecting to the server"))?;
    let t = link.t();
    let s = next_start(&mut link, t).await?;
    Ok((link, s))
}

/// The next command of the server, which must be Start.
pub async fn next_start(link: &mut Link, within: Duration) -> Result<ServerStart, Failure> {
    let (frame, cmd) = link
        .recv(within)
        .await
        .map_err(|e| e.fail("ICP-S-1", "waiting for the server's Start"))?;
    match cmd {
        Cmd::Start { id, version } => Ok(ServerStart {
            id,
            version,
            framing: frame.framing,
        }),
        other => Err(failure(
            &["ICP-S-1"],
            format!("the server sent {other:?} where Start was due"),
        )),
    }
}

/// Answers the server's Start with `A/<version>[/C]` in V2 and switches.
pub async fn accept_start(
    link: &mut Link,
    s: &ServerStart,
    version: u8,
    compression: bool,
) -> Result<(), Failure> {
    let v = version.to_string();
    let mut params: Vec<&[u8]> = vec![v.as_bytes()];
    if compression {
        params.push(b"C");
    }
    link.send(&reply(&s.id, "A", params))
        .await
        .map_err(|e| e.fail("ICP-S-1", "answering the server's Start"))?;
    // The receiver of Start switches its parser at once and its writer after the reply.
    link.switch(version, compression);
    Ok(())
}

/// Connects to the server and accepts its Start 4 (or whatever version it proposes
/// first) with `version`.
pub async fn server_started(ctx: &Ctx, version: u8, compression: bool) -> Result<Link, Failure> {
    let (mut link, s) = server_start(ctx).await?;
    let proposed = s.version.as_deref().unwrap_or("2");
    let v = match proposed {
        "4" => version,
        "3" => version.min(3),
        _ => 2,
    };
    accept_start(&mut link, &s, v, compression).await?;
    Ok(link)
}

/// How the target reacted to malformed input.
#[derive(Debug)]
pub enum Reaction {
    /// It closed the connection.
    Closed,
    /// It replied (to the malformed message, or with an id of its own).
    Replied(Rep),
    /// Neither within the time.
    Silent,
}

/// Waits for the reaction to malformed input; `id` is the message id the input
/// carried, if any. Messages of the target meanwhile are answered.
pub async fn reaction(
    link: &mut Link,
    id: Option<&str>,
    within: Duration,
) -> Result<Reaction, Failure> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match link.recv(left).await {
            Ok((_, Cmd::Reply(r))) => {
                if id.is_none_or(|i| i == r.id) {
                    return Ok(Reaction::Replied(r));
                }
                if !link.is_ours(&r.id) {
                    return Err(Failure(Outcome::fail(
                        &["ICP-S-7"],
                        format!(
                            "reply {} echoes no message id of the suite (the malformed input had {})",
                            r.describe(),
                            id.unwrap_or("none")
                        ),
                    )));
                }
                link.note(format!(
                    "reply {} (not to the malformed input)",
                    r.describe()
                ));
            }
            Ok((_, other)) => link
                .respond(&other)
                .await
                .or_else(|e| if e.is_closed() { Ok(()) } else { Err(e) })
                .map_err(|e| e.fail("ICP-S-11", "answering the target"))?,
            Err(LinkError::Peer(PeerError::Timeout)) => return Ok(Reaction::Silent),
            Err(LinkError::Peer(_)) => return Ok(Reaction::Closed),
            Err(e) => return Err(e.fail("ICP-S-11", "after the malformed input")),
        }
    }
}

/// The whole malformed-input judgement: after `bytes` on a started `link`, the target
/// must answer with an error reply (not `A`) or drop the connection, and then serve a
/// good connection: the same one if it is still open, else a new one.
pub async fn expect_rejection(
    ctx: &Ctx,
    target: Target,
    mut link: Link,
    bytes: &[u8],
    id: Option<&str>,
    clauses: &[&'static str],
    what: &str,
) -> Result<Outcome, Failure> {
    link.note(format!("malformed input: {what}"));
    if let Some(id) = id {
        link.sent_id(id);
    }
    if let Err(e) = link.send_raw(bytes).await
        && !e.is_closed()
    {
        return Err(e.fail("ICP-S-11", "sending the malformed input"));
    }
    let t = ctx.settings().reply_timeout;
    let how = match reaction(&mut link, id, t).await? {
        Reaction::Closed => "dropped the connection".to_string(),
        Reaction::Replied(r) if r.code != "A" => {
            let how = format!("answered {}", r.describe());
            still_serving(&mut link, target).await?;
            link.close().await;
            return Ok(Outcome::pass(format!(
                "{what}: {how}; the connection still serves"
            )));
        }
        Reaction::Replied(r) => {
            link.close().await;
            return Ok(Outcome::fail(
                clauses,
                format!("{what}: accepted ({})", r.describe()),
            ));
        }
        Reaction::Silent => {
            link.close().await;
            return Ok(Outcome::fail(
                clauses,
                format!(
                    "{what}: neither an error reply nor a dropped connection within {} ms",
                    t.as_millis()
                ),
            ));
        }
    };
    serves_new_connection(ctx, target).await?;
    Ok(Outcome::pass(format!(
        "{what}: {how}; a new connection is served"
    )))
}

/// The same connection still answers a good request (an agent: the probe; a server:
/// the probe, or nothing if it serves no operations, as long as it stays open).
async fn still_serving(link: &mut Link, target: Target) -> Result<(), Failure> {
    match (link.probe().await, target) {
        (Ok(_), _) => Ok(()),
        (Err(LinkError::Peer(PeerError::Timeout)), Target::Server) => Ok(()),
        (Err(e), _) => Err(e.fail(
            "ICP-S-11",
            "a good request on the same connection after the error reply",
        )),
    }
}

/// A new connection works: an agent reconnects and answers Start and the probe; a
/// server sends Start on a new connection.
pub async fn serves_new_connection(ctx: &Ctx, target: Target) -> Result<(), Failure> {
    match target {
        Target::Agent => {
            let (mut link, _) = agent_started(ctx, "4").await.map_err(|Failure(o)| {
                failure(
                    &["ICP-S-11"],
                    format!("the agent's next connection: {}", o.message),
                )
            })?;
            link.probe()
                .await
                .map_err(|e| e.fail("ICP-S-11", "a request on the agent's next connection"))?;
            link.close().await;
        }
        Target::Server => {
            let (link, _) = server_start(ctx).await.map_err(|Failure(o)| {
                failure(
                    &["ICP-S-11"],
                    format!("a new connection to the server: {}", o.message),
                )
            })?;
            link.close().await;
        }
    }
    Ok(())
}
