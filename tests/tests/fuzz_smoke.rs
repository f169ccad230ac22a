//! The fuzz targets' smoke run, in every test run: each target (`tests::fuzz`) gets its seeds and
//! a few thousand deterministic mutations of them (bytes flipped, cut, repeated, spliced, and
//! the tokens that broke things before: huge and tiny numbers, control characters, duplicate
//! keys). A target panics only on a broken invariant, so this fails exactly when one breaks.
//! Real fuzzing (coverage-guided, libFuzzer) is `scripts/fuzz.sh`.

/// A small deterministic PRNG (xorshift64*), so that every run tries the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "1e-400",
    "18446744073709551616",
    "9007199254740992",
    "-9223372036854775808",
    "0.10000000000000000001",
    "1e308",
    "-0",
    "\"\\u0000\"",
    "\"\\u202e\"",
    "\"\\u001b[31m\"",
    "\"a\\nb\"",
    "null",
    "[]",
    "{}",
    "\"9999-12-31\"",
    "\"0001-01-01\"",
    "\"\"",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            3 => {
                // Replace a value after a colon with a token: keeps much of the JSON valid.
                if let Some(colon) = data[at..].iter().position(|b| *b == b':') {
                    let start = at + colon + 1;
                    let end = data[start..]
                        .iter()
                        .position(|b| matches!(b, b',' | b'}' | b']'))
                        .map_or(data.len(), |e| start + e);
                    let token = TOKENS[rng.below(TOKENS.len())].as_bytes().to_vec();
                    data.splice(start..end, token);
                }
            }
            4 => {
                // Splice the tail of another seed.
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            _ => {
                // Duplicate a key-value pair: `{"a": 1,` becomes `{"a": 1,"a": 1,`.
                if let Some(comma) = data[at..].iter().position(|b| *b == b',') {
                    let end = at + comma + 1;
                    let start = data[..at]
                        .iter()
                        .rposition(|b| matches!(b, b'{' | b','))
                        .map_or(0, |s| s + 1);
                    let pair = data[start..end].to_vec();
                    data.splice(end..end, pair);
                }
            }
        }
    }
    data
}

fn smoke(name: &str, seeds: Vec<(String, Vec<u8>)>, target: fn(&[u8]), runs: usize) {
    let seeds: Vec<Vec<u8>> = seeds.into_iter().map(|(_, b)| b).collect();
    assert!(!seeds.is_empty(), "{name} has seeds");
    for seed in &seeds {
        target(seed);
    }
    let mut rng = Rng(0x5eed_0000_0000_0001 ^ name.len() as u64);
    for _ in 0..runs {
        let input = mutate(&mut rng, &seeds);
        let caught = std::panic::catch_unwind(|| target(&input));
        if caught.is_err() {
            panic!(
                "{name}: an invariant broke on the input {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

#[test]
fn programme_definitions_survive_mutation() {
    smoke(
        "programme_definition",
        tests::fuzz::seeds_programme_definition(),
        tests::fuzz::programme_definition,
        300,
    );
}

#[test]
fn forms_survive_mutation() {
    smoke("form", tests::fuzz::seeds_form(), tests::fuzz::form, 3000);
}

#[test]
fn command_bodies_survive_mutation() {
    smoke(
        "command_body",
        tests::fuzz::seeds_command_body(),
        tests::fuzz::command_body,
        1500,
    );
}
