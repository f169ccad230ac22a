//! Log-in, rate limiting, cookie sessions with CSRF, disabling accounts, idempotent retries.

use serde_json::json;

use crate::helpers::{spawn_app, BACKENDS, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_rate_limited_per_user_and_address() {
    let app = spawn_app(crate::helpers::Backend::Sqlite).await;
    let login = |password: &str| {
        app.client
            .post(app.url("/auth/login"))
            .json(&json!({"username": "auditor.zibo", "password": password}))
    };
    for _ in 0..5 {
        let reply = app.send(login("wrong-password")).await;
        assert_eq!(reply.status, 401, "{}", reply.body);
        assert_eq!(reply.body["code"], "auth.unauthenticated");
    }
    let reply = app.send(login(PASSWORD)).await;
    assert_eq!(
        reply.status, 429,
        "even the right password waits: {}",
        reply.body
    );
    assert_eq!(reply.body["code"], "auth.rate_limited");
    assert!(reply.headers.get("retry-after").is_some());
    // Another user from the same address is not affected.
    let other = app
        .send(
            app.client
                .post(app.url("/auth/login"))
                .json(&json!({"username": "auditor.jinan", "password": PASSWORD})),
        )
        .await;
    assert_eq!(other.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_sessions_need_the_csrf_token_and_disabled_accounts_lose_access() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // A separate client keeps its own cookie jar.
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let reply =
            app.send(browser.post(app.url("/auth/login")).json(
                &json!({"username": "officer.yiyuan", "password": PASSWORD, "cookie": true}),
            ))
            .await;
        assert_eq!(reply.status, 200);
        assert!(
            reply.body["token"].is_null(),
            "a cookie session hands out no bearer token"
        );
        let csrf = reply.body["csrf_token"].as_str().unwrap().to_string();
        let me = app.send(browser.get(app.url("/auth/me"))).await;
        assert_eq!(me.status, 200);
        assert_eq!(me.body["username"], "officer.yiyuan");
        let body = json!({"name": "x", "programme_id": domain::fixtures::VILLAGES_2021, "programme_version": 1,
            "jurisdiction": "370323", "registered_on": "2021-06-03"});
        let before = app.last_position().await;
        let no_csrf = app
            .send(browser.post(app.url("/projects")).json(&body))
            .await;
        assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
        let wrong = app
            .send(
                browser
                    .post(app.url("/projects"))
                    .header("X-CSRF-Token", "forged")
                    .json(&body),
            )
            .await;
        assert_eq!(wrong.status, 403);
        assert_eq!(app.last_position().await, before);
        let with = app
            .send(
                browser
                    .post(app.url("/projects"))
                    .header("X-CSRF-Token", &csrf)
                    .json(&body),
            )
            .await;
        assert_eq!(with.status, 201, "{}", with.body);
        assert!(with.headers.get("location").is_some());

        // Disabling the account ends its sessions at once.
        let disabled = app
            .post("admin", "/users/officer.yiyuan/disable", &json!({}))
            .await;
        assert_eq!(disabled.status, 204);
        let me = app.send(browser.get(app.url("/auth/me"))).await;
        assert_eq!(me.status, 401);
        let me = app.get("officer.yiyuan", "/auth/me").await;
        assert_eq!(me.status, 401);
        let login = app
            .send(
                app.client
                    .post(app.url("/auth/login"))
                    .json(&json!({"username": "officer.yiyuan", "password": PASSWORD})),
            )
            .await;
        assert_eq!(login.status, 401);

        // Log-out ends a bearer session.
        let out = app.post("auditor.zibo", "/auth/logout", &json!({})).await;
        assert_eq!(out.status, 204);
        assert_eq!(app.get("auditor.zibo", "/auth/me").await.status, 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_command_with_the_same_key_returns_the_first_answer_and_appends_once() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let token = app.tokens["officer.yiyuan"].clone();
        let body = json!({"name": "幂等项目", "programme_id": domain::fixtures::VILLAGES_2021, "programme_version": 1,
            "jurisdiction": "370323", "registered_on": "2021-06-03"});
        let send = |key: &str, body: &serde_json::Value| {
            app.client
                .post(app.url("/projects"))
                .bearer_auth(&token)
                .header("Idempotency-Key", key)
                .json(body)
        };
        let first = app.send(send("k-1", &body)).await;
        assert_eq!(first.status, 201);
        let after_first = app.last_position().await;
        let second = app.send(send("k-1", &body)).await;
        assert_eq!(second.status, 201);
        assert_eq!(
            second.body, first.body,
            "the first answer, not a second project"
        );
        assert_eq!(
            second.headers.get("location"),
            first.headers.get("location")
        );
        assert_eq!(second.headers.get("idempotent-replayed").unwrap(), "true");
        assert_eq!(
            app.last_position().await,
            after_first,
            "{backend:?}: nothing appended twice"
        );
        // The same key with another body is refused.
        let mut other = body.clone();
        other["name"] = "另一个".into();
        let reused = app.send(send("k-1", &other)).await;
        assert_eq!(reused.status, 422);
        assert_eq!(reused.body["code"], "idempotency.key_reused");
        // Refusals are remembered too: the retry gets the same 409.
        let id = first.body["project_id"].as_str().unwrap();
        let close = |key: &str| {
            app.client
                .post(app.url(&format!("/projects/{id}/closure")))
                .bearer_auth(&app.tokens["supervisor.zibo"])
                .header("Idempotency-Key", key)
                .json(&json!({"closed_on": "2021-12-01"}))
        };
        let refused = app.send(close("c-1")).await;
        let again = app.send(close("c-1")).await;
        assert_eq!(refused.status, again.status);
        assert_eq!(refused.body, again.body);
        // Ten concurrent retries of one key: exactly one project.
        let before = app.last_position().await;
        let replies =
            futures::future::join_all((0..10).map(|_| app.send(send("k-2", &body)))).await;
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 409),
            "{statuses:?}"
        );
        assert_eq!(
            app.last_position().await,
            before + 1,
            "{backend:?}: {statuses:?}"
        );
    }
}
