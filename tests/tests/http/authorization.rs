//! Every endpoint × every role × inside/outside the jurisdiction → the expected status.
//! Role refusals are 403; a project outside the user's jurisdictions is 404 (existence must
//! not leak); an allowed request passes authorization (it may still be refused by a rule).

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, ACCOUNTS, BACKENDS};

const INSIDE: [&str; 3] = ["officer.yiyuan", "supervisor.zibo", "auditor.zibo"];

/// (path suffix, body, roles allowed to send it).
fn commands() -> Vec<(&'static str, Value, &'static [&'static str])> {
    const OFFICER: &[&str] = &["officer"];
    const SUPERVISOR: &[&str] = &["supervisor"];
    let d = "2021-06-09";
    vec![
        ("/plan", json!({"submitted_on": d, "form": {}}), OFFICER),
        (
            "/review",
            json!({"reviewed_on": d, "decision": {"decision": "return", "reasons": ["x"]}}),
            SUPERVISOR,
        ),
        (
            "/construction-entity",
            json!({"entity": {"name": "示例公司", "credit_code": "91370000MA3EXAMPLE", "kind": "快递企业"}}),
            OFFICER,
        ),
        (
            "/notice",
            json!({"starts_on": d, "ends_on": d, "channel": "网站"}),
            OFFICER,
        ),
        (
            "/objections",
            json!({"objection_id": "A", "raised_on": d, "raised_by": "x", "summary": "y"}),
            OFFICER,
        ),
        (
            "/objections/A/resolution",
            json!({"resolved_on": d, "outcome": "dismissed", "resolution": "z"}),
            OFFICER,
        ),
        ("/notice/close", json!({"closed_on": d}), OFFICER),
        (
            "/reports",
            json!({"period": "p", "reported_on": d, "form": {}}),
            OFFICER,
        ),
        ("/acceptance/request", json!({"requested_on": d}), OFFICER),
        (
            "/acceptance/inspection",
            json!({"inspected_on": d, "inspector": "x", "results": []}),
            SUPERVISOR,
        ),
        (
            "/evaluation",
            json!({"evaluated_on": d, "scores": []}),
            SUPERVISOR,
        ),
        (
            "/funds/approvals",
            json!({"source": "county", "amount_fen": 100, "approved_on": d}),
            SUPERVISOR,
        ),
        (
            "/funds/tranches",
            json!({"source": "county", "amount_fen": 100, "paid_on": d}),
            OFFICER,
        ),
        (
            "/funds/settlements",
            json!({"source": "county", "amount_fen": 100, "settled_on": d}),
            OFFICER,
        ),
        (
            "/clawbacks",
            json!({"source": "county", "amount_fen": 100, "ordered_on": d, "reason": "r"}),
            SUPERVISOR,
        ),
        (
            "/clawbacks/settlements",
            json!({"source": "county", "amount_fen": 100, "settled_on": d}),
            OFFICER,
        ),
        (
            "/suspension",
            json!({"suspended_on": d, "reason": "r"}),
            SUPERVISOR,
        ),
        ("/resumption", json!({"resumed_on": d}), SUPERVISOR),
        (
            "/termination",
            json!({"terminated_on": d, "reason": "r"}),
            SUPERVISOR,
        ),
        ("/closure", json!({"closed_on": d}), SUPERVISOR),
        (
            "/officials",
            json!({"role": "liaison", "official": {"name": "李示例", "post": "科长", "email": "l@example.org"}}),
            OFFICER,
        ),
        (
            "/deadline-extensions",
            json!({"deadline_id": "plan", "until": d, "reason": "r"}),
            SUPERVISOR,
        ),
    ]
}

fn role_of(user: &str) -> &'static str {
    ACCOUNTS
        .iter()
        .find(|(n, _, _)| *n == user)
        .map(|(_, r, _)| r.as_str())
        .unwrap()
}

async fn matrix(app: &TestApp) {
    let id = app
        .register("officer.yiyuan", domain::fixtures::VILLAGES_2021, "370323")
        .await;
    let mut failures = Vec::new();
    // Every route of the server must have rows here: a new route without them fails the test.
    let mut covered: std::collections::BTreeSet<(&str, String)> = Default::default();
    let mut check = |what: String, got: u16, ok: bool| {
        if !ok {
            failures.push(format!("{what}: got {got}"));
        }
    };
    for (suffix, body, allowed) in commands() {
        covered.insert((
            "post",
            format!(
                "/projects/{{id}}{}",
                suffix.replace("/A/", "/{objection_id}/")
            ),
        ));
        let path = format!("/projects/{id}{suffix}");
        for (user, _, _) in ACCOUNTS {
            let role = role_of(user);
            let inside = INSIDE.contains(user) || *user == "admin";
            let reply = app.post(user, &path, &body).await;
            let expected = if !allowed.contains(&role) {
                "403"
            } else if !inside {
                "404"
            } else {
                "authorized"
            };
            let ok = match expected {
                "403" => reply.status == 403,
                "404" => reply.status == 404,
                _ => ![401, 403, 404].contains(&reply.status) && reply.status < 500,
            };
            check(
                format!("POST {suffix} as {user} (expected {expected})"),
                reply.status,
                ok,
            );
        }
        let anonymous = app.send(app.client.post(app.url(&path)).json(&body)).await;
        check(
            format!("POST {suffix} anonymous"),
            anonymous.status,
            anonymous.status == 401,
        );
    }
    // The ledger is read from the persisted projection: let it catch up with the commands above.
    assert_eq!(app.list("auditor.zibo", "").await.status, 200);
    for suffix in ["", "/history", "/deadlines", "/ledger"] {
        covered.insert(("get", format!("/projects/{{id}}{suffix}")));
        let path = format!("/projects/{id}{suffix}");
        for (user, role, _) in ACCOUNTS {
            let reply = app.get(user, &path).await;
            let expected = match (role.as_str(), INSIDE.contains(user)) {
                ("admin", _) => 403,
                (_, true) => 200,
                (_, false) => 404,
            };
            check(
                format!("GET {path} as {user}"),
                reply.status,
                reply.status == expected,
            );
        }
    }
    for (user, role, _) in ACCOUNTS {
        let list = app.list(user, "").await;
        let expected = if role.as_str() == "admin" { 403 } else { 200 };
        check(
            format!("GET /projects as {user}"),
            list.status,
            list.status == expected,
        );
        if list.status == 200 {
            let total = list.body["total"].as_u64().unwrap();
            let expected_total = if INSIDE.contains(user) { 1 } else { 0 };
            check(
                format!("GET /projects total as {user}"),
                total as u16,
                total == expected_total,
            );
        }
        let users = app.get(user, "/users").await;
        let expected = if role.as_str() == "admin" { 200 } else { 403 };
        check(
            format!("GET /users as {user}"),
            users.status,
            users.status == expected,
        );
        let new_user = json!({"username": format!("new.{user}"), "password": "long-enough-pw", "role": "auditor", "jurisdictions": ["370300"]});
        let created = app.post(user, "/users", &new_user).await;
        let expected = if role.as_str() == "admin" { 201 } else { 403 };
        check(
            format!("POST /users as {user}"),
            created.status,
            created.status == expected,
        );
        let programmes = app.get(user, "/programmes").await;
        check(
            format!("GET /programmes as {user}"),
            programmes.status,
            programmes.status == 200,
        );
        let version = app
            .get(
                user,
                &format!("/programmes/{}/versions/1", domain::fixtures::VILLAGES_2021),
            )
            .await;
        check(
            format!("GET /programmes/{{id}}/versions/1 as {user}"),
            version.status,
            version.status == 200,
        );
        // Programme versions: everyone reads the records and the diff, only an admin publishes
        // or withdraws (refused here after authorization: an empty definition, an empty
        // reason; nothing stored).
        let versions = app
            .get(
                user,
                &format!("/programmes/{}", domain::fixtures::VILLAGES_2021),
            )
            .await;
        check(
            format!("GET /programmes/{{id}} as {user}"),
            versions.status,
            versions.status == 200,
        );
        let diff = app
            .get(
                user,
                &format!(
                    "/programmes/{}/diff?from=1&to=1",
                    domain::fixtures::VILLAGES_2021
                ),
            )
            .await;
        check(
            format!("GET /programmes/{{id}}/diff as {user}"),
            diff.status,
            diff.status == 200,
        );
        let publish = app
            .post(user, "/programmes", &json!({"definition": {}}))
            .await;
        let expected = if role.as_str() == "admin" { 422 } else { 403 };
        check(
            format!("POST /programmes as {user}"),
            publish.status,
            publish.status == expected,
        );
        let withdraw = app
            .post(
                user,
                &format!(
                    "/programmes/{}/versions/1/withdrawal",
                    domain::fixtures::VILLAGES_2021
                ),
                &json!({"reason": " "}),
            )
            .await;
        check(
            format!("POST /programmes/{{id}}/versions/{{version}}/withdrawal as {user}"),
            withdraw.status,
            withdraw.status == expected,
        );
        let rollup = app.get(user, "/rollup?jurisdiction=370323").await;
        let expected = if INSIDE.contains(user) { 200 } else { 403 };
        check(
            format!("GET /rollup?jurisdiction=370323 as {user}"),
            rollup.status,
            rollup.status == expected,
        );
        let export = app
            .get(user, "/exports/annex/002-townships?jurisdiction=370323")
            .await;
        let expected = if INSIDE.contains(user) { 200 } else { 403 };
        check(
            format!("GET /exports/annex/002-townships?jurisdiction=370323 as {user}"),
            export.status,
            export.status == expected,
        );
        let log = app.get(user, "/reminders").await;
        let expected = if role.as_str() == "admin" { 403 } else { 200 };
        check(
            format!("GET /reminders as {user}"),
            log.status,
            log.status == expected,
        );
        // Calendar years: everyone reads them, only an admin records one (an empty file here:
        // refused after authorization, nothing stored).
        let years = app.get(user, "/calendar/years").await;
        check(
            format!("GET /calendar/years as {user}"),
            years.status,
            years.status == 200,
        );
        let load = app
            .post(
                user,
                "/calendar/years",
                &json!({"notice": "", "file": {"year": 2027, "days": []}}),
            )
            .await;
        let expected = if role.as_str() == "admin" { 422 } else { 403 };
        check(
            format!("POST /calendar/years as {user}"),
            load.status,
            load.status == expected,
        );
        let me = app.get(user, "/auth/me").await;
        check(
            format!("GET /auth/me as {user}"),
            me.status,
            me.status == 200,
        );
    }
    // Audit proofs: auditors only; a project outside the auditor's jurisdictions is 404.
    let key = api::audit::key::InstallationKey::from_seed([3; 32]);
    api::audit::digest::record(&app.engine.store, &key, chrono::Utc::now())
        .await
        .expect("a digest is recorded");
    let inclusion = format!("/audit/digests/1/inclusion/{id}");
    let consistency = "/audit/digests/1/consistency/1";
    for (user, role, _) in ACCOUNTS {
        let reply = app.get(user, &inclusion).await;
        let expected = match (role.as_str(), INSIDE.contains(user)) {
            ("auditor", true) => 200,
            ("auditor", false) => 404,
            _ => 403,
        };
        check(
            format!("GET {inclusion} as {user}"),
            reply.status,
            reply.status == expected,
        );
        let reply = app.get(user, consistency).await;
        let expected = if role.as_str() == "auditor" { 200 } else { 403 };
        check(
            format!("GET {consistency} as {user}"),
            reply.status,
            reply.status == expected,
        );
    }
    // Compliance findings: auditors and supervisors, inside their jurisdictions (403 outside,
    // like the roll-up).
    for (user, role, _) in ACCOUNTS {
        let reply = app.get(user, "/audit/findings?jurisdiction=370323").await;
        let expected = match (role.as_str(), INSIDE.contains(user)) {
            ("auditor" | "supervisor", true) => 200,
            _ => 403,
        };
        check(
            format!("GET /audit/findings?jurisdiction=370323 as {user}"),
            reply.status,
            reply.status == expected,
        );
    }
    for path in [inclusion.as_str(), consistency, "/audit/findings"] {
        let anonymous = app.send(app.client.get(app.url(path))).await;
        check(
            format!("GET {path} anonymous"),
            anonymous.status,
            anonymous.status == 401,
        );
    }
    covered.extend([
        (
            "get",
            "/audit/digests/{id}/inclusion/{project_id}".to_string(),
        ),
        ("get", "/audit/digests/{from}/consistency/{to}".to_string()),
        ("get", "/audit/findings".to_string()),
        ("get", "/users".to_string()),
        ("post", "/users".to_string()),
        ("get", "/programmes".to_string()),
        ("get", "/programmes/{id}/versions/{version}".to_string()),
        ("post", "/programmes".to_string()),
        ("get", "/programmes/{id}".to_string()),
        ("get", "/programmes/{id}/diff".to_string()),
        (
            "post",
            "/programmes/{id}/versions/{version}/withdrawal".to_string(),
        ),
        ("get", "/projects".to_string()),
        ("post", "/projects".to_string()),
        ("post", "/users/{username}/disable".to_string()),
        ("get", "/auth/me".to_string()),
        ("get", "/rollup".to_string()),
        ("get", "/exports/annex/{name}".to_string()),
        ("get", "/reminders".to_string()),
        ("get", "/calendar/years".to_string()),
        ("post", "/calendar/years".to_string()),
    ]);
    // Public routes: anyone may call them.
    for path in ["/healthz", "/readyz"] {
        covered.insert(("get", path.to_string()));
        let reply = app.send(app.client.get(app.url(path))).await;
        check(
            format!("GET {path} anonymous"),
            reply.status,
            reply.status == 200,
        );
    }
    covered.insert(("post", "/auth/login".to_string()));
    let login = app
        .send(
            app.client
                .post(app.url("/auth/login"))
                .json(&json!({"username": "auditor.zibo", "password": crate::helpers::PASSWORD})),
        )
        .await;
    check(
        "POST /auth/login anonymous".into(),
        login.status,
        login.status == 200,
    );
    covered.insert(("post", "/auth/logout".to_string()));
    let logout = app.send(app.client.post(app.url("/auth/logout"))).await;
    check(
        "POST /auth/logout anonymous".into(),
        logout.status,
        logout.status == 401,
    );
    // Registration last: it adds projects, which would change the list totals above.
    for (user, _, _) in ACCOUNTS {
        let register = app
            .post(
                user,
                "/projects",
                &json!({"name": "x", "programme_id": domain::fixtures::VILLAGES_2021,
                "programme_version": 1, "jurisdiction": "370323", "registered_on": "2021-06-03"}),
            )
            .await;
        let expected = if *user == "officer.yiyuan" { 201 } else { 403 };
        check(
            format!("POST /projects as {user}"),
            register.status,
            register.status == expected,
        );
    }
    let disabled = app
        .post("officer.yiyuan", "/users/auditor.jinan/disable", &json!({}))
        .await;
    check(
        "disable as officer".into(),
        disabled.status,
        disabled.status == 403,
    );
    for path in [
        "/projects",
        "/programmes",
        "/users",
        "/auth/me",
        "/calendar/years",
    ] {
        let anonymous = app.send(app.client.get(app.url(path))).await;
        check(
            format!("GET {path} anonymous"),
            anonymous.status,
            anonymous.status == 401,
        );
    }
    for (method, path) in api::http::ROUTES {
        if !covered.contains(&(*method, path.to_string())) {
            failures.push(format!(
                "{method} {path} has no row in the authorization matrix: add one"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{:?}: authorization matrix failures:\n{}",
        app.backend,
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix_holds_on_both_backends() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        matrix(&app).await;
    }
}
