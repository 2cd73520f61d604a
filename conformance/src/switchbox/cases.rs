//! Cases for a switchbox: the suite acts as the IO network service and as its clients.
//!
//! Most cases start from a *rig*: the suite's service registered on the network of the
//! settings and one good client attached to it, relaying bytes both ways. After
//! malformed input the case checks that the switchbox dropped the offending connection
//! and still serves:
//!
//! * a bad client or a bad second service: the rig's good client still relays both
//!   ways, under its id, and the service heard of no other client;
//! * a bad message from the service itself: the switchbox ends that service connection
//!   (and with it, necessarily, its clients — noted in the wire log), and a new service
//!   registration with a new client relays both ways.

use std::time::Duration;

use ferrocom_runtime::switchbox::{hello, mux};

use super::link::{
    Client, RegisterError, Service, account, ack_item, client_handshake, fail, first_difference,
    open_marked, padded_auth, pattern, service_auth, service_handshake,
};
use crate::case::{Case, CaseFuture, CaseResult, Ctx, Failure, Kind, Outcome, Role};
use crate::peer::PeerError;

macro_rules! case {
    ($id:literal, [$($c:literal),+], $kind:ident, $slow:literal, $title:literal, $f:ident) => {
        Case {
            id: $id,
            clauses: &[$($c),+],
            role: Role::Switchbox,
            title: $title,
            kind: Kind::$kind,
            slow: $slow,
            run: |ctx| -> CaseFuture { Box::pin($f(ctx)) },
        }
    };
}

/// The switchbox-role cases.
pub static CASES: &[Case] = &[
    case!(
        "SWB-17-8#w1",
        ["SWB-17-8", "IOCOM-8.1-1"],
        Normal,
        false,
        "Service login: mark 5B, handshake 52 N name 00 and authentication frame; the switchbox answers with its own (at most 128 bytes, frame 0, network sb)",
        login
    ),
    case!(
        "SWB-17-3#w1",
        ["SWB-17-3", "SWB-17-2", "SWB-17-11"],
        Normal,
        false,
        "A client reaches the service: NEW_CONNECTION with an id in 1..65535 before its data; the bytes sent with its handshake arrive unmodified",
        client_reaches_service
    ),
    case!(
        "SWB-17-11#w1",
        ["SWB-17-11", "SWB-17-6", "SWB-17-1"],
        Normal,
        false,
        "38 kB each way byte-exact: client writes of 1 to 20 000 bytes; service messages of 1 to 16 384 bytes, written with a header cut in two",
        byte_exact
    ),
    case!(
        "SWB-17-2#w1",
        ["SWB-17-2", "SWB-17-11"],
        Normal,
        false,
        "Three clients multiplexed: distinct ids, each one's bytes under its own id, interleaved replies each to its own client only",
        multiplexed
    ),
    case!(
        "SWB-17-4#w1",
        ["SWB-17-4"],
        Normal,
        false,
        "A client that leaves is reported with CONNECTION_DROPPED and its id; the other client goes on",
        client_leaves
    ),
    case!(
        "SWB-17-4#w2",
        ["SWB-17-4"],
        Normal,
        false,
        "CONNECTION_DROPPED from the service closes that client's connection; the other client goes on",
        service_drops_client
    ),
    case!(
        "SWB-17-2#w2",
        ["SWB-17-2", "SWB-17-3", "SWB-17-4"],
        Normal,
        false,
        "Ids of clients that left may be reused, a live client's id never: five clients come and go while one stays",
        id_reuse
    ),
    case!(
        "SWB-17-5#w1",
        ["SWB-17-5", "SWB-17-2"],
        Normal,
        true,
        "KEEPALIVE with client id 0 after 10 s without writing",
        keepalive
    ),
    case!(
        "SWB-17-9#w1",
        ["SWB-17-9"],
        Normal,
        false,
        "A second service for a network already served: the switchbox drops the existing one and refuses the new one (C)",
        second_service
    ),
    case!(
        "SWB-17-10#w1",
        ["SWB-17-10"],
        Malformed,
        false,
        "A client naming a network no service serves is closed; the good client goes on",
        unknown_network
    ),
    case!(
        "SWB-17-10#w2",
        ["SWB-17-10"],
        Malformed,
        false,
        "A client handshake without a network name (13) is closed; the good client goes on",
        no_network_name
    ),
    case!(
        "IOCOM-8.1-3#w1",
        ["IOCOM-8.1-3"],
        Malformed,
        false,
        "Garbage instead of a client handshake (\"GET / HTTP/1.0\"): closed; the good client goes on",
        garbage_handshake
    ),
    case!(
        "IOCOM-8.1-5#w1",
        ["IOCOM-8.1-5"],
        Malformed,
        false,
        "Client handshake with network length 25 (24 is the maximum): closed; the good client goes on",
        long_network_name
    ),
    case!(
        "SWB-17-7#w1",
        ["SWB-17-7"],
        Malformed,
        false,
        "Code 0 from the service: the service connection is dropped, a new service is served",
        code_zero
    ),
    case!(
        "SWB-17-7#w2",
        ["SWB-17-7"],
        Malformed,
        false,
        "Unknown code -4 from the service: dropped, a new service is served",
        code_minus_4
    ),
    case!(
        "SWB-17-7#w3",
        ["SWB-17-7"],
        Malformed,
        false,
        "Unknown code -2147483648 from the service: dropped, a new service is served",
        code_min
    ),
    case!(
        "SWB-17-12#w1",
        ["SWB-17-12", "SWB-17-1"],
        Malformed,
        false,
        "A message announcing 16 MiB of data (100 bytes sent): dropped from the header, a new service is served",
        oversize_16m
    ),
    case!(
        "SWB-17-12#w2",
        ["SWB-17-12", "SWB-17-1"],
        Malformed,
        false,
        "A message announcing 2 147 483 647 bytes of data (100 sent): dropped from the header, a new service is served",
        oversize_max
    ),
    case!(
        "SWB-17-2#w3",
        ["SWB-17-2"],
        Malformed,
        false,
        "Data for client id 0 from the service: dropped, a new service is served",
        data_for_id_zero
    ),
    case!(
        "SWB-17-3#w2",
        ["SWB-17-3"],
        Malformed,
        false,
        "NEW_CONNECTION from the service (only the switchbox opens streams): dropped, a new service is served",
        new_from_service
    ),
    case!(
        "SWB-17-1#w1",
        ["SWB-17-1"],
        Malformed,
        false,
        "The service ends its connection 3 bytes into a message header: its client is closed, a new service is served",
        truncated_header
    ),
    case!(
        "SWB-17-6#w1",
        ["SWB-17-6"],
        Malformed,
        false,
        "The service ends its connection 40 bytes into a 100-byte message: a new service is served",
        truncated_data
    ),
    case!(
        "SWB-17-4#w3",
        ["SWB-17-4"],
        Malformed,
        false,
        "Data for a client id the switchbox does not have: answered with CONNECTION_DROPPED, the service connection and its client go on",
        data_for_unknown_id
    ),
    case!(
        "SWB-17-8#w2",
        ["SWB-17-8"],
        Malformed,
        false,
        "A service handshake without a network name (12): closed; the network's service goes on",
        service_without_network
    ),
    case!(
        "SWB-17-8#w3",
        ["SWB-17-8"],
        Malformed,
        false,
        "A service authentication frame of more than 128 bytes: closed; the network's service goes on",
        oversize_auth
    ),
    case!(
        "SWB-17-8#w4",
        ["SWB-17-8"],
        Malformed,
        false,
        "An IOCOM ACK instead of the service authentication frame: closed; the network's service goes on",
        not_an_auth_frame
    ),
    case!(
        "SWB-17-13#w1",
        ["SWB-17-13", "SWB-17-8"],
        Malformed,
        false,
        "A second service with the account's name and a wrong password is refused; the network's service goes on",
        wrong_password
    ),
];

fn t(ctx: &Ctx) -> Duration {
    ctx.settings().reply_timeout
}

fn network(ctx: &Ctx) -> String {
    ctx.settings().network.clone()
}

/// Turns any failure into one of `clause` (a switchbox that cannot serve after the
/// crafted input broke the clause the input was about).
fn blame<'a>(clause: &'static str, what: &'a str) -> impl FnOnce(Failure) -> Failure + 'a {
    move |Failure(o)| {
        if o.verdict == crate::case::Verdict::Fail {
            fail(clause, format!("{what}: {}", o.message))
        } else {
            Failure(o)
        }
    }
}

/// Connects a client that sends `first` with its handshake; waits for its
/// NEW_CONNECTION and those bytes at the service. `live`: ids of clients still
/// connected. Returns the client and its id.
async fn attach(
    ctx: &Ctx,
    svc: &mut Service,
    first: &[u8],
    live: &[u16],
) -> Result<(Client, u16), Failure> {
    let from = svc.rx.mark();
    let client = Client::connect(ctx, &network(ctx), first).await?;
    let n = first.len();
    svc.wait(t(ctx), |rx| {
        rx.news_since(from)
            .last()
            .is_some_and(|id| rx.data_since(from, *id).len() >= n)
    })
    .await
    .map_err(|e| {
        e.fail(
            "SWB-17-3",
            "waiting for NEW_CONNECTION and the bytes sent with the handshake",
        )
    })?;
    let early = svc.rx.data_before_new(from, live);
    if !early.is_empty() {
        return Err(fail(
            "SWB-17-3",
            format!("data for client(s) {early:?} before their NEW_CONNECTION"),
        ));
    }
    let id = svc.rx.news_since(from).last().copied().unwrap_or(0);
    if id == 0 {
        return Err(fail("SWB-17-2", "NEW_CONNECTION with client id 0"));
    }
    if live.contains(&id) {
        return Err(fail(
            "SWB-17-2",
            format!("a new client got id {id}, which a connected client still has"),
        ));
    }
    let got = svc.rx.data_since(from, id);
    if got.get(..n) != Some(first) {
        return Err(fail(
            "SWB-17-11",
            format!(
                "the {n} bytes the client sent with its handshake arrived altered (first difference at byte {})",
                first_difference(&got, first)
            ),
        ));
    }
    svc.peer.note(format!(
        "client connection {} is client id {id}",
        client.peer.conn()
    ));
    Ok((client, id))
}

/// `n` bytes client → service, then `n` bytes service → client, each compared.
#[allow(clippy::too_many_arguments)]
async fn relay(
    ctx: &Ctx,
    svc: &mut Service,
    id: u16,
    client: &mut Client,
    seed: u32,
    n: usize,
    clause: &'static str,
    what: &str,
) -> Result<(), Failure> {
    let from = svc.rx.mark();
    let up = pattern(seed, n);
    client
        .send(&up)
        .await
        .map_err(|e| fail(clause, format!("{what}: the client cannot send: {e}")))?;
    svc.wait(t(ctx), |rx| rx.data_since(from, id).len() >= n)
        .await
        .map_err(|e| e.fail(clause, &format!("{what}: client {id} → service")))?;
    let got = svc.rx.data_since(from, id);
    if got != up {
        return Err(fail(
            "SWB-17-11",
            format!(
                "{what}: the service got {} bytes for client {id} where the client sent {n}; first difference at byte {}",
                got.len(),
                first_difference(&got, &up)
            ),
        ));
    }
    let before = client.rx.len();
    let down = pattern(seed ^ 0x5A5A, n);
    svc.data(id, &down)
        .await
        .map_err(|e| fail(clause, format!("{what}: the service cannot send: {e}")))?;
    client
        .wait_len(before + n, t(ctx))
        .await
        .map_err(|e| fail(clause, format!("{what}: service → client {id}: {e}")))?;
    let got = client.rx.get(before..).unwrap_or_default();
    if got != down.as_slice() {
        return Err(fail(
            "SWB-17-11",
            format!(
                "{what}: client {id} got {} bytes where the service sent {n}; first difference at byte {}",
                got.len(),
                first_difference(got, &down)
            ),
        ));
    }
    Ok(())
}

/// A registered service with one good client.
struct Rig {
    svc: Service,
    good: Client,
    id: u16,
    round: u32,
}

impl Rig {
    async fn new(ctx: &Ctx) -> Result<Rig, Failure> {
        let mut svc = Service::register(ctx).await?;
        let (good, id) = attach(ctx, &mut svc, b"good client", &[]).await?;
        let mut rig = Rig {
            svc,
            good,
            id,
            round: 0,
        };
        rig.still_serves(ctx, "SWB-17-11", "the good client")
            .await?;
        Ok(rig)
    }

    /// Fresh bytes both ways between the good client and the service.
    async fn still_serves(
        &mut self,
        ctx: &Ctx,
        clause: &'static str,
        what: &str,
    ) -> Result<(), Failure> {
        self.round += 1;
        let seed = 1000 + self.round;
        relay(
            ctx,
            &mut self.svc,
            self.id,
            &mut self.good,
            seed,
            64,
            clause,
            what,
        )
        .await
    }

    async fn close(self) {
        self.good.peer.close().await;
        self.svc.peer.close().await;
    }
}

// ------------------------------------------------------------------ normal behaviour

async fn login(ctx: Ctx) -> CaseResult {
    let svc = Service::register(&ctx).await?;
    let h = svc.hello.clone();
    svc.peer.close().await;
    if h.len > hello::MAX_AUTH_FRAME {
        return Ok(Outcome::fail(
            &["SWB-17-8"],
            format!(
                "the switchbox's authentication frame has {} bytes (at most {})",
                h.len,
                hello::MAX_AUTH_FRAME
            ),
        ));
    }
    if h.network != hello::AUTH_NETWORK || h.mblk_addr != (0, 0) {
        return Ok(Outcome::non_strict(
            &["SWB-17-8"],
            format!(
                "the switchbox's authentication frame parses but carries network {:?} and MBLK_ID/ADDR {:?} (C: sb, 0/0)",
                h.network, h.mblk_addr
            ),
        ));
    }
    Ok(Outcome::pass(format!(
        "mark 5B; the switchbox answered with a {}-byte authentication frame (user {:?}, network sb)",
        h.len, h.user
    )))
}

async fn client_reaches_service(ctx: Ctx) -> CaseResult {
    let mut svc = Service::register(&ctx).await?;
    let first = pattern(1, 300);
    let (mut client, id) = attach(&ctx, &mut svc, &first, &[]).await?;
    relay(
        &ctx,
        &mut svc,
        id,
        &mut client,
        2,
        200,
        "SWB-17-11",
        "after the first bytes",
    )
    .await?;
    client.peer.close().await;
    svc.peer.close().await;
    Ok(Outcome::pass(format!(
        "NEW_CONNECTION for client {id} before its data; the 300 bytes sent with the handshake arrived unmodified, then 200 bytes each way"
    )))
}

/// Write sizes of the byte-exact case (38 kB in all).
const SIZES: [usize; 10] = [1, 2, 255, 3000, 1, 7000, 100, 4096, 17, 20_000];

async fn byte_exact(ctx: Ctx) -> CaseResult {
    let mut svc = Service::register(&ctx).await?;
    let (mut client, id) = attach(&ctx, &mut svc, b"", &[]).await?;
    let total: usize = SIZES.iter().sum();

    let from = svc.rx.mark();
    let mut up = Vec::new();
    for (k, n) in SIZES.iter().enumerate() {
        let chunk = pattern(10 + k as u32, *n);
        client
            .send(&chunk)
            .await
            .map_err(|e| fail("SWB-17-11", format!("the client cannot send: {e}")))?;
        up.extend(chunk);
    }
    svc.wait(t(&ctx), |rx| rx.data_since(from, id).len() >= total)
        .await
        .map_err(|e| e.fail("SWB-17-11", "client → service"))?;
    let got = svc.rx.data_since(from, id);
    if got != up {
        return Ok(Outcome::fail(
            &["SWB-17-11"],
            format!(
                "client → service: {} bytes arrived for {total} sent; first difference at byte {}",
                got.len(),
                first_difference(&got, &up)
            ),
        ));
    }

    // Service → client: the messages of all chunks in one byte string, written with
    // the first header cut after 3 bytes, then in pieces that cut messages anywhere.
    let mut down = Vec::new();
    let mut wire = Vec::new();
    for (k, n) in SIZES.iter().enumerate() {
        let chunk = pattern(40 + k as u32, *n);
        mux::encode_data(id, &chunk, &mut wire);
        down.extend(chunk);
    }
    let (head, rest) = wire.split_at(3.min(wire.len()));
    svc.peer
        .send(head)
        .await
        .map_err(|e| fail("SWB-17-1", format!("writing 3 bytes of a header: {e}")))?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    for piece in rest.chunks(4099) {
        svc.peer
            .send(piece)
            .await
            .map_err(|e| fail("SWB-17-1", format!("the service cannot send: {e}")))?;
    }
    client
        .wait_len(total, t(&ctx))
        .await
        .map_err(|e| fail("SWB-17-11", format!("service → client: {e}")))?;
    client
        .settle(Duration::from_millis(50))
        .await
        .map_err(|e| fail("SWB-17-11", format!("service → client: {e}")))?;
    if client.rx != down {
        return Ok(Outcome::fail(
            &["SWB-17-11"],
            format!(
                "service → client: {} bytes arrived for {total} sent; first difference at byte {}",
                client.rx.len(),
                first_difference(&client.rx, &down)
            ),
        ));
    }
    client.peer.close().await;
    svc.peer.close().await;
    Ok(Outcome::pass(format!(
        "{total} bytes each way, every byte value, unmodified (the service's {} messages written in {} pieces)",
        SIZES.len() + 1,
        rest.len().div_ceil(4099) + 1
    )))
}

async fn multiplexed(ctx: Ctx) -> CaseResult {
    const N: usize = 500;
    let mut svc = Service::register(&ctx).await?;
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for tag in ["A", "B", "C"] {
        let (c, id) = attach(&ctx, &mut svc, format!("client {tag}").as_bytes(), &ids).await?;
        clients.push(c);
        ids.push(id);
    }

    let from = svc.rx.mark();
    for (k, c) in clients.iter_mut().enumerate() {
        c.send(&pattern(20 + k as u32, N))
            .await
            .map_err(|e| fail("SWB-17-2", format!("a client cannot send: {e}")))?;
    }
    svc.wait(t(&ctx), |rx| {
        ids.iter().all(|id| rx.data_since(from, *id).len() >= N)
    })
    .await
    .map_err(|e| e.fail("SWB-17-2", "waiting for the bytes of all three clients"))?;
    for (k, id) in ids.iter().enumerate() {
        if svc.rx.data_since(from, *id) != pattern(20 + k as u32, N) {
            return Ok(Outcome::fail(
                &["SWB-17-2"],
                format!("the bytes under id {id} are not exactly those of client {k}"),
            ));
        }
    }

    // One write with the replies of all three interleaved in 125-byte messages.
    let down: Vec<Vec<u8>> = (0..3).map(|k| pattern(30 + k, N)).collect();
    let mut wire = Vec::new();
    for part in 0..N / 125 {
        for (k, id) in ids.iter().enumerate() {
            let bytes = down
                .get(k)
                .and_then(|d| d.get(part * 125..(part + 1) * 125));
            mux::encode_data(*id, bytes.unwrap_or_default(), &mut wire);
        }
    }
    svc.peer
        .send(&wire)
        .await
        .map_err(|e| fail("SWB-17-2", format!("the service cannot send: {e}")))?;
    for (k, c) in clients.iter_mut().enumerate() {
        c.wait_len(N, t(&ctx))
            .await
            .map_err(|e| fail("SWB-17-2", format!("client {k}: {e}")))?;
    }
    for (k, c) in clients.iter_mut().enumerate() {
        c.settle(Duration::from_millis(30))
            .await
            .map_err(|e| fail("SWB-17-2", format!("client {k}: {e}")))?;
        if down.get(k) != Some(&c.rx) {
            return Ok(Outcome::fail(
                &["SWB-17-2"],
                format!(
                    "client {k} (id {}) got {} bytes that are not exactly the {N} sent under its id",
                    ids.get(k).copied().unwrap_or(0),
                    c.rx.len()
                ),
            ));
        }
    }
    for c in clients {
        c.peer.close().await;
    }
    svc.peer.close().await;
    Ok(Outcome::pass(format!(
        "ids {ids:?}; each client's {N} bytes under its own id, the interleaved replies each to its own client"
    )))
}

async fn client_leaves(ctx: Ctx) -> CaseResult {
    let mut rig = Rig::new(&ctx).await?;
    let (other, id) = attach(&ctx, &mut rig.svc, b"leaving client", &[rig.id]).await?;
    let from = rig.svc.rx.mark();
    other.peer.close().await;
    rig.svc
        .wait(t(&ctx), |rx| rx.dropped_since(from, id))
        .await
        .map_err(|e| {
            e.fail(
                "SWB-17-4",
                &format!("waiting for CONNECTION_DROPPED of client {id}, which left"),
            )
        })?;
    rig.still_serves(&ctx, "SWB-17-4", "the other client afterwards")
        .await?;
    let good = rig.id;
    rig.close().await;
    Ok(Outcome::pass(format!(
        "CONNECTION_DROPPED for client {id}; client {good} goes on"
    )))
}

async fn service_drops_client(ctx: Ctx) -> CaseResult {
    let mut rig = Rig::new(&ctx).await?;
    let (mut other, id) = attach(&ctx, &mut rig.svc, b"client to drop", &[rig.id]).await?;
    rig.svc
        .drop_client(id)
        .await
        .map_err(|e| fail("SWB-17-4", format!("sending CONNECTION_DROPPED: {e}")))?;
    if !other.peer.expect_close(t(&ctx)).await {
        return Ok(Outcome::fail(
            &["SWB-17-4"],
            format!("client {id} stayed connected after the service's CONNECTION_DROPPED"),
        ));
    }
    rig.still_serves(&ctx, "SWB-17-4", "the other client afterwards")
        .await?;
    let good = rig.id;
    rig.close().await;
    Ok(Outcome::pass(format!(
        "client {id} closed after the service's CONNECTION_DROPPED; client {good} goes on"
    )))
}

async fn id_reuse(ctx: Ctx) -> CaseResult {
    let mut svc = Service::register(&ctx).await?;
    let (first, a) = attach(&ctx, &mut svc, b"client A", &[]).await?;
    let (mut stay, b) = attach(&ctx, &mut svc, b"client B", &[a]).await?;
    let mut order = vec![a, b];
    let mut leave = Some((first, a));
    for k in 0..6u32 {
        if let Some((c, id)) = leave.take() {
            let from = svc.rx.mark();
            c.peer.close().await;
            svc.wait(t(&ctx), |rx| rx.dropped_since(from, id))
                .await
                .map_err(|e| {
                    e.fail(
                        "SWB-17-4",
                        &format!("waiting for CONNECTION_DROPPED of client {id}"),
                    )
                })?;
        }
        if k == 5 {
            break;
        }
        let (mut c, id) = attach(&ctx, &mut svc, format!("newcomer {k}").as_bytes(), &[b]).await?;
        relay(
            &ctx,
            &mut svc,
            id,
            &mut c,
            300 + k,
            32,
            "SWB-17-2",
            "a newcomer's stream",
        )
        .await?;
        order.push(id);
        leave = Some((c, id));
    }
    stay.settle(Duration::from_millis(30))
        .await
        .map_err(|e| fail("SWB-17-2", format!("client {b}, which stayed: {e}")))?;
    if !stay.rx.is_empty() {
        return Ok(Outcome::fail(
            &["SWB-17-2"],
            format!(
                "client {b}, which stayed, received {} bytes meant for others",
                stay.rx.len()
            ),
        ));
    }
    relay(
        &ctx,
        &mut svc,
        b,
        &mut stay,
        310,
        32,
        "SWB-17-2",
        "the client that stayed",
    )
    .await?;
    stay.peer.close().await;
    svc.peer.close().await;
    let reused = order
        .iter()
        .enumerate()
        .any(|(i, id)| order.get(..i).is_some_and(|before| before.contains(id)));
    Ok(Outcome::pass(format!(
        "ids in order of arrival {order:?}; {b} stayed and was never given to another; {}",
        if reused {
            "ids of clients that left were reused"
        } else {
            "no id was reused"
        }
    )))
}

async fn keepalive(ctx: Ctx) -> CaseResult {
    let mut svc = Service::register(&ctx).await?;
    svc.peer.note("idle for up to 13 s");
    match svc
        .wait(Duration::from_secs(13), |rx| !rx.keepalives().is_empty())
        .await
    {
        Ok(()) => {}
        Err(super::link::WaitError::Peer(PeerError::Timeout)) => {
            return Ok(Outcome::fail(
                &["SWB-17-5"],
                "no KEEPALIVE within 13 s without traffic",
            ));
        }
        Err(e) => return Err(e.fail("SWB-17-5", "idle service connection")),
    }
    let (ms, id) = svc.rx.keepalives().first().copied().unwrap_or((0, 0));
    svc.peer.close().await;
    if id != 0 {
        return Ok(Outcome::fail(
            &["SWB-17-2"],
            format!("KEEPALIVE with client id {id}"),
        ));
    }
    if ms < 5_000 {
        return Ok(Outcome::non_strict(
            &["SWB-17-5"],
            format!("KEEPALIVE after only {ms} ms without traffic (C: 10 s)"),
        ));
    }
    Ok(Outcome::pass(format!(
        "KEEPALIVE 00 00 FD FF FF FF {ms} ms after the registration"
    )))
}

async fn second_service(ctx: Ctx) -> CaseResult {
    let (user, password) = account(&ctx);
    let net = network(&ctx);
    let mut old = Service::register(&ctx).await?;
    old.peer.note("a second service registers the same network");
    let new = match Service::register_as(&ctx, &net, &user, &password).await {
        Ok(s) => Some(s),
        Err(RegisterError::Refused) => None,
        Err(e) => return Err(e.fail("a second service registering the same network")),
    };
    let old_closed = old.peer.expect_close(t(&ctx)).await;
    // Does the new one serve? A client answers that: it reaches the new service, or
    // the new connection is closed.
    let mut new_open = false;
    let mut new_serves = false;
    if let Some(mut s) = new {
        let from = s.rx.mark();
        let client = Client::connect(&ctx, &net, b"who serves?").await?;
        match s.wait(t(&ctx), |rx| !rx.news_since(from).is_empty()).await {
            Ok(()) => (new_open, new_serves) = (true, true),
            Err(super::link::WaitError::Peer(PeerError::Timeout)) => new_open = true,
            Err(_) => {}
        }
        client.peer.close().await;
        s.peer.close().await;
    }
    Ok(match (old_closed, new_open) {
        (true, false) => Outcome::pass("the existing service was dropped and the new one refused"),
        (true, true) => Outcome::non_strict(
            &["SWB-17-9"],
            format!(
                "the new connection took the network over{} and the existing one was dropped (C drops both)",
                if new_serves {
                    " (a client reached it)"
                } else {
                    ""
                }
            ),
        ),
        (false, false) => Outcome::non_strict(
            &["SWB-17-9"],
            "the existing service kept the network and the new one was refused (C drops both)",
        ),
        (false, true) => Outcome::fail(
            &["SWB-17-9"],
            "two service connections for one network stayed open",
        ),
    })
}

// ------------------------------------------------------------------ bad clients

/// A client sends `bytes` after the mark: the switchbox must close it, and the rig's
/// good client must go on while the service hears of no new client.
async fn bad_client(ctx: Ctx, bytes: Vec<u8>, clause: &'static str, what: &str) -> CaseResult {
    let mut rig = Rig::new(&ctx).await?;
    let from = rig.svc.rx.mark();
    let mut bad = Client::raw(&ctx).await?;
    bad.peer.note(format!("crafted input: {what}"));
    // The switchbox may close while the bytes are still being written.
    let _ = bad.send(&bytes).await;
    if !bad.peer.expect_close(t(&ctx)).await {
        return Ok(Outcome::fail(
            &[clause],
            format!("{what}: the switchbox kept the client connection open"),
        ));
    }
    rig.still_serves(&ctx, clause, &format!("after {what}, the good client"))
        .await?;
    let news = rig.svc.rx.news_since(from);
    rig.close().await;
    if !news.is_empty() {
        return Ok(Outcome::fail(
            &[clause],
            format!("{what}: the service was told of new client(s) {news:?}"),
        ));
    }
    Ok(Outcome::pass(format!(
        "{what}: closed; the service heard nothing of it and the good client goes on"
    )))
}

async fn unknown_network(ctx: Ctx) -> CaseResult {
    let nobody = "nobody-serves-this";
    let mut bytes = client_handshake(Some(nobody)).map_err(|e| fail("SWB-17-10", e))?;
    bytes.extend(pattern(3, 16));
    bad_client(
        ctx,
        bytes,
        "SWB-17-10",
        "a client of network nobody-serves-this",
    )
    .await
}

async fn no_network_name(ctx: Ctx) -> CaseResult {
    let bytes = client_handshake(None).map_err(|e| fail("SWB-17-10", e))?;
    bad_client(
        ctx,
        bytes,
        "SWB-17-10",
        "a client handshake without a network",
    )
    .await
}

async fn garbage_handshake(ctx: Ctx) -> CaseResult {
    bad_client(
        ctx,
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        "IOCOM-8.1-3",
        "an HTTP request as handshake",
    )
    .await
}

async fn long_network_name(ctx: Ctx) -> CaseResult {
    // Built by hand: the codec cannot encode a name it would refuse.
    let mut bytes = vec![0x53, 25];
    bytes.extend([b'n'; 24]);
    bytes.push(0);
    bad_client(ctx, bytes, "IOCOM-8.1-5", "network length 25").await
}

// ------------------------------------------------------------------ bad service input

/// How a crafted service input ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// The switchbox must drop the service connection.
    ExpectDrop,
    /// The suite ends the connection itself (a message cut short).
    Close,
}

/// The service sends `make(good client id)`: the switchbox must drop the service
/// connection (or, with [`Then::Close`], notice that it ended), and a new service with
/// a new client must be served.
async fn bad_service_input(
    ctx: Ctx,
    make: impl FnOnce(u16) -> Vec<u8>,
    then: Then,
    clause: &'static str,
    what: &str,
) -> CaseResult {
    let Rig {
        mut svc,
        mut good,
        id,
        ..
    } = Rig::new(&ctx).await?;
    let bytes = make(id);
    svc.peer.note(format!("crafted input: {what}"));
    let _ = svc.peer.send(&bytes).await;
    match then {
        Then::ExpectDrop => {
            if !svc.peer.expect_close(t(&ctx)).await {
                return Ok(Outcome::fail(
                    &[clause],
                    format!("{what}: the switchbox kept the service connection open"),
                ));
            }
        }
        Then::Close => svc.peer.close().await,
    }
    let client_closed = good.peer.expect_close(t(&ctx)).await;
    good.peer.note(if client_closed {
        "the client of the dropped service was closed"
    } else {
        "the client of the dropped service stayed connected"
    });
    let fresh = Rig::new(&ctx)
        .await
        .map_err(blame(clause, &format!("after {what}, a new service")))?;
    fresh.close().await;
    Ok(Outcome::pass(format!(
        "{what}: the service connection {}{}; a new service and client are served",
        match then {
            Then::ExpectDrop => "was dropped",
            Then::Close => "ended",
        },
        if client_closed {
            " and its client closed"
        } else {
            " (its client stayed connected)"
        }
    )))
}

/// A message header built by hand: client id, then any code (valid or not).
fn header(client: u16, code: i32) -> Vec<u8> {
    let mut h = client.to_le_bytes().to_vec();
    h.extend(code.to_le_bytes());
    h
}

async fn code_zero(ctx: Ctx) -> CaseResult {
    bad_service_input(
        ctx,
        |id| header(id, 0),
        Then::ExpectDrop,
        "SWB-17-7",
        "code 0",
    )
    .await
}

async fn code_minus_4(ctx: Ctx) -> CaseResult {
    bad_service_input(
        ctx,
        |id| header(id, -4),
        Then::ExpectDrop,
        "SWB-17-7",
        "code -4",
    )
    .await
}

async fn code_min(ctx: Ctx) -> CaseResult {
    bad_service_input(
        ctx,
        |id| header(id, i32::MIN),
        Then::ExpectDrop,
        "SWB-17-7",
        "code -2147483648",
    )
    .await
}

fn oversize(id: u16, len: i32) -> Vec<u8> {
    let mut b = header(id, len);
    b.extend(pattern(4, 100));
    b
}

async fn oversize_16m(ctx: Ctx) -> CaseResult {
    bad_service_input(
        ctx,
        |id| oversize(id, 16 << 20),
        Then::ExpectDrop,
        "SWB-17-12",
        "a 16 MiB message",
    )
    .await
}

async fn oversize_max(ctx: Ctx) -> CaseResult {
    bad_service_input(
        ctx,
        |id| oversize(id, i32::MAX),
        Then::ExpectDrop,
        "SWB-17-12",
        "a 2 147 483 647-byte message",
    )
    .await
}

async fn data_for_id_zero(ctx: Ctx) -> CaseResult {
    bad_service_input(
        ctx,
        |_| {
            let mut b = Vec::new();
            mux::encode_data(0, b"to client 0", &mut b);
            b
        },
        Then::ExpectDrop,
        "SWB-17-2",
        "data for client id 0",
    )
    .await
}

async fn new_from_service(ctx: Ctx) -> CaseResult {
    bad_service_input(
        ctx,
        |id| {
            let mut b = Vec::new();
            mux::encode_new_connection(id.wrapping_add(500).max(1), &mut b);
            b
        },
        Then::ExpectDrop,
        "SWB-17-3",
        "NEW_CONNECTION from the service",
    )
    .await
}

async fn truncated_header(ctx: Ctx) -> CaseResult {
    bad_service_input(
        ctx,
        |id| header(id, 10).get(..3).unwrap_or_default().to_vec(),
        Then::Close,
        "SWB-17-1",
        "3 bytes of a header, then end of connection",
    )
    .await
}

async fn truncated_data(ctx: Ctx) -> CaseResult {
    bad_service_input(
        ctx,
        |id| {
            let mut b = header(id, 100);
            b.extend(pattern(5, 40));
            b
        },
        Then::Close,
        "SWB-17-6",
        "40 of 100 data bytes, then end of connection",
    )
    .await
}

async fn data_for_unknown_id(ctx: Ctx) -> CaseResult {
    let mut rig = Rig::new(&ctx).await?;
    let unknown = if rig.id < 30_000 {
        rig.id + 30_000
    } else {
        rig.id - 30_000
    };
    let from = rig.svc.rx.mark();
    rig.svc
        .peer
        .note(format!("data for client {unknown}, which does not exist"));
    rig.svc
        .data(unknown, b"for nobody")
        .await
        .map_err(|e| fail("SWB-17-4", format!("the service cannot send: {e}")))?;
    rig.svc
        .wait(t(&ctx), |rx| rx.dropped_since(from, unknown))
        .await
        .map_err(|e| {
            e.fail(
                "SWB-17-4",
                &format!("waiting for CONNECTION_DROPPED for unknown client {unknown}"),
            )
        })?;
    rig.still_serves(&ctx, "SWB-17-4", "the good client afterwards")
        .await?;
    rig.close().await;
    Ok(Outcome::pass(format!(
        "answered with CONNECTION_DROPPED for {unknown}; the service connection and its client go on"
    )))
}

// ------------------------------------------------------------------ bad registrations

/// A second connection sends `bytes` after the mark (a bad service registration for
/// the rig's network): the switchbox must close it while the rig's service and client
/// go on.
async fn bad_registration(
    ctx: Ctx,
    bytes: Vec<u8>,
    clause: &'static str,
    what: &str,
) -> CaseResult {
    let mut rig = Rig::new(&ctx).await?;
    let (mut bad, _) = open_marked(&ctx)
        .await
        .map_err(|e| e.fail("opening a second service connection"))?;
    bad.note(format!("crafted input: {what}"));
    let _ = bad.send(&bytes).await;
    if !bad.expect_close(t(&ctx)).await {
        return Ok(Outcome::fail(
            &[clause],
            format!("{what}: the switchbox kept the connection open"),
        ));
    }
    rig.still_serves(
        &ctx,
        clause,
        &format!("after {what}, the network's service and its client"),
    )
    .await?;
    rig.close().await;
    Ok(Outcome::pass(format!(
        "{what}: closed; the network's service and its client go on"
    )))
}

fn registration(network: Option<&str>, auth: Result<Vec<u8>, String>) -> Result<Vec<u8>, Failure> {
    let mut b = service_handshake(network).map_err(|e| Failure(Outcome::unsupported(e)))?;
    b.extend(auth.map_err(|e| Failure(Outcome::unsupported(e)))?);
    Ok(b)
}

async fn service_without_network(ctx: Ctx) -> CaseResult {
    let (user, password) = account(&ctx);
    let bytes = registration(None, service_auth(&user, &password))?;
    bad_registration(
        ctx,
        bytes,
        "SWB-17-8",
        "a service handshake without a network",
    )
    .await
}

async fn oversize_auth(ctx: Ctx) -> CaseResult {
    let (user, _) = account(&ctx);
    let bytes = registration(Some(&network(&ctx)), padded_auth(&user, 200))?;
    bad_registration(
        ctx,
        bytes,
        "SWB-17-8",
        "an authentication frame with 200 bytes of content",
    )
    .await
}

async fn not_an_auth_frame(ctx: Ctx) -> CaseResult {
    let bytes = registration(Some(&network(&ctx)), Ok(ack_item()))?;
    bad_registration(
        ctx,
        bytes,
        "SWB-17-8",
        "an ACK instead of the authentication frame",
    )
    .await
}

async fn wrong_password(ctx: Ctx) -> CaseResult {
    let Some((user, password)) = ctx.settings().account.clone() else {
        return Ok(Outcome::unsupported(
            "no service account was given (ferrocom conform --user NAME --password PW); \
             a C switchbox keeps none",
        ));
    };
    let bytes = registration(
        Some(&network(&ctx)),
        service_auth(&user, &format!("{password}-wrong")),
    )?;
    bad_registration(ctx, bytes, "SWB-17-13", "a service with a wrong password").await
}
