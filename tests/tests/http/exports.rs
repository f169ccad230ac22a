//! `GET /exports/annex/{name}`: the annex tables as spreadsheets. The XLSX files, read back with
//! calamine, carry the seeds' headings and rows and totals that add up; the CSV files start
//! with a BOM and hold the same rows; `as_of` leaves out what was recorded later (the store's
//! clock is injected); scope and roles are enforced — on SQLite and PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;

use api::http::auth::{Accounts, Role};
use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::fixtures::{date, progress_form, LOCKERS_2017};
use domain::{CommandContext, JurisdictionCode, ProjectCommand, ProjectEvent, Stage};
use serde_json::json;

use crate::helpers::{spawn_app_with_clock, TestApp, BACKENDS, PASSWORD};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A file as downloaded: status, content type, disposition, bytes.
struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    bytes: Vec<u8>,
}

async fn download(app: &TestApp, user: &str, path: &str) -> Download {
    let position = app.last_position().await;
    let sep = if path.contains('?') { "&" } else { "?" };
    let response = app
        .client
        .get(app.url(&format!("{path}{sep}min_position={position}")))
        .bearer_auth(&app.tokens[user])
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    Download {
        status: response.status().as_u16(),
        content_type: header("content-type"),
        disposition: header("content-disposition"),
        bytes: response.bytes().await.unwrap().to_vec(),
    }
}

/// The first worksheet as text, `columns` wide: numbers as the CSV writes them (integers as
/// digits; a ratio where `like` says the CSV shows a percentage).
fn xlsx_grid(bytes: &[u8], sheet: &str, like: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(workbook.sheet_names(), vec![sheet.to_string()]);
    let range = workbook.worksheet_range(sheet).unwrap();
    let (end_row, _) = range.end().expect("a non-empty sheet");
    let columns = like.iter().map(Vec::len).max().unwrap_or(0);
    (0..=end_row)
        .map(|r| {
            (0..columns)
                .map(|c| {
                    let hint = like
                        .get(r as usize)
                        .and_then(|row| row.get(c))
                        .cloned()
                        .unwrap_or_default();
                    match range.get_value((r, c as u32)) {
                        None | Some(Data::Empty) => String::new(),
                        Some(Data::String(s)) => s.clone(),
                        Some(Data::Float(f)) if hint.ends_with('%') => {
                            format!("{:.1}%", f * 100.0)
                        }
                        Some(Data::Float(f)) => {
                            assert_eq!(f.fract(), 0.0, "({r},{c}) holds {f}");
                            (*f as i64).to_string()
                        }
                        Some(Data::Int(i)) => i.to_string(),
                        Some(other) => panic!("unexpected cell ({r},{c}): {other:?}"),
                    }
                })
                .collect()
        })
        .collect()
}

/// The merged ranges of a table's XLSX sheet: ((first row, first col), (last row, last col)).
async fn merges(
    app: &TestApp,
    user: &str,
    path: &str,
    sheet: &str,
) -> Vec<((u32, u32), (u32, u32))> {
    let file = download(app, user, path).await;
    assert_eq!(file.status, 200);
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(file.bytes)).unwrap();
    workbook
        .merge_cells_by_sheet_name(sheet)
        .expect("the sheet's merged cells")
        .into_iter()
        .map(|d| (d.start, d.end))
        .collect()
}

/// An RFC 4180 reader (quoted fields may hold commas, quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "the CSV ends with CRLF");
    rows
}

/// Both files of one table: the XLSX grid and the CSV rows, checked to be the same.
async fn both(app: &TestApp, user: &str, name: &str, query: &str, sheet: &str) -> Vec<Vec<String>> {
    let and = if query.is_empty() {
        String::new()
    } else {
        format!("&{query}")
    };
    let csv = download(app, user, &format!("/exports/annex/{name}?format=csv{and}")).await;
    assert_eq!(csv.status, 200, "{}", String::from_utf8_lossy(&csv.bytes));
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    assert!(
        csv.bytes.starts_with(b"\xEF\xBB\xBF"),
        "the CSV starts with the BOM"
    );
    assert!(
        csv.disposition.starts_with("attachment"),
        "{}",
        csv.disposition
    );
    let rows = parse_csv(std::str::from_utf8(&csv.bytes[3..]).unwrap());
    let xlsx = download(
        app,
        user,
        &format!("/exports/annex/{name}?format=xlsx{and}"),
    )
    .await;
    assert_eq!(xlsx.status, 200, "{}", String::from_utf8_lossy(&xlsx.bytes));
    assert_eq!(xlsx.content_type, XLSX);
    assert!(
        xlsx.disposition.contains(&format!("annex-{name}.xlsx")),
        "{}",
        xlsx.disposition
    );
    let grid = xlsx_grid(&xlsx.bytes, sheet, &rows);
    assert_eq!(grid, rows, "{name}: the CSV holds the XLSX's rows");
    rows
}

fn int(s: &str) -> Option<i64> {
    s.parse().ok()
}

/// The rows between the headings and the total whose first cell is a unit.
fn body<'a>(rows: &'a [Vec<String>], first: usize, total: &str) -> &'a [Vec<String>] {
    let end = rows
        .iter()
        .position(|r| r[0] == total)
        .unwrap_or_else(|| panic!("a '{total}' row in {rows:?}"));
    &rows[first..end]
}

/// Column `c` of the body added up (empty cells count nothing), and `None` if all are empty.
fn column_sum(body: &[Vec<String>], c: usize) -> Option<i64> {
    body.iter()
        .filter_map(|r| int(&r[c]))
        .fold(None, |acc, v| Some(acc.unwrap_or(0) + v))
}

/// (city, period) → 安装数量 of the last report recorded at or before `until`, from the log.
async fn progress_from_log(app: &TestApp, until: DateTime<Utc>) -> BTreeMap<(String, String), i64> {
    let mut programme = BTreeMap::new();
    let mut out = BTreeMap::new();
    for e in app.engine.store.read_all(0, i64::MAX).await.unwrap() {
        if e.aggregate_type != domain::SubsidyProject::TYPE || e.recorded_at > until {
            continue;
        }
        match serde_json::from_value(e.payload.clone()).unwrap() {
            ProjectEvent::ProjectRegistered { programme_id, .. } => {
                programme.insert(e.aggregate_id.clone(), programme_id);
            }
            ProjectEvent::ProgressReportSubmitted { form, .. }
                if programme[&e.aggregate_id] == LOCKERS_2017 =>
            {
                out.insert(
                    (
                        form["city"].as_str().unwrap().to_string(),
                        form["period"].as_str().unwrap().to_string(),
                    ),
                    form["figures"]["install_count"].as_i64().unwrap(),
                );
            }
            _ => {}
        }
    }
    out
}

/// Every project event of the log: (project, its jurisdiction, event).
async fn log_of(app: &TestApp) -> Vec<(String, String, ProjectEvent)> {
    let mut jurisdiction = BTreeMap::new();
    let mut out = Vec::new();
    for e in app.engine.store.read_all(0, i64::MAX).await.unwrap() {
        if e.aggregate_type != domain::SubsidyProject::TYPE {
            continue;
        }
        let event: ProjectEvent = serde_json::from_value(e.payload.clone()).unwrap();
        if let ProjectEvent::ProjectRegistered {
            jurisdiction: j, ..
        } = &event
        {
            jurisdiction.insert(e.aggregate_id.clone(), j.to_string());
        }
        out.push((
            e.aggregate_id.clone(),
            jurisdiction[&e.aggregate_id].clone(),
            event,
        ));
    }
    out
}

const CITIES: [&str; 17] = [
    "济南市",
    "青岛市",
    "淄博市",
    "枣庄市",
    "东营市",
    "烟台市",
    "潍坊市",
    "济宁市",
    "泰安市",
    "威海市",
    "日照市",
    "莱芜市",
    "临沂市",
    "德州市",
    "聊城市",
    "滨州市",
    "菏泽市",
];

async fn check(app: &mut TestApp, clock: &store::FixedClock) {
    api::demo::load(&app.engine).await.unwrap();
    // A province auditor (the test accounts hold cities and counties only).
    Accounts::new(&app.engine.store)
        .create_user(
            "auditor.province",
            PASSWORD,
            Role::Auditor,
            &[JurisdictionCode::parse("370000").unwrap()],
        )
        .await
        .unwrap();
    let login = app
        .send(
            app.client
                .post(app.url("/auth/login"))
                .json(&json!({"username": "auditor.province", "password": PASSWORD})),
        )
        .await;
    app.tokens.insert(
        "auditor.province",
        login.body["token"].as_str().unwrap().to_string(),
    );
    let t0 = clock_now(clock);

    // Annex 1, the province by city: the seed's headings and rows, totals that add up, and
    // each cell the last report of its city and period.
    let rows = both(
        app,
        "auditor.province",
        "000-1",
        "jurisdiction=370000",
        "附件1",
    )
    .await;
    assert_eq!(rows[0][0], "2017年各市智能快件箱安装进展情况表");
    assert_eq!(
        rows[1],
        ["季度\n地市", "一季度", "上半年", "三季度", "全年"]
    );
    let cities = body(&rows, 2, "全省合计");
    assert_eq!(
        cities.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        CITIES
    );
    let total = &rows[2 + cities.len()];
    for (c, cell) in total.iter().enumerate().take(5).skip(1) {
        assert_eq!(
            int(cell),
            column_sum(cities, c),
            "column {c}: 全省合计 is the sum"
        );
    }
    let expected = progress_from_log(app, t0).await;
    assert!(!expected.is_empty(), "the demo files reports");
    for row in cities {
        for (c, period) in ["一季度", "上半年", "三季度", "全年"].iter().enumerate() {
            assert_eq!(
                int(&row[c + 1]),
                expected.get(&(row[0].clone(), period.to_string())).copied(),
                "{} {period}",
                row[0]
            );
        }
    }
    assert_eq!(total[4], "", "no 全年 report yet");

    // A pilot city under construction files its 全年 report later in the year.
    let view = projections::ProjectsView::load(&app.engine.store)
        .await
        .unwrap();
    let (id, city) = view
        .summaries()
        .into_iter()
        .find(|s| s.programme_id == LOCKERS_2017 && s.stage == Stage::Construction && !s.suspended)
        .map(|s| {
            let city = view.state(&s.id).unwrap().0.plan.as_ref().unwrap()["city"]
                .as_str()
                .unwrap()
                .to_string();
            (s.id, city)
        })
        .unwrap();
    clock.set(at("2017-12-25T02:00:00Z"));
    app.engine
        .execute(
            &id,
            &CommandContext::new("officer.test"),
            ProjectCommand::SubmitProgressReport {
                period: "全年".into(),
                reported_on: date(2017, 12, 25),
                form: progress_form(LOCKERS_2017, &city, "全年", date(2017, 12, 25), 150),
            },
            None,
        )
        .await
        .unwrap();
    let rows = both(
        app,
        "auditor.province",
        "000-1",
        "jurisdiction=370000",
        "附件1",
    )
    .await;
    let row = rows.iter().find(|r| r[0] == city).unwrap();
    assert_eq!(row[4], "150");
    assert_eq!(rows[2 + CITIES.len()][0], "全省合计");
    assert_eq!(rows[2 + CITIES.len()][4], "150");
    // As of the end of 1 July 2017 (Asia/Shanghai), the later report is left out.
    let then = both(
        app,
        "auditor.province",
        "000-1",
        "jurisdiction=370000&as_of=2017-07-01",
        "附件1",
    )
    .await;
    assert_eq!(then[2 + CITIES.len()][4], "", "{then:?}");
    assert_eq!(
        then[2..2 + CITIES.len()],
        cities[..],
        "as before the report"
    );
    assert!(then.last().unwrap()[0].contains("2017-07-01 23:59:59"));

    // Annex 2: the operators' columns; the plans are not recorded, so the cells are empty.
    let rows = both(
        app,
        "auditor.province",
        "000-2",
        "jurisdiction=370000",
        "附件2",
    )
    .await;
    assert_eq!(rows[0][0], "2017年主要智能快件箱企业全省安装计划");
    assert_eq!(
        rows[1],
        [
            "布设公司\n地市",
            "山东邮政",
            "丰巢",
            "速递易",
            "日日顺",
            "云柜",
            "近邻宝",
            "精致物联",
            "合计"
        ]
    );
    let cities = body(&rows, 2, "全省合计");
    assert_eq!(cities.len(), 17);
    assert!(cities.iter().all(|r| r[1..].iter().all(String::is_empty)));

    // Annex 3, one city: the seed's two heading rows, the latest plan's 年度计划.
    let weihai = both(
        app,
        "auditor.province",
        "000-3",
        "jurisdiction=371000",
        "附件3",
    )
    .await;
    assert_eq!(weihai[0][0], "2017年各市\\各企业智能快件箱安装计划表");
    assert_eq!(weihai[1][..2], ["城市", "截止2016年底"]);
    assert_eq!(weihai[1][5], "2017年安装计划");
    assert_eq!(
        weihai[2][1..],
        [
            "安装数量",
            "累计组数",
            "格口数",
            "派送快件量",
            "安装数量",
            "累计组数",
            "格口数",
            "派送快件量"
        ]
    );
    assert_eq!(weihai[3][0], "威海市");
    assert_eq!(weihai[4][0], "合计", "a city's table has one row");
    assert!(
        weihai[3][1..5].iter().all(String::is_empty),
        "截止2016年底 is not recorded"
    );
    let log = log_of(app).await;
    let plan = log
        .iter()
        .rev()
        .find_map(|(_, _, e)| match e {
            ProjectEvent::PlanSubmitted { form, .. } if form["city"] == "威海市" => Some(form),
            _ => None,
        })
        .expect("a plan of 威海市 in the demo");
    assert_eq!(
        int(&weihai[3][5]),
        plan["annual_plan"]["install_count"].as_i64()
    );
    assert_eq!(weihai[4][5..], weihai[3][5..]);
    let rows = both(
        app,
        "auditor.province",
        "000-3",
        "jurisdiction=370000",
        "附件3",
    )
    .await;
    let pilots = body(&rows, 3, "全省合计");
    assert_eq!(
        pilots.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        [
            "威海市",
            "东营市",
            "滨州市",
            "德州市",
            "枣庄市",
            "日照市",
            "莱芜市"
        ]
    );
    // The seed's layout: 城市 spans both heading rows, each year group four columns.
    let merged = merges(
        app,
        "auditor.province",
        "/exports/annex/000-3?jurisdiction=370000",
        "附件3",
    )
    .await;
    for range in [
        ((0, 0), (0, 8)),
        ((1, 0), (2, 0)),
        ((1, 1), (1, 4)),
        ((1, 5), (1, 8)),
    ] {
        assert!(merged.contains(&range), "{range:?} merged in {merged:?}");
    }
    let total = &rows[3 + pilots.len()];
    for (c, cell) in total.iter().enumerate().take(9).skip(5) {
        assert_eq!(int(cell), column_sum(pilots, c));
    }

    // Annex 4: one block per pilot city with its officials.
    let rows = both(
        app,
        "auditor.province",
        "000-4",
        "jurisdiction=370000",
        "附件4",
    )
    .await;
    assert_eq!(rows[0][0], "2017年智能快件箱进楼宇工程责任人名单");
    let captions: Vec<&str> = rows
        .iter()
        .filter(|r| r[0].starts_with("填报单位："))
        .map(|r| r[0].as_str())
        .collect();
    assert_eq!(captions.len(), 7, "{captions:?}");
    assert_eq!(captions[0], "填报单位：威海市");
    let at_weihai = rows
        .iter()
        .position(|r| r[0] == "填报单位：威海市")
        .unwrap();
    assert_eq!(
        rows[at_weihai + 1],
        ["类别\n项目", "姓名", "职务", "联系方式", "邮箱", "备注"]
    );
    assert_eq!(rows[at_weihai + 2][0], "分管领导");
    assert_eq!(rows[at_weihai + 3][0], "联络员及科（处）室");
    // The last liaison named on a 威海市 project (371000) is the one listed.
    let liaison = log
        .iter()
        .rev()
        .find_map(|(_, j, e)| match e {
            ProjectEvent::OfficialAssigned { role, official }
                if j == "371000" && *role == workflows::programme::OfficialRole::Liaison =>
            {
                Some(official)
            }
            _ => None,
        })
        .expect("a liaison of 威海市 in the demo");
    assert_eq!(rows[at_weihai + 3][1], liaison.name);
    assert_eq!(rows[at_weihai + 3][2], liaison.post);
    assert_eq!(rows[at_weihai + 3][4], liaison.email);
    assert_eq!(rows[at_weihai + 3][5], "", "the office is not recorded");

    // Seed 002, Yiyuan county as the Zibo supervisor: the seed's townships, the totals.
    let rows = both(
        app,
        "supervisor.zibo",
        "002-townships",
        "jurisdiction=370323",
        "进展情况",
    )
    .await;
    assert_eq!(rows[0][0], "沂源县2021年“快递进村”工作推进情况表");
    assert_eq!(rows[1][0], "镇（街道）");
    assert_eq!(rows[2][3..5], ["已建成", "计划"]);
    let towns = body(&rows, 3, "合计");
    assert_eq!(towns.len(), 12);
    assert_eq!(towns[0][0], "南麻街道");
    assert_eq!(towns[11][0], "悦庄镇");
    let total = &rows[3 + towns.len()];
    let max_county = towns.iter().filter_map(|r| int(&r[1])).max();
    assert_eq!(
        int(&total[1]),
        max_county,
        "county centres: the largest, not the sum"
    );
    assert!(max_county.is_some());
    for (c, cell) in total.iter().enumerate().take(7).skip(2) {
        assert_eq!(int(cell), column_sum(towns, c), "column {c}");
    }
    let covered = column_sum(towns, 6).unwrap();
    let villages = column_sum(towns, 5).unwrap();
    assert_eq!(
        total[7],
        format!("{:.1}%", covered as f64 * 100.0 / villages as f64)
    );
    let reported: BTreeSet<String> = log
        .iter()
        .filter_map(|(_, _, e)| match e {
            ProjectEvent::ProgressReportSubmitted { form, .. }
                if form.get("reporting_unit").is_some() =>
            {
                form["reporting_unit"].as_str().map(str::to_string)
            }
            _ => None,
        })
        .collect();
    for t in towns {
        assert_eq!(t[7].is_empty(), !reported.contains(&t[0]), "{t:?}");
    }

    // Scope, roles and bad input.
    let outside = download(
        app,
        "auditor.jinan",
        "/exports/annex/000-1?jurisdiction=370000",
    )
    .await;
    assert_eq!(outside.status, 403);
    let own = both(app, "auditor.jinan", "000-1", "", "附件1").await;
    assert_eq!(own[2][0], "济南市");
    assert_eq!(
        own[3][0], "合计",
        "Jinan's table: its own row and the total"
    );
    let admin = download(app, "admin", "/exports/annex/000-1?jurisdiction=370000").await;
    assert_eq!(admin.status, 403);
    for (path, status, code) in [
        ("/exports/annex/000-9", 404, "resource.not_found"),
        ("/exports/annex/000-1?format=xls", 400, "request.bad_query"),
        (
            "/exports/annex/000-1?as_of=yesterday",
            400,
            "request.bad_query",
        ),
        (
            "/exports/annex/000-1?jurisdiction=99",
            400,
            "request.bad_query",
        ),
        ("/exports/annex/000-1?colour=red", 400, "request.bad_query"),
    ] {
        let reply = app.get("auditor.province", path).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
        let code_is = reply.body["code"].as_str().unwrap_or_default().to_string();
        assert!(
            code_is == code || (status == 400 && code_is.starts_with("request.")),
            "{path}: {}",
            reply.body
        );
    }
}

fn clock_now(clock: &store::FixedClock) -> DateTime<Utc> {
    use store::Clock;
    clock.now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annex_spreadsheets_read_back_with_the_seeds_headings_and_totals() {
    for backend in BACKENDS {
        let clock = store::FixedClock::new(at("2017-06-30T02:00:00Z"));
        let mut app = spawn_app_with_clock(backend, clock.clone()).await;
        check(&mut app, &clock).await;
    }
}
