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
    pub cells: Result<Vec<String>, String>,
}

/// Why a file cannot be read at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    /// Neither CSV nor XLSX.
    #[error("is neither CSV (UTF-8 text) nor XLSX{0}")]
    UnknownFormat(&'static str),
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
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |c: u8| first_line.iter().filter(|b| **b == c).count();
    let delimiter = if count(b';') > count(b',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        None => return Err(FileError::Empty),
        Some(record) => record
            .ok()
            .and_then(|r| text_cells(&r).ok())
            .ok_or(FileError::UnknownFormat(""))?,
    };
    let mut rows = Vec::new();
    for (index, record) in records.enumerate() {
        let number = index as u64 + 2;
        let cells = match record {
            Ok(record) => text_cells(&record),
            Err(err) => Err(format!("cannot be read as CSV: {err}")),
        };
        if cells.as_ref().is_ok_and(|c| is_blank(c)) {
            continue;
        }
        rows.push(TableRow { number, cells });
    }
    Ok(Table { header, rows })
}

fn text_cells(record: &csv::ByteRecord) -> Result<Vec<String>, String> {
    record
        .iter()
        .map(|field| String::from_utf8(field.to_vec()).map_err(|_| "is not UTF-8 text".to_owned()))
        .collect()
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
        Some((_, Err(reason))) => return Err(FileError::BadWorkbook(reason)),
        None => return Err(FileError::Empty),
    };
    let rows = rows
        .filter(|(_, cells)| !cells.as_ref().is_ok_and(|c| is_blank(c)))
        .map(|(number, cells)| TableRow { number, cells })
        .collect();
    Ok(Table { header, rows })
}

/// A workbook cell as text: numbers without a needless `.0`, dates in the published format.
fn cell_text(cell: &Data) -> Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(_) => cell
            .as_datetime()
            .map(|t| t.format("%d-%m-%Y %H:%M").to_string())
            .ok_or("holds a date the workbook cannot express")?,
        Data::Error(err) => return Err(format!("holds the spreadsheet error {err}")),
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
        let semicolon = read("A;B\nx,y;z\n".as_bytes()).unwrap_or_default();
        assert_eq!(semicolon.header, ["A", "B"]);
        assert_eq!(
            cells(&semicolon),
            [(2, vec!["x,y".to_owned(), "z".to_owned()])]
        );
    }

    #[test]
    fn a_row_that_is_not_utf8_is_malformed_alone() {
        let table = read(b"A,B\n\xff,1\n2,3\n").unwrap_or_default();
        assert!(table.rows[0].cells.is_err());
        assert!(table.rows[1].cells.is_ok());
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
    }
}
