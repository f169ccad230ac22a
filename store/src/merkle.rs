//! Merkle trees as in RFC 6962 (Certificate Transparency) §2.1, with the verifiers of RFC 9162
//! §2.1.3.2 and §2.1.4.2: the tree the audit digests sign.
//!
//! - leaf hash: `SHA-256(0x00 || leaf)`; interior node: `SHA-256(0x01 || left || right)`;
//! - the Merkle Tree Hash of `n` leaves splits at `k`, the largest power of two below `n`
//!   (so trees of any size, not only powers of two); the empty tree hashes to `SHA-256("")`;
//! - an **inclusion proof** (audit path) shows that leaf `i` is in the tree of size `n` with a
//!   given root; a **consistency proof** shows that the tree of size `m` is a prefix of the tree of
//!   size `n` (nothing in the first `m` leaves was changed, removed or reordered).
//!
//! Functions take leaf *hashes* (`leaf_hash` of the leaf bytes), so a tree of 100,000 leaves is
//! hashed once. Written here because no maintained crate in the dependency set offers RFC 6962
//! consistency proofs; tested against the published vectors of the Certificate Transparency
//! reference implementation (transparency-dev/merkle) in `tests` below.

use sha2::{Digest, Sha256};

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// A tree with every complete, aligned subtree hashed once, so that roots of any prefix and
/// proofs cost O(log² n) hashes instead of O(n): `levels[k][i]` is the hash of leaves
/// `i·2^k .. (i+1)·2^k`. The ranges RFC 6962's recursion visits are always such subtrees or
/// split into one and a remainder.
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub fn new(leaves: &[Hash]) -> Tree {
        let mut levels = vec![leaves.to_vec()];
        while levels.last().is_some_and(|l| l.len() >= 2) {
            let below = levels.last().expect("checked");
            let above: Vec<Hash> = below
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            levels.push(above);
        }
        Tree { levels }
    }

    /// The number of leaves.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// MTH of leaves `start..end`.
    fn range_root(&self, start: usize, end: usize) -> Hash {
        let n = end - start;
        match n {
            0 => empty_root(),
            1 => self.levels[0][start],
            _ if n.is_power_of_two() && start.is_multiple_of(n) => {
                self.levels[n.trailing_zeros() as usize][start / n]
            }
            _ => {
                let k = split(n);
                node_hash(
                    &self.range_root(start, start + k),
                    &self.range_root(start + k, end),
                )
            }
        }
    }

    /// The root of the tree of the first `size` leaves (`size <= len`).
    pub fn root(&self, size: usize) -> Hash {
        self.range_root(0, size)
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: usize, size: usize) -> Option<Vec<Hash>> {
        if index >= size || size > self.len() {
            return None;
        }
        let mut out = Vec::new();
        self.path(index, 0, size, &mut out);
        Some(out)
    }

    fn path(&self, m: usize, start: usize, end: usize, out: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, start, start + k, out);
            out.push(self.range_root(start + k, end));
        } else {
            self.path(m - k, start + k, end, out);
            out.push(self.range_root(start, start + k));
        }
    }

    /// The consistency proof from the first `old_size` leaves to the first `size` leaves.
    pub fn consistency_proof(&self, old_size: usize, size: usize) -> Option<Vec<Hash>> {
        if old_size > size || size > self.len() {
            return None;
        }
        let mut out = Vec::new();
        if old_size > 0 && old_size < size {
            self.subproof(old_size, 0, size, true, &mut out);
        }
        Some(out)
    }

    fn subproof(&self, m: usize, start: usize, end: usize, complete: bool, out: &mut Vec<Hash>) {
        let n = end - start;
        if m == n {
            if !complete {
                out.push(self.range_root(start, end));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, start + k, complete, out);
            out.push(self.range_root(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.range_root(start, start + k));
        }
    }
}

/// The Merkle Tree Hash (MTH) of the leaves whose hashes are given.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 6962 §2.1.1 `PATH`), from the
/// leaf's sibling up. `None` when `index` is not a leaf of the tree.
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    path(index, leaves, &mut proof);
    Some(proof)
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &leaves[..k], out);
        out.push(root(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(root(&leaves[..k]));
    }
}

/// The consistency proof between the tree of the first `old_size` leaves and the tree of all
/// `leaves` (RFC 6962 §2.1.2 `PROOF`). Empty when `old_size` is 0 or equal to the size; `None`
/// when `old_size` exceeds it.
pub fn consistency_proof(old_size: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    let n = leaves.len();
    if old_size > n {
        return None;
    }
    let mut proof = Vec::new();
    if old_size > 0 && old_size < n {
        subproof(old_size, leaves, true, &mut proof);
    }
    Some(proof)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("the proof has {found} hashes where a tree of this size needs {expected}")]
    WrongLength { expected: usize, found: usize },
    #[error("the proof leads to root {computed}, not to the signed root {expected}")]
    RootMismatch { computed: String, expected: String },
    #[error("the old tree size {old} is larger than the new size {new}")]
    SizesReversed { old: u64, new: u64 },
    #[error("trees of equal size {size} must have equal roots and an empty proof")]
    EqualSizes { size: u64 },
    #[error("the proof does not reproduce the old root {expected} (got {computed})")]
    OldRootMismatch { computed: String, expected: String },
}

/// The number of hashes in the audit path of leaf `index` in a tree of `size` leaves.
fn inclusion_length(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros() as usize;
    let border = (index >> inner).count_ones() as usize;
    inner + border
}

/// Checks that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves with `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_length(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::WrongLength {
                expected,
                found: proof.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    if &r != root {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(r),
            expected: hex::encode(root),
        });
    }
    Ok(())
}

/// Checks that the tree of `old_size` leaves with `old_root` is a prefix of the tree of
/// `new_size` leaves with `new_root` (RFC 9162 §2.1.4.2). An empty old tree is a prefix of
/// every tree (with an empty proof).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesReversed {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        if !proof.is_empty() || old_root != new_root {
            return Err(ProofError::EqualSizes { size: old_size });
        }
        return Ok(());
    }
    if old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                found: proof.len(),
            });
        }
        return Ok(());
    }
    // Length of a correct proof: the inclusion path of leaf old_size-1 in new tree, minus the
    // levels shared by the old tree's complete subtrees, plus one unless old_size is a power of 2.
    let shift = old_size.trailing_zeros();
    let inner = 64 - ((old_size - 1) ^ (new_size - 1)).leading_zeros();
    let border = ((old_size - 1) >> inner).count_ones();
    let start = if old_size.is_power_of_two() { 0 } else { 1 };
    let expected = (start + inner - shift + border) as usize;
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = path[0];
    let mut s_r = path[0];
    for c in &path[1..] {
        if s_n == 0 {
            return Err(ProofError::WrongLength {
                expected,
                found: proof.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    if &f_r != old_root {
        return Err(ProofError::OldRootMismatch {
            computed: hex::encode(f_r),
            expected: hex::encode(old_root),
        });
    }
    if &s_r != new_root {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(s_r),
            expected: hex::encode(new_root),
        });
    }
    Ok(())
}

/// A hash as lowercase hex.
pub fn to_hex(hash: &Hash) -> String {
    hex::encode(hash)
}

/// A hash from 64 hex digits.
pub fn from_hex(text: &str) -> Option<Hash> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> Hash {
        from_hex(text).expect("64 hex digits")
    }

    /// The leaf inputs of the Certificate Transparency reference tests (transparency-dev/merkle
    /// `testonly.LeafInputs`, the same as google/certificate-transparency `merkle_tree_test.cc`).
    fn ct_leaves() -> Vec<Hash> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|x| leaf_hash(&hex::decode(x).unwrap()))
        .collect()
    }

    /// Roots of the trees of the first 0..=8 leaves (`testonly.RootHashes`).
    const CT_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_match_the_ct_vectors_for_every_size_up_to_8() {
        let leaves = ct_leaves();
        assert_eq!(
            to_hex(&leaves[0]),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        for (size, expected) in CT_ROOTS.iter().enumerate() {
            assert_eq!(to_hex(&root(&leaves[..size])), *expected, "size {size}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_ct_vectors() {
        let leaves = ct_leaves();
        // (1-based leaf, tree size, path) from transparency-dev/merkle proof/verify_test.go.
        let vectors: [(usize, usize, &[&str]); 5] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                3,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                2,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (leaf, size, path) in vectors {
            let expected: Vec<Hash> = path.iter().map(|x| h(x)).collect();
            let proof = inclusion_proof(leaf - 1, &leaves[..size]).unwrap();
            assert_eq!(proof, expected, "leaf {leaf} of {size}");
            verify_inclusion(
                (leaf - 1) as u64,
                size as u64,
                &leaves[leaf - 1],
                &expected,
                &h(CT_ROOTS[size]),
            )
            .unwrap();
        }
    }

    #[test]
    fn consistency_proofs_match_the_ct_vectors() {
        let leaves = ct_leaves();
        let vectors: [(usize, usize, &[&str]); 5] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
            (
                6,
                7,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (m, n, path) in vectors {
            let expected: Vec<Hash> = path.iter().map(|x| h(x)).collect();
            assert_eq!(
                consistency_proof(m, &leaves[..n]).unwrap(),
                expected,
                "{m} -> {n}"
            );
            verify_consistency(
                m as u64,
                n as u64,
                &h(CT_ROOTS[m]),
                &h(CT_ROOTS[n]),
                &expected,
            )
            .unwrap();
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
            .collect()
    }

    /// Every inclusion proof of every leaf of every tree of 1..=64 leaves verifies, and fails
    /// after any one change: a flipped bit in any proof hash, a wrong index, a wrong size, a
    /// wrong leaf, a proof one hash shorter or longer.
    #[test]
    fn every_inclusion_proof_up_to_64_leaves_verifies_and_fails_after_any_change() {
        let all = leaves(64);
        for n in 1..=64usize {
            let tree = &all[..n];
            let r = root(tree);
            for i in 0..n {
                let proof = inclusion_proof(i, tree).unwrap();
                verify_inclusion(i as u64, n as u64, &tree[i], &proof, &r).unwrap();
                for j in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[j][j % 32] ^= 1 << (j % 8);
                    assert!(verify_inclusion(i as u64, n as u64, &tree[i], &bad, &r).is_err());
                }
                for other in 0..n {
                    if other != i {
                        assert!(
                            verify_inclusion(other as u64, n as u64, &tree[i], &proof, &r).is_err(),
                            "leaf {i} of {n} verified at index {other}"
                        );
                        assert!(
                            verify_inclusion(i as u64, n as u64, &tree[other], &proof, &r).is_err()
                        );
                    }
                }
                // (A wrong size can give the same computation, e.g. leaf 0 of 3 and of 4 leaves
                // share the path shape; the size is signed with the root, so that is harmless.)
                if !proof.is_empty() {
                    let short = &proof[..proof.len() - 1];
                    assert!(verify_inclusion(i as u64, n as u64, &tree[i], short, &r).is_err());
                }
                let mut long = proof.clone();
                long.push(r);
                assert!(verify_inclusion(i as u64, n as u64, &tree[i], &long, &r).is_err());
            }
            assert!(inclusion_proof(n, tree).is_none());
        }
    }

    /// Every consistency proof between trees of sizes m ≤ n ≤ 64 verifies, and fails after a
    /// flipped bit, with a changed earlier leaf (the old root of a different history), with the
    /// sizes swapped, or with a hash removed or added.
    #[test]
    fn every_consistency_proof_up_to_64_leaves_verifies_and_fails_after_any_change() {
        let all = leaves(64);
        let roots: Vec<Hash> = (0..=64).map(|n| root(&all[..n])).collect();
        for n in 1..=64usize {
            for m in 0..=n {
                let proof = consistency_proof(m, &all[..n]).unwrap();
                verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &proof)
                    .unwrap_or_else(|e| panic!("{m} -> {n}: {e}"));
                if m == 0 || m == n {
                    continue;
                }
                for j in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[j][31 - j % 32] ^= 0x10;
                    assert!(
                        verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &bad).is_err()
                    );
                }
                // A history whose first m leaves differ in one leaf.
                let mut forged = all[..n].to_vec();
                forged[m - 1] = leaf_hash(b"forged");
                let forged_old = root(&forged[..m]);
                assert!(
                    verify_consistency(m as u64, n as u64, &forged_old, &roots[n], &proof).is_err()
                );
                assert!(
                    verify_consistency(n as u64, m as u64, &roots[n], &roots[m], &proof).is_err()
                );
                assert!(verify_consistency(
                    m as u64,
                    n as u64,
                    &roots[m],
                    &roots[n],
                    &proof[..proof.len() - 1]
                )
                .is_err());
                let mut long = proof.clone();
                long.push(roots[m]);
                assert!(
                    verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &long).is_err()
                );
            }
        }
    }

    /// The cached tree gives the same roots and proofs as the plain recursion, for every
    /// prefix size of a 70-leaf tree.
    #[test]
    fn the_cached_tree_agrees_with_the_recursion() {
        let all = leaves(70);
        let tree = Tree::new(&all);
        for n in 0..=70usize {
            assert_eq!(tree.root(n), root(&all[..n]), "root of {n}");
            for i in 0..n {
                assert_eq!(tree.inclusion_proof(i, n), inclusion_proof(i, &all[..n]));
            }
            for m in 0..=n {
                assert_eq!(
                    tree.consistency_proof(m, n),
                    consistency_proof(m, &all[..n])
                );
            }
        }
        assert!(tree.inclusion_proof(0, 71).is_none());
    }

    #[test]
    fn the_root_splits_at_the_largest_power_of_two_below_the_size() {
        // A tree of 3 leaves is node(node(a, b), c), not node(a, node(b, c)).
        let l = leaves(3);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        let l = leaves(5);
        let left = node_hash(&node_hash(&l[0], &l[1]), &node_hash(&l[2], &l[3]));
        assert_eq!(root(&l), node_hash(&left, &l[4]));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// For random trees of up to 300 leaves, any leaf's proof verifies and a proof
            /// from one leaf never verifies another's content.
            #[test]
            fn random_inclusion(n in 1usize..300, pick in any::<prop::sample::Index>(), salt in any::<u64>()) {
                let tree: Vec<Hash> = (0..n).map(|i| leaf_hash(format!("{salt}:{i}").as_bytes())).collect();
                let i = pick.index(n);
                let r = root(&tree);
                let proof = inclusion_proof(i, &tree).unwrap();
                prop_assert!(verify_inclusion(i as u64, n as u64, &tree[i], &proof, &r).is_ok());
                let other = leaf_hash(format!("{salt}:other").as_bytes());
                prop_assert!(verify_inclusion(i as u64, n as u64, &other, &proof, &r).is_err());
            }

            /// Appending leaves keeps every earlier tree consistent with the later one.
            #[test]
            fn random_consistency(n in 1usize..300, pick in any::<prop::sample::Index>(), salt in any::<u64>()) {
                let tree: Vec<Hash> = (0..n).map(|i| leaf_hash(format!("{salt}:{i}").as_bytes())).collect();
                let m = pick.index(n + 1);
                let proof = consistency_proof(m, &tree).unwrap();
                prop_assert!(verify_consistency(m as u64, n as u64, &root(&tree[..m]), &root(&tree), &proof).is_ok());
            }
        }
    }
}
