//! Calendar years as records over HTTP, on both backends: a deadline in January 2027 is
//! undecided before the (invented) 2027 file is recorded and exact right after, in the
//! on-demand derivation and in the persisted deadlines; re-loads, bad files and the shipped
//! years in the file format.

use serde_json::{json, Value};
use workflows::calendar::YearNotice;
use workflows::programme::ProgrammeRegistry;

use crate::helpers::{spawn_app, spawn_app_with_registry, TestApp, BACKENDS};

const FIXTURE_2027: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/calendar/2027.json"
));
const NOTICE: &str = "国办发明电〔2026〕99号（测试用，虚构）";

fn d(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

/// The project's deadline `id` as `GET /projects/{id}/deadlines?at=…` gives it, and whether it
/// is listed as undecided.
async fn deadline(app: &TestApp, project: &str, id: &str, at: &str) -> (Option<Value>, bool) {
    let reply = app
        .get(
            "officer.yiyuan",
            &format!("/projects/{project}/deadlines?at={at}"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let found = reply.body["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .cloned();
    let undecided = reply.body["undecided"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == id);
    (found, undecided)
}

/// The persisted deadlines: (the project's `undecided` flag, the due date stored for `id`).
async fn persisted(app: &TestApp, project: &str, id: &str) -> (i64, Option<String>) {
    let runtime = app.engine.projections();
    let (slot, _) = runtime
        .live(projections::deadlines::DEADLINES)
        .await
        .unwrap()
        .unwrap();
    let flag = runtime
        .db()
        .fetch_all(
            &format!("SELECT undecided FROM deadline_projects_{slot} WHERE project_id = ?"),
            &[project.to_string().into()],
        )
        .await
        .unwrap()[0][0]
        .i64();
    let due = runtime
        .db()
        .fetch_all(
            &format!(
                "SELECT due_on FROM project_deadlines_{slot} WHERE project_id = ? AND deadline_id = ?"
            ),
            &[project.to_string().into(), id.to_string().into()],
        )
        .await
        .unwrap()
        .first()
        .and_then(|r| r[0].opt_text());
    (flag, due)
}

async fn calendar_events(app: &TestApp, year: &str) -> usize {
    app.engine
        .store
        .read_stream(domain::calendar::CALENDAR_TYPE, year)
        .await
        .unwrap()
        .len()
}

/// The shipped programmes and a version of the 2025 lockers programme that registers until
/// the end of 2027 (the shipped one closes with 2025).
fn programmes_open_to_2027() -> ProgrammeRegistry {
    let mut registry = ProgrammeRegistry::builtin();
    let text = domain::fixtures::lockers_2025_v2_open_to_2027();
    registry
        .insert(ProgrammeRegistry::parse("lockers-2025.v2.json", &text).unwrap())
        .unwrap();
    registry
}

async fn january_2027_on(app: &TestApp) {
    // Registered on Monday 2026-12-28: the list of officials is due 5 working days later,
    // which the 2026 notice cannot decide (from 25 December the 2027 notice may still move
    // days).
    let body = app
        .ok(
            "officer.yiyuan",
            "/projects",
            json!({"name": "年末登记的项目", "programme_id": domain::fixtures::LOCKERS_2025,
                "programme_version": 2, "jurisdiction": "370323", "registered_on": "2026-12-28"}),
        )
        .await;
    let project = body["project_id"].as_str().unwrap().to_string();
    app.engine.projections().catch_up().await.unwrap();

    let (found, undecided) = deadline(app, &project, "officials-list", "2027-01-04").await;
    assert!(
        found.is_none() && undecided,
        "undecided before the load: {found:?}"
    );
    assert_eq!(
        persisted(app, &project, "officials-list").await,
        (1, None),
        "the persisted deadlines flag the project and store no due date"
    );
    let listed = app.get("auditor.zibo", "/calendar/years").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["decided_until"], "2026-12-24");
    assert_eq!(listed.body["years"].as_array().unwrap().len(), 20);

    // Only an admin may record a year.
    let file: Value = serde_json::from_str(FIXTURE_2027).unwrap();
    let body = json!({"notice": NOTICE, "file": file});
    for user in ["officer.yiyuan", "supervisor.zibo", "auditor.zibo"] {
        assert_eq!(
            app.post(user, "/calendar/years", &body).await.status,
            403,
            "{user}"
        );
    }
    assert_eq!(calendar_events(app, "2027").await, 0);

    let recorded = app.post("admin", "/calendar/years", &body).await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    assert_eq!(recorded.body["outcome"], "recorded");
    assert_eq!(recorded.body["decided_until"], "2027-12-24");
    // Derived again by this request, or already by the server's projection runner, which
    // met the calendar event first: either way the rows below are exact when it answers.
    assert!(recorded.body["rederived_projects"].as_u64().unwrap() <= 1);
    assert_eq!(
        recorded.body["sha256"].as_str().unwrap(),
        api::calendar::content_sha256(&file)
    );

    // Exact at once, with no restart: 12-29, 12-30, 12-31, (元旦 1–3 January off), 4 and 5
    // January.
    let (found, undecided) = deadline(app, &project, "officials-list", "2027-01-04").await;
    let found = found.expect("derived after the load");
    assert!(!undecided);
    assert_eq!(found["due_on"], "2027-01-05", "{found}");
    assert_eq!(found["status"], "upcoming", "{found}");
    let (_, overdue) = deadline(app, &project, "officials-list", "2027-01-06").await;
    assert!(!overdue);
    // The persisted deadlines were derived again by the load itself (not by a rebuild).
    assert_eq!(
        persisted(app, &project, "officials-list").await,
        (0, Some("2027-01-05".to_string()))
    );
    let runtime = app.engine.projections();
    let (slot, _) = runtime
        .live(projections::deadlines::DEADLINES)
        .await
        .unwrap()
        .unwrap();
    let open = projections::deadlines::open_deadlines(
        runtime.db(),
        &slot,
        app.engine.programmes(),
        &app.engine.services.calendar.current(),
        d("2027-01-04"),
        14,
        &domain::JurisdictionCode::parse("370323").unwrap(),
    )
    .await
    .unwrap();
    assert!(
        open.iter().any(|o| o.project_id == project
            && o.deadline.id == "officials-list"
            && o.deadline.due_on == Some(d("2027-01-05"))),
        "the dashboard's coming deadlines: {open:?}"
    );

    // Who recorded it, from which notice: the list, and the event itself.
    let listed = app.get("supervisor.zibo", "/calendar/years").await;
    let y2027 = listed.body["years"]
        .as_array()
        .unwrap()
        .iter()
        .find(|y| y["year"] == 2027)
        .cloned()
        .expect("2027 listed");
    assert_eq!(y2027["origin"], "recorded");
    assert_eq!(y2027["notice"], NOTICE);
    assert_eq!(y2027["recorded_by"], "admin");
    assert_eq!(y2027["days_off"], 28);
    assert_eq!(y2027["adjusted_working_days"], 5);
    let stream = app
        .engine
        .store
        .read_stream(domain::calendar::CALENDAR_TYPE, "2027")
        .await
        .unwrap();
    assert_eq!(stream.len(), 1);
    assert_eq!(stream[0].metadata["actor"], "admin");
    store::verify_chain(&stream).expect("the calendar stream is hash-chained");

    // A new engine over the same store (a restart) has 2027 from the store.
    let restarted = api::Engine::with_store(
        app.engine.store.clone(),
        workflows::programme::ProgrammeRegistry::builtin(),
    );
    assert!(restarted.refresh_calendar().await.unwrap());
    assert_eq!(
        *restarted.services.calendar.current().covered_years().end(),
        2027
    );

    // The same days again: unchanged, nothing stored (even spaced and ordered otherwise).
    let respaced: Value = serde_json::from_str(
        &YearNotice::parse(FIXTURE_2027)
            .unwrap()
            .to_json()
            .replace("  ", "\t"),
    )
    .unwrap();
    let again = app
        .post(
            "admin",
            "/calendar/years",
            &json!({"notice": NOTICE, "file": respaced}),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["outcome"], "unchanged");
    assert_eq!(calendar_events(app, "2027").await, 1);

    // Other days for a recorded year: refused with both hashes, nothing stored.
    let mut changed = file.clone();
    changed["days"]
        .as_array_mut()
        .unwrap()
        .push(json!({"date": "2027-12-31", "name": "元旦", "isOffDay": true}));
    let refused = app
        .post(
            "admin",
            "/calendar/years",
            &json!({"notice": "国办发明电〔2027〕1号", "file": changed}),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["code"], "calendar.year_recorded");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(recorded.body["sha256"].as_str().unwrap())
            && detail.contains(&api::calendar::content_sha256(&changed)),
        "{detail}"
    );
    assert_eq!(calendar_events(app, "2027").await, 1);
    let (found, _) = deadline(app, &project, "officials-list", "2027-01-04").await;
    assert_eq!(found.unwrap()["due_on"], "2027-01-05");

    // A shipped year, exported in the file format, loads as "unchanged"; other days for it
    // are refused.
    let shipped: Value =
        serde_json::from_str(&YearNotice::embedded(2026).unwrap().to_json()).unwrap();
    let reply = app
        .post(
            "admin",
            "/calendar/years",
            &json!({"notice": "国办发明电〔2025〕7号", "file": shipped}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["outcome"], "unchanged");
    let mut edited = shipped.clone();
    edited["days"].as_array_mut().unwrap().remove(0);
    let reply = app
        .post(
            "admin",
            "/calendar/years",
            &json!({"notice": "x", "file": edited}),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(calendar_events(app, "2026").await, 0);
}

async fn bad_files_on(app: &TestApp) {
    let head = app.engine.store.last_position().await.unwrap();
    let file = json!({
        "year": 2027,
        "colour": "red",
        "days": [
            {"date": "2027-01-01", "name": "元旦", "isOffDay": true},
            {"date": "2028-01-01", "name": "元旦", "isOffDay": true},
            {"date": "2027-01-04", "name": "元旦", "isOffDay": false},
            {"date": "2027-01-01", "name": "元旦", "isOffDay": false},
            {"date": "2027-02-06", "name": "春节", "isOffDay": true},
            {"date": "2027-02-06", "name": "春节", "isOffDay": true},
            {"date": "2027-2-7", "name": "春节", "isOffDay": true},
            {"date": "2027-02-08", "name": " ", "isOffDay": "yes"}
        ]
    });
    let reply = app
        .post(
            "admin",
            "/calendar/years",
            &json!({"notice": "  ", "file": file}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["code"], "calendar.invalid");
    let errors: Vec<(String, String)> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |pointer: &str, words: &str| {
        errors
            .iter()
            .any(|(p, r)| p == pointer && r.contains(words))
    };
    assert!(has("/notice", "missing"), "{errors:?}");
    assert!(has("/file/colour", "unknown field"), "{errors:?}");
    assert!(has("/file/days/1/date", "outside the year"), "{errors:?}");
    assert!(has("/file/days/2/date", "Mon"), "{errors:?}");
    assert!(
        has(
            "/file/days/3/date",
            "both as a day off and as an adjusted working day (/days/0 and /days/3)"
        ),
        "{errors:?}"
    );
    assert!(
        has("/file/days/5/date", "listed twice (/days/4 and /days/5)"),
        "{errors:?}"
    );
    assert!(has("/file/days/6/date", "YYYY-MM-DD"), "{errors:?}");
    assert!(has("/file/days/7/name", "festival"), "{errors:?}");
    assert!(has("/file/days/7/isOffDay", "not true"), "{errors:?}");
    assert_eq!(errors.len(), 10, "{errors:?}");

    // No days at all; a year after a gap.
    let reply = app
        .post(
            "admin",
            "/calendar/years",
            &json!({"notice": NOTICE, "file": {"year": 2027, "days": []}}),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["errors"][0]["pointer"], "/file/days");
    let reply = app
        .post(
            "admin",
            "/calendar/years",
            &json!({"notice": NOTICE, "file": {"year": 2028, "days": [
                {"date": "2028-01-01", "name": "元旦", "isOffDay": true}]}}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["code"], "calendar.not_next_year");
    assert_eq!(app.engine.store.last_position().await.unwrap(), head);
    assert_eq!(
        *app.engine.services.calendar.current().covered_years().end(),
        2026
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn january_2027_is_undecided_before_the_load_and_exact_after_it_on_both_backends() {
    for backend in BACKENDS {
        let app = spawn_app_with_registry(backend, programmes_open_to_2027()).await;
        january_2027_on(&app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_year_file_is_refused_naming_each_field_and_nothing_is_stored() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        bad_files_on(&app).await;
    }
}
