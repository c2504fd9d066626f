//! The `xinjian` command: serve, migrate, user, uscc, calendar, import, audit, demo, bench.
//! Each subcommand is a thin wrapper over an `xinjian-app` use case.

mod bench;

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use xinjian_app::accounts::NewAccount;
use xinjian_app::credit::{CreditImportOptions, ExportFormat, ExportWhat};
use xinjian_app::import::{ImportOptions, ImportProgress};
use xinjian_app::{Actor, App};
use xinjian_core::credit_row::FileKind;
use xinjian_core::role::Role;
use xinjian_core::uscc::{classify, UsccCheck};
use xinjian_store::audit::Verification;

/// 信监 Xinjian — credit-based supervision platform.
#[derive(Parser)]
#[command(name = "xinjian", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Database URL: `postgres://…` for PostgreSQL, else an SQLite file (`sqlite:PATH` or a path).
    #[arg(
        long,
        env = "XINJIAN_DATABASE_URL",
        default_value = "sqlite:data/xinjian.db"
    )]
    db: String,
    /// Directory for uploads, generated files and (by default) the SQLite database.
    #[arg(long, env = "XINJIAN_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

impl DbArgs {
    fn open(&self) -> anyhow::Result<App> {
        App::open(&self.db, &self.data_dir).map_err(|e| anyhow!("{e}"))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the web platform.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        #[command(flatten)]
        db: DbArgs,
        /// Fill the store with demo data first (idempotent).
        #[arg(long)]
        demo: bool,
        /// Demo size when --demo is given.
        #[arg(long, default_value_t = 2000)]
        demo_subjects: u64,
    },
    /// Apply database migrations.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
        /// Also make every grading digest again from the credit records (after a restore or a
        /// hand edit of the records; audited).
        #[arg(long)]
        rebuild_digests: bool,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Unified social credit codes.
    Uscc {
        #[command(subcommand)]
        command: UsccCommand,
    },
    /// The working-day calendar.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Import data files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Double publicity (双公示): the publication report.
    Publicity {
        #[command(subcommand)]
        command: PublicityCommand,
    },
    /// Export data for the city/provincial sharing platform.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Evaluate the jurisdiction (公共信用综合评价): last line `evaluated N: A=a B=b C=c D=d`.
    Evaluate {
        /// The day of the evaluation (default: today).
        #[arg(long)]
        as_of: Option<String>,
        /// Every subject, not only those whose facts changed since the last run.
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// The grade of one subject as of a day, evaluated from the stored records.
    Grade {
        code: String,
        #[arg(long)]
        as_of: Option<String>,
        /// JSON: {code, as_of, grade, rule_version, reasons}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Fill the store with a deterministic demo jurisdiction.
    Demo {
        #[arg(long, default_value_t = 2000)]
        subjects: u64,
        #[arg(long, default_value_t = 20261122)]
        seed: u64,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Benchmarks (print a ratio against a baseline measured in the same run).
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account; the password is read from standard input.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        department: Option<String>,
        /// For `entity` accounts: the subject's unified social credit code.
        #[arg(long)]
        subject_code: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum UsccCommand {
    /// Check codes: one line per code, `CODE<TAB>valid` or `CODE<TAB>invalid<TAB>reason`.
    Check { codes: Vec<String> },
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// Print `true` or `false`.
    IsWorkday {
        date: String,
        #[command(flatten)]
        db: OptionalDb,
    },
    /// Print the date of the N-th working day after DATE (DATE itself not counted).
    AddWorkdays {
        date: String,
        n: u32,
        #[command(flatten)]
        db: OptionalDb,
    },
    /// Load years from a JSON file in the format of cn-workday-calendar.json.
    Load {
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Calendar commands use the built-in years, plus those stored in a database when one is named.
#[derive(Args, Clone)]
struct OptionalDb {
    #[arg(long, env = "XINJIAN_DATABASE_URL")]
    db: Option<String>,
    #[arg(long, env = "XINJIAN_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Registration data from market regulation (CSV in UTF-8/GBK, or XLSX).
    Subjects {
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
        /// Write the rejected rows to this XLSX file.
        #[arg(long)]
        errors: Option<PathBuf>,
        /// Keep codes that fail only the check character, flagged.
        #[arg(long)]
        allow_flagged: bool,
    },
    /// Administrative penalties in the national 双公示 format (CSV in UTF-8/GBK, or XLSX).
    Penalties(CreditImportArgs),
    /// Administrative licences in the national 双公示 format.
    Licenses(CreditImportArgs),
    /// List entries (红名单, 严重失信主体名单, 重点关注名单, 经营异常名录).
    Lists(CreditImportArgs),
}

#[derive(Args)]
struct CreditImportArgs {
    file: PathBuf,
    #[command(flatten)]
    db: DbArgs,
    /// Write the rejected rows to this XLSX file.
    #[arg(long)]
    errors: Option<PathBuf>,
    /// Hold new records for review instead of publishing them at once.
    #[arg(long)]
    hold: bool,
}

#[derive(Subcommand)]
enum PublicityCommand {
    /// Records published late, not published by their deadline, or due within 3 working days.
    Report {
        /// The day of the report (default: today).
        #[arg(long)]
        as_of: Option<String>,
        /// JSON list of {code, document_number, decision_date, publish_deadline, status}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Credit records decided in the date range, for the sharing platform.
    Records(ExportArgs),
    /// List entries entered in the date range.
    Lists(ExportArgs),
}

#[derive(Args)]
struct ExportArgs {
    /// First day (inclusive).
    #[arg(long)]
    since: Option<String>,
    /// Last day (inclusive).
    #[arg(long)]
    until: Option<String>,
    /// xlsx, csv or json.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Output file (default: standard output).
    #[arg(long, short)]
    out: Option<PathBuf>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chain: `ok N entries` or `broken at entry N: REASON` (exit 1).
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("XINJIAN_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("错误：{e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            addr,
            db,
            demo,
            demo_subjects,
        } => serve(addr, db, demo, demo_subjects),
        Command::Migrate {
            db,
            rebuild_digests,
        } => {
            let store = xinjian_store::Db::open(&db.db).map_err(|e| anyhow!("{e}"))?;
            let applied = store.migrate().map_err(|e| anyhow!("{e}"))?;
            if applied.is_empty() {
                println!("schema up to date ({})", xinjian_store::latest_version());
            } else {
                println!("applied {}", applied.join(", "));
            }
            if rebuild_digests {
                let n = db
                    .open()?
                    .rebuild_grading_digests(&Actor::operator())
                    .map_err(|e| anyhow!("{e}"))?;
                println!("rebuilt {n} grading digests");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    role,
                    department,
                    subject_code,
                    db,
                },
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow!(
                    "未知角色“{role}”；可用：{}",
                    Role::ALL
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("读取标准输入中的密码失败")?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            let app = db.open()?;
            let id = app
                .create_user(
                    &Actor::operator(),
                    &NewAccount {
                        username: name.clone(),
                        display_name: name.clone(),
                        role,
                        department,
                        subject_code,
                        password,
                    },
                )
                .map_err(|e| anyhow!("{e}"))?;
            println!("created user {name} (id {id}, role {})", role.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Uscc {
            command: UsccCommand::Check { codes },
        } => {
            let mut all_ok = !codes.is_empty();
            for code in &codes {
                match classify(code) {
                    UsccCheck::Valid(_) => println!("{code}\tvalid"),
                    UsccCheck::CheckFailed { error, .. } | UsccCheck::Invalid(error) => {
                        all_ok = false;
                        println!("{code}\tinvalid\t{error}");
                    }
                }
            }
            Ok(if all_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Calendar { command } => calendar(command),
        Command::Import {
            command:
                ImportCommand::Subjects {
                    file,
                    db,
                    errors,
                    allow_flagged,
                },
        } => import_subjects(&file, &db, errors.as_deref(), allow_flagged),
        Command::Import {
            command: ImportCommand::Penalties(a),
        } => import_credit(FileKind::Penalties, &a),
        Command::Import {
            command: ImportCommand::Licenses(a),
        } => import_credit(FileKind::Licenses, &a),
        Command::Import {
            command: ImportCommand::Lists(a),
        } => import_credit(FileKind::Lists, &a),
        Command::Publicity {
            command: PublicityCommand::Report { as_of, json, db },
        } => publicity_report(as_of.as_deref(), json, &db),
        Command::Evaluate { as_of, full, db } => evaluate(as_of.as_deref(), full, &db),
        Command::Grade {
            code,
            as_of,
            json,
            db,
        } => grade(&code, as_of.as_deref(), json, &db),
        Command::Export { command } => match command {
            ExportCommand::Records(a) => export(ExportWhat::Records, &a),
            ExportCommand::Lists(a) => export(ExportWhat::Lists, &a),
        },
        Command::Audit {
            command: AuditCommand::Verify { db },
        } => {
            let app = db.open()?;
            match app
                .audit_verify(&Actor::operator())
                .map_err(|e| anyhow!("{e}"))?
            {
                Verification::Ok { entries, head_hash } => {
                    println!("ok {entries} entries");
                    eprintln!("head {head_hash}");
                    Ok(ExitCode::SUCCESS)
                }
                Verification::Broken { entry, fault } => {
                    println!("broken at entry {entry}: {fault}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Demo { subjects, seed, db } => {
            let app = db.open()?;
            let report = load_demo(&app, subjects, seed)?;
            let _ = report;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command } => bench::run(command),
    }
}

fn calendar(command: CalendarCommand) -> anyhow::Result<ExitCode> {
    let load = |db: &OptionalDb| -> anyhow::Result<xinjian_core::calendar::WorkdayCalendar> {
        match &db.db {
            Some(url) => Ok(App::open(url, &db.data_dir)
                .map_err(|e| anyhow!("{e}"))?
                .calendar()),
            None => Ok(xinjian_core::calendar::WorkdayCalendar::builtin()),
        }
    };
    let date = |s: &str| xinjian_core::dates::parse_date(s).map_err(|e| anyhow!("{e}"));
    match command {
        CalendarCommand::IsWorkday { date: d, db } => {
            let cal = load(&db)?;
            println!("{}", cal.is_workday(date(&d)?).map_err(|e| anyhow!("{e}"))?);
        }
        CalendarCommand::AddWorkdays { date: d, n, db } => {
            let cal = load(&db)?;
            println!(
                "{}",
                cal.add_workdays(date(&d)?, n).map_err(|e| anyhow!("{e}"))?
            );
        }
        CalendarCommand::Load { file, db } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("读取 {} 失败", file.display()))?;
            let app = db.open()?;
            let years = app
                .load_calendar_years(&Actor::operator(), &text)
                .map_err(|e| anyhow!("{e}"))?;
            println!(
                "loaded {}",
                years
                    .iter()
                    .map(|y| y.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on a terminal (stderr), nothing otherwise.
fn progress_bar(len: u64) -> ProgressBar {
    if std::io::stderr().is_terminal() {
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    } else {
        ProgressBar::hidden()
    }
}

fn on_progress(pb: &ProgressBar) -> impl FnMut(&ImportProgress) + '_ {
    move |p: &ImportProgress| {
        pb.set_length(p.file_size);
        pb.set_position(p.bytes_read);
        pb.set_message(format!(
            "{} 行（新增 {}，更新 {}，拒绝 {}）",
            p.counts.processed, p.counts.imported, p.counts.updated, p.counts.rejected
        ));
    }
}

fn import_subjects(
    file: &Path,
    db: &DbArgs,
    errors: Option<&Path>,
    allow_flagged: bool,
) -> anyhow::Result<ExitCode> {
    if !file.exists() {
        bail!("文件不存在：{}", file.display());
    }
    let app = db.open()?;
    let actor = Actor::operator();
    let pb = progress_bar(std::fs::metadata(file).map(|m| m.len()).unwrap_or(0));
    let summary = app.import_subjects(
        &actor,
        file,
        ImportOptions { allow_flagged },
        &mut on_progress(&pb),
    );
    pb.finish_and_clear();
    let summary = summary.map_err(|e| anyhow!("{e}"))?;
    if let Some(out) = errors {
        write_error_report(&app, &actor, summary.import_id, out)?;
    }
    if summary.counts.rejected > 0 {
        eprintln!(
            "有 {} 行未导入（原因{}）",
            summary.counts.rejected,
            if errors.is_some() {
                "见错误明细文件"
            } else {
                "可用 --errors 文件.xlsx 导出明细"
            }
        );
    }
    println!("{}", summary.line());
    Ok(ExitCode::SUCCESS)
}

/// Write an import's error report (`--errors OUT.xlsx`).
fn write_error_report(
    app: &App,
    actor: &Actor,
    import_id: i64,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let mut report = app
        .import_errors_xlsx(actor, import_id)
        .map_err(|e| anyhow!("{e}"))?;
    let mut f =
        std::fs::File::create(out).with_context(|| format!("无法写入 {}", out.display()))?;
    std::io::copy(&mut report, &mut f).with_context(|| format!("写入 {} 失败", out.display()))?;
    eprintln!("错误明细已写入 {}", out.display());
    Ok(())
}

fn import_credit(kind: FileKind, a: &CreditImportArgs) -> anyhow::Result<ExitCode> {
    if !a.file.exists() {
        bail!("文件不存在：{}", a.file.display());
    }
    let app = a.db.open()?;
    let actor = Actor::operator();
    let pb = progress_bar(std::fs::metadata(&a.file).map(|m| m.len()).unwrap_or(0));
    let summary = app.import_credit(
        &actor,
        kind,
        &a.file,
        CreditImportOptions { hold: a.hold },
        &mut on_progress(&pb),
    );
    pb.finish_and_clear();
    let summary = summary.map_err(|e| anyhow!("{e}"))?;
    let id = summary.summary.import_id;
    if let Some(out) = &a.errors {
        write_error_report(&app, &actor, id, out)?;
    }
    if summary.persons > 0 {
        eprintln!(
            "有 {} 名当事人为自然人（按证件号码识别）且尚未登记，已随信用信息登记为自然人主体",
            summary.persons
        );
    }
    if summary.pending_subjects > 0 {
        eprintln!(
            "有 {} 个统一社会信用代码不在登记库中，已建立待核实主体（见“市场主体”中登记状态为“待核实”的记录）",
            summary.pending_subjects
        );
    }
    let c = summary.summary.counts;
    if c.rejected > 0 {
        eprintln!(
            "有 {} 行未导入（原因{}）",
            c.rejected,
            if a.errors.is_some() {
                "见错误明细文件"
            } else {
                "可用 --errors 文件.xlsx 导出明细"
            }
        );
    }
    println!("{}", summary.summary.line());
    Ok(ExitCode::SUCCESS)
}

fn parse_day(s: &str) -> anyhow::Result<chrono::NaiveDate> {
    xinjian_core::dates::parse_date(s).map_err(|e| anyhow!("{e}"))
}

fn publicity_report(as_of: Option<&str>, json: bool, db: &DbArgs) -> anyhow::Result<ExitCode> {
    let as_of = match as_of {
        Some(s) => parse_day(s)?,
        None => xinjian_app::today(),
    };
    let app = db.open()?;
    let rows = app
        .publicity_report(&Actor::operator(), as_of)
        .map_err(|e| anyhow!("{e}"))?;
    if json {
        let items: Vec<&xinjian_app::credit::PublicityItem> =
            rows.iter().map(|r| &r.item).collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
    } else {
        println!("双公示公示情况（截至 {as_of}）：{} 条需关注", rows.len());
        for r in &rows {
            println!(
                "{}\t{}\t{}\t{}\t决定 {}\t应公示截止 {}\t{}",
                r.status_label,
                r.item.code,
                r.subject_name,
                r.item.document_number,
                r.item.decision_date,
                r.item.publish_deadline,
                r.published_on
                    .map(|p| format!("公示于 {p}"))
                    .unwrap_or_else(|| "未公示".into())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_iso_day(s: &str) -> anyhow::Result<chrono::NaiveDate> {
    xinjian_core::dates::parse_iso_date(s).map_err(|e| anyhow!("{e}"))
}

fn evaluate(as_of: Option<&str>, full: bool, db: &DbArgs) -> anyhow::Result<ExitCode> {
    let as_of = as_of.map(parse_iso_day).transpose()?;
    let app = db.open()?;
    let pb = if std::io::stderr().is_terminal() {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} 个主体",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let summary = app.evaluate_jurisdiction(&Actor::operator(), as_of, full, &mut |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    });
    pb.finish_and_clear();
    let s = summary.map_err(|e| anyhow!("{e}"))?;
    eprintln!(
        "评价批次 {}：{} 个主体的评价结果有变化，其中 {} 个等级变化",
        s.run_id, s.changed, s.grade_changes
    );
    println!("{}", s.line());
    Ok(ExitCode::SUCCESS)
}

fn grade(code: &str, as_of: Option<&str>, json: bool, db: &DbArgs) -> anyhow::Result<ExitCode> {
    let as_of = as_of.map(parse_iso_day).transpose()?;
    let app = db.open()?;
    let v = app
        .grade_of(&Actor::operator(), code, as_of)
        .map_err(|e| anyhow!("{e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v.json)?);
    } else {
        println!(
            "{} {}（{}）截至 {}，规则 {}",
            v.json.code, v.json.grade, v.grade_label, v.json.as_of, v.json.rule_version
        );
        for r in &v.json.reasons {
            println!(
                "  {}：{} {} 决定日期 {}{}",
                r.basis_label,
                r.kind,
                r.document_number,
                r.decision_date,
                r.counts_until
                    .map(|d| format!("，{d} 起不再计入"))
                    .unwrap_or_default()
            );
        }
        for o in &v.outlook {
            println!("  {} 起：{}（{}）", o.on, o.grade, o.label);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export(what: ExportWhat, a: &ExportArgs) -> anyhow::Result<ExitCode> {
    let format = ExportFormat::parse(&a.format)
        .ok_or_else(|| anyhow!("未知格式“{}”：可用 xlsx、csv、json", a.format))?;
    let since = a.since.as_deref().map(parse_day).transpose()?;
    let until = a.until.as_deref().map(parse_day).transpose()?;
    if let (Some(s), Some(u)) = (since, until) {
        if u < s {
            bail!("--until {u} 早于 --since {s}");
        }
    }
    if format == ExportFormat::Xlsx && a.out.is_none() && std::io::stdout().is_terminal() {
        bail!("XLSX 是二进制文件：请用 --out 文件.xlsx 指定输出文件");
    }
    let app = a.db.open()?;
    let n = match &a.out {
        Some(path) => {
            // Written to a temporary file and renamed: a failed export leaves no partial file.
            let tmp = path.with_extension("partial");
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&tmp)
                    .with_context(|| format!("无法写入 {}", path.display()))?,
            );
            let written = app
                .export_credit(&Actor::operator(), what, since, until, format, &mut f)
                .map_err(|e| anyhow!("{e}"))
                .and_then(|n| {
                    use std::io::Write;
                    f.flush()?;
                    Ok(n)
                });
            drop(f);
            let n = match written {
                Ok(n) => n,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
            };
            std::fs::rename(&tmp, path).with_context(|| format!("写入 {} 失败", path.display()))?;
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            let n = app
                .export_credit(&Actor::operator(), what, since, until, format, &mut lock)
                .map_err(|e| anyhow!("{e}"))?;
            use std::io::Write;
            lock.flush()?;
            n
        }
    };
    eprintln!("exported {n} rows");
    Ok(ExitCode::SUCCESS)
}

fn load_demo(app: &App, subjects: u64, seed: u64) -> anyhow::Result<xinjian_app::demo::DemoReport> {
    let pb = progress_bar(0);
    let report = app.load_demo(subjects, seed, &mut on_progress(&pb));
    pb.finish_and_clear();
    let report = report.map_err(|e| anyhow!("{e}"))?;
    println!("demo: {} subjects ({})", subjects, report.import.line());
    for (user, role) in &report.accounts {
        println!(
            "demo account: {user} ({}) password {}",
            role.label(),
            xinjian_app::demo::DEMO_PASSWORD
        );
    }
    println!(
        "demo credit: {} records and list entries ({} new)",
        report.credit.imported + report.credit.updated + report.credit.unchanged,
        report.credit.imported
    );
    println!("messy import file: {}", report.messy_file.display());
    println!("penalty import file: {}", report.penalty_file.display());
    Ok(report)
}

fn serve(addr: SocketAddr, db: DbArgs, demo: bool, demo_subjects: u64) -> anyhow::Result<ExitCode> {
    let app = db.open()?;
    if demo {
        load_demo(&app, demo_subjects, 20261122)?;
    }
    // Daily upkeep (list terms that ran out, records past their publicity): now, then hourly.
    let upkeep = app.clone();
    std::thread::Builder::new()
        .name("credit-upkeep".into())
        .spawn(move || loop {
            match upkeep.credit_upkeep() {
                Ok((0, 0)) => {}
                Ok((ended, expired)) => tracing::info!(ended, expired, "credit upkeep"),
                Err(e) => tracing::warn!(error = %e, "credit upkeep failed"),
            }
            // The evaluation cycle: incremental once a day, full when the cycle is over.
            match upkeep.scheduled_evaluation() {
                Ok(Some(s)) => tracing::info!(
                    run = s.run_id,
                    evaluated = s.evaluated,
                    changed = s.changed,
                    "scheduled evaluation"
                ),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "scheduled evaluation failed"),
            }
            std::thread::sleep(std::time::Duration::from_secs(3600));
        })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let backend = app.db.describe();
    rt.block_on(xinjian_web::serve(app, addr, |bound| {
        println!("信监已启动：http://{bound}/  （数据库 {backend}）");
        if demo {
            println!(
                "工作人员登录：http://{bound}/login  演示账号 regulator（监管人员）/ credit（信用办）/ admin（管理员）/ agency（企业），密码 {}",
                xinjian_app::demo::DEMO_PASSWORD
            );
        }
    }))?;
    Ok(ExitCode::SUCCESS)
}
