//! Times as Settle writes them: epoch milliseconds in the store, RFC 3339 UTC with milliseconds on the wire.

/// Epoch milliseconds as RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    // Every time Settle writes is in years 1970 to 9999: computed directly (days to a civil date), a tenth of the
    // cost of a general formatter, on every answer that carries a time.
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(1970..=9999).contains(&year) {
        let fmt = ::time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        return ::time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&fmt).ok())
            .unwrap_or_default();
    }
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{milli:03}Z", sod / 3600, sod / 60 % 60, sod % 60)
}

#[cfg(test)]
mod tests {
    /// The direct computation agrees with the general formatter on every fifth day of 1970..=9999 (at a time of
    /// day that walks through hours, minutes, seconds and milliseconds), and at the edges (leap days, the first
    /// and last instants, and beyond them, where both give nothing).
    #[test]
    fn rfc3339_agrees_with_the_general_formatter() {
        let fmt = ::time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        let general = |ms: i64| {
            ::time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok().and_then(|t| t.format(&fmt).ok()).unwrap_or_default()
        };
        let last_day = 2_932_896; // 9999-12-31
        for day in (0..=last_day).step_by(5) {
            let ms = day * 86_400_000 + (day * 7_919_993) % 86_400_000;
            assert_eq!(super::rfc3339(ms), general(ms), "{ms}");
        }
        // 1972-02-29, 2000-02-29, 2100-02-28 and 03-01 (not a leap year), the last instant of 9999, then year 10000.
        let edges = [0, 999, 86_399_999, 68_169_600_000, 951_782_400_123, 4_107_456_000_000, 4_107_542_399_999, 253_402_300_799_999];
        for ms in edges.into_iter().chain([253_402_300_800_000, -1]) {
            assert_eq!(super::rfc3339(ms), general(ms), "{ms}");
        }
    }
}
