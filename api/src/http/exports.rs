//! `GET /exports/annex/{name}`: the annex tables the bureaus exchange, as XLSX or CSV files
//! (see [`crate::annex`]), for a jurisdiction inside the reader's grants, as of a moment.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Principal, Role};
use super::errors::{ApiError, Problem};
use super::handlers::{bad_query, projection_error, read_at, scope_param};
use super::AppState;
use crate::annex::{self, AnnexName, Format};

/// `GET /exports/annex/{name}` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnnexQuery {
    /// `xlsx` (default) or `csv` (UTF-8 with a byte order mark).
    pub format: Option<String>,
    /// The GB/T 2260 code the table covers (default: your first grant). It must lie inside
    /// your jurisdictions.
    pub jurisdiction: Option<String>,
    /// Only what was recorded up to this moment: a date (the end of that day, Asia/Shanghai)
    /// or an RFC 3339 instant. Default: now.
    pub as_of: Option<String>,
    /// Read-your-writes: wait (up to 5 s) until the table includes this position.
    pub min_position: Option<i64>,
}

/// One of the annex tables as a spreadsheet: `000-1` (seed 000 附件1, 安装数量 per city and
/// quarter), `000-2` (附件2, operators' install plans per city), `000-3` (附件3, each city's
/// plan), `000-4` (附件4, the officials responsible), `002-townships` (seed 002, each
/// township's centres, village points and coverage). Headings and layout are the seed's;
/// totals are computed. The answer's `X-Projection-Position` says up to which global position
/// the facts were read.
#[utoipa::path(get, path = "/exports/annex/{name}", tag = "exports", security(("bearer" = [])),
    params(("name" = String, Path, description = "000-1, 000-2, 000-3, 000-4 or 002-townships"), AnnexQuery),
    responses(
        (status = 200, description = "the file, as an attachment", content(
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("text/csv")),
            headers(("X-Projection-Position" = i64, description = "the table includes every event up to this position"),
                ("Content-Disposition" = String, description = "attachment with the suggested file name"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn annex_export(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<AnnexQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(
        &[Role::Officer, Role::Supervisor, Role::Auditor],
        "export annex tables",
    )?;
    let name = AnnexName::parse(&path).map_err(ApiError::NotFound)?;
    let query = query.into_inner();
    let format = Format::parse(query.format.as_deref().unwrap_or("xlsx")).map_err(bad_query)?;
    let as_of = query
        .as_of
        .as_deref()
        .map(annex::parse_as_of)
        .transpose()
        .map_err(bad_query)?;
    let scope = match scope_param(query.jurisdiction.as_deref())? {
        Some(code) => code,
        None => principal
            .user
            .jurisdictions
            .first()
            .cloned()
            .ok_or_else(|| ApiError::Forbidden("you have no jurisdiction to export".into()))?,
    };
    if !principal.user.covers(&scope) {
        return Err(ApiError::Forbidden(format!(
            "{scope} is outside your jurisdictions"
        )));
    }
    let (slot, position) = read_at(
        &state,
        projections::annex::ANNEX,
        "the annex tables",
        query.min_position,
    )
    .await?;
    let sheet = annex::build(
        state.projections.reader(),
        state.engine.programmes(),
        &annex::Request {
            name,
            scope,
            as_of,
            slot,
            position,
        },
    )
    .await
    .map_err(|e| match e {
        annex::AnnexError::Projection(e) => projection_error(e),
        other => ApiError::Internal(other.to_string()),
    })?;
    let bytes = annex::render(&sheet, format)
        .map_err(|e| ApiError::Internal(format!("writing the spreadsheet: {e}")))?;
    let file_name = sheet.file_name(format);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, format.content_type()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            header::ContentDisposition {
                disposition: header::DispositionType::Attachment,
                parameters: vec![
                    header::DispositionParam::Filename(format!(
                        "annex-{}.{}",
                        name.id(),
                        format.extension()
                    )),
                    header::DispositionParam::FilenameExt(header::ExtendedValue {
                        charset: header::Charset::Ext("UTF-8".into()),
                        language_tag: None,
                        value: file_name.into_bytes(),
                    }),
                ],
            },
        ))
        .insert_header(("X-Projection-Position", position.to_string()))
        .body(bytes))
}
