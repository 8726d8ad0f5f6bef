//! Integration tests: the real `lsdb` binary run in fresh folders, checked through its own
//! `sql --format json` output.

mod architecture;
mod bad;
mod crash;
mod export;
mod formats;
mod http;
mod import;
mod init;
mod integrity;
mod merge;
mod one_store;
mod perf;
mod push;
mod quality;
mod roundtrip;
mod sample;
mod serve;
mod servers;
mod shell;
mod sql;
mod storage;
mod support;
mod training;
mod validate;
