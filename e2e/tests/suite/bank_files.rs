//! Bank files end to end: every format (real sample statements where their licence allows,
//! and small statements written here for the cases a real file does not show), every shipped
//! CSV profile, preview, undo, dedup across re-imports and across formats, the closing
//! balance check, broken files, accounts and their owners, and a file large enough to be
//! written in the background. Real PostgreSQL, RabbitMQ, gRPC and HTTP.

use std::path::{Path, PathBuf};
use std::time::Duration;

use budgetsmart_bankfiles::{Format, Item, Options};
use e2e::{Session, TestSystem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const OFX: &str = "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n\
COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n<OFX>\n<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO\n\
</STATUS><DTSERVER>20260331120000<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>\n<BANKMSGSRSV1><STMTTRNRS><TRNUID>1\n\
<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n<STMTRS><CURDEF>USD\n<BANKACCTFROM><BANKID>121000248<ACCTID>123456789\n\
<ACCTTYPE>CHECKING</BANKACCTFROM>\n<BANKTRANLIST><DTSTART>20260301<DTEND>20260331\n\
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260303<TRNAMT>-54.20<FITID>202603030001<NAME>WHOLE FOODS MKT #10234\n</STMTTRN>\n\
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260310<TRNAMT>-15.49<FITID>202603100002<NAME>NETFLIX.COM\n</STMTTRN>\n\
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260315<TRNAMT>2500.00<FITID>202603150003<NAME>ACME CORP PAYROLL\n</STMTTRN>\n\
</BANKTRANLIST>\n<LEDGERBAL><BALAMT>3430.31<DTASOF>20260331</LEDGERBAL>\n</STMTRS></STMTTRNRS></BANKMSGSRSV1>\n</OFX>\n";

/// The same three rows as [`OFX`], as the bank's CSV export words them.
const SAME_AS_CSV: &str = "Date,Description,Amount\n03/03/2026,\"WHOLEFDS MKT 10234 AUSTIN TX\",-54.20\n\
03/10/2026,\"NETFLIX.COM 866-579-7172 CA\",-15.49\n03/15/2026,\"ACME CORP DIR DEP\",2500.00\n";

fn camt(closing: &str) -> String {
    let entry = |amount: &str, side: &str, day: &str, reference: &str, party: &str, info: &str| {
        let party = if side == "DBIT" {
            format!("<Cdtr><Nm>{party}</Nm></Cdtr>")
        } else {
            format!("<Dbtr><Nm>{party}</Nm></Dbtr>")
        };
        format!(
            "<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>{side}</CdtDbtInd><Sts>BOOK</Sts>\
             <BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>{reference}</AcctSvcrRef>\
             <NtryDtls><TxDtls><RltdPties>{party}</RltdPties><RmtInf><Ustrd>{info}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n"
        )
    };
    let balance = |code: &str, amount: &str, day: &str| {
        format!(
            "<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{amount}</Amt>\
             <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>\n"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\n\
         <BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-03-31T18:00:00</CreDtTm></GrpHdr>\n\
         <Stmt><Id>S1</Id><CreDtTm>2026-03-31T18:00:00</CreDtTm>\n\
         <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy><Svcr><FinInstnId><BIC>COBADEFFXXX</BIC>\
         </FinInstnId></Svcr></Acct>\n{}{}{}{}{}</Stmt></BkToCstmrStmt></Document>\n",
        balance("OPBD", "1000.00", "2026-03-01"),
        balance("CLBD", closing, "2026-03-31"),
        entry("42.10", "DBIT", "2026-03-05", "REF-0001", "REWE Markt", "Einkauf 0305"),
        entry("950.00", "DBIT", "2026-03-01", "REF-0002", "Hausverwaltung Schmidt", "Miete Maerz"),
        entry("3200.00", "CRDT", "2026-03-28", "REF-0003", "ACME GmbH", "Gehalt Maerz"),
    )
}

const MT940: &str = ":20:STARTUMS\n:25:10020030/1234567\n:28C:00001/001\n:60F:C260301EUR1000,00\n\
:61:2603050305DR42,10NMSCNONREF//BANKREF1\n:86:005?00LASTSCHRIFT?20Einkauf 0305?32REWE Markt\n\
:61:2603280328CR3200,00NMSCNONREF//BANKREF2\n:86:051?00GEHALT?20Gehalt Maerz?32ACME GmbH\n:62F:C260331EUR4157,90\n-\n";

const QIF: &str = "!Type:Bank\nD03/03/2026\nT-54.20\nPWHOLE FOODS\nLGroceries\n^\nD03/15/2026\nT2,500.00\nPACME PAYROLL\n^\n";

async fn transactions(system: &TestSystem, user: &Session) -> Vec<Value> {
    let listed = system.call(Method::GET, "/transactions?limit=200", Some(&user.token), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    listed.body["data"].as_array().cloned().unwrap_or_default()
}

async fn accounts(system: &TestSystem, user: &Session) -> Vec<Value> {
    let listed = system.call(Method::GET, "/accounts", Some(&user.token), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    listed.body["data"].as_array().cloned().unwrap_or_default()
}

fn samples(folder: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bankfiles/tests/samples").join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with("README") && !name.starts_with("LICENSE") && !name.starts_with('.')
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no samples in {}", dir.display());
    files
}

/// What the reader makes of a file: (format, rows, accounts with a number).
fn read_locally(bytes: &[u8]) -> (Format, usize, usize) {
    let mut rows = 0;
    let statement = budgetsmart_bankfiles::read(bytes, &Options::default(), &mut |item| {
        if matches!(item, Item::Entry(_) | Item::Error(_)) {
            rows += 1;
        }
    })
    .expect("the sample reads");
    let named = statement.accounts.iter().filter(|a| !a.number.trim().is_empty()).count();
    (statement.format, rows, named)
}

/// Every real sample statement imports: its rows are all accounted for (imported, duplicate
/// or refused by line), the accounts it names are created once, and a second import of the
/// same file adds nothing.
#[tokio::test]
async fn every_format_imports_its_real_sample_files() {
    let system = TestSystem::start().await;
    let mut formats = std::collections::BTreeSet::new();
    for folder in ["ofx", "qif", "camt", "mt940"] {
        for path in samples(folder) {
            let user = system.register_and_login("Sam").await;
            let bytes = std::fs::read(&path).expect("reads the sample");
            let (format, rows, named) = read_locally(&bytes);
            formats.insert(format.as_str());
            let name = path.display().to_string();
            let first = system
                .upload(&user.token, "/transactions/import", "application/octet-stream", bytes.clone())
                .await;
            assert_eq!(first.status, StatusCode::OK, "{name}: {:?}", first.body);
            let imported = first.body["imported"].as_u64().unwrap_or(0) as usize;
            let duplicates = first.body["duplicates"].as_u64().unwrap_or(0) as usize;
            let refused = first.body["errors"].as_array().map(Vec::len).unwrap_or(0);
            // One sample lists two accounts and no transactions: it still makes the accounts.
            assert!(imported > 0 || rows == 0, "{name}: nothing imported: {:?}", first.body);
            assert_eq!(imported + duplicates + refused, rows, "{name}: {:?}", first.body);
            assert_eq!(first.body["import"]["format"], format.as_str(), "{name}");
            assert_eq!(first.body["import"]["status"], "done", "{name}");
            assert_eq!(accounts(&system, &user).await.len(), named, "{name}: one account per number");
            let again =
                system.upload(&user.token, "/transactions/import", "application/octet-stream", bytes).await;
            assert_eq!(again.status, StatusCode::OK, "{name}: {:?}", again.body);
            assert_eq!(again.body["imported"], 0, "{name}: a second import adds nothing: {:?}", again.body);
            assert_eq!(accounts(&system, &user).await.len(), named, "{name}: no account made twice");
        }
    }
    assert_eq!(formats.len(), 4, "{formats:?}");
    system.stop().await;
}

/// Each shipped profile's sample is recognised as that profile and imports every row.
#[tokio::test]
async fn every_shipped_csv_profile_imports_its_sample() {
    let system = TestSystem::start().await;
    let user = system.register_and_login("Pat").await;
    let mut seen = Vec::new();
    for path in samples("csv") {
        let profile = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        if !budgetsmart_bankfiles::profiles().contains(&profile.as_str()) {
            continue;
        }
        let bytes = std::fs::read(&path).expect("reads the sample");
        let (_, rows, _) = read_locally(&bytes);
        let preview =
            system.upload(&user.token, "/transactions/import/preview", "text/csv", bytes.clone()).await;
        assert_eq!(preview.status, StatusCode::OK, "{profile}: {:?}", preview.body);
        assert_eq!(preview.body["format"], "csv");
        assert_eq!(preview.body["profile"], profile.as_str(), "{profile}: {:?}", preview.body["mapping"]);
        assert!(preview.body["confidence"].as_f64().unwrap_or(0.0) >= 0.9, "{profile}: {:?}", preview.body);
        // Our own CSV names categories on purpose: one the person lacks is a row error there.
        let refused: Vec<&str> = preview.body["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["message"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            refused.is_empty()
                || (profile == "budgetsmart" && refused.iter().all(|m| m.starts_with("unknown category"))),
            "{profile}: {refused:?}"
        );
        let imported = system
            .upload(&user.token, &format!("/transactions/import?file_name={profile}.csv"), "text/csv", bytes)
            .await;
        assert_eq!(imported.status, StatusCode::OK, "{profile}: {:?}", imported.body);
        assert_eq!(
            imported.body["imported"].as_u64().unwrap_or(0)
                + imported.body["duplicates"].as_u64().unwrap_or(0)
                + refused.len() as u64,
            rows as u64,
            "{profile}: {:?}",
            imported.body
        );
        assert_eq!(imported.body["import"]["profile"], profile.as_str());
        seen.push(profile);
    }
    for wanted in ["ynab-register", "firefly-iii", "actual"] {
        assert!(seen.iter().any(|p| p == wanted), "no sample for {wanted}: {seen:?}");
    }
    assert!(seen.len() >= 6, "the apps and at least three banks: {seen:?}");
    system.stop().await;
}

/// A preview answers what the import then does, and writes nothing.
#[tokio::test]
async fn a_preview_predicts_the_import_and_writes_nothing() {
    let system = TestSystem::start().await;
    let user = system.register_and_login("Pia").await;
    let preview = system.upload(&user.token, "/transactions/import/preview", "application/x-ofx", OFX).await;
    assert_eq!(preview.status, StatusCode::OK, "{:?}", preview.body);
    assert_eq!(preview.body["format"], "ofx");
    assert_eq!(preview.body["confidence"], 1.0);
    assert_eq!(preview.body["rows_total"], 3);
    assert_eq!(preview.body["would_import"], 3);
    assert_eq!(preview.body["rows"][0]["description"], "WHOLE FOODS MKT #10234");
    assert_eq!(preview.body["rows"][0]["amount"], "54.20");
    assert_eq!(preview.body["rows"][0]["type"], "debit");
    assert_eq!(preview.body["rows"][0]["bank_id"], "202603030001");
    assert_eq!(preview.body["accounts"][0]["created"], true);
    assert_eq!(preview.body["accounts"][0]["number_hint"], "6789");
    assert_eq!(preview.body["accounts"][0]["account_id"], Value::Null);
    assert!(transactions(&system, &user).await.is_empty(), "a preview writes no transaction");
    assert!(accounts(&system, &user).await.is_empty(), "a preview makes no account");
    let listed = system.call(Method::GET, "/imports", Some(&user.token), None).await;
    assert_eq!(listed.body["data"], json!([]), "a preview is not an import");

    let imported = system
        .upload(&user.token, "/transactions/import?file_name=march.ofx", "application/x-ofx", OFX)
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{:?}", imported.body);
    assert_eq!(imported.body["imported"], 3);
    let account = &accounts(&system, &user).await[0];
    assert_eq!(account["number_hint"], "6789");
    assert_eq!(account["currency"], "USD");
    assert_eq!(account["type"], "checking");
    for t in transactions(&system, &user).await {
        assert_eq!(t["account_id"], account["id"], "{t}");
        assert_eq!(t["import_id"], imported.body["import"]["id"], "{t}");
    }
    // Previewed again, every row is now a duplicate, and the account is found, not made.
    let again = system.upload(&user.token, "/transactions/import/preview", "application/x-ofx", OFX).await;
    assert_eq!(again.body["duplicates"], 3, "{:?}", again.body);
    assert_eq!(again.body["would_import"], 0);
    assert_eq!(again.body["rows"][1]["duplicate"], true);
    assert_eq!(again.body["accounts"][0]["created"], false);
    assert_eq!(again.body["accounts"][0]["account_id"], account["id"]);

    let history = system.call(Method::GET, "/imports", Some(&user.token), None).await;
    let record = &history.body["data"][0];
    assert_eq!(record["file_name"], "march.ofx");
    assert_eq!(record["format"], "ofx");
    assert_eq!(record["status"], "done");
    assert_eq!((record["rows_total"].clone(), record["rows_done"].clone()), (json!(3), json!(3)));
    let one = system
        .call(
            Method::GET,
            &format!("/imports/{}", record["id"].as_str().unwrap_or("")),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["imported"], 3);
    system.stop().await;
}

/// Undo removes exactly the import's rows, re-evaluates the budget, keeps the history, and a
/// second undo changes nothing.
#[tokio::test]
async fn undo_removes_the_import_and_is_idempotent() {
    let system = TestSystem::start().await;
    let user = system.register_and_login("Uma").await;
    let budget = system
        .call(
            Method::POST,
            "/budgets",
            Some(&user.token),
            Some(json!({"month": "2026-03", "currency": "USD", "total_limit": "500.00"})),
        )
        .await;
    assert_eq!(budget.status, StatusCode::CREATED, "{:?}", budget.body);
    let budget_id = budget.body["id"].as_str().unwrap_or_default().to_owned();
    let typed = json!({"occurred_on": "2026-03-02", "description": "Farmers market", "amount": "20.00", "currency": "USD", "type": "debit"});
    assert_eq!(
        system.call(Method::POST, "/transactions", Some(&user.token), Some(typed)).await.status,
        StatusCode::CREATED
    );
    let imported = system.upload(&user.token, "/transactions/import", "application/x-ofx", OFX).await;
    assert_eq!(imported.body["imported"], 3, "{:?}", imported.body);
    let id = imported.body["import"]["id"].as_str().unwrap_or_default().to_owned();
    let status =
        system.call(Method::GET, &format!("/budgets/{budget_id}/status"), Some(&user.token), None).await;
    assert_eq!(status.body["spent"], "89.69", "{:?}", status.body);

    let undone = system.call(Method::DELETE, &format!("/imports/{id}"), Some(&user.token), None).await;
    assert_eq!(undone.status, StatusCode::NO_CONTENT, "{:?}", undone.body);
    let left = transactions(&system, &user).await;
    assert_eq!(left.len(), 1, "only the typed-in row stays: {left:?}");
    assert_eq!(left[0]["description"], "Farmers market");
    let status =
        system.call(Method::GET, &format!("/budgets/{budget_id}/status"), Some(&user.token), None).await;
    assert_eq!(status.body["spent"], "20.00", "{:?}", status.body);
    let record = system.call(Method::GET, &format!("/imports/{id}"), Some(&user.token), None).await;
    assert!(record.body["undone_at"].is_string(), "{:?}", record.body);
    let again = system.call(Method::DELETE, &format!("/imports/{id}"), Some(&user.token), None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "undo is idempotent");
    assert_eq!(transactions(&system, &user).await.len(), 1);
    // The account stays, and the file imports again in full.
    assert_eq!(accounts(&system, &user).await.len(), 1);
    let reimported = system.upload(&user.token, "/transactions/import", "application/x-ofx", OFX).await;
    assert_eq!(reimported.body["imported"], 3, "{:?}", reimported.body);
    // Someone else cannot see or undo it.
    let other = system.register_and_login("Ola").await;
    let theirs = reimported.body["import"]["id"].as_str().unwrap_or_default();
    assert_eq!(
        system.call(Method::DELETE, &format!("/imports/{theirs}"), Some(&other.token), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        system.call(Method::GET, &format!("/imports/{theirs}"), Some(&other.token), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(transactions(&system, &user).await.len(), 4);
    system.stop().await;
}

/// The same statement downloaded as OFX and as the bank's CSV imports once, although the
/// two word their rows differently; re-imports of each dedup on their own keys.
#[tokio::test]
async fn the_same_statement_as_ofx_and_csv_imports_once() {
    let system = TestSystem::start().await;
    let user = system.register_and_login("Cal").await;
    let ofx = system.upload(&user.token, "/transactions/import", "application/x-ofx", OFX).await;
    assert_eq!(ofx.body["imported"], 3, "{:?}", ofx.body);
    let account = ofx.body["import"]["accounts"][0]["account_id"].as_str().unwrap_or_default().to_owned();
    let csv = system
        .upload(&user.token, &format!("/transactions/import?account_id={account}"), "text/csv", SAME_AS_CSV)
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{:?}", csv.body);
    assert_eq!(
        (csv.body["imported"].clone(), csv.body["duplicates"].clone()),
        (json!(0), json!(3)),
        "{:?}",
        csv.body
    );
    assert_eq!(transactions(&system, &user).await.len(), 3);

    // The other way round, for another person: CSV first, then OFX.
    let other = system.register_and_login("Dee").await;
    let created = system
        .call(
            Method::POST,
            "/accounts",
            Some(&other.token),
            Some(json!({"name": "Checking", "currency": "USD", "type": "checking"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let theirs = created.body["id"].as_str().unwrap_or_default().to_owned();
    let csv = system
        .upload(&other.token, &format!("/transactions/import?account_id={theirs}"), "text/csv", SAME_AS_CSV)
        .await;
    assert_eq!(csv.body["imported"], 3, "{:?}", csv.body);
    let ofx = system
        .upload(&other.token, &format!("/transactions/import?account_id={theirs}"), "application/x-ofx", OFX)
        .await;
    assert_eq!(
        (ofx.body["imported"].clone(), ofx.body["duplicates"].clone()),
        (json!(0), json!(3)),
        "{:?}",
        ofx.body
    );
    // The account took the file's number: the next OFX finds it without being told.
    let found = system.upload(&other.token, "/transactions/import/preview", "application/x-ofx", OFX).await;
    assert_eq!(found.body["accounts"][0]["account_id"], theirs.as_str(), "{:?}", found.body);
    system.stop().await;
}

/// A statement whose opening balance plus its rows misses its closing balance imports, with a
/// warning; one that adds up has none. MT940 is checked alike.
#[tokio::test]
async fn a_closing_balance_that_does_not_add_up_is_a_warning() {
    let system = TestSystem::start().await;
    let user = system.register_and_login("Bea").await;
    let good = system.upload(&user.token, "/transactions/import", "application/xml", camt("3207.90")).await;
    assert_eq!(good.status, StatusCode::OK, "{:?}", good.body);
    assert_eq!(good.body["imported"], 3);
    assert_eq!(good.body["import"]["balance_warning"], Value::Null, "{:?}", good.body);
    assert_eq!(good.body["import"]["accounts"][0]["closing_balance"], "3207.90");
    assert_eq!(good.body["import"]["accounts"][0]["number_hint"], "3000");
    let rows = transactions(&system, &user).await;
    let rent = rows.iter().find(|t| t["amount"] == "950.00").expect("the rent row");
    assert_eq!(rent["description"], "Hausverwaltung Schmidt · Miete Maerz");
    assert_eq!(rent["currency"], "EUR");

    let other = system.register_and_login("Bo").await;
    let off =
        system.upload(&other.token, "/transactions/import/preview", "application/xml", camt("3250.00")).await;
    let warning = off.body["balance_warning"].as_str().unwrap_or_default().to_owned();
    assert!(warning.contains("…3000") && warning.contains("42.10 EUR unaccounted for"), "{warning}");
    let off = system.upload(&other.token, "/transactions/import", "application/xml", camt("3250.00")).await;
    assert_eq!(off.body["imported"], 3, "the rows read are still imported");
    assert_eq!(off.body["import"]["balance_warning"], warning.as_str());

    let mt940 = system.upload(&other.token, "/transactions/import", "text/plain", MT940).await;
    assert_eq!(mt940.status, StatusCode::OK, "{:?}", mt940.body);
    assert_eq!(mt940.body["import"]["format"], "mt940");
    assert_eq!(mt940.body["imported"], 2, "{:?}", mt940.body);
    assert_eq!(mt940.body["import"]["balance_warning"], Value::Null, "{:?}", mt940.body);
    let short = MT940.replace(":62F:C260331EUR4157,90", ":62F:C260331EUR4200,00");
    let third = system.register_and_login("Cy").await;
    let short = system.upload(&third.token, "/transactions/import", "text/plain", short).await;
    assert!(
        short.body["import"]["balance_warning"].as_str().is_some_and(|w| w.contains("4200.00 EUR")),
        "{:?}",
        short.body
    );

    let qif = system.upload(&third.token, "/transactions/import", "application/x-qif", QIF).await;
    assert_eq!(qif.status, StatusCode::OK, "{:?}", qif.body);
    assert_eq!(qif.body["import"]["format"], "qif");
    assert_eq!(qif.body["imported"], 2, "{:?}", qif.body);
    let categories = system.category_ids(&third).await;
    let rows = transactions(&system, &third).await;
    let food = rows.iter().find(|t| t["description"] == "WHOLE FOODS").expect("the QIF row");
    assert_eq!(food["category_id"].as_str(), categories.get("Groceries").map(String::as_str), "{food}");
    assert_eq!(food["category_source"], "import");
    system.stop().await;
}

/// A file that does not parse is refused whole, naming where it broke, and nothing is written;
/// a CSV's bad rows are reported by line and the rest imported.
#[tokio::test]
async fn a_broken_file_is_refused_whole_and_bad_rows_by_line() {
    let system = TestSystem::start().await;
    let user = system.register_and_login("Ed").await;
    let truncated = &OFX[..OFX.find("<STMTTRN><TRNTYPE>CREDIT").unwrap_or(OFX.len())];
    let refused = system.upload(&user.token, "/transactions/import", "application/x-ofx", truncated).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert!(refused.is_problem());
    assert_eq!(refused.error_fields(), vec!["file"], "{:?}", refused.body);
    let xml = camt("3207.90")
        .replace("</Ntry>\n<Ntry><Amt Ccy=\"EUR\">950.00", "</Ntri>\n<Ntry><Amt Ccy=\"EUR\">950.00");
    let refused = system.upload(&user.token, "/transactions/import", "application/xml", xml).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    let message = refused.body["errors"][0]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.starts_with("line "), "names the line: {message}");
    let not_a_statement = "<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\"><CstmrCdtTrfInitn/></Document>";
    let refused =
        system.upload(&user.token, "/transactions/import", "application/xml", not_a_statement).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert!(transactions(&system, &user).await.is_empty(), "nothing of a refused file is written");
    assert!(accounts(&system, &user).await.is_empty());
    let listed = system.call(Method::GET, "/imports", Some(&user.token), None).await;
    assert_eq!(listed.body["data"], json!([]));

    let csv = "date,description,amount,currency\n2026-03-01,Coffee,-4.50,USD\n2026-13-01,Bad day,-1.00,USD\n\
               2026-03-02,Bad amount,-abc,USD\n2026-03-03,Bread,-3.20,USD\n";
    let partly = system.import_csv(&user.token, csv).await;
    assert_eq!(partly.status, StatusCode::OK, "{:?}", partly.body);
    assert_eq!(partly.body["imported"], 2);
    let lines: Vec<u64> = partly.body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["line"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(lines, vec![3, 4], "{:?}", partly.body);

    let unknown =
        system.upload(&user.token, "/transactions/import?profile=no-such-bank", "text/csv", csv).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.error_fields(), vec!["profile"]);
    let json_body = system.upload(&user.token, "/transactions/import", "application/json", "{}").await;
    assert_eq!(json_body.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    system.stop().await;
}

/// Accounts are the owner's: another person's account cannot take a file, a file of one
/// account cannot go into another, and transactions can be put into and taken out of one.
#[tokio::test]
async fn accounts_belong_to_their_owner() {
    let system = TestSystem::start().await;
    let ann = system.register_and_login("Ann").await;
    let bob = system.register_and_login("Bob").await;
    let body = json!({"name": "Bob's savings", "currency": "USD", "type": "savings", "institution": "Ally"});
    let bobs = system.call(Method::POST, "/accounts", Some(&bob.token), Some(body)).await;
    assert_eq!(bobs.status, StatusCode::CREATED, "{:?}", bobs.body);
    let bobs = bobs.body["id"].as_str().unwrap_or_default().to_owned();
    let blank = json!({"name": "Cash", "currency": "USD", "type": "cash", "institution": " "});
    let blank = system.call(Method::POST, "/accounts", Some(&bob.token), Some(blank)).await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", blank.body);
    assert_eq!(blank.error_fields(), vec!["institution"]);
    let bad_type = json!({"name": "Cash", "currency": "USD", "type": "wallet"});
    let bad_type = system.call(Method::POST, "/accounts", Some(&bob.token), Some(bad_type)).await;
    assert_eq!(bad_type.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad_type.body);

    let into_bobs = system
        .upload(&ann.token, &format!("/transactions/import?account_id={bobs}"), "application/x-ofx", OFX)
        .await;
    assert_eq!(into_bobs.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", into_bobs.body);
    assert_eq!(into_bobs.error_fields(), vec!["account_id"]);
    assert!(transactions(&system, &ann).await.is_empty());
    assert_eq!(
        system.call(Method::GET, &format!("/accounts/{bobs}"), Some(&ann.token), None).await.status,
        StatusCode::NOT_FOUND
    );
    let typed = json!({"occurred_on": "2026-03-02", "description": "Gift", "amount": "20.00", "currency": "USD", "type": "debit", "account_id": bobs});
    let typed = system.call(Method::POST, "/transactions", Some(&ann.token), Some(typed)).await;
    assert_eq!(typed.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", typed.body);
    assert_eq!(typed.error_fields(), vec!["account_id"]);

    // Ann's own OFX makes her account …6789; a CAMT file of another account is refused there.
    let ofx = system.upload(&ann.token, "/transactions/import", "application/x-ofx", OFX).await;
    let anns = ofx.body["import"]["accounts"][0]["account_id"].as_str().unwrap_or_default().to_owned();
    let wrong = system
        .upload(
            &ann.token,
            &format!("/transactions/import?account_id={anns}"),
            "application/xml",
            camt("3207.90"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", wrong.body);
    assert!(
        wrong.body["errors"][0]["message"].as_str().unwrap_or_default().contains("…3000"),
        "{:?}",
        wrong.body
    );

    // Rename, retype, move a transaction out, delete: the transactions stay.
    let patched = system
        .call(
            Method::PATCH,
            &format!("/accounts/{anns}"),
            Some(&ann.token),
            Some(json!({"name": "Everyday", "institution": null})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(
        (patched.body["name"].clone(), patched.body["institution"].clone()),
        (json!("Everyday"), Value::Null)
    );
    let first = transactions(&system, &ann).await[0]["id"].as_str().unwrap_or_default().to_owned();
    let moved = system
        .call(
            Method::PATCH,
            &format!("/transactions/{first}"),
            Some(&ann.token),
            Some(json!({"account_id": null})),
        )
        .await;
    assert_eq!(moved.body["account_id"], Value::Null, "{:?}", moved.body);
    let deleted = system.call(Method::DELETE, &format!("/accounts/{anns}"), Some(&ann.token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let rows = transactions(&system, &ann).await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|t| t["account_id"].is_null()), "{rows:?}");
    assert_eq!(
        system.call(Method::DELETE, &format!("/accounts/{bobs}"), Some(&ann.token), None).await.status,
        StatusCode::NOT_FOUND
    );
    system.stop().await;
}

/// A file past the threshold is accepted at once (202) and written in the background, with
/// its progress visible until it is done.
#[tokio::test]
async fn a_large_file_is_written_in_the_background() {
    let system = TestSystem::start().await;
    let user = system.register_and_login("Lou").await;
    const ROWS: usize = 5_000;
    let mut csv = String::from("date,description,amount,currency\n");
    for i in 0..ROWS {
        csv.push_str(&format!("2026-03-{:02},Shop {i},-{}.{:02},USD\n", 1 + i % 28, 1 + i % 90, i % 100));
    }
    let accepted = system.import_csv(&user.token, csv).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    assert_eq!(accepted.body["status"], "running");
    assert_eq!(accepted.body["rows_total"], ROWS);
    let id = accepted.body["id"].as_str().unwrap_or_default().to_owned();
    let mut progress = Vec::new();
    let done = loop {
        let record = system.call(Method::GET, &format!("/imports/{id}"), Some(&user.token), None).await;
        assert_eq!(record.status, StatusCode::OK);
        progress.push(record.body["rows_done"].as_u64().unwrap_or(0));
        if record.body["status"] != "running" {
            break record.body;
        }
        assert!(progress.len() < 2_000, "the import never finished: {:?}", record.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "done", "{done:?}");
    assert_eq!(done["imported"], ROWS, "{done:?}");
    assert_eq!(done["rows_done"], ROWS);
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "progress only grows: {progress:?}");
    let undo = system.call(Method::DELETE, &format!("/imports/{id}"), Some(&user.token), None).await;
    assert_eq!(undo.status, StatusCode::NO_CONTENT);
    let left = system.call(Method::GET, "/transactions?limit=1", Some(&user.token), None).await;
    assert_eq!(left.body["data"], json!([]));
    system.stop().await;
}

/// An engine that stops in the middle of a background import leaves it running with the rows
/// written so far; the next engine's sweep resumes it where it stopped, and every row of the
/// file ends up written exactly once.
#[tokio::test]
async fn a_background_import_survives_an_engine_restart() {
    let mut system = TestSystem::start().await;
    let user = system.register_and_login("Rex").await;
    const ROWS: usize = 12_000;
    let mut csv = String::from("date,description,amount,currency\n");
    for i in 0..ROWS {
        csv.push_str(&format!("2026-02-{:02},Stall {i},-{}.{:02},USD\n", 1 + i % 28, 1 + i % 70, i % 100));
    }
    let accepted = system.import_csv(&user.token, csv).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    let id: uuid::Uuid = accepted.body["id"].as_str().and_then(|i| i.parse().ok()).expect("an import id");
    let db = system.pool("engine").await;
    let progress = |db: sqlx::PgPool| async move {
        let (status, done): (String, i32) =
            sqlx::query_as("SELECT status, rows_done FROM imports WHERE id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .expect("the import");
        let written: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions WHERE import_id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .expect("count");
        (status, done, written)
    };
    // Stop the engine once the first batches are in.
    loop {
        let (_, done, _) = progress(db.clone()).await;
        if done >= 1_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    system.stop_engines().await;
    // The batch in flight finishes; then nothing moves.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, done, written) = progress(db.clone()).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(progress(db.clone()).await.1, done, "a stopped engine writes nothing more");
    assert_eq!(status, "running", "stopped part-way");
    assert!((done as usize) < ROWS, "stopped part-way: {done}");
    assert_eq!(written, i64::from(done), "every batch wrote its rows with its progress");

    system.start_engine().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let (status, done, written) = loop {
        let now = progress(db.clone()).await;
        if now.0 != "running" {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "never resumed: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((status.as_str(), done as usize, written as usize), ("done", ROWS, ROWS), "every row once");
    let distinct: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT description) FROM transactions WHERE import_id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .expect("count");
    assert_eq!(distinct as usize, ROWS, "no row twice, none lost");
    db.close().await;
    system.stop().await;
}
