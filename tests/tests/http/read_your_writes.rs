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

/// A position beyond the log's head was never committed: a client's mistake (400), not a wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_beyond_the_head_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let far = app.last_position().await + 1_000_000;
    for path in [
        format!("/projects?min_position={far}"),
        format!("/rollup?jurisdiction=370300&min_position={far}"),
        "/projects?min_position=-1".to_string(),
    ] {
        let reply = app.get("auditor.zibo", &path).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
        assert_eq!(reply.body["code"], "request.bad_query", "{path}");
    }
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
        app.approve_village_plan(&id).await;
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

/// The project's fund ledger (from the persisted ledger) and the reminder log (the outbox, by
/// jurisdiction) answer what a supervisor and an auditor ask, inside their jurisdictions only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_and_the_reminder_log() {
    use std::sync::Arc;
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let programme = domain::fixtures::VILLAGES_2021;
        let id = app.register("officer.yiyuan", programme, "370323").await;
        let p = |s: &str| format!("/projects/{id}{s}");
        app.ok(
            "officer.yiyuan",
            &p("/officials"),
            json!({"role": "official_in_charge",
            "official": {"name": "张示例", "post": "副局长", "email": "leader@example.org"}}),
        )
        .await;
        app.ok(
            "officer.yiyuan",
            &p("/officials"),
            json!({"role": "liaison",
            "official": {"name": "李示例", "post": "科长", "email": "liaison@example.org"}}),
        )
        .await;
        app.approve_village_plan(&id).await;
        let first = app
            .ok(
                "supervisor.zibo",
                &p("/funds/approvals"),
                json!({"source": "city", "amount_fen": 5_000_000, "approved_on": "2021-06-10"}),
            )
            .await;
        let second = app
            .ok(
                "supervisor.zibo",
                &p("/funds/approvals"),
                json!({"source": "county", "amount_fen": 2_000_000, "approved_on": "2021-06-10"}),
            )
            .await;
        let (p1, p2) = (
            first["position"].as_i64().unwrap(),
            second["position"].as_i64().unwrap(),
        );

        let ledger = app
            .get(
                "auditor.zibo",
                &format!("/projects/{id}/ledger?min_position={p2}"),
            )
            .await;
        assert_eq!(ledger.status, 200, "{}", ledger.body);
        let rows = ledger.body.as_array().unwrap();
        assert_eq!(rows.len(), 2, "{}", ledger.body);
        assert_eq!(
            (
                rows[0]["source"].as_str(),
                rows[0]["movement"].as_str(),
                rows[0]["amount_fen"].as_i64(),
                rows[0]["position"].as_i64()
            ),
            (Some("city"), Some("approved"), Some(5_000_000), Some(p1))
        );
        let then = app
            .get(
                "auditor.zibo",
                &format!("/projects/{id}/ledger?as_of_position={p1}"),
            )
            .await;
        assert_eq!(then.body.as_array().unwrap().len(), 1, "{}", then.body);
        let outside = app
            .get("auditor.jinan", &format!("/projects/{id}/ledger"))
            .await;
        assert_eq!(outside.status, 404, "{}", outside.body);

        // Reminders recorded (not sent) by the scheduler for a day in the programme year.
        let clock = store::FixedClock::new(
            chrono::DateTime::parse_from_rfc3339("2021-07-12T01:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        );
        let scheduler = api::reminders::Scheduler::new(
            app.engine.clone(),
            &api::reminders::config::MailArgs::plain_local(9),
            Arc::new(clock) as Arc<dyn store::Clock>,
        )
        .unwrap();
        let plan = scheduler
            .plan(chrono::NaiveDate::from_ymd_opt(2021, 7, 12).unwrap())
            .await
            .unwrap();
        let enqueued = scheduler.enqueue(&plan).await.unwrap();
        assert!(enqueued.inserted > 0, "{enqueued:?}");
        let log = app
            .get("supervisor.zibo", "/reminders?status=pending&limit=500")
            .await;
        assert_eq!(log.status, 200, "{}", log.body);
        assert_eq!(
            log.body["total"].as_i64(),
            Some(enqueued.inserted as i64),
            "{}",
            log.body
        );
        let item = &log.body["items"][0];
        assert_eq!(item["project_id"], id.as_str());
        assert_eq!(item["jurisdiction"], "370323");
        assert!(item["recipient_email"]
            .as_str()
            .unwrap()
            .ends_with("@example.org"));
        assert_eq!(item["status"], "pending");
        let none = app.get("supervisor.jinan", "/reminders").await;
        assert_eq!(none.body["total"], 0, "{}", none.body);
        let bad = app.get("supervisor.zibo", "/reminders?status=lost").await;
        assert_eq!(bad.status, 400, "{}", bad.body);
    }
}
