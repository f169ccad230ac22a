//! Read replicas (issue 8): the read side (lists, roll-ups, ledgers) runs on a PostgreSQL
//! streaming replica while the primary takes commands; reads converge, and read-your-writes
//! holds through the replica. The test starts its own primary and replica on free ports.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{spawn_app_with_settings, Backend};
use api::http::HttpSettings;
use tests::cluster::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_on_a_replica_converge_and_read_their_writes() {
    let primary = Cluster::init();
    primary.start();
    let replica = Cluster::replica_of(&primary);
    replica.start();
    let settings = HttpSettings {
        read_database_url: Some(replica.url()),
        ..Default::default()
    };
    let app = spawn_app_with_settings(
        Backend::Postgres,
        &primary.url(),
        tempfile::tempdir().unwrap(),
        settings,
    )
    .await;

    let mut ids = Vec::new();
    for n in 0..8 {
        let id = app
            .register("officer.yiyuan", domain::fixtures::VILLAGES_2021, "370323")
            .await;
        let answer = app
            .ok(
                "officer.yiyuan",
                &format!("/projects/{id}/officials"),
                json!({"role": "liaison", "official": {"name": format!("联络员{n}"), "post": "科长", "email": "l@example.org"}}),
            )
            .await;
        let position = answer["position"].as_i64().unwrap();
        // Read-your-writes through the replica: the list read with the answer's position
        // shows this project at the version just written.
        let page = app
            .get(
                "supervisor.zibo",
                &format!("/projects?q={id}&min_position={position}"),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body["total"], 1, "{}", page.body);
        assert_eq!(page.body["items"][0]["version"], answer["version"]);
        ids.push(id);
    }
    let all = app.list("auditor.zibo", "limit=500").await;
    assert_eq!(all.body["total"], ids.len(), "{}", all.body);

    // The reads really go to the replica: with it stopped, a list fails (503) while commands
    // still succeed on the primary; started again, it catches up by itself.
    replica.stop();
    let down = app.get("auditor.zibo", "/projects").await;
    assert_eq!(down.status, 503, "{}", down.body);
    let answer = app
        .ok(
            "officer.yiyuan",
            &format!("/projects/{}/officials", ids[0]),
            json!({"role": "liaison", "official": {"name": "联络员九", "post": "科长", "email": "l@example.org"}}),
        )
        .await;
    replica.start();
    let position = answer["position"].as_i64().unwrap();
    let mut converged = false;
    for _ in 0..100 {
        let page = app
            .get(
                "supervisor.zibo",
                &format!("/projects?q={}&min_position={position}", ids[0]),
            )
            .await;
        if page.status == 200 && page.body["items"][0]["version"] == answer["version"] {
            converged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(converged, "the replica caught up after its restart");
}
