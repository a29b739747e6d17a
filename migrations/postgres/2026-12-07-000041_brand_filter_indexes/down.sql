DROP INDEX actions_campaign_name_lower;
DROP INDEX actions_campaign_lower;
CREATE INDEX actions_campaign ON actions (campaign_id);
CREATE INDEX actions_campaign_name ON actions (campaign_name);
