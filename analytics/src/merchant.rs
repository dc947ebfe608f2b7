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
    "checkcard",
    "authorized",
    "autopay",
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

/// US state and territory codes, which banks print after the city. Colorado's "CO" is
/// handled apart: after words like "electric" it is "company".
const STATES: &[&str] = &[
    "al", "ak", "az", "ar", "ca", "ct", "de", "dc", "fl", "ga", "hi", "id", "il", "in", "ia", "ks", "ky",
    "la", "me", "md", "ma", "mi", "mn", "ms", "mo", "mt", "ne", "nv", "nh", "nj", "nm", "ny", "nc", "nd",
    "oh", "ok", "or", "pa", "ri", "sc", "sd", "tn", "tx", "ut", "vt", "va", "wa", "wv", "wi", "wy", "pr",
];

/// Words after which "CO" means "company", not Colorado.
const COMPANY_WORDS: &[&str] = &[
    "electric",
    "gas",
    "oil",
    "water",
    "power",
    "energy",
    "trading",
    "supply",
    "insurance",
    "motor",
    "coffee",
    "tea",
    "mining",
    "paper",
    "chemical",
    "construction",
    "cable",
];

/// The normalised merchant of a description: the name before any store number, without a
/// trailing "CITY ST", processor noise and punctuation, cut to its first words. An empty
/// result falls back to the trimmed text.
pub fn normalise(description: &str) -> String {
    let lowered = description.to_lowercase();
    let mut name: Vec<&str> = Vec::new();
    let mut colorado = false;
    let mut previous = "";
    for (starred, token) in tokens(&lowered) {
        if token.chars().any(|c| c.is_ascii_digit()) {
            // A store or card number ends the name; what follows is the branch's address.
            if !name.is_empty() {
                break;
            }
            continue;
        }
        // "DROPBOX*AALUBG": after the name, a star leads an order reference, not more name.
        // ("SQ *NETFLIX" has no name yet: there the star leads the merchant.)
        if starred && !name.is_empty() {
            break;
        }
        // "PURCHASE AUTHORIZED ON 06/01 ...": the bank's words before the date.
        let bank_words = token == "on" && previous == "authorized";
        previous = token;
        colorado = token == "co" && name.last().is_some_and(|w| !COMPANY_WORDS.contains(w));
        if !NOISE.contains(&token) && !bank_words {
            name.push(token);
        }
    }
    if name.len() >= 3 && name.last().is_some_and(|w| STATES.contains(w)) {
        name.truncate(name.len() - 2);
    } else if colorado && name.len() >= 2 {
        // "NETFLIX.COM DENVER CO": the city goes with the state.
        name.pop();
    }
    if name.is_empty() {
        description.trim().to_lowercase()
    } else {
        name.into_iter().take(MAX_WORDS).collect::<Vec<_>>().join(" ")
    }
}

/// The words of lowered text, each with whether a `*` came right before it.
fn tokens(text: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = rest.find(|c: char| c.is_alphanumeric())?;
        let starred = rest[..start].contains('*');
        let word = &rest[start..];
        let end = word.find(|c: char| !c.is_alphanumeric()).unwrap_or(word.len());
        rest = &word[end..];
        Some((starred, &word[..end]))
    })
}

/// A merchant's display name: "whole foods" → "Whole Foods".
pub fn display(merchant: &str) -> String {
    merchant
        .split(' ')
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
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
        assert_eq!(normalise("NETFLIX.COM AUSTIN TX"), "netflix");
        assert_eq!(normalise("HULU #4471 DALLAS TX *99812"), "hulu");
        assert_eq!(normalise("Blue Bottle Coffee San Francisco CA"), "blue bottle");
        assert_eq!(normalise("NETFLIX.COM DENVER CO"), "netflix");
        assert_eq!(normalise("CITY ELECTRIC CO"), "city electric");
        // Two big banks' card lines, and order references after a star.
        assert_eq!(
            normalise("PURCHASE AUTHORIZED ON 06/01 LOWES 01464 MINNEAPOLIS MN S286848503082992 CARD 5190"),
            "lowes"
        );
        assert_eq!(normalise("CHECKCARD 0607 VERIZON WIRELESS DE 24431067158"), "verizon");
        assert_eq!(normalise("Dropbox*Aalubg"), "dropbox");
        assert_eq!(normalise("Dropbox*Wj7Bcw"), "dropbox");
        assert_eq!(normalise("SQ *BLUE BOTTLE"), "blue bottle");
    }

    #[test]
    fn keeps_something_for_odd_text() {
        assert_eq!(normalise("1234 5678"), "1234 5678");
        assert_eq!(normalise("  "), "");
    }
}
