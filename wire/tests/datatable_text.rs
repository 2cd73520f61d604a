//! Value texts against Java: `Float.toString`, `Double.toString` and the SDK's date
//! text for the 6,356 values of `data/java_text.txt`, written by Java itself
//! (`data/JavaText.java`, JDK 25): random bit patterns, short decimals of every scale,
//! powers of ten and two with their neighbours, subnormals, special values, and instants
//! across the whole 64-bit range and around the Julian/Gregorian cutover.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferrocom_wire::datatable::{date, text};
use proptest::prelude::*;

fn reference() -> Vec<(char, String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/java_text.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let kind = parts.next().unwrap().chars().next().unwrap();
            (
                kind,
                parts.next().unwrap().to_string(),
                parts.next().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn floats_and_doubles_print_as_java_prints_them() {
    let mut checked = [0usize; 2];
    let mut wrong = Vec::new();
    for (kind, key, java) in reference() {
        let (ours, back_ok) = match kind {
            'F' => {
                let x = f32::from_bits(u32::from_str_radix(&key, 16).unwrap());
                checked[0] += 1;
                let ours = text::float_to_string(x);
                let back = text::parse_float(&java).unwrap();
                (
                    ours,
                    back.to_bits() == x.to_bits() || (x.is_nan() && back.is_nan()),
                )
            }
            'D' => {
                let x = f64::from_bits(u64::from_str_radix(&key, 16).unwrap());
                checked[1] += 1;
                let ours = text::double_to_string(x);
                let back = text::parse_double(&java).unwrap();
                (
                    ours,
                    back.to_bits() == x.to_bits() || (x.is_nan() && back.is_nan()),
                )
            }
            _ => continue,
        };
        if ours != java || !back_ok {
            wrong.push(format!(
                "{kind} {key}: Java {java}, ours {ours}, reads back: {back_ok}"
            ));
        }
    }
    assert!(checked[0] > 2500 && checked[1] > 2500, "{checked:?}");
    assert!(
        wrong.is_empty(),
        "{} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn dates_print_as_java_prints_them_and_read_back() {
    let mut checked = 0;
    for (kind, ms, java) in reference() {
        if kind != 'T' {
            continue;
        }
        let ms: i64 = ms.parse().unwrap();
        assert_eq!(date::to_string(ms), java, "{ms}");
        // Before year 1 the era is not in the text (for Java either).
        if ms >= -62_135_769_600_000 {
            assert_eq!(date::parse(&java), Some(ms), "{java}");
        }
        checked += 1;
    }
    assert!(checked > 900, "{checked}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Every float reads back from its text as itself.
    #[test]
    fn float_text_reads_back(bits in any::<u32>()) {
        let x = f32::from_bits(bits);
        let back = text::parse_float(&text::float_to_string(x)).unwrap();
        prop_assert!(back.to_bits() == bits || (x.is_nan() && back.is_nan()));
    }

    #[test]
    fn double_text_reads_back(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        let back = text::parse_double(&text::double_to_string(x)).unwrap();
        prop_assert!(back.to_bits() == bits || (x.is_nan() && back.is_nan()));
    }

    /// The text has Java's shape: plain with a fraction in [1e-3, 1e7), else one digit,
    /// a point, digits and an exponent.
    #[test]
    fn double_text_has_javas_shape(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite() && x != 0.0);
        let s = text::double_to_string(x);
        let unsigned = s.trim_start_matches('-');
        let d: f64 = unsigned.parse().unwrap();
        if (1e-3..1e7).contains(&d) {
            prop_assert!(!s.contains('E'), "{}", s);
            let (int, frac) = unsigned.split_once('.').unwrap();
            prop_assert!(!int.is_empty() && !frac.is_empty(), "{}", s);
        } else {
            let (mantissa, exp) = unsigned.split_once('E').unwrap();
            prop_assert!(mantissa.len() >= 3 && mantissa.as_bytes()[1] == b'.', "{}", s);
            prop_assert!(mantissa.as_bytes()[0] != b'0', "{}", s);
            prop_assert!(exp.parse::<i32>().is_ok(), "{}", s);
        }
    }

    /// Every instant from year 1 on reads back from its text.
    #[test]
    fn dates_read_back(ms in -62_135_769_600_000i64..i64::MAX) {
        prop_assert_eq!(date::parse(&date::to_string(ms)), Some(ms));
    }
}
