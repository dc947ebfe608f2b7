//! Which format a file is: its content first, where a marker settles it (`OFXHEADER`/`<OFX>`,
//! a camt `<Document>`, `!Type:`, MT940's `:20:`), and the request's content type only when
//! the content has no marker. Clients are careless with content types (curl sends
//! `application/x-www-form-urlencoded` for `--data-binary`), so a type never overrides a
//! marker; but a file sent as OFX that has no OFX marker is refused as a broken OFX file
//! rather than misread as a CSV.

use crate::model::Format;

/// How much of the start of a file is looked at.
const SNIFF_BYTES: usize = 4096;

pub(crate) fn format(text: &str, content_type: Option<&str>) -> Format {
    by_content(text).or_else(|| content_type.and_then(by_content_type)).unwrap_or(Format::Csv)
}

fn by_content(text: &str) -> Option<Format> {
    let mut end = text.len().min(SNIFF_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = text[..end].trim_start();
    let upper = head.to_ascii_uppercase();
    if upper.starts_with("OFXHEADER") || upper.contains("<OFX>") || upper.contains("<?OFX ") {
        return Some(Format::Ofx);
    }
    if head.contains("BkToCstmrStmt") || head.contains("urn:iso:std:iso:20022:tech:xsd:camt.") {
        return Some(Format::Camt053);
    }
    if upper.starts_with("<?XML") || upper.starts_with("<DOCUMENT") {
        // XML that is neither: the CAMT reader refuses it with what it found instead.
        return Some(Format::Camt053);
    }
    if upper.starts_with("!TYPE:") || upper.starts_with("!ACCOUNT") || upper.starts_with("!OPTION") {
        return Some(Format::Qif);
    }
    if head.starts_with("{1:")
        || head.starts_with(":20:")
        || (head.contains("\n:20:") && head.contains("\n:25:"))
    {
        return Some(Format::Mt940);
    }
    None
}

fn by_content_type(content_type: &str) -> Option<Format> {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/x-ofx"
        | "application/ofx"
        | "application/vnd.intu.qfx"
        | "application/x-qfx"
        | "application/vnd.intu.qbo" => Some(Format::Ofx),
        "application/qif" | "application/x-qif" | "text/qif" => Some(Format::Qif),
        "application/xml" | "text/xml" => Some(Format::Camt053),
        "application/x-mt940" | "text/mt940" => Some(Format::Mt940),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_markers_win_over_the_content_type() {
        assert_eq!(format("OFXHEADER:100\nDATA:OFXSGML", Some("text/csv")), Format::Ofx);
        assert_eq!(format("<?xml version=\"1.0\"?>\n<?OFX OFXHEADER=\"200\"?><OFX>", None), Format::Ofx);
        assert_eq!(
            format(
                "<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">",
                None
            ),
            Format::Camt053
        );
        assert_eq!(format("!Type:Bank\nD1/2/26\n", Some("application/x-www-form-urlencoded")), Format::Qif);
        assert_eq!(format(":20:STARTUMS\n:25:10020030/1234567\n", None), Format::Mt940);
        assert_eq!(format("{1:F01INGBNL2AXXXX}{2:I940}{4:\n:20:P", None), Format::Mt940);
        assert_eq!(
            format("date,description,amount,currency\n", Some("application/x-ofx; charset=utf-8")),
            Format::Ofx
        );
        assert_eq!(format("date,description,amount,currency\n", Some("text/csv")), Format::Csv);
        assert_eq!(format("date,description,amount,currency\n", None), Format::Csv);
    }
}
