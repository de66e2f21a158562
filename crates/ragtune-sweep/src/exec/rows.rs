//! Quantised exact indexes, and where rescoring reads float32 vectors: the store's
//! vectors entry, verified once when opened and then read by ranges (so a served index
//! holds only its quantised vectors), or memory where there is no store.

use ragtune_core::VectorFormat;
use ragtune_retrieve::Component;
use ragtune_store::{EntryRanges, Stage};
use ragtune_vector::{BinaryVectors, Int8Vectors, Rows, VectorError, Vectors};

use super::Executor;

/// An exact index over int8 or binary vectors (quantised from the float32 ones,
/// deterministically, in milliseconds).
pub enum QuantisedIndex {
    /// Int8 codes.
    Int8(Int8Vectors),
    /// Sign bits.
    Binary(BinaryVectors),
}

impl QuantisedIndex {
    /// `vectors` held as `format`; `None` for float32, searched as they are.
    pub fn new(vectors: &Vectors, format: VectorFormat) -> Option<Self> {
        match format {
            VectorFormat::F32 => None,
            VectorFormat::Int8 => Some(Self::Int8(Int8Vectors::quantise(vectors))),
            VectorFormat::Binary => Some(Self::Binary(BinaryVectors::quantise(vectors))),
        }
    }

    /// Bytes held for search.
    pub fn size_bytes(&self) -> u64 {
        match self {
            Self::Int8(v) => v.size_bytes(),
            Self::Binary(v) => v.size_bytes(),
        }
    }

    /// Its exact search.
    pub fn component(&self) -> Component<'_> {
        match self {
            Self::Int8(v) => Component::Int8(v),
            Self::Binary(v) => Component::Binary(v),
        }
    }
}

/// Float32 vectors for rescoring.
pub enum RescoreRows<'v> {
    /// Read by ranges from the store's verified vectors entry.
    Stored {
        /// The open entry.
        entry: EntryRanges,
        /// Dimension.
        dim: usize,
    },
    /// In memory (no store).
    Memory(std::borrow::Cow<'v, Vectors>),
}

impl RescoreRows<'_> {
    /// The same rows, owning what it borrowed.
    pub fn into_owned(self) -> RescoreRows<'static> {
        match self {
            Self::Stored { entry, dim } => RescoreRows::Stored { entry, dim },
            Self::Memory(v) => RescoreRows::Memory(std::borrow::Cow::Owned(v.into_owned())),
        }
    }
}

impl Rows for RescoreRows<'_> {
    fn read_row(&self, i: usize, out: &mut [f32]) -> ragtune_vector::Result<()> {
        match self {
            Self::Memory(v) => v.read_row(i, out),
            Self::Stored { entry, dim } => {
                if out.len() != *dim {
                    return Err(VectorError::Dim {
                        got: out.len(),
                        want: *dim,
                    });
                }
                let mut bytes = vec![0u8; dim * 4];
                entry
                    .read_at((i * dim * 4) as u64, &mut bytes)
                    .map_err(|e| VectorError::Io {
                        path: "the stored vectors".into(),
                        message: e.to_string(),
                    })?;
                for (x, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *x = f32::from_le_bytes(b.try_into().expect("4 bytes"));
                }
                Ok(())
            }
        }
    }
}

impl Executor<'_> {
    /// Where rescoring reads vectors node `node`'s float32 vectors: the store's entry
    /// when there is one (verified once, here), else `vectors` in memory.
    pub fn rescore_rows<'v>(&self, node: usize, vectors: &'v Vectors) -> RescoreRows<'v> {
        let key = &self.plan.nodes[node].key;
        match self
            .store
            .and_then(|s| s.open_ranges(Stage::Vectors, key))
            .filter(|e| e.len() == vectors.size_bytes())
        {
            Some(entry) => RescoreRows::Stored {
                entry,
                dim: vectors.dim,
            },
            None => RescoreRows::Memory(std::borrow::Cow::Borrowed(vectors)),
        }
    }
}
