//! Idempotency keys after a crash (issue 8, finding 4): a claim whose claimant died is resolved
//! against the store, so that a retry either replays the committed answer or runs the command
//! once. The crash is simulated by writing the claim row as a dead process leaves it.

use serde_json::{json, Value};
use tests::{on_both_backends, Kind};

use crate::helpers::{spawn_app, Backend, TestApp};

fn backend(kind: Kind) -> Backend {
    match kind {
        Kind::Sqlite => Backend::Sqlite,
        Kind::Postgres => Backend::Postgres,
    }
}

/// A lease that ended long ago, as a crashed claimant leaves it.
const EXPIRED: &str = "2000-01-01T00:00:30.000000Z";

fn official(n: u32) -> Value {
    json!({"role": "liaison", "official": {"name": format!("联络员{n}"), "post": "科长", "email": format!("l{n}@example.org")}})
}

async fn post_with_key(
    app: &TestApp,
    path: &str,
    key: &str,
    body: &Value,
) -> crate::helpers::Reply {
    app.send(
        app.client
            .post(app.url(path))
            .bearer_auth(&app.tokens["officer.yiyuan"])
            .header("Idempotency-Key", key)
            .json(body),
    )
    .await
}

/// The claimant died after claiming the key and before committing: the retry runs the command
/// (once), and a further retry replays that answer. A live claim is still 409.
async fn an_expired_claim_whose_command_did_not_commit_is_taken_over(kind: Kind) {
    let app = spawn_app(backend(kind)).await;
    let id = app
        .register("officer.yiyuan", domain::fixtures::VILLAGES_2021, "370323")
        .await;
    let path = format!("/projects/{id}/officials");
    let body = official(1);
    // The same body under another key gives the request hash the server computes for it.
    let probe = post_with_key(&app, &path, "probe", &body).await;
    assert_eq!(probe.status, 200, "{}", probe.body);
    let hash = app
        .sql_text("SELECT request_hash FROM http_idempotency WHERE idem_key = 'probe'")
        .await;
    let version = app.events(&id).await.len();
    assert_eq!(version, 2);
    for (key, lease) in [
        ("crashed", EXPIRED),
        ("live", "2999-01-01T00:00:00.000000Z"),
    ] {
        app.sql(&format!(
            "INSERT INTO http_idempotency (username, route, idem_key, request_hash, created_at, project_id, project_version, lease_until, claimant) \
             VALUES ('officer.yiyuan', 'POST {path}', '{key}', '{hash}', '2000-01-01T00:00:00.000000Z', '{id}', {version}, '{lease}', 'dead-claimant')"
        ))
        .await;
    }

    // A claim whose lease has not ended is still being processed.
    let live = post_with_key(&app, &path, "live", &body).await;
    assert_eq!(live.status, 409, "{kind:?}: {}", live.body);
    assert_eq!(live.body["code"], "idempotency.in_progress");
    assert_eq!(app.events(&id).await.len(), 2, "{kind:?}: nothing ran");

    // The crashed claim: nothing was committed under it, so the retry runs the command.
    let retry = post_with_key(&app, &path, "crashed", &body).await;
    assert_eq!(retry.status, 200, "{kind:?}: {}", retry.body);
    assert!(retry.headers.get("idempotent-replayed").is_none());
    assert_eq!(retry.body["version"], 3);
    let events = app.events(&id).await;
    assert_eq!(events.len(), 3, "{kind:?}: the command ran once");
    assert_eq!(events[2].metadata["idempotency_key"], "crashed");
    assert_eq!(events[2].metadata["actor"], "officer.yiyuan");
    store::verify_chain(&events).expect("the chain covers the key");

    // Now it has an answer: the next retry replays it and appends nothing.
    let again = post_with_key(&app, &path, "crashed", &body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, retry.body);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(app.events(&id).await.len(), 3, "{kind:?}: appended once");
}

/// The claimant committed the events and died before storing the answer: the retry answers
/// 2xx with the same events (rebuilt from the store) and appends nothing.
async fn a_committed_command_whose_answer_was_lost_is_replayed_from_the_events(kind: Kind) {
    let app = spawn_app(backend(kind)).await;
    // A registration (201 + Location, the id drawn before the claim) ...
    let register = json!({"name": "崩溃项目", "programme_id": domain::fixtures::VILLAGES_2021, "programme_version": 1,
        "jurisdiction": "370323", "registered_on": "2021-06-03"});
    let first = post_with_key(&app, "/projects", "reg-lost", &register).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.body["project_id"].as_str().unwrap().to_string();
    // ... and a command on it.
    let path = format!("/projects/{id}/officials");
    let first_command = post_with_key(&app, &path, "cmd-lost", &official(2)).await;
    assert_eq!(first_command.status, 200, "{}", first_command.body);
    let position = app.last_position().await;

    // The process dies after the commit, before the answer is stored: the row stays in
    // progress with its lease running out.
    let forgotten = app
        .sql(&format!(
            "UPDATE http_idempotency SET status = NULL, response_body = NULL, etag = NULL, lease_until = '{EXPIRED}' \
             WHERE idem_key IN ('reg-lost', 'cmd-lost')"
        ))
        .await;
    assert_eq!(forgotten, 2);

    let retry = post_with_key(&app, "/projects", "reg-lost", &register).await;
    assert_eq!(retry.status, 201, "{kind:?}: {}", retry.body);
    assert_eq!(
        retry.body, first.body,
        "{kind:?}: the same project and events"
    );
    assert_eq!(retry.headers.get("location"), first.headers.get("location"));
    assert_eq!(retry.etag(), first.etag());
    assert_eq!(retry.headers.get("idempotent-replayed").unwrap(), "true");

    let retry_command = post_with_key(&app, &path, "cmd-lost", &official(2)).await;
    assert_eq!(
        retry_command.status, 200,
        "{kind:?}: {}",
        retry_command.body
    );
    assert_eq!(retry_command.body, first_command.body);
    assert_eq!(retry_command.etag(), first_command.etag());

    assert_eq!(
        app.last_position().await,
        position,
        "{kind:?}: no second append"
    );
    // The rebuilt answer is stored: replays no longer need the events.
    let stored = app
        .sql_text("SELECT response_body FROM http_idempotency WHERE idem_key = 'cmd-lost'")
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&stored).unwrap(),
        first_command.body
    );
}

on_both_backends!(
    an_expired_claim_whose_command_did_not_commit_is_taken_over,
    a_committed_command_whose_answer_was_lost_is_replayed_from_the_events,
);
