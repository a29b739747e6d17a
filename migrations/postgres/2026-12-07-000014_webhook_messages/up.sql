-- The Standard Webhooks message ids a source has stored, remembered while a replay of them could
-- still pass the timestamp check: a replay is answered as a duplicate without effect. The id is
-- kept as its SHA-256 (it is the sender's text, of any length).
CREATE TABLE webhook_messages (
    source TEXT NOT NULL,
    message_digest TEXT NOT NULL,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, message_digest)
);
CREATE INDEX webhook_messages_received_at ON webhook_messages (received_at);
