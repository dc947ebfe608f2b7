//! Which mark a file writes cents with, read from its amounts: `1.234,56` and `12,50` are
//! comma files, `1,234.56` and `12.50` point files; `1.234` alone could be either.

use crate::numbers::DecimalMark;

/// The mark the sampled amounts point to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MarkGuess {
    /// `None` when no amount had a separator.
    pub(crate) mark: Option<DecimalMark>,
    /// Some amount was unambiguous (`12,50`, `1.234,56`); otherwise only `1.234`-like ones were
    /// seen, which a thousands group explains as well as three decimals.
    pub(crate) strong: bool,
    /// Amounts pointed both ways.
    pub(crate) conflicting: bool,
}

impl MarkGuess {
    /// How much the guess can be trusted, for the confidence.
    pub(crate) fn factor(&self) -> f64 {
        match (self.mark, self.strong, self.conflicting) {
            (_, _, true) => 0.75,
            (Some(_), true, false) => 1.0,
            (Some(_), false, false) => 0.9,
            (None, _, false) => 0.95,
        }
    }
}

/// The number in an amount cell without the currency symbol or code around it.
/// `numbers::parse_amount` reads `€ 12,50` but not `12,50 €` or `-40,00 EUR` (a space after the
/// decimal mark ends the number), which DKB, YNAB and others write.
pub(crate) fn bare(text: &str) -> &str {
    let symbol = |c: char| c.is_alphabetic() || "$€£¥₹".contains(c);
    text.trim().trim_start_matches(symbol).trim_start().trim_end_matches(symbol).trim_end()
}

pub(crate) fn guess<'a>(values: impl IntoIterator<Item = &'a str>) -> MarkGuess {
    let (mut strong_point, mut strong_comma, mut weak_point, mut weak_comma) =
        (0usize, 0usize, 0usize, 0usize);
    for value in values {
        match vote(value) {
            Some((DecimalMark::Point, true)) => strong_point += 1,
            Some((DecimalMark::Comma, true)) => strong_comma += 1,
            Some((DecimalMark::Point, false)) => weak_point += 1,
            Some((DecimalMark::Comma, false)) => weak_comma += 1,
            None => {}
        }
    }
    let pick =
        |point: usize, comma: usize| if comma > point { DecimalMark::Comma } else { DecimalMark::Point };
    if strong_point + strong_comma > 0 {
        MarkGuess {
            mark: Some(pick(strong_point, strong_comma)),
            strong: true,
            conflicting: strong_point > 0 && strong_comma > 0,
        }
    } else if weak_point + weak_comma > 0 {
        MarkGuess {
            mark: Some(pick(weak_point, weak_comma)),
            strong: false,
            conflicting: weak_point > 0 && weak_comma > 0,
        }
    } else {
        MarkGuess { mark: None, strong: false, conflicting: false }
    }
}

/// The mark one amount points to, and whether it is sure.
fn vote(text: &str) -> Option<(DecimalMark, bool)> {
    let kept: Vec<char> = text.chars().filter(|c| c.is_ascii_digit() || *c == '.' || *c == ',').collect();
    let last_point = kept.iter().rposition(|&c| c == '.');
    let last_comma = kept.iter().rposition(|&c| c == ',');
    match (last_point, last_comma) {
        // The later of two marks is the decimal one.
        (Some(point), Some(comma)) => {
            Some((if point > comma { DecimalMark::Point } else { DecimalMark::Comma }, true))
        }
        (Some(at), None) => single(&kept, at, DecimalMark::Point, DecimalMark::Comma),
        (None, Some(at)) => single(&kept, at, DecimalMark::Comma, DecimalMark::Point),
        (None, None) => None,
    }
}

/// One kind of separator: repeated, it groups thousands; once with three digits after it, it
/// may (`1.234`); otherwise it is the decimal mark.
fn single(
    kept: &[char],
    at: usize,
    as_decimal: DecimalMark,
    as_group: DecimalMark,
) -> Option<(DecimalMark, bool)> {
    let mark = kept[at];
    if kept.iter().filter(|&&c| c == mark).count() > 1 {
        return Some((as_group, true));
    }
    let after = kept.len() - at - 1;
    let leading_zero = at == 1 && kept[0] == '0';
    match after {
        0 => None,
        3 if at > 0 && !leading_zero => Some((as_group, false)),
        _ => Some((as_decimal, true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_and_codes_around_the_number() {
        assert_eq!(bare("-40,00 €"), "-40,00");
        assert_eq!(bare("12,50 EUR"), "12,50");
        assert_eq!(bare("$1,000.00"), "1,000.00");
        assert_eq!(bare("CHF 1'234.50"), "1'234.50");
        assert_eq!(bare("12.00-"), "12.00-");
        assert_eq!(bare("(12.00)"), "(12.00)");
    }

    #[test]
    fn amounts_vote_for_a_mark() {
        assert_eq!(vote("1.234,56"), Some((DecimalMark::Comma, true)));
        assert_eq!(vote("1,234.56"), Some((DecimalMark::Point, true)));
        assert_eq!(vote("-12,50 €"), Some((DecimalMark::Comma, true)));
        assert_eq!(vote("$45.00"), Some((DecimalMark::Point, true)));
        assert_eq!(vote("1.234.567"), Some((DecimalMark::Comma, true)));
        assert_eq!(vote("1.234"), Some((DecimalMark::Comma, false)));
        assert_eq!(vote("1,234"), Some((DecimalMark::Point, false)));
        assert_eq!(vote("0,125"), Some((DecimalMark::Comma, true)));
        assert_eq!(vote("-25"), None);
    }

    #[test]
    fn decimal_comma_with_thousands() {
        let g = guess(["-1.234,56", "12,50", "2.500,00", "-3"]);
        assert_eq!(g, MarkGuess { mark: Some(DecimalMark::Comma), strong: true, conflicting: false });
        assert!((g.factor() - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn thousands_alone_are_a_weak_hint() {
        let g = guess(["1.234", "5"]);
        assert_eq!(g, MarkGuess { mark: Some(DecimalMark::Comma), strong: false, conflicting: false });
        assert_eq!(guess(["5", "-7"]).mark, None);
        assert!(guess(["12,50", "12.50"]).conflicting);
    }
}
