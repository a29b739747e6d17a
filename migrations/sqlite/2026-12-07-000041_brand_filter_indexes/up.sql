-- The list's brand filter compares LOWER(campaign_id) and LOWER(campaign_name) (case does not
-- matter to a person typing it), which the plain indexes on the columns could not serve: a
-- brand's list and totals read every action. Indexes on the expressions replace them (nothing
-- else filtered by the plain columns but a lookup by order id, which has its own index), so a
-- postback writes no more index entries than before.
DROP INDEX actions_campaign;
DROP INDEX actions_campaign_name;
CREATE INDEX actions_campaign_lower ON actions (lower(campaign_id));
CREATE INDEX actions_campaign_name_lower ON actions (lower(campaign_name));
