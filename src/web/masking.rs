//! Deliveries are masked again as they are shown: a secret configured since they were stored,
//! or a row stored before the rule, shows none either (see `intake::redact`).

use crate::intake::redact::Redactor;
use crate::read::deliveries::{DeliveryPage, DeliveryView};

pub fn delivery(mut view: DeliveryView, redactor: &Redactor) -> DeliveryView {
    let text = |text: String| redactor.text(&text).into_owned();
    view.query = redactor.query(&view.query);
    view.body = view.body.map(text);
    view.reason = view.reason.map(text);
    view.warnings = view.warnings.map(text);
    view
}

pub fn page(mut page: DeliveryPage, redactor: &Redactor) -> DeliveryPage {
    page.deliveries = page
        .deliveries
        .into_iter()
        .map(|view| delivery(view, redactor))
        .collect();
    page
}

/// A field value shown on a delivery's page, masked like the raw request.
pub fn text(text: &str, redactor: &Redactor) -> String {
    redactor.text(text).into_owned()
}
