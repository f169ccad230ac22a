//! Plain-text tables for the terminal, aligned by display width so Chinese text lines up.

use unicode_width::UnicodeWidthStr;

pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(headers: I) -> Self {
        Self {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, cells: I) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn render(&self) -> String {
        let cols = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(cell.width());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            for (i, cell) in cells.iter().enumerate().take(cols) {
                out.push_str(cell);
                if i + 1 < cols {
                    out.push_str(&" ".repeat(widths[i] - cell.width() + 2));
                }
            }
            out.push('\n');
        };
        line(&self.headers, &mut out);
        let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
        line(&rule, &mut out);
        for row in &self.rows {
            line(row, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn columns_align_by_display_width() {
        let mut t = Table::new(["名称", "stage"]);
        t.row(["沂源县快递进村", "notice"]);
        t.row(["ab", "x"]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        // "沂源县快递进村" is 14 columns wide; the second column starts at 16 on every line.
        assert_eq!(lines[2], "沂源县快递进村  notice");
        assert_eq!(lines[3], "ab              x");
    }
}
