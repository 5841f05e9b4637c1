-- Which process runs (or ran) an import: `import list` shows a 'running' row whose process no longer holds the import
-- lock as interrupted (killed, or failed), not as running.
ALTER TABLE chantal.imports ADD COLUMN host text, ADD COLUMN pid integer;
