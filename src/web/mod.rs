//! The HTTP server: startup, the routes (postbacks, API, exports, health), the pages, who may
//! read them, and the request log. A request that fails ends as one [`error::RequestError`],
//! answered in its caller's format; its query arrives through the extractors of [`query`].

pub mod access;
pub mod blocking;
pub mod choices;
pub mod empty_postbacks;
pub mod error;
pub mod limits;
pub mod login;
pub mod masking;
pub mod metrics;
pub mod pages;
pub mod query;
pub mod receivers;
pub mod request_log;
pub mod routes;
pub mod session;
pub mod startup;
pub mod throttle;
