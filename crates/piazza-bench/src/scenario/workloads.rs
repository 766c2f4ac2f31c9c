//! The compound scenario workloads: compare-and-swap UPDATE, and the mixed workload.

use bytes::Bytes;
use http::{Method, StatusCode};

use super::api::{BUMP_ANNOTATION, JSON, object_name, pizza_path};
use super::proto::{PROTOBUF, bump_protobuf};
use crate::cli::WireFormat;
use crate::client::{Client, RequestError, Session, accepting};
use crate::report::Sample;
use crate::runner::Workload;
use crate::workload::HttpWorkload;

/// Tries of one compare-and-swap update before it is reported as a 409.
pub const MAX_ATTEMPTS: u64 = 16;

/// GET + PUT with the read resourceVersion on `pizza-<seq % objects>`, retried on 409.
pub struct UpdateWorkload {
    /// The client.
    pub client: Client,
    /// Where the objects are.
    pub namespace: String,
    /// How many objects (`pizza-0` …).
    pub objects: usize,
    /// What the GET asks for and the PUT sends.
    pub format: WireFormat,
}

impl UpdateWorkload {
    async fn update(&self, session: &mut Session, seq: u64) -> Result<Sample, RequestError> {
        let path = pizza_path(&self.namespace, &object_name((seq % self.objects.max(1) as u64) as usize));
        let mut conflicts = 0;
        let mut bytes = 0;
        for _ in 0..MAX_ATTEMPTS {
            let get =
                accepting(self.client.request(Method::GET, &path, Bytes::new(), None), self.format.accept());
            let got = session.fetch(get).await?;
            bytes += got.body.len() as u64;
            if got.status != StatusCode::OK {
                return Ok(Sample { label: "update", status: got.status.as_u16(), bytes, conflicts });
            }
            let (body, content_type) = match self.format {
                WireFormat::Json => (bump(&got.body, seq).map_err(|e| e.to_string()), JSON),
                WireFormat::Protobuf => (bump_protobuf(&got.body, seq), PROTOBUF),
            };
            let body = body.map_err(|e| RequestError(format!("decoding GET: {e}")))?;
            let put = accepting(
                self.client.request(Method::PUT, &path, body, Some(content_type)),
                self.format.accept(),
            );
            let (status, put_bytes) = session.discard(put).await?;
            bytes += put_bytes;
            if status != StatusCode::CONFLICT {
                return Ok(Sample { label: "update", status: status.as_u16(), bytes, conflicts });
            }
            conflicts += 1;
        }
        Ok(Sample { label: "update", status: 409, bytes, conflicts })
    }
}

/// The object with annotation `piazza-bench/seq` set to `seq` (a real change every time).
pub fn bump(object: &[u8], seq: u64) -> Result<Bytes, serde_json::Error> {
    let mut value: serde_json::Value = serde_json::from_slice(object)?;
    if let Some(metadata) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        let annotations = metadata.entry("annotations").or_insert_with(|| serde_json::json!({}));
        if let Some(map) = annotations.as_object_mut() {
            map.insert(BUMP_ANNOTATION.into(), serde_json::Value::String(seq.to_string()));
        }
    }
    serde_json::to_vec(&value).map(Bytes::from)
}

impl Workload for UpdateWorkload {
    type Worker = Session;

    async fn worker(&self, index: usize) -> Session {
        let mut session = self.client.session(index);
        let _ = session.connect().await;
        session
    }

    async fn call(&self, session: &mut Session, seq: u64) -> Result<Sample, RequestError> {
        self.update(session, seq).await
    }
}

/// Per 100 operations: 70 GET, 20 LIST of 100, 5 CREATE, 5 UPDATE.
pub struct MixedWorkload {
    /// GET one pizza.
    pub get: HttpWorkload,
    /// LIST 100 pizzas.
    pub list: HttpWorkload,
    /// CREATE a pizza with a unique name.
    pub create: HttpWorkload,
    /// Compare-and-swap UPDATE.
    pub update: UpdateWorkload,
    /// When set, every CREATE is followed by a DELETE of the object it created, so a long
    /// run keeps the stored data constant (`soak`): the collection path and the created
    /// names' prefix (`c-<run>-`; the request number follows).
    pub delete_created: Option<(String, String)>,
}

/// Which operation of the mix number `seq` is.
pub fn mixed_pick(seq: u64) -> &'static str {
    match seq % 100 {
        0..70 => "get",
        70..90 => "list",
        90..95 => "create",
        _ => "update",
    }
}

impl Workload for MixedWorkload {
    type Worker = Session;

    async fn worker(&self, index: usize) -> Session {
        self.get.worker(index).await
    }

    async fn call(&self, session: &mut Session, seq: u64) -> Result<Sample, RequestError> {
        match mixed_pick(seq) {
            "get" => self.get.call(session, seq).await,
            "list" => self.list.call(session, seq).await,
            "create" => {
                let created = self.create.call(session, seq).await?;
                if let Some((collection, prefix)) = &self.delete_created {
                    let path = format!("{collection}/{prefix}{seq}");
                    let request =
                        self.create.client.request(http::Method::DELETE, &path, bytes::Bytes::new(), None);
                    session.discard(request).await?;
                }
                Ok(created)
            }
            _ => self.update.update(session, seq).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_sets_the_annotation_and_keeps_the_rest() {
        let object = br#"{"metadata":{"name":"p","resourceVersion":"7"},"spec":{"toppings":[]}}"#;
        let bumped: serde_json::Value = serde_json::from_slice(&bump(object, 3).unwrap()).unwrap();
        assert_eq!(bumped["metadata"]["annotations"]["piazza-bench/seq"], "3");
        assert_eq!(bumped["metadata"]["resourceVersion"], "7");
        assert_eq!(bumped["spec"]["toppings"], serde_json::json!([]));
        let again: serde_json::Value =
            serde_json::from_slice(&bump(&serde_json::to_vec(&bumped).unwrap(), 4).unwrap()).unwrap();
        assert_eq!(again["metadata"]["annotations"]["piazza-bench/seq"], "4");
        assert!(bump(b"not json", 1).is_err());
    }

    #[test]
    fn the_mix_is_70_20_5_5() {
        let mut counts = std::collections::BTreeMap::new();
        for seq in 0..1000 {
            *counts.entry(mixed_pick(seq)).or_insert(0) += 1;
        }
        assert_eq!(counts["get"], 700);
        assert_eq!(counts["list"], 200);
        assert_eq!(counts["create"], 50);
        assert_eq!(counts["update"], 50);
    }
}
