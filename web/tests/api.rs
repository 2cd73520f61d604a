//! The JSON API with a real HTTP client against a real server on 127.0.0.1:0 and a real
//! runtime device: listing, reading, history, the live stream, login and writes that
//! reach the device, and 4xx replies that name what was wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Net, PASSWORD, USER, within};
use ferrocom_runtime::device::DeviceEvent;
use ferrocom_runtime::signal::SignalValue;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get(net: &Net, path: &str) -> (StatusCode, Value) {
    let r = client().get(net.url(path)).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// Polls a signal until `pred` holds for its JSON.
async fn wait_signal(net: &Net, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    within(Duration::from_secs(10), async {
        loop {
            let (s, v) = get(net, path).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            if pred(&v) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Logs in; the session cookie to send back.
async fn login(net: &Net) -> String {
    let r = client()
        .post(net.url("/api/login"))
        .json(&json!({"user": USER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    let pair = set.split(';').next().unwrap().to_string();
    let token = pair.strip_prefix("ferrocom_session=").unwrap();
    assert_eq!(token.len(), 64, "256 random bits in hex: {token}");
    assert_eq!(r.json::<Value>().await.unwrap()["user"], USER);
    pair
}

async fn put(net: &Net, cookie: Option<&str>, path: &str, body: &str) -> (StatusCode, Value) {
    let mut rq = client()
        .put(net.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(c) = cookie {
        rq = rq.header("cookie", c);
    }
    let r = rq.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, v)
}

/// Asserts a 4xx/5xx reply of `status` whose message contains every one of `words`.
fn assert_error(got: &(StatusCode, Value), status: StatusCode, words: &[&str]) {
    assert_eq!(got.0, status, "{}", got.1);
    let msg = got.1["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {}", got.1));
    for w in words {
        assert!(msg.contains(w), "{msg:?} does not mention {w:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_signals_and_history() {
    let net = Net::start("read").await;
    let id = net.gina.to_string();
    assert_eq!(id, "gina9001.cafenet");

    let (s, list) = get(&net, "/api/devices").await;
    assert_eq!(s, StatusCode::OK);
    let d = &list.as_array().unwrap()[0];
    assert_eq!(d["id"], "gina9001.cafenet");
    assert_eq!(d["name"], "gina");
    assert_eq!(d["number"], 9001);
    assert_eq!(d["connected"], true);
    assert_eq!(d["has_map"], true);
    let names: Vec<&str> = d["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"exp") && names.contains(&"imp"),
        "{names:?}"
    );

    // Arrays and strings come as JSON arrays and strings.
    net.dev
        .set(
            "exp",
            "testfloat",
            SignalValue::Array(vec![1.5.into(), (-2.0).into(), 0.25.into()]),
        )
        .unwrap();
    let tf = wait_signal(&net, "/api/devices/gina9001/signals/exp/testfloat", |v| {
        v["value"] == json!([1.5, -2.0, 0.25])
    })
    .await;
    assert_eq!(tf["type"], "float");
    assert_eq!(tf["array"], 3);
    assert_eq!(tf["state"]["connected"], true);
    assert_eq!(tf["writable"], false);

    // The device view: blocks in map order with every signal, value and state.
    let (s, detail) = get(&net, "/api/devices/gina9001.cafenet").await;
    assert_eq!(s, StatusCode::OK);
    let exp = &detail["blocks"][0];
    assert_eq!(exp["name"], "exp");
    assert_eq!(exp["downward"], false);
    let sig = |block: &Value, name: &str| {
        block["signals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {block}"))
            .clone()
    };
    assert_eq!(sig(exp, "teststr")["value"], "hello");
    assert_eq!(sig(exp, "teststr")["text"], "\"hello\"");
    assert_eq!(sig(exp, "potentiometer")["value"], 1.25);
    assert_eq!(sig(exp, "potentiometer")["unit"], "V");
    assert_eq!(sig(exp, "potentiometer")["digs"], 2);
    let imp = &detail["blocks"][1];
    assert_eq!(imp["name"], "imp");
    assert_eq!(imp["downward"], true);
    assert_eq!(sig(imp, "setpoint")["writable"], true);

    // State bits: ORANGE shows in the JSON.
    net.dev
        .set_with_state(
            "exp",
            "potentiometer",
            2.5f32,
            ferrocom_wire::signals::State::CONNECTED | ferrocom_wire::signals::State::ORANGE,
        )
        .unwrap();
    let p = wait_signal(&net, "/api/devices/gina/signals/exp/potentiometer", |v| {
        v["value"] == 2.5
    })
    .await;
    assert_eq!(p["state"]["orange"], true);
    assert_eq!(p["state"]["yellow"], false);
    // Bit 0 is the C library's "non-zero" flag for numbers; the colours are bits 1-3.
    assert_eq!(p["state"]["bits"].as_u64().unwrap() & 0x0E, 0x06);

    // History: every change, oldest first, with times that never go back.
    for n in [5u32, 6, 7] {
        net.dev.set("exp", "counter", n).unwrap();
        wait_signal(&net, "/api/devices/gina/signals/exp/counter", |v| {
            v["value"] == n
        })
        .await;
    }
    let (s, h) = get(&net, "/api/devices/gina/signals/exp/counter/history").await;
    assert_eq!(s, StatusCode::OK);
    let pts = h["points"].as_array().unwrap();
    let values: Vec<i64> = pts.iter().map(|p| p["value"].as_i64().unwrap()).collect();
    assert!(values.ends_with(&[5, 6, 7]), "{values:?}");
    let times: Vec<u64> = pts.iter().map(|p| p["t"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(pts.last().unwrap()["state"].as_u64().unwrap() & 0x0E, 0x02);

    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_stream_receives_a_change() {
    let net = Net::start("sse").await;
    let mut resp = client().get(net.url("/api/events")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // Changes keep coming until the stream shows one: the subscription may start a
    // moment after the request returns.
    let mut seen = String::new();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut n = 1000u32;
    let event = within(Duration::from_secs(10), async {
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => c.unwrap().expect("stream ended"),
                _ = tick.tick() => {
                    n += 1;
                    net.dev.set("exp", "counter", n).unwrap();
                    continue;
                }
            };
            seen.push_str(&String::from_utf8_lossy(&chunk));
            // One SSE event: "event: signal\ndata: {...}\n\n".
            if let Some(block) = seen
                .split("\n\n")
                .find(|e| e.contains("event: signal") && e.contains("\"counter\""))
            {
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap()
                    .to_string();
                return serde_json::from_str::<Value>(&data).unwrap();
            }
        }
    })
    .await;
    assert_eq!(event["device"], "gina9001.cafenet");
    assert_eq!(event["block"], "exp");
    assert!(event["value"].as_u64().unwrap() >= 1000, "{event}");
    assert_eq!(event["state"]["connected"], true);
    assert!(event["t"].as_u64().unwrap() > 1_600_000_000_000);
    drop(resp);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_a_login_and_reach_the_device() {
    let net = Net::start("write").await;
    let path = "/api/devices/gina9001.cafenet/signals/imp/setpoint";

    let refused = put(&net, None, path, r#"{"value": 1234}"#).await;
    assert_error(&refused, StatusCode::UNAUTHORIZED, &["log in"]);
    let forged = put(&net, Some("ferrocom_session=00ff"), path, r#"{"value": 1}"#).await;
    assert_error(&forged, StatusCode::UNAUTHORIZED, &["log in"]);

    for (user, password) in [(USER, "wrong"), ("nobody", PASSWORD), ("", "")] {
        let r = client()
            .post(net.url("/api/login"))
            .json(&json!({"user": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{user}/{password}");
        assert!(r.headers().get("set-cookie").is_none());
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "wrong user name or password");
    }

    let cookie = login(&net).await;
    let (_, who) = {
        let r = client()
            .get(net.url("/api/session"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(who["user"], USER);

    let mut dev_events = net.dev.subscribe();
    let ok = put(&net, Some(&cookie), path, r#"{"value": 1234}"#).await;
    assert_eq!(ok.0, StatusCode::OK, "{}", ok.1);
    assert_eq!(ok.1["value"], 1234);
    let got = within(Duration::from_secs(10), async {
        loop {
            if let Some(DeviceEvent::Write {
                block,
                signal,
                value,
                state,
            }) = dev_events.recv().await
            {
                return (block, signal, value, state);
            }
        }
    })
    .await;
    assert_eq!(got.0, "imp");
    assert_eq!(got.1, "setpoint");
    assert_eq!(got.2, SignalValue::Int(1234));
    assert!(got.3.is_connected());
    assert_eq!(
        net.dev.get("imp", "setpoint").unwrap().0,
        SignalValue::Int(1234)
    );

    // What a person types also works: text, a boolean word, an array.
    let t = put(
        &net,
        Some(&cookie),
        "/api/devices/gina/signals/imp/label",
        r#"{"value": "pump 2"}"#,
    )
    .await;
    assert_eq!(t.1["value"], "pump 2", "{}", t.1);
    let b = put(
        &net,
        Some(&cookie),
        "/api/devices/gina/signals/imp/myoutput",
        r#"{"value": "on"}"#,
    )
    .await;
    assert_eq!(b.1["value"], true, "{}", b.1);
    let a = put(
        &net,
        Some(&cookie),
        "/api/devices/gina/signals/imp/gains",
        r#"{"value": [1, -2, 3]}"#,
    )
    .await;
    assert_eq!(a.1["value"], json!([1, -2, 3]), "{}", a.1);
    let a2 = put(
        &net,
        Some(&cookie),
        "/api/devices/gina/signals/imp/gains",
        r#"{"value": "4, 5, 6"}"#,
    )
    .await;
    assert_eq!(a2.1["value"], json!([4, 5, 6]), "{}", a2.1);
    within(Duration::from_secs(10), async {
        while net.dev.get("imp", "gains").unwrap().0
            != SignalValue::Array(vec![4.into(), 5.into(), 6.into()])
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // Logged out, the cookie is worth nothing.
    let r = client()
        .post(net.url("/api/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let after = put(&net, Some(&cookie), path, r#"{"value": 1}"#).await;
    assert_error(&after, StatusCode::UNAUTHORIZED, &["log in"]);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_gets_4xx_naming_the_problem() {
    let net = Net::start("bad").await;
    let cookie = login(&net).await;
    let c = Some(cookie.as_str());
    let sp = "/api/devices/gina/signals/imp/setpoint";

    assert_error(
        &put(&net, c, sp, "{\"value\": ").await,
        StatusCode::BAD_REQUEST,
        &["JSON"],
    );
    assert_error(
        &put(&net, c, sp, "{}").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        &["value"],
    );
    assert_error(
        &put(&net, c, sp, r#"{"value": 1, "force": true}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        &["force"],
    );
    assert_error(
        &put(
            &net,
            c,
            "/api/devices/frank/signals/imp/setpoint",
            r#"{"value": 1}"#,
        )
        .await,
        StatusCode::NOT_FOUND,
        &["unknown device", "frank"],
    );
    assert_error(
        &put(
            &net,
            c,
            "/api/devices/gina/signals/imp/nosuch",
            r#"{"value": 1}"#,
        )
        .await,
        StatusCode::NOT_FOUND,
        &["imp.nosuch"],
    );
    assert_error(
        &put(
            &net,
            c,
            "/api/devices/gina/signals/nosuch/setpoint",
            r#"{"value": 1}"#,
        )
        .await,
        StatusCode::NOT_FOUND,
        &["nosuch.setpoint"],
    );
    // Does not fit a ushort.
    assert_error(
        &put(&net, c, sp, r#"{"value": 70000}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        &["imp.setpoint", "ushort", "70000"],
    );
    assert_error(
        &put(&net, c, sp, r#"{"value": 1.5}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        &["imp.setpoint", "ushort", "1.5"],
    );
    assert_error(
        &put(&net, c, sp, r#"{"value": "twelve"}"#).await,
        StatusCode::BAD_REQUEST,
        &["imp.setpoint", "twelve", "ushort"],
    );
    assert_error(
        &put(&net, c, sp, r#"{"value": {"x": 1}}"#).await,
        StatusCode::BAD_REQUEST,
        &["object", "setpoint"],
    );
    assert_error(
        &put(&net, c, sp, r#"{"value": null}"#).await,
        StatusCode::BAD_REQUEST,
        &["null", "setpoint"],
    );
    assert_error(
        &put(
            &net,
            c,
            "/api/devices/gina/signals/imp/gains",
            r#"{"value": [1, 2, 3, 4]}"#,
        )
        .await,
        StatusCode::BAD_REQUEST,
        &["4 values", "gains", "array of 3"],
    );
    assert_error(
        &put(&net, c, sp, r#"{"value": [1, 2]}"#).await,
        StatusCode::BAD_REQUEST,
        &["setpoint", "not an array"],
    );
    assert_error(
        &put(
            &net,
            c,
            "/api/devices/gina/signals/imp/label",
            r#"{"value": "far too long"}"#,
        )
        .await,
        StatusCode::BAD_REQUEST,
        &["imp.label", "12 bytes", "at most 8"],
    );
    // An upward signal belongs to the device.
    assert_error(
        &put(
            &net,
            c,
            "/api/devices/gina/signals/exp/counter",
            r#"{"value": 1}"#,
        )
        .await,
        StatusCode::CONFLICT,
        &["exp.counter", "upward"],
    );
    // The wrong media type.
    let r = client()
        .put(net.url(sp))
        .header("cookie", &cookie)
        .body("value=1")
        .send()
        .await
        .unwrap();
    let got = (r.status(), r.json::<Value>().await.unwrap());
    assert_error(&got, StatusCode::UNSUPPORTED_MEDIA_TYPE, &["Content-Type"]);
    // Reads and logins too.
    assert_error(
        &get(&net, "/api/devices/frank").await,
        StatusCode::NOT_FOUND,
        &["frank"],
    );
    assert_error(
        &get(&net, "/api/devices/gina/signals/exp/nosuch/history").await,
        StatusCode::NOT_FOUND,
        &["exp.nosuch"],
    );
    assert_error(
        &get(&net, "/api/nothing").await,
        StatusCode::NOT_FOUND,
        &["API.md"],
    );
    // A path that does not decode to UTF-8.
    assert_error(
        &get(&net, "/api/devices/%FF%FE").await,
        StatusCode::BAD_REQUEST,
        &["UTF-8"],
    );
    let r = client()
        .post(net.url("/api/login"))
        .header("content-type", "application/json")
        .body("{\"user\": 3}")
        .send()
        .await
        .unwrap();
    let got = (r.status(), r.json::<Value>().await.unwrap());
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, &["user"]);
    let r = client().delete(net.url(sp)).send().await.unwrap();
    let got = (r.status(), r.json::<Value>().await.unwrap());
    assert_error(&got, StatusCode::METHOD_NOT_ALLOWED, &["method"]);

    // None of it reached the device or changed the value.
    assert_eq!(
        net.dev.get("imp", "setpoint").unwrap().0,
        SignalValue::Int(0)
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_files_are_served_with_their_types() {
    let net = Net::start("assets").await;
    for (path, kind, needle) in [
        ("/", "text/html", "signal browser"),
        ("/app.js", "text/javascript", "EventSource"),
        ("/style.css", "text/css", ":root"),
        ("/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let r = client().get(net.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(kind), "{path}: {ct}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{path}");
        // Nothing is fetched from anywhere else (the SVG namespace is a name, not a link).
        assert!(!body.contains("https://"), "{path} links outside");
        if path == "/" {
            assert!(!body.contains("http:"), "the page links outside");
        }
    }
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_state_follows_the_device() {
    use ferrocom_runtime::device::{Connect, Device, DeviceConfig};
    let net = Net::start("conn").await;
    let mut stream = client().get(net.url("/api/events")).send().await.unwrap();
    let map = ferrocom_spec::signals::SignalMap::from_json_str("map", common::MAP)
        .unwrap()
        .0;
    let frank = Device::start(DeviceConfig::new(
        "frank",
        "cafenet",
        map,
        Connect::Tcp(net.server.local_addrs()[0].to_string()),
    ))
    .unwrap();
    frank.set("exp", "counter", 42u32).unwrap();
    let listed = |connected: bool| {
        let net = &net;
        async move {
            within(Duration::from_secs(10), async {
                loop {
                    let (_, list) = get(net, "/api/devices").await;
                    let f = list
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|d| d["name"] == "frank")
                        .cloned();
                    if let Some(f) = f
                        && f["connected"] == connected
                        && f["has_map"] == true
                    {
                        return f;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
        }
    };
    let f = listed(true).await;
    let id = f["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("frank") && id.ends_with(".cafenet"), "{id}");
    frank.shutdown().await;
    listed(false).await;

    // The stream told of both, and the values stay readable without CONNECTED.
    let mut seen = String::new();
    within(Duration::from_secs(10), async {
        while !(seen.contains(&format!("\"device\":\"{id}\",\"event\":\"connected\""))
            && seen.contains(&format!("\"device\":\"{id}\",\"event\":\"disconnected\"")))
        {
            let c = stream.chunk().await.unwrap().expect("stream ended");
            seen.push_str(&String::from_utf8_lossy(&c));
        }
    })
    .await;
    let (s, v) = get(&net, &format!("/api/devices/{id}/signals/exp/counter")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["value"], 42);
    assert_eq!(v["state"]["connected"], false, "{v}");
    drop(stream);
    net.stop().await;
}
