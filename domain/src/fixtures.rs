//! Invented example data for tests and the demo: valid forms for the shipped programmes and
//! fictitious officials at example.org. Never real people from the seeds.

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::types::{ConstructionEntity, Official};

pub const LOCKERS_2017: &str = "shandong-smart-lockers-2017";
pub const VILLAGES_2021: &str = "yiyuan-express-to-villages-2021";
pub const LOCKERS_2025: &str = "yiyuan-smart-lockers-2025";

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid fixture date")
}

/// A valid plan form for the programme, submitted on `on`.
pub fn plan_form(programme_id: &str, unit: &str, on: NaiveDate) -> Value {
    let on = on.to_string();
    match programme_id {
        LOCKERS_2017 => json!({
            "city": unit,
            "construction_areas": [
                {"area": "示例区政务中心", "kind": "机关", "planned_groups": 20},
                {"area": "示例大学城", "kind": "校园", "planned_groups": 40},
                {"area": "示例新村社区", "kind": "社区", "planned_groups": 60}
            ],
            "annual_plan": {"install_count": 120, "cumulative_groups": 860, "compartments": 51600, "parcels_delivered": 1200000},
            "fund_use": {"province_fund_fen": 300_000_000, "enterprise_fund_fen": 900_000_000, "description": "省级资金用于补助快件箱购置与安装"},
            "safeguards": "成立工作专班，每月调度一次",
            "supporting_policies": "免费提供安装场地，协调电力接入",
            "submitted_on": on
        }),
        VILLAGES_2021 => json!({
            "reporting_unit": unit,
            "administrative_villages": 40,
            "township_centre": {
                "name": format!("{unit}快递公共服务中心"), "address": format!("{unit}中心大街1号"),
                "area_m2": 520, "indoor_area_m2": 260, "outdoor_area_m2": 260,
                "brands": ["邮政", "中通", "圆通", "韵达", "申通", "极兔"], "operator": "示例快递服务有限公司"
            },
            "village_points": [
                {"village": "东示例村", "site_type": "便利店", "address": "村委南50米"},
                {"village": "西示例村", "site_type": "党群服务中心", "address": "村党群服务中心"}
            ],
            "cooperation_modes": ["快快合作", "邮快合作"],
            "operating_model": "镇政府提供场地，企业联合运营",
            "budget_fen": 80_000_000,
            "submitted_on": on
        }),
        LOCKERS_2025 => json!({
            "township": unit,
            "sites": [
                {"compound": "怡康家园", "community": "示例社区", "location": "北门东侧", "groups": 1, "property_company": "示例物业"},
                {"compound": "翡翠山景", "location": "3号楼南", "groups": 1, "property_company": "示例物业"}
            ],
            "total_groups": 36,
            "investors": [
                {"company": "极兔", "share_percent": 40, "investment_fen": 4_000_000},
                {"company": "中通", "share_percent": 35, "investment_fen": 3_500_000},
                {"company": "韵达", "share_percent": 25, "investment_fen": 2_500_000}
            ],
            "subsidy_requested_fen": 20_000_000,
            "maintenance": {"regime": "每周检查、清洁，故障48小时内维修", "inspection_interval_days": 7, "responsible_unit": "示例物业"},
            "emergency_plan": {"equipment_failure": "临时人工派送", "network_outage": "启用离线取件码", "recovery_hours": 24, "contact": "示例物业值班室"},
            "cooperation_agreement_signed": true,
            "submitted_on": on
        }),
        other => panic!("no fixture plan for programme {other}"),
    }
}

/// A valid progress report form for the programme.
pub fn progress_form(
    programme_id: &str,
    unit: &str,
    period: &str,
    on: NaiveDate,
    done: i64,
) -> Value {
    let on = on.to_string();
    match programme_id {
        LOCKERS_2017 => json!({
            "city": unit, "period": period,
            "figures": {"install_count": done, "cumulative_groups": 740 + done, "compartments": 60 * (740 + done), "parcels_delivered": 10_000 * done},
            "by_operator": [{"operator": "丰巢", "install_count": done / 2, "cumulative_groups": 300, "compartments": 18000, "parcels_delivered": 5_000 * done}],
            "reporter": "李示例", "contact": "0631-0000000", "reported_on": on
        }),
        VILLAGES_2021 => json!({
            "reporting_unit": unit, "report_date": on,
            "county_centres_built": 1, "township_centres_built": 1,
            "villages_total": 40, "villages_covered": done.min(40), "village_points_built": done.min(40),
            "coverage_percent": (done.min(40) * 100 / 40), "brands_integrated": 6,
            "progress_summary": format!("{period}：已覆盖{}个行政村", done.min(40)),
            "reporter": "王示例", "contact": "0533-0000000"
        }),
        LOCKERS_2025 => json!({
            "township": unit, "report_date": on,
            "groups_installed": done, "compounds_covered": done, "groups_in_service": done,
            "invested_fen": 250_000 * done, "progress_summary": format!("{period}：已安装{done}组"),
            "reporter": "赵示例", "contact": "0533-0000001"
        }),
        other => panic!("no fixture progress report for programme {other}"),
    }
}

pub fn official(name: &str, post: &str, email: &str) -> Official {
    Official {
        name: name.to_string(),
        post: post.to_string(),
        phone: Some("0533-0000000".to_string()),
        email: email.to_string(),
        language: "zh".to_string(),
    }
}

pub fn entity(name: &str) -> ConstructionEntity {
    ConstructionEntity {
        name: name.to_string(),
        credit_code: "91370000MA3EXAMPLE".to_string(),
        kind: "快递企业".to_string(),
    }
}

/// The 2025 lockers definition as an invented version 2 whose application window runs from
/// 2025-01-01 to 2027-12-31 (the shipped version 1 closes with 2025), as definition text: for
/// tests of the calendar's year boundary, which need a project registered late in 2026.
pub fn lockers_2025_v2_open_to_2027() -> String {
    let (_, text) = workflows::programme::ProgrammeRegistry::builtin_sources()
        .iter()
        .find(|(label, _)| label.contains(LOCKERS_2025))
        .expect("the 2025 lockers programme is shipped");
    let mut v: Value = serde_json::from_str(text).expect("a shipped definition is JSON");
    v["version"] = json!(2);
    v["application_window"]["closes_on"] = json!("2027-12-31");
    serde_json::to_string_pretty(&v).expect("serialises")
}
