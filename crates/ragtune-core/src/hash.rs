use sha2::{Digest, Sha256};

/// `values` as little-endian f32 bytes: the on-disk form of embeddings.
pub fn f32s_to_le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The inverse of [`f32s_to_le_bytes`]; `None` when the length is not a multiple of 4.
pub fn f32s_from_le_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// sha256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Incremental sha256 over length-prefixed fields, so that ("ab","c") and ("a","bc")
/// never collide.
#[derive(Default, Clone)]
pub struct ContentHasher(Sha256);

impl ContentHasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add one field.
    pub fn field(&mut self, bytes: impl AsRef<[u8]>) -> &mut Self {
        let bytes = bytes.as_ref();
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }
    /// Finish as raw bytes.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
    /// Finish as lowercase hex.
    pub fn finish_hex(self) -> String {
        hex::encode(self.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_length_prefixed() {
        let mut a = ContentHasher::new();
        a.field("ab").field("c");
        let mut b = ContentHasher::new();
        b.field("a").field("bc");
        assert_ne!(a.finish_hex(), b.finish_hex());
    }

    #[test]
    fn f32_bytes_round_trip() {
        let v = [1.0f32, -2.5, f32::MIN_POSITIVE];
        assert_eq!(f32s_from_le_bytes(&f32s_to_le_bytes(&v)).unwrap(), v);
        assert_eq!(f32s_to_le_bytes(&[1.0])[..], [0, 0, 0x80, 0x3f]);
        assert!(f32s_from_le_bytes(&[0, 0, 0]).is_none());
    }

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
