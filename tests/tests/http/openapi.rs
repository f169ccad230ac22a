//! The spec matches the server: every registered route is in /openapi.json and answers, and
//! the spec names no route the server lacks. The Swagger UI is served offline.

use crate::helpers::{spawn_app, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_in_the_spec_and_served() {
    let app = spawn_app(Backend::Sqlite).await;
    let spec = app.send(app.client.get(app.url("/openapi.json"))).await;
    assert_eq!(spec.status, 200);
    let paths = spec.body["paths"].as_object().expect("paths");
    let mut in_spec = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            in_spec.push((method.clone(), path.clone()));
        }
    }
    for (method, path) in api::http::ROUTES {
        assert!(
            in_spec.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is served but not in the spec"
        );
        let concrete = path
            .replace("{id}", "nope")
            .replace("{objection_id}", "x")
            .replace("{username}", "nobody")
            .replace("{version}", "1");
        let request = match *method {
            "get" => app.client.get(app.url(&concrete)),
            _ => app.client.post(app.url(&concrete)),
        };
        let reply = app
            .send(
                request
                    .bearer_auth(&app.tokens["admin"])
                    .json(&serde_json::json!({})),
            )
            .await;
        assert_ne!(
            reply.body["code"], "http.route_not_found",
            "{method} {path} is in the list but not registered"
        );
    }
    for (method, path) in &in_spec {
        assert!(
            api::http::ROUTES.contains(&(method.as_str(), path.as_str())),
            "{method} {path} is in the spec but not in ROUTES"
        );
    }
    let ui = app.send(app.client.get(app.url("/swagger-ui/"))).await;
    assert_eq!(ui.status, 200);
    assert!(
        ui.body.as_str().unwrap_or_default().contains("swagger"),
        "swagger UI page"
    );
}
