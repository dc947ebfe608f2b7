//! File-import throughput for `make bench`, through the running bench gateway.
//!
//! `import_bench GATEWAY ROWS ENGINE_PID`: for each format (our plain CSV first, the baseline
//! of the same run; then an OFX statement, a CAMT.053 statement and an ING-layout CSV whose
//! layout is detected), a fresh user uploads a ROWS-row file, which is accepted (202) and
//! written in the background; the time from upload to `status: done` gives rows per second.
//! The engine's resident memory (VmRSS of ENGINE_PID) is sampled throughout, so the bounded
//! reading shows as a peak that does not grow with the file. Prints one JSON line per format.

use std::time::{Duration, Instant};

use e2e::bench_user;
use serde_json::Value;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn day(i: usize) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default() + chrono::Duration::days((i % 700) as i64)
}

fn amount(i: usize) -> String {
    format!("{}.{:02}", 1 + (i * 7919) % 250, (i * 31) % 100)
}

fn plain_csv(rows: usize) -> String {
    let mut out = String::from("date,description,amount,currency\n");
    for i in 0..rows {
        out.push_str(&format!("{},Market {i},-{},USD\n", day(i), amount(i)));
    }
    out
}

fn ofx(rows: usize) -> String {
    let mut out = String::from(
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n\
         COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n<OFX>\n<BANKMSGSRSV1><STMTTRNRS><TRNUID>1\n\
         <STATUS><CODE>0<SEVERITY>INFO</STATUS>\n<STMTRS><CURDEF>USD\n<BANKACCTFROM><BANKID>121000248\
         <ACCTID>987654321<ACCTTYPE>CHECKING</BANKACCTFROM>\n<BANKTRANLIST><DTSTART>20250101<DTEND>20261201\n",
    );
    for i in 0..rows {
        out.push_str(&format!(
            "<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>{}<TRNAMT>-{}<FITID>F{i:08}<NAME>MARKET {i}<MEMO>CARD 1234\n</STMTTRN>\n",
            day(i).format("%Y%m%d"),
            amount(i)
        ));
    }
    out.push_str("</BANKTRANLIST>\n<LEDGERBAL><BALAMT>0.00<DTASOF>20261201</LEDGERBAL>\n</STMTRS></STMTTRNRS></BANKMSGSRSV1>\n</OFX>\n");
    out
}

fn camt(rows: usize) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\
         <BkToCstmrStmt><GrpHdr><MsgId>B</MsgId><CreDtTm>2026-12-01T00:00:00</CreDtTm></GrpHdr><Stmt><Id>B1</Id>\
         <CreDtTm>2026-12-01T00:00:00</CreDtTm><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>USD</Ccy></Acct>\n",
    );
    for i in 0..rows {
        out.push_str(&format!(
            "<Ntry><Amt Ccy=\"USD\">{}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>{}</Dt></BookgDt>\
             <AcctSvcrRef>R{i:08}</AcctSvcrRef><NtryDtls><TxDtls><RltdPties><Cdtr><Nm>Market {i}</Nm></Cdtr></RltdPties>\
             <RmtInf><Ustrd>Invoice {i}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n",
            amount(i),
            day(i)
        ));
    }
    out.push_str("</Stmt></BkToCstmrStmt></Document>\n");
    out
}

fn ing_csv(rows: usize) -> String {
    let mut out = String::from(
        "\"Datum\";\"Naam / Omschrijving\";\"Rekening\";\"Tegenrekening\";\"Code\";\"Af Bij\";\"Bedrag (EUR)\";\"Mutatiesoort\";\"Mededelingen\"\n",
    );
    for i in 0..rows {
        out.push_str(&format!(
            "\"{}\";\"Winkel {i}\";\"NL20INGB0001234567\";\"\";\"BA\";\"Af\";\"{}\";\"Betaalautomaat\";\"Pasvolgnr: 001\"\n",
            day(i).format("%Y%m%d"),
            amount(i).replace('.', ",")
        ));
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let base = format!("{}/api/v1", args.get(1).map(String::as_str).unwrap_or("http://127.0.0.1:18080"));
    let rows: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(50_000);
    let engine: u32 = args.get(3).and_then(|p| p.parse().ok()).unwrap_or(0);
    let http = reqwest::Client::new();
    let files: [(&str, &str, String); 4] = [
        ("csv (ours, baseline)", "text/csv", plain_csv(rows)),
        ("ofx", "application/x-ofx", ofx(rows)),
        ("camt053", "application/xml", camt(rows)),
        ("csv (ING layout, detected)", "text/csv", ing_csv(rows)),
    ];
    for (name, content_type, file) in files {
        let token = bench_user(&http, &base, "import").await?;
        let bytes = file.len();
        let before = rss_kib(engine);
        let mut peak = before;
        let started = Instant::now();
        let accepted: Value = http
            .post(format!("{base}/transactions/import"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(file)
            .send()
            .await?
            .json()
            .await?;
        let accept_secs = started.elapsed().as_secs_f64();
        let id =
            accepted["id"].as_str().ok_or_else(|| anyhow::anyhow!("not accepted: {accepted}"))?.to_owned();
        let done = loop {
            peak = peak.max(rss_kib(engine));
            let record: Value =
                http.get(format!("{base}/imports/{id}")).bearer_auth(&token).send().await?.json().await?;
            if record["status"] != "running" {
                break record;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(done["status"] == "done" && done["imported"] == rows, "{name}: {done}");
        println!(
            "{}",
            serde_json::json!({
                "format": name, "rows": rows, "bytes": bytes, "accept_seconds": accept_secs,
                "seconds": seconds, "rows_per_second": rows as f64 / seconds,
                "engine_rss_before_mib": before / 1024, "engine_rss_peak_mib": peak / 1024,
            })
        );
    }
    Ok(())
}
