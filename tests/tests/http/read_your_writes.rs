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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_not_reached_in_time_is_503_with_retry_after() {
    let app = spawn_app(Backend::Sqlite).await;
    let far = app.last_position().await + 1_000_000;
    let reply = app
        .get("auditor.zibo", &format!("/projects?min_position={far}"))
        .await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.body["code"], "projection.behind");
    assert!(reply.headers.contains_key("retry-after"));
}
