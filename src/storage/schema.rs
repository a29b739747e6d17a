// @generated automatically by Diesel CLI.

diesel::table! {
    action_events (delivery_id) {
        delivery_id -> Int8,
        action_id -> Text,
        status -> Text,
        status_raw -> Nullable<Text>,
        payout -> Nullable<Int8>,
        delta_payout -> Nullable<Int8>,
        amount -> Nullable<Int8>,
        delta_amount -> Nullable<Int8>,
        received_at -> Timestamp,
        currency -> Nullable<Text>,
        event_date -> Nullable<Timestamp>,
        origin -> Text,
    }
}

diesel::table! {
    actions (action_id) {
        action_id -> Text,
        source -> Text,
        status -> Text,
        status_raw -> Nullable<Text>,
        payout -> Int8,
        amount -> Int8,
        payout_currency -> Nullable<Text>,
        amount_currency -> Nullable<Text>,
        campaign_id -> Nullable<Text>,
        campaign_name -> Nullable<Text>,
        action_tracker_id -> Nullable<Text>,
        action_tracker_name -> Nullable<Text>,
        media_partner_id -> Nullable<Text>,
        order_id -> Nullable<Text>,
        shared_id -> Nullable<Text>,
        sub_id1 -> Nullable<Text>,
        sub_id2 -> Nullable<Text>,
        sub_id3 -> Nullable<Text>,
        click_id -> Nullable<Text>,
        promo_code -> Nullable<Text>,
        event_date -> Nullable<Timestamp>,
        creation_date -> Nullable<Timestamp>,
        locking_date -> Nullable<Timestamp>,
        cleared_date -> Nullable<Timestamp>,
        ledger_date -> Nullable<Timestamp>,
        flags -> Text,
        items -> Nullable<Text>,
        extra -> Nullable<Text>,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
        reviewed_at -> Nullable<Timestamp>,
        is_test -> Bool,
    }
}

diesel::table! {
    alerts (id) {
        id -> Int8,
        source -> Text,
        kind -> Text,
        message -> Text,
        started_at -> Timestamp,
        cleared_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    auth_failures (id) {
        id -> Int8,
        occurred_at -> Timestamp,
        source -> Text,
        client_addr -> Nullable<Text>,
        failed_check -> Text,
        method -> Text,
        times -> Int4,
    }
}

diesel::table! {
    catalog_items (catalog_id, item_id) {
        catalog_id -> Text,
        item_id -> Text,
        source -> Text,
        name -> Nullable<Text>,
        price -> Nullable<Int8>,
        currency -> Nullable<Text>,
        stock -> Nullable<Text>,
        change_type -> Nullable<Text>,
        changed_fields -> Nullable<Text>,
        extra -> Nullable<Text>,
        delivery_id -> Int8,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    clearances (id) {
        id -> Int8,
        action_id -> Text,
        delivery_id -> Nullable<Int8>,
        origin -> Text,
        cleared_at -> Timestamp,
        payout -> Int8,
        amount -> Int8,
        currency -> Nullable<Text>,
        month -> Text,
        concerns -> Nullable<Text>,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    clearings (id) {
        id -> Int8,
        delivery_id -> Int8,
        action_id -> Nullable<Text>,
        order_id -> Nullable<Text>,
        cleared_date -> Nullable<Timestamp>,
        ledger_date -> Nullable<Timestamp>,
        received_at -> Timestamp,
        campaign_id -> Nullable<Text>,
        matched -> Text,
    }
}

diesel::table! {
    closed_months (month) {
        month -> Text,
        time_zone -> Text,
        closed_at -> Timestamp,
        closed_by -> Text,
    }
}

diesel::table! {
    closed_statement_rows (id) {
        id -> Int8,
        month -> Text,
        concerns -> Nullable<Text>,
        campaign_id -> Nullable<Text>,
        campaign_name -> Nullable<Text>,
        currency -> Nullable<Text>,
        tracked -> Text,
        modified -> Text,
        reversed -> Text,
        clawbacks -> Text,
        cleared -> Text,
        actions -> Int8,
        entries -> Int8,
        hash -> Text,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Int8,
        source -> Text,
        kind -> Text,
        dedup_key -> Text,
        received_at -> Timestamp,
        last_received_at -> Timestamp,
        times_received -> Int4,
        method -> Text,
        content_type -> Nullable<Text>,
        query -> Text,
        body -> Nullable<Bytea>,
        client_addr -> Nullable<Text>,
        outcome -> Text,
        reason -> Nullable<Text>,
        warnings -> Nullable<Text>,
        subject_id -> Nullable<Text>,
        pruned_at -> Nullable<Timestamp>,
        dismissed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    inquiries (inquiry_id) {
        inquiry_id -> Text,
        source -> Text,
        resolution_status -> Nullable<Text>,
        inquiry_type -> Nullable<Text>,
        expected_payout -> Nullable<Int8>,
        final_payout -> Nullable<Int8>,
        transaction_amount -> Nullable<Int8>,
        campaign_id -> Nullable<Text>,
        campaign_name -> Nullable<Text>,
        order_id -> Nullable<Text>,
        action_id -> Nullable<Text>,
        transaction_date -> Nullable<Timestamp>,
        resolution_deadline_date -> Nullable<Timestamp>,
        auto_approval_date -> Nullable<Timestamp>,
        resolution_date -> Nullable<Timestamp>,
        creation_date -> Nullable<Timestamp>,
        reject_reason -> Nullable<Text>,
        inquiry_notes -> Nullable<Text>,
        resolution_notes -> Nullable<Text>,
        comments -> Nullable<Text>,
        tracking_link -> Nullable<Text>,
        flags -> Text,
        extra -> Nullable<Text>,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
        status -> Text,
        media_partner_id -> Nullable<Text>,
    }
}

diesel::table! {
    inquiry_events (delivery_id) {
        delivery_id -> Int8,
        inquiry_id -> Text,
        resolution_status -> Nullable<Text>,
        final_payout -> Nullable<Int8>,
        reject_reason -> Nullable<Text>,
        resolution_notes -> Nullable<Text>,
        comments -> Nullable<Text>,
        received_at -> Timestamp,
        status -> Text,
        inquiry_type -> Nullable<Text>,
        resolution_date -> Nullable<Timestamp>,
    }
}

diesel::table! {
    jobs (job_id) {
        job_id -> Text,
        source -> Text,
        job_type -> Nullable<Text>,
        account_id -> Nullable<Text>,
        start_date -> Nullable<Timestamp>,
        end_date -> Nullable<Timestamp>,
        records_processed -> Nullable<Text>,
        detail_uri -> Nullable<Text>,
        result_uri -> Nullable<Text>,
        result_urls -> Nullable<Text>,
        extra -> Nullable<Text>,
        delivery_id -> Int8,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> Int8,
        action_id -> Text,
        delivery_id -> Int8,
        kind -> Text,
        payout_delta -> Int8,
        amount_delta -> Int8,
        recorded_at -> Timestamp,
        currency -> Nullable<Text>,
        month -> Nullable<Text>,
        concerns -> Nullable<Text>,
        after_clearing -> Bool,
    }
}

diesel::table! {
    reconciliation_differences (id) {
        id -> Int8,
        run_id -> Int8,
        action_id -> Text,
        kind -> Text,
        currency -> Nullable<Text>,
        event_date -> Nullable<Timestamp>,
        network_status -> Nullable<Text>,
        ledger_status -> Nullable<Text>,
        network_payout -> Nullable<Int8>,
        ledger_payout -> Nullable<Int8>,
        network_amount -> Nullable<Int8>,
        ledger_amount -> Nullable<Int8>,
        payout_delta -> Int8,
        amount_delta -> Int8,
        network_cleared_at -> Nullable<Timestamp>,
        fillable -> Bool,
        note -> Text,
        resolution -> Text,
        delivery_id -> Nullable<Int8>,
        record -> Nullable<Text>,
    }
}

diesel::table! {
    reconciliation_runs (id) {
        id -> Int8,
        network -> Text,
        source -> Text,
        status -> Text,
        period_start -> Timestamp,
        period_end -> Timestamp,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        applied_at -> Nullable<Timestamp>,
        records -> Int8,
        compared -> Int8,
        unreadable -> Int8,
        outside -> Int8,
        requests -> Int8,
        column_map -> Text,
        file_name -> Nullable<Text>,
        message -> Nullable<Text>,
    }
}

diesel::table! {
    reconciliation_seen (run_id, action_id) {
        run_id -> Int8,
        action_id -> Text,
    }
}

diesel::table! {
    sessions (id_digest) {
        id_digest -> Text,
        username -> Text,
        login_fingerprint -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tracking_value_requests (delivery_id) {
        delivery_id -> Int8,
        source -> Text,
        action_id -> Text,
        campaign_id -> Nullable<Text>,
        action_tracker_id -> Nullable<Text>,
        media_partner_id -> Nullable<Text>,
        order_id -> Nullable<Text>,
        amount -> Nullable<Int8>,
        currency -> Nullable<Text>,
        event_date -> Nullable<Timestamp>,
        click_id -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        items -> Nullable<Text>,
        extra -> Nullable<Text>,
        received_at -> Timestamp,
    }
}

diesel::table! {
    webhook_messages (source, message_digest) {
        source -> Text,
        message_digest -> Text,
        delivery_id -> Int8,
        received_at -> Timestamp,
    }
}

diesel::joinable!(action_events -> actions (action_id));
diesel::joinable!(action_events -> deliveries (delivery_id));
diesel::joinable!(catalog_items -> deliveries (delivery_id));
diesel::joinable!(clearances -> actions (action_id));
diesel::joinable!(clearances -> deliveries (delivery_id));
diesel::joinable!(clearings -> deliveries (delivery_id));
diesel::joinable!(closed_statement_rows -> closed_months (month));
diesel::joinable!(inquiry_events -> deliveries (delivery_id));
diesel::joinable!(inquiry_events -> inquiries (inquiry_id));
diesel::joinable!(jobs -> deliveries (delivery_id));
diesel::joinable!(ledger_entries -> actions (action_id));
diesel::joinable!(ledger_entries -> deliveries (delivery_id));
diesel::joinable!(reconciliation_differences -> deliveries (delivery_id));
diesel::joinable!(reconciliation_differences -> reconciliation_runs (run_id));
diesel::joinable!(tracking_value_requests -> deliveries (delivery_id));
diesel::joinable!(webhook_messages -> deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    action_events,
    actions,
    alerts,
    auth_failures,
    catalog_items,
    clearances,
    clearings,
    closed_months,
    closed_statement_rows,
    deliveries,
    inquiries,
    inquiry_events,
    jobs,
    ledger_entries,
    reconciliation_differences,
    reconciliation_runs,
    reconciliation_seen,
    sessions,
    settings,
    tracking_value_requests,
    webhook_messages,
);
