//! Devices reach servers through a switchbox (reference §17) over real TLS on loopback:
//! signals both ways, two IO networks through one switchbox kept apart, a service that
//! reconnects gets its clients back, a client that drops is reported to the service and
//! its id freed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ferrocom_runtime::device::DeviceEvent;
use ferrocom_runtime::server::ServerEvent;
use ferrocom_runtime::signal::SignalValue;
use support::switchbox::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_flow_both_ways_through_the_switchbox() {
    let _logs = logs();
    let certs = certs();
    let sb = start_switchbox("sb-e2e", &certs).await;
    let sb_addr = sb.local_addr();
    let server = start_service(
        &temp_db("sb-e2e-srv"),
        "cafenet",
        link(sb_addr, &certs, "cafenet", "plant", "pw"),
    )
    .await;
    let mut events = server.subscribe();
    wait_published(&sb, "cafenet").await;

    let dev = device("gina", "cafenet", sb_addr, &certs);
    let mut dev_events = dev.subscribe();
    within(Duration::from_secs(10), dev.wait_connected()).await;

    dev.set("exp", "potentiometer", 7.5f32).unwrap();
    let gina = wait_signal(
        &mut events,
        "gina",
        "exp",
        "potentiometer",
        &SignalValue::Float(7.5),
    )
    .await;
    // The remote device looks exactly like a local one: automatic number, signal map.
    assert_eq!(gina.number, 9001);
    assert_eq!(gina.network, "cafenet");
    assert!(server.signal_map(&gina).is_some());

    server
        .write_signal(&gina, "imp", "setpoint", 1234u16)
        .unwrap();
    wait_device(&mut dev_events, |e| match e {
        DeviceEvent::Write { signal, value, .. }
            if signal == "setpoint" && *value == SignalValue::Int(1234) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;

    // A string and many updates in a row arrive in order, the last one wins.
    dev.set("exp", "teststr", "hello").unwrap();
    wait_signal(
        &mut events,
        "gina",
        "exp",
        "teststr",
        &SignalValue::Str("hello".into()),
    )
    .await;
    for i in 0..200u32 {
        dev.set("exp", "counter", i).unwrap();
    }
    wait_signal(
        &mut events,
        "gina",
        "exp",
        "counter",
        &SignalValue::Int(199),
    )
    .await;

    let nets = sb.networks();
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0].owner, "plant");
    assert_eq!(nets[0].clients, vec![1]);
    dev.shutdown().await;
    server.shutdown().await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_networks_through_one_switchbox_stay_apart() {
    let _logs = logs();
    let certs = certs();
    let sb = start_switchbox("sb-two", &certs).await;
    let sb_addr = sb.local_addr();
    let cafe = start_service(
        &temp_db("sb-two-a"),
        "cafenet",
        link(sb_addr, &certs, "cafenet", "plant", "pw"),
    )
    .await;
    let other = start_service(
        &temp_db("sb-two-b"),
        "othernet",
        link(sb_addr, &certs, "othernet", "plant", "pw"),
    )
    .await;
    let mut cafe_events = cafe.subscribe();
    let mut other_events = other.subscribe();
    wait_published(&sb, "cafenet").await;
    wait_published(&sb, "othernet").await;

    // The same device name on both networks.
    let a = device("gina", "cafenet", sb_addr, &certs);
    let b = device("gina", "othernet", sb_addr, &certs);
    within(Duration::from_secs(10), a.wait_connected()).await;
    within(Duration::from_secs(10), b.wait_connected()).await;
    a.set("exp", "counter", 111u32).unwrap();
    b.set("exp", "counter", 222u32).unwrap();
    let ga = wait_signal(
        &mut cafe_events,
        "gina",
        "exp",
        "counter",
        &SignalValue::Int(111),
    )
    .await;
    let gb = wait_signal(
        &mut other_events,
        "gina",
        "exp",
        "counter",
        &SignalValue::Int(222),
    )
    .await;
    assert_eq!(ga.network, "cafenet");
    assert_eq!(gb.network, "othernet");

    // Each server knows only its own device, with its own value.
    let on_cafe: Vec<_> = cafe.devices().into_iter().map(|d| d.device).collect();
    let on_other: Vec<_> = other.devices().into_iter().map(|d| d.device).collect();
    assert_eq!(on_cafe, vec![ga.clone()]);
    assert_eq!(on_other, vec![gb.clone()]);
    assert_eq!(
        cafe.read_signal(&ga, "exp", "counter").unwrap().0,
        SignalValue::Int(111)
    );
    assert_eq!(
        other.read_signal(&gb, "exp", "counter").unwrap().0,
        SignalValue::Int(222)
    );

    // Writes down go to the right device only.
    cafe.write_signal(&ga, "imp", "setpoint", 5u16).unwrap();
    within(Duration::from_secs(10), async {
        while a.get("imp", "setpoint").unwrap().0 != SignalValue::Int(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(b.get("imp", "setpoint").unwrap().0, SignalValue::Int(0));

    a.shutdown().await;
    b.shutdown().await;
    cafe.shutdown().await;
    other.shutdown().await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_reconnects_takes_its_clients_back() {
    let logs = logs();
    let certs = certs();
    let sb = start_switchbox("sb-recon", &certs).await;
    let sb_addr = sb.local_addr();
    let db = temp_db("sb-recon-srv");
    let server = start_service(
        &db,
        "cafenet",
        link(sb_addr, &certs, "cafenet", "plant", "pw"),
    )
    .await;
    wait_published(&sb, "cafenet").await;
    let dev = device("gina", "cafenet", sb_addr, &certs);
    let mut dev_events = dev.subscribe();
    within(Duration::from_secs(10), dev.wait_connected()).await;
    dev.set("exp", "counter", 1u32).unwrap();

    // The service goes away: the switchbox closes its clients and forgets the network.
    server.shutdown().await;
    wait_device(&mut dev_events, |e| {
        matches!(e, DeviceEvent::Disconnected { .. }).then_some(())
    })
    .await;
    within(Duration::from_secs(10), async {
        while !sb.networks().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    logs.wait_line(&["service connection ended", "cafenet"])
        .await;
    // Meanwhile the device keeps trying and is told the network is not there.
    logs.wait_line(&["client refused", "no service has published this IO network"])
        .await;
    dev.set("exp", "counter", 2u32).unwrap();

    // The service comes back (same database): the device reconnects and resyncs.
    let server = start_service(
        &db,
        "cafenet",
        link(sb_addr, &certs, "cafenet", "plant", "pw"),
    )
    .await;
    let mut events = server.subscribe();
    within(Duration::from_secs(15), dev.wait_connected()).await;
    let gina = wait_signal(&mut events, "gina", "exp", "counter", &SignalValue::Int(2)).await;
    assert_eq!(gina.number, 9001, "same number from the same database");
    dev.set("exp", "counter", 3u32).unwrap();
    wait_signal(&mut events, "gina", "exp", "counter", &SignalValue::Int(3)).await;
    dev.shutdown().await;
    server.shutdown().await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_drops_is_reported_and_its_id_freed() {
    let _logs = logs();
    let certs = certs();
    // At most two clients at once: a third is accepted only if a dropped one's slot
    // was really given back.
    let sb = start_switchbox_on("sb-drop", &certs, "127.0.0.1:0".parse().unwrap(), |c| {
        c.max_clients_per_network = 2;
    })
    .await;
    let sb_addr = sb.local_addr();
    let server = start_service(
        &temp_db("sb-drop-srv"),
        "cafenet",
        link(sb_addr, &certs, "cafenet", "plant", "pw"),
    )
    .await;
    let mut events = server.subscribe();
    wait_published(&sb, "cafenet").await;

    let one = device("one", "cafenet", sb_addr, &certs);
    within(Duration::from_secs(10), one.wait_connected()).await;
    let two = device("two", "cafenet", sb_addr, &certs);
    within(Duration::from_secs(10), two.wait_connected()).await;
    assert_eq!(sb.networks()[0].clients, vec![1, 2]);

    one.shutdown().await;
    // The service hears about it (CONNECTION_DROPPED → its connection ends).
    let gone = wait_server(&mut events, |e| match e {
        ServerEvent::DeviceDisconnected { device, .. } if device.name == "one" => {
            Some(device.clone())
        }
        _ => None,
    })
    .await;
    assert!(
        !server
            .devices()
            .iter()
            .find(|d| d.device == gone)
            .unwrap()
            .connected
    );
    within(Duration::from_secs(10), async {
        while sb.networks()[0].clients != vec![2] {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    let three = device("three", "cafenet", sb_addr, &certs);
    within(Duration::from_secs(10), three.wait_connected()).await;
    assert_eq!(sb.networks()[0].clients, vec![2, 3]);
    three.set("exp", "counter", 3u32).unwrap();
    wait_signal(&mut events, "three", "exp", "counter", &SignalValue::Int(3)).await;
    two.set("exp", "counter", 2u32).unwrap();
    wait_signal(&mut events, "two", "exp", "counter", &SignalValue::Int(2)).await;
    two.shutdown().await;
    three.shutdown().await;
    server.shutdown().await;
    sb.shutdown().await;
}
