//! `ferrocom`: the command-line tool. Each subcommand lives in its own module; this file
//! only parses the command line and dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bridge;
mod cert;
mod conform;
mod connect;
mod device;
mod r#gen;
mod iotellect;
mod server;
mod spy;
mod switchbox;

/// ferrocom: secure, real-time IO-signal communication, byte-compatible with IOCOM.
#[derive(Debug, Parser)]
#[command(name = "ferrocom", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Gen(r#gen::GenArgs),
    Server(server::ServerArgs),
    Device(device::DeviceArgs),
    Bridge(bridge::BridgeArgs),
    Iotellect(iotellect::IotellectArgs),
    Spy(spy::SpyArgs),
    Cert(cert::CertArgs),
    Conform(conform::ConformArgs),
    Switchbox(switchbox::SwitchboxArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Gen(args) => r#gen::run(args),
        Command::Server(args) => server::run(args),
        Command::Device(args) => device::run(args),
        Command::Bridge(args) => bridge::run(args),
        Command::Iotellect(args) => iotellect::run(args),
        Command::Spy(args) => spy::run(args),
        Command::Cert(args) => cert::run(args),
        Command::Conform(args) => conform::cmd(args),
        Command::Switchbox(args) => switchbox::cmd(args),
    }
}
