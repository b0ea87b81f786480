//! The Merkle tree of an audit log, as RFC 6962 (and RFC 9162 §2.1) defines it: leaf and node hashes,
//! the root of a growing log kept as its compact frontier, inclusion and consistency proofs made from
//! the hashes of perfect subtrees, and their verification. Pure: the caller fetches the subtrees a
//! proof needs ([`needed`]) and hands them in.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// A perfect subtree: `2^level` leaves from `index * 2^level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subtree {
    /// Height: 0 for a leaf.
    pub level: u32,
    /// Position among the subtrees of its level.
    pub index: u64,
}

/// The hash of a leaf holding `data`: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(data)
        .finalize()
        .into()
}

/// The hash of an inner node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of the empty log: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The perfect subtrees covering the first `size` leaves, largest (leftmost) first: one per bit set
/// in `size`.
pub fn frontier_of(size: u64) -> Vec<Subtree> {
    let mut subtrees = Vec::new();
    let mut offset = 0u64;
    for level in (0..64).rev() {
        if size & (1u64 << level) != 0 {
            subtrees.push(Subtree {
                level,
                index: offset >> level,
            });
            offset += 1u64 << level;
        }
    }
    subtrees
}

/// A log being appended to: the hashes of the perfect subtrees covering it (its compact frontier),
/// enough to add leaves and compute the root without the rest of the tree.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    subtrees: Vec<(Subtree, Hash)>,
}

impl Frontier {
    /// The frontier of a log of `size` leaves, from the hashes of [`frontier_of`]`(size)` in order.
    pub fn new(size: u64, hashes: Vec<Hash>) -> Option<Self> {
        let subtrees = frontier_of(size);
        (subtrees.len() == hashes.len()).then(|| Self {
            size,
            subtrees: subtrees.into_iter().zip(hashes).collect(),
        })
    }

    /// How many leaves the log holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf; returns every perfect subtree it completed (the leaf itself first), to store.
    pub fn push(&mut self, leaf: Hash) -> Vec<(Subtree, Hash)> {
        let mut completed = vec![(
            Subtree {
                level: 0,
                index: self.size,
            },
            leaf,
        )];
        let mut current = completed[0];
        while let Some(&(left, left_hash)) = self.subtrees.last() {
            if left.level != current.0.level {
                break;
            }
            self.subtrees.pop();
            current = (
                Subtree {
                    level: left.level + 1,
                    index: left.index / 2,
                },
                node_hash(&left_hash, &current.1),
            );
            completed.push(current);
        }
        self.subtrees.push(current);
        self.size += 1;
        completed
    }

    /// The root of the log as it stands.
    pub fn root(&self) -> Hash {
        let mut subtrees = self.subtrees.iter().rev();
        let Some((_, last)) = subtrees.next() else {
            return empty_root();
        };
        subtrees.fold(*last, |right, (_, left)| node_hash(left, &right))
    }
}

/// Where a proof's subtree hashes come from.
pub trait Subtrees {
    /// The hash of a perfect subtree of the log.
    fn hash(&mut self, subtree: Subtree) -> Hash;
}

/// Hashes already fetched, by subtree.
impl Subtrees for HashMap<Subtree, Hash> {
    fn hash(&mut self, subtree: Subtree) -> Hash {
        self.get(&subtree).copied().unwrap_or_default()
    }
}

/// Notes which subtrees are asked for.
#[derive(Default)]
struct Needed(Vec<Subtree>);

impl Subtrees for Needed {
    fn hash(&mut self, subtree: Subtree) -> Hash {
        self.0.push(subtree);
        Hash::default()
    }
}

/// The perfect subtrees `prove` reads: run it once with this to know what to fetch.
pub fn needed(prove: impl FnOnce(&mut dyn Subtrees) -> Vec<Hash>) -> Vec<Subtree> {
    let mut needed = Needed::default();
    prove(&mut needed);
    let mut subtrees = needed.0;
    subtrees.sort();
    subtrees.dedup();
    subtrees
}

/// The largest power of two below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[start:end]) from perfect subtrees.
fn range_hash(start: u64, end: u64, subtrees: &mut dyn Subtrees) -> Hash {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return subtrees.hash(Subtree {
            level,
            index: start >> level,
        });
    }
    let k = split(n);
    let left = range_hash(start, start + k, subtrees);
    let right = range_hash(start + k, end, subtrees);
    node_hash(&left, &right)
}

/// The inclusion proof of leaf `index` in the first `size` leaves (RFC 6962 §2.1.1 PATH), leaf end
/// first.
pub fn inclusion_proof(index: u64, size: u64, subtrees: &mut dyn Subtrees) -> Vec<Hash> {
    fn path(m: u64, start: u64, end: u64, subtrees: &mut dyn Subtrees, out: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            path(m, start, start + k, subtrees, out);
            out.push(range_hash(start + k, end, subtrees));
        } else {
            path(m - k, start + k, end, subtrees, out);
            out.push(range_hash(start, start + k, subtrees));
        }
    }
    let mut out = Vec::new();
    if index < size {
        path(index, 0, size, subtrees, &mut out);
    }
    out
}

/// The consistency proof between the first `first` and the first `second` leaves (RFC 6962 §2.1.2
/// PROOF), for 0 < first ≤ second.
pub fn consistency_proof(first: u64, second: u64, subtrees: &mut dyn Subtrees) -> Vec<Hash> {
    fn subproof(
        m: u64,
        start: u64,
        end: u64,
        whole: bool,
        subtrees: &mut dyn Subtrees,
        out: &mut Vec<Hash>,
    ) {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(range_hash(start, end, subtrees));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            subproof(m, start, start + k, whole, subtrees, out);
            out.push(range_hash(start + k, end, subtrees));
        } else {
            subproof(m - k, start + k, end, false, subtrees, out);
            out.push(range_hash(start, start + k, subtrees));
        }
    }
    let mut out = Vec::new();
    if 0 < first && first < second {
        subproof(first, 0, second, true, subtrees, &mut out);
    }
    out
}

/// Whether `proof` shows the leaf `leaf` at `index` in a log of `size` leaves with root `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// Whether `proof` shows the log of `first` leaves with root `first_root` to be a prefix of the log
/// of `second` leaves with root `second_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((&seed, rest)) = path.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    fr == *first_root && sr == *second_root && sn == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MTH straight from RFC 6962's definition, over all leaves.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    /// A log of `n` leaves with every perfect subtree stored, as the audit log keeps it.
    fn log(n: u64) -> (Vec<Hash>, HashMap<Subtree, Hash>, Vec<Hash>) {
        let mut frontier = Frontier::default();
        let mut stored = HashMap::new();
        let mut leaves = Vec::new();
        let mut roots = vec![empty_root()];
        for i in 0..n {
            let leaf = leaf_hash(&i.to_be_bytes());
            leaves.push(leaf);
            stored.extend(frontier.push(leaf));
            roots.push(frontier.root());
        }
        (leaves, stored, roots)
    }

    #[test]
    fn the_frontier_gives_the_roots_of_the_definition() {
        let (leaves, _, roots) = log(70);
        for size in 0..=70 {
            assert_eq!(roots[size], reference_root(&leaves[..size]), "size {size}");
        }
    }

    #[test]
    fn the_known_root_of_rfc_6962s_empty_tree() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_frontier_resumes_from_stored_subtrees() {
        let (_, stored, roots) = log(45);
        let hashes = frontier_of(45).iter().map(|s| stored[s]).collect();
        let mut resumed = Frontier::new(45, hashes).unwrap();
        assert_eq!(resumed.root(), roots[45]);
        resumed.push(leaf_hash(&45u64.to_be_bytes()));
        let (_, _, more) = log(46);
        assert_eq!(resumed.root(), more[46]);
    }

    #[test]
    fn inclusion_proofs_verify_and_only_for_their_leaf() {
        let (leaves, mut stored, roots) = log(37);
        for size in 1..=37u64 {
            for index in 0..size {
                let proof = inclusion_proof(index, size, &mut stored);
                let root = &roots[size as usize];
                assert!(verify_inclusion(
                    &leaves[index as usize],
                    index,
                    size,
                    &proof,
                    root
                ));
                let other = leaves[((index + 1) % 37) as usize];
                if size > 1 {
                    assert!(!verify_inclusion(&other, index, size, &proof, root));
                }
                assert!(!verify_inclusion(
                    &leaves[index as usize],
                    size,
                    size,
                    &proof,
                    root
                ));
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_and_catch_a_rewritten_prefix() {
        let (_, mut stored, roots) = log(33);
        for second in 1..=33u64 {
            for first in 1..=second {
                let proof = consistency_proof(first, second, &mut stored);
                let (a, b) = (&roots[first as usize], &roots[second as usize]);
                assert!(
                    verify_consistency(first, second, a, b, &proof),
                    "{first}→{second}"
                );
                if first < second {
                    let forged = leaf_hash(b"forged");
                    assert!(!verify_consistency(first, second, &forged, b, &proof));
                    assert!(!verify_consistency(first, second, a, &forged, &proof));
                }
            }
        }
    }

    #[test]
    fn proofs_read_only_the_subtrees_named_as_needed() {
        let (_, stored, _) = log(100);
        let wanted = needed(|s| consistency_proof(37, 100, s));
        let mut fetched: HashMap<Subtree, Hash> = wanted.iter().map(|s| (*s, stored[s])).collect();
        let mut all = stored.clone();
        assert_eq!(
            consistency_proof(37, 100, &mut fetched),
            consistency_proof(37, 100, &mut all)
        );
        assert!(wanted.len() <= 2 * 7);
    }
}
