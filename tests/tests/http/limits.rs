//! Log-in limits (issue 8, finding 8): per client address over all user names, and per
//! (address, account) so that a stranger cannot lock the owner out. Clients on other loopback
//! addresses (127.0.0.2, 127.0.0.3) stand for other machines.

use std::net::IpAddr;

use futures::future::join_all;
use serde_json::json;

use crate::helpers::{spawn_app, Backend, TestApp, PASSWORD};

fn client_at(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn login(
    app: &TestApp,
    client: &reqwest::Client,
    user: &str,
    password: &str,
) -> reqwest::RequestBuilder {
    client
        .post(app.url("/auth/login"))
        .json(&json!({"username": user, "password": password}))
}

fn retry_after(reply: &crate::helpers::Reply) -> u64 {
    reply
        .headers
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_trying_many_user_names_meets_a_limit() {
    let app = spawn_app(Backend::Sqlite).await;
    let attacker = client_at("127.0.0.3");
    // 20 failures over 20 different names, none of them five times.
    let replies = join_all((0..20).map(|i| {
        app.send(login(
            &app,
            &attacker,
            &format!("guess.{i}"),
            "wrong-password",
        ))
    }))
    .await;
    assert!(
        replies.iter().all(|r| r.status == 401),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    // The 21st attempt from that address waits, whatever the name and even with the right
    // password of a real account.
    let reply = app
        .send(login(&app, &attacker, "auditor.zibo", PASSWORD))
        .await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.body["code"], "auth.rate_limited");
    assert!(reply.content_type().starts_with("application/problem+json"));
    assert!((1..=60).contains(&retry_after(&reply)));
    // Other addresses are not affected.
    let elsewhere = app
        .send(login(&app, &app.client, "auditor.zibo", PASSWORD))
        .await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_failures_do_not_lock_the_owner_out() {
    let app = spawn_app(Backend::Sqlite).await;
    let stranger = client_at("127.0.0.2");
    for _ in 0..5 {
        let reply = app
            .send(login(&app, &stranger, "auditor.zibo", "wrong-password"))
            .await;
        assert_eq!(reply.status, 401);
    }
    let reply = app
        .send(login(&app, &stranger, "auditor.zibo", PASSWORD))
        .await;
    assert_eq!(reply.status, 429, "the stranger waits: {}", reply.body);
    assert!((1..=60).contains(&retry_after(&reply)));
    // The owner, from their own address, logs in.
    let owner = app
        .send(login(&app, &app.client, "auditor.zibo", PASSWORD))
        .await;
    assert_eq!(owner.status, 200, "{}", owner.body);
    // And the owner's own failures count separately from the stranger's.
    let owner_wrong = app
        .send(login(&app, &app.client, "auditor.zibo", "wrong-password"))
        .await;
    assert_eq!(owner_wrong.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_in_to_ones_own_account_does_not_reset_the_address_limit() {
    let app = spawn_app(Backend::Sqlite).await;
    let attacker = client_at("127.0.0.4");
    for (round, guesses) in [10, 9].into_iter().enumerate() {
        // Guesses on other names, then a successful log-in to an account the attacker owns.
        let replies = join_all((0..guesses).map(|i| {
            app.send(login(
                &app,
                &attacker,
                &format!("guess.{round}.{i}"),
                "wrong-password",
            ))
        }))
        .await;
        assert!(replies.iter().all(|r| r.status == 401));
        let own = app
            .send(login(&app, &attacker, "officer.jinan", PASSWORD))
            .await;
        assert_eq!(own.status, 200, "round {round}: {}", own.body);
    }
    // The 20th failure is still answered; then the address waits.
    let twentieth = app
        .send(login(&app, &attacker, "guess.last", "wrong-password"))
        .await;
    assert_eq!(twentieth.status, 401);
    let reply = app
        .send(login(&app, &attacker, "officer.jinan", PASSWORD))
        .await;
    assert_eq!(reply.status, 429, "{}", reply.body);
}
