//! Deterministic demo data: a realistic county jurisdiction from a seed, at any size.
//!
//! Subjects are written as a market-regulation CSV export and imported through the real import
//! pipeline, so the demo exercises the same path as production data. A second, deliberately
//! messy GBK file is left in the data directory for people to try the import page with.

use std::io::Write;
use std::path::{Path, PathBuf};

use xinjian_core::person_id::PersonId;
use xinjian_core::role::Role;
use xinjian_core::subject::scope_offers_bookkeeping;
use xinjian_core::uscc::{Uscc, ALPHABET};

use crate::accounts::NewAccount;
use crate::import::{ImportOptions, ImportProgress, ImportSummary};
use crate::{Actor, App, AppError, Result};

/// The demo jurisdiction: 四川省广元市利州区.
pub const DIVISION: &str = "510802";
pub const COUNTY: &str = "四川省广元市利州区";
/// Password of the demo accounts (printed by `xinjian demo`).
pub const DEMO_PASSWORD: &str = "xinjian-demo";
/// The messy import file written next to the database.
pub const MESSY_FILE: &str = "demo-messy-import.csv";

/// splitmix64: small, fast, and its output never changes between versions (unlike `rand`).
#[derive(Debug, Clone)]
pub struct DemoRng {
    state: u64,
    /// Fixed per seed: spreads the organisation codes of one jurisdiction.
    salt: u64,
}

impl DemoRng {
    pub fn new(seed: u64) -> Self {
        let mut r = DemoRng {
            state: seed,
            salt: 0,
        };
        r.salt = r.next_u64();
        r.state = seed;
        r
    }
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const BRAND: &[&str] = &[
    "嘉陵", "利州", "蜀道", "明月", "凤凰", "天成", "诚信", "金桥", "宏达", "鑫源", "汇通", "恒泰",
    "瑞丰", "博远", "华诚", "鼎盛", "弘毅", "正和", "致远", "卓越", "德昌", "同创", "翠云", "剑门",
    "皇泽", "昭化", "千佛", "白龙", "青川", "苍溪", "永宁", "安信", "信达", "立信", "中和", "同心",
    "久安", "益民", "兴业", "众合", "丰泽", "润和", "锦程", "广信", "天府",
];
const TRADE: &[(&str, &str, &str)] = &[
    (
        "财务咨询",
        "代理记账；财务咨询；税务咨询；企业管理咨询",
        "商务服务业",
    ),
    ("会计服务", "代理记账；会计咨询；代理工商登记", "商务服务业"),
    ("财税服务", "代理记账；税务代理；财务咨询", "商务服务业"),
    ("商贸", "日用百货、五金交电、建筑材料销售", "批发和零售业"),
    ("建筑工程", "房屋建筑工程施工；市政公用工程施工", "建筑业"),
    ("食品", "食品生产；食品经营；农副产品收购", "制造业"),
    ("餐饮管理", "餐饮服务；餐饮管理", "住宿和餐饮业"),
    ("物流", "道路货物运输；仓储服务", "交通运输、仓储和邮政业"),
    (
        "信息技术",
        // Names bookkeeping only to exclude it, as many real scopes do: no bookkeeping agency.
        "软件开发；信息系统集成服务；信息技术咨询；财务咨询（不含代理记账）",
        "信息传输、软件和信息技术服务业",
    ),
    (
        "农业开发",
        "蔬菜、水果种植；农业技术推广",
        "农、林、牧、渔业",
    ),
    ("房地产开发", "房地产开发经营；物业管理", "房地产业"),
    ("医药", "药品零售；医疗器械经营", "批发和零售业"),
    ("旅游开发", "旅游资源开发；旅行社服务", "租赁和商务服务业"),
    (
        "环保科技",
        "环保技术开发；污水处理",
        "水利、环境和公共设施管理业",
    ),
];
/// Legal forms: a company's name ending and type, and the name ending of an individual
/// business in the same place of the cycle (so that individual names are unique too).
const FORMS: &[(&str, &str, &str)] = &[
    ("有限公司", "有限责任公司（自然人投资或控股）", "经营部"),
    ("有限责任公司", "有限责任公司（自然人独资）", "商行"),
    (
        "股份有限公司",
        "股份有限公司（非上市、自然人投资或控股）",
        "门市部",
    ),
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "邓", "曹", "彭",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "志强", "文", "丹", "玉兰", "海燕", "晓东",
    "春梅",
];
const STREETS: &[&str] = &[
    "东坝街道",
    "嘉陵街道",
    "河西街道",
    "上西街道",
    "南河街道",
    "万缘街道",
    "雪峰街道",
    "宝轮镇",
    "大石镇",
    "荣山镇",
    "三堆镇",
    "白朝乡",
];
const ROADS: &[&str] = &[
    "利州东路",
    "蜀门南路",
    "文化路",
    "滨河北路",
    "万缘大道",
    "嘉陵路",
    "凤凰大道",
    "南河路",
    "上西路",
    "东坝大道",
];

/// The 9-character organisation code of the `i`-th subject: "MA" (the prefix of codes issued
/// since the reform) and 7 characters of the code alphabet. `i ↦ (i·M + salt) mod 31⁷` is a
/// bijection (M is coprime to 31), so codes never repeat within a jurisdiction of any size.
fn org_code(rng: &DemoRng, i: u64) -> String {
    const SPACE: u64 = 27_512_614_111; // 31^7
    const M: u64 = 1_000_003;
    let mut x = ((i as u128 * M as u128 + rng.salt as u128) % SPACE as u128) as u64;
    let mut tail = [b'0'; 7];
    for c in tail.iter_mut().rev() {
        *c = ALPHABET[(x % 31) as usize];
        x /= 31;
    }
    format!(
        "MA{}",
        std::str::from_utf8(&tail).expect("alphabet is ASCII")
    )
}

/// A legal representative: a name and a valid resident ID number born 1960–1999 locally.
pub fn person(rng: &mut DemoRng) -> (String, String) {
    let name = format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN));
    let y = 1960 + rng.below(40);
    let m = 1 + rng.below(12);
    let d = 1 + rng.below(28);
    let first17 = format!("{DIVISION}{y:04}{m:02}{d:02}{:03}", rng.below(1000));
    let id = PersonId::from_first17(&first17)
        .expect("generated ID prefix is valid")
        .as_str()
        .to_owned();
    (name, id)
}

/// One generated subject row, in the headers of a market-regulation export.
#[derive(Debug, Clone)]
pub struct DemoSubject {
    pub code: String,
    pub name: String,
    pub entity_type: String,
    pub legal_rep: String,
    pub legal_rep_id: String,
    pub established_on: String,
    pub address: String,
    pub business_scope: String,
    pub reg_status: String,
    pub reg_authority: String,
    pub industry: String,
}

pub const EXPORT_HEADERS: [&str; 11] = [
    "统一社会信用代码",
    "企业名称",
    "企业类型",
    "法定代表人",
    "法定代表人证件号码",
    "成立日期",
    "住所",
    "经营范围",
    "登记状态",
    "登记机关",
    "所属行业",
];

impl DemoSubject {
    pub fn cells(&self) -> [&str; 11] {
        [
            &self.code,
            &self.name,
            &self.entity_type,
            &self.legal_rep,
            &self.legal_rep_id,
            &self.established_on,
            &self.address,
            &self.business_scope,
            &self.reg_status,
            &self.reg_authority,
            &self.industry,
        ]
    }
}

/// Generate the `i`-th subject of a jurisdiction. Names are unique per index.
pub fn subject(rng: &mut DemoRng, i: u64) -> DemoSubject {
    let individual = rng.chance(15);
    // The name is a function of the index, so names are unique however large the jurisdiction:
    // trade, first and second 字号 and legal form cycle at different rates.
    let t = (i % TRADE.len() as u64) as usize;
    let a = ((i / 14) % BRAND.len() as u64) as usize;
    let b = ((i / 630) % (BRAND.len() as u64 + 1)) as usize;
    let f = ((i / 28_980) % FORMS.len() as u64) as usize;
    let round = i / 86_940;
    let (trade, scope, industry) = TRADE[t];
    let (rep, rep_id) = person(rng);
    let brand = format!("{}{}", BRAND[a], if b == 0 { "" } else { BRAND[b - 1] });
    let suffix = if round == 0 {
        String::new()
    } else {
        format!("（{}）", round + 1)
    };
    let (form, etype, individual_form) = FORMS[f];
    let (name, entity_type, kind_char) = if individual {
        (
            format!("利州区{brand}{trade}{individual_form}{suffix}"),
            "个体工商户".to_owned(),
            '2',
        )
    } else {
        (
            format!("广元市{brand}{trade}{form}{suffix}"),
            etype.to_owned(),
            '1',
        )
    };
    let first17 = format!("9{kind_char}{DIVISION}{}", org_code(rng, i));
    let code = Uscc::from_first17(&first17)
        .expect("generated prefix is valid")
        .as_str()
        .to_owned();
    let status = match rng.below(100) {
        0..=86 => "存续（在营、开业、在册）",
        87..=91 => "吊销，未注销",
        92..=97 => "注销",
        _ => "迁出",
    };
    let y = 1995 + rng.below(31);
    let m = 1 + rng.below(12);
    let d = 1 + rng.below(28);
    DemoSubject {
        code,
        name,
        entity_type,
        legal_rep: rep,
        legal_rep_id: rep_id,
        established_on: format!("{y}-{m:02}-{d:02}"),
        address: format!(
            "{COUNTY}{}{}{}号",
            rng.pick(STREETS),
            rng.pick(ROADS),
            1 + rng.below(300)
        ),
        business_scope: format!(
            "{scope}。（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
        ),
        reg_status: status.to_owned(),
        reg_authority: "广元市利州区市场监督管理局".to_owned(),
        industry: industry.to_owned(),
    }
}

fn csv_line(cells: &[&str]) -> String {
    cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                (*c).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Write `n` subjects as a UTF-8 CSV export.
pub fn write_export(path: &Path, n: u64, seed: u64) -> Result<()> {
    let io = |e: std::io::Error| AppError::Internal(format!("写入 {} 失败：{e}", path.display()));
    let mut w =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(io)?);
    writeln!(w, "{}", EXPORT_HEADERS.join(",")).map_err(io)?;
    let mut rng = DemoRng::new(seed);
    for i in 0..n {
        let s = subject(&mut rng, i);
        writeln!(w, "{}", csv_line(&s.cells())).map_err(io)?;
    }
    w.flush().map_err(io)
}

/// The messy file: some good rows, some changes to existing subjects, and the faults real
/// exports contain — bad check characters, a letter outside the code alphabet, a duplicate,
/// an impossible date, an empty name, a future date, a bad ID number. Encoded in GBK.
pub fn write_messy(path: &Path, seed: u64) -> Result<()> {
    let mut rng = DemoRng::new(seed);
    let mut lines = vec![EXPORT_HEADERS.join(",")];
    // Two existing subjects with changes (the first two of the jurisdiction).
    // Changes to the 6th and 7th subjects of the jurisdiction (not the first agency, which the
    // demo's agency account represents).
    let existing: Vec<DemoSubject> = (0..7).map(|i| subject(&mut rng, i)).collect();
    let mut first = existing[5].clone();
    first.reg_status = "吊销，未注销".into();
    let mut second = existing[6].clone();
    second.address = format!("{COUNTY}东坝街道文化路60号");
    let mut new_rng = DemoRng::new(seed ^ 0x5eed);
    let mut fresh: Vec<DemoSubject> = (0..6).map(|i| subject(&mut new_rng, 70_000 + i)).collect();
    fresh[0].name = "广元市利州区明月代理记账有限公司".into();
    fresh[0].business_scope = "代理记账；财务咨询。".into();
    for s in [&first, &second] {
        lines.push(csv_line(&s.cells()));
    }
    for s in &fresh {
        lines.push(csv_line(&s.cells()));
    }
    let mut bad = |f: &dyn Fn(&mut DemoSubject)| {
        let mut s = subject(&mut new_rng, 75_000 + lines.len() as u64);
        f(&mut s);
        lines.push(csv_line(&s.cells()));
    };
    bad(&|s| {
        let mut c: Vec<char> = s.code.chars().collect();
        c[17] = if c[17] == '0' { '1' } else { '0' };
        s.code = c.into_iter().collect();
    });
    bad(&|s| s.code = format!("{}I{}", &s.code[..8], &s.code[9..]));
    bad(&|s| s.code = s.code[..17].to_owned());
    bad(&|s| s.established_on = "2023-02-29".into());
    bad(&|s| s.name = String::new());
    bad(&|s| s.established_on = "2099-01-01".into());
    bad(&|s| s.legal_rep_id = format!("{}13{}", &s.legal_rep_id[..10], &s.legal_rep_id[12..]));
    bad(&|s| s.reg_status = "不详".into());
    // A duplicate of a fresh row, with a different name.
    let mut dup = fresh[1].clone();
    dup.name = format!("{}（重复）", dup.name);
    lines.push(csv_line(&dup.cells()));
    // Full-width digits and spaces in a code are normalised, not rejected.
    let mut wide = fresh[2].clone();
    wide.code = wide
        .code
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)
            } else {
                c
            }
        })
        .collect();
    wide.code = format!(" {} ", wide.code);
    lines[3 + 2] = csv_line(&wide.cells());
    let text = lines.join("\r\n") + "\r\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    std::fs::write(path, &gbk)
        .map_err(|e| AppError::Internal(format!("写入 {} 失败：{e}", path.display())))
}

/// What `xinjian demo` did.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub import: ImportSummary,
    /// Credit records and list entries written (new, changed, unchanged).
    pub credit: crate::credit::Written,
    /// The department penalty file to try the credit import with.
    pub penalty_file: PathBuf,
    pub accounts: Vec<(String, Role)>,
    pub messy_file: PathBuf,
}

impl App {
    /// Fill the store with a jurisdiction of `n` subjects from `seed`, create the demo
    /// accounts (if missing) and write the messy import file. Running it twice changes nothing.
    pub fn load_demo(
        &self,
        n: u64,
        seed: u64,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<DemoReport> {
        let system = Actor::System("demo".into());
        let export = self.data_dir().join(format!("demo-export-{seed}-{n}.csv"));
        write_export(&export, n, seed)?;
        let import = self.import_subjects(&system, &export, ImportOptions::default(), progress)?;
        let _ = std::fs::remove_file(&export);
        let mut rng = DemoRng::new(seed);
        let first_agency = (0..n.min(2000))
            .map(|i| subject(&mut rng, i))
            .find(|s| {
                scope_offers_bookkeeping(&s.business_scope) && s.reg_status.starts_with("存续")
            })
            .map(|s| s.code);
        let accounts: Vec<(&str, &str, Role, Option<&str>)> = vec![
            ("admin", "系统管理员", Role::Admin, Some("信息中心")),
            (
                "regulator",
                "会计科 王科长",
                Role::Regulator,
                Some("财政局会计科"),
            ),
            (
                "credit",
                "信用办 李主任",
                Role::CreditOffice,
                Some("信用办"),
            ),
            (
                "inspector",
                "执法检查人员 张三",
                Role::Inspector,
                Some("财政局会计科"),
            ),
            ("agency", "代理记账机构", Role::Entity, None),
            (
                "tax",
                "税务局（接口）",
                Role::Department,
                Some("国家税务总局广元市利州区税务局"),
            ),
        ];
        let mut created = Vec::new();
        let mut conn = self.db.conn()?;
        for (user, display, role, dept) in accounts {
            if xinjian_store::users::by_username(&mut conn, user)?.is_some() {
                continue;
            }
            if role == Role::Entity && first_agency.is_none() {
                continue;
            }
            self.create_user(
                &system,
                &NewAccount {
                    username: user.into(),
                    display_name: display.into(),
                    role,
                    department: dept.map(Into::into),
                    subject_code: if role == Role::Entity {
                        first_agency.clone()
                    } else {
                        None
                    },
                    password: DEMO_PASSWORD.into(),
                },
            )?;
            created.push((user.to_owned(), role));
        }
        let messy = self.data_dir().join(MESSY_FILE);
        write_messy(&messy, seed)?;
        let credit = self.load_demo_credit(n, seed)?;
        // Grades with their explanations: the first run is full, later ones incremental.
        self.evaluate_jurisdiction(&system, None, false, &mut |_, _| {})?;
        let penalty_file = self.data_dir().join(crate::demo_credit::PENALTY_FILE);
        crate::demo_credit::write_penalty_file(&penalty_file, n, seed)?;
        Ok(DemoReport {
            import,
            credit,
            penalty_file,
            accounts: created,
            messy_file: messy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_valid() {
        let a: Vec<_> = {
            let mut r = DemoRng::new(7);
            (0..200).map(|i| subject(&mut r, i).code).collect()
        };
        let b: Vec<_> = {
            let mut r = DemoRng::new(7);
            (0..200).map(|i| subject(&mut r, i).code).collect()
        };
        assert_eq!(a, b);
        for c in &a {
            assert!(Uscc::parse(c).is_ok(), "{c}");
        }
        let mut r = DemoRng::new(7);
        let names: std::collections::HashSet<String> =
            (0..5000).map(|i| subject(&mut r, i).name).collect();
        assert_eq!(names.len(), 5000, "names are unique");
        // Across the cycles of the legal form (28,980 subjects each) and the rounds after
        // them, individual businesses included.
        let mut r = DemoRng::new(7);
        let indices: Vec<u64> = (0..4u64)
            .flat_map(|k| (0..3000).map(move |j| j + k * 28_980))
            .collect();
        let names: std::collections::HashSet<String> =
            indices.iter().map(|&i| subject(&mut r, i).name).collect();
        assert_eq!(
            names.len(),
            indices.len(),
            "names are unique across the cycles"
        );
    }

    #[test]
    fn some_scopes_name_bookkeeping_only_to_exclude_it() {
        let mut r = DemoRng::new(7);
        let scopes: Vec<String> = (0..500)
            .map(|i| subject(&mut r, i).business_scope)
            .collect();
        let named = |s: &&String| s.contains("代理记账");
        let offered = scopes
            .iter()
            .filter(|s| scope_offers_bookkeeping(s))
            .count();
        let excluded = scopes.iter().filter(named).count() - offered;
        assert!(offered > 0 && excluded > 0, "{offered} {excluded}");
    }
}
