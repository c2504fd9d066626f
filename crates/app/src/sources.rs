//! Reading tabular files as staff send them: CSV in UTF-8 or GBK/GB18030 (detected), with
//! comma, tab or semicolon separators, and XLSX. Rows stream; memory does not grow with a
//! CSV file's size. Anything else is refused with a message that says what the file is.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::{AppError, Result};

/// Largest XLSX accepted (rows stream, but a workbook's shared strings are read whole); larger
/// tables go as CSV.
pub const MAX_XLSX_BYTES: u64 = 200 * 1024 * 1024;

/// The kind of a file, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Xlsx,
}

/// Sniff a file: XLSX (a ZIP), legacy XLS, other binary, or text.
pub fn detect_kind(path: &Path) -> Result<FileKind> {
    let mut head = [0u8; 8192];
    let mut f =
        File::open(path).map_err(|e| AppError::Unprocessable(format!("无法打开文件：{e}")))?;
    let n = read_up_to(&mut f, &mut head)?;
    let head = &head[..n];
    if n == 0 {
        return Err(AppError::Unprocessable("文件是空的".into()));
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(FileKind::Xlsx);
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(AppError::Unprocessable(
            "这是旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 或 CSV 后再导入".into(),
        ));
    }
    if head.starts_with(b"%PDF") {
        return Err(AppError::Unprocessable(
            "这是 PDF 文件，不是表格；请导入 CSV 或 XLSX 文件".into(),
        ));
    }
    let controls = head
        .iter()
        .filter(|b| **b == 0 || (**b < 0x09) || (**b > 0x0d && **b < 0x20 && **b != 0x1b))
        .count();
    if controls > 0 {
        return Err(AppError::Unprocessable(
            "文件不是文本表格（含有二进制内容）；请导入 CSV 或 XLSX 文件".into(),
        ));
    }
    Ok(FileKind::Csv)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(AppError::Unprocessable(format!("读取文件失败：{e}"))),
        }
    }
    Ok(n)
}

/// Text encodings we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Gb18030,
}

impl TextEncoding {
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Gb18030 => "GBK/GB18030",
        }
    }
}

/// Decide the encoding from the first 64 KiB: valid UTF-8 (a character cut at the end of the
/// sample is allowed) means UTF-8, anything else is read as GB18030 (a superset of GBK).
pub fn detect_encoding(sample: &[u8]) -> TextEncoding {
    let sample = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    match std::str::from_utf8(sample) {
        Ok(_) => TextEncoding::Utf8,
        Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
        Err(_) => TextEncoding::Gb18030,
    }
}

/// A reader that decodes GB18030 to UTF-8 on the fly.
struct DecodingReader<R: Read> {
    inner: R,
    decoder: encoding_rs::Decoder,
    in_buf: Vec<u8>,
    in_len: usize,
    out_buf: Vec<u8>,
    out_pos: usize,
    out_len: usize,
    eof: bool,
}

impl<R: Read> DecodingReader<R> {
    fn new(inner: R) -> Self {
        DecodingReader {
            inner,
            decoder: encoding_rs::GB18030.new_decoder_without_bom_handling(),
            in_buf: vec![0; 64 * 1024],
            in_len: 0,
            out_buf: vec![0; 3 * 64 * 1024 + 16],
            out_pos: 0,
            out_len: 0,
            eof: false,
        }
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.out_pos == self.out_len {
            if self.eof && self.in_len == 0 {
                return Ok(0);
            }
            if !self.eof && self.in_len < self.in_buf.len() {
                let n = self.inner.read(&mut self.in_buf[self.in_len..])?;
                if n == 0 {
                    self.eof = true;
                }
                self.in_len += n;
            }
            let (_, read, written, _) = self.decoder.decode_to_utf8(
                &self.in_buf[..self.in_len],
                &mut self.out_buf,
                self.eof,
            );
            self.in_buf.copy_within(read..self.in_len, 0);
            self.in_len -= read;
            self.out_pos = 0;
            self.out_len = written;
            if self.eof && read == 0 && written == 0 {
                self.in_len = 0;
            }
        }
        let n = buf.len().min(self.out_len - self.out_pos);
        buf[..n].copy_from_slice(&self.out_buf[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Counts bytes read from the file (for progress on a file of known size).
pub struct CountingReader<R> {
    inner: R,
    pub count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// One data row: its 1-based row number in the file and its cells, or why it is unreadable.
pub type TableRow = (u64, Result<Vec<String>, String>);

/// Rows of a table: the header, then data rows with their 1-based row number in the file
/// (the header is row 1, as in Excel).
pub struct TableReader {
    pub header: Vec<String>,
    pub encoding: Option<TextEncoding>,
    rows: Rows,
    /// Bytes of the file consumed so far (CSV) — for progress.
    pub bytes_read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub file_size: u64,
}

enum Rows {
    Csv {
        reader: csv::Reader<Box<dyn Read + Send>>,
        record: csv::StringRecord,
        row_no: u64,
    },
    /// Rows read by a thread of their own (it owns the workbook), a few hundred at a time.
    Sheet {
        rows: std::sync::mpsc::Receiver<SheetItem>,
        ended: bool,
    },
}

impl TableReader {
    pub fn open(path: &Path) -> Result<TableReader> {
        let size = std::fs::metadata(path)
            .map_err(|e| AppError::Unprocessable(format!("无法读取文件：{e}")))?
            .len();
        match detect_kind(path)? {
            FileKind::Csv => Self::open_csv(path, size),
            FileKind::Xlsx => Self::open_xlsx(path, size),
        }
    }

    fn open_csv(path: &Path, size: u64) -> Result<TableReader> {
        let mut f =
            File::open(path).map_err(|e| AppError::Unprocessable(format!("无法打开文件：{e}")))?;
        let mut sample = vec![0u8; 64 * 1024];
        let n = read_up_to(&mut f, &mut sample)?;
        sample.truncate(n);
        let encoding = detect_encoding(&sample);
        let first_line: String = match encoding {
            TextEncoding::Utf8 => String::from_utf8_lossy(&sample)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
            TextEncoding::Gb18030 => encoding_rs::GB18030
                .decode(&sample)
                .0
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
        };
        let delimiter = [b',', b'\t', b';', b'|']
            .into_iter()
            .max_by_key(|d| first_line.bytes().filter(|b| b == d).count())
            .unwrap_or(b',');
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let f =
            File::open(path).map_err(|e| AppError::Unprocessable(format!("无法打开文件：{e}")))?;
        let counted = CountingReader {
            inner: BufReader::with_capacity(256 * 1024, f),
            count: count.clone(),
        };
        let source: Box<dyn Read + Send> = match encoding {
            TextEncoding::Utf8 => Box::new(counted),
            TextEncoding::Gb18030 => Box::new(DecodingReader::new(counted)),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(256 * 1024)
            .from_reader(source);
        let mut record = csv::StringRecord::new();
        let header = match reader.read_record(&mut record) {
            Ok(true) => record
                .iter()
                .map(|s| s.trim_start_matches('\u{feff}').to_owned())
                .collect(),
            Ok(false) => return Err(AppError::Unprocessable("文件是空的，没有表头".into())),
            Err(e) => return Err(csv_error(e)),
        };
        Ok(TableReader {
            header,
            encoding: Some(encoding),
            rows: Rows::Csv {
                reader,
                record,
                row_no: 1,
            },
            bytes_read: count,
            file_size: size,
        })
    }

    fn open_xlsx(path: &Path, size: u64) -> Result<TableReader> {
        use calamine::{open_workbook, Reader, Xlsx};
        if size > MAX_XLSX_BYTES {
            return Err(AppError::Unprocessable(format!(
                "XLSX 文件过大（{} MB，最大 {} MB）；请拆分或另存为 CSV 后导入",
                size / 1024 / 1024,
                MAX_XLSX_BYTES / 1024 / 1024
            )));
        }
        let wb: Xlsx<_> = open_workbook(path).map_err(|e| {
            AppError::Unprocessable(format!("无法读取 XLSX 文件（文件可能已损坏）：{e}"))
        })?;
        let sheet = wb
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| AppError::Unprocessable("XLSX 文件中没有工作表".into()))?;
        // The cells stream from the sheet's XML (only the shared strings are held whole), so
        // a large workbook's rows are never all in memory.
        let (tx, rx) = std::sync::mpsc::sync_channel::<SheetItem>(256);
        let progress = SheetProgress {
            bytes_read: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
            file_size: size,
        };
        let bytes_read = progress.bytes_read.clone();
        std::thread::Builder::new()
            .name("xlsx-reader".into())
            .spawn(move || {
                // calamine panics on some malformed sheets (a shared string that does not
                // exist): that is the file's fault, reported like any unreadable sheet — with
                // the row, and without a panic message on the terminal or in the log.
                let at = std::cell::Cell::new(None);
                quiet_panics(true);
                let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    read_sheet(wb, &sheet, &tx, &progress, &at)
                }));
                quiet_panics(false);
                if read.is_err() {
                    let near = at.get().map(|r: u32| format!("（第 {} 行附近）", r + 1));
                    let _ = tx.send(SheetItem::Broken(format!(
                        "工作表“{sheet}”{}内容异常，无法读取（文件可能已损坏）；请在 Excel 中打开并另存为 XLSX 或 CSV 后重新导入",
                        near.unwrap_or_default()
                    )));
                }
                // All read before the receiver hears the end.
                drop(progress);
                drop(tx);
            })
            .map_err(|e| AppError::Internal(format!("无法启动读取线程：{e}")))?;
        let header = match rx.recv() {
            Ok(SheetItem::Row(_, cells)) => cells,
            Ok(SheetItem::Broken(reason)) => return Err(AppError::Unprocessable(reason)),
            Ok(SheetItem::End) => {
                return Err(AppError::Unprocessable("工作表是空的，没有表头".into()))
            }
            Err(_) => return Err(AppError::Unprocessable(BROKEN_SHEET.into())),
        };
        Ok(TableReader {
            header,
            encoding: None,
            rows: Rows::Sheet {
                rows: rx,
                ended: false,
            },
            bytes_read,
            file_size: size,
        })
    }

    /// The next data row: `(row number, cells)`. Blank rows are skipped.
    /// A row the reader cannot decode (bad bytes in a UTF-8 file) comes back as
    /// `(row number, Err(reason))`: it is that row's problem, and reading goes on.
    pub fn next_row(&mut self) -> Result<Option<TableRow>> {
        loop {
            match &mut self.rows {
                Rows::Csv {
                    reader,
                    record,
                    row_no,
                } => match reader.read_record(record) {
                    Ok(true) => {
                        *row_no += 1;
                        if record.iter().all(|c| c.trim().is_empty()) {
                            continue;
                        }
                        return Ok(Some((
                            *row_no,
                            Ok(record.iter().map(str::to_owned).collect()),
                        )));
                    }
                    Ok(false) => return Ok(None),
                    Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                        *row_no += 1;
                        return Ok(Some((
                            *row_no,
                            Err("本行含有无法识别的字符（文件编码混乱）；请确认文件为 UTF-8 或 GBK 编码".into()),
                        )));
                    }
                    Err(e) => return Err(csv_error(e)),
                },
                Rows::Sheet { ended: true, .. } => return Ok(None),
                Rows::Sheet { rows, ended } => match rows.recv() {
                    Ok(SheetItem::Row(row_no, cells)) => return Ok(Some((row_no, Ok(cells)))),
                    Ok(SheetItem::Broken(reason)) => return Err(AppError::Unprocessable(reason)),
                    Ok(SheetItem::End) => {
                        *ended = true;
                        return Ok(None);
                    }
                    Err(_) => return Err(AppError::Unprocessable(BROKEN_SHEET.into())),
                },
            }
        }
    }
}

thread_local! {
    /// Whether a panic on this thread is expected and handled (see [`quiet_panics`]).
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keep the process's panic message quiet for panics on this thread while `on` (they are
/// caught and reported as the file's problem); every other panic is reported as before.
fn quiet_panics(on: bool) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(|q| q.get()) {
                previous(info);
            }
        }));
    });
    QUIET_PANICS.with(|q| q.set(on));
}

/// An XLSX writer's error, as every workbook the platform makes reports it.
pub(crate) fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Internal(format!("生成 Excel 失败：{e}"))
}

/// An unnamed temporary file in `dir`, gone when it is closed: large files (exports, error
/// reports) are made in one and then copied or streamed, not held in memory.
pub(crate) fn scratch_file(dir: &Path) -> Result<File> {
    tempfile::tempfile_in(dir)
        .map_err(|e| AppError::Internal(format!("无法在 {} 中创建临时文件：{e}", dir.display())))
}

/// Save a workbook into a scratch file in `dir` (see [`scratch_file`]), read from its start.
pub(crate) fn save_workbook(book: &mut rust_xlsxwriter::Workbook, dir: &Path) -> Result<File> {
    use std::io::Seek;
    let mut f = scratch_file(dir)?;
    book.save_to_writer(&mut f).map_err(xlsx_err)?;
    f.rewind()
        .map_err(|e| AppError::Internal(format!("读取临时文件失败：{e}")))?;
    Ok(f)
}

/// Run `f`, which writes an XLSX workbook, turning a panic into an error: rust_xlsxwriter's
/// constant-memory mode panics when it cannot write its temporary files (a full disk, an
/// unwritable temporary directory).
pub(crate) fn xlsx_guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    quiet_panics(true);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    quiet_panics(false);
    r.unwrap_or_else(|_| {
        Err(AppError::Internal(
            "生成 Excel 失败：多半是无法写入临时文件（磁盘已满，或临时目录不可写）".into(),
        ))
    })
}

/// What the reading thread sends: a row (its number as Excel shows it, its cells from the
/// header's first column on), why the sheet cannot be read further, or that it has ended.
/// A thread that stops without saying either (it panicked on a malformed file) is a broken
/// sheet too, never a short one.
enum SheetItem {
    Row(u64, Vec<String>),
    Broken(String),
    End,
}

/// The message for a sheet whose reading stopped without a reason.
const BROKEN_SHEET: &str =
    "工作表内容异常，没有读完（文件可能已损坏）；请在 Excel 中打开并另存为 XLSX 或 CSV 后重新导入";

/// How far the reading thread is, in the file's bytes as a CSV's progress is: the share of the
/// sheet's rows read (from the row count the sheet declares), all of it at the end.
struct SheetProgress {
    bytes_read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    file_size: u64,
}

impl SheetProgress {
    fn at_row(&self, row: u32, last_row: u32) {
        let done = if last_row == 0 {
            0
        } else {
            self.file_size * u64::from(row.min(last_row)) / u64::from(last_row)
        };
        self.bytes_read
            .store(done, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for SheetProgress {
    fn drop(&mut self) {
        self.bytes_read
            .store(self.file_size, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Rows of a sheet as they are gathered from its cells: blank rows are skipped, cells left of
/// the header's first column (they have no header) are left out, and every row is at least as
/// wide as the header.
#[derive(Default)]
struct RowGatherer {
    /// The header's first column and width, once the header (the first row with text) is seen.
    header: Option<(u32, usize)>,
    row: Option<u32>,
    cells: Vec<(u32, String)>,
}

impl RowGatherer {
    /// The row gathered so far, if it has any text; the gatherer is then empty.
    fn take(&mut self) -> Option<(u32, Vec<String>)> {
        let row = self.row.take()?;
        let cells = std::mem::take(&mut self.cells);
        if cells.iter().all(|(_, t)| t.trim().is_empty()) {
            return None;
        }
        let last = cells.iter().map(|(c, _)| *c).max().unwrap_or(0);
        let (start, width) = *self.header.get_or_insert_with(|| {
            let first = cells
                .iter()
                .filter(|(_, t)| !t.trim().is_empty())
                .map(|(c, _)| *c)
                .min()
                .unwrap_or(0);
            (first, (last.max(first) - first + 1) as usize)
        });
        let own = if last >= start {
            (last - start + 1) as usize
        } else {
            0
        };
        let mut out = vec![String::new(); width.max(own)];
        for (c, t) in cells {
            if c >= start {
                out[(c - start) as usize] = t;
            }
        }
        Some((row, out))
    }
}

/// Read the rows of `sheet` and send those with any text, then `End` — or `Broken` where the
/// sheet cannot be read any further. Stops early when the receiver is gone.
fn read_sheet(
    mut wb: calamine::Xlsx<BufReader<File>>,
    sheet: &str,
    tx: &std::sync::mpsc::SyncSender<SheetItem>,
    progress: &SheetProgress,
    at: &std::cell::Cell<Option<u32>>,
) {
    let mut cells = match wb.worksheet_cells_reader(sheet) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(SheetItem::Broken(format!("无法读取工作表“{sheet}”：{e}")));
            return;
        }
    };
    let last_row = cells.dimensions().end.0;
    let mut rows = RowGatherer::default();
    let send = |item: Option<(u32, Vec<String>)>| -> bool {
        match item {
            Some((row, out)) => {
                progress.at_row(row, last_row);
                tx.send(SheetItem::Row(u64::from(row) + 1, out)).is_ok()
            }
            None => true,
        }
    };
    loop {
        match cells.next_cell() {
            Ok(Some(cell)) => {
                let (r, c) = cell.get_position();
                at.set(Some(r));
                if rows.row != Some(r) {
                    if !send(rows.take()) {
                        return;
                    }
                    rows.row = Some(r);
                }
                rows.cells.push((c, cell_text(cell.get_value())));
            }
            Ok(None) => {
                if send(rows.take()) {
                    let _ = tx.send(SheetItem::End);
                }
                return;
            }
            Err(e) => {
                let near = rows.row.map(|r| format!("（第 {} 行附近）", r + 1));
                let _ = tx.send(SheetItem::Broken(format!(
                    "无法读取工作表“{sheet}”{}：{e}",
                    near.unwrap_or_default()
                )));
                return;
            }
        }
    }
}

/// A cell's text as an import reads it: whole numbers without a fraction (codes, amounts,
/// Excel's date serials), others as Rust prints them.
fn cell_text(v: &calamine::DataRef<'_>) -> String {
    use calamine::DataRef;
    match v {
        DataRef::Empty => String::new(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => d.as_f64().to_string(),
        DataRef::Error(e) => format!("#ERR:{e:?}"),
    }
}

fn csv_error(e: csv::Error) -> AppError {
    let at = e
        .position()
        .map(|p| format!("（第 {} 行附近）", p.line()))
        .unwrap_or_default();
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => AppError::Unprocessable(format!(
            "文件编码混乱，无法按 UTF-8 读取{at}；请确认文件为 UTF-8 或 GBK 编码的 CSV"
        )),
        csv::ErrorKind::Io(io) => AppError::Unprocessable(format!("读取文件失败{at}：{io}")),
        _ => AppError::Unprocessable(format!("CSV 格式错误{at}：{e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sheet as staff make them: the table not at A1, a note left of it, a blank row inside,
    /// shared strings, numbers (a code typed as text, an Excel date serial) and a gap in a row.
    /// Rows stream with their numbers as Excel shows them, cells aligned to the header.
    #[test]
    fn an_xlsx_sheet_streams_rows_aligned_to_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let ws = book.add_worksheet();
        ws.write_string(1, 0, "备注").unwrap(); // A2, above and left of the table
        for (c, h) in ["统一社会信用代码", "名称", "成立日期"].iter().enumerate() {
            ws.write_string(2, 1 + c as u16, *h).unwrap(); // B3:D3
        }
        ws.write_string(3, 1, "914403001922038216").unwrap();
        ws.write_string(3, 2, "华为技术有限公司").unwrap();
        ws.write_number(3, 3, 32035.0).unwrap(); // 1987-09-15
        ws.write_string(3, 0, "左侧无表头").unwrap(); // A4: no header above it
                                                      // Row 5 blank; row 6 with a gap in the middle.
        ws.write_string(5, 1, "9144030071526726XG").unwrap();
        ws.write_number(5, 3, 1.5).unwrap();
        book.save(&path).unwrap();

        let mut t = TableReader::open(&path).unwrap();
        // The first row with text is the header: here the note's row.
        assert_eq!(t.header, vec!["备注"]);
        let mut rows = Vec::new();
        while let Some((n, cells)) = t.next_row().unwrap() {
            rows.push((n, cells.unwrap()));
        }
        let read = t.bytes_read.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(read, t.file_size, "progress reaches the end");
        assert_eq!(
            rows,
            vec![
                (
                    3,
                    vec![
                        "".into(),
                        "统一社会信用代码".into(),
                        "名称".into(),
                        "成立日期".into()
                    ]
                ),
                (
                    4,
                    vec![
                        "左侧无表头".into(),
                        "914403001922038216".into(),
                        "华为技术有限公司".into(),
                        "32035".into()
                    ]
                ),
                (
                    6,
                    vec![
                        "".into(),
                        "9144030071526726XG".into(),
                        "".into(),
                        "1.5".into()
                    ]
                ),
            ]
        );

        // The same table without the note: the header's first column is where rows start, and
        // what lies left of it has no header.
        let mut book = rust_xlsxwriter::Workbook::new();
        let ws = book.add_worksheet();
        for (c, h) in ["统一社会信用代码", "名称"].iter().enumerate() {
            ws.write_string(2, 1 + c as u16, *h).unwrap();
        }
        ws.write_string(3, 0, "左侧无表头").unwrap();
        ws.write_string(3, 1, "914403001922038216").unwrap();
        ws.write_string(3, 2, "华为技术有限公司").unwrap();
        book.save(&path).unwrap();
        let mut t = TableReader::open(&path).unwrap();
        assert_eq!(t.header, vec!["统一社会信用代码", "名称"]);
        let (n, cells) = t.next_row().unwrap().unwrap();
        assert_eq!(
            (n, cells.unwrap()),
            (
                4,
                vec![
                    "914403001922038216".to_owned(),
                    "华为技术有限公司".to_owned()
                ]
            )
        );
        assert!(t.next_row().unwrap().is_none());
    }

    /// A sheet with nothing in it has no header.
    #[test]
    fn an_empty_xlsx_sheet_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        book.add_worksheet();
        book.save(&path).unwrap();
        match TableReader::open(&path) {
            Err(AppError::Unprocessable(m)) => assert!(m.contains("没有表头"), "{m}"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("an empty sheet was accepted"),
        }
    }

    #[test]
    fn gbk_is_detected_and_decoded() {
        let text = "统一社会信用代码,名称\n914403001922038216,华为技术有限公司\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        assert_eq!(detect_encoding(&gbk), TextEncoding::Gb18030);
        assert_eq!(detect_encoding(text.as_bytes()), TextEncoding::Utf8);
        let mut out = String::new();
        DecodingReader::new(&gbk[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, text);
    }

    #[test]
    fn a_cut_utf8_character_at_the_sample_end_is_still_utf8() {
        let s = "华为".as_bytes();
        assert_eq!(detect_encoding(&s[..4]), TextEncoding::Utf8);
    }

    #[test]
    fn decoding_reader_handles_tiny_reads() {
        let text = "名称\n".repeat(10_000);
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let mut r = DecodingReader::new(&gbk[..]);
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }
}
