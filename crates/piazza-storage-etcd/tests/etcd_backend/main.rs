//! etcd-specific tests of [`EtcdStore`](piazza_storage_etcd::EtcdStore), beyond the shared
//! conformance suite. Each test starts its own etcd (see `piazza_storage_etcd::testing`).

mod compaction;
mod large_values;
mod progress;
mod recovery;
mod replicas;
mod support;
mod tls;
