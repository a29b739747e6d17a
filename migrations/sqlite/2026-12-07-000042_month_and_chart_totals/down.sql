DROP TRIGGER chart_totals_regroup;
DROP TRIGGER month_totals_regroup;
DROP TRIGGER chart_totals_entry;
DROP TRIGGER month_totals_clearance;
DROP TRIGGER month_totals_entry;
DROP TABLE chart_totals;
DROP TABLE month_totals;
