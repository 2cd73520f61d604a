//! CRC-16/MODBUS, the checksum of IOCOM serial frames and of packed JSON
//! (reference §2, §4.2, §15.2): reflected polynomial 0xA001, initial value 0xFFFF, no final
//! XOR, stored low byte first. Check value of ASCII `123456789` is 0x4B37.

/// Initial register value of CRC-16/MODBUS.
pub const CRC16_MODBUS_INIT: u16 = 0xFFFF;

/// The register after feeding the four bits of each index: a half-byte table (32 bytes
/// instead of the usual 512, which matters on a 32 KB-flash board; serial frames are
/// short, so the two lookups per byte cost nothing that shows).
const fn make_table() -> [u16; 16] {
    let mut table = [0u16; 16];
    let mut i = 0;
    while i < 16 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 4 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static TABLE: [u16; 16] = make_table();

#[inline]
fn step(crc: u16, byte: u8) -> u16 {
    let crc = crc ^ u16::from(byte);
    let crc = (crc >> 4) ^ TABLE[usize::from(crc & 0xF)];
    (crc >> 4) ^ TABLE[usize::from(crc & 0xF)]
}

/// Feeds `data` into a running CRC-16/MODBUS register (start with [`CRC16_MODBUS_INIT`]).
#[inline]
pub fn crc16_modbus_update(mut crc: u16, data: &[u8]) -> u16 {
    for &b in data {
        crc = step(crc, b);
    }
    crc
}

/// Feeds `count` zero bytes into a running CRC-16/MODBUS register.
#[inline]
pub fn crc16_modbus_update_zeros(mut crc: u16, count: usize) -> u16 {
    for _ in 0..count {
        crc = step(crc, 0);
    }
    crc
}

/// CRC-16/MODBUS of `data`.
///
/// ```
/// assert_eq!(ferrocom_core::codec::crc16_modbus(b"123456789"), 0x4B37);
/// ```
#[inline]
pub fn crc16_modbus(data: &[u8]) -> u16 {
    crc16_modbus_update(CRC16_MODBUS_INIT, data)
}

/// CRC-16/MODBUS of `frame` computed as if `frame[offset..offset + width]` were zero
/// (IOCOM serial frames: the checksum is computed with its own two bytes zeroed).
///
/// Does not allocate and does not modify `frame`. The zeroed range is clipped to the frame;
/// a range lying wholly outside the frame changes nothing.
#[inline]
pub fn crc16_modbus_zeroed(frame: &[u8], offset: usize, width: usize) -> u16 {
    let start = offset.min(frame.len());
    let end = offset.saturating_add(width).min(frame.len());
    let (head, rest) = frame.split_at(start);
    let tail = rest.get(end - start..).unwrap_or(&[]);
    let crc = crc16_modbus_update(CRC16_MODBUS_INIT, head);
    let crc = crc16_modbus_update_zeros(crc, end - start);
    crc16_modbus_update(crc, tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitwise(data: &[u8]) -> u16 {
        let mut crc = 0xFFFFu16;
        for &b in data {
            crc ^= u16::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xA001
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn check_value() {
        assert_eq!(crc16_modbus(b"123456789"), 0x4B37);
        assert_eq!(crc16_modbus(b""), 0xFFFF);
    }

    #[test]
    fn table_matches_bitwise() {
        let data: alloc::vec::Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for len in [0, 1, 2, 7, 100, 512] {
            assert_eq!(crc16_modbus(&data[..len]), bitwise(&data[..len]));
        }
    }

    #[test]
    fn zeroed_clips() {
        let f = [1u8, 2, 3, 4];
        assert_eq!(crc16_modbus_zeroed(&f, 1, 2), crc16_modbus(&[1, 0, 0, 4]));
        assert_eq!(crc16_modbus_zeroed(&f, 3, 5), crc16_modbus(&[1, 2, 3, 0]));
        assert_eq!(crc16_modbus_zeroed(&f, 9, 2), crc16_modbus(&f));
        assert_eq!(
            crc16_modbus_zeroed(&f, usize::MAX, usize::MAX),
            crc16_modbus(&f)
        );
        assert_eq!(crc16_modbus_zeroed(&f, 0, 0), crc16_modbus(&f));
    }
}
