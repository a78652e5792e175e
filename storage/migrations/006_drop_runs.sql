-- The runs table (001_init.sql) was never written: Prefect keeps the history of runs.
DROP TABLE IF EXISTS runs;
