//! A ferrocom device's signals as an Iotellect agent: the device is one known to a
//! ferrocom IOCOM server ([`ServerHandle`]); each memory block is a context, each signal
//! a variable of that context and an event of the same name.
//!
//! | Iotellect | ferrocom |
//! |---|---|
//! | `G/<block>/<signal>` | the signal's current value: a table with one field `value` of the matching type, one record (arrays: one record per element) |
//! | `S/<block>/<signal>/<table>` | writes the signal (downward blocks only; upward ones are `D`, read-only) |
//! | `L/<block>/<signal>/<code>` | from then on every change of the signal (value or state) is sent as event `<signal>` of context `<block>`, level 1, with the same table |
//!
//! Types: `boolean` → `B`; `char`, `uchar`, `short`, `ushort`, `int`, `dec01`,
//! `dec001` (raw) → `I`; `uint`, `int64`, `long` → `L`; `float` → `F`; `double` → `E`;
//! `str` → `S`.

use std::format;
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use ferrocom_spec::signals::{Signal as MapSignal, SignalType as MapType};
use ferrocom_wire::datatable::{DataTable, FieldFormat, FieldType, TableFormat, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::agent::{Agent, AgentConfig, AgentError, AgentNote, Handler};
use crate::iotellect::Refusal;
use crate::server::{DeviceRef, ServerError, ServerEvent, ServerHandle};
use crate::signal::SignalValue;

/// Event level of signal changes (1: notice).
const CHANGE_LEVEL: i32 = 1;

/// The table field type of a signal type.
pub fn field_type(ty: MapType) -> FieldType {
    match ty {
        MapType::Boolean => FieldType::Boolean,
        MapType::Char
        | MapType::Uchar
        | MapType::Short
        | MapType::Ushort
        | MapType::Int
        | MapType::Dec01
        | MapType::Dec001 => FieldType::Integer,
        MapType::Uint | MapType::Int64 | MapType::Long => FieldType::Long,
        MapType::Float => FieldType::Float,
        MapType::Double => FieldType::Double,
        MapType::Str => FieldType::String,
    }
}

fn is_array(sig: &MapSignal) -> bool {
    sig.ty != MapType::Str && sig.array > 1
}

/// The format of a signal's variable: field `value`, one record (an array: one record
/// per element, exactly that many).
pub fn signal_format(sig: &MapSignal) -> TableFormat {
    let n = if is_array(sig) {
        i32::try_from(sig.array).unwrap_or(i32::MAX)
    } else {
        1
    };
    TableFormat::new(vec![FieldFormat::new("value", field_type(sig.ty))]).with_records(n, n)
}

fn cell(ty: FieldType, v: &SignalValue) -> Value {
    match (ty, v) {
        (FieldType::Boolean, SignalValue::Bool(b)) => Value::Boolean(*b),
        (FieldType::Integer, SignalValue::Int(i)) => {
            i32::try_from(*i).map_or(Value::Long(*i), Value::Integer)
        }
        (FieldType::Long, SignalValue::Int(i)) => Value::Long(*i),
        // Single precision is what the signal holds.
        #[allow(clippy::cast_possible_truncation)]
        (FieldType::Float, SignalValue::Float(x)) => Value::Float(*x as f32),
        (FieldType::Double, SignalValue::Float(x)) => Value::Double(*x),
        (_, SignalValue::Str(s)) => Value::String(s.clone()),
        (_, SignalValue::Bool(b)) => Value::Boolean(*b),
        (_, SignalValue::Int(i)) => Value::Long(*i),
        (_, SignalValue::Float(x)) => Value::Double(*x),
        (_, SignalValue::Array(_)) => Value::Null,
    }
}

/// A signal's value as its variable's table.
pub fn signal_table(sig: &MapSignal, value: &SignalValue) -> DataTable {
    let format = signal_format(sig);
    let ty = field_type(sig.ty);
    let mut t = DataTable::new(format);
    match value {
        SignalValue::Array(items) => {
            for v in items {
                t.push(vec![cell(ty, v)]);
            }
        }
        v => {
            t.push(vec![cell(ty, v)]);
        }
    }
    t
}

fn scalar(ty: MapType, v: &Value) -> Result<SignalValue, String> {
    let bad = || format!("a {} value cannot be written to a {ty} signal", kind(v));
    Ok(match (ty, v) {
        (MapType::Boolean, Value::Boolean(b)) => SignalValue::Bool(*b),
        (MapType::Str, Value::String(s)) => SignalValue::Str(s.clone()),
        (MapType::Float | MapType::Double, v) => SignalValue::Float(v.as_f64().ok_or_else(bad)?),
        (_, Value::Integer(i)) => SignalValue::Int(i64::from(*i)),
        (_, Value::Long(i)) => SignalValue::Int(*i),
        _ => return Err(bad()),
    })
}

fn kind(v: &Value) -> &'static str {
    v.field_type().map_or("NULL", FieldType::name)
}

/// A table written to a signal's variable as the signal's value: field `value` of every
/// record (one for a scalar, up to the array length for an array).
pub fn table_value(sig: &MapSignal, table: &DataTable) -> Result<SignalValue, String> {
    if table.records.is_empty() {
        return Err("the table has no record".into());
    }
    let mut values = (0..table.records.len())
        .map(|row| {
            table
                .get(row, "value")
                .ok_or_else(|| "the table has no field \"value\"".to_string())
                .and_then(|v| scalar(sig.ty, v))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if is_array(sig) {
        if values.len() > sig.array {
            return Err(format!(
                "{} records for an array of {}",
                values.len(),
                sig.array
            ));
        }
        Ok(SignalValue::Array(values))
    } else if values.len() == 1
        && let Some(v) = values.pop()
    {
        Ok(v)
    } else {
        Err(format!("{} records for a single value", values.len()))
    }
}

/// Does `device` go by `name` (`gina`, `gina9001` or `gina9001.cafenet`)?
fn named(device: &DeviceRef, name: &str) -> bool {
    device.name == name
        || format!("{}{}", device.name, device.number) == name
        || device.to_string() == name
}

/// The [`Handler`] serving one device's signals from an IOCOM server.
#[derive(Debug, Clone)]
pub struct DeviceSignals {
    server: Arc<ServerHandle>,
    device: String,
}

impl DeviceSignals {
    /// The signals of the device called `device` (as [`ServerHandle::find_device`]
    /// takes it) on `server`.
    pub fn new(server: Arc<ServerHandle>, device: &str) -> Self {
        DeviceSignals {
            server,
            device: device.into(),
        }
    }

    fn device(&self) -> Result<DeviceRef, Refusal> {
        self.server
            .find_device(&self.device)
            .ok_or_else(|| Refusal::denied(format!("device {} not known yet", self.device)))
    }

    fn signal(&self, block: &str, signal: &str) -> Result<(DeviceRef, MapSignal), Refusal> {
        let dev = self.device()?;
        let map = self
            .server
            .signal_map(&dev)
            .ok_or_else(|| Refusal::denied(format!("signal map of {dev} not known yet")))?;
        let sig = map
            .signal(block, signal)
            .ok_or_else(|| Refusal::denied(format!("Variable not available: {block}.{signal}")))?;
        Ok((dev, sig.clone()))
    }
}

fn refusal(e: ServerError) -> Refusal {
    match e {
        ServerError::NotDownward { signal } => {
            Refusal::denied(format!("{signal} is read-only (an upward signal)"))
        }
        ServerError::UnknownDevice(_)
        | ServerError::NoSignalMap(_)
        | ServerError::UnknownSignal { .. } => Refusal::denied(e.to_string()),
        other => Refusal::error(other.to_string()),
    }
}

impl Handler for DeviceSignals {
    fn get_variable(&mut self, context: &str, variable: &str) -> Result<DataTable, Refusal> {
        let (dev, sig) = self.signal(context, variable)?;
        let (value, _state) = self
            .server
            .read_signal(&dev, context, variable)
            .map_err(refusal)?;
        Ok(signal_table(&sig, &value))
    }

    fn set_variable(
        &mut self,
        context: &str,
        variable: &str,
        value: DataTable,
    ) -> Result<(), Refusal> {
        let (dev, sig) = self.signal(context, variable)?;
        let v = table_value(&sig, &value).map_err(Refusal::error)?;
        self.server
            .write_signal(&dev, context, variable, v)
            .map_err(refusal)
    }

    fn variable_format(&self, context: &str, variable: &str) -> Option<TableFormat> {
        self.signal(context, variable)
            .ok()
            .map(|(_, s)| signal_format(&s))
    }

    fn has_event(&self, context: &str, event: &str) -> bool {
        self.signal(context, event).is_ok()
    }
}

/// An agent serving a device's signals, with its change events; see the
/// [module docs](self).
#[derive(Debug)]
pub struct SignalAgent {
    agent: Arc<Agent>,
    forward: JoinHandle<()>,
}

impl SignalAgent {
    /// Starts an agent for the device called `device` on `server` (the device may
    /// connect later).
    pub fn start(
        server: Arc<ServerHandle>,
        device: &str,
        cfg: AgentConfig,
    ) -> Result<(SignalAgent, mpsc::UnboundedReceiver<AgentNote>), AgentError> {
        // Subscribed before the agent starts, so that no change after a listener is
        // added can be missed.
        let mut events = server.subscribe();
        let (agent, notes) = Agent::start(cfg, DeviceSignals::new(server.clone(), device))?;
        let agent = Arc::new(agent);
        let forward = {
            let agent = agent.clone();
            let device = device.to_string();
            tokio::spawn(async move {
                while let Some(e) = events.recv().await {
                    let ServerEvent::SignalChanged {
                        device: d,
                        block,
                        signal,
                        value,
                        ..
                    } = e
                    else {
                        continue;
                    };
                    // The same device Get and Set resolve (a name two devices share
                    // resolves to none).
                    if !named(&d, &device) || server.find_device(&device).as_ref() != Some(&d) {
                        continue;
                    }
                    let Some(sig) = server
                        .signal_map(&d)
                        .and_then(|m| m.signal(&block, &signal).cloned())
                    else {
                        continue;
                    };
                    let table = signal_table(&sig, &value);
                    if let Err(e) = agent.fire_event(&block, &signal, CHANGE_LEVEL, &table) {
                        tracing::warn!(block, signal, "cannot send the change event: {e}");
                    }
                }
            })
        };
        Ok((SignalAgent { agent, forward }, notes))
    }

    /// The agent (listeners, state, events of your own).
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Stops forwarding changes, closes the connection.
    pub async fn shutdown(self) {
        self.forward.abort();
        let _ = self.forward.await;
        if let Ok(agent) = Arc::try_unwrap(self.agent) {
            agent.shutdown().await;
        }
    }
}
