//! Arbitrary bytes as a form: any JSON value is validated against every form of every shipped
//! programme (and an unknown form name) without panicking, then through the domain's check of
//! form values; a value that check accepts must be storable as it is (`store::check_storable`),
//! since the aggregate records forms verbatim in its events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use workflows::ProgrammeRegistry;

fuzz_target!(
    init: {
        use domain::fixtures::{date, plan_form, progress_form};
        let mut seeds = Vec::new();
        for programme in subsidy_fuzz::PROGRAMMES {
            let on = date(2021, 6, 8);
            let plan = plan_form(programme, "示例镇", on);
            let report = progress_form(programme, "示例镇", "上半年", on, 20);
            seeds.push((format!("{programme}-plan.json"), serde_json::to_vec(&plan).unwrap()));
            seeds.push((format!("{programme}-report.json"), serde_json::to_vec(&report).unwrap()));
        }
        subsidy_fuzz::write_seeds(seeds);
    },
    |data: &[u8]| {
        let Ok(value) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        for programme in ProgrammeRegistry::builtin().all() {
            for form in programme.forms.keys() {
                if let Err(e) = programme.validate_form(form, &value) {
                    let _ = e.to_string();
                    let _ = e.pointers();
                }
            }
            assert!(programme.validate_form("no-such-form", &value).is_err());
        }
        if domain::validate::check_json_value("/form", &value).is_ok() {
            if let Err(e) = store::check_storable("/payload/form", &value) {
                panic!("a form the domain accepts is refused by the store: {e}");
            }
        }
    }
);
