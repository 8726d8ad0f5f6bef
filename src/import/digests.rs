//! The set of task digests (MD5 of `data`) an import checks for duplicates, in memory that
//! grows by under 2 bytes a digest (a hash set of them took about 35).
//!
//! The newest digests are held in a hash table of fixed size. When it is full they are
//! sorted and written to an unnamed temporary file in the folder the store is in (a "run"),
//! which the operating system removes when the import ends however it ends. Each run keeps in
//! memory only a Bloom filter (12 bits a digest) and the first digest of every 1 KiB block;
//! a digest the filter may hold costs one read of one block. Runs of the same size are
//! merged, so there are at most about log2(digests / table size) of them.
//!
//! For 4M digests that is 9 MiB of table, 6 MiB of filters and 1 MiB of block keys, where a
//! hash set of them took 120 MiB (docs/benchmarks.md).

use std::collections::HashSet;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Digests held in memory before they are written out as a run.
pub const TABLE_DIGESTS: usize = 1 << 18;
/// Bytes of one digest in a run (little-endian), and digests per block read.
const DIGEST_BYTES: usize = 16;
const BLOCK_DIGESTS: usize = 64;
/// Bloom filter bits per digest, in 512-bit blocks with 7 bits set per digest: about one
/// digest in 200 that is not in a run still costs a block read.
const FILTER_BITS: usize = 12;

/// A set of MD5 digests; see the module's comment.
pub struct Digests {
    table: HashSet<u128, BuildHasherDefault<DigestHasher>>,
    capacity: usize,
    runs: Vec<Run>,
    dir: PathBuf,
    block: Vec<u8>,
}

impl Digests {
    /// An empty set whose runs go to `dir`, holding `capacity` digests in memory.
    pub fn new(dir: &Path, capacity: usize) -> Digests {
        let capacity = capacity.max(1);
        Digests {
            table: HashSet::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            capacity,
            runs: Vec::new(),
            dir: dir.to_path_buf(),
            block: vec![0; BLOCK_DIGESTS * DIGEST_BYTES],
        }
    }

    /// Add a digest; false when it was there already.
    pub fn insert(&mut self, digest: u128) -> Result<bool> {
        if self.table.contains(&digest) {
            return Ok(false);
        }
        for run in &self.runs {
            if run.contains(digest, &mut self.block).with_context(|| self.io_context())? {
                return Ok(false);
            }
        }
        self.table.insert(digest);
        if self.table.len() >= self.capacity {
            self.spill().with_context(|| self.io_context())?;
        }
        Ok(true)
    }

    fn io_context(&self) -> String {
        format!(
            "checking for duplicates with a temporary file in {} (it needs write access and \
             about 16 bytes a task of free space)",
            self.dir.display()
        )
    }

    /// Write the table out as a run, then merge runs of the same size.
    fn spill(&mut self) -> Result<()> {
        let mut sorted: Vec<u128> = self.table.drain().collect();
        sorted.sort_unstable();
        let mut out = RunWriter::new(&self.dir, sorted.len())?;
        for digest in sorted {
            out.push(digest)?;
        }
        self.runs.push(out.finish()?);
        while let [.., older, newer] = self.runs.as_slice()
            && older.len <= newer.len
        {
            let (Some(newer), Some(older)) = (self.runs.pop(), self.runs.pop()) else { break };
            self.runs.push(merge(&self.dir, older, newer)?);
        }
        Ok(())
    }

    /// How many runs there are now (for tests).
    #[cfg(test)]
    fn runs(&self) -> usize {
        self.runs.len()
    }
}

/// Hashes a digest by its low 64 bits: digests are uniformly spread already.
#[derive(Default)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// Sorted digests in a temporary file, with what finds one without reading the file.
struct Run {
    file: File,
    len: usize,
    /// The first digest of each block.
    firsts: Vec<u128>,
    filter: Filter,
}

impl Run {
    fn contains(&self, digest: u128, block: &mut [u8]) -> std::io::Result<bool> {
        if !self.filter.may_contain(digest) {
            return Ok(false);
        }
        let Some(at) = self.firsts.partition_point(|first| *first <= digest).checked_sub(1) else {
            return Ok(false);
        };
        let n = BLOCK_DIGESTS.min(self.len - at * BLOCK_DIGESTS);
        let bytes = &mut block[..n * DIGEST_BYTES];
        read_at(&self.file, bytes, (at * BLOCK_DIGESTS * DIGEST_BYTES) as u64)?;
        let (mut low, mut high) = (0, n);
        while low < high {
            let mid = (low + high) / 2;
            let found = read_digest(&bytes[mid * DIGEST_BYTES..(mid + 1) * DIGEST_BYTES]);
            match found.cmp(&digest) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(true),
            }
        }
        Ok(false)
    }
}

/// Read `buf.len()` bytes at `offset`: one `pread` where there is one.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_at(mut file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

fn read_digest(bytes: &[u8]) -> u128 {
    let mut le = [0; DIGEST_BYTES];
    le.copy_from_slice(bytes);
    u128::from_le_bytes(le)
}

/// Writes a run of `len` sorted digests.
struct RunWriter {
    out: BufWriter<File>,
    len: usize,
    firsts: Vec<u128>,
    filter: Filter,
}

impl RunWriter {
    fn new(dir: &Path, len: usize) -> Result<RunWriter> {
        let file = tempfile::tempfile_in(dir)?;
        Ok(RunWriter {
            out: BufWriter::with_capacity(1 << 16, file),
            len: 0,
            firsts: Vec::with_capacity(len.div_ceil(BLOCK_DIGESTS)),
            filter: Filter::new(len),
        })
    }

    fn push(&mut self, digest: u128) -> Result<()> {
        if self.len.is_multiple_of(BLOCK_DIGESTS) {
            self.firsts.push(digest);
        }
        self.len += 1;
        self.filter.insert(digest);
        self.out.write_all(&digest.to_le_bytes())?;
        Ok(())
    }

    fn finish(self) -> Result<Run> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(Run { file, len: self.len, firsts: self.firsts, filter: self.filter })
    }
}

/// One run of two; their files are closed (and so removed) after.
fn merge(dir: &Path, a: Run, b: Run) -> Result<Run> {
    let mut out = RunWriter::new(dir, a.len + b.len)?;
    let mut a_in = RunReader::new(&a)?;
    let mut b_in = RunReader::new(&b)?;
    let (mut x, mut y) = (a_in.next_digest()?, b_in.next_digest()?);
    loop {
        match (x, y) {
            (Some(p), Some(q)) if p <= q => {
                out.push(p)?;
                if p == q {
                    y = b_in.next_digest()?;
                }
                x = a_in.next_digest()?;
            }
            (_, Some(q)) => {
                out.push(q)?;
                y = b_in.next_digest()?;
            }
            (Some(p), None) => {
                out.push(p)?;
                x = a_in.next_digest()?;
            }
            (None, None) => break,
        }
    }
    out.finish()
}

/// A run's digests in order.
struct RunReader {
    input: BufReader<File>,
    left: usize,
}

impl RunReader {
    fn new(run: &Run) -> Result<RunReader> {
        let mut file = run.file.try_clone()?;
        std::io::Seek::rewind(&mut file)?;
        Ok(RunReader { input: BufReader::with_capacity(1 << 16, file), left: run.len })
    }

    fn next_digest(&mut self) -> Result<Option<u128>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut le = [0; DIGEST_BYTES];
        self.input.read_exact(&mut le)?;
        Ok(Some(u128::from_le_bytes(le)))
    }
}

/// A blocked Bloom filter: each digest sets 7 bits in one 512-bit block. A digest's high
/// 64 bits choose the block and its low 63 bits the bits.
struct Filter {
    blocks: Vec<[u64; 8]>,
}

impl Filter {
    fn new(len: usize) -> Filter {
        Filter { blocks: vec![[0; 8]; (len * FILTER_BITS).div_ceil(512).max(1)] }
    }

    fn block(&self, digest: u128) -> usize {
        (((digest >> 64) as u64 as u128 * self.blocks.len() as u128) >> 64) as usize
    }

    fn bits(digest: u128) -> impl Iterator<Item = (usize, u64)> {
        let low = digest as u64;
        (0..7).map(move |i| {
            let bit = (low >> (i * 9)) & 511;
            ((bit >> 6) as usize, 1u64 << (bit & 63))
        })
    }

    fn insert(&mut self, digest: u128) {
        let at = self.block(digest);
        let block = &mut self.blocks[at];
        for (word, mask) in Filter::bits(digest) {
            block[word] |= mask;
        }
    }

    fn may_contain(&self, digest: u128) -> bool {
        let block = &self.blocks[self.block(digest)];
        Filter::bits(digest).all(|(word, mask)| block[word] & mask != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digest-like number from a counter (splitmix64, twice).
    fn spread(i: u64) -> u128 {
        let mix = |mut z: u64| {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        (u128::from(mix(i)) << 64) | u128::from(mix(i ^ 0x5555))
    }

    #[test]
    fn answers_as_a_hash_set_does_across_runs_and_merges() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let mut digests = Digests::new(dir.path(), 100);
        let mut seen = HashSet::new();
        // New digests, then some seen long ago (in merged runs), recently (in the table)
        // and twice in a row; small and large numbers, which sort at the ends of a run.
        let mut order: Vec<u128> = (0..5_000).map(spread).collect();
        order.extend((0..5_000).step_by(7).map(spread));
        order.extend((4_990..5_010).map(spread));
        order.extend([0, 0, u128::MAX, 1, u128::MAX]);
        order.extend((5_000..9_000).map(spread));
        order.extend((0..9_000).rev().step_by(3).map(spread));
        for digest in order {
            assert_eq!(digests.insert(digest)?, seen.insert(digest), "{digest:x}");
        }
        assert!(digests.runs() >= 2 && digests.runs() <= 8, "{} runs", digests.runs());
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        /// Any sequence of digests (drawn from few values, so that many repeat, near and far
        /// apart) and any table size: the same answers as a hash set.
        #[test]
        fn any_sequence_answers_as_a_hash_set_does(
            picks in proptest::collection::vec(0u64..600, 0..3_000),
            capacity in 1usize..80,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut digests = Digests::new(dir.path(), capacity);
            let mut seen = HashSet::new();
            for pick in picks {
                let digest = spread(pick);
                proptest::prop_assert_eq!(digests.insert(digest).unwrap(), seen.insert(digest));
            }
        }
    }

    #[test]
    fn a_run_finds_every_digest_it_holds_and_few_others() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let mut out = RunWriter::new(dir.path(), 3_000)?;
        let mut held: Vec<u128> = (0..3_000).map(|i| spread(i * 2)).collect();
        held.sort_unstable();
        for digest in &held {
            out.push(*digest)?;
        }
        let run = out.finish()?;
        let mut block = vec![0; BLOCK_DIGESTS * DIGEST_BYTES];
        for digest in &held {
            assert!(run.contains(*digest, &mut block)?);
        }
        let passed = (0..100_000).filter(|i| run.filter.may_contain(spread(i * 2 + 1))).count();
        for i in 0..3_000 {
            assert!(!run.contains(spread(i * 2 + 1), &mut block)?);
        }
        assert!(passed < 2_000, "{passed} of 100000 passed the filter");
        Ok(())
    }

    #[test]
    fn a_directory_it_cannot_write_is_an_error_naming_it() {
        let mut digests = Digests::new(Path::new("/nonexistent/lsdb-test"), 1);
        let err = digests.insert(1).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("/nonexistent/lsdb-test"), "{text}");
    }
}
