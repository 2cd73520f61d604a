//! The routes: the page's files and the JSON API under `/api` (documented in API.md).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ferrocom_runtime::server::{DeviceInfo, DeviceRef, ServerError};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::session::{self, COOKIE_NAME};
use crate::{AppState, assets, json};

type Shared = Arc<AppState>;
type ApiResult = Result<Response, ApiError>;

pub fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/devices", get(devices))
        .route("/devices/{device}", get(device))
        .route(
            "/devices/{device}/signals/{block}/{signal}",
            get(read_signal).put(write_signal),
        )
        .route(
            "/devices/{device}/signals/{block}/{signal}/history",
            get(history),
        )
        .route("/session", get(session_info))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/events", get(events))
        .fallback(|| async { ApiError::not_found("no such API endpoint; see API.md") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint; see API.md",
            )
        });
    Router::new()
        .nest("/api", api)
        .merge(assets::router())
        .layer(axum::middleware::map_response(assets::security_headers))
        .with_state(state)
}

/// The device a path names: `gina9001.cafenet`, `gina9001`, or `gina` when unique.
fn find(state: &AppState, name: &str) -> Result<DeviceRef, ApiError> {
    state
        .server
        .find_device(name)
        .ok_or_else(|| ApiError::not_found(format!("unknown device {name:?}")))
}

fn info(state: &AppState, dev: &DeviceRef) -> Result<DeviceInfo, ApiError> {
    state
        .server
        .devices()
        .into_iter()
        .find(|i| &i.device == dev)
        .ok_or_else(|| ServerError::UnknownDevice(dev.clone()).into())
}

fn device_summary(i: &DeviceInfo) -> Value {
    let mut v = json::device_ref(&i.device);
    if let Value::Object(m) = &mut v {
        m.insert("connected".into(), Value::Bool(i.connected));
        m.insert("has_map".into(), Value::Bool(i.has_map));
        m.insert(
            "blocks".into(),
            i.blocks
                .iter()
                .map(|b| json!({"name": b.name, "size": b.size, "downward": b.downward}))
                .collect(),
        );
    }
    v
}

async fn devices(State(st): State<Shared>) -> Json<Value> {
    let mut list = st.server.devices();
    list.sort_by(|a, b| a.device.cmp(&b.device));
    Json(Value::Array(list.iter().map(device_summary).collect()))
}

/// One signal's value, state and map entry.
fn signal_json(st: &AppState, dev: &DeviceRef, block: &str, name: &str, downward: bool) -> Value {
    let map = st.server.signal_map(dev);
    let mut m = map
        .as_ref()
        .and_then(|m| m.signal(block, name))
        .map(json::signal_meta)
        .unwrap_or_default();
    m.insert("block".into(), Value::String(block.into()));
    m.insert("writable".into(), Value::Bool(downward));
    match st.server.read_signal(dev, block, name) {
        Ok((v, s)) => {
            m.insert("value".into(), json::value(&v));
            m.insert("text".into(), Value::String(v.to_string()));
            m.insert("state".into(), json::state(s));
        }
        Err(e) => {
            m.insert("value".into(), Value::Null);
            m.insert("error".into(), Value::String(e.to_string()));
        }
    }
    Value::Object(m)
}

async fn device(State(st): State<Shared>, path: Result<Path<String>, PathRejection>) -> ApiResult {
    let Path(name) = path?;
    let dev = find(&st, &name)?;
    let i = info(&st, &dev)?;
    let map = st.server.signal_map(&dev);
    // Blocks in the map's order; blocks the map does not describe (`info`) last.
    let order = |n: &str| {
        map.as_ref()
            .and_then(|m| m.blocks.iter().position(|b| b.name == n))
            .unwrap_or(usize::MAX)
    };
    let mut blocks = i.blocks.clone();
    blocks.sort_by_key(|b| (order(&b.name), b.name.clone()));
    let blocks: Vec<Value> = blocks
        .iter()
        .map(|b| {
            let mb = map.as_ref().and_then(|m| m.block(&b.name));
            let signals: Vec<Value> = mb
                .map(|mb| {
                    mb.signals()
                        .map(|s| signal_json(&st, &dev, &b.name, &s.name, b.downward))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "name": b.name,
                "size": b.size,
                "downward": b.downward,
                "title": mb.and_then(|mb| mb.title.clone()),
                "signals": signals,
            })
        })
        .collect();
    let mut v = device_summary(&i);
    if let Value::Object(m) = &mut v {
        m.insert("blocks".into(), Value::Array(blocks));
    }
    Ok(Json(v).into_response())
}

/// Device, block and signal from the path, checked to exist; whether the block is
/// downward.
fn locate(st: &AppState, path: &(String, String, String)) -> Result<(DeviceRef, bool), ApiError> {
    let (name, block, signal) = path;
    let dev = find(st, name)?;
    let i = info(st, &dev)?;
    let map = st
        .server
        .signal_map(&dev)
        .ok_or_else(|| ApiError::from(ServerError::NoSignalMap(dev.clone())))?;
    let unknown = || {
        ApiError::from(ServerError::UnknownSignal {
            device: dev.clone(),
            signal: format!("{block}.{signal}"),
        })
    };
    map.signal(block, signal).ok_or_else(unknown)?;
    let b = i
        .blocks
        .iter()
        .find(|b| &b.name == block)
        .ok_or_else(unknown)?;
    Ok((dev.clone(), b.downward))
}

async fn read_signal(
    State(st): State<Shared>,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult {
    let Path(p) = path?;
    let (dev, downward) = locate(&st, &p)?;
    let mut v = signal_json(&st, &dev, &p.1, &p.2, downward);
    if let Value::Object(m) = &mut v {
        m.insert("device".into(), Value::String(dev.to_string()));
    }
    Ok(Json(v).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteBody {
    value: Value,
}

async fn write_signal(
    State(st): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<(String, String, String)>, PathRejection>,
    body: Result<Json<WriteBody>, JsonRejection>,
) -> ApiResult {
    let Some(user) = st.sessions.user(&headers) else {
        return Err(ApiError::unauthorized(
            "log in first (POST /api/login): writing signals needs an account",
        ));
    };
    let Path(p) = path?;
    let Json(body) = body?;
    let (dev, downward) = locate(&st, &p)?;
    let (_, block, signal) = &p;
    if !downward {
        return Err(ServerError::NotDownward {
            signal: format!("{block}.{signal}"),
        }
        .into());
    }
    let map = st
        .server
        .signal_map(&dev)
        .ok_or_else(|| ApiError::from(ServerError::NoSignalMap(dev.clone())))?;
    let sig = map.signal(block, signal).ok_or_else(|| {
        ApiError::from(ServerError::UnknownSignal {
            device: dev.clone(),
            signal: format!("{block}.{signal}"),
        })
    })?;
    let value = json::parse_value(sig, &body.value)
        .map_err(|e| ApiError::bad_request(format!("value for {block}.{signal}: {e}")))?;
    st.server.write_signal(&dev, block, signal, value.clone())?;
    tracing::info!(%user, device = %dev, "web: wrote {block}.{signal} = {value}");
    let mut v = signal_json(&st, &dev, block, signal, downward);
    if let Value::Object(m) = &mut v {
        m.insert("device".into(), Value::String(dev.to_string()));
    }
    Ok(Json(v).into_response())
}

async fn history(
    State(st): State<Shared>,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult {
    let Path(p) = path?;
    let (dev, _) = locate(&st, &p)?;
    let points: Vec<Value> = st
        .history
        .points(&dev, &p.1, &p.2)
        .iter()
        .map(|pt| json!({"t": pt.t, "value": json::value(&pt.value), "state": pt.state.bits()}))
        .collect();
    Ok(Json(json!({
        "device": dev.to_string(),
        "block": p.1,
        "signal": p.2,
        "points": points,
    }))
    .into_response())
}

async fn session_info(State(st): State<Shared>, headers: HeaderMap) -> Json<Value> {
    Json(json!({ "user": st.sessions.user(&headers) }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user: String,
    password: String,
}

/// Slows down password guessing; a person logging in does not notice.
const FAILED_LOGIN_DELAY: Duration = Duration::from_millis(300);

async fn login(
    State(st): State<Shared>,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> ApiResult {
    let Json(body) = body?;
    let accounts = st
        .server
        .accounts()
        .list()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if body.user.is_empty() || !session::check(&accounts, &body.user, &body.password) {
        tokio::time::sleep(FAILED_LOGIN_DELAY).await;
        tracing::warn!(user = %body.user, "web: login refused");
        return Err(ApiError::unauthorized("wrong user name or password"));
    }
    let token = st.sessions.open(&body.user).ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot make a session token: the system's random generator failed",
        )
    })?;
    let cookie = format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        st.sessions.ttl().as_secs()
    );
    tracing::info!(user = %body.user, "web: login");
    let mut resp = Json(json!({ "user": body.user })).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(resp)
}

async fn logout(State(st): State<Shared>, headers: HeaderMap) -> Response {
    st.sessions.close(&headers);
    let mut resp = Json(json!({ "user": null })).into_response();
    resp.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("ferrocom_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    resp
}

async fn events(State(st): State<Shared>) -> Response {
    let rx = st.live.subscribe();
    let stop = st.stop.clone();
    let mut resp = Sse::new(live_stream(rx, stop))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The live events until the web part stops; a subscriber that fell behind gets a
/// `lagged` event (the page then reloads what it shows).
fn live_stream(
    rx: broadcast::Receiver<crate::history::LiveEvent>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold((rx, stop), |(mut rx, mut stop)| async move {
        let got = tokio::select! {
            r = rx.recv() => r,
            _ = stop.wait_for(|s| *s) => return None,
        };
        let ev = match got {
            Ok(e) => Event::default().event(e.name).data(e.data.to_string()),
            Err(broadcast::error::RecvError::Lagged(n)) => Event::default()
                .event("lagged")
                .data(json!({ "skipped": n }).to_string()),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(ev), (rx, stop)))
    })
}
