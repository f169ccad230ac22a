//! The `subsidy` binary as a newcomer uses it: a fresh data directory, the demo, listing,
//! showing and histories, on the embedded SQLite file and on PostgreSQL; bad input gets one
//! clear line and a non-zero exit, never a panic.

use std::path::Path;
use std::process::{Command, Output};

use tests::{Kind, TestDb};

fn subsidy(data_dir: &Path, database_url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_subsidy"));
    cmd.arg("--data-dir").arg(data_dir);
    if let Some(url) = database_url {
        cmd.arg("--database-url").arg(url);
    }
    cmd.env_remove("SUBSIDY_DATABASE_URL")
        .env_remove("SUBSIDY_DATA_DIR")
        .args(args)
        .output()
        .expect("run the subsidy binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "failed: {}\n{}", stderr(&o), stdout(&o));
    stdout(&o)
}

async fn newcomer_walkthrough(kind: Kind) {
    let db = TestDb::new(kind).await;
    let dir = db.dir.path().join("data");
    let url = (kind == Kind::Postgres).then_some(db.url.as_str());

    let out = ok(subsidy(&dir, url, &["demo"]));
    assert!(out.contains("loaded 40 demo projects"), "{out}");

    let list = ok(subsidy(&dir, url, &["projects", "list", "--json"]));
    let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 40);

    // Every read model stands at the head of the log, and a rebuild swaps to the other slot.
    let status = |dir: &Path| -> Vec<serde_json::Value> {
        let out = ok(subsidy(dir, url, &["projections", "status", "--json"]));
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let before = status(&dir);
    assert_eq!(before.len(), 3, "{before:?}");
    for s in &before {
        assert_eq!(s["live"], true, "{s}");
        assert_eq!(s["position"], s["head"], "{s}");
        assert_eq!(s["lag_events"], 0, "{s}");
        assert!(s["rows"].as_i64().unwrap() >= 40, "{s}");
    }
    let out = ok(subsidy(&dir, url, &["projections", "rebuild", "projects"]));
    assert!(out.contains("projects: rebuilt and swapped"), "{out}");
    let after = status(&dir);
    let projects = after.iter().find(|s| s["name"] == "projects").unwrap();
    assert_eq!(
        (projects["slot"].as_str(), projects["live"].as_bool()),
        (Some("b"), Some(true))
    );
    assert_eq!(projects["position"], projects["head"]);
    let unknown = subsidy(&dir, url, &["projections", "rebuild", "nothing"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("there is no projection 'nothing'"),
        "{}",
        stderr(&unknown)
    );
    let table = ok(subsidy(
        &dir,
        url,
        &["projects", "list", "--stage", "notice"],
    ));
    assert!(
        table.contains("项目公示") && table.contains("3 project(s)"),
        "{table}"
    );
    let weihai = ok(subsidy(
        &dir,
        url,
        &["projects", "list", "--jurisdiction", "371000", "--json"],
    ));
    let weihai: serde_json::Value = serde_json::from_str(&weihai).unwrap();
    assert!(weihai
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["jurisdiction"] == "371000"));
    assert!(!weihai.as_array().unwrap().is_empty());

    // The annex tables as files: the CSV starts with the BOM and has the seed's rows and a
    // computed total; the XLSX is a zip (its content is checked in the HTTP tests).
    let csv = db.dir.path().join("annex1.csv");
    let out = ok(subsidy(
        &dir,
        url,
        &[
            "export",
            "annex",
            "000-1",
            "--jurisdiction",
            "370000",
            "--format",
            "csv",
            "--as-of",
            "2030-01-01",
            "--out",
            csv.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("2017年各市智能快件箱安装进展情况表"), "{out}");
    let bytes = std::fs::read(&csv).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[2].starts_with("济南市,"), "{text}");
    let total = lines.iter().find(|l| l.starts_with("全省合计,")).unwrap();
    let half_year: i64 = lines[2..19]
        .iter()
        .filter_map(|l| l.split(',').nth(2).and_then(|v| v.parse::<i64>().ok()))
        .sum();
    assert!(half_year > 0, "{text}");
    assert_eq!(
        total.split(',').nth(2),
        Some(half_year.to_string().as_str())
    );
    let xlsx = db.dir.path().join("annex4.xlsx");
    ok(subsidy(
        &dir,
        url,
        &[
            "export",
            "annex",
            "000-4",
            "--jurisdiction",
            "371000",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    ));
    assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK\x03\x04"));
    let unknown = subsidy(
        &dir,
        url,
        &["export", "annex", "9", "--jurisdiction", "370000"],
    );
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no annex '9'; the annexes are: 000-1"),
        "{}",
        stderr(&unknown)
    );

    let history = ok(subsidy(&dir, url, &["projects", "history", "demo-2021-32"]));
    assert!(history.contains("officer.yiyuan"), "{history}");
    assert!(history.contains("ProjectClosed"), "{history}");
    assert!(
        history.contains("hash chain verified: 22 event(s)"),
        "{history}"
    );
    let json = ok(subsidy(
        &dir,
        url,
        &["projects", "history", "demo-2021-32", "--json"],
    ));
    let h: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(h["chain_violation"], serde_json::Value::Null);
    let entries = h["entries"].as_array().unwrap();
    assert_eq!(entries[0]["prev_hash"], "0".repeat(64));
    assert_eq!(entries[1]["prev_hash"], entries[0]["hash"]);

    let show = ok(subsidy(&dir, url, &["projects", "show", "demo-2021-38"]));
    assert!(
        show.contains("已终止") && show.contains("¥300,000.00"),
        "{show}"
    );

    let missing = subsidy(&dir, url, &["projects", "show", "no-such-project"]);
    assert!(!missing.status.success());
    assert_eq!(
        stderr(&missing).trim(),
        "error: no project 'no-such-project'"
    );
}

#[tokio::test]
async fn newcomer_walkthrough_on_sqlite() {
    newcomer_walkthrough(Kind::Sqlite).await
}

#[tokio::test]
async fn newcomer_walkthrough_on_postgres() {
    newcomer_walkthrough(Kind::Postgres).await
}

#[test]
fn programmes_are_listed_shown_and_validated() {
    let dir = tempfile::tempdir().unwrap();
    let list = ok(subsidy(dir.path(), None, &["programmes", "list"]));
    for id in [
        "shandong-smart-lockers-2017",
        "yiyuan-express-to-villages-2021",
        "yiyuan-smart-lockers-2025",
    ] {
        assert!(list.contains(id), "{list}");
    }
    let show = ok(subsidy(
        dir.path(),
        None,
        &["programmes", "show", "yiyuan-express-to-villages-2021"],
    ));
    assert!(show.contains("tc-area"), "{show}");

    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../workflows/programmes/yiyuan-smart-lockers-2025.v1.json");
    let out = ok(subsidy(
        dir.path(),
        None,
        &["programmes", "validate", shipped.to_str().unwrap()],
    ));
    assert!(out.contains("yiyuan-smart-lockers-2025@v1"), "{out}");

    let mut broken: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shipped).unwrap()).unwrap();
    broken["notice"]["min_working_days"] = serde_json::json!("five");
    let file = dir.path().join("broken.json");
    std::fs::write(&file, serde_json::to_string_pretty(&broken).unwrap()).unwrap();
    let out = subsidy(
        dir.path(),
        None,
        &["programmes", "validate", file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("broken.json") && err.contains("/notice/min_working_days"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_input_gets_one_clear_line_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["projects", "list", "--jurisdiction", "12345"],
            "six digits",
        ),
        (
            vec!["projects", "list", "--stage", "building"],
            "unknown stage 'building'",
        ),
        (vec!["programmes", "show", "nope"], "no programme 'nope'"),
    ] {
        let out = subsidy(dir.path(), None, &args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = subsidy(dir.path(), Some("mysql://x"), &["migrate"]);
    assert!(
        stderr(&out).contains("unsupported database URL"),
        "{}",
        stderr(&out)
    );
}

/// `subsidy audit check`: exit 0 on the demo data (deadline findings only), 3 once crafted
/// histories with finance breaches are in the store (written behind the engine's back), 1 on
/// bad input; the JSON form carries the findings and their proving events.
#[tokio::test]
async fn audit_check_exits_3_on_finance_findings_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(subsidy(&dir, None, &["demo"]));
    let clean = subsidy(&dir, None, &["audit", "check", "--format", "json"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    let report: serde_json::Value = serde_json::from_str(&stdout(&clean)).unwrap();
    assert_eq!(report["finance_findings"], 0);
    assert_eq!(report["projects"], 40);

    let store = store::Store::open_data_dir(&dir).await.unwrap();
    tests::crafted::write_crafted_histories(&store).await;
    drop(store);
    let found = subsidy(&dir, None, &["audit", "check", "--jurisdiction", "370323"]);
    assert_eq!(found.status.code(), Some(3), "{}", stderr(&found));
    let text = stdout(&found);
    for kind in [
        "payment_before_notice_closed",
        "settlement_before_acceptance",
        "payment_exceeds_approval",
        "poor_evaluation_without_settled_clawback",
        "notice_shorter_than_minimum",
        "report_not_filed",
    ] {
        assert!(text.contains(kind), "{kind} missing:\n{text}");
    }
    assert!(
        stderr(&found).contains("5 finance finding(s)"),
        "{}",
        stderr(&found)
    );
    let json = subsidy(
        &dir,
        None,
        &[
            "audit",
            "check",
            "--jurisdiction",
            "370323",
            "--format",
            "json",
        ],
    );
    assert_eq!(json.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["finance_findings"], 5);
    // Another city's projects hold no breach.
    let other = subsidy(&dir, None, &["audit", "check", "--jurisdiction", "371000"]);
    assert_eq!(other.status.code(), Some(0), "{}", stdout(&other));
    let bad = subsidy(&dir, None, &["audit", "check", "--jurisdiction", "12"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--jurisdiction"), "{}", stderr(&bad));
}

/// `subsidy calendar load|list|show`: a deadline in January 2027 is undecided before the
/// (invented) 2027 file is recorded and exact after it; a bad file is refused naming the field
/// and stores nothing; a shipped year exported with `show --format json` loads unchanged.
async fn calendar_years(kind: Kind) {
    let db = TestDb::new(kind).await;
    // The SQLite file of the test database is in its directory: the CLI's data directory.
    let dir = db.dir.path().to_path_buf();
    let url = (kind == Kind::Postgres).then_some(db.url.as_str());
    // A version of the 2025 lockers programme that registers until the end of 2027 (the
    // shipped one closes with 2025), beside the shipped ones as an operator would add it.
    std::fs::create_dir_all(dir.join("programmes")).unwrap();
    std::fs::write(
        dir.join("programmes/lockers-2025.v2.json"),
        domain::fixtures::lockers_2025_v2_open_to_2027(),
    )
    .unwrap();
    let settings = api::Settings {
        data_dir: dir.clone(),
        database_url: url.map(String::from),
        read_database_url: None,
    };
    let engine = api::Engine::open(&settings).await.unwrap();
    let project = engine
        .register(
            &domain::CommandContext::new("officer.yiyuan"),
            domain::ProjectCommand::RegisterProject {
                name: "年末登记的项目".into(),
                programme_id: domain::fixtures::LOCKERS_2025.into(),
                programme_version: 2,
                jurisdiction: domain::JurisdictionCode::parse("370323").unwrap(),
                description: String::new(),
                registered_on: "2026-12-28".parse().unwrap(),
            },
        )
        .await
        .unwrap();
    let deadlines = |dir: &Path| -> serde_json::Value {
        let out = ok(subsidy(
            dir,
            url,
            &["deadlines", "--at", "2027-01-04", "--all", "--json"],
        ));
        serde_json::from_str(&out).unwrap()
    };
    let officials_list = |listing: &serde_json::Value| {
        listing["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["project_id"] == project.as_str() && d["id"] == "officials-list")
            .map(|d| d["due_on"].clone())
    };
    let before = deadlines(&dir);
    assert_eq!(officials_list(&before), None, "{before}");
    assert!(before.to_string().contains("2027"), "{before}");

    // A bad file: one line per field, nothing stored.
    let bad = db.dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"year": 2027, "days": [{"date": "2027-01-04", "name": "元旦", "isOffDay": false}]}"#,
    )
    .unwrap();
    let out = subsidy(
        &dir,
        url,
        &["calendar", "load", bad.to_str().unwrap(), "--notice", "x"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("nothing was stored") && err.contains("/days/0/date") && err.contains("Mon"),
        "{err}"
    );
    let out = subsidy(&dir, url, &["calendar", "load", FIXTURE, "--notice", " "]);
    assert!(
        stderr(&out).contains("--notice: missing"),
        "{}",
        stderr(&out)
    );

    let out = ok(subsidy(
        &dir,
        url,
        &[
            "calendar",
            "load",
            FIXTURE,
            "--notice",
            "国办发明电〔2026〕99号（测试用，虚构）",
            "--by",
            "ops.zhang",
        ],
    ));
    assert!(out.starts_with("recorded 2027"), "{out}");
    // No read model was built yet in this store: nothing was flagged to derive again.
    assert!(
        out.contains("project(s) with undecided deadlines derived again"),
        "{out}"
    );
    let after = deadlines(&dir);
    assert_eq!(officials_list(&after), Some("2027-01-05".into()), "{after}");

    let list = ok(subsidy(&dir, url, &["calendar", "list"]));
    let line = list
        .lines()
        .find(|l| l.starts_with("2027"))
        .expect("2027 listed");
    assert!(
        line.contains("recorded") && line.contains("ops.zhang") && line.contains("99号"),
        "{list}"
    );
    assert!(list.contains("decided up to 2027-12-24"), "{list}");
    let again = ok(subsidy(
        &dir,
        url,
        &["calendar", "load", FIXTURE, "--notice", "重复"],
    ));
    assert!(again.starts_with("unchanged"), "{again}");

    // Round trip: every shipped year (and the recorded one) exports to a file that loads.
    for year in ["2007", "2019", "2026", "2027"] {
        let text = ok(subsidy(
            &dir,
            url,
            &["calendar", "show", year, "--format", "json"],
        ));
        let file = db.dir.path().join(format!("{year}.json"));
        std::fs::write(&file, text).unwrap();
        let out = ok(subsidy(
            &dir,
            url,
            &[
                "calendar",
                "load",
                file.to_str().unwrap(),
                "--notice",
                "导出",
            ],
        ));
        assert!(out.starts_with("unchanged"), "{year}: {out}");
    }
    let events = db
        .store
        .read_stream(domain::calendar::CALENDAR_TYPE, "2027")
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].metadata["actor"], "ops.zhang");
}

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/calendar/2027.json"
);

#[tokio::test]
async fn calendar_years_on_sqlite() {
    calendar_years(Kind::Sqlite).await;
}

#[tokio::test]
async fn calendar_years_on_postgres() {
    calendar_years(Kind::Postgres).await;
}

/// `subsidy programmes publish|list|show|diff|withdraw`: the shipped definitions are recorded
/// by `system` at first start; a broken file is refused with file, pointer and reason and
/// stores nothing; version 2 is published once (again: unchanged; other content: refused
/// naming the recorded hash); the diff names the changed pointers, also as JSON; a withdrawn
/// version refuses registrations.
async fn programme_versions(kind: Kind) {
    let db = TestDb::new(kind).await;
    let dir = db.dir.path().to_path_buf();
    let url = (kind == Kind::Postgres).then_some(db.url.as_str());
    let id = domain::fixtures::VILLAGES_2021;
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../workflows/programmes/yiyuan-express-to-villages-2021.v1.json");

    let list = ok(subsidy(&dir, url, &["programmes", "list"]));
    let line = list.lines().find(|l| l.starts_with(id)).expect("listed");
    assert!(
        line.contains("in force") && line.contains("system"),
        "{list}"
    );
    let out = ok(subsidy(
        &dir,
        url,
        &["programmes", "publish", shipped.to_str().unwrap()],
    ));
    assert!(out.starts_with("unchanged"), "{out}");

    let mut v2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shipped).unwrap()).unwrap();
    v2["version"] = serde_json::json!(2);
    v2["notice"]["min_working_days"] = serde_json::json!(7);
    let mut broken = v2.clone();
    broken["deadlines"][0]["due"]["days"] = serde_json::json!(-1);
    let file = dir.join("v2.json");
    let broken_file = dir.join("broken.json");
    std::fs::write(&file, serde_json::to_string_pretty(&v2).unwrap()).unwrap();
    std::fs::write(&broken_file, serde_json::to_string_pretty(&broken).unwrap()).unwrap();
    let head = db.store.last_position().await.unwrap();
    let out = subsidy(
        &dir,
        url,
        &["programmes", "publish", broken_file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("broken.json")
            && err.contains("/deadlines/0/due/days")
            && err.contains("nothing was stored"),
        "{err}"
    );
    assert_eq!(db.store.last_position().await.unwrap(), head);

    let out = ok(subsidy(
        &dir,
        url,
        &[
            "programmes",
            "publish",
            file.to_str().unwrap(),
            "--by",
            "ops.zhang",
        ],
    ));
    assert!(out.starts_with(&format!("published {id}@v2")), "{out}");
    let again = ok(subsidy(
        &dir,
        url,
        &["programmes", "publish", file.to_str().unwrap()],
    ));
    assert!(again.starts_with("unchanged"), "{again}");
    let sha_v2 = api::calendar::content_sha256(&v2);
    v2["notice"]["min_working_days"] = serde_json::json!(8);
    std::fs::write(&file, serde_json::to_string_pretty(&v2).unwrap()).unwrap();
    let out = subsidy(
        &dir,
        url,
        &["programmes", "publish", file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&sha_v2) && err.contains("never changes"),
        "{err}"
    );

    let show = ok(subsidy(
        &dir,
        url,
        &["programmes", "show", id, "--version", "2"],
    ));
    assert!(
        show.contains("published by ops.zhang") && show.contains(&sha_v2),
        "{show}"
    );
    let diff = ok(subsidy(&dir, url, &["programmes", "diff", id, "1", "2"]));
    assert!(diff.contains("~ /notice/min_working_days: 5 → 7"), "{diff}");
    assert!(diff.contains("~ /version: 1 → 2"), "{diff}");
    let json: serde_json::Value = serde_json::from_str(&ok(subsidy(
        &dir,
        url,
        &["programmes", "diff", id, "1", "2", "--format", "json"],
    )))
    .unwrap();
    assert_eq!(json["changes"].as_array().unwrap().len(), 2, "{json}");

    let out = ok(subsidy(
        &dir,
        url,
        &[
            "programmes",
            "withdraw",
            id,
            "1",
            "--reason",
            "由第二版取代",
        ],
    ));
    assert!(out.starts_with(&format!("withdrawn {id}@v1")), "{out}");
    let list = ok(subsidy(&dir, url, &["programmes", "list", "--json"]));
    let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
    let v1 = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id && r["version"] == 1)
        .unwrap();
    assert_eq!(v1["status"], "withdrawn", "{v1}");
    let settings = api::Settings {
        data_dir: dir.clone(),
        database_url: url.map(String::from),
        read_database_url: None,
    };
    let engine = api::Engine::open(&settings).await.unwrap();
    let register = |version| domain::ProjectCommand::RegisterProject {
        name: "版本测试".into(),
        programme_id: id.into(),
        programme_version: version,
        jurisdiction: domain::JurisdictionCode::parse("370323").unwrap(),
        description: String::new(),
        registered_on: "2021-06-03".parse().unwrap(),
    };
    let context = domain::CommandContext::new("officer.yiyuan");
    let refused = engine.register(&context, register(1)).await.unwrap_err();
    assert!(refused.to_string().contains("withdrawn"), "{refused}");
    engine.register(&context, register(2)).await.unwrap();
}

#[tokio::test]
async fn programme_versions_on_sqlite() {
    programme_versions(Kind::Sqlite).await;
}

#[tokio::test]
async fn programme_versions_on_postgres() {
    programme_versions(Kind::Postgres).await;
}
