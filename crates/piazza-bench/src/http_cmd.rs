//! `piazza-bench http`: drive any URL, like `hey`.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::cli::HttpArgs;
use crate::client::parse_header;
use crate::error::BenchError;
use crate::report::Report;
use crate::rss::Probe;
use crate::runner::{self, Limits};
use crate::setup;
use crate::template::{Template, run_id};
use crate::workload::{Body, HttpWorkload};

/// Runs the `http` command and returns its report.
pub async fn run(args: &HttpArgs) -> Result<Report, BenchError> {
    let creds = setup::credentials(&args.auth)?;
    let mut headers = HeaderMap::new();
    for raw in &args.headers {
        let (name, value) = parse_header(raw)?;
        headers.append(name, value);
    }
    let client = setup::client(&args.url, &creds, &args.protocol, headers)?;
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|e| BenchError::Usage(format!("method {:?}: {e}", args.method)))?;
    let raw_body = match (&args.data, &args.data_file) {
        (Some(data), _) => Bytes::from(data.clone()),
        (None, Some(file)) => Bytes::from(
            std::fs::read(file).map_err(|e| BenchError::io(format!("reading {}", file.display()), e))?,
        ),
        (None, None) => Bytes::new(),
    };
    let content_type = (!raw_body.is_empty()).then_some("application/json");
    let body = if args.body_template {
        let text = std::str::from_utf8(&raw_body)
            .map_err(|_| BenchError::Usage("--body-template needs a UTF-8 body".into()))?;
        Body::Template(Template::new(text, &run_id()))
    } else {
        Body::Fixed(raw_body)
    };
    let path = client.target().path_and_query.clone();
    let version = client.version();
    let workload = HttpWorkload {
        client,
        method: method.clone(),
        path,
        body,
        content_type,
        accept: None,
        label: "http",
    };
    let limits = Limits::new(args.load.concurrency, args.load.duration, args.load.requests);
    let probe = args.server_pid.map(Probe::start);
    let mut report = runner::run(&format!("{method} {}", args.url), Arc::new(workload), limits).await;
    report.protocol = Some(version.name().to_owned());
    report.server_rss = probe.map(Probe::finish);
    Ok(report)
}
