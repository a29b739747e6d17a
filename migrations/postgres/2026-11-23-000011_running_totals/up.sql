-- SQLite keeps running sums of actions and entries by trigger (see its migration 000011);
-- PostgreSQL computes them from the tables, so that several writers never queue on a few hot
-- rows. Nothing to create here: the migration exists so both backends share one version list.
SELECT 1;
