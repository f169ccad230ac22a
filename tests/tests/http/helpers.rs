//! `spawn_app`: the real application on port 0 over a fresh store, with test accounts.

use std::collections::HashMap;

use api::http::auth::{Accounts, Role};
use api::http::{Application, CancellationToken, HttpSettings};
use api::Engine;
use domain::JurisdictionCode;
use serde_json::Value;
use workflows::programme::ProgrammeRegistry;

pub const PASSWORD: &str = "correct-horse-battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// Test accounts: (name, role, grant). Yiyuan county 370323 lies in Zibo city 370300; Jinan
/// 370100 is outside both.
pub const ACCOUNTS: &[(&str, Role, &str)] = &[
    ("officer.yiyuan", Role::Officer, "370323"),
    ("officer.jinan", Role::Officer, "370100"),
    ("supervisor.zibo", Role::Supervisor, "370300"),
    ("supervisor.jinan", Role::Supervisor, "370100"),
    ("auditor.zibo", Role::Auditor, "370300"),
    ("auditor.jinan", Role::Auditor, "370100"),
    ("admin", Role::Admin, ""),
];

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub engine: Engine,
    pub tokens: HashMap<&'static str, String>,
    pub backend: Backend,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_string())
}

/// A fresh, uniquely named PostgreSQL database; panics with a clear message when PostgreSQL
/// cannot be reached (a missing service is a failure, not a skip).
async fn fresh_postgres() -> String {
    use sqlx::Connection;
    let base = database_url();
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is required for these tests (TEST_DATABASE_URL={base}): {e}")
        });
    let name = format!("http_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .expect("create the test database");
    let (prefix, _) = base.rsplit_once('/').expect("a database URL with a path");
    format!("{prefix}/{name}")
}

/// A temporary directory and the URL of a fresh, empty store of `backend`'s kind (a SQLite file
/// in the directory, or a new PostgreSQL database).
async fn fresh_store(backend: Backend) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match backend {
        Backend::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("subsidy.db").display()
        ),
        Backend::Postgres => fresh_postgres().await,
    };
    (dir, url)
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, false).await
}

/// [`spawn_app`] with `HttpSettings::tls` set as given.
pub async fn spawn_app_with(backend: Backend, tls: bool) -> TestApp {
    let (dir, url) = fresh_store(backend).await;
    spawn_app_on(backend, &url, dir, tls).await
}

/// The application over the store at `url` (a database of `backend`'s kind), with the test
/// accounts created and logged in.
pub async fn spawn_app_on(
    backend: Backend,
    url: &str,
    dir: tempfile::TempDir,
    tls: bool,
) -> TestApp {
    let settings = HttpSettings {
        tls,
        ..Default::default()
    };
    spawn_app_with_settings(backend, url, dir, settings).await
}

/// [`spawn_app_on`] with the given settings (its listen address and workers are the tests').
pub async fn spawn_app_with_settings(
    backend: Backend,
    url: &str,
    dir: tempfile::TempDir,
    settings: HttpSettings,
) -> TestApp {
    let store = store::Store::connect(url).await.expect("open the store");
    spawn_app_over(backend, store, dir, settings).await
}

/// The application over a fresh store whose events are stamped by `clock` (`recorded_at`).
pub async fn spawn_app_with_clock(backend: Backend, clock: store::FixedClock) -> TestApp {
    let (dir, url) = fresh_store(backend).await;
    let store = store::Store::connect(&url)
        .await
        .expect("open the store")
        .with_clock(std::sync::Arc::new(clock));
    spawn_app_over(backend, store, dir, HttpSettings::default()).await
}

/// [`spawn_app_with_settings`] over an open store.
pub async fn spawn_app_over(
    backend: Backend,
    store: store::Store,
    dir: tempfile::TempDir,
    settings: HttpSettings,
) -> TestApp {
    spawn_app_with_programmes(backend, store, dir, settings, ProgrammeRegistry::builtin()).await
}

/// The application on a fresh store of `backend`'s kind, with `programmes` instead of the
/// shipped definitions alone.
pub async fn spawn_app_with_registry(backend: Backend, programmes: ProgrammeRegistry) -> TestApp {
    let (dir, url) = fresh_store(backend).await;
    let store = store::Store::connect(&url).await.expect("open the store");
    spawn_app_with_programmes(backend, store, dir, HttpSettings::default(), programmes).await
}

/// [`spawn_app_over`] with the given programme definitions.
pub async fn spawn_app_with_programmes(
    backend: Backend,
    store: store::Store,
    dir: tempfile::TempDir,
    settings: HttpSettings,
    programmes: ProgrammeRegistry,
) -> TestApp {
    let engine = Engine::with_store(store, programmes);
    let accounts = Accounts::new(&engine.store);
    for (name, role, grant) in ACCOUNTS {
        let grants: Vec<JurisdictionCode> = if grant.is_empty() {
            vec![]
        } else {
            vec![JurisdictionCode::parse(grant).unwrap()]
        };
        accounts
            .create_user(name, PASSWORD, *role, &grants)
            .await
            .expect("create a test account");
    }
    let settings = HttpSettings {
        listen: "127.0.0.1:0".to_string(),
        workers: Some(2),
        ..settings
    };
    let app = Application::build(engine.clone(), &settings)
        .await
        .expect("build the app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let mut tokens = HashMap::new();
    for (name, _, _) in ACCOUNTS {
        let response = client
            .post(format!("{base}/auth/login"))
            .json(&serde_json::json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .expect("log in");
        assert_eq!(response.status(), 200, "log-in of {name}");
        let body: Value = response.json().await.unwrap();
        tokens.insert(*name, body["token"].as_str().unwrap().to_string());
    }
    TestApp {
        base,
        client,
        engine,
        tokens,
        backend,
        shutdown,
        _dir: dir,
    }
}

/// A status, headers and JSON body.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn etag(&self) -> Option<String> {
        self.headers
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string())
    }

    pub fn content_type(&self) -> String {
        self.headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, user: &str, path: &str) -> Reply {
        self.send(
            self.client
                .get(self.url(path))
                .bearer_auth(&self.tokens[user]),
        )
        .await
    }

    pub async fn post(&self, user: &str, path: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(&self.tokens[user])
                .json(body),
        )
        .await
    }

    /// Posts and asserts success, returning the body.
    pub async fn ok(&self, user: &str, path: &str, body: Value) -> Value {
        let reply = self.post(user, path, &body).await;
        assert!(
            reply.status == 200 || reply.status == 201,
            "POST {path} as {user} on {:?}: {} {}",
            self.backend,
            reply.status,
            reply.body
        );
        reply.body
    }

    /// Registers a project in `jurisdiction` as the given officer; returns its id.
    pub async fn register(&self, officer: &str, programme: &str, jurisdiction: &str) -> String {
        let body = self
            .ok(
                officer,
                "/projects",
                serde_json::json!({
                    "name": "测试项目",
                    "programme_id": programme,
                    "programme_version": 1,
                    "jurisdiction": jurisdiction,
                    "registered_on": registered_on(programme),
                    "evidence": [{"title": "立项通知", "reference": "示例文〔2021〕1号"}]
                }),
            )
            .await;
        body["project_id"].as_str().unwrap().to_string()
    }

    /// `GET /projects?{query}` as `user`, reading its own writes: it asks for the store's last
    /// position as `min_position`.
    pub async fn list(&self, user: &str, query: &str) -> Reply {
        let position = self.last_position().await;
        let sep = if query.is_empty() { "" } else { "&" };
        self.get(
            user,
            &format!("/projects?{query}{sep}min_position={position}"),
        )
        .await
    }

    /// Submits the fixture plan of a 2021 village project as `officer.yiyuan` (7 June 2021) and
    /// approves it as `supervisor.zibo` (9 June): the project can then receive funds.
    pub async fn approve_village_plan(&self, id: &str) {
        let programme = domain::fixtures::VILLAGES_2021;
        let on = chrono::NaiveDate::from_ymd_opt(2021, 6, 7).unwrap();
        self.ok(
            "officer.yiyuan",
            &format!("/projects/{id}/plan"),
            serde_json::json!({"submitted_on": "2021-06-07",
                "form": domain::fixtures::plan_form(programme, "示例镇", on)}),
        )
        .await;
        self.ok(
            "supervisor.zibo",
            &format!("/projects/{id}/review"),
            serde_json::json!({"reviewed_on": "2021-06-09", "decision": {"decision": "approve"}}),
        )
        .await;
    }

    pub async fn last_position(&self) -> i64 {
        self.engine.store.last_position().await.unwrap()
    }

    /// Runs one SQL statement (`?` placeholders are not supported: inline the values) on the
    /// app's database, simulating what a crash or an operator leaves behind; returns the number
    /// of rows touched.
    pub async fn sql(&self, sql: &str) -> u64 {
        let store = &self.engine.store;
        match (store.pool_sqlite(), store.pool_postgres()) {
            (Some(pool), _) => sqlx::query(sql)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            (_, Some(pool)) => sqlx::query(sql)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            _ => unreachable!("a store has one pool"),
        }
        .unwrap_or_else(|e| panic!("SQL failed: {sql}: {e}"))
    }

    /// The text value of the first column of the first row `sql` returns.
    pub async fn sql_text(&self, sql: &str) -> String {
        let store = &self.engine.store;
        match (store.pool_sqlite(), store.pool_postgres()) {
            (Some(pool), _) => sqlx::query_scalar(sql).fetch_one(pool).await,
            (_, Some(pool)) => sqlx::query_scalar(sql).fetch_one(pool).await,
            _ => unreachable!("a store has one pool"),
        }
        .unwrap_or_else(|e| panic!("SQL failed: {sql}: {e}"))
    }

    /// The stored events of one project.
    pub async fn events(&self, id: &str) -> Vec<store::StoredEvent> {
        self.engine
            .store
            .read_stream("SubsidyProject", id)
            .await
            .unwrap()
    }
}

pub fn registered_on(programme: &str) -> &'static str {
    match programme {
        domain::fixtures::LOCKERS_2017 => "2017-05-24",
        domain::fixtures::VILLAGES_2021 => "2021-06-03",
        _ => "2025-03-03",
    }
}
