//! Printing reports: `hey`-like text or JSON.

use crate::report::Report;

/// Prints `reports` to stdout, as one JSON document (an object for one report, an array for
/// several) or as text.
pub fn print(reports: &[Report], json: bool) {
    if json {
        let value = match reports {
            [one] => serde_json::to_string_pretty(one),
            many => serde_json::to_string_pretty(many),
        };
        println!("{}", value.unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));
    } else {
        for report in reports {
            println!("{}", report.to_text());
        }
    }
}
