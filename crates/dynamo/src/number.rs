//! DynamoDB numbers: exact signed decimals with up to 38 significant digits.
//!
//! A [`Number`] is kept normalized (no leading or trailing zeros, no negative
//! zero), so derived equality and hashing are numeric equality. It renders in
//! the plain notation DynamoDB returns (`"1e2"` → `"100"`, `"1.50"` → `"1.5"`),
//! orders numerically, adds and subtracts exactly, and has an order-preserving
//! byte encoding ([`Number::sort_key`]) for use in storage keys.
//!
//! Range: magnitudes from 1E-130 to 9.9999999999999999999999999999999999999E+125.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Most significant digits a DynamoDB number may carry.
pub const MAX_SIGNIFICANT_DIGITS: usize = 38;

/// Largest exponent `e` of `0.d… × 10^e` (9.99…E+125 is `0.999… × 10^126`).
const MAX_EXPONENT: i64 = 126;
/// Smallest exponent `e` of `0.d… × 10^e` (1E-130 is `0.1 × 10^-129`).
const MIN_EXPONENT: i64 = -129;
/// Exponents in a literal are clamped here while parsing, far outside the range.
const EXPONENT_CLAMP: i64 = 1_000_000_000_000;

const NOT_NUMERIC: &str = "The parameter cannot be converted to a numeric value";
const OVERFLOW: &str = "Number overflow. Attempting to store a number with magnitude larger than supported range";
const UNDERFLOW: &str = "Number underflow. Attempting to store a number with magnitude smaller than supported range";
const TOO_PRECISE: &str = "Attempting to store more than 38 significant digits in a Number";

const TAG_NEGATIVE: u8 = 0x01;
const TAG_ZERO: u8 = 0x02;
const TAG_POSITIVE: u8 = 0x03;

/// A DynamoDB `N` value.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// Significant digits (0..=9), most significant first, with neither leading
    /// nor trailing zeros; empty for zero.
    digits: Vec<u8>,
    /// Value is `0.d1d2… × 10^exponent`; 0 for zero.
    exponent: i32,
}

impl Number {
    /// The number zero.
    pub const fn zero() -> Self {
        Self {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// Parses a DynamoDB number literal (`-1.5e3`, `+7`, `.5`, `0100`).
    ///
    /// Rejects anything else (`NaN`, `Infinity`, empty, whitespace) and values
    /// outside DynamoDB's range or precision, with DynamoDB's messages.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.is_empty() {
            return Err(Error::validation(NOT_NUMERIC));
        }
        let literal = scan_literal(text).ok_or_else(|| Error::validation(format!("{NOT_NUMERIC}: {text}")))?;
        Self::from_parts(literal.negative, literal.digits, literal.exponent)
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Whether this is strictly below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Count of significant digits (0 for zero).
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    /// This number with its sign flipped.
    pub fn negated(&self) -> Self {
        Self {
            negative: !self.negative && !self.is_zero(),
            ..self.clone()
        }
    }

    /// Exact `self + other`, failing if the result leaves DynamoDB's range or precision.
    pub fn checked_add(&self, other: &Number) -> Result<Number, Error> {
        if other.is_zero() {
            return Ok(self.clone());
        }
        if self.is_zero() {
            return Ok(other.clone());
        }
        let unit = self.lowest_place().min(other.lowest_place());
        let top = i64::from(self.exponent.max(other.exponent));
        let (a, b) = (self.coefficient(unit, top), other.coefficient(unit, top));
        let (negative, magnitude) = if self.negative == other.negative {
            (self.negative, add_digits(&a, &b))
        } else {
            match a.cmp(&b) {
                Ordering::Equal => return Ok(Number::zero()),
                Ordering::Greater => (self.negative, subtract_digits(&a, &b)),
                Ordering::Less => (other.negative, subtract_digits(&b, &a)),
            }
        };
        let exponent = unit + magnitude.len() as i64;
        Self::from_parts(negative, magnitude, exponent)
    }

    /// Exact `self - other`, failing if the result leaves DynamoDB's range or precision.
    pub fn checked_sub(&self, other: &Number) -> Result<Number, Error> {
        self.checked_add(&other.negated())
    }

    /// Bytes this number counts for in DynamoDB's item-size rules.
    ///
    /// DynamoDB stores the mantissa in base 100, pairs of digits aligned on the
    /// decimal point: one byte per pair touched by a significant digit, one
    /// byte of exponent, and one more byte for a negative sign.
    pub fn size_bytes(&self) -> usize {
        if self.is_zero() {
            return 1;
        }
        let first_place = i64::from(self.exponent) - 1;
        let last_place = self.lowest_place();
        let pairs = (first_place.div_euclid(2) - last_place.div_euclid(2) + 1) as usize;
        1 + pairs + usize::from(self.negative)
    }

    /// Order-preserving, self-delimiting byte encoding: for any numbers `a` and
    /// `b`, `a.sort_key().cmp(&b.sort_key()) == a.cmp(&b)`, and no key is a
    /// prefix of another. Decode with [`Number::from_sort_key`].
    ///
    /// Layout: a sign tag, then (non-zero only) the biased exponent, the digits
    /// packed two per byte as `pair + 1`, and a `0` terminator; every byte after
    /// the tag is complemented for negative numbers.
    pub fn sort_key(&self) -> Vec<u8> {
        if self.is_zero() {
            return vec![TAG_ZERO];
        }
        let mut key = Vec::with_capacity(3 + self.digits.len().div_ceil(2));
        key.push(if self.negative { TAG_NEGATIVE } else { TAG_POSITIVE });
        key.push((i64::from(self.exponent) - MIN_EXPONENT) as u8);
        for pair in self.digits.chunks(2) {
            let low = pair.get(1).copied().unwrap_or(0);
            key.push(pair[0] * 10 + low + 1);
        }
        key.push(0);
        if self.negative {
            key[1..].iter_mut().for_each(|byte| *byte = !*byte);
        }
        key
    }

    /// Decodes a [`Number::sort_key`] at the start of `bytes`, returning the
    /// number and how many bytes it used, or `None` if the bytes are not one.
    pub fn from_sort_key(bytes: &[u8]) -> Option<(Number, usize)> {
        let negative = match *bytes.first()? {
            TAG_ZERO => return Some((Number::zero(), 1)),
            TAG_NEGATIVE => true,
            TAG_POSITIVE => false,
            _ => return None,
        };
        let plain = |byte: u8| if negative { !byte } else { byte };
        let exponent = i64::from(plain(*bytes.get(1)?)) + MIN_EXPONENT;
        let mut digits = Vec::new();
        for (offset, &byte) in bytes.iter().enumerate().skip(2) {
            match plain(byte) {
                0 => {
                    let number = Self::from_parts(negative, digits, exponent).ok()?;
                    return (!number.is_zero()).then_some((number, offset + 1));
                }
                pair @ 1..=100 => digits.extend([(pair - 1) / 10, (pair - 1) % 10]),
                _ => return None,
            }
        }
        None
    }

    /// Normalizes `negative × 0.digits × 10^exponent` and checks DynamoDB's limits.
    fn from_parts(negative: bool, mut digits: Vec<u8>, exponent: i64) -> Result<Self, Error> {
        let leading_zeros = digits.iter().take_while(|&&digit| digit == 0).count();
        digits.drain(..leading_zeros);
        let exponent = exponent.saturating_sub(leading_zeros as i64);
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Ok(Number::zero());
        }
        if exponent > MAX_EXPONENT {
            return Err(Error::validation(OVERFLOW));
        }
        if exponent < MIN_EXPONENT {
            return Err(Error::validation(UNDERFLOW));
        }
        if digits.len() > MAX_SIGNIFICANT_DIGITS {
            return Err(Error::validation(TOO_PRECISE));
        }
        Ok(Self {
            negative,
            digits,
            exponent: exponent as i32,
        })
    }

    /// Power of ten of the least significant digit's place.
    fn lowest_place(&self) -> i64 {
        i64::from(self.exponent) - self.digits.len() as i64
    }

    /// `|self| / 10^unit` as big-endian decimal digits, left-padded so that its
    /// most significant place is `10^(top - 1)`. Needs `unit <= lowest_place`
    /// and `top >= exponent`.
    fn coefficient(&self, unit: i64, top: i64) -> Vec<u8> {
        let leading = (top - i64::from(self.exponent)) as usize;
        let trailing = (self.lowest_place() - unit) as usize;
        let mut digits = vec![0; leading];
        digits.extend_from_slice(&self.digits);
        digits.resize(digits.len() + trailing, 0);
        digits
    }

    fn sign_rank(&self) -> i8 {
        match (self.is_zero(), self.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }
}

/// A syntactically valid literal, not yet normalized: `0.digits × 10^exponent`.
struct Literal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

/// Scans `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`.
fn scan_literal(text: &str) -> Option<Literal> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let negative = scan_sign(bytes, &mut at);
    let mut digits = Vec::new();
    let integer_len = scan_digits(bytes, &mut at, &mut digits);
    let mut fraction_len = 0;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        fraction_len = scan_digits(bytes, &mut at, &mut digits);
    }
    if integer_len + fraction_len == 0 {
        return None;
    }
    let mut exponent = 0;
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        exponent = scan_exponent(bytes, &mut at)?;
    }
    (at == bytes.len()).then(|| Literal {
        negative,
        digits,
        exponent: exponent.saturating_add(integer_len as i64),
    })
}

fn scan_sign(bytes: &[u8], at: &mut usize) -> bool {
    match bytes.get(*at) {
        Some(b'-') => {
            *at += 1;
            true
        }
        Some(b'+') => {
            *at += 1;
            false
        }
        _ => false,
    }
}

/// Appends the run of ASCII digits at `at` to `digits`; returns how many.
fn scan_digits(bytes: &[u8], at: &mut usize, digits: &mut Vec<u8>) -> usize {
    let start = *at;
    while let Some(byte) = bytes.get(*at).filter(|byte| byte.is_ascii_digit()) {
        digits.push(byte - b'0');
        *at += 1;
    }
    *at - start
}

fn scan_exponent(bytes: &[u8], at: &mut usize) -> Option<i64> {
    let negative = scan_sign(bytes, at);
    let start = *at;
    let mut value: i64 = 0;
    while let Some(byte) = bytes.get(*at).filter(|byte| byte.is_ascii_digit()) {
        value = (value * 10 + i64::from(byte - b'0')).min(EXPONENT_CLAMP);
        *at += 1;
    }
    (*at > start).then_some(if negative { -value } else { value })
}

/// Sum of two equal-length big-endian digit strings (one digit longer).
fn add_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut sum = vec![0; a.len() + 1];
    let mut carry = 0;
    for i in (0..a.len()).rev() {
        let total = a[i] + b[i] + carry;
        sum[i + 1] = total % 10;
        carry = total / 10;
    }
    sum[0] = carry;
    sum
}

/// Difference of two equal-length big-endian digit strings, `a >= b`.
fn subtract_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut difference = vec![0; a.len()];
    let mut borrow = 0;
    for i in (0..a.len()).rev() {
        let subtrahend = b[i] + borrow;
        (difference[i], borrow) = if a[i] >= subtrahend {
            (a[i] - subtrahend, 0)
        } else {
            (a[i] + 10 - subtrahend, 1)
        };
    }
    difference
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sign_rank().cmp(&other.sign_rank()).then_with(|| {
            let magnitude = self.exponent.cmp(&other.exponent).then_with(|| self.digits.cmp(&other.digits));
            if self.negative { magnitude.reverse() } else { magnitude }
        })
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for Number {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Number::parse(text)
    }
}

impl From<u64> for Number {
    fn from(value: u64) -> Self {
        let digits = value.to_string().bytes().map(|byte| byte - b'0').collect::<Vec<_>>();
        let exponent = digits.len() as i64;
        Number::from_parts(false, digits, exponent).unwrap_or_default()
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Self {
        let magnitude = Number::from(value.unsigned_abs());
        if value < 0 { magnitude.negated() } else { magnitude }
    }
}

/// Canonical DynamoDB rendering: plain notation, no exponent, no redundant zeros.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let digits: String = self.digits.iter().map(|&digit| char::from(b'0' + digit)).collect();
        let sign = if self.negative { "-" } else { "" };
        let exponent = i64::from(self.exponent);
        let len = digits.len() as i64;
        if exponent <= 0 {
            write!(f, "{sign}0.{}{digits}", "0".repeat(exponent.unsigned_abs() as usize))
        } else if exponent < len {
            let (integer, fraction) = digits.split_at(exponent as usize);
            write!(f, "{sign}{integer}.{fraction}")
        } else {
            write!(f, "{sign}{digits}{}", "0".repeat((exponent - len) as usize))
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(text: &str) -> Number {
        Number::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn parse_error(text: &str) -> String {
        Number::parse(text).expect_err(text).message().to_string()
    }

    #[test]
    fn canonical_form_strips_redundant_zeros_and_exponents() {
        let cases = [
            ("1.50", "1.5"),
            ("0100", "100"),
            ("-0", "0"),
            ("+0", "0"),
            ("0.000", "0"),
            ("1e2", "100"),
            ("1.5E2", "150"),
            ("+5", "5"),
            ("-7", "-7"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-0.050", "-0.05"),
            ("123.456", "123.456"),
            ("1e-3", "0.001"),
            ("12345e-2", "123.45"),
            ("0.0012e+3", "1.2"),
            ("00042", "42"),
            ("1E+2", "100"),
        ];
        for (input, canonical) in cases {
            assert_eq!(num(input).to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn extreme_values_render_in_plain_notation() {
        assert_eq!(num("1E-130").to_string(), format!("0.{}1", "0".repeat(129)));
        assert_eq!(num("1E125").to_string(), format!("1{}", "0".repeat(125)));
        let max = num("9.9999999999999999999999999999999999999E+125");
        assert_eq!(max.to_string(), format!("{}{}", "9".repeat(38), "0".repeat(88)));
    }

    #[test]
    fn non_numeric_text_is_rejected_with_the_text_in_the_message() {
        for text in [
            "NaN",
            "Infinity",
            "-Infinity",
            "abc",
            "1.2.3",
            "1e",
            "1e+",
            ".",
            "-",
            "+",
            " 1",
            "1 ",
            "0x10",
            "1_000",
            "--1",
            "١",
        ] {
            assert_eq!(
                parse_error(text),
                format!("The parameter cannot be converted to a numeric value: {text}")
            );
        }
        assert_eq!(parse_error(""), "The parameter cannot be converted to a numeric value");
    }

    #[test]
    fn range_limits_match_dynamodb() {
        let overflow = "Number overflow. Attempting to store a number with magnitude larger than supported range";
        let underflow = "Number underflow. Attempting to store a number with magnitude smaller than supported range";
        assert!(Number::parse("9.9999999999999999999999999999999999999E+125").is_ok());
        assert!(Number::parse("-9.9999999999999999999999999999999999999E+125").is_ok());
        assert!(Number::parse("1E-130").is_ok());
        assert!(Number::parse("-1E-130").is_ok());
        assert_eq!(parse_error("1E+126"), overflow);
        assert_eq!(parse_error("-1e126"), overflow);
        assert_eq!(parse_error("1e-131"), underflow);
        assert_eq!(parse_error("-1e-131"), underflow);
        assert_eq!(parse_error("1e99999999999999999999999"), overflow);
        assert_eq!(parse_error("1e-99999999999999999999999"), underflow);
        assert_eq!(num("0e99999999999999999999").to_string(), "0");
    }

    #[test]
    fn precision_is_limited_to_38_significant_digits() {
        let digits38 = "12345678901234567890123456789012345678";
        assert_eq!(num(digits38).to_string(), digits38);
        assert_eq!(
            parse_error("123456789012345678901234567890123456789"),
            "Attempting to store more than 38 significant digits in a Number"
        );
        assert_eq!(
            parse_error("-1.23456789012345678901234567890123456789"),
            "Attempting to store more than 38 significant digits in a Number"
        );
        assert_eq!(num(&format!("1{}", "0".repeat(100))).significant_digits(), 1);
        assert_eq!(num(&format!("000{digits38}000.000")).significant_digits(), 38);
    }

    #[test]
    fn ordering_is_numeric() {
        let sorted = [
            "-1e125", "-100", "-99.5", "-1", "-0.001", "0", "1e-130", "0.5", "1", "1.5", "2", "10", "99", "100", "1e125",
        ];
        for pair in sorted.windows(2) {
            assert!(num(pair[0]) < num(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(num("1.0"), num("1"));
        assert_eq!(num("-0").cmp(&num("0")), Ordering::Equal);
    }

    #[test]
    fn addition_and_subtraction_are_exact() {
        let cases = [
            ("1", "2", "3"),
            ("0.1", "0.2", "0.3"),
            ("99", "1", "100"),
            ("-5", "3", "-2"),
            ("5", "-5", "0"),
            ("1e20", "1e-10", "100000000000000000000.0000000001"),
            ("-0.5", "-0.25", "-0.75"),
            ("123.456", "-0.456", "123"),
            ("0", "-7", "-7"),
            ("9999999999", "1", "10000000000"),
        ];
        for (a, b, sum) in cases {
            assert_eq!(num(a).checked_add(&num(b)).unwrap().to_string(), sum, "{a} + {b}");
            assert_eq!(num(sum).checked_sub(&num(b)).unwrap(), num(a), "{sum} - {b}");
        }
    }

    #[test]
    fn arithmetic_reports_overflow_and_lost_precision() {
        let max = num("9.9999999999999999999999999999999999999E+125");
        let error = max.checked_add(&num("1E+125")).unwrap_err();
        assert!(error.message().starts_with("Number overflow"));
        let error = num("1e30").checked_add(&num("1e-30")).unwrap_err();
        assert_eq!(error.message(), "Attempting to store more than 38 significant digits in a Number");
        let error = num("1e-130").checked_sub(&num("1.1e-130")).unwrap_err();
        assert!(error.message().starts_with("Number underflow"), "{error}");
    }

    #[test]
    fn sort_keys_order_like_numbers() {
        let values = [
            "-9.9999999999999999999999999999999999999E+125",
            "-1e10",
            "-120",
            "-12",
            "-1.25",
            "-1.2",
            "-1",
            "-0.5",
            "-1e-130",
            "0",
            "1e-130",
            "0.012",
            "0.12",
            "1",
            "1.05",
            "1.2",
            "1.25",
            "12",
            "120",
            "121",
            "1e10",
            "9.9999999999999999999999999999999999999E+125",
        ];
        let numbers: Vec<Number> = values.iter().map(|text| num(text)).collect();
        for a in &numbers {
            for b in &numbers {
                assert_eq!(a.sort_key().cmp(&b.sort_key()), a.cmp(b), "{a} vs {b}");
                if a != b {
                    assert!(!a.sort_key().starts_with(&b.sort_key()), "{b} key prefixes {a} key");
                }
            }
        }
    }

    #[test]
    fn sort_keys_decode_back() {
        for text in [
            "0",
            "1",
            "-1",
            "123.456",
            "-0.000001",
            "1e125",
            "-1e-130",
            "12345678901234567890123456789012345678",
        ] {
            let number = num(text);
            let mut key = number.sort_key();
            let len = key.len();
            key.extend_from_slice(b"suffix");
            assert_eq!(Number::from_sort_key(&key), Some((number, len)), "{text}");
        }
        assert_eq!(Number::from_sort_key(&[]), None);
        assert_eq!(Number::from_sort_key(&[TAG_POSITIVE, 130]), None);
        assert_eq!(Number::from_sort_key(&[TAG_POSITIVE, 130, 200, 0]), None);
        assert_eq!(Number::from_sort_key(&[9]), None);
    }

    #[test]
    fn size_counts_base_100_digit_pairs() {
        let cases = [
            ("0", 1),
            ("1", 2),
            ("12", 2),
            ("123", 3),
            ("1234", 3),
            ("100", 2),
            ("120", 3),
            ("1010", 3),
            ("1.2", 3),
            ("1.5", 3),
            ("0.15", 2),
            ("100.5", 4),
            ("3.14159", 5),
            ("0.0000001", 2),
            ("1E125", 2),
            ("1E-100", 2),
            ("12345678901234567890123456789012345678", 20),
            ("-42", 3),
            ("-0", 1),
        ];
        for (text, size) in cases {
            assert_eq!(num(text).size_bytes(), size, "{text}");
        }
    }

    #[test]
    fn integer_conversions() {
        assert_eq!(Number::from(0u64), Number::zero());
        assert_eq!(Number::from(1200u64).to_string(), "1200");
        assert_eq!(Number::from(-45i64).to_string(), "-45");
        assert_eq!(Number::from(i64::MIN).to_string(), i64::MIN.to_string());
        assert_eq!(Number::from(u64::MAX).to_string(), u64::MAX.to_string());
    }

    /// Random literals: whatever parses must render, re-parse, encode,
    /// decode, order and add consistently.
    #[test]
    fn random_literals_behave_consistently() {
        const PIECES: [&str; 12] = ["0", "1", "5", "9", "00", "123", ".", "-", "+", "e", "E-", "e+"];
        let mut state = 0x1234_5678_9ABC_DEF0_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut numbers = Vec::new();
        while numbers.len() < 400 {
            let len = 1 + next() % 8;
            let text: String = (0..len).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect();
            if let Ok(number) = Number::parse(&text) {
                assert_eq!(Number::parse(&number.to_string()).as_ref(), Ok(&number), "{text}");
                assert_eq!(
                    Number::from_sort_key(&number.sort_key()),
                    Some((number.clone(), number.sort_key().len()))
                );
                numbers.push(number);
            }
        }
        for pair in numbers.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert_eq!(a.sort_key().cmp(&b.sort_key()), a.cmp(b), "{a} vs {b}");
            if let Ok(sum) = a.checked_add(b) {
                assert_eq!(sum.checked_sub(b).as_ref(), Ok(a), "{a} + {b}");
                assert_eq!(sum.cmp(a), b.cmp(&Number::zero()), "{a} + {b}");
            }
        }
    }
}
