//! HTTP rules shared by every write path: the canonical request path and the screening of the
//! client's header fields.

pub mod headers;
pub mod path;
