//! From a request to a typed event: authentication, decoding, field mapping, the delivery.

pub mod auth;
pub mod decode;
pub mod delivery;
pub mod mapping;
pub mod network;
pub mod redact;
pub mod template;
