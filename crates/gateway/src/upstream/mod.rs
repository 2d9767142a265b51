//! The backends: how the gateway reaches one ([`transport`]: plain TCP or TLS behind one
//! stream type), one worker's pooled connections ([`pool`]) and the inline HTTP/1.1 exchange of
//! a request without a body ([`http1`]).

pub mod http1;
pub mod pool;
pub mod transport;
pub mod upgrade;

pub use pool::{BackendError, Pool};
pub use transport::{BackendTls, Upstream};
