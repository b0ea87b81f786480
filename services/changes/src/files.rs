//! Spreadsheet files read into rows of text cells: CSV (UTF-8, comma- or semicolon-separated, as
//! Excel writes it in a Danish locale) and XLSX (the first worksheet). What the cells mean is the
//! domain's business (`domain::import`); no I/O here.

use calamine::{Data, DataType, Reader};

/// A file read into cells: its header row and the rows below it.
#[derive(Debug, Default)]
pub struct Table {
    /// The header row's cells.
    pub header: Vec<String>,
    /// The rows below the header, wholly blank rows left out.
    pub rows: Vec<TableRow>,
}

/// One row of a file.
#[derive(Debug)]
pub struct TableRow {
    /// Its number as a spreadsheet shows it (the header is row 1).
    pub number: u64,
    /// Its cells, or why they cannot be read.
    pub cells: Result<Vec<String>, CellError>,
}

/// Why a workbook cell cannot be read as text.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CellError {
    /// A date the conversion cannot express.
    #[error("holds a date the workbook cannot express")]
    DateNotExpressible,
    /// A day count outside the years 1900–9999.
    #[error("holds a date outside the years 1900–9999")]
    DateOutOfRange,
    /// A formula's error value (`#REF!`).
    #[error("holds the spreadsheet error {0}")]
    SpreadsheetError(String),
}

/// Why a file cannot be read at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    /// Neither CSV nor XLSX.
    #[error("is neither CSV (UTF-8 text) nor XLSX{0}")]
    UnknownFormat(&'static str),
    /// A CSV file in another encoding than UTF-8.
    #[error("is not UTF-8 text: save it as \"CSV UTF-8\" (or as XLSX)")]
    NotUtf8,
    /// A CSV file that cannot be read.
    #[error("cannot be read as CSV: {0}")]
    BadCsv(String),
    /// An XLSX file that cannot be read.
    #[error("is not a readable XLSX workbook: {0}")]
    BadWorkbook(String),
    /// No header row.
    #[error("is empty: it needs a header row with the published column names")]
    Empty,
}

/// How an XLSX file begins (a zip archive).
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// How an XLS (Excel 97–2003) file begins.
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0];
/// The day count of 31 December 9999, the last date a workbook holds.
const DATE_SERIAL_MAX: f64 = 2_958_465.0;
/// How far into a file binary content is looked for.
const SNIFF_LEN: usize = 8 * 1024;

/// Reads a CSV or XLSX file, telling them apart by their content.
pub fn read(bytes: &[u8]) -> Result<Table, FileError> {
    if bytes.starts_with(ZIP_MAGIC) {
        read_xlsx(bytes)
    } else if bytes.starts_with(OLE_MAGIC) {
        Err(FileError::UnknownFormat(
            " (it is an Excel 97–2003 XLS file: save it as XLSX or CSV)",
        ))
    } else if bytes[..bytes.len().min(SNIFF_LEN)].contains(&0) {
        Err(FileError::UnknownFormat(""))
    } else {
        read_csv(bytes)
    }
}

fn read_csv(bytes: &[u8]) -> Result<Table, FileError> {
    let text = std::str::from_utf8(bytes).map_err(|_| FileError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut header = None;
    let mut rows = Vec::new();
    // A spreadsheet shows each record as one row, and each empty line (which CSV readers skip) as an
    // empty row: a record's row is its line less the line breaks inside earlier records' cells.
    let bytes = text.as_bytes();
    let (mut counted_to, mut line, mut breaks_in_cells) = (0, 1, 0);
    for record in reader.records() {
        let record = record.map_err(|e| FileError::BadCsv(e.to_string()))?;
        // Where the record really starts: its reported position is before the empty lines it skipped.
        let mut start = record
            .position()
            .map_or(counted_to, |p| p.byte() as usize)
            .max(counted_to);
        while bytes.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            start += 1;
        }
        line += bytes[counted_to..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        counted_to = start;
        let row_number = line - breaks_in_cells;
        breaks_in_cells += record
            .iter()
            .map(|f| f.matches('\n').count() as u64)
            .sum::<u64>();
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        if header.is_none() {
            header = Some(cells);
        } else if !is_blank(&cells) {
            rows.push(TableRow {
                number: row_number,
                cells: Ok(cells),
            });
        }
    }
    Ok(Table {
        header: header.ok_or(FileError::Empty)?,
        rows,
    })
}

fn is_blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

fn read_xlsx(bytes: &[u8]) -> Result<Table, FileError> {
    let bad = |err: calamine::XlsxError| FileError::BadWorkbook(err.to_string());
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).map_err(bad)?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or(FileError::Empty)?
        .map_err(bad)?;
    let Some((first_row, _)) = range.start() else {
        return Err(FileError::Empty);
    };
    let mut rows = range.rows().enumerate().map(|(index, row)| {
        let number = u64::from(first_row) + index as u64 + 1;
        (
            number,
            row.iter().map(cell_text).collect::<Result<Vec<_>, _>>(),
        )
    });
    let header = match rows.next() {
        Some((_, Ok(header))) => header,
        Some((_, Err(reason))) => return Err(FileError::BadWorkbook(reason.to_string())),
        None => return Err(FileError::Empty),
    };
    let rows = rows
        .filter(|(_, cells)| !cells.as_ref().is_ok_and(|c| is_blank(c)))
        .map(|(number, cells)| TableRow { number, cells })
        .collect();
    Ok(Table { header, rows })
}

/// A workbook cell as text: numbers without a needless `.0`, dates in the published format.
fn cell_text(cell: &Data) -> Result<String, CellError> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        // A date is a day count from 1900; one outside the years 1900–9999 is no date (and is kept
        // from the conversion, which cannot take every number).
        Data::DateTime(date) if (0.0..=DATE_SERIAL_MAX).contains(&date.as_f64()) => cell
            .as_datetime()
            .map(|t| t.format("%d-%m-%Y %H:%M").to_string())
            .ok_or(CellError::DateNotExpressible)?,
        Data::DateTime(_) => return Err(CellError::DateOutOfRange),
        Data::Error(err) => return Err(CellError::SpreadsheetError(err.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(table: &Table) -> Vec<(u64, Vec<String>)> {
        table
            .rows
            .iter()
            .map(|r| (r.number, r.cells.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn csv_is_read_with_either_separator_and_quoted_line_breaks() {
        let comma = read(b"\xEF\xBB\xBFA,B\n1,\"two\nlines\"\n,\n3,4\n").unwrap_or_default();
        assert_eq!(comma.header, ["A", "B"]);
        assert_eq!(
            cells(&comma),
            [
                (2, vec!["1".to_owned(), "two\nlines".to_owned()]),
                (4, vec!["3".to_owned(), "4".to_owned()])
            ],
            "the blank row 3 is left out; numbers are the spreadsheet's"
        );
        let empty_lines =
            read(b"\r\nA,B\r\n\r\n1,\"x\r\ny\"\r\n\r\n\r\n2,3\r\n").unwrap_or_default();
        assert_eq!(
            cells(&empty_lines)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>(),
            [4, 7],
            "empty lines are empty rows, as a spreadsheet shows them"
        );
        let semicolon = read("A;B\nx,y;z\n".as_bytes()).unwrap_or_default();
        assert_eq!(semicolon.header, ["A", "B"]);
        assert_eq!(
            cells(&semicolon),
            [(2, vec!["x,y".to_owned(), "z".to_owned()])]
        );
    }

    #[test]
    fn a_csv_that_is_not_utf8_is_refused_whole() {
        assert_eq!(read(b"A,B\n\xe6,1\n2,3\n").err(), Some(FileError::NotUtf8));
    }

    #[test]
    fn binary_files_and_xls_are_neither_csv_nor_xlsx() {
        assert!(matches!(
            read(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Err(FileError::UnknownFormat(_))
        ));
        assert!(matches!(
            read(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1]),
            Err(FileError::UnknownFormat(_))
        ));
        assert!(matches!(
            read(b"PK\x03\x04garbage"),
            Err(FileError::BadWorkbook(_))
        ));
        assert_eq!(read(b"").err(), Some(FileError::Empty));
    }

    #[test]
    fn workbook_cells_read_as_text() {
        assert_eq!(cell_text(&Data::Float(55200.0)), Ok("55200".to_owned()));
        assert_eq!(cell_text(&Data::Float(1.5)), Ok("1.5".to_owned()));
        assert!(cell_text(&Data::Error(calamine::CellErrorType::Ref)).is_err());
        let date = |value: f64| {
            Data::DateTime(calamine::ExcelDateTime::new(
                value,
                calamine::ExcelDateTimeType::DateTime,
                false,
            ))
        };
        assert_eq!(
            cell_text(&date(44351.463194444)),
            Ok("04-06-2021 11:07".to_owned())
        );
        assert!(cell_text(&date(-1e12)).is_err());
        assert!(cell_text(&date(f64::INFINITY)).is_err());
    }
}
