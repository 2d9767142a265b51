//! The backends: one worker's pooled connections ([`pool`]) and the inline HTTP/1.1 exchange of a
//! request without a body ([`http1`]).

pub mod http1;
pub mod pool;

pub use pool::{BackendError, Pool};
