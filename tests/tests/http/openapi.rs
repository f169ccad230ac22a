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

/// The spec says what the server does (issue "Hardening", finding 10): every error response is
/// `application/problem+json`; every operation documents 400 and 503 (with `Retry-After`), an
/// authenticated one 401, one with a body 413 and 415; and no body field the server checks is
/// typed as a bare object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_bodies_are_fully_documented() {
    let app = spawn_app(Backend::Sqlite).await;
    let spec = app
        .send(app.client.get(app.url("/openapi.json")))
        .await
        .body;
    let mut problems = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let mut need = vec!["400"];
            if path != "/healthz" {
                need.push("503");
            }
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                need.push("401");
            }
            if op.get("requestBody").is_some() {
                need.extend(["413", "415"]);
            }
            for status in need {
                if !responses.contains_key(status) {
                    problems.push(format!("{method} {path}: no {status}"));
                }
            }
            for (status, response) in responses {
                if status.as_str() >= "400" {
                    let content = response["content"].as_object();
                    if !content.is_some_and(|c| {
                        c.contains_key("application/problem+json")
                            && !c.contains_key("application/json")
                    }) {
                        problems.push(format!(
                            "{method} {path} {status}: not application/problem+json"
                        ));
                    }
                }
            }
            if let Some(h) = responses.get("503") {
                if h["headers"].get("Retry-After").is_none() {
                    problems.push(format!("{method} {path} 503: no Retry-After"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The domain values inside command bodies are typed, not bare objects.
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    for (body, field, schema) in [
        ("AssignOfficialBody", "official", "OfficialSchema"),
        ("DesignateEntityBody", "entity", "EntitySchema"),
        ("ReviewPlanBody", "decision", "DecisionSchema"),
    ] {
        let property = &schemas[body]["properties"][field];
        assert_eq!(
            property["$ref"],
            format!("#/components/schemas/{schema}"),
            "{body}.{field}: {property}"
        );
        assert!(schemas.contains_key(schema), "{schema} is defined");
    }
    for (body, field, schema) in [
        ("InspectionBody", "results", "ChecklistResultSchema"),
        ("EvaluationBody", "scores", "IndicatorScoreSchema"),
        ("TerminateBody", "clawbacks", "ClawbackLineSchema"),
    ] {
        let items = &schemas[body]["properties"][field]["items"];
        assert_eq!(
            items["$ref"],
            format!("#/components/schemas/{schema}"),
            "{body}.{field}: {items}"
        );
    }
    assert_eq!(
        schemas["OfficialSchema"]["additionalProperties"], false,
        "unknown fields are refused, and the spec says so"
    );
    // Amounts state their bounds.
    let amount = &schemas["TrancheBody"]["properties"]["amount_fen"];
    assert_eq!(amount["maximum"], 1_000_000_000_000_i64, "{amount}");
}
