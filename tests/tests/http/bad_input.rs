//! Bad input at the boundary: each kind gets a clear 4xx problem document and stores nothing.

use serde_json::json;

use crate::helpers::{spawn_app, Reply, BACKENDS};

fn assert_problem(reply: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    assert!(
        reply.content_type().starts_with("application/problem+json"),
        "{what}: content type {}",
        reply.content_type()
    );
    assert_eq!(reply.body["code"], code, "{what}: {}", reply.body);
    assert_eq!(reply.body["status"], status, "{what}");
    assert!(
        reply.body["type"].as_str().unwrap().ends_with(code),
        "{what}"
    );
    assert!(!reply.body["title"].as_str().unwrap().is_empty(), "{what}");
    assert!(!reply.body["detail"].as_str().unwrap().is_empty(), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_problem_and_stores_nothing() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let id = app
            .register("officer.yiyuan", domain::fixtures::VILLAGES_2021, "370323")
            .await;
        let plan = app.url(&format!("/projects/{id}/plan"));
        let token = app.tokens["officer.yiyuan"].clone();
        let before = app.last_position().await;

        let raw = |body: &'static str, content_type: &'static str| {
            app.client
                .post(&plan)
                .bearer_auth(&token)
                .header("content-type", content_type)
                .body(body)
        };
        let reply = app
            .send(raw("{\"submitted_on\": ", "application/json"))
            .await;
        assert_problem(&reply, 400, "request.malformed_json", "truncated JSON");
        let reply = app
            .send(raw(
                "{\"submitted_on\": \"2021-06-07\", \"form\": {}, \"colour\": 1}",
                "application/json",
            ))
            .await;
        assert_problem(&reply, 400, "request.invalid_body", "unknown field");
        assert!(reply.body["detail"].as_str().unwrap().contains("colour"));
        let reply = app
            .send(raw(
                "{\"submitted_on\": \"June\", \"form\": {}}",
                "application/json",
            ))
            .await;
        assert_problem(&reply, 400, "request.invalid_body", "bad date");
        let reply = app.send(raw("submitted_on=2021-06-07", "text/plain")).await;
        assert_problem(
            &reply,
            415,
            "request.unsupported_media_type",
            "wrong content type",
        );
        let huge = format!(
            "{{\"submitted_on\": \"2021-06-07\", \"form\": {{\"x\": \"{}\"}}}}",
            "a".repeat(300 * 1024)
        );
        let reply = app
            .send(
                app.client
                    .post(&plan)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(huge),
            )
            .await;
        assert_problem(&reply, 413, "request.too_large", "oversized body");

        // A form that fails the programme's JSON Schema: 422 with pointers.
        let reply = app
            .post(
                "officer.yiyuan",
                &format!("/projects/{id}/plan"),
                &json!({"submitted_on": "2021-06-07", "form": {"reporting_unit": 5}}),
            )
            .await;
        assert_problem(&reply, 422, "form.invalid", "invalid form");
        let errors = reply.body["errors"].as_array().unwrap();
        assert!(!errors.is_empty());
        assert!(errors
            .iter()
            .all(|e| e["pointer"].is_string() && e["reason"].is_string()));
        assert!(
            errors.iter().any(|e| e["pointer"] == "/reporting_unit"),
            "{errors:?}"
        );

        // A stage conflict is 409; a finance rule is 422; both name the rule.
        let reply = app
            .post(
                "officer.yiyuan",
                &format!("/projects/{id}/notice/close"),
                &json!({"closed_on": "2021-06-20"}),
            )
            .await;
        assert_problem(&reply, 409, "stage.command_not_allowed", "wrong stage");
        let reply = app
            .post(
                "officer.yiyuan",
                &format!("/projects/{id}/funds/tranches"),
                &json!({"source": "county", "amount_fen": 100, "paid_on": "2021-06-20"}),
            )
            .await;
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert!(
            reply.body["code"].as_str().unwrap().starts_with("finance."),
            "{}",
            reply.body
        );

        // Bad and stale If-Match.
        let valid = json!({"role": "liaison", "official": {"name": "李示例", "post": "科长", "email": "l@example.org"}});
        let officials = app.url(&format!("/projects/{id}/officials"));
        let reply = app
            .send(
                app.client
                    .post(&officials)
                    .bearer_auth(&token)
                    .header("if-match", "seven")
                    .json(&valid),
            )
            .await;
        assert_problem(&reply, 400, "request.bad_if_match", "bad If-Match");
        let reply = app
            .send(
                app.client
                    .post(&officials)
                    .bearer_auth(&token)
                    .header("if-match", "\"7\"")
                    .json(&valid),
            )
            .await;
        assert_problem(&reply, 412, "concurrency.stale_version", "stale If-Match");
        assert_eq!(reply.body["current_version"], 1);
        assert_eq!(reply.etag().as_deref(), Some("\"1\""));

        // Unknown routes and query parameters.
        let reply = app.get("officer.yiyuan", "/projects?colour=red").await;
        assert_problem(&reply, 400, "request.bad_query", "unknown query parameter");
        let reply = app.get("officer.yiyuan", "/projects?stage=flying").await;
        assert_problem(&reply, 400, "request.bad_query", "unknown stage");
        let reply = app.get("officer.yiyuan", "/nowhere").await;
        assert_problem(&reply, 404, "http.route_not_found", "unknown route");
        let reply = app
            .get("officer.yiyuan", &format!("/projects/{id}?as_of=yesterday"))
            .await;
        assert_problem(&reply, 400, "request.bad_query", "bad as_of");

        assert_eq!(
            app.last_position().await,
            before,
            "{backend:?}: nothing may be stored"
        );

        // The matching If-Match goes through.
        let reply = app
            .send(
                app.client
                    .post(&officials)
                    .bearer_auth(&token)
                    .header("if-match", "\"1\"")
                    .json(&valid),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.etag().as_deref(), Some("\"2\""));
    }
}
