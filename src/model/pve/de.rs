//! Lenient `deserialize_with` helpers for the Perl-typed API (see the `pvesh` module comment):
//! numbers that may arrive as JSON strings, booleans as `0`/`1` or `yes`/`no`, "N/A" where a number
//! is not known, and the list formats of pve-common (`PVE::Tools::split_list`, `pve-vmid-list`).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;

/// One JSON scalar as Proxmox may send it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    U(u64),
    I(i64),
    F(f64),
    S(String),
    B(bool),
    Null,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, a numeric string or a boolean")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::U(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::I(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::F(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::B(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::S(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::S(v))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
                Scalar::deserialize(d)
            }
        }
        d.deserialize_any(V)
    }
}

impl Scalar {
    /// `None` for null and the empty string.
    pub(crate) fn to_f64(&self) -> Result<Option<f64>, String> {
        match self {
            Scalar::U(v) => Ok(Some(*v as f64)),
            Scalar::I(v) => Ok(Some(*v as f64)),
            Scalar::F(v) => Ok(Some(*v)),
            Scalar::B(_) => Err("expected a number, got a boolean".into()),
            Scalar::Null => Ok(None),
            Scalar::S(s) if s.trim().is_empty() => Ok(None),
            Scalar::S(s) => match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(format!("expected a number, got {s:?}")),
            },
        }
    }

    pub(crate) fn to_i64(&self) -> Result<Option<i64>, String> {
        match self {
            Scalar::I(v) => Ok(Some(*v)),
            Scalar::U(v) => i64::try_from(*v).map(Some).map_err(|_| format!("{v} is out of range")),
            Scalar::S(s) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse::<i64>().ok()),
            // Counters are integers, but Perl arithmetic (averages, ratios) can turn them into floats.
            _ => Ok(self.to_f64()?.map(|f| f.round() as i64)),
        }
    }

    pub(crate) fn to_u64(&self) -> Result<Option<u64>, String> {
        if let Scalar::U(v) = self {
            return Ok(Some(*v));
        }
        match self.to_i64()? {
            Some(v) if v < 0 => Err(format!("expected a non-negative number, got {v}")),
            Some(v) => Ok(Some(v as u64)),
            None => Ok(None),
        }
    }

    /// Perl booleans: `0`/`1` (as numbers or strings), JSON booleans, and the words the PVE schema
    /// parser accepts for boolean properties (`yes`/`no`, `on`/`off`, `true`/`false`).
    pub(crate) fn to_bool(&self) -> Result<Option<bool>, String> {
        match self {
            Scalar::B(b) => Ok(Some(*b)),
            Scalar::U(v) => Ok(Some(*v != 0)),
            Scalar::I(v) => Ok(Some(*v != 0)),
            Scalar::F(v) => Ok(Some(*v != 0.0)),
            Scalar::Null => Ok(None),
            Scalar::S(s) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "1" | "yes" | "on" | "true" => Ok(Some(true)),
                "0" | "no" | "off" | "false" => Ok(Some(false)),
                _ => Err(format!("expected a boolean (0/1), got {s:?}")),
            },
        }
    }
}

fn required<T, E: de::Error>(v: Result<Option<T>, String>) -> Result<T, E> {
    v.map_err(E::custom)?.ok_or_else(|| E::custom("expected a value, got null"))
}

pub(crate) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    required(Scalar::deserialize(d)?.to_u64())
}

pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Scalar::deserialize(d)?.to_u64().map_err(de::Error::custom)
}

pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Scalar::deserialize(d)?.to_i64().map_err(de::Error::custom)
}

pub(crate) fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    required(Scalar::deserialize(d)?.to_f64())
}

pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Scalar::deserialize(d)?.to_f64().map_err(de::Error::custom)
}

/// A 0/1 flag; null counts as unset (false).
pub(crate) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Scalar::deserialize(d)?.to_bool().map_err(de::Error::custom)?.unwrap_or(false))
}

/// A number where the API may also say "N/A" (disk `wearout` for HDDs, pve-storage Diskmanage.pm):
/// any non-numeric string is "not known".
pub(crate) fn u64_or_na<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let s = Scalar::deserialize(d)?;
    Ok(s.to_u64().unwrap_or(None))
}

/// A list of numbers that may each be strings (`loadavg: ["0.12","0.10","0.05"]`).
pub(crate) fn f64_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Vec::<Scalar>::deserialize(d)?.iter().map(|s| required(s.to_f64())).collect()
}

fn split(s: &str, seps: &[char]) -> Vec<String> {
    s.split(|c: char| seps.contains(&c) || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Guest tags: stored `;`-separated, but pve-common's `PVE::Tools::split_list` (used when reading
/// them) also splits on `,` and whitespace, so older or hand-edited configs can use those.
pub(crate) fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<String>::deserialize(d)? {
        Some(s) => split_tags(&s),
        None => Vec::new(),
    })
}

pub(crate) fn split_tags(s: &str) -> Vec<String> {
    split(s, &[';', ','])
}

/// A comma-separated list such as storage `content` (`"iso,vztmpl,backup"`).
pub(crate) fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<String>::deserialize(d)? {
        Some(s) => split(&s, &[',', ';']),
        None => Vec::new(),
    })
}

/// A VMID list as in backup jobs: `"100,101,200"` (pve-common's `pve-vmid-list` format, split on
/// `,`, `;` and whitespace), a single number, or an array.
pub(crate) fn vmid_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    let one = |s: &Scalar| required::<u64, D::Error>(s.to_u64());
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => split(&s, &[',', ';'])
            .into_iter()
            .map(|p| p.parse().map_err(|_| de::Error::custom(format!("{p:?} is not a VMID"))))
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|v| Scalar::deserialize(v).map_err(de::Error::custom).and_then(|s| one(&s)))
            .collect(),
        other => one(&Scalar::deserialize(&other).map_err(de::Error::custom)?).map(|v| vec![v]),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lenient_scalars() {
        use super::Scalar;
        assert_eq!(Scalar::S(" 106 ".into()).to_u64(), Ok(Some(106)));
        assert_eq!(Scalar::S("3400.000".into()).to_f64(), Ok(Some(3400.0)));
        assert_eq!(Scalar::F(12.0).to_u64(), Ok(Some(12)));
        assert_eq!(Scalar::U(u64::MAX).to_u64(), Ok(Some(u64::MAX)));
        assert!(Scalar::I(-1).to_u64().is_err());
        assert!(Scalar::S("abc".into()).to_u64().is_err());
        assert_eq!(Scalar::S("".into()).to_u64(), Ok(None));
        assert_eq!(Scalar::S("1".into()).to_bool(), Ok(Some(true)));
        assert_eq!(Scalar::B(false).to_bool(), Ok(Some(false)));
        assert_eq!(Scalar::U(0).to_bool(), Ok(Some(false)));
        assert!(Scalar::S("maybe".into()).to_bool().is_err());
    }
}
