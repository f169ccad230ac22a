//! Arbitrary bytes as a form: any JSON value is validated against every form of every shipped
//! programme (and an unknown form name) without panicking, then through the domain's check of
//! form values; a value that check accepts must be storable as it is (`store::check_storable`),
//! since the aggregate records forms verbatim in its events.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        tests::fuzz::write_seeds(tests::fuzz::seeds_form());
    },
    |data: &[u8]| tests::fuzz::form(data)
);
