//! Arbitrary bytes as the body of every command endpoint: the endpoints' extractor
//! (`strict_json::parse`), the conversion into the domain command, the field validation and the
//! aggregate's `decide` against canned project states of every shipped programme must refuse or
//! accept, never panic. Invariants:
//! - whatever `strict_json` accepts reads back as the same JSON and passes the store's check
//!   (`store::check_storable`): every number in it is exactly representable;
//! - a parsed body re-serialises to storable JSON;
//! - an accepted command yields events (and metadata) the store accepts, which the aggregate
//!   and the deadlines projection fold without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        tests::fuzz::write_seeds(tests::fuzz::seeds_command_body());
    },
    |data: &[u8]| tests::fuzz::command_body(data)
);
