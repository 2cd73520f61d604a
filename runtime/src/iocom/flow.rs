//! Acknowledgement and flow-control counters (§6) and the per-transport constants (§7, §19).

use super::Millis;

/// Transport-dependent constants of one connection (§4.6, §6.3, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Own maximum frame length (header + content), announced in the authentication frame.
    pub frame_size: usize,
    /// Send an ACK at least every this many received bytes (UNACK_LIMIT).
    pub unack_limit: u32,
    /// Most bytes in flight before numbered frames are withheld (MAX_IN_AIR).
    pub max_in_air: u32,
    /// Most bytes in flight before even an ACK is withheld (MAX_ACK_IN_AIR).
    pub max_ack_in_air: u32,
    /// Send an ACK after this long without writing.
    pub keepalive: Millis,
    /// Drop the connection after this long without receiving.
    pub silence: Millis,
    /// Count mask: 0xFFFFFF on sockets, 0xFFFF on serial lines.
    pub mask: u32,
    /// ACK frame length: 4 on sockets, 3 on serial lines.
    pub ack_size: u32,
}

impl Params {
    /// Socket constants for an own frame size (1392 on PC builds, 464 on microcontrollers).
    pub fn socket(frame_size: usize) -> Self {
        let (max_in_air, max_ack_in_air) = socket_in_air(frame_size);
        Params {
            frame_size,
            unack_limit: 500,
            max_in_air,
            max_ack_in_air,
            keepalive: 10_000,
            silence: 20_000,
            mask: 0x00FF_FFFF,
            ack_size: 4,
        }
    }

    /// Serial constants (96-byte frames unless `frame_size` says otherwise).
    pub fn serial(frame_size: usize) -> Self {
        Params {
            frame_size,
            unack_limit: 40,
            max_in_air: 200,
            max_ack_in_air: 255,
            keepalive: 150,
            silence: 250,
            mask: 0xFFFF,
            ack_size: 3,
        }
    }

    /// §4.6 / quirk 9: a peer's announced frame size in 96..=16384 that is smaller than the
    /// own one becomes the send limit, and the in-flight limits are recomputed with the
    /// socket formula (also on serial lines, like the C end).
    pub(crate) fn peer_frame_size(&mut self, announced: u32) -> Option<usize> {
        let announced = usize::try_from(announced).ok()?;
        if (96..=16384).contains(&announced) && announced < self.frame_size {
            let (a, b) = socket_in_air(announced);
            self.max_in_air = a;
            self.max_ack_in_air = b;
            Some(announced)
        } else {
            None
        }
    }
}

fn socket_in_air(frame_size: usize) -> (u32, u32) {
    let max_in_air = u32::try_from(frame_size.saturating_mul(44)).unwrap_or(u32::MAX);
    (max_in_air, max_in_air.saturating_add(500 + 5 * 4))
}

/// Sentinel `acknowledged` value after a reset: makes the first "ACK due?" test true (§6.2).
pub(crate) const ACK_SENTINEL: u32 = 0x00A0_A000;

/// The four counters of §6.2, kept unmasked (wrapping) and compared masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flow {
    pub sent: u32,
    pub received: u32,
    pub processed: u32,
    pub acknowledged: u32,
}

impl Flow {
    pub fn new() -> Self {
        Flow {
            sent: 0,
            received: 0,
            processed: 0,
            acknowledged: ACK_SENTINEL,
        }
    }

    pub fn in_flight(&self, p: &Params) -> u32 {
        self.sent.wrapping_sub(self.processed) & p.mask
    }

    /// Room for a numbered frame: `L ≤ MAX_IN_AIR − in_flight`.
    pub fn fits(&self, p: &Params, len: usize) -> bool {
        let room = p.max_in_air.saturating_sub(self.in_flight(p));
        u32::try_from(len).is_ok_and(|l| l <= room)
    }

    /// `MAX_ACK_IN_AIR − in_flight ≥ ack size`.
    pub fn ack_fits(&self, p: &Params) -> bool {
        p.max_ack_in_air.saturating_sub(self.in_flight(p)) >= p.ack_size
    }

    /// `(received − acknowledged) & mask ≥ UNACK_LIMIT`.
    pub fn ack_due(&self, p: &Params) -> bool {
        (self.received.wrapping_sub(self.acknowledged) & p.mask) >= p.unack_limit
    }

    /// The count an ACK carries now.
    pub fn ack_count(&self, p: &Params) -> u32 {
        self.received & p.mask
    }
}
