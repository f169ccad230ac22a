//! Writes a [`Sheet`] as XLSX (rust_xlsxwriter) or CSV (RFC 4180, UTF-8 with a BOM, CRLF).

use rust_xlsxwriter::{
    Format as XFormat, FormatAlign, FormatBorder, FormatDiagonalBorder, Workbook, XlsxError,
};

use super::{Cell, Format, RowKind, Sheet};

/// The byte order mark that makes Excel read a CSV file as UTF-8.
pub const CSV_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The file's bytes.
pub fn render(sheet: &Sheet, format: Format) -> Result<Vec<u8>, XlsxError> {
    match format {
        Format::Xlsx => xlsx(sheet),
        Format::Csv => Ok(csv(sheet)),
    }
}

/// A cell's text in the CSV: numbers as digits, ratios as a percentage with one decimal, and
/// text that a spreadsheet would take for a formula (it starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return) behind an apostrophe, so that opening the file never runs it.
pub fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Int(v) => v.to_string(),
        Cell::Percent(r) => format!("{:.1}%", r * 100.0),
        Cell::Text(t) => {
            if t.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{t}")
            } else {
                t.clone()
            }
        }
    }
}

fn csv(sheet: &Sheet) -> Vec<u8> {
    let mut out = String::new();
    for row in sheet.text_grid() {
        let line: Vec<String> = row
            .into_iter()
            .map(|t| {
                if t.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", t.replace('"', "\"\""))
                } else {
                    t
                }
            })
            .collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    let mut bytes = CSV_BOM.to_vec();
    bytes.extend_from_slice(out.as_bytes());
    bytes
}

struct Looks {
    title: XFormat,
    caption: XFormat,
    heading: XFormat,
    diagonal: XFormat,
    text: XFormat,
    number: XFormat,
    percent: XFormat,
    total_text: XFormat,
    total_number: XFormat,
    total_percent: XFormat,
    note: XFormat,
}

impl Looks {
    fn new() -> Looks {
        let cell = || {
            XFormat::new()
                .set_border(FormatBorder::Thin)
                .set_align(FormatAlign::VerticalCenter)
                .set_font_name("宋体")
                .set_font_size(11)
        };
        Looks {
            title: XFormat::new()
                .set_bold()
                .set_font_name("黑体")
                .set_font_size(16)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            caption: XFormat::new().set_font_name("宋体").set_font_size(11),
            heading: cell()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            diagonal: cell()
                .set_bold()
                .set_text_wrap()
                .set_border_diagonal(FormatBorder::Thin)
                .set_border_diagonal_type(FormatDiagonalBorder::BorderDown),
            text: cell().set_align(FormatAlign::Center),
            number: cell().set_num_format("0"),
            percent: cell().set_num_format("0.0%"),
            total_text: cell().set_bold().set_align(FormatAlign::Center),
            total_number: cell().set_bold().set_num_format("0"),
            total_percent: cell().set_bold().set_num_format("0.0%"),
            note: XFormat::new()
                .set_font_name("宋体")
                .set_font_size(10)
                .set_text_wrap()
                .set_align(FormatAlign::VerticalCenter),
        }
    }
}

fn xlsx(sheet: &Sheet) -> Result<Vec<u8>, XlsxError> {
    let looks = Looks::new();
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet();
    ws.set_name(&sheet.sheet_name)?;
    let last_col = sheet.columns.saturating_sub(1);
    ws.set_column_width(0, 18)?;
    for col in 1..sheet.columns {
        ws.set_column_width(col, 13)?;
    }
    // Cells inside a merged range but its first are written by the merge.
    let covered = |r: u32, c: u16| {
        sheet.merges.iter().any(|m| {
            (m.first_row..=m.last_row).contains(&r)
                && (m.first_col..=m.last_col).contains(&c)
                && (r, c) != (m.first_row, m.first_col)
        })
    };
    for (i, row) in sheet.rows.iter().enumerate() {
        let r = i as u32;
        let spanning = match row.kind {
            RowKind::Title => Some(&looks.title),
            RowKind::Caption => Some(&looks.caption),
            RowKind::Note => Some(&looks.note),
            _ => None,
        };
        if let Some(look) = spanning {
            let text = csv_text(&row.cells[0]);
            if last_col > 0 {
                ws.merge_range(r, 0, r, last_col, &text, look)?;
            } else {
                ws.write_string_with_format(r, 0, &text, look)?;
            }
            if row.kind == RowKind::Title {
                ws.set_row_height(r, 36)?;
            } else if row.kind == RowKind::Note {
                ws.set_row_height(r, 30)?;
            }
            continue;
        }
        if row.kind == RowKind::Blank {
            continue;
        }
        if row.kind == RowKind::Heading {
            ws.set_row_height(r, 32)?;
        }
        for (j, cell) in row.cells.iter().enumerate() {
            let c = j as u16;
            if covered(r, c) {
                continue;
            }
            let total = row.kind == RowKind::Total;
            let (text_look, number_look, percent_look) = match row.kind {
                RowKind::Heading if sheet.diagonal.contains(&(r, c)) => {
                    (&looks.diagonal, &looks.diagonal, &looks.diagonal)
                }
                RowKind::Heading => (&looks.heading, &looks.heading, &looks.heading),
                _ if total => (&looks.total_text, &looks.total_number, &looks.total_percent),
                _ => (&looks.text, &looks.number, &looks.percent),
            };
            if let Some(m) = sheet
                .merges
                .iter()
                .find(|m| (m.first_row, m.first_col) == (r, c))
            {
                ws.merge_range(
                    m.first_row,
                    m.first_col,
                    m.last_row,
                    m.last_col,
                    &csv_text(cell),
                    text_look,
                )?;
                continue;
            }
            match cell {
                Cell::Empty => {
                    ws.write_blank(r, c, number_look)?;
                }
                // Text is always written as a string: never read as a formula.
                Cell::Text(t) => {
                    ws.write_string_with_format(r, c, t, text_look)?;
                }
                Cell::Int(v) => {
                    ws.write_number_with_format(r, c, *v as f64, number_look)?;
                }
                Cell::Percent(v) => {
                    ws.write_number_with_format(r, c, *v, percent_look)?;
                }
            }
        }
    }
    workbook.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        assert_eq!(csv_text(&Cell::Text("=1+1".into())), "'=1+1");
        assert_eq!(csv_text(&Cell::Text("@SUM(A1)".into())), "'@SUM(A1)");
        assert_eq!(csv_text(&Cell::Text("威海市".into())), "威海市");
        assert_eq!(csv_text(&Cell::Percent(0.5)), "50.0%");
        assert_eq!(csv_text(&Cell::Int(-3)), "-3");
        let mut sheet = Sheet::new("附件9", "测试".into(), 2);
        sheet.push(
            RowKind::Body,
            vec![
                Cell::Text("a,\"b\"".into()),
                Cell::Text("季度\n地市".into()),
            ],
        );
        let bytes = csv(&sheet);
        assert!(bytes.starts_with(CSV_BOM));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert_eq!(text, "测试,\r\n\"a,\"\"b\"\"\",\"季度\n地市\"\r\n");
    }
}
