//! Writes: each is one etcd transaction, so the compare-and-swap is atomic in etcd and the
//! revision etcd assigns is the write's revision.
//!
//! - create: `if create_revision(k) == 0 then put`.
//! - update: `if create_revision(k) > 0 && mod_revision(k) == expected then (if value(k) ==
//!   new then get else put) else get`. The nested transaction implements "an identical value
//!   writes nothing" in one round trip. Because the value then travels twice, values over
//!   [`NESTED_COMPARE_MAX`] compare on the client against a fresh read instead, which stays
//!   under etcd's 1.5 MiB request limit.
//! - delete: `if create_revision(k) > 0 [&& mod_revision(k) == expected] then delete (with the
//!   previous value) else get`.
//!
//! A failed compare reads the key in the same transaction, which tells `NotFound` from
//! `Conflict` and gives the conflict's current revision.

use bytes::Bytes;
use etcd_client::{Compare, CompareOp, DeleteOptions, PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse};
use piazza_storage::{KeyValue, ReadRevision, Revision, StorageError};

use crate::client::{Conn, header_revision};
use crate::error::unexpected;
use crate::keys::{convert, to_etcd};
use crate::read;

/// The largest value an update compares inside etcd (see the module docs).
pub(crate) const NESTED_COMPARE_MAX: usize = 256 * 1024;

/// Creates `key` (see [`piazza_storage::Storage::create`]).
pub(crate) async fn create(conn: &Conn, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
    let txn = Txn::new().when([Compare::create_revision(key, CompareOp::Equal, 0)]).and_then([TxnOp::put(
        key,
        value.to_vec(),
        None,
    )]);
    let response = run(conn, txn, "creating", key).await?;
    if !response.succeeded() {
        return Err(StorageError::AlreadyExists { key: key.to_owned() });
    }
    let revision = written_revision(&response, key)?;
    Ok(KeyValue { key: key.to_owned(), value, create_revision: revision, mod_revision: revision })
}

/// Compare-and-swap on the mod revision (see [`piazza_storage::Storage::update`]).
pub(crate) async fn update(
    conn: &Conn,
    key: &str,
    expected: Revision,
    value: Bytes,
) -> Result<KeyValue, StorageError> {
    let put = TxnOp::put(key, value.to_vec(), Some(PutOptions::new().with_prev_key()));
    let on_match = if value.len() <= NESTED_COMPARE_MAX {
        let identical = Txn::new()
            .when([Compare::value(key, CompareOp::Equal, value.to_vec())])
            .and_then([TxnOp::get(key, None)])
            .or_else([put]);
        TxnOp::txn(identical)
    } else {
        let current = read::get(conn, key, ReadRevision::Latest).await?;
        if current.mod_revision != expected {
            return Err(conflict(key, current.mod_revision));
        }
        if current.value == value {
            return Ok(current);
        }
        put
    };
    let txn = Txn::new()
        .when([live(key), Compare::mod_revision(key, CompareOp::Equal, to_etcd(expected))])
        .and_then([on_match])
        .or_else([TxnOp::get(key, None)]);
    let response = run(conn, txn, "updating", key).await?;
    let responses = response.op_responses();
    if !response.succeeded() {
        return Err(mismatch(responses, key));
    }
    let (put, identical) = match responses.into_iter().next() {
        Some(TxnOpResponse::Txn(inner)) if inner.succeeded() => {
            (None, inner.op_responses().into_iter().next())
        }
        Some(TxnOpResponse::Txn(inner)) => (inner.op_responses().into_iter().next(), None),
        other => (other, None),
    };
    if let Some(TxnOpResponse::Get(mut get)) = identical {
        let kv = get.take_kvs().into_iter().next().ok_or_else(|| shape("updating", key))?;
        return convert(kv);
    }
    let Some(TxnOpResponse::Put(mut put)) = put else {
        return Err(shape("updating", key));
    };
    let prev = put.take_prev_key().ok_or_else(|| shape("updating", key))?;
    let revision = written_revision(&response, key)?;
    Ok(KeyValue { mod_revision: revision, value, ..convert(prev)? })
}

/// Deletes `key` (see [`piazza_storage::Storage::delete`]).
pub(crate) async fn delete(
    conn: &Conn,
    key: &str,
    expected: Option<Revision>,
) -> Result<KeyValue, StorageError> {
    let mut compares = vec![live(key)];
    if let Some(expected) = expected {
        compares.push(Compare::mod_revision(key, CompareOp::Equal, to_etcd(expected)));
    }
    let txn = Txn::new()
        .when(compares)
        .and_then([TxnOp::delete(key, Some(DeleteOptions::new().with_prev_key()))])
        .or_else([TxnOp::get(key, None)]);
    let response = run(conn, txn, "deleting", key).await?;
    let responses = response.op_responses();
    if !response.succeeded() {
        return Err(mismatch(responses, key));
    }
    let Some(TxnOpResponse::Delete(mut deleted)) = responses.into_iter().next() else {
        return Err(shape("deleting", key));
    };
    let prev = deleted.take_prev_kvs().into_iter().next().ok_or_else(|| shape("deleting", key))?;
    let revision = written_revision(&response, key)?;
    // The deleted value, at the revision of the delete.
    Ok(KeyValue { mod_revision: revision, ..convert(prev)? })
}

/// The compare "the key exists".
fn live(key: &str) -> Compare {
    Compare::create_revision(key, CompareOp::Greater, 0)
}

/// Runs a write transaction.
async fn run(conn: &Conn, txn: Txn, doing: &str, key: &str) -> Result<TxnResponse, StorageError> {
    conn.txn(txn).await.map_err(|e| e.into_storage(format!("{doing} {key:?} in etcd")))
}

/// Why a compare failed, from the `get` of the failure branch.
fn mismatch(responses: Vec<TxnOpResponse>, key: &str) -> StorageError {
    let current = match responses.into_iter().next() {
        Some(TxnOpResponse::Get(get)) => get.kvs().first().map(|kv| kv.mod_revision()),
        _ => return shape("writing", key),
    };
    match current {
        None => StorageError::NotFound { key: key.to_owned() },
        Some(revision) => conflict(key, revision.try_into().unwrap_or(0)),
    }
}

/// A failed precondition.
fn conflict(key: &str, current_revision: Revision) -> StorageError {
    StorageError::Conflict { key: key.to_owned(), current_revision }
}

/// The revision a successful write transaction committed at.
fn written_revision(response: &TxnResponse, key: &str) -> Result<Revision, StorageError> {
    header_revision(response.header()).ok_or_else(|| shape("writing", key))
}

/// A transaction response that does not have the shape its request asked for.
fn shape(doing: &str, key: &str) -> StorageError {
    unexpected(&format!("{doing} {key:?} in etcd"), "etcd's transaction response has an unexpected shape")
}
