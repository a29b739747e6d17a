DROP TABLE webhook_messages;
