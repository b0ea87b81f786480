//! Streamed exports of a list as a file (the change-request list, an invoicing basis): CSV or XLSX,
//! sent in chunks of about [`CHUNK`] bytes while the rows are read a page at a time, so memory stays
//! flat however long the list. XLSX is written in constant-memory mode to a temporary file first (a zip
//! needs its end to begin) and streamed from there.

use std::future::Future;

use tokio::io::AsyncReadExt;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use crate::Error;

/// About how many bytes a chunk holds.
pub const CHUNK: usize = 64 * 1024;

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180, UTF-8, comma-separated, a header row.
    Csv,
    /// One worksheet, a header row, every cell text.
    Xlsx,
}

/// The rows of an export, read a page at a time.
pub trait Rows: Send + 'static {
    /// The next page of rows, each its cells in the order of the columns; empty when all are read.
    fn next_page(&mut self) -> impl Future<Output = Result<Vec<Vec<String>>, Error>> + Send;
}

/// The chunks of a file.
pub type Chunks = ReceiverStream<Result<Vec<u8>, tonic::Status>>;

type ChunkSender = tokio::sync::mpsc::Sender<Result<Vec<u8>, tonic::Status>>;

/// Streams `rows` under the header `columns` as a file in `format`; a failure mid-way ends the stream
/// with its status; writing stops quietly if the client goes.
pub fn stream(format: Format, columns: Vec<String>, rows: impl Rows) -> Chunks {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let written = match format {
            Format::Csv => write_csv(columns, rows, &tx).await,
            Format::Xlsx => write_xlsx(columns, rows, &tx).await,
        };
        if let Err(err) = written {
            let _ = tx.send(Err(err.into())).await;
        }
    });
    ReceiverStream::new(rx)
}

async fn write_csv(
    columns: Vec<String>,
    mut rows: impl Rows,
    tx: &ChunkSender,
) -> Result<(), Error> {
    let mut buffer = Vec::with_capacity(CHUNK * 2);
    append_csv(&mut buffer, [columns])?;
    loop {
        let page = rows.next_page().await?;
        let done = page.is_empty();
        append_csv(&mut buffer, page)?;
        if buffer.len() >= CHUNK || done {
            let chunk = std::mem::take(&mut buffer);
            if !chunk.is_empty() && tx.send(Ok(chunk)).await.is_err() {
                return Ok(());
            }
        }
        if done {
            return Ok(());
        }
    }
}

/// Appends CSV records (RFC 4180 quoting) to `buffer`.
fn append_csv(
    buffer: &mut Vec<u8>,
    records: impl IntoIterator<Item = Vec<String>>,
) -> Result<(), Error> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_writer(buffer);
    for record in records {
        writer.write_record(&record).map_err(Error::internal)?;
    }
    writer.flush().map_err(Error::internal)
}

/// Writes the workbook on a blocking thread (rows read through the runtime), then streams the file
/// in chunks and removes it.
async fn write_xlsx(
    columns: Vec<String>,
    mut rows: impl Rows,
    tx: &ChunkSender,
) -> Result<(), Error> {
    let path = std::env::temp_dir().join(format!("kommune-export-{}.xlsx", Uuid::new_v4()));
    let target = path.clone();
    let runtime = tokio::runtime::Handle::current();
    let written = tokio::task::spawn_blocking(move || -> Result<(), Error> {
        let xlsx = |err: rust_xlsxwriter::XlsxError| Error::internal(err);
        let mut workbook = rust_xlsxwriter::Workbook::new();
        workbook.set_tempdir(std::env::temp_dir()).map_err(xlsx)?;
        let sheet = workbook.add_worksheet_with_constant_memory();
        for (column, name) in columns.iter().enumerate() {
            sheet.write_string(0, column as u16, name).map_err(xlsx)?;
        }
        let mut row_number: u32 = 1;
        loop {
            let page = runtime.block_on(rows.next_page())?;
            if page.is_empty() {
                break;
            }
            for row in page {
                for (column, cell) in row.iter().enumerate() {
                    sheet
                        .write_string(row_number, column as u16, cell)
                        .map_err(xlsx)?;
                }
                row_number += 1;
            }
        }
        workbook.save(&target).map_err(xlsx)
    })
    .await
    .map_err(Error::internal)
    .and_then(|written| written);
    let streamed = async {
        written?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(Error::internal)?;
        loop {
            let mut chunk = vec![0; CHUNK];
            let read = file.read(&mut chunk).await.map_err(Error::internal)?;
            if read == 0 {
                return Ok(());
            }
            chunk.truncate(read);
            if tx.send(Ok(chunk)).await.is_err() {
                return Ok(());
            }
        }
    }
    .await;
    let _ = tokio::fs::remove_file(&path).await;
    streamed
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt as _;

    use super::*;

    /// Three pages of two rows, with a quote and a comma to escape.
    struct Pages(u32);

    impl Rows for Pages {
        async fn next_page(&mut self) -> Result<Vec<Vec<String>>, Error> {
            if self.0 == 3 {
                return Ok(Vec::new());
            }
            self.0 += 1;
            let page = self.0;
            Ok(vec![
                vec![format!("{page}a"), "x, \"y\"".into()],
                vec![format!("{page}b"), "z".into()],
            ])
        }
    }

    async fn file(format: Format) -> Vec<u8> {
        let mut chunks = stream(format, vec!["id".into(), "text".into()], Pages(0));
        let mut file = Vec::new();
        while let Some(chunk) = chunks.next().await {
            file.extend(chunk.unwrap_or_else(|status| panic!("{status}")));
        }
        file
    }

    #[tokio::test]
    async fn csv_has_the_header_and_every_row_quoted_as_rfc_4180_says() {
        let csv = String::from_utf8(file(Format::Csv).await).unwrap_or_default();
        assert_eq!(
            csv,
            "id,text\n1a,\"x, \"\"y\"\"\"\n1b,z\n2a,\"x, \"\"y\"\"\"\n2b,z\n3a,\"x, \"\"y\"\"\"\n3b,z\n"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn xlsx_is_a_zip_workbook() {
        let xlsx = file(Format::Xlsx).await;
        assert!(xlsx.starts_with(b"PK\x03\x04"), "a zip archive");
    }
}
