-- An action's timeline links each network-record fill to the reconciliation run that made it:
-- the differences a fill resolved are found by the delivery it wrote.
CREATE INDEX reconciliation_differences_filled ON reconciliation_differences (delivery_id) WHERE delivery_id IS NOT NULL;
