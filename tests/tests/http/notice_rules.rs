//! The notice and registration rules over HTTP (issue 12 item 5), on both backends: the notice
//! is counted from the day after it starts (民法典 第二百零一条), it closes only after its last
//! day, objections are raised until the end of that day, and a project registers only inside
//! its programme's application window.

use serde_json::json;

use crate::helpers::{spawn_app, TestApp, BACKENDS};

const OFFICER: &str = "officer.yiyuan";

fn assert_refused(
    reply: &crate::helpers::Reply,
    status: u16,
    code: &str,
    pointer: Option<&str>,
    says: &[&str],
) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    for s in says {
        assert!(detail.contains(s), "the refusal must say {s:?}: {detail}");
    }
    if let Some(pointer) = pointer {
        assert!(
            reply.body["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["pointer"] == pointer)),
            "the refusal must point at {pointer}: {}",
            reply.body
        );
    }
}

async fn registration_outside_the_window(app: &TestApp) {
    let before = app.last_position().await;
    for registered_on in ["2021-06-01", "2022-01-01"] {
        let reply = app
            .post(
                OFFICER,
                "/projects",
                &json!({"name": "窗口外登记", "programme_id": domain::fixtures::VILLAGES_2021,
                    "programme_version": 1, "jurisdiction": "370323", "registered_on": registered_on}),
            )
            .await;
        assert_refused(
            &reply,
            422,
            "registration.outside_window",
            Some("/registered_on"),
            &[registered_on, "2021-06-02", "2021-12-31"],
        );
    }
    assert_eq!(app.last_position().await, before, "nothing was stored");
}

async fn a_notice_over_national_day_2021(app: &TestApp) {
    let id = app
        .register(OFFICER, domain::fixtures::VILLAGES_2021, "370323")
        .await;
    let p = |s: &str| format!("/projects/{id}{s}");
    app.approve_village_plan(&id).await;
    app.ok(OFFICER, &p("/construction-entity"), json!({"entity": {"name": "示例快递末端服务有限公司", "credit_code": "91370000MA3EXAMPLE", "kind": "快递企业"}})).await;

    // Five working days from the day after Wednesday 29 September 2021: 30 Sep, 8 Oct, Saturday
    // 9 Oct (an adjusted working day), 11 Oct, 12 Oct. To the 11th is one working day short.
    let reply = app
        .post(
            OFFICER,
            &p("/notice"),
            &json!({"starts_on": "2021-09-29", "ends_on": "2021-10-11", "channel": "县人民政府网站"}),
        )
        .await;
    assert_refused(
        &reply,
        422,
        "notice.too_short",
        None,
        &["at least 5 working days", "has 4", "2021-10-12"],
    );
    app.ok(
        OFFICER,
        &p("/notice"),
        json!({"starts_on": "2021-09-29", "ends_on": "2021-10-12", "channel": "县人民政府网站"}),
    )
    .await;

    // An objection on the last day is accepted; it must be resolved before closing.
    app.ok(OFFICER, &p("/objections"), json!({"objection_id": "YY-LAST", "raised_on": "2021-10-12", "raised_by": "村民代表", "summary": "最后一日的异议"})).await;
    app.ok(
        OFFICER,
        &p("/objections/YY-LAST/resolution"),
        json!({"resolved_on": "2021-10-12", "outcome": "dismissed", "resolution": "已答复"}),
    )
    .await;
    // The last day is still a day of the notice: it cannot close that day.
    let reply = app
        .post(
            OFFICER,
            &p("/notice/close"),
            &json!({"closed_on": "2021-10-12"}),
        )
        .await;
    assert_refused(
        &reply,
        409,
        "notice.still_running",
        None,
        &["2021-10-12", "the earliest day it can close is 2021-10-13"],
    );
    // After it, objections are too late.
    let reply = app
        .post(OFFICER, &p("/objections"), &json!({"objection_id": "YY-LATE", "raised_on": "2021-10-13", "raised_by": "村民代表", "summary": "逾期的异议"}))
        .await;
    assert_refused(
        &reply,
        422,
        "objection.outside_notice",
        Some("/raised_on"),
        &["2021-09-29", "2021-10-12"],
    );
    app.ok(
        OFFICER,
        &p("/notice/close"),
        json!({"closed_on": "2021-10-13"}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notice_and_registration_rules_hold_on_both_backends() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        registration_outside_the_window(&app).await;
        a_notice_over_national_day_2021(&app).await;
    }
}
