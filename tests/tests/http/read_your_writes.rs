//! Read-your-writes on the persisted project list: a command's answer carries the global
//! position it committed at, and a list read with that `min_position` always includes it.

use serde_json::json;

use crate::helpers::{spawn_app, Backend, BACKENDS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_is_in_the_list_read_with_its_position() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let id = app
            .register("officer.yiyuan", domain::fixtures::VILLAGES_2021, "370323")
            .await;
        for n in 0..15 {
            let answer = app
                .ok(
                    "officer.yiyuan",
                    &format!("/projects/{id}/officials"),
                    json!({"role": "liaison", "official": {"name": format!("联络员{n}"), "post": "科员", "email": "l@example.org"}}),
                )
                .await;
            let position = answer["position"]
                .as_i64()
                .expect("the answer carries its position");
            assert!(position > 0, "{answer}");
            let page = app
                .get(
                    "supervisor.zibo",
                    &format!("/projects?q={id}&min_position={position}"),
                )
                .await;
            assert_eq!(page.status, 200, "{}", page.body);
            let listed: i64 = page.headers["x-projection-position"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                listed >= position,
                "{backend:?}: listed at {listed} < {position}"
            );
            assert_eq!(page.body["total"], 1, "{}", page.body);
            assert_eq!(
                page.body["items"][0]["version"], answer["version"],
                "{backend:?}: the list shows the version just written"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_not_reached_in_time_is_503_with_retry_after() {
    let app = spawn_app(Backend::Sqlite).await;
    let far = app.last_position().await + 1_000_000;
    let reply = app
        .get("auditor.zibo", &format!("/projects?min_position={far}"))
        .await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.body["code"], "projection.behind");
    assert!(reply.headers.contains_key("retry-after"));
}

/// The roll-up of a county after a tranche includes it (read with the answer's position), and
/// as of the position before it, does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollup_reads_its_writes_and_the_past() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let programme = domain::fixtures::VILLAGES_2021;
        let id = app.register("officer.yiyuan", programme, "370323").await;
        let p = |s: &str| format!("/projects/{id}{s}");
        let on = chrono::NaiveDate::from_ymd_opt(2021, 6, 7).unwrap();
        app.ok(
            "officer.yiyuan",
            &p("/plan"),
            json!({"submitted_on": "2021-06-07",
            "form": domain::fixtures::plan_form(programme, "示例镇", on)}),
        )
        .await;
        app.ok(
            "supervisor.zibo",
            &p("/review"),
            json!({"reviewed_on": "2021-06-09",
            "decision": {"decision": "approve"}}),
        )
        .await;
        let approved = app
            .ok(
                "supervisor.zibo",
                &p("/funds/approvals"),
                json!({"source": "city", "amount_fen": 5_000_000, "approved_on": "2021-06-10"}),
            )
            .await;
        let position = approved["position"].as_i64().unwrap();
        let now = app
            .get(
                "auditor.zibo",
                &format!("/rollup?jurisdiction=370300&min_position={position}"),
            )
            .await;
        assert_eq!(now.status, 200, "{}", now.body);
        assert_eq!(now.body["total"]["projects"], 1, "{}", now.body);
        assert_eq!(
            now.body["total"]["stages"]["plan_approved"], 1,
            "{}",
            now.body
        );
        assert_eq!(
            now.body["total"]["funds"]["city"]["approved_fen"], 5_000_000,
            "{}",
            now.body
        );
        assert_eq!(
            now.body["children"][0]["jurisdiction"], "370323",
            "{}",
            now.body
        );
        let before = app
            .get(
                "auditor.zibo",
                &format!(
                    "/rollup?jurisdiction=370300&as_of_position={}&min_position={position}",
                    position - 1
                ),
            )
            .await;
        assert_eq!(before.status, 200, "{}", before.body);
        assert!(
            before.body["total"]["funds"]
                .as_object()
                .unwrap()
                .is_empty(),
            "{}",
            before.body
        );
        assert_eq!(
            before.body["total"]["stages"]["plan_approved"], 1,
            "{}",
            before.body
        );
        let outside = app
            .get("supervisor.jinan", "/rollup?jurisdiction=370300")
            .await;
        assert_eq!(outside.status, 403, "{}", outside.body);
    }
}
