DROP TRIGGER entry_totals_regroup;
DROP TRIGGER entry_totals_insert;
DROP TABLE entry_totals;
DROP TRIGGER action_totals_delete;
DROP TRIGGER action_totals_update;
DROP TRIGGER action_totals_insert;
DROP TABLE action_totals;
