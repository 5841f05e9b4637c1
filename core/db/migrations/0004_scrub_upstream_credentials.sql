-- Credentials in upstream_url (https://user:pass@host/...) are refused by the configuration now; remove the ones an
-- earlier version stored, so that they are in no later backup (also for repositories no longer configured).
UPDATE chantal.repositories
SET upstream_url = regexp_replace(upstream_url, '^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@', '\1')
WHERE upstream_url ~ '^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*@';
