//! What generated device and server stubs are built on (`ferrocom gen --stubs`,
//! `Bindings::stubs`): a device kind named by its signal map, typed reads and writes
//! over the by-name API of [`device`](crate::device) and [`server`](crate::server), and
//! a server's view of one device.
//!
//! A stub for a map named `gina` is a marker type `Gina` implementing [`DeviceKind`], a
//! device-side `GinaDevice` (`Gina::connect(config)`, `set_potentiometer(f32)`, a stream of
//! typed downward writes) and a server-side `GinaRemote` (`server.device::<Gina>("gina1")`,
//! typed getters, setters of downward signals and a stream of typed changes).

use std::prelude::rust_2024::*;

use ferrocom_spec::signals::SignalMap;
pub use ferrocom_wire::signals::{Dec001, Dec01, State};

use crate::device::{DeviceError, DeviceHandle};
use crate::server::{DeviceRef, ServerError, ServerEvent, ServerEvents, ServerHandle};
use crate::signal::{SignalAccessError, SignalData, SignalValue};

/// A kind of device, described by its signal map (implemented by generated stubs).
pub trait DeviceKind {
    /// The device name in the map (`gina`).
    const NAME: &'static str;
    /// The signal map, as JSON.
    const MAP_JSON: &'static str;
    /// The server-side stub for one device of this kind.
    type Remote<'s>: From<RemoteDevice<'s>>;

    /// The signal map, parsed.
    fn map() -> Result<SignalMap, DeviceError> {
        SignalMap::from_json_str(Self::NAME, Self::MAP_JSON)
            .map(|(m, _)| m)
            .map_err(|e| DeviceError::Map(e.to_string()))
    }
}

fn mismatch<T>(block: &str, signal: &str, value: SignalValue) -> SignalAccessError {
    SignalAccessError::TypeMismatch {
        signal: std::format!("{block}.{signal}"),
        rust_type: core::any::type_name::<T>(),
        value,
    }
}

/// Reads a signal of a device's own copy as `T`.
pub fn device_get<T: SignalData>(
    dev: &DeviceHandle,
    block: &str,
    signal: &str,
) -> Result<(T, State), DeviceError> {
    let (v, st) = dev.get(block, signal)?;
    match T::from_value(&v) {
        Some(t) => Ok((t, st)),
        None => Err(DeviceError::Signal(mismatch::<T>(block, signal, v))),
    }
}

/// Writes a signal of an upward block from a `T`.
pub fn device_set<T: SignalData>(
    dev: &DeviceHandle,
    block: &str,
    signal: &str,
    value: T,
) -> Result<(), DeviceError> {
    dev.set(block, signal, value.into_value())
}

/// A typed value out of an event's [`SignalValue`]; `None` if it has another shape.
pub fn typed<T: SignalData>(value: &SignalValue) -> Option<T> {
    T::from_value(value)
}

/// One device as a server sees it; generated `…Remote` types wrap it.
#[derive(Debug, Clone)]
pub struct RemoteDevice<'s> {
    server: &'s ServerHandle,
    device: DeviceRef,
}

impl<'s> RemoteDevice<'s> {
    /// Who.
    pub fn device(&self) -> &DeviceRef {
        &self.device
    }

    /// The server.
    pub fn server(&self) -> &'s ServerHandle {
        self.server
    }

    /// Reads a signal as `T`.
    pub fn get<T: SignalData>(&self, block: &str, signal: &str) -> Result<(T, State), ServerError> {
        let (v, st) = self.server.read_signal(&self.device, block, signal)?;
        match T::from_value(&v) {
            Some(t) => Ok((t, st)),
            None => Err(ServerError::Signal(mismatch::<T>(block, signal, v))),
        }
    }

    /// Writes a signal of a downward block from a `T`.
    pub fn set<T: SignalData>(
        &self,
        block: &str,
        signal: &str,
        value: T,
    ) -> Result<(), ServerError> {
        self.server
            .write_signal(&self.device, block, signal, value.into_value())
    }

    /// Changes of this device's signals from now on.
    pub fn changes(&self) -> RemoteChanges {
        RemoteChanges {
            events: self.server.subscribe(),
            device: self.device.clone(),
        }
    }
}

/// Changes of one device's signals: `(block, signal, value, state)`.
#[derive(Debug)]
pub struct RemoteChanges {
    events: ServerEvents,
    device: DeviceRef,
}

impl RemoteChanges {
    /// The next change of this device's signals; `None` once the server is gone.
    pub async fn recv(&mut self) -> Option<(String, String, SignalValue, State)> {
        loop {
            if let ServerEvent::SignalChanged {
                device,
                block,
                signal,
                value,
                state,
            } = self.events.recv().await?
                && device == self.device
            {
                return Some((block, signal, value, state));
            }
        }
    }
}

impl ServerHandle {
    /// The device called `name`: `gina1` (name and number), `gina1.cafenet`, or `gina`
    /// when only one device has that name.
    pub fn find_device(&self, name: &str) -> Option<DeviceRef> {
        let devices = self.devices();
        let full = |d: &DeviceRef| std::format!("{}{}", d.name, d.number);
        if let Some(d) = devices
            .iter()
            .map(|i| &i.device)
            .find(|d| d.to_string() == name || full(d) == name)
        {
            return Some(d.clone());
        }
        let mut same = devices.iter().map(|i| &i.device).filter(|d| d.name == name);
        match (same.next(), same.next()) {
            (Some(d), None) => Some(d.clone()),
            _ => None,
        }
    }

    /// The typed server-side stub of the device called `name` (as [`find_device`]
    /// takes it), a device of kind `K`: `server.device::<Gina>("gina1")`.
    ///
    /// [`find_device`]: ServerHandle::find_device
    pub fn device<K: DeviceKind>(&self, name: &str) -> Result<K::Remote<'_>, ServerError> {
        let device = self.find_device(name).ok_or_else(|| {
            ServerError::UnknownDevice(DeviceRef {
                name: name.into(),
                number: 0,
                network: String::new(),
            })
        })?;
        Ok(K::Remote::from(RemoteDevice {
            server: self,
            device,
        }))
    }
}
