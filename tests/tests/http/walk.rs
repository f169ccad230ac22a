//! A project of each shipped programme from registration to closing, through HTTP only.

use domain::fixtures::{plan_form, progress_form, LOCKERS_2017, LOCKERS_2025, VILLAGES_2021};
use serde_json::{json, Value};
use workflows::programme::{ProgrammeRegistry, Requirement};

use crate::helpers::{spawn_app, TestApp, BACKENDS};

/// The dates of the walk, in the programme's own year (as in the demo data set).
struct Dates {
    plan: &'static str,
    review: &'static str,
    /// Start, last day, and the day it closes (after its last day).
    notice: (&'static str, &'static str, &'static str),
    tranche: &'static str,
    reports: [(&'static str, &'static str); 2],
    acceptance: &'static str,
    inspection: &'static str,
    evaluation: &'static str,
    close: &'static str,
}

fn dates(programme: &str) -> Dates {
    match programme {
        LOCKERS_2017 => Dates {
            plan: "2017-05-26",
            review: "2017-06-05",
            notice: ("2017-06-07", "2017-06-14", "2017-06-15"),
            tranche: "2017-06-20",
            reports: [("2017-06-28", "上半年"), ("2017-09-28", "三季度")],
            acceptance: "2017-12-01",
            inspection: "2017-12-08",
            evaluation: "2017-12-20",
            close: "2017-12-28",
        },
        VILLAGES_2021 => Dates {
            plan: "2021-06-07",
            review: "2021-06-09",
            notice: ("2021-06-10", "2021-06-18", "2021-06-21"),
            tranche: "2021-06-25",
            reports: [("2021-07-09", "7月上旬"), ("2021-07-19", "7月中旬")],
            acceptance: "2021-08-02",
            inspection: "2021-08-10",
            evaluation: "2021-12-20",
            close: "2021-12-28",
        },
        _ => Dates {
            plan: "2025-03-20",
            review: "2025-04-01",
            notice: ("2025-04-02", "2025-04-10", "2025-04-11"),
            tranche: "2025-04-20",
            reports: [("2025-05-09", "5月"), ("2025-06-09", "6月")],
            acceptance: "2025-10-09",
            inspection: "2025-10-15",
            evaluation: "2025-12-15",
            close: "2025-12-26",
        },
    }
}

fn date(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

async fn walk(app: &TestApp, programme_id: &str) {
    let registry = ProgrammeRegistry::builtin();
    let programme = registry.get(programme_id, 1).expect("shipped programme");
    let d = dates(programme_id);
    let (officer, supervisor) = ("officer.yiyuan", "supervisor.zibo");
    let id = app.register(officer, programme_id, "370323").await;
    let p = |suffix: &str| format!("/projects/{id}{suffix}");
    app.ok(officer, &p("/officials"), json!({"role": "official_in_charge", "official": {"name": "张示例", "post": "副局长", "email": "leader@example.org"}})).await;
    app.ok(officer, &p("/officials"), json!({"role": "liaison", "official": {"name": "李示例", "post": "科长", "email": "liaison@example.org"}})).await;
    app.ok(officer, &p("/plan"), json!({"submitted_on": d.plan, "form": plan_form(programme_id, unit(programme_id), date(d.plan)),
        "evidence": [{"title": "工作推进方案", "reference": "示例文〔2021〕3号", "sha256": "ab".repeat(32)}]})).await;
    app.ok(
        supervisor,
        &p("/review"),
        json!({"reviewed_on": d.review, "decision": {"decision": "approve", "comment": "同意"}}),
    )
    .await;
    let sources: Vec<String> = programme
        .funding
        .sources
        .iter()
        .map(|r| {
            serde_json::to_value(r.source)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let amount = 10_000_000i64;
    for s in &sources {
        app.ok(
            supervisor,
            &p("/funds/approvals"),
            json!({"source": s, "amount_fen": amount, "approved_on": d.review}),
        )
        .await;
    }
    app.ok(officer, &p("/construction-entity"), json!({"entity": {"name": "示例快递末端服务有限公司", "credit_code": "91370000MA3EXAMPLE", "kind": "快递企业"}})).await;
    app.ok(
        officer,
        &p("/notice"),
        json!({"starts_on": d.notice.0, "ends_on": d.notice.1, "channel": "县人民政府网站"}),
    )
    .await;
    app.ok(officer, &p("/objections"), json!({"objection_id": "YY-001", "raised_on": d.notice.0, "raised_by": "居民代表", "summary": "选址过远"})).await;
    app.ok(
        officer,
        &p("/objections/YY-001/resolution"),
        json!({"resolved_on": d.notice.1, "outcome": "upheld", "resolution": "调整选址"}),
    )
    .await;
    app.ok(
        officer,
        &p("/notice/close"),
        json!({"closed_on": d.notice.2}),
    )
    .await;
    for s in &sources {
        app.ok(
            officer,
            &p("/funds/tranches"),
            json!({"source": s, "amount_fen": amount * 6 / 10, "paid_on": d.tranche}),
        )
        .await;
    }
    for (on, period) in d.reports {
        app.ok(officer, &p("/reports"), json!({"period": period, "reported_on": on, "form": progress_form(programme_id, unit(programme_id), period, date(on), 20)})).await;
    }
    app.ok(
        officer,
        &p("/acceptance/request"),
        json!({"requested_on": d.acceptance}),
    )
    .await;
    let results: Vec<Value> = programme
        .checklist()
        .iter()
        .map(|item| match &item.requirement {
            Requirement::Check => json!({"item_id": item.id, "passed": true}),
            Requirement::AtLeast { min, .. } => json!({"item_id": item.id, "measured": min}),
        })
        .collect();
    app.ok(
        supervisor,
        &p("/acceptance/inspection"),
        json!({"inspected_on": d.inspection, "inspector": "验收组", "results": results}),
    )
    .await;
    let scores: Vec<Value> = programme
        .evaluation
        .indicators
        .iter()
        .map(|i| json!({"indicator_id": i.id, "score": i.max_score * 88 / 100}))
        .collect();
    app.ok(
        supervisor,
        &p("/evaluation"),
        json!({"evaluated_on": d.evaluation, "scores": scores}),
    )
    .await;
    for s in &sources {
        app.ok(
            officer,
            &p("/funds/settlements"),
            json!({"source": s, "amount_fen": amount - amount * 6 / 10, "settled_on": d.evaluation}),
        )
        .await;
    }
    let closed = app
        .ok(supervisor, &p("/closure"), json!({"closed_on": d.close}))
        .await;
    let version = closed["version"].as_u64().unwrap();

    let shown = app.get("auditor.zibo", &p("")).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body["stage"], "closed", "{}", shown.body);
    assert_eq!(shown.etag(), Some(format!("\"{version}\"")));
    assert_eq!(shown.body["version"], version);
    let funds = shown.body["funds"].as_array().unwrap();
    assert_eq!(funds.len(), sources.len(), "{}", shown.body);
    for f in funds {
        // Every source was paid exactly what was approved: 60 % in a tranche, the rest at settlement.
        assert_eq!(f["approved_fen"], amount, "{f}");
        assert_eq!(f["paid_fen"], amount, "{f}");
        assert_eq!(f["settled"], true, "{f}");
        assert_eq!(f["clawback_outstanding_fen"], 0, "{f}");
    }
    assert_eq!(
        shown.body["evaluation"]["grade_label"]
            .as_str()
            .map(|g| g.chars().count()),
        Some(1)
    );
    // On the closing day every deadline is settled: met (on time or late) or, if the closing
    // made it moot, waived; nothing is left open.
    let deadlines = app
        .get(
            "auditor.zibo",
            &format!("{}?at={}", p("/deadlines"), d.close),
        )
        .await;
    assert_eq!(deadlines.status, 200, "{}", deadlines.body);
    let list = deadlines.body["deadlines"].as_array().unwrap();
    assert!(
        list.iter().any(|x| x["status"] == "met"),
        "{}",
        deadlines.body
    );
    for x in list {
        let status = x["status"].as_str().unwrap();
        assert!(
            ["met", "met_late", "waived"].contains(&status),
            "{programme_id}: {} is {status} after closing",
            x["id"]
        );
    }
    let history = app.get("auditor.zibo", &p("/history")).await;
    assert_eq!(history.status, 200);
    let entries = history.body["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, version);
    assert!(history.body["chain_violation"].is_null());
    assert_eq!(entries[0]["actor"], "officer.yiyuan");
    assert_eq!(entries[0]["evidence"][0]["reference"], "示例文〔2021〕1号");
    assert!(entries.iter().any(|e| e["actor"] == "supervisor.zibo"));
    let page = app
        .list(
            "auditor.zibo",
            &format!("programme={programme_id}&stage=closed"),
        )
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body["total"], 1, "{}", page.body);
    assert_eq!(page.body["items"][0]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_programme_walks_from_registration_to_closing() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for programme in [LOCKERS_2017, VILLAGES_2021, LOCKERS_2025] {
            walk(&app, programme).await;
        }
        // The state as of the start of time is an unregistered project: 404.
        let page = app.list("auditor.zibo", "limit=1").await;
        let id = page.body["items"][0]["id"].as_str().unwrap().to_string();
        let early = app
            .get(
                "auditor.zibo",
                &format!("/projects/{id}?as_of=2000-01-01T00:00:00Z"),
            )
            .await;
        assert_eq!(early.status, 404);
        let paged = app.list("auditor.zibo", "limit=2&offset=1").await;
        assert_eq!(paged.body["total"], 3);
        assert_eq!(paged.body["items"].as_array().unwrap().len(), 2);
        let searched = app.list("auditor.zibo", "q=%E6%B5%8B%E8%AF%95").await;
        assert_eq!(searched.body["total"], 3);
    }
}

/// The reporting unit named in the forms: a pilot city in 2017, a township in Yiyuan later.
fn unit(programme: &str) -> &'static str {
    if programme == LOCKERS_2017 {
        "威海市"
    } else {
        "南麻街道"
    }
}
