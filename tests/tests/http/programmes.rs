//! Programme versions as records over HTTP, on both backends: the shipped definitions are
//! recorded by `system` at first start; an admin publishes version 2 (non-admins 403), which
//! is in force at once without a restart, while a project registered under version 1 keeps
//! version 1's deadlines and forms; re-publishing is idempotent and other content under a
//! published version is 409; a broken definition is 422 with the pointer and reason, nothing
//! stored; the diff names every changed pointer; a withdrawn version refuses registrations and
//! leaves running projects alone.

use serde_json::{json, Value};

use crate::helpers::{registered_on, TestApp, BACKENDS};

const VILLAGES: &str = domain::fixtures::VILLAGES_2021;
const VILLAGES_V1: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../workflows/programmes/yiyuan-express-to-villages-2021.v1.json"
));

/// Version 2 of the 2021 village programme: the work plan is due 10 working days after
/// registration instead of 5, and the plan form asks for one more field.
fn villages_v2() -> Value {
    let mut v2: Value = serde_json::from_str(VILLAGES_V1).unwrap();
    v2["version"] = json!(2);
    v2["title"] = json!(format!("{}（第二版）", v2["title"].as_str().unwrap()));
    assert_eq!(v2["deadlines"][0]["id"], "work-plan");
    v2["deadlines"][0]["due"]["days"] = json!(10);
    let schema = &mut v2["forms"]["plan"]["schema"];
    schema["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("v2_contact"));
    schema["properties"]["v2_contact"] = json!({"type": "string", "minLength": 1});
    v2
}

fn register_body(version: u32) -> Value {
    json!({"name": "版本测试项目", "programme_id": VILLAGES, "programme_version": version,
        "jurisdiction": "370323", "registered_on": registered_on(VILLAGES)})
}

async fn due_of(app: &TestApp, project: &str, deadline: &str) -> String {
    let reply = app
        .get(
            "officer.yiyuan",
            &format!("/projects/{project}/deadlines?at=2021-06-04"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == deadline)
        .unwrap_or_else(|| panic!("no deadline {deadline}: {}", reply.body))["due_on"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn programme_events(app: &TestApp) -> usize {
    app.engine
        .store
        .read_stream(domain::programme::PROGRAMME_TYPE, VILLAGES)
        .await
        .unwrap()
        .len()
}

async fn versions_on(app: &TestApp) {
    // The shipped definitions were recorded at first start, by `system`, with the hash of the
    // file's canonical JSON.
    let listed = app.get("auditor.zibo", "/programmes").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let all = listed.body.as_array().unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    for r in all {
        assert_eq!(r["status"], "in_force", "{r}");
        assert_eq!(r["published_by"], "system", "{r}");
        assert!(r["position"].as_i64().unwrap() > 0, "{r}");
    }
    let v1 = all.iter().find(|r| r["id"] == VILLAGES).unwrap();
    let v1_value: Value = serde_json::from_str(VILLAGES_V1).unwrap();
    assert_eq!(
        v1["sha256"].as_str().unwrap(),
        api::calendar::content_sha256(&v1_value)
    );
    assert_eq!(programme_events(app).await, 1);

    // A project under version 1, and its deadlines then.
    let old = app
        .ok("officer.yiyuan", "/projects", register_body(1))
        .await;
    let old = old["project_id"].as_str().unwrap().to_string();
    let old_due = due_of(app, &old, "work-plan").await;

    // Only an admin publishes.
    let v2 = villages_v2();
    let body = json!({"definition": v2});
    for user in ["officer.yiyuan", "supervisor.zibo", "auditor.zibo"] {
        let reply = app.post(user, "/programmes", &body).await;
        assert_eq!(reply.status, 403, "{user}: {}", reply.body);
    }
    // A broken definition: the pointer and the reason, nothing stored.
    let head = app.last_position().await;
    let mut broken = v2.clone();
    broken["notice"]["min_working_days"] = json!("five");
    let reply = app
        .post("admin", "/programmes", &json!({"definition": broken}))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["code"], "programme.invalid");
    assert_eq!(
        reply.body["errors"][0]["pointer"],
        "/definition/notice/min_working_days"
    );
    let mut broken = v2.clone();
    broken["forms"]["plan"]["schema"]["type"] = json!(5);
    let reply = app
        .post("admin", "/programmes", &json!({"definition": broken}))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        reply.body["errors"][0]["pointer"],
        "/definition/forms/plan/schema/type"
    );
    assert!(
        !reply.body["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .is_empty(),
        "{}",
        reply.body
    );
    assert_eq!(app.last_position().await, head);
    assert!(app.engine.programmes().get(VILLAGES, 2).is_none());

    // Published, and in force at once.
    let published = app.post("admin", "/programmes", &body).await;
    assert_eq!(published.status, 201, "{}", published.body);
    assert_eq!(published.body["outcome"], "published");
    let sha_v2 = api::calendar::content_sha256(&v2);
    assert_eq!(published.body["sha256"], sha_v2.as_str());
    assert_eq!(programme_events(app).await, 2);
    let head = app.last_position().await;
    // The same again: unchanged, nothing stored; other content under v2: 409 naming the hash.
    let again = app.post("admin", "/programmes", &body).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["outcome"], "unchanged");
    let mut other = v2.clone();
    other["notice"]["min_working_days"] = json!(7);
    let conflict = app
        .post("admin", "/programmes", &json!({"definition": other}))
        .await;
    assert_eq!(conflict.status, 409, "{}", conflict.body);
    assert_eq!(conflict.body["code"], "programme.version_published");
    assert!(
        conflict.body["detail"]
            .as_str()
            .unwrap()
            .contains(sha_v2.as_str()),
        "{}",
        conflict.body
    );
    assert_eq!(app.last_position().await, head);

    // The versions of one programme, and what changed.
    let versions = app
        .get("officer.yiyuan", &format!("/programmes/{VILLAGES}"))
        .await;
    assert_eq!(versions.status, 200);
    let versions = versions.body.as_array().unwrap().clone();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1]["published_by"], "admin");
    assert_eq!(versions[1]["sha256"], sha_v2.as_str());
    assert_eq!(
        app.get("admin", "/programmes/nope").await.status,
        404,
        "an unknown programme"
    );
    let diff = app
        .get(
            "supervisor.zibo",
            &format!("/programmes/{VILLAGES}/diff?from=1&to=2"),
        )
        .await;
    assert_eq!(diff.status, 200, "{}", diff.body);
    let changes: Vec<(String, String)> = diff.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["pointer"].as_str().unwrap().to_string(),
                c["change"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (pointer, change) in [
        ("/version", "changed"),
        ("/title", "changed"),
        ("/deadlines/0/due/days", "changed"),
        ("/forms/plan/schema/properties/v2_contact", "added"),
    ] {
        assert!(
            changes.contains(&(pointer.to_string(), change.to_string())),
            "{pointer} {change}: {changes:?}"
        );
    }
    let days = diff.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["pointer"] == "/deadlines/0/due/days")
        .unwrap();
    assert_eq!((&days["from"], &days["to"]), (&json!(5), &json!(10)));
    assert_eq!(
        app.get("admin", &format!("/programmes/{VILLAGES}/diff?from=1&to=9"))
            .await
            .status,
        404
    );

    // A project under v2 runs v2's rules; the one under v1 keeps v1's deadlines and forms.
    let new = app
        .ok("officer.yiyuan", "/projects", register_body(2))
        .await;
    let new = new["project_id"].as_str().unwrap().to_string();
    app.engine.projections().catch_up().await.unwrap();
    let new_due = due_of(app, &new, "work-plan").await;
    assert!(
        new_due > old_due,
        "v2 allows longer: {new_due} vs {old_due}"
    );
    assert_eq!(due_of(app, &old, "work-plan").await, old_due);
    let plan = json!({"submitted_on": "2021-06-07", "form": domain::fixtures::plan_form(
        VILLAGES, "示例镇", chrono::NaiveDate::from_ymd_opt(2021, 6, 7).unwrap())});
    let refused = app
        .post("officer.yiyuan", &format!("/projects/{new}/plan"), &plan)
        .await;
    assert_eq!(refused.status, 422, "v2's plan form: {}", refused.body);
    assert_eq!(refused.body["code"], "form.invalid");

    // Withdrawn: no new registrations under v1; the project under it goes on.
    let withdrawal = format!("/programmes/{VILLAGES}/versions/1/withdrawal");
    let reason = json!({"reason": "由第二版取代"});
    assert_eq!(
        app.post("officer.yiyuan", &withdrawal, &reason)
            .await
            .status,
        403
    );
    let withdrawn = app.post("admin", &withdrawal, &reason).await;
    assert_eq!(withdrawn.status, 201, "{}", withdrawn.body);
    let again = app.post("admin", &withdrawal, &reason).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["code"], "programme.already_withdrawn");
    let unknown = app
        .post(
            "admin",
            &format!("/programmes/{VILLAGES}/versions/7/withdrawal"),
            &reason,
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let refused = app
        .post("officer.yiyuan", "/projects", &register_body(1))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["code"], "programme.withdrawn");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("由第二版取代"),
        "{}",
        refused.body
    );
    app.approve_village_plan(&old).await;
    let listed = app.get("auditor.zibo", "/programmes").await;
    let v1 = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == VILLAGES && r["version"] == 1)
        .unwrap()
        .clone();
    assert_eq!(v1["status"], "withdrawn", "{v1}");
    assert_eq!(v1["withdrawn_reason"], "由第二版取代");
    assert_eq!(v1["withdrawn_by"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn programme_versions_are_records_on_both_backends() {
    for backend in BACKENDS {
        let app = crate::helpers::spawn_app(backend).await;
        versions_on(&app).await;
    }
}

/// Another process on the same store (its own registry, its own idea of what it has seen)
/// publishes version 2 and withdraws version 1; the server takes both in before its next
/// registration, although it looked at the programme records a moment before.
async fn another_process_on(app: &TestApp) {
    // The server has looked (a registration refreshes first).
    app.ok("officer.yiyuan", "/projects", register_body(1))
        .await;
    let other = api::Engine::with_store(
        app.engine.store.clone(),
        workflows::programme::ProgrammeRegistry::builtin(),
    );
    let context = domain::CommandContext::new("admin.elsewhere");
    let published = other
        .publish_programme(&context, "villages-2021.v2.json", &villages_v2())
        .await
        .expect("published by the other process");
    assert_eq!(published.outcome, "published");
    assert!(
        app.engine.programmes().get(VILLAGES, 2).is_none(),
        "the server cannot know of version 2 before it looks"
    );
    other
        .withdraw_programme(&context, VILLAGES, 1, "由第二版取代")
        .await
        .expect("withdrawn by the other process");

    let refused = app
        .post("officer.yiyuan", "/projects", &register_body(1))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["code"], "programme.withdrawn");
    let accepted = app
        .ok("officer.yiyuan", "/projects", register_body(2))
        .await;
    assert!(accepted["project_id"].is_string(), "{accepted}");
    assert!(app.engine.programmes().get(VILLAGES, 2).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_recorded_by_another_process_are_in_force_before_the_next_registration() {
    for backend in BACKENDS {
        let app = crate::helpers::spawn_app(backend).await;
        another_process_on(&app).await;
    }
}
