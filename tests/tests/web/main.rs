//! The web pages in a real headless Chromium (Debian's `chromium` and `chromium-driver`,
//! installed by `scripts/test.sh`), driven over WebDriver with fantoccini, against the real
//! server over the demo data set on a fresh SQLite store, exactly as `subsidy serve` starts on
//! an empty data directory.
//!
//! Screenshots (both languages, 1280 and 390 pixels wide, full page) land in
//! `target/test-output/screenshots/`; every page visited is checked for browser console errors
//! (a CSP violation is one).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use api::http::auth::{Accounts, Role};
use api::http::{Application, CancellationToken, HttpSettings};
use api::Engine;
use domain::JurisdictionCode;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use workflows::programme::ProgrammeRegistry;

const DEMO_PASSWORD: &str = api::http::bootstrap::DEMO_PASSWORD;
/// An officer of another county (淄川区, 370302), created by the test.
const OTHER_OFFICER: &str = "officer.zichuan";

struct Server {
    base: String,
    engine: Engine,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// `subsidy serve` on a fresh data directory: demo accounts and demo data, then the server.
async fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("subsidy.db").display()
    );
    let store = store::Store::connect(&url).await.expect("open the store");
    let engine = Engine::with_store(store, ProgrammeRegistry::builtin());
    api::http::bootstrap::first_start(&engine)
        .await
        .expect("load the demo data");
    Accounts::new(&engine.store)
        .create_user(
            OTHER_OFFICER,
            DEMO_PASSWORD,
            Role::Officer,
            &[JurisdictionCode::parse("370302").unwrap()],
        )
        .await
        .expect("create the other county's officer");
    let settings = HttpSettings {
        listen: "127.0.0.1:0".into(),
        workers: Some(2),
        ..Default::default()
    };
    let app = Application::build(engine.clone(), &settings)
        .await
        .expect("start the server");
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    Server {
        base,
        engine,
        shutdown,
        _dir: dir,
    }
}

/// chromedriver on a free 127.0.0.1 port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver leads its own process group: ending the group also ends a Chromium
        // left open by a test that failed before closing its session. kill(2) on the negated
        // group id, checked to be a real group (> 1): a wrong argument to kill(1) can mean
        // "every process" (-1), which once took the whole machine down.
        let group = self.child.id() as libc::pid_t;
        if group > 1 {
            // SAFETY: kill(2) with a negative pid signals that process group only.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let mut child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("chromedriver is required for the page tests (apt-get install chromium chromium-driver; scripts/test.sh does it): {binary}: {e}")
        });
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Driver { child, url };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromedriver did not listen on port {port} within 10 s");
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": binary,
            "args": ["--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--lang=zh-CN"],
        }),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("open a Chromium session")
}

/// The browser console since the last call (chromedriver's log endpoint).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// Fails on any console error or warning (a CSP violation is logged as an error).
async fn assert_clean_console(c: &Client, page: &str) {
    let log = c.issue_cmd(BrowserLog).await.expect("read the browser log");
    let bad: Vec<&Value> = log
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| matches!(e["level"].as_str(), Some("SEVERE") | Some("WARNING")))
                .collect()
        })
        .unwrap_or_default();
    assert!(bad.is_empty(), "console errors on {page}: {bad:#?}");
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("test-output/screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    dir
}

/// A full-page PNG of the current page at `width` pixels (the window is made as tall as the
/// page), saved as `name-width.png`.
async fn shot(c: &Client, name: &str, width: u32) {
    c.set_window_size(width, 900).await.expect("resize");
    let height = c
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .expect("page height")
        .as_u64()
        .unwrap_or(900)
        .clamp(600, 8000) as u32;
    c.set_window_size(width, height + 120)
        .await
        .expect("resize");
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(screenshot_dir().join(format!("{name}-{width}.png")), png).expect("save");
    c.set_window_size(1280, 900).await.expect("resize back");
}

/// axe-core (npm, vendored with its licence in `tests/vendor/axe-core/`).
const AXE: &str = include_str!("../../vendor/axe-core/axe.min.js");

/// Runs axe-core on the current page (injected over WebDriver: the page's CSP does not apply
/// to scripts the driver runs) and fails on any violation of impact serious or critical,
/// naming each rule and the elements it found.
async fn assert_accessible(c: &Client, page: &str) {
    c.execute(&format!("{AXE}\nreturn typeof axe;"), vec![])
        .await
        .expect("inject axe-core");
    let found = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document, { resultTypes: ['violations'] })
                 .then(r => done({ version: axe.version, violations: r.violations.map(v => ({
                     id: v.id, impact: v.impact, help: v.help,
                     nodes: v.nodes.map(n => ({ target: n.target, html: n.html, summary: n.failureSummary })) })) }))
                 .catch(e => done({ error: String(e) }));"#,
            vec![],
        )
        .await
        .expect("run axe-core");
    assert!(
        found["error"].is_null(),
        "axe-core failed on {page}: {found}"
    );
    let all = found["violations"]
        .as_array()
        .unwrap_or_else(|| panic!("axe-core answered its violations on {page}: {found}"));
    let serious: Vec<&Value> = all
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious") | Some("critical")))
        .collect();
    let report = |list: &[&Value]| {
        list.iter()
            .map(|v| {
                let nodes = v["nodes"]
                    .as_array()
                    .map(|n| {
                        n.iter()
                            .map(|n| {
                                format!("    {} {}\n      {}", n["target"], n["html"], n["summary"])
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default();
                format!("  {} ({}): {}\n{nodes}", v["id"], v["impact"], v["help"])
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        serious.is_empty(),
        "axe-core {} finds serious or critical accessibility violations on {page}:\n{}",
        found["version"],
        report(&serious)
    );
    if !all.is_empty() {
        let minor: Vec<&Value> = all.iter().collect();
        eprintln!(
            "axe-core: minor or moderate findings on {page}:\n{}",
            report(&minor)
        );
    }
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element {css}: {e}"))
        .text()
        .await
        .expect("element text")
}

async fn html_lang(c: &Client) -> String {
    c.execute("return document.documentElement.lang;", vec![])
        .await
        .expect("lang")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn log_in(c: &Client, base: &str, user: &str) {
    c.goto(&format!("{base}/ui/login"))
        .await
        .expect("open the log-in page");
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(DEMO_PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Id("login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("who"))
        .await
        .unwrap_or_else(|e| panic!("{user} did not get in: {e}"));
    assert!(
        text(c, "#who").await.contains(user),
        "the header names {user}"
    );
}

async fn log_out(c: &Client) {
    c.find(Locator::Css("#who button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("login-form"))
        .await
        .expect("back at the log-in page");
}

/// The status code of a page as the server answers it (the browser does not expose it).
async fn status_of(server: &Server, c: &Client, path: &str) -> u16 {
    let cookie = c
        .get_named_cookie("subsidy_session")
        .await
        .expect("session cookie");
    reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .header("Cookie", format!("subsidy_session={}", cookie.value()))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// The dashboard's count of overdue checkpoints (0 when it shows none).
async fn overdue_total(c: &Client) -> usize {
    match c.find(Locator::Id("overdue-total")).await {
        Ok(e) => e.text().await.unwrap().parse().expect("a count"),
        Err(_) => 0,
    }
}

/// A project of the demo county in construction (it takes progress reports).
async fn construction_project(server: &Server) -> String {
    project_in(server, "construction").await
}

/// A project of the demo county in `stage`, not suspended.
async fn project_in(server: &Server, stage: &str) -> String {
    let list = reqwest::Client::new();
    let token: Value = list
        .post(format!("{}/auth/login", server.base))
        .json(&json!({"username": "officer.yiyuan", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page: Value = list
        .get(format!(
            "{}/projects?jurisdiction=370323&stage={stage}&sort=name",
            server.base
        ))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["suspended"] == false))
        .and_then(|p| p["id"].as_str())
        .unwrap_or_else(|| panic!("the demo county has a project in {stage}, not suspended"))
        .to_string()
}

async fn project_version(server: &Server, id: &str) -> usize {
    server.engine.load(id).await.expect("load the project").1
}

/// Fills every box of the generated form with a plausible value (numbers 3, dates today,
/// text, the first real option) — whatever the programme's schema asked for.
async fn fill_generated_form(c: &Client, today: &str) {
    let script = r#"
        const today = arguments[0];
        for (const el of document.querySelectorAll('#step-form input, #step-form select')) {
          if (el.type === 'hidden' || el.type === 'submit' || !el.name.startsWith('/form')) continue;
          if (el.tagName === 'SELECT') { if (el.options.length > 1) el.selectedIndex = 1; continue; }
          if (el.type === 'checkbox') { el.checked = true; continue; }
          if (el.type === 'date') { el.value = today; continue; }
          if (el.inputMode === 'numeric' || el.inputMode === 'decimal') { el.value = '3'; continue; }
          el.value = '浏览器测试填写';
        }
        document.getElementById('f-period').value = '2026-12';
        return true;"#;
    c.execute(script, vec![json!(today)])
        .await
        .expect("fill the form");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_a_real_browser() {
    let server = start_server().await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    let base = server.base.clone();
    let today = api::reminders::shanghai_today(chrono::Utc::now()).to_string();

    // Not logged in: every page leads to the log-in page; `/` leads to the pages.
    c.goto(&format!("{base}/")).await.unwrap();
    c.wait()
        .for_element(Locator::Id("login-form"))
        .await
        .expect("the log-in page");
    assert_eq!(html_lang(&c).await, "zh-CN", "Chinese by default");
    assert_accessible(&c, "log-in page").await;
    shot(&c, "login-zh", 1280).await;
    shot(&c, "login-zh", 390).await;

    // A wrong password: an error on the page, still logged out.
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys("officer.yiyuan")
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("wrong-password")
        .await
        .unwrap();
    c.find(Locator::Id("login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let failure = text(&c, "#login-error").await;
    assert!(failure.contains("用户名或密码错误"), "{failure}");
    // The console check sees what the browser logs: the refused log-in's 401 is there.
    let log = c.issue_cmd(BrowserLog).await.expect("read the browser log");
    assert!(
        log.to_string().contains("401"),
        "the browser log is read (it holds the refused log-in's 401): {log}"
    );

    // The county officer: the dashboard of 370323.
    log_in(&c, &base, "officer.yiyuan").await;
    assert_clean_console(&c, "dashboard").await;
    assert_accessible(&c, "dashboard").await;
    assert_eq!(text(&c, "#scope").await, "沂源县 370323");
    let who = text(&c, "#who").await;
    assert!(who.contains("经办人员") && who.contains("370323"), "{who}");
    let total: i64 = text(&c, "#total-projects").await.parse().unwrap();
    assert!(total > 0, "the demo county has projects");
    let timing = c
        .execute(
            "const n = performance.getEntriesByType('navigation')[0];\
             return [n.responseStart - n.requestStart, n.loadEventEnd - n.startTime];",
            vec![],
        )
        .await
        .expect("navigation timing");
    eprintln!(
        "dashboard of 370323 ({total} projects): server {} ms (request → first byte), browser load {} ms",
        timing[0], timing[1]
    );
    shot(&c, "dashboard-zh", 1280).await;
    shot(&c, "dashboard-zh", 390).await;

    // The language switch, kept across pages.
    c.find(Locator::Id("lang-switch"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("scope")).await.unwrap();
    assert_eq!(html_lang(&c).await, "en");
    assert!(text(&c, "h1").await.contains("Dashboard"));
    assert!(text(&c, "#who").await.contains("Officer"));
    assert_accessible(&c, "English dashboard").await;
    shot(&c, "dashboard-en", 1280).await;
    shot(&c, "dashboard-en", 390).await;
    c.goto(&format!("{base}/ui/projects")).await.unwrap();
    assert_eq!(html_lang(&c).await, "en", "the choice is kept");
    shot(&c, "projects-en", 1280).await;
    c.find(Locator::Id("lang-switch"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("project-list"))
        .await
        .unwrap();
    assert_eq!(html_lang(&c).await, "zh-CN");
    assert_accessible(&c, "project list").await;
    shot(&c, "projects-zh", 1280).await;
    c.find(Locator::Id("new-project"))
        .await
        .expect("the officer is offered the registration form")
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("register-form"))
        .await
        .unwrap();
    assert_accessible(&c, "registration form").await;
    assert_clean_console(&c, "registration form").await;
    shot(&c, "register-zh", 390).await;
    c.back().await.unwrap();
    c.wait()
        .for_element(Locator::Id("project-list"))
        .await
        .unwrap();
    shot(&c, "projects-zh", 390).await;
    assert_clean_console(&c, "project list").await;

    // A project in construction: its page, then the generated progress-report form.
    let id = construction_project(&server).await;
    c.goto(&format!("{base}/ui/")).await.unwrap();
    let overdue_before = overdue_total(&c).await;
    c.goto(&format!("{base}/ui/projects/{id}")).await.unwrap();
    assert!(text(&c, "#stage").await.starts_with("建设实施"));
    assert!(!text(&c, "#timeline").await.is_empty(), "a timeline");
    assert!(
        text(&c, "#timeline").await.contains("officer.yiyuan"),
        "with actors"
    );
    assert_clean_console(&c, "project page").await;
    assert_accessible(&c, "project page").await;
    shot(&c, "project-zh", 1280).await;
    shot(&c, "project-zh", 390).await;
    let version_before = project_version(&server, &id).await;
    c.find(Locator::Css("a[href$='/steps/report']"))
        .await
        .expect("the officer is offered the progress report")
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("step-form"))
        .await
        .unwrap();
    assert_clean_console(&c, "report form").await;
    assert_accessible(&c, "progress report form").await;

    // A wrong figure: the error beside its field, in Chinese, and nothing stored.
    fill_generated_form(&c, &today).await;
    let first_integer = c
        .execute(
            "const el = document.querySelector('#step-form input[inputmode=numeric]');\
             el.value = '-1'; return el.id;",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .expect("the report form has an integer box")
        .to_string();
    c.find(Locator::Id("step-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("form-failed"))
        .await
        .expect("the form is refused");
    let beside = text(&c, &format!("#{first_integer}-error")).await;
    assert_eq!(beside, "不得小于 0", "the error beside the field");
    let field = c.find(Locator::Id(&first_integer)).await.unwrap();
    assert_eq!(
        field.prop("value").await.unwrap().as_deref(),
        Some("-1"),
        "what was typed stays"
    );
    assert_eq!(
        project_version(&server, &id).await,
        version_before,
        "a refused form stores nothing"
    );
    assert_accessible(&c, "refused progress report form").await;
    shot(&c, "form-error-zh", 1280).await;
    shot(&c, "form-error-zh", 390).await;
    let _ = c.issue_cmd(BrowserLog).await; // the 422 answer is expected

    // Corrected: stored, back on the project page with the new report.
    c.execute(
        &format!("document.getElementById('{first_integer}').value = '3'; return true;"),
        vec![],
    )
    .await
    .unwrap();
    c.find(Locator::Id("step-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("reports"))
        .await
        .expect("back on the project page");
    assert!(c
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains("min_position="));
    assert!(
        text(&c, "#reports").await.contains("2026-12"),
        "the new report shows"
    );
    assert_eq!(project_version(&server, &id).await, version_before + 1);
    assert!(text(&c, "#timeline").await.contains("officer.yiyuan"));
    assert_clean_console(&c, "project page after the report").await;

    // The same pages in English.
    c.find(Locator::Id("lang-switch"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("reports")).await.unwrap();
    assert_eq!(html_lang(&c).await, "en");
    assert_eq!(text(&c, "#stage").await, "Construction");
    shot(&c, "project-en", 1280).await;
    shot(&c, "project-en", 390).await;
    c.goto(&format!("{base}/ui/projects/{id}/steps/report"))
        .await
        .unwrap();
    assert!(text(&c, "h1").await.contains("progress report"));
    shot(&c, "form-en", 1280).await;
    shot(&c, "form-en", 390).await;
    assert_clean_console(&c, "English pages").await;
    c.find(Locator::Id("lang-switch"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("step-form"))
        .await
        .unwrap();
    assert_eq!(html_lang(&c).await, "zh-CN");

    // The dashboard: the report meets the project's open report slots.
    c.goto(&format!("{base}/ui/")).await.unwrap();
    let overdue_after = overdue_total(&c).await;
    assert!(
        overdue_after < overdue_before,
        "the report meets the project's overdue report slots (late): the dashboard's overdue \
         count goes from {overdue_before} to {overdue_after}"
    );

    // "As of" the registration day: the state then, no forms.
    c.goto(&format!("{base}/ui/projects/{id}?as_of=2000-01-01"))
        .await
        .unwrap();
    let missing = c.find(Locator::Id("error-detail")).await;
    assert!(
        missing.is_ok(),
        "before its registration the project did not exist"
    );
    c.goto(&format!("{base}/ui/projects/{id}?as_of={today}"))
        .await
        .unwrap();
    assert!(
        c.find(Locator::Id("actions")).await.is_err(),
        "no forms in an as-of view"
    );
    assert!(text(&c, "#as-of-note").await.contains(&today));
    log_out(&c).await;

    // An officer of another county: the project page is a 404.
    log_in(&c, &base, OTHER_OFFICER).await;
    assert_eq!(
        status_of(&server, &c, &format!("/ui/projects/{id}")).await,
        404
    );
    c.goto(&format!("{base}/ui/projects/{id}")).await.unwrap();
    assert!(text(&c, "h1").await.contains("未找到"));
    assert_eq!(
        status_of(&server, &c, &format!("/ui/projects/{id}/steps/report")).await,
        404,
        "nor its form"
    );
    let _ = c.issue_cmd(BrowserLog).await; // the 404 is the point
    log_out(&c).await;

    // The auditor: reads the project, is offered no step, and cannot open a form.
    log_in(&c, &base, "auditor.province").await;
    c.goto(&format!("{base}/ui/projects/{id}")).await.unwrap();
    assert_eq!(text(&c, "#stage").await, "建设实施");
    assert!(
        c.find_all(Locator::Css("#actions a"))
            .await
            .unwrap()
            .is_empty(),
        "no forms"
    );
    assert!(c
        .find_all(Locator::Css("form[method=post]:not(.inline)"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        status_of(&server, &c, &format!("/ui/projects/{id}/steps/report")).await,
        403
    );
    assert_clean_console(&c, "auditor's project page").await;
    c.goto(&format!("{base}/ui/reminders")).await.unwrap();
    assert_clean_console(&c, "reminder log").await;
    assert_accessible(&c, "reminder log").await;
    shot(&c, "reminders-zh", 1280).await;
    // The compliance report: the clean demo data has no finance finding; its overdue
    // deadlines are deadline findings, each with its proving events.
    c.goto(&format!("{base}/ui/audit/findings")).await.unwrap();
    assert_eq!(
        text(&c, "#finance-count").await,
        "0",
        "no finance finding in the demo"
    );
    let deadline: usize = text(&c, "#deadline-count").await.parse().unwrap();
    assert!(deadline > 0, "the demo's overdue deadlines are findings");
    let rows = c
        .find_all(Locator::Css("#findings tbody tr.deadline"))
        .await
        .unwrap();
    assert_eq!(rows.len(), deadline.min(300));
    let first_events = c
        .find_all(Locator::Css("#findings tbody tr:first-child li.hash"))
        .await
        .unwrap();
    assert!(!first_events.is_empty(), "a finding names its events");
    assert_clean_console(&c, "compliance findings").await;
    assert_accessible(&c, "compliance findings").await;
    shot(&c, "findings-zh", 1280).await;
    c.goto(&format!("{base}/ui/?j=370300")).await.unwrap();
    assert_eq!(
        text(&c, "#scope").await,
        "淄博市 370300",
        "drill-down to a city"
    );
    log_out(&c).await;

    // The admin: the accounts page.
    log_in(&c, &base, "admin").await;
    c.wait()
        .for_element(Locator::Id("accounts"))
        .await
        .expect("the admin lands on accounts");
    assert!(text(&c, "#accounts").await.contains("officer.yiyuan"));
    assert_clean_console(&c, "accounts").await;
    assert_accessible(&c, "accounts").await;
    shot(&c, "accounts-zh", 1280).await;

    c.close().await.expect("close the browser");
}

/// The pages' headers: the CSP forbids inline scripts and styles and framing; no page is cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_the_security_headers_and_check_csrf() {
    let server = start_server().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .get(format!("{}/ui/login", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let h = login.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let page = login.text().await.unwrap();
    assert!(
        !page.contains("<script") && !page.contains("style="),
        "no inline script or style"
    );

    // Not logged in: a redirect to the log-in page.
    let r = client
        .get(format!("{}/ui/projects", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/ui/login"));
    let css = client
        .get(format!("{}/ui/static/app.css", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));

    // Log-in CSRF: a log-in form posted without the token of a form this site drew (as a
    // page of another site would post it) is refused and opens no session; with a token
    // that is not the cookie's, too.
    for (cookie, token) in [
        (None, None),
        (None, Some("0".repeat(32))),
        (Some("a".repeat(32)), Some("b".repeat(32))),
    ] {
        let mut post = client.post(format!("{}/ui/login", server.base));
        if let Some(cookie) = &cookie {
            post = post.header("Cookie", format!("subsidy_login={cookie}"));
        }
        let mut fields = vec![
            ("username", "officer.yiyuan".to_string()),
            ("password", DEMO_PASSWORD.to_string()),
            ("next", "/ui/".to_string()),
        ];
        if let Some(token) = token {
            fields.push(("login_token", token));
        }
        let r = post.form(&fields).send().await.unwrap();
        assert_eq!(r.status(), 403, "a log-in without its form token");
        assert!(r.cookies().all(|c| c.name() != "subsidy_session"));
        let page = r.text().await.unwrap();
        assert!(
            page.contains("id=\"login-error\"") && page.contains("已过期"),
            "{page}"
        );
    }

    // Logged in through the form: a form post without the session's CSRF token is refused
    // and stores nothing.
    let (cookie, token) = login_form_token(&client, &server).await;
    let r = client
        .post(format!("{}/ui/login", server.base))
        .header("Cookie", format!("subsidy_login={cookie}"))
        .form(&[
            ("username", "officer.yiyuan"),
            ("password", DEMO_PASSWORD),
            ("next", "/ui/"),
            ("login_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .cookies()
        .find(|c| c.name() == "subsidy_session")
        .expect("a session cookie")
        .value()
        .to_string();
    // The dashboard offers every annex table for the user's jurisdiction, and the links
    // download the spreadsheets with the same session.
    let dashboard = client
        .get(format!("{}/ui/", server.base))
        .header("Cookie", format!("subsidy_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in ["000-1", "000-2", "000-3", "000-4", "002-townships"] {
        for format in ["xlsx", "csv"] {
            // The page escapes `&` in attributes (askama writes `&#38;`).
            let href = format!("/exports/annex/{name}?format={format}&#38;jurisdiction=370323");
            assert!(dashboard.contains(&href), "the dashboard links {href}");
        }
    }
    let xlsx = client
        .get(format!(
            "{}/exports/annex/002-townships?format=xlsx&jurisdiction=370323",
            server.base
        ))
        .header("Cookie", format!("subsidy_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), 200);
    assert_eq!(
        xlsx.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        xlsx.bytes().await.unwrap().starts_with(b"PK"),
        "an XLSX (zip) file"
    );

    let id = construction_project(&server).await;
    let before = project_version(&server, &id).await;
    let r = client
        .post(format!("{}/ui/projects/{id}/steps/report", server.base))
        .header("Cookie", format!("subsidy_session={session}"))
        .form(&[
            ("csrf_token", "not-the-token"),
            ("period", "2026-12"),
            ("date", "2026-12-01"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        project_version(&server, &id).await,
        before,
        "nothing stored"
    );

    // A step whose form is the API's own request body (drawn from its OpenAPI schema): a wrong
    // value is refused beside its field by the same checks as the API, then a right one lands.
    let (session, csrf) = form_login(&client, &server, "officer.yiyuan").await;
    let cookie = format!("subsidy_session={session}");
    let page = client
        .get(format!("{}/ui/projects/{id}/steps/official", server.base))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let form = page.text().await.unwrap();
    for field in [
        "name=\"/role\"",
        "name=\"/official/name\"",
        "name=\"/official/email\"",
    ] {
        assert!(form.contains(field), "the generated form has {field}");
    }
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let mut all = vec![
            ("csrf_token", csrf.clone()),
            ("idempotency_key", uuid::Uuid::new_v4().to_string()),
        ];
        all.extend(fields.into_iter().map(|(k, v)| (k, v.to_string())));
        client
            .post(format!("{}/ui/projects/{id}/steps/official", server.base))
            .header("Cookie", &cookie)
            .form(&all)
            .send()
    };
    let refused = post(vec![
        ("/role", "liaison"),
        ("/official/name", "王示例"),
        ("/official/post", "科员"),
        ("/official/email", "not-an-address"),
    ])
    .await
    .unwrap();
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("class=\"error general-error\"") && text.contains("not-an-address"),
        "a refusal without a field pointer is shown above the form: {text}"
    );
    let refused = post(vec![
        ("/role", "liaison"),
        ("/official/name", "王\n示例"),
        ("/official/post", "科员"),
        ("/official/email", "wang.demo@example.org"),
    ])
    .await
    .unwrap();
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("id=\"f-official-name-error\""),
        "the error is drawn beside the name box: {text}"
    );
    assert_eq!(
        project_version(&server, &id).await,
        before,
        "nothing stored"
    );
    let missing = post(vec![("/role", "liaison")]).await.unwrap();
    assert_eq!(missing.status(), 422);
    assert!(
        missing.text().await.unwrap().contains("必填项"),
        "a missing field is named"
    );
    let stored = post(vec![
        ("/role", "liaison"),
        ("/official/name", "王示例"),
        ("/official/post", "科员"),
        ("/official/email", "wang.demo@example.org"),
    ])
    .await
    .unwrap();
    assert_eq!(stored.status(), 303);
    assert!(stored.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&format!("/ui/projects/{id}?min_position=")));
    assert_eq!(project_version(&server, &id).await, before + 1);

    // The supervisor's plan review: the API's `oneOf` body (approve / return) as one form.
    let (session, csrf) = form_login(&client, &server, "supervisor.zibo").await;
    let cookie = format!("subsidy_session={session}");
    let submitted = project_in(&server, "plan_submitted").await;
    let before = project_version(&server, &submitted).await;
    let review = |fields: Vec<(&'static str, &'static str)>| {
        let mut all = vec![
            ("csrf_token", csrf.clone()),
            ("idempotency_key", uuid::Uuid::new_v4().to_string()),
        ];
        all.extend(fields.into_iter().map(|(k, v)| (k, v.to_string())));
        client
            .post(format!(
                "{}/ui/projects/{submitted}/steps/review",
                server.base
            ))
            .header("Cookie", &cookie)
            .form(&all)
            .send()
    };
    let missing = review(vec![("/decision/decision", "return")])
        .await
        .unwrap();
    assert_eq!(missing.status(), 422, "no review date, no reasons");
    assert_eq!(project_version(&server, &submitted).await, before);
    let returned = review(vec![
        ("/reviewed_on", "2026-12-01"),
        ("/decision/decision", "return"),
        ("_rows/decision/reasons", "1"),
        ("/decision/reasons/0", "选址材料不全"),
    ])
    .await
    .unwrap();
    assert_eq!(returned.status(), 303);
    let (project, _) = server.engine.load(&submitted).await.unwrap();
    assert_eq!(project.stage, domain::Stage::PlanReturned);
}

/// The idempotency key a drawn step form carries in its hidden field.
fn form_key(page: &str) -> String {
    let start = page
        .find("name=\"idempotency_key\" value=\"")
        .map(|i| i + "name=\"idempotency_key\" value=\"".len())
        .expect("the form carries an idempotency key");
    let key = &page[start..start + page[start..].find('"').expect("a closing quote")];
    uuid::Uuid::parse_str(key).unwrap_or_else(|e| panic!("the key {key:?} is a UUID: {e}"));
    key.to_string()
}

/// The events of a project whose metadata carries `key` (the command path stamps every event
/// a keyed request appends).
async fn events_with_key(server: &Server, id: &str, key: &str) -> usize {
    server
        .engine
        .store
        .read_stream("SubsidyProject", id)
        .await
        .expect("read the project's events")
        .iter()
        .filter(|e| e.metadata.get("idempotency_key").and_then(|v| v.as_str()) == Some(key))
        .count()
}

/// A form sent twice (a double click, a reload of the answer, a resubmit after a lost answer)
/// carries the key drawn with the form, so its command is stored once and both answers lead to
/// the project page; a key is kept while the form only redraws itself and drawn anew after a
/// refusal; a form without a key is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_sent_twice_stores_its_command_once() {
    let server = start_server().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (session, csrf) = form_login(&client, &server, "officer.yiyuan").await;
    let cookie = format!("subsidy_session={session}");
    let id = construction_project(&server).await;
    let url = format!("{}/ui/projects/{id}/steps/official", server.base);
    let draw = || async {
        let page = client
            .get(&url)
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        form_key(&page.text().await.unwrap())
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let mut all = vec![("csrf_token", csrf.clone())];
        all.extend(fields);
        client
            .post(&url)
            .header("Cookie", &cookie)
            .form(&all)
            .send()
    };
    let official = |key: &str, email: &str| {
        vec![
            ("idempotency_key", key.to_string()),
            ("/role", "liaison".to_string()),
            ("/official/name", "王示例".to_string()),
            ("/official/post", "科员".to_string()),
            ("/official/email", email.to_string()),
        ]
    };
    let before = project_version(&server, &id).await;

    // Every drawing of the form has its own key.
    let key = draw().await;
    assert_ne!(key, draw().await, "a fresh key per drawn form");

    // The same body twice, one after the other: one event, the same answer twice.
    let first = send(official(&key, "wang.demo@example.org")).await.unwrap();
    let second = send(official(&key, "wang.demo@example.org")).await.unwrap();
    assert_eq!(first.status(), 303);
    assert_eq!(
        second.status(),
        303,
        "the resubmit is answered, not refused"
    );
    let location = first.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("/ui/projects/{id}?min_position=")),
        "{location}"
    );
    assert_eq!(
        second.headers()["location"].to_str().unwrap(),
        location,
        "both answers lead to the same project page"
    );
    assert_eq!(
        project_version(&server, &id).await,
        before + 1,
        "stored once"
    );
    assert_eq!(events_with_key(&server, &id, &key).await, 1);

    // A double click: both sends at once. One runs the command, the other waits for its answer.
    let key = draw().await;
    let (a, b) = tokio::join!(
        send(official(&key, "li.demo@example.org")),
        send(official(&key, "li.demo@example.org"))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (303, 303));
    assert_eq!(a.headers()["location"], b.headers()["location"]);
    assert_eq!(
        project_version(&server, &id).await,
        before + 2,
        "stored once"
    );
    assert_eq!(events_with_key(&server, &id, &key).await, 1);

    // Redrawn without being sent (a row added to the form): the same key.
    let key = draw().await;
    let mut fields = official(&key, "zhao.demo@example.org");
    fields.push(("_add_row", "/nothing".to_string()));
    let redrawn = send(fields).await.unwrap();
    assert_eq!(redrawn.status(), 200);
    assert_eq!(
        form_key(&redrawn.text().await.unwrap()),
        key,
        "the key is kept"
    );

    // Refused by the command path: the refusal is that key's answer, so the form comes back
    // with a new key, and the corrected form sent with it lands.
    let refused = send(official(&key, "not-an-address")).await.unwrap();
    assert_eq!(refused.status(), 422);
    let next_key = form_key(&refused.text().await.unwrap());
    assert_ne!(next_key, key, "a new key after a refusal");
    let again = send(official(&key, "not-an-address")).await.unwrap();
    assert_eq!(again.status(), 422, "the refusal again, stored nothing");
    assert_eq!(project_version(&server, &id).await, before + 2);
    let corrected = send(official(&next_key, "zhao.demo@example.org"))
        .await
        .unwrap();
    assert_eq!(corrected.status(), 303);
    assert_eq!(project_version(&server, &id).await, before + 3);

    // No key, or one the API would not take: refused, naming the field; nothing stored.
    let mut fields = official("x", "sun.demo@example.org");
    fields.remove(0);
    let missing = send(fields).await.unwrap();
    assert_eq!(missing.status(), 400);
    assert!(missing.text().await.unwrap().contains("idempotency_key"));
    let bad = send(official(&"k".repeat(256), "sun.demo@example.org"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("idempotency_key"));
    assert_eq!(project_version(&server, &id).await, before + 3);
}

/// The registration form and the objection resolution form: each builds the API's body, is
/// refused beside its box by the same checks, and lands through the command path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_and_objection_resolution_through_the_pages() {
    let server = start_server().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (session, csrf) = form_login(&client, &server, "officer.yiyuan").await;
    let cookie = format!("subsidy_session={session}");
    let get = |path: String| {
        client
            .get(format!("{}{path}", server.base))
            .header("Cookie", &cookie)
            .send()
    };
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let mut all = vec![("csrf_token", csrf.clone())];
        all.extend(fields);
        client
            .post(format!("{}{path}", server.base))
            .header("Cookie", &cookie)
            .form(&all)
            .send()
    };

    // The officer's project list links to the registration form.
    let list = get("/ui/projects".into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("href=\"/ui/projects/new\""),
        "a link to register"
    );
    let page = get("/ui/projects/new".into()).await.unwrap();
    assert_eq!(page.status(), 200);
    let form = page.text().await.unwrap();
    let mut programmes = server.engine.programmes().all();
    programmes.sort_by(|a, b| (&a.id, a.version).cmp(&(&b.id, b.version)));
    let programme = format!("{}@{}", programmes[0].id, programmes[0].version);
    // A day the programme registers projects on (its year).
    let day = format!("{}-06-01", programmes[0].year);
    for p in &programmes {
        let choice = format!("<option value=\"{}@{}\"", p.id, p.version);
        assert!(form.contains(&choice), "the registry's {choice} is offered");
    }
    assert!(
        form.contains("value=\"370323\""),
        "the jurisdiction is preset to the user's grant"
    );
    let register = |key: &str, jurisdiction: &str, date: &str| {
        vec![
            ("idempotency_key", key.to_string()),
            ("name", "页面登记示例项目".to_string()),
            ("programme", programme.clone()),
            ("jurisdiction", jurisdiction.to_string()),
            ("registered_on", date.to_string()),
            ("description", "浏览器页面登记".to_string()),
        ]
    };
    let head = server.engine.store.last_position().await.unwrap();

    // Outside the user's grants, or not a date: refused beside the box, nothing stored.
    let key = form_key(&form);
    let outside = post("/ui/projects/new".into(), register(&key, "370302", &day))
        .await
        .unwrap();
    assert_eq!(outside.status(), 422);
    let text = outside.text().await.unwrap();
    assert!(
        text.contains("id=\"f-jurisdiction-error\"") && text.contains("370302"),
        "the refusal is beside the jurisdiction box: {text}"
    );
    let key = form_key(&text);
    let bad_date = post(
        "/ui/projects/new".into(),
        register(&key, "370323", "2026-13-01"),
    )
    .await
    .unwrap();
    assert_eq!(bad_date.status(), 422);
    let text = bad_date.text().await.unwrap();
    assert!(text.contains("id=\"f-registered-on-error\""), "{text}");
    // The date box says which days it takes, and is described by that hint and the error.
    assert!(text.contains("须在所选项目类别的登记期内"), "{text}");
    assert!(
        text.contains("aria-describedby=\"f-registered-on-hint f-registered-on-error\""),
        "{text}"
    );
    assert_eq!(
        form_key(&text),
        key,
        "the key is kept: the command path was not reached"
    );
    assert_eq!(
        server.engine.store.last_position().await.unwrap(),
        head,
        "nothing stored"
    );

    // Right: the new project's page; sent twice, registered once.
    let first = post("/ui/projects/new".into(), register(&key, "370323", &day))
        .await
        .unwrap();
    assert_eq!(first.status(), 303, "{}", first.text().await.unwrap());
    let location = first.headers()["location"].to_str().unwrap().to_string();
    let again = post("/ui/projects/new".into(), register(&key, "370323", &day))
        .await
        .unwrap();
    assert_eq!(again.status(), 303);
    assert_eq!(again.headers()["location"].to_str().unwrap(), location);
    let new_id = location
        .strip_prefix("/ui/projects/")
        .and_then(|rest| rest.split('?').next())
        .expect("the new project's page")
        .to_string();
    let (project, version) = server.engine.load(&new_id).await.unwrap();
    assert_eq!(project.name, "页面登记示例项目");
    assert_eq!(project.stage, domain::Stage::Registered);
    assert_eq!(project.programme_id, programmes[0].id);
    assert_eq!(events_with_key(&server, &new_id, &key).await, version);
    let shown = get(location.clone()).await.unwrap().text().await.unwrap();
    assert!(shown.contains("页面登记示例项目"), "the new project's page");

    // The auditor may not register.
    let (auditor, _) = form_login(&client, &server, "auditor.province").await;
    let refused = client
        .get(format!("{}/ui/projects/new", server.base))
        .header("Cookie", format!("subsidy_session={auditor}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    // The compliance report is for auditors and supervisors, not officers.
    let (officer, _) = form_login(&client, &server, "officer.yiyuan").await;
    let refused = client
        .get(format!("{}/ui/audit/findings", server.base))
        .header("Cookie", format!("subsidy_session={officer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let shown = client
        .get(format!(
            "{}/ui/audit/findings?jurisdiction=370323",
            server.base
        ))
        .header("Cookie", format!("subsidy_session={auditor}"))
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 200);
    assert!(shown.text().await.unwrap().contains("沂源县 370323"));

    // An objection recorded during the notice, then resolved through its own form.
    let id = project_in(&server, "notice").await;
    let (project, _) = server.engine.load(&id).await.unwrap();
    let notice = project
        .notice
        .clone()
        .expect("a project in notice has a notice");
    let raised = post(
        format!("/ui/projects/{id}/steps/objection"),
        vec![
            ("idempotency_key", uuid::Uuid::new_v4().to_string()),
            ("/objection_id", "WEB-001".into()),
            ("/raised_on", notice.starts_on.to_string()),
            ("/raised_by", "村民代表（示例）".into()),
            ("/summary", "快递点营业时间过短".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(raised.status(), 303, "{}", raised.text().await.unwrap());
    let page = get(format!("/ui/projects/{id}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("/ui/projects/{id}/steps/resolution")),
        "an open objection: the resolution is offered"
    );
    let form = get(format!("/ui/projects/{id}/steps/resolution"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("<option value=\"WEB-001\""),
        "the open objection is a choice"
    );
    assert!(form.contains("<option value=\"dismissed\""));
    let resolve = |objection: &str| {
        let mut fields = vec![
            ("idempotency_key", uuid::Uuid::new_v4().to_string()),
            ("/resolved_on", notice.ends_on.to_string()),
            ("/outcome", "dismissed".to_string()),
            ("/resolution", "经核实，异议不成立".to_string()),
        ];
        if !objection.is_empty() {
            fields.push(("/objection_id", objection.to_string()));
        }
        post(format!("/ui/projects/{id}/steps/resolution"), fields)
    };
    let before = project_version(&server, &id).await;
    let missing = resolve("").await.unwrap();
    assert_eq!(missing.status(), 422);
    let text = missing.text().await.unwrap();
    assert!(
        text.contains("id=\"f-objection_id-error\"")
            || text.contains("id=\"f-objection-id-error\""),
        "the missing objection is named beside its box: {text}"
    );
    let unknown = resolve("NO-SUCH").await.unwrap();
    assert_eq!(
        unknown.status(),
        422,
        "the domain refuses an unknown objection"
    );
    assert_eq!(
        project_version(&server, &id).await,
        before,
        "nothing stored"
    );
    let resolved = resolve("WEB-001").await.unwrap();
    assert_eq!(resolved.status(), 303, "{}", resolved.text().await.unwrap());
    let (project, _) = server.engine.load(&id).await.unwrap();
    let objection = &project.notice.as_ref().unwrap().objections["WEB-001"];
    assert_eq!(
        objection.resolution,
        Some((
            domain::commands::ObjectionOutcome::Dismissed,
            "经核实，异议不成立".to_string()
        ))
    );
}

/// Opens the log-in page as a browser would: (its form-token cookie, the form's hidden token).
async fn login_form_token(client: &reqwest::Client, server: &Server) -> (String, String) {
    let r = client
        .get(format!("{}/ui/login", server.base))
        .send()
        .await
        .unwrap();
    let cookie = r
        .cookies()
        .find(|c| c.name() == "subsidy_login")
        .expect("the log-in page sets its form-token cookie")
        .value()
        .to_string();
    let page = r.text().await.unwrap();
    let marker = "name=\"login_token\" value=\"";
    let at = page.find(marker).expect("the form carries its token") + marker.len();
    let token = page[at..].split('"').next().unwrap().to_string();
    assert_eq!(token, cookie, "the form's token is the cookie's");
    (cookie, token)
}

/// Logs in through the form: (session token, CSRF token).
async fn form_login(client: &reqwest::Client, server: &Server, user: &str) -> (String, String) {
    let (cookie, token) = login_form_token(client, server).await;
    let r = client
        .post(format!("{}/ui/login", server.base))
        .header("Cookie", format!("subsidy_login={cookie}"))
        .form(&[
            ("username", user),
            ("password", DEMO_PASSWORD),
            ("next", "/ui/"),
            ("login_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let cookie = |name: &str| {
        r.cookies()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("a {name} cookie"))
            .value()
            .to_string()
    };
    (cookie("subsidy_session"), cookie("subsidy_csrf"))
}
