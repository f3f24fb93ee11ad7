//! Content digests (`sha256:<hex>`, `sha512:<hex>`) and the streaming hasher behind them.

use std::fmt;
use std::str::FromStr;

use sha2_resumable::digest::common::hazmat::{SerializableState, SerializedState};
use sha2_resumable::{Digest as _, Sha256, Sha512};

use crate::error::{Code, Error};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated digest: a known algorithm and lowercase hex of the right length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Digest of a byte slice held in memory (manifests only; blobs are streamed).
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(algorithm);
        h.update(bytes);
        h.finish()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || Error::new(Code::DigestInvalid, format!("invalid digest {s:?}"));
        let (alg, hex) = s.split_once(':').ok_or_else(invalid)?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => {
                return Err(Error::new(
                    Code::DigestInvalid,
                    format!("unsupported digest algorithm {alg:?}"),
                ))
            }
        };
        if hex.len() != algorithm.hex_len()
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid());
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }
}

/// One-pass streaming hasher for either algorithm. Its state can be saved between the chunks of
/// an upload ([`Hasher::save`]) and taken up again by any process ([`Hasher::restore`]), so the
/// bytes of an upload are hashed once however many requests and replicas they pass through.
#[derive(Clone)]
pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Sha256(_) => Algorithm::Sha256,
            Hasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, hex::encode(h.finalize())),
            Hasher::Sha512(h) => (Algorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, hex }
    }

    /// The hasher's state, as bytes: the algorithm's name, a colon, then the state.
    pub fn save(&self) -> Vec<u8> {
        let (name, state) = match self {
            Hasher::Sha256(h) => ("sha256", h.serialize().to_vec()),
            Hasher::Sha512(h) => ("sha512", h.serialize().to_vec()),
        };
        let mut out = Vec::with_capacity(name.len() + 1 + state.len());
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&state);
        out
    }

    /// A hasher saved by [`Hasher::save`]; `None` for bytes that are not one.
    pub fn restore(saved: &[u8]) -> Option<Hasher> {
        let colon = saved.iter().position(|&b| b == b':')?;
        let (name, state) = (&saved[..colon], &saved[colon + 1..]);
        match name {
            b"sha256" => {
                let state = SerializedState::<Sha256>::try_from(state).ok()?;
                Sha256::deserialize(&state).ok().map(Hasher::Sha256)
            }
            b"sha512" => {
                let state = SerializedState::<Sha512>::try_from(state).ok()?;
                Sha512::deserialize(&state).ok().map(Hasher::Sha512)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_hasher_goes_on_where_it_stopped() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let whole = Digest::of(algorithm, &data);
            // Cut points inside and on block boundaries.
            for cut in [0, 1, 63, 64, 65, 127, 128, 129, 4_097, 10_000] {
                let mut first = Hasher::new(algorithm);
                first.update(&data[..cut]);
                let saved = first.save();
                let mut second = Hasher::restore(&saved).expect("restores");
                second.update(&data[cut..]);
                assert_eq!(second.finish(), whole, "{algorithm:?} cut at {cut}");
            }
        }
        assert!(Hasher::restore(b"sha256:short").is_none());
        assert!(Hasher::restore(b"md5:").is_none());
        assert!(Hasher::restore(b"").is_none());
    }

    #[test]
    fn parses_and_rejects() {
        let empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let d: Digest = empty.parse().expect("valid digest");
        assert_eq!(d.to_string(), empty);
        assert_eq!(Digest::of(Algorithm::Sha256, b""), d);
        for bad in [
            "",
            "sha256",
            "sha256:",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "sha256:../../../../etc/passwd0000000000000000000000000000000000000000",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} should be rejected");
        }
        let d512 = Digest::of(Algorithm::Sha512, b"abc");
        assert_eq!(d512.hex().len(), 128);
        assert_eq!(d512.to_string().parse::<Digest>().expect("roundtrip"), d512);
    }
}
