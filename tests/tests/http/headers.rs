//! Security headers (issue 8, finding 11): every response says `nosniff` and `no-referrer`, JSON
//! answers are `no-store`; with `HttpSettings::tls` (SUBSIDY_TLS=on) also
//! `Strict-Transport-Security` and `Secure` session cookies.

use serde_json::json;

use crate::helpers::{spawn_app_with, Backend, Reply, TestApp, PASSWORD};

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).map(|v| v.to_str().unwrap())
}

/// A sample of answers: public, authenticated, errors of every origin, the Swagger UI.
async fn sample(app: &TestApp) -> Vec<(&'static str, Reply)> {
    let mut replies = vec![
        (
            "healthz",
            app.send(app.client.get(app.url("/healthz"))).await,
        ),
        ("me", app.get("auditor.zibo", "/auth/me").await),
        ("projects", app.get("auditor.zibo", "/projects").await),
        ("401", app.send(app.client.get(app.url("/auth/me"))).await),
        ("404 route", app.get("auditor.zibo", "/no/such/route").await),
        (
            "400 body",
            app.send(
                app.client
                    .post(app.url("/projects"))
                    .bearer_auth(&app.tokens["officer.yiyuan"])
                    .header("content-type", "application/json")
                    .body("{not json"),
            )
            .await,
        ),
        (
            "openapi",
            app.send(app.client.get(app.url("/openapi.json"))).await,
        ),
        (
            "swagger",
            app.send(app.client.get(app.url("/swagger-ui/"))).await,
        ),
    ];
    let id = app
        .register("officer.yiyuan", domain::fixtures::VILLAGES_2021, "370323")
        .await;
    replies.push((
        "project",
        app.get("auditor.zibo", &format!("/projects/{id}")).await,
    ));
    replies
}

async fn cookie_login(app: &TestApp) -> Vec<String> {
    let browser = reqwest::Client::new();
    let response = browser
        .post(app.url("/auth/login"))
        .json(&json!({"username": "officer.yiyuan", "password": PASSWORD, "cookie": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("cache-control").unwrap(),
        "no-store",
        "the log-in answer is not cached"
    );
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app_with(Backend::Sqlite, false).await;
    for (what, reply) in sample(&app).await {
        assert_eq!(
            header(&reply, "x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            header(&reply, "referrer-policy"),
            Some("no-referrer"),
            "{what}"
        );
        assert_eq!(
            header(&reply, "strict-transport-security"),
            None,
            "{what}: no TLS"
        );
        if reply.content_type().contains("json") {
            assert_eq!(header(&reply, "cache-control"), Some("no-store"), "{what}");
        }
    }
    let cookies = cookie_login(&app).await;
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for cookie in &cookies {
        assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_tls_responses_carry_hsts_and_cookies_are_secure() {
    let app = spawn_app_with(Backend::Sqlite, true).await;
    for (what, reply) in sample(&app).await {
        assert_eq!(
            header(&reply, "x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            header(&reply, "referrer-policy"),
            Some("no-referrer"),
            "{what}"
        );
        assert_eq!(
            header(&reply, "strict-transport-security"),
            Some("max-age=31536000"),
            "{what}"
        );
    }
    let cookies = cookie_login(&app).await;
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for cookie in &cookies {
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    }
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("subsidy_session=") && c.contains("HttpOnly")));
}
