//! HTTP rules shared by every write path: the canonical request path, the screening of the
//! client's header fields, and the responses the gateway makes itself.

pub mod grpc;
pub mod headers;
pub mod path;
pub mod request;
pub mod respond;
