//! Arbitrary bytes as a programme definition file: loading it (syntax, meta-schema, semantic
//! checks, form schemas compiled) must refuse or accept, never panic; and an accepted definition
//! must be usable by everything that reads one (registry, forms, report slots, grades,
//! deadline derivation, the date windows of the field validation) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        tests::fuzz::write_seeds(tests::fuzz::seeds_programme_definition());
    },
    |data: &[u8]| tests::fuzz::programme_definition(data)
);
