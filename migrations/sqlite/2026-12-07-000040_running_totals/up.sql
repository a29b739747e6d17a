-- PostgreSQL gains the running sums SQLite has kept since 000011; nothing changes here.
SELECT 1;
