//! The generated stubs on both ends of a real TCP connection: the typed device sets its
//! upward signals and hears typed writes; the typed server handle reads them, writes
//! downward signals and hears typed changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ferrocom_example_device_stubs::{Thermostat, ThermostatChange, ThermostatWrite};
use ferrocom_runtime::device::Connect;
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent};

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_device_and_typed_server_handle() {
    let db = std::env::temp_dir().join(format!("ferrocom-stubs-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let mut cfg = ServerConfig::new("cafenet", &db);
    cfg.endpoints
        .push(Endpoint::Tcp("127.0.0.1:0".parse().unwrap()));
    let server = Server::start(cfg).await.unwrap();
    let mut events = server.subscribe();
    let addr = server.local_addrs()[0];

    let device =
        Thermostat::connect(Thermostat::config("cafenet", Connect::Tcp(addr.to_string())).unwrap())
            .unwrap();
    let mut writes = device.writes();
    within(device.wait_connected()).await;
    within(async {
        while !matches!(
            events.recv().await,
            Some(ServerEvent::SignalMapLearned { .. })
        ) {}
    })
    .await;

    // Device → server, typed both ends.
    let remote = server.device::<Thermostat>("thermostat").unwrap();
    assert_eq!(remote.device().name, "thermostat");
    let mut changes = remote.changes();
    device.set_temperature(21.5).unwrap();
    device.set_heating(true).unwrap();
    device.set_history([200, 205, -3, 0]).unwrap();
    device.set_status("warming up".to_string()).unwrap();
    let mut seen = Vec::new();
    within(async {
        while let Some(c) = changes.recv().await {
            let last = matches!(c, ThermostatChange::Status { .. });
            seen.push(c);
            if last {
                break;
            }
        }
    })
    .await;
    assert!(
        seen.iter().any(|c| matches!(c, ThermostatChange::Temperature { value, state } if *value == 21.5 && state.is_connected())),
        "{seen:?}"
    );
    assert_eq!(remote.temperature().unwrap().0, 21.5);
    assert!(remote.heating().unwrap().0);
    assert_eq!(remote.history().unwrap().0, [200, 205, -3, 0]);
    assert_eq!(remote.status().unwrap().0, "warming up");

    // Server → device, typed both ends.
    remote.set_setpoint(19.0).unwrap();
    remote.set_schedule([600, 1320, 0]).unwrap();
    let mut got = Vec::new();
    within(async {
        while let Some(w) = writes.recv().await {
            let last = matches!(w, ThermostatWrite::Schedule { .. });
            got.push(w);
            if last {
                break;
            }
        }
    })
    .await;
    assert!(
        got.iter()
            .any(|w| matches!(w, ThermostatWrite::Setpoint { value, .. } if *value == 19.0)),
        "{got:?}"
    );
    assert!(
        got.iter().any(
            |w| matches!(w, ThermostatWrite::Schedule { value, .. } if *value == [600, 1320, 0])
        ),
        "{got:?}"
    );
    assert_eq!(device.setpoint().unwrap().0, 19.0);

    // An unknown device is an error, not a panic.
    assert!(server.device::<Thermostat>("nosuch").is_err());

    device.shutdown().await;
    server.shutdown().await;
    let _ = std::fs::remove_file(&db);
}

/// The derived device (Rust structs) and the JSON-generated server handle agree: same
/// layout, same map, typed values both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_device_talks_to_json_generated_remote() {
    use ferrocom_example_device_stubs::derived;
    use ferrocom_runtime::typed::DeviceKind;

    let json_map = Thermostat::map().unwrap();
    let derived_map = derived::Thermostat::map().unwrap();
    for (a, b) in json_map.blocks.iter().zip(&derived_map.blocks) {
        assert_eq!((a.name.as_str(), a.size), (b.name.as_str(), b.size));
        let sa: Vec<_> = a
            .signals()
            .map(|s| (s.name.clone(), s.addr, s.ty, s.array))
            .collect();
        let sb: Vec<_> = b
            .signals()
            .map(|s| (s.name.clone(), s.addr, s.ty, s.array))
            .collect();
        assert_eq!(sa, sb, "block {}", a.name);
    }

    let db = std::env::temp_dir().join(format!("ferrocom-stubs-derived-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let mut cfg = ServerConfig::new("cafenet", &db);
    cfg.endpoints
        .push(Endpoint::Tcp("127.0.0.1:0".parse().unwrap()));
    let server = Server::start(cfg).await.unwrap();
    let mut events = server.subscribe();
    let addr = server.local_addrs()[0];
    let device = derived::Thermostat::connect(
        derived::Thermostat::config("cafenet", Connect::Tcp(addr.to_string())).unwrap(),
    )
    .unwrap();
    let mut writes = device.writes();
    within(async {
        while !matches!(
            events.recv().await,
            Some(ServerEvent::SignalMapLearned { .. })
        ) {}
    })
    .await;
    let remote = server.device::<Thermostat>("thermostat").unwrap();
    let mut changes = remote.changes();
    device.set_temperature(18.25).unwrap();
    within(async {
        while !matches!(changes.recv().await, Some(ThermostatChange::Temperature { value, .. }) if value == 18.25) {}
    })
    .await;
    remote.set_mode(2).unwrap();
    let w = within(writes.recv()).await.unwrap();
    assert_eq!(
        w,
        derived::ThermostatWrite::Mode {
            value: 2,
            state: ferrocom_runtime::typed::State::CONNECTED
                | ferrocom_runtime::typed::State::BOOLEAN_VALUE,
        }
    );
    device.shutdown().await;
    server.shutdown().await;
    let _ = std::fs::remove_file(&db);
}
