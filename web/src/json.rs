//! Signal values and state bytes as the API's JSON, and values written by a caller back
//! into [`SignalValue`]s.

use ferrocom_runtime::server::DeviceRef;
use ferrocom_runtime::signal::SignalValue;
use ferrocom_spec::signals::{Signal, SignalType};
use ferrocom_wire::signals::State;
use serde_json::{Value, json};

/// A value as JSON: booleans, numbers, strings, arrays of them. A float that JSON cannot
/// hold (NaN, infinity) is `null`; the `text` beside it still shows it.
pub fn value(v: &SignalValue) -> Value {
    match v {
        SignalValue::Bool(b) => Value::Bool(*b),
        SignalValue::Int(i) => Value::from(*i),
        SignalValue::Float(x) => {
            serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number)
        }
        SignalValue::Str(s) => Value::String(s.clone()),
        SignalValue::Array(items) => Value::Array(items.iter().map(value).collect()),
    }
}

/// The state byte with its bits spelled out.
pub fn state(s: State) -> Value {
    json!({
        "bits": s.bits(),
        "connected": s.is_connected(),
        "orange": s.is_orange(),
        "yellow": s.is_yellow(),
    })
}

/// A device's identity fields.
pub fn device_ref(d: &DeviceRef) -> Value {
    json!({
        "id": d.to_string(),
        "name": d.name,
        "number": d.number,
        "network": d.network,
    })
}

/// What the map says about a signal (type, size, display hints).
pub fn signal_meta(sig: &Signal) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("name".into(), Value::String(sig.name.clone()));
    m.insert("type".into(), Value::String(sig.ty.name().into()));
    m.insert("array".into(), Value::from(sig.array));
    m.insert("addr".into(), Value::from(sig.addr));
    let num = |n: &Option<ferrocom_spec::signals::JsonNumber>| {
        n.as_ref()
            .and_then(|n| serde_json::Number::from_f64(n.float))
            .map_or(Value::Null, Value::Number)
    };
    m.insert(
        "unit".into(),
        sig.unit.clone().map_or(Value::Null, Value::String),
    );
    m.insert("digs".into(), sig.digs.map_or(Value::Null, Value::from));
    m.insert("min".into(), num(&sig.min));
    m.insert("max".into(), num(&sig.max));
    m
}

/// The value a caller wrote for `sig`, from JSON. A string for a non-`str` signal is read
/// the way a person types it (`"41.5"`, `"on"`, `"1, 2, 3"`), so the page can send what
/// was typed. Whether the value fits the type (300 into a `uchar`) is checked on write.
pub fn parse_value(sig: &Signal, v: &Value) -> Result<SignalValue, String> {
    let parsed = match v {
        // The runtime would cut the text to fit; a caller should hear that instead.
        Value::String(s) if sig.ty == SignalType::Str && s.len() > sig.array => {
            return Err(format!(
                "text of {} bytes for signal {}, which holds at most {}",
                s.len(),
                sig.name,
                sig.array
            ));
        }
        Value::String(s) if sig.ty == SignalType::Str => SignalValue::Str(s.clone()),
        Value::String(s) => SignalValue::parse(sig, s)?,
        Value::Array(items) => {
            if sig.array <= 1 || sig.ty == SignalType::Str {
                return Err(format!(
                    "signal {} is a single {}, not an array",
                    sig.name, sig.ty
                ));
            }
            if items.len() > sig.array {
                return Err(format!(
                    "{} values for signal {}, an array of {}",
                    items.len(),
                    sig.name,
                    sig.array
                ));
            }
            SignalValue::Array(
                items
                    .iter()
                    .map(|i| scalar(sig, i))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        }
        other => scalar(sig, other)?,
    };
    Ok(parsed)
}

fn scalar(sig: &Signal, v: &Value) -> Result<SignalValue, String> {
    match v {
        Value::Bool(b) => Ok(SignalValue::Bool(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(SignalValue::Int(i))
            } else if n.is_u64() {
                Err(format!(
                    "{n} is too large for signal {} ({})",
                    sig.name, sig.ty
                ))
            } else {
                n.as_f64()
                    .map(SignalValue::Float)
                    .ok_or_else(|| format!("{n} is not a number for signal {}", sig.name))
            }
        }
        Value::String(s) if sig.ty == SignalType::Str => Ok(SignalValue::Str(s.clone())),
        Value::String(s) => {
            let mut one = sig.clone();
            one.array = 1;
            SignalValue::parse(&one, s)
        }
        Value::Null => Err(format!(
            "null is not a value for signal {} ({})",
            sig.name, sig.ty
        )),
        Value::Array(_) => Err(format!(
            "nested arrays are not values for signal {} ({})",
            sig.name, sig.ty
        )),
        Value::Object(_) => Err(format!(
            "an object is not a value for signal {} ({}); give a number, boolean, string or array",
            sig.name, sig.ty
        )),
    }
}
