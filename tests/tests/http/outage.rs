//! Database outages (issue 8, finding 9): while PostgreSQL is down, requests answer 503
//! `store.unavailable` with `Retry-After` within seconds, `/readyz` too; once it is back the
//! server recovers by itself and nothing acknowledged before was lost. The test runs its own
//! throwaway PostgreSQL cluster on a free port (never the machine's own on 5432).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{spawn_app_on, Backend, Reply, TestApp};
use tests::cluster::Cluster;

fn assert_unavailable(what: &str, reply: &Reply, took: Duration) {
    assert_eq!(reply.status, 503, "{what}: {}", reply.body);
    assert_eq!(reply.body["code"], "store.unavailable", "{what}");
    assert!(
        reply.content_type().starts_with("application/problem+json"),
        "{what}"
    );
    let retry_after: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{what}");
    assert!(took < Duration::from_secs(4), "{what} took {took:?}");
}

async fn timed(app: &TestApp, request: reqwest::RequestBuilder) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = app.send(request).await;
    (reply, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_quickly_and_the_server_recovers_by_itself() {
    let cluster = Cluster::init();
    cluster.start();
    let app = spawn_app_on(
        Backend::Postgres,
        &cluster.url(),
        tempfile::tempdir().unwrap(),
        false,
    )
    .await;
    let id = app
        .register("officer.yiyuan", domain::fixtures::VILLAGES_2021, "370323")
        .await;
    let official = |n: u32| json!({"role": "liaison", "official": {"name": format!("联络员{n}"), "post": "科长", "email": format!("l{n}@example.org")}});
    let path = format!("/projects/{id}/officials");
    app.ok("officer.yiyuan", &path, official(1)).await;
    let acknowledged = app.events(&id).await;
    assert_eq!(acknowledged.len(), 2);

    cluster.stop();

    let command = || {
        app.client
            .post(app.url(&path))
            .bearer_auth(&app.tokens["officer.yiyuan"])
            .header("Idempotency-Key", "during-outage")
            .json(&official(2))
    };
    let (reply, took) = timed(&app, command()).await;
    assert_unavailable("a command", &reply, took);
    let (reply, took) = timed(&app, app.client.get(app.url("/readyz"))).await;
    assert_unavailable("/readyz", &reply, took);
    assert!(took < Duration::from_millis(3500), "/readyz took {took:?}");
    let (reply, took) = timed(
        &app,
        app.client
            .get(app.url(&format!("/projects/{id}")))
            .bearer_auth(&app.tokens["auditor.zibo"]),
    )
    .await;
    assert_unavailable("a read", &reply, took);
    let (reply, took) = timed(
        &app,
        app.client
            .post(app.url("/auth/login"))
            .json(&json!({"username": "auditor.zibo", "password": crate::helpers::PASSWORD})),
    )
    .await;
    assert_unavailable("a log-in", &reply, took);

    cluster.start();
    // The pool reconnects by itself.
    tests::poll_until(
        "/readyz answers 200 again",
        Duration::from_secs(30),
        || async {
            app.client
                .get(app.url("/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
    // The refused command (same key) runs now, once; the session survived the outage.
    let reply = app.send(command()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let events = app.events(&id).await;
    assert_eq!(events.len(), 3, "the retry ran once");
    assert_eq!(
        &events[..2],
        &acknowledged[..],
        "nothing acknowledged was lost"
    );
    store::verify_chain(&events).expect("an intact chain");
    let again = app.send(command()).await;
    assert_eq!(again.body, reply.body);
    assert_eq!(app.events(&id).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_documents_503_with_retry_after_on_every_store_operation() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let spec = app.send(app.client.get(app.url("/openapi.json"))).await;
    for (method, path) in api::http::ROUTES {
        let responses = &spec.body["paths"][path][method]["responses"];
        if *path == "/healthz" {
            assert!(responses["503"].is_null());
            continue;
        }
        let unavailable = &responses["503"];
        assert!(
            unavailable["content"]["application/problem+json"].is_object(),
            "{method} {path}: {responses}"
        );
        assert!(
            unavailable["headers"]["Retry-After"].is_object(),
            "{method} {path}: {unavailable}"
        );
    }
}
