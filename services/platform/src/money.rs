//! Amounts in øre (hundredths of a Danish krone), written as people read them.

/// `ore` written in Danish (`1.234,56 kr.`) or English (`DKK 1,234.56`).
pub fn kroner(ore: i64, english: bool) -> String {
    let sign = if ore < 0 { "-" } else { "" };
    let ore = ore.unsigned_abs();
    let whole = (ore / 100).to_string();
    let (thousands, decimal) = if english { (',', '.') } else { ('.', ',') };
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(thousands);
        }
        grouped.push(digit);
    }
    let cents = ore % 100;
    if english {
        format!("{sign}DKK {grouped}{decimal}{cents:02}")
    } else {
        format!("{sign}{grouped}{decimal}{cents:02} kr.")
    }
}

#[cfg(test)]
mod tests {
    use super::kroner;

    #[test]
    fn amounts_are_grouped_by_thousands_in_each_language() {
        assert_eq!(kroner(123_456_789, false), "1.234.567,89 kr.");
        assert_eq!(kroner(123_456_789, true), "DKK 1,234,567.89");
        assert_eq!(kroner(5, false), "0,05 kr.");
        assert_eq!(kroner(100_000, false), "1.000,00 kr.");
        assert_eq!(kroner(-250, true), "-DKK 2.50");
    }
}
