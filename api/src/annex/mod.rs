//! The annex tables the bureaus exchange, as spreadsheets: seed 000's annexes 1–4 (the 2017
//! smart-locker programme) and seed 002's township progress table (the 2021 "express into every
//! village" programme), filled from the persisted `annex` projection for a jurisdiction as of a
//! moment, laid out as the seeds lay them out, written as XLSX or as CSV (UTF-8 with a BOM, so
//! that Excel opens it). `GET /exports/annex/{name}` and `subsidy export annex NAME` both call
//! [`build`] and then [`render`].
//!
//! Main items: [`AnnexName`] (which table), [`Format`], [`Sheet`] (a table as a grid of
//! [`Cell`]s with its merged ranges, the same for both formats), [`build`], [`render`],
//! [`parse_as_of`].
//!
//! What the engine does not record stays empty and the sheet says so in a note: the operators'
//! install plans (annex 2) and the figures at the end of the previous year (annex 3's
//! 截止上年底) come from the 安装布设计划表, which no command carries; an official's office
//! (annex 4's 科（处）室) is not part of an official. Totals are computed from the rows, never
//! typed.

mod render;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use domain::JurisdictionCode;
use projections::annex::{self, Fact, FactQuery};
use projections::sql::Db;
use workflows::programme::ProgrammeRegistry;

pub use render::{render, CSV_BOM};

/// The tables there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnexName {
    /// Seed 000, 附件1: 各市智能快件箱安装进展情况表.
    Progress,
    /// Seed 000, 附件2: 主要智能快件箱企业全省安装计划.
    Operators,
    /// Seed 000, 附件3: 各市\各企业智能快件箱安装计划表.
    Plans,
    /// Seed 000, 附件4: 智能快件箱进楼宇工程责任人名单.
    Officials,
    /// Seed 002: the townships' progress (镇级中心、村级网点、通达率).
    Townships,
}

impl AnnexName {
    pub const ALL: [AnnexName; 5] = [
        AnnexName::Progress,
        AnnexName::Operators,
        AnnexName::Plans,
        AnnexName::Officials,
        AnnexName::Townships,
    ];

    /// The name in URLs and on the command line: the seed, then the annex.
    pub fn id(self) -> &'static str {
        match self {
            AnnexName::Progress => "000-1",
            AnnexName::Operators => "000-2",
            AnnexName::Plans => "000-3",
            AnnexName::Officials => "000-4",
            AnnexName::Townships => "002-townships",
        }
    }

    pub fn parse(s: &str) -> Result<AnnexName, String> {
        Self::ALL.into_iter().find(|a| a.id() == s).ok_or_else(|| {
            format!(
                "no annex '{s}'; the annexes are: {}",
                Self::ALL
                    .map(|a| format!("{} ({})", a.id(), a.description()))
                    .join(", ")
            )
        })
    }

    /// The seed whose programme the table reports on.
    pub fn seed(self) -> &'static str {
        match self {
            AnnexName::Townships => "002",
            _ => "000",
        }
    }

    /// The table's title as the seed gives it (without the year), for links and lists.
    pub fn title_zh(self) -> &'static str {
        match self {
            AnnexName::Progress => "附件1 各市智能快件箱安装进展情况表",
            AnnexName::Operators => "附件2 主要智能快件箱企业全省安装计划",
            AnnexName::Plans => "附件3 各市\\各企业智能快件箱安装计划表",
            AnnexName::Officials => "附件4 智能快件箱进楼宇工程责任人名单",
            AnnexName::Townships => "“快递进村”工作推进情况表（分镇）",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            AnnexName::Progress => "seed 000 annex 1, progress per city and quarter",
            AnnexName::Operators => "seed 000 annex 2, install plan per operator and city",
            AnnexName::Plans => "seed 000 annex 3, plan per city",
            AnnexName::Officials => "seed 000 annex 4, officials responsible",
            AnnexName::Townships => "seed 002, progress per township",
        }
    }
}

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "xlsx" => Ok(Format::Xlsx),
            "csv" => Ok(Format::Csv),
            other => Err(format!("unknown format '{other}'; formats are xlsx, csv")),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// Reads an "as of" value: an RFC 3339 instant, or a calendar date meaning the end of that day
/// in Asia/Shanghai (everything recorded before the next day began there).
pub fn parse_as_of(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(s) {
        return Ok(at.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        format!("as_of '{s}' is neither a date (2017-07-01) nor an RFC 3339 instant (2017-07-01T12:00:00+08:00)")
    })?;
    let next = day
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(Shanghai).single())
        .ok_or_else(|| format!("as_of '{s}' is out of range"))?;
    Ok(next.with_timezone(&Utc) - chrono::Duration::microseconds(1))
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    /// A ratio (0.5 is 50 %), shown as a percentage with one decimal.
    Percent(f64),
}

impl Cell {
    fn opt(v: Option<i64>) -> Cell {
        v.map(Cell::Int).unwrap_or(Cell::Empty)
    }

    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
}

/// What a row is, for its look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// The table's title (merged across the table).
    Title,
    /// A line above the table (填报单位), merged across.
    Caption,
    /// Column headings.
    Heading,
    Body,
    /// A totals row.
    Total,
    /// A remark below the table, merged across.
    Note,
    /// An empty line between blocks.
    Blank,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub kind: RowKind,
    pub cells: Vec<Cell>,
}

/// A range of merged cells (inclusive, zero-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    pub first_row: u32,
    pub first_col: u16,
    pub last_row: u32,
    pub last_col: u16,
}

/// A table laid out: the same grid is written as XLSX and as CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// The worksheet's name (附件1…).
    pub sheet_name: String,
    /// The title, also the file name's stem.
    pub title: String,
    pub columns: u16,
    pub rows: Vec<Row>,
    /// Merged ranges besides the title, caption and note rows (which span the table).
    pub merges: Vec<Merge>,
    /// Heading cells split by a diagonal line (column label above, row label below).
    pub diagonal: Vec<(u32, u16)>,
}

impl Sheet {
    fn new(sheet_name: &str, title: String, columns: u16) -> Sheet {
        let mut sheet = Sheet {
            sheet_name: sheet_name.to_string(),
            title: title.clone(),
            columns,
            rows: Vec::new(),
            merges: Vec::new(),
            diagonal: Vec::new(),
        };
        sheet.line(RowKind::Title, title);
        sheet
    }

    /// The index the next row gets.
    fn next(&self) -> u32 {
        self.rows.len() as u32
    }

    fn push(&mut self, kind: RowKind, mut cells: Vec<Cell>) {
        cells.resize(self.columns as usize, Cell::Empty);
        self.rows.push(Row { kind, cells });
    }

    /// A row whose one text spans the table (title, caption, note).
    fn line(&mut self, kind: RowKind, text: impl Into<String>) {
        self.push(kind, vec![Cell::text(text)]);
    }

    fn blank(&mut self) {
        self.push(RowKind::Blank, Vec::new());
    }

    fn merge(&mut self, first_row: u32, first_col: u16, last_row: u32, last_col: u16) {
        self.merges.push(Merge {
            first_row,
            first_col,
            last_row,
            last_col,
        });
    }

    /// The suggested file name.
    pub fn file_name(&self, format: Format) -> String {
        format!(
            "{}_{}.{}",
            self.sheet_name,
            self.title.replace(['\\', '/'], "、"),
            format.extension()
        )
    }

    /// Every cell as the CSV shows it (the tests compare the XLSX with it).
    pub fn text_grid(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| r.cells.iter().map(render::csv_text).collect())
            .collect()
    }
}

/// Why a table cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum AnnexError {
    #[error("no programme definition follows seed {0}: the table has nothing to report on")]
    NoProgramme(&'static str),
    #[error(transparent)]
    Projection(#[from] projections::ProjectionError),
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Request {
    pub name: AnnexName,
    pub scope: JurisdictionCode,
    /// Only what was recorded at or before this instant.
    pub as_of: Option<DateTime<Utc>>,
    /// The live slot of the `annex` projection and the position it has reached.
    pub slot: String,
    pub position: i64,
}

/// Seed 000's cities in the order of its annexes 1 and 2, with their GB/T 2260 codes (as of
/// 2017: 莱芜 was still a city).
pub const SHANDONG_CITIES: [(&str, &str); 17] = [
    ("济南市", "370100"),
    ("青岛市", "370200"),
    ("淄博市", "370300"),
    ("枣庄市", "370400"),
    ("东营市", "370500"),
    ("烟台市", "370600"),
    ("潍坊市", "370700"),
    ("济宁市", "370800"),
    ("泰安市", "370900"),
    ("威海市", "371000"),
    ("日照市", "371100"),
    ("莱芜市", "371200"),
    ("临沂市", "371300"),
    ("德州市", "371400"),
    ("聊城市", "371500"),
    ("滨州市", "371600"),
    ("菏泽市", "371700"),
];

/// Seed 000's seven pilot cities in the order of its annex 3 (they also file annex 4).
pub const PILOT_CITIES: [&str; 7] = [
    "威海市",
    "东营市",
    "滨州市",
    "德州市",
    "枣庄市",
    "日照市",
    "莱芜市",
];

/// Seed 000's operators in the order of annex 2's columns.
pub const OPERATORS: [&str; 7] = [
    "山东邮政",
    "丰巢",
    "速递易",
    "日日顺",
    "云柜",
    "近邻宝",
    "精致物联",
];

/// Yiyuan county (seed 002) and its townships in the order of the seed's 附件1.
pub const YIYUAN: &str = "370323";
pub const YIYUAN_TOWNSHIPS: [&str; 12] = [
    "南麻街道",
    "历山街道",
    "南鲁山镇",
    "鲁村镇",
    "大张庄镇",
    "燕崖镇",
    "中庄镇",
    "西里镇",
    "东里镇",
    "张家坡镇",
    "石桥镇",
    "悦庄镇",
];

fn city_code(name: &str) -> Option<&'static str> {
    SHANDONG_CITIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
}

/// A unit's name: a city code of seed 000 becomes the city's name.
fn unit_name(unit: &str) -> String {
    SHANDONG_CITIES
        .iter()
        .find(|(_, c)| *c == unit)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| unit.to_string())
}

/// Whether a seed row of division `code` belongs in a table of `scope`: it lies inside the
/// scope, or the scope inside it (a county's table keeps its city's row).
fn in_scope(scope: &JurisdictionCode, code: &str) -> bool {
    JurisdictionCode::parse(code).is_ok_and(|c| scope.covers(&c) || c.covers(scope))
}

/// The rows of a table: the seed's units that lie in scope, in the seed's order, then every
/// other unit present in the data, by name.
fn row_units<'a>(
    seed: impl IntoIterator<Item = (&'a str, &'a str)>,
    scope: &JurisdictionCode,
    present: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let seed: Vec<(&str, &str)> = seed.into_iter().collect();
    let mut rows: Vec<String> = seed
        .iter()
        .filter(|(_, code)| in_scope(scope, code))
        .map(|(name, _)| name.to_string())
        .collect();
    let mut others: Vec<String> = present
        .into_iter()
        .map(|u| unit_name(&u))
        .filter(|u| !seed.iter().any(|(name, _)| name == u))
        .collect();
    others.sort();
    others.dedup();
    rows.extend(others);
    rows
}

/// Units named by a plan or a report (not merely registered).
fn reported_units(facts: &[Fact]) -> Vec<String> {
    facts
        .iter()
        .filter(|f| matches!(f.kind, annex::FactKind::Plan | annex::FactKind::Report))
        .filter_map(|f| annex::form_unit(&f.data["form"]))
        .collect()
}

fn total_label(scope: &JurisdictionCode) -> &'static str {
    if scope.level() == domain::JurisdictionLevel::Province {
        "全省合计"
    } else {
        "合计"
    }
}

/// The line that says what the table covers.
fn provenance(req: &Request) -> String {
    let as_of = match req.as_of {
        Some(at) => at
            .with_timezone(&Shanghai)
            .format("%Y-%m-%d %H:%M:%S（北京时间）")
            .to_string(),
        None => "导出时".to_string(),
    };
    format!(
        "数据来源：项目管理系统；辖区：{}；数据截至：{}；事件位置：{}。",
        req.scope, as_of, req.position
    )
}

/// Builds a table from the live `annex` projection.
pub async fn build(
    db: &Db,
    programmes: &ProgrammeRegistry,
    req: &Request,
) -> Result<Sheet, AnnexError> {
    let seed = req.name.seed();
    let mut of_seed: Vec<_> = programmes
        .all()
        .into_iter()
        .filter(|p| p.source.seed == seed)
        .collect();
    of_seed.sort_by_key(|p| (p.year, p.version));
    let year = of_seed
        .last()
        .map(|p| p.year)
        .ok_or(AnnexError::NoProgramme(seed))?;
    let mut ids: Vec<String> = of_seed.iter().map(|p| p.id.clone()).collect();
    ids.sort();
    ids.dedup();
    // Only annex 4 needs every project (registrations) and its officials; the other tables
    // read plans and reports.
    let kinds = match req.name {
        AnnexName::Officials => Vec::new(),
        _ => vec![annex::FactKind::Plan, annex::FactKind::Report],
    };
    let facts = annex::facts(
        db,
        &req.slot,
        &FactQuery {
            programmes: ids,
            kinds,
            scope: req.scope.clone(),
            position: req.position,
            as_of: req.as_of,
        },
    )
    .await?;
    Ok(match req.name {
        AnnexName::Progress => progress_sheet(req, year, &facts),
        AnnexName::Operators => operators_sheet(req, year, &facts),
        AnnexName::Plans => plans_sheet(req, year, &facts),
        AnnexName::Officials => officials_sheet(req, year, &facts),
        AnnexName::Townships => townships_sheet(req, year, &facts),
    })
}

/// Annex 1: 安装数量 per city and period.
fn progress_sheet(req: &Request, year: i32, facts: &[Fact]) -> Sheet {
    let table = annex::progress_by_city(facts);
    let mut s = Sheet::new("附件1", format!("{year}年各市智能快件箱安装进展情况表"), 5);
    let heading = s.next();
    let mut cells = vec![Cell::text("季度\n地市")];
    cells.extend(annex::PERIODS.iter().map(|p| Cell::text(*p)));
    s.push(RowKind::Heading, cells);
    s.diagonal.push((heading, 0));
    let units = row_units(
        SHANDONG_CITIES,
        &req.scope,
        table.rows.keys().cloned().chain(reported_units(facts)),
    );
    for unit in units {
        let figures = table.rows.get(&unit).copied().unwrap_or_default();
        let mut cells = vec![Cell::text(unit)];
        cells.extend(figures.map(Cell::opt));
        s.push(RowKind::Body, cells);
    }
    let mut cells = vec![Cell::text(total_label(&req.scope))];
    cells.extend(table.total.map(Cell::opt));
    s.push(RowKind::Total, cells);
    s.line(
        RowKind::Note,
        "备注：请于7月1日、10月1日和12月31日前报送本市工作进展情况。各栏为安装数量（组），取各市该期最新一次报送的全市合计数。",
    );
    s.line(RowKind::Note, provenance(req));
    s
}

/// Annex 2: operators' install plans per city (not recorded by the engine: the cells stay
/// empty and the note says why).
fn operators_sheet(req: &Request, year: i32, facts: &[Fact]) -> Sheet {
    let columns = OPERATORS.len() as u16 + 2;
    let mut s = Sheet::new(
        "附件2",
        format!("{year}年主要智能快件箱企业全省安装计划"),
        columns,
    );
    let heading = s.next();
    let mut cells = vec![Cell::text("布设公司\n地市")];
    cells.extend(OPERATORS.iter().map(|o| Cell::text(*o)));
    cells.push(Cell::text("合计"));
    s.push(RowKind::Heading, cells);
    s.diagonal.push((heading, 0));
    for unit in row_units(SHANDONG_CITIES, &req.scope, reported_units(facts)) {
        s.push(RowKind::Body, vec![Cell::text(unit)]);
    }
    s.push(RowKind::Total, vec![Cell::text(total_label(&req.scope))]);
    s.line(
        RowKind::Note,
        "说明：各企业的安装计划由安装布设计划表（附件1、附件2）报送，本系统尚无报送该表的步骤，故各栏为空；合计栏由各栏计算。",
    );
    s.line(RowKind::Note, provenance(req));
    s
}

/// Annex 3: per city, the figures at the end of the previous year (not recorded) and the plan
/// for the year (the latest plan's 年度计划).
fn plans_sheet(req: &Request, year: i32, facts: &[Fact]) -> Sheet {
    let table = annex::plans_by_city(facts);
    let mut s = Sheet::new(
        "附件3",
        format!("{year}年各市\\各企业智能快件箱安装计划表"),
        9,
    );
    let first = s.next();
    let mut top = vec![
        Cell::text("城市"),
        Cell::text(format!("截止{}年底", year - 1)),
    ];
    top.extend(std::iter::repeat_n(Cell::Empty, 3));
    top.push(Cell::text(format!("{year}年安装计划")));
    s.push(RowKind::Heading, top);
    let mut second = vec![Cell::Empty];
    for _ in 0..2 {
        second.extend(
            ["安装数量", "累计组数", "格口数", "派送快件量"]
                .iter()
                .map(|h| Cell::text(*h)),
        );
    }
    s.push(RowKind::Heading, second);
    s.merge(first, 0, first + 1, 0);
    s.merge(first, 1, first, 4);
    s.merge(first, 5, first, 8);
    let seed = PILOT_CITIES.map(|c| (c, city_code(c).unwrap_or_default()));
    let units = row_units(
        seed,
        &req.scope,
        table.rows.keys().cloned().chain(reported_units(facts)),
    );
    for unit in units {
        let plan = table.rows.get(&unit).copied().unwrap_or_default();
        let mut cells = vec![Cell::text(unit)];
        cells.extend(std::iter::repeat_n(Cell::Empty, 4));
        cells.extend(plan.map(Cell::opt));
        s.push(RowKind::Body, cells);
    }
    let mut cells = vec![Cell::text(total_label(&req.scope))];
    cells.extend(std::iter::repeat_n(Cell::Empty, 4));
    cells.extend(table.total.map(Cell::opt));
    s.push(RowKind::Total, cells);
    s.line(
        RowKind::Note,
        format!(
            "说明：{year}年安装计划取各市最新一次报送的工作推进方案中的年度计划；截止{}年底各栏由安装布设计划表报送，本系统尚无报送该表的步骤，故为空。",
            year - 1
        ),
    );
    s.line(RowKind::Note, provenance(req));
    s
}

/// Annex 4: per unit, the official in charge and the liaison (the latest assigned on any of
/// its projects).
fn officials_sheet(req: &Request, year: i32, facts: &[Fact]) -> Sheet {
    let officials = annex::officials_by_unit(facts, &unit_name);
    let mut s = Sheet::new(
        "附件4",
        format!("{year}年智能快件箱进楼宇工程责任人名单"),
        6,
    );
    let seed = PILOT_CITIES.map(|c| (c, city_code(c).unwrap_or_default()));
    let units = row_units(seed, &req.scope, officials.keys().cloned());
    for (i, unit) in units.iter().enumerate() {
        if i > 0 {
            s.blank();
        }
        s.line(RowKind::Caption, format!("填报单位：{unit}"));
        let heading = s.next();
        s.push(
            RowKind::Heading,
            ["类别\n项目", "姓名", "职务", "联系方式", "邮箱", "备注"]
                .map(Cell::text)
                .to_vec(),
        );
        s.diagonal.push((heading, 0));
        let found = officials.get(unit).cloned().unwrap_or_default();
        for (label, official) in [
            ("分管领导", found.official_in_charge),
            ("联络员及科（处）室", found.liaison),
        ] {
            let mut cells = vec![Cell::text(label)];
            if let Some(o) = official {
                cells.extend([
                    Cell::text(o.name),
                    Cell::text(o.post),
                    o.phone.map(Cell::Text).unwrap_or(Cell::Empty),
                    Cell::text(o.email),
                ]);
            }
            s.push(RowKind::Body, cells);
        }
    }
    s.line(
        RowKind::Note,
        "说明：取各单位项目最新指定的分管领导和联络员；承办科（处）室本系统未记录，备注栏为空。",
    );
    s.line(RowKind::Note, provenance(req));
    s
}

/// Seed 002: per township, the three tiers built and the coverage of its villages.
fn townships_sheet(req: &Request, year: i32, facts: &[Fact]) -> Sheet {
    let table = annex::townships(facts);
    let mut s = Sheet::new(
        "进展情况",
        format!("沂源县{year}年“快递进村”工作推进情况表"),
        8,
    );
    let first = s.next();
    s.push(
        RowKind::Heading,
        vec![
            Cell::text("镇（街道）"),
            Cell::text("县级快递共同配送中心（处）"),
            Cell::text("镇级快递公共服务中心（处）"),
            Cell::text("村级快递服务网点（个）"),
            Cell::Empty,
            Cell::text("行政村（村居）（个）"),
            Cell::Empty,
            Cell::text("“快递进村”通达率"),
        ],
    );
    s.push(
        RowKind::Heading,
        vec![
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::text("已建成"),
            Cell::text("计划"),
            Cell::text("总数"),
            Cell::text("已覆盖"),
            Cell::Empty,
        ],
    );
    for col in [0, 1, 2, 7] {
        s.merge(first, col, first + 1, col);
    }
    s.merge(first, 3, first, 4);
    s.merge(first, 5, first, 6);
    let seed = YIYUAN_TOWNSHIPS.map(|t| (t, YIYUAN));
    let units = row_units(seed, &req.scope, table.rows.keys().cloned());
    let row_cells = |label: &str, r: &annex::TownshipRow| {
        vec![
            Cell::text(label),
            Cell::opt(r.county_centres_built),
            Cell::opt(r.township_centres_built),
            Cell::opt(r.village_points_built),
            Cell::opt(r.village_points_planned),
            Cell::opt(r.villages_total),
            Cell::opt(r.villages_covered),
            r.coverage().map(Cell::Percent).unwrap_or(Cell::Empty),
        ]
    };
    for unit in units {
        let row = table.rows.get(&unit).cloned().unwrap_or_default();
        s.push(RowKind::Body, row_cells(&unit, &row));
    }
    // The table is a county's: its total is never the province's.
    s.push(RowKind::Total, row_cells("合计", &table.total));
    s.line(
        RowKind::Note,
        "说明：各栏取各镇（街道）最新一次报送的工作推进情况，计划网点数取最新工作方案所列村级网点；县级共同配送中心全县共用，合计取最大值而非相加；通达率＝已覆盖行政村数÷行政村总数。",
    );
    s.line(RowKind::Note, provenance(req));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_reads_dates_as_the_end_of_the_day_in_shanghai() {
        let at = parse_as_of("2017-07-01").unwrap();
        assert_eq!(store::format_recorded_at(at), "2017-07-01T15:59:59.999999Z");
        let at = parse_as_of("2017-07-01T12:00:00+08:00").unwrap();
        assert_eq!(store::format_recorded_at(at), "2017-07-01T04:00:00.000000Z");
        let err = parse_as_of("July 1st").unwrap_err();
        assert!(err.contains("neither a date"), "{err}");
    }

    #[test]
    fn names_and_formats_parse_or_say_what_exists() {
        for a in AnnexName::ALL {
            assert_eq!(AnnexName::parse(a.id()), Ok(a));
        }
        let err = AnnexName::parse("annex-9").unwrap_err();
        assert!(
            err.contains("000-1") && err.contains("002-townships"),
            "{err}"
        );
        assert_eq!(Format::parse("csv"), Ok(Format::Csv));
        assert!(Format::parse("xls").unwrap_err().contains("xlsx, csv"));
    }

    #[test]
    fn rows_follow_the_seed_then_other_units_in_scope() {
        let province = JurisdictionCode::parse("370000").unwrap();
        let rows = row_units(SHANDONG_CITIES, &province, vec!["某新区".to_string()]);
        assert_eq!(rows.len(), 18);
        assert_eq!(rows[0], "济南市");
        assert_eq!(rows[16], "菏泽市");
        assert_eq!(rows[17], "某新区");
        let weihai = JurisdictionCode::parse("371000").unwrap();
        assert_eq!(
            row_units(SHANDONG_CITIES, &weihai, vec!["威海市".to_string()]),
            vec!["威海市"]
        );
        let county = JurisdictionCode::parse("371002").unwrap();
        assert_eq!(
            row_units(SHANDONG_CITIES, &county, Vec::new()),
            vec!["威海市"]
        );
        let jinan = JurisdictionCode::parse("370100").unwrap();
        assert!(row_units(YIYUAN_TOWNSHIPS.map(|t| (t, YIYUAN)), &jinan, Vec::new()).is_empty());
    }
}
