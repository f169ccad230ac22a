//! What the permanent log refuses over HTTP (issue "Hardening", findings 1, 2, 3, 5 and 6): each
//! case was accepted before, and stored for ever. Each is now a precise 400/422 naming the
//! field, on both backends, and nothing is stored.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, BACKENDS};

/// Posts a raw body (so that duplicate keys and huge literals reach the server as written).
async fn post_raw(app: &TestApp, user: &str, path: &str, body: &str) -> (u16, Value) {
    let reply = app
        .send(
            app.client
                .post(app.url(path))
                .bearer_auth(&app.tokens[user])
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    (reply.status, reply.body)
}

fn assert_refused(status: u16, body: &Value, want_status: u16, code: &str, pointer: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    let named = detail.contains(pointer)
        || body["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["pointer"] == pointer));
    assert!(named, "the refusal must name {pointer}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_enters_the_log() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let programme = domain::fixtures::VILLAGES_2021;
        let id = app.register("officer.yiyuan", programme, "370323").await;
        let p = |s: &str| format!("/projects/{id}{s}");
        let before = app.last_position().await;
        let (officer, supervisor) = ("officer.yiyuan", "supervisor.zibo");

        // 1. Money beyond any sane amount, and beyond i64.
        let (s, b) = post_raw(
            &app,
            supervisor,
            &p("/funds/approvals"),
            r#"{"source": "city", "amount_fen": 9223372036854775807, "approved_on": "2021-06-10"}"#,
        )
        .await;
        assert_refused(s, &b, 400, "request.invalid_json_value", "/amount_fen");
        let (s, b) = post_raw(
            &app,
            supervisor,
            &p("/funds/approvals"),
            r#"{"source": "city", "amount_fen": 1000000000001, "approved_on": "2021-06-10"}"#,
        )
        .await;
        assert_refused(s, &b, 422, "input.amount_out_of_range", "/amount_fen");

        // 3. Form integers beyond 64 bits, numbers that would be rounded, duplicate keys.
        let (s, b) = post_raw(
            &app,
            officer,
            &p("/plan"),
            r#"{"submitted_on": "2021-06-07", "form": {"villages_total": 18446744073709551616}}"#,
        )
        .await;
        assert_refused(
            s,
            &b,
            400,
            "request.invalid_json_value",
            "/form/villages_total",
        );
        let (s, b) = post_raw(
            &app,
            officer,
            &p("/plan"),
            r#"{"submitted_on": "2021-06-07", "form": {"ratio": 0.1000000000000000000001}}"#,
        )
        .await;
        assert_refused(s, &b, 400, "request.invalid_json_value", "/form/ratio");
        let (s, b) = post_raw(&app, officer, &p("/plan"),
            r#"{"submitted_on": "2021-06-07", "form": {"reporting_unit": "甲", "reporting_unit": "乙"}}"#).await;
        assert_refused(
            s,
            &b,
            400,
            "request.invalid_json_value",
            "/form/reporting_unit",
        );
        let (s, b) = post_raw(&app, officer, &p("/officials"),
            r#"{"role": "liaison", "role": "official_in_charge", "official": {"name": "李示例", "post": "科长", "email": "l@example.org"}}"#).await;
        assert_refused(s, &b, 400, "request.invalid_json_value", "/role");

        // 5. NUL and other control characters: in the path, the query and any body string.
        let reply = app.get(officer, "/projects/x%00").await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.body["code"], "request.control_characters");
        let reply = app.get(officer, "/projects?q=%00").await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        let (s, b) = post_raw(&app, officer, &p("/officials"),
            r#"{"role": "liaison", "official": {"name": "李\u0000示例", "post": "科长", "email": "l@example.org"}}"#).await;
        assert_refused(s, &b, 400, "request.invalid_json_value", "/official/name");
        let reply = app
            .send(
                app.client
                    .post(app.url("/auth/login"))
                    .json(&json!({"username": "admin\u{0}", "password": "x"})),
            )
            .await;
        assert_eq!(reply.status, 400, "{}", reply.body);

        // 6. Names: right-to-left overrides, ANSI escapes, a line break, 100 kB.
        for (name, status) in [
            ("示例\u{202e}目项", 400),
            ("\u{1b}[31m示例", 400),
            ("示例\n项目", 422),
        ] {
            let reply = app
                .post(
                    officer,
                    "/projects",
                    &json!({"name": name, "programme_id": programme,
                "programme_version": 1, "jurisdiction": "370323", "registered_on": "2021-06-03"}),
                )
                .await;
            assert_eq!(reply.status, status, "{name:?}: {}", reply.body);
        }
        let reply = app
            .post(
                officer,
                "/projects",
                &json!({"name": "长".repeat(100 * 1024 / 3), "programme_id": programme,
            "programme_version": 1, "jurisdiction": "370323", "registered_on": "2021-06-03"}),
            )
            .await;
        assert_refused(
            reply.status,
            &reply.body,
            422,
            "input.invalid_field",
            "/name",
        );

        // 6. Dates far outside the programme, before the registration. A registration outside
        // the programme's application window (2021-06-02 – 2021-12-31) says so.
        for registered_on in ["9999-12-31", "2017-05-01"] {
            let reply = app
                .post(
                    officer,
                    "/projects",
                    &json!({"name": "示例", "programme_id": programme, "programme_version": 1, "jurisdiction": "370323", "registered_on": registered_on}),
                )
                .await;
            assert_refused(
                reply.status,
                &reply.body,
                422,
                "registration.outside_window",
                "/registered_on",
            );
        }
        for (field, path, body) in [
            (
                "/suspended_on",
                p("/suspension"),
                json!({"suspended_on": "1900-01-01", "reason": "审计"}),
            ),
            (
                "/until",
                p("/deadline-extensions"),
                json!({"deadline_id": "notice-end", "until": "0001-01-01", "reason": "汛期"}),
            ),
            (
                "/until",
                p("/deadline-extensions"),
                json!({"deadline_id": "notice-end", "until": "9999-12-31", "reason": "汛期"}),
            ),
        ] {
            let user = if path.starts_with("/projects/") {
                supervisor
            } else {
                officer
            };
            let reply = app.post(user, &path, &body).await;
            assert_refused(
                reply.status,
                &reply.body,
                422,
                "input.date_out_of_range",
                field,
            );
        }
        // A deadline that does not exist.
        let reply = app.post(supervisor, &p("/deadline-extensions"),
            &json!({"deadline_id": "no-such-deadline", "until": "2021-08-01", "reason": "汛期"})).await;
        assert_refused(
            reply.status,
            &reply.body,
            422,
            "deadline.unknown",
            "/deadline_id",
        );

        // 6. Evidence: a fake hash, empty title and reference.
        for (evidence, pointer) in [
            (
                json!({"title": "拨款通知", "reference": "示例〔2021〕1号", "sha256": "xyz"}),
                "/evidence/0/sha256",
            ),
            (
                json!({"title": "", "reference": "示例〔2021〕1号"}),
                "/evidence/0/title",
            ),
            (
                json!({"title": "拨款通知", "reference": "  "}),
                "/evidence/0/reference",
            ),
        ] {
            let reply = app.post(officer, &p("/officials"), &json!({"role": "liaison",
                "official": {"name": "李示例", "post": "科长", "email": "l@example.org"}, "evidence": [evidence]})).await;
            assert_refused(
                reply.status,
                &reply.body,
                422,
                "input.invalid_field",
                pointer,
            );
        }
        // 6. An official's language.
        let reply = app.post(officer, &p("/officials"), &json!({"role": "liaison",
            "official": {"name": "李示例", "post": "科长", "email": "l@example.org", "language": "xx"}})).await;
        assert_refused(
            reply.status,
            &reply.body,
            422,
            "input.invalid_field",
            "/official/language",
        );

        assert_eq!(
            app.last_position().await,
            before,
            "{backend:?}: nothing may be stored"
        );

        // And what is valid still goes through, exactly as sent.
        let reply = app.post(officer, &p("/officials"), &json!({"role": "liaison",
            "official": {"name": "李示例", "post": "科长", "email": "l@example.org", "language": "en"},
            "evidence": [{"title": "任命通知", "reference": "示例〔2021〕2号", "sha256": "0f".repeat(32)}]})).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        app.approve_village_plan(&id).await;
        let (s, b) = post_raw(
            &app,
            supervisor,
            &p("/funds/approvals"),
            r#"{"source": "city", "amount_fen": 1000000000000, "approved_on": "2021-06-10"}"#,
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let view = app.get(officer, &p("")).await;
        let city = view.body["funds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["source"] == "city")
            .cloned()
            .unwrap();
        assert_eq!(city["approved_fen"], 1_000_000_000_000_i64, "{city}");
    }
}
