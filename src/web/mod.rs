//! The HTTP server: startup, the routes (postbacks, API, exports, health), the pages, who may
//! read them, and the request log.

pub mod access;
pub mod limits;
pub mod login;
pub mod metrics;
pub mod pages;
pub mod request_log;
pub mod routes;
pub mod session;
pub mod startup;
pub mod throttle;
