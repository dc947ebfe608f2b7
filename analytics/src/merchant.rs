//! Merchant names from bank descriptions, so that "POS NETFLIX.COM 1234" and "Netflix.com"
//! count as one merchant in reports (and, later, in recurring-payment detection).

/// Words banks and card processors put around the merchant's name.
const NOISE: &[&str] = &[
    "pos",
    "debit",
    "credit",
    "card",
    "purchase",
    "payment",
    "pmt",
    "sq",
    "tst",
    "paypal",
    "pp",
    "ach",
    "visa",
    "mastercard",
    "mc",
    "recurring",
    "www",
    "com",
    "net",
    "org",
    "inc",
    "ltd",
    "llc",
    "co",
    "the",
];

/// At most this many words of the name are kept: enough to tell "amazon prime" from
/// "amazon", few enough that a city or branch suffix falls away.
const MAX_WORDS: usize = 2;

/// The words of a description that name something: lower case, without punctuation, numbers,
/// store codes and processor noise ("POS", "SQ", "*12345").
pub fn words(description: &str) -> Vec<String> {
    description
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
        .filter(|w| !NOISE.contains(w))
        .map(str::to_owned)
        .collect()
}

/// The normalised merchant of a description: its first [`words`]. An empty result falls
/// back to the trimmed text.
pub fn normalise(description: &str) -> String {
    let words = words(description);
    if words.is_empty() {
        description.trim().to_lowercase()
    } else {
        words.into_iter().take(MAX_WORDS).collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn bank_spellings_of_one_merchant_agree() {
        for text in ["NETFLIX.COM", "POS NETFLIX 1234", "Netflix.com *8842", "SQ *NETFLIX"] {
            assert_eq!(normalise(text), "netflix", "{text}");
        }
        assert_eq!(normalise("Whole Foods Market #10234 Austin"), "whole foods");
        assert_eq!(normalise("AMAZON PRIME*2K3"), "amazon prime");
    }

    #[test]
    fn keeps_something_for_odd_text() {
        assert_eq!(normalise("1234 5678"), "1234 5678");
        assert_eq!(normalise("  "), "");
    }
}
