//! Dates for people, from the Unix seconds the database keeps (UTC; no time zone database).

/// `2026-11-25`.
pub fn date(ts: i64) -> String {
    let (y, m, d) = civil(ts.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `2026-11-25 16:50 UTC`.
pub fn date_time(ts: i64) -> String {
    let secs = ts.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02} UTC",
        date(ts),
        secs / 3600,
        secs % 3600 / 60
    )
}

/// `Nov 2026`, for "joined" lines.
pub fn month_year(ts: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, _) = civil(ts.div_euclid(86_400));
    let name = usize::try_from(m - 1)
        .ok()
        .and_then(|i| MONTHS.get(i))
        .unwrap_or(&"");
    format!("{name} {y}")
}

/// `2026-11-25T16:50:35Z`, for a `<time datetime>`.
pub fn iso(ts: i64) -> String {
    let secs = ts.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(ts),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// How long before `now` `ts` was, as people say it: "just now", "3 hours ago", "yesterday",
/// "in 2 days" for what is still to come.
pub fn relative(ts: i64, now: i64) -> String {
    let diff = now - ts;
    let (future, secs) = (diff < 0, diff.abs());
    if secs < 45 {
        return if future { "in a moment" } else { "just now" }.to_owned();
    }
    let (n, unit) = match secs {
        s if s < 90 => (1, "minute"),
        s if s < 3_600 => ((s + 30) / 60, "minute"),
        s if s < 5_400 => (1, "hour"),
        s if s < 86_400 => ((s + 1_800) / 3_600, "hour"),
        s if s < 172_800 => (1, "day"),
        s if s < 30 * 86_400 => (s / 86_400, "day"),
        s if s < 365 * 86_400 => ((s / (30 * 86_400)).max(1), "month"),
        s => (s / (365 * 86_400), "year"),
    };
    let n = n.max(1);
    if (n, unit, future) == (1, "day", false) {
        return "yesterday".to_owned();
    }
    let amount = match (n, unit) {
        (1, "hour") => "an hour".to_owned(),
        (1, u) => format!("a {u}"),
        (n, u) => format!("{n} {u}s"),
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// A moment as every page shows it: the relative time, with the exact UTC time in the
/// `title` and machine-readable in `datetime`. Made of numbers only, so nothing in it needs
/// escaping.
pub fn element(ts: i64, now: i64) -> String {
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        iso(ts),
        date_time(ts),
        relative(ts, now)
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date_time(1_795_625_435), "2026-11-25 16:50 UTC");
        assert_eq!(month_year(1_795_625_435), "Nov 2026");
        assert_eq!(iso(1_795_625_435), "2026-11-25T16:50:35Z");
    }

    #[test]
    fn relative_times() {
        let now = 1_795_625_435;
        assert_eq!(relative(now - 5, now), "just now");
        assert_eq!(relative(now - 60, now), "a minute ago");
        assert_eq!(relative(now - 25 * 60, now), "25 minutes ago");
        assert_eq!(relative(now - 3_600, now), "an hour ago");
        assert_eq!(relative(now - 3 * 3_600, now), "3 hours ago");
        assert_eq!(relative(now - 86_400, now), "yesterday");
        assert_eq!(relative(now - 5 * 86_400, now), "5 days ago");
        assert_eq!(relative(now - 65 * 86_400, now), "2 months ago");
        assert_eq!(relative(now - 800 * 86_400, now), "2 years ago");
        assert_eq!(relative(now + 3 * 86_400, now), "in 3 days");
        assert_eq!(
            element(now - 3 * 3_600, now),
            "<time datetime=\"2026-11-25T13:50:35Z\" title=\"2026-11-25 13:50 UTC\">3 hours ago</time>"
        );
    }
}
