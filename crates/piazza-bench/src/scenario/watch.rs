//! WATCH fan-out: M watchers on one namespace, a writer creating W pizzas per second, each
//! stamped with its send time. Every watcher must see every acknowledged write; delivery latency
//! is measured at every watcher from the stamp (an upper bound on commit-to-delivery: it
//! includes the CREATE's own latency, reported beside it).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::sync::watch;

use piazza::codec::protobuf::watch::FrameDecoder;

use super::api::{JSON, SENT_AT_ANNOTATION, pizza_json, pizzas_path};
use super::proto::{PROTOBUF, parse_protobuf_event, pizza_protobuf};
use crate::cli::WireFormat;
use crate::client::{Client, HttpVersion, Session, accepting};
use crate::error::BenchError;
use crate::report::{Latency, Recorder, Report, Sample};
use crate::template::run_id;

/// Streams per HTTP/2 connection for watchers (servers commonly allow 100-250).
const WATCHERS_PER_CONNECTION: usize = 100;
/// Writers sharing the write rate, so one slow CREATE does not hold the schedule back.
const WRITERS: usize = 64;
/// How long to wait for watchers to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// How big and how long.
#[derive(Clone, Copy, Debug)]
pub struct WatchConfig {
    /// Concurrent watchers.
    pub watchers: usize,
    /// Creates per second.
    pub writes_per_sec: u32,
    /// How long to write.
    pub duration: Duration,
    /// How long after the last write to wait for late deliveries.
    pub grace: Duration,
    /// What the watch stream asks for and the writes send.
    pub format: WireFormat,
}

/// What one watcher saw.
#[derive(Default)]
struct Seen {
    /// Bit `i` set: write number `i` was delivered.
    bits: Vec<u64>,
    duplicates: u64,
    recorder: Recorder,
    ended_early: Option<String>,
}

impl Seen {
    /// Marks write `i`; false if it was seen before.
    fn mark(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        let fresh = self.bits[word] & bit == 0;
        self.bits[word] |= bit;
        fresh
    }

    fn has(&self, i: usize) -> bool {
        self.bits.get(i / 64).is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }
}

#[derive(Deserialize)]
struct WatchEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    object: Object<'a>,
}

#[derive(Default, Deserialize)]
struct Object<'a> {
    #[serde(default, borrow)]
    metadata: Metadata<'a>,
}

#[derive(Default, Deserialize)]
struct Metadata<'a> {
    #[serde(default, borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    annotations: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

/// An ADDED event of one of this run's writes: its number and send time.
pub fn parse_event(line: &[u8], name_prefix: &str) -> Option<(usize, u128)> {
    let event: WatchEvent<'_> = serde_json::from_slice(line).ok()?;
    if event.kind != "ADDED" {
        return None;
    }
    let index = event.object.metadata.name.strip_prefix(name_prefix)?.parse().ok()?;
    let sent = event.object.metadata.annotations.get(SENT_AT_ANNOTATION)?.parse().ok()?;
    Some((index, sent))
}

fn unix_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
}

/// Runs the scenario in `namespace` (toppings must exist).
pub async fn run(client: &Client, namespace: &str, config: WatchConfig) -> Result<Report, BenchError> {
    let name_prefix = format!("w-{}-", run_id());
    let start_rv = list_revision(client, namespace).await?;
    let watch_client = match client.version() {
        HttpVersion::H2 => client.with_connections(config.watchers.div_ceil(WATCHERS_PER_CONNECTION)),
        HttpVersion::H1 => client.with_connections(1),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let connected = Arc::new(AtomicUsize::new(0));
    let progress: Arc<Vec<AtomicU64>> = Arc::new((0..config.watchers).map(|_| AtomicU64::new(0)).collect());
    let path = format!("{}?watch=true&resourceVersion={start_rv}", pizzas_path(namespace));
    let watchers: Vec<_> = (0..config.watchers)
        .map(|i| {
            let session = watch_client.session(i);
            let target =
                WatchTarget { path: path.clone(), format: config.format, prefix: name_prefix.clone() };
            let (connected, progress) = (Arc::clone(&connected), Arc::clone(&progress));
            tokio::spawn(watcher(session, target, stop_rx.clone(), connected, progress, i))
        })
        .collect();
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    while connected.load(Ordering::Acquire) < config.watchers && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let watching = connected.load(Ordering::Acquire);

    let began = Instant::now();
    // The load tool shares the machine with the server: its own CPU tells whether the
    // watchers (TLS, HTTP/2, JSON) or the server is the bottleneck.
    let own_cpu_before = crate::rss::cpu_seconds(std::process::id());
    let writes = write(client, namespace, &name_prefix, config).await;
    let write_time = began.elapsed();
    let acked = writes.acked.len() as u64;
    let grace_end = Instant::now() + config.grace;
    while Instant::now() < grace_end && progress.iter().any(|p| p.load(Ordering::Acquire) < acked) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    let client_cpu_cores = match (own_cpu_before, crate::rss::cpu_seconds(std::process::id())) {
        (Some(before), Some(after)) => Some((after - before) / began.elapsed().as_secs_f64().max(1e-9)),
        _ => None,
    };

    let mut total = Recorder::default();
    let (mut missed, mut duplicates, mut failed) = (0u64, 0u64, BTreeMap::<String, u64>::new());
    for task in watchers {
        let seen = match task.await {
            Ok(seen) => seen,
            Err(e) => Seen { ended_early: Some(format!("watcher panicked: {e}")), ..Seen::default() },
        };
        missed += writes.acked.iter().filter(|&&i| !seen.has(i)).count() as u64;
        duplicates += seen.duplicates;
        if let Some(reason) = seen.ended_early {
            *failed.entry(reason).or_default() += 1;
        }
        total.merge(seen.recorder);
    }
    let name = format!("watch ({} watchers, {} writes/s)", config.watchers, config.writes_per_sec);
    let mut report = total.report(&name, config.watchers, write_time);
    report.protocol = Some(client.version().name().to_owned());
    let notes = [
        ("watchers_connected", serde_json::json!(watching)),
        ("writes_acked", serde_json::json!(acked)),
        ("write_rate", serde_json::json!(acked as f64 / write_time.as_secs_f64().max(1e-9))),
        ("write_errors", serde_json::json!(writes.errors)),
        ("create_latency", serde_json::to_value(writes.latency).unwrap_or_default()),
        ("expected_deliveries", serde_json::json!(acked * config.watchers as u64)),
        ("missed", serde_json::json!(missed)),
        ("duplicates", serde_json::json!(duplicates)),
        ("watchers_failed", serde_json::json!(failed)),
        ("load_tool_cpu_cores", serde_json::json!(client_cpu_cores)),
    ];
    report.notes = notes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Ok(report)
}

/// The resourceVersion of the namespace's list, to watch from.
async fn list_revision(client: &Client, namespace: &str) -> Result<String, BenchError> {
    let mut session = client.session(0);
    let path = format!("{}?limit=1", pizzas_path(namespace));
    let got = session
        .fetch(client.request(Method::GET, &path, Bytes::new(), None))
        .await
        .map_err(|e| BenchError::Http(format!("listing {namespace}: {e}")))?;
    if got.status != StatusCode::OK {
        return Err(BenchError::Status {
            what: format!("listing {namespace}"),
            status: got.status.as_u16(),
            body: String::from_utf8_lossy(&got.body).chars().take(300).collect(),
        });
    }
    let list: serde_json::Value =
        serde_json::from_slice(&got.body).map_err(|e| BenchError::Http(format!("list body: {e}")))?;
    list["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| BenchError::Http("list without metadata.resourceVersion".into()))
}

/// What one watcher watches: the watch URL, the format it asks for, and the name prefix of
/// this run's pizzas.
struct WatchTarget {
    path: String,
    format: WireFormat,
    prefix: String,
}

/// One watcher: watches `target` until `stop`, recording every pizza of this run it sees,
/// and publishes how many it has seen in `progress[index]`.
async fn watcher(
    mut session: Session,
    target: WatchTarget,
    mut stop: watch::Receiver<bool>,
    connected: Arc<AtomicUsize>,
    progress: Arc<Vec<AtomicU64>>,
    index: usize,
) -> Seen {
    let mut seen = Seen::default();
    let WatchTarget { path, format, prefix } = target;
    let request =
        accepting(session.client().request(Method::GET, &path, Bytes::new(), None), format.accept());
    let response = tokio::select! {
        r = session.send(request) => r,
        _ = stop.changed() => return seen,
    };
    let (mut body, mut events) = match response {
        Ok(r) if r.status() == StatusCode::OK => {
            let events = EventStream::for_content_type(r.headers().get(http::header::CONTENT_TYPE));
            (r.into_body(), events)
        }
        Ok(r) => {
            seen.ended_early = Some(format!("status {}", r.status().as_u16()));
            return seen;
        }
        Err(e) => {
            seen.ended_early = Some(e.0);
            return seen;
        }
    };
    connected.fetch_add(1, Ordering::AcqRel);
    let mut fresh = 0u64;
    loop {
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = stop.changed() => break,
        };
        let data = match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
            Some(Err(e)) => {
                seen.ended_early = Some(format!("watch stream: {e}"));
                break;
            }
            None => {
                seen.ended_early = Some("watch closed by the server".into());
                break;
            }
        };
        let arrived = unix_nanos();
        let delivered = events.push(&data, &prefix, |i, sent, size| {
            if seen.mark(i) {
                fresh += 1;
                let latency = Duration::from_nanos(arrived.saturating_sub(sent) as u64);
                seen.recorder.sample(&Sample::new("delivery", 200, size as u64), latency);
            } else {
                seen.duplicates += 1;
            }
        });
        progress[index].store(fresh, Ordering::Release);
        if let Err(e) = delivered {
            seen.ended_early = Some(format!("watch stream: {e}"));
            break;
        }
    }
    seen
}

/// Splits a watch stream into events, in the format the server answered with: JSON lines,
/// or protobuf frames (`application/vnd.kubernetes.protobuf;stream=watch`).
enum EventStream {
    /// Newline-delimited JSON; the bytes after the last newline.
    Json(BytesMut),
    /// Length-prefixed `WatchEvent` frames.
    Protobuf(FrameDecoder),
}

impl EventStream {
    fn for_content_type(content_type: Option<&http::HeaderValue>) -> EventStream {
        let protobuf = content_type.and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with(PROTOBUF));
        if protobuf {
            EventStream::Protobuf(FrameDecoder::default())
        } else {
            EventStream::Json(BytesMut::new())
        }
    }

    /// Feeds `data`; for each complete `ADDED` event of a pizza named `<prefix><i>`, calls
    /// `found(i, sent at, event size)`. A protobuf frame that cannot be decoded (or is over
    /// 16 MiB) ends the stream with an error.
    fn push(
        &mut self,
        data: &[u8],
        prefix: &str,
        mut found: impl FnMut(usize, u128, usize),
    ) -> Result<(), String> {
        match self {
            EventStream::Json(buffer) => {
                buffer.extend_from_slice(data);
                while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                    let line = buffer.split_to(end + 1);
                    if let Some((i, sent)) = parse_event(&line[..end], prefix) {
                        found(i, sent, line.len());
                    }
                }
            }
            EventStream::Protobuf(decoder) => {
                decoder.push(data);
                loop {
                    let before = decoder.pending();
                    let Some(event) = decoder.next_event().map_err(|e| e.message)? else { break };
                    if let Some((i, sent)) = parse_protobuf_event(&event, prefix) {
                        found(i, sent, before - decoder.pending());
                    }
                }
            }
        }
        Ok(())
    }
}

/// What the writer did.
struct Writes {
    /// Numbers of the writes the server acknowledged (201).
    acked: Vec<usize>,
    errors: u64,
    latency: Latency,
}

/// Creates `writes_per_sec` pizzas per second for `duration`, from [`WRITERS`] sessions.
async fn write(client: &Client, namespace: &str, prefix: &str, config: WatchConfig) -> Writes {
    let total = (config.writes_per_sec as f64 * config.duration.as_secs_f64()).ceil() as usize;
    let period = Duration::from_secs_f64(1.0 / f64::from(config.writes_per_sec.max(1)));
    let (tx, rx) = tokio::sync::mpsc::channel::<usize>(WRITERS * 4);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let shared = Arc::new(Mutex::new((Vec::new(), 0u64, Recorder::default())));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (rx, shared, client) = (Arc::clone(&rx), Arc::clone(&shared), client.clone());
            let (namespace, prefix) = (namespace.to_owned(), prefix.to_owned());
            tokio::spawn(async move {
                let mut session = client.session(w);
                let path = pizzas_path(&namespace);
                loop {
                    let Some(i) = rx.lock().await.recv().await else { break };
                    let stamp = [(SENT_AT_ANNOTATION, unix_nanos().to_string())];
                    let name = format!("{prefix}{i}");
                    let (body, content_type) = match config.format {
                        WireFormat::Json => (Bytes::from(pizza_json(&namespace, &name, &stamp)), JSON),
                        WireFormat::Protobuf => (pizza_protobuf(&namespace, &name, &stamp), PROTOBUF),
                    };
                    let began = Instant::now();
                    let result =
                        session.discard(client.request(Method::POST, &path, body, Some(content_type))).await;
                    let mut shared = shared.lock().unwrap_or_else(|p| p.into_inner());
                    match result {
                        Ok((status, _)) if status == StatusCode::CREATED => {
                            shared.0.push(i);
                            shared.2.sample(&Sample::new("create", 201, 0), began.elapsed());
                        }
                        _ => shared.1 += 1,
                    }
                }
            })
        })
        .collect();
    let mut ticks = tokio::time::interval(period);
    for i in 0..total {
        ticks.tick().await;
        if tx.send(i).await.is_err() {
            break;
        }
    }
    drop(tx);
    for writer in writers {
        let _ = writer.await;
    }
    let (acked, errors, recorder) = std::mem::take(&mut *shared.lock().unwrap_or_else(|p| p.into_inner()));
    Writes { acked, errors, latency: recorder.report("create", 1, Duration::from_secs(1)).latency }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_added_events_of_this_run() {
        let line = br#"{"type":"ADDED","object":{"kind":"Pizza","metadata":{"name":"w-abc-17","annotations":{"piazza-bench/sent-at-ns":"123456"}},"spec":{}}}"#;
        assert_eq!(parse_event(line, "w-abc-"), Some((17, 123456)));
        assert_eq!(parse_event(line, "w-other-"), None);
        let modified = br#"{"type":"MODIFIED","object":{"metadata":{"name":"w-abc-1","annotations":{"piazza-bench/sent-at-ns":"1"}}}}"#;
        assert_eq!(parse_event(modified, "w-abc-"), None);
        let bookmark = br#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}"#;
        assert_eq!(parse_event(bookmark, "w-abc-"), None);
        assert_eq!(parse_event(b"not json", "w-"), None);
    }

    fn collect(stream: &mut EventStream, chunks: &[&[u8]]) -> (Vec<(usize, u128)>, Result<(), String>) {
        let mut found = Vec::new();
        for chunk in chunks {
            let pushed = stream.push(chunk, "w-abc-", |i, sent, _| found.push((i, sent)));
            if pushed.is_err() {
                return (found, pushed);
            }
        }
        (found, Ok(()))
    }

    #[test]
    fn the_content_type_of_the_answer_picks_the_decoder() {
        let protobuf = http::HeaderValue::from_static("application/vnd.kubernetes.protobuf;stream=watch");
        assert!(matches!(EventStream::for_content_type(Some(&protobuf)), EventStream::Protobuf(_)));
        let json = http::HeaderValue::from_static("application/json");
        assert!(matches!(EventStream::for_content_type(Some(&json)), EventStream::Json(_)));
        assert!(matches!(EventStream::for_content_type(None), EventStream::Json(_)));
    }

    #[test]
    fn json_lines_split_anywhere_are_reassembled() {
        let line = br#"{"type":"ADDED","object":{"metadata":{"name":"w-abc-3","annotations":{"piazza-bench/sent-at-ns":"9"}}}}
"#;
        let (head, tail) = line.split_at(17);
        let mut stream = EventStream::Json(BytesMut::new());
        let (found, ended) = collect(&mut stream, &[head, tail, b"garbage\n", line]);
        assert_eq!(found, vec![(3, 9), (3, 9)]);
        assert!(ended.is_ok(), "a line that is not an event is skipped, not fatal");
    }

    #[test]
    fn protobuf_frames_split_anywhere_are_reassembled_and_hostile_ones_end_the_stream() {
        use piazza::codec::protobuf::watch::event_frame;
        use piazza::codec::watch::WatchEventType;
        let object = pizza_protobuf("ns", "w-abc-5", &[(SENT_AT_ANNOTATION, "77".into())]);
        let frame = event_frame(WatchEventType::Added, &object);
        let mut stream = EventStream::Protobuf(FrameDecoder::default());
        let (head, tail) = frame.split_at(3);
        let (found, ended) = collect(&mut stream, &[head, tail]);
        assert_eq!((found, ended), (vec![(5, 77)], Ok(())));

        // A length over the 16 MiB limit, and a frame whose body is not a WatchEvent.
        let mut stream = EventStream::Protobuf(FrameDecoder::default());
        let (_, ended) = collect(&mut stream, &[&u32::MAX.to_be_bytes()]);
        assert!(ended.unwrap_err().contains("exceeds the limit"));
        let mut stream = EventStream::Protobuf(FrameDecoder::default());
        let (_, ended) = collect(&mut stream, &[&[0, 0, 0, 2, 0xff, 0xff]]);
        assert!(ended.is_err());
    }

    #[test]
    fn seen_tracks_duplicates() {
        let mut seen = Seen::default();
        assert!(seen.mark(0));
        assert!(seen.mark(130));
        assert!(!seen.mark(130));
        assert!(seen.has(0) && seen.has(130) && !seen.has(1) && !seen.has(10_000));
    }
}
