//! What the unit tests share: one seeded random generator, so every test's random cases are
//! reproducible without a dependency.

/// Marsaglia's xorshift64 (shifts 13, 7, 17): a seeded, reproducible stream of `u64`.
#[derive(Debug, Clone)]
pub(crate) struct XorShift(pub u64);

impl XorShift {
    /// The next value (the seed must not be 0).
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[0, 1)`, from the top 53 bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[-1, 1)`, from the top 53 bits.
    pub(crate) fn signed(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// One of `items`.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}
